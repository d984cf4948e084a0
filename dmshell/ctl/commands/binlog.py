"""Binlog error handling: handle-error (hidden, DM's legacy) and binlog skip/replace/revert/inject/list."""

from __future__ import annotations

from dmshell.ctl.command import Command
from dmshell.ctl.commands._common import BINLOG_POS_USAGE, extract_sqls, task_name, verify_binlog_pos
from dmshell.ctl.flags import FlagValues, string_flag
from dmshell.ctl.invocation import Invocation, mpb, pb


def _send(inv: Invocation, op: str, name: str, sqls: list[str]) -> None:
    pos = inv.flags.str("binlog-pos")
    if pos:
        verify_binlog_pos(pos)
    req = mpb().HandleErrorRequest(
        op=pb().ErrorOp.Value(op), task=name, sources=inv.sources, binlogPos=pos, sqls=sqls
    )
    inv.emit(inv.call("HandleError", req))


def handle_error(inv: Invocation) -> None:
    if len(inv.args) < 2:
        raise inv.usage_error()
    name, operation = task_name(inv.args[0]), inv.args[1]
    sqls: list[str] = []
    if operation in ("skip", "revert"):
        if len(inv.args) > 2:
            raise inv.bad_args("replace-sqls can not be used for 'skip/revert' operation")
    elif operation == "replace":
        if len(inv.args) <= 2:
            raise inv.bad_args("must specify the replace-sqls for replace operation")
        sqls = extract_sqls(inv.args[2:])
    else:
        raise inv.bad_args(f"invalid operation '{operation}', please use `skip`, `replace` or `revert`")
    _send(inv, operation.capitalize(), name, sqls)


def _simple(op: str, exact: bool):
    def handler(inv: Invocation) -> None:
        if (len(inv.args) != 1) if exact else not inv.args:
            raise inv.show_help()
        _send(inv, op, task_name(inv.args[0]), [])

    return handler


def _with_sqls(op: str):
    def handler(inv: Invocation) -> None:
        if len(inv.args) <= 1:
            raise inv.show_help()
        _send(inv, op, task_name(inv.args[0]), extract_sqls(inv.args[1:]))

    return handler


def _target(flags: FlagValues) -> str:
    pos = flags.str("binlog-pos")
    return f"the binlog event at {pos}" if pos else "the binlog event that failed"


def _confirm_skip(args: list[str], flags: FlagValues) -> str | None:
    if len(args) != 1:
        return None
    return f"Skip {_target(flags)} in task {args[0]}? Its changes will not reach the target."


def _confirm_replace(args: list[str], flags: FlagValues) -> str | None:
    if len(args) <= 1:
        return None
    return f"Replace {_target(flags)} in task {args[0]} with the given SQL?"


def handle_error_commands() -> list[Command]:
    return [
        Command(
            use="handle-error <task-name | task-file> [-s source ...] [-b binlog-pos] <skip/replace/revert> "
            "[replace-sql1;replace-sql2;]",
            short="`skip`/`replace`/`revert` the current error event or a specific binlog position "
            "(binlog-pos) event",
            run=handle_error,
            rpc="HandleError",
            hidden=True,
            positionals=("task", "choice:skip,replace,revert", "sql..."),
            flags=(
                string_flag(
                    "binlog-pos",
                    "position used to match binlog event if matched the handler-error operation "
                    'will be applied. The format like "mysql-bin|000001.000003:3270"',
                    "b",
                ),
            ),
        )
    ]


def binlog_commands() -> list[Command]:
    cmd = Command(
        use="binlog <command>",
        short="manage or show binlog operations",
        persistent_flags=(string_flag("binlog-pos", BINLOG_POS_USAGE, "b"),),
    )
    cmd.add(
        Command(
            use="skip <task-name>",
            short="skip the current error event or a specific binlog position (binlog-pos) event",
            run=_simple("Skip", True),
            rpc="HandleError",
            positionals=("task",),
            confirm=_confirm_skip,
        ),
        Command(
            use="replace <task-name> <replace-sql1> <replace-sql2>...",
            short="replace the current error event or a specific binlog position (binlog-pos) with some ddls",
            run=_with_sqls("Replace"),
            rpc="HandleError",
            positionals=("task", "sql..."),
            confirm=_confirm_replace,
        ),
        Command(
            use="revert <task-name>",
            short="revert the current binlog operation or a specific binlog position (binlog-pos) operation",
            run=_simple("Revert", False),
            rpc="HandleError",
            positionals=("task",),
        ),
        Command(
            use="inject <task-name> <inject-sql1> <inject-sql2>...",
            short="inject the current error event or a specific binlog position (binlog-pos) with some ddls",
            run=_with_sqls("Inject"),
            rpc="HandleError",
            positionals=("task", "sql..."),
        ),
        Command(
            use="list <task-name>",
            short="list error handle command at binlog position (binlog-pos) or after binlog position "
            "(binlog-pos)",
            run=_simple("List", True),
            rpc="HandleError",
            positionals=("task",),
        ),
    )
    return [cmd]
