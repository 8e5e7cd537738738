"""What CI and shell scripts rely on: provenance in every JSON document and JUnit file."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import typer

import rnnscope
from rnnscope.cli import app
from rnnscope.execution.environment import ENVIRONMENT_KEYS, environment
from rnnscope.execution.runtime import torch
from tests.helpers import run_cli, run_json
from tests.test_process import traced

COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]
DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"

# One short invocation of every command, with whether it runs torch on a device.
EVERY_COMMAND: dict[str, tuple[list[str], bool]] = {
    "inspect": (["inspect", "lstm", "-L", "3", "-N", "2"], True),
    "verify": (["verify", "gru", "-L", "3", "-N", "2"], True),
    "smoke": (["smoke", "--quick"], True),
    "compare": (["compare"], False),
    "bench": (["bench", "rnn", "-L", "3", "-N", "2", "--iters", "2", "--warmup", "0"], True),
    "gradients": (["gradients", "lstm", "--steps", "4"], True),
    "layout": (["layout", "gru"], False),
    "draw": (["draw", "lstm", "-L", "3"], False),
    "load": (["load", str(DATA / "legacy_lstm.pt")], False),
    "model": (["model", f"{EXAMPLES / 'seq2seq.py'}:Classifier", "--input", "20,8,16"], True),
    "activity": (["activity", "lstm", "-L", "3", "-N", "2"], True),
}


def check_environment(found: dict[str, Any], ran_on: str | None) -> None:
    """The environment object: every key, versions as strings, the time in UTC and recent."""
    assert tuple(found) == ENVIRONMENT_KEYS
    assert found["rnnscope"] == rnnscope.__version__
    assert found["torch"] == torch.__version__
    assert found["python"] == platform.python_version()
    when = datetime.strptime(found["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs((datetime.now(timezone.utc) - when).total_seconds()) < 600
    if ran_on is None:
        assert found["device_name"] is None
        return
    assert found["device_name"] and isinstance(found["device_name"], str)
    assert found["threads"] == torch.get_num_threads()
    if torch.backends.mkldnn.is_available():
        assert re.fullmatch(r"\d+\.\d+(\.\d+)*", found["mkldnn"])
    else:
        assert found["mkldnn"] is None
    cudnn = torch.backends.cudnn
    assert found["cudnn"] == (str(cudnn.version()) if cudnn.is_available() else None)


def test_every_command_is_in_the_environment_test() -> None:
    assert set(EVERY_COMMAND) == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(EVERY_COMMAND))
def test_every_json_document_carries_the_environment(name: str) -> None:
    arguments, runs_torch = EVERY_COMMAND[name]
    document = run_json(*arguments)
    check_environment(document["environment"], "cpu" if runs_torch else None)


def test_environment_without_torch_names_the_installed_torch_and_nothing_it_would_measure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A command that ran nothing does not import torch to fill the fields (about a second)."""
    import sys

    monkeypatch.delitem(sys.modules, "torch")
    found = environment()
    assert found["torch"] == torch.__version__  # from the package metadata
    assert (found["threads"], found["cudnn"], found["mkldnn"], found["device_name"]) == (None,) * 4


def test_cpu_and_meta_are_named() -> None:
    assert environment("cpu")["device_name"] == environment("cpu")["device_name"] != ""
    assert environment("meta")["device_name"].startswith("meta")


def test_junit_properties_carry_the_environment(tmp_path: Path) -> None:
    junit = tmp_path / "smoke.xml"
    run_json("smoke", "--quick", "--junit", str(junit))
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    expected = {f"environment.{key}": value for key, value in environment("cpu").items() if value is not None}
    del expected["environment.time"]
    assert {key: properties[key] for key in expected} == {key: str(value) for key, value in expected.items()}
    assert properties["environment.time"].endswith("Z")


