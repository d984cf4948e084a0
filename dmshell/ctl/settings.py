"""dmctl's process-level settings: master address, RPC timeout, TLS files (DM's ``common.Config``).

Sources, lowest priority first: the ``--config`` TOML file (``master-addr``, ``rpc-timeout``,
``ssl-ca``, ``ssl-cert``, ``ssl-key``), the ``DM_MASTER_ADDR`` environment variable (only for the
master address), and flags given on the command line. (DM re-reads every flag after the file, so its
defaults overwrite the file's values; dmshell lets only flags that were actually given override.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from dmshell.client.channel import TLSFiles, split_host_port, unwrap_scheme
from dmshell.client.defaults import MASTER_ADDR_ENV
from dmshell.client.errors import ClientError
from dmshell.ctl.errors import CtlError

DEFAULT_RPC_TIMEOUT = "10m"
MASTER_ADDR_MISSING = (
    "--master-addr not provided, this parameter is required when interacting with the dm-master, "
    "you can also use environment variable 'DM_MASTER_ADDR' to specify the value. "
    "Use `dmctl --help` to see more help messages"
)

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d*)(\.\d*)?([^\d.]*)")


@dataclass
class CtlConfig:
    """Resolved settings (``master_addr`` as given: a comma-separated list)."""

    master_addr: str = ""
    rpc_timeout: float = 600.0
    rpc_timeout_str: str = DEFAULT_RPC_TIMEOUT
    ssl_ca: str = ""
    ssl_cert: str = ""
    ssl_key: str = ""

    @property
    def tls(self) -> TLSFiles:
        return TLSFiles(self.ssl_ca, self.ssl_cert, self.ssl_key)


def parse_duration(text: str) -> float:
    """Go's ``time.ParseDuration`` in seconds (``10m``, ``1h30m``, ``1.5s``, ``300ms``)."""
    orig = text
    if text in ("0", "+0", "-0"):
        return 0.0
    if not text:
        raise CtlError(f'time: invalid duration "{orig}"')
    sign = 1.0
    if text[0] in "+-":
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    total = 0.0
    while text:
        m = _DURATION_PART.match(text)
        assert m is not None  # every part of the pattern is optional: it always matches
        whole, frac, unit = m.group(1), m.group(2) or "", m.group(3)
        if not whole and frac in ("", "."):
            raise CtlError(f'time: invalid duration "{orig}"')
        if not unit:
            raise CtlError(f'time: missing unit in duration "{orig}"')
        unit_end = len(unit)
        if unit not in _UNITS:
            # the unit runs until the next digit or dot; anything unknown is an error
            raise CtlError(f'time: unknown unit "{unit}" in duration "{orig}"')
        total += float((whole or "0") + frac) * _UNITS[unit]
        text = text[len(whole) + len(frac) + unit_end :]
    return sign * total


def validate_master_addr(addr: str) -> None:
    """DM's ``Config.Validate``: every comma-separated item must be ``host:port``."""
    for endpoint in addr.split(","):
        try:
            split_host_port(unwrap_scheme(endpoint))
        except ClientError as exc:
            raise CtlError(f"specify master addr {addr}: {exc}") from None


def load_config(
    *,
    config_file: str = "",
    master_addr: str | None = None,
    rpc_timeout: str | None = None,
    ssl_ca: str | None = None,
    ssl_cert: str | None = None,
    ssl_key: str | None = None,
    env: Mapping[str, str] | None = None,
) -> CtlConfig:
    """Resolve settings; ``None`` means "flag not given". Raises :class:`CtlError` with DM's texts."""
    if env is None:
        env = os.environ
    cfg = CtlConfig()
    if config_file:
        _apply_file(cfg, config_file)
    for attr, value in (
        ("master_addr", master_addr),
        ("rpc_timeout_str", rpc_timeout),
        ("ssl_ca", ssl_ca),
        ("ssl_cert", ssl_cert),
        ("ssl_key", ssl_key),
    ):
        if value is not None:
            setattr(cfg, attr, value)
    if not cfg.master_addr:
        cfg.master_addr = env.get(MASTER_ADDR_ENV, "")
    if not cfg.master_addr:
        raise CtlError(MASTER_ADDR_MISSING)
    if not cfg.rpc_timeout_str:
        cfg.rpc_timeout_str = DEFAULT_RPC_TIMEOUT
    cfg.rpc_timeout = parse_duration(cfg.rpc_timeout_str)
    if cfg.rpc_timeout <= 0:
        raise CtlError(f"invalid time duration: {cfg.rpc_timeout_str}")
    validate_master_addr(cfg.master_addr)
    return cfg


def _apply_file(cfg: CtlConfig, path: str) -> None:
    import tomllib

    prefix = "the current command parameter: --config is invalid or used incorrectly"
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise CtlError(f"{prefix}: open {path}: {_os_error_text(exc)}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CtlError(f"{prefix}: {exc}") from None
    keys = {
        "master-addr": "master_addr",
        "rpc-timeout": "rpc_timeout_str",
        "ssl-ca": "ssl_ca",
        "ssl-cert": "ssl_cert",
        "ssl-key": "ssl_key",
    }
    for key, attr in keys.items():
        if key in data:
            if not isinstance(data[key], str):
                raise CtlError(
                    f"{prefix}: toml: cannot load {type(data[key]).__name__} into string field {key!r}"
                )
            setattr(cfg, attr, data[key])
    if data.get("cert-allowed-cn"):
        # Python's gRPC does not let a client check the server certificate's name beyond the host
        # name; refused rather than ignored. The master checks its clients (--cert-allowed-cn).
        raise CtlError(
            f"{prefix}: cert-allowed-cn is not supported by dmshell's dmctl (it cannot check the "
            "master's certificate name); remove it: the master's --cert-allowed-cn checks clients"
        )


def _os_error_text(exc: OSError) -> str:
    """Go's lower-case syscall error text (``no such file or directory``)."""
    text = os.strerror(exc.errno) if exc.errno else str(exc)
    return text[:1].lower() + text[1:]
