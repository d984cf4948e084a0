def test_cluster(mariadb, dbname):
    assert mariadb.up1.query("select @@binlog_row_metadata")[0][0] == "NO_LOG"
    assert mariadb.up2.query("select @@binlog_row_metadata")[0][0] == "FULL"
