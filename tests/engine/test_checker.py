"""The task checker: DM's result JSON, the item registry, and the messages start-task/check-task give.

No database is needed: items here are plain functions, and the connectivity items are pointed at
ports nothing listens on.
"""

from __future__ import annotations

from typing import Literal

import pytest

from dmshell.engine import checker, errors
from dmshell.engine.checker import CheckContext, CheckItem, Result, Results, State
from dmshell.engine.config.load import load_source_config, load_task_config
from dmshell.sandbox import free_port

DEAD_TARGET, DEAD_SOURCE = free_port(), free_port()


def task(extra: str = "", mode: str = "all"):
    return load_task_config(
        f"name: t\ntask-mode: {mode}\ntarget-database:\n  host: 127.0.0.1\n  port: {DEAD_TARGET}\n"
        f"  user: root\nmysql-instances:\n  - source-id: s1\n{extra}"
    )


def sources():
    return {
        "s1": load_source_config(
            f"source-id: s1\nfrom:\n  host: 127.0.0.1\n  port: {DEAD_SOURCE}\n  user: u1\n"
        )
    }


def item(name: str, result: Result | Exception, per: Literal["source", "task"] = "source", **kw) -> CheckItem:
    def fn(ctx: CheckContext, source: str) -> Result:
        if isinstance(result, Exception):
            raise result
        return result

    return CheckItem(name, f"check {name}", fn, per=per, **kw)


def test_the_report_is_dms_json():
    results = Results(
        [
            Result.success().named(0, "mysql_version", "check whether mysql version is satisfied", "a:1"),
            Result.fail(
                "binlog_format is STATEMENT, and should be ROW", "please execute 'set global ...';"
            ).named(1, "mysql_binlog_format", "check whether mysql binlog_format is ROW", "a:1"),
            Result.warn("<x> & y").named(2, "w", "d", ""),
        ]
    )
    assert results.to_json(10, 10) == (
        "{\n"
        '\t\t"results": [\n'
        "\t\t\t{\n"
        '\t\t\t\t"id": 1,\n'
        '\t\t\t\t"name": "mysql_binlog_format",\n'
        '\t\t\t\t"desc": "check whether mysql binlog_format is ROW",\n'
        '\t\t\t\t"state": "fail",\n'
        '\t\t\t\t"errors": [\n'
        "\t\t\t\t\t{\n"
        '\t\t\t\t\t\t"severity": "fail",\n'
        '\t\t\t\t\t\t"short_error": "binlog_format is STATEMENT, and should be ROW"\n'
        "\t\t\t\t\t}\n"
        "\t\t\t\t],\n"
        '\t\t\t\t"instruction": "please execute \'set global ...\';",\n'
        '\t\t\t\t"extra": "a:1"\n'
        "\t\t\t},\n"
        "\t\t\t{\n"
        '\t\t\t\t"id": 2,\n'
        '\t\t\t\t"name": "w",\n'
        '\t\t\t\t"desc": "d",\n'
        '\t\t\t\t"state": "warn",\n'
        '\t\t\t\t"errors": [\n'
        "\t\t\t\t\t{\n"
        '\t\t\t\t\t\t"severity": "warn",\n'
        '\t\t\t\t\t\t"short_error": "\\u003cx\\u003e \\u0026 y"\n'
        "\t\t\t\t\t}\n"
        "\t\t\t\t]\n"
        "\t\t\t}\n"
        "\t\t],\n"
        '\t\t"summary": {\n'
        '\t\t\t"passed": false,\n'
        '\t\t\t"total": 3,\n'
        '\t\t\t"successful": 1,\n'
        '\t\t\t"failed": 1,\n'
        '\t\t\t"warning": 1\n'
        "\t\t}\n"
        "\t}"
    )


def test_error_and_warn_counts_limit_the_listed_results():
    results = Results(
        [Result.fail("f1"), Result.warn("w1"), Result.fail("f2"), Result.warn("w2"), Result.success()]
    )
    assert [r.errors[0].short_error for r in results.listed(1, 2)] == ["f1", "w1", "w2"]
    assert results.listed(0, 0) == []
    assert not results.passed and results.count(State.SUCCESS) == 1


def test_a_passing_check_says_so_like_dm():
    ok = [item("a", Result.success()), item("b", Result.success(), per="task")]
    assert checker.check_task(task(), sources(), items=ok) == "pre-check is passed. "


