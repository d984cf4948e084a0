"""The client layer (dmshell.client): dialing, message limits, TLS, error text, the daemon's defaults."""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from fake_master import FakeMaster

from dmshell.client.channel import MAX_MESSAGE, TLSFiles
from dmshell.client.defaults import DEFAULT_MASTER_ADDR, data_dir, default_data_dir
from dmshell.client.errors import (
    EXIT_UNREACHABLE,
    ClientError,
    RpcFailed,
    UnreachableError,
    go_code_name,
    status_text,
)
from dmshell.client.master import MasterClient
from dmshell.proto import dmmaster_pb2 as mpb
from dmshell.proto import dmworker_pb2 as pb
from dmshell.proto.dmmaster_pb2_grpc import MasterStub
from dmshell.sandbox import free_port

#: Go's ``codes.Code.String()`` for every status code (google.golang.org/grpc/codes/code_string.go)
GO_NAMES = {
    "OK": "OK",
    "CANCELLED": "Canceled",
    "UNKNOWN": "Unknown",
    "INVALID_ARGUMENT": "InvalidArgument",
    "DEADLINE_EXCEEDED": "DeadlineExceeded",
    "NOT_FOUND": "NotFound",
    "ALREADY_EXISTS": "AlreadyExists",
    "PERMISSION_DENIED": "PermissionDenied",
    "RESOURCE_EXHAUSTED": "ResourceExhausted",
    "FAILED_PRECONDITION": "FailedPrecondition",
    "ABORTED": "Aborted",
    "OUT_OF_RANGE": "OutOfRange",
    "UNIMPLEMENTED": "Unimplemented",
    "INTERNAL": "Internal",
    "UNAVAILABLE": "Unavailable",
    "DATA_LOSS": "DataLoss",
    "UNAUTHENTICATED": "Unauthenticated",
}


def test_go_names_of_every_status_code() -> None:
    assert {c.name: go_code_name(c.name) for c in grpc.StatusCode} == GO_NAMES


def test_failed_call_reads_as_go_prints_it(fake_master: FakeMaster) -> None:
    fake_master.set("QueryStatus", FakeMaster.error(grpc.StatusCode.CANCELLED, "stopped by the server"))
    client = MasterClient(fake_master.addr, 5)
    with pytest.raises(RpcFailed) as failed:
        client.call("QueryStatus", mpb.QueryStatusListRequest())
    assert str(failed.value) == "rpc error: code = Canceled desc = stopped by the server"
    assert (failed.value.code, failed.value.details) == ("CANCELLED", "stopped by the server")
    client.close()


def test_unimplemented_names_the_rpc_unless_the_master_did(fake_master: FakeMaster) -> None:
    client = MasterClient(fake_master.addr, 5)
    fake_master.set("Encrypt", FakeMaster.error(grpc.StatusCode.UNIMPLEMENTED, "Method not found!"))
    with pytest.raises(RpcFailed, match=r"^Encrypt is not supported yet by this dm-master \(rpc error: "):
        client.call("Encrypt", mpb.EncryptRequest(plaintext="x"))
    own_text = "[code=38032] not supported yet"
    fake_master.set("Encrypt", FakeMaster.error(grpc.StatusCode.UNIMPLEMENTED, own_text))
    with pytest.raises(RpcFailed, match=r"^\[code=38032\] not supported yet$"):
        client.call("Encrypt", mpb.EncryptRequest(plaintext="x"))
    client.close()


def test_the_master_wraps_a_worker_failure_in_the_same_text(fake_master: FakeMaster) -> None:
    from dmshell.daemon.master import rpc_error_text

    fake_master.set("QueryStatus", FakeMaster.error(grpc.StatusCode.DEADLINE_EXCEEDED, "too slow"))
    channel = grpc.insecure_channel(fake_master.addr)
    with pytest.raises(grpc.RpcError) as failed:
        MasterStub(channel).QueryStatus(mpb.QueryStatusListRequest(), timeout=5)
    channel.close()
    text = rpc_error_text(failed.value)
    assert text.startswith("[code=38008:class=dm-master:")
    assert "RawCause: " + status_text(failed.value) in text
    assert status_text(failed.value) == "rpc error: code = DeadlineExceeded desc = too slow"


# --------------------------------------------------------------------------- dialing


def test_dials_the_first_address_that_answers(fake_master: FakeMaster) -> None:
    dead = f"127.0.0.1:{free_port()}"
    client = MasterClient(f"{dead},http://{fake_master.addr}", 5)
    assert client.call("ListMember", mpb.ListMemberRequest()).result
    assert client.address == f"http://{fake_master.addr}"  # as given, for messages
    client.close()


def test_no_address_answers_is_dms_create_conn_error() -> None:
    addrs = f"127.0.0.1:{free_port()},not-an-address"
    client = MasterClient(addrs, 5, dial_timeout=0.5)
    with pytest.raises(UnreachableError) as failed:
        client.call("ListMember", mpb.ListMemberRequest())
    assert failed.value.exit_code == EXIT_UNREACHABLE
    assert str(failed.value) == (
        f"[code=48001:class=dmctl:scope=internal:level=high], Message: can't connect to {addrs}, "
        "RawCause: context deadline exceeded, Workaround: Please check your network connection."
    )


def test_a_restarted_master_is_dialed_again(fake_master: FakeMaster) -> None:
    client = MasterClient(fake_master.addr, 5)
    assert client.call("ListMember", mpb.ListMemberRequest()).result
    fake_master.stop()
    fake_master.start(port=fake_master.port)
    assert client.call("ListMember", mpb.ListMemberRequest()).result  # UNAVAILABLE → re-dial, retry
    client.close()


