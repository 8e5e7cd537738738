"""``rnnscope compare``: the three kinds side by side, from the formulas."""

from __future__ import annotations

import pytest

from rnnscope.comparison import compare
from rnnscope.render import compare_view
from tests.helpers import rendered, run_cli, run_json


def test_rows_in_order_with_exact_ratios() -> None:
    document = run_json("compare")
    rows = document["rows"]
    assert [row["kind"] for row in rows] == ["rnn", "gru", "lstm"]
    # RNN(10, 20): 20·(10 + 20) + 2·20 = 640; GRU and LSTM stack 3 and 4 such blocks.
    assert [row["total_params"] for row in rows] == [640, 3 * 640, 4 * 640]
    assert [row["ratio_vs_rnn"] for row in rows] == [1.0, 3.0, 4.0]
    # 3200 rows × G·H_cell·(H_in + H_out) = 3200 × G × 20 × 30
    assert [row["macs"] for row in rows] == [3200 * g * 20 * 30 for g in (1, 3, 4)]
    assert document["config"]["hidden_size"] == 20


def test_ratios_hold_for_stacked_bidirectional_layers() -> None:
    rows = run_json("compare", "-i", "7", "-H", "9", "--layers", "3", "--bidirectional")["rows"]
    assert [row["ratio_vs_rnn"] for row in rows] == [1.0, 3.0, 4.0]


def test_proj_size_applies_to_lstm_only_with_a_note() -> None:
    document = run_json("compare", "--proj-size", "5")
    rnn, gru, lstm = document["rows"]
    assert (rnn["total_params"], gru["total_params"]) == (640, 1920)
    # LSTM(10, 20, proj 5): 4·(20·(10 + 5) + 2·20) + 5·20 = 1,460
    assert lstm["total_params"] == 1460
    assert lstm["ratio_vs_rnn"] == 1460 / 640
    assert document["notes"] == ["--proj-size 5 applies to the lstm row only: rnn and gru have none"]


def test_nonlinearity_applies_to_rnn_only() -> None:
    document = run_json("compare", "--nonlinearity", "relu")
    assert document["config"]["nonlinearity"] == "relu"
    assert document["notes"] == ["--nonlinearity relu applies to the rnn row only"]


def test_run_flags_compare_has_no_use_for_are_named_in_a_note() -> None:
    document = run_json("compare", "--seed", "5", "--device", "meta", "--dtype", "float64")
    assert document["notes"] == ["--device meta, --seed 5: not used, compare builds nothing, it counts"]
    assert document["dtype"] == "float64"  # --dtype is used: it sizes the memory
    assert "--device meta, --seed 5: not used" in run_cli("compare", "--seed", "5", "--device", "meta").stdout
    assert run_json("compare")["notes"] == []
    assert run_cli("compare", "--seed", "99999999999999999999").exit_code == 2  # checked as everywhere


def test_bad_input_is_one_line_exit_2() -> None:
    result = run_cli("compare", "--proj-size", "20")
    assert result.exit_code == 2
    assert result.stderr == "error: --proj-size must be smaller than --hidden-size (20), got 20\n"
    assert result.stdout == ""
    result = run_cli("compare", "--nonlinearity", "sigmoid")
    assert result.exit_code == 2
    assert result.stderr == "error: --nonlinearity must be tanh or relu, got 'sigmoid'\n"


def test_compare_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from rnnscope.cli import app\n"
        "try: app(['compare', '--json'])\n"
        "except SystemExit: pass\n"
        "assert 'torch' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_table_fits_80_columns() -> None:
    from rnnscope.cli import LayerFlags
    from rnnscope.layer.spec import Kind

    flags = LayerFlags(
        cell=False,
        input_size=16384,
        hidden_size=16384,
        layers=32,
        bidirectional=True,
        batch_first=False,
        bias=True,
        dropout=0.0,
        nonlinearity=None,
        proj_size=4096,
        seq_len=None,
        batch=None,
        unbatched=False,
        lengths=None,
        enforce_sorted=False,
        no_initial_state=False,
        device="cpu",
        dtype="float32",
        seed=0,
    )
    specs, notes = flags.specs_by_kind()
    assert specs[Kind.lstm].proj_size == 4096 and specs[Kind.gru].proj_size == 0
    output = rendered(compare_view(compare(specs, "float32", notes)))
    assert max(len(line) for line in output.splitlines()) <= 80
    # The RNN row, per direction: layer 0 is 16384·(16384 + 16384) + 2·16384 = 536,903,680;
    # layers 1 to 31 see D·H_out = 32768: 16384·(32768 + 16384) + 2·16384 = 805,339,136.
    rnn_params = 2 * (536_903_680 + 31 * 805_339_136)
    assert f" {rnn_params:,} " in output


def test_compare_with_lengths_counts_real_steps_and_the_padded_rectangle() -> None:
    document = run_json("compare", "--lengths", "7,5,5,2", "--seq-len", "10")
    rnn, gru, lstm = document["rows"]
    # Real steps: 7+5+5+2 = 19 rows of W_ih x (20·10) and W_hh h (20·20) per gate block.
    assert rnn["macs"] == 19 * 20 * (10 + 20) == 11_400
    assert (gru["macs"], lstm["macs"]) == (3 * 11_400, 4 * 11_400)
    # The padded input is L × N = 10 × 4 = 40 rows.
    assert rnn["padded_macs"] == 40 * 20 * (10 + 20)
    assert rnn["padding_waste"] == lstm["padding_waste"] == 1 - 19 / 40
    result = run_cli("compare", "--lengths", "7,5,5,2", "--seq-len", "10")
    assert "sum(lengths) = 19" in result.stdout and "52% of which would be padding" in result.stdout


@pytest.mark.parametrize("command", [["compare"], ["draw", "lstm", "--json"]])
def test_a_layer_no_torch_can_build_is_bad_input(command: list[str]) -> None:
    result = run_cli(*command, "--hidden-size", "99999999999999999999")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(
        "error: h_0 (D·num_layers, N, H_out) would be (1, 32, 99999999999999999999)"
    )
    assert result.stderr.endswith(
        "past the 2^63 - 1 bytes a PyTorch tensor can hold; lower --batch, --hidden-size\n"
    )


def test_the_kind_only_settings_go_to_their_kinds_in_the_library() -> None:
    from rnnscope.layer.side_by_side import specs_side_by_side
    from rnnscope.layer.spec import Kind

    kinds = [Kind.rnn, Kind.gru, Kind.lstm]
    specs, notes = specs_side_by_side(kinds, {"proj_size": 5, "nonlinearity": "relu"})
    assert [(spec.proj_size, spec.nonlinearity) for spec in specs] == [(0, "relu"), (0, "tanh"), (5, "tanh")]
    assert notes == [
        "--proj-size 5 applies to the lstm row only: rnn and gru have none",
        "--nonlinearity relu applies to the rnn row only",
    ]
    assert specs_side_by_side([Kind.lstm], {"proj_size": 5})[1] == []
