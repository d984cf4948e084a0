"""Source/task config loading: the DM manual's sample files, defaults, subtasks, every error case."""

from __future__ import annotations

import textwrap

import pytest

from dmshell.engine import yamlstrict as ys
from dmshell.engine.config import encrypt
from dmshell.engine.config.database import DBConfig, SecurityConfig
from dmshell.engine.config.load import (
    config_keys,
    dump_source_config,
    dump_task_config,
    load_source_config,
    load_task_config,
)
from dmshell.engine.config.source import CheckerConfig, PurgeConfig, SourceConfig
from dmshell.engine.config.subtask import DEFAULT_SHADOW_TABLE_RULES
from dmshell.engine.config.task import Meta, MySQLInstance, TaskConfig
from dmshell.engine.config.units import LoaderConfig, MydumperConfig, SyncerConfig, parse_file_size
from dmshell.engine.errors import DMError
from dmshell.engine.filters.rule_types import BAList, EventFilterRule, RouteRule


def y(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# The DM 5.3 manual's task configuration guide example (seed-004-C §4.7).
GUIDE_TASK = y("""
    ---
    name: test                # task name, globally unique
    shard-mode: "pessimistic"
    task-mode: all            # "full" | "incremental" | "all"

    mysql-instances:
    - source-id: "mysql-replica-01"
      block-allow-list: "bw-rule-1"
      filter-rules: ["filter-rule-1"]
      route-rules: ["route-rule-1", "route-rule-2"]
    - source-id: "mysql-replica-02"
      block-allow-list: "bw-rule-2"
      filter-rules: ["filter-rule-2"]
      route-rules: ["route-rule-2"]

    target-database:
      host: "127.0.0.1"
      port: 4000
      user: "root"
      password: ""

    block-allow-list:
      bw-rule-1:
        do-dbs: ["test.*", "user"]
        do-tables:
        - db-name: "test.*"
          tbl-name: "t.*"
        - db-name: "user"
          tbl-name: "information"
      bw-rule-2:
        ignore-tables:
        - db-name: "user"
          tbl-name: "log"

    filters:
      filter-rule-1:
        schema-pattern: "test_*"
        table-pattern: "t_*"
        events: ["truncate table", "drop table"]
        action: Ignore
      filter-rule-2:
        schema-pattern: "test"
        events: ["all dml"]
        action: Do

    routes:
      route-rule-1:
        schema-pattern: "test_*"
        table-pattern: "t_*"
        target-schema: "test"
        target-table: "t"
      route-rule-2:
        schema-pattern: "test_*"
        target-schema: "test"
""")

# A full-featured task: every section of DM's advanced task template, written for these tests.
FULL_TASK = y("""
    name: full_featured
    task-mode: all
    is-sharding: true
    meta-schema: "dm_meta"
    enable-heartbeat: false
    heartbeat-update-interval: 1
    heartbeat-report-interval: 10
    timezone: "+08:00"
    case-sensitive: false
    collation_compatible: "loose"
    online-ddl: true
    shadow-table-rules: ["_(.+)_(?:new|gho)"]
    trash-table-rules: ["^_(.+)_(?:ghc|del|old)$"]
    ignore-checking-items: ["auto_increment_ID", "version"]
    clean-dump-file: true
    strict-optimistic-shard-mode: false
    experimental:
      async-checkpoint-flush: false

    target-database:
      host: "192.168.0.1"
      port: 4000
      user: "root"
      password: "fCxfQ9XKCezSzuCD0Wf5dUD+LsKegSg="
      max-allowed-packet: 67108864
      session:
        sql_mode: "ANSI_QUOTES,NO_ZERO_IN_DATE"
        tidb_skip_utf8_check: 1
      security:
        ssl-ca: ""

    mysql-instances:
      - source-id: "instance118-4306"
        meta:
          binlog-name: mysql-bin.000001
          binlog-pos: 4
          binlog-gtid: "03fc0263-28c7-11e7-a653-6c0b84d59f30:1-7041423"
        route-rules: ["user-route-rules-schema", "user-route-rules"]
        filter-rules: ["user-filter-1", "user-filter-2"]
        block-allow-list: "instance"
        expression-filters: ["even_c"]
        mydumper-config-name: "global"
        loader-config-name: "global"
        syncer-config-name: "global"
        validator-config-name: "global"
      - source-id: "instance118-5306"
        meta:
          binlog-name: mysql-bin.000001
          binlog-pos: 320
        route-rules: ["user-route-rules-schema", "user-route-rules"]
        filter-rules: ["user-filter-2"]
        block-allow-list: "instance"
        mydumper-thread: 8
        loader-thread: 32
        syncer-thread: 64
        mydumper:
          threads: 4
          chunk-filesize: 64
          skip-tz-utc: true
          rows: 10000
          where: "id < 100"
          extra-args: "--consistency none"
        loader:
          pool-size: 16
          dir: "./dumped_data"
          import-mode: "sql"
          on-duplicate: "error"
        syncer:
          worker-count: 16
          batch: 100
          checkpoint-flush-interval: 10
          compact: true
          multiple-rows: true

    routes:
      user-route-rules-schema:
        schema-pattern: "test_*"
        target-schema: "test"
      user-route-rules:
        schema-pattern: "test_*"
        table-pattern: "t_*"
        target-schema: "test"
        target-table: "t"
        extract-table:
          table-regexp: "t_(.*)"
          target-column: "c_table"
        extract-schema:
          schema-regexp: "test_(.*)"
          target-column: "c_schema"
        extract-source:
          source-regexp: "(.*)"
          target-column: "c_source"

    filters:
      user-filter-1:
        schema-pattern: "test_*"
        table-pattern: "t_*"
        events: ["truncate table", "drop table"]
        sql-pattern: ["^DROP\\\\s+PROCEDURE", "^CREATE\\\\s+PROCEDURE"]
        action: Ignore
      user-filter-2:
        schema-pattern: "test_*"
        events: ["all dml"]
        action: Do

    expression-filter:
      even_c:
        schema: "expr_filter"
        table: "tbl"
        insert-value-expr: "c % 2 = 0"

    block-allow-list:
      instance:
        do-dbs: ["~^test.*", "user"]
        ignore-dbs: ["mysql", "account"]
        do-tables:
        - db-name: "~^test.*"
          tbl-name: "~^t.*"
        - db-name: "user"
          tbl-name: "information"
        ignore-tables:
        - db-name: "user"
          tbl-name: "log"

    mydumpers:
      global:
        threads: 4
        chunk-filesize: 64
        skip-tz-utc: true
        extra-args: "-B test"

    loaders:
      global:
        pool-size: 16
        dir: "./dumped_data"
        import-mode: "logical"
        on-duplicate-logical: "replace"

    syncers:
      global:
        worker-count: 16
        batch: 100
        queue-size: 1024
        checkpoint-flush-interval: 30
        safe-mode: false
        safe-mode-duration: "1m30s"
        compact: false
        multiple-rows: false

    validators:
      global:
        mode: none
        worker-count: 4
        row-error-delay: 30m
""")

MINIMAL = y("""
    name: t
    task-mode: all
    target-database:
      host: 127.0.0.1
      port: 4000
      user: root
      password: ""
    mysql-instances:
      - source-id: s1
""")


def err_of(text: str, loader=load_task_config) -> DMError:
    with pytest.raises(DMError) as info:
        loader(text)
    return info.value


# ---- manual samples --------------------------------------------------------------------------


def test_guide_task_parses_and_resolves_per_source_rules():
    cfg = load_task_config(GUIDE_TASK)
    assert (cfg.name, cfg.task_mode, cfg.shard_mode, cfg.meta_schema) == (
        "test",
        "all",
        "pessimistic",
        "dm_meta",
    )
    assert cfg.source_ids == ["mysql-replica-01", "mysql-replica-02"]
    assert (cfg.target.host, cfg.target.port, cfg.target.user, cfg.target.password) == (
        "127.0.0.1",
        4000,
        "root",
        "",
    )
    assert cfg.raw_text == GUIDE_TASK
    s1 = cfg.subtask("mysql-replica-01")
    assert s1.block_allow_list is not None
    assert s1.block_allow_list.do_dbs == ["test.*", "user"]
    assert s1.block_allow_list.do_tables == [("test.*", "t.*"), ("user", "information")]
    assert [r.target_table for r in s1.routes] == ["t", ""]
    assert [f.events for f in s1.filters] == [["truncate table", "drop table"]]
    s2 = cfg.subtask("mysql-replica-02")
    assert s2.block_allow_list.ignore_tables == [("user", "log")]
    assert [f.action for f in s2.filters] == ["Do"]
    assert [(r.schema_pattern, r.target_schema) for r in s2.routes] == [("test_*", "test")]


def test_full_featured_task_parses_every_section():
    cfg = load_task_config(FULL_TASK)
    assert cfg.shard_mode == "pessimistic"  # from is-sharding: true
    assert cfg.collation_compatible == "loose"
    assert cfg.timezone == "+08:00"
    assert cfg.target.password == "123456"  # dmctl ciphertext from the manual, decrypted
    assert cfg.target.session == {"sql_mode": "ANSI_QUOTES,NO_ZERO_IN_DATE", "tidb_skip_utf8_check": "1"}
    assert cfg.target.max_allowed_packet == 67108864
    assert cfg.target.security == SecurityConfig()  # written, every TLS key empty
    assert cfg.shadow_table_rules == ["^_(.+)_(?:new|gho)$"]  # anchored like DM
    assert cfg.experimental.async_checkpoint_flush is False

    a = cfg.subtask("instance118-4306")
    assert a.meta == Meta("mysql-bin.000001", 4, "03fc0263-28c7-11e7-a653-6c0b84d59f30:1-7041423")
    assert a.mydumper.extra_args == "-B test"
    assert a.syncer.safe_mode_duration == 90.0
    assert a.loader.dir == "./dumped_data.full_featured"
    assert a.validator.mode == "none" and a.validator.row_error_delay == 1800.0
    assert [e.insert_value_expr for e in a.expression_filters] == ["c % 2 = 0"]
    assert a.target.session["time_zone"] == "+08:00"  # task timezone goes to the target session
    assert a.async_checkpoint_flush is False
    ext = a.routes[1]
    assert ext.extract_table.target_column == "c_table" and ext.extract_source.source_regexp == "(.*)"
    assert a.filters[0].sql_pattern == [r"^DROP\s+PROCEDURE", r"^CREATE\s+PROCEDURE"]

    b = cfg.subtask("instance118-5306")
    assert (b.mydumper.threads, b.loader.pool_size, b.syncer.worker_count) == (8, 32, 64)  # *-thread aliases
    assert b.mydumper.rows == 10000 and b.mydumper.where == "id < 100"
    assert b.loader.import_mode == "logical"  # "sql" is DM's old name
    assert b.syncer.checkpoint_flush_interval == 10
    assert b.syncer.safe_mode_duration == 20.0  # 2 x checkpoint-flush-interval
    assert b.meta.binlog_pos == 320


def test_aurora_scenario_task_from_the_manual():
    text = y("""
        name: "test"
        task-mode: "all"
        target-database:
          host: "tidb.6657c286.23110bc6.us-east-1.prod.aws.tidbcloud.com"
          port: 4000
          user: "root"
          password: "87654321"
        mysql-instances:
        - source-id: "aurora-replica-01"
          block-allow-list: "global"
          mydumper-config-name: "global"
        - source-id: "aurora-replica-02"
          block-allow-list: "global"
          mydumper-config-name: "global"
        block-allow-list:
          global:
            do-dbs: ["migrate_me"]
        mydumpers:
          global:
            extra-args: "--consistency none"
        ignore-checking-items: ["replication_privilege", "dump_privilege"]
    """)
    cfg = load_task_config(text)
    sub = cfg.subtask("aurora-replica-02")
    assert sub.target.password == "87654321"
    assert sub.mydumper.extra_args == "--consistency none"
    assert sub.mydumper.threads == 4 and sub.mydumper.chunk_filesize == "64"  # named config keeps defaults
    assert cfg.ignore_checking_items == ["replication_privilege", "dump_privilege"]


def test_expression_filter_sample_from_the_manual():
    text = y("""
        name: test
        task-mode: all
        target-database:
          host: "127.0.0.1"
          port: 4000
          user: "root"
          password: ""
        mysql-instances:
          - source-id: "mysql-replica-01"
            expression-filters: ["even_c"]
        expression-filter:
          even_c:
            schema: "expr_filter"
            table: "tbl"
            insert-value-expr: "c % 2 = 0"
    """)
    sub = load_task_config(text).subtask("mysql-replica-01")
    assert [(e.schema, e.table, e.insert_value_expr) for e in sub.expression_filters] == [
        ("expr_filter", "tbl", "c % 2 = 0")
    ]


def test_source_config_reference_sample():
    text = y("""
        source-id: "mysql-replica-01"
        enable-gtid: false
        enable-relay: false
        relay-binlog-name: ""
        relay-binlog-gtid: ""
        relay-dir: "relay-dir"
        from:
          host: "127.0.0.1"
          port: 3306
          user: "root"
          password: "MKxn0Qo3m3XOyjCnhEMtsUCm83EhGQDZ/T4="
        purge:
          interval: 3600
          expires: 0
          remain-space: 15
        checker:
          check-enable: true
          backoff-rollback: 5m0s
          backoff-max: 5m0s
        case-sensitive: false
        filters:
        - schema-pattern: dmctl
          table-pattern: t_1
          events: []
          sql-pattern:
          - alter table .* add column `aaa` int
          action: Ignore
    """)
    cfg = load_source_config(text)
    assert cfg.source_id == "mysql-replica-01"
    assert cfg.from_db.password == "abc!@#123"
    assert cfg.from_db.security is None
    assert (cfg.purge.interval, cfg.purge.expires, cfg.purge.remain_space) == (3600, 0, 15)
    assert (cfg.checker.backoff_rollback, cfg.checker.backoff_max) == (300.0, 300.0)
    assert cfg.filters[0].sql_pattern == ["alter table .* add column `aaa` int"]
    assert cfg.enable is True and cfg.relay_dir == "relay-dir"


def test_source_config_defaults_and_plaintext_password():
    cfg = load_source_config("source-id: s\nfrom:\n  host: h\n  user: u\n  password: '123456'\n")
    assert cfg.from_db.password == "123456"
    assert (cfg.enable_gtid, cfg.enable_relay, cfg.flavor, cfg.server_id, cfg.case_sensitive) == (
        False,
        False,
        "",
        0,
        False,
    )
    assert cfg.from_db.port == 3306
    assert cfg.checker.check_enable is True and cfg.purge.remain_space == 15


def test_source_config_dm_sample_with_flavor_and_server_id():
    text = y("""
        server-id: 101
        source-id: mysql-replica-01
        flavor: mysql
        enable-relay: false
        enable-gtid: false
        enable: true
        from:
          host: 127.0.0.1
          user: root
          password: '123456'
          port: 3306
    """)
    cfg = load_source_config(text)
    assert (cfg.server_id, cfg.flavor, cfg.from_db.password) == (101, "mysql", "123456")


# ---- defaults, subtask resolution --------------------------------------------------------------


def test_global_defaults_match_dm():
    sub = load_task_config(MINIMAL).subtask("s1")
    assert (sub.syncer.worker_count, sub.syncer.batch, sub.syncer.queue_size) == (16, 100, 1024)
    assert (sub.syncer.checkpoint_flush_interval, sub.syncer.safe_mode_duration) == (30, 60.0)
    assert (sub.mydumper.threads, sub.mydumper.chunk_filesize) == (4, "64")
    assert (sub.loader.pool_size, sub.loader.dir) == (16, "./dumped_data.t")
    assert sub.meta_schema == "dm_meta" and sub.shard_mode == "" and sub.online_ddl is True
    assert sub.block_allow_list is None and sub.routes == [] and sub.filters == []
    assert sub.clean_dump_file is True and sub.case_sensitive is False and sub.meta is None
    assert sub.shadow_table_rules == [DEFAULT_SHADOW_TABLE_RULES]


def test_incremental_mode_without_meta_is_allowed():
    cfg = load_task_config(MINIMAL.replace("task-mode: all", "task-mode: incremental"))
    sub = cfg.subtask("s1")
    assert sub.task_mode == "incremental" and sub.meta is None
    assert sub.loader.dir == "./dumped_data"  # no dump → no per-task suffix


@pytest.mark.parametrize("mode", ["all", "full", "incremental", "dump", "load"])
def test_task_modes(mode):
    assert load_task_config(MINIMAL.replace("task-mode: all", f"task-mode: {mode}")).task_mode == mode


def test_legacy_black_white_list_means_block_allow_list():
    text = MINIMAL + "    black-white-list: rule\nblack-white-list:\n  rule:\n    do-dbs: [a]\n"
    sub = load_task_config(text).subtask("s1")
    assert sub.block_allow_list.do_dbs == ["a"]


def test_is_sharding_and_shard_mode():
    assert load_task_config(MINIMAL + "is-sharding: true\n").shard_mode == "pessimistic"
    assert load_task_config(MINIMAL + "shard-mode: optimistic\n").shard_mode == "optimistic"
    both = load_task_config(MINIMAL + "is-sharding: true\nshard-mode: optimistic\n")
    assert both.shard_mode == "optimistic"


@pytest.mark.parametrize(
    "extra", ["is-sharding: false\nshard-mode: pessimistic\n", 'is-sharding: true\nshard-mode: ""\n']
)
def test_is_sharding_conflicting_with_shard_mode(extra):
    e = err_of(MINIMAL + extra)
    assert e.code == 20003
    assert (
        "The behaviour of `is-sharding` and `shard-mode` is conflicting. "
        "`is-sharding` is deprecated, please use `shard-mode` only."
    ) in e.message


def test_inline_unit_configs_keep_unset_keys_at_defaults():
    text = MINIMAL + "    syncer:\n      batch: 7\n    loader:\n      pool-size: 3\n"
    sub = load_task_config(text).subtask("s1")
    assert (sub.syncer.batch, sub.syncer.worker_count) == (7, 16)
    assert sub.loader.dir == "./dumped_data.t" and sub.loader.pool_size == 3


def test_subtask_apply_source():
    cfg = load_task_config(
        MINIMAL + "    filter-rules: [f]\nfilters:\n  f:\n    schema-pattern: a\n    action: Do\n"
    )
    src = load_source_config(
        y("""
        source-id: s1
        enable-gtid: true
        flavor: mariadb
        server-id: 7
        case-sensitive: true
        from: {host: h, port: 3307, user: u, password: p}
        filters:
        - schema-pattern: a
          action: Ignore
          events: [all]
        - schema-pattern: b
          action: Ignore
          events: [all]
    """)
    )
    sub = cfg.subtask("s1", src)
    assert (sub.from_db.host, sub.from_db.port, sub.flavor, sub.server_id, sub.enable_gtid) == (
        "h",
        3307,
        "mariadb",
        7,
        True,
    )
    assert sub.case_sensitive is True  # either side true wins, as in DM
    assert [(f.schema_pattern, f.action) for f in sub.filters] == [("a", "Do"), ("b", "Ignore")]


def test_subtask_unknown_source():
    with pytest.raises(DMError) as info:
        load_task_config(MINIMAL).subtask("nope")
    assert info.value.code == 20031


def test_yaml_1_1_oddities_are_not_coerced():
    text = MINIMAL.replace('password: ""', "password: on") + "meta-schema: 0755\n"
    cfg = load_task_config(text)
    assert cfg.target.password == "on"
    assert cfg.meta_schema == "0755"


def test_chunk_filesize_number_stays_text():
    text = MINIMAL + "    mydumper:\n      chunk-filesize: 0128\n"
    assert load_task_config(text).subtask("s1").mydumper.chunk_filesize == "0128"


def test_safe_mode_duration_formats():
    for raw, secs in (('"60s"', 60.0), ("1m30s", 90.0), ('"0s"', 0.0), ("1h", 3600.0), ("500ms", 0.5)):
        text = MINIMAL + f"    syncer:\n      safe-mode-duration: {raw}\n"
        assert load_task_config(text).subtask("s1").syncer.safe_mode_duration == secs


# ---- error cases -------------------------------------------------------------------------------


def test_unknown_key_names_the_line_and_suggests():
    e = err_of(MINIMAL.replace("mysql-instances:", "mysql-instance:"))
    assert e.code == 20003
    assert (
        e.message == 'line 8: unknown key "mysql-instance" in task config (did you mean "mysql-instances"?)'
    )


def test_unknown_nested_key_names_the_path():
    e = err_of(MINIMAL + "routes:\n  r:\n    schema-pattern: a\n    targt-schema: b\n")
    assert e.message == (
        'line 13: unknown key "targt-schema" in task config (routes.r) (did you mean "target-schema"?)'
    )


def test_unknown_key_in_source_config():
    e = err_of("source-id: s\nfrom: {host: h}\nenable-gtd: true\n", load_source_config)
    assert e.code == 20003 and 'line 3: unknown key "enable-gtd" in source config' in e.message


def test_duplicate_key():
    e = err_of(MINIMAL + "name: again\n")
    assert e.code == 20003 and e.message == 'line 10: duplicate key "name" (first defined at line 1)'


def test_duplicate_nested_key():
    e = err_of(MINIMAL.replace("  port: 4000\n", "  port: 4000\n  port: 4001\n"))
    assert e.message == 'line 6: duplicate key "port" (first defined at line 5)'


@pytest.mark.parametrize(
    ("extra", "line", "fragment"),
    [
        (
            "clean-dump-file: yes\n",
            10,
            'invalid value for "clean-dump-file" in task config: expected true or false',
        ),
        ('online-ddl: "true"\n', 10, 'invalid value for "online-ddl"'),
        (
            "syncers:\n  g:\n    batch: 1.5\n",
            12,
            'invalid value for "syncers.g.batch" in task config: expected an integer',
        ),
        ("routes: [a, b]\n", 10, 'wrong type for "routes" in task config: expected a mapping, got a list'),
        (
            "ignore-checking-items: all\n",
            10,
            'wrong type for "ignore-checking-items" in task config: expected a list',
        ),
        ("name2: x\n", 10, 'unknown key "name2"'),
    ],
)
def test_wrong_types(extra, line, fragment):
    e = err_of(MINIMAL + extra)
    assert e.code == 20003
    assert e.message.startswith(f"line {line}: ")
    assert fragment in e.message


def test_target_port_must_be_integer():
    e = err_of(MINIMAL.replace("port: 4000", "port: '4000'"))
    assert e.message.startswith("line 5: ") and "target-database.port" in e.message


def test_malformed_yaml():
    e = err_of("name: t\ntask-mode: [all\n")
    assert e.code == 20003 and e.message.startswith("line ")


def test_not_a_mapping():
    assert err_of("- a\n- b\n").code == 20003


@pytest.mark.parametrize(
    ("mutate", "code", "fragment"),
    [
        (lambda t: t.replace("name: t\n", ""), 20019, "must specify a unique task name"),
        (
            lambda t: t.replace("task-mode: all", "task-mode: fast"),
            20020,
            "line 2: please specify right task-mode",
        ),
        (
            lambda t: t.split("target-database:")[0] + "mysql-instances:\n  - source-id: s1\n",
            20021,
            "target-database",
        ),
        (lambda t: t.split("mysql-instances:")[0], 20013, "at least one mysql-instances"),
        (lambda t: t + "shard-mode: both\n", 20033, "line 10: shard mode both not supported"),
        (
            lambda t: t + "    route-rules: [r9]\n",
            20023,
            "line 10: mysql-instance(0)'s route-rules r9 not exist",
        ),
        (lambda t: t + "    filter-rules: [f9]\n", 20024, "mysql-instance(0)'s filter-rules f9 not exist"),
        (lambda t: t + "    block-allow-list: b9\n", 20026, "line 10: mysql-instance(0)'s list b9 not exist"),
        (lambda t: t + "    mydumper-config-name: m9\n", 20027, "mydumper config m9 not exist"),
        (lambda t: t + "    loader-config-name: l9\n", 20029, "loader config l9 not exist"),
        (lambda t: t + "    syncer-config-name: s9\n", 20030, "syncer config s9 not exist"),
        (lambda t: t + "    expression-filters: [e9]\n", 20040, "expression-filters e9 not exist"),
        (lambda t: t + "    validator-config-name: v9\n", 20056, "continuous validator config v9 not exist"),
        (lambda t: t + "  - source-id: s1\n", 20014, "mysql-instance (0) and (1) have same source-id (s1)"),
        (lambda t: t + "  - source-id: ''\n", 20005, "mysql-instance: 1st: empty source-id not valid"),
        (
            lambda t: t + "  - meta: {binlog-pos: 4}\n    source-id: s2\n",
            20011,
            "source s2: must specify `binlog-name`",
        ),
        (
            lambda t: t + "column-mappings:\n  c:\n    schema-pattern: a\n",
            20064,
            "column-mapping is not supported",
        ),
        (lambda t: t + "    column-mapping-rules: [c]\n", 20064, "column-mapping is not supported"),
        (
            lambda t: t + "    syncer:\n      safe-mode-duration: 10x\n",
            20060,
            "safe-mode-duration '10x' parsed failed",
        ),
        (
            lambda t: t + "    syncer:\n      safe-mode: true\n      safe-mode-duration: 0s\n",
            20061,
            "conflicts",
        ),
        (lambda t: t + "strict-optimistic-shard-mode: true\n", 20066, "strict-optimistic-shard-mode"),
        (lambda t: t + "collation_compatible: medium\n", 20052, "collation compatible medium not supported"),
        (lambda t: t + "online-ddl-scheme: lhm\n", 20007, "online scheme lhm not supported"),
        (lambda t: t + "ignore-checking-items: [nope]\n", 20001, "checking item nope is not supported"),
        (lambda t: t + "timezone: Mars/Olympus\n", 20008, "invalid timezone string: Mars/Olympus"),
        (lambda t: t + 'timezone: "+15:00"\n', 20008, "invalid timezone string: +15:00"),
        (
            lambda t: t + "routes:\n  r:\n    schema-pattern: a\n    target-schema: b\n",
            20038,
            "[r] are set in global",
        ),
        (
            lambda t: t + "    mydumper-config-name: g\n    mydumper: {threads: 1}\nmydumpers: {g: {}}\n",
            20015,
            "",
        ),
        (
            lambda t: t + "    loader-config-name: g\n    loader: {pool-size: 1}\nloaders: {g: {}}\n",
            20016,
            "",
        ),
        (lambda t: t + "    syncer-config-name: g\n    syncer: {batch: 1}\nsyncers: {g: {}}\n", 20017, ""),
        (
            lambda t: t + "    route-rules: [r, r]\nroutes: {r: {schema-pattern: a, target-schema: b}}\n",
            20032,
            "mysql-instance(0)'s route-rules: r",
        ),
        (lambda t: t + "    loader: {import-mode: turbo}\n", 20053, "invalid load mode 'turbo'"),
        (lambda t: t + "    loader: {on-duplicate-logical: merge}\n", 20054, "'merge'"),
        (
            lambda t: t + "    validator-config-name: v\nvalidators: {v: {mode: half}}\n",
            20055,
            "invalid validation mode",
        ),
        (lambda t: t + "    mydumper: {chunk-filesize: lots}\n", 20047, "invalid `chunk-filesize` lots"),
        (lambda t: t + "shadow-table-rules: ['_(.+)_(new)_(x)']\n", 20048, "exactly one submatch"),
        (
            lambda t: t + "    route-rules: [r]\nroutes: {r: {schema-pattern: 'a*b', target-schema: b}}\n",
            20045,
            "",
        ),
        (lambda t: t + "    route-rules: [r]\nroutes: {r: {schema-pattern: a}}\n", 20045, "source s1"),
        (
            lambda t: t + "    filter-rules: [f]\nfilters: {f: {schema-pattern: a, action: Maybe}}\n",
            20037,
            "",
        ),
        (
            lambda t: t
            + "    filter-rules: [f]\nfilters: {f: {schema-pattern: a, events: [explode], action: Do}}\n",
            20037,
            "",
        ),
        (lambda t: t + "    block-allow-list: b\nblock-allow-list: {b: {do-dbs: ['~(']}}\n", 20044, ""),
        (
            lambda t: t
            + "    expression-filters: [e]\nexpression-filter: {e: {table: t, insert-value-expr: a>1}}\n",
            20042,
            "expression-filter e has empty schema",
        ),
        (
            lambda t: t + "    expression-filters: [e]\nexpression-filter:\n  e: {schema: s, table: t, "
            "insert-value-expr: a > 1, delete-value-expr: b > 1}\n",
            20039,
            "can only specify one of",
        ),
        (
            lambda t: t + "    expression-filters: [e]\nexpression-filter: {e: {schema: s, table: t, "
            "insert-value-expr: 'a >'}}\n",
            20041,
            "has wrong grammar",
        ),
    ],
)
def test_semantic_errors(mutate, code, fragment):
    e = err_of(mutate(MINIMAL))
    assert e.code == code, str(e)
    assert fragment in e.message, str(e)


def test_semantic_error_carries_workaround():
    e = err_of(MINIMAL + "    route-rules: [r9]\n")
    assert "Workaround: Please check the `route-rules` config in task configuration file." in str(e)


def test_import_into_rejects_several_sources():
    text = MINIMAL + "  - source-id: s2\n    loader: {import-mode: import-into}\n"
    assert err_of(text).code == 20068


def test_foreign_key_checks_rejects_compact():
    text = MINIMAL.replace('  password: ""\n', '  password: ""\n  session: {foreign_key_checks: 1}\n')
    assert err_of(text + "    syncer: {compact: true}\n").code == 20070


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("from: {host: h}\n", 40005, "non-empty source ID"),
        ("source-id: " + "x" * 33 + "\nfrom: {host: h}\n", 40006, "more than max allowed value 32"),
        (
            "source-id: s\nrelay-binlog-name: mysql-bin\n",
            40007,
            "line 2: relay-binlog-name mysql-bin not valid",
        ),
        ("source-id: s\nchecker: {backoff-max: 500ms}\n", 20043, "`backoff-max` value 500ms is less than"),
        ("source-id: s\nchecker: {backoff-max: 5}\n", 20003, "missing unit"),
        ("source-id: s\nfilters:\n- schema-pattern: a\n  action: Nope\n", 20037, ""),
        ("source-id: s\nenable-gtid: on\n", 20003, "expected true or false"),
        ("source-id: s\nserver-id: 0x1f\n", 20003, "expected an integer"),
        ("source-id: s\nflavor: postgres\n", 20003, "flavor"),
    ],
)
def test_source_config_errors(text, code, fragment):
    e = err_of(text, load_source_config)
    assert e.code == code, str(e)
    assert fragment in e.message, str(e)


