"""TARGET → the user's model and the arguments of its forward.

``package.module:NAME`` is imported from the current directory; ``path/to/file.py:NAME`` is
imported with the file's folder first on ``sys.path``, so its sibling imports work. NAME is an
``nn.Module`` subclass (built with ``--init``), an instance, or a function called with no
arguments (or ``--init``) that returns a module or ``(module, inputs)``. Running that code is
this module's job; ``--init`` and ``--input`` are parsed as literals, never evaluated.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import os
import sys
import sysconfig
import traceback
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from rnnscope.errors import BadInput
from rnnscope.execution.runtime import torch

nn = torch.nn

_INPUT_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "bool")
_USAGE = "package.module:NAME or path/to/file.py:NAME"


@dataclass(frozen=True)
class InputSpec:
    """One ``--input SHAPE[:DTYPE[:HIGH]]``: a synthetic positional argument."""

    shape: tuple[int, ...]
    dtype: str | None  # None: the run's --dtype (or float32)
    high: int | None  # integer tensors: values in [0, high)

    @property
    def text(self) -> str:
        parts = [",".join(map(str, self.shape))]
        if self.dtype is not None:
            parts.append(self.dtype)
        if self.high is not None:
            parts.append(str(self.high))
        return ":".join(parts)


def parse_input(text: str) -> InputSpec:
    """Parse ``4,7,10`` or ``4,7:int64:100``.

    Raises:
        BadInput: naming --input and what is allowed.
    """
    parts = text.split(":")
    usage = f"--input must be SHAPE[:DTYPE[:HIGH]] such as 4,7,10 or 4,7:int64:100, got {text!r}"
    if len(parts) > 3 or not parts[0]:
        raise BadInput(usage)
    try:
        shape = tuple(int(size) for size in parts[0].split(","))
    except ValueError:
        raise BadInput(usage) from None
    if any(size < 0 for size in shape):
        raise BadInput(f"--input sizes must be 0 or more, got {parts[0]}")
    dtype = parts[1] if len(parts) > 1 else None
    if dtype is not None and dtype not in _INPUT_DTYPES:
        raise BadInput(f"--input dtype must be one of {', '.join(_INPUT_DTYPES)}, got {dtype!r}")
    high = None
    if len(parts) == 3:
        try:
            high = int(parts[2])
        except ValueError:
            raise BadInput(usage) from None
        if high < 1 or dtype in (None, "float32", "float64", "float16", "bfloat16"):
            raise BadInput(f"--input HIGH applies to integer dtypes and must be 1 or more, got {text!r}")
    return InputSpec(shape, dtype, high)


def parse_init(text: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``--init "vocab=100, hidden=32"``: literal arguments, parsed with ``ast``, never evaluated.

    Raises:
        BadInput: anything but literal arguments.
    """
    try:
        tree = ast.parse(f"f({text})", mode="eval")
    except SyntaxError:
        raise BadInput(
            f"--init must be literal arguments such as 'vocab=100, hidden=32', got {text!r}"
        ) from None
    call = tree.body
    assert isinstance(call, ast.Call)  # f(...) parses as a call or not at all
    try:
        args = tuple(ast.literal_eval(argument) for argument in call.args)
        kwargs = {str(keyword.arg): ast.literal_eval(keyword.value) for keyword in call.keywords}
    except (ValueError, TypeError, SyntaxError):
        raise BadInput(
            f"--init arguments must be Python literals (numbers, strings, lists, dicts), got {text!r}"
        ) from None
    if any(keyword.arg is None for keyword in call.keywords):
        raise BadInput(f"--init: ** is not a literal argument, got {text!r}")
    return args, kwargs


class UserCodeError(BadInput):
    """The user's code raised while being imported or built (exit 2): one line naming where."""

    def __init__(self, what: str, error: BaseException) -> None:
        super().__init__(f"{what}: {describe_exception(error)}")
        self.original = error


