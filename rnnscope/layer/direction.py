"""A layer's directions, in one vocabulary for every module. No torch here.

PyTorch numbers them 0 (forward) and 1 (reverse): the direction axis of
``h_n.view(num_layers, D, N, H_out)``, and the ``_reverse`` in a parameter's name. The JSON says
``"forward"`` / ``"reverse"``; tables and check names abbreviate them ``fwd`` / ``rev``.
"""

from __future__ import annotations

from typing import Literal

Direction = Literal["forward", "reverse"]
DIRECTIONS: tuple[Direction, Direction] = ("forward", "reverse")  # index = PyTorch's direction number
_SHORT: dict[str, str] = {"forward": "fwd", "reverse": "rev"}


def direction(reverse: bool) -> Direction:
    return "reverse" if reverse else "forward"


def short(direction: str) -> str:
    """``fwd`` or ``rev``, as tables and check names write a direction."""
    return _SHORT[direction]


def parameter_suffix(layer: int, reverse: bool, cell: bool = False) -> str:
    """What PyTorch appends to a stacked layer's parameter names: ``_l1``, ``_l1_reverse``; a
    cell's names (``weight_ih``) carry none."""
    if cell:
        return ""
    return f"_l{layer}" + ("_reverse" if reverse else "")
