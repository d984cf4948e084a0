"""Optimistic shard merging (``shard-mode: optimistic``, DM's ``pkg/shardddl/optimism``).

The keeper (the master's, or an in-process one) holds, per target table, the structure of every
shard table of every source (columns with their definitions, index names) and what the target has
(the *joined* structure). A schema change on one shard is decided at once, without waiting:

* ``ADD COLUMN`` / ``ADD INDEX``: executed downstream when the target doesn't have it yet; skipped
  when another shard already added it with the same definition; a different definition is a
  conflict;
* ``DROP COLUMN`` / ``DROP INDEX``: skipped while another shard still has it (the target keeps it,
  rows of the shards that dropped it are written without it); executed by the last shard to drop it
  (every source of the task must have registered its shards);
* anything else on a merged table (renames, type changes, key changes, several changes in one
  statement) is a conflict. With ``strict-optimistic-shard-mode`` a drop that has to wait for the
  other shards is a conflict too.

A conflict stops the subtask with DM's 36062 (``fail to handle shard ddl ... because schema conflict
detected``); the status shows the blocked shard (``blockDDLOwner``) and the reason (``conflictMsg``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from dmshell.engine import errors
from dmshell.engine.ddl.statement import ColumnDef
from dmshell.engine.schema.tracker import TableInfo
from dmshell.engine.shard.lock import EXEC, SKIP, lock_id

Structure = dict[str, Any]  # {"cols": {name_lower: definition}, "idx": {name_lower: columns}}


def column_text(c: ColumnDef) -> str:
    """A column's definition, compared across shards."""
    text = c.type + ("" if c.nullable else " NOT NULL")
    if c.default is not None:
        text += f" DEFAULT {c.default}"
    if c.collation:
        text += f" COLLATE {c.collation}"
    return text


def structure_of(info: TableInfo) -> Structure:
    idx = {"primary": ",".join(info.primary_key).lower()} if info.primary_key else {}
    idx.update({n.lower(): ",".join(cols).lower() for n, cols in info.unique_keys})
    return {"cols": {c.name.lower(): column_text(c) for c in info.columns}, "idx": idx}


class Conflict(Exception):
    """A schema change the joined structure can't take."""


