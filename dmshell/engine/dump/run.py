"""One dump pass over one consistent snapshot, shared by the dump unit and the full-copy unit.

:meth:`DumpRun.open` takes the snapshot (:mod:`dmshell.engine.dump.snapshot`) and, inside it, lists
the allowed tables and views (system schemas and the meta schema skipped) and describes every
table. :meth:`DumpRun.dump` then asks a *planner* for each table's chunks — key ranges found by
walking the key (:func:`dmshell.engine.dump.plan.split`), or the ranges of an interrupted copy —
on the first connection, while the other sessions already write the chunks planned so far; the
first connection joins them once everything is planned. Each finished chunk (its files durable) is
handed to ``on_chunk``; a ``gate`` may hold a session back before it starts a chunk (the full copy
bounds the dump directory that way).

Sessions are threads of this process, or — for big dumps on machines with several cores, where
the per-row work of one interpreter is the limit — dump worker processes
(:mod:`dmshell.engine.dump.proc`): exec'd, never forked, one snapshot connection each.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.dump import chunks, proc
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump import plan as dump_plan
from dmshell.engine.dump.options import DumpOptions
from dmshell.engine.dump.plan import TablePlan, ViewPlan
from dmshell.engine.dump.snapshot import ChunkRequest, Session, Snapshot, take_snapshot
from dmshell.engine.unit import UnitContext

log = logging.getLogger(__name__)

#: dumps whose tables hold at least this many bytes (``DATA_LENGTH``) use worker processes (below,
#: starting them costs more than they save)...
PROCESS_MIN_BYTES = 64 << 20
#: ...on machines with at least this many cores: the servers need cores too (the source renders
#: the rows, the target loads them meanwhile), and on 2 cores one interpreter keeps up with them
#: (measured: 1M rows dump in ~1.8 s with threads, ~2.3 s with processes)
PROCESS_MIN_CORES = 4

#: a table's chunks: (chunk index, WHERE) pairs
Chunks = list[tuple[int, str]]
Planner = Callable[[db.Connection, TablePlan], Chunks]
OnChunk = Callable[[TablePlan, int, list[dumpfiles.ChunkMeta]], None]
#: blocks a session before it starts a chunk; False = give up (the run is stopping)
Gate = Callable[[Callable[[], bool]], bool]


class Allow(Protocol):
    """Which tables and schemas are dumped (a block-allow list, or dumpling's table filter)."""

    def allow_table(self, schema: str, table: str) -> bool: ...
    def allow_schema(self, schema: str) -> bool: ...


@dataclass(slots=True)
class _Job:
    plan: TablePlan
    index: int
    where: str


class DumpRun:
    """A snapshot, what it holds, and the writing of its chunks. Thread-safe progress counters."""

    def __init__(self, ctx: UnitContext, opts: DumpOptions, ba: Allow, stop: threading.Event) -> None:
        self.ctx, self.opts, self.ba, self.stop = ctx, opts, ba, stop
        self.snapshot: Snapshot | None = None
        self.schemas: list[str] = []
        self.plans: list[TablePlan] = []
        self.views: list[ViewPlan] = []
        self.abort = threading.Event()
        self._lock = threading.Lock()
        self.finished_rows = self.finished_bytes = self.estimate_rows = 0
        self.completed_tables = 0
        self._chunks_left: dict[tuple[str, str], int] = {}

    # -- the snapshot ----------------------------------------------------------------------------
    def open(self) -> Snapshot:
        """Take the snapshot; list and describe what it holds."""
        cfg, opts = self.ctx.cfg, self.opts
        listed: dict[str, list] = {}

        def list_objects(conn: db.Connection) -> list[tuple[str, str]]:
            listed["schemas"], listed["tables"], views = dump_plan.list_objects(
                conn,
                self.ba.allow_table,
                self.ba.allow_schema,
                cfg.meta_schema,
            )
            listed["views"] = [] if opts.no_views else views
            return [(t.schema, t.table) for t in listed["tables"]]

        open_others = proc.open_sessions if self._use_processes() else None
        self.snapshot = snap = take_snapshot(
            self.ctx.source.from_db,
            opts.threads,
            self.ctx.source.flavor,
            opts.consistency,
            list_objects,
            open_others,
        )
        log.info(
            "dump of source %s: consistency %s, location %s, %s",
            cfg.source_id,
            snap.consistency,
            snap.location,
            "worker processes" if open_others else "threads",
        )
        self.schemas, self.plans, self.views = listed["schemas"], listed["tables"], listed["views"]
        for plan in self.plans:
            run(lambda p=plan: dump_plan.describe(snap.conn, p), f"describe {plan.schema}.{plan.table}")
        with self._lock:
            self.estimate_rows = sum(p.est_rows for p in self.plans)
        return snap

    def keep(self, tables: set[tuple[str, str]]) -> None:
        """Dump only ``tables`` of those listed."""
        self.plans = [p for p in self.plans if (p.schema, p.table) in tables]
        with self._lock:
            self.estimate_rows = sum(p.est_rows for p in self.plans)

    def _use_processes(self) -> bool:
        """Worker processes for several sessions, enough cores and a big enough dump: the source's
        user tables hold at least :data:`PROCESS_MIN_BYTES` (a cheap estimate taken before the
        snapshot, over every user schema)."""
        if self.opts.threads < 2 or _cores() < PROCESS_MIN_CORES:
            return False
        try:
            conn = db.connect(self.ctx.source.from_db)
        except errors.DMError:
            return False  # the snapshot reports the problem
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT COALESCE(SUM(DATA_LENGTH), 0) FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')"
                )
                row = cur.fetchone()
                return row is not None and int(row[0]) >= PROCESS_MIN_BYTES
        except pymysql.err.MySQLError:
            return False
        finally:
            conn.close()

    def close(self) -> None:
        if self.snapshot is not None:
            self.snapshot.close()
            self.snapshot = None

    # -- schema files ----------------------------------------------------------------------------
    def write_schema_files(self) -> dumpfiles.DumpMetadata:
        """Write the schema files; the dump's metadata without chunks (``dump_id`` and times unset)."""
        snap = self.snapshot
        assert snap is not None
        meta = dumpfiles.DumpMetadata(
            dump_id="",
            source_id=self.ctx.cfg.source_id,
            flavor=snap.flavor,
            consistency=snap.consistency,
            location=snap.location,
            started_at="",
            finished_at="",
        )
        conn = snap.conn
        for schema in self.schemas:
            sql = run(
                lambda s=schema: dump_plan.show_create_database(conn, s), f"show create database {schema}"
            )
            name = dumpfiles.schema_create_file(schema)
            self.write_file(name, sql + ";\n")
            meta.schemas.append(dumpfiles.SchemaMeta(schema, name))
        for view in self.views:
            sql = run(
                lambda v=view: dump_plan.show_create_view(conn, v),
                f"show create view {view.schema}.{view.name}",
            )
            name = dumpfiles.view_schema_file(view.schema, view.name)
            self.write_file(name, sql + ";\n")
            meta.views.append(dumpfiles.ViewMeta(view.schema, view.name, name))
        for plan in self.plans:
            name = dumpfiles.table_schema_file(plan.schema, plan.table)
            self.write_file(name, plan.create_sql + ";\n")
            meta.tables.append(dumpfiles.TableMeta(plan.schema, plan.table, name, plan.column_meta()))
        return meta

    def write_file(self, name: str, text: str) -> None:
        try:
            with open(self.ctx.dump_dir / name, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise chunks.file_error(f"write {name}", exc) from exc

    # -- the chunks ------------------------------------------------------------------------------
    def dump(self, planner: Planner, on_chunk: OnChunk, gate: Gate | None = None) -> bool:
        """Plan every table (``planner`` on the first connection) and write the planned chunks over
        every session. True when all were written, False when stopped. Raises the first failure."""
        snap = self.snapshot
        assert snap is not None
        work: queue.Queue[_Job | None] = queue.Queue()
        failures: list[BaseException] = []
        sid = self.ctx.cfg.source_id
        workers = [
            threading.Thread(
                target=self._worker,
                args=(session, work, on_chunk, gate, failures),
                name=f"dump-{sid}-{i + 1}",
                daemon=True,
            )
            for i, session in enumerate(snap.sessions[1:])
        ]
        for t in workers:
            t.start()
        try:
            for plan in self.plans:
                if self.stopping():
                    break
                planned = planner(snap.conn, plan)
                with self._lock:
                    self._chunks_left[(plan.schema, plan.table)] = len(planned)
                    if not planned:
                        self.completed_tables += 1
                    # the statistics may lag behind (a fresh table shows 0 rows): the chunks know better
                    at_least = (len(plan.chunks) - 1) * self.opts.rows
                    self.estimate_rows += max(0, at_least - plan.est_rows)
                for index, where in planned:
                    work.put(_Job(plan, index, where))
        except BaseException as exc:
            self.abort.set()
            failures.append(exc)
        finally:
            for _ in workers:
                work.put(None)
        if not failures:
            work.put(None)
            self._worker(snap.sessions[0], work, on_chunk, gate, failures)  # the planning session joins in
        for t in workers:
            t.join()
        if failures:
            raise failures[0]
        return not self.stopping()

    def progress(self) -> tuple[int, int, int, int]:
        """(finished rows, finished bytes, estimated rows, completed tables)."""
        with self._lock:
            return self.finished_rows, self.finished_bytes, self.estimate_rows, self.completed_tables

    def stopping(self) -> bool:
        return self.stop.is_set() or self.abort.is_set()

    def _worker(
        self,
        session: Session,
        work: queue.Queue[_Job | None],
        on_chunk: OnChunk,
        gate: Gate | None,
        failures: list[BaseException],
    ) -> None:
        while True:
            job = work.get()
            if job is None:
                return
            if self.stopping() or (gate is not None and not gate(self.stopping)):
                continue  # drain the queue up to our sentinel
            try:
                files = session.dump_chunk(self._request(job), self.stopping, self._count)
                on_chunk(job.plan, job.index, files)
            except chunks.Stopped:
                continue
            except BaseException as exc:
                self.abort.set()
                failures.append(exc)
                continue
            with self._lock:
                key = (job.plan.schema, job.plan.table)
                self._chunks_left[key] -= 1
                if self._chunks_left[key] == 0:
                    self.completed_tables += 1

    def _request(self, job: _Job) -> ChunkRequest:
        where, extra = job.where, self.opts.where
        if extra:
            where = f"({where}) AND ({extra})" if where else extra
        plan = job.plan
        return ChunkRequest(
            sql=plan.select_sql(where),
            where=where,
            dump_dir=str(self.ctx.dump_dir),
            schema=plan.schema,
            table=plan.table,
            index=job.index,
            filesize=self.opts.filesize,
            what=f"dump {plan.schema}.{plan.table} chunk {job.index}",
        )

    def _count(self, rows: int, size: int) -> None:
        with self._lock:
            self.finished_rows += rows
            self.finished_bytes += size


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def split_planner(rows: int, stop: threading.Event, unique_only: bool = False) -> Planner:
    """The planner of a fresh dump: split on the chosen key every ``rows`` rows (with
    ``unique_only``, tables without a primary or NOT NULL unique key stay one chunk)."""

    def planner(conn: db.Connection, plan: TablePlan) -> Chunks:
        if unique_only and not plan.key_unique:
            plan.chunks = [""]
        else:
            run(
                lambda: dump_plan.split(conn, plan, rows, stop),
                f"split {plan.schema}.{plan.table} into chunks",
            )
        return list(enumerate(plan.chunks))

    return planner


def run(fn, what: str):
    """``fn()``, its MySQL errors turned into dump errors."""
    try:
        return fn()
    except pymysql.err.MySQLError as exc:
        raise chunks.dump_error(exc, what) from exc
