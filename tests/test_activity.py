"""rnnscope activity: gate saturation per unit, counted against plain torch, on planted weights,
on the user's input files, and its refusals."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnscope.activity import GateActivity
from rnnscope.execution.build import build_module, make_inputs
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import make_spec
from tests.helpers import GOLDEN, Golden, rendered, run_cli, run_json
from tests.load_helpers import Reduces, malicious_zip, save

# Row blocks of the sigmoid gates in PyTorch's order (LSTM i|f|g|o, GRU r|z|n), written out here
# rather than taken from rnnscope, so that a wrong block in rnnscope shows up as a wrong count.
SIGMOID_ROWS = {Kind.lstm: {"i": 0, "f": 1, "o": 3}, Kind.gru: {"r": 0, "z": 1}}
Counts = dict[tuple[int, str, str], tuple[list[int], list[int]]]


def plain_counts(
    module: nn.Module,
    spec: LayerSpec,
    x: torch.Tensor,
    state: list[torch.Tensor],
    lengths: tuple[int, ...] | None,
    low: float,
    high: float,
) -> tuple[Counts, int]:
    """Each unit's (left, right) counts per (layer, direction, gate), and the pairs, with plain torch.

    A step's gates depend on the layer's input at t and the state before t, and that state is the
    module's own output one step earlier in the direction's order (h_0 where the direction
    starts). torch runs one layer at a time (a one-layer module with that layer's weights), so its
    outputs give both; the gates are then one matrix product per gate, all steps at once.
    """
    x = x.double()
    if spec.cell:
        x = x.reshape(-1, spec.input_size)[None]  # (1, N, H_in): one step
    elif spec.unbatched:
        x = x[:, None]  # (L, 1, H_in)
    elif spec.batch_first:
        x = x.transpose(0, 1)  # (L, N, H_in)
    steps, batch = x.shape[:2]
    directions = 2 if spec.bidirectional else 1
    width = spec.proj_size or spec.hidden_size
    rows = directions * spec.num_layers
    h_0 = torch.zeros(rows, batch, width, dtype=torch.float64)  # (D·num_layers, N, H_out)
    c_0 = torch.zeros(rows, batch, spec.hidden_size, dtype=torch.float64)  # (D·num_layers, N, H_cell)
    if state:
        h_0 = state[0].double().reshape(h_0.shape)
    if len(state) > 1:
        c_0 = state[1].double().reshape(c_0.shape)
    real = torch.tensor(lengths if lengths is not None else [steps] * batch)
    valid = torch.arange(steps)[:, None] < real[None, :]  # (L, N)
    weights = {name: value.detach().double() for name, value in module.named_parameters()}
    hidden = spec.hidden_size
    counts: Counts = {}
    layer_input = x  # (L, N, in_k)
    for layer in range(spec.num_layers):
        if spec.cell:
            output = None
        else:
            single = getattr(nn, spec.kind.name.upper())(
                layer_input.shape[2], hidden, bidirectional=spec.bidirectional, dtype=torch.float64,
                **({"proj_size": spec.proj_size} if spec.kind is Kind.lstm else {}), bias=spec.bias,
            )  # fmt: skip
            with torch.no_grad():
                for name, parameter in single.named_parameters():
                    parameter.copy_(weights[name.replace("_l0", f"_l{layer}")])
            start = layer * directions
            layer_state: Any = h_0[start : start + directions]
            if spec.kind is Kind.lstm:
                layer_state = (layer_state, c_0[start : start + directions])
            with torch.no_grad():
                if lengths is not None:
                    packed = pack_padded_sequence(layer_input, torch.tensor(lengths), enforce_sorted=False)
                    output, _ = pad_packed_sequence(single(packed, layer_state)[0], total_length=steps)
                else:
                    output, _ = single(layer_input, layer_state)  # (L, N, D·H_out)
        for direction in range(directions):
            suffix = "" if spec.cell else f"_l{layer}" + ("_reverse" if direction else "")
            first = h_0[layer * directions + direction]  # (N, H_out)
            if output is None:
                before = first[None]  # (1, N, H_out)
            elif direction == 0:
                before = torch.cat([first[None], output[:-1, :, :width]])  # h_{t−1}: the output at t − 1
            else:
                later = torch.cat(
                    [output[1:, :, width:], torch.zeros_like(first)[None]]
                )  # the output at t + 1
                starts = (torch.arange(steps)[:, None] == real[None, :] - 1)[..., None]  # (L, N, 1)
                before = torch.where(starts, first[None], later)
            total = layer_input @ weights["weight_ih" + suffix].T + before @ weights["weight_hh" + suffix].T
            if spec.bias:
                total = total + weights["bias_ih" + suffix] + weights["bias_hh" + suffix]
            for gate, block in SIGMOID_ROWS[spec.kind].items():
                value = torch.sigmoid(total[..., block * hidden : (block + 1) * hidden])  # (L, N, H_cell)
                left = ((value < low) & valid[..., None]).sum(dim=(0, 1))
                right = ((value > high) & valid[..., None]).sum(dim=(0, 1))
                counts[(layer, "reverse" if direction else "forward", gate)] = (left.tolist(), right.tolist())
        if output is not None:
            layer_input = output
    return counts, int(valid.sum())


def as_counts(units: list[dict[str, Any]], pairs: int) -> Counts:
    """The report's fractions back as counts (they are count / pairs: exact in float64)."""
    counts: Counts = {}
    for unit in units:
        left, right = counts.setdefault((unit["layer"], unit["direction"], unit["gate"]), ([], []))
        assert unit["unit"] == len(left)
        left.append(round(unit["left"] * pairs))
        right.append(round(unit["right"] * pairs))
        assert (left[-1] / pairs, right[-1] / pairs) == (unit["left"], unit["right"])
    return counts


@st.composite
def activity_cases(draw: st.DrawFn) -> tuple[LayerSpec, tuple[int, ...] | None]:
    kind = draw(st.sampled_from([Kind.lstm, Kind.gru]))
    cell = draw(st.booleans())
    hidden = draw(st.integers(1, 6))
    unbatched = draw(st.booleans())
    options: dict[str, Any] = {"input_size": draw(st.integers(1, 4)), "hidden_size": hidden, "cell": cell}
    options |= {"bias": draw(st.booleans()), "unbatched": unbatched, "initial_state": draw(st.booleans())}
    if not cell:
        options |= {"num_layers": draw(st.integers(1, 3)), "bidirectional": draw(st.booleans())}
        options |= {"batch_first": draw(st.booleans()), "seq_len": draw(st.integers(1, 6))}
        if kind is Kind.lstm and hidden > 1:
            options["proj_size"] = draw(st.integers(0, hidden - 1))
    if not unbatched:
        options["batch"] = draw(st.integers(1, 4))
    lengths = None
    if not cell and not unbatched and draw(st.booleans()):
        lengths = tuple(draw(st.integers(1, options["seq_len"])) for _ in range(options["batch"]))
    return make_spec(kind, **options), lengths


@settings(deadline=None, max_examples=60)
@given(
    case=activity_cases(),
    seed=st.integers(0, 99),
    scale=st.sampled_from([1.0, 4.0]),
    thresholds=st.sampled_from([(0.1, 0.9), (0.3, 0.6), (0.45, 0.55)]),
)
def test_counts_equal_plain_torch_over_two_calls(
    case: tuple[LayerSpec, tuple[int, ...] | None], seed: int, scale: float, thresholds: tuple[float, float]
) -> None:
    """Every unit's fractions, over two calls of the same module, are the counts plain torch gives."""
    spec, lengths = case
    low, high = thresholds
    torch.manual_seed(seed)
    module = build_module(spec, torch.device("cpu"), torch.float64)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.mul_(scale)  # larger weights: gates that do saturate
    counter = GateActivity(spec, low, high)
    expected: Counts = {}
    pairs = 0
    for _call in range(2):
        inputs = make_inputs(spec, torch.device("cpu"), torch.float64)
        state = [inputs[name] for name in ("h_0", "c_0") if name in inputs]
        given = None if not state else (tuple(state) if spec.kind is Kind.lstm else state[0])
        counter.add(dict(module.named_parameters()), inputs["input"], given, lengths)
        counts, call_pairs = plain_counts(module, spec, inputs["input"], state, lengths, low, high)
        for key, (left, right) in counts.items():
            old_left, old_right = expected.get(key, ([0] * len(left), [0] * len(right)))
            expected[key] = (
                [a + b for a, b in zip(old_left, left, strict=True)],
                [a + b for a, b in zip(old_right, right, strict=True)],
            )
        pairs += call_pairs
    assert counter.pairs == pairs
    assert as_counts([unit.to_dict() for unit in counter.units()], pairs) == expected


def test_the_command_counts_the_layer_inspect_builds() -> None:
    """The CLI's document: the seeded layer and input of `inspect --seed`, counted as plain torch counts."""
    args = (
        "lstm",
        "--layers",
        "2",
        "--bidirectional",
        "-L",
        "12",
        "-N",
        "5",
        "--dtype",
        "float64",
        "--seed",
        "3",
    )
    document = run_json("activity", *args, "--low", "0.4", "--high", "0.6", "--lengths", "12,3,7,1,9")
    spec = make_spec(Kind.lstm, num_layers=2, bidirectional=True, seq_len=12, lengths=(12, 3, 7, 1, 9))
    torch.manual_seed(3)
    module = build_module(spec, torch.device("cpu"), torch.float64)
    inputs = make_inputs(spec, torch.device("cpu"), torch.float64)
    counts, pairs = plain_counts(
        module, spec, inputs["input"], [inputs["h_0"], inputs["c_0"]], spec.lengths, 0.4, 0.6
    )
    assert (document["pairs"], document["steps"], document["batch"]) == (pairs, 12, 5) == (32, 12, 5)
    assert as_counts(document["units"], pairs) == counts
    assert len(document["units"]) == 2 * 2 * 3 * 20  # layers × directions × gates × units
    assert [(row["layer"], row["direction"], row["gate"]) for row in document["gates"]] == [
        (layer, direction, gate) for layer in (0, 1) for direction in ("forward", "reverse") for gate in "ifo"
    ]
    assert {unit["path"] for unit in document["units"]} == {None}
    assert any(0 < unit["left"] < 1 for unit in document["units"])


def planted_checkpoint(path: Path) -> Path:
    """nn.LSTM(10, 20): forget-gate bias +6 on units 0-9 and −6 on 10-19, output-gate bias −6."""
    torch.manual_seed(0)
    module = nn.LSTM(10, 20)
    with torch.no_grad():
        module.bias_hh_l0.zero_()
        module.bias_ih_l0[20:30] = 6.0  # rows 20:40 are f (gate order i|f|g|o)
        module.bias_ih_l0[30:40] = -6.0
        module.bias_ih_l0[60:80] = -6.0  # o
    return save(path, module.state_dict())


def test_planted_biases_saturate_the_gates_they_were_planted_in(tmp_path: Path) -> None:
    file = planted_checkpoint(tmp_path / "planted.pt")
    document = run_json("activity", "lstm", "--from", str(file))
    units = {(unit["gate"], unit["unit"]): unit for unit in document["units"]}
    assert all(units[("f", unit)]["right"] >= 0.95 for unit in range(10))
    assert all(units[("f", unit)]["left"] >= 0.95 for unit in range(10, 20))
    assert all(units[("o", unit)]["left"] >= 0.95 for unit in range(20))
    gates = {row["gate"]: row for row in document["gates"]}
    assert (gates["f"]["mostly_right"], gates["f"]["mostly_left"], gates["f"]["between"]) == (10, 10, 0)
    assert (gates["o"]["mostly_right"], gates["o"]["mostly_left"], gates["o"]["between"]) == (0, 20, 0)
    assert document["from"] == {"file": str(file), "format": "zip", "container": "", "prefix": ""}


def test_from_and_input_data_together(tmp_path: Path) -> None:
    """The file's layer on the user's input; the input size it takes is the file's, not --input-size's."""
    file = planted_checkpoint(tmp_path / "planted.pt")
    data = save(tmp_path / "x.pt", torch.randn(6, 2, 10))
    document = run_json(
        "activity", "lstm", "--from", str(file), "--input-data", str(data), "--no-initial-state"
    )
    assert (document["pairs"], document["module"]) == (12, "LSTM(10, 20)")
    assert {row["gate"]: row["mostly_left"] for row in document["gates"]} == {"i": 0, "f": 10, "o": 20}
    wide = save(tmp_path / "wide.pt", torch.randn(6, 2, 12))
    result = run_cli("activity", "lstm", "--from", str(file), "--input-data", str(wide))
    assert result.stderr == (
        f"error: --input-data {wide}: axis 2 (H_in) is 12, but the --from layer's input size gives 10: "
        "the input (L, N, H_in) is (6, 2, 10)\n"
    )


def test_forget_bias_moves_every_forget_unit_to_the_right() -> None:
    plain = run_json("activity", "lstm")
    raised = run_json("activity", "lstm", "--forget-bias", "6")
    forget = [{row["gate"]: row for row in document["gates"]}["f"] for document in (plain, raised)]
    assert (forget[0]["mostly_right"], forget[1]["mostly_right"]) == (0, 20)
    assert raised["forget_bias"] == 6.0 and plain["forget_bias"] is None


def test_the_forget_bias_figures_docs_activity_md_gives() -> None:
    """docs/activity.md: with --forget-bias 3 every forget unit is above 0.9 at 80% or more of its
    pairs, 96% on average; with 1, 0.7% on average; with none, every unit is at (0, 0)."""
    right = {
        bias: [unit["right"] for unit in run_json("activity", "lstm", *flags)["units"] if unit["gate"] == "f"]
        for bias, flags in (("0", ()), ("1", ("--forget-bias", "1")), ("3", ("--forget-bias", "3")))
    }
    assert min(right["3"]) >= 0.8 and f"{sum(right['3']) / 20:.0%}" == "96%"
    assert f"{sum(right['1']) / 20:.1%}" == "0.7%"
    assert max(right["0"]) < 0.05


# --- --input-data ---------------------------------------------------------------------------


def synthetic_input(spec: LayerSpec, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The input `activity` draws for ``spec`` (the layer is built first, as the command does)."""
    torch.manual_seed(0)
    build_module(spec, torch.device("cpu"), dtype)
    return make_inputs(spec, torch.device("cpu"), dtype)["input"]


def test_input_data_npy_and_torch_save_give_what_the_same_input_gives(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    x = synthetic_input(make_spec(Kind.lstm, seq_len=7, batch=3))  # (7, 3, 10)
    expected = run_json("activity", "lstm", "-L", "7", "-N", "3")["units"]
    files = {
        "npy": tmp_path / "x.npy",
        "fortran": tmp_path / "xf.npy",
        "zip": tmp_path / "x.pt",
        "legacy": tmp_path / "xl.pt",
    }
    np.save(files["npy"], x.numpy())
    np.save(files["fortran"], np.asfortranarray(x.numpy()))
    torch.save(x, files["zip"])
    torch.save(
        x.transpose(0, 1).contiguous().transpose(0, 1), files["legacy"], _use_new_zipfile_serialization=False
    )
    for name, file in files.items():
        document = run_json("activity", "lstm", "--input-data", str(file))  # L and N from the file
        assert document["units"] == expected, name
        assert document["input"]["shape"] == [7, 3, 10] and (document["steps"], document["batch"]) == (7, 3)


def test_input_data_in_float64_and_batch_first(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    x = synthetic_input(
        make_spec(Kind.gru, batch_first=True, seq_len=5, batch=4), torch.float64
    )  # (N, L, H_in)
    file = tmp_path / "x.npy"
    np.save(file, x.numpy())
    document = run_json("activity", "gru", "--batch-first", "--input-data", str(file), "--dtype", "float64")
    assert (document["steps"], document["batch"], document["input"]["dtype"]) == (5, 4, "float64")
    same = run_json("activity", "gru", "--batch-first", "-L", "5", "-N", "4", "--dtype", "float64")
    assert document["units"] == same["units"]


@pytest.mark.parametrize(
    ("shape", "args", "message"),
    [
        (
            (7, 3, 12),
            (),
            "axis 2 (H_in) is 12, but --input-size gives 10: the input (L, N, H_in) is (7, 3, 10)",
        ),
        (
            (7, 3, 10),
            ("-L", "6"),
            "axis 0 (L) is 7, but --seq-len gives 6: the input (L, N, H_in) is (6, 3, 10)",
        ),
        (
            (7, 3, 10),
            ("--lengths", "5,4"),
            "axis 1 (N) is 3, but --lengths gives 2: the input (L, N, H_in) is (7, 2, 10)",
        ),
        (
            (7, 10),
            (),
            "shape (7, 10) has 2 axes, the input (L, N, H_in) has 3; "
            "for one unbatched sequence (L, H_in) add --unbatched",
        ),
        (
            (3, 10),
            ("--cell", "-N", "4"),
            "axis 0 (N) is 3, but --batch gives 4: the input (N, H_in) is (4, 10)",
        ),
    ],
)
def test_input_data_that_does_not_fit_names_the_axis(
    tmp_path: Path, shape: tuple[int, ...], args: tuple[str, ...], message: str
) -> None:
    file = save(tmp_path / "x.pt", torch.zeros(shape))
    result = run_cli("activity", "lstm", "--input-data", str(file), *args)
    assert (result.exit_code, result.stdout, result.stderr) == (
        2,
        "",
        f"error: --input-data {file}: {message}\n",
    )


def test_input_data_of_a_cell_and_unbatched(tmp_path: Path) -> None:
    cell = run_json(
        "activity", "gru", "--cell", "--input-data", str(save(tmp_path / "c.pt", torch.randn(6, 10)))
    )
    assert (cell["steps"], cell["batch"], cell["pairs"]) == (1, 6, 6)
    one = run_json(
        "activity", "gru", "--unbatched", "--input-data", str(save(tmp_path / "u.pt", torch.randn(9, 10)))
    )
    assert (one["steps"], one["batch"], one["pairs"]) == (9, 1, 9)


def test_input_data_refusals(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    cases = {
        save(
            tmp_path / "int.pt", torch.zeros(4, 2, 10, dtype=torch.int64)
        ): "holds int64 values; the input must be floating-point (float32, float64, float16, bfloat16)",
        save(
            tmp_path / "dict.pt", {"x": torch.zeros(4, 2, 10)}
        ): "holds a dict, not a tensor: save the tensor itself, torch.save(x, FILE)",
        malicious_zip(tmp_path / "evil.pt", exec, "pass"): "refused: its pickle would call builtins.exec; "
        "nothing in it was run",
    }
    ints = tmp_path / "int.npy"
    np.save(ints, np.zeros((4, 2, 10), dtype=np.int32))
    cases[ints] = "holds int32 values; the input must be floating-point (float32, float64, float16, bfloat16)"
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([None, {}], dtype=object), allow_pickle=True)
    cases[objects] = "holds Python objects, stored as a pickle that would run code if loaded; refused"
    text = tmp_path / "x.csv"
    text.write_text("1,2,3\n")
    cases[text] = "neither a .npy file nor a torch.save file"
    truncated = tmp_path / "short.npy"
    np.save(truncated, np.zeros((4, 2, 10), dtype=np.float32))
    truncated.write_bytes(truncated.read_bytes()[:-8])
    cases[truncated] = "holds 312 bytes of values, (4, 2, 10) float32 needs 320; truncated?"
    cases[tmp_path / "missing.npy"] = "no such file"
    cases[save(tmp_path / "empty.pt", torch.zeros(0, 2, 10))] = "axis 0 (L) is 0: nothing to run"
    for file, message in cases.items():
        result = run_cli("activity", "lstm", "--input-data", str(file))
        assert (result.exit_code, result.stdout, result.stderr) == (
            2,
            "",
            f"error: --input-data {file}: {message}\n",
        )


def test_a_malicious_input_file_runs_nothing(tmp_path: Path) -> None:
    """A torch.save-shaped zip and a bare pickle (what pickle.dump writes), each calling os.system."""
    marker = tmp_path / "ran"
    bare = tmp_path / "evil.pkl"
    bare.write_bytes(pickle.dumps(Reduces(os.system, f"touch {marker}"), protocol=4))
    for file in (malicious_zip(tmp_path / "evil.pt", os.system, f"touch {marker}"), bare):
        result = run_cli("activity", "gru", "--input-data", str(file))
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr.startswith(f"error: --input-data {file}: refused: its pickle would call ")
        assert not marker.exists()


# --- refusals, views, files ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["rnn"], "activity counts sigmoid gates and rnn has none (its one block is tanh): use lstm or gru"),
        (["lstm", "--low", "0.9", "--high", "0.1"], "--low (0.9) must be below --high (0.1)"),
        (["lstm", "--high", "1"], "--high must be between 0 and 1 (a sigmoid's range), got 1"),
        (["lstm", "--low", "nan"], "--low must be between 0 and 1 (a sigmoid's range), got nan"),
        (["gru", "--forget-bias", "1"], "--forget-bias applies to lstm only: gru has no forget gate"),
        (
            ["lstm", "--no-bias", "--forget-bias", "1"],
            "--forget-bias needs the bias vectors: it cannot be used with --no-bias",
        ),
        (["lstm", "--prefix", "rnn"], "--prefix picks a layer of --from FILE: add --from"),
        (
            ["lstm", "--device", "meta"],
            "--device meta: activity needs values and the meta device holds none (it computes shapes only); "
            "use --device cpu or auto",
        ),
        (["lstm", "--from", "missing.pt"], "missing.pt: no such file"),
    ],
)
def test_refusals_are_one_line_exit_2(args: list[str], line: str) -> None:
    result = run_cli("activity", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", f"error: {line}\n")


def test_from_a_file_of_another_kind_says_which(tmp_path: Path) -> None:
    file = planted_checkpoint(tmp_path / "planted.pt")
    result = run_cli("activity", "gru", "--from", str(file))
    assert result.stderr == f"error: --from {file}: layer '' is nn.LSTM(10, 20), not GRU: use KIND lstm\n"


GOLDEN_CASES = {
    "activity_lstm_forget_bias": ("lstm", "--forget-bias", "2"),
    "activity_gru_bidirectional": ("gru", "--bidirectional", "-L", "30", "--low", "0.2", "--high", "0.8"),
}


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden(name: str, golden: Golden) -> None:
    result = run_cli("activity", *GOLDEN_CASES[name], columns=80)
    assert result.exit_code == 0
    golden(name, result.stdout)


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_golden_invariants(name: str) -> None:
    """Every line fits 80 columns; each panel's counts add up to the units, and each gate line's
    three counts too."""
    output = (GOLDEN / f"{name}.out").read_text()
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= 80
    units = 20  # --hidden-size's default, which both cases keep
    gates = re.findall(
        r"^\w \w+ gate: (\d+) mostly right-saturated, (\d+) mostly left-saturated, (\d+)", output, re.M
    )
    assert gates and all(sum(map(int, counts)) == units for counts in gates)
    # A grid row: a y label right-aligned in 4 columns, the axis, 11 cells of 3; a second panel 40 further.
    grid = [line for line in lines if line[4:5] in ("┤", "│")]
    cells = [line[start + 5 : start + 38] for line in grid for start in (0, 40)]
    assert sum(int(count) for part in cells for count in re.findall(r"\d+", part)) == units * len(gates)


def test_terminal_view_and_json_hold_the_same_gate_lines() -> None:
    document = run_json("activity", "lstm", "--forget-bias", "2")
    text = run_cli("activity", "lstm", "--forget-bias", "2").stdout
    for gate in document["gates"]:
        line = (
            f"{gate['gate']} {gate['meaning']}: {gate['mostly_right']} mostly right-saturated, "
            f"{gate['mostly_left']} mostly left-saturated, {gate['between']} in between"
        )
        assert line in text


def test_png_is_written_with_the_json(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "activity.png"
    document = run_json("activity", "gru", "--layers", "2", "-L", "10", "--png", str(path))
    assert len(document["gates"]) == 4
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_png_without_matplotlib_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = run_cli("activity", "lstm", "--png", str(tmp_path / "activity.png"))
    assert (result.exit_code, result.stdout) == (2, "")
    assert (
        result.stderr
        == "error: --png needs matplotlib, which is not installed: pip install 'rnnscope[plot]'\n"
    )


def test_installed_command_prints_one_json_document() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rnnscope", "activity", "gru", "-L", "5", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    document = json.loads(result.stdout)
    assert {"low", "high", "steps", "batch", "units", "kind", "config", "device", "dtype", "notes"} <= set(
        document
    )
    assert len(document["units"]) == 2 * 20 and document["pairs"] == 5 * 32


def test_rendered_view_is_the_cli_output() -> None:
    from rnnscope.activity import activity
    from rnnscope.render import activity_view

    view = rendered(activity_view(activity(make_spec(Kind.gru, seq_len=4))))
    printed = run_cli("activity", "gru", "-L", "4", columns=80).stdout  # off a terminal: unpadded lines
    assert [line.rstrip() for line in view.splitlines()] == printed.splitlines()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_counts_on_cuda_equal_the_cpu_counts() -> None:
    spec = make_spec(Kind.gru, num_layers=2, bidirectional=True, seq_len=20, batch=8)
    torch.manual_seed(0)
    module = build_module(spec, torch.device("cpu"), torch.float32)
    inputs = make_inputs(spec, torch.device("cpu"), torch.float32)
    counters = []
    for device in ("cpu", "cuda"):
        counter = GateActivity(spec, 0.3, 0.7)
        weights = {name: value.to(device) for name, value in module.named_parameters()}
        counter.add(weights, inputs["input"].to(device), inputs["h_0"].to(device), None)
        counters.append(counter.units())
    assert counters[0] == counters[1]
    assert run_json("activity", "gru", "--device", "cuda", "-L", "5")["compute"].startswith("float64 on cuda")


# --- model --activity --------------------------------------------------------------------------


def module_spec_of(module: nn.Module) -> LayerSpec:
    """The spec of a zoo module, from its attributes (plain_counts needs only the structure)."""
    if isinstance(module, nn.RNNCellBase):
        kind = Kind.lstm if isinstance(module, nn.LSTMCell) else Kind.gru
        return make_spec(kind, cell=True, input_size=module.input_size, hidden_size=module.hidden_size)
    kind = Kind.lstm if module.mode == "LSTM" else Kind.gru
    return make_spec(
        kind,
        input_size=module.input_size,
        hidden_size=module.hidden_size,
        num_layers=module.num_layers,
        bidirectional=module.bidirectional,
        batch_first=module.batch_first,
    )


@pytest.mark.parametrize("name", ["seq2seq", "tagger"])
def test_model_activity_counts_every_call_as_plain_torch_does(name: str) -> None:
    """A decoder cell's calls are its steps; a packed encoder's padded steps are not counted."""
    from rnnscope.model.summary import run_model
    from tests import model_zoo

    zoo = str(Path(__file__).parent / "model_zoo.py")
    report = run_model(f"{zoo}:{name}", activity=(0.3, 0.7)).to_dict()["activity"]
    torch.manual_seed(0)
    network, args = getattr(model_zoo, name)()
    calls: dict[str, list[Any]] = {}
    for path, module in network.named_modules():
        if isinstance(module, nn.RNNBase | nn.RNNCellBase):
            calls[path] = []
            module.register_forward_hook(lambda _m, given, _out, path=path: calls[path].append(given))
    with torch.no_grad():
        network.eval()(*args)
    expected: dict[str, tuple[Counts, int]] = {}
    for path, recorded in calls.items():
        module = dict(network.named_modules())[path]
        spec = module_spec_of(module)
        total: Counts = {}
        pairs = 0
        for arguments in recorded:
            x, lengths = arguments[0], None
            if isinstance(x, torch.nn.utils.rnn.PackedSequence):
                x, sizes = pad_packed_sequence(x, batch_first=spec.batch_first)
                lengths = tuple(sizes.tolist())
            state = arguments[1] if len(arguments) > 1 else None
            states = [] if state is None else list(state) if isinstance(state, tuple) else [state]
            counts, call_pairs = plain_counts(module, spec, x, states, lengths, 0.3, 0.7)
            for key, (left, right) in counts.items():
                old_left, old_right = total.get(key, ([0] * len(left), [0] * len(right)))
                total[key] = (
                    [a + b for a, b in zip(old_left, left, strict=True)],
                    [a + b for a, b in zip(old_right, right, strict=True)],
                )
            pairs += call_pairs
        expected[path] = (total, pairs)
    modules = {row["path"]: row for row in report["modules"]}
    assert set(modules) == set(expected)
    for path, (counts, pairs) in expected.items():
        assert (modules[path]["calls"], modules[path]["pairs"]) == (len(calls[path]), pairs)
        units = [unit for unit in report["units"] if unit["path"] == path]
        assert as_counts(units, pairs) == counts
    if name == "seq2seq":
        assert modules["decoder"]["calls"] == 5 and modules["decoder"]["pairs"] == 5 * 4


def test_model_activity_flags_and_view() -> None:
    zoo = str(Path(__file__).parent / "model_zoo.py")
    result = run_cli("model", f"{zoo}:seq2seq", "--activity", columns=80)
    assert result.exit_code == 0
    assert "decoder: layer 0 forward" in result.stdout and "encoder: layer 0 reverse" in result.stdout
    assert "f forget gate: 0 mostly right-saturated" in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    refused = run_cli("model", f"{zoo}:seq2seq", "--low", "0.2")
    assert (refused.exit_code, refused.stderr) == (
        2,
        "error: --low and --high apply with --activity: add it\n",
    )
    bad = run_cli("model", f"{zoo}:seq2seq", "--activity", "--low", "0.95")
    assert bad.stderr == "error: --low (0.95) must be below --high (0.9)\n"
    plain = run_cli("model", f"{zoo}:seq2seq", "--json")
    assert json.loads(plain.stdout)["activity"] is None
    rnn = json.loads(run_cli("model", f"{zoo}:dict_model", "--activity", "--json").stdout)
    assert rnn["activity"]["modules"] == []
    assert "rnn: --activity: RNN has no sigmoid gate" in rnn["notes"]


def test_the_model_activity_example_in_docs_is_what_model_prints() -> None:
    """docs/activity.md's model --activity block elides lines; the lines it shows are printed, in order."""
    import shlex

    page = (Path(__file__).parent.parent / "docs" / "activity.md").read_text()
    block = page.split("```console\n$ rnnscope model ", 1)[1].split("\n```", 1)[0]
    command, _, shown = block.partition("\n")
    printed = run_cli("model", *shlex.split(command)).stdout.splitlines()
    position = 0
    for line in (line for line in shown.splitlines() if line != "..."):
        position = printed.index(line, position) + 1  # raises where a line is missing or out of order
