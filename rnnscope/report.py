"""Reports: plain values only (no torch objects, no Rich markup), each with ``to_dict()``.

The JSON view is ``json.dumps(report.to_dict())``; the terminal views (rnnscope/render/) read the
same objects. No torch here.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any

from rnnscope.layer.cost import Cost, LayerParameters
from rnnscope.layer.direction import direction
from rnnscope.layer.equations import Equation, GateRow
from rnnscope.layer.gates import GateBlock, gate_blocks, gate_meaning
from rnnscope.layer.shapes import ParameterFormula
from rnnscope.layer.spec import LayerSpec, Shape
from rnnscope.layer.states import StateSlot
from rnnscope.plain import Plain, plain

# A long run's progress callback: (steps done, steps in all, what the last step was).
ProgressCallback = Callable[[int, int, str], None]


def _listed(shape: Shape | None) -> list[int] | None:
    return None if shape is None else list(shape)


@dataclass(frozen=True)
class TensorRow(Plain):
    """One tensor: its formula, the shape the formula gives, and the shape torch produced.

    ``shape`` and ``ok`` are None when the forward pass was skipped (meta device). ``values``
    carries small integer tensors (PackedSequence.batch_sizes and its indices).
    """

    computed = ("ok",)
    omitted_when_none = ("values", "expected_values")  # packed index tensors only

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


@dataclass(frozen=True)
class ParameterRow(Plain):
    """One parameter in ``named_parameters()`` order, split into its gate blocks."""

    computed = ("ok",)

    name: str
    layer: int
    direction: str
    role: str
    formula: str
    expected: Shape
    shape: Shape
    numel: int
    gates: list[GateBlock]

    @classmethod
    def measured(
        cls, spec: LayerSpec, formula: ParameterFormula, name: str, shape: Shape, numel: int
    ) -> ParameterRow:
        """The row of one parameter: what the formula expects beside the ``name`` and ``shape``
        found (in the module, or in a file), split into the spec's gate blocks."""
        return cls(
            name=name,
            layer=formula.layer,
            direction=direction(formula.reverse),
            role=formula.role,
            formula=formula.formula,
            expected=formula.shape,
            shape=shape,
            numel=numel,
            gates=gate_blocks(spec.kind.value, formula.role, spec.hidden_size, spec.proj_size),
        )

    @property
    def ok(self) -> bool:
        return self.shape == self.expected


@dataclass(frozen=True)
class StateRow(Plain):
    """One row of h_n / c_n (its ``StateSlot``), and the check of its ``equals`` on the run.

    ``max_abs_diff`` is max |state − output[equals]|. ``tolerance`` is float noise for the
    dtype: one unit in the last place at the state's largest magnitude (CPU kernels give
    exactly 0). Both are None when nothing was checked: the state is not in the output
    (``slot.reason`` says why), or there were no values (meta device, forward skipped); ``ok``
    is then None. A check that could not be computed has a ``detail`` saying why and fails.
    """

    computed = ("ok",)
    internal = ("slot",)  # its fields, at the row's level

    slot: StateSlot
    max_abs_diff: float | None = None
    tolerance: float | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool | None:
        if self.tolerance is None:
            return None
        return self.max_abs_diff is not None and self.max_abs_diff <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        slot: dict[str, Any] = plain(self.slot)
        return slot | super().to_dict()


@dataclass(frozen=True)
class LayerRun(Plain):
    """What ran, where and how: the fields every layer-building report starts with."""

    kind: str
    cell: bool
    module: str  # repr() of the torch module
    config: dict[str, Any]
    device: str
    dtype: str
    seed: int


@dataclass(frozen=True)
class Verdict:
    """What failed in a run, computed once and worded by each reader (the views, smoke's case
    error): shapes that differ from their formulas, states unequal to their slice of the output,
    and checks out of tolerance. Passed when all three are empty."""

    differing: list[str] = field(default_factory=list)  # tensor and parameter names, "parameter total"
    unequal: list[str] = field(default_factory=list)  # state expressions, e.g. "h_n[1]"
    out_of_tolerance: list[CheckRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.differing or self.unequal or self.out_of_tolerance)


