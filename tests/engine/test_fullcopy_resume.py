"""The full-copy unit (task-modes all and full) against the real MariaDB fixture: chunks loaded while the
dump runs, kill -9 during that overlap, a dump resumed from a new snapshot without dumping the loaded
chunks again, ``loaders.dir`` and the dump directory's cap, and the dump's worker processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dmshell.engine import errors
from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.config.units import LoaderConfig, MydumperConfig, SyncerConfig
from dmshell.engine.dump import files as dumpfiles
from dmshell.engine.dump import proc
from dmshell.engine.dump import run as dump_run
from dmshell.engine.filters.rule_types import BAList
from dmshell.engine.load.fullcopy import FullCopyUnit
from dmshell.engine.unit import UnitContext
from dmshell.proto import dmworker_pb2 as pb

from .sync_helpers import Running, converge, rows, wait_until

REPO = Path(__file__).resolve().parents[2]
TASK = "tfull"
SOURCE = "mysql-01"

#: runs a FullCopyUnit to its end in a child process (killed with SIGKILL by the tests)
CHILD = """
import json, sys, threading
from dmshell.engine.load.fullcopy import FullCopyUnit
from tests.engine.test_fullcopy_resume import context
FullCopyUnit(context(**json.loads(sys.argv[1]))).process(threading.Event())
"""


def context(
    work_dir: str,
    db: str,
    source: dict,
    target: dict,
    task_mode: str = "all",
    rows: int = 300,
    threads: int = 2,
    pool_size: int = 2,
    loader_dir: str = "",
    dump_dir_max_size: int = 1024,
    clean_dump_file: bool = True,
) -> UnitContext:
    """The subtask of these tests (plain arguments, so that a child process can build it too)."""
    cfg = SubTaskConfig(
        name=TASK,
        task_mode=task_mode,
        source_id=SOURCE,
        meta_schema=f"{db}_meta",
        target=DBConfig(**target),
        meta=None,
        block_allow_list=BAList(do_dbs=[db]),
        routes=[],
        mydumper=MydumperConfig(threads=threads, rows=rows),
        loader=LoaderConfig(pool_size=pool_size, dump_dir_max_size=dump_dir_max_size),
        syncer=SyncerConfig(worker_count=4, batch=20, checkpoint_flush_interval=1, safe_mode_duration=0.0),
        clean_dump_file=clean_dump_file,
    )
    if loader_dir:
        cfg.loader.dir = f"{loader_dir}.{TASK}" if task_mode in ("all", "full") else loader_dir
    src = SourceConfig(source_id=SOURCE, from_db=DBConfig(**source))
    return UnitContext(cfg=cfg, source=src, work_dir=Path(work_dir), worker_name="worker1")


def args_for(mariadb, tmp_path: Path, db: str, **options) -> dict:
    def conn(server) -> dict:
        c = server.dbconfig()
        return {"host": c.host, "port": c.port, "user": c.user, "password": c.password}

    return {
        "work_dir": str(tmp_path / SOURCE),
        "db": db,
        "source": conn(mariadb.up1),
        "target": conn(mariadb.target),
        **options,
    }


def start_child(args: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def kill(p: subprocess.Popen) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait()


def loaded_chunks(target, db: str) -> list[tuple[str, int, int]]:
    """(table, chunk, snapshot) of every chunk recorded as loaded."""
    try:
        got = target.query(f"SELECT cp_table, chunk, snapshot FROM {db}_meta.{TASK}_loader_chunk")
    except Exception:  # not created yet
        return []
    return sorted((str(t), int(c), int(s)) for t, c, s in got)


def fresh(mariadb, db: str) -> None:
    for server in (mariadb.up1, mariadb.target):
        server.execute(f"DROP DATABASE IF EXISTS {db}", f"DROP DATABASE IF EXISTS {db}_meta")


def same_rows(mariadb, db: str, tables) -> None:
    for table in tables:
        sql = f"SELECT * FROM {db}.{table}"
        assert rows(mariadb.target, sql) == rows(mariadb.up1, sql), table


# -- kill -9 while loading what is being dumped -------------------------------------------------------
def test_kill_9_during_the_overlap_then_the_sync_converges(mariadb, dbname, tmp_path):
    """Task-mode all: the worker is killed at seeded points while chunks load and the dump still runs
    (held at ``c_uk``, whose rows are locked), the source changes between the runs, so every run
    dumps from another snapshot; the last run completes the copy and the sync, from the earliest
    snapshot, brings every table — keyed or not, split over snapshots or not — to the source's rows."""
    seed = random.randrange(1 << 30)
    print(f"random seed: {seed}")
    rng = random.Random(seed)
    db, up, target = dbname, mariadb.up1, mariadb.target
    fresh(mariadb, db)
    up.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.a_nokey (x INT, y VARCHAR(10))",
        f"INSERT INTO {db}.a_nokey SELECT seq MOD 50, IF(seq MOD 3, 'dup', NULL) FROM {db}.seq_1_to_500",
        f"CREATE TABLE {db}.b_pk (id INT PRIMARY KEY, v VARCHAR(40), KEY vk (v))",
        f"INSERT INTO {db}.b_pk SELECT seq * 2, CONCAT('v', seq) FROM {db}.seq_1_to_3000",
        f"CREATE TABLE {db}.c_uk (a INT NOT NULL, b INT NOT NULL, v INT, UNIQUE KEY ab (a, b))",
        f"INSERT INTO {db}.c_uk SELECT seq DIV 10, seq MOD 10, seq FROM {db}.seq_1_to_1000",
        f"CREATE TABLE {db}.d_nokey (x INT)",
        f"INSERT INTO {db}.d_nokey SELECT seq MOD 7 FROM {db}.seq_1_to_300",
    )
    target.execute(  # a slow b_pk (created ahead, same columns), so that kills land while it loads
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.b_pk (id INT PRIMARY KEY, v VARCHAR(40), KEY vk (v))",
        f"CREATE TRIGGER {db}.slow BEFORE INSERT ON {db}.b_pk FOR EACH ROW "
        "BEGIN IF NEW.id MOD 40 = 0 THEN DO SLEEP(0.005); END IF; END",
    )
    args = args_for(mariadb, tmp_path, db)
    tables = ("a_nokey", "b_pk", "c_uk", "d_nokey")
    locker = up.connect()
    try:
        with locker.cursor() as cur:
            cur.execute(f"LOCK TABLES {db}.c_uk WRITE")
        for round_ in range(3):
            before = len(loaded_chunks(target, db))
            child = start_child(args)
            try:
                wait_until(
                    lambda b=before, c=child: len(loaded_chunks(target, db)) > b or c.poll() is not None,
                    "a chunk to be loaded",
                )
                assert child.poll() is None, "the copy ended while c_uk was locked"
                time.sleep(rng.uniform(0, 0.15))
            finally:
                kill(child)
            # the source changes before the next run takes its snapshot
            n = 10000 + round_
            up.execute(
                f"INSERT INTO {db}.a_nokey VALUES (1, 'dup'), ({n}, NULL)",
                f"DELETE FROM {db}.a_nokey WHERE x = {round_ + 2} LIMIT 1",
                f"UPDATE {db}.b_pk SET v = CONCAT(v, '+') WHERE id MOD 97 = {round_}",
                f"DELETE FROM {db}.b_pk WHERE id MOD 101 = {round_}",
                f"INSERT INTO {db}.b_pk VALUES ({2 * n + 1}, 'odd'), ({n * 3}, 'new'), "
                f"({round_ * 2 + 1}, 'gap')",
                f"INSERT INTO {db}.d_nokey VALUES ({round_}), ({round_})",
                f"UPDATE {db}.d_nokey SET x = x + 100 WHERE x = {round_ + 3} LIMIT 2",
            )
            with locker.cursor() as cur:  # the lock's owner may still write c_uk
                cur.execute(f"UPDATE {db}.c_uk SET v = -v WHERE a = {round_ * 7}")
                cur.execute(f"INSERT INTO {db}.c_uk VALUES ({n}, 1, {n})")
    finally:
        locker.close()  # releases the lock: the next run can dump everything

    kept = loaded_chunks(target, db)
    assert kept, "no chunk was loaded before the kills"
    ctx = context(**args)
    unit = FullCopyUnit(ctx)
    unit.process(threading.Event())
    assert unit.completed()
    st = unit.status()
    assert isinstance(st, pb.LoadStatus) and st.progress == "100.00 %"
    assert st.resumed.startswith(f"kept {len(kept)} loaded chunk(s)"), st.resumed
    chunks = loaded_chunks(target, db)
    assert set(kept) <= set(chunks), "a chunk loaded before the kills was loaded again"
    assert len({s for _, _, s in chunks}) >= 2, chunks

    up.execute(  # and after the copy
        f"INSERT INTO {db}.a_nokey VALUES (1, 'dup')",
        f"UPDATE {db}.b_pk SET v = 'last' WHERE id < 50",
        f"DELETE FROM {db}.c_uk WHERE a = 3",
        f"INSERT INTO {db}.d_nokey VALUES (1)",
    )
    running = Running(ctx)
    try:
        converge(up, target, [(f"{db}.{t}", f"{db}.{t}") for t in tables], running)
    finally:
        running.stop()
    same_rows(mariadb, db, tables)
    # the postponed secondary index exists in the end
    assert target.query(f"SHOW CREATE TABLE {db}.b_pk")[0][1].count("KEY `vk`") == 1