def test_warnings_pass_with_dms_report():
    msg = checker.check_task(task(), sources(), items=[item("a", Result.warn("careful", "do this"))])
    assert msg.startswith(
        "fail to check synchronization configuration with type: no errors but some warnings\n detail: {"
    )
    assert '"extra": "address of db instance - 127.0.0.1:' + str(DEAD_SOURCE) + '"' in msg
    assert '"instruction": "do this"' in msg and '"warning": 1' in msg and '"passed": true' in msg
    # with --warn 0 nothing is listed: the check passes plainly
    assert checker.check_task(task(), sources(), items=[item("a", Result.warn("x"))], warn_cnt=0) == (
        "pre-check is passed. "
    )


def test_a_failure_refuses_the_task_with_dms_error():
    items = [item("a", Result.success()), item("b", Result.fail("bad"), per="task")]
    with pytest.raises(errors.DMError) as info:
        checker.check_task(task(), sources(), items=items)
    err = info.value
    assert err.code == 26005
    assert str(err).startswith(
        "[code=26005:class=task-check:scope=internal:level=medium], Message: fail to check synchronization "
        "configuration with type: check was failed, please see detail\n detail: {"
    )
    assert '"name": "b"' in str(err) and '"name": "a"' not in str(err)
    assert f'"extra": "address of db instance - 127.0.0.1:{DEAD_TARGET}"' in str(err)


def test_a_database_error_in_an_item_is_that_items_failure():
    boom = errors.ErrDBDriverError(cause="Error 1045: denied")
    with pytest.raises(errors.DMError) as info:
        checker.check_task(task(), sources(), items=[item("a", boom)])
    assert info.value.code == 26005 and "Error 1045: denied" in str(info.value)


def test_a_target_that_does_not_answer_fails_the_checker_init():
    with pytest.raises(errors.DMError) as info:
        checker.check_task(task(), sources())
    assert str(info.value).startswith(
        "[code=26002:class=task-check:scope=downstream:level=high], Message: fail to initialize checker: "
        f"failed to open DSN root:***@127.0.0.1:{DEAD_TARGET}, RawCause: "
    )


def test_a_source_that_does_not_answer_fails_the_checker_init():
    source_only = [i for i in checker.REGISTRY if i.name == "source_db_connection"]
    with pytest.raises(errors.DMError) as info:
        checker.check_task(task(), sources(), items=source_only)
    assert str(info.value).startswith(
        "[code=26002:class=task-check:scope=upstream:level=high], Message: fail to initialize checker: "
        f"failed to open DSN u1:***@127.0.0.1:{DEAD_SOURCE}"
    )


def test_connectivity_items_come_first_and_cannot_be_ignored():
    names = [i.name for i in checker.REGISTRY]
    assert names[:2] == ["target_db_connection", "source_db_connection"]
    ignored = task('ignore-checking-items: ["version", "binlog_format"]\n')
    chosen = [i.name for i in checker.selected_items(ignored)]
    assert chosen[:2] == names[:2]
    assert "mysql_version" not in chosen and "mysql_binlog_format" not in chosen
    assert "mysql_binlog_row_image" in chosen


def test_ignore_checking_items_and_task_mode_select_items():
    registry = [
        item("format", Result.success(), ignore="binlog_format"),
        item("dump_only", Result.success(), modes=frozenset({"full"})),
        item("always", Result.success()),
    ]
    chosen = checker.selected_items(task('ignore-checking-items: ["binlog_format"]\n', "all"), registry)
    assert [i.name for i in chosen] == ["always"]
    assert [i.name for i in checker.selected_items(task(mode="full"), registry)] == [
        "format",
        "dump_only",
        "always",
    ]
    # `all` turns every check off, the databases are not even opened (DM answers "")
    assert checker.selected_items(task('ignore-checking-items: ["all"]\n'), registry) == []
    assert checker.check_task(task('ignore-checking-items: ["all"]\n'), sources()) == ""


def test_an_item_name_is_registered_once():
    with pytest.raises(ValueError, match="duplicate check item source_db_connection"):
        checker.check_item("source_db_connection", "again")(lambda ctx, source: Result.success())


def test_a_source_that_does_not_answer_is_not_saved():
    with pytest.raises(errors.DMError) as info:
        checker.check_source(sources()["s1"])
    assert info.value.code == 10001 and "database driver error" in str(info.value)
