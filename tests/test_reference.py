"""The textbook reference against torch's own recurrent layers, over random configurations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnscope.execution.probe import Probe, probe
from rnnscope.execution.reference import reference_forward
from rnnscope.execution.runtime import torch
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import make_spec


@st.composite
def layer_specs(draw: st.DrawFn, packed: bool | None = None) -> LayerSpec:
    """Small layers and cells of every kind, with every option the reference handles.

    ``packed`` True forces --lengths, False rules it out, None lets hypothesis choose.
    """
    kind = draw(st.sampled_from(list(Kind)))
    cell = False if packed else draw(st.booleans())
    hidden = draw(st.integers(2, 6))
    options: dict[str, Any] = {
        "input_size": draw(st.integers(1, 6)),
        "hidden_size": hidden,
        "bias": draw(st.booleans()),
        "initial_state": draw(st.booleans()),
    }
    if kind is Kind.rnn:
        options["nonlinearity"] = draw(st.sampled_from(["tanh", "relu"]))
    with_lengths = (not cell) and (packed if packed is not None else draw(st.booleans()))
    unbatched = False if with_lengths else draw(st.booleans())
    options["unbatched"] = unbatched
    if cell:
        return make_spec(kind, cell=True, batch=None if unbatched else draw(st.integers(1, 4)), **options)
    layers = draw(st.integers(1, 3))
    seq_len = draw(st.integers(1, 6))
    options |= {
        "num_layers": layers,
        "bidirectional": draw(st.booleans()),
        "batch_first": draw(st.booleans()),
        "seq_len": seq_len,
        # eval mode must switch dropout off: the reference has none
        "dropout": draw(st.sampled_from([0.0, 0.5])) if layers > 1 else 0.0,
    }
    if kind is Kind.lstm:
        options["proj_size"] = draw(st.integers(0, hidden - 1))
    if with_lengths:
        lengths = draw(st.lists(st.integers(1, seq_len), min_size=1, max_size=4))
        return make_spec(kind, lengths=tuple(lengths), **options)
    return make_spec(kind, batch=None if unbatched else draw(st.integers(1, 4)), **options)


def run_both(spec: LayerSpec, seed: int) -> tuple[Probe, dict[str, torch.Tensor]]:
    ran = probe(spec, "cpu", "float64", seed, training=False)
    weights = {name: parameter.detach() for name, parameter in ran.module.named_parameters()}
    with torch.no_grad():
        return ran, reference_forward(spec, weights, ran.inputs)


@settings(max_examples=40, deadline=None)
@given(spec=layer_specs(), seed=st.integers(0, 2**16))
def test_reference_equals_torch(spec: LayerSpec, seed: int) -> None:
    ran, reference = run_both(spec, seed)
    assert set(reference) == set(ran.outputs)
    for name, tensor in reference.items():
        torch.testing.assert_close(tensor, ran.outputs[name], msg=f"{name} of {spec}")


@settings(max_examples=25, deadline=None)
@given(spec=layer_specs(packed=True), seed=st.integers(0, 2**16))
def test_packed_final_state_is_each_sequences_last_valid_output(spec: LayerSpec, seed: int) -> None:
    """As torch computes it: h_n (last layer) is the forward output at step length − 1 and the
    reverse output at step 0; past its length a sequence's output is zero. The reference too."""
    assert spec.lengths is not None
    ran, reference = run_both(spec, seed)
    h_out, last = spec.h_out, (spec.num_layers - 1) * spec.directions
    for outputs in (ran.outputs, reference):
        padded = outputs["output_padded"]
        if spec.batch_first:
            padded = padded.transpose(0, 1)  # (N, L, ·) → (L, N, ·)
        for sequence, length in enumerate(spec.lengths):
            forward_final = outputs["h_n"][last, sequence]
            torch.testing.assert_close(forward_final, padded[length - 1, sequence, :h_out])
            if spec.bidirectional:
                reverse_final = outputs["h_n"][last + 1, sequence]
                torch.testing.assert_close(reverse_final, padded[0, sequence, h_out:])
            assert not padded[length:, sequence].any()


# Every torch entry point that computes a recurrence for you.
_VF_RECURRENCES = (
    "rnn_tanh",
    "rnn_relu",
    "lstm",
    "gru",
    "rnn_tanh_cell",
    "rnn_relu_cell",
    "lstm_cell",
    "gru_cell",
)


@pytest.mark.parametrize(
    "spec",
    [
        make_spec(Kind.lstm, num_layers=2, bidirectional=True, proj_size=3, seq_len=4, batch=2),
        make_spec(Kind.gru, num_layers=2, bidirectional=True, lengths=(4, 2, 3), seq_len=4),
        make_spec(Kind.rnn, nonlinearity="relu", num_layers=2, seq_len=4, batch=2),
        make_spec(Kind.lstm, cell=True, batch=2),
        make_spec(Kind.gru, cell=True, batch=2),
        make_spec(Kind.rnn, cell=True, nonlinearity="relu", batch=2),
    ],
    ids=["lstm", "gru-packed", "rnn-relu", "lstm-cell", "gru-cell", "rnn-cell"],
)
def test_reference_uses_no_torch_recurrence(spec: LayerSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    ran = probe(spec, "cpu", "float64", 0, training=False)
    weights = {name: parameter.detach() for name, parameter in ran.module.named_parameters()}

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the reference called a torch recurrence")

    for name in _VF_RECURRENCES:
        monkeypatch.setattr(torch._VF, name, refuse)
    for module_class in (torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU, torch.nn.RNNCell):
        monkeypatch.setattr(module_class, "forward", refuse)
    monkeypatch.setattr(torch.nn.LSTMCell, "forward", refuse)
    monkeypatch.setattr(torch.nn.GRUCell, "forward", refuse)
    reference = reference_forward(spec, weights, ran.inputs)
    for name, tensor in reference.items():
        torch.testing.assert_close(tensor, ran.outputs[name])
