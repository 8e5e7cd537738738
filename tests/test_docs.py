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


def readme_command(section: str) -> str:
    """The one line in the first ```bash block under README's ``## section``."""
    after = README.split(f"\n## {section}\n", 1)[1]
    block = after.split("```bash\n", 1)[1].split("\n```", 1)[0]
    assert "\n" not in block, f"README's {section} command is more than one line"
    return block


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert readme_command("Test") in ci.splitlines()


def test_readme_commands_stand_alone_in_a_fresh_shell() -> None:
    # Each creates or reuses .venv and names its programs inside it: nothing to activate first.
    for section, program in (
        ("Install and run", ".venv/bin/rnnscope"),
        ("Test", ".venv/bin/python -m pytest"),
    ):
        command = readme_command(section)
        assert command.startswith("python3 -m venv .venv && .venv/bin/pip install torch==")
        assert program in command and "activate" not in command


def complete_examples() -> list[tuple[str, str]]:
    """README's examples that show one command's whole output: (command line, output).

    Left out: blocks that elide lines (``...``), hold several commands, or show what changes
    from run to run (timings, files that are not in the repository)."""
    examples = []
    for block in README.split("```console\n")[1:]:
        command, _, output = block.split("\n```", 1)[0].partition("\n")
        if not command.startswith("$ rnnscope ") or "..." in output or "\n$ " in f"\n{output}":
            continue
        if any(word in command for word in ("bench", "smoke", "load", "--svg", "--png", "--export")):
            continue
        examples.append((command.removeprefix("$ rnnscope "), output))
    return examples


@pytest.mark.parametrize(("command", "output"), complete_examples())
def test_readme_examples_are_what_the_command_prints(command: str, output: str) -> None:
    """The user's guide shows real output: each complete example is printed again, unchanged."""
    import shlex

    result = run_cli(*shlex.split(command))
    printed = result.stdout + result.stderr
    assert [line.rstrip() for line in printed.splitlines()] == [line.rstrip() for line in output.splitlines()]
