#!/usr/bin/python3
"""Avro on the wire, checked by consumers that are not rowcast.

Usage: test_avro.py --rowcast PATH [--only a,b,c,d,e,f] [--keep]

A real MariaDB (started by the test, binlog_row_metadata=FULL) writes the binlogs; they are
replayed with the default format (Avro) into `rowcast broker`, and:

 a. type coverage: the tables and values of test_mariadb_types.py (every column type and edge
    value) under binlog_row_image FULL, MINIMAL and NOBLOB (the last with log_bin_compress=ON).
    A confluent_kafka consumer reads every message; writer schemas come only from the topic
    rowcast._schemas (key = CRC-64-AVRO fingerprint of the schema's Parsing Canonical Form, as
    16 hex digits: recomputed here from python3-avro's canonical form); every value (C3 01 +
    fingerprint + datum) is decoded with python3-avro (avro.io.DatumReader / BinaryDecoder) and
    converted here, from the Avro specification's definitions of the logical types and the
    schema's properties, to rowcast's canonical JSON (docs/json-mapping.md); each change must
    equal `rowcast decode`'s line for the same binlog position, column by column. The keys
    decode with their key schema and equal the primary-key columns of the before image for
    updates and deletes, of the after image for inserts (docs/avro.md); null without a PK.
    The documented exception: zero and invalid dates (month or day 0, ...) have no Avro form
    and are null in Avro; the test checks exactly that for them.
    python3-avro's own logical-type conversion is not used for the comparison: Python's
    datetime cannot hold year 0 or a TIME beyond 24 hours, which MySQL values can be.
 b. schema evolution: ALTER TABLE ... ADD COLUMN, DROP COLUMN and MODIFY COLUMN (INT ->
    BIGINT) between DML; each message decodes with its own writer schema (a new fingerprint
    after each DDL) and also resolves against the newest schema (DatumReader(writer, reader)):
    columns added later are nullable with default null.
 c. `rowcast tail --from-beginning --exit-at-end` over the topics of (a) and (b) prints exactly
    the lines `rowcast decode` prints (as a multiset; zero dates are null, as documented).
 d. the Confluent wire format: replayed with -o schema_registry.url=URL of registry_standin.py,
    a STAND-IN for Confluent's schema registry (none runs here; it implements the documented
    endpoints the test uses). Messages start with 0x00 + a 4-byte schema id; the subjects
    <topic>-value and <topic>-key exist; the datums decode with the registry's schemas and
    equal decode's lines; `rowcast tail -o schema_registry.url=URL` prints the canonical lines.
 e. the registry going away and refusing: the stand-in exits after answering two registrations
    (mid-run); the serializer logs an error naming the registry's URL and waits for it (no exit,
    no restart of the group); the stand-in started again on the same port (same ids) lets the
    replay finish, and every change arrives exactly once, as without the outage. A stand-in that
    refuses every schema (409) makes the replay exit 2 at once, saying the registry refused it.

Prints PASS/FAIL per check and `N passed, M failed`; exit 0 iff M == 0; 77 (skip) when
python3-avro, python3-confluent-kafka or MariaDB is missing.
 f. messages that are not rowcast's (JSON-looking garbage, JSON of another shape, an unknown
    Avro fingerprint or header), produced with python3-confluent-kafka: `rowcast tail` reports
    each on stderr with topic, partition and offset and prints only the real change; and
    `tail --exit-at-end` against a broker nobody listens on exits non-zero with an error.
"""
import argparse
import base64
import collections
import copy
import decimal
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import avro.errors
    import avro.io
    import avro.schema
    from kafka_tool import Broker, Collector
except ImportError as e:  # python3-avro or python3-confluent-kafka missing
    print("SKIP: %s (install python3-avro and python3-confluent-kafka)" % e)
    sys.exit(77)

from mariadb_sandbox import MariaDBSandbox, mariadb_missing  # noqa: E402
# python3-avro 1.11 warns about logical types it does not know (local-timestamp-micros): the
# test strips logical types before decoding and converts the raw values itself
warnings.filterwarnings("ignore", category=avro.errors.IgnoredLogicalType)
from pipeline_common import Checks  # noqa: E402
import test_mariadb_types as mt  # noqa: E402  (its tables, rows and DML scenarios)

DB = mt.DB
MAX_DETAILS = 12
SCHEMA_SUFFIX = "._schemas"


def short(s, n=300):
    s = str(s)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


def details(problems):
    if not problems:
        return ""
    out = "\n      ".join(short(p, 600) for p in problems[:MAX_DETAILS])
    if len(problems) > MAX_DETAILS:
        out += "\n      ... and %d more" % (len(problems) - MAX_DETAILS)
    return out


# =============================================================================== Avro helpers

_CRC64_EMPTY = 0xC15D213AA4D7A795
_CRC64_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (_CRC64_EMPTY & -(_fp & 1))
    _CRC64_TABLE.append(_fp)


def crc64_avro(data):
    """The Avro specification's 64-bit Rabin fingerprint."""
    fp = _CRC64_EMPTY
    for b in data:
        fp = (fp >> 8) ^ _CRC64_TABLE[(fp ^ b) & 0xFF]
    return fp


def parse_schema(text):
    return avro.schema.parse(text)


PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def full_name(name, ns):
    return name if "." in name or not ns else ns + "." + name


def canonical_form(s, ns=None):
    """The Avro specification's Parsing Canonical Form, written out here from its rules
    ([PRIMITIVES] [FULLNAMES] [STRIP] [ORDER] [STRINGS] [INTEGERS] [WHITESPACE]):
    python3-avro 1.11's canonical_form keeps {"type":"int"} for annotated primitives."""
    if isinstance(s, str):
        return json.dumps(s if s in PRIMITIVES else full_name(s, ns))
    if isinstance(s, list):
        return "[" + ",".join(canonical_form(x, ns) for x in s) + "]"
    t = s["type"]
    if isinstance(t, (dict, list)) or t not in ("record", "enum", "fixed", "array", "map"):
        return canonical_form(t, ns)
    parts = []
    if t in ("record", "enum", "fixed"):
        name = full_name(s["name"], s.get("namespace", ns))
        ns = name.rsplit(".", 1)[0] if "." in name else None
        parts.append('"name":' + json.dumps(name))
    parts.append('"type":' + json.dumps(t))
    if t == "record":
        parts.append('"fields":[' + ",".join('{"name":%s,"type":%s}' % (json.dumps(f["name"]), canonical_form(f["type"], ns))
                                             for f in s["fields"]) + "]")
    elif t == "enum":
        parts.append('"symbols":[' + ",".join(json.dumps(x) for x in s["symbols"]) + "]")
    elif t == "array":
        parts.append('"items":' + canonical_form(s["items"], ns))
    elif t == "map":
        parts.append('"values":' + canonical_form(s["values"], ns))
    elif t == "fixed":
        parts.append('"size":%d' % s["size"])
    return "{" + ",".join(parts) + "}"


