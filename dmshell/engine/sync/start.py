"""Where a run of the sync unit starts reading the upstream binlog.

In order (the first that applies):

1. ``start-task --start-time`` (used by the unit's first run only): the first transaction at or
   after that time (:mod:`dmshell.engine.binlog.start_time`); the checkpoint is ignored.
2. The syncer checkpoint. With ``enable-gtid`` its GTID set decides: its file/position is used
   only when it holds exactly that set on the upstream (else — fail-over, purged or renamed binlog
   files — the position is found again from the GTID set).
3. Task mode ``all``: where the load finished
   (:func:`dmshell.engine.load.loader.load_finished_location`).
4. The task's ``meta``: ``binlog-gtid`` for GTID sources or when it is the only thing given
   (resolved to a file/position by :func:`dmshell.engine.binlog.gtid.resolve_gtid_start`), else
   ``binlog-name``/``binlog-pos``.
5. The upstream's current position.

A start without a GTID set on MariaDB gets the set of that position (``BINLOG_GTID_POS``). In GTID
mode a transaction the start GTID set already holds was applied, wherever it is logged: the run
skips it (:attr:`StartPoint.skip_set`).

The upstream is reached through :class:`Upstream` (a protocol: the rules are tested without a
server); :class:`UpstreamBinlog` is the real one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pymysql

from dmshell.engine import db, errors
from dmshell.engine.binlog.gtid import GtidSet, binlog_files, parse_gtid_set, resolve_gtid_start
from dmshell.engine.binlog.location import Location, binlog_gtid_pos, master_status
from dmshell.engine.binlog.start_time import (
    ABOVE,
    find_location_by_time,
    parse_start_time,
    upstream_utc_offset,
)
from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.task import Meta

log = logging.getLogger(__name__)


class Upstream(Protocol):
    """What start resolution asks the upstream. Every method raises a DMError on failure."""

    def master(self) -> Location: ...

    def gtid_at(self, file: str, pos: int) -> str:
        """The GTID set executed at ``file:pos`` (MariaDB's ``BINLOG_GTID_POS``)."""

    def files(self) -> dict[str, int]:
        """Binlog file name -> size."""

    def resolve_gtid(self, gtid: str) -> Location:
        """Where the transactions after the GTID set ``gtid`` begin."""

    def location_of_time(self, text: str) -> Location:
        """The first transaction at or after ``start-time`` ``text`` (ErrConfigStartTimeTooLate)."""


@dataclass(frozen=True, slots=True)
class StartPoint:
    location: Location
    #: GTID mode: the transactions already applied (read, not applied again); None: none known
    skip_set: GtidSet | None
    #: the start time decided (the checkpoint's location and table structures don't apply)
    by_time: bool = False


class StartResolver:
    """Applies the rules of the module docstring for one run."""

    def __init__(
        self,
        upstream: Upstream,
        flavor: str,
        *,
        enable_gtid: bool,
        task_mode: str,
        meta: Meta | None,
        load_finished: Callable[[], Location | None],
        label: str = "",
    ) -> None:
        self.label = label  # "task/source" for the log
        self.upstream = upstream
        self.flavor = flavor
        self.enable_gtid = enable_gtid
        self.task_mode = task_mode
        self.meta = meta
        self.load_finished = load_finished

    def resolve(self, checkpoint: Location | None, start_time: str = "") -> StartPoint:
        skip: GtidSet | None = None
        if start_time:
            start = self.upstream.location_of_time(start_time)
        elif checkpoint is not None:
            start = checkpoint
            if self.enable_gtid and start.gtid:
                start, skip = self._gtid_checked(start)
        else:
            start, skip = self._initial()
        if not start.gtid and self.flavor == "mariadb":
            try:
                start = start.with_gtid(self.upstream.gtid_at(start.file, start.pos))
            except errors.DMError as err:
                log.warning(
                    "BINLOG_GTID_POS(%s) failed (%s); the GTID set starts empty", start.position_str(), err
                )
        if self.enable_gtid and skip is None and start.gtid:
            skip = parse_gtid_set(start.gtid, self.flavor)
        return StartPoint(start, skip, by_time=bool(start_time))

    def _gtid_checked(self, start: Location) -> tuple[Location, GtidSet | None]:
        """enable-gtid: the checkpoint's position only if it still holds exactly its GTID set."""
        files = self.upstream.files()
        ok = start.file in files and start.pos <= files[start.file]
        if ok and self.flavor == "mariadb":
            here = self.upstream.gtid_at(start.file, start.pos)
            ok = parse_gtid_set(here, self.flavor) == parse_gtid_set(start.gtid, self.flavor)
        if ok:
            return start, None
        loc = self.upstream.resolve_gtid(start.gtid)
        log.warning(
            "sync %s: checkpoint %s doesn't match the upstream binlog; resuming from its GTID set at %s",
            self.label,
            start,
            loc,
        )
        return loc, parse_gtid_set(loc.gtid, self.flavor)

    def _initial(self) -> tuple[Location, GtidSet | None]:
        """A task without a syncer checkpoint."""
        if self.task_mode in ("all", "load&sync"):
            loc = self.load_finished()
            if loc is not None:
                return loc, None
        meta = self.meta
        if meta is not None and meta.binlog_gtid and (self.enable_gtid or not meta.binlog_name):
            loc = self.upstream.resolve_gtid(meta.binlog_gtid)
            return loc, parse_gtid_set(loc.gtid, self.flavor)
        if meta is not None and meta.binlog_name:
            return Location(meta.binlog_name, meta.binlog_pos or 4, meta.binlog_gtid), None
        return self.upstream.master(), None


class UpstreamBinlog:
    """:class:`Upstream` over a connection to the upstream server (``config``: its settings, for
    the extra replication connection the start time needs)."""

    def __init__(self, conn: Any, config: DBConfig, flavor: str, server_id: int, label: str = "") -> None:
        self.label = label  # "task/source" for the log
        self.conn = conn
        self.config = config
        self.flavor = flavor
        self.server_id = server_id  # of the replication connection that scans for a start time

    def master(self) -> Location:
        try:
            return master_status(self.conn, self.flavor)
        except (pymysql.MySQLError, RuntimeError) as exc:
            raise db.classify(exc, "SHOW MASTER STATUS") from exc

    def gtid_at(self, file: str, pos: int) -> str:
        try:
            return binlog_gtid_pos(self.conn, file, pos)
        except pymysql.MySQLError as exc:
            raise db.classify(exc, f"BINLOG_GTID_POS('{file}', {pos})") from exc

    def files(self) -> dict[str, int]:
        try:
            return dict(binlog_files(self.conn))
        except pymysql.MySQLError as exc:
            raise db.classify(exc, "SHOW BINARY LOGS") from exc

    def resolve_gtid(self, gtid: str) -> Location:
        try:
            return resolve_gtid_start(self.conn, gtid, self.flavor)
        except pymysql.MySQLError as exc:
            raise db.classify(exc, "find a GTID set in the upstream binlog") from exc

    def location_of_time(self, text: str) -> Location:
        """DM's ``setGlobalPointByTime``."""
        try:
            when = parse_start_time(text, upstream_utc_offset(self.conn))
        except ValueError as exc:
            raise errors.ErrNotSet(str(exc)) from exc  # dmctl validates the format before
        except pymysql.MySQLError as exc:
            raise db.classify(exc, "read the upstream time zone") from exc
        loc, kind = find_location_by_time(self.config, self.conn, when, self.flavor, self.server_id)
        if kind == ABOVE or loc is None:
            raise errors.ErrConfigStartTimeTooLate(text)
        log.info("sync %s: start-time %s is at %s (%s); checkpoint ignored", self.label, text, loc, kind)
        return loc
