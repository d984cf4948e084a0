"""The relay log against real MariaDB: files equal to the upstream's binlog, the same stream as the
server's, a torn tail cut after a crash, subtasks reading through the relay (also after the
upstream purged its binlog, and across kill -9 of the process), and every purge rule."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.binlog.reader import BinlogReader, HeartbeatLogEvent
from dmshell.engine.config.source import PurgeConfig, SourceConfig
from dmshell.engine.relay.layout import META_FILE, SubDir
from dmshell.engine.relay.reader import RelayBinlogReader
from dmshell.engine.relay.recovery import file_checksum, valid_end
from dmshell.engine.relay.relay import Relay
from dmshell.engine.sync.syncer import SyncUnit
from dmshell.proto import dmworker_pb2 as pb

from .sync_helpers import Running, converge, fresh_db, make_ctx, master, meta_at, wait_until
from .test_sync_random import Workload, start_child, started


@pytest.fixture
def db(mariadb, dbname):
    return fresh_db(mariadb, dbname)


def upstream_file(server, name: str) -> bytes:
    """The upstream's binlog file, its format description's "in use" flag cleared (as the server
    clears it in what it sends, and in the file once it is closed)."""
    data = bytearray((server.base_dir / "binlog" / name).read_bytes())
    data[21] &= 0xFE  # the flags of the event at 4: offset 4 + 17
    return bytes(data)


def relay_files(relay: Relay) -> dict[str, bytes]:
    (sub,) = relay.dir.subdirs()
    return {f: (relay.dir.dir_of(sub) / f).read_bytes() for f in relay.dir.files(sub)}


def caught_up(relay: Relay, server) -> bool:
    return relay.active is not None and Location(relay.active[1], relay.published).same_position(
        master(server)
    )


def start_relay(server, path: Path, start: Location, **purge) -> Relay:
    src = SourceConfig(source_id="mysql-01", from_db=server.dbconfig(), purge=PurgeConfig(**purge))
    relay = Relay(src, path, lambda: start)
    relay.start()
    return relay


def assert_same_as_upstream(relay: Relay, server) -> None:
    """Every relay file is the upstream's file byte for byte (the one being written: its start)."""
    files = relay_files(relay)
    assert files
    for name, data in files.items():
        up = upstream_file(server, name)
        assert data == up[: len(data)], name
        assert valid_end(data, 4, file_checksum(data)) == len(data), name
        if relay.active is None or name != relay.active[1]:
            assert len(data) == len(up), name


def events(reader: BinlogReader, stop_at_heartbeat: bool) -> list[tuple[str, int, int]]:
    out = []
    while (ev := reader.fetch()) is not None:
        if isinstance(ev, HeartbeatLogEvent):
            if stop_at_heartbeat:
                break
            continue
        out.append((type(ev).__name__, ev.log_pos, ev.event_size))
    reader.close()
    return out


def test_relay_files_and_stream_are_the_upstreams(mariadb, db, tmp_path):
    up = mariadb.up1
    start = master(up)
    up.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v TEXT)")
    relay = start_relay(up, tmp_path / "relay", start)
    try:
        up.execute(*[f"INSERT INTO {db}.t VALUES ({i}, REPEAT('x', {i * 50}))" for i in range(40)])
        up.execute("FLUSH BINARY LOGS", f"UPDATE {db}.t SET v = 'y'", f"DELETE FROM {db}.t WHERE id < 5")
        wait_until(lambda: caught_up(relay, up), "the relay to catch up")
        assert_same_as_upstream(relay, up)
        st = relay.status()
        m = master(up)
        (sub,) = relay.dir.subdirs()
        assert sub.name == f"1-{up.query('SELECT @@server_id')[0][0]}.000001"  # MariaDB: domain-server
        assert (st.stage, st.relaySubDir, st.relayCatchUpMaster) == (pb.Running, sub.name, True)
        assert (st.relayBinlog, st.masterBinlog, st.relayBinlogGtid) == (m.position_str(),) * 2 + (m.gtid,)
        assert (relay.dir.dir_of(sub) / META_FILE).read_text().startswith(f'binlog-name = "{start.file}"')
        # the same events, positions and artificial events as the server's stream
        local = events(RelayBinlogReader(relay, start, heartbeat=0.3), stop_at_heartbeat=True)
        remote = events(BinlogReader(up.dbconfig(), 0, start, to_end=True), stop_at_heartbeat=False)
        assert [e[:2] for e in local] == [e[:2] for e in remote] and len(local) > 100
    finally:
        relay.stop()


