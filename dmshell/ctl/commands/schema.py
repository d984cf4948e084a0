"""Schema tracker commands: operate-schema (hidden, DM's legacy) and binlog-schema list/update/delete."""

from __future__ import annotations

from typing import Any

from dmshell.ctl.command import Command
from dmshell.ctl.commands._common import NEED_SOURCE, flush_flag, read_file, sync_flag, task_name
from dmshell.ctl.errors import CtlError
from dmshell.ctl.flags import bool_flag, string_flag
from dmshell.ctl.invocation import Invocation, mpb, pb


def _send(inv: Invocation, **fields: Any) -> None:
    inv.emit(inv.call("OperateSchema", mpb().OperateSchemaRequest(**fields)))


def operate_schema(inv: Invocation) -> None:
    if not 2 <= len(inv.args) <= 3:
        raise inv.usage_error()
    op_word, name = inv.args[0], task_name(inv.args[1])
    schema_file = inv.args[2] if len(inv.args) > 2 else ""
    ops = {"get": "GetSchema", "set": "SetSchema", "remove": "RemoveSchema"}
    if op_word not in ops:
        raise inv.bad_args(f"invalid operate '{op_word}' on schema")
    schema = b""
    if op_word == "set":
        if not schema_file:
            raise inv.bad_args("must sepcify schema file for 'set' operation")
        schema = read_file(schema_file)
    elif schema_file:
        inv.println("schema file will be ignored for 'get'/'delete' operation")
    if not inv.sources:
        raise inv.bad_args(NEED_SOURCE)
    database, table = inv.flags.str("database"), inv.flags.str("table")
    if not database:
        raise inv.bad_args("must specify 'database'")
    if not table:
        raise inv.bad_args("must specify 'table'")
    _send(
        inv,
        op=pb().SchemaOp.Value(ops[op_word]),
        task=name,
        sources=inv.sources,
        database=database,
        table=table,
        schema=schema.decode(errors="replace"),
        flush=inv.flags.bool("flush"),
        sync=inv.flags.bool("sync"),
        fromSource=False,
        fromTarget=False,
    )


def schema_list(inv: Invocation) -> None:
    if len(inv.args) < 3:
        raise inv.show_help()
    _send(
        inv,
        op=pb().SchemaOp.Value("GetSchema"),
        task=task_name(inv.args[0]),
        sources=inv.sources,
        database=inv.args[1],
        table=inv.args[2],
    )


def schema_update(inv: Invocation) -> None:
    if len(inv.args) < 3:
        raise inv.show_help()
    from_source, from_target = inv.flags.bool("from-source"), inv.flags.bool("from-target")
    if from_source and from_target:
        inv.println("from-source and from-target can not be used together")
        raise CtlError("please check output to see error", exit_code=2)
    if not from_source and not from_target and len(inv.args) < 4:
        raise inv.show_help()
    if len(inv.args) == 4 and (from_source or from_target):
        inv.println("can not set schema-file when use from-source or from-target")
        raise CtlError("please check output to see error", exit_code=2)
    name = task_name(inv.args[0])
    schema = b"" if (from_source or from_target) else read_file(inv.args[3])
    _send(
        inv,
        op=pb().SchemaOp.Value("SetSchema"),
        task=name,
        sources=inv.sources,
        database=inv.args[1],
        table=inv.args[2],
        schema=schema.decode(errors="replace"),
        flush=inv.flags.bool("flush"),
        sync=inv.flags.bool("sync"),
        fromSource=from_source,
        fromTarget=from_target,
    )


def schema_delete(inv: Invocation) -> None:
    if len(inv.args) < 3:
        raise inv.show_help()
    _send(
        inv,
        op=pb().SchemaOp.Value("RemoveSchema"),
        task=task_name(inv.args[0]),
        sources=inv.sources,
        database=inv.args[1],
        table=inv.args[2],
    )


def operate_schema_commands() -> list[Command]:
    return [
        Command(
            use="operate-schema <operate-type> <-s source ...> <task-name | task-file> <-d database> "
            "<-t table> [schema-file] [--flush] [--sync]",
            short="`get`/`set`/`remove` the schema for an upstream table",
            run=operate_schema,
            rpc="OperateSchema",
            hidden=True,
            positionals=("choice:get,set,remove", "task", "file"),
            flags=(
                string_flag("database", "database name of the table", "d"),
                string_flag("table", "table name", "t"),
                flush_flag(),
                sync_flag(),
            ),
        )
    ]


def binlog_schema_commands() -> list[Command]:
    cmd = Command(use="binlog-schema <command>", short="manage or show table schema in schema tracker")
    cmd.add(
        Command(
            use="update <task-name> <database> <table> [schema-file]",
            short="update tables schema structure",
            run=schema_update,
            rpc="OperateSchema",
            positionals=("task", "text", "text", "file"),
            flags=(
                flush_flag(),
                sync_flag(),
                bool_flag(
                    "from-source",
                    "use the schema from upstream database as the schema of the specified tables",
                ),
                bool_flag(
                    "from-target",
                    "use the schema from downstream database as the schema of the specified tables",
                ),
            ),
        ),
        Command(
            use="delete <task-name> <database> <table>",
            short="delete table schema structure",
            run=schema_delete,
            rpc="OperateSchema",
            positionals=("task", "text", "text"),
        ),
        Command(
            use="list <task-name> <database> <table>",
            short="show table schema structure",
            run=schema_list,
            rpc="OperateSchema",
            positionals=("task", "text", "text"),
        ),
    )
    return [cmd]
