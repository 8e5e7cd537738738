"""The same recurrent layer as Keras and ONNX store it: the one mapping, as data. No torch here.

Each framework's convention is a row of data (``KERAS``, ``ONNX``): its layer or operator, its
gate order as (its letter, PyTorch's letter) pairs, and how it keeps the biases. The tensors of
``rnnscope layout`` are built from those rows and from ``gates.gate_blocks`` (PyTorch's row
blocks); ``carry.rearrange`` moves real weights by the very same ``FrameworkTensor`` objects, so
the table and the written arrays cannot disagree.

Naming, for several layers and directions (our choice, stated in the README):

- Keras: one layer per PyTorch layer, named ``layer0``, ``layer1``, … (stacked, e.g. in a
  ``keras.Sequential``); bidirectional layers are ``keras.layers.Bidirectional(..., name="layerK")``
  wrapping a layer named ``lstm`` / ``gru`` / ``simple_rnn``, whose copies Keras names
  ``forward_lstm`` and ``backward_lstm``. Tensor names are the Keras variable paths below the
  model: ``layer0/forward_lstm/lstm_cell/kernel``. A ``--cell`` is ``LSTMCell(name="lstm_cell")``.
- ONNX: one operator node per PyTorch layer, ``layer0``, ``layer1``, …, each with both
  directions stacked in the first dimension of W, R and B (``direction="bidirectional"``, D = 2).
  Tensor names are ``layer0/W``, ``layer0/R``, ``layer0/B``; a ``--cell`` is the node ``cell``.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnscope.layer.cost import total_parameters
from rnnscope.layer.direction import direction, parameter_suffix
from rnnscope.layer.gates import gate_blocks, gate_split
from rnnscope.layer.spec import LayerSpec
from rnnscope.report import Block, FrameworkLayout, FrameworkTensor

# How a framework keeps PyTorch's two bias vectors b_ih and b_hh of a layer and direction.
SUMMED = "summed"  # one vector b_ih + b_hh: exact wherever the two are only ever added
PAIRED = "paired"  # (2, G·H): row 0 b_ih, row 1 b_hh (Keras GRU, reset_after=True)
CONCATENATED = "concatenated"  # (D, 2·G·H): per direction [b_ih, b_hh] (ONNX B = [Wb, Rb])


@dataclass(frozen=True)
class Convention:
    """One framework's layer for one PyTorch kind."""

    framework: str  # "keras" or "onnx"
    kind: str  # rnn, lstm, gru
    layer: str  # the framework's class or operator: "LSTM", "SimpleRNN"
    options: str  # what must be set for PyTorch's arithmetic: "reset_after=True"
    gates: tuple[tuple[str, str], ...]  # (framework letter, PyTorch letter), in the framework's order
    bias: str  # SUMMED, PAIRED or CONCATENATED
    equivalence: str  # what carrying PyTorch's weights over gives, in one line
    equivalent: bool = True

    def variant(self, cell: bool = False) -> str:
        """``GRU(reset_after=True)``; Keras' cell classes for ``--cell`` (ONNX has no cell operator)."""
        layer = self.layer + ("Cell" if cell and self.framework == "keras" else "")
        return f"{layer}({self.options})" if self.options else layer


# Not checked on the run that prints it (layout needs neither library): the test suite
# (tests/test_layout_frameworks.py) runs the layer in the library with PyTorch's weights carried
# over, and these are the versions it last ran against.
_SAME_OUTPUTS = (
    "carried over by this table, PyTorch's weights give the same outputs within float32 noise: "
    "not run here; rnnscope's tests check it with {}"
)
_SAME_KERAS = _SAME_OUTPUTS.format("Keras 3.15.1 (torch backend)")
_SAME_ONNX = _SAME_OUTPUTS.format("onnxruntime 1.32.0")

