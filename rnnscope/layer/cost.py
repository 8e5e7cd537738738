"""Closed-form parameter, MAC, FLOP and memory counts, from the documented formulas. No torch here."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rnnscope.layer.gates import gate_count
from rnnscope.layer.spec import DTYPE_BYTES, Kind, LayerSpec
from rnnscope.plain import Plain


@dataclass(frozen=True)
class LayerParameters(Plain):
    """The parameters of one layer and direction, with the closed formula that counts them."""

    layer: int
    direction: str  # "forward" or "reverse"
    formula: str  # G × (H_cell·(in + H_out) + 2·H_cell) [+ H_out·H_cell]
    worked: str  # the same with this spec's numbers filled in
    count: int


def layer_parameters(spec: LayerSpec) -> list[LayerParameters]:
    """Per layer and direction: G·H_cell·(in_k + H_out) weights, 2·G·H_cell biases, H_out·H_cell
    projection weights (LSTM with proj_size), where in_k is H_in for layer 0, else D·H_out."""
    gates, hidden = gate_count(spec.kind.value), spec.hidden_size
    recurrent = spec.hidden_size if spec.cell else spec.h_out
    rows = []
    layers = spec.stacked_layers
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
        for direction in spec.direction_names:
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
    of one layer (G·H_cell per row and direction: the input projection is computed for all
    steps at once) and the states.
    """
    layers = spec.stacked_layers
    gates = _rows(spec) * spec.directions * gate_count(spec.kind.value) * spec.hidden_size
    elements = (
        total_parameters(spec)
        + input_elements(spec)
        + layers * output_elements(spec)
        + gates
        + state_elements(spec)
    )
    return elements * DTYPE_BYTES[dtype]


# Element-wise work per time step, batch element and direction, in units of H_cell, counting each
# add, subtract or multiply as one FLOP and each sigmoid, tanh or relu evaluation as one FLOP
# (a convention: a real tanh costs several instructions; it keeps the count reproducible).
# Bias adds are counted separately (``bias_adds``); the matrix products are ``macs``.
#
#   RNN   h' = tanh(W_ih x + W_hh h):           1 add (the two products) + 1 tanh            = 2
#   LSTM  i, f, g, o = W_ih x + W_hh h:          4 adds
#         3 sigmoids (i, f, o) + tanh(g):        4 nonlinearities
#         c' = f ⊙ c + i ⊙ g:                    2 products + 1 add
#         h' = o ⊙ tanh(c'):                     1 tanh + 1 product                           = 13
#   GRU   r, z = σ(W_ir x + W_hr h), σ(W_iz x + W_hz h):   2 adds + 2 sigmoids
#         n = tanh(W_in x + r ⊙ (W_hn h)):       1 product + 1 add + 1 tanh
#         h' = (1 − z) ⊙ n + z ⊙ h:              1 subtract + 2 products + 1 add              = 11
# An LSTM's weight_hr projection is a matrix product and is in ``macs``; it adds no element-wise work.
ELEMENTWISE_PER_UNIT = {"rnn": 2, "lstm": 13, "gru": 11}


@dataclass(frozen=True)
class LayerCost(Plain):
    """The work of one layer and direction over the whole input.

    ``rows`` is how many (time step, batch element) pairs the layer computes: L·N, or
    sum(lengths) for a packed batch (every layer sees only the real steps), or N for a cell.
    """

    computed = ("macs", "flops")

    layer: int
    direction: str
    rows: int
    input_macs: int
    recurrent_macs: int
    projection_macs: int
    elementwise: int
    bias_adds: int

    @property
    def macs(self) -> int:
        return self.input_macs + self.recurrent_macs + self.projection_macs

    @property
    def flops(self) -> int:
        return 2 * self.macs + self.elementwise + self.bias_adds


def _rows(spec: LayerSpec) -> int:
    """(time step, batch element) pairs one layer and direction computes."""
    batch = 1 if spec.unbatched else spec.batch
    if spec.cell:
        return batch
    if spec.lengths is not None:
        return sum(spec.lengths)
    return spec.seq_len * batch


def layer_costs(spec: LayerSpec, rows: int | None = None) -> list[LayerCost]:
    """Per layer and direction, the multiply-accumulates and element-wise work of one forward pass.

    With ``rows`` = R (time step, batch element) pairs, G gates, in_k the layer's input width:

    - input projection W_ih x_t: a (G·H_cell, in_k) matrix times an in_k vector per row:
      R·G·H_cell·in_k MACs. PyTorch computes it for all steps at once; the count is the same.
    - recurrent projection W_hh h_(t-1): (G·H_cell, H_out) per row: R·G·H_cell·H_out MACs. It is
      counted at step 0 too: PyTorch multiplies h_0 even when it is zeros (no initial state).
    - LSTM projection h_t = W_hr (o ⊙ tanh(c_t)): (H_out, H_cell) per row: R·H_out·H_cell MACs.
    - element-wise: R·ELEMENTWISE_PER_UNIT[kind]·H_cell (see the table above).
    - bias adds: b_ih and b_hh, R·2·G·H_cell, when there are biases.

    Args:
        spec: the layer.
        rows: overrides R, e.g. L·N for the padded rectangle of a packed batch.
    """
    gates, hidden = gate_count(spec.kind.value), spec.hidden_size
    recurrent = spec.hidden_size if spec.cell else spec.h_out
    count = _rows(spec) if rows is None else rows
    layers = spec.stacked_layers
    costs = []
    for layer in range(layers):
        width = spec.layer_input_size(layer)
        for direction in spec.direction_names:
            costs.append(
                LayerCost(
                    layer=layer,
                    direction=direction,
                    rows=count,
                    input_macs=count * gates * hidden * width,
                    recurrent_macs=count * gates * hidden * recurrent,
                    projection_macs=count * spec.proj_size * hidden,
                    elementwise=count * ELEMENTWISE_PER_UNIT[spec.kind.value] * hidden,
                    bias_adds=count * 2 * gates * hidden if spec.bias else 0,
                )
            )
    return costs


