"""The "data age" banner: shown only when the status stream is down or stale."""

from __future__ import annotations

from textual.widgets import Static


class StaleBanner(Static):
    """A one-line warning; hidden while data is fresh."""

    DEFAULT_CSS = """
    StaleBanner {
        height: 1;
        width: 1fr;
        display: none;
        text-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    StaleBanner.-shown {
        display: block;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)

    def show_message(self, message: str) -> None:
        """Show ``message``; an empty message hides the banner."""
        self.set_class(bool(message), "-shown")
        self.update(message)
