"""Pessimistic shard DDL through the real daemon (issue 10): two upstreams with two shard tables
each, merged into one target table. The master's lock appears with synced/unsynced sources while
they disagree, the owner executes the DDL once, the target ends equal to the union; dmctl shows and
unlocks locks (exec, skip, owner, force-remove) with DM's JSON; a kill -9 of the daemon while a
lock is pending keeps the lock, and the task converges afterwards."""

from __future__ import annotations

import io
import json
import time

import pytest
from daemon_helpers import Daemon, source_yaml, wait_for

from dmshell.ctl.main import run_command
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb

S1, S2 = "mysql-replica-01", "mysql-replica-02"
TASK = "shardtask"
SHARDS = {S1: (1, 2), S2: (3, 4)}


def servers(mariadb):
    return {S1: mariadb.up1, S2: mariadb.up2}


def prepare(mariadb, db: str) -> None:
    for sid, server in servers(mariadb).items():
        server.execute(f"DROP DATABASE IF EXISTS {db}", f"CREATE DATABASE {db}")
        for i in SHARDS[sid]:
            server.execute(
                f"CREATE TABLE {db}.shard_{i} (id INT PRIMARY KEY, v INT)",
                f"INSERT INTO {db}.shard_{i} VALUES ({i * 100 + 1}, 1), ({i * 100 + 2}, 2)",
            )
    mariadb.target.execute(f"DROP DATABASE IF EXISTS {db}", f"DROP DATABASE IF EXISTS {db}_meta")


def task_yaml(mariadb, db: str, safe_mode_duration: str, mode: str = "pessimistic") -> str:
    return f"""\
name: {TASK}
task-mode: all
shard-mode: {mode}
meta-schema: {db}_meta
target-database:
{mariadb.target.connection_yaml()}block-allow-list:
  only:
    do-dbs: ["{db}"]
routes:
  merge:
    schema-pattern: "{db}"
    table-pattern: "shard_*"
    target-schema: "{db}"
    target-table: "merged"
syncers:
  fast:
    checkpoint-flush-interval: 1
    safe-mode-duration: {safe_mode_duration}
mysql-instances:
  - source-id: {S1}
    block-allow-list: only
    route-rules: ["merge"]
    syncer-config-name: fast
  - source-id: {S2}
    block-allow-list: only
    route-rules: ["merge"]
    syncer-config-name: fast
"""


def start(d: Daemon, mariadb, db: str, safe_mode_duration: str = "0s", mode: str = "pessimistic") -> None:
    created = d.stub.OperateSource(
        mpb.OperateSourceRequest(
            op=mpb.StartSource, config=[source_yaml(S1, mariadb.up1), source_yaml(S2, mariadb.up2)]
        ),
        timeout=60,
    )
    assert created.result, created
    started = d.stub.StartTask(
        mpb.StartTaskRequest(task=task_yaml(mariadb, db, safe_mode_duration, mode)), timeout=60
    )
    assert started.result, started
    for sid in (S1, S2):
        d.wait_subtask(TASK, sid, lambda st: st.stage == pb.Running and st.unit == pb.Sync, 60)


