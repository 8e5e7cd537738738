"""``rnnscope bench``: time forward (and backward) passes and set the rate beside a plain matmul's.

The achieved rate only means something against what the same device reaches on a matrix
product of the layer's own size, measured in the same process with the same dtype: the
report's ``fraction_of_matmul``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext

from rnnscope.errors import bad_argument
from rnnscope.execution.build import check_runs, make_inputs, seeded_module
from rnnscope.execution.probe import initial_state, pack
from rnnscope.execution.runtime import TORCH_DTYPES, guarded_run, torch
from rnnscope.layer import cost
from rnnscope.layer.gates import gate_count
from rnnscope.layer.spec import LayerSpec
from rnnscope.layer.validation import check_computes
from rnnscope.report import BenchReport, ProgressCallback, Timing

rnn_utils = torch.nn.utils.rnn


def pass_flops(spec: LayerSpec, backward: bool) -> int:
    """FLOPs of one timed pass. The backward pass is counted as two more matrix products per
    forward product (one for the gradient of the input, one for the weight's), the usual
    convention; torch computes a little less, since x and h_0 need no gradient here."""
    forward = cost.forward_cost(spec)
    return forward.flops + (2 * 2 * forward.macs if backward else 0)


def bench(
    spec: LayerSpec,
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
    *,
    iters: int = 20,
    warmup: int = 3,
    backward: bool = False,
    cudnn: bool = True,
    threads: int | None = None,
    on_pass: ProgressCallback | None = None,
) -> BenchReport:
    """Time ``iters`` passes of the layer after ``warmup`` untimed ones, each followed by a plain
    matmul of the layer's biggest product, timed the same way.

    Args:
        spec: the validated layer spec.
        device: ``--device`` as typed; meta is refused (it computes nothing).
        dtype: a name from ``spec.DTYPES``.
        seed: seeds the weights and the input.
        iters: timed passes (at least 1).
        warmup: untimed passes first (0 or more).
        backward: time forward + backward instead of a forward pass under inference mode.
        cudnn: False runs under ``torch.backends.cudnn.flags(enabled=False)`` on CUDA.
        threads: ``torch.set_num_threads(threads)`` first; like torch's own setting it holds
            for the rest of the process (None: leave torch's, one per physical core by default).
        on_pass: called after every pass, warm-up included, with (passes done, passes in all,
            "warm-up" or "timed"): a progress bar's callback.

    Raises:
        BadInput: bad --iters/--warmup, the meta device, a device that is not here, a layer
            past what PyTorch can build or hold, or a configuration that cannot fit the device.
        RunFailed: a pass failed although the input was valid.
    """
    if iters < 1:
        raise bad_argument("iters", "--iters", f"must be a positive integer, got {iters}")
    if warmup < 0:
        raise bad_argument("warmup", "--warmup", f"must be 0 or more, got {warmup}")
    if threads is not None and threads < 1:
        raise bad_argument("threads", "--threads", f"must be a positive integer, got {threads}")
    check_computes(device, "bench")
    needed = (lambda spec: cost.training_bytes(spec, dtype)) if backward else None
    torch_device = check_runs((spec,), device, dtype, computes=True, needed=needed)
    torch_dtype = TORCH_DTYPES[dtype]
    notes: list[str] = []
    if not cudnn and torch_device.type != "cuda":
        notes.append(f"--no-cudnn has no effect on {torch_device.type}: cuDNN is CUDA's")
    if spec.lengths is not None:
        notes.append("the batch is packed once before timing: each pass is the layer on a PackedSequence")
    if threads is not None:
        torch.set_num_threads(threads)
    backend = torch.backends.cudnn.flags(enabled=False) if not cudnn else nullcontext()
    with guarded_run(torch_device, notes), backend:
        module = seeded_module(spec, torch_device, dtype, seed, training=backward)
        run = _pass(spec, module, make_inputs(spec, torch_device, torch_dtype), backward)
        m, k, n = cost.largest_matmul(spec)
        a = torch.randn(m, k, device=torch_device, dtype=torch_dtype)  # (m, k)
        b = torch.randn(k, n, device=torch_device, dtype=torch_dtype)  # (k, n)

        def matmul() -> None:
            with torch.inference_mode():
                torch.matmul(a, b)  # (m, n)

        timing, matmul_timing = _time_paired(run, matmul, torch_device, iters, warmup, on_pass)
    tokens = cost.layer_costs(spec)[0].rows
    threads_used, cores = torch.get_num_threads(), os.cpu_count()
    notes.append(_matmul_note(spec, (m, k, n)))
    if timing.wide:
        notes.append(_spread_note(timing, threads_used, cores, torch_device))
    return BenchReport(
        kind=spec.kind.value,
        module=repr(module),
        config=spec.config(),
        device=str(torch_device),
        dtype=dtype,
        backward=backward,
        cudnn=cudnn,
        iters=iters,
        warmup=warmup,
        timing=timing,
        tokens_per_pass=tokens,
        flops_per_pass=pass_flops(spec, backward),
        matmul_shape=(m, k, n),
        matmul_timing=matmul_timing,
        threads=threads_used,
        cores=cores,
        notes=notes,
    )


def _matmul_note(spec: LayerSpec, shape: tuple[int, int, int]) -> str:
    """Why the reference matmul has its shape, in this layer's numbers."""
    m, k, n = shape
    if spec.cell:
        rows = "the batch"
    else:
        rows = "all L·N steps and sequences" if spec.lengths is None else "all real steps"
    gates = gate_count(spec.kind.value)
    return (
        f"the matmul ({m}, {k}) @ ({k}, {n}) is the layer's biggest single product: one layer's "
        f"input projection for {rows} at once, {m} rows of x_t (width {k}) times W_ih's {gates} "
        f"gates × H_cell = {n} columns. The layer's own products are this size or smaller (the "
        "recurrent ones one step at a time), so its rate is what the layer's shapes allow on this "
        "device, not the device's peak"
    )


def _spread_note(timing: Timing, threads: int, cores: int | None, device: torch.device) -> str:
    """What a wide spread of pass times most likely means, and what steadies it."""
    ms = {name: f"{seconds * 1e3:,.1f} ms" for name, seconds in timing.to_dict().items()}
    spread = (
        f"the pass times spread widely: {ms['min_s']} to {ms['max_s']} around a median of "
        f"{ms['median_s']} (quartiles {ms['q1_s']} to {ms['q3_s']})"
    )
    if device.type != "cpu":
        return f"{spread}; likely other work on the {device.type} device or its host; more --iters help"
    shared = f"{cores} cores" if cores else "this machine's cores"
    return (
        f"{spread}; likely other work on this machine: torch's {threads} intra-op threads share "
        f"{shared} with it, and each pass waits for its slowest thread. --threads 1 (or "
        "OMP_NUM_THREADS=1) usually steadies it; more --iters help"
    )


def _pass(
    spec: LayerSpec, module: torch.nn.Module, inputs: dict[str, torch.Tensor], backward: bool
) -> Callable[[], None]:
    """One pass of the layer: forward under inference mode, or forward and backward."""
    x: torch.Tensor | rnn_utils.PackedSequence = inputs["input"]
    if spec.lengths is not None:
        x = pack(spec, inputs["input"], spec.lengths)
    state = initial_state(spec, inputs)

    def forward() -> torch.Tensor:
        returned = module(x, state)
        if spec.cell:
            return returned[0] if spec.has_cell_state else returned  # type: ignore[no-any-return]
        output = returned[0]
        return output.data if spec.lengths is not None else output  # type: ignore[no-any-return]

    def forward_only() -> None:
        with torch.inference_mode():
            forward()

    def forward_backward() -> None:
        module.zero_grad(set_to_none=True)
        forward().sum().backward()  # type: ignore[no-untyped-call]

    return forward_backward if backward else forward_only


@contextmanager
def _timed(device: torch.device, seconds: list[float]) -> Iterator[None]:
    """Append the wall time of the block, waiting for the device's queued work on CUDA/MPS."""
    if device.type == "cuda":
        start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        start.record()
        yield
        end.record()
        end.synchronize()
        seconds.append(start.elapsed_time(end) / 1e3)
        return
    began = time.perf_counter()
    yield
    if device.type == "mps":
        torch.mps.synchronize()
    seconds.append(time.perf_counter() - began)


def _time_paired(
    run: Callable[[], None],
    matmul: Callable[[], None],
    device: torch.device,
    iters: int,
    warmup: int,
    on_pass: ProgressCallback | None,
) -> tuple[Timing, Timing]:
    """Time the layer and the matmul in alternation, so that both see the same machine: on a
    shared host a burst of other work then slows both, not only whichever ran during it."""
    layer_seconds: list[float] = []
    matmul_seconds: list[float] = []
    for index in range(warmup + iters):
        timed = index >= warmup
        with _timed(device, layer_seconds if timed else []):
            run()
        with _timed(device, matmul_seconds if timed else []):
            matmul()
        if on_pass is not None:
            on_pass(index + 1, warmup + iters, "timed" if timed else "warm-up")
    return Timing.of(layer_seconds), Timing.of(matmul_seconds)
