"""The settings a user gives, checked before torch runs: ``make_spec`` returns a valid spec or
refuses the first invalid value or combination, naming it (``command_line.refused``). No torch."""

from __future__ import annotations

import re

from rnnscope.errors import BadInput
from rnnscope.layer.command_line import refused
from rnnscope.layer.limits import SEED_MAX, SEED_MIN
from rnnscope.layer.spec import DEFAULT_BATCH, DEFAULT_SEQ_LEN, DTYPES, Kind, LayerSpec

_DEVICE_PATTERN = re.compile(r"^(cpu|cuda|cuda:\d+|mps|auto|meta)$")
DEVICE_CHOICES = "cpu, cuda, cuda:N, mps, auto or meta"
# The devices of a command that computes values (verify, smoke, bench, gradients, load --run):
# the meta device holds none (check_computes refuses it).
COMPUTE_DEVICE_CHOICES = "cpu, cuda, cuda:N, mps or auto"


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
    """Validate the settings as a user gave them and return the spec.

    ``None`` for nonlinearity, seq_len and batch means "not given", so that a setting that has
    no meaning in this configuration is refused only when the user actually gave it.

    Raises:
        BadInput: naming the setting, what is allowed and what was given.
    """
    for setting, value in (
        ("input_size", input_size),
        ("hidden_size", hidden_size),
        ("num_layers", num_layers),
        ("seq_len", seq_len),
        ("batch", batch),
    ):
        if value is not None and value < 1:
            raise _not_positive(setting, value)
    if not 0.0 <= dropout <= 1.0:
        raise refused(lambda setting: f"{setting('dropout')} must be between 0 and 1, got {dropout:g}")
    if proj_size < 0:
        raise refused(lambda setting: f"{setting('proj_size')} must be 0 or more, got {proj_size}")
    if proj_size > 0 and kind is not Kind.lstm:
        raise refused(lambda setting: f"{setting('proj_size')} applies to lstm only, not {kind.value}")
    if proj_size >= hidden_size and proj_size > 0:
        raise refused(
            lambda setting: (
                f"{setting('proj_size')} must be smaller than {setting('hidden_size')} "
                f"({hidden_size}), got {proj_size}"
            )
        )
    if nonlinearity is not None:
        if kind is not Kind.rnn:
            raise refused(lambda setting: f"{setting('nonlinearity')} applies to rnn only, not {kind.value}")
        if nonlinearity not in ("tanh", "relu"):
            raise refused(
                lambda setting: f"{setting('nonlinearity')} must be tanh or relu, got {nonlinearity!r}"
            )
    if cell:
        _check_cell_settings(num_layers, bidirectional, batch_first, dropout, proj_size, seq_len)
    if lengths is not None:
        seq_len, batch = _check_lengths(lengths, seq_len, batch, cell, unbatched, enforce_sorted)
    elif enforce_sorted:
        raise refused(lambda setting: f"{setting('enforce_sorted')} needs {setting('lengths')}")
    if unbatched and batch is not None:
        raise _not_with("batch", "unbatched", "the input has no batch axis")
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


def _not_positive(size: str, value: int) -> BadInput:
    return refused(lambda setting: f"{setting(size)} must be a positive integer, got {value}")


def _check_cell_settings(
    num_layers: int,
    bidirectional: bool,
    batch_first: bool,
    dropout: float,
    proj_size: int,
    seq_len: int | None,
) -> None:
    if num_layers > 1:
        raise refused(
            lambda setting: (
                f"{setting('num_layers')} must be 1 with {setting('cell')} (a cell is one layer), "
                f"got {num_layers}"
            )
        )
    # Each setting a cell does not take, given: why not.
    not_for_cells = (
        ("bidirectional", bidirectional, "a cell runs one direction"),
        ("batch_first", batch_first, "a cell's input is (N, H_in)"),
        ("dropout", dropout != 0, "cells have no dropout"),
        ("proj_size", bool(proj_size), "LSTMCell has no projection"),
        ("seq_len", seq_len is not None, "a cell runs one time step"),
    )
    for name, given, reason in not_for_cells:
        if given:
            raise _not_with(name, "cell", reason)


def _not_with(name: str, other: str, reason: str) -> BadInput:
    """``name`` has no meaning together with ``other``: the error saying so and why."""
    return refused(lambda setting: f"{setting(name)} does not apply with {setting(other)} ({reason})")


def _check_lengths(
    lengths: tuple[int, ...],
    seq_len: int | None,
    batch: int | None,
    cell: bool,
    unbatched: bool,
    enforce_sorted: bool,
) -> tuple[int, int]:
    """Check ``lengths`` against the other settings; return the (seq_len, batch) it implies:
    L = max(lengths) unless seq_len is given."""
    if cell:
        raise _not_with("lengths", "cell", "a cell runs one time step")
    if unbatched:
        raise _not_with("lengths", "unbatched", "lengths are per batch element")
    if not lengths:
        raise refused(lambda setting: f"{setting('lengths')} needs at least one length")
    for length in lengths:
        if length < 1 or (seq_len is not None and length > seq_len):
            raise _length_out_of_range(length, seq_len)
    if batch is not None and batch != len(lengths):
        raise refused(
            lambda setting: (
                f"{setting('batch')} ({batch}) must equal the number of {setting('lengths')} "
                f"({len(lengths)}), or be left out"
            )
        )
    if enforce_sorted and list(lengths) != sorted(lengths, reverse=True):
        given = ",".join(map(str, lengths))
        raise refused(
            lambda setting: (
                f"{setting('enforce_sorted')} needs {setting('lengths')} in decreasing order, got "
                f"{given}: sort them, or drop {setting('enforce_sorted')} "
                f"({setting('enforce_sorted', False)}, the default)"
            )
        )
    # Without seq_len the padded batch is as long as its longest sequence, as
    # pad_packed_sequence gives it back; an explicit seq_len pads further.
    return max(lengths) if seq_len is None else seq_len, len(lengths)


def _length_out_of_range(length: int, seq_len: int | None) -> BadInput:
    if seq_len is None:
        return refused(lambda setting: f"{setting('lengths')} must each be 1 or more, got {length}")
    return refused(
        lambda setting: (
            f"{setting('lengths')} must each be between 1 and {setting('seq_len')} ({seq_len}), got {length}"
        )
    )


def check_run_options(device: str, dtype: str, seed: int = 0, computes: bool = False) -> None:
    """Check the device and dtype spellings (whether the device exists is torch's question) and
    that the seed is a value torch.manual_seed takes.

    ``computes``: the command needs values, so the devices it names leave out meta (which
    ``check_computes`` refuses with the reason).
    """
    if not _DEVICE_PATTERN.match(device):
        choices = COMPUTE_DEVICE_CHOICES if computes else DEVICE_CHOICES
        raise refused(lambda setting: f"{setting('device')} must be {choices}, got {device!r}")
    if dtype not in DTYPES:
        raise refused(lambda setting: f"{setting('dtype')} must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if not SEED_MIN <= seed <= SEED_MAX:
        raise refused(
            lambda setting: (
                f"{setting('seed')} must be between -2^63 and 2^64 - 1 "
                f"(torch.manual_seed takes a 64-bit value), got {seed}"
            )
        )


def check_computes(device: str, command: str) -> None:
    """Refuse the meta device for a command that needs values (verify, smoke, bench).

    Raises:
        BadInput: one wording for every such command.
    """
    if device == "meta":
        raise refused(
            lambda setting: (
                f"{setting('device', 'meta')}: {command} needs values and the meta device holds "
                f"none (it computes shapes only); use {setting('device', 'cpu')} or auto"
            )
        )
