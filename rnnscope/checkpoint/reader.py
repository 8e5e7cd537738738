"""Open a checkpoint file safely and list its tensors, by content, never by running it.

The library API (stable; ``layout --from FILE`` builds on it):

- :func:`read_checkpoint` (path) → :class:`Checkpoint`: the file's format, its recurrent layers
  (:class:`rnnscope.checkpoint.discovery.FoundLayer`: ``container``, ``prefix``, ``spec`` — a
  :class:`~rnnscope.layer.spec.LayerSpec` —, ``tensors``, ``constructor``), the problems found, notes.
- :meth:`Checkpoint.state_dict` (layer) → that layer's tensors as torch tensors, keyed without
  the prefix, ready for ``module.load_state_dict(..., strict=True)``.

Formats, recognised by their first bytes: ``torch.save`` zip archives (also TorchScript
archives, whose ``data.pkl`` pickles the module's attributes), the legacy pre-zip ``torch.save``
format, and safetensors. Only the pickle (or the safetensors header) is read to list the
tensors; a tensor's bytes are read only when its values are asked for, straight from where the
file stores them, so a file of many GB opens in about the time of a small one.

Nothing a file contains is ever executed: pickles are walked statically (pickle_reader.py), and
a pickle naming a call that picklescan rates dangerous is refused before anything else.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rnnscope.checkpoint.discovery import FoundLayer, Problem, TensorInfo, find_layers, full_name
from rnnscope.checkpoint.dtypes import ELEMENT_BYTES, SAFETENSORS_CODES
from rnnscope.checkpoint.pickle_reader import (
    Call,
    Instance,
    PickleError,
    StorageRef,
    TensorRef,
    Unpickled,
    dangerous_globals,
    read_pickle,
)
from rnnscope.checkpoint.tensor_bytes import LegacyValues, SafetensorsValues, ValueReader, ZipValues
from rnnscope.errors import BadInput

if TYPE_CHECKING:
    import torch

# The legacy (pre-1.6) torch.save format opens with this number, pickled.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_ZIP_MAGIC = b"PK\x03\x04"

FORMATS = {
    "zip": "torch.save zip archive",
    "torchscript": "TorchScript archive",
    "legacy": "legacy torch.save (pre-zip)",
    "safetensors": "safetensors",
}


@dataclass(frozen=True)
class Container:
    """One state_dict in the file: where it sits, and its tensors by key."""

    name: str  # where it sits: "" for the file itself, else e.g. "state_dict" or "model.state_dict"
    tensors: dict[str, TensorInfo]
    # A pickled module's (torch.save(model)): each module's plain attributes (batch_first, mode,
    # input_size, ...) by its prefix as the keys have it, read from the pickle, nothing run.
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Checkpoint:
    """What a checkpoint file holds, as read without running it."""

    path: Path
    format: str  # a key of FORMATS
    containers: list[Container]
    layers: list[FoundLayer]
    problems: list[Problem]
    reader: ValueReader = field(repr=False)  # where the tensors' bytes are, for state_dict()
    not_created: list[str] = field(default_factory=list)  # qualified names of objects left as placeholders

    @property
    def tensor_count(self) -> int:
        return sum(len(container.tensors) for container in self.containers)

    def state_dict(self, layer: FoundLayer) -> dict[str, torch.Tensor]:
        """The layer's tensors, keyed as the module names them (no prefix), read from the file.

        Raises:
            BadInput: the bytes are not where the file says (a truncated file).
        """
        return {name: self.reader.read(info) for name, info in layer.tensors.items()}


@dataclass(frozen=True)
class Saved:
    """What a ``torch.save`` file's pickle describes, walked statically: the object (tensors as
    :class:`TensorRef`, everything else plain values or placeholders) and where its bytes are."""

    format: str  # "zip", "torchscript" or "legacy"
    value: Any
    reader: ValueReader
    not_created: list[str]


def read_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Open the file, refuse it if its pickle would call something dangerous, find its layers.

    Raises:
        BadInput: a file that is missing, a directory, empty, truncated, not a checkpoint, or
            whose pickle names a dangerous call (naming it).
    """
    file, head = _opened(path)
    if _looks_like_safetensors(head):
        return _read_safetensors(file)
    saved = _read_saved(file, head)
    containers = _containers(file, saved.value)
    _refuse_unknown_dtypes(file, containers)
    return _assemble(file, saved.format, containers, saved.not_created, saved.reader)


