"""The full-copy unit (task-modes ``all`` and ``full``): load while dumping, and resume an interrupted dump.

One snapshot is dumped (:class:`dmshell.engine.dump.run.DumpRun`) and each chunk is loaded
(:class:`dmshell.engine.load.pool.LoadPool`) as soon as its files are written, so a copy takes about
the longer of the two phases rather than their sum. The dump directory is only a buffer: a chunk's
files are removed once the chunk is loaded, and a dump session waits before starting a chunk while
the directory holds ``loaders.<name>.dump-dir-max-size`` MiB or more (default 1024,
:data:`DEFAULT_DUMP_DIR_MAX`;
a chunk that was started is finished, so the directory may exceed the cap by the chunks being
written). With ``clean-dump-file: false`` the files are kept, as DM keeps them, and nothing caps
the directory (after a resumed dump it holds what the last run dumped).

Durable state is in the target's meta schema (:mod:`dmshell.engine.load.checkpoint`): the snapshots,
each table's plan (its structure and chunk ranges, recorded before any of its chunks loads) and one
row per loaded chunk, written in the chunk's own transaction. Chunks of tables with a primary or
NOT NULL unique key are key ranges; any other table is one chunk (one transaction), so it is always
either wholly loaded or not at all.

After an interruption (pause, error, kill -9) the next run keeps every loaded chunk and dumps the
rest from a *new* snapshot, with the same ranges. Then:

* task-mode ``all``: the sync starts at the earliest snapshot and replays in safe mode until past
  the latest one; changes of a table whose rows all come from a later snapshot are skipped up to it
  (:func:`dmshell.engine.load.loader.load_resume_points`). Exact for every table: a key range loaded
  from an older snapshot is brought forward by the idempotent replay, a table without a key comes
  from one snapshot and gets only the changes after it.
* task-mode ``full`` (no sync follows): the kept chunks are exact only if nothing changed in
  between, which the binlog position shows; when the source has moved on, the copy starts over —
  the loaded chunks' rows are deleted (by key range) first. A target table other tables or sources
  may also write (shard merge without an extract column) cannot be cleaned that way: the task then
  stops with an error.

A table whose structure changed between the two snapshots cannot be resumed either (error 34018).
The log and ``query-status`` (``resumed``) say what was kept.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import threading
import uuid
from dataclasses import dataclass

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.db import quote_ident, quote_table
from dmshell.engine.dump import chunks
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump import plan as dump_plan
from dmshell.engine.dump.dumper import prepare_dump_dir, run_status, table_filter
from dmshell.engine.dump.options import dump_options
from dmshell.engine.dump.plan import TablePlan
from dmshell.engine.dump.run import Chunks, DumpRun
from dmshell.engine.dump.run import run as run_dump
from dmshell.engine.load import checkpoint as load_checkpoint
from dmshell.engine.load import index as load_index
from dmshell.engine.load.checkpoint import CopyState, SavedPlan, SavedSnapshot
from dmshell.engine.load.loader import load_completed, load_finished_location
from dmshell.engine.load.pool import LoadJob, LoadPool, guard, open_load_session, target_error
from dmshell.engine.load.targets import Prepared, Targets
from dmshell.engine.progress import RateMeter, percent
from dmshell.engine.unit import Unit, UnitContext
from dmshell.proto import dmworker_pb2 as pb

log = logging.getLogger(__name__)

#: the dump directory's default cap: a few chunks per load connection (a 200,000-row chunk of a
#: sysbench table is ~40 MB), small next to any database worth a full copy
DEFAULT_DUMP_DIR_MAX = 1 << 30
_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


def dump_dir_max(ctx: UnitContext) -> int | None:
    """The cap on the dump directory in bytes; None when the files are kept (``clean-dump-file: false``)."""
    if not ctx.cfg.clean_dump_file:
        return None
    return (ctx.cfg.loader.dump_dir_max_size << 20) or DEFAULT_DUMP_DIR_MAX


@dataclass(slots=True)
class _Progress:
    """What ``query-status`` shows; guarded by the unit's lock."""

    phase: str = "dump"  # dump → load (the dump is done, loading its last chunks) → done
    prior_rows: int = 0  # rows and bytes loaded by earlier runs of an interrupted copy
    prior_bytes: int = 0
    loaded_bytes: int = 0  # loaded by this run
    removed_bytes: int = 0  # data files removed after their chunk was loaded
    dir_peak: int = 0
    resumed: str = ""
    location: Location | None = None


