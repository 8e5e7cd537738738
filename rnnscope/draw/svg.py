"""The ``draw`` picture as SVG (drawsvg) and PNG (resvg-py): draws what geometry.py placed.

Both libraries are pure wheels with no system library behind them (drawsvg is pure Python;
resvg-py bundles the Rust resvg renderer), so ``pip install 'rnnscope[draw]'`` is all ``draw``
needs. Nothing here decides a position: every coordinate comes from the Layout.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import Any

from rnnscope.draw.geometry import Layout
from rnnscope.draw.grid import CELL_FONT_SIZE, Arrow, Box, CellBox, Label, LegendEntry
from rnnscope.errors import BadInput

FONT_FAMILY = "DejaVu Sans Mono, Menlo, Consolas, monospace"
INK = "#222222"
MUTED = "#666666"
FILLS = {"forward": "#e3eefa", "reverse": "#fbeadb"}
STROKES = {"forward": "#3b6ea8", "reverse": "#b5682a"}
BAR_FILL = "#f1f1f1"
MARK = "#c0392b"
INSTALL_HINT = "pip install 'rnnscope[draw]'"
MAX_PNG_SIDE = 8192


def _require(module: str, purpose: str) -> ModuleType:
    """Import an optional library, or say which one is missing and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise BadInput(
            f"{purpose} needs the {module} package, which is not installed: {INSTALL_HINT}"
        ) from None


def svg_text(layout: Layout) -> str:
    """The picture as an SVG document.

    Raises:
        BadInput: drawsvg is not installed.
    """
    draw = _require("drawsvg", "draw --svg")
    picture = draw.Drawing(round(layout.width), round(layout.height), font_family=FONT_FAMILY)
    picture.append(draw.Rectangle(0, 0, round(layout.width), round(layout.height), fill="white"))
    # The head's tip sits on the arrow's last point, so an arrow ending at a box touches it.
    head = draw.Marker(-1.0, -0.5, 0.1, 0.5, scale=7, orient="auto")
    head.append(draw.Lines(-1.0, -0.45, 0, 0, -1.0, 0.45, close=True, fill=INK))
    for box in layout.bars:
        picture.append(draw.Rectangle(box.x, box.y, box.w, box.h, rx=3, fill=BAR_FILL, stroke=MUTED))
    for cell in layout.cells:
        _cell(draw, picture, cell)
    for arrow in layout.arrows:
        picture.append(_arrow(draw, arrow, head))
    for x, y in layout.junctions:
        picture.append(draw.Circle(x, y, 3.5, fill=INK))
    for label in layout.labels:
        picture.append(_text(draw, label))
    for entry in layout.legend:
        _legend_symbol(draw, picture, entry, head)
        picture.append(_text(draw, entry.label))
    svg: str = picture.as_svg()
    return svg


def png_bytes(svg: str, longest_side: float) -> bytes:
    """Render the SVG to PNG at twice its size (``longest_side`` is its longer side in px), at
    most MAX_PNG_SIDE pixels: a 200-layer stack is 49,000 px tall, and rendering it twice over
    took minutes and 18 MB for a picture no viewer opens.

    Raises:
        BadInput: resvg-py is not installed.
    """
    resvg = _require("resvg_py", "draw --png")
    zoom = min(2.0, MAX_PNG_SIDE / longest_side)
    png: bytes = resvg.svg_to_bytes(svg_string=svg, zoom=zoom, background="white")
    return png


def _arrow(draw: ModuleType, arrow: Arrow, head: Any) -> Any:
    coordinates = [value for point in arrow.points for value in point]
    options: dict[str, Any] = {"stroke": INK, "stroke_width": 1.3, "fill": "none"}
    if arrow.dashed:
        options["stroke_dasharray"] = "5,4"
    if arrow.head:
        options["marker_end"] = head
    return draw.Lines(*coordinates, **options)


def _cell(draw: ModuleType, picture: Any, cell: CellBox) -> None:
    box = cell.box
    picture.append(
        draw.Rectangle(
            box.x, box.y, box.w, box.h, rx=6, fill=FILLS[cell.direction], stroke=STROKES[cell.direction]
        )
    )
    name, detail = cell.lines
    center = box.x + box.w / 2
    middle = box.y + box.h / 2
    name_text = draw.Text(name, CELL_FONT_SIZE, center, middle - 3, text_anchor="middle", font_weight="bold")
    picture.append(name_text)
    picture.append(draw.Text(detail, CELL_FONT_SIZE, center, middle + 12, text_anchor="middle", fill=MUTED))
    if cell.marked:
        picture.append(_diamond(draw, box.right - 9, box.y + 9))


def _diamond(draw: ModuleType, x: float, y: float) -> Any:
    return draw.Lines(x, y - 5, x + 5, y, x, y + 5, x - 5, y, close=True, fill=MARK)


def _text(draw: ModuleType, label: Label) -> Any:
    """One line per text element, baselines at 78% of each line's height (the font's ascent)."""
    group = draw.Group(fill=INK, font_size=label.size)
    if label.bold:
        group.args["font-weight"] = "bold"
    for i, line in enumerate(label.lines):
        baseline = label.box.y + i * label.line_height + 0.78 * label.line_height
        group.append(draw.Text(line, label.size, label.box.x, baseline))
    return group


def _legend_symbol(draw: ModuleType, picture: Any, entry: LegendEntry, head: Any) -> None:
    box: Box = entry.label.box
    left, middle = box.x - 34, box.y + box.h / 2
    if entry.symbol == "cell":
        picture.append(
            draw.Rectangle(left, box.y, 26, box.h, rx=3, fill=FILLS["forward"], stroke=STROKES["forward"])
        )
    elif entry.symbol in ("arrow", "dashed"):
        picture.append(
            _arrow(draw, Arrow(((left, middle), (left + 26, middle)), entry.symbol == "dashed"), head)
        )
    elif entry.symbol == "junction":
        picture.append(draw.Circle(left + 13, middle, 3.5, fill=INK))
    elif entry.symbol == "mark":
        picture.append(_diamond(draw, left + 13, middle))


def write_picture(layout: Layout, svg_path: Path | None, png_path: Path | None) -> list[str]:
    """Write the SVG and/or the PNG; return the paths written.

    Raises:
        BadInput: a library is missing (checked before anything is written), or a path cannot
            be written, naming the flag.
    """
    _require("drawsvg", "draw")
    if png_path is not None:
        _require("resvg_py", "draw --png")
    svg = svg_text(layout)
    written = []
    for flag, path, content in (("--svg", svg_path, svg.encode()), ("--png", png_path, None)):
        if path is None:
            continue
        try:
            path.write_bytes(
                content if content is not None else png_bytes(svg, max(layout.width, layout.height))
            )
        except OSError as error:
            raise BadInput(f"{flag} {path}: cannot write it ({error.strerror})") from None
        written.append(str(path))
    return written
