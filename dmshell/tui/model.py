"""View model: turns a ``QueryStatusListResponse`` into plain, comparable rows for the screens.

Pure functions and frozen dataclasses only (no Textual, no gRPC calls), so the screens can
compare snapshots cheaply and update only what changed. The task status follows dmctl's
simplified ``query-status`` rules (``dm/ctl/master/query_status.go``: any paused subtask with
errors makes the task ``Error``; a paused one makes it ``Paused``; mixed stages are ``Running``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from dmshell.proto import dmmaster_pb2
from dmshell.proto import dmworker_pb2 as pb

#: Unit order in the subtask pipeline (the relay unit is per source, not per subtask).
UNIT_ORDER = ("Check", "Dump", "Load", "Sync")
MODE_UNITS = {"full": ("Dump", "Load"), "incremental": ("Sync",), "all": ("Dump", "Load", "Sync")}


@dataclass(frozen=True, slots=True)
class ErrorView:
    """One DM ``ProcessError``."""

    code: int
    cls: str
    scope: str
    level: str
    message: str
    raw_cause: str
    workaround: str

    @property
    def header(self) -> str:
        """DM's ``[code=..:class=..:scope=..:level=..]`` prefix."""
        return f"[code={self.code}:class={self.cls}:scope={self.scope}:level={self.level}]"


@dataclass(frozen=True, slots=True)
class ShardGroupView:
    """A shard group of one source that has DDLs pending (``SyncStatus.unresolvedGroups``)."""

    target: str
    ddls: tuple[str, ...]
    first_location: str
    synced: tuple[str, ...]
    unsynced: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubtaskView:
    """One subtask (a task on one source)."""

    task: str
    source: str
    worker: str
    stage: str
    unit: str
    #: Dump/load completion in [0, 1], None when unknown or not applicable.
    fraction: float | None = None
    progress_text: str = ""
    #: Dump/load throughput reported by the worker (bytes/s), and the time left at that rate.
    bytes_per_sec: int | None = None
    eta: int | None = None
    rows_per_sec: int | None = None
    total_rows: int | None = None
    lag: int | None = None
    synced: bool = False
    master_binlog: str = ""
    master_gtid: str = ""
    syncer_binlog: str = ""
    syncer_gtid: str = ""
    blocking_ddls: tuple[str, ...] = ()
    unresolved_lock: str = ""
    unresolved_groups: tuple[ShardGroupView, ...] = ()
    #: an optimistic shard DDL conflict: the shard it blocks and why
    block_ddl_owner: str = ""
    conflict_msg: str = ""
    msg: str = ""
    errors: tuple[ErrorView, ...] = ()
    #: the last transaction read (everything before it is applied or queued); syncer_* is the checkpoint
    read_binlog: str = ""
    read_gtid: str = ""
    #: changes waiting in each DML worker's queue, and one queue's capacity
    queue_depths: tuple[int, ...] = ()
    queue_capacity: int = 0
    executing_ddl: bool = False
    #: why these figures are not live ("" = live): a hung worker's last known status
    stale: str = ""
    #: the source's relay position when it has a relay (the subtask reads it: ``binlogType: local``)
    relay_binlog: str = ""

    @property
    def queued(self) -> int:
        return sum(self.queue_depths)

    @property
    def behind_txns(self) -> int | None:
        """Transactions the master has that were not read yet (from the GTID sets; None without)."""
        return gtid_behind(self.master_gtid, self.read_gtid or self.syncer_gtid)

    @property
    def behind_bytes(self) -> int | None:
        """Binlog bytes not read yet (None when the reader is in an earlier file or it is unknown)."""
        return binlog_distance(self.master_binlog, self.read_binlog or self.syncer_binlog)

    @property
    def relay_ahead(self) -> str:
        """How far the relay is ahead of this subtask's checkpoint ("" without a relay)."""
        return binlog_gap(self.syncer_binlog, self.relay_binlog)


def binlog_gap(behind: str, ahead: str) -> str:
    """The distance between two ``(file, pos)`` positions: ``0 B``, ``12 KB``, ``2 files``; "" if unknown."""
    a, b = _position(behind), _position(ahead)
    if a is None or b is None:
        return ""
    (base_a, index_a, pos_a), (base_b, index_b, pos_b) = a, b
    if base_a != base_b or index_a != index_b:
        n = index_b - index_a
        return f"{n} file{'s' if abs(n) != 1 else ''}" if base_a == base_b else "other file"
    size = float(max(0, pos_b - pos_a))
    for unit in ("B", "KB", "MB"):
        if size < 1024 or unit == "MB":
            return f"{size:,.0f} {unit}"
        size /= 1024
    return ""