def _unequal_states(states: list[StateRow]) -> list[str]:
    """The states checked and found unequal to their slice (unchecked ones, None, pass)."""
    return [row.slot.state_expression for row in states if row.ok is False]


@dataclass(frozen=True)
class InspectReport(LayerRun):
    """Everything ``rnnscope inspect`` shows, as plain values."""

    computed = ("ok",)
    omitted_when_none = ("gates",)  # with --gates

    symbols: dict[str, int]
    tensors: list[TensorRow]
    parameters: list[ParameterRow]
    layers: list[LayerParameters]
    total_params: int
    expected_total_params: int
    rnn_params: int
    ratio_vs_rnn: float
    explanation: str
    states: list[StateRow]  # each row of h_n / c_n and the slice of output it equals
    state_notes: list[str]  # the states' layout in words
    forward: str  # "ran" or "skipped"
    notes: list[str] = field(default_factory=list)
    gates: list[GateRow] | None = None  # with inspect --gates: the gate-block split
    cost: Cost | None = None

    @property
    def verdict(self) -> Verdict:
        """Every shape that was produced equals its formula, the totals agree, and every state
        that was checked equals its slice of the output; else what does not."""
        differing = [row.name for row in self.tensors if row.ok is False]
        differing += [row.name for row in self.parameters if not row.ok]
        if self.total_params != self.expected_total_params:
            differing.append("parameter total")
        return Verdict(differing=differing, unequal=_unequal_states(self.states))

    @property
    def ok(self) -> bool:
        return self.verdict.ok


@dataclass(frozen=True)
class Tolerance(Plain):
    """What passes a check: every element within ``max(rtol·|r|, atol)`` of the reference r.

    The rule is ``math.isclose``'s (the larger of the two bounds), so that rtol = atol = t
    passes exactly what ``max |a − r| / max(|r|, 1) ≤ t`` passes: relative above 1, absolute
    below. (torch.testing and numpy add the two bounds instead.)
    """

    rtol: float
    atol: float

    def __str__(self) -> str:
        return f"rtol {self.rtol:g}, atol {self.atol:g}"


@dataclass(frozen=True)
class CheckRow(Plain):
    """One compared tensor (or slice): the module's values against the float64 reference.

    ``within`` is the verdict of ``tolerance`` on every element. ``max_rel_error`` is
    max |a − r| / max(|r|, 1): relative where the reference exceeds 1 in magnitude, absolute
    below, so values near zero do not blow it up; with rtol = atol it is the number the
    tolerance is held against. Both errors are None when they cannot be computed (a shape that
    differs, NaN or inf in the module's values); ``detail`` then says why and the check fails.
    """

    computed = ("ok",)
    internal = ("within",)  # ok is the verdict, with the errors it needs

    name: str
    max_abs_error: float | None
    max_rel_error: float | None
    tolerance: Tolerance
    within: bool = False
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.max_rel_error is not None and self.within


def worst_check(checks: list[CheckRow]) -> CheckRow | None:
    """The check with the largest error against its tolerance (failed ones first)."""
    if not checks:
        return None
    return max(checks, key=lambda check: (not check.ok, check.max_rel_error or 0.0))


@dataclass(frozen=True)
class VerifyReport(LayerRun):
    """Everything ``rnnscope verify`` shows, as plain values."""

    computed = ("ok",)

    tolerance: Tolerance
    checks: list[CheckRow]
    states: list[StateRow]  # each row of h_n / c_n and the slice of output it equals
    equations: list[Equation]
    gates: list[GateRow]
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        """Every check within tolerance, and every state in the output equal to its slice; else
        what is not."""
        failed = [check for check in self.checks if not check.ok]
        return Verdict(unequal=_unequal_states(self.states), out_of_tolerance=failed)

    @property
    def ok(self) -> bool:
        return self.verdict.ok


