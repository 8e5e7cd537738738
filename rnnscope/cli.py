"""The command line: flags → spec → library → report → view → exit code.

Torch is imported inside the commands only, so ``--help`` and shell completion stay fast.
Annotations here are real objects (no ``from __future__ import annotations``): the
``command`` decorator hands Typer a signature built from them.
"""

import contextlib
import functools
import gc
import importlib
import inspect
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Annotated, Any, Optional, Union, get_args, get_origin

import typer
from typer import _click as click
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption
from typer.models import CommandFunctionType

from rnnscope.errors import BadInput, RnnscopeError
from rnnscope.layer.command_line import parse_lengths
from rnnscope.layer.side_by_side import specs_side_by_side
from rnnscope.layer.spec import DTYPES, Kind, LayerSpec
from rnnscope.layer.validation import COMPUTE_DEVICE_CHOICES, DEVICE_CHOICES, check_run_options, make_spec
from rnnscope.output_file import check_output_file
from rnnscope.sweep import (
    FLAGS_BY_NAME,
    SWEEP_COMMANDS,
    Axis,
    Case,
    Combination,
    combinations,
    parse_axes,
    parse_axis,
    prepare,
    run_cases,
    single_values,
    worst_exit_code,
)

if TYPE_CHECKING:
    from rnnscope.checkpoint.input_data import InputData


class Command(TyperCommand):
    """A command as Click writes it where Typer 0.29 departs from Click: arguments named in
    capitals (``KIND``, ``FILE``) in the usage line, the help and the errors, a required one bare
    and an optional one in brackets (Typer writes ``{kind}``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, TyperArgument) and param.metavar is None and param.name:
                param.metavar = param.name.upper()

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = param.metavar or ""
                pieces.append((name if param.required else f"[{name}]") + ("..." if param.nargs != 1 else ""))
        return pieces


SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")


class Group(TyperGroup):
    """``--install-completion SHELL`` and ``--show-completion SHELL`` as Typer documents them.

    Typer 0.29 makes both plain flags that detect the running shell, so ``--install-completion
    zsh`` run from bash installed the bash script and left ``zsh`` unread. A shell named right
    after either flag goes to Typer's own callback, which installs (or prints) that shell's
    script when given its name, as it does where shell detection is off.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if len(args) >= 2 and args[0] in ("--install-completion", "--show-completion") and args[1] in SHELLS:
            option = next(param for param in self.params if args[0] in param.opts)
            if option.callback is not None:
                option.callback(ctx, option, args[1])  # exits, as the flag does
        return super().parse_args(ctx, args)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        for param in params:
            if isinstance(param, TyperOption) and param.name in ("install_completion", "show_completion"):
                verb = "Install" if param.name == "install_completion" else "Show"
                param.help = (
                    f"{verb} completion for SHELL ({', '.join(SHELLS)}) or, without one, the current shell."
                )
        return params


class Rnnscope(typer.Typer):
    """The app: every command is a ``Command``."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[CommandFunctionType], CommandFunctionType]:
        kwargs.setdefault("cls", Command)
        return super().command(*args, **kwargs)


app = Rnnscope(
    name="rnnscope",
    help="See inside PyTorch's recurrent layers: shapes, gates, parameters.",
    cls=Group,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass(frozen=True)
class LayerFlags:
    """The layer-building flags shared by inspect, verify, compare and bench, as typed."""

    cell: bool
    input_size: int
    hidden_size: int
    layers: int
    bidirectional: bool
    batch_first: bool
    bias: bool
    dropout: float
    nonlinearity: Optional[str]
    proj_size: int
    seq_len: Optional[int]
    batch: Optional[int]
    unbatched: bool
    lengths: Optional[str]
    enforce_sorted: bool
    no_initial_state: bool
    device: str
    dtype: str
    seed: int
    computes: bool = False  # the command needs values: --device meta is not one of its devices
    given: frozenset[str] = frozenset()  # the settings typed on the command line (make_spec's names)

    def settings(self) -> dict[str, Any]:
        """The flags as ``make_spec``'s keywords."""
        return {
            "cell": self.cell,
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.layers,
            "bias": self.bias,
            "batch_first": self.batch_first,
            "dropout": self.dropout,
            "bidirectional": self.bidirectional,
            "proj_size": self.proj_size,
            "nonlinearity": self.nonlinearity,
            "seq_len": self.seq_len,
            "batch": self.batch,
            "unbatched": self.unbatched,
            "lengths": parse_lengths(self.lengths) if self.lengths is not None else None,
            "enforce_sorted": self.enforce_sorted,
            "initial_state": not self.no_initial_state,
        }

    def spec(self, kind: Kind) -> LayerSpec:
        """Validate every flag (in our flag names) and return the spec for ``kind``.

        Raises:
            BadInput: the first invalid value or combination.
        """
        check_run_options(self.device, self.dtype, self.seed, self.computes)
        return make_spec(kind, **self.settings())

    def unused_run_flags(
        self, reason: str, unused: tuple[str, ...] = ("--device", "--dtype", "--seed")
    ) -> list[str]:
        """The one policy for run flags a command has no use for (it builds nothing): they are
        checked as everywhere, and a note names those given (``reason`` says why), so that no
        flag is ignored silently."""
        given = [
            f"{flag} {value}"
            for flag, value, default in (
                ("--device", self.device, "cpu"),
                ("--dtype", self.dtype, "float32"),
                ("--seed", self.seed, 0),
            )
            if flag in unused and value != default
        ]
        return [f"{', '.join(given)}: not used, {reason}"] if given else []

    def specs_by_kind(self) -> tuple[dict[Kind, LayerSpec], list[str]]:
        """One spec per kind from the same flags, for ``compare``, and notes on how they applied.

        ``--proj-size`` goes to the LSTM only and ``--nonlinearity`` to the RNN only (the kinds
        that take them); the other rows are built without them and a note says so.

        Raises:
            BadInput: the first invalid value or combination, checked on the kind that takes it.
        """
        specs, notes = self.specs_for([Kind.rnn, Kind.gru, Kind.lstm])
        notes += self.unused_run_flags("compare builds nothing, it counts", unused=("--device", "--seed"))
        return {spec.kind: spec for spec in specs}, notes

    def specs_for(self, kinds: list[Kind]) -> tuple[list[LayerSpec], list[str]]:
        """One spec per kind from the same flags, as ``specs_side_by_side`` applies them.

        Raises:
            BadInput: the first invalid value or combination.
        """
        check_run_options(self.device, self.dtype, self.seed, self.computes)
        return specs_side_by_side(kinds, self.settings())


