"""``rnnscope activity``: how often each gate saturates, unit by unit (Karpathy, Johnson &
Fei-Fei 2015, "Visualizing and Understanding Recurrent Networks", Fig. 3).

Every sigmoid gate (LSTM i, f, o; GRU r, z) of every unit, step, sequence, layer and direction
is recomputed with verify's reference equations (execution/reference.py) from the layer's own
weights, and counted: left-saturated below --low, right-saturated above --high. A unit's
``left`` and ``right`` are those counts over the (step, sequence) pairs it ran; with
--lengths, a sequence's padded steps are not pairs.

:class:`GateActivity` does the counting for one recurrent module over any number of calls, so
that the same object serves one synthetic run here and every call a model makes.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from rnnscope.checkpoint.input_data import InputData
from rnnscope.errors import BadInput
from rnnscope.execution.build import check_runs
from rnnscope.execution.probe import State, initial_state, probe
from rnnscope.execution.reference import reference_forward
from rnnscope.execution.runtime import guarded_run, torch
from rnnscope.gradient_norms import add_forget_bias, check_forget_bias
from rnnscope.layer.cost import forward_bytes
from rnnscope.layer.direction import DIRECTIONS
from rnnscope.layer.gates import SIGMOID_GATES, gate_blocks
from rnnscope.layer.shapes import expected_tensors, format_shape
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import check_computes, make_spec
from rnnscope.report import ActivityReport, UnitActivity

Tensor = torch.Tensor
# The gates are recomputed in float64: a value's rounding then cannot move it across --low or
# --high, as it could in float16. MPS has no float64, so there they are recomputed on the CPU.
COMPUTE_DTYPE = torch.float64


class GateActivity:
    """Saturation counts of one recurrent module's sigmoid gates, added up call by call.

    Args:
        spec: the module (kind, cell, sizes, layers, directions, batch_first); its input fields
            (seq_len, batch, unbatched, lengths) are taken from each call instead.
        low, high: a gate is left-saturated below ``low`` and right-saturated above ``high``.
        path: the module's path in a model (``model --activity``), None for a lone layer.
    """

    def __init__(self, spec: LayerSpec, low: float, high: float, path: str | None = None) -> None:
        self.spec, self.low, self.high, self.path = spec, low, high, path
        self.gates = SIGMOID_GATES[spec.kind.value]
        self.pairs = 0  # (step, sequence) pairs counted per unit, the same for every gate
        self.calls = 0
        self._left: dict[tuple[int, int, str], Tensor] = {}
        self._right: dict[tuple[int, int, str], Tensor] = {}

    def add(
        self,
        weights: Mapping[str, Tensor],
        x: Tensor,
        state: State = None,
        lengths: Sequence[int] | None = None,
    ) -> None:
        """Count one call's gates.

        Args:
            weights: the module's parameters by name, as ``named_parameters()`` gives them.
            x: the call's input as the module took it: (L, N, H_in), (N, L, H_in) with
                batch_first, (L, H_in) unbatched; a cell's (N, H_in) or (H_in,). A packed
                sequence is given padded, with ``lengths``.
            state: the call's h_0, or (h_0, c_0) for LSTM; None for zeros.
            lengths: each sequence's real steps, or None when every step is real.
        """
        spec = self._call_spec(x, lengths)
        device = torch.device("cpu") if x.device.type == "mps" else x.device
        h_0, c_0 = state if isinstance(state, tuple) else (state, None)
        given = {"input": x, "h_0": h_0, "c_0": c_0}
        inputs = {
            name: value.detach().to(device, COMPUTE_DTYPE)
            for name, value in given.items()
            if value is not None
        }
        cast = {name: value.detach().to(device, COMPUTE_DTYPE) for name, value in weights.items()}
        valid = None  # (L, N): the real steps
        if spec.lengths is not None:
            real = torch.tensor(spec.lengths, device=device)
            valid = torch.arange(spec.seq_len, device=device)[:, None] < real[None, :]  # (L, N)
            self.pairs += sum(spec.lengths)
        else:
            self.pairs += (1 if spec.cell else spec.seq_len) * spec.batch

        def count(layer: int, direction: int, t: int, gates: dict[str, Tensor]) -> None:
            for gate in self.gates:
                values = gates[gate]  # (N, H_cell)
                left, right = values < self.low, values > self.high  # (N, H_cell)
                if valid is not None:
                    left, right = left & valid[t][:, None], right & valid[t][:, None]
                key = (layer, direction, gate)
                self._left[key] = self._left.get(key, 0) + left.sum(dim=0)  # (H_cell,)
                self._right[key] = self._right.get(key, 0) + right.sum(dim=0)  # (H_cell,)

        with torch.no_grad():
            reference_forward(spec, cast, inputs, on_gates=count)
        self.calls += 1

    def _call_spec(self, x: Tensor, lengths: Sequence[int] | None) -> LayerSpec:
        """The spec with this call's L, N and lengths, read off its input."""
        spec = self.spec
        unbatched = x.dim() == (1 if spec.cell else 2)
        if spec.cell:
            return replace(spec, batch=1 if unbatched else x.shape[0], unbatched=unbatched)
        if unbatched:
            steps, batch = x.shape[0], 1  # (L, H_in)
        elif spec.batch_first:
            batch, steps = x.shape[:2]  # (N, L, H_in)
        else:
            steps, batch = x.shape[:2]  # (L, N, H_in)
        return replace(
            spec,
            seq_len=steps,
            batch=batch,
            unbatched=unbatched,
            lengths=None if lengths is None else tuple(int(length) for length in lengths),
        )

    def units(self) -> list[UnitActivity]:
        """One row per unit of every sigmoid gate, layer and direction: (layer, direction, gate,
        unit) order. Empty before the first call."""
        if not self.pairs:
            return []
        rows = []
        for (layer, direction, gate), left in self._left.items():
            right = self._right[(layer, direction, gate)]
            for unit, (below, above) in enumerate(zip(left.tolist(), right.tolist(), strict=True)):
                rows.append(
                    UnitActivity(
                        path=self.path,
                        layer=layer,
                        direction=DIRECTIONS[direction],
                        gate=gate,
                        unit=unit,
                        left=below / self.pairs,
                        right=above / self.pairs,
                    )
                )
        return sorted(
            rows, key=lambda row: (row.layer, row.direction != "forward", self.gates.index(row.gate))
        )


