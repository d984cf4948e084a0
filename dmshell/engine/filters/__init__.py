"""Table selection and filtering rules: block-allow lists, routes, binlog event and expression filters.

:mod:`.rule_types` declares the rules as a task file writes them, :mod:`.rules` compiles block-allow
lists, routes and event filters, :mod:`.expression` the expression filters. This package does not
import :mod:`dmshell.engine.config` (config imports it).
"""
