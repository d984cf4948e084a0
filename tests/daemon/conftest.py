"""Fixtures for the daemon tests (helpers live in ``daemon_helpers``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from daemon_helpers import Daemon


@pytest.fixture
def daemon_factory(tmp_path):
    started: list[Daemon] = []

    def make(data_dir: Path | None = None, workers: str = "auto") -> Daemon:
        d = Daemon(data_dir or tmp_path / f"data{len(started)}", workers)
        started.append(d)
        return d

    yield make
    for d in started:
        d.close()
