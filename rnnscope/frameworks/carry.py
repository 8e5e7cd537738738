"""Real weights carried across: rearranged by the layout, written as .npz, exported to ONNX.

``rearrange`` applies a ``FrameworkTensor`` (the same object the table prints) to PyTorch's
parameters; ``write_npz`` writes the result without numpy; ``export_onnx`` runs
``torch.onnx.export`` and reads the W, R and B initialisers back with the ``onnx`` package.
"""

from __future__ import annotations

import ctypes
import importlib.util
import sys
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnscope.errors import BadInput, RunFailed
from rnnscope.execution.build import make_inputs, seeded_module
from rnnscope.execution.probe import initial_state
from rnnscope.execution.runtime import TORCH_DTYPES, torch
from rnnscope.frameworks.conventions import ONNX
from rnnscope.frameworks.interface import GraphValue, dynamic_axes, graph_values
from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.output_file import check_output_file
from rnnscope.report import (
    ExportedAttribute,
    ExportedTensor,
    ExportedValue,
    ExportReport,
    FrameworkLayout,
    FrameworkTensor,
    WriteReport,
    WrittenArray,
)

# numpy's .npy type codes (numpy.lib.format, NEP 1) for the dtypes --write takes; bfloat16 has none.
_NPY_CODES = {"float32": "f4", "float64": "f8", "float16": "f2"}
_EXPORT_DTYPES = ("float32", "float64")


def seeded_parameters(
    spec: LayerSpec, dtype: str, seed: int, state: Mapping[str, torch.Tensor] | None = None
) -> tuple[torch.nn.Module, dict[str, torch.Tensor]]:
    """The module ``inspect --seed`` builds on the CPU, and its parameters by name; with
    ``state`` (a checkpoint's tensors, ``load_state_dict(strict=True)``) in place of the seeded ones."""
    module = seeded_module(spec, torch.device("cpu"), dtype, seed, training=False, weights=state)
    return module, {name: value.detach() for name, value in module.named_parameters()}


def block_values(tensor: FrameworkTensor, parameters: Mapping[str, torch.Tensor]) -> list[list[torch.Tensor]]:
    """Each part's blocks as PyTorch's rows (summed where the layout sums)."""
    return [
        [_summed([parameters[name][block.start : block.stop] for name in block.parameters]) for block in part]
        for part in tensor.parts
    ]


def _summed(values: list[torch.Tensor]) -> torch.Tensor:
    return sum(values[1:], start=values[0])


