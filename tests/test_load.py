"""rnnscope load: files saved from real modules, read without running them."""

from __future__ import annotations

import builtins
import json
import os
import random
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rnnscope.checkpoint.loading import load
from rnnscope.checkpoint.reader import read_checkpoint
from tests.helpers import Golden, rendered, run_cli, run_json
from tests.load_helpers import (
    LookalikeCell,
    TwoLayers,
    build,
    lightning_checkpoint,
    malicious_zip,
    save,
)


def assert_loads_strictly(path: Path) -> dict[str, Any]:
    """Every layer's printed constructor takes its tensors with strict=True, values intact."""
    document = run_json("load", str(path))
    checkpoint = read_checkpoint(path)
    assert [layer.constructor for layer in checkpoint.layers] == [
        layer["constructor"] for layer in document["layers"]
    ]
    for layer in checkpoint.layers:
        module = build(layer.constructor)
        state = checkpoint.state_dict(layer)
        module.load_state_dict(state, strict=True)
        assert list(state) == [name for name, _ in module.named_parameters()]
    return document


# --- every kind and setting -------------------------------------------------------------------

layer_configs = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["RNN", "LSTM", "GRU"]),
        "input_size": st.integers(1, 9),
        "hidden_size": st.integers(2, 9),
        "num_layers": st.integers(1, 3),
        "bias": st.booleans(),
        "bidirectional": st.booleans(),
        "proj": st.integers(0, 1),
        "protocol": st.integers(2, 5),
    }
)


@settings(max_examples=30, deadline=None)
@given(config=layer_configs)
def test_inferred_config_and_constructor_load_the_tensors(config: dict[str, Any]) -> None:
    proj_size = config["proj"] * (config["hidden_size"] - 1) if config["kind"] == "LSTM" else 0
    options = {"proj_size": proj_size} if config["kind"] == "LSTM" else {}
    module = getattr(nn, config["kind"])(
        config["input_size"],
        config["hidden_size"],
        num_layers=config["num_layers"],
        bias=config["bias"],
        bidirectional=config["bidirectional"],
        **options,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = save(Path(folder) / "layer.pt", module.state_dict(), pickle_protocol=config["protocol"])
        checkpoint = read_checkpoint(path)
        (layer,) = checkpoint.layers
        spec = layer.spec
        assert (spec.kind.value, spec.cell) == (config["kind"].lower(), False)
        assert (spec.input_size, spec.hidden_size, spec.num_layers) == (
            config["input_size"],
            config["hidden_size"],
            config["num_layers"],
        )
        assert (spec.bias, spec.bidirectional, spec.proj_size) == (
            config["bias"],
            config["bidirectional"],
            proj_size,
        )
        rebuilt = build(layer.constructor)
        state = checkpoint.state_dict(layer)
        rebuilt.load_state_dict(state, strict=True)
        for name, tensor in module.state_dict().items():
            assert torch.equal(state[name], tensor)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells(tmp_path: Path, kind: str, bias: bool) -> None:
    path = save(tmp_path / "cell.pt", getattr(nn, kind)(6, 5, bias=bias).state_dict())
    document = assert_loads_strictly(path)
    (layer,) = document["layers"]
    assert layer["cell"] is True
    assert layer["constructor"] == (f"nn.{kind}(6, 5)" if bias else f"nn.{kind}(6, 5, bias=False)")
    assert layer["config"] == {"input_size": 6, "hidden_size": 5, "bias": bias} | (
        {"nonlinearity": None} if kind == "RNNCell" else {}
    )


def test_constructor_text(tmp_path: Path) -> None:
    cases = {
        "nn.LSTM(32, 16, bidirectional=True)": nn.LSTM(32, 16, bidirectional=True),
        "nn.GRU(8, 4, num_layers=2, bias=False)": nn.GRU(8, 4, num_layers=2, bias=False),
        "nn.LSTM(3, 6, proj_size=2, num_layers=2)": nn.LSTM(3, 6, 2, proj_size=2),
        "nn.RNN(5, 7)": nn.RNN(5, 7, nonlinearity="relu"),
    }
    for expected, module in cases.items():
        path = save(tmp_path / "m.pt", module.state_dict())
        assert [layer.constructor for layer in read_checkpoint(path).layers] == [expected]


# --- containers, prefixes, several layers, formats --------------------------------------------


def test_several_layers_with_prefixes_and_lookalike_names(tmp_path: Path) -> None:
    model = TwoLayers()
    wrapped = {f"module.{k}": v for k, v in model.state_dict().items()}
    path = save(tmp_path / "ddp.pt", {"epoch": 4, "model_state_dict": wrapped, "optimizer": {}})
    document = assert_loads_strictly(path)
    found = [(layer["container"], layer["prefix"], layer["constructor"]) for layer in document["layers"]]
    assert found == [
        ("model_state_dict", "module.rnn1", "nn.LSTM(32, 16, bidirectional=True)"),
        ("model_state_dict", "module.rnn2", "nn.GRU(8, 4, num_layers=2)"),
        ("model_state_dict", "module.cell", "nn.RNNCell(4, 3)"),
    ]
    assert document["problems"] == []
    assert any("module. prefix is added by nn.DataParallel" in note for note in document["notes"])
    assert any("nn.RNNCell: nonlinearity is not in the weights" in note for note in document["notes"])
    assert document["layers"][1]["config"]["batch_first"] is None  # the weights cannot tell


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,
        lambda sd: {"state_dict": sd},
        lambda sd: {"checkpoint": {"model": sd, "step": 3}},
        lambda sd: [{"ema": sd}],
    ],
    ids=["bare", "state_dict", "nested", "list"],
)
def test_nesting(tmp_path: Path, wrap: Any) -> None:
    compiled_keys = {f"_orig_mod.rnn.{k}": v for k, v in nn.GRU(3, 4).state_dict().items()}
    path = save(tmp_path / "c.pt", wrap(compiled_keys))
    document = assert_loads_strictly(path)
    (layer,) = document["layers"]
    assert layer["prefix"] == "_orig_mod.rnn"
    assert any("_orig_mod. prefix is added by torch.compile" in note for note in document["notes"])


