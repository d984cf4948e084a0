"""The dump unit against the real MariaDB fixture: files, metadata, snapshot position, restarts."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import pytest

from dmshell.engine import dumpfiles
from dmshell.engine.config import (
    BAList,
    LoaderConfig,
    MydumperConfig,
    SourceConfig,
    SubTaskConfig,
    SyncerConfig,
)
from dmshell.engine.dump import DumpUnit
from dmshell.engine.unit import UnitContext
from dmshell.proto import dmworker_pb2 as pb


def make_ctx(tmp_path: Path, source, target, dbname: str, *, source_id: str = "mysql-01",
             threads: int = 1, rows: int = 0, schemas: list[str] | None = None,
             meta_schema: str | None = None) -> UnitContext:
    cfg = SubTaskConfig(
        name="tdump", task_mode="all", source_id=source_id, meta_schema=meta_schema or f"{dbname}_meta",
        target=target.dbconfig(), meta=None, block_allow_list=BAList(do_dbs=schemas or [dbname]), routes=[],
        mydumper=MydumperConfig(threads=threads, rows=rows), loader=LoaderConfig(pool_size=2),
        syncer=SyncerConfig())
    src = SourceConfig(source_id=source_id, from_db=source.dbconfig())
    return UnitContext(cfg=cfg, source=src, work_dir=tmp_path / source_id, worker_name="worker1")


def run_dump(ctx: UnitContext) -> dumpfiles.DumpMetadata:
    unit = DumpUnit(ctx)
    unit.process(threading.Event())
    meta = dumpfiles.read_metadata(ctx.dump_dir)
    assert meta is not None and unit.completed()
    return meta


def test_dump_files_and_metadata(mariadb, dbname, tmp_path):
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname} CHARACTER SET utf8mb4",
        f"CREATE TABLE {dbname}.big (id INT PRIMARY KEY, v VARCHAR(20), twice INT AS (id * 2) VIRTUAL)",
        f"INSERT INTO {dbname}.big (id, v) SELECT seq, CONCAT('v', seq) FROM {dbname}.seq_1_to_1050",
        f"CREATE TABLE {dbname}.comp (a INT, b VARCHAR(4), c INT, PRIMARY KEY (a, b))",
        f"INSERT INTO {dbname}.comp SELECT seq DIV 10, seq MOD 10, seq FROM {dbname}.seq_0_to_349",
        f"CREATE TABLE {dbname}.nopk (x INT, y TEXT)",
        f"INSERT INTO {dbname}.nopk VALUES (1, NULL), (1, NULL), (2, 'two')",
        f"CREATE VIEW {dbname}.vw AS SELECT id FROM {dbname}.big",
    )
    ctx = make_ctx(tmp_path, up, mariadb.target, dbname, rows=100)
    unit = DumpUnit(ctx)
    assert not unit.completed()
    unit.process(threading.Event())
    assert unit.completed()

    meta = dumpfiles.read_metadata(ctx.dump_dir)
    assert meta.method == "consistent-snapshot" and meta.flavor == "mariadb"
    assert meta.location.file.startswith("mysql-bin.") and meta.location.pos > 4
    assert meta.location.gtid == up.query("SELECT BINLOG_GTID_POS(%s, %s)",
                                          (meta.location.file, meta.location.pos))[0][0]
    tables = {t.table: t for t in meta.tables}
    assert set(tables) == {"big", "comp", "nopk"}  # the view is skipped
    assert tables["big"].columns == ["id", "v"]  # generated column not dumped
    assert [t.rows for t in (tables["big"], tables["comp"], tables["nopk"])] == [1050, 350, 3]
    assert len(tables["big"].chunks) == 11 and [c.rows for c in tables["big"].chunks] == [100] * 10 + [50]
    assert len(tables["comp"].chunks) == 4 and sum(c.rows for c in tables["comp"].chunks) == 350
    assert len(tables["nopk"].chunks) == 1 and tables["nopk"].chunks[0].where == ""

    # every chunk file: one INSERT per line, all with the table's fixed prefix
    ids = []
    for chunk in tables["big"].chunks:
        prefix = dumpfiles.insert_prefix("big", ["id", "v"]).encode()
        for stmt in dumpfiles.iter_statements(ctx.dump_dir / chunk.file):
            assert stmt.startswith(prefix) and stmt.endswith(b";")
            ids += [int(x) for x in re.findall(rb"\((\d+),'v", stmt)]
        assert (ctx.dump_dir / chunk.file).stat().st_size == chunk.bytes
    assert ids == list(range(1, 1051))
    create = (ctx.dump_dir / tables["big"].schema_file).read_text()
    assert create.startswith("CREATE TABLE `big` (") and "VIRTUAL" in create
    assert (ctx.dump_dir / dumpfiles.schema_create_file(dbname)).read_text().startswith(
        f"CREATE DATABASE `{dbname}`")
    assert json.loads((ctx.dump_dir / "metadata").read_text())["dump_id"] == meta.dump_id

    st = unit.status()
    assert isinstance(st, pb.DumpStatus)
    assert (st.totalTables, st.completedTables, st.finishedRows) == (3, 3, 1403)
    assert st.finishedBytes == meta.total_bytes and st.progress == "100.00 %"


def test_dump_skips_system_and_meta_schemas(mariadb, dbname, tmp_path):
    up, meta_schema = mariadb.up1, f"{dbname}_m"
    up.execute(f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}",
               f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY)",
               f"DROP DATABASE IF EXISTS {meta_schema}", f"CREATE DATABASE {meta_schema}",
               f"CREATE TABLE {meta_schema}.tdump_loader_checkpoint (id INT)")
    ctx = make_ctx(tmp_path, up, mariadb.target, dbname, meta_schema=meta_schema,
                   schemas=[dbname, meta_schema, "mysql", "information_schema"])
    meta = run_dump(ctx)
    assert [(t.schema, t.table) for t in meta.tables] == [(dbname, "t")]
    assert [s.name for s in meta.schemas] == [dbname]


@pytest.mark.parametrize("threads, method", [(1, "consistent-snapshot"), (3, "flush-tables-with-read-lock")])
def test_dump_position_matches_snapshot(mariadb, dbname, tmp_path, threads, method):
    """Rows committed up to the recorded GTID are in the dump, later ones are not, and the binlog
    continues right at the recorded position with the next transaction."""
    up = mariadb.up1
    up.execute(f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}",
               f"CREATE TABLE {dbname}.w (id INT PRIMARY KEY, note VARCHAR(10))",
               f"CREATE TABLE {dbname}.other (id INT PRIMARY KEY)",
               f"INSERT INTO {dbname}.other SELECT seq FROM {dbname}.seq_1_to_2000")
    seqs: dict[int, int] = {}
    dump_done = threading.Event()
    writer_error: list[BaseException] = []

    def writer() -> None:
        conn = up.connect()
        try:
            with conn.cursor() as cur:
                i, after = 0, 0
                while after < 30:  # keep writing a little while after the dump finished
                    i += 1
                    cur.execute(f"INSERT INTO {dbname}.w VALUES (%s, 'x')", (i,))
                    cur.execute("SELECT @@last_gtid")
                    seqs[i] = int(cur.fetchone()[0].split("-")[2])
                    after += dump_done.is_set()
        except BaseException as exc:
            writer_error.append(exc)
        finally:
            conn.close()

    t = threading.Thread(target=writer)
    t.start()
    while len(seqs) < 20 and t.is_alive():
        threading.Event().wait(0.01)
    ctx = make_ctx(tmp_path, up, mariadb.target, dbname, threads=threads, rows=500)
    try:
        meta = run_dump(ctx)
    finally:
        dump_done.set()
        t.join()
    assert not writer_error
    assert meta.method == method

    domain1 = [g for g in meta.location.gtid.split(",") if g.startswith("1-")]
    snapshot_seq = int(domain1[0].split("-")[2])
    (wmeta,) = [tm for tm in meta.tables if tm.table == "w"]
    dumped = set()
    for chunk in wmeta.chunks:
        for stmt in dumpfiles.iter_statements(ctx.dump_dir / chunk.file):
            dumped.update(int(x) for x in re.findall(rb"\((\d+),'x'\)", stmt))
    assert dumped == {i for i, s in seqs.items() if s <= snapshot_seq}
    assert any(s > snapshot_seq for s in seqs.values())
    next_event = up.query(f"SHOW BINLOG EVENTS IN '{meta.location.file}' FROM {meta.location.pos} LIMIT 1")
    assert next_event[0][2] == "Gtid" and next_event[0][5].endswith(f"-{snapshot_seq + 1}")


def test_dump_restart_and_stop(mariadb, dbname, tmp_path):
    up = mariadb.up1
    up.execute(f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}",
               f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY)",
               f"INSERT INTO {dbname}.t SELECT seq FROM {dbname}.seq_1_to_500")
    ctx = make_ctx(tmp_path, up, mariadb.target, dbname, rows=50)
    ctx.dump_dir.mkdir(parents=True)
    (ctx.dump_dir / "leftover.000000001.sql").write_text("garbage")

    stopped = threading.Event()
    stopped.set()
    unit = DumpUnit(ctx)
    unit.process(stopped)  # asked to stop: returns without completing
    assert not unit.completed() and not (ctx.dump_dir / "metadata").exists()
    assert not (ctx.dump_dir / "leftover.000000001.sql").exists()

    unit.process(threading.Event())
    meta = dumpfiles.read_metadata(ctx.dump_dir)
    assert unit.completed() and sum(t.rows for t in meta.tables) == 500
    files = {p.name for p in ctx.dump_dir.iterdir()}
    assert files == {"metadata", *(s.file for s in meta.schemas), *(t.schema_file for t in meta.tables),
                     *(c.file for t in meta.tables for c in t.chunks)}

    # a completed dump is not redone
    unit.process(threading.Event())
    assert dumpfiles.read_metadata(ctx.dump_dir).dump_id == meta.dump_id


def test_encode_row_values():
    row = [None, "12.50", "it's\n\\ \x00", b"\x00\x01'", b"", "18446744073709551615"]
    numeric = [False, True, False, False, False, True]
    assert dumpfiles.encode_row(row, numeric) == (
        "(NULL,12.50,'it\\'s\\n\\\\ \\0',0x000127,'',18446744073709551615)")
