"""Widgets and cell formatting shared by the TUI screens."""
