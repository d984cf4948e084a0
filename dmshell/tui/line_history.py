"""The command-line history the ``:`` prompt and the console share with the dmctl REPL: the REPL's
history file (secrets redacted, mode 0600), read when the TUI starts, appended on every line."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class LineHistory(list[str]):
    """A list of lines (oldest first) that also appends each new line to a history file."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        #: the file; None keeps the lines in memory (tests)
        self.path = path
        self._file: Any = None

    def load(self) -> list[str]:
        """Open the file; its lines, oldest first (prompt-toolkit's format, as the REPL writes it).
        Called from a thread: it imports prompt-toolkit."""
        if self.path is None:
            return []
        from dmshell.ctl.repl import RedactingHistory

        self._file = RedactingHistory(self.path)
        return list(reversed(list(self._file.load_history_strings())))

    def append(self, line: str) -> None:
        super().append(line)
        if self._file is not None:
            self._file.append_string(line)
