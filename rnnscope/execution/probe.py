"""Run the layer ``build`` makes on its synthetic input, and keep every tensor it touched."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from rnnscope.execution.build import check_runs, make_inputs, seeded_module, state_names
from rnnscope.execution.runtime import TORCH_DTYPES, guarded_run, torch
from rnnscope.layer.command_line import command_line
from rnnscope.layer.spec import LayerSpec, dropout_note

nn = torch.nn
rnn_utils = torch.nn.utils.rnn

# PyTorch's warning for --dropout on one layer; spec.dropout_note says it in rnnscope's words.
_TORCH_DROPOUT_WARNING = "dropout option adds dropout after all but last recurrent layer"

# The meta device walks every time step of every layer and direction in Python (measured here:
# about 1.2 s once plus 5-6 ms per step): past this many steps the forward pass is skipped.
META_FORWARD_STEP_LIMIT = 160


@dataclass
class Probe:
    """A built module, the tensors fed to it, and the tensors it returned (empty if skipped)."""

    spec: LayerSpec
    device: torch.device
    dtype: torch.dtype
    module: nn.Module
    inputs: dict[str, torch.Tensor]
    outputs: dict[str, torch.Tensor] = field(default_factory=dict)
    packed_input: rnn_utils.PackedSequence | None = None
    packed_output: rnn_utils.PackedSequence | None = None
    notes: list[str] = field(default_factory=list)
    skipped_reason: str | None = None

    def run_fields(self, dtype: str, seed: int) -> dict[str, Any]:
        """What ran, where and how, as every layer report (report.LayerRun) starts."""
        return {
            "kind": self.spec.kind.value,
            "cell": self.spec.cell,
            "module": repr(self.module),
            "config": self.spec.config(),
            "device": str(self.device),
            "dtype": dtype,
            "seed": seed,
        }


def meta_skip_reason(spec: LayerSpec, dtype: str, seed: int) -> str | None:
    """Why a meta forward pass would take too long, with the command line that runs it."""
    if spec.cell:
        return None
    per_step = spec.num_layers * spec.directions
    if spec.seq_len == 1 or spec.seq_len * per_step <= META_FORWARD_STEP_LIMIT:
        return None
    runnable = max(1, META_FORWARD_STEP_LIMIT // per_step)
    # --lengths must fit --seq-len: a shorter run keeps the lengths, cut to it.
    lengths = None if spec.lengths is None else tuple(min(length, runnable) for length in spec.lengths)
    shorter = command_line("inspect", replace(spec, seq_len=runnable, lengths=lengths), "meta", dtype, seed)
    return (
        f"forward pass skipped on meta: PyTorch walks all {spec.seq_len * per_step:,} steps "
        f"(seq-len × layers × directions) at about 5 ms each; shapes of the tensors come from "
        f"the formulas only. Run it with --seq-len {runnable} or less: {shorter}"
    )


def probe(
    spec: LayerSpec,
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
    training: bool = True,
    weights: dict[str, torch.Tensor] | None = None,
    computes: bool = False,
) -> Probe:
    """Build the module, make its input and run the forward pass.

    Args:
        spec: the validated layer spec.
        device: ``--device`` as typed (``auto`` and ``cuda`` resolve to a real index).
        dtype: a name from ``spec.DTYPES``.
        seed: seeds torch's generator before the weights and the input are drawn.
        training: False puts the module in eval mode (dropout off).
        weights: a state_dict to load with ``strict=True`` instead of the seeded initial weights
            (``load --run``); the seed still draws the input.
        computes: the caller needs values (verify): a device error suggests no meta.

    Raises:
        BadInput: a device that is not here, a layer past what PyTorch can build or hold, or a
            configuration that cannot fit the device.
        RunFailed: the forward pass failed although the input was valid.
    """
    torch_device = check_runs((spec,), device, dtype, computes=computes)
    torch_dtype = TORCH_DTYPES[dtype]
    notes: list[str] = []
    with guarded_run(torch_device, notes):
        module = seeded_module(spec, torch_device, dtype, seed, training=training, weights=weights)
        inputs = make_inputs(spec, torch_device, torch_dtype)
        result = Probe(spec, torch_device, torch_dtype, module, inputs, notes=notes)
        result.skipped_reason = meta_skip_reason(spec, dtype, seed) if torch_device.type == "meta" else None
        if result.skipped_reason is None:
            with torch.inference_mode():
                _forward(result)
    notes[:] = [note for note in notes if not note.startswith(_TORCH_DROPOUT_WARNING)]
    note = dropout_note(spec, "" if result.skipped_reason else "train" if training else "eval")
    if note is not None:
        notes.insert(0, note)
    return result


State = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None


def initial_state(spec: LayerSpec, inputs: dict[str, torch.Tensor]) -> State:
    """The module's second argument: h_0, (h_0, c_0) for LSTM, or None with --no-initial-state."""
    if not spec.initial_state:
        return None
    return (inputs["h_0"], inputs["c_0"]) if spec.has_cell_state else inputs["h_0"]


def pack(spec: LayerSpec, x: torch.Tensor, lengths: tuple[int, ...]) -> rnn_utils.PackedSequence:
    """The padded batch x packed by ``--lengths``, as a caller would pack it."""
    return rnn_utils.pack_padded_sequence(
        x,
        torch.tensor(lengths),  # pack_padded_sequence wants them on the CPU
        batch_first=spec.batch_first,
        enforce_sorted=spec.enforce_sorted,
    )


def _forward(result: Probe) -> None:
    spec, module, inputs = result.spec, result.module, result.inputs
    x = inputs["input"]
    state = initial_state(spec, inputs)
    if spec.cell:
        returned = module(x, state)
        names = state_names(spec, "1")
        values = returned if spec.has_cell_state else (returned,)
        result.outputs = dict(zip(names, values, strict=True))
        return
    if spec.lengths is not None:
        result.packed_input = pack(spec, x, spec.lengths)
        packed_output, final = module(result.packed_input, state)
        result.packed_output = packed_output
        if result.device.type == "meta":
            result.notes.append(
                "output_padded: pad_packed_sequence cannot run on meta (it copies the indices to "
                "the CPU), so its row shows the formula only"
            )
        else:
            output, _ = rnn_utils.pad_packed_sequence(packed_output, batch_first=spec.batch_first)
            result.outputs["output_padded"] = output
    else:
        output, final = module(x, state)
        result.outputs["output"] = output
    finals = final if spec.has_cell_state else (final,)
    result.outputs |= dict(zip(state_names(spec, "n"), finals, strict=True))
