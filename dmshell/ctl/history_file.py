"""Where the dmctl REPL keeps its history; the TUI's ``:`` prompt and console share it (no
prompt-toolkit here: the TUI imports this at start-up)."""

from __future__ import annotations

import os
from pathlib import Path


def history_path() -> Path:
    """``$XDG_STATE_HOME/dmshell/dmctl_history`` (``~/.local/state`` when the variable is unset)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "dmshell" / "dmctl_history"
