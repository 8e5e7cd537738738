"""Which slice of ``output`` each row of h_n / c_n equals: the formulas, then torch's tensors."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given, settings

from rnnscope import Kind, LayerSpec, inspect, make_spec
from rnnscope.execution import probe as probe_module
from rnnscope.execution.probe import probe
from rnnscope.execution.runtime import torch
from rnnscope.layer.states import StateSlot, parse_index, state_slots
from rnnscope.render import verify_view
from rnnscope.verification import verify
from tests.helpers import rendered, run_cli, run_json
from tests.test_properties import layer_specs

SMALL = ("-i", "5", "-H", "7", "-L", "6", "-N", "3")
ROW_KEYS = {"tensor", "index", "layer", "direction", "sequence", "equals", "reason", "max_abs_diff", "ok"}


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


@settings(max_examples=25, deadline=None)
@given(layer_specs())
def test_inspect_checks_exactly_the_states_in_the_output(spec: LayerSpec) -> None:
    report = inspect(spec)
    assert [row.slot for row in report.states] == state_slots(spec)
    for row in report.states:
        if row.slot.equals is None:
            assert row.ok is None and row.max_abs_diff is None
        else:
            assert row.ok is True and row.max_abs_diff == 0.0  # CPU: the same numbers, not close ones
    assert report.ok


def test_states_json_rows_follow_the_contract() -> None:
    document = run_json("inspect", "lstm", "--layers", "2", "--bidirectional", *SMALL)
    rows = document["states"]
    assert all(set(row) >= ROW_KEYS for row in rows)
    assert [(row["tensor"], row["index"]) for row in rows] == [("h_n", i) for i in range(4)] + [
        ("c_n", i) for i in range(4)
    ]
    checked = [row for row in rows if row["equals"] is not None]
    assert [(row["equals"], row["max_abs_diff"], row["ok"]) for row in checked] == [
        ("output[-1, :, 0:7]", 0.0, True),
        ("output[0, :, 7:14]", 0.0, True),
    ]
    assert all(row["reason"] and row["ok"] is None for row in rows if row["equals"] is None)
    assert any("view(2, 2, 3, 7)" in note for note in document["state_notes"])


def test_verify_carries_the_same_rows() -> None:
    document = run_json("verify", "gru", "--bidirectional", "--batch-first", *SMALL)
    assert [(row["equals"], row["ok"]) for row in document["states"]] == [
        ("output[:, -1, 0:7]", True),
        ("output[:, 0, 7:14]", True),
    ]
    assert document["ok"] is True


_real_forward = probe_module._forward


def _shift_h_n_back_one_step(result: probe_module.Probe) -> None:
    """A planted fault: h_n taken one step before the end (output[-2]) instead of the last step."""
    _real_forward(result)
    result.outputs["h_n"] = result.outputs["output"][-2].unsqueeze(0)  # (1, N, H_out)


def test_a_state_shifted_by_one_step_fails_inspect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "_forward", _shift_h_n_back_one_step)
    document = run_json("inspect", "rnn", *SMALL, exit_code=1)
    assert document["ok"] is False
    assert all(row["ok"] is not False for row in document["tensors"])  # the shapes are all right
    (row,) = document["states"]
    assert row["ok"] is False and row["max_abs_diff"] > 1e-3
    result = run_cli("inspect", "rnn", *SMALL)
    assert result.exit_code == 1
    assert "✗ differs from its slice of the output: h_n[0]" in result.stdout


def test_a_state_shifted_by_one_step_fails_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "_forward", _shift_h_n_back_one_step)
    document = run_json("verify", "rnn", *SMALL, exit_code=1)
    assert [row["ok"] for row in document["states"]] == [False]
    result = run_cli("verify", "rnn", *SMALL)
    assert "✗ differs from its slice of the output: h_n[0]" in result.stdout


def test_h_n_taken_at_the_padded_end_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The classic packed mistake, planted: every sequence's state read at L − 1 of the padding."""

    def padded_end(result: probe_module.Probe) -> None:
        _real_forward(result)
        result.outputs["h_n"] = result.outputs["output_padded"][-1].unsqueeze(0)  # (1, N, H_out)

    monkeypatch.setattr(probe_module, "_forward", padded_end)
    document = run_json("inspect", "gru", "--lengths", "5,2,4", "-L", "5", "-H", "7", exit_code=1)
    by_sequence = {row["sequence"]: row["ok"] for row in document["states"]}
    assert by_sequence == {0: True, 1: False, 2: False}  # only the longest one ends at L − 1


