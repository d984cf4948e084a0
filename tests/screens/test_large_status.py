"""The TUI's client receives answers larger than gRPC's default 4 MiB (the daemon sends up to 64 MiB)."""

from __future__ import annotations

import queue

from fake_master import FakeMaster

from dmshell.client.master import MasterClient
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb
from dmshell.tui.client import StatusStream, StreamState
from dmshell.tui.dmctl import DmctlRunner

FOUR_MIB = 4 * 1024 * 1024


def big_status() -> mpb.QueryStatusListResponse:
    """Sixty sources whose subtask carries a 100 kB message: about 6 MB."""
    return mpb.QueryStatusListResponse(
        result=True,
        sources=[
            pb.QueryStatusResponse(
                result=True,
                sourceStatus=pb.SourceStatus(source=f"src-{i}", worker=f"w{i}"),
                subTaskStatus=[pb.SubTaskStatus(name="big", stage=pb.Running, msg="x" * 100_000)],
            )
            for i in range(60)
        ],
    )


def test_watch_status_larger_than_4_mib_reaches_the_tui() -> None:
    status = big_status()
    assert status.ByteSize() > FOUR_MIB
    fake = FakeMaster()
    fake.set("QueryStatus", status)
    fake.start()
    arrived: queue.Queue[mpb.QueryStatusListResponse] = queue.Queue()
    states: list[StreamState] = []
    stream = StatusStream(fake.addr, on_status=arrived.put, on_state=states.append, backoff=(30.0,))
    stream.start()
    try:
        assert arrived.get(timeout=20) == status
        assert states == [StreamState(connected=True)]  # no disconnection ("message larger than max")
    finally:
        stream.stop()
        fake.stop()


def test_query_status_larger_than_4_mib_at_the_tui_prompt() -> None:
    status = big_status()
    fake = FakeMaster()
    fake.set("QueryStatus", status)
    fake.start()
    client = MasterClient(fake.addr, 20)
    try:
        result = DmctlRunner(client).run(["query-status", "big"])
        assert result.ok, result.output[:500]
        assert len(result.output) > FOUR_MIB
        assert result.json["sources"][59]["sourceStatus"]["source"] == "src-59"  # type: ignore[index]
    finally:
        client.close()
        fake.stop()
