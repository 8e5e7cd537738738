"""``rnnscope.inspect``: run a layer and set every shape beside its documented formula."""

from __future__ import annotations

from rnnscope.execution.probe import Probe, probe
from rnnscope.execution.runtime import torch
from rnnscope.layer import cost
from rnnscope.layer.equations import equations, gate_rows
from rnnscope.layer.gates import GATES, gate_count
from rnnscope.layer.shapes import expected_batch_sizes, expected_parameters, expected_tensors, symbols
from rnnscope.layer.spec import Kind, LayerSpec, Shape
from rnnscope.layer.states import StateSlot, parse_index, state_notes, state_slots
from rnnscope.report import InspectReport, ParameterRow, StateRow, TensorRow


def inspect_layer(
    spec: LayerSpec, device: str = "cpu", dtype: str = "float32", seed: int = 0, gates: bool = False
) -> InspectReport:
    """Build the layer the spec describes, run synthetic input through it and report.

    With ``gates`` the report also carries the gate-block split of the weights (``--gates``).

    Raises:
        BadInput: a device that is not here, or a configuration that cannot fit it.
        RunFailed: the forward pass failed although the input was valid.
    """
    ran = probe(spec, device, dtype, seed)
    tensors = tensor_rows(ran)
    notes = list(ran.notes)
    if ran.skipped_reason is not None:
        notes.append(ran.skipped_reason)
    elif spec.lengths is not None and ran.device.type != "meta":
        notes += packed_notes(spec.lengths, spec.batch_first, tensors)
    if not spec.initial_state:
        states = "h_0/c_0" if spec.has_cell_state else "h_0"
        finals = (
            ("h_1/c_1" if spec.cell else "h_n/c_n")
            if spec.has_cell_state
            else ("h_1" if spec.cell else "h_n")
        )
        notes.append(
            f"--no-initial-state: no {states} was passed, so PyTorch started from zeros; the actual "
            f"shape shown for {states} is the state's shape as PyTorch returned it ({finals})"
        )
    if spec.unbatched and spec.batch_first:
        notes.append("--batch-first has no effect on unbatched input: it is (L, H_in) either way")
    total = sum(p.numel() for p in ran.module.parameters())
    rnn_total = cost.total_parameters(cost.rnn_equivalent(spec))
    return InspectReport(
        **ran.run_fields(dtype, seed),
        symbols=symbols(spec),
        tensors=tensors,
        parameters=parameter_rows(spec, ran.module),
        layers=cost.layer_parameters(spec),
        total_params=total,
        expected_total_params=cost.total_parameters(spec),
        rnn_params=rnn_total,
        ratio_vs_rnn=cost.ratio_vs_rnn(spec),
        explanation=explain_ratio(spec),
        states=state_rows(ran),
        state_notes=state_notes(spec) + (_META_STATES_NOTE if ran.device.type == "meta" else []),
        forward="skipped" if ran.skipped_reason else "ran",
        notes=notes,
        gates=gate_rows(spec) if gates else None,
        cost=cost.forward_cost(spec, dtype),
    )


def _actual_tensors(ran: Probe) -> dict[str, torch.Tensor]:
    tensors = dict(ran.inputs) | dict(ran.outputs)
    if ran.packed_input is not None and ran.packed_output is not None:
        tensors["packed_input.data"] = ran.packed_input.data
        tensors["packed_input.batch_sizes"] = ran.packed_input.batch_sizes
        # With --enforce-sorted PyTorch keeps no indices (both are None).
        for name in ("sorted_indices", "unsorted_indices"):
            index = getattr(ran.packed_input, name)
            if index is not None:
                tensors["packed_input." + name] = index
        tensors["packed_output.data"] = ran.packed_output.data
    return tensors


# Small integer tensors of a PackedSequence, shown with their values.
_INDEX_TENSORS = ("packed_input.batch_sizes", "packed_input.sorted_indices", "packed_input.unsorted_indices")


def tensor_rows(ran: Probe) -> list[TensorRow]:
    """Every tensor of the run beside its documented formula and the shape it gives."""
    actual = _actual_tensors(ran)
    skipped = ran.skipped_reason is not None
    rows = []
    for formula in expected_tensors(ran.spec):
        # Skipped on meta, nothing was computed: the rows show the formulas only.
        tensor = None if skipped else actual.get(formula.name)
        if tensor is None and not skipped and formula.name in ("h_0", "c_0"):
            # --no-initial-state: PyTorch's own zero state is not returned, but the recurrence
            # keeps the state's shape, so the final state shows the shape it had.
            tensor = actual.get(formula.name[0] + ("_1" if ran.spec.cell else "_n"))
        shape: Shape | None = tuple(tensor.shape) if tensor is not None else None
        values = expected_values = None
        # sorted_indices follow the input's device: on meta there are no values to read.
        if formula.name in _INDEX_TENSORS and tensor is not None and tensor.device.type != "meta":
            values = [int(v) for v in tensor.tolist()]
            if formula.name.endswith("batch_sizes") and ran.spec.lengths is not None:
                expected_values = expected_batch_sizes(ran.spec.lengths)
        rows.append(TensorRow(formula.name, formula.formula, formula.shape, shape, values, expected_values))
    return rows


