"""Keys dmshell declares (DM's files have them) but does not act on yet: refused unless at their default.

Nothing is accepted and ignored (``docs/decisions.md``). A key below may be written only with its
declared default (DM's); any other value fails ``load_source_config`` / ``load_task_config`` — so
``operate-source``, ``start-task`` and ``check-task`` — with ``ErrConfigNotSupportedYet`` naming
the key, its path and its line. The check runs after DM's own checks and adjustments, so a value
DM itself rejects gets DM's error, and aliases (``import-mode: sql``) count as what they mean.

**The issue that implements a feature deletes its row.**
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, is_dataclass
from typing import Any

import yaml

from dmshell.engine import yamlstrict as ys
from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.task import TaskConfig
from dmshell.engine.config.units import ExperimentalConfig, LoaderConfig, MydumperConfig, ValidatorConfig
from dmshell.engine.config.yamlfile import Lines
from dmshell.engine.errors import ErrConfigNotSupportedYet


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A feature dmshell lacks, and the keys of one config class that would turn it on."""

    feature: str
    owner: type
    #: YAML keys of ``owner``, space-separated; empty = every key of ``owner``
    keys: str = ""


# One row per missing feature. Shard coordination (shard-mode, is-sharding) is not here: it is
# accepted, and the sync unit stops with an error the moment it would be needed.
# fmt: off
REFUSED: tuple[Unsupported, ...] = (
    Unsupported("disabling a source", SourceConfig, "enable"),
    Unsupported("physical and import-into load", LoaderConfig, "import-mode sorting-dir-physical "
                "on-duplicate-physical disk-quota-physical checksum-physical analyze range-concurrency "
                "compress-kv-pairs pd-addr"),
    Unsupported("mydumper options", MydumperConfig, "mydumper-path skip-tz-utc"),
    Unsupported("continuous validation", ValidatorConfig),
    Unsupported("strict collation compatibility", TaskConfig, "collation_compatible"),
    Unsupported("asynchronous checkpoint flush", ExperimentalConfig, "async-checkpoint-flush"),
)
# fmt: on


def _index(rows: tuple[Unsupported, ...]) -> dict[type, list[tuple[Unsupported, ys.KeySpec]]]:
    """The refused keys by config class; a row naming a key its class lacks fails at import."""
    out: dict[type, list[tuple[Unsupported, ys.KeySpec]]] = {}
    for row in rows:
        by_name = {s.name: s for s in ys.specs(row.owner)}
        for name in row.keys.split() or list(by_name):
            if name not in by_name:
                raise ValueError(f"{row.owner.__name__} has no key {name!r}")
            out.setdefault(row.owner, []).append((row, by_name[name]))
    return out


_BY_CLASS = _index(REFUSED)


def refuse_unsupported(cfg: Any, at: Lines) -> None:
    """Raise ``ErrConfigNotSupportedYet`` for the first refused key set to a non-default value."""
    for obj, path in _walk(cfg, ""):
        for row, spec in _BY_CLASS.get(type(obj), ()):
            value = getattr(obj, spec.attr)
            if value != spec.default:
                name = f"{path}.{spec.name}" if path else spec.name
                raise ErrConfigNotSupportedYet(
                    name, at.line(obj, spec.name), row.feature, _yaml_text(spec, spec.default)
                )


def _walk(obj: Any, path: str) -> Iterator[tuple[Any, str]]:
    """Every config object in ``obj``'s tree with its YAML path (``loaders.g``, ``mysql-instances[0]``)."""
    yield obj, path
    for spec in ys.specs(type(obj)):
        value = getattr(obj, spec.attr)
        sub = f"{path}.{spec.name}" if path else spec.name
        if isinstance(value, dict):
            children = [(v, f"{sub}.{k}") for k, v in value.items()]
        elif isinstance(value, list):
            children = [(v, f"{sub}[{i}]") for i, v in enumerate(value)]
        else:
            children = [(value, sub)]
        for child, child_path in children:
            if is_dataclass(child) and not isinstance(child, type):
                yield from _walk(child, child_path)


def _yaml_text(spec: ys.KeySpec, value: Any) -> str:
    """A default as it would be written in YAML (``false``, ``''``, ``5m0s``, ``[]``)."""
    plain = ys.encode_value(value, spec.tp)
    return yaml.safe_dump(plain, default_flow_style=True).removesuffix("\n").removesuffix("\n...")
