"""Sweeps: a comma list runs every combination in one process, each line what a single run prints."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnscope import Kind, inspect, make_spec
from rnnscope.comparison import CompareReport
from rnnscope.errors import ExitCode, RunFailed
from rnnscope.report import InspectReport
from rnnscope.sweep import (
    FLAGS_BY_NAME,
    Combination,
    Outcome,
    combinations,
    parse_axis,
    prepare,
    run_cases,
    worst_exit_code,
)
from tests.helpers import rendered, run_cli


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The document less what legitimately differs between two runs: the time it was made."""
    environment = document.get("environment")
    if isinstance(environment, dict):
        document = document | {"environment": {k: v for k, v in environment.items() if k != "time"}}
    return document


def lines(*args: str, exit_code: int = 0) -> list[dict[str, Any]]:
    result = run_cli(*args, "--json")
    assert result.exit_code == exit_code, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def single(*args: str) -> dict[str, Any]:
    (document,) = lines(*args)
    return document


def assert_same_documents(sweep: list[dict[str, Any]], singles: list[dict[str, Any]]) -> None:
    """Key by key, so that a difference names the key."""
    assert len(sweep) == len(singles)
    for swept, alone in zip(sweep, singles, strict=True):
        swept, alone = comparable(swept), comparable(alone)
        assert list(swept) == list(alone)
        for key in alone:
            assert swept[key] == alone[key], key


def test_the_issues_example_is_twelve_lines_each_a_single_run() -> None:
    sweep = lines("inspect", "lstm,gru", "--hidden-size", "8,16,24", "--layers", "1,2", "-L", "5")
    expected = [
        single("inspect", kind, "--hidden-size", str(hidden), "--layers", str(layers), "-L", "5")
        for kind, hidden, layers in itertools.product(("lstm", "gru"), (8, 16, 24), (1, 2))
    ]
    assert_same_documents(sweep, expected)
    assert all(set(document["environment"]) >= {"torch", "time"} for document in sweep)
    assert [(d["kind"], d["config"]["hidden_size"], d["config"]["num_layers"]) for d in sweep] == list(
        itertools.product(("lstm", "gru"), (8, 16, 24), (1, 2))
    )


def test_verify_sweeps_dtypes_and_seeds() -> None:
    sweep = lines("verify", "gru", "--dtype", "float32,float64", "--seed", "3,4", "-L", "6", "-N", "3")
    expected = [
        single("verify", "gru", "--dtype", dtype, "--seed", seed, "-L", "6", "-N", "3")
        for dtype, seed in itertools.product(("float32", "float64"), ("3", "4"))
    ]
    assert_same_documents(sweep, expected)


def test_compare_sweeps_its_sizes_in_the_order_of_help() -> None:
    # Typed --proj-size before --dropout; --help lists --dropout first, so --proj-size varies fastest.
    sweep = lines("compare", "--hidden-size", "16,32", "--proj-size", "0,8", "--dropout", "0,0.5")
    expected = [
        single("compare", "--hidden-size", hidden, "--dropout", dropout, "--proj-size", proj)
        for hidden, dropout, proj in itertools.product(("16", "32"), ("0", "0.5"), ("0", "8"))
    ]
    assert_same_documents(sweep, expected)


# A small sweep: the flags that vary and their values, each list without repeats (at most 16
# configurations, each also run alone).
FLAG_VALUES = {
    "--hidden-size": st.integers(1, 12),
    "--layers": st.integers(1, 3),
    "--seq-len": st.integers(1, 6),
    "--seed": st.integers(0, 2**40),
}
kinds_swept = st.lists(st.sampled_from(["rnn", "lstm", "gru"]), min_size=1, max_size=2, unique=True)
flags_swept = st.lists(st.sampled_from(list(FLAG_VALUES)), min_size=1, max_size=3, unique=True).flatmap(
    lambda flags: st.tuples(
        *(
            st.tuples(st.just(flag), st.lists(FLAG_VALUES[flag], min_size=1, max_size=2, unique=True))
            for flag in flags
        )
    )
)