# ---- passwords and dumping ---------------------------------------------------------------------


def test_encrypted_passwords_are_decrypted_and_plaintext_kept():
    cipher = encrypt.encrypt("s3cret!")
    cfg = load_task_config(MINIMAL.replace('password: ""', f'password: "{cipher}"'))
    assert cfg.target.password == "s3cret!"
    plain = load_task_config(MINIMAL.replace('password: ""', 'password: "not/base64@@"'))
    assert plain.target.password == "not/base64@@"


def test_dump_masks_passwords():
    src = load_source_config("source-id: s\nfrom: {host: h, user: u, password: hunter2}\n")
    text = dump_source_config(src)
    assert "password: '******'" in text and "hunter2" not in text
    assert "hunter2" in dump_source_config(src, mask_password=False)
    task = load_task_config(FULL_TASK)
    dumped = dump_task_config(task)
    assert "password: '******'" in dumped and "123456" not in dumped


def test_empty_password_is_not_masked():
    src = load_source_config("source-id: s\nfrom: {host: h, user: u}\n")
    assert "password: ''" in dump_source_config(src)


def test_dump_round_trips():
    task = load_task_config(FULL_TASK)
    again = load_task_config(dump_task_config(task, mask_password=False))
    for sid in task.source_ids:
        a, b = task.subtask(sid), again.subtask(sid)
        assert a == b
    src = load_source_config(
        "source-id: s\nfrom: {host: h, user: u, password: x}\nenable-gtid: true\nserver-id: 7\n"
    )
    assert load_source_config(dump_source_config(src, mask_password=False)) == src