# -- a resumed dump -----------------------------------------------------------------------------------
def blocked_copy(mariadb, db: str, tmp_path: Path, task_mode: str = "full", **options) -> dict:
    """A full copy of 1000 rows in 10 chunks, killed while the target waits in the 4th chunk (row 350
    waits for the user lock ``<db>``): chunks 0-2 are loaded from the first snapshot. Returns the
    copy's arguments."""
    up, target = mariadb.up1, mariadb.target
    fresh(mariadb, db)
    up.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        f"INSERT INTO {db}.t SELECT seq, CONCAT('row ', seq) FROM {db}.seq_1_to_1000",
    )
    target.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20))",
        f"CREATE TRIGGER {db}.block BEFORE INSERT ON {db}.t FOR EACH ROW BEGIN "
        f"IF NEW.id = 350 THEN SET @b = GET_LOCK('{db}', 600); SET @b = RELEASE_LOCK('{db}'); END IF; END",
    )
    args = args_for(mariadb, tmp_path, db, task_mode=task_mode, rows=100, threads=1, pool_size=1, **options)
    locker = target.connect()
    try:
        with locker.cursor() as cur:
            cur.execute("SELECT GET_LOCK(%s, 10)", (db,))
        child = start_child(args)
        try:
            wait_until(
                lambda: target.query(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = 'User lock' "
                    "AND INFO LIKE %s",
                    (f"%GET_LOCK('{db}'%",),
                )[0][0]
                or child.poll() is not None,
                "the load to reach row 350",
            )
            assert child.poll() is None
            # loaders.dir is honoured: the chunks are dumped there, not into the subtask's directory
            if options.get("loader_dir"):
                dump_dir = Path(f"{options['loader_dir']}.{TASK}.{SOURCE}")
                assert any(p.name.endswith(".csv") for p in dump_dir.iterdir())
                assert not (tmp_path / SOURCE / "dump").exists()
        finally:
            kill(child)
    finally:
        locker.close()
    assert loaded_chunks(target, db) == [("t", i, 1) for i in range(3)]
    return args


