"""Where everything in the ``draw`` picture goes: an exact grid, as numbers. No torch, no SVG.

Columns are the steps shown (a wider gap where steps are elided), rows are (layer, direction)
with layer 0 at the bottom and each layer's reverse row above its forward row. Every label gets
a box computed from its text in a monospace font, so the tests can check on the numbers that no
two labels overlap; svg.py only draws what is placed here.

Geometry of one column at x (y grows downwards):

- a row's h arrow runs at the row's centre (LSTM: h above, c below it), its label above it and
  the c label below, both in the gap between two cells;
- what enters a layer rises from below to a junction J just under the layer's lowest cell, its
  label left of the trunk under J; with two directions the reverse row is fed by a route up the
  channel left of the column, and the forward row's output leaves by the channel on the right;
- the states entering and leaving a row are arrows in the margins, labelled with their row of
  h_0 / h_n and where that row sits in ``output``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from rnnscope.draw.content import FINAL_STATES, INITIAL_STATES, Cell, Drawing, Edge
from rnnscope.layer.shapes import format_shape

FONT_SIZE = 12.0
CHAR_WIDTH = 7.3  # DejaVu Sans Mono's advance is 0.602 em: 7.22 px at 12 px, rounded up
LINE_HEIGHT = 15.0
TITLE_SIZE = 15.0
TITLE_CHAR_WIDTH = 9.1
CELL_FONT_SIZE = 11  # an integer, as the SVG has always written it: font-size="11"
CELL_CHAR_WIDTH = 6.7

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


@dataclass
class Layout:
    """Everything the picture holds, placed."""

    width: float = 0.0
    height: float = 0.0
    cells: list[CellBox] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    junctions: list[Point] = field(default_factory=list)
    bars: list[Box] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    legend: list[LegendEntry] = field(default_factory=list)

    def all_labels(self) -> list[Label]:
        return self.labels + [entry.label for entry in self.legend]


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


class _Placer:
    """Builds a Layout for one Drawing: columns first, then rows from the top down."""

    def __init__(self, drawing: Drawing) -> None:
        self.drawing = drawing
        self.layout = Layout()
        self.lstm = any(edge.tensor == "c_0" for edge in drawing.edges)
        self.bidirectional = drawing.directions == 2
        self.edges = {
            (e.tensor, e.t, e.layer, e.direction): i
            for i, e in enumerate(drawing.edges)
            if e.tensor not in INITIAL_STATES + FINAL_STATES
        }
        self.states = {
            (e.tensor, e.layer, e.direction): i
            for i, e in enumerate(drawing.edges)
            if e.tensor in INITIAL_STATES + FINAL_STATES
        }

    def edge_index(self, tensor: str, t: int | None, layer: int | None, direction: str | None) -> int:
        return self.edges[(tensor, t, layer, direction)]

    def place(self) -> Layout:
        self._columns()
        self._rows()
        return self.layout

    # Columns --------------------------------------------------------------------------------

    def _columns(self) -> None:
        drawing = self.drawing
        gap_labels = [edge_lines(e) for e in drawing.edges if e.tensor in ("h_t", "c_t")] or [("",)]
        feed_labels = [edge_lines(e) for e in drawing.edges if e.tensor in ("x_t", "input", "output_t")]
        self.gap_label_width = max(label_size(lines)[0] for lines in gap_labels)
        feed_width = max(label_size(lines)[0] for lines in feed_labels)
        name_width = text_width(drawing.cell_name, CELL_CHAR_WIDTH)
        detail_width = text_width(drawing.cell_detail, CELL_CHAR_WIDTH)
        # The feed label sits left of the trunk within the cell's half width.
        self.cell_width = max(MIN_CELL_WIDTH, 2 * (feed_width + 8), name_width + 16, detail_width + 16)
        self.gap = self.gap_label_width + 2 * (CHANNEL + 2 * CLEARANCE)
        end_labels = [edge_lines(e) for e in drawing.edges if e.tensor in INITIAL_STATES + FINAL_STATES]
        self.end_zone = max(label_size(lines)[0] for lines in end_labels) + 2 * CHANNEL + 2 * CLEARANCE
        row_names = [self._row_name(layer, direction) for layer, direction in self._rows_top_down()]
        self.row_label_width = max(label_size(lines)[0] for lines in row_names)
        x = MARGIN + self.row_label_width + 2 * CLEARANCE + self.end_zone + self.cell_width / 2
        self.column_x: dict[int, float] = {}
        self.elided_gaps: list[tuple[float, float, int]] = []  # (left x, right x, steps hidden)
        previous: int | None = None
        for t in drawing.steps_shown:
            if previous is not None:
                pitch = self.cell_width + self.gap
                if t - previous > 1:
                    pitch += ELIDED_EXTRA
                    left = self.column_x[previous] + self.cell_width / 2
                    self.elided_gaps.append((left, left + pitch - self.cell_width, t - previous - 1))
                x += pitch
            self.column_x[t] = x
            previous = t
        self.grid_right = x + self.cell_width / 2 + self.end_zone

    def _rows_top_down(self) -> list[tuple[int, str]]:
        directions = ("reverse", "forward") if self.bidirectional else ("forward",)
        return [(layer, d) for layer in reversed(range(self.drawing.num_layers)) for d in directions]

    def _row_name(self, layer: int, direction: str) -> tuple[str, ...]:
        if self.drawing.cell:
            return ("cell",)
        return (f"layer {layer}", direction)

    # Rows -----------------------------------------------------------------------------------

    def _rows(self) -> None:
        drawing, layout = self.drawing, self.layout
        title = Label(
            (drawing.module,), Box(MARGIN, MARGIN, text_width(drawing.module, TITLE_CHAR_WIDTH), 20)
        )
        layout.labels.append(Label(title.lines, title.box, size=TITLE_SIZE, bold=True, line_height=20))
        subtitle = self._subtitle()
        y = MARGIN + 20 + 4
        layout.labels.append(Label((subtitle,), Box(MARGIN, y, text_width(subtitle), LINE_HEIGHT)))
        y += LINE_HEIGHT + 2 * CLEARANCE
        half = CELL_HEIGHT / 2
        if drawing.output_label is not None:
            self._bar(drawing.output_label, y, (self.edge_index("output", None, None, None),))
            output_bar_bottom = y + BAR_HEIGHT
            y = output_bar_bottom + FEED_LENGTH + JUNCTION_DROP
        else:
            output_bar_bottom = None
        centers: dict[tuple[int, str], float] = {}
        above, below = self._state_extent_above(), self._state_extent_below()
        previous: tuple[int, str] | None = None
        for layer, direction in self._rows_top_down():
            if previous is None:
                center = y + max(half, above)
            elif previous[0] == layer:  # reverse row above the forward row of the same layer
                center = centers[previous] + max(CELL_HEIGHT + ROW_GAP, below + above + CLEARANCE)
            else:  # the junction feeding the layer above sits between them
                through = 2 * half + JUNCTION_DROP + FEED_LENGTH
                center = centers[previous] + max(through, below + above + CLEARANCE)
            centers[(layer, direction)] = center
            previous = (layer, direction)
        self.centers = centers
        for (layer, direction), center in centers.items():
            self._row(layer, direction, center)
        for layer in range(drawing.num_layers):
            self._feed(layer)
        if output_bar_bottom is not None:
            self._gather(output_bar_bottom)
        bottom = max(centers.values()) + half + JUNCTION_DROP + FEED_LENGTH
        bar = self._bar(drawing.input_label, bottom)
        self._axis(bar.bottom + CLEARANCE)
        self._legend()
        right = max(
            [self.grid_right]
            + [label.box.right for label in layout.all_labels()]
            + [box.right for box in layout.bars]
        )
        layout.width = right + MARGIN
        layout.height = max(label.box.bottom for label in layout.all_labels()) + MARGIN

    def _subtitle(self) -> str:
        drawing = self.drawing
        if drawing.cell:
            return "one step of the cell"
        steps = drawing.steps_shown
        if len(steps) == drawing.seq_len:
            steps_name = "max(lengths)" if drawing.sequence_ends else "L"
            return f"unrolled over all {steps_name} = {drawing.seq_len} steps"
        shown = ", ".join(str(t) for t in steps)
        steps_name = "max(lengths)" if drawing.sequence_ends else "L"
        return f"unrolled over {steps_name} = {drawing.seq_len} steps; drawn: t = {shown}"

    def _state_extent_above(self) -> float:
        """How far above a row's centre its margin labels reach (h arrow label above)."""
        tallest = max(len(edge_lines(e)) for e in self.drawing.edges if e.tensor.startswith("h_"))
        return (STATE_OFFSET if self.lstm else 0) + LABEL_GAP + tallest * LINE_HEIGHT

    def _state_extent_below(self) -> float:
        """How far below a row's centre its labels reach (LSTM: the c label; else the cell)."""
        if not self.lstm:
            return CELL_HEIGHT / 2
        tallest = max(len(edge_lines(e)) for e in self.drawing.edges if e.tensor.startswith("c_"))
        return STATE_OFFSET + LABEL_GAP + tallest * LINE_HEIGHT

    def _bar(self, text: str, y: float, edges: tuple[int, ...] = ()) -> Box:
        """A tensor's bar across the columns, wide enough for its label."""
        xs = self.column_x.values()
        left, right = min(xs) - self.cell_width / 2, max(xs) + self.cell_width / 2
        width = max(right - left, text_width(text) + 2 * CLEARANCE)
        box = Box((left + right - width) / 2, y, width, BAR_HEIGHT)
        self.layout.bars.append(box)
        self.layout.labels.append(
            Label(
                (text,),
                Box(box.x + CLEARANCE, y + (BAR_HEIGHT - LINE_HEIGHT) / 2, text_width(text), LINE_HEIGHT),
                edges,
            )
        )
        return box

    def _row(self, layer: int, direction: str, center: float) -> None:
        drawing, layout = self.drawing, self.layout
        half_w, half_h = self.cell_width / 2, CELL_HEIGHT / 2
        # Where a sequence ends its forward pass ends and its reverse pass starts: both rows marked.
        ends = {end.t for end in drawing.sequence_ends}
        for t in drawing.steps_shown:
            x = self.column_x[t]
            layout.cells.append(
                CellBox(
                    Box(x - half_w, center - half_h, self.cell_width, CELL_HEIGHT),
                    (drawing.cell_name, drawing.cell_detail),
                    Cell(t, layer, direction),
                    t in ends,
                )
            )
        names = self._row_name(layer, direction)
        width, height = label_size(names)
        layout.labels.append(Label(names, Box(MARGIN, center - height / 2, width, height)))
        prefixes = ("h", "c") if self.lstm else ("h",)
        order = drawing.steps_shown if direction == "forward" else drawing.steps_shown[::-1]
        for prefix in prefixes:
            y = center + (0 if not self.lstm else (-STATE_OFFSET if prefix == "h" else STATE_OFFSET))
            for t, following in pairwise(order):
                self._state_arrow(
                    self.edge_index(f"{prefix}_t", t, layer, direction), t, following, y, prefix == "h"
                )
            self._margin_arrows(prefix, layer, direction, y, order)

    def _state_arrow(self, edge: int, t: int, following: int, y: float, label_above: bool) -> None:
        """h_t / c_t from the cell at step t to the cell at the next step shown, in the gap."""
        half_w = self.cell_width / 2
        x_from, x_to = self.column_x[t], self.column_x[following]
        sign = 1 if x_to > x_from else -1
        start, end = x_from + sign * half_w, x_to - sign * half_w
        self.layout.arrows.append(Arrow(((start, y), (end, y)), dashed=abs(following - t) > 1, edges=(edge,)))
        lines = edge_lines(self.drawing.edges[edge])
        width, height = label_size(lines)
        top = y - LABEL_GAP - height if label_above else y + LABEL_GAP
        self.layout.labels.append(
            Label(lines, Box((start + end) / 2 - width / 2, top, width, height), (edge,))
        )

    def _margin_arrows(self, prefix: str, layer: int, direction: str, y: float, order: list[int]) -> None:
        """The state entering the row's first step and the one leaving its last, in the margins."""
        half_w = self.cell_width / 2
        first, last = self.column_x[order[0]], self.column_x[order[-1]]
        final = "1" if self.drawing.cell else "n"
        forward = direction == "forward"
        for tensor, x_cell, entering in ((f"{prefix}_0", first, True), (f"{prefix}_{final}", last, False)):
            edge = self.states[(tensor, layer, direction)]
            on_left = forward == entering  # forward rows enter on the left, reverse on the right
            side = -1 if on_left else 1
            near = x_cell + side * half_w
            far = near + side * (self.end_zone - CLEARANCE)
            points = ((far, y), (near, y)) if entering else ((near, y), (far, y))
            self.layout.arrows.append(Arrow(points, edges=(edge,)))
            lines = edge_lines(self.drawing.edges[edge])
            width, height = label_size(lines)
            x = far + CLEARANCE if on_left else far - CLEARANCE - width
            top = y - LABEL_GAP - height if prefix == "h" else y + LABEL_GAP
            self.layout.labels.append(Label(lines, Box(x, top, width, height), (edge,)))

    def _feed(self, layer: int) -> None:
        """What enters ``layer`` at each step: x_t from the input bar, or the layer below's output."""
        drawing, layout = self.drawing, self.layout
        half_w, half_h = self.cell_width / 2, CELL_HEIGHT / 2
        forward_center = self.centers[(layer, "forward")]
        junction_y = forward_center + half_h + JUNCTION_DROP
        tensor = "x_t" if layer == 0 else "input"
        # The trunk starts at the input bar or at the top of the layer below's highest row,
        # which may sit lower than FEED_LENGTH when tall state labels push the rows apart.
        below = (layer - 1, "reverse" if self.bidirectional else "forward")
        source_y = junction_y + FEED_LENGTH if layer == 0 else self.centers[below] - half_h
        for t in drawing.steps_shown:
            x = self.column_x[t]
            edges = [self.edge_index(tensor, t, layer, "forward")]
            if self.bidirectional:
                edges.append(self.edge_index(tensor, t, layer, "reverse"))
            layout.arrows.append(Arrow(((x, source_y), (x, forward_center + half_h)), edges=tuple(edges)))
            if self.bidirectional:
                reverse_center = self.centers[(layer, "reverse")]
                middle = (forward_center - half_h + reverse_center + half_h) / 2
                left = x - half_w - CHANNEL
                route = ((x, junction_y), (left, junction_y), (left, middle), (x - half_w / 2, middle))
                layout.arrows.append(
                    Arrow((*route, (x - half_w / 2, reverse_center + half_h)), edges=(edges[1],))
                )
                layout.junctions.append((x, junction_y))
            lines = edge_lines(drawing.edges[edges[0]])
            width, height = label_size(lines)
            box = Box(x - CLEARANCE / 2 - width, junction_y + LABEL_GAP, width, height)
            layout.labels.append(Label(lines, box, tuple(edges)))
            if layer > 0:
                self._leave_upwards(layer - 1, x, junction_y, tuple(edges))

    def _leave_upwards(self, layer: int, x: float, junction_y: float, edges: tuple[int, ...]) -> None:
        """Route the forward output of a two-direction ``layer`` round its reverse row to the
        junction above (the reverse output rises straight into it, along the trunk)."""
        if not self.bidirectional:
            return
        half_w, half_h = self.cell_width / 2, CELL_HEIGHT / 2
        forward_center, reverse_center = self.centers[(layer, "forward")], self.centers[(layer, "reverse")]
        middle = (forward_center - half_h + reverse_center + half_h) / 2
        right = x + half_w + CHANNEL
        start = (x + half_w / 2, forward_center - half_h)
        route = (start, (start[0], middle), (right, middle), (right, junction_y), (x, junction_y))
        self.layout.arrows.append(Arrow(route, head=False, edges=edges))

    def _gather(self, bar_bottom: float) -> None:
        """Each step's top-layer output rising into the output bar."""
        drawing, layout = self.drawing, self.layout
        top = drawing.num_layers - 1
        highest = (top, "reverse") if self.bidirectional else (top, "forward")
        junction_y = self.centers[highest] - CELL_HEIGHT / 2 - JUNCTION_DROP
        for t in drawing.steps_shown:
            x = self.column_x[t]
            edge = self.edge_index("output_t", t, None, None)
            rising = ((x, self.centers[highest] - CELL_HEIGHT / 2), (x, bar_bottom))
            layout.arrows.append(Arrow(rising, edges=(edge,)))
            if self.bidirectional:
                layout.junctions.append((x, junction_y))
                self._leave_upwards(top, x, junction_y, (edge,))
            lines = edge_lines(drawing.edges[edge])
            width, height = label_size(lines)
            box = Box(x - CLEARANCE / 2 - width, junction_y - LABEL_GAP - height, width, height)
            layout.labels.append(Label(lines, box, (edge,)))

    def _axis(self, y: float) -> None:
        """``t = 3`` under each column, the count of steps elided under each gap, and with
        --lengths which sequences end at each step."""
        drawing, layout = self.drawing, self.layout
        ends: dict[int, list[int]] = {}
        for end in drawing.sequence_ends:
            ends.setdefault(end.t, []).append(end.sequence)
        for t, x in self.column_x.items():
            lines: tuple[str, ...] = (f"t = {t}",)
            if t in ends:
                sequences = ",".join(map(str, ends[t]))
                text = f"◆ ends {sequences}"
                lines += (text if text_width(text) < self.cell_width else f"◆ {len(ends[t])} end",)
            width, height = label_size(lines)
            layout.labels.append(Label(lines, Box(x - width / 2, y, width, height)))
        for left, right, hidden in self.elided_gaps:
            text = f"… {hidden} steps …"
            width = text_width(text)
            layout.labels.append(Label((text,), Box((left + right) / 2 - width / 2, y, width, LINE_HEIGHT)))

    def _legend(self) -> None:
        drawing, layout = self.drawing, self.layout
        y = max(label.box.bottom for label in layout.labels) + 2 * CLEARANCE
        entries = [
            ("cell", f"{drawing.cell_name} ({drawing.cell_detail}): one step of one layer, one direction")
        ]
        entries.append(
            ("arrow", f"a tensor: name and shape in this configuration; x_t = {drawing.x_t_source}")
        )
        if len(drawing.steps_shown) < drawing.seq_len:
            entries.append(("dashed", "dashed: carries on through the steps not drawn"))
        if self.bidirectional:
            entries.append(
                ("junction", "concatenation of the two directions; reverse rows run right to left")
            )
        if not drawing.cell:
            entries.append(
                (
                    "arrow",
                    "h_n[i]: row i = layer i // D, direction i % D; '= …': where it sits in the output",
                )
            )
        if drawing.sequence_ends:
            text = "the last valid step of a sequence: its forward h_n is taken there"
            if self.bidirectional:
                text += ", its reverse pass starts there from its row of h_0"
            entries.append(("mark", text))
        entries += [("note", f"note: {note}") for note in drawing.notes]
        indent = MARGIN + 36
        for symbol, text in entries:
            box = Box(indent, y, text_width(text), LINE_HEIGHT)
            layout.legend.append(LegendEntry(symbol, Label((text,), box)))
            y += LINE_HEIGHT + 4


def place(drawing: Drawing) -> Layout:
    """Place every cell, arrow and label of ``drawing`` on an exact grid."""
    return _Placer(drawing).place()
