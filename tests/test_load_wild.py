"""Files written by real libraries' own save code, read by ``rnnscope load``.

The files in tests/data were made by tests/data/make_fixtures.py (pytorch-forecasting with
Lightning, flair, neuralforecast, TorchScript, the legacy format, DataParallel around
torch.compile). manifest.json holds what the script printed from the live objects that wrote
them — prefixes, constructors, container paths, every recurrent key's shape — so these tests
check rnnscope's reading against what the writing library itself had, not against rnnscope.
"""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run_json

DATA = Path(__file__).parent / "data"
MANIFEST: dict[str, dict[str, Any]] = json.loads((DATA / "manifest.json").read_text())
# What a state_dict holds; batch_first and dropout are in the constructor but not in the weights.
STRUCTURE = ("input_size", "hidden_size", "num_layers", "bidirectional", "proj_size", "bias")


UNTOLD = {"batch_first", "dropout"}


def _call(text: str, drop: set[str] = frozenset()) -> tuple[str, list[Any], dict[str, Any]]:
    """A constructor's class, arguments and keywords, without the keywords in ``drop``."""
    call = ast.parse(text, mode="eval").body
    assert isinstance(call, ast.Call)
    keywords = {k.arg: ast.literal_eval(k.value) for k in call.keywords if k.arg not in drop}
    return ast.unparse(call.func), [ast.literal_eval(a) for a in call.args], keywords


def _needs(name: str) -> None:
    if name.endswith(".safetensors"):
        pytest.importorskip("safetensors")


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_the_file_is_the_one_the_manifest_describes(name: str) -> None:
    entry = MANIFEST[name]
    assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == entry["sha256"]


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_layers_found_as_the_writing_library_built_them(name: str) -> None:
    _needs(name)
    entry = MANIFEST[name]
    document = run_json("load", str(DATA / name))
    found = {layer["prefix"]: layer for layer in document["layers"]}
    assert set(found) == {layer["prefix"] for layer in entry["recurrent_layers"]}
    assert document["problems"] == []
    for want in entry["recurrent_layers"]:
        got = found[want["prefix"]]
        assert got["kind"] == want["mode"].lower()
        assert {key: got["config"][key] for key in STRUCTURE} == {key: want[key] for key in STRUCTURE}
        assert got["container"] == ".".join(want["state_dict_path"] or [])
        prefix = want["prefix"] + "."
        shapes = {f"{prefix}{row['name']}": row["shape"] for row in got["parameters"]}
        assert shapes == want["keys"]
        # The constructor says what the weights tell; batch_first and dropout are left to the user.
        assert _call(got["constructor"]) == _call(want["constructor"], drop=UNTOLD)


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_every_layer_loads_strictly_and_verifies(name: str) -> None:
    _needs(name)
    document = run_json("load", str(DATA / name), "--run")
    assert len(document["verify"]) == len(MANIFEST[name]["recurrent_layers"])
    assert all(check["ok"] for check in document["verify"])


@pytest.mark.parametrize(
    "name, library",
    [("lightning_forecasting.ckpt", "pytorch_forecasting"), ("flair_lm.pt", "flair")],
)
def test_library_objects_are_named_not_created(name: str, library: str) -> None:
    """The files torch.load(weights_only=True) refuses (FACTS.md) are read, and the library
    classes their pickles name are listed in a note, never imported."""
    import sys

    document = run_json("load", str(DATA / name))
    assert any(library in note for note in document["notes"])
    assert library not in sys.modules
