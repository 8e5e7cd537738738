"""The exported ONNX graph's interface, and the PyTorch code that rebuilds what was exported.

The graph takes and returns what the layer's ``forward`` does, under PyTorch's names: ``input``
and, when the layer is given an initial state, ``h_0`` (and ``c_0``); ``output``, ``h_n`` (and
``c_n``). The time and batch axes are named ``L`` and ``N`` (dynamic: any length and batch run);
every other size is fixed, as the documented formulas give it. No torch here.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from rnnscope.layer.shapes import expected_tensors
from rnnscope.layer.spec import LayerSpec

Dims = tuple[int | str, ...]  # a fixed size, or the name of a dynamic axis ("L", "N")


@dataclass(frozen=True)
class GraphValue:
    """One input or output of the exported graph: PyTorch's name and its dimensions."""

    name: str
    dims: Dims


def _sequence_axes(spec: LayerSpec) -> dict[int, str]:
    """Where L and N sit in input and output: (L, N, ·), (N, L, ·) with --batch-first, (L, ·)."""
    if spec.unbatched:
        return {0: "L"}
    return {0: "N", 1: "L"} if spec.batch_first else {0: "L", 1: "N"}


def _state_axes(spec: LayerSpec) -> dict[int, str]:
    """h and c are (D·num_layers, N, H) whatever --batch-first says; unbatched (D·num_layers, H)."""
    return {} if spec.unbatched else {1: "N"}


def graph_values(spec: LayerSpec) -> tuple[list[GraphValue], list[GraphValue]]:
    """The graph's inputs and outputs, in the order of the layer's ``forward`` arguments and results.

    Shapes are the documented formulas (``expected_tensors``) with L and N named.
    """
    states = ["h", "c"] if spec.has_cell_state else ["h"]
    inputs = ["input"] + ([f"{state}_0" for state in states] if spec.initial_state else [])
    outputs = ["output"] + [f"{state}_n" for state in states]
    shapes = {tensor.name: tensor.shape for tensor in expected_tensors(spec)}

    def value(name: str) -> GraphValue:
        axes = _sequence_axes(spec) if name in ("input", "output") else _state_axes(spec)
        return GraphValue(name, tuple(axes.get(axis, size) for axis, size in enumerate(shapes[name])))

    return [value(name) for name in inputs], [value(name) for name in outputs]


def dynamic_axes(spec: LayerSpec) -> dict[str, dict[int, str]]:
    """``torch.onnx.export``'s ``dynamic_axes``: each value's named axes."""
    inputs, outputs = graph_values(spec)
    return {
        value.name: {axis: dim for axis, dim in enumerate(value.dims) if isinstance(dim, str)}
        for value in inputs + outputs
    }


def _shape_code(dims: Dims) -> str:
    return ", ".join(str(dim) for dim in dims)


def rebuild_code(spec: LayerSpec, dtype: str, seed: int, file_name: str) -> str:
    """Python that rebuilds the exported layer with its seeded weights, and an input of any L and
    N under the graph's names; at the export's own L and N, the very input it was traced with.

    It draws in the order rnnscope does (the weights as the module is built, then input, h_0,
    c_0, after ``torch.manual_seed``), so the values are the same.
    """
    inputs, outputs = graph_values(spec)
    typed = "" if dtype == "float32" else f", dtype=torch.{dtype}"
    constructor = spec.constructor[: -len(")")] + typed + ")"
    if len(constructor) > 60:  # one argument a line, so that no line of code is wider than 80
        name, _, arguments = constructor.partition("(")
        constructor = f"{name}(\n" + "".join(f"        {a},\n" for a in arguments[:-1].split(", ")) + "    )"
    sizes = {"L": spec.seq_len} | ({} if spec.unbatched else {"N": spec.batch})
    signature = ", ".join(f"{symbol}={size}" for symbol, size in sizes.items())
    states = [f'inputs["{value.name}"]' for value in inputs[1:]]
    paired = f"({', '.join(states)})" if len(states) > 1 else "".join(states)
    state = [f"    state = {paired}"] if states else []
    call = 'inputs["input"]' + (", state" if states else "")
    finals = [value.name for value in outputs[1:]]
    returned = f"output, ({', '.join(finals)})" if len(finals) > 1 else f"output, {finals[0]}"
    axes = "length L and batch N" if "N" in sizes else "length L"
    dynamic = "L and N are" if "N" in sizes else "L is"
    header = f"The PyTorch layer exported to {file_name}, seed {seed}, {dtype}: {spec.constructor}"
    about = (
        f"rebuild() gives this layer (the same weights) and a random input of {axes}, keyed "
        f"by the ONNX graph's input names ({dynamic} dynamic in the graph too); at the defaults, the "
        "very input the export was traced with. outputs() runs the layer and keys its results by "
        "the graph's output names."
    )
    lines = [
        *textwrap.wrap('"""' + header, 79),
        "",
        *textwrap.wrap(about, 79),
        '"""',
        "",
        "import torch",
        "from torch import nn",
        "",
        "",
        f"def rebuild({signature}):",
        f"    torch.manual_seed({seed})",
        f"    layer = {constructor}.eval()",
        "    inputs = {",
        *(f'        "{value.name}": torch.randn({_shape_code(value.dims)}{typed}),' for value in inputs),
        "    }",
        "    return layer, inputs",
        "",
        "",
        "def outputs(layer, inputs):",
        *state,
        "    with torch.no_grad():",
        f"        {returned} = layer({call})",
        "    return {" + ", ".join(f'"{value.name}": {value.name}' for value in outputs) + "}",
        "",
        "",
        "# With onnxruntime:",
        f"#   session = onnxruntime.InferenceSession(path)  # path: {file_name}"[:80].rstrip(),
        "#   layer, inputs = rebuild()",
        "#   feeds = {name: value.numpy() for name, value in inputs.items()}",
        "#   found = session.run(None, feeds)",
        "#   expected = outputs(layer, inputs)  # in the order of session.get_outputs()",
    ]
    return "\n".join(lines) + "\n"


def export_notes(spec: LayerSpec, dtype: str, from_file: bool) -> list[str]:
    """What a user of the exported model needs told: a missing initial state, no rebuild code."""
    inputs, outputs = graph_values(spec)
    notes = [
        "the graph's inputs are "
        + ", ".join(value.name for value in inputs)
        + " and its outputs "
        + ", ".join(value.name for value in outputs)
        + ", as PyTorch names them; "
        + ("L is dynamic" if spec.unbatched else "L and N are dynamic")
        + ": any length"
        + ("" if spec.unbatched else " and batch")
        + " runs"
    ]
    if not spec.initial_state:
        states = "h_0 and c_0" if spec.has_cell_state else "h_0"
        notes.append(
            f"no {states} input: --no-initial-state exports the layer started from zeros; "
            f"without it the graph takes {states}"
        )
    if from_file:
        notes.append(
            f"no rebuild code: the weights come from --from, not from --seed; load the file's "
            f"tensors into {spec.constructor} (rnnscope load shows its keys)"
        )
    if dtype == "float64":
        notes.append(
            "onnxruntime (1.32, measured) runs the RNN, GRU and LSTM operators in float32 only: "
            "export with --dtype float32 to run the model there"
        )
    return notes
