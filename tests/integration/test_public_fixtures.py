#!/usr/bin/env python3
"""Decode every public binlog fixture (../shared/fixtures/public-binlogs) with `rowcast decode`.

Checks, per file listed in INDEX.tsv: the per-type event counts of `rowcast decode --events`
equal the index (events inside a TRANSACTION_PAYLOAD are not counted there); the row decode
exits 0 with well-formed change lines; the corrupt file is refused with exit status 2. Then the
known values of the fixtures' README. Skips (exit 77) when the fixtures folder is absent, as in
a user's clone.
"""
import argparse
import base64
import collections
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FIXTURES = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "fixtures", "public-binlogs"))

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def run(rowcast, args):
    p = subprocess.run([rowcast, "decode"] + args, capture_output=True)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


def changes(rowcast, path):
    rc, out, err = run(rowcast, [path])
    check(rc == 0, f"{path}: decode exits 0 (got {rc}: {err.strip()[-300:]})")
    lines = [json.loads(l) for l in out.splitlines()]
    for ch in lines:
        ok = (set(ch) == {"db", "table", "op", "before", "after", "pos", "gtid", "ts"}
              and ch["op"] in ("c", "u", "d")
              and (ch["before"] is None) == (ch["op"] == "c")
              and (ch["after"] is None) == (ch["op"] == "d")
              and set(ch["pos"]) == {"file", "offset", "row"})
        if not ok:
            check(False, f"{path}: malformed change line {ch}")
            break
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--fixtures", default=os.environ.get("ROWCAST_FIXTURES", DEFAULT_FIXTURES))
    a = ap.parse_args()
    index = os.path.join(a.fixtures, "INDEX.tsv")
    if not os.path.exists(index):
        print(f"SKIP: no public binlog fixtures at {a.fixtures} (they live in the developers' shared/ folder)")
        return 77

    with open(index) as f:
        rows = [l.rstrip("\n").split("\t") for l in f][1:]
    for row in rows:
        rel, version, checksum, nevents, hist = row[:5]
        path = os.path.join(a.fixtures, rel)
        if not os.path.exists(path):
            print(f"note: {rel} is listed in INDEX.tsv but not present; not checked")
            continue
        if nevents == "-":
            rc, out, err = run(a.rowcast, [path])
            check(rc == 2 and out == "" and "not a binlog" in err and rel in err,
                  f"{rel}: refused with status 2 and a message naming it (got {rc}, {err.strip()!r})")
            rc, out, err = run(a.rowcast, ["--events", path])
            check(rc == 2 and out == "", f"{rel}: --events refuses it too (got {rc})")
            continue
        rc, out, err = run(a.rowcast, ["--events", path])
        check(rc == 0, f"{rel}: --events exits 0 (got {rc}: {err.strip()[-300:]})")
        evs = [json.loads(l) for l in out.splitlines()]
        outer = [e for e in evs if not e.get("in_payload")]
        got = collections.Counter(e["type_code"] for e in outer)
        want = collections.Counter({int(k): int(v) for k, v in (p.split(":") for p in hist.split())})
        check(got == want, f"{rel}: event types {dict(sorted(got.items()))} != index {dict(sorted(want.items()))}")
        check(len(outer) == int(nevents), f"{rel}: {len(outer)} events, index says {nevents}")
        offs = [e["offset"] for e in outer]
        check(offs == sorted(offs) and (not offs or offs[0] == 4), f"{rel}: event offsets start at 4 and increase")
        if any(e["type_code"] == 100 for e in outer):
            check("type 100" in err, f"{rel}: the skipped unknown event type is reported on stderr")
        changes(a.rowcast, path)

    def fx(rel):
        p = os.path.join(a.fixtures, rel)
        return p if os.path.exists(p) else None

    # Known values (fixtures README): DECIMAL rows 1 and 10.
    p = fx("go-mysql/tcb-eval002c-bin.003320")
    if p:
        ch = changes(a.rowcast, p)
        check(len(ch) == 17, f"tcb-eval002c: 17 rows (got {len(ch)})")
        want1 = "-10.55, -11, -10.550, -10.55, -10.550, -10.55, -9.99999999999999, -10.5500000000, -10.55000, -10.55000000000000000000, -10.5500000000000000000000000".split(", ")
        want10 = "0.00, 0, 0.000, 0.00, 0.000, 0.00, -0.00000001234500, -0.0000000123, 0.00000, -0.00000001234500009877, -0.0000000123450000987650000".split(", ")
        for n, want in ((0, want1), (9, want10)):
            got = [ch[n]["after"][f"@{i}"] for i in range(2, 13)]
            check(got == want, f"tcb-eval002c row {n + 1}: {got} != {want}")
        check(all(c["pos"]["row"] == i for i, c in enumerate(ch)), "tcb-eval002c: row indexes 0..16 in one event")

    # JSON partial update: REPLACE $.age with 26.
    p = fx("rust_mysql_common/json.binlog.000001")
    if p:
        ch = changes(a.rowcast, p)
        diffs = [c for c in ch if c["op"] == "u" and any(isinstance(v, dict) and "json_diff" in v for v in c["after"].values())]
        check(len(diffs) == 6 and len({c["pos"]["offset"] for c in diffs}) == 1,
              f"json.binlog: one PARTIAL_UPDATE_ROWS event of 6 rows (got {len(diffs)})")
        if diffs:
            d = [v for v in diffs[0]["after"].values() if isinstance(v, dict) and "json_diff" in v][0]
            check(d == {"json_diff": [{"op": "replace", "path": "$.age", "value": 26}]}, f"json.binlog: diff is {d}")
        docs = [c["after"]["@2"] for c in ch if c["op"] == "c"]
        check({"age": 24, "data": "xxxxxxxxxx", "name": "Joe"} in docs, "json.binlog: binary JSON object decoded")

    # Long CHAR: CHAR(128) utf8mb4 holds up to 512 bytes, so values over 255 bytes use a 2-byte length.
    p = fx("rust_mysql_common/mysql-enum-string-set.000001")
    if p:
        ch = changes(a.rowcast, p)
        check([c["op"] for c in ch] == ["c", "u", "d"], "enum-string-set: insert, update, delete")
        if ch:
            f2 = ch[0]["after"]["f2"]
            check(isinstance(f2, str) and len(f2.encode()) > 255, "enum-string-set: long CHAR value over 255 bytes decoded")
            check(ch[0]["after"]["f3"] == "var1" and ch[0]["after"]["f4"] == "one,three", "enum-string-set: ENUM and SET labels")
            check(ch[1]["after"]["f4"] == "two,four", "enum-string-set: SET after update")

    # MariaDB GTIDs and FULL metadata names.
    p = fx("rust_mysql_common/mariadb-bin.000001")
    if p:
        ch = changes(a.rowcast, p)
        check([c["gtid"] for c in ch] == ["0-1-1", "0-1-2"], f"mariadb-bin: GTIDs {[c['gtid'] for c in ch]}")
        if ch:
            after = ch[0]["after"]
            check(after["id"] == 62 and after["topic"] == "foo" and base64.b64decode(after["event"]) == b'{"foo":1}',
                  f"mariadb-bin: first row {after}")
            check(after["created"] == "2022-04-20T22:18:04Z", f"mariadb-bin: TIMESTAMP in UTC ({after['created']})")

    # MINIMAL metadata: no names, keyed @N.
    p = fx("rust_mysql_common/minimal_row_metadata.000001")
    if p:
        ch = changes(a.rowcast, p)
        check(len(ch) == 1 and all(k.startswith("@") for k in ch[0]["after"]), "minimal metadata: columns keyed @N")
        rc, out, err = run(a.rowcast, [p])
        check("binlog_row_metadata=FULL" in err, "minimal metadata: a warning says how to get names")

    # Several files in one call continue across files.
    p1, p2 = fx("canal/mysql-bin.000002"), fx("canal/mysql-bin.000003")
    if p1 and p2:
        rc, out, err = run(a.rowcast, [p1, p2])
        lines = [json.loads(l) for l in out.splitlines()]
        n1 = len(changes(a.rowcast, p1))
        n2 = len(changes(a.rowcast, p2))
        check(rc == 0 and len(lines) == n1 + n2, f"two files in one call: {len(lines)} changes, {n1}+{n2} expected")
        check([l["pos"]["file"] for l in lines] == ["mysql-bin.000002"] * n1 + ["mysql-bin.000003"] * n2,
              "two files: positions name each file in order")

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
