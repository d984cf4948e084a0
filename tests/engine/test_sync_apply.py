"""The DML applier against the real target: batched transactions in one round trip, the failing
change named and its whole batch rolled back, causality conflicts and key-map generations,
back-pressure with an abort, buffers handed over by age, and the progress counters the syncer's
checkpoints rely on."""

from __future__ import annotations

import time

import pytest

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.schema.tracker import table_from_create
from dmshell.engine.sync import apply as sync_apply
from dmshell.engine.sync.apply import Aborted, Applier
from dmshell.engine.sync.checkpoint import SyncCheckpoint
from dmshell.engine.sync.dml import DELETE, INSERT, UPDATE, RowChange

TABLE = "CREATE TABLE {t} (id INT PRIMARY KEY, u VARCHAR(10) NULL, v INT, UNIQUE KEY uu (u))"


@pytest.fixture
def target(mariadb, dbname):
    dst = mariadb.target
    dst.execute(
        f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}", TABLE.format(t=f"{dbname}.t")
    )
    return dst


def make(target, **kw) -> Applier:
    options = {"workers": 4, "batch": 10, "queue_size": 64, "multiple_rows": True}
    options.update(kw)
    return Applier(target.dbconfig(), **options)


def info(dbname: str):
    return table_from_create(TABLE.format(t="t"), dbname)


def rows(target, dbname: str) -> list[tuple]:
    return target.query(f"SELECT id, u, v FROM {dbname}.t ORDER BY id")


@pytest.mark.parametrize("multiple_rows", [True, False])
def test_changes_are_applied_in_key_order_with_counters(target, dbname, multiple_rows):
    t, dest = info(dbname), (dbname, "t")
    applier = make(target, multiple_rows=multiple_rows)
    try:
        # event-sized groups of rows, and single changes, interleaved over 4 workers
        applier.dispatch_rows(INSERT, t, dest, [[i, f"u{i}", 0] for i in range(1, 101)], 1, "ev1", False)
        applier.dispatch_rows(
            UPDATE,
            t,
            dest,
            [v for i in range(1, 101, 2) for v in ([i, f"u{i}", 0], [i, f"u{i}", i])],
            2,
            "ev2",
            False,
        )
        for i in range(1, 101, 3):
            applier.dispatch(RowChange(DELETE, t, dest, [i, f"u{i}", i if i % 2 else 0], None, 3), False)
            applier.dispatch(RowChange(INSERT, t, dest, None, [i, f"w{i}", -i], 3), False)
        assert applier.dispatched == 100 + 50 + 2 * 34
        applier.drain()
        assert applier.committed_through() == applier.dispatched == applier.rows_applied
        assert applier.oldest_pending_ts() is None and sum(applier.queue_depths()) == 0
    finally:
        applier.close()
    expected = []
    for i in range(1, 101):
        if i % 3 == 1:
            expected.append((i, f"w{i}", -i))
        else:
            expected.append((i, f"u{i}", i if i % 2 else 0))
    assert rows(target, dbname) == expected


@pytest.mark.parametrize("multiple_rows", [True, False])
def test_a_failure_names_its_change_and_rolls_the_batch_back(target, dbname, multiple_rows):
    target.execute(f"INSERT INTO {dbname}.t VALUES (5, 'taken', 0)")
    t, dest = info(dbname), (dbname, "t")
    applier = make(target, workers=1, batch=100, multiple_rows=multiple_rows)
    try:
        for i in range(1, 11):
            applier.dispatch(RowChange(INSERT, t, dest, None, [i, f"u{i}", i], 7, f"origin-{i}"), False)
        with pytest.raises(errors.DMError) as exc:
            applier.drain()
        assert applier.committed_through() == 0 and applier.rows_applied == 0
        assert applier.oldest_pending_ts() == 7, "failed changes were never applied: the lag counts them"
    finally:
        applier.close()
    err = exc.value
    assert err.code == errors.ErrDBExecuteFailed.code and "Duplicate entry '5'" in str(err)
    # one change per statement: the failing one; multi-row: its statement's first change
    assert ("origin-5" if not multiple_rows else "origin-1") in str(err)
    assert rows(target, dbname) == [(5, "taken", 0)], "the whole batch was rolled back"