# Keras 3 (keras.io/api/layers/recurrent_layers/lstm/, gru/, simple_rnn/; keras/src/layers/rnn/
# lstm.py, gru.py, simple_rnn.py): per cell `kernel` (input_dim, G·units), `recurrent_kernel`
# (units, G·units) and `bias` (G·units,) — x @ kernel, so PyTorch's (out, in) matrices transposed.
# LSTM columns i, f, c, o ("z0, z1, z2, z3 = z; i = …(z0); f = …(z1); c = f * c_tm1 + i * …(z2)");
# GRU columns z, r, h (x_z = kernel[:, :units], x_r, x_h), h = z ⊙ h_prev + (1 − z) ⊙ hh, and
# with reset_after=True (the default) bias (2, 3·units) = [input_bias, recurrent_bias] and
# hh = tanh(x_h + r ⊙ (h U_h + b_rec)) — PyTorch's r ⊙ (W_hn h + b_hn). reset_after=False applies r
# before the product: hh = tanh(x_h + (r ⊙ h) U_h), one bias.
KERAS: tuple[Convention, ...] = (
    Convention("keras", "rnn", "SimpleRNN", "", (("h", "h"),), SUMMED, _SAME_KERAS),
    Convention(
        "keras", "lstm", "LSTM", "", (("i", "i"), ("f", "f"), ("c", "g"), ("o", "o")), SUMMED, _SAME_KERAS
    ),
    Convention(
        "keras", "gru", "GRU", "reset_after=True", (("z", "z"), ("r", "r"), ("h", "n")), PAIRED, _SAME_KERAS
    ),
    Convention(
        "keras",
        "gru",
        "GRU",
        "reset_after=False",
        (("z", "z"), ("r", "r"), ("h", "n")),
        SUMMED,
        "not PyTorch's GRU: Keras applies r before the recurrent product, tanh(W_in x + U_hn (r ⊙ h) + b), "
        "PyTorch after it, tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); z and r match, the candidate does "
        "not, so outputs agree only while h = 0 and b_hn = 0 (the first step from a zero state)",
        equivalent=False,
    ),
)

# ONNX operators (onnx.ai/onnx/operators/onnx__LSTM.html, onnx__GRU.html, onnx__RNN.html):
# W [num_directions, G·hidden_size, input_size], R [num_directions, G·hidden_size, hidden_size],
# B [num_directions, 2·G·hidden_size] = concat(Wb, Rb); W[iofc] for LSTM, W[zrh] for GRU, Wi for
# RNN. GRU linear_before_reset=1 computes ht = g(Xt·Wh^T + (rt ⊙ (Ht-1·Rh^T + Rbh)) + Wbh):
# PyTorch's GRU. RNN's activation is activations=["Tanh"] by default, ["Relu"] for relu.
ONNX: tuple[Convention, ...] = (
    Convention("onnx", "rnn", "RNN", "", (("h", "h"),), CONCATENATED, _SAME_ONNX),
    Convention(
        "onnx", "lstm", "LSTM", "", (("i", "i"), ("o", "o"), ("f", "f"), ("c", "g")), CONCATENATED, _SAME_ONNX
    ),
    Convention(
        "onnx",
        "gru",
        "GRU",
        "linear_before_reset=1",
        (("z", "z"), ("r", "r"), ("h", "n")),
        CONCATENATED,
        _SAME_ONNX,
    ),
)

# What neither framework can hold: an LSTM with projections (weight_hr, h = W_hr (o ⊙ tanh c)).
CANNOT_HOLD_PROJECTION = {
    "keras": "no Keras layer has LSTM projections (--proj-size, PyTorch's weight_hr): the projected h "
    "feeds the recurrence, so no Dense layer after an LSTM computes the same",
    "onnx": "the ONNX LSTM operator has no projection (--proj-size, PyTorch's weight_hr); torch's "
    "TorchScript exporter refuses it and its dynamo exporter was seen to export a wrong LSTM silently",
}

_KERAS_NAMES = {
    "rnn": ("simple_rnn", "simple_rnn_cell"),
    "lstm": ("lstm", "lstm_cell"),
    "gru": ("gru", "gru_cell"),
}


def conventions(kind: str, to: str) -> list[Convention]:
    """The conventions shown for ``--to`` (``keras``, ``onnx`` or ``all``), in that order."""
    chosen = (KERAS if to in ("keras", "all") else ()) + (ONNX if to in ("onnx", "all") else ())
    return [convention for convention in chosen if convention.kind == kind]