def test_a_state_with_rows_missing_is_a_failed_check_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def first_row_only(result: probe_module.Probe) -> None:
        _real_forward(result)
        result.outputs["h_n"] = result.outputs["h_n"][:1]  # (1, N, H_out) of (2, N, H_out)

    monkeypatch.setattr(probe_module, "_forward", first_row_only)
    document = run_json("inspect", "rnn", "--layers", "2", *SMALL, exit_code=1)
    assert [row["name"] for row in document["tensors"] if row["ok"] is False] == ["h_n"]
    assert document["states"][1]["detail"] == "h_n[1] or output[-1, :, 0:7] is out of range"
    assert document["states"][1]["ok"] is False


def test_meta_shows_the_expressions_without_checking() -> None:
    for args in (("--seq-len", "2"), ("--seq-len", "500", "--layers", "2")):
        document = run_json("inspect", "lstm", "--device", "meta", *args)
        checked = [row for row in document["states"] if row["equals"] is not None]
        assert [row["equals"] for row in checked] == ["output[-1, :, 0:20]"]
        assert all(row["max_abs_diff"] is None and row["ok"] is None for row in document["states"])
        assert document["state_notes"][-1].startswith("not checked on meta: ")
        assert document["ok"] is True


def test_notes_explain_batch_first_lengths_and_cells() -> None:
    batch_first = run_json("inspect", "lstm", "--batch-first", *SMALL)["state_notes"]
    assert any("--batch-first lays out input and output as (N, L, ·) only" in note for note in batch_first)
    assert not any("--batch-first" in note for note in run_json("inspect", "lstm", *SMALL)["state_notes"])
    packed = run_json("inspect", "rnn", "--lengths", "2,5", "-L", "5")["state_notes"]
    assert any("not at L − 1 (sequence 0, length 2: step 1)" in note for note in packed)
    assert any("PyTorch's own default is True" in note and "unsorted_indices" in note for note in packed)
    cell = run_json("inspect", "gru", "--cell")
    assert [(row["tensor"], row["index"], row["reason"]) for row in cell["states"]] == [
        ("h_1", None, "a cell returns its state and has no separate output")
    ]
    assert "its weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0 are this cell's" in cell["state_notes"][0]


def test_verify_view_shows_the_states_in_80_columns() -> None:
    text = rendered(verify_view(verify(make_spec(Kind.lstm, num_layers=2, seq_len=4, batch=2))))
    assert "h_n[1]  1 fwd  output[-1, :, 0:20]" in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_the_states_module_does_not_import_torch() -> None:
    code = "import sys, rnnscope.layer.states; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_states_equal_their_slices_on_cuda() -> None:
    """cuDNN writes h_n and output from the same values: each check passes within float noise."""
    specs = [
        make_spec(Kind.lstm, num_layers=2, bidirectional=True, proj_size=5, batch_first=True),
        make_spec(Kind.gru, bidirectional=True, lengths=(5, 2, 4), seq_len=5),
    ]
    for spec in specs:
        for dtype in ("float32", "float16"):
            report = inspect(spec, device="cuda", dtype=dtype)
            checked = [row for row in report.states if row.ok is not None]
            assert checked and all(row.ok for row in checked), [row.to_dict() for row in checked]
