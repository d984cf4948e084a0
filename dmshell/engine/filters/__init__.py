"""Table selection and filtering rules: block-allow lists, routes, binlog event and expression filters."""
