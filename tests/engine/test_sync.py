"""The sync unit against the real MariaDB fixture: row-by-row convergence for every key kind on both
upstreams (no column metadata on up1, FULL on up2), DDL replay, routing, stop/restart and forced
replays in safe mode, DDL errors, GTID recording, lag, and the dump → load → sync hand-over."""

from __future__ import annotations

import threading

import pytest

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location, master_status
from dmshell.engine.config.task import Meta
from dmshell.engine.filters.rule_types import RouteRule
from dmshell.engine.sync import syncer as sync
from dmshell.proto import dmworker_pb2 as pb

from .sync_helpers import Running, checkpoint_rows, converge, fresh_db, make_ctx, rows, synced, wait_until


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


KEY_TABLES = {
    "pk": "CREATE TABLE {db}.pk (id INT UNSIGNED PRIMARY KEY, big BIGINT UNSIGNED, name VARCHAR(20), "
    "e ENUM('a','b','c'), s SET('x','y'), b BIT(5), bin VARBINARY(8), dec_ DECIMAL(10,3), "
    "f FLOAT, ts TIMESTAMP(3) NULL, d DATE, t TIME, doc TEXT, lat VARCHAR(10) CHARACTER SET latin1, "
    "g BIGINT AS (id * 2) VIRTUAL)",
    "cpk": "CREATE TABLE {db}.cpk (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b))",
    "uk": "CREATE TABLE {db}.uk (u INT NOT NULL, v VARCHAR(10), n INT NULL, UNIQUE KEY uu (u), "
    "UNIQUE KEY un (n))",
    "nokey": "CREATE TABLE {db}.nokey (a INT, b VARCHAR(10))",
}


def key_workload(server, db: str) -> None:
    server.execute(
        f"INSERT INTO {db}.pk (id, big, name, e, s, b, bin, dec_, f, ts, d, t, doc, lat) VALUES "
        "(1, 18446744073709551615, 'one', 'a', 'x,y', b'10101', 0x00ff10, 1.5, 0.1, '2020-01-01 00:00:00.5', "
        "'2020-02-03', '-01:02:03', 'héllo ☃', 'caf\xe9'), "
        "(4294967295, 9223372036854775808, NULL, 'c', '', b'0', '', -2.25, -1e10, "
        "NULL, NULL, NULL, NULL, NULL), "
        "(3, 0, 'three', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        f"UPDATE {db}.pk SET name = 'uno', big = big - 1 WHERE id = 1",
        "FLUSH BINARY LOGS",  # the reader follows the rotation
        f"UPDATE {db}.pk SET id = 4 WHERE id = 3",
        f"DELETE FROM {db}.pk WHERE id = 4294967295",
        f"INSERT INTO {db}.cpk VALUES (1, 'a', 1), (1, 'b', 2), (2, 'a', 3)",
        f"UPDATE {db}.cpk SET b = 'c' WHERE a = 1 AND b = 'b'",
        f"UPDATE {db}.cpk SET v = v + 10",
        f"DELETE FROM {db}.cpk WHERE a = 2",
        f"INSERT INTO {db}.uk VALUES (1, 'x', NULL), (2, 'y', 5), (3, 'z', NULL)",
        f"UPDATE {db}.uk SET u = 10 WHERE u = 1",
        f"UPDATE {db}.uk SET v = 'w', n = 6 WHERE u = 2",
        f"DELETE FROM {db}.uk WHERE u = 3",
        f"INSERT INTO {db}.nokey VALUES (1, 'a'), (2, 'b'), (3, NULL)",
        f"UPDATE {db}.nokey SET b = 'bb' WHERE a = 2",
        f"DELETE FROM {db}.nokey WHERE a = 1",
        f"UPDATE {db}.nokey SET a = 30 WHERE b IS NULL",
    )


