#!/usr/bin/python3
"""Integration test: `rowcast decode` against a real MariaDB server, every column type.

Usage: test_mariadb_types.py --rowcast PATH_TO_ROWCAST [--keep] [--verbose]

Starts a throwaway MariaDB (mariadb_sandbox.py), creates tables with every column type, runs
INSERT/UPDATE/DELETE scenarios under every combination of
    binlog_row_metadata  FULL | MINIMAL | NO_LOG(default)
    binlog_row_image     FULL | MINIMAL | NOBLOB
    log_bin_compress     OFF | ON
with FLUSH BINARY LOGS after each scenario (one binlog file per scenario), then runs
`rowcast decode` once on all binlog files and checks:

  * exit status 0, every stdout line is JSON with the documented fields (docs/json-mapping.md);
  * the row images have exactly the columns the server logged (cross-checked against
    `mariadb-binlog -v`, plus explicit rules: MINIMAL update = PK before / SET columns after,
    NOBLOB leaves unchanged BLOB/TEXT out, absent is not null);
  * values: a model of each table is rebuilt by replaying the decoded changes (update/delete
    `before` images must match the model), and after every scenario the model is compared
    with the server's own rendering of the table (SELECT with HEX()/CAST()/c+0, never
    hand-typed expectations);
  * a truncated binlog fails with status 2, file name and offset on stderr, no partial line;
  * a binlog with a flipped byte fails with status 2 and a checksum error.

Prints one line per check and a final `N passed, M failed`; exit status 0 iff M == 0,
77 (skip) when no MariaDB server/client is installed.
"""

import argparse
import base64
import decimal
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mariadb_sandbox import MariaDBSandbox, find_tool, mariadb_missing  # noqa: E402

DB = "rc_types"
NOTES = {}  # observations that are not failures: text -> count
MAX_FAIL_DETAILS = 25  # per check


# =============================================================================== reporting

class Report:
    def __init__(self, verbose=False):
        self.passed = 0
        self.failed = 0
        self.verbose = verbose

    def check(self, name, problems, info=None):
        """problems: list of strings (empty = pass)."""
        if not problems:
            self.passed += 1
            print("PASS  %s%s" % (name, ("  (%s)" % info) if info else ""))
        else:
            self.failed += 1
            print("FAIL  %s: %d problem(s)%s" % (name, len(problems),
                                                  ("  (%s)" % info) if info else ""))
            for p in problems[:MAX_FAIL_DETAILS]:
                for i, line in enumerate(str(p).splitlines()):
                    print("      %s %s" % ("-" if i == 0 else " ", line))
            if len(problems) > MAX_FAIL_DETAILS:
                print("      ... and %d more" % (len(problems) - MAX_FAIL_DETAILS))
        sys.stdout.flush()

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 0 if self.failed == 0 else 1


# =============================================================================== schema

class Col:
    """kind: int bit float double decimal date datetime timestamp time year enum set text
    json bytes geom uuid inet6 inet4"""

    def __init__(self, name, sqltype, kind, bits=None, unsigned=False, fsp=0, labels=None,
                 charset=None, pad=None, blob=False, is_char=False):
        self.name, self.sqltype, self.kind = name, sqltype, kind
        self.bits, self.unsigned, self.fsp, self.labels = bits, unsigned, fsp, labels
        self.charset, self.pad, self.blob, self.is_char = charset, pad, blob, is_char

    def server_expr(self):
        c = "`%s`" % self.name
        k = self.kind
        if k in ("int", "decimal", "double"):
            e = c
        elif k in ("bit", "year", "enum", "set"):
            e = "%s+0" % c
        elif k == "float":
            e = "CAST(%s AS DOUBLE)" % c       # exact value of the stored float32
        elif k in ("date", "datetime", "time", "timestamp"):
            e = "CAST(%s AS CHAR)" % c
        elif k in ("text", "json"):
            e = "HEX(CONVERT(%s USING utf8mb4))" % c
        elif k in ("bytes", "geom"):
            e = "HEX(%s)" % c
        elif k in ("inet6", "uuid"):
            e = "HEX(CAST(%s AS BINARY(16)))" % c
        elif k == "inet4":
            e = "HEX(CAST(%s AS BINARY(4)))" % c
        else:
            raise ValueError(k)
        return "IF(%s IS NULL,'N',CONCAT('V',%s))" % (c, e)


class Table:
    def __init__(self, name, cols, pk=True, options=""):
        self.name, self.cols, self.pk, self.options = name, cols, pk, options
        self.by_name = {c.name: c for c in cols}

    def ddl(self):
        parts = ["`%s` %s" % (c.name, c.sqltype) for c in self.cols]
        if self.pk:
            parts.append("PRIMARY KEY (`id`)")
        return "CREATE TABLE `%s` (\n  %s\n) ENGINE=InnoDB %s" % (
            self.name, ",\n  ".join(parts), self.options)

    def pk_cols(self):
        return ["id"] if self.pk else [c.name for c in self.cols]


INT_TYPES = [("ti", "TINYINT", 8), ("si", "SMALLINT", 16), ("mi", "MEDIUMINT", 24),
             ("i", "INT", 32), ("bi", "BIGINT", 64)]


def t_int():
    cols = [Col("id", "INT NOT NULL", "int", bits=32)]
    for n, t, b in INT_TYPES:
        cols.append(Col(n, t, "int", bits=b))
        cols.append(Col(n + "u", t + " UNSIGNED", "int", bits=b, unsigned=True))
    return Table("t_int", cols)


def int_rows():
    rows = []
    for mode in ("min", "max", "zero", "minus1", "one", "null"):
        r = {}
        for n, _t, b in INT_TYPES:
            smin, smax, umax = -(1 << (b - 1)), (1 << (b - 1)) - 1, (1 << b) - 1
            r[n], r[n + "u"] = {"min": (smin, 0), "max": (smax, umax), "zero": (0, 0),
                                "minus1": (-1, (1 << (b - 1))), "one": (1, 1),
                                "null": ("NULL", "NULL")}[mode]
            r[n], r[n + "u"] = str(r[n]), str(r[n + "u"])
        rows.append(r)
    return rows


def t_num():
    return Table("t_num", [
        Col("id", "INT NOT NULL", "int", bits=32),
        Col("f", "FLOAT", "float"), Col("d", "DOUBLE", "double"),
        Col("d65", "DECIMAL(65,30)", "decimal"), Col("d10", "DECIMAL(10,0)", "decimal"),
        Col("d42", "DECIMAL(4,2)", "decimal"), Col("d189", "DECIMAL(18,9)", "decimal"),
        Col("d99", "DECIMAL(9,9)", "decimal"), Col("d3817", "DECIMAL(38,17)", "decimal"),
        Col("d1", "DECIMAL(1,0)", "decimal"), Col("d65u", "DECIMAL(65,0) UNSIGNED", "decimal"),
    ])


def num_rows():
    big65 = "9" * 35 + "." + "9" * 30
    return [
        dict(f="3.4028235e38", d="1.7976931348623157e308", d65=big65, d10="9999999999",
             d42="99.99", d189="999999999.999999999", d99="0.999999999",
             d3817="123456789012345678901.12345678901234567", d1="9", d65u="9" * 65),
        dict(f="-3.4028235e38", d="-1.7976931348623157e308", d65="-" + big65,
             d10="-9999999999", d42="-99.99", d189="-0.000000001", d99="-0.999999999",
             d3817="-0.00000000000000001", d1="-9", d65u="0"),
        dict(f="1.17549435e-38", d="2.2250738585072014e-308", d65="0.000000000000000000000000000001",
             d10="0", d42="0.00", d189="0", d99="0.000000001", d3817="0", d1="0", d65u="1"),
        dict(f="1.4e-45", d="5e-324", d65="-0.000000000000000000000000000001", d10="-1",
             d42="-0.01", d189="-123456789.123456789", d99="-0.000000001",
             d3817="-99999999999999999999.99999999999999999", d1="-1", d65u="123456789"),
        dict(f="0.1", d="0.1", d65="-12345678901234.123456", d10="1000000000", d42="-10.55",
             d189="100000000.000000001", d99="0.1", d3817="1.5", d1="5",
             d65u="100000000000000000000000000000000000000000000000000000000000000"),
        dict(f="16777217", d="9007199254740993", d65="1", d10="123", d42="4.2", d189="-1",
             d99="0.5", d3817="-1.00000000000000001", d1="1", d65u="999999999"),
        dict(f="-1.5", d="1e22", d65="0", d10="-2147483648", d42="1", d189="1", d99="0",
             d3817="1e10", d1="2", d65u="2"),
        {k: "NULL" for k in ("f", "d", "d65", "d10", "d42", "d189", "d99", "d3817", "d1",
                             "d65u")},
    ]


