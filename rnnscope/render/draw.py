"""The draw view: what the picture shows, in a few lines (the picture itself is the file)."""

from __future__ import annotations

from itertools import pairwise

from rich.console import Group, RenderableType
from rich.text import Text

from rnnscope.draw.content import Drawing
from rnnscope.render.common import note_lines


def draw_view(drawing: Drawing) -> RenderableType:
    """What was drawn, which steps (the true L said), how many cells and arrows, and where."""
    steps = drawing.steps_shown
    if drawing.cell:
        shown = "one step"
    elif len(steps) == drawing.seq_len:
        shown = f"all {drawing.seq_len} steps"
    else:
        shown = f"{len(steps)} of {drawing.seq_len} steps (t = {_steps(steps)})"
    rows = (
        f"{drawing.num_layers} layer{'s' if drawing.num_layers > 1 else ''} × {drawing.directions} direction"
    )
    rows += "s" if drawing.directions > 1 else ""
    lines = [
        Text(drawing.module, style="bold"),
        Text(f"drawn: {shown}"),
        Text(f"{len(drawing.cells)} cells ({len(steps)} steps × {rows}), {len(drawing.edges)} edges"),
    ]
    lines += note_lines(drawing.notes)
    return Group(*lines)


def _steps(steps: list[int]) -> str:
    """``0, 1, …, 98, 99``: an ellipsis wherever drawn steps are not consecutive."""
    parts = [str(steps[0])]
    for previous, t in pairwise(steps):
        parts += ["…", str(t)] if t - previous > 1 else [str(t)]
    return ", ".join(parts)