def collect_named(s, named, ns=None):
    """full name -> schema JSON of every named type (namespaces inherited as the spec says)."""
    if isinstance(s, list):
        for x in s:
            collect_named(x, named, ns)
    elif isinstance(s, dict):
        t = s.get("type")
        if t in ("record", "enum", "fixed") and "name" in s:
            name = full_name(s["name"], s.get("namespace", ns))
            named[name] = s
            ns = name.rsplit(".", 1)[0] if "." in name else None
            for f in s.get("fields", []):
                collect_named(f["type"], named, ns)
        elif isinstance(t, (dict, list)):
            collect_named(t, named, ns)
        elif t == "array":
            collect_named(s["items"], named, ns)
        elif t == "map":
            collect_named(s["values"], named, ns)


def strip_logical(j):
    """The schema JSON without logicalType annotations: python3-avro then hands out the raw
    Avro values (int, long, bytes, fixed), which this test converts itself."""
    if isinstance(j, dict):
        return {k: strip_logical(v) for k, v in j.items() if k != "logicalType"}
    if isinstance(j, list):
        return [strip_logical(v) for v in j]
    return j


class Writer:
    """A writer schema: its text, its JSON, the python3-avro schemas (as published and without
    logical types), and its fingerprint."""

    def __init__(self, text):
        self.text = text
        self.json = json.loads(text)
        self.schema = parse_schema(text)
        self.raw = parse_schema(json.dumps(strip_logical(self.json)))
        self.canonical = canonical_form(self.json)
        self.fingerprint = crc64_avro(self.canonical.encode("utf-8"))
        self.named = {}
        collect_named(self.json, self.named)


def read_datum(writer_schema, datum, reader_schema=None):
    """python3-avro: decode one binary datum; the whole datum must be consumed."""
    buf = io.BytesIO(datum)
    r = avro.io.DatumReader(writer_schema, reader_schema or writer_schema)
    v = r.read(avro.io.BinaryDecoder(buf))
    if buf.tell() != len(datum):
        raise ValueError("the datum has %d bytes, the schema reads %d" % (len(datum), buf.tell()))
    return v


# =============================================================================== Avro -> canonical JSON

def days_to_civil(z):
    """Days since 1970-01-01 -> (y, m, d), proleptic Gregorian (any year, also 0)."""
    z += 719468
    era = z // 146097  # Python's // floors: no adjustment for negative days
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return (y + 1 if m <= 2 else y), m, d


def frac(us, fsp):
    """'.ffffff' cut to fsp digits ('' for fsp 0)."""
    return "" if not fsp else "." + ("%06d" % us)[:fsp]


def prop(s, *names, default=None):
    """A rowcast property of a field (several spellings tried)."""
    if isinstance(s, dict):
        for n in names:
            if n in s:
                return s[n]
    return default


def ts_micros_text(us, fsp, utc):
    days, rem = divmod(us, 86400 * 1000000)
    y, m, d = days_to_civil(days)
    secs, micro = divmod(rem, 1000000)
    hh, mm, ss = secs // 3600, secs // 60 % 60, secs % 60
    return "%04d-%02d-%02d%s%02d:%02d:%02d%s%s" % (y, m, d, "T" if utc else " ", hh, mm, ss,
                                                   frac(micro, fsp), "Z" if utc else "")


