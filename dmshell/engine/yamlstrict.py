"""A strict YAML front end for configuration files.

PyYAML's loaders follow YAML 1.1: ``on``/``yes`` become booleans, ``0755`` becomes octal 493, and a
repeated mapping key silently overwrites the earlier one. DM's Go decoder is stricter and
configuration errors must point at a line. So this module only *composes* the document (PyYAML
builds the node graph and keeps every node's position) and leaves the interpretation of scalars
to the caller, who knows the target type of every key:

* :func:`parse` returns a tree of :class:`YMap` / :class:`YSeq` / :class:`YScalar` nodes, each with
  its 1-based ``line``; mapping keys keep their own line too.
* duplicate keys raise :class:`YAMLStrictError` naming both lines;
* :func:`to_bool`, :func:`to_int`, :func:`to_float`, :func:`to_str` convert a scalar for a target
  type: booleans accept only ``true``/``false``, integers are decimal (``0755`` is 755), and a
  string target takes the scalar's text exactly as written (``on`` stays ``"on"``, ``0755`` stays
  ``"0755"``, ``64`` becomes ``"64"``);
* :func:`to_plain` converts a node without a target type (YAML 1.2 core schema).

Anchors and aliases work; ``<<`` merge keys are supported (explicit keys win over merged ones).
Hostile documents are refused before anything expands them (:func:`check_aliases`): at most
``MAX_ALIASES`` alias uses, an expanded size of at most ``MAX_EXPANSION`` times the written one
(a "billion laughs" alias bomb), no alias inside its own anchor (a recursive alias).
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin, get_type_hints

import yaml

try:  # the C loader composes the same nodes with the same marks, only faster
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader


class YAMLStrictError(ValueError):
    """A YAML document that is malformed or breaks a strictness rule; ``line`` is 1-based (0 = unknown)."""

    def __init__(self, message: str, line: int = 0) -> None:
        self.line = line
        self.reason = message
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(slots=True)
class YScalar:
    """A scalar exactly as written. ``quoted`` is true for '...' / "..." and block (| >) scalars."""

    raw: str
    line: int
    quoted: bool = False

    @property
    def is_null(self) -> bool:
        return not self.quoted and self.raw in _NULLS

    def kind(self) -> str:
        """A YAML-ish name of the value's type, for error messages."""
        if self.quoted:
            return "string"
        if self.raw in _NULLS:
            return "null"
        if self.raw in _TRUE or self.raw in _FALSE:
            return "bool"
        if _INT_RE.fullmatch(self.raw):
            return "integer"
        if _FLOAT_RE.fullmatch(self.raw):
            return "float"
        return "string"


@dataclass(slots=True)
class YSeq:
    items: list[Node]
    line: int

    def kind(self) -> str:
        return "list"


