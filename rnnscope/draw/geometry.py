"""Where everything in the ``draw`` picture goes: an exact grid, as numbers. No torch, no SVG.

Columns are the steps shown (a wider gap where steps are elided), rows are (layer, direction)
with layer 0 at the bottom and each layer's reverse row above its forward row (grid.py: the
Grid, computed once and only read here). Each placing function below returns what it placed;
``place`` gathers them into the Layout that svg.py draws.

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

from dataclasses import dataclass
from itertools import pairwise

from rnnscope.draw.content import Cell, Drawing
from rnnscope.draw.grid import (
    BAR_HEIGHT,
    CELL_HEIGHT,
    CHANNEL,
    CLEARANCE,
    FEED_LENGTH,
    JUNCTION_DROP,
    LABEL_GAP,
    LINE_HEIGHT,
    MARGIN,
    STATE_OFFSET,
    SUBTITLE_Y,
    TITLE_CHAR_WIDTH,
    TITLE_HEIGHT,
    TITLE_SIZE,
    Arrow,
    Box,
    CellBox,
    Grid,
    Label,
    LegendEntry,
    Point,
    edge_lines,
    label_size,
    make_grid,
    row_name,
    text_width,
)


@dataclass(frozen=True)
class Placed:
    """What one placing function puts in the picture, each kind in drawing order."""

    cells: tuple[CellBox, ...] = ()
    arrows: tuple[Arrow, ...] = ()
    junctions: tuple[Point, ...] = ()
    bars: tuple[Box, ...] = ()
    labels: tuple[Label, ...] = ()

    def __add__(self, other: Placed) -> Placed:
        return Placed(
            self.cells + other.cells,
            self.arrows + other.arrows,
            self.junctions + other.junctions,
            self.bars + other.bars,
            self.labels + other.labels,
        )


@dataclass(frozen=True)
class Layout:
    """Everything the picture holds, placed."""

    width: float
    height: float
    cells: tuple[CellBox, ...]
    arrows: tuple[Arrow, ...]
    junctions: tuple[Point, ...]
    bars: tuple[Box, ...]
    labels: tuple[Label, ...]
    legend: tuple[LegendEntry, ...]

    def all_labels(self) -> tuple[Label, ...]:
        return self.labels + tuple(entry.label for entry in self.legend)


def place(drawing: Drawing) -> Layout:
    """Place every cell, arrow and label of ``drawing`` on an exact grid."""
    grid = make_grid(drawing)
    placed = _heading(drawing)
    if drawing.output_label is not None and grid.output_bar_y is not None:
        output = (grid.edge("output", None, None, None),)
        placed += _bar(grid, drawing.output_label, grid.output_bar_y, output)
    for layer, direction in grid.centers:
        placed += _row(grid, layer, direction)
    for layer in range(drawing.num_layers):
        placed += _feed(grid, layer)
    if grid.output_bar_y is not None:
        placed += _gather(grid, grid.output_bar_y + BAR_HEIGHT)
    input_bar_y = max(grid.centers.values()) + CELL_HEIGHT / 2 + JUNCTION_DROP + FEED_LENGTH
    placed += _bar(grid, drawing.input_label, input_bar_y)
    placed += _axis(grid, input_bar_y + BAR_HEIGHT + CLEARANCE)
    legend = _legend(grid, max(label.box.bottom for label in placed.labels) + 2 * CLEARANCE)
    labels = placed.labels + tuple(entry.label for entry in legend)
    right = max(
        [grid.grid_right] + [label.box.right for label in labels] + [box.right for box in placed.bars]
    )
    return Layout(
        width=right + MARGIN,
        height=max(label.box.bottom for label in labels) + MARGIN,
        cells=placed.cells,
        arrows=placed.arrows,
        junctions=placed.junctions,
        bars=placed.bars,
        labels=placed.labels,
        legend=legend,
    )


def _heading(drawing: Drawing) -> Placed:
    """The module's repr as the title, and which steps are drawn under it."""
    title = Label(
        (drawing.module,),
        Box(MARGIN, MARGIN, text_width(drawing.module, TITLE_CHAR_WIDTH), TITLE_HEIGHT),
        size=TITLE_SIZE,
        bold=True,
        line_height=TITLE_HEIGHT,
    )
    subtitle = _subtitle(drawing)
    box = Box(MARGIN, SUBTITLE_Y, text_width(subtitle), LINE_HEIGHT)
    return Placed(labels=(title, Label((subtitle,), box)))


