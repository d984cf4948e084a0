"""Session-wide fixtures: three private MariaDB servers (README.md, "Tests").

* ``upstream1`` — binlog ROW/FULL image, default ``binlog_row_metadata`` (no column names in row
  events), GTID domain 1; the task uses GTID positions on it.
* ``upstream2`` — same, but ``binlog_row_metadata=FULL``, another server_id and GTID domain.
* ``target`` — no binlog.

They start once per test session in a temp dir on free loopback ports and are removed afterwards,
also on Ctrl-C (pytest runs session finalizers) and at interpreter exit (atexit, as a safety net).
Tests must use their own database names (see ``dbname``) because the servers are shared.

Every test that needs them — through the ``mariadb`` fixture, directly or by way of other fixtures,
or by starting a real daemon — is marked ``mariadb`` here; ``make unit`` runs the others
(``pytest -m "not mariadb"``), which must start no server: an unmarked test that tries fails.
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


#: fixtures that start the MariaDB servers, or a daemon that works with them
SERVER_FIXTURES = frozenset({"mariadb", "daemon_factory"})


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.mariadb)


@pytest.fixture(autouse=True)
def _no_server_unless_marked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep ``make unit`` honest: a test not marked ``mariadb`` cannot start a MariaDB server."""
    if request.node.get_closest_marker("mariadb") is None:

        def refuse(server: MariaDBServer, *args: object, **kwargs: object) -> None:
            raise AssertionError(f"{request.node.nodeid} starts MariaDB: mark it @pytest.mark.mariadb")

        monkeypatch.setattr(MariaDBServer, "start", refuse)


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
