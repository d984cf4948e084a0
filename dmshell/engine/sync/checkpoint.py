"""The syncer checkpoint: ``<meta-schema>.<task>_syncer_checkpoint`` on the target (DM's layout).

One global row per source (``cp_schema = cp_table = ''``, ``is_global = 1``) holds the location
after the last fully applied transaction or DDL, plus the safe-mode exit point; one row per
tracked table holds the table's structure (``table_info`` JSON) and the location where it was
last changed, so a restart rebuilds the schema tracker as of the checkpoint. Rows are written with
``INSERT ... ON DUPLICATE KEY UPDATE`` (not REPLACE, which would reset ``create_time``), all rows
of one flush in one transaction.

The *applied record* (``<meta-schema>.<task>_syncer_applied``, :class:`AppliedRecord`) makes the
apply exactly-once: every batch transaction of the DML lanes also inserts one row listing the
upstream transactions it applies (their GTIDs, or end ``file:pos`` without GTID), keyed by the first
— in the same target transaction as the rows, so both commit or neither. A transaction larger than
the applier's bound is applied in parts; each part records how many of its changes are applied so
far under the transaction's start (``@file:pos``). A restart replays from the global checkpoint and
skips what the record holds. The record is pruned in the checkpoint flush's transaction (everything
up to the flushed point is applied, so its rows are no longer needed). The DDL journal keeps its
rows in the same table (``ddl:<end>#<n>``: ``rows_done`` 0 = started, 1 = done; see
:mod:`~.ddl_journal`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pymysql.converters import escape_string

from dmshell.engine.binlog.location import Location
from dmshell.engine.db import classify, quote_ident, quote_table


def table_name(task: str) -> str:
    return f"{task}_syncer_checkpoint"


CREATE_SQL = """CREATE TABLE IF NOT EXISTS {table} (
    id VARCHAR(32) NOT NULL,
    cp_schema VARCHAR(128) NOT NULL,
    cp_table VARCHAR(128) NOT NULL,
    binlog_name VARCHAR(128),
    binlog_pos INT UNSIGNED,
    binlog_gtid TEXT,
    exit_safe_binlog_name VARCHAR(128) DEFAULT '',
    exit_safe_binlog_pos INT UNSIGNED DEFAULT 0,
    exit_safe_binlog_gtid TEXT,
    table_info JSON NOT NULL,
    is_global BOOLEAN,
    create_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP,
    update_time timestamp NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
    UNIQUE KEY uk_id_schema_table (id, cp_schema, cp_table)
)"""


def applied_table_name(task: str) -> str:
    return f"{task}_syncer_applied"


APPLIED_CREATE_SQL = """CREATE TABLE IF NOT EXISTS {table} (
    id VARCHAR(32) NOT NULL,
    txn VARCHAR(255) NOT NULL,
    rows_done BIGINT NULL,
    detail VARCHAR(64) NULL,
    ids MEDIUMTEXT NULL,
    PRIMARY KEY (id, txn)
)"""


def record_sql(table: str, source_id: str, ids: Iterable[str], partial: tuple[str, int] | None) -> str:
    """The statement recording, inside a batch transaction, the upstream transactions it applied
    (``ids``) and the progress of a transaction applied in parts (``partial``: start id, changes
    applied so far)."""
    src = escape_string(source_id)
    ids = list(ids)
    values = []
    if ids:  # one row per batch: keyed by its first transaction, listing them all
        values.append(f"('{src}','{escape_string(ids[0])}',NULL,'{escape_string(','.join(ids))}')")
    if partial is not None:
        values.append(f"('{src}','{escape_string(partial[0])}',{int(partial[1])},NULL)")
    return (
        f"INSERT INTO {table} (id, txn, rows_done, ids) VALUES {','.join(values)} "
        "ON DUPLICATE KEY UPDATE rows_done = VALUES(rows_done)"
    )


@dataclass(slots=True)
class AppliedRecord:
    """What the applied record held at the start of a run (see the module docstring): ``done``:
    ids of transactions applied whole; ``partial``: start id -> changes applied of a transaction
    applied in parts. Entries are removed as the replay passes them (what is left must survive
    the next prune)."""

    table: str  # quoted
    source_id: str
    done: set[str] = field(default_factory=set)
    partial: dict[str, int] = field(default_factory=dict)
    #: DDL journal rows: id -> (0 started | 1 done, the targets' fingerprint before it started)
    ddl: dict[str, tuple[int, str]] = field(default_factory=dict)
    rows: dict[str, str] = field(default_factory=dict)  # id in ``done`` -> key of its row

    def pending(self) -> list[str]:
        """Keys of the rows holding what the replay has not passed yet (kept by a prune)."""
        return sorted({*(self.rows[i] for i in self.done), *self.partial, *self.ddl})


UPSERT_SQL = """INSERT INTO {table}
    (id, cp_schema, cp_table, binlog_name, binlog_pos, binlog_gtid, exit_safe_binlog_name,
     exit_safe_binlog_pos, exit_safe_binlog_gtid, table_info, is_global) VALUES
    (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON DUPLICATE KEY UPDATE
        binlog_name = VALUES(binlog_name),
        binlog_pos = VALUES(binlog_pos),
        binlog_gtid = VALUES(binlog_gtid),
        exit_safe_binlog_name = VALUES(exit_safe_binlog_name),
        exit_safe_binlog_pos = VALUES(exit_safe_binlog_pos),
        exit_safe_binlog_gtid = VALUES(exit_safe_binlog_gtid),
        table_info = VALUES(table_info),
        is_global = VALUES(is_global)"""


@dataclass(slots=True)
class TablePoint:
    schema: str
    table: str
    location: Location
    table_info: str  # JSON


@dataclass(slots=True)
class SavedCheckpoint:
    """What :meth:`SyncCheckpoint.load` found for this source."""

    location: Location | None = None  # None: no global row (fresh task)
    exit_safe: Location | None = None
    tables: list[TablePoint] = field(default_factory=list)


class SyncCheckpoint:
    """Reads and writes one source's rows of a task's syncer checkpoint table.

    ``conn`` is a PyMySQL connection to the target (autocommit on); the caller serialises use.
    Every method raises :class:`dmshell.engine.errors.DMError` on database errors.
    """

    def __init__(self, conn, meta_schema: str, task: str, source_id: str) -> None:
        self.conn = conn
        self.meta_schema = meta_schema
        self.task = task
        self.source_id = source_id
        self.table = quote_table(meta_schema, table_name(task))
        self.applied_table = quote_table(meta_schema, applied_table_name(task))
        self.record: AppliedRecord | None = None  # loaded by load_applied
        self.prune = False  # see flush

    def _run(self, sql: str, args: Iterable | None = None) -> list[tuple]:
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except Exception as exc:
            raise classify(exc, sql) from exc

    def ensure_table(self) -> None:
        """Create the meta schema and the checkpoint table when missing."""
        self._run(f"CREATE DATABASE IF NOT EXISTS {quote_ident(self.meta_schema)}")
        self._run(CREATE_SQL.format(table=self.table))
        self._run(APPLIED_CREATE_SQL.format(table=self.applied_table))

    def load_applied(self) -> AppliedRecord:
        """The applied record of this source (see the module docstring)."""
        rec = self.record = AppliedRecord(self.applied_table, self.source_id)
        rows = self._run(
            f"SELECT txn, rows_done, detail, ids FROM {self.applied_table} WHERE id = %s", (self.source_id,)
        )
        for txn, done, detail, ids in rows:
            if txn.startswith("ddl:"):
                rec.ddl[txn] = (int(done or 0), detail or "")
            elif txn.startswith("@"):
                rec.partial[txn] = int(done or 0)
            else:
                for i in (ids or txn).split(","):
                    rec.done.add(i)
                    rec.rows[i] = txn
        return rec

    def load(self) -> SavedCheckpoint:
        rows = self._run(
            "SELECT cp_schema, cp_table, binlog_name, binlog_pos, binlog_gtid, exit_safe_binlog_name, "
            "exit_safe_binlog_pos, exit_safe_binlog_gtid, table_info, is_global "
            f"FROM {self.table} WHERE id = %s",
            (self.source_id,),
        )
        saved = SavedCheckpoint()
        for schema, table, name, pos, gtid, es_name, es_pos, es_gtid, info, is_global in rows:
            loc = Location(name or "", int(pos or 0), gtid or "")
            if is_global:
                if name:
                    saved.location = loc
                if es_name:
                    saved.exit_safe = Location(es_name, int(es_pos or 0), es_gtid or "")
            else:
                text = info.decode() if isinstance(info, bytes) else str(info)
                saved.tables.append(TablePoint(schema, table, loc, text))
        return saved

    def flush(
        self,
        location: Location,
        exit_safe: Location | None = None,
        tables: Iterable[TablePoint] = (),
        removed: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Write the global point (and the given table points; delete removed tables) atomically;
        with :attr:`prune` on (everything up to ``location`` is applied: the syncer's flushes
        after a drain), the applied record's rows go in the same transaction, except those the
        replay has not passed yet."""
        sql = UPSERT_SQL.format(table=self.table)
        rows = [
            (
                self.source_id,
                "",
                "",
                location.file,
                location.pos,
                location.gtid,
                exit_safe.file if exit_safe else "",
                exit_safe.pos if exit_safe else 0,
                exit_safe.gtid if exit_safe else "",
                "null",
                True,
            )
        ]
        rows += [
            (
                self.source_id,
                t.schema,
                t.table,
                t.location.file,
                t.location.pos,
                t.location.gtid,
                "",
                0,
                "",
                t.table_info,
                False,
            )
            for t in tables
        ]
        removed = list(removed)
        try:
            self.conn.begin()
            with self.conn.cursor() as cur:
                cur.executemany(sql, rows)
                delete = f"DELETE FROM {self.table} WHERE id = %s AND cp_schema = %s AND cp_table = %s"
                for schema, table in removed:
                    cur.execute(delete, (self.source_id, schema, table))
                if self.prune:
                    keep = self.record.pending() if self.record is not None else []
                    sql_keep = f" AND txn NOT IN ({','.join(['%s'] * len(keep))})" if keep else ""
                    cur.execute(
                        f"DELETE FROM {self.applied_table} WHERE id = %s{sql_keep}", (self.source_id, *keep)
                    )
            self.conn.commit()
        except Exception as exc:
            try:
                self.conn.rollback()
            except Exception:  # the connection is already broken; report the first error
                pass
            raise classify(exc, f"flush checkpoint into {self.table}") from exc

    def remove(self) -> None:
        """Delete this source's rows (the other sources of the task keep theirs)."""
        self._run(f"DELETE FROM {self.table} WHERE id = %s", (self.source_id,))
        self._run(f"DELETE FROM {self.applied_table} WHERE id = %s", (self.source_id,))
