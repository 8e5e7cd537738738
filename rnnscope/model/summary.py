"""``rnnscope.run_model``: run a user's model once and report each recurrent module as it was called.

The model runs once, in ``eval()`` mode under ``torch.inference_mode()`` (``no_grad`` where this
torch's FlopCounterMode is blind to inference mode), seeded, with every
recurrent module hooked (``capture``) and the whole forward under torch's ``FlopCounterMode``
(oneDNN off, so that it sees an LSTM's matrix products). Every captured call is then recomputed
from its captured inputs with verify's reference equations in float64.
"""

from __future__ import annotations

import sys
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

from rnnscope.activity import check_thresholds
from rnnscope.checkpoint.loading import tensor_gate_stats
from rnnscope.errors import BadInput, bad_argument
from rnnscope.execution.reference import reference_forward
from rnnscope.execution.runtime import TORCH_DTYPES, notes_from_warnings, resolve_device, run_failures, torch
from rnnscope.inspection import parameter_rows, state_rows, tensor_rows
from rnnscope.layer.equations import gate_rows
from rnnscope.layer.spec import MODULE_SETTINGS
from rnnscope.layer.states import state_notes
from rnnscope.layer.validation import check_computes, check_run_options
from rnnscope.model.capture import VERIFY_CAP, ModuleRecord, Recorder, describe, qualified_name
from rnnscope.model.report import (
    CallFailure,
    CallsVerified,
    ModelReport,
    RecurrentModule,
    Signature,
    TreeRow,
)
from rnnscope.model.target import (
    build,
    describe_exception,
    moved,
    parse_input,
    resolve_target,
    synthetic_arguments,
)
from rnnscope.report import ModelActivity, ModuleActivity, StatRow, Tolerance
from rnnscope.verification import reference_checks, tolerance


@dataclass
class _Run:
    """What one forward left: the error it raised (if any) and torch's FLOP count."""

    error: BaseException | None = None
    flops: int | None = None
    mode: str = "torch.inference_mode()"
    notes: list[str] = field(default_factory=list)


