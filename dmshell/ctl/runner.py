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
from typing import TYPE_CHECKING, TextIO

from dmshell.client.errors import ClientError
from dmshell.ctl import registry
from dmshell.ctl.command import Command, all_flags, help_text
from dmshell.ctl.errors import EXIT_OK, CtlError, Done, UnknownCommandError, UsageError
from dmshell.ctl.flags import FlagError, parse
from dmshell.ctl.invocation import Invocation
from dmshell.ctl.output import go_slice

if TYPE_CHECKING:
    from dmshell.client.master import MasterClient
    from dmshell.ctl.settings import CtlConfig

OUTPUT_FORMATS = ("json", "table", "plain")


class Session:
    """State shared by the commands of one dmctl process, REPL or TUI console.

    ``client`` may be given (the TUI's connection) or is created on first use from ``config``
    (resolved from the process flags in command mode). ``confirm(question) -> bool`` is asked before
    destructive commands (REPL); ``None`` runs them without asking (command mode, scripts).
    """

    def __init__(
        self,
        config: CtlConfig | None = None,
        client: MasterClient | None = None,
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
    def client(self) -> MasterClient:
        if self._client is None:
            from dmshell.client.master import MasterClient  # sockets and threads: start-up time

            if self.config is None:
                raise CtlError("no dm-master address configured")
            cfg = self.config
            self._client = MasterClient(cfg.master_addr, cfg.rpc_timeout, tls=cfg.tls)
        return self._client

    @client.setter
    def client(self, value: MasterClient) -> None:
        self._client = value

    # -- running ---------------------------------------------------------------------------

    def run_line(self, line: str) -> int:
        """Run one line the way DM's interactive loop does (split shell-style; blank lines skipped)."""
        line = line.strip()
        if not line:
            return EXIT_OK
        import shlex  # only the loop splits lines: start-up time

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
            values, args = parse(m.args, all_flags(m.cmd))
        except FlagError as exc:
            return self._fail(argv, mode, UsageError(str(exc)), m.cmd)
        inv = Invocation(self, m.cmd, args, values, m.called_as, mode)
        if values.bool("help") or m.cmd.run is None:
            inv.write(help_text(m.cmd))
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
            rc = m.cmd.run(inv)
        except Done as exc:
            return exc.exit_code
        except ClientError as exc:
            return self._fail(argv, mode, exc, m.cmd)
        except Exception as exc:
            from dmshell.engine.errors import DMError  # only on this path: start-up time

            if not isinstance(exc, DMError):
                raise
            return self._fail(argv, mode, CtlError(str(exc)), m.cmd)
        return inv.exit_code if rc is None else rc

    def _fail(self, argv: list[str], mode: str, exc: ClientError, cmd: Command) -> int:
        hint = f"Run '{cmd.path} --help' for usage.\n" if isinstance(exc, UnknownCommandError) else ""
        if mode == "command":
            self.err.write(f"Error: {exc}\n{hint}")
        else:
            self.out.write(f"fail to run: {go_slice(argv)}\nError: {exc}\n{hint}")
        self.out.flush()
        return exc.exit_code
