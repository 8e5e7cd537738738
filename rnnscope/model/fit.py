"""Why a recurrent call's input or state does not fit its module, from shapes alone (no torch).

The module's settings are a LayerSpec; the call is the shapes that came in. The documented
formulas (``spec.expected_tensors``) give what the module wants for this call's L and N; the
first axis that differs is named, with the classic cause in words: H_in off, ``batch_first``
mixed up, a state of the wrong rank, a state sized for another num_layers·D or batch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rnnscope.layer.shapes import expected_tensors, format_shape
from rnnscope.layer.spec import LayerSpec, Shape


@dataclass(frozen=True)
class Misfit:
    """The first tensor of a call that does not fit: which, which axis, and why."""

    tensor: str  # "input", "h_0" or "c_0"
    axis: str  # e.g. "input axis 2 (H_in)"
    expected: Shape | None  # the formula's shape for this call, None where the rank is wrong
    explanation: str


@dataclass(frozen=True)
class CallShapes:
    """What came into one call: the input's shape (for a PackedSequence its data's, with
    ``packed_batch`` its batch_sizes[0]) and the states' shapes (None where none was passed)."""

    input: Shape
    states: dict[str, Shape] | None
    packed_batch: int | None = None


def call_layout(spec: LayerSpec, shapes: CallShapes) -> LayerSpec | None:
    """The spec with this call's L, N and batched-ness, or None where the input's rank fits no
    layout of the module."""
    rank = len(shapes.input)
    if shapes.packed_batch is not None:
        return replace(spec, batch=shapes.packed_batch, unbatched=False)
    if spec.cell:
        if rank not in (1, 2):
            return None
        return replace(spec, unbatched=rank == 1, batch=shapes.input[0] if rank == 2 else 1)
    if rank == 2:
        return replace(spec, unbatched=True, seq_len=shapes.input[0], batch=1)
    if rank != 3:
        return None
    steps, batch = (shapes.input[1], shapes.input[0]) if spec.batch_first else shapes.input[:2]
    return replace(spec, seq_len=steps, batch=batch)


def misfit(spec: LayerSpec, shapes: CallShapes) -> Misfit | None:
    """The first misfit of the call, or None where input and states fit the formulas."""
    layout = call_layout(spec, shapes)
    name = spec.torch_class_name
    if layout is None:
        ranks = "1-D (H_in) or 2-D (N, H_in)" if spec.cell else _sequence_ranks(spec)
        return Misfit(
            "input",
            "input rank",
            None,
            f"the input is {len(shapes.input)}-D {format_shape(shapes.input)}; {name} takes {ranks}",
        )
    formulas = {formula.name: formula for formula in expected_tensors(layout)}
    found = _input_misfit(layout, shapes, formulas["input"].shape if shapes.packed_batch is None else None)
    if found is not None:
        return found
    for state, shape in (shapes.states or {}).items():
        formula = formulas[state]
        if shape != formula.shape:
            return _state_misfit(layout, shapes, state, shape, formula.shape, formula.formula)
    return None


def _sequence_ranks(spec: LayerSpec) -> str:
    batched = "(N, L, H_in)" if spec.batch_first else "(L, N, H_in)"
    return f"3-D {batched} or 2-D (L, H_in) unbatched"


def _input_misfit(spec: LayerSpec, shapes: CallShapes, expected: Shape | None) -> Misfit | None:
    features = shapes.input[-1]
    if features == spec.input_size:
        return None
    rank = len(shapes.input)
    axis = f"input axis {rank - 1} (H_in)"
    if expected is None:  # a PackedSequence's data: (sum(lengths), H_in)
        expected = (shapes.input[0], spec.input_size)
    text = (
        f"H_in off: the input's last axis has {features} features, but {spec.constructor} "
        f"was built with input_size={spec.input_size}"
    )
    elsewhere = [index for index, size in enumerate(shapes.input[:-1]) if size == spec.input_size]
    if elsewhere:
        text += (
            f"; axis {elsewhere[0]} has {spec.input_size}: the features may be on the wrong axis "
            "(a missing transpose or permute)"
        )
    return Misfit("input", axis, expected, text)


def _state_misfit(
    spec: LayerSpec, shapes: CallShapes, state: str, shape: Shape, expected: Shape, formula: str
) -> Misfit:
    rank, wanted = len(shape), len(expected)
    if rank != wanted:
        batched = "unbatched (2-D)" if spec.unbatched else "batched"
        if spec.cell:
            batched = "unbatched (1-D)" if spec.unbatched else "batched (2-D)"
        return Misfit(
            state,
            f"{state} rank",
            expected,
            f"a state of the wrong rank: the input is {batched}, so {state} must be {wanted}-D "
            f"{formula} = {format_shape(expected)}; it is {rank}-D {format_shape(shape)}",
        )
    symbols = formula.strip("()").split(", ")
    for index, (size, want) in enumerate(zip(shape, expected, strict=True)):
        if size == want:
            continue
        symbol = symbols[index]
        axis = f"{state} axis {index} ({symbol})"
        if symbol == "D·num_layers":
            return Misfit(state, axis, expected, _layers_text(spec, state, size, want))
        if symbol == "N":
            return Misfit(state, axis, expected, _batch_text(spec, shapes, state, size, want))
        return Misfit(
            state,
            axis,
            expected,
            f"{state} has {size} features on its last axis; {spec.constructor} wants {symbol} = {want}",
        )
    raise AssertionError("a state that differs differs on some axis")


def _layers_text(spec: LayerSpec, state: str, size: int, want: int) -> str:
    return (
        f"{state} sized for another num_layers·D: {spec.constructor} has num_layers={spec.num_layers} "
        f"and D={spec.directions}, so {state} has {want} rows (one per layer and direction); it has {size}"
    )


def _batch_text(spec: LayerSpec, shapes: CallShapes, state: str, size: int, want: int) -> str:
    if not spec.cell and shapes.packed_batch is None and len(shapes.input) == 3:
        other_axis = 1 if spec.batch_first else 0
        if shapes.input[other_axis] == size:
            read = 0 if spec.batch_first else 1
            return (
                f"batch_first mixed up: {state} says N = {size}, which is axis {other_axis} of the "
                f"input {format_shape(shapes.input)}, but the module has batch_first={spec.batch_first} "
                f"and reads axis {read} ({want}) as N"
            )
    return f"{state} sized for another batch: the input has N = {want}, {state} has {size}"


def batch_axis_problem(spec: LayerSpec, shapes: CallShapes, batch: int) -> str | None:
    """With ``--batch N``: the input's batch axis is not N while another axis is — the silent
    ``batch_first`` mix-up (PyTorch raises nothing, it reads the batch as time)."""
    layout = call_layout(spec, shapes)
    if layout is None or layout.unbatched or layout.batch == batch:
        return None
    if shapes.packed_batch is not None or spec.cell:
        return f"the input's batch axis has {layout.batch}, not --batch {batch}"
    axis = 1 if spec.batch_first else 0  # the axis the module reads as L
    if shapes.input[axis] != batch:
        return None
    read = 0 if spec.batch_first else 1
    return (
        f"batch_first={spec.batch_first} reads axis {read} of the input {format_shape(shapes.input)} as N, "
        f"but --batch {batch} is on axis {axis}: the batch is being read as time "
        f"(batch_first={not spec.batch_first} would fit, or transpose the input)"
    )
