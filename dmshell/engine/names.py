"""Names that become file names (task, source ID, worker name) and paths that must stay in a directory.

A task ``a/../../x`` or a source ``..`` would otherwise put a subtask's work directory — and what
``start-task --remove-meta`` deletes — anywhere the daemon can write. DM has no rule of its own for
these names; dmshell allows ``[A-Za-z0-9_.-]``, not starting with a dot, at most 128 characters
(``docs/decisions.md``).
"""

from __future__ import annotations

import re
from pathlib import Path

MAX_NAME = 128
_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


def name_error(kind: str, name: str) -> str:
    """Why ``name`` cannot be a ``kind`` (``task name``, ``source-id``, ``worker name``); "" if it can."""
    if not name:
        return f"{kind} must not be empty"
    if len(name) > MAX_NAME:
        return f"{kind} {name[:40]!r}… is longer than {MAX_NAME} characters"
    if not _NAME.fullmatch(name):
        return (
            f"{kind} {name!r} is not allowed: use letters, digits, '_', '-' and '.', "
            "not starting with '.' (it names a directory)"
        )
    return ""


def inside(base: Path, *parts: str) -> Path:
    """``base / parts`` resolved; raises ValueError when it is not strictly inside ``base``."""
    root = base.resolve()
    path = root.joinpath(*parts).resolve()
    if path == root or root not in path.parents:
        raise ValueError(f"{root.joinpath(*parts)} is outside {root}")
    return path
