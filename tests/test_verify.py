"""``rnnscope verify`` and ``inspect --gates``: the library, the CLI and planted faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rnnscope.errors import RunFailed
from rnnscope.execution import probe as probe_module
from rnnscope.execution.runtime import torch
from rnnscope.layer.equations import equations, gate_rows
from rnnscope.layer.gates import GATES
from rnnscope.layer.spec import Kind
from rnnscope.layer.validation import make_spec
from rnnscope.render import inspect_view, verify_view
from rnnscope.report import Tolerance
from rnnscope.verification import TOLERANCES, tolerance, verify
from tests.helpers import rendered, run_cli, run_json

SMALL = ("-i", "5", "-H", "7", "-L", "6", "-N", "3")
ROOT = Path(__file__).resolve().parent.parent


def test_checks_are_per_layer_and_direction() -> None:
    spec = make_spec(Kind.lstm, num_layers=2, bidirectional=True, seq_len=6, batch=3)
    report = verify(spec)
    assert [check.name for check in report.checks] == [
        "output[fwd]",
        "output[rev]",
        "h_n[layer 0, fwd]",
        "h_n[layer 0, rev]",
        "h_n[layer 1, fwd]",
        "h_n[layer 1, rev]",
        "c_n[layer 0, fwd]",
        "c_n[layer 0, rev]",
        "c_n[layer 1, fwd]",
        "c_n[layer 1, rev]",
    ]
    assert report.ok
    default = TOLERANCES["cpu"]["float32"]
    assert all(check.tolerance == Tolerance(default, default) for check in report.checks)


def test_cells_compare_h_1_and_c_1() -> None:
    assert [c.name for c in verify(make_spec(Kind.lstm, cell=True)).checks] == ["h_1", "c_1"]
    assert [c.name for c in verify(make_spec(Kind.gru, cell=True)).checks] == ["h_1"]


def test_packed_compares_the_padded_output() -> None:
    report = verify(make_spec(Kind.gru, lengths=(6, 2, 4), seq_len=6))
    assert [check.name for check in report.checks] == ["output_padded", "h_n[layer 0, fwd]"]
    assert report.ok


def test_float64_agrees_to_rounding() -> None:
    report = verify(make_spec(Kind.gru, num_layers=2, bidirectional=True), dtype="float64")
    assert report.ok
    assert max(check.max_rel_error or 1.0 for check in report.checks) < 1e-12


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("kind", list(Kind))
def test_low_precision_passes_its_own_tolerance(kind: Kind, dtype: str) -> None:
    """At the default sizes (L = 100, N = 32), where the tolerances were measured."""
    try:
        report = verify(make_spec(kind), dtype=dtype)
    except RunFailed as error:
        # torch 2.4's oneDNN builds no bfloat16 LSTM primitive on some CPUs (AMD EPYC here):
        # the run fails as runs do (exit 3), not the check.
        if "primitive descriptor" not in str(error):
            raise
        pytest.skip(f"this torch cannot run it on this CPU: {error}")
    assert report.ok, [check.to_dict() for check in report.checks]
    assert report.tolerance == Tolerance(TOLERANCES["cpu"][dtype], TOLERANCES["cpu"][dtype])


def test_tolerances_grow_as_precision_falls() -> None:
    for table in TOLERANCES.values():
        assert table["float64"] < table["float32"] <= table["float16"] <= table["bfloat16"]
    assert tolerance("cuda", "float32") == TOLERANCES["accelerator"]["float32"]
    assert tolerance("cpu", "float32") == TOLERANCES["cpu"]["float32"]


def test_eval_mode_turns_dropout_off_and_says_so() -> None:
    report = verify(make_spec(Kind.lstm, num_layers=2, dropout=0.5, seq_len=6, batch=3))
    assert report.ok
    assert any("eval mode" in note and "--dropout 0.5" in note for note in report.notes)


def test_equations_carry_the_shapes_of_this_configuration() -> None:
    lstm = {e.equation: e for e in equations(make_spec(Kind.lstm))}
    input_gate = lstm["i_t = σ(W_ii·x_t + b_ii + W_hi·h_{t−1} + b_hi)"]
    assert [(t.term, t.shapes) for t in input_gate.terms][:2] == [
        ("W_ii·x_t", "(20, 10)·(10,) → (20,)"),
        ("W_hi·h_{t−1}", "(20, 20)·(20,) → (20,)"),
    ]
    projected = {e.equation: e for e in equations(make_spec(Kind.lstm, proj_size=5))}
    assert [(t.term, t.shapes) for t in projected["h_t = W_hr·(o_t ⊙ tanh(c_t))"].terms][-1] == (
        "W_hr·(o_t ⊙ tanh(c_t))",
        "(5, 20)·(20,) → (5,)",
    )
    gru = [e.equation for e in equations(make_spec(Kind.gru, bias=False))]
    assert "n_t = tanh(W_in·x_t + r_t ⊙ (W_hn·h_{t−1}))" in gru
    assert "h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1}" in gru
    relu = [e.equation for e in equations(make_spec(Kind.rnn, nonlinearity="relu"))]
    assert relu == ["h_t = relu(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh)"]


def test_deeper_layers_read_both_directions() -> None:
    stacked = equations(make_spec(Kind.gru, num_layers=2, bidirectional=True, hidden_size=8))
    deeper = stacked[-1]
    assert deeper.equation.startswith("layer k ≥ 1")
    assert [(t.term, t.shapes) for t in deeper.terms] == [
        ("x_t", "(16,)"),
        ("W_ir·x_t (layer ≥ 1)", "(8, 16)·(16,) → (8,)"),
    ]


def test_gate_rows_split_layer_0_and_layer_1_input() -> None:
    rows = gate_rows(make_spec(Kind.lstm, num_layers=2, bidirectional=True, proj_size=5))
    first = [(r.parameter, r.symbol, r.start, r.stop, r.shape) for r in rows if r.parameter == "weight_ih_l0"]
    assert first == [
        ("weight_ih_l0", "W_ii", 0, 20, (20, 10)),
        ("weight_ih_l0", "W_if", 20, 40, (20, 10)),
        ("weight_ih_l0", "W_ig", 40, 60, (20, 10)),
        ("weight_ih_l0", "W_io", 60, 80, (20, 10)),
    ]
    assert {r.parameter for r in rows} == {
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_hr_l0",
        "weight_ih_l1",
    }
    assert [r.shape for r in rows if r.parameter == "weight_ih_l1"] == [(20, 10)] * 4  # D·H_out = 10
    assert [r.symbol for r in gate_rows(make_spec(Kind.gru)) if r.parameter == "weight_hh_l0"] == [
        "W_hr",
        "W_hz",
        "W_hn",
    ]


# The CLI


def test_verify_json_document() -> None:
    document = run_json("verify", "lstm", "--layers", "2", "--bidirectional", "--proj-size", "3", *SMALL)
    assert {"kind", "config", "device", "dtype", "ok", "checks", "equations", "notes"} <= set(document)
    assert document["ok"] is True
    assert document["kind"] == "lstm" and document["device"] == "cpu" and document["dtype"] == "float32"
    for check in document["checks"]:
        assert set(check) >= {"name", "max_abs_error", "max_rel_error", "tolerance", "ok"}
        assert check["tolerance"] == {"rtol": 1e-5, "atol": 1e-5}
        assert check["ok"] is True and check["max_rel_error"] <= check["tolerance"]["rtol"]
    assert document["config"]["proj_size"] == 3


def test_verify_shows_every_check_and_fits_80_columns() -> None:
    report = verify(make_spec(Kind.lstm, num_layers=2, bidirectional=True, proj_size=3, seq_len=6, batch=3))
    text = rendered(verify_view(report))
    assert max(len(line) for line in text.splitlines()) <= 80
    for name in ("output[fwd]", "output[rev]", "h_n[layer 1, rev]", "c_n[layer 0, fwd]"):
        assert name in text
    assert "W_hr·(o_t ⊙ tanh(c_t))" in text and "weight_ih_l1" in text
    assert "✓ all 10 compared tensors agree" in text


def test_verify_bad_flag_is_one_line() -> None:
    result = run_cli("verify", "lstm", "--proj-size", "20")
    assert result.exit_code == 2
    assert result.stderr == "error: --proj-size must be smaller than --hidden-size (20), got 20\n"
    result = run_cli("verify", "gru", "--dtype", "float8")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --dtype must be one of float32, float64, float16, bfloat16, got 'float8'\n"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where CUDA is absent")
def test_verify_without_cuda_is_bad_input() -> None:
    result = run_cli("verify", "rnn", "--device", "cuda")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --device cuda: CUDA is not available here")


def test_swapped_gate_blocks_fail_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the gate order the reference slices by (gates.py) were f|i|g|o, verify must catch it."""
    i, f, g, o = GATES["lstm"]
    monkeypatch.setitem(GATES, "lstm", (f, i, g, o))
    document = run_json("verify", "lstm", *SMALL, exit_code=1)
    assert document["ok"] is False
    failed = {check["name"] for check in document["checks"] if not check["ok"]}
    assert {"output", "h_n[layer 0, fwd]", "c_n[layer 0, fwd]"} <= failed


