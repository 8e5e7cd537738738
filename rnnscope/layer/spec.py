"""The layer spec: validation in our flag names, and the documented shape formulas.

Nothing here imports torch: the "expected" side of every comparison is computed from the
formulas in PyTorch's ``torch/nn/modules/rnn.py`` docstrings, never read back from torch.
Symbols follow those docstrings: L (sequence length), N (batch), D (2 if bidirectional else 1),
H_in (input_size), H_cell (hidden_size), H_out (proj_size if > 0 else hidden_size).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any

from rnnscope.errors import BadInput
from rnnscope.layer.direction import DIRECTIONS, Direction, parameter_suffix
from rnnscope.layer.gates import gate_count

Shape = tuple[int, ...]


class Kind(str, Enum):
    rnn = "rnn"
    lstm = "lstm"
    gru = "gru"


DTYPES = ("float32", "float64", "float16", "bfloat16")
DTYPE_BYTES = {"float32": 4, "float64": 8, "float16": 2, "bfloat16": 2}
_DEVICE_PATTERN = re.compile(r"^(cpu|cuda|cuda:\d+|mps|auto|meta)$")
DEVICE_CHOICES = "cpu, cuda, cuda:N, mps, auto or meta"
# The devices of a command that computes values (verify, smoke, bench, gradients, load --run):
# the meta device holds none (check_computes refuses it).
COMPUTE_DEVICE_CHOICES = "cpu, cuda, cuda:N, mps or auto"
DEFAULT_SEQ_LEN = 100
DEFAULT_BATCH = 32

# torch.manual_seed takes a 64-bit value: -2^63 up to 2^64 - 1 (it maps negative seeds onto
# the unsigned range); anything else raises "Overflow when unpacking long long".
SEED_MIN, SEED_MAX = -(2**63), 2**64 - 1
# PyTorch keeps a tensor's storage size in bytes (numel × element size) in an int64, and refuses
# ("Storage size calculation overflowed") any tensor past it, even on the meta device.
TORCH_MAX_BYTES = 2**63 - 1
# PyTorch's time to build a stack of layers grows faster than the stack (measured here on meta:
# nn.RNN with 1,000 layers 0.7 s, 5,000 1.8 s, 20,000 25 s), and every parameter becomes a row
# of the report; past this many layers a command would sit silent for minutes.
MAX_LAYERS = 1000


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
    """Check ``--lengths`` against the other flags; return the (seq_len, batch) it implies:
    L = max(lengths) unless --seq-len is given."""
    if cell:
        raise BadInput("--lengths does not apply with --cell (a cell runs one time step)")
    if unbatched:
        raise BadInput("--lengths does not apply with --unbatched (lengths are per batch element)")
    if not lengths:
        raise BadInput("--lengths needs at least one length")
    for length in lengths:
        if seq_len is None and length < 1:
            raise BadInput(f"--lengths must each be 1 or more, got {length}")
        if seq_len is not None and not 1 <= length <= seq_len:
            raise BadInput(f"--lengths must each be between 1 and --seq-len ({seq_len}), got {length}")
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
    # Without --seq-len the padded batch is as long as its longest sequence, as
    # pad_packed_sequence gives it back; an explicit --seq-len pads further.
    return max(lengths) if seq_len is None else seq_len, len(lengths)


def check_run_options(device: str, dtype: str, seed: int = 0, computes: bool = False) -> None:
    """Check --device and --dtype spellings (whether the device exists is torch's question) and
    that --seed is a value torch.manual_seed takes.

    ``computes``: the command needs values, so the devices it names leave out meta (which
    ``check_computes`` refuses with the reason).
    """
    if not _DEVICE_PATTERN.match(device):
        choices = COMPUTE_DEVICE_CHOICES if computes else DEVICE_CHOICES
        raise BadInput(f"--device must be {choices}, got {device!r}")
    if dtype not in DTYPES:
        raise BadInput(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if not SEED_MIN <= seed <= SEED_MAX:
        raise BadInput(
            f"--seed must be between -2^63 and 2^64 - 1 (torch.manual_seed takes a 64-bit value), got {seed}"
        )


def check_computes(device: str, command: str) -> None:
    """Refuse ``--device meta`` for a command that needs values (verify, smoke, bench).

    Raises:
        BadInput: one wording for every such command.
    """
    if device == "meta":
        raise BadInput(
            f"--device meta: {command} needs values and the meta device holds none "
            "(it computes shapes only); use --device cpu or auto"
        )


# The flags that set a symbol of PyTorch's docstrings, to name them when a size is past a limit.
_SYMBOL_FLAGS = {
    "L": "--seq-len",
    "N": "--batch",
    "H_in": "--input-size",
    "H_cell": "--hidden-size",
    "H_out": "--hidden-size",  # or --proj-size, where it is given
    "lengths": "--lengths",
}


_GATES = "the gate pre-activations"


def check_torch_limits(spec: LayerSpec, dtype: str) -> None:
    """Refuse, before torch runs, a layer PyTorch cannot build or hold on any device.

    Checks ``--layers`` against MAX_LAYERS and every tensor PyTorch creates for the layer —
    parameters, input, states, output, and the gate pre-activations of every row at once,
    (rows, G·H_cell), which PyTorch's CPU kernels compute before the time loop — against the
    TORCH_MAX_BYTES a tensor's storage can have.

    Raises:
        BadInput: naming the tensor, its size, the limit and the flags that set it.
    """
    if spec.num_layers > MAX_LAYERS:
        raise BadInput(
            f"--layers must be at most {MAX_LAYERS:,}, got {spec.num_layers:,}: PyTorch's time to build a "
            "stack grows faster than its depth (5,000 layers take about 2 s, 20,000 about 25 s)"
        )
    for name, formula, shape in _torch_tensors(spec):
        held_as = dtype
        if name == _GATES and spec.kind is Kind.lstm and DTYPE_BYTES[dtype] < DTYPE_BYTES["float32"]:
            # PyTorch's LSTM holds its gates in float32 even for float16 and bfloat16 (measured
            # on meta: (2^40, 2^21) half gates overflow the storage size, GRU's and RNN's do not).
            held_as = "float32"
        size = math.prod(shape) * DTYPE_BYTES[held_as]
        if size > TORCH_MAX_BYTES:
            symbols_used = re.findall(r"[A-Za-z_]+", formula)
            flags = {_SYMBOL_FLAGS[symbol]: None for symbol in symbols_used if symbol in _SYMBOL_FLAGS}
            if spec.proj_size and "H_out" in symbols_used:
                flags["--proj-size"] = None
            raise BadInput(
                f"{name} {formula} would be {format_shape(shape)}: {size:,} bytes in {held_as}, past the "
                f"2^63 - 1 bytes a PyTorch tensor can hold; lower {', '.join(flags)}"
            )


def _torch_tensors(spec: LayerSpec) -> list[tuple[str, str, Shape]]:
    """(name, formula, shape) of every tensor PyTorch makes for the spec's forward pass."""
    gates = gate_count(spec.kind.value)
    rows_formula = f"{gates}·H_cell" if gates > 1 else "H_cell"
    if spec.cell:
        rows, rows_symbol = (1, "1") if spec.unbatched else (spec.batch, "N")
    elif spec.lengths is not None:
        rows, rows_symbol = sum(spec.lengths), "sum(lengths)"
    else:
        rows = spec.seq_len * (1 if spec.unbatched else spec.batch)
        rows_symbol = "L" if spec.unbatched else "L·N"
    tensors = [(t.name, t.formula, t.shape) for t in expected_tensors(spec)]
    tensors += [(p.name, p.formula, p.shape) for p in expected_parameters(spec)]
    gate_shape = (rows, gates * spec.hidden_size)
    tensors.append((_GATES, f"({rows_symbol}, {rows_formula})", gate_shape))
    return tensors


# Flags in the order --help lists them, with the LayerSpec field each sets; switches give the
# value they set, valued flags None.
_SPEC_FLAGS: list[tuple[str, str, object]] = [
    ("cell", "--cell", True),
    ("input_size", "--input-size", None),
    ("hidden_size", "--hidden-size", None),
    ("num_layers", "--layers", None),
    ("bidirectional", "--bidirectional", True),
    ("batch_first", "--batch-first", True),
    ("bias", "--no-bias", False),
    ("dropout", "--dropout", None),
    ("nonlinearity", "--nonlinearity", None),
    ("proj_size", "--proj-size", None),
    ("seq_len", "--seq-len", None),
    ("batch", "--batch", None),
    ("unbatched", "--unbatched", True),
    ("lengths", "--lengths", None),
    ("enforce_sorted", "--enforce-sorted", True),
    ("initial_state", "--no-initial-state", False),
]
_DEFAULTS = {field.name: field.default for field in fields(LayerSpec)}


def spec_flags(spec: LayerSpec) -> tuple[str, ...]:
    """The flags after KIND that rebuild ``spec``: the inverse of ``make_spec`` on typed flags.

    Values equal to their defaults are left out, and so are those another flag implies or rules
    out (a cell's --seq-len, an unbatched input's --batch, the --batch that --lengths gives), so
    that ``make_spec(spec.kind, **flags parsed)`` accepts the line and returns ``spec``.
    """
    implied = set()
    if spec.cell:
        implied.add("seq_len")
    if spec.unbatched or spec.lengths is not None:
        implied.add("batch")
    # --lengths without --seq-len gives L = max(lengths): that is its default then.
    defaults = _DEFAULTS | ({"seq_len": max(spec.lengths)} if spec.lengths is not None else {})
    words: list[str] = []
    for name, flag, switch_value in _SPEC_FLAGS:
        value = getattr(spec, name)
        if name in implied or value == defaults[name]:
            continue
        if switch_value is not None:
            words.append(flag)
        elif name == "lengths":
            words += [flag, ",".join(map(str, value))]
        else:
            words += [flag, str(value)]  # str of a float is its shortest exact spelling
    return tuple(words)


def command_line(command: str, spec: LayerSpec, device: str, dtype: str, seed: int) -> str:
    """The ``rnnscope COMMAND KIND ...`` line that runs ``spec`` again, e.g. to reproduce a case."""
    run = ("--device", device, "--dtype", dtype, "--seed", str(seed))
    return " ".join(("rnnscope", command, spec.kind.value, *spec_flags(spec), *run))


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
            suffix = parameter_suffix(layer, reverse)
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
