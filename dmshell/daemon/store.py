"""The master's durable state behind a small interface (DM keeps the same facts in etcd).

What is stored: source configurations (YAML as the user gave it — passwords plain or encrypted, so
never log a record), subtasks (the task YAML, the run's ``startId`` and the expected stage per
source), source ↔ worker bindings, and registered workers.

:class:`SQLiteStore` is the implementation used by the daemon: one SQLite file in WAL mode in the
data directory. Another backend (etcd, for a multi-master setup) implements :class:`Store`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from dmshell.proto import dmworker_pb2 as pb

SCHEMA_VERSION = 3

_RELAYS = """CREATE TABLE IF NOT EXISTS relays (
    source_id      TEXT PRIMARY KEY,
    workers        TEXT NOT NULL DEFAULT '',
    expect_stage   INTEGER NOT NULL,
    stage_revision INTEGER NOT NULL DEFAULT 0
);
"""

#: schema upgrades: version → statements taking the store from version - 1 to it
_UPGRADES = {
    2: "ALTER TABLE workers ADD COLUMN identity TEXT NOT NULL DEFAULT ''",
    3: _RELAYS,
}

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS sources (
    source_id   TEXT PRIMARY KEY,
    config_yaml TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS subtasks (
    task             TEXT NOT NULL,
    source_id        TEXT NOT NULL,
    task_yaml        TEXT NOT NULL,
    expect_stage     INTEGER NOT NULL,
    stage_revision   INTEGER NOT NULL DEFAULT 0,
    start_id         TEXT NOT NULL,
    remove_meta      INTEGER NOT NULL DEFAULT 0,
    meta_binlog_name TEXT NOT NULL DEFAULT '',
    meta_binlog_pos  INTEGER NOT NULL DEFAULT 0,
    meta_binlog_gtid TEXT NOT NULL DEFAULT '',
    created_at       REAL NOT NULL,
    start_time       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (task, source_id)
);
CREATE TABLE IF NOT EXISTS bindings (
    source_id TEXT PRIMARY KEY,
    worker    TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS workers (
    name     TEXT PRIMARY KEY,
    address  TEXT NOT NULL,
    identity TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS embedded_workers (
    name TEXT PRIMARY KEY
);
"""
    + _RELAYS
)


#: added after schema 1; created on every open (idempotent), so older stores gain it
_OPS_SCHEMA = """
CREATE TABLE IF NOT EXISTS binlog_ops (
    task       TEXT NOT NULL,
    source_id  TEXT NOT NULL,
    binlog_pos TEXT NOT NULL,
    op         INTEGER NOT NULL,
    sqls       TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (task, source_id, binlog_pos)
);
"""


@dataclass(frozen=True, slots=True)
class BinlogOpRecord:
    """A registered ``binlog skip|replace|inject`` of one subtask: ``op`` (pb.ErrorOp) for the
    event starting at ``binlog_pos`` (``<file>:<pos>``)."""

    task: str
    source: str
    binlog_pos: str
    op: int
    sqls: tuple[str, ...] = ()


