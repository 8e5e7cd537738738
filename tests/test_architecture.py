"""The package's parts and the imports between them: the layer folder stands alone, the reports
need only the layer, and no part imports one that imports it back (directly or around a loop)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "rnnscope"


def part_of(module: str) -> str:
    """``rnnscope.layer.spec`` → ``layer``; ``rnnscope.report`` → ``report``; ``rnnscope`` → ``rnnscope``."""
    names = module.split(".")
    return names[1] if len(names) > 1 else names[0]


def imported_parts() -> dict[str, set[str]]:
    """Each part → the other parts its modules import, at the top or inside a function."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        names = path.relative_to(PACKAGE.parent).with_suffix("").parts
        part = part_of(".".join(names[:-1] if names[-1] == "__init__" else names))
        graph.setdefault(part, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            # The package itself (``from rnnscope import __version__``) is the public front, which
            # imports every command lazily: no part below it.
            inside = [m for m in modules if m.split(".")[0] == "rnnscope" and m != "rnnscope"]
            graph[part] |= {part_of(m) for m in inside} - {part}
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    waiting = [start]
    while waiting:
        for part in graph.get(waiting.pop(), set()) - seen:
            seen.add(part)
            waiting.append(part)
    return seen


def test_the_parts_are_the_capabilities() -> None:
    graph = imported_parts()
    assert {"layer", "execution", "checkpoint", "frameworks", "draw", "render", "report", "cli"} <= set(graph)


def test_the_layer_imports_nothing_of_the_others() -> None:
    # errors: the error types; plain: to_dict from a dataclass's fields (no rnnscope import).
    assert imported_parts()["layer"] <= {"errors", "plain"}
    assert imported_parts()["plain"] == set()


def test_the_reports_need_only_the_layer() -> None:
    assert imported_parts()["report"] <= {"layer", "errors", "plain"}


def test_no_import_runs_back_up() -> None:
    graph = imported_parts()
    loops = sorted(part for part in graph if part in reachable(graph, part))
    assert loops == [], f"parts that import themselves around a loop: {loops}"


def test_the_loop_check_sees_a_loop() -> None:
    assert reachable({"a": {"b"}, "b": {"a"}}, "a") == {"a", "b"}


def test_tests_take_their_helpers_from_helpers_not_conftest() -> None:
    others = [path for path in Path(__file__).parent.glob("*.py") if path != Path(__file__)]
    importing = [path.name for path in others if "from tests.conftest import" in path.read_text()]
    assert importing == [], "import run_cli, run_json, rendered, … from tests.helpers"


def test_a_layer_is_built_on_a_device_in_one_place() -> None:
    # execution/build.py: limits, device, fits, then the seeded module; every command goes through it.
    building = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "build_module(" in path.read_text()
    }
    assert building == {"execution/build.py"}


def test_no_module_hides_a_public_function() -> None:
    """Importing ``rnnscope.X`` sets the package's attribute X to that module: a module named as
    a public function (``rnnscope.gradients`` once was) would replace the function for everyone
    after the first import. Every module imported, each public name is still its function."""
    import importlib
    import pkgutil

    import rnnscope

    for module in pkgutil.walk_packages(rnnscope.__path__, "rnnscope."):
        if module.name != "rnnscope.__main__":
            importlib.import_module(module.name)
    for name in rnnscope.__all__:
        value = getattr(rnnscope, name)
        assert not isinstance(value, type(rnnscope)), f"rnnscope.{name} is a module"