def test_resumed_dump_keeps_the_loaded_chunks(mariadb, dbname, tmp_path):
    """After kill -9 the dump resumes from a new snapshot: the 3 loaded chunks are neither dumped nor
    loaded again (the new run dumps 700 rows), query-status says what was kept."""
    args = blocked_copy(mariadb, dbname, tmp_path, loader_dir=str(tmp_path / "dumps"))
    ctx = context(**args)
    assert ctx.dump_dir == tmp_path / f"dumps.{TASK}.{SOURCE}"
    unit = FullCopyUnit(ctx)
    seen: list = []
    stop_watching = threading.Event()

    def watch() -> None:
        while not stop_watching.wait(0.01):
            seen.append(unit.status())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        unit.process(threading.Event())
    finally:
        stop_watching.set()
        watcher.join()
    assert unit.completed()
    assert unit._run is not None and unit._run.progress()[0] == 700  # dumped in this run
    chunks = loaded_chunks(mariadb.target, dbname)
    assert chunks == [("t", i, 1) for i in range(3)] + [("t", i, 2) for i in range(3, 10)]
    same_rows(mariadb, dbname, ["t"])
    st = unit.status()
    assert st.resumed.startswith("kept 3 loaded chunk(s) (300 rows) of the interrupted dump at (mysql-bin.")
    dumping = [s for s in seen if isinstance(s, pb.DumpStatus) and s.resumed]
    assert dumping and all(s.resumed == st.resumed and s.finishedRows >= 300 for s in dumping)
    assert not ctx.dump_dir.exists()  # task-mode full, clean-dump-file: everything is removed


