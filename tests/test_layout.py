"""rnnscope layout: the tables from the mapping, --write, --export, --from, and its errors.

The checks against the real Keras and ONNX libraries are in test_layout_frameworks.py.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnscope.execution.build import build_module
from rnnscope.frameworks.carry import rearrange, seeded_parameters
from rnnscope.frameworks.conventions import framework_layouts
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import make_spec
from tests.helpers import GOLDEN, Golden, rendered, run_cli, run_json
from tests.load_helpers import build


def by_variant(document: dict[str, object]) -> dict[str, dict[str, object]]:
    frameworks = document["frameworks"]
    assert isinstance(frameworks, list)
    return {f"{item['framework']} {item['variant']}": item for item in frameworks}


def test_parameter_counts_as_measured_with_keras_and_onnx() -> None:
    """FACTS.md: counts Keras 3.15.1 reported for these layers, and ONNX's (every tensor kept)."""
    lstm = by_variant(run_json("layout", "lstm", "--layers", "2"))
    assert lstm["keras LSTM"]["total_params"] == 5760
    assert lstm["onnx LSTM"]["total_params"] == 5920
    gru = run_json("layout", "gru")
    assert gru["pytorch_params"] == 1920
    counts = {name: item["total_params"] for name, item in by_variant(gru).items()}
    assert counts == {
        "keras GRU(reset_after=True)": 1920,
        "keras GRU(reset_after=False)": 1860,
        "onnx GRU(linear_before_reset=1)": 1920,
    }
    rnn = by_variant(run_json("layout", "rnn", "-i", "7", "-H", "5", "--to", "keras"))
    assert rnn["keras SimpleRNN"]["total_params"] == 65


def test_json_document_has_the_contract_keys() -> None:
    document = run_json("layout", "lstm", "--bidirectional")
    assert document["kind"] == "lstm"
    assert document["pytorch_params"] == 2 * 2560
    assert document["pytorch_gate_order"] == "i|f|g|o"
    onnx = by_variant(document)["onnx LSTM"]
    assert {"framework", "variant", "total_params", "tensors"} <= set(onnx)
    w = onnx["tensors"][0]
    assert {"name", "shape", "gate_order", "source"} <= set(w)
    assert w["name"] == "layer0/W" and w["shape"] == [2, 80, 10] and w["gate_order"] == "i|o|f|c"
    # ONNX i|o|f|c from PyTorch's i|f|g|o rows: i 0:20, o 60:80, f 20:40, g 40:60.
    assert (
        w["source"]
        == "stack(weight_ih_l0[0:20, 60:80, 20:40, 40:60], weight_ih_l0_reverse[0:20, 60:80, 20:40, 40:60])"
    )


def test_tables_fit_80_columns_and_say_what_cannot_be_held() -> None:
    result = run_cli("layout", "lstm", "--proj-size", "5")
    assert result.exit_code == 0
    assert result.stdout.count("cannot hold this layer") == 2
    assert "weight_hr" in result.stdout
    document = run_json("layout", "lstm", "--proj-size", "5")
    assert all(item["supported"] is False and item["total_params"] is None for item in document["frameworks"])


def test_relu_is_said_for_each_framework() -> None:
    document = run_json("layout", "rnn", "--nonlinearity", "relu", "--bidirectional")
    notes = {item["framework"]: " ".join(item["notes"]) for item in document["frameworks"]}
    assert 'activation="relu"' in notes["keras"]
    assert 'activations=["Relu", "Relu"]' in notes["onnx"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--write", "x.npz"), "error: --write needs one framework: add --to keras or --to onnx\n"),
        (
            ("--reset-after",),
            "error: --reset-after / --no-reset-after applies with --write (gru, --to keras)\n",
        ),
        (("--prefix", "rnn"), "error: --prefix picks a layer of --from FILE: add --from\n"),
        (
            ("--cell", "--export", "x.onnx"),
            "error: --export applies to layers, not --cell: torch exports a cell as Gemm and "
            "element-wise nodes, and ONNX has no cell operator\n",
        ),
        (
            ("--to", "onnx", "--write", "x.npz", "--dtype", "bfloat16"),
            "error: --write stores float32, float64, float16 (.npy has no bfloat16), got --dtype bfloat16\n",
        ),
        (("--from", "missing.pt"), "error: missing.pt: no such file\n"),
    ],
)
def test_bad_input_is_one_line_exit_2(args: tuple[str, ...], message: str) -> None:
    result = run_cli("layout", "lstm", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)


