"""`rnnscope inspect`: the worked example, the JSON document, every mode and flag."""

from __future__ import annotations

import json
import math

import pytest

from rnnscope import Kind, inspect, make_spec
from rnnscope.execution.probe import probe
from rnnscope.execution.runtime import torch
from rnnscope.layer.shapes import expected_parameters
from tests.helpers import META_EXAMPLE, run_cli, run_json

CONTRACT_KEYS = {
    "kind",
    "cell",
    "module",
    "config",
    "device",
    "dtype",
    "tensors",
    "parameters",
    "total_params",
    "ratio_vs_rnn",
    "ok",
}
CONFIG_KEYS = {
    "input_size",
    "hidden_size",
    "num_layers",
    "bias",
    "batch_first",
    "dropout",
    "bidirectional",
    "proj_size",
    "nonlinearity",
    "seq_len",
    "batch",
    "unbatched",
}


def shapes(document: dict[str, object]) -> dict[str, list[int]]:
    return {row["name"]: row["shape"] for row in document["tensors"]}  # type: ignore[attr-defined]


def parameter_shapes(document: dict[str, object]) -> dict[str, list[int]]:
    return {row["name"]: row["shape"] for row in document["parameters"]}  # type: ignore[attr-defined]


def test_worked_example_rnn_two_layers() -> None:
    document = run_json("inspect", "rnn", "--layers", "2")
    assert shapes(document) == {
        "input": [100, 32, 10],
        "h_0": [2, 32, 20],
        "output": [100, 32, 20],
        "h_n": [2, 32, 20],
    }
    assert all(row["ok"] for row in document["tensors"])
    assert document["ok"] is True
    assert document["module"] == "RNN(10, 20, num_layers=2)"


@pytest.mark.parametrize(("kind", "rows", "ratio"), [("rnn", 20, 1.0), ("gru", 60, 3.0), ("lstm", 80, 4.0)])
def test_worked_example_gate_rows_and_ratio(kind: str, rows: int, ratio: float) -> None:
    document = run_json("inspect", kind, "--layers", "2")
    assert parameter_shapes(document)["weight_ih_l0"] == [rows, 10]
    assert document["ratio_vs_rnn"] == ratio


def test_json_document_has_contract_keys() -> None:
    document = run_json("inspect", "lstm", "--layers", "2")
    assert document.keys() >= CONTRACT_KEYS
    assert document["config"].keys() >= CONFIG_KEYS
    assert (document["device"], document["dtype"]) == ("cpu", "float32")
    assert [row["name"] for row in document["tensors"]] == ["input", "h_0", "c_0", "output", "h_n", "c_n"]
    for row in document["tensors"]:
        assert {"name", "shape", "expected", "ok"} <= row.keys()
    for row in document["parameters"]:
        assert row["numel"] == math.prod(row["shape"])
    assert document["total_params"] == sum(row["numel"] for row in document["parameters"]) == 5920


def test_lstm_weight_splits_into_four_gate_blocks() -> None:
    document = run_json("inspect", "lstm")
    weight_ih = next(row for row in document["parameters"] if row["name"] == "weight_ih_l0")
    assert [(block["symbol"], block["rows"]) for block in weight_ih["gates"]] == [
        ("W_ii", [0, 20]),
        ("W_if", [20, 40]),
        ("W_ig", [40, 60]),
        ("W_io", [60, 80]),
    ]


def test_summary_shows_closed_formula_with_numbers() -> None:
    document = run_json("inspect", "lstm")
    assert document["layers"] == [
        {
            "layer": 0,
            "direction": "forward",
            "formula": "4 × (H_cell·(H_in + H_out) + 2·H_cell)",
            "worked": "4 × (20·(10+20) + 2·20) = 2,560",
            "count": 2560,
        }
    ]
    assert "4 gate blocks (i, f, g, o)" in document["explanation"]


def test_projection_shapes_and_ratio() -> None:
    document = run_json("inspect", "lstm", "--proj-size", "5", "--layers", "2", "--bidirectional")
    got = shapes(document)
    assert got["h_0"] == [4, 32, 5]
    assert got["c_0"] == [4, 32, 20]
    assert got["output"] == [100, 32, 10]
    assert parameter_shapes(document)["weight_hr_l1_reverse"] == [5, 20]
    # Layer 0: 4·(20·(10+5) + 2·20) + 5·20; layer 1 sees D·H_out = 10 features: the same.
    per_direction = 4 * (20 * (10 + 5) + 2 * 20) + 5 * 20
    assert document["total_params"] == 4 * per_direction
    # The RNN with the same sizes: 20·(10+20)+40 and 20·(40+20)+40, twice each.
    assert document["ratio_vs_rnn"] == 4 * per_direction / (2 * (640 + 1240))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--batch-first"], {"input": [32, 100, 10], "output": [32, 100, 20], "h_n": [1, 32, 20]}),
        (["--unbatched"], {"input": [100, 10], "h_0": [1, 20], "output": [100, 20], "h_n": [1, 20]}),
        (["--cell"], {"input": [32, 10], "h_0": [32, 20], "h_1": [32, 20]}),
        (["--cell", "--unbatched"], {"input": [10], "h_0": [20], "h_1": [20]}),
        (["--no-bias", "-L", "7", "-N", "3"], {"input": [7, 3, 10], "output": [7, 3, 20]}),
    ],
)
def test_modes_shapes(args: list[str], expected: dict[str, list[int]]) -> None:
    document = run_json("inspect", "gru", *args)
    assert expected.items() <= shapes(document).items()
    assert document["ok"] is True


