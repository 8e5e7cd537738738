"""``rnnscope bench``: the report's keys and arithmetic, the refusals, and CUDA when present."""

from __future__ import annotations

import re

import pytest

from rnnscope.benchmark import pass_flops
from rnnscope.execution.runtime import torch
from rnnscope.layer.cost import forward_cost
from rnnscope.layer.spec import Kind
from rnnscope.layer.validation import make_spec
from tests.helpers import run_cli, run_json

KEYS = {"device", "dtype", "median_s", "tokens_per_s", "gflops", "matmul_gflops", "fraction_of_matmul"}


def test_bench_json_on_cpu() -> None:
    document = run_json("bench", "lstm", "--iters", "3", "--warmup", "1")
    assert set(document) >= KEYS
    assert (document["device"], document["dtype"], document["iters"]) == ("cpu", "float32", 3)
    assert document["min_s"] <= document["median_s"] <= document["max_s"]
    assert document["matmul_min_s"] <= document["matmul_median_s"] <= document["matmul_max_s"]
    # (100, 32, 10) through LSTM(10, 20): 3200 tokens a pass.
    assert document["tokens_per_pass"] == 3200
    assert document["tokens_per_s"] == pytest.approx(3200 / document["median_s"])
    assert document["flops_per_pass"] == forward_cost(make_spec(Kind.lstm)).flops
    assert document["gflops"] == pytest.approx(document["flops_per_pass"] / document["median_s"] / 1e9)
    # the biggest product: all 3200 rows through W_ih: (3200, 10) @ (10, 80)
    assert document["matmul_shape"] == [3200, 10, 80]
    assert document["fraction_of_matmul"] == pytest.approx(document["gflops"] / document["matmul_gflops"])


def test_bench_backward_packed_counts_real_tokens() -> None:
    document = run_json("bench", "gru", "--backward", "--iters", "2", "--lengths", "5,3,2", "--seq-len", "5")
    assert document["backward"] is True
    assert document["tokens_per_pass"] == 5 + 3 + 2
    assert document["matmul_shape"] == [10, 10, 60]


def test_backward_counts_two_more_products_per_forward_product() -> None:
    spec = make_spec(Kind.rnn)
    forward = forward_cost(spec)
    assert pass_flops(spec, backward=True) - pass_flops(spec, backward=False) == 4 * forward.macs


def test_cell_bench_runs_one_step() -> None:
    document = run_json("bench", "gru", "--cell", "--iters", "2", "--warmup", "0")
    assert document["tokens_per_pass"] == 32


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--iters", "0"], "error: --iters must be a positive integer, got 0\n"),
        (["--warmup", "-1"], "error: --warmup must be 0 or more, got -1\n"),
    ],
)
def test_refusals_are_one_line_exit_2(args: list[str], line: str) -> None:
    result = run_cli("bench", "lstm", *args)
    assert (result.exit_code, result.stderr, result.stdout) == (2, line, "")


def test_no_cudnn_off_cuda_is_a_note() -> None:
    document = run_json("bench", "rnn", "--iters", "1", "--no-cudnn")
    assert document["cudnn"] is False
    assert "--no-cudnn has no effect on cpu: cuDNN is CUDA's" in document["notes"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("cudnn", ["--cudnn", "--no-cudnn"])
def test_bench_on_cuda(cudnn: str) -> None:
    document = run_json("bench", "lstm", "--device", "cuda", "--iters", "3", "--backward", cudnn)
    assert document["device"].startswith("cuda")
    assert document["median_s"] > 0 and document["fraction_of_matmul"] > 0
    assert document["cudnn"] is (cudnn == "--cudnn")


def test_threads_sets_torchs_intra_op_threads_in_every_mode() -> None:
    before = torch.get_num_threads()
    try:
        document = run_json("bench", "rnn", "-L", "4", "--iters", "2", "--threads", "1")
        assert (document["threads"], document["environment"]["threads"]) == (1, 1)
        shown = run_cli("bench", "rnn", "-L", "4", "--iters", "2", "--threads", "1", "--backward")
        assert shown.exit_code == 0, shown.stderr
        assert re.search(r"^threads +1  torch intra-op threads, \d+ cores here$", shown.stdout, re.M)
    finally:
        torch.set_num_threads(before)
    refused = run_cli("bench", "rnn", "--threads", "0")
    assert refused.exit_code == 2
    assert refused.stderr == "error: --threads must be a positive integer, got 0\n"


def test_the_matmul_note_says_why_it_has_its_shape() -> None:
    document = run_json("bench", "gru", "-i", "6", "-H", "9", "-L", "5", "-N", "4", "--iters", "1")
    assert document["matmul_shape"] == [20, 6, 27]
    assert any(
        note.startswith("the matmul (20, 6) @ (6, 27) is the layer's biggest single product")
        and "3 gates × H_cell = 27 columns" in note
        for note in document["notes"]
    )


@pytest.mark.parametrize(
    ("seconds", "wide"),
    [
        ([0.032] * 19 + [3.921], True),  # one pass stalled for seconds: max > 2 × median
        ([0.63, 0.9, 2.0, 8.95, 9.0, 12.0, 16.5], True),  # the quartiles far apart
        ([0.030, 0.031, 0.032, 0.033, 0.034, 0.050], False),
    ],
)
def test_a_wide_spread_is_named_with_its_likely_cause_and_the_threads(
    monkeypatch: pytest.MonkeyPatch, seconds: list[float], wide: bool
) -> None:
    from rnnscope import benchmark

    timing = benchmark.Timing.of(seconds)
    assert timing.wide is wide
    monkeypatch.setattr(benchmark, "_time_paired", lambda *args: (timing, benchmark.Timing.of([0.01])))
    document = run_json("bench", "lstm", "-L", "3", "--iters", str(len(seconds)))
    assert document["wide_spread"] is wide
    spread = [note for note in document["notes"] if note.startswith("the pass times spread widely")]
    assert len(spread) == int(wide)
    if wide:
        threads = document["threads"]
        assert f"torch's {threads} intra-op threads share" in spread[0] and "--threads 1" in spread[0]
        assert f"{max(seconds) * 1e3:,.1f} ms" in spread[0]
