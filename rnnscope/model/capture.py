"""Hook every recurrent module of a model and record each call of one forward, exactly.

Each ``nn.RNNBase`` / ``nn.RNNCellBase`` (subclasses included) gets a forward pre-hook and a
forward hook. The pre-hook reads the call's shapes and, where they do not fit the documented
formulas, records why *before* PyTorch raises; the hook records what came out. A subclass whose
own ``forward`` replaces torch's (pytorch-forecasting's LSTM packs inside) is recorded twice
over: as called (the hooks), and at torch's own forward, which its forward reaches through
``super().forward``: that inner call is what it computed, so that is what is checked and counted.

Tensors are kept for the first ``cap`` calls of each module only (for the tables and the
verification); past that a call adds to its signature's count and its MACs, nothing more, so a
decoder that calls its cell 10,000 times runs in memory for one call plus the cap.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from rnnscope.activity import GateActivity
from rnnscope.execution.build import state_names
from rnnscope.execution.probe import Probe
from rnnscope.execution.runtime import torch
from rnnscope.layer import cost
from rnnscope.layer.gates import SIGMOID_GATES
from rnnscope.layer.shapes import format_shape
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.model.fit import CallShapes, Misfit, batch_axis_problem, call_layout, misfit

nn = torch.nn
PackedSequence: Any = torch.nn.utils.rnn.PackedSequence  # Any: mypy takes the NamedTuple for a generic

# torch's own classes: their forward is what the documented equations describe.
TORCH_CLASSES: tuple[type[nn.Module], ...] = (nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell, nn.GRUCell)
VERIFY_CAP = 64


def is_recurrent(module: nn.Module) -> bool:
    return isinstance(module, (nn.RNNBase, nn.RNNCellBase))


def torch_class(module: nn.Module) -> type[nn.Module] | None:
    """The torch class a recurrent module is (or derives from); None for an RNNBase of its own."""
    return next((cls for cls in TORCH_CLASSES if isinstance(module, cls)), None)


def module_spec(module: nn.Module) -> LayerSpec:
    """The module's settings as a LayerSpec (its L and N are the defaults until a call sets them)."""
    if isinstance(module, nn.RNNCellBase):
        kind = (
            Kind.lstm
            if isinstance(module, nn.LSTMCell)
            else Kind.gru
            if isinstance(module, nn.GRUCell)
            else Kind.rnn
        )
        nonlinearity = getattr(module, "nonlinearity", "tanh")
        return LayerSpec(
            kind,
            True,
            module.input_size,
            module.hidden_size,
            bias=bool(module.bias),
            nonlinearity=nonlinearity,
        )
    assert isinstance(module, nn.RNNBase)  # is_recurrent: an RNNBase or an RNNCellBase
    mode = str(module.mode)  # "LSTM", "GRU", "RNN_TANH" or "RNN_RELU"
    kind = {"LSTM": Kind.lstm, "GRU": Kind.gru}.get(mode, Kind.rnn)
    return LayerSpec(
        kind,
        False,
        int(module.input_size),
        int(module.hidden_size),
        num_layers=int(module.num_layers),
        bias=bool(module.bias),
        batch_first=bool(module.batch_first),
        dropout=float(module.dropout),
        bidirectional=bool(module.bidirectional),
        proj_size=int(getattr(module, "proj_size", 0)),
        nonlinearity="relu" if mode == "RNN_RELU" else "tanh",
    )


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def has_own_forward(module: nn.Module) -> bool:
    base = torch_class(module)
    return base is None or type(module).forward is not base.forward


def describe(value: Any, packed_sizes: bool = True) -> Any:
    """A call's argument or result as JSON shapes: [sizes], {"data", "batch_sizes"}, [h, c], None."""
    if value is None:
        return None
    if isinstance(value, PackedSequence):
        described: dict[str, Any] = {"data": list(value.data.shape)}
        if packed_sizes:
            described["batch_sizes"] = [int(size) for size in value.batch_sizes.tolist()]
        return described
    if isinstance(value, torch.Tensor):
        return list(value.shape)
    if isinstance(value, (tuple, list)):
        return [describe(item, packed_sizes) for item in value]
    if isinstance(value, dict):
        return {str(key): describe(item, packed_sizes) for key, item in value.items()}
    return type(value).__name__


