"""The textbook recurrences, written with plain tensor ops from a module's own weights.

Nothing here calls the torch module, ``torch._VF`` or a functional RNN helper: every gate is
a matrix product, a bias add and a sigmoid / tanh / relu, as in the equations of PyTorch's
``torch/nn/modules/rnn.py`` docstrings. The weights are sliced into gates by
``gates.gate_blocks``, the same code that labels the gates in ``inspect``, so a wrong label
shows up as a wrong result.

Symbols: L steps, N batch, D directions, H_in input features, H_cell hidden features,
H_out = proj_size if > 0 else H_cell. Inside, every sequence is (L, N, features) and every
state (N, features); the caller's layout (batch-first, unbatched) is converted at the edges.
Multi-layer: layer k > 0 reads the previous layer's output (both directions concatenated),
not x_t; PyTorch's RNN docstring loop that feeds x_t to every layer is wrong for
num_layers > 1 (pytorch issues #129446, #136926).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rnnscope.execution.runtime import torch
from rnnscope.layer.direction import parameter_suffix
from rnnscope.layer.gates import gate_blocks
from rnnscope.layer.spec import Kind, LayerSpec

Tensor = torch.Tensor
# Called with (layer, direction: 0 forward / 1 reverse, t, the gates of that step by letter, each
# after its sigmoid or tanh, (N, H_cell)) at every step the reference runs, padded steps included.
GateObserver = Callable[[int, int, int, dict[str, Tensor]], None]


@dataclass(frozen=True)
class DirectionWeights:
    """One layer and direction's parameters, each split into its gate blocks.

    ``w_i[g]`` is (H_cell, in_k), ``w_h[g]`` (H_cell, H_out), ``b_i[g]`` and ``b_h[g]``
    (H_cell,) or None without bias; ``w_hr`` is (H_out, H_cell) or None without projections.
    """

    w_i: dict[str, Tensor]
    w_h: dict[str, Tensor]
    b_i: dict[str, Tensor] | None
    b_h: dict[str, Tensor] | None
    w_hr: Tensor | None


def split_gates(kind: str, role: str, tensor: Tensor, hidden_size: int) -> dict[str, Tensor]:
    """Rows of one stacked parameter, by gate letter (``i``, ``f``, ``g``, ``o`` for LSTM)."""
    return {block.gate: tensor[block.start : block.stop] for block in gate_blocks(kind, role, hidden_size)}


def direction_weights(spec: LayerSpec, weights: Mapping[str, Tensor], suffix: str) -> DirectionWeights:
    """Pick ``weight_ih{suffix}`` etc. out of ``named_parameters()`` and split them into gates."""
    kind, hidden = spec.kind.value, spec.hidden_size

    def split(role: str) -> dict[str, Tensor]:
        return split_gates(kind, role, weights[role + suffix], hidden)

    return DirectionWeights(
        w_i=split("weight_ih"),
        w_h=split("weight_hh"),
        b_i=split("bias_ih") if spec.bias else None,
        b_h=split("bias_hh") if spec.bias else None,
        w_hr=weights.get("weight_hr" + suffix),
    )


def _affine(x: Tensor, weight: Tensor, bias: dict[str, Tensor] | None, gate: str) -> Tensor:
    """x·Wᵀ (+ b): the batched form of W·x_t + b."""
    product = x @ weight.T  # (N, in)·(in, H_cell) → (N, H_cell)
    return product if bias is None else product + bias[gate]


def _from_input(x: Tensor, w: DirectionWeights, gate: str) -> Tensor:
    """W_i{gate}·x_t + b_i{gate}, (N, H_cell)."""
    return _affine(x, w.w_i[gate], w.b_i, gate)


def _from_state(h: Tensor, w: DirectionWeights, gate: str) -> Tensor:
    """W_h{gate}·h_(t−1) + b_h{gate}, (N, H_cell)."""
    return _affine(h, w.w_h[gate], w.b_h, gate)


def rnn_step(x: Tensor, h: Tensor, w: DirectionWeights, nonlinearity: str) -> Tensor:
    """h_t = tanh or relu(W_ih·x_t + b_ih + W_hh·h_(t−1) + b_hh), (N, H_cell)."""
    total = _from_input(x, w, "h") + _from_state(h, w, "h")  # (N, H_cell)
    return torch.relu(total) if nonlinearity == "relu" else torch.tanh(total)


def lstm_gates(x: Tensor, h: Tensor, w: DirectionWeights) -> dict[str, Tensor]:
    """The four LSTM gates of one step, after their sigmoid (i, f, o) or tanh (g), (N, H_cell) each."""
    return {
        "i": torch.sigmoid(_from_input(x, w, "i") + _from_state(h, w, "i")),
        "f": torch.sigmoid(_from_input(x, w, "f") + _from_state(h, w, "f")),
        "g": torch.tanh(_from_input(x, w, "g") + _from_state(h, w, "g")),
        "o": torch.sigmoid(_from_input(x, w, "o") + _from_state(h, w, "o")),
    }


def lstm_step(c: Tensor, gates: dict[str, Tensor], w: DirectionWeights) -> tuple[Tensor, Tensor]:
    """One LSTM step from its gates: returns h_t (N, H_out) and c_t (N, H_cell)."""
    c_t = gates["f"] * c + gates["i"] * gates["g"]  # (N, H_cell)
    h_t = gates["o"] * torch.tanh(c_t)  # (N, H_cell)
    if w.w_hr is not None:
        h_t = h_t @ w.w_hr.T  # (N, H_cell)·(H_cell, H_out) → (N, H_out)
    return h_t, c_t


def gru_gates(x: Tensor, h: Tensor, w: DirectionWeights) -> dict[str, Tensor]:
    """The three GRU gates of one step, with r applied to (W_hn·h + b_hn) as PyTorch does:
    r and z after their sigmoid, n after its tanh, (N, H_cell) each."""
    r = torch.sigmoid(_from_input(x, w, "r") + _from_state(h, w, "r"))  # (N, H_cell)
    z = torch.sigmoid(_from_input(x, w, "z") + _from_state(h, w, "z"))  # (N, H_cell)
    n = torch.tanh(_from_input(x, w, "n") + r * _from_state(h, w, "n"))  # (N, H_cell)
    return {"r": r, "z": z, "n": n}


def gru_step(h: Tensor, gates: dict[str, Tensor]) -> Tensor:
    """One GRU step from its gates: h_t (N, H_cell)."""
    return (1 - gates["z"]) * gates["n"] + gates["z"] * h  # (N, H_cell)


def _step(
    spec: LayerSpec, x: Tensor, h: Tensor, c: Tensor, w: DirectionWeights
) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """One step of any kind, and its gates (none for RNN). RNN and GRU have no cell state:
    their c rides along unchanged, so that one loop serves all three kinds."""
    if spec.kind is Kind.lstm:
        gates = lstm_gates(x, h, w)
        return (*lstm_step(c, gates, w), gates)
    if spec.kind is Kind.gru:
        gates = gru_gates(x, h, w)
        return gru_step(h, gates), c, gates
    return rnn_step(x, h, w, spec.nonlinearity), c, {}


def run_direction(
    spec: LayerSpec,
    xs: Tensor,
    h: Tensor,
    c: Tensor,
    w: DirectionWeights,
    reverse: bool,
    valid: Tensor | None,
    on_gates: Callable[[int, dict[str, Tensor]], None] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Run one layer in one direction over xs (L, N, in_k) from h (N, H_out) and c (N, H_cell).

    ``valid`` (L, N) marks each sequence's real steps (``--lengths``): outside them the state
    is left as it is and the output is zero, so the forward direction ends at each sequence's
    own last valid step and the reverse direction starts there and ends at step 0.
    ``on_gates`` is called with (t, that step's gates) at every step, valid or not.

    Returns:
        the outputs (L, N, H_out) in time order, the final h (N, H_out) and c (N, H_cell).
    """
    steps = range(xs.shape[0] - 1, -1, -1) if reverse else range(xs.shape[0])
    outputs: list[Tensor] = []
    for t in steps:
        h_next, c_next, gates = _step(spec, xs[t], h, c, w)  # (N, H_out), (N, H_cell)
        if on_gates is not None:
            on_gates(t, gates)
        if valid is not None:
            keep = valid[t][:, None]  # (N, 1)
            h_next = torch.where(keep, h_next, h)
            c_next = torch.where(keep, c_next, c)
            outputs.append(torch.where(keep, h_next, torch.zeros_like(h_next)))
        else:
            outputs.append(h_next)
        h, c = h_next, c_next
    if reverse:
        outputs.reverse()
    return torch.stack(outputs), h, c  # (L, N, H_out)


