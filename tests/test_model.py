"""``rnnscope model``: every reported call, signature, MAC count and verification against forward
hooks written here, independently of rnnscope's own; planted faults; weights; bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from typer.testing import CliRunner

from rnnscope.cli import app
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.model.fit import CallShapes, misfit
from rnnscope.model.summary import run_model
from tests import model_zoo

ZOO = str(Path(__file__).parent / "model_zoo.py")
runner = CliRunner()
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def run_json(*args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["model", *args, "--json"])
    return result.exit_code, json.loads(result.stdout)


def hooked_calls(network: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, list[Any]]:
    """Each recurrent module's calls, (args, kwargs, output), from hooks of this test's own."""
    calls: dict[str, list[Any]] = {}
    for name, module in network.named_modules():
        if isinstance(module, (nn.RNNBase, nn.RNNCellBase)):
            calls[name] = []

            def record(module: nn.Module, args: Any, kwargs: Any, output: Any, name: str = name) -> None:
                calls[name].append((args, kwargs, output))

            module.register_forward_hook(record, with_kwargs=True)
    network.eval()
    with torch.no_grad():
        network(*args, **kwargs)
    return calls


def gates(module: nn.Module) -> int:
    if isinstance(module, nn.RNNCellBase):
        return {nn.LSTMCell: 4, nn.GRUCell: 3}.get(type(module), 1)
    return GATES[module.mode]


def macs(module: nn.Module, rows: int) -> int:
    """The matrix products of one call over ``rows`` (time step, sequence) pairs, from the
    module's attributes: G·H·(in_k + H_out) per layer and direction, plus the projection."""
    g, hidden = gates(module), module.hidden_size
    if isinstance(module, nn.RNNCellBase):
        return rows * g * hidden * (module.input_size + hidden)
    proj = getattr(module, "proj_size", 0)
    h_out = proj or hidden
    directions = 2 if module.bidirectional else 1
    total = 0
    for layer in range(module.num_layers):
        width = module.input_size if layer == 0 else directions * h_out
        total += directions * (g * hidden * (width + h_out) + proj * hidden)
    return rows * total


def rows_of(given: Any, module: nn.Module) -> int:
    if isinstance(given, nn.utils.rnn.PackedSequence):
        return given.data.shape[0]
    if isinstance(module, nn.RNNCellBase):
        return given.shape[0] if given.dim() == 2 else 1
    return given.shape[0] * given.shape[1] if given.dim() == 3 else given.shape[0]


def shape(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, nn.utils.rnn.PackedSequence):
        return {"data": list(value.data.shape), "batch_sizes": value.batch_sizes.tolist()}
    if isinstance(value, torch.Tensor):
        return list(value.shape)
    return [shape(item) for item in value]


def built(name: str, *init: Any) -> tuple[nn.Module, tuple[Any, ...]]:
    """The zoo's model as rnnscope builds it: seeded with 0, then made (and its inputs drawn)."""
    torch.manual_seed(0)
    made = getattr(model_zoo, name)(*init)
    return made if isinstance(made, tuple) else (made, ())


@pytest.mark.parametrize("name", ["tagger", "dict_model", "forecaster"])
def test_calls_signatures_and_macs_match_independent_hooks(name: str) -> None:
    report = run_model(f"{ZOO}:{name}")
    network, args = built(name)
    calls = hooked_calls(network, args, {})
    assert [layer.path for layer in report.layers] == list(calls)
    for layer in report.layers:
        seen = calls[layer.path]
        assert layer.calls == len(seen)
        assert sum(signature.count for signature in layer.signatures) == len(seen)
        if seen:
            first_args, first_kwargs, first_output = seen[0]
            assert layer.signatures[0].input == shape(first_args[0])
            state = first_args[1] if len(first_args) > 1 else first_kwargs.get("hx")
            assert layer.signatures[0].state_in == shape(state)
            assert layer.signatures[0].state_out == shape(first_output[1])
        module = dict(network.named_modules())[layer.path]
        expected = 0
        for call_args, call_kwargs, _ in seen:
            lengths = call_kwargs.get("lengths")
            rows = int(lengths.sum()) if lengths is not None else rows_of(call_args[0], module)
            expected += macs(module, rows)
        assert layer.macs == expected
        assert layer.total_params == sum(p.numel() for p in module.parameters())
        if seen:
            assert layer.verify is not None and layer.verify.ok is True
    assert report.ok


