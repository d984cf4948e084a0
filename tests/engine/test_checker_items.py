"""Every check item on real MariaDB servers: a source or target that fails it is named in DM's shape
and refuses the task, ``ignore-checking-items`` lets it pass, a good task passes every item.

The failing source is an extra server of its own (``binlog-ignore-db`` is a start-up option, and
its global variables are changed freely); the session's servers serve as the good source and the
target.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from dmshell.engine import checker, errors
from dmshell.engine.checker import CheckContext, State
from dmshell.engine.checker.runner import run_items
from dmshell.engine.config.load import load_source_config, load_task_config
from dmshell.sandbox import MariaDBServer, Sandbox, ServerSpec

IGNORED_DB = "ck_ignored"


@pytest.fixture(scope="module")
def bad(mariadb) -> Iterator[MariaDBServer]:  # mariadb: marks the tests (see conftest)
    with Sandbox() as sandbox:
        (server,) = sandbox.start([ServerSpec("ck_bad", 71, extra_options={"binlog-ignore-db": IGNORED_DB})])
        yield server


@pytest.fixture
def db(mariadb, bad, dbname) -> Iterator[str]:
    """A fresh database of the test's name on every server; the bad server's variables restored."""
    for server in (mariadb.up1, mariadb.up2, mariadb.target, bad):
        server.execute(f"DROP DATABASE IF EXISTS {dbname}", f"CREATE DATABASE {dbname}")
    yield dbname
    bad.execute(
        "SET GLOBAL binlog_format = 'ROW'",
        "SET GLOBAL binlog_row_image = 'FULL'",
        "SET GLOBAL max_connections = 300",
    )


def make_task(
    target: MariaDBServer,
    db: str,
    extra: str = "",
    mode: str = "all",
    sources: tuple[str, ...] = ("s1",),
    inst: str = "",
):
    instances = "".join(f"  - source-id: {s}\n    block-allow-list: ba\n{inst}" for s in sources)
    return load_task_config(
        f"name: ck\ntask-mode: {mode}\n{extra}"
        f"target-database:\n{target.connection_yaml()}"
        f"block-allow-list:\n  ba:\n    do-dbs: ['{db}', '{IGNORED_DB}']\n"
        f"mysql-instances:\n{instances}"
    )


def source_of(server: MariaDBServer, sid: str = "s1", user: str = "", password: str = ""):
    cfg = load_source_config(server.source_yaml(sid))
    if user:
        cfg.from_db.user, cfg.from_db.password = user, password
    return cfg


def report(task, sources, **kw) -> dict:
    """The JSON detail of a refused check (and the error's code)."""
    with pytest.raises(errors.DMError) as info:
        checker.check_task(task, sources, **kw)
    assert info.value.code == 26005
    text = str(info.value)
    return json.loads(text[text.index("detail: ") + len("detail: ") :])


def failed(detail: dict) -> dict[str, dict]:
    return {r["name"]: r for r in detail["results"] if r["state"] == "fail"}


def passes(task, sources) -> None:
    assert checker.check_task(task, sources) == "pre-check is passed. "


def test_a_good_task_passes_every_item(mariadb, db):
    for server in (mariadb.up1, mariadb.up2):
        server.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY, v VARCHAR(10), UNIQUE KEY (v))")
    task = make_task(mariadb.target, db, sources=("s1", "s2"))
    sources = {"s1": source_of(mariadb.up1, "s1"), "s2": source_of(mariadb.up2, "s2")}
    passes(task, sources)
    ctx = CheckContext(task, sources)
    try:
        results = run_items(ctx, checker.selected_items(task)).all
    finally:
        ctx.close()
    assert {r.state for r in results} == {State.SUCCESS}
    names = [r.name for r in results]
    for item in checker.REGISTRY:
        if (
            task.task_mode in item.modes
            and not item.init
            and item.name != "sharding table consistency checking"
        ):
            assert item.name in names
    # source items ran for both sources, each result says which one
    addresses = {r.extra for r in results if r.name == "mysql_binlog_format"}
    assert addresses == {f"address of db instance - 127.0.0.1:{s.port}" for s in (mariadb.up1, mariadb.up2)}