def reference_forward(
    spec: LayerSpec,
    weights: Mapping[str, Tensor],
    inputs: Mapping[str, Tensor],
    on_gates: GateObserver | None = None,
) -> dict[str, Tensor]:
    """Recompute a forward pass from the module's weights, in the dtype and device given.

    Args:
        spec: the layer the weights belong to.
        weights: ``dict(module.named_parameters())``, already cast (float64 for ``verify``).
        inputs: ``input`` and, unless ``--no-initial-state``, ``h_0`` (and ``c_0``), in the
            caller's layout (batch-first, unbatched), as ``build.make_inputs`` makes them.
        on_gates: called with every step's gates (``activity`` counts them); a cell's one step
            is layer 0, direction 0, t = 0.

    Returns:
        the tensors the module returns, by the names ``probe`` uses: ``output`` (or
        ``output_padded`` with ``--lengths``, padded to the longest sequence), ``h_n`` and
        ``c_n``; for cells ``h_1`` and ``c_1``.
    """
    if spec.cell:
        return _cell_forward(spec, weights, inputs, on_gates)
    x = inputs["input"]
    if spec.unbatched:
        x = x[:, None]  # (L, H_in) → (L, 1, H_in)
    elif spec.batch_first:
        x = x.transpose(0, 1)  # (N, L, H_in) → (L, N, H_in)
    steps, batch = x.shape[0], x.shape[1]
    h_0 = _initial_state(spec, inputs, "h_0", batch, spec.h_out, x)  # (D·num_layers, N, H_out)
    c_0 = _initial_state(spec, inputs, "c_0", batch, spec.hidden_size, x)  # (D·num_layers, N, H_cell)
    valid = None
    if spec.lengths is not None:
        lengths = torch.tensor(spec.lengths, device=x.device)
        valid = torch.arange(steps, device=x.device)[:, None] < lengths[None, :]  # (L, N)
    layer_input = x  # (L, N, in_k)
    h_finals: list[Tensor] = []
    c_finals: list[Tensor] = []
    for layer in range(spec.num_layers):
        outputs = []
        for direction in range(spec.directions):
            index = layer * spec.directions + direction
            suffix = parameter_suffix(layer, reverse=direction == 1)
            w = direction_weights(spec, weights, suffix)
            observe = None
            if on_gates is not None:
                observe = functools.partial(on_gates, layer, direction)
            output, h_n, c_n = run_direction(
                spec,
                layer_input,
                h_0[index],
                c_0[index],
                w,
                reverse=direction == 1,
                valid=valid,
                on_gates=observe,
            )
            outputs.append(output)  # (L, N, H_out)
            h_finals.append(h_n)  # (N, H_out)
            c_finals.append(c_n)  # (N, H_cell)
        layer_input = torch.cat(outputs, dim=2)  # (L, N, D·H_out), forward then reverse
    output = layer_input  # (L, N, D·H_out)
    output_name = "output"
    if spec.lengths is not None:
        output_name, output = "output_padded", output[: max(spec.lengths)]  # padded to the longest
    if spec.batch_first and not spec.unbatched:  # batch-first leaves unbatched input as it is
        output = output.transpose(0, 1)  # (L, N, D·H_out) → (N, L, D·H_out)
    result = {output_name: output, "h_n": torch.stack(h_finals)}  # h_n: (D·num_layers, N, H_out)
    if spec.has_cell_state:
        result["c_n"] = torch.stack(c_finals)  # (D·num_layers, N, H_cell)
    if spec.unbatched:
        # output (L, 1, ·) → (L, ·); states (D·num_layers, 1, ·) → (D·num_layers, ·)
        return {name: tensor.squeeze(1) for name, tensor in result.items()}
    return result


