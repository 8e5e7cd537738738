"""Shared test helpers: run the CLI through Typer's runner and parse its JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from rnnscope.cli import app

# The contract's example of a layer too big to allocate: 68,723,671,040 parameters.
META_EXAMPLE = ("inspect", "lstm", "--input-size", "16384", "--hidden-size", "16384", "--layers", "32")
META_EXAMPLE += ("--device", "meta")


def run_cli(*args: str) -> Result:
    """Invoke ``rnnscope ARGS`` in-process; ``result.stdout`` and ``result.stderr`` stay apart."""
    return CliRunner().invoke(app, list(args))


def run_json(*args: str, exit_code: int = 0) -> dict[str, Any]:
    """Invoke with ``--json``, check the exit code and that stdout is one JSON document."""
    result = run_cli(*args, "--json")
    assert result.exit_code == exit_code, result.stderr or result.stdout
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="Rewrite tests/golden/*.out.")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))
