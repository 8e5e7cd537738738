"""``rnnscope gradients``: how far back a layer's gradient reaches, ‖∂y_T/∂x_t‖ for every t.

One forward pass and one backward pass per row give the gradient of the target with respect
to the whole input at once. The target is the sum of the last layer's final hidden state of
each direction, ``h_n[-D:]``: the forward direction's output at t = T = L − 1 and, with
``--bidirectional``, the reverse direction's output at t = 0, where that direction ends. Its
gradient with respect to x_t (N, H_in) is reduced to one number per t, the root mean square
over the batch of each sequence's ‖∂(Σ_j y_T[n, j]) / ∂x_t[n]‖₂ (sequences in a batch do not
interact, so summing the target over the batch gives each sequence's own gradient).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from rnnscope.errors import BadInput, bad_argument
from rnnscope.execution.build import check_runs, make_inputs, seeded_module
from rnnscope.execution.probe import initial_state
from rnnscope.execution.runtime import TORCH_DTYPES, guarded_run, torch
from rnnscope.layer import cost
from rnnscope.layer.command_line import refused
from rnnscope.layer.gates import gate_blocks
from rnnscope.layer.shapes import expected_parameters
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import check_computes
from rnnscope.report import GradientRow, GradientsReport, ProgressCallback, row_label


def check_gradient_spec(spec: LayerSpec) -> None:
    """Refuse the flags that have no meaning for a gradient over time.

    Raises:
        BadInput: --cell, --lengths or --dropout, naming the flag.
    """
    if spec.cell:
        raise refused(
            lambda name: (
                f"{name('cell')} does not apply to gradients: a cell runs one time step, "
                "there is no t to reach"
            )
        )
    if spec.lengths is not None:
        raise refused(
            lambda name: (
                f"{name('lengths')} does not apply to gradients: every sequence runs all its steps, to t = T"
            )
        )
    if spec.dropout:
        raise refused(
            lambda name: (
                f"{name('dropout')} does not apply to gradients: they are measured without "
                f"dropout (a random mask would change them on every run), got {spec.dropout:g}"
            )
        )


def smallest_positive(dtype: str) -> float:
    """The dtype's smallest positive number (subnormal): below it a value is exactly 0."""
    info = torch.finfo(TORCH_DTYPES[dtype])
    return float(info.tiny * info.eps)


def check_forget_bias(value: float, spec: LayerSpec, parameter: str = "forget_bias") -> None:
    """Refuse a forget bias that cannot be added to this LSTM.

    Raises:
        BadInput: a value that is not finite, or a layer without bias vectors (--no-bias).
    """
    if not math.isfinite(value):
        raise bad_argument(parameter, "--forget-bias", f"must be a finite number, got {value}")
    if not spec.bias:
        raise BadInput(
            f"{parameter} needs the bias vectors: it cannot be used with bias=False",
            command_line_message="--forget-bias needs the bias vectors: it cannot be used with --no-bias",
        )


def add_forget_bias(module: torch.nn.Module, spec: LayerSpec, value: float) -> None:
    """Add ``value`` to the forget gate of b_ih + b_hh in every layer and direction.

    PyTorch's LSTM adds the two bias vectors, so only their sum matters; the value goes to rows
    H_cell:2·H_cell (gate order i|f|g|o) of ``bias_ih_l{k}`` and ``bias_ih_l{k}_reverse``, and
    ``bias_hh`` is left as it is.
    """
    forget = next(block for block in gate_blocks("lstm", "bias_ih", spec.hidden_size) if block.gate == "f")
    with torch.no_grad():
        for formula in expected_parameters(spec):
            if formula.role == "bias_ih":
                getattr(module, formula.name)[forget.start : forget.stop] += value


def target_description(spec: LayerSpec) -> str:
    """What y_T is, in words, for the report."""
    if spec.bidirectional:
        return (
            "y_T = h_n[-2:]: the last layer's forward output at t = T and its reverse output at "
            "t = 0, where that direction ends"
        )
    return "y_T = h_n[-1]: the last layer's output at t = T"