def test_cell_lstm_names() -> None:
    document = run_json("inspect", "lstm", "--cell")
    assert [row["name"] for row in document["tensors"]] == ["input", "h_0", "c_0", "h_1", "c_1"]
    assert document["module"] == "LSTMCell(10, 20)"
    assert document["ratio_vs_rnn"] == 4.0


@pytest.mark.parametrize(
    ("args", "state", "shape"),
    [
        (["lstm", "--proj-size", "5"], "h_0", [1, 32, 5]),
        (["lstm", "--proj-size", "5"], "c_0", [1, 32, 20]),
        (["gru", "--cell", "-N", "3"], "h_0", [3, 20]),
    ],
)
def test_no_initial_state_lists_the_shape_a_caller_would_pass(
    args: list[str], state: str, shape: list[int]
) -> None:
    document = run_json("inspect", *args, "--no-initial-state")
    rows = {row["name"]: row for row in document["tensors"]}
    assert rows[state]["expected"] == rows[state]["shape"] == shape
    assert any("--no-initial-state" in note for note in document["notes"])
    assert document["ok"] is True


def test_dropout_warning_is_a_note_not_stderr_noise() -> None:
    result = run_cli("inspect", "lstm", "--dropout", "0.5", "--json")
    assert result.exit_code == 0
    assert result.stderr == ""
    notes = json.loads(result.stdout)["notes"]
    assert not any("num_layers greater than 1" in note for note in notes)  # said in our words
    assert notes[0].startswith("--dropout 0.5 does nothing here: PyTorch drops between stacked layers")


@pytest.mark.parametrize("dtype", ["float64", "float16", "bfloat16"])
def test_dtypes(dtype: str) -> None:
    document = run_json("inspect", "gru", "--dtype", dtype, "-L", "5", "-N", "2")
    assert document["dtype"] == dtype
    assert document["ok"] is True


def test_relu_nonlinearity_reaches_the_module() -> None:
    document = run_json("inspect", "rnn", "--nonlinearity", "relu")
    assert document["config"]["nonlinearity"] == "relu"
    assert "relu(" in document["explanation"]
    # PyTorch's repr leaves the nonlinearity out, so check the module itself.
    assert probe(make_spec(Kind.rnn, nonlinearity="relu", seq_len=2, batch=1)).module.nonlinearity == "relu"


def test_seed_is_reported() -> None:
    assert run_json("inspect", "rnn", "--seed", "3")["seed"] == 3


def test_meta_skips_long_forward_and_judges_parameters() -> None:
    document = run_json(*META_EXAMPLE)
    assert document["total_params"] == 68_723_671_040
    assert document["forward"] == "skipped"
    assert all(row["shape"] is None and row["ok"] is None for row in document["tensors"])
    assert document["ok"] is True
    note = next(note for note in document["notes"] if "forward pass skipped" in note)
    shorter = note.split("Run it with --seq-len 5 or less: rnnscope ")[1].split()
    rerun = run_json(*shorter)  # the line the note gives runs the forward pass
    assert (rerun["forward"], rerun["config"]["seq_len"], rerun["total_params"]) == ("ran", 5, 68_723_671_040)


def test_meta_runs_short_forward() -> None:
    document = run_json("inspect", "gru", "--device", "meta", "--seq-len", "2", "--layers", "2")
    assert document["forward"] == "ran"
    assert shapes(document)["output"] == [2, 32, 20]


def test_a_shape_that_differs_from_its_formula_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    import rnnscope.inspection as inspection
    from rnnscope.layer.shapes import TensorFormula, expected_tensors

    def wrong_output(spec):  # type: ignore[no-untyped-def]
        return [
            TensorFormula(t.name, t.formula, (t.shape[0] + 1, *t.shape[1:])) if t.name == "output" else t
            for t in expected_tensors(spec)
        ]

    monkeypatch.setattr(inspection, "expected_tensors", wrong_output)
    document = run_json("inspect", "rnn", exit_code=1)
    assert document["ok"] is False
    assert [row["name"] for row in document["tensors"] if not row["ok"]] == ["output"]
    result = run_cli("inspect", "rnn")
    assert result.exit_code == 1
    assert "✗ differs from its formula: output" in result.stdout


