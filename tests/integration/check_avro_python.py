#!/usr/bin/python3
"""rowcast's Avro, read by another implementation: Debian's python3-avro (1.11).

Called by tests/unit/test_avro_row.c with --dir (datums, schemas and a manifest.jsonl it wrote)
and --golden (tests/golden). For every golden schema and every schema in the manifest:
  - python3-avro parses it;
  - the Parsing Canonical Form is recomputed here from the JSON, following the Avro
    specification, and must equal the one rowcast generated; its CRC-64-AVRO (computed here)
    must equal rowcast's fingerprint;
  - python3-avro's own canonical_form must agree with it (python3-avro 1.11 leaves primitive
    types that carry attributes as {"type":"long"}; those are normalized before comparing).
For every datum of the manifest:
  - python3-avro decodes it with its writer schema, consuming every byte;
  - the values, printed back with the field properties (rowcast.name, rowcast.sql_type,
    rowcast.fsp, ...), equal the canonical JSON rowcast printed for the same change;
  - it decodes again through a newer reader schema (a nullable column with default null added
    to the row or key record) under Avro's resolution rules: the new column reads as null and
    every other value is unchanged.
Exit status: 0 ok, 1 mismatch, 77 python3-avro is not installed.
"""
import argparse
import base64
import copy
import datetime
import decimal
import glob
import io
import json
import os
import struct
import sys
import warnings

try:
    import avro.io
    import avro.schema
except ImportError:
    print("check_avro_python: python3-avro is not installed (apt-get install python3-avro)")
    sys.exit(77)

warnings.simplefilter("ignore")  # python3-avro warns about logical types it does not know

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
ABSENT = "__rowcast_absent"
EMPTY = 0xC15D213AA4D7A795
_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (EMPTY & -(_fp & 1))
    _TABLE.append(_fp)


def crc64_avro(data: bytes) -> int:
    fp = EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


def canonical(s, ns="", seen=None):
    """Parsing Canonical Form, straight from the specification's rules."""
    if seen is None:
        seen = set()
    if isinstance(s, str):
        if s in PRIMITIVES:
            return json.dumps(s)
        return json.dumps(s if "." in s or not ns else ns + "." + s)
    if isinstance(s, list):
        return "[" + ",".join(canonical(x, ns, seen) for x in s) + "]"
    t = s["type"]
    if not isinstance(t, str):
        return canonical(t, ns, seen)
    if t in PRIMITIVES:
        return json.dumps(t)
    if t in ("record", "error", "enum", "fixed"):
        name = s["name"]
        if "." in name:
            full, ns2 = name, name.rsplit(".", 1)[0]
        else:
            ns2 = s.get("namespace", ns)
            full = ns2 + "." + name if ns2 else name
        seen.add(full)
        out = '{"name":' + json.dumps(full) + ',"type":' + json.dumps(t)
        if t in ("record", "error"):
            out += ',"fields":[' + ",".join(
                '{"name":' + json.dumps(f["name"]) + ',"type":' + canonical(f["type"], ns2, seen) + "}"
                for f in s["fields"]) + "]"
        elif t == "enum":
            out += ',"symbols":' + json.dumps(s["symbols"], separators=(",", ":"))
        else:
            out += ',"size":' + str(int(s["size"]))
        return out + "}"
    if t == "array":
        return '{"type":"array","items":' + canonical(s["items"], ns, seen) + "}"
    if t == "map":
        return '{"type":"map","values":' + canonical(s["values"], ns, seen) + "}"
    return json.dumps(t if "." in t or not ns else ns + "." + t)


def normalize_py_canonical(x):
    """python3-avro 1.11 prints primitives that carry attributes as {"type":"long"}."""
    if isinstance(x, dict):
        if set(x) == {"type"} and x["type"] in PRIMITIVES:
            return x["type"]
        return {k: normalize_py_canonical(v) for k, v in x.items()}
    if isinstance(x, list):
        return [normalize_py_canonical(v) for v in x]
    return x


FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL " + msg)


