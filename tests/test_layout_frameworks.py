"""The layout tables against the real libraries: Keras 3 on the torch backend, onnx, onnxruntime.

Keras builds the layer as the table's notes describe and must report the same weight names,
shapes and parameter count; the arrays ``--write`` produces, set on it (or used as ONNX
initialisers under onnxruntime), must give PyTorch's outputs. Skipped where a library is absent.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import make_spec
from tests.helpers import run_cli, run_json

STEPS, BATCH = 5, 3


@pytest.fixture(scope="module")
def keras() -> ModuleType:
    os.environ["KERAS_BACKEND"] = "torch"  # before the first import: no TensorFlow
    module = pytest.importorskip("keras")
    if module.backend.backend() != "torch":
        pytest.skip("keras was imported earlier with another backend")
    return module


def keras_model(keras: ModuleType, spec: LayerSpec, reset_after: bool = True) -> Any:
    """The Keras model the table's notes describe: layer0…layerK, Bidirectional(name=layerK)."""
    layer_class = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[
        spec.kind.value
    ]
    options: dict[str, Any] = {"return_sequences": True, "use_bias": spec.bias}
    if spec.kind is Kind.gru:
        options["reset_after"] = reset_after
    if spec.kind is Kind.rnn:
        options["activation"] = spec.nonlinearity
    inner = {"rnn": "simple_rnn", "lstm": "lstm", "gru": "gru"}[spec.kind.value]
    layers: list[Any] = [keras.Input((STEPS, spec.input_size))]
    for k in range(spec.num_layers):
        if spec.bidirectional:
            layers.append(
                keras.layers.Bidirectional(
                    layer_class(spec.hidden_size, name=inner, **options), name=f"layer{k}"
                )
            )
        else:
            layers.append(layer_class(spec.hidden_size, name=f"layer{k}", **options))
    return keras.Sequential(layers, name="model")


def pytorch_output(spec: LayerSpec, seed: int, x: torch.Tensor) -> torch.Tensor:
    """The output of the layer ``layout --seed`` writes, on x (L, N, H_in), from a zero state."""
    from rnnscope.frameworks.carry import seeded_parameters

    module, _ = seeded_parameters(spec, "float32", seed)
    with torch.no_grad():
        output, _ = module(x)
    return output  # (L, N, D·H_out)


def written(tmp_path: Path, kind: str, to: str, *flags: str) -> tuple[dict[str, Any], dict[str, Any]]:
    np = pytest.importorskip("numpy")
    path = tmp_path / f"{kind}.npz"
    document = run_json("layout", kind, "--to", to, "--write", str(path), "--seed", "7", *flags)
    return document, dict(np.load(path))


KERAS_CASES = {
    "lstm 2 layers bidirectional": (Kind.lstm, ("--layers", "2", "--bidirectional")),
    "gru reset_after=True": (Kind.gru, ()),
    "gru 2 layers no bias": (Kind.gru, ("--layers", "2", "--no-bias")),
    "rnn relu bidirectional": (Kind.rnn, ("--nonlinearity", "relu", "--bidirectional")),
}


def spec_of(kind: Kind, flags: tuple[str, ...]) -> LayerSpec:
    layers = int(flags[flags.index("--layers") + 1]) if "--layers" in flags else 1
    return make_spec(
        kind,
        num_layers=layers,
        bidirectional="--bidirectional" in flags,
        bias="--no-bias" not in flags,
        nonlinearity="relu" if "relu" in flags else None,
    )


@pytest.mark.parametrize("case", sorted(KERAS_CASES))
def test_keras_holds_the_table_and_gives_pytorchs_outputs(
    keras: ModuleType, tmp_path: Path, case: str
) -> None:
    kind, flags = KERAS_CASES[case]
    spec = spec_of(kind, flags)
    document, arrays = written(tmp_path, kind.value, "keras", *flags)
    table = next(item for item in document["frameworks"] if item["variant"] == document["written"]["variant"])
    model = keras_model(keras, spec)  # GRU: reset_after=True, what --write writes by default
    paths = [variable.path.removeprefix("model/") for variable in model.weights]
    assert paths == [tensor["name"] for tensor in table["tensors"]]
    assert [list(v.shape) for v in model.weights] == [tensor["shape"] for tensor in table["tensors"]]
    assert model.count_params() == table["total_params"]
    for variable, path in zip(model.weights, paths, strict=True):
        variable.assign(arrays[path])
    x = torch.randn(STEPS, BATCH, spec.input_size)
    expected = pytorch_output(spec, 7, x).transpose(0, 1)  # Keras is batch-first
    found = model(x.transpose(0, 1).numpy()).detach()
    torch.testing.assert_close(found, expected, rtol=1e-5, atol=1e-5)