def test_conflicting_keys_drain_and_generations_keep_order(target, dbname, monkeypatch):
    t, dest = info(dbname), (dbname, "t")
    monkeypatch.setattr(sync_apply, "MAX_CAUSALITY_KEYS", 40)
    applier = make(target, workers=4, batch=5)
    drains = []
    real_drain = applier.drain
    applier.drain = lambda: (drains.append(1), real_drain())[1]
    try:
        applier.dispatch(RowChange(INSERT, t, dest, None, [1, "x", 0]), False)
        # a row whose keys (id and u) land on another worker than row 1's
        other = next(
            i
            for i in range(2, 500)
            if applier.causality.assign([(f"`{dbname}`.`t`", 0, i), (f"`{dbname}`.`t`", 1, "y")])
            != applier.causality.relations[(f"`{dbname}`.`t`", 0, 1)]
        )
        applier.causality.reset()
        applier.causality.assign([(f"`{dbname}`.`t`", 0, 1), (f"`{dbname}`.`t`", 1, "x")])
        applier.dispatch(RowChange(INSERT, t, dest, None, [other, "y", 0]), False)
        applier.dispatch(RowChange(DELETE, t, dest, [other, "y", 0], None), False)
        # row 1 takes u='y': its keys live with two workers -> everything before it is applied first
        applier.dispatch(RowChange(UPDATE, t, dest, [1, "x", 0], [1, "y", 1]), False)
        assert drains, "a conflict drains the workers"
        drains.clear()
        # many distinct keys: the key map changes generation instead of draining each time
        for i in range(1000, 1400):
            applier.dispatch(RowChange(INSERT, t, dest, None, [i, None, i]), False)
            applier.dispatch(RowChange(UPDATE, t, dest, [i, None, i], [i, None, i + 1]), False)
        applier.drain()
        assert len(drains) <= 20
    finally:
        applier.close()
    assert rows(target, dbname) == [(1, "y", 1)] + [(i, None, i + 1) for i in range(1000, 1400)]


def test_a_blocked_target_applies_back_pressure_until_aborted(target, dbname):
    t, dest = info(dbname), (dbname, "t")
    target.execute(f"INSERT INTO {dbname}.t VALUES (1, 'a', 0)")
    blocker = target.connect()
    applier = make(target, workers=1, batch=1, queue_size=2)
    try:
        with blocker.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute(f"SELECT * FROM {dbname}.t WHERE id = 1 FOR UPDATE")
        applier.should_abort = lambda: True
        with pytest.raises(Aborted):
            for v in range(100):  # the worker waits for the row lock; its queue fills up
                applier.dispatch(RowChange(UPDATE, t, dest, [1, "a", v], [1, "a", v + 1]), False)
        assert applier.committed_through() < applier.dispatched
    finally:
        blocker.rollback()
        blocker.close()
        applier.close(timeout=5)


def test_a_lone_change_is_handed_over_when_its_buffer_is_old(target, dbname):
    t, dest = info(dbname), (dbname, "t")
    applier = make(target, workers=2, batch=100)
    try:
        applier.dispatch(RowChange(INSERT, t, dest, None, [1, "a", 0], 11), False)
        assert applier.oldest_pending_ts() == 11
        deadline = time.monotonic() + 30
        while applier.committed_through() < 1 and time.monotonic() < deadline:
            applier.check()  # the syncer calls it after every event
            time.sleep(0.001)
        assert applier.committed_through() == 1 and applier.oldest_pending_ts() is None
    finally:
        applier.close()
    assert rows(target, dbname) == [(1, "a", 0)]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "zombie" not in f.read()
    except OSError:
        return False


PARENT = """
import sys, time
from dmshell.engine.config.database import DBConfig
from dmshell.engine.sync.dml import INSERT, UPDATE, RowChange
from dmshell.engine.schema.tracker import table_from_create
from dmshell.engine.sync.apply import Applier

db, port = sys.argv[1], int(sys.argv[2])
t = table_from_create("CREATE TABLE t (id INT PRIMARY KEY, u VARCHAR(10) NULL, v INT, UNIQUE KEY uu (u))", db)
applier = Applier(DBConfig(host="127.0.0.1", port=port, user="root", password="dmshell-sandbox"),
                  workers=1, batch=1, queue_size=64, process=True)
print(applier._executor._proc.pid, flush=True)
applier.dispatch(RowChange(UPDATE, t, (db, "t"), [1, "a", 0], [1, "a", 1]), False)  # waits for the lock
for i in range(2, 12):
    applier.dispatch(RowChange(INSERT, t, (db, "t"), None, [i, None, i]), False)
print("dispatched", flush=True)
time.sleep(60)
"""


