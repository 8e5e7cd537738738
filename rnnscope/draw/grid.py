"""The ``draw`` picture's grid, as numbers: the sizes of things, the boxes and arrows a picture
is made of, and the Grid, computed once from a Drawing: where each column and row sits. No torch,
no SVG; geometry.py places everything on it.

Every label gets a box computed from its text in a monospace font, so the tests can check on
the numbers that no two labels overlap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise

from rnnscope.draw.content import FINAL_STATES, INITIAL_STATES, Cell, Drawing, Edge
from rnnscope.layer.shapes import format_shape

FONT_SIZE = 12.0
CHAR_WIDTH = 7.3  # DejaVu Sans Mono's advance is 0.602 em: 7.22 px at 12 px, rounded up
LINE_HEIGHT = 15.0
TITLE_SIZE = 15.0
TITLE_CHAR_WIDTH = 9.1
TITLE_HEIGHT = 20
CELL_FONT_SIZE = 11  # an integer, as the SVG has always written it: font-size="11"
CELL_CHAR_WIDTH = 6.7  # 0.602 em at CELL_FONT_SIZE: 6.62 px, rounded up

MARGIN = 16.0
CELL_HEIGHT = 56.0
MIN_CELL_WIDTH = 110.0
CHANNEL = 10.0  # how far the routes beside a column run from its cells
STATE_OFFSET = 10.0  # LSTM: h runs this far above the row's centre, c this far below
LABEL_GAP = 3.0  # between an arrow and its label
CLEARANCE = 6.0  # between two labels, at the least
JUNCTION_DROP = 14.0  # from a layer's lowest cell down to its junction
FEED_LENGTH = 40.0  # the trunk under a junction, where its label sits
ELIDED_EXTRA = 70.0  # an elided gap is this much wider than a plain one
BAR_HEIGHT = 24.0
ROW_GAP = 40.0  # between a layer's two rows: the routes in and out of the reverse row turn here
SUBTITLE_Y = MARGIN + TITLE_HEIGHT + 4

Point = tuple[float, float]
# Under a state whose sequences enter or leave at their own steps (--lengths), marked ◆ there.
PER_SEQUENCE = "per sequence ◆"


@dataclass(frozen=True)
class Box:
    """A rectangle: top-left corner, width and height."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    def overlaps(self, other: Box) -> bool:
        """True when the two share any area (touching edges do not count)."""
        return (
            self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom
        )


@dataclass(frozen=True)
class Label:
    """Lines of text, left-aligned in ``box``; ``edges`` are the indices of the edges it names."""

    lines: tuple[str, ...]
    box: Box
    edges: tuple[int, ...] = ()
    size: float = FONT_SIZE
    bold: bool = False
    line_height: float = LINE_HEIGHT


@dataclass(frozen=True)
class Arrow:
    """A polyline with a head at its last point (none for a route into a junction);
    ``edges`` are the indices of the edges it carries (a trunk below a junction carries both
    directions' input)."""

    points: tuple[Point, ...]
    dashed: bool = False
    head: bool = True
    edges: tuple[int, ...] = ()


@dataclass(frozen=True)
class CellBox:
    box: Box
    lines: tuple[str, str]  # the cell's class name and its gates or nonlinearity
    cell: Cell  # the cell of the Drawing it draws
    marked: bool  # --lengths: a sequence ends at this step (and the reverse pass starts there)

    @property
    def direction(self) -> str:
        return self.cell.direction


@dataclass(frozen=True)
class LegendEntry:
    symbol: str  # "cell", "arrow", "dashed", "junction", "mark"
    label: Label


def text_width(line: str, char_width: float = CHAR_WIDTH) -> float:
    return len(line) * char_width


def label_size(lines: tuple[str, ...]) -> tuple[float, float]:
    return max(text_width(line) for line in lines), len(lines) * LINE_HEIGHT


