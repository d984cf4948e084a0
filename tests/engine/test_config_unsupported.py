"""No configuration accepted and ignored: every key of a feature dmshell lacks is refused at load
when set to anything but its default (naming the key, its path and its line), and accepted at it."""

from __future__ import annotations

import textwrap

import pytest

from dmshell.engine.config import unsupported
from dmshell.engine.config.load import load_source_config, load_task_config
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.task import TaskConfig
from dmshell.engine.config.units import ExperimentalConfig, LoaderConfig, MydumperConfig, ValidatorConfig
from dmshell.engine.errors import DMError

MINIMAL_TASK = textwrap.dedent("""\
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

# where a key is written: (its class, how to load, the document with {k}: {v} in place, the path
# prefix and line the error must name)
CONTEXTS = {
    "source": (SourceConfig, load_source_config, "source-id: s\nfrom: {{host: h}}\n{k}: {v}\n", "", 3),
    "task": (TaskConfig, load_task_config, MINIMAL_TASK + "{k}: {v}\n", "", 10),
    "experimental": (
        ExperimentalConfig,
        load_task_config,
        MINIMAL_TASK + "experimental:\n  {k}: {v}\n",
        "experimental.",
        11,
    ),
    "loader": (
        LoaderConfig,
        load_task_config,
        MINIMAL_TASK + "    loader:\n      {k}: {v}\n",
        "mysql-instances[0].loader.",
        11,
    ),
    "loaders": (
        LoaderConfig,
        load_task_config,
        MINIMAL_TASK + "    loader-config-name: g\nloaders:\n  g:\n    {k}: {v}\n",
        "loaders.g.",
        13,
    ),
    "mydumpers": (
        MydumperConfig,
        load_task_config,
        MINIMAL_TASK + "    mydumper-config-name: g\nmydumpers:\n  g:\n    {k}: {v}\n",
        "mydumpers.g.",
        13,
    ),
    "validators": (
        ValidatorConfig,
        load_task_config,
        MINIMAL_TASK + "    validator-config-name: v\nvalidators:\n  v:\n    {k}: {v}\n",
        "validators.v.",
        13,
    ),
}

# (context, key, a value that needs the missing feature, the default as the error prints it)
CASES = [
    ("source", "enable", "false", "true"),
    ("task", "collation_compatible", "strict", "loose"),
    ("experimental", "async-checkpoint-flush", "true", "false"),
    ("loader", "import-mode", "physical", "logical"),
    ("loaders", "import-mode", "import-into", "logical"),
    ("loader", "sorting-dir-physical", "/sort", "''"),
    ("loader", "on-duplicate-physical", "manual", "none"),
    ("loader", "disk-quota-physical", "1073741824", "0"),
    ("loader", "checksum-physical", "optional", "required"),
    ("loader", "analyze", "required", "optional"),
    ("loader", "range-concurrency", "16", "0"),
    ("loader", "compress-kv-pairs", "gz", "''"),
    ("loader", "pd-addr", "pd:2379", "''"),
    ("mydumpers", "mydumper-path", "/usr/bin/mydumper", "./bin/mydumper"),
    ("mydumpers", "skip-tz-utc", "false", "true"),
    ("validators", "mode", "full", "none"),
    ("validators", "worker-count", "8", "4"),
    ("validators", "validate-interval", "1m", "10s"),
    ("validators", "check-interval", "1m", "5s"),
    ("validators", "row-error-delay", "1h", "30m0s"),
    ("validators", "meta-flush-interval", "1m", "5m0s"),
    ("validators", "batch-query-size", "10", "100"),
    ("validators", "max-pending-row-size", "1g", "500m"),
    ("validators", "max-pending-row-count", "10", "2147483647"),
]


@pytest.mark.parametrize(
    ("context", "key", "value", "default"), CASES, ids=[f"{c}.{k}" for c, k, *_ in CASES]
)
def test_a_non_default_value_is_refused_naming_key_and_line(context, key, value, default):
    _, load, template, prefix, line = CONTEXTS[context]
    with pytest.raises(DMError) as info:
        load(template.format(k=key, v=value))
    err = info.value
    assert err.code == 20900, str(err)
    assert err.message.startswith(f"{prefix}{key} (line {line}): not supported yet by dmshell ("), err.message
    assert err.message.endswith(f"); remove it or set it to {default}"), err.message


@pytest.mark.parametrize(
    ("context", "key", "value", "default"), CASES, ids=[f"{c}.{k}" for c, k, *_ in CASES]
)
def test_the_default_value_is_accepted(context, key, value, default):
    _, load, template, _, _ = CONTEXTS[context]
    load(template.format(k=key, v=default))


def test_every_refused_key_has_a_case():
    """A new row in the table needs its cases above (and a deleted row makes its cases fail)."""
    refused = {(row.owner, spec.name) for specs in unsupported._BY_CLASS.values() for row, spec in specs}
    covered = {(CONTEXTS[c][0], k) for c, k, *_ in CASES}
    assert refused == covered


@pytest.mark.parametrize(
    ("text", "load"),
    [
        (MINIMAL_TASK + "    loader: {import-mode: sql}\n", load_task_config),  # DM's old name of logical
        (MINIMAL_TASK + "    loader: {import-mode: loader}\n", load_task_config),
        (MINIMAL_TASK + "collation_compatible: ''\n", load_task_config),  # empty = loose, as in DM
        (MINIMAL_TASK + "    validator-config-name: v\nvalidators: {v: {mode: ''}}\n", load_task_config),
        (MINIMAL_TASK.replace('  password: ""\n', '  password: ""\n  security: {}\n'), load_task_config),
        ("source-id: s\nfrom: {host: h, security: {ssl-ca: ''}}\n", load_source_config),
        # DM overwrites these checker knobs with its defaults: they mean nothing in DM either
        ("source-id: s\nchecker: {check-interval: 1m, backoff-min: 2s}\n", load_source_config),
    ],
)
def test_what_dm_reads_as_the_default_is_accepted(text, load):
    load(text)


@pytest.mark.parametrize(
    "extra",
    [
        "shard-mode: pessimistic\n",
        "shard-mode: optimistic\nstrict-optimistic-shard-mode: true\n",
        "is-sharding: true\n",
        "online-ddl: false\n",
        "online-ddl-scheme: gh-ost\n",
        "shadow-table-rules: ['^_(.+)_(?:new|gho)$']\ntrash-table-rules: ['^_(.+)_(?:del)$']\n",
    ],
)
def test_shard_and_online_ddl_keys_are_accepted(extra):
    """Not refused: the sync unit stops with an error the moment shard coordination or an online
    DDL tool's tables would need handling (docs/decisions.md)."""
    load_task_config(MINIMAL_TASK + extra)


def test_a_malformed_value_gets_dms_error_first():
    with pytest.raises(DMError) as info:
        load_task_config(MINIMAL_TASK + "    loader: {import-mode: turbo}\n")
    assert info.value.code == 20053  # ErrConfigInvalidLoadMode, not "not supported yet"
    with pytest.raises(DMError) as info:
        load_source_config("source-id: s\nrelay-binlog-name: mysql-bin\n")
    assert info.value.code == 40007  # ErrWorkerRelayBinlogName


def test_a_table_row_naming_a_missing_key_fails():
    with pytest.raises(ValueError, match="LoaderConfig has no key 'turbo'"):
        unsupported._index((unsupported.Unsupported("x", LoaderConfig, "dir turbo"),))
