"""The load unit's durable state in the target's meta schema.

* ``<meta>.<task>_loader_checkpoint`` (DM's legacy loader columns): one row per loaded chunk file,
  inserted in the same transaction as the chunk's rows, so a chunk is either loaded and recorded or
  neither. ``offset`` = ``end_pos`` = the file's size (chunks are never loaded partially).
* ``<meta>.<task>_lightning_checkpoint_list`` (DM's columns ``task_name``, ``source_name``,
  ``status`` = init/running/finished, plus ``dump_id``, ``binlog_name``, ``binlog_pos``,
  ``binlog_gtid``): which dump is being loaded, and — once ``finished`` — the dump's binlog location
  from which replication continues.
* ``<meta>.<task>_loader_deferred_index``: secondary indexes still to build (:mod:`load_index`).
"""

from __future__ import annotations

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
    """In one transaction: check every chunk is recorded, then mark the load finished at ``location``."""
    try:
        conn.begin()
        with conn.cursor() as cur:
            cur.execute(
                f"SELECT filename FROM {checkpoint_table(cfg)} WHERE id = %s FOR UPDATE", (cfg.source_id,)
            )
            missing = expected_chunks - {_text(r[0]) for r in cur.fetchall()}
            if missing:
                raise errors.ErrLoadTaskCheckPointNotMatch(
                    cause=f"{len(missing)} chunk(s) of the dump are not recorded as loaded, "
                    f"e.g. {min(missing)}"
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