# The valued flags that have no default (--seq-len, --batch, --nonlinearity): None until given.
_NOT_GIVEN: dict[str, Any] = {name: None for name in FLAGS_BY_NAME if name != "kind"}


@dataclass(frozen=True)
class Run:
    """One layer to build and run: the spec and where, in what dtype, with what seed."""

    spec: LayerSpec
    device: str
    dtype: str
    seed: int


@dataclass(frozen=True)
class LayerSweep:
    """The layer flags of a command that sweeps: the switches and --lengths as typed, and each
    valued flag as its list of values (one value is a sweep of one)."""

    fixed: dict[str, Any]
    axes: list[Axis]

    def prepare(
        self,
        build: Callable[[LayerFlags, Optional[Kind]], Any],
        check: Callable[[Any], object],
        kinds: str = "",
    ) -> list[Case]:
        """Every combination of the values (and of ``kinds``, KIND as typed), built by ``build``
        from its flags and checked by ``check``, all before any runs.

        Raises:
            BadInput: the first combination refused, with its flags named.
        """
        axes = ([parse_axis(FLAGS_BY_NAME["kind"], kinds)] if kinds else []) + self.axes

        def flags_of(combination: Combination) -> Any:
            values = _NOT_GIVEN | combination.values
            kind = values.pop("kind", None)
            return build(LayerFlags(**self.fixed, **values), kind)

        return prepare(combinations(axes), flags_of, check)

    def runs(self, kinds: str, check: Callable[[Run], object]) -> list[Case]:
        """One ``Run`` per combination of KIND and the flags, every one checked before any runs."""
        return self.prepare(
            lambda flags, kind: Run(flags.spec(kind or Kind.rnn), flags.device, flags.dtype, flags.seed),
            check,
            kinds,
        )


@dataclass(frozen=True)
class Output:
    """Where a report goes: one JSON document, or Rich tables."""

    json: bool
    debug: bool

    def show(self, report: Any, view: str, device: Optional[str] = None) -> None:
        """Print the report as JSON, or as the tables ``view`` draws.

        ``view`` names a function of ``rnnscope.render``: by name, so that ``--json`` never
        imports rich (about a tenth of a short command's time). The JSON document ends with the
        ``environment`` object; its device is ``device``, else the document's own ``device``.
        """
        if self.json:
            from rnnscope.execution.environment import environment

            document = report.to_dict()
            where = device if device is not None else document.get("device")
            document["environment"] = environment(where if isinstance(where, str) else None)
            sys.stdout.write(json.dumps(document, allow_nan=False) + "\n")
            sys.stdout.flush()  # a sweep's lines reach a pipe as each run ends
            return
        from rnnscope import render

        render.print_view(getattr(render, view)(report))

    def sweep(
        self,
        cases: list[Case],
        run: Callable[[Any], Any],
        view: str,
        summary: str,
        ok: Callable[[Any], bool] = lambda report: bool(report.ok),
    ) -> int:
        """Run every case and return the worst exit code.

        One case is a plain run: its report in full (``view``), its errors raised. Several are
        a sweep: with --json one document per line as each run ends (an error goes to stderr
        and the sweep goes on), on a terminal one summary table (``summary``) at the end.
        """
        if len(cases) == 1:
            report = run(cases[0].prepared)
            self.show(report, view)
            return 0 if ok(report) else 1
        render = None if self.json else importlib.import_module("rnnscope.render")
        outcomes = []
        with render.progress_bar("sweep") if render else contextlib.nullcontext() as advance:
            for outcome in run_cases(cases, run, ok):
                outcomes.append(outcome)
                if outcome.error is not None and self.debug:
                    raise outcome.error
                if advance is not None:
                    advance(len(outcomes), len(cases), outcome.combination.label)
                if not self.json:
                    continue
                if outcome.report is not None:
                    self.show(outcome.report, view)
                elif outcome.error is not None:
                    sys.stderr.write(
                        f"error: {outcome.combination.label}: {outcome.error.command_line_message}\n"
                    )
        if render is not None:
            render.print_view(getattr(render, summary)(outcomes))
        return worst_exit_code(outcomes)

    def wrote(self, *paths: Optional[Path]) -> None:
        """One ``wrote FILE`` line per file written (None: not asked for): after the view on
        stdout, or on stderr with --json, whose stdout holds the document only."""
        stream = sys.stderr if self.json else sys.stdout
        for path in paths:
            if path is not None:
                stream.write(f"wrote {path}\n")


def _option(*names: str, help: str, **settings: Any) -> typer.models.OptionInfo:
    option: typer.models.OptionInfo = typer.Option(*names, help=help, **settings)
    return option


