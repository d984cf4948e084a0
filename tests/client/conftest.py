"""Client-layer tests run against the in-process fake master (tests/fake_master.py)."""

from __future__ import annotations

from fake_master import fake_master  # noqa: F401  (fixture re-export)
