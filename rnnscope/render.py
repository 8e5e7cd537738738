"""Rich views of the reports: the only module that imports rich's tables.

Every view reads a report object and nothing else; the JSON view is ``report.to_dict()``.
Tables are laid out to fit 80 columns; colour appears only on a terminal (Rich decides).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from rnnscope.comparison import CompareReport
from rnnscope.cost import Cost, LayerCost
from rnnscope.equations import Equation, GateRow
from rnnscope.report import (
    CheckRow,
    InspectReport,
    ParameterRow,
    ProgressCallback,
    SmokeReport,
    TensorRow,
    VerifyReport,
)
from rnnscope.spec import format_shape

if TYPE_CHECKING:
    # benchmark.py imports torch; the compare view must not pay for it.
    from rnnscope.benchmark import BenchReport

PASS, FAIL, UNKNOWN = "✓", "✗", "—"


def mark(ok: bool | None) -> Text:
    if ok is None:
        return Text(UNKNOWN, style="dim")
    return Text(PASS, style="green") if ok else Text(FAIL, style="bold red")


def _table(title: str) -> Table:
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        collapse_padding=True,
        pad_edge=False,
    )


def _spaced(*sections: RenderableType) -> Group:
    """The sections with one blank line between them."""
    spaced: list[RenderableType] = []
    for section in sections:
        spaced += [Text(""), section] if spaced else [section]
    return Group(*spaced)


def inspect_view(report: InspectReport) -> RenderableType:
    """Header, tensors, parameters, the parameter summary and (with --gates) the gate blocks."""
    sections = [
        _header(report),
        _tensor_table(report.tensors),
        _parameter_table(report),
        _summary_table(report),
    ]
    if report.gates is not None:
        sections.append(gate_table(report.gates))
    if report.cost is not None:
        sections.append(cost_view(report.cost))
    return _spaced(*sections, _totals(report))


def _header(report: InspectReport) -> RenderableType:
    lines = [
        Text.assemble((report.module, "bold"), f"  on {report.device}, {report.dtype}, seed {report.seed}"),
        Text(
            "symbols: " + "  ".join(f"{name}={value}" for name, value in report.symbols.items()), style="dim"
        ),
    ]
    lines += [Text(f"note: {note}", style="yellow") for note in report.notes]
    return Group(*lines)


def _tensor_table(rows: list[TensorRow]) -> Table:
    table = _table("Tensors: documented formula, expected shape, actual shape")
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


def _values(values: list[int]) -> str:
    return "[" + ", ".join(map(str, values)) + "]"


def _gates(row: ParameterRow) -> str:
    """``i f g o: 4 × (20, 10)`` for stacked gates; the matrix symbol for a single block."""
    if len(row.gates) == 1:
        return row.gates[0].symbol
    block = (row.expected[0] // len(row.gates), *row.expected[1:])
    return f"{' '.join(g.gate for g in row.gates)} {len(row.gates)}×{format_shape(block)}"


def _parameter_table(report: InspectReport) -> Table:
    table = _table("Parameters, in named_parameters() order, split into gate blocks")
    table.add_column("parameter", no_wrap=True)
    table.add_column("layer", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("numel", justify="right", no_wrap=True)
    table.add_column("gate blocks", overflow="fold")
    table.add_column("", justify="center")
    for row in report.parameters:
        table.add_row(
            row.name,
            _layer(row.layer, row.direction),
            format_shape(row.shape),
            f"{row.numel:,}",
            _gates(row),
            mark(row.ok),
        )
    return table


def _layer(layer: int, direction: str) -> str:
    return f"{layer} {'rev' if direction == 'reverse' else 'fwd'}"


def _summary_table(report: InspectReport) -> Table:
    table = _table("Parameters per layer and direction: the closed formula")
    table.add_column("layer", no_wrap=True)
    table.add_column("formula")
    table.add_column("count", justify="right")
    for row in report.layers:
        table.add_row(_layer(row.layer, row.direction), f"{row.formula}\n{row.worked}", f"{row.count:,}")
    return table


def _totals(report: InspectReport) -> RenderableType:
    agree = report.total_params == report.expected_total_params
    total = Text.assemble(
        ("total: ", "bold"),
        f"{report.total_params:,} parameters (formula {report.expected_total_params:,} ",
        mark(agree),
        f"), {report.ratio_vs_rnn:.4g}× the {report.rnn_params:,} of the same-size RNN",
    )
    failed = [row.name for row in report.tensors if row.ok is False]
    failed += [row.name for row in report.parameters if not row.ok]
    if failed:
        verdict = Text(f"{FAIL} differs from its formula: {', '.join(failed)}", style="bold red")
    elif report.forward == "skipped":
        verdict = Text(f"{PASS} every parameter matches its formula (forward pass skipped)", style="green")
    else:
        verdict = Text(f"{PASS} every shape matches its formula", style="green")
    return Group(total, Text(report.explanation), verdict)


def gate_table(rows: list[GateRow]) -> Table:
    """Which rows of each weight are which gate's matrix (layer 0; the rest split alike)."""
    table = _table("Gate blocks of layer 0 (all layers and directions alike)")
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