def complete_device(incomplete: str) -> list[str]:
    """--device's values for shell completion (without asking torch which devices are here)."""
    return [name for name in ("cpu", "cuda", "cuda:0", "mps", "auto", "meta") if name.startswith(incomplete)]


def complete_dtype(incomplete: str) -> list[str]:
    return [name for name in DTYPES if name.startswith(incomplete)]


def _device_option(help: str) -> Any:
    return Annotated[str, _option("--device", help=help, autocompletion=complete_device)]


# What --device offers in each command's --help: only the devices that command works on.
SHAPES_DEVICES = DEVICE_CHOICES + " (meta: shapes only, nothing allocated)."
COMPUTE_DEVICES = COMPUTE_DEVICE_CHOICES + "."
DeviceOption = Annotated[str, _option("--device", help=SHAPES_DEVICES, autocompletion=complete_device)]
ComputeDeviceOption = Annotated[
    str, _option("--device", help=COMPUTE_DEVICES, autocompletion=complete_device)
]
DtypeOption = Annotated[str, _option("--dtype", help=", ".join(DTYPES) + ".", autocompletion=complete_dtype)]
SeedOption = Annotated[int, _option("--seed", help="Seed for weights and input.")]
RtolOption = Annotated[
    Optional[float],
    _option(
        "--rtol",
        help="Relative tolerance: an element passes when |a − r| ≤ max(rtol·|r|, atol). "
        "[default: by device and dtype, 1e-05 for float32 on cpu]",
    ),
]
AtolOption = Annotated[
    Optional[float],
    _option("--atol", help="Absolute tolerance, as --rtol. [default: by device and dtype, as --rtol]"),
]

# The layer flags, in the order of --help: name → (flag names, help, default). A switch's
# default is a bool; a valued flag's is its default as typed (None: not given), and its
# metavar below names what one value is.
_LAYER_FLAGS: dict[str, tuple[tuple[str, ...], str, Any]] = {
    "cell": (("--cell",), "Use nn.RNNCell / LSTMCell / GRUCell.", False),
    "input_size": (("--input-size", "-i"), "H_in: features of x.", "10"),
    "hidden_size": (("--hidden-size", "-H"), "H_cell: features of h.", "20"),
    "layers": (("--layers", "-l"), "num_layers: stacked layers.", "1"),
    "bidirectional": (("--bidirectional/--unidirectional",), "Two directions (D = 2).", False),
    "batch_first": (("--batch-first/--seq-first",), "Input laid out (N, L, H_in).", False),
    "bias": (("--bias/--no-bias",), "Bias vectors.", True),
    "dropout": (("--dropout",), "Dropout between layers, 0 ≤ p ≤ 1.", "0"),
    "nonlinearity": (("--nonlinearity",), "tanh or relu; rnn only. [default: tanh]", None),
    "proj_size": (("--proj-size",), "lstm only: H_out, 0 ≤ proj < hidden.", "0"),
    "seq_len": (("--seq-len", "-L"), "L: time steps. [default: 100]", None),
    "batch": (("--batch", "-N"), "N: batch size. [default: 32]", None),
    "unbatched": (("--unbatched",), "2-D input (L, H_in).", False),
    "lengths": (("--lengths",), "Comma-separated lengths, e.g. 7,5,5,2: a packed batch.", None),
    "enforce_sorted": (
        ("--enforce-sorted/--no-enforce-sorted",),
        "Require decreasing --lengths.",
        False,
    ),
    "no_initial_state": (("--no-initial-state",), "Pass no h_0/c_0 (zeros).", False),
    "device": (("--device",), "", "cpu"),  # command() gives each command its own help
    "dtype": (("--dtype",), ", ".join(DTYPES) + ".", "float32"),
    "seed": (("--seed",), "Seed for weights and input.", "0"),
}
_METAVARS = {
    "dropout": "FLOAT",
    "nonlinearity": "NAME",
    "device": "DEVICE",
    "dtype": "DTYPE",
    "lengths": "LENGTHS",
}


def _layer_parameters(sweeps: bool, devices: str) -> dict[str, tuple[Any, Any]]:
    """name → (annotation, default) of the layer flags, ``devices`` the help of --device. The
    valued flags are read as text and typed by ``rnnscope.sweep``, which takes a comma list
    where the command sweeps."""
    parameters: dict[str, tuple[Any, Any]] = {}
    for name, (names, flag_help, default) in _LAYER_FLAGS.items():
        help = devices if name == "device" else flag_help
        if isinstance(default, bool):
            parameters[name] = (Annotated[bool, _option(*names, help=help)], default)
            continue
        metavar = _METAVARS.get(name, "INTEGER")
        if sweeps and name in FLAGS_BY_NAME:
            metavar += "[,...]"
        completion = {"device": complete_device, "dtype": complete_dtype}.get(name)
        option: typer.models.OptionInfo = typer.Option(
            *names, help=help, metavar=metavar, autocompletion=completion
        )
        parameters[name] = (Annotated[Optional[str], option], default)
    return parameters


_OUTPUT_PARAMETERS: dict[str, tuple[Any, Any]] = {
    "json_output": (
        Annotated[bool, _option("--json", help="One JSON document on stdout, nothing else.")],
        False,
    ),
    "debug": (Annotated[bool, _option("--debug", help="Show tracebacks for errors.")], False),
}


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a valid integer.") from None