@pytest.mark.parametrize(
    ("variable", "value", "item", "ignore", "short_error"),
    [
        (
            "binlog_format",
            "STATEMENT",
            "mysql_binlog_format",
            "binlog_format",
            "binlog_format is STATEMENT, and should be ROW",
        ),
        (
            "binlog_row_image",
            "MINIMAL",
            "mysql_binlog_row_image",
            "binlog_row_image",
            "binlog_row_image is MINIMAL, and should be FULL",
        ),
    ],
)
def test_binlog_settings(mariadb, bad, db, variable, value, item, ignore, short_error):
    bad.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY)", f"SET GLOBAL {variable} = '{value}'")
    sources = {"s1": source_of(bad)}
    result = failed(report(make_task(mariadb.target, db), sources))[item]
    assert result["errors"] == [{"severity": "fail", "short_error": short_error}]
    assert result["extra"] == f"address of db instance - 127.0.0.1:{bad.port}"
    assert result["instruction"].startswith("please execute 'set global")
    passes(make_task(mariadb.target, db, f"ignore-checking-items: ['{ignore}']\n"), sources)
    # a full task does not read the binlog: not checked
    passes(make_task(mariadb.target, db, mode="full"), sources)


def test_binlog_disabled(mariadb, db):
    mariadb.target.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    sources = {"s1": source_of(mariadb.target)}  # the target server has no binlog
    result = failed(report(make_task(mariadb.target, db), sources))["mysql_binlog_enable"]
    assert result["errors"][0]["short_error"] == "log_bin is OFF, and should be ON"
    passes(
        make_task(mariadb.target, db, "ignore-checking-items: ['binlog_enable', 'binlog_format']\n"), sources
    )


def test_binlog_ignore_db(mariadb, bad, db):
    bad.execute(f"DROP DATABASE IF EXISTS {IGNORED_DB}", f"CREATE DATABASE {IGNORED_DB}")
    bad.execute(f"CREATE TABLE {IGNORED_DB}.t (id INT PRIMARY KEY)")
    try:
        sources = {"s1": source_of(bad)}
        result = failed(report(make_task(mariadb.target, db), sources))["binlog_do_db/binlog_ignore_db check"]
        assert (
            result["errors"][0]["short_error"]
            == f"these dbs [{IGNORED_DB}] are in binlog_ignore_db[{IGNORED_DB}]"
        )
        passes(make_task(mariadb.target, db, "ignore-checking-items: ['binlog_db']\n"), sources)
    finally:
        bad.execute(f"DROP DATABASE {IGNORED_DB}")


def test_source_privileges(mariadb, bad, db):
    bad.execute(
        f"CREATE TABLE {db}.t1 (id INT PRIMARY KEY)",
        f"CREATE TABLE {db}.t2 (id INT PRIMARY KEY)",
        "DROP USER IF EXISTS ck_user",
        "CREATE USER ck_user IDENTIFIED BY 'pw'",
        f"GRANT SELECT ON {db}.t1 TO ck_user",
        f"GRANT SELECT (id) ON {db}.t2 TO ck_user",  # column grants do not let the dump read the table
    )
    sources = {"s1": source_of(bad, user="ck_user", password="pw")}
    results = failed(report(make_task(mariadb.target, db), sources))
    dump = results["source db dump privilege checker"]
    assert (
        dump["errors"][0]["short_error"]
        == f"lack of SELECT privilege: {{`{db}`.`t2`}}; lack of RELOAD privilege; "
    )
    assert dump["instruction"] == "Grant the required privileges to the account."
    repl = results["source db replication privilege checker"]
    assert repl["errors"][0]["short_error"] == (
        "lack of REPLICATION CLIENT privilege; lack of REPLICATION SLAVE privilege; "
    )
    # --consistency none needs no RELOAD; BINLOG MONITOR is MariaDB's REPLICATION CLIENT
    bad.execute(
        f"GRANT SELECT ON {db}.* TO ck_user", "GRANT BINLOG MONITOR, REPLICATION SLAVE ON *.* TO ck_user"
    )
    inst = "    mydumper:\n      extra-args: '--consistency none'\n"
    ok = make_task(mariadb.target, db, "ignore-checking-items: ['binlog_db']\n", inst=inst)
    passes(ok, sources)
    bad.execute("REVOKE BINLOG MONITOR, REPLICATION SLAVE ON *.* FROM ck_user")
    skip = "ignore-checking-items: ['replication_privilege', 'dump_privilege', 'binlog_db']\n"
    passes(make_task(mariadb.target, db, skip), sources)


