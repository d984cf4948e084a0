"""The load unit against the real MariaDB fixture: exact round trips, shard routing, resume after a
stop or a kill -9 (no duplicate, no missing row), and the recorded "load finished" location."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dmshell.engine import errors
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.config.units import LoaderConfig, MydumperConfig, SyncerConfig
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump.dumper import DumpUnit
from dmshell.engine.filters.rule_types import BAList, RouteRule, SourceExtractor, TableExtractor
from dmshell.engine.load.loader import LoadUnit, load_finished_location
from dmshell.engine.load.pool import LoadPool
from dmshell.engine.unit import UnitContext
from dmshell.proto import dmworker_pb2 as pb

REPO = Path(__file__).resolve().parents[2]


def make_ctx(
    tmp_path: Path,
    source,
    target,
    dbname: str,
    *,
    source_id: str = "mysql-01",
    schemas: list[str] | None = None,
    routes: list[RouteRule] | None = None,
    rows: int = 0,
    pool_size: int = 4,
    statement_size: int = 0,
    task_mode: str = "all",
    on_duplicate: str = "replace",
    extra_args: str = "",
) -> UnitContext:
    cfg = SubTaskConfig(
        name="tload",
        task_mode=task_mode,
        source_id=source_id,
        meta_schema=f"{dbname}_meta",
        target=target.dbconfig(),
        meta=None,
        block_allow_list=BAList(do_dbs=schemas or [dbname]),
        routes=routes or [],
        mydumper=MydumperConfig(threads=2, rows=rows, statement_size=statement_size, extra_args=extra_args),
        loader=LoaderConfig(pool_size=pool_size, on_duplicate_logical=on_duplicate),
        syncer=SyncerConfig(),
    )
    src = SourceConfig(source_id=source_id, from_db=source.dbconfig())
    return UnitContext(cfg=cfg, source=src, work_dir=tmp_path / source_id, worker_name="worker1")


def dump(ctx: UnitContext) -> dumpfiles.DumpMetadata:
    DumpUnit(ctx).process(threading.Event())
    return dumpfiles.read_metadata(ctx.dump_dir)


def raw_rows(server, sql: str) -> list[tuple]:
    """Rows as the server renders them (text protocol, no client-side conversion), sorted."""
    return server.rendered_rows(sql)


def checkpoint_count(target, dbname: str) -> int:
    try:
        return target.query(f"SELECT COUNT(*) FROM {dbname}_meta.tload_loader_checkpoint")[0][0]
    except Exception:
        return 0


def fresh(servers, *dbs: str) -> None:
    for server in servers:
        server.execute(*(f"DROP DATABASE IF EXISTS {db}" for db in dbs))


ALL_TYPES = """CREATE TABLE {t} (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    u BIGINT UNSIGNED, i8 TINYINT, dec1 DECIMAL(40,12), dbl DOUBLE, flt FLOAT, bits BIT(13),
    dt DATETIME(6), ts TIMESTAMP(6) NULL, d DATE, tm TIME(3), y YEAR,
    vc VARCHAR(64), txt TEXT, lat VARCHAR(20) CHARACTER SET latin1, ch CHAR(5),
    bin BINARY(6), vb VARBINARY(64), bl BLOB,
    e ENUM('a','b','c'), s SET('x','y','z'), j JSON,
    gen VARCHAR(80) AS (CONCAT(vc, '-', i8)) STORED
)"""


@pytest.mark.parametrize("load_data", [True, False], ids=["load-data", "insert"])
def test_round_trip_all_types(mariadb, dbname, tmp_path, load_data):
    up, target = mariadb.up1, mariadb.target
    fresh([up, target], dbname, f"{dbname}_meta")
    up.execute(
        f"CREATE DATABASE {dbname}",
        ALL_TYPES.format(t=f"{dbname}.types"),
        "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+03:00'",
        f"""INSERT INTO {dbname}.types (id, u, i8, dec1, dbl, flt, bits, dt, ts, d, tm, y, vc, txt, lat, ch,
                bin, vb, bl, e, s, j) VALUES
            (0, 18446744073709551615, -128, '-1234567890123456789012345678.123456789012',
             1.7976931348623157e308, 3.4028234e38, b'1010101010101', '2024-02-29 23:59:59.999999',
             '2038-01-19 03:14:07.999999',
             '0000-00-00', '-838:59:59.000', 1901, 'emoji 😀 ü ''q'' "dq" \\\\ back',
             'line1\\nline2\\r\\ttab\\0nul',
             'café', 'ab', x'000102', x'00ff0027005c0a0d1a', x'deadbeef00',
             'c', 'x,z', '{{"k": [1, "two", null]}}'),
            (1, 0, 0, '0.000000000001', 5e-324, -0.1234567, b'0', '1000-01-01 00:00:00',
             '1970-01-01 03:00:01',
             '9999-12-31', '00:00:00.001', 0, '', '', '', '', '', '', '', 'a', '', '[]'),
            (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
             NULL, NULL, NULL, NULL, NULL, NULL)""",
        f"CREATE TABLE {dbname}.comp (a INT, b VARCHAR(10), c VARBINARY(8), v INT, PRIMARY KEY (a, b, c))",
        f"INSERT INTO {dbname}.comp SELECT seq MOD 7, CONCAT('k', seq MOD 13), UNHEX(HEX(seq)), seq "
        f"FROM {dbname}.seq_1_to_1500",
        f"CREATE TABLE {dbname}.nopk (x INT, y VARCHAR(10))",
        f"INSERT INTO {dbname}.nopk VALUES (1, 'dup'), (1, 'dup'), (NULL, NULL), (2, 'two')",
        f"CREATE TABLE {dbname}.big (id BIGINT PRIMARY KEY, payload VARCHAR(100), n INT)",
        f"INSERT INTO {dbname}.big SELECT seq * 3, REPEAT(CHAR(65 + seq MOD 26), seq MOD 100), "
        f"IF(seq MOD 5 = 0, NULL, seq) FROM {dbname}.seq_1_to_4000",
        f"CREATE TABLE {dbname}.empty (id INT PRIMARY KEY)",
    )
    ctx = make_ctx(tmp_path, up, target, dbname, rows=300, statement_size=4000)
    meta = dump(ctx)
    assert len({t.table: t for t in meta.tables}["big"].chunks) == 14

    unit = LoadUnit(ctx)
    if not load_data:
        unit.use_load_data = False
    assert not unit.completed()
    assert unit.status().progress == "0.00 %"
    unit.process(threading.Event())
    assert unit.completed() and unit.use_load_data is load_data

    for table in ("types", "comp", "nopk", "big", "empty"):
        src = raw_rows(up, f"SELECT * FROM {dbname}.{table}")
        assert raw_rows(target, f"SELECT * FROM {dbname}.{table}") == src, table
    assert raw_rows(target, f"SELECT id, ts FROM {dbname}.types WHERE id < 2") == [
        ("0", "2038-01-19 00:14:07.999999"),
        ("1", "1970-01-01 00:00:01.000000"),
    ]  # UTC
    assert len(raw_rows(target, f"SELECT * FROM {dbname}.big")) == 4000

    conn = target.connect()
    try:
        assert load_finished_location(conn, ctx.cfg) == meta.location
    finally:
        conn.close()
    chunks = sum(len(t.chunks) for t in meta.tables)
    assert checkpoint_count(target, dbname) == chunks
    st = unit.status()
    assert isinstance(st, pb.LoadStatus)
    assert st.progress == "100.00 %" and st.finishedBytes == st.totalBytes == meta.total_bytes
    assert st.metaBinlog == f"({meta.location.file}, {meta.location.pos})"
    assert st.metaBinlogGTID == meta.location.gtid
    # clean-dump-file in task-mode all: data files gone, metadata and schema files kept
    left = {p.name for p in ctx.dump_dir.iterdir()}
    assert "metadata" in left and all(t.schema_file in left for t in meta.tables)
    assert not any(c.file in left for t in meta.tables for c in t.chunks)
    assert not DumpUnit(ctx).completed()  # would be redone if the load state were removed

    # running again is a no-op
    unit.process(threading.Event())
    assert checkpoint_count(target, dbname) == chunks


def test_shard_tables_from_two_sources_merge_into_one_table(mariadb, dbname, tmp_path):
    up1, up2, target = mariadb.up1, mariadb.up2, mariadb.target
    merged = f"{dbname}_all"
    fresh([up1, up2, target], dbname, merged, f"{dbname}_meta")
    shard = "CREATE TABLE {db}.{t} (id INT PRIMARY KEY, src VARCHAR(10), v DECIMAL(10,2))"
    up1.execute(
        f"CREATE DATABASE {dbname}",
        shard.format(db=dbname, t="orders_1"),
        f"INSERT INTO {dbname}.orders_1 SELECT seq, 'one', seq / 4 FROM {dbname}.seq_1_to_700",
    )
    up2.execute(
        f"CREATE DATABASE {dbname}",
        shard.format(db=dbname, t="orders_2"),
        f"INSERT INTO {dbname}.orders_2 SELECT seq, 'two', seq / 3 FROM {dbname}.seq_701_to_1500",
    )
    routes = [
        RouteRule(
            schema_pattern=dbname, table_pattern="orders_*", target_schema=merged, target_table="orders"
        ),
        RouteRule(schema_pattern=dbname, target_schema=merged),
    ]
    for server, sid in ((up1, "mysql-01"), (up2, "mysql-02")):
        ctx = make_ctx(tmp_path, server, target, dbname, source_id=sid, routes=routes, rows=200)
        dump(ctx)
        LoadUnit(ctx).process(threading.Event())
        assert LoadUnit(ctx).completed()

    got = raw_rows(target, f"SELECT * FROM {merged}.orders")
    want = raw_rows(up1, f"SELECT * FROM {dbname}.orders_1") + raw_rows(
        up2, f"SELECT * FROM {dbname}.orders_2"
    )
    assert got == sorted(want, key=repr) and len(got) == 1500
    assert target.query(f"SHOW TABLES FROM {merged}") == [("orders",)]
    assert target.query(f"SHOW DATABASES LIKE '{dbname}'") == []


def test_merged_shards_with_different_columns_fail(mariadb, dbname, tmp_path):
    up, target = mariadb.up1, mariadb.target
    fresh([up, target], dbname, f"{dbname}_meta")
    up.execute(
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.s_1 (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE {dbname}.s_2 (id INT PRIMARY KEY, v BIGINT)",
    )
    routes = [RouteRule(schema_pattern=dbname, table_pattern="s_*", target_schema=dbname, target_table="s")]
    ctx = make_ctx(tmp_path, up, target, dbname, routes=routes)
    dump(ctx)
    with pytest.raises(errors.DMError) as info:
        LoadUnit(ctx).process(threading.Event())
    err = info.value
    assert err.code == 34019 and str(err).startswith("[code=34019:class=load-unit:scope=internal:level=high]")
    assert f"`{dbname}`.`s_1`" in err.message and f"`{dbname}`.`s_2`" in err.message
    assert "column `v` int(11) vs `v` bigint(20)" in err.message
    assert "routes" in err.workaround
    assert target.query(f"SHOW DATABASES LIKE '{dbname}'") == []  # nothing created


# -- resume ----------------------------------------------------------------------------------
def prepare_blocked_load(mariadb, dbname: str, tmp_path: Path) -> UnitContext:
    """A dumped table of 1000 rows in 10 chunks, and a target table WITHOUT a primary key (so a
    duplicate would show) whose trigger waits for the user lock ``<db>`` when row 250 — in the third
    chunk — is inserted. The caller holds that lock to freeze the load in the middle of a chunk."""
    up, target = mariadb.up1, mariadb.target
    fresh([up, target], dbname, f"{dbname}_meta")
    up.execute(
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        f"INSERT INTO {dbname}.t SELECT seq, CONCAT('row ', seq) FROM {dbname}.seq_1_to_1000",
    )
    target.execute(
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT, v VARCHAR(20))",
        f"CREATE TRIGGER {dbname}.block BEFORE INSERT ON {dbname}.t FOR EACH ROW BEGIN "
        f"IF NEW.id = 250 THEN SET @b = GET_LOCK('{dbname}', 600); SET @b = RELEASE_LOCK('{dbname}'); "
        "END IF; END",
    )
    ctx = make_ctx(tmp_path, up, target, dbname, rows=100, pool_size=1, statement_size=600)
    meta = dump(ctx)
    assert len(meta.tables[0].chunks) == 10
    return ctx


def wait_until_blocked(target, dbname: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        waiting = target.query(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE STATE = 'User lock' AND INFO LIKE %s",
            (f"%GET_LOCK('{dbname}'%",),
        )
        if waiting[0][0]:
            return
        assert proc is None or proc.poll() is None, "the load process exited early"
        time.sleep(0.02)
    raise AssertionError("the load never reached the blocking row")


def assert_exactly_once(mariadb, dbname: str) -> None:
    got = raw_rows(mariadb.target, f"SELECT id, v FROM {dbname}.t")
    assert got == raw_rows(mariadb.up1, f"SELECT id, v FROM {dbname}.t")
    assert len(got) == 1000


def test_load_resumes_after_stop(mariadb, dbname, tmp_path):
    target = mariadb.target
    ctx = prepare_blocked_load(mariadb, dbname, tmp_path)
    locker = target.connect()
    stop = threading.Event()
    failures: list[BaseException] = []
    unit = LoadUnit(ctx)

    def run() -> None:
        try:
            unit.process(stop)
        except BaseException as exc:
            failures.append(exc)

    try:
        with locker.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 10)", (dbname,))
        thread = threading.Thread(target=run)
        thread.start()
        wait_until_blocked(target, dbname)
        assert checkpoint_count(target, dbname) == 2
        stop.set()
    finally:
        locker.close()  # releases the lock: the chunk in flight completes, then the unit stops
    thread.join(60)
    assert not thread.is_alive() and not failures
    assert checkpoint_count(target, dbname) == 3
    assert not unit.completed()
    assert target.query(f"SELECT COUNT(*), COUNT(DISTINCT id) FROM {dbname}.t") == [(300, 300)]
    assert unit.status().progress not in ("0.00 %", "100.00 %")

    unit.process(threading.Event())
    assert unit.completed()
    assert_exactly_once(mariadb, dbname)


KILL_SCRIPT = """
import json, sys, threading
from pathlib import Path
from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.config.units import LoaderConfig, MydumperConfig, SyncerConfig
from dmshell.engine.filters.rule_types import BAList
from dmshell.engine.unit import UnitContext
from dmshell.engine.load.loader import LoadUnit
a = json.loads(sys.argv[1])
cfg = SubTaskConfig(name="tload", task_mode="all", source_id="mysql-01", meta_schema=a["meta"],
    target=DBConfig(**a["target"]), meta=None, block_allow_list=BAList(do_dbs=[a["db"]]), routes=[],
    mydumper=MydumperConfig(), loader=LoaderConfig(pool_size=1), syncer=SyncerConfig())
