"""A config file as YAML text: decoding with DM's errors, the line of a key, dumping in DM's order.

Decoding rejects unknown keys, duplicate keys and values of the wrong type with a DM-style error
(``ErrConfigYamlTransform``, 20003) that names the key and the line (:mod:`dmshell.engine.yamlstrict`
does the binding); :class:`Lines` prefixes the semantic errors raised after decoding with the line
of the offending key.
"""

from __future__ import annotations

from typing import Any

from dmshell.engine import yamlstrict as ys
from dmshell.engine.errors import DMError, ErrConfigYamlTransform

MASKED_PASSWORD = "******"


class Lines:
    """Where the keys of a decoded config were written; prefixes semantic errors with the line."""

    def __init__(self, pos: ys.Positions) -> None:
        self.pos = pos

    def line(self, obj: Any, yaml_key: str | None = None) -> int:
        return self.pos.line(obj, yaml_key)

    def has(self, obj: Any, yaml_key: str) -> bool:
        return self.pos.has(obj, yaml_key)

    def err(self, error: DMError, obj: Any = None, yaml_key: str | None = None) -> DMError:
        line = self.pos.line(obj, yaml_key) if obj is not None else 0
        return error.annotate(f"line {line}") if line else error


def decode(text: str, cls: type, where: str) -> tuple[Any, Lines]:
    """A ``cls`` instance from YAML text, and where its keys were; DM's errors for bad input."""
    try:
        root = ys.parse(text)
        cfg, pos = ys.decode(root, cls, where)
    except ys.BindError as exc:
        on_error = getattr(exc.meta, "on_error", None)
        if on_error is not None and exc.reason_text:
            err = on_error(exc.raw, exc.reason_text)
            if isinstance(err, DMError):
                raise err.annotate(f"line {exc.line}") from None
        raise ErrConfigYamlTransform(str(exc)) from None
    except ys.YAMLStrictError as exc:
        raise ErrConfigYamlTransform(str(exc)) from None
    return cfg, Lines(pos)


def dump(cfg: Any, order: tuple[str, ...], mask_password: bool) -> str:
    """Every key of ``cfg`` as YAML, top-level keys in ``order`` (DM's struct field order);
    secrets printed as ``'******'`` unless unmasked."""
    data = ys.encode(cfg, mask_secrets=mask_password, mask=MASKED_PASSWORD)
    rank = {k: i for i, k in enumerate(order)}
    return ys.dump_yaml(dict(sorted(data.items(), key=lambda kv: rank.get(kv[0], len(rank)))))