# The test's own count turns oneDNN off, which warns about Intel GPUs on torch 2.13.
@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")
def test_seq2seq_decoder_cell_called_per_step_and_flops_from_torch() -> None:
    report = run_model(f"{ZOO}:Seq2Seq", inputs=["4,7:int64:50"], init="steps=6")
    encoder, decoder = report.layers
    assert (encoder.path, encoder.calls, decoder.path, decoder.calls) == ("encoder", 1, "decoder", 6)
    assert len(decoder.signatures) == 1 and decoder.signatures[0].count == 6
    assert decoder.signatures[0].input == [4, 16]
    assert decoder.signatures[0].state_in == [[4, 16], [4, 16]]
    assert decoder.macs == 6 * macs(nn.LSTMCell(16, 16), 4)
    assert decoder.verify is not None and decoder.verify.calls_checked == 6
    # The whole model's FLOPs, counted by torch here as rnnscope counts them (oneDNN off).
    network, _ = built("Seq2Seq", 50, 16, 6)
    tokens = torch.randint(0, 50, (4, 7))
    from torch.utils.flop_counter import FlopCounterMode

    # no_grad: torch 2.4's FlopCounterMode counts nothing under inference_mode.
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        counter = FlopCounterMode(display=False)
        with counter:
            network.eval()(tokens)
    assert report.model_flops == counter.get_total_flops()
    assert 2 * report.recurrent_macs < report.model_flops  # the Linear layers are the rest
    assert report.recurrent_params == sum(p.numel() for p in network.encoder.parameters()) + sum(
        p.numel() for p in network.decoder.parameters()
    )


def test_signature_tables_are_inspects_for_the_first_call() -> None:
    report = run_model(f"{ZOO}:tagger")
    rows = {row.name: row for row in report.layers[0].signatures[0].tensors}
    assert rows["packed_input.data"].shape == rows["packed_input.data"].expected == (14, 6)
    assert rows["output_padded"].shape == (7, 3, 20)
    assert rows["packed_input.batch_sizes"].values == [3, 3, 2, 2, 2, 1, 1]
    assert all(row.ok for row in rows.values())
    checked = [row for row in report.layers[0].signatures[0].states if row.ok is not None]
    assert checked and all(row.ok for row in checked)


def test_subclass_and_unused_module() -> None:
    report = run_model(f"{ZOO}:WithSubclass", inputs=["2,3,5"])
    assert report.layers[0].class_name == "model_zoo.MyGRU"
    assert report.layers[0].own_forward is False
    dict_report = run_model(f"{ZOO}:dict_model")
    unused = dict_report.layers[1]
    assert (unused.path, unused.calls, unused.signatures, unused.macs) == ("unused", 0, [], 0)
    assert any("unused: not called" in note for note in dict_report.notes)


def test_own_forward_is_shown_as_called_and_checked_inside() -> None:
    report = run_model(f"{ZOO}:forecaster")
    layer = report.layers[0]
    assert layer.own_forward and layer.calls == 2
    assert layer.signatures[0].input == [4, 6, 3]  # the padded tensor it was given
    assert layer.verify is not None and layer.verify.calls_checked == 2 and layer.verify.ok
    # The encoder pass ran the real steps only: sum(lengths) = 16 rows, then 4 × 2.
    assert layer.macs == macs(nn.LSTM(3, 8), 16) + macs(nn.LSTM(3, 8), 8)


