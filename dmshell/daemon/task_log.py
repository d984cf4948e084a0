"""``TaskLog``: the last lines of an embedded worker's log that mention a task (the TUI's ``l``)."""

from __future__ import annotations

from pathlib import Path

from dmshell.proto import dmmaster_pb2 as mpb

#: bytes read from the end of a log file (enough for a few thousand lines)
TAIL_BYTES = 1 << 20
DEFAULT_LINES = 100


def tail_mentioning(path: Path, needle: str, lines: int) -> list[str]:
    """The last ``lines`` lines of ``path`` (its last :data:`TAIL_BYTES`) containing ``needle``."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - TAIL_BYTES))
        data = f.read().decode("utf-8", "replace")
    hits = [line for line in data.splitlines() if needle in line]
    return hits[-lines:]


def task_log(log_dir: Path | None, task: str, workers: dict[str, str], lines: int = 0) -> mpb.TaskLogResponse:
    """``workers``: source → worker name. Embedded workers log to ``<log dir>/<worker>.log``."""
    resp = mpb.TaskLogResponse(result=True)
    lines = lines or DEFAULT_LINES
    for worker in sorted(set(workers.values())):
        entry = resp.workers.add(worker=worker)
        path = log_dir / f"{worker}.log" if log_dir else None
        if path is None or not path.is_file():
            entry.msg = f"no log of {worker} on the master's host (not an embedded worker?)"
            continue
        entry.file = str(path)
        entry.lines.extend(tail_mentioning(path, task, lines))
    return resp