# --------------------------------------------------------------------------- message limits


def big_status(size: int) -> mpb.QueryStatusListResponse:
    """A status list of about ``size`` bytes (one subtask per source, each with a long message)."""
    chunk = 100_000
    return mpb.QueryStatusListResponse(
        result=True,
        sources=[
            pb.QueryStatusResponse(
                result=True,
                sourceStatus=pb.SourceStatus(source=f"src-{i}", worker=f"w{i}"),
                subTaskStatus=[pb.SubTaskStatus(name="big", stage=pb.Running, msg="x" * chunk)],
            )
            for i in range(size // chunk + 1)
        ],
    )


def test_answers_larger_than_grpcs_default_4_mib_arrive(fake_master: FakeMaster) -> None:
    status = big_status(6 * 1024 * 1024)
    assert status.ByteSize() > 4 * 1024 * 1024
    fake_master.set("QueryStatus", status)
    client = MasterClient(fake_master.addr, 10)
    assert client.call("QueryStatus", mpb.QueryStatusListRequest()) == status
    assert next(iter(client.stream("WatchStatus", mpb.WatchStatusRequest(intervalMs=100)))) == status
    client.close()


def test_an_answer_over_the_limit_is_fetched_again_with_a_limit_that_fits(fake_master: FakeMaster) -> None:
    status = big_status(2 * 1024 * 1024)
    fake_master.set("QueryStatus", status)
    client = MasterClient(fake_master.addr, 10, max_receive=1024 * 1024)
    assert client.call("QueryStatus", mpb.QueryStatusListRequest()) == status
    assert client.max_receive == status.ByteSize()
    client.close()


def test_the_limit_is_the_daemons_send_limit() -> None:
    from dmshell.daemon.common import GRPC_OPTIONS

    assert dict(GRPC_OPTIONS)["grpc.max_send_message_length"] == MAX_MESSAGE


# --------------------------------------------------------------------------- TLS


def _write_certs(tmp: Path) -> TLSFiles:
    """A CA, and a server certificate for 127.0.0.1 signed by it (PEM files); returns the CA as
    ``ca`` and the server's pair as ``cert``/``key``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("dmshell test CA"))
        .issuer_name(name("dmshell test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name("dm-master"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TLSFiles(str(tmp / "ca.pem"), str(tmp / "server.pem"), str(tmp / "server.key"))
    Path(files.ca).write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    Path(files.cert).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    Path(files.key).write_bytes(pem_key(key))
    return files


@pytest.fixture
def tls_master(tmp_path: Path) -> Iterator[tuple[str, TLSFiles]]:
    """The fake master's service behind TLS (the daemon cannot serve TLS yet)."""
    files = _write_certs(tmp_path)
    fake = FakeMaster()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((fake._handlers(),))
    creds = grpc.ssl_server_credentials([(Path(files.key).read_bytes(), Path(files.cert).read_bytes())])
    port = server.add_secure_port("127.0.0.1:0", creds)
    server.start()
    try:
        yield f"127.0.0.1:{port}", files
    finally:
        server.stop(grace=None).wait()


def test_tls_with_dms_ssl_ca(tls_master: tuple[str, TLSFiles]) -> None:
    addr, files = tls_master
    client = MasterClient(addr, 5, tls=TLSFiles(ca=files.ca))
    assert client.call("ListMember", mpb.ListMemberRequest()).result
    client.close()
    plain = MasterClient(addr, 5, dial_timeout=1.0)  # a plain-text client cannot talk to it
    with pytest.raises(UnreachableError):
        plain.connect()


def test_an_unreadable_tls_file_is_dms_invalid_tls_config(tmp_path: Path) -> None:
    client = MasterClient(DEFAULT_MASTER_ADDR, 5, tls=TLSFiles(ca=str(tmp_path / "missing.pem")))
    with pytest.raises(ClientError) as failed:
        client.connect()
    assert "[code=48002:class=dmctl" in str(failed.value)
    assert f"open {tmp_path / 'missing.pem'}: No such file or directory" in str(failed.value)


# --------------------------------------------------------------------------- defaults, imports


def test_data_dir_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == str(tmp_path / "dmshell")
    assert data_dir({}) == str(tmp_path / "dmshell")
    assert data_dir({"DMSHELL_DATA_DIR": "/srv/dm"}) == "/srv/dm"


def test_the_daemon_takes_its_defaults_from_the_client_layer() -> None:
    from dmshell.client import defaults
    from dmshell.daemon import process

    assert process.defaults is defaults
    assert defaults.DEFAULT_MASTER_ADDR == "127.0.0.1:8261"
    help_text = process.build_parser().format_help()
    assert defaults.DEFAULT_MASTER_ADDR in help_text and defaults.default_data_dir() in help_text


def test_the_client_layer_never_loads_textual_and_loads_grpc_only_to_dial(fake_master: FakeMaster) -> None:
    code = (
        "import sys\nfrom dmshell.client.master import MasterClient\n"
        "before = 'grpc' in sys.modules\n"
        f"MasterClient({fake_master.addr!r}, 5).connect()\n"
        "print(before, 'grpc' in sys.modules, sorted(m for m in ('textual', 'rich', 'dmshell.tui', "
        "'dmshell.ctl', 'dmshell.daemon') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split(maxsplit=2) == ["False", "True", "[]\n"]
