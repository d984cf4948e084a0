"""Issue 17's rules that need no daemon: names that become paths, hostile YAML, secret masking,
the password key ring, log rotation, the address classification, ``session:`` names."""

from __future__ import annotations

import logging
import os
import time

import pytest

from dmshell.daemon import auth
from dmshell.daemon.common import setup_logging
from dmshell.daemon.worker import prepare_work_dir, subtask_dir
from dmshell.engine import errors, yamlstrict
from dmshell.engine.config import encrypt
from dmshell.engine.config.load import dump_source_config, load_source_config, load_task_config
from dmshell.engine.config.secrets import SECRET_KEYS, mask_text
from dmshell.engine.names import inside, name_error

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 10 if prev else ['x'] * 10)}]\n"
    for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)
SOURCE = "source-id: {sid}\nfrom:\n  host: 127.0.0.1\n  user: root\n  password: pw\n"


def test_names_that_become_paths():
    for good in ("task-1", "my_task.v2", "mysql-replica-01", "A" * 128):
        assert name_error("task name", good) == ""
    for bad in ("", "..", ".hidden", "a/b", "../../etc", "a b", "ta\u00dfk", "x\x00", "A" * 129):
        assert name_error("task name", bad), bad


def test_a_traversing_task_name_is_refused_at_load():
    task = (
        "name: ../../victim\ntask-mode: all\ntarget-database: {host: h, user: u}\n"
        "mysql-instances:\n  - source-id: s1\n"
    )
    with pytest.raises(errors.DMError) as exc:
        load_task_config(task)
    assert exc.value.entry.code == 20901 and "../../victim" in str(exc.value)
    with pytest.raises(errors.DMError) as exc:
        load_source_config(SOURCE.format(sid="../up"))
    assert exc.value.entry.code == 20901


def test_work_dirs_stay_inside_and_remove_meta_deletes_nothing_outside(tmp_path):
    base, victim = tmp_path / "workers" / "worker1", tmp_path / "victim"
    victim.mkdir(parents=True)
    base.mkdir(parents=True)
    (victim / "precious").write_text("keep me")
    for task, source in (("..", "x"), ("../../victim", "s"), ("t", "../..")):
        with pytest.raises(errors.DMError):
            subtask_dir(base, task, source)
    # a work dir that is a symlink to elsewhere resolves outside: refused too
    (base / "t.s").symlink_to(victim)
    with pytest.raises(errors.DMError):
        subtask_dir(base, "t", "s")
    with pytest.raises(ValueError):
        inside(base, "..")
    work = subtask_dir(base, "t", "s2")
    prepare_work_dir(work, "start-1", remove_meta=False)
    (work / "link").symlink_to(victim)  # --remove-meta unlinks a symlink, never follows it
    prepare_work_dir(work, "start-2", remove_meta=True)
    assert not (work / "link").exists() and (victim / "precious").read_text() == "keep me"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (BOMB, "excessive aliasing"),
        ("a: &a [*a]\n", "recursive alias"),
        ("a: &a {b: {c: *a}}\n", "recursive alias"),
        ("x: &x 1\n" + "".join(f"k{i}: *x\n" for i in range(1001)), "more than 1000 aliases"),
        ("[" * 20000 + "]" * 20000, "nest"),
    ],
)
def test_hostile_yaml_is_refused_in_milliseconds(text, why):
    start = time.perf_counter()
    with pytest.raises(yamlstrict.YAMLStrictError) as exc:
        yamlstrict.parse(text)
    assert why in str(exc.value)
    assert time.perf_counter() - start < 0.5


def test_anchors_and_merges_of_real_configs_still_work():
    root = yamlstrict.parse("a: &m {k: 1}\nb: {<<: *m, j: 2}\nc: *m\nd: [*m, *m]\n")
    assert yamlstrict.to_plain(root) == {
        "a": {"k": 1},
        "b": {"k": 1, "j": 2},
        "c": {"k": 1},
        "d": [{"k": 1}] * 2,
    }


def test_one_list_of_secret_keys_masks_dumps_and_text():
    assert {"password", "ssl-key-base64"} == SECRET_KEYS
    cfg = load_source_config(
        SOURCE.format(sid="s1") + "  security:\n    ssl-ca: /ca.pem\n    ssl-key-base64: U0VDUkVUS0VZ\n"
    )
    assert cfg.from_db.security is not None and cfg.from_db.security.ssl_key_base64 == "U0VDUkVUS0VZ"
    dumped = dump_source_config(cfg)
    assert "U0VDUkVUS0VZ" not in dumped and "ssl-key-base64: '******'" in dumped
    assert mask_text("from: {password: 'pw', ssl-key-base64: U0VDUkVUS0VZ}") == (
        "from: {password: ******, ssl-key-base64: ******}"
    )


