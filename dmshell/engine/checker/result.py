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

    def named(self, id: int, name: str, desc: str, extra: str) -> Result:
        return dataclasses.replace(self, id=id, name=name, desc=desc, extra=self.extra or extra)

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
        """The results DM shows: failures and warnings only, at most ``err_cnt``/``warn_cnt`` of each
        (``check-task --error/--warn``)."""
        room = {State.FAIL: err_cnt, State.WARN: warn_cnt}
        out = []
        for r in self.all:
            if room.get(r.state, 0) > 0:
                room[r.state] -= 1
                out.append(r)
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