@settings(max_examples=8, deadline=None)
@given(
    kinds=kinds_swept,
    swept=flags_swept,
    command=st.sampled_from(["inspect", "verify"]),
    bidirectional=st.booleans(),
)
def test_any_small_sweep_is_its_single_runs_in_order(
    kinds: list[str], swept: tuple[tuple[str, list[int]], ...], command: str, bidirectional: bool
) -> None:
    fixed = ["--batch", "2"] + (["--bidirectional"] if bidirectional else [])
    # Typed in --help's order, the order the sweep varies them in (the last fastest).
    swept = tuple(sorted(swept, key=lambda item: list(FLAG_VALUES).index(item[0])))
    typed = [word for flag, values in swept for word in (flag, ",".join(map(str, values)))]
    documents = lines(command, ",".join(kinds), *typed, *fixed)
    singles = []
    for kind, *values in itertools.product(kinds, *(values for _, values in swept)):
        words = [word for (flag, _), value in zip(swept, values, strict=True) for word in (flag, str(value))]
        singles.append(single(command, kind, *words, *fixed))
    assert_same_documents(documents, singles)


def test_a_bad_combination_is_refused_before_any_run() -> None:
    # Only the last combination (gru with a projection) is bad: nothing may have run.
    result = run_cli("inspect", "lstm,gru", "--proj-size", "0,5", "-L", "3", "--json")
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr == "error: gru --proj-size 5: --proj-size applies to lstm only, not gru\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "lstm,gruu"], "KIND must be rnn, lstm or gru, got 'gruu' in 'lstm,gruu'"),
        (["inspect", "lstm", "-H", "8,abc"], "--hidden-size must be an integer, got 'abc' in '8,abc'"),
        (["verify", "lstm", "-H", "8,"], "--hidden-size must be an integer, got '' in '8,'"),
        (["compare", "--dropout", "0,x"], "--dropout must be a number, got 'x' in '0,x'"),
        (["inspect", "lstm", "-l", "1,1"], "--layers lists 1 twice in '1,1': each value runs once"),
        (
            ["inspect", "rnn", "-H", "8,0"],
            "--hidden-size 0: --hidden-size must be a positive integer, got 0",
        ),
        (
            ["bench", "lstm", "-H", "8,16"],
            "--hidden-size takes one value with bench, got 8,16 (comma lists sweep with inspect, "
            "verify and compare)",
        ),
        (["draw", "lstm,gru", "--json"], None),
    ],
)
def test_bad_sweeps_are_one_line_exit_2(args: list[str], message: str | None) -> None:
    result = run_cli(*args)
    assert (result.exit_code, result.stdout) == (2, "")
    if message is not None:
        assert result.stderr == f"error: {message}\n"


def test_a_refusal_that_names_the_swept_value_is_the_single_runs_line() -> None:
    swept = run_cli("verify", "rnn", "--device", "cpu,meta")
    alone = run_cli("verify", "rnn", "--device", "meta")
    assert (swept.exit_code, swept.stdout) == (2, "")
    assert swept.stderr == alone.stderr and swept.stderr.startswith("error: --device meta")


def test_lengths_stays_one_packed_batch() -> None:
    (document,) = lines("inspect", "lstm", "--lengths", "4,3,1")
    assert document["config"]["lengths"] == [4, 3, 1]


def test_the_exit_code_is_the_worst_run() -> None:
    kind = FLAGS_BY_NAME["kind"]
    combos = combinations([parse_axis(kind, "rnn,lstm,gru")])
    cases = prepare(combos, lambda c: make_spec(c.values["kind"], seq_len=3), check=lambda _: None)

    def run(spec: Any) -> Any:
        if spec.kind is Kind.lstm:
            raise RunFailed("the run failed on cpu: planted")
        return inspect(spec)

    outcomes = list(run_cases(cases, run, ok=lambda report: report.kind != "gru"))
    assert [outcome.exit_code for outcome in outcomes] == [0, 3, 1]
    assert outcomes[1].report is None and str(outcomes[1].error) == "the run failed on cpu: planted"
    assert worst_exit_code(outcomes) == ExitCode.RUN_FAILED
    assert worst_exit_code(outcomes[::2]) == ExitCode.CHECK_FAILED


