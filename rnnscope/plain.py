"""Reports as JSON: ``to_dict`` derived from a report's fields, never written out by hand.

A report is a dataclass of plain values. :class:`Plain` gives it ``to_dict``: every field under
its own name, then the computed values the class declares in ``computed`` (properties such as
``ok``), each converted all the way down by :func:`plain`. A field the class lists in
``internal`` stays out of the JSON (say why beside it), one in ``renamed`` goes under the name
given there (JSON's ``class`` and ``from`` are Python keywords); ``omitted_when_none`` lists keys that
appear only when they have a value (a section a flag adds), and a class whose keys depend on
more than that overrides ``left_out``. No torch here, and nothing else of rnnscope: the
layer's own rows (cost, gates, equations) use it too.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any, ClassVar


class Plain:
    """A dataclass whose ``to_dict`` is its fields plus ``computed``, less ``internal``."""

    computed: ClassVar[tuple[str, ...]] = ()
    internal: ClassVar[tuple[str, ...]] = ()
    omitted_when_none: ClassVar[tuple[str, ...]] = ()
    renamed: ClassVar[tuple[tuple[str, str], ...]] = ()  # (field, its JSON name)

    def left_out(self) -> set[str]:
        """The keys this one's JSON leaves out: those of ``omitted_when_none`` that are None."""
        return {name for name in self.omitted_when_none if getattr(self, name) is None}

    def to_dict(self) -> dict[str, Any]:
        assert is_dataclass(self), f"{type(self).__name__} is Plain, so it must be a dataclass"
        names = [field.name for field in fields(self) if field.name not in self.internal]
        left_out, renamed = self.left_out(), dict(self.renamed)
        return {
            renamed.get(name, name): plain(getattr(self, name))
            for name in [*names, *self.computed]
            if name not in left_out
        }


def plain(value: Any) -> Any:
    """``value`` as JSON holds it: reports by their ``to_dict``, other dataclasses field by
    field, tuples as lists, enums as their values, containers converted inside."""
    if isinstance(value, Plain) or (hasattr(value, "to_dict") and not isinstance(value, type)):
        return value.to_dict()
    if is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value
