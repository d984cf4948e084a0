"""The load unit (DM's ``loader``): dump files into the target, resumable per chunk."""
