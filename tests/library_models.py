"""Real libraries' model classes, small, for ``rnnscope model`` (tests/test_model_libraries.py).

torchaudio's models are pure Python; its compiled extension is not needed to build or run them.
"""

import torch
from torch import nn
from torchaudio.models import Tacotron2, WaveRNN


def tacotron() -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    model = Tacotron2(
        n_symbol=20,
        symbol_embedding_dim=32,
        encoder_embedding_dim=32,
        encoder_n_convolution=1,
        encoder_kernel_size=3,
        decoder_rnn_dim=48,
        decoder_max_step=50,
        decoder_dropout=0.0,
        attention_rnn_dim=40,
        attention_hidden_dim=16,
        attention_location_n_filter=4,
        attention_location_kernel_size=3,
        prenet_dim=24,
        postnet_n_convolution=1,
        postnet_kernel_size=3,
        postnet_embedding_dim=16,
        n_mels=10,
    )
    tokens = torch.randint(0, 20, (2, 7))
    token_lengths = torch.tensor([7, 5])
    mel = torch.randn(2, 10, 9)
    mel_lengths = torch.tensor([9, 6])
    return model, (tokens, token_lengths, mel, mel_lengths)


def wavernn() -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    model = WaveRNN(
        upsample_scales=[2, 2],
        n_classes=16,
        hop_length=4,
        n_res_block=1,
        n_rnn=12,
        n_fc=8,
        kernel_size=3,
        n_freq=6,
        n_hidden=8,
        n_output=4,
    )
    waveform = torch.randn(2, 1, 4 * (10 - 3 + 1))
    specgram = torch.randn(2, 1, 6, 10)
    return model, (waveform, specgram)