def test_container_paths(tmp_path: Path) -> None:
    state = nn.GRU(3, 4).state_dict()
    for value, container in [
        (state, ""),
        ({"state_dict": state}, "state_dict"),
        ({"checkpoint": {"model": state}}, "checkpoint.model"),
        ([{"ema": state}], "[0].ema"),
    ]:
        path = save(tmp_path / "c.pt", value)
        assert [layer.container for layer in read_checkpoint(path).layers] == [container]


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_pickle_protocols(tmp_path: Path, protocol: int) -> None:
    path = save(tmp_path / "p.pt", TwoLayers().state_dict(), pickle_protocol=protocol)
    assert len(assert_loads_strictly(path)["layers"]) == 3


def test_top_folder_is_the_saved_name(tmp_path: Path) -> None:
    path = save(tmp_path / "flair_language_model.pt", nn.LSTM(5, 6).state_dict())
    assert zipfile.ZipFile(path).namelist()[0].startswith("flair_language_model/")
    assert_loads_strictly(path)


def test_legacy_format(tmp_path: Path) -> None:
    path = save(tmp_path / "old.pt", TwoLayers().state_dict(), _use_new_zipfile_serialization=False)
    document = assert_loads_strictly(path)
    assert document["format"] == "legacy"
    assert len(document["layers"]) == 3


def test_safetensors(tmp_path: Path) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    model = TwoLayers()
    path = tmp_path / "model.bin"  # recognised by content, not by name
    safetensors_torch.save_file(model.state_dict(), str(path))
    document = assert_loads_strictly(path)
    assert document["format"] == "safetensors"
    assert {layer["prefix"] for layer in document["layers"]} == {"rnn1", "rnn2", "cell"}


def test_whole_pickled_module_and_torchscript(tmp_path: Path) -> None:
    model = TwoLayers()
    pickled = save(tmp_path / "whole.pt", model)
    document = assert_loads_strictly(pickled)
    assert [layer["prefix"] for layer in document["layers"]] == ["rnn1", "rnn2", "cell"]
    assert any("tests.load_helpers.TwoLayers" in note for note in document["notes"])
    scripted = tmp_path / "scripted.pt"
    with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript; files of it are still around
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(nn.Sequential(nn.GRU(3, 4, 2, bidirectional=True))).save(str(scripted))
    document = assert_loads_strictly(scripted)
    assert document["format"] == "torchscript"
    assert [(layer["prefix"], layer["constructor"]) for layer in document["layers"]] == [
        ("0", "nn.GRU(3, 4, num_layers=2, bidirectional=True)")
    ]