def _subtitle(drawing: Drawing) -> str:
    if drawing.cell:
        return "one step of the cell"
    steps_name = "max(lengths)" if drawing.sequence_ends else "L"
    if len(drawing.steps_shown) == drawing.seq_len:
        return f"unrolled over all {steps_name} = {drawing.seq_len} steps"
    shown = ", ".join(str(t) for t in drawing.steps_shown)
    return f"unrolled over {steps_name} = {drawing.seq_len} steps; drawn: t = {shown}"


def _bar(grid: Grid, text: str, y: float, edges: tuple[int, ...] = ()) -> Placed:
    """A tensor's bar across the columns, wide enough for its label."""
    xs = grid.column_x.values()
    left, right = min(xs) - grid.cell_width / 2, max(xs) + grid.cell_width / 2
    width = max(right - left, text_width(text) + 2 * CLEARANCE)
    box = Box((left + right - width) / 2, y, width, BAR_HEIGHT)
    text_box = Box(box.x + CLEARANCE, y + (BAR_HEIGHT - LINE_HEIGHT) / 2, text_width(text), LINE_HEIGHT)
    return Placed(bars=(box,), labels=(Label((text,), text_box, edges),))


def _row(grid: Grid, layer: int, direction: str) -> Placed:
    """One row's cells, its name in the left margin, and its h (c) arrows along it."""
    drawing, center = grid.drawing, grid.centers[(layer, direction)]
    # Where a sequence ends its forward pass ends and its reverse pass starts: both rows marked.
    ends = {end.t for end in drawing.sequence_ends}
    cells = tuple(
        CellBox(
            grid.cell_box(t, center),
            (drawing.cell_name, drawing.cell_detail),
            Cell(t, layer, direction),
            t in ends,
        )
        for t in drawing.steps_shown
    )
    names = row_name(drawing, layer, direction)
    width, height = label_size(names)
    placed = Placed(cells=cells, labels=(Label(names, Box(MARGIN, center - height / 2, width, height)),))
    order = drawing.steps_shown if direction == "forward" else drawing.steps_shown[::-1]
    for prefix in ("h", "c") if grid.lstm else ("h",):
        y = center + (0 if not grid.lstm else (-STATE_OFFSET if prefix == "h" else STATE_OFFSET))
        for t, following in pairwise(order):
            placed += _state_arrow(
                grid, grid.edge(f"{prefix}_t", t, layer, direction), t, following, y, prefix == "h"
            )
        placed += _margin_arrows(grid, prefix, layer, direction, y, order)
    return placed


def _state_arrow(grid: Grid, edge: int, t: int, following: int, y: float, label_above: bool) -> Placed:
    """h_t / c_t from the cell at step t to the cell at the next step shown, in the gap."""
    half_w = grid.cell_width / 2
    x_from, x_to = grid.column_x[t], grid.column_x[following]
    sign = 1 if x_to > x_from else -1
    start, end = x_from + sign * half_w, x_to - sign * half_w
    arrow = Arrow(((start, y), (end, y)), dashed=abs(following - t) > 1, edges=(edge,))
    lines = edge_lines(grid.drawing.edges[edge])
    width, height = label_size(lines)
    top = y - LABEL_GAP - height if label_above else y + LABEL_GAP
    return Placed(
        arrows=(arrow,),
        labels=(Label(lines, Box((start + end) / 2 - width / 2, top, width, height), (edge,)),),
    )


