"""``rnnscope gradients``: the norms against independent computations, the horizon, the forget
bias as PyTorch's kernel sees it, underflow per dtype, the JSON, the PNG and the refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnscope.execution.build import build_module, make_inputs
from rnnscope.execution.runtime import torch
from rnnscope.gradient_norms import add_forget_bias, gradients, target_description
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import make_spec
from rnnscope.render import gradients_view
from rnnscope.report import HORIZON_FRACTION, GradientRow, GradientsReport, horizon
from tests.helpers import GOLDEN, Golden, rendered, run_cli, run_json

CPU = torch.device("cpu")


def per_sequence_norms(spec: LayerSpec, seed: int, forget_bias: float) -> list[float]:
    """‖∂(Σ y_T)/∂x_t‖ computed another way: each sequence run alone, unbatched, through
    ``torch.autograd.functional.jacobian``, with the forget bias added to ``bias_hh`` (not
    ``bias_ih``: only the sum may matter), then the root mean square over the sequences."""
    torch.manual_seed(seed)
    module = build_module(spec, CPU, torch.float64)
    inputs = make_inputs(spec, CPU, torch.float64)
    h = spec.hidden_size
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name.startswith("bias_hh") and spec.kind is Kind.lstm:
                parameter[h : 2 * h] += forget_bias
    x = inputs["input"]
    # N × (L, H_in)
    sequences = [x] if spec.unbatched else list(x) if spec.batch_first else list(x.transpose(0, 1))
    per_sequence = []
    for n, sequence in enumerate(sequences):
        states = [
            inputs[name] if spec.unbatched else inputs[name][:, n]
            for name in ("h_0", "c_0")
            if name in inputs
        ]

        def target(seq: torch.Tensor, states: list[torch.Tensor] = states) -> torch.Tensor:
            state = None if not states else (tuple(states) if spec.kind is Kind.lstm else states[0])
            _, final = module(seq, state)
            h_n = final[0] if spec.kind is Kind.lstm else final  # (D·num_layers, H_out)
            return h_n[-spec.directions :].sum()

        jacobian = torch.autograd.functional.jacobian(target, sequence)  # (L, H_in)
        per_sequence.append(jacobian.norm(dim=1))  # (L,)
    stacked = torch.stack(per_sequence)  # (N, L)
    return [float(value) for value in stacked.pow(2).mean(dim=0).sqrt()]


@st.composite
def gradient_specs(draw: st.DrawFn) -> LayerSpec:
    kind = draw(st.sampled_from(list(Kind)))
    hidden = draw(st.integers(2, 6))
    unbatched = draw(st.booleans())
    return make_spec(
        kind,
        input_size=draw(st.integers(1, 4)),
        hidden_size=hidden,
        num_layers=draw(st.integers(1, 2)),
        bidirectional=draw(st.booleans()),
        batch_first=draw(st.booleans()),
        proj_size=draw(st.integers(0, hidden - 1)) if kind is Kind.lstm else 0,
        nonlinearity=draw(st.sampled_from(["tanh", "relu"])) if kind is Kind.rnn else None,
        seq_len=draw(st.integers(1, 6)),
        batch=None if unbatched else draw(st.integers(1, 3)),
        unbatched=unbatched,
        initial_state=draw(st.booleans()),
    )


@settings(max_examples=25, deadline=None)
@given(spec=gradient_specs(), seed=st.integers(0, 99), forget_bias=st.sampled_from([0.0, 2.0]))
def test_every_norm_equals_each_sequence_run_alone(spec: LayerSpec, seed: int, forget_bias: float) -> None:
    biases = (forget_bias,) if spec.kind is Kind.lstm else ()
    (row,) = gradients([spec], dtype="float64", seed=seed, forget_biases=biases).rows
    expected = per_sequence_norms(spec, seed, forget_bias)
    assert row.norms == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_one_norm_equals_central_differences() -> None:
    """Without autograd at all: perturb every element of x_2 and difference the target."""
    spec = make_spec(Kind.lstm, input_size=3, hidden_size=4, num_layers=2, seq_len=5, batch=2)
    (row,) = gradients([spec], dtype="float64", seed=3).rows
    torch.manual_seed(3)
    module = build_module(spec, CPU, torch.float64)
    inputs = make_inputs(spec, CPU, torch.float64)
    x = inputs["input"]  # (L, N, H_in)

    def target(x: torch.Tensor) -> float:
        with torch.no_grad():
            _, (h_n, _) = module(x, (inputs["h_0"], inputs["c_0"]))
        return float(h_n[-1].sum())

    step = 1e-6
    squares = 0.0
    for n in range(2):
        for j in range(3):
            bump = torch.zeros_like(x)
            bump[2, n, j] = step
            squares += ((target(x + bump) - target(x - bump)) / (2 * step)) ** 2
    assert row.norms[2] == pytest.approx((squares / 2) ** 0.5, rel=1e-6)


def test_forget_bias_three_reaches_far_further_than_zero() -> None:
    """Measured at seed 0, LSTM(10, 20), L = 100, N = 32: horizons 14, 39 and 99 (all) for
    forget biases 0, 1 and 3; at t = 0 about 6e-20, 6e-8 and 9e-2."""
    rows = gradients([make_spec(Kind.lstm)], forget_biases=(0.0, 1.0, 3.0)).rows
    plain, one, three = rows
    assert [row.forget_bias for row in rows] == [0.0, 1.0, 3.0]
    assert plain.horizon <= 20
    assert 30 <= one.horizon <= 50
    assert three.reaches_start and three.horizon == 99
    first = [row.norms[0] for row in rows]
    assert first[0] is not None and first[0] < 1e-15
    assert first[1] is not None and 1e-10 < first[1] < 1e-5
    assert first[2] is not None and first[2] > 1e-2


def test_the_forget_bias_slice_is_the_gate_that_multiplies_c() -> None:
    """Run torch's own LSTM one step with x = 0 and h_0 = 0: then c_1 = f ⊙ c_0 + i ⊙ g with
    every gate set by the biases alone, so c_1 − i ⊙ g shows which gate the added rows reach."""
    spec = make_spec(Kind.lstm, input_size=3, hidden_size=4, seq_len=1, batch=1)
    torch.manual_seed(0)
    module = build_module(spec, CPU, torch.float64)
    before = {name: value.clone() for name, value in module.state_dict().items()}
    add_forget_bias(module, spec, 2.5)
    bias = module.bias_ih_l0.detach() + module.bias_hh_l0.detach()  # (4·H,) i|f|g|o
    i, f, g = torch.sigmoid(bias[0:4]), torch.sigmoid(bias[4:8]), torch.tanh(bias[8:12])
    c_0 = torch.full((1, 1, 4), 3.0, dtype=torch.float64)
    with torch.no_grad():
        _, (_, c_1) = module(torch.zeros(1, 1, 3, dtype=torch.float64), (torch.zeros_like(c_0), c_0))
    torch.testing.assert_close(c_1[0, 0] - i * g, f * 3.0)
    assert f.min() > torch.sigmoid(before["bias_ih_l0"][4:8] + before["bias_hh_l0"][4:8]).max() - 1
    changed = {name for name, value in module.state_dict().items() if not torch.equal(value, before[name])}
    assert changed == {"bias_ih_l0"}
    torch.testing.assert_close(
        module.bias_ih_l0[4:8] - before["bias_ih_l0"][4:8], torch.full((4,), 2.5, dtype=torch.float64)
    )


def test_forget_bias_reaches_every_layer_and_direction() -> None:
    spec = make_spec(Kind.lstm, hidden_size=5, num_layers=2, bidirectional=True)
    torch.manual_seed(0)
    module = build_module(spec, CPU, torch.float64)
    before = {name: value.clone() for name, value in module.state_dict().items()}
    add_forget_bias(module, spec, 1.0)
    for name, value in module.state_dict().items():
        difference = value - before[name]
        if name.startswith("bias_ih"):
            torch.testing.assert_close(difference[5:10], torch.ones(5, dtype=torch.float64))
            difference[5:10] = 0
        assert not difference.any(), name


@pytest.mark.parametrize(
    ("norms", "expected"),
    [
        ([1e-5, 1e-2, 1.0], 1),  # 1e-2 ≥ 1e-3 × 1, 1e-5 is not
        ([1.0, 1.0, 1.0], 2),  # all the way back to t = 0
        ([1e-3, 1.0], 1),  # at the threshold counts
        ([1.0, 1e-9, 1.0, 1.0], 1),  # it must stay above: a later rise does not count
        ([1.0, None, 1.0], 0),  # not finite stops it
        ([1.0, 0.0], 0),  # nothing reaches T
        ([3.0], 0),
    ],
)
def test_horizon(norms: list[float | None], expected: int) -> None:
    assert horizon(norms) == expected


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 1e3)), min_size=1, max_size=30))
def test_horizon_is_the_longest_run_above_the_threshold(norms: list[float | None]) -> None:
    steps_back = horizon(norms)
    last = len(norms) - 1
    reference = norms[-1]
    if not reference:
        assert steps_back == 0
        return
    threshold = HORIZON_FRACTION * reference
    kept = norms[last - steps_back :]
    assert all(value is not None and value >= threshold for value in kept)
    before = norms[last - steps_back - 1] if steps_back < last else None
    assert steps_back == last or before is None or before < threshold


def test_float32_underflows_where_float64_does_not() -> None:
    """RNN(10, 20) over 400 steps, seed 0: float32 gives exactly 0 for t ≤ 164 and float64's
    smallest norm is about 1e-123 (measured). The seed draws other weights in float64, so the
    two layers differ; both forget at the same rate, about a decade every three steps."""
    spec = make_spec(Kind.rnn, seq_len=400)
    single = gradients([spec], dtype="float32")
    double = gradients([spec], dtype="float64")
    (narrow,), (wide,) = single.rows, double.rows
    assert 100 < narrow.zeros < 250
    assert narrow.norms[0] == 0.0
    assert wide.zeros == 0
    assert all(value is not None and 0 < value < 1e-100 for value in wide.norms[:10])
    assert 5 < narrow.horizon < 20 and 5 < wide.horizon < 20
    assert any("exactly 0 at" in note and "float64" in note for note in single.notes)
    assert not double.notes
    strip = rendered(gradients_view(single)).splitlines()[5]
    assert strip.startswith("rnn  ·") and "▁" in strip


def test_json_document() -> None:
    document = run_json("gradients", "--steps", "12", "-N", "3")
    assert (document["steps"], document["batch"], document["dtype"], document["device"]) == (
        12,
        3,
        "float32",
        "cpu",
    )
    assert [row["kind"] for row in document["rows"]] == ["rnn", "gru", "lstm"]
    assert [row["forget_bias"] for row in document["rows"]] == [None, None, 0.0]
    for row in document["rows"]:
        assert [point["t"] for point in row["norms"]] == list(range(12))
        assert all(point["grad_norm"] > 0 for point in row["norms"])
        assert 0 <= row["horizon"] <= 11
        assert row["config"]["seq_len"] == 12 and row["config"]["kind"] == row["kind"]
    assert document["rows"][2]["module"] == "LSTM(10, 20)"
    assert document["target"] == "y_T = h_n[-1]: the last layer's output at t = T"


def test_kinds_in_the_order_given_and_one_lstm_row_per_forget_bias() -> None:
    document = run_json(
        "gradients", "lstm", "gru", "lstm", "--steps", "4", "--forget-bias", "1", "--forget-bias", "3"
    )
    assert [(row["kind"], row["forget_bias"]) for row in document["rows"]] == [
        ("lstm", 1.0),
        ("lstm", 3.0),
        ("gru", None),
    ]
    assert "--forget-bias applies to the lstm rows only: gru has no forget gate" in document["notes"]


def test_steps_is_another_name_for_seq_len() -> None:
    assert run_json("gradients", "rnn", "--steps", "7")["steps"] == 7
    assert run_json("gradients", "rnn", "--seq-len", "7")["steps"] == 7
    assert run_json("gradients", "rnn", "--steps", "7", "-L", "7")["steps"] == 7


def test_kind_specific_flags_apply_to_their_rows() -> None:
    document = run_json("gradients", "--steps", "3", "--proj-size", "5", "--nonlinearity", "relu")
    assert [row["module"] for row in document["rows"]] == [
        "RNN(10, 20)",
        "GRU(10, 20)",
        "LSTM(10, 20, proj_size=5)",
    ]
    assert [row["config"]["nonlinearity"] for row in document["rows"]] == ["relu", "tanh", "tanh"]
    assert "--proj-size 5 applies to the lstm row only: rnn and gru have none" in document["notes"]


def test_progress_reports_each_forward_and_backward() -> None:
    calls: list[tuple[int, int, str]] = []
    specs = [make_spec(Kind.rnn, seq_len=3), make_spec(Kind.lstm, seq_len=3)]
    gradients(specs, forget_biases=(0.0, 1.0), on_step=lambda *call: calls.append(call))
    assert calls == [
        (1, 6, "rnn: forward done"),
        (2, 6, "rnn: backward done"),
        (3, 6, "lstm fb=0: forward done"),
        (4, 6, "lstm fb=0: backward done"),
        (5, 6, "lstm fb=1: forward done"),
        (6, 6, "lstm fb=1: backward done"),
    ]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--cell"], "--cell does not apply to gradients: a cell runs one time step, there is no t to reach"),
        (
            ["--lengths", "3,2"],
            "--lengths does not apply to gradients: every sequence runs all its steps, to t = T",
        ),
        (
            ["--layers", "2", "--dropout", "0.5"],
            "--dropout does not apply to gradients: they are measured without dropout (a random mask "
            "would change them on every run), got 0.5",
        ),
        (["rnn", "gru", "--forget-bias", "1"], "--forget-bias applies to lstm only: add lstm to the kinds"),
        (
            ["lstm", "--no-bias", "--forget-bias", "1"],
            "--forget-bias needs the bias vectors: it cannot be used with --no-bias",
        ),
        (
            ["--device", "meta"],
            "--device meta: gradients needs values and the meta device holds none "
            "(it computes shapes only); use --device cpu or auto",
        ),
        (
            ["--steps", "5", "-L", "6"],
            "--steps (5) and --seq-len (6) are the same setting here; give one of them",
        ),
        (["--steps", "0"], "--steps must be a positive integer, got 0"),
        (["--forget-bias", "nan"], "--forget-bias must be a finite number, got nan"),
        (["gru", "--nonlinearity", "relu"], "--nonlinearity applies to rnn only, not gru"),
        (
            ["--png", "/nonexistent-folder/g.png"],
            "--png /nonexistent-folder/g.png: the folder /nonexistent-folder does not exist",
        ),
    ],
)
def test_refusals_are_one_line_exit_2(args: list[str], line: str) -> None:
    result = run_cli("gradients", *args)
    assert (result.exit_code, result.stderr, result.stdout) == (2, f"error: {line}\n", "")


def test_png_is_written_beside_the_json(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "gradients.png"
    document = run_json("gradients", "--steps", "30", "--forget-bias", "3", "--png", str(path))
    assert len(document["rows"]) == 3
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_png_without_matplotlib_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an absent package looks like to import
    path = tmp_path / "gradients.png"
    result = run_cli("gradients", "--png", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert (
        result.stderr
        == "error: --png needs matplotlib, which is not installed: pip install 'rnnscope[plot]'\n"
    )
    assert not path.exists()


def test_real_process_writes_one_json_document() -> None:
    command = [
        sys.executable,
        "-m",
        "rnnscope",
        "gradients",
        "lstm",
        "--steps",
        "20",
        "--forget-bias",
        "3",
        "--json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert (result.returncode, result.stderr) == (0, "")
    (row,) = json.loads(result.stdout)["rows"]
    assert row["reaches_start"] and row["horizon"] == 19


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_on_cuda(dtype: str) -> None:
    document = run_json(
        "gradients",
        "--device",
        "cuda",
        "--dtype",
        dtype,
        "--forget-bias",
        "0",
        "--forget-bias",
        "3",
        "--bidirectional",
        "--layers",
        "2",
    )
    assert document["device"].startswith("cuda")
    horizons = {(row["kind"], row["forget_bias"]): row["horizon"] for row in document["rows"]}
    assert horizons[("lstm", 3.0)] > horizons[("lstm", 0.0)]
    assert all(point["grad_norm"] is not None for row in document["rows"] for point in row["norms"])


def decaying(
    steps: int, decades_per_step: float, at_t: float = 1.0, floor: float = 0.0
) -> list[float | None]:
    """A norm that falls by a fixed number of decades per step back from T; below ``floor`` it
    is exactly 0, as an underflowed gradient is."""
    values = [at_t * 10 ** (-decades_per_step * (steps - 1 - t)) for t in range(steps)]
    return [value if value >= floor else 0.0 for value in values]


def synthetic_report(name: str) -> GradientsReport:
    """Reports built by hand, so that the golden layout does not hang on the CPU's rounding."""
    if name == "gradients_story":
        steps, rows = 100, [("rnn", None, 0.2, 1.8), ("gru", None, 0.21, 0.73)]
        rows += [("lstm", 0.0, 0.19, 0.38), ("lstm", 1.0, 0.07, 0.38), ("lstm", 3.0, 0.006, 0.45)]
        spec = make_spec(Kind.rnn, seq_len=steps)
        built = [
            GradientRow(
                kind,
                repr(kind),
                make_spec(Kind(kind), seq_len=steps).config(),
                bias,
                decaying(steps, rate, top),
            )
            for kind, bias, rate, top in rows
        ]
        return GradientsReport(steps, 32, "cpu", "float32", 0, 2**-149, target_description(spec), built)
    steps = 400
    spec = make_spec(Kind.rnn, seq_len=steps, bidirectional=True, num_layers=2)
    underflowing = decaying(steps, 0.3, 0.9, floor=2**-149)
    lasting = decaying(steps, 0.005, 0.5)
    lasting[37] = None  # an overflow shows as its own mark
    built = [
        GradientRow("rnn", "RNN(10, 20)", spec.config(), None, underflowing),
        GradientRow("lstm", "LSTM(10, 20)", spec.config(), 3.0, lasting),
    ]
    notes = ["rnn: the gradient is exactly 0 at 251 step(s), up to t = 250"]
    return GradientsReport(steps, 32, "cpu", "float32", 0, 2**-149, target_description(spec), built, notes)


