"""rnnscope draw: the picture's content against the formulas and torch, its layout, its files."""

from __future__ import annotations

import dataclasses
import itertools
import json
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnscope.draw.content import Cell, Drawing, Edge, steps_to_show, unroll
from rnnscope.draw.geometry import Layout, place
from rnnscope.draw.grid import Box, make_grid
from rnnscope.layer.gates import gate_count
from rnnscope.layer.shapes import expected_batch_sizes, expected_parameters, expected_tensors
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import make_spec
from tests.helpers import run_cli, run_json
from tests.test_properties import layer_specs

SVG = "{http://www.w3.org/2000/svg}"


@st.composite
def drawn_specs(draw: st.DrawFn) -> LayerSpec:
    """Any valid configuration, sometimes with a sequence long enough to be elided."""
    spec = draw(layer_specs())
    if not spec.cell and spec.lengths is None and draw(st.booleans()):
        spec = dataclasses.replace(spec, seq_len=draw(st.integers(7, 500)))
    elif spec.lengths is not None and draw(st.booleans()):  # long sequences: some ends elided
        factor = draw(st.integers(2, 40))
        lengths = tuple(length * factor for length in spec.lengths)
        spec = dataclasses.replace(spec, lengths=lengths, seq_len=max(lengths), batch=len(lengths))
    return spec


def _time_axis(spec: LayerSpec) -> int:
    return 1 if spec.batch_first and not spec.unbatched else 0


def _step_batch(spec: LayerSpec, t: int) -> tuple[int, ...]:
    """The batch axis of one step, from the input's formula (or batch_sizes with --lengths)."""
    if spec.lengths is not None:
        return (expected_batch_sizes(spec.lengths)[t],)
    input_shape = next(f.shape for f in expected_tensors(spec) if f.name == "input")
    if spec.cell:
        return input_shape[:-1]
    step = list(input_shape)
    del step[_time_axis(spec)]
    return tuple(step[:-1])


