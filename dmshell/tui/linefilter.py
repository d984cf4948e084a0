"""The ``/`` filter every list in the TUI shares (k9s-style): case-insensitive regex, a substring
when the pattern is not a valid regex, a leading ``!`` inverts."""

from __future__ import annotations

import re
from collections.abc import Callable


def line_filter(pattern: str) -> Callable[[str], bool]:
    """A predicate on lines for ``/`` (case-insensitive regex, else substring; ``!`` inverts)."""
    pattern = pattern.strip()
    invert = pattern.startswith("!")
    pattern = pattern[1:].strip() if invert else pattern
    if not pattern:
        return lambda _line: True
    try:
        rx = re.compile(pattern, re.IGNORECASE)
        found: Callable[[str], bool] = lambda line: bool(rx.search(line))  # noqa: E731
    except re.error:
        needle = pattern.lower()
        found = lambda line: needle in line.lower()  # noqa: E731
    return lambda line: found(line) != invert
