"""Check results in DM's JSON shape (``dm/pkg/checker/checker.go``: ``Result``, ``Error``, ``Summary``).

Only non-success results are listed; a check passes when nothing failed (warnings allowed). The
report is Go's ``json.MarshalIndent(results, "\\t", "\\t")`` of these structures, which dmctl splices
into its output unescaped, so the field names, their order and the omitted empty fields follow DM.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class State(StrEnum):
    SUCCESS = "success"
    FAIL = "fail"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class CheckError:
    """One problem a check found (DM's ``checker.Error``)."""

    severity: State
    short_error: str
    self: str = ""
    other: str = ""
    instruction: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": str(self.severity), "short_error": self.short_error}
        for key in ("self", "other", "instruction"):  # Go's `omitempty`
            if value := getattr(self, key):
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one check item on one database (DM's ``checker.Result``).

    Items build it with :meth:`success`, :meth:`fail` or :meth:`warn`; the runner fills in
    ``id``, ``name``, ``desc`` and, for a per-source item, ``extra`` (the source's address).
    """

    state: State
    errors: tuple[CheckError, ...] = ()
    instruction: str = ""
    extra: str = ""
    id: int = 0
    name: str = ""
    desc: str = ""

    @classmethod
    def success(cls, extra: str = "") -> Result:
        return cls(State.SUCCESS, extra=extra)

    @classmethod
    def fail(cls, short_error: str, instruction: str = "", extra: str = "") -> Result:
        return cls(State.FAIL, (CheckError(State.FAIL, short_error),), instruction, extra)

    @classmethod
    def warn(cls, short_error: str, instruction: str = "", extra: str = "") -> Result:
        return cls(State.WARN, (CheckError(State.WARN, short_error),), instruction, extra)

    @classmethod
    def of(cls, errors: list[CheckError], instruction: str = "", extra: str = "") -> Result:
        """A result with several problems: failed if one of them is a failure, warned if one is a
        warning, else successful."""
        severities = {e.severity for e in errors}
        state = State.FAIL if State.FAIL in severities else State.WARN if errors else State.SUCCESS
        return cls(state, tuple(errors), instruction if errors else "", extra)

    def named(self, id: int, name: str, desc: str, extra: str) -> Result:
        """The result numbered and named; a name, description or extra it set itself is kept."""
        return dataclasses.replace(
            self, id=id, name=self.name or name, desc=self.desc or desc, extra=self.extra or extra
        )

    def called(self, name: str, desc: str = "") -> Result:
        """The result under its own name (an item reporting on several objects, as DM's
        ``sharding table `db`.`tbl` consistency checking``)."""
        return dataclasses.replace(self, name=name, desc=desc)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "desc": self.desc, "state": str(self.state)}
        if self.errors:
            out["errors"] = [e.to_dict() for e in self.errors]
        if self.instruction:
            out["instruction"] = self.instruction
        if self.extra:
            out["extra"] = self.extra
        return out


@dataclass(slots=True)
class Results:
    """Every item's result and DM's summary (``checker.Results``)."""

    all: list[Result] = field(default_factory=list)

    def count(self, state: State) -> int:
        return sum(1 for r in self.all if r.state == state)

    @property
    def passed(self) -> bool:
        return self.count(State.FAIL) == 0

    def listed(self, err_cnt: int, warn_cnt: int) -> list[Result]:
        """The results DM shows (``checker.Process``): failures and warnings only, with at most
        ``err_cnt`` failed and ``warn_cnt`` warned problems (``check-task --error/--warn``); a
        result without problems counts as one, a result whose problems are all cut is left out."""
        room = {State.FAIL: err_cnt, State.WARN: warn_cnt}
        out = []
        for r in self.all:
            if r.state == State.SUCCESS:
                continue
            if not r.errors:
                if room.get(r.state, 0) > 0:
                    room[r.state] -= 1
                    out.append(r)
                continue
            kept = []
            for e in r.errors:
                if room.get(e.severity, 0) > 0:
                    room[e.severity] -= 1
                    kept.append(e)
            if kept:
                out.append(dataclasses.replace(r, errors=tuple(kept)))
        return out

    def to_json(self, err_cnt: int, warn_cnt: int) -> str:
        """Go's ``json.MarshalIndent(results, "\\t", "\\t")``, as DM puts it in the check message."""
        doc = {
            "results": [r.to_dict() for r in self.listed(err_cnt, warn_cnt)],
            "summary": {
                "passed": self.passed,
                "total": len(self.all),
                "successful": self.count(State.SUCCESS),
                "failed": self.count(State.FAIL),
                "warning": self.count(State.WARN),
            },
        }
        text = json.dumps(doc, indent="\t", ensure_ascii=False).replace("\n", "\n\t")
        # Go escapes these inside strings (they can occur nowhere else in JSON)
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
