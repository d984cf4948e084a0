"""Password ciphers: encrypt (asks the master, as DM does) and decrypt (local, hidden).

``encrypt`` calls the master's ``Encrypt`` RPC so the ciphertext is made with the master's key (DM
v8 lets the master use its own key). ``decrypt`` has no RPC in DM's API; dmctl v2.0 had it as a
local command, and dmshell keeps it local: with DM's built-in key, plus the daemon's per-install
key when dmctl can read it (``$DMSHELL_SECRET_KEY_PATH``, else ``<data-dir>/secret.key`` of the local
daemon: ``$DMSHELL_DATA_DIR`` or the default) — ``docs/security.md``.
"""

from __future__ import annotations

from dmshell.ctl.command import Command
from dmshell.ctl.errors import CtlError
from dmshell.ctl.invocation import Invocation, mpb


def encrypt(inv: Invocation) -> None:
    if len(inv.args) != 1:
        raise inv.show_help()
    resp = inv.call("Encrypt", mpb().EncryptRequest(plaintext=inv.args[0]))
    if not resp.result:
        raise CtlError(resp.msg)
    inv.println(resp.ciphertext)


def decrypt(inv: Invocation) -> None:
    if len(inv.args) != 1:
        raise inv.show_help()
    import os  # here, with the cipher: start-up time

    from dmshell.client.defaults import data_dir
    from dmshell.engine.config import encrypt as cipher

    path = os.environ.get(SECRET_KEY_ENV) or os.path.join(data_dir(), "secret.key")
    if os.environ.get(SECRET_KEY_ENV) or os.access(path, os.R_OK):
        cipher.init_cipher(cipher.load_secret_key(path))  # DM's built-in key stays readable
    inv.println(cipher.decrypt(inv.args[0]))


#: the key file ``decrypt`` uses besides DM's built-in key
SECRET_KEY_ENV = "DMSHELL_SECRET_KEY_PATH"


def commands() -> list[Command]:
    return [
        Command(
            use="encrypt <plain-text>",
            short="Encrypts plain text to cipher text",
            run=encrypt,
            rpc="Encrypt",
            positionals=("text",),
        ),
        Command(
            use="decrypt <cipher-text>",
            short="Decrypts cipher text to plain text",
            run=decrypt,
            hidden=True,
            offline=True,
            positionals=("text",),
        ),
    ]