# Every flag that writes a file, a command that takes it, the function that does the command's
# work (which must not run when the path is refused), and the extension it writes.
OUTPUT_FLAGS = [
    (["smoke", "--quick"], "--junit", "rnnscope.smoke.run_smoke", ".xml"),
    (["gradients", "lstm", "--steps", "4"], "--png", "rnnscope.gradient_norms.gradients", ".png"),
    (["draw", "lstm"], "--svg", "rnnscope.draw.content.unroll", ".svg"),
    (["draw", "lstm"], "--png", "rnnscope.draw.content.unroll", ".png"),
    (["layout", "gru", "--to", "onnx"], "--export", "rnnscope.frameworks.carry.seeded_parameters", ".onnx"),
    (["layout", "gru", "--to", "onnx"], "--write", "rnnscope.frameworks.carry.seeded_parameters", ".npz"),
]


@pytest.mark.parametrize(("arguments", "flag", "work", "suffix"), OUTPUT_FLAGS)
@pytest.mark.parametrize("problem", ["missing folder", "extension", "folder"])
def test_every_output_path_is_checked_before_the_work(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    flag: str,
    work: str,
    suffix: str,
    problem: str,
) -> None:
    def must_not_run(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"{work} ran although {flag} was refused")

    monkeypatch.setattr(work, must_not_run)
    other = ".svg" if suffix == ".png" else ".png"
    path, message = {
        "missing folder": (tmp_path / "no" / f"x{suffix}", f"the folder {tmp_path / 'no'} does not exist"),
        "extension": (
            tmp_path / f"x{other}",
            f"{flag} writes {suffix[1:].upper()}; give a file name ending in {suffix}",
        ),
        "folder": (tmp_path, "that is a folder; give a file name such as"),
    }[problem]
    result = run_cli(*arguments, flag, str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"error: {flag} {path}: {message}")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / f"x{other}").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_folder_that_is_not_writable_is_refused(tmp_path: Path) -> None:
    tmp_path.chmod(0o555)
    try:
        result = run_cli("draw", "lstm", "--svg", str(tmp_path / "x.svg"))
    finally:
        tmp_path.chmod(0o755)
    assert result.exit_code == 2
    assert result.stderr == f"error: --svg {tmp_path / 'x.svg'}: the folder {tmp_path} is not writable\n"


@pytest.mark.parametrize("json_output", [False, True])
def test_every_file_written_is_named_on_stdout_or_with_json_on_stderr(
    tmp_path: Path, json_output: bool
) -> None:
    for library in ("matplotlib", "drawsvg", "resvg_py", "onnx"):  # the extras these files need
        pytest.importorskip(library)
    runs = [
        (["smoke", "--quick", "--junit", str(tmp_path / "smoke.xml")], ["smoke.xml"]),
        (["gradients", "rnn", "--steps", "4", "--png", str(tmp_path / "g.png")], ["g.png"]),
        (
            ["draw", "gru", "--svg", str(tmp_path / "d.svg"), "--png", str(tmp_path / "d.png")],
            ["d.svg", "d.png"],
        ),
        (
            [
                "layout",
                "gru",
                "--to",
                "onnx",
                "--export",
                str(tmp_path / "l.onnx"),
                "--write",
                str(tmp_path / "l.npz"),
            ],
            ["l.onnx", "l.npz"],
        ),
    ]
    for arguments, names in runs:
        result = run_cli(*arguments, *(["--json"] if json_output else []))
        assert result.exit_code == 0, result.stderr
        said = [f"wrote {tmp_path / name}" for name in names]
        stream = result.stderr if json_output else result.stdout
        assert [line for line in stream.splitlines() if line.startswith("wrote ")] == said
        assert all((tmp_path / name).stat().st_size > 0 for name in names)
        if json_output:
            json.loads(result.stdout)