@dataclass(slots=True)
class YMap:
    """A mapping; ``items`` maps each key (as a string) to its value node, ``key_lines`` to its line."""

    items: dict[str, Node]
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)

    def kind(self) -> str:
        return "mapping"

    def key_line(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


Node = YScalar | YSeq | YMap

_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_INT_RE = re.compile(r"[-+]?[0-9]+")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_MERGE_TAG = "tag:yaml.org,2002:merge"


#: alias uses one document may make (DM's task files use a handful)
MAX_ALIASES = 1000
#: the expanded document may be this many times larger than the nodes written, plus EXPANSION_SLACK
MAX_EXPANSION, EXPANSION_SLACK = 10, 10_000


def check_aliases(root: yaml.Node) -> None:
    """Refuse alias bombs and recursive aliases in a composed document (YAMLStrictError). Aliases
    share node objects, so the walk below costs the document's written size, never its expansion."""
    sizes: dict[int, int] = {}  # node → its expanded size, once known
    active: set[int] = set()  # nodes on the current path: meeting one again is recursion
    aliases = 0

    def size(node: yaml.Node) -> int:
        nonlocal aliases
        key = id(node)
        if key in active:
            raise YAMLStrictError("recursive alias: an alias refers to a node that contains it", _line(node))
        if key in sizes:
            aliases += 1
            if aliases > MAX_ALIASES:
                raise YAMLStrictError(f"document contains more than {MAX_ALIASES} aliases", _line(node))
            return sizes[key]
        active.add(key)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = node.value
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        total = 1 + sum(size(child) for child in children)
        active.discard(key)
        sizes[key] = total
        return total

    expanded = size(root)
    limit = MAX_EXPANSION * len(sizes) + EXPANSION_SLACK
    if expanded > limit:
        raise YAMLStrictError(
            f"document contains excessive aliasing: {len(sizes)} nodes expand to {expanded} "
            f"(at most {limit})"
        )


def parse(text: str) -> Node | None:
    """Compose one YAML document into a position-carrying tree; ``None`` for an empty document."""
    try:
        root = yaml.compose(text, Loader=_Loader)
        if root is not None:
            check_aliases(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            problem = f"{exc.context}, {exc.problem}"
        raise YAMLStrictError(problem, line) from None
    except yaml.YAMLError as exc:  # e.g. "expected a single document in the stream"
        raise YAMLStrictError(str(exc).splitlines()[0]) from None
    except RecursionError:
        raise YAMLStrictError("document is nested too deeply") from None
    if root is None:
        return None
    return _convert(root, {})


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _convert(node: yaml.Node, seen: dict[int, Node]) -> Node:
    # aliases share node objects; converting each once keeps anchors cheap and cycles finite
    done = seen.get(id(node))
    if done is not None:
        return done
    if isinstance(node, yaml.ScalarNode):
        out: Node = YScalar(node.value, _line(node), quoted=bool(node.style))
        seen[id(node)] = out
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = YSeq([], _line(node))
        seen[id(node)] = seq
        seq.items.extend(_convert(child, seen) for child in node.value)
        return seq
    assert isinstance(node, yaml.MappingNode)
    mapping = YMap({}, _line(node))
    seen[id(node)] = mapping
    merged: list[YMap] = []
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE_TAG and isinstance(key_node, yaml.ScalarNode) and key_node.value == "<<":
            merged.extend(_merge_sources(value_node, seen))
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            raise YAMLStrictError("mapping keys must be scalars", _line(key_node))
        key = key_node.value
        if key in mapping.items:
            raise YAMLStrictError(
                f'duplicate key "{key}" (first defined at line {mapping.key_lines[key]})', _line(key_node)
            )
        mapping.key_lines[key] = _line(key_node)
        mapping.items[key] = _convert(value_node, seen)
    for source in merged:
        for key, value in source.items.items():
            if key not in mapping.items:
                mapping.items[key] = value
                mapping.key_lines[key] = source.key_line(key)
    return mapping


def _merge_sources(node: yaml.Node, seen: dict[int, Node]) -> list[YMap]:
    targets = node.value if isinstance(node, yaml.SequenceNode) else [node]
    out = []
    for target in targets:
        converted = _convert(target, seen)
        if not isinstance(converted, YMap):
            raise YAMLStrictError("a << merge key needs a mapping or a list of mappings", _line(target))
        out.append(converted)
    return out


# ---- scalar conversion for a known target type ----------------------------------------------------


def to_str(node: YScalar) -> str:
    """The scalar's text as written; null (``~``, empty) gives ``""`` like Go's zero value."""
    return "" if node.is_null else node.raw


def to_bool(node: YScalar) -> bool | None:
    """``true``/``false`` only (YAML 1.2); ``None`` for null. Raises ValueError otherwise."""
    if node.is_null:
        return None
    if not node.quoted:
        if node.raw in _TRUE:
            return True
        if node.raw in _FALSE:
            return False
    raise ValueError(f"expected true or false, got {_show(node)}")


def to_int(node: YScalar) -> int | None:
    """A decimal integer (leading zeros do not mean octal); ``None`` for null."""
    if node.is_null:
        return None
    if not node.quoted and _INT_RE.fullmatch(node.raw):
        return int(node.raw, 10)
    raise ValueError(f"expected an integer, got {_show(node)}")


def to_float(node: YScalar) -> float | None:
    """A decimal number; ``None`` for null."""
    if node.is_null:
        return None
    if not node.quoted and (_INT_RE.fullmatch(node.raw) or _FLOAT_RE.fullmatch(node.raw)):
        return float(node.raw)
    raise ValueError(f"expected a number, got {_show(node)}")


def _show(node: YScalar) -> str:
    return f"{node.kind()} {node.raw!r}" if node.quoted else repr(node.raw)


def to_plain(node: Node | None) -> Any:
    """Convert without a target type, YAML 1.2 core schema (no ``yes``/``on`` booleans, no octal)."""
    if node is None:
        return None
    if isinstance(node, YMap):
        return {k: to_plain(v) for k, v in node.items.items()}
    if isinstance(node, YSeq):
        return [to_plain(v) for v in node.items]
    kind = node.kind()
    if kind == "null":
        return None
    if kind == "bool":
        return node.raw in _TRUE
    if kind == "integer":
        return int(node.raw, 10)
    if kind == "float":
        return float(node.raw)
    return node.raw


# ---- Go-style durations ("60s", "1m30s", "5m0s") ---------------------------------------------------

_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string (``time.ParseDuration``): ``"60s"``, ``"1m30s"``, ``"0"``."""
    s = text.strip()
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total, pos = 0.0, 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m or m.group(1) in ("", "."):
            if re.fullmatch(r"[0-9.]+", s[pos:]):
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def format_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()``: ``300`` → ``"5m0s"``, ``1.5`` → ``"1.5s"``, ``0.25`` → ``"250ms"``."""
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    ns = round(abs(seconds) * 1e9)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _trim(ns / size) + unit
    h, rest = divmod(ns, 3_600_000_000_000)
    m, rest = divmod(rest, 60_000_000_000)
    out = sign
    if h:
        out += f"{h}h"
    if h or m:
        out += f"{m}m"
    return out + _trim(rest / 1e9) + "s"


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text or "0"


# ---- binding YAML nodes to dataclasses ------------------------------------------------------------
#
# A config class is a dataclass whose fields are declared with :func:`key`; the field's name, type
# annotation, default and ``doc`` are the single definition of a configuration key, from which
# decoding (strict, with lines), defaults and encoding (dumping) are all derived.

DURATION = "go-duration"
#: a number of seconds written as a Go duration string in YAML
Duration = Annotated[float, DURATION]
#: ``bounds`` of Go's unsigned integer types
U32 = 2**32 - 1
U64 = 2**64 - 1


def key(
    default: Any = MISSING,
    *,
    doc: str,
    name: str | None = None,
    factory: Callable[[], Any] | None = None,
    deprecated: bool = False,
    internal: bool = False,
    secret: bool = False,
    on_error: Callable[[str, str], Exception] | None = None,
    bounds: tuple[float, float] | None = None,
) -> Any:
    """Declare one configuration key as a dataclass field.

    ``name`` is the YAML key (default: the attribute with ``_`` → ``-``); ``internal`` fields are
    not YAML keys (derived state); ``secret`` values are masked when dumping; ``on_error(raw,
    reason)`` builds the error for a value that does not parse (default: a generic type error);
    ``bounds`` is the inclusive range allowed for a number.
    """
    meta = {
        "yaml": name,
        "doc": doc,
        "deprecated": deprecated,
        "internal": internal,
        "secret": secret,
        "on_error": on_error,
        "bounds": bounds,
    }
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


class BindError(YAMLStrictError):
    """A value that does not fit its key; carries the key's declaration for a specific error."""

    def __init__(self, message: str, line: int, *, raw: str = "", reason: str = "", meta: Any = None) -> None:
        super().__init__(message, line)
        self.raw = raw
        self.reason_text = reason
        self.meta = meta or {}


@dataclass(frozen=True, slots=True)
class KeySpec:
    attr: str
    name: str
    tp: Any
    doc: str
    deprecated: bool
    secret: bool
    on_error: Callable[[str, str], Exception] | None
    bounds: tuple[float, float] | None
    default: Any


_SPECS: dict[type, tuple[KeySpec, ...]] = {}


def specs(cls: type) -> tuple[KeySpec, ...]:
    """The configuration keys of a config dataclass, in declaration order."""
    cached = _SPECS.get(cls)
    if cached is not None:
        return cached
    hints = get_type_hints(cls, include_extras=True)
    out = []
    for f in fields(cls):
        if f.metadata.get("internal"):
            continue
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        else:
            default = MISSING
        out.append(
            KeySpec(
                attr=f.name,
                name=f.metadata.get("yaml") or f.name.replace("_", "-"),
                tp=hints[f.name],
                doc=f.metadata.get("doc", ""),
                deprecated=bool(f.metadata.get("deprecated")),
                secret=bool(f.metadata.get("secret")),
                on_error=f.metadata.get("on_error"),
                bounds=f.metadata.get("bounds"),
                default=default,
            )
        )
    result = tuple(out)
    _SPECS[cls] = result
    return result


class Positions:
    """Where decoded objects came from: their mapping node (lines, which keys were present)."""

    def __init__(self) -> None:
        self._nodes: dict[int, tuple[Any, YMap]] = {}

    def record(self, obj: Any, node: YMap) -> None:
        self._nodes[id(obj)] = (obj, node)  # keep obj alive so its id stays unique

    def node(self, obj: Any) -> YMap | None:
        entry = self._nodes.get(id(obj))
        return entry[1] if entry is not None and entry[0] is obj else None

    def has(self, obj: Any, yaml_key: str) -> bool:
        node = self.node(obj)
        return node is not None and yaml_key in node.items

    def line(self, obj: Any, yaml_key: str | None = None) -> int:
        node = self.node(obj)
        if node is None:
            return 0
        return node.line if yaml_key is None else node.key_line(yaml_key)


def decode(node: Node | None, cls: type, where: str) -> tuple[Any, Positions]:
    """Build ``cls`` from a mapping node, strictly. ``where`` names the document in messages."""
    pos = Positions()
    if node is None:
        node = YMap({}, 1)
    if not isinstance(node, YMap):
        raise YAMLStrictError(f"{where} must be a mapping, got a {node.kind()}", node.line)
    return _decode_class(node, cls, where, "", pos), pos


def _decode_class(node: YMap, cls: type, where: str, path: str, pos: Positions) -> Any:
    by_name = {s.name: s for s in specs(cls)}
    kwargs = {}
    for name, value in node.items.items():
        spec = by_name.get(name)
        if spec is None:
            hint = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.6)
            suggestion = f' (did you mean "{hint[0]}"?)' if hint else ""
            raise BindError(f'unknown key "{name}" in {_at(where, path)}{suggestion}', node.key_line(name))
        sub = f"{path}.{name}" if path else name
        kwargs[spec.attr] = _decode_value(value, spec.tp, spec, where, sub, node.key_line(name), pos)
    obj = cls(**kwargs)
    pos.record(obj, node)
    return obj


def _at(where: str, path: str) -> str:
    return f"{where} ({path})" if path else where


def _decode_value(
    node: Node, tp: Any, spec: KeySpec, where: str, path: str, line: int, pos: Positions
) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if isinstance(node, YScalar) and node.is_null:
        if origin in (Union, UnionType) and type(None) in args:
            return None
        return _fresh_default(spec, tp)
    if origin in (Union, UnionType):
        inner = [a for a in args if a is not type(None)]
        return _decode_value(node, inner[0], spec, where, path, line, pos)
    if origin is Annotated:
        if DURATION in tp.__metadata__:
            scalar = _want_scalar(node, spec, where, path, 'a duration such as "60s" or "1m30s"')
            try:
                return parse_duration(scalar.raw)
            except ValueError as exc:
                raise _value_error(spec, where, path, scalar, str(exc)) from None
        return _decode_value(node, args[0], spec, where, path, line, pos)
    if tp is Any:
        return to_plain(node)
    if isinstance(tp, type) and is_dataclass(tp):
        if not isinstance(node, YMap):
            raise _type_error(spec, where, path, node, "a mapping")
        return _decode_class(node, tp, where, path, pos)
    if origin is list:
        if not isinstance(node, YSeq):
            raise _type_error(spec, where, path, node, "a list")
        return [
            None
            if isinstance(item, YScalar) and item.is_null
            else _decode_value(item, args[0], spec, where, f"{path}[{i}]", item.line, pos)
            for i, item in enumerate(node.items)
        ]
    if origin is dict:
        if not isinstance(node, YMap):
            raise _type_error(spec, where, path, node, "a mapping")
        return {
            k: _decode_value(v, args[1], spec, where, f"{path}.{k}", node.key_line(k), pos)
            for k, v in node.items.items()
        }
    if origin is tuple:  # (db-name, tbl-name) pairs of block-allow lists
        return _decode_table_pair(node, spec, where, path)
    scalar = _want_scalar(node, spec, where, path, _TYPE_NAMES.get(tp, str(tp)))
    try:
        if tp is str:
            return to_str(scalar)
        if tp is bool:
            return to_bool(scalar)
        if tp is int:
            return _bounded(to_int(scalar), spec)
        if tp is float:
            return _bounded(to_float(scalar), spec)
    except ValueError as exc:
        raise _value_error(spec, where, path, scalar, str(exc)) from None
    raise TypeError(f"unsupported config type {tp!r} for {path}")  # a bug in a declaration


def _bounded(value: float | None, spec: KeySpec) -> Any:
    if value is not None and spec.bounds is not None:
        lo, hi = spec.bounds
        if not lo <= value <= hi:
            raise ValueError(f"{value} is out of range [{lo}, {hi}]")
    return value


_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer", float: "a number"}


def _fresh_default(spec: KeySpec, tp: Any) -> Any:
    if spec.default is MISSING:
        return None
    # containers must not be shared between objects
    return copy.deepcopy(spec.default)


def _want_scalar(node: Node, spec: KeySpec, where: str, path: str, expected: str) -> YScalar:
    if not isinstance(node, YScalar):
        raise _type_error(spec, where, path, node, expected)
    return node


def _type_error(spec: KeySpec, where: str, path: str, node: Node, expected: str) -> BindError:
    return BindError(
        f'wrong type for "{path}" in {where}: expected {expected}, got a {node.kind()}', node.line, meta=spec
    )


def _value_error(spec: KeySpec, where: str, path: str, node: YScalar, reason: str) -> BindError:
    return BindError(
        f'invalid value for "{path}" in {where}: {reason}', node.line, raw=node.raw, reason=reason, meta=spec
    )


def _decode_table_pair(node: Node, spec: KeySpec, where: str, path: str) -> tuple[str, str]:
    if not isinstance(node, YMap):
        raise _type_error(spec, where, path, node, "a mapping with db-name and tbl-name")
    out = {"db-name": "", "tbl-name": ""}
    for k, v in node.items.items():
        if k not in out:
            hint = difflib.get_close_matches(k, list(out), n=1, cutoff=0.6)
            suggestion = f' (did you mean "{hint[0]}"?)' if hint else ""
            raise BindError(f'unknown key "{k}" in {_at(where, path)}{suggestion}', node.key_line(k))
        if not isinstance(v, YScalar):
            raise _type_error(spec, where, f"{path}.{k}", v, "a string")
        out[k] = to_str(v)
    return (out["db-name"], out["tbl-name"])


def encode(obj: Any, *, mask_secrets: bool = True, mask: str = "******") -> Any:
    """Plain Python data (dicts in declaration order) for dumping a config object as YAML."""
    if is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for spec in specs(type(obj)):
            value = getattr(obj, spec.attr)
            if spec.secret and mask_secrets and value:
                out[spec.name] = mask
            else:
                out[spec.name] = _encode_value(value, spec.tp, mask_secrets, mask)
        return out
    return obj


def encode_value(value: Any, tp: Any) -> Any:
    """Plain Python data for one value of type ``tp`` (a key's declared type), secrets included."""
    return _encode_value(value, tp, False, "")


def _encode_value(value: Any, tp: Any, mask_secrets: bool, mask: str) -> Any:
    if value is None:
        return None
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, UnionType):
        inner = [a for a in args if a is not type(None)]
        return _encode_value(value, inner[0], mask_secrets, mask)
    if origin is Annotated:
        if DURATION in tp.__metadata__:
            return format_duration(value)
        return _encode_value(value, args[0], mask_secrets, mask)
    if is_dataclass(value):
        return encode(value, mask_secrets=mask_secrets, mask=mask)
    if origin is list:
        return [_encode_value(v, args[0], mask_secrets, mask) for v in value]
    if origin is dict:
        return {k: _encode_value(v, args[1], mask_secrets, mask) for k, v in value.items()}
    if origin is tuple:
        return {"db-name": value[0], "tbl-name": value[1]}
    return value


def dump_yaml(data: Any) -> str:
    """YAML text for :func:`encode` output, keys in declaration order."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that indents list items under their key, like Go's yaml.v2 output."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)
