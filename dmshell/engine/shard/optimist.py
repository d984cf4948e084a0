"""The sync unit's coordinator for ``shard-mode: optimistic`` (see :mod:`.optimism` for the rules).

When a run starts, every shard table of the source is registered with the keeper (its structure
as the schema tracker has it). Each ``ALTER TABLE`` of a shard then asks the keeper whether its one
schema change runs downstream now or is skipped; nothing is held back, rows always apply.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.shard.lock import EXEC
from dmshell.engine.shard.optimism import Conflict, Structure, change_of, conflict_error, structure_of
from dmshell.engine.shard.pessimist import CREATE_KINDS, IGNORED_KINDS, SYSTEM_SCHEMAS
from dmshell.engine.sync.coordinator import DDLJob, Verdict
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)


class OptimisticClient(Protocol):
    def register(self, target: tuple[str, str], shards: list[str]) -> None: ...

    def decide(
        self,
        target: tuple[str, str],
        shard: str,
        change: tuple[str, str, str],
        before: Structure,
        strict: bool,
    ) -> str:
        """``exec`` or ``skip``; raises :class:`Conflict` (or ``ConnectionError``)."""
        ...


def _name(schema: str, table: str) -> str:
    return f"`{schema}`.`{table}`"


class OptimisticCoordinator:
    def __init__(self, task: str, source: str, client: OptimisticClient, strict: bool = False) -> None:
        self.task, self.source, self.client, self.strict = task, source, client, strict
        self.registered: set[tuple[str, str]] = set()
        self.run: Any = None
        #: the shard whose change conflicted, and why (``blockDDLOwner`` / ``conflictMsg``)
        self.conflict: tuple[str, str] | None = None

    def attach(self, run: Any) -> None:
        self.run, self.registered, self.conflict = run, set(), None
        sql = (
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' "
            f"AND TABLE_SCHEMA NOT IN ({', '.join(repr(s) for s in SYSTEM_SCHEMAS)})"
        )
        try:
            with run.up.cursor() as cur:
                cur.execute(sql)
                tables = cur.fetchall()
        except pymysql.MySQLError as exc:
            raise db.classify(exc, sql) from exc
        shards: dict[tuple[str, str], list[str]] = {}
        for schema, table in tables:
            if run.balist.allow_table(schema, table):
                shards.setdefault(run.router.route(schema, table), []).append(_name(schema, table))
                self.registered.add((schema, table))
        for target, names in shards.items():
            self.call(lambda t=target, n=names: self.client.register(t, n))

    def register(self, schema: str, table: str) -> None:
        """A shard table the run did not see at its start (created since)."""
        self.call(lambda: self.client.register(self.run.router.route(schema, table), [_name(schema, table)]))
        self.registered.add((schema, table))

    def call(self, fn: Any) -> Any:
        try:
            return fn()
        except ConnectionError as exc:
            raise errors.ErrMasterGRPCRequestError(cause=str(exc)) from exc

    def holds(self, schema: str, table: str) -> bool:
        return False

    def hold(self, schema: str, table: str, replay: Any) -> None:
        replay()  # (never asked: nothing is held)

    def after(self, job: DDLJob) -> None:
        return None  # nothing held

    def coordinate(self, job: DDLJob) -> Verdict:
        ddl = job.ddl
        if ddl.kind in CREATE_KINDS:
            return Verdict.EXECUTE
        if ddl.kind in IGNORED_KINDS:
            log.info("shard DDL ignored in optimistic mode: %s", ddl.sql)
            return Verdict.SKIP
        names = [n for n, _t in job.targets if n.table]
        if len(names) != 1:
            raise errors.ErrSyncerUnitDDLOnMultipleTable(ddl.sql)
        schema, table = names[0].schema, names[0].table
        target = job.targets[0][1]
        shard = _name(schema, table)
        changes = [change_of(ddl.kind, a) for a in ddl.actions] if ddl.kind == "alter table" else [None]
        if len(changes) != 1 or changes[0] is None:
            self.refuse(
                shard,
                ddl.sql,
                "only one added or dropped column or index per statement is merged " "optimistically",
            )
        change = changes[0]
        assert change is not None
        if (schema, table) not in self.registered:
            self.register(schema, table)
        info = self.run.tracker.get(schema, table)
        if info is None:
            self.refuse(shard, ddl.sql, "the structure of the shard before the change is unknown")
        before = structure_of(info)
        try:
            action = self.call(lambda: self.client.decide(target, shard, change, before, self.strict))
        except Conflict as exc:
            self.refuse(shard, ddl.sql, str(exc))
        log.info("optimistic shard DDL %s: %s", action, ddl.sql)
        return Verdict.EXECUTE if action == EXEC else Verdict.SKIP

    def refuse(self, shard: str, sql: str, msg: str) -> None:
        self.conflict = (f"{self.source}-{shard}", msg)
        raise conflict_error(sql, msg)

    def fill_status(self, st: pb.SyncStatus) -> None:
        if self.conflict is not None:
            st.blockDDLOwner, st.conflictMsg = self.conflict