def verify_view(report: VerifyReport) -> RenderableType:
    """Header, the checks against the reference, the equations with shapes, the gate blocks."""
    header = [
        Text.assemble((report.module, "bold"), f"  on {report.device}, {report.dtype}, seed {report.seed}"),
    ]
    header += [Text(f"note: {note}", style="yellow") for note in report.notes]
    return _spaced(
        Group(*header),
        check_table(report.checks, "Module against the textbook equations (float64 reference)"),
        equation_table(report.equations),
        gate_table(report.gates),
        _verdict(report),
    )


def _error(value: float | None) -> str:
    return UNKNOWN if value is None else f"{value:.2e}"


def check_table(rows: list[CheckRow], title: str) -> Table:
    table = _table(title)
    table.add_column("compared", no_wrap=True)
    table.add_column("max abs err", justify="right", no_wrap=True)
    table.add_column("max rel err", justify="right", no_wrap=True)
    table.add_column("tolerance", justify="right", no_wrap=True)
    table.add_column("", justify="center")
    for row in rows:
        table.add_row(
            Text(row.name),
            _error(row.max_abs_error),
            _error(row.max_rel_error),
            f"{row.tolerance:g}",
            mark(row.ok),
        )
        if row.detail is not None:
            table.add_row("", Text(row.detail, style="red"), "", "", "")
    return table


def equation_table(rows: list[Equation]) -> Table:
    """Each equation, then each of its terms with its shapes (one sequence; the batch adds N)."""
    table = _table("Equations with the shape of every term (one sequence; N run at once)")
    table.add_column("equation / term", overflow="fold")
    table.add_column("shapes", no_wrap=True)
    for equation in rows:
        table.add_row(Text(equation.equation, style="bold"), "")
        for term in equation.terms:
            table.add_row(Text(f"  {term.term}"), Text(term.shapes))
    return table


def _verdict(report: VerifyReport) -> Text:
    failed = [row.name for row in report.checks if not row.ok]
    if failed:
        return Text(f"{FAIL} out of tolerance: {', '.join(failed)}", style="bold red")
    return Text(
        f"{PASS} all {len(report.checks)} compared tensors agree with the textbook equations "
        f"within {report.tolerance:g}",
        style="green",
    )


def smoke_view(report: SmokeReport) -> RenderableType:
    """One row per case, the failures spelled out, and the verdict."""
    table = _table(f"Smoke: inspect + verify on {report.device}, {report.dtype}")
    table.add_column("case", overflow="fold")
    table.add_column("shapes", justify="center")
    table.add_column("max rel err", justify="right", no_wrap=True)
    table.add_column("tolerance", justify="right", no_wrap=True)
    table.add_column("", justify="center")
    for case in report.cases:
        worst = case.worst
        table.add_row(
            Text(case.name),
            mark(case.shapes_ok),
            _error(worst.max_rel_error) if worst else UNKNOWN,
            f"{worst.tolerance:g}" if worst else UNKNOWN,
            mark(case.ok),
        )
    lines: list[RenderableType] = [table, Text("")]
    for case in report.failed:
        lines.append(Text(f"{FAIL} {case.name}: {case.error}", style="bold red"))
        lines.append(Text(f"  reproduce: {case.command}", style="dim"))
    passed = len(report.cases) - len(report.failed)
    summary = f"{passed} of {len(report.cases)} cases passed in {report.seconds:.2f} s"
    lines.append(Text(f"{PASS if report.ok else FAIL} {summary}", style="green" if report.ok else "bold red"))
    return Group(*lines)


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[ProgressCallback | None]:
    """A transient progress bar on stderr, only when ``enabled`` and stderr is a terminal.

    Yields the callback that moves it — (steps done, steps in all, what the last step was) — or
    None where no bar is shown, so that piped and ``--json`` runs print nothing extra.
    """
    console = Console(stderr=True)
    if not (enabled and console.is_terminal):
        yield None
        return
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=None)

        def advance(done: int, total: int, step: str) -> None:
            progress.update(task, completed=done, total=total, description=step)

        yield advance


