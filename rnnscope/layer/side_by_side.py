"""Several kinds from the same settings, for the commands that show them side by side (compare,
gradients): which kind takes which kind-only setting. No torch here.

``proj_size`` is an LSTM's and ``nonlinearity`` an RNN's: given with several kinds, each goes to
the rows of the kind that takes it, the other rows are built without it, and a note says so.
Given with only kinds that cannot take it, ``make_spec`` refuses it as for a single kind.
"""

from __future__ import annotations

from typing import Any

from rnnscope.layer.spec import Kind, LayerSpec
from rnnscope.layer.validation import make_spec


def specs_side_by_side(kinds: list[Kind], settings: dict[str, Any]) -> tuple[list[LayerSpec], list[str]]:
    """One spec per kind from ``make_spec``'s keywords in ``settings``, and the notes on how the
    kind-only settings applied.

    Raises:
        BadInput: the first invalid value or combination, checked on the kind that takes it.
    """
    notes = []
    several = len(set(kinds)) > 1
    proj_size, nonlinearity = settings.get("proj_size", 0), settings.get("nonlinearity")
    drop_proj = several and Kind.lstm in kinds and proj_size != 0
    drop_nonlinearity = several and Kind.rnn in kinds and nonlinearity is not None
    if drop_proj:
        others = " and ".join(kind.value for kind in kinds if kind is not Kind.lstm)
        notes.append(f"--proj-size {proj_size} applies to the lstm row only: {others} have none")
    if drop_nonlinearity:
        notes.append(f"--nonlinearity {nonlinearity} applies to the rnn row only")
    specs = []
    for kind in kinds:
        own = dict(settings)
        if drop_proj and kind is not Kind.lstm:
            own["proj_size"] = 0
        if drop_nonlinearity and kind is not Kind.rnn:
            own["nonlinearity"] = None
        specs.append(make_spec(kind, **own))
    return specs, notes
