"""Torch at run time: a quiet import, devices, dtypes, memory, and warnings as notes.

The CLI imports this module only inside commands, so ``rnnscope --help`` and shell completion
never pay for ``import torch``.
"""

from __future__ import annotations

import gc
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rnnscope.errors import BadInput, RunFailed

# `import torch` creates a few hundred thousand objects, and the cyclic garbage collector walks
# them again and again as they pile up; none of them is garbage. With the collector off during
# the import, the import takes about 0.89× its time (measured here, paired runs).
_collecting = gc.isenabled()
gc.disable()
try:
    with warnings.catch_warnings():
        # torch warns at import when numpy is absent; rnnscope never converts to numpy, so the
        # warning is noise on every command's stderr.
        warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
        import torch as torch  # re-exported: the one place rnnscope imports torch
finally:
    if _collecting:
        gc.enable()

if TYPE_CHECKING:
    from rnnscope.layer.spec import LayerSpec

GIB = 1024**3


TORCH_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def resolve_device(name: str, computes: bool = False) -> torch.device:
    """Turn ``--device`` into a device that exists here.

    ``computes``: the command needs values, so the devices suggested instead leave out meta.

    Raises:
        BadInput: CUDA or MPS asked for where there is none, or a CUDA index past the last.
    """
    instead = "cpu or auto" if computes else "cpu, auto or meta"
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise BadInput(
                f"--device {name}: CUDA is not available here (torch {torch.__version__}, "
                f"{build}); use --device {instead}"
            )
        count = torch.cuda.device_count()
        index = int(name.partition(":")[2] or torch.cuda.current_device())
        if index >= count:
            raise BadInput(
                f"--device {name}: this machine has {count} CUDA device(s), cuda:0 to cuda:{count - 1}"
            )
        return torch.device("cuda", index)
    if name == "mps" and not torch.backends.mps.is_available():
        raise BadInput(f"--device mps: MPS is not available here; use --device {instead}")
    return torch.device(name)


def manual_seed(seed: int, device: torch.device) -> None:
    """Seed the generator a run on ``device`` draws from, as ``torch.manual_seed`` does.

    On the CPU (and meta) only the CPU generator: ``torch.manual_seed`` also queues a CUDA
    seeding for later wherever CUDA is not initialised, formatting the caller's stack each time
    (about 1 ms here, a quarter of a small configuration's time in a sweep) into a queue that
    grows with every call.
    """
    if device.type in ("cpu", "meta"):
        torch.default_generator.manual_seed(seed)
    else:
        torch.manual_seed(seed)


def available_bytes(device: torch.device) -> int | None:
    """Free memory on the device, or None where it cannot be known (meta, MPS)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "cpu":
        return _cpu_available_bytes()
    return None


def _cpu_available_bytes() -> int:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_fits(spec: LayerSpec, device: torch.device, needed: int) -> None:
    """Refuse, before allocating, a configuration that cannot fit the device.

    Raises:
        BadInput: saying how much it needs, how much there is, and to try ``--device meta``.
    """
    available = available_bytes(device)
    if available is not None and needed > available:
        raise BadInput(
            f"this {spec.torch_class_name} needs about {needed / GIB:,.1f} GiB on {device} but "
            f"{available / GIB:,.1f} GiB is available; use --device meta to see its shapes, "
            "parameters and cost without allocating"
        )


@contextmanager
def notes_from_warnings(notes: list[str]) -> Iterator[None]:
    """Collect what torch warns about (dropout with one layer, oneDNN fallbacks) as notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        text = str(warning.message).split(" (Triggered internally")[0].strip()
        if text not in notes:
            notes.append(text)


@contextmanager
def run_failures(device: torch.device) -> Iterator[None]:
    """Turn torch's run-time failures into one line with exit code 3."""
    try:
        yield
    # torch.cuda.OutOfMemoryError: every torch from the floor (2.4) on has it, and where
    # torch.OutOfMemoryError exists too it is the same class.
    except torch.cuda.OutOfMemoryError as error:
        # CUDA's message is one long line (capacity, what is free, allocator advice, a link);
        # its first two sentences say what failed: "CUDA out of memory. Tried to allocate 64.00 MiB".
        first = str(error).splitlines()[0]
        tried = re.match(r".*?Tried to allocate \S+ \S+?(?=\.)", first)
        first = tried.group(0) if tried else first
        raise RunFailed(
            f"out of memory on {device}: {first}; try a smaller --batch or --seq-len, or --device meta"
        ) from error
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        elsewhere = "try --device cpu or --dtype float32" if device.type != "cpu" else "--debug shows where"
        raise RunFailed(f"the run failed on {device}: {first}; {elsewhere}") from error


@contextmanager
def guarded_run(device: torch.device, notes: list[str]) -> Iterator[None]:
    """A run on ``device``: torch's failures become one line (``run_failures``), its warnings
    the report's ``notes`` (``notes_from_warnings``)."""
    with run_failures(device), notes_from_warnings(notes):
        yield
