"""``rnnscope.verify``: recompute a layer's outputs with the textbook equations and compare.

The module runs on the chosen device and dtype in eval mode; the reference (reference.py)
runs in float64 on the CPU from the same weights and inputs. Each compared tensor is split
per layer and direction, so a failure points at where it starts.
"""

from __future__ import annotations

import math

from rnnscope.errors import bad_argument
from rnnscope.execution.build import check_runs
from rnnscope.execution.probe import Probe, probe
from rnnscope.execution.reference import reference_forward
from rnnscope.execution.runtime import check_fits, torch
from rnnscope.inspection import state_rows
from rnnscope.layer.cost import forward_bytes
from rnnscope.layer.direction import DIRECTIONS, short
from rnnscope.layer.equations import equations, gate_rows
from rnnscope.layer.limits import check_torch_limits
from rnnscope.layer.spec import LayerSpec
from rnnscope.layer.validation import check_computes
from rnnscope.report import CheckRow, Tolerance, VerifyReport

# The largest max |a − r| / max(|r|, 1) that passes, by where the module ran and its dtype.
# Measured on CPU (torch 2.13, L = 100, N = 32, up to 3 bidirectional layers of 64, seeds 0-2):
# float64 ≤ 1e-15, float32 ≤ 5e-7, float16 ≤ 1.7e-3, bfloat16 ≤ 1.5e-2; each limit leaves a
# margin of 3× or more. On accelerators cuDNN may run float32 RNNs in TF32
# (torch.backends.cudnn.allow_tf32 is True by default), whose 10-bit mantissa is float16's.
TOLERANCES: dict[str, dict[str, float]] = {
    "cpu": {"float64": 1e-10, "float32": 1e-5, "float16": 1e-2, "bfloat16": 5e-2},
    "accelerator": {"float64": 1e-10, "float32": 1e-2, "float16": 1e-2, "bfloat16": 5e-2},
}


def tolerance(device_type: str, dtype: str) -> float:
    """The tolerance for a device type (``cpu``, ``cuda``, ``mps``) and dtype name."""
    return TOLERANCES["cpu" if device_type == "cpu" else "accelerator"][dtype]


def check_tolerances(rtol: float | None, atol: float | None) -> None:
    """Refuse a --rtol or --atol that is negative or not a number.

    Raises:
        BadInput: naming the flag.
    """
    for parameter, value in (("rtol", rtol), ("atol", atol)):
        if value is not None and not (0.0 <= value < math.inf):
            raise bad_argument(parameter, f"--{parameter}", f"must be a number ≥ 0, got {value:g}")


def judging_tolerance(device_type: str, dtype: str, rtol: float | None, atol: float | None) -> Tolerance:
    """--rtol and --atol as given, each one not given the default for the device type and dtype."""
    default = tolerance(device_type, dtype)
    return Tolerance(default if rtol is None else rtol, default if atol is None else atol)


def verify(
    spec: LayerSpec,
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
    weights: dict[str, torch.Tensor] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
) -> VerifyReport:
    """Run the layer, recompute it from its weights in float64 and compare every output.

    ``weights`` (a state_dict, loaded with ``strict=True``) replaces the seeded initial weights.
    ``rtol`` and ``atol`` judge every element by ``|a − r| ≤ max(rtol·|r|, atol)``; each one
    left None is TOLERANCES' value for where the module ran and its dtype.

    Raises:
        BadInput: a negative --rtol/--atol, ``meta`` (nothing to compare), a device that is not
            here, a layer past what PyTorch can build or hold, or a configuration that cannot fit
            the device or the CPU reference.
        RunFailed: the forward pass failed although the input was valid.
    """
    check_tolerances(rtol, atol)
    check_verifies(spec, device, dtype)
    ran = probe(spec, device, dtype, seed, training=False, weights=weights, computes=True)
    float64_weights = {name: p.detach().to("cpu", torch.float64) for name, p in ran.module.named_parameters()}
    inputs = {name: tensor.to("cpu", torch.float64) for name, tensor in ran.inputs.items()}
    with torch.no_grad():
        reference = reference_forward(spec, float64_weights, inputs)
    limit = judging_tolerance(ran.device.type, dtype, rtol, atol)
    return VerifyReport(
        **ran.run_fields(dtype, seed),
        tolerance=limit,
        checks=reference_checks(spec, ran, reference, limit),
        states=state_rows(ran),
        equations=equations(spec),
        gates=gate_rows(spec),
        notes=ran.notes + _notes(spec, ran.device.type, dtype, limit),
    )