@dataclass(frozen=True)
class SmokeCase(Plain):
    """One configuration of the smoke matrix, run through inspect and verify.

    Three checks, each named as what it is: ``shapes_ok`` (inspect: every tensor and parameter
    shape and the parameter total equal their formulas), ``states`` (inspect: each row of the
    final state that sits in the output equals its slice of it) and ``checks`` (verify: the
    module against the textbook equations). ``error`` is the one-line reason the case failed (or
    what was raised), None when it passed; ``traceback`` is where it was raised.
    ``command`` reproduces it with ``rnnscope verify``.
    """

    computed = ("ok", "states_ok", "failed_checks", "failed_states")
    internal = ("states", "checks")  # the failed ones and the worst check's errors stand for them

    name: str
    kind: str
    command: str
    shapes_ok: bool | None  # None: inspect did not get to say (it raised)
    states: list[StateRow]
    checks: list[CheckRow]
    seconds: float
    error: str | None = None
    raised: bool = False  # the error was raised, not a check that failed
    traceback: str | None = None  # with ``raised``: the traceback, for --debug and JUnit

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def states_ok(self) -> bool | None:
        """Every checked state equals its slice; None when no state was checked."""
        checked = [row.ok for row in self.states if row.ok is not None]
        return all(checked) if checked else None

    @property
    def failed_states(self) -> list[StateRow]:
        return [row for row in self.states if row.ok is False]

    @property
    def failed_checks(self) -> list[CheckRow]:
        return [check for check in self.checks if not check.ok]

    @property
    def worst(self) -> CheckRow | None:
        return worst_check(self.checks)

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst  # the case's errors are its worst check's
        errors = {name: None if worst is None else plain(getattr(worst, name)) for name in _WORST}
        return super().to_dict() | errors


_WORST = ("max_abs_error", "max_rel_error", "tolerance")


@dataclass(frozen=True)
class SmokeReport(Plain):
    """The smoke matrix on one device and dtype."""

    computed = ("ok", "passed")

    device: str
    dtype: str
    quick: bool
    seed: int
    cases: list[SmokeCase]
    seconds: float

    @property
    def ok(self) -> bool:
        return all(case.ok for case in self.cases)

    @property
    def failed(self) -> list[SmokeCase]:
        return [case for case in self.cases if not case.ok]

    @property
    def passed(self) -> int:
        return len(self.cases) - len(self.failed)

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"failed": len(self.failed)}  # a count, where the property is the list


@dataclass(frozen=True)
class ExportedTensor(Plain):
    """One W, R or B initialiser of an exported ONNX model against the layout's claim.

    ``blocks_equal`` counts the gate blocks (per direction) whose values equal PyTorch's rows
    exactly; ``shape`` is None when the node has no such initialiser.
    """

    computed = ("ok",)

    name: str  # ours: layer0/W
    initializer: str | None  # the name torch's exporter gave it: onnx::LSTM_376
    shape: Shape | None
    expected: Shape
    blocks: int
    blocks_equal: int
    max_abs_diff: float | None

    @property
    def ok(self) -> bool:
        return self.shape == self.expected and self.blocks_equal == self.blocks


@dataclass(frozen=True)
class ExportedAttribute(Plain):
    """One attribute of an exported recurrent node (or the node count) against the layout."""

    computed = ("ok",)

    node: str
    name: str
    expected: str
    found: str

    @property
    def ok(self) -> bool:
        return self.expected == self.found


@dataclass(frozen=True)
class ExportedValue(Plain):
    """One input or output of the exported graph, by position, against PyTorch's name and the
    documented shape with L and N dynamic. ``name`` and ``dims`` are None where the graph has
    fewer values than expected; ``expected_name`` None where it has more."""

    computed = ("ok",)
    renamed = (("dims", "shape"),)

    role: str  # "input" or "output"
    name: str | None
    dims: tuple[int | str, ...] | None
    expected_name: str | None
    expected: tuple[int | str, ...] | None

    @property
    def ok(self) -> bool:
        return self.name == self.expected_name and self.dims == self.expected


