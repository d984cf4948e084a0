"""Online schema changes (gh-ost, pt-osc) while ``online-ddl: true`` (DM's default).

DM replays an online schema change as the one DDL it stands for: it recognises the tool's shadow
table (``shadow-table-rules``; gh-ost ``_<t>_gho``, pt-osc ``_<t>_new``) and trash tables
(``trash-table-rules``; gh-ost ``_<t>_ghc`` / ``_<t>_del``, pt-osc ``_<t>_old``), keeps their rows
and DDL from the target, and applies the shadow table's ALTER to the real table at the final
rename. dmshell does not do that yet, and replicating those tables as ordinary tables would not be
what ``online-ddl: true`` promises: so the unit stops with DM's ``ErrSyncerUnitGhostOnlineDDLOnGhostTbl``
(36046) the moment such a table appears in the binlog — a DDL or rows event on it that passes the
block-allow list. ``online-ddl: false`` replicates them as ordinary tables (DM does the same).
"""

from __future__ import annotations

import re

from dmshell.engine import errors

WORKAROUND = (
    "dmshell does not apply online schema changes yet (`online-ddl: true`): the gh-ost/pt-osc shadow and "
    "trash tables (`shadow-table-rules`, `trash-table-rules`) can't be replicated as DM does. Either set "
    "`online-ddl: false` to replicate them as ordinary tables, or add them to the `block-allow-list` "
    "`ignore-tables` and run the schema change on the target yourself; then start the task again."
)


class OnlineDDLGuard:
    """Raises on tables matching the shadow or trash table rules (when ``enabled``)."""

    def __init__(self, enabled: bool, shadow_rules: list[str], trash_rules: list[str]) -> None:
        self.enabled = enabled
        self._rules = [re.compile(r) for r in (*shadow_rules, *trash_rules)] if enabled else []

    def is_online_table(self, table: str) -> bool:
        """Whether ``table`` is a shadow or trash table of an online schema change."""
        return any(rx.search(table) for rx in self._rules)

    def check(self, schema: str, table: str) -> None:
        """Raise ErrSyncerUnitGhostOnlineDDLOnGhostTbl for a shadow or trash table."""
        if table and self.is_online_table(table):
            raise errors.ErrSyncerUnitGhostOnlineDDLOnGhostTbl(schema, table, workaround=WORKAROUND)
