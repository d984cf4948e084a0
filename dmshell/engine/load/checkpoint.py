"""The load unit's durable state in the target's meta schema.

* ``<meta>.<task>_loader_checkpoint`` (DM's legacy loader columns): one row per loaded chunk file,
  inserted in the same transaction as the chunk's rows, so a chunk is either loaded and recorded or
  neither. ``offset`` = ``end_pos`` = the file's size (chunks are never loaded partially).
* ``<meta>.<task>_lightning_checkpoint_list`` (DM's columns ``task_name``, ``source_name``,
  ``status`` = init/running/finished, plus ``dump_id``, ``binlog_name``, ``binlog_pos``,
  ``binlog_gtid``): which dump is being loaded, and — once ``finished`` — the dump's binlog location
  from which replication continues.
* ``<meta>.<task>_loader_deferred_index``: secondary indexes still to build (:mod:`load_index`).

The full copy (:mod:`dmshell.engine.load.fullcopy`) adds what it needs to resume an interrupted dump:

* ``<meta>.<task>_loader_snapshot``: the snapshots the copy was dumped from (``seq`` from 1, their
  binlog locations and consistency, and the copied tables with their ``CREATE TABLE``);
* ``<meta>.<task>_loader_table``: each table's plan — its chunks' key ranges and whether the key is
  a row identity — recorded before any of its chunks is loaded, so that a resumed dump cuts the
  same ranges;
* ``<meta>.<task>_loader_chunk``: one row per loaded chunk with the snapshot it came from, inserted
  in the chunk's transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.db import quote_ident, quote_table
from dmshell.engine.load import index as load_index

STATUS_RUNNING = "running"
STATUS_FINISHED = "finished"

#: "table doesn't exist", "unknown database": no state yet
_MISSING = (1146, 1049)


def checkpoint_table(cfg: SubTaskConfig) -> str:
    return quote_table(cfg.meta_schema, f"{cfg.name}_loader_checkpoint")


def status_table(cfg: SubTaskConfig) -> str:
    return quote_table(cfg.meta_schema, f"{cfg.name}_lightning_checkpoint_list")


def snapshot_table(cfg: SubTaskConfig) -> str:
    return quote_table(cfg.meta_schema, f"{cfg.name}_loader_snapshot")


def plan_table(cfg: SubTaskConfig) -> str:
    return quote_table(cfg.meta_schema, f"{cfg.name}_loader_table")


def chunk_table(cfg: SubTaskConfig) -> str:
    return quote_table(cfg.meta_schema, f"{cfg.name}_loader_chunk")


def ensure_tables(conn: db.Connection, cfg: SubTaskConfig) -> None:
    statements = [
        f"CREATE DATABASE IF NOT EXISTS {quote_ident(cfg.meta_schema)}",
        f"""CREATE TABLE IF NOT EXISTS {checkpoint_table(cfg)} (
            id char(32) NOT NULL,
            filename varchar(255) NOT NULL,
            cp_schema varchar(128) NOT NULL,
            cp_table varchar(128) NOT NULL,
            `offset` bigint NOT NULL,
            end_pos bigint NOT NULL,
            create_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
            update_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
            UNIQUE KEY uk_id_f (id, filename)
        )""",
        f"""CREATE TABLE IF NOT EXISTS {status_table(cfg)} (
            task_name varchar(255) NOT NULL,
            source_name varchar(255) NOT NULL,
            status varchar(10) NOT NULL DEFAULT 'init' COMMENT 'init,running,finished',
            dump_id varchar(64) NOT NULL DEFAULT '',
            binlog_name varchar(128) NOT NULL DEFAULT '',
            binlog_pos bigint unsigned NOT NULL DEFAULT 0,
            binlog_gtid text,
            PRIMARY KEY (task_name, source_name)
        )""",
        f"""CREATE TABLE IF NOT EXISTS {snapshot_table(cfg)} (
            source_name varchar(255) NOT NULL,
            seq int NOT NULL,
            binlog_name varchar(128) NOT NULL DEFAULT '',
            binlog_pos bigint unsigned NOT NULL DEFAULT 0,
            binlog_gtid text,
            consistency varchar(16) NOT NULL DEFAULT '',
            tables longtext NOT NULL,
            create_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
            PRIMARY KEY (source_name, seq)
        )""",
        f"""CREATE TABLE IF NOT EXISTS {plan_table(cfg)} (
            source_name varchar(255) NOT NULL,
            cp_schema varchar(128) NOT NULL,
            cp_table varchar(128) NOT NULL,
            snapshot int NOT NULL,
            plan longtext NOT NULL,
            PRIMARY KEY (source_name, cp_schema, cp_table)
        )""",
        f"""CREATE TABLE IF NOT EXISTS {chunk_table(cfg)} (
            source_name varchar(255) NOT NULL,
            cp_schema varchar(128) NOT NULL,
            cp_table varchar(128) NOT NULL,
            chunk int NOT NULL,
            snapshot int NOT NULL,
            `rows` bigint NOT NULL,
            bytes bigint NOT NULL,
            PRIMARY KEY (source_name, cp_schema, cp_table, chunk)
        )""",
    ]
    statements.append(load_index.create_table_sql(cfg))
    with conn.cursor() as cur:
        for sql in statements:
            _execute(cur, sql, None, "create loader checkpoint tables")


def done_chunks(conn: db.Connection, cfg: SubTaskConfig) -> set[str]:
    """File names of the chunks already loaded for this source."""
    with conn.cursor() as cur:
        _execute(
            cur,
            f"SELECT filename FROM {checkpoint_table(cfg)} WHERE id = %s",
            (cfg.source_id,),
            "read loader checkpoint",
        )
        return {_text(r[0]) for r in cur.fetchall()}


def begin_load(conn: db.Connection, cfg: SubTaskConfig, dump_id: str) -> None:
    """Record that this source's load of dump ``dump_id`` is running (unless it already finished).

    Raises ``ErrLoadTaskCheckPointNotMatch`` when chunks of a *different* dump were loaded before
    (mixing two snapshots would corrupt the target).
    """
    table = status_table(cfg)
    with conn.cursor() as cur:
        _execute(
            cur,
            f"SELECT status, dump_id FROM {table} WHERE task_name = %s AND source_name = %s",
            (cfg.name, cfg.source_id),
            "read load status",
        )
        row = cur.fetchone()
        if row is not None and _text(row[0]) == STATUS_FINISHED:
            return
        previous = _text(row[1]) if row is not None else ""
        if previous != dump_id and done_chunks(conn, cfg):
            raise errors.ErrLoadTaskCheckPointNotMatch(
                cause=f"chunks of dump {previous!r} were loaded, "
                f"but the dump directory holds dump {dump_id!r}"
            )
        _execute(
            cur,
            f"INSERT INTO {table} (task_name, source_name, status, dump_id) "
            "VALUES (%s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE status = VALUES(status), dump_id = VALUES(dump_id)",
            (cfg.name, cfg.source_id, STATUS_RUNNING, dump_id),
            "write load status",
        )


def record_chunk_sql(cfg: SubTaskConfig) -> str:
    """The INSERT (args: id, filename, cp_schema, cp_table, offset, end_pos) run inside a chunk's
    transaction."""
    return (
        f"INSERT INTO {checkpoint_table(cfg)} (id, filename, cp_schema, cp_table, `offset`, end_pos) "
        "VALUES (%s, %s, %s, %s, %s, %s)"
    )


def finish_load(
    conn: db.Connection, cfg: SubTaskConfig, location: Location, expected_chunks: set[str]
) -> None:
    """In one transaction: check every chunk file is recorded, then mark the load finished at
    ``location``."""

    def missing(cur: pymysql.cursors.Cursor) -> list[str]:
        cur.execute(
            f"SELECT filename FROM {checkpoint_table(cfg)} WHERE id = %s FOR UPDATE", (cfg.source_id,)
        )
        return sorted(expected_chunks - {_text(r[0]) for r in cur.fetchall()})

    _finish(conn, cfg, location, missing)


def finish_copy(
    conn: db.Connection,
    cfg: SubTaskConfig,
    location: Location,
    expected: set[tuple[str, str, int]],
) -> None:
    """The full copy's :func:`finish_load`: every planned chunk must be recorded in the chunk table."""

    def missing(cur: pymysql.cursors.Cursor) -> list[str]:
        cur.execute(
            f"SELECT cp_schema, cp_table, chunk FROM {chunk_table(cfg)} WHERE source_name = %s FOR UPDATE",
            (cfg.source_id,),
        )
        loaded = {(_text(s), _text(t), int(c)) for s, t, c in cur.fetchall()}
        return [f"{s}.{t} chunk {c}" for s, t, c in sorted(expected - loaded)]

    _finish(conn, cfg, location, missing)


