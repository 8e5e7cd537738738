"""Building a layer on a device, the one way every command does it: PyTorch's limits, the
device, whether the layer fits there (all refused before anything is allocated), then the
seeded module and its synthetic input, built in place on the device.

Run the building inside ``runtime.guarded_run`` so that torch's failures become one line and
its warnings the report's notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from rnnscope.execution.runtime import TORCH_DTYPES, check_fits, manual_seed, resolve_device, torch
from rnnscope.layer.cost import forward_bytes
from rnnscope.layer.limits import check_torch_limits
from rnnscope.layer.spec import Kind, LayerSpec

nn = torch.nn


def check_runs(
    specs: Sequence[LayerSpec],
    device: str,
    dtype: str,
    *,
    computes: bool = False,
    needed: Callable[[LayerSpec], int] | None = None,
) -> torch.device:
    """Every refusal made before allocating, for each of ``specs`` (a sweep makes them all
    before its first run); returns the device ``--device`` names here.

    Args:
        specs: the layers the run builds on the one device.
        device: ``--device`` as typed.
        dtype: a name from ``spec.DTYPES``.
        computes: the command needs values: a device error suggests no meta.
        needed: the bytes a layer needs on the device; its forward pass in ``dtype`` if None.

    Raises:
        BadInput: a layer past what PyTorch can build or hold, a device that is not here, or a
            configuration that cannot fit the device.
    """
    for spec in specs:
        check_torch_limits(spec, dtype)
    torch_device = resolve_device(device, computes)
    for spec in specs:
        check_fits(spec, torch_device, forward_bytes(spec, dtype) if needed is None else needed(spec))
    return torch_device


def seeded_module(
    spec: LayerSpec,
    device: torch.device,
    dtype: str,
    seed: int,
    *,
    training: bool,
    weights: Mapping[str, torch.Tensor] | None = None,
) -> nn.Module:
    """The module ``--seed`` gives: torch's generator seeded, then the layer built on the device
    (its initial weights drawn there) in training or eval mode; with ``weights`` (a state_dict,
    ``load_state_dict(strict=True)``) in place of the seeded ones. Draw the input after it, as
    ``make_inputs``, for the values every command shows for that seed."""
    manual_seed(seed, device)
    module = build_module(spec, device, TORCH_DTYPES[dtype]).train(training)
    if weights is not None:
        module.load_state_dict(dict(weights), strict=True)
    return module


def build_module(spec: LayerSpec, device: torch.device, dtype: torch.dtype) -> nn.Module:
    """The nn.RNN / LSTM / GRU (or Cell) that the spec describes, built in place on the device."""
    module_class = getattr(nn, spec.torch_class_name)
    options: dict[str, object] = {"bias": spec.bias, "device": device, "dtype": dtype}
    if spec.kind is Kind.rnn:
        options["nonlinearity"] = spec.nonlinearity
    if not spec.cell:
        options |= {
            "num_layers": spec.num_layers,
            "batch_first": spec.batch_first,
            "dropout": spec.dropout,
            "bidirectional": spec.bidirectional,
        }
        if spec.kind is Kind.lstm:
            options["proj_size"] = spec.proj_size
    module: nn.Module = module_class(spec.input_size, spec.hidden_size, **options)
    return module


def make_inputs(spec: LayerSpec, device: torch.device, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    """Random x and, unless ``--no-initial-state``, h_0 (and c_0), in the documented shapes.

    With ``--lengths`` the positions past each sequence's length are zeroed, as a padded batch
    would hold them.
    """
    n, steps = spec.batch, spec.seq_len
    # Meta tensors hold no values, and torch.randn on meta imports sympy (half a second).
    draw = torch.empty if device.type == "meta" else torch.randn
    batch_axis = () if spec.unbatched else (n,)
    if spec.cell:
        x = draw(*batch_axis, spec.input_size, device=device, dtype=dtype)  # (N, H_in)
        states = {name: (*batch_axis, spec.hidden_size) for name in state_names(spec, "0")}
    else:
        if spec.unbatched:
            x_shape: tuple[int, ...] = (steps, spec.input_size)  # (L, H_in)
        elif spec.batch_first:
            x_shape = (n, steps, spec.input_size)  # (N, L, H_in)
        else:
            x_shape = (steps, n, spec.input_size)  # (L, N, H_in)
        x = draw(*x_shape, device=device, dtype=dtype)
        if spec.lengths is not None and device.type != "meta":
            steps_index = torch.arange(steps, device=device)
            lengths = torch.tensor(spec.lengths, device=device)
            valid = steps_index[:, None] < lengths[None, :]  # (L, N)
            x = x * (valid.T if spec.batch_first else valid)[..., None].to(dtype)
        layers = spec.directions * spec.num_layers
        states = {
            name: (layers, *batch_axis, spec.hidden_size if name == "c_0" else spec.h_out)
            for name in state_names(spec, "0")
        }
    inputs = {"input": x}
    if spec.initial_state:
        inputs |= {name: draw(*shape, device=device, dtype=dtype) for name, shape in states.items()}
    return inputs


def state_names(spec: LayerSpec, step: str) -> list[str]:
    """h_{step} (and c_{step} for LSTM): the names probe and model give a state's tensors."""
    return ["h_" + step, "c_" + step] if spec.has_cell_state else ["h_" + step]