def gradients(
    specs: Sequence[LayerSpec],
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
    *,
    forget_biases: Sequence[float] = (),
    notes: Sequence[str] = (),
    on_step: ProgressCallback | None = None,
) -> GradientsReport:
    """Measure ‖∂y_T/∂x_t‖ for every t, one row per spec (an LSTM: one per forget bias).

    Every row re-seeds torch with ``seed`` and builds its layer and input as ``inspect`` does,
    so a row's layer is the one ``rnnscope inspect KIND --seed S`` shows (plus the forget bias).

    Args:
        specs: validated specs, all with the same seq_len and batch layout.
        device: ``--device`` as typed; meta is refused (it computes nothing).
        dtype: a name from ``spec.DTYPES``.
        seed: seeds the weights and the input of every row.
        forget_biases: values to add to the LSTM forget-gate bias, one LSTM row each; empty
            gives one LSTM row with nothing added (reported as 0).
        notes: notes for the report (how the flags applied).
        on_step: called after each forward and each backward pass with (passes done, passes in
            all, what ran): a progress bar's callback.

    Raises:
        BadInput: a flag that does not apply, the meta device, a device that is not here, or a
            configuration that cannot fit it.
        RunFailed: a pass failed although the input was valid.
    """
    report_notes = list(notes)
    for spec in specs:
        check_gradient_spec(spec)
    lstm = [spec for spec in specs if spec.kind is Kind.lstm]
    if forget_biases and not lstm:
        raise BadInput("--forget-bias applies to lstm only: add lstm to the kinds")
    for value in forget_biases:
        check_forget_bias(value, lstm[0], "forget_biases")
    others = [spec.kind.value for spec in specs if spec.kind is not Kind.lstm]
    if forget_biases and others:
        report_notes.append(
            f"--forget-bias applies to the lstm rows only: {' and '.join(others)} "
            f"{'has' if len(others) == 1 else 'have'} no forget gate"
        )
    check_computes(device, "gradients")
    torch_device = check_runs(
        specs, device, dtype, computes=True, needed=lambda spec: cost.training_bytes(spec, dtype)
    )
    plan = [
        (spec, bias)
        for spec in specs
        for bias in ((forget_biases or (0.0,)) if spec.kind is Kind.lstm and spec.bias else (None,))
    ]
    rows = []
    with guarded_run(torch_device, report_notes):
        for index, (spec, bias) in enumerate(plan):

            def progress(phase: int, what: str, index: int = index) -> None:
                if on_step is not None:
                    on_step(2 * index + phase, 2 * len(plan), what)

            rows.append(_row(spec, torch_device, dtype, seed, bias, progress))
    first = specs[0]
    return GradientsReport(
        steps=first.seq_len,
        batch=1 if first.unbatched else first.batch,
        device=str(torch_device),
        dtype=dtype,
        seed=seed,
        smallest_positive=smallest_positive(dtype),
        target=target_description(first),
        rows=rows,
        notes=report_notes + _underflow_notes(rows, dtype),
    )


def _row(
    spec: LayerSpec,
    device: torch.device,
    dtype: str,
    seed: int,
    forget_bias: float | None,
    progress: Callable[[int, str], None],
) -> GradientRow:
    """Build the layer, run forward and backward once, and reduce x's gradient per t."""
    # Training mode: cuDNN runs the backward pass only there; without dropout (refused above)
    # the two modes compute the same thing.
    module = seeded_module(spec, device, dtype, seed, training=True)
    if forget_bias:
        add_forget_bias(module, spec, forget_bias)
    inputs = make_inputs(spec, device, TORCH_DTYPES[dtype])
    x = inputs["input"].requires_grad_(True)  # (L, N, H_in), (N, L, H_in) or (L, H_in)
    what = row_label(spec.kind.value, forget_bias)
    _output, final = module(x, initial_state(spec, inputs))
    h_n = final[0] if spec.has_cell_state else final  # (D·num_layers, N, H_out) or (D·num_layers, H_out)
    progress(1, f"{what}: forward done")
    (grad,) = torch.autograd.grad(h_n[-spec.directions :].sum(), x)  # like x
    progress(2, f"{what}: backward done")
    if spec.unbatched:
        grad = grad[:, None, :]  # (L, 1, H_in)
    elif spec.batch_first:
        grad = grad.transpose(0, 1)  # (L, N, H_in)
    return GradientRow(
        kind=spec.kind.value,
        module=repr(module),
        config=spec.config(),
        forget_bias=forget_bias,
        norms=_norms(grad),
    )


def _norms(grad: torch.Tensor) -> list[float | None]:
    """Per t, the root mean square over the batch of each sequence's gradient norm.

    grad: (L, N, H_in). Computed in float64 and scaled by each step's largest element first, so
    that squaring gradients near the dtype's smallest number does not underflow to zero.
    """
    g = grad.to(torch.float64)  # (L, N, H_in)
    largest = g.abs().amax(dim=(1, 2))  # (L,)
    scale = torch.where(largest > 0, largest, torch.ones_like(largest))
    rms = (g / scale[:, None, None]).pow(2).sum(dim=(1, 2)).div(g.shape[1]).sqrt()  # (L,)
    values = (largest * rms).tolist()
    return [value if math.isfinite(value) else None for value in values]


def _underflow_notes(rows: list[GradientRow], dtype: str) -> list[str]:
    notes = []
    for row in rows:
        if row.zeros:
            last_zero = max(t for t, value in enumerate(row.norms) if value == 0.0)
            wider = "" if dtype == "float64" else "; --dtype float64 reaches further down"
            notes.append(
                f"{row.label}: the gradient is exactly 0 at {row.zeros} step(s), up to t = {last_zero}: "
                f"it fell below {dtype}'s smallest number, {smallest_positive(dtype):.1e}{wider}"
            )
        missing = sum(1 for value in row.norms if value is None)
        if missing:
            notes.append(f"{row.label}: the gradient is not finite at {missing} step(s) (shown as null)")
    return notes
