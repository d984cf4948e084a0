"""One SyncUnit in its own process, for the kill -9 tests: ``python sync_child.py '<json>'``.

The JSON gives the upstream and target (host, port, user, password), the database to replicate,
the task name, the start position and the syncer options; with ``relay_dir`` the process also runs
the source's relay there (from the start position's file) and the unit reads through it. Runs until
SIGTERM (then stops cleanly and exits 0); resumable errors are retried like the task checker does;
any other error exits 3.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from dmshell.engine import errors
from dmshell.engine.binlog.location import Location
from dmshell.engine.config.database import DBConfig
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.config.task import Meta
from dmshell.engine.config.units import LoaderConfig, MydumperConfig, SyncerConfig
from dmshell.engine.filters.rule_types import BAList
from dmshell.engine.relay.relay import Relay
from dmshell.engine.sync.syncer import SyncUnit
from dmshell.engine.unit import UnitContext
from dmshell.proto import dmworker_pb2 as pb


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s",
    )
    cfg = SubTaskConfig(
        name=spec["task"],
        task_mode="incremental",
        source_id="mysql-01",
        meta_schema=f"{spec['db']}_meta",
        target=DBConfig(**spec["target"]),
        meta=Meta(binlog_name=spec["file"], binlog_pos=spec["pos"]),
        block_allow_list=BAList(do_dbs=[spec["db"]]),
        routes=[],
        mydumper=MydumperConfig(),
        loader=LoaderConfig(),
        syncer=SyncerConfig(**spec["syncer"]),
    )
    source = SourceConfig(source_id="mysql-01", from_db=DBConfig(**spec["upstream"]))
    ctx = UnitContext(cfg=cfg, source=source, work_dir=Path(spec["work_dir"]), worker_name="child")
    relay = None
    if spec.get("relay_dir"):  # a worker with the source's relay: the unit reads the relay files
        relay = Relay(source, Path(spec["relay_dir"]), lambda: Location(spec["file"], spec["pos"]))
        relay.start()
        while relay.active is None and relay.stage == pb.Running:
            time.sleep(0.01)
        ctx.relay = relay
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    unit = SyncUnit(ctx)
    try:
        while not stop.is_set():
            try:
                unit.process(stop)
            except errors.DMError as err:
                if not err.resumable:
                    print(f"FATAL {err}", file=sys.stderr, flush=True)
                    return 3
                logging.warning("resumable error, retrying: %s", err)
                time.sleep(0.2)
    finally:
        unit.close()
        if relay is not None:
            relay.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
