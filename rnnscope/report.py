"""Reports: plain values only (no torch objects, no Rich markup), each with ``to_dict()``.

The JSON view is ``json.dumps(report.to_dict())``; the terminal view (render.py) reads the
same objects. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rnnscope.cost import Cost, LayerParameters
from rnnscope.gates import GateBlock
from rnnscope.spec import Shape


def _listed(shape: Shape | None) -> list[int] | None:
    return None if shape is None else list(shape)


@dataclass(frozen=True)
class TensorRow:
    """One tensor: its formula, the shape the formula gives, and the shape torch produced.

    ``shape`` and ``ok`` are None when the forward pass was skipped (meta device). ``values``
    carries small integer tensors (PackedSequence.batch_sizes and its indices).
    """

    name: str
    formula: str
    expected: Shape
    shape: Shape | None
    values: list[int] | None = None
    expected_values: list[int] | None = None

    @property
    def ok(self) -> bool | None:
        if self.shape is None:
            return None
        values_ok = self.expected_values is None or self.values == self.expected_values
        return self.shape == self.expected and values_ok

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "name": self.name,
            "formula": self.formula,
            "shape": _listed(self.shape),
            "expected": list(self.expected),
            "ok": self.ok,
        }
        if self.values is not None:
            row["values"] = self.values
        if self.expected_values is not None:
            row["expected_values"] = self.expected_values
        return row


@dataclass(frozen=True)
class ParameterRow:
    """One parameter in ``named_parameters()`` order, split into its gate blocks."""

    name: str
    layer: int
    direction: str
    role: str
    formula: str
    expected: Shape
    shape: Shape
    numel: int
    gates: list[GateBlock]

    @property
    def ok(self) -> bool:
        return self.shape == self.expected

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layer": self.layer,
            "direction": self.direction,
            "role": self.role,
            "formula": self.formula,
            "shape": list(self.shape),
            "expected": list(self.expected),
            "numel": self.numel,
            "ok": self.ok,
            "gates": [block.to_dict() for block in self.gates],
        }


@dataclass(frozen=True)
class InspectReport:
    """Everything ``rnnscope inspect`` shows, as plain values."""

    kind: str
    cell: bool
    module: str
    config: dict[str, Any]
    device: str
    dtype: str
    seed: int
    symbols: dict[str, int]
    tensors: list[TensorRow]
    parameters: list[ParameterRow]
    layers: list[LayerParameters]
    total_params: int
    expected_total_params: int
    rnn_params: int
    ratio_vs_rnn: float
    explanation: str
    forward: str  # "ran" or "skipped"
    notes: list[str] = field(default_factory=list)
    cost: Cost | None = None

    @property
    def ok(self) -> bool:
        """Every shape that was produced equals its formula, and the totals agree."""
        tensors_ok = all(row.ok is not False for row in self.tensors)
        parameters_ok = all(row.ok for row in self.parameters)
        return tensors_ok and parameters_ok and self.total_params == self.expected_total_params

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cell": self.cell,
            "module": self.module,
            "config": self.config,
            "device": self.device,
            "dtype": self.dtype,
            "seed": self.seed,
            "symbols": self.symbols,
            "forward": self.forward,
            "tensors": [row.to_dict() for row in self.tensors],
            "parameters": [row.to_dict() for row in self.parameters],
            "layers": [row.to_dict() for row in self.layers],
            "total_params": self.total_params,
            "expected_total_params": self.expected_total_params,
            "rnn_params": self.rnn_params,
            "ratio_vs_rnn": self.ratio_vs_rnn,
            "explanation": self.explanation,
            "notes": self.notes,
            "cost": self.cost.to_dict() if self.cost is not None else None,
            "ok": self.ok,
        }