@pytest.mark.parametrize("name", ["gradients_story", "gradients_underflow"])
def test_golden_chart(name: str, golden: Golden) -> None:
    golden(name, rendered(gradients_view(synthetic_report(name))))


@pytest.mark.parametrize("name", ["gradients_story", "gradients_underflow"])
def test_golden_chart_invariants(name: str) -> None:
    """80 columns; one strip per row, min(L, 64) marks wide; a column is · exactly when every
    step it covers is 0; the table's horizon is the report's."""
    report = synthetic_report(name)
    lines = (GOLDEN / f"{name}.out").read_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    width = min(report.steps, 64)
    label_width = max(len(row.label) for row in report.rows) + 2
    strips = {
        line[:label_width].rstrip(): line[label_width:]
        for line in lines
        if len(line) == label_width + width and set(line[label_width:]) <= set("▁▂▃▄▅▆▇█·!")
    }
    assert list(strips) == [row.label for row in report.rows]
    bounds = [(c * report.steps // width, (c + 1) * report.steps // width) for c in range(width)]
    for row in report.rows:
        zero_columns = [all(value == 0.0 for value in row.norms[a:b]) for a, b in bounds]
        assert [mark == "·" for mark in strips[row.label]] == zero_columns
        (table_row,) = [
            line for line in lines if line.startswith(row.label + " ") and ("e+" in line or "e-" in line)
        ]
        horizon_cell = table_row.removesuffix(" (all)").split()[-1]
        assert horizon_cell == str(row.horizon) and table_row.endswith("(all)") == row.reaches_start


def test_on_a_terminal_the_steps_inside_the_horizon_are_green() -> None:
    report = synthetic_report("gradients_story")
    row = report.rows[3]  # lstm fb=1
    text = rendered(gradients_view(report), terminal=True)
    strip = next(line for line in text.splitlines() if line.startswith(row.label))
    green, dim = "\x1b[32m", "\x1b[2m"  # each of the 64 columns carries its own style
    inside = [(c + 1) * 100 // 64 - 1 >= 99 - row.horizon for c in range(64)]
    assert (strip.count(green), strip.count(dim)) == (sum(inside), 64 - sum(inside))
    assert strip.rindex(dim) < strip.index(green)
