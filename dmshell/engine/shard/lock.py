"""DM-master's pessimistic shard DDL lock (``dm/pkg/shardddl/pessimism``), without storage.

One lock per task and target table, ID ``<task>-`<schema>`.`<table>```. The first source to report
a DDL for the target creates the lock and owns it. A lock is *synced* once every source of the task
has reported the same DDLs; the owner is then told to execute them downstream, and when it reports
them done every other source is told to skip them. The lock is gone once every source is done.

A source reporting other DDLs than the lock's is refused with DM's ``detect inconsistent DDL
sequence`` error. ``unlock`` (``shard-ddl-lock unlock``) resolves a lock that can't sync: a chosen
owner executes (``exec``) or skips (``skip``) the DDLs, the other reported sources skip; or the lock
is just removed (``--force-remove``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

from dmshell.engine import errors

WAIT, EXEC, SKIP = "wait", "exec", "skip"


def lock_id(task: str, schema: str, table: str) -> str:
    """DM's lock ID: ``<task>-`<schema>`.`<table>```."""
    return f"{task}-`{schema}`.`{table}`"


@dataclass
class Lock:
    """One lock's state (JSON-serialisable)."""

    id: str
    task: str
    owner: str
    ddls: list[str]
    sources: list[str]  # every source the lock waits for
    reported: list[str] = field(default_factory=list)  # sources that reached the DDLs
    done: list[str] = field(default_factory=list)  # sources that executed or skipped them
    executed: bool = False  # the owner's part is over (executed, or skipped by an unlock)
    forced: str = ""  # "", "exec" or "skip": resolved by an unlock before it synced
    mode: str = "pessimistic"

    @property
    def synced(self) -> list[str]:
        return [s for s in self.sources if s in self.reported]

    @property
    def unsynced(self) -> list[str]:
        return [s for s in self.sources if s not in self.reported]

    @property
    def resolved(self) -> bool:
        return bool(self.forced) or not self.unsynced

    def action(self, source: str) -> str:
        """What ``source``, which reached the DDLs, does now."""
        if not self.resolved:
            return WAIT
        if source == self.owner and not self.executed:
            return SKIP if self.forced == SKIP else EXEC
        return SKIP if self.executed else WAIT

    def finish(self, source: str) -> bool:
        """``source`` executed or skipped the DDLs; True when the lock is over."""
        if source not in self.done:
            self.done.append(source)
        if source == self.owner:
            self.executed = True
        waiting = self.reported if self.forced else self.sources
        return all(s in self.done for s in waiting)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Lock:
        return cls(**json.loads(text))


class Keeper:
    """Every lock of the master (thread-safe). ``persist(id, json | None)`` is called under the
    keeper's lock after every change (None: the lock is gone)."""

    def __init__(self, persist: Callable[[str, str | None], None] | None = None) -> None:
        self.locks: dict[str, Lock] = {}
        self.mutex = threading.Lock()
        self.persist = persist or (lambda _id, _text: None)

    def load(self, texts: Iterable[str]) -> None:
        for text in texts:
            lock = Lock.from_json(text)
            self.locks[lock.id] = lock

    def _save(self, lock: Lock, gone: bool = False) -> None:
        if gone:
            self.locks.pop(lock.id, None)
        self.persist(lock.id, None if gone else lock.to_json())

    def report(
        self, task: str, source: str, target: tuple[str, str], ddls: list[str], sources: list[str]
    ) -> tuple[str, str]:
        """``source`` reached ``ddls`` on ``target``; ``sources``: the task's. Returns (lock ID,
        action); raises ``ErrSyncUnitDDLWrongSequence`` for other DDLs than the lock's."""
        lid = lock_id(task, *target)
        with self.mutex:
            lock = self.locks.get(lid)
            if lock is None:
                lock = Lock(lid, task, source, list(ddls), sorted(set(sources) | {source}))
                self.locks[lid] = lock
            elif lock.ddls != list(ddls):
                raise errors.ErrSyncUnitDDLWrongSequence(
                    f"[ddls: {list(ddls)} source: {source}]", f"[ddls: {lock.ddls} owner: {lock.owner}]"
                )
            if source not in lock.reported:
                lock.reported.append(source)
            # the task's sources now (a source removed from the task is no longer waited for)
            lock.sources = sorted(set(sources) | {source})
            self._save(lock)
            return lid, lock.action(source)

    def done(self, lid: str, source: str) -> None:
        """``source`` executed or skipped the lock's DDLs."""
        with self.mutex:
            lock = self.locks.get(lid)
            if lock is not None:
                self._save(lock, gone=lock.finish(source))

    def unlock(self, lid: str, owner: str = "", action: str = SKIP, force_remove: bool = False) -> None:
        """Resolve a lock by hand (see the module docstring); raises ``ErrMasterLockNotFound``."""
        with self.mutex:
            lock = self.locks.get(lid)
            if lock is None:
                raise errors.ErrMasterLockNotFound(lid)
            if force_remove:
                self._save(lock, gone=True)
                return
            if owner:
                if owner not in lock.reported:
                    raise errors.ErrMasterWorkerNotWaitLock(owner, lid)
                lock.owner = owner
            lock.forced = EXEC if action == EXEC else SKIP
            self._save(lock)

    def remove_task(self, task: str) -> None:
        """A task was stopped: its locks go with it."""
        with self.mutex:
            for lock in [lk for lk in self.locks.values() if lk.task == task]:
                self._save(lock, gone=True)

    def snapshot(self, task: str = "") -> list[Lock]:
        with self.mutex:
            return [Lock.from_json(lk.to_json()) for lk in self.locks.values() if not task or lk.task == task]
