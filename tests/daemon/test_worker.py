"""The worker's subtask manager in-process: DM-worker's query-status answers, reconciliation to the
pushed state, a subtask that cannot be built, and --remove-meta wiping local files once per run."""

from __future__ import annotations

import time

from dmshell.daemon.worker import SubTaskManager, prepare_work_dir
from dmshell.proto import dmworker_pb2 as pb

TASK_ON_S2 = """\
name: t1
task-mode: incremental
target-database: {host: 127.0.0.1, port: 1, user: root, password: secret}
mysql-instances:
  - source-id: s2
"""
SOURCE = "source-id: s1\nfrom:\n  host: 127.0.0.1\n  port: 1\n  user: root\n  password: secret\n"


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.02)
    raise AssertionError("timed out")


def test_remove_meta_wipes_local_files_once_per_start_id(tmp_path):
    work = tmp_path / "t.s1"
    prepare_work_dir(work, "run-1", remove_meta=True)
    (work / "dump").mkdir()
    (work / "dump" / "metadata").write_text("x")
    prepare_work_dir(work, "run-1", remove_meta=True)  # same run (e.g. a worker restart): kept
    assert (work / "dump" / "metadata").exists()
    prepare_work_dir(work, "run-2", remove_meta=False)  # a new run without --remove-meta: kept
    assert (work / "dump" / "metadata").exists()
    prepare_work_dir(work, "run-3", remove_meta=True)  # a new run with --remove-meta: wiped
    assert [p.name for p in work.iterdir()] == [".start-id"]
    assert (work / ".start-id").read_text().strip() == "run-3"


def test_query_status_and_reconciliation(tmp_path):
    m = SubTaskManager("worker9", tmp_path)
    try:
        free = m.query_status()
        assert not free.result and free.sourceStatus.worker == "worker9"
        assert free.msg == (
            "[code=40070:class=dm-worker:scope=internal:level=high], "
            "Message: no mysql source is being handled in the worker"
        )

        m.apply(pb.WorkerState(source="s1", sourceConfig=SOURCE))
        bound = wait_for(lambda: (r := m.query_status()).result and r)
        assert (bound.sourceStatus.source, bound.msg, list(bound.subTaskStatus)) == (
            "s1",
            "no sub task started",
            [],
        )

        # a task whose configuration does not include this source: Paused with the error, worker fine
        spec = pb.SubTaskSpec(name="t1", task=TASK_ON_S2, expectStage=pb.Running, startId="a")
        m.apply(pb.WorkerState(source="s1", sourceConfig=SOURCE, subtasks=[spec]))
        st = wait_for(lambda: next(iter(m.query_status().subTaskStatus), None))
        assert st.name == "t1" and st.stage == pb.Paused
        assert st.result.errors[0].Message == "source s1 in deployment configuration not found"
        assert m.query_status("nope").subTaskStatus[0].msg == "no sub task with name nope has started"
        assert [s.name for s in m.query_status("t1").subTaskStatus] == ["t1"]

        # pause-task bumps the revision: the broken subtask is marked canceled
        spec.stageRevision, spec.expectStage = 1, pb.Paused
        m.apply(pb.WorkerState(source="s1", sourceConfig=SOURCE, subtasks=[spec]))
        wait_for(lambda: m.query_status().subTaskStatus[0].result.isCanceled)

        # stop-task: the subtask disappears; unbinding: no source any more
        m.apply(pb.WorkerState(source="s1", sourceConfig=SOURCE))
        wait_for(lambda: m.query_status().msg == "no sub task started")
        m.apply(pb.WorkerState())
        wait_for(lambda: not m.query_status().result)
    finally:
        m.shutdown(timeout=10)
