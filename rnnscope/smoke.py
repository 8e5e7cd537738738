"""``rnnscope.run_smoke``: a matrix of configurations through inspect and verify, for CI.

Every kind as module and cell, one and several layers, both directions, batch-first, without
bias, relu, projections, unbatched, zero initial state and a packed batch. Each case runs at
small sizes (except one case per kind at the default sizes) so that the full matrix takes
seconds on a CPU. A case that raises becomes a failed case carrying the error's text.
"""

from __future__ import annotations

import time
import traceback
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rnnscope.errors import BadInput, RnnscopeError
from rnnscope.execution.environment import environment
from rnnscope.execution.runtime import resolve_device
from rnnscope.inspection import inspect_layer
from rnnscope.layer.command_line import command_line, spec_flags
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import check_computes, check_run_options, make_spec
from rnnscope.report import CheckRow, ProgressCallback, SmokeCase, SmokeReport, StateRow, Verdict
from rnnscope.verification import check_tolerances, verify

# Small enough to run in milliseconds; input and hidden sizes differ so that a transposed or
# misplaced block cannot line up by accident.
SMALL_SIZES: dict[str, int] = {"input_size": 5, "hidden_size": 7, "seq_len": 6, "batch": 3}
SMALL_LENGTHS = (6, 2, 4)  # unsorted, with a sequence shorter than the rest

# (make_spec's keywords, whether the quick subset has it), for every kind; each adds SMALL_SIZES.
# One more case per kind runs at the default sizes, in the full matrix only.
_MODULE_CASES: list[tuple[dict[str, Any], bool]] = [
    ({}, False),
    ({"num_layers": 2}, False),
    ({"bidirectional": True}, False),
    ({"num_layers": 2, "bidirectional": True, "batch_first": True}, True),
    ({"bias": False}, False),
    ({"initial_state": False}, False),
    ({"unbatched": True}, False),
    ({"num_layers": 2, "bidirectional": True, "lengths": SMALL_LENGTHS}, False),
    ({"cell": True}, True),
    ({"cell": True, "bias": False, "initial_state": False}, False),
    ({"cell": True, "unbatched": True}, False),
]
# (kind, keywords, quick) for the options one kind has.
_EXTRA_CASES: list[tuple[Kind, dict[str, Any], bool]] = [
    (Kind.rnn, {"nonlinearity": "relu"}, False),
    (Kind.rnn, {"nonlinearity": "relu", "num_layers": 2, "bidirectional": True}, True),
    (Kind.rnn, {"cell": True, "nonlinearity": "relu"}, False),
    (Kind.lstm, {"proj_size": 3}, False),
    (Kind.lstm, {"proj_size": 3, "num_layers": 2, "bidirectional": True, "batch_first": True}, False),
    (Kind.lstm, {"proj_size": 3, "bidirectional": True, "lengths": SMALL_LENGTHS}, True),
    (Kind.lstm, {"proj_size": 3, "unbatched": True}, True),
]
DEFAULT_SIZES = "default sizes"


@dataclass(frozen=True)
class SmokeConfig:
    """One case of the matrix: its name (KIND and the flags that make it this case) and spec."""

    name: str
    spec: LayerSpec

    @property
    def kind(self) -> Kind:
        return self.spec.kind

    def command(
        self, device: str, dtype: str, seed: int, rtol: float | None = None, atol: float | None = None
    ) -> str:
        """The ``rnnscope verify`` line that reproduces this case, with the tolerances given."""
        given = [
            f"{flag} {value!r}" for flag, value in (("--rtol", rtol), ("--atol", atol)) if value is not None
        ]
        return " ".join((command_line("verify", self.spec, device, dtype, seed), *given))


def smoke_configs(quick: bool = False) -> list[SmokeConfig]:
    """The matrix, or its quick subset: one or more cases per kind, module and cell."""
    configs = []
    for kind in Kind:
        if not quick:
            configs.append(SmokeConfig(f"{kind.value} ({DEFAULT_SIZES})", make_spec(kind)))
        cases = [(kind, options, in_quick) for options, in_quick in _MODULE_CASES]
        cases += [case for case in _EXTRA_CASES if case[0] is kind]
        for _kind, options, in_quick in cases:
            if quick and not in_quick:
                continue
            name = " ".join((kind.value, *spec_flags(make_spec(kind, **options))))
            configs.append(SmokeConfig(name, make_spec(kind, **options, **_sizes(options))))
    return configs


def _sizes(options: dict[str, Any]) -> dict[str, Any]:
    """The small sizes, minus those the case rules out (a cell has no --seq-len, an unbatched
    or packed input no --batch)."""
    sizes: dict[str, Any] = dict(SMALL_SIZES)
    if options.get("cell"):
        del sizes["seq_len"]
    if options.get("unbatched") or "lengths" in options:
        del sizes["batch"]
    return sizes


