"""``security:`` of a source or target as verified TLS for PyMySQL (DM's ``ssl-ca``, ``ssl-cert``,
``ssl-key``, ``cert-allowed-cn`` and their ``-base64`` variants).

Fail closed: with ``security:`` the connection is TLS or nothing, the server certificate must chain
to ``ssl-ca`` (the system CAs when none is given) and match the host name (as DM's Go driver
checks), and with ``cert-allowed-cn`` its common name must be listed. Without ``security:`` PyMySQL's
default applies (TLS when the server offers it, unverified), as DM's driver does without a TLS config.
"""

from __future__ import annotations

import base64
import binascii
import os
import ssl
import tempfile
import threading
from typing import TYPE_CHECKING, Any

from dmshell.engine import errors

if TYPE_CHECKING:
    from dmshell.engine.config.database import SecurityConfig

_lock = threading.Lock()
#: contexts by settings and file stamps: building one reads the CA store (~100 ms), and the sync
#: unit opens many connections; a changed file gives a new key, so rotated certificates are used
_cache: dict[tuple, ssl.SSLContext] = {}


def enabled(sec: SecurityConfig | None) -> bool:
    return sec is not None and any(
        (sec.ssl_ca, sec.ssl_cert, sec.ssl_key, sec.ssl_ca_base64, sec.ssl_cert_base64, sec.ssl_key_base64)
    )


def _stamp(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def context(sec: SecurityConfig | None) -> ssl.SSLContext | None:
    """The verifying TLS context of ``sec`` (None without TLS settings); a bad setting raises
    ``ErrConfigTLSConfig``-style :class:`DMError` naming the key."""
    if sec is None or not enabled(sec):
        return None
    key = (
        sec.ssl_ca, sec.ssl_cert, sec.ssl_key, sec.ssl_ca_base64, sec.ssl_cert_base64, sec.ssl_key_base64,
        _stamp(sec.ssl_ca), _stamp(sec.ssl_cert), _stamp(sec.ssl_key),
    )  # fmt: skip
    with _lock:
        ctx = _cache.get(key)
        if ctx is None:
            ctx = _cache[key] = _build(sec)
        return ctx


def _decode(name: str, value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise errors.ErrConfigTLSInvalid(f"security.{name} is not valid base64") from None


def _build(sec: SecurityConfig) -> ssl.SSLContext:
    try:
        if sec.ssl_ca_base64:
            ctx = ssl.create_default_context(cadata=_decode("ssl-ca-base64", sec.ssl_ca_base64).decode())
        elif sec.ssl_ca:
            ctx = ssl.create_default_context(cafile=sec.ssl_ca)
        else:
            ctx = ssl.create_default_context()
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
        cert = _decode("ssl-cert-base64", sec.ssl_cert_base64) if sec.ssl_cert_base64 else None
        key = _decode("ssl-key-base64", sec.ssl_key_base64) if sec.ssl_key_base64 else None
        if cert is not None or key is not None:
            _load_chain_bytes(ctx, cert, key, sec)
        elif sec.ssl_cert or sec.ssl_key:
            if not (sec.ssl_cert and sec.ssl_key):
                raise errors.ErrConfigTLSInvalid("security needs both ssl-cert and ssl-key")
            ctx.load_cert_chain(sec.ssl_cert, sec.ssl_key)
    except (OSError, ssl.SSLError, UnicodeDecodeError) as exc:
        raise errors.ErrConfigTLSInvalid(f"security: {exc}") from None
    return ctx


def _load_chain_bytes(
    ctx: ssl.SSLContext, cert: bytes | None, key: bytes | None, sec: SecurityConfig
) -> None:
    """``load_cert_chain`` wants files: the PEM bytes go to a private temporary directory, briefly."""
    if cert is None:
        cert = open(sec.ssl_cert, "rb").read() if sec.ssl_cert else None  # noqa: SIM115
    if key is None:
        key = open(sec.ssl_key, "rb").read() if sec.ssl_key else None  # noqa: SIM115
    if cert is None or key is None:
        raise errors.ErrConfigTLSInvalid("security needs both a client certificate and its key")
    with tempfile.TemporaryDirectory(prefix="dmshell-tls-") as tmp:  # 0700
        cert_path, key_path = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        for path, data in ((cert_path, cert), (key_path, key)):
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as fh:
                fh.write(data)
        ctx.load_cert_chain(cert_path, key_path)


def check_peer_cn(conn: Any, sec: SecurityConfig | None, where: str) -> None:
    """With ``cert-allowed-cn``: the server certificate's common name must be listed (else the
    connection is closed and ``ErrConfigTLSInvalid`` raised)."""
    if sec is None or not sec.cert_allowed_cn:
        return
    sock = getattr(conn, "_sock", None)
    peer: Any = sock.getpeercert() if isinstance(sock, ssl.SSLSocket) else None
    subject: Any = (peer or {}).get("subject", ())
    cns = [value for rdn in subject for name, value in rdn if name == "commonName"]
    if not any(cn in sec.cert_allowed_cn for cn in cns):
        conn.close()
        raise errors.ErrConfigTLSInvalid(
            f"{where}: server certificate common name {cns or '(none)'} is not in cert-allowed-cn "
            f"{list(sec.cert_allowed_cn)}"
        )