def run_model(
    target: str,
    *,
    init: str | None = None,
    inputs: list[str] | None = None,
    weights: str | None = None,
    prefix: str | None = None,
    batch: int | None = None,
    gates: bool = False,
    stats: bool = False,
    layer: str | None = None,
    device: str = "cpu",
    dtype: str | None = None,
    seed: int = 0,
    cap: int = VERIFY_CAP,
    activity: tuple[float, float] | None = None,
) -> ModelReport:
    """Import TARGET, build the model and its inputs, run one forward hooked, and report.

    Args:
        target: ``package.module:NAME`` or ``path/to/file.py:NAME``.
        init: literal arguments for NAME (a class or function), e.g. ``"vocab=100, hidden=32"``.
        inputs: ``SHAPE[:DTYPE[:HIGH]]`` per synthetic positional argument.
        weights: a checkpoint whose tensors are loaded into the model (read statically).
        prefix: the wrapper prefix of the checkpoint's keys, where the choice is not clear.
        batch: the batch size the inputs carry: a call whose batch axis is not it is flagged.
        gates: add each module's gate blocks (which rows of each weight are which gate).
        stats: per-gate statistics of each recurrent module's weights.
        layer: a recurrent module's path, to show in full.
        device, dtype, seed: as elsewhere; dtype None leaves the model's own dtypes.
        cap: calls per module whose tensors are kept and verified.
        activity: (--low, --high): count every LSTM and GRU module's sigmoid gates over every
            call, as ``rnnscope activity`` counts one layer's.

    Raises:
        BadInput: bad flags, a target that cannot be imported or built (the user's error in one
            line), a TorchScript module, an unreadable or unsafe --weights file.
        RunFailed: a device or driver failure.
    """
    check_run_options(device, dtype or "float32", seed, computes=True)
    check_computes(device, "model")
    if batch is not None and batch < 1:
        raise bad_argument("batch", "--batch", f"must be a positive integer, got {batch}")
    if activity is not None:
        check_thresholds(*activity)
    specs = [parse_input(text) for text in inputs or []]
    torch_device = resolve_device(device)
    torch_dtype = TORCH_DTYPES[dtype] if dtype is not None else None
    notes: list[str] = []
    with notes_from_warnings(notes):
        found = resolve_target(target)
        torch.manual_seed(seed)
        network, given = build(found, target, None if init is None else init, specs, dtype)
        arguments = given if given is not None else synthetic_arguments(specs, dtype, target)
    recorder = Recorder(network, batch, cap, activity)
    records = list(recorder.records.values())
    if layer is not None and layer not in {record.path for record in records}:
        paths = ", ".join(repr(record.path) for record in records) or "none"
        raise BadInput(
            f"--layer {layer!r} is not a recurrent module of the model; its recurrent modules: {paths}"
        )
    loaded = None
    with run_failures(torch_device):
        network.to(device=torch_device, dtype=torch_dtype)
        if weights is not None:
            from rnnscope.model.weights import load_weights

            loaded = load_weights(network, weights, prefix, records, notes)
        network.eval()
        args, kwargs = moved(arguments, torch_device, torch_dtype)
        run = _Run() if loaded is not None and not loaded.ok else _forward(network, recorder, args, kwargs)
    notes += run.notes
    if loaded is not None and not loaded.ok:
        notes.append("the forward did not run: the weights did not load (PyTorch's message below)")
    layers = [_module_row(record, gates, layer is not None and record.path == layer) for record in records]
    failures = _failures(recorder, run.error)
    error_text = trace = None
    if run.error is not None and not failures:
        error_text = describe_exception(run.error)
    if run.error is not None:
        trace = "".join(traceback.format_exception(run.error))
    notes += _notes(records, seed, cap, run.mode)
    report_dtype = dtype or _dtype_name(network)
    known = [row.macs for row in layers if row.macs is not None]
    return ModelReport(
        target=target,
        model_class=qualified_name(type(network)),
        device=str(torch_device),
        dtype=report_dtype,
        seed=seed,
        total_params=sum(parameter.numel() for parameter in network.parameters()),
        recurrent_params=sum(row.total_params for row in layers),
        recurrent_macs=sum(known) if known or not layers else None,
        model_flops=run.flops,
        layers=layers,
        failures=failures,
        weights=loaded,
        stats=_stats(records) if stats else None,
        tree=module_tree(network, {record.path for record in records}),
        notes=notes,
        error=error_text,
        traceback=trace,
        shown_layer=layer,
        activity=None if activity is None else _activity(records, *activity, notes),
    )


def _activity(records: list[ModuleRecord], low: float, high: float, notes: list[str]) -> ModelActivity:
    """Each LSTM and GRU module's gate counts over the calls it made; a note for the others."""
    modules = []
    for record in records:
        counter = record.activity
        if counter is None:
            notes.append(f"{record.path}: --activity: {record.spec.torch_class_name} has no sigmoid gate")
        elif counter.calls:
            modules.append(
                ModuleActivity(
                    record.path, record.spec.kind.value, counter.calls, counter.pairs, counter.units()
                )
            )
    return ModelActivity(low, high, modules)


def _flop_counter() -> Any:
    """torch's FlopCounterMode, kept from importing torch._dynamo on its first operation.

    torch (2.5 on) wraps every dispatch mode's ``__torch_dispatch__`` in ``_disable_dynamo``,
    which imports torch._dynamo on first use: as long as ``import torch`` itself (measured here:
    3.2 s of CPU against torch's 3.0), for a forward that compiles nothing. The wrapper keeps
    what it would call on the function as ``__dynamo_disable``; set beforehand to the function
    itself, it calls it as it is. Where dynamo is already loaded (the model uses it) nothing is
    changed.
    """
    from torch.utils import flop_counter

    if "torch._dynamo" not in sys.modules:
        for mode in (flop_counter.FlopCounterMode, getattr(flop_counter, "_FlopCounterMode", None)):
            dispatch = getattr(mode, "__dict__", {}).get("__torch_dispatch__")
            raw = getattr(dispatch, "__wrapped__", None)
            if raw is not None:
                raw.__dynamo_disable = raw
    return flop_counter.FlopCounterMode(display=False)