def _position(text: str) -> tuple[str, int, int] | None:
    m = re.fullmatch(r"\(\s*(.*?)\.(\d+)\s*,\s*(\d+)\s*\)", text or "")
    return (m.group(1), int(m.group(2)), int(m.group(3))) if m else None


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task across its sources (one dashboard row)."""

    name: str
    mode: str
    status: str
    unit: str
    progress: str
    rows_per_sec: int | None
    lag: int | None
    error_count: int
    subtasks: tuple[SubtaskView, ...]

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(st.source for st in self.subtasks)


@dataclass(frozen=True, slots=True)
class SourceFacts:
    """What a source's config says (from ``ListSourceConfigs``; passwords are never kept here)."""

    enable_gtid: bool | None = None
    enable_relay: bool | None = None
    flavor: str = ""
    address: str = ""


@dataclass(frozen=True, slots=True)
class SourceView:
    """A source and its worker (one dashboard row)."""

    source: str
    worker: str
    master_binlog: str
    tasks: tuple[str, ...]
    relay: str
    error_count: int
    msg: str = ""
    master_gtid: str = ""
    #: ``on`` / ``off`` from the source config, ``?`` while it is unknown.
    gtid: str = "?"
    flavor: str = ""
    address: str = ""
    #: the relay's position ("" without a relay)
    relay_binlog: str = ""

    @property
    def relay_text(self) -> str:
        """The relay unit's stage, or ``off`` when the source has no relay."""
        return self.relay or "off"

    @property
    def relay_behind(self) -> str:
        """How far the relay is behind the upstream ("" without a relay)."""
        return binlog_gap(self.relay_binlog, self.master_binlog) if self.relay else ""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the screens show about tasks and sources at one moment."""

    tasks: tuple[TaskView, ...] = ()
    sources: tuple[SourceView, ...] = ()
    result: bool = True
    msg: str = ""
    task_index: dict[str, TaskView] = field(default_factory=dict, compare=False, repr=False)

    def task(self, name: str) -> TaskView | None:
        return self.task_index.get(name)

    def silent_workers(self) -> list[SourceView]:
        """Sources whose worker did not answer the master in time (hung, stopped, unreachable)."""
        return [s for s in self.sources if s.msg and _NOT_ANSWERING.search(s.msg)]


def _errors(result: pb.ProcessResult | None) -> tuple[ErrorView, ...]:
    if result is None:
        return ()
    return tuple(
        ErrorView(e.ErrCode, e.ErrClass, e.ErrScope, e.ErrLevel, e.Message, e.RawCause, e.Workaround)
        for e in result.errors
    )


#: a worker RPC that timed out or found nobody (Go's status text, as the master reports it)
_NOT_ANSWERING = re.compile(r"code = (DeadlineExceeded|Unavailable)|relevant worker-client not found")

_POSITION = re.compile(r"^\(([^,]+),\s*(\d+)\)$")


def binlog_distance(master: str, read: str) -> int | None:
    """Bytes from ``read`` to ``master`` (``(file, pos)`` strings) in the same binlog file."""
    m, r = _POSITION.match(master.strip()), _POSITION.match(read.strip())
    if not m or not r or m.group(1) != r.group(1):
        return None
    return max(0, int(m.group(2)) - int(r.group(2)))


def _gtid_counts(text: str) -> dict[str, int]:
    """Transactions per origin: MariaDB ``domain-server-seq`` (per domain, the seq) or MySQL
    ``uuid:1-5:7`` (per uuid, the number of transactions)."""
    out: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.replace("\n", "").split(","))):
        if ":" in part:
            uuid, *ranges = part.split(":")
            total = 0
            for rng in ranges:
                lo, _, hi = rng.partition("-")
                total += int(hi or lo) - int(lo) + 1
            out[uuid.lower()] = out.get(uuid.lower(), 0) + total
        else:
            domain, _, rest = part.partition("-")
            seq = int(rest.rpartition("-")[2] or 0)
            out[domain] = max(out.get(domain, 0), seq)
    return out


def gtid_behind(master: str, read: str) -> int | None:
    """Transactions in ``master`` not in ``read`` (None when either set is unknown or unreadable)."""
    if not master or not read:
        return None
    try:
        m, r = _gtid_counts(master), _gtid_counts(read)
    except ValueError:
        return None
    return sum(max(0, n - r.get(origin, 0)) for origin, n in m.items())


_PERCENT = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*%")


def _percent(text: str) -> float | None:
    m = _PERCENT.search(text)
    return min(max(float(m.group(1)) / 100.0, 0.0), 1.0) if m else None


def _eta(remaining: float, rate: float) -> int | None:
    """Seconds left at ``rate`` units/s (None when there is no rate to go by)."""
    if rate <= 0 or remaining <= 0:
        return None
    return round(remaining / rate)


def subtask_view(source: str, worker: str, st: pb.SubTaskStatus) -> SubtaskView:
    """Flatten one ``SubTaskStatus``."""
    stage = pb.Stage.Name(st.stage) if st.stage else ""
    unit = pb.UnitType.Name(st.unit) if st.unit else ""
    kind = st.WhichOneof("status")
    base = SubtaskView(
        task=st.name,
        source=source,
        worker=worker,
        stage=stage,
        unit=unit,
        unresolved_lock=st.unresolvedDDLLockID,
        errors=_errors(st.result if st.HasField("result") else None),
    )
    if kind == "sync":
        s = st.sync
        return replace(
            base,
            rows_per_sec=s.recentRps,
            total_rows=s.totalRows,
            lag=s.secondsBehindMaster,
            synced=s.synced,
            master_binlog=s.masterBinlog,
            master_gtid=s.masterBinlogGtid,
            syncer_binlog=s.syncerBinlog,
            syncer_gtid=s.syncerBinlogGtid,
            blocking_ddls=tuple(s.blockingDDLs),
            unresolved_groups=tuple(
                ShardGroupView(g.target, tuple(g.DDLs), g.firstLocation, tuple(g.synced), tuple(g.unsynced))
                for g in s.unresolvedGroups
            ),
            block_ddl_owner=s.blockDDLOwner,
            conflict_msg=s.conflictMsg,
            progress_text="synced" if s.synced else "catching up",
            read_binlog=s.readBinlog,
            read_gtid=s.readBinlogGtid,
            queue_depths=tuple(s.queueDepths),
            queue_capacity=s.queueCapacity,
            executing_ddl=s.executingDDL,
        )
    if kind == "load":
        ld = st.load
        fraction = _percent(ld.progress)
        if fraction is None and ld.totalBytes > 0:
            fraction = min(ld.finishedBytes / ld.totalBytes, 1.0)
        eta = _eta(ld.totalBytes - ld.finishedBytes, ld.bps)
        return replace(
            base,
            fraction=fraction,
            progress_text=ld.progress,
            bytes_per_sec=ld.bps or None,
            eta=eta,
            master_binlog=ld.metaBinlog,
            master_gtid=ld.metaBinlogGTID,
        )
    if kind == "dump":
        d = st.dump
        fraction = _percent(d.progress)
        if fraction is None and d.totalTables > 0:
            fraction = min(d.completedTables / d.totalTables, 1.0)
        text = d.progress or (f"{d.completedTables:.0f}/{d.totalTables} tables" if d.totalTables else "")
        eta = None
        if d.finishedRows > 0 and d.estimateTotalRows > d.finishedRows and d.finishedBytes > 0:
            # rows left times bytes per row so far, at the current byte rate
            eta = _eta((d.estimateTotalRows - d.finishedRows) * d.finishedBytes / d.finishedRows, d.bps)
        return replace(
            base,
            fraction=fraction,
            progress_text=text,
            bytes_per_sec=d.bps or None,
            eta=eta,
            total_rows=int(d.finishedRows) if d.finishedRows else None,
        )
    if kind == "msg":
        return replace(base, msg=st.msg)
    return base


def task_status(subtasks: list[SubtaskView], relay_stages: dict[str, str]) -> str:
    """dmctl's simplified task status (``Running``/``Paused``/``Error - ...``/``New``/...)."""
    status = ""
    for st in subtasks:
        relay = relay_stages.get(st.source, "")
        if status.startswith("Error"):
            continue
        if st.stage == "Paused" and st.errors:
            status = "Error - Some error occurred in subtask"
        elif st.unit == "Sync" and st.stage == "Running" and relay in ("Paused", "Stopped"):
            status = f"Error - Relay status is {relay}"
        elif status == "Paused":
            continue
        elif status == "" or st.stage == "Paused":
            status = st.stage
        elif status != st.stage:
            status = "Running"
    return status


