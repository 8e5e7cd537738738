"""`layout --export`: the graph named as PyTorch names the layer's inputs and outputs, L and N
dynamic, and the code it carries rebuilds the seeded layer and its input: run by onnxruntime at
other lengths and batches, matched by name against that rebuilt layer. Skipped without onnx (and
onnxruntime for the runs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch

from rnnscope.execution.build import make_inputs
from rnnscope.frameworks.carry import seeded_parameters
from rnnscope.layer.command_line import spec_flags
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import make_spec
from tests.helpers import run_cli, run_json

pytest.importorskip("onnx")

# The export traces L = 4 and N = 3; onnxruntime runs two other lengths and batches.
LAYER = {"seq_len": 4, "batch": 3}


@dataclass(frozen=True)
class Case:
    spec: LayerSpec
    dtype: str
    seed: int
    graph: dict[str, list[Any]]  # the graph's inputs and outputs, by name, with their dims

    @property
    def flags(self) -> list[str]:
        return [self.spec.kind.value, *spec_flags(self.spec), "--dtype", self.dtype, "--seed", str(self.seed)]


CASES = {
    "lstm_bidirectional_layers2": Case(
        make_spec(Kind.lstm, bidirectional=True, num_layers=2, **LAYER),
        "float32",
        3,
        {
            "input": ["L", "N", 10],
            "h_0": [4, "N", 20],
            "c_0": [4, "N", 20],
            "output": ["L", "N", 40],
            "h_n": [4, "N", 20],
            "c_n": [4, "N", 20],
        },
    ),
    "gru_batch_first_no_initial_state": Case(
        make_spec(Kind.gru, batch_first=True, initial_state=False, hidden_size=7, **LAYER),
        "float32",
        0,
        {"input": ["N", "L", 10], "output": ["N", "L", 7], "h_n": [1, "N", 7]},
    ),
    "rnn_relu_unbatched": Case(
        make_spec(Kind.rnn, nonlinearity="relu", unbatched=True, num_layers=3, input_size=5, seq_len=4),
        "float32",
        1,
        {"input": ["L", 5], "h_0": [3, 20], "output": ["L", 20], "h_n": [3, 20]},
    ),
    "lstm_float64_no_bias": Case(
        make_spec(Kind.lstm, bias=False, hidden_size=6, **LAYER),
        "float64",
        0,
        {
            "input": ["L", "N", 10],
            "h_0": [1, "N", 6],
            "c_0": [1, "N", 6],
            "output": ["L", "N", 6],
            "h_n": [1, "N", 6],
            "c_n": [1, "N", 6],
        },
    ),
}
OTHER_SIZES = [(9, 1), (2, 5)]


def exported(tmp_path: Path, case: str) -> tuple[Path, dict[str, Any]]:
    path = tmp_path / f"{case}.onnx"
    document = run_json("layout", *CASES[case].flags, "--to", "onnx", "--export", str(path))
    return path, document["export"]


def rebuilt(code: str) -> dict[str, Any]:
    """The rebuild code's functions (code this project wrote into the export, run to prove it)."""
    namespace: dict[str, Any] = {}
    exec(compile(code, "rebuild", "exec"), namespace)
    return namespace


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_graph_has_pytorchs_names_and_dynamic_l_and_n(tmp_path: Path, case: str) -> None:
    _, export = exported(tmp_path, case)
    names = list(CASES[case].graph)
    assert export["ok"] is True
    assert {row["name"]: row["shape"] for row in export["inputs"] + export["outputs"]} == CASES[case].graph
    assert [row["name"] for row in export["inputs"]] == [n for n in names if n == "input" or n.endswith("_0")]
    assert [row["name"] for row in export["outputs"]] == [
        n for n in names if n == "output" or n.endswith("_n")
    ]


# onnxruntime runs its recurrent operators in float32 only (the float64 case's note says so).
RUNNABLE = sorted(case for case in CASES if CASES[case].dtype == "float32")


