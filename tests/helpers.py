"""Shared test helpers: run the CLI through Typer's runner and parse its JSON, render a view as
text; the golden files' folder (conftest.py's ``golden`` fixture compares with them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typer.testing import CliRunner, Result

from rnnscope.cli import app

if TYPE_CHECKING:
    from rich.console import RenderableType

GOLDEN = Path(__file__).parent / "golden"
Golden = Callable[[str, str], None]  # the golden fixture: check(name, output)

# The contract's example of a layer too big to allocate: 68,723,671,040 parameters.
META_EXAMPLE = ("inspect", "lstm", "--input-size", "16384", "--hidden-size", "16384", "--layers", "32")
META_EXAMPLE += ("--device", "meta")


def run_cli(*args: str, columns: int | None = None) -> Result:
    """Invoke ``rnnscope ARGS`` in-process; ``result.stdout`` and ``result.stderr`` stay apart.

    The output is not a terminal, as in a CI log: ``COLUMNS`` is ``columns`` (an 80-column
    terminal's layout, as the docs show it), or unset when None, whatever the tests' own
    environment holds.
    """
    return CliRunner().invoke(app, list(args), env={"COLUMNS": None if columns is None else str(columns)})


def run_json(*args: str, exit_code: int = 0) -> dict[str, Any]:
    """Invoke with ``--json``, check the exit code and that stdout is one JSON document."""
    result = run_cli(*args, "--json")
    assert result.exit_code == exit_code, result.stderr or result.stdout
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def rendered(view: RenderableType, terminal: bool = False) -> str:
    """The view as ``print_view`` writes it at 80 columns: plain text, or with ``terminal`` the
    standard colours a terminal gets."""
    from rich.console import Console

    from rnnscope.render import print_view

    file = StringIO()
    console = Console(
        file=file, width=80, color_system="standard" if terminal else None, force_terminal=terminal
    )
    print_view(view, console)
    return file.getvalue()