def run_installed(command: str, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    """``command`` run by a shell as a user pastes it, stdout a pipe as in a CI log, with the
    installed ``rnnscope`` first on PATH and COLUMNS as given (unset when None)."""
    environment = {name: value for name, value in os.environ.items() if name != "COLUMNS"}
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    if columns is not None:
        environment["COLUMNS"] = str(columns)
    return subprocess.run(
        ["bash", "-c", command], env=environment, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.parametrize("columns", [None, 60])
def test_reproduce_lines_in_a_ci_log_paste_back_and_run(columns: int | None) -> None:
    """Off a terminal no line is hard-wrapped at 80 columns or padded with spaces; with COLUMNS
    the text follows it, and a command line is still never broken."""
    smoke = run_installed("rnnscope smoke --quick --rtol 0 --atol 1e-12", columns)
    assert smoke.returncode == 1, smoke.stderr
    lines = smoke.stdout.splitlines()
    assert all(line == line.rstrip() for line in lines)
    reproduce = [line.strip().removeprefix("reproduce: ") for line in lines if "reproduce: " in line]
    assert reproduce and all(line.startswith("rnnscope verify ") for line in reproduce)
    assert all(line.endswith(" --rtol 0.0 --atol 1e-12") for line in reproduce)
    if columns is None:
        assert max(len(line) for line in lines) > 80  # the case failures, each on one line
        assert all(line.startswith(("✗", "  reproduce: ")) for line in lines[lines.index("") + 1 : -1])
    else:
        assert all(len(line) <= columns for line in lines if "reproduce: " not in line)
    pasted = run_installed(reproduce[0] + " --json")
    assert pasted.returncode == 1, pasted.stderr
    document = json.loads(pasted.stdout)
    assert document["tolerance"] == {"rtol": 0.0, "atol": 1e-12}
    assert document["environment"]["threads"] >= 1


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_usage_names_arguments_in_capitals_and_h_is_help(name: str) -> None:
    result = run_cli(name, "-h")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == run_cli(name, "--help").stdout
    usage = result.stdout.splitlines()[0]
    assert "{" not in usage and usage.startswith(f"Usage: rnnscope {name} [OPTIONS]")
    expected = {"compare": "", "smoke": "", "gradients": " [KIND]...", "load": " FILE", "model": " TARGET"}
    expected |= {"inspect": " KIND[,...]", "verify": " KIND[,...]"}  # they sweep a comma list
    assert usage == f"Usage: rnnscope {name} [OPTIONS]" + expected.get(name, " KIND")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["draw", "lstmx"], "Invalid value for 'KIND': 'lstmx' is not one of 'rnn', 'lstm', 'gru'."),
        (
            ["bench", "lstm", "--iters", "two"],
            "Invalid value for '--iters': 'two' is not a valid integer.",
        ),
        (["verify", "gru", "--rtol", "tight"], "Invalid value for '--rtol': 'tight' is not a valid float."),
        (
            ["layout", "gru", "--to", "caffe"],
            "Invalid value for '--to': 'caffe' is not one of 'keras', 'onnx', 'all'.",
        ),
        (
            ["gradients", "lstm", "grux"],
            "Invalid value for 'KIND': 'grux' is not one of 'rnn', 'lstm', 'gru'.",
        ),
        (
            ["bench", "lstm,GRU"],
            "Invalid value for 'KIND': 'lstm,GRU': one at a time here "
            "(a comma list sweeps with inspect, verify and compare)",
        ),
        (["gradients", "lstm,gru"], "Invalid value for 'KIND': 'lstm,gru': give them apart, as in lstm gru"),
        (
            ["gradients", "lstm,gruu"],
            "Invalid value for 'KIND': 'lstm,gruu' is not one of 'rnn', 'lstm', 'gru'.",
        ),
    ],
)
def test_a_value_click_cannot_parse_gets_clicks_wording(arguments: list[str], message: str) -> None:
    result = run_cli(*arguments)
    assert (result.exit_code, result.stdout) == (2, "")
    assert f"Error: {message}" in result.stderr
    assert "Value error" not in result.stderr and "Input should be" not in result.stderr


