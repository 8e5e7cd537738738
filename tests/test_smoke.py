"""``rnnscope smoke``: the matrix, its JSON and JUnit views, and failures that name their case."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from rnnscope import smoke, verification
from rnnscope.execution.runtime import torch
from rnnscope.layer.gates import GATES
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.render import smoke_view
from rnnscope.report import VerifyReport
from rnnscope.smoke import run_smoke, smoke_configs
from tests.helpers import rendered, run_cli, run_json


def test_the_matrix_covers_every_option() -> None:
    specs = [config.spec for config in smoke_configs()]
    for kind in Kind:
        mine = [spec for spec in specs if spec.kind is kind]
        assert any(spec.cell for spec in mine) and any(not spec.cell for spec in mine)
        assert any(spec.num_layers > 1 for spec in mine)
        assert any(spec.bidirectional for spec in mine)
        assert any(spec.batch_first for spec in mine)
        assert any(not spec.bias for spec in mine)
        assert any(spec.unbatched for spec in mine) and any(spec.unbatched and spec.cell for spec in mine)
        assert any(spec.packed for spec in mine)
        assert any(not spec.initial_state for spec in mine)
    assert any(spec.nonlinearity == "relu" for spec in specs)
    assert any(spec.proj_size and spec.num_layers > 1 and spec.bidirectional for spec in specs)
    assert any(spec.proj_size and spec.packed for spec in specs)
    names = [config.name for config in smoke_configs()]
    assert len(names) == len(set(names))
    quick = smoke_configs(quick=True)
    assert {config.kind for config in quick} == set(Kind)
    assert {config.name for config in quick} < set(names)


def test_full_matrix_passes_on_cpu_and_reports_progress() -> None:
    seen: list[tuple[int, int, str]] = []
    report = run_smoke(progress=lambda done, total, name: seen.append((done, total, name)))
    assert report.ok, [case.to_dict() for case in report.failed]
    assert [name for _done, _total, name in seen] == [case.name for case in report.cases]
    assert seen[-1][0] == seen[-1][1] == len(report.cases)
    assert all(case.shapes_ok and case.checks for case in report.cases)


def test_smoke_quick_json() -> None:
    document = run_json("smoke", "--quick")
    assert document["ok"] is True
    assert document["device"] == "cpu" and document["dtype"] == "float32"
    assert [case["name"] for case in document["cases"]] == [c.name for c in smoke_configs(quick=True)]
    for case in document["cases"]:
        assert case["ok"] is True and case["error"] is None
        assert case["max_rel_error"] <= case["tolerance"]["rtol"] == case["tolerance"]["atol"]


def test_junit_has_one_testcase_per_case(tmp_path: Path) -> None:
    junit = tmp_path / "smoke.xml"
    result = run_cli("smoke", "--quick", "--junit", str(junit))
    assert result.exit_code == 0, result.stderr
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == [c.name for c in smoke_configs(quick=True)]
    assert suite.get("tests") == str(len(cases)) and suite.get("failures") == "0"
    assert all(case.find("failure") is None for case in cases)
    assert {case.get("classname") for case in cases} == {f"rnnscope.smoke.{kind.value}" for kind in Kind}


def test_a_wrong_gate_order_fails_the_gru_cases_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r, z, n = GATES["gru"]
    monkeypatch.setitem(GATES, "gru", (z, r, n))
    junit = tmp_path / "smoke.xml"
    document = run_json("smoke", "--quick", "--junit", str(junit), exit_code=1)
    failed = {case["name"] for case in document["cases"] if not case["ok"]}
    assert failed == {c.name for c in smoke_configs(quick=True) if c.kind is Kind.gru}
    for case in document["cases"]:
        if case["name"] in failed:
            assert case["error"].startswith("out of tolerance: ")
            assert case["failed_checks"] and case["max_rel_error"] > case["tolerance"]["rtol"]
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == str(len(failed))
    for case in suite.findall("testcase"):
        failure = case.find("failure")
        assert (failure is not None) == (case.get("name") in failed)
        if failure is not None:
            assert "max_rel_error=" in (failure.text or "") and "ok=False" in (failure.text or "")
            assert "rtol=1e-05 atol=1e-05" in (failure.text or "")
    shown = run_cli("smoke", "--quick")
    assert shown.exit_code == 1
    assert "✗ gru --cell: out of tolerance: h_1" in shown.stdout


def test_a_case_that_raises_is_a_failed_case(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verify = verification.verify

    def breaks_on_cells(spec: LayerSpec, *args: Any, **kwargs: Any) -> VerifyReport:
        if spec.cell:
            raise RuntimeError("planted failure")
        return verify(spec, *args, **kwargs)

    monkeypatch.setattr(smoke, "verify", breaks_on_cells)
    junit = tmp_path / "smoke.xml"
    document = run_json("smoke", "--quick", "--junit", str(junit), exit_code=1)
    raised = [case for case in document["cases"] if case["raised"]]
    assert {case["name"] for case in raised} == {
        c.name for c in smoke_configs(quick=True) if "--cell" in c.name
    }
    assert all(case["error"] == "RuntimeError: planted failure" for case in raised)
    assert all(case["ok"] for case in document["cases"] if not case["raised"])
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("errors") == str(len(raised))


def test_a_failed_states_check_is_named_as_states_not_shapes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnnscope.layer import states

    expression = states._output_expression

    def first_step_for_gru(spec: LayerSpec, direction: int, sequence: int | None) -> str:
        # A planted fault in the states layout of GRU: the forward state read at step 0.
        text = expression(spec, direction, sequence)
        return text.replace("-1", "0") if spec.kind is Kind.gru else text

    monkeypatch.setattr(states, "_output_expression", first_step_for_gru)
    junit = tmp_path / "smoke.xml"
    document = run_json("smoke", "--quick", "--junit", str(junit), exit_code=1)
    failed = [case for case in document["cases"] if not case["ok"]]
    assert failed and all(case["kind"] == "gru" for case in failed)
    for case in failed:
        assert case["shapes_ok"] is True and case["states_ok"] is False
        assert case["failed_checks"] == []  # verify's checks passed
        assert case["failed_states"] and all(row["ok"] is False for row in case["failed_states"])
        assert case["error"].startswith("states differ from their slice of the output: h_n[")
    text = ElementTree.parse(junit).getroot().find("testsuite/testcase/failure")
    assert text is not None and "shapes ok: True\nstates ok: False\n" in (text.text or "")
    shown = rendered(smoke_view(run_smoke(quick=True)))
    row = next(line for line in shown.splitlines() if line.startswith("gru --layers 2"))
    assert row.split()[-6:-4] == ["✓", "✗"]  # shapes ✓, states ✗ (then max rel err, rtol, atol, ✗)


def test_smoke_debug_shows_where_a_case_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    verify = verification.verify

    def breaks_on_cells(spec: LayerSpec, *args: Any, **kwargs: Any) -> VerifyReport:
        if spec.cell:
            raise RuntimeError("planted failure")
        return verify(spec, *args, **kwargs)

    monkeypatch.setattr(smoke, "verify", breaks_on_cells)
    junit = tmp_path / "smoke.xml"
    plain = run_cli("smoke", "--quick")
    assert plain.exit_code == 1 and "Traceback" not in plain.stderr
    result = run_cli("smoke", "--quick", "--debug", "--junit", str(junit))
    assert result.exit_code == 1
    assert result.stderr.count("Traceback (most recent call last):") == sum(
        "--cell" in c.name for c in smoke_configs(quick=True)
    )
    assert 'raise RuntimeError("planted failure")' in result.stderr
    errors = ElementTree.parse(junit).getroot().findall("testsuite/testcase/error")
    assert errors and all("RuntimeError: planted failure" in (e.text or "") for e in errors)
    assert all("Traceback (most recent call last):" in (e.text or "") for e in errors)


def test_smoke_refuses_bad_options() -> None:
    result = run_cli("smoke", "--dtype", "float8")
    assert result.exit_code == 2
    assert (
        result.stderr == "error: --dtype must be one of float32, float64, float16, bfloat16, got 'float8'\n"
    )


def test_junit_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def must_not_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the matrix ran although its --junit file could not be written")

    monkeypatch.setattr(smoke, "run_smoke", must_not_run)
    target = tmp_path / "missing" / "smoke.xml"
    result = run_cli("smoke", "--quick", "--junit", str(target))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == f"error: --junit {target}: the folder {target.parent} does not exist\n"


def test_a_case_command_reproduces_it() -> None:
    config = next(
        c for c in smoke_configs() if c.name == "lstm --bidirectional --proj-size 3 --lengths 6,2,4"
    )
    case = next(case for case in run_smoke(quick=True).cases if case.name == config.name)
    arguments = case.command.split()[1:]  # without "rnnscope"
    document = run_json(*arguments)
    worst = max(check["max_rel_error"] for check in document["checks"])
    assert worst == pytest.approx(case.worst.max_rel_error if case.worst else None)


def test_smoke_view_fits_80_columns() -> None:
    report = run_smoke(quick=True)
    text = rendered(smoke_view(report))
    assert max(len(line) for line in text.splitlines()) <= 80
    assert f"✓ {len(report.cases)} of {len(report.cases)} cases passed" in text


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_full_smoke_on_cuda() -> None:
    report = run_smoke(device="cuda")
    assert report.device.startswith("cuda")
    assert report.ok, [case.to_dict() for case in report.failed]


def test_smoke_tolerances_judge_every_case_and_travel_in_the_reproduce_line() -> None:
    document = run_json("smoke", "--quick", "--rtol", "0", "--atol", "1e-9", exit_code=1)
    failed = [case for case in document["cases"] if not case["ok"]]
    assert failed and all(case["tolerance"] == {"rtol": 0.0, "atol": 1e-9} for case in document["cases"])
    assert all(case["command"].endswith(" --rtol 0.0 --atol 1e-09") for case in document["cases"])
    again = run_json(*failed[0]["command"].split()[1:], exit_code=1)
    assert again["tolerance"] == failed[0]["tolerance"]
