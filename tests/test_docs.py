"""Every command has help and is documented in README.md, with every one of its flags."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from rnnscope.cli import app
from tests.conftest import run_cli

README = (Path(__file__).parent.parent / "README.md").read_text()
COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help_and_is_documented(name: str) -> None:
    result = run_cli(name, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout
    assert f"rnnscope {name}" in README


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_flag_is_documented(name: str) -> None:
    for parameter in COMMANDS[name].params:
        for flag in [*parameter.opts, *parameter.secondary_opts]:
            if flag.startswith("--"):
                assert f"`{flag}" in README or f"/ {flag}`" in README, f"{name} {flag}"
