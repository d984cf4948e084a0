"""The sandbox servers the tests share, and the rule that keeps ``make unit`` free of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dmshell.sandbox import UPSTREAM1, MariaDBServer


def test_cluster(mariadb, dbname):
    assert mariadb.up1.query("select @@binlog_row_metadata")[0][0] == "NO_LOG"
    assert mariadb.up2.query("select @@binlog_row_metadata")[0][0] == "FULL"


def test_a_test_not_marked_mariadb_cannot_start_a_server(request, tmp_path: Path):
    assert request.node.get_closest_marker("mariadb") is None
    server = MariaDBServer(spec=UPSTREAM1, base_dir=tmp_path, port=1)
    with pytest.raises(AssertionError, match="starts MariaDB: mark it @pytest.mark.mariadb"):
        server.start()
