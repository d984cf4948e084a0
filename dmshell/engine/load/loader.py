"""The load unit: the dump directory into the target, resumable at any moment without loss or duplicates.

Flow: read the dump's ``metadata``; create the meta tables and record that this dump is being
loaded (:mod:`dmshell.engine.load.checkpoint`); create the target schemas and tables after routing
(:mod:`dmshell.engine.load.targets`); then load the data files over ``loader.pool-size``
connections, biggest first (:mod:`dmshell.engine.load.pool`). Every file is ONE transaction that
also inserts its row into ``<meta>.<task>_loader_checkpoint``, and files already recorded there are
skipped, so a kill -9 at any point resumes exactly. Views (dumped with ``--no-views=false``) come
next, then one transaction marks the load finished with the dump's binlog location
(:func:`load_finished_location`), and the dump files are cleaned up when ``clean-dump-file`` is set
(all of them in task-mode ``full``, only the data files otherwise). This unit runs in task-modes
``load`` and ``load&sync``; ``all`` and ``full`` load while they dump
(:mod:`dmshell.engine.load.fullcopy`).

Data goes in with ``LOAD DATA LOCAL`` where the target allows it, else with multi-row INSERTs
(:mod:`dmshell.engine.load.data`; both check every warning). Target session:
``time_zone='+00:00'`` like the dump, ``NO_AUTO_VALUE_ON_ZERO`` (an AUTO_INCREMENT column keeps its
0), ``foreign_key_checks=0`` (tables load in any order); ``unique_checks`` stays on, so merged
shards can never plant duplicates. Tables the unit creates get their plain secondary indexes after
the data (:mod:`dmshell.engine.load.index`).

Rows whose key already exists in the target follow ``loader.on-duplicate-logical`` (DM's default
``replace``; ``error``; ``ignore``). Routes' ``extract-table/schema/source`` columns are set on every
row; the target table must then already have them.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading

from dmshell.engine import db, errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump.files import DumpMetadata
from dmshell.engine.load import checkpoint as load_checkpoint
from dmshell.engine.load import index as load_index
from dmshell.engine.load.checkpoint import ResumePoints
from dmshell.engine.load.pool import LoadJob, LoadPool, guard, open_load_session
from dmshell.engine.load.targets import Targets
from dmshell.engine.progress import RateMeter, percent
from dmshell.engine.unit import Unit, UnitContext
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

__all__ = ["LoadUnit", "ResumePoints", "load_finished_location", "load_resume_points", "open_load_session"]


def load_finished_location(target_conn: db.Connection, cfg: SubTaskConfig) -> Location | None:
    """The dump's binlog location once this source's load is complete (None before that).

    When the copy was dumped from several snapshots (a resumed dump) this is the earliest one;
    :func:`load_resume_points` tells the sync how far to replay in safe mode.
    """
    return load_checkpoint.finished_location(target_conn, cfg)


def load_resume_points(target_conn: db.Connection, cfg: SubTaskConfig) -> ResumePoints | None:
    """For a copy dumped from several snapshots (after an interrupted dump): the latest snapshot
    (replay in safe mode until past it) and the tables whose rows all come from a later snapshot than
    the first (skip their changes up to it). None for a copy from one snapshot."""
    return load_checkpoint.resume_points(target_conn, cfg)


def load_completed(cfg: SubTaskConfig) -> bool:
    """Whether this source's load is recorded finished in the target."""
    conn = db.connect(cfg.target)
    try:
        return load_finished_location(conn, cfg) is not None
    finally:
        conn.close()


