"""Rich views of the reports: the only package that imports rich.

One module per command's view (``inspect``, ``verify`` with smoke, ``cost`` with compare,
``bench``, ``load``, ``model``, ``gradients``, ``layout``, ``draw``, ``activity``, ``sweep``
for the summary of a sweep), and ``common`` for what they share; ``svg`` writes draw's picture.
Every view reads a report object and nothing else; the JSON view is ``report.to_dict()``. Tables
are laid out to fit 80 columns; colour appears only on a terminal (Rich decides).
"""

from rnnscope.render.activity import activity_view
from rnnscope.render.bench import bench_view
from rnnscope.render.common import count, mark, print_view, progress_bar, size
from rnnscope.render.cost import compare_view, cost_view
from rnnscope.render.draw import draw_view
from rnnscope.render.gradients import gradients_view
from rnnscope.render.inspect import gate_table, inspect_view
from rnnscope.render.layout import layout_view
from rnnscope.render.load import load_view
from rnnscope.render.model import model_view
from rnnscope.render.sweep import compare_sweep_view, inspect_sweep_view, verify_sweep_view
from rnnscope.render.verify import check_table, equation_table, smoke_view, verify_view

__all__ = [
    "activity_view",
    "bench_view",
    "check_table",
    "compare_sweep_view",
    "compare_view",
    "cost_view",
    "count",
    "draw_view",
    "equation_table",
    "gate_table",
    "gradients_view",
    "inspect_sweep_view",
    "inspect_view",
    "layout_view",
    "load_view",
    "mark",
    "model_view",
    "print_view",
    "progress_bar",
    "size",
    "smoke_view",
    "verify_sweep_view",
    "verify_view",
]
