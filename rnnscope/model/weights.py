"""``model --weights FILE``: a checkpoint's tensors loaded into the user's model, never unpickled.

The file goes through load's static reader (any format and container ``load`` reads); the
container and the wrapper prefix (``module.`` from DataParallel, ``_orig_mod.`` from
torch.compile) are chosen by which make the file's keys fit the model's, and PyTorch's own
``load_state_dict(strict=True)`` has the last word. Where it refuses, each recurrent module
involved gets load's reading of the file's layer against the model's.
"""

from __future__ import annotations

from rnnscope.checkpoint.discovery import FoundLayer, weight_settings
from rnnscope.checkpoint.expectation import evidence
from rnnscope.checkpoint.reader import Checkpoint, Container, read_checkpoint
from rnnscope.errors import BadInput
from rnnscope.execution.runtime import torch
from rnnscope.model.capture import ModuleRecord
from rnnscope.model.report import WeightsLoaded
from rnnscope.report import Mismatch


def _candidates(keys: list[str]) -> list[str]:
    """Prefixes every key carries, shortest first: "" and each leading dotted part in common."""
    prefixes = [""]
    common = keys[0].split(".")[:-1] if keys else []
    for depth in range(1, len(common) + 1):
        prefix = ".".join(common[:depth]) + "."
        if all(key.startswith(prefix) for key in keys):
            prefixes.append(prefix)
    return prefixes


def choose(checkpoint: Checkpoint, wanted: set[str], prefix: str | None) -> tuple[Container, str]:
    """The container and prefix whose keys, stripped, fit the model's keys best.

    Raises:
        BadInput: --prefix that no container's keys all carry, or two choices that fit equally.
    """
    scored: list[tuple[int, Container, str]] = []
    for container in checkpoint.containers:
        keys = list(container.tensors)
        if not keys:
            continue
        options = _candidates(keys) if prefix is None else [_dotted(prefix)]
        for option in options:
            if not all(key.startswith(option) for key in keys):
                continue
            fit = sum(1 for key in keys if key.removeprefix(option) in wanted)
            scored.append((fit, container, option))
    if not scored:
        where = f"--prefix {prefix}: not every key of any state_dict in the file starts with it"
        raise BadInput(
            f"{checkpoint.path}: {where}" if prefix is not None else f"{checkpoint.path}: no tensors"
        )
    scored.sort(key=lambda item: -item[0])
    best = scored[0]
    ties = [item for item in scored if item[0] == best[0] and item[0] > 0]
    if len(ties) > 1:
        named = ", ".join(_named(container, option) for _, container, option in ties)
        raise BadInput(
            f"{checkpoint.path}: the keys fit the model equally as {named}; name one with --prefix"
        )
    return best[1], best[2]


def _dotted(prefix: str) -> str:
    return prefix if not prefix or prefix.endswith(".") else prefix + "."


def _named(container: Container, prefix: str) -> str:
    where = f"state_dict {container.path!r}" if container.path else "the file's state_dict"
    return f"{where} with prefix {prefix!r}" if prefix else where


def load_weights(
    model: torch.nn.Module, file: str, prefix: str | None, records: list[ModuleRecord], notes: list[str]
) -> WeightsLoaded:
    """Read the file statically, load its tensors into the model (strict), and report.

    Raises:
        BadInput: an unreadable or unsafe file, or a prefix that is not there.
    """
    checkpoint = read_checkpoint(file)
    wanted = set(model.state_dict())
    container, stripped = choose(checkpoint, wanted, prefix)
    tensors = {
        key.removeprefix(stripped): checkpoint.reader.read(info) for key, info in container.tensors.items()
    }
    if stripped and prefix is None:
        notes.append(
            f"--weights: every key carries the prefix {stripped!r}; it was stripped to fit the model"
        )
    if container.path:
        notes.append(f"--weights: the state_dict at {container.path!r} in the file was loaded")
    missing = sorted(wanted - set(tensors))
    unexpected = sorted(set(tensors) - wanted)
    try:
        model.load_state_dict(tensors, strict=True)
        error = None
    except RuntimeError as refused:
        error = str(refused)
    mismatches: list[Mismatch] = []
    if error is not None:
        layers = {layer.prefix: layer for layer in checkpoint.layers if layer.container == container.path}
        for record in records:
            layer = layers.get(stripped + record.path)
            if layer is not None:
                mismatches += _mismatches(layer, record)
    return WeightsLoaded(
        file=file,
        container=container.path,
        prefix=stripped,
        loaded=0 if error is not None else len(tensors),
        missing=missing,
        unexpected=unexpected,
        pytorch_error=error,
        mismatches=mismatches,
    )


def _mismatches(layer: FoundLayer, record: ModuleRecord) -> list[Mismatch]:
    """load's reading of the file's layer (hidden size, layers, direction, proj_size) against
    the model's module, setting by setting."""
    spec = layer.spec
    mine = {"kind": spec.kind.value, "cell": spec.cell, **weight_settings(spec, spec.cell)}
    model_spec = record.spec
    theirs = {
        "kind": model_spec.kind.value,
        "cell": model_spec.cell,
        **weight_settings(model_spec, model_spec.cell),
    }
    return [
        Mismatch(record.path, name, mine[name], theirs[name], evidence(layer, name))
        for name in mine
        if name in theirs and mine[name] != theirs[name]
    ]