def test_a_pickled_module_gives_what_its_weights_cannot(tmp_path: Path) -> None:
    """torch.save(model) pickles each module's attributes: batch_first, dropout and an RNN's
    nonlinearity are read from there (statically), where that module's sizes agree with its
    weights; a bare state_dict of the same model cannot tell them."""
    path = save(tmp_path / "lstm.pt", nn.LSTM(3, 4, batch_first=True))
    document = assert_loads_strictly(path)
    (layer,) = document["layers"]
    assert layer["constructor"] == "nn.LSTM(3, 4, batch_first=True)"
    assert (layer["config"]["batch_first"], layer["config"]["dropout"]) == (True, 0.0)
    assert layer["from_module"] == ["batch_first", "dropout"]
    assert (
        "the layer (no prefix): batch_first=True, dropout=0.0 from the pickled module's own attributes, "
        "read without running anything (the weights do not record them)"
    ) in document["notes"]
    assert not any("not in the weights" in note for note in document["notes"])
    shown = run_cli("load", str(path))
    assert "from the pickled module's attributes: batch_first=True, dropout=0.0" in shown.stdout
    assert "not in the weights" not in shown.stdout

    network = TwoLayers()
    network.rnn2.dropout = 0.25
    document = assert_loads_strictly(save(tmp_path / "two.pt", network))
    found = {layer["prefix"]: layer for layer in document["layers"]}
    assert {prefix: layer["constructor"] for prefix, layer in found.items()} == {
        "rnn1": "nn.LSTM(32, 16, bidirectional=True)",
        "rnn2": "nn.GRU(8, 4, num_layers=2, batch_first=True, dropout=0.25)",
        "cell": "nn.RNNCell(4, 3, nonlinearity='relu')",
    }
    assert found["cell"]["config"]["nonlinearity"] == "relu" and found["cell"]["from_module"] == [
        "nonlinearity"
    ]
    verified = run_json("load", str(tmp_path / "two.pt"), "--prefix", "rnn2", "--run")["verify"][0]
    assert (verified["config"]["batch_first"], verified["ok"]) == (True, True)

    bare = run_json("load", str(save(tmp_path / "state.pt", network.state_dict())))
    assert [(layer["from_module"], layer["config"]["batch_first"]) for layer in bare["layers"][:2]] == [
        ([], None),
        ([], None),
    ]
    assert (
        "nn.GRU: batch_first and dropout are not in the weights; set as the code that saved it did"
        in (bare["notes"])
    )

    # A module whose attributes no longer describe its weights is not believed.
    altered = nn.GRU(3, 4, batch_first=True)
    altered.input_size = 5
    (layer,) = run_json("load", str(save(tmp_path / "altered.pt", altered)))["layers"]
    assert (layer["constructor"], layer["from_module"], layer["config"]["batch_first"]) == (
        "nn.GRU(3, 4)",
        [],
        None,
    )


def test_from_a_pickled_module_takes_its_attributes_as_the_files(tmp_path: Path) -> None:
    """--from a torch.save(model) file: batch_first and dropout are the file's, as the sizes are:
    left out, the file gives them; typed otherwise, refused in one line."""
    path = save(tmp_path / "gru.pt", nn.GRU(3, 4, batch_first=True))
    document = run_json("layout", "gru", "--from", str(path))
    assert (document["module"], document["config"]["batch_first"]) == ("GRU(3, 4, batch_first=True)", True)
    assert any(
        note.endswith("the file's pickled module gives batch_first, dropout") for note in document["notes"]
    )
    assert run_json("layout", "gru", "--from", str(path), "--batch-first")["config"]["batch_first"] is True
    result = run_cli("layout", "gru", "--from", str(path), "--seq-first")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: --seq-first: the layer of {path} has --batch-first; leave it out, the file gives it\n"
    )
    state = save(tmp_path / "state.pt", nn.GRU(3, 4, batch_first=True).state_dict())
    assert run_json("layout", "gru", "--from", str(state), "--seq-first")["config"]["batch_first"] is False


def test_shared_and_strided_storage(tmp_path: Path) -> None:
    """cuDNN flattens a layer's weights into one buffer: tensors at offsets of one storage."""
    reference = nn.LSTM(3, 4).state_dict()
    flat = torch.randn(sum(t.numel() for t in reference.values()) + 7)
    state, offset = {}, 7
    for name, tensor in reference.items():
        state[name] = flat[offset : offset + tensor.numel()].view(tensor.shape)
        offset += tensor.numel()
    state["weight_hh_l0"] = torch.randn(4, 16).t()  # a transposed (non-contiguous) view
    path = save(tmp_path / "flat.pt", state)
    checkpoint = read_checkpoint(path)
    values = checkpoint.state_dict(checkpoint.layers[0])
    for name, tensor in state.items():
        assert torch.equal(values[name], tensor)


