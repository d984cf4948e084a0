"""The processing-unit interface shared by Dump, Load and Sync (DM's ``unit.Unit``).

A subtask runs its units in order (``all``: Dump → Load → Sync; ``full``: Dump → Load;
``incremental``: Sync). Pausing a unit means stopping it cleanly at a consistent point; resuming
means running it again, and it continues from its own checkpoint. So every unit must be safe to
stop at any moment (including kill -9 of the whole process) and to run again.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.errors import ErrConfigLoaderDirInvalid
from dmshell.proto import dmworker_pb2 as pb

#: ``loaders.<name>.dir`` when not set (DM's default)
DEFAULT_LOADER_DIR = "./dumped_data"


@dataclass(slots=True)
class UnitContext:
    """Everything a unit needs to run one subtask on one source."""

    cfg: SubTaskConfig
    source: SourceConfig
    #: the subtask's private directory on the worker (dump files live under ``dump_dir``)
    work_dir: Path
    worker_name: str
    #: ``start-task --start-time`` still to be applied by the sync unit ("" = none)
    start_time: str = ""
    #: the source's relay (:class:`dmshell.engine.relay.relay.Relay`) when it has one
    relay: Any = None
    #: the master's address (``--join``) for shard DDL locks; "" without a daemon
    master_addr: str = ""
    _start_time_marker: Path | None = None
    #: the sync unit's operations on binlog events (``binlog skip|replace|inject``; an
    #: ``engine.sync.operator.EventOperator``), None: no operations
    operator: Any = None

    @property
    def dump_dir(self) -> Path:
        """Where the dump goes: the subtask's own ``dump`` directory unless ``loaders.<name>.dir`` is
        set, then that directory (DM appends ``.<task>`` in task-modes all and full; a relative path
        is taken from the worker's directory) with ``.<source-id>`` appended, so that the sources of
        a task dumping on one machine never share files."""
        configured = self.cfg.loader.dir or DEFAULT_LOADER_DIR
        if "://" in configured:  # DM's external storage (s3://, gcs://): not supported
            raise ErrConfigLoaderDirInvalid(
                configured, workaround="Use a local directory as `dir` of `loaders`."
            )
        if configured in (DEFAULT_LOADER_DIR, f"{DEFAULT_LOADER_DIR}.{self.cfg.name}"):
            return self.work_dir / "dump"
        path = Path(configured).expanduser()
        if not path.is_absolute():
            path = self.work_dir.parent / path
        return path.with_name(f"{path.name}.{self.cfg.source_id}")

    def use_start_time(self, start_time: str, start_id: str) -> None:
        """Ask the sync unit to start at ``start_time`` unless this run (``start_id``) already did.

        The start time overrides the checkpoint only once: after the sync unit has started from it
        and flushed its checkpoint (:meth:`start_time_applied`), restarts resume from checkpoints.
        """
        self._start_time_marker = self.work_dir / f"start-time-applied.{start_id}"
        self.start_time = "" if self._start_time_marker.exists() else start_time

    def start_time_applied(self) -> None:
        """Record durably that the start time has been honoured (see :meth:`use_start_time`)."""
        self.start_time = ""
        if self._start_time_marker is not None:
            self._start_time_marker.parent.mkdir(parents=True, exist_ok=True)
            self._start_time_marker.touch()


class Unit(ABC):
    """One stage of a subtask's pipeline."""

    unit_type: int  # a pb.UnitType value

    def __init__(self, ctx: UnitContext) -> None:
        self.ctx = ctx

    @abstractmethod
    def completed(self) -> bool:
        """True when this unit's work is already done (read from durable state, before ``process``).

        Used after a restart to decide which unit to resume at: the subtask starts at the unit
        after the last completed one.
        """

    @abstractmethod
    def process(self, stop: threading.Event) -> None:
        """Do the unit's work until it is finished or ``stop`` is set.

        Returns normally when finished (Dump, Load) or when stopped (all units). Raises
        :class:`dmshell.engine.errors.DMError` on failure; the subtask then pauses (or auto-resumes
        resumable errors). Must leave durable state consistent when it returns or raises.
        """

    @abstractmethod
    def status(self) -> pb.DumpStatus | pb.LoadStatus | pb.SyncStatus:
        """A snapshot of progress for ``query-status``; cheap and thread-safe."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections and threads. Called once, after the last ``process``."""
