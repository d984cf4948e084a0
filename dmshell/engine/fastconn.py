"""The sync unit's old import of :func:`dmshell.engine.db.connect`, which now shares one TLS context
for every connection (what this module used to do for the sync unit only).

Kept only until ``dmshell/engine/sync/dml_exec.py`` imports ``dmshell.engine.db.connect``; then delete it.
"""

from __future__ import annotations

from dmshell.engine.db import connect

__all__ = ["connect"]
