"""The master's status history (``StatusHistory``) and task log tail (``TaskLog``)."""

from __future__ import annotations

from dmshell.daemon.status_history import StatusHistory
from dmshell.daemon.task_log import task_log
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb


def _status(*tasks: str) -> mpb.QueryStatusListResponse:
    resp = mpb.QueryStatusListResponse(result=True)
    src = resp.sources.add(result=True)
    src.sourceStatus.source = "s1"
    for name in tasks:
        src.subTaskStatus.add(name=name, stage=pb.Running, unit=pb.Sync)
    return resp


def test_history_keeps_the_window_skips_idle_samples_and_filters_by_task():
    now = [1000.0]
    hist = StatusHistory(lambda: _status(), interval=2.0, window=6.0, clock=lambda: now[0])
    hist.record(_status())  # no subtask: not kept
    for _ in range(5):
        hist.record(_status("a", "b"))
        now[0] += 2
    resp = hist.response()
    assert resp.intervalMs == 2000
    assert [s.unixMs for s in resp.samples] == [1_004_000, 1_006_000, 1_008_000]  # the last 6 s
    only_a = hist.response("a")
    assert [st.name for st in only_a.samples[0].status.sources[0].subTaskStatus] == ["a"]


def test_task_log_tails_the_lines_that_mention_the_task(tmp_path):
    (tmp_path / "w1.log").write_text("".join(f"line {i} task=t{i % 2}\n" for i in range(10)))
    resp = task_log(tmp_path, "t1", {"s1": "w1", "s2": "w2"}, lines=2)
    w1, w2 = resp.workers
    assert (w1.worker, list(w1.lines)) == ("w1", ["line 7 task=t1", "line 9 task=t1"])
    assert w2.worker == "w2" and not w2.lines and "not an embedded worker" in w2.msg
