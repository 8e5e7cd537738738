"""What CI and shell scripts rely on: provenance in every JSON document and JUnit file."""

from __future__ import annotations

import platform
import re
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import rnnscope
from rnnscope.execution.environment import ENVIRONMENT_KEYS, environment
from rnnscope.execution.runtime import torch
from tests.helpers import run_json

DATA = Path(__file__).parent / "data"

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
