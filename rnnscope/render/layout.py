"""The layout view: PyTorch's gate rows, then one table per framework, the export check, the file written."""

from __future__ import annotations

from pathlib import PurePath

from rich.console import Group, RenderableType
from rich.text import Text

from rnnscope.layer.direction import short
from rnnscope.layer.shapes import format_shape
from rnnscope.render.common import FAIL, PASS, UNKNOWN, error_text, mark, new_table, note_lines, spaced
from rnnscope.report import ExportReport, FrameworkLayout, LayoutReport, WriteReport


def layout_view(report: LayoutReport) -> RenderableType:
    """Header, each framework's tensors, and what --export and --write did."""
    sections: list[RenderableType] = [_header(report)]
    sections += [_framework(layout) for layout in report.frameworks]
    if report.export is not None:
        sections.append(_export(report.export))
    if report.written is not None:
        sections.append(_written(report.written))
    return spaced(*sections)


def _header(report: LayoutReport) -> RenderableType:
    rows = ", ".join(f"{gate} {start}:{stop}" for gate, (start, stop) in report.pytorch_rows.items())
    lines = [
        Text.assemble(
            (report.module, "bold"),
            f": {report.pytorch_params:,} parameters in PyTorch, gates {report.pytorch_gate_order}",
        ),
        Text(f"PyTorch's rows of each gate in weight_ih, weight_hh and the biases: {rows}", style="dim"),
    ]
    if report.source is not None:
        lines.append(Text(f"from {report.source['file']}, prefix {report.source['prefix']!r}", style="dim"))
    lines += note_lines(report.notes)
    return Group(*lines)


def _framework(layout: FrameworkLayout) -> RenderableType:
    title = Text.assemble((f"{layout.framework} {layout.variant}", "bold"))
    if not layout.supported:
        return Group(title, Text(f"{FAIL} cannot hold this layer: {layout.cannot_hold}", style="red"))
    title.append(f": {layout.total_params:,} parameters ({layout.difference})")
    table = new_table("")
    table.add_column("layer", no_wrap=True)
    table.add_column("tensor", no_wrap=True)
    table.add_column("shape", no_wrap=True)
    table.add_column("gates", no_wrap=True)
    table.add_column("from PyTorch", overflow="fold")
    for tensor in layout.tensors:
        table.add_row(
            f"{tensor.layer} {'fwd+rev' if tensor.direction == 'both' else short(tensor.direction)}",
            tensor.leaf,
            format_shape(tensor.shape),
            tensor.gate_order,
            Text(tensor.source_gates),
        )
    lines: list[RenderableType] = [title, Text(f"names: {layout.naming}", style="dim"), table]
    lines += [Text(f"  {note}") for note in layout.notes]
    # A statement, not a check of this run: no ✓ or ✗ (layout runs neither library).
    equivalence = Text(layout.equivalence, style="dim" if layout.equivalent else "yellow")
    return Group(*lines, equivalence)


def _export(export: ExportReport) -> RenderableType:
    title = f"--export {export.file}: {export.exporter}, opset {export.opset}, read back with onnx"
    tensors = new_table(title)
    tensors.add_column("tensor", no_wrap=True)
    tensors.add_column("initialiser", overflow="fold")
    tensors.add_column("shape", no_wrap=True)
    tensors.add_column("blocks equal", justify="right", no_wrap=True)
    tensors.add_column("max diff", justify="right", no_wrap=True)
    tensors.add_column("", justify="center")
    for row in export.tensors:
        tensors.add_row(
            row.name,
            Text(row.initializer or "—"),
            format_shape(row.shape),
            f"{row.blocks_equal} of {row.blocks}",
            error_text(row.max_abs_diff),
            mark(row.ok),
        )
    attributes = new_table("")
    attributes.add_column("node", no_wrap=True)
    attributes.add_column("attribute", no_wrap=True)
    attributes.add_column("expected", overflow="fold")
    attributes.add_column("found", overflow="fold")
    attributes.add_column("", justify="center")
    for item in export.attributes:
        attributes.add_row(item.node, item.name, Text(item.expected), Text(item.found), mark(item.ok))
    values = new_table("Graph inputs and outputs: PyTorch's names")
    values.add_column("", no_wrap=True)
    values.add_column("name", no_wrap=True)
    values.add_column("shape", no_wrap=True)
    values.add_column("expected", no_wrap=True)
    values.add_column("", justify="center")
    for value in export.values:
        values.add_row(
            value.role,
            value.name or UNKNOWN,
            _dims(value.dims),
            f"{value.expected_name or UNKNOWN} {_dims(value.expected)}",
            mark(value.ok),
        )
    verdict = (
        Text(f"{PASS} the exported model holds the layer as the onnx table says", style="green")
        if export.ok
        else Text(f"{FAIL} the exported model differs from the onnx table", style="bold red")
    )
    sections: list[RenderableType] = [tensors, attributes, values, verdict]
    if export.rebuild is not None:
        sections += [
            Text(""),
            Text(
                "Python that rebuilds the exported layer and its input (the model's metadata key 'rebuild'):"
            ),
            Text(export.rebuild.rstrip("\n")),  # its lines fit 80 columns: copied as printed
        ]
    return Group(*sections)


def _dims(dims: tuple[int | str, ...] | None) -> str:
    """``(L, N, 10)``: named dynamic axes beside fixed sizes."""
    return UNKNOWN if dims is None else "(" + ", ".join(str(dim) for dim in dims) + ")"


def _written(written: WriteReport) -> Text:
    # Writing is not a check of the run: no ✓. The "wrote FILE" line comes last, as every
    # command that writes a file says it.
    return Text(
        f"{PurePath(written.file).name} holds {len(written.arrays)} arrays for {written.framework} "
        f"{written.variant}, keyed by the names above ({written.arrays[0].dtype if written.arrays else ''})"
    )