def rearrange(layout: FrameworkLayout, parameters: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every tensor of ``layout`` made from PyTorch's ``parameters``, by name.

    Raises:
        RunFailed: a result whose shape differs from the layout's (the mapping would be wrong).
    """
    arrays = {}
    for tensor in layout.tensors:
        parts = [torch.cat(blocks) for blocks in block_values(tensor, parameters)]
        value = torch.stack(parts) if tensor.stacked else parts[0]
        if tensor.transposed:
            value = value.T
        if tuple(value.shape) != tensor.shape:
            raise RunFailed(
                f"{tensor.name} came out {tuple(value.shape)}, not {tensor.shape} as the table says"
            )
        arrays[tensor.name] = value.contiguous()
    return arrays


def check_write(path: Path, dtype: str) -> None:
    """Refuse, before any work, what --write cannot do."""
    if dtype not in _NPY_CODES:
        raise BadInput(f"--write stores {', '.join(_NPY_CODES)} (.npy has no {dtype}), got --dtype {dtype}")
    check_output_file("--write", path, ".npz", "weights.npz")


def write_npz(
    arrays: Mapping[str, torch.Tensor], path: Path, layout: FrameworkLayout, dtype: str
) -> WriteReport:
    """Write ``arrays`` as ``path`` in numpy's .npz format (a zip of .npy files, uncompressed as
    ``numpy.savez`` writes it), keyed by the layout's tensor names. Needs no numpy.

    Raises:
        BadInput: the file cannot be written.
    """
    code = ("<" if sys.byteorder == "little" else ">") + _NPY_CODES[dtype]
    written = []
    try:
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, value in arrays.items():
                cpu = value.to(TORCH_DTYPES[dtype]).cpu().contiguous()
                archive.writestr(f"{name}.npy", _npy_bytes(cpu, code))
                written.append(WrittenArray(name, tuple(cpu.shape), code))
    except OSError as error:
        raise BadInput(f"--write {path}: {error.strerror or error}") from None
    return WriteReport(str(path), layout.framework, layout.variant, written)


def _npy_bytes(value: torch.Tensor, code: str) -> bytes:
    """One .npy file: magic, version 1.0, a header padded to a multiple of 64 bytes, the data."""
    shape = tuple(value.shape)
    shape_text = f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    header = f"{{'descr': '{code}', 'fortran_order': False, 'shape': {shape_text}, }}"
    preamble = 6 + 2 + 2  # magic, version, header length
    header += " " * (-(preamble + len(header) + 1) % 64) + "\n"
    # The tensor's own memory: contiguous on the CPU, kept alive by `value` while it is read.
    data = ctypes.string_at(value.data_ptr(), value.numel() * value.element_size())
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1") + data


def check_export(spec: LayerSpec, path: Path, dtype: str) -> None:
    """Refuse, before any work, what --export cannot do; a missing onnx package last, so that a
    request it could never serve is refused as such wherever it runs."""
    if spec.cell:
        raise BadInput(
            "--export applies to layers, not --cell: torch exports a cell as Gemm and element-wise "
            "nodes, and ONNX has no cell operator"
        )
    if spec.proj_size > 0:
        raise BadInput("--export cannot export --proj-size: the ONNX LSTM operator has no projection")
    if spec.lengths is not None:
        raise BadInput("--lengths does not apply with --export (it exports the layer on a padded input)")
    if dtype not in _EXPORT_DTYPES:
        raise BadInput(f"--export takes --dtype float32 or float64, got {dtype}")
    check_output_file("--export", path, ".onnx", f"{spec.kind.value}.onnx")
    if importlib.util.find_spec("onnx") is None:
        raise BadInput("--export needs the onnx package: pip install 'rnnscope[onnx]'")


EXPORTER = "torch.onnx.export(dynamo=False)"
EXPORTER_NOTE = (
    "exported with torch.onnx.export(dynamo=False), the TorchScript exporter: it writes ONNX "
    "LSTM/GRU/RNN nodes with W, R and B; the dynamo exporter (torch's default) unrolls the time "
    "loop into MatMul nodes, leaving no such tensors to read"
)


def export_onnx(
    spec: LayerSpec,
    module: torch.nn.Module,
    parameters: Mapping[str, torch.Tensor],
    path: Path,
    layout: FrameworkLayout,
    rebuild: str | None,
) -> ExportReport:
    """Export ``module`` to ``path`` and hold the file's recurrent nodes against ``layout``.

    The graph takes the layer's example input and, unless ``--no-initial-state``, its initial
    state, named as PyTorch names them (``interface.graph_values``), with L and N dynamic.
    ``rebuild`` (the code that rebuilds the layer) goes into the model's metadata.

    Raises:
        RunFailed: torch's exporter failed on a valid layer.
    """
    import onnx
    from onnx import numpy_helper

    inputs = make_inputs(spec, torch.device("cpu"), next(module.parameters()).dtype)
    state = initial_state(spec, inputs)
    expected_inputs, expected_outputs = graph_values(spec)
    try:
        with warnings.catch_warnings():
            # The exporter's deprecation and tracer warnings are about its own future, not this layer.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (inputs["input"],) if state is None else (inputs["input"], state),
                str(path),
                dynamo=False,
                input_names=[value.name for value in expected_inputs],
                output_names=[value.name for value in expected_outputs],
                dynamic_axes=dynamic_axes(spec),
            )
    except Exception as error:  # the exporter raises bare RuntimeErrors and its own types
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise RunFailed(f"torch.onnx.export failed: {first_line}") from None
    model = onnx.load(str(path))
    if rebuild is not None:
        onnx.helper.set_model_props(model, {"rebuild": rebuild})
        onnx.save(model, str(path))
    values = _values_against("input", model.graph.input, expected_inputs)
    values += _values_against("output", model.graph.output, expected_outputs)
    initializers = {item.name: item for item in model.graph.initializer}
    convention = next(c for c in ONNX if c.kind == spec.kind.value)
    nodes = [node for node in model.graph.node if node.op_type == convention.layer]
    attributes = [
        ExportedAttribute("graph", f"{convention.layer} nodes", str(spec.num_layers), str(len(nodes)))
    ]
    tensors = []
    for index, node in enumerate(nodes[: spec.num_layers]):
        group = f"layer{index}"
        found = {item.name: onnx.helper.get_attribute_value(item) for item in node.attribute}
        attributes += [
            ExportedAttribute(group, name, expected, _attribute_text(found.get(name), _DEFAULTS[name], spec))
            for name, expected in _expected_attributes(spec).items()
        ]
        for position, leaf in ((1, "W"), (2, "R"), (3, "B")):
            claimed = next((t for t in layout.tensors if t.name == f"{group}/{leaf}"), None)
            name = node.input[position] if len(node.input) > position and node.input[position] else None
            if claimed is None:  # --no-bias: the table claims no B
                attributes.append(
                    ExportedAttribute(group, "B input", "absent", "absent" if name is None else name)
                )
                continue
            array = numpy_helper.to_array(initializers[name]) if name in initializers else None
            value = None if array is None else torch.from_numpy(array.copy())
            tensors.append(_held_against(claimed, name, value, parameters))
    return ExportReport(
        str(path), EXPORTER, model.opset_import[0].version, attributes, tensors, values, rebuild
    )


def _values_against(role: str, found: Sequence[Any], expected: list[GraphValue]) -> list[ExportedValue]:
    """The graph's inputs (or outputs) beside PyTorch's names and shapes, position by position."""
    rows = []
    for index in range(max(len(found), len(expected))):
        value = found[index] if index < len(found) else None
        dims = None
        if value is not None:
            shape = value.type.tensor_type.shape.dim
            dims = tuple(dim.dim_param if dim.dim_param else dim.dim_value for dim in shape)
        claimed = expected[index] if index < len(expected) else None
        rows.append(
            ExportedValue(
                role,
                None if value is None else value.name,
                dims,
                None if claimed is None else claimed.name,
                None if claimed is None else claimed.dims,
            )
        )
    return rows


def _expected_attributes(spec: LayerSpec) -> dict[str, str]:
    """The node attributes that make the operator PyTorch's layer, as text (absent = default)."""
    expected = {"hidden_size": str(spec.hidden_size)}
    expected["direction"] = "bidirectional" if spec.bidirectional else "forward"
    if spec.kind is Kind.gru:
        expected["linear_before_reset"] = "1"
    if spec.kind is Kind.rnn:
        expected["activations"] = ", ".join([spec.nonlinearity.capitalize()] * spec.directions)
    return expected