@pytest.mark.parametrize("case", RUNNABLE)
def test_onnxruntime_at_other_sizes_matches_the_rebuilt_layer_by_name(tmp_path: Path, case: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    path, _ = exported(tmp_path, case)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    code = session.get_modelmeta().custom_metadata_map["rebuild"]  # what the export itself says
    functions = rebuilt(code)
    unbatched = CASES[case].spec.unbatched
    for length, batch in OTHER_SIZES:
        layer, inputs = (
            functions["rebuild"](L=length) if unbatched else functions["rebuild"](L=length, N=batch)
        )
        assert length in inputs["input"].shape and (unbatched or batch in inputs["input"].shape)
        assert [value.name for value in session.get_inputs()] == list(inputs)
        found = session.run(None, {name: value.numpy() for name, value in inputs.items()})
        expected = functions["outputs"](layer, inputs)
        assert [value.name for value in session.get_outputs()] == list(expected)
        for (name, value), array in zip(expected.items(), found, strict=True):
            tolerance = 1e-12 if value.dtype == torch.float64 else 1e-5
            torch.testing.assert_close(
                torch.from_numpy(array), value, rtol=tolerance, atol=tolerance, msg=name
            )


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_rebuild_code_draws_the_exported_layer_and_input(tmp_path: Path, case: str) -> None:
    _, export = exported(tmp_path, case)
    code = export["rebuild"]
    assert max(len(line) for line in code.splitlines()) <= 80  # printed in the terminal unwrapped
    layer, inputs = rebuilt(code)["rebuild"]()  # the defaults: the traced L and N
    spec, dtype, seed = CASES[case].spec, CASES[case].dtype, CASES[case].seed
    module, parameters = seeded_parameters(spec, dtype, seed)
    traced = make_inputs(spec, torch.device("cpu"), next(module.parameters()).dtype)
    assert repr(layer) == repr(module)
    for name, value in layer.named_parameters():
        assert torch.equal(value, parameters[name]), name
    assert list(inputs) == list(traced)
    for name, value in inputs.items():
        assert torch.equal(value, traced[name]), name


def test_float64_says_where_it_runs(tmp_path: Path) -> None:
    document = run_json("layout", *CASES["lstm_float64_no_bias"].flags, "--export", str(tmp_path / "d.onnx"))
    assert document["export"]["ok"] is True
    assert any(note.startswith("onnxruntime (1.32, measured) runs") for note in document["notes"])


def test_no_initial_state_is_said(tmp_path: Path) -> None:
    document = run_json("layout", "lstm", "--no-initial-state", "--export", str(tmp_path / "l.onnx"))
    assert "no h_0 and c_0 input: --no-initial-state exports the layer started from zeros" in " ".join(
        document["notes"]
    )


def test_the_terminal_shows_the_names_and_the_code(tmp_path: Path) -> None:
    result = run_cli("layout", "gru", "--to", "onnx", "--export", str(tmp_path / "g.onnx"))
    assert result.exit_code == 0, result.stderr
    assert "input   h_0     (L, N, 20)" not in result.stdout  # h_0 has no L
    assert "input   h_0     (1, N, 20)  h_0 (1, N, 20)" in result.stdout
    assert "def rebuild(L=100, N=32):" in result.stdout


def test_proj_size_is_refused_before_any_work(tmp_path: Path) -> None:
    path = tmp_path / "p.onnx"
    result = run_cli("layout", "lstm", "--proj-size", "5", "--export", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "error: --export cannot export --proj-size: the ONNX LSTM operator has no projection\n"
    )
    assert not path.exists()


def test_weights_from_a_file_get_no_rebuild_code(tmp_path: Path) -> None:
    file = tmp_path / "gru.pt"
    torch.save(torch.nn.GRU(6, 4).state_dict(), file)
    document = run_json("layout", "gru", "--from", str(file), "--export", str(tmp_path / "g.onnx"))
    assert document["export"]["rebuild"] is None
    assert document["export"]["ok"] is True
    assert any(note.startswith("no rebuild code: the weights come from --from") for note in document["notes"])
