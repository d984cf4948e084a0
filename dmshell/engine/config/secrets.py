"""The configuration keys that hold secrets, and masking them in free text (logs, errors).

The keys are those declared ``secret=True`` (``database.py``): one declaration masks them in
``get-config`` and every dump (``yamlstrict.encode``) and, through :func:`mask_text`, in log lines.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable

from dmshell.engine import yamlstrict as ys
from dmshell.engine.config.database import DBConfig, SecurityConfig

MASK = "******"

#: YAML names of every secret key
SECRET_KEYS: frozenset[str] = frozenset(
    spec.name for cls in (DBConfig, SecurityConfig) for spec in ys.specs(cls) if spec.secret
)

# `key: value`, `key = value`, `"key": "value"` (YAML, TOML, JSON) and `key=value` (repr) forms
_NAMES = "|".join(
    sorted((re.escape(k) for k in SECRET_KEYS | {k.replace("-", "_") for k in SECRET_KEYS}), key=len)[::-1]
)
_ASSIGN = re.compile(
    r"""(?P<key>["']?(?:""" + _NAMES + r""")["']?\s*[:=]\s*)"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;}\]\)]+)""",
    re.IGNORECASE,
)


def mask_text(text: str) -> str:
    """``text`` with the value of every ``<secret key>: value`` replaced by ``******``."""
    return _ASSIGN.sub(lambda m: m.group("key") + MASK, text)


def _secret_holders(db: DBConfig) -> list[object]:
    return [db] if db.security is None else [db, db.security]


def map_secrets(db: DBConfig, fn: Callable[[str], str]) -> None:
    """Replace, in place, every non-empty secret value of ``db`` (and its ``security``) by ``fn`` of it:
    ``encrypt.decrypt_or_plaintext`` when loading, ``encrypt_or_plaintext`` for ``config export``."""
    for obj in _secret_holders(db):
        for spec in ys.specs(type(obj)):
            value = getattr(obj, spec.attr)
            if spec.secret and value:
                setattr(obj, spec.attr, fn(value))


def copy_db(db: DBConfig) -> DBConfig:
    """A copy of ``db`` whose secrets can be changed without touching ``db``."""
    out = dataclasses.replace(db)
    if db.security is not None:
        out.security = dataclasses.replace(db.security)
    return out
