"""Where a result came from: versions, the device's name, torch's back-ends and threads, the time.

Every command's JSON document and the smoke JUnit file carry this one object, so that a CI
result can be traced to what produced it. Building it never imports torch: a command that ran
torch (inspect, verify, bench, ...) has imported it already, and one that ran nothing (compare,
draw) reports torch's installed version from the package metadata and ``null`` for what only a
running torch can tell (threads, cuDNN, oneDNN). Importing torch there to fill them would cost
about a second on a command that takes a tenth of that.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

ENVIRONMENT_KEYS = ("rnnscope", "torch", "python", "device_name", "cudnn", "mkldnn", "threads", "time")


def environment(device: str | None = None) -> dict[str, Any]:
    """The run's provenance as plain values.

    Args:
        device: the device the run used, as its report names it (``cpu``, ``cuda:0``, ``mps``,
            ``meta``); None when the command computed nothing on a device.

    Returns:
        ``rnnscope``, ``torch`` and ``python``: versions as strings (``torch`` null when not
        installed); ``device_name``: the device's model (the CPU's as /proc/cpuinfo names it, the
        GPU's as torch names it), null without a device; ``cudnn``: cuDNN's version as torch
        reports it (e.g. ``"90100"``), ``"disabled"`` when turned off, null when this torch has
        none; ``mkldnn``: oneDNN's version (e.g. ``"3.12.0"``), ``"disabled"`` or null alike;
        ``threads``: torch's intra-op threads; ``time``: now, ISO 8601 in UTC. The last three
        torch fields are null when this process has not imported torch.
    """
    from rnnscope import __version__

    torch = sys.modules.get("torch")
    return {
        "rnnscope": __version__,
        "torch": _torch_version(torch),
        "python": platform.python_version(),
        "device_name": None if device is None else device_name(device, torch),
        "cudnn": None if torch is None else _cudnn(torch),
        "mkldnn": None if torch is None else _mkldnn(torch),
        "threads": None if torch is None else int(torch.get_num_threads()),
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _torch_version(torch: ModuleType | None) -> str | None:
    """The running torch's version, else the installed one's without importing it: torch's
    generated ``torch/version.py`` read as text (about 1 ms here; the package metadata took
    about 200 ms, scanning every installed distribution), the metadata where that file is not."""
    if torch is not None:
        return str(torch.__version__)
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return None
    try:
        text = (Path(spec.origin).parent / "version.py").read_text()
    except OSError:
        text = ""
    found = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
    if found:
        return found.group(1)
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return None


def device_name(device: str, torch: ModuleType | None) -> str:
    """The model of the device a run used: ``AMD EPYC``, ``NVIDIA H200``; meta says it holds nothing."""
    kind = device.partition(":")[0]
    if kind == "cuda" and torch is not None:
        return str(torch.cuda.get_device_name(torch.device(device)))
    if kind == "mps":
        return f"Apple GPU (MPS) on {platform.machine()}"
    if kind == "meta":
        return "meta (shapes only, nothing computed)"
    return cpu_name()


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else what the platform module knows."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cudnn(torch: ModuleType) -> str | None:
    version = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    if version is None:
        return None
    return str(version) if torch.backends.cudnn.enabled else "disabled"


def _mkldnn(torch: ModuleType) -> str | None:
    if not torch.backends.mkldnn.is_available():
        return None
    if not torch.backends.mkldnn.enabled:
        return "disabled"
    # torch has no function for oneDNN's version; its build summary names it ("MKL-DNN v3.12.0").
    found = re.search(r"MKL-DNN v([\d.]+)", torch.__config__.show())
    return found.group(1) if found else "enabled"
