"""Who may talk to a master or a worker: TLS (DM's ``--ssl-ca/--ssl-cert/--ssl-key/--cert-allowed-cn``)
and the per-install cluster secret.

* With TLS, every connection is mutual TLS: a client must present a certificate signed by
  ``--ssl-ca``; with ``--cert-allowed-cn``, its common name must be one of those listed. The server
  re-reads its certificate files when they change (checked at each new connection).
* The cluster secret (``<data-dir>/cluster.secret``, 0600, made on the master's first start) lets
  processes of one machine prove they belong to the installation: embedded workers send it as
  gRPC metadata, with or without TLS. Worker RPCs (``RegisterWorker`` on the master, every RPC on
  a worker) need the secret or a verified TLS peer; ``peer_identity`` names the caller (for
  re-registration of a known worker name).
* Plain TCP on an address other than loopback is refused unless ``--insecure`` is given
  (:func:`check_listen_address`): the target password crosses master ↔ worker links.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import grpc

from dmshell.client.channel import TLSFiles

log = logging.getLogger(__name__)

#: the gRPC metadata key carrying the cluster secret
TOKEN_KEY = "dmshell-cluster-secret"
SECRET_FILE = "cluster.secret"


@dataclass(frozen=True, slots=True)
class Security:
    """A daemon's or worker's TLS files, allowed client CNs and cluster secret."""

    tls: TLSFiles = field(default_factory=TLSFiles)
    allowed_cn: tuple[str, ...] = ()
    token: str = ""

    @property
    def tls_on(self) -> bool:
        return self.tls.enabled

    def argv(self) -> list[str]:
        """The command-line flags that give another process (an embedded worker) the same TLS."""
        out: list[str] = []
        for flag, value in (
            ("--ssl-ca", self.tls.ca),
            ("--ssl-cert", self.tls.cert),
            ("--ssl-key", self.tls.key),
        ):
            if value:
                out += [flag, value]
        if self.allowed_cn:
            out += ["--cert-allowed-cn", ",".join(self.allowed_cn)]
        return out


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    """DM's TLS flags and ``--insecure`` (on the daemon and the worker)."""
    parser.add_argument("--ssl-ca", default="", help="CA certificate (PEM): enables mutual TLS")
    parser.add_argument("--ssl-cert", default="", help="this process's certificate (PEM)")
    parser.add_argument("--ssl-key", default="", help="this process's private key (PEM)")
    parser.add_argument(
        "--cert-allowed-cn",
        default="",
        help="comma-separated common names a client certificate must have (default: any the CA signed)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="allow plain TCP on an address other than loopback (anyone who can connect steers the "
        "migration and sees the passwords)",
    )


def security_from_args(args: argparse.Namespace, token: str = "") -> Security:
    """The :class:`Security` of parsed flags; raises ValueError for an incomplete TLS setting."""
    tls = TLSFiles(
        str(Path(args.ssl_ca).resolve()) if args.ssl_ca else "",
        str(Path(args.ssl_cert).resolve()) if args.ssl_cert else "",
        str(Path(args.ssl_key).resolve()) if args.ssl_key else "",
    )
    if tls.enabled and not (tls.ca and tls.cert and tls.key):
        raise ValueError("TLS needs all of --ssl-ca, --ssl-cert and --ssl-key")
    cns = tuple(c.strip() for c in args.cert_allowed_cn.split(",") if c.strip())
    if cns and not tls.enabled:
        raise ValueError("--cert-allowed-cn needs TLS (--ssl-ca, --ssl-cert, --ssl-key)")
    for path in (tls.ca, tls.cert, tls.key):
        if path and not os.access(path, os.R_OK):
            raise ValueError(f"cannot read {path}")
    return Security(tls, cns, token)


# --------------------------------------------------------------------------- addresses


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a listen host) reaches only this machine: ``localhost`` or a loopback IP.
    Wildcards (``""``, ``0.0.0.0``, ``::``) and names that resolve elsewhere are not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        addrs = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addrs) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addrs)


def check_listen_address(host: str, sec: Security, insecure: bool, what: str) -> str:
    """The refusal text for plain TCP on a non-loopback address ("" when allowed)."""
    if sec.tls_on or insecure or is_loopback_host(host):
        return ""
    return (
        f"refusing to listen on {host or '*'} without TLS: anyone who can reach the {what} could "
        "steer the migration and read the database passwords it sends. Give --ssl-ca, --ssl-cert and "
        "--ssl-key (see docs/security.md), listen on 127.0.0.1, or pass --insecure to accept the risk"
    )


# --------------------------------------------------------------------------- cluster secret


