"""The migration engine: DM's processing units (dump, load, sync) and what they share.

One package per unit and concern, as DM's tree reads (``dm/dumpling``, ``dm/loader``,
``dm/syncer``, ``dm/pkg/binlog``, ``dm/pkg/schema``); ``ARCHITECTURE.md`` draws the map.
Top-level modules are shared by every unit: :mod:`.unit` (the interface), :mod:`.subtask`
(the pipeline), :mod:`.errors` (DM's error catalogue), :mod:`.db` (connections), :mod:`.meta`.
"""
