"""The relay log (DM's ``dm/relay``): a source's binlog pulled into local files, read by its subtasks."""
