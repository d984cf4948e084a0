"""Fixtures for the TUI tests: the shared fake master (``tests/fake_master.py``) with canned answers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_master import FakeMaster

from dmshell.proto import dmmaster_pb2 as m

from .canned import CLUSTER, TASK_CONFIGS, canned_status


@pytest.fixture
def master() -> Iterator[FakeMaster]:
    """A fake master on a free loopback port: three tasks on two sources (:func:`canned.canned_status`)."""
    fake = FakeMaster()
    fake.set("QueryStatus", canned_status())
    fake.set("GetClusterInfo", CLUSTER)
    fake.set("ListTaskConfigs", m.ListTaskConfigsResponse(result=True, taskConfigs=TASK_CONFIGS))
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()