def test_log_lines_are_masked_rotated_and_private(tmp_path):
    log_file = tmp_path / "logs" / "d.log"
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        setup_logging("info", str(log_file), "t", max_mb=1, backups=2)
        log = logging.getLogger("dmshell.test")
        log.info("source config: %s", "password: hunter2\nssl-key-base64: U0VDUkVU")
        for i in range(12_000):  # ~3 MB: two rotations and one dropped file
            log.info("line %06d %s", i, "x" * 200)
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    files = sorted(p.name for p in log_file.parent.iterdir())
    assert files == ["d.log", "d.log.1", "d.log.2"]
    for name in files:
        path = log_file.parent / name
        assert path.stat().st_size <= 1024 * 1024 + 1024
        assert path.stat().st_mode & 0o777 == 0o600
        assert "hunter2" not in path.read_text() and "U0VDUkVU" not in path.read_text()
    assert log_file.parent.stat().st_mode & 0o777 == 0o700


def test_a_per_install_key_reads_dm_ciphertexts_and_its_own(tmp_path):
    legacy = encrypt.encrypt("legacy-secret")  # DM's built-in key
    key_path = tmp_path / "secret.key"
    key = encrypt.load_or_create_key(key_path)
    assert key_path.stat().st_mode & 0o777 == 0o600 and encrypt.load_or_create_key(key_path) == key
    try:
        encrypt.init_cipher(key)
        own = [encrypt.encrypt(f"pw{i}") for i in range(300)]
        assert [encrypt.decrypt(c) for c in own] == [f"pw{i}" for i in range(300)]
        assert encrypt.decrypt(legacy) == "legacy-secret"
        assert encrypt.decrypt_or_plaintext("plain-password") == "plain-password"
    finally:
        encrypt.init_cipher(None)
    assert encrypt.decrypt_or_plaintext(own[0]) != "pw0"  # another installation cannot read it


def test_address_classification():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert auth.is_loopback_host(host), host
    for host in ("", "0.0.0.0", "::", "10.1.2.3", "192.168.0.1", "8.8.8.8"):
        assert not auth.is_loopback_host(host), host
    sec = auth.Security()
    assert "refusing to listen on 0.0.0.0 without TLS" in auth.check_listen_address(
        "0.0.0.0", sec, False, "x"
    )
    assert auth.check_listen_address("0.0.0.0", sec, True, "x") == ""
    assert auth.check_listen_address("127.0.0.1", sec, False, "x") == ""


def test_session_names_are_checked(mariadb):
    from dmshell.engine import db

    cfg = mariadb.target.dbconfig()
    cfg.session = {"sql_mode = '', autocommit": "1"}
    with pytest.raises(errors.DMError) as exc:
        db.connect(cfg)
    assert "is not a variable name" in str(exc.value)
    cfg.session = {"time_zone": "+01:00'; DROP DATABASE mysql; --"}  # a value is a parameter
    with pytest.raises(errors.DMError):
        db.connect(cfg)  # refused by the server as an unknown time zone, nothing injected
    cfg.session = {"time_zone": "+01:00"}
    conn = db.connect(cfg)
    with conn.cursor() as cur:
        cur.execute("SELECT @@session.time_zone")
        assert cur.fetchone() == ("+01:00",)
    conn.close()


def test_server_certificates_are_re_read_when_they_change(tmp_path):
    import shutil

    from dmshell.client.channel import TLSFiles
    from dmshell.sandbox import TestPKI

    pki = TestPKI(tmp_path / "pki")
    first, second = pki.issue("one"), pki.issue("two")
    live = tmp_path / "live"
    live.mkdir()
    for src, dst in ((first.cert, "cert.pem"), (first.key, "key.pem"), (pki.ca, "ca.pem")):
        shutil.copy(src, live / dst)
    fetch = auth.CertReloader(TLSFiles(str(live / "ca.pem"), str(live / "cert.pem"), str(live / "key.pem")))
    assert fetch() is None  # unchanged: gRPC keeps the current certificate
    shutil.copy(second.cert, live / "cert.pem")
    shutil.copy(second.key, live / "key.pem")
    os.utime(live / "cert.pem", ns=(1, 1))  # a different stamp even within one clock tick
    assert fetch() is not None  # a new configuration for the next connection
    assert fetch() is None
    (live / "key.pem").unlink()  # mid-rotation: keep serving with the old files
    assert fetch() is None
