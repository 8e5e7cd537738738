"""The installed command as a real process: exit codes, stdout, and what it imports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

# The script installed beside this Python (a venv's bin/, used without activating it), else PATH's.
RNNSCOPE = shutil.which("rnnscope", path=str(Path(sys.executable).parent)) or shutil.which("rnnscope")
needs_script = pytest.mark.skipif(RNNSCOPE is None, reason="the rnnscope console script is not installed")


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env, check=False)


@needs_script
def test_installed_command_prints_one_json_document() -> None:
    assert RNNSCOPE is not None
    result = run(RNNSCOPE, "inspect", "lstm", "--layers", "2", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["total_params"] == 5920
    assert result.stderr == ""  # no NumPy warning, no torch warning spam


@needs_script
def test_installed_command_tables_and_error() -> None:
    assert RNNSCOPE is not None
    result = run(RNNSCOPE, "inspect", "rnn", "--layers", "2")
    assert result.returncode == 0
    assert "(D·num_layers, N, H_out)" in result.stdout
    assert "\x1b[" not in result.stdout  # no colour when stdout is not a terminal
    bad = run(RNNSCOPE, "inspect", "lstm", "--proj-size", "20")
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == "error: --proj-size must be smaller than --hidden-size (20), got 20\n"


def test_python_dash_m() -> None:
    result = run(sys.executable, "-m", "rnnscope", "inspect", "gru", "--cell", "--json")
    assert result.returncode == 0
    assert json.loads(result.stdout)["module"] == "GRUCell(10, 20)"


def traced(*args: str, extra_env: dict[str, str] | None = None) -> tuple[set[str], str]:
    """Run ``python -X importtime ARGS``: the names of every module it imported, and stdout."""
    env = dict(os.environ, **(extra_env or {}))
    result = run(sys.executable, "-X", "importtime", *args, env=env)
    lines = result.stderr.splitlines()
    return {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}, result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["inspect", "--help"],
        ["load", "--help"],
        ["gradients", "--help"],
        ["layout", "--help"],
        ["draw", "--help"],
        ["activity", "--help"],
    ],
)
def test_help_does_not_import_torch(args: list[str]) -> None:
    modules, stdout = traced("-m", "rnnscope", *args)
    assert "Usage:" in stdout
    assert "typer" in modules
    assert "torch" not in modules


def test_shell_completion_does_not_import_torch() -> None:
    completion = {
        "_RNNSCOPE_COMPLETE": "complete_bash",
        "COMP_WORDS": "rnnscope inspect --bi",
        "COMP_CWORD": "2",
    }
    modules, stdout = traced(
        "-c", "from rnnscope.cli import app; app(prog_name='rnnscope')", extra_env=completion
    )
    assert stdout.split() == ["--bidirectional", "--bias"]
    assert "torch" not in modules


def test_gradients_completion_does_not_import_torch() -> None:
    completion = {
        "_RNNSCOPE_COMPLETE": "complete_bash",
        "COMP_WORDS": "rnnscope gradients --forg",
        "COMP_CWORD": "2",
    }
    modules, stdout = traced(
        "-c", "from rnnscope.cli import app; app(prog_name='rnnscope')", extra_env=completion
    )
    assert stdout.split() == ["--forget-bias"]
    assert "torch" not in modules


def test_layout_tables_do_not_import_torch() -> None:
    """The tables come from the mapping alone: neither torch nor Keras nor ONNX is imported."""
    modules, stdout = traced("-m", "rnnscope", "layout", "lstm", "--layers", "2", "--json")
    assert json.loads(stdout)["pytorch_params"] == 5920
    assert not {"torch", "keras", "onnx"} & modules


def test_draw_runs_without_importing_torch() -> None:
    modules, stdout = traced("-m", "rnnscope", "draw", "lstm", "--layers", "2", "--json")
    assert json.loads(stdout)["module"] == "LSTM(10, 20, num_layers=2)"
    assert "torch" not in modules


def test_json_output_does_not_import_rich() -> None:
    # Rich draws the tables only; a script reading --json should not wait for its import.
    modules, stdout = traced("-m", "rnnscope", "inspect", "gru", "--cell", "--json")
    assert json.loads(stdout)["module"] == "GRUCell(10, 20)"
    assert "torch" in modules and "rich" not in modules
