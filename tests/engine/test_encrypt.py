"""DM-compatible password encryption: the manual's ciphertexts, random IVs, custom keys."""

from __future__ import annotations

import base64

import pytest

from dmshell.engine.config import encrypt
from dmshell.engine.errors import DMError


@pytest.fixture(autouse=True)
def _default_key():
    encrypt.init_cipher(None)
    yield
    encrypt.init_cipher(None)


@pytest.mark.parametrize(
    ("ciphertext", "plaintext"),
    [
        ("fCxfQ9XKCezSzuCD0Wf5dUD+LsKegSg=", "123456"),
        ("VjX8cEeTX+qcvZ3bPaO4h0C80pe/1aU=", "123456"),
        ("MKxn0Qo3m3XOyjCnhEMtsUCm83EhGQDZ/T4=", "abc!@#123"),
    ],
)
def test_decrypts_the_manuals_ciphertexts(ciphertext, plaintext):
    assert encrypt.decrypt(ciphertext) == plaintext


def test_encrypt_is_randomized_and_round_trips():
    a, b = encrypt.encrypt("abc"), encrypt.encrypt("abc")
    assert a != b
    assert len(a) == 28  # dmctl prints 28 characters for "abc"
    raw = base64.b64decode(a)
    assert raw[16:17] == b"@" and len(raw) == 16 + 1 + 3
    assert encrypt.decrypt(a) == encrypt.decrypt(b) == "abc"
    assert encrypt.decrypt(encrypt.encrypt("pä$$wörd")) == "pä$$wörd"
    assert encrypt.decrypt(encrypt.encrypt("")) == ""


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ("not base64!", 11050),
        ("YWJj", 11047),  # 3 bytes: too short
        (base64.b64encode(b"x" * 20).decode(), 11048),  # no "@" after the IV
    ],
)
def test_decrypt_errors(bad, code):
    with pytest.raises(DMError) as info:
        encrypt.decrypt(bad)
    assert info.value.code == code
    assert bad not in str(info.value)  # the value may be a plaintext password: never echo it


def test_decrypt_or_plaintext():
    assert encrypt.decrypt_or_plaintext("fCxfQ9XKCezSzuCD0Wf5dUD+LsKegSg=") == "123456"
    for plain in ("123456", "", "hunter2", "YWJj", "MKxn0Qo3m3X0yjCnhEMtsUCm83EhGQDZ/T4="):
        assert encrypt.decrypt_or_plaintext(plain) == plain


def test_custom_secret_key(tmp_path):
    key = bytes(range(32))
    path = tmp_path / "key.txt"
    path.write_text(key.hex().upper() + "\n")
    assert encrypt.load_secret_key(path) == key
    encrypt.init_cipher(key)
    c = encrypt.encrypt("secret")
    assert encrypt.decrypt(c) == "secret"
    # ciphertexts of DM's built-in key are still understood (issue 17), not the reverse
    assert encrypt.decrypt_or_plaintext("fCxfQ9XKCezSzuCD0Wf5dUD+LsKegSg=") == "123456"
    encrypt.init_cipher(None)
    assert encrypt.decrypt_or_plaintext(c) != "secret"


@pytest.mark.parametrize("content", ["abcd", "zz" * 32, "00" * 16])
def test_bad_secret_key_files(tmp_path, content):
    path = tmp_path / "key.txt"
    path.write_text(content)
    with pytest.raises(DMError) as info:
        encrypt.load_secret_key(path)
    assert info.value.code == 20067


def test_missing_secret_key_file(tmp_path):
    with pytest.raises(DMError) as info:
        encrypt.load_secret_key(tmp_path / "absent")
    assert info.value.code == 20067