def test_keras_gru_reset_before_is_not_pytorchs_gru(keras: ModuleType, tmp_path: Path) -> None:
    """reset_after=False with the summed bias: equal on the first step from a zero state when
    b_hn = 0 (r multiplies a zero h either way), different once h is not zero."""
    from rnnscope.frameworks.carry import rearrange, seeded_parameters
    from rnnscope.frameworks.conventions import framework_layouts

    spec = make_spec(Kind.gru)
    module, parameters = seeded_parameters(spec, "float32", 7)
    with torch.no_grad():
        module.bias_hh_l0[40:60] = 0  # b_hn
    layout = next(item for item in framework_layouts(spec, "keras") if "reset_after=False" in item.variant)
    model = keras_model(keras, spec, reset_after=False)
    assert model.count_params() == layout.total_params == 1860
    for variable, value in zip(model.weights, rearrange(layout, parameters).values(), strict=True):
        variable.assign(value.numpy())
    x = torch.randn(STEPS, BATCH, spec.input_size)
    with torch.no_grad():
        expected, _ = module(x)
    found = model(x.transpose(0, 1).numpy()).detach().transpose(0, 1)
    torch.testing.assert_close(found[0], expected[0], rtol=1e-5, atol=1e-5)
    assert (found[1:] - expected[1:]).abs().max() > 1e-3


ONNX_CASES = {
    "lstm 2 layers bidirectional": (Kind.lstm, ("--layers", "2", "--bidirectional")),
    "gru": (Kind.gru, ()),
    "gru no bias": (Kind.gru, ("--no-bias",)),
    "rnn relu 2 layers": (Kind.rnn, ("--nonlinearity", "relu", "--layers", "2")),
}


@pytest.mark.parametrize("case", sorted(ONNX_CASES))
def test_exported_model_holds_what_the_table_claims(tmp_path: Path, case: str) -> None:
    pytest.importorskip("onnx")
    kind, flags = ONNX_CASES[case]
    document = run_json("layout", kind.value, "--to", "onnx", "--export", str(tmp_path / "m.onnx"), *flags)
    export = document["export"]
    assert export["ok"] is True
    table = document["frameworks"][0]["tensors"]
    assert [row["name"] for row in export["tensors"]] == [tensor["name"] for tensor in table]
    assert [row["shape"] for row in export["tensors"]] == [tensor["shape"] for tensor in table]
    assert all(row["blocks_equal"] == row["blocks"] > 0 for row in export["tensors"])


@pytest.mark.parametrize("case", sorted(ONNX_CASES))
def test_onnxruntime_on_the_written_arrays_gives_pytorchs_outputs(tmp_path: Path, case: str) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    kind, flags = ONNX_CASES[case]
    spec = spec_of(kind, flags)
    _, arrays = written(tmp_path, kind.value, "onnx", *flags)
    model = onnx_model(onnx, spec, arrays)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = torch.randn(STEPS, BATCH, spec.input_size)
    (found,) = session.run(None, {"input": x.numpy()})
    torch.testing.assert_close(torch.as_tensor(found), pytorch_output(spec, 7, x), rtol=1e-5, atol=1e-5)


