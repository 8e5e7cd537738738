"""``model --weights FILE``: a checkpoint's tensors loaded into the user's model, never unpickled.

The file goes through load's static reader (any format and container ``load`` reads); the
container and the wrapper prefix (``module.`` from DataParallel, ``_orig_mod.`` from
torch.compile) are chosen by which make the file's keys fit the model's, and PyTorch's own
``load_state_dict(strict=True)`` has the last word. Where it refuses, each recurrent module
involved gets load's reading of the file's layer against the model's.
"""

from __future__ import annotations

from rnnscope.checkpoint.discovery import FoundLayer, full_name, weight_settings
from rnnscope.checkpoint.expectation import evidence
from rnnscope.checkpoint.loading import places_named
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
    """The container and prefix whose keys, stripped, fit the model's keys best; with ``prefix``,
    the one it names as ``load --prefix`` would (``module``, or in full ``ema.module``).

    Raises:
        BadInput: --prefix that no container's keys all carry, or that several carry; two
            choices that fit equally.
    """
    options = [
        (container, option)
        for container in checkpoint.containers
        if container.tensors
        for option in _candidates(list(container.tensors))
    ]
    if prefix is not None:
        places = [(container.name, option.removesuffix(".")) for container, option in options]
        named = places_named(prefix.removesuffix("."), places, checkpoint.path)
        if not named:
            raise BadInput(
                f"{checkpoint.path}: --prefix {prefix}: not every key of any state_dict in the file "
                "starts with it"
            )
        options = [options[places.index(named[0])]]
    if not options:
        raise BadInput(f"{checkpoint.path}: no tensors")
    scored = sorted(
        (
            (sum(key.removeprefix(option) in wanted for key in container.tensors), container, option)
            for container, option in options
        ),
        key=lambda item: -item[0],
    )
    best = scored[0]
    ties = [item for item in scored if item[0] == best[0] and item[0] > 0]
    if len(ties) > 1:
        named_in_full = ", ".join(
            repr(full_name(container.name, option.removesuffix("."))) for _, container, option in ties
        )
        raise BadInput(
            f"{checkpoint.path}: the keys fit the model equally as {named_in_full}; name one with --prefix"
        )
    return best[1], best[2]


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
    if container.name:
        notes.append(f"--weights: the state_dict at {container.name!r} in the file was loaded")
    missing = sorted(wanted - set(tensors))
    unexpected = sorted(set(tensors) - wanted)
    try:
        model.load_state_dict(tensors, strict=True)
        error = None
    except RuntimeError as refused:
        error = str(refused)
    mismatches: list[Mismatch] = []
    if error is not None:
        layers = {layer.prefix: layer for layer in checkpoint.layers if layer.container == container.name}
        for record in records:
            layer = layers.get(stripped + record.path)
            if layer is not None:
                mismatches += _mismatches(layer, record)
    return WeightsLoaded(
        file=file,
        container=container.name,
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