def test_a_perturbed_final_state_fails_only_its_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    forward = probe_module._forward

    def perturbed(result: probe_module.Probe) -> None:
        forward(result)
        result.outputs["h_n"] = result.outputs["h_n"] + 1e-3

    monkeypatch.setattr(probe_module, "_forward", perturbed)
    result = run_cli("verify", "gru", "--layers", "2", *SMALL)
    assert result.exit_code == 1
    assert "✗ out of tolerance: h_n[layer 0, fwd], h_n[layer 1, fwd]" in result.stdout
    document = run_json("verify", "gru", "--layers", "2", *SMALL, exit_code=1)
    by_name = {check["name"]: check for check in document["checks"]}
    assert by_name["output"]["ok"] is True
    assert by_name["h_n[layer 1, fwd]"]["ok"] is False
    assert by_name["h_n[layer 1, fwd]"]["max_abs_error"] == pytest.approx(1e-3, rel=1e-3)


def test_nan_from_the_module_is_a_failed_check_in_valid_json(monkeypatch: pytest.MonkeyPatch) -> None:
    forward = probe_module._forward

    def poisoned(result: probe_module.Probe) -> None:
        forward(result)
        result.outputs["output"] = result.outputs["output"] * float("nan")

    monkeypatch.setattr(probe_module, "_forward", poisoned)
    document = run_json("verify", "rnn", *SMALL, exit_code=1)  # run_json parses strict JSON
    output = document["checks"][0]
    assert output["name"] == "output"
    assert output["ok"] is False and output["max_abs_error"] is None
    assert output["detail"] == "the module returned NaN or inf"


