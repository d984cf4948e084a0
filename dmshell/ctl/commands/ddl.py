"""Shard DDL locks: show-ddl-locks, unlock-ddl-lock, shard-ddl-lock [unlock]."""

from __future__ import annotations

from dmshell.client.errors import ClientError
from dmshell.ctl.command import Command
from dmshell.ctl.commands._common import task_name
from dmshell.ctl.errors import UsageError
from dmshell.ctl.flags import FlagValues, bool_flag, string_flag
from dmshell.ctl.invocation import Invocation, mpb
from dmshell.ctl.output import go_slice


def show_ddl_locks(inv: Invocation) -> None:
    if len(inv.args) > 1:
        raise inv.usage_error()
    name = task_name(inv.args[0]) if inv.args else ""
    try:
        resp = inv.call("ShowDDLLocks", mpb().ShowDDLLocksRequest(task=name, sources=inv.sources))
    except ClientError:
        inv.println(f"can not show DDL locks for task {name} and sources {go_slice(inv.sources)}")
        raise
    inv.emit(resp)


def unlock_ddl_lock(inv: Invocation) -> None:
    if len(inv.args) != 1:
        raise inv.usage_error()
    lock_id = inv.args[0]
    actions = {"exec": "ExecLock", "skip": "SkipLock"}
    action = inv.flags.str("action")
    if action not in actions:
        raise UsageError("please check --action argument, only exec/skip are acceptable")
    req = mpb().UnlockDDLLockRequest(
        ID=lock_id,
        replaceOwner=inv.flags.str("owner"),
        forceRemove=inv.flags.bool("force-remove"),
        sources=inv.sources,
        database=inv.flags.str("database"),
        table=inv.flags.str("table"),
        op=mpb().UnlockDDLLockOp.Value(actions[action]),
    )
    try:
        resp = inv.call("UnlockDDLLock", req)
    except ClientError:
        inv.println(f"can not unlock DDL lock {lock_id}")
        raise
    inv.emit(resp)


def _unlock_flags() -> tuple:
    return (
        string_flag("owner", "source to replace the default owner", "o"),
        bool_flag("force-remove", "force to remove DDL lock", "f"),
        string_flag(
            "action", "accept skip/exec values which means whether to skip or execute ddls", "a", "skip"
        ),
        string_flag("database", "database name of the table", "d"),
        string_flag("table", "table name", "t"),
    )


def _confirm_unlock(args: list[str], flags: FlagValues) -> str | None:
    if len(args) != 1:
        return None
    action = "execute" if flags.str("action") == "exec" else "skip"
    return f"Force-unlock DDL lock {args[0]} and {action} its pending DDLs?"


_UNLOCK_VALUES = {"owner": "source", "action": "choice:skip,exec"}


def show_unlock_commands() -> list[Command]:
    return [
        Command(
            use="show-ddl-locks [-s source ...] [task-name | task-file]",
            short="Shows un-resolved DDL locks",
            run=show_ddl_locks,
            rpc="ShowDDLLocks",
            hidden=True,
            positionals=("task",),
        ),
        Command(
            use="unlock-ddl-lock <lock-ID>",
            short="Unlocks DDL lock forcefully",
            run=unlock_ddl_lock,
            rpc="UnlockDDLLock",
            hidden=True,
            positionals=("lock",),
            flags=_unlock_flags(),
            flag_values=dict(_UNLOCK_VALUES),
            confirm=_confirm_unlock,
        ),
    ]


def shard_ddl_lock_commands() -> list[Command]:
    cmd = Command(
        use="shard-ddl-lock [task]",
        short="maintain or show shard-ddl locks information",
        run=show_ddl_locks,
        rpc="ShowDDLLocks",
        positionals=("task",),
    )
    cmd.add(
        Command(
            use="unlock <lock-id>",
            short="Unlock un-resolved DDL locks forcely",
            run=unlock_ddl_lock,
            rpc="UnlockDDLLock",
            positionals=("lock",),
            flags=_unlock_flags(),
            flag_values=dict(_UNLOCK_VALUES),
            confirm=_confirm_unlock,
        )
    )
    return [cmd]