def dmctl(d: Daemon, *argv: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    run_command([f"--master-addr={d.addr}", *argv], out=out, err=err)
    return json.loads(out.getvalue())


def union(mariadb, db: str, cols: str) -> list[tuple]:
    out = []
    for sid, server in servers(mariadb).items():
        for i in SHARDS[sid]:
            out += server.rendered_rows(f"SELECT {cols} FROM {db}.shard_{i}")
    return sorted(out)


def converge(d: Daemon, mariadb, db: str, cols: str = "id, v", timeout: float = 60) -> None:
    def same() -> bool:
        try:
            return mariadb.target.rendered_rows(f"SELECT {cols} FROM {db}.merged") == union(mariadb, db, cols)
        except Exception:  # the target table may not exist yet
            return False

    try:
        wait_for(same, timeout, f"the union of the shards ({cols})", step=0.3)
    except AssertionError:
        status = d.stub.QueryStatus(mpb.QueryStatusListRequest(name=TASK), timeout=15)
        raise AssertionError(f"{status}\n{d.log()}") from None


def on_shards(mariadb, db: str, sid: str, *templates: str) -> None:
    """Each template (``{t}``: the shard table) on every shard of ``sid``, shard by shard."""
    for i in SHARDS[sid]:
        servers(mariadb)[sid].execute(*(t.format(t=f"{db}.shard_{i}", i=i) for t in templates))


def lock_of(d: Daemon) -> dict | None:
    locks = dmctl(d, "shard-ddl-lock", TASK)["locks"]
    return locks[0] if locks else None


def sync_status(d: Daemon, sid: str) -> pb.SubTaskStatus:
    st = d.subtask(TASK, sid)
    assert st is not None
    return st


def test_lock_synced_unsynced_then_owner_executes_and_unlock_exec_skip(mariadb, dbname, daemon_factory):
    db = dbname
    prepare(mariadb, db)
    d = daemon_factory().start()
    start(d, mariadb, db)
    converge(d, mariadb, db)
    add_c = "ALTER TABLE {t} ADD COLUMN c INT"
    on_shards(mariadb, db, S1, add_c, "INSERT INTO {t} VALUES ({i}10, 10, {i})", "UPDATE {t} SET v = v + 1")
    lock = wait_for(lambda: lock_of(d), 30, "the lock")
    lid = f"{TASK}-`{db}`.`merged`"
    ddl = f"ALTER TABLE `{db}`.`merged` ADD COLUMN c INT"
    assert lock == {
        "ID": lid,
        "task": TASK,
        "mode": "pessimistic",
        "owner": S1,
        "DDLs": [ddl],
        "synced": [S1],
        "unsynced": [S2],
    }
    assert dmctl(d, "show-ddl-locks")["locks"] == [lock]
    st = d.wait_subtask(TASK, S1, lambda s: s.unresolvedDDLLockID == lid, 30)
    assert list(st.sync.blockingDDLs) == [ddl]
    (group,) = st.sync.unresolvedGroups
    assert (group.target, list(group.DDLs), list(group.unsynced)) == (f"`{db}`.`merged`", [ddl], [])
    assert list(group.synced) == [f"`{db}`.`shard_1`", f"`{db}`.`shard_2`"]
    # force-remove: the lock goes, the waiting source reports again (a fresh lock, same owner)
    assert dmctl(d, "shard-ddl-lock", "unlock", lid, "--force-remove") == {"result": True, "msg": ""}
    assert wait_for(lambda: lock_of(d), 30, "the lock again")["owner"] == S1
    # source 2 reaches the DDL shard by shard, with DML between: the owner executes it once
    on_shards(
        mariadb,
        db,
        S2,
        "INSERT INTO {t} VALUES ({i}20, 20)",
        add_c,
        "INSERT INTO {t} VALUES ({i}21, 21, {i})",
    )
    converge(d, mariadb, db, "id, v, c")
    assert dmctl(d, "shard-ddl-lock")["msg"] == "no DDL lock exists"
    assert sync_status(d, S1).unresolvedDDLLockID == ""

    # unlock --action exec: source 2 never adds the index; the chosen owner executes it
    on_shards(mariadb, db, S1, "ALTER TABLE {t} ADD INDEX ic (c)", "INSERT INTO {t} VALUES ({i}30, 30, 30)")
    wait_for(lambda: lock_of(d), 30, "the index lock")
    resp = dmctl(d, "shard-ddl-lock", "unlock", lid, "--owner", S1, "--action", "exec")
    assert resp == {"result": True, "msg": ""}
    converge(d, mariadb, db, "id, v, c")
    assert mariadb.target.query(f"SHOW INDEX FROM {db}.merged WHERE Key_name = 'ic'")
    wait_for(lambda: lock_of(d) is None, 30, "the index lock gone")

    # unlock --action skip: the DBA ran the DDL on the target; nobody executes it again
    mariadb.target.execute(f"ALTER TABLE {db}.merged ADD COLUMN d INT")
    on_shards(
        mariadb, db, S1, "ALTER TABLE {t} ADD COLUMN d INT", "INSERT INTO {t} VALUES ({i}40, 40, 40, 40)"
    )
    wait_for(lambda: lock_of(d), 30, "the column lock")
    assert dmctl(d, "unlock-ddl-lock", lid, "--action", "skip") == {"result": True, "msg": ""}
    mariadb.up2.execute(f"INSERT INTO {db}.shard_3 VALUES (350, 50, 50)")
    converge(d, mariadb, db, "id, v, c")
    assert mariadb.target.rendered_rows(f"SELECT d FROM {db}.merged WHERE id IN (140, 240)") == [
        ("40",),
        ("40",),
    ]
    for sid in (S1, S2):
        st = sync_status(d, sid)
        assert st.stage == pb.Running and not st.result.errors, st


def test_kill_9_while_a_lock_is_pending_then_convergence(mariadb, dbname, daemon_factory, tmp_path):
    db = dbname
    prepare(mariadb, db)
    d = daemon_factory(tmp_path / "data").start()
    start(d, mariadb, db, safe_mode_duration="60s")
    converge(d, mariadb, db)
    on_shards(
        mariadb,
        db,
        S1,
        "ALTER TABLE {t} ADD COLUMN c INT",
        "INSERT INTO {t} VALUES ({i}10, 10, 1)",
        "DELETE FROM {t} WHERE v = 1",
    )
    mariadb.up2.execute(f"INSERT INTO {db}.shard_3 VALUES (320, 20)")
    lock = wait_for(lambda: lock_of(d), 30, "the lock")
    d.kill()
    d = daemon_factory(tmp_path / "data").start()
    assert wait_for(lambda: lock_of(d), 30, "the lock after the restart") == lock
    on_shards(mariadb, db, S2, "ALTER TABLE {t} ADD COLUMN c INT", "INSERT INTO {t} VALUES ({i}30, 30, 3)")
    time.sleep(0.5)
    mariadb.up1.execute(f"UPDATE {db}.shard_1 SET c = 7")
    converge(d, mariadb, db, "id, v, c", timeout=90)
    wait_for(lambda: lock_of(d) is None, 30, "the lock gone")


@pytest.mark.asyncio
async def test_tui_unlock_flow_against_the_daemon(mariadb, dbname, daemon_factory):
    """View 4 shows the pending lock and its shards; ``x`` asks with the exact dmctl command, ``y``
    unlocks (the owner executes), and the view follows the lock until it is gone."""
    from dmshell.screens.confirm import ConfirmScreen
    from dmshell.screens.ddl_locks import DDLLocksScreen
    from dmshell.tui.app import DMShellApp

    db = dbname
    prepare(mariadb, db)
    d = daemon_factory().start()
    start(d, mariadb, db)
    converge(d, mariadb, db)
    on_shards(mariadb, db, S1, "ALTER TABLE {t} ADD COLUMN c INT", "INSERT INTO {t} VALUES ({i}10, 10, 1)")
    lid = wait_for(lambda: lock_of(d), 30, "the lock")["ID"]
    app = DMShellApp(d.addr, interval_ms=200)
    async with app.run_test(size=(120, 40)) as pilot:

        async def until(predicate, what: str, timeout: float = 30) -> None:
            for _ in range(int(timeout / 0.05)):
                if predicate():
                    return
                await pilot.pause(0.05)
            raise AssertionError(f"timed out waiting for {what}")

        await until(lambda: app.snapshot.tasks, "the first status")
        await pilot.press("4")
        await until(lambda: isinstance(app.screen, DDLLocksScreen) and app.screen.locks, "the lock in view 4")
        screen = app.screen
        assert [lk.ID for lk in screen.locks] == [lid]
        await until(
            lambda: any(st.unresolved_groups for t in app.snapshot.tasks for st in t.subtasks), "the groups"
        )
        await pilot.pause(0.2)
        grid = screen.query_one("#shard-grid")
        assert grid.row_count == 3, "two synced shards of mysql-replica-01, mysql-replica-02 waiting"
        await pilot.press("x")
        await until(lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        assert f"shard-ddl-lock unlock '{lid}' --action exec" in app.screen.command
        await pilot.press("y")
        await until(
            lambda: isinstance(app.screen, DDLLocksScreen) and not app.screen.locks, "the lock gone", 60
        )
    converge(d, mariadb, db)
    got = mariadb.target.rendered_rows(f"SELECT id, c FROM {db}.merged WHERE id IN (110, 210)")
    assert got == [("110", "1"), ("210", "1")], "the owner executed the DDL; the held rows followed"


def test_optimistic_through_the_daemon_lock_while_shards_differ_and_conflict(mariadb, dbname, daemon_factory):
    db = dbname
    prepare(mariadb, db)
    d = daemon_factory().start()
    start(d, mariadb, db, mode="optimistic")
    converge(d, mariadb, db)
    mariadb.up1.execute(
        f"ALTER TABLE {db}.shard_1 ADD COLUMN c INT", f"INSERT INTO {db}.shard_1 VALUES (110, 10, 1)"
    )
    mariadb.up2.execute(f"INSERT INTO {db}.shard_3 VALUES (310, 30)")
    converge(d, mariadb, db)
    assert mariadb.target.rendered_rows(f"SELECT c FROM {db}.merged WHERE id = 110") == [
        ("1",)
    ], "added at once"
    lock = wait_for(lambda: lock_of(d), 30, "the optimistic lock")
    assert (lock["ID"], lock["mode"]) == (f"{TASK}-`{db}`.`merged`", "optimistic")
    assert (lock["synced"], lock["unsynced"]) == ([], [S1, S2]), "every source has a shard without c"
    for sid in (S1, S2):
        for i in SHARDS[sid]:
            if i != 1:
                servers(mariadb)[sid].execute(
                    f"ALTER TABLE {db}.shard_{i} ADD COLUMN c INT",
                    f"INSERT INTO {db}.shard_{i} VALUES ({i}20, 20, {i})",
                )
    converge(d, mariadb, db, "id, v, c")
    wait_for(lambda: lock_of(d) is None, 30, "the shards in step again")
    # a column added with another type on another shard: a conflict, reported in query-status
    mariadb.up2.execute(f"ALTER TABLE {db}.shard_3 ADD COLUMN d INT")
    mariadb.up2.execute(f"ALTER TABLE {db}.shard_4 ADD COLUMN d VARCHAR(8)")
    st = d.wait_subtask(TASK, S2, lambda s: s.stage == pb.Paused and bool(s.result.errors), 60)
    assert st.result.errors[0].ErrCode == 36062
    conflict = (
        f"column `d` added as `varchar(8)` on {S2} `{db}`.`shard_4`, but it is `int` on the other shards"
    )
    assert st.result.errors[0].Message.endswith(f"conflict error: {conflict}")
    assert (st.sync.blockDDLOwner, st.sync.conflictMsg) == (f"{S2}-`{db}`.`shard_4`", conflict)
    assert sync_status(d, S1).stage == pb.Running, "only the conflicting source stops"