def test_torn_tail_after_a_crash_is_cut_and_the_relay_continues(mariadb, db, tmp_path):
    up = mariadb.up1
    start = master(up)
    up.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    relay = start_relay(up, tmp_path / "relay", start)
    up.execute(*[f"INSERT INTO {db}.t VALUES ({i})" for i in range(10)])
    wait_until(lambda: caught_up(relay, up), "the relay to catch up")
    relay.stop()
    (sub,) = relay.dir.subdirs()
    path = relay.dir.dir_of(sub) / relay.active[1]
    good = path.stat().st_size
    with open(path, "ab") as f:  # what a kill -9 in the middle of a buffered write leaves
        f.write(path.read_bytes()[good - 60 : good - 20])
    relay = start_relay(up, tmp_path / "relay", start)
    try:
        wait_until(lambda: relay.active is not None, "the relay to start")
        up.execute(*[f"INSERT INTO {db}.t VALUES ({i})" for i in range(10, 20)])
        wait_until(lambda: caught_up(relay, up), "the relay to catch up again")
        assert_same_as_upstream(relay, up)
    finally:
        relay.stop()


def test_task_reads_the_relay_also_after_the_upstream_purged_its_binlog(mariadb, db, tmp_path):
    up, dst = mariadb.up2, mariadb.target
    start = master(up)
    up.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(20))")
    relay = start_relay(up, tmp_path / "relay", start)
    try:
        ctx = make_ctx(tmp_path, up, dst, db, meta=meta_at(start))
        ctx.relay = relay
        unit = SyncUnit(ctx)
        run = Running(ctx, unit)
        up.execute(*[f"INSERT INTO {db}.t VALUES ({i}, 'a{i}')" for i in range(50)])
        up.execute(f"UPDATE {db}.t SET v = 'b' WHERE id % 3 = 0", f"DELETE FROM {db}.t WHERE id % 7 = 0")
        converge(up, dst, [(f"{db}.t", f"{db}.t")], run)
        assert unit.status().binlogType == "local"
        run.stop(close=False)  # paused
        up.execute(*[f"INSERT INTO {db}.t VALUES ({i}, 'c{i}')" for i in range(50, 80)])
        up.execute("FLUSH BINARY LOGS", f"UPDATE {db}.t SET v = 'd' WHERE id > 60", "FLUSH BINARY LOGS")
        wait_until(lambda: caught_up(relay, up), "the relay to catch up")

        def purged() -> bool:  # (MariaDB keeps a file until its binlog checkpoint has moved on)
            up.execute(f"PURGE BINARY LOGS TO '{master(up).file}'")
            return up.query("SHOW BINARY LOGS")[0][0] == master(up).file

        wait_until(purged, "the upstream to purge its binlog", timeout=20)
        run = Running(ctx, unit)  # resume
        converge(up, dst, [(f"{db}.t", f"{db}.t")], run)
        wait_until(lambda: unit.status().synced, "the task to be synced", running=run)
        assert unit.status().binlogType == "local"
        run.stop()
    finally:
        relay.stop()


