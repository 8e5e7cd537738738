"""The documentation: README.md is the front door, docs/ holds a page per command. Every command
has help and its page, every flag is documented, docs/cli.md is what the CLI prints, every link
resolves, and the complete examples are what the commands print."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import typer

from rnnscope._docs import cli_reference, help_environment, help_text
from rnnscope.cli import app
from tests.helpers import run_cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCUMENTATION = "\n".join(page.read_text() for page in PAGES)
COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help_and_its_page(name: str) -> None:
    result = run_cli(name, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.stdout
    assert (ROOT / "docs" / f"{name}.md").exists()
    assert f"(docs/{name}.md)" in README, f"README's table of commands links to docs/{name}.md"


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_flag_is_documented(name: str) -> None:
    for parameter in COMMANDS[name].params:
        for flag in [*parameter.opts, *parameter.secondary_opts]:
            if flag.startswith("--"):
                assert f"`{flag}" in DOCUMENTATION or f"/ {flag}`" in DOCUMENTATION, f"{name} {flag}"


def test_readme_is_a_front_door() -> None:
    assert README.count("\n") <= 250, "README.md is the front door; the reference lives in docs/"


def test_the_cli_reference_is_what_the_cli_prints() -> None:
    """docs/cli.md is generated; when a flag or a help line changes, regenerate it."""
    page = (ROOT / "docs" / "cli.md").read_text()
    assert page == cli_reference(), "docs/cli.md is stale: run python -m rnnscope._docs docs/cli.md"


@pytest.mark.parametrize("program", ["rnnscope", "python -m rnnscope"])
def test_rnnscope_help_prints_what_the_cli_reference_says(program: str) -> None:
    installed = Path(sys.executable).parent / "rnnscope"
    command = (str(installed),) if program == "rnnscope" else (sys.executable, "-m", "rnnscope")
    page = (ROOT / "docs" / "cli.md").read_text()
    section = page.split("\n## rnnscope\n\n```text\n", 1)[1].split("\n```\n", 1)[0]
    assert help_text(program=command).rstrip("\n") == section
    assert help_environment()["NO_COLOR"] == "1"


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to
    hyphens, a repeated one suffixed -1, -2, …"""
    anchors: set[str] = set()
    for heading in re.findall(r"^#+ (.+)$", without_code(markdown), flags=re.MULTILINE):
        anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        unique, count = anchor, 0
        while unique in anchors:
            count += 1
            unique = f"{anchor}-{count}"
        anchors.add(unique)
    return anchors


def without_code(markdown: str) -> str:
    """The page without its fenced code blocks, where neither headings nor links are."""
    return re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)


def links() -> list[tuple[Path, str]]:
    return [
        (page, target)
        for page in PAGES
        for target in re.findall(r"\]\(([^)\s]+)\)", without_code(page.read_text()))
        if not target.startswith(("http://", "https://"))
    ]


@pytest.mark.parametrize(("page", "target"), links(), ids=lambda value: str(value).replace(str(ROOT), ""))
def test_every_link_resolves(page: Path, target: str) -> None:
    path, _, anchor = target.partition("#")
    linked = (page.parent / path).resolve() if path else page
    assert linked.exists(), f"{page.name}: {target} names no file"
    if anchor:
        assert anchor in heading_anchors(linked.read_text()), f"{page.name}: {target} names no heading"


def test_the_link_check_sees_the_links() -> None:
    targets = {target for _, target in links()}
    assert {"docs/inspect.md", "json.md#verify", "docs/draw_lstm_layers2_bidirectional.svg"} <= targets
    inspect_page = (ROOT / "docs" / "inspect.md").read_text()
    assert "states-which-slice-of-output-is-h_n" in heading_anchors(inspect_page)


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
    """The examples in README.md and docs/ that show one command's whole output: (command line,
    output).

    Left out: blocks that elide lines (``...``), hold several commands, or show what changes
    from run to run (timings, files that are not in the repository)."""
    examples = []
    for block in DOCUMENTATION.split("```console\n")[1:]:
        command, _, output = block.split("\n```", 1)[0].partition("\n")
        if not command.startswith("$ rnnscope ") or "..." in output or "\n$ " in f"\n{output}":
            continue
        if any(word in command for word in ("bench", "smoke", "load", "--svg", "--png", "--export")):
            continue
        examples.append((command.removeprefix("$ rnnscope "), output))
    return list(dict.fromkeys(examples))  # README's inspect example is also docs/inspect.md's


@pytest.mark.parametrize(("command", "output"), complete_examples())
def test_documented_examples_are_what_the_command_prints(command: str, output: str) -> None:
    """The user's guide shows real output: each complete example is printed again, unchanged."""
    import shlex

    if command.startswith("model ") and "torch.inference_mode()" in output:
        from rnnscope.model.summary import without_autograd

        if without_autograd()[1] != "torch.inference_mode()":
            pytest.skip(
                "model runs under no_grad on this torch (its FlopCounterMode is blind to inference mode)"
            )
    result = run_cli(*shlex.split(command), columns=80)
    printed = result.stdout + result.stderr
    assert [line.rstrip() for line in printed.splitlines()] == [line.rstrip() for line in output.splitlines()]


def drawn_pictures() -> list[tuple[str, str]]:
    """The examples that draw a picture into docs/: (command line, output)."""
    pictures = []
    for block in DOCUMENTATION.split("```console\n")[1:]:
        command, _, output = block.split("\n```", 1)[0].partition("\n")
        if command.startswith("$ rnnscope draw ") and re.search(r"--svg docs/\S+\.svg$", command):
            pictures.append((command.removeprefix("$ rnnscope "), output))
    return list(dict.fromkeys(pictures))


@pytest.mark.parametrize(("command", "output"), drawn_pictures())
def test_documented_pictures_are_what_draw_writes(
    command: str, output: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pictures in docs/ are real output: drawn again (into a scratch docs/), they come out
    byte for byte, and the command prints what the page shows."""
    import shlex

    pytest.importorskip("drawsvg")
    picture = shlex.split(command)[-1]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").mkdir()
    result = run_cli(*shlex.split(command), columns=80)
    printed = result.stdout + result.stderr
    assert [line.rstrip() for line in printed.splitlines()] == [line.rstrip() for line in output.splitlines()]
    assert (tmp_path / picture).read_bytes() == (ROOT / picture).read_bytes(), (
        f"stale: run rnnscope {command}"
    )