def _margin_arrows(grid: Grid, prefix: str, layer: int, direction: str, y: float, order: list[int]) -> Placed:
    """The state entering the row's first step and the one leaving its last, in the margins."""
    half_w = grid.cell_width / 2
    first, last = grid.column_x[order[0]], grid.column_x[order[-1]]
    final = "1" if grid.drawing.cell else "n"
    forward = direction == "forward"
    placed = Placed()
    for tensor, x_cell, entering in ((f"{prefix}_0", first, True), (f"{prefix}_{final}", last, False)):
        edge = grid.state(tensor, layer, direction)
        on_left = forward == entering  # forward rows enter on the left, reverse on the right
        side = -1 if on_left else 1
        near = x_cell + side * half_w
        far = near + side * (grid.end_zone - CLEARANCE)
        points = ((far, y), (near, y)) if entering else ((near, y), (far, y))
        lines = edge_lines(grid.drawing.edges[edge])
        width, height = label_size(lines)
        x = far + CLEARANCE if on_left else far - CLEARANCE - width
        top = y - LABEL_GAP - height if prefix == "h" else y + LABEL_GAP
        placed += Placed(
            arrows=(Arrow(points, edges=(edge,)),),
            labels=(Label(lines, Box(x, top, width, height), (edge,)),),
        )
    return placed


def _feed(grid: Grid, layer: int) -> Placed:
    """What enters ``layer`` at each step: x_t from the input bar, or the layer below's output."""
    drawing = grid.drawing
    half_w, half_h = grid.cell_width / 2, CELL_HEIGHT / 2
    forward_center = grid.centers[(layer, "forward")]
    junction_y = forward_center + half_h + JUNCTION_DROP
    tensor = "x_t" if layer == 0 else "input"
    # The trunk starts at the input bar or at the top of the layer below's highest row,
    # which may sit lower than FEED_LENGTH when tall state labels push the rows apart.
    below = (layer - 1, "reverse" if grid.bidirectional else "forward")
    source_y = junction_y + FEED_LENGTH if layer == 0 else grid.centers[below] - half_h
    placed = Placed()
    for t in drawing.steps_shown:
        x = grid.column_x[t]
        edges = [grid.edge(tensor, t, layer, "forward")]
        if grid.bidirectional:
            edges.append(grid.edge(tensor, t, layer, "reverse"))
        placed += Placed(arrows=(Arrow(((x, source_y), (x, forward_center + half_h)), edges=tuple(edges)),))
        if grid.bidirectional:
            reverse_center = grid.centers[(layer, "reverse")]
            middle = (forward_center - half_h + reverse_center + half_h) / 2
            left = x - half_w - CHANNEL
            route = ((x, junction_y), (left, junction_y), (left, middle), (x - half_w / 2, middle))
            arrow = Arrow((*route, (x - half_w / 2, reverse_center + half_h)), edges=(edges[1],))
            placed += Placed(arrows=(arrow,), junctions=((x, junction_y),))
        lines = edge_lines(drawing.edges[edges[0]])
        width, height = label_size(lines)
        box = Box(x - CLEARANCE / 2 - width, junction_y + LABEL_GAP, width, height)
        placed += Placed(labels=(Label(lines, box, tuple(edges)),))
        if layer > 0:
            placed += _leave_upwards(grid, layer - 1, x, junction_y, tuple(edges))
    return placed


def _leave_upwards(grid: Grid, layer: int, x: float, junction_y: float, edges: tuple[int, ...]) -> Placed:
    """Route the forward output of a two-direction ``layer`` round its reverse row to the
    junction above (the reverse output rises straight into it, along the trunk)."""
    if not grid.bidirectional:
        return Placed()
    half_w, half_h = grid.cell_width / 2, CELL_HEIGHT / 2
    forward_center, reverse_center = grid.centers[(layer, "forward")], grid.centers[(layer, "reverse")]
    middle = (forward_center - half_h + reverse_center + half_h) / 2
    right = x + half_w + CHANNEL
    start = (x + half_w / 2, forward_center - half_h)
    route = (start, (start[0], middle), (right, middle), (right, junction_y), (x, junction_y))
    return Placed(arrows=(Arrow(route, head=False, edges=edges),))


