"""Files for the load tests, made at test time from real modules (and crafted pickles)."""

from __future__ import annotations

import pickle
import sys
import textwrap
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnscope.checkpoint.expectation import parse_constructor


def build(constructor: str) -> nn.Module:
    """The module a printed constructor describes, built on the CPU (parsed, not evaluated)."""
    parsed = parse_constructor(constructor)
    module: nn.Module = getattr(nn, parsed.class_name)(*parsed.args, **parsed.kwargs)
    return module


def save(path: Path, value: Any, **options: Any) -> Path:
    torch.save(value, path, **options)
    return path


class TwoLayers(nn.Module):
    """Several recurrent layers beside names that only look recurrent."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn1 = nn.LSTM(32, 16, bidirectional=True)
        self.proj = nn.Linear(32, 8)  # a Linear called proj beside an LSTM: not a projection
        self.rnn2 = nn.GRU(8, 4, num_layers=2, batch_first=True)
        self.cell = nn.RNNCell(4, 3, nonlinearity="relu")
        self.lstm = nn.Sequential()
        self.lstm.add_module("fc1", nn.Linear(3, 3))  # …lstm.fc1.weight: not a recurrent tensor


class LookalikeCell(nn.Module):
    """A custom module whose tensors carry exactly nn.LSTMCell's names and shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.weight_ih = nn.Parameter(torch.randn(20, 3))
        self.weight_hh = nn.Parameter(torch.randn(20, 5))
        self.bias_ih = nn.Parameter(torch.randn(20))
        self.bias_hh = nn.Parameter(torch.randn(20))


class Reduces:
    """Pickles as a call of ``func(*args)``: what a malicious file does."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def malicious_zip(path: Path, func: Any, *args: Any, protocol: int = 2) -> Path:
    """A torch.save-shaped zip whose data.pkl would call ``func(*args)`` if it were unpickled."""
    state = {"weight_ih_l0": torch.zeros(4, 2), "weight_hh_l0": torch.zeros(4, 4)}
    payload = pickle.dumps({"state_dict": state, "hook": Reduces(func, *args)}, protocol=protocol)
    top = path.stem
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{top}/data.pkl", payload)
        archive.writestr(f"{top}/byteorder", "little")
        archive.writestr(f"{top}/version", "3\n")
    return path


def lightning_checkpoint(path: Path, library_dir: Path) -> Path:
    """A Lightning-style checkpoint whose hyper_parameters pickle a class of a throwaway library.

    The library is importable only while the file is written; afterwards it is gone from
    sys.path and sys.modules, so nothing could import it when the file is read.
    """
    package = library_dir / "forecastlib_for_rnnscope_tests"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "metrics.py").write_text(
        textwrap.dedent(
            """
            class QuantileLoss:
                def __init__(self, quantiles):
                    self.quantiles = quantiles
            """
        )
    )
    sys.path.insert(0, str(library_dir))
    try:
        from forecastlib_for_rnnscope_tests.metrics import QuantileLoss  # type: ignore[import-not-found]

        model = nn.LSTM(7, 12, num_layers=2, batch_first=True)
        optimizer = torch.optim.Adam(model.parameters())
        model(torch.randn(2, 3, 7))[0].sum().backward()
        optimizer.step()
        checkpoint = {
            "epoch": 3,
            "global_step": 120,
            "pytorch-lightning_version": "2.4.0",
            "state_dict": {f"model.encoder.{k}": v for k, v in model.state_dict().items()},
            "optimizer_states": [optimizer.state_dict()],
            "lr_schedulers": [],
            "hyper_parameters": {"loss": QuantileLoss([0.1, 0.5, 0.9]), "hidden_size": 12},
        }
        torch.save(checkpoint, path)
    finally:
        sys.path.remove(str(library_dir))
        for name in [name for name in sys.modules if name.startswith("forecastlib_for_rnnscope_tests")]:
            del sys.modules[name]
    return path
