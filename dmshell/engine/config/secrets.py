"""The configuration keys that hold secrets, and masking them in free text (logs, errors).

The keys are those declared ``secret=True`` (``database.py``): one declaration masks them in
``get-config`` and every dump (``yamlstrict.encode``) and, through :func:`mask_text`, in log lines.
"""

from __future__ import annotations

import re

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
