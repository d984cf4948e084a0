"""Fixtures for the TUI tests: the shared fake master (``tests/fake_master.py``) with canned answers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from fake_master import FakeMaster

from dmshell.proto import dmmaster_pb2 as m

from .canned import CLUSTER, SOURCE_CONFIGS, TASK_CONFIGS, canned_status


@pytest.fixture(autouse=True)
def hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The TUI reads the user's config file and NO_COLOR/DMSHELL_THEME: keep them out of the tests."""
    monkeypatch.setenv("DMSHELL_CONFIG", os.devnull)
    for name in ("NO_COLOR", "DMSHELL_THEME", "TEXTUAL_THEME", "DM_MASTER_ADDR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    """A fake master on a free loopback port: three tasks on two sources (:func:`canned.canned_status`)."""
    fake = FakeMaster()
    fake.set("QueryStatus", canned_status())
    fake.set("GetClusterInfo", CLUSTER)
    fake.set("ListTaskConfigs", m.ListTaskConfigsResponse(result=True, taskConfigs=TASK_CONFIGS))
    fake.set("ListSourceConfigs", m.ListSourceConfigsResponse(result=True, sourceConfigs=SOURCE_CONFIGS))
    fake.set("ShowDDLLocks", m.ShowDDLLocksResponse(result=True, msg="no DDL lock exists"))
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