def test_full_mode_starts_over_when_the_source_changed(mariadb, dbname, tmp_path):
    """Task-mode full has no sync to replay what changed between two snapshots: the loaded chunks
    are deleted and the copy starts over from the new snapshot."""
    up = mariadb.up1
    args = blocked_copy(mariadb, dbname, tmp_path)
    up.execute(
        f"DELETE FROM {dbname}.t WHERE id IN (5, 150, 900)",
        f"UPDATE {dbname}.t SET v = 'changed' WHERE id IN (7, 250)",
        f"INSERT INTO {dbname}.t VALUES (1001, 'new')",
    )
    unit = FullCopyUnit(context(**args))
    unit.process(threading.Event())
    assert unit.completed() and unit.status().resumed == ""
    assert loaded_chunks(mariadb.target, dbname) == [("t", i, 1) for i in range(10)]
    same_rows(mariadb, dbname, ["t"])


def test_a_table_changed_since_the_interrupted_dump_is_not_resumed(mariadb, dbname, tmp_path):
    """Rows of two structures cannot make one table: the resume stops with 34018 and says why."""
    args = blocked_copy(mariadb, dbname, tmp_path, task_mode="all")
    mariadb.up1.execute(f"ALTER TABLE {dbname}.t ADD COLUMN w INT")
    with pytest.raises(errors.DMError) as info:
        FullCopyUnit(context(**args)).process(threading.Event())
    assert info.value.code == 34018 and "changed its structure" in info.value.raw_cause
    assert "--remove-meta" in info.value.workaround
    assert loaded_chunks(mariadb.target, dbname) == [("t", i, 1) for i in range(3)]  # untouched