def edge_lines(edge: Edge) -> tuple[str, ...]:
    """The text on an edge's arrow: its name (with its row of the state tensor) and its shape;
    a final state adds where it sits in the output, and a state whose sequences enter or leave
    the row at their own steps says so (--lengths)."""
    name = edge.tensor if edge.index is None else f"{edge.tensor}[{edge.index}]"
    lines: tuple[str, ...] = (name, format_shape(edge.shape))
    if edge.tensor in ("h_n", "c_n"):
        if edge.equals is not None:
            return (*lines, f"= {edge.equals}")
        if edge.sequence_equals is not None and any(edge.sequence_equals):
            return (*lines, "per sequence" + (" ◆" if edge.direction == "forward" else ""))
        lines = (*lines, "not in output")
    return (*lines, PER_SEQUENCE) if edge.per_sequence else lines


Row = tuple[int, str]  # (layer, direction)


@dataclass(frozen=True)
class Grid:
    """The picture's grid, computed once from the Drawing and only read after: the x of each
    column, the y of each row's centre, the widths every placing function shares, and where
    each edge sits in ``drawing.edges``."""

    drawing: Drawing
    cell_width: float
    end_zone: float  # left of the first column and right of the last: the states' margins
    column_x: Mapping[int, float]  # step -> x of its column's centre
    elided_gaps: tuple[tuple[float, float, int], ...]  # (left x, right x, steps hidden)
    grid_right: float
    output_bar_y: float | None  # None for cells: their output is h_1
    centers: Mapping[Row, float]  # row -> y of its centre, top row first
    edge_indices: Mapping[tuple[str, int | None, int | None, str | None], int]
    state_indices: Mapping[tuple[str, int | None, str | None], int]

    @property
    def lstm(self) -> bool:
        return self.drawing.has_cell_state

    @property
    def bidirectional(self) -> bool:
        return self.drawing.directions == 2

    def edge(self, tensor: str, t: int | None, layer: int | None, direction: str | None) -> int:
        return self.edge_indices[(tensor, t, layer, direction)]

    def state(self, tensor: str, layer: int, direction: str) -> int:
        return self.state_indices[(tensor, layer, direction)]

    def cell_box(self, t: int, center: float) -> Box:
        return Box(
            self.column_x[t] - self.cell_width / 2, center - CELL_HEIGHT / 2, self.cell_width, CELL_HEIGHT
        )


def make_grid(drawing: Drawing) -> Grid:
    """Columns from the widest labels that sit between and beside them, rows from the top down."""
    cell_width = _cell_width(drawing)
    gap_labels = [edge_lines(e) for e in drawing.edges if e.tensor in ("h_t", "c_t")] or [("",)]
    gap = max(label_size(lines)[0] for lines in gap_labels) + 2 * (CHANNEL + 2 * CLEARANCE)
    end_labels = [edge_lines(e) for e in drawing.edges if e.tensor in INITIAL_STATES + FINAL_STATES]
    end_zone = max(label_size(lines)[0] for lines in end_labels) + 2 * CHANNEL + 2 * CLEARANCE
    row_names = [row_name(drawing, layer, direction) for layer, direction in _rows_top_down(drawing)]
    row_label_width = max(label_size(lines)[0] for lines in row_names)
    first_x = MARGIN + row_label_width + 2 * CLEARANCE + end_zone + cell_width / 2
    column_x, elided_gaps = _columns(drawing.steps_shown, first_x, cell_width, gap)
    rows_top = SUBTITLE_Y + LINE_HEIGHT + 2 * CLEARANCE
    output_bar_y = rows_top if drawing.output_label is not None else None
    if output_bar_y is not None:
        rows_top = output_bar_y + BAR_HEIGHT + FEED_LENGTH + JUNCTION_DROP
    return Grid(
        drawing=drawing,
        cell_width=cell_width,
        end_zone=end_zone,
        column_x=column_x,
        elided_gaps=elided_gaps,
        grid_right=column_x[drawing.steps_shown[-1]] + cell_width / 2 + end_zone,
        output_bar_y=output_bar_y,
        centers=_row_centers(drawing, rows_top),
        edge_indices={
            (e.tensor, e.t, e.layer, e.direction): i
            for i, e in enumerate(drawing.edges)
            if e.tensor not in INITIAL_STATES + FINAL_STATES
        },
        state_indices={
            (e.tensor, e.layer, e.direction): i
            for i, e in enumerate(drawing.edges)
            if e.tensor in INITIAL_STATES + FINAL_STATES
        },
    )


