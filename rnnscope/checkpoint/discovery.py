"""Find recurrent layers in a state_dict by PyTorch's parameter names, and infer their config.

A layer is a group of keys ``<prefix>.<role>[_l<k>[_reverse]]`` with role ``weight_ih``,
``weight_hh``, ``bias_ih``, ``bias_hh`` or ``weight_hr`` (cells: no ``_l<k>``). The config comes
from the shapes — ``weight_hh_l0`` is (G·H_cell, H_out), G = 1, 3, 4 for RNN, GRU, LSTM — and is
then checked the other way round: every parameter the documented formulas (layer/shapes.py) give for
that config must be in the file with that shape, and nothing else may carry a recurrent name.
What the weights cannot tell (RNN tanh or relu, batch_first, dropout) is left out — unless the
file pickles the module itself (``torch.save(model)``), whose own attributes record them: they are
taken from there where that module's sizes agree with its weights. No torch here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import Any

from rnnscope.checkpoint.dtypes import holds_numbers
from rnnscope.layer.direction import parameter_suffix
from rnnscope.layer.gates import GATES
from rnnscope.layer.shapes import expected_parameters, format_shape
from rnnscope.layer.spec import Kind, LayerSpec, Shape
from rnnscope.plain import Plain

_NAME = re.compile(
    r"^(?P<role>weight_ih|weight_hh|bias_ih|bias_hh|weight_hr)(?:_l(?P<layer>\d+)(?P<reverse>_reverse)?)?$"
)
_KIND_BY_GATES = {len(GATES[kind.value]): kind for kind in Kind}


# What a layer's weights tell of its constructor's settings; a cell has one layer, one direction
# and no projection, so only the first three.
_WEIGHT_SETTINGS = ("input_size", "hidden_size", "bias")
_LAYER_SETTINGS = ("num_layers", "bidirectional", "proj_size")


# What no tensor records, per kind of module (kind, cell): the user must know it from the code,
# or a pickled module's own attributes tell it.
UNTOLD = {
    (Kind.rnn, False): ("nonlinearity", "batch_first", "dropout"),
    (Kind.rnn, True): ("nonlinearity",),
    (Kind.lstm, False): ("batch_first", "dropout"),
    (Kind.gru, False): ("batch_first", "dropout"),
}
# nn.RNNBase's ``mode`` attribute, per kind (cells have none).
_MODES = {Kind.rnn: ("RNN_TANH", "RNN_RELU"), Kind.lstm: ("LSTM",), Kind.gru: ("GRU",)}


def weight_settings(source: Any, cell: bool) -> dict[str, Any]:
    """Those settings read off ``source``: a LayerSpec, or the torch module a constructor built
    (both name them as the constructor does)."""
    names = _WEIGHT_SETTINGS if cell else _WEIGHT_SETTINGS + _LAYER_SETTINGS
    return {name: bool(getattr(source, name)) if name == "bias" else getattr(source, name) for name in names}


def full_name(container: str, prefix: str) -> str:
    """Container and prefix in one dotted name (``a.rnn``; ``a`` for an empty prefix): what tells
    apart one prefix in two state_dicts of a file."""
    return ".".join(part for part in (container, prefix) if part)


@dataclass(frozen=True)
class TensorInfo:
    """A tensor as the file lists it: shape, dtype, and where its values are (format-specific)."""

    shape: Shape
    dtype: str
    ref: Any  # pickle_reader.TensorRef, or the safetensors key


@dataclass(frozen=True)
class FoundLayer:
    """A recurrent layer found in the file, with the config its tensors imply."""

    container: str  # where its state_dict sits: "" (the file itself), "state_dict", ...
    prefix: str  # as the keys have it: "module.rnn1", "_orig_mod.rnn", "" for none
    spec: LayerSpec
    tensors: dict[str, TensorInfo]  # keyed without the prefix, in named_parameters() order
    from_module: tuple[str, ...] = ()  # the UNTOLD settings in spec that the pickled module's state gave

    @property
    def kind(self) -> str:
        return self.spec.kind.value

    @property
    def dtype(self) -> str:
        return next(iter(self.tensors.values())).dtype

    @property
    def total_params(self) -> int:
        return sum(math.prod(info.shape) for info in self.tensors.values())

    @property
    def not_numbers(self) -> list[str]:
        """The dtypes of its tensors whose elements are not one real number each (complex, bool,
        bits, packed float4): no statistic of them means anything, no float module loads them."""
        return sorted({info.dtype for info in self.tensors.values() if not holds_numbers(info.dtype)})

    @property
    def full_name(self) -> str:
        return full_name(self.container, self.prefix)

    @property
    def constructor(self) -> str:
        """The call that builds a module whose ``load_state_dict(strict=True)`` takes these tensors.

        What the weights cannot tell (an RNN's nonlinearity, batch_first, dropout) keeps PyTorch's
        default, unless the pickled module's own state gave it (``from_module``)."""
        return self.spec.constructor


@dataclass(frozen=True)
class Problem(Plain):
    """Tensors with recurrent names that make no loadable layer: missing, misshaped or stray."""

    container: str
    prefix: str
    message: str
    keys: list[str]

    @property
    def full_name(self) -> str:
        return full_name(self.container, self.prefix)


def find_layers(
    container: str, tensors: dict[str, TensorInfo], modules: dict[str, dict[str, Any]] | None = None
) -> tuple[list[FoundLayer], list[Problem]]:
    """Every recurrent layer in one state_dict, and the problems of the groups that make none.

    ``modules``: where the state_dict is a pickled module's, each submodule's plain attributes by
    its prefix (``batch_first``, ``mode``, ``input_size``, ...), as the pickle holds them."""
    groups: dict[tuple[str, bool], dict[str, TensorInfo]] = {}
    for key, info in tensors.items():
        prefix, _, name = key.rpartition(".")
        match = _NAME.match(name)
        if match is None:
            continue
        cell = match.group("layer") is None
        groups.setdefault((prefix, cell), {})[name] = info
    layers, problems = [], []
    for (prefix, cell), group in groups.items():
        found = _infer(container, prefix, cell, group)
        if isinstance(found, Problem):
            problems.append(found)
        else:
            layers.append(_with_module_settings(found, (modules or {}).get(prefix)))
    return layers, problems


def _with_module_settings(layer: FoundLayer, attributes: dict[str, Any] | None) -> FoundLayer:
    """The layer with what its weights cannot tell taken from its pickled module's attributes,
    where that module is the one the weights belong to: its mode (layers) and every setting the
    weights tell agree with them."""
    spec = layer.spec
    if not attributes or weight_settings(spec, spec.cell) != {
        name: attributes.get(name) for name in weight_settings(spec, spec.cell)
    }:
        return layer
    if not spec.cell and attributes.get("mode") not in _MODES[spec.kind]:
        return layer
    told: dict[str, Any] = {
        name: float(attributes[name]) if name == "dropout" else attributes[name]
        for name in UNTOLD.get((spec.kind, spec.cell), ())
        if name in attributes and _valid(name, attributes[name])
    }
    return replace(layer, spec=replace(spec, **told), from_module=tuple(told))


def _valid(name: str, value: Any) -> bool:
    if name == "batch_first":
        return isinstance(value, bool)
    if name == "dropout":
        return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1
    return value in ("tanh", "relu")  # nonlinearity


def _layer_index(name: str) -> int:
    """k of a ``…_l{k}`` name (0 for a cell's)."""
    match = _NAME.match(name)
    return int(match.group("layer")) if match is not None and match.group("layer") is not None else 0


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _infer(container: str, prefix: str, cell: bool, group: dict[str, TensorInfo]) -> FoundLayer | Problem:
    def problem(message: str, names: list[str]) -> Problem:
        return Problem(container, prefix, message, [_key(prefix, name) for name in names])

    suffix = parameter_suffix(0, reverse=False, cell=cell)
    ih, hh, hr = (group.get(role + suffix) for role in ("weight_ih", "weight_hh", "weight_hr"))
    if hh is None or ih is None:
        missing = [name + suffix for name, info in (("weight_ih", ih), ("weight_hh", hh)) if info is None]
        return problem(f"missing {', '.join(missing)}: cannot tell the layer's sizes", missing)
    if len(hh.shape) != 2 or len(ih.shape) != 2 or (hr is not None and len(hr.shape) != 2):
        return problem("weights that are not matrices", sorted(group))
    hidden = hr.shape[1] if hr is not None else hh.shape[1]
    gates, remainder = divmod(hh.shape[0], hidden) if hidden else (0, 1)
    kind = _KIND_BY_GATES.get(gates) if remainder == 0 else None
    if kind is None or (hr is not None and kind is not Kind.lstm):
        return problem(
            f"weight_hh{suffix} {format_shape(hh.shape)} fits no kind: its rows are not 1, 3 or 4 × "
            f"hidden_size {hidden}" + (" with weight_hr (LSTM only)" if hr is not None else ""),
            [name for name in (f"weight_hh{suffix}", f"weight_hr{suffix}") if name in group],
        )
    layers = 1 + max(_layer_index(name) for name in group)
    spec = LayerSpec(
        kind=kind,
        cell=cell,
        input_size=ih.shape[1],
        hidden_size=hidden,
        num_layers=layers,
        bias=any(name.startswith("bias") for name in group),
        bidirectional=any(name.endswith("_reverse") for name in group),
        proj_size=hr.shape[0] if hr is not None else 0,
    )
    expected = {formula.name: formula.shape for formula in expected_parameters(spec)}
    missing = [name for name in expected if name not in group]
    misshaped = [name for name in expected if name in group and group[name].shape != expected[name]]
    stray = [name for name in group if name not in expected]
    if missing or misshaped or stray:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if misshaped:
            parts.append(
                "misshaped "
                + ", ".join(
                    f"{name} {format_shape(group[name].shape)} (expected {format_shape(expected[name])})"
                    for name in misshaped
                )
            )
        if stray:
            parts.append("unexpected " + ", ".join(stray))
        return problem(f"looks like {spec.constructor} but " + "; ".join(parts), missing + misshaped + stray)
    return FoundLayer(container, prefix, spec, {name: group[name] for name in expected})
