"""Golden terminal output: the layout users read, at 80 columns, without colour."""

from __future__ import annotations

import re

import pytest

from rnnscope import Kind, inspect, make_spec
from rnnscope.render import inspect_view
from tests.helpers import GOLDEN, Golden, rendered

CASES = {
    "inspect_rnn_layers2": make_spec(Kind.rnn, num_layers=2),
    "inspect_lstm_layers2": make_spec(Kind.lstm, num_layers=2),
    "inspect_lstm_layers2_bidirectional": make_spec(Kind.lstm, num_layers=2, bidirectional=True),
    "inspect_gru_packed": make_spec(Kind.gru, lengths=(4, 2, 3), seq_len=5, bidirectional=True),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str, golden: Golden) -> None:
    golden(name, rendered(inspect_view(inspect(CASES[name]))))


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_invariants(name: str) -> None:
    """Every line fits 80 columns, and the parameter rows add up to the printed total."""
    output = (GOLDEN / f"{name}.out").read_text()
    assert max(len(line) for line in output.splitlines()) <= 80
    numels = [
        int(match.group(1).replace(",", ""))
        for match in re.finditer(
            r"^(?:weight|bias)_\w+ +\d+ (?:fwd|rev) +\([\d, ]+\) +([\d,]+) ", output, re.M
        )
    ]
    total = re.search(r"^total: ([\d,]+) parameters", output, re.M)
    assert total is not None and numels
    assert sum(numels) == int(total.group(1).replace(",", ""))