def onnx_model(onnx: ModuleType, spec: LayerSpec, arrays: dict[str, Any]) -> Any:
    """One node per layer as the table's notes say; Y (L, D, N, H) → (L, N, D·H) between them."""
    from onnx import TensorProto, helper, numpy_helper

    operator = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[spec.kind.value]
    attributes: dict[str, Any] = {"hidden_size": spec.hidden_size}
    if spec.bidirectional:
        attributes["direction"] = "bidirectional"
    if spec.kind is Kind.gru:
        attributes["linear_before_reset"] = 1
    if spec.kind is Kind.rnn:
        attributes["activations"] = [spec.nonlinearity.capitalize()] * spec.directions
    nodes, x = [], "input"
    shape = numpy_helper.from_array(torch.tensor([0, 0, -1]).numpy(), "flat")
    for k in range(spec.num_layers):
        inputs = [x, f"layer{k}/W", f"layer{k}/R"] + ([f"layer{k}/B"] if spec.bias else [])
        nodes += [
            helper.make_node(operator, inputs, [f"y{k}"], **attributes),
            helper.make_node("Transpose", [f"y{k}"], [f"t{k}"], perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [f"t{k}", "flat"], [f"x{k + 1}"]),
        ]
        x = f"x{k + 1}"
    nodes.append(helper.make_node("Identity", [x], ["output"]))
    initializers = [numpy_helper.from_array(value, name) for name, value in arrays.items()] + [shape]
    graph = helper.make_graph(
        nodes,
        "layout",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [STEPS, BATCH, spec.input_size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def cell_step(kind: Kind, seed: int) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """x (N, H_in), the state before and the state after one step of the seeded PyTorch cell."""
    from rnnscope.frameworks.carry import seeded_parameters

    spec = make_spec(kind, cell=True)
    module, _ = seeded_parameters(spec, "float32", seed)
    x = torch.randn(BATCH, spec.input_size)
    state = [torch.randn(BATCH, spec.hidden_size) for _ in range(2 if kind is Kind.lstm else 1)]
    with torch.no_grad():
        after = module(x, tuple(state) if kind is Kind.lstm else state[0])
    return x, state, list(after) if kind is Kind.lstm else [after]


@pytest.mark.parametrize("kind", [Kind.lstm, Kind.gru])
def test_keras_cell_holds_the_table(keras: ModuleType, tmp_path: Path, kind: Kind) -> None:
    document, arrays = written(tmp_path, kind.value, "keras", "--cell")
    table = next(item for item in document["frameworks"] if item["variant"] == document["written"]["variant"])
    cell_class = {Kind.lstm: keras.layers.LSTMCell, Kind.gru: keras.layers.GRUCell}[kind]
    cell = cell_class(20, name=f"{kind.value}_cell")
    cell.build((None, 10))
    assert [variable.path for variable in cell.weights] == [tensor["name"] for tensor in table["tensors"]]
    for variable in cell.weights:
        variable.assign(arrays[variable.path])
    x, state, after = cell_step(kind, 7)
    _, found = cell(x.numpy(), [value.numpy() for value in state])
    for value, expected in zip(found, after, strict=True):
        torch.testing.assert_close(value.detach(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", [Kind.lstm, Kind.gru])
def test_onnx_cell_is_the_operator_on_one_step(tmp_path: Path, kind: Kind) -> None:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    _, arrays = written(tmp_path, kind.value, "onnx", "--cell")
    states = ["h0", "c0"][: 2 if kind is Kind.lstm else 1]
    outputs = ["y", "h1", "c1"][: 3 if kind is Kind.lstm else 2]
    attributes: dict[str, Any] = {"hidden_size": 20}
    if kind is Kind.gru:
        attributes["linear_before_reset"] = 1
    node = helper.make_node(
        kind.value.upper(), ["x", "cell/W", "cell/R", "cell/B", "", *states], outputs, **attributes
    )
    graph = helper.make_graph(
        [node],
        "cell",
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ["x", *states]],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs[1:]],
        [numpy_helper.from_array(value, name) for name, value in arrays.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x, state, after = cell_step(kind, 7)
    feeds = {"x": x[None].numpy()} | {
        name: value[None].numpy() for name, value in zip(states, state, strict=True)
    }
    found = session.run(None, feeds)  # Y_h, Y_c: (D = 1, N, H)
    for value, expected in zip(found, after, strict=True):
        torch.testing.assert_close(torch.as_tensor(value)[0], expected, rtol=1e-5, atol=1e-5)


def test_the_versions_layout_names_are_the_ones_these_tests_run(keras: ModuleType) -> None:
    """layout says, without a ✓, which versions its mapping was checked against: these tests'."""
    ort = pytest.importorskip("onnxruntime")
    document = run_json("layout", "lstm")
    checked_with = {
        "keras": f"Keras {keras.__version__} (torch backend)",
        "onnx": f"onnxruntime {ort.__version__}",
    }
    for layout in document["frameworks"]:
        # Each framework names the library its own tests run, and only that one.
        assert layout["equivalence"].endswith(
            f"not run here; rnnscope's tests check it with {checked_with[layout['framework']]}"
        )
    shown = run_cli("layout", "lstm")
    assert shown.exit_code == 0 and "✓" not in shown.stdout and "✗" not in shown.stdout