@pytest.mark.parametrize("upstream", ["up1", "up2"])
def test_dml_of_every_key_kind_converges(mariadb, db, tmp_path, upstream):
    src, dst = getattr(mariadb, upstream), mariadb.target
    running = Running(make_ctx(tmp_path, src, dst, db))
    try:
        # CREATE DATABASE / CREATE TABLE while the unit runs
        src.execute(f"CREATE DATABASE {db}", *(sql.format(db=db) for sql in KEY_TABLES.values()))
        key_workload(src, db)
        converge(src, dst, [(f"{db}.{t}", f"{db}.{t}") for t in KEY_TABLES], running)
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
        st = running.unit.status()
        assert st.binlogType == "remote" and st.totalRows >= 20 and st.ioTotalBytes > 0
        assert st.secondsBehindMaster == 0
    finally:
        running.stop()


def test_ddl_then_dml_in_one_binlog_decoded_without_metadata(mariadb, db, tmp_path):
    """up1 logs no column names: rows before and after ADD/DROP COLUMN must be decoded with the
    structure of their time, all of it already in the binlog when the unit starts."""
    src, dst = mariadb.up1, mariadb.target
    ctx = make_ctx(tmp_path, src, dst, db)
    src.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, a INT UNSIGNED, b VARCHAR(10))",
        f"INSERT INTO {db}.t VALUES (1, 4294967295, 'x'), (2, 2, 'y')",
        f"ALTER TABLE {db}.t ADD COLUMN c BIGINT UNSIGNED NOT NULL DEFAULT 5 AFTER id, ADD d ENUM('p','q')",
        f"INSERT INTO {db}.t VALUES (3, 4294967290, 3, 'z', 'q')",
        f"UPDATE {db}.t SET d = 'p', b = 'w' WHERE id = 1",
        f"ALTER TABLE {db}.t DROP COLUMN a",
        f"INSERT INTO {db}.t VALUES (4, 7, 'v', 'q')",
        f"UPDATE {db}.t SET c = c + 1",
        f"ALTER TABLE {db}.t CHANGE b bb VARCHAR(20), MODIFY c INT UNSIGNED, RENAME COLUMN d TO dd",
        f"INSERT INTO {db}.t VALUES (5, 4294967295, 'u', NULL)",
        f"DELETE FROM {db}.t WHERE id = 2",
    )
    running = Running(ctx)
    try:
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
        assert [r[0] for r in dst.query(f"SHOW COLUMNS FROM {db}.t")] == ["id", "c", "bb", "dd"]
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
    finally:
        running.stop()
    (table_row,) = [r for r in checkpoint_rows(dst, db) if r[1] == "t"]
    assert '"name":"dd"' in table_row[8] and '"name":"a"' not in table_row[8]


def test_routing_two_shards_into_one_table(mariadb, db, tmp_path):
    src, dst = mariadb.up2, mariadb.target
    src.execute(
        f"CREATE DATABASE {db}",
        *(f"CREATE TABLE {db}.shard_{i} (id INT PRIMARY KEY, v VARCHAR(10))" for i in (1, 2)),
    )
    dst.execute(f"CREATE DATABASE {db}_t", f"CREATE TABLE {db}_t.merged (id INT PRIMARY KEY, v VARCHAR(10))")
    route = RouteRule(
        schema_pattern=db, table_pattern="shard_*", target_schema=f"{db}_t", target_table="merged"
    )
    running = Running(make_ctx(tmp_path, src, dst, db, routes=[route]))
    try:
        src.execute(
            f"INSERT INTO {db}.shard_1 VALUES (1, 'a'), (3, 'c')",
            f"INSERT INTO {db}.shard_2 VALUES (2, 'b'), (4, 'd')",
            f"UPDATE {db}.shard_2 SET v = 'bb' WHERE id = 2",
            f"DELETE FROM {db}.shard_1 WHERE id = 3",
        )
        want = [("1", "a"), ("2", "bb"), ("4", "d")]
        wait_until(lambda: rows(dst, f"SELECT * FROM {db}_t.merged") == want, "merged rows", running=running)
    finally:
        running.stop()


