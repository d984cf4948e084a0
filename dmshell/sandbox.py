"""Private, throw-away MariaDB servers for tests and the playground.

Each server gets its own data directory, unix socket and a free loopback TCP port. One system
database is initialised once (``mariadb-install-db``) into a template that every server copies, so
starting three servers takes a few seconds. Servers are stopped and their files removed by
:meth:`Sandbox.close` (also registered with ``atexit`` and on SIGTERM by the callers).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from dmshell.engine.config.database import DBConfig

ROOT_PASSWORD = "dmshell-sandbox"


@dataclass(slots=True)
class ServerSpec:
    """How one sandbox server is configured."""

    name: str
    server_id: int
    log_bin: bool = True
    #: MariaDB's default is NO_LOG (no column names in row events); FULL logs names and types.
    binlog_row_metadata: str | None = None
    gtid_domain_id: int = 0
    extra_options: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class MariaDBServer:
    spec: ServerSpec
    base_dir: Path
    port: int
    process: subprocess.Popen | None = None
    host: str = "127.0.0.1"
    user: str = "root"
    password: str = ROOT_PASSWORD

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def datadir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_path(self) -> Path:
        return self.base_dir / "mysqld.sock"

    def dbconfig(self) -> DBConfig:
        return DBConfig(host=self.host, port=self.port, user=self.user, password=self.password)

    def connect(self, database: str | None = None, **kwargs) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database,
            autocommit=True,
            charset="utf8mb4",
            **kwargs,
        )

    def execute(self, *statements: str) -> None:
        """Run statements on their own short-lived connection."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
        finally:
            conn.close()

    def connection_yaml(self, indent: int = 2) -> str:
        """``host``/``port``/``user``/``password`` lines for a DM config's ``from:`` or
        ``target-database:`` block."""
        pad = " " * indent
        return (
            f"{pad}host: {self.host}\n{pad}port: {self.port}\n{pad}user: {self.user}\n"
            f"{pad}password: '{self.password}'\n"
        )

    def source_yaml(self, source_id: str, *, enable_gtid: bool = False, port: int | None = None) -> str:
        """A DM source configuration for this server (``port`` overrides, e.g. an unreachable one)."""
        block = self.connection_yaml()
        if port is not None:
            block = block.replace(f"port: {self.port}", f"port: {port}")
        return (
            f"source-id: {source_id}\nenable-gtid: {'true' if enable_gtid else 'false'}\n" f"from:\n{block}"
        )

    def rendered_rows(self, sql: str) -> list[tuple]:
        """Rows as the server renders them (text protocol, no client-side conversion, UTC), sorted:
        what comparing source and target row by row needs."""
        conn = self.connect()
        conn.decoders = {}
        try:
            with conn.cursor() as cur:
                cur.execute("SET SESSION time_zone = '+00:00'")
                cur.execute(sql)
                return sorted(cur.fetchall(), key=repr)
        finally:
            conn.close()

    def query(self, sql: str, args: Iterable | None = None) -> list[tuple]:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        finally:
            conn.close()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> None:
        """Start mariadbd (again) on the same port and data directory; wait until it answers."""
        if self.process and self.process.poll() is None:
            return
        log = open(self.base_dir / "stdout.log", "ab")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [mariadbd_path(), f"--defaults-file={self.base_dir / 'my.cnf'}"],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"mariadbd {self.name} exited with {self.process.returncode}; "
                    f"see {self.base_dir / 'error.log'}"
                )
            try:
                self.connect(connect_timeout=1).close()
                return
            except pymysql.err.MySQLError:
                time.sleep(0.05)
        raise TimeoutError(f"mariadbd {self.name} did not answer on port {self.port} within {timeout}s")

    def stop(self, kill: bool = False) -> None:
        """Stop the server (SIGTERM, clean shutdown; ``kill=True`` for SIGKILL)."""
        proc = self.process
        if not proc or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Sandbox:
    """A set of private MariaDB servers under one directory."""

    def __init__(self, root: Path | None = None) -> None:
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="dmshell-sandbox-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self.servers: dict[str, MariaDBServer] = {}

    def start(self, specs: list[ServerSpec]) -> list[MariaDBServer]:
        """Create and start servers in parallel; returns them in ``specs`` order."""
        template = self._template()
        servers = []
        for spec in specs:
            base = self.root / spec.name
            if base.exists():
                shutil.rmtree(base)
            base.mkdir(parents=True)
            shutil.copytree(template, base / "data", symlinks=True)
            server = MariaDBServer(spec=spec, base_dir=base, port=free_port())
            _write_cnf(server, self.root / "init.sql")
            servers.append(server)
            self.servers[spec.name] = server
        with ThreadPoolExecutor(max_workers=len(servers) or 1) as pool:
            list(pool.map(_start_with_fresh_port_on_clash, servers))
        return servers

    def close(self) -> None:
        for server in self.servers.values():
            with contextlib.suppress(Exception):
                server.stop(kill=True)
        self.servers.clear()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _template(self) -> Path:
        template = self.root / "_template"
        if (template / "mysql").is_dir() and (self.root / "init.sql").exists():
            return template
        template.mkdir(parents=True, exist_ok=True)
        init_sql = (
            "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';\n"
            f"ALTER USER 'root'@'localhost' IDENTIFIED BY '{ROOT_PASSWORD}';\n"
            f"ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{ROOT_PASSWORD}';\n"
            "GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"
            "FLUSH PRIVILEGES;\n"
        )
        cmd = [
            install_db_path(),
            f"--datadir={template}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ]
        if os.geteuid() == 0:
            cmd.append("--user=root")
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {result.stderr or result.stdout}")
        # Runs at every start (idempotent): root gets a password and may log in over TCP.
        (self.root / "init.sql").write_text(init_sql)
        return template


def _start_with_fresh_port_on_clash(server: MariaDBServer, attempts: int = 3) -> None:
    """Start a server; if it dies at start-up (typically: another process took the free port
    between ``free_port()`` and the bind), retry on a new port."""
    for attempt in range(attempts):
        try:
            server.start()
            return
        except RuntimeError:
            if attempt == attempts - 1:
                raise
            server.port = free_port()
            _write_cnf(server, server.base_dir.parent / "init.sql")


def _write_cnf(server: MariaDBServer, init_file: Path) -> None:
    spec = server.spec
    opts: dict[str, str] = {
        "datadir": str(server.datadir),
        "socket": str(server.socket_path),
        "pid-file": str(server.base_dir / "mysqld.pid"),
        "port": str(server.port),
        "bind-address": "127.0.0.1",
        "server-id": str(spec.server_id),
        "skip-name-resolve": "1",
        "innodb-buffer-pool-size": "64M",
        "innodb-log-file-size": "48M",
        "innodb-flush-log-at-trx-commit": "2",
        "sync-binlog": "0",
        "log-error": str(server.base_dir / "error.log"),
        "character-set-server": "utf8mb4",
        "collation-server": "utf8mb4_general_ci",
        "max-connections": "300",
        "performance-schema": "0",
        "gtid-domain-id": str(spec.gtid_domain_id),
        "init-file": str(init_file),
    }
    if spec.log_bin:
        opts.update(
            {
                "log-bin": str(server.base_dir / "binlog" / "mysql-bin"),
                "binlog-format": "ROW",
                "binlog-row-image": "FULL",
                "log-slave-updates": "1",
            }
        )
        (server.base_dir / "binlog").mkdir(exist_ok=True)
        if spec.binlog_row_metadata:
            opts["binlog-row-metadata"] = spec.binlog_row_metadata
    opts.update(spec.extra_options)
    lines = ["[mariadbd]"] + [f"{k}={v}" for k, v in opts.items()]
    if os.geteuid() == 0:
        lines.append("user=root")
    (server.base_dir / "my.cnf").write_text("\n".join(lines) + "\n")


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _find(*names: str) -> str:
    for name in names:
        candidates = (Path(d) / name for d in ("/usr/sbin", "/usr/bin", "/usr/local/sbin"))
        path = shutil.which(name) or next((str(p) for p in candidates if p.exists()), None)
        if path:
            return path
    raise FileNotFoundError(
        f"{names[0]} not found: install MariaDB with `scripts/ensure-mariadb` "
        "(apt-get install mariadb-server)"
    )


def mariadbd_path() -> str:
    return _find("mariadbd", "mysqld")


def install_db_path() -> str:
    return _find("mariadb-install-db", "mysql_install_db")


#: The standard test/playground topology: two upstreams and one target.
UPSTREAM1 = ServerSpec("upstream1", server_id=101, gtid_domain_id=1)
UPSTREAM2 = ServerSpec("upstream2", server_id=102, gtid_domain_id=2, binlog_row_metadata="FULL")
TARGET = ServerSpec("target", server_id=201, log_bin=False)


# ---------------------------------------------------------------------------------------------
# TLS: a throw-away certificate authority for servers started with TLS and their clients
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TLSPair:
    """PEM files of one certificate and its key (``ca`` is the CA that signed it)."""

    ca: Path
    cert: Path
    key: Path


class TestPKI:
    """A CA (``<dir>/ca.pem``) issuing certificates for 127.0.0.1/localhost (``issue``)."""

    __test__ = False  # not a pytest class

    def __init__(self, directory: Path, ca_name: str = "dmshell-test-ca") -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
        self._name = name
        self._cert = (
            self._builder(name, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),  # fmt: skip
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, self._hash())
        )
        self.ca = self._write("ca.pem", self._pem(self._cert))

    @staticmethod
    def _hash() -> Any:
        from cryptography.hazmat.primitives import hashes

        return hashes.SHA256()

    def _builder(self, subject: Any, public_key: Any) -> Any:
        import datetime

        from cryptography import x509

        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(getattr(self, "_name", subject))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
        )

    @staticmethod
    def _pem(cert: Any) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return cert.public_bytes(serialization.Encoding.PEM)

    def _write(self, name: str, data: bytes) -> Path:
        path = self.dir / name
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as fh:
            fh.write(data)
        return path

    def issue(self, cn: str, name: str | None = None) -> TLSPair:
        """A certificate for ``cn``, valid as server (127.0.0.1, localhost) and as client."""
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # MariaDB: any TLS lib
        cert = (
            self._builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]), key.public_key())
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
            .sign(self._key, self._hash())
        )
        base = name or cn
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return TLSPair(
            self.ca, self._write(f"{base}.pem", self._pem(cert)), self._write(f"{base}-key.pem", key_pem)
        )

    @staticmethod
    def server_options(pair: TLSPair) -> dict[str, str]:
        """``ServerSpec.extra_options`` for a MariaDB server speaking TLS with ``pair``."""
        return {"ssl-ca": str(pair.ca), "ssl-cert": str(pair.cert), "ssl-key": str(pair.key)}
