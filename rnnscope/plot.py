"""PNG figures with matplotlib, an optional dependency (the ``plot`` extra).

matplotlib is imported inside the functions, with the Agg backend (no display needed), so that
nothing else in rnnscope pays for it or needs it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnscope.errors import BadInput
from rnnscope.output_file import check_output_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rnnscope.report import ActivityReport, GradientsReport

INSTALL_HINT = "pip install 'rnnscope[plot]'"


def check_png_target(path: Path, example: str = "gradients.png") -> None:
    """Refuse ``--png`` before any work when the file cannot be written there, is not named
    .png, or matplotlib is not installed (the path first: a path that can never be written is
    wrong wherever it runs).

    Raises:
        BadInput: saying what is wrong with the path, or how to install matplotlib.
    """
    check_output_file("--png", path, ".png", example)
    if importlib.util.find_spec("matplotlib") is None:
        raise BadInput(f"--png needs matplotlib, which is not installed: {INSTALL_HINT}")


def write_gradients_png(report: GradientsReport, path: Path) -> None:
    """‖∂y_T/∂x_t‖ over t on a log axis, one line per row, the horizon marked on each.

    Exact zeros (underflow) cannot sit on a log axis: they are left out and the legend counts them.

    Raises:
        BadInput: matplotlib missing, or the file cannot be written.
    """
    pyplot = _pyplot()
    figure, axes = pyplot.subplots(figsize=(8, 4.5), dpi=100)
    last = report.steps - 1
    for row in report.rows:
        points = [(t, value) for t, value in enumerate(row.norms) if value is not None and value > 0]
        label = f"{row.label}: horizon {row.horizon}" + (f", {row.zeros} zero" if row.zeros else "")
        (line,) = axes.plot([t for t, _ in points], [value for _, value in points], label=label)
        start = last - row.horizon
        start_value = row.norms[start]
        if start_value:
            axes.plot([start], [start_value], "o", color=line.get_color())
    axes.set_yscale("log")
    axes.set_xlabel("t")
    axes.set_ylabel("‖∂y_T/∂x_t‖")
    axes.set_title(
        f"‖∂y_T/∂x_t‖ over t: L = {report.steps}, {report.dtype}, seed {report.seed}; "
        "a dot marks where each horizon ends",
        fontsize=10,
    )
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize=8)
    _save(figure, path)


def write_activity_png(report: ActivityReport, path: Path) -> None:
    """The scatter of Karpathy et al. 2015, Fig. 3: one point per unit, x the fraction of pairs its
    gate is left-saturated, y right-saturated; one panel per gate, one row per layer and direction.

    Raises:
        BadInput: matplotlib missing, or the file cannot be written.
    """
    pyplot = _pyplot()
    gate_units = report.gate_units()
    keys = list(dict.fromkeys((gate.path, gate.layer, gate.direction) for gate, _ in gate_units))
    columns = list(dict.fromkeys(gate.gate for gate, _ in gate_units))
    figure, axes = pyplot.subplots(
        len(keys), len(columns), figsize=(3 * len(columns), 3 * len(keys)), dpi=100, squeeze=False
    )
    for gate, units in gate_units:
        row, column = keys.index((gate.path, gate.layer, gate.direction)), columns.index(gate.gate)
        panel = axes[row][column]
        panel.plot([0, 1], [1, 0], color="0.8", linewidth=0.8)  # left + right = 1
        panel.scatter([unit.left for unit in units], [unit.right for unit in units], s=12, alpha=0.6)
        panel.set_xlim(-0.02, 1.02)
        panel.set_ylim(-0.02, 1.02)
        panel.set_aspect("equal")
        where = ("" if gate.path is None else f"{gate.path} ") + f"layer {gate.layer} {gate.direction}"
        panel.set_title(f"{gate.meaning}, {where}", fontsize=9)
        panel.set_xlabel(f"left (< {report.low:g})", fontsize=8)
        panel.set_ylabel(f"right (> {report.high:g})", fontsize=8)
    figure.suptitle(f"{report.module}: fraction of {report.pairs:,} (step, sequence) pairs", fontsize=10)
    _save(figure, path)


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend.

    Raises:
        BadInput: matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise BadInput(f"--png needs matplotlib, which is not installed: {INSTALL_HINT}") from None
    return pyplot


def _save(figure: Figure, path: Path) -> None:
    from matplotlib import pyplot

    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as error:
        raise BadInput(f"--png {path}: cannot write it: {error.strerror or error}") from None
    finally:
        pyplot.close(figure)
