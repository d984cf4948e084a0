"""``dmctl``: DM's command-line client (console entry ``dmshell.ctl.main:main``), and ``dmshell repl``.

``dmctl [global flags] <command> [args]`` runs one command (command mode). Without a command it
reads commands: from a prompt-toolkit REPL when stdin is a terminal, otherwise one command per line
from stdin (DM's test harness pipes ``echo "query-status" | dmctl --master-addr=...``).

This module must stay light: it never imports Textual, and gRPC is imported only when a command
talks to the master.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TextIO

from dmshell import __version__
from dmshell.ctl import registry
from dmshell.ctl.command import all_flags
from dmshell.ctl.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CtlError, Done, UsageError
from dmshell.ctl.flags import FlagError, parse
from dmshell.ctl.invocation import Invocation
from dmshell.ctl.runner import Session

#: DM's ``AdjustArgumentsForPflags``: single-dash long flags accepted for compatibility
_LEGACY_FLAGS = (
    "-version",
    "-config",
    "-master-addr",
    "-rpc-timeout",
    "-ssl-ca",
    "-ssl-cert",
    "-ssl-key",
    "-encrypt",
    "-decrypt",
)


def adjust_legacy_args(args: Sequence[str]) -> list[str]:
    """Rewrite ``-master-addr x`` / ``-master-addr=x`` (and the other process flags) to ``--...``."""
    out = []
    for arg in args:
        stripped = arg.strip()
        if any(stripped == f or stripped.startswith(f + "=") for f in _LEGACY_FLAGS):
            arg = "-" + stripped
        out.append(arg)
    return out


def version_text() -> str:
    """What ``dmctl -V`` prints (DM's field names; Python instead of Go)."""
    return (
        f"Release Version: v{__version__}\nGit Commit Hash: None\nGit Branch: None\nUTC Build Time: None\n"
        f"Python Version: {sys.version.split()[0]}\n"
    )


def _prerun(inv: Invocation) -> None:
    """DM's ``PersistentPreRunE``: ``-V``, then the settings (master address required)."""
    from dmshell.ctl.settings import load_config  # with TLS and address parsing: start-up time

    flags = inv.flags
    if flags.bool("version"):
        inv.write_err(version_text() + "\n")
        raise Done(EXIT_OK)
    for name in ("encrypt", "decrypt"):
        if flags.changed(name):
            from dmshell.engine.config import encrypt as cipher  # loads `cryptography`: start-up time

            inv.println(getattr(cipher, name)(flags.str(name)))
            raise Done(EXIT_OK)
    session = inv.session
    if flags.str("output"):
        session.output = flags.str("output")
    if inv.cmd.offline:
        return

    def given(name: str) -> str | None:
        return flags.str(name) if flags.changed(name) else None

    try:
        session.config = load_config(
            config_file=flags.str("config"),
            master_addr=given("master-addr"),
            rpc_timeout=given("rpc-timeout"),
            ssl_ca=given("ssl-ca"),
            ssl_cert=given("ssl-cert"),
            ssl_key=given("ssl-key"),
        )
    except CtlError as exc:  # a missing or malformed process flag is a usage error
        raise UsageError(str(exc)) from None


def _loop(inv: Invocation) -> int:
    session = inv.session
    session.client.connect()  # like DM, fail at once when no master answers
    stdin = session.stdin or sys.stdin
    if stdin.isatty() and session.out.isatty():
        from dmshell.ctl.repl import run_repl  # loads prompt_toolkit: start-up time

        return run_repl(session=session)
    return run_piped(session, stdin)


def run_piped(session: Session, stdin: TextIO) -> int:
    """DM's loop over non-interactive input: one command per line, ``exit`` stops.

    Returns 0 when every command succeeded, else the exit status of the last one that failed.
    """
    status = EXIT_OK
    for raw in stdin:
        line = raw.strip()
        if line == "exit":
            break
        rc = session.run_line(line)
        session.out.flush()
        if rc != EXIT_OK:
            status = rc
    return status


def run_command(
    argv: Sequence[str], *, out: TextIO | None = None, err: TextIO | None = None, stdin: TextIO | None = None
) -> int:
    """Run one ``dmctl`` invocation (``argv`` without the program name); returns the exit status."""
    session = Session(mode="command", out=out, err=err)
    session.stdin = stdin
    session.prerun = _prerun
    session.loop_handler = _loop
    return session.run(adjust_legacy_args(argv), mode="command")


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry: run dmctl with ``argv``; returns the exit status.

    Without ``argv`` (the ``dmctl`` process itself: ``sys.argv[1:]``) the process ends right here,
    skipping the interpreter's teardown (gRPC's shutdown alone costs ~20 ms per command).
    """
    try:
        status = run_command(sys.argv[1:] if argv is None else argv)
    except KeyboardInterrupt:
        sys.stdout.write("\nGot signal [interrupt] to exit.\n")
        status = EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (`dmctl ... | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = EXIT_FAILED
    if argv is None:
        _exit_now(status)
    return status


def _exit_now(status: int) -> None:
    """Flush the output and end the process at once."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed or broken: nothing more can be written anyway
            pass
    os._exit(status)


# --------------------------------------------------------------------------- `dmshell repl`

REPL_USAGE = """\
Usage:
  dmshell repl [--master-addr host:port[,host:port...]] [--rpc-timeout 10m] [--config dmctl.toml]
               [--ssl-ca file --ssl-cert file --ssl-key file]

The dmctl REPL (the same as `dmctl` without a command). The master address falls back to
$DM_MASTER_ADDR. When stdin is not a terminal, commands are read one per line, as DM's dmctl does.
"""


def repl_main(argv: Sequence[str] | None = None) -> int:
    """``dmshell repl [dmctl's process flags]``: the REPL on a terminal, else DM's piped loop."""
    args = adjust_legacy_args(sys.argv[1:] if argv is None else argv)
    try:
        values, positional = parse(args, all_flags(registry.root("command")))
    except FlagError as exc:
        sys.stderr.write(f"Error: {exc}\n{REPL_USAGE}")
        return EXIT_USAGE
    if values.bool("help"):
        sys.stdout.write(REPL_USAGE)
        return EXIT_OK
    if positional:  # a command line is dmctl's job; here it would silently skip the REPL
        sys.stderr.write(
            f"Error: dmshell repl takes no command (got {positional[0]!r}); "
            f"run `dmctl {' '.join(positional)}` instead\n{REPL_USAGE}"
        )
        return EXIT_USAGE
    return main(args)


if __name__ == "__main__":
    sys.exit(main())