def test_stop_restart_and_forced_replay_are_exact(mariadb, db, tmp_path):
    """Stop while writes go on, restart: nothing lost, nothing doubled. Then rewind the checkpoint
    (every row of it) to an older state and restart: the replay in safe mode is idempotent."""
    src, dst = mariadb.up1, mariadb.target
    ctx = make_ctx(tmp_path, src, dst, db, batch=7, safe_mode_duration=0.5)
    src.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.k (id INT PRIMARY KEY, n INT, u INT NOT NULL, UNIQUE KEY (u))",
        f"CREATE TABLE {db}.h (a INT, b VARCHAR(20))",
    )
    tables = [(f"{db}.k", f"{db}.k"), (f"{db}.h", f"{db}.h")]
    counter = iter(range(1, 1_000_000))

    def writes(n: int) -> None:
        with src.connect() as conn, conn.cursor() as cur:
            for _ in range(n):
                i = next(counter)
                cur.execute(f"INSERT INTO {db}.k (id, n, u) VALUES ({i}, 0, {i})")
                cur.execute(f"INSERT INTO {db}.h VALUES ({i}, 'row {i}')")
                if i % 3 == 0:
                    cur.execute(f"UPDATE {db}.k SET n = n + 1, u = u + 100000 WHERE id = {i - 1}")
                    cur.execute(f"UPDATE {db}.h SET b = CONCAT(b, '!') WHERE a = {i - 2}")
                if i % 5 == 0:
                    cur.execute(f"DELETE FROM {db}.k WHERE id = {i - 4}")
                    cur.execute(f"DELETE FROM {db}.h WHERE a = {i - 3}")

    running = Running(ctx)
    writes(30)
    converge(src, dst, tables, running)
    wait_until(lambda: synced(running.unit, src), "synced status", running=running)
    running.stop()
    old_checkpoint = checkpoint_rows(dst, db)
    global_row = next(r for r in old_checkpoint if r[9])
    with src.connect() as conn:
        assert Location(global_row[2], global_row[3]).same_position(master_status(conn))

    # stop in the middle of a stream of writes
    running = Running(ctx)
    writer = threading.Thread(target=writes, args=(120,))
    writer.start()
    wait_until(lambda: running.unit.status().totalRows > 20, "some rows applied", running=running)
    running.stop()
    writer.join()
    writes(10)
    running = Running(ctx)
    ddl_applied = False
    try:
        src.execute(f"ALTER TABLE {db}.k ADD COLUMN extra INT DEFAULT 3")
        writes(10)
        ddl_applied = True
        converge(src, dst, tables, running)
    finally:
        running.stop()
    assert ddl_applied

    # rewind to the first checkpoint (what a DBA does by hand): a forced replay needs the user's
    # safe mode (the automatic one is no longer crash recovery: the applied record is, issue 12)
    dst.execute(f"DELETE FROM `{db}_meta`.tsync_syncer_checkpoint")
    with dst.connect() as conn, conn.cursor() as cur:
        for r in old_checkpoint:
            cur.execute(
                f"INSERT INTO `{db}_meta`.tsync_syncer_checkpoint (id, cp_schema, cp_table, "
                "binlog_name, binlog_pos, binlog_gtid, exit_safe_binlog_name, exit_safe_binlog_pos, "
                "exit_safe_binlog_gtid, table_info, is_global) "
                "VALUES ('mysql-01', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                r,
            )
    dst.execute(f"DELETE FROM `{db}_meta`.tsync_syncer_applied")
    replay_ctx = make_ctx(tmp_path, src, dst, db, batch=7, safe_mode=True, safe_mode_duration=0.5)
    running = Running(replay_ctx)
    try:
        writes(5)
        converge(src, dst, tables, running)
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
    finally:
        running.stop()
    (global_row,) = [r for r in checkpoint_rows(dst, db) if r[9]]
    assert global_row[5] == "" and global_row[6] == 0, "safe mode was left and its exit point cleared"


