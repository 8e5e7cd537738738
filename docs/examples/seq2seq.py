"""The models docs/model.md runs: ``rnnscope model docs/examples/seq2seq.py:NAME``."""

import torch
from torch import nn


class Translator(nn.Module):
    """A seq2seq: a bidirectional LSTM encoder, an LSTMCell decoder called once per output step."""

    def __init__(self, vocab: int = 100, embed: int = 32, hidden: int = 64, steps: int = 12) -> None:
        super().__init__()
        self.steps = steps
        self.embed = nn.Embedding(vocab, embed)
        self.encoder = nn.LSTM(embed, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.decoder = nn.LSTMCell(embed, hidden)
        self.project = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.encoder(self.embed(tokens))  # h_n: (2, N, hidden)
        h = torch.tanh(self.bridge(torch.cat([h_n[0], h_n[1]], dim=1)))  # (N, hidden)
        c = torch.zeros_like(h)
        token = tokens[:, 0]
        logits = []
        for _ in range(self.steps):  # greedy decoding, one LSTMCell call per step
            h, c = self.decoder(self.embed(token), (h, c))
            logits.append(self.project(h))
            token = logits[-1].argmax(dim=1)
        return torch.stack(logits, dim=1)  # (N, steps, vocab)


class Classifier(nn.Module):
    """A planted mix-up: the data loader yields (N, L, H_in), the GRU is seq-first."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(16, 32)
        self.head = nn.Linear(32, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output, _ = self.gru(x)  # PyTorch raises nothing: it reads the batch as time
        return self.head(output[-1])
