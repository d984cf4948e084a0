"""gRPC channels to a master: addresses, message limits, keepalive and TLS, the same for every client.

``grpc`` is imported only when a channel is opened, so commands that fail before talking to the
master (usage errors) start fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from dmshell.client.errors import ClientError

if TYPE_CHECKING:
    import grpc

#: Largest message a client receives: the daemon sends up to this much (``daemon/common.py``), e.g. a
#: ``QueryStatus``/``WatchStatus`` answer about many subtasks; gRPC's default (4 MiB) is too small.
MAX_MESSAGE = 64 * 1024 * 1024
#: Keepalive: while a call is open and silent, ping the master every 10 s and give up on it after 5 s
#: without an answer (a master gone without a TCP reset fails the call in seconds, not at the RPC
#: timeout). gRPC sends at most two pings until the client sends data again
#: (``grpc.http2.max_pings_without_data``), which a gRPC server with default settings (the daemon)
#: tolerates; it closes connections that ping more often than that (``too_many_pings``).
KEEPALIVE_TIME_MS = 10_000
KEEPALIVE_TIMEOUT_MS = 5_000


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """DM's ``--ssl-ca`` / ``--ssl-cert`` / ``--ssl-key`` (PEM file paths; all empty: plain TCP)."""

    ca: str = ""
    cert: str = ""
    key: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.ca or self.cert or self.key)


_default_tls = TLSFiles()


def set_default_tls(tls: TLSFiles) -> None:
    """The TLS files of every :class:`~dmshell.client.master.MasterClient` made without its own
    (the TUI's flags reach its status stream and its calls this way)."""
    global _default_tls
    _default_tls = tls


def default_tls() -> TLSFiles:
    return _default_tls


def channel_options(max_receive: int = MAX_MESSAGE) -> list[tuple[str, int]]:
    """Channel arguments: message limits and keepalive."""
    return [
        ("grpc.max_receive_message_length", max_receive),
        ("grpc.max_send_message_length", MAX_MESSAGE),
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_MS),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
    ]


def credentials(tls: TLSFiles) -> grpc.ChannelCredentials | None:
    """TLS credentials from the PEM files (``None`` without TLS); a file that cannot be read raises
    DM's ``ErrCtlInvalidTLSCfg``."""
    if not tls.enabled:
        return None
    import grpc

    def read(path: str) -> bytes | None:
        if not path:
            return None
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except OSError as exc:
            from dmshell.engine.errors import ErrCtlInvalidTLSCfg  # only on this error: start-up time

            raise ClientError(str(ErrCtlInvalidTLSCfg(cause=f"open {path}: {exc.strerror}"))) from None

    return grpc.ssl_channel_credentials(read(tls.ca), read(tls.key), read(tls.cert))


def open_channel(
    target: str, creds: grpc.ChannelCredentials | None = None, max_receive: int = MAX_MESSAGE
) -> grpc.Channel:
    """A channel to ``target`` (``host:port``) with :func:`channel_options`; TLS when ``creds``."""
    import grpc

    options = channel_options(max_receive)
    if creds is not None:
        return grpc.secure_channel(target, creds, options=options)
    return grpc.insecure_channel(target, options=options)


# --------------------------------------------------------------------------- addresses


def unwrap_scheme(addr: str) -> str:
    """DM's ``utils.UnwrapScheme``: strip a leading ``http://`` or ``https://``."""
    for scheme in ("http://", "https://"):
        if addr.startswith(scheme):
            return addr[len(scheme) :]
    return addr


def split_host_port(hostport: str) -> tuple[str, str]:
    """Go's ``net.SplitHostPort`` with its error texts (raised as :class:`ClientError`)."""

    def fail(why: str) -> ClientError:
        return ClientError(f"address {hostport}: {why}" if hostport else why)

    i = hostport.rfind(":")
    if i < 0:
        raise fail("missing port in address")
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        if end + 1 == len(hostport):
            raise fail("missing port in address")
        if end + 1 != i:
            raise fail(
                "too many colons in address" if hostport[end + 1] == ":" else "missing port in address"
            )
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in hostport[j:]:
        raise fail("unexpected '[' in address")
    if "]" in hostport[k:]:
        raise fail("unexpected ']' in address")
    return host, hostport[i + 1 :]


def endpoints(addrs: str) -> list[str]:
    """The addresses of a comma-separated list, as given (DM's ``--master-addr a,b,c``)."""
    return addrs.split(",")


@dataclass(frozen=True, slots=True)
class DialTarget:
    """One address of a list, ready to dial."""

    #: the address as the user wrote it (``http://`` prefix and all), for messages
    endpoint: str
    #: what gRPC dials (``host:port``, ``[v6]:port``)
    target: str
    host: str
    port: int


def dial_target(endpoint: str) -> DialTarget:
    """The gRPC target of one address; raises :class:`ClientError` when it is not ``host:port``."""
    host, port = split_host_port(unwrap_scheme(endpoint.strip()))
    if not port.isdigit():
        raise ClientError(f"address {endpoint}: invalid port")
    host = host or "127.0.0.1"  # Go dials ":8261" on the local host
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return DialTarget(endpoint, target, host, int(port))