def _float(value: Any) -> float:
    if isinstance(value, float):
        return value
    try:
        return float(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a valid float.") from None


def _choice(choices: type[Enum], case_sensitive: bool, several: bool) -> Callable[[Any], Enum]:
    """``several``: the argument takes several values, given apart (gradients' KIND ...)."""

    def match(value: str) -> Enum | None:
        for choice in choices:
            if choice.value == value or (
                not case_sensitive and str(choice.value).casefold() == value.casefold()
            ):
                return choice
        return None

    def choose(value: Any) -> Enum:
        if isinstance(value, choices):
            return value
        chosen = match(value)
        if chosen is not None:
            return chosen
        parts = value.split(",")
        if len(parts) > 1 and all(match(part.strip()) is not None for part in parts):
            apart = " ".join(part.strip() for part in parts)
            raise typer.BadParameter(
                f"{value!r}: give them apart, as in {apart}"
                if several
                else f"{value!r}: one at a time here (a comma list sweeps with {SWEEP_COMMANDS})"
            )
        allowed = ", ".join(repr(choice.value) for choice in choices)
        raise typer.BadParameter(f"{value!r} is not one of {allowed}.")

    return choose


def _with_clicks_wording(annotation: Any) -> None:
    """Give an int, float or Enum value Click's conversion and Click's words for a bad value
    ("'x' is not a valid integer.") in place of Typer 0.29's pydantic ones ("Input should be a
    valid integer, unable to parse string as an integer", "Value error, …"). A parameter with a
    parser of its own keeps it."""
    if get_origin(annotation) is not Annotated:
        return
    value_type, *metadata = get_args(annotation)
    info = next((item for item in metadata if isinstance(item, typer.models.ParameterInfo)), None)
    if info is None or info.parser is not None:
        return
    if get_origin(value_type) in (Union, UnionType):
        value_type = next(arg for arg in get_args(value_type) if arg is not type(None))
    several = get_origin(value_type) is list
    if several:
        value_type = get_args(value_type)[0]
    if value_type is int:
        info.parser = _integer
    elif value_type is float:
        info.parser = _float
    elif isinstance(value_type, type) and issubclass(value_type, Enum):
        info.parser = _choice(value_type, info.case_sensitive, several)


def _parameters(spec: dict[str, tuple[Any, Any]]) -> list[inspect.Parameter]:
    return [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)
        for name, (annotation, default) in spec.items()
    ]


# The layer flags whose parameter is named otherwise in make_spec.
_SETTING_NAMES = {"layers": "num_layers", "no_initial_state": "initial_state"}


def _typed_settings(context: typer.Context | None, names: Iterable[str]) -> frozenset[str]:
    """The layer settings typed on the command line (make_spec's names), not left at a default:
    ``--from`` refuses those the file contradicts and leaves the others to the file. (Typer's
    ParameterSource lives in its vendored click: compared by name.)"""
    if context is None:  # called without Typer's context: nothing is known to be typed
        return frozenset()
    sources = {name: context.get_parameter_source(name) for name in names}
    typed = [name for name, source in sources.items() if source is not None and source.name == "COMMANDLINE"]
    return frozenset(_SETTING_NAMES.get(name, name) for name in typed)


