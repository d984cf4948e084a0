"""Which tables an online schema change tool made (DM's ``TableType`` and ``RealName``)."""

from __future__ import annotations

import re
from enum import StrEnum

from dmshell.engine.config.subtask import SubTaskConfig


class TableKind(StrEnum):
    REAL = "real table"
    GHOST = "ghost table"  # the new table being filled (gh-ost ``_t_gho``, pt-osc ``_t_new``)
    TRASH = "trash table"  # helpers and the old table (``_t_ghc``, ``_t_del``, ``_t_old``)


class Rules:
    """``shadow-table-rules`` and ``trash-table-rules``: anchored regular expressions whose one
    group is the real table's name (the config adds the anchors and checks the group)."""

    def __init__(self, shadow: list[str], trash: list[str]) -> None:
        self.shadow = [re.compile(r) for r in shadow]
        self.trash = [re.compile(r) for r in trash]

    @classmethod
    def of(cls, sub: SubTaskConfig) -> Rules:
        return cls(sub.shadow_table_rules, sub.trash_table_rules)

    def kind(self, table: str) -> TableKind:
        if any(r.match(table) for r in self.shadow):
            return TableKind.GHOST
        if any(r.match(table) for r in self.trash):
            return TableKind.TRASH
        return TableKind.REAL

    def real_name(self, table: str) -> str:
        """The real table a ghost or trash table stands for (``table`` itself for a real one)."""
        for r in (*self.shadow, *self.trash):
            if m := r.match(table):
                return m.group(1)
        return table
