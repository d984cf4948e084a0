"""Running one dmctl command line: lookup, flag parsing, the handler, DM's error printing, exit status.

:class:`Session` is what the front ends hold: ``dmctl`` command mode, the piped-stdin loop, the
REPL and the TUI's ``:`` prompt all call :meth:`Session.run` (or :meth:`Session.run_line`). Output
goes to ``session.out`` / ``session.err`` (any text streams, e.g. ``io.StringIO`` in the TUI).

Error printing follows DM: in command mode ``Error: <err>`` on stderr; in loop mode (lines read from
stdin, the REPL, the TUI) ``fail to run: [arg1 arg2]`` then ``Error: <err>`` on stdout. Unknown
commands add ``Run 'dmctl --help' for usage.``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TextIO

from dmshell.ctl import registry
from dmshell.ctl.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CtlError,
    Done,
    HelpShown,
    UnknownCommandError,
    UsageError,
)
from dmshell.ctl.flags import FlagError, FlagValues, parse
from dmshell.ctl.output import go_slice

OUTPUT_FORMATS = ("json", "table", "plain")


@cache
def pb() -> Any:
    """The generated dmworker module (messages and enums); imported on first use."""
    from dmshell.proto import dmworker_pb2

    return dmworker_pb2


@cache
def mpb() -> Any:
    """The generated dmmaster module."""
    from dmshell.proto import dmmaster_pb2

    return dmmaster_pb2


class Session:
    """State shared by the commands of one dmctl process, REPL or TUI console.

    ``client`` may be given (the TUI's connection) or is created on first use from ``config``
    (a :class:`dmshell.ctl.settings.CtlConfig`). ``confirm(question) -> bool`` is asked before
    destructive commands (REPL); ``None`` runs them without asking (command mode, scripts).
    """

    def __init__(
        self,
        config: Any = None,
        client: Any = None,
        *,
        output: str = "json",
        out: TextIO | None = None,
        err: TextIO | None = None,
        mode: str = "loop",
        confirm: Callable[[str], bool] | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self.output = output
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.mode = mode
        self.confirm = confirm
        #: where the piped loop reads commands (default ``sys.stdin``)
        self.stdin: TextIO | None = None
        #: command mode: called with the root invocation when no command is given (starts the loop)
        self.loop_handler: Callable[[Invocation], int | None] | None = None
        #: command mode: resolves settings from the parsed flags before a command runs
        self.prerun: Callable[[Invocation], None] | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from dmshell.ctl.client import MasterClient

            if self.config is None:
                raise CtlError("no dm-master address configured")
            self._client = MasterClient(self.config.master_addr, self.config.rpc_timeout, config=self.config)
        return self._client

    @client.setter
    def client(self, value: Any) -> None:
        self._client = value

    # -- running ---------------------------------------------------------------------------

    def run_line(self, line: str) -> int:
        """Run one line the way DM's interactive loop does (split shell-style; blank lines skipped)."""
        line = line.strip()
        if not line:
            return EXIT_OK
        import shlex

        try:
            argv = shlex.split(line)
        except ValueError:
            argv = [line]
        return self.run(argv, mode="loop")

    def run(self, argv: Sequence[str], mode: str | None = None) -> int:
        """Run one command; returns its exit status."""
        mode = mode or self.mode
        argv = list(argv)
        m = registry.find(argv, mode)
        if m.error:
            return self._fail(argv, mode, UnknownCommandError(m.error), m.cmd)
        try:
            values, args = parse(m.args, registry.all_flags(m.cmd))
        except FlagError as exc:
            return self._fail(argv, mode, UsageError(str(exc)), m.cmd)
        inv = Invocation(self, m.cmd, args, values, m.called_as, mode)
        if values.bool("help") or not m.cmd.runnable:
            inv.write(registry.help_text(m.cmd))
            return EXIT_OK
        try:
            output = values.str("output") or self.output
            if output not in OUTPUT_FORMATS:
                raise UsageError(f"invalid --output {output!r}, use one of json, table, plain")
            inv.output = output
            if mode == "command" and self.prerun is not None:
                self.prerun(inv)
            if self.confirm is not None and m.cmd.confirm is not None and not values.bool("yes"):
                question = m.cmd.confirm(args, values)
                if question and not self.confirm(question):
                    inv.write("Aborted.\n")
                    return EXIT_OK
            rc = m.cmd.run(inv)  # type: ignore[misc]
        except Done as exc:
            return exc.exit_code
        except CtlError as exc:
            return self._fail(argv, mode, exc, m.cmd)
        except Exception as exc:
            from dmshell.engine.errors import DMError

            if not isinstance(exc, DMError):
                raise
            return self._fail(argv, mode, CtlError(str(exc)), m.cmd)
        return inv.exit_code if rc is None else rc

    def _fail(self, argv: list[str], mode: str, exc: CtlError, cmd: registry.Command) -> int:
        hint = f"Run '{cmd.path} --help' for usage.\n" if isinstance(exc, UnknownCommandError) else ""
        if mode == "command":
            self.err.write(f"Error: {exc}\n{hint}")
        else:
            self.out.write(f"fail to run: {go_slice(argv)}\nError: {exc}\n{hint}")
        self.out.flush()
        return exc.exit_code


class Invocation:
    """One running command: its arguments, flags, output helpers and the master connection."""

    def __init__(
        self,
        session: Session,
        cmd: registry.Command,
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

    def usage_error(self, message: str = "please check output to see error") -> UsageError:
        """Print the command's usage (DM's ``PrintCmdUsage``) and return the error to raise."""
        self.write(registry.usage_text(self.cmd))
        return UsageError(message)

    def bad_args(self, line: str, message: str = "please check output to see error") -> UsageError:
        """Print ``line`` and return the usage error to raise (DM's ``PrintLinesf`` + error)."""
        self.println(line)
        return UsageError(message)

    def show_help(self) -> HelpShown:
        """Print the command's help (DM's ``cmd.Help()`` on wrong arguments)."""
        self.write(registry.help_text(self.cmd))
        return HelpShown(EXIT_USAGE)

    def emit(self, message: Any, check_task_field: str | None = None) -> None:
        """Print a response as DM does; ``"result": false`` makes the exit status 1."""
        if self.output == "json":
            self.write(_pb_json(message, check_task_field) + "\n")
        else:
            from dmshell.ctl.output import to_dm_obj
            from dmshell.ctl.tables import render

            self.write(render(to_dm_obj(message, extensions=True), self.output))
        if "result" in message.DESCRIPTOR.fields_by_name and not message.result:
            self.exit_code = EXIT_FAILED

    def emit_interface(self, obj: Any, ok: bool = True) -> None:
        """Print a plain result struct as DM does (``encoding/json``)."""
        if self.output == "json":
            from dmshell.ctl.output import marshal_indent

            self.write(marshal_indent(obj) + "\n")
        else:
            from dmshell.ctl.tables import render

            self.write(render(obj, self.output))
        if not ok:
            self.exit_code = EXIT_FAILED

    # -- master ----------------------------------------------------------------------------

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        """Call a Master RPC through the session's client."""
        if timeout is None and self.session.config is not None:
            timeout = self.session.config.rpc_timeout
        return self.session.client.call(method, request, timeout=timeout)


_CHECK_TASK_HEADER = "fail to check synchronization configuration with type"


def _pb_json(message: Any, check_task_field: str | None) -> str:
    """DM's ``PrettyPrintResponseWithCheckTask`` when a precheck report is embedded, else jsonpb."""
    from dmshell.ctl.output import to_dm_json

    if check_task_field:
        raw = getattr(message, check_task_field)
        if _CHECK_TASK_HEADER in raw:
            copy = type(message)()
            copy.CopyFrom(message)
            setattr(copy, check_task_field, "PLACEHOLDER")
            text = to_dm_json(copy).replace("PLACEHOLDER", raw, 1)
            return text.replace("detail: {", "   \tdetail: {", 1)
    return to_dm_json(message)
