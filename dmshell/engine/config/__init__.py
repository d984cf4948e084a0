"""DM's source and task configuration: strict YAML, every documented key declared once."""