def check_schema(text, label, want_pcf=None, want_fp=None):
    obj = json.loads(text)
    try:
        parsed = avro.schema.parse(text)
    except Exception as e:  # noqa: BLE001 - report any parser refusal
        fail(f"{label}: python3-avro refuses the schema: {e}")
        return None
    pcf = canonical(obj)
    fp = crc64_avro(pcf.encode())
    if want_pcf is not None and pcf != want_pcf:
        fail(f"{label}: canonical form differs\n  python {pcf}\n  rowcast {want_pcf}")
    if want_fp is not None and fp != want_fp:
        fail(f"{label}: fingerprint {fp:016x}, rowcast {want_fp:016x}")
    py = normalize_py_canonical(json.loads(parsed.canonical_form))
    if py != json.loads(pcf):
        fail(f"{label}: python3-avro's canonical form differs\n  {parsed.canonical_form}\n  {pcf}")
    return parsed


# ---- values back to rowcast's canonical JSON -----------------------------------------------

def branch_of(field):
    t = field["type"]
    for b in t if isinstance(t, list) else [t]:
        if b != "null":
            return b
    return "null"


def frac(us, fsp):
    return "." + f"{us:06d}"[:fsp] if fsp > 0 else ""


def to_canon(field, v):
    sql = field.get("rowcast.sql_type", "")
    fsp = field.get("rowcast.fsp", 0)
    if isinstance(v, bool):
        return 1 if v else 0
    if sql == "DATE":
        return v.isoformat()
    if sql == "DATETIME":  # local-timestamp-micros: python3-avro 1.11 gives the long
        d = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=v)
        return d.strftime("%Y-%m-%d %H:%M:%S") + frac(d.microsecond, fsp)
    if sql == "TIMESTAMP":
        return v.strftime("%Y-%m-%dT%H:%M:%S") + frac(v.microsecond, fsp) + "Z"
    if sql == "TIME":
        a = abs(v)
        s, us = divmod(a, 1000000)
        return ("-" if v < 0 else "") + f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" + frac(us, fsp)
    if isinstance(v, decimal.Decimal):
        return int(v) if sql == "BIGINT" else "{:f}".format(v)
    if sql == "BIT":
        return int.from_bytes(v, "big")
    if sql in ("ENUM", "SET") and "rowcast.labels" not in field:
        return int(v)
    if sql == "JSON":
        return json.loads(v)
    if sql == "GEOMETRY":
        return {"srid": v["srid"], "wkb": base64.b64encode(v["wkb"]).decode()}
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    return v


def f32(x):
    return struct.pack("<f", x)


def same(field, got, want):
    sql = field.get("rowcast.sql_type", "")
    if sql == "FLOAT":
        return isinstance(want, (int, float)) and f32(got) == f32(want)
    if sql == "VECTOR":
        return isinstance(want, list) and len(got) == len(want) and all(f32(a) == f32(b) for a, b in zip(got, want))
    if isinstance(want, float) or isinstance(got, float):
        return float(got) == float(want) and type(got) is type(want) or got == want
    return got == want and type(got) is type(want)


def compare_row(fields, row, want, label):
    if row is None or want is None:
        if row is not want:
            fail(f"{label}: row {row!r}, want {want!r}")
        return
    absent = set(row.get(ABSENT, []))
    names = []
    for f in fields:
        if f["name"] == ABSENT:
            continue
        name = f["rowcast.name"]
        v = row[f["name"]]
        if v is None and name in absent:
            continue
        names.append(name)
        if name not in want:
            fail(f"{label}: column {name} decoded, not in the canonical JSON")
            continue
        got = None if v is None else to_canon(f, v)
        if not (got is None and want[name] is None) and (got is None or want[name] is None or not same(f, got, want[name])):
            fail(f"{label}: column {name}: {got!r}, want {want[name]!r}")
    if names != list(want):
        fail(f"{label}: columns {names}, want {list(want)}")


