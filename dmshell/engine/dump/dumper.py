"""The dump unit: a consistent snapshot of the allowed upstream tables, written to the dump directory.

Flow (:class:`dmshell.engine.dump.run.DumpRun`): take a snapshot over ``mydumper.threads`` sessions
(:mod:`dmshell.engine.dump.snapshot`), list the tables (and, with ``--no-views=false``, the views)
allowed by the block-allow list — system schemas and the meta schema skipped — write the schema
files, split big tables into key ranges (:mod:`dmshell.engine.dump.plan`) and dump the chunks in
parallel, then write ``metadata`` last and atomically. Each chunk is one ``SELECT`` whose rows the
*source server* renders in the dump format (:func:`dmshell.engine.dump.files.row_expression`),
streamed to files of at most ``chunk-filesize`` (:mod:`dmshell.engine.dump.rowstream`). A run that
finds no complete dump (no ``metadata``, or data files already cleaned by the load unit) wipes the
directory and starts over: this unit (task-mode ``dump``) is not resumable, as in DM. Task-modes
``all`` and ``full`` run the full-copy unit instead (:mod:`dmshell.engine.load.fullcopy`), which
loads while it dumps and resumes an interrupted dump.

Not dumped (as in DM): routines, triggers, events, sequences and system-versioned tables; views
only with ``extra-args: --no-views=false``. Generated columns are omitted from the data (the target
recomputes them).
"""

from __future__ import annotations

import datetime
import logging
import shutil
import threading
import uuid

from dmshell.engine import errors
from dmshell.engine.dump import chunks
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump.options import dump_options
from dmshell.engine.dump.plan import TablePlan
from dmshell.engine.dump.run import DumpRun, split_planner
from dmshell.engine.filters.rules import BAListFilter
from dmshell.engine.progress import RateMeter, percent
from dmshell.engine.unit import Unit, UnitContext
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)


class DumpUnit(Unit):
    """DM's dump unit (``pb.Dump``); ``completed()`` = the dump's ``metadata`` file exists."""

    unit_type = pb.Dump

    def __init__(self, ctx: UnitContext) -> None:
        super().__init__(ctx)
        self._lock = threading.Lock()
        self._run: DumpRun | None = None
        self._done: dumpfiles.DumpMetadata | None = None
        self._meter = RateMeter()

    # -- Unit ----------------------------------------------------------------------------------
    def completed(self) -> bool:
        """The dump's ``metadata`` exists and so do all its data files.

        Once the load unit has cleaned the data files (``clean-dump-file``) the dump counts as not
        done: the subtask only asks when the load is not finished either (e.g. after
        ``start-task --remove-meta``), and then the dump must be taken again.
        """
        return self._complete_dump() is not None

    def process(self, stop: threading.Event) -> None:
        with self._lock:
            self._run, self._done = None, None
        dump_dir = self.ctx.dump_dir
        meta = self._complete_dump()
        if meta is not None:
            with self._lock:
                self._done = meta
            return
        prepare_dump_dir(dump_dir)
        cfg = self.ctx.cfg
        opts = dump_options(cfg.mydumper)
        run = DumpRun(self.ctx, opts, table_filter(self.ctx), stop)
        with self._lock:
            self._run = run
        started = _now()
        try:
            run.open()
            meta = run.write_schema_files()
            files: dict[tuple[str, str, int], list[dumpfiles.ChunkMeta]] = {}

            def on_chunk(plan: TablePlan, index: int, chunk_files: list[dumpfiles.ChunkMeta]) -> None:
                files[(plan.schema, plan.table, index)] = chunk_files

            if not run.dump(split_planner(opts.rows, stop), on_chunk):
                log.info("dump of source %s stopped before completion", cfg.source_id)
                return
        finally:
            run.close()
        for plan, tmeta in zip(run.plans, meta.tables, strict=True):
            for i in range(len(plan.chunks)):
                tmeta.chunks.extend(files.get((plan.schema, plan.table, i), []))
            tmeta.rows = sum(c.rows for c in tmeta.chunks)
            tmeta.bytes = sum(c.bytes for c in tmeta.chunks)
        meta.dump_id, meta.started_at, meta.finished_at = uuid.uuid4().hex, started, _now()
        try:
            dumpfiles.fsync_dir(dump_dir)
            dumpfiles.write_metadata(dump_dir, meta)
        except OSError as exc:
            raise chunks.file_error("write dump metadata", exc) from exc
        with self._lock:
            self._done = meta
        log.info(
            "dump of source %s finished: %d tables, %d rows, %d bytes",
            cfg.source_id,
            len(meta.tables),
            meta.total_rows,
            meta.total_bytes,
        )

    def status(self) -> pb.DumpStatus:
        with self._lock:
            run, done = self._run, self._done
        if done is not None:
            return finished_status(done)
        st = run_status(run, self._meter)
        return st

    @property
    def consistency(self) -> str:
        """How the snapshot was taken (``snapshot``, ``flush``, ``lock`` or ``none``); empty before."""
        return self.status().consistency

    def close(self) -> None:
        with self._lock:
            run = self._run
        if run is not None:
            run.close()

    def _complete_dump(self) -> dumpfiles.DumpMetadata | None:
        meta = dumpfiles.read_metadata(self.ctx.dump_dir)
        if meta is None:
            return None
        files = [c.file for t in meta.tables for c in t.chunks]
        if not all((self.ctx.dump_dir / f).is_file() for f in files):
            return None
        return meta


def table_filter(ctx: UnitContext):
    """The dumped tables: dumpling's table filter from ``extra-args``, else the block-allow list."""
    cfg = ctx.cfg
    try:
        opts = dump_options(cfg.mydumper)
        return opts.table_filter() or BAListFilter(cfg.block_allow_list, cfg.case_sensitive)
    except errors.DMError:
        raise
    except ValueError as exc:
        raise errors.ErrDumpUnitGenBAList(cause=exc) from exc


def prepare_dump_dir(dump_dir) -> None:
    """An empty dump directory (leftovers of an interrupted dump are removed)."""
    try:
        if dump_dir.exists():
            shutil.rmtree(dump_dir)
        dump_dir.mkdir(parents=True)
    except OSError as exc:
        raise chunks.file_error(f"prepare dump directory {dump_dir}", exc) from exc


def run_status(run: DumpRun | None, meter: RateMeter) -> pb.DumpStatus:
    """DM's DumpStatus of a dump in progress (all zero before it starts)."""
    if run is None:
        return pb.DumpStatus(progress=percent(0, 0, False))
    snap = run.snapshot
    rows, size, estimate, completed = run.progress()
    st = pb.DumpStatus(
        totalTables=len(run.plans),
        completedTables=float(completed),
        finishedBytes=float(size),
        finishedRows=float(rows),
        estimateTotalRows=float(max(estimate, rows)),
        progress=percent(rows, estimate, False),
    )
    st.bps = meter.rate(size)
    st.consistency = snap.consistency if snap is not None else ""
    return st


def finished_status(meta: dumpfiles.DumpMetadata) -> pb.DumpStatus:
    return pb.DumpStatus(
        totalTables=len(meta.tables),
        completedTables=float(len(meta.tables)),
        finishedBytes=float(meta.total_bytes),
        finishedRows=float(meta.total_rows),
        estimateTotalRows=float(meta.total_rows),
        progress=percent(1, 1, True),
        consistency=meta.consistency,
    )


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