def framework_layouts(spec: LayerSpec, to: str = "all") -> list[FrameworkLayout]:
    """Every chosen framework's tensors for the layer ``spec`` describes (computed, not asked)."""
    layouts = []
    for convention in conventions(spec.kind.value, to):
        build = _keras_tensors if convention.framework == "keras" else _onnx_tensors
        notes = (_keras_notes if convention.framework == "keras" else _onnx_notes)(spec, convention)
        cannot = CANNOT_HOLD_PROJECTION[convention.framework] if spec.proj_size > 0 else None
        layouts.append(
            FrameworkLayout(
                framework=convention.framework,
                variant=convention.variant(spec.cell),
                kind=spec.kind.value,
                equivalent=convention.equivalent,
                equivalence=convention.equivalence,
                pytorch_params=total_parameters(spec),
                tensors=[] if cannot else build(spec, convention),
                notes=[] if cannot else notes,
                cannot_hold=cannot,
            )
        )
    return layouts


def _blocks(spec: LayerSpec, convention: Convention, parameters: tuple[str, ...]) -> tuple[Block, ...]:
    """PyTorch's row blocks of ``parameters`` in the framework's gate order."""
    rows = pytorch_rows(spec)
    return tuple(Block(theirs, parameters, *rows[theirs]) for _, theirs in convention.gates)


def _directions(spec: LayerSpec) -> list[tuple[int, bool, str]]:
    """(layer, reverse, PyTorch's name suffix) for every layer and direction, in PyTorch's order."""
    if spec.cell:
        return [(0, False, "")]
    return [
        (layer, reverse, parameter_suffix(layer, reverse))
        for layer in range(spec.num_layers)
        for reverse in (False, True)[: spec.directions]
    ]


def _gate_order(convention: Convention) -> str:
    return "|".join(letter for letter, _ in convention.gates)


def _keras_tensors(spec: LayerSpec, convention: Convention) -> list[FrameworkTensor]:
    layer_name, cell_name = _KERAS_NAMES[spec.kind.value]
    rows = len(convention.gates) * spec.hidden_size
    order = _gate_order(convention)
    tensors = []
    for layer, reverse, suffix in _directions(spec):
        if spec.cell:
            group = cell_name
        elif spec.bidirectional:
            group = f"layer{layer}/{'backward' if reverse else 'forward'}_{layer_name}/{cell_name}"
        else:
            group = f"layer{layer}/{cell_name}"
        width = spec.layer_input_size(layer)
        kernel, recurrent = (
            _blocks(spec, convention, ("weight_ih" + suffix,)),
            _blocks(spec, convention, ("weight_hh" + suffix,)),
        )
        where = (group, layer, direction(reverse))
        tensors += [
            FrameworkTensor(where[0], "kernel", *where[1:], (width, rows), order, (kernel,), False, True),
            FrameworkTensor(
                where[0],
                "recurrent_kernel",
                *where[1:],
                (spec.hidden_size, rows),
                order,
                (recurrent,),
                False,
                True,
            ),
        ]
        if not spec.bias:
            continue
        biases = ("bias_ih" + suffix, "bias_hh" + suffix)
        if convention.bias == PAIRED:
            pair = tuple(_blocks(spec, convention, (name,)) for name in biases)
            tensors.append(FrameworkTensor(where[0], "bias", *where[1:], (2, rows), order, pair, True, False))
        else:
            summed = _blocks(spec, convention, biases)
            tensors.append(
                FrameworkTensor(where[0], "bias", *where[1:], (rows,), order, (summed,), False, False)
            )
    return tensors