def test_lightning_checkpoint_with_an_unimportable_library_class(tmp_path: Path) -> None:
    """pytorch-lightning and pytorch-forecasting are not installed here: the file is made the
    way they make it, with a class from a library that cannot be imported when it is read."""
    path = lightning_checkpoint(tmp_path / "epoch=3.ckpt", tmp_path / "lib")
    with pytest.raises(Exception, match="forecastlib_for_rnnscope_tests"):
        torch.load(path, weights_only=True)  # the safe loader refuses it
    document = assert_loads_strictly(path)
    (layer,) = document["layers"]
    assert (layer["container"], layer["prefix"]) == ("state_dict", "model.encoder")
    assert layer["constructor"] == "nn.LSTM(7, 12, num_layers=2)"
    not_created = next(note for note in document["notes"] if note.startswith("objects in the file"))
    assert "forecastlib_for_rnnscope_tests.metrics.QuantileLoss" in not_created
    assert "forecastlib_for_rnnscope_tests" not in sys.modules


# --- what is not a layer, and what is a problem -----------------------------------------------


def test_no_recurrent_layer(tmp_path: Path) -> None:
    path = save(tmp_path / "mlp.pt", nn.Sequential(nn.Linear(3, 4), nn.ReLU()).state_dict())
    document = run_json("load", str(path))
    assert document["layers"] == [] and document["problems"] == []
    assert any("no recurrent layer found" in note for note in document["notes"])


def test_lookalike_custom_cell_is_reported_as_that_cell(tmp_path: Path) -> None:
    path = save(tmp_path / "custom.pt", {"decoder": LookalikeCell().state_dict()})
    (layer,) = assert_loads_strictly(path)["layers"]
    assert layer["constructor"] == "nn.LSTMCell(3, 5)"


def test_missing_and_misshaped_tensors_are_problems(tmp_path: Path) -> None:
    model = TwoLayers()
    state = model.state_dict()
    del state["rnn2.bias_hh_l1"]
    state["rnn1.weight_ih_l0_reverse"] = torch.zeros(64, 31)
    state["odd.weight_ih_l0"], state["odd.weight_hh_l0"] = torch.zeros(10, 3), torch.zeros(10, 5)
    path = save(tmp_path / "broken.pt", state)
    result = run_cli("load", str(path), "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    problems = {problem["prefix"]: problem for problem in document["problems"]}
    assert problems["rnn2"]["keys"] == ["rnn2.bias_hh_l1"]
    assert "missing bias_hh_l1" in problems["rnn2"]["message"]
    assert problems["rnn1"]["keys"] == ["rnn1.weight_ih_l0_reverse"]
    assert "(64, 31) (expected (64, 32))" in problems["rnn1"]["message"]
    assert "fits no kind" in problems["odd"]["message"]
    assert [layer["prefix"] for layer in document["layers"]] == ["cell"]  # the rest is still reported
    table = run_cli("load", str(path))
    assert table.exit_code == 1 and "rnn2: looks like nn.GRU(8, 4, num_layers=2) but missing" in table.stdout


# --- never run the file -----------------------------------------------------------------------

EVERY_FLAG = [[], ["--json"], ["--run"], ["--stats"], ["--expect", "nn.LSTM(2, 4)"], ["--prefix", ""]]


@pytest.mark.parametrize("flags", EVERY_FLAG, ids=lambda flags: " ".join(flags) or "plain")
@pytest.mark.parametrize(
    ("func", "call"),
    [
        (os.system, os.system.__module__ + ".system"),
        (builtins.exec, "builtins.exec"),
        (subprocess.call, "subprocess.call"),
    ],
    ids=["os.system", "exec", "subprocess"],
)
def test_malicious_pickle_is_refused_and_never_runs(
    tmp_path: Path, flags: list[str], func: Any, call: str
) -> None:
    marker = tmp_path / "pwned"
    argument: Any = f"touch {marker}"
    if func is builtins.exec:
        argument = f"open({str(marker)!r}, 'w').close()"
    elif func is subprocess.call:
        argument = ["touch", str(marker)]
    for protocol in (2, 4):
        path = malicious_zip(tmp_path / f"evil{protocol}.pt", func, argument, protocol=protocol)
        result = run_cli("load", str(path), *flags)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr.startswith(f"error: {path}: refused: its pickle would call ")
        assert call in result.stderr
        assert result.stderr.count("\n") == 1
        assert not marker.exists()


def test_ordinary_globals_are_not_refused(tmp_path: Path) -> None:
    """collections, torch.device and _codecs.encode are in real checkpoints: picklescan's
    'suspicious', not 'dangerous'."""
    from collections import defaultdict

    value = {
        "state_dict": nn.GRU(2, 3).state_dict(),
        "device": torch.device("cpu"),
        "counts": defaultdict(int, a=1),
        "raw": b"\x00\xff",
    }
    path = save(tmp_path / "ordinary.pt", value, pickle_protocol=2)
    document = assert_loads_strictly(path)
    assert len(document["layers"]) == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.write_bytes(b""), p)[1], "is empty, not a checkpoint"),
        (lambda p: (p.write_bytes(random.Random(0).randbytes(4096)), p)[1], "not a checkpoint"),
        (lambda p: (p.mkdir(), p)[1], "is a directory"),
        (lambda p: (p.write_bytes(b"\x80\x02}q\x00."), p)[1], "a pickle, but not one torch.save wrote"),
    ],
    ids=["missing", "empty", "random", "directory", "plain-pickle"],
)
def test_bad_files(tmp_path: Path, make: Any, message: str) -> None:
    path = make(tmp_path / "bad.pt")
    for flags in EVERY_FLAG[:2]:
        result = run_cli("load", str(path), *flags)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr.startswith(f"error: {path}: ") and message in result.stderr
        assert result.stderr.count("\n") == 1