def read_saved(path: str | os.PathLike[str]) -> Saved:
    """Open a ``torch.save`` file (zip or legacy) as :func:`read_checkpoint` does, and give the
    object it holds — a tensor saved on its own is a :class:`TensorRef`.

    Raises:
        BadInput: as :func:`read_checkpoint`, and for a safetensors file.
    """
    file, head = _opened(path)
    return _read_saved(file, head)


def _opened(path: str | os.PathLike[str]) -> tuple[Path, bytes]:
    """The file and its first 16 bytes, refusing one that is missing, a folder or empty."""
    file = Path(path)
    if not file.exists():
        raise BadInput(f"{file}: no such file")
    if file.is_dir():
        raise BadInput(f"{file}: is a directory, not a checkpoint file")
    try:
        with open(file, "rb") as handle:
            head = handle.read(16)
    except OSError as error:
        raise BadInput(f"{file}: cannot be read ({error.strerror})") from None
    if not head:
        raise BadInput(f"{file}: is empty, not a checkpoint")
    return file, head


def _read_saved(file: Path, head: bytes) -> Saved:
    if head.startswith(_ZIP_MAGIC):
        return _read_zip(file)
    if head[:1] == b"\x80":
        return _read_legacy(file)
    raise BadInput(
        f"{file}: not a checkpoint: expected a torch.save file (zip or legacy pickle) or safetensors"
    )


def _assemble(
    file: Path, format: str, containers: list[Container], not_created: list[str], reader: ValueReader
) -> Checkpoint:
    layers: list[FoundLayer] = []
    problems: list[Problem] = []
    for container in containers:
        found, trouble = find_layers(container.name, container.tensors, container.modules)
        layers += found
        problems += trouble
    return Checkpoint(file, format, containers, layers, problems, reader, not_created)


# --- pickles: refusal first, then the static walk ---------------------------------------------


def _refuse_dangerous(file: Path, pickle_bytes: bytes) -> None:
    try:
        dangerous = dangerous_globals(pickle_bytes, str(file))
    except PickleError as error:
        raise BadInput(f"{file}: refused: {error}") from None
    if dangerous:
        calls = ", ".join(dangerous)
        raise BadInput(f"{file}: refused: its pickle would call {calls}; nothing in it was run")


def _refuse_unknown_dtypes(file: Path, containers: list[Container]) -> None:
    """A tensor of a dtype whose element size rnnscope does not know (one a later torch may add)
    is refused: none of its bytes could be found."""
    for container in containers:
        for key, info in container.tensors.items():
            if info.dtype not in ELEMENT_BYTES:
                name = full_name(container.name, key)
                raise BadInput(
                    f"{file}: refused: tensor {name!r} is torch.{info.dtype}, a dtype rnnscope does not "
                    "know (it reads those torch 2.13 saves)"
                )


def _containers(file: Path, value: Any) -> list[Container]:
    try:
        return containers_of(value)
    except RecursionError:
        raise BadInput(f"{file}: not a readable checkpoint: its objects nest too deeply") from None


def containers_of(value: Any) -> list[Container]:
    """Every state_dict in an unpickled object: dicts holding tensors, and pickled modules.

    Keys of a pickled ``nn.Module`` (``torch.save(model)``) or a TorchScript module are built
    the way ``state_dict()`` builds them: parameters and buffers by name, submodules dotted.
    """
    found: list[Container] = []
    _walk(value, "", found, set())
    return [container for container in found if container.tensors]


def _join(where: str, key: object) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def _walk(value: Any, where: str, found: list[Container], seen: set[int]) -> None:
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, dict):
        tensors = {str(key): _info(item) for key, item in value.items() if isinstance(item, TensorRef)}
        if tensors:
            found.append(Container(where, tensors))
        for key, item in value.items():
            if not isinstance(item, TensorRef):
                _walk(item, _join(where, key if isinstance(key, str | int) else str(key)), found, seen)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk(item, _join(where, index), found, seen)
    elif isinstance(value, Instance | Call) and isinstance(value.state, dict):
        if _is_module(value.state):
            module = Container(where, {})
            _module_tensors(value.state, "", module, set())
            found.append(module)
        else:
            _walk(value.state, where, found, seen)