def time_micros_text(us, fsp):
    sign = "-" if us < 0 else ""
    us = abs(us)
    secs, micro = divmod(us, 1000000)
    return "%s%02d:%02d:%02d%s" % (sign, secs // 3600, secs // 60 % 60, secs % 60, frac(micro, fsp))


def decimal_text(raw, scale):
    n = int.from_bytes(raw, "big", signed=True) if raw else 0
    neg = n < 0
    digits = str(abs(n)).rjust(scale + 1, "0")
    s = digits if not scale else digits[:-scale] + "." + digits[-scale:]
    return ("-" if neg else "") + s


def non_null(s):
    """[null, X] -> X (the schema of a nullable value)."""
    if isinstance(s, list):
        rest = [b for b in s if b != "null"]
        return rest[0] if len(rest) == 1 else s
    return s


def to_canonical(s, v, named, field=None):
    """One raw Avro value (python3-avro without logical types) of schema JSON s -> the
    canonical JSON value (docs/json-mapping.md), from the Avro logical type and the field's
    rowcast properties (rowcast.sql_type, rowcast.fsp). `named`: name -> named schema JSON."""
    field = field or {}
    sql = str(prop(field, "rowcast.sql_type", default="")).upper()
    fsp = int(prop(field, "rowcast.fsp", default=6))
    if v is None:
        return None
    if isinstance(s, str) and s in named:
        s = named[s]
    if isinstance(s, list):  # a union: python3-avro gives the value; find the branch
        branches = [b for b in s if b != "null"]
        if len(branches) == 1:
            return to_canonical(branches[0], v, named, field)
        for b in branches:  # the first branch whose Avro type fits the Python value
            try:
                return to_canonical(b, v, named, field)
            except (TypeError, ValueError, KeyError, AttributeError):
                continue
        raise ValueError("no union branch of %s fits %r" % (s, v))
    if isinstance(s, str):
        s = {"type": s}
    t = s["type"]
    if isinstance(t, (dict, list)):
        return to_canonical(t, v, named, field)
    lt = s.get("logicalType")
    if lt == "decimal":
        if not isinstance(v, (bytes, bytearray)):
            raise TypeError("bytes expected")
        text = decimal_text(v, s.get("scale", 0))
        return text if sql.startswith("DECIMAL") else int(text)  # BIGINT UNSIGNED: a number
    if lt == "date":
        y, m, d = days_to_civil(v)
        return "%04d-%02d-%02d" % (y, m, d)
    if lt in ("local-timestamp-micros", "timestamp-micros"):
        return ts_micros_text(v, fsp, lt == "timestamp-micros")
    if t == "long" and sql == "TIME":
        return time_micros_text(v, fsp)
    if t == "boolean" and sql == "BIT":  # BIT(1)
        if not isinstance(v, bool):
            raise TypeError("bool expected")
        return int(v)
    if t == "record":
        names = [f["name"] for f in s["fields"]]
        if names == ["srid", "wkb"]:  # GEOMETRY
            return {"srid": v["srid"], "wkb": base64.b64encode(v["wkb"]).decode()}
        return {f["name"]: to_canonical(f["type"], v.get(f["name"]), named, f) for f in s["fields"]}
    if t in ("bytes", "fixed"):
        if not isinstance(v, (bytes, bytearray)):
            raise TypeError("bytes expected")
        if sql == "BIT":
            return int.from_bytes(v, "big")
        return base64.b64encode(v).decode()
    if t == "string":
        if not isinstance(v, str):
            raise TypeError("str expected")
        if sql == "JSON":  # MySQL binary JSON: the document itself is the canonical value
            return json.loads(v, parse_float=decimal.Decimal)
        return v
    if t == "enum":
        return v
    if t in ("int", "long"):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError("int expected")
        return v
    if t in ("float", "double"):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError("float expected")
        return float(v)
    if t == "boolean":
        return v
    if t == "array":
        return [to_canonical(s["items"], x, named) for x in v]
    if t == "map":
        return {k: to_canonical(s["values"], x, named) for k, x in v.items()}
    if t in named:
        return to_canonical(named[t], v, named, field)
    raise ValueError("no canonical form for Avro type %s" % json.dumps(s)[:200])


ABSENT = "__rowcast_absent"


def column_name(f):
    """The column name of a row field: rowcast maps names Avro does not allow (property)."""
    return prop(f, "rowcast.name", default=f["name"])


def row_fields(value_schema_json):
    """The fields of the row record (the non-null branch of `after`)."""
    for f in value_schema_json["fields"]:
        if f["name"] in ("after", "before"):
            return non_null(f["type"])["fields"]
    raise ValueError("no before/after field in the value schema")


def image_to_canonical(row_schema, v, named):
    """A row record -> {column: canonical value}, absent columns left out."""
    if v is None:
        return None
    if isinstance(row_schema, str):
        row_schema = named[row_schema]
    absent = set(v.get(ABSENT) or [])
    out = {}
    for f in row_schema["fields"]:
        if f["name"] == ABSENT:
            continue
        col = column_name(f)
        if f["name"] in absent or col in absent:
            continue
        out[col] = to_canonical(f["type"], v.get(f["name"]), named, f)
    return out


def value_to_canonical(w, v):
    """A decoded value datum (raw) -> rowcast's canonical change (dict)."""
    named = w.named
    fields = {f["name"]: f for f in w.json["fields"]}
    src = v.get("source") or {}
    ch = collections.OrderedDict()
    ch["db"] = src.get("db")
    ch["table"] = src.get("table")
    ch["op"] = v.get("op")
    for side in ("before", "after"):
        ch[side] = image_to_canonical(non_null(fields[side]["type"]), v.get(side), named)
    ch["pos"] = {"file": src.get("file"), "offset": src.get("offset", src.get("pos")),
                 "row": src.get("row")}
    ch["gtid"] = src.get("gtid") or None
    ts_ms = src.get("ts_ms", src.get("event_ms"))
    ch["ts"] = ts_ms // 1000 if isinstance(ts_ms, int) else ts_ms
    return ch


def key_to_canonical(w, v):
    if v is None:
        return None
    return image_to_canonical(w.json, v, w.named)


# =============================================================================== comparison

def f32_bits(x):
    return struct.pack("<f", float(x))


def f64_bits(x):
    return struct.pack("<d", float(x))


def days_in_month(y, m):
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def lossy_date(kind, v):
    """A zero or invalid date of decode's output, which has no Avro form (documented: null)."""
    if not isinstance(v, str) or kind not in ("date", "datetime", "timestamp"):
        return False
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", v)
    if not m:
        return False
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    return not (1 <= mo <= 12 and 1 <= d <= days_in_month(y, mo))


class Cols:
    """Column kinds by (table, column), from the test's table definitions."""

    def __init__(self, tables):
        self.kind = {}
        self.sqltype = {}
        for t in tables:
            for c in t.cols:
                self.kind[(t.name, c.name)] = c.kind
                self.sqltype[(t.name, c.name)] = c.sqltype.split(" NULL")[0].split(" NOT")[0]

    def same(self, table, col, exp, got):
        k = self.kind.get((table, col))
        if exp is None or got is None:
            return exp is None and got is None
        if k == "float":
            return isinstance(got, float) and f32_bits(exp) == f32_bits(got)
        if k == "double":
            return isinstance(got, float) and f64_bits(exp) == f64_bits(got)
        if isinstance(exp, decimal.Decimal) or isinstance(got, decimal.Decimal):
            return isinstance(got, (int, float, decimal.Decimal)) and \
                decimal.Decimal(str(got)) == exp
        if isinstance(exp, bool) != isinstance(got, bool):
            return False
        return type(exp) == type(got) and exp == got


def compare_change(cols, exp, got, lossy_seen):
    """decode's change vs the Avro-derived one: a list of problems naming table/column/type."""
    problems = []
    t = exp.get("table")
    where = "%s pos %s:%s#%s" % (t, exp["pos"]["file"], exp["pos"]["offset"], exp["pos"]["row"])
    for f in ("db", "table", "op", "pos", "gtid", "ts"):
        if exp.get(f) != got.get(f):
            problems.append("%s: field %s: decode %r, avro %r" % (where, f, exp.get(f), got.get(f)))
    for side in ("before", "after"):
        e, g = exp.get(side), got.get(side)
        if e is None or g is None:
            if not (e is None and g is None):
                problems.append("%s: %s: decode %s, avro %s" % (where, side, short(e, 80), short(g, 80)))
            continue
        if set(e) != set(g):
            problems.append("%s: %s columns differ: only in decode %s, only in avro %s"
                            % (where, side, sorted(set(e) - set(g)), sorted(set(g) - set(e))))
        for c in e:
            if c not in g:
                continue
            ev, gv = e[c], g[c]
            k = cols.kind.get((t, c))
            if lossy_date(k, ev):
                lossy_seen.append((t, c, ev))
                if gv is not None:
                    problems.append("%s: %s.%s %s (%s): decode %r is a zero/invalid date, Avro "
                                    "must have null, has %r" % (where, t, c, side,
                                                                 cols.sqltype.get((t, c)), ev, gv))
                continue
            if not cols.same(t, c, ev, gv):
                problems.append("%s: %s.%s %s (%s): decode %s, avro %s"
                                % (where, t, c, side, cols.sqltype.get((t, c), "?"),
                                   short(json.dumps(ev, default=str, ensure_ascii=False), 120),
                                   short(json.dumps(gv, default=str, ensure_ascii=False), 120)))
    return problems


def without_lossy(cols, ch):
    """decode's change with zero/invalid dates replaced by null (what Avro carries)."""
    ch = copy.deepcopy(ch)
    for side in ("before", "after"):
        img = ch.get(side)
        if isinstance(img, dict):
            for c, v in img.items():
                if lossy_date(cols.kind.get((ch["table"], c)), v):
                    img[c] = None
    return ch


# =============================================================================== workloads

def type_tables():
    return [t for t, _ in mt.TABLES]


def make_type_binlogs(out_dir):
    """test_mariadb_types.py's tables and scenarios, binlog_row_metadata=FULL, row images
    FULL, MINIMAL and NOBLOB (compressed); one binlog file per scenario."""
    combos = [("FULL", "OFF"), ("MINIMAL", "OFF"), ("NOBLOB", "ON")]
    os.makedirs(out_dir, exist_ok=True)
    with MariaDBSandbox(extra_args=["--log-bin-compress-min-len=10", "--max-allowed-packet=64M",
                                    "--sql-mode=", "--default-time-zone=+00:00",
                                    "--binlog-row-metadata=FULL"]) as db:
        db.sql("CREATE DATABASE %s CHARACTER SET utf8mb4" % DB)
        db.sql(";\n".join(t.ddl() for t, _ in mt.TABLES) + ";", database=DB)
        db.flush_binlogs()
        for k, (image, comp) in enumerate(combos):
            db.sql("SET GLOBAL log_bin_compress=%s" % comp)
            ops = mt.build_scenario(k, len(combos))
            mt.run_ops(db, ops, "SET sql_mode=''; SET time_zone='+00:00'; SET binlog_row_image=%s;" % image)
            db.flush_binlogs()
        return copy_files(db.binlog_files()[:-1], out_dir)


EVO_DB = "rc_evo"


class EvoTable:
    """The evolving table, for the column kinds of the comparison."""
    name = "evo"

    def __init__(self):
        C = mt.Col
        self.cols = [C("id", "INT NOT NULL", "int"), C("a", "INT", "int"),
                     C("b", "VARCHAR(20)", "text"), C("c", "DOUBLE", "double"),
                     C("d", "DATETIME(3)", "datetime", fsp=3)]


EVO_SQL = """
CREATE TABLE evo (id INT NOT NULL PRIMARY KEY, a INT, b VARCHAR(20), c DOUBLE) DEFAULT CHARSET=utf8mb4;
INSERT INTO evo VALUES (1, 10, 'one', 1.5), (2, -2147483648, 'two', NULL), (3, 2147483647, NULL, -0.25);
UPDATE evo SET b = 'uno' WHERE id = 1;
ALTER TABLE evo ADD COLUMN d DATETIME(3) NULL;
INSERT INTO evo VALUES (4, 40, 'four', 4.0, '2026-01-02 03:04:05.678');
UPDATE evo SET d = '1999-12-31 23:59:59.999', a = a + 1 WHERE id IN (1, 2);
ALTER TABLE evo DROP COLUMN b;
INSERT INTO evo VALUES (5, 50, 5.5, NULL);
DELETE FROM evo WHERE id = 3;
ALTER TABLE evo MODIFY COLUMN a BIGINT;
INSERT INTO evo VALUES (6, 9223372036854775807, 6.5, '2026-06-06 06:06:06.060');
UPDATE evo SET a = -9223372036854775808 WHERE id = 4;
DELETE FROM evo WHERE id = 1;
"""


def make_evo_binlogs(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with MariaDBSandbox(extra_args=["--binlog-row-metadata=FULL", "--default-time-zone=+00:00"]) as db:
        db.sql("CREATE DATABASE %s CHARACTER SET utf8mb4" % EVO_DB)
        db.flush_binlogs()
        db.sql(EVO_SQL, database=EVO_DB)
        db.flush_binlogs()
        return copy_files(db.binlog_files()[1:-1], out_dir)  # the DDL and DML only


# =============================================================================== running rowcast

def decode_lines(rowcast, files):
    p = subprocess.run([rowcast, "decode"] + files, capture_output=True, timeout=300)
    if p.returncode != 0:
        raise RuntimeError("rowcast decode failed: %s" % p.stderr.decode()[-2000:])
    return p.stdout.decode("utf-8").splitlines()


def replay(rowcast, files, state, opts, timeout=300):
    args = [rowcast, "replay", "-o", "state.dir=%s" % state]
    for o in opts:
        args += ["-o", o]
    t0 = time.time()
    p = subprocess.run(args + files, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode(), time.time() - t0


def tail(rowcast, opts, timeout=180):
    args = [rowcast, "tail", "--from-beginning", "--exit-at-end"]
    for o in opts:
        args += ["-o", o]
    try:
        p = subprocess.run(args, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return None, (e.stdout or b"").decode("utf-8", "replace"), "timed out after %d s" % timeout
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def wait_changes(col, prefix, want, timeout=120):
    """Until `want` change messages (schema topic excluded) arrived, then 2 s of quiet."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        n = sum(1 for m in col.messages if m.topic != prefix + SCHEMA_SUFFIX)
        if n >= want:
            break
        time.sleep(0.2)
    col.wait(idle=2.0, timeout=30)
    return col.messages


def pos_of(ch):
    """A change's identity: its database (the two workloads have binlogs of the same names)
    and binlog position."""
    p = ch["pos"]
    return (ch["db"], p["file"], p["offset"], p["row"])


# =============================================================================== checks

class Decoded:
    """The messages of one replay, decoded by python3-avro."""

    def __init__(self):
        self.changes = {}     # pos -> (canonical change, msg, writer, raw value)
        self.problems = collections.defaultdict(list)  # check name -> problems
        self.fp_by_pos = {}
        self.keys = []        # (msg, key writer or None, decoded key or None)


def schemas_from_topic(ck, label, msgs, schema_topic):
    """fingerprint -> Writer, from the schema topic only; checks key = CRC-64-AVRO(PCF)."""
    writers = {}
    problems = []
    for m in msgs:
        if m.topic != schema_topic:
            continue
        key = (m.key or b"").decode("ascii", "replace")
        try:
            w = Writer(m.value.decode("utf-8"))
        except Exception as e:
            problems.append("%s [%d] @%d: not an Avro schema python3-avro accepts: %s: %s"
                            % (m.topic, m.partition, m.offset, e, short(m.value, 200)))
            continue
        if key != "%016x" % w.fingerprint:
            problems.append("%s [%d] @%d: key %r, CRC-64-AVRO of the Parsing Canonical Form is "
                            "%016x (canonical form %s)" % (m.topic, m.partition, m.offset, key,
                                                           w.fingerprint, short(w.canonical, 300)))
        writers[w.fingerprint] = w
    ck.check(writers and not problems, "%s: %d schemas in %s, each keyed by the CRC-64-AVRO "
             "fingerprint of its canonical form" % (label, len(writers), schema_topic), details(problems))
    return writers


def decode_messages(msgs, prefix, framing, writers_for):
    """Decode every change message. framing: 'single' (C3 01 + fp) or 'confluent' (00 + id).
    writers_for(ref) -> Writer or None."""
    d = Decoded()
    for m in msgs:
        if m.topic == prefix + SCHEMA_SUFFIX:
            continue
        where = "%s [%d] @%d" % (m.topic, m.partition, m.offset)
        v = m.value or b""
        if framing == "single":
            if len(v) < 10 or v[:2] != b"\xc3\x01":
                d.problems["framing"].append("%s: value does not start with C3 01 + fingerprint: %r"
                                             % (where, v[:12]))
                continue
            ref = struct.unpack("<Q", v[2:10])[0]
            datum = v[10:]
        else:
            if len(v) < 5 or v[0] != 0:
                d.problems["framing"].append("%s: value does not start with 0x00 + schema id: %r"
                                             % (where, v[:12]))
                continue
            ref = struct.unpack(">I", v[1:5])[0]
            datum = v[5:]
        w = writers_for(ref)
        if w is None:
            d.problems["schema"].append("%s: no writer schema for %s" % (
                where, "%016x" % ref if framing == "single" else "id %d" % ref))
            continue
        try:
            raw = read_datum(w.raw, datum)
            ch = value_to_canonical(w, raw)
        except Exception as e:
            d.problems["decode"].append("%s: python3-avro cannot decode the value with its writer "
                                        "schema: %s: %s" % (where, type(e).__name__, e))
            continue
        try:
            p = pos_of(ch)
        except Exception:
            d.problems["decode"].append("%s: no position in the decoded value %s" % (where, short(ch)))
            continue
        if p in d.changes:
            d.problems["dup"].append("%s: position %s twice" % (where, p))
        d.changes[p] = (ch, m, w, raw)
        d.fp_by_pos[p] = ref
        # the key
        k = m.key
        if k is None:
            d.keys.append((m, ch, None, None, None))
            continue
        if framing == "single":
            if len(k) < 10 or k[:2] != b"\xc3\x01":
                d.problems["key"].append("%s: key does not start with C3 01 + fingerprint: %r" % (where, k[:12]))
                continue
            kref, kdatum = struct.unpack("<Q", k[2:10])[0], k[10:]
        else:
            if len(k) < 5 or k[0] != 0:
                d.problems["key"].append("%s: key does not start with 0x00 + schema id: %r" % (where, k[:12]))
                continue
            kref, kdatum = struct.unpack(">I", k[1:5])[0], k[5:]
        kw = writers_for(kref)
        if kw is None:
            d.problems["key"].append("%s: no key schema for %s" % (where, kref))
            continue
        try:
            kv = key_to_canonical(kw, read_datum(kw.raw, kdatum))
        except Exception as e:
            d.problems["key"].append("%s: the key does not decode with its schema: %s" % (where, e))
            continue
        d.keys.append((m, ch, kw, kv, kref))
    return d


def check_values(ck, label, d, expected_lines, cols):
    expected = {}
    for l in expected_lines:
        ch = json.loads(l, parse_float=decimal.Decimal)
        expected[pos_of(ch)] = ch
    ck.check(not d.problems["framing"], "%s: every value is framed as expected" % label,
             details(d.problems["framing"]))
    ck.check(d.changes and not d.problems["schema"], "%s: every value's writer schema was found" % label,
             details(d.problems["schema"]))
    dbs = {p[0] for p in expected}  # the workload's database(s): other replays share the broker
    ck.check(d.changes and not d.problems["decode"], "%s: python3-avro decodes every value with its writer "
             "schema (%d values of this workload)" % (label, sum(1 for p in d.changes if p[0] in dbs)),
             details(d.problems["decode"]))
    missing = [p for p in expected if p not in d.changes]
    extra = [p for p in d.changes if p not in expected and p[0] in dbs]
    ck.check(not missing and not extra and not d.problems["dup"],
             "%s: one message per change of the binlog (%d of %d)"
             % (label, sum(1 for p in d.changes if p[0] in dbs), len(expected)),
             "missing %d e.g. %s; unexpected %d e.g. %s; %s" % (len(missing), missing[:3], len(extra),
                                                              extra[:3], details(d.problems["dup"])))
    problems, lossy = [], []
    by_type = collections.Counter()
    for p, exp in expected.items():
        if p in d.changes:
            got = d.changes[p][0]
            pr = compare_change(cols, exp, got, lossy)
            problems += pr
            for side in ("before", "after"):
                for c in (exp.get(side) or {}):
                    by_type[cols.sqltype.get((exp["table"], c), "?")] += 1
    ck.check(d.changes and not problems, "%s: every Avro value, converted to canonical JSON, equals rowcast "
             "decode's line column by column (%d column values of %d types)"
             % (label, sum(by_type.values()), len(by_type)), details(problems))
    if lossy:
        print("info  %s: %d zero/invalid date values are null in Avro (the documented exception), "
              "e.g. %s" % (label, len(lossy), lossy[:3]))
    return expected


def check_keys(ck, label, d, tables_by_name):
    problems = []
    nkeys = 0
    for m, ch, kw, kv, kref in d.keys:
        where = "%s [%d] @%d %s" % (m.topic, m.partition, m.offset, ch["op"])
        t = tables_by_name.get(ch["table"])
        if t is None:
            continue
        has_pk = getattr(t, "pk", True)
        if not has_pk:
            if m.key is not None:
                problems.append("%s: table without a primary key, key must be null, is %r" % (where, m.key[:20]))
            continue
        if m.key is None:
            problems.append("%s: table with a primary key, but the key is null" % where)
            continue
        img = ch["before"] if ch["op"] in ("u", "d") else ch["after"]
        want = {c: img.get(c) for c in t.pk_cols()} if img else None
        if kv != want:
            other = {c: (ch["after"] or {}).get(c) for c in t.pk_cols()} if ch["op"] == "u" else None
            problems.append("%s: key %s, but the PK columns of the %s image are %s (docs/avro.md: the "
                            "before image for updates and deletes, the after image for inserts)%s"
                            % (where, kv, "before" if ch["op"] in ("u", "d") else "after", want,
                               "; the after image's are %s" % other if other else ""))
        nkeys += 1
    problems = d.problems["key"] + problems
    ck.check(nkeys and not problems, "%s: every key decodes with its key schema and equals the primary-key "
             "columns (%d keys; null keys for tables without a PK)" % (label, nkeys), details(problems))


def check_tail(ck, label, rowcast, opts, expected_lines, cols):
    code, out, err = tail(rowcast, opts)
    ck.check(code == 0, "%s: rowcast tail --from-beginning --exit-at-end exits 0" % label,
             "status %s, stderr: %s" % (code, short(err, 2000)))
    got = collections.Counter(out.splitlines())
    want = collections.Counter()
    fixed = 0
    for l in expected_lines:
        ch = json.loads(l, parse_float=decimal.Decimal)
        nl = without_lossy(cols, ch)
        if nl != ch:
            fixed += 1
            # a line with zero dates: compare parsed (null where decode has a zero date)
            want[("parsed", json.dumps(nl, sort_keys=True, default=str))] += 1
        else:
            want[l] += 1
    # lines of tail that match a parsed expectation
    for l in list(got):
        if l in want:
            continue
        try:
            key = ("parsed", json.dumps(json.loads(l, parse_float=decimal.Decimal), sort_keys=True, default=str))
        except ValueError:
            continue
        if key in want:
            got[key] += got.pop(l)
    missing = want - got
    extra = got - want
    ck.check(not missing and not extra,
             "%s: tail prints exactly decode's lines (%d lines, %d with zero dates as null)"
             % (label, sum(want.values()), fixed),
             "missing %d, e.g.\n      %s\n      unexpected %d, e.g.\n      %s"
             % (sum(missing.values()), "\n      ".join(short(x, 400) for x in list(missing)[:3]),
                sum(extra.values()), "\n      ".join(short(x, 400) for x in list(extra)[:3])))


def check_evolution(ck, rowcast, evo_files, d, expected_lines):
    label = "b evolution"
    evs = subprocess.run([rowcast, "decode", "--events"] + evo_files, capture_output=True,
                         check=True).stdout.decode().splitlines()
    alters = []
    for l in evs:
        e = json.loads(l)
        q = (e.get("info") or {}).get("query", "")
        if e.get("type") == "QUERY_EVENT" and q.upper().startswith("ALTER"):
            alters.append((e["file"], e["offset"]))
    order = {os.path.basename(f): i for i, f in enumerate(evo_files)}

    def version(p):
        return sum(1 for a in alters if (order[a[0]], a[1]) < (order[p[1]], p[2]))

    evo = {p: v for p, v in d.changes.items() if v[0]["table"] == "evo"}
    fps = collections.defaultdict(set)
    for p in evo:
        fps[version(p)].add(d.fp_by_pos[p])
    problems = []
    if len(alters) != 3:
        problems.append("expected 3 ALTER TABLE events in the binlog, found %d" % len(alters))
    for v in range(len(alters) + 1):
        if len(fps.get(v, ())) != 1:
            problems.append("table version %d: %d writer fingerprints %s" % (v, len(fps.get(v, ())),
                                                                           sorted(fps.get(v, ()))))
    flat = [next(iter(fps[v])) for v in sorted(fps) if len(fps[v]) == 1]
    if len(set(flat)) != len(flat):
        problems.append("the same fingerprint for two table versions: %s" % ["%016x" % f for f in flat])
    ck.check(not problems, "%s: a new writer schema (fingerprint) after each DDL, one per table "
             "version (%d versions, %d changes)" % (label, len(fps), len(evo)), details(problems))

    # resolution against the newest writer schema
    newest = evo[max(evo, key=lambda p: (order[p[1]], p[2], p[3]))][2] if evo else None
    problems = []
    new_cols = []
    if newest:
        rf = {column_name(f): f for f in row_fields(newest.json)}
        for name, f in rf.items():
            if name == ABSENT:
                continue
            t = f["type"]
            if "default" in f and f["default"] is None and isinstance(t, list) and t[0] == "null":
                continue
            new_cols.append(name)
        for p, (ch, m, w, raw) in sorted(evo.items(), key=lambda kv: (order[kv[0][1]], kv[0][2], kv[0][3])):
            try:
                rv = read_datum(w.raw, m.value[10:], newest.raw)
            except Exception as e:
                problems.append("%s: does not resolve against the newest schema: %s: %s"
                                % (p, type(e).__name__, short(e, 300)))
                continue
            got = value_to_canonical(newest, rv)
            for side in ("before", "after"):
                old, new = ch.get(side), got.get(side)
                if old is None:
                    if new is not None:
                        problems.append("%s %s: null written, %s read" % (p, side, new))
                    continue
                for c, val in new.items():
                    if c in old:
                        if old[c] != val and not (isinstance(val, float) and f64_bits(val) == f64_bits(old[c] or 0)):
                            problems.append("%s %s.%s: written %r, read with the newest schema %r"
                                            % (p, side, c, old[c], val))
                    elif val is not None:
                        problems.append("%s %s.%s: column not in the writer schema reads as %r, not null"
                                        % (p, side, c, val))
    ck.check(newest is not None and not problems,
             "%s: every change also resolves against the newest schema (DatumReader(writer, reader)); "
             "columns unknown to the writer read as null" % label, details(problems))
    ck.check(newest is not None and not [c for c in new_cols if c not in ("id",)],
             "%s: the newest schema's columns are nullable with default null (union null first), "
             "the primary key aside" % label,
             "not nullable-with-default-null: %s" % new_cols)


# =============================================================================== main

def copy_files(files, out_dir):
    """Copy closed binlog files into out_dir (before the server that wrote them goes away); their
    new paths, in order."""
    out = []
    for f in files:
        dst = os.path.join(out_dir, os.path.basename(f))
        shutil.copyfile(f, dst)
        out.append(dst)
    return out


def http_json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read().decode())


class Standin:
    """registry_standin.py in a subprocess (a stand-in for Confluent's schema registry)."""

    def __init__(self, port=0, extra=()):
        self.port, self.extra = port, list(extra)

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "registry_standin.py"),
                                      "--port", str(self.port), "--exit-on-stdin-eof"] + self.extra,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.url = self.proc.stdout.readline().decode().strip()
        if not self.url.startswith("http://"):
            raise RuntimeError("registry_standin.py printed %r" % self.url)
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(10)
        return False



def registry_schemas(url):
    """A lookup of writer schemas by Confluent id from the registry at url, each fetched once
    (None for an id the registry does not know)."""
    cache = {}

    def by_id(i):
        if i not in cache:
            try:
                cache[i] = Writer(http_json("%s/schemas/ids/%d" % (url, i))["schema"])
            except Exception:
                cache[i] = None
        return cache[i]
    return by_id

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--only", default="a,b,c,d,e,f", help="parts to run (a,b,c,d,e,f)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    parts = set(a.only.split(","))
    rc = os.path.abspath(a.rowcast)
    missing = mariadb_missing()
    if missing:
        print("SKIP: " + missing)
        return 77
    ck = Checks()
    tmp = tempfile.mkdtemp(prefix="rowcast-avro-")
    try:
        run(ck, rc, tmp, parts)
    except Exception:
        import traceback
        ck.check(False, "test harness ran to completion", traceback.format_exc())
    finally:
        if a.keep:
            print("info  kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return ck.summary()


def run(ck, rc, tmp, parts):
    t0 = time.monotonic()
    type_files = make_type_binlogs(os.path.join(tmp, "types"))
    evo_files = make_evo_binlogs(os.path.join(tmp, "evo"))
    type_lines = decode_lines(rc, type_files)
    evo_lines = decode_lines(rc, evo_files)
    print("info  binlogs written in %.1f s: %d type-coverage changes in %d files, %d evolution changes"
          % (time.monotonic() - t0, len(type_lines), len(type_files), len(evo_lines)))
    cols = Cols(type_tables() + [EvoTable()])
    tables_by_name = {t.name: t for t in type_tables()}
    tables_by_name["evo"] = mt.Table("evo", EvoTable().cols)

    # ------------------------------------------------------------ a, b, c: the schema topic
    if parts & {"a", "b", "c"}:
        with Broker(rc, echo_stderr=False) as broker, Collector(broker.bootstrap, r"^rowcast\.") as col:
            boot = "kafka.bootstrap.servers=%s" % broker.bootstrap
            code, out, err, secs = replay(rc, type_files, os.path.join(tmp, "st-types"), [boot])
            ck.check(code == 0, "replay of the type-coverage binlogs (default format) exits 0 in %.1f s" % secs,
                     short(err, 3000))
            code, out, err, secs = replay(rc, evo_files, os.path.join(tmp, "st-evo"), [boot])
            ck.check(code == 0, "replay of the evolution binlogs exits 0 in %.1f s" % secs, short(err, 3000))
            msgs = wait_changes(col, "rowcast", len(type_lines) + len(evo_lines))
            changes = [m for m in msgs if m.topic != "rowcast" + SCHEMA_SUFFIX]
            avro = sum(1 for m in changes if (m.value or b"")[:2] == b"\xc3\x01")
            ck.check(changes and avro == len(changes), "the default format is Avro single-object: "
                     "%d of %d values start with C3 01" % (avro, len(changes)))
            writers = schemas_from_topic(ck, "schema topic", msgs, "rowcast" + SCHEMA_SUFFIX)
            d = decode_messages(msgs, "rowcast", "single", writers.get)
            if "a" in parts:
                check_values(ck, "a types", d, type_lines, cols)
                check_keys(ck, "a types", d, tables_by_name)
            if "b" in parts:
                check_values(ck, "b evolution", d, evo_lines, cols)
                check_evolution(ck, rc, evo_files, d, evo_lines)
            if "c" in parts:
                check_tail(ck, "c tail", rc, [boot], type_lines + evo_lines, cols)

    # ------------------------------------------------------------ d: Confluent + the registry stand-in
    if "d" in parts:
        with Standin() as reg, Broker(rc, echo_stderr=False) as broker, \
                Collector(broker.bootstrap, r"^rowcast\.") as col:
            print("info  d: the schema registry is registry_standin.py, a stand-in for Confluent's, at %s" % reg.url)
            boot = "kafka.bootstrap.servers=%s" % broker.bootstrap
            url = "schema_registry.url=%s" % reg.url
            code, out, err, secs = replay(rc, type_files, os.path.join(tmp, "st-reg"), [boot, url])
            ck.check(code == 0, "d: replay with schema_registry.url (stand-in) exits 0 in %.1f s" % secs,
                     short(err, 3000))
            msgs = wait_changes(col, "rowcast", len(type_lines))
            changes = [m for m in msgs if m.topic != "rowcast" + SCHEMA_SUFFIX]
            conf = sum(1 for m in changes if (m.value or b"")[:1] == b"\x00")
            ck.check(changes and conf == len(changes), "d: every value starts with 0x00 + schema id "
                     "(%d of %d)" % (conf, len(changes)))
            subjects = set(http_json(reg.url + "/subjects"))
            topics = sorted({m.topic for m in changes})
            want_subj = set()
            for tname in topics:
                want_subj.add(tname + "-value")
                tb = tables_by_name.get(tname.split(".")[-1])
                if tb is not None and getattr(tb, "pk", True):
                    want_subj.add(tname + "-key")
            ck.check(want_subj <= subjects, "d: subjects <topic>-value and <topic>-key (tables with a "
                     "PK) are registered (%d subjects)" % len(subjects),
                     "missing %s; registered %s" % (sorted(want_subj - subjects), sorted(subjects)))
            # ids per subject, and the schema of each id, from the registry's API
            ids_of = collections.defaultdict(set)
            for s in subjects:
                for v in http_json("%s/subjects/%s/versions" % (reg.url, urllib.request.quote(s, safe=""))):
                    info = http_json("%s/subjects/%s/versions/%d" % (reg.url, urllib.request.quote(s, safe=""), v))
                    ids_of[s].add(info["id"])
            by_id = registry_schemas(reg.url)

            wrong = []
            for m in changes:
                if (m.value or b"")[:1] == b"\x00" and len(m.value) >= 5:
                    i = struct.unpack(">I", m.value[1:5])[0]
                    if i not in ids_of.get(m.topic + "-value", ()):
                        wrong.append("%s [%d] @%d: value id %d not registered under %s-value (%s)"
                                     % (m.topic, m.partition, m.offset, i, m.topic,
                                        sorted(ids_of.get(m.topic + "-value", ()))))
                if m.key and m.key[:1] == b"\x00" and len(m.key) >= 5:
                    i = struct.unpack(">I", m.key[1:5])[0]
                    if i not in ids_of.get(m.topic + "-key", ()):
                        wrong.append("%s [%d] @%d: key id %d not registered under %s-key"
                                     % (m.topic, m.partition, m.offset, i, m.topic))
            ck.check(conf and not wrong, "d: each message's ids are versions of its topic's subjects", details(wrong))
            d = decode_messages(msgs, "rowcast", "confluent", by_id)
            check_values(ck, "d registry", d, type_lines, cols)
            check_keys(ck, "d registry", d, tables_by_name)
            schema_msgs = [m for m in msgs if m.topic == "rowcast" + SCHEMA_SUFFIX]
            ck.check(conf and not schema_msgs, "d: with a registry, nothing is written to rowcast._schemas",
                     "%d messages there" % len(schema_msgs))
            check_tail(ck, "d tail", rc, [boot, url], type_lines, cols)

    if "e" in parts:
        check_registry_outage(ck, rc, tmp, type_files, type_lines, cols)
        check_registry_refusal(ck, rc, tmp, type_files)
    if "f" in parts:
        check_tail_not_rowcast(ck, rc, type_lines)


def check_tail_not_rowcast(ck, rc, type_lines):
    """f: messages that are not rowcast's, produced with python3-confluent-kafka beside one real
    change line, are each reported by tail on stderr with topic, partition and offset, and never
    printed; tail --exit-at-end against a broker nobody listens on exits with an error."""
    from confluent_kafka import Producer
    good = type_lines[0]
    garbage = [b"{garbage that starts like JSON", b'{"a": 1}', b'{"db":"d","table":"t","op":"x"}',
               b"\xc3\x01" + b"\x00" * 8 + b"datum", b"\x07unknown header", good.encode() + b"\n"]
    topic = "rowcast.probe.garbage"
    with Broker(rc, echo_stderr=False) as broker:
        pr = Producer({"bootstrap.servers": broker.bootstrap})
        for v in garbage:
            pr.produce(topic, value=v, partition=0)
        ck.check(pr.flush(30) == 0, "f: the probe messages are acknowledged by the broker")
        code, out, err = tail(rc, ["kafka.bootstrap.servers=%s" % broker.bootstrap], timeout=120)
        printed = out.splitlines()
        ck.check(printed == [good], "f: tail prints the one rowcast change and none of the %d foreign messages"
                 % (len(garbage) - 1), "stdout: %s" % short(out, 2000))
        named = [off for off in range(len(garbage) - 1) if "%s [0] offset %d:" % (topic, off) in err]
        ck.check(named == list(range(len(garbage) - 1)) and code == 2,
                 "f: each foreign message is reported on stderr naming topic, partition and offset; exit 2",
                 "status %s, reported offsets %s, stderr: %s" % (code, named, short(err, 3000)))
        del pr
    # a port nobody listens on (the broker above is gone): --exit-at-end must end, with an error
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    code, out, err = tail(rc, ["kafka.bootstrap.servers=127.0.0.1:%d" % port], timeout=120)
    ck.check(code not in (None, 0) and out == "" and "127.0.0.1:%d" % port in err and "did not answer" in err,
             "f: tail --exit-at-end against an unreachable broker exits non-zero with a clear error",
             "status %s, stderr: %s" % (code, short(err, 2000)))


def wait_for(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)
    return False


def check_registry_outage(ck, rc, tmp, type_files, type_lines, cols):
    store = os.path.join(tmp, "registry-store.json")
    errlog = os.path.join(tmp, "e-replay.stderr")
    with Broker(rc, echo_stderr=False) as broker, Collector(broker.bootstrap, r"^rowcast\.") as col:
        boot = "kafka.bootstrap.servers=%s" % broker.bootstrap
        with Standin(extra=["--store", store, "--exit-after-posts", "2"]) as reg:
            url = reg.url
            port = int(url.rsplit(":", 1)[1])
            args = [rc, "replay", "-o", "state.dir=%s" % os.path.join(tmp, "st-outage"), "-o", boot,
                    "-o", "schema_registry.url=%s" % url] + type_files
            with open(errlog, "wb") as ef:
                proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=ef)
            gone = wait_for(lambda: reg.proc.poll() is not None, 120)
            ck.check(gone, "e: the stand-in went away after two registrations, mid-run")

        def log():
            with open(errlog, "rb") as f:
                return f.read().decode("utf-8", "replace")
        said = wait_for(lambda: "schema registry %s unreachable" % url in log(), 60)
        ck.check(said and proc.poll() is None, "e: the serializer logs that the schema registry %s is unreachable, "
                 "and the replay waits for it" % url, short(log(), 3000))
        time.sleep(3)  # a few retries while it is away
        outage_start = time.monotonic()
        ck.check(proc.poll() is None and "restarting the group" not in log(),
                 "e: while the registry is away nothing exits or restarts", short(log(), 3000))
        with Standin(port=port, extra=["--store", store]) as reg2:
            try:
                code = proc.wait(240)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = None
            text = log()
            for line in text.splitlines():
                if "unreachable while registering" in line or "answers again" in line:
                    print("info  e: %s" % line.strip())
            ck.check(code == 0, "e: with the stand-in back on the same port the replay exits 0 (%s)" % code,
                     short(text, 3000))
            ck.check("answers again" in text, "e: the serializer says when the registry answers again",
                     short(text, 3000))
            waits = text.count("unreachable while registering")
            bound = 2 * (2 + int((time.monotonic() - outage_start + 3) / 10))  # 2 workers, every 10 s
            ck.check(1 <= waits <= bound, "e: the outage is logged at a bounded rate (%d lines, at most %d)"
                     % (waits, bound), short(text, 3000))
            msgs = wait_changes(col, "rowcast", len(type_lines))
            by_id = registry_schemas(reg2.url)
            d = decode_messages(msgs, "rowcast", "confluent", by_id)
            check_values(ck, "e after the outage", d, type_lines, cols)


def check_registry_refusal(ck, rc, tmp, type_files):
    with Standin(extra=["--reject"]) as reg, Broker(rc, echo_stderr=False) as broker:
        boot = "kafka.bootstrap.servers=%s" % broker.bootstrap
        code, out, err, secs = replay(rc, type_files, os.path.join(tmp, "st-reject"),
                                      [boot, "schema_registry.url=%s" % reg.url], timeout=120)
        for line in err.splitlines():
            if "refused subject" in line:
                print("info  e: %s" % line.strip())
                break
        ck.check(code == 2, "e: a registry that refuses the schema (409) makes the replay exit 2 (%s, in %.1f s)"
                 % (code, secs), short(err, 3000))
        ck.check("schema registry %s refused subject" % reg.url in err and "HTTP 409" in err,
                 "e: the error names the registry, the subject and its answer", short(err, 3000))
        ck.check("restarting the group" not in err, "e: a refused schema is not retried by restarts",
                 short(err, 3000))


if __name__ == "__main__":
    sys.exit(main())
