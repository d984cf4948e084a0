"""The dump unit: a consistent snapshot of the allowed upstream tables, written to the dump directory.

Flow: take a snapshot over ``mydumper.threads`` connections (:mod:`dump_snapshot`), list the tables
allowed by the block-allow list (system schemas and the meta schema skipped), write every schema
file, split big tables into primary-key ranges (:mod:`dump_plan`) and dump the chunks in parallel,
one file per chunk (format: :mod:`dumpfiles`), then write ``metadata`` last and atomically. A run
that finds no complete dump (no ``metadata``, or data files already cleaned by the load unit) wipes
the directory and starts over.

Not dumped (yet): views, sequences, system-versioned tables, triggers, routines and events;
generated columns are omitted from the data (the target recomputes them).
"""

from __future__ import annotations

import datetime
import logging
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pymysql
import pymysql.cursors

from dmshell.engine import db, dump_plan, dumpfiles, errors
from dmshell.engine.dump_plan import TablePlan
from dmshell.engine.dump_progress import RateMeter, percent
from dmshell.engine.dump_snapshot import Snapshot, take_snapshot
from dmshell.engine.filters import BAListFilter
from dmshell.engine.unit import Unit, UnitContext
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

_FETCH_ROWS = 1000
_T = TypeVar("_T")


class _Stopped(Exception):
    """Raised inside a chunk writer when the unit is asked to stop."""


