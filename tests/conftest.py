"""Session-wide fixtures: three private MariaDB servers (DESIGN.md, "Tests").

* ``upstream1`` — binlog ROW/FULL image, default ``binlog_row_metadata`` (no column names in row
  events), GTID domain 1; the task uses GTID positions on it.
* ``upstream2`` — same, but ``binlog_row_metadata=FULL``, another server_id and GTID domain.
* ``target`` — no binlog.

They start once per test session in a temp dir on free loopback ports and are removed afterwards,
also on Ctrl-C (pytest runs session finalizers) and at interpreter exit (atexit, as a safety net).
Tests must use their own database names (see ``dbname``) because the servers are shared.
"""

from __future__ import annotations

import atexit
import re
from dataclasses import dataclass

import pytest

from dmshell.sandbox import TARGET, UPSTREAM1, UPSTREAM2, MariaDBServer, Sandbox


@dataclass(frozen=True)
class Cluster:
    up1: MariaDBServer
    up2: MariaDBServer
    target: MariaDBServer


@pytest.fixture(scope="session")
def mariadb() -> Cluster:
    sandbox = Sandbox()
    atexit.register(sandbox.close)
    try:
        up1, up2, target = sandbox.start([UPSTREAM1, UPSTREAM2, TARGET])
        yield Cluster(up1, up2, target)
    finally:
        sandbox.close()


@pytest.fixture
def dbname(request: pytest.FixtureRequest) -> str:
    """A database name unique to this test (safe to create on every server)."""
    base = re.sub(r"[^a-z0-9_]", "_", request.node.name.lower())[:40]
    return f"t_{base}"