def _task_view(name: str, mode: str, subtasks: list[SubtaskView], relay_stages: dict[str, str]) -> TaskView:
    units = [st.unit for st in subtasks if st.unit in UNIT_ORDER]
    unit = min(units, key=UNIT_ORDER.index) if units else ""
    if units and len(set(units)) > 1:
        unit += "+"  # sources are at different units; the least advanced one is shown
    at_unit = [st for st in subtasks if st.unit == unit.rstrip("+")]
    if unit.startswith(("Dump", "Load")):
        fractions = [st.fraction for st in at_unit if st.fraction is not None]
        progress = f"{100 * sum(fractions) / len(fractions):.1f}%" if fractions else ""
    elif unit.startswith("Sync"):
        stages = {st.stage for st in at_unit}
        if any(st.errors for st in at_unit):
            progress = "failed"
        elif stages == {"Running"}:
            progress = "synced" if all(st.synced for st in at_unit) else "syncing"
        else:  # a paused or stopped syncer is not syncing, whatever its last figures say
            progress = "paused" if "Paused" in stages else "/".join(sorted(s.lower() for s in stages))
    else:
        progress = ""
    rates = [st.rows_per_sec for st in subtasks if st.rows_per_sec is not None and not st.stale]
    # A paused or stopped syncer's lag is a stale number: only running syncers count.
    lags = [
        st.lag
        for st in subtasks
        if st.lag is not None and st.unit == "Sync" and st.stage == "Running" and not st.stale
    ]
    return TaskView(
        name=name,
        mode=mode,
        status=task_status(subtasks, relay_stages),
        unit=unit,
        progress=progress,
        rows_per_sec=sum(rates) if rates else None,
        lag=max(lags) if lags else None,
        error_count=sum(len(st.errors) for st in subtasks),
        subtasks=tuple(subtasks),
    )