class LoadUnit(Unit):
    """DM's load unit (``pb.Load``); ``completed()`` = the load of this source is recorded finished."""

    unit_type = pb.Load

    def __init__(self, ctx: UnitContext) -> None:
        super().__init__(ctx)
        self._lock = threading.Lock()
        self._finished_bytes = 0
        self._total_bytes = 0
        self._finished = False
        self._location: Location | None = None
        self._meter = RateMeter()
        #: None: LOAD DATA LOCAL if the target allows it; False: INSERT statements only
        self.use_load_data: bool | None = None

    # -- Unit ----------------------------------------------------------------------------------
    def completed(self) -> bool:
        return load_completed(self.ctx.cfg)

    def process(self, stop: threading.Event) -> None:
        cfg = self.ctx.cfg
        with self._lock:
            self._finished_bytes = self._total_bytes = 0
            self._finished = False
        targets = Targets(self.ctx)
        conn = open_load_session(cfg.target)
        try:
            guard(lambda: load_checkpoint.ensure_tables(conn, cfg), "create the loader checkpoint tables")
            finished = load_finished_location(conn, cfg)
            if finished is not None:  # e.g. the dump files are already cleaned up
                self._mark_finished(finished, 0)
                return
            meta = self._read_dump()
            with self._lock:
                self._location = meta.location
            guard(lambda: load_checkpoint.begin_load(conn, cfg, meta.dump_id), "record the load start")
            prepared = targets.prepare(conn, meta)
            done = load_checkpoint.done_chunks(conn, cfg)
        finally:
            conn.close()
        jobs = [
            LoadJob(t, [c], prepared.targets[(t.schema, t.table)], directory=self.ctx.dump_dir)
            for t in meta.tables
            if (t.schema, t.table) in prepared.targets
            for c in t.chunks
        ]
        with self._lock:
            self._total_bytes = sum(j.bytes for j in jobs)
            self._finished_bytes = sum(j.bytes for j in jobs if j.files[0].file in done)
        pending = sorted((j for j in jobs if j.files[0].file not in done), key=lambda j: -j.bytes)
        log.info(
            "load of source %s: %d files, %d already loaded",
            cfg.source_id,
            len(jobs),
            len(jobs) - len(pending),
        )
        self._load_all(pending, set(prepared.groups), stop)
        if stop.is_set():
            log.info("load of source %s stopped", cfg.source_id)
            return
        conn = open_load_session(cfg.target)
        try:
            targets.create_views(conn, prepared.views)
            load_checkpoint.finish_load(conn, cfg, meta.location, {j.files[0].file for j in jobs})
        finally:
            conn.close()
        self._mark_finished(meta.location, self._total_bytes)
        log.info("load of source %s finished at %s", cfg.source_id, meta.location)
        if cfg.clean_dump_file:
            self._clean_dump_files(meta)

    def status(self) -> pb.LoadStatus:
        with self._lock:
            finished, total = self._finished_bytes, self._total_bytes
            done, loc = self._finished, self._location
        st = pb.LoadStatus(
            finishedBytes=finished,
            totalBytes=total,
            progress=percent(finished, total, done),
            bps=0 if done else self._meter.rate(finished),
        )
        if loc is not None and loc.file:
            st.metaBinlog = loc.position_str()
            st.metaBinlogGTID = loc.gtid
        return st

    # -- steps ---------------------------------------------------------------------------------
    def _read_dump(self) -> DumpMetadata:
        dump_dir = self.ctx.dump_dir
        if not dump_dir.is_dir():
            raise errors.ErrLoadUnitDumpDirNotFound(str(dump_dir))
        meta = dumpfiles.read_metadata(dump_dir)
        if meta is None:
            raise errors.ErrParseMydumperMeta(
                "the dump is incomplete (no metadata file)", str(dump_dir / dumpfiles.METADATA_FILE)
            )
        return meta

    def _load_all(self, jobs: list[LoadJob], targets: set[tuple[str, str]], stop: threading.Event) -> None:
        """Load the files, biggest first, building a table's postponed secondary indexes as soon as
        its last file is in."""
        conn = open_load_session(self.ctx.cfg.target)
        try:
            recorded = guard(
                lambda: load_index.pending(conn, self.ctx.cfg, targets), "read the secondary indexes to build"
            )
        finally:
            conn.close()
        indexes: dict[tuple[str, str], list[load_index.DeferredIndex]] = {}
        for index in recorded:
            indexes.setdefault((index.schema, index.table), []).append(index)
        if not jobs and not indexes:
            return
        if indexes:
            log.info(
                "load of source %s: %d secondary index(es) of %d table(s) are built after their data",
                self.ctx.cfg.source_id,
                len(recorded),
                len(indexes),
            )

        def on_bytes(n: int) -> None:
            with self._lock:
                self._finished_bytes += n

        threads = min(self.ctx.cfg.loader.pool_size or 16, len(jobs) + len(indexes))
        pool = LoadPool(self.ctx, threads, stop, indexes, on_bytes)
        pool.use_load_data = self.use_load_data
        for job in jobs:
            pool.expect(job.target_name, 1)
        for job in jobs:
            pool.put(job)
        for target in targets:
            pool.seal(target)
        pool.close_input()
        pool.start()
        try:
            pool.join()
        finally:
            self.use_load_data = pool.use_load_data

    def _mark_finished(self, location: Location, total_bytes: int) -> None:
        with self._lock:
            self._finished = True
            self._location = location
            self._total_bytes = self._finished_bytes = total_bytes

    def _clean_dump_files(self, meta: DumpMetadata) -> None:
        """DM's clean-dump-file: everything in task-mode full, else only the data files (the schema
        files and metadata stay for the sync unit)."""
        dump_dir = self.ctx.dump_dir
        if self.ctx.cfg.task_mode == "full":
            shutil.rmtree(dump_dir, ignore_errors=True)
            return
        for table in meta.tables:
            for chunk in table.chunks:
                with contextlib.suppress(OSError):
                    (dump_dir / chunk.file).unlink()
