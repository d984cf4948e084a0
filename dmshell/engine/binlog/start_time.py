"""``start-task --start-time``: the binlog location of the first transaction at or after a time.

As DM's ``binlogPosFinder.FindByTimestamp``: a binary search over the upstream's binlog files by
the timestamp of each file's first event picks the file, which is then read from its start up to
the first transaction-begin event (a GTID event; without GTIDs a ``BEGIN`` or a statement outside a
transaction) whose timestamp is ``>=`` the wanted time. The location is that event's start, with
the GTID set executed up to it. A time before the first binlog gives the first file's start
(``below``); a time after the last event is ``above`` (DM refuses it: ErrConfigStartTimeTooLate).
"""

from __future__ import annotations

import datetime as dt
import re

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.gtid import binlog_files, gtid_at
from dmshell.engine.binlog.location import Location
from dmshell.engine.binlog.reader import GtidEvent, MariadbGtidEvent, QueryEvent, XidEvent, read_events
from dmshell.engine.config.database import DBConfig

BELOW, IN_RANGE, ABOVE = "below", "in-range", "above"
_TIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(\.\d+)?([+-]\d{2}:\d{2}|Z)?$")


def parse_start_time(text: str, upstream_offset: float) -> float:
    """Unix time of DM's ``--start-time`` format; without an explicit offset the time is in the
    upstream's time zone (``upstream_offset`` seconds east of UTC). ValueError when malformed."""
    m = _TIME_RE.match(text.strip())
    if not m:
        raise ValueError(
            f"start-time {text!r} is not like '2021-10-21 00:01:00', '2021-10-21T00:01:00' "
            "or '2021-10-21T00:01:00+08:00'"
        )
    date, clock, frac, zone = m.groups()
    naive = dt.datetime.fromisoformat(f"{date}T{clock}{frac or ''}")
    if zone:
        tz = dt.UTC if zone == "Z" else dt.datetime.strptime(zone, "%z").tzinfo
        return naive.replace(tzinfo=tz).timestamp()
    return naive.replace(tzinfo=dt.UTC).timestamp() - upstream_offset


def upstream_utc_offset(conn: pymysql.connections.Connection) -> float:
    """Seconds the upstream's session time zone is ahead of UTC."""
    with conn.cursor() as cur:
        cur.execute("SELECT TIMESTAMPDIFF(SECOND, UTC_TIMESTAMP(), NOW())")
        return float(db.one_row(cur)[0])


def _first_timestamp(cfg: DBConfig, server_id: int, file: str) -> int:
    """The time of the file's first event (its format description: when the file was opened)."""
    for _file, ev in read_events(cfg, Location(file, 4), server_id=server_id, one_file=True):
        return int(ev.timestamp)
    return 0


def find_location_by_time(
    cfg: DBConfig, conn: db.Connection, when: float, flavor: str, server_id: int
) -> tuple[Location | None, str]:
    """(location, BELOW | IN_RANGE | ABOVE) of the first transaction at or after ``when``.

    ``conn`` is a normal connection to the same upstream; ``server_id`` must not be used by another
    replication connection. Raises DMError (``ErrSyncerGetEvent``) when the binlog can't be read.
    """
    target = int(when)  # binlog timestamps have second resolution
    try:
        files = binlog_files(conn)
        if not files:
            raise errors.ErrSyncerGetEvent("no binary log on the upstream")
        lo, hi = 0, len(files) - 1
        last_ts, last_mid = 0, 0
        while lo <= hi:
            mid = (lo + hi) // 2
            last_ts, last_mid = _first_timestamp(cfg, server_id, files[mid][0]), mid
            if last_ts >= target:
                hi = mid - 1
            else:
                lo = mid + 1
        before_first = False
        if last_ts >= target:
            if last_mid == 0:
                before_first = True
                index = 0
            else:
                index = last_mid - 1
        else:
            index = last_mid
        name, _size = files[index]
        if before_first:
            return Location(name, 4, gtid_at(conn, name, 4, flavor)), BELOW
        pos = _scan(cfg, server_id, name, target)
        if pos is None:
            if index == len(files) - 1:
                return None, ABOVE
            name = files[index + 1][0]
            pos = 4
        return Location(name, pos, gtid_at(conn, name, pos, flavor)), IN_RANGE
    except errors.DMError:
        raise
    except Exception as exc:
        raise errors.ErrSyncerGetEvent(f"find the binlog location of a time: {exc}", cause=exc) from exc


def _scan(cfg: DBConfig, server_id: int, file: str, target: int) -> int | None:
    """Start of the first transaction-begin event with timestamp >= target in ``file`` (None: none)."""
    in_txn = False
    seen_gtid = False
    for _file, ev in read_events(cfg, Location(file, 4), server_id=server_id, one_file=True):
        begin = False
        if isinstance(ev, GtidEvent | MariadbGtidEvent):
            seen_gtid = True
            begin = True
        elif isinstance(ev, QueryEvent) and not seen_gtid:
            query = ev.query.strip().upper()
            if query == "BEGIN":
                begin, in_txn = True, True
            elif query == "COMMIT":
                in_txn = False
            elif not in_txn:
                begin = True
        elif isinstance(ev, XidEvent):
            in_txn = False
        if begin and ev.timestamp >= target:
            return ev.log_pos - ev.event_size
    return None
