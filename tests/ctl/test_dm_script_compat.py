"""A shell script in DM's integration-test style runs unchanged against a real dmshell daemon.

``tests/ctl/dm_compat/run.sh`` pipes commands into ``dmctl --master-addr=...`` and counts grep
matches in the output the way DM's ``dm/tests`` harness does (``run_dm_ctl``,
``run_dm_ctl_with_retry``, ``run_dm_ctl_cmd_mode``), with DM's expected counts and patterns. Here it
gets a real daemon and the ``mariadb`` fixture's two upstreams and target.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from daemon.daemon_helpers import Daemon

SCRIPT = Path(__file__).parent / "dm_compat" / "run.sh"


def dmctl_command(tmp_path: Path) -> str:
    """The installed ``dmctl`` console script next to this interpreter, else a wrapper running it."""
    installed = Path(sys.executable).parent / "dmctl"
    if installed.exists():
        return str(installed)
    wrapper = tmp_path / "bin" / "dmctl"
    wrapper.parent.mkdir(parents=True, exist_ok=True)
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dmshell.ctl.main "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def test_dm_style_script_runs_unchanged(mariadb, tmp_path: Path) -> None:
    assert shutil.which("mysql") or shutil.which("mariadb"), "the script's run_sql needs a mysql client"
    # two embedded workers from the start: they come up while the script checks argument errors
    daemon = Daemon(tmp_path / "data", workers="2").start()
    try:
        host, port = daemon.addr.rsplit(":", 1)
        skip = ("DM_MASTER_ADDR", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if k not in skip}
        env.update(
            TEST_NAME="dm_compat",
            TEST_DIR=str(tmp_path),
            WORK_DIR=str(tmp_path / "dm_compat"),
            MASTER_HOST=host,
            MASTER_PORT=port,
            MYSQL_PORT1=str(mariadb.up1.port),
            MYSQL_PASSWORD1=mariadb.up1.password,
            MYSQL_PORT2=str(mariadb.up2.port),
            MYSQL_PASSWORD2=mariadb.up2.password,
            TIDB_PORT=str(mariadb.target.port),
            TIDB_PASSWORD=mariadb.target.password,
            DMCTL=dmctl_command(tmp_path),
            # compiled bytecode is kept, as for an installed dmctl (outside the checkout)
            PYTHONPYCACHEPREFIX=str(tmp_path / "pycache"),
        )
        proc = subprocess.run(
            ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=240, check=False
        )
        if proc.returncode != 0:
            status = subprocess.run(
                [env["DMCTL"], f"--master-addr={daemon.addr}", "query-status", "test"],
                capture_output=True, text=True, env=env, timeout=60, check=False,
            )  # fmt: skip
            raise AssertionError(
                f"{proc.stdout[-8000:]}\n--- stderr\n{proc.stderr[-3000:]}\n--- query-status test\n"
                f"{status.stdout}{status.stderr}\n--- daemon\n{daemon.log()}"
            )
        assert "<<<<<< test case dm_compat success! >>>>>>" in proc.stdout
        # every check ran (the harness prints each command)
        assert proc.stdout.count("dmctl test cmd:") >= 45
    finally:
        daemon.close()