@dataclass(frozen=True)
class ExportReport(Plain):
    """``--export``: the ONNX file torch wrote, read back, against the ONNX table.

    ``rebuild`` is the Python that rebuilds the exported layer and its input (also in the
    model's metadata, key ``rebuild``); None with weights from a file (``--from``).
    """

    computed = ("ok", "inputs", "outputs")
    internal = ("values",)  # as inputs and outputs

    file: str
    exporter: str
    opset: int
    attributes: list[ExportedAttribute]
    tensors: list[ExportedTensor]
    values: list[ExportedValue] = field(default_factory=list)
    rebuild: str | None = None

    @property
    def ok(self) -> bool:
        rows: list[ExportedAttribute | ExportedTensor | ExportedValue] = [
            *self.attributes,
            *self.tensors,
            *self.values,
        ]
        return all(row.ok for row in rows)

    @property
    def inputs(self) -> list[ExportedValue]:
        return [row for row in self.values if row.role == "input"]

    @property
    def outputs(self) -> list[ExportedValue]:
        return [row for row in self.values if row.role == "output"]


@dataclass(frozen=True)
class WrittenArray(Plain):
    name: str
    shape: Shape
    dtype: str  # the .npy descr, e.g. "<f4"


@dataclass(frozen=True)
class WriteReport(Plain):
    """``--write``: which arrays went into the .npz, for which framework's layer."""

    file: str
    framework: str
    variant: str
    arrays: list[WrittenArray]


@dataclass(frozen=True)
class Block(Plain):
    """Rows ``start:stop`` of the PyTorch parameters named (summed when there are two)."""

    computed = ("rows",)
    internal = ("start", "stop")  # as rows
    renamed = (("parameters", "from"),)

    gate: str  # PyTorch's letter for these rows
    parameters: tuple[str, ...]
    start: int
    stop: int

    @property
    def rows(self) -> tuple[int, int]:
        return self.start, self.stop


@dataclass(frozen=True)
class FrameworkTensor(Plain):
    """One tensor in the other framework and how it is made from PyTorch's parameters.

    Each part is a run of blocks concatenated along the rows; with ``stacked`` the parts are
    stacked along a new first axis (ONNX's D, Keras GRU's bias pair), else there is one part.
    ``transposed``: the result is transposed (Keras keeps (in, out) matrices).
    """

    computed = ("name", "source", "source_gates")
    internal = ("group", "leaf")  # as name

    group: str  # "layer0/forward_lstm/lstm_cell" or "layer0"
    leaf: str  # "kernel", "W"
    layer: int
    direction: str  # "forward", "reverse", or "both" (ONNX stacks D = 2 in one tensor)
    shape: Shape
    gate_order: str  # the framework's letters, "i|f|c|o"
    parts: tuple[tuple[Block, ...], ...]
    stacked: bool
    transposed: bool

    @property
    def name(self) -> str:
        return f"{self.group}/{self.leaf}"

    @property
    def numel(self) -> int:
        return prod(self.shape)

    @property
    def source(self) -> str:
        return self.source_text()

    @property
    def source_gates(self) -> str:
        return self.source_text(gates_only=True)

    def source_text(self, gates_only: bool = False) -> str:
        """Where it comes from: ``weight_ih_l0[20:40, 0:20, 40:60].T`` (numpy-style row blocks,
        then transposed); ``stack(a, b)`` a new first axis, ``cat(a, b)`` rows joined, ``+`` a
        sum. ``gates_only`` names the blocks by PyTorch's gate letters: ``weight_ih_l0[z,r,n].T``."""
        parts = [_part_source(part, gates_only) for part in self.parts]
        text = f"stack({', '.join(parts)})" if self.stacked else parts[0]
        return text + (".T" if self.transposed else "")


def _part_source(blocks: tuple[Block, ...], gates_only: bool) -> str:
    runs: list[list[Block]] = []
    for block in blocks:
        if runs and runs[-1][0].parameters == block.parameters:
            runs[-1].append(block)
        else:
            runs.append([block])
    texts = [_run_source(run, gates_only) for run in runs]
    return texts[0] if len(texts) == 1 else f"cat({', '.join(texts)})"


def _run_source(run: list[Block], gates_only: bool) -> str:
    """Blocks of the same parameters: ``name[a:b, c:d]``, or no index at all when the blocks are
    the whole parameter in PyTorch's own order."""
    names = run[0].parameters
    label = " + ".join(names)
    if [block.start for block in run] == sorted(block.start for block in run):
        return label  # every gate is in the run: in ascending order, that is all rows unchanged
    index = ",".join(b.gate for b in run) if gates_only else ", ".join(f"{b.start}:{b.stop}" for b in run)
    return f"({label})[{index}]" if len(names) > 1 else f"{label}[{index}]"


