"""DM's JSON rendering: gogo jsonpb (EmitDefaults, 4-space indent) and encoding/json."""

from __future__ import annotations

import base64

import pytest

from dmshell.ctl.commands.task import wrap_task_result
from dmshell.ctl.invocation import pb_json
from dmshell.ctl.output import go_float, go_string, marshal_indent, omitempty, to_dm_json, to_dm_obj
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb

ERR_MSG = (
    "startLocation: [position: (mysql-bin.000002, 4980), gtid-set: 6f1b:1-25], endLocation: [position: "
    "(mysql-bin.000002, 5110), gtid-set: 6f1b:1-26], origin SQL: [alter table handle_error.tb1 modify id "
    "varchar(10)]: execute statement failed: ALTER TABLE `handle_error`.`tb` MODIFY COLUMN `id` VARCHAR(10)"
)


def paused_sync_status() -> mpb.QueryStatusListResponse:
    """The query-status example of anchor-dm.md §3.4."""
    error = pb.ProcessError(
        ErrCode=10006,
        ErrClass="database",
        ErrScope="downstream",
        ErrLevel="high",
        Message=ERR_MSG,
        RawCause="Error 8200 (HY000): Unsupported modify column",
        Workaround="",
    )
    sync = pb.SyncStatus(
        totalEvents=12,
        masterBinlog="(mysql-bin.000002, 5693)",
        masterBinlogGtid="6f1b:1-27",
        syncerBinlog="(mysql-bin.000002, 4980)",
        syncerBinlogGtid="6f1b:1-25",
        synced=False,
        binlogType="local",
        totalRows=12,
    )
    relay = pb.RelayStatus(
        masterBinlog="(mysql-bin.000002, 5693)",
        masterBinlogGtid="6f1b:1-27",
        relaySubDir="6f1b.000001",
        relayBinlog="(mysql-bin.000002, 5693)",
        relayBinlogGtid="6f1b:1-27",
        relayCatchUpMaster=True,
        stage=pb.Running,
    )
    sub = pb.SubTaskStatus(
        name="test", stage=pb.Paused, unit=pb.Sync, result=pb.ProcessResult(errors=[error]), sync=sync
    )
    source = pb.QueryStatusResponse(
        result=True,
        sourceStatus=pb.SourceStatus(source="mysql-replica-01", worker="worker1", relayStatus=relay),
        subTaskStatus=[sub],
    )
    return mpb.QueryStatusListResponse(result=True, sources=[source])


EXPECTED_QUERY_STATUS = """{
    "result": true,
    "msg": "",
    "sources": [
        {
            "result": true,
            "msg": "",
            "sourceStatus": {
                "source": "mysql-replica-01",
                "worker": "worker1",
                "result": null,
                "relayStatus": {
                    "masterBinlog": "(mysql-bin.000002, 5693)",
                    "masterBinlogGtid": "6f1b:1-27",
                    "relaySubDir": "6f1b.000001",
                    "relayBinlog": "(mysql-bin.000002, 5693)",
                    "relayBinlogGtid": "6f1b:1-27",
                    "relayCatchUpMaster": true,
                    "stage": "Running",
                    "result": null
                }
            },
            "subTaskStatus": [
                {
                    "name": "test",
                    "stage": "Paused",
                    "unit": "Sync",
                    "result": {
                        "isCanceled": false,
                        "errors": [
                            {
                                "ErrCode": 10006,
                                "ErrClass": "database",
                                "ErrScope": "downstream",
                                "ErrLevel": "high",
                                "Message": "MESSAGE",
                                "RawCause": "Error 8200 (HY000): Unsupported modify column",
                                "Workaround": ""
                            }
                        ],
                        "detail": null
                    },
                    "unresolvedDDLLockID": "",
                    "sync": {
                        "totalEvents": "12",
                        "totalTps": "0",
                        "recentTps": "0",
                        "masterBinlog": "(mysql-bin.000002, 5693)",
                        "masterBinlogGtid": "6f1b:1-27",
                        "syncerBinlog": "(mysql-bin.000002, 4980)",
                        "syncerBinlogGtid": "6f1b:1-25",
                        "blockingDDLs": [
                        ],
                        "unresolvedGroups": [
                        ],
                        "synced": false,
                        "binlogType": "local",
                        "secondsBehindMaster": "0",
                        "blockDDLOwner": "",
                        "conflictMsg": "",
                        "totalRows": "12",
                        "totalRps": "0",
                        "recentRps": "0",
                        "ioTotalBytes": "0",
                        "dumpIOTotalBytes": "0"
                    },
                    "validation": null
                }
            ]
        }
    ]
}""".replace("MESSAGE", ERR_MSG)


