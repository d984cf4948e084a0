"""Issue 17 against real daemons and a MariaDB server speaking TLS: mutual TLS for dmctl and the TUI,
worker membership (forged ``ApplyState``, name takeover), refusals at start, hostile configs,
file modes, secrets masked in every output, verified TLS to MariaDB with ``REQUIRE X509``."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import time
from pathlib import Path

import grpc
import pytest
from daemon_helpers import Daemon, dmshell, source_yaml, wait_for, worker_pids

from dmshell.client.channel import TLSFiles, credentials, set_default_tls
from dmshell.ctl.main import run_command
from dmshell.engine import db, errors
from dmshell.engine.config import encrypt
from dmshell.engine.config.database import DBConfig, SecurityConfig
from dmshell.engine.config.load import load_source_config
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb
from dmshell.proto import dmworker_pb2_grpc
from dmshell.sandbox import Sandbox, ServerSpec, TestPKI

X509_USER, X509_PASSWORD = "x509user", "x509-pass"


def tls_of(pair) -> TLSFiles:
    return TLSFiles(str(pair.ca), str(pair.cert), str(pair.key))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("pki")
    ca, other = TestPKI(root / "ca"), TestPKI(root / "other", "another-ca")
    return {
        "master": ca.issue("dm-master"),
        "client": ca.issue("dm-client"),
        "intruder": ca.issue("intruder"),
        "mariadb": ca.issue("tls-mariadb"),
        "foreign": other.issue("dm-client"),
        "key_file": root / "custom.key",
    }


@pytest.fixture(scope="module")
def tls_mariadb(pki, tmp_path_factory):
    """One MariaDB server with TLS and a user that must present a client certificate."""
    sandbox = Sandbox(tmp_path_factory.mktemp("tlsdb"))
    try:
        (server,) = sandbox.start(
            [ServerSpec("tls1", server_id=171, extra_options=TestPKI.server_options(pki["mariadb"]))]
        )
        server.execute(
            f"CREATE USER '{X509_USER}'@'%' IDENTIFIED BY '{X509_PASSWORD}' REQUIRE X509",
            f"GRANT ALL PRIVILEGES ON *.* TO '{X509_USER}'@'%'",
        )
        yield server
    finally:
        sandbox.close()


@pytest.fixture(scope="module")
def tls_daemon(pki, tmp_path_factory):
    """A master with mutual TLS (CNs dm-master, dm-client), one embedded worker, a custom key."""
    encrypt.load_or_create_key(pki["key_file"])
    m = pki["master"]
    d = Daemon(
        tmp_path_factory.mktemp("tlsd") / "data",
        "1",
        extra_args=[
            "--ssl-ca", str(m.ca), "--ssl-cert", str(m.cert), "--ssl-key", str(m.key),
            "--cert-allowed-cn", "dm-master,dm-client",
            "--secret-key-path", str(pki["key_file"]),
            "--log-level", "debug",
        ],
        tls=tls_of(pki["client"]),
    )  # fmt: skip
    try:
        d.start()
        wait_for(lambda: d.workers().get("worker1") and d.workers()["worker1"].stage == "free", 30, "worker1")
        yield d
    finally:
        d.close()


@pytest.fixture(scope="module")
def plain_daemon(tmp_path_factory):
    """A plaintext master on loopback with one embedded worker; its data dir was made 0755 first."""
    data = tmp_path_factory.mktemp("plaind") / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    d = Daemon(data, "1")
    try:
        d.start()
        wait_for(lambda: d.workers().get("worker1") and d.workers()["worker1"].stage == "free", 30, "worker1")
        yield d
    finally:
        d.close()


def dmctl(addr: str, *argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = run_command([f"--master-addr={addr}", *argv], out=out, err=err)
    return rc, out.getvalue() + err.getvalue()


def tls_flags(pair) -> list[str]:
    return [f"--ssl-ca={pair.ca}", f"--ssl-cert={pair.cert}", f"--ssl-key={pair.key}"]


# --------------------------------------------------------------------------- clients and TLS


def test_a_tls_master_wants_a_client_certificate_with_an_allowed_name(tls_daemon, pki):
    rc, text = dmctl(tls_daemon.addr, *tls_flags(pki["client"]), "list-member", "--worker")
    assert rc == 0 and '"name": "worker1"' in text and '"stage": "free"' in text  # worker1 over TLS
    rc, text = dmctl(tls_daemon.addr, "list-member")
    assert rc != 0 and '"name": "worker1"' not in text  # plain TCP against TLS
    rc, text = dmctl(tls_daemon.addr, f"--ssl-ca={pki['client'].ca}", "list-member")
    assert rc != 0 and '"name": "worker1"' not in text  # TLS without a client certificate
    rc, text = dmctl(tls_daemon.addr, *tls_flags(pki["foreign"]), "list-member")
    assert rc != 0 and '"name": "worker1"' not in text  # a certificate another CA signed
    rc, text = dmctl(tls_daemon.addr, *tls_flags(pki["intruder"]), "list-member")
    assert rc != 0 and "certificate common name 'intruder' is not in cert-allowed-cn" in text

    m = pki["master"]
    r = dmshell("daemon", "status", "--data-dir", str(tls_daemon.data_dir), *tls_flags(m), timeout=30)
    assert r.returncode == 0 and f"dmshell daemon is running (pid {tls_daemon.pid})" in r.stdout
    r = dmshell("daemon", "status", "--data-dir", str(tls_daemon.data_dir), timeout=30)
    assert r.returncode == 1 and "does not answer" in r.stdout
    # the daemon's own user (it reads the cluster secret) is recognised whatever the certificate's CN
    intruder = tls_flags(pki["intruder"])
    r = dmshell("daemon", "status", "--data-dir", str(tls_daemon.data_dir), *intruder, timeout=30)
    assert r.returncode == 0, r.stdout

    # the TUI: `dmshell --ssl-ca ... --ssl-cert ... --ssl-key ...` sets its clients' TLS
    from dmshell.client.master import MasterClient
    from dmshell.tui.client import probe_master

    try:
        assert probe_master(tls_daemon.addr)[0] is None
        set_default_tls(tls_of(pki["client"]))
        assert probe_master(tls_daemon.addr)[0] == tls_daemon.addr
        client = MasterClient(tls_daemon.addr)
        assert client.stub.GetClusterInfo(mpb.Empty(), timeout=5).pid == tls_daemon.pid
        client.close()
        set_default_tls(tls_of(pki["intruder"]))
        client = MasterClient(tls_daemon.addr)
        with pytest.raises(grpc.RpcError) as exc:
            client.stub.GetClusterInfo(mpb.Empty(), timeout=5)
        assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
        client.close()
    finally:
        set_default_tls(TLSFiles())


def test_dmctl_refuses_cert_allowed_cn_in_its_config_file(tls_daemon, pki, tmp_path):
    conf = tmp_path / "dmctl.toml"
    conf.write_text('cert-allowed-cn = ["dm-master"]\n')
    rc, text = dmctl(tls_daemon.addr, *tls_flags(pki["client"]), f"--config={conf}", "list-member")
    assert rc != 0 and "cert-allowed-cn is not supported" in text


def test_a_worker_name_cannot_be_taken_over(tls_daemon, pki):
    before = tls_daemon.workers()["worker1"].addr
    # dm-client is a member (allowed CN) but not the identity worker1 registered with
    resp = tls_daemon.stub.RegisterWorker(
        mpb.RegisterWorkerRequest(name="worker1", address="127.0.0.1:1"), timeout=10
    )
    assert not resp.result and "registered with another identity (local)" in resp.msg
    resp = tls_daemon.stub.RegisterWorker(mpb.RegisterWorkerRequest(name="../w", address="127.0.0.1:1"))
    assert not resp.result and "worker name '../w' is not allowed" in resp.msg
    # a certificate good enough for the master does not steer its (embedded) worker
    channel = grpc.secure_channel(before, credentials(tls_of(pki["client"])))
    with channel, pytest.raises(grpc.RpcError) as exc:
        dmworker_pb2_grpc.WorkerStub(channel).ApplyState(pb.WorkerState(source="evil"), timeout=5)
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
    time.sleep(1.5)  # a heartbeat later, worker1 is still where it was, and online
    assert tls_daemon.workers()["worker1"].addr == before
    assert tls_daemon.workers()["worker1"].stage in ("free", "bound")


def test_strangers_can_neither_register_nor_steer_a_worker(plain_daemon):
    d = plain_daemon
    with pytest.raises(grpc.RpcError) as exc:
        d.stub.RegisterWorker(mpb.RegisterWorkerRequest(name="worker1", address="127.0.0.1:1"), timeout=5)
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
    worker_addr = d.workers()["worker1"].addr
    with grpc.insecure_channel(worker_addr) as channel:
        stub = dmworker_pb2_grpc.WorkerStub(channel)
        forged = pb.WorkerState(source="evil", sourceConfig="source-id: evil\nfrom: {host: 10.9.9.9}\n")
        for call, request in (
            (stub.ApplyState, forged),
            (stub.GetWorkerCfg, pb.GetWorkerCfgRequest()),
            (stub.QueryStatus, pb.QueryStatusRequest()),
        ):
            with pytest.raises(grpc.RpcError) as exc:
                call(request, timeout=5)
            assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert "only for members of this cluster" in exc.value.details()
    time.sleep(1.5)
    assert d.workers()["worker1"].addr == worker_addr and d.workers()["worker1"].stage == "free"
    # the cluster secret is what the master's own calls carry
    token = (d.data_dir / "cluster.secret").read_text().strip()
    with grpc.insecure_channel(worker_addr) as channel:
        resp = dmworker_pb2_grpc.WorkerStub(channel).QueryStatus(
            pb.QueryStatusRequest(), metadata=[("dmshell-cluster-secret", token)], timeout=5
        )
    assert resp.result or resp.msg is not None


def test_a_plaintext_master_is_refused_on_a_non_loopback_address(tmp_path):
    addrs = ["0.0.0.0:18261"]  # the wildcard reaches every interface
    hostname_i = subprocess.run(
        ["hostname", "-I"], capture_output=True, text=True, check=False
    ).stdout.split()
    addrs += [f"{ip}:18261" for ip in hostname_i[:1] if ":" not in ip and not ip.startswith("127.")]
    for addr in addrs:
        r = dmshell("daemon", "--master-addr", addr, "--data-dir", str(tmp_path / "d"), timeout=30)
        host = addr.rsplit(":", 1)[0]
        assert r.returncode == 2, r.stderr
        assert f"refusing to listen on {host} without TLS" in r.stderr and "--insecure" in r.stderr
        assert not (tmp_path / "d").exists()  # refused before anything was created


# --------------------------------------------------------------------------- files and processes


def _umask(pid: int) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Umask:"):
            return line.split()[1]
    raise AssertionError("no Umask line")


def test_data_dir_secrets_logs_and_umask_are_private(plain_daemon):
    d = plain_daemon
    assert d.data_dir.stat().st_mode & 0o777 == 0o700  # it was 0755 before the daemon started
    for name in ("cluster.secret", "secret.key", "master.db", "daemon.lock", "log/worker1.log"):
        assert (d.data_dir / name).stat().st_mode & 0o777 == 0o600, name
    assert (d.data_dir / "log").stat().st_mode & 0o777 == 0o700
    workers = list(worker_pids(d.pid).values())
    assert workers  # the embedded worker
    # dump files, checkpoints and logs are created by these processes: 0600 / 0700 under umask 077
    assert {_umask(pid) for pid in [d.pid, *workers]} == {"0077"}


# --------------------------------------------------------------------------- hostile input


def test_hostile_configs_are_answered_in_milliseconds(plain_daemon):
    d = plain_daemon
    bomb = "name: t\n" + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 10 if p else ['x'] * 10)}]\n"
        for p, n in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
    )
    assert len(bomb) < 500
    cases = [
        (d.stub.StartTask, mpb.StartTaskRequest(task=bomb), "excessive aliasing"),
        (d.stub.CheckTask, mpb.CheckTaskRequest(task="name: &a [*a]\n"), "recursive alias"),
        (d.stub.OperateSource, mpb.OperateSourceRequest(op=mpb.StartSource, config=[bomb]), "aliasing"),
        (d.stub.StartTask, mpb.StartTaskRequest(task="name: t\n" + "#" * (2 << 20)), "at most 1048576"),
    ]
    for call, request, why in cases:
        start = time.perf_counter()
        resp = call(request, timeout=10)
        took = time.perf_counter() - start
        assert not resp.result and why in resp.msg
        assert took < 0.5, took
    with pytest.raises(grpc.RpcError) as exc:  # too large to be read at all
        d.stub.StartTask(mpb.StartTaskRequest(task="#" * (9 << 20)), timeout=10)
    assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert d.stub.GetClusterInfo(mpb.Empty(), timeout=5).pid == d.pid  # still up


def test_a_traversing_task_name_is_refused_by_the_master(plain_daemon, mariadb, tmp_path):
    d = plain_daemon
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep")
    task = (
        f"name: ../../../../{victim.relative_to('/')}\ntask-mode: all\n"
        f"target-database: {{host: 127.0.0.1, port: {mariadb.target.port}, user: root}}\n"
        "mysql-instances:\n  - source-id: s1\n"
    )
    resp = d.stub.StartTask(mpb.StartTaskRequest(task=task, removeMeta=True), timeout=10)
    assert not resp.result and "code=20901" in resp.msg and "is not allowed" in resp.msg
    assert (victim / "precious").read_text() == "keep"


def test_status_watchers_are_capped_and_status_calls_still_work(plain_daemon):
    d = plain_daemon
    streams = [d.stub.WatchStatus(mpb.WatchStatusRequest(intervalMs=5000)) for _ in range(16)]
    try:
        for s in streams:
            next(s)
        extra = d.stub.WatchStatus(mpb.WatchStatusRequest(intervalMs=5000))
        with pytest.raises(grpc.RpcError) as exc:
            next(extra)
        assert exc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert d.stub.QueryStatus(mpb.QueryStatusListRequest(), timeout=5).result
    finally:
        for s in streams:
            s.cancel()

    def one_more() -> bool:
        stream = d.stub.WatchStatus(mpb.WatchStatusRequest(intervalMs=5000))
        try:
            return next(stream) is not None
        finally:
            stream.cancel()

    wait_for(one_more, 10, "a free slot")


# --------------------------------------------------------------------------- databases over TLS


def x509_config(server, pki, **security) -> DBConfig:
    sec = SecurityConfig(**security) if security else None
    return DBConfig(host="127.0.0.1", port=server.port, user=X509_USER, password=X509_PASSWORD, security=sec)


def _cipher(conn) -> str:
    with conn.cursor() as cur:
        cur.execute("SHOW STATUS LIKE 'Ssl_cipher'")
        return cur.fetchone()[1]


def test_mariadb_require_x509_works_with_security_and_fails_without(tls_mariadb, pki):
    m, c = pki["mariadb"], pki["client"]
    files = {"ssl_ca": str(m.ca), "ssl_cert": str(c.cert), "ssl_key": str(c.key)}
    conn = db.connect(x509_config(tls_mariadb, pki, **files))
    assert _cipher(conn)
    conn.close()
    b64 = {k + "_base64": base64.b64encode(Path(v).read_bytes()).decode() for k, v in files.items()}
    conn = db.connect(x509_config(tls_mariadb, pki, **b64, cert_allowed_cn=["tls-mariadb"]))
    assert _cipher(conn)
    conn.close()

    refused = [
        x509_config(tls_mariadb, pki),  # no security: no client certificate
        x509_config(tls_mariadb, pki, ssl_ca=str(m.ca)),  # verified server, still no client cert
        x509_config(tls_mariadb, pki, **{**files, "ssl_ca": str(pki["foreign"].ca)}),  # unknown CA
        x509_config(tls_mariadb, pki, **files, cert_allowed_cn=["someone-else"]),
    ]
    for cfg in refused:
        with pytest.raises(errors.DMError):
            db.connect(cfg).close()


def test_ssl_key_base64_is_masked_in_every_output(tls_daemon, tls_mariadb, pki, tmp_path):
    d, c = tls_daemon, pki["client"]
    key_b64 = base64.b64encode(c.key.read_bytes()).decode()
    cert_b64 = base64.b64encode(c.cert.read_bytes()).decode()
    ciphertext = d.stub.Encrypt(mpb.EncryptRequest(plaintext=X509_PASSWORD), timeout=10).ciphertext
    source = (
        f"source-id: tls-src\nfrom:\n  host: 127.0.0.1\n  port: {tls_mariadb.port}\n"
        f"  user: {X509_USER}\n  password: {ciphertext}\n  security:\n    ssl-ca: {pki['mariadb'].ca}\n"
        f"    ssl-cert-base64: {cert_b64}\n    ssl-key-base64: {key_b64}\n"
    )
    resp = d.stub.OperateSource(mpb.OperateSourceRequest(op=mpb.StartSource, config=[source]), timeout=60)
    assert resp.result, resp.msg  # master and worker1 reach MariaDB with the client certificate
    assert [(s.source, s.worker, s.result) for s in resp.sources] == [("tls-src", "worker1", True)]
    try:
        outputs = {
            "get-config": d.stub.GetCfg(mpb.GetCfgRequest(type=mpb.SourceType, name="tls-src")).cfg,
            "dmctl get-config": dmctl(d.addr, *tls_flags(c), "get-config", "source", "tls-src")[1],
            "dmctl operate-source show": dmctl(d.addr, *tls_flags(c), "operate-source", "show")[1],
            "query-status": str(d.stub.QueryStatus(mpb.QueryStatusListRequest(), timeout=15)),
        }
        exported = d.stub.ListSourceConfigs(mpb.Empty(), timeout=10).sourceConfigs["tls-src"]
        outputs["config export"] = exported
        for p in [*sorted((d.data_dir / "log").glob("*.log")), d.data_dir / "foreground.log"]:
            outputs[p.name] = p.read_text(errors="replace")
        # an error about the key (it does not match the certificate) does not print it either
        bad_key = base64.b64encode(pki["intruder"].key.read_bytes()).decode()
        bad = source.replace("tls-src", "tls-bad").replace(key_b64, bad_key)
        err = d.stub.OperateSource(mpb.OperateSourceRequest(op=mpb.StartSource, config=[bad]), timeout=60)
        assert not err.result
        outputs["error"] = err.msg
        for where, text in outputs.items():
            for secret in (key_b64, bad_key, X509_PASSWORD):
                for piece in (secret[60:100], secret[-60:-20]) if len(secret) > 100 else (secret,):
                    assert piece not in text, (where, piece)
        assert "ssl-key-base64: '******'" in outputs["get-config"]
        assert json.loads(outputs["dmctl get-config"])["result"] is True
        # config export carries the key encrypted (with the install key): import gets it back
        encrypt.init_cipher(encrypt.load_secret_key(pki["key_file"]))
        try:
            back = load_source_config(exported).from_db
        finally:
            encrypt.init_cipher(None)
        assert back.security is not None and back.security.ssl_key_base64 == key_b64
        assert back.password == X509_PASSWORD
        # a password encrypted with DM's built-in key is still read (checked by the master here)
        legacy = source.replace("tls-src", "tls-legacy").replace(ciphertext, encrypt.encrypt(X509_PASSWORD))
        resp = d.stub.OperateSource(mpb.OperateSourceRequest(op=mpb.StartSource, config=[legacy]), timeout=60)
        assert resp.result, resp.msg
    finally:
        d.stub.OperateSource(
            mpb.OperateSourceRequest(op=mpb.StopSource, sourceID=["tls-src", "tls-legacy"]), timeout=60
        )


def test_the_custom_secret_key_round_trips(tls_daemon, pki):
    ciphertext = tls_daemon.stub.Encrypt(mpb.EncryptRequest(plaintext="p@ss w0rd"), timeout=10).ciphertext
    assert encrypt.decrypt_or_plaintext(ciphertext) != "p@ss w0rd"  # DM's key cannot read it
    encrypt.init_cipher(encrypt.load_secret_key(pki["key_file"]))
    try:
        assert encrypt.decrypt(ciphertext) == "p@ss w0rd"
    finally:
        encrypt.init_cipher(None)
    assert pki["key_file"].stat().st_mode & 0o777 == 0o600
    assert not (tls_daemon.data_dir / "secret.key").exists()  # --secret-key-path given: no other key


def test_dump_files_and_work_dirs_are_private(plain_daemon, mariadb, dbname):
    d = plain_daemon
    mariadb.up1.execute(
        f"CREATE DATABASE {dbname}",
        f"CREATE TABLE {dbname}.t (id INT PRIMARY KEY, secret VARCHAR(20))",
        f"INSERT INTO {dbname}.t VALUES (1, 'row one'), (2, 'row two')",
    )
    resp = d.stub.OperateSource(
        mpb.OperateSourceRequest(op=mpb.StartSource, config=[source_yaml("sec-s1", mariadb.up1)]), timeout=60
    )
    assert resp.result, resp.msg
    task = (
        f"name: sec-full\ntask-mode: full\nclean-dump-file: false\n"
        f"target-database:\n{mariadb.target.connection_yaml()}"
        f"block-allow-list:\n  bal:\n    do-dbs: [{dbname}]\n"
        "mysql-instances:\n  - source-id: sec-s1\n    block-allow-list: bal\n"
    )
    try:
        resp = d.stub.StartTask(mpb.StartTaskRequest(task=task), timeout=60)
        assert resp.result, (resp.msg, resp.checkResult)
        d.wait_subtask("sec-full", "sec-s1", lambda st: st.stage == pb.Finished, 60, "the full copy")
        work = d.data_dir / "workers" / "worker1" / "sec-full.sec-s1"
        files = [p for p in work.rglob("*") if p.is_file()]
        assert any(f.name.endswith(".sql") for f in files), files  # the dump files are kept
        for path in [work, *work.rglob("*")]:
            mode = path.stat().st_mode & 0o777
            assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    finally:
        d.stub.OperateTask(mpb.OperateTaskRequest(op=pb.Delete, name="sec-full"), timeout=60)
        d.stub.OperateSource(mpb.OperateSourceRequest(op=mpb.StopSource, sourceID=["sec-s1"]), timeout=60)
