"""Type fidelity of the full copy: a table with every MySQL type goes through Dump → Load and every
value must come back exactly (compared in the server's own text rendering, plus exact forms for
FLOAT and the byte-level content of every string), over LOAD DATA and over INSERT statements.

Rows: the limits of each type, NULLs everywhere, hostile strings (quotes, backslashes, newlines,
NUL, ^Z, commas, the words NULL and \\N), an invalid ENUM value, zero dates, negative TIMEs,
TIMESTAMPs written in one time zone and loaded with the target session in another, plus random
rows (seeded; the seed is printed).
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from dmshell.engine.config.source import SourceConfig
from dmshell.engine.config.subtask import SubTaskConfig
from dmshell.engine.config.units import LoaderConfig, MydumperConfig, SyncerConfig
from dmshell.engine.dump.dumper import DumpUnit
from dmshell.engine.filters.rule_types import BAList
from dmshell.engine.load.loader import LoadUnit
from dmshell.engine.unit import UnitContext

TYPES = """CREATE TABLE {t} (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT,
    miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,
    dec65 DECIMAL(65,30), dec0 DECIMAL(20,0) UNSIGNED, flt FLOAT, dbl DOUBLE,
    b1 BIT(1), b13 BIT(13), b64 BIT(64),
    e ENUM('a','b','c'), s SET('x','y','z'),
    d DATE, dt DATETIME, dt6 DATETIME(6), ts6 TIMESTAMP(6) NULL DEFAULT NULL, y YEAR, tm TIME, tm3 TIME(3),
    ch CHAR(10), vc VARCHAR(200), tt TINYTEXT, txt TEXT, mt MEDIUMTEXT,
    lvc VARCHAR(50) CHARACTER SET latin1, lch CHAR(4) CHARACTER SET latin1, ltxt TEXT CHARACTER SET latin1,
    ascii_c VARCHAR(20) CHARACTER SET ascii,
    bin BINARY(8), vb VARBINARY(100), bl BLOB, lb LONGBLOB,
    j JSON,
    gv VARCHAR(220) AS (CONCAT(IFNULL(vc, ''), '|', IFNULL(ti, 0))) VIRTUAL,
    gs BIGINT AS (IFNULL(bi, 0) DIV 2) STORED
)"""

COLUMNS = [
    "id",
    "ti",
    "tiu",
    "si",
    "siu",
    "mi",
    "miu",
    "i",
    "iu",
    "bi",
    "biu",
    "dec65",
    "dec0",
    "flt",
    "dbl",
    "b1",
    "b13",
    "b64",
    "e",
    "s",
    "d",
    "dt",
    "dt6",
    "ts6",
    "y",
    "tm",
    "tm3",
    "ch",
    "vc",
    "tt",
    "txt",
    "mt",
    "lvc",
    "lch",
    "ltxt",
    "ascii_c",
    "bin",
    "vb",
    "bl",
    "lb",
    "j",
]

#: what is compared: every column as the server renders it, FLOAT exactly, strings byte by byte
FINGERPRINT = (
    "SELECT *, flt * 1e0, HEX(vc), HEX(txt), HEX(lvc), HEX(ltxt), HEX(bin), HEX(lb), b64 + 0, "
    "e + 0, s + 0, UNIX_TIMESTAMP(ts6) FROM {t} ORDER BY id"
)

HOSTILE = [
    "plain",
    "",
    " ",
    "it's",
    "\\",
    "\\\\'",
    "a\nb",
    "a\r\nb",
    "tab\there",
    "nul\x00byte",
    "ctrl-z\x1a",
    "comma,comma",
    "NULL",
    "\\N",
    "'quoted'",
    '"dq"',
    "emoji 😀🎉 ü é ß 中文",
    ",'\\n",
    "end\\",
]


def limits_rows() -> list[str]:
    return [
        # minimums
        "(0, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, "
        "'-99999999999999999999999999999999999.999999999999999999999999999999', 0, -3.4028234e38, "
        "-1.7976931348623157e308, b'0', b'0', b'0', 'a', '', '1000-01-01', '1000-01-01 00:00:00', "
        "'1000-01-01 00:00:00.000000', '1970-01-01 03:00:01.000000', 1901, '-838:59:59', '-838:59:59.000', "
        "'', '', '', '', '', '', '', '', '', x'0000000000000000', '', '', '', '[]')",
        # maximums
        "(2147483647, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, "
        "9223372036854775807, 18446744073709551615, "
        "'99999999999999999999999999999999999.999999999999999999999999999999', 99999999999999999999, "
        "3.4028234e38, 1.7976931348623157e308, b'1', b'1111111111111', x'FFFFFFFFFFFFFFFF', 'c', 'x,y,z', "
        "'9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.999999', '2038-01-19 06:14:07.999999', "
        "2155, '838:59:59', '838:59:59.000', 'zzzzzzzzzz', REPEAT('ü', 200), REPEAT('x', 255), "
        "REPEAT('long text ', 3000), REPEAT('😀', 20000), REPEAT('ÿ', 50), 'ÿÿÿÿ', REPEAT(CHAR(233), 1000), "
        "'~~~~', x'FFFFFFFFFFFFFFFF', REPEAT(x'00FF', 50), REPEAT(x'5C27000A0D1A2C', 1000), "
        'REPEAT(x\'00\', 70000), \'{"a": {"b": [1, 2.5, "\\\\u00e9", null, true]}}\')',
        # NULLs everywhere
        "(2, " + ", ".join(["NULL"] * (len(COLUMNS) - 1)) + ")",
        # small values, zero dates, an invalid ENUM value, the smallest doubles
        "(3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '0.000000000000000000000000000001', 0, 1.17549435e-38, 5e-324, "
        "b'0', b'1', b'1', 0, 'x', '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.000000', "
        "'0000-00-00 00:00:00.000000', 0, '00:00:00', '-00:00:00.001', 'a', 'b', 'c', 'd', 'e', 'f', 'g', "
        "'h', 'i', x'01', x'00', x'00', x'00', '{}')",
        # doubles that only survive with every digit; DST edges; -0
        "(4, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, '-0.5', 1, 0.1, 0.1, b'1', b'1010101010101', "
        "b'1000000000000000000000000000000000000000000000000000000000000001', 'b', 'y', '2024-02-29', "
        "'2024-03-31 02:30:00', '2024-10-27 02:30:00.123456', '2024-03-31 02:30:00.5', 2000, '-00:00:01', "
        "'12:34:56.789', 'x', 'y', 'z', 'w', 'v', 'u', 't', 's', 'r', x'FF', x'FF', x'FF', x'FF', "
        "'\"just a string\"')",
    ]


LATIN1 = [*range(32, 127), *range(160, 256), 10, 92, 39, 0]


def hostile_rows(rng: random.Random, n: int) -> list[tuple]:
    rows = []
    for k in range(n):
        text = rng.choice(HOSTILE) + "".join(rng.choice(HOSTILE) for _ in range(rng.randint(0, 3)))
        latin = "".join(chr(rng.choice(LATIN1)) for _ in range(20))
        blob = bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
        rows.append(
            (
                100 + k,
                rng.randint(-128, 127),
                rng.choice([None, rng.randint(0, 255)]),
                rng.randint(-32768, 32767),
                rng.randint(0, 65535),
                rng.randint(-8388608, 8388607),
                rng.randint(0, 16777215),
                rng.randint(-(2**31), 2**31 - 1),
                rng.randint(0, 2**32 - 1),
                rng.randint(-(2**63), 2**63 - 1),
                rng.randint(0, 2**64 - 1),
                f"{rng.randint(-10**35 + 1, 10**35 - 1)}.{rng.randint(0, 10**30 - 1):030d}",
                rng.randint(0, 10**20 - 1),
                rng.uniform(-1e30, 1e30),
                rng.uniform(-1e300, 1e300) * rng.random(),
                rng.randint(0, 1),
                rng.randint(0, 2**13 - 1),
                rng.randint(0, 2**64 - 1),
                rng.choice(["a", "b", "c", None]),
                rng.choice(["", "x", "x,z", "y,z", None]),
                f"{rng.randint(1000, 9999)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                f"2001-02-03 {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
                f"1999-12-31 23:59:{rng.randint(0, 59):02d}.{rng.randint(0, 999999):06d}",
                f"2021-0{rng.randint(1, 9)}-15 12:00:00.{rng.randint(0, 999999):06d}",
                rng.choice([0, *range(1901, 2156)]),
                f"{rng.randint(-838, 838)}:{rng.randint(0, 59):02d}:00",
                f"-{rng.randint(0, 838)}:00:00.{rng.randint(0, 999):03d}",
                text[:10],
                text[:200],
                text[:255],
                text,
                text * 3,
                latin[:50],
                latin[:4],
                latin,
                "ascii\\'\n",
                blob[:8],
                blob,
                blob * 2,
                blob * 50,
                rng.choice(['{"k": "v\\n"}', "[1, 2, 3]", "null", None]),
            )
        )
    return rows


def make_ctx(tmp_path: Path, source, target, dbname: str) -> UnitContext:
    tcfg = target.dbconfig()
    tcfg.session = {"time_zone": "-07:00"}  # the load must not depend on the target session's zone
    scfg = source.dbconfig()
    scfg.session = {"time_zone": "+09:30"}  # nor the dump on the source's
    cfg = SubTaskConfig(
        name="ttypes",
        task_mode="full",
        source_id="mysql-01",
        meta_schema=f"{dbname}_meta",
        target=tcfg,
        meta=None,
        block_allow_list=BAList(do_dbs=[dbname]),
        routes=[],
        mydumper=MydumperConfig(threads=2, rows=40, statement_size=3000),
        loader=LoaderConfig(pool_size=3),
        syncer=SyncerConfig(),
    )
    return UnitContext(
        cfg=cfg,
        source=SourceConfig(source_id="mysql-01", from_db=scfg),
        work_dir=tmp_path / "mysql-01",
        worker_name="worker1",
    )


def fingerprint(server, table: str) -> list[tuple]:
    conn = server.connect()
    conn.decoders = {}  # the server's own rendering, no client-side conversion
    try:
        with conn.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00'")
            cur.execute(FINGERPRINT.format(t=table))
            return list(cur.fetchall())
    finally:
        conn.close()


@pytest.mark.parametrize("load_data", [True, False], ids=["load-data", "insert"])
def test_every_type_round_trips_exactly(mariadb, dbname, tmp_path, load_data):
    up, target = mariadb.up1, mariadb.target
    seed = random.randrange(1 << 30)
    print(f"random seed: {seed}")
    rng = random.Random(seed)
    for server in (up, target):
        server.execute(f"DROP DATABASE IF EXISTS {dbname}", f"DROP DATABASE IF EXISTS {dbname}_meta")
    table = f"{dbname}.types"
    conn = up.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {dbname}")
            cur.execute(TYPES.format(t=table))
            # an invalid ENUM value and zero dates only exist in non-strict mode; TIMESTAMPs in +03:00
            cur.execute("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO', time_zone = '+03:00'")
            cur.execute(f"INSERT INTO {table} ({','.join(COLUMNS)}) VALUES " + ",".join(limits_rows()))
            cur.executemany(
                f"INSERT INTO {table} ({','.join(COLUMNS)}) VALUES " f"({','.join(['%s'] * len(COLUMNS))})",
                hostile_rows(rng, 150),
            )
    finally:
        conn.close()
    source = fingerprint(up, table)
    assert len(source) == 155
    by_id = {row[0]: row for row in source}
    assert by_id["0"][18] == "a" and by_id["3"][18] == "" and by_id["3"][-3] == "0"  # an invalid ENUM value

    ctx = make_ctx(tmp_path, up, target, dbname)
    DumpUnit(ctx).process(threading.Event())
    unit = LoadUnit(ctx)
    if not load_data:
        unit.use_load_data = False
    unit.process(threading.Event())
    assert unit.completed() and unit.use_load_data is load_data

    got = fingerprint(target, table)
    assert len(got) == len(source)
    for want_row, got_row in zip(source, got, strict=True):
        assert got_row == want_row, f"row id {want_row[0]} differs (seed {seed})"
    assert not ctx.dump_dir.exists()  # task-mode full with clean-dump-file: the dump is removed
