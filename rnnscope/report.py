"""Reports: plain values only (no torch objects, no Rich markup), each with ``to_dict()``.

The JSON view is ``json.dumps(report.to_dict())``; the terminal views (rnnscope/render/) read the
same objects. No torch here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from math import prod
from typing import Any

from rnnscope.layer.cost import Cost, LayerParameters
from rnnscope.layer.direction import direction
from rnnscope.layer.equations import Equation, GateRow
from rnnscope.layer.gates import GateBlock, gate_blocks, gate_meaning
from rnnscope.layer.shapes import ParameterFormula
from rnnscope.layer.spec import LayerSpec, Shape
from rnnscope.layer.states import StateSlot

# A long run's progress callback: (steps done, steps in all, what the last step was).
ProgressCallback = Callable[[int, int, str], None]


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
class StateRow:
    """One row of h_n / c_n (its ``StateSlot``), and the check of its ``equals`` on the run.

    ``max_abs_diff`` is max |state − output[equals]|. ``tolerance`` is float noise for the
    dtype: one unit in the last place at the state's largest magnitude (CPU kernels give
    exactly 0). Both are None when nothing was checked: the state is not in the output
    (``slot.reason`` says why), or there were no values (meta device, forward skipped); ``ok``
    is then None. A check that could not be computed has a ``detail`` saying why and fails.
    """

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
        return asdict(self.slot) | {
            "max_abs_diff": self.max_abs_diff,
            "tolerance": self.tolerance,
            "detail": self.detail,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class LayerRun:
    """What ran, where and how: the fields every layer-building report starts with."""

    kind: str
    cell: bool
    module: str  # repr() of the torch module
    config: dict[str, Any]
    device: str
    dtype: str
    seed: int

    def run_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cell": self.cell,
            "module": self.module,
            "config": self.config,
            "device": self.device,
            "dtype": self.dtype,
            "seed": self.seed,
        }


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

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.run_dict(),
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
            "states": [row.to_dict() for row in self.states],
            "state_notes": self.state_notes,
            "notes": self.notes,
            "cost": self.cost.to_dict() if self.cost is not None else None,
            "ok": self.ok,
        } | ({} if self.gates is None else {"gates": [row.to_dict() for row in self.gates]})


@dataclass(frozen=True)
class CheckRow:
    """One compared tensor (or slice): the module's values against the float64 reference.

    ``max_rel_error`` is max |a − r| / max(|r|, 1): relative where the reference exceeds 1 in
    magnitude, absolute below, so values near zero do not blow it up. It is the number held
    against ``tolerance``. Both errors are None when they cannot be computed (a shape that
    differs, NaN or inf in the module's values); ``detail`` then says why.
    """

    name: str
    max_abs_error: float | None
    max_rel_error: float | None
    tolerance: float
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.max_rel_error is not None and self.max_rel_error <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "max_abs_error": self.max_abs_error,
            "max_rel_error": self.max_rel_error,
            "tolerance": self.tolerance,
            "ok": self.ok,
            "detail": self.detail,
        }


def worst_check(checks: list[CheckRow]) -> CheckRow | None:
    """The check with the largest error against its tolerance (failed ones first)."""
    if not checks:
        return None
    return max(checks, key=lambda check: (not check.ok, check.max_rel_error or 0.0))


@dataclass(frozen=True)
class VerifyReport(LayerRun):
    """Everything ``rnnscope verify`` shows, as plain values."""

    tolerance: float
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

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.run_dict(),
            "ok": self.ok,
            "tolerance": self.tolerance,
            "checks": [check.to_dict() for check in self.checks],
            "states": [row.to_dict() for row in self.states],
            "equations": [equation.to_dict() for equation in self.equations],
            "gates": [row.to_dict() for row in self.gates],
            "notes": self.notes,
        }


@dataclass(frozen=True)
class SmokeCase:
    """One configuration of the smoke matrix, run through inspect and verify.

    Three checks, each named as what it is: ``shapes_ok`` (inspect: every tensor and parameter
    shape and the parameter total equal their formulas), ``states`` (inspect: each row of the
    final state that sits in the output equals its slice of it) and ``checks`` (verify: the
    module against the textbook equations). ``error`` is the one-line reason the case failed (or
    what was raised), None when it passed; ``traceback`` is where it was raised.
    ``command`` reproduces it with ``rnnscope verify``.
    """

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
    def worst(self) -> CheckRow | None:
        return worst_check(self.checks)

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "name": self.name,
            "ok": self.ok,
            "error": self.error,
            "raised": self.raised,
            "traceback": self.traceback,
            "kind": self.kind,
            "command": self.command,
            "shapes_ok": self.shapes_ok,
            "states_ok": self.states_ok,
            "max_abs_error": worst.max_abs_error if worst else None,
            "max_rel_error": worst.max_rel_error if worst else None,
            "tolerance": worst.tolerance if worst else None,
            "failed_checks": [check.to_dict() for check in self.checks if not check.ok],
            "failed_states": [row.to_dict() for row in self.failed_states],
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class SmokeReport:
    """The smoke matrix on one device and dtype."""

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "device": self.device,
            "dtype": self.dtype,
            "quick": self.quick,
            "seed": self.seed,
            "passed": len(self.cases) - len(self.failed),
            "failed": len(self.failed),
            "seconds": self.seconds,
            "cases": [case.to_dict() for case in self.cases],
        }


@dataclass(frozen=True)
class ExportedTensor:
    """One W, R or B initialiser of an exported ONNX model against the layout's claim.

    ``blocks_equal`` counts the gate blocks (per direction) whose values equal PyTorch's rows
    exactly; ``shape`` is None when the node has no such initialiser.
    """

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "initializer": self.initializer,
            "shape": _listed(self.shape),
            "expected": list(self.expected),
            "blocks": self.blocks,
            "blocks_equal": self.blocks_equal,
            "max_abs_diff": self.max_abs_diff,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class ExportedAttribute:
    """One attribute of an exported recurrent node (or the node count) against the layout."""

    node: str
    name: str
    expected: str
    found: str

    @property
    def ok(self) -> bool:
        return self.expected == self.found

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "name": self.name,
            "expected": self.expected,
            "found": self.found,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class ExportedValue:
    """One input or output of the exported graph, by position, against PyTorch's name and the
    documented shape with L and N dynamic. ``name`` and ``dims`` are None where the graph has
    fewer values than expected; ``expected_name`` None where it has more."""

    role: str  # "input" or "output"
    name: str | None
    dims: tuple[int | str, ...] | None
    expected_name: str | None
    expected: tuple[int | str, ...] | None

    @property
    def ok(self) -> bool:
        return self.name == self.expected_name and self.dims == self.expected

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "name": self.name,
            "shape": None if self.dims is None else list(self.dims),
            "expected_name": self.expected_name,
            "expected": None if self.expected is None else list(self.expected),
            "ok": self.ok,
        }


@dataclass(frozen=True)
class ExportReport:
    """``--export``: the ONNX file torch wrote, read back, against the ONNX table.

    ``rebuild`` is the Python that rebuilds the exported layer and its input (also in the
    model's metadata, key ``rebuild``); None with weights from a file (``--from``).
    """

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "exporter": self.exporter,
            "opset": self.opset,
            "ok": self.ok,
            "inputs": [row.to_dict() for row in self.values if row.role == "input"],
            "outputs": [row.to_dict() for row in self.values if row.role == "output"],
            "attributes": [row.to_dict() for row in self.attributes],
            "tensors": [row.to_dict() for row in self.tensors],
            "rebuild": self.rebuild,
        }


@dataclass(frozen=True)
class WrittenArray:
    name: str
    shape: Shape
    dtype: str  # the .npy descr, e.g. "<f4"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class WriteReport:
    """``--write``: which arrays went into the .npz, for which framework's layer."""

    file: str
    framework: str
    variant: str
    arrays: list[WrittenArray]

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "framework": self.framework,
            "variant": self.variant,
            "arrays": [array.to_dict() for array in self.arrays],
        }


@dataclass(frozen=True)
class Block:
    """Rows ``start:stop`` of the PyTorch parameters named (summed when there are two)."""

    gate: str  # PyTorch's letter for these rows
    parameters: tuple[str, ...]
    start: int
    stop: int

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "from": list(self.parameters), "rows": [self.start, self.stop]}


