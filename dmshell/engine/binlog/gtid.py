"""GTID sets of both flavors, and turning a GTID-only start point into a binlog file/position.

* MariaDB: a GTID is ``domain-server-seq``; a GTID *position* (``@@gtid_binlog_pos``) keeps the
  last GTID per replication domain, e.g. ``0-1-100,1-101-27``. Sequence numbers grow within a
  domain, so ``d-s-n`` is contained in a position whose domain ``d`` entry has ``seq >= n``.
* MySQL: a GTID is ``uuid:gno``; a set is ``uuid:1-5:7-9,uuid2:1-3`` (intervals per server uuid).

Both render in a canonical order (MariaDB by domain, MySQL by uuid), so equal sets give equal text.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.location import Location, binlog_gtid_pos, file_index
from dmshell.engine.binlog.reader import (
    FormatDescriptionEvent,
    GtidEvent,
    MariadbGtidEvent,
    MariadbGtidListEvent,
    OtherEvent,
    PreviousGtidsEvent,
    read_events,
)


class GtidSet(ABC):
    """A set of executed transactions."""

    @abstractmethod
    def add(self, gtid: str) -> None:
        """Record one executed GTID (``d-s-n`` or ``uuid:n``)."""

    @abstractmethod
    def contains(self, gtid: str) -> bool:
        """True when the single GTID ``gtid`` is in this set."""

    @abstractmethod
    def covers(self, other: GtidSet) -> bool:
        """True when every transaction of ``other`` is in this set."""

    @abstractmethod
    def copy(self) -> GtidSet: ...

    @abstractmethod
    def __str__(self) -> str: ...

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GtidSet) and type(self) is type(other) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


class MariaDBGtidSet(GtidSet):
    """A MariaDB GTID position: the last ``(server_id, seq)`` per domain."""

    def __init__(self, text: str = "") -> None:
        self.domains: dict[int, tuple[int, int]] = {}
        self._text: str | None = None  # str(self), kept up to date by add() (once per transaction)
        for part in _split(text):
            domain, server, seq = _parse_mariadb_gtid(part)
            if domain not in self.domains or seq >= self.domains[domain][1]:
                self.domains[domain] = (server, seq)

    def add(self, gtid: str) -> None:
        domain, server, seq = _parse_mariadb_gtid(gtid)
        domains = self.domains
        if len(domains) == 1 and domain in domains:
            self._text = f"{domain}-{server}-{seq}"  # the one domain: the GTID is the whole text
        else:
            self._text = None
        domains[domain] = (server, seq)

    def contains(self, gtid: str) -> bool:
        domain, _server, seq = _parse_mariadb_gtid(gtid)
        have = self.domains.get(domain)
        return have is not None and seq <= have[1]

    def covers(self, other: GtidSet) -> bool:
        if not isinstance(other, MariaDBGtidSet):
            return False
        return all(d in self.domains and self.domains[d][1] >= seq for d, (_s, seq) in other.domains.items())

    def copy(self) -> MariaDBGtidSet:
        new = MariaDBGtidSet()
        new.domains = dict(self.domains)
        new._text = self._text
        return new

    def __str__(self) -> str:
        if self._text is None:
            self._text = ",".join(f"{d}-{s}-{n}" for d, (s, n) in sorted(self.domains.items()))
        return self._text


class MySQLGtidSet(GtidSet):
    """A MySQL GTID set: sorted, merged intervals per server uuid."""

    def __init__(self, text: str = "") -> None:
        self.sets: dict[str, list[list[int]]] = {}
        for part in _split(text):
            uuid, *ranges = part.split(":")
            uuid = uuid.strip().lower()
            for r in ranges:
                lo, _, hi = r.partition("-")
                self._add_range(uuid, int(lo), int(hi or lo))

    def _add_range(self, uuid: str, lo: int, hi: int) -> None:
        intervals = self.sets.setdefault(uuid, [])
        intervals.append([lo, hi])
        intervals.sort()
        merged: list[list[int]] = []
        for a, b in intervals:
            if merged and a <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.sets[uuid] = merged

    def add(self, gtid: str) -> None:
        uuid, _, gno = gtid.rpartition(":")
        self._add_range(uuid.strip().lower(), int(gno), int(gno))

    def contains(self, gtid: str) -> bool:
        uuid, _, gno_text = gtid.rpartition(":")
        gno = int(gno_text)
        return any(a <= gno <= b for a, b in self.sets.get(uuid.strip().lower(), []))

    def covers(self, other: GtidSet) -> bool:
        if not isinstance(other, MySQLGtidSet):
            return False
        for uuid, intervals in other.sets.items():
            mine = self.sets.get(uuid, [])
            for a, b in intervals:
                if not any(x <= a and b <= y for x, y in mine):
                    return False
        return True

    def copy(self) -> MySQLGtidSet:
        new = MySQLGtidSet()
        new.sets = {k: [list(i) for i in v] for k, v in self.sets.items()}
        return new

    def __str__(self) -> str:
        parts = []
        for uuid in sorted(self.sets):
            ranges = ":".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.sets[uuid])
            parts.append(f"{uuid}:{ranges}")
        return ",".join(parts)


def parse_gtid_set(text: str, flavor: str) -> GtidSet:
    """Parse a GTID set of the given flavor (``"mariadb"`` or ``"mysql"``)."""
    if flavor == "mariadb":
        try:
            return MariaDBGtidSet(text)
        except (ValueError, IndexError) as exc:
            raise errors.ErrNotMariaDBGTID(text, cause=exc) from exc
    try:
        return MySQLGtidSet(text)
    except (ValueError, IndexError) as exc:
        raise errors.ErrNotMySQLGTID(text, cause=exc) from exc


def _split(text: str) -> list[str]:
    return [p.strip() for p in (text or "").replace("\n", "").split(",") if p.strip()]


def _parse_mariadb_gtid(text: str) -> tuple[int, int, int]:
    domain, server, seq = text.strip().split("-")
    return int(domain), int(server), int(seq)


# -- GTID-only start points --------------------------------------------------------------------
def resolve_gtid_start(conn: db.Connection, gtid_text: str, flavor: str) -> Location:
    """Turn a GTID set into the binlog file/position where replication must start.

    Picks the newest binlog file whose starting GTID state (MariaDB's ``Gtid_list`` event, MySQL's
    ``Previous_gtids``) is covered by ``gtid_text`` — every transaction before that file is then
    already executed — and reads the binlog from there to the first transaction that ``gtid_text``
    does not contain (or to its end). Transactions after that point that ``gtid_text`` still
    contains (possible with several domains/servers interleaved) must be skipped by the reader,
    which is why the returned location keeps ``gtid_text`` as its GTID set.

    Raises :class:`DMError` when the binlog that holds the start point was purged.
    """
    target = parse_gtid_set(gtid_text, flavor)
    files = [name for name, _size in binlog_files(conn)]
    if not files:
        raise errors.ErrSyncerGetEvent("no binary log on the upstream")
    start_file = next(
        (name for name in reversed(files) if target.covers(_file_initial_gtids(conn, name, flavor))), None
    )
    if start_file is None:
        raise errors.ErrSyncerGetEvent(
            f"the binlog holding GTID set {gtid_text} was purged (oldest file {files[0]})"
        )
    end = Location(start_file, 4)
    for file, ev in read_events(conn.config, end):
        if isinstance(ev, GtidEvent | MariadbGtidEvent) and not target.contains(ev.gtid):
            return Location(file, ev.log_pos - ev.event_size, str(target))
        if ev.log_pos:
            end = Location(file, ev.log_pos)
    return Location(end.file, end.pos, str(target))  # the end of the binlog as it was read


def _file_initial_gtids(conn: db.Connection, name: str, flavor: str) -> GtidSet:
    """The GTID set executed before binlog file ``name`` (empty when the file doesn't say)."""
    for _file, ev in read_events(conn.config, Location(name, 4), one_file=True):
        if isinstance(ev, MariadbGtidListEvent | PreviousGtidsEvent):
            return parse_gtid_set(ev.gtids, flavor)
        if not isinstance(ev, FormatDescriptionEvent | OtherEvent):
            break  # the first transaction: the list comes before it
    return parse_gtid_set("", flavor)


def gtid_at(conn: db.Connection, file: str, pos: int, flavor: str) -> str:
    """The GTID set executed up to ``file:pos`` (a transaction boundary) on the upstream.

    MariaDB answers directly (``BINLOG_GTID_POS``); for MySQL it is the file's ``Previous_gtids``
    plus the GTIDs logged in the file before ``pos``.
    """
    if flavor == "mariadb":
        return binlog_gtid_pos(conn, file, pos)
    gs = parse_gtid_set("", flavor)
    for _file, ev in read_events(conn.config, Location(file, 4), one_file=True):
        if isinstance(ev, PreviousGtidsEvent):
            gs = parse_gtid_set(ev.gtids, flavor)
        elif isinstance(ev, GtidEvent):
            if ev.log_pos - ev.event_size >= pos:
                break
            gs.add(ev.gtid)
    return str(gs)


def binlog_files(conn: pymysql.connections.Connection) -> list[tuple[str, int]]:
    """The upstream's binary logs, oldest first: (name, size)."""
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        rows = cur.fetchall()
    return sorted(((str(r[0]), int(r[1])) for r in rows), key=lambda r: file_index(r[0]))