def carry_over(
    previous: dmmaster_pb2.QueryStatusListResponse | None, resp: dmmaster_pb2.QueryStatusListResponse
) -> dmmaster_pb2.QueryStatusListResponse:
    """``resp`` with the previous subtasks of a source whose worker did not answer (a hung worker's
    tasks stay on screen, marked stale by :func:`build_snapshot`, instead of vanishing)."""
    if previous is None:
        return resp
    before = {src.sourceStatus.source: src for src in previous.sources}
    out = None
    for i, src in enumerate(resp.sources):
        old = before.get(src.sourceStatus.source)
        if src.result or src.subTaskStatus or not _NOT_ANSWERING.search(src.msg) or old is None:
            continue
        if out is None:
            out = dmmaster_pb2.QueryStatusListResponse()
            out.CopyFrom(resp)
        out.sources[i].subTaskStatus.extend(old.subTaskStatus)
    return out or resp


def build_snapshot(
    resp: dmmaster_pb2.QueryStatusListResponse,
    modes: dict[str, str] | None = None,
    facts: dict[str, SourceFacts] | None = None,
) -> Snapshot:
    """Group a status response by task and by source (both sorted by name); ``modes`` (task →
    task-mode) and ``facts`` (source → config facts) fill in what the status does not say."""
    modes = modes or {}
    facts = facts or {}
    by_task: dict[str, list[SubtaskView]] = {}
    sources: list[SourceView] = []
    relay_stages: dict[str, str] = {}
    for src in resp.sources:
        ss = src.sourceStatus
        source = ss.source
        relay = ""
        if ss.HasField("relayStatus"):
            relay = pb.Stage.Name(ss.relayStatus.stage) if ss.relayStatus.stage else ""
        relay_stages[source] = relay
        task_names: list[str] = []
        master_binlog = ss.relayStatus.masterBinlog if ss.HasField("relayStatus") else ""
        master_gtid = ss.relayStatus.masterBinlogGtid if ss.HasField("relayStatus") else ""
        relay_binlog = ss.relayStatus.relayBinlog if ss.HasField("relayStatus") else ""
        errors = len(_errors(ss.result if ss.HasField("result") else None))
        # A failed per-source answer (e.g. its worker is offline) says why in the source's msg.
        source_msg = "" if src.result else src.msg
        errors += bool(source_msg)
        silent = bool(source_msg and _NOT_ANSWERING.search(source_msg))
        for st in src.subTaskStatus:
            view = subtask_view(source, ss.worker, st)
            if relay_binlog:
                view = replace(view, relay_binlog=relay_binlog)
            if silent:  # carried over by carry_over(): the worker's last answer, not live
                view = replace(view, stale=f"worker {ss.worker or '?'} not answering: its last known status")
            elif source_msg and not view.msg:
                view = replace(view, msg=source_msg)
            by_task.setdefault(st.name, []).append(view)
            task_names.append(st.name)
            if view.unit == "Sync" and view.master_binlog and not master_binlog:
                master_binlog, master_gtid = view.master_binlog, view.master_gtid
            errors += len(view.errors)
        if source:
            fact = facts.get(source, SourceFacts())
            gtid = "?" if fact.enable_gtid is None else ("on" if fact.enable_gtid else "off")
            sources.append(
                SourceView(
                    source=source,
                    worker=ss.worker,
                    master_binlog=master_binlog,
                    tasks=tuple(task_names),
                    relay=relay,
                    error_count=errors,
                    msg=source_msg,
                    master_gtid=master_gtid,
                    gtid=gtid,
                    flavor=fact.flavor,
                    address=fact.address,
                    relay_binlog=relay_binlog,
                )
            )
    seen = {s.source for s in sources}
    for source, fact in facts.items():  # configured, but no live worker reports it
        if source not in seen:
            gtid = "?" if fact.enable_gtid is None else ("on" if fact.enable_gtid else "off")
            sources.append(
                SourceView(
                    source=source,
                    worker="",
                    master_binlog="",
                    tasks=(),
                    relay="",
                    error_count=0,
                    msg="not bound to a live worker",
                    gtid=gtid,
                    flavor=fact.flavor,
                    address=fact.address,
                )
            )
    tasks = tuple(
        _task_view(name, modes.get(name, ""), sorted(subs, key=lambda s: s.source), relay_stages)
        for name, subs in sorted(by_task.items())
    )
    return Snapshot(
        tasks=tasks,
        sources=tuple(sorted(sources, key=lambda s: s.source)),
        result=resp.result,
        msg=resp.msg,
        task_index={t.name: t for t in tasks},
    )


