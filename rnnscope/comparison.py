"""``rnnscope compare``: RNN, GRU and LSTM of the same sizes, from the closed forms. No torch here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rnnscope.layer.cost import forward_cost, ratio_vs_rnn, total_parameters
from rnnscope.layer.limits import check_torch_limits
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.plain import Plain

# The order of the rows: the baseline first, then by gate count.
KINDS = (Kind.rnn, Kind.gru, Kind.lstm)


@dataclass(frozen=True)
class CompareRow(Plain):
    omitted_when_none = ("padded_macs", "padding_waste")  # both only with --lengths
    kind: str
    total_params: int
    ratio_vs_rnn: float
    macs: int
    flops: int
    param_bytes: int
    activation_bytes: int  # an estimate: what a training step keeps for backward
    padded_macs: int | None = None  # with --lengths: the padded L × N rectangle's MACs
    padding_waste: float | None = None  # with --lengths: the fraction of those spent on padding


@dataclass(frozen=True)
class CompareReport(Plain):
    config: dict[str, Any]
    dtype: str
    rows: list[CompareRow]
    notes: list[str] = field(default_factory=list)


def compare(
    specs: dict[Kind, LayerSpec], dtype: str = "float32", notes: list[str] | None = None
) -> CompareReport:
    """One row per kind, in the order rnn, gru, lstm.

    Args:
        specs: one spec per kind, built from the same flags (``--proj-size`` only on the LSTM,
            ``--nonlinearity`` only on the RNN).
        dtype: sizes the memory columns.
        notes: what the caller wants said about how the flags were applied.

    Raises:
        BadInput: a layer no PyTorch can build or hold (its counts would describe nothing).
    """
    rows = []
    for kind in KINDS:
        spec = specs[kind]
        check_torch_limits(spec, dtype)
        estimate = forward_cost(spec, dtype)
        rows.append(
            CompareRow(
                kind=kind.value,
                total_params=total_parameters(spec),
                ratio_vs_rnn=ratio_vs_rnn(spec),
                macs=estimate.macs,
                flops=estimate.flops,
                param_bytes=estimate.param_bytes,
                activation_bytes=estimate.activation_bytes,
                padded_macs=estimate.padded_macs,
                padding_waste=estimate.padding_waste,
            )
        )
    config = {name: value for name, value in specs[Kind.lstm].config().items() if name != "kind"}
    config["nonlinearity"] = specs[Kind.rnn].nonlinearity
    return CompareReport(config=config, dtype=dtype, rows=rows, notes=list(notes or []))