def test_the_dml_process_dies_with_its_syncer(target, dbname, tmp_path):
    """kill -9 of the syncer's process: its DML process must not outlive it (a restarted syncer
    replays from the checkpoint, and an orphan applying older changes would race with it)."""
    import os
    import signal
    import subprocess
    import sys

    target.execute(f"INSERT INTO {dbname}.t VALUES (1, 'a', 0)")
    blocker = target.connect()
    with blocker.cursor() as cur:
        cur.execute("BEGIN")
        cur.execute(f"SELECT * FROM {dbname}.t WHERE id = 1 FOR UPDATE")
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen(
        [sys.executable, str(script), dbname, str(target.port)], stdout=subprocess.PIPE, text=True
    )
    try:
        child = int(parent.stdout.readline())
        assert parent.stdout.readline().strip() == "dispatched"
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and alive(child):
            time.sleep(0.05)
        assert not alive(child)
    finally:
        parent.kill()
        blocker.rollback()
        blocker.close()
    time.sleep(0.5)
    assert rows(target, dbname) == [(1, "a", 0)], "nothing of the dead syncer's batches was applied"


class _Position:
    """What the applier reads of the syncer's LocationRecorder."""

    def __init__(self) -> None:
        self.pending_gtid = ""
        self.global_point = Location("mysql-bin.000001", 4)


def _recorded_applier(target, dbname: str, **kw) -> Applier:
    conn = target.connect()
    conn.autocommit(True)
    cp = SyncCheckpoint(conn, f"{dbname}_meta", "tapply", "src")
    cp.ensure_table()
    applier = make(target, record=cp.load_applied(), process=False, **kw)
    applier.loc = _Position()
    conn.close()
    return applier


@pytest.mark.parametrize("recorded_part", [0, 10, 20, 25])
def test_a_transaction_applied_in_parts_is_applied_once_after_a_restart(target, dbname, recorded_part):
    """25 changes with a bound of 10: parts of 10, 10 and 5 on lane 0, each recording its progress;
    a restart after any part (the record and the target as a kill -9 would leave them) applies
    the rest exactly once."""
    t, dest = info(dbname), (dbname, "t")
    images = [[i, f"u{i}", i] for i in range(1, 26)]
    end = Location("mysql-bin.000001", 900)
    target.execute(f"DROP DATABASE IF EXISTS `{dbname}_meta`")
    applier = _recorded_applier(target, dbname, max_txn_rows=10)
    try:
        applier.txn_begin()
        applier.dispatch_rows(INSERT, t, dest, images, 1, "ev", False)
        applier.txn_commit(end)
        applier.drain()
    finally:
        applier.close()
    assert len(rows(target, dbname)) == 25
    table = f"`{dbname}_meta`.`tapply_syncer_applied`"
    assert target.query(f"SELECT txn, rows_done FROM {table} WHERE txn LIKE '@%'") == [
        ("@mysql-bin.000001:4", 25)
    ]
    # as a kill -9 after the part ending at `recorded_part` would have left target and record
    target.execute(f"DELETE FROM {dbname}.t WHERE id > {recorded_part}")
    if recorded_part < 25:
        target.execute(f"DELETE FROM {table} WHERE txn NOT LIKE '@%'")
        target.execute(f"UPDATE {table} SET rows_done = {recorded_part}")
    if recorded_part == 0:
        target.execute(f"DELETE FROM {table}")
    applier = _recorded_applier(target, dbname, max_txn_rows=10)
    try:
        applier.txn_begin()
        applier.dispatch_rows(INSERT, t, dest, images, 1, "ev", False)
        applier.txn_commit(end)
        applier.drain()
    finally:
        applier.close()
    assert rows(target, dbname) == [tuple(r) for r in images]


def test_whole_transactions_are_recorded_and_dropped_on_replay(target, dbname):
    t, dest = info(dbname), (dbname, "t")
    target.execute(f"DROP DATABASE IF EXISTS `{dbname}_meta`")
    applier = _recorded_applier(target, dbname)
    try:
        for n in range(1, 31):  # 30 transactions of two rows on 4 lanes
            applier.txn_begin()
            applier.dispatch_rows(INSERT, t, dest, [[n, f"a{n}", 0], [100 + n, f"b{n}", 0]], 1, "ev", False)
            applier.txn_commit(Location("mysql-bin.000001", 1000 + n))
        applier.drain()
    finally:
        applier.close()
    applier = _recorded_applier(target, dbname)
    assert len(applier.record.done) == 30
    try:
        for n in range(1, 32):  # the same 30 again (dropped), and one more
            applier.txn_begin()
            applier.dispatch_rows(INSERT, t, dest, [[n, f"a{n}", 0], [100 + n, f"b{n}", 0]], 1, "ev", False)
            applier.txn_commit(Location("mysql-bin.000001", 1000 + n))
        applier.drain()
    finally:
        applier.close()
    assert len(rows(target, dbname)) == 62 and not applier.record.done