def load_or_create_secret(path: Path) -> str:
    """The cluster secret in ``path``, created (0600) when missing; the mode is tightened if loose."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_secret(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return read_secret(path)


def read_secret(path: Path) -> str:
    """The cluster secret in ``path`` (its mode made 0600); raises OSError/ValueError."""
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    token = path.read_text().strip()
    if len(token) < 32:
        raise ValueError(f"{path} does not hold a cluster secret")
    return token


# --------------------------------------------------------------------------- credentials


class CertReloader:
    """The certificate-configuration fetcher of ``grpc.dynamic_ssl_server_credentials``: re-reads
    the PEM files when one of them changed (called at each new connection)."""

    def __init__(self, tls: TLSFiles) -> None:
        self.tls = tls
        self._lock = threading.Lock()
        self._stamp = self._stamps()

    def _stamps(self) -> tuple[tuple[int, int], ...]:
        out = []
        for path in (self.tls.ca, self.tls.cert, self.tls.key):
            st = os.stat(path)
            out.append((st.st_mtime_ns, st.st_size))
        return tuple(out)

    def config(self) -> Any:
        def read(path: str) -> bytes:
            with open(path, "rb") as fh:
                return fh.read()

        return grpc.ssl_server_certificate_configuration(
            [(read(self.tls.key), read(self.tls.cert))], root_certificates=read(self.tls.ca)
        )

    def __call__(self) -> Any:
        with self._lock:
            try:
                stamp = self._stamps()
                if stamp == self._stamp:
                    return None
                cfg = self.config()
            except OSError as exc:  # mid-rotation: keep serving with the old files
                log.warning("TLS files not readable, keeping the current certificate: %s", exc)
                return None
            self._stamp = stamp
            log.info("TLS certificate files changed; using the new ones")
            return cfg


def server_credentials(sec: Security) -> grpc.ServerCredentials:
    """Mutual-TLS server credentials that follow changes to the certificate files."""
    fetcher = CertReloader(sec.tls)
    return grpc.dynamic_ssl_server_credentials(fetcher.config(), fetcher, require_client_authentication=True)


def add_port(server: grpc.Server, addr: str, sec: Security) -> int:
    """Listen on ``addr``: TLS when configured, else plain TCP."""
    if sec.tls_on:
        return server.add_secure_port(addr, server_credentials(sec))
    return server.add_insecure_port(addr)


class _TokenMetadata(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor):
    """Adds the cluster secret to every call."""

    def __init__(self, token: str) -> None:
        self.token = token

    def _details(self, details: Any) -> Any:
        metadata = [*(details.metadata or ()), (TOKEN_KEY, self.token)]
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)


@dataclass(frozen=True, slots=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: Any
    credentials: Any
    wait_for_ready: Any
    compression: Any


def peer_channel(target: str, sec: Security, options: list[tuple[str, Any]]) -> grpc.Channel:
    """A channel from one cluster member to another: TLS with this process's certificate when
    configured, the cluster secret (when known) on every call."""
    from dmshell.client.channel import credentials  # the client layer reads the files the same way

    creds = credentials(sec.tls)
    channel = (
        grpc.secure_channel(target, creds, options=options)
        if creds is not None
        else grpc.insecure_channel(target, options=options)
    )
    return grpc.intercept_channel(channel, _TokenMetadata(sec.token)) if sec.token else channel


# --------------------------------------------------------------------------- server side


def peer_cn(context: grpc.ServicerContext) -> str | None:
    """The common name of the caller's verified TLS certificate (None without TLS)."""
    auth = context.auth_context()
    if auth.get("transport_security_type") != [b"ssl"]:
        return None
    names = cast(list[bytes], auth.get("x509_common_name") or [])
    return names[0].decode(errors="replace") if names else ""


def peer_identity(context: grpc.ServicerContext, sec: Security) -> str | None:
    """Who the caller is as a cluster member: ``local`` (it knows the cluster secret), ``cn:NAME``
    (a TLS certificate the CA signed, allowed by ``--cert-allowed-cn``), or None (a stranger)."""
    if sec.token:
        for key, value in context.invocation_metadata():
            if key == TOKEN_KEY and hmac.compare_digest(str(value).encode(), sec.token.encode()):
                return "local"
    cn = peer_cn(context)
    if cn is not None and (not sec.allowed_cn or cn in sec.allowed_cn):
        return f"cn:{cn}"
    return None


class Guard(grpc.ServerInterceptor):
    """Enforces ``--cert-allowed-cn`` on every RPC and membership (:func:`peer_identity`) on the
    RPCs ``members_only`` names (by full method name, ``/pb.Master/RegisterWorker``). With
    ``secret_only``, only the cluster secret makes a member (a worker that knows the secret: its
    master always sends it, so a dmctl certificate the CA signed cannot steer the worker)."""

    def __init__(self, sec: Security, members_only: Callable[[str], bool], secret_only: bool = False) -> None:
        self.sec = sec
        self.members_only = members_only
        self.secret_only = secret_only

    def _refusal(self, method: str, context: grpc.ServicerContext) -> tuple[grpc.StatusCode, str] | None:
        member = peer_identity(context, self.sec)
        if member == "local":
            return None
        if self.secret_only:
            member = None
        cn = peer_cn(context)
        if self.sec.allowed_cn and cn is not None and cn not in self.sec.allowed_cn:
            return grpc.StatusCode.PERMISSION_DENIED, (
                f"certificate common name {cn!r} is not in cert-allowed-cn {list(self.sec.allowed_cn)}"
            )
        if self.members_only(method) and member is None:
            return grpc.StatusCode.UNAUTHENTICATED, (
                f"{method} is only for members of this cluster: present the cluster secret or a "
                "certificate signed by the cluster's CA"
            )
        return None

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method = details.method

        def guarded(behavior: Callable[..., Any]) -> Callable[..., Any]:
            def run(request: Any, context: grpc.ServicerContext) -> Any:
                refusal = self._refusal(method, context)
                if refusal is not None:
                    log.warning("refused %s from %s: %s", method, context.peer(), refusal[1])
                    context.abort(*refusal)
                return behavior(request, context)

            return run

        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                guarded(handler.unary_unary), handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream is not None:
            stream = guarded(handler.unary_stream)

            def run_stream(request: Any, context: grpc.ServicerContext) -> Any:
                yield from stream(request, context)

            return grpc.unary_stream_rpc_method_handler(
                run_stream, handler.request_deserializer, handler.response_serializer
            )
        return handler  # no streaming-request RPCs in dmshell's services
