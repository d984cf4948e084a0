"""What happened to each task, with times: stage changes, errors appearing and clearing, workers
not answering, and the actions the TUI took (the task detail's timeline; ``paused 1m20s``).

Fed with every snapshot (and the daemon's history when a TUI starts mid-incident). Pure Python.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from dmshell.tui.model import Snapshot

#: events kept (all tasks together)
LIMIT = 500


@dataclass(frozen=True, slots=True)
class Event:
    at: float
    task: str
    source: str  # "" for a task-wide event (an action on all sources)
    kind: str  # stage | error | action | worker
    text: str


@dataclass(frozen=True, slots=True)
class _State:
    stage: str
    unit: str
    errors: tuple[int, ...]
    since: float | None  # when this stage began (None: already so when first seen)


class Timeline:
    def __init__(self, limit: int = LIMIT) -> None:
        self._events: deque[Event] = deque(maxlen=limit)
        self._state: dict[tuple[str, str], _State] = {}
        self._silent: set[str] = set()

    def observe(self, snapshot: Snapshot, at: float) -> None:
        """Compare with the previous snapshot; record what changed."""
        seen: set[tuple[str, str]] = set()
        silent = {s.source for s in snapshot.silent_workers()}
        for task in snapshot.tasks:
            for st in task.subtasks:
                key = (task.name, st.source)
                seen.add(key)
                codes = tuple(sorted(e.code for e in st.errors))
                old = self._state.get(key)
                if old is None:
                    self._state[key] = _State(st.stage, st.unit, codes, None)
                    self._add(at, task.name, st.source, "stage", f"{st.stage} in {st.unit} (first seen)")
                    continue
                since = old.since
                if (st.stage, st.unit) != (old.stage, old.unit):
                    was = f"{old.stage} in {old.unit}" if old.unit != st.unit else old.stage
                    self._add(at, task.name, st.source, "stage", f"{was} → {st.stage} in {st.unit}")
                    since = at
                for err in st.errors:
                    if err.code not in old.errors:
                        self._add(at, task.name, st.source, "error", f"{err.header} {err.message}")
                if old.errors and not codes:
                    self._add(at, task.name, st.source, "error", "errors cleared")
                self._state[key] = _State(st.stage, st.unit, codes, since)
        for key in [k for k in self._state if k not in seen and k[1] not in silent]:
            self._add(at, key[0], key[1], "stage", "no longer reported")
            del self._state[key]
        for source in silent - self._silent:
            worker = next((s.worker for s in snapshot.sources if s.source == source), "")
            for name, src in list(self._state):
                if src == source:
                    self._add(at, name, source, "worker", f"worker {worker or '?'} not answering")
        for source in self._silent - silent:
            for name, src in list(self._state):
                if src == source:
                    self._add(at, name, source, "worker", "worker answering again")
        self._silent = silent

    def action(self, at: float, task: str, text: str) -> None:
        self._add(at, task, "", "action", text)

    def _add(self, at: float, task: str, source: str, kind: str, text: str) -> None:
        self._events.append(Event(at, task, source, kind, text))

    def since(self, task: str, source: str) -> float | None:
        """When the subtask entered its current stage (None when it already was when first seen)."""
        state = self._state.get((task, source))
        return state.since if state else None

    def events(self, task: str) -> list[Event]:
        return [e for e in self._events if e.task == task]

    def replay(self, samples: Iterable[tuple[float, Snapshot]]) -> None:
        """Put what the daemon's history shows before what was seen here."""
        earlier = Timeline(self._events.maxlen or LIMIT)
        for at, snapshot in sorted(samples, key=lambda s: s[0]):
            earlier.observe(snapshot, at)
        first_here = min((e.at for e in self._events), default=float("inf"))
        older = [e for e in earlier._events if e.at < first_here]
        here = [e for e in self._events if not (e.text.endswith("(first seen)") and older)]
        self._events = deque([*older, *here], maxlen=self._events.maxlen)
        for key, state in self._state.items():
            before = earlier._state.get(key)
            if state.since is None and before is not None and before.stage == state.stage:
                self._state[key] = _State(state.stage, state.unit, state.errors, before.since)