def test_kill_minus_9_while_the_relay_writes(mariadb, db, tmp_path):
    seed = int(os.environ.get("DMSHELL_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"random seed: {seed} (DMSHELL_SEED={seed} to replay)")
    rng = random.Random(seed)
    up, dst = mariadb.up1, mariadb.target
    start = master(up)
    up.execute(f"CREATE DATABASE {db}")

    def conn(server) -> dict:
        c = server.dbconfig()
        return {"host": c.host, "port": c.port, "user": c.user, "password": c.password}

    relay_dir = tmp_path / "relay"
    spec = {
        "task": "trelay",
        "db": db,
        "upstream": conn(up),
        "target": conn(dst),
        "file": start.file,
        "pos": start.pos,
        "work_dir": str(tmp_path / "work"),
        "relay_dir": str(relay_dir),
        "syncer": {"worker_count": 4, "batch": 10, "checkpoint_flush_interval": 1, "safe_mode_duration": 0.5},
    }
    log = tmp_path / "child.log"
    workload = Workload(up, db, rng)
    workload.start()
    try:
        for round_ in range(3):
            before = started(log)
            child = start_child(spec, log)
            wait_until(
                lambda n=before, c=child: started(log) > n or c.poll() is not None, "the child started"
            )
            if round_ == 1:
                up.execute("FLUSH BINARY LOGS")  # a rotation while the relay writes
            time.sleep(rng.uniform(0.1, 1.0))
            assert child.poll() is None, log.read_text()[-3000:]
            child.send_signal(signal.SIGKILL)
            child.wait(30)
    finally:
        workload.stop()
    child = start_child(spec, log)
    try:
        tables = [(f"{db}.{t}", f"{db}.{t}") for t in [*workload.ids, "nk"]]
        converge(up, dst, tables, timeout=90)
        text = log.read_text()
        assert text.count("binlog local)") == started(log) == 4, text[-3000:]
    finally:
        child.send_signal(signal.SIGTERM)
        assert child.wait(60) == 0, log.read_text()[-3000:]
    sub = SubDir.parse((relay_dir / "server-uuid.index").read_text().split()[0])
    names = sorted(p.name for p in (relay_dir / sub.name).iterdir() if p.name.startswith("mysql-bin"))
    assert names
    for name in names:
        data = (relay_dir / sub.name / name).read_bytes()
        assert valid_end(data, 4, file_checksum(data)) == len(data), name
        assert data == upstream_file(up, name)[: len(data)], name


# --------------------------------------------------------------------------- purge


@pytest.fixture
def four_files(mariadb, tmp_path):
    """A relay holding four complete binlog files of up1 (and the one being written)."""
    up = mariadb.up1
    start = master(up)
    relay = start_relay(up, tmp_path / "relay", start, interval=1, remain_space=0)
    for _ in range(4):
        up.execute("FLUSH BINARY LOGS")
    wait_until(lambda: caught_up(relay, up), "the relay to catch up")
    names = list(relay_files(relay))
    assert len(names) == 5
    yield relay, names
    relay.stop()


def code_of(exc_info) -> int:
    return exc_info.value.code


def test_purge_by_filename_never_removes_a_needed_file(four_files):
    relay, names = four_files
    (sub,) = relay.dir.subdirs()
    relay.holds.hold("task1", lambda: Location(names[1], 4))
    with pytest.raises(errors.DMError) as info:
        relay.purger.purge(pb.PurgeRelayRequest(filename=names[3]))
    assert code_of(info) == 30037
    assert str(info.value) == (
        "[code=30037:class=relay-unit:scope=internal:level=high], Message: relay log purge is forbidden "
        f"temporarily, because relay log file {sub.name}/{names[1]} is before {names[3]} and subtask task1 "
        "still needs it, Workaround: Please try again later."
    )
    assert list(relay_files(relay)) == names
    assert relay.purger.purge(pb.PurgeRelayRequest(filename=names[1], subDir=sub.name)) == 1
    assert list(relay_files(relay)) == names[1:]
    relay.holds.unhold("task1")  # paused: the claim stays
    with pytest.raises(errors.DMError):
        relay.purger.purge(pb.PurgeRelayRequest(filename=names[2]))
    relay.holds.release("task1")  # stop-task
    assert relay.purger.purge(pb.PurgeRelayRequest(filename=names[3])) == 2
    assert list(relay_files(relay)) == names[3:]
    with pytest.raises(errors.DMError) as info:  # the file being written is needed too
        relay.purger.purge(pb.PurgeRelayRequest(filename="mysql-bin.999999"))
    assert "the relay writes it" in str(info.value)
    with pytest.raises(errors.DMError) as info:
        relay.purger.purge(pb.PurgeRelayRequest())
    assert code_of(info) == 30039


def test_purge_inactive_and_by_time(four_files):
    relay, names = four_files
    relay.holds.hold("task1", lambda: Location(names[2], 4))
    (sub,) = relay.dir.subdirs()
    old = time.time() - 7200
    os.utime(relay.dir.dir_of(sub) / names[0], (old, old))
    assert relay.purger.purge(pb.PurgeRelayRequest(time=int(time.time()) - 3600)) == 1
    assert relay.purger.purge(pb.PurgeRelayRequest(inactive=True)) == 1
    assert list(relay_files(relay)) == names[2:]


def test_background_purge_by_expires_and_remain_space(four_files):
    relay, names = four_files
    (sub,) = relay.dir.subdirs()
    old = time.time() - 7200
    for name in names[:2]:
        os.utime(relay.dir.dir_of(sub) / name, (old, old))
    relay.purger.cfg.expires = 1  # hours: the two old files go at the next round (interval 1 s)
    relay.purger.start()
    wait_until(lambda: list(relay_files(relay)) == names[2:], "the expired files to go", timeout=10)
    relay.holds.hold("task1", lambda: Location(names[3], 4))
    relay.purger.cfg.remain_space = 1 << 40  # GB: never that much free, purge all that may go
    wait_until(lambda: list(relay_files(relay)) == names[3:], "the space rule to purge", timeout=10)
    time.sleep(1.5)
    assert list(relay_files(relay)) == names[3:]  # never what task1 needs


def test_upstream_switch_starts_a_new_sub_directory(mariadb, db, tmp_path):
    """Another server behind the source (its UUID differs from the newest sub-directory's): with
    enable-gtid the relay continues in a new sub-directory at the GTID set it had reached."""
    up = mariadb.up1
    up.execute(f"CREATE DATABASE {db}", f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    here = master(up)
    old = SubDir("0-999", 1)  # what the relay wrote from the previous upstream
    path = tmp_path / "relay"
    (path / old.name).mkdir(parents=True)
    (path / "server-uuid.index").write_text(f"{old.name}\n")
    (path / old.name / META_FILE).write_text(
        f'binlog-name = "mysql-bin.000001"\nbinlog-pos = 4\nbinlog-gtid = "{here.gtid}"\n'
    )
    src = SourceConfig(source_id="mysql-01", from_db=up.dbconfig(), enable_gtid=False)
    relay = Relay(src, path)
    relay.start()
    wait_until(lambda: relay.stage == pb.Paused, "the relay to refuse the switch")
    assert relay.status().result.errors[0].ErrCode == 30034  # ErrRelaySwitchMasterNeedGTID
    relay.stop()
    src.enable_gtid = True
    relay = Relay(src, path)
    relay.start()
    try:
        up.execute(f"INSERT INTO {db}.t VALUES (1)")
        wait_until(lambda: caught_up(relay, up), "the relay to catch up")
        new = relay.dir.subdirs()[-1]
        assert [s.name for s in relay.dir.subdirs()] == [old.name, new.name]
        assert new.suffix == 2 and new.uuid == f"1-{up.query('SELECT @@server_id')[0][0]}"
        assert relay.status().relaySubDir == new.name
        name = relay.active[1]
        data = (relay.dir.dir_of(new) / name).read_bytes()
        assert data == upstream_file(up, name)[: len(data)]
    finally:
        relay.stop()