@dataclass(frozen=True)
class FrameworkTensor:
    """One tensor in the other framework and how it is made from PyTorch's parameters.

    Each part is a run of blocks concatenated along the rows; with ``stacked`` the parts are
    stacked along a new first axis (ONNX's D, Keras GRU's bias pair), else there is one part.
    ``transposed``: the result is transposed (Keras keeps (in, out) matrices).
    """

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

    def source(self, gates_only: bool = False) -> str:
        """Where it comes from: ``weight_ih_l0[20:40, 0:20, 40:60].T`` (numpy-style row blocks,
        then transposed); ``stack(a, b)`` a new first axis, ``cat(a, b)`` rows joined, ``+`` a
        sum. ``gates_only`` names the blocks by PyTorch's gate letters: ``weight_ih_l0[z,r,n].T``."""
        parts = [_part_source(part, gates_only) for part in self.parts]
        text = f"stack({', '.join(parts)})" if self.stacked else parts[0]
        return text + (".T" if self.transposed else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layer": self.layer,
            "direction": self.direction,
            "shape": list(self.shape),
            "gate_order": self.gate_order,
            "source": self.source(),
            "source_gates": self.source(gates_only=True),
            "stacked": self.stacked,
            "transposed": self.transposed,
            "parts": [[block.to_dict() for block in part] for part in self.parts],
        }


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
class FrameworkLayout:
    """One framework's tensors for the layer, or why it cannot hold it."""

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
        return {
            "framework": self.framework,
            "variant": self.variant,
            "supported": self.supported,
            "total_params": self.total_params,
            "pytorch_params": self.pytorch_params,
            "difference": self.difference,
            "equivalent": self.equivalent if self.supported else None,
            "equivalence": self.equivalence if self.supported else None,
            "notes": self.notes,
            "naming": self.naming,
            "tensors": [tensor.to_dict() for tensor in self.tensors],
        }


