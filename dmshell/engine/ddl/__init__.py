"""DDL statements from the binlog: analysis, routing, rewriting, and their event-filter types."""
