"""DM-compatible password encryption (``dmctl encrypt`` / ``decrypt``, encrypted passwords in configs).

The format is DM's: ``base64(iv[16] + b"@" + AES-CFB(key, iv).encrypt(plaintext))`` with a 32-byte
AES-256 key and a random IV, so encrypting the same text twice gives different ciphertexts.

Keys: DM up to v7.x had one built-in key, and the DM 5.3 manual's samples (and most existing
deployments' config files) are encrypted with it, so dmshell uses that key by default. DM v8 made
the key configurable (``dm-master --secret-key-path``: a file holding 64 hex characters); pass
such a key to :func:`init_cipher` (see :func:`load_secret_key`) and it replaces the default one.

Config loading follows DM's rule (:func:`decrypt_or_plaintext`): a password that decrypts with the
active key is replaced by its plaintext, anything else is taken as a plaintext password.

With a key of its own (the daemon's per-install ``--secret-key-path``, :func:`load_or_create_key`),
ciphertexts made under DM's built-in key stay readable: AES-CFB cannot tell a wrong key, so the IVs
dmshell makes end in a 4-byte HMAC of the plaintext under the key (still DM's format: DM reads
them with the same key), and decryption prefers the key whose tag matches, then the built-in key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher as _AESCipher
from cryptography.hazmat.primitives.ciphers import algorithms

try:  # cryptography ≥ 47 keeps CFB among the "decrepit" modes
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB

from dmshell.engine.errors import (
    DMError,
    ErrCiphertextContextNotValid,
    ErrCiphertextLenNotValid,
    ErrConfigSecretKeyPath,
    ErrEncCipherTextBase64Decode,
)

#: The key built into DM ≤ v7.x (``pkg/encrypt``); ciphertexts in the DM 5.3 manual use it.
LEGACY_DEFAULT_KEY = bytes.fromhex("a529b7665997f043a30ac8fadcb51d6aa032c226ab5b7750530b12b8c1a16a48")

_IV_SEP = b"@"
_BLOCK = 16


class PasswordCipher:
    """AES-256-CFB with DM's ``iv@ciphertext`` framing."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ErrConfigSecretKeyPath("the secret key must be a hex AES-256 key of length 64")
        self._key = key

    def _tag(self, nonce: bytes, plain: bytes) -> bytes:
        return hmac.new(self._key, b"dmshell-iv" + nonce + plain, hashlib.sha256).digest()[:_TAG]

    def encrypt(self, plaintext: str) -> str:
        """Base64 ciphertext of ``plaintext`` (random IV, ending in the tag)."""
        nonce = os.urandom(_BLOCK - _TAG)
        iv = nonce + self._tag(nonce, plaintext.encode())
        enc = _AESCipher(algorithms.AES(self._key), CFB(iv)).encryptor()
        body = enc.update(plaintext.encode()) + enc.finalize()
        return base64.b64encode(iv + _IV_SEP + body).decode()

    def decrypt(self, ciphertext_b64: str) -> str:
        """Plaintext of a base64 ciphertext; DMError when it is not one."""
        return self.decrypt_tagged(ciphertext_b64)[0]

    def decrypt_tagged(self, ciphertext_b64: str) -> tuple[str, bool]:
        """(plaintext, whether the IV carries this key's tag); DMError when it is not a ciphertext."""
        try:
            raw = base64.b64decode(ciphertext_b64.encode(), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
            raise ErrEncCipherTextBase64Decode("******", cause=exc) from None
        if len(raw) < _BLOCK + len(_IV_SEP):
            raise ErrCiphertextLenNotValid(_BLOCK + len(_IV_SEP), len(raw))
        if raw[_BLOCK : _BLOCK + len(_IV_SEP)] != _IV_SEP:
            raise ErrCiphertextContextNotValid()
        iv, body = raw[:_BLOCK], raw[_BLOCK + len(_IV_SEP) :]
        dec = _AESCipher(algorithms.AES(self._key), CFB(iv)).decryptor()
        plain = dec.update(body) + dec.finalize()
        try:
            # DM returns the bytes as they are; text that is not UTF-8 was almost certainly a
            # plaintext password that happened to look like ciphertext, so report it as such.
            text = plain.decode()
        except UnicodeDecodeError:
            raise ErrCiphertextContextNotValid() from None
        return text, hmac.compare_digest(iv[-_TAG:], self._tag(iv[:-_TAG], plain))


class _KeyRing:
    """Encrypts with the active key; decrypts with the key whose tag matches, else the built-in key,
    else whatever the active key gives (ciphertexts DM made under a custom key carry no tag)."""

    def __init__(self, key: bytes | None) -> None:
        self.active = PasswordCipher(LEGACY_DEFAULT_KEY if key is None else key)
        self.legacy = None if key is None or key == LEGACY_DEFAULT_KEY else PasswordCipher(LEGACY_DEFAULT_KEY)

    def encrypt(self, plaintext: str) -> str:
        return self.active.encrypt(plaintext)

    def decrypt(self, ciphertext_b64: str) -> str:
        try:
            text, tagged = self.active.decrypt_tagged(ciphertext_b64)
        except DMError:
            if self.legacy is None:
                raise
            return self.legacy.decrypt(ciphertext_b64)
        if tagged or self.legacy is None:
            return text
        try:  # DM's legacy ciphertexts carry no tag: the built-in key wins over an untagged guess
            return self.legacy.decrypt(ciphertext_b64)
        except DMError:
            return text


_TAG = 4
_active = _KeyRing(None)


def init_cipher(key: bytes | None) -> None:
    """Use ``key`` (32 bytes) for all later calls; ``None`` restores DM's legacy built-in key."""
    global _active
    _active = _KeyRing(key)


def load_or_create_key(path: str | os.PathLike[str]) -> bytes:
    """The key in ``path``; a new random one (64 hex characters, file 0600) when it does not exist."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_secret_key(path)
    except OSError as exc:
        raise ErrConfigSecretKeyPath(exc) from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return load_secret_key(path)


def load_secret_key(path: str | os.PathLike[str]) -> bytes:
    """Read a ``--secret-key-path`` file: 64 hex characters (surrounding whitespace ignored)."""
    try:
        content = Path(path).read_text().strip()
    except OSError as exc:
        raise ErrConfigSecretKeyPath(exc) from None
    try:
        key = bytes.fromhex(content)
    except ValueError as exc:
        raise ErrConfigSecretKeyPath(f"encoding/hex: {exc}") from None
    if len(key) != 32:
        raise ErrConfigSecretKeyPath("the secret key must be a hex AES-256 key of length 64")
    return key


def encrypt(plaintext: str) -> str:
    """``dmctl encrypt``: base64 ciphertext with the active key."""
    return _active.encrypt(plaintext)


def decrypt(ciphertext_b64: str) -> str:
    """``dmctl decrypt``: plaintext, or DMError (11047/11048/11050) when it is not a ciphertext."""
    return _active.decrypt(ciphertext_b64)


def decrypt_or_plaintext(password: str) -> str:
    """DM's ``DecryptOrPlaintext``: the plaintext of a valid ciphertext, else ``password`` itself."""
    if not password:
        return password
    try:
        return _active.decrypt(password)
    except DMError:
        return password


def encrypt_or_plaintext(plaintext: str) -> str:
    """DM's ``EncryptOrPlaintext`` (never fails with a key configured)."""
    try:
        return _active.encrypt(plaintext)
    except DMError:  # pragma: no cover - only without a usable key
        return plaintext