@pytest.mark.parametrize(
    ("fault", "axis", "words"),
    [
        ("rank", "h_0 rank", "a state of the wrong rank"),
        ("layers", "h_0 axis 0 (D·num_layers)", "sized for another num_layers·D"),
        ("batch_first", "h_0 axis 1 (N)", "batch_first mixed up"),
    ],
)
def test_planted_state_faults(fault: str, axis: str, words: str) -> None:
    code, document = run_json(f"{ZOO}:Encoder", "--init", f"fault={fault!r}", "--input", "5,3,10")
    assert code == 1
    (failure,) = document["failures"]
    assert failure["path"] == "lstm"
    assert failure["axis"] == axis
    assert words in failure["explanation"]
    assert failure["pytorch_error"]
    assert document["ok"] is False


def test_input_features_off() -> None:
    code, document = run_json(f"{ZOO}:Encoder", "--input", "5,3,12")
    assert code == 1
    (failure,) = document["failures"]
    assert (failure["path"], failure["axis"], failure["expected"]) == (
        "lstm",
        "input axis 2 (H_in)",
        [5, 3, 10],
    )
    assert "H_in off" in failure["explanation"] and "input_size=10" in failure["explanation"]


def test_silent_batch_first_mix_up_needs_batch() -> None:
    code, document = run_json(f"{ZOO}:Encoder", "--input", "3,5,10")
    assert code == 0  # PyTorch reads the batch as time and says nothing
    code, document = run_json(f"{ZOO}:Encoder", "--input", "3,5,10", "--batch", "3")
    assert code == 1
    (problem,) = document["layers"][0]["problems"]
    assert "batch_first=False" in problem and "--batch 3" in problem
    assert document["layers"][0]["ok"] is False


def test_a_misfit_pytorch_broadcasts_instead_of_refusing_is_a_problem() -> None:
    cell = nn.RNNCell(3, 4)
    returned = cell(torch.zeros(3), torch.zeros(4, 4))
    assert tuple(returned.shape) == (4, 4)  # PyTorch's own behaviour, the reason for the check
    code, document = run_json(f"{ZOO}:BroadcastCell", "--input", "3")
    assert code == 1
    (layer,) = document["layers"]
    (problem,) = layer["problems"]
    assert "did not refuse it" in problem and "h_0 must be 1-D (H_out,) = (4,)" in problem
    assert "it returned (4, 4) (the call is not verified" in problem
    assert (layer["macs"], layer["verify"]["calls_checked"]) == (0, 0)
    assert layer["ok"] is False and document["ok"] is False


def test_perturbed_output_fails_verification() -> None:
    code, document = run_json(f"{ZOO}:Perturbed", "--input", "6,2,4")
    assert code == 1
    verified = document["layers"][0]["verify"]
    assert verified["ok"] is False and verified["failed_calls"] == [0]
    assert verified["max_abs_error"] == pytest.approx(0.01, rel=1e-3)


def test_verification_cap_keeps_no_more_tensors() -> None:
    report = run_model(f"{ZOO}:Seq2Seq", inputs=["2,3:int64:50"], init="steps=9", cap=4)
    decoder = report.layers[1]
    assert decoder.verify is not None
    assert (decoder.verify.calls_checked, decoder.verify.calls_unchecked) == (4, 5)
    assert any("the first 4 were verified" in note for note in report.notes)


