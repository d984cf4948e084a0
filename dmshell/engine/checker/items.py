"""The check-item registry and the context items run in.

A check item is a function registered with :func:`check_item`; the runner calls it once per source
of the task (``per="source"``) or once per task (``per="task"``), in registration order, and names
its :class:`~dmshell.engine.checker.result.Result` after the item::

    @check_item("mysql_binlog_format", "check whether mysql binlog_format is ROW", ignore="binlog_format")
    def binlog_format(ctx: CheckContext, source: str) -> Result:
        with ctx.source(source).cursor() as cur:
            cur.execute("SELECT @@global.binlog_format")
            (value,) = cur.fetchone()
        if value != "ROW":
            return Result.fail(f"binlog_format is {value}, and should be ROW",
                               instruction="please execute 'set global binlog_format=ROW;'")
        return Result.success()

``ignore`` is the ``ignore-checking-items`` value that turns the item off (DM's
``config/checking_item.go``); ``modes`` the task modes it applies to (DM picks items by task mode).
An ``init`` item is DM's checker ``Init`` (opening the databases): it does not report a result
but raises :class:`~dmshell.engine.errors.DMError` when the check cannot proceed at all.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal

import pymysql

from dmshell.engine import errors
from dmshell.engine.checker.result import Result
from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import TASK_MODES
from dmshell.engine.config.task import TaskConfig
from dmshell.engine.db import connect

CheckFn = Callable[["CheckContext", str], Result]
#: seconds to wait for a database to answer during a check
CONNECT_TIMEOUT = 5


@dataclass(frozen=True, slots=True)
class CheckItem:
    name: str
    desc: str
    fn: CheckFn
    ignore: str = ""
    per: Literal["source", "task"] = "source"
    modes: frozenset[str] = frozenset(TASK_MODES)
    init: bool = False


#: every check item, in the order they run
REGISTRY: list[CheckItem] = []


def check_item(
    name: str,
    desc: str,
    *,
    ignore: str = "",
    per: Literal["source", "task"] = "source",
    modes: frozenset[str] = frozenset(TASK_MODES),
    init: bool = False,
) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn(ctx, source_id) -> Result`` as a check item (``source_id`` is "" for a task item)."""

    def register(fn: CheckFn) -> CheckFn:
        if any(item.name == name for item in REGISTRY):
            raise ValueError(f"duplicate check item {name}")
        REGISTRY.append(CheckItem(name, desc, fn, ignore, per, modes, init))
        return fn

    return register


@dataclass(slots=True)
class CheckContext:
    """What items see: the task, its sources' configurations, and database connections opened once
    and shared by every item (closed by the runner)."""

    task: TaskConfig
    sources: dict[str, SourceConfig]
    _conns: dict[tuple[str, str], pymysql.connections.Connection] = field(default_factory=dict)

    def target(self) -> pymysql.connections.Connection:
        return self._open("target", "", self.task.target, errors.Scope.DOWNSTREAM)

    def source(self, source_id: str) -> pymysql.connections.Connection:
        return self._open("source", source_id, self.sources[source_id].from_db, errors.Scope.UPSTREAM)

    def _open(self, kind: str, key: str, db: DBConfig, scope: errors.Scope) -> pymysql.connections.Connection:
        conn = self._conns.get((kind, key))
        if conn is None:
            try:
                conn = connect(db, connect_timeout=CONNECT_TIMEOUT)
            except errors.DMError as exc:
                cause = exc.__cause__ or exc.cause
                err = errors.ErrTaskCheckFailedOpenDB(db.user, db.host, db.port, cause=cause)
                raise with_scope(err, scope) from exc
            self._conns[(kind, key)] = conn
        return conn

    def close(self) -> None:
        for conn in self._conns.values():
            with contextlib.suppress(Exception):
                conn.close()
        self._conns.clear()


def with_scope(err: errors.DMError, scope: errors.Scope) -> errors.DMError:
    """DM's ``terror.WithScope``: the same error reported for the upstream or the downstream."""
    return errors.DMError(replace(err.entry, scope=scope), err.message, err.cause, err.workaround)