#: shard DDL locks (dmshell.daemon.shard_locks); created on every open (added after schema 1)
_SHARD_LOCKS = """
CREATE TABLE IF NOT EXISTS shard_locks (
    lock_id   TEXT PRIMARY KEY,
    lock_json TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class SubTaskRecord:
    """One task on one source, as the master wants it."""

    task: str
    source: str
    task_yaml: str
    expect_stage: pb.Stage  # Running, Paused or Stopped
    start_id: str
    remove_meta: bool = False
    stage_revision: int = 0
    meta_binlog_name: str = ""
    meta_binlog_pos: int = 0
    meta_binlog_gtid: str = ""
    #: ``start-task --start-time`` as the user typed it ("" = not given)
    start_time: str = ""


@dataclass(frozen=True, slots=True)
class RelayRecord:
    """``start-relay`` on a source: by which workers ("" = the bound one) and the expected stage."""

    source: str
    workers: tuple[str, ...] = ()
    expect_stage: pb.Stage = pb.Running
    stage_revision: int = 0


class StoreConflict(Exception):
    """An insert hit an existing key (source ID, subtask, binding)."""


class Store(ABC):
    """The master's state. Every method is atomic and thread-safe."""

    # -- sources ---------------------------------------------------------------------------
    @abstractmethod
    def add_source(self, source_id: str, config_yaml: str) -> None:
        """Raises :class:`StoreConflict` when the ID exists."""

    @abstractmethod
    def get_source(self, source_id: str) -> str | None: ...

    @abstractmethod
    def sources(self) -> dict[str, str]:
        """Source ID → config YAML, ordered by ID."""

    @abstractmethod
    def remove_source(self, source_id: str) -> bool:
        """Also removes the source's binding. False when it did not exist."""

    # -- subtasks --------------------------------------------------------------------------
    @abstractmethod
    def add_subtasks(self, records: Iterable[SubTaskRecord]) -> None:
        """All or nothing; raises :class:`StoreConflict` when one exists already."""

    @abstractmethod
    def subtasks(self, task: str | None = None, source: str | None = None) -> list[SubTaskRecord]:
        """Ordered by (task, source)."""

    @abstractmethod
    def set_expect_stage(self, task: str, sources: Iterable[str], stage: pb.Stage) -> None:
        """Set the expected stage and bump each subtask's ``stage_revision``."""

    @abstractmethod
    def remove_subtasks(self, task: str, sources: Iterable[str]) -> None: ...

    # -- binlog operations -----------------------------------------------------------------
    @abstractmethod
    def put_binlog_op(self, record: BinlogOpRecord) -> None:
        """Register (or overwrite) the operation at ``record.binlog_pos``."""

    @abstractmethod
    def remove_binlog_op(self, task: str, source: str, binlog_pos: str) -> bool:
        """Revert the operation at ``binlog_pos``; False when there was none."""

    @abstractmethod
    def binlog_ops(self, task: str | None = None, source: str | None = None) -> list[BinlogOpRecord]:
        """Registered operations, by task, source and position."""

    # -- bindings --------------------------------------------------------------------------
    @abstractmethod
    def bind(self, source_id: str, worker: str) -> None:
        """Raises :class:`StoreConflict` when the source or the worker is bound already."""

    @abstractmethod
    def unbind(self, source_id: str) -> None: ...

    @abstractmethod
    def bindings(self) -> dict[str, str]:
        """Source ID → worker name."""

    # -- workers ---------------------------------------------------------------------------
    @abstractmethod
    def put_worker(self, name: str, address: str, identity: str = "") -> None:
        """Record a worker's address and the identity it registered with (``auth.peer_identity``)."""

    @abstractmethod
    def worker_identity(self, name: str) -> str | None:
        """The identity a known worker registered with ("" before identities were kept), or None."""

    @abstractmethod
    def workers(self) -> dict[str, str]:
        """Worker name → address, ordered by name."""

    @abstractmethod
    def remove_worker(self, name: str) -> None: ...

    # -- relays ----------------------------------------------------------------------------
    @abstractmethod
    def relay(self, source_id: str) -> RelayRecord | None: ...

    @abstractmethod
    def put_relay(self, record: RelayRecord) -> None:
        """Insert or replace; every put bumps ``stage_revision`` (a resume re-applies Running)."""

    @abstractmethod
    def remove_relay(self, source_id: str) -> None: ...

    # -- embedded workers (the daemon's worker host spawns them) ----------------------------
    @abstractmethod
    def add_embedded(self, name: str) -> None: ...

    @abstractmethod
    def remove_embedded(self, name: str) -> None: ...

    @abstractmethod
    def embedded(self) -> list[str]:
        """Names of the workers the daemon runs itself, sorted."""

    # -- shard DDL locks (JSON of dmshell.engine.shard.lock.Lock) ----------------------------
    @abstractmethod
    def put_shard_lock(self, lock_id: str, lock_json: str) -> None: ...

    @abstractmethod
    def remove_shard_lock(self, lock_id: str) -> None: ...

    @abstractmethod
    def shard_locks(self) -> list[str]:
        """Every lock's JSON, ordered by ID."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""


class SQLiteStore(Store):
    """:class:`Store` in one SQLite database file (WAL mode, synchronous=FULL)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
        os.chmod(self.path, 0o600)  # it holds the sources' and targets' passwords
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} was written by a newer dmshell (schema {version})")
        if version == 0:
            # executescript runs its own transaction; IF NOT EXISTS makes a crash here harmless
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        for to in range(version + 1, SCHEMA_VERSION + 1) if version else ():  # an older store
            with self._tx() as db:
                db.execute(_UPGRADES[to])
                db.execute(f"PRAGMA user_version = {to}")
        self._db.executescript(_OPS_SCHEMA)
        self._db.execute(_SHARD_LOCKS)

    def _tx(self) -> _Tx:
        return _Tx(self._db, self._lock)

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- sources ---------------------------------------------------------------------------
    def add_source(self, source_id: str, config_yaml: str) -> None:
        try:
            with self._tx() as db:
                db.execute("INSERT INTO sources VALUES (?, ?, ?)", (source_id, config_yaml, time.time()))
        except sqlite3.IntegrityError as exc:
            raise StoreConflict(source_id) from exc

    def get_source(self, source_id: str) -> str | None:
        rows = self._read("SELECT config_yaml FROM sources WHERE source_id = ?", (source_id,))
        return rows[0][0] if rows else None

    def sources(self) -> dict[str, str]:
        return dict(self._read("SELECT source_id, config_yaml FROM sources ORDER BY source_id"))

    def remove_source(self, source_id: str) -> bool:
        with self._tx() as db:
            db.execute("DELETE FROM bindings WHERE source_id = ?", (source_id,))
            db.execute("DELETE FROM relays WHERE source_id = ?", (source_id,))
            return db.execute("DELETE FROM sources WHERE source_id = ?", (source_id,)).rowcount > 0

    # -- subtasks --------------------------------------------------------------------------
    def add_subtasks(self, records: Iterable[SubTaskRecord]) -> None:
        try:
            with self._tx() as db:
                for r in records:
                    db.execute(
                        "INSERT INTO subtasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            r.task,
                            r.source,
                            r.task_yaml,
                            r.expect_stage,
                            r.stage_revision,
                            r.start_id,
                            int(r.remove_meta),
                            r.meta_binlog_name,
                            r.meta_binlog_pos,
                            r.meta_binlog_gtid,
                            time.time(),
                            r.start_time,
                        ),
                    )
        except sqlite3.IntegrityError as exc:
            raise StoreConflict(str(exc)) from exc

    def subtasks(self, task: str | None = None, source: str | None = None) -> list[SubTaskRecord]:
        sql = (
            "SELECT task, source_id, task_yaml, expect_stage, start_id, remove_meta, stage_revision, "
            "meta_binlog_name, meta_binlog_pos, meta_binlog_gtid, start_time FROM subtasks"
        )
        where, args = [], []
        if task is not None:
            where.append("task = ?")
            args.append(task)
        if source is not None:
            where.append("source_id = ?")
            args.append(source)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY task, source_id"
        return [
            SubTaskRecord(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], r[8], r[9], r[10])
            for r in self._read(sql, tuple(args))
        ]

    def set_expect_stage(self, task: str, sources: Iterable[str], stage: pb.Stage) -> None:
        with self._tx() as db:
            for source in sources:
                db.execute(
                    "UPDATE subtasks SET expect_stage = ?, stage_revision = stage_revision + 1 "
                    "WHERE task = ? AND source_id = ?",
                    (stage, task, source),
                )

    def remove_subtasks(self, task: str, sources: Iterable[str]) -> None:
        with self._tx() as db:
            for source in sources:
                db.execute("DELETE FROM subtasks WHERE task = ? AND source_id = ?", (task, source))
                # a stopped task's operations go with it (DM keeps them in the subtask's syncer)
                db.execute("DELETE FROM binlog_ops WHERE task = ? AND source_id = ?", (task, source))

    # -- binlog operations -----------------------------------------------------------------
    def put_binlog_op(self, record: BinlogOpRecord) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO binlog_ops VALUES (?, ?, ?, ?, ?, ?)",
                (
                    record.task,
                    record.source,
                    record.binlog_pos,
                    record.op,
                    json.dumps(list(record.sqls)),
                    time.time(),
                ),
            )

    def remove_binlog_op(self, task: str, source: str, binlog_pos: str) -> bool:
        with self._tx() as db:
            cur = db.execute(
                "DELETE FROM binlog_ops WHERE task = ? AND source_id = ? AND binlog_pos = ?",
                (task, source, binlog_pos),
            )
            return cur.rowcount > 0

    def binlog_ops(self, task: str | None = None, source: str | None = None) -> list[BinlogOpRecord]:
        sql = "SELECT task, source_id, binlog_pos, op, sqls FROM binlog_ops WHERE 1 = 1"
        args: list[str] = []
        if task is not None:
            sql += " AND task = ?"
            args.append(task)
        if source is not None:
            sql += " AND source_id = ?"
            args.append(source)
        rows = self._read(sql + " ORDER BY task, source_id, created_at", tuple(args))
        return [BinlogOpRecord(r[0], r[1], r[2], r[3], tuple(json.loads(r[4]))) for r in rows]

    # -- bindings --------------------------------------------------------------------------
    def bind(self, source_id: str, worker: str) -> None:
        try:
            with self._tx() as db:
                db.execute("INSERT INTO bindings VALUES (?, ?)", (source_id, worker))
        except sqlite3.IntegrityError as exc:
            raise StoreConflict(f"{source_id} -> {worker}") from exc

    def unbind(self, source_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM bindings WHERE source_id = ?", (source_id,))

    def bindings(self) -> dict[str, str]:
        return dict(self._read("SELECT source_id, worker FROM bindings ORDER BY source_id"))

    # -- workers ---------------------------------------------------------------------------
    def put_worker(self, name: str, address: str, identity: str = "") -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO workers VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET address = excluded.address, identity = excluded.identity",
                (name, address, identity),
            )

    def worker_identity(self, name: str) -> str | None:
        rows = self._read("SELECT identity FROM workers WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def workers(self) -> dict[str, str]:
        return dict(self._read("SELECT name, address FROM workers ORDER BY name"))

    def remove_worker(self, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM bindings WHERE worker = ?", (name,))
            db.execute("DELETE FROM workers WHERE name = ?", (name,))

    # -- relays ----------------------------------------------------------------------------
    def relay(self, source_id: str) -> RelayRecord | None:
        rows = self._read(
            "SELECT workers, expect_stage, stage_revision FROM relays WHERE source_id = ?", (source_id,)
        )
        if not rows:
            return None
        workers, stage, revision = rows[0]
        return RelayRecord(source_id, tuple(w for w in workers.split(",") if w), stage, revision)

    def put_relay(self, record: RelayRecord) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO relays VALUES (?, ?, ?, 0) ON CONFLICT(source_id) DO UPDATE SET "
                "workers = excluded.workers, expect_stage = excluded.expect_stage, "
                "stage_revision = stage_revision + 1",
                (record.source, ",".join(record.workers), record.expect_stage),
            )

    def remove_relay(self, source_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM relays WHERE source_id = ?", (source_id,))

    def add_embedded(self, name: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO embedded_workers VALUES (?)", (name,))

    def remove_embedded(self, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM embedded_workers WHERE name = ?", (name,))

    def embedded(self) -> list[str]:
        return [r[0] for r in self._read("SELECT name FROM embedded_workers ORDER BY name")]

    def put_shard_lock(self, lock_id: str, lock_json: str) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO shard_locks VALUES (?, ?)", (lock_id, lock_json))

    def remove_shard_lock(self, lock_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM shard_locks WHERE lock_id = ?", (lock_id,))

    def shard_locks(self) -> list[str]:
        return [r[0] for r in self._read("SELECT lock_json FROM shard_locks ORDER BY lock_id")]

    def close(self) -> None:
        with self._lock:
            self._db.close()


class _Tx:
    """``with`` block = one IMMEDIATE transaction under the store's lock."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock) -> None:
        self.db, self.lock = db, lock

    def __enter__(self) -> sqlite3.Connection:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise
        return self.db

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.lock.release()