def test_truncated_and_non_checkpoint_zip(tmp_path: Path) -> None:
    whole = save(tmp_path / "whole.pt", nn.LSTM(30, 40).state_dict())
    data = whole.read_bytes()
    for cut in (len(data) // 2, len(data) - 10):
        truncated = tmp_path / "cut.pt"
        truncated.write_bytes(data[:cut])
        result = run_cli("load", str(truncated), "--run")
        assert (result.exit_code, result.stdout) == (2, "")
        assert "truncated" in result.stderr and result.stderr.count("\n") == 1
    other = tmp_path / "notes.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("notes.txt", "hello")
    result = run_cli("load", str(other))
    assert result.exit_code == 2
    assert result.stderr == f"error: {other}: a zip archive without data.pkl: not a torch.save checkpoint\n"


# --- --expect -----------------------------------------------------------------------------------


def test_expect_hidden_size_mismatch_gives_pytorchs_own_error(tmp_path: Path) -> None:
    path = save(tmp_path / "lstm.pt", nn.LSTM(300, 128, 2).state_dict())
    document = run_json("load", str(path), "--expect", "nn.LSTM(300, 512, 2)", exit_code=1)
    assert document["mismatches"] == [
        {
            "prefix": "",
            "field": "hidden_size",
            "file": 128,
            "expected": 512,
            "evidence": "weight_hh_l0 (512, 128)",
        }
    ]
    with pytest.raises(RuntimeError) as real:
        nn.LSTM(300, 512, 2).load_state_dict(torch.load(path, weights_only=True))
    assert document["pytorch_error"] == str(real.value)
    table = run_cli("load", str(path), "--expect", "nn.LSTM(300, 512, 2)")
    assert table.exit_code == 1
    assert "hidden_size  128   512    weight_hh_l0 (512, 128)" in table.stdout
    assert "size mismatch for weight_hh_l0" in table.stdout


def test_expect_that_loads(tmp_path: Path) -> None:
    path = save(tmp_path / "lstm.pt", nn.LSTM(300, 128, 2).state_dict())
    document = run_json(
        "load", str(path), "--expect", "torch.nn.LSTM(300, 128, num_layers=2, batch_first=True)"
    )
    assert document["mismatches"] == [] and document["pytorch_error"] is None


def test_expect_every_field(tmp_path: Path) -> None:
    path = save(tmp_path / "m.pt", nn.LSTM(6, 5, 2, bidirectional=True, proj_size=3).state_dict())
    document = run_json("load", str(path), "--expect", "nn.GRU(7, 4, bias=False)", exit_code=1)
    assert {
        row["field"]: (row["file"], row["expected"], row["evidence"]) for row in document["mismatches"]
    } == {
        "kind": ("lstm", "gru", "weight_hh_l0 (20, 3)"),
        "input_size": (6, 7, "weight_ih_l0 (20, 6)"),
        "hidden_size": (5, 4, "weight_hr_l0 (3, 5)"),
        "bias": (True, False, "bias_ih_l0 (20,)"),
        "num_layers": (2, 1, "weight_ih_l1 (20, 6), no weight_ih_l2"),
        "bidirectional": (True, False, "weight_ih_l0_reverse (20, 6)"),
        "proj_size": (3, 0, "weight_hr_l0 (3, 5)"),
    }
    assert document["pytorch_error"].startswith("Error(s) in loading state_dict for GRU:")


def test_expect_picks_the_layer(tmp_path: Path) -> None:
    path = save(tmp_path / "two.pt", TwoLayers().state_dict())
    document = run_json("load", str(path), "--expect", "nn.GRU(8, 4, 2)")
    assert document["expect_prefix"] == "rnn2"
    result = run_cli("load", str(path), "--expect", "nn.LSTM(32, 16)", "--prefix", "rnn1", "--json")
    assert result.exit_code == 1
    assert [row["field"] for row in json.loads(result.stdout)["mismatches"]] == ["bidirectional"]
    two_grus = save(tmp_path / "grus.pt", {"a": nn.GRU(3, 4).state_dict(), "b": nn.GRU(3, 5).state_dict()})
    result = run_cli("load", str(two_grus), "--expect", "nn.GRU(3, 4)")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --expect: 2 layers could be meant; pick one with --prefix: its layers: 'a', 'b'\n"
    )
    assert run_json("load", str(two_grus), "--expect", "nn.GRU(3, 4)", "--prefix", "a")["mismatches"] == []


