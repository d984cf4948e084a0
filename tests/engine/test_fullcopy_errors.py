"""Bad input for the full copy: each problem raises DM's error (code, message, workaround) — which
pauses the subtask — and running the unit again after the cause is fixed completes with the target
equal to the source, row for row.

* a target user without the needed privileges (fixed by GRANT);
* a table the target cannot create (a storage engine the target refuses; fixed by creating the
  table by hand);
* a full disk in the dump directory (a 1 MiB tmpfs; fixed by growing it);
* a source that disappears in the middle of the dump (its own server, killed; fixed by restarting it);
* merged shards from two sources whose columns differ, and a target without LOAD DATA LOCAL.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from pathlib import Path

import pymysql
import pytest

from dmshell.engine import errors
from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.config.units import LoaderConfig, MydumperConfig, SyncerConfig
from dmshell.engine.dump.dumper import DumpUnit
from dmshell.engine.filters.rule_types import BAList, RouteRule
from dmshell.engine.load.loader import LoadUnit
from dmshell.engine.unit import UnitContext
from dmshell.sandbox import Sandbox, ServerSpec

USER, PASSWORD = "dm_limited", "limited-pw"


def make_ctx(
    work: Path,
    source: DBConfig,
    target: DBConfig,
    dbname: str,
    *,
    source_id: str = "mysql-01",
    routes: list[RouteRule] | None = None,
    rows: int = 0,
    threads: int = 2,
) -> UnitContext:
    cfg = SubTaskConfig(
        name="terr",
        task_mode="all",
        source_id=source_id,
        meta_schema=f"{dbname}_meta",
        target=target,
        meta=None,
        block_allow_list=BAList(do_dbs=[dbname]),
        routes=routes or [],
        mydumper=MydumperConfig(threads=threads, rows=rows),
        loader=LoaderConfig(pool_size=2),
        syncer=SyncerConfig(),
    )
    return UnitContext(
        cfg=cfg,
        source=SourceConfig(source_id=source_id, from_db=source),
        work_dir=work / source_id,
        worker_name="worker1",
    )


def rows_of(server, table: str) -> list[tuple]:
    conn = server.connect() if hasattr(server, "connect") else server
    conn.decoders = {}
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM {table}")
            return sorted(cur.fetchall(), key=repr)
    finally:
        conn.close()


def raises(fn) -> errors.DMError:
    with pytest.raises(errors.DMError) as info:
        fn()
    return info.value


def fill(server, dbname: str, rows: int = 500) -> None:
    server.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v VARCHAR(50), b BLOB)",
        f"INSERT INTO {dbname}.t SELECT seq, CONCAT('value ', seq), UNHEX(SHA1(seq)) "
        f"FROM {dbname}.seq_1_to_{rows}",
    )


def test_target_without_privileges(mariadb, dbname, tmp_path):
    up, target = mariadb.up1, mariadb.target
    fill(up, dbname)
    target.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"DROP DATABASE IF EXISTS {dbname}_meta",
        f"DROP USER IF EXISTS '{USER}'@'127.0.0.1'",
        f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'",
        f"GRANT ALL ON `{dbname}_meta`.* TO '{USER}'@'127.0.0.1'",
        f"GRANT SELECT, CREATE ON `{dbname}`.* TO '{USER}'@'127.0.0.1'",
    )
    limited = DBConfig(host=target.host, port=target.port, user=USER, password=PASSWORD)
    ctx = make_ctx(tmp_path, up.dbconfig(), limited, dbname, rows=200)
    DumpUnit(ctx).process(threading.Event())
    try:
        err = raises(lambda: LoadUnit(ctx).process(threading.Event()))
        assert err.code == 10006 and not err.resumable
        assert err.message.startswith(f"execute statement failed: load {dbname}.t.00000000")
        assert "command denied to user 'dm_limited'" in err.raw_cause
        assert "grant" in err.workaround and "resume-task" in err.workaround
        assert PASSWORD not in str(err)
        assert target.query(f"SELECT COUNT(*) FROM {dbname}.t") == [(0,)]

        target.execute(f"GRANT INSERT, UPDATE, DELETE ON `{dbname}`.* TO '{USER}'@'127.0.0.1'")
        unit = LoadUnit(ctx)
        unit.process(threading.Event())
        assert unit.completed()
        assert rows_of(target, f"{dbname}.t") == rows_of(up, f"{dbname}.t")
    finally:
        target.execute(f"DROP USER IF EXISTS '{USER}'@'127.0.0.1'")


def test_table_the_target_cannot_create(mariadb, dbname, tmp_path):
    up, target = mariadb.up1, mariadb.target
    fill(up, dbname)
    up.execute(
        f"CREATE TABLE {dbname}.aria (id INT PRIMARY KEY, note VARCHAR(20)) ENGINE=Aria",
        f"INSERT INTO {dbname}.aria SELECT seq, 'n' FROM {dbname}.seq_1_to_50",
    )
    for server in (target,):
        server.execute(f"DROP DATABASE IF EXISTS {dbname}", f"DROP DATABASE IF EXISTS {dbname}_meta")
    ctx = make_ctx(tmp_path, up.dbconfig(), target.dbconfig(), dbname)
    DumpUnit(ctx).process(threading.Event())
    target.execute("SET GLOBAL enforce_storage_engine = 'InnoDB'")
    try:
        err = raises(lambda: LoadUnit(ctx).process(threading.Event()))
    finally:
        target.execute("SET GLOBAL enforce_storage_engine = NULL")
    assert err.code == 10006 and not err.resumable
    assert err.message == f"execute statement failed: create table {dbname}.aria"
    assert "Error 1290" in err.raw_cause and "NO_ENGINE_SUBSTITUTION" in err.raw_cause
    # the DBA creates the table the way the target wants it, then resumes
    target.execute(f"CREATE TABLE {dbname}.aria (id INT PRIMARY KEY, note VARCHAR(20)) ENGINE=InnoDB")
    LoadUnit(ctx).process(threading.Event())
    for table in ("t", "aria"):
        assert rows_of(target, f"{dbname}.{table}") == rows_of(up, f"{dbname}.{table}")


@pytest.fixture
def tiny_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_full_disk_in_the_dump_dir(mariadb, dbname, tiny_disk):
    up, target = mariadb.up1, mariadb.target
    fill(up, dbname, rows=20000)  # about 2 MB dumped
    target.execute(f"DROP DATABASE IF EXISTS {dbname}", f"DROP DATABASE IF EXISTS {dbname}_meta")
    ctx = make_ctx(tiny_disk, up.dbconfig(), target.dbconfig(), dbname, rows=3000)
    unit = DumpUnit(ctx)
    err = raises(lambda: unit.process(threading.Event()))
    assert err.code == 32001 and not err.resumable
    assert "No space left on device" in err.raw_cause and "out of space" in err.workaround
    assert not unit.completed()

    subprocess.run(["mount", "-o", "remount,size=16m", str(tiny_disk)], check=True)
    unit.process(threading.Event())  # the dump starts over
    assert unit.completed()
    LoadUnit(ctx).process(threading.Event())
    assert rows_of(target, f"{dbname}.t") == rows_of(up, f"{dbname}.t")


@pytest.fixture(scope="module")
def own_source(tmp_path_factory):
    """A private upstream that may be killed."""
    sandbox = Sandbox(tmp_path_factory.mktemp("own-source"))
    try:
        (server,) = sandbox.start([ServerSpec("vanishing", server_id=301, gtid_domain_id=3)])
        yield server
    finally:
        sandbox.close()


def test_source_disappears_mid_dump(own_source, mariadb, dbname, tmp_path):
    up, target = own_source, mariadb.target
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v CHAR(200))",
        f"INSERT INTO {dbname}.t SELECT seq, REPEAT(CHAR(65 + seq MOD 26), 200) FROM "
        f"{dbname}.seq_1_to_80000",
    )
    target.execute(f"DROP DATABASE IF EXISTS {dbname}", f"DROP DATABASE IF EXISTS {dbname}_meta")
    ctx = make_ctx(tmp_path, up.dbconfig(), target.dbconfig(), dbname, threads=1, rows=20000)
    unit = DumpUnit(ctx)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            unit.process(threading.Event())
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while unit.status().finishedRows == 0 and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.002)
    up.stop(kill=True)
    thread.join(60)
    try:
        assert len(failures) == 1, "the dump finished before the source was killed"
        err = failures[0]
        assert isinstance(err, errors.DMError) and err.resumable and err.code in (10001, 10002, 10003), err
        assert not unit.completed()
    finally:
        up.start()
    unit.process(threading.Event())
    LoadUnit(ctx).process(threading.Event())
    assert rows_of(target, f"{dbname}.t") == rows_of(up, f"{dbname}.t")


def test_merged_shards_conflict_across_sources(mariadb, dbname, tmp_path):
    """The second source's shard differs from the table the first source created: a clear error."""
    up1, up2, target = mariadb.up1, mariadb.up2, mariadb.target
    for server in (up1, up2, target):
        server.execute(f"DROP DATABASE IF EXISTS {dbname}", f"DROP DATABASE IF EXISTS {dbname}_meta")
    up1.execute(
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.s1 (id INT PRIMARY KEY, v VARCHAR(10))",
        f"INSERT INTO {dbname}.s1 VALUES (1, 'one')",
    )
    up2.execute(
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.s2 (id INT PRIMARY KEY, v VARCHAR(20))",
        f"INSERT INTO {dbname}.s2 VALUES (2, 'two')",
    )
    routes = [RouteRule(schema_pattern=dbname, table_pattern="s*", target_schema=dbname, target_table="s")]
    ctx1 = make_ctx(tmp_path, up1.dbconfig(), target.dbconfig(), dbname, routes=routes)
    ctx2 = make_ctx(tmp_path, up2.dbconfig(), target.dbconfig(), dbname, source_id="mysql-02", routes=routes)
    for ctx in (ctx1, ctx2):
        DumpUnit(ctx).process(threading.Event())
    LoadUnit(ctx1).process(threading.Event())
    err = raises(lambda: LoadUnit(ctx2).process(threading.Event()))
    assert err.code == 34019
    assert err.message == (
        f"`{dbname}`.`s2` is loaded into the existing table `{dbname}`.`s` but they differ: "
        "column `v` varchar(20) CHARACTER SET utf8mb4 vs varchar(10) CHARACTER SET utf8mb4 in the target"
    )
    assert "routes" in err.workaround
    assert target.query(f"SELECT * FROM {dbname}.s") == [(1, "one")]
    # the DBA widens the target column; the second source then loads
    target.execute(f"ALTER TABLE {dbname}.s MODIFY v VARCHAR(20)")
    LoadUnit(ctx2).process(threading.Event())
    assert target.query(f"SELECT * FROM {dbname}.s ORDER BY id") == [(1, "one"), (2, "two")]