@dataclass(frozen=True)
class LayoutReport:
    """Everything ``rnnscope layout`` shows: the layer's tensors in each framework."""

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "cell": self.cell,
            "module": self.module,
            "config": self.config,
            "pytorch_params": self.pytorch_params,
            "pytorch_gate_order": self.pytorch_gate_order,
            "pytorch_rows": self.pytorch_rows,
            "frameworks": [layout.to_dict() for layout in self.frameworks],
            "notes": self.notes,
            "export": None if self.export is None else self.export.to_dict(),
            "written": None if self.written is None else self.written.to_dict(),
            "source": self.source,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class LoadedLayer:
    """One recurrent layer found in a checkpoint, with the inspect tables of its parameters.

    ``config`` holds what the weights tell; ``batch_first``, ``dropout`` and (RNN)
    ``nonlinearity`` are None: no tensor records them.
    """

    container: str  # where its state_dict sits in the file; "" for the file itself
    prefix: str  # as the state_dict's keys have it; "" for none
    kind: str
    cell: bool
    config: dict[str, Any]
    dtype: str
    constructor: str
    parameters: list[ParameterRow]  # the file's shapes beside the formulas', named without the prefix
    layers: list[LayerParameters]
    total_params: int
    expected_total_params: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "prefix": self.prefix,
            "kind": self.kind,
            "cell": self.cell,
            "config": self.config,
            "dtype": self.dtype,
            "total_params": self.total_params,
            "expected_total_params": self.expected_total_params,
            "constructor": self.constructor,
            "parameters": [row.to_dict() for row in self.parameters],
            "layers": [row.to_dict() for row in self.layers],
        }


@dataclass(frozen=True)
class Mismatch:
    """A setting where the file's layer and the user's constructor differ, and the tensor that shows it."""

    prefix: str
    field: str
    file: Any
    expected: Any
    evidence: str  # e.g. "weight_hh_l0 (512, 128)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "field": self.field,
            "file": self.file,
            "expected": self.expected,
            "evidence": self.evidence,
        }


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
class StatRow:
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "layer": self.layer,
            "direction": self.direction,
            "tensor": self.tensor,
            "gate": self.gate,
            "mean": self.mean,
            "std": self.std,
            "min": self.min,
            "max": self.max,
        }


