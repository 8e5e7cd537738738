"""The cost views: MACs, FLOPs and memory of one layer (inspect) and of three kinds (compare)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from rnnscope.comparison import CompareReport
from rnnscope.layer.cost import Cost, LayerCost
from rnnscope.render.common import count, layer_label, new_table, note_lines, size


def cost_view(cost: Cost, cell: bool = False) -> RenderableType:
    """MACs per layer and direction (a cell: its one row), the FLOP total and the memory of one
    forward pass."""
    projections = any(row.projection_macs for row in cost.layers)
    table = new_table("Cost: MACs and FLOPs of one forward pass")
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
            label = "cell" if cell else layer_label(first, row.direction)
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
    table = new_table(f"RNN, GRU and LSTM: {shape}")
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
    lines = note_lines(report.notes)
    waste = report.rows[0].padding_waste
    if waste is not None:
        lines.append(
            Text(
                f"packed: MACs count the real steps, sum(lengths) = {sum(config['lengths'])}; the padded "
                f"column is the L × N rectangle, {waste:.0%} of which would be padding"
            )
        )
    # The counts scale with L and N: say which the synthetic input has.
    sizes = ([] if config["cell"] else [f"L = {config['seq_len']}"]) + (
        [] if config["unbatched"] else [f"N = {config['batch']}"]
    )
    walked = "one step of the cell" if config["cell"] else "every step, layer and direction"
    lines.append(
        Text(
            f"MACs and FLOPs of one forward pass over the synthetic input ({', '.join([*sizes, walked])}); "
            f"memory in {report.dtype}; 'kept for bwd' is an estimate of what a training step keeps.",
            style="dim",
        )
    )
    return Group(table, *lines)
