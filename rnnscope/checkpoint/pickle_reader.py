"""Read a pickle without running it: walk its opcodes and build inert placeholders.

``pickle.load`` imports every global a pickle names and calls whatever it says; this module
imports nothing and calls nothing. It walks the opcodes with :func:`pickletools.genops` (the
walk Python's own ``pickletools.dis`` does) and interprets the small subset ``torch.save`` and
TorchScript use: globals are recorded as names (:class:`Global`), calls and new objects become
placeholders (:class:`Call`, :class:`Instance`), and the two calls that rebuild tensors
(``torch._utils._rebuild_tensor_v2`` and ``_v3`` with a persistent storage id,
``_rebuild_parameter``) give :class:`TensorRef` — a tensor's storage key, dtype, offset, shape and
stride, no values.

Which globals are dangerous is picklescan's judgement (the scanner the Hugging Face Hub runs),
not a list of our own: :func:`dangerous_globals`.
"""

from __future__ import annotations

import _compat_pickle
import io
import logging
import math
import pickletools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from rnnscope.checkpoint.dtypes import STORAGE_CLASSES

# picklescan logs each finding as a warning; with no handler configured Python would print
# them on stderr. The findings come back as values, so the log is not needed.
logging.getLogger("picklescan").addHandler(logging.NullHandler())
logging.getLogger("picklescan").propagate = False

_TENSOR_REBUILDERS = {("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")}
# (storage, offset, size, stride, requires_grad, hooks, dtype[, metadata]): the dtype is named, and
# the storage is an UntypedStorage of bytes.
_TYPED_TENSOR_REBUILDER = ("torch._utils", "_rebuild_tensor_v3")
_PARAMETER_REBUILDERS = {
    ("torch._utils", "_rebuild_parameter"),
    ("torch._utils", "_rebuild_parameter_with_state"),
}
_DICT_CLASSES = {("collections", "OrderedDict"), ("builtins", "dict"), ("__builtin__", "dict")}


class PickleError(Exception):
    """The bytes are not a pickle this reader can follow (truncated, malformed, unsupported)."""


@dataclass(frozen=True)
class Global:
    """A global the pickle names: recorded, never imported."""

    module: str
    name: str


@dataclass(eq=False)
class Call:
    """What ``callable(*args)`` would have made; nothing was called."""

    func: Any
    args: Any
    state: Any = None


@dataclass(eq=False)
class Instance:
    """What ``cls.__new__(cls, *args)`` and ``__setstate__(state)`` would have made."""

    cls: Any
    args: Any
    state: Any = None


@dataclass(frozen=True)
class StorageRef:
    """A persistent storage id: ``('storage', torch.FloatStorage, key, location, numel)``; an
    UntypedStorage holds ``uint8``, its numel counted in bytes."""

    key: str
    dtype: str
    location: str
    numel: int


@dataclass(frozen=True)
class TensorRef:
    """A tensor's metadata: where its elements are, and how they are laid out (offset and
    stride count elements of the tensor's own dtype, whatever its storage's)."""

    storage: StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def span(self) -> int:
        """Elements of the storage from ``offset`` that the tensor reaches."""
        if self.numel == 0:
            return 0
        return 1 + sum((size - 1) * step for size, step in zip(self.shape, self.stride, strict=True))


@dataclass
class Unpickled:
    """The object the pickle describes, and every global it named or would have called."""

    value: Any
    globals: list[Global] = field(default_factory=list)
    not_created: list[str] = field(default_factory=list)  # qualified names of placeholder objects


_MARK = object()


def read_pickle(data: IO[bytes]) -> Unpickled:
    """Interpret one pickle from ``data`` (its position moves past the STOP opcode).

    Raises:
        PickleError: truncated or malformed bytes, or an opcode ``torch.save`` never writes.
    """
    stack: list[Any] = []
    memo: dict[int, Any] = {}
    result = Unpickled(None)
    try:
        for opcode, argument, _position in _opcodes(data):
            name = opcode.name
            if name == "STOP":
                result.value = stack.pop()
                return result
            _step(name, argument, stack, memo, result)
    except PickleError:
        raise
    except Exception as error:  # untrusted bytes: any failure to follow them means a malformed pickle
        raise PickleError(f"malformed pickle ({type(error).__name__}: {error})") from None
    raise PickleError("the pickle ends before its STOP opcode (truncated?)")


def _opcodes(data: IO[bytes]) -> Iterator[tuple[Any, Any, int | None]]:
    try:
        yield from pickletools.genops(data)
    except ValueError as error:  # genops raises ValueError for unknown opcodes and short reads
        raise PickleError(f"not a readable pickle: {error}") from None


