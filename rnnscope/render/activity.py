"""The activity view: per layer and direction, one character-grid scatter per sigmoid gate —
x the fraction of pairs a unit's gate is left-saturated, y right-saturated, as in Karpathy et
al. 2015, Fig. 3 — and a line per gate counting the units that sit mostly right, mostly left,
and in between."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.text import Text

from rnnscope.render.common import note_lines, spaced

if TYPE_CHECKING:
    from rnnscope.report import ActivityReport, GateSaturation, UnitActivity

STEPS = 10  # grid points 0, 0.1, …, 1 on each axis: a unit sits at its fractions rounded to 0.1
CELL = 3  # characters per grid point: a count up to 999, then 1k … 99k
Y_LABELS = {STEPS: "1", STEPS // 2: "0.5", 0: "0"}
LABEL_WIDTH = 4  # "0.5 "
PANEL_WIDTH = LABEL_WIDTH + 1 + (STEPS + 1) * CELL  # label, axis, cells: 38
PANELS_PER_ROW = 2  # two panels and a gap fit 80 columns
EDGE = "·"  # left + right = 1, where no unit sits: the edge of what the fractions can reach


def activity_view(report: ActivityReport) -> RenderableType:
    """Header, then each layer and direction's panels and gate lines, then the notes."""
    return spaced(
        _header(report),
        *gate_sections(report.gate_units()),
        Group(*activity_legend(report.mostly), *note_lines(report.notes)),
    )


def gate_sections(gate_units: list[tuple[GateSaturation, list[UnitActivity]]]) -> list[RenderableType]:
    """Per module path, layer and direction: its gates' panels side by side, then a line per gate."""
    groups: dict[tuple[str | None, int, str], list[tuple[GateSaturation, list[UnitActivity]]]] = {}
    for gate, units in gate_units:
        groups.setdefault((gate.path, gate.layer, gate.direction), []).append((gate, units))
    sections: list[RenderableType] = []
    for (path, layer, direction), members in groups.items():
        title = ("" if path is None else f"{path or '(the model itself)'}: ") + f"layer {layer} {direction}"
        panels = [_panel(gate, units) for gate, units in members]
        lines: list[RenderableType] = [Text(title, style="bold")]
        for start in range(0, len(panels), PANELS_PER_ROW):
            lines += [*([Text("")] if start else []), *_side_by_side(panels[start : start + PANELS_PER_ROW])]
        lines += [Text(""), *(_gate_line(gate) for gate, _ in members)]
        sections.append(Group(*lines))
    return sections


def _header(report: ActivityReport) -> Group:
    if report.input is not None:
        source = f"--input-data {report.input['file']}"
    else:
        source = f"synthetic input, seed {report.seed}"
    shape = "one step" if report.cell else f"L = {report.steps}"
    batch = "unbatched" if report.config["unbatched"] else f"N = {report.batch}"
    return Group(
        Text.assemble(("Gate saturation, unit by unit: ", "bold"), report.module),
        Text(f"{report.dtype} on {report.device}; {source}, {shape}, {batch}"),
        Text(
            f"left: the fraction of a unit's {report.pairs:,} (step, sequence) pairs with its gate "
            f"< {report.low:g}"
        ),
        Text(f"right: the fraction with its gate > {report.high:g}"),
    )


def _panel(gate: GateSaturation, units: list[UnitActivity]) -> list[Text]:
    """One gate's grid, PANEL_WIDTH characters wide: a title, STEPS + 1 rows, the x axis."""
    counts: dict[tuple[int, int], int] = {}
    for unit in units:
        point = (round(unit.left * STEPS), round(unit.right * STEPS))
        counts[point] = counts.get(point, 0) + 1
    lines = [Text(f"{gate.gate} {gate.meaning}: y right, x left"[:PANEL_WIDTH], style="bold")]
    for y in range(STEPS, -1, -1):
        label = Y_LABELS.get(y, "")
        line = Text(label.rjust(LABEL_WIDTH - 1) + " " + ("┤" if label else "│"))
        for x in range(STEPS + 1):
            count = counts.get((x, y), 0)
            if count:
                line.append(_count(count).rjust(CELL), style="bold")
            else:
                line.append((EDGE if x + y == STEPS else " ").rjust(CELL), style="dim")
        line.rstrip()
        lines.append(line)
    lines.append(Text(" " * LABEL_WIDTH + "└" + "─" * ((STEPS + 1) * CELL)))
    ticks = [" "] * PANEL_WIDTH
    for x, label in ((0, "0"), (STEPS // 2, "0.5"), (STEPS, "1")):
        end = LABEL_WIDTH + 1 + (x + 1) * CELL  # a count's last character sits at end - 1
        ticks[end - len(label) : end] = label
    lines.append(Text("".join(ticks).rstrip()))
    return lines


def _count(count: int) -> str:
    """A count in CELL characters: 1 … 999, then whole thousands (1k … 99k)."""
    return str(count) if count < 1000 else f"{min(count // 1000, 99)}k"


def _side_by_side(panels: list[list[Text]]) -> list[Text]:
    rows = []
    for parts in zip(*panels, strict=True):
        row = Text()
        for index, part in enumerate(parts):
            if index:
                row.append("  ")
            padded = part.copy()
            padded.pad_right(PANEL_WIDTH - len(part))
            row.append_text(padded)
        row.rstrip()
        rows.append(row)
    return rows


def _gate_line(gate: GateSaturation) -> Text:
    return Text(
        f"{gate.gate} {gate.meaning}: {gate.mostly_right} mostly right-saturated, "
        f"{gate.mostly_left} mostly left-saturated, {gate.between} in between"
    )


def activity_legend(mostly: float) -> list[Text]:
    return [
        Text("a number: how many units sit at that (left, right), each rounded to 0.1", style="dim"),
        Text(f"{EDGE}: left + right = 1; mostly: in more than {mostly:g} of the pairs", style="dim"),
    ]
