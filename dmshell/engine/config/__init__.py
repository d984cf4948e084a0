"""DM's source and task configuration: strict YAML, every documented key declared once.

Import a name from the module that defines it (nothing is re-exported here):

* :mod:`.load` — ``load_source_config``, ``load_task_config``, ``dump_*``: the entry points;
* :mod:`.database` — ``DBConfig``, a connection; :mod:`.source` — ``SourceConfig``;
* :mod:`.task` — ``TaskConfig``, ``MySQLInstance``, ``Meta``; :mod:`.subtask` — ``SubTaskConfig``;
* :mod:`.units` — dump, load, sync and validator settings; :mod:`.checks` — DM's checks of a task;
* :mod:`.unsupported` — the one table of keys refused until their feature exists;
* :mod:`.yamlfile` — decoding with lines, dumping; :mod:`.encrypt` — ``dmctl encrypt``.

The rule types of a task (block-allow list, routes, filters) live with the filters
(:mod:`dmshell.engine.filters.rule_types`), which never import this package.
"""
