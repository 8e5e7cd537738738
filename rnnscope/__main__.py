"""``python -m rnnscope``."""

from rnnscope.cli import main

main()