@pytest.mark.parametrize(
    ("constructor", "message"),
    [
        ("os.system('touch x')", "the class must be one of"),
        ("__import__('os').system('x')", "the class must be one of"),
        ("nn.LSTM(3, size)", "its arguments must be literals"),
        ("nn.LSTM(3, 4) + 1", "it is not a call"),
        ("nn.LSTM(3, 4", "it is not a Python expression"),
        ("nn.LSTM(3, 4, device='cuda')", "device= is not one of the layer's settings"),
        ("nn.LSTM(3, 4, **{'bias': False})", "** is not a literal argument"),
        ("nn.GRU(3, 4, proj_size=2)", "PyTorch rejects it: proj_size argument is only supported for LSTM"),
        ("nn.LSTM(3, 4, proj_size=4)", "PyTorch rejects it: proj_size has to be smaller than hidden_size"),
    ],
)
def test_bad_expect(tmp_path: Path, constructor: str, message: str) -> None:
    path = save(tmp_path / "m.pt", nn.LSTM(3, 4).state_dict())
    result = run_cli("load", str(path), "--expect", constructor)
    assert (result.exit_code, result.stdout) == (2, "")
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_unknown_prefix(tmp_path: Path) -> None:
    path = save(tmp_path / "two.pt", TwoLayers().state_dict())
    result = run_cli("load", str(path), "--prefix", "rnn")
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"error: --prefix 'rnn' is not a layer in {path}; its layers: 'rnn1', 'rnn2', 'cell'\n"
    )
    assert [layer["prefix"] for layer in run_json("load", str(path), "--prefix", "rnn2")["layers"]] == [
        "rnn2"
    ]


def test_one_prefix_in_two_state_dicts(tmp_path: Path) -> None:
    """--prefix rnn where a.rnn and b.rnn both exist (b's a problem) names neither half: refused,
    offering the full forms, which --prefix then takes — for load, --expect and --from alike."""

    def keyed(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {f"rnn.{name}": tensor for name, tensor in state.items()}

    broken = keyed(nn.GRU(3, 5).state_dict())
    del broken["rnn.weight_hh_l0"]
    path = save(tmp_path / "two.pt", {"a": keyed(nn.GRU(3, 4).state_dict()), "b": broken})
    for flags in ([], ["--json"], ["--stats"], ["--expect", "nn.GRU(3, 4)"]):
        result = run_cli("load", str(path), "--prefix", "rnn", *flags)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (
            f"error: --prefix 'rnn' is in 2 state_dicts of {path}: name one in full: 'a.rnn', 'b.rnn'\n"
        )
    only_a = run_json("load", str(path), "--prefix", "a.rnn")
    assert ([(layer["container"], layer["prefix"]) for layer in only_a["layers"]], only_a["problems"]) == (
        [("a", "rnn")],
        [],
    )
    only_b = run_json("load", str(path), "--prefix", "b.rnn", exit_code=1)
    assert only_b["layers"] == []
    assert [(problem["container"], problem["prefix"]) for problem in only_b["problems"]] == [("b", "rnn")]

    twins = save(
        tmp_path / "twins.pt", {"a": keyed(nn.GRU(3, 4).state_dict()), "b": keyed(nn.GRU(3, 6).state_dict())}
    )
    assert (
        run_json("load", str(twins), "--prefix", "b.rnn", "--expect", "nn.GRU(3, 6)")["expect_container"]
        == "b"
    )
    result = run_cli("layout", "gru", "--from", str(twins), "--prefix", "rnn")
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: --prefix 'rnn' is in 2 state_dicts of {twins}: name one in full: 'a.rnn', 'b.rnn'\n",
    )
    chosen = run_json("layout", "gru", "--from", str(twins), "--prefix", "b.rnn")
    assert (chosen["source"]["container"], chosen["pytorch_params"]) == (
        "b",
        sum(parameter.numel() for parameter in nn.GRU(3, 6).parameters()),
    )


