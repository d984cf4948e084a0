"""GTID sets of both flavors, and turning a GTID-only start point into a binlog file/position.

* MariaDB: a GTID is ``domain-server-seq``; a GTID *position* (``@@gtid_binlog_pos``) keeps the
  last GTID per replication domain, e.g. ``0-1-100,1-101-27``. Sequence numbers grow within a
  domain, so ``d-s-n`` is contained in a position whose domain ``d`` entry has ``seq >= n``.
* MySQL: a GTID is ``uuid:gno``; a set is ``uuid:1-5:7-9,uuid2:1-3`` (intervals per server uuid).

Both render in a canonical order (MariaDB by domain, MySQL by uuid), so equal sets give equal text.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location, file_index


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
_MARIADB_LIST_RE = re.compile(r"\[(.*)\]")
_MARIADB_GTID_RE = re.compile(r"(\d+-\d+-\d+)")
_MYSQL_GTID_RE = re.compile(r"'([0-9a-fA-F-]{36}:\d+)'")
_PAGE = 1000


def resolve_gtid_start(conn, gtid_text: str, flavor: str) -> Location:
    """Turn a GTID set into the binlog file/position where replication must start.

    Picks the newest binlog file whose starting GTID state (MariaDB's ``Gtid_list`` event, MySQL's
    ``Previous_gtids``) is covered by ``gtid_text`` — every transaction before that file is then
    already executed — and walks its events (``SHOW BINLOG EVENTS``) to the first transaction that
    ``gtid_text`` does not contain. Transactions after that point that ``gtid_text`` still contains
    (possible with several domains/servers interleaved) must be skipped by the reader, which is why
    the returned location keeps ``gtid_text`` as its GTID set.

    Raises :class:`DMError` when the binlog that holds the start point was purged.
    """
    target = parse_gtid_set(gtid_text, flavor)
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        files = sorted((str(r[0]) for r in cur.fetchall()), key=file_index)
    if not files:
        raise errors.ErrSyncerGetEvent("no binary log on the upstream")
    start_file = None
    for name in reversed(files):
        initial = _file_initial_gtids(conn, name, flavor)
        if target.covers(initial):
            start_file = name
            break
    if start_file is None:
        raise errors.ErrSyncerGetEvent(
            f"the binlog holding GTID set {gtid_text} was purged (oldest file {files[0]})"
        )
    for name in files[files.index(start_file) :]:
        pos = 4
        while True:
            with conn.cursor() as cur:
                cur.execute(f"SHOW BINLOG EVENTS IN %s FROM {int(pos)} LIMIT {_PAGE}", (name,))
                rows = cur.fetchall()
            for _log, ev_pos, ev_type, _sid, end_pos, info in rows:
                gtid = _event_gtid(str(ev_type), str(info or ""), flavor)
                if gtid is not None and not target.contains(gtid):
                    return Location(name, int(ev_pos), str(target))
                pos = int(end_pos) if end_pos else pos
            if len(rows) < _PAGE:
                break
    with conn.cursor() as cur:
        cur.execute("SHOW MASTER STATUS")
        row = cur.fetchone()
    return Location(str(row[0]), int(row[1]), str(target))


def _file_initial_gtids(conn, name: str, flavor: str) -> GtidSet:
    with conn.cursor() as cur:
        cur.execute("SHOW BINLOG EVENTS IN %s LIMIT 4", (name,))
        rows = cur.fetchall()
    for row in rows:
        ev_type, info = str(row[2]), str(row[5] or "")
        if flavor == "mariadb" and ev_type == "Gtid_list":
            m = _MARIADB_LIST_RE.search(info)
            return MariaDBGtidSet(m.group(1) if m else "")
        if flavor != "mariadb" and ev_type == "Previous_gtids":
            return MySQLGtidSet(info)
    return parse_gtid_set("", flavor)


def _event_gtid(ev_type: str, info: str, flavor: str) -> str | None:
    if flavor == "mariadb":
        if ev_type != "Gtid":
            return None
        m = _MARIADB_GTID_RE.search(info)
    else:
        if ev_type != "Gtid":
            return None
        m = _MYSQL_GTID_RE.search(info)
    return m.group(1) if m else None


def gtid_at(conn, file: str, pos: int, flavor: str) -> str:
    """The GTID set executed up to ``file:pos`` (a transaction boundary) on the upstream.

    MariaDB answers directly (``BINLOG_GTID_POS``); for MySQL it is the file's ``Previous_gtids``
    plus the GTIDs logged in the file before ``pos``.
    """
    if flavor == "mariadb":
        with conn.cursor() as cur:
            cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))
            row = cur.fetchone()
        return str(row[0]) if row and row[0] is not None else ""
    gs = _file_initial_gtids(conn, file, flavor)
    start = 4
    while start < pos:
        with conn.cursor() as cur:
            cur.execute(f"SHOW BINLOG EVENTS IN %s FROM {int(start)} LIMIT {_PAGE}", (file,))
            rows = cur.fetchall()
        for _log, ev_pos, ev_type, _sid, end_pos, info in rows:
            if int(ev_pos) >= pos:
                return str(gs)
            gtid = _event_gtid(str(ev_type), str(info or ""), flavor)
            if gtid is not None:
                gs.add(gtid)
            start = int(end_pos) if end_pos else start
        if len(rows) < _PAGE:
            break
    return str(gs)


def binlog_files(conn) -> list[tuple[str, int]]:
    """The upstream's binary logs, oldest first: (name, size)."""
    with conn.cursor() as cur:
        cur.execute("SHOW BINARY LOGS")
        rows = cur.fetchall()
    return sorted(((str(r[0]), int(r[1])) for r in rows), key=lambda r: file_index(r[0]))