def t_time():
    cols = [Col("id", "INT NOT NULL", "int", bits=32), Col("dd", "DATE", "date")]
    for n in range(7):
        cols.append(Col("dt%d" % n, "DATETIME(%d)" % n, "datetime", fsp=n))
    for n in range(7):
        cols.append(Col("ts%d" % n, "TIMESTAMP(%d) NULL DEFAULT NULL" % n, "timestamp", fsp=n))
    for n in range(7):
        cols.append(Col("tm%d" % n, "TIME(%d)" % n, "time", fsp=n))
    cols.append(Col("y", "YEAR", "year"))
    return Table("t_time", cols)


def _cut(v, fsp):
    """'... .123456' -> keep fsp fraction digits (no rounding by the server)."""
    if "." not in v:
        return v if fsp == 0 else v + "." + "0" * fsp
    head, frac = v.split(".")
    return head if fsp == 0 else head + "." + (frac + "000000")[:fsp]


def time_rows():
    specs = [
        # date, datetime, timestamp, time, year
        ("1000-01-01", "1000-01-01 00:00:00.000000", "1970-01-01 00:00:01.000000",
         "-838:59:59.000000", "1901"),
        ("9999-12-31", "9999-12-31 23:59:59.999999", "2038-01-19 03:14:07.999999",
         "838:59:59.000000", "2155"),
        ("2024-02-29", "2024-02-29 23:59:59.500000", "2024-02-29 12:00:00.123456",
         "-00:00:00.500000", "2024"),
        ("0000-00-00", "0000-00-00 00:00:00", "0000-00-00 00:00:00", "00:00:00", "0"),
        ("2024-00-15", "2024-02-00 10:11:12.654321", "1999-12-31 23:59:59.999999",
         "-00:00:01.000001", "1970"),
        ("0000-01-01", "0000-00-01 00:00:00.000001", "2000-01-01 00:00:00.000001",
         "-12:34:56.789012", "1999"),
        ("2000-02-00", "1970-01-01 00:00:00", "2001-09-09 01:46:40.100000",
         "-100:00:00.000010", "2000"),
        ("1970-01-01", "2038-01-19 03:14:08", "2024-06-30 23:59:59.000009",
         "123:45:06.7", "0"),
        None,
    ]
    rows = []
    for s in specs:
        r = {}
        if s is None:
            for c in t_time().cols[1:]:
                r[c.name] = "NULL"
            rows.append(r)
            continue
        d, dt, ts, tm, y = s
        r["dd"] = "'%s'" % d
        for n in range(7):
            r["dt%d" % n] = "'%s'" % _cut(dt, n)
            r["ts%d" % n] = "'%s'" % _cut(ts, n)
            r["tm%d" % n] = "'%s'" % _cut(tm, n)
        r["y"] = y
        rows.append(r)
    return rows


ENUM_L = ["red", "green", "blue", "a b", "\u00e9t\u00e9"]
ENUM300_L = ["v%d" % i for i in range(300)]
SET_L = ["a", "b", "c", "d"]
SET64_L = ["m%d" % i for i in range(64)]