def _expected_shape(spec: LayerSpec, edge: Edge) -> tuple[int, ...]:
    """Each edge's shape from the formulas: the tensors' documented shapes and the weights'."""
    tensors = {f.name: f.shape for f in expected_tensors(spec)}
    weights = {p.name: p.shape for p in expected_parameters(spec)}
    suffix = "" if spec.cell else f"_l{edge.layer}" + ("_reverse" if edge.direction == "reverse" else "")
    if edge.tensor in ("h_0", "c_0", "h_n", "c_n", "h_1", "c_1"):
        shape = tensors[edge.tensor]
        return shape if spec.cell else shape[1:]
    if edge.tensor == "output":
        return tensors["output" if spec.lengths is None else "output_padded"]
    assert edge.t is not None
    batch = _step_batch(spec, edge.t)
    if edge.tensor in ("x_t", "input"):  # what weight_ih multiplies
        return (*batch, weights["weight_ih" + suffix][1])
    if edge.tensor == "h_t":  # what weight_hh multiplies
        return (*batch, weights["weight_hh" + suffix][1])
    if edge.tensor == "c_t":  # one gate block of weight_hh
        return (*batch, weights["weight_hh" + suffix][0] // gate_count(spec.kind.value))
    assert edge.tensor == "output_t"
    return (*batch, tensors["output" if spec.lengths is None else "output_padded"][-1])


def _overlapping_labels(picture: Layout) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    labels = picture.all_labels()
    return [(a.lines, b.lines) for a, b in itertools.combinations(labels, 2) if a.box.overlaps(b.box)]


@settings(max_examples=40, deadline=None)
@given(drawn_specs())
def test_every_edge_shape_equals_its_formula(spec: LayerSpec) -> None:
    drawing = unroll(spec)
    for edge in drawing.edges:
        assert edge.shape == _expected_shape(spec, edge), edge


@settings(max_examples=40, deadline=None)
@given(drawn_specs())
def test_one_cell_per_step_layer_and_direction(spec: LayerSpec) -> None:
    drawing = unroll(spec)
    assert len(drawing.cells) == len(drawing.steps_shown) * spec.num_layers * spec.directions
    assert len(set(drawing.cells)) == len(drawing.cells)
    assert drawing.steps_shown == sorted(set(drawing.steps_shown))
    assert drawing.steps_shown[0] == 0 and drawing.steps_shown[-1] == drawing.seq_len - 1


@settings(max_examples=40, deadline=None)
@given(drawn_specs())
def test_every_h_n_row_leaves_once_at_the_end_of_its_row(spec: LayerSpec) -> None:
    drawing = unroll(spec)
    picture = place(drawing)
    finals = [e for e in drawing.edges if e.tensor in ("h_n", "c_n", "h_1", "c_1")]
    for name in {e.tensor for e in finals}:
        rows = [e.index for e in finals if e.tensor == name]
        expected_rows = [None] if spec.cell else list(range(spec.num_layers * spec.directions))
        assert sorted(rows, key=lambda row: row or 0) == expected_rows
    for position, edge in enumerate(drawing.edges):
        if edge not in finals:
            continue
        assert edge.index is None or edge.index == edge.layer * spec.directions + (
            edge.direction == "reverse"
        )
        assert edge.t == (drawing.seq_len - 1 if edge.direction == "forward" else 0)
        (label,) = [label for label in picture.labels if position in label.edges]
        row_cells = [c.box for c in picture.cells if abs(c.box.y + c.box.h / 2 - label.box.y) < 80]
        if edge.direction == "forward":  # right of every cell of the picture
            assert label.box.x > max(box.right for box in row_cells)
        else:
            assert label.box.right < min(box.x for box in row_cells)


@settings(max_examples=40, deadline=None)
@given(drawn_specs())
def test_no_two_labels_overlap_and_every_edge_is_labelled(spec: LayerSpec) -> None:
    drawing = unroll(spec)
    picture = place(drawing)
    assert _overlapping_labels(picture) == []
    named = {index for label in picture.labels for index in label.edges}
    assert named == set(range(len(drawing.edges)))
    for label in picture.all_labels():  # inside the picture
        assert label.box.x >= 0 and label.box.right <= picture.width
        assert label.box.y >= 0 and label.box.bottom <= picture.height
    for cell in picture.cells:
        assert not any(cell.box.overlaps(label.box) for label in picture.labels)


def _crosses(box: Box, start: tuple[float, float], end: tuple[float, float]) -> bool:
    """Whether an axis-parallel segment passes through the inside of ``box`` (an arrow may end
    on its edge: the box is shrunk by a rounding error's width)."""
    (x1, y1), (x2, y2) = start, end
    box = Box(box.x + 1e-6, box.y + 1e-6, box.w - 2e-6, box.h - 2e-6)
    if x1 == x2:
        return box.x < x1 < box.right and max(min(y1, y2), box.y) < min(max(y1, y2), box.bottom)
    assert y1 == y2, "every route is made of horizontal and vertical segments"
    return box.y < y1 < box.bottom and max(min(x1, x2), box.x) < min(max(x1, x2), box.right)


@settings(max_examples=30, deadline=None)
@given(drawn_specs())
def test_no_arrow_runs_through_a_label_or_a_cell(spec: LayerSpec) -> None:
    picture = place(unroll(spec))
    boxes = [label.box for label in picture.all_labels()] + [cell.box for cell in picture.cells]
    for box in boxes:
        for arrow in picture.arrows:
            for start, end in itertools.pairwise(arrow.points):
                assert not _crosses(box, start, end), (box, start, end)


def _on_boundary(box: Box, point: tuple[float, float]) -> bool:
    """Whether ``point`` lies on the edge of ``box`` (within a rounding error)."""
    x, y = point
    eps = 1e-6
    inside_x, inside_y = box.x - eps <= x <= box.right + eps, box.y - eps <= y <= box.bottom + eps
    on_vertical = inside_y and (abs(x - box.x) < eps or abs(x - box.right) < eps)
    on_horizontal = inside_x and (abs(y - box.y) < eps or abs(y - box.bottom) < eps)
    return on_vertical or on_horizontal


def _on_polyline(points: tuple[tuple[float, float], ...], point: tuple[float, float]) -> bool:
    x, y = point
    for (x1, y1), (x2, y2) in itertools.pairwise(points):
        if min(x1, x2) - 1e-6 <= x <= max(x1, x2) + 1e-6 and min(y1, y2) - 1e-6 <= y <= max(y1, y2) + 1e-6:
            return True  # every segment is axis-parallel, so its bounding box is the segment
    return False


def _root(parent: dict[object, object], node: object) -> object:
    while parent.setdefault(node, node) != node:
        node = parent[node]
    return node


def _connected_boxes(drawing: Drawing, picture: Layout, edge: Edge) -> tuple[list[Box], list[Box], bool]:
    """What ``edge`` connects, from the Drawing alone: its source boxes, its target boxes, and
    whether one of its ends is free in the margin (a state entering or leaving the picture)."""
    cells = {cell.cell: cell.box for cell in picture.cells}
    bars = sorted(picture.bars, key=lambda bar: bar.y)  # the output bar above the input bar
    directions = ("forward", "reverse")[: drawing.directions]
    if edge.tensor == "output":
        return [], [], False
    if edge.tensor == "output_t":
        assert edge.t is not None
        top = drawing.num_layers - 1
        return [cells[Cell(edge.t, top, d)] for d in directions], [bars[0]], False
    assert edge.t is not None and edge.layer is not None and edge.direction is not None
    own = cells[Cell(edge.t, edge.layer, edge.direction)]
    if edge.tensor == "x_t":
        return [bars[-1]], [own], False
    if edge.tensor == "input":
        return [cells[Cell(edge.t, edge.layer - 1, d)] for d in directions], [own], False
    if edge.tensor in ("h_t", "c_t"):
        order = drawing.steps_shown if edge.direction == "forward" else drawing.steps_shown[::-1]
        following = order[order.index(edge.t) + 1]
        return [own], [cells[Cell(following, edge.layer, edge.direction)]], False
    if edge.tensor in ("h_0", "c_0"):
        return [], [own], True
    return [own], [], True  # h_n, c_n; a cell's h_1, c_1


@settings(max_examples=40, deadline=None)
@given(drawn_specs())
def test_every_arrow_touches_the_boxes_its_edge_connects(spec: LayerSpec) -> None:
    """Each edge's arrows start and end on the boxes the edge connects (or at a junction of
    its own, or free in the margin for a state), joined into one piece through the junctions;
    a headed arrow's head touches what the edge enters."""
    drawing = unroll(spec)
    picture = place(drawing)
    all_boxes = [*(cell.box for cell in picture.cells), *picture.bars]
    for index, edge in enumerate(drawing.edges):
        sources, targets, free_end = _connected_boxes(drawing, picture, edge)
        arrows = [arrow for arrow in picture.arrows if index in arrow.edges]
        if edge.tensor == "output":  # the bar itself
            assert arrows == []
            continue
        assert arrows, edge
        parent: dict[object, object] = {}  # union-find over the boxes and junctions touched
        for arrow in arrows:
            carried = [_connected_boxes(drawing, picture, drawing.edges[i]) for i in arrow.edges]
            allowed = [box for ends in carried for box in ends[0] + ends[1]]
            nodes: list[object] = [j for j in picture.junctions if _on_polyline(arrow.points, j)]
            for point in (arrow.points[0], arrow.points[-1]):
                touched = [box for box in allowed if _on_boundary(box, point)]
                nodes += touched
                if not touched and point not in picture.junctions:  # a state's end in the margin
                    assert free_end and not any(_on_boundary(b, point) for b in all_boxes), (edge, point)
            if arrow.head:  # the head touches what one of its edges enters (or the margin)
                head = arrow.points[-1]
                assert any(any(_on_boundary(box, head) for box in ends[1]) for ends in carried) or (
                    free_end and not targets
                ), (edge, arrow)
            for node in nodes[1:]:
                parent[_root(parent, node)] = _root(parent, nodes[0])
        assert len({_root(parent, box) for box in sources + targets}) <= 1, edge


@pytest.mark.parametrize(("kind", "rows_carry_c"), [(Kind.lstm, True), (Kind.gru, False), (Kind.rnn, False)])
def test_the_grid_is_read_only_and_knows_lstm_by_its_kind(kind: Kind, rows_carry_c: bool) -> None:
    drawing = unroll(make_spec(kind, cell=True))
    grid = make_grid(drawing)
    assert grid.lstm is rows_carry_c
    with pytest.raises(dataclasses.FrozenInstanceError):
        grid.cell_width = 1.0  # type: ignore[misc]
    # x_t, then h_0 in and h_1 out (and c_0, c_1)
    assert len(place(drawing).arrows) == 1 + (4 if rows_carry_c else 2)


def test_the_output_bar_carries_the_whole_output() -> None:
    drawing = unroll(make_spec(Kind.gru, batch_first=True, seq_len=9, batch=3))
    assert drawing.edges[-1].tensor == "output" and drawing.edges[-1].shape == (3, 9, 20)
    texts = [line for label in place(drawing).labels for line in label.lines]
    assert "output (N, L, D·H_out) = (3, 9, 20)" in texts
    assert "input (N, L, H_in) = (3, 9, 10)" in texts
    assert drawing.x_t_source == "input[:, t]"


def test_long_sequences_show_the_first_and_last_steps() -> None:
    assert steps_to_show(100) == [0, 1, 98, 99]
    assert steps_to_show(6) == [0, 1, 2, 3, 4, 5]
    assert steps_to_show(7, (7, 5, 5, 2)) == [0, 1, 4, 5, 6]
    assert len(steps_to_show(100, tuple(range(1, 101)))) == 8


def test_bidirectional_two_layers_names_rows_and_output_slices() -> None:
    drawing = unroll(make_spec(Kind.lstm, num_layers=2, bidirectional=True))
    finals = {(e.tensor, e.index): e for e in drawing.edges if e.tensor in ("h_n", "c_n")}
    assert finals[("h_n", 2)].layer == 1 and finals[("h_n", 2)].direction == "forward"
    assert finals[("h_n", 2)].equals == "output[-1, :, 0:20]"
    assert finals[("h_n", 3)].equals == "output[0, :, 20:40]" and finals[("h_n", 3)].t == 0
    assert finals[("h_n", 1)].equals is None and finals[("c_n", 3)].equals is None
    inputs = [e for e in drawing.edges if e.tensor == "input"]
    assert {e.shape for e in inputs} == {(32, 40)} and len(inputs) == 4 * 2
    assert drawing.steps_shown == [0, 1, 98, 99] and drawing.seq_len == 100


def test_lengths_mark_each_sequence_end_and_shrink_the_batch() -> None:
    drawing = unroll(make_spec(Kind.rnn, lengths=(7, 5, 5, 2)))
    assert [(end.sequence, end.t, end.shown) for end in drawing.sequence_ends] == [
        (0, 6, True),
        (1, 4, True),
        (2, 4, True),
        (3, 1, True),
    ]
    x_t = {e.t: e.shape for e in drawing.edges if e.tensor == "x_t"}
    assert x_t == {0: (4, 10), 1: (4, 10), 4: (3, 10), 5: (1, 10), 6: (1, 10)}
    (h_n,) = [e for e in drawing.edges if e.tensor == "h_n"]
    assert h_n.sequence_equals == (
        "output_padded[6, 0, 0:20]",
        "output_padded[4, 1, 0:20]",
        "output_padded[4, 2, 0:20]",
        "output_padded[1, 3, 0:20]",
    )
    marked = [cell for cell in place(drawing).cells if cell.marked]
    assert len(marked) == 3  # steps 6, 4 and 1


def test_with_lengths_each_sequence_enters_the_reverse_row_at_its_own_last_step() -> None:
    drawing = unroll(make_spec(Kind.lstm, lengths=(2, 5, 1, 5), bidirectional=True, num_layers=2))
    states = {(e.tensor, e.index): e for e in drawing.edges if e.sequence_t is not None}
    for index in (1, 3):  # the reverse rows: from each sequence's last valid step
        assert states[("h_0", index)].sequence_t == states[("c_0", index)].sequence_t == (1, 4, 0, 4)
        assert states[("h_n", index)].sequence_t == (0, 0, 0, 0)
    for index in (0, 2):  # the forward rows: from step 0, h_n taken at the last valid step
        assert states[("h_0", index)].sequence_t == (0, 0, 0, 0)
        assert states[("h_n", index)].sequence_t == states[("c_n", index)].sequence_t == (1, 4, 0, 4)
    picture = place(drawing)
    labels = {
        label.lines[0]: label.lines for label in picture.labels if label.lines[0].startswith(("h_", "c_"))
    }
    assert labels["h_0[1]"] == ("h_0[1]", "(4, 20)", "per sequence ◆")
    assert labels["h_0[0]"] == ("h_0[0]", "(4, 20)")
    assert labels["c_n[0]"] == ("c_n[0]", "(4, 20)", "not in output", "per sequence ◆")
    marked = {(cell.cell.t, cell.cell.direction) for cell in picture.cells if cell.marked}
    assert marked == {(t, d) for t in (0, 1, 4) for d in ("forward", "reverse")}
    document = drawing.to_dict()["edges"]
    assert [e["sequence_t"] for e in document if (e["tensor"], e["index"]) == ("h_0", 1)] == [[1, 4, 0, 4]]


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("lengths", [(2, 5, 1, 5), (6, 3, 3, 1)])
def test_pytorch_starts_each_reverse_sequence_at_its_own_last_step(
    kind: Kind, lengths: tuple[int, ...]
) -> None:
    """What the picture claims, checked on a packed run: at the step the drawing gives, the
    reverse half of output_padded is one cell step from that sequence's row of h_0."""
    from rnnscope.execution.probe import probe
    from rnnscope.execution.runtime import torch

    spec = make_spec(kind, input_size=3, hidden_size=4, bidirectional=True, lengths=lengths)
    ran = probe(spec)
    (h_0,) = [e for e in unroll(spec).edges if e.tensor == "h_0" and e.direction == "reverse"]
    assert h_0.sequence_t is not None and h_0.index == 1
    cell = getattr(torch.nn, ran.module.__class__.__name__ + "Cell")(3, 4)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(ran.module, f"{name}_l0_reverse"))
        x, output = ran.inputs["input"], ran.outputs["output_padded"]
        for sequence, t in enumerate(h_0.sequence_t):
            state = ran.inputs["h_0"][h_0.index, sequence]
            if kind is Kind.lstm:
                state = (state, ran.inputs["c_0"][h_0.index, sequence])
            step = cell(x[t, sequence], state)
            h = step[0] if kind is Kind.lstm else step
            torch.testing.assert_close(output[t, sequence, 4:], h)
            assert bool((output[t + 1 :, sequence] == 0).all())  # padding: the pass never ran there


