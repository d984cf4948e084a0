"""How a dmctl command fails, and the exit status each failure maps to.

Exit statuses (documented in docs/dmctl.md): 0 ok, 1 the master answered ``"result": false`` or the
command failed, 2 usage error, 3 master unreachable, 130 interrupted.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_INTERRUPTED = 130

#: the error DM returns after printing a command's usage or a message about its arguments
CHECK_OUTPUT = "please check output to see error"


class CtlError(Exception):
    """A command failed; dmctl prints ``Error: <message>``."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


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


class UnreachableError(CtlError):
    """No master address answered (DM's ErrCtlGRPCCreateConn)."""

    exit_code = EXIT_UNREACHABLE
