#!/usr/bin/python3
"""Filters (filter.include, filter.exclude, filter.exclude_columns, filter.mask_columns),
checked by consumers that are not rowcast.

Usage: test_filters.py --rowcast PATH [--keep]

A real MariaDB (started by the test, binlog_row_metadata=FULL) runs the type-coverage workload
of test_mariadb_types.py (every column type and edge value, row image FULL), plus a database
the include patterns leave out (rc_side), written alone and inside transactions with included
changes. The expected stream is derived here from the unfiltered `rowcast decode` output: the
tables kept by Python's own fnmatch, part by part; the excluded columns removed; each masked
value replaced by HMAC-SHA256 (Python's hmac module, with the key of the key file) of its text
(a JSON string's content, else its JSON text). Then:

  * `rowcast decode` with the filters (-o keys and long options) prints exactly that;
  * `rowcast replay` (Avro) into rowcast's broker, read by python3-confluent-kafka and decoded
    by python3-avro with the writer schemas of rowcast._schemas: only the kept tables have
    topics; the schemas have no excluded column, and each masked column is a nullable string
    marked rowcast.masked; every change equals the expected one (masked values included);
    the keys of t_int (its primary key is masked) are the masked ids; the reader reports the
    ROWS events it dropped;
  * `rowcast run` against the same server (from the earliest binlog) with the same filters:
    the same topics, schemas and values, and a drain on SIGTERM that exits 0;
  * bad filters are configuration errors (exit 2, the key named): an empty pattern, a column
    pattern without two dots, masking without a key file, excluding a primary-key column.

Prints PASS/FAIL per check and `N passed, M failed`; exit 0 iff M == 0; 77 (skip) when
python3-avro, python3-confluent-kafka or MariaDB is missing.
"""
import argparse
import collections
import copy
import decimal
import fnmatch
import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import test_avro as ta
    from kafka_tool import Broker, Collector
except ImportError as e:
    print("SKIP: %s (install python3-avro and python3-confluent-kafka)" % e)
    sys.exit(77)
from mariadb_sandbox import MariaDBSandbox, mariadb_missing  # noqa: E402
from pipeline_common import Checks  # noqa: E402
import test_mariadb_types as mt  # noqa: E402

DB = mt.DB
KEY = b"rowcast filter test key \x01\xfe"
INCLUDE = "rc_types.t_*"
EXCLUDE = "rc_types.t_geo, rc_types.t_n?pk"
EXCLUDE_COLUMNS = ("rc_types.t_str.vlong,rc_types.t_str.ch*,rc_types.t_num.d*9*,rc_types.t_time.tm?,"
                   "rc_types.t_bin.lb")
# t_str.ch10 is matched by both lists: exclusion wins
MASK_COLUMNS = ("rc_types.t_int.id,rc_types.t_str.vc,rc_types.t_str.l1,rc_types.t_str.u16,rc_types.t_str.ch10,"
                "rc_types.t_num.d65,rc_types.t_time.dt6,rc_types.t_time.y,rc_types.t_misc.e,rc_types.t_misc.s,"
                "rc_types.t_misc.b64,rc_types.t_bin.vb,rc_types.t_mdb.i?")
SIDE_SQL = """
CREATE DATABASE rc_side;
CREATE TABLE rc_side.noise (id INT PRIMARY KEY, v VARCHAR(20)) DEFAULT CHARSET=utf8mb4;
INSERT INTO rc_side.noise VALUES (1, 'alone'), (2, 'alone too');
BEGIN;
INSERT INTO rc_side.noise VALUES (3, 'mixed');
INSERT INTO rc_types.t_int (id, ti) VALUES (900, 9);
UPDATE rc_side.noise SET v = 'mixed, changed' WHERE id = 3;
COMMIT;
UPDATE rc_side.noise SET v = 'last' WHERE id = 1;
"""
USER, PASSWORD, SERVER_ID = "rowcast", "rowcast-pw", 4343


# ------------------------------------------------------------------------------- the expectation

def patterns(text, parts):
    out = []
    for p in text.split(","):
        p = p.strip()
        ps = p.split(".")
        assert len(ps) == parts, p
        out.append(ps)
    return out


def matches(pats, names):
    return any(all(fnmatch.fnmatchcase(n, p) for n, p in zip(names, ps)) for ps in pats)