def _is_module(state: dict[Any, Any]) -> bool:
    """An nn.Module's __dict__ (eager), or a TorchScript object holding tensors or submodules."""
    if "_parameters" in state and "_modules" in state:
        return True
    return "training" in state and any(
        isinstance(item, TensorRef)
        or (isinstance(item, Instance | Call) and isinstance(item.state, dict) and _is_module(item.state))
        for item in state.values()
    )


# The attributes of a pickled module worth keeping: its constructor's settings are plain values.
_PLAIN = (bool, int, float, str)


def _module_tensors(state: dict[Any, Any], prefix: str, module: Container, seen: set[int]) -> None:
    if id(state) in seen:
        return
    seen.add(id(state))
    if "_parameters" in state and "_modules" in state:
        for group in ("_parameters", "_buffers"):
            for name, item in (state.get(group) or {}).items():
                if isinstance(item, TensorRef):
                    module.tensors[prefix + str(name)] = _info(item)
        module.modules[prefix.removesuffix(".")] = {
            name: item
            for name, item in state.items()
            if isinstance(name, str) and not name.startswith("_") and isinstance(item, _PLAIN)
        }
        children = state.get("_modules") or {}
    else:  # TorchScript: attributes hold tensors and submodules directly
        for name, item in state.items():
            if isinstance(item, TensorRef):
                module.tensors[prefix + str(name)] = _info(item)
        children = state
    for name, child in children.items():
        if isinstance(child, Instance | Call) and isinstance(child.state, dict) and _is_module(child.state):
            _module_tensors(child.state, f"{prefix}{name}.", module, seen)


def _info(ref: TensorRef) -> TensorInfo:
    return TensorInfo(shape=ref.shape, dtype=ref.dtype, ref=ref)


# --- zip archives ---------------------------------------------------------------------------


def _read_zip(file: Path) -> Saved:
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, OSError) as error:
        raise BadInput(f"{file}: not a readable zip archive ({error}); truncated?") from None
    with archive:
        names = archive.namelist()
        pickles = [name for name in names if name.endswith("/data.pkl") and name.count("/") == 1]
        if not pickles:
            raise BadInput(f"{file}: a zip archive without data.pkl: not a torch.save checkpoint")
        # The top folder is the name the file was saved under, not always "archive/".
        top = pickles[0].rpartition("/")[0]
        for name in names:  # TorchScript keeps more pickles (constants.pkl): none may be dangerous
            if name.endswith(".pkl"):
                _refuse_dangerous(file, _member(archive, file, name))
        unpickled = _unpickle(file, io.BytesIO(_member(archive, file, pickles[0])))
        byteorder = f"{top}/byteorder"
        if byteorder in names and _member(archive, file, byteorder).strip() != b"little":
            raise BadInput(f"{file}: a big-endian checkpoint; only little-endian files are supported")
        torchscript = any(name == f"{top}/constants.pkl" or name.startswith(f"{top}/code/") for name in names)
        members = {info.filename: info for info in archive.infolist()}
    format = "torchscript" if torchscript else "zip"
    return Saved(format, unpickled.value, ZipValues(file, top, members), unpickled.not_created)


def _member(archive: zipfile.ZipFile, file: Path, name: str) -> bytes:
    try:
        return archive.read(name)
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise BadInput(f"{file}: member {name} cannot be read ({error}); truncated?") from None


# --- the legacy format: pickles, then each storage as (numel: int64, bytes) -------------------


def _read_legacy(file: Path) -> Saved:
    with open(file, "rb") as handle:
        # magic number, protocol version, sys_info, the object, the storage keys
        ends = _pickle_ends(handle, count=5)
        handle.seek(0)
        pickle_bytes = handle.read(ends[-1] if ends else 0)
    # Whatever pickles could be walked are checked before anything else is said about the file.
    _refuse_dangerous(file, pickle_bytes)
    stream = io.BytesIO(pickle_bytes)
    if not ends or _unpickle(file, stream).value != LEGACY_MAGIC:
        raise BadInput(f"{file}: not a checkpoint: a pickle, but not one torch.save wrote")
    if len(ends) < 5:
        raise BadInput(f"{file}: not a readable legacy checkpoint (its pickles end early; truncated?)")
    parts = [_unpickle(file, stream) for _ in range(4)]
    unpickled, keys = parts[2], parts[3].value
    if not isinstance(keys, list):
        raise BadInput(f"{file}: not a readable legacy checkpoint (no storage key list)")
    storages = _storages(unpickled.value)
    reader = LegacyValues(file, ends[-1], [str(key) for key in keys], storages)
    return Saved("legacy", unpickled.value, reader, unpickled.not_created)


