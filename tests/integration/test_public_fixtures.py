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
import struct
import sys
import tempfile
import zlib

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


def binlog_events(data):
    """(offset, raw event) of every event of a binlog file, framed by its size field alone."""
    off, out = 4, []
    while off + 19 <= len(data):
        size = struct.unpack_from("<I", data, off + 9)[0]
        out.append((off, data[off:off + size]))
        off += size
    return out


def uuid_text(b):
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def varlen(v):
    """MySQL's serialization library integer (libs/mysql/serialization): n bytes hold the value
    shifted left by n with n-1 low one bits; 0xFF and 8 bytes past 56 bits."""
    for n in range(1, 9):
        if v < 1 << (7 * n):
            return ((v << n) | ((1 << (n - 1)) - 1)).to_bytes(n, "little")
    return b"\xff" + v.to_bytes(8, "little")


def tagged_gtid_body(sid, gno, tag, last_committed, seq, imm_ts):
    """A GTID_TAGGED_LOG_EVENT body (MySQL 8.4): version 1, message size, last non-ignorable
    field, then fields 0 flags, 1 uuid, 2 gno, 3 tag, 4 last_committed, 5 sequence_number,
    6 immediate_commit_timestamp (signed values zigzag-encoded)."""
    zz = lambda v: v << 1 if v >= 0 else ((-(v + 1)) << 1) | 1
    f = varlen(0) + varlen(1) + varlen(1) + b"".join(varlen(x) for x in sid)
    f += varlen(2) + varlen(zz(gno)) + varlen(3) + varlen(len(tag)) + tag.encode()
    f += varlen(4) + varlen(zz(last_committed)) + varlen(5) + varlen(zz(seq)) + varlen(6) + varlen(imm_ts)
    for k in range(1, 10):
        size = 1 + k + 1 + len(f)
        if len(varlen(size)) == k:
            break
    return b"\x01" + varlen(size) + varlen(5) + f


def retag(data, tag):
    """The file with every GTID_LOG_EVENT rewritten as a GTID_TAGGED_LOG_EVENT carrying `tag`
    (sizes, log positions and CRC32s recomputed), and the GTID text MySQL prints for each."""
    out, gtids = bytearray(data[:4]), []
    for off, ev in binlog_events(data):
        typ, body = ev[4], ev[19:-4]
        if typ == 33:
            sid, gno = body[1:17], struct.unpack_from("<q", body, 17)[0]
            lc, seq = struct.unpack_from("<qq", body, 26)
            imm = int.from_bytes(body[42:49], "little") & ~(1 << 55)
            body = tagged_gtid_body(sid, gno, tag, lc, seq, imm)
            typ = 42
            gtids.append(f"{uuid_text(sid)}:{tag}:{gno}")
        if ev[4] == 15:
            out += ev
            continue
        size = 19 + len(body) + 4
        head = ev[:4] + bytes([typ]) + ev[5:9] + struct.pack("<II", size, len(out) + size) + ev[17:19]
        e = head + body
        out += e + struct.pack("<I", zlib.crc32(e))
    return bytes(out), gtids


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

    # GTIDs in change lines: each change carries the GTID of the GTID_LOG_EVENT that opened its
    # transaction (uuid:gno, parsed here from the event bytes); rewritten as MySQL 8.4 tagged
    # GTIDs, the same changes carry "uuid:tag:gno" exactly as the server prints it.
    p = fx("rust_mysql_common/mysql-enum-string-set.000001")
    if p:
        data = open(p, "rb").read()
        opened, cur = {}, None
        for off, ev in binlog_events(data):
            if ev[4] == 33:
                cur = f"{uuid_text(ev[20:36])}:{struct.unpack_from('<q', ev, 36)[0]}"
            opened[off] = cur
        ch = changes(a.rowcast, p)
        want = [opened[c["pos"]["offset"]] for c in ch]
        check(ch and all(want) and [c["gtid"] for c in ch] == want,
              f"enum-string-set: GTIDs {[c['gtid'] for c in ch]} != {want}")
        tagged, tags = retag(data, "blue_2")
        with tempfile.TemporaryDirectory() as tmp:
            tp = os.path.join(tmp, "mysql-bin.000001")
            open(tp, "wb").write(tagged)
            rc, out, err = run(a.rowcast, ["--events", tp])
            evs = [json.loads(l) for l in out.splitlines()]
            got_ev = [e["info"]["gtid"] for e in evs if e["type_code"] == 42]
            check(rc == 0 and got_ev == tags, f"tagged: --events shows {got_ev}, expected {tags} ({err.strip()[-200:]})")
            cht = changes(a.rowcast, tp)
            gt = [c["gtid"] for c in cht]
            want_t = [w.rsplit(":", 1)[0] + ":blue_2:" + w.rsplit(":", 1)[1] for w in want]
            check(len(cht) == len(ch) and gt == want_t and all(g in tags for g in gt),
                  f"tagged: change lines carry {gt}, expected {want_t}")

    # A file whose first event is not a FORMAT_DESCRIPTION (here: removed) is refused the same
    # way by decode and by replay: exit 2, naming the file and offset 4; nothing printed or sent.
    p = fx("rust_mysql_common/mysql_type_bit.000001")
    if p:
        data = open(p, "rb").read()
        fde_len = struct.unpack_from("<I", data, 13)[0]
        with tempfile.TemporaryDirectory() as tmp:
            nofde = os.path.join(tmp, "mysql-bin.000009")
            open(nofde, "wb").write(data[:4] + data[4 + fde_len:])
            for args in ([nofde], ["--events", nofde]):
                rc, out, err = run(a.rowcast, args)
                check(rc == 2 and out == "" and "mysql-bin.000009" in err and "offset 4" in err
                      and "not a FORMAT_DESCRIPTION" in err, f"no FDE: decode {args[:-1]} refuses it ({rc}, {err.strip()!r})")
            pr = subprocess.run([a.rowcast, "replay", "-o", "state.dir=" + os.path.join(tmp, "state"), nofde],
                                capture_output=True, timeout=120)
            err = pr.stderr.decode("utf-8", "replace")
            check(pr.returncode == 2 and "mysql-bin.000009" in err and "offset 4" in err
                  and "not a FORMAT_DESCRIPTION" in err and "replayed" not in pr.stdout.decode(),
                  f"no FDE: replay refuses it the same way ({pr.returncode}, {err.strip()[-400:]!r})")
            # one corrupted byte of the FORMAT_DESCRIPTION never switches CRC32 checks off: the
            # checksum-algorithm byte, the type code, the first character of the server version
            for name, at, val in (("algorithm byte", 4 + fde_len - 5, 0), ("type code", 4 + 4, 0x10),
                                  ("server version", 4 + 19 + 2, ord("x"))):
                bad = bytearray(data)
                bad[at] = val
                bp = os.path.join(tmp, "mysql-bin.000010")
                open(bp, "wb").write(bytes(bad))
                rc, out, err = run(a.rowcast, [bp])
                check(rc == 2 and out == "" and "mysql-bin.000010" in err and "offset 4" in err,
                      f"FDE {name} corrupted: refused at offset 4 ({rc}, {err.strip()!r})")

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
