"""rnnscope: see inside PyTorch's recurrent layers.

The Python API is what the CLI is a thin layer over::

    from rnnscope import inspect, make_spec, Kind
    report = inspect(make_spec(Kind.lstm, num_layers=2))
    report.ok, report.total_params, report.to_dict()

    from rnnscope import verify, run_smoke
    verify(make_spec(Kind.gru, num_layers=2), device="cpu", dtype="float32").checks
    run_smoke(device="cpu", quick=True).ok

Importing the package does not import torch; calling ``inspect`` (or the others) does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rnnscope.errors import BadInput, ExitCode, RnnscopeError, RunFailed
from rnnscope.spec import Kind, LayerSpec, make_spec

if TYPE_CHECKING:
    from rnnscope.inspection import inspect
    from rnnscope.smoke import run_smoke
    from rnnscope.verification import verify

__all__ = [
    "BadInput",
    "ExitCode",
    "Kind",
    "LayerSpec",
    "RnnscopeError",
    "RunFailed",
    "inspect",
    "make_spec",
    "run_smoke",
    "verify",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy, so that `rnnscope --help` never pays for `import torch`.
    if name == "inspect":
        from rnnscope.inspection import inspect

        return inspect
    if name == "verify":
        from rnnscope.verification import verify

        return verify
    if name == "run_smoke":
        from rnnscope.smoke import run_smoke

        return run_smoke
    raise AttributeError(f"module 'rnnscope' has no attribute {name!r}")
