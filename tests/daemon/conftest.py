"""Fixtures for the daemon tests (helpers live in ``daemon_helpers``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from daemon_helpers import Daemon


@pytest.fixture
def daemon_factory(tmp_path):
    started: list[Daemon] = []

    def make(
        data_dir: Path | None = None, workers: str = "auto", extra_args: Sequence[str] = (), tls=None
    ) -> Daemon:
        d = Daemon(data_dir or tmp_path / f"data{len(started)}", workers, extra_args=extra_args, tls=tls)
        started.append(d)
        return d

    yield make
    for d in started:
        d.close()
