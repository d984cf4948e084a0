"""The syncer checkpoint table on the real target: DM's columns, atomic upserts, per-source rows."""

from __future__ import annotations

from dmshell.engine.binlog.location import Location
from dmshell.engine.sync.checkpoint import SyncCheckpoint, TablePoint, record_sql, table_name

DM_COLUMNS = [
    "id",
    "cp_schema",
    "cp_table",
    "binlog_name",
    "binlog_pos",
    "binlog_gtid",
    "exit_safe_binlog_name",
    "exit_safe_binlog_pos",
    "exit_safe_binlog_gtid",
    "table_info",
    "is_global",
    "create_time",
    "update_time",
]


def test_checkpoint_round_trip(mariadb, dbname):
    dst = mariadb.target
    meta = f"{dbname}_meta"
    dst.execute(f"DROP DATABASE IF EXISTS {meta}")
    conn = dst.connect()
    try:
        cp = SyncCheckpoint(conn, meta, "task1", "src-a")
        other = SyncCheckpoint(conn, meta, "task1", "src-b")
        cp.ensure_table()
        cp.ensure_table()  # idempotent
        assert table_name("task1") == "task1_syncer_checkpoint"
        assert [r[0] for r in dst.query(f"SHOW COLUMNS FROM {meta}.task1_syncer_checkpoint")] == DM_COLUMNS
        fresh = cp.load()
        assert fresh.location is None and fresh.exit_safe is None and fresh.tables == []

        g1 = Location("mysql-bin.000002", 120, "1-101-5")
        cp.flush(
            g1,
            Location("mysql-bin.000003", 4, "1-101-9"),
            [
                TablePoint("db", "t", Location("mysql-bin.000001", 99, "1-101-2"), '{"x": 1}'),
                TablePoint("db", "u", g1, '{"y": 2}'),
            ],
        )
        other.flush(Location("mysql-bin.000007", 7, ""))
        created = dst.query(
            f"SELECT create_time FROM {meta}.task1_syncer_checkpoint WHERE cp_schema = ''" " AND id = 'src-a'"
        )
        saved = cp.load()
        assert saved.location == g1 and saved.exit_safe == Location("mysql-bin.000003", 4, "1-101-9")
        assert {(t.schema, t.table, t.location, t.table_info) for t in saved.tables} == {
            ("db", "t", Location("mysql-bin.000001", 99, "1-101-2"), '{"x": 1}'),
            ("db", "u", g1, '{"y": 2}'),
        }

        g2 = Location("mysql-bin.000003", 500, "1-101-12")
        cp.flush(g2, None, [TablePoint("db", "t", g2, '{"x": 2}')], removed=[("db", "u")])
        saved = cp.load()
        assert saved.location == g2 and saved.exit_safe is None
        assert [(t.table, t.location, t.table_info) for t in saved.tables] == [("t", g2, '{"x": 2}')]
        assert (
            dst.query(
                f"SELECT create_time FROM {meta}.task1_syncer_checkpoint WHERE cp_schema = ''"
                " AND id = 'src-a'"
            )
            == created
        ), "an upsert, not a REPLACE"
        assert dst.query(
            f"SELECT exit_safe_binlog_name, exit_safe_binlog_pos, table_info, is_global "
            f"FROM {meta}.task1_syncer_checkpoint WHERE cp_schema = '' AND id = 'src-a'"
        ) == [("", 0, "null", 1)]

        cp.remove()
        assert cp.load().location is None
        assert other.load().location == Location("mysql-bin.000007", 7, "")
    finally:
        conn.close()


def test_applied_record_is_pruned_with_the_checkpoint_except_what_the_replay_has_not_passed(mariadb, dbname):
    dst = mariadb.target
    meta = f"{dbname}_meta"
    dst.execute(f"DROP DATABASE IF EXISTS {meta}")
    conn = dst.connect()
    try:
        cp = SyncCheckpoint(conn, meta, "task1", "src-a")
        other = SyncCheckpoint(conn, meta, "task1", "src-b")
        cp.ensure_table()
        table = cp.applied_table
        with conn.cursor() as cur:  # what batch transactions and the DDL journal write
            cur.execute(record_sql(table, "src-a", ["f:10", "f:20"], None))
            cur.execute(record_sql(table, "src-a", ["f:30"], ("@f:20", 7)))
            cur.execute(record_sql(table, "src-b", ["f:10"], None))
            cur.execute(
                f"INSERT INTO {table} (id, txn, rows_done, detail) VALUES ('src-a', 'ddl:f:40#0', 0, 'x')"
            )
        conn.commit()
        rec = cp.load_applied()
        assert rec.done == {"f:10", "f:20", "f:30"} and rec.partial == {"@f:20": 7}
        assert rec.ddl == {"ddl:f:40#0": (0, "x")}
        assert other.load_applied().done == {"f:10"}
        rec.done -= {"f:10", "f:20", "f:30"}  # the replay passed them...
        rec.partial.clear()  # ...and the transaction applied in parts
        cp.prune = True
        cp.flush(Location("f", 35))
        left = dst.query(f"SELECT id, txn FROM {table} ORDER BY id, txn")
        assert left == [("src-a", "ddl:f:40#0"), ("src-b", "f:10")], "the journal row is still pending"
        rec.ddl.clear()
        cp.flush(Location("f", 45))
        assert dst.query(f"SELECT id FROM {table}") == [("src-b",)]
        cp.remove()
        assert dst.query(f"SELECT id FROM {table}") == [("src-b",)]
    finally:
        conn.close()