@dataclass(frozen=True)
class FrameworkLayout(Plain):
    """One framework's tensors for the layer, or why it cannot hold it."""

    computed = ("supported", "total_params", "difference", "naming")
    internal = ("kind", "cannot_hold")  # kind: the report's; cannot_hold: said in difference

    framework: str
    variant: str
    kind: str
    equivalent: bool
    equivalence: str
    pytorch_params: int
    tensors: list[FrameworkTensor]
    notes: list[str]
    cannot_hold: str | None = None

    @property
    def supported(self) -> bool:
        return self.cannot_hold is None

    @property
    def naming(self) -> str:
        """How its tensors are named, as a pattern over layers and directions."""
        if not self.tensors:
            return ""
        first = self.tensors[0].group.split("/")
        if first[0].startswith("layer"):
            first[0] = "layer{K}"
        if len(first) > 2 and first[1].startswith("forward_"):
            first[1] = "{forward,backward}_" + first[1].removeprefix("forward_")
        return "/".join([*first, "<tensor>"])

    @property
    def total_params(self) -> int | None:
        return sum(tensor.numel for tensor in self.tensors) if self.supported else None

    @property
    def difference(self) -> str:
        """The parameter count beside PyTorch's, and the reason for any difference, in one line."""
        if self.cannot_hold is not None:
            return self.cannot_hold
        total = self.total_params or 0
        fewer = self.pytorch_params - total
        if fewer == 0:
            return "same count: every PyTorch parameter is carried over, rearranged"
        return f"{fewer:,} fewer: one bias vector where PyTorch has two, bias_ih + bias_hh summed"

    def to_dict(self) -> dict[str, Any]:
        document = super().to_dict()
        if not self.supported:  # a layer the framework cannot hold has no equivalence to claim
            document |= {"equivalent": None, "equivalence": None}
        return document


@dataclass(frozen=True)
class LayoutReport(Plain):
    """Everything ``rnnscope layout`` shows: the layer's tensors in each framework."""

    computed = ("ok",)

    kind: str
    cell: bool
    module: str  # the PyTorch constructor, e.g. "LSTM(10, 20, num_layers=2)"
    config: dict[str, Any]
    pytorch_params: int
    pytorch_gate_order: str
    pytorch_rows: dict[str, list[int]]  # gate → [start, stop] rows in weight_ih, weight_hh, biases
    frameworks: list[FrameworkLayout]
    notes: list[str] = field(default_factory=list)
    export: ExportReport | None = None
    written: WriteReport | None = None
    source: dict[str, Any] | None = None  # with --from: {"file", "prefix"}

    @property
    def ok(self) -> bool:
        """False only when an --export read back differs from the table."""
        return self.export is None or self.export.ok


@dataclass(frozen=True)
class LoadedLayer(Plain):
    """One recurrent layer found in a checkpoint, with the inspect tables of its parameters.

    ``config`` holds what the weights tell; ``batch_first``, ``dropout`` and (RNN)
    ``nonlinearity`` are None: no tensor records them — unless the file pickles the module itself,
    whose attributes give them (named in ``from_module``).
    """

    container: str  # where its state_dict sits in the file; "" for the file itself
    prefix: str  # as the state_dict's keys have it; "" for none
    kind: str
    cell: bool
    config: dict[str, Any]
    dtype: str
    constructor: str
    from_module: list[str]  # config keys read from the pickled module's own attributes
    parameters: list[ParameterRow]  # the file's shapes beside the formulas', named without the prefix
    layers: list[LayerParameters]
    total_params: int
    expected_total_params: int


@dataclass(frozen=True)
class Mismatch(Plain):
    """A setting where the file's layer and the user's constructor differ, and the tensor that shows it."""

    prefix: str
    field: str
    file: Any
    expected: Any
    evidence: str  # e.g. "weight_hh_l0 (512, 128)"


