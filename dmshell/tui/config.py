"""The TUI's config file: ``$XDG_CONFIG_HOME/dmshell/config.toml`` (default ``~/.config/...``).

::

    master-addr = "10.0.0.5:8261"   # used when neither --master-addr nor DM_MASTER_ADDR is given
    theme = "dark"                  # dark | light | high-contrast
    read-only = true                # --read-write overrides it for one run
    mouse = false                   # like --no-mouse

Precedence: command-line flag > environment (``DM_MASTER_ADDR``, ``DMSHELL_THEME``) > this file >
built-in default. ``DMSHELL_CONFIG`` or ``--config`` point at another file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

THEME_NAMES = ("dark", "light", "high-contrast")
_KEYS = {"master-addr": str, "theme": str, "read-only": bool, "mouse": bool}


class ConfigError(Exception):
    """The config file is unreadable or wrong; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class TuiConfig:
    """Values from the config file (None = not set there)."""

    path: Path | None = None
    master_addr: str | None = None
    theme: str | None = None
    read_only: bool | None = None
    mouse: bool | None = None


def config_path() -> Path:
    """Where the config file is looked for."""
    if os.environ.get("DMSHELL_CONFIG"):
        return Path(os.environ["DMSHELL_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "dmshell" / "config.toml"


def load_config(path: Path | None = None, *, required: bool = False) -> TuiConfig:
    """Read the config file; a missing file is an empty config unless ``required`` (``--config``)."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"{path}: no such file") from None
        return TuiConfig()
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    values: dict[str, object] = {}
    for key, value in doc.items():
        kind = _KEYS.get(key)
        if kind is None:
            raise ConfigError(f"{path}: unknown key {key!r} (known: {', '.join(_KEYS)})")
        if not isinstance(value, kind):
            raise ConfigError(f"{path}: {key} must be a {'string' if kind is str else 'boolean'}")
        values[key] = value
    theme = values.get("theme")
    if theme is not None and theme not in THEME_NAMES:
        raise ConfigError(f"{path}: theme must be one of {', '.join(THEME_NAMES)}, not {theme!r}")
    return TuiConfig(
        path=path,
        master_addr=_str(values.get("master-addr")),
        theme=_str(theme),
        read_only=_bool(values.get("read-only")),
        mouse=_bool(values.get("mouse")),
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None