class DumpUnit(Unit):
    """DM's dump unit (``pb.Dump``); ``completed()`` = the dump's ``metadata`` file exists."""

    unit_type = pb.Dump

    def __init__(self, ctx: UnitContext) -> None:
        super().__init__(ctx)
        self._lock = threading.Lock()
        self._total_tables = 0
        self._chunks_left: dict[tuple[str, str], int] = {}
        self._completed_tables = 0
        self._finished_bytes = 0
        self._finished_rows = 0
        self._estimate_rows = 0
        self._finished = False
        self._meter = RateMeter()
        self._snapshot: Snapshot | None = None

    # -- Unit ----------------------------------------------------------------------------------
    def completed(self) -> bool:
        """The dump's ``metadata`` exists and so do all its data files.

        Once the load unit has cleaned the data files (``clean-dump-file``) the dump counts as not
        done: the subtask only asks when the load is not finished either (e.g. after
        ``start-task --remove-meta``), and then the dump must be taken again.
        """
        return self._complete_dump() is not None

    def process(self, stop: threading.Event) -> None:
        self._reset()
        dump_dir = self.ctx.dump_dir
        meta = self._complete_dump()
        if meta is not None:
            self._show_finished(meta)
            return
        try:
            if dump_dir.exists():
                shutil.rmtree(dump_dir)  # leftovers of an interrupted dump
            dump_dir.mkdir(parents=True)
        except OSError as exc:
            raise errors.ErrDumpUnitRuntime(f"prepare dump directory {dump_dir}", cause=exc) from exc
        try:
            self._dump(stop)
        finally:
            if self._snapshot is not None:
                self._snapshot.close()
                self._snapshot = None

    def status(self) -> pb.DumpStatus:
        with self._lock:
            finished_bytes = self._finished_bytes
            st = pb.DumpStatus(
                totalTables=self._total_tables,
                completedTables=float(self._completed_tables),
                finishedBytes=float(finished_bytes),
                finishedRows=float(self._finished_rows),
                estimateTotalRows=float(self._estimate_rows),
                progress=percent(self._finished_rows, self._estimate_rows, self._finished),
            )
        st.bps = 0 if self._finished else self._meter.rate(finished_bytes)
        return st

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None

    # -- the dump ------------------------------------------------------------------------------
    def _dump(self, stop: threading.Event) -> None:
        cfg = self.ctx.cfg
        started = _now()
        try:
            ba = BAListFilter(cfg.block_allow_list, cfg.case_sensitive)
        except ValueError as exc:
            raise errors.ErrDumpUnitGenBAList(cause=exc) from exc
        listed: dict[str, object] = {}

        def list_under_lock(conn: pymysql.connections.Connection) -> None:
            listed["schemas"], listed["tables"] = dump_plan.list_tables(
                conn, ba.allow_table, ba.allow_schema, cfg.meta_schema)

        threads = max(1, cfg.mydumper.threads)
        self._snapshot = snap = take_snapshot(self.ctx.source.from_db, threads, self.ctx.source.flavor,
                                              under_lock=list_under_lock)
        log.info("dump of source %s: snapshot method %s, location %s", cfg.source_id, snap.method,
                 snap.location)
        schemas: list[str] = listed["schemas"]  # type: ignore[assignment]
        plans: list[TablePlan] = listed["tables"]  # type: ignore[assignment]
        with self._lock:
            self._total_tables = len(plans)
            self._estimate_rows = sum(p.est_rows for p in plans)

        meta = dumpfiles.DumpMetadata(
            dump_id=uuid.uuid4().hex, source_id=cfg.source_id, flavor=snap.flavor, method=snap.method,
            location=snap.location, started_at=started, finished_at="")
        conn0 = snap.conns[0]
        for schema in schemas:
            sql = _run(lambda s=schema: dump_plan.show_create_database(conn0, s),
                       f"show create database {schema}")
            name = dumpfiles.schema_create_file(schema)
            _write_file(self.ctx.dump_dir / name, sql + ";\n")
            meta.schemas.append(dumpfiles.SchemaMeta(schema, name))

        work: queue.Queue[tuple[TablePlan, int, dumpfiles.ChunkMeta] | None] = queue.Queue()
        abort = threading.Event()
        failures: list[BaseException] = []
        workers = [threading.Thread(target=self._worker, args=(conn, work, stop, abort, failures),
                                    name=f"dump-{cfg.source_id}-{i + 1}", daemon=True)
                   for i, conn in enumerate(snap.conns[1:])]
        for t in workers:
            t.start()
        rows_per_chunk = cfg.mydumper.rows if cfg.mydumper.rows > 0 else dump_plan.DEFAULT_CHUNK_ROWS
        try:
            for plan in plans:
                if stop.is_set() or abort.is_set():
                    break
                self._plan_table(conn0, plan, rows_per_chunk, stop)
                tmeta = dumpfiles.TableMeta(
                    plan.schema, plan.table, dumpfiles.table_schema_file(plan.schema, plan.table),
                    plan.dumped_columns,
                    chunks=[dumpfiles.ChunkMeta(dumpfiles.chunk_file(plan.schema, plan.table, i), where=w)
                            for i, w in enumerate(plan.chunks)])
                meta.tables.append(tmeta)
                with self._lock:
                    self._chunks_left[(plan.schema, plan.table)] = len(plan.chunks)
                for i, chunk in enumerate(tmeta.chunks):
                    work.put((plan, i, chunk))
        except BaseException as exc:
            abort.set()
            failures.append(exc)
        finally:
            for _ in workers:
                work.put(None)
        if not failures:
            work.put(None)
            self._worker(conn0, work, stop, abort, failures)  # the planning connection joins in
        for t in workers:
            t.join()
        if failures:
            raise failures[0]
        if stop.is_set():
            log.info("dump of source %s stopped before completion", cfg.source_id)
            return

        for tmeta in meta.tables:
            tmeta.rows = sum(c.rows for c in tmeta.chunks)
            tmeta.bytes = sum(c.bytes for c in tmeta.chunks)
        meta.finished_at = _now()
        try:
            dumpfiles.fsync_dir(self.ctx.dump_dir)
            dumpfiles.write_metadata(self.ctx.dump_dir, meta)
        except OSError as exc:
            raise errors.ErrDumpUnitRuntime("write dump metadata", cause=exc) from exc
        with self._lock:
            self._finished = True
        log.info("dump of source %s finished: %d tables, %d rows, %d bytes", cfg.source_id,
                 len(meta.tables), self._finished_rows, self._finished_bytes)

    def _plan_table(self, conn: pymysql.connections.Connection, plan: TablePlan, rows_per_chunk: int,
                    stop: threading.Event) -> None:
        name = f"{plan.schema}.{plan.table}"
        _run(lambda: dump_plan.describe(conn, plan), f"describe {name}")
        _write_file(self.ctx.dump_dir / dumpfiles.table_schema_file(plan.schema, plan.table),
                    plan.create_sql + ";\n")
        _run(lambda: dump_plan.split(conn, plan, rows_per_chunk, stop), f"split {name} into chunks")

    def _worker(self, conn: pymysql.connections.Connection, work: queue.Queue, stop: threading.Event,
                abort: threading.Event, failures: list[BaseException]) -> None:
        while True:
            item = work.get()
            if item is None:
                return
            if stop.is_set() or abort.is_set():
                continue  # drain the queue up to our sentinel
            plan, index, chunk = item
            try:
                self._dump_chunk(conn, plan, index, chunk, stop, abort)
            except _Stopped:
                continue
            except BaseException as exc:
                abort.set()
                failures.append(exc)

    def _dump_chunk(self, conn: pymysql.connections.Connection, plan: TablePlan, index: int,
                    chunk: dumpfiles.ChunkMeta, stop: threading.Event, abort: threading.Event) -> None:
        path = self.ctx.dump_dir / chunk.file
        prefix = dumpfiles.insert_prefix(plan.table, plan.dumped_columns)
        statement_size = self.ctx.cfg.mydumper.statement_size or dumpfiles.STATEMENT_SIZE
        where = plan.chunks[index]
        if self.ctx.cfg.mydumper.where:
            where = f"({where}) AND ({self.ctx.cfg.mydumper.where})" if where else self.ctx.cfg.mydumper.where
        rows_total = bytes_total = 0
        what = f"dump {plan.schema}.{plan.table} chunk {index}"
        try:
            cur = conn.cursor(pymysql.cursors.SSCursor)
            cur.execute(plan.select_sql(where))
            numeric = dumpfiles.numeric_flags(cur.description)
            with open(path, "wb") as f:
                parts: list[str] = []
                size = 0

                def flush() -> None:
                    nonlocal parts, size, rows_total, bytes_total
                    if not parts:
                        return
                    data = (prefix + ",".join(parts) + ";\n").encode("utf-8")
                    f.write(data)
                    with self._lock:
                        self._finished_rows += len(parts)
                        self._finished_bytes += len(data)
                    rows_total += len(parts)
                    bytes_total += len(data)
                    parts, size = [], 0

                while True:
                    rows = cur.fetchmany(_FETCH_ROWS)
                    if not rows:
                        break
                    if stop.is_set() or abort.is_set():
                        raise _Stopped
                    for row in rows:
                        text = dumpfiles.encode_row(row, numeric)
                        parts.append(text)
                        size += len(text) + 1
                        if size >= statement_size:
                            flush()
                flush()
                f.flush()
                os.fsync(f.fileno())
        except _Stopped:
            conn.close()  # abandon the unread result; this connection is not used again
            raise
        except pymysql.err.MySQLError as exc:
            raise _dump_error(exc, what) from exc
        except (OSError, UnicodeError) as exc:
            raise errors.ErrDumpUnitRuntime(what, cause=exc) from exc
        chunk.rows, chunk.bytes = rows_total, bytes_total
        with self._lock:
            key = (plan.schema, plan.table)
            self._chunks_left[key] -= 1
            if self._chunks_left[key] == 0:
                self._completed_tables += 1

    def _complete_dump(self) -> dumpfiles.DumpMetadata | None:
        meta = dumpfiles.read_metadata(self.ctx.dump_dir)
        if meta is None:
            return None
        files = [c.file for t in meta.tables for c in t.chunks]
        if not all((self.ctx.dump_dir / f).is_file() for f in files):
            return None
        return meta

    def _reset(self) -> None:
        with self._lock:
            self._total_tables = self._completed_tables = 0
            self._finished_bytes = self._finished_rows = self._estimate_rows = 0
            self._chunks_left.clear()
            self._finished = False

    def _show_finished(self, meta: dumpfiles.DumpMetadata) -> None:
        with self._lock:
            self._total_tables = len(meta.tables)
            self._completed_tables = len(meta.tables)
            self._finished_rows = sum(t.rows for t in meta.tables)
            self._finished_bytes = meta.total_bytes
            self._estimate_rows = self._finished_rows
            self._finished = True


def _dump_error(exc: BaseException, what: str) -> errors.DMError:
    if db.is_connection_error(exc):
        return db.classify(exc, what)
    return errors.ErrDumpUnitRuntime(what, cause=exc)


def _run(fn: Callable[[], _T], what: str) -> _T:
    try:
        return fn()
    except pymysql.err.MySQLError as exc:
        raise _dump_error(exc, what) from exc


def _write_file(path: Path, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise errors.ErrDumpUnitRuntime(f"write {path.name}", cause=exc) from exc


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
