"""The upstream schema tracker (DM's ``pkg/schema``): each table's structure at the binlog position."""