def command(
    devices: str = SHAPES_DEVICES, computes: bool = False, sweeps: bool = False
) -> Callable[[Callable[..., int]], Callable[..., None]]:
    """Give a command the shared flags and the one error boundary.

    The command declares ``output: Output`` (and ``layer: LayerFlags`` if it builds a layer,
    ``layer: LayerSweep`` if it also sweeps) and returns its exit code; this wrapper turns the
    shared flags into those objects, and an ``RnnscopeError`` into one line on stderr with the
    error's exit code (with ``--debug`` the traceback first, and the same exit code).

    Args:
        devices: the help of the layer flags' ``--device``: what this command works on.
        computes: the command needs values, so ``--device`` names no meta in its errors.
        sweeps: the layer flags (and KIND) take comma lists, each combination of the values
            runs in one process (``rnnscope.sweep``).
    """
    layer_parameters = _layer_parameters(sweeps, devices)

    def decorate(func: Callable[..., int]) -> Callable[..., None]:
        signature = inspect.signature(func)
        wants_layer = "layer" in signature.parameters
        own = [p for name, p in signature.parameters.items() if name not in ("layer", "output")]
        added = (_parameters(layer_parameters) if wants_layer else []) + _parameters(_OUTPUT_PARAMETERS)
        if wants_layer:  # Typer passes the context, which knows which flags were typed
            added += [inspect.Parameter("context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)]
        command_name = func.__name__.removesuffix("_command")
        for parameter in own + added:
            _with_clicks_wording(parameter.annotation)

        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> None:
            output = Output(json=kwargs.pop("json_output"), debug=kwargs.pop("debug"))
            typed = {name: kwargs.pop(name) for name in layer_parameters} if wants_layer else {}
            context: typer.Context | None = kwargs.pop("context", None)
            try:
                if wants_layer:
                    valued = {name: typed.pop(name) for name in FLAGS_BY_NAME if name in typed}
                    axes = parse_axes(valued, sweeps)
                    if sweeps:
                        kwargs["layer"] = LayerSweep(typed | {"computes": computes}, axes)
                    else:
                        values = _NOT_GIVEN | single_values(axes, command_name)
                        given = _typed_settings(context, layer_parameters)
                        kwargs["layer"] = LayerFlags(**typed, **values, computes=computes, given=given)
                code = func(output=output, **kwargs)
            except RnnscopeError as error:
                if output.debug:  # the traceback, and still the contract's exit code
                    traceback.print_exc(file=sys.stderr)
                else:
                    sys.stderr.write(f"error: {error.command_line_message}\n")
                raise typer.Exit(int(error.exit_code)) from None
            raise typer.Exit(code)

        wrapper.__signature__ = signature.replace(parameters=own + added)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in own + added}
        return wrapper

    return decorate


def _version(value: bool) -> None:
    if value:
        from rnnscope import __version__

        sys.stdout.write(f"rnnscope {__version__}\n")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """See inside PyTorch's recurrent layers: shapes, gates, parameters."""


KindArgument = Annotated[Kind, typer.Argument(help="rnn, lstm or gru.", case_sensitive=False)]
FromOption = Annotated[
    Optional[Path], _option("--from", help="Take the layer and its weights from this checkpoint.")
]
LowOption = Annotated[float, _option("--low", help="A gate below this is left-saturated.")]
HighOption = Annotated[float, _option("--high", help="A gate above this is right-saturated.")]
PrefixOption = Annotated[
    Optional[str], _option("--prefix", help="Which layer of --from, as its keys have it.")
]


KindsArgument = Annotated[
    str, typer.Argument(help="rnn, lstm or gru; a comma list such as lstm,gru sweeps.", metavar="KIND[,...]")
]


@app.command("inspect")
@command(sweeps=True)
def inspect_command(
    kind: KindsArgument,
    layer: LayerSweep,
    output: Output,
    gates: Annotated[
        bool, typer.Option("--gates", help="Also show which rows of each weight are which gate.")
    ] = False,
) -> int:
    """Build the layer, run synthetic input through it, and show every tensor's shape
    (expected from the documented formula beside actual) and every weight split into gates.

    A comma list (KIND, or a valued flag: --hidden-size 64,128) runs every combination in one
    process: one summary table, or with --json one document per line (JSON Lines).

    Exit 0 when every shape matches, 1 when one differs, 2 for bad input, 3 when the run fails
    (a sweep: the worst of its runs; bad input is refused before any runs).
    """
    from rnnscope.execution.build import check_runs
    from rnnscope.inspection import inspect_layer

    runs = layer.runs(kind, check=lambda run: check_runs((run.spec,), run.device, run.dtype))
    return output.sweep(
        runs,
        lambda run: inspect_layer(run.spec, run.device, run.dtype, run.seed, gates=gates),
        view="inspect_view",
        summary="inspect_sweep_view",
    )


@app.command("verify")
@command(COMPUTE_DEVICES, computes=True, sweeps=True)
def verify_command(
    kind: KindsArgument, layer: LayerSweep, output: Output, rtol: RtolOption = None, atol: AtolOption = None
) -> int:
    """Recompute the layer's outputs from its own weights with the textbook equations (float64,
    on the CPU) and compare them with what the module returned, per layer and direction.

    The module runs in eval mode (dropout off). Also shows the equations with the shape of
    every term, and the gate blocks of the weights. A comma list (KIND, or a valued flag:
    --dtype float32,float64) verifies every combination in one process.

    Exit 0 when everything is within tolerance, 1 when not, 2 for bad input (including
    --device meta), 3 when the run fails (a sweep: the worst of its runs).
    """
    from rnnscope.verification import check_tolerances, check_verifies, verify

    check_tolerances(rtol, atol)
    runs = layer.runs(kind, check=lambda run: check_verifies(run.spec, run.device, run.dtype))
    return output.sweep(
        runs,
        lambda run: verify(run.spec, run.device, run.dtype, run.seed, rtol=rtol, atol=atol),
        view="verify_view",
        summary="verify_sweep_view",
    )


@app.command("smoke")
@command()
def smoke_command(
    output: Output,
    device: ComputeDeviceOption = "cpu",
    dtype: DtypeOption = "float32",
    junit: Annotated[
        Optional[Path], typer.Option("--junit", help="Write JUnit XML here, one testcase per case.")
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="A few cases per kind: seconds.")] = False,
    seed: SeedOption = 0,
    rtol: RtolOption = None,
    atol: AtolOption = None,
) -> int:
    """Run a matrix of configurations (every kind, module and cell, layers, directions,
    batch-first, bias, relu, projections, unbatched, packed) through inspect and verify:
    the CI smoke run.

    Exit 0 when every case passes, 1 when one fails, 2 for bad input.
    """
    from rnnscope.render import progress_bar
    from rnnscope.smoke import run_smoke, write_junit

    if junit is not None:
        check_output_file("--junit", junit, ".xml", "smoke.xml")
    with progress_bar("smoke", enabled=not output.json) as progress:
        report = run_smoke(device, dtype, quick, progress, seed, rtol=rtol, atol=atol)
    if junit is not None:
        write_junit(report, junit)
    if output.debug:  # where each raised case was raised: the --debug its errors point to
        for case in report.failed:
            if case.traceback is not None:
                sys.stderr.write(f"{case.name}:\n{case.traceback}")
    output.show(report, "smoke_view")
    output.wrote(junit)
    return 0 if report.ok else 1


@app.command("compare")
@command("Not used: compare counts from the formulas and builds nothing.", sweeps=True)
def compare_command(layer: LayerSweep, output: Output) -> int:
    """RNN, GRU and LSTM of the same sizes side by side: parameters, ratio to RNN, MACs,
    FLOPs and memory, from the closed formulas (nothing is built, so --device and --seed are
    not used, and a note says so; --dtype sizes the memory).

    --proj-size applies to the LSTM row only and --nonlinearity to the RNN row only; a note
    says so. A comma list (--hidden-size 64,128) compares every combination of sizes: one
    table, or with --json one document per line. Exit 0, or 2 for bad input.
    """
    from rnnscope.comparison import CompareReport, compare

    def comparison(flags: LayerFlags, _: Optional[Kind]) -> Callable[[], CompareReport]:
        specs, notes = flags.specs_by_kind()  # every combination's flags checked before any runs
        return functools.partial(compare, specs, flags.dtype, notes)

    return output.sweep(
        layer.prepare(comparison, check=lambda _: None),
        lambda report: report(),
        view="compare_view",
        summary="compare_sweep_view",
        ok=lambda _: True,
    )