def pipeline_units(mode: str, current: str) -> list[tuple[str, str]]:
    """The units of a subtask's pipeline with their state: ``done``, ``current`` or ``todo``."""
    units = MODE_UNITS.get(mode, MODE_UNITS["all"])
    if current and current not in units:
        units = (*units, current)
    out: list[tuple[str, str]] = []
    reached = False
    for unit in units:
        if unit == current:
            out.append((unit, "current"))
            reached = True
        else:
            out.append((unit, "todo" if reached or not current else "done"))
    return out


_SECRET_LINE = re.compile(r"^(\s*[\w-]*password[\w-]*\s*:\s*)(\S.*)$", re.IGNORECASE | re.MULTILINE)


def mask_secrets(yaml_text: str) -> str:
    """The config with every ``*password*: value`` shown as ``'******'`` (the master already masks
    them; this is the TUI's own guarantee that no password reaches the screen)."""

    def hide(m: re.Match[str]) -> str:
        return m.group(1) + ("''" if m.group(2).strip() in ("''", '""') else "'******'")

    return _SECRET_LINE.sub(hide, yaml_text)


def source_facts(yaml_text: str) -> SourceFacts:
    """GTID/relay flags, flavor and upstream address from a source config (unparsable → unknown)."""
    import yaml

    try:
        doc = yaml.safe_load(yaml_text)
    except yaml.YAMLError:
        return SourceFacts()
    if not isinstance(doc, dict):
        return SourceFacts()
    from_db = doc.get("from")
    db = from_db if isinstance(from_db, dict) else {}
    address = f"{db.get('host', '')}:{db.get('port', '')}" if db.get("host") else ""
    gtid, relay = doc.get("enable-gtid"), doc.get("enable-relay")
    return SourceFacts(
        enable_gtid=bool(gtid) if gtid is not None else False,
        enable_relay=bool(relay) if relay is not None else False,
        flavor=str(doc.get("flavor") or ""),
        address=address,
    )
