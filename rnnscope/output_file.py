"""Files a command writes (--junit, --png, --svg, --export, --write): checked before the work.

A run that ends on a path it cannot write loses every result it computed (a full smoke matrix,
a long gradients run), so each path is refused up front, with one line naming its flag: a
folder, a folder that is not there or not writable, or a name whose extension says another
format than the one the flag writes.
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnscope.errors import BadInput


def check_output_file(flag: str, path: Path, suffix: str, example: str) -> None:
    """Refuse ``path`` for ``flag`` unless a file ending in ``suffix`` can be written there.

    Args:
        flag: the flag as users type it, e.g. ``--png``.
        path: the file as given.
        suffix: the one extension the flag writes, e.g. ``.png`` (any letter case passes).
        example: a file name to suggest, e.g. ``gradients.png``.

    Raises:
        BadInput: naming the flag, the path and what would work.
    """
    if path.is_dir():
        raise BadInput(f"{flag} {path}: that is a folder; give a file name such as {example}")
    if path.suffix.lower() != suffix:
        written = suffix.removeprefix(".").upper()
        raise BadInput(f"{flag} {path}: {flag} writes {written}; give a file name ending in {suffix}")
    folder = path.parent
    if not folder.is_dir():
        raise BadInput(f"{flag} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise BadInput(f"{flag} {path}: the folder {folder} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise BadInput(f"{flag} {path}: the file exists and is not writable")
