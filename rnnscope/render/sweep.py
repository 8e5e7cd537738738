"""The views of a sweep: one row per configuration instead of one full report each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rnnscope.comparison import CompareReport
from rnnscope.render.common import FAIL, UNKNOWN, count, error_text, mark, new_table, size
from rnnscope.report import InspectReport, VerifyReport, worst_check
from rnnscope.sweep import FLAGS_BY_NAME, Outcome, SweepFlag


def inspect_sweep_view(outcomes: Sequence[Outcome[InspectReport]]) -> RenderableType:
    """Per configuration: parameters, MACs and memory of one forward pass, and whether every
    shape matched its formula."""
    table = _table("inspect", outcomes, ("params", "MACs", "weights", "for bwd", "ok"))
    for outcome in outcomes:
        report = outcome.report
        if report is None or report.cost is None:
            table.add_row(*_swept(outcome), *[UNKNOWN] * 4, mark(False))
            continue
        cost = report.cost
        table.add_row(
            *_swept(outcome),
            f"{report.total_params:,}",
            count(cost.macs),
            size(cost.param_bytes),
            size(cost.activation_bytes),
            mark(report.ok),
        )
    return _with_footer(
        table,
        outcomes,
        "ok: every shape equals its formula. MACs: one forward pass; weights, and what a training "
        "step keeps for backward (an estimate), in the run's dtype.",
    )


def verify_sweep_view(outcomes: Sequence[Outcome[VerifyReport]]) -> RenderableType:
    """Per configuration: the check furthest from its tolerance, and the verdict."""
    table = _table("verify", outcomes, ("worst check", "max rel err", "tolerance", "ok"))
    for outcome in outcomes:
        report = outcome.report
        worst = worst_check(report.checks) if report is not None else None
        if report is None or worst is None:
            table.add_row(*_swept(outcome), *[UNKNOWN] * 3, mark(False))
            continue
        table.add_row(
            *_swept(outcome),
            Text(worst.name),  # "h_n[layer 0, fwd]" is not markup
            error_text(worst.max_rel_error),
            str(worst.tolerance),
            mark(report.ok),
        )
    return _with_footer(
        table,
        outcomes,
        "worst check: the one furthest from its tolerance. ok: every check within tolerance and "
        "every state equal to its slice of the output.",
    )


def compare_sweep_view(outcomes: Sequence[Outcome[CompareReport]]) -> RenderableType:
    """Per configuration, the three kinds: parameters, ratio to the RNN, MACs and memory."""
    table = _table("compare", outcomes, ("kind", "params", "× RNN", "MACs", "weights", "for bwd"))
    for outcome in outcomes:
        if outcome.report is None:
            table.add_row(*_swept(outcome), *[UNKNOWN] * 6)
            continue
        for index, row in enumerate(outcome.report.rows):
            swept = _swept(outcome) if index == 0 else [""] * len(_swept(outcome))
            table.add_row(
                *swept,
                row.kind,
                f"{row.total_params:,}",
                f"{row.ratio_vs_rnn:.4g}×",
                count(row.macs),
                size(row.param_bytes),
                size(row.activation_bytes),
                end_section=index == len(outcome.report.rows) - 1,
            )
    return _with_footer(
        table,
        outcomes,
        "MACs: one forward pass; weights, and what a training step keeps for backward (an "
        "estimate), in --dtype.",
    )


def _table(command: str, outcomes: Sequence[Outcome[Any]], columns: tuple[str, ...]) -> Table:
    """The title names the swept flags; one column per flag shown (``_shown``), then ``columns``."""
    swept = " × ".join(flag.flag for flag, _ in outcomes[0].combination.varied)
    table = new_table(f"{command}: {len(outcomes)} configurations, {swept}")
    for flag in _shown(outcomes[0]):
        table.add_column(flag.column, overflow="fold")
    for name in columns:
        table.add_column(name, justify="left" if name in ("kind", "worst check") else "right", no_wrap=True)
    return table


def _shown(outcome: Outcome[Any]) -> list[SweepFlag]:
    """The swept flags, and KIND where the command takes one: each row says its kind."""
    swept = [flag for flag, _ in outcome.combination.varied]
    kind = FLAGS_BY_NAME["kind"]
    return swept if kind in swept or "kind" not in outcome.combination.values else [kind, *swept]


def _swept(outcome: Outcome[Any]) -> list[str]:
    values = outcome.combination.values
    return [str(getattr(values[flag.name], "value", values[flag.name])) for flag in _shown(outcome)]


def _with_footer(table: Table, outcomes: Sequence[Outcome[Any]], legend: str) -> RenderableType:
    """The table, each failed run's error, and what the columns mean."""
    lines: list[RenderableType] = [table]
    for outcome in outcomes:
        if outcome.error is not None:
            lines.append(
                Text(
                    f"{FAIL} {outcome.combination.label}: {outcome.error.command_line_message}",
                    style="bold red",
                )
            )
    lines.append(
        Text(
            f"{legend} --json prints each configuration's whole document, one per line.",
            style="dim",
        )
    )
    return Group(*lines)
