"""``--log-level`` (DM's ``-L``) and ``--log-file`` on ``dmshell daemon`` and ``dmshell worker``."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest
from daemon_helpers import dmshell, wait_for

from dmshell import __version__
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.sandbox import free_port


def read(path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_debug_level_goes_to_the_log_file_and_embedded_workers_inherit_it(daemon_factory, tmp_path):
    log_file = tmp_path / "logs" / "dm-master.log"  # its directory does not exist yet
    d = daemon_factory(workers="1", extra_args=["--log-level", "debug", "--log-file", str(log_file)]).start()
    d.stub.GetClusterInfo(mpb.Empty(), timeout=5)
    wait_for(
        lambda: "DEBUG [daemon] dmshell.daemon.common: rpc /pb.Master/GetClusterInfo" in read(log_file),
        10,
        "the master's debug line",
    )
    assert f"INFO [daemon] dmshell.daemon.process: dmshell daemon {__version__} ready" in read(log_file)
    # the worker logs at the daemon's level, next to the daemon's log file
    worker_log = log_file.parent / "worker1.log"
    wait_for(
        lambda: "DEBUG [worker1] dmshell.daemon.common: rpc /pb.Worker/ApplyState" in read(worker_log), 30
    )
    assert not (d.data_dir / "log" / "worker1.log").exists()
    assert "dmshell" not in read(d.data_dir / "foreground.log")  # nothing logged to stderr


def test_info_is_the_default_level_and_stderr_the_default_file(daemon_factory):
    d = daemon_factory(workers="1").start()
    d.stub.GetClusterInfo(mpb.Empty(), timeout=5)
    worker_log = d.data_dir / "log" / "worker1.log"
    wait_for(lambda: "registered with master" in read(worker_log), 30, "the worker to register")
    stderr = read(d.data_dir / "foreground.log")
    assert f" INFO [daemon] dmshell.daemon.process: dmshell daemon {__version__} ready" in stderr
    assert " DEBUG " not in stderr and " DEBUG " not in read(worker_log)


def test_warn_level_hides_info_lines(daemon_factory, tmp_path):
    log_file = tmp_path / "daemon.log"
    d = daemon_factory(workers="0", extra_args=["-L", "WARN", "--log-file", str(log_file)]).start()
    d.stub.GetClusterInfo(mpb.Empty(), timeout=5)
    d.close()  # kill -9: nothing more is logged
    assert log_file.exists() and " INFO " not in read(log_file) and " DEBUG " not in read(log_file)


@pytest.mark.parametrize("command", [["daemon"], ["worker", "--name", "w1"]])
def test_an_invalid_level_is_refused(command, tmp_path):
    r = dmshell(*command, "--log-level", "verbose", "--data-dir", str(tmp_path / "data"), timeout=30)
    assert r.returncode == 2
    assert (
        "error: argument -L/--log-level: invalid choice: 'verbose' "
        "(choose from 'debug', 'info', 'warn', 'error', 'fatal')" in r.stderr
    )
    assert not (tmp_path / "data").exists()  # refused before anything started


def test_a_standalone_worker_logs_to_its_log_file(daemon_factory, tmp_path):
    d = daemon_factory(workers="0").start()
    log_file = tmp_path / "w.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dmshell",
            "worker",
            "--name",
            "remote1",
            "--join",
            d.addr,
            "--worker-addr",
            "127.0.0.1:0",
            "--data-dir",
            str(tmp_path / "w"),
            "--cluster-secret",  # another data dir: the master's secret proves it is a member
            str(d.data_dir / "cluster.secret"),
            "--log-level",
            "debug",
            "--log-file",
            str(log_file),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for(lambda: "rpc /pb.Worker/ApplyState" in read(log_file), 30, "the worker's debug lines")
        assert "INFO [remote1] dmshell.daemon.worker: registered with master" in read(log_file)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and out == b"" and err == b""  # everything went to the file
    assert "worker remote1 stopped" in read(log_file)


def test_a_detached_daemon_passes_its_log_flags_on(tmp_path):
    data, log_file = tmp_path / "data", tmp_path / "logs" / "daemon.log"
    addr = f"127.0.0.1:{free_port()}"
    args = ["--master-addr", addr, "--data-dir", str(data), "--workers", "0"]
    started = dmshell("daemon", *args, "--detach", "-L", "debug", "--log-file", str(log_file))
    try:
        assert started.returncode == 0, started.stderr
        assert f"log {log_file}" in started.stderr
        wait_for(
            lambda: "DEBUG [daemon] dmshell.daemon.common: rpc /pb.Master/GetClusterInfo" in read(log_file)
        )
        assert not (data / "log" / "daemon.log").exists()
    finally:
        stopped = dmshell("daemon", "stop", "--data-dir", str(data))
    assert stopped.returncode == 0 and "dmshell daemon stopped" in stopped.stdout
    assert "INFO [daemon] dmshell.daemon.process: dmshell daemon stopped" in read(log_file)