def test_error_elsewhere_in_the_forward_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["model", f"{ZOO}:Broken", "--input", "2,1,3", "--json"])
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert error.startswith("ValueError: the head expects 8 features, got 4 (")
    assert "model_zoo.py:" in error
    shown = runner.invoke(app, ["model", f"{ZOO}:Broken", "--input", "2,1,3", "--traceback"])
    assert "Traceback (most recent call last)" in shown.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere.py:X"], "nowhere.py: no such file"),
        ([f"{ZOO}:Missing"], "has no 'Missing'"),
        ([f"{ZOO}:not_a_model"], "returned a int"),
        ([f"{ZOO}:Seq2Seq"], "pass --input SHAPE"),
        ([f"{ZOO}:Seq2Seq", "--init", "steps=__import__('os')"], "--init arguments must be Python literals"),
        (
            [f"{ZOO}:Seq2Seq", "--init", "vocab='x'", "--input", "2,3:int64:5"],
            "building it failed: TypeError",
        ),
        ([f"{ZOO}:instance", "--init", "steps=1"], "--init does not apply"),
        ([f"{ZOO}:Seq2Seq", "--input", "2,x"], "--input must be SHAPE[:DTYPE[:HIGH]]"),
        ([f"{ZOO}:Seq2Seq", "--input", "2,3:float32:5"], "--input HIGH applies to integer dtypes"),
        ([f"{ZOO}:tagger", "--input", "2,3"], "--input does not apply"),
        (
            [f"{ZOO}:Encoder", "--input", "5,3,10", "--layer", "nope"],
            "--layer 'nope' is not a recurrent module",
        ),
        ([f"{ZOO}:Encoder", "--input", "5,3,10", "--device", "meta"], "--device meta"),
        (["justaname"], "TARGET must be"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["model", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_torchscript_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "scripted.py"
    source.write_text(
        "import torch\nscripted = torch.jit.script(torch.nn.Sequential(torch.nn.Linear(2, 2)))\n"
    )
    result = runner.invoke(app, ["model", f"{source}:scripted", "--input", "1,2"])
    assert result.exit_code == 2
    assert "TorchScript" in result.stderr and "rnnscope load" in result.stderr


def test_sibling_imports_work_from_the_files_folder(tmp_path: Path) -> None:
    (tmp_path / "layers.py").write_text("import torch\nclass Core(torch.nn.GRU):\n    pass\n")
    (tmp_path / "net.py").write_text(
        "import torch\nfrom layers import Core\n"
        "class Net(torch.nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n        self.core = Core(3, 4)\n"
        "    def forward(self, x):\n        return self.core(x)[0]\n"
    )
    code, document = run_json(f"{tmp_path / 'net.py'}:Net", "--input", "5,2,3")
    assert code == 0
    assert document["layers"][0]["class"] == "layers.Core"


def test_weights_with_a_wrapper_prefix_load_and_mismatch_explained(tmp_path: Path) -> None:
    network, _ = built("Tagger")
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.fill_(0.125)
    wrapped = tmp_path / "wrapped.pt"
    torch.save(
        {"state_dict": {f"module.{key}": value for key, value in network.state_dict().items()}}, wrapped
    )
    code, document = run_json(f"{ZOO}:tagger", "--weights", str(wrapped), "--stats")
    assert code == 0
    weights = document["weights"]
    assert (weights["prefix"], weights["container"], weights["missing"]) == ("module.", "state_dict", [])
    assert weights["loaded"] == len(network.state_dict())
    assert any("prefix 'module.'" in note for note in document["notes"])
    stats = [row for row in document["stats"] if row["prefix"] == "lstm"]
    assert stats and all(
        row["mean"] == pytest.approx(0.125 if row["tensor"] != "bias" else 0.25) for row in stats
    )

    other = model_zoo.Tagger(hidden=12)
    torch.save(other.state_dict(), tmp_path / "other.pt")
    code, document = run_json(f"{ZOO}:tagger", "--weights", str(tmp_path / "other.pt"))
    assert code == 1
    weights = document["weights"]
    assert "size mismatch" in weights["pytorch_error"]
    fields = {(row["prefix"], row["field"], row["file"], row["expected"]) for row in weights["mismatches"]}
    assert ("lstm", "hidden_size", 12, 10) in fields
    assert document["layers"][0]["calls"] == 0  # the forward did not run


def test_weights_prefix_in_two_state_dicts(tmp_path: Path) -> None:
    """An EMA checkpoint: the same wrapper prefix in two state_dicts. --prefix module names
    neither; the full form the message offers (ema.module) loads exactly that one."""
    network, _ = built("Tagger")
    keys = list(network.state_dict())
    filled = {
        container: {f"module.{key}": torch.full_like(network.state_dict()[key], value) for key in keys}
        for container, value in (("model", 0.125), ("ema", 0.25))
    }
    path = tmp_path / "ema.pt"
    torch.save(filled, path)
    result = runner.invoke(app, ["model", f"{ZOO}:tagger", "--weights", str(path)])
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: {path}: the keys fit the model equally as 'model.module', 'ema.module'; "
        "name one with --prefix\n",
    )
    result = runner.invoke(app, ["model", f"{ZOO}:tagger", "--weights", str(path), "--prefix", "module"])
    assert (result.exit_code, result.stderr) == (
        2,
        f"error: --prefix 'module' is in 2 state_dicts of {path}: name one in full: "
        "'model.module', 'ema.module'\n",
    )
    code, document = run_json(f"{ZOO}:tagger", "--weights", str(path), "--prefix", "ema.module", "--stats")
    assert code == 0
    assert (document["weights"]["container"], document["weights"]["prefix"]) == ("ema", "module.")
    weights = [
        row["mean"] for row in document["stats"] if row["prefix"] == "lstm" and row["tensor"] != "bias"
    ]
    assert weights and set(weights) == {0.25}


def test_weights_never_run_a_pickle(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[Any, ...]:
            return (print, ("ran",))

    bad = tmp_path / "bad.pt"
    torch.save({"x": Evil()}, bad)
    result = runner.invoke(app, ["model", f"{ZOO}:tagger", "--weights", str(bad)])
    assert result.exit_code == 2
    assert "ran" not in result.stdout


def test_terminal_view_tree_and_full_layer() -> None:
    result = runner.invoke(app, ["model", f"{ZOO}:Seq2Seq", "--input", "4,7:int64:50"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "├── encoder  LSTM  · 1 call" in lines
    assert "├── decoder  LSTMCell  · 5 calls" in lines
    assert any(line.startswith("└── 3 other modules: Embedding, Linear") for line in lines)
    assert max(len(line) for line in lines) <= 80
    full = runner.invoke(app, ["model", f"{ZOO}:tagger", "--layer", "lstm", "--gates"], env={"COLUMNS": "80"})
    assert full.exit_code == 0
    assert "packed_input" in full.stdout and "Parameters, in named_parameters() order" in full.stdout
    assert "Gate blocks" in full.stdout


def test_real_process_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rnnscope", "model", f"{ZOO}:Seq2Seq", "--input", "2,3:int64:50", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [layer["calls"] for layer in document["layers"]] == [1, 5]


# Misfits are exactly the calls PyTorch refuses: random layers, random shapes near the right ones.
@settings(deadline=None, max_examples=60)
@given(
    kind=st.sampled_from(list(Kind)),
    cell=st.booleans(),
    layers=st.integers(1, 2),
    bidirectional=st.booleans(),
    batch_first=st.booleans(),
    input_rank=st.sampled_from([1, 2, 3]),
    state_rank=st.sampled_from([None, 1, 2, 3]),
    offsets=st.lists(st.integers(-1, 1), min_size=6, max_size=6),
)
def test_misfit_exactly_when_pytorch_refuses(
    kind: Kind,
    cell: bool,
    layers: int,
    bidirectional: bool,
    batch_first: bool,
    input_rank: int,
    state_rank: int | None,
    offsets: list[int],
) -> None:
    if cell:
        spec = LayerSpec(kind, True, 3, 4)
        module: nn.Module = getattr(nn, spec.torch_class_name)(3, 4)
    else:
        spec = LayerSpec(
            kind, False, 3, 4, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first
        )
        module = getattr(nn, spec.torch_class_name)(
            3, 4, layers, batch_first=batch_first, bidirectional=bidirectional
        )
    sizes = [2 + offsets[0], 3 + offsets[1], 3 + offsets[2]]
    x = torch.zeros(sizes[-input_rank:]) if input_rank else torch.zeros(3)
    states = None
    hx: Any = None
    if state_rank is not None:
        rows = 1 if cell else layers * (2 if bidirectional else 1)
        full = [rows + offsets[3], 3 + offsets[4], 4 + offsets[5]]
        h = torch.zeros(full[-state_rank:])
        hx = (h, h.clone()) if spec.has_cell_state else h
        names = ["h_0", "c_0"] if spec.has_cell_state else ["h_0"]
        states = {name: tuple(h.shape) for name in names}
    try:
        result = module(x, hx)
        refused = False
    except (RuntimeError, ValueError, IndexError):  # a cell given a 1-D state beside 2-D input: IndexError
        refused = True
    found = misfit(spec, CallShapes(tuple(x.shape), states))
    if not refused:
        if found is not None:
            # PyTorch took a misfit only by broadcasting (an RNNCell given unbatched input and an
            # (H, H) state): what it returned is then not the documented (*input batch, H).
            h_1 = result[0] if isinstance(result, tuple) else result
            assert cell and tuple(h_1.shape) != (*x.shape[:-1], 4), found
    elif found is None:
        # PyTorch refused a call whose shapes fit: only an empty axis may do that.
        assert 0 in x.shape or (states and any(0 in s for s in states.values()))


def test_a_shared_module_is_listed_once_with_its_other_names() -> None:
    report = run_model(f"{ZOO}:shared_packed")
    (layer,) = report.layers
    assert (layer.path, layer.aliases, layer.calls) == ("first", ["second"], 2)
    assert layer.signatures[0].input == {"data": [12, 3], "batch_sizes": [3, 3, 2, 2, 1, 1]}
    assert layer.macs == 2 * macs(nn.GRU(3, 3), 12)
    assert layer.verify is not None and layer.verify.ok


def test_the_model_itself_recurrent_in_float64() -> None:
    code, document = run_json(f"{ZOO}:bare_lstm", "--dtype", "float64")
    assert code == 0
    (layer,) = document["layers"]
    assert (layer["path"], layer["constructor"]) == ("", "nn.LSTM(3, 4, proj_size=2, num_layers=2)")
    assert layer["signatures"][0]["state_out"] == [[2, 2, 2], [2, 2, 4]]
    assert layer["verify"]["tolerance"] == 1e-10 and document["dtype"] == "float64"
    assert document["model_flops"] == 2 * layer["macs"]  # nothing else in it


@pytest.mark.parametrize(
    ("target", "file", "inputs", "loaded"),
    [
        ("FlairLanguageModel", "flair_lm.pt", ["5,2:int64:19"], 7),  # flair's save(): protocol 4
        ("recurrent_network", "lightning_forecasting.ckpt", [], 11),  # a Lightning checkpoint
    ],
)
def test_checkpoints_from_the_wild_load_into_the_model(
    target: str, file: str, inputs: list[str], loaded: int
) -> None:
    data = Path(__file__).parent / "data" / file
    args = [f"{ZOO}:{target}", "--weights", str(data), "--stats"]
    code, document = run_json(*args, *(word for text in inputs for word in ("--input", text)))
    assert code == 0, document
    weights = document["weights"]
    assert (weights["container"], weights["prefix"], weights["loaded"]) == ("state_dict", "", loaded)
    from rnnscope.checkpoint.reader import read_checkpoint

    checkpoint = read_checkpoint(data)
    (layer,) = checkpoint.layers
    file_mean = float(checkpoint.state_dict(layer)["weight_ih_l0"].double().mean())
    rows = [row for row in document["stats"] if row["tensor"] == "weight_ih" and row["layer"] == 0]
    assert sum(row["mean"] for row in rows) / len(rows) == pytest.approx(file_mean)
    rnn = document["layers"][0]
    assert rnn["calls"] == 1 and rnn["verify"]["ok"] is True