def _pop_mark(stack: list[Any]) -> list[Any]:
    for index in range(len(stack) - 1, -1, -1):
        if stack[index] is _MARK:
            items = stack[index + 1 :]
            del stack[index:]
            return items
    raise PickleError("malformed pickle: no MARK")


_CONSTANTS = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_ARGUMENT_PUSHES = {
    "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
    "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
    "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
}  # fmt: skip
_IGNORED = {"PROTO", "FRAME"}


def _step(name: str, argument: Any, stack: list[Any], memo: dict[int, Any], result: Unpickled) -> None:
    if name in _IGNORED:
        return
    if name in _CONSTANTS:
        stack.append(_CONSTANTS[name])
    elif name in _ARGUMENT_PUSHES:
        # INT with "00"/"01" is how protocol 0 writes False/True: genops already decoded it.
        stack.append(argument)
    elif name == "BYTEARRAY8":
        stack.append(bytearray(argument))
    elif name == "MARK":
        stack.append(_MARK)
    elif name == "POP":
        stack.pop()
    elif name == "POP_MARK":
        _pop_mark(stack)
    elif name == "DUP":
        stack.append(stack[-1])
    elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
        memo[int(argument)] = stack[-1]
    elif name == "MEMOIZE":
        memo[len(memo)] = stack[-1]
    elif name in ("GET", "BINGET", "LONG_BINGET"):
        stack.append(memo[int(argument)])
    else:
        _step_containers(name, argument, stack, result)


def _step_containers(name: str, argument: Any, stack: list[Any], result: Unpickled) -> None:
    if name == "EMPTY_LIST":
        stack.append([])
    elif name == "EMPTY_TUPLE":
        stack.append(())
    elif name == "EMPTY_DICT":
        stack.append({})
    elif name == "EMPTY_SET":
        stack.append([])  # a set's members need not be hashable placeholders: keep them listed
    elif name == "LIST":
        stack.append(_pop_mark(stack))
    elif name in ("TUPLE", "FROZENSET"):
        stack.append(tuple(_pop_mark(stack)))
    elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
        count = int(name[-1])
        last = tuple(stack[-count:])
        del stack[-count:]
        stack.append(last)
    elif name == "DICT":
        items = _pop_mark(stack)
        stack.append(dict(zip(items[::2], items[1::2], strict=True)))
    elif name == "APPEND":
        value = stack.pop()
        _extend(stack[-1], [value])
    elif name in ("APPENDS", "ADDITEMS"):
        items = _pop_mark(stack)
        _extend(stack[-1], items)
    elif name == "SETITEM":
        value, key = stack.pop(), stack.pop()
        _set_items(stack[-1], [key, value])
    elif name == "SETITEMS":
        items = _pop_mark(stack)
        _set_items(stack[-1], items)
    else:
        _step_objects(name, argument, stack, result)


def _extend(target: Any, items: list[Any]) -> None:
    if isinstance(target, list):
        target.extend(items)
    elif isinstance(target, (Call, Instance)):
        # list subclasses append into the new object: keep the items as its state.
        if target.state is None:
            target.state = []
        if isinstance(target.state, list):
            target.state.extend(items)
    else:
        raise PickleError(f"malformed pickle: APPEND to {type(target).__name__}")


def _set_items(target: Any, items: list[Any]) -> None:
    pairs = dict(zip(items[::2], items[1::2], strict=True))
    if isinstance(target, dict):
        target.update(pairs)
    elif isinstance(target, (Call, Instance)):
        # dict subclasses (defaultdict, library containers) set items on the new object.
        target.state = {**target.state, **pairs} if isinstance(target.state, dict) else pairs
    else:
        raise PickleError(f"malformed pickle: SETITEM on {type(target).__name__}")


def _step_objects(name: str, argument: Any, stack: list[Any], result: Unpickled) -> None:
    if name in ("GLOBAL", "INST"):
        module, _, qualname = str(argument).partition(" ")
        named = Global(module, qualname)
        result.globals.append(named)
        if name == "GLOBAL":
            stack.append(named)
        else:
            stack.append(_new(named, tuple(_pop_mark(stack)), result))
    elif name == "STACK_GLOBAL":
        qualname, module = stack.pop(), stack.pop()
        if not isinstance(module, str) or not isinstance(qualname, str):
            raise PickleError("malformed pickle: STACK_GLOBAL of something other than two strings")
        named = Global(module, qualname)
        result.globals.append(named)
        stack.append(named)
    elif name == "REDUCE":
        args = stack.pop()
        func = stack.pop()
        stack.append(_reduce(func, args, result))
    elif name == "NEWOBJ":
        args = stack.pop()
        cls = stack.pop()
        stack.append(_new(cls, args, result))
    elif name == "NEWOBJ_EX":
        _kwargs, args, cls = stack.pop(), stack.pop(), stack.pop()
        stack.append(_new(cls, args, result))
    elif name == "OBJ":
        items = _pop_mark(stack)
        stack.append(_new(items[0], tuple(items[1:]), result))
    elif name == "BUILD":
        state = stack.pop()
        _build(stack[-1], state)
    elif name in ("PERSID", "BINPERSID"):
        stack.append(_persistent(argument if name == "PERSID" else stack.pop()))
    else:
        # EXT1/2/4 (the extension registry) and out-of-band buffers: torch.save writes none.
        raise PickleError(f"unsupported pickle opcode {name}")


