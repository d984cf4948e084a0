"""Loading and dumping source and task files: the entry points of the config package.

* ``load_source_config(text) -> SourceConfig`` (DM's ``SourceCfgFromYamlAndVerify``)
* ``load_task_config(text) -> TaskConfig`` (DM's ``TaskConfig.FromYaml`` + ``adjust`` + subtask checks)
* ``dump_source_config(cfg, mask_password=True)`` / ``dump_task_config(cfg, ...)``: YAML, every key

Loading is strict: unknown keys, duplicate keys and values of the wrong type are errors naming the
key and its line (``ErrConfigYamlTransform``, 20003); semantic problems raise DM's specific config
errors, prefixed with the line; keys of features dmshell lacks must keep their default
(:mod:`.unsupported`).
"""

from __future__ import annotations

from typing import Any

from dmshell.engine import yamlstrict as ys
from dmshell.engine.config import source, task
from dmshell.engine.config.checks import adjust_task
from dmshell.engine.config.source import SourceConfig, adjust_source
from dmshell.engine.config.task import TaskConfig
from dmshell.engine.config.unsupported import refuse_unsupported
from dmshell.engine.config.yamlfile import decode, dump


def load_source_config(text: str) -> SourceConfig:
    """Parse and verify a source config file (DM's ``SourceCfgFromYamlAndVerify``)."""
    cfg, at = decode(text, SourceConfig, "source config")
    adjust_source(cfg, at)
    refuse_unsupported(cfg, at)
    return cfg


def load_task_config(text: str) -> TaskConfig:
    """Parse and verify a task config file (DM's ``TaskConfig.FromYaml`` + ``adjust`` + subtask checks)."""
    cfg, at = decode(text, TaskConfig, "task config")
    cfg.raw_text = text
    adjust_task(cfg, at)
    refuse_unsupported(cfg, at)
    return cfg


def dump_source_config(cfg: SourceConfig, mask_password: bool = True) -> str:
    """The source config as YAML, every key; the password printed as ``'******'`` unless unmasked."""
    return dump(cfg, source.DUMP_ORDER, mask_password)


def dump_task_config(cfg: TaskConfig, mask_password: bool = True) -> str:
    """The task config as YAML, every key; passwords printed as ``'******'`` unless unmasked."""
    return dump(cfg, task.DUMP_ORDER, mask_password)


def config_keys(cls: type) -> list[tuple[str, str, Any, str]]:
    """(YAML key, type, default, doc) of every key of a config class, for help and docs."""
    return [(s.name, str(s.tp), s.default, s.doc) for s in ys.specs(cls)]
