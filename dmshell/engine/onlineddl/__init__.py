"""Online schema changes (gh-ost, pt-online-schema-change) replicated as one DDL, as DM's
``dm/syncer/online-ddl-tools``.

An online schema change copies a table into a *ghost* (shadow) table that has the new structure,
keeps it up to date with triggers (pt-osc) or from the binlog (gh-ost), then swaps the two with
one RENAME and drops the old table (the *trash*). Replicating all of that downstream copies every
row again and, with shard routes, renames and drops the merged table. With ``online-ddl: true``
(DM's default):

* :class:`~.rules.Rules` tells ghost and trash tables from real ones by ``shadow-table-rules`` and
  ``trash-table-rules`` (or the legacy ``online-ddl-scheme``), and which real table they stand for;
* rows and DDL of ghost and trash tables never reach the target (:meth:`OnlineDDL.skips_rows`,
  :meth:`OnlineDDL.apply`);
* the DDL run on a ghost table is recorded in ``<meta-schema>.<task>_onlineddl``
  (:class:`~.storage.Storage`, DM's table shape, one row per source and ghost table) so that it
  survives restarts;
* at the cut-over RENAME (ghost → real) :meth:`OnlineDDL.apply` answers the recorded statements
  rewritten onto the real table: the sync unit handles them exactly as if they had been run on the
  real table upstream (schema tracker, routing, shard DDL coordination, execution), and then calls
  :meth:`OnlineDDL.finish` to forget the record once the checkpoint is past the RENAME.

The changes to the real table during the copy replicate as usual.
"""

from dmshell.engine.onlineddl.plugin import OnlineDDL, Outcome
from dmshell.engine.onlineddl.rules import Rules, TableKind
from dmshell.engine.onlineddl.storage import GhostDDLs, Storage

__all__ = ["GhostDDLs", "OnlineDDL", "Outcome", "Rules", "Storage", "TableKind"]
