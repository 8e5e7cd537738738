"""The documented shapes: every tensor and parameter of a layer, from the formulas in PyTorch's
``torch/nn/modules/rnn.py`` docstrings.

This is the "expected" side of every comparison: computed from the spec, never read back from
torch. Symbols as in :mod:`rnnscope.layer.spec`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnscope.layer.direction import parameter_suffix
from rnnscope.layer.gates import gate_count
from rnnscope.layer.spec import LayerSpec, Shape


@dataclass(frozen=True)
class TensorFormula:
    """A tensor's documented shape: the formula in PyTorch's symbols and its value."""

    name: str
    formula: str
    shape: Shape


@dataclass(frozen=True)
class ParameterFormula:
    name: str
    layer: int
    reverse: bool
    role: str  # weight_ih, weight_hh, bias_ih, bias_hh or weight_hr
    formula: str
    shape: Shape


def symbols(spec: LayerSpec) -> dict[str, int]:
    """The docstring symbols and their values for this spec."""
    values = {"H_in": spec.input_size, "H_cell": spec.hidden_size, "H_out": spec.h_out}
    if spec.cell:
        return ({} if spec.unbatched else {"N": spec.batch}) | values
    values = {"L": spec.seq_len} | ({} if spec.unbatched else {"N": spec.batch}) | values
    return values | {"D": spec.directions, "num_layers": spec.num_layers}


def expected_tensors(spec: LayerSpec) -> list[TensorFormula]:
    """Every tensor of a forward pass with its documented shape, in the order it is shown."""
    if spec.cell:
        return _cell_tensors(spec)
    n, length, d, layers = spec.batch, spec.seq_len, spec.directions, spec.num_layers
    state_names = ("h", "c") if spec.has_cell_state else ("h",)

    def state(prefix: str, suffix: str) -> TensorFormula:
        width, symbol = (spec.hidden_size, "H_cell") if prefix == "c" else (spec.h_out, "H_out")
        if spec.unbatched:
            return TensorFormula(f"{prefix}_{suffix}", f"(D·num_layers, {symbol})", (d * layers, width))
        return TensorFormula(f"{prefix}_{suffix}", f"(D·num_layers, N, {symbol})", (d * layers, n, width))

    def sequence(name: str, steps: str, steps_value: int, feature: str, width: int) -> TensorFormula:
        if spec.unbatched:
            return TensorFormula(name, f"({steps}, {feature})", (steps_value, width))
        if spec.batch_first:
            return TensorFormula(name, f"(N, {steps}, {feature})", (n, steps_value, width))
        return TensorFormula(name, f"({steps}, N, {feature})", (steps_value, n, width))

    tensors = [sequence("input", "L", length, "H_in", spec.input_size)]
    tensors += [state(prefix, "0") for prefix in state_names]
    out_width = d * spec.h_out
    if spec.lengths is None:
        tensors.append(sequence("output", "L", length, "D·H_out", out_width))
    else:
        total, longest = sum(spec.lengths), max(spec.lengths)
        tensors += [
            TensorFormula("packed_input.data", "(sum(lengths), H_in)", (total, spec.input_size)),
            TensorFormula("packed_input.batch_sizes", "(max(lengths),)", (longest,)),
        ]
        if not spec.enforce_sorted:  # sorted input needs no permutation: PyTorch keeps None
            tensors += [
                TensorFormula("packed_input.sorted_indices", "(N,)", (n,)),
                TensorFormula("packed_input.unsorted_indices", "(N,)", (n,)),
            ]
        tensors += [
            TensorFormula("packed_output.data", "(sum(lengths), D·H_out)", (total, out_width)),
            sequence("output_padded", "max(lengths)", longest, "D·H_out", out_width),
        ]
    tensors += [state(prefix, "n") for prefix in state_names]
    return tensors


def _cell_tensors(spec: LayerSpec) -> list[TensorFormula]:
    batch = () if spec.unbatched else (spec.batch,)

    def formula(feature: str) -> str:  # unbatched: a 1-tuple, written as format_shape writes it
        return f"({feature},)" if spec.unbatched else f"(N, {feature})"

    tensors = [TensorFormula("input", formula("H_in"), (*batch, spec.input_size))]
    for step in ("0", "1"):
        tensors.append(TensorFormula(f"h_{step}", formula("H_out"), (*batch, spec.hidden_size)))
        if spec.has_cell_state:
            tensors.append(TensorFormula(f"c_{step}", formula("H_cell"), (*batch, spec.hidden_size)))
    return tensors


def expected_batch_sizes(lengths: tuple[int, ...]) -> list[int]:
    """PackedSequence.batch_sizes: at step t, the number of sequences longer than t."""
    return [sum(1 for length in lengths if length > t) for t in range(max(lengths))]


def gate_rows_formula(spec: LayerSpec) -> str:
    """The rows of the gate-stacked weights, G·H_cell, as the docstrings write it: G is 1, 3 or 4."""
    gates = gate_count(spec.kind.value)
    return f"{gates}·H_cell" if gates > 1 else "H_cell"


def expected_parameters(spec: LayerSpec) -> list[ParameterFormula]:
    """Every parameter in ``named_parameters()`` order with its documented shape.

    Per layer and direction: weight_ih (G·H_cell, in_k), weight_hh (G·H_cell, H_out),
    bias_ih and bias_hh (G·H_cell,), and for LSTM with projections weight_hr (H_out, H_cell),
    where G is 1, 3 or 4 gates and in_k is H_in for layer 0 and D·H_out after it.
    """
    rows = gate_count(spec.kind.value) * spec.hidden_size
    rows_formula = gate_rows_formula(spec)
    if spec.cell:
        roles: list[tuple[str, str, Shape]] = [
            ("weight_ih", f"({rows_formula}, H_in)", (rows, spec.input_size)),
            ("weight_hh", f"({rows_formula}, H_cell)", (rows, spec.hidden_size)),
        ]
        if spec.bias:
            roles += [
                ("bias_ih", f"({rows_formula},)", (rows,)),
                ("bias_hh", f"({rows_formula},)", (rows,)),
            ]
        return [ParameterFormula(role, 0, False, role, formula, shape) for role, formula, shape in roles]
    parameters = []
    for layer in range(spec.num_layers):
        in_formula = "H_in" if layer == 0 else "D·H_out"
        for reverse in (False, True)[: spec.directions]:
            suffix = parameter_suffix(layer, reverse)
            roles = [
                ("weight_ih", f"({rows_formula}, {in_formula})", (rows, spec.layer_input_size(layer))),
                ("weight_hh", f"({rows_formula}, H_out)", (rows, spec.h_out)),
            ]
            if spec.bias:
                roles += [
                    ("bias_ih", f"({rows_formula},)", (rows,)),
                    ("bias_hh", f"({rows_formula},)", (rows,)),
                ]
            if spec.proj_size > 0:
                roles.append(("weight_hr", "(H_out, H_cell)", (spec.proj_size, spec.hidden_size)))
            parameters += [
                ParameterFormula(role + suffix, layer, reverse, role, formula, shape)
                for role, formula, shape in roles
            ]
    return parameters


def format_shape(shape: Shape | None) -> str:
    """``(100, 32, 10)``; a 1-tuple keeps its comma as Python writes it."""
    if shape is None:
        return "—"
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(size) for size in shape) + ")"
