"""``rnnscope.load``: the recurrent layers of a checkpoint, inspected without trusting the file.

reader.py reads the file (statically) and discovery.py finds the layers; this module turns
each into the inspect tables — the file's shapes beside the documented formulas — and, as asked,
compares one with the user's constructor (``--expect``), summarises the weights per gate block
(``--stats``), or rebuilds each layer from its tensors and verifies it (``--run``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from rnnscope.checkpoint.discovery import UNTOLD, FoundLayer, Problem, full_name, weight_settings
from rnnscope.checkpoint.reader import FORMATS, Checkpoint, read_checkpoint
from rnnscope.errors import BadInput
from rnnscope.layer import cost
from rnnscope.layer.command_line import Naming, refused
from rnnscope.layer.direction import direction
from rnnscope.layer.gates import gate_blocks
from rnnscope.layer.shapes import expected_parameters
from rnnscope.layer.spec import DTYPES, LayerSpec
from rnnscope.layer.validation import check_computes, check_run_options
from rnnscope.report import Expectation, LoadedLayer, LoadReport, ParameterRow, StatRow, VerifyReport

if TYPE_CHECKING:
    import torch

_PREFIX_MEANINGS = {
    "module.": "added by nn.DataParallel / DistributedDataParallel",
    "_orig_mod.": "added by torch.compile",
}


def load(
    path: str,
    *,
    prefix: str | None = None,
    expect: str | None = None,
    stats: bool = False,
    run: bool = False,
    seed: int = 0,
    device: str = "cpu",
) -> LoadReport:
    """Read the file and report its recurrent layers.

    Args:
        path: the checkpoint file.
        prefix: only the layer(s) with exactly this prefix (as the report gives it).
        expect: a constructor such as ``nn.LSTM(300, 512, num_layers=2)`` to compare with.
        stats: add per-gate statistics of the weights and the summed biases.
        run: rebuild each layer, load its tensors strictly and verify it on synthetic input.
        seed: seed of the synthetic input for ``run``.
        device: where ``run`` verifies the layers.

    Raises:
        BadInput: an unreadable or unsafe file, a prefix that is not there, a bad constructor.
    """
    check_run_options(device, "float32", seed, computes=True)
    if run:
        check_computes(device, "load --run")
    constructor = None
    if expect is not None:
        from rnnscope.checkpoint.expectation import parse_constructor

        constructor = parse_constructor(expect)  # bad input is refused before the file is read
    checkpoint = read_checkpoint(path)
    found, problems = select(checkpoint, prefix)
    if run:
        for layer in found:
            _refuse_not_numbers(layer, "--run")
    notes = _notes(checkpoint, found)
    expectation = None
    if constructor is not None:
        from rnnscope.checkpoint.expectation import build_on_meta, mismatches, pytorch_error

        module = build_on_meta(constructor, notes)
        layer = _expected_layer(found, constructor.kind, constructor.cell, prefix)
        expectation = Expectation(
            constructor.text,
            repr(module),
            layer.container,
            layer.prefix,
            mismatches(layer, module, constructor),
            pytorch_error(layer, module),
        )
    return LoadReport(
        file=str(path),
        format=checkpoint.format,
        format_name=FORMATS[checkpoint.format],
        tensor_count=checkpoint.tensor_count,
        layers=[_loaded(layer) for layer in found],
        problems=[problem.to_dict() for problem in problems],
        notes=notes,
        expectation=expectation,
        stats=_stats(checkpoint, found, notes) if stats else None,
        verify=[(layer.prefix, _verify(checkpoint, layer, seed, device)) for layer in found] if run else None,
    )


def select(checkpoint: Checkpoint, prefix: str | None) -> tuple[list[FoundLayer], list[Problem]]:
    """The layers and problems ``--prefix`` names (all of them without it), in one state_dict.

    Raises:
        BadInput: a prefix that is neither a layer's nor a problem's, or one that is in several
            state_dicts of the file (the line names each in full, as --prefix takes it).
    """
    if prefix is None:
        return checkpoint.layers, checkpoint.problems
    found = [(layer.container, layer.prefix) for layer in checkpoint.layers]
    found += [(problem.container, problem.prefix) for problem in checkpoint.problems]
    places = set(places_named(prefix, found, checkpoint.path))
    if not places:
        raise BadInput(
            f"--prefix {prefix!r} is not a layer in {checkpoint.path}; {layer_names(checkpoint.layers)}"
        )
    return (
        [layer for layer in checkpoint.layers if (layer.container, layer.prefix) in places],
        [problem for problem in checkpoint.problems if (problem.container, problem.prefix) in places],
    )


def places_named(
    prefix: str, places: list[tuple[str, str]], file: str | os.PathLike[str]
) -> list[tuple[str, str]]:
    """The (container, prefix) places of a file that ``--prefix`` names: those with exactly that
    prefix, else the one whose full name (``container.prefix``) it is — always in one state_dict.
    ``load --prefix`` and ``model --weights --prefix`` both choose with it.

    Raises:
        BadInput: that prefix is in several state_dicts: the line names each place in full.
    """
    chosen = [place for place in places if place[1] == prefix]
    chosen = chosen or [place for place in places if full_name(*place) == prefix]
    containers = dict.fromkeys(container for container, _ in chosen)
    if len(containers) > 1:
        names = ", ".join(repr(name) for name in dict.fromkeys(full_name(*place) for place in chosen))
        raise BadInput(
            f"--prefix {prefix!r} is in {len(containers)} state_dicts of {file}: name one in full: {names}"
        )
    return chosen


@dataclass(frozen=True)
class ChosenLayer:
    """The one layer of a checkpoint that ``--from FILE [--prefix P]`` names."""

    checkpoint: Checkpoint
    layer: FoundLayer

    def spec_with(self, flags: LayerSpec, given: Collection[str] = ()) -> LayerSpec:
        """The file's layer with what its weights cannot tell (nonlinearity, batch_first, dropout,
        and the input: seq_len, batch, unbatched, lengths, initial state) taken from ``flags``.

        ``given``: the settings of ``flags`` the caller set on purpose (on the command line: the
        flags typed). The file's weights give sizes, layers, directions, bias and projection (and
        a pickled module's attributes what they give: ``from_module``); one of those given with
        another value than the file's is refused, never silently replaced.

        Raises:
            BadInput: given settings that the file's layer contradicts, each with both values.
        """
        spec = self.layer.spec
        settings = weight_settings(spec, spec.cell) | {
            name: getattr(spec, name) for name in self.layer.from_module
        }
        contradicted = [name for name in settings if name in given and getattr(flags, name) != settings[name]]
        if contradicted:
            path, full = self.checkpoint.path, self.layer.full_name
            layer = f"{path}'s layer {full!r}" if full else f"the layer of {path}"

            def listed(words: list[str]) -> str:  # "a", "a and b", "a, b and c"
                return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]]))

            def words(name: Naming) -> str:
                typed = listed([name(setting, getattr(flags, setting)) for setting in contradicted])
                found = listed([name(setting, settings[setting]) for setting in contradicted])
                them = "them" if len(contradicted) > 1 else "it"
                return f"{typed}: {layer} has {found}; leave {them} out, the file gives {them}"

            raise refused(words)
        return replace(flags, **settings)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The layer's tensors, to load into a module of ``spec_with``.

        Raises:
            BadInput: values that are not numbers (complex, bits, ...): no float module loads them.
        """
        _refuse_not_numbers(self.layer, f"--from {self.checkpoint.path}")
        return self.checkpoint.state_dict(self.layer)

    def note(self, spec: LayerSpec, flags: str) -> str:
        """The note a command gives: the layer (``spec``, as ``spec_with`` made it), and which
        ``flags`` still apply to it."""
        told = self.layer.from_module
        return (
            f"the layer from --from: {spec.constructor}; the layer flags give only what weights cannot "
            f"tell ({flags})" + (f"; the file's pickled module gives {', '.join(told)}" if told else "")
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.checkpoint.path),
            "format": self.checkpoint.format,
            "container": self.layer.container,
            "prefix": self.layer.prefix,
        }