INC, EXC = patterns(INCLUDE, 2), patterns(EXCLUDE, 2)
XCOL, MCOL = patterns(EXCLUDE_COLUMNS, 3), patterns(MASK_COLUMNS, 3)


def table_kept(db, table):
    return matches(INC, (db, table)) and not matches(EXC, (db, table))


def column_action(db, table, col):
    if matches(XCOL, (db, table, col)):
        return "exclude"
    if matches(MCOL, (db, table, col)):
        return "mask"
    return "keep"


def mask_text(v):
    """The text rowcast hashes: a JSON string's content, else the value's JSON text."""
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, bool) or isinstance(v, float) or isinstance(v, decimal.Decimal):
        raise ValueError("the test masks no %s value: %r" % (type(v).__name__, v))
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def mask(v):
    return None if v is None else hmac.new(KEY, mask_text(v), hashlib.sha256).hexdigest()


def expected_changes(lines):
    """decode's unfiltered lines -> the filtered changes, in order (dicts)."""
    out, masked = [], collections.Counter()
    for l in lines:
        ch = json.loads(l, parse_float=decimal.Decimal)
        if not table_kept(ch["db"], ch["table"]):
            continue
        ch = copy.deepcopy(ch)
        for side in ("before", "after"):
            img = ch.get(side)
            if not isinstance(img, dict):
                continue
            for c in list(img):
                a = column_action(ch["db"], ch["table"], c)
                if a == "exclude":
                    del img[c]
                elif a == "mask":
                    if img[c] is not None:
                        masked[(ch["table"], c)] += 1
                    img[c] = mask(img[c])
        out.append(ch)
    return out, masked


# ------------------------------------------------------------------------------- the workload

def make_workload(db):
    db.sql("CREATE DATABASE %s CHARACTER SET utf8mb4" % DB)
    db.sql(";\n".join(t.ddl() for t, _ in mt.TABLES) + ";", database=DB)
    db.flush_binlogs()
    ops = mt.build_scenario(0, 1)
    mt.run_ops(db, ops, "SET sql_mode=''; SET time_zone='+00:00'; SET binlog_row_image=FULL;")
    db.sql(SIDE_SQL)
    db.flush_binlogs()
    db.sql("CREATE USER '%s'@'%%' IDENTIFIED BY '%s'; GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* "
           "TO '%s'@'%%';" % (USER, PASSWORD, USER))


def filter_opts(key_file):
    return ["filter.include=" + INCLUDE, "filter.exclude=" + EXCLUDE, "filter.exclude_columns=" + EXCLUDE_COLUMNS,
            "filter.mask_columns=" + MASK_COLUMNS, "filter.mask_key_file=" + key_file]