def test_target_without_local_infile_uses_inserts(mariadb, dbname, tmp_path):
    up, target = mariadb.up1, mariadb.target
    fill(up, dbname, rows=3000)
    target.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"DROP DATABASE IF EXISTS {dbname}_meta",
        "SET GLOBAL local_infile = 0",
    )
    try:
        ctx = make_ctx(tmp_path, up.dbconfig(), target.dbconfig(), dbname, rows=1000)
        DumpUnit(ctx).process(threading.Event())
        unit = LoadUnit(ctx)
        unit.process(threading.Event())
    finally:
        target.execute("SET GLOBAL local_infile = 1")
    assert unit.use_load_data is False
    assert rows_of(target, f"{dbname}.t") == rows_of(up, f"{dbname}.t")


def test_max_allowed_packet_is_respected(mariadb, dbname, tmp_path):
    """Statements and LOAD DATA pieces stay under the target's max_allowed_packet; a row that cannot
    fit is a clear error."""
    up, target = mariadb.up1, mariadb.target
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, b MEDIUMBLOB)",
        f"INSERT INTO {dbname}.t SELECT seq, RANDOM_BYTES(1000) FROM {dbname}.seq_1_to_400",
    )
    target.execute(f"DROP DATABASE IF EXISTS {dbname}", f"DROP DATABASE IF EXISTS {dbname}_meta")
    (old,) = target.query("SELECT @@GLOBAL.max_allowed_packet")[0]
    target.execute("SET GLOBAL max_allowed_packet = 16384")
    try:
        for use_load_data in (None, False):
            target.execute(f"DROP DATABASE IF EXISTS {dbname}", f"DROP DATABASE IF EXISTS {dbname}_meta")
            ctx = make_ctx(tmp_path / str(use_load_data), up.dbconfig(), target.dbconfig(), dbname)
            DumpUnit(ctx).process(threading.Event())
            unit = LoadUnit(ctx)
            unit.use_load_data = use_load_data
            unit.process(threading.Event())
            assert rows_of(target, f"{dbname}.t") == rows_of(up, f"{dbname}.t")

        up.execute(f"INSERT INTO {dbname}.t VALUES (1000, REPEAT(RANDOM_BYTES(1000), 20))")
        target.execute(f"DROP DATABASE IF EXISTS {dbname}", f"DROP DATABASE IF EXISTS {dbname}_meta")
        ctx = make_ctx(tmp_path / "big", up.dbconfig(), target.dbconfig(), dbname)
        DumpUnit(ctx).process(threading.Event())
        unit = LoadUnit(ctx)
        unit.use_load_data = False
        err = raises(lambda: unit.process(threading.Event()))
        assert err.code == 10006 and "max_allowed_packet" in err.raw_cause
        assert "max_allowed_packet" in err.workaround
    finally:
        target.execute(f"SET GLOBAL max_allowed_packet = {old}")
        with contextlib.suppress(pymysql.err.MySQLError):
            target.execute(f"DROP DATABASE IF EXISTS {dbname}")


def test_a_row_the_target_rejects_is_not_retried(mariadb, dbname, tmp_path):
    """A server-side refusal (here a CHECK constraint of a table the DBA created) is not resumable:
    auto-resume would only fail again."""
    up, target = mariadb.up1, mariadb.target
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v INT)",
        f"INSERT INTO {dbname}.t VALUES (1, 5), (2, 500)",
    )
    target.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"DROP DATABASE IF EXISTS {dbname}_meta",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v INT, CONSTRAINT small CHECK (v < 100))",
    )
    ctx = make_ctx(tmp_path, up.dbconfig(), target.dbconfig(), dbname)
    DumpUnit(ctx).process(threading.Event())
    err = raises(lambda: LoadUnit(ctx).process(threading.Event()))
    assert err.code == 10006 and not err.resumable and "Error 4025" in err.raw_cause
    assert target.query(f"SELECT COUNT(*) FROM {dbname}.t") == [(0,)]
    target.execute(f"ALTER TABLE {dbname}.t DROP CONSTRAINT small")
    LoadUnit(ctx).process(threading.Event())
    assert rows_of(target, f"{dbname}.t") == rows_of(up, f"{dbname}.t")