def find_layer(from_file: str | os.PathLike[str], prefix: str | None, spec: LayerSpec) -> ChosenLayer:
    """The one recurrent layer of ``from_file`` that ``--prefix`` names (or the only one), for the
    commands that take ``--from FILE`` (``spec``: their KIND and ``--cell``).

    Raises:
        BadInput: an unreadable or unsafe file, no such layer, several and no --prefix, or a
            layer of another kind than KIND.
    """
    checkpoint = read_checkpoint(from_file)
    if not checkpoint.layers:
        raise BadInput(f"--from {from_file}: no recurrent layer found in it")
    matches, _problems = select(checkpoint, prefix)  # refuses a prefix that is not there
    if not matches:
        raise BadInput(
            f"--prefix {prefix!r}: that layer of {from_file} cannot be loaded (rnnscope load says why)"
        )
    if len(matches) > 1:
        raise BadInput(
            f"--from {from_file} holds {len(matches)} recurrent layers: choose one with --prefix; "
            + layer_names(matches)
        )
    layer = matches[0]
    if layer.spec.kind is not spec.kind or layer.spec.cell != spec.cell:
        raise BadInput(
            f"--from {from_file}: layer {layer.prefix!r} is {layer.constructor}, not "
            f"{spec.torch_class_name}: use KIND {layer.spec.kind.value}"
            + (" --cell" if layer.spec.cell else "")
        )
    return ChosenLayer(checkpoint, layer)


