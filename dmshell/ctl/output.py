"""dmctl's JSON, byte for byte.

DM prints protobuf responses with gogo ``jsonpb.Marshaler{EmitDefaults: true, Indent: "    "}``
(:func:`to_dm_json`) and its own result structs with Go's ``encoding/json.MarshalIndent(v, "",
"    ")`` (:func:`marshal_indent`). Both follow Go's ``encoding/json`` value rules: HTML-sensitive
characters escaped as ``\\u003c``, floats in Go's shortest form (``1.5``, ``3``, ``1e+21``). The
jsonpb rules on top: every field in declaration order, 64-bit integers as strings, enums by name,
unset messages ``null``, empty ``bytes`` ``null`` (else base64), an unset ``oneof`` omitted and a
set one at its position, and empty repeated fields / maps printed as ``[`` / ``{``, a newline, the
indent and ``]`` / ``}`` (gogo's layout, which DM's output shows).

dmshell's own fields in DM's messages (numbered from :data:`EXTENSION_FIELDS_FROM`, e.g. the sync
unit's queue depths) are left out of the JSON so that it stays DM's; :func:`to_dm_obj` (``--output
table|plain``) keeps them.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

INDENT = "    "
#: fields numbered from here on are dmshell's additions to DM's messages (not printed as DM JSON)
EXTENSION_FIELDS_FROM = 100

# FieldDescriptor type numbers (google/protobuf/descriptor.proto)
_DOUBLE, _FLOAT, _INT64, _UINT64, _INT32, _FIXED64, _FIXED32, _BOOL, _STRING = 1, 2, 3, 4, 5, 6, 7, 8, 9
_GROUP, _MESSAGE, _BYTES, _UINT32, _ENUM, _SFIXED32, _SFIXED64, _SINT32, _SINT64 = (
    10,
    11,
    12,
    13,
    14,
    15,
    16,
    17,
    18,
)
_QUOTED_INTS = {_INT64, _UINT64, _FIXED64, _SFIXED64, _SINT64}

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def go_string(s: str) -> str:
    """A JSON string as Go's ``encoding/json`` writes it (HTML-escaped, UTF-8 kept)."""
    out = ['"']
    for ch in s:
        esc = _ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif "\ud800" <= ch <= "\udfff":  # lone surrogate: Go writes the replacement character
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_float(f: float, bits: int = 64) -> str:
    """A finite float as Go's ``encoding/json`` writes it (shortest round-trip digits)."""
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    digits, exp10 = _shortest_digits(f, bits)
    sign = "-" if f < 0 else ""
    a = abs(f)
    use_exp = (a < 1e-6 or a >= 1e21) if bits == 64 else (_f32(a) < _f32(1e-6) or _f32(a) >= _f32(1e21))
    if use_exp:
        exp = exp10 + len(digits) - 1
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        exp_s = f"{abs(exp):02d}"
        if exp < 0 and exp_s.startswith("0"):  # Go cleans e-07 to e-7
            exp_s = exp_s[1:]
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{exp_s}"
    from decimal import Decimal  # floats are rare in responses: keep start-up light

    text = format(Decimal(f"{digits}e{exp10}"), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return sign + text


def _f32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def _shortest_digits(f: float, bits: int) -> tuple[str, int]:
    """Digits and base-10 exponent of the shortest decimal that reads back as ``f``."""
    from decimal import Decimal

    if bits == 32:
        target = _f32(f)
        for prec in range(1, 10):
            candidate = float(f"{abs(target):.{prec - 1}e}")
            if _f32(candidate) == abs(target):
                d = Decimal(f"{abs(target):.{prec - 1}e}").normalize()
                break
    else:
        d = Decimal(repr(abs(f))).normalize()
    sign, dig, exp = d.as_tuple()
    return "".join(map(str, dig)), int(exp)


def _go_number(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"json: unsupported value: {value}")
    return go_float(value)


# --------------------------------------------------------------------------- jsonpb (gogo)


def to_dm_json(message: Any, indent: str = INDENT) -> str:
    """``message`` rendered exactly as DM's dmctl prints a gRPC response."""
    out: list[str] = []
    _pb_object(out, message, "", indent)
    return "".join(out)


def _pb_object(out: list[str], msg: Any, cur: str, ind: str) -> None:
    out.append("{\n")
    first = True
    for fd in msg.DESCRIPTOR.fields:
        oneof = fd.containing_oneof
        if oneof is not None and msg.WhichOneof(oneof.name) != fd.name:
            continue
        if fd.number >= EXTENSION_FIELDS_FROM:
            continue
        if not first:
            out.append(",\n")
        first = False
        out.append(f'{cur}{ind}"{fd.json_name}": ')
        _pb_field(out, msg, fd, cur, ind)
    out.append(f"\n{cur}}}")


def _pb_field(out: list[str], msg: Any, fd: Any, cur: str, ind: str) -> None:
    value = getattr(msg, fd.name)
    if _is_map(fd):
        value_fd = fd.message_type.fields_by_name["value"]
        out.append("{")
        for i, key in enumerate(sorted(value)):
            if i:
                out.append(",")
            out.append(f"\n{cur}{ind}{ind}")
            out.append(go_string(str(key)) if not isinstance(key, str) else go_string(key))
            out.append(": ")
            _pb_value(out, value[key], value_fd, cur + ind, ind)
        out.append(f"\n{cur}{ind}}}")
    elif fd.is_repeated:
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            out.append(f"\n{cur}{ind}{ind}")
            _pb_value(out, item, fd, cur + ind, ind)
        out.append(f"\n{cur}{ind}]")
    elif fd.type == _MESSAGE and not msg.HasField(fd.name):
        out.append("null")
    else:
        _pb_value(out, value, fd, cur, ind)


def _is_map(fd: Any) -> bool:
    # has_options first: GetOptions() imports descriptor_pb2 (~2 ms of start-up)
    if fd.type != _MESSAGE or not fd.is_repeated:
        return False
    mt = fd.message_type
    return mt.has_options and mt.GetOptions().map_entry


def _pb_value(out: list[str], value: Any, fd: Any, cur: str, ind: str) -> None:
    t = fd.type
    if t in (_MESSAGE, _GROUP):
        _pb_object(out, value, cur + ind, ind)
    elif t == _ENUM:
        ev = fd.enum_type.values_by_number.get(value)
        out.append(go_string(ev.name) if ev is not None else str(value))
    elif t == _STRING:
        out.append(go_string(value))
    elif t == _BYTES:
        out.append(go_string(_b64(value)) if value else "null")
    elif t == _BOOL:
        out.append("true" if value else "false")
    elif t in _QUOTED_INTS:
        out.append(f'"{value}"')
    elif t in (_DOUBLE, _FLOAT):
        if math.isnan(value):
            out.append('"NaN"')
        elif math.isinf(value):
            out.append('"Infinity"' if value > 0 else '"-Infinity"')
        else:
            out.append(go_float(value, 32 if t == _FLOAT else 64))
    else:
        out.append(str(value))


def _b64(value: bytes) -> str:
    import base64

    return base64.b64encode(value).decode()


def to_dm_obj(message: Any, extensions: bool = False) -> dict[str, Any]:
    """The JSON value tree :func:`to_dm_json` prints, as Python objects (for other renderers).

    ``extensions=True`` adds dmshell's own fields (see :data:`EXTENSION_FIELDS_FROM`).
    """
    obj: dict[str, Any] = {}
    for fd in message.DESCRIPTOR.fields:
        oneof = fd.containing_oneof
        if oneof is not None and message.WhichOneof(oneof.name) != fd.name:
            continue
        if fd.number >= EXTENSION_FIELDS_FROM and not extensions:
            continue
        value = getattr(message, fd.name)
        if _is_map(fd):
            vfd = fd.message_type.fields_by_name["value"]
            obj[fd.json_name] = {str(k): _obj_value(value[k], vfd, extensions) for k in sorted(value)}
        elif fd.is_repeated:
            obj[fd.json_name] = [_obj_value(v, fd, extensions) for v in value]
        elif fd.type == _MESSAGE and not message.HasField(fd.name):
            obj[fd.json_name] = None
        else:
            obj[fd.json_name] = _obj_value(value, fd, extensions)
    return obj


def _obj_value(value: Any, fd: Any, extensions: bool = False) -> Any:
    t = fd.type
    if t in (_MESSAGE, _GROUP):
        return to_dm_obj(value, extensions)
    if t == _ENUM:
        ev = fd.enum_type.values_by_number.get(value)
        return ev.name if ev is not None else value
    if t == _BYTES:
        return _b64(value) if value else None
    if t in _QUOTED_INTS:
        return str(value)
    return value


# --------------------------------------------------------------------------- encoding/json


def marshal_indent(value: Any, indent: str = INDENT) -> str:
    """Go's ``json.MarshalIndent(value, "", indent)`` for dicts (in order), lists and scalars."""
    out: list[str] = []
    _go_value(out, value, "", indent)
    return "".join(out)


def _go_value(out: list[str], value: Any, cur: str, ind: str) -> None:
    if value is None:
        out.append("null")
    elif isinstance(value, str):
        out.append(go_string(value))
    elif isinstance(value, bool | int | float):
        out.append(_go_number(value))
    elif isinstance(value, Mapping):
        if not value:
            out.append("{}")
            return
        out.append("{")
        for i, (k, v) in enumerate(value.items()):
            out.append("," if i else "")
            out.append(f"\n{cur}{ind}{go_string(str(k))}: ")
            _go_value(out, v, cur + ind, ind)
        out.append(f"\n{cur}}}")
    elif isinstance(value, Sequence):
        if not value:
            out.append("[]")
            return
        out.append("[")
        for i, v in enumerate(value):
            out.append("," if i else "")
            out.append(f"\n{cur}{ind}")
            _go_value(out, v, cur + ind, ind)
        out.append(f"\n{cur}]")
    else:
        raise TypeError(f"cannot encode {type(value).__name__}")


def omitempty(message: Any) -> dict[str, Any]:
    """A generated Go struct through ``encoding/json``: scalar fields with ``omitempty`` tags."""
    obj: dict[str, Any] = {}
    for fd in message.DESCRIPTOR.fields:
        value = getattr(message, fd.name)
        if value:
            obj[fd.json_name] = _obj_value(value, fd)
    return obj


def go_slice(items: Sequence[str]) -> str:
    """Go's ``%v`` of a ``[]string``: ``[a b c]``."""
    return "[" + " ".join(items) + "]"
