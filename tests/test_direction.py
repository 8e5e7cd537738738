"""One vocabulary for directions: the names, the short labels and PyTorch's parameter suffixes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rnnscope.layer.direction import DIRECTIONS, direction, parameter_suffix, short
from rnnscope.layer.shapes import expected_parameters
from rnnscope.layer.spec import Kind
from rnnscope.layer.validation import make_spec


def test_the_names_follow_pytorchs_direction_number() -> None:
    assert DIRECTIONS == (direction(False), direction(True)) == ("forward", "reverse")
    assert [short(name) for name in DIRECTIONS] == ["fwd", "rev"]


@given(
    kind=st.sampled_from(list(Kind)),
    layers=st.integers(1, 4),
    bidirectional=st.booleans(),
    cell=st.booleans(),
)
def test_the_spec_names_its_directions_layers_and_parameters_alike(
    kind: Kind, layers: int, bidirectional: bool, cell: bool
) -> None:
    stack = {} if cell else {"num_layers": layers, "bidirectional": bidirectional}
    spec = make_spec(kind, cell=cell, **stack)
    assert spec.direction_names == DIRECTIONS[: spec.directions]
    assert spec.stacked_layers == (1 if cell else layers)
    for formula in expected_parameters(spec):
        suffix = parameter_suffix(formula.layer, formula.reverse, cell=cell)
        assert formula.name == formula.role + suffix
    assert parameter_suffix(3, True) == "_l3_reverse"
