"""The sync unit's coordinator for ``shard-mode: pessimistic`` (DM's sharding groups, level 2, and
the worker side of the master's lock, level 1; manual §8).

Per target table a *shard group*: every upstream table of this source routed to it (found on the
upstream when a run starts, joined by tables created later). A DDL on one shard *holds* that shard:
its later rows are kept (not applied) while the other shards go on. The DDLs every shard reaches,
in order, form the group's sequence; a shard reaching another DDL at the same place is refused with
DM's ``detect inconsistent DDL sequence``. When the last shard of the source reaches the first DDL
of the sequence, the source reports it to the lock keeper (the master) and the stream waits for the
verdict: the lock's owner executes the DDL, the others skip it; then the held rows of every shard
that were read after its DDL (and before its next one) are applied, and those shards go on.

Crash safety: while anything is held, the checkpoint is not written past the start of the group's
first pending DDL (:attr:`~dmshell.engine.sync.flusher.Flusher.cap`), so a restart re-reads the held
shards' changes from there (the other shards' replayed changes are applied again, idempotently in
the safe mode of a restart) and rebuilds the groups; the master's lock survives in its store. A
source tells the keeper it is done with a DDL only once its checkpoint is past it, so a replay never
meets a lock that is gone.

Schema-level and table-level drops and ``TRUNCATE`` on a shard are ignored (as DM's pessimistic
mode), ``CREATE`` executes at once (idempotent, ``IF NOT EXISTS``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.shard.client import LockClient
from dmshell.engine.shard.lock import EXEC, WAIT, lock_id
from dmshell.engine.shard.meta import ShardingMeta
from dmshell.engine.sync.apply import Aborted
from dmshell.engine.sync.coordinator import DDLJob, Verdict
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

#: seconds between two reports while the lock is not resolved
POLL = 0.3
#: DDL kinds a shard group ignores (DM: dropping or truncating a shard is not merged downstream)
IGNORED_KINDS = frozenset({"drop table", "drop database", "truncate table"})
CREATE_KINDS = frozenset({"create database", "create table"})
SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")

Key = tuple[str, str]


@dataclass
class Pending:
    """A DDL a shard reached and the group has not resolved yet."""

    ddls: list[str]  # the target statements (equal across shards after routing)
    start: Location
    end: Location
    since: float = field(default_factory=time.time)


@dataclass
class Member:
    """One shard table of a group."""

    queue: list[Pending] = field(default_factory=list)
    #: rows read after each pending DDL (segment i: after DDL i, before DDL i+1), to apply later
    segments: list[list[Callable[[], None]]] = field(default_factory=list)

    @property
    def held(self) -> bool:
        return bool(self.queue)


@dataclass
class Group:
    """The shards of this source routed to one target table."""

    target: Key
    members: dict[Key, Member] = field(default_factory=dict)
    sequence: list[list[str]] = field(default_factory=list)  # pending DDLs, in the order reached
    lock: str = ""  # the master's lock ID while the source waits on it

    def first_start(self) -> Location | None:
        starts = [m.queue[0].start for m in self.members.values() if m.queue]
        return min(starts) if starts else None


def _name(key: Key) -> str:
    return f"`{key[0]}`.`{key[1]}`"


class PessimisticCoordinator:
    """``DDLCoordinator`` for pessimistic shard merging (see the module docstring).

    ``client``: the lock keeper's. :meth:`attach` binds a run (called by the run's set-up).
    """

    def __init__(self, task: str, source: str, client: LockClient) -> None:
        self.task, self.source, self.client = task, source, client
        self.groups: dict[Key, Group] = {}
        self.held: dict[Key, Member] = {}
        self.route: Callable[[str, str], Key] = lambda s, t: (s, t)
        self.stop: Any = None  # the run's stop event
        self.meta: ShardingMeta | None = None  # shard progress on the target (set by attach)
        #: DDLs resolved here, to report done once the checkpoint is past their end
        self.finished: list[tuple[Key, list[str], Location]] = []

    # -- the run ------------------------------------------------------------------------------
    def attach(self, run: Any) -> None:
        """A run starts (from the checkpoint): groups are rebuilt from the upstream's tables."""
        self.groups, self.held, self.finished = {}, {}, []
        self.route, self.stop = run.router.route, run.stop
        self.meta = ShardingMeta(run.tgt, run.cfg.meta_schema, self.task, self.source)
        run.flusher.cap = self.cap
        run.flusher.on_flushed = self.flushed
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
        for schema, table in tables:
            if run.balist.allow_table(schema, table):
                self.member((schema, table))

    def member(self, key: Key) -> tuple[Group, Member]:
        target = self.route(*key)
        group = self.groups.setdefault(target, Group(target))
        m = group.members.get(key)
        if m is None:
            m = group.members[key] = Member()
            # a shard created while DDLs are pending has the latest structure: it reached them
            for ddls in group.sequence:
                self.reach(group, key, m, Pending(ddls, Location("", 0), Location("", 0)))
        return group, m

    def cap(self) -> Location | None:
        starts = [s for g in self.groups.values() if (s := g.first_start()) is not None and s.file]
        return min(starts) if starts else None

    def flushed(self, point: Location) -> None:
        keep = []
        for target, ddls, end in self.finished:
            if end <= point:
                try:
                    self.client.done(target, ddls)
                    continue
                except ConnectionError as exc:
                    log.warning("shard DDL done on %s not reported yet: %s", _name(target), exc)
            keep.append((target, ddls, end))
        self.finished = keep

    # -- DDLCoordinator ---------------------------------------------------------------------------
    def holds(self, schema: str, table: str) -> bool:
        return (schema, table) in self.held

    def hold(self, schema: str, table: str, replay: Callable[[], None]) -> None:
        self.held[(schema, table)].segments[-1].append(replay)

    def coordinate(self, job: DDLJob) -> Verdict:
        kind = job.ddl.kind
        if kind in CREATE_KINDS:
            for name, _target in job.targets:
                if name.table:
                    self.member((name.schema, name.table))
            return Verdict.EXECUTE
        if kind in IGNORED_KINDS:
            if kind != "truncate table":
                self.leave(job)
            log.info("shard DDL ignored in pessimistic mode: %s", job.ddl.sql)
            return Verdict.SKIP
        names = [n for n, _t in job.targets if n.table]
        if len(names) != 1:
            raise errors.ErrSyncerUnitDDLOnMultipleTable(job.ddl.sql)
        key = (names[0].schema, names[0].table)
        group, m = self.member(key)
        self.reach(group, key, m, Pending(list(job.statements), job.start, job.end))
        self.save(group)
        if any(not mm.queue for mm in group.members.values()) or len(m.queue) > 1:
            log.info("shard %s holds at DDL %s (waiting for the other shards)", _name(key), job.statements)
            return Verdict.SKIP
        return self.wait_lock(group)

    def leave(self, job: DDLJob) -> None:
        """Dropped shards leave their groups; not while their group has DDLs pending (DM's 36006)."""
        dropped = {(n.schema, n.table) for n, _t in job.targets if n.table}
        schemas = {n.schema for n, _t in job.targets if not n.table}
        for group in self.groups.values():
            gone = [k for k in group.members if k in dropped or k[0] in schemas]
            if gone and group.sequence:
                raise errors.ErrSyncUnitDropSchemaTableInSharding(
                    [_name(k) for k in gone], group.sequence[0], group.sequence
                )
            for key in gone:
                del group.members[key]

    def reach(self, group: Group, key: Key, m: Member, p: Pending) -> None:
        i = len(m.queue)
        if i < len(group.sequence) and group.sequence[i] != p.ddls:
            raise errors.ErrSyncUnitDDLWrongSequence(
                f"[first-location: {p.start} ddls: {p.ddls} source: {_name(key)}]",
                f"[first-location: {group.first_start()} ddls: {group.sequence[i]}]",
            )
        if i >= len(group.sequence):
            group.sequence.append(p.ddls)
        m.queue.append(p)
        m.segments.append([])
        self.held[key] = m

    def wait_lock(self, group: Group) -> Verdict:
        """Every shard of the source reached the group's first DDL: the master's verdict."""
        ddls = group.sequence[0]
        while True:
            try:
                group.lock, action = self.client.report(group.target, ddls)
            except ConnectionError as exc:
                log.warning("shard DDL lock of %s: %s; retrying", _name(group.target), exc)
                action = WAIT
            if action != WAIT:
                break
            if self.stop is not None and self.stop.is_set():
                raise Aborted()
            time.sleep(POLL)
        log.info("shard DDL lock %s: %s %s", group.lock, action, ddls)
        return Verdict.EXECUTE if action == EXEC else Verdict.SKIP

    def after(self, job: DDLJob) -> None:
        """The first DDL of a group was executed or skipped: release what was held behind it."""
        names = [n for n, _t in job.targets if n.table]
        if len(names) != 1 or job.ddl.kind in CREATE_KINDS | IGNORED_KINDS:
            return
        group = self.groups[self.route(names[0].schema, names[0].table)]
        if not group.sequence or any(not m.queue for m in group.members.values()):
            return  # a shard holding (its DDL skipped for now)
        ddls = group.sequence.pop(0)
        group.lock = ""
        for key, m in group.members.items():
            m.queue.pop(0)
            for replay in m.segments.pop(0):
                replay()
            if not m.queue:
                self.held.pop(key, None)
        self.finished.append((group.target, ddls, job.end))
        self.save(group)

    def save(self, group: Group) -> None:
        """The group's progress into the sharding meta table."""
        if self.meta is None:
            return
        members = [
            (
                _name(k),
                [{"ddls": p.ddls, "first-location": str(p.start), "source": _name(k)} for p in m.queue],
            )
            for k, m in sorted(group.members.items())
            if m.queue
        ]
        self.meta.save(_name(group.target), group.sequence, members)

    # -- status -----------------------------------------------------------------------------------
    @property
    def unresolved_lock_id(self) -> str:
        return next((g.lock for g in self.groups.values() if g.lock), "")

    def fill_status(self, st: pb.SyncStatus) -> None:
        for g in self.groups.values():
            if not g.sequence:
                continue
            synced = sorted(_name(k) for k, m in g.members.items() if m.queue)
            unsynced = sorted(_name(k) for k, m in g.members.items() if not m.queue)
            if not unsynced:
                st.blockingDDLs.extend(g.sequence[0])
            first = g.first_start()
            st.unresolvedGroups.add(
                target=_name(g.target),
                DDLs=g.sequence[0],
                firstLocation=str(first) if first else "",
                synced=synced,
                unsynced=unsynced,
            )

    def lock_id(self, target: Key) -> str:
        return lock_id(self.task, *target)