def _initial_state(
    spec: LayerSpec, inputs: Mapping[str, Tensor], name: str, batch: int, width: int, like: Tensor
) -> Tensor:
    """h_0 or c_0 as (D·num_layers, N, width); zeros where none was given (as PyTorch does)."""
    if name not in inputs:
        return like.new_zeros(spec.directions * spec.num_layers, batch, width)
    given = inputs[name]
    return given[:, None] if spec.unbatched else given  # (D·num_layers, H) → (D·num_layers, 1, H)


def _cell_forward(
    spec: LayerSpec,
    weights: Mapping[str, Tensor],
    inputs: Mapping[str, Tensor],
    on_gates: GateObserver | None,
) -> dict[str, Tensor]:
    """One step of an RNNCell / LSTMCell / GRUCell: h_1 (and c_1), (N, H_cell) or (H_cell,)."""
    x = inputs["input"]
    if spec.unbatched:
        x = x[None]  # (H_in,) → (1, H_in)
    zeros = x.new_zeros(x.shape[0], spec.hidden_size)  # (N, H_cell)
    h = inputs["h_0"].reshape(zeros.shape) if "h_0" in inputs else zeros  # (N, H_cell)
    c = inputs["c_0"].reshape(zeros.shape) if "c_0" in inputs else zeros  # (N, H_cell)
    h_1, c_1, gates = _step(spec, x, h, c, direction_weights(spec, weights, ""))  # (N, H_cell) each
    if on_gates is not None:
        on_gates(0, 0, 0, gates)
    result = {"h_1": h_1, "c_1": c_1} if spec.has_cell_state else {"h_1": h_1}
    if spec.unbatched:
        return {name: tensor[0] for name, tensor in result.items()}  # (1, H_cell) → (H_cell,)
    return result
