"""Table map and rows events (DM's ``handleRowsEvent``): gh-ost/pt-osc ghost and trash tables
(never applied, :mod:`dmshell.engine.onlineddl`), the block-allow list, the table's tracked
structure (rows are decoded with it), its plan (:mod:`dmshell.engine.sync.table_plan`: route, binlog
event filter, expression filters, extracted columns, shard hold), then the applier.

:meth:`RowHandler.on_rows` is on the hot path: one call per rows event, the rows of the event
dispatched in one :meth:`dmshell.engine.sync.apply.Applier.dispatch_rows` call when the table has
no per-row work.
"""

from __future__ import annotations

from typing import Any

from dmshell.engine import db, errors
from dmshell.engine.filters.rules import BAListFilter, TableRouter
from dmshell.engine.onlineddl import OnlineDDL
from dmshell.engine.sync.apply import Applier, downstream
from dmshell.engine.sync.copy_points import CopyPoints
from dmshell.engine.sync.dml import INSERT, UPDATE, RowChange
from dmshell.engine.sync.location import EventOrigin, LocationRecorder
from dmshell.engine.sync.safe_mode import SafeMode
from dmshell.engine.sync.table_plan import HOLD, RowFilters, TablePlan
from dmshell.engine.sync.table_source import TableSource


class RowHandler:
    """Rows of one run; ``target_packet``: the target's max_allowed_packet (0: unknown)."""

    def __init__(
        self,
        *,
        balist: BAListFilter,
        router: TableRouter,
        tables: TableSource,
        row_filters: RowFilters,
        loc: LocationRecorder,
        safe: SafeMode,
        applier: Applier,
        target_packet: int,
        online: OnlineDDL | None = None,
        copy: CopyPoints | None = None,
    ) -> None:
        self.balist = balist
        #: a copy from several snapshots: changes in safe mode / skipped up to a table's snapshot
        self.copy = copy or CopyPoints()
        self.online = online
        self.router = router
        self.tables = tables
        self.row_filters = row_filters
        self.loc = loc
        self.safe = safe
        self.applier = applier
        self.target_packet = target_packet
        self.flavor = loc.flavor
        #: table id of the binlog's table map -> (plan, schema, table); None: a filtered table
        self.table_ids: dict[int, tuple[TablePlan, str, str] | None] = {}

    def schema_of(self, ev: Any) -> str | None:
        """The schema of a rows event's table; None when its rows are not applied (a filtered
        table, or a transaction the GTID skip set holds)."""
        entry = self.table_ids.get(ev.table_id)
        if entry is None or self.loc.skip_txn:
            return None
        return entry[1]

    def on_table_map(self, ev: Any, start: int, end: int) -> None:
        schema, table = ev.schema, ev.table
        online = self.online
        if (
            (online is not None and online.skips_rows(table))
            or not self.balist.allow_table(schema, table)
            or CopyPoints.before(self.copy.skip, schema, table, self.loc.file, end)
        ):
            self.table_ids[ev.table_id] = None
            return
        try:
            info = self.tables.tracked(schema, table)
            if info is None:
                raise errors.ErrSchemaTrackerCannotGetTable(f"`{schema}`.`{table}`")
            ev.bind(info)  # rows are decoded with the tracked structure (36027 on a count mismatch)
            plan = self.row_filters.plan(schema, table, info)
        except errors.DMError as err:
            raise self.loc.annotate(err, self.loc.start_location(start), end) from None
        self.table_ids[ev.table_id] = (plan, schema, table)

    def on_rows(self, ev: Any, op: str, start: int, end: int) -> None:
        entry = self.table_ids.get(ev.table_id)
        loc = self.loc
        if entry is None or loc.skip_txn:
            return
        plan, schema, table = entry
        verdict = plan.verdict[op]
        if verdict != "Do":
            if verdict == HOLD:
                self.hold(ev, op, plan, schema, table, start, end)
                return
            if verdict == "Ignore":
                return
            err = errors.ErrSyncerUnitBinlogEventFilter(f"event {op} on `{schema}`.`{table}`")
            raise loc.annotate(err, loc.start_location(start), end)
        if self.target_packet and ev.event_size > self.target_packet:
            self.check_row_size(ev, op, schema, table, start, end)
        origin = EventOrigin(loc.file, start, end, loc.gtid_text, loc.pending_gtid, self.flavor)
        self.apply(op, plan, ev.decode(), ev.timestamp, origin, start, end)

    def apply(
        self, op: str, plan: TablePlan, images: list, ts: int, origin: EventOrigin, start: int, end: int
    ) -> None:
        """Dispatch a rows event's decoded ``images`` to the applier."""
        copied = self.copy.safe  # empty unless the copy came from several snapshots
        safe = self.safe.on or (
            bool(copied) and CopyPoints.before(copied, plan.source.schema, plan.source.name, origin.file, end)
        )
        if not plan.simple:
            self.on_rows_filtered(images, ts, op, plan, origin, start, end, safe)
            return
        self.applier.dispatch_rows(op, plan.info, plan.target, images, ts, origin, safe)

    def hold(self, ev: Any, op: str, plan: TablePlan, schema: str, table: str, start: int, end: int) -> None:
        """Rows of a table the shard coordinator holds: handed to it, to be applied once the
        table's DDL is resolved."""
        loc = self.loc
        origin = EventOrigin(loc.file, start, end, loc.gtid_text, loc.pending_gtid, self.flavor)
        images, ts = ev.decode(), ev.timestamp
        self.row_filters.coordinator.hold(
            schema, table, lambda: self.apply(op, plan, images, ts, origin, start, end)
        )

    def check_row_size(self, ev: Any, op: str, schema: str, table: str, start: int, end: int) -> None:
        """A row whose statement can't fit the target's max_allowed_packet: the target would just
        drop the connection (a resumable error, retried forever), so stop with a clear error, as DM
        does (its driver refuses such a packet)."""
        images = len(ev.decode()) or 1
        row = ev.event_size // images  # bytes of one row image, about what its statement carries
        if row <= self.target_packet:
            return
        err = downstream(
            errors.ErrDBExecuteFailed(
                f"{op} of a {row}-byte row into {db.quote_table(*self.router.route(schema, table))}",
                cause="packet for query is too large: the target's max_allowed_packet is "
                f"{self.target_packet}",
                workaround="Raise max_allowed_packet on the target database (SET GLOBAL max_allowed_packet "
                "= ...; new connections use it), then use `resume-task` to resume the task.",
            )
        )
        raise self.loc.annotate(err, self.loc.start_location(start), end)

    def on_rows_filtered(
        self,
        images: list,
        ts: int,
        op: str,
        plan: TablePlan,
        origin: EventOrigin,
        start: int,
        end: int,
        safe: bool,
    ) -> None:
        """Rows of a table with expression filters or extracted columns."""
        dispatch = self.applier.dispatch
        exprs, extra = plan.exprs, plan.extra
        step = 2 if op == UPDATE else 1
        for i in range(0, len(images), step):
            if op == UPDATE:
                before, after = images[i], images[i + 1]
            elif op == INSERT:
                before, after = None, images[i]
            else:
                before, after = images[i], None
            if exprs is not None:
                try:
                    if exprs.skip(op, before, after):
                        continue
                except errors.DMError as err:
                    raise self.loc.annotate(err, self.loc.start_location(start), end) from None
            if extra:
                before = None if before is None else before + extra
                after = None if after is None else after + extra
            dispatch(RowChange(op, plan.info, plan.target, before, after, ts, origin), safe)