def without_autograd() -> tuple[Any, str]:
    """``torch.inference_mode()``, or ``torch.no_grad()`` where FlopCounterMode sees nothing
    under inference mode (torch 2.4 counts 0 there), with the name of the one chosen."""
    counter = _flop_counter()
    with torch.inference_mode(), counter:
        torch.ones(1, 1) @ torch.ones(1, 1)
    if counter.get_total_flops() > 0:
        return torch.inference_mode(), "torch.inference_mode()"
    return torch.no_grad(), "torch.no_grad() (this torch's FlopCounterMode sees nothing under inference_mode)"


def _forward(network: torch.nn.Module, recorder: Recorder, args: Any, kwargs: Any) -> _Run:
    """The one forward: hooked, without autograd, under FlopCounterMode with oneDNN off."""
    run = _Run()
    counter = _flop_counter()
    no_autograd, run.mode = without_autograd()
    with notes_from_warnings(run.notes), recorder.hooked(), no_autograd:
        # Turning oneDNN off warns about Intel GPUs (torch 2.13): nothing to do with this run.
        warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
        try:
            with torch.backends.mkldnn.flags(enabled=False), counter:
                network(*args, **kwargs)
        except Exception as error:  # the user's forward: its error is a finding, reported
            run.error = error
    run.flops = int(counter.get_total_flops()) if run.error is None else None
    return run


def _failures(recorder: Recorder, error: BaseException | None) -> list[CallFailure]:
    """The recurrent call PyTorch refused, with what the pre-hook read of it."""
    record = recorder.failed
    if error is None or record is None or record.pending is None:
        return []
    found, _, given, state = record.pending
    return [
        CallFailure(
            path=record.path,
            constructor=record.spec.constructor,
            input=describe(given),
            state_in=describe(state),
            axis=found.axis,
            expected=None if found.expected is None else list(found.expected),
            explanation=found.explanation,
            pytorch_error=str(error).strip(),
        )
    ]


def _module_row(record: ModuleRecord, gates: bool, full: bool) -> RecurrentModule:
    spec = record.spec
    signatures = []
    for counted in record.signatures.values():
        first = counted.first
        tensors = tensor_rows(first.probe) if first is not None else []
        states = state_rows(first.probe) if first is not None else []
        signatures.append(
            Signature(
                counted.count,
                counted.value["input"],
                counted.value["state_in"],
                counted.value["output"],
                counted.value["state_out"],
                tensors,
                states,
                state_notes(first.probe.spec) if first is not None and full else [],
            )
        )
    macs_known = not record.own_forward or record.torch_calls > 0 or record.calls == 0
    return RecurrentModule(
        path=record.path,
        class_name=qualified_name(type(record.module)),
        kind=spec.kind.value,
        cell=spec.cell,
        config={name: value for name, value in spec.config().items() if name in MODULE_SETTINGS},
        constructor=spec.constructor,
        total_params=sum(parameter.numel() for parameter in record.module.parameters()),
        calls=record.calls,
        macs=record.macs if macs_known else None,
        signatures=signatures,
        verify=verify_calls(record),
        problems=record.problems,
        own_forward=record.own_forward,
        parameters=parameter_rows(spec, record.module),
        gates=gate_rows(spec) if gates else None,
        aliases=record.aliases,
    )


