"""rnnscope: see inside PyTorch's recurrent layers.

The Python API is what the CLI is a thin layer over::

    from rnnscope import inspect, make_spec, Kind
    report = inspect(make_spec(Kind.lstm, num_layers=2))
    report.ok, report.total_params, report.to_dict()

    from rnnscope import verify, run_smoke
    verify(make_spec(Kind.gru, num_layers=2), device="cpu", dtype="float32").checks
    run_smoke(device="cpu", quick=True).ok

    from rnnscope import bench, compare
    bench(make_spec(Kind.lstm), "cpu", iters=5).fraction_of_matmul

    from rnnscope import gradients
    gradients([make_spec(Kind.lstm)], forget_biases=(0.0, 3.0)).rows[1].horizon
    from rnnscope import load, read_checkpoint
    load("model.pt", expect="nn.LSTM(300, 512, num_layers=2)").expectation.mismatches
    checkpoint = read_checkpoint("model.pt")           # never runs the file's pickle
    layer = checkpoint.layers[0]                         # .prefix, .spec (a LayerSpec), .constructor
    checkpoint.state_dict(layer)                         # its tensors, keys without the prefix

    from rnnscope import run_model                       # imports and runs the code it names
    run_model("net.py:Seq2Seq", inputs=["4,7:int64:100"]).layers[1].calls

Importing the package does not import torch; calling ``inspect`` (or the others) does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rnnscope.errors import BadInput, ExitCode, RnnscopeError, RunFailed
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import make_spec

if TYPE_CHECKING:
    from rnnscope.benchmark import bench
    from rnnscope.checkpoint.loading import load
    from rnnscope.checkpoint.reader import read_checkpoint
    from rnnscope.comparison import compare
    from rnnscope.gradient_norms import gradients
    from rnnscope.inspection import inspect_layer as inspect
    from rnnscope.model.summary import run_model
    from rnnscope.smoke import run_smoke
    from rnnscope.verification import verify

__all__ = [
    "BadInput",
    "ExitCode",
    "Kind",
    "LayerSpec",
    "RnnscopeError",
    "RunFailed",
    "bench",
    "compare",
    "gradients",
    "inspect",
    "load",
    "make_spec",
    "read_checkpoint",
    "run_model",
    "run_smoke",
    "verify",
]
__version__ = "0.1.0"


# Each public function and where it lives, imported on first use, so that `rnnscope --help` never
# pays for `import torch`. (The library's name for inspect is inspect_layer: within the package,
# `inspect` is the standard library's.)
_LAZY = {
    "inspect": "rnnscope.inspection.inspect_layer",
    "verify": "rnnscope.verification.verify",
    "run_smoke": "rnnscope.smoke.run_smoke",
    "compare": "rnnscope.comparison.compare",
    "bench": "rnnscope.benchmark.bench",
    "gradients": "rnnscope.gradient_norms.gradients",
    "load": "rnnscope.checkpoint.loading.load",
    "run_model": "rnnscope.model.summary.run_model",
    "read_checkpoint": "rnnscope.checkpoint.reader.read_checkpoint",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'rnnscope' has no attribute {name!r}")
    module, _, attribute = _LAZY[name].rpartition(".")
    return getattr(importlib.import_module(module), attribute)