def _finish(
    conn: db.Connection,
    cfg: SubTaskConfig,
    location: Location,
    missing_chunks,
) -> None:
    try:
        conn.begin()
        with conn.cursor() as cur:
            missing = missing_chunks(cur)
            if missing:
                raise errors.ErrLoadTaskCheckPointNotMatch(
                    cause=f"{len(missing)} chunk(s) of the dump are not recorded as loaded, e.g. {missing[0]}"
                )
            cur.execute(
                f"UPDATE {status_table(cfg)} SET status = %s, binlog_name = %s, binlog_pos = %s, "
                "binlog_gtid = %s WHERE task_name = %s AND source_name = %s",
                (STATUS_FINISHED, location.file, location.pos, location.gtid, cfg.name, cfg.source_id),
            )
        conn.commit()
    except BaseException as exc:
        try:
            conn.rollback()
        except pymysql.err.MySQLError:
            pass
        if isinstance(exc, pymysql.err.MySQLError):
            raise db.classify(exc, "mark load finished") from exc
        raise


def finished_location(conn: db.Connection, cfg: SubTaskConfig) -> Location | None:
    """The dump's location once this source's load finished, else None."""
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT binlog_name, binlog_pos, binlog_gtid FROM {status_table(cfg)} "
                "WHERE task_name = %s AND source_name = %s AND status = %s",
                (cfg.name, cfg.source_id, STATUS_FINISHED),
            )
            row = cur.fetchone()
    except pymysql.err.MySQLError as exc:
        if db.errno_of(exc) in _MISSING:
            return None
        raise db.classify(exc, "read load status") from exc
    if row is None:
        return None
    return Location(_text(row[0]), int(row[1] or 0), _text(row[2]))