def _arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    """(input, hx) of a recurrent forward: positionally, or by torch's keyword names."""
    given = args[0] if args else kwargs.get("input")
    state = args[1] if len(args) > 1 else kwargs.get("hx")
    return given, state


def _results(spec: LayerSpec, result: Any) -> tuple[Any, Any]:
    """(output, final state) of a forward's result; a cell returns only its state."""
    if spec.cell:
        return None, result
    if isinstance(result, tuple) and len(result) == 2:
        return result[0], result[1]
    return result, None


def _tensors(value: Any) -> list[torch.Tensor]:
    """The tensors of a result part: one tensor, a PackedSequence's data, a tuple of them."""
    if isinstance(value, PackedSequence):
        return [value.data]
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [item for item in value if isinstance(item, torch.Tensor)]
    return []


def _states(spec: LayerSpec, value: Any, step: str) -> dict[str, torch.Tensor] | None:
    if value is None:
        return None
    values = value if isinstance(value, (tuple, list)) else (value,)
    if not all(isinstance(item, torch.Tensor) for item in values):
        return None
    return dict(zip(state_names(spec, step), values, strict=False))


def packed_lengths(packed: PackedSequence) -> tuple[int, ...]:
    """Each sequence's length, in the caller's order: batch_sizes[t] counts the sequences
    longer than t (in sorted order), unsorted_indices puts them back."""
    sizes = packed.batch_sizes.tolist()
    in_sorted_order = [sum(1 for size in sizes if size > rank) for rank in range(sizes[0])]
    if packed.unsorted_indices is None:
        return tuple(in_sorted_order)
    return tuple(in_sorted_order[int(position)] for position in packed.unsorted_indices.tolist())


@dataclass
class KeptCall:
    """One torch-level call with its tensors, as ``probe`` would have run it."""

    number: int
    probe: Probe


@dataclass
class SignatureCount:
    value: dict[str, Any]
    count: int = 0
    first: KeptCall | None = None


@dataclass
class ModuleRecord:
    """Everything recorded of one recurrent module during the forward."""

    path: str
    module: nn.Module
    spec: LayerSpec
    own_forward: bool
    batch: int | None
    calls: int = 0
    torch_calls: int = 0
    macs: int = 0
    signatures: dict[str, SignatureCount] = field(default_factory=dict)
    kept: list[KeptCall] = field(default_factory=list)
    unkept: int = 0
    problems: list[str] = field(default_factory=list)
    pending: tuple[Misfit, CallShapes, Any, Any] | None = None
    outer: tuple[Any, Any] | None = None
    inner_kept: KeptCall | None = None  # an own-forward module's first torch-level call in this call
    aliases: list[str] = field(default_factory=list)  # the other names of a shared module
    activity: GateActivity | None = None  # model --activity: its gates counted over every call

    def add_problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)


