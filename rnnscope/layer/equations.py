"""The textbook equations of a layer with the shape of every term, and its gate-block table.

Both are written per sequence, as PyTorch's docstrings write them (x_t is one sequence's
(H_in,) vector); the batch runs N of them at once. Gate letters and matrix symbols come from
``gates.gate_blocks``, the same source as the weights' labels and the reference's slices.
No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnscope.layer.gates import GATES, gate_blocks
from rnnscope.layer.shapes import expected_parameters, format_shape
from rnnscope.layer.spec import Kind, LayerSpec, Shape
from rnnscope.plain import Plain

# Each gate's nonlinearity, in PyTorch's equations.
_ACTIVATION = {"i": "σ", "f": "σ", "g": "tanh", "o": "σ", "r": "σ", "z": "σ", "n": "tanh"}
H_PREV = "h_{t−1}"
C_PREV = "c_{t−1}"


@dataclass(frozen=True)
class Term(Plain):
    """One term of an equation and its shapes: ``W_ii·x_t`` and ``(20, 10)·(10,) → (20,)``."""

    term: str
    shapes: str


@dataclass(frozen=True)
class Equation(Plain):
    equation: str
    terms: list[Term]


@dataclass(frozen=True)
class GateRow(Plain):
    """Rows ``start:stop`` of ``parameter`` are the matrix ``symbol`` of one gate."""

    computed = ("rows",)
    internal = ("start", "stop")  # as "rows"

    parameter: str
    symbol: str
    gate: str
    meaning: str
    start: int
    stop: int
    shape: Shape

    @property
    def rows(self) -> tuple[int, int]:
        return self.start, self.stop


def _vector(size: int) -> str:
    return format_shape((size,))


def _product(rows: int, columns: int) -> str:
    """``(20, 10)·(10,) → (20,)``."""
    return f"{format_shape((rows, columns))}·{_vector(columns)} → {_vector(rows)}"


def _elementwise(size: int) -> str:
    return f"{_vector(size)} ⊙ {_vector(size)} → {_vector(size)}"


def _symbols(spec: LayerSpec, role: str) -> dict[str, str]:
    return {block.gate: block.symbol for block in gate_blocks(spec.kind.value, role, spec.hidden_size)}


def equations(spec: LayerSpec) -> list[Equation]:
    """The recurrence of this kind, one equation per gate and state, shapes filled in."""
    hidden = spec.hidden_size
    recurrent = spec.hidden_size if spec.cell else spec.h_out
    w_i, w_h = _symbols(spec, "weight_ih"), _symbols(spec, "weight_hh")
    b_i, b_h = _symbols(spec, "bias_ih"), _symbols(spec, "bias_hh")

    def pre_activation(gate: str, reset: bool = False) -> tuple[str, list[Term]]:
        """``W_i·x_t + b_i + W_h·h_{t−1} + b_h`` and its terms; GRU's n puts r ⊙ (…) on h."""
        from_input = f"{w_i[gate]}·x_t" + (f" + {b_i[gate]}" if spec.bias else "")
        from_state = f"{w_h[gate]}·{H_PREV}" + (f" + {b_h[gate]}" if spec.bias else "")
        terms = [
            Term(f"{w_i[gate]}·x_t", _product(hidden, spec.input_size)),
            Term(f"{w_h[gate]}·{H_PREV}", _product(hidden, recurrent)),
        ]
        if spec.bias:
            terms += [Term(b_i[gate], _vector(hidden)), Term(b_h[gate], _vector(hidden))]
        if reset:
            terms.append(Term(f"r_t ⊙ ({from_state})", _elementwise(hidden)))
            return f"{from_input} + r_t ⊙ ({from_state})", terms
        return f"{from_input} + {from_state}", terms

    result = []
    if spec.kind is Kind.rnn:
        text, terms = pre_activation("h")
        terms.append(Term("h_t", _vector(hidden)))
        result.append(Equation(f"h_t = {spec.nonlinearity}({text})", terms))
    else:
        for gate, _meaning in GATES[spec.kind.value]:
            text, terms = pre_activation(gate, reset=spec.kind is Kind.gru and gate == "n")
            terms.append(Term(f"{gate}_t", _vector(hidden)))
            result.append(Equation(f"{gate}_t = {_ACTIVATION[gate]}({text})", terms))
    if spec.kind is Kind.lstm:
        result += _lstm_state_equations(spec)
    if spec.kind is Kind.gru:
        result.append(
            Equation(
                f"h_t = (1 − z_t) ⊙ n_t + z_t ⊙ {H_PREV}",
                [
                    Term("(1 − z_t) ⊙ n_t", _elementwise(hidden)),
                    Term(f"z_t ⊙ {H_PREV}", _elementwise(hidden)),
                ],
            )
        )
    return result + _stacking_equations(spec)


def _lstm_state_equations(spec: LayerSpec) -> list[Equation]:
    hidden = spec.hidden_size
    cell_state = Equation(
        f"c_t = f_t ⊙ {C_PREV} + i_t ⊙ g_t",
        [Term(f"f_t ⊙ {C_PREV}", _elementwise(hidden)), Term("i_t ⊙ g_t", _elementwise(hidden))],
    )
    if spec.proj_size > 0:
        hidden_state = Equation(
            "h_t = W_hr·(o_t ⊙ tanh(c_t))",
            [
                Term("o_t ⊙ tanh(c_t)", _elementwise(hidden)),
                Term("W_hr·(o_t ⊙ tanh(c_t))", _product(spec.proj_size, hidden)),
            ],
        )
    else:
        hidden_state = Equation("h_t = o_t ⊙ tanh(c_t)", [Term("o_t ⊙ tanh(c_t)", _elementwise(hidden))])
    return [cell_state, hidden_state]


def _stacking_equations(spec: LayerSpec) -> list[Equation]:
    """How directions and layers connect: what the output holds and what layer k ≥ 1 reads."""
    if spec.cell:
        return []
    h_out, d = spec.h_out, spec.directions
    result = []
    if spec.bidirectional:
        result.append(
            Equation(
                "output_t = [h_t forward ; h_t reverse]",
                [Term("[h_t fwd ; h_t rev]", f"{_vector(h_out)} ; {_vector(h_out)} → {_vector(d * h_out)}")],
            )
        )
    if spec.num_layers > 1:
        first = next(iter(_symbols(spec, "weight_ih").values()))
        result.append(
            Equation(
                "layer k ≥ 1: x_t = output_t of layer k − 1 (dropout between layers in training)",
                [
                    Term("x_t", _vector(d * h_out)),
                    Term(f"{first}·x_t (layer ≥ 1)", _product(spec.hidden_size, d * h_out)),
                ],
            )
        )
    return result


def gate_rows(spec: LayerSpec) -> list[GateRow]:
    """The gate blocks of layer 0's parameters (and layer 1's weight_ih, whose columns differ).

    Every other layer and direction splits the same way.
    """
    rows = []
    for parameter in expected_parameters(spec):
        first_layer = parameter.layer == 0 and not parameter.reverse
        second_input = parameter.layer == 1 and not parameter.reverse and parameter.role == "weight_ih"
        if not (first_layer or second_input):
            continue
        for block in gate_blocks(spec.kind.value, parameter.role, spec.hidden_size, spec.proj_size):
            shape = (block.stop - block.start, *parameter.shape[1:])
            rows.append(
                GateRow(
                    parameter.name, block.symbol, block.gate, block.meaning, block.start, block.stop, shape
                )
            )
    return rows
