"""What PyTorch can build and hold, checked before it runs: the seeds it takes, the bytes a
tensor's storage can have, the depth of a stack that builds in reasonable time. No torch."""

from __future__ import annotations

import math
import re

from rnnscope.errors import BadInput
from rnnscope.layer.command_line import refused
from rnnscope.layer.gates import gate_count
from rnnscope.layer.shapes import expected_parameters, expected_tensors, format_shape, gate_rows_formula
from rnnscope.layer.spec import DTYPE_BYTES, LayerSpec, Shape

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

# The setting behind each symbol of PyTorch's docstrings, to name it when a size is past a limit.
_SYMBOL_SETTINGS = {
    "L": "seq_len",
    "N": "batch",
    "H_in": "input_size",
    "H_cell": "hidden_size",
    "H_out": "hidden_size",  # or proj_size, where it is given
    "lengths": "lengths",
}
_GATES = "the gate pre-activations"


def check_torch_limits(spec: LayerSpec, dtype: str) -> None:
    """Refuse, before torch runs, a layer PyTorch cannot build or hold on any device.

    Checks ``num_layers`` against MAX_LAYERS and every tensor PyTorch creates for the layer —
    parameters, input, states, output, and the gate pre-activations of every row at once,
    (rows, G·H_cell), which PyTorch's CPU kernels compute before the time loop — against the
    TORCH_MAX_BYTES a tensor's storage can have.

    Raises:
        BadInput: naming the tensor, its size, the limit and the settings that set it.
    """
    if spec.num_layers > MAX_LAYERS:
        raise refused(
            lambda setting: (
                f"{setting('num_layers')} must be at most {MAX_LAYERS:,}, got {spec.num_layers:,}: "
                "PyTorch's time to build a stack grows faster than its depth (5,000 layers take about 2 s, "
                "20,000 about 25 s)"
            )
        )
    for name, formula, shape in _torch_tensors(spec):
        held_as = dtype
        if name == _GATES and DTYPE_BYTES[dtype] < DTYPE_BYTES["float32"]:
            # PyTorch holds every kind's gates in float32 even for float16 and bfloat16 (measured
            # on meta, torch 2.4 and 2.13: N = 2^40 rows of G·H = 2^21 half gates overflow the
            # storage size for RNN, GRU and LSTM alike).
            held_as = "float32"
        size = math.prod(shape) * DTYPE_BYTES[held_as]
        if size > TORCH_MAX_BYTES:
            raise _past_storage_limit(spec, (name, formula, shape), size, held_as)


def _past_storage_limit(spec: LayerSpec, tensor: tuple[str, str, Shape], size: int, held_as: str) -> BadInput:
    """The error for a tensor past TORCH_MAX_BYTES, naming the settings its formula uses."""
    name, formula, shape = tensor
    symbols_used = re.findall(r"[A-Za-z_]+", formula)
    settings = {_SYMBOL_SETTINGS[symbol]: None for symbol in symbols_used if symbol in _SYMBOL_SETTINGS}
    if spec.proj_size and "H_out" in symbols_used:
        settings["proj_size"] = None
    return refused(
        lambda setting: (
            f"{name} {formula} would be {format_shape(shape)}: {size:,} bytes in {held_as}, "
            f"past the 2^63 - 1 bytes a PyTorch tensor can hold; lower {', '.join(map(setting, settings))}"
        )
    )


def _torch_tensors(spec: LayerSpec) -> list[tuple[str, str, Shape]]:
    """(name, formula, shape) of every tensor PyTorch makes for the spec's forward pass."""
    gates = gate_count(spec.kind.value)
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
    tensors.append((_GATES, f"({rows_symbol}, {gate_rows_formula(spec)})", gate_shape))
    return tensors