def test_projection_narrows_h_but_not_c() -> None:
    drawing = unroll(make_spec(Kind.lstm, hidden_size=20, proj_size=5, seq_len=3))
    widths = {e.tensor: e.shape[-1] for e in drawing.edges}
    assert (widths["h_t"], widths["h_n"], widths["c_t"], widths["c_n"], widths["output"]) == (5, 5, 20, 20, 5)


# Against torch -----------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:dropout option adds dropout")
@settings(max_examples=25, deadline=None)
@given(drawn_specs())
def test_edge_shapes_are_the_shapes_torch_gives(spec: LayerSpec) -> None:
    from rnnscope.execution.probe import probe

    ran = probe(dataclasses.replace(spec, seq_len=min(spec.seq_len, 8)) if spec.lengths is None else spec)
    drawing = unroll(ran.spec)
    assert ran.spec.module_repr == repr(ran.module)
    outputs, inputs = ran.outputs, ran.inputs
    output = outputs.get("output_padded", outputs.get("output"))
    axis = _time_axis(ran.spec)
    for edge in drawing.edges:
        if edge.tensor in ("h_n", "c_n"):
            assert tuple(outputs[edge.tensor][edge.index].shape) == edge.shape
        elif edge.tensor in ("h_1", "c_1"):
            assert tuple(outputs[edge.tensor].shape) == edge.shape
        elif edge.tensor in ("h_0", "c_0") and edge.tensor in inputs:
            state = inputs[edge.tensor]
            assert tuple(state.shape if spec.cell else state[edge.index].shape) == edge.shape
        elif edge.tensor == "output":
            assert output is not None and tuple(output.shape) == edge.shape
        elif edge.tensor == "x_t" and ran.packed_input is not None:
            assert edge.t is not None
            assert (int(ran.packed_input.batch_sizes[edge.t]), spec.input_size) == edge.shape
        elif edge.tensor == "x_t" and not spec.cell:
            assert tuple(inputs["input"].select(axis, edge.t).shape) == edge.shape
        elif edge.tensor == "output_t" and ran.packed_input is None:
            assert output is not None and tuple(output.select(axis, edge.t).shape) == edge.shape