def test_dump_uses_dm_key_names_and_durations():
    task = load_task_config(FULL_TASK)
    text = dump_task_config(task)
    for k in (
        "target-database:",
        "mysql-instances:",
        "block-allow-list:",
        "collation_compatible: loose",
        "safe-mode-duration: 1m30s",
        "db-name: user",
        "extract-table:",
    ):
        assert k in text
    assert "source-ids" not in text and "raw-text" not in text


def test_every_key_is_declared_once_with_doc():
    for cls in (
        TaskConfig,
        SourceConfig,
        MySQLInstance,
        SyncerConfig,
        LoaderConfig,
        MydumperConfig,
        DBConfig,
        RouteRule,
        EventFilterRule,
        BAList,
        Meta,
        CheckerConfig,
        PurgeConfig,
    ):
        keys = config_keys(cls)
        names = [k[0] for k in keys]
        assert len(names) == len(set(names)), cls
        assert all(doc for *_, doc in keys), cls


def test_parse_file_size():
    assert parse_file_size("64") == 64 << 20
    assert parse_file_size("") == 64 << 20
    assert parse_file_size("1GiB") == 1 << 30
    assert parse_file_size("512k") == 512 << 10
    assert parse_file_size("big") is None


# ---- yamlstrict ---------------------------------------------------------------------------------


