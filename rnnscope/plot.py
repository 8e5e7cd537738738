"""PNG figures with matplotlib, an optional dependency (the ``plot`` extra).

matplotlib is imported inside the functions, with the Agg backend (no display needed), so that
nothing else in rnnscope pays for it or needs it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

from rnnscope.errors import BadInput

if TYPE_CHECKING:
    from rnnscope.gradients import GradientsReport

INSTALL_HINT = "pip install 'rnnscope[plot]'"


def check_png_target(path: Path) -> None:
    """Refuse ``--png`` before any work when the file's folder is not there or matplotlib is not
    installed (the path first: a path that can never be written is wrong wherever it runs).

    Raises:
        BadInput: saying which folder is missing, or how to install matplotlib.
    """
    if path.is_dir():
        raise BadInput(f"--png {path}: that is a folder; give a file name such as gradients.png")
    if not path.parent.is_dir():
        raise BadInput(f"--png {path}: the folder {path.parent} does not exist")
    if importlib.util.find_spec("matplotlib") is None:
        raise BadInput(f"--png needs matplotlib, which is not installed: {INSTALL_HINT}")


def write_gradients_png(report: GradientsReport, path: Path) -> None:
    """‖∂y_T/∂x_t‖ over t on a log axis, one line per row, the horizon marked on each.

    Exact zeros (underflow) cannot sit on a log axis: they are left out and the legend counts them.

    Raises:
        BadInput: matplotlib missing, or the file cannot be written.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise BadInput(f"--png needs matplotlib, which is not installed: {INSTALL_HINT}") from None
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
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as error:
        raise BadInput(f"--png {path}: cannot write it: {error.strerror or error}") from None
    finally:
        pyplot.close(figure)