class FullCopyUnit(Unit):
    """The dump and the load of one source at once. ``unit_type`` is ``Dump`` while the dump runs
    (the load runs alongside) and ``Load`` while the last chunks are loaded, as DM's two units."""

    def __init__(self, ctx: UnitContext) -> None:
        super().__init__(ctx)
        self._lock = threading.Condition()
        self._progress = _Progress()
        self._run: DumpRun | None = None
        self._dump_meter, self._load_meter = RateMeter(), RateMeter()
        self._cap = dump_dir_max(ctx)
        #: (schema, table, chunk) → its files, as this run dumped them (for the dump's metadata)
        self._files: dict[tuple[str, str, int], list[dumpfiles.ChunkMeta]] = {}

    @property
    def unit_type(self) -> int:  # type: ignore[override]
        with self._lock:
            return pb.Dump if self._progress.phase == "dump" else pb.Load

    # -- Unit ----------------------------------------------------------------------------------
    def completed(self) -> bool:
        return load_completed(self.ctx.cfg)

    def process(self, stop: threading.Event) -> None:
        cfg = self.ctx.cfg
        with self._lock:
            self._progress = _Progress()
            self._run = None
            self._files = {}
        targets = Targets(self.ctx)
        conn = open_load_session(cfg.target)
        try:
            guard(lambda: load_checkpoint.ensure_tables(conn, cfg), "create the loader checkpoint tables")
            finished = load_finished_location(conn, cfg)
            if finished is not None:
                with self._lock:
                    self._progress.phase, self._progress.location = "done", finished
                return
            state = guard(lambda: load_checkpoint.read_copy_state(conn, cfg), "read the loader checkpoint")
            self._copy(conn, targets, state, stop)
        finally:
            conn.close()

    def status(self) -> pb.DumpStatus | pb.LoadStatus:
        with self._lock:
            p = self._progress
            phase, run = p.phase, self._run
        load = self._load_status()
        if phase != "dump":
            return load
        st = run_status(run, self._dump_meter)
        with self._lock:
            st.finishedRows += p.prior_rows
            st.estimateTotalRows = max(st.estimateTotalRows, st.finishedRows)
            st.progress = percent(st.finishedRows, st.estimateTotalRows, False)
            st.resumed = p.resumed
        st.load.CopyFrom(load)
        return st

    def close(self) -> None:
        with self._lock:
            run = self._run
        if run is not None:
            run.close()

    # -- the copy ------------------------------------------------------------------------------
    def _copy(self, conn: db.Connection, targets: Targets, state: CopyState, stop: threading.Event) -> None:
        cfg = self.ctx.cfg
        opts = dump_options(cfg.mydumper)
        prepare_dump_dir(self.ctx.dump_dir)  # only a buffer: what it held is dumped again if needed
        run = DumpRun(self.ctx, opts, table_filter(self.ctx), stop)
        with self._lock:
            self._run = run
        try:
            snap = run.open()
            restart = self._reconcile(state, run, snap.location)
            meta = run.write_schema_files()
            prepared = targets.prepare(conn, meta)
            if restart:
                self._start_over(conn, state, prepared, snap.location)
            if restart or not state.loaded:
                if state.plans or state.snapshots:
                    load_checkpoint.forget_copy(conn, cfg)
                state = CopyState(copy_id=state.copy_id)
            seq = max(state.snapshots, default=0) + 1
            state.snapshots[seq] = SavedSnapshot(
                snap.location, snap.consistency, {(p.schema, p.table): p.create_sql for p in run.plans}
            )
            load_checkpoint.record_snapshot(conn, cfg, seq, state.snapshots[seq])
            guard(
                lambda: load_checkpoint.begin_load(conn, cfg, state.copy_id or uuid.uuid4().hex),
                "record the load start",
            )
            pool = self._pool(conn, prepared, stop, run.abort)
            try:
                planner = self._planner(conn, state, seq, prepared, pool)
                done = run.dump(planner, self._on_chunk(seq, prepared, pool), self._gate)
            except BaseException:
                run.abort.set()  # the loads stop too; the dump's failure is the one reported
                raise
            finally:
                run.close()  # the snapshot is not needed any more
                pool.close_input()
                with self._lock:
                    self._progress.phase = "load"
                if run.abort.is_set():
                    with contextlib.suppress(BaseException):
                        pool.join()
            pool.join()  # the load's failure, if any
        finally:
            run.close()
        if not done or stop.is_set():
            log.info("full copy of source %s stopped", cfg.source_id)
            return
        self._finish(conn, targets, state, run, meta, prepared)

    def _pool(
        self,
        conn: db.Connection,
        prepared: Prepared,
        stop: threading.Event,
        abort: threading.Event,
    ) -> LoadPool:
        cfg = self.ctx.cfg
        recorded = guard(
            lambda: load_index.pending(conn, cfg, set(prepared.groups)), "read the secondary indexes to build"
        )
        indexes: dict[tuple[str, str], list[load_index.DeferredIndex]] = {}
        for index in recorded:
            indexes.setdefault((index.schema, index.table), []).append(index)
        pool = LoadPool(
            self.ctx, cfg.loader.pool_size or 16, stop, indexes, self._on_bytes, self._on_loaded, abort
        )
        pool.start()
        return pool

    def _planner(
        self,
        conn: db.Connection,
        state: CopyState,
        seq: int,
        prepared: Prepared,
        pool: LoadPool,
    ):
        cfg, opts = self.ctx.cfg, dump_options(self.ctx.cfg.mydumper)
        members_left = {target: len(members) for target, members in prepared.groups.items()}

        def planner(source: db.Connection, plan: TablePlan) -> Chunks:
            key = (plan.schema, plan.table)
            saved = state.plans.get(key)
            if saved is None:
                if plan.key_unique and opts.rows > 0:
                    run_dump(
                        lambda: dump_plan.split(source, plan, opts.rows, pool.stop),
                        f"split {plan.schema}.{plan.table} into chunks",
                    )
                else:  # one chunk: a table without a row identity is loaded in one transaction
                    plan.chunks = [""]
                saved = SavedPlan(seq, plan.chunks, plan.key_unique)
                guard(
                    lambda: load_checkpoint.save_plan(conn, cfg, plan.schema, plan.table, saved),
                    "record a table's chunks",
                )
                state.plans[key] = saved
            plan.chunks = list(saved.chunks)
            loaded = state.loaded.get(key, {})
            todo = [(i, where) for i, where in enumerate(plan.chunks) if i not in loaded]
            target = prepared.targets[key]
            name = (target.schema, target.table)
            pool.expect(name, len(todo))
            members_left[name] -= 1
            if members_left[name] == 0:
                pool.seal(name)
            return todo

        return planner

    def _on_chunk(self, seq: int, prepared: Prepared, pool: LoadPool):
        tables: dict[tuple[str, str], dumpfiles.TableMeta] = {}

        def on_chunk(plan: TablePlan, index: int, files: list[dumpfiles.ChunkMeta]) -> None:
            key = (plan.schema, plan.table)
            table = tables.get(key)
            if table is None:
                table = tables[key] = dumpfiles.TableMeta(plan.schema, plan.table, "", plan.column_meta())
            target = prepared.targets[key]
            with self._lock:
                self._files[(plan.schema, plan.table, index)] = files
            pool.put(LoadJob(table, files, target, chunk=index, snapshot=seq, directory=self.ctx.dump_dir))
            self._note_dir()

        return on_chunk

    def _gate(self, stopping) -> bool:
        """Before a chunk is dumped: wait while the dump directory is at its cap."""
        if self._cap is None:
            return not stopping()
        with self._lock:
            while self._dir_bytes() >= self._cap:
                if stopping():
                    return False
                self._lock.wait(0.1)
        return not stopping()

    def _dir_bytes(self) -> int:
        run = self._run
        dumped = run.progress()[1] if run is not None else 0
        return dumped - self._progress.removed_bytes

    def _note_dir(self) -> None:
        with self._lock:
            self._progress.dir_peak = max(self._progress.dir_peak, self._dir_bytes())

    def _on_bytes(self, n: int) -> None:
        with self._lock:
            self._progress.loaded_bytes += n

    def _on_loaded(self, job: LoadJob) -> None:
        """A chunk is in: its files go (unless they are kept), making room for the dump."""
        if self._cap is None:
            return
        for f in job.files:
            with contextlib.suppress(OSError):
                (job.directory / f.file).unlink()
        with self._lock:
            self._progress.removed_bytes += job.bytes
            self._lock.notify_all()

    # -- resuming --------------------------------------------------------------------------------
    def _reconcile(self, state: CopyState, run: DumpRun, location: Location) -> bool:
        """Decide what of an interrupted copy is kept (see the module doc); True when the copy must
        start over. A resumed copy copies the tables of its first snapshot only (one created since is
        created by the sync, from the binlog)."""
        cfg = self.ctx.cfg
        if not state.loaded:
            return False
        used = state.used_snapshots
        first = state.snapshots.get(min(used))
        if first is None:  # cannot happen: a chunk is recorded after its snapshot
            raise errors.ErrLoadTaskCheckPointNotMatch(
                cause="the snapshot of the loaded chunks is not recorded"
            )
        if cfg.task_mode != "all" and not (first.location.file and location.same_position(first.location)):
            return True
        current = {(p.schema, p.table): p for p in run.plans}
        for key, create_sql in first.tables.items():
            plan = current.get(key)
            if plan is None or _structure(plan.create_sql) != _structure(create_sql):
                raise errors.ErrLoadTaskCheckPointNotMatch(
                    cause=f"resume the dump: {quote_table(*key)} "
                    f"{'is gone' if plan is None else 'changed its structure'} since the interrupted dump",
                    workaround="The copy cannot be resumed: drop the migrated tables in the target, then "
                    "`stop-task` and `start-task --remove-meta`.",
                )
        added = sorted(set(current) - set(first.tables))
        if added:
            log.info(
                "full copy of source %s: %d table(s) created since the interrupted dump are left to the "
                "sync, e.g. %s",
                cfg.source_id,
                len(added),
                quote_table(*added[0]),
            )
        run.keep(set(first.tables))
        for seq in set(state.snapshots) - used:
            del state.snapshots[seq]
        rows = sum(c.rows for loaded in state.loaded.values() for c in loaded.values())
        resumed = (
            f"kept {state.loaded_chunks} loaded chunk(s) ({rows} rows) of the interrupted dump at "
            f"{first.location.position_str()}; the rest is dumped from a new snapshot at "
            f"{location.position_str()}"
        )
        with self._lock:
            self._progress.prior_rows, self._progress.prior_bytes = rows, state.loaded_bytes
            self._progress.resumed = resumed
        log.info("full copy of source %s resumes: %s", cfg.source_id, resumed)
        return False

    def _start_over(
        self, conn: db.Connection, state: CopyState, prepared: Prepared, location: Location
    ) -> None:
        """Task-mode full after the source changed: delete what the interrupted copy loaded."""
        cfg = self.ctx.cfg
        log.info(
            "full copy of source %s: the source changed since the interrupted dump (now at %s) and no "
            "sync follows to replay the changes; the %d loaded chunk(s) are deleted and the copy starts over",
            cfg.source_id,
            location,
            state.loaded_chunks,
        )
        for key, loaded in state.loaded.items():
            target = prepared.targets.get(key)
            saved = state.plans.get(key)
            if target is None or saved is None:
                raise errors.ErrLoadTaskCheckPointNotMatch(
                    cause=f"the dump was interrupted after rows of {quote_table(*key)} were loaded, and the "
                    "table is not migrated any more",
                    workaround="Migrate it again, or drop the migrated tables in the target and "
                    "`start-task --remove-meta`.",
                )
            members = prepared.groups[(target.schema, target.table)]
            if not target.extra and (len(members) > 1 or cfg.shard_mode or cfg.is_sharding):
                raise errors.ErrLoadTaskCheckPointNotMatch(
                    cause="the dump was interrupted and the source has changed since; the rows loaded into "
                    f"{quote_table(target.schema, target.table)} cannot be told apart from other shards'",
                    workaround="Use task-mode `all` (its sync replays the changes), or drop the migrated "
                    "tables in the target and `start-task --remove-meta`.",
                )
            extra = [f"{quote_ident(c)} = %s" for c, _ in target.extra]
            args = [v for _, v in target.extra]
            for index in sorted(loaded):
                conds = [f"({saved.chunks[index]})"] if saved.chunks[index] else []
                where = " AND ".join(conds + extra)
                sql = f"DELETE FROM {quote_table(target.schema, target.table)}" + (
                    f" WHERE {where}" if where else ""
                )
                try:
                    with conn.cursor() as cur:
                        cur.execute(sql, args or None)
                except pymysql.err.MySQLError as exc:
                    raise target_error(exc, f"delete the rows of {quote_table(*key)} chunk {index}") from exc

    # -- the end ---------------------------------------------------------------------------------
    def _finish(
        self,
        conn: db.Connection,
        targets: Targets,
        state: CopyState,
        run: DumpRun,
        meta: dumpfiles.DumpMetadata,
        prepared: Prepared,
    ) -> None:
        cfg = self.ctx.cfg
        seqs = load_checkpoint.read_copy_state(conn, cfg).used_snapshots or set(state.snapshots)
        location = state.snapshots[min(seqs)].location
        targets.create_views(conn, prepared.views)
        expected = {(p.schema, p.table, i) for p in run.plans for i in range(len(p.chunks))}
        load_checkpoint.finish_copy(conn, cfg, location, expected)
        with self._lock:
            self._progress.phase, self._progress.location = "done", location
            peak = self._progress.dir_peak
        log.info(
            "full copy of source %s finished at %s (dump directory peak %.1f MiB)",
            cfg.source_id,
            location,
            peak / (1 << 20),
        )
        meta.dump_id, meta.location = state.copy_id, location
        for plan, table in zip(run.plans, meta.tables, strict=True):
            table.chunks = [
                f for i in range(len(plan.chunks)) for f in self._files.get((plan.schema, plan.table, i), [])
            ]
            table.rows, table.bytes = sum(c.rows for c in table.chunks), sum(c.bytes for c in table.chunks)
        if cfg.clean_dump_file and cfg.task_mode == "full":
            shutil.rmtree(self.ctx.dump_dir, ignore_errors=True)
            return
        try:  # the sync unit reads the tables' structure from here
            dumpfiles.write_metadata(self.ctx.dump_dir, meta)
        except OSError as exc:
            raise chunks.file_error("write dump metadata", exc) from exc

    def _load_status(self) -> pb.LoadStatus:
        with self._lock:
            p = self._progress
            loaded = p.prior_bytes + p.loaded_bytes
            run, phase, location, resumed = self._run, p.phase, p.location, p.resumed
        total = loaded
        if run is not None:
            rows, size, estimate, _ = run.progress()
            todo = max(estimate - p.prior_rows, rows)
            total = p.prior_bytes + (size if phase != "dump" or rows == 0 else int(size * todo / rows))
        st = pb.LoadStatus(
            finishedBytes=loaded,
            totalBytes=max(total, loaded),
            progress=percent(loaded, total, phase == "done"),
            bps=0 if phase == "done" else self._load_meter.rate(loaded),
            resumed=resumed,
        )
        if location is not None and location.file:
            st.metaBinlog = location.position_str()
            st.metaBinlogGTID = location.gtid
        return st


def _structure(create_sql: str) -> str:
    """``SHOW CREATE TABLE`` without what changes with the rows (the next AUTO_INCREMENT value)."""
    return _AUTO_INCREMENT.sub("", create_sql)
