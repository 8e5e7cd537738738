"""Fixtures and options: ``golden`` compares an output with its golden file, which
``--update-goldens`` rewrites. Plain helpers are in tests/helpers.py."""

from __future__ import annotations

import pytest

from tests.helpers import GOLDEN, Golden


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="Rewrite tests/golden/*.out.")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """``check(name, output)``: the output equals tests/golden/NAME.out, which
    ``--update-goldens`` rewrites first."""
    update = bool(request.config.getoption("--update-goldens"))

    def check(name: str, output: str) -> None:
        path = GOLDEN / f"{name}.out"
        if update:
            path.parent.mkdir(exist_ok=True)
            path.write_text(output)
        assert output == path.read_text()

    return check