def check_thresholds(low: float, high: float) -> None:
    """Refuse thresholds that do not split (0, 1) into left, middle and right.

    Raises:
        BadInput: naming the flag.
    """
    for flag, value in (("--low", low), ("--high", high)):
        if not (math.isfinite(value) and 0.0 < value < 1.0):
            raise BadInput(f"{flag} must be between 0 and 1 (a sigmoid's range), got {value:g}")
    if low >= high:
        raise BadInput(f"--low ({low:g}) must be below --high ({high:g})")


def check_activity_kind(spec: LayerSpec) -> None:
    """Refuse RNN, which has no sigmoid gate.

    Raises:
        BadInput: one line saying why and what to use.
    """
    if not SIGMOID_GATES[spec.kind.value]:
        raise BadInput(
            f"activity counts sigmoid gates and {spec.kind.value} has none (its one block is "
            f"{spec.nonlinearity}): use lstm or gru"
        )


def input_axes(spec: LayerSpec) -> list[str]:
    """The input's axes by symbol, as its documented formula gives them: ``["L", "N", "H_in"]``."""
    return expected_tensors(spec)[0].formula.strip("()").split(", ")


def sizes_from_data(
    kind: Kind, cell: bool, batch_first: bool, unbatched: bool, data: InputData
) -> dict[str, int]:
    """L and N as ``--input-data``'s shape gives them, for the flags that were not typed: the
    symbols of the input's formula with those layout flags, matched axis by axis; nothing when
    the number of axes differs (``check_data_shape`` then says so).

    Raises:
        BadInput: an axis of size 0 (no step or no sequence to count).
    """
    axes = input_axes(make_spec(kind, cell=cell, batch_first=batch_first, unbatched=unbatched))
    if len(axes) != len(data.shape):
        return {}
    for index, (symbol, size) in enumerate(zip(axes, data.shape, strict=True)):
        if size == 0:
            raise BadInput(f"--input-data {data.file}: axis {index} ({symbol}) is 0: nothing to run")
    return {symbol: size for symbol, size in zip(axes, data.shape, strict=True) if symbol in ("L", "N")}


def check_data_shape(spec: LayerSpec, shape: Sequence[int], file: str, from_file: bool) -> None:
    """Refuse input data whose shape is not the input the layer takes, naming the axis.

    Raises:
        BadInput: the first axis that differs, with the flag that sets it.
    """
    expected = expected_tensors(spec)[0]
    axes = input_axes(spec)
    if len(shape) != len(axes):
        hint = ""
        if not spec.cell and len(shape) == 2 and not spec.unbatched:
            hint = "; for one unbatched sequence (L, H_in) add --unbatched"
        elif not spec.cell and len(shape) == 3 and spec.unbatched:
            hint = "; drop --unbatched for a batch"
        raise BadInput(
            f"--input-data {file}: shape {format_shape(tuple(shape))} has {len(shape)} axes, the input "
            f"{expected.formula} has {len(axes)}{hint}"
        )
    flags = {
        "L": "--seq-len",
        "N": "--lengths" if spec.lengths is not None else "--batch",
        "H_in": "the --from layer's input size" if from_file else "--input-size",
    }
    for index, (symbol, size, wanted) in enumerate(zip(axes, shape, expected.shape, strict=True)):
        if size != wanted:
            raise BadInput(
                f"--input-data {file}: axis {index} ({symbol}) is {size}, but {flags[symbol]} gives "
                f"{wanted}: the input {expected.formula} is {format_shape(expected.shape)}"
            )