@pytest.mark.filterwarnings("ignore:dropout option adds dropout")
@settings(max_examples=30, deadline=None)
@given(layer_specs())
def test_module_repr_is_torch_repr(spec: LayerSpec) -> None:
    from rnnscope.execution.build import build_module
    from rnnscope.execution.runtime import torch

    module = build_module(spec, torch.device("meta"), torch.float32)
    assert spec.module_repr == repr(module)


# The files -------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(drawn_specs())
def test_svg_parses_and_renders_to_png(spec: LayerSpec) -> None:
    pytest.importorskip("drawsvg")
    resvg = pytest.importorskip("resvg_py")
    from rnnscope.draw.svg import png_bytes, svg_text

    drawing = unroll(spec)
    picture = place(drawing)
    svg = svg_text(picture)
    root = ElementTree.fromstring(svg)
    rounded = [rect for rect in root.iter(f"{SVG}rect") if rect.get("rx") == "6"]
    assert len(rounded) == len(drawing.cells)
    texts = {text.text for text in root.iter(f"{SVG}text")}
    assert drawing.module in texts
    png = png_bytes(svg, max(picture.width, picture.height))
    assert png.startswith(b"\x89PNG") and resvg is not None


def test_draw_writes_svg_and_png_and_says_what_it_drew(tmp_path: Path) -> None:
    pytest.importorskip("drawsvg")
    pytest.importorskip("resvg_py")
    svg, png = tmp_path / "lstm.svg", tmp_path / "lstm.png"
    result = run_cli("draw", "lstm", "--layers", "2", "--bidirectional", "--svg", str(svg), "--png", str(png))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "LSTM(10, 20, num_layers=2, bidirectional=True)",
        "drawn: 4 of 100 steps (t = 0, 1, …, 98, 99)",
        "16 cells (4 steps × 2 layers × 2 directions), 61 edges",
    ]
    assert f"wrote {svg}" in result.stdout and f"wrote {png}" in result.stdout
    assert ElementTree.parse(svg).getroot().tag == f"{SVG}svg"
    assert png.read_bytes().startswith(b"\x89PNG")