@dataclass(frozen=True)
class Expectation:
    """``load --expect``: the user's constructor against one layer of the file."""

    constructor: str  # as the user wrote it
    module: str  # repr() of what PyTorch built from it (on meta)
    container: str
    prefix: str
    mismatches: list[Mismatch]
    pytorch_error: str | None  # load_state_dict's message for that pair, None when it loads

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.pytorch_error is None


@dataclass(frozen=True)
class StatRow(Plain):
    """Summary statistics of one gate block of one tensor (``bias`` is b_ih + b_hh)."""

    prefix: str
    layer: int
    direction: str
    tensor: str  # weight_ih, weight_hh or bias
    gate: str
    mean: float | None  # None where the block holds NaN or inf
    std: float | None
    min: float | None
    max: float | None


@dataclass(frozen=True)
class LoadReport(Plain):
    """Everything ``rnnscope load`` shows, as plain values."""

    internal = ("expectation", "verify")  # with --expect and --run: added below, shaped for scripts
    omitted_when_none = ("stats",)  # with --stats
    renamed = (("tensor_count", "tensors"),)

    file: str
    format: str  # zip, torchscript, legacy or safetensors
    format_name: str  # in words
    tensor_count: int
    layers: list[LoadedLayer]
    problems: list[dict[str, Any]]  # discovery.Problem.to_dict()
    notes: list[str]
    expectation: Expectation | None = None
    stats: list[StatRow] | None = None
    verify: list[tuple[str, VerifyReport]] | None = None  # (prefix, its report)

    @property
    def ok(self) -> bool:
        """No problem in the file and every asked check passed. (A layer is found only when every
        tensor has the shape its formulas give: one that does not is a problem.)"""
        checks = [not self.problems]
        if self.expectation is not None:
            checks.append(self.expectation.ok)
        if self.verify is not None:
            checks.append(all(report.ok for _prefix, report in self.verify))
        return all(checks)

    def to_dict(self) -> dict[str, Any]:
        document = super().to_dict()
        if self.expectation is not None:  # --expect: its findings at the document's level
            document |= {
                "expect": self.expectation.constructor,
                "expect_module": self.expectation.module,
                "expect_container": self.expectation.container,
                "expect_prefix": self.expectation.prefix,
                "mismatches": plain(self.expectation.mismatches),
                "pytorch_error": self.expectation.pytorch_error,
            }
        if self.verify is not None:  # --run: each layer's verify document, with its prefix
            document["verify"] = [{"prefix": prefix} | report.to_dict() for prefix, report in self.verify]
        return document | {"ok": self.ok}


# A unit is "mostly" right- (left-) saturated when its gate is above --high (below --low) in more
# than this fraction of its (step, sequence) pairs; left + right ≤ 1, so at most one holds.
MOSTLY = 0.5


@dataclass(frozen=True)
class UnitActivity(Plain):
    """One unit of one sigmoid gate: the fraction of (step, sequence) pairs with the gate below
    --low (``left``) and above --high (``right``). ``path``: the module's path in a model, else None."""

    path: str | None
    layer: int
    direction: str  # "forward" or "reverse"
    gate: str  # "i", "f", "o" (LSTM), "r", "z" (GRU)
    unit: int
    left: float
    right: float


@dataclass(frozen=True)
class GateSaturation(Plain):
    """One gate of one layer and direction: how many units are mostly right-saturated, mostly
    left-saturated (more than MOSTLY of their pairs), and in between."""

    computed = ("between",)

    path: str | None
    layer: int
    direction: str
    gate: str
    meaning: str
    units: int
    mostly_right: int
    mostly_left: int

    @property
    def between(self) -> int:
        return self.units - self.mostly_right - self.mostly_left


def gate_saturation(kind: str, units: list[UnitActivity]) -> list[GateSaturation]:
    """The units grouped by (path, layer, direction, gate), in the order they come."""
    groups: dict[tuple[str | None, int, str, str], list[UnitActivity]] = {}
    for unit in units:
        groups.setdefault((unit.path, unit.layer, unit.direction, unit.gate), []).append(unit)
    return [
        GateSaturation(
            path=path,
            layer=layer,
            direction=direction,
            gate=gate,
            meaning=gate_meaning(kind, gate),
            units=len(members),
            mostly_right=sum(1 for unit in members if unit.right > MOSTLY),
            mostly_left=sum(1 for unit in members if unit.left > MOSTLY),
        )
        for (path, layer, direction, gate), members in groups.items()
    ]