def run_cmd(args, timeout=120):
    p = subprocess.run(args, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


# ------------------------------------------------------------------------------- the checks

def check_decode(ck, rc, files, key_file, expected):
    args = [rc, "decode"]
    for o in filter_opts(key_file)[:2]:
        args += ["-o", o]
    args += ["--exclude-columns=" + EXCLUDE_COLUMNS, "--mask-columns", MASK_COLUMNS, "--mask-key-file", key_file]
    code, out, err = run_cmd(args + files)
    got = [json.loads(l, parse_float=decimal.Decimal) for l in out.splitlines()]
    bad = [(i, g, e) for i, (g, e) in enumerate(zip(got, expected)) if g != e]
    ck.check(code == 0 and len(got) == len(expected) and not bad,
             "decode with the filters (-o and long options) prints the %d expected changes (tables kept, columns "
             "left out and masked, HMAC-SHA256 computed by Python)" % len(expected),
             "status %d, %d lines of %d; first differences %s; stderr %s"
             % (code, len(got), len(expected), ta.short(bad[:2], 1500), ta.short(err, 600)))
    code, out, _ = run_cmd([rc, "decode", "--help"])
    ck.check(code == 0 and all(w in out for w in ("--include", "--exclude", "--exclude-columns", "--mask-columns",
                                                  "--mask-key-file", "filter.")),
             "decode --help shows the filter options", ta.short(out, 800))


def check_errors(ck, rc, files, tmp, key_file):
    st = os.path.join(tmp, "st-bad")
    cases = [
        ("an empty pattern", [rc, "decode", "-o", "filter.include=rc_types.t_int,,x.y"] + files[:1],
         ["filter.include", "empty pattern"]),
        ("a column pattern without two dots", [rc, "replay", "-o", "state.dir=" + st, "-o",
                                               "filter.exclude_columns=rc_types.t_int"] + files,
         ["filter.exclude_columns", "DB.TABLE.COLUMN"]),
        ("masking without a key file", [rc, "replay", "-o", "state.dir=" + st, "-o",
                                        "filter.mask_columns=rc_types.t_int.ti"] + files,
         ["filter.mask_key_file"]),
        ("a key file that does not exist", [rc, "decode", "--mask-columns=*.*.x", "--mask-key-file",
                                            os.path.join(tmp, "no-such-key")] + files[:1], ["no-such-key"]),
        ("excluding a primary-key column (replay)", [rc, "replay", "-o", "state.dir=" + st, "-o",
                                                     "filter.exclude_columns=rc_types.t_int.id"] + files,
         ["primary key", "t_int", "id"]),
        ("excluding a primary-key column (decode)", [rc, "decode", "--exclude-columns=rc_types.t_int.id"] + files,
         ["primary key", "t_int", "id"]),
    ]
    for what, args, words in cases:
        shutil.rmtree(st, ignore_errors=True)
        code, out, err = run_cmd(args)
        ck.check(code == 2 and all(w in err for w in words), "%s is a configuration error: exit 2, the message "
                 "names %s" % (what, ", ".join(words)), "status %d, stderr %s" % (code, ta.short(err, 800)))


def topic_of(ch):
    return "rowcast.%s.%s" % (ch["db"], ch["table"])


def check_stream(ck, label, msgs, expected, masked, cols):
    """Topics, schemas, values and keys of one run's messages against the expectation."""
    schema_topic = "rowcast" + ta.SCHEMA_SUFFIX
    changes = [m for m in msgs if m.topic != schema_topic]
    want_topics = {topic_of(ch) for ch in expected}
    got_topics = {m.topic for m in changes}
    ck.check(got_topics == want_topics, "%s: topics exist for the kept tables only (%d: %s)"
             % (label, len(want_topics), ", ".join(sorted(t.split(".")[-1] for t in want_topics))),
             "unexpected %s, missing %s" % (sorted(got_topics - want_topics), sorted(want_topics - got_topics)))
    writers = ta.schemas_from_topic(ck, label, msgs, schema_topic)
    d = ta.decode_messages(msgs, "rowcast", "single", writers.get)
    # the schemas: no excluded column, each masked column a nullable string marked as such
    problems, nmasked, nschemas = [], 0, 0
    for w in {id(w): w for (_c, _m, w, _r) in d.changes.values()}.values():
        nschemas += 1
        rf = ta.row_fields(w.json)
        db, table = w.json.get("rowcast.db"), w.json.get("rowcast.table")
        for f in rf:
            if f["name"] == ta.ABSENT:
                continue
            col = ta.column_name(f)
            a = column_action(db, table, col)
            if a == "exclude":
                problems.append("%s.%s: excluded column %s is in the value schema" % (db, table, col))
            elif a == "mask":
                nmasked += 1
                if f["type"] != ["null", "string"] or f.get("rowcast.masked") != "hmac-sha256":
                    problems.append("%s.%s: masked column %s: type %s, rowcast.masked %r"
                                    % (db, table, col, f["type"], f.get("rowcast.masked")))
            elif f.get("rowcast.masked"):
                problems.append("%s.%s: column %s is marked masked" % (db, table, col))
        names = {ta.column_name(f) for f in rf}
        for c in ("vlong", "ch10", "ch255", "lb", "d189", "d99", "tm0") if table in ("t_str", "t_bin", "t_num",
                                                                                      "t_time") else ():
            if c in names:
                problems.append("%s.%s: %s should be absent" % (db, table, c))
    ck.check(nschemas and nmasked and not problems, "%s: the %d value schemas have no excluded column and %d masked "
             "columns, each [\"null\",\"string\"] with rowcast.masked" % (label, nschemas, nmasked),
             ta.details(problems))
    # the values, change by change
    exp = {ta.pos_of(ch): ch for ch in expected}
    missing = [p for p in exp if p not in d.changes]
    extra = [p for p in d.changes if p not in exp]
    ck.check(not missing and not extra and not d.problems["dup"] and not d.problems["decode"],
             "%s: one message per kept change (%d of %d), python3-avro decodes each" % (label, len(d.changes), len(exp)),
             "missing %s; unexpected %s; %s" % (missing[:3], extra[:3], ta.details(d.problems["decode"] + d.problems["dup"])))
    problems, lossy = [], []
    for p, e in exp.items():
        if p in d.changes:
            problems += ta.compare_change(cols, e, d.changes[p][0], lossy)
    ck.check(d.changes and not problems, "%s: every value equals the expected change, the %d masked values equal "
             "Python's HMAC-SHA256 of their text" % (label, sum(masked.values())), ta.details(problems))
    # keys: t_int's primary key is masked, in the key too
    problems, n = [], 0
    for m, ch, kw, kv, kref in d.keys:
        if ch["table"] != "t_int":
            continue
        n += 1
        img = ch["before"] if ch["op"] in ("u", "d") else ch["after"]
        f = [f for f in kw.json["fields"] if ta.column_name(f) == "id"] if kw else []
        if not f or f[0]["type"] != ["null", "string"] or not kv or kv.get("id") != img.get("id") or \
                len(kv.get("id") or "") != 64:
            problems.append("%s @%d: key %s (schema %s), image id %s" % (m.topic, m.offset, kv, f, img.get("id")))
    ck.check(n and not problems and not d.problems["key"], "%s: the %d keys of t_int hold its masked id "
             "(a string field in the key schema), the value's id" % (label, n), ta.details(problems + d.problems["key"]))


def wait_changes(col, want, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for m in col.messages if m.topic != "rowcast" + ta.SCHEMA_SUFFIX) >= want:
            break
        time.sleep(0.1)
    col.wait(idle=1.0, timeout=30)
    return col.messages


def check_replay(ck, rc, files, tmp, key_file, expected, masked, cols):
    with Broker(rc, echo_stderr=False) as broker, Collector(broker.bootstrap, r"^rowcast\.") as col:
        opts = ["kafka.bootstrap.servers=" + broker.bootstrap] + filter_opts(key_file)
        code, out, err, secs = ta.replay(rc, files, os.path.join(tmp, "st-replay"), opts)
        ck.check(code == 0, "replay with the filters exits 0 in %.1f s" % secs, ta.short(err, 3000))
        dropped = [l for l in err.splitlines() if "ROWS events of filtered tables dropped" in l]
        n = int(dropped[-1].split("; ")[-1].split()[0]) if dropped else 0
        ck.check(n > 0, "the reader dropped the ROWS events of the filtered tables unread (%d)" % n,
                 ta.short(dropped, 400))
        # the last transaction of the files changes only a filtered table: the checkpoint must
        # still move past it (its end, the end of the last XID)
        code2, ev_out, _ = run_cmd([rc, "decode", "--events", files[-1]])
        xids = [json.loads(l) for l in ev_out.splitlines() if json.loads(l)["type_code"] == 16]
        want_cp = "%s:%d" % (os.path.basename(files[-1]), xids[-1]["offset"] + xids[-1]["size"]) if xids else "?"
        got_cp = out.split("; checkpoint ")[-1].split()[0] if "; checkpoint " in out else None
        ck.check(got_cp == want_cp, "the checkpoint is past the last transaction, whose changes are all filtered "
                 "(%s)" % want_cp, "summary says %s; %s" % (got_cp, ta.short(out, 600)))
        msgs = wait_changes(col, len(expected))
        check_stream(ck, "replay", msgs, expected, masked, cols)
    # the JSON format: the same columns left out and masked, in the value and in the key
    with Broker(rc, echo_stderr=False) as broker, Collector(broker.bootstrap, r"^rowcast\.") as col:
        opts = ["kafka.bootstrap.servers=" + broker.bootstrap, "serializer.format=json"] + filter_opts(key_file)
        code, out, err, secs = ta.replay(rc, files, os.path.join(tmp, "st-json"), opts)
        ck.check(code == 0, "replay with the filters, serializer.format=json, exits 0", ta.short(err, 3000))
        msgs = wait_changes(col, len(expected))
        exp = {ta.pos_of(ch): ch for ch in expected}
        got, problems = {}, []
        for m in msgs:
            ch = json.loads(m.value, parse_float=decimal.Decimal)
            got[ta.pos_of(ch)] = ch
            if ch["table"] == "t_int":
                img = ch["before"] if ch["op"] in ("u", "d") else ch["after"]
                if json.loads(m.key) != {"id": img["id"]} or len(img["id"] or "") != 64:
                    problems.append("key %r, image id %r" % (m.key, img.get("id")))
        problems += ["%s: got %s, want %s" % (p, ta.short(got.get(p), 300), ta.short(e, 300))
                     for p, e in exp.items() if got.get(p) != e]
        ck.check(len(got) == len(exp) and not problems, "replay in JSON: the %d values equal the expected changes "
                 "and t_int's keys hold the masked id" % len(got), ta.details(problems))


def check_run(ck, rc, db, tmp, key_file, expected, masked, cols):
    with Broker(rc, echo_stderr=False) as broker, Collector(broker.bootstrap, r"^rowcast\.") as col:
        state = os.path.join(tmp, "st-run")
        opts = ["state.dir=" + state, "source.host=127.0.0.1", "source.port=%d" % db.port, "source.user=" + USER,
                "source.password=" + PASSWORD, "source.start=earliest", "source.server_id=%d" % SERVER_ID,
                "snapshot.mode=never",  # the stream alone (a snapshot would send the rows again as r)
                "kafka.bootstrap.servers=" + broker.bootstrap] + filter_opts(key_file)
        args = [rc, "run"]
        for o in opts:
            args += ["-o", o]
        with open(state + ".err", "wb") as errf:
            p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=errf, stdin=subprocess.DEVNULL)
            try:
                msgs = wait_changes(col, len(expected), timeout=90)
            finally:
                p.send_signal(signal.SIGTERM)
                try:
                    code = p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    code = p.wait()
        err = open(state + ".err", encoding="utf-8", errors="replace").read()
        ck.check(code == 0, "run with the filters drains and exits 0 on SIGTERM", ta.short(err, 3000))
        check_stream(ck, "run", msgs, expected, masked, cols)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    rc = os.path.abspath(a.rowcast)
    missing = mariadb_missing()
    if missing:
        print("SKIP: " + missing)
        return 77
    ck = Checks()
    tmp = tempfile.mkdtemp(prefix="rowcast-filters-")
    try:
        t0 = time.monotonic()
        key_file = os.path.join(tmp, "mask.key")
        with open(key_file, "wb") as f:
            f.write(KEY + b"\n")  # the trailing newline is not part of the key
        os.chmod(key_file, 0o600)
        with MariaDBSandbox(extra_args=["--sql-mode=", "--default-time-zone=+00:00", "--binlog-row-metadata=FULL",
                                        "--max-allowed-packet=64M"]) as db:
            make_workload(db)
            os.makedirs(os.path.join(tmp, "binlogs"))
            files = ta.copy_files(db.binlog_files()[:-1], os.path.join(tmp, "binlogs"))
            lines = ta.decode_lines(rc, files)
            expected, masked = expected_changes(lines)
            tables = {ch["table"] for ch in expected}
            print("info  workload in %.1f s: %d changes, %d kept (tables %s), %d values masked"
                  % (time.monotonic() - t0, len(lines), len(expected), ", ".join(sorted(tables)), sum(masked.values())))
            ck.check(len(expected) < len(lines) and {"t_geo", "t_nopk", "noise"}.isdisjoint(tables) and
                     len(masked) >= 10, "the workload has changes the filters drop, and masked values of %d columns"
                     % len(masked))
            cols = ta.Cols(ta.type_tables())
            for (t, c) in masked:
                cols.kind[(t, c)] = "masked"
            check_decode(ck, rc, files, key_file, expected)
            check_errors(ck, rc, files, tmp, key_file)
            check_replay(ck, rc, files, tmp, key_file, expected, masked, cols)
            check_run(ck, rc, db, tmp, key_file, expected, masked, cols)
        print("info  %.1f s in all" % (time.monotonic() - t0))
    except Exception:
        import traceback
        ck.check(False, "test harness ran to completion", traceback.format_exc())
    finally:
        if a.keep:
            print("info  kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())
