"""``rnnscope layout``: one layer's tensors in Keras and ONNX, and its weights carried across.

The tables come from ``frameworks`` alone, without torch; only ``--write`` and ``--export``
build the layer (``carry``, imported when they are asked for).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from rnnscope.errors import BadInput
from rnnscope.frameworks.conventions import framework_layouts, pytorch_gate_order, pytorch_rows
from rnnscope.frameworks.interface import export_notes, rebuild_code
from rnnscope.layer.cost import total_parameters
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.report import FrameworkLayout, LayoutReport

if TYPE_CHECKING:
    pass


def layout(
    spec: LayerSpec,
    to: str = "all",
    *,
    export: Path | None = None,
    write: Path | None = None,
    reset_after: bool | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    seed: int = 0,
    from_file: Path | None = None,
    prefix: str | None = None,
    given: Collection[str] = (),
) -> LayoutReport:
    """The layer's tensors in each framework ``to`` names (``keras``, ``onnx`` or ``all``).

    Args:
        spec: the validated layer spec.
        export: write the layer as ONNX here (torch's exporter) and check it against the table.
        write: write the layer's weights rearranged for the one framework ``to`` names, as .npz.
        reset_after: with ``write`` and Keras GRU, which variant (default True, PyTorch's).
        device: not used: the weights are read on the CPU (a note says so).
        dtype: the weights' dtype for ``write`` and ``export``.
        seed: seeds the weights, as ``inspect --seed`` does.
        from_file: ``--from FILE``: take the layer (config and weights) from this file instead, read as
            ``rnnscope load`` reads it; ``spec`` then gives only what weights cannot tell
            (nonlinearity, batch_first, dropout) and must be of the same kind.
        prefix: which of the file's layers, as its keys have it (needed when it holds several).
        given: the settings of ``spec`` set on purpose (the flags typed): with ``from_file``, one
            the file contradicts is refused.

    Raises:
        BadInput: a combination that cannot be done (named by its flag), before any work.
        RunFailed: torch's exporter failed.
    """
    if prefix is not None and from_file is None:
        raise BadInput("--prefix picks a layer of --from FILE: add --from")
    found = None
    notes = []
    if from_file is not None:
        from rnnscope.checkpoint.loading import find_layer

        found = find_layer(from_file, prefix, spec)
        spec = found.spec_with(spec, given)
        notes.append(found.note(spec, "--nonlinearity, --batch-first, --dropout"))
    layouts = framework_layouts(spec, to)
    target = _write_target(spec, layouts, to, reset_after) if write is not None else None
    if write is None and reset_after is not None:
        raise BadInput("--reset-after / --no-reset-after applies with --write (gru, --to keras)")
    if spec.lengths is not None and export is None:
        notes.append("--lengths is not used: layout runs no input")
    written = exported = None
    if export is not None or write is not None:
        from rnnscope.frameworks import carry  # imports torch

        if write is not None:
            carry.check_write(write, dtype)
        if export is not None:
            carry.check_export(spec, export, dtype)
        state = None if found is None else found.state_dict()
        module, parameters = carry.seeded_parameters(spec, dtype, seed, state)
        if target is not None and write is not None:
            written = carry.write_npz(carry.rearrange(target, parameters), write, target, dtype)
        if export is not None:
            onnx_layout = framework_layouts(spec, "onnx")[0]
            rebuild = None if found is not None else rebuild_code(spec, dtype, seed, export.name)
            exported = carry.export_onnx(spec, module, parameters, export, onnx_layout, rebuild)
            notes += [carry.EXPORTER_NOTE, *export_notes(spec, dtype, found is not None)]
    if device != "cpu":
        notes.append(f"--device {device} is not used: layout maps on the CPU")
    return LayoutReport(
        kind=spec.kind.value,
        cell=spec.cell,
        module=spec.module_repr,
        config=spec.config(),
        pytorch_params=total_parameters(spec),
        pytorch_gate_order=pytorch_gate_order(spec),
        pytorch_rows=pytorch_rows(spec),
        frameworks=layouts,
        notes=notes,
        export=exported,
        written=written,
        source=None if found is None else found.to_dict(),
    )


def _write_target(
    spec: LayerSpec, layouts: list[FrameworkLayout], to: str, reset_after: bool | None
) -> FrameworkLayout:
    """The one framework layout --write writes."""
    if to == "all":
        raise BadInput("--write needs one framework: add --to keras or --to onnx")
    keras_gru = to == "keras" and spec.kind is Kind.gru
    if reset_after is not None and not keras_gru:
        raise BadInput(
            "--reset-after / --no-reset-after applies to gru with --to keras, "
            f"not {spec.kind.value} --to {to}"
        )
    chosen = layouts
    if keras_gru:
        wanted = "reset_after=True" if reset_after in (None, True) else "reset_after=False"
        chosen = [layout for layout in layouts if wanted in layout.variant]
    target = chosen[0]
    if target.cannot_hold is not None:
        raise BadInput(f"--write --to {to}: {target.cannot_hold}")
    return target
