"""The Textual TUI: the app, its status stream, model and widgets (screens: :mod:`dmshell.screens`)."""
