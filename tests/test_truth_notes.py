"""The net of issue 21: every shape and number a note writes is the run's own.

Over random configurations, inspect, verify and draw run through the CLI with ``--json``. Every
prose string of the three documents is read: each ``X = Y = Z`` chain is evaluated, with the
symbols (L, N, H_in, …) taken from the tensors torch returned in that run (inspect's ``shape``
column, never the formulas); each shape is matched with the tensor named before it; each number a
rule below can name is compared with the run's tensors, parameters, states rows or checks. A digit
that no rule claims fails the test: a new note that writes a number needs a rule that checks it.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings

from rnnscope.layer.command_line import spec_flags
from rnnscope.layer.spec import LayerSpec
from rnnscope.layer.states import parse_index
from tests.helpers import run_json
from tests.test_properties import layer_specs

Shape = tuple[int, ...]
Value = int | float | Shape


@dataclass
class Run:
    """What torch gave in one run (inspect's document) and the document the note is in."""

    inspected: dict[str, Any]
    document: dict[str, Any]

    @property
    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.inspected["config"]
        return config

    @property
    def shapes(self) -> dict[str, Shape]:
        """The actual shape of every tensor of the run, as torch returned it."""
        return {row["name"]: tuple(row["shape"]) for row in self.inspected["tensors"]}

    @property
    def parameters(self) -> dict[str, Shape]:
        return {row["name"]: tuple(row["shape"]) for row in self.inspected["parameters"]}

    @property
    def symbols(self) -> dict[str, int]:
        """The docstring symbols, read off the actual tensors (the layout flags say which axis)."""
        shapes, config = self.shapes, self.config
        final = "h_1" if self.inspected["cell"] else "h_n"
        h = shapes[final]
        c = shapes.get("c" + final[1:], h)
        x = shapes["input"]
        symbols = {"H_in": x[-1], "H_out": h[-1], "H_cell": c[-1]}
        if self.inspected["cell"]:
            symbols |= {"D": 1, "num_layers": 1} | ({} if config["unbatched"] else {"N": h[0]})
        else:
            output = shapes.get("output") or shapes["output_padded"]
            directions = output[-1] // h[-1]
            time_axis = 1 if config["batch_first"] and not config["unbatched"] else 0
            symbols |= {"D": directions, "num_layers": h[0] // directions, "L": x[time_axis]}
            symbols |= {} if config["unbatched"] else {"N": h[1]}
        if "packed_input.data" in shapes:
            symbols["sum(lengths)"] = shapes["packed_input.data"][0]
            symbols["max(lengths)"] = shapes["packed_input.batch_sizes"][0]
        return symbols

    @property
    def padded_length(self) -> int:
        """output_padded's time axis, as pad_packed_sequence returned it."""
        time_axis = 1 if self.config["batch_first"] else 0
        return self.shapes["output_padded"][time_axis]

    def gate_count(self) -> int:
        name = "weight_ih" if self.inspected["cell"] else "weight_ih_l0"
        return self.parameters[name][0] // self.symbols["H_cell"]

    def top_state_rows(self, direction: str) -> list[dict[str, Any]]:
        top = self.symbols["num_layers"] - 1
        return [
            row
            for row in self.inspected["states"]
            if row["tensor"] == "h_n" and row["layer"] == top and row["direction"] == direction
        ]

    def time_index(self, equals: str) -> int:
        """The step an ``equals`` expression takes from output / output_padded."""
        _, index = parse_index(equals)
        step = index[1 if self.config["batch_first"] else 0]
        assert isinstance(step, int), equals
        return step


# --- rules that name a number: (pattern, check of the match against the run) -------------------

Check = Callable[[re.Match[str], Run], None]


def _equal(written: int, actual: int) -> None:
    assert written == actual


def _dropout(match: re.Match[str], run: Run) -> None:
    assert f"dropout={float(match[1])}" in run.inspected["module"]  # torch's own repr


def _dropped_layers(match: re.Match[str], run: Run) -> None:
    named = {"layer 0": {0}, "layers 0 and 1": {0, 1}}
    written = named.get(match[1]) or set(range(int(match[2]) + 1))
    assert written == set(range(run.symbols["num_layers"] - 1))


def _lengths(match: re.Match[str], run: Run) -> None:
    lengths = [int(part) for part in match[1].split(",")]
    assert lengths == run.config["lengths"]
    rows = {row["name"]: row for row in run.inspected["tensors"]}
    batch_sizes = rows["packed_input.batch_sizes"]["values"]
    assert batch_sizes == [sum(length > t for length in lengths) for t in range(max(lengths))]
    assert len(lengths) == run.symbols["N"] and sum(lengths) == run.symbols["sum(lengths)"]


def _padding_share(match: re.Match[str], run: Run) -> None:
    symbols = run.symbols
    assert match[1] == f"{1 - symbols['sum(lengths)'] / (symbols['L'] * symbols['N']):.0%}"


def _padded_positions(match: re.Match[str], run: Run) -> None:
    assert int(match[1]) == run.padded_length * run.symbols["N"] - run.symbols["sum(lengths)"]


def _which_is_l(match: re.Match[str], run: Run) -> None:
    assert run.padded_length == run.symbols["L"]


def _sequence_end(match: re.Match[str], run: Run) -> None:
    sequence, length, step = int(match[1]), int(match[2]), int(match[3])
    assert run.config["lengths"][sequence] == length and step == length - 1
    row = next(row for row in run.top_state_rows("forward") if row["sequence"] == sequence)
    assert run.time_index(row["equals"]) == step


def _reverse_at_step_0(match: re.Match[str], run: Run) -> None:
    rows = run.top_state_rows("reverse")
    assert rows and all(run.time_index(row["equals"]) == 0 for row in rows)


def _directions(count: int) -> Check:
    def check(match: re.Match[str], run: Run) -> None:
        assert run.symbols["D"] == count
        for row in run.inspected["states"]:
            assert row["index"] == row["layer"] * count + (row["direction"] == "reverse")

    return check


def _ratio(match: re.Match[str], run: Run) -> None:
    assert match[1] == f"{run.inspected['total_params'] / run.inspected['rnn_params']:.4g}"


def _gates(match: re.Match[str], run: Run) -> None:
    assert int(match[1]) == run.gate_count()


def _projection(match: re.Match[str], run: Run) -> None:
    assert int(match[1]) == run.symbols["H_out"] == run.parameters["weight_hr_l0"][0]


def _instead_of(match: re.Match[str], run: Run) -> None:
    assert int(match[1]) == run.symbols["H_cell"] == run.parameters["weight_hh_l0"][0] // run.gate_count()


def _weight_hr(match: re.Match[str], run: Run) -> None:
    assert (int(match[1]), int(match[2])) == run.parameters["weight_hr_l0"]


def _top_layer(match: re.Match[str], run: Run) -> None:
    assert int(match[1]) == run.symbols["num_layers"] - 1


def _tolerance(match: re.Match[str], run: Run) -> None:
    """``here rtol R, atol A (the default for DTYPE on DEVICE[ is D for both])``: the pair that
    judged every check, and the run's dtype and device."""
    judged = {(check["tolerance"]["rtol"], check["tolerance"]["atol"]) for check in run.document["checks"]}
    assert judged == {(float(match[1]), float(match[2]))}
    assert (match[3], match[4]) == (run.document["dtype"], run.document["device"].split(":")[0])
    if match[5] is None:  # no "is D for both": the pair is the default
        assert match[1] == match[2]


_NUMBER = r"(\d+(?:\.\d+)?(?:e[-+]\d+)?)"

RULES: list[tuple[str, Check]] = [
    (r"--dropout (\d+(?:\.\d+)?)", _dropout),
    (r"on the output of (layer 0|layers 0 and 1|layers 0 to (\d+)) as it feeds", _dropped_layers),
    (r"\blengths (\d+(?:,\d+)*)\b", _lengths),
    (r"holds (\d+) real steps", lambda m, run: _equal(int(m[1]), run.symbols["sum(lengths)"])),
    (r"(\d+%) of the work would go to padding", _padding_share),
    (r"padded to the longest sequence \((\d+)\)", lambda m, run: _equal(int(m[1]), run.padded_length)),
    (r"not --seq-len \((\d+)\)", lambda m, run: _equal(int(m[1]), run.symbols["L"])),
    (r", which is L:", _which_is_l),
    (r"Its (\d+) padded positions? (?:is|are) zeros?", _padded_positions),
    (r"\(sequence (\d+), length (\d+): step (\d+)\)", _sequence_end),
    (r"reverse direction it is the output at step 0|reverse direction's at step 0", _reverse_at_step_0),
    (r"\(direction 0 forward, 1 reverse\)", _directions(2)),
    (r"\(one direction, so direction is 0\)", _directions(1)),
    (r"^(\d+(?:\.\d+)?)×(?::| an nn\.RNN| an RNNCell)", _ratio),
    (r"stacks (\d+) gate blocks", _gates),
    (r"has (\d+)× the rows", _gates),
    (r"the ratio is not (\d+)", _gates),
    (r"--proj-size (\d+) the recurrent weights", _projection),
    (r"instead of (\d+)(?= and weight_hr)", _instead_of),
    (r"weight_hr adds (\d+)·(\d+) per layer", _weight_hr),
    (r"output holds layer (\d+)'s h_t only", _top_layer),
    (
        r"here rtol NUM, atol NUM \(the default for (\w+) on (\w+)(?: is NUM for both)?\)".replace(
            "NUM", _NUMBER
        ),
        _tolerance,
    ),
]

# Words with digits that hold for every run alike: no number of this run is in them.
CONSTANT = [
    "not at L − 1",
    "output_padded is 0 past each sequence's length",
    "max |a − r| / max(|r|, 1)",
    "h_{t−1}",
]


# --- X = Y = Z chains ---------------------------------------------------------------------------

SYMBOLS = ("sum(lengths)", "max(lengths)", "num_layers", "H_cell", "H_out", "H_in", "D", "N", "L")
_TOKEN = re.compile(
    "|".join(re.escape(symbol) for symbol in SYMBOLS[:2])
    + r"|\d{1,3}(?:,\d{3})+(?!\d)|\d+|[A-Za-z_][\w.]*|\s+|."
)
_OPERATORS = {"×": "*", "·": "*", "−": "-", "-": "-", "+": "+", "/": "/", "(": "(", ")": ")", ",": ","}


def _in_expression(token: str) -> bool:
    if token in SYMBOLS or token in _OPERATORS or token in ("=", "view"):
        return True
    return token.isspace() or token[0].isdigit()


def _evaluate(side: list[str], symbols: dict[str, int]) -> Value:
    """One side of a chain: a number or a shape, the symbols replaced by the run's values."""
    words = []
    for token in side:
        if token in SYMBOLS:
            assert token in symbols, f"{token} is written, but this run has no {token}"
            words.append(str(symbols[token]))
        elif token[0].isdigit():
            words.append(token.replace(",", ""))
        elif token != "view":
            words.append(_OPERATORS.get(token, token))
    return _arithmetic(ast.parse("".join(words).strip(), mode="eval").body)


def _arithmetic(node: ast.expr) -> Value:
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        return node.value
    if isinstance(node, ast.Tuple):
        items = [_arithmetic(item) for item in node.elts]
        assert all(isinstance(item, int) for item in items)
        return tuple(int(item) for item in items)  # type: ignore[arg-type]
    assert isinstance(node, ast.BinOp), ast.dump(node)
    left, right = _arithmetic(node.left), _arithmetic(node.right)
    assert isinstance(left, int | float) and isinstance(right, int | float)
    operations = {ast.Add: left + right, ast.Sub: left - right, ast.Mult: left * right}
    return operations[type(node.op)] if type(node.op) in operations else left / right


def _trim(tokens: list[str], lo: int, hi: int) -> tuple[int, int]:
    """``tokens[lo:hi]`` without spaces, commas and unbalanced parentheses at either end."""
    while True:
        before = (lo, hi)
        while lo < hi and (tokens[lo].isspace() or tokens[lo] in (",", ")")):
            lo += 1
        while lo < hi and (tokens[hi - 1].isspace() or tokens[hi - 1] in (",", "(")):
            hi -= 1
        depth = tokens[lo:hi].count("(") - tokens[lo:hi].count(")")
        if depth > 0 and tokens[lo] == "(":
            lo += 1
        if depth < 0 and tokens[hi - 1] == ")":
            hi -= 1
        if (lo, hi) == before:
            return lo, hi


_NAMED = re.compile(r"([\w.]+)(?: and ([\w.]+))?(?: is)? ?$")
# A name a note gives a tensor, and the tensor of the run it is.
_ALIASES = {"data": "packed_input.data"}


def _check_chains(text: str, run: Run) -> str:
    """Every ``X = Y = Z`` in ``text`` holds with this run's values; returns the text without them."""
    tokens = _TOKEN.findall(text)
    assert "".join(tokens) == text
    residue = text
    i = 0
    while i < len(tokens):
        j = i
        while j < len(tokens) and _in_expression(tokens[j]):
            j += 1
        if j == i:
            i += 1
            continue
        lo, hi = _trim(tokens, i, j)
        if "=" in tokens[lo:hi]:
            offset = len("".join(tokens[:lo]))
            _check_chain(tokens[lo:hi], text[:offset], run)
            length = len("".join(tokens[lo:hi]))
            residue = residue[:offset] + " " * length + residue[offset + length :]
        i = j
    return residue


def _check_chain(stretch: list[str], before: str, run: Run) -> None:
    sides: list[list[str]] = [[]]
    for token in stretch:
        if token == "=":
            sides.append([])
        else:
            sides[-1].append(token)
    if not all(any(token in SYMBOLS or token[0].isdigit() for token in side) for side in sides):
        return  # an equation of names (h_t = …): no number in it
    values = [_evaluate(side, run.symbols) for side in sides]
    assert all(value == values[0] for value in values), f"{''.join(stretch)}: {values}"
    value = values[0]
    named = _NAMED.search(before)
    names = [_ALIASES.get(name, name) for name in (named.groups() if named else ()) if name]
    if names and names[0].endswith(".view"):
        tensor = run.shapes[names[0].removesuffix(".view")]
        assert isinstance(value, tuple) and math.prod(value) == math.prod(tensor)
        assert value[:2] == (run.symbols["num_layers"], run.symbols["D"]) and value[2:] == tensor[1:]
    elif isinstance(value, tuple):
        assert names and all(name in run.shapes for name in names), f"a shape of no tensor: {before!r}"
        for name in names:
            assert run.shapes[name] == value, f"{name} is {run.shapes[name]}, the note says {value}"


# --- every prose string of a document ----------------------------------------------------------

# Keys whose strings are names, formulas or index expressions, not prose.
NOT_PROSE = {
    "module", "kind", "device", "dtype", "name", "formula", "equals", "sequence_equals", "tensor",
    "symbol", "meaning", "gate", "role", "direction", "cell_name", "cell_detail", "forward",
    "nonlinearity", "equation", "environment", "files", "worked", "shapes", "term",
}  # fmt: skip


def prose(document: Any, key: str = "") -> list[str]:
    """Every string of the document that is written for a reader."""
    if key in NOT_PROSE:
        return []
    if isinstance(document, dict):
        return [text for name, value in document.items() for text in prose(value, name)]
    if isinstance(document, list):
        return [text for item in document for text in prose(item, key)]
    return [document] if isinstance(document, str) else []


def check_note(note: str, run: Run) -> None:
    """Check what the rules and chains can name; fail on any digit left over."""
    residue = note
    for pattern, check in RULES:
        for match in re.finditer(pattern, residue):
            check(match, run)
        residue = re.sub(pattern, lambda m: " " * len(m[0]), residue)
    residue = _check_chains(residue, run)
    for phrase in CONSTANT:
        residue = residue.replace(phrase, " " * len(phrase))
    residue = re.sub(r"[A-Za-z_][\w.]*\d[\w.]*", " ", residue)  # names: h_0, weight_ih_l0, float32
    assert not re.search(r"\d", residue), f"a number no rule checks: {residue.strip()!r} in {note!r}"


def _term_shapes(term: str, run: Run) -> list[Shape]:
    """The shapes an equation's term multiplies or adds, read off the run's parameters: a gate
    block is rows / gates of the matrix it is cut from; a vector is one sequence's slice."""
    suffix = "" if run.inspected["cell"] else "_l0"
    gates, symbols = run.gate_count(), run.symbols
    hidden, h_out = symbols["H_cell"], symbols["H_out"]

    def block(name: str) -> Shape:
        rows, columns = run.parameters[name]
        return (rows // gates, columns)

    def product(matrix: Shape) -> list[Shape]:
        return [matrix, (matrix[1],), (matrix[0],)]

    if term.endswith("(layer ≥ 1)"):
        return product(block("weight_ih_l1"))
    if term.endswith("·x_t"):
        return product(block("weight_ih" + suffix))
    if term.endswith("·h_{t−1}"):
        return product(block("weight_hh" + suffix))
    if term.startswith("W_hr·"):
        return product(run.parameters["weight_hr_l0"])
    if term.startswith("b_"):
        return [(run.parameters["bias_ih" + suffix][0] // gates,)]
    if term == "x_t":  # layer k ≥ 1 reads the directions of layer k − 1 side by side
        return [(symbols["D"] * h_out,)]
    if term.startswith("[h_t fwd"):
        return [(h_out,), (h_out,), (symbols["D"] * h_out,)]
    if "⊙" in term:
        return [(hidden,)] * 3
    assert re.fullmatch(r"[a-z]_t", term), term  # a gate's or the state's value at step t
    return [(hidden,)]


def check_document(document: dict[str, Any], inspected: dict[str, Any]) -> None:
    run = Run(inspected, document)
    for note in prose(document):
        check_note(note, run)
    for equation in document.get("equations", []):
        for term in equation["terms"]:
            written = [ast.literal_eval(shape) for shape in re.findall(r"\([\d, ]*\)", term["shapes"])]
            assert written == _term_shapes(term["term"], run), term
    # The summary of each layer: its formula with the run's symbols, its worked numbers and its
    # count all give the layer's parameters as torch counts them.
    for row in document.get("layers", []):
        count = sum(
            parameter["numel"]
            for parameter in inspected["parameters"]
            if (parameter["layer"], parameter["direction"]) == (row["layer"], row["direction"])
        )
        assert row["count"] == count and row["worked"].endswith(f" = {count:,}")
        _check_chains(f"{row['formula']} = {count}", run)
        _check_chains(row["worked"].replace(f" = {count:,}", f" = {count}"), run)


@settings(max_examples=60, deadline=None)
@given(layer_specs())
def test_every_shape_and_number_in_a_note_is_the_runs(spec: LayerSpec) -> None:
    flags = (spec.kind.value, *spec_flags(spec))
    inspected = run_json("inspect", *flags)
    assert inspected["forward"] == "ran"
    run = Run(inspected, inspected)
    for name, value in inspected["symbols"].items():
        assert run.symbols[name] == value, f"symbols: {name}={value}, the tensors say {run.symbols[name]}"
    check_document(inspected, inspected)
    check_document(run_json("verify", *flags), inspected)
    check_document(run_json("draw", *flags), inspected)


def test_the_meta_note_counts_the_steps_of_the_parameter_table_and_its_command_runs() -> None:
    skipped = run_json("inspect", "lstm", "--layers", "2", "--bidirectional", "-L", "300", "--device", "meta")
    assert skipped["forward"] == "skipped"
    note = next(note for note in skipped["notes"] if note.startswith("forward pass skipped"))
    match = re.search(r"walks all ([\d,]+) steps .* --seq-len (\d+) or less: rnnscope (.*)$", note)
    assert match is not None, note
    layers = {row["layer"] for row in skipped["parameters"]}
    directions = {row["direction"] for row in skipped["parameters"]}
    assert int(match[1].replace(",", "")) == skipped["config"]["seq_len"] * len(layers) * len(directions)
    shorter = run_json(*match[3].split())
    assert shorter["forward"] == "ran" and shorter["config"]["seq_len"] == int(match[2])
    one_more = ("--seq-len", str(int(match[2]) + 1))
    assert run_json(*match[3].split(), *one_more)["forward"] == "skipped"