@app.command("bench")
@command(COMPUTE_DEVICES, computes=True)
def bench_command(
    kind: KindArgument,
    layer: LayerFlags,
    output: Output,
    backward: Annotated[bool, _option("--backward", help="Time forward + backward passes.")] = False,
    iters: Annotated[int, _option("--iters", help="Timed passes.")] = 20,
    warmup: Annotated[int, _option("--warmup", help="Untimed passes first.")] = 3,
    cudnn: Annotated[bool, _option("--cudnn/--no-cudnn", help="cuDNN on CUDA.")] = True,
    threads: Annotated[
        Optional[int],
        _option("--threads", help="torch's intra-op threads (torch.set_num_threads). [default: torch's]"),
    ] = None,
) -> int:
    """Time forward (with --backward, forward + backward) passes on the device: median and
    spread per pass, tokens/s, GFLOP/s from the cost model, and the same device's GFLOP/s on a
    plain matmul of the layer's biggest product, so the rate reads as a fraction of it.

    Exit 0, 2 for bad input (the meta device has nothing to time), 3 when the run fails.
    """
    from rnnscope.benchmark import bench
    from rnnscope.render import progress_bar

    spec = layer.spec(kind)
    with progress_bar(f"timing {spec.torch_class_name}", enabled=not output.json) as advance:
        report = bench(
            spec,
            layer.device,
            layer.dtype,
            layer.seed,
            iters=iters,
            warmup=warmup,
            backward=backward,
            cudnn=cudnn,
            threads=threads,
            on_pass=advance,
        )
    output.show(report, "bench_view")
    return 0


def _steps_as_seq_len(layer: LayerFlags, steps: Optional[int]) -> LayerFlags:
    """``--steps`` is another name for ``--seq-len``: both given and different is refused."""
    if steps is None:
        return layer
    if steps < 1:
        raise BadInput(f"--steps must be a positive integer, got {steps}")
    if layer.seq_len is not None and layer.seq_len != steps:
        raise BadInput(
            f"--steps ({steps}) and --seq-len ({layer.seq_len}) are the same setting here; give one of them"
        )
    return replace(layer, seq_len=steps)


@app.command("gradients")
@command(COMPUTE_DEVICES, computes=True)
def gradients_command(
    layer: LayerFlags,
    output: Output,
    kinds: Annotated[
        Optional[list[Kind]],
        typer.Argument(
            help="rnn, lstm or gru, one or more. [default: rnn gru lstm]",
            case_sensitive=False,
            metavar="KIND",
            show_default=False,
        ),
    ] = None,
    steps: Annotated[
        Optional[int], _option("--steps", help="L: time steps, another name for --seq-len. [default: 100]")
    ] = None,
    forget_bias: Annotated[
        Optional[list[float]],
        _option(
            "--forget-bias",
            help="Add B to the LSTM forget gate: rows H_cell:2·H_cell of bias_ih_l{k} and "
            "bias_ih_l{k}_reverse, every layer (bias_hh unchanged), so b_ih + b_hh grows by B "
            "there; repeat for one lstm row per value.",
        ),
    ] = None,
    png: Annotated[
        Optional[Path], _option("--png", help="Also write the chart as a PNG (needs matplotlib).")
    ] = None,
) -> int:
    """How far back each layer's gradient reaches: ‖∂y_T/∂x_t‖ for every t, from one backward
    pass from the sum of the last layer's final hidden state (both directions' with
    --bidirectional), as a log-scale chart, a table at a few t, and the memory horizon (steps
    back from T while the norm stays ≥ 1e-3 of its value at T).

    The norm is the root mean square over the batch of each sequence's ‖∂Σy_T/∂x_t‖. --cell,
    --lengths and --dropout do not apply. Exit 0, 2 for bad input, 3 when the run fails.
    """
    from rnnscope.gradient_norms import gradients
    from rnnscope.plot import check_png_target, write_gradients_png
    from rnnscope.render import progress_bar

    if png is not None:
        check_png_target(png)
    unique = list(dict.fromkeys(kinds or [Kind.rnn, Kind.gru, Kind.lstm]))
    specs, notes = _steps_as_seq_len(layer, steps).specs_for(unique)
    with progress_bar("gradients", enabled=not output.json) as advance:
        report = gradients(
            specs,
            layer.device,
            layer.dtype,
            layer.seed,
            forget_biases=forget_bias or (),
            notes=notes,
            on_step=advance,
        )
    if png is not None:
        write_gradients_png(report, png)
    output.show(report, "gradients_view")
    output.wrote(png)
    return 0


class Framework(str, Enum):
    keras = "keras"
    onnx = "onnx"
    all = "all"


@app.command("layout")
@command("Not used: layout maps the weights on the CPU.")
def layout_command(
    kind: KindArgument,
    layer: LayerFlags,
    output: Output,
    to: Annotated[Framework, _option("--to", help="keras, onnx or all.")] = Framework.all,
    export: Annotated[
        Optional[Path], _option("--export", help="Export the layer to this ONNX file and check it.")
    ] = None,
    write: Annotated[
        Optional[Path], _option("--write", help="Write the weights rearranged for --to as this .npz.")
    ] = None,
    reset_after: Annotated[
        Optional[bool],
        _option(
            "--reset-after/--no-reset-after", help="gru --to keras --write: which variant. [default: on]"
        ),
    ] = None,
    from_file: FromOption = None,
    prefix: PrefixOption = None,
) -> int:
    """The same layer in Keras and ONNX: every tensor's name, shape and gate order there, the
    PyTorch rows it comes from, and the parameter count beside PyTorch's. Needs neither
    framework; --export needs the onnx package.

    --write writes the weights (of --seed, or --from) rearranged for one framework; --export
    writes the layer with torch.onnx.export and reads its W, R and B back. Exit 0, 1 when the
    exported model differs from the table, 2 for bad input, 3 when the export fails.
    """
    from rnnscope.frameworks.layout import layout

    report = layout(
        layer.spec(kind),
        to.value,
        export=export,
        write=write,
        reset_after=reset_after,
        device=layer.device,
        dtype=layer.dtype,
        seed=layer.seed,
        from_file=from_file,
        prefix=prefix,
        given=layer.given,
    )
    output.show(report, "layout_view", device=layer.device if export or write else None)
    output.wrote(export, write)
    return 0 if report.ok else 1