def test_safe_mode_exit_point_is_persisted(mariadb, db, tmp_path):
    src, dst = mariadb.up1, mariadb.target
    src.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    dst.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    ctx = make_ctx(tmp_path, src, dst, db, safe_mode_duration=600)
    with src.connect() as conn:
        at_start = master_status(conn)
    running = Running(ctx)
    try:
        wait_until(lambda: running.unit.status().syncerBinlog != "", "the first checkpoint", running=running)
        src.execute(f"INSERT INTO {db}.t VALUES (1)")
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
    finally:
        running.stop()
    (row,) = [r for r in checkpoint_rows(dst, db) if r[9]]
    # no automatic safe mode after an incremental start or a restart (issue 12: the applied record
    # makes the replay exact); it is only for the first run after a non-consistent dump
    assert row[5] == "" and row[6] == 0 and at_start.pos > 0
    # as if that first run had crashed while in safe mode: the exit point lies beyond the checkpoint
    further = row[3] + 100_000
    dst.execute(
        f"UPDATE `{db}_meta`.tsync_syncer_checkpoint SET exit_safe_binlog_name = binlog_name, "
        f"exit_safe_binlog_pos = {further} WHERE is_global"
    )
    running = Running(ctx)
    try:
        wait_until(
            lambda: running.unit.status().secondsBehindMaster == 0 and synced(running.unit, src),
            "synced status",
            running=running,
        )
    finally:
        running.stop()
    (row,) = [r for r in checkpoint_rows(dst, db) if r[9]]
    assert row[6] == further, "the further exit point of the previous run wins"
    # a start that would have to replay without safe mode refuses to start, as DM
    running = Running(make_ctx(tmp_path, src, dst, db, safe_mode_duration=0))
    err = running.wait_error()
    assert isinstance(err, errors.DMError) and err.code == 36071


def test_ddl_rejected_by_target_pauses_with_dm_error(mariadb, db, tmp_path):
    src, dst = mariadb.up1, mariadb.target
    running = Running(make_ctx(tmp_path, src, dst, db))
    src.execute(
        f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)", f"INSERT INTO {db}.t VALUES (1)"
    )
    converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
    dst.execute(f"DROP TABLE {db}.t")
    alter = f"ALTER TABLE {db}.t ADD COLUMN c INT"
    src.execute(alter)
    err = running.wait_error()
    assert isinstance(err, errors.DMError) and not err.resumable
    assert (err.code, str(err.entry.cls), str(err.entry.scope)) == (36061, "sync-unit", "downstream")
    assert err.message.startswith("startLocation: [position: (mysql-bin.")
    routed = f"ALTER TABLE `{db}`.`t` ADD COLUMN c INT"
    assert f"origin SQL: [{alter}]: fail to handle ddl job for {routed}" in err.message
    assert err.raw_cause.startswith("Error 1146") and err.message.count("1146") == 0
    # the checkpoint stays before the failed DDL: a resume tries it again
    (global_row,) = [r for r in checkpoint_rows(dst, db) if r[9]]
    with src.connect() as conn:
        assert Location(global_row[2], global_row[3]) < master_status(conn)


def test_gtid_recorded_and_gtid_only_meta(mariadb, db, tmp_path):
    src, dst = mariadb.up1, mariadb.target
    src.execute(
        f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)", f"INSERT INTO {db}.t VALUES (1)"
    )
    dst.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    gtid = src.query("SELECT @@gtid_binlog_pos")[0][0]
    assert gtid.startswith("1-101-")
    ctx = make_ctx(
        tmp_path, src, dst, db, meta=Meta(binlog_name="", binlog_pos=4, binlog_gtid=gtid), enable_gtid=True
    )
    running = Running(ctx)
    try:
        src.execute(f"INSERT INTO {db}.t VALUES (2)", f"UPDATE {db}.t SET id = 3 WHERE id = 2")
        wait_until(
            lambda: rows(dst, f"SELECT * FROM {db}.t") == [("3",)],
            "only changes after the GTID",
            running=running,
        )
        wait_until(lambda: synced(running.unit, src), "synced status", running=running)
        st = running.unit.status()
        now = src.query("SELECT @@gtid_binlog_pos")[0][0]
        assert st.syncerBinlogGtid == now == st.masterBinlogGtid and now != gtid
    finally:
        running.stop()
    (global_row,) = [r for r in checkpoint_rows(dst, db) if r[9]]
    assert global_row[4] == now


