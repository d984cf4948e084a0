"""Cell formatting shared by the screens: stages, lag, rates, badges, progress bars.

Colour always comes with a word (``ok``/``slow``/``BEHIND``, ``ERR 2``, ``PAUSED``), so the
screens stay readable with ``NO_COLOR`` (Textual then renders in monochrome). Colours are taken
from the active Textual theme, so ``--theme`` changes them too.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

#: Lag thresholds in seconds (dolphie's replication panel: green < 10 s, yellow < 20 s, red).
LAG_SLOW = 10
LAG_BEHIND = 20


@dataclass(frozen=True, slots=True)
class Palette:
    """The few colours the tables use, resolved from a theme."""

    ok: str = "green"
    warn: str = "yellow"
    bad: str = "red"
    muted: str = "bright_black"
    accent: str = "cyan"

    @classmethod
    def from_theme(cls, theme: object) -> Palette:
        """Build from a ``textual.theme.Theme`` (missing colours fall back to the defaults)."""
        base = cls()

        def pick(name: str, default: str) -> str:
            value = getattr(theme, name, None)
            return value if isinstance(value, str) and value else default

        return cls(ok=pick("success", base.ok), warn=pick("warning", base.warn), bad=pick("error", base.bad),
                   muted=base.muted, accent=pick("accent", base.accent))


def stage_text(status: str, palette: Palette) -> Text:
    """A task/subtask stage; DM's ``Error - ...`` status is shortened to ``Error``."""
    if status.startswith("Error"):
        return Text("Error", style=f"bold {palette.bad}")
    style = {
        "Running": palette.ok, "Finished": palette.ok, "Paused": f"bold {palette.warn}",
        "Pausing": palette.warn, "Resuming": palette.warn, "Stopping": palette.warn,
        "Stopped": palette.muted, "New": palette.muted,
    }.get(status, "")
    return Text(status or "—", style=style)


def lag_word(seconds: int) -> str:
    if seconds < LAG_SLOW:
        return "ok"
    if seconds < LAG_BEHIND:
        return "slow"
    return "BEHIND"


def lag_text(seconds: int | None, palette: Palette) -> Text:
    """``3s ok`` / ``14s slow`` / ``25s BEHIND``; ``—`` when there is no sync unit."""
    if seconds is None:
        return Text("—", style=palette.muted)
    word = lag_word(seconds)
    color = {"ok": palette.ok, "slow": palette.warn}.get(word, f"bold {palette.bad}")
    return Text(f"{human_seconds(seconds)} {word}", style=color)


def human_seconds(seconds: int) -> str:
    """``45s``, ``12m05s``, ``3h02m``, ``2d04h``."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def rate_text(rows_per_sec: int | None) -> Text:
    if rows_per_sec is None:
        return Text("—", justify="right")
    return Text(f"{rows_per_sec:,}", justify="right")


def error_badge(count: int, palette: Palette) -> Text:
    """``ERR 2`` in the error colour, or nothing."""
    if not count:
        return Text("")
    return Text(f"ERR {count}", style=f"bold reverse {palette.bad}")


def progress_bar(fraction: float | None, width: int = 20) -> str:
    """A text progress bar ``█████░░░░░  50.0%`` (no time, so snapshots stay stable)."""
    if fraction is None:
        return "░" * width + "     ?"
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled) + f" {100 * fraction:5.1f}%"


def dim_position(binlog: str, gtid: str, palette: Palette) -> Text:
    """``(mysql-bin.000003, 1234)`` plus the GTID set, dimmed, when there is one."""
    text = Text(binlog or "—")
    if gtid:
        text.append(f"  gtid {gtid}", style=palette.muted)
    return text
