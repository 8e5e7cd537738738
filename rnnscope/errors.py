"""Error types that carry the exit code the contract gives them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1
    BAD_INPUT = 2
    RUN_FAILED = 3


class RnnscopeError(Exception):
    """An error meant for the user: one line of text and an exit code.

    ``command_line_message`` is the line the command line prints: the same text, except where
    the error names settings, which its text names as Python callers pass them (``hidden_size``)
    and the command line as flags (``--hidden-size``).
    """

    exit_code: ExitCode = ExitCode.RUN_FAILED

    def __init__(self, message: str, *, command_line_message: str | None = None) -> None:
        super().__init__(message)
        self.command_line_message = message if command_line_message is None else command_line_message


class BadInput(RnnscopeError):
    """Something the user typed is invalid, or cannot fit the chosen device (exit 2)."""

    exit_code = ExitCode.BAD_INPUT


def bad_argument(parameter: str, flag: str, rest: str) -> BadInput:
    """A refused argument, named as a Python caller passes it (``iters``) and, in the
    ``command_line_message``, as its flag (``--iters``); ``rest`` follows the name."""
    return BadInput(f"{parameter} {rest}", command_line_message=f"{flag} {rest}")


class RunFailed(RnnscopeError):
    """The input was valid but the run itself failed: allocation, device, driver (exit 3)."""

    exit_code = ExitCode.RUN_FAILED
