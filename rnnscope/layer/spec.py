"""The layer model: one recurrent layer (or cell) and the synthetic input it runs on.

A :class:`LayerSpec` is built valid by ``validation.make_spec``; its documented shapes are in
``shapes``, what PyTorch can hold in ``limits``, its command line in ``command_line``. No torch.
Symbols follow PyTorch's ``torch/nn/modules/rnn.py`` docstrings: L (sequence length), N (batch),
D (2 if bidirectional else 1), H_in (input_size), H_cell (hidden_size), H_out (proj_size if > 0
else hidden_size).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from rnnscope.layer.direction import DIRECTIONS, Direction

Shape = tuple[int, ...]


class Kind(str, Enum):
    rnn = "rnn"
    lstm = "lstm"
    gru = "gru"


DTYPES = ("float32", "float64", "float16", "bfloat16")
DTYPE_BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}
DEFAULT_SEQ_LEN = 100
DEFAULT_BATCH = 32


# A module's own settings, as its constructor names them: what a file's layer or a model's module
# has, where L, N and the rest of a LayerSpec belong to one run or call.
MODULE_SETTINGS = (
    "input_size",
    "hidden_size",
    "num_layers",
    "nonlinearity",
    "bias",
    "batch_first",
    "dropout",
    "bidirectional",
    "proj_size",
)


@dataclass(frozen=True)
class LayerSpec:
    """One recurrent layer (or cell) and the synthetic input it is run on."""

    kind: Kind
    cell: bool = False
    input_size: int = 10
    hidden_size: int = 20
    num_layers: int = 1
    bias: bool = True
    batch_first: bool = False
    dropout: float = 0.0
    bidirectional: bool = False
    proj_size: int = 0
    nonlinearity: str = "tanh"
    seq_len: int = DEFAULT_SEQ_LEN
    batch: int = DEFAULT_BATCH
    unbatched: bool = False
    lengths: tuple[int, ...] | None = None
    enforce_sorted: bool = False
    initial_state: bool = True

    @property
    def directions(self) -> int:
        """D in PyTorch's docs."""
        return 2 if self.bidirectional else 1

    @property
    def direction_names(self) -> tuple[Direction, ...]:
        """``("forward",)`` or ``("forward", "reverse")``: PyTorch's direction axis, in its order."""
        return DIRECTIONS[: self.directions]

    @property
    def stacked_layers(self) -> int:
        """The layers the module stacks: ``num_layers``, and 1 for a cell."""
        return 1 if self.cell else self.num_layers

    @property
    def h_out(self) -> int:
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    @property
    def has_cell_state(self) -> bool:
        return self.kind is Kind.lstm

    @property
    def packed(self) -> bool:
        return self.lengths is not None

    @property
    def torch_class_name(self) -> str:
        return {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[self.kind.value] + ("Cell" if self.cell else "")

    def _repr_arguments(self) -> list[str]:
        """The arguments torch's ``extra_repr`` shows, in its order: only those off the default."""
        arguments = [str(self.input_size), str(self.hidden_size)]
        if self.cell:
            return arguments if self.bias else [*arguments, "bias=False"]
        options: tuple[tuple[str, object, object], ...] = (
            ("proj_size", self.proj_size, 0),
            ("num_layers", self.num_layers, 1),
            ("bias", self.bias, True),
            ("batch_first", self.batch_first, False),
            ("dropout", float(self.dropout), 0.0),
            ("bidirectional", self.bidirectional, False),
        )
        return arguments + [f"{name}={value}" for name, value, default in options if value != default]

    @property
    def module_repr(self) -> str:
        """``repr()`` of the module, written without torch: ``LSTM(10, 20, num_layers=2)``.

        As torch's ``extra_repr``: nn.RNN never shows its nonlinearity; the cells show it unquoted.
        """
        arguments = self._repr_arguments()
        if self.cell and self.nonlinearity != "tanh":
            arguments.append(f"nonlinearity={self.nonlinearity}")
        return f"{self.torch_class_name}({', '.join(arguments)})"

    @property
    def constructor(self) -> str:
        """The call that builds this module: ``nn.RNN(10, 20, nonlinearity='relu')``.

        The repr's arguments with ``nn.`` in front and the nonlinearity quoted, as code takes it.
        """
        arguments = self._repr_arguments()
        if self.kind is Kind.rnn and self.nonlinearity != "tanh":
            arguments.append(f"nonlinearity={self.nonlinearity!r}")
        return f"nn.{self.torch_class_name}({', '.join(arguments)})"

    def config(self) -> dict[str, Any]:
        """The configuration as plain values, keyed as in the JSON contract."""
        values = asdict(self)
        values["kind"] = self.kind.value
        values["lengths"] = list(self.lengths) if self.lengths is not None else None
        return values

    def layer_input_size(self, layer: int) -> int:
        """Features entering layer ``layer``: H_in for the first, D·H_out after it."""
        return self.input_size if layer == 0 else self.directions * self.h_out


def dropout_note(spec: LayerSpec, mode: str) -> str | None:
    """Where ``--dropout`` acts, in one sentence that inspect, verify and draw share.

    PyTorch applies dropout to the output of every layer but the top one, as it feeds the next
    layer, and only in training mode. ``mode`` says what this run did: ``"train"`` (inspect's
    forward), ``"eval"`` (verify's) or ``""`` (draw: nothing runs).
    """
    if not spec.dropout:
        return None
    p = f"--dropout {spec.dropout:g}"
    if spec.num_layers == 1:
        return (
            f"{p} does nothing here: PyTorch drops between stacked layers only (on the output of "
            "each layer but the top one, as it feeds the next), and this module has one layer"
        )
    below_top = spec.num_layers - 1  # the layers whose output is dropped
    tops = {1: "layer 0", 2: "layers 0 and 1"}.get(below_top, f"layers 0 to {below_top - 1}")
    run = {
        "train": "; this run was in training mode, so it dropped",
        "eval": "; this run was in eval mode, so nothing was dropped",
        "": "",
    }[mode]
    return (
        f"{p} acts between stacked layers: on the output of {tops} as it feeds the next layer, "
        f"never after the top one, and in training mode only{run}"
    )
