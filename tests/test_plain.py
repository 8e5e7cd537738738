"""Reports' JSON is derived from their fields (rnnscope.plain): every field under its name unless
declared otherwise, and no report writes its to_dict out by hand."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from rnnscope.plain import Plain, plain

PACKAGE = Path(__file__).parent.parent / "rnnscope"


class Colour(str, Enum):
    red = "red"


@dataclass(frozen=True)
class Row(Plain):
    computed = ("area",)
    internal = ("secret",)
    renamed = (("class_name", "class"),)
    omitted_when_none = ("extra",)

    class_name: str
    size: tuple[int, int]
    colour: Colour
    secret: str = "kept out"
    extra: int | None = None
    children: list[Row] = field(default_factory=list)

    @property
    def area(self) -> int:
        return self.size[0] * self.size[1]


def test_fields_computed_renamed_internal_and_omitted() -> None:
    child = Row("Inner", (1, 2), Colour.red, extra=5)
    row = Row("Outer", (3, 4), Colour.red, children=[child])
    assert row.to_dict() == {
        "class": "Outer",
        "size": [3, 4],
        "colour": "red",
        "children": [
            {"class": "Inner", "size": [1, 2], "colour": "red", "extra": 5, "children": [], "area": 2}
        ],
        "area": 12,
    }
    json.dumps(row.to_dict(), allow_nan=False)  # plain values all the way down


def test_plain_converts_containers_and_other_dataclasses() -> None:
    @dataclass
    class Point:
        x: int
        y: tuple[int, ...]

    assert plain({"a": (Point(1, (2,)),), "b": Colour.red}) == {"a": [{"x": 1, "y": [2]}], "b": "red"}


# A to_dict written out by hand is allowed only on a Plain (to word what its fields cannot say,
# on top of super().to_dict()) and on these, with the reason.
HAND_WRITTEN = {
    "ChosenLayer",  # not a report: the summary of which layer of a file --from chose
}


def test_no_report_writes_its_to_dict_by_hand() -> None:
    hand_written = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {base.id for base in node.bases if isinstance(base, ast.Name)}
            methods = {item.name for item in node.body if isinstance(item, ast.FunctionDef)}
            if "to_dict" in methods and "Plain" not in bases and node.name != "Plain":
                hand_written.add(node.name)
    assert hand_written <= HAND_WRITTEN, hand_written - HAND_WRITTEN
