"""``load --expect``: the constructor a user wrote, against a layer found in a file.

The constructor is parsed, never evaluated: ``ast.parse`` in eval mode must give one call of
``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` (or a Cell; ``torch.nn.`` or no prefix also do) whose
arguments are literals. PyTorch then builds it on the meta device — nothing is allocated — so
that its own validation speaks for bad settings, and its own ``load_state_dict`` gives the error
the user would meet, from meta tensors of the file's shapes and dtypes.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from rnnscope.checkpoint.discovery import FoundLayer, weight_settings
from rnnscope.checkpoint.dtypes import torch_dtype
from rnnscope.errors import BadInput
from rnnscope.execution.runtime import notes_from_warnings, torch
from rnnscope.layer.direction import parameter_suffix
from rnnscope.layer.shapes import format_shape
from rnnscope.layer.spec import MODULE_SETTINGS
from rnnscope.report import Mismatch

CLASS_NAMES = ("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell")
_MODULE_PATHS = ("", "nn", "torch.nn")
_USAGE = "a literal call such as 'nn.LSTM(300, 512, num_layers=2)'"


@dataclass(frozen=True)
class Constructor:
    """A parsed ``--expect``: the class and its literal arguments."""

    text: str
    class_name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.class_name.removesuffix("Cell").lower()

    @property
    def cell(self) -> bool:
        return self.class_name.endswith("Cell")


def parse_constructor(text: str) -> Constructor:
    """Parse ``--expect`` without evaluating it.

    Raises:
        BadInput: anything but a call of a recurrent class with literal arguments.
    """

    def bad(why: str) -> BadInput:
        return BadInput(f"--expect must be {_USAGE}; {why}, got {text!r}")

    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise bad("it is not a Python expression") from None
    call = tree.body
    if not isinstance(call, ast.Call):
        raise bad("it is not a call")
    path, _, class_name = _dotted(call.func).rpartition(".")
    if path not in _MODULE_PATHS or class_name not in CLASS_NAMES:
        raise bad(f"the class must be one of {', '.join('nn.' + name for name in CLASS_NAMES)}")
    try:
        args = tuple(ast.literal_eval(argument) for argument in call.args)
        kwargs = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
    except (ValueError, TypeError, SyntaxError):
        raise bad("its arguments must be literals (numbers, True/False, strings)") from None
    for name in kwargs:
        if name is None:
            raise bad("** is not a literal argument")
        if name not in MODULE_SETTINGS:
            raise bad(f"{name}= is not one of the layer's settings ({', '.join(MODULE_SETTINGS)})")
    return Constructor(text.strip(), class_name, args, {str(name): value for name, value in kwargs.items()})


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "?"


def build_on_meta(constructor: Constructor, notes: list[str]) -> torch.nn.Module:
    """PyTorch's module for the constructor, on the meta device; its warnings go to ``notes``.

    Raises:
        BadInput: PyTorch rejects the arguments (its own message).
    """
    module_class = getattr(torch.nn, constructor.class_name)
    try:
        with notes_from_warnings(notes):
            module: torch.nn.Module = module_class(*constructor.args, **constructor.kwargs, device="meta")
    except (TypeError, ValueError, RuntimeError) as error:
        raise BadInput(f"--expect {constructor.text}: PyTorch rejects it: {error}") from None
    return module


def _settings(module: torch.nn.Module, constructor: Constructor) -> dict[str, Any]:
    """The comparable settings, read back from what PyTorch built."""
    return {"kind": constructor.kind, "cell": constructor.cell, **weight_settings(module, constructor.cell)}


def _file_settings(layer: FoundLayer) -> dict[str, Any]:
    spec = layer.spec
    return {"kind": spec.kind.value, "cell": spec.cell, **weight_settings(spec, spec.cell)}


def evidence(layer: FoundLayer, field: str) -> str:
    """The tensor (and shape) of the file that shows its value of ``field``."""
    spec, tensors = layer.spec, layer.tensors
    suffix = parameter_suffix(0, reverse=False, cell=spec.cell)

    def shown(name: str) -> str:
        return f"{name} {format_shape(tensors[name].shape)}" if name in tensors else f"no {name}"

    if field in ("kind", "cell"):
        return shown(f"weight_hh{suffix}")
    if field == "input_size":
        return shown(f"weight_ih{suffix}")
    if field == "hidden_size":
        return shown(f"weight_hr{suffix}" if spec.proj_size else f"weight_hh{suffix}")
    if field == "num_layers":
        last, beyond = (
            parameter_suffix(layer, reverse=False) for layer in (spec.num_layers - 1, spec.num_layers)
        )
        return f"{shown(f'weight_ih{last}')}, no weight_ih{beyond}"
    if field == "bias":
        return shown(f"bias_ih{suffix}")
    if field == "bidirectional":
        return shown(f"weight_ih{parameter_suffix(0, reverse=True)}")
    return shown(f"weight_hr{suffix}")  # proj_size


def mismatches(layer: FoundLayer, module: torch.nn.Module, constructor: Constructor) -> list[Mismatch]:
    """Every setting both sides have in which the file's layer and the constructor differ."""
    mine, theirs = _file_settings(layer), _settings(module, constructor)
    return [
        Mismatch(layer.prefix, field, mine[field], theirs[field], evidence(layer, field))
        for field in mine
        if field in theirs and mine[field] != theirs[field]
    ]


def pytorch_error(layer: FoundLayer, module: torch.nn.Module) -> str | None:
    """What ``module.load_state_dict(file's tensors, strict=True)`` says, from meta tensors."""
    state = {
        name: torch.empty(info.shape, dtype=torch_dtype(info.dtype, f"tensor {name!r}"), device="meta")
        for name, info in layer.tensors.items()
    }
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as error:
        return str(error)
    return None
