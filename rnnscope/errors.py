"""Error types that carry the exit code the contract gives them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1
    BAD_INPUT = 2
    RUN_FAILED = 3


class RnnscopeError(Exception):
    """An error meant for the user: one line of text and an exit code."""

    exit_code: ExitCode = ExitCode.RUN_FAILED


class BadInput(RnnscopeError):
    """Something the user typed is invalid, or cannot fit the chosen device (exit 2)."""

    exit_code = ExitCode.BAD_INPUT


class RunFailed(RnnscopeError):
    """The input was valid but the run itself failed: allocation, device, driver (exit 3)."""

    exit_code = ExitCode.RUN_FAILED
