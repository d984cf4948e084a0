"""dmctl's commands, in DM's registration order (``dm/ctl/ctl.go``, ``NewRootCmd``)."""

from __future__ import annotations

from dmshell.ctl.flags import Flag, bool_flag, string_flag, strings_flag


def root_flags(mode: str) -> list[Flag]:
    """The root's persistent flags: ``-s/--source`` always; the process flags in command mode."""
    flags = [
        strings_flag("source", "MySQL Source ID.", "s"),
        # beyond DM (hidden so that usage text stays DM's): output format, and skipping confirmations
        string_flag("output", "output format: json (DM's, default), table or plain", hidden=True),
        bool_flag("yes", "do not ask before destructive commands", hidden=True),
    ]
    if mode == "command":
        flags += [
            bool_flag("version", "Prints version and exit.", "V"),
            string_flag("config", "Path to config file."),
            string_flag(
                "master-addr",
                "Master API server address, this parameter is required when interacting "
                "with the dm-master",
            ),
            string_flag("rpc-timeout", "RPC timeout, default is 10m.", default="10m"),
            string_flag("ssl-ca", "Path of file that contains list of trusted SSL CAs for connection."),
            string_flag(
                "ssl-cert", "Path of file that contains X509 certificate in PEM format for connection."
            ),
            string_flag("ssl-key", "Path of file that contains X509 key in PEM format for connection."),
            # dmctl v2.0's `--encrypt` / `--decrypt` (local, no master needed)
            string_flag("encrypt", "Encrypts plaintext to ciphertext.", hidden=True),
            string_flag("decrypt", "Decrypts ciphertext to plaintext.", hidden=True),
        ]
    return flags


def top_level_commands() -> list:
    from dmshell.ctl.commands import binlog, cluster, config, ddl, relay, schema, secret, task, validation

    return [
        *task.commands(),
        *ddl.show_unlock_commands(),
        *relay.pause_resume_commands(),
        *cluster.source_commands(),
        *cluster.member_commands(),
        *schema.operate_schema_commands(),
        *config.get_config_commands(),
        *binlog.handle_error_commands(),
        *cluster.transfer_commands(),
        *relay.start_stop_commands(),
        *binlog.binlog_commands(),
        *ddl.shard_ddl_lock_commands(),
        *schema.binlog_schema_commands(),
        *config.config_commands(),
        *validation.commands(),
        *secret.commands(),
    ]