def test_kinds_are_read_in_any_letter_case() -> None:
    assert run_json("inspect", "LSTM", "-L", "2", "-N", "1")["kind"] == "lstm"


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("rnnscope inspect lstm --device c", ["cpu", "cuda", "cuda:0"]),
        ("rnnscope smoke --dtype b", ["bfloat16"]),
        ("rnnscope load x.pt --device m", ["mps", "meta"]),
        ("rnnscope bench gru --dtype float", ["float32", "float64", "float16"]),
    ],
)
def test_device_and_dtype_complete_without_importing_torch(words: str, expected: list[str]) -> None:
    completion = {
        "_RNNSCOPE_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
    }
    modules, stdout = traced(
        "-c", "from rnnscope.cli import app; app(prog_name='rnnscope')", extra_env=completion
    )
    assert stdout.split() == expected
    assert "torch" not in modules


@pytest.mark.parametrize("shell", ["zsh", "fish", "bash"])
def test_install_completion_installs_the_shell_named(tmp_path: Path, shell: str) -> None:
    installed = run_installed(f"HOME={tmp_path} rnnscope --install-completion {shell}")
    assert installed.returncode == 0, installed.stderr
    assert installed.stdout.startswith(f"{shell} completion installed in ")
    shown = run_installed(f"rnnscope --show-completion {shell}")
    assert shown.returncode == 0, shown.stderr
    script = {
        "zsh": "#compdef rnnscope",
        "fish": "complete --command rnnscope",
        "bash": "complete -o default",
    }
    assert script[shell] in shown.stdout
    written = [path for path in tmp_path.rglob("*") if path.is_file() and script[shell] in path.read_text()]
    assert written, f"no {shell} script under {tmp_path}"


def test_junit_as_a_ci_reads_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """junitparser, a real JUnit reader: counts, names, the planted failures' and error's text,
    and the environment in the properties."""
    junitparser = pytest.importorskip("junitparser")
    from rnnscope import smoke, verification
    from rnnscope.layer.gates import GATES
    from rnnscope.smoke import smoke_configs

    r, z, n = GATES["gru"]
    monkeypatch.setitem(GATES, "gru", (z, r, n))  # planted: every gru case out of tolerance
    verify = verification.verify

    def raises_on_rnn_cells(spec: Any, *args: Any, **kwargs: Any) -> Any:
        if spec.cell and spec.kind.value == "rnn":
            raise RuntimeError("planted error")
        return verify(spec, *args, **kwargs)

    monkeypatch.setattr(smoke, "verify", raises_on_rnn_cells)
    junit = tmp_path / "smoke.xml"
    document = run_json("smoke", "--quick", "--junit", str(junit), exit_code=1)
    suites = list(junitparser.JUnitXml.fromfile(str(junit)))
    assert len(suites) == 1
    suite = suites[0]
    configs = smoke_configs(quick=True)
    failed = {c.name for c in configs if c.kind.value == "gru"}
    raised = {c.name for c in configs if c.kind.value == "rnn" and "--cell" in c.name}
    assert (suite.name, suite.tests, suite.failures, suite.errors) == (
        "rnnscope smoke",
        len(configs),
        len(failed),
        len(raised),
    )
    cases = {case.name: case for case in suite}
    assert list(cases) == [c.name for c in configs] == [case["name"] for case in document["cases"]]
    for name, case in cases.items():
        results = list(case.result)
        if name in failed:
            (failure,) = results
            assert isinstance(failure, junitparser.Failure)
            assert failure.message.startswith("out of tolerance: ")
            command = next(c["command"] for c in document["cases"] if c["name"] == name)
            assert (
                f"reproduce: {command}" in failure.text and "rtol=1e-05 atol=1e-05 ok=False" in failure.text
            )
        elif name in raised:
            (error,) = results
            assert isinstance(error, junitparser.Error)
            assert error.message == "RuntimeError: planted error"
        else:
            assert results == [] and case.is_passed
        assert case.classname == f"rnnscope.smoke.{name.split()[0]}"
    properties = {prop.name: prop.value for prop in suite.properties()}
    assert {f"environment.{key}" for key in ("rnnscope", "torch", "python", "time")} <= set(properties)
    assert properties["environment.threads"] == str(document["environment"]["threads"])
    assert properties["environment.device_name"] == document["environment"]["device_name"]