def test_draw_json_is_the_contract_document_and_still_writes(tmp_path: Path) -> None:
    pytest.importorskip("drawsvg")
    svg = tmp_path / "gru.svg"
    document = run_json("draw", "gru", "--bidirectional", "-L", "3", "--svg", str(svg))
    assert svg.exists() and document["files"] == [str(svg)]
    assert document["steps_shown"] == [0, 1, 2] and document["seq_len"] == 3
    assert document["cells"][0] == {"t": 0, "layer": 0, "direction": "forward"}
    h_n = [edge for edge in document["edges"] if edge["tensor"] == "h_n"]
    assert h_n[1] == {
        "tensor": "h_n",
        "t": 0,
        "layer": 0,
        "direction": "reverse",
        "index": 1,
        "shape": [32, 20],
        "equals": "output[0, :, 20:40]",
        "reason": None,
    }
    assert set(document["edges"][0]) == {"tensor", "t", "layer", "direction", "index", "shape"}


def test_draw_json_alone_needs_no_file_and_no_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "drawsvg", None)
    document = run_json("draw", "rnn", "--cell", "--unbatched")
    assert document["files"] == [] and document["module"] == "RNNCell(10, 20)"
    assert [(e["tensor"], e["shape"]) for e in document["edges"]] == [
        ("x_t", [10]),
        ("h_0", [20]),
        ("h_1", [20]),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "error: draw needs --svg FILE or --png FILE (or --json for the picture as data)\n"),
        (
            ("--svg", "/no/such/folder/x.svg"),
            "error: --svg /no/such/folder/x.svg: the folder /no/such/folder does not exist\n",
        ),
        (("--svg", "x.svg", "--proj-size", "3"), "error: --proj-size applies to lstm only, not rnn\n"),
    ],
)
def test_draw_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    pytest.importorskip("drawsvg")
    result = run_cli("draw", "rnn", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


def test_draw_without_its_library_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("drawsvg")  # the SVG half present, the PNG renderer absent
    monkeypatch.setitem(sys.modules, "resvg_py", None)
    png = tmp_path / "x.png"
    result = run_cli("draw", "rnn", "--svg", str(tmp_path / "x.svg"), "--png", str(png))
    assert result.exit_code == 2
    assert result.stderr == (
        "error: draw --png needs the resvg_py package, which is not installed: pip install 'rnnscope[draw]'\n"
    )
    assert not (tmp_path / "x.svg").exists()  # nothing written before the check


def test_unused_run_flags_are_noted() -> None:
    document = run_json("draw", "rnn", "--device", "meta", "--seed", "3")
    assert document["notes"] == ["--device meta, --seed 3: not used, draw builds nothing"]


def test_the_drawing_is_plain_json() -> None:
    drawing: Drawing = unroll(make_spec(Kind.lstm, lengths=(3, 1), bidirectional=True))
    assert json.loads(json.dumps(drawing.to_dict(), allow_nan=False)) == drawing.to_dict()


def test_draw_without_drawsvg_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "drawsvg", None)
    result = run_cli("draw", "lstm", "--svg", str(tmp_path / "x.svg"))
    assert (result.exit_code, result.stdout) == (2, "")
    assert (
        result.stderr
        == "error: draw needs the drawsvg package, which is not installed: pip install 'rnnscope[draw]'\n"
    )
    assert not (tmp_path / "x.svg").exists()
