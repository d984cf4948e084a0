"""Cell formatting shared by the screens: stages, lag, rates, badges, progress bars.

Colour always comes with a word (``ok``/``slow``/``BEHIND``, ``ERR 2``, ``PAUSED``), so the
screens stay readable with ``NO_COLOR`` (Textual then renders in monochrome). Colours are taken
from the active Textual theme, so ``--theme`` changes them too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.text import Text

from dmshell.tui.history import Graphable, Series

if TYPE_CHECKING:
    from rich.syntax import Syntax

#: Lag thresholds in seconds (dolphie's replication panel: green < 10 s, yellow < 20 s, red).
LAG_SLOW = 10
LAG_BEHIND = 20
#: rows/s a full bar stands for at least (a steady 2 rows/s must not fill the graph)
RATE_FLOOR = 10


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

        return cls(
            ok=pick("success", base.ok),
            warn=pick("warning", base.warn),
            bad=pick("error", base.bad),
            muted=base.muted,
            accent=pick("accent", base.accent),
        )


def stage_text(status: str, palette: Palette) -> Text:
    """A task/subtask stage; DM's ``Error - ...`` status is shortened to ``Error``."""
    if status.startswith("Error"):
        return Text("Error", style=f"bold {palette.bad}")
    style = {
        "Running": palette.ok,
        "Finished": palette.ok,
        "Paused": f"bold {palette.warn}",
        "Pausing": palette.warn,
        "Resuming": palette.warn,
        "Stopping": palette.warn,
        "Stopped": palette.muted,
        "New": palette.muted,
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


def human_seconds(seconds: float) -> str:
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


SPARK_BARS = "▁▂▃▄▅▆▇█"


def text_sparkline(values: Graphable, width: int, *, floor: float = 0.0) -> str:
    """One line of ``▁▂▃▅█`` bars (see :func:`graph_lines`); a steady small lag stays low because
    the scale starts at ``floor``."""
    lines = graph_lines(values, width, 1, floor=floor)
    return lines[0] if lines else ""


def human_bytes(n: float) -> str:
    """``512B``, ``1.5KiB``, ``12.0MiB``, ``3.2GiB``."""
    value = float(max(n, 0))
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}TiB"  # pragma: no cover - the loop always returns


def eta_text(seconds: int | None) -> str:
    """``ETA 4m10s`` or ``ETA ?`` when the rate is unknown."""
    return "ETA ?" if seconds is None else f"ETA {human_seconds(seconds)}"


_MARIADB_GTID = re.compile(r"^(\d+)-(\d+)-(\d+)$")
_MYSQL_GTID = re.compile(r"^([0-9a-fA-F-]{36}):(.+)$")


def gtid_entries(gtid: str) -> list[tuple[str, str, int]]:
    """Split a GTID set into ``(entry text, origin id, last sequence)``: the origin is MariaDB's
    ``domain-server`` or MySQL's server UUID."""
    out: list[tuple[str, str, int]] = []
    for raw in gtid.replace("\n", "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        if m := _MARIADB_GTID.match(entry):
            out.append((entry, f"{m.group(1)}-{m.group(2)}", int(m.group(3))))
        elif m := _MYSQL_GTID.match(entry):
            ends = [int(last) for part in m.group(2).split(":") if (last := part.split("-")[-1]).isdigit()]
            out.append((entry, m.group(1).lower(), max(ends, default=0)))
        else:
            out.append((entry, entry, 0))
    return out


def upstream_origin(gtid: str) -> str:
    """The origin that wrote the most transactions (the upstream itself, in a set that also carries
    the ids of former primaries); ``""`` for an empty set."""
    entries = gtid_entries(gtid)
    return max(entries, key=lambda e: e[2])[1] if entries else ""


def gtid_text(gtid: str, palette: Palette, origin: str = "") -> Text:
    """A GTID set with the upstream's own entry highlighted and the others dimmed."""
    origin = origin or upstream_origin(gtid)
    text = Text()
    for i, (entry, entry_origin, _) in enumerate(gtid_entries(gtid)):
        if i:
            text.append(",", style=palette.muted)
        if entry_origin == origin:
            # the origin part (server id / UUID) is what the DBA looks for: underline it
            sep = "-" if ":" not in entry else ":"
            head, _, tail = entry.rpartition("-") if sep == "-" else entry.partition(":")
            text.append(head, style=f"bold underline {palette.accent}")
            text.append(sep + tail, style=f"bold {palette.accent}")
        else:
            text.append(entry, style=palette.muted)
    return text


def position_text(binlog: str, gtid: str, palette: Palette, origin: str = "") -> Text:
    """``(mysql-bin.000003, 1234)`` and, when there is one, the GTID set (upstream id highlighted)."""
    text = Text(binlog or "—")
    if gtid:
        text.append("  gtid ", style=palette.muted)
        text.append_text(gtid_text(gtid, palette, origin))
    return text


def graph_lines(values: Graphable, width: int, height: int = 1, *, floor: float = 0.0) -> list[str]:
    """A ``height``-line bar graph, newest on the right: a :class:`Series` is compressed into
    ``width`` columns covering its whole window; plain values are one per column (the last
    ``width``). Scaled from 0 to ``max(values, floor)``. A zero is the baseline ``▁``, any value
    above zero at least ``▂`` (so zero and small differ), and a gap (``None``) stays blank."""
    if width <= 0 or height <= 0:
        return []
    recent = values.columns(width) if isinstance(values, Series) else list(values)[-width:]
    top = graph_top(recent, floor)
    levels = 8 * height
    cols = [None if v is None else 0 if v <= 0 else max(2, round(v / top * levels)) for v in recent]
    lines = []
    for row in range(height):
        base = (height - 1 - row) * 8
        chars = []
        for level in cols:
            if level is None:
                chars.append(" ")
            elif level >= base + 8:
                chars.append("█")
            elif level > base:
                chars.append(SPARK_BARS[level - base - 1])
            else:
                chars.append("▁" if row == height - 1 else " ")
        lines.append("".join(chars).rjust(width))
    return lines


def graph_top(values: Iterable[float | None], floor: float = 0.0) -> float:
    """The value a full bar stands for (the graph's scale)."""
    return max([floor, *(v for v in values if v is not None)]) or 1.0


def yaml_text(text: str, *, dark: bool = True) -> Syntax:
    """YAML highlighted with the terminal's own colours (rich's Syntax, imported on first use so the
    TUI starts fast)."""
    from rich.syntax import Syntax

    return Syntax(
        text.rstrip("\n"),
        "yaml",
        theme="ansi_dark" if dark else "ansi_light",
        background_color="default",
        word_wrap=True,
    )
