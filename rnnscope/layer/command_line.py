"""The command line's words for a layer's settings: the flag that sets each one, errors worded
for Python callers and for the command line, and the flags that rebuild a spec.

A setting the library refuses is named twice: as Python callers pass it (``hidden_size``,
``cell=True``) in the error's text, and as the command line takes it (``--hidden-size``,
``--cell``) in its ``command_line_message``, which the CLI prints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Protocol

from rnnscope.errors import BadInput
from rnnscope.layer.spec import LayerSpec


@dataclass(frozen=True)
class Flag:
    """How the command line sets one setting."""

    name: str  # as --help spells it; a switch's flag sets the value in `switch`
    switch: bool | None = None  # None: the flag takes a value
    opposite: str | None = None  # a switch's flag for the other value, where there is one


# Each setting's flag, the layer's in the order --help lists them, then the run's.
SETTING_FLAGS: dict[str, Flag] = {
    "cell": Flag("--cell", switch=True),
    "input_size": Flag("--input-size"),
    "hidden_size": Flag("--hidden-size"),
    "num_layers": Flag("--layers"),
    "bidirectional": Flag("--bidirectional", switch=True, opposite="--unidirectional"),
    "batch_first": Flag("--batch-first", switch=True, opposite="--seq-first"),
    "bias": Flag("--no-bias", switch=False, opposite="--bias"),
    "dropout": Flag("--dropout"),
    "nonlinearity": Flag("--nonlinearity"),
    "proj_size": Flag("--proj-size"),
    "seq_len": Flag("--seq-len"),
    "batch": Flag("--batch"),
    "unbatched": Flag("--unbatched", switch=True),
    "lengths": Flag("--lengths"),
    "enforce_sorted": Flag("--enforce-sorted", switch=True, opposite="--no-enforce-sorted"),
    "initial_state": Flag("--no-initial-state", switch=False),
    "device": Flag("--device"),
    "dtype": Flag("--dtype"),
    "seed": Flag("--seed"),
}
_ANY = object()  # a setting named without a value


class Naming(Protocol):
    """How one audience writes a setting: alone, or set to ``value``."""

    def __call__(self, setting: str, value: object = _ANY, /) -> str: ...


def flag_name(setting: str, value: object = _ANY, /) -> str:
    """``--hidden-size``, ``--device meta``; a switch as the flag that sets ``value``."""
    flag = SETTING_FLAGS[setting]
    if flag.switch is None:
        return flag.name if value is _ANY else f"{flag.name} {value}"
    if value is _ANY or value == flag.switch:
        return flag.name
    return flag.opposite or f"no {flag.name}"


def parameter_name(setting: str, value: object = _ANY, /) -> str:
    """``hidden_size``, ``device='meta'``; a switch with the value its flag sets, ``cell=True``."""
    switch = SETTING_FLAGS[setting].switch
    if value is _ANY:
        return setting if switch is None else f"{setting}={switch}"
    return f"{setting}={value!r}"


def refused(words: Callable[[Naming], str]) -> BadInput:
    """The error for refused settings: ``words`` writes its message given how to name a setting.

    Its text names the parameters (for Python callers), its ``command_line_message`` the flags.
    """
    return BadInput(words(parameter_name), command_line_message=words(flag_name))


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
    for name, flag in SETTING_FLAGS.items():
        if name not in defaults:  # the run's settings: command_line adds them
            continue
        value = getattr(spec, name)
        if name in implied or value == defaults[name]:
            continue
        if flag.switch is not None:
            words.append(flag.name)
        elif name == "lengths":
            words += [flag.name, ",".join(map(str, value))]
        else:
            words += [flag.name, str(value)]  # str of a float is its shortest exact spelling
    return tuple(words)


def command_line(command: str, spec: LayerSpec, device: str, dtype: str, seed: int) -> str:
    """The ``rnnscope COMMAND KIND ...`` line that runs ``spec`` again, e.g. to reproduce a case."""
    run = ("--device", device, "--dtype", dtype, "--seed", str(seed))
    return " ".join(("rnnscope", command, spec.kind.value, *spec_flags(spec), *run))


def parse_lengths(text: str) -> tuple[int, ...]:
    """Parse ``--lengths 7,5,5,2``."""
    try:
        lengths = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise BadInput(f"--lengths must be comma-separated integers such as 7,5,5,2, got {text!r}") from None
    return lengths
