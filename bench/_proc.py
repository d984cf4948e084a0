"""Process-tree measurements from /proc (no third-party dependency)."""

from __future__ import annotations

import os
from pathlib import Path


def children(pid: int) -> list[int]:
    """All descendants of ``pid``."""
    by_parent: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        by_parent.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (VmRSS), 0 if it is gone."""
    return _status_kb(pid, "VmRSS:") * 1024


def peak_rss_bytes(pid: int) -> int:
    """Peak resident set size of one process (VmHWM), 0 if it is gone."""
    return _status_kb(pid, "VmHWM:") * 1024


def tree_rss_bytes(pid: int) -> int:
    return sum(rss_bytes(p) for p in [pid, *children(pid)])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far, all its threads (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and its living descendants."""
    return sum(cpu_seconds(p) for p in [pid, *children(pid)])