def test_lag_grows_while_blocked_and_stop_stays_prompt(mariadb, db, tmp_path, monkeypatch):
    src, dst = mariadb.up2, mariadb.target
    ctx = make_ctx(tmp_path, src, dst, db, safe_mode_duration=0.5)
    running = Running(ctx)
    src.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    blocker = dst.connect()
    try:
        src.execute(f"INSERT INTO {db}.t VALUES (0)")
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
        with blocker.cursor() as cur:
            cur.execute(f"LOCK TABLES {db}.t WRITE")
        src.execute(f"INSERT INTO {db}.t VALUES (1)")
        wait_until(lambda: running.unit.status().secondsBehindMaster >= 2, "lag to grow", running=running)
        assert not synced(running.unit, src)
        # a stop while the target is stuck gives up waiting for it (no checkpoint past the stuck row)
        monkeypatch.setattr(sync, "STOP_DRAIN_GRACE", 0.5)
        running.stop()
        with blocker.cursor() as cur:
            cur.execute("UNLOCK TABLES")
        src.execute(f"INSERT INTO {db}.t VALUES (2)")
        running = Running(ctx)
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
        wait_until(lambda: running.unit.status().secondsBehindMaster == 0, "lag back to 0", running=running)
    finally:
        blocker.close()
        running.stop()


def test_connection_losses_are_resumable(mariadb, db, tmp_path):
    src, dst = mariadb.up2, mariadb.target
    ctx = make_ctx(tmp_path, src, dst, db, safe_mode_duration=0.5)
    running = Running(ctx)
    src.execute(
        f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)", f"INSERT INTO {db}.t VALUES (1)"
    )
    converge(src, dst, [(f"{db}.t", f"{db}.t")], running)

    # the target drops every connection of the unit
    with dst.connect() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() "
            "AND command <> 'Daemon'"
        )
        for (cid,) in cur.fetchall():
            cur.execute(f"KILL CONNECTION {cid}")
    src.execute(f"INSERT INTO {db}.t VALUES (2)")
    err = running.wait_error()
    assert isinstance(err, errors.DMError) and err.resumable, err

    running = Running(ctx)
    converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
    # the upstream goes away
    src.stop()
    try:
        err = running.wait_error()
    finally:
        src.start()
    assert isinstance(err, errors.DMError) and err.resumable and err.code == 36069, err
    running = Running(ctx)
    try:
        src.execute(f"INSERT INTO {db}.t VALUES (3)")
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
    finally:
        running.stop()


def test_all_mode_continues_where_the_load_finished(mariadb, db, tmp_path):
    """task-mode all: the sync starts at the dump's location and takes table structures from the
    dump's schema files (the upstream's current structure would not fit the older rows)."""
    from dmshell.engine.dump.dumper import DumpUnit
    from dmshell.engine.load.loader import LoadUnit

    src, dst = mariadb.up1, mariadb.target
    src.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v INT UNSIGNED)",
        f"INSERT INTO {db}.t VALUES (1, 4294967295), (2, 2)",
    )
    ctx = make_ctx(tmp_path, src, dst, db, task_mode="all")
    DumpUnit(ctx).process(threading.Event())
    # rows logged before the ALTER can only be decoded with the dump's (older) structure
    src.execute(
        f"INSERT INTO {db}.t VALUES (4, 4294967293)",
        f"ALTER TABLE {db}.t ADD COLUMN w INT",
        f"INSERT INTO {db}.t VALUES (3, 4294967294, 3)",
        f"UPDATE {db}.t SET w = id",
    )
    LoadUnit(ctx).process(threading.Event())
    assert rows(dst, f"SELECT * FROM {db}.t") == [("1", "4294967295"), ("2", "2")]
    running = Running(ctx)
    try:
        converge(src, dst, [(f"{db}.t", f"{db}.t")], running)
    finally:
        running.stop()
    assert isinstance(running.unit.status(), pb.SyncStatus)