def gates_with_units(kind: str, units: list[UnitActivity]) -> list[tuple[GateSaturation, list[UnitActivity]]]:
    """Each gate of each layer and direction with its units, in the order they come."""
    grouped: dict[tuple[str | None, int, str, str], list[UnitActivity]] = {}
    for unit in units:
        grouped.setdefault((unit.path, unit.layer, unit.direction, unit.gate), []).append(unit)
    return [
        (gate, grouped[(gate.path, gate.layer, gate.direction, gate.gate)])
        for gate in gate_saturation(kind, units)
    ]


@dataclass(frozen=True)
class ModuleActivity(Plain):
    """``model --activity``: one recurrent module's units over every call the forward made."""

    internal = ("units",)  # the model's activity lists every module's units together

    path: str
    kind: str
    calls: int  # the calls counted (a decoder cell's: its steps)
    pairs: int  # (step, sequence) pairs per unit over those calls
    units: list[UnitActivity]

    def gate_units(self) -> list[tuple[GateSaturation, list[UnitActivity]]]:
        return gates_with_units(self.kind, self.units)


@dataclass(frozen=True)
class ModelActivity(Plain):
    """``model --activity``: every LSTM and GRU module's gate saturation, unit by unit."""

    computed = ("gates", "units")

    low: float
    high: float
    modules: list[ModuleActivity]
    mostly: float = MOSTLY

    @property
    def gates(self) -> list[GateSaturation]:
        return [gate for module in self.modules for gate, _ in module.gate_units()]

    @property
    def units(self) -> list[UnitActivity]:
        return [unit for module in self.modules for unit in module.units]


@dataclass(frozen=True)
class ActivityReport(LayerRun):
    """What ``rnnscope activity`` counted: every unit of every sigmoid gate, layer and direction.

    ``steps`` and ``batch`` are the input's L and N (a cell: 1 step); ``pairs`` the (step,
    sequence) pairs each unit's fractions are over (with --lengths, the real steps only).
    ``source`` is the --from layer (file, format, container, prefix), ``input`` the
    --input-data file (file, format, shape, dtype); None where they were not given.
    """

    computed = ("gates",)
    renamed = (("source", "from"),)

    compute: str  # where and in what dtype the gates were recomputed, e.g. "float64 on cpu"
    low: float
    high: float
    steps: int
    batch: int
    pairs: int
    forget_bias: float | None
    source: dict[str, Any] | None
    input: dict[str, Any] | None
    units: list[UnitActivity]
    notes: list[str] = field(default_factory=list)
    mostly: float = MOSTLY

    @property
    def gates(self) -> list[GateSaturation]:
        return gate_saturation(self.kind, self.units)

    def gate_units(self) -> list[tuple[GateSaturation, list[UnitActivity]]]:
        return gates_with_units(self.kind, self.units)


# The memory horizon counts the steps back from T over which the norm stays at or above this
# fraction of its value at t = T.
HORIZON_FRACTION = 1e-3


@dataclass(frozen=True)
class GradientRow(Plain):
    """One layer's gradient norms over t, and the horizon they give.

    ``norms[t]`` is None where the gradient was not finite (it overflowed in a narrow dtype).
    ``forget_bias`` is what was added to the LSTM forget gate, None for RNN and GRU.
    """

    computed = ("horizon", "reaches_start", "zeros")

    kind: str
    module: str
    config: dict[str, Any]
    forget_bias: float | None
    norms: list[float | None]

    @property
    def horizon(self) -> int:
        return horizon(self.norms)

    @property
    def reaches_start(self) -> bool:
        """True when the norm stays above the threshold all the way back to t = 0."""
        return self.horizon == len(self.norms) - 1

    @property
    def zeros(self) -> int:
        """Steps whose gradient is exactly zero: it underflowed in the run's dtype."""
        return sum(1 for value in self.norms if value == 0.0)

    @property
    def label(self) -> str:
        return row_label(self.kind, self.forget_bias)

    def to_dict(self) -> dict[str, Any]:
        # Each norm with its step, so that a script need not count.
        norms = [{"t": t, "grad_norm": value} for t, value in enumerate(self.norms)]
        return super().to_dict() | {"norms": norms}


