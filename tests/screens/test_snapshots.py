"""Snapshot tests of the dashboard and the task detail at 80x24 and 120x40 (fake master, fixed clock)."""

from __future__ import annotations

import pytest

from dmshell.app import DMShellApp
from dmshell.screens.task_detail import TaskDetailScreen

from .canned import wait_for_data, wait_until

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


def _app(master) -> DMShellApp:
    return DMShellApp(master.addr, clock=lambda: 1_700_000_100.0, interval_ms=200)


@pytest.mark.parametrize("size", SIZES)
def test_dashboard(snap_compare, master, size):
    assert snap_compare(_app(master), terminal_size=size, run_before=wait_for_data)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("task", ["shop-merge", "billing"])
def test_task_detail(snap_compare, master, size, task):
    async def open_detail(pilot):
        await wait_for_data(pilot)
        pilot.app.open_task(task)
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, TaskDetailScreen), what="detail screen")
        await pilot.pause()

    assert snap_compare(_app(master), terminal_size=size, run_before=open_detail)
