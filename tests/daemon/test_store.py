"""The master's SQLite store: every record type survives a reopen; conflicts are reported."""

from __future__ import annotations

import sqlite3

import pytest

from dmshell.daemon.store import RelayRecord, SQLiteStore, StoreConflict, SubTaskRecord
from dmshell.proto import dmworker_pb2 as pb


def test_round_trip_and_reopen(tmp_path):
    path = tmp_path / "master.db"
    store = SQLiteStore(path)
    store.add_source("s2", "source-id: s2\n")
    store.add_source("s1", "source-id: s1\nfrom:\n  password: '123456'\n")
    with pytest.raises(StoreConflict):
        store.add_source("s1", "again")
    store.put_worker("worker1", "127.0.0.1:1")
    store.put_worker("worker1", "127.0.0.1:2")  # re-registration at a new address
    store.put_worker("worker2", "127.0.0.1:3")
    store.bind("s1", "worker1")
    with pytest.raises(StoreConflict):
        store.bind("s2", "worker1")  # one source per worker
    store.add_embedded("worker1")
    a = SubTaskRecord(
        "task",
        "s1",
        "name: task\n",
        pb.Running,
        "run-1",
        remove_meta=True,
        meta_binlog_name="mysql-bin.000002",
        meta_binlog_pos=1234,
        meta_binlog_gtid="1-101-7",
        start_time="2021-10-21 00:01:00",
    )
    b = SubTaskRecord("task", "s2", "name: task\n", pb.Running, "run-1")
    store.add_subtasks([a, b])
    with pytest.raises(StoreConflict):  # all or nothing
        store.add_subtasks([SubTaskRecord("other", "s1", "x", pb.Running, "r"), a])
    store.set_expect_stage("task", ["s2"], pb.Paused)
    store.close()

    store = SQLiteStore(path)
    assert list(store.sources()) == ["s1", "s2"]
    assert store.get_source("s1") == "source-id: s1\nfrom:\n  password: '123456'\n"
    assert store.get_source("nope") is None
    assert store.workers() == {"worker1": "127.0.0.1:2", "worker2": "127.0.0.1:3"}
    assert store.bindings() == {"s1": "worker1"}
    assert store.embedded() == ["worker1"]
    assert store.subtasks(task="other") == []
    got = store.subtasks()
    assert got[0] == a
    assert (got[1].expect_stage, got[1].stage_revision) == (pb.Paused, 1)
    assert store.subtasks(source="s2") == [got[1]]
    assert store.subtasks(task="task", source="s1") == [a]

    store.remove_subtasks("task", ["s1"])
    assert [r.source for r in store.subtasks(task="task")] == ["s2"]
    assert store.remove_source("s1") is True and store.remove_source("s1") is False
    assert store.bindings() == {}  # removing a source drops its binding
    store.remove_worker("worker2")
    store.remove_embedded("worker1")
    assert store.workers() == {"worker1": "127.0.0.1:2"} and store.embedded() == []
    store.close()

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    db.close()


def test_worker_identities_and_the_upgrade_of_a_version_1_store(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE workers (name TEXT PRIMARY KEY, address TEXT NOT NULL);")
    db.execute("INSERT INTO workers VALUES ('worker1', '127.0.0.1:1')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    store = SQLiteStore(path)
    assert store.workers() == {"worker1": "127.0.0.1:1"}
    assert store.worker_identity("worker1") == "" and store.worker_identity("nobody") is None
    store.put_worker("worker1", "127.0.0.1:2", "cn:dm-worker")
    assert store.worker_identity("worker1") == "cn:dm-worker"
    assert store.relay("s1") is None  # (schema 3 added the relays)
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 3


def test_relay_records(tmp_path):
    store = SQLiteStore(tmp_path / "master.db")
    store.add_source("s1", "source-id: s1\n")
    store.put_relay(RelayRecord("s1"))
    first = store.relay("s1")
    assert first is not None and (first.workers, first.expect_stage) == ((), pb.Running)
    store.put_relay(RelayRecord("s1", ("worker1", "worker2"), pb.Paused))
    second = store.relay("s1")
    assert (
        second is not None and second.workers == ("worker1", "worker2") and second.expect_stage == pb.Paused
    )
    assert second.stage_revision == first.stage_revision + 1  # every pause/resume is re-applied
    store.remove_source("s1")  # removing a source drops its relay
    assert store.relay("s1") is None
    store.close()


def test_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "master.db"
    SQLiteStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="newer dmshell"):
        SQLiteStore(path)
