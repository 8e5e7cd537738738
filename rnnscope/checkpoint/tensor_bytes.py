"""Where a tensor's bytes are in a checkpoint file, and reading only those.

A checkpoint lists its tensors in a pickle (or a safetensors header); their values sit elsewhere
in the file. Each reader here seeks straight to one tensor's bytes — offset and extent from its
storage offset, shape and stride — so a file of many GB costs what its recurrent layers cost.
"""

from __future__ import annotations

import struct
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from rnnscope.checkpoint.discovery import TensorInfo
from rnnscope.checkpoint.dtypes import ELEMENT_BYTES, torch_dtype
from rnnscope.checkpoint.pickle_reader import StorageRef, TensorRef
from rnnscope.errors import BadInput

if TYPE_CHECKING:
    import torch

_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # a zip member's local file header, 30 bytes


class ValueReader(ABC):
    """Reads one tensor's bytes from the file, and only those: one subclass per format."""

    file: Path

    @abstractmethod
    def read(self, info: TensorInfo) -> torch.Tensor:
        """The tensor ``info`` describes, its values read from this format's layout of the file."""

    def _tensor(self, data: bytes, ref: TensorRef) -> torch.Tensor:
        from rnnscope.execution.runtime import torch

        dtype = torch_dtype(ref.dtype, f"{self.file}: storage {ref.storage.key}")
        if len(data) < ref.span * ELEMENT_BYTES[ref.dtype]:
            raise BadInput(f"{self.file}: the bytes of storage {ref.storage.key} are cut short; truncated?")
        if ref.numel == 0:
            return torch.empty(ref.shape, dtype=dtype)
        flat = torch.frombuffer(bytearray(data), dtype=dtype)
        return flat.as_strided(ref.shape, ref.stride).clone()


class ZipValues(ValueReader):
    def __init__(self, file: Path, top: str, members: dict[str, zipfile.ZipInfo]) -> None:
        self.file, self.top, self.members = file, top, members

    def read(self, info: TensorInfo) -> torch.Tensor:
        ref = info.ref
        name = f"{self.top}/data/{ref.storage.key}"
        member = self.members.get(name)
        if member is None:
            raise BadInput(f"{self.file}: storage {name} is missing from the archive")
        size = ELEMENT_BYTES[ref.dtype]
        start, length = ref.offset * size, ref.span * size
        with open(self.file, "rb") as handle:
            if member.compress_type == zipfile.ZIP_STORED:
                # torch.save stores storages uncompressed: seek straight to the tensor's bytes.
                handle.seek(member.header_offset)
                header = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
                name_length, extra_length = header[-2], header[-1]
                handle.seek(member.header_offset + _LOCAL_HEADER.size + name_length + extra_length + start)
                data = handle.read(length)
            else:
                with zipfile.ZipFile(handle) as archive, archive.open(member) as stream:
                    stream.seek(start)
                    data = stream.read(length)
        return self._tensor(data, ref)


class LegacyValues(ValueReader):
    def __init__(self, file: Path, data_start: int, keys: list[str], storages: dict[str, StorageRef]) -> None:
        self.file, self.data_start, self.keys, self.storages = file, data_start, keys, storages
        self._offsets: dict[str, int] | None = None

    def _locate(self) -> dict[str, int]:
        """Each storage's first data byte: hop over the (numel, bytes) records, reading 8 bytes each."""
        if self._offsets is None:
            offsets = {}
            position = self.data_start
            with open(self.file, "rb") as handle:
                for key in self.keys:
                    handle.seek(position)
                    header = handle.read(8)
                    if len(header) < 8:
                        raise BadInput(f"{self.file}: storage {key} is cut short; truncated?")
                    (numel,) = struct.unpack("<q", header)
                    storage = self.storages.get(key)
                    element = ELEMENT_BYTES[storage.dtype] if storage else 1
                    offsets[key] = position + 8
                    position += 8 + numel * element
            self._offsets = offsets
        return self._offsets

    def read(self, info: TensorInfo) -> torch.Tensor:
        ref = info.ref
        offsets = self._locate()
        if ref.storage.key not in offsets:
            raise BadInput(f"{self.file}: storage {ref.storage.key} is not in the file")
        size = ELEMENT_BYTES[ref.dtype]
        with open(self.file, "rb") as handle:
            handle.seek(offsets[ref.storage.key] + ref.offset * size)
            data = handle.read(ref.span * size)
        return self._tensor(data, ref)


class SafetensorsValues(ValueReader):
    def __init__(self, file: Path) -> None:
        self.file = file

    def read(self, info: TensorInfo) -> torch.Tensor:
        from safetensors import safe_open

        with safe_open(str(self.file), framework="pt") as opened:
            tensor: torch.Tensor = opened.get_tensor(str(info.ref))
        return tensor