# -- the dump directory --------------------------------------------------------------------------------
def test_dump_dir_is_capped_while_the_load_keeps_up(mariadb, dbname, tmp_path):
    """A 1 MiB cap on the dump directory: the dump waits for the load (query-status shows both at
    once), the directory never holds more than the cap and the chunks being written, and a kept
    copy (``clean-dump-file: false``) is not capped."""
    db, up, target = dbname, mariadb.up1, mariadb.target
    fresh(mariadb, db)
    up.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, c CHAR(200))",
        f"INSERT INTO {db}.t SELECT seq, REPEAT(CHAR(65 + seq MOD 26), 200) FROM {db}.seq_1_to_20000",
    )
    target.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, c CHAR(200))",
        f"CREATE TRIGGER {db}.slow BEFORE INSERT ON {db}.t FOR EACH ROW "
        "BEGIN IF NEW.id MOD 500 = 0 THEN DO SLEEP(0.01); END IF; END",
    )
    args = args_for(mariadb, tmp_path, db, rows=1000, task_mode="full", dump_dir_max_size=1)
    ctx = context(**args)
    unit = FullCopyUnit(ctx)
    seen: list = []
    sizes: list[int] = []
    stop_watching = threading.Event()

    def watch() -> None:
        while not stop_watching.wait(0.005):
            seen.append(unit.status())
            try:
                sizes.append(
                    sum(e.stat().st_size for e in os.scandir(ctx.dump_dir) if e.name.endswith(".csv"))
                )
            except OSError:
                pass

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        unit.process(threading.Event())
    finally:
        stop_watching.set()
        watcher.join()
    same_rows(mariadb, db, ["t"])
    chunk = 1000 * 210  # bytes of one chunk (id, the quoted CHAR(200), a separator, the row's end)
    assert sizes and max(sizes) <= (1 << 20) + 2 * chunk, max(sizes)
    assert unit._progress.dir_peak <= (1 << 20) + 2 * chunk
    overlap = [s for s in seen if isinstance(s, pb.DumpStatus) and s.load.finishedBytes > 0]
    assert overlap and all(0 < s.finishedRows < 20000 for s in overlap[:1]), "no load while dumping"

    # clean-dump-file: false keeps every file, as DM does: no cap then, and a complete dump remains
    target.execute(f"DROP DATABASE {db}_meta", f"DELETE FROM {db}.t")
    kept = FullCopyUnit(context(**{**args, "clean_dump_file": False}))
    kept.process(threading.Event())
    same_rows(mariadb, db, ["t"])
    files = [p for p in ctx.dump_dir.iterdir() if p.name.endswith(".csv")]
    meta = dumpfiles.read_metadata(ctx.dump_dir)
    assert len(files) == 20 and meta is not None and meta.total_rows == 20000
    assert sorted(c.file for t in meta.tables for c in t.chunks) == sorted(p.name for p in files)


def test_worker_processes_dump_what_threads_dump(mariadb, dbname, tmp_path, monkeypatch):
    """On machines with cores to spare big dumps run in worker processes (exec'd, one snapshot
    session each): same snapshot, same files, the same rows in the end."""
    db, up = dbname, mariadb.up1
    fresh(mariadb, db)
    up.execute(
        f"CREATE DATABASE {db}",
        f"CREATE TABLE {db}.t (id INT PRIMARY KEY, b VARBINARY(20), d DECIMAL(20,4), ts TIMESTAMP(3) NULL)",
        f"INSERT INTO {db}.t SELECT seq, UNHEX(HEX(seq * 7)), seq / 3, FROM_UNIXTIME(1e9 + seq) "
        f"FROM {db}.seq_1_to_3000",
        f"CREATE TABLE {db}.k (x INT, y TEXT)",
        f"INSERT INTO {db}.k SELECT seq MOD 9, REPEAT('y', seq MOD 50) FROM {db}.seq_1_to_500",
    )
    monkeypatch.setattr(dump_run, "PROCESS_MIN_CORES", 1)
    monkeypatch.setattr(dump_run, "PROCESS_MIN_BYTES", 0)
    started: list[int] = []
    open_sessions = proc.open_sessions

    def spy(cfg, n):
        sessions = open_sessions(cfg, n)
        started.extend(s.pid for s in sessions)
        return sessions

    monkeypatch.setattr(proc, "open_sessions", spy)
    unit = FullCopyUnit(context(**args_for(mariadb, tmp_path, db, rows=400, threads=3, task_mode="full")))
    unit.process(threading.Event())
    assert len(started) == 2  # the first session stays in this process (it plans the chunks)
    for pid in started:  # and the workers are gone
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    same_rows(mariadb, db, ["t", "k"])
