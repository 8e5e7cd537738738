"""Which slice of ``output`` each row of h_n / c_n equals: the formulas, then torch's tensors."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings

from rnnscope import Kind, LayerSpec, make_spec
from rnnscope.probe import probe
from rnnscope.states import StateSlot, parse_index, state_slots
from tests.test_properties import layer_specs


def _equals(spec: LayerSpec) -> dict[str, str | None]:
    return {slot.state_expression: slot.equals for slot in state_slots(spec)}


def test_two_bidirectional_layers_name_the_last_layer_only() -> None:
    spec = make_spec(Kind.lstm, num_layers=2, bidirectional=True)
    assert _equals(spec) == {
        "h_n[0]": None,
        "h_n[1]": None,
        "h_n[2]": "output[-1, :, 0:20]",
        "h_n[3]": "output[0, :, 20:40]",
        "c_n[0]": None,
        "c_n[1]": None,
        "c_n[2]": None,
        "c_n[3]": None,
    }
    reasons = {slot.state_expression: slot.reason for slot in state_slots(spec)}
    assert reasons["h_n[1]"] == "a lower layer: output holds layer 1's h_t only"
    assert reasons["c_n[3]"] == "the cell state c_t: output holds h_t only"


def test_batch_first_moves_the_batch_axis_of_output_only() -> None:
    spec = make_spec(Kind.gru, bidirectional=True, batch_first=True, hidden_size=8)
    assert _equals(spec) == {"h_n[0]": "output[:, -1, 0:8]", "h_n[1]": "output[:, 0, 8:16]"}


def test_unbatched_output_has_no_batch_axis() -> None:
    spec = make_spec(Kind.rnn, unbatched=True, bidirectional=True)
    assert _equals(spec) == {"h_n[0]": "output[-1, 0:20]", "h_n[1]": "output[0, 20:40]"}


def test_projection_narrows_the_features_to_proj_size() -> None:
    spec = make_spec(Kind.lstm, bidirectional=True, proj_size=5)
    assert _equals(spec)["h_n[1]"] == "output[0, :, 5:10]"


def test_lengths_index_each_sequence_at_its_own_last_step() -> None:
    spec = make_spec(Kind.rnn, lengths=(2, 7, 5), seq_len=7, bidirectional=True)
    assert _equals(spec) == {
        "h_n[0, 0]": "output_padded[1, 0, 0:20]",
        "h_n[0, 1]": "output_padded[6, 1, 0:20]",
        "h_n[0, 2]": "output_padded[4, 2, 0:20]",
        "h_n[1, 0]": "output_padded[0, 0, 20:40]",
        "h_n[1, 1]": "output_padded[0, 1, 20:40]",
        "h_n[1, 2]": "output_padded[0, 2, 20:40]",
    }
    batch_first = make_spec(Kind.rnn, lengths=(2, 7), seq_len=7, batch_first=True)
    assert _equals(batch_first)["h_n[0, 0]"] == "output_padded[0, 1, 0:20]"


def test_a_cell_returns_its_state_and_nothing_else() -> None:
    slots = state_slots(make_spec(Kind.lstm, cell=True))
    reason = "a cell returns its state and has no separate output"
    assert slots == [
        StateSlot("h_1", None, 0, "forward", None, None, reason),
        StateSlot("c_1", None, 0, "forward", None, None, reason),
    ]
    assert [slot.state_expression for slot in slots] == ["h_1", "c_1"]


def test_parse_index_reads_our_expressions_without_eval() -> None:
    assert parse_index("output[-1, :, 0:20]") == ("output", (-1, slice(None), slice(0, 20)))
    assert parse_index("output_padded[4, 2, 20:40]") == ("output_padded", (4, 2, slice(20, 40)))
    for text in ("output[__import__('os')]", "output[1:2:3]", "output", "output[-1][0]", "output[a]"):
        with pytest.raises(ValueError):
            parse_index(text)


@settings(max_examples=40, deadline=None)
@given(layer_specs())
def test_every_row_of_every_state_appears_once(spec: LayerSpec) -> None:
    slots = state_slots(spec)
    names = ("h", "c") if spec.has_cell_state else ("h",)
    if spec.cell:
        assert [slot.tensor for slot in slots] == [f"{name}_1" for name in names]
        return
    rows = spec.num_layers * spec.directions
    sequences = list(range(spec.batch)) if spec.lengths is not None else [None]
    expected = Counter((f"{name}_n", row, s) for name in names for row in range(rows) for s in sequences)
    assert Counter((slot.tensor, slot.index, slot.sequence) for slot in slots) == expected
    for slot in slots:
        assert slot.index == slot.layer * spec.directions + ("forward", "reverse").index(slot.direction)
        in_output = slot.tensor == "h_n" and slot.layer == spec.num_layers - 1
        assert (slot.equals is not None) == in_output
        assert (slot.reason is None) == in_output


@settings(max_examples=30, deadline=None)
@given(layer_specs())
def test_each_expression_gives_exactly_its_state_on_torch_tensors(spec: LayerSpec) -> None:
    outputs = probe(spec).outputs
    for slot in state_slots(spec):
        if slot.equals is None:
            continue
        name, index = parse_index(slot.equals)
        state = outputs[slot.tensor][slot.index]
        if slot.sequence is not None:
            state = state[slot.sequence]
        assert outputs[name][index].equal(state), (slot, spec)
