"""Sweeps: a flag given a comma list runs every combination of the values in one process.

``rnnscope inspect lstm,gru --hidden-size 64,128 --layers 1,2`` is eight runs that pay torch's
start-up once. This module reads the flags as typed, expands them into their cartesian product,
checks every combination before any of them runs (bad input is exit 2 before any work), then
runs them one by one and keeps each one's report or error. No torch here: the command supplies
the check and the run.

``--lengths 7,5,5,2`` is a comma list with a meaning of its own (one packed batch), not a sweep.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from rnnscope.errors import BadInput, ExitCode, RnnscopeError
from rnnscope.layer.spec import Kind

Report = TypeVar("Report")

# The commands whose flags take comma lists; the others take one value per flag.
SWEEP_COMMANDS = "inspect, verify and compare"

_INTEGER = re.compile(r"^[+-]?\d+$")


def _integer(text: str) -> int | None:
    return int(text) if _INTEGER.match(text) else None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _kind(text: str) -> Kind | None:
    return Kind.__members__.get(text.lower())


@dataclass(frozen=True)
class SweepFlag:
    """A flag that takes a comma list: the field it sets, how it is typed and read."""

    name: str  # the LayerFlags field, or "kind"
    flag: str  # as --help spells it: "--hidden-size", or "KIND" for the argument
    column: str  # the summary table's header: PyTorch's symbol where there is one
    what: str  # what one value is, for the error: "an integer"
    read: Callable[[str], Any]  # one value as typed → the value, or None when it is not one


# In the order --help lists them: a sweep's combinations vary the last flag fastest.
SWEEP_FLAGS: tuple[SweepFlag, ...] = (
    SweepFlag("kind", "KIND", "kind", "rnn, lstm or gru", _kind),
    SweepFlag("input_size", "--input-size", "H_in", "an integer", _integer),
    SweepFlag("hidden_size", "--hidden-size", "H_cell", "an integer", _integer),
    SweepFlag("layers", "--layers", "layers", "an integer", _integer),
    SweepFlag("dropout", "--dropout", "dropout", "a number", _number),
    SweepFlag("nonlinearity", "--nonlinearity", "nonlin", "a name", str),
    SweepFlag("proj_size", "--proj-size", "proj", "an integer", _integer),
    SweepFlag("seq_len", "--seq-len", "L", "an integer", _integer),
    SweepFlag("batch", "--batch", "N", "an integer", _integer),
    SweepFlag("device", "--device", "device", "a device", str),
    SweepFlag("dtype", "--dtype", "dtype", "a dtype", str),
    SweepFlag("seed", "--seed", "seed", "an integer", _integer),
)
FLAGS_BY_NAME = {flag.name: flag for flag in SWEEP_FLAGS}


@dataclass(frozen=True)
class Axis:
    """One flag's values, in the order typed."""

    flag: SweepFlag
    values: tuple[Any, ...]


def parse_axis(flag: SweepFlag, text: str, sweeps: bool = True) -> Axis:
    """Read ``--hidden-size 64,128`` (or a single value) into its typed values; ``sweeps``:
    whether the command takes a comma list (the error suggests one only then).

    Raises:
        BadInput: naming the flag, the value that is not one, and what is allowed; or a value
            listed twice (it would run the same configuration twice).
    """
    parts = text.split(",")
    values = []
    for part in parts:
        value = flag.read(part.strip()) if part.strip() else None
        if value is None:
            several = f", or a comma list such as {_example(flag)}" if sweeps and len(parts) == 1 else ""
            listed = f" in {text!r}" if len(parts) > 1 else ""
            raise BadInput(f"{flag.flag} must be {flag.what}{several}, got {part!r}{listed}")
        if value in values:
            raise BadInput(f"{flag.flag} lists {part.strip()} twice in {text!r}: each value runs once")
        values.append(value)
    return Axis(flag, tuple(values))


def _example(flag: SweepFlag) -> str:
    return "lstm,gru" if flag.name == "kind" else {"a number": "0,0.5"}.get(flag.what, "64,128")