def _cell_width(drawing: Drawing) -> float:
    """Wide enough for the cell's two lines and for the feed label left of the trunk."""
    feed_labels = [edge_lines(e) for e in drawing.edges if e.tensor in ("x_t", "input", "output_t")]
    feed_width = max(label_size(lines)[0] for lines in feed_labels)
    name_width = text_width(drawing.cell_name, CELL_CHAR_WIDTH)
    detail_width = text_width(drawing.cell_detail, CELL_CHAR_WIDTH)
    return max(MIN_CELL_WIDTH, 2 * (feed_width + 8), name_width + 16, detail_width + 16)


def _columns(
    steps: list[int], first_x: float, cell_width: float, gap: float
) -> tuple[dict[int, float], tuple[tuple[float, float, int], ...]]:
    """Each step's column centre, and the gaps where steps are elided (wider by ELIDED_EXTRA)."""
    column_x = {steps[0]: first_x}
    elided = []
    for previous, t in pairwise(steps):
        pitch = cell_width + gap
        if t - previous > 1:
            pitch += ELIDED_EXTRA
            left = column_x[previous] + cell_width / 2
            elided.append((left, left + pitch - cell_width, t - previous - 1))
        column_x[t] = column_x[previous] + pitch
    return column_x, tuple(elided)


def _rows_top_down(drawing: Drawing) -> list[Row]:
    directions = ("reverse", "forward") if drawing.directions == 2 else ("forward",)
    return [(layer, d) for layer in reversed(range(drawing.num_layers)) for d in directions]


def row_name(drawing: Drawing, layer: int, direction: str) -> tuple[str, ...]:
    return ("cell",) if drawing.cell else (f"layer {layer}", direction)


def _row_centers(drawing: Drawing, top: float) -> dict[Row, float]:
    """Each row's centre: a layer's reverse row above its forward row, the junction feeding the
    layer above between two layers, and room for the state labels above and below each row."""
    half = CELL_HEIGHT / 2
    above, below = _state_extent_above(drawing), _state_extent_below(drawing)
    centers: dict[Row, float] = {}
    previous: Row | None = None
    for row in _rows_top_down(drawing):
        if previous is None:
            center = top + max(half, above)
        elif previous[0] == row[0]:  # reverse row above the forward row of the same layer
            center = centers[previous] + max(CELL_HEIGHT + ROW_GAP, below + above + CLEARANCE)
        else:  # the junction feeding the layer above sits between them
            through = 2 * half + JUNCTION_DROP + FEED_LENGTH
            center = centers[previous] + max(through, below + above + CLEARANCE)
        centers[row] = center
        previous = row
    return centers


def _state_extent_above(drawing: Drawing) -> float:
    """How far above a row's centre its margin labels reach (h arrow label above)."""
    tallest = max(len(edge_lines(e)) for e in drawing.edges if e.tensor.startswith("h_"))
    return (STATE_OFFSET if drawing.has_cell_state else 0) + LABEL_GAP + tallest * LINE_HEIGHT


def _state_extent_below(drawing: Drawing) -> float:
    """How far below a row's centre its labels reach (LSTM: the c label; else the cell)."""
    if not drawing.has_cell_state:
        return CELL_HEIGHT / 2
    tallest = max(len(edge_lines(e)) for e in drawing.edges if e.tensor.startswith("c_"))
    return STATE_OFFSET + LABEL_GAP + tallest * LINE_HEIGHT
