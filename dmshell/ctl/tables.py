"""``--output table`` and ``--output plain``: dmctl results for people and for grep (beyond DM).

Both take the JSON value tree DM would print (:func:`dmshell.ctl.output.to_dm_obj` or a result
dict). ``plain`` prints one ``path: value`` line per scalar (``sources[0].subTaskStatus[0].stage:
Running``). ``table`` prints the top-level ``result``/``msg`` and one aligned table per list of
objects, with purpose-made columns for task status, members and DDL locks.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


def render(obj: Any, fmt: str) -> str:
    """``obj`` as ``table`` or ``plain`` text (ends with a newline)."""
    if fmt == "plain":
        return "".join(f"{path}: {_scalar(v)}\n" for path, v in _flatten(obj, ""))
    return _table(obj)


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    return str(v)


def _flatten(obj: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _flatten(v, f"{prefix}[{i}]")
    else:
        yield prefix, obj


def _grid(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


def _head(obj: dict[str, Any]) -> str:
    out = []
    for k in ("result", "msg"):
        if k in obj and (k == "result" or obj[k]):
            out.append(f"{k}: {_scalar(obj[k])}\n")
    return "".join(out)


def _first_error(result: Any) -> str:
    if isinstance(result, dict) and result.get("errors"):
        e = result["errors"][0]
        return f"[{e.get('ErrCode')}] {e.get('Message') or e.get('RawCause', '')}".splitlines()[0]
    return ""


def _table(obj: Any) -> str:
    if not isinstance(obj, dict):
        return _scalar(obj) + "\n"
    out = _head(obj)
    if isinstance(obj.get("tasks"), list) and all("taskName" in t for t in obj["tasks"]):
        rows = [
            [t.get("taskName", ""), t.get("taskStatus", ""), ",".join(t.get("sources", []))]
            for t in obj["tasks"]
        ]
        return out + _grid(["TASK", "STATUS", "SOURCES"], rows)
    sources = obj.get("sources")
    if (
        isinstance(sources, list)
        and sources
        and isinstance(sources[0], dict)
        and "subTaskStatus" in sources[0]
    ):
        return out + _status_table(sources)
    members = obj.get("members")
    if isinstance(members, list):
        return out + _members_table(members)
    locks = obj.get("locks")
    if isinstance(locks, list):
        rows = [
            [lk["ID"], lk["task"], lk["mode"], lk["owner"], ",".join(lk["synced"]), ",".join(lk["unsynced"])]
            for lk in locks
        ]
        return out + _grid(["ID", "TASK", "MODE", "OWNER", "SYNCED", "UNSYNCED"], rows)
    scalars = {k: v for k, v in obj.items() if k not in ("result", "msg") and not isinstance(v, list | dict)}
    out += "".join(f"{k}: {_scalar(v)}\n" for k, v in scalars.items())
    for k, v in obj.items():
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            cols: list[str] = []
            for x in v:
                cols += [c for c in x if c not in cols]
            out += _grid([c.upper() for c in cols], [[_scalar(x.get(c, "")) for c in cols] for x in v])
        elif isinstance(v, list | dict) and v:
            out += f"{k}: {_scalar(v)}\n"
    return out


def _status_table(sources: list[dict[str, Any]]) -> str:
    rows = []
    for s in sources:
        st = s.get("sourceStatus") or {}
        subtasks = s.get("subTaskStatus") or []
        if not subtasks:
            rows.append([st.get("source", ""), st.get("worker", ""), "", "", "", "", "", s.get("msg", "")])
        for sub in subtasks:
            progress = lag = ""
            if sub.get("sync"):
                lag = f"{sub['sync'].get('secondsBehindMaster', '0')}s"
                progress = "synced" if sub["sync"].get("synced") else sub["sync"].get("syncerBinlog", "")
            elif sub.get("load"):
                progress = sub["load"].get("progress", "")
            elif sub.get("dump"):
                progress = sub["dump"].get("progress", "")
            error = _first_error(sub.get("result")) or sub.get("msg", "") or s.get("msg", "")
            rows.append(
                [
                    st.get("source", ""),
                    st.get("worker", ""),
                    sub.get("name", ""),
                    sub.get("stage", ""),
                    sub.get("unit", ""),
                    progress,
                    lag,
                    error,
                ]
            )
    return _grid(["SOURCE", "WORKER", "TASK", "STAGE", "UNIT", "PROGRESS", "LAG", "ERROR"], rows)


def _members_table(members: list[dict[str, Any]]) -> str:
    rows = []
    for m in members:
        if m.get("leader"):
            rows.append(["leader", m["leader"].get("name", ""), m["leader"].get("addr", ""), "", ""])
        for master in (m.get("master") or {}).get("masters", []):
            rows.append(
                [
                    "master",
                    master.get("name", ""),
                    ",".join(master.get("clientURLs", [])),
                    "alive" if master.get("alive") else "offline",
                    "",
                ]
            )
        for w in (m.get("worker") or {}).get("workers", []):
            rows.append(
                ["worker", w.get("name", ""), w.get("addr", ""), w.get("stage", ""), w.get("source", "")]
            )
    return _grid(["ROLE", "NAME", "ADDR", "STAGE", "SOURCE"], rows)