def test_write_refuses_what_the_framework_cannot_hold(tmp_path: Path) -> None:
    result = run_cli(
        "layout", "lstm", "--proj-size", "5", "--to", "keras", "--write", str(tmp_path / "a.npz")
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --write --to keras: no Keras layer has LSTM projections")


specs = st.builds(
    lambda kind, cell, input_size, hidden_size, layers, bidirectional, bias: make_spec(
        kind,
        cell=cell,
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=1 if cell else layers,
        bidirectional=bidirectional and not cell,
        bias=bias,
    ),
    st.sampled_from(list(Kind)),
    st.booleans(),
    st.integers(1, 9),
    st.integers(1, 9),
    st.integers(1, 3),
    st.booleans(),
    st.booleans(),
)


@settings(max_examples=30, deadline=None)
@given(spec=specs)
def test_onnx_tensors_take_every_pytorch_row_once(spec: LayerSpec) -> None:
    """ONNX keeps every parameter: the blocks of its tensors cover each PyTorch row exactly once."""
    onnx = framework_layouts(spec, "onnx")[0]
    module = build_module(spec, torch.device("meta"), torch.float32)
    taken: dict[str, list[int]] = {name: [0] * p.shape[0] for name, p in module.named_parameters()}
    for tensor in onnx.tensors:
        for part in tensor.parts:
            for block in part:
                for name in block.parameters:
                    for row in range(block.start, block.stop):
                        taken[name][row] += 1
    assert all(count == 1 for rows in taken.values() for count in rows)
    assert onnx.total_params == sum(p.numel() for p in module.parameters())


@settings(max_examples=30, deadline=None)
@given(spec=specs)
def test_rearranged_tensors_have_the_shapes_the_table_claims(spec: LayerSpec) -> None:
    _, parameters = seeded_parameters(spec, "float64", 0)
    for layout in framework_layouts(spec, "all"):
        arrays = rearrange(layout, parameters)  # raises if a shape differs from the claim
        assert [tuple(a.shape) for a in arrays.values()] == [t.shape for t in layout.tensors]
        # Keras sums the two bias vectors; nothing else is lost or invented.
        summed = spec.bias and "reset_after=True" not in layout.variant and layout.framework == "keras"
        lost = sum(p.numel() for n, p in parameters.items() if n.startswith("bias_hh")) if summed else 0
        assert layout.total_params == sum(p.numel() for p in parameters.values()) - lost


@settings(max_examples=20, deadline=None)
@given(spec=specs)
def test_constructor_builds_the_module_the_spec_describes(spec: LayerSpec) -> None:
    """The constructor is code a user can paste: built, it is the module the spec builds."""
    module = build_module(spec, torch.device("meta"), torch.float32)
    rebuilt = build(spec.constructor)
    assert repr(rebuilt) == repr(module)
    assert getattr(rebuilt, "nonlinearity", "tanh") == getattr(module, "nonlinearity", "tanh")


def test_write_is_an_npz_numpy_reads(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    path = tmp_path / "gru.npz"
    document = run_json(
        "layout", "gru", "--to", "keras", "--write", str(path), "--seed", "3", "--dtype", "float64"
    )
    assert document["written"]["variant"] == "GRU(reset_after=True)"
    assert zipfile.ZipFile(path).testzip() is None
    arrays = np.load(path)
    _, parameters = seeded_parameters(make_spec(Kind.gru), "float64", 3)
    w = parameters["weight_ih_l0"]  # rows r 0:20, z 20:40, n 40:60
    expected_kernel = torch.cat([w[20:40], w[0:20], w[40:60]]).T  # Keras z|r|h columns
    assert arrays["layer0/gru_cell/kernel"].dtype == np.float64
    assert np.array_equal(arrays["layer0/gru_cell/kernel"], expected_kernel.numpy())
    bias = arrays["layer0/gru_cell/bias"]
    assert bias.shape == (2, 60)
    assert np.array_equal(bias[1, :20], parameters["bias_hh_l0"][20:40].numpy())


def test_write_float16_and_reset_before(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    path = tmp_path / "gru.npz"
    args = ("layout", "gru", "--to", "keras", "--write", str(path), "--no-reset-after", "--dtype", "float16")
    document = run_json(*args)
    assert document["written"]["variant"] == "GRU(reset_after=False)"
    bias = np.load(path)["layer0/gru_cell/bias"]
    assert bias.dtype == np.float16 and bias.shape == (60,)


def test_from_checkpoint_carries_its_weights(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    encoder = torch.nn.LSTM(6, 4, num_layers=2, bidirectional=True)
    decoder = torch.nn.GRU(8, 3)
    file = tmp_path / "model.pt"
    torch.save(
        {
            "state_dict": {
                **{f"enc.{k}": v for k, v in encoder.state_dict().items()},
                **{f"dec.{k}": v for k, v in decoder.state_dict().items()},
            }
        },
        file,
    )
    several = run_cli("layout", "lstm", "--from", str(file))
    assert several.exit_code == 2 and "choose one with --prefix" in several.stderr
    out = tmp_path / "enc.npz"
    document = run_json(
        "layout", "lstm", "--from", str(file), "--prefix", "enc", "--to", "onnx", "--write", str(out)
    )
    assert document["module"] == "LSTM(6, 4, num_layers=2, bidirectional=True)"
    assert document["source"]["prefix"] == "enc"
    w = np.load(out)["layer1/W"]
    reverse = encoder.weight_ih_l1_reverse.detach()
    assert np.array_equal(
        w[1], torch.cat([reverse[0:4], reverse[12:16], reverse[4:8], reverse[8:12]]).numpy()
    )
    wrong = run_cli("layout", "lstm", "--from", str(file), "--prefix", "dec")
    assert wrong.stderr == f"error: --from {file}: layer 'dec' is nn.GRU(8, 3), not LSTM: use KIND gru\n"


GOLDEN_CASES = {
    "layout_lstm_bidirectional": make_spec(Kind.lstm, bidirectional=True),
    "layout_gru_layers2": make_spec(Kind.gru, num_layers=2),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden(name: str, golden: Golden) -> None:
    from rnnscope.frameworks.layout import layout
    from rnnscope.render import layout_view

    golden(name, rendered(layout_view(layout(GOLDEN_CASES[name]))))


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_invariants(name: str) -> None:
    """Every line fits 80 columns, and each framework's rows add up to the count it prints."""
    import re

    output = (GOLDEN / f"{name}.out").read_text()
    assert max(len(line) for line in output.splitlines()) <= 80
    sections = re.split(r"^(?=(?:keras|onnx) )", output, flags=re.M)[1:]
    assert sections
    for section in sections:
        total = re.search(r": ([\d,]+) parameters", section)
        assert total is not None
        sizes = [
            eval_shape(match.group(1))
            for match in re.finditer(r"^\d+ (?:fwd|rev|fwd\+rev) +\w+ +(\([\d, ]+\))", section, re.M)
        ]
        assert sum(sizes) == int(total.group(1).replace(",", ""))


def eval_shape(text: str) -> int:
    count = 1
    for size in text.strip("(),").split(","):
        count *= int(size)
    return count


def test_export_without_onnx_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    result = run_cli("layout", "gru", "--export", str(tmp_path / "g.onnx"))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "error: --export needs the onnx package: pip install 'rnnscope[onnx]'\n"
    assert not (tmp_path / "g.onnx").exists()
