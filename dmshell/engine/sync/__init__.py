"""The sync unit (DM's ``syncer``): binlog events to the target, with checkpoints.

Modules, in the order an event meets them::

    syncer        SyncUnit; one _Run per process(): set-up, the event loop (dispatch by event type),
                  tear-down, stopping
    start         where a run starts (start-time, checkpoint, GTID check, load end, meta, master)
    copy_points   CopyPoints: after a resumed dump, per table safe mode / skipped changes up to its
                  snapshot (:func:`dmshell.engine.load.loader.load_resume_points`)
    location      LocationRecorder: file/pos, GTID set, pending GTID, in-transaction, skip-by-GTID,
                  global/flushed/table points, DM's error locations
    rows          RowHandler: table map + rows events → table plan → applier
    table_plan    per-table plan: route, event filter, expression filters, extracted columns, hold
    table_source  structures the schema tracker doesn't know yet (dump, upstream, target)
    ddl           DDLHandler: parse, BA list, online DDL (gh-ost / pt-osc,
                  :mod:`dmshell.engine.onlineddl`), route/filter/split, coordinate, execute, track
    coordinator   shard DDL coordination (seam a; the coordinators: dmshell/engine/shard/)
    operator      operations on events at binlog locations (seam b)
    safe_mode     SafeMode and its exit rule
    flusher       Flusher: when the checkpoint is written, and what
    checkpoint    the checkpoint table (``<meta>.<task>_syncer_checkpoint``) and the applied record
                  (``<meta>.<task>_syncer_applied``: exactly-once)
    ddl_journal   DDL statements journaled before and after they run
    apply         Applier: causality dispatch to worker-count lanes; transaction boundaries (seam c)
    dml           RowChange → SQL (single/multi-row, safe mode, compact), causality keys
    dml_exec      executing batches on the lanes' connections (threads)
    dml_process   the same in a child process (the default)
    status        live counters, the monitor thread, ``pb.SyncStatus``

Seams for the features to come (each has a default that is today's behaviour):

(a) Shard DDL coordination (issue 10, ``dmshell/engine/shard/``):
    ``coordinator.DDLCoordinator`` —
    ``coordinate(job: DDLJob) -> Verdict`` is called by ``DDLHandler.run`` once per DDL whose
    statements would reach the target, after routing and filtering, after the DML before it was
    drained and the checkpoint flushed, before execution; ``Verdict.EXECUTE`` / ``Verdict.SKIP``
    (``WAIT`` to come). ``DDLJob(ddl, targets, statements, start, end)``: the analysed upstream
    DDL, each replicated upstream name with its routed target, the target statements, the event's
    locations. ``holds(schema, table) -> bool`` is asked whenever a table's row plan is built (after
    every DDL): rows of a held table are handed to ``hold(schema, table, replay)`` instead of being
    applied (``TablePlan.verdict`` ``HOLD``; ``replay()`` applies them later); ``after(job)`` is
    called once the verdict was carried out. A coordinator may also have ``attach(run)`` (called by
    the run's set-up; it may set the flusher's ``cap``/``on_flushed``), ``fill_status(SyncStatus)``
    and ``unresolved_lock_id``. Default: ``dmshell.engine.shard.coordinator_for(ctx)`` —
    ``DirectCoordinator`` without ``shard-mode``, else the pessimistic or optimistic coordinator.
    A unit takes another with ``SyncUnit(ctx, coordinator=...)``.
(b) Error handling (issue 11, ``binlog skip|replace|inject``): ``operator.EventOperator`` —
    ``operation(start: Location, event) -> Operation | None`` is asked, with the event's start
    location, before a rows event or a query event's statement is applied;
    ``Operation(Action.SKIP | REPLACE | INJECT, statements)``. Default: none
    (``SyncUnit(ctx, operator=...)``; one ``is None`` test per event).
(c) The applier (issue 12): ``apply.Transactions`` — the loop calls ``applier.txn_begin()`` when the
    stream enters an upstream transaction (GTID event or ``BEGIN``) and ``applier.txn_commit(end)``
    with the global point after it when it leaves (XID, ``COMMIT``, ``ROLLBACK``, or the DDL it
    held); the changes dispatched in between are that transaction's. The ``Applier`` collects them
    and hands them to one lane whole, recording the transaction in the batch's target transaction
    (the applied record, ``checkpoint.AppliedRecord``; DDL: ``ddl_journal.DDLJournal``).
"""