@app.command("draw")
@command("Not used: draw builds nothing.")
def draw_command(
    kind: KindArgument,
    layer: LayerFlags,
    output: Output,
    svg: Annotated[Optional[Path], _option("--svg", help="Write the picture here as SVG.")] = None,
    png: Annotated[Optional[Path], _option("--png", help="Write the picture here as PNG.")] = None,
) -> int:
    """Draw the layer unrolled in time: one box per step, layer and direction, every arrow
    labelled with its tensor and shape, the rows of h_n and where they sit in the output.
    Long sequences show their first and last steps. Torch is not needed: the shapes come from
    the formulas (drawsvg writes the SVG, resvg-py the PNG: pip install 'rnnscope[draw]').

    --json prints the picture's content as data (and still writes the files asked for).
    Exit 0, or 2 for bad input, a missing library or a file that cannot be written.
    """
    from rnnscope.draw.content import unroll
    from rnnscope.draw.geometry import place
    from rnnscope.draw.svg import write_picture

    if svg is None and png is None and not output.json:
        raise BadInput("draw needs --svg FILE or --png FILE (or --json for the picture as data)")
    for flag, path, suffix in (("--svg", svg, ".svg"), ("--png", png, ".png")):
        if path is not None:
            check_output_file(flag, path, suffix, f"{kind.value}{suffix}")
    drawing = unroll(layer.spec(kind), notes=layer.unused_run_flags("draw builds nothing"))
    files = write_picture(place(drawing), svg, png) if svg is not None or png is not None else []
    output.show(replace(drawing, files=files), "draw_view")
    output.wrote(svg, png)
    return 0


def _sizes_from_data(layer: LayerFlags, kind: Kind, data: "InputData") -> LayerFlags:
    """L and N from ``--input-data``'s shape where --seq-len and --batch were not typed (N never
    with --lengths, which gives it; the shape check then holds the data against the flags)."""
    from rnnscope.activity import sizes_from_data

    sizes = sizes_from_data(kind, layer.cell, layer.batch_first, layer.unbatched, data)
    seq_len = layer.seq_len if layer.seq_len is not None else sizes.get("L")
    batch = layer.batch if layer.batch is not None or layer.lengths is not None else sizes.get("N")
    return replace(layer, seq_len=seq_len, batch=batch)


@app.command("activity")
@command(COMPUTE_DEVICES, computes=True)
def activity_command(
    kind: KindArgument,
    layer: LayerFlags,
    output: Output,
    from_file: FromOption = None,
    prefix: PrefixOption = None,
    input_data: Annotated[
        Optional[Path],
        _option("--input-data", help="Run this input: a .npy file or a tensor saved with torch.save."),
    ] = None,
    low: LowOption = 0.1,
    high: HighOption = 0.9,
    forget_bias: Annotated[
        Optional[float],
        _option(
            "--forget-bias",
            help="lstm: add B to the forget gate's rows of bias_ih_l{k} (and _reverse), every layer, "
            "as gradients --forget-bias does.",
        ),
    ] = None,
    png: Annotated[
        Optional[Path], _option("--png", help="Also write the scatter as a PNG (needs matplotlib).")
    ] = None,
) -> int:
    """How often each unit's gates saturate: every sigmoid gate (lstm i, f, o; gru r, z) of every
    unit, step, sequence, layer and direction, recomputed from the layer's weights with verify's
    equations; per unit, the fraction of (step, sequence) pairs below --low (left) and above
    --high (right), drawn as the scatter of Karpathy et al. 2015, Fig. 3.

    The layer is the seeded one inspect builds, or the one --from names; the input is synthetic,
    or --input-data's (L and N from its shape unless given). With --lengths, padded steps do not
    count. A cell is layer 0, forward. rnn has no sigmoid gate and is refused.
    Exit 0, 2 for bad input or an unsafe file, 3 when the run fails.
    """
    from rnnscope.activity import activity
    from rnnscope.checkpoint.input_data import read_input_data
    from rnnscope.plot import check_png_target, write_activity_png

    if png is not None:
        check_png_target(png, "activity.png")
    data = read_input_data(input_data) if input_data is not None else None
    if data is not None:
        layer = _sizes_from_data(layer, kind, data[0])
    report = activity(
        layer.spec(kind),
        layer.device,
        layer.dtype,
        layer.seed,
        low=low,
        high=high,
        from_file=from_file,
        prefix=prefix,
        data=data,
        forget_bias=forget_bias,
        given=layer.given,
    )
    if png is not None:
        write_activity_png(report, png)
    output.show(report, "activity_view")
    output.wrote(png)
    return 0


