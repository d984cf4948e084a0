"""The sync unit (DM's ``syncer``): binlog events to the target, with checkpoints."""
