"""Password ciphers: encrypt (asks the master, as DM does) and decrypt (local, hidden).

``encrypt`` calls the master's ``Encrypt`` RPC so the ciphertext is made with the master's key (DM
v8 lets the master use its own key). ``decrypt`` has no RPC in DM's API; dmctl v2.0 had it as a
local command, and dmshell keeps it local, using DM's built-in key (``dmshell.engine.config.encrypt``).
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
    from dmshell.engine.config.encrypt import decrypt as local_decrypt

    inv.println(local_decrypt(inv.args[0]))


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
