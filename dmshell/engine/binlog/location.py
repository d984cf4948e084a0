"""Binlog locations (file/pos + GTID set) and upstream position queries.

A :class:`Location` is a point *between* events of the upstream binlog: the position where the next
event starts, plus the GTID set executed up to that point. Locations order by binlog file index and
position (the GTID set does not take part in ordering).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymysql

from dmshell.engine import db

_FILE_RE = re.compile(r"^(.*?)\.?(\d+)$")
_POSITION_RE = re.compile(r"^\(\s*(.*?)\s*,\s*(\d+)\s*\)$")


def file_index(name: str) -> tuple[str, int]:
    """Split ``mysql-bin.000003`` into ``("mysql-bin", 3)`` (``("x", -1)`` when there is no number)."""
    m = _FILE_RE.match(name)
    if not m:
        return name, -1
    return m.group(1), int(m.group(2))


@dataclass(frozen=True, slots=True)
class Location:
    """A point in the upstream binlog: file name, position, and the GTID set executed up to it."""

    file: str
    pos: int
    gtid: str = ""

    def position_str(self) -> str:
        """DM's (go-mysql) rendering of a position: ``(mysql-bin.000003, 4)``."""
        return f"({self.file}, {self.pos})"

    def __str__(self) -> str:
        return f"position: {self.position_str()}, gtid-set: {self.gtid}"

    def sort_key(self) -> tuple[int, str, int]:
        base, index = file_index(self.file)
        return index, base, self.pos

    def same_position(self, other: Location) -> bool:
        return self.sort_key() == other.sort_key()

    def with_gtid(self, gtid: str) -> Location:
        return Location(self.file, self.pos, gtid)

    # Ordering by position only (``==`` still compares all fields, as for any dataclass).
    def __lt__(self, other: Location) -> bool:
        return self.sort_key() < other.sort_key()

    def __le__(self, other: Location) -> bool:
        return self.sort_key() <= other.sort_key()

    def __gt__(self, other: Location) -> bool:
        return self.sort_key() > other.sort_key()

    def __ge__(self, other: Location) -> bool:
        return self.sort_key() >= other.sort_key()


def parse_position(text: str) -> tuple[str, int]:
    """Parse DM's ``(mysql-bin.000003, 4)`` rendering (also accepts ``mysql-bin.000003:4``)."""
    text = text.strip()
    m = _POSITION_RE.match(text)
    if m:
        return m.group(1), int(m.group(2))
    if ":" in text:
        name, _, pos = text.rpartition(":")
        return name.strip(), int(pos)
    raise ValueError(f"invalid binlog position {text!r}")


def detect_flavor(conn: pymysql.connections.Connection) -> str:
    """``"mariadb"`` or ``"mysql"``, from the server's version string."""
    with conn.cursor() as cur:
        cur.execute("SELECT VERSION()")
        version = str(db.one_row(cur)[0])
    return "mariadb" if "mariadb" in version.lower() else "mysql"


def gtid_executed(conn: pymysql.connections.Connection, flavor: str | None = None) -> str:
    """The server's executed GTID set: MariaDB ``@@gtid_binlog_pos``, MySQL ``@@gtid_executed``."""
    flavor = flavor or detect_flavor(conn)
    var = "@@GLOBAL.gtid_binlog_pos" if flavor == "mariadb" else "@@GLOBAL.gtid_executed"
    with conn.cursor() as cur:
        cur.execute(f"SELECT {var}")
        row = cur.fetchone()
    return (str(row[0]) if row and row[0] is not None else "").replace("\n", "")


def master_status(conn: pymysql.connections.Connection, flavor: str | None = None) -> Location:
    """The upstream's current binlog position (``SHOW MASTER STATUS``) with its GTID set.

    Raises ``RuntimeError`` when the server has no binary log enabled.
    """
    flavor = flavor or detect_flavor(conn)
    with conn.cursor() as cur:
        cur.execute("SHOW MASTER STATUS")
        row = cur.fetchone()
    if not row:
        raise RuntimeError("binary log is not enabled on the upstream (SHOW MASTER STATUS is empty)")
    gtid = gtid_executed(conn, flavor)
    return Location(str(row[0]), int(row[1]), gtid)


def binlog_gtid_pos(conn: pymysql.connections.Connection, file: str, pos: int) -> str:
    """MariaDB only: the GTID position that corresponds to ``file:pos`` (``BINLOG_GTID_POS``)."""
    with conn.cursor() as cur:
        cur.execute("SELECT BINLOG_GTID_POS(%s, %s)", (file, pos))
        row = cur.fetchone()
    return str(row[0]) if row and row[0] is not None else ""