class Recorder:
    """The hooks of one forward, and what they recorded, by module."""

    def __init__(
        self,
        model: nn.Module,
        batch: int | None,
        cap: int = VERIFY_CAP,
        activity: tuple[float, float] | None = None,
    ) -> None:
        """``activity``: (--low, --high) to count the sigmoid gates of every call (LSTM, GRU)."""
        self.cap = cap
        self.records: dict[int, ModuleRecord] = {}
        self.failed: ModuleRecord | None = None  # the call PyTorch was about to refuse
        for path, module in model.named_modules():
            if is_recurrent(module):
                spec = module_spec(module)
                made = ModuleRecord(path, module, spec, has_own_forward(module), batch)
                if activity is not None and SIGMOID_GATES[spec.kind.value]:
                    made.activity = GateActivity(spec, *activity, path=path)
                self.records[id(module)] = made
        for path, module in model.named_modules(remove_duplicate=False):
            record = self.records.get(id(module))
            if record is not None and path != record.path:
                record.aliases.append(path)

    @contextmanager
    def hooked(self) -> Iterator[None]:
        """Hooks on every recurrent module (and torch's forwards patched where a subclass has
        its own) for the duration of the block."""
        handles = []
        for record in self.records.values():
            handles.append(record.module.register_forward_pre_hook(self._before_outer, with_kwargs=True))
            handles.append(record.module.register_forward_hook(self._after_outer, with_kwargs=True))
        patched = {}
        if any(record.own_forward for record in self.records.values()):
            for cls in TORCH_CLASSES:
                patched[cls] = cls.forward
                cls.forward = self._inner_forward(cls.forward)
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()
            for cls, original in patched.items():
                cls.forward = original

    def _inner_forward(self, original: Any) -> Any:
        recorder = self

        def forward(module: nn.Module, *args: Any, **kwargs: Any) -> Any:
            record = recorder.records.get(id(module))
            if record is None or not record.own_forward:
                return original(module, *args, **kwargs)
            recorder._before_call(record, args, kwargs)
            result = original(module, *args, **kwargs)
            recorder._after_call(record, args, kwargs, result)
            return result

        return forward

    def _before_outer(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        record = self.records[id(module)]
        record.calls += 1
        record.outer = _arguments(args, kwargs)
        if not record.own_forward:
            self._before_call(record, args, kwargs)

    def _after_outer(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
    ) -> None:
        record = self.records[id(module)]
        if record.own_forward:
            given, state = record.outer or (None, None)
            output, final = _results(record.spec, result)
            self._count_signature(record, given, state, output, final, record.inner_kept)
            record.inner_kept = None
        else:
            self._after_call(record, args, kwargs, result)

    def _before_call(self, record: ModuleRecord, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Read the shapes; where they misfit, keep why, in case PyTorch refuses the call."""
        given, state = _arguments(args, kwargs)
        shapes = _call_shapes(record.spec, given, state)
        record.pending = None
        if shapes is None:
            return
        found = misfit(record.spec, shapes)
        if found is not None:
            record.pending = (found, shapes, given, state)
            self.failed = record

    def _after_call(
        self, record: ModuleRecord, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any
    ) -> None:
        accepted_misfit = record.pending[0] if record.pending is not None else None
        record.pending = None
        if self.failed is record:
            self.failed = None
        record.torch_calls += 1
        given, state = _arguments(args, kwargs)
        output, final = _results(record.spec, result)
        if accepted_misfit is not None:
            # PyTorch took a call its documentation does not allow (an RNNCell given unbatched
            # input and an (H, H) state broadcasts the two, torch 2.4 to 2.13): a finding.
            returned = [tuple(tensor.shape) for tensor in _tensors(output) + _tensors(final)]
            record.add_problem(
                f"PyTorch ran a call that does not fit its documented shapes and did not refuse it: "
                f"{accepted_misfit.explanation}; it returned {', '.join(map(format_shape, returned))} "
                "(the call is not verified and its cost not counted: no documented layer computes it)"
            )
        shapes = _call_shapes(record.spec, given, state)
        spec = None if accepted_misfit else self._call_spec(record, given, state, shapes)
        if spec is not None:
            record.macs += sum(row.macs for row in cost.layer_costs(spec))
            if record.activity is not None:
                _count_gates(record.activity, record.module, spec, given, state)
        kept = None
        returned_state = final is not None or spec is None or spec.cell
        if spec is not None and returned_state and len(record.kept) < self.cap:
            kept = KeptCall(record.torch_calls - 1, _probe(record, spec, given, state, output, final))
            record.kept.append(kept)
        else:
            record.unkept += 1
        if not record.own_forward:
            self._count_signature(record, given, state, output, final, kept)
        elif record.inner_kept is None:
            # The tables of an own-forward module come from the torch-level call inside it.
            record.inner_kept = kept

    def _call_spec(
        self, record: ModuleRecord, given: Any, state: Any, shapes: CallShapes | None
    ) -> LayerSpec | None:
        if shapes is None:
            return None
        layout = call_layout(record.spec, shapes)
        if layout is None:
            return None
        if record.batch is not None:
            problem = batch_axis_problem(record.spec, shapes, record.batch)
            if problem is not None:
                record.add_problem(problem)
        layout = replace(layout, initial_state=state is not None)
        if isinstance(given, PackedSequence):
            lengths = packed_lengths(given)
            layout = replace(
                layout, seq_len=max(lengths), lengths=lengths, enforce_sorted=given.sorted_indices is None
            )
        return layout

    def _count_signature(
        self, record: ModuleRecord, given: Any, state: Any, output: Any, final: Any, kept: KeptCall | None
    ) -> None:
        value = {
            "input": describe(given),
            "state_in": describe(state),
            "output": describe(output, packed_sizes=False),
            "state_out": describe(final),
        }
        key = json.dumps(value, sort_keys=True)
        signature = record.signatures.setdefault(key, SignatureCount(value))
        signature.count += 1
        if signature.first is None:
            signature.first = kept


def _count_gates(activity: GateActivity, module: nn.Module, spec: LayerSpec, given: Any, state: Any) -> None:
    """Add one call to the module's gate counts: a packed input padded, with its lengths."""
    x = given
    if isinstance(given, PackedSequence):
        x, _ = torch.nn.utils.rnn.pad_packed_sequence(given, batch_first=spec.batch_first)
    states = list((_states(spec, state, "0") or {}).values())
    hx = (states[0], states[1]) if len(states) == 2 else states[0] if states else None
    activity.add(dict(module.named_parameters()), x, hx, spec.lengths)


def _call_shapes(spec: LayerSpec, given: Any, state: Any) -> CallShapes | None:
    """The shapes of a call's input and states, or None for arguments that are not tensors."""
    states = None
    if state is not None:
        named = _states(spec, state, "0")
        if named is None:
            return None
        states = {name: tuple(tensor.shape) for name, tensor in named.items()}
    if isinstance(given, PackedSequence):
        return CallShapes(tuple(given.data.shape), states, int(given.batch_sizes[0]))
    if isinstance(given, torch.Tensor):
        return CallShapes(tuple(given.shape), states)
    return None


def _probe(record: ModuleRecord, spec: LayerSpec, given: Any, state: Any, output: Any, final: Any) -> Probe:
    """The call as ``probe`` would have made and run it: inputs in the caller's layout (a packed
    input padded back), outputs by probe's names. Tensors are copied: the model may change
    them in place after the call."""
    module = record.module
    parameter = next(module.parameters())
    inputs: dict[str, torch.Tensor] = {}
    packed_input = packed_output = None
    if isinstance(given, PackedSequence):
        packed_input = _copied_packed(given)
        padded, _ = torch.nn.utils.rnn.pad_packed_sequence(given, batch_first=spec.batch_first)
        inputs["input"] = padded.clone()
    else:
        inputs["input"] = given.detach().clone()
    inputs |= {name: tensor.detach().clone() for name, tensor in (_states(spec, state, "0") or {}).items()}
    outputs: dict[str, torch.Tensor] = {}
    if not spec.cell:
        if isinstance(output, PackedSequence):
            packed_output = _copied_packed(output)
            padded, _ = torch.nn.utils.rnn.pad_packed_sequence(output, batch_first=spec.batch_first)
            outputs["output_padded"] = padded
        else:
            outputs["output"] = output.detach().clone()
    step = "1" if spec.cell else "n"
    outputs |= {name: tensor.detach().clone() for name, tensor in (_states(spec, final, step) or {}).items()}
    return Probe(
        spec, parameter.device, parameter.dtype, module, inputs, outputs, packed_input, packed_output
    )


def _copied_packed(packed: PackedSequence) -> PackedSequence:
    return packed._replace(data=packed.data.detach().clone())