def _onnx_tensors(spec: LayerSpec, convention: Convention) -> list[FrameworkTensor]:
    rows = len(convention.gates) * spec.hidden_size
    order = _gate_order(convention)
    d = spec.directions
    tensors = []
    layers = spec.stacked_layers
    for layer in range(layers):
        group = "cell" if spec.cell else f"layer{layer}"
        suffixes = [suffix for index, _, suffix in _directions(spec) if index == layer]
        w = tuple(_blocks(spec, convention, ("weight_ih" + s,)) for s in suffixes)
        r = tuple(_blocks(spec, convention, ("weight_hh" + s,)) for s in suffixes)
        direction = "both" if d == 2 else "forward"
        tensors += [
            FrameworkTensor(
                group, "W", layer, direction, (d, rows, spec.layer_input_size(layer)), order, w, True, False
            ),
            FrameworkTensor(group, "R", layer, direction, (d, rows, spec.hidden_size), order, r, True, False),
        ]
        if spec.bias:
            b = tuple(
                _blocks(spec, convention, ("bias_ih" + s,)) + _blocks(spec, convention, ("bias_hh" + s,))
                for s in suffixes
            )
            tensors.append(
                FrameworkTensor(group, "B", layer, direction, (d, 2 * rows), f"{order} ×2", b, True, False)
            )
    return tensors


def _keras_notes(spec: LayerSpec, convention: Convention) -> list[str]:
    """What the Keras layer must be given to be this layer."""
    layer_name, cell_name = _KERAS_NAMES[spec.kind.value]
    options = [str(spec.hidden_size)]
    if spec.kind.value == "rnn":
        options.append(f'activation="{spec.nonlinearity}"')
    if convention.options:
        options.append(convention.options)
    if not spec.bias:
        options.append("use_bias=False")
    if spec.cell:
        cell_class = convention.layer + "Cell"
        return [f'build: keras.layers.{cell_class}({", ".join(options)}, name="{cell_name}")']
    options.append("return_sequences=True")
    layer = f"keras.layers.{convention.layer}({', '.join(options)}"
    last = spec.num_layers - 1
    name = "layer0" if last == 0 else "layerK"
    if spec.bidirectional:
        build = f'keras.layers.Bidirectional({layer}, name="{layer_name}"), name="{name}")'
    else:
        build = f'{layer}, name="{name}")'
    notes = [f"build: {build}" + ("" if last == 0 else f" for K = 0…{last}, stacked")]
    if not spec.batch_first:
        notes.append("input (N, L, H_in): Keras layers are batch-first; transpose PyTorch's (L, N, H_in)")
    if spec.dropout > 0 and spec.num_layers > 1:
        notes.append(
            "--dropout: PyTorch drops between layers in training; put keras.layers.Dropout between "
            "them (the layer's own dropout= drops its input at every step instead)"
        )
    return notes


def _onnx_notes(spec: LayerSpec, convention: Convention) -> list[str]:
    """What the ONNX node must be given, and how its outputs relate to PyTorch's."""
    attributes = [f"hidden_size={spec.hidden_size}"]
    if spec.bidirectional:
        attributes.append('direction="bidirectional"')
    if convention.options:
        attributes.append(convention.options)
    if spec.kind.value == "rnn" and spec.nonlinearity == "relu":
        attributes.append("activations=" + str(["Relu"] * spec.directions).replace("'", '"'))
    if spec.cell or spec.num_layers == 1:
        nodes = "node cell" if spec.cell else "node layer0"
    else:
        nodes = f"nodes layer0…layer{spec.num_layers - 1}, one per layer"
    notes = [f"{nodes}: {convention.layer}({', '.join(attributes)})"]
    if not spec.bias:
        notes.append("no B input: the operator's bias defaults to zeros")
    if spec.cell:
        notes.append(
            "ONNX has no cell operator: a cell is the operator over a one-step X of shape (1, N, H_in)"
        )
        return notes
    if spec.batch_first:
        notes.append("X (L, N, H_in) by default: for batch-first input set layout=1, or Transpose first")
    notes.append(
        "Y comes out (L, D, N, H_out): Transpose(perm=[0, 2, 1, 3]) and Reshape to (L, N, D·H_out) give "
        "PyTorch's output, and the next layer's X"
    )
    return notes


def pytorch_rows(spec: LayerSpec) -> dict[str, list[int]]:
    """PyTorch's row block of each gate in weight_ih, weight_hh and the biases."""
    return {
        block.gate: [block.start, block.stop]
        for block in gate_blocks(spec.kind.value, "weight_ih", spec.hidden_size)
    }


def pytorch_gate_order(spec: LayerSpec) -> str:
    return gate_split(spec.kind.value, "weight_ih")
