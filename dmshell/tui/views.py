"""The TUI's views (Textual modes) and their keys; no Textual here, so the palette and the app share it."""

from __future__ import annotations

#: view name → (key, label); 4 and 5 hold the DDL-lock and error screens.
VIEWS: dict[str, tuple[str, str]] = {
    "dashboard": ("1", "Dashboard"),
    "sources": ("2", "Sources"),
    "console": ("3", "Console"),
    "ddl-locks": ("4", "DDL locks"),
    "errors": ("5", "Errors"),
}