# --- --stats and --run --------------------------------------------------------------------------


def test_stats_show_the_forget_gate_bias(tmp_path: Path) -> None:
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 4, bidirectional=True)
    with torch.no_grad():
        lstm.bias_ih_l0[4:8] = 1.0  # the forget block, as trained LSTMs often start
        lstm.bias_hh_l0[4:8] = 0.5
    path = save(tmp_path / "lstm.pt", lstm.state_dict())
    document = run_json("load", str(path), "--stats")
    rows = {(r["layer"], r["direction"], r["tensor"], r["gate"]): r for r in document["stats"]}
    assert len(rows) == 2 * 3 * 4  # directions × tensors × gates
    forget = rows[(0, "forward", "bias", "f")]
    assert (forget["mean"], forget["std"], forget["min"], forget["max"]) == (1.5, 0.0, 1.5, 1.5)
    block = lstm.weight_hh_l0_reverse.detach().double()[12:16]  # the o gate
    output = rows[(0, "reverse", "weight_hh", "o")]
    assert output["mean"] == pytest.approx(float(block.mean()))
    assert output["std"] == pytest.approx(float(block.std()))  # torch.std's: ÷ (n − 1)
    assert output["std"] != pytest.approx(float(block.std(unbiased=False)))
    assert "Weights per gate block" in run_cli("load", str(path), "--stats").stdout


def test_run_verifies_each_layer_with_its_own_weights(tmp_path: Path) -> None:
    path = save(tmp_path / "two.pt", TwoLayers().state_dict())
    document = run_json("load", str(path), "--run")
    assert [(report["prefix"], report["module"], report["ok"]) for report in document["verify"]] == [
        ("rnn1", "LSTM(32, 16, bidirectional=True)", True),
        ("rnn2", "GRU(8, 4, num_layers=2)", True),
        ("cell", "RNNCell(4, 3)", True),
    ]


def test_load_library_call(tmp_path: Path) -> None:
    path = save(tmp_path / "m.pt", {"state_dict": nn.GRU(3, 4).state_dict()})
    report = load(str(path), stats=True)
    assert report.ok and report.layers[0].constructor == "nn.GRU(3, 4)"
    assert json.loads(json.dumps(report.to_dict(), allow_nan=False))["layers"][0]["total_params"] == 108


def test_subprocess(tmp_path: Path) -> None:
    path = save(tmp_path / "m.pt", nn.LSTM(3, 4).state_dict())
    result = subprocess.run(
        [sys.executable, "-m", "rnnscope", "load", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["layers"][0]["constructor"] == "nn.LSTM(3, 4)"
    assert result.stderr == ""


def test_golden_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, golden: Golden) -> None:
    """The terminal view at 80 columns, without colour: a file with two layers and a mismatch."""
    from rnnscope.render import load_view

    torch.manual_seed(0)
    model = nn.Module()
    model.encoder = nn.LSTM(10, 8, bidirectional=True)
    model.decoder = nn.GRUCell(16, 4)
    monkeypatch.chdir(tmp_path)
    wrapped = {f"module.{k}": v for k, v in model.state_dict().items()}
    save(Path("model.pt"), {"epoch": 1, "state_dict": wrapped})
    output = rendered(load_view(load("model.pt", expect="nn.LSTM(10, 16, bidirectional=True)", stats=True)))
    golden("load_two_layers", output)
    assert max(len(line) for line in output.splitlines()) <= 80


def test_deflated_archive(tmp_path: Path) -> None:
    """A checkpoint re-zipped with compression: the values come through zipfile, not a seek."""
    saved = save(tmp_path / "stored.pt", nn.GRU(3, 4, bidirectional=True).state_dict())
    deflated = tmp_path / "deflated.pt"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            target.writestr(name, source.read(name))
    checkpoint = read_checkpoint(deflated)
    values = checkpoint.state_dict(checkpoint.layers[0])
    for name, tensor in torch.load(saved, weights_only=True).items():
        assert torch.equal(values[name], tensor)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_damaged_pickles_never_give_a_traceback(data: st.DataObject) -> None:
    """Bytes of a real data.pkl, overwritten or cut anywhere: a report or one error line."""
    with tempfile.TemporaryDirectory() as folder:
        saved = save(Path(folder) / "m.pt", {"state_dict": TwoLayers().state_dict()}, pickle_protocol=4)
        with zipfile.ZipFile(saved) as archive:
            members = {name: archive.read(name) for name in archive.namelist()}
        pickle_name = next(name for name in members if name.endswith("data.pkl"))
        payload = bytearray(members[pickle_name])
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, len(payload) - 1))
            payload[position] = data.draw(st.integers(0, 255))
        members[pickle_name] = bytes(payload[: data.draw(st.integers(1, len(payload)))])
        damaged = Path(folder) / "damaged.pt"
        with zipfile.ZipFile(damaged, "w") as archive:
            for name, content in members.items():
                archive.writestr(name, content)
        result = run_cli("load", str(damaged), "--json")
        assert isinstance(result.exception, SystemExit | None), result.exception  # no traceback
        assert result.exit_code in (0, 1, 2)
        if result.exit_code == 2:
            assert result.stdout == "" and result.stderr.count("\n") == 1
        else:
            json.loads(result.stdout)


