"""One running dmctl command as its handler sees it: arguments, flags, output helpers, the master.

Handlers (:mod:`dmshell.ctl.commands`) take an :class:`Invocation`; :mod:`dmshell.ctl.runner`
creates it. The generated protobuf modules are reached through :func:`pb` / :func:`mpb`, imported
on first use so that usage errors never load them.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from dmshell.ctl.command import Command, help_text, usage_text
from dmshell.ctl.errors import CHECK_OUTPUT, EXIT_FAILED, EXIT_OK, EXIT_USAGE, HelpShown, UsageError
from dmshell.ctl.flags import FlagValues
from dmshell.ctl.output import marshal_indent, to_dm_json, to_dm_obj

if TYPE_CHECKING:
    from dmshell.ctl.runner import Session


@cache
def pb() -> ModuleType:
    """The generated dmworker module (messages and enums); imported on first use (start-up time)."""
    from dmshell.proto import dmworker_pb2

    return dmworker_pb2


@cache
def mpb() -> ModuleType:
    """The generated dmmaster module; imported on first use (start-up time)."""
    from dmshell.proto import dmmaster_pb2

    return dmmaster_pb2


class Invocation:
    """One running command: its arguments, flags, output helpers and the master connection."""

    def __init__(
        self,
        session: Session,
        cmd: Command,
        args: list[str],
        flags: FlagValues,
        called_as: str,
        mode: str,
    ) -> None:
        self.session = session
        self.cmd = cmd
        self.args = args
        self.flags = flags
        self.called_as = called_as
        self.mode = mode
        self.output = session.output
        self.exit_code = EXIT_OK

    # -- arguments -------------------------------------------------------------------------

    @property
    def sources(self) -> list[str]:
        """``-s/--source`` values (repeatable, comma-separated)."""
        return self.flags.list("source")

    # -- output ----------------------------------------------------------------------------

    def write(self, text: str) -> None:
        self.session.out.write(text)

    def write_err(self, text: str) -> None:
        self.session.err.write(text)

    def println(self, *parts: object) -> None:
        """Go's ``fmt.Println``: operands separated by spaces, then a newline."""
        self.write(" ".join(str(p) for p in parts) + "\n")

    def usage_error(self, message: str = CHECK_OUTPUT) -> UsageError:
        """Print the command's usage (DM's ``PrintCmdUsage``) and return the error to raise."""
        self.write(usage_text(self.cmd))
        return UsageError(message)

    def bad_args(self, line: str, message: str = CHECK_OUTPUT) -> UsageError:
        """Print ``line`` and return the usage error to raise (DM's ``PrintLinesf`` + error)."""
        self.println(line)
        return UsageError(message)

    def show_help(self) -> HelpShown:
        """Print the command's help (DM's ``cmd.Help()`` on wrong arguments)."""
        self.write(help_text(self.cmd))
        return HelpShown(EXIT_USAGE)

    def emit(self, message: Any, check_task_field: str | None = None) -> None:
        """Print a response as DM does; ``"result": false`` makes the exit status 1."""
        if self.output == "json":
            self.write(pb_json(message, check_task_field) + "\n")
        else:
            from dmshell.ctl.tables import render  # only for --output table/plain: start-up time

            self.write(render(to_dm_obj(message, extensions=True), self.output))
        if "result" in message.DESCRIPTOR.fields_by_name and not message.result:
            self.exit_code = EXIT_FAILED

    def emit_interface(self, obj: Any, ok: bool = True) -> None:
        """Print a plain result struct as DM does (``encoding/json``)."""
        if self.output == "json":
            self.write(marshal_indent(obj) + "\n")
        else:
            from dmshell.ctl.tables import render  # only for --output table/plain: start-up time

            self.write(render(obj, self.output))
        if not ok:
            self.exit_code = EXIT_FAILED

    # -- master ----------------------------------------------------------------------------

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        """Call a Master RPC through the session's client (``ClientError`` when it fails)."""
        if timeout is None and self.session.config is not None:
            timeout = self.session.config.rpc_timeout
        return self.session.client.call(method, request, timeout=timeout)


_CHECK_TASK_HEADER = "fail to check synchronization configuration with type"


def pb_json(message: Any, check_task_field: str | None = None) -> str:
    """DM's ``PrettyPrintResponseWithCheckTask`` when a precheck report is embedded, else jsonpb."""
    if check_task_field:
        raw = getattr(message, check_task_field)
        if _CHECK_TASK_HEADER in raw:
            copy = type(message)()
            copy.CopyFrom(message)
            setattr(copy, check_task_field, "PLACEHOLDER")
            text = to_dm_json(copy).replace("PLACEHOLDER", raw, 1)
            return text.replace("detail: {", "   \tdetail: {", 1)
    return to_dm_json(message)
