"""Property tests over random configurations: the formulas agree with what torch builds and runs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnscope import Kind, LayerSpec, inspect, make_spec
from rnnscope.execution.build import build_module
from rnnscope.execution.runtime import torch
from rnnscope.layer.command_line import spec_flags
from rnnscope.layer.cost import total_parameters
from rnnscope.layer.shapes import expected_batch_sizes, expected_parameters
from tests.helpers import run_json


@st.composite
def layer_specs(draw: st.DrawFn, packed: bool | None = None) -> LayerSpec:
    """Any valid configuration, small enough to run in milliseconds."""
    kind = draw(st.sampled_from(list(Kind)))
    hidden = draw(st.integers(2, 12))
    cell = draw(st.booleans()) if packed is not True else False
    unbatched = draw(st.booleans()) if packed is not True else False
    use_lengths = (not cell and not unbatched and draw(st.booleans())) if packed is None else packed
    seq_len = draw(st.integers(1, 6))
    lengths = None
    if use_lengths:
        lengths = tuple(draw(st.lists(st.integers(1, seq_len), min_size=1, max_size=5)))
    enforce_sorted = lengths is not None and draw(st.booleans())
    if enforce_sorted and lengths is not None:
        lengths = tuple(sorted(lengths, reverse=True))
    return make_spec(
        kind,
        cell=cell,
        input_size=draw(st.integers(1, 9)),
        hidden_size=hidden,
        num_layers=1 if cell else draw(st.integers(1, 3)),
        bias=draw(st.booleans()),
        batch_first=False if cell else draw(st.booleans()),
        dropout=0.0 if cell else draw(st.sampled_from([0.0, 0.25])),
        bidirectional=False if cell else draw(st.booleans()),
        proj_size=draw(st.integers(0, hidden - 1)) if kind is Kind.lstm and not cell else 0,
        nonlinearity=draw(st.sampled_from(["tanh", "relu"])) if kind is Kind.rnn else None,
        seq_len=None if cell else seq_len,
        batch=None if unbatched or lengths is not None else draw(st.integers(1, 4)),
        unbatched=unbatched,
        lengths=lengths,
        enforce_sorted=enforce_sorted,
        initial_state=draw(st.booleans()),
    )


@settings(max_examples=60, deadline=None)
@given(layer_specs())
def test_every_expected_shape_equals_the_actual_one(spec: LayerSpec) -> None:
    report = inspect(spec)
    for row in report.tensors:
        if row.shape is not None:
            assert row.shape == row.expected, row.name
    assert report.ok


@pytest.mark.filterwarnings("ignore:dropout option adds dropout")
@settings(max_examples=80, deadline=None)
@given(layer_specs())
def test_parameter_formula_equals_torch(spec: LayerSpec) -> None:
    module = build_module(spec, torch.device("meta"), torch.float32)
    actual = [(name, tuple(p.shape)) for name, p in module.named_parameters()]
    assert actual == [(p.name, p.shape) for p in expected_parameters(spec)]
    assert total_parameters(spec) == sum(p.numel() for p in module.parameters())
    assert total_parameters(spec) == sum(math.prod(shape) for _, shape in actual)


@settings(max_examples=40, deadline=None)
@given(layer_specs(packed=True))
def test_packed_batch_sizes_follow_the_lengths(spec: LayerSpec) -> None:
    assert spec.lengths is not None
    report = inspect(spec)
    rows = {row.name: row for row in report.tensors}
    assert rows["packed_input.batch_sizes"].values == expected_batch_sizes(spec.lengths)
    assert rows["packed_input.data"].shape == (sum(spec.lengths), spec.input_size)
    assert report.ok


@settings(max_examples=30, deadline=None)
@given(layer_specs())
def test_spec_flags_typed_on_the_command_line_give_the_spec_back(spec: LayerSpec) -> None:
    document = run_json("inspect", spec.kind.value, *spec_flags(spec))
    assert document["config"] == spec.config()