@dataclass(frozen=True)
class LoadReport:
    """Everything ``rnnscope load`` shows, as plain values."""

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
        document: dict[str, Any] = {
            "file": self.file,
            "format": self.format,
            "format_name": self.format_name,
            "tensors": self.tensor_count,
            "layers": [layer.to_dict() for layer in self.layers],
            "problems": self.problems,
            "notes": self.notes,
        }
        if self.expectation is not None:
            document |= {
                "expect": self.expectation.constructor,
                "expect_module": self.expectation.module,
                "expect_container": self.expectation.container,
                "expect_prefix": self.expectation.prefix,
                "mismatches": [row.to_dict() for row in self.expectation.mismatches],
                "pytorch_error": self.expectation.pytorch_error,
            }
        if self.stats is not None:
            document["stats"] = [row.to_dict() for row in self.stats]
        if self.verify is not None:
            document["verify"] = [{"prefix": prefix} | report.to_dict() for prefix, report in self.verify]
        return document | {"ok": self.ok}


# A unit is "mostly" right- (left-) saturated when its gate is above --high (below --low) in more
# than this fraction of its (step, sequence) pairs; left + right ≤ 1, so at most one holds.
MOSTLY = 0.5


@dataclass(frozen=True)
class UnitActivity:
    """One unit of one sigmoid gate: the fraction of (step, sequence) pairs with the gate below
    --low (``left``) and above --high (``right``). ``path``: the module's path in a model, else None."""

    path: str | None
    layer: int
    direction: str  # "forward" or "reverse"
    gate: str  # "i", "f", "o" (LSTM), "r", "z" (GRU)
    unit: int
    left: float
    right: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GateSaturation:
    """One gate of one layer and direction: how many units are mostly right-saturated, mostly
    left-saturated (more than MOSTLY of their pairs), and in between."""

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"between": self.between}


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
class ModuleActivity:
    """``model --activity``: one recurrent module's units over every call the forward made."""

    path: str
    kind: str
    calls: int  # the calls counted (a decoder cell's: its steps)
    pairs: int  # (step, sequence) pairs per unit over those calls
    units: list[UnitActivity]

    def gate_units(self) -> list[tuple[GateSaturation, list[UnitActivity]]]:
        return gates_with_units(self.kind, self.units)

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "calls": self.calls, "pairs": self.pairs}


@dataclass(frozen=True)
class ModelActivity:
    """``model --activity``: every LSTM and GRU module's gate saturation, unit by unit."""

    low: float
    high: float
    modules: list[ModuleActivity]
    mostly: float = MOSTLY

    def to_dict(self) -> dict[str, Any]:
        return {
            "low": self.low,
            "high": self.high,
            "mostly": self.mostly,
            "modules": [module.to_dict() for module in self.modules],
            "gates": [gate.to_dict() for module in self.modules for gate, _ in module.gate_units()],
            "units": [unit.to_dict() for module in self.modules for unit in module.units],
        }


@dataclass(frozen=True)
class ActivityReport(LayerRun):
    """What ``rnnscope activity`` counted: every unit of every sigmoid gate, layer and direction.

    ``steps`` and ``batch`` are the input's L and N (a cell: 1 step); ``pairs`` the (step,
    sequence) pairs each unit's fractions are over (with --lengths, the real steps only).
    ``source`` is the --from layer (file, format, container, prefix), ``input`` the
    --input-data file (file, format, shape, dtype); None where they were not given.
    """

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

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.run_dict(),
            "compute": self.compute,
            "low": self.low,
            "high": self.high,
            "mostly": self.mostly,
            "steps": self.steps,
            "batch": self.batch,
            "pairs": self.pairs,
            "forget_bias": self.forget_bias,
            "from": self.source,
            "input": self.input,
            "gates": [gate.to_dict() for gate in self.gates],
            "units": [unit.to_dict() for unit in self.units],
            "notes": self.notes,
        }
