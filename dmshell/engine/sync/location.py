"""Where the sync unit is in the upstream binlog (DM's ``syncer`` location bookkeeping).

:class:`LocationRecorder` follows the stream event by event: the current file and position, the
GTID set executed so far and the GTID of the transaction being read, whether the reader is inside
a transaction (and whether that transaction is skipped because the start GTID set already holds
it), the *global point* (the end of the last transaction or statement read: where a restart may
resume) and the *flushed point* (the global point last written to the checkpoint), and one point
per tracked table (where its structure was last changed).

Its methods are called on the reader's hot path (:meth:`begin`, :meth:`commit`): plain attribute
writes, no locks except for the reported position.
"""

from __future__ import annotations

from dataclasses import dataclass

from dmshell.engine import errors
from dmshell.engine.binlog.gtid import GtidSet, parse_gtid_set
from dmshell.engine.binlog.location import Location
from dmshell.engine.sync.status import SyncStats


@dataclass(slots=True)
class EventOrigin:
    """Where a row event is, rendered like DM's ``handleEventError`` annotation (lazily: built for
    every rows event, rendered only when one of its changes fails)."""

    file: str
    start: int
    end: int
    gtid_before: str
    pending_gtid: str
    flavor: str

    def __str__(self) -> str:
        after = self.gtid_before
        if self.pending_gtid:
            gs = parse_gtid_set(self.gtid_before, self.flavor)
            gs.add(self.pending_gtid)
            after = str(gs)
        return (
            f"startLocation: [{Location(self.file, self.start, self.gtid_before)}], "
            f"endLocation: [{Location(self.file, self.end, after)}]"
        )


class LocationRecorder:
    """Positions, GTIDs and transaction state of one run (see the module docstring).

    ``skip_set``: with ``enable-gtid``, the GTID set whose transactions were applied already
    (wherever they are logged): such a transaction is read but not applied (``skip_txn``).
    ``stats.position`` follows the global point.
    """

    __slots__ = (
        "file",
        "flavor",
        "flushed_point",
        "global_point",
        "gtid",
        "gtid_text",
        "in_txn",
        "pending_gtid",
        "pos",
        "skip_set",
        "skip_txn",
        "stats",
        "table_points",
    )

    def __init__(
        self, start: Location, flavor: str, stats: SyncStats, skip_set: GtidSet | None = None
    ) -> None:
        self.flavor = flavor
        self.stats = stats
        self.file, self.pos = start.file, start.pos
        self.gtid: GtidSet = parse_gtid_set(start.gtid, flavor)
        self.gtid_text = start.gtid
        self.pending_gtid = ""  # GTID of the transaction being read
        self.in_txn = False
        self.skip_txn = False
        self.skip_set = skip_set
        self.global_point: Location = start
        self.flushed_point: Location | None = None
        self.table_points: dict[tuple[str, str], Location] = {}
        with stats.lock:
            stats.position = start

    # -- the stream ------------------------------------------------------------------------------
    def rotate(self, file: str, pos: int) -> None:
        """The stream moved to ``file`` (a rotate event); outside a transaction that is a new
        global point."""
        self.file, self.pos = file, pos
        if not self.in_txn:
            self.commit(pos, txn=False)

    def begin(self, gtid: str) -> None:
        """A GTID event: a transaction starts (skipped when the skip set holds it)."""
        self.in_txn = True
        self.pending_gtid = gtid
        skip = self.skip_set
        self.skip_txn = skip is not None and skip.contains(gtid)

    def commit(self, end_pos: int, txn: bool = True) -> Location:
        """A transaction (``txn``: its GTID joins the set) or a statement outside one ended at
        ``end_pos``; returns the new global point."""
        if txn and self.pending_gtid:
            self.gtid.add(self.pending_gtid)
            self.gtid_text = str(self.gtid)
        self.pending_gtid = ""
        self.in_txn = False
        self.skip_txn = False
        point = self.global_point
        if point.pos != end_pos or point.file != self.file or point.gtid != self.gtid_text:
            point = self.global_point = Location(self.file, end_pos, self.gtid_text)
            stats = self.stats
            with stats.lock:
                stats.position = point
        return point

    # -- locations of the event being handled ----------------------------------------------------
    def start_location(self, start_pos: int) -> Location:
        """Where the event that began at ``start_pos`` starts (GTID set before it)."""
        return Location(self.file, start_pos, self.gtid_text)

    def end_location(self, end_pos: int) -> Location:
        """Where the event ending at ``end_pos`` ends: the GTID set includes the transaction
        being read."""
        if not self.pending_gtid:
            return Location(self.file, end_pos, self.gtid_text)
        after = self.gtid.copy()
        after.add(self.pending_gtid)
        return Location(self.file, end_pos, str(after))

    def origin(self, start_pos: int, end_pos: int) -> EventOrigin:
        return EventOrigin(self.file, start_pos, end_pos, self.gtid_text, self.pending_gtid, self.flavor)

    def annotate(
        self, err: errors.DMError, start: Location, end_pos: int, origin_sql: str = ""
    ) -> errors.DMError:
        """DM's annotation of an event's error:
        ``startLocation: [...], endLocation: [...][, origin SQL: [...]]: <message>``."""
        prefix = f"startLocation: [{start}], endLocation: [{self.end_location(end_pos)}]"
        if origin_sql:
            prefix += f", origin SQL: [{origin_sql}]"
        return err.annotate(prefix)

    # -- checkpoint points -------------------------------------------------------------------------
    def moved(self) -> bool:
        """Whether the global point is past the flushed one."""
        return self.global_point != self.flushed_point

    def table_point(self, key: tuple[str, str]) -> Location:
        """Where the table's structure was last changed (the global point if it never was)."""
        return self.table_points.get(key, self.global_point)