def test_prefixes_from_the_wild(tmp_path: Path) -> None:
    """Leading underscores and deep numeric nesting stay exactly as the keys have them."""
    deep = "_model_8k.freq_encoder.3.dconv.layers.0.3.lstm"
    state = {f"{deep}.{k}": v for k, v in nn.LSTM(4, 2, bidirectional=True).state_dict().items()}
    state["_model_8k.freq_encoder.3.dconv.layers.0.3.lstm_proj.weight"] = torch.zeros(2, 4)
    path = save(tmp_path / "htdemucs.th", {"state": state})
    (layer,) = assert_loads_strictly(path)["layers"]
    assert (layer["container"], layer["prefix"]) == ("state", deep)


def test_safetensors_without_the_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    safetensors_torch = pytest.importorskip("safetensors.torch")
    path = tmp_path / "model.safetensors"
    safetensors_torch.save_file(nn.GRU(3, 4).state_dict(), str(path))
    monkeypatch.setitem(sys.modules, "safetensors", None)  # import safetensors now fails
    result = run_cli("load", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: {path}: a safetensors file, but the safetensors package is not installed: "
        "pip install 'rnnscope[safetensors]'\n"
    )


def test_file_saved_on_a_gpu_reads_without_one(tmp_path: Path) -> None:
    """Storages saved from CUDA carry location 'cuda:0': the bytes are read all the same, on the CPU."""
    saved = save(tmp_path / "cpu.pt", nn.LSTM(3, 4).state_dict(), pickle_protocol=2)
    on_gpu = tmp_path / "gpu.pt"
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(on_gpu, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name.endswith("data.pkl"):
                assert b"X\x03\x00\x00\x00cpu" in content  # BINUNICODE 'cpu'
                content = content.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            target.writestr(name, content)
    checkpoint = read_checkpoint(on_gpu)
    assert {info.ref.storage.location for info in checkpoint.layers[0].tensors.values()} == {"cuda:0"}
    values = checkpoint.state_dict(checkpoint.layers[0])
    for name, tensor in torch.load(saved, weights_only=True).items():
        assert torch.equal(values[name], tensor) and values[name].device.type == "cpu"
    assert run_json("load", str(on_gpu), "--run")["ok"] is True


def test_run_options_are_checked_before_the_file_is_read(tmp_path: Path) -> None:
    path = save(tmp_path / "m.pt", nn.GRU(3, 4).state_dict())
    cases = {
        ("--seed", str(2**64)): "error: --seed must be between -2^63 and 2^64 - 1 (torch.manual_seed takes a "
        f"64-bit value), got {2**64}\n",
        ("--device", "meta"): "error: --device meta: load --run needs values and the meta device holds none "
        "(it computes shapes only); use --device cpu or auto\n",
        ("--device", "tpu"): "error: --device must be cpu, cuda, cuda:N, mps or auto, got 'tpu'\n",
    }
    for flags, message in cases.items():
        result = run_cli("load", str(path), "--run", *flags)
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_run_on_cuda(tmp_path: Path) -> None:
    path = save(tmp_path / "m.pt", nn.LSTM(3, 4, 2, bidirectional=True).state_dict())
    document = run_json("load", str(path), "--run", "--device", "cuda")
    assert document["verify"][0]["device"].startswith("cuda") and document["verify"][0]["ok"]