def test_target_privileges(mariadb, db):
    mariadb.up1.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    mariadb.target.execute(
        "DROP USER IF EXISTS ck_target",
        "CREATE USER ck_target IDENTIFIED BY 'pw'",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON *.* TO ck_target",
        f"GRANT CREATE, DROP, ALTER ON `{db}`.* TO ck_target",
    )
    task = make_task(mariadb.target, db)
    task.target.user, task.target.password = "ck_target", "pw"
    sources = {"s1": source_of(mariadb.up1)}
    result = failed(report(task, sources))["target db privilege checker"]
    assert result["errors"][0]["short_error"] == (
        "lack of CREATE privilege: {`dm_meta`}; lack of ALTER privilege: {`dm_meta`}; "
        f"lack of DROP privilege: {{`dm_meta`}}; lack of INDEX privilege: {{`dm_meta`, `{db}`}}; "
    )
    task.ignore_checking_items = ["target_privilege"]
    passes(task, sources)


def test_table_structure(mariadb, bad, db):
    bad.execute(
        f"CREATE TABLE {db}.nokey (a INT)",
        f"CREATE TABLE {db}.parent (id INT PRIMARY KEY)",
        f"CREATE TABLE {db}.child (id INT PRIMARY KEY, p INT, "
        "CONSTRAINT fk_p FOREIGN KEY (p) REFERENCES parent (id))",
    )
    sources = {"s1": source_of(bad)}
    detail = report(make_task(mariadb.target, db), sources)
    result = failed(detail)["table structure compatibility check"]
    assert result["errors"] == [
        {
            "severity": "warn",
            "short_error": f"table `{db}`.`child` Foreign Key fk_p: the changes of its ON DELETE/UPDATE "
            "actions are not logged",
            "instruction": "create the same foreign key on the target table, or drop it upstream",
        },
        {
            "severity": "fail",
            "short_error": f"table `{db}`.`nokey` primary/unique key does not exist",
            "instruction": "please set primary/unique key for the table",
        },
    ]
    # --error 0 lists only the warning; the check still fails
    assert [
        e["severity"]
        for r in report(make_task(mariadb.target, db), sources, err_cnt=0)["results"]
        for e in r["errors"]
    ] == ["warn"]
    msg = checker.check_task(
        make_task(mariadb.target, db, "ignore-checking-items: ['table_schema']\n"), sources
    )
    assert msg == "pre-check is passed. "
    bad.execute(f"DROP TABLE {db}.nokey")
    warned = checker.check_task(make_task(mariadb.target, db), sources)
    assert "no errors but some warnings" in warned and "Foreign Key fk_p" in warned


SHARDS = (
    "routes:\n  merge:\n    schema-pattern: '{db}*'\n    table-pattern: 't*'\n"
    "    target-schema: '{db}'\n    target-table: 'merged'\n"
)


def shard_task(mariadb, db, extra: str = "", mode: str = "pessimistic"):
    inst = "    route-rules: ['merge']\n"
    return make_task(
        mariadb.target,
        db,
        f"shard-mode: {mode}\n" + SHARDS.format(db=db) + extra,
        sources=("s1", "s2"),
        inst=inst,
    )


def test_shard_tables(mariadb, db):
    mariadb.up1.execute(
        f"CREATE TABLE {db}.t1 (id INT PRIMARY KEY, v INT)",
        f"CREATE TABLE {db}.t2 (id INT PRIMARY KEY, v INT)",
    )
    mariadb.up2.execute(f"CREATE TABLE {db}.t1 (id INT PRIMARY KEY, v INT, w INT)")
    sources = {"s1": source_of(mariadb.up1, "s1"), "s2": source_of(mariadb.up2, "s2")}
    name = f"sharding table `{db}`.`merged` consistency checking"
    result = failed(report(shard_task(mariadb, db), sources))[name]
    assert result["errors"] == [
        {
            "severity": "fail",
            "short_error": "column length mismatch (self: 2 vs other: 3)",
            "self": f"sourceID s1 table `{db}`.`t1` columns [id v]",
            "other": f"sourceID s2 table `{db}`.`t1` columns [id v w]",
        }
    ]
    assert result["instruction"] == "please set same table structure for sharding tables"
    # optimistic mode merges different column sets, but not different types of one column
    passes(shard_task(mariadb, db, mode="optimistic"), sources)
    mariadb.up2.execute(f"ALTER TABLE {db}.t1 MODIFY v VARCHAR(10)")
    opt = failed(report(shard_task(mariadb, db, mode="optimistic"), sources))
    assert opt["optimistic " + name]["errors"][0]["short_error"] == "different column definition"
    passes(shard_task(mariadb, db, "ignore-checking-items: ['schema_of_shard_tables']\n"), sources)
    # a task that ran before is not checked (its shards' tables are not the binlog's)
    mariadb.target.execute(
        "CREATE DATABASE IF NOT EXISTS dm_meta", "CREATE TABLE dm_meta.ck_syncer_checkpoint (id INT)"
    )
    try:
        passes(shard_task(mariadb, db), sources)
    finally:
        mariadb.target.execute("DROP TABLE dm_meta.ck_syncer_checkpoint")


