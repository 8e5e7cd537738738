"""The element types a checkpoint's tensors may have: torch's name for each, its size, how each
format writes it, and which hold numbers a summary can be made of. No torch at import.

``torch.save`` writes the dtypes of the legacy storage classes (``FloatStorage``, ...) with
``torch._utils._rebuild_tensor_v2``; every newer dtype (float8, uint16/32/64, the bits types,
complex32: ``torch.storage._new_dtypes()``) as an ``UntypedStorage``, sized in bytes, and
``_rebuild_tensor_v3``, which names the dtype (``torch.Tensor._reduce_ex_internal``, torch 2.4
to 2.13). A dtype not listed here is refused in one line: its element size is unknown, so no
byte of it can be found.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rnnscope.errors import BadInput
from rnnscope.layer.spec import DTYPE_BYTES

if TYPE_CHECKING:
    import torch

# Bytes per element of every dtype torch can save, by torch's name.
_FLOATS = {
    **DTYPE_BYTES,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
    "float8_e4m3fnuz": 1,
    "float8_e5m2fnuz": 1,
    "float8_e8m0fnu": 1,
}
_INTEGERS = {"int64": 8, "int32": 4, "int16": 2, "int8": 1, "uint8": 1, "uint16": 2, "uint32": 4, "uint64": 8}
# Values that are not one real number each: no mean or std of them means anything (complex,
# bool), or torch cannot convert them (bits, two float4 packed in a byte, quantized integers).
_NOT_NUMBERS = {
    "bool": 1,
    "complex32": 4,
    "complex64": 8,
    "complex128": 16,
    "float4_e2m1fn_x2": 1,
    "bits8": 1,
    "bits16": 2,
    "bits1x8": 1,
    "bits2x4": 1,
    "bits4x2": 1,
    "qint8": 1,
    "quint8": 1,
    "qint32": 4,
    "quint4x2": 1,
    "quint2x4": 1,
}
ELEMENT_BYTES = {**_FLOATS, **_INTEGERS, **_NOT_NUMBERS}

# torch's legacy storage classes, as pickled in persistent ids, and the dtype each one holds.
# An UntypedStorage holds bytes: its size in the id counts bytes.
STORAGE_CLASSES = {
    "FloatStorage": "float32",
    "DoubleStorage": "float64",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "QInt8Storage": "qint8",
    "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32",
    "QUInt4x2Storage": "quint4x2",
    "QUInt2x4Storage": "quint2x4",
    "UntypedStorage": "uint8",
}

# safetensors' dtype codes and torch's names for them. F4 and F6_* count 4- and 6-bit elements,
# which no torch dtype holds one of: they are not read.
SAFETENSORS_CODES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "F8_E4M3FNUZ": "float8_e4m3fnuz",
    "F8_E5M2FNUZ": "float8_e5m2fnuz",
    "F8_E8M0": "float8_e8m0fnu",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
    "C64": "complex64",
}


def holds_numbers(dtype: str) -> bool:
    """Whether each element is one real number (any float, float8 too, or integer), so that a
    mean, std, min and max of the values mean something."""
    return dtype in _FLOATS or dtype in _INTEGERS


def torch_dtype(name: str, where: str) -> torch.dtype:
    """torch's dtype of that name, or one line saying this torch has none (float8_e8m0fnu came
    after the torch floor, 2.4).

    Raises:
        BadInput: this torch has no such dtype; ``where`` begins the line.
    """
    from rnnscope.execution.runtime import torch

    found = getattr(torch, name, None)
    if not isinstance(found, torch.dtype):
        raise BadInput(
            f"{where}: its values are {name}, a dtype this torch ({torch.__version__}) does not have; "
            "a newer torch reads them"
        )
    return found