def count(value: float) -> str:
    """1,234 below ten thousand; 12.3 k, 4.56 M, 7.89 G, 1.23 T above it."""
    if value < 10_000:
        return f"{value:,.0f}"
    for unit, scale in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:,.0f}"


def size(value: float) -> str:
    """Bytes in binary units: 512 B, 2.5 KiB, 1.2 GiB."""
    for unit, scale in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} B"


def cost_view(cost: Cost) -> RenderableType:
    """MACs per layer and direction, the FLOP total and the memory of one forward pass."""
    projections = any(row.projection_macs for row in cost.layers)
    table = _table("Cost: MACs and FLOPs of one forward pass")
    table.add_column("layer", no_wrap=True)
    table.add_column("rows", justify="right")
    table.add_column("W_ih x", justify="right")
    table.add_column("W_hh h", justify="right")
    if projections:
        table.add_column("W_hr", justify="right")
    table.add_column("elemwise", justify="right")
    table.add_column("bias", justify="right")
    table.add_column("FLOPs", justify="right")
    groups = _identical_layers(cost.layers)
    for first, last, directions in groups:
        for row in directions:
            label = _layer(first, row.direction)
            if last > first:
                label = f"{first}–{last} {'rev' if row.direction == 'reverse' else 'fwd'}"
            cells = [label, count(row.rows), count(row.input_macs)]
            cells += [count(row.recurrent_macs)] + ([count(row.projection_macs)] if projections else [])
            cells += [count(row.elementwise), count(row.bias_adds), count(row.flops)]
            table.add_row(*cells)
    lines = [
        Text.assemble(
            ("cost: ", "bold"),
            f"{count(cost.macs)} MACs, {count(cost.flops)} FLOPs "
            f"(2 × MACs + {count(cost.elementwise)} element-wise + {count(cost.bias_adds)} bias adds)",
        ),
        Text(
            f"memory ({cost.dtype}): parameters {size(cost.param_bytes)}, input {size(cost.input_bytes)}, "
            f"output {size(cost.output_bytes)}, states {size(cost.state_bytes)}; a training step keeps "
            f"about {size(cost.activation_bytes)} for backward (estimate)"
        ),
    ]
    merged = [(first, last) for first, last, _ in groups if last > first]
    if merged:
        first, last = merged[0]
        lines.append(
            Text(
                f"a row such as {first}–{last} stands for layers with equal counts; its numbers are per layer"
            )
        )
    if cost.padded_macs is not None and cost.padding_waste is not None:
        lines.append(
            Text(
                f"packed: {count(cost.macs)} MACs over the real steps; the padded L × N rectangle "
                f"would take {count(cost.padded_macs)}, {cost.padding_waste:.0%} of it on padding"
            )
        )
    return Group(table, *lines)


def _identical_layers(rows: list[LayerCost]) -> list[tuple[int, int, list[LayerCost]]]:
    """Consecutive layers whose counts are all equal, as (first, last, that layer's rows): a
    32-layer stack is two table rows, not thirty-two."""
    by_layer: dict[int, list[LayerCost]] = {}
    for row in rows:
        by_layer.setdefault(row.layer, []).append(row)
    groups: list[tuple[int, int, list[LayerCost]]] = []
    for layer, directions in by_layer.items():
        if groups and _counts(groups[-1][2]) == _counts(directions):
            groups[-1] = (groups[-1][0], layer, groups[-1][2])
        else:
            groups.append((layer, layer, directions))
    return groups