def _persistent(pid: Any) -> Any:
    """torch.save's storage ids; anything else stays an opaque tuple.

    Raises:
        PickleError: a storage class torch does not write (its element size is unknown).
    """
    if isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], Global):
        dtype = STORAGE_CLASSES.get(pid[1].name)
        if dtype is None:
            raise PickleError(
                f"a storage of class {pid[1].module}.{pid[1].name}, which rnnscope does not know"
            )
        return StorageRef(key=str(pid[2]), dtype=dtype, location=str(pid[3]), numel=int(pid[4]))
    return pid


def _reduce(func: Any, args: Any, result: Unpickled) -> Any:
    if isinstance(func, Global):
        key = (func.module, func.name)
        if key in _TENSOR_REBUILDERS and len(args) >= 4 and isinstance(args[0], StorageRef):
            return _tensor(args[0], args[1:4], args[0].dtype)
        if key == _TYPED_TENSOR_REBUILDER and len(args) >= 7 and isinstance(args[0], StorageRef):
            dtype = args[6]
            if not isinstance(dtype, Global) or dtype.module != "torch":
                raise PickleError(f"_rebuild_tensor_v3 with a dtype that is not torch's ({dtype!r})")
            return _tensor(args[0], args[1:4], dtype.name)
        if key in _PARAMETER_REBUILDERS and args and isinstance(args[0], TensorRef):
            return args[0]
        if key in _DICT_CLASSES:
            return dict(args[0]) if args and args[0] else {}
    return _created(Call(func, args), func, result)


def _tensor(storage: StorageRef, layout: Any, dtype: str) -> TensorRef:
    offset, shape, stride = layout
    return TensorRef(storage, int(offset), tuple(int(s) for s in shape), tuple(int(s) for s in stride), dtype)


def _new(cls: Any, args: Any, result: Unpickled) -> Any:
    if isinstance(cls, Global) and (cls.module, cls.name) in _DICT_CLASSES:
        return {}
    return _created(Instance(cls, args), cls, result)


def _created(placeholder: Call | Instance, func: Any, result: Unpickled) -> Call | Instance:
    name = python3_name(func.module, func.name) if isinstance(func, Global) else type(func).__name__
    if name not in result.not_created:
        result.not_created.append(name)
    return placeholder


def _build(target: Any, state: Any) -> None:
    if isinstance(target, (Call, Instance)):
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict | None):
            state = {**(state[0] or {}), **(state[1] or {})}  # (__dict__, slots)
        if isinstance(target.state, dict) and isinstance(state, dict):
            target.state = {**target.state, **state}
        else:
            target.state = state
    # BUILD on a dict (OrderedDict's _metadata) or a tensor (its Python attributes): nothing to keep.


def dangerous_globals(pickle_bytes: bytes, name: str) -> list[str]:
    """The globals picklescan rates dangerous in these bytes (every pickle in them), as ``module.name``.

    Raises:
        PickleError: picklescan could not scan the bytes (a file is never read unscanned).
    """
    from picklescan.scanner import SafetyLevel, scan_pickle_bytes  # type: ignore[import-untyped]

    try:
        scan = scan_pickle_bytes(io.BytesIO(pickle_bytes), name)
    except Exception as error:  # picklescan gives up on some malformed streams: refuse them
        raise PickleError(f"picklescan cannot scan it ({type(error).__name__}: {error})") from None
    return sorted(
        {
            python3_name(found.module, found.name)
            for found in scan.globals
            if found.safety is SafetyLevel.Dangerous
        }
    )


def python3_name(module: str, name: str) -> str:
    """The global as Python 3 would import it: protocols 0-2 write Python 2 names
    (``__builtin__.exec``, ``commands.call``) that the unpickler maps back."""
    module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
    return f"{_compat_pickle.IMPORT_MAPPING.get(module, module)}.{name}"