def _execute(cur: pymysql.cursors.Cursor, sql: str, args: tuple | None, what: str) -> None:
    try:
        cur.execute(sql, args)
    except pymysql.err.MySQLError as exc:
        raise db.classify(exc, what) from exc


def _text(value: object) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


# -- the full copy's state ---------------------------------------------------------------------
@dataclass(slots=True)
class SavedPlan:
    """A table's plan as recorded: its chunks' key ranges."""

    snapshot: int
    chunks: list[str]
    #: chunked on a primary or NOT NULL unique key (else the table is one chunk)
    unique: bool

    def to_json(self) -> str:
        return json.dumps({"chunks": self.chunks, "unique": self.unique})


@dataclass(slots=True)
class SavedSnapshot:
    location: Location
    consistency: str
    #: (schema, table) → CREATE TABLE of every table the copy holds
    tables: dict[tuple[str, str], str]


@dataclass(slots=True)
class LoadedChunk:
    snapshot: int
    rows: int
    bytes: int


@dataclass(slots=True)
class CopyState:
    """What an interrupted full copy left in the target."""

    copy_id: str = ""
    status: str = ""
    snapshots: dict[int, SavedSnapshot] = field(default_factory=dict)
    plans: dict[tuple[str, str], SavedPlan] = field(default_factory=dict)
    loaded: dict[tuple[str, str], dict[int, LoadedChunk]] = field(default_factory=dict)

    @property
    def used_snapshots(self) -> set[int]:
        return {c.snapshot for chunks in self.loaded.values() for c in chunks.values()}

    @property
    def loaded_chunks(self) -> int:
        return sum(len(chunks) for chunks in self.loaded.values())

    @property
    def loaded_bytes(self) -> int:
        return sum(c.bytes for chunks in self.loaded.values() for c in chunks.values())