def parse_axes(typed: dict[str, str | None], sweeps: bool) -> list[Axis]:
    """Every sweepable flag given (None: not given, and no default), in --help order."""
    return [
        parse_axis(FLAGS_BY_NAME[name], text, sweeps)
        for name, text in sorted(typed.items(), key=lambda item: list(FLAGS_BY_NAME).index(item[0]))
        if text is not None
    ]


def single_values(axes: list[Axis], command: str) -> dict[str, Any]:
    """The one value of each flag, for a command that does not sweep.

    Raises:
        BadInput: a flag given a comma list, naming the commands that take one.
    """
    for axis in axes:
        if len(axis.values) > 1:
            typed = ",".join(str(getattr(value, "value", value)) for value in axis.values)
            raise BadInput(
                f"{axis.flag.flag} takes one value with {command}, got {typed} "
                f"(comma lists sweep with {SWEEP_COMMANDS})"
            )
    return {axis.flag.name: axis.values[0] for axis in axes}


@dataclass(frozen=True)
class Combination:
    """One configuration of a sweep: every flag's value, and the ones that vary, as typed."""

    values: dict[str, Any]
    varied: tuple[tuple[SweepFlag, Any], ...]  # the swept flags (several values) and this value

    @property
    def label(self) -> str:
        """The swept flags as typed: ``lstm --hidden-size 64 --layers 2``."""
        words = []
        for flag, value in self.varied:
            shown = str(getattr(value, "value", value))
            words += [shown] if flag.name == "kind" else [flag.flag, shown]
        return " ".join(words)


def combinations(axes: list[Axis]) -> list[Combination]:
    """The cartesian product of the axes, the last flag varying fastest."""
    swept = [axis.flag for axis in axes if len(axis.values) > 1]
    result = []
    for chosen in itertools.product(*(axis.values for axis in axes)):
        values = {axis.flag.name: value for axis, value in zip(axes, chosen, strict=True)}
        result.append(Combination(values, tuple((flag, values[flag.name]) for flag in swept)))
    return result


@dataclass(frozen=True)
class Case:
    """A combination made ready to run: what the command built from it (a spec, specs)."""

    combination: Combination
    prepared: Any


@dataclass(frozen=True)
class Outcome(Generic[Report]):
    """One combination's run: its report, or the error that stopped it."""

    combination: Combination
    report: Report | None
    error: RnnscopeError | None
    exit_code: int


def prepare(
    combos: Sequence[Combination], build: Callable[[Combination], Any], check: Callable[[Any], object]
) -> list[Case]:
    """Build and check every combination before any runs.

    Raises:
        BadInput: for the first combination refused, its flags named before the reason when
            the sweep has more than one.
    """
    cases = []
    for combination in combos:
        try:
            prepared = build(combination)
            check(prepared)
        except BadInput as error:
            if len(combos) == 1 or error.command_line_message.startswith(combination.label):
                raise
            raise BadInput(f"{combination.label}: {error.command_line_message}") from error
        cases.append(Case(combination, prepared))
    return cases


def run_cases(
    cases: Sequence[Case], run: Callable[[Any], Report], ok: Callable[[Report], bool]
) -> Iterator[Outcome[Report]]:
    """Run each case in turn. A case that fails is kept with its error and the sweep goes on,
    so that every other configuration still gets its answer."""
    for case in cases:
        try:
            report = run(case.prepared)
        except RnnscopeError as error:
            yield Outcome(case.combination, None, error, int(error.exit_code))
        else:
            code = ExitCode.OK if ok(report) else ExitCode.CHECK_FAILED
            yield Outcome(case.combination, report, None, int(code))


def worst_exit_code(outcomes: Sequence[Outcome[Any]]) -> int:
    """The sweep's exit code: the worst of its runs (3 run failed > 2 bad input > 1 check failed)."""
    return max((outcome.exit_code for outcome in outcomes), default=0)