src = SourceConfig(source_id="mysql-01", from_db=DBConfig(**a["target"]))
ctx = UnitContext(cfg=cfg, source=src, work_dir=Path(a["work_dir"]), worker_name="w")
LoadUnit(ctx).process(threading.Event())
"""


def test_load_resumes_after_kill_9(mariadb, dbname, tmp_path):
    target = mariadb.target
    ctx = prepare_blocked_load(mariadb, dbname, tmp_path)
    tcfg = target.dbconfig()
    args = {
        "meta": ctx.cfg.meta_schema,
        "db": dbname,
        "work_dir": str(ctx.work_dir),
        "target": {"host": tcfg.host, "port": tcfg.port, "user": tcfg.user, "password": tcfg.password},
    }
    locker = target.connect()
    try:
        with locker.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 10)", (dbname,))
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, json.dumps(args)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            wait_until_blocked(target, dbname, proc)
        finally:
            proc.send_signal(signal.SIGKILL)  # in the middle of the third chunk's transaction
            proc.wait()
    finally:
        locker.close()
    assert checkpoint_count(target, dbname) == 2
    assert not LoadUnit(ctx).completed()

    unit = LoadUnit(ctx)
    unit.process(threading.Event())
    assert unit.completed()
    assert checkpoint_count(target, dbname) == 10
    assert_exactly_once(mariadb, dbname)


def test_load_connection_loss_is_resumable(mariadb, dbname, tmp_path):
    target = mariadb.target
    ctx = prepare_blocked_load(mariadb, dbname, tmp_path)
    locker = target.connect()
    failures: list[BaseException] = []

    def run() -> None:
        try:
            LoadUnit(ctx).process(threading.Event())
        except BaseException as exc:
            failures.append(exc)

    try:
        with locker.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 10)", (dbname,))
        thread = threading.Thread(target=run)
        thread.start()
        wait_until_blocked(target, dbname)
        (conn_id,) = target.query(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s", (f"%GET_LOCK('{dbname}'%",)
        )[0]
        target.execute(f"KILL CONNECTION {conn_id}")
        thread.join(60)
    finally:
        locker.close()
    assert len(failures) == 1
    err = failures[0]
    assert isinstance(err, errors.DMError) and err.resumable and err.code == 10002, err
    assert checkpoint_count(target, dbname) == 2

    LoadUnit(ctx).process(threading.Event())
    assert_exactly_once(mariadb, dbname)


def test_extract_columns_are_added_to_rows(mariadb, dbname, tmp_path):
    up, target = mariadb.up1, mariadb.target
    fresh([up, target], dbname, f"{dbname}_meta")
    up.execute(
        f"CREATE DATABASE {dbname}",
        *(f"CREATE TABLE {dbname}.s_{n} (id INT PRIMARY KEY, v VARCHAR(20))" for n in ("a", "b")),
        f"INSERT INTO {dbname}.s_a VALUES (1, 'x),(y'), (2, 'q''t\\\\')",
        f"INSERT INTO {dbname}.s_b VALUES (1, NULL), (3, '(')",
    )
    target.execute(
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.s (id INT, v VARCHAR(20), c_table VARCHAR(10), "
        "c_source VARCHAR(20), PRIMARY KEY (id, c_table))",
    )
    routes = [
        RouteRule(
            schema_pattern=dbname,
            table_pattern="s_*",
            target_schema=dbname,
            target_table="s",
            extract_table=TableExtractor(table_regexp="s_(.*)", target_column="c_table"),
            extract_source=SourceExtractor(source_regexp="(.*)", target_column="c_source"),
        )
    ]
    ctx = make_ctx(tmp_path, up, target, dbname, routes=routes)
    dump(ctx)
    LoadUnit(ctx).process(threading.Event())
    assert raw_rows(target, f"SELECT * FROM {dbname}.s") == sorted(
        [
            ("1", "x),(y", "a", "mysql-01"),
            ("2", "q't\\", "a", "mysql-01"),
            ("1", None, "b", "mysql-01"),
            ("3", "(", "b", "mysql-01"),
        ],
        key=repr,
    )


def test_load_refuses_checkpoints_of_another_dump(mariadb, dbname, tmp_path, monkeypatch):
    up, target = mariadb.up1, mariadb.target
    fresh([up, target], dbname, f"{dbname}_meta")
    up.execute(
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY)",
        f"INSERT INTO {dbname}.t SELECT seq FROM {dbname}.seq_1_to_300",
    )
    ctx = make_ctx(tmp_path, up, target, dbname, rows=100, pool_size=1)
    dump(ctx)
    stop = threading.Event()
    unit = LoadUnit(ctx)
    load_job = LoadPool._load

    def load_one(pool, conn, job):  # stop right after the first chunk is committed
        load_job(pool, conn, job)
        stop.set()

    monkeypatch.setattr(LoadPool, "_load", load_one)
    unit.process(stop)
    monkeypatch.undo()
    assert checkpoint_count(target, dbname) == 1

    (ctx.dump_dir / "metadata").unlink()  # the dump is redone: another snapshot
    dump(ctx)
    with pytest.raises(errors.DMError) as info:
        LoadUnit(ctx).process(threading.Event())
    assert info.value.code == 34018 and "remove-meta" in info.value.workaround


def test_load_without_dump_fails(mariadb, dbname, tmp_path):
    ctx = make_ctx(tmp_path, mariadb.up1, mariadb.target, dbname)
    with pytest.raises(errors.DMError) as info:
        LoadUnit(ctx).process(threading.Event())
    assert info.value.code == 34014 and str(ctx.dump_dir) in info.value.message
    ctx.dump_dir.mkdir(parents=True)
    with pytest.raises(errors.DMError) as info:
        LoadUnit(ctx).process(threading.Event())
    assert info.value.code == 11001
    conn = mariadb.target.connect()
    try:
        assert load_finished_location(conn, ctx.cfg) is None
    finally:
        conn.close()


@pytest.mark.parametrize("mode", ["replace", "error"])
def test_on_duplicate_logical(mariadb, dbname, tmp_path, mode):
    up, target = mariadb.up1, mariadb.target
    fresh([up, target], dbname, f"{dbname}_meta")
    ddl = f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v VARCHAR(10))"
    up.execute(
        f"CREATE DATABASE {dbname}", ddl, f"INSERT INTO {dbname}.t VALUES (1, 'source'), (2, 'source')"
    )
    target.execute(f"CREATE DATABASE {dbname}", ddl, f"INSERT INTO {dbname}.t VALUES (1, 'target')")
    ctx = make_ctx(tmp_path, up, target, dbname, on_duplicate=mode)
    dump(ctx)
    if mode == "replace":
        LoadUnit(ctx).process(threading.Event())
        assert target.query(f"SELECT * FROM {dbname}.t ORDER BY id") == [(1, "source"), (2, "source")]
    else:
        with pytest.raises(errors.DMError) as info:
            LoadUnit(ctx).process(threading.Event())
        assert info.value.code == 10006 and "Duplicate entry" in info.value.raw_cause
        assert target.query(f"SELECT * FROM {dbname}.t") == [(1, "target")]  # the chunk rolled back


def test_remove_meta_starts_over(mariadb, dbname, tmp_path):
    """``start-task --remove-meta`` drops the task's meta tables and the worker wipes its directory:
    both units run again from scratch, and the reload (REPLACE) converges on the changed source."""
    import shutil

    from dmshell.engine.meta import remove_task_meta

    up, target = mariadb.up1, mariadb.target
    fresh([up, target], dbname, f"{dbname}_meta")
    up.execute(
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        f"INSERT INTO {dbname}.t SELECT seq, 'first' FROM {dbname}.seq_1_to_500",
    )
    ctx = make_ctx(tmp_path, up, target, dbname, rows=100)
    first = dump(ctx)
    LoadUnit(ctx).process(threading.Event())
    assert LoadUnit(ctx).completed()

    up.execute(
        f"UPDATE {dbname}.t SET v = 'second' WHERE id % 2 = 0",
        f"INSERT INTO {dbname}.t SELECT seq, 'new' FROM {dbname}.seq_501_to_700",
    )
    conn = target.connect()
    try:
        dropped = remove_task_meta(conn, ctx.cfg.meta_schema, ctx.cfg.name)
    finally:
        conn.close()
    assert dropped == [
        "tload_lightning_checkpoint_list",
        "tload_loader_checkpoint",
        "tload_loader_chunk",
        "tload_loader_deferred_index",
        "tload_loader_snapshot",
        "tload_loader_table",
    ]
    shutil.rmtree(ctx.work_dir)
    assert not LoadUnit(ctx).completed() and not DumpUnit(ctx).completed()

    second = dump(ctx)
    assert second.dump_id != first.dump_id and second.location > first.location
    unit = LoadUnit(ctx)
    unit.process(threading.Event())
    assert unit.completed()
    assert raw_rows(target, f"SELECT * FROM {dbname}.t") == raw_rows(up, f"SELECT * FROM {dbname}.t")


def test_secondary_indexes_are_built_after_the_data(mariadb, dbname, tmp_path, monkeypatch):
    """A table the unit creates gets its plain secondary indexes once the rows are in (recorded in the
    meta schema first, so an interruption in between loses none); the final structure is the source's."""
    up, target = mariadb.up1, mariadb.target
    fresh([up, target], dbname, f"{dbname}_meta")
    up.execute(
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, a INT, b VARCHAR(20), c INT, "
        "g INT AS (a + c) VIRTUAL, UNIQUE KEY u (b), KEY zk (c), KEY ak (a, c) COMMENT 'two', "
        "FULLTEXT KEY ft (b), KEY gk (g))",
        f"INSERT INTO {dbname}.t (id, a, b, c) SELECT seq, seq MOD 10, CONCAT('b', seq), seq MOD 7 "
        f"FROM {dbname}.seq_1_to_1000",
        f"CREATE TABLE {dbname}.parent (id INT PRIMARY KEY, x INT, KEY xk (x))",
        f"INSERT INTO {dbname}.parent SELECT seq, seq FROM {dbname}.seq_1_to_10",
        f"CREATE TABLE {dbname}.child (id INT PRIMARY KEY, p INT, KEY pk (p), "
        f"CONSTRAINT fk FOREIGN KEY (p) REFERENCES {dbname}.parent (id))",
    )
    ctx = make_ctx(tmp_path, up, target, dbname, rows=200, pool_size=1)
    dump(ctx)
    stop = threading.Event()
    unit = LoadUnit(ctx)
    load_job = LoadPool._load

    def load_one(pool, conn, job):  # stop right after the first file is committed
        load_job(pool, conn, job)
        stop.set()

    monkeypatch.setattr(LoadPool, "_load", load_one)
    unit.process(stop)
    monkeypatch.undo()
    assert checkpoint_count(target, dbname) == 1
    keys = {row[2] for row in target.query(f"SHOW INDEX FROM {dbname}.t")}
    assert keys == {"PRIMARY", "u", "ft"}
    deferred = target.query(
        f"SELECT target_table, index_name FROM {dbname}_meta.tload_loader_deferred_index "
        "ORDER BY target_table, seq"
    )
    assert deferred == [("parent", "xk"), ("t", "zk"), ("t", "ak"), ("t", "gk")]
    # a table with a foreign key keeps its indexes
    assert {row[2] for row in target.query(f"SHOW INDEX FROM {dbname}.child")} == {"PRIMARY", "pk"}

    LoadUnit(ctx).process(threading.Event())
    for table in ("t", "parent", "child"):
        assert target.query(f"SHOW CREATE TABLE {dbname}.{table}") == up.query(
            f"SHOW CREATE TABLE {dbname}.{table}"
        ), table
    assert target.query(f"SELECT COUNT(*) FROM {dbname}_meta.tload_loader_deferred_index") == [(0,)]
    assert raw_rows(target, f"SELECT * FROM {dbname}.t") == raw_rows(up, f"SELECT * FROM {dbname}.t")


