"""The dump unit against the real MariaDB fixture: files, metadata, snapshot position, chunking, restarts."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from dmshell.engine import errors
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.config.units import LoaderConfig, MydumperConfig, SyncerConfig
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump import options as dump_args
from dmshell.engine.dump.dumper import DumpUnit
from dmshell.engine.filters.rule_types import BAList
from dmshell.engine.unit import UnitContext
from dmshell.proto import dmworker_pb2 as pb


def make_ctx(
    tmp_path: Path,
    source,
    target,
    dbname: str,
    *,
    source_id: str = "mysql-01",
    threads: int = 1,
    rows: int = 0,
    schemas: list[str] | None = None,
    meta_schema: str | None = None,
    extra_args: str = "",
    chunk_filesize: str = "64",
    where: str = "",
) -> UnitContext:
    cfg = SubTaskConfig(
        name="tdump",
        task_mode="all",
        source_id=source_id,
        meta_schema=meta_schema or f"{dbname}_meta",
        target=target.dbconfig(),
        meta=None,
        block_allow_list=BAList(do_dbs=schemas or [dbname]),
        routes=[],
        mydumper=MydumperConfig(
            threads=threads, rows=rows, extra_args=extra_args, chunk_filesize=chunk_filesize, where=where
        ),
        loader=LoaderConfig(pool_size=2),
        syncer=SyncerConfig(),
    )
    src = SourceConfig(source_id=source_id, from_db=source.dbconfig())
    return UnitContext(cfg=cfg, source=src, work_dir=tmp_path / source_id, worker_name="worker1")


def run_dump(ctx: UnitContext) -> dumpfiles.DumpMetadata:
    unit = DumpUnit(ctx)
    unit.process(threading.Event())
    meta = dumpfiles.read_metadata(ctx.dump_dir)
    assert meta is not None and unit.completed()
    return meta


def dumped_rows(ctx: UnitContext, table: dumpfiles.TableMeta) -> list[list[bytes]]:
    out = []
    for chunk in table.chunks:
        lines = list(dumpfiles.iter_rows(ctx.dump_dir / chunk.file))
        assert len(lines) == chunk.rows
        out += [dumpfiles.split_fields(line) for line in lines]
    return out


def test_dump_files_and_metadata(mariadb, dbname, tmp_path):
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname} CHARACTER SET utf8mb4",
        f"CREATE TABLE {dbname}.big (id INT PRIMARY KEY, v VARCHAR(20), twice INT AS (id * 2) VIRTUAL)",
        f"INSERT INTO {dbname}.big (id, v) SELECT seq, CONCAT('v', seq) FROM {dbname}.seq_1_to_1050",
        f"CREATE TABLE {dbname}.comp (a INT, b VARCHAR(4), c INT, PRIMARY KEY (a, b))",
        f"INSERT INTO {dbname}.comp SELECT seq DIV 10, seq MOD 10, seq FROM {dbname}.seq_0_to_349",
        f"CREATE TABLE {dbname}.nopk (x INT, y TEXT, z VARBINARY(4))",
        f"INSERT INTO {dbname}.nopk VALUES (1, NULL, NULL), (1, 'a\\nb,''c', ''), (2, 'two', x'00ff')",
        f"CREATE VIEW {dbname}.vw AS SELECT id FROM {dbname}.big",
    )
    ctx = make_ctx(tmp_path, up, mariadb.target, dbname, rows=100)
    unit = DumpUnit(ctx)
    assert not unit.completed()
    unit.process(threading.Event())
    assert unit.completed()

    meta = dumpfiles.read_metadata(ctx.dump_dir)
    assert meta.consistency == "snapshot" and meta.flavor == "mariadb" and unit.consistency == "snapshot"
    assert meta.location.file.startswith("mysql-bin.") and meta.location.pos > 4
    assert (
        meta.location.gtid
        == up.query("SELECT BINLOG_GTID_POS(%s, %s)", (meta.location.file, meta.location.pos))[0][0]
    )
    tables = {t.table: t for t in meta.tables}
    assert set(tables) == {"big", "comp", "nopk"} and meta.views == []  # views only with --no-views=false
    assert tables["big"].column_names == ["id", "v"]  # generated column not dumped
    assert [c.codec for c in tables["nopk"].columns] == ["num", "text", "hex"]
    assert [t.rows for t in (tables["big"], tables["comp"], tables["nopk"])] == [1050, 350, 3]
    assert len(tables["big"].chunks) == 11 and [c.rows for c in tables["big"].chunks] == [100] * 10 + [50]
    assert len(tables["comp"].chunks) == 4 and sum(c.rows for c in tables["comp"].chunks) == 350
    assert len(tables["nopk"].chunks) == 1 and tables["nopk"].chunks[0].where == ""

    ids = [int(r[0]) for r in dumped_rows(ctx, tables["big"])]
    assert ids == list(range(1, 1051))
    for chunk in tables["big"].chunks:
        assert (ctx.dump_dir / chunk.file).stat().st_size == chunk.bytes
    assert sorted(dumped_rows(ctx, tables["nopk"])) == [
        [b"1", b"'a\nb,\\'c'", b"''"],
        [b"1", b"NULL", b"NULL"],
        [b"2", b"'two'", b"0x00FF"],
    ]
    create = (ctx.dump_dir / tables["big"].schema_file).read_text()
    assert create.startswith("CREATE TABLE `big` (") and "VIRTUAL" in create
    assert (
        (ctx.dump_dir / dumpfiles.schema_create_file(dbname))
        .read_text()
        .startswith(f"CREATE DATABASE `{dbname}`")
    )
    assert json.loads((ctx.dump_dir / "metadata").read_text())["dump_id"] == meta.dump_id

    st = unit.status()
    assert isinstance(st, pb.DumpStatus)
    assert (st.totalTables, st.completedTables, st.finishedRows) == (3, 3, 1403)
    assert st.finishedBytes == meta.total_bytes and st.progress == "100.00 %"
    assert st.consistency == "snapshot"


def test_dump_skips_system_and_meta_schemas(mariadb, dbname, tmp_path):
    up, meta_schema = mariadb.up1, f"{dbname}_m"
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY)",
        f"DROP DATABASE IF EXISTS {meta_schema}",
        f"CREATE DATABASE {meta_schema}",
        f"CREATE TABLE {meta_schema}.tdump_loader_checkpoint (id INT)",
    )
    ctx = make_ctx(
        tmp_path,
        up,
        mariadb.target,
        dbname,
        meta_schema=meta_schema,
        schemas=[dbname, meta_schema, "mysql", "information_schema"],
    )
    meta = run_dump(ctx)
    assert [(t.schema, t.table) for t in meta.tables] == [(dbname, "t")]
    assert [s.name for s in meta.schemas] == [dbname]


@pytest.mark.parametrize(
    "threads, extra_args, methods",
    [
        (1, "", {"snapshot"}),
        (3, "", {"snapshot", "flush"}),  # lock-free when the snapshots line up, else a short FTWRL
        (3, "--consistency flush", {"flush"}),
        (2, "--consistency lock", {"lock"}),
    ],
)
def test_dump_position_matches_snapshot(mariadb, dbname, tmp_path, threads, extra_args, methods):
    """Rows committed up to the recorded GTID are in the dump, later ones are not, and the binlog
    continues right at the recorded position with the next transaction."""
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.w (id INT PRIMARY KEY, note VARCHAR(10))",
        f"CREATE TABLE {dbname}.other (id INT PRIMARY KEY)",
        f"INSERT INTO {dbname}.other SELECT seq FROM {dbname}.seq_1_to_2000",
    )
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
    ctx = make_ctx(tmp_path, up, mariadb.target, dbname, threads=threads, rows=500, extra_args=extra_args)
    try:
        meta = run_dump(ctx)
    finally:
        dump_done.set()
        t.join()
    assert not writer_error
    assert meta.consistency in methods

    domain1 = [g for g in meta.location.gtid.split(",") if g.startswith("1-")]
    snapshot_seq = int(domain1[0].split("-")[2])
    (wmeta,) = [tm for tm in meta.tables if tm.table == "w"]
    dumped = {int(r[0]) for r in dumped_rows(ctx, wmeta)}
    assert dumped == {i for i, s in seqs.items() if s <= snapshot_seq}
    assert any(s > snapshot_seq for s in seqs.values())
    next_event = up.query(f"SHOW BINLOG EVENTS IN '{meta.location.file}' FROM {meta.location.pos} LIMIT 1")
    assert next_event[0][2] == "Gtid" and next_event[0][5].endswith(f"-{snapshot_seq + 1}")


def test_parallel_snapshot_is_lock_free_when_idle(mariadb, dbname, tmp_path):
    up = mariadb.up2
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY)",
        f"INSERT INTO {dbname}.t SELECT seq FROM {dbname}.seq_1_to_3000",
    )
    meta = run_dump(make_ctx(tmp_path, up, mariadb.target, dbname, threads=4, rows=500))
    assert meta.consistency == "snapshot" and meta.tables[0].rows == 3000 and len(meta.tables[0].chunks) == 6


@pytest.mark.parametrize(
    "key_def, insert",
    [
        ("k FLOAT NOT NULL, PRIMARY KEY (k)", "seq / 7"),
        ("k DOUBLE NOT NULL, PRIMARY KEY (k)", "seq / 7 - 100"),
        ("k DECIMAL(12,4) NOT NULL, PRIMARY KEY (k)", "seq / 3"),
        ("k DATETIME(6) NOT NULL, PRIMARY KEY (k)", "'2020-01-01' + INTERVAL seq * 1001 MICROSECOND"),
        ("k ENUM('z','y','x','w') NOT NULL, n INT NOT NULL, PRIMARY KEY (k, n)", "1 + seq MOD 4, seq"),
        ("k BIT(16) NOT NULL, PRIMARY KEY (k)", "seq * 3"),
        (
            "k VARCHAR(20) CHARACTER SET latin1 NOT NULL, PRIMARY KEY (k)",
            "CONCAT(CHAR(seq MOD 200 + 40), seq)",
        ),
        ("k VARCHAR(20) NOT NULL COLLATE utf8mb4_general_ci, UNIQUE KEY (k)", "CONCAT('ä', seq, 'Ü')"),
        ("k VARBINARY(8) NOT NULL, PRIMARY KEY (k)", "UNHEX(HEX(seq * 997))"),
        ("k INT NOT NULL, KEY (k)", "seq MOD 37"),  # a non-unique index: ranges of values
    ],
)
def test_chunking_covers_every_row_once(mariadb, dbname, tmp_path, key_def, insert):
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t ({key_def}, pad VARCHAR(10))",
        f"INSERT INTO {dbname}.t SELECT {insert}, 'p' FROM {dbname}.seq_1_to_1000",
    )
    ctx = make_ctx(tmp_path, up, mariadb.target, dbname, rows=90, threads=2)
    (table,) = run_dump(ctx).tables
    assert len(table.chunks) >= 5, table.chunks
    whole = make_ctx(tmp_path / "whole", up, mariadb.target, dbname)  # one chunk
    (whole_table,) = run_dump(whole).tables
    assert len(whole_table.chunks) == 1
    assert sorted(dumped_rows(ctx, table)) == sorted(dumped_rows(whole, whole_table))
    assert table.rows == 1000


def test_chunk_filesize_and_where(mariadb, dbname, tmp_path):
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.nokey (v VARCHAR(100))",
        f"INSERT INTO {dbname}.nokey SELECT REPEAT('x', 90) FROM {dbname}.seq_1_to_3000",
        f"CREATE TABLE {dbname}.keyed (id INT PRIMARY KEY, v INT)",
        f"INSERT INTO {dbname}.keyed SELECT seq, seq MOD 3 FROM {dbname}.seq_1_to_3000",
    )
    meta = run_dump(
        make_ctx(
            tmp_path,
            up,
            mariadb.target,
            dbname,
            chunk_filesize="100KiB",
            extra_args="--where 'v IS NOT NULL' -r 2000",
        )
    )
    tables = {t.table: t for t in meta.tables}
    nokey = tables["nokey"]
    assert len(nokey.chunks) == 3 and nokey.rows == 3000  # ~283 KB in files of about 100 KiB
    assert all(c.bytes <= 100 * 1024 + 13 * 1024 for c in nokey.chunks)
    assert [c.file.rsplit(".", 3)[1:] for c in nokey.chunks] == [
        ["000000000", "0000", "csv"],
        ["000000000", "0001", "csv"],
        ["000000000", "0002", "csv"],
    ]
    assert tables["keyed"].rows == 3000 and len(tables["keyed"].chunks) == 2

    meta = run_dump(make_ctx(tmp_path / "w", up, mariadb.target, dbname, where="v = 1"))
    tables = {t.table: t for t in meta.tables}
    assert tables["keyed"].rows == 1000


def test_views_with_no_views_false(mariadb, dbname, tmp_path):
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY)",
        f"CREATE DEFINER = 'nobody'@'%' VIEW {dbname}.v AS SELECT id FROM {dbname}.t WHERE id > 1",
    )
    meta = run_dump(make_ctx(tmp_path, up, mariadb.target, dbname, extra_args="--no-views=false"))
    assert [(v.schema, v.name) for v in meta.views] == [(dbname, "v")]
    sql = (tmp_path / "mysql-01" / "dump" / meta.views[0].file).read_text()
    assert sql.startswith(f"CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `{dbname}`.`v` AS select")
    assert "nobody" not in sql


def test_dump_restart_and_stop(mariadb, dbname, tmp_path):
    up = mariadb.up1
    up.execute(
        f"DROP DATABASE IF EXISTS {dbname}",
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY)",
        f"INSERT INTO {dbname}.t SELECT seq FROM {dbname}.seq_1_to_500",
    )
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
    assert files == {
        "metadata",
        *(s.file for s in meta.schemas),
        *(t.schema_file for t in meta.tables),
        *(c.file for t in meta.tables for c in t.chunks),
    }

    # a completed dump is not redone
    unit.process(threading.Event())
    assert dumpfiles.read_metadata(ctx.dump_dir).dump_id == meta.dump_id


def test_extra_args():
    opts = dump_args.dump_options(
        MydumperConfig(
            threads=2,
            rows=10,
            chunk_filesize="8",
            extra_args="-t 6 --filesize=1MiB -r 77 --no-views=false "
            "--where \"a = 'x y'\" -T db1.t1,db2.t2 --escape-backslash -s 5000",
        )
    )
    assert (opts.threads, opts.filesize, opts.rows, opts.no_views, opts.where, opts.statement_size) == (
        6,
        1 << 20,
        77,
        False,
        "a = 'x y'",
        5000,
    )
    flt = opts.table_filter()
    assert flt.allow_table("db1", "t1") and flt.allow_table("DB2", "t2") and not flt.allow_table("db1", "t2")
    assert dump_args.dump_options(MydumperConfig(extra_args="--no-locks")).consistency == "none"
    flt = dump_args.dump_options(MydumperConfig(extra_args="-f 'shop*.*' -f '!shop1.secret'")).table_filter()
    assert flt.allow_table("shop1", "a") and not flt.allow_table("shop1", "secret")
    assert not flt.allow_table("x", "a")
    defaults = dump_args.dump_options(MydumperConfig())
    assert (defaults.rows, defaults.filesize, defaults.consistency, defaults.no_views) == (
        200_000,
        64 << 20,
        "auto",
        True,
    )
    bad_args = (
        "--consistency bogus",
        "--no-locks --consistency flush",
        "--rows",
        "-F 12zz",
        "--where 'x",
    )
    refused = ("--unknown-flag", "--snapshot 123", "--ca=/x.pem", "--transactional-consistency=false")
    for bad in bad_args + refused:
        with pytest.raises(errors.DMError) as info:
            dump_args.dump_options(MydumperConfig(extra_args=bad))
        assert info.value.code == 32001 and "extra-args" in info.value.workaround
        why = info.value.message.split(f"{bad!r}: ", 1)[1]
        assert bad not in refused or bad.split()[0].split("=")[0] in why, why