@dataclass(frozen=True)
class GradientsReport(Plain):
    """What ``rnnscope gradients`` measured: one row per kind (and per LSTM forget bias)."""

    steps: int
    batch: int  # N, 1 for --unbatched: the norm is the root mean square over these sequences
    device: str
    dtype: str
    seed: int
    smallest_positive: float  # the dtype's smallest positive (subnormal) number
    target: str
    rows: list[GradientRow]
    notes: list[str] = field(default_factory=list)
    horizon_fraction: float = HORIZON_FRACTION


def row_label(kind: str, forget_bias: float | None) -> str:
    """``rnn``, or ``lstm fb=3`` for an LSTM row with its forget bias."""
    return kind if forget_bias is None else f"{kind} fb={forget_bias:g}"


def horizon(norms: Sequence[float | None]) -> int:
    """How many steps back from T = len(norms) − 1 the norm stays at or above
    ``HORIZON_FRACTION`` of its value at T: the largest k with norms[t] ≥ fraction · norms[T]
    for every t in T − k … T. 0 when the norm at T is zero or not finite."""
    last = norms[-1]
    if last is None or last == 0.0:
        return 0
    threshold = HORIZON_FRACTION * last
    steps_back = 0
    for value in reversed(norms[:-1]):
        if value is None or value < threshold:
            break
        steps_back += 1
    return steps_back


@dataclass(frozen=True)
class Timing(Plain):
    """Seconds per pass over the timed iterations: median and spread."""

    median_s: float
    min_s: float
    max_s: float
    q1_s: float
    q3_s: float

    @property
    def wide(self) -> bool:
        """The passes took very different times: the slowest over twice the median, or the
        middle half of them spread over more than half the median."""
        return self.max_s > 2 * self.median_s or self.q3_s - self.q1_s > 0.5 * self.median_s

    @classmethod
    def of(cls, seconds: list[float]) -> Timing:
        median = statistics.median(seconds)
        q1, _, q3 = statistics.quantiles(seconds, n=4) if len(seconds) > 1 else (median, median, median)
        return cls(median, min(seconds), max(seconds), q1, q3)


@dataclass(frozen=True)
class BenchReport(Plain):
    """What ``rnnscope bench`` measured, as plain values."""

    computed = ("tokens_per_s", "gflops", "matmul_gflops", "fraction_of_matmul", "wide_spread")
    internal = ("timing", "matmul_timing")  # flattened below: median_s, …, matmul_median_s, …

    kind: str
    module: str
    config: dict[str, Any]
    device: str
    dtype: str
    backward: bool
    cudnn: bool
    iters: int
    warmup: int
    timing: Timing
    tokens_per_pass: int
    flops_per_pass: int  # from the cost model; backward counted as twice the forward products
    matmul_shape: tuple[int, int, int]  # (m, k, n) of (m, k) @ (k, n)
    matmul_timing: Timing
    threads: int  # torch's intra-op threads during the timing
    cores: int | None  # os.cpu_count()
    notes: list[str] = field(default_factory=list)

    @property
    def wide_spread(self) -> bool:
        return self.timing.wide

    @property
    def tokens_per_s(self) -> float:
        return self.tokens_per_pass / self.timing.median_s

    @property
    def gflops(self) -> float:
        return self.flops_per_pass / self.timing.median_s / 1e9

    @property
    def matmul_gflops(self) -> float:
        m, k, n = self.matmul_shape
        return 2 * m * k * n / self.matmul_timing.median_s / 1e9

    @property
    def fraction_of_matmul(self) -> float:
        return self.gflops / self.matmul_gflops

    def to_dict(self) -> dict[str, Any]:
        matmul = {f"matmul_{name}": value for name, value in self.matmul_timing.to_dict().items()}
        return super().to_dict() | self.timing.to_dict() | matmul
