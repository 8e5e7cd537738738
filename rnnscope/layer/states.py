"""Where each final state sits in ``output``: one slot per row of ``h_n`` and ``c_n``.

Computed from the spec alone, like spec.py (no torch here): the expression of the slice of
``output`` that equals each state is derived from PyTorch's documented layout, and the torch
side (inspection.py) evaluates it on the run's tensors to check it.

The layout, from ``torch/nn/modules/rnn.py``:

- ``h_n`` is ``(D·num_layers, N, H_out)``; ``h_n.view(num_layers, D, N, H_out)`` splits its
  first axis, so row ``layer·D + direction`` is that layer and direction (0 forward, 1 reverse).
  ``--batch-first`` never moves N in the states: it applies to ``input`` and ``output`` only.
- ``output`` holds the last layer's ``h_t`` only: forward in features ``0:H_out``, reverse in
  ``H_out:2·H_out``. The forward direction ends at the last step (``-1``), the reverse one at
  step 0. Lower layers and the cell state ``c_t`` are never in ``output``.
- With ``--lengths`` each sequence ends at its own last valid step ``length − 1`` (forward);
  the reverse direction still ends at step 0. ``output_padded`` (what ``pad_packed_sequence``
  returns) is indexed there, in the caller's order of sequences.
- A cell (``--cell``) returns its state (``h_1``, and ``c_1`` for LSTMCell) and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rnnscope.layer.direction import DIRECTIONS
from rnnscope.layer.equations import H_PREV
from rnnscope.layer.shapes import expected_tensors, format_shape
from rnnscope.layer.spec import LayerSpec

_EXPRESSION = re.compile(r"^([a-z_]+)\[([^\[\]]*)\]$")
_INTEGER = re.compile(r"^-?\d+$")
_SLICE = re.compile(r"^(\d+):(\d+)$")


@dataclass(frozen=True)
class StateSlot:
    """One row of a final state tensor, and the slice of ``output`` that equals it.

    Attributes:
        tensor: ``"h_n"`` or ``"c_n"`` for layers; ``"h_1"`` or ``"c_1"`` for cells.
        index: the row of that tensor along its first axis, ``layer·D + direction``
            (``h_n.view(num_layers, D, N, H_out)``). None for cells: a cell's ``h_1`` has no
            layer or direction axis (its first axis, when batched, is N), so the slot is the
            whole tensor.
        layer: 0 … num_layers − 1 (0 for cells).
        direction: ``"forward"`` or ``"reverse"`` (cells run forward).
        sequence: with ``--lengths``, the batch element (in the caller's order) this slot is
            for, the state being ``tensor[index, sequence]``; None otherwise, the state being
            ``tensor[index]`` (all of N at once).
        equals: a Python index expression into the tensor as PyTorch returned it (``output``,
            or ``output_padded`` with ``--lengths``) that gives exactly this state, e.g.
            ``output[-1, :, 0:20]``: integers, ``-1``, ``:`` and ``start:stop`` only. None when
            the state is not in the output.
        reason: why the state is not in the output (a lower layer, the cell state, a cell);
            None when ``equals`` is set.
    """

    tensor: str
    index: int | None
    layer: int
    direction: str
    sequence: int | None
    equals: str | None
    reason: str | None

    @property
    def state_expression(self) -> str:
        """The state this slot names, as an index into its tensor: ``h_n[3]``, ``h_n[1, 2]``."""
        parts = [str(part) for part in (self.index, self.sequence) if part is not None]
        return f"{self.tensor}[{', '.join(parts)}]" if parts else self.tensor


def state_slots(spec: LayerSpec) -> list[StateSlot]:
    """Every row of ``h_n`` (then ``c_n``), with ``--lengths`` every row and sequence.

    Rows come in the order of the tensors' first axis; with ``--lengths`` the sequences of each
    row follow one another. Cells give one slot per returned state.
    """
    names = ("h", "c") if spec.has_cell_state else ("h",)
    if spec.cell:
        reason = "a cell returns its state and has no separate output"
        return [StateSlot(f"{name}_1", None, 0, "forward", None, None, reason) for name in names]
    slots = []
    sequences: list[int | None] = list(range(spec.batch)) if spec.lengths is not None else [None]
    for name in names:
        for layer in range(spec.num_layers):
            for direction in range(spec.directions):
                for sequence in sequences:
                    slots.append(_layer_slot(spec, f"{name}_n", layer, direction, sequence))
    return slots


def _layer_slot(spec: LayerSpec, tensor: str, layer: int, direction: int, sequence: int | None) -> StateSlot:
    index = layer * spec.directions + direction
    equals = reason = None
    if tensor == "c_n":
        reason = "the cell state c_t: output holds h_t only"
    elif layer < spec.num_layers - 1:
        reason = f"a lower layer: output holds layer {spec.num_layers - 1}'s h_t only"
    else:
        equals = _output_expression(spec, direction, sequence)
    return StateSlot(tensor, index, layer, DIRECTIONS[direction], sequence, equals, reason)


def _output_expression(spec: LayerSpec, direction: int, sequence: int | None) -> str:
    """The last layer's state in ``output``: its final step, in its direction's features."""
    features = f"{direction * spec.h_out}:{(direction + 1) * spec.h_out}"
    if spec.lengths is None or sequence is None:
        name, batch, last = "output", ":", "-1"
    else:
        name, batch, last = "output_padded", str(sequence), str(spec.lengths[sequence] - 1)
    step = last if direction == 0 else "0"
    if spec.unbatched:
        parts = [step, features]
    elif spec.batch_first:
        parts = [batch, step, features]
    else:
        parts = [step, batch, features]
    return f"{name}[{', '.join(parts)}]"


def parse_index(expression: str) -> tuple[str, tuple[int | slice, ...]]:
    """Split ``output[-1, :, 0:20]`` into the tensor's name and the index tuple, without eval.

    Raises:
        ValueError: the text is not a name indexed by integers, ``:`` and ``start:stop``.
    """
    match = _EXPRESSION.match(expression)
    if match is None:
        raise ValueError(f"not an index expression: {expression!r}")
    parts: list[int | slice] = []
    for text in match.group(2).split(","):
        part = text.strip()
        bounds = _SLICE.match(part)
        if part == ":":
            parts.append(slice(None))
        elif bounds is not None:
            parts.append(slice(int(bounds.group(1)), int(bounds.group(2))))
        elif _INTEGER.match(part):
            parts.append(int(part))
        else:
            raise ValueError(f"not an index part: {part!r} in {expression!r}")
    return match.group(1), tuple(parts)


def state_notes(spec: LayerSpec) -> list[str]:
    """The layout of the states in plain words, in this configuration's numbers."""
    if spec.cell:
        return [_cell_note(spec)]
    d, layers = spec.directions, spec.num_layers
    # The shapes said here are the tensor table's expected shapes: the same TensorFormula objects.
    tensors = {tensor.name: tensor for tensor in expected_tensors(spec)}
    h_n = tensors["h_n"]
    per_row = h_n.formula.removeprefix("(D·num_layers, ")[:-1]  # "N, H_out" or "H_out"
    row_values = ", ".join(map(str, h_n.shape[1:]))
    rows = "direction 0 forward, 1 reverse" if spec.bidirectional else "one direction, so direction is 0"
    notes = [
        f"h_n is {h_n.formula} = {format_shape(h_n.shape)}: "
        f"h_n.view(num_layers, D, {per_row}) = view({layers}, {d}, {row_values}) "
        f"splits its first axis, so row layer·D + direction is that layer and direction "
        f"({rows}). output holds the last layer's h_t only"
        + ("; c_n is never in it." if spec.has_cell_state else ".")
    ]
    if spec.batch_first and not spec.unbatched:
        states = "; ".join(
            f"{prefix}_0 and {prefix}_n {tensors[prefix + '_n'].formula} = "
            f"{format_shape(tensors[prefix + '_n'].shape)}"
            for prefix in (("h", "c") if spec.has_cell_state else ("h",))
        )
        notes.append(
            f"--batch-first lays out input and output as (N, L, ·) only: the states keep N second, "
            f"as without it: {states}."
        )
    if spec.lengths is not None:
        notes += _lengths_notes(spec, spec.lengths)
    return notes


def _lengths_notes(spec: LayerSpec, lengths: tuple[int, ...]) -> list[str]:
    longest = max(lengths)
    example = max(range(len(lengths)), key=lambda index: (lengths[index] < longest, lengths[index]))
    reverse = " In the reverse direction it is the output at step 0." if spec.bidirectional else ""
    if spec.enforce_sorted:
        sorting = (
            "--enforce-sorted passes enforce_sorted=True (PyTorch's own default; rnnscope's is "
            "--no-enforce-sorted): the lengths must already decrease, and PyTorch keeps no "
            "sorted_indices / unsorted_indices. Only ONNX export needs it."
        )
    else:
        sorting = (
            "enforce_sorted=False (rnnscope's default; PyTorch's own default is True): PyTorch "
            "sorts the batch by length internally (sorted_indices) and restores your order of "
            "output and h_n through unsorted_indices, so any order of --lengths works. Only "
            "ONNX export needs --enforce-sorted (lengths in decreasing order)."
        )
    return [
        f"with --lengths each sequence's h_n is the output at its own last valid step, not at "
        f"L − 1 (sequence {example}, length {lengths[example]}: step {lengths[example] - 1}).{reverse}",
        sorting,
    ]


def _cell_note(spec: LayerSpec) -> str:
    layer_class = spec.torch_class_name.removesuffix("Cell")
    roles = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if spec.bias else ())
    return (
        f"a cell is one time step of one layer and one direction: nn.{layer_class} runs the same "
        f"computation over L steps, for every layer and direction, and its "
        f"{', '.join(role + '_l0' for role in roles)} are this cell's {', '.join(roles)} "
        f"(layer k's reverse direction: weight_ih_lk_reverse …). Here h_0 → h_1 is one step, "
        f"{H_PREV} → h_t."
    )
