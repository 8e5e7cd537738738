"""``rnnscope draw``: the layer unrolled in time, as data. No torch here.

One cell per (shown time step, layer, direction) and one edge per arrow of the picture, each with
the tensor it carries and that tensor's shape from the documented formulas (layer/shapes.py), so that a
script — and the tests — can read the picture without reading SVG. The layout (geometry.py)
places these; the SVG writer (svg.py) draws what the layout placed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rnnscope.layer.direction import DIRECTIONS
from rnnscope.layer.gates import gate_count
from rnnscope.layer.limits import check_torch_limits
from rnnscope.layer.shapes import TensorFormula, expected_batch_sizes, expected_tensors, format_shape
from rnnscope.layer.spec import Kind, LayerSpec, Shape, dropout_note
from rnnscope.layer.states import StateSlot, state_slots
from rnnscope.plain import Plain

# Sequences longer than this are drawn as their first and last EDGE_STEPS steps with "…" between.
MAX_FULL_STEPS = 6
EDGE_STEPS = 2
# With --lengths, each sequence's last step is shown too, while the columns stay at most this many.
MAX_COLUMNS = 8
INITIAL_STATES = ("h_0", "c_0")
FINAL_STATES = ("h_n", "c_n", "h_1", "c_1")  # h_1, c_1: what a cell returns


@dataclass(frozen=True)
class Cell(Plain):
    """One box: the cell that runs step ``t`` of ``layer`` in ``direction``."""

    t: int
    layer: int
    direction: str


@dataclass(frozen=True)
class Edge(Plain):
    """One arrow and the tensor it carries.

    ``tensor`` is ``x_t`` (into layer 0 at step t), ``input`` (into layer k ≥ 1 at step t: the
    directions of layer k - 1 concatenated), ``h_t`` / ``c_t`` (along a row, leaving step t),
    ``h_0`` / ``c_0`` (entering a row at step t), ``h_n`` / ``c_n`` (leaving a row at step t;
    cells: ``h_1`` / ``c_1``), ``output_t`` (the top layer's step t, rising into the output) or
    ``output`` (the whole output tensor). ``index`` is the row of the state tensor
    (``h_n[index]``). ``equals`` says where that state sits in ``output``, as the states rows
    give it (``reason`` why it is not there); with --lengths, per sequence: ``sequence_equals``.

    With --lengths a state edge also carries ``sequence_t``: per sequence (the caller's order),
    the step where that sequence's row of the state enters or leaves the row. A packed batch
    runs each sequence only over its own steps, so the forward direction takes sequence b's h_n
    at its last valid step ``length_b - 1`` and the reverse direction starts there, from
    ``h_0[index, b]``; the arrow itself is drawn at the row's end (``t``).
    """

    tensor: str
    t: int | None
    layer: int | None
    direction: str | None
    index: int | None
    shape: Shape
    equals: str | None = None
    sequence_equals: tuple[str | None, ...] | None = None
    reason: str | None = None  # why the state is not in the output
    sequence_t: tuple[int, ...] | None = None

    def left_out(self) -> set[str]:
        """Where a state sits in the output is said on the final states' arrows only; per
        sequence only with --lengths."""
        per_sequence = {name for name in ("sequence_equals", "sequence_t") if getattr(self, name) is None}
        if self.tensor not in FINAL_STATES:
            return {"equals", "reason", "sequence_equals"} | per_sequence
        return per_sequence

    @property
    def per_sequence(self) -> bool:
        """Whether some sequence's row of this state enters or leaves at another step than
        the arrow's (--lengths: the forward h_n of a shorter sequence, the reverse h_0)."""
        return self.sequence_t is not None and any(t != self.t for t in self.sequence_t)


@dataclass(frozen=True)
class SequenceEnd(Plain):
    """With --lengths: sequence ``sequence`` ends at step ``length - 1``, where the forward
    direction's h_n for it is taken and where the reverse direction starts for it, from its row
    of h_0 (the reverse direction's h_n is at step 0)."""

    computed = ("t",)

    sequence: int
    length: int
    shown: bool  # whether that step is one of the steps drawn

    @property
    def t(self) -> int:
        return self.length - 1


@dataclass(frozen=True)
class Drawing(Plain):
    """Everything the picture shows, as plain values: the ``draw`` JSON document."""

    kind: str
    cell: bool
    module: str  # the module's repr, formatted from the spec (LayerSpec.module_repr)
    config: dict[str, Any]
    cell_name: str  # what each box runs: "LSTMCell", ...
    cell_detail: str  # "4 gates", "3 gates", "tanh", "relu"
    seq_len: int  # steps the layer runs: L, max(lengths) for a packed batch, 1 for a cell
    steps_shown: list[int]
    num_layers: int
    directions: int
    cells: list[Cell]
    edges: list[Edge]
    input_label: str  # the input tensor: name, formula and shape
    output_label: str | None  # the output tensor likewise; None for cells (their output is h_1)
    x_t_source: str  # where x_t comes from: "input[t]", "input[:, t]", ...
    sequence_ends: list[SequenceEnd] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # the pictures written (--svg, --png)

    @property
    def has_cell_state(self) -> bool:
        """Whether each row carries c_t beside h_t: LSTM, its cell included."""
        return self.kind == Kind.lstm.value


def steps_to_show(seq_len: int, lengths: tuple[int, ...] | None = None) -> list[int]:
    """Every step of a short sequence; of a long one the first and last EDGE_STEPS, and with
    --lengths each sequence's last step, longest first, while the columns stay ≤ MAX_COLUMNS."""
    if seq_len <= MAX_FULL_STEPS:
        return list(range(seq_len))
    shown = set(range(EDGE_STEPS)) | set(range(seq_len - EDGE_STEPS, seq_len))
    for length in sorted(set(lengths or ()), reverse=True):
        if len(shown | {length - 1}) <= MAX_COLUMNS:
            shown.add(length - 1)
    return sorted(shown)


def unroll(spec: LayerSpec, notes: list[str] | None = None) -> Drawing:
    """The picture's content for ``spec``: its cells, and every arrow with its tensor and shape.

    Every shape comes from the documented formulas: at each step the batch is N (none when
    unbatched), or with --lengths the number of sequences still running (batch_sizes[t]); the
    states entering and leaving a row are rows of h_0 / h_n, as the states rows number them.

    Raises:
        BadInput: a layer no PyTorch can build or hold (its shapes would describe nothing).
    """
    check_torch_limits(spec, "float32")
    tensors = {formula.name: formula for formula in expected_tensors(spec)}
    seq_len = 1 if spec.cell else (max(spec.lengths) if spec.lengths is not None else spec.seq_len)
    steps = steps_to_show(seq_len, spec.lengths)
    rows = [(layer, DIRECTIONS[d]) for layer in range(spec.num_layers) for d in range(spec.directions)]
    batch_sizes = expected_batch_sizes(spec.lengths) if spec.lengths is not None else None

    def batch(t: int) -> Shape:
        """The batch axis of one step's slice: (N,), (batch_sizes[t],) or none."""
        if spec.unbatched:
            return ()
        return (batch_sizes[t],) if batch_sizes is not None else (spec.batch,)

    def row_ends(direction: str) -> tuple[int, int]:
        """The step a row starts at and the step it ends at: reverse rows run from L - 1 to 0."""
        return (0, seq_len - 1) if direction == "forward" else (seq_len - 1, 0)

    def sequence_steps(direction: str, entering: bool) -> tuple[int, ...] | None:
        """With --lengths, per sequence, where its state enters (``entering``) or leaves a row:
        each sequence runs from step 0 to its own last step length - 1, reverse rows backwards."""
        if spec.lengths is None:
            return None
        starts_at_zero = (direction == "forward") == entering
        return tuple(0 if starts_at_zero else length - 1 for length in spec.lengths)

    cells = [Cell(t, layer, direction) for layer, direction in rows for t in steps]
    edges = [
        Edge(
            "x_t" if layer == 0 else "input",
            t,
            layer,
            direction,
            None,
            (*batch(t), spec.layer_input_size(layer)),
        )
        for layer, direction in rows
        for t in steps
    ]
    slots = state_slots(spec)
    final = "1" if spec.cell else "n"
    for prefix in ("h", "c") if spec.has_cell_state else ("h",):
        width = spec.hidden_size if prefix == "c" else spec.h_out
        initial = tensors[f"{prefix}_0"].shape
        for row, (layer, direction) in enumerate(rows):
            if spec.cell:
                edges.append(Edge(f"{prefix}_0", 0, 0, direction, None, initial))
            else:  # one row of h_0: (D·num_layers, N, H_out) without its first axis
                edges.append(
                    Edge(
                        f"{prefix}_0",
                        row_ends(direction)[0],
                        layer,
                        direction,
                        row,
                        initial[1:],
                        sequence_t=sequence_steps(direction, entering=True),
                    )
                )
            order = steps if direction == "forward" else steps[::-1]
            edges += [Edge(f"{prefix}_t", t, layer, direction, None, (*batch(t), width)) for t in order[:-1]]
        name = f"{prefix}_{final}"
        edges += _final_states(
            spec, [s for s in slots if s.tensor == name], tensors[name].shape, row_ends, sequence_steps
        )
    output = None
    if not spec.cell:  # the top layer's step outputs, gathered into the output tensor
        top_width = spec.directions * spec.h_out
        edges += [Edge("output_t", t, None, None, None, (*batch(t), top_width)) for t in steps]
        formula = tensors["output" if spec.lengths is None else "output_padded"]
        edges.append(Edge("output", None, None, None, None, formula.shape))
        output = _label(formula.name, formula.formula, formula.shape)
    ends = [
        SequenceEnd(sequence, length, length - 1 in steps)
        for sequence, length in enumerate(spec.lengths or ())
    ]
    return Drawing(
        kind=spec.kind.value,
        cell=spec.cell,
        module=spec.module_repr,
        config=spec.config(),
        cell_name=spec.torch_class_name if spec.cell else spec.torch_class_name + "Cell",
        cell_detail=_cell_detail(spec),
        seq_len=seq_len,
        steps_shown=steps,
        num_layers=spec.num_layers,
        directions=spec.directions,
        cells=cells,
        edges=edges,
        input_label=_input_label(spec, tensors),
        output_label=output,
        x_t_source=_x_t_source(spec),
        sequence_ends=ends,
        notes=_notes(spec) + list(notes or []),
    )


def _final_states(
    spec: LayerSpec,
    slots: list[StateSlot],
    shape: Shape,
    row_ends: Callable[[str], tuple[int, int]],
    sequence_steps: Callable[[str, bool], tuple[int, ...] | None],
) -> list[Edge]:
    """One edge per row of h_n (c_n; a cell's h_1, c_1), leaving its row's last step.

    With --lengths the states rows come per sequence: one edge per row, with each sequence's
    place in ``output_padded``.
    """
    by_index: dict[int | None, list[StateSlot]] = {}
    for slot in slots:
        by_index.setdefault(slot.index, []).append(slot)
    edges = []
    for index, rows in by_index.items():
        first = rows[0]
        t_end = row_ends(first.direction)[1]
        row_shape = shape if spec.cell else shape[1:]
        per_sequence = tuple(slot.equals for slot in rows) if first.sequence is not None else None
        equals = first.equals if per_sequence is None else None
        edges.append(
            Edge(
                first.tensor,
                t_end,
                first.layer,
                first.direction,
                index,
                row_shape,
                equals,
                per_sequence,
                first.reason,
                sequence_steps(first.direction, False),
            )
        )
    return edges


def _label(name: str, formula: str, shape: Shape) -> str:
    return f"{name} {formula} = {format_shape(shape)}"


def _cell_detail(spec: LayerSpec) -> str:
    if spec.kind is Kind.rnn:
        return spec.nonlinearity
    detail = f"{gate_count(spec.kind.value)} gates"
    return detail + " + proj" if spec.proj_size else detail


def _input_label(spec: LayerSpec, tensors: dict[str, TensorFormula]) -> str:
    if spec.lengths is None:
        formula = tensors["input"]
        return _label("input", formula.formula, formula.shape)
    data = tensors["packed_input.data"]
    lengths = ",".join(map(str, spec.lengths))
    return f"packed_input (lengths {lengths}): " + _label("data", data.formula, data.shape)


def _x_t_source(spec: LayerSpec) -> str:
    if spec.cell:
        return "input"
    if spec.lengths is not None:
        return "packed_input.data's rows of step t"
    return "input[:, t]" if spec.batch_first and not spec.unbatched else "input[t]"


def _notes(spec: LayerSpec) -> list[str]:
    notes = []
    if not spec.initial_state:
        notes.append("no h_0 is passed (--no-initial-state): PyTorch starts every row from zeros")
    dropout = dropout_note(spec, "")
    if dropout is not None:
        notes.append(dropout)
    if spec.lengths is not None:
        notes.append(
            f"a packed batch runs max(lengths) = {max(spec.lengths)} steps; at step t only the "
            "batch_sizes[t] sequences still running go through the cell"
        )
    return notes