def read_copy_state(conn: db.Connection, cfg: SubTaskConfig) -> CopyState:
    state = CopyState()
    sid = cfg.source_id
    with conn.cursor() as cur:
        _execute(
            cur,
            f"SELECT status, dump_id FROM {status_table(cfg)} WHERE task_name = %s AND source_name = %s",
            (cfg.name, sid),
            "read load status",
        )
        row = cur.fetchone()
        if row is not None:
            state.status, state.copy_id = _text(row[0]), _text(row[1])
        _execute(
            cur,
            "SELECT seq, binlog_name, binlog_pos, binlog_gtid, consistency, tables "
            f"FROM {snapshot_table(cfg)} WHERE source_name = %s",
            (sid,),
            "read the snapshots of the copy",
        )
        for seq, name, pos, gtid, consistency, tables in cur.fetchall():
            state.snapshots[int(seq)] = SavedSnapshot(
                Location(_text(name), int(pos), _text(gtid)),
                _text(consistency),
                {(s, t): sql for s, t, sql in json.loads(_text(tables))},
            )
        _execute(
            cur,
            f"SELECT cp_schema, cp_table, snapshot, plan FROM {plan_table(cfg)} WHERE source_name = %s",
            (sid,),
            "read the plans of the copy",
        )
        for schema, table, seq, text in cur.fetchall():
            doc = json.loads(_text(text))
            state.plans[(_text(schema), _text(table))] = SavedPlan(
                int(seq), list(doc["chunks"]), bool(doc["unique"])
            )
        _execute(
            cur,
            f"SELECT cp_schema, cp_table, chunk, snapshot, `rows`, bytes FROM {chunk_table(cfg)} "
            "WHERE source_name = %s",
            (sid,),
            "read the loaded chunks of the copy",
        )
        for schema, table, chunk, seq, rows, size in cur.fetchall():
            state.loaded.setdefault((_text(schema), _text(table)), {})[int(chunk)] = LoadedChunk(
                int(seq), int(rows), int(size)
            )
    return state


def record_snapshot(conn: db.Connection, cfg: SubTaskConfig, seq: int, snapshot: SavedSnapshot) -> None:
    loc = snapshot.location
    tables = json.dumps([[s, t, sql] for (s, t), sql in sorted(snapshot.tables.items())])
    with conn.cursor() as cur:
        _execute(
            cur,
            f"REPLACE INTO {snapshot_table(cfg)} (source_name, seq, binlog_name, binlog_pos, binlog_gtid, "
            "consistency, tables) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (cfg.source_id, seq, loc.file, loc.pos, loc.gtid, snapshot.consistency, tables),
            "record the snapshot of the copy",
        )


def forget_snapshots(conn: db.Connection, cfg: SubTaskConfig, seqs: set[int]) -> None:
    """Drop snapshots that no loaded chunk comes from."""
    if not seqs:
        return
    with conn.cursor() as cur:
        _execute(
            cur,
            f"DELETE FROM {snapshot_table(cfg)} WHERE source_name = %s AND seq IN "
            f"({', '.join(str(int(s)) for s in seqs)})",
            (cfg.source_id,),
            "forget unused snapshots of the copy",
        )


