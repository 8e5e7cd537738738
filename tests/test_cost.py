"""The cost model: hand-worked examples, and 2 × macs against torch's FlopCounterMode."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnscope.layer.cost import forward_cost, layer_costs
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import make_spec
from tests.helpers import META_EXAMPLE, run_cli, run_json

# FlopCounterMode's import and mkldnn.flags() warn about numpy and Intel GPUs: noise here.
pytestmark = pytest.mark.filterwarnings("ignore:Failed to initialize NumPy", "ignore:TF32 acceleration")


def test_lstm_two_layers_by_hand() -> None:
    # nn.LSTM(10, 20, 2) on (100, 32, 10): R = 100·32 = 3200 rows, G = 4, G·H_cell = 80.
    costs = forward_cost(make_spec(Kind.lstm, num_layers=2))
    input_macs = 3200 * 80 * 10 + 3200 * 80 * 20  # layer 0 sees H_in = 10, layer 1 H_out = 20
    recurrent_macs = 2 * 3200 * 80 * 20
    assert costs.macs == input_macs + recurrent_macs == 17_920_000
    assert costs.elementwise == 2 * 3200 * 13 * 20 == 1_664_000  # 13 element-wise ops per unit
    assert costs.bias_adds == 2 * 3200 * 2 * 80 == 1_024_000  # b_ih and b_hh
    assert costs.flops == 2 * 17_920_000 + 1_664_000 + 1_024_000 == 38_528_000


def test_packed_bidirectional_gru_counts_real_steps_in_every_layer() -> None:
    # GRU(3, 4, 2 layers, bidirectional), lengths 5,3,1 padded to seq-len 6: 9 real rows.
    spec = make_spec(
        Kind.gru, input_size=3, hidden_size=4, num_layers=2, bidirectional=True, lengths=(5, 3, 1), seq_len=6
    )
    costs = forward_cost(spec)
    layer0 = 9 * 12 * 3 + 9 * 12 * 4  # G·H_cell = 12; W_ih (12, 3), W_hh (12, 4): 756
    layer1 = 9 * 12 * 8 + 9 * 12 * 4  # layer 1's input is D·H_out = 8 wide: 1296
    assert layer0 == 756 and layer1 == 1296
    assert [row.macs for row in costs.layers] == [layer0, layer0, layer1, layer1]
    assert costs.macs == 2 * layer0 + 2 * layer1 == 4104
    assert costs.padded_macs == 4104 * 18 // 9  # the 6 × 3 rectangle has 18 rows, not 9
    assert costs.padding_waste == pytest.approx(0.5)


def test_lstm_projection_by_hand() -> None:
    # LSTM(5, 8, proj_size=3) on (2, 1, 5): W_ih (32, 5), W_hh (32, 3), W_hr (3, 8), 2 rows.
    (row,) = layer_costs(make_spec(Kind.lstm, input_size=5, hidden_size=8, proj_size=3, seq_len=2, batch=1))
    assert (row.input_macs, row.recurrent_macs, row.projection_macs) == (2 * 32 * 5, 2 * 32 * 3, 2 * 3 * 8)
    assert row.macs == 560


def test_cell_is_one_step() -> None:
    # GRUCell(4, 6), batch 2: one step, W_ih (18, 4) and W_hh (18, 6).
    (row,) = layer_costs(make_spec(Kind.gru, cell=True, input_size=4, hidden_size=6, batch=2))
    assert row.macs == 2 * 18 * (4 + 6) == 360
    assert row.elementwise == 2 * 11 * 6


def test_bytes_by_hand() -> None:
    # nn.LSTM(10, 20) on (100, 32, 10) in float32 (4 bytes).
    costs = forward_cost(make_spec(Kind.lstm), "float32")
    assert costs.param_bytes == 4 * (80 * 10 + 80 * 20 + 2 * 80)
    assert costs.input_bytes == 4 * 100 * 32 * 10
    assert costs.output_bytes == 4 * 100 * 32 * 20
    assert costs.state_bytes == 4 * 2 * 32 * (20 + 20)  # h_0, c_0, h_n, c_n
    # kept for backward, per row: the input (10), gates (80), h (20), c (20)
    assert costs.activation_bytes == 4 * 3200 * (10 + 80 + 20 + 20)
    assert forward_cost(make_spec(Kind.lstm), "bfloat16").param_bytes * 2 == costs.param_bytes


def test_no_bias_means_no_bias_adds() -> None:
    assert forward_cost(make_spec(Kind.rnn, bias=False)).bias_adds == 0


@st.composite
def specs(draw: st.DrawFn) -> LayerSpec:
    kind = draw(st.sampled_from(list(Kind)))
    hidden = draw(st.integers(2, 6))
    if draw(st.booleans()):
        return make_spec(
            kind,
            cell=True,
            input_size=draw(st.integers(1, 5)),
            hidden_size=hidden,
            batch=draw(st.integers(1, 3)),
            bias=draw(st.booleans()),
        )
    batch = draw(st.integers(1, 3))
    seq_len = draw(st.integers(1, 5))
    lengths = None
    layout = draw(st.sampled_from(["padded", "packed", "unbatched"]))
    if layout == "packed":
        lengths = tuple(draw(st.lists(st.integers(1, seq_len), min_size=batch, max_size=batch)))
    return make_spec(
        kind,
        input_size=draw(st.integers(1, 5)),
        hidden_size=hidden,
        num_layers=draw(st.integers(1, 3)),
        bidirectional=draw(st.booleans()),
        bias=draw(st.booleans()),
        proj_size=draw(st.integers(0, hidden - 1)) if kind is Kind.lstm else 0,
        seq_len=seq_len,
        batch=None if layout == "unbatched" else batch,
        unbatched=layout == "unbatched",
        lengths=lengths,
    )


@pytest.fixture(scope="module", autouse=True)
def counted_without_inference_mode() -> Iterator[None]:
    """Run probe's forward under no_grad instead of inference_mode while FlopCounterMode counts.

    torch 2.4.1's FlopCounterMode counts nothing at all inside torch.inference_mode() (0 even for
    nn.Linear; pytorch/pytorch#126268), 2.13.0's counts there as under no_grad; no_grad runs the
    same ops and is counted by both.
    """
    from rnnscope.execution import probe
    from rnnscope.execution.runtime import torch

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(probe.torch, "inference_mode", torch.no_grad)
        yield


@settings(deadline=None, max_examples=40)
@given(specs())
def test_two_macs_is_what_flop_counter_mode_counts(spec: LayerSpec) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from rnnscope.execution.probe import probe
    from rnnscope.execution.runtime import torch

    # With oneDNN on, FlopCounterMode counts 0 for a CPU LSTM without projections: the fused
    # oneDNN kernel is one op it has no formula for. Off, torch runs the plain matmuls.
    with torch.backends.mkldnn.flags(enabled=False), FlopCounterMode(display=False) as counter:
        probe(spec, "cpu", "float64")
    assert counter.get_total_flops() == 2 * forward_cost(spec).macs


@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_rnn_and_gru_are_counted_with_onednn_on(kind: str) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from rnnscope.execution.probe import probe

    spec = make_spec(Kind(kind), num_layers=2, bidirectional=True, seq_len=7, batch=3)
    with FlopCounterMode(display=False) as counter:
        probe(spec)
    assert counter.get_total_flops() == 2 * forward_cost(spec).macs


def test_meta_reports_cost_of_any_size_through_the_cli() -> None:
    document = run_json(*META_EXAMPLE)
    per_layer = 4 * (16384 * (16384 + 16384) + 2 * 16384)  # G·(H_cell·(in + H_out) + 2·H_cell)
    assert document["total_params"] == 32 * per_layer == 68_723_671_040
    assert document["forward"] == "skipped"
    cost = document["cost"]
    assert cost["param_bytes"] == 4 * 68_723_671_040
    assert cost["macs"] == 32 * 100 * 32 * 4 * 16384 * (16384 + 16384)
    assert cost["flops"] > 2 * cost["macs"]
    assert cost["activation_bytes"] > 0


def test_inspect_json_carries_cost_and_padded_macs() -> None:
    document = run_json("inspect", "rnn", "--lengths", "4,2", "--seq-len", "4", "-H", "3", "-i", "2")
    cost = document["cost"]
    # RNN(2, 3), 6 real rows of 8 padded: W_ih (3, 2) and W_hh (3, 3) per row.
    assert cost["macs"] == 6 * (3 * 2 + 3 * 3) == 90
    assert cost["padded_macs"] == 8 * 15
    assert cost["padding_waste"] == pytest.approx(0.25)
    assert [row["macs"] for row in cost["layers"]] == [90]
    assert {"flops", "param_bytes", "activation_bytes"} <= set(cost)


def test_equal_layers_share_one_row_of_per_layer_counts() -> None:
    # RNN(20, 20, 3): every layer sees 20 inputs, so the three layers count alike.
    output = run_cli("inspect", "rnn", "--input-size", "20", "--layers", "3").stdout
    per_layer_flops = 2 * 3200 * 20 * (20 + 20) + 3200 * 2 * 20 + 3200 * 2 * 20  # 5,376,000
    assert per_layer_flops == 5_376_000
    assert re.search(r"^0–2 fwd +3,200 .* 5\.38 M *$", output, re.M), output
    assert "a row such as 0–2 stands for layers with equal counts; its numbers are per layer" in output
