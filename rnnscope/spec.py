"""The layer spec: validation in our flag names, and the documented shape formulas.

Nothing here imports torch: the "expected" side of every comparison is computed from the
formulas in PyTorch's ``torch/nn/modules/rnn.py`` docstrings, never read back from torch.
Symbols follow those docstrings: L (sequence length), N (batch), D (2 if bidirectional else 1),
H_in (input_size), H_cell (hidden_size), H_out (proj_size if > 0 else hidden_size).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from rnnscope.errors import BadInput
from rnnscope.gates import gate_count

Shape = tuple[int, ...]


class Kind(str, Enum):
    rnn = "rnn"
    lstm = "lstm"
    gru = "gru"


DTYPES = ("float32", "float64", "float16", "bfloat16")
DTYPE_BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}
_DEVICE_PATTERN = re.compile(r"^(cpu|cuda|cuda:\d+|mps|auto|meta)$")
DEVICE_CHOICES = "cpu, cuda, cuda:N, mps, auto or meta"
DEFAULT_SEQ_LEN = 100
DEFAULT_BATCH = 32


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


@dataclass(frozen=True)
class TensorFormula:
    """A tensor's documented shape: the formula in PyTorch's symbols and its value."""

    name: str
    formula: str
    shape: Shape


@dataclass(frozen=True)
class ParameterFormula:
    name: str
    layer: int
    reverse: bool
    role: str  # weight_ih, weight_hh, bias_ih, bias_hh or weight_hr
    formula: str
    shape: Shape


def make_spec(
    kind: Kind,
    *,
    cell: bool = False,
    input_size: int = 10,
    hidden_size: int = 20,
    num_layers: int = 1,
    bias: bool = True,
    batch_first: bool = False,
    dropout: float = 0.0,
    bidirectional: bool = False,
    proj_size: int = 0,
    nonlinearity: str | None = None,
    seq_len: int | None = None,
    batch: int | None = None,
    unbatched: bool = False,
    lengths: tuple[int, ...] | None = None,
    enforce_sorted: bool = False,
    initial_state: bool = True,
) -> LayerSpec:
    """Validate the flags as a user typed them and return the spec.

    ``None`` for nonlinearity, seq_len and batch means "not given", so that a flag that has
    no meaning in this configuration is refused only when the user actually typed it.

    Raises:
        BadInput: naming the flag, what is allowed and what was given.
    """
    for flag, value in (
        ("--input-size", input_size),
        ("--hidden-size", hidden_size),
        ("--layers", num_layers),
        ("--seq-len", seq_len),
        ("--batch", batch),
    ):
        if value is not None and value < 1:
            raise BadInput(f"{flag} must be a positive integer, got {value}")
    if not 0.0 <= dropout <= 1.0:
        raise BadInput(f"--dropout must be between 0 and 1, got {dropout:g}")
    if proj_size < 0:
        raise BadInput(f"--proj-size must be 0 or more, got {proj_size}")
    if proj_size > 0 and kind is not Kind.lstm:
        raise BadInput(f"--proj-size applies to lstm only, not {kind.value}")
    if proj_size >= hidden_size and proj_size > 0:
        raise BadInput(f"--proj-size must be smaller than --hidden-size ({hidden_size}), got {proj_size}")
    if nonlinearity is not None:
        if kind is not Kind.rnn:
            raise BadInput(f"--nonlinearity applies to rnn only, not {kind.value}")
        if nonlinearity not in ("tanh", "relu"):
            raise BadInput(f"--nonlinearity must be tanh or relu, got {nonlinearity!r}")
    if cell:
        _check_cell_flags(num_layers, bidirectional, batch_first, dropout, proj_size, seq_len)
    if lengths is not None:
        seq_len, batch = _check_lengths(lengths, seq_len, batch, cell, unbatched, enforce_sorted)
    elif enforce_sorted:
        raise BadInput("--enforce-sorted needs --lengths")
    if unbatched and batch is not None:
        raise BadInput("--batch does not apply with --unbatched (the input has no batch axis)")
    return LayerSpec(
        kind=kind,
        cell=cell,
        input_size=input_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        bias=bias,
        batch_first=batch_first,
        dropout=dropout,
        bidirectional=bidirectional,
        proj_size=proj_size,
        nonlinearity=nonlinearity or "tanh",
        seq_len=DEFAULT_SEQ_LEN if seq_len is None else seq_len,
        batch=DEFAULT_BATCH if batch is None else batch,
        unbatched=unbatched,
        lengths=lengths,
        enforce_sorted=enforce_sorted,
        initial_state=initial_state,
    )


def _check_cell_flags(
    num_layers: int,
    bidirectional: bool,
    batch_first: bool,
    dropout: float,
    proj_size: int,
    seq_len: int | None,
) -> None:
    if num_layers > 1:
        raise BadInput(f"--layers must be 1 with --cell (a cell is one layer), got {num_layers}")
    if bidirectional:
        raise BadInput("--bidirectional does not apply with --cell (a cell runs one direction)")
    if batch_first:
        raise BadInput("--batch-first does not apply with --cell (a cell's input is (N, H_in))")
    if dropout != 0:
        raise BadInput("--dropout does not apply with --cell (cells have no dropout)")
    if proj_size:
        raise BadInput("--proj-size does not apply with --cell (LSTMCell has no projection)")
    if seq_len is not None:
        raise BadInput("--seq-len does not apply with --cell (a cell runs one time step)")


def parse_lengths(text: str) -> tuple[int, ...]:
    """Parse ``--lengths 7,5,5,2``."""
    try:
        lengths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise BadInput(f"--lengths must be comma-separated integers such as 7,5,5,2, got {text!r}") from None
    return lengths


def _check_lengths(
    lengths: tuple[int, ...],
    seq_len: int | None,
    batch: int | None,
    cell: bool,
    unbatched: bool,
    enforce_sorted: bool,
) -> tuple[int, int]:
    """Check ``--lengths`` against the other flags; return the (seq_len, batch) it implies."""
    if cell:
        raise BadInput("--lengths does not apply with --cell (a cell runs one time step)")
    if unbatched:
        raise BadInput("--lengths does not apply with --unbatched (lengths are per batch element)")
    if not lengths:
        raise BadInput("--lengths needs at least one length")
    limit = DEFAULT_SEQ_LEN if seq_len is None else seq_len
    for length in lengths:
        if not 1 <= length <= limit:
            raise BadInput(f"--lengths must each be between 1 and --seq-len ({limit}), got {length}")
    if batch is not None and batch != len(lengths):
        raise BadInput(
            f"--batch ({batch}) must equal the number of --lengths ({len(lengths)}), or be left out"
        )
    if enforce_sorted and list(lengths) != sorted(lengths, reverse=True):
        raise BadInput(
            "--enforce-sorted needs --lengths in decreasing order, got "
            + ",".join(map(str, lengths))
            + ": sort them, or drop --enforce-sorted (--no-enforce-sorted, the default)"
        )
    return limit, len(lengths)


def check_run_options(device: str, dtype: str) -> None:
    """Check --device and --dtype spellings (whether the device exists is torch's question)."""
    if not _DEVICE_PATTERN.match(device):
        raise BadInput(f"--device must be {DEVICE_CHOICES}, got {device!r}")
    if dtype not in DTYPES:
        raise BadInput(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")


def symbols(spec: LayerSpec) -> dict[str, int]:
    """The docstring symbols and their values for this spec."""
    values = {"H_in": spec.input_size, "H_cell": spec.hidden_size, "H_out": spec.h_out}
    if spec.cell:
        return ({} if spec.unbatched else {"N": spec.batch}) | values
    values = {"L": spec.seq_len} | ({} if spec.unbatched else {"N": spec.batch}) | values
    return values | {"D": spec.directions, "num_layers": spec.num_layers}


def expected_tensors(spec: LayerSpec) -> list[TensorFormula]:
    """Every tensor of a forward pass with its documented shape, in the order it is shown."""
    if spec.cell:
        return _cell_tensors(spec)
    n, length, d, layers = spec.batch, spec.seq_len, spec.directions, spec.num_layers
    state_names = ("h", "c") if spec.has_cell_state else ("h",)

    def state(prefix: str, suffix: str) -> TensorFormula:
        width, symbol = (spec.hidden_size, "H_cell") if prefix == "c" else (spec.h_out, "H_out")
        if spec.unbatched:
            return TensorFormula(f"{prefix}_{suffix}", f"(D·num_layers, {symbol})", (d * layers, width))
        return TensorFormula(f"{prefix}_{suffix}", f"(D·num_layers, N, {symbol})", (d * layers, n, width))

    def sequence(name: str, steps: str, steps_value: int, feature: str, width: int) -> TensorFormula:
        if spec.unbatched:
            return TensorFormula(name, f"({steps}, {feature})", (steps_value, width))
        if spec.batch_first:
            return TensorFormula(name, f"(N, {steps}, {feature})", (n, steps_value, width))
        return TensorFormula(name, f"({steps}, N, {feature})", (steps_value, n, width))

    tensors = [sequence("input", "L", length, "H_in", spec.input_size)]
    tensors += [state(prefix, "0") for prefix in state_names]
    out_width = d * spec.h_out
    if spec.lengths is None:
        tensors.append(sequence("output", "L", length, "D·H_out", out_width))
    else:
        total, longest = sum(spec.lengths), max(spec.lengths)
        tensors += [
            TensorFormula("packed_input.data", "(sum(lengths), H_in)", (total, spec.input_size)),
            TensorFormula("packed_input.batch_sizes", "(max(lengths),)", (longest,)),
        ]
        if not spec.enforce_sorted:  # sorted input needs no permutation: PyTorch keeps None
            tensors += [
                TensorFormula("packed_input.sorted_indices", "(N,)", (n,)),
                TensorFormula("packed_input.unsorted_indices", "(N,)", (n,)),
            ]
        tensors += [
            TensorFormula("packed_output.data", "(sum(lengths), D·H_out)", (total, out_width)),
            sequence("output_padded", "max(lengths)", longest, "D·H_out", out_width),
        ]
    tensors += [state(prefix, "n") for prefix in state_names]
    return tensors


def _cell_tensors(spec: LayerSpec) -> list[TensorFormula]:
    batch = () if spec.unbatched else (spec.batch,)
    axis = "" if spec.unbatched else "N, "
    tensors = [TensorFormula("input", f"({axis}H_in)", (*batch, spec.input_size))]
    for step in ("0", "1"):
        tensors.append(TensorFormula(f"h_{step}", f"({axis}H_out)", (*batch, spec.hidden_size)))
        if spec.has_cell_state:
            tensors.append(TensorFormula(f"c_{step}", f"({axis}H_cell)", (*batch, spec.hidden_size)))
    return tensors


def expected_batch_sizes(lengths: tuple[int, ...]) -> list[int]:
    """PackedSequence.batch_sizes: at step t, the number of sequences longer than t."""
    return [sum(1 for length in lengths if length > t) for t in range(max(lengths))]


def expected_parameters(spec: LayerSpec) -> list[ParameterFormula]:
    """Every parameter in ``named_parameters()`` order with its documented shape.

    Per layer and direction: weight_ih (G·H_cell, in_k), weight_hh (G·H_cell, H_out),
    bias_ih and bias_hh (G·H_cell,), and for LSTM with projections weight_hr (H_out, H_cell),
    where G is 1, 3 or 4 gates and in_k is H_in for layer 0 and D·H_out after it.
    """
    gates = gate_count(spec.kind.value)
    rows = gates * spec.hidden_size
    rows_formula = f"{gates}·H_cell" if gates > 1 else "H_cell"
    if spec.cell:
        roles: list[tuple[str, str, Shape]] = [
            ("weight_ih", f"({rows_formula}, H_in)", (rows, spec.input_size)),
            ("weight_hh", f"({rows_formula}, H_cell)", (rows, spec.hidden_size)),
        ]
        if spec.bias:
            roles += [
                ("bias_ih", f"({rows_formula},)", (rows,)),
                ("bias_hh", f"({rows_formula},)", (rows,)),
            ]
        return [ParameterFormula(role, 0, False, role, formula, shape) for role, formula, shape in roles]
    parameters = []
    for layer in range(spec.num_layers):
        in_formula = "H_in" if layer == 0 else "D·H_out"
        for reverse in (False, True)[: spec.directions]:
            suffix = f"_l{layer}" + ("_reverse" if reverse else "")
            roles = [
                ("weight_ih", f"({rows_formula}, {in_formula})", (rows, spec.layer_input_size(layer))),
                ("weight_hh", f"({rows_formula}, H_out)", (rows, spec.h_out)),
            ]
            if spec.bias:
                roles += [
                    ("bias_ih", f"({rows_formula},)", (rows,)),
                    ("bias_hh", f"({rows_formula},)", (rows,)),
                ]
            if spec.proj_size > 0:
                roles.append(("weight_hr", "(H_out, H_cell)", (spec.proj_size, spec.hidden_size)))
            parameters += [
                ParameterFormula(role + suffix, layer, reverse, role, formula, shape)
                for role, formula, shape in roles
            ]
    return parameters


def format_shape(shape: Shape | None) -> str:
    """``(100, 32, 10)``; a 1-tuple keeps its comma as Python writes it."""
    if shape is None:
        return "—"
    if len(shape) == 1:
        return f"({shape[0]},)"
    return "(" + ", ".join(str(size) for size in shape) + ")"
