"""Bad input: one line on stderr naming the flag and what is allowed, exit 2, nothing on stdout."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import Result

import rnnscope
from rnnscope.cli import app
from rnnscope.errors import BadInput
from rnnscope.layer.command_line import SETTING_FLAGS, flag_name
from rnnscope.layer.limits import TORCH_MAX_BYTES, check_torch_limits
from rnnscope.layer.spec import DTYPE_BYTES, DTYPES, Kind
from rnnscope.layer.validation import check_computes, make_spec
from tests.helpers import run_cli, run_json

BAD_INPUT = [
    (["rnn", "--input-size", "0"], "--input-size must be a positive integer, got 0"),
    (["rnn", "--hidden-size", "-3"], "--hidden-size must be a positive integer, got -3"),
    (["rnn", "--layers", "0"], "--layers must be a positive integer, got 0"),
    (["rnn", "--seq-len", "0"], "--seq-len must be a positive integer, got 0"),
    (["rnn", "--batch", "0"], "--batch must be a positive integer, got 0"),
    (["gru", "--dropout", "1.5"], "--dropout must be between 0 and 1, got 1.5"),
    (["gru", "--dropout", "-0.1"], "--dropout must be between 0 and 1, got -0.1"),
    (["gru", "--proj-size", "5"], "--proj-size applies to lstm only, not gru"),
    (["rnn", "--proj-size", "5"], "--proj-size applies to lstm only, not rnn"),
    (["lstm", "--proj-size", "20"], "--proj-size must be smaller than --hidden-size (20), got 20"),
    (["lstm", "--proj-size", "-1"], "--proj-size must be 0 or more, got -1"),
    (["lstm", "--nonlinearity", "relu"], "--nonlinearity applies to rnn only, not lstm"),
    (["gru", "--nonlinearity", "tanh"], "--nonlinearity applies to rnn only, not gru"),
    (["rnn", "--nonlinearity", "gelu"], "--nonlinearity must be tanh or relu, got 'gelu'"),
    (["rnn", "--cell", "--layers", "2"], "--layers must be 1 with --cell (a cell is one layer), got 2"),
    (
        ["rnn", "--cell", "--bidirectional"],
        "--bidirectional does not apply with --cell (a cell runs one direction)",
    ),
    (
        ["gru", "--cell", "--batch-first"],
        "--batch-first does not apply with --cell (a cell's input is (N, H_in))",
    ),
    (["gru", "--cell", "--dropout", "0.2"], "--dropout does not apply with --cell (cells have no dropout)"),
    (
        ["lstm", "--cell", "--seq-len", "5"],
        "--seq-len does not apply with --cell (a cell runs one time step)",
    ),
    (
        ["rnn", "--unbatched", "--batch", "4"],
        "--batch does not apply with --unbatched (the input has no batch axis)",
    ),
    (["rnn", "--device", "tpu"], "--device must be cpu, cuda, cuda:N, mps, auto or meta, got 'tpu'"),
    (["rnn", "--dtype", "int8"], "--dtype must be one of float32, float64, float16, bfloat16, got 'int8'"),
    (["rnn", "--lengths", "3,0"], "--lengths must each be 1 or more, got 0"),
    (
        ["rnn", "--lengths", "3,9", "--seq-len", "8"],
        "--lengths must each be between 1 and --seq-len (8), got 9",
    ),
    (["rnn", "--lengths", "3,x"], "--lengths must be comma-separated integers such as 7,5,5,2, got '3,x'"),
    (
        ["rnn", "--lengths", "3,2", "--batch", "3"],
        "--batch (3) must equal the number of --lengths (2), or be left out",
    ),
    (
        ["rnn", "--lengths", "3,2", "--cell"],
        "--lengths does not apply with --cell (a cell runs one time step)",
    ),
    (
        ["rnn", "--lengths", "3,2", "--unbatched"],
        "--lengths does not apply with --unbatched (lengths are per batch element)",
    ),
    (
        ["rnn", "--lengths", "2,3", "--enforce-sorted"],
        "--enforce-sorted needs --lengths in decreasing order, got 2,3: sort them, or drop "
        "--enforce-sorted (--no-enforce-sorted, the default)",
    ),
    (["rnn", "--enforce-sorted"], "--enforce-sorted needs --lengths"),
    (
        ["rnn", "--seed", "99999999999999999999"],
        "--seed must be between -2^63 and 2^64 - 1 (torch.manual_seed takes a 64-bit value), "
        "got 99999999999999999999",
    ),
    (
        ["rnn", "--seed", "-9223372036854775809"],
        "--seed must be between -2^63 and 2^64 - 1 (torch.manual_seed takes a 64-bit value), "
        "got -9223372036854775809",
    ),
    (
        ["rnn", "--layers", "100000", "--device", "meta"],
        "--layers must be at most 1,000, got 100,000: PyTorch's time to build a stack grows faster "
        "than its depth (5,000 layers take about 2 s, 20,000 about 25 s)",
    ),
    (
        ["lstm", "--hidden-size", "2000000000", "--device", "meta"],
        "weight_hh_l0 (4·H_cell, H_out) would be (8000000000, 2000000000): 64,000,000,000,000,000,000 "
        "bytes in float32, past the 2^63 - 1 bytes a PyTorch tensor can hold; lower --hidden-size",
    ),
    (
        ["gru", "--batch", "10000000000", "--seq-len", "1000000000", "--device", "meta"],
        "input (L, N, H_in) would be (1000000000, 10000000000, 10): 400,000,000,000,000,000,000 bytes "
        "in float32, past the 2^63 - 1 bytes a PyTorch tensor can hold; lower --seq-len, --batch, "
        "--input-size",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT, ids=[" ".join(a) for a, _ in BAD_INPUT])
def test_bad_input_is_one_line_exit_2(args: list[str], message: str) -> None:
    result = run_cli("inspect", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {message}\n"


# The same refusals from Python: the parameters as a caller passes them, the flags on the command line.
LIBRARY_WORDING: list[tuple[Callable[[], object], str, str]] = [
    (
        lambda: make_spec(Kind.rnn, hidden_size=-3),
        "hidden_size must be a positive integer, got -3",
        "--hidden-size must be a positive integer, got -3",
    ),
    (
        lambda: make_spec(Kind.lstm, proj_size=20),
        "proj_size must be smaller than hidden_size (20), got 20",
        "--proj-size must be smaller than --hidden-size (20), got 20",
    ),
    (
        lambda: make_spec(Kind.rnn, num_layers=2, cell=True),
        "num_layers must be 1 with cell=True (a cell is one layer), got 2",
        "--layers must be 1 with --cell (a cell is one layer), got 2",
    ),
    (
        lambda: make_spec(Kind.rnn, lengths=(2, 3), enforce_sorted=True),
        "enforce_sorted=True needs lengths in decreasing order, got 2,3: sort them, or drop "
        "enforce_sorted=True (enforce_sorted=False, the default)",
        "--enforce-sorted needs --lengths in decreasing order, got 2,3: sort them, or drop "
        "--enforce-sorted (--no-enforce-sorted, the default)",
    ),
    (
        lambda: check_computes("meta", "verify"),
        "device='meta': verify needs values and the meta device holds none (it computes shapes only); "
        "use device='cpu' or auto",
        "--device meta: verify needs values and the meta device holds none (it computes shapes only); "
        "use --device cpu or auto",
    ),
    (
        lambda: check_torch_limits(make_spec(Kind.lstm, hidden_size=2**40, proj_size=2**39), "float32"),
        "weight_hh_l0 (4·H_cell, H_out) would be (4398046511104, 549755813888): "
        "9,671,406,556,917,033,397,649,408 bytes in float32, past the 2^63 - 1 bytes a PyTorch tensor "
        "can hold; lower hidden_size, proj_size",
        "weight_hh_l0 (4·H_cell, H_out) would be (4398046511104, 549755813888): "
        "9,671,406,556,917,033,397,649,408 bytes in float32, past the 2^63 - 1 bytes a PyTorch tensor "
        "can hold; lower --hidden-size, --proj-size",
    ),
    (
        lambda: rnnscope.bench(make_spec(Kind.lstm), iters=0),
        "iters must be a positive integer, got 0",
        "--iters must be a positive integer, got 0",
    ),
    (
        lambda: rnnscope.verify(make_spec(Kind.gru), atol=-1.0),
        "atol must be a number ≥ 0, got -1",
        "--atol must be a number ≥ 0, got -1",
    ),
    (
        lambda: rnnscope.gradients([make_spec(Kind.rnn, dropout=0.5, num_layers=2)]),
        "dropout does not apply to gradients: they are measured without dropout (a random mask would "
        "change them on every run), got 0.5",
        "--dropout does not apply to gradients: they are measured without dropout (a random mask would "
        "change them on every run), got 0.5",
    ),
    (
        lambda: rnnscope.gradients([make_spec(Kind.lstm, bias=False)], forget_biases=[1.0]),
        "forget_biases needs the bias vectors: it cannot be used with bias=False",
        "--forget-bias needs the bias vectors: it cannot be used with --no-bias",
    ),
    (
        lambda: rnnscope.run_model("tests/model_zoo.py:Perturbed", batch=0),
        "batch must be a positive integer, got 0",
        "--batch must be a positive integer, got 0",
    ),
]


@pytest.mark.parametrize(("call", "in_parameters", "in_flags"), LIBRARY_WORDING)
def test_library_errors_name_parameters_and_the_command_line_flags(
    call: Callable[[], object], in_parameters: str, in_flags: str
) -> None:
    with pytest.raises(BadInput) as raised:
        call()
    assert str(raised.value) == in_parameters
    assert raised.value.command_line_message == in_flags


def test_every_flag_the_errors_name_is_one_the_command_line_takes() -> None:
    inspect_command = typer.main.get_command(app).commands["inspect"]
    taken = {
        name for parameter in inspect_command.params for name in parameter.opts + parameter.secondary_opts
    }
    named = {flag_name(setting, value) for setting in SETTING_FLAGS for value in (True, False)}
    named = {name.split(" ")[0] for name in named if not name.startswith("no ")}
    assert named <= taken, named - taken


@pytest.mark.parametrize("command", [["verify", "gru"], ["smoke"], ["bench", "lstm"], ["gradients", "gru"]])
def test_commands_that_need_values_refuse_meta_in_one_wording(command: list[str]) -> None:
    result = run_cli(*command, "--device", "meta")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        f"error: --device meta: {command[0]} needs values and the meta device holds none "
        "(it computes shapes only); use --device cpu or auto\n"
    )


@pytest.mark.parametrize("seed", ["-9223372036854775808", "18446744073709551615"])
def test_the_seed_range_ends_are_accepted(seed: str) -> None:
    document = run_json("inspect", "gru", "--seed", seed, "-L", "2", "-N", "1")
    assert document["seed"] == int(seed)


@settings(deadline=None, max_examples=30)
@given(
    rows=st.integers(1, 2**40),
    columns=st.integers(1, 2**40),
    dtype=st.sampled_from(DTYPES),
)
def test_the_byte_limit_is_where_torch_refuses_a_meta_tensor(rows: int, columns: int, dtype: str) -> None:
    from rnnscope.execution.runtime import TORCH_DTYPES, torch

    past_limit = rows * columns * DTYPE_BYTES[dtype] > TORCH_MAX_BYTES
    try:
        torch.empty(rows, columns, device="meta", dtype=TORCH_DTYPES[dtype])
    except RuntimeError as error:
        assert "overflow" in str(error)
        assert past_limit
    else:
        assert not past_limit


@settings(deadline=None, max_examples=25)
@given(
    kind=st.sampled_from(list(Kind)),
    sizes=st.lists(st.integers(0, 40).map(lambda power: 2**power), min_size=4, max_size=4),
    cell=st.booleans(),
    dtype=st.sampled_from(DTYPES),
)
def test_any_size_on_meta_is_an_answer_or_exit_2(
    kind: Kind, sizes: list[int], cell: bool, dtype: str
) -> None:
    input_size, hidden_size, seq_len, batch = sizes
    args = ["-i", str(input_size), "-H", str(hidden_size), "-N", str(batch), "--dtype", dtype]
    args += ["--cell"] if cell else ["-L", str(seq_len)]
    result = run_cli("inspect", kind.value, *args, "--device", "meta", "--json")
    assert result.exit_code in (0, 2), result.stderr
    if result.exit_code == 2:
        assert "past the 2^63 - 1 bytes a PyTorch tensor can hold" in result.stderr
        assert result.stderr.count("\n") == 1


def test_bad_input_with_json_prints_nothing_on_stdout() -> None:
    result = run_cli("inspect", "gru", "--proj-size", "3", "--json")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "error: --proj-size applies to lstm only, not gru\n"


def test_unknown_kind_is_a_usage_error() -> None:
    result = run_cli("bench", "transformer")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "'transformer' is not one of 'rnn', 'lstm', 'gru'" in result.stderr


@pytest.mark.parametrize("command", ["inspect", "verify"])
def test_an_unknown_kind_where_kind_sweeps_is_one_line(command: str) -> None:
    result = run_cli(command, "transformer")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == (
        "error: KIND must be rnn, lstm or gru, or a comma list such as lstm,gru, got 'transformer'\n"
    )


def test_unparsable_number_is_a_usage_error() -> None:
    result = run_cli("inspect", "rnn", "--layers", "two")
    assert result.exit_code == 2
    assert "--layers" in result.stderr
    assert "Traceback" not in result.stderr


def test_cuda_where_there_is_none_is_refused() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run_cli("inspect", "rnn", "--device", "cuda")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --device cuda: CUDA is not available here")
    assert result.stderr.count("\n") == 1


def test_a_configuration_that_cannot_fit_is_refused_before_allocating() -> None:
    # H = 100,000 over L·N = 10^8 tokens: terabytes of activations on any machine.
    result = run_cli("inspect", "rnn", "--hidden-size", "100000", "--seq-len", "100000", "--batch", "1000")
    assert result.exit_code == 2
    assert result.stdout == ""
    line = result.stderr
    assert line.startswith("error: this RNN needs about ") and "GiB on cpu but " in line
    assert line.rstrip().endswith(
        "use --device meta to see its shapes, parameters and cost without allocating"
    )
    assert line.count("\n") == 1


def test_debug_shows_the_traceback_and_keeps_the_exit_code() -> None:
    result = run_cli("inspect", "gru", "--proj-size", "3", "--debug")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("Traceback (most recent call last):")
    # The traceback shows the library's error, which names the parameter as Python callers pass it.
    last_line = result.stderr.rstrip().splitlines()[-1]
    assert last_line == "rnnscope.errors.BadInput: proj_size applies to lstm only, not gru"


def test_debug_keeps_the_exit_code_of_a_failed_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from rnnscope.execution import probe

    def fails(result: probe.Probe) -> None:
        raise RuntimeError("planted kernel failure")

    monkeypatch.setattr(probe, "_forward", fails)
    plain = run_cli("inspect", "gru", "-L", "2", "-N", "1")
    debug = run_cli("inspect", "gru", "-L", "2", "-N", "1", "--debug")
    line = "error: the run failed on cpu: planted kernel failure; --debug shows where\n"
    assert (plain.exit_code, plain.stderr) == (3, line)
    assert debug.exit_code == 3 and debug.stderr.startswith("Traceback (most recent call last):")
    assert "RuntimeError: planted kernel failure" in debug.stderr


# Each command's --device help offers the devices it works on, and its errors suggest only those.


@pytest.mark.parametrize("command", ["verify", "bench", "gradients", "smoke", "load", "activity"])
def test_commands_that_need_values_offer_no_meta(command: str) -> None:
    from typer.main import get_command

    click_command = get_command(app).commands[command]  # type: ignore[attr-defined]
    device = next(p for p in click_command.params if p.name == "device")
    assert device.help.endswith("cpu, cuda, cuda:N, mps or auto.")
    assert "meta" not in device.help


def test_inspect_offers_meta() -> None:
    from typer.main import get_command

    click_command = get_command(app).commands["inspect"]  # type: ignore[attr-defined]
    device = next(p for p in click_command.params if p.name == "device")
    assert device.help == "cpu, cuda, cuda:N, mps, auto or meta (meta: shapes only, nothing allocated)."


@pytest.mark.parametrize("command", [["verify", "gru"], ["bench", "gru"], ["gradients", "gru"], ["smoke"]])
def test_an_unknown_device_names_what_the_command_takes(command: list[str]) -> None:
    result = run_cli(*command, "--device", "tpu")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "error: --device must be cpu, cuda, cuda:N, mps or auto, got 'tpu'\n"


@pytest.mark.parametrize("command", [["verify", "gru"], ["bench", "gru"], ["gradients", "gru"], ["smoke"]])
def test_cuda_where_there_is_none_suggests_what_works(command: list[str]) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run_cli(*command, "--device", "cuda")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --device cuda: CUDA is not available here")
    assert result.stderr.endswith("; use --device cpu or auto\n")
    inspected = run_cli("inspect", "gru", "--device", "cuda")
    assert inspected.stderr.endswith("; use --device cpu, auto or meta\n")


@pytest.mark.parametrize("command", [["smoke"], ["verify", "rnn"], ["bench", "gru"], ["compare"]])
def test_every_command_with_seed_refuses_one_torch_cannot_take(command: list[str]) -> None:
    result = run_cli(*command, "--seed", str(2**64))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith("error: --seed must be between -2^63 and 2^64 - 1")


@pytest.mark.parametrize(("kind", "gates"), [("rnn", 1), ("gru", 3), ("lstm", 4)])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_gates_are_held_in_float32(kind: str, gates: int, dtype: str) -> None:
    """PyTorch keeps every kind's gates in float32: N = 2^40 rows of G·H = 2^21 half gates
    overflow a storage on meta, half as many run."""
    rows = 2**40

    def inspect_meta(gate_width: int) -> Result:
        hidden = gate_width // gates
        args = ["-i", "1", "-H", str(hidden), "-N", str(rows), "-L", "1", "--dtype", dtype]
        return run_cli("inspect", kind, *args, "--device", "meta", "--json")

    too_wide = 2**21 if gates != 3 else 3 * 2**20
    refused = inspect_meta(too_wide)
    assert refused.exit_code == 2, refused.stderr
    assert "bytes in float32, past the 2^63 - 1 bytes" in refused.stderr
    halved = inspect_meta(too_wide // 2 if gates != 3 else 3 * 2**19)
    assert halved.exit_code == 0, halved.stderr