def layer_names(layers: list[FoundLayer]) -> str:
    """Each layer's name for --prefix: its prefix, or container and prefix where the prefix repeats."""
    if not layers:
        return "it holds no recurrent layer"
    prefixes = [layer.prefix for layer in layers]
    names = [layer.prefix if prefixes.count(layer.prefix) == 1 else layer.full_name for layer in layers]
    return "its layers: " + ", ".join(repr(name) for name in names)


def _expected_layer(layers: list[FoundLayer], kind: str, cell: bool, prefix: str | None) -> FoundLayer:
    """The one layer ``--expect`` is about: the only one, or the only one of its kind."""
    if len(layers) == 1:
        return layers[0]
    if not layers:
        raise BadInput(
            "--expect: no recurrent layer to compare with" + (f" at --prefix {prefix!r}" if prefix else "")
        )
    same_kind = [layer for layer in layers if layer.kind == kind and layer.spec.cell == cell]
    if len(same_kind) == 1 and prefix is None:
        return same_kind[0]
    raise BadInput(
        f"--expect: {len(layers)} layers could be meant; pick one with --prefix: {layer_names(layers)}"
    )


def _loaded(layer: FoundLayer) -> LoadedLayer:
    spec = layer.spec
    rows = [
        ParameterRow.measured(spec, formula, formula.name, shape, math.prod(shape))
        for formula in expected_parameters(spec)
        for shape in [layer.tensors[formula.name].shape]
    ]
    untold = UNTOLD.get((spec.kind, spec.cell), ())
    config = weight_settings(spec, spec.cell) | {
        name: getattr(spec, name) if name in layer.from_module else None for name in untold
    }
    return LoadedLayer(
        container=layer.container,
        prefix=layer.prefix,
        kind=spec.kind.value,
        cell=spec.cell,
        config=config,
        dtype=layer.dtype,
        constructor=layer.constructor,
        from_module=list(layer.from_module),
        parameters=rows,
        layers=cost.layer_parameters(spec),
        total_params=layer.total_params,
        expected_total_params=cost.total_parameters(spec),
    )


def _notes(checkpoint: Checkpoint, layers: list[FoundLayer]) -> list[str]:
    if checkpoint.format == "safetensors":
        notes = ["read the safetensors header, and tensor values only where asked; safetensors holds no code"]
    else:
        notes = [
            "read without running it: the pickle was walked statically; no global imported, nothing called"
        ]
    if not checkpoint.layers and not checkpoint.problems:
        notes.append(
            "no recurrent layer found: no tensor carries PyTorch's recurrent names (weight_ih_l0, ...)"
        )
    for start, meaning in _PREFIX_MEANINGS.items():
        wrapped = sorted({layer.prefix for layer in layers if (layer.prefix + ".").startswith(start)})
        if wrapped:
            notes.append(
                f"{', '.join(wrapped)}: the {start} prefix is {meaning}; strip it to load into the bare model"
            )
    for layer in layers:
        if layer.from_module:
            told = ", ".join(f"{name}={getattr(layer.spec, name)!r}" for name in layer.from_module)
            notes.append(
                f"{_called(layer)}: {told} from the pickled module's own attributes, read without "
                "running anything (the weights do not record them)"
            )
    kinds = {(layer.spec.kind, layer.spec.cell) for layer in layers}
    for kind, cell in sorted(kinds, key=lambda key: (key[0].value, key[1])):
        of_kind = [layer for layer in layers if (layer.spec.kind, layer.spec.cell) == (kind, cell)]
        unknown = tuple(
            name
            for name in UNTOLD.get((kind, cell), ())
            if any(name not in layer.from_module for layer in of_kind)
        )
        if unknown:
            name = ("nn.{}Cell" if cell else "nn.{}").format(kind.name.upper())
            listed = " and ".join([", ".join(unknown[:-1]), unknown[-1]] if len(unknown) > 1 else unknown)
            verb = "are" if len(unknown) > 1 else "is"
            notes.append(f"{name}: {listed} {verb} not in the weights; set as the code that saved it did")
    if checkpoint.not_created:
        notes.append(
            "objects in the file that were not created (no global was imported): "
            + ", ".join(checkpoint.not_created)
        )
    return notes