def largest_matmul(spec: LayerSpec) -> tuple[int, int, int]:
    """(m, k, n) of the layer's biggest single matrix product: one layer's input projection for
    all steps at once, (R, in_k) @ (in_k, G·H_cell), at the widest in_k."""
    width = max(spec.layer_input_size(layer) for layer in range(spec.stacked_layers))
    return _rows(spec), width, gate_count(spec.kind.value) * spec.hidden_size


@dataclass(frozen=True)
class Cost(Plain):
    """What one forward pass costs, in operations and bytes, from the closed forms."""

    computed = ("macs", "flops", "elementwise", "bias_adds", "activation_bytes_is", "padding_waste")
    omitted_when_none = ("padded_macs", "padding_waste")  # both only with --lengths

    dtype: str
    layers: list[LayerCost]
    param_bytes: int
    input_bytes: int
    output_bytes: int
    state_bytes: int
    activation_bytes: int  # an estimate: what a training step keeps for backward
    padded_macs: int | None = None  # with --lengths: the L·N rectangle

    @property
    def macs(self) -> int:
        return sum(row.macs for row in self.layers)

    @property
    def flops(self) -> int:
        return sum(row.flops for row in self.layers)

    @property
    def elementwise(self) -> int:
        return sum(row.elementwise for row in self.layers)

    @property
    def bias_adds(self) -> int:
        return sum(row.bias_adds for row in self.layers)

    @property
    def padding_waste(self) -> float | None:
        """The fraction of the padded rectangle's MACs that would go to padding."""
        if self.padded_macs is None:
            return None
        return 1 - self.macs / self.padded_macs

    @property
    def activation_bytes_is(self) -> str:
        """What ``activation_bytes`` is, said in the JSON beside it."""
        return "an estimate of what a training step keeps for backward"


def _batch(spec: LayerSpec) -> int:
    return 1 if spec.unbatched else spec.batch


def input_elements(spec: LayerSpec) -> int:
    """x as the layer receives it: (L, N, H_in), or (N, H_in) for a cell (padded with --lengths)."""
    steps = 1 if spec.cell else spec.seq_len
    return steps * _batch(spec) * spec.input_size


def output_elements(spec: LayerSpec) -> int:
    """The last layer's output: (R, D·H_out) over the rows it computes; a cell's h_1 (and c_1)."""
    if spec.cell:
        return _batch(spec) * spec.hidden_size * (2 if spec.has_cell_state else 1)
    return _rows(spec) * spec.directions * spec.h_out


def state_elements(spec: LayerSpec) -> int:
    """h_0 and h_n (and c_0, c_n): 2 × D·num_layers·N·(H_out [+ H_cell]); a cell's h_0 (and c_0)."""
    per_layer = spec.h_out + (spec.hidden_size if spec.has_cell_state else 0)
    if spec.cell:
        return _batch(spec) * per_layer
    return 2 * spec.directions * spec.num_layers * _batch(spec) * per_layer


def activation_elements(spec: LayerSpec) -> int:
    """An estimate of what autograd keeps for backward, per row R of each layer:

    the layer's input (in_k, shared by both directions), and per direction the G·H_cell gate
    activations, the H_out output, for LSTM the H_cell cell state, and with projections the
    H_cell value before W_hr. The exact set depends on the backend (cuDNN keeps a workspace of
    its own, the CPU path keeps per-step intermediates), so this is an order of magnitude
    check, not a measurement.
    """
    gates, hidden = gate_count(spec.kind.value), spec.hidden_size
    per_direction = gates * hidden + (spec.hidden_size if spec.cell else spec.h_out)
    if spec.has_cell_state:
        per_direction += hidden
    if spec.proj_size > 0:
        per_direction += hidden
    layers = spec.stacked_layers
    per_row = sum(spec.layer_input_size(layer) + spec.directions * per_direction for layer in range(layers))
    return _rows(spec) * per_row


def forward_cost(spec: LayerSpec, dtype: str = "float32") -> Cost:
    """The closed-form cost of one forward pass of ``spec`` in ``dtype``."""
    size = DTYPE_BYTES[dtype]
    padded = None
    if spec.lengths is not None:
        padded = sum(row.macs for row in layer_costs(spec, rows=spec.seq_len * spec.batch))
    return Cost(
        dtype=dtype,
        layers=layer_costs(spec),
        param_bytes=total_parameters(spec) * size,
        input_bytes=input_elements(spec) * size,
        output_bytes=output_elements(spec) * size,
        state_bytes=state_elements(spec) * size,
        activation_bytes=activation_elements(spec) * size,
        padded_macs=padded,
    )


def training_bytes(spec: LayerSpec, dtype: str) -> int:
    """An estimate of a training step's peak: parameters and their gradients, the input, the
    states, and what the forward pass keeps for backward (plus as much again for the gradients
    flowing back through one layer's activations)."""
    estimate = forward_cost(spec, dtype)
    one_layer = estimate.activation_bytes // (spec.stacked_layers)
    return (
        2 * estimate.param_bytes
        + estimate.input_bytes
        + estimate.state_bytes
        + estimate.activation_bytes
        + one_layer
    )
