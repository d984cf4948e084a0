"""Canned, deterministic master answers for the TUI tests, and helpers that let a Pilot wait for
the status stream (a real gRPC stream read by a real thread)."""

from __future__ import annotations

from dmshell.proto import dmmaster_pb2 as m
from dmshell.proto import dmworker_pb2 as pb

CLUSTER = m.ClusterInfo(
    masterAddr="127.0.0.1:8261",
    dataDir="/var/lib/dmshell",
    workersUp=2,
    workersTotal=3,
    version="v0.1.0-test",
    pid=4242,
    startTime=1_700_000_000,
)

TASK_CONFIGS = {
    "shop-merge": "name: shop-merge\ntask-mode: all\nshard-mode: pessimistic\n",
    "archive": "name: archive\ntask-mode: full\n",
    "billing": "name: billing\ntask-mode: incremental\n",
}


#: What the master's ListSourceConfigs returns (passwords already masked by the master).
SOURCE_CONFIGS = {
    "mysql-01": (
        "source-id: mysql-01\nenable-gtid: true\nenable-relay: false\nflavor: mariadb\nfrom:\n"
        "  host: 10.0.0.11\n  port: 3306\n  user: dm\n  password: '******'\n"
    ),
    "mysql-02": (
        "source-id: mysql-02\nenable-gtid: false\nenable-relay: true\nflavor: mysql\nfrom:\n"
        "  host: 10.0.0.12\n  port: 3306\n  user: dm\n  password: '******'\n"
    ),
}

#: Lag samples pushed before the graph snapshots (seconds; the last one is the canned status's 25).
LAG_SERIES = (0, 1, 1, 2, 4, 7, 9, 12, 15, 14, 18, 22, 25)


def _sync(
    st: pb.SubTaskStatus,
    *,
    master: str,
    syncer: str,
    gtid_m: str,
    gtid_s: str,
    lag: int,
    rps: int,
    rows: int,
    synced: bool = False,
) -> None:
    st.sync.masterBinlog, st.sync.syncerBinlog = master, syncer
    st.sync.masterBinlogGtid, st.sync.syncerBinlogGtid = gtid_m, gtid_s
    st.sync.secondsBehindMaster, st.sync.recentRps, st.sync.totalRows = lag, rps, rows
    st.sync.synced = synced
    st.sync.binlogType = "remote"


def canned_status(*, shop_lag: int = 25, shop_rps: int = 36) -> m.QueryStatusListResponse:
    """Three tasks on two sources: a shard merge in Sync (one source lagging), a full copy half
    way through, and an incremental task paused on a duplicate-key error."""
    resp = m.QueryStatusListResponse(result=True)

    s1 = resp.sources.add(result=True)
    s1.sourceStatus.source, s1.sourceStatus.worker = "mysql-01", "worker-1"
    st = s1.subTaskStatus.add(name="shop-merge", stage=pb.Running, unit=pb.Sync)
    _sync(
        st,
        master="(mysql-bin.000003, 48211)",
        syncer="(mysql-bin.000003, 47950)",
        gtid_m="1-101-3377",
        gtid_s="1-101-3361",
        lag=3,
        rps=118,
        rows=104_220,
    )
    st = s1.subTaskStatus.add(name="archive", stage=pb.Running, unit=pb.Load)
    st.load.finishedBytes, st.load.totalBytes, st.load.progress = 4_500_000, 10_000_000, "45.00 %"
    st.load.metaBinlog, st.load.metaBinlogGTID = "(mysql-bin.000002, 1544)", "1-101-2044"
    st.load.bps = 1_100_000

    s2 = resp.sources.add(result=True)
    s2.sourceStatus.source, s2.sourceStatus.worker = "mysql-02", "worker-2"
    relay = s2.sourceStatus.relayStatus
    relay.stage = pb.Running
    relay.masterBinlog = relay.relayBinlog = "(mysql-bin.000007, 9120)"
    relay.relaySubDir, relay.relayCatchUpMaster = "a9f1c3d2.000001", True
    st = s2.subTaskStatus.add(name="shop-merge", stage=pb.Running, unit=pb.Sync)
    _sync(
        st,
        master="(mysql-bin.000007, 9120)",
        syncer="(mysql-bin.000007, 4410)",
        gtid_m="",
        gtid_s="",
        lag=shop_lag,
        rps=shop_rps,
        rows=88_015,
    )
    st = s2.subTaskStatus.add(name="archive", stage=pb.Running, unit=pb.Dump)
    st.dump.totalTables, st.dump.completedTables, st.dump.finishedRows = 8, 3, 120_000
    st.dump.estimateTotalRows, st.dump.finishedBytes, st.dump.bps = 320_000, 24_000_000, 2_400_000
    st = s2.subTaskStatus.add(name="billing", stage=pb.Paused, unit=pb.Sync)
    _sync(
        st,
        master="(mysql-bin.000007, 9120)",
        syncer="(mysql-bin.000006, 77120)",
        gtid_m="",
        gtid_s="",
        lag=0,
        rps=0,
        rows=5_002,
    )
    st.result.errors.add(
        ErrCode=10006,
        ErrClass="database",
        ErrScope="downstream",
        ErrLevel="high",
        Message="execute statement failed: INSERT INTO `billing`.`invoices` (`id`,`total`) VALUES (?,?)",
        RawCause="Error 1062 (23000): Duplicate entry '17' for key 'PRIMARY'",
        Workaround="Please check the target table, then `resume-task billing`.",
    )
    return resp


