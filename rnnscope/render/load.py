"""The load view: the file, its layers, each layer's inspect tables, and what was asked on top
(--expect, --stats, --run)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from rnnscope.render.common import FAIL, PASS, UNKNOWN, layer_label, mark, new_table, note_lines, spaced
from rnnscope.render.inspect import parameter_table, summary_table
from rnnscope.render.verify import check_table
from rnnscope.report import Expectation, LoadedLayer, LoadReport, Mismatch, StatRow


def load_view(report: LoadReport) -> RenderableType:
    """Header and notes, the layers at a glance, each layer in detail, the extras, the verdict."""
    sections: list[RenderableType] = [_header(report)]
    if report.layers:
        sections.append(_layer_table(report.layers))
    for layer in report.layers:
        sections += [
            _layer_detail(layer),
            parameter_table(layer.parameters, layer.cell),
            summary_table(layer.layers, layer.cell),
        ]
    if report.problems:
        sections.append(_problems(report.problems))
    if report.expectation is not None:
        sections.append(_expectation(report.expectation))
    if report.stats is not None:
        sections.append(stats_table(report.stats))
    for prefix, verified in report.verify or []:
        title = f"{_name(prefix)}: {verified.module} loaded strictly, against the textbook equations"
        sections.append(check_table(verified.checks, title))
    return spaced(*sections, _verdict(report))


def _name(prefix: str) -> str:
    return prefix or "(no prefix)"


def _where(layer: LoadedLayer) -> str:
    return f"{_name(layer.prefix)} in {layer.container}" if layer.container else _name(layer.prefix)


def _header(report: LoadReport) -> RenderableType:
    count = len(report.layers)
    lines = [
        Text.assemble(
            (report.file, "bold"),
            f"  {report.format_name}: {report.tensor_count} tensors, "
            f"{count} recurrent layer{'' if count == 1 else 's'}",
        )
    ]
    lines += note_lines(report.notes)
    return Group(*lines)


def _layer_table(layers: list[LoadedLayer]) -> Table:
    table = new_table("Recurrent layers, and the constructor that loads each (strict=True)")
    table.add_column("prefix", overflow="fold")
    table.add_column("in", overflow="fold")
    table.add_column("constructor", overflow="fold")
    table.add_column("params", justify="right", no_wrap=True)
    table.add_column("dtype", no_wrap=True)
    for layer in layers:
        table.add_row(
            _name(layer.prefix),
            layer.container or "(file)",
            layer.constructor,
            f"{layer.total_params:,}",
            layer.dtype,
        )
    return table


def _layer_detail(layer: LoadedLayer) -> RenderableType:
    unknown = [key for key, value in layer.config.items() if value is None]
    lines = [
        Text.assemble((f"{_where(layer)}: ", "bold"), (layer.constructor, "bold cyan")),
    ]
    if layer.from_module:
        told = ", ".join(f"{name}={layer.config[name]!r}" for name in layer.from_module)
        lines.append(Text(f"  from the pickled module's attributes: {told}", style="dim"))
    if unknown:
        lines.append(Text(f"  not in the weights: {', '.join(unknown)}", style="dim"))
    agree = layer.total_params == layer.expected_total_params
    lines.append(
        Text.assemble(
            f"  {layer.total_params:,} parameters (formula {layer.expected_total_params:,} ", mark(agree), ")"
        )
    )
    return Group(*lines)


def _problems(problems: list[dict[str, object]]) -> RenderableType:
    lines = [Text("Problems: tensors with recurrent names that no module would load", style="bold")]
    for problem in problems:
        where = f" in {problem['container']}" if problem["container"] else ""
        lines.append(
            Text(f"{FAIL} {_name(str(problem['prefix']))}{where}: {problem['message']}", style="bold red")
        )
    return Group(*lines)


def mismatch_table(title: str, mismatches: list[Mismatch], against: str, by_module: bool = False) -> Table:
    """Each setting the file's tensors contradict: the file's value beside ``against``'s (the
    --expect constructor's, or the model's), with the evidence; ``by_module``: a column naming
    the module each row is about."""
    table = new_table(title)
    if by_module:
        table.add_column("module", no_wrap=True)
    table.add_column("setting", no_wrap=True)
    table.add_column("file", no_wrap=True)
    table.add_column(against, no_wrap=True)
    table.add_column("evidence in the file", overflow="fold")
    for row in mismatches:
        cells = (row.field, str(row.file), str(row.expected), row.evidence)
        table.add_row(*((row.prefix, *cells) if by_module else cells))
    return table


def pytorch_refusal(error: str) -> list[RenderableType]:
    """PyTorch's own load_state_dict message, whole: it names every key."""
    return [Text("PyTorch's load_state_dict says:", style="bold"), Text(error.expandtabs(2), style="red")]


def _expectation(expectation: Expectation) -> RenderableType:
    where = f" in {expectation.container}" if expectation.container else ""
    title = f"--expect {expectation.constructor} against {_name(expectation.prefix)}{where}"
    table = mismatch_table(title, expectation.mismatches, "yours")
    lines: list[RenderableType] = [table] if expectation.mismatches else [Text(title, style="bold")]
    if expectation.pytorch_error is None:
        lines.append(Text(f"{PASS} load_state_dict(strict=True) takes the file's tensors", style="green"))
    else:
        lines += pytorch_refusal(expectation.pytorch_error)
    return Group(*lines)


def _number(value: float | None, signed: bool = True) -> str:
    if value is None:
        return UNKNOWN
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def stats_table(rows: list[StatRow]) -> Table:
    table = new_table("Weights per gate block (bias = b_ih + b_hh; std ÷ (n − 1))")
    table.add_column("prefix", overflow="fold")
    table.add_column("layer", no_wrap=True)
    table.add_column("tensor", no_wrap=True)
    table.add_column("gate", no_wrap=True)
    for name in ("mean", "std", "min", "max"):
        table.add_column(name, justify="right", no_wrap=True)
    previous = None
    for row in rows:
        where = (row.prefix, row.layer, row.direction, row.tensor)
        first = where[:3] != (previous[:3] if previous else None)
        table.add_row(
            _name(row.prefix) if first else "",
            layer_label(row.layer, row.direction) if first else "",
            row.tensor if where != previous else "",
            row.gate,
            _number(row.mean),
            _number(row.std, signed=False),
            _number(row.min),
            _number(row.max),
        )
        previous = where
    return table


def _verdict(report: LoadReport) -> Text:
    failures = [f"{len(report.problems)} problem(s) in the file"] if report.problems else []
    if report.expectation is not None and not report.expectation.ok:
        failures.append(f"--expect does not load {_name(report.expectation.prefix)}")
    failures += [
        f"--run: {_name(prefix)} failed a check"
        for prefix, verified in report.verify or []
        if not verified.ok
    ]
    if failures:
        return Text(f"{FAIL} " + "; ".join(failures), style="bold red")
    if not report.layers:
        return Text(f"{PASS} read safely; no recurrent layer in it", style="green")
    done = "every layer matches its formulas"
    if report.expectation is not None:
        done += f"; --expect loads {_name(report.expectation.prefix)}"
    if report.verify is not None:
        done += "; --run verified every layer"
    return Text(f"{PASS} {done}", style="green")