def describe_exception(error: BaseException) -> str:
    """``TypeError: message (model.py:12)``: the type, the message and the innermost frame in
    the user's files (not torch's, not rnnscope's, not the standard library's)."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = type(error).__name__ + (f": {message}" if message else "")
    frame = user_frame(error.__traceback__)
    return f"{text} ({frame})" if frame else text


def user_frame(tb: TracebackType | None) -> str | None:
    """``file:line`` of the innermost frame outside rnnscope, the standard library and the
    installed packages (torch and the libraries a model builds on)."""
    installed = {sysconfig.get_paths()[name] for name in ("purelib", "platlib")}
    ignored = [Path(__file__).parents[1], Path(os.__file__).parent, Path(torch.__file__).parent]
    ignored += [Path(folder) for folder in installed]
    found = None
    for frame in traceback.extract_tb(tb):
        path = Path(frame.filename)
        if frame.filename.startswith("<") or any(path.is_relative_to(folder) for folder in ignored):
            continue
        found = f"{_shown(path)}:{frame.lineno}"
    return found


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def resolve_target(target: str) -> Any:
    """Import what TARGET names and return that object.

    Raises:
        BadInput: a malformed TARGET, a file or module that is not there, NAME missing, or the
            user's module raising on import (its type, message and file:line).
    """
    location, colon, name = target.rpartition(":")
    if not colon or not location or not name:
        raise BadInput(f"TARGET must be {_USAGE}, got {target!r}")
    if location.endswith(".py") or os.sep in location or "/" in location:
        module = _import_file(Path(location), target)
    else:
        module = _import_module(location, target)
    found: Any = module
    for part in name.split("."):
        if not hasattr(found, part):
            raise BadInput(f"{target}: {location} has no {name!r}")
        found = getattr(found, part)
    return found


def _import_file(path: Path, target: str) -> Any:
    if not path.is_file():
        raise BadInput(f"{target}: {path}: no such file")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the file's sibling imports
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise BadInput(f"{target}: {path} cannot be imported as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise UserCodeError(f"{target}: importing {path} failed", error) from error
    return module


def _import_module(name: str, target: str) -> Any:
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)  # importable from the current directory, as `python -c` sees it
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name is not None and name.startswith(error.name):
            raise BadInput(f"{target}: no module named {error.name!r} (importable from {cwd})") from None
        raise UserCodeError(f"{target}: importing {name} failed", error) from error
    except Exception as error:
        raise UserCodeError(f"{target}: importing {name} failed", error) from error


Arguments = tuple[tuple[Any, ...], dict[str, Any]]


def build(
    found: Any, target: str, init: str | None, inputs: list[InputSpec], dtype: str | None
) -> tuple[nn.Module, Arguments | None]:
    """The model (and the forward's arguments, where the target's function returned them).

    Raises:
        BadInput: a TorchScript module (no hooks run in it), a target that is neither a module,
            a module class nor a function, --init on an instance, the user's code raising.
    """
    if isinstance(found, torch.jit.ScriptModule) or (
        isinstance(found, type) and issubclass(found, torch.jit.ScriptModule)
    ):
        raise BadInput(
            f"{target} is a TorchScript module: it calls no Python forward hooks, so its "
            "recurrent calls cannot be seen; save its weights and read them with rnnscope load"
        )
    args, kwargs = parse_init(init) if init is not None else ((), {})
    if isinstance(found, nn.Module):
        if init is not None:
            raise BadInput(f"--init does not apply: {target} is a module instance, already built")
        return found, None
    if not callable(found):
        raise BadInput(
            f"{target} is a {type(found).__name__}: NAME must be an nn.Module subclass, an nn.Module "
            "instance, or a function that returns one (or (module, inputs))"
        )
    what = "building" if isinstance(found, type) else "calling"
    try:
        built = found(*args, **kwargs)
    except Exception as error:
        raise UserCodeError(f"{target}: {what} it failed", error) from error
    if isinstance(built, nn.Module):
        if isinstance(built, torch.jit.ScriptModule):
            return build(built, target, None, inputs, dtype)
        return built, None
    if isinstance(built, tuple) and len(built) == 2 and isinstance(built[0], nn.Module):
        model, given = built
        if inputs:
            raise BadInput(f"--input does not apply: {target} returned its own inputs")
        return model, _as_arguments(given)
    raise BadInput(
        f"{target} returned a {type(built).__name__}: a function must return an nn.Module or (module, inputs)"
    )


def _as_arguments(given: Any) -> Arguments:
    """A tuple is the positional arguments, a dict the keyword arguments, anything else one argument."""
    if isinstance(given, tuple):
        return given, {}
    if isinstance(given, dict):
        return (), given
    return (given,), {}


def synthetic_arguments(inputs: list[InputSpec], dtype: str | None, target: str) -> Arguments:
    """The --input tensors, drawn from torch's (seeded) generator.

    Raises:
        BadInput: no --input for a model that has no inputs of its own.
    """
    if not inputs:
        raise BadInput(
            f"{target} gives no inputs: pass --input SHAPE[:DTYPE[:HIGH]] for each positional "
            "argument of its forward (e.g. --input 4,7,10), or name a function returning (module, inputs)"
        )
    tensors = []
    for spec in inputs:
        name = spec.dtype or dtype or "float32"
        torch_dtype = getattr(torch, name)
        if torch_dtype.is_floating_point:
            tensors.append(torch.randn(spec.shape, dtype=torch_dtype))
        elif torch_dtype == torch.bool:
            tensors.append(torch.randint(0, 2, spec.shape).bool())
        else:
            tensors.append(torch.randint(0, spec.high or 2, spec.shape, dtype=torch_dtype))
    return tuple(tensors), {}


def moved(value: Any, device: torch.device, dtype: torch.dtype | None) -> Any:
    """Tensors inside value (tuples, lists, dicts, PackedSequences) moved to the device, and the
    floating ones cast to dtype where one was asked for."""
    if isinstance(value, torch.nn.utils.rnn.PackedSequence):
        indices = {
            name: getattr(value, name).to(device)
            for name in ("sorted_indices", "unsorted_indices")
            if getattr(value, name) is not None
        }  # batch_sizes stay on the CPU, as torch wants them
        return value._replace(data=moved(value.data, device, dtype), **indices)
    if isinstance(value, torch.Tensor):
        if dtype is not None and value.is_floating_point():
            return value.to(device=device, dtype=dtype)
        return value.to(device)
    if isinstance(value, tuple):
        return tuple(moved(item, device, dtype) for item in value)
    if isinstance(value, list):
        return [moved(item, device, dtype) for item in value]
    if isinstance(value, dict):
        return {key: moved(item, device, dtype) for key, item in value.items()}
    return value