def test_shard_auto_increment(mariadb, db):
    for server in (mariadb.up1, mariadb.up2):
        server.execute(f"CREATE TABLE {db}.t1 (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT)")
    sources = {"s1": source_of(mariadb.up1, "s1"), "s2": source_of(mariadb.up2, "s2")}
    result = failed(report(shard_task(mariadb, db), sources))[
        f"sharding table `{db}`.`merged` consistency checking"
    ]
    assert result["errors"][0]["short_error"] == (
        f"sourceID s1 table `{db}`.`t1` of sharding `{db}`.`merged` have auto-increment key, "
        "please make sure them don't conflict in target table!"
    )
    assert result["extra"] == "auto-increment key checking"
    passes(shard_task(mariadb, db, "ignore-checking-items: ['auto_increment_ID']\n"), sources)
    # a key made of the auto-increment column and another one does not collide
    for server in (mariadb.up1, mariadb.up2):
        server.execute(f"ALTER TABLE {db}.t1 DROP PRIMARY KEY, ADD PRIMARY KEY (id, v)")
    passes(shard_task(mariadb, db), sources)


def test_online_ddl_in_progress(mariadb, bad, db):
    bad.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY)", f"CREATE TABLE {db}._t_gho (id INT PRIMARY KEY)")
    sources = {"s1": source_of(bad)}
    result = failed(report(make_task(mariadb.target, db), sources))["online ddl checker"]
    assert result["errors"][0]["short_error"] == "your ddl is in pt/ghost online-ddl"
    assert result["extra"] == "please wait the online-ddl over"
    passes(make_task(mariadb.target, db, "ignore-checking-items: ['online_ddl']\n"), sources)
    passes(make_task(mariadb.target, db, "online-ddl: false\n"), sources)


def test_meta_position(mariadb, bad, db):
    bad.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY)")
    sources = {"s1": source_of(bad)}
    inst = "    meta:\n      binlog-name: mysql-bin.000099\n      binlog-pos: 4\n"
    task = make_task(mariadb.target, db, mode="incremental", inst=inst)
    short = failed(report(task, sources))["meta position check"]["errors"][0]["short_error"]
    assert re.fullmatch(
        r"binlog position \(mysql-bin.000099, 4\) is not in the source's binary logs "
        r"\(mysql-bin.000001 .. mysql-bin.000001:\d+\)",
        short,
    )
    passes(
        make_task(
            mariadb.target, db, "ignore-checking-items: ['meta_position']\n", mode="incremental", inst=inst
        ),
        sources,
    )
    good = "    meta:\n      binlog-name: mysql-bin.000001\n      binlog-pos: 4\n"
    passes(make_task(mariadb.target, db, mode="incremental", inst=good), sources)


def test_connection_numbers(mariadb, bad, db):
    bad.execute(f"CREATE TABLE {db}.t (id INT PRIMARY KEY)", "SET GLOBAL max_connections = 10")
    sources = {"s1": source_of(bad)}
    inst = "    mydumper:\n      threads: 20\n    loader:\n      pool-size: 400\n"
    results = failed(report(make_task(mariadb.target, db, inst=inst), sources))
    assert results["dumper_conn_amount_checker"]["errors"][0]["short_error"] == (
        "downstream's max_connections: 10 is less than the amount dumper needs: 22"
    )
    assert results["loader_conn_amount_checker"]["errors"][0]["short_error"] == (
        "downstream's max_connections: 300 is less than the amount loader needs: 401"
    )
    passes(make_task(mariadb.target, db, "ignore-checking-items: ['conn_number']\n", inst=inst), sources)


def test_the_new_source_form_checks_run_without_a_task(bad):
    bad.execute("SET GLOBAL binlog_format = 'MIXED'")
    try:
        version, found = checker.check_server(source_of(bad))
        results = {r.name: r for r in found}
    finally:
        bad.execute("SET GLOBAL binlog_format = 'ROW'")
    assert "MariaDB" in version and results["mysql_binlog_format"].state == State.FAIL
    assert results["mysql_binlog_format"].errors[0].short_error == "binlog_format is MIXED, and should be ROW"
    others = {n: r.state for n, r in results.items() if n != "mysql_binlog_format"}
    assert set(others.values()) == {State.SUCCESS} and "source db replication privilege checker" in others