class OptimisticKeeper:
    """Every optimistic lock's structures (thread-safe); ``persist(id, json | None)`` as
    :class:`~dmshell.engine.shard.lock.Keeper`."""

    def __init__(self, persist: Callable[[str, str | None], None] | None = None) -> None:
        self.locks: dict[str, dict[str, Any]] = {}
        self.mutex = threading.Lock()
        self.persist = persist or (lambda _id, _text: None)

    def load(self, texts: list[str]) -> None:
        for text in texts:
            doc = json.loads(text)
            self.locks[doc["id"]] = doc

    def _lock(self, task: str, target: tuple[str, str]) -> dict[str, Any]:
        lid = lock_id(task, *target)
        return self.locks.setdefault(
            lid, {"id": lid, "task": task, "shards": {}, "down": None, "sources": []}
        )

    def register(self, task: str, source: str, target: tuple[str, str], shards: list[str]) -> None:
        """``source``'s shard tables of ``target``. A shard's structure is learnt at its first schema
        change (the structure before it); until then it is the structure the shards started with."""
        with self.mutex:
            lock = self._lock(task, target)
            for shard in shards:
                lock["shards"].setdefault(f"{source}:{shard}", None)
            if source not in lock["sources"]:
                lock["sources"].append(source)
            self.persist(lock["id"], json.dumps(lock))

    @staticmethod
    def _structures(lock: dict[str, Any]) -> dict[str, Structure]:
        base = lock.get("base") or {"cols": {}, "idx": {}}
        return {k: (base if st is None else st) for k, st in lock["shards"].items()}

    def decide(
        self,
        task: str,
        source: str,
        target: tuple[str, str],
        shard: str,
        change: tuple[str, str, str],
        before: Structure,
        sources: list[str],
        strict: bool = False,
    ) -> str:
        """``shard`` of ``source`` (structured as ``before``) makes ``change`` (kind, name,
        definition): ``exec`` or ``skip``. Raises :class:`Conflict`."""
        kind, name, text = change
        key = f"{source}:{shard}"
        with self.mutex:
            lock = self._lock(task, target)
            if lock.get("base") is None:  # the first change of any shard: what they started with
                lock["base"] = json.loads(json.dumps(before))
            if lock["down"] is None:
                lock["down"] = json.loads(json.dumps(before))
            if lock["shards"].get(key) is None:
                lock["shards"][key] = json.loads(json.dumps(before))
            own, down = lock["shards"][key], lock["down"]
            part = "cols" if kind.endswith("column") else "idx"
            what = "column" if part == "cols" else "index"
            others = [s for k, s in self._structures(lock).items() if k != key]
            if kind.startswith("add"):
                if name in own[part]:  # a replay
                    action = EXEC if name not in down[part] else SKIP
                elif name in down[part] and down[part][name] != text:
                    raise Conflict(
                        f"{what} `{name}` added as `{text}` on {source} {shard}, but it is "
                        f"`{down[part][name]}` on the other shards"
                    )
                else:
                    action = SKIP if name in down[part] else EXEC
                own[part][name] = text
                down[part][name] = text
            else:
                own[part].pop(name, None)
                keeping = any(name in s[part] for s in others)
                everyone = set(sources) <= set(lock["sources"])
                if keeping or not everyone:
                    if strict:
                        raise Conflict(
                            f"{what} `{name}` dropped on {source} {shard} while other shards still have it "
                            "(strict-optimistic-shard-mode)"
                        )
                    action = SKIP
                else:
                    action = EXEC if name in down[part] else SKIP
                    down[part].pop(name, None)
            self.persist(lock["id"], json.dumps(lock))
            return action

    def remove_task(self, task: str) -> None:
        """A task was stopped: its locks go with it."""
        with self.mutex:
            for lid in [lid for lid, lock in self.locks.items() if lock["task"] == task]:
                del self.locks[lid]
                self.persist(lid, None)

    def pending(self, task: str = "") -> list[tuple[str, str, list[str], list[str]]]:
        """Locks whose shards differ from the target: (ID, task, sources in step, sources not)."""
        out = []
        with self.mutex:
            for lock in self.locks.values():
                if task and lock["task"] != task:
                    continue
                down = lock["down"]
                synced: list[str] = []
                unsynced: list[str] = []
                if down is None:
                    continue
                for key, st in self._structures(lock).items():
                    src = key.split(":", 1)[0]
                    (synced if st == down else unsynced).append(src)
                unsynced = sorted(set(unsynced))
                if unsynced:
                    out.append((lock["id"], lock["task"], sorted(set(synced) - set(unsynced)), unsynced))
        return out


def change_of(kind: str, action: Any) -> tuple[str, str, str] | None:
    """(kind, name, definition) of one ALTER clause the keeper decides, else None."""
    if action.kind == "add column" and len(action.columns) == 1:
        c = action.columns[0]
        return "add column", c.name.lower(), column_text(c)
    if action.kind == "drop column":
        return "drop column", action.name.lower(), ""
    idx = action.index
    if action.kind == "add index" and idx is not None and idx.kind in ("index", "unique") and idx.name:
        return "add index", idx.name.lower(), ",".join(idx.columns).lower()
    if action.kind == "drop index" and action.name and action.name.lower() != "primary":
        return "drop index", action.name.lower(), ""
    return None


def conflict_error(ddl: str, msg: str) -> errors.DMError:
    return errors.ErrSyncerShardDDLConflict([ddl], msg)


class LocalOptimisticClient:
    """An in-process keeper (see :class:`~dmshell.engine.shard.client.LocalClient`)."""

    def __init__(
        self, task: str, source: str, keeper: OptimisticKeeper | None = None, sources: list[str] | None = None
    ) -> None:
        self.task, self.source = task, source
        self.keeper = keeper or OptimisticKeeper()
        self.sources = sources or [source]

    def register(self, target: tuple[str, str], shards: list[str]) -> None:
        self.keeper.register(self.task, self.source, target, shards)

    def decide(
        self,
        target: tuple[str, str],
        shard: str,
        change: tuple[str, str, str],
        before: Structure,
        strict: bool,
    ) -> str:
        return self.keeper.decide(self.task, self.source, target, shard, change, before, self.sources, strict)
