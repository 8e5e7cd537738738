"""The gradients view: ‖∂y_T/∂x_t‖ over t as one log-scale strip per row, and a table of
the norm at a few t with the memory horizon."""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rnnscope.render.common import new_table, note_lines, spaced
from rnnscope.report import GradientRow, GradientsReport

LEVELS = "▁▂▃▄▅▆▇█"  # low to high on a log scale shared by every row
ZERO = "·"  # exactly zero: the gradient underflowed in the run's dtype
NOT_FINITE = "!"
CHART_WIDTH = 64  # columns of the strip at most; with the label it fits 80
TABLE_STEPS_BACK = (0, 1, 10, 100, 1000, 10000)


def gradients_view(report: GradientsReport) -> RenderableType:
    """Header, the chart, the legend, the table at a few t, and the notes."""
    first = report.rows[0].config
    layers = first["num_layers"]
    sizes = f"input {first['input_size']}, hidden {first['hidden_size']}, {layers} layer{'s' * (layers > 1)}"
    sizes += ", bidirectional" if first["bidirectional"] else ""
    batch = "unbatched" if first["unbatched"] else f"N = {report.batch}"
    header = Group(
        Text.assemble(
            ("Gradient reaching each step: ‖∂y_T/∂x_t‖ over t", "bold"),
            f"  {report.dtype} on {report.device}, seed {report.seed}",
        ),
        Text(f"{sizes}; L = {report.steps} steps, {batch}"),
        Text(report.target, style="dim"),
        Text("the norm: over H_in, then the root mean square over the batch", style="dim"),
    )
    notes = note_lines(report.notes)
    lines = [
        Text(
            f"horizon: steps back from T = {report.steps - 1} while the norm stays ≥ "
            f"{report.horizon_fraction:g} × its value at T",
            style="dim",
        )
    ]
    if any(row.reaches_start for row in report.rows):
        lines.append(Text("(all): it stays above that all the way back to t = 0", style="dim"))
    if any(row.forget_bias is not None for row in report.rows):
        lines.append(Text("fb=B: B added to every forget-gate bias of the LSTM (--forget-bias)", style="dim"))
    return spaced(header, Group(*chart(report)), Group(_table(report), *lines, *notes))


def chart(report: GradientsReport) -> list[RenderableType]:
    """One strip per row, t = 0 on the left, T on the right, on one log scale for all rows.

    With more steps than columns, a column shows the largest norm among the steps it covers.
    Steps inside the memory horizon are green on a terminal.
    """
    steps = report.steps
    width = min(steps, CHART_WIDTH)
    bounds = [(column * steps // width, (column + 1) * steps // width) for column in range(width)]
    positive = [v for row in report.rows for v in row.norms if v is not None and v > 0]
    low, high = (math.log10(min(positive)), math.log10(max(positive))) if positive else (0.0, 0.0)
    label_width = max(len(row.label) for row in report.rows)
    lines: list[RenderableType] = []
    for row in report.rows:
        line = Text(row.label.ljust(label_width + 2))
        first_in_horizon = steps - 1 - row.horizon
        for start, stop in bounds:
            values = row.norms[start:stop]
            style = "green" if stop - 1 >= first_in_horizon else "dim"
            line.append(_mark(values, low, high), style=style)
        lines.append(line)
    left, right = "t=0", f"t={steps - 1}"
    axis = " " * (label_width + 2) + left + right.rjust(max(width - len(left), len(right) + 1))
    lines.append(Text(axis, style="dim"))
    lines.append(_legend(report, low, high))
    return lines


def _mark(values: list[float | None], low: float, high: float) -> str:
    if any(value is None for value in values):
        return NOT_FINITE
    largest = max(value for value in values if value is not None)
    if largest == 0.0:
        return ZERO
    if high == low:
        return LEVELS[-1]
    level = int((math.log10(largest) - low) / (high - low) * len(LEVELS))
    return LEVELS[min(level, len(LEVELS) - 1)]


def _legend(report: GradientsReport, low: float, high: float) -> Group:
    decades = (high - low) / len(LEVELS)
    scale = (
        f"log scale: {LEVELS[0]} {10**low:.1e} … {LEVELS[-1]} {10**high:.1e}, {decades:.2g} decades a level"
    )
    zero = f"{ZERO} exactly 0: below {report.dtype}'s smallest number, {report.smallest_positive:.1e}"
    if any(value is None for row in report.rows for value in row.norms):
        zero += f"; {NOT_FINITE} not finite"
    return Group(Text(scale), Text(zero))


def _table(report: GradientsReport) -> Table:
    last = report.steps - 1
    shown = [last - back for back in TABLE_STEPS_BACK if back < last] + [0]
    table = new_table("‖∂y_T/∂x_t‖ at a few t")
    table.add_column("", no_wrap=True)
    for t in shown:
        table.add_column(f"t={t}", justify="right", no_wrap=True)
    table.add_column("horizon", justify="right", no_wrap=True)
    for row in report.rows:
        table.add_row(row.label, *(_norm(row.norms[t]) for t in shown), _horizon(row))
    return table


def _norm(value: float | None) -> str:
    if value is None:
        return NOT_FINITE
    return "0" if value == 0.0 else f"{value:.1e}"


def _horizon(row: GradientRow) -> Text:
    if row.reaches_start:
        return Text(f"{row.horizon} (all)", style="green")
    return Text(str(row.horizon))