def activity(
    spec: LayerSpec,
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
    *,
    low: float = 0.1,
    high: float = 0.9,
    from_file: Path | None = None,
    prefix: str | None = None,
    data: tuple[InputData, Tensor] | None = None,
    forget_bias: float | None = None,
    given: Collection[str] = (),
) -> ActivityReport:
    """Count each unit's gate saturation on one run of the layer.

    The layer and its input are the ones ``inspect KIND --seed S`` builds on ``device`` in
    ``dtype``; ``from_file`` replaces the layer (and its sizes) with a file's, ``data`` the
    input with the user's, and ``forget_bias`` is added to the LSTM forget gate as
    ``gradients --forget-bias`` adds it.

    Args:
        spec: validated; with ``data``, its L and N already fit it (see ``sizes_from_data``).
        low, high: the saturation thresholds, 0 < low < high < 1.
        from_file, prefix: ``--from FILE`` and ``--prefix``, read as ``rnnscope load`` reads it.
        given: the settings of ``spec`` set on purpose (the flags typed): with ``from_file``, one
            the file contradicts is refused.
        data: ``--input-data``, as ``read_input_data`` returns it.

    Raises:
        BadInput: RNN (no sigmoid gate), bad thresholds, --device meta, an unsafe or unfitting
            file, a forget bias that cannot apply, or a layer that cannot fit the device.
        RunFailed: the run failed although the input was valid.
    """
    check_activity_kind(spec)
    check_thresholds(low, high)
    if prefix is not None and from_file is None:
        raise BadInput("--prefix picks a layer of --from FILE: add --from")
    check_computes(device, "activity")
    notes: list[str] = []
    chosen = None
    if from_file is not None:
        from rnnscope.checkpoint.loading import find_layer

        chosen = find_layer(from_file, prefix, spec)
        spec = chosen.spec_with(spec, given)
        notes.append(chosen.note(spec, "--batch-first and the input"))
    if forget_bias is not None:
        if spec.kind is not Kind.lstm:
            raise BadInput(f"--forget-bias applies to lstm only: {spec.kind.value} has no forget gate")
        check_forget_bias(forget_bias, spec)
    if data is not None:
        check_data_shape(spec, tuple(data[1].shape), data[0].file, chosen is not None)
    # The float64 copy the gates are recomputed from, beside the layer itself (probe checks that).
    check_runs((spec,), device, dtype, computes=True, needed=lambda spec: forward_bytes(spec, "float64"))
    ran = probe(
        spec, device, dtype, seed, training=False, weights=None if chosen is None else chosen.state_dict()
    )
    counter = GateActivity(spec, low, high)
    with guarded_run(ran.device, notes):
        if forget_bias is not None:
            add_forget_bias(ran.module, spec, forget_bias)
        x = ran.inputs["input"] if data is None else data[1].to(ran.device, ran.dtype)
        counter.add(dict(ran.module.named_parameters()), x, initial_state(spec, ran.inputs), spec.lengths)
    compute = f"float64 on {'cpu' if ran.device.type == 'mps' else ran.device}"
    return ActivityReport(
        **ran.run_fields(dtype, seed),
        compute=compute,
        low=low,
        high=high,
        steps=1 if spec.cell else spec.seq_len,
        batch=1 if spec.unbatched else spec.batch,
        pairs=counter.pairs,
        forget_bias=forget_bias,
        source=None if chosen is None else chosen.to_dict(),
        input=None if data is None else data[0].to_dict(),
        units=counter.units(),
        notes=notes + ran.notes + _notes(spec, dtype, compute, data, forget_bias, counter.pairs),
    )


def _notes(
    spec: LayerSpec,
    dtype: str,
    compute: str,
    data: tuple[InputData, Tensor] | None,
    forget_bias: float | None,
    pairs: int,
) -> list[str]:
    """How the numbers were made, in the order a reader needs them."""
    notes = [
        f"each gate recomputed with verify's reference equations in {compute} from the {dtype} "
        "layer's weights and input"
    ]
    if data is not None:
        found = data[0]
        notes.append(
            f"input from --input-data {found.file}: {found.format_name}, {format_shape(found.shape)} "
            f"{found.dtype}" + ("" if found.dtype == dtype else f", cast to {dtype}")
        )
        if spec.initial_state:
            names = "h_0 and c_0" if spec.has_cell_state else "h_0"
            notes.append(
                f"{names}: drawn with --seed, not from --input-data; --no-initial-state starts from zeros"
            )
    if forget_bias is not None:
        forget = next(
            block for block in gate_blocks("lstm", "bias_ih", spec.hidden_size) if block.gate == "f"
        )
        notes.append(
            f"--forget-bias {forget_bias:g} added to rows {forget.start}:{forget.stop} (the forget gate) of "
            "bias_ih in every layer and direction, as gradients --forget-bias adds it"
        )
    if spec.lengths is not None:
        notes.append(
            f"--lengths: each sequence's padded steps are not counted: {pairs:,} pairs, not "
            f"{spec.seq_len * spec.batch:,}"
        )
    if spec.dropout:
        notes.append(f"--dropout {spec.dropout:g} is not applied: the gates are those of eval mode")
    return notes