def check_verifies(spec: LayerSpec, device: str, dtype: str) -> None:
    """Every refusal ``verify`` makes before it allocates (a sweep makes them all first).

    Raises:
        BadInput: ``meta``, a device that is not here, a layer past what PyTorch can build or
            hold, or a configuration that cannot fit the device or the CPU reference.
    """
    check_computes(device, "verify")
    check_torch_limits(spec, dtype)  # before check_fits, whose "use --device meta" cannot help here
    check_fits(spec, torch.device("cpu"), forward_bytes(spec, "float64"))
    check_runs((spec,), device, dtype, computes=True)


def reference_checks(
    spec: LayerSpec, ran: Probe, reference: dict[str, torch.Tensor], limit: Tolerance
) -> list[CheckRow]:
    """One check per tensor slice: the output per direction, then h_n / c_n per layer and
    direction (cells: h_1 and c_1)."""
    actual = ran.outputs
    if spec.cell:
        return [_check(name, actual[name], reference[name], limit) for name in reference]
    checks = []
    output_name = "output_padded" if spec.packed else "output"
    if spec.bidirectional:
        width = spec.h_out  # the output holds forward then reverse along its last axis
        for index, direction in enumerate(DIRECTIONS):
            columns = slice(index * width, (index + 1) * width)
            checks.append(
                _check(
                    f"{output_name}[{short(direction)}]",
                    actual[output_name][..., columns],
                    reference[output_name][..., columns],
                    limit,
                )
            )
    else:
        checks.append(_check(output_name, actual[output_name], reference[output_name], limit))
    for state in ("h_n", "c_n") if spec.has_cell_state else ("h_n",):
        for layer in range(spec.num_layers):
            for index, direction in enumerate(spec.direction_names):
                row = layer * spec.directions + index  # h_n's first axis is D·num_layers
                name = f"{state}[layer {layer}, {short(direction)}]"
                checks.append(_check(name, actual[state][row], reference[state][row], limit))
    return checks


def _check(name: str, actual: torch.Tensor, expected: torch.Tensor, limit: Tolerance) -> CheckRow:
    values = actual.detach().to("cpu", torch.float64)
    if values.shape != expected.shape:
        detail = f"shape {tuple(values.shape)} differs from the reference's {tuple(expected.shape)}"
        return CheckRow(name, None, None, limit, detail=detail)
    if not bool(torch.isfinite(values).all()):
        return CheckRow(name, None, None, limit, detail="the module returned NaN or inf")
    difference = (values - expected).abs()
    magnitude = expected.abs()
    within = bool((difference <= (magnitude * limit.rtol).clamp(min=limit.atol)).all())
    scaled = difference / magnitude.clamp(min=1.0)
    return CheckRow(name, float(difference.max()), float(scaled.max()), limit, within)


def _notes(spec: LayerSpec, device_type: str, dtype: str, limit: Tolerance) -> list[str]:
    notes = [
        "the module ran in eval mode; the reference recomputed it "
        "in float64 on the CPU from the module's own weights and inputs.",
        f"an element passes when |a − r| ≤ max(rtol·|r|, atol), here {limit} "
        f"({_tolerance_source(device_type, dtype, limit)}); max rel err is max |a − r| / max(|r|, 1).",
    ]
    if device_type != "cpu" and dtype == "float32" and limit.rtol == tolerance(device_type, dtype):
        notes.append(
            "cuDNN may run float32 recurrent layers in TF32 (torch.backends.cudnn.allow_tf32), "
            "hence the float16-sized tolerance."
        )
    if spec.packed:
        reverse = " and the reverse direction's at step 0" if spec.bidirectional else ""
        notes.append(
            "with --lengths each sequence runs over its own steps only: h_n holds its state at "
            f"its own last valid step{reverse}; output_padded is 0 past each sequence's length."
        )
    if spec.cell:
        notes.append("a cell runs one step: x_t is the input, h_{t−1} is h_0 and h_t is h_1.")
    return notes


def _tolerance_source(device_type: str, dtype: str, limit: Tolerance) -> str:
    default = tolerance(device_type, dtype)
    if limit.rtol == limit.atol == default:
        return f"the default for {dtype} on {device_type}"
    return f"the default for {dtype} on {device_type} is {default:g} for both"
