"""The inspect view: header, tensors, parameters, the closed formula, gate blocks, totals."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rnnscope.layer.cost import LayerParameters
from rnnscope.layer.equations import GateRow
from rnnscope.layer.shapes import format_shape
from rnnscope.render.common import (
    PASS,
    UNKNOWN,
    failure_lines,
    layer_label,
    mark,
    new_table,
    note_lines,
    spaced,
)
from rnnscope.render.cost import cost_view
from rnnscope.report import InspectReport, ParameterRow, StateRow, TensorRow


def inspect_view(report: InspectReport) -> RenderableType:
    """Header, tensors, states, parameters, the parameter summary, (with --gates) the gate
    blocks, the cost, and the totals."""
    sections = [
        _header(report),
        tensor_table(report.tensors),
        state_view(report.states, report.state_notes),
        parameter_table(report.parameters, report.cell),
        summary_table(report.layers, report.cell),
    ]
    if report.gates is not None:
        sections.append(gate_table(report.gates, report.cell))
    if report.cost is not None:
        sections.append(cost_view(report.cost, report.cell))
    return spaced(*sections, _totals(report))


def _header(report: InspectReport) -> RenderableType:
    lines = [
        Text.assemble((report.module, "bold"), f"  on {report.device}, {report.dtype}, seed {report.seed}"),
        Text(
            "symbols: " + "  ".join(f"{name}={value}" for name, value in report.symbols.items()), style="dim"
        ),
    ]
    lines += note_lines(report.notes)
    return Group(*lines)


def tensor_table(rows: list[TensorRow]) -> Table:
    table = new_table("Tensors: documented formula, expected shape, actual shape")
    table.add_column("tensor", no_wrap=True)
    table.add_column("formula", overflow="fold")
    table.add_column("expected")
    table.add_column("actual")
    table.add_column("", justify="center")
    group = ""
    for row in rows:
        # packed_input.data, .batch_sizes ...: the prefix once, so the table fits 80 columns.
        prefix, dot, field = row.name.rpartition(".")
        if dot and prefix != group:
            table.add_row(prefix, "", "", "", "")
        group = prefix
        name = f"  .{field}" if dot else row.name
        table.add_row(name, row.formula, format_shape(row.expected), format_shape(row.shape), mark(row.ok))
        if row.values is not None:
            expected = _values(row.expected_values) if row.expected_values is not None else ""
            table.add_row("", Text("values", style="dim"), expected, _values(row.values), "")
    return table


def state_view(rows: list[StateRow], notes: list[str]) -> RenderableType:
    """Each row of h_n / c_n: the slice of output it equals (checked), or why it is in none."""
    # A cell's state (index None) has no layer or direction: no layer column then.
    cell = all(row.slot.index is None for row in rows)
    table = new_table("States: the slice of output that equals each row of the final state")
    table.add_column("state", no_wrap=True)
    if not cell:
        table.add_column("layer", no_wrap=True)
    table.add_column("equals, or why it is in no slice of output", overflow="fold")
    table.add_column("max |diff|", justify="right", no_wrap=True)
    table.add_column("", justify="center")
    for row in rows:
        slot = row.slot
        equals = Text(slot.equals) if slot.equals is not None else Text(slot.reason or "", style="dim")
        layer = [] if cell else [layer_label(slot.layer, slot.direction)]
        table.add_row(slot.state_expression, *layer, equals, _diff(row), mark(row.ok))
        if row.detail is not None:
            table.add_row("", *[""] * len(layer), Text(row.detail, style="red"), "", "")
    return Group(table, *note_lines(notes, style="dim"))


def _diff(row: StateRow) -> str:
    if row.max_abs_diff is None:
        return UNKNOWN
    return "0" if row.max_abs_diff == 0 else f"{row.max_abs_diff:.2e}"


def _values(values: list[int]) -> str:
    return "[" + ", ".join(map(str, values)) + "]"


def _gates(row: ParameterRow) -> str:
    """``i f g o: 4 × (20, 10)`` for stacked gates; the matrix symbol for a single block."""
    if len(row.gates) == 1:
        return row.gates[0].symbol
    block = (row.expected[0] // len(row.gates), *row.expected[1:])
    return f"{' '.join(g.gate for g in row.gates)} {len(row.gates)}×{format_shape(block)}"


def parameter_table(rows: list[ParameterRow], cell: bool = False) -> Table:
    """Each parameter with its layer and direction (a cell has neither: no layer column)."""
    table = new_table("Parameters, in named_parameters() order, split into gate blocks")
    table.add_column("parameter", no_wrap=True)
    if not cell:
        table.add_column("layer", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("numel", justify="right", no_wrap=True)
    table.add_column("gate blocks", overflow="fold")
    table.add_column("", justify="center")
    for row in rows:
        table.add_row(
            row.name,
            *([] if cell else [layer_label(row.layer, row.direction)]),
            format_shape(row.shape),
            f"{row.numel:,}",
            _gates(row),
            mark(row.ok),
        )
    return table


def summary_table(rows: list[LayerParameters], cell: bool = False) -> Table:
    """The closed parameter formula per layer and direction (a cell: its one row)."""
    if cell:
        table = new_table("Parameters of the cell: the closed formula")
    else:
        table = new_table("Parameters per layer and direction: the closed formula")
        table.add_column("layer", no_wrap=True)
    table.add_column("formula")
    table.add_column("count", justify="right")
    for row in rows:
        label = [] if cell else [layer_label(row.layer, row.direction)]
        table.add_row(*label, f"{row.formula}\n{row.worked}", f"{row.count:,}")
    return table


def _totals(report: InspectReport) -> RenderableType:
    agree = report.total_params == report.expected_total_params
    total = Text.assemble(
        ("total: ", "bold"),
        f"{report.total_params:,} parameters (formula {report.expected_total_params:,} ",
        mark(agree),
        f"), {report.ratio_vs_rnn:.4g}× the {report.rnn_params:,} of the same-size RNN",
    )
    verdict = report.verdict
    checked = sum(1 for row in report.states if row.ok is not None)
    verdicts = failure_lines(verdict)
    if verdict.ok:
        if report.forward == "skipped":
            text = "every parameter matches its formula (forward pass skipped)"
        else:
            text = "every shape matches its formula"
        if checked:
            text += (
                f"; the {checked} states in output equal their slices"
                if checked > 1
                else "; the state in output equals its slice"
            )
        verdicts.append(Text(f"{PASS} {text}", style="green"))
    return Group(total, Text(report.explanation), *verdicts)


def gate_table(rows: list[GateRow], cell: bool = False) -> Table:
    """Which rows of each weight are which gate's matrix (layer 0; the rest split alike)."""
    title = (
        "Gate blocks of the cell's weights"
        if cell
        else "Gate blocks of layer 0 (every layer and direction splits its rows alike)"
    )
    table = new_table(title)
    table.add_column("parameter", no_wrap=True)
    table.add_column("rows", no_wrap=True, justify="right")
    table.add_column("symbol", no_wrap=True)
    table.add_column("gate")
    table.add_column("block", no_wrap=True)
    previous = None
    for row in rows:
        table.add_row(
            row.parameter if row.parameter != previous else "",
            f"{row.start}:{row.stop}",
            row.symbol,
            f"{row.gate}  {row.meaning}",
            format_shape(row.shape),
        )
        previous = row.parameter
    return table
