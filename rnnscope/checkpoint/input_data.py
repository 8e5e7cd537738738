"""``--input-data FILE``: one tensor of input, from a .npy file or a ``torch.save`` file, read
without running anything the file contains.

A .npy file is a short header — a Python dict literal, read with ``ast.literal_eval``, which
builds literals and calls nothing — and the raw values (numpy's format, NEP 1); numpy is not
needed. A ``torch.save`` file is walked statically by the checkpoint reader, exactly as
``rnnscope load`` reads checkpoints: a pickle that would call something dangerous is refused,
and the tensor's bytes are read from where the file stores them.
"""

from __future__ import annotations

import ast
import math
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnscope.checkpoint.discovery import TensorInfo
from rnnscope.checkpoint.pickle_reader import TensorRef
from rnnscope.checkpoint.reader import FORMATS, read_saved
from rnnscope.errors import BadInput
from rnnscope.layer.shapes import format_shape
from rnnscope.layer.spec import DTYPES
from rnnscope.plain import Plain

if TYPE_CHECKING:
    import torch

NPY_MAGIC = b"\x93NUMPY"
# numpy's type codes (kind and item size) for the float dtypes rnnscope runs in; npy has no bfloat16.
_NPY_FLOATS = {"f2": "float16", "f4": "float32", "f8": "float64"}
_FLAG = "--input-data"


@dataclass(frozen=True)
class InputData(Plain):
    """Where the input came from and what it held, as the file says."""

    file: str
    format: str  # "npy", or a key of reader.FORMATS
    shape: tuple[int, ...]
    dtype: str

    @property
    def format_name(self) -> str:
        return "numpy .npy" if self.format == "npy" else FORMATS[self.format]


def read_input_data(path: str | os.PathLike[str]) -> tuple[InputData, torch.Tensor]:
    """The one floating-point tensor the file holds, on the CPU, in the file's dtype.

    Raises:
        BadInput: a file that is missing, unreadable, truncated, not a .npy or torch.save file, not
            one tensor, not floating-point, or whose pickle would run code; the line names the flag.
    """
    file = Path(path)
    try:
        with open(file, "rb") as handle:
            head = handle.read(len(NPY_MAGIC))
    except FileNotFoundError:
        raise BadInput(f"{_FLAG} {file}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{_FLAG} {file}: is a directory, not a file") from None
    except OSError as error:
        raise BadInput(f"{_FLAG} {file}: cannot be read ({error.strerror})") from None
    if head == NPY_MAGIC:
        return _read_npy(file)
    if not head.startswith((b"PK\x03\x04", b"\x80")):
        raise BadInput(f"{_FLAG} {file}: neither a .npy file nor a torch.save file")
    try:
        saved = read_saved(file)
    except BadInput as error:
        raise BadInput(f"{_FLAG} {error}") from None
    value = saved.value
    if not isinstance(value, TensorRef):
        raise BadInput(
            f"{_FLAG} {file}: holds {_what(value)}, not a tensor: save the tensor itself, torch.save(x, FILE)"
        )
    _check_float(file, value.dtype)
    try:
        tensor = saved.reader.read(TensorInfo(value.shape, value.dtype, value))
    except BadInput as error:
        raise BadInput(f"{_FLAG} {error}") from None
    return InputData(str(file), saved.format, value.shape, value.dtype), tensor


def _what(value: object) -> str:
    if isinstance(value, dict):
        return "a dict"
    if isinstance(value, list | tuple):
        return f"a {type(value).__name__}"
    return "an object"


def _check_float(file: Path, dtype: str) -> None:
    if dtype not in DTYPES:
        raise BadInput(
            f"{_FLAG} {file}: holds {dtype} values; the input must be floating-point ({', '.join(DTYPES)})"
        )


def _read_npy(file: Path) -> tuple[InputData, torch.Tensor]:
    """numpy's format: magic, version, header length, the header dict, the values (C or Fortran order)."""
    with open(file, "rb") as handle:
        data = handle.read()
    if len(data) < 10:
        raise BadInput(f"{_FLAG} {file}: a .npy file cut short before its header; truncated?")
    major = data[6]
    if major == 1:
        (length,), start, encoding = struct.unpack_from("<H", data, 8), 10, "latin1"
    elif major in (2, 3):
        if len(data) < 12:
            raise BadInput(f"{_FLAG} {file}: a .npy file cut short before its header; truncated?")
        (length,), start, encoding = struct.unpack_from("<I", data, 8), 12, "latin1" if major == 2 else "utf8"
    else:
        raise BadInput(f"{_FLAG} {file}: .npy format version {major} is not one numpy writes (1, 2 or 3)")
    header = _npy_header(file, data[start : start + length], encoding)
    descr, fortran, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(descr, str):
        raise BadInput(f"{_FLAG} {file}: holds a structured array; the input must be one float array")
    if descr.lstrip("<>|=")[:1] == "O":
        raise BadInput(
            f"{_FLAG} {file}: holds Python objects, stored as a pickle that would run code if loaded; refused"
        )
    order, code = (descr[0], descr[1:]) if descr[:1] in "<>|=" else ("=", descr)
    _check_float(file, _NPY_FLOATS.get(code, _npy_dtype_name(code)))
    if order == ">" or (order == "=" and sys.byteorder == "big"):
        raise BadInput(f"{_FLAG} {file}: big-endian values; only little-endian files are supported")
    dtype = _NPY_FLOATS[code]
    body = data[start + length :]
    size = math.prod(shape) * int(code[1:])
    if len(body) < size:
        raise BadInput(
            f"{_FLAG} {file}: holds {len(body):,} bytes of values, {format_shape(shape)} {dtype} needs "
            f"{size:,}; truncated?"
        )
    from rnnscope.execution.runtime import torch

    torch_dtype = getattr(torch, dtype)
    stored = tuple(reversed(shape)) if fortran else shape
    values = (
        torch.frombuffer(bytearray(body[:size]), dtype=torch_dtype)
        if size
        else torch.empty(0, dtype=torch_dtype)
    )
    tensor = values.reshape(stored)
    if fortran:
        tensor = tensor.permute(*reversed(range(len(shape)))).contiguous()
    return InputData(str(file), "npy", shape, dtype), tensor


def _npy_dtype_name(code: str) -> str:
    """A readable name for a numpy type code that is not a float rnnscope takes: ``int64`` for i8."""
    names = {"i": "int", "u": "uint", "b": "bool", "c": "complex", "f": "float", "U": "str", "S": "bytes"}
    kind, size = code[:1], code[1:]
    if kind == "b":
        return "bool"
    if kind in ("i", "u", "f", "c") and size.isdigit():
        return f"{names[kind]}{int(size) * 8}"
    return f"numpy type {code!r}"


def _npy_header(file: Path, text: bytes, encoding: str) -> dict[str, Any]:
    """The header dict, checked to be what numpy writes."""
    try:
        header = ast.literal_eval(text.decode(encoding))
    except (ValueError, SyntaxError, UnicodeDecodeError, MemoryError, RecursionError):
        raise BadInput(f"{_FLAG} {file}: a .npy file whose header is not readable") from None
    if (
        not isinstance(header, dict)
        or set(header) != {"descr", "fortran_order", "shape"}
        or not isinstance(header["fortran_order"], bool)
        or not isinstance(header["shape"], tuple)
        or not all(isinstance(size, int) and size >= 0 for size in header["shape"])
    ):
        raise BadInput(
            f"{_FLAG} {file}: a .npy file whose header is not numpy's (descr, fortran_order, shape)"
        )
    return header