def run_smoke(
    device: str = "cpu",
    dtype: str = "float32",
    quick: bool = False,
    progress: ProgressCallback | None = None,
    seed: int = 0,
    rtol: float | None = None,
    atol: float | None = None,
) -> SmokeReport:
    """Run every case through inspect and verify on the device.

    Args:
        progress: called after each case with (cases done, cases in all, the case's name).
        rtol, atol: verify's tolerances for every case; None: the default for the device and dtype.

    Raises:
        BadInput: an unknown device or dtype, a negative --rtol/--atol, meta (verify needs
            values), or a device that is not here. Anything a single case raises becomes that
            case's failure instead.
    """
    check_run_options(device, dtype, seed, computes=True)
    check_tolerances(rtol, atol)
    check_computes(device, "smoke")
    where = str(resolve_device(device, computes=True))
    configs = smoke_configs(quick)
    started = time.perf_counter()
    cases = []
    for done, config in enumerate(configs, start=1):
        cases.append(_run_case(config, where, dtype, seed, rtol, atol))
        if progress is not None:
            progress(done, len(configs), config.name)
    return SmokeReport(where, dtype, quick, seed, cases, time.perf_counter() - started)


def _run_case(
    config: SmokeConfig, device: str, dtype: str, seed: int, rtol: float | None, atol: float | None
) -> SmokeCase:
    started = time.perf_counter()
    command = config.command(device, dtype, seed, rtol, atol)
    shapes_ok: bool | None = None
    states: list[StateRow] = []
    checks: list[CheckRow] = []
    failure: str | None
    trace: str | None = None
    try:
        spec = config.spec
        inspected = inspect_layer(spec, device, dtype, seed)
        shapes_ok, states = not inspected.verdict.differing, inspected.states
        verified = verify(spec, device, dtype, seed, rtol=rtol, atol=atol)
        checks = verified.checks
    except Exception as error:  # a crash in one case is that case's failure, not the run's
        # in the command line's words, as the case's name and reproduce line are
        failure = (
            error.command_line_message
            if isinstance(error, RnnscopeError)
            else f"{type(error).__name__}: {error}"
        )
        trace = traceback.format_exc()
    else:
        # inspect's shapes and states, verify's checks (its states are inspect's again)
        failure = _failure(replace(inspected.verdict, out_of_tolerance=verified.verdict.out_of_tolerance))
    elapsed = time.perf_counter() - started
    return SmokeCase(
        config.name,
        config.kind.value,
        command,
        shapes_ok,
        states,
        checks,
        elapsed,
        failure,
        raised=trace is not None,
        traceback=trace,
    )


def _failure(verdict: Verdict) -> str | None:
    reasons = []
    if verdict.differing:
        reasons.append("shapes differ from their formulas: " + ", ".join(verdict.differing))
    if verdict.unequal:
        reasons.append("states differ from their slice of the output: " + ", ".join(verdict.unequal))
    if verdict.out_of_tolerance:
        failed = ", ".join(_check_line(check) for check in verdict.out_of_tolerance)
        reasons.append(f"out of tolerance: {failed}")
    return "; ".join(reasons) or None


def _check_line(check: CheckRow) -> str:
    if check.max_rel_error is None:
        return f"{check.name} ({check.detail})"
    return (
        f"{check.name} (max abs err {check.max_abs_error:.2e}, max rel err {check.max_rel_error:.2e}; "
        f"{check.tolerance})"
    )


def write_junit(report: SmokeReport, path: str | Path) -> None:
    """One JUnit testsuite with a testcase per configuration; failures carry the numbers.

    Raises:
        BadInput: the file cannot be written.
    """
    failures = sum(1 for case in report.failed if not case.raised)
    errors = sum(1 for case in report.failed if case.raised)
    suites = ElementTree.Element("testsuites")
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name="rnnscope smoke",
        tests=str(len(report.cases)),
        failures=str(failures),
        errors=str(errors),
        skipped="0",
        time=f"{report.seconds:.3f}",
    )
    properties = ElementTree.SubElement(suite, "properties")
    run = {"device": report.device, "dtype": report.dtype, "seed": str(report.seed)}
    # The JSON document's environment object, one property each: JUnit values are strings, and
    # a null (a field this run could not know) is left out.
    provenance = {f"environment.{key}": value for key, value in environment(report.device).items()}
    for name, value in (run | provenance).items():
        if value is not None:
            ElementTree.SubElement(properties, "property", name=name, value=str(value))
    for case in report.cases:
        element = ElementTree.SubElement(
            suite,
            "testcase",
            classname=f"rnnscope.smoke.{case.kind}",
            name=case.name,
            time=f"{case.seconds:.3f}",
        )
        if case.error is None:
            continue
        tag = "error" if case.raised else "failure"
        problem = ElementTree.SubElement(
            element, tag, message=case.error, type="raised" if case.raised else "check"
        )
        lines = [
            f"reproduce: {case.command}",
            f"shapes ok: {case.shapes_ok}",
            f"states ok: {case.states_ok}",
        ]
        lines += [
            f"{row.slot.state_expression} = {row.slot.equals}: max_abs_diff={row.max_abs_diff} "
            f"tolerance={row.tolerance} ok=False" + (f" ({row.detail})" if row.detail else "")
            for row in case.failed_states
        ]
        lines += [
            f"{check.name}: max_abs_error={check.max_abs_error} max_rel_error={check.max_rel_error} "
            f"rtol={check.tolerance.rtol} atol={check.tolerance.atol} ok={check.ok}"
            + (f" ({check.detail})" if check.detail else "")
            for check in case.checks
        ]
        if case.traceback is not None:
            lines.append(case.traceback.rstrip())
        problem.text = "\n".join(lines)
    tree = ElementTree.ElementTree(suites)
    ElementTree.indent(tree)
    try:
        tree.write(path, encoding="utf-8", xml_declaration=True)
    except OSError as error:
        raise BadInput(f"--junit {path}: cannot write it ({error.strerror})") from None
