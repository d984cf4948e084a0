"""Textual screens of the dmshell TUI (one screen per module)."""