def save_plan(conn: db.Connection, cfg: SubTaskConfig, schema: str, table: str, plan: SavedPlan) -> None:
    with conn.cursor() as cur:
        _execute(
            cur,
            f"REPLACE INTO {plan_table(cfg)} (source_name, cp_schema, cp_table, snapshot, plan) "
            "VALUES (%s, %s, %s, %s, %s)",
            (cfg.source_id, schema, table, plan.snapshot, plan.to_json()),
            f"record the plan of {schema}.{table}",
        )


def record_copy_chunk_sql(cfg: SubTaskConfig) -> str:
    """The INSERT (args: source, schema, table, chunk, snapshot, rows, bytes) run inside a chunk's
    transaction."""
    return (
        f"INSERT INTO {chunk_table(cfg)} (source_name, cp_schema, cp_table, chunk, snapshot, `rows`, bytes) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)"
    )


def forget_copy(conn: db.Connection, cfg: SubTaskConfig) -> None:
    """Forget this source's copy in progress: its snapshots, plans, chunks and checkpoint rows."""
    with conn.cursor() as cur:
        for table, column in (
            (snapshot_table(cfg), "source_name"),
            (plan_table(cfg), "source_name"),
            (chunk_table(cfg), "source_name"),
            (checkpoint_table(cfg), "id"),
        ):
            _execute(cur, f"DELETE FROM {table} WHERE {column} = %s", (cfg.source_id,), "forget the copy")


@dataclass(frozen=True, slots=True)
class ResumePoints:
    """A copy dumped from several snapshots (its dump was resumed), as the sync must see it. The sync
    starts at the earliest snapshot; then, per (source schema, table):

    * :attr:`safe_until`: a table with a row identity whose rows come (partly) from a later snapshot
      — its changes up to that snapshot are applied in safe mode (idempotently);
    * :attr:`skip_until`: a table without one, copied whole from a later snapshot — its changes up to
      that snapshot are already in the copy and are skipped.
    """

    safe_until: dict[tuple[str, str], Location]
    skip_until: dict[tuple[str, str], Location]


def resume_points(conn: db.Connection, cfg: SubTaskConfig) -> ResumePoints | None:
    """None when the copy came from a single snapshot (or there is no full copy)."""
    try:
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT seq, binlog_name, binlog_pos, binlog_gtid FROM {snapshot_table(cfg)} "
                "WHERE source_name = %s",
                (cfg.source_id,),
            )
            locations = {int(seq): Location(_text(n), int(p), _text(g)) for seq, n, p, g in cur.fetchall()}
            cur.execute(
                f"SELECT c.cp_schema, c.cp_table, MIN(c.snapshot), MAX(c.snapshot), MAX(p.plan) "
                f"FROM {chunk_table(cfg)} c LEFT JOIN {plan_table(cfg)} p ON p.source_name = c.source_name "
                "AND p.cp_schema = c.cp_schema AND p.cp_table = c.cp_table "
                "WHERE c.source_name = %s GROUP BY c.cp_schema, c.cp_table",
                (cfg.source_id,),
            )
            tables = {
                (_text(s), _text(t)): (int(lo), int(hi), bool(json.loads(_text(plan) or "{}").get("unique")))
                for s, t, lo, hi, plan in cur.fetchall()
            }
    except pymysql.err.MySQLError as exc:
        if db.errno_of(exc) in _MISSING:
            return None
        raise db.classify(exc, "read the snapshots of the copy") from exc
    used = {seq for lo, hi, _ in tables.values() for seq in (lo, hi)}
    if len(used) < 2 or not used <= set(locations):
        return None
    first = min(used)
    safe = {t: locations[hi] for t, (_, hi, unique) in tables.items() if unique and hi != first}
    skip = {t: locations[lo] for t, (lo, _, unique) in tables.items() if not unique and lo != first}
    return ResumePoints(safe, skip)
