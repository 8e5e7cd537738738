"""The model view: the module tree, one section per recurrent module, failures, cost, verdict."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from rnnscope.layer.shapes import format_shape
from rnnscope.model.report import CallFailure, ModelReport, RecurrentModule, Signature, TreeRow, WeightsLoaded
from rnnscope.render.activity import activity_legend, gate_sections
from rnnscope.render.common import FAIL, PASS, count, mark, new_table, note_lines, spaced
from rnnscope.render.inspect import gate_table, parameter_table, state_view, tensor_table
from rnnscope.render.load import mismatch_table, pytorch_refusal, stats_table
from rnnscope.report import ModelActivity


def model_view(report: ModelReport) -> RenderableType:
    """Header and notes, the tree, each recurrent module (in full with --layer), the weights,
    the failures, the cost split, and the verdict."""
    sections: list[RenderableType] = [_header(report), _tree(report.tree, report.layers)]
    if report.weights is not None:
        sections.append(_weights(report.weights))
    for layer in report.layers:
        if report.shown_layer is None:
            sections.append(_compact(layer))
        elif layer.path == report.shown_layer:
            sections.append(_full(layer))
    sections += [_failure(failure) for failure in report.failures]
    if report.stats is not None:
        sections.append(stats_table(report.stats))
    if report.layers:
        sections.append(_cost(report))
    if report.activity is not None:
        sections += _activity(report.activity)
    return spaced(*sections, _verdict(report))


def _activity(activity: ModelActivity) -> list[RenderableType]:
    """--activity: each module's gate panels, as ``rnnscope activity`` draws one layer's."""
    counted = [
        Text(f"{_name(module.path)}: {module.calls:,} call(s), {module.pairs:,} (step, sequence) pairs")
        for module in activity.modules
    ]
    header = Group(
        Text("Gate saturation, unit by unit (--activity)", style="bold"),
        Text(f"left: the fraction of a unit's pairs with its gate < {activity.low:g}"),
        Text(f"right: the fraction with its gate > {activity.high:g}"),
        *counted,
    )
    sections = [gate for module in activity.modules for gate in gate_sections(module.gate_units())]
    return [header, *sections, Group(*activity_legend(activity.mostly))]


def _name(path: str) -> str:
    return path or "(the model itself)"


def _header(report: ModelReport) -> RenderableType:
    title = Text.assemble(
        (report.model_class, "bold"),
        f"  {report.target}  on {report.device}, {report.dtype}, seed {report.seed}",
    )
    return Group(title, *note_lines(report.notes))


def _tree(rows: list[TreeRow], layers: list[RecurrentModule]) -> RenderableType:
    calls = {layer.path: layer.calls for layer in layers}
    root = Tree(Text(rows[0].class_name, style="bold"), guide_style="dim")
    branches: dict[int, Tree] = {0: root}
    for row in rows[1:]:
        parent = branches[row.depth - 1]
        if row.folded:
            label = Text(
                f"{row.folded} other module{'s' if row.folded > 1 else ''}: {', '.join(row.folded_classes)}",
                style="dim",
            )
            parent.add(label)
            continue
        label = Text.assemble(
            (row.path.rpartition(".")[2], "bold" if row.recurrent else ""), f"  {row.class_name}"
        )
        if row.recurrent:
            made = calls.get(row.path, 0)
            label.append(f"  · {made} call{'s' if made != 1 else ''}", style="cyan")
        branches[row.depth] = parent.add(label)
    if rows[0].recurrent:
        made = calls.get("", 0)
        root.label = Text.assemble(
            (rows[0].class_name, "bold"), (f"  · {made} call{'s' if made != 1 else ''}", "cyan")
        )
    return root


def shape_text(value: Any) -> str:
    """A signature's shape: (4, 7, 10); packed (20, 10) for a PackedSequence's data; h, c pairs."""
    if value is None:
        return "—"
    if isinstance(value, dict) and "data" in value:
        return f"packed {format_shape(tuple(value['data']))}"
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], list):
        return f"h {shape_text(value[0])}, c {shape_text(value[1])}"  # an LSTM's (h, c)
    if isinstance(value, list):
        return format_shape(tuple(value))
    return str(value)


def _summary_line(layer: RecurrentModule) -> Text:
    parts = [f"{layer.calls} call{'s' if layer.calls != 1 else ''}"]
    parts.append("MACs unknown" if layer.macs is None else f"{layer.macs:,} MACs")
    parts.append(f"{layer.total_params:,} parameters")
    line = Text(" · ".join(parts))
    verified = layer.verify
    if verified is not None:
        if verified.reason is not None:
            line.append(f" · not verified: {verified.reason}", style="dim")
        else:
            error = "—" if verified.max_rel_error is None else f"{verified.max_rel_error:.1e}"
            line.append(
                f" · {verified.calls_checked} call{'s' if verified.calls_checked != 1 else ''} verified, "
                f"max error {error} (limit {verified.tolerance:g}) "
            )
            line.append_text(mark(verified.ok))
    return line


def _signature_table(layer: RecurrentModule) -> Table:
    table = new_table("Calls by shape signature")
    table.add_column("calls", justify="right", no_wrap=True)
    table.add_column("input", overflow="fold")
    table.add_column("state in", overflow="fold")
    table.add_column("output", overflow="fold")
    table.add_column("state out", overflow="fold")
    table.add_column("", justify="center")
    for signature in layer.signatures:
        table.add_row(
            str(signature.count),
            shape_text(signature.input),
            shape_text(signature.state_in),
            shape_text(signature.output),
            shape_text(signature.state_out),
            mark(signature.ok if signature.tensors else None),
        )
    return table


def _title(layer: RecurrentModule) -> Text:
    title = Text.assemble((_name(layer.path), "bold"), f"  {layer.constructor}")
    if layer.aliases:
        title.append(f"  (also {', '.join(layer.aliases)}: one module, shared)", style="dim")
    if not layer.class_name.startswith("torch.nn."):
        title.append(f"  ({layer.class_name})", style="dim")
    return title


def _problems(layer: RecurrentModule) -> list[Text]:
    return [Text(f"{FAIL} {problem}", style="bold red") for problem in layer.problems]


def _compact(layer: RecurrentModule) -> RenderableType:
    parts: list[RenderableType] = [_title(layer), _summary_line(layer), *_problems(layer)]
    if layer.signatures:
        parts.append(_signature_table(layer))
    if layer.gates is not None:
        parts.append(gate_table(layer.gates))
    return Group(*parts)


def _full(layer: RecurrentModule) -> RenderableType:
    parts: list[RenderableType] = [_compact(layer)]
    for number, signature in enumerate(layer.signatures, 1):
        parts += _signature_detail(number, signature)
    parts.append(parameter_table(layer.parameters))
    return spaced(*parts)


def _signature_detail(number: int, signature: Signature) -> list[RenderableType]:
    if not signature.tensors:
        return [Text(f"signature {number}: its torch-level call is not known", style="dim")]
    heading = Text(f"signature {number}, first of its {signature.count} call(s):", style="bold")
    return [
        Group(heading, tensor_table(signature.tensors)),
        state_view(signature.states, signature.state_notes),
    ]


def _failure(failure: CallFailure) -> RenderableType:
    expected = "" if failure.expected is None else f": expected {format_shape(tuple(failure.expected))}"
    details = [
        Text(f"input {shape_text(failure.input)}, state in {shape_text(failure.state_in)}"),
        Text(f"{failure.axis}{expected}"),
        Text(failure.explanation),
        Text(f"PyTorch: {failure.pytorch_error}", style="red"),
    ]
    heading = f"{FAIL} {_name(failure.path)}: {failure.constructor} could not take its call"
    return Group(
        Text(heading, style="bold red"), *(Padding(line, (0, 0, 0, 2), expand=False) for line in details)
    )


def _weights(weights: WeightsLoaded) -> RenderableType:
    where = f" (state_dict at {weights.container!r})" if weights.container else ""
    prefix = f", prefix {weights.prefix!r} stripped" if weights.prefix else ""
    if weights.ok:
        return Text(
            f"{PASS} --weights {weights.file}{where}: {weights.loaded} tensors loaded "
            f"with strict=True{prefix}",
            style="green",
        )
    lines: list[RenderableType] = [
        Text(
            f"{FAIL} --weights {weights.file}{where}{prefix}: load_state_dict(strict=True) refused",
            style="bold red",
        )
    ]
    if weights.mismatches:
        title = "The file's layers against the model's"
        lines.append(mismatch_table(title, weights.mismatches, "model", by_module=True))
    lines += pytorch_refusal(weights.pytorch_error or "")
    return Group(*lines)


def _cost(report: ModelReport) -> RenderableType:
    table = new_table("Cost of what ran, every call added up")
    table.add_column("module", overflow="fold")
    table.add_column("calls", justify="right", no_wrap=True)
    table.add_column("MACs", justify="right", no_wrap=True)
    table.add_column("2·MACs / model FLOPs", justify="right", no_wrap=True)
    for layer in report.layers:
        table.add_row(
            _name(layer.path), str(layer.calls), _macs(layer.macs), _share(layer.macs, report.model_flops)
        )
    table.add_row(
        Text("recurrent", style="bold"),
        str(sum(layer.calls for layer in report.layers)),
        _macs(report.recurrent_macs),
        _share(report.recurrent_macs, report.model_flops),
    )
    lines: list[RenderableType] = [table]
    if report.model_flops is not None:
        lines.append(
            Text(
                f"the whole model: {count(report.model_flops)} FLOPs counted by torch's FlopCounterMode "
                "(1 MAC = 2 FLOPs)"
            )
        )
    lines.append(
        Text(f"parameters: {report.recurrent_params:,} recurrent of {report.total_params:,} in the model")
    )
    return Group(*lines)


def _macs(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


def _share(macs: int | None, flops: int | None) -> str:
    if macs is None or not flops:
        return "—"
    return f"{2 * macs / flops:.0%}"


def _failed_checks(layer: RecurrentModule) -> str:
    checks = []
    if layer.problems:
        checks.append(f"{len(layer.problems)} problem{'s' if len(layer.problems) > 1 else ''} above")
    if layer.verify is not None and layer.verify.ok is False:
        checks.append(f"{len(layer.verify.failed_calls)} call(s) differ from the reference equations")
    if not all(signature.ok for signature in layer.signatures):
        checks.append("a shape differs from its formula")
    return ", ".join(checks)


def _verdict(report: ModelReport) -> Text:
    if report.error is not None:
        return Text(f"{FAIL} the forward raised {report.error}", style="bold red")
    if report.ok:
        calls = sum(layer.calls for layer in report.layers)
        checked = sum(layer.verify.calls_checked for layer in report.layers if layer.verify is not None)
        return Text(
            f"{PASS} {len(report.layers)} recurrent module(s), {calls} call(s): every call's shapes "
            f"match their formulas; {checked} call(s) recomputed with the reference equations agree",
            style="green",
        )
    failed = [_name(failure.path) + " could not take its call" for failure in report.failures]
    failed += [f"{_name(layer.path)}: {_failed_checks(layer)}" for layer in report.layers if not layer.ok]
    if report.weights is not None and not report.weights.ok:
        failed.append("--weights did not load")
    return Text(f"{FAIL} " + "; ".join(failed), style="bold red")
