"""The dump unit (DM's ``dumpling``): a consistent snapshot of the upstream written to files."""
