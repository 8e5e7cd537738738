"""``rnnscope model`` on real libraries' model classes, where their packages are installed:
each recurrent call found with the counts and shapes that hooks of this test's own see.

torchaudio from the package index ships ``_torchaudio.so`` linked against CUDA, so beside the CPU
torch it cannot load; its models are pure Python, so the extension loader is shown an empty
folder (``.ci/run`` installs torchaudio without its dependencies for these tests)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import torch
from torch import nn

from rnnscope.model.summary import run_model
from tests.test_model import hooked_calls, macs, rows_of, shape

MODELS = str(Path(__file__).parent / "library_models.py")


@pytest.fixture(scope="module")
def torchaudio() -> Any:
    if importlib.util.find_spec("torchaudio") is None:
        pytest.skip("torchaudio is not installed")
    glob = Path.glob

    def no_extension(self: Path, pattern: str, **options: Any) -> Any:
        if self.name == "lib" and self.parent.name == "torchaudio":
            return iter([])
        return glob(self, pattern, **options)

    with mock.patch.object(Path, "glob", no_extension):
        import torchaudio

    return torchaudio


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # The encoder's bidirectional LSTM takes a PackedSequence; the decoder's two LSTMCells
        # run once per mel frame (9 here).
        ("tacotron", {"encoder.lstm": 1, "decoder.attention_rnn": 9, "decoder.decoder_rnn": 9}),
        # Two batch-first GRUs, each given h_0.
        ("wavernn", {"rnn1": 1, "rnn2": 1}),
    ],
)
def test_torchaudio_models(torchaudio: Any, name: str, expected: dict[str, int]) -> None:
    report = run_model(f"{MODELS}:{name}")
    assert report.ok, report.error
    assert {layer.path: layer.calls for layer in report.layers} == expected
    import library_models  # type: ignore[import-not-found]  # run_model imported it from its folder

    torch.manual_seed(0)
    network, args = getattr(library_models, name)()
    calls = hooked_calls(network, args, {})
    for layer in report.layers:
        module = dict(network.named_modules())[layer.path]
        seen = calls[layer.path]
        first_args, _, first_output = seen[0]
        assert layer.signatures[0].input == shape(first_args[0])
        assert layer.signatures[0].state_in == shape(first_args[1] if len(first_args) > 1 else None)
        final = first_output if isinstance(module, nn.RNNCellBase) else first_output[1]
        assert layer.signatures[0].state_out == shape(final)
        assert layer.macs == sum(macs(module, rows_of(call[0][0], module)) for call in seen)
        assert layer.verify is not None and layer.verify.ok
    if name == "tacotron":
        assert isinstance(report.layers[0].signatures[0].input, dict)  # packed: data and batch_sizes
