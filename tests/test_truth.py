"""Everything printed is true for the run it describes (issue 21): the sentences found wrong,
each against the run's own tensors or settings."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from rnnscope.layer.spec import Kind
from rnnscope.layer.validation import make_spec
from tests.helpers import rendered, run_cli, run_json


def test_the_batch_first_note_gives_each_state_its_own_width() -> None:
    document = run_json(
        "inspect", "lstm", "-i", "4", "-H", "8", "--proj-size", "3", "--batch-first", "-L", "2"
    )
    shapes = {row["name"]: tuple(row["shape"]) for row in document["tensors"]}
    note = next(note for note in document["state_notes"] if note.startswith("--batch-first"))
    assert f"h_0 and h_n (D·num_layers, N, H_out) = {shapes['h_n']}" in note
    assert f"c_0 and c_n (D·num_layers, N, H_cell) = {shapes['c_n']}" in note
    assert shapes["c_n"] == (1, 32, 8) and shapes["h_n"] == (1, 32, 3)


def test_dropout_is_said_once_in_rnnscope_words_the_same_in_every_command() -> None:
    one = "--dropout 0.5 does nothing here: PyTorch drops between stacked layers only"
    for command in (["inspect"], ["verify"]):
        notes = run_json(*command, "lstm", "--dropout", "0.5", "-L", "2", "-N", "1")["notes"]
        assert [note for note in notes if "dropout" in note.lower()] == [next(n for n in notes if one in n)]
    assert run_json("draw", "lstm", "--dropout", "0.5")["notes"][0].startswith(one)
    stacked = "--dropout 0.5 acts between stacked layers: on the output of layer 0 as it feeds the next layer"
    inspected = run_json("inspect", "gru", "--dropout", "0.5", "--layers", "2", "-L", "2", "-N", "1")["notes"]
    verified = run_json("verify", "gru", "--dropout", "0.5", "--layers", "2", "-L", "2", "-N", "1")["notes"]
    drawn = run_json("draw", "gru", "--dropout", "0.5", "--layers", "2")["notes"]
    assert inspected[0].startswith(stacked) and inspected[0].endswith("so it dropped")
    assert verified[0].startswith(stacked) and verified[0].endswith("so nothing was dropped")
    assert drawn[0].startswith(stacked) and drawn[0].endswith("in training mode only")


def test_with_lengths_and_no_seq_len_the_padded_length_is_the_longest() -> None:
    document = run_json("inspect", "lstm", "--lengths", "1,2")
    assert document["config"]["seq_len"] == 2
    shapes = {row["name"]: row["shape"] for row in document["tensors"]}
    assert shapes["input"] == [2, 2, 10] and shapes["output_padded"] == [2, 2, 20]
    assert "L × N = 2 × 2 = 4 in the padded input: run unpacked, 25% of the work" in document["notes"][0]
    meta = run_json("inspect", "gru", "--device", "meta", "--lengths", "3,2", "--layers", "2")
    assert meta["forward"] == "ran" and meta["config"]["seq_len"] == 3
    explicit = run_json("inspect", "lstm", "--lengths", "1,2", "--seq-len", "4")
    assert explicit["config"]["seq_len"] == 4
    assert run_json("compare", "--lengths", "3,2")["config"]["seq_len"] == 3
    assert run_json("draw", "rnn", "--lengths", "3,2")["config"]["seq_len"] == 3
    bench = run_json("bench", "rnn", "--lengths", "3,2", "--iters", "1", "--warmup", "0")
    assert bench["config"]["seq_len"] == 3


def test_a_cell_is_shown_without_a_layer_or_direction() -> None:
    result = run_cli("inspect", "lstm", "--cell", "--gates", "-N", "2")
    assert result.exit_code == 0
    assert "0 fwd" not in result.stdout
    assert "Gate blocks of the cell's weights" in result.stdout
    assert "all layers and directions" not in result.stdout
    assert "Parameters of the cell: the closed formula" in result.stdout
    verified = run_cli("verify", "gru", "--cell", "-N", "2")
    assert "0 fwd" not in verified.stdout and "Gate blocks of the cell's weights" in verified.stdout


# --- the net: every field reaches its JSON ------------------------------------------------------

# Fields whose JSON key has another name, or that the JSON spells out in several keys.
_JSON_NAMES = {
    "tensor_count": ["tensors"],
    "expectation": ["expect", "expect_module", "expect_container", "expect_prefix", "mismatches"],
    "slot": ["tensor", "index", "layer", "direction", "sequence", "equals", "reason"],
    "states": ["states"],
    "timing": ["median_s", "min_s", "max_s", "q1_s", "q3_s"],
    # The view shows the matmul only as its rate, which the JSON has with the median it is from.
    "matmul_timing": ["matmul_median_s", "matmul_gflops"],
    "group": ["name"],  # a framework tensor's name is group/leaf
    "leaf": ["name"],
}


def _assert_every_field_in_json(report: Any, document: dict[str, Any]) -> None:
    for field in fields(report):
        if getattr(report, field.name) is None:
            continue  # an option not asked for: its key is left out or null
        for key in _JSON_NAMES.get(field.name, [field.name]):
            assert key in document, f"{type(report).__name__}.{field.name} does not reach its JSON ({key})"


def test_every_field_of_each_report_reaches_its_json(tmp_path: Path) -> None:
    from rnnscope import inspect
    from rnnscope.checkpoint.loading import load
    from rnnscope.draw.content import unroll
    from rnnscope.smoke import run_smoke
    from rnnscope.verification import verify

    spec = make_spec(Kind.lstm, num_layers=2, bidirectional=True, seq_len=3, batch=2)
    for report in (inspect(spec, gates=True), verify(spec), unroll(spec)):
        document = report.to_dict()
        _assert_every_field_in_json(report, document)
    for row in inspect(spec).states:
        _assert_every_field_in_json(row, row.to_dict())
    smoke = run_smoke(quick=True)
    _assert_every_field_in_json(smoke, smoke.to_dict())
    for case in smoke.cases:
        # A case's checks and states reach the JSON as the failed ones and the worst one's numbers.
        document = case.to_dict()
        assert {"failed_checks", "failed_states", "states_ok", "max_rel_error"} <= set(document)
        _assert_every_field_in_json(case, document | {"checks": None, "states": None})
    model = nn.Module()
    model.rnn = nn.GRU(3, 4)
    path = tmp_path / "model.pt"
    torch.save({"weights": model.state_dict()}, path)
    loaded = load(str(path), expect="nn.GRU(3, 4)", stats=True)
    document = loaded.to_dict()
    _assert_every_field_in_json(loaded, document)
    assert document["format_name"] == loaded.format_name
    assert (document["expect_container"], document["expect_prefix"]) == ("weights", "rnn")
    drawing = unroll(make_spec(Kind.gru, seq_len=3))
    assert drawing.to_dict()["cell_detail"] == "3 gates"


def test_every_field_of_the_other_commands_reports_reaches_its_json() -> None:
    from rnnscope.activity import activity
    from rnnscope.benchmark import bench
    from rnnscope.comparison import compare
    from rnnscope.frameworks.layout import layout
    from rnnscope.gradient_norms import gradients

    spec = make_spec(Kind.lstm, num_layers=2, bidirectional=True, seq_len=3, batch=2)
    compared = compare({kind: make_spec(kind, seq_len=3, batch=2) for kind in Kind})
    _assert_every_field_in_json(compared, compared.to_dict())
    for row, row_document in zip(compared.rows, compared.to_dict()["rows"], strict=True):
        _assert_every_field_in_json(row, row_document)
    laid_out = layout(spec, "all")
    document = laid_out.to_dict()
    _assert_every_field_in_json(laid_out, document)
    for framework, framework_document in zip(laid_out.frameworks, document["frameworks"], strict=True):
        # Every framework lays out the report's one kind: it is said once, at the top.
        _assert_every_field_in_json(framework, framework_document | {"kind": document["kind"]})
        for tensor, tensor_document in zip(framework.tensors, framework_document["tensors"], strict=True):
            _assert_every_field_in_json(tensor, tensor_document)
    for report in (
        gradients([make_spec(Kind.gru, seq_len=4, batch=2)]),
        bench(make_spec(Kind.gru, seq_len=4, batch=2), iters=2, warmup=0),
        activity(make_spec(Kind.lstm, seq_len=4, batch=2)),
    ):
        _assert_every_field_in_json(report, report.to_dict())


# --- the net: a ✓ only where a check of the run produced it -------------------------------------


def _marks(text: str) -> int:
    return text.count("✓")


def test_no_check_mark_without_a_check_of_the_run(tmp_path: Path) -> None:
    from rnnscope import inspect
    from rnnscope.comparison import compare
    from rnnscope.draw.content import unroll
    from rnnscope.frameworks.layout import layout
    from rnnscope.render import compare_view, draw_view, inspect_view, layout_view, verify_view
    from rnnscope.verification import verify

    spec = make_spec(Kind.gru, num_layers=2, bidirectional=True, seq_len=3, batch=2)
    # Views that check nothing on the run: no ✓ at all.
    assert _marks(rendered(draw_view(unroll(spec)))) == 0
    assert _marks(rendered(layout_view(layout(spec, "all")))) == 0
    written = layout(spec, "keras", write=tmp_path / "weights.npz")
    assert written.written is not None and _marks(rendered(layout_view(written))) == 0
    specs = {kind: make_spec(kind, seq_len=3, batch=2) for kind in Kind}
    assert _marks(rendered(compare_view(compare(specs)))) == 0
    # inspect: one ✓ per row whose check passed, the totals' agreement and the verdict.
    report = inspect(spec)
    passed = sum(row.ok is True for row in report.tensors) + sum(row.ok for row in report.parameters)
    passed += sum(row.ok is True for row in report.states)
    assert _marks(rendered(inspect_view(report))) == passed + 1 + 1
    # On meta with the forward pass skipped the tensors and states were not checked: no ✓ for them.
    meta = inspect(make_spec(Kind.gru, num_layers=2, seq_len=200), device="meta")
    assert meta.forward == "skipped"
    assert _marks(rendered(inspect_view(meta))) == sum(row.ok for row in meta.parameters) + 1 + 1
    # verify: one ✓ per check and per checked state, and the verdict.
    verified = verify(spec)
    checked = sum(row.ok for row in verified.checks) + sum(row.ok is True for row in verified.states)
    assert _marks(rendered(verify_view(verified))) == checked + 1


# --- --from: the file gives the layer; a flag it contradicts is refused --------------------------


def _checkpoint(tmp_path: Path) -> Path:
    model = nn.Module()
    model.rnn = nn.LSTM(6, 8, num_layers=2, bidirectional=True)
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.mark.parametrize("command", ["layout", "activity"])
def test_from_refuses_flags_its_file_contradicts_and_uses_the_others(tmp_path: Path, command: str) -> None:
    path = _checkpoint(tmp_path)
    layer = (command, "lstm", "--from", str(path))
    contradicted = run_cli(*layer, "--hidden-size", "99", "--layers", "3")
    assert contradicted.exit_code == 2 and contradicted.stdout == ""
    assert contradicted.stderr == (
        f"error: --hidden-size 99 and --layers 3: {path}'s layer 'rnn' has --hidden-size 8 and --layers 2; "
        "leave them out, the file gives them\n"
    )
    switches = run_cli(*layer, "--unidirectional", "--no-bias", "--proj-size", "2")
    assert switches.stderr == (
        f"error: --no-bias, --unidirectional and --proj-size 2: {path}'s layer 'rnn' has --bias, "
        "--bidirectional and --proj-size 0; leave them out, the file gives them\n"
    )
    # Typed but the file's own values: they agree. Flags the file says nothing about: used.
    agreed = run_json(*layer, "-i", "6", "-H", "8", "--layers", "2", "--bidirectional", "--batch-first")
    assert agreed["module"] == "LSTM(6, 8, num_layers=2, batch_first=True, bidirectional=True)"
    assert agreed["config"]["batch_first"] is True
    # Left out: the file's.
    assert run_json(*layer)["config"]["hidden_size"] == 8


def test_from_contradicted_in_a_real_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = _checkpoint(tmp_path)
    args = ("layout", "lstm", "--from", str(path), "--hidden-size", "99", "--json")
    result = subprocess.run(
        [sys.executable, "-m", "rnnscope", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert (result.returncode, result.stdout) == (2, "")
    said = f"{path}'s layer 'rnn' has --hidden-size 8; leave it out, the file gives it"
    assert result.stderr == f"error: --hidden-size 99: {said}\n"


def test_from_in_python_names_the_parameters(tmp_path: Path) -> None:
    from rnnscope.errors import BadInput
    from rnnscope.frameworks.layout import layout

    path = _checkpoint(tmp_path)
    spec = make_spec(Kind.lstm, hidden_size=99)
    with pytest.raises(BadInput, match=r"^hidden_size=99: .* has hidden_size=8; leave it out"):
        layout(spec, from_file=path, given={"hidden_size"})
    assert layout(spec, from_file=path).module == "LSTM(6, 8, num_layers=2, bidirectional=True)"