def test_query_status_example_renders_like_dm() -> None:
    assert to_dm_json(paused_sync_status()) == EXPECTED_QUERY_STATUS


def test_handle_error_regex_finds_locations_in_output() -> None:
    """DM's handle-error tests parse the Message line of this output with a regex."""
    import re

    text = to_dm_json(paused_sync_status())
    m = re.search(
        r"startLocation: \[position: \((.*), (.*)\), gtid-set: (.*)\], endLocation: "
        r"\[position: \((.*), (.*)\), gtid-set: (.*)\]",
        text,
    )
    assert m is not None and m.group(1) == "mysql-bin.000002" and m.group(2) == "4980"


def test_unset_oneof_is_omitted_and_set_member_sits_at_its_position() -> None:
    unset = to_dm_json(pb.SubTaskStatus(name="t"))
    assert '"msg"' not in unset and '"sync"' not in unset
    assert unset.index('"unresolvedDDLLockID"') < unset.index('"validation"')
    msg = to_dm_json(pb.SubTaskStatus(name="t", msg="no sub task with name t has started"))
    assert msg.index('"unresolvedDDLLockID"') < msg.index('"msg": "no sub task') < msg.index('"validation"')


def test_bytes_are_base64_or_null_and_empty_map_layout() -> None:
    assert '"detail": null' in to_dm_json(pb.ProcessResult())
    assert f'"detail": "{base64.b64encode(b"{}").decode()}"' in to_dm_json(pb.ProcessResult(detail=b"{}"))
    assert to_dm_json(mpb.ListTaskConfigsResponse(result=True)) == (
        '{\n    "result": true,\n    "msg": "",\n    "taskConfigs": {\n    }\n}'
    )
    full = to_dm_json(mpb.ListTaskConfigsResponse(taskConfigs={"b": "y", "a": "x<"}))
    assert '"taskConfigs": {\n        "a": "x\\u003c",\n        "b": "y"\n    }' in full


def test_uint64_and_repeated_strings_and_unknown_enum() -> None:
    text = to_dm_json(mpb.MasterInfo(name="m", memberID=11007177379717700053, peerURLs=["http://a:8291"]))
    assert '"memberID": "11007177379717700053"' in text
    assert '"peerURLs": [\n        "http://a:8291"\n    ]' in text
    assert '"clientURLs": [\n    ]' in text
    assert '"stage": 99' in to_dm_json(pb.RelayStatus(stage=99))


def test_go_json_scalars() -> None:
    assert go_string('a"b\\c\n\t<&>\u2028\x01') == '"a\\"b\\\\c\\n\\t\\u003c\\u0026\\u003e\\u2028\\u0001"'
    assert go_string("中文") == '"中文"'
    cases = {
        0.0: "0",
        3.0: "3",
        1.5: "1.5",
        74.1: "74.1",
        1e20: "100000000000000000000",
        1e21: "1e+21",
        1e-7: "1e-7",
        1.5e-7: "1.5e-7",
        0.000001: "0.000001",
        -2.25: "-2.25",
        123456789.0: "123456789",
    }
    for value, expected in cases.items():
        assert go_float(value) == expected, value
    assert go_float(0.1, 32) == "0.1"
    assert '"completedTables": 2.5' in to_dm_json(pb.DumpStatus(completedTables=2.5))


def test_marshal_indent_matches_encoding_json() -> None:
    obj = {
        "result": True,
        "msg": "",
        "tasks": [{"taskName": "t", "sources": ["a", "b"]}],
        "empty": [],
        "n": None,
    }
    assert marshal_indent(obj) == (
        '{\n    "result": true,\n    "msg": "",\n    "tasks": [\n        {\n            "taskName": "t",\n'
        '            "sources": [\n                "a",\n                "b"\n'
        "            ]\n        }\n    ],\n"
        '    "empty": [],\n    "n": null\n}'
    )
    assert omitempty(pb.CommonWorkerResponse(result=True, source="s1")) == {"result": True, "source": "s1"}


def test_to_dm_obj_mirrors_json() -> None:
    import json

    msg = paused_sync_status()
    assert to_dm_obj(msg) == json.loads(to_dm_json(msg))