def ticking(start: float = 1_700_000_000.0, step: float = 1.0):
    """A clock for the history: each sample one ``step`` after the last (deterministic graphs)."""
    now = [start - step]

    def tick() -> float:
        now[0] += step
        return now[0]

    return tick


async def push_history(pilot, master, lags=LAG_SERIES) -> None:
    """Stream one status per lag value (shop-merge on mysql-02), ending with the canned status, and
    wait until the app has recorded them all."""
    app = pilot.app
    start = app.history.version
    for i, lag in enumerate(lags):
        master.push_status(canned_status(shop_lag=lag, shop_rps=20 + 3 * i))
    master.push_status(canned_status())
    await wait_until(pilot, lambda: app.history.version >= start + len(lags) + 1, what="the lag history")
    await pilot.pause()


async def wait_until(pilot, predicate, timeout: float = 10.0, what: str = "condition") -> None:
    """Let the app run until ``predicate()`` holds (the status stream is a real thread)."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await pilot.pause(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def wait_for_data(pilot) -> None:
    """Until status, cluster info and task modes have all arrived and been rendered."""
    app = pilot.app
    await wait_until(
        pilot,
        lambda: bool(app.snapshot.tasks)
        and app.cluster_info is not None
        and all(t.mode for t in app.snapshot.tasks)
        and all(s.gtid != "?" for s in app.snapshot.sources),
        what="the first status",
    )
    await pilot.pause()


def screen_text(app) -> str:
    """The current screen as plain text (what a user would read)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def notifications(app) -> list[tuple[str, str, str]]:
    """(severity, title, message) of the notifications shown so far (needs run_test(notifications=True))."""
    return [(n.severity, n.title, n.message) for n in app._notifications]


def many_tasks(tick: int, tasks: int = 100, sources: int = 2) -> m.QueryStatusListResponse:
    """``tasks`` replicating tasks on every source, lags moving with ``tick``."""
    resp = m.QueryStatusListResponse(result=True)
    for s in range(sources):
        src = resp.sources.add(result=True)
        src.sourceStatus.source, src.sourceStatus.worker = f"mysql-{s:02d}", f"worker-{s}"
        for t in range(tasks):
            st = src.subTaskStatus.add(name=f"task-{t:03d}", stage=pb.Running, unit=pb.Sync)
            st.sync.secondsBehindMaster = (t * 7 + s * 3 + tick) % 30
            st.sync.recentRps = 100 + (t + tick) % 50
    return resp


LOCK_ID = "shop-merge-`shop`.`orders`"
ADD_NOTE = "ALTER TABLE `shop`.`orders` ADD COLUMN `note` VARCHAR(64)"


def lock_status() -> m.QueryStatusListResponse:
    """:func:`canned_status` with shop-merge waiting on a shard DDL lock: mysql-01's two shards
    reached the DDL (it waits on the master), mysql-02's first shard did, its second not yet."""
    resp = canned_status()
    for src, synced, unsynced in (
        (resp.sources[0], ["`shop_01`.`orders`", "`shop_02`.`orders`"], []),
        (resp.sources[1], ["`shop_03`.`orders`"], ["`shop_04`.`orders`"]),
    ):
        st = src.subTaskStatus[0]
        st.sync.unresolvedGroups.add(
            target="`shop`.`orders`",
            DDLs=[ADD_NOTE],
            firstLocation="position: (mysql-bin.000003, 47950), gtid-set: 1-101-3361",
            synced=synced,
            unsynced=unsynced,
        )
        if not unsynced:
            st.unresolvedDDLLockID = LOCK_ID
            st.sync.blockingDDLs.append(ADD_NOTE)
    return resp


SHARD_LOCKS = m.ShowDDLLocksResponse(
    result=True,
    locks=[
        m.DDLLock(
            ID=LOCK_ID,
            task="shop-merge",
            mode="pessimistic",
            owner="mysql-01",
            DDLs=[ADD_NOTE],
            synced=["mysql-01"],
            unsynced=["mysql-02"],
        )
    ],
)


def conflict_status() -> m.QueryStatusListResponse:
    """:func:`canned_status` with an optimistic conflict on shop-merge's mysql-02."""
    resp = canned_status()
    st = resp.sources[1].subTaskStatus[0]
    st.sync.blockDDLOwner = "mysql-02-`shop_04`.`orders`"
    st.sync.conflictMsg = (
        "column `note` added as `varchar(8)` on mysql-02 `shop_04`.`orders`, but it is `varchar(64)` on the "
        "other shards"
    )
    return resp
