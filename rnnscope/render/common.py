"""What every view shares: marks, the table style, number formats, the progress bar."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich import box
from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table
from rich.text import Text

from rnnscope.layer.direction import short
from rnnscope.report import ProgressCallback, Verdict

PASS, FAIL, UNKNOWN = "✓", "✗", "—"


def note_lines(notes: list[str], style: str = "yellow") -> list[Text]:
    """Each note as one ``note: …`` line."""
    return [Text(f"note: {note}", style=style) for note in notes]


def failure_lines(verdict: Verdict) -> list[Text]:
    """One red line per kind of failure in the verdict; none when it passed."""
    lines = [
        f"differs from its formula: {', '.join(verdict.differing)}" if verdict.differing else "",
        f"out of tolerance: {', '.join(check.name for check in verdict.out_of_tolerance)}"
        if verdict.out_of_tolerance
        else "",
        f"differs from its slice of the output: {', '.join(verdict.unequal)}" if verdict.unequal else "",
    ]
    return [Text(f"{FAIL} {line}", style="bold red") for line in lines if line]


def mark(ok: bool | None) -> Text:
    if ok is None:
        return Text(UNKNOWN, style="dim")
    return Text(PASS, style="green") if ok else Text(FAIL, style="bold red")


def new_table(title: str) -> Table:
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        collapse_padding=True,
        pad_edge=False,
    )


def spaced(*sections: RenderableType) -> Group:
    """The sections with one blank line between them."""
    spaced: list[RenderableType] = []
    for section in sections:
        spaced += [Text(""), section] if spaced else [section]
    return Group(*spaced)


def layer_label(layer: int, direction: str) -> str:
    return f"{layer} {short(direction)}"


def error_text(value: float | None) -> str:
    return UNKNOWN if value is None else f"{value:.2e}"


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


def command_text(line: str, style: str = "") -> Text:
    """A line that holds a command to paste (``  reproduce: rnnscope verify …``): never broken
    into rows, however narrow the output; a terminal soft-wraps it, which copies as one line."""
    return Text(line, style=style, no_wrap=True, overflow="ignore")


def print_view(view: RenderableType, console: Console | None = None) -> None:
    """Print a view: on a terminal, at its width; elsewhere (a CI log, a pipe, a file) at
    ``COLUMNS`` where it is set, else as wide as the widest line, so that nothing is wrapped
    at 80 columns by default; and off a terminal without the spaces that pad table rows.

    ``console`` (tests) prints there as it is, at its own width.
    """
    if console is not None:
        console.print(view, crop=False)
        return
    console = Console()
    if console.is_terminal:
        console.print(view, crop=False)
        return
    if "COLUMNS" not in os.environ:
        natural = Measurement.get(console, console.options.update_width(_UNBOUNDED), view).maximum
        console = Console(width=max(natural, console.width))
    with console.capture() as captured:
        console.print(view, crop=False)
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


# Wide enough for any line a view prints: the measure of a view unwrapped.
_UNBOUNDED = 1_000_000
