"""Small models with the shapes people use, for ``rnnscope model`` (targets: tests/model_zoo.py:NAME)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


class Tagger(nn.Module):
    """Embedding + packed bidirectional LSTM, as a sequence tagger has it."""

    def __init__(self, vocab: int = 30, embed: int = 6, hidden: int = 10, tags: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=2, bidirectional=True)
        self.head = nn.Linear(2 * hidden, tags)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(self.embed(tokens), lengths, enforce_sorted=False)
        out, _ = self.lstm(packed)
        padded, _ = pad_packed_sequence(out)
        return self.head(padded)


def tagger() -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    return Tagger(), (torch.randint(0, 30, (7, 3)), torch.tensor([5, 7, 2]))


class Seq2Seq(nn.Module):
    """A batch-first bidirectional LSTM encoder and an LSTMCell decoder called once per step."""

    def __init__(self, vocab: int = 50, hidden: int = 16, steps: int = 5) -> None:
        super().__init__()
        self.steps = steps
        self.embed = nn.Embedding(vocab, 8)
        self.encoder = nn.LSTM(8, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)
        self.decoder = nn.LSTMCell(hidden, hidden)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.encoder(self.embed(tokens))
        h = torch.tanh(self.bridge(torch.cat([h[0], h[1]], dim=1)))
        c = torch.zeros_like(h)
        outs = []
        for _ in range(self.steps):
            h, c = self.decoder(h, (h, c))
            outs.append(self.out(h))
        return torch.stack(outs, 1)


def seq2seq() -> tuple[nn.Module, tuple[torch.Tensor]]:
    return Seq2Seq(), (torch.randint(0, 50, (4, 7)),)


class MyGRU(nn.GRU):
    """A subclass that keeps torch's forward."""


class WithSubclass(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = MyGRU(5, 7, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


class DictModel(nn.Module):
    """A forward that takes a dict of tensors; an RNNCell that never runs in it."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(4, 6, nonlinearity="relu")
        self.unused = nn.RNNCell(4, 6)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out, _ = self.rnn(batch["x"], batch["h"])
        return out


def dict_model() -> tuple[nn.Module, tuple[dict[str, torch.Tensor]]]:
    return DictModel(), ({"x": torch.randn(9, 2, 4), "h": torch.zeros(1, 2, 6)},)


class OwnForwardLSTM(nn.LSTM):
    """As pytorch-forecasting's LSTM: its own forward takes lengths and packs inside."""

    def forward(self, x, hx=None, lengths=None, enforce_sorted=True):  # type: ignore[no-untyped-def, override]
        if lengths is None:
            return super().forward(x, hx)
        packed = pack_padded_sequence(x, lengths, batch_first=self.batch_first, enforce_sorted=enforce_sorted)
        out, state = super().forward(packed, hx)
        return pad_packed_sequence(out, batch_first=self.batch_first)[0], state


class Forecaster(nn.Module):
    """Calls its recurrent module twice: an encoder pass, then a decoder pass with its state."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = OwnForwardLSTM(3, 8, batch_first=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        _, state = self.rnn(x, lengths=lengths, enforce_sorted=False)
        out, _ = self.rnn(x[:, -2:], state)
        return out


def forecaster() -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    return Forecaster(), (torch.randn(4, 6, 3), torch.tensor([6, 3, 5, 2]))


class Encoder(nn.Module):
    """For planted faults: a 2-layer seq-first LSTM(10, 20)."""

    def __init__(self, fault: str = "") -> None:
        super().__init__()
        self.fault = fault
        self.lstm = nn.LSTM(10, 20, num_layers=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, batch = x.shape[0], x.shape[1]
        if self.fault == "rank":  # 2-D states with batched input
            state = (torch.zeros(2, 20), torch.zeros(2, 20))
        elif self.fault == "layers":  # states for one layer where there are two
            state = (torch.zeros(1, batch, 20), torch.zeros(1, batch, 20))
        elif self.fault == "batch_first":  # the states say N = steps: the input was (N, L, H_in)
            state = (torch.zeros(2, steps, 20), torch.zeros(2, steps, 20))
        else:
            state = None
        return self.lstm(x, state)[0]


class Perturbed(nn.Module):
    """A GRU whose output a hook of the model's own changes after torch computed it."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(4, 5)
        self.gru.register_forward_hook(self.nudge)

    @staticmethod
    def nudge(module: nn.Module, args: object, output: tuple[torch.Tensor, torch.Tensor]) -> None:
        output[0].add_(0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(x)[0]


class Broken(nn.Module):
    """Raises in its own code, outside any recurrent module."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn = nn.RNN(3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        raise ValueError(f"the head expects 8 features, got {out.shape[-1]}")


class BroadcastCell(nn.Module):
    """An RNNCell given one unbatched step and a 2-D (H, H) state: PyTorch broadcasts the two
    and returns (H, H) where its documentation says (H,)."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.RNNCell(3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cell(x, torch.zeros(4, 4))


def not_a_model() -> int:
    return 3


instance = Seq2Seq(steps=2)


class Shared(nn.Module):
    """One GRU under two names, called twice; the function below hands it a PackedSequence."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.GRU(3, 3)
        self.second = self.first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.first(x)[0])[0]


def shared_packed() -> tuple[nn.Module, tuple[nn.utils.rnn.PackedSequence]]:
    return Shared(), (pack_padded_sequence(torch.randn(6, 3, 3), torch.tensor([6, 4, 2])),)


def bare_lstm() -> tuple[nn.Module, torch.Tensor]:
    return nn.LSTM(3, 4, proj_size=2, num_layers=2), torch.randn(5, 2, 3)


class FlairLanguageModel(nn.Module):
    """flair's LanguageModel, as tests/data/flair_lm.pt's state_dict names it (flair's save())."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Embedding(19, 8)
        self.rnn = nn.LSTM(8, 16)
        self.decoder = nn.Linear(16, 19)

    def forward(self, characters: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(self.encoder(characters))
        return self.decoder(output)


class Embeddings(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embeddings = nn.ModuleDict({"series": nn.Embedding(2, 1)})


class RecurrentNetwork(nn.Module):
    """pytorch-forecasting's RecurrentNetwork as tests/data/lightning_forecasting.ckpt names it
    (a Lightning checkpoint: the state_dict under 'state_dict'), with its LSTM subclass's
    own forward (lengths=, packing inside)."""

    def __init__(self) -> None:
        super().__init__()
        self.embeddings = Embeddings()
        self.rnn = OwnForwardLSTM(2, 8, num_layers=2, batch_first=True, dropout=0.1)
        self.output_projector = nn.Linear(8, 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        output, _ = self.rnn(x, lengths=lengths, enforce_sorted=False)
        return self.output_projector(output)


def recurrent_network() -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    return RecurrentNetwork(), (torch.randn(2, 6, 2), torch.tensor([6, 4]))
