"""A full copy dumped from several snapshots (its dump was resumed,
:func:`dmshell.engine.load.loader.load_resume_points`): the sync starts at the earliest snapshot;
changes of a table up to the latest snapshot its rows come from are applied in safe mode
(``safe``), and changes of a keyless table copied whole from a later snapshot are skipped up to that
snapshot (``skip``; they are in the copy already), rows and DDL alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from dmshell.engine import db
from dmshell.engine.binlog.location import Location
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.load.loader import load_resume_points

log = logging.getLogger(__name__)

Points = dict[tuple[str, str], Location]


@dataclass(slots=True)
class CopyPoints:
    """Per (source schema, table): how far its changes are in safe mode / skipped (empty: none)."""

    safe: Points = field(default_factory=dict)
    skip: Points = field(default_factory=dict)

    @classmethod
    def read(cls, tgt: db.Connection, cfg: SubTaskConfig, start: Location, label: str) -> CopyPoints:
        """The points beyond ``start`` of the copy the load recorded in the target (task-modes all
        and load&sync; none otherwise)."""
        if cfg.task_mode not in ("all", "load&sync"):
            return cls()
        points = load_resume_points(tgt, cfg)
        if points is None:
            return cls()
        out = cls(
            {t: loc for t, loc in points.safe_until.items() if loc > start},
            {t: loc for t, loc in points.skip_until.items() if loc > start},
        )
        if out.safe or out.skip:
            log.info(
                "sync %s: the copy came from several snapshots; safe mode for %d table(s) and "
                "skipped changes of %d table(s) until their snapshot",
                label,
                len(out.safe),
                len(out.skip),
            )
        return out

    @staticmethod
    def before(points: Points, schema: str, table: str, file: str, end: int) -> bool:
        """Whether the change ending at ``file``:``end`` is before the table's point in ``points``."""
        loc = points.get((schema, table)) if points else None
        return loc is not None and Location(file, end) <= loc
