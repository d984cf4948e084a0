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
but raises :class:`~dmshell.engine.errors.DMError` when the check cannot proceed at all. An item
may return several results (one per target table, say): each then carries its own name
(:meth:`Result.named`). A ``server`` item needs only the source server, not a task: the TUI's
new-source form runs those (:func:`~dmshell.engine.checker.server.check_server`).

Items of different sources run at the same time (one thread per source, another for the task
items), so :class:`CheckContext` gives every thread its own connections.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from dmshell.engine import db, errors
from dmshell.engine.checker.result import Result
from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import TASK_MODES, SubTaskConfig
from dmshell.engine.config.task import TaskConfig
from dmshell.engine.db import connect

CheckFn = Callable[["CheckContext", str], "Result | list[Result]"]
T = TypeVar("T")
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
    server: bool = False


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
    server: bool = False,
) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn(ctx, source_id) -> Result`` as a check item (``source_id`` is "" for a task item)."""

    def register(fn: CheckFn) -> CheckFn:
        if any(item.name == name for item in REGISTRY):
            raise ValueError(f"duplicate check item {name}")
        REGISTRY.append(CheckItem(name, desc, fn, ignore, per, modes, init, server))
        return fn

    return register


@dataclass(slots=True)
class CheckContext:
    """What items see: the task (``None`` for the server-only checks of a new source), its sources'
    configurations, database connections opened once per thread (closed by the runner) and
    :meth:`memo`, facts fetched once and shared by every item."""

    task: TaskConfig | None
    sources: dict[str, SourceConfig]
    timeout: float = CONNECT_TIMEOUT  #: seconds to wait for a database to answer
    _conns: dict[tuple[str, str, int], db.Connection] = field(default_factory=dict)
    _memo: dict[tuple[str, ...], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def cfg(self) -> TaskConfig:
        """The task (items that need one are never run without one)."""
        if self.task is None:
            raise RuntimeError("this check item needs a task")
        return self.task

    def target(self) -> db.Connection:
        return self._open("target", "", self.cfg.target, errors.Scope.DOWNSTREAM)

    def source(self, source_id: str) -> db.Connection:
        return self._open("source", source_id, self.sources[source_id].from_db, errors.Scope.UPSTREAM)

    def subtask(self, source_id: str) -> SubTaskConfig:
        """The task as ``source_id`` sees it (its rules resolved, the source's settings applied)."""
        return self.memo(("subtask", source_id), lambda: self.cfg.subtask(source_id, self.sources[source_id]))

    def memo(self, key: tuple[str, ...], compute: Callable[[], T]) -> T:
        """``compute()`` once per key for every item and thread (two threads may both compute it;
        the first answer is kept)."""
        with self._lock:
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._lock:
            return self._memo.setdefault(key, value)

    def _open(self, kind: str, key: str, cfg: DBConfig, scope: errors.Scope) -> db.Connection:
        slot = (kind, key, threading.get_ident())
        with self._lock:
            conn = self._conns.get(slot)
        if conn is None:
            try:
                conn = connect(cfg, connect_timeout=self.timeout)
            except errors.DMError as exc:
                cause = exc.__cause__ or exc.cause
                err = errors.ErrTaskCheckFailedOpenDB(cfg.user, cfg.host, cfg.port, cause=cause)
                raise errors.with_scope(err, scope) from exc
            with self._lock:
                self._conns[slot] = conn
        return conn

    def close(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            with contextlib.suppress(Exception):
                conn.close()


def query(conn: db.Connection, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (text values decoded)."""
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return [
            tuple(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in row) for row in cur
        ]
