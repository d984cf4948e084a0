"""A database connection as both files declare it: ``from:`` in a source, ``target-database:`` in a
task. Every engine module that connects takes a :class:`DBConfig`; this module depends on nothing
else of the config package."""

# ruff: noqa: RUF009  (key() is a dataclasses.field() wrapper, not a shared default)
from __future__ import annotations

from dataclasses import dataclass

from dmshell.engine.yamlstrict import key


@dataclass(slots=True)
class SecurityConfig:
    """TLS settings for a database connection (``from.security`` / ``target-database.security``)."""

    ssl_ca: str = key("", doc="path of the CA certificate")
    ssl_cert: str = key("", doc="path of the client certificate")
    ssl_key: str = key("", doc="path of the client private key")
    cert_allowed_cn: list[str] = key(factory=list, doc="allowed common names of the peer certificate")
    ssl_ca_base64: str = key("", doc="CA certificate content, base64 (instead of ssl-ca)")
    ssl_cert_base64: str = key("", doc="client certificate content, base64 (instead of ssl-cert)")
    ssl_key_base64: str = key("", doc="client private key content, base64 (instead of ssl-key)", secret=True)


@dataclass(slots=True)
class DBConfig:
    """A MySQL/MariaDB/TiDB connection (``from:`` in a source file, ``target-database:`` in a task)."""

    host: str = key("", doc="host name or IP")
    port: int = key(3306, doc="port", bounds=(0, 65535))
    user: str = key("", doc="user name")
    password: str = key("", doc="password, plaintext or `dmctl encrypt` ciphertext", secret=True)
    session: dict[str, str] = key(factory=dict, doc="session variables set on every connection")
    max_allowed_packet: int | None = key(None, doc="deprecated: the driver reads it from the server")
    security: SecurityConfig | None = key(None, doc="TLS settings")