@app.command("load")
@command()
def load_command(
    file: Annotated[
        Path,
        typer.Argument(help="A torch.save file (zip or legacy), TorchScript archive or safetensors file."),
    ],
    output: Output,
    prefix: Annotated[
        Optional[str],
        _option(
            "--prefix",
            help="Only the layer whose keys start with exactly this prefix; container.prefix where "
            "two state_dicts share it.",
        ),
    ] = None,
    expect: Annotated[
        Optional[str],
        _option("--expect", help="Compare with a constructor, e.g. 'nn.LSTM(300, 512, num_layers=2)'."),
    ] = None,
    stats: Annotated[
        bool, _option("--stats", help="Mean, std, min, max of each gate block of the weights and biases.")
    ] = False,
    run: Annotated[
        bool, _option("--run", help="Rebuild each layer, load its tensors strictly and verify it.")
    ] = False,
    seed: Annotated[int, _option("--seed", help="Seed of the synthetic input for --run.")] = 0,
    device: Annotated[
        str,
        _option("--device", help="Where --run verifies: " + COMPUTE_DEVICES, autocompletion=complete_device),
    ] = "cpu",
) -> int:
    """Find the recurrent layers in a checkpoint and inspect them, reading the file without
    running it: its pickle is walked statically, nothing it names is imported or called, and a
    pickle that would call something dangerous is refused.

    Each layer gets its config, the constructor that loads its tensors with strict=True, and
    its parameters beside the documented formulas. Exit 0, 1 when a layer's tensors are missing
    or misshaped, --expect differs or --run fails a check, 2 for a bad or unsafe file.
    """
    from rnnscope.checkpoint.loading import load

    report = load(str(file), prefix=prefix, expect=expect, stats=stats, run=run, seed=seed, device=device)
    output.show(report, "load_view", device=device if run else None)
    return 0 if report.ok else 1


@app.command("model")
@command()
def model_command(
    target: Annotated[
        str,
        typer.Argument(help="package.module:NAME or path/to/file.py:NAME (a class, instance or function)."),
    ],
    output: Output,
    init: Annotated[
        Optional[str], _option("--init", help="Literal arguments for NAME, e.g. 'vocab=100, hidden=32'.")
    ] = None,
    inputs: Annotated[
        Optional[list[str]],
        _option(
            "--input", help="SHAPE[:DTYPE[:HIGH]] per positional argument, e.g. 4,7:int64:100. Repeatable."
        ),
    ] = None,
    weights: Annotated[
        Optional[Path],
        _option("--weights", help="Load this checkpoint's tensors first (read, never unpickled)."),
    ] = None,
    prefix: Annotated[
        Optional[str],
        _option(
            "--prefix",
            help="The wrapper prefix of --weights' keys, e.g. module; container.prefix where two "
            "state_dicts carry it.",
        ),
    ] = None,
    batch: Annotated[
        Optional[int],
        _option("--batch", "-N", help="The batch size the inputs carry: flag calls that differ."),
    ] = None,
    gates: Annotated[
        bool, _option("--gates", help="Show each module's weights split into gate blocks.")
    ] = False,
    stats: Annotated[bool, _option("--stats", help="Mean, std, min, max of each gate block.")] = False,
    layer_path: Annotated[
        Optional[str], _option("--layer", help="Show this recurrent module in full (its path).")
    ] = None,
    device: ComputeDeviceOption = "cpu",
    dtype: Annotated[
        Optional[str], _option("--dtype", help=", ".join(DTYPES) + ". [default: the model's own]")
    ] = None,
    seed: SeedOption = 0,
    show_traceback: Annotated[
        bool, _option("--traceback", help="Show the whole traceback of an error in your code.")
    ] = False,
    activity: Annotated[
        bool,
        _option("--activity", help="Count each LSTM and GRU module's gate saturation, as activity does."),
    ] = False,
    low: LowOption = 0.1,
    high: HighOption = 0.9,
) -> int:
    """Run your own model once and show each recurrent module as its forward called it:
    calls, shape signatures, expected beside actual shapes, exact MACs, and every call
    recomputed with the reference equations. This imports and runs the code TARGET names.

    Exit 0 when every call fits and verifies, 1 when a call fails, a check fails or the forward
    raises, 2 for bad input (including code that cannot be imported or built), 3 when the run fails.
    """
    from rnnscope.model.summary import run_model
    from rnnscope.model.target import UserCodeError

    if not activity and (low, high) != (0.1, 0.9):
        raise BadInput("--low and --high apply with --activity: add it")

    try:
        report = run_model(
            target,
            init=init,
            inputs=inputs,
            weights=None if weights is None else str(weights),
            prefix=prefix,
            batch=batch,
            gates=gates,
            stats=stats,
            layer=layer_path,
            device=device,
            dtype=dtype,
            seed=seed,
            activity=(low, high) if activity else None,
        )
    except UserCodeError as error:
        if show_traceback:
            sys.stderr.write("".join(traceback.format_exception(error.original)))
        raise
    if show_traceback and report.traceback is not None:
        sys.stderr.write(report.traceback)
    output.show(report, "model_view")
    return 0 if report.ok else 1


def main() -> None:
    """Run the CLI with the cyclic garbage collector off; after a command that imported torch,
    leave without the interpreter's teardown.

    A command's start is imports — Typer's pydantic, torch — that create a few hundred thousand
    objects, none of them garbage, which the collector would walk again and again. A command is
    one bounded run whose tensors and reports are freed by reference counting, so the collector
    stays off until the process ends. Tearing torch down costs a quarter of a short command's
    time (measured: the bare script with ``os._exit`` ran in 0.73× its time), and nothing is
    left to clean up: the reports are written and the files closed when the command returns.
    """
    gc.disable()
    try:
        # One name in every usage line, whether started as rnnscope or python -m rnnscope.
        app(prog_name="rnnscope")
    except SystemExit as done:
        if "torch" not in sys.modules:
            raise
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        if isinstance(done.code, str):
            sys.stderr.write(done.code + "\n")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
