"""Stored configurations rendered as DM's ``get-config`` and ``config export`` return them.

``get-config`` masks secrets (``engine/config/secrets.py``); ``config export``
(``ListTaskConfigs``/``ListSourceConfigs``) returns them DM-encrypted so that ``config import``
round-trips without a plaintext password.
Rendering errors are raised as :class:`~dmshell.engine.errors.DMError`.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

from dmshell.daemon.store import Store
from dmshell.engine.config.encrypt import encrypt_or_plaintext
from dmshell.engine.config.load import (
    dump_source_config,
    dump_task_config,
    load_source_config,
    load_task_config,
)
from dmshell.engine.config.secrets import copy_db, map_secrets
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.task import TaskConfig

_Cfg = TypeVar("_Cfg", SourceConfig, TaskConfig)


def task_config(store: Store, task: str) -> str | None:
    """The task's configuration, passwords masked (None when there is no such task)."""
    records = store.subtasks(task=task)
    if not records:
        return None
    return dump_task_config(load_task_config(records[0].task_yaml), mask_password=True)


def source_config(store: Store, source: str) -> str | None:
    """The source's configuration, passwords masked (None when there is no such source)."""
    text = store.get_source(source)
    return None if text is None else dump_source_config(load_source_config(text), mask_password=True)


def subtask_configs(store: Store, task: str) -> list[str]:
    """The configuration of each subtask of the task, passwords masked."""
    return [
        dump_task_config(load_task_config(r.task_yaml), mask_password=True) for r in store.subtasks(task=task)
    ]


def export_task(text: str) -> str:
    return dump_task_config(for_export(load_task_config(text)), mask_password=False)


def export_source(text: str) -> str:
    return dump_source_config(for_export(load_source_config(text)), mask_password=False)


def master_config(name: str, master_addr: str, data_dir: str) -> str:
    """The master's own configuration (TOML, as DM's ``get-config master``)."""
    return (
        f'name = "{name}"\nmaster-addr = "{master_addr}"\n'
        f'advertise-addr = "{master_addr}"\ndata-dir = "{data_dir}"\n'
    )


def for_export(cfg: _Cfg) -> _Cfg:
    """A copy of a source or task config whose secrets (passwords, ``ssl-key-base64``) are
    DM-encrypted: loading decrypts them again, so export/import round-trips."""
    cfg = dataclasses.replace(cfg)
    for attr in ("from_db", "target"):
        db = getattr(cfg, attr, None)
        if db is not None:
            db = copy_db(db)
            map_secrets(db, encrypt_or_plaintext)
            setattr(cfg, attr, db)
    return cfg