def row_fields(schema_obj):
    """The row record's fields of a value schema."""
    for f in schema_obj["fields"]:
        if f["name"] in ("before", "after"):
            for b in f["type"]:
                if isinstance(b, dict) and b.get("type") == "record":
                    return b
    raise ValueError("no row record")


def decode(writer, reader, data, label):
    buf = io.BytesIO(data)
    v = avro.io.DatumReader(writer, reader).read(avro.io.BinaryDecoder(buf))
    if buf.tell() != len(data):
        fail(f"{label}: {len(data) - buf.tell()} bytes left after the datum")
    return v


def check_value(obj, d, want, label):
    rec = row_fields(obj)
    src = d["source"]
    got = {"db": src["db"], "table": src["table"], "op": d["op"]}
    if got != {k: want[k] for k in ("db", "table", "op")}:
        fail(f"{label}: envelope {got}, want {want}")
    for side in ("before", "after"):
        compare_row(rec["fields"], d[side], want[side], f"{label} {side}")
    pos = {"file": src["file"], "offset": src["offset"], "row": src["row"]}
    if pos != want["pos"] or src["gtid"] != want["gtid"] or src["ts_ms"] // 1000 != want["ts"]:
        fail(f"{label}: source {src}, want {want['pos']} {want['gtid']} {want['ts']}")
    if not isinstance(d["ts_ms"], int):
        fail(f"{label}: ts_ms {d['ts_ms']!r}")


def evolved(obj, kind):
    """The writer schema with one nullable column added (default null): a newer reader."""
    new = copy.deepcopy(obj)
    rec = row_fields(new) if kind == "value" else new
    added = {"name": "added_later", "type": ["null", "string"], "default": None,
             "rowcast.name": "added_later", "rowcast.sql_type": "VARCHAR"}
    rec["fields"].insert(max(len(rec["fields"]) - 1, 0) if kind == "value" else len(rec["fields"]), added)
    return new


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--golden")
    a = ap.parse_args()
    n_golden = 0
    if a.golden:
        for path in sorted(glob.glob(os.path.join(a.golden, "avro_*.avsc"))):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            check_schema(text, os.path.basename(path))
            n_golden += 1
    parsed = {}
    n = 0
    with open(os.path.join(a.dir, "manifest.jsonl"), encoding="utf-8") as mf:
        for line in mf:
            m = json.loads(line)
            label = m["datum"]
            if m["schema"] not in parsed:
                with open(os.path.join(a.dir, m["schema"]), encoding="utf-8") as f:
                    text = f.read()
                with open(os.path.join(a.dir, m["pcf"]), encoding="utf-8") as f:
                    pcf = f.read()
                obj = json.loads(text)
                w = check_schema(text, m["schema"], pcf, int(m["fingerprint"], 16))
                r = avro.schema.parse(json.dumps(evolved(obj, m["kind"])))
                parsed[m["schema"]] = (obj, w, r)
            obj, w, r = parsed[m["schema"]]
            if w is None:
                continue
            with open(os.path.join(a.dir, m["datum"]), "rb") as f:
                data = f.read()
            want = json.loads(m["expect"])
            try:
                d = decode(w, w, data, label)
                d2 = decode(w, r, data, label + " (evolved reader)")
            except Exception as e:  # noqa: BLE001
                fail(f"{label}: python3-avro cannot decode it: {e!r}")
                continue
            if m["kind"] == "value":
                check_value(obj, d, want, label)
                for side in ("before", "after"):
                    if d2[side] is not None:
                        if d2[side].pop("added_later", "missing") is not None:
                            fail(f"{label}: the added column does not read as null")
                if d2 != d:
                    fail(f"{label}: the evolved reader reads other values")
            else:
                compare_row(obj["fields"], d, want, label)
                if d2.pop("added_later", "missing") is not None or d2 != d:
                    fail(f"{label}: the evolved key reader reads other values")
            n += 1
    print(f"check_avro_python: {n_golden} golden schemas, {len(parsed)} schemas, {n} datums checked, "
          f"{len(FAILURES)} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