def _pickle_ends(handle: IO[bytes], count: int) -> list[int]:
    """Byte offsets where each of the first ``count`` pickles ends (fewer where one does not)."""
    import pickletools

    ends: list[int] = []
    for _ in range(count):
        try:
            stopped = False
            for opcode, _argument, _position in pickletools.genops(handle):
                stopped = opcode.name == "STOP"
        except Exception:  # untrusted bytes: wherever genops gives up, the pickles end
            return ends
        if not stopped:
            return ends
        ends.append(handle.tell())
    return ends


def _unpickle(file: Path, stream: IO[bytes]) -> Unpickled:
    """The next pickle in ``stream``, walked statically; a malformed one is a bad file."""
    try:
        return read_pickle(stream)
    except PickleError as error:
        raise BadInput(f"{file}: not a readable checkpoint: {error}") from None


def _storages(value: Any) -> dict[str, StorageRef]:
    """The storage of every tensor anywhere in the object, by key: the legacy format's records
    are hopped over by each storage's element size, whether or not a state_dict holds it."""
    found: dict[str, StorageRef] = {}
    pending, seen = [value], set()
    while pending:  # a loop, not recursion: a file may nest its objects deeply
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, TensorRef):
            found[item.storage.key] = item.storage
        elif isinstance(item, dict):
            pending += item.values()
        elif isinstance(item, list | tuple):
            pending += item
        elif isinstance(item, Instance | Call):
            pending += (item.args, item.state)
    return found


# --- safetensors ----------------------------------------------------------------------------


def _looks_like_safetensors(head: bytes) -> bool:
    """Eight bytes of header length (little-endian), then the JSON header's opening brace."""
    return len(head) >= 9 and head[8:9] == b"{"


def _read_safetensors(file: Path) -> Checkpoint:
    try:
        from safetensors import safe_open
    except ImportError:
        raise BadInput(
            f"{file}: a safetensors file, but the safetensors package is not installed: "
            "pip install 'rnnscope[safetensors]'"
        ) from None
    for key, code in _dtype_codes(file).items():
        if isinstance(code, str) and code not in SAFETENSORS_CODES:
            raise BadInput(
                f"{file}: refused: tensor {key!r} has dtype code {code!r}, which rnnscope does not read "
                f"(it reads {', '.join(SAFETENSORS_CODES)})"
            )
    try:
        with safe_open(str(file), framework="pt") as opened:
            tensors = {}
            for key in opened.keys():  # noqa: SIM118 (safe_open is not a mapping)
                entry = opened.get_slice(key)
                dtype = SAFETENSORS_CODES[entry.get_dtype()]
                tensors[key] = TensorInfo(shape=tuple(entry.get_shape()), dtype=dtype, ref=key)
    except Exception as error:  # safetensors raises its own SafetensorError for every bad header
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BadInput(f"{file}: not a readable safetensors file ({first})") from None
    return _assemble(file, "safetensors", [Container("", tensors)], [], SafetensorsValues(file))


# The largest header the safetensors library reads (its MAX_HEADER_SIZE).
_SAFETENSORS_MAX_HEADER = 100_000_000


def _dtype_codes(file: Path) -> dict[str, object]:
    """Each tensor's dtype code as the header writes it (8 bytes of length, then JSON). A header
    that cannot be read gives none: the safetensors library then says what is wrong with it."""
    with open(file, "rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        if length > _SAFETENSORS_MAX_HEADER:
            return {}
        text = handle.read(length)
    try:
        header = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(header, dict):
        return {}
    return {
        str(key): entry.get("dtype")
        for key, entry in header.items()
        if key != "__metadata__" and isinstance(entry, dict)
    }