def inspect_outcomes(axes_typed: dict[str, str]) -> list[Outcome[InspectReport]]:
    """A sweep of inspect run through the library as the CLI runs it: every combination of
    the typed values (keyed by LayerFlags field), each built by make_spec."""
    axes = [parse_axis(FLAGS_BY_NAME[name], text) for name, text in axes_typed.items()]

    def build(combination: Combination) -> tuple[Any, int]:
        values = dict(combination.values)
        seed = values.pop("seed", 0)
        values["num_layers"] = values.pop("layers", 1)
        return make_spec(values.pop("kind"), **values), seed

    cases = prepare(combinations(axes), build, check=lambda _: None)
    return list(run_cases(cases, lambda built: inspect(*built[:1], seed=built[1]), ok=lambda r: r.ok))


@settings(max_examples=10, deadline=None)
@given(
    names=st.lists(
        st.sampled_from(["input_size", "hidden_size", "layers", "seq_len", "batch", "seed", "dropout"]),
        min_size=1,
        max_size=7,
        unique=True,
    ),
    kinds=st.lists(st.sampled_from(["rnn", "lstm", "gru"]), min_size=1, max_size=3, unique=True),
)
def test_the_summary_fits_80_columns(names: list[str], kinds: list[str]) -> None:
    from rnnscope.render import inspect_sweep_view

    values = {"dropout": "0,0.25", "layers": "1,2", "seed": "0,18446744073709551615"}
    outcomes = inspect_outcomes({"kind": ",".join(kinds)} | {name: values.get(name, "1,3") for name in names})
    text = rendered(inspect_sweep_view(outcomes))
    assert max(map(len, text.splitlines())) <= 80
    # Every configuration has its row, its parameter count whole, as the JSON has it.
    rows = [line for line in text.splitlines() if line.rstrip().endswith("✓")]
    assert len(rows) == len(outcomes)
    for row, outcome in zip(rows, outcomes, strict=True):
        assert outcome.report is not None
        assert f" {outcome.report.to_dict()['total_params']:,} " in row


def test_a_sweep_summary_reads_as_a_table() -> None:
    result = run_cli("inspect", "lstm,gru", "-H", "64,128", "-l", "1,2")
    assert result.exit_code == 0
    header = result.stdout.splitlines()[1].split()
    assert header == ["kind", "H_cell", "layers", "params", "MACs", "weights", "for", "bwd", "ok"]
    assert "19,456" in result.stdout.splitlines()[3]  # nn.LSTM(10, 64): 4·64·(10 + 64 + 2)


def test_a_sweep_in_a_real_process_prints_json_lines() -> None:
    command = [sys.executable, "-m", "rnnscope", "inspect", "rnn,gru", "-H", "4,5", "-L", "2", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert (done.returncode, done.stderr) == (0, "")
    documents = [json.loads(line) for line in done.stdout.splitlines()]
    assert [d["module"] for d in documents] == ["RNN(10, 4)", "RNN(10, 5)", "GRU(10, 4)", "GRU(10, 5)"]


def test_the_compare_summary_keeps_one_block_per_configuration() -> None:
    from rnnscope.comparison import compare
    from rnnscope.render import compare_sweep_view

    axis = parse_axis(FLAGS_BY_NAME["hidden_size"], "8,16")
    cases = prepare(combinations([axis]), lambda c: c.values, check=lambda _: None)

    def run(combination: dict[str, int]) -> CompareReport:
        return compare({kind: make_spec(kind, hidden_size=combination["hidden_size"]) for kind in Kind})

    text = rendered(compare_sweep_view(list(run_cases(cases, run, ok=lambda _: True))))
    assert max(map(len, text.splitlines())) <= 80
    body = [line.split() for line in text.splitlines()[3:] if line.strip()][:6]
    assert [words[0] for words in body] == ["8", "gru", "lstm", "16", "gru", "lstm"]


def test_the_verify_summary_names_each_runs_worst_check() -> None:
    args = ("verify", "lstm", "--seed", "0,1,2", "-L", "5", "-l", "2", "--bidirectional")
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.rstrip().endswith("✓")]
    for row, document in zip(rows, lines(*args), strict=True):
        worst = max(document["checks"], key=lambda check: check["max_rel_error"])
        assert f" {worst['name']} " in row  # whole, brackets and all
