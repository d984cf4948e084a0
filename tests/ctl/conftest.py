"""dmctl contract tests run against the in-process fake master (tests/fake_master.py)."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fake_master import FakeMaster, fake_master  # noqa: F401  (fixture re-export)

from dmshell.ctl.main import run_command


@dataclass
class Result:
    rc: int
    out: str
    err: str


Dmctl = Callable[..., Result]


@pytest.fixture
def dmctl(fake_master: FakeMaster, monkeypatch: pytest.MonkeyPatch) -> Dmctl:  # noqa: F811
    """Run ``dmctl --master-addr=<fake> <argv>`` in-process; returns exit status, stdout, stderr."""
    monkeypatch.delenv("DM_MASTER_ADDR", raising=False)

    def run(*argv: str, addr: str | None = None, stdin: str | None = None) -> Result:
        out, err = io.StringIO(), io.StringIO()
        args = [f"--master-addr={addr or fake_master.addr}", *argv]
        rc = run_command(args, out=out, err=err, stdin=io.StringIO(stdin) if stdin is not None else None)
        return Result(rc, out.getvalue(), err.getvalue())

    return run