def test_views_are_created_after_the_tables(mariadb, dbname, tmp_path):
    """With ``--no-views=false`` views follow the tables: routed names, references to routed tables
    rewritten, a view on a view created after the one it reads."""
    up, target = mariadb.up1, mariadb.target
    renamed = f"{dbname}_r"
    fresh([up, target], dbname, renamed, f"{dbname}_meta")
    up.execute(
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, v INT)",
        f"INSERT INTO {dbname}.t SELECT seq, seq * 2 FROM {dbname}.seq_1_to_50",
        f"CREATE VIEW {dbname}.z_base AS SELECT id, v FROM {dbname}.t WHERE id > 10",
        f"CREATE VIEW {dbname}.a_top AS SELECT COUNT(*) AS n, SUM(v) AS total FROM {dbname}.z_base",
    )
    routes = [RouteRule(schema_pattern=dbname, target_schema=renamed)]
    ctx = make_ctx(tmp_path, up, target, dbname, routes=routes, extra_args="--no-views=false")
    meta = dump(ctx)
    assert sorted(v.name for v in meta.views) == ["a_top", "z_base"]
    LoadUnit(ctx).process(threading.Event())
    want = up.query(f"SELECT n, total FROM {dbname}.a_top")
    assert target.query(f"SELECT n, total FROM {renamed}.a_top") == want
    assert target.query(f"SHOW FULL TABLES FROM {renamed}") == [
        ("a_top", "VIEW"),
        ("t", "BASE TABLE"),
        ("z_base", "VIEW"),
    ]
    assert target.query(f"SHOW DATABASES LIKE '{dbname}'") == []
