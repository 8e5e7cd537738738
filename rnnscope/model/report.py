"""The model report: plain values only (no torch), each part with ``to_dict()``.

Shapes in signatures are JSON values already: a list of ints, ``{"data": [...], "batch_sizes":
[...]}`` for a PackedSequence, ``[h, c]`` for an LSTM's state pair, None where nothing was passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rnnscope.layer.equations import GateRow
from rnnscope.plain import Plain
from rnnscope.report import Mismatch, ModelActivity, ParameterRow, StateRow, StatRow, TensorRow

ShapeValue = Any  # list[int] | {"data": ..., "batch_sizes": ...} | [h, c] | None


@dataclass(frozen=True)
class Signature(Plain):
    """Calls of one module with the same shapes in and out, and the tables of the first of them.

    ``tensors`` and ``states`` are inspect's rows for that first call (documented formula,
    expected shape from the module's config and the call's L and N, actual shape; which slice
    of output equals each row of h_n); empty where the call's torch-level arguments are not
    known (a subclass whose own forward does not call torch's).
    """

    computed = ("ok",)

    count: int
    input: ShapeValue
    state_in: ShapeValue
    output: ShapeValue
    state_out: ShapeValue
    tensors: list[TensorRow] = field(default_factory=list)
    states: list[StateRow] = field(default_factory=list)
    state_notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        shapes_ok = all(row.ok is not False for row in self.tensors)
        return shapes_ok and all(row.ok is not False for row in self.states)


@dataclass(frozen=True)
class CallsVerified(Plain):
    """The captured calls of one module recomputed with the reference equations (float64)."""

    computed = ("ok",)

    calls_checked: int
    calls_unchecked: int  # past the cap: counted, their tensors not kept
    max_abs_error: float | None
    max_rel_error: float | None
    tolerance: float
    failed_calls: list[int]  # 0-based call numbers whose check failed
    reason: str | None = None  # why nothing could be checked, where that is so

    @property
    def ok(self) -> bool | None:
        if self.calls_checked == 0:
            return None
        return not self.failed_calls


@dataclass(frozen=True)
class RecurrentModule(Plain):
    """One recurrent module of the model, as the model's forward called it."""

    computed = ("ok",)
    renamed = (("class_name", "class"),)

    path: str
    class_name: str  # qualified, so that a subclass shows
    kind: str
    cell: bool
    config: dict[str, Any]
    constructor: str
    total_params: int
    calls: int
    macs: int | None  # None where the steps that ran cannot be known
    signatures: list[Signature]
    verify: CallsVerified | None
    problems: list[str]
    own_forward: bool  # a subclass whose forward replaces torch's
    parameters: list[ParameterRow]
    gates: list[GateRow] | None = None  # --gates: which rows of each weight are which gate
    aliases: list[str] = field(default_factory=list)  # other names of the same module (shared)

    @property
    def ok(self) -> bool:
        verified = self.verify is None or self.verify.ok is not False
        return not self.problems and verified and all(signature.ok for signature in self.signatures)


@dataclass(frozen=True)
class CallFailure(Plain):
    """A recurrent call whose input or state did not fit its documented shape."""

    path: str
    constructor: str
    input: ShapeValue
    state_in: ShapeValue
    axis: str
    expected: list[int] | None
    explanation: str
    pytorch_error: str | None


@dataclass(frozen=True)
class WeightsLoaded(Plain):
    """``--weights``: what was loaded into the model, and what did not fit."""

    file: str
    container: str
    prefix: str
    loaded: int
    missing: list[str]
    unexpected: list[str]
    pytorch_error: str | None
    mismatches: list[Mismatch]

    @property
    def ok(self) -> bool:
        return self.pytorch_error is None


@dataclass(frozen=True)
class TreeRow(Plain):
    """One line of the module tree: a module on the way to a recurrent one, or a fold."""

    renamed = (("class_name", "class"),)

    path: str
    class_name: str
    depth: int
    recurrent: bool
    folded: int = 0  # for a fold: how many modules it stands for
    folded_classes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ModelReport(Plain):
    computed = ("ok",)
    target: str
    model_class: str
    device: str
    dtype: str
    seed: int
    total_params: int
    recurrent_params: int
    recurrent_macs: int | None
    model_flops: int | None
    layers: list[RecurrentModule]
    failures: list[CallFailure]
    weights: WeightsLoaded | None
    stats: list[StatRow] | None
    tree: list[TreeRow]
    notes: list[str]
    error: str | None = None  # an exception elsewhere in the forward: type, message, file:line
    traceback: str | None = None  # the forward's exception, whole (``--traceback``)
    shown_layer: str | None = None  # --layer PATH
    activity: ModelActivity | None = None  # --activity

    @property
    def ok(self) -> bool:
        weights_ok = self.weights is None or self.weights.ok
        return (
            self.error is None and not self.failures and weights_ok and all(layer.ok for layer in self.layers)
        )
