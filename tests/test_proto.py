"""The generated gRPC code is reproducible from the .proto files with one command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENERATED = [
    "dmmaster_pb2.py",
    "dmmaster_pb2.pyi",
    "dmmaster_pb2_grpc.py",
    "dmworker_pb2.py",
    "dmworker_pb2.pyi",
    "dmworker_pb2_grpc.py",
]


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run([str(ROOT / "scripts" / "gen-proto"), str(tmp_path)], check=True, env=env)
    for name in GENERATED:
        fresh = (tmp_path / "dmshell" / "proto" / name).read_text()
        committed = (ROOT / "dmshell" / "proto" / name).read_text()
        assert fresh == committed, f"{name} is stale: run `make proto`"


def test_dm_field_names_are_kept() -> None:
    """dmctl's JSON is DM's JSON only if the proto keeps DM's field names verbatim."""
    from dmshell.proto import dmworker_pb2 as pb

    names = [f.name for f in pb.ProcessError.DESCRIPTOR.fields]
    assert names == ["ErrCode", "ErrClass", "ErrScope", "ErrLevel", "Message", "RawCause", "Workaround"]
    sub = [f.name for f in pb.SubTaskStatus.DESCRIPTOR.fields]
    assert sub[:5] == ["name", "stage", "unit", "result", "unresolvedDDLLockID"]
    assert pb.Stage.Value("Finished") == 5 and pb.UnitType.Value("Relay") == 100
