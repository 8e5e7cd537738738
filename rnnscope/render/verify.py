"""The verify and smoke views: checks against the reference, equations with shapes, cases."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rnnscope.layer.equations import Equation
from rnnscope.render.common import (
    FAIL,
    PASS,
    UNKNOWN,
    command_text,
    error_text,
    failure_lines,
    mark,
    new_table,
    note_lines,
    spaced,
)
from rnnscope.render.inspect import gate_table, state_view
from rnnscope.report import CheckRow, SmokeReport, VerifyReport


def verify_view(report: VerifyReport) -> RenderableType:
    """Header, the checks against the reference, the states in the output, the equations with
    shapes, the gate blocks."""
    header = [
        Text.assemble((report.module, "bold"), f"  on {report.device}, {report.dtype}, seed {report.seed}"),
    ]
    header += note_lines(report.notes)
    return spaced(
        Group(*header),
        check_table(report.checks, "Module against the textbook equations (float64 reference)"),
        state_view(report.states, []),
        equation_table(report.equations),
        gate_table(report.gates, report.cell),
        _verdict(report),
    )


def check_table(rows: list[CheckRow], title: str) -> Table:
    table = new_table(title)
    table.add_column("compared", no_wrap=True)
    table.add_column("max abs err", justify="right", no_wrap=True)
    table.add_column("max rel err", justify="right", no_wrap=True)
    table.add_column("rtol", justify="right", no_wrap=True)
    table.add_column("atol", justify="right", no_wrap=True)
    table.add_column("", justify="center")
    for row in rows:
        table.add_row(
            Text(row.name),
            error_text(row.max_abs_error),
            error_text(row.max_rel_error),
            f"{row.tolerance.rtol:g}",
            f"{row.tolerance.atol:g}",
            mark(row.ok),
        )
        if row.detail is not None:
            table.add_row("", Text(row.detail, style="red"), "", "", "", "")
    return table


def equation_table(rows: list[Equation]) -> Table:
    """Each equation, then each of its terms with its shapes (one sequence; the batch adds N)."""
    table = new_table("Equations with the shape of every term (one sequence; N run at once)")
    table.add_column("equation / term", overflow="fold")
    table.add_column("shapes", no_wrap=True)
    for equation in rows:
        table.add_row(Text(equation.equation, style="bold"), "")
        for term in equation.terms:
            table.add_row(Text(f"  {term.term}"), Text(term.shapes))
    return table


def _verdict(report: VerifyReport) -> RenderableType:
    verdicts = failure_lines(report.verdict)
    if verdicts:
        return Group(*verdicts)
    return Text(
        f"{PASS} all {len(report.checks)} compared tensors agree with the textbook equations "
        f"within {report.tolerance}",
        style="green",
    )


def smoke_view(report: SmokeReport) -> RenderableType:
    """One row per case, the failures spelled out, and the verdict."""
    table = new_table(f"Smoke: inspect + verify on {report.device}, {report.dtype}")
    table.add_column("case", overflow="fold")
    table.add_column("shapes", justify="center")
    table.add_column("states", justify="center")
    table.add_column("max rel err", justify="right", no_wrap=True)
    table.add_column("rtol", justify="right", no_wrap=True)
    table.add_column("atol", justify="right", no_wrap=True)
    table.add_column("", justify="center")
    for case in report.cases:
        worst = case.worst
        table.add_row(
            Text(case.name),
            mark(case.shapes_ok),
            mark(case.states_ok),
            error_text(worst.max_rel_error) if worst else UNKNOWN,
            f"{worst.tolerance.rtol:g}" if worst else UNKNOWN,
            f"{worst.tolerance.atol:g}" if worst else UNKNOWN,
            mark(case.ok),
        )
    lines: list[RenderableType] = [table, Text("")]
    for case in report.failed:
        lines.append(Text(f"{FAIL} {case.name}: {case.error}", style="bold red"))
        lines.append(command_text(f"  reproduce: {case.command}", style="dim"))
    summary = f"{report.passed} of {len(report.cases)} cases passed in {report.seconds:.2f} s"
    lines.append(Text(f"{PASS if report.ok else FAIL} {summary}", style="green" if report.ok else "bold red"))
    return Group(*lines)