def test_a_total_that_differs_from_its_formula_fails_in_every_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """One verdict: the exit code, the JSON's ok, the view's last line and smoke's case error."""
    from rnnscope import smoke
    from rnnscope.layer import cost

    one_more = cost.total_parameters
    monkeypatch.setattr(cost, "total_parameters", lambda spec: one_more(spec) + 1)
    assert run_json("inspect", "rnn", exit_code=1)["ok"] is False
    result = run_cli("inspect", "rnn")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1] == "✗ differs from its formula: parameter total"
    case = smoke.run_smoke("cpu", quick=True).cases[0]
    assert case.error == "shapes differ from their formulas: parameter total"


def test_library_api_returns_report_without_printing(capsys: pytest.CaptureFixture[str]) -> None:
    spec = make_spec(Kind.gru, num_layers=3, bidirectional=True)
    report = inspect(spec, seed=1)
    assert capsys.readouterr() == ("", "")
    assert report.ok
    assert report.total_params == sum(math.prod(p.shape) for p in expected_parameters(spec))


def test_meta_packed_runs_without_pad_packed_sequence() -> None:
    document = run_json("inspect", "gru", "--device", "meta", "--lengths", "3,2", "--seq-len", "3")
    rows = {row["name"]: row for row in document["tensors"]}
    assert rows["packed_output.data"]["shape"] == [5, 20]
    assert rows["output_padded"]["shape"] is None and rows["output_padded"]["ok"] is None
    assert any("pad_packed_sequence cannot run on meta" in note for note in document["notes"])
    assert document["ok"] is True


def test_auto_device_resolves_to_a_real_device() -> None:
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert run_json("inspect", "rnn", "--device", "auto", "-L", "2")["device"] in (expected, "mps")


def test_a_failing_run_exits_3_with_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import rnnscope.execution.probe as probe_module

    def broken_forward(result: object) -> None:
        raise RuntimeError("CUDNN_STATUS_EXECUTION_FAILED\nmore detail")

    monkeypatch.setattr(probe_module, "_forward", broken_forward)
    result = run_cli("inspect", "lstm", "--json")
    assert (result.exit_code, result.stdout) == (3, "")
    assert (
        result.stderr == "error: the run failed on cpu: CUDNN_STATUS_EXECUTION_FAILED; --debug shows where\n"
    )


def test_an_allocation_that_fails_anyway_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    import rnnscope.execution.probe as probe_module

    def out_of_memory(result: object) -> None:
        # CUDA's own wording, as torch 2.11 raised it on an H200 held to 71.58 MiB.
        raise torch.cuda.OutOfMemoryError(
            "CUDA out of memory. Tried to allocate 64.00 MiB. GPU 0 has a total capacity of 139.80 GiB "
            "of which 139.22 GiB is free. Including non-PyTorch memory, this process has 582.00 MiB "
            "memory in use. 71.58 MiB allowed; Of the allocated memory 64.00 MiB is allocated by PyTorch"
        )

    monkeypatch.setattr(probe_module, "_forward", out_of_memory)
    result = run_cli("inspect", "lstm", "--json")
    assert (result.exit_code, result.stdout) == (3, "")
    assert result.stderr == (
        "error: out of memory on cpu: CUDA out of memory. Tried to allocate 64.00 MiB; try a smaller "
        "--batch or --seq-len, or --device meta\n"
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cuda_inspect(kind: str) -> None:
    document = run_json(
        "inspect", kind, "--device", "cuda", "--layers", "2", "--bidirectional", "--lengths", "5,3"
    )
    assert document["device"].startswith("cuda")
    assert document["ok"] is True


@pytest.mark.parametrize("name", ["inspect", "verify", "run_smoke", "compare", "bench"])
def test_package_exports_functions_lazily(name: str) -> None:
    import rnnscope

    first, second = getattr(rnnscope, name), getattr(rnnscope, name)
    # rnnscope.inspect is inspection.inspect_layer: inside the package, `inspect` is the stdlib's
    assert (
        callable(first) and first is second and first.__name__ == {"inspect": "inspect_layer"}.get(name, name)
    )


def test_padding_note_names_seq_len_only_where_it_differs() -> None:
    shorter = inspect(make_spec(Kind.gru, lengths=(3, 2), seq_len=5)).notes[1]
    assert shorter.startswith("output_padded is padded to the longest sequence (3), not --seq-len (5):")
    assert (
        inspect(make_spec(Kind.gru, lengths=(5, 2), seq_len=5))
        .notes[1]
        .startswith("output_padded is padded to the longest sequence (5), which is L:")
    )