def test_dmshell_extension_fields_stay_out_of_dm_json() -> None:
    """Fields dmshell adds to DM's messages (numbered from 100) are not in DM's JSON, only in plain/table."""
    msg = paused_sync_status()
    sync = msg.sources[0].subTaskStatus[0].sync
    sync.recentEps, sync.lastError = 7, "boom"
    sync.queueDepths.extend([1, 2])
    text = to_dm_json(msg)
    assert '"recentEps"' not in text and '"queueDepths"' not in text and "boom" not in text
    assert text.endswith(
        '"dumpIOTotalBytes": "0"\n                    },\n                    "validation": null'
        "\n                }\n            ]\n        }\n    ]\n}"
    )
    full = to_dm_obj(msg, extensions=True)["sources"][0]["subTaskStatus"][0]["sync"]
    assert (full["recentEps"], full["lastError"], full["queueDepths"]) == ("7", "boom", ["1", "2"])


# --------------------------------------------------------------------------- simplified query-status


def _resp(*subtasks: tuple[str, str, int, bool, int]) -> mpb.QueryStatusListResponse:
    """Sources with one subtask each: (source, task, stage, has_error, unit)."""
    resp = mpb.QueryStatusListResponse(result=True)
    for source, task, stage, errored, unit in subtasks:
        st = pb.SubTaskStatus(name=task, stage=stage, unit=unit)
        if errored:
            st.result.errors.add()
        resp.sources.add(result=True, sourceStatus=pb.SourceStatus(source=source), subTaskStatus=[st])
    return resp


MORE = ". Please run `query-status test` to get more details."


@pytest.mark.parametrize(
    ("stages", "expected"),
    [
        (
            [(pb.Running, False), (pb.Running, False), (pb.Paused, True)],
            "Error - Some error occurred in subtask" + MORE,
        ),
        ([(pb.Running, False), (pb.Paused, False), (pb.Running, False)], "Paused"),
        ([(pb.Finished, False)] * 3, "Finished"),
        ([(pb.Stopped, False)] * 3, "Stopped"),
        ([(pb.New, False)] * 3, "New"),
        ([(pb.New, False), (pb.New, False), (pb.Finished, False)], "Running"),
    ],
)
def test_task_status_rules(stages: list[tuple[int, bool]], expected: str) -> None:
    resp = _resp(*[(f"mysql-replica-0{i + 1}", "test", s, e, 0) for i, (s, e) in enumerate(stages)])
    result, has_false = wrap_task_result(resp)
    assert not has_false
    assert result["tasks"] == [
        {
            "taskName": "test",
            "taskStatus": expected,
            "sources": ["mysql-replica-01", "mysql-replica-02", "mysql-replica-03"],
        }
    ]


@pytest.mark.parametrize(
    ("relay_stage", "relay_error", "word"),
    [(pb.Paused, True, "Error"), (pb.Paused, False, "Paused"), (pb.Stopped, False, "Stopped")],
)
def test_task_status_when_relay_is_not_running(relay_stage: int, relay_error: bool, word: str) -> None:
    resp = _resp(
        ("mysql-replica-01", "test", pb.Running, False, pb.Sync),
        ("mysql-replica-02", "test", pb.Running, False, 0),
    )
    relay = resp.sources[0].sourceStatus.relayStatus
    relay.stage = relay_stage
    if relay_error:
        relay.result.errors.add()
    result, _ = wrap_task_result(resp)
    assert result["tasks"][0]["taskStatus"] == f"Error - Relay status is {word}" + MORE


def test_false_results_force_the_full_output() -> None:
    resp = _resp(("s1", "test", pb.Running, False, 0))
    assert not wrap_task_result(resp)[1]
    resp.sources[0].result = False
    assert wrap_task_result(resp)[1]
    resp.sources[0].result = True
    resp.result = False
    assert wrap_task_result(resp)[1]


def test_two_tasks_are_listed_separately() -> None:
    resp = _resp(("s1", "test", pb.Running, False, 0), ("s2", "test2", pb.Paused, True, 0))
    result, _ = wrap_task_result(resp)
    assert result["tasks"] == [
        {"taskName": "test", "taskStatus": "Running", "sources": ["s1"]},
        {
            "taskName": "test2",
            "taskStatus": "Error - Some error occurred in subtask. Please run "
            "`query-status test2` to get more details.",
            "sources": ["s2"],
        },
    ]


def test_check_task_report_is_spliced_raw() -> None:
    raw = (
        'fail to check synchronization configuration with type: no errors but some warnings\n detail: {"a":1}'
    )
    text = pb_json(mpb.CheckTaskResponse(result=True, msg=raw), "msg")
    assert (
        text == '{\n    "result": true,\n    "msg": "fail to check synchronization configuration with type: '
        'no errors but some warnings\n    \tdetail: {"a":1}"\n}'
    )
    plain = pb_json(mpb.CheckTaskResponse(result=True, msg="pre-check is passed. "), "msg")
    assert plain == '{\n    "result": true,\n    "msg": "pre-check is passed. "\n}'