def _sqlq(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def t_misc():
    return Table("t_misc", [
        Col("id", "INT NOT NULL", "int", bits=32),
        Col("b1", "BIT(1)", "bit"), Col("b8", "BIT(8)", "bit"), Col("b17", "BIT(17)", "bit"),
        Col("b64", "BIT(64)", "bit"),
        Col("e", "ENUM(%s)" % ",".join(_sqlq(x) for x in ENUM_L), "enum", labels=ENUM_L),
        Col("e300", "ENUM(%s)" % ",".join(_sqlq(x) for x in ENUM300_L), "enum",
            labels=ENUM300_L),
        Col("s", "SET(%s)" % ",".join(_sqlq(x) for x in SET_L), "set", labels=SET_L),
        Col("s64", "SET(%s)" % ",".join(_sqlq(x) for x in SET64_L), "set", labels=SET64_L),
        Col("y4", "YEAR(4)", "year"),
    ])


def misc_rows():
    return [
        dict(b1="b'1'", b8="b'11111111'", b17="b'11111111111111111'", b64="0xFFFFFFFFFFFFFFFF",
             e="'red'", e300="'v299'", s="'a,c'", s64=_sqlq(",".join(SET64_L)), y4="2155"),
        dict(b1="b'0'", b8="b'0'", b17="b'10000000000000001'", b64="0x8000000000000001",
             e="'\u00e9t\u00e9'", e300="'v0'", s="''", s64="'m63'", y4="0"),
        dict(b1="b'1'", b8="b'10000000'", b17="0", b64="0", e="'a b'", e300="'v255'",
             s="'d,a,b,c'", s64="'m0,m31,m32'", y4="1901"),
        dict(b1="0", b8="127", b17="65536", b64="1", e="''", e300="''", s="'b'", s64="''",
             y4="2000"),  # '' is the ENUM error value (index 0) under sql_mode=''
        {k: "NULL" for k in ("b1", "b8", "b17", "b64", "e", "e300", "s", "s64", "y4")},
    ]


LATIN1_UNDEF = {0x81: "\u0081", 0x8D: "\u008d", 0x8F: "\u008f", 0x90: "\u0090", 0x9D: "\u009d"}


def decode_charset(b, charset):
    """Bytes of a column's charset -> str (only for NO_LOG, where rowcast prints raw bytes)."""
    if charset in ("utf8mb4", "utf8mb3"):
        return b.decode("utf-8")
    if charset in ("ucs2", "utf16"):
        return b.decode("utf-16-be")
    if charset == "latin1":  # MySQL latin1 = cp1252 with the 5 holes mapped to C1 controls
        return "".join(LATIN1_UNDEF[x] if x in LATIN1_UNDEF else bytes([x]).decode("cp1252")
                       for x in b)
    raise ValueError(charset)


def t_str():
    return Table("t_str", [
        Col("id", "INT NOT NULL", "int", bits=32),
        Col("vc", "VARCHAR(100) CHARACTER SET utf8mb4", "text", charset="utf8mb4"),
        Col("vlong", "VARCHAR(400) CHARACTER SET utf8mb4", "text", charset="utf8mb4"),
        Col("ch10", "CHAR(10) CHARACTER SET utf8mb4", "text", charset="utf8mb4", is_char=True),
        Col("ch255", "CHAR(255) CHARACTER SET utf8mb4", "text", charset="utf8mb4", is_char=True),
        Col("tt", "TINYTEXT CHARACTER SET utf8mb4", "text", charset="utf8mb4", blob=True),
        Col("tx", "TEXT CHARACTER SET utf8mb4", "text", charset="utf8mb4", blob=True),
        Col("mt", "MEDIUMTEXT CHARACTER SET utf8mb4", "text", charset="utf8mb4", blob=True),
        Col("lt", "LONGTEXT CHARACTER SET utf8mb4", "text", charset="utf8mb4", blob=True),
        Col("l1", "VARCHAR(50) CHARACTER SET latin1", "text", charset="latin1"),
        Col("l1c", "CHAR(20) CHARACTER SET latin1", "text", charset="latin1", is_char=True),
        Col("l1t", "TEXT CHARACTER SET latin1", "text", charset="latin1", blob=True),
        Col("u2", "VARCHAR(20) CHARACTER SET ucs2", "text", charset="ucs2"),
        Col("u16", "VARCHAR(20) CHARACTER SET utf16", "text", charset="utf16"),
        Col("u8", "VARCHAR(20) CHARACTER SET utf8mb3", "text", charset="utf8mb3"),
        Col("j", "JSON", "json", charset="utf8mb4", blob=True),
    ], options="DEFAULT CHARSET=utf8mb4")


def str_rows():
    emoji = "\U0001F600\U0001F44D\U0001F3FD"
    return [
        dict(vc=_sqlq("h\u00e9llo " + emoji), vlong=_sqlq("\u00e9" * 300 + emoji * 25),
             ch10=_sqlq("\U0001F600" * 10), ch255=_sqlq("\U0001F600" * 255),
             tt=_sqlq(emoji * 60), tx=_sqlq("line1\nline2\ttab \\ 'q' \"dq\" " + emoji),
             mt="REPEAT(%s, 5000)" % _sqlq("abc\u00e9\U0001F600"),
             lt="REPEAT('x', 70000)", l1=_sqlq("caf\u00e9 \u20ac \u00ff"),
             l1c="_latin1 X'8081'", l1t="_latin1 X'808D8F909D9FA0FF'",
             u2=_sqlq("\u0100\u0101\u0102 \u20ac"), u16=_sqlq("\U0001F600a\u00e9"),
             u8=_sqlq("\u20ac\u00e9\u4e2d"), j=_sqlq('{"a": [1, 2.5, null], "s": "\u00e9\U0001F600"}')),
        dict(vc="''", vlong="''", ch10="''", ch255="''", tt="''", tx="''", mt="''", lt="''",
             l1="''", l1c="''", l1t="''", u2="''", u16="''", u8="''", j="'null'"),
        dict(vc="'trailing   '", vlong="REPEAT('z', 400)", ch10="'ab  '",
             ch255="REPEAT('y', 255)", tt="' '", tx="'\\0nul'", mt="'m'", lt="'l'",
             l1="_latin1 X'80'", l1c="'  lead'", l1t="'plain'", u2="' '", u16="'\U0001F600'",
             u8="'x'", j="'[1, \"two\", {\"3\": false}]'"),
        {k: "NULL" for k in ("vc", "vlong", "ch10", "ch255", "tt", "tx", "mt", "lt", "l1",
                             "l1c", "l1t", "u2", "u16", "u8", "j")},
    ]


def t_bin():
    return Table("t_bin", [
        Col("id", "INT NOT NULL", "int", bits=32),
        Col("bn8", "BINARY(8)", "bytes", pad=8),
        Col("bn1", "BINARY(1)", "bytes", pad=1),
        Col("bn255", "BINARY(255)", "bytes", pad=255),
        Col("vb", "VARBINARY(20)", "bytes"),
        Col("vb300", "VARBINARY(300)", "bytes"),
        Col("tb", "TINYBLOB", "bytes", blob=True),
        Col("bl", "BLOB", "bytes", blob=True),
        Col("mb", "MEDIUMBLOB", "bytes", blob=True),
        Col("lb", "LONGBLOB", "bytes", blob=True),
    ])


def bin_rows():
    allbytes = "X'" + "".join("%02X" % i for i in range(256)) + "'"
    return [
        dict(bn8="X'0102000000000000'", bn1="X'00'", bn255="X'FF00'", vb="X'00000000'",
             vb300="REPEAT(X'00FF', 150)", tb="X'0000'", bl=allbytes,
             mb="REPEAT(X'DEADBEEF00', 20000)", lb="X'00'"),
        dict(bn8="''", bn1="''", bn255="''", vb="''", vb300="''", tb="''", bl="''", mb="''",
             lb="''"),
        dict(bn8="X'FFFFFFFFFFFFFFFF'", bn1="X'7F'", bn255="REPEAT(X'AB', 255)",
             vb="X'FF00FF0000'", vb300="X'20'", tb="X'20'", bl="X'000102'",
             mb="X'FF'", lb="REPEAT(X'01', 100000)"),
        dict(bn8="'abc '", bn1="' '", bn255="X'0000000000000001'", vb="'abc  '", vb300="X'00'",
             tb="X'80'", bl="'text'", mb="X'00'", lb="''"),
        {k: "NULL" for k in ("bn8", "bn1", "bn255", "vb", "vb300", "tb", "bl", "mb", "lb")},
    ]


def t_geo():
    return Table("t_geo", [
        Col("id", "INT NOT NULL", "int", bits=32),
        Col("g", "GEOMETRY", "geom"), Col("p", "POINT", "geom"), Col("pg", "POLYGON", "geom"),
        Col("ls", "LINESTRING", "geom"), Col("gc", "GEOMETRYCOLLECTION", "geom"),
    ])


def geo_rows():
    return [
        dict(g="ST_GeomFromText('POINT(1 2)')", p="POINT(-1.5, 1e300)",
             pg="ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(1 1,2 1,2 2,1 1))')",
             ls="ST_GeomFromText('LINESTRING(0 0,1 1,2 2)')",
             gc="ST_GeomFromText('GEOMETRYCOLLECTION(POINT(0 0),LINESTRING(0 0,1 1))')"),
        dict(g="ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 4326)",
             p="ST_GeomFromText('POINT(0 0)', 4326)",
             pg="ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))', 3857)",
             ls="ST_GeomFromText('LINESTRING(0 0,0 0)', 4326)",
             gc="ST_GeomFromText('GEOMETRYCOLLECTION EMPTY')"),
        dict(g="ST_GeomFromText('MULTIPOINT(0 0,1 1)')", p="POINT(0, 0)", pg="NULL",
             ls="NULL", gc="NULL"),
        {k: "NULL" for k in ("g", "p", "pg", "ls", "gc")},
    ]


def t_mdb():
    return Table("t_mdb", [
        Col("id", "INT NOT NULL", "int", bits=32),
        Col("u", "UUID", "uuid", pad=16),  # the binlog carries the text-order bytes Col("i6", "INET6", "inet6", pad=16),
        Col("i4", "INET4", "inet4", pad=4),
    ])


def mdb_rows():
    return [
        dict(u="'12345600-e89b-12d3-a456-426655440000'", i6="'2001:db8::'", i4="'1.2.3.0'"),
        dict(u="'01234567-89ab-7def-8123-456789abcd00'", i6="'::ffff:1.2.3.4'",
             i4="'255.255.255.255'"),
        dict(u="'00000000-0000-0000-0000-000000000000'", i6="'::'", i4="'0.0.0.0'"),
        dict(u="NULL", i6="NULL", i4="NULL"),
    ]


def t_nopk():
    return Table("t_nopk", [
        Col("id", "INT", "int", bits=32), Col("a", "VARCHAR(20)", "text", charset="utf8mb4"),
        Col("c", "DOUBLE", "double"), Col("bl", "BLOB", "bytes", blob=True),
    ], pk=False, options="DEFAULT CHARSET=utf8mb4")


def nopk_rows():
    return [
        dict(a="'x'", c="0.5", bl="X'00'"),
        dict(a="'x'", c="0.5", bl="X'00'"),  # a duplicate row
        dict(a="NULL", c="NULL", bl="NULL"),
        dict(a="'\U0001F600'", c="-1e-300", bl="''"),
    ]


TABLES = [(t_int(), int_rows()), (t_num(), num_rows()), (t_time(), time_rows()),
          (t_misc(), misc_rows()), (t_str(), str_rows()), (t_bin(), bin_rows()),
          (t_geo(), geo_rows()), (t_mdb(), mdb_rows()), (t_nopk(), nopk_rows())]


# =============================================================================== canonical values

class Bad:
    """A decoded value of the wrong JSON type / form; never equal to anything."""

    def __init__(self, why, raw):
        self.why, self.raw = why, raw

    def __eq__(self, other):
        return False

    def __ne__(self, other):
        return True

    def __repr__(self):
        return "<invalid: %s: %s>" % (self.why, _short(json.dumps(self.raw, default=str,
                                                                    ensure_ascii=False)))


def _short(s, n=160):
    s = str(s)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def ts_to_doc(s):
    """server CAST(ts AS CHAR) with time_zone +00:00 -> documented rendering."""
    if s.startswith("0000-00-00"):
        return s
    return s.replace(" ", "T") + "Z"


def server_canon(col, s):
    """server rendering (without the V prefix) -> canonical value."""
    k = col.kind
    if k == "set":
        return int(s) % (1 << 64)  # SET+0 of a 64-member SET renders signed
    if k in ("int", "bit", "year", "enum"):
        return int(s)
    if k == "float":
        return ("f32", struct.pack("<f", float(s)))
    if k == "double":
        return ("f64", struct.pack("<d", float(s)))
    if k in ("decimal", "date", "datetime", "time"):
        return s
    if k == "timestamp":
        return ts_to_doc(s)
    if k in ("text", "json"):
        return bytes.fromhex(s).decode("utf-8")
    if k in ("bytes", "geom", "inet6", "inet4", "uuid"):
        return bytes.fromhex(s)
    raise ValueError(k)


def decoded_canon(col, v, meta):
    """decoded JSON value (numbers parsed as int / Decimal) -> canonical value."""
    if v is None:
        return None
    k = col.kind
    isint = isinstance(v, int) and not isinstance(v, bool)
    if k in ("int", "bit", "year"):
        if not isint:
            return Bad("expected a JSON integer", v)
        if k == "int" and col.unsigned and meta == "NO_LOG":
            # no signedness in the binlog: documented as "taken as signed"
            lo, hi = -(1 << (col.bits - 1)), (1 << (col.bits - 1)) - 1
            if not lo <= v <= hi:
                return Bad("NO_LOG metadata: unsigned column must be printed as signed", v)
            return v % (1 << col.bits)
        return v
    if k in ("float", "double"):
        if isinstance(v, bool) or not isinstance(v, (int, decimal.Decimal)):
            return Bad("expected a JSON number", v)
        x = float(v)
        if k == "float":
            return ("f32", struct.pack("<f", x))
        return ("f64", struct.pack("<d", x))
    if k in ("decimal", "date", "datetime", "time", "timestamp"):
        if not isinstance(v, str):
            return Bad("expected a JSON string", v)
        return v
    if k in ("enum", "set"):
        if meta == "FULL":
            if not isinstance(v, str):
                return Bad("expected the label (string) with binlog_row_metadata=FULL", v)
            if k == "enum":
                if v == "":
                    return 0
                if v not in col.labels:
                    return Bad("not an ENUM label", v)
                return col.labels.index(v) + 1
            if v == "":
                return 0
            parts = v.split(",")
            if any(p not in col.labels for p in parts):
                return Bad("not SET labels", v)
            mask = 0
            for p in parts:
                mask |= 1 << col.labels.index(p)
            canon = ",".join(l for i, l in enumerate(col.labels) if mask >> i & 1)
            if canon != v:
                return Bad("SET labels not in the server's order (%r)" % canon, v)
            return mask
        if not isint:
            return Bad("expected the index/bitmask (number) without FULL metadata", v)
        return v
    if k in ("text", "json"):
        if meta == "NO_LOG":
            b = _b64(v)
            if isinstance(b, Bad):
                return b
            if col.is_char:
                b = b.rstrip(b"\x00")  # charset unknown: CHAR may be re-padded like BINARY
            try:
                return decode_charset(b, col.charset)
            except (UnicodeDecodeError, ValueError):
                return Bad("bytes not valid %s" % col.charset, v)
        if not isinstance(v, str):
            return Bad("expected a JSON string", v)
        return v
    if k in ("bytes", "inet6", "inet4", "uuid"):
        b = _b64(v)
        if isinstance(b, Bad):
            return b
        if col.pad and meta == "NO_LOG" and len(b) < col.pad:
            # without charsets BINARY(n) cannot be told from CHAR(n): accept the stripped form
            NOTES["NO_LOG: fixed-length binary (BINARY/UUID/INET) printed without the "
                  "0x00 re-padding (accepted)"] = NOTES.get(
                "NO_LOG: fixed-length binary (BINARY/UUID/INET) printed without the "
                "0x00 re-padding (accepted)", 0) + 1
            return b.ljust(col.pad, b"\x00")
        if col.pad and len(b) != col.pad:
            return Bad("BINARY(%d) must be re-padded to %d bytes, got %d" % (col.pad, col.pad,
                                                                            len(b)), v)
        return b
    if k == "geom":
        if not isinstance(v, dict) or set(v) != {"srid", "wkb"}:
            return Bad('expected {"srid":N,"wkb":"<base64>"}', v)
        if not isinstance(v["srid"], int) or isinstance(v["srid"], bool):
            return Bad("srid not an integer", v)
        b = _b64(v["wkb"])
        if isinstance(b, Bad):
            return b
        return struct.pack("<I", v["srid"]) + b
    raise ValueError(k)


def _b64(v):
    if not isinstance(v, str):
        return Bad("expected a base64 string", v)
    try:
        return base64.b64decode(v, validate=True)
    except Exception:
        return Bad("invalid base64", v)


def shortest_f32_digits(x32):
    """number of significant digits of the shortest decimal that reads back as float32 x32."""
    for d in range(1, 10):
        try:
            if f32(float("%.*e" % (d - 1, x32))) == x32:
                return d
        except OverflowError:
            pass
    return 9


def sig_digits(text):
    m = re.match(r"-?(\d+)(?:\.(\d*))?(?:[eE].*)?$", text)
    if not m:
        return 99
    digits = (m.group(1) + (m.group(2) or "")).lstrip("0").rstrip("0")
    return max(len(digits), 1)


def show(v):
    if isinstance(v, tuple) and v and v[0] in ("f32", "f64"):
        fmt = "<f" if v[0] == "f32" else "<d"
        return "%s %r" % (v[0], struct.unpack(fmt, v[1])[0])
    if isinstance(v, bytes):
        return "bytes[%d] %s" % (len(v), _short(v.hex(), 80))
    return _short(repr(v))


# =============================================================================== scenarios

class Op:
    def __init__(self, sql, table=None, op=None, set_cols=None, logged=True):
        self.sql, self.table, self.op, self.set_cols, self.logged = sql, table, op, set_cols, logged
        self.count = None


def build_scenario(k, nscen):
    """DML for scenario k.  Row ids of scenario k are k*100+i; it also updates and deletes
    rows left by scenario k-1."""
    ops = []
    base = k * 100
    prev = (k - 1) * 100
    for t, rows in TABLES:
        names = [c.name for c in t.cols]
        data_cols = names[1:]
        n = len(rows)

        def vals(i, row, ident):
            return "(" + ",".join([str(ident)] + [row[c] for c in data_cols]) + ")"

        # multi-row INSERT with every column listed
        ops.append(Op("INSERT INTO `%s` (%s) VALUES %s" % (
            t.name, ",".join("`%s`" % c for c in names),
            ",".join(vals(i, r, base + i) for i, r in enumerate(rows))),
            t.name, "c", set_cols=names))
        # a transaction: rotate every row to the next row's values (full rewrite),
        # NULL-out and un-NULL rotating columns, multi-row
        c1 = data_cols[(k * 2) % len(data_cols)]
        c2 = data_cols[(k * 2 + 1) % len(data_cols)]
        ops.append(Op("BEGIN"))
        for i in range(n):
            r = rows[(i + 1 + k) % n]
            sets = ",".join("`%s`=%s" % (c, r[c]) for c in data_cols)
            ops.append(Op("UPDATE `%s` SET %s WHERE `id`=%d" % (t.name, sets, base + i)
                          + ("" if t.pk else " LIMIT 1"), t.name, "u", set_cols=data_cols))
        ops.append(Op("UPDATE `%s` SET `%s`=NULL WHERE `id` BETWEEN %d AND %d" % (
            t.name, c1, base, base + n - 1), t.name, "u", set_cols=[c1]))
        ops.append(Op("UPDATE `%s` SET `%s`=%s, `%s`=NULL WHERE `id` IN (%d,%d)" % (
            t.name, c1, rows[k % n][c1] if rows[k % n][c1] != "NULL" else rows[0][c1], c2,
            base, base + 2), t.name, "u", set_cols=[c1, c2]))
        ops.append(Op("COMMIT"))
        # update rows of the previous scenario (written to an earlier binlog file)
        if k > 0:
            r = rows[k % n]
            ops.append(Op("UPDATE `%s` SET `%s`=%s WHERE `id` BETWEEN %d AND %d" % (
                t.name, c2, r[c2] if r[c2] != "NULL" else rows[0][c2], prev, prev + n - 1),
                t.name, "u", set_cols=[c2]))
            ops.append(Op("DELETE FROM `%s` WHERE `id` IN (%d,%d)" % (t.name, prev, prev + 3),
                          t.name, "d"))
        # a primary-key change
        if t.pk:
            ops.append(Op("UPDATE `%s` SET `id`=`id`+50 WHERE `id`=%d" % (t.name, base + 1),
                          t.name, "u", set_cols=["id"]))
        # a rolled-back transaction: must not appear
        ops.append(Op("BEGIN"))
        ops.append(Op("DELETE FROM `%s` WHERE `id`>=%d" % (t.name, base), t.name, "d",
                      logged=False))
        ops.append(Op("ROLLBACK"))
        # a multi-row DELETE
        ops.append(Op("DELETE FROM `%s` WHERE `id` IN (%d,%d)" % (t.name, base + 2, base + 4),
                      t.name, "d"))
    return ops


def run_ops(db, ops, session_sql):
    """Execute ops in one client session; record ROW_COUNT() of each DML op."""
    script = [session_sql]
    for i, o in enumerate(ops):
        script.append(o.sql + ";")
        if o.table:
            script.append("SELECT 'RC%d', ROW_COUNT();" % i)
    out = db.query("\n".join(script), database=DB)
    for row in out:
        if row and row[0].startswith("RC"):
            ops[int(row[0][2:])].count = int(row[1])


def snapshot(db):
    """Server rendering of every table: {table: [ {col: canon or None}, ... ]}"""
    script = ["SET time_zone='+00:00';"]
    for t, _rows in TABLES:
        script.append("SELECT '%s', %s FROM `%s` ORDER BY 2;" % (
            t.name, ",".join(c.server_expr() for c in t.cols), t.name))
    res = {t.name: [] for t, _ in TABLES}
    bytab = {t.name: t for t, _ in TABLES}
    for row in db.query("\n".join(script), database=DB):
        t = bytab[row[0]]
        rec = {}
        for c, s in zip(t.cols, row[1:]):
            rec[c.name] = None if s == "N" else server_canon(c, s[1:])
        res[t.name].append(rec)
    return res


# =============================================================================== mariadb-binlog

def mariadb_binlog_rows(path):
    """[(db, table, op, before_ordinals or None, after_ordinals or None)], rows-event offsets."""
    tool = find_tool("mariadb-binlog", "mysqlbinlog")
    r = subprocess.run([tool, "--no-defaults", "-v", "--base64-output=DECODE-ROWS", path],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("mariadb-binlog failed on %s: %s" % (path, r.stderr.decode()))
    rows, offsets, events = [], set(), []
    cur = None
    section = None
    at = None
    ats = []
    for line in r.stdout.decode("utf-8", "replace").split("\n"):
        if line.startswith("# at "):
            # "# at" lines and event header lines are not always adjacent (Annotate_rows and
            # Table_map headers are printed late) but both come once per event, in order
            ats.append(int(line[5:]))
            continue
        m = re.match(r"#\d{6} .* end_log_pos (\d+) CRC32 0x[0-9a-f]+\s+(\w+)", line)
        if m:
            at = ats[len(events)]
            events.append((at, int(m.group(1)), m.group(2)))
            if re.match(r"(Write|Update|Delete)(_compressed)?_rows", m.group(2)):
                offsets.add(at)
            continue
        if not line.startswith("###"):
            continue
        m = re.match(r"### (INSERT INTO|UPDATE|DELETE FROM) `(.*)`\.`(.*)`$", line)
        if m:
            op = {"INSERT INTO": "c", "UPDATE": "u", "DELETE FROM": "d"}[m.group(1)]
            cur = [m.group(2), m.group(3), op, None, None]
            rows.append(cur)
            continue
        if line == "### WHERE":
            cur[3], section = set(), 3
        elif line == "### SET":
            cur[4], section = set(), 4
        else:
            m = re.match(r"###   @(\d+)=", line)
            if m:
                cur[section].add(int(m.group(1)))
    return rows, offsets, events


# =============================================================================== main

DOC_FIELDS = {"db", "table", "op", "before", "after", "pos", "gtid", "ts"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rowcast", help="path to the rowcast binary")
    ap.add_argument("--selfcheck", action="store_true",
                    help="no rowcast: check the generator's expectations against "
                         "mariadb-binlog only (for developing this test)")
    ap.add_argument("--keep", action="store_true", help="keep the sandbox directory")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    rep = Report(args.verbose)
    t_start = time.monotonic()
    missing = mariadb_missing(("mariadb-binlog", "mysqlbinlog"))
    if missing:
        print("SKIP  " + missing)
        return 77
    if not args.rowcast and not args.selfcheck:
        ap.error("--rowcast is required")
    rowcast = os.path.abspath(args.rowcast) if args.rowcast else None
    if rowcast and not os.access(rowcast, os.X_OK):
        print("FAIL  rowcast binary %s is missing or not executable" % rowcast)
        rep.failed += 1
        return rep.summary()

    metas = ["FULL", "MINIMAL", "NO_LOG"]
    images = ["FULL", "MINIMAL", "NOBLOB"]
    combos = []
    for meta in metas:
        for comp in ("OFF", "ON"):
            for image in images:
                if meta == "NO_LOG" and image != "FULL" and comp == "ON":
                    continue  # keep the run short: NO_LOG x {MINIMAL,NOBLOB} uncompressed only
                combos.append((meta, image, comp))

    workdir = tempfile.mkdtemp(prefix="rowcast-it-")
    try:
        with MariaDBSandbox(keep=args.keep, extra_args=[
                "--log-bin-compress-min-len=10", "--max-allowed-packet=64M",
                "--sql-mode=", "--default-time-zone=+00:00"]) as db:
            t_up = time.monotonic()
            db.sql("CREATE DATABASE %s CHARACTER SET utf8mb4" % DB)
            db.sql(";\n".join(t.ddl() for t, _ in TABLES) + ";", database=DB)
            db.flush_binlogs()
            scenarios = []
            for k, (meta, image, comp) in enumerate(combos):
                db.sql("SET GLOBAL binlog_row_metadata=%s; SET GLOBAL log_bin_compress=%s"
                       % (meta, comp))
                fname, _pos = db.master_status()
                ops = build_scenario(k, len(combos))
                run_ops(db, ops, "SET sql_mode=''; SET time_zone='+00:00'; "
                                 "SET binlog_row_image=%s;" % image)
                snap = snapshot(db)
                db.flush_binlogs()
                scenarios.append(dict(k=k, meta=meta, image=image, comp=comp, file=fname,
                                      ops=ops, snap=snap,
                                      name="meta=%s image=%s compress=%s" % (meta, image, comp)))
            files = db.binlog_files()
            # copy the binlogs out: the sandbox is torn down before decoding finishes
            bdir = os.path.join(workdir, "binlogs")
            os.makedirs(bdir)
            for f in files:
                shutil.copy2(f, bdir)
            files = [os.path.join(bdir, os.path.basename(f)) for f in files]
            t_gen = time.monotonic()
        print("info: server up in %.1f s, %d scenarios generated in %.1f s, %d binlog files"
              % (t_up - t_start, len(scenarios), t_gen - t_up, len(files)))
        try:
            if rowcast:
                run_checks(rep, rowcast, files, scenarios, workdir)
            else:
                selfcheck(rep, files, scenarios)
        except Exception:  # a harness error (e.g. rowcast hangs) must still be reported
            import traceback
            rep.check("test harness ran to completion", [traceback.format_exc()])
    finally:
        if args.keep:
            print("info: kept %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print("info: total %.1f s" % (time.monotonic() - t_start))
    return rep.summary()


def run_checks(rep, rowcast, files, scenarios, workdir):
    tables = {t.name: t for t, _ in TABLES}
    by_file = {s["file"]: s for s in scenarios}

    # ---------------------------------------------------------------- decode all files
    t0 = time.monotonic()
    # what the binlog itself carries under each metadata setting: no schema history (its names
    # for MINIMAL/NO_LOG binlogs are test_schema_history.py's subject)
    r = subprocess.run([rowcast, "decode", "-o", "schema.tracker=off"] + files, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    dt = time.monotonic() - t0
    stderr = r.stderr.decode("utf-8", "replace")
    rep.check("decode: exit status 0 on %d files" % len(files),
              [] if r.returncode == 0 else
              ["exit status %d, stderr:\n%s" % (r.returncode, _short(stderr, 3000))],
              "%.2f s" % dt)
    out = r.stdout.decode("utf-8", "replace")
    raw_lines = out.split("\n")
    problems = []
    if raw_lines and raw_lines[-1] != "":
        problems.append("stdout does not end with a newline: %r" % _short(raw_lines[-1]))
    raw_lines = [l for l in raw_lines if l != ""]
    changes = []
    for i, l in enumerate(raw_lines):
        try:
            changes.append(json.loads(l, parse_float=decimal.Decimal))
        except ValueError as e:
            problems.append("line %d is not JSON (%s): %s" % (i + 1, e, _short(l)))
    rep.check("decode: every stdout line is JSON", problems, "%d lines" % len(raw_lines))

    # ---------------------------------------------------------------- documented fields
    problems = []
    seen_pos = set()
    t_lo, t_hi = int(time.time()) - 3600, int(time.time()) + 60
    for i, ch in enumerate(changes):
        where = "line %d" % (i + 1)
        if not isinstance(ch, dict):
            problems.append("%s: not an object" % where)
            continue
        if set(ch) != DOC_FIELDS:
            problems.append("%s: fields %s, documented %s" % (where, sorted(ch),
                                                              sorted(DOC_FIELDS)))
        if ch.get("db") != DB or ch.get("table") not in tables:
            problems.append("%s: db/table %r.%r" % (where, ch.get("db"), ch.get("table")))
        op = ch.get("op")
        if op not in ("c", "u", "d"):
            problems.append("%s: op %r" % (where, op))
        b, a = ch.get("before"), ch.get("after")
        if op == "c" and not (b is None and isinstance(a, dict)):
            problems.append("%s: insert must have before=null, after=object" % where)
        if op == "u" and not (isinstance(b, dict) and isinstance(a, dict)):
            problems.append("%s: update must have before and after objects" % where)
        if op == "d" and not (isinstance(b, dict) and a is None):
            problems.append("%s: delete must have before=object, after=null" % where)
        pos = ch.get("pos")
        if not (isinstance(pos, dict) and set(pos) == {"file", "offset", "row"}
                and isinstance(pos.get("file"), str) and isinstance(pos.get("offset"), int)
                and isinstance(pos.get("row"), int)):
            problems.append("%s: bad pos %r" % (where, pos))
        else:
            key = (pos["file"], pos["offset"], pos["row"])
            if key in seen_pos:
                problems.append("%s: duplicate pos %r" % (where, key))
            seen_pos.add(key)
            if pos["file"] not in by_file:
                problems.append("%s: pos.file %r is not a scenario binlog (basename expected)"
                                % (where, pos["file"]))
        g = ch.get("gtid")
        if not (isinstance(g, str) and re.match(r"^\d+-\d+-\d+$", g)):
            problems.append("%s: gtid %r is not MariaDB domain-server-seq" % (where, g))
        ts = ch.get("ts")
        if not (isinstance(ts, int) and t_lo <= ts <= t_hi):
            problems.append("%s: ts %r not a plausible epoch of this run" % (where, ts))
    rep.check("decode: documented fields and types on every line", problems)
    if not changes:
        return

    # ---------------------------------------------------------------- shape vs mariadb-binlog
    problems = []
    pos_problems = []
    mb_by_file = {}
    for f in files:
        name = os.path.basename(f)
        rows, offsets, events = mariadb_binlog_rows(f)
        mb_by_file[name] = (rows, offsets, events)
    per_file = {}
    for ch in changes:
        if isinstance(ch, dict) and isinstance(ch.get("pos"), dict):
            per_file.setdefault(ch["pos"].get("file"), []).append(ch)
    for name, (rows, offsets, _events) in mb_by_file.items():
        got = per_file.get(name, [])
        sc = by_file.get(name)
        label = "%s (%s)" % (name, sc["name"] if sc else "setup")
        if len(got) != len(rows):
            problems.append("%s: rowcast printed %d changes, mariadb-binlog shows %d rows"
                            % (label, len(got), len(rows)))
        last = (-1, -1)
        for j, (ch, mb) in enumerate(zip(got, rows)):
            t = tables.get(ch.get("table"))
            if t is None:
                continue
            if (ch.get("db"), ch.get("table"), ch.get("op")) != tuple(mb[:3]):
                problems.append("%s change #%d: %s.%s op %s, mariadb-binlog: %s.%s op %s"
                                % (label, j, ch.get("db"), ch.get("table"), ch.get("op"),
                                   *mb[:3]))
                continue
            meta = sc["meta"] if sc else "FULL"
            for side, idx in (("before", 3), ("after", 4)):
                img = ch.get(side)
                if not isinstance(img, dict):
                    continue
                ords = keys_to_ordinals(t, img, meta)
                if isinstance(ords, str):
                    problems.append("%s change #%d %s: %s" % (label, j, side, ords))
                elif ords != mb[idx]:
                    problems.append("%s change #%d %s.%s %s: %s (absent must be left out, "
                                    "present NULL must be null)"
                                    % (label, j, t.name, ch["op"], side,
                                       _setdiff(_names(t, ords), _names(t, mb[idx] or ()))))
            p = ch["pos"]
            if p["offset"] not in offsets:
                pos_problems.append("%s change #%d: pos.offset %d is not a ROWS event "
                                    "(rows events at %s)" % (label, j, p["offset"],
                                                             _short(sorted(offsets))))
            cur = (p["offset"], p["row"])
            if cur[0] == last[0]:
                if cur[1] != last[1] + 1:
                    pos_problems.append("%s change #%d: pos.row %d after %d in the same event"
                                        % (label, j, cur[1], last[1]))
            elif cur[0] < last[0] or cur[1] != 0:
                pos_problems.append("%s change #%d: pos %r after %r (offsets must increase, "
                                    "row restarts at 0)" % (label, j, cur, last))
            last = cur
    rep.check("row images have exactly the columns the server logged (vs mariadb-binlog -v)",
              problems)
    rep.check("pos.offset is a ROWS event offset, pos.row counts rows within it", pos_problems)

    # ---------------------------------------------------------------- explicit image rules
    problems = []
    for sc in scenarios:
        got = per_file.get(sc["file"], [])
        logged = [o for o in sc["ops"] if o.table and o.logged and o.count]
        expected_rows = sum(o.count for o in logged)
        if len(got) != expected_rows:
            problems.append("%s: %d changes decoded, the statements changed %d rows"
                            % (sc["name"], len(got), expected_rows))
            continue
        i = 0
        for o in logged:
            t = tables[o.table]
            for _ in range(o.count):
                ch = got[i]
                i += 1
                if ch.get("table") != o.table or ch.get("op") != o.op:
                    problems.append("%s: expected %s on %s (%s), got %s on %s"
                                    % (sc["name"], o.op, o.table, _short(o.sql, 80),
                                       ch.get("op"), ch.get("table")))
                    continue
                exp_b, exp_a = expected_images(t, o, sc["image"])
                for side, exp in (("before", exp_b), ("after", exp_a)):
                    img = ch.get(side)
                    if exp is None or not isinstance(img, dict):
                        continue
                    ords = keys_to_ordinals(t, img, sc["meta"])
                    if isinstance(ords, str):
                        continue  # reported above
                    got_names = set(_names(t, ords))
                    if got_names != exp:
                        problems.append(
                            "%s: %s %s %s: %s\n  statement: %s"
                            % (sc["name"], o.table, {"c": "insert", "u": "update",
                                                     "d": "delete"}[o.op], side,
                               _setdiff(got_names, exp), _short(o.sql, 200)))
    rep.check("row-image rules: FULL=all, MINIMAL update before=PK after=SET columns, "
              "NOBLOB leaves unchanged BLOB/TEXT out", problems)

    # ---------------------------------------------------------------- key naming per metadata
    problems = []
    for sc in scenarios:
        for ch in per_file.get(sc["file"], []):
            t = tables.get(ch.get("table"))
            for side in ("before", "after"):
                img = ch.get(side)
                if t and isinstance(img, dict):
                    ords = keys_to_ordinals(t, img, sc["meta"])
                    if isinstance(ords, str):
                        problems.append("%s %s %s: %s" % (sc["name"], t.name, side, ords))
    rep.check("column keys: names with binlog_row_metadata=FULL, \"@N\" otherwise", problems)

    # ---------------------------------------------------------------- values via model replay
    model = {t.name: ({} if t.pk else []) for t, _ in TABLES}
    unknown = {}  # (table, pk, col) never seen in a decoded image
    float_style = []
    for sc in scenarios:
        problems = []
        meta = sc["meta"]
        for ch in per_file.get(sc["file"], []):
            t = tables.get(ch.get("table"))
            if t is None or ch.get("op") not in ("c", "u", "d"):
                continue
            imgs = {}
            for side in ("before", "after"):
                img = ch.get(side)
                if isinstance(img, dict):
                    imgs[side] = canon_image(t, img, meta, float_style, ch)
            where = "%s %s pos=%s:%s#%s" % (sc["name"], t.name, ch["pos"].get("file"),
                                             ch["pos"].get("offset"), ch["pos"].get("row"))
            problems += replay(t, model[t.name], ch["op"], imgs.get("before"),
                               imgs.get("after"), where)
        # checkpoint: model vs server rendering (listed first: the most readable diff)
        problems = compare_model(model, sc["snap"], tables, sc["name"]) + problems
        rep.check("values after scenario %d [%s]: decoded changes replayed == SELECT"
                  % (sc["k"], sc["name"]), problems,
                  "%d changes" % len(per_file.get(sc["file"], [])))
    rep.check("FLOAT/DOUBLE printed in the shortest form that reads back as the same value",
              float_style)

    for text, n in sorted(NOTES.items()):
        print("NOTE  %s: %d value(s)" % (text, n))

    # ---------------------------------------------------------------- warnings for no names
    missing = [t for t in ("t_int", "t_str") if t not in stderr]
    rep.check("decode: a warning on stderr names tables without column names (NO_LOG/MINIMAL)",
              ["stderr does not mention %s; stderr was: %s" % (", ".join(missing),
                                                              _short(stderr, 500))]
              if missing else [])

    # ---------------------------------------------------------------- corrupt files
    corrupt_checks(rep, rowcast, files, mb_by_file, workdir,
                   prefer=[s["file"] for s in scenarios if s["meta"] == "FULL"])


def selfcheck(rep, files, scenarios):
    """Feed mariadb-binlog's row shapes through the row-image rules (validates the test)."""
    tables = {t.name: t for t, _ in TABLES}
    problems = []
    for sc in scenarios:
        f = [x for x in files if os.path.basename(x) == sc["file"]][0]
        rows, _offsets, _events = mariadb_binlog_rows(f)
        logged = [o for o in sc["ops"] if o.table and o.logged and o.count]
        if sum(o.count for o in logged) != len(rows):
            problems.append("%s: ROW_COUNT total %d, mariadb-binlog rows %d"
                            % (sc["name"], sum(o.count for o in logged), len(rows)))
            continue
        i = 0
        for o in logged:
            t = tables[o.table]
            for _ in range(o.count):
                mb = rows[i]
                i += 1
                if (mb[1], mb[2]) != (o.table, o.op):
                    problems.append("%s: order mismatch %s vs %s" % (sc["name"], mb[1:3],
                                                                     (o.table, o.op)))
                    continue
                exp_b, exp_a = expected_images(t, o, sc["image"])
                for exp, got in ((exp_b, mb[3]), (exp_a, mb[4])):
                    if exp is not None and set(_names(t, got)) != exp:
                        problems.append("%s: %s: logged %s expected %s" % (
                            sc["name"], _short(o.sql, 100), sorted(_names(t, got)),
                            sorted(exp)))
    rep.check("selfcheck: expected row images == mariadb-binlog", problems)


def _setdiff(got, expected):
    got, expected = set(got), set(expected)
    parts = []
    if expected - got:
        parts.append("missing columns %s" % sorted(expected - got))
    if got - expected:
        parts.append("unexpected columns %s" % sorted(got - expected))
    return "; ".join(parts) + " (expected %d columns, got %d)" % (len(expected), len(got))


def _names(t, ords):
    return [t.cols[o - 1].name if 1 <= o <= len(t.cols) else "@%d?" % o for o in sorted(ords)]


def keys_to_ordinals(t, img, meta):
    ords = set()
    for key in img:
        if meta == "FULL":
            if key not in t.by_name:
                return "key %r is not a column name of %s (binlog_row_metadata=FULL)" % (
                    key, t.name)
            ords.add([c.name for c in t.cols].index(key) + 1)
        else:
            m = re.match(r"^@(\d+)$", key)
            if not m or not 1 <= int(m.group(1)) <= len(t.cols):
                return "key %r: expected \"@1\"..\"@%d\" without column names (%s)" % (
                    key, len(t.cols), meta)
            ords.add(int(m.group(1)))
    return ords


def expected_images(t, o, image):
    allc = {c.name for c in t.cols}
    blobs = {c.name for c in t.cols if c.blob}
    pk = set(t.pk_cols())
    sets = set(o.set_cols or [])
    if image == "FULL" or not t.pk:
        # MariaDB logs full images for tables without a primary key; (NOBLOB still
        # drops their blobs, which the mariadb-binlog comparison covers)
        if image == "FULL":
            return (None if o.op == "c" else allc), (None if o.op == "d" else allc)
        return None, None
    if image == "MINIMAL":
        if o.op == "c":
            return None, sets
        if o.op == "u":
            return pk, sets
        return pk, None
    # NOBLOB
    if o.op == "c":
        return None, allc - (blobs - sets)
    if o.op == "u":
        return allc - blobs | pk, allc - (blobs - sets)
    return allc - blobs | pk, None


def canon_image(t, img, meta, float_style, ch):
    res = {}
    for key, v in img.items():
        if meta == "FULL":
            col = t.by_name.get(key)
        else:
            m = re.match(r"^@(\d+)$", key)
            col = t.cols[int(m.group(1)) - 1] if m and 1 <= int(m.group(1)) <= len(t.cols) \
                else None
        if col is None:
            continue
        cv = decoded_canon(col, v, meta)
        res[col.name] = cv
        if col.kind == "float" and isinstance(v, (int, decimal.Decimal)) \
                and not isinstance(v, bool) and len(float_style) < 50:
            x = f32(float(v))
            if x != 0 and sig_digits(str(v)) > shortest_f32_digits(x) and \
                    not any(" %s," % v in p for p in float_style):
                float_style.append("%s.%s: printed %s, shortest float32 form has %d digit(s): %s "
                                   "(first at pos %s)" % (t.name, col.name, v,
                                                          shortest_f32_digits(x),
                                                          "%.*g" % (shortest_f32_digits(x), x),
                                                          ch.get("pos")))
        if col.kind == "double" and isinstance(v, (int, decimal.Decimal)) \
                and not isinstance(v, bool) and len(float_style) < 50:
            x = float(v)
            if x != 0 and sig_digits(str(v)) > sig_digits(repr(x)) and \
                    not any(" %s," % v in p for p in float_style):
                float_style.append("%s.%s: printed %s, shortest double form is %r (first at "
                                   "pos %s)" % (t.name, col.name, v, x, ch.get("pos")))
    return res


def _row_key(t, row):
    return row.get("id")


def replay(t, m, op, before, after, where):
    problems = []

    def diff(img, mrow, what):
        out = []
        for c, v in img.items():
            if c in mrow and mrow[c] != v:
                out.append("%s: %s column %s: decoded %s, but the row (from earlier decoded "
                           "changes) has %s" % (where, what, c, show(v), show(mrow[c])))
        return out

    if t.pk:
        if op == "c":
            k = _row_key(t, after)
            if k in m:
                problems.append("%s: insert of existing id %r" % (where, k))
            m[k] = dict(after)
        else:
            k = _row_key(t, before)
            if k not in m:
                problems.append("%s: %s of unknown row id %r" % (where, op, k))
                if op == "u":
                    m[_row_key(t, after) if "id" in after else k] = dict(after)
                return problems
            problems += diff(before, m[k], "before image")
            for c, v in before.items():
                m[k].setdefault(c, v)
            if op == "d":
                del m[k]
            else:
                row = m.pop(k)
                row.update(after)
                m[row.get("id")] = row
        return problems
    # no primary key: a multiset of rows
    if op == "c":
        m.append(dict(after))
        return problems
    for i, row in enumerate(m):
        if all(row.get(c, v) == v for c, v in before.items()):
            if op == "d":
                del m[i]
            else:
                row.update(after)
            return problems
    problems.append("%s: %s before image %s matches no row of the model"
                    % (where, op, {c: show(v) for c, v in before.items()}))
    return problems


def compare_model(model, snap, tables, sname):
    problems = []
    for tname, srows in snap.items():
        t = tables[tname]
        if t.pk:
            mrows = model[tname]
            sk = {r["id"]: r for r in srows}
            for k in sorted(set(sk) | set(mrows), key=lambda x: (x is None, x)):
                if k not in mrows:
                    problems.append("%s id=%s: row in the table but not in the decoded stream"
                                    % (tname, k))
                    continue
                if k not in sk:
                    problems.append("%s id=%s: row in the decoded stream but not in the table"
                                    % (tname, k))
                    continue
                for c in t.cols:
                    if c.name not in mrows[k]:
                        continue  # never seen in any image (only possible with MINIMAL)
                    if mrows[k][c.name] != sk[k][c.name]:
                        problems.append("%s id=%s column %s (%s): decoded %s, server %s"
                                        % (tname, k, c.name, c.sqltype.split(" NULL")[0],
                                           show(mrows[k][c.name]), show(sk[k][c.name])))
        else:
            def key(r):
                return repr(sorted((c, show(v)) for c, v in r.items()))
            a = sorted(key(r) for r in model[tname])
            b = sorted(key(r) for r in srows)
            if a != b:
                problems.append("%s (no PK): decoded rows %s\n  server rows %s"
                                % (tname, _short(a, 600), _short(b, 600)))
    return problems


# =============================================================================== corrupt files

def _errline(err):
    lines = [l for l in err.strip().splitlines() if "warning" not in l.lower()]
    return _short(" | ".join(lines) if lines else err.strip(), 300)



def _printed_past(out, at, what):
    """Problems with decode's stdout after a bad event at offset `at`: a line that is not JSON, or
    a change printed from the bad event or after it (`what` names the kind of damage)."""
    problems = []
    for l in out.split("\n"):
        if l:
            try:
                o = json.loads(l)
                if o.get("pos", {}).get("offset", 0) >= at:
                    problems.append("printed a change from the %s event: %s" % (what, _short(l)))
            except ValueError:
                problems.append("stdout line is not JSON: %r" % _short(l))
    return problems

def corrupt_checks(rep, rowcast, files, mb_by_file, workdir, prefer=None):
    # pick the binlog file with the most ROWS events; use a rows event in its middle
    cands = [n for n in mb_by_file if n in (prefer or ())] or list(mb_by_file)
    name = max(cands, key=lambda n: len(mb_by_file[n][1]))
    rows, offsets, events = mb_by_file[name]
    src = [f for f in files if os.path.basename(f) == name][0]
    data = open(src, "rb").read()
    rows_events = [(at, end) for at, end, typ in events
                   if at in offsets and end - at > 200] or \
        [(at, end) for at, end, typ in events if at in offsets]
    at, end = rows_events[len(rows_events) // 2]
    size = end - at

    # truncated in the middle of an event
    d = os.path.join(workdir, "trunc")
    os.makedirs(d)
    cut = at + size // 2
    p = os.path.join(d, name)
    with open(p, "wb") as f:
        f.write(data[:cut])
    r = subprocess.run([rowcast, "decode", p], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    err = r.stderr.decode("utf-8", "replace")
    out = r.stdout.decode("utf-8", "replace")
    problems = []
    if r.returncode != 2:
        problems.append("exit status %d, expected 2" % r.returncode)
    if name not in err:
        problems.append("stderr does not name the file %s: %s" % (name, _short(err, 400)))
    if not any(str(x) in err for x in (at, cut, len(data[:cut]))):
        problems.append("stderr names none of the offsets %d (event), %d (end of file): %s"
                        % (at, cut, _short(err, 400)))
    if out and not out.endswith("\n"):
        problems.append("partial line on stdout: %r" % _short(out.rsplit("\n", 1)[-1]))
    problems += _printed_past(out, at, "truncated")
    rep.check("truncated binlog (%s cut at %d, inside the event at %d): status 2, file+offset "
              "on stderr, no partial line" % (name, cut, at), problems,
              "stderr: %s" % _errline(err))

    # one flipped byte inside an event body
    d = os.path.join(workdir, "flip")
    os.makedirs(d)
    p = os.path.join(d, name)
    flip = at + 19 + (size - 19 - 4) // 2
    bad = bytearray(data)
    bad[flip] ^= 0x5A
    with open(p, "wb") as f:
        f.write(bad)
    r = subprocess.run([rowcast, "decode", p], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    err = r.stderr.decode("utf-8", "replace")
    out = r.stdout.decode("utf-8", "replace")
    problems = []
    if r.returncode != 2:
        problems.append("exit status %d, expected 2" % r.returncode)
    if "checksum" not in err.lower() and "crc" not in err.lower():
        problems.append("stderr does not mention the checksum: %s" % _short(err, 400))
    if out and not out.endswith("\n"):
        problems.append("partial line on stdout")
    problems += _printed_past(out, at, "corrupt")
    rep.check("flipped byte (%s offset %d, in the event at %d): status 2, checksum error"
              % (name, flip, at), problems, "stderr: %s" % _errline(err))


if __name__ == "__main__":
    sys.exit(main())