def verify_calls(record: ModuleRecord) -> CallsVerified | None:
    """Each kept call recomputed from its captured inputs with the reference equations (float64)
    and compared with what the module returned, with verify's tolerance."""
    if record.calls == 0:
        return None
    parameter = next(record.module.parameters())
    dtype_name = str(parameter.dtype).removeprefix("torch.")
    reason = None
    if not record.own_forward and record.torch_calls == 0:
        reason = "no call completed"
    if record.own_forward and record.torch_calls == 0:
        torch_forward = f"{record.spec.torch_class_name}.forward"
        reason = f"its own forward does not call torch's {torch_forward}: what it computes is not known"
    limit = tolerance(parameter.device.type, dtype_name) if dtype_name in TORCH_DTYPES else 0.0
    if dtype_name not in TORCH_DTYPES:
        reason = f"its parameters are {dtype_name}, which verify does not check"
    if reason is not None:
        return CallsVerified(0, record.calls, None, None, limit, [], reason)
    weights = {
        name: value.detach().to("cpu", torch.float64) for name, value in record.module.named_parameters()
    }
    worst_abs = worst_rel = 0.0
    failed = []
    for kept in record.kept:
        ran = kept.probe
        inputs = {name: tensor.to("cpu", torch.float64) for name, tensor in ran.inputs.items()}
        with torch.no_grad():
            reference = reference_forward(ran.spec, weights, inputs)
        checks = reference_checks(ran.spec, ran, reference, Tolerance(limit, limit))  # verify's default pair
        for check in checks:
            worst_abs = max(
                worst_abs, check.max_abs_error if check.max_abs_error is not None else float("inf")
            )
            worst_rel = max(
                worst_rel, check.max_rel_error if check.max_rel_error is not None else float("inf")
            )
        if not all(check.ok for check in checks):
            failed.append(kept.number)
    checked = len(record.kept)
    finite = worst_abs != float("inf")
    return CallsVerified(
        checked,
        record.torch_calls - checked,
        worst_abs if checked and finite else None,
        worst_rel if checked and finite else None,
        limit,
        failed,
    )


def _stats(records: list[ModuleRecord]) -> list[StatRow]:
    rows: list[StatRow] = []
    for record in records:
        tensors = {name: value.detach().cpu() for name, value in record.module.named_parameters()}
        rows += tensor_gate_stats(record.spec, tensors, record.path)
    return rows


def module_tree(network: torch.nn.Module, recurrent: set[str]) -> list[TreeRow]:
    """The modules on the way from the root to each recurrent one; every other branch of a
    module folded into one row that counts it."""
    rows = [TreeRow("", qualified_name(type(network)).rpartition(".")[2], 0, "" in recurrent)]

    def visit(module: torch.nn.Module, path: str, depth: int) -> None:
        folded: list[str] = []
        for name, child in module.named_children():
            child_path = f"{path}.{name}" if path else name
            if any(target == child_path or target.startswith(child_path + ".") for target in recurrent):
                rows.append(TreeRow(child_path, type(child).__name__, depth, child_path in recurrent))
                if child_path not in recurrent:
                    visit(child, child_path, depth + 1)
            else:
                folded += [type(sub).__name__ for sub in child.modules()]
        if folded:
            classes = sorted(set(folded), key=folded.index)
            rows.append(TreeRow(path, "", depth, False, len(folded), classes))

    if "" not in recurrent:
        visit(network, "", 1)
    return rows


def _notes(records: list[ModuleRecord], seed: int, cap: int, mode: str) -> list[str]:
    notes = [
        f"the model ran once in eval() mode under {mode}, seed {seed}: dropout "
        "is off; torch's FlopCounterMode counted the forward with oneDNN off (with it on, an "
        "LSTM's products are hidden from the count)"
    ]
    unchecked = [record for record in records if record.torch_calls > cap]
    for record in unchecked:
        notes.append(
            f"{record.path}: {record.torch_calls} calls; the first {cap} were verified and their "
            f"tensors kept, the other {record.torch_calls - cap} counted only"
        )
    for record in records:
        if record.own_forward and record.calls:
            inner = (
                f"its {record.torch_calls} call(s) of torch's forward were checked and counted"
                if record.torch_calls
                else "it never calls torch's forward, so its calls are shown but not checked"
            )
            notes.append(
                f"{record.path}: {qualified_name(type(record.module))} has its own forward; "
                f"the signatures show it as called, {inner}"
            )
        if record.calls == 0:
            notes.append(f"{record.path}: not called in this forward (0 calls)")
    return notes


def _dtype_name(network: torch.nn.Module) -> str:
    parameter = next(network.parameters(), None)
    return "float32" if parameter is None else str(parameter.dtype).removeprefix("torch.")