def test_inspect_gates_adds_the_section() -> None:
    document = run_json("inspect", "gru", "--gates", *SMALL)
    assert [(row["symbol"], row["rows"]) for row in document["gates"][:3]] == [
        ("W_ir", [0, 7]),
        ("W_iz", [7, 14]),
        ("W_in", [14, 21]),
    ]
    assert "gates" not in run_json("inspect", "gru", *SMALL)
    shown = run_cli("inspect", "gru", "--gates", *SMALL)
    assert shown.exit_code == 0 and "Gate blocks of layer 0" in shown.stdout
    assert "Gate blocks" not in run_cli("inspect", "gru", *SMALL).stdout


def test_inspect_gates_view_fits_80_columns() -> None:
    from rnnscope import inspect

    report = inspect(make_spec(Kind.lstm, proj_size=5, num_layers=2, seq_len=4, batch=2), gates=True)
    assert max(len(line) for line in rendered(inspect_view(report)).splitlines()) <= 80


def test_verify_as_a_real_command() -> None:
    environment = os.environ | {"PYTHONPATH": str(ROOT)}
    completed = subprocess.run(
        [sys.executable, "-m", "rnnscope", "verify", "rnn", "-L", "3", "-N", "2", "--json"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["ok"] is True


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_verify_on_cuda_against_the_cpu_reference() -> None:
    for kind in Kind:
        for dtype in ("float32", "float16", "float64"):
            report = verify(make_spec(kind, num_layers=2, bidirectional=True), device="cuda", dtype=dtype)
            assert report.device.startswith("cuda")
            assert report.ok, (kind, dtype, [check.to_dict() for check in report.checks])
            limit = TOLERANCES["accelerator"][dtype]
            assert report.tolerance == Tolerance(limit, limit)


def test_rtol_and_atol_judge_each_element_by_the_larger_bound() -> None:
    """Defaults pass exactly what max |a − r| / max(|r|, 1) ≤ t passed; a tighter pair can fail,
    and each check names the pair that judged it."""
    spec = make_spec(Kind.lstm, num_layers=2, seq_len=7, batch=3)
    default = verify(spec)
    for check in default.checks:
        assert check.ok == (check.max_rel_error is not None and check.max_rel_error <= 1e-5)
    worst = max(check.max_abs_error or 0.0 for check in default.checks)
    assert worst > 0
    tight = verify(spec, atol=worst / 2, rtol=0.0)
    assert tight.tolerance == Tolerance(0.0, worst / 2)
    assert not tight.ok and all(check.tolerance == tight.tolerance for check in tight.checks)
    assert [check.ok for check in tight.checks] == [
        (check.max_abs_error or 0.0) <= worst / 2 for check in default.checks
    ]
    assert verify(spec, atol=worst, rtol=0.0).ok


def test_rtol_and_atol_on_the_command_line() -> None:
    document = run_json("verify", "gru", *SMALL, "--rtol", "0", "--atol", "1e-12", exit_code=1)
    assert document["tolerance"] == {"rtol": 0.0, "atol": 1e-12}
    assert {tuple(check["tolerance"].values()) for check in document["checks"]} == {(0.0, 1e-12)}
    shown = run_cli("verify", "gru", *SMALL, "--rtol", "0", "--atol", "1e-12")
    assert shown.exit_code == 1
    header = next(line for line in shown.stdout.splitlines() if line.startswith("compared"))
    assert header.split() == ["compared", "max", "abs", "err", "max", "rel", "err", "rtol", "atol"]
    assert "atol 1e-12 (the default for float32 on cpu is 1e-05 for both)" in " ".join(shown.stdout.split())


@pytest.mark.parametrize("flag", ["--rtol", "--atol"])
def test_negative_tolerance_is_refused(flag: str) -> None:
    result = run_cli("verify", "gru", flag, "-1")
    assert result.exit_code == 2
    assert result.stderr == f"error: {flag} must be a number ≥ 0, got -1\n"
