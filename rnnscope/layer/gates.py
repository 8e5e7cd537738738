"""How each weight's rows split into gate blocks: the one source for every view.

PyTorch stacks the gates of a layer along the rows of ``weight_ih``, ``weight_hh`` and the
biases, in the order its docstrings give: LSTM i | f | g | o, GRU r | z | n, RNN one block.
``weight_hr`` (LSTM projections) is a single (H_out, H_cell) block. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnscope.plain import Plain

# (symbol, meaning) per gate, in PyTorch's row order.
GATES: dict[str, tuple[tuple[str, str], ...]] = {
    "rnn": (("h", "hidden"),),
    "lstm": (("i", "input gate"), ("f", "forget gate"), ("g", "cell candidate"), ("o", "output gate")),
    "gru": (("r", "reset gate"), ("z", "update gate"), ("n", "new gate")),
}
# The gates that pass through a sigmoid, so that 0 is shut and 1 open (g, n and RNN's h are tanh).
SIGMOID_GATES: dict[str, tuple[str, ...]] = {"rnn": (), "lstm": ("i", "f", "o"), "gru": ("r", "z")}
PROJECTION = ("r", "projection")


@dataclass(frozen=True)
class GateBlock(Plain):
    """Rows ``start:stop`` of a parameter belong to one gate; ``symbol`` names the matrix."""

    computed = ("rows",)
    internal = ("start", "stop")  # as "rows"

    gate: str
    meaning: str
    symbol: str  # W_ii, W_hf, b_in, W_hr ...
    start: int
    stop: int

    @property
    def rows(self) -> tuple[int, int]:
        return self.start, self.stop


def gate_count(kind: str) -> int:
    """G: the number of gate blocks, 1 for RNN, 3 for GRU, 4 for LSTM."""
    return len(GATES[kind])


def gate_blocks(kind: str, role: str, hidden_size: int, proj_size: int = 0) -> list[GateBlock]:
    """The row blocks of one parameter.

    Args:
        kind: ``rnn``, ``lstm`` or ``gru``.
        role: ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` or ``weight_hr``.
        hidden_size: H_cell, the rows of each gate block.
        proj_size: the rows of ``weight_hr``.
    """
    if role == "weight_hr":
        # (H_out, H_cell): one block whose rows are the projected features.
        gate, meaning = PROJECTION
        return [GateBlock(gate, meaning, "W_hr", 0, proj_size)]
    letter = "W" if role.startswith("weight") else "b"
    source = role.split("_")[1][0]  # i for *_ih, h for *_hh
    return [
        GateBlock(gate, meaning, f"{letter}_{source}{gate}", index * hidden_size, (index + 1) * hidden_size)
        for index, (gate, meaning) in enumerate(GATES[kind])
    ]


def gate_meaning(kind: str, gate: str) -> str:
    """``forget gate`` for (``lstm``, ``f``)."""
    return dict(GATES[kind])[gate]


def gate_split(kind: str, role: str) -> str:
    """``i|f|g|o`` for a gated parameter, ``r`` (projection) for weight_hr."""
    if role == "weight_hr":
        return PROJECTION[0]
    return "|".join(gate for gate, _ in GATES[kind])