def _gather(grid: Grid, bar_bottom: float) -> Placed:
    """Each step's top-layer output rising into the output bar."""
    drawing = grid.drawing
    top = drawing.num_layers - 1
    highest = (top, "reverse") if grid.bidirectional else (top, "forward")
    junction_y = grid.centers[highest] - CELL_HEIGHT / 2 - JUNCTION_DROP
    placed = Placed()
    for t in drawing.steps_shown:
        x = grid.column_x[t]
        edge = grid.edge("output_t", t, None, None)
        rising = ((x, grid.centers[highest] - CELL_HEIGHT / 2), (x, bar_bottom))
        placed += Placed(arrows=(Arrow(rising, edges=(edge,)),))
        if grid.bidirectional:
            placed += Placed(junctions=((x, junction_y),)) + _leave_upwards(grid, top, x, junction_y, (edge,))
        lines = edge_lines(drawing.edges[edge])
        width, height = label_size(lines)
        box = Box(x - CLEARANCE / 2 - width, junction_y - LABEL_GAP - height, width, height)
        placed += Placed(labels=(Label(lines, box, (edge,)),))
    return placed


def _axis(grid: Grid, y: float) -> Placed:
    """``t = 3`` under each column, the count of steps elided under each gap, and with
    --lengths which sequences end at each step."""
    ends: dict[int, list[int]] = {}
    for end in grid.drawing.sequence_ends:
        ends.setdefault(end.t, []).append(end.sequence)
    labels = []
    for t, x in grid.column_x.items():
        lines: tuple[str, ...] = (f"t = {t}",)
        if t in ends:
            sequences = ",".join(map(str, ends[t]))
            text = f"◆ ends {sequences}"
            lines += (text if text_width(text) < grid.cell_width else f"◆ {len(ends[t])} end",)
        width, height = label_size(lines)
        labels.append(Label(lines, Box(x - width / 2, y, width, height)))
    for left, right, hidden in grid.elided_gaps:
        text = f"… {hidden} steps …"
        width = text_width(text)
        labels.append(Label((text,), Box((left + right) / 2 - width / 2, y, width, LINE_HEIGHT)))
    return Placed(labels=tuple(labels))


def _legend(grid: Grid, y: float) -> tuple[LegendEntry, ...]:
    """One line per symbol the picture uses, and the notes, from ``y`` down."""
    drawing = grid.drawing
    entries = [
        ("cell", f"{drawing.cell_name} ({drawing.cell_detail}): one step of one layer, one direction"),
        ("arrow", f"a tensor: name and shape in this configuration; x_t = {drawing.x_t_source}"),
    ]
    if len(drawing.steps_shown) < drawing.seq_len:
        entries.append(("dashed", "dashed: carries on through the steps not drawn"))
    if grid.bidirectional:
        entries.append(("junction", "concatenation of the two directions; reverse rows run right to left"))
    if not drawing.cell:
        entries.append(
            ("arrow", "h_n[i]: row i = layer i // D, direction i % D; '= …': where it sits in the output")
        )
    if drawing.sequence_ends:
        text = "the last valid step of a sequence: its forward h_n is taken there"
        if grid.bidirectional:
            text += ", its reverse pass starts there from its row of h_0"
        entries.append(("mark", text))
    entries += [("note", f"note: {note}") for note in drawing.notes]
    legend = []
    for symbol, text in entries:
        legend.append(LegendEntry(symbol, Label((text,), Box(MARGIN + 36, y, text_width(text), LINE_HEIGHT))))
        y += LINE_HEIGHT + 4
    return tuple(legend)
