"""The dump unit: a consistent snapshot of the allowed upstream tables, written to the dump directory.

Flow: take a snapshot over ``mydumper.threads`` connections (:mod:`dump_snapshot`), list the tables
(and, with ``--no-views=false``, the views) allowed by the block-allow list — system schemas and the
meta schema skipped — write the schema files, split big tables into key ranges (:mod:`dump_plan`)
and dump the chunks in parallel, then write ``metadata`` last and atomically. Each chunk is one
``SELECT`` whose rows the *source server* renders in the dump format
(:func:`dmshell.engine.dump.files.row_expression`), streamed to files of at most ``chunk-filesize``
(:mod:`rowstream`). A run that finds no complete dump (no ``metadata``, or data files already
cleaned by the load unit) wipes the directory and starts over: dumps are not resumable (as in DM).

Not dumped (as in DM): routines, triggers, events, sequences and system-versioned tables; views
only with ``extra-args: --no-views=false``. Generated columns are omitted from the data (the target
recomputes them).
"""

from __future__ import annotations

import datetime
import errno
import functools
import logging
import os
import queue
import shutil
import threading
import uuid
from collections.abc import Callable
from typing import TypeVar

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump import plan as dump_plan
from dmshell.engine.dump.options import DumpOptions, dump_options
from dmshell.engine.dump.plan import TablePlan, ViewPlan
from dmshell.engine.dump.rowstream import NullValue, stream_rows
from dmshell.engine.dump.snapshot import Snapshot, take_snapshot
from dmshell.engine.filters.rules import BAListFilter
from dmshell.engine.progress import RateMeter, percent
from dmshell.engine.unit import Unit, UnitContext
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_Job = tuple[TablePlan, int, str]  # table, chunk index, WHERE


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
        self._consistency = ""
        self._meter = RateMeter()
        self._snapshot: Snapshot | None = None
        #: (schema, table, chunk index) → the chunk's files, as they are finished
        self._files: dict[tuple[str, str, int], list[dumpfiles.ChunkMeta]] = {}

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
            raise _file_error(f"prepare dump directory {dump_dir}", exc) from exc
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
                estimateTotalRows=float(max(self._estimate_rows, self._finished_rows)),
                progress=percent(self._finished_rows, self._estimate_rows, self._finished),
            )
            consistency = self._consistency
        st.bps = 0 if self._finished else self._meter.rate(finished_bytes)
        st.consistency = consistency
        return st

    @property
    def consistency(self) -> str:
        """How the snapshot was taken (``snapshot``, ``flush``, ``lock`` or ``none``); empty before."""
        with self._lock:
            return self._consistency

    def close(self) -> None:
        if self._snapshot is not None:
            self._snapshot.close()
            self._snapshot = None

    # -- the dump ------------------------------------------------------------------------------
    def _dump(self, stop: threading.Event) -> None:
        cfg = self.ctx.cfg
        started = _now()
        opts = dump_options(cfg.mydumper)
        try:
            ba = opts.table_filter() or BAListFilter(cfg.block_allow_list, cfg.case_sensitive)
        except ValueError as exc:
            raise errors.ErrDumpUnitGenBAList(cause=exc) from exc
        listed: dict[str, list] = {}

        def list_objects(conn: db.Connection) -> list[tuple[str, str]]:
            listed["schemas"], listed["tables"], views = dump_plan.list_objects(
                conn, ba.allow_table, ba.allow_schema, cfg.meta_schema
            )
            listed["views"] = [] if opts.no_views else views
            return [(t.schema, t.table) for t in listed["tables"]]

        self._snapshot = snap = take_snapshot(
            self.ctx.source.from_db, opts.threads, self.ctx.source.flavor, opts.consistency, list_objects
        )
        log.info(
            "dump of source %s: consistency %s, location %s", cfg.source_id, snap.consistency, snap.location
        )
        schemas: list[str] = listed["schemas"]
        plans: list[TablePlan] = listed["tables"]
        views: list[ViewPlan] = listed["views"]
        with self._lock:
            self._consistency = snap.consistency
            self._total_tables = len(plans)
            self._estimate_rows = sum(p.est_rows for p in plans)

        meta = dumpfiles.DumpMetadata(
            dump_id=uuid.uuid4().hex,
            source_id=cfg.source_id,
            flavor=snap.flavor,
            consistency=snap.consistency,
            location=snap.location,
            started_at=started,
            finished_at="",
        )
        conn0 = snap.conns[0]
        for schema in schemas:
            sql = _run(
                functools.partial(dump_plan.show_create_database, conn0, schema),
                f"show create database {schema}",
            )
            name = dumpfiles.schema_create_file(schema)
            self._write_file(name, sql + ";\n")
            meta.schemas.append(dumpfiles.SchemaMeta(schema, name))
        for view in views:
            sql = _run(
                functools.partial(dump_plan.show_create_view, conn0, view),
                f"show create view {view.schema}.{view.name}",
            )
            name = dumpfiles.view_schema_file(view.schema, view.name)
            self._write_file(name, sql + ";\n")
            meta.views.append(dumpfiles.ViewMeta(view.schema, view.name, name))

        work: queue.Queue[_Job | None] = queue.Queue()
        abort = threading.Event()
        failures: list[BaseException] = []
        workers = [
            threading.Thread(
                target=self._worker,
                args=(conn, work, opts, stop, abort, failures),
                name=f"dump-{cfg.source_id}-{i + 1}",
                daemon=True,
            )
            for i, conn in enumerate(snap.conns[1:])
        ]
        for t in workers:
            t.start()
        try:
            for plan in plans:
                if stop.is_set() or abort.is_set():
                    break
                self._plan_table(conn0, plan, opts.rows, stop)
                meta.tables.append(
                    dumpfiles.TableMeta(
                        plan.schema,
                        plan.table,
                        dumpfiles.table_schema_file(plan.schema, plan.table),
                        plan.column_meta(),
                    )
                )
                with self._lock:
                    self._chunks_left[(plan.schema, plan.table)] = len(plan.chunks)
                    # the statistics may lag behind (a fresh table shows 0 rows): the chunks know better
                    at_least = (len(plan.chunks) - 1) * opts.rows
                    self._estimate_rows += max(0, at_least - plan.est_rows)
                for i, where in enumerate(plan.chunks):
                    work.put((plan, i, where))
        except BaseException as exc:
            abort.set()
            failures.append(exc)
        finally:
            for _ in workers:
                work.put(None)
        if not failures:
            work.put(None)
            self._worker(conn0, work, opts, stop, abort, failures)  # the planning connection joins in
        for t in workers:
            t.join()
        if failures:
            raise failures[0]
        if stop.is_set():
            log.info("dump of source %s stopped before completion", cfg.source_id)
            return

        for plan, tmeta in zip(plans, meta.tables, strict=True):
            for i in range(len(plan.chunks)):
                tmeta.chunks.extend(self._files.get((plan.schema, plan.table, i), []))
            tmeta.rows = sum(c.rows for c in tmeta.chunks)
            tmeta.bytes = sum(c.bytes for c in tmeta.chunks)
        meta.finished_at = _now()
        try:
            dumpfiles.fsync_dir(self.ctx.dump_dir)
            dumpfiles.write_metadata(self.ctx.dump_dir, meta)
        except OSError as exc:
            raise _file_error("write dump metadata", exc) from exc
        with self._lock:
            self._finished = True
        log.info(
            "dump of source %s finished: %d tables, %d rows, %d bytes",
            cfg.source_id,
            len(meta.tables),
            self._finished_rows,
            self._finished_bytes,
        )

    def _plan_table(
        self,
        conn: db.Connection,
        plan: TablePlan,
        rows_per_chunk: int,
        stop: threading.Event,
    ) -> None:
        name = f"{plan.schema}.{plan.table}"
        _run(lambda: dump_plan.describe(conn, plan), f"describe {name}")
        self._write_file(dumpfiles.table_schema_file(plan.schema, plan.table), plan.create_sql + ";\n")
        _run(lambda: dump_plan.split(conn, plan, rows_per_chunk, stop), f"split {name} into chunks")

    def _worker(
        self,
        conn: db.Connection,
        work: queue.Queue[_Job | None],
        opts: DumpOptions,
        stop: threading.Event,
        abort: threading.Event,
        failures: list[BaseException],
    ) -> None:
        while True:
            item = work.get()
            if item is None:
                return
            if stop.is_set() or abort.is_set():
                continue  # drain the queue up to our sentinel
            plan, index, where = item
            try:
                self._dump_chunk(conn, plan, index, where, opts, stop, abort)
            except _Stopped:
                continue
            except BaseException as exc:
                abort.set()
                failures.append(exc)

    def _dump_chunk(
        self,
        conn: db.Connection,
        plan: TablePlan,
        index: int,
        where: str,
        opts: DumpOptions,
        stop: threading.Event,
        abort: threading.Event,
    ) -> None:
        """Stream one key range into files of at most ``opts.filesize`` bytes."""
        if opts.where:
            where = f"({where}) AND ({opts.where})" if where else opts.where
        what = f"dump {plan.schema}.{plan.table} chunk {index}"
        files: list[dumpfiles.ChunkMeta] = []
        f = None
        try:
            block_size = min(1 << 20, max(4096, opts.filesize // 8))
            for block, rows in stream_rows(conn, plan.select_sql(where), block_size):
                if stop.is_set() or abort.is_set():
                    raise _Stopped
                if f is None or files[-1].bytes >= opts.filesize:
                    if f is not None:
                        _close_durably(f)
                    name = dumpfiles.chunk_file(plan.schema, plan.table, index, len(files))
                    files.append(dumpfiles.ChunkMeta(name, where=where))
                    f = open(self.ctx.dump_dir / name, "wb")  # noqa: SIM115 - closed below
                f.write(block)
                files[-1].rows += rows
                files[-1].bytes += len(block)
                with self._lock:
                    self._finished_rows += rows
                    self._finished_bytes += len(block)
            if f is not None:
                _close_durably(f)
                f = None
        except _Stopped:
            conn.close()  # abandon the unread result; this connection is not used again
            raise
        except NullValue as exc:
            raise errors.ErrDumpUnitRuntime(
                f"{what}: row {exc.row_number} is larger than the source's max_allowed_packet once "
                "encoded for the dump",
                workaround="Raise `max_allowed_packet` on the source (SET GLOBAL max_allowed_packet = ...), "
                "then `resume-task`.",
            ) from exc
        except pymysql.err.MySQLError as exc:
            raise _dump_error(exc, what) from exc
        except OSError as exc:
            raise _file_error(what, exc) from exc
        finally:
            if f is not None:
                f.close()
        with self._lock:
            self._files[(plan.schema, plan.table, index)] = files
            key = (plan.schema, plan.table)
            self._chunks_left[key] -= 1
            if self._chunks_left[key] == 0:
                self._completed_tables += 1

    def _write_file(self, name: str, text: str) -> None:
        try:
            with open(self.ctx.dump_dir / name, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise _file_error(f"write {name}", exc) from exc

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
            self._files.clear()
            self._finished = False
            self._consistency = ""

    def _show_finished(self, meta: dumpfiles.DumpMetadata) -> None:
        with self._lock:
            self._total_tables = len(meta.tables)
            self._completed_tables = len(meta.tables)
            self._finished_rows = meta.total_rows
            self._finished_bytes = meta.total_bytes
            self._estimate_rows = self._finished_rows
            self._consistency = meta.consistency
            self._finished = True


def _close_durably(f) -> None:
    f.flush()
    os.fsync(f.fileno())
    f.close()


def _dump_error(exc: BaseException, what: str) -> errors.DMError:
    errno = db.errno_of(exc)
    if db.is_connection_error(exc) and not (errno is not None and errno >= 3000):
        return db.classify(exc, what)
    return errors.ErrDumpUnitRuntime(what, cause=exc)


def _file_error(what: str, exc: OSError) -> errors.DMError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        workaround = (
            "The dump directory is out of space: free disk space there (or move the worker's "
            "data directory to a larger disk), then `resume-task`; the dump starts over."
        )
    else:
        workaround = "Please check the dump directory (it must be writable), then `resume-task`."
    return errors.ErrDumpUnitRuntime(what, cause=exc, workaround=workaround)


def _run(fn: Callable[[], _T], what: str) -> _T:
    try:
        return fn()
    except pymysql.err.MySQLError as exc:
        raise _dump_error(exc, what) from exc


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