def _counts(rows: list[LayerCost]) -> list[dict[str, object]]:
    return [{**row.to_dict(), "layer": None} for row in rows]


def compare_view(report: CompareReport) -> RenderableType:
    """One row per kind: parameters, ratio to the RNN, MACs, FLOPs and memory."""
    config = report.config
    shape = (
        f"input {config['input_size']}, hidden {config['hidden_size']}, {config['num_layers']} layer(s)"
        + (", bidirectional" if config["bidirectional"] else "")
        + (f", proj {config['proj_size']}" if config["proj_size"] else "")
        + ("" if config["bias"] else ", no bias")
    )
    table = _table(f"RNN, GRU and LSTM: {shape}")
    packed = any(row.padded_macs is not None for row in report.rows)
    columns = (
        "kind",
        "params",
        "× RNN",
        "MACs",
        *(("padded",) if packed else ()),
        "FLOPs",
        "weights",
        "kept for bwd",
    )
    for name in columns:
        table.add_column(name, justify="left" if name == "kind" else "right", no_wrap=True)
    for row in report.rows:
        padded = [count(row.padded_macs)] if row.padded_macs is not None else []
        table.add_row(
            row.kind,
            f"{row.total_params:,}",
            f"{row.ratio_vs_rnn:.4g}×",
            count(row.macs),
            *padded,
            count(row.flops),
            size(row.param_bytes),
            size(row.activation_bytes),
        )
    lines = [Text(f"note: {note}", style="yellow") for note in report.notes]
    waste = report.rows[0].padding_waste
    if waste is not None:
        lines.append(
            Text(
                f"packed: MACs count the real steps, sum(lengths) = {sum(config['lengths'])}; the padded "
                f"column is the L × N rectangle, {waste:.0%} of which would be padding"
            )
        )
    lines.append(
        Text(
            "MACs and FLOPs of one forward pass over the synthetic input "
            f"({'cell: one step' if config['cell'] else 'every step, layer and direction'}); "
            f"memory in {report.dtype}; 'kept for bwd' is an estimate of what a training step keeps.",
            style="dim",
        )
    )
    return Group(table, *lines)


def bench_view(report: BenchReport) -> RenderableType:
    """Time per pass with its spread, throughput, and the rate against a plain matmul."""
    timing = report.timing
    what = "forward + backward" if report.backward else "forward (inference mode)"
    table = _table(f"{report.module}: {what} on {report.device}, {report.dtype}, {report.iters} passes")
    table.add_column("", no_wrap=True)
    table.add_column("value", justify="right", no_wrap=True)
    table.add_column("", style="dim")
    table.add_row("median", _ms(timing.median_s), "per pass")
    table.add_row("spread", f"{_ms(timing.min_s)} – {_ms(timing.max_s)}", "min – max")
    table.add_row("IQR", f"{_ms(timing.q1_s)} – {_ms(timing.q3_s)}", "quartiles")
    table.add_row("tokens/s", count(report.tokens_per_s), f"{report.tokens_per_pass:,} tokens per pass")
    table.add_row("GFLOP/s", f"{report.gflops:,.4g}", f"{count(report.flops_per_pass)} FLOPs per pass")
    m, k, n = report.matmul_shape
    table.add_row("matmul GFLOP/s", f"{report.matmul_gflops:,.4g}", f"({m}, {k}) @ ({k}, {n})")
    table.add_row("of matmul", f"{report.fraction_of_matmul:.0%}", "layer GFLOP/s ÷ matmul GFLOP/s")
    lines = [Text(f"note: {note}", style="yellow") for note in report.notes]
    return Group(table, *lines)


def _ms(seconds: float) -> str:
    """Milliseconds with three significant figures, without an exponent."""
    milliseconds = seconds * 1e3
    return f"{milliseconds:,.0f} ms" if milliseconds >= 100 else f"{milliseconds:.3g} ms"


def print_view(view: RenderableType, console: Console | None = None) -> None:
    (console or Console()).print(view)
