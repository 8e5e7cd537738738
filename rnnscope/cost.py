"""Closed-form parameter and memory counts, from the documented formulas. No torch here."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from rnnscope.gates import gate_count
from rnnscope.spec import DTYPE_BYTES, Kind, LayerSpec, expected_parameters


@dataclass(frozen=True)
class LayerParameters:
    """The parameters of one layer and direction, with the closed formula that counts them."""

    layer: int
    direction: str  # "forward" or "reverse"
    formula: str  # G × (H_cell·(in + H_out) + 2·H_cell) [+ H_out·H_cell]
    worked: str  # the same with this spec's numbers filled in
    count: int

    def to_dict(self) -> dict[str, object]:
        return {
            "layer": self.layer,
            "direction": self.direction,
            "formula": self.formula,
            "worked": self.worked,
            "count": self.count,
        }


def layer_parameters(spec: LayerSpec) -> list[LayerParameters]:
    """Per layer and direction: G·H_cell·(in_k + H_out) weights, 2·G·H_cell biases, H_out·H_cell
    projection weights (LSTM with proj_size), where in_k is H_in for layer 0, else D·H_out."""
    gates, hidden = gate_count(spec.kind.value), spec.hidden_size
    recurrent = spec.hidden_size if spec.cell else spec.h_out
    rows = []
    layers = 1 if spec.cell else spec.num_layers
    for layer in range(layers):
        width = spec.layer_input_size(layer)
        in_symbol = "H_in" if layer == 0 else "D·H_out"
        inner = f"H_cell·({in_symbol} + H_out)"
        inner_worked = f"{hidden}·({width}+{recurrent})"
        if spec.bias:
            inner += " + 2·H_cell"
            inner_worked += f" + 2·{hidden}"
        formula, worked = _scaled(gates, inner, inner_worked, spec.bias)
        count = gates * (hidden * (width + recurrent) + (2 * hidden if spec.bias else 0))
        if spec.proj_size > 0:
            formula += " + H_out·H_cell"
            worked += f" + {spec.proj_size}·{hidden}"
            count += spec.proj_size * hidden
        for direction in ("forward", "reverse")[: spec.directions]:
            rows.append(LayerParameters(layer, direction, formula, f"{worked} = {count:,}", count))
    return rows


def _scaled(gates: int, inner: str, inner_worked: str, grouped: bool) -> tuple[str, str]:
    """``G × (inner)``, without the G for one gate and without brackets for a single term."""
    if gates == 1:
        return inner, inner_worked
    if grouped:
        return f"{gates} × ({inner})", f"{gates} × ({inner_worked})"
    return f"{gates} × {inner}", f"{gates} × {inner_worked}"


def total_parameters(spec: LayerSpec) -> int:
    """The closed formula summed over layers and directions."""
    return sum(row.count for row in layer_parameters(spec))


def rnn_equivalent(spec: LayerSpec) -> LayerSpec:
    """The nn.RNN (or RNNCell) with the same input_size, hidden_size, num_layers, bias and
    bidirectional: the baseline of ``ratio_vs_rnn``."""
    return replace(spec, kind=Kind.rnn, proj_size=0, nonlinearity="tanh")


def ratio_vs_rnn(spec: LayerSpec) -> float:
    return total_parameters(spec) / total_parameters(rnn_equivalent(spec))


def forward_bytes(spec: LayerSpec, dtype: str) -> int:
    """An upper estimate of the memory one forward pass holds at its peak.

    Parameters, the input, every layer's output (each feeds the next), the gate pre-activations
    of one layer (G·H_cell per step, batch element and direction: the input projection is
    computed for all steps at once) and the states.
    """
    n = 1 if spec.unbatched else spec.batch
    steps = 1 if spec.cell else spec.seq_len
    parameters = sum(math.prod(p.shape) for p in expected_parameters(spec))
    layers = 1 if spec.cell else spec.num_layers
    outputs = layers * steps * n * spec.directions * spec.h_out
    gates = steps * n * spec.directions * gate_count(spec.kind.value) * spec.hidden_size
    states = 2 * (2 if spec.has_cell_state else 1) * layers * spec.directions * n * spec.hidden_size
    elements = parameters + steps * n * spec.input_size + outputs + gates + states
    return elements * DTYPE_BYTES[dtype]
