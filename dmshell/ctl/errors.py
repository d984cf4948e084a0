"""How a dmctl command fails, and the exit status each failure maps to.

The exit statuses and the master-connection errors are the client layer's
(:mod:`dmshell.client.errors`, documented in docs/dmctl.md); dmctl adds its usage errors.
"""

from __future__ import annotations

from dmshell.client.errors import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    ClientError,
    UnreachableError,
)

__all__ = [
    "CHECK_OUTPUT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "CtlError",
    "Done",
    "HelpShown",
    "UnknownCommandError",
    "UnreachableError",
    "UsageError",
]

#: the error DM returns after printing a command's usage or a message about its arguments
CHECK_OUTPUT = "please check output to see error"


class CtlError(ClientError):
    """A command failed; dmctl prints ``Error: <message>``."""


class UsageError(CtlError):
    """Wrong arguments or flags (usage, if any, has been printed already)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str = CHECK_OUTPUT) -> None:
        super().__init__(message)


class UnknownCommandError(UsageError):
    """The first word names no command; dmctl adds ``Run 'dmctl --help' for usage.``."""


class Done(Exception):
    """The command finished early with ``exit_code`` and has printed all it had to say."""

    def __init__(self, exit_code: int = EXIT_OK) -> None:
        super().__init__(f"done ({exit_code})")
        self.exit_code = exit_code


class HelpShown(Done):
    """The command printed its help instead of running (DM does this silently on wrong args)."""

    def __init__(self, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(exit_code)