_META_STATES_NOTE = [
    "not checked on meta: the meta device holds no values, so the expressions are shown but "
    "not evaluated (run on cpu or cuda to check them)"
]


def state_rows(ran: Probe) -> list[StateRow]:
    """Each row of h_n / c_n with its ``equals`` evaluated on the run's tensors.

    The expression is parsed (states.parse_index), never eval'd. Unchecked where there are no
    values: the forward pass skipped or run on the meta device.
    """
    has_values = ran.device.type != "meta" and ran.skipped_reason is None
    return [
        _check_state(slot, slot.equals, ran.outputs)
        if has_values and slot.equals is not None
        else StateRow(slot)
        for slot in state_slots(ran.spec)
    ]


def _check_state(slot: StateSlot, equals: str, outputs: dict[str, torch.Tensor]) -> StateRow:
    name, index = parse_index(equals)
    eps = torch.finfo(outputs[slot.tensor].dtype).eps
    try:
        state = outputs[slot.tensor][slot.index]
        if slot.sequence is not None:
            state = state[slot.sequence]  # with --lengths: (H_out,), one sequence
        part = outputs[name][index]
    except IndexError:  # a tensor whose shape differs from its formula (its row says so)
        return StateRow(slot, None, eps, f"{slot.state_expression} or {equals} is out of range")
    state = state.detach().to("cpu", torch.float64)
    part = part.detach().to("cpu", torch.float64)
    if part.shape != state.shape:
        return StateRow(slot, None, eps, f"{equals} is {tuple(part.shape)}, the state {tuple(state.shape)}")
    difference = (part - state).abs()
    if not bool(difference.isfinite().all()):
        return StateRow(slot, None, eps, "NaN or inf in the state or in the output")
    # Float noise: one unit in the last place of the run's dtype at the state's largest magnitude.
    tolerance = eps * max(1.0, float(state.abs().max()))
    return StateRow(slot, float(difference.max()), tolerance)


def parameter_rows(spec: LayerSpec, module: torch.nn.Module) -> list[ParameterRow]:
    """The module's parameters in named_parameters() order beside their documented shapes."""
    actual = list(module.named_parameters())
    formulas = expected_parameters(spec)
    rows = []
    for (name, parameter), formula in zip(actual, formulas, strict=False):
        # Pair by position, the order named_parameters() promises: a name or shape that
        # differs from the formula shows as a failed row instead of vanishing.
        shape = tuple(parameter.shape) if name == formula.name else ()
        rows.append(ParameterRow.measured(spec, formula, name, shape, parameter.numel()))
    return rows


def explain_ratio(spec: LayerSpec) -> str:
    """The ratio to nn.RNN in words a learner reads once and remembers."""
    baseline = "an RNNCell" if spec.cell else "an nn.RNN"
    ratio = cost.ratio_vs_rnn(spec)
    gates = gate_count(spec.kind.value)
    if spec.kind is Kind.rnn:
        # The recurrence as verify's equations table writes it (bias terms only with --bias).
        recurrence = equations(spec)[0].equation
        return f"{ratio:g}×: this is the baseline. Each RNN matrix is one block: {recurrence}."
    names = ", ".join(gate for gate, _ in GATES[spec.kind.value])
    name = spec.torch_class_name
    text = (
        f"{ratio:.4g}× {baseline} of the same sizes: each {name} matrix stacks {gates} gate blocks "
        f"({names}) where the RNN has one, so every weight and bias has {gates}× the rows."
    )
    if spec.proj_size:
        text += (
            f" With --proj-size {spec.proj_size} the recurrent weights see H_out = "
            f"{spec.proj_size} instead of {spec.hidden_size} and weight_hr adds "
            f"{spec.proj_size}·{spec.hidden_size} per layer and direction, so the ratio is not {gates}."
        )
    return text


def packed_notes(lengths: tuple[int, ...], batch_first: bool, tensors: list[TensorRow]) -> list[str]:
    """What packing did to this batch, in the actual shapes of the tensor table's rows (where
    h_n sits: states.state_notes)."""
    shapes = {row.name: row.shape for row in tensors if row.shape is not None}
    time_axis = 1 if batch_first else 0
    length, n = shapes["input"][time_axis], shapes["input"][1 - time_axis]  # the padded input's L, N
    total = shapes["packed_input.data"][0]  # sum(lengths): one row per real step
    longest = shapes["output_padded"][time_axis]  # pad_packed_sequence pads to max(lengths)
    padded = longest * n - total
    notes = [
        f"lengths {','.join(map(str, lengths))}: the packed data holds {total} real steps of the "
        f"L × N = {length} × {n} = {length * n} in the padded input: run unpacked, "
        f"{1 - total / (length * n):.0%} of the work would go to padding.",
        f"output_padded is padded to the longest sequence ({longest})"
        + (f", not --seq-len ({length})" if longest != length else ", which is L")
        + ": pad_packed_sequence was called without total_length. "
        + ("Its 1 padded position is zero." if padded == 1 else f"Its {padded} padded positions are zeros."),
    ]
    return notes