# The operators' defaults for an absent attribute (activations: one per direction).
_DEFAULTS = {"hidden_size": None, "direction": "forward", "linear_before_reset": 0, "activations": "Tanh"}


def _attribute_text(value: object, default: object, spec: LayerSpec) -> str:
    """An attribute as text; the operator's default where it is absent."""
    if value is None and default == "Tanh":
        return ", ".join(["Tanh"] * spec.directions)
    if value is None:
        return "absent" if default is None else str(default)
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, list):
        return ", ".join(item.decode() if isinstance(item, bytes) else str(item) for item in value)
    return str(value)


def _held_against(
    claimed: FrameworkTensor,
    initializer: str | None,
    value: torch.Tensor | None,
    parameters: Mapping[str, torch.Tensor],
) -> ExportedTensor:
    """Compare an initialiser with the table's claim, shape first, then block by block."""
    expected_blocks = block_values(claimed, parameters)
    count = sum(len(part) for part in expected_blocks)
    shape = None if value is None else tuple(value.shape)
    if value is None or shape != claimed.shape:
        return ExportedTensor(claimed.name, initializer, shape, claimed.shape, count, 0, None)
    equal, worst = 0, 0.0
    for part_index, part in enumerate(expected_blocks):
        offset = 0
        for rows in part:
            found = value[part_index, offset : offset + rows.shape[0]]
            offset += rows.shape[0]
            equal += int(torch.equal(found, rows))
            worst = max(worst, float((found - rows).abs().max()))
    return ExportedTensor(claimed.name, initializer, shape, claimed.shape, count, equal, worst)