def test_yamlstrict_plain_conversion_is_yaml_1_2():
    tree = ys.parse("a: on\nb: yes\nc: 0755\nd: true\ne: 12\nf: 1.5\ng: ~\nh: '7'\n")
    assert ys.to_plain(tree) == {
        "a": "on",
        "b": "yes",
        "c": 755,
        "d": True,
        "e": 12,
        "f": 1.5,
        "g": None,
        "h": "7",
    }


def test_yamlstrict_lines_anchors_and_merge():
    tree = ys.parse("base: &b\n  x: 1\n  y: 2\nuse:\n  <<: *b\n  y: 3\n")
    assert ys.to_plain(tree)["use"] == {"x": 1, "y": 3}
    assert tree.key_line("use") == 4
    assert tree.items["use"].key_line("y") == 6


def test_yamlstrict_rejects_multiple_documents():
    with pytest.raises(ys.YAMLStrictError):
        ys.parse("a: 1\n---\nb: 2\n")


def test_yamlstrict_empty_document():
    assert ys.parse("") is None
    assert ys.parse("# only a comment\n") is None


def test_go_durations():
    assert ys.parse_duration("1m30s") == 90
    assert ys.parse_duration("1.5h") == 5400
    assert ys.parse_duration("0") == 0
    assert ys.parse_duration("-2s") == -2
    for bad in ("", "60", "1x", "s", "1m30"):
        with pytest.raises(ValueError):
            ys.parse_duration(bad)
    assert ys.format_duration(300) == "5m0s"
    assert ys.format_duration(60) == "1m0s"
    assert ys.format_duration(90.5) == "1m30.5s"
    assert ys.format_duration(3600) == "1h0m0s"
    assert ys.format_duration(0.25) == "250ms"
    assert ys.format_duration(0) == "0s"
    assert ys.format_duration(1) == "1s"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("source-id: s\nserver-id: 4294967296\n", '"server-id" in source config: 4294967296 is out of range'),
        (
            "source-id: s\nfrom: {port: 70000}\n",
            ('"from.port" in source config: 70000 is out of range [0, 65535]'),
        ),
        ("source-id: s\npurge: {expires: -1}\n", '"purge.expires"'),
    ],
)
def test_numbers_out_of_range(text, fragment):
    e = err_of(text, load_source_config)
    assert e.code == 20003 and e.message.startswith("line 2: ") and fragment in e.message


def test_syncer_values_out_of_range():
    e = err_of(MINIMAL + "    syncer: {worker-count: -1}\n")
    assert e.code == 20003 and "worker-count" in e.message


def test_dump_follows_dm_key_order():
    lines = dump_task_config(load_task_config(MINIMAL)).splitlines()
    assert lines[:4] == ["name: t", "task-mode: all", "is-sharding: false", "shard-mode: ''"]
    src = dump_source_config(load_source_config("source-id: s\n")).splitlines()
    assert src[0] == "enable: true" and "source-id: s" in src


def test_validator_defaults_and_errors():
    text = MINIMAL + (
        "    validator-config-name: v\nvalidators:\n"
        "  v: {mode: '', worker-count: 0, batch-query-size: 0}\n"
    )
    v = load_task_config(text).subtask("s1").validator
    assert (v.mode, v.worker_count, v.batch_query_size, v.validate_interval) == ("none", 4, 100, 10.0)
    bad = MINIMAL + "    validator-config-name: v\nvalidators:\n  v: {max-pending-row-size: huge}\n"
    e = err_of(bad)
    assert e.code == 20003 and e.message.startswith("line 12: ")