def _refuse_not_numbers(layer: FoundLayer, flag: str) -> None:
    if layer.not_numbers:
        raise BadInput(
            f"{flag}: {_called(layer)} holds {', '.join(layer.not_numbers)} values, not one real "
            "number each: no float module loads them"
        )


def _called(layer: FoundLayer) -> str:
    return f"layer {layer.full_name!r}" if layer.full_name else "the layer (no prefix)"


def _stats(checkpoint: Checkpoint, layers: list[FoundLayer], notes: list[str]) -> list[StatRow]:
    """``--stats`` rows of each layer whose values are numbers; a note for each whose are not."""
    rows = []
    for layer in layers:
        if layer.not_numbers:
            notes.append(
                f"--stats: no statistics of {_called(layer)}: its values are "
                f"{', '.join(layer.not_numbers)}, not one real number each"
            )
        else:
            rows += gate_stats(checkpoint, layer)
    return rows


def gate_stats(checkpoint: Checkpoint, layer: FoundLayer) -> list[StatRow]:
    """Mean, std, min and max of each gate block of weight_ih, weight_hh and b_ih + b_hh,
    per layer and direction (float64, from the file's values). The std is torch.std's, the
    sample one: ÷ (n − 1)."""
    return tensor_gate_stats(layer.spec, checkpoint.state_dict(layer), layer.prefix)


def tensor_gate_stats(spec: LayerSpec, tensors: dict[str, torch.Tensor], prefix: str) -> list[StatRow]:
    """``gate_stats`` of one layer's tensors (keyed as named_parameters() names them)."""
    values = {name: tensor.double() for name, tensor in tensors.items()}
    rows = []
    for formula in expected_parameters(spec):
        if formula.role not in ("weight_ih", "weight_hh", "bias_ih"):
            continue
        suffix = formula.name.removeprefix(formula.role)
        if formula.role == "bias_ih":
            tensor, name = values["bias_ih" + suffix] + values["bias_hh" + suffix], "bias"
        else:
            tensor, name = values[formula.name], formula.role
        for block in gate_blocks(spec.kind.value, formula.role, spec.hidden_size):
            rows_of_gate = tensor[block.start : block.stop]
            rows.append(
                StatRow(
                    prefix=prefix,
                    layer=formula.layer,
                    direction=direction(formula.reverse),
                    tensor=name,
                    gate=block.gate,
                    mean=_finite(rows_of_gate.mean()),
                    std=_finite(rows_of_gate.std()),  # torch.std: ÷ (n − 1)
                    min=_finite(rows_of_gate.min()),
                    max=_finite(rows_of_gate.max()),
                )
            )
    return rows


def _finite(value: torch.Tensor) -> float | None:
    """A statistic as a float; None for NaN or inf (weights a file may hold, JSON may not)."""
    number = float(value)
    return number if math.isfinite(number) else None


def _verify(checkpoint: Checkpoint, layer: FoundLayer, seed: int, device: str) -> VerifyReport:
    """The layer rebuilt from its constructor, its tensors loaded strictly, verified on ``device``."""
    from rnnscope.verification import verify

    dtype = layer.dtype if layer.dtype in DTYPES else "float32"
    return verify(layer.spec, device, dtype, seed, weights=checkpoint.state_dict(layer))
