#!/usr/bin/env python3
"""Tombstones (publisher.tombstones) and transaction boundaries (publisher.transactions_topic),
read by an independent consumer (python3-confluent-kafka, Avro decoded by python3-avro).

A throwaway MariaDB (binlog_row_metadata=FULL, so tables have keys) runs a workload of
multi-table transactions with inserts, updates and deletes, autocommit statements, a rolled
back transaction, a DDL and a table without a primary key; its binlog files are replayed into a
broker the test starts (`rowcast broker`), in Avro and in JSON, with both features on. Checked:

- a compacted-topic fold of each keyed table's topic (last message per key wins, a null value
  removes the key) equals the table's final contents as the server renders them (SELECT);
- every delete of a keyed table is followed, in its partition, by exactly one tombstone with its
  key and its position in headers; the keyless table gets none;
- one BEGIN and one END per transaction that changed rows (by GTID, from `rowcast decode`),
  BEGIN before END in their partition; END's event_count and per-table counts match the changes;
  each change's transaction id and order (1-based, in the transaction and in its table) match;
- the transaction schemas' fingerprints are the CRC-64-AVRO of python3-avro's canonical form;
- the same replay again without its checkpoint (as after a crash before the first one), the
  last message of some partitions being tombstones and of the transaction topic's a BEGIN or
  END: the recovery reads their positions (headers, values) and nothing is sent twice;
- a MySQL 8.0 compressed transaction (the public fixture transaction_compression.000001, when
  ../shared/fixtures is there): its END and its checkpoint come after the TRANSACTION_PAYLOAD,
  whose inner rows share its offset.

(With the features off, the default, messages are as before: the other pipeline tests compare
every value with `rowcast decode`'s line and the schemas with the golden files.)

Usage: test_txn_tombstones.py --rowcast PATH
"""
import argparse
import collections
import io
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mariadb_sandbox import MariaDBSandbox  # noqa: E402
from pipeline_common import run_driver, skip_if_missing  # noqa: E402

with skip_if_missing():
    from kafka_tool import Broker, Collector  # noqa: E402
    import avro.io  # noqa: E402
    import avro.schema  # noqa: E402

RUNNING = []
FIXTURE = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "fixtures", "public-binlogs",
                                        "rust_mysql_common", "transaction_compression.000001"))


def consume(bootstrap, regex, count):
    """Every message of the matching topics: at least `count`, then until 0.5 s quiet."""
    with Collector(bootstrap, regex) as col:
        col.wait(count=count, idle=10.0, timeout=60)
        col.wait(idle=0.5, timeout=10)
        return col.messages

SCHEMA = """
CREATE DATABASE shop;
USE shop;
CREATE TABLE accounts (id INT PRIMARY KEY, owner VARCHAR(40), balance DECIMAL(10,2));
CREATE TABLE items (sku VARCHAR(20), store INT, qty INT, PRIMARY KEY (sku, store));
CREATE TABLE notes (txt VARCHAR(60), n INT);
"""


def workload(rounds):
    s = []
    for r in range(rounds):
        a = r * 3
        s.append("BEGIN;")
        s.append(f"INSERT INTO accounts VALUES ({a}, 'owner {a}', {a}.25), ({a + 1}, 'owner {a + 1}', 1.50), "
                 f"({a + 2}, 'o', 0.00);")
        s.append(f"INSERT INTO items VALUES ('k{r}', 1, {r}), ('k{r}', 2, {r * 2});")
        s.append(f"UPDATE accounts SET balance = balance + 10, owner = 'rich {a}' WHERE id = {a};")
        if r >= 2:
            s.append(f"DELETE FROM accounts WHERE id = {a - 5};")
            s.append(f"DELETE FROM items WHERE sku = 'k{r - 2}' AND store = 2;")
        s.append(f"INSERT INTO notes (txt, n) VALUES ('round {r}', {r});")
        s.append("COMMIT;")
        if r % 7 == 3:  # autocommit statements, several rows in one event
            s.append(f"UPDATE accounts SET balance = balance + 1 WHERE id % 4 = 0 AND id < {a};")
            s.append(f"DELETE FROM items WHERE store = 1 AND qty < {r - 3};")
            s.append(f"DELETE FROM notes WHERE n < {r - 5};")  # keyless: no tombstone
        if r % 9 == 4:  # a deleted key comes back
            s.append(f"INSERT INTO accounts VALUES ({a - 5}, 'back', 9.99);")
        if r == rounds // 2:
            s.append("BEGIN; INSERT INTO accounts VALUES (100000, 'never', 1); ROLLBACK;")
            s.append("ALTER TABLE notes ADD COLUMN extra INT;")
            s.append("FLUSH BINARY LOGS;")
        if r % 11 == 6:  # a transaction of the keyless table alone
            s.append(f"BEGIN; INSERT INTO notes (txt, n) VALUES ('alone {r}', {r}); COMMIT;")
    # the last messages of some partitions are tombstones (the recovery reads those back)
    s.append("DELETE FROM accounts WHERE id IN (0, 2, 3, 6, 8);")
    s.append("DELETE FROM items WHERE store = 1 ORDER BY sku DESC LIMIT 3;")
    return "\n".join(s)


# ---------------------------------------------------------------------------- decoding

EMPTY = 0xC15D213AA4D7A795
TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (EMPTY & -(_fp & 1))
    TABLE.append(_fp)


def crc64(data):
    fp = EMPTY
    for c in data:
        fp = (fp >> 8) ^ TABLE[(fp ^ c) & 0xFF]
    return fp


class Decoder:
    def __init__(self, fmt, msgs, prefix):
        self.fmt = fmt
        self.schemas = {}
        self.texts = {}
        for m in msgs:
            if m.topic == prefix + "._schemas" and m.value:
                fp = int(m.key.decode(), 16)
                self.texts[fp] = m.value.decode()
                self.schemas[fp] = avro.schema.parse(m.value.decode())

    def decode(self, b):
        if b is None:
            return None
        if self.fmt == "json":
            return json.loads(b)
        assert b[:2] == b"\xc3\x01", b[:10]
        fp = int.from_bytes(b[2:10], "little")
        return avro.io.DatumReader(self.schemas[fp]).read(avro.io.BinaryDecoder(io.BytesIO(b[10:])))


def norm(v):
    """A decoded value as the server's text rendering."""
    return "NULL" if v is None else str(v)


def pos_of(v, fmt):
    p = v["source"] if fmt == "avro" else v["pos"]
    return (p["file"], p["offset"], p["row"])


def txn_of(v, fmt):
    return v.get("transaction")


# ---------------------------------------------------------------------------- checks

def check_replay(ck, fmt, prefix, msgs, expected, tables):
    dec = Decoder(fmt, msgs, prefix)
    txn_topic = prefix + "._transactions"
    by_part = collections.defaultdict(list)
    for m in msgs:
        by_part[(m.topic, m.partition)].append(m)
    for v in by_part.values():
        v.sort(key=lambda m: m.offset)

    # -- tombstones: each keyed delete followed by exactly one, in its partition
    deletes, tombs, bad_tomb = 0, 0, []
    keyless_tombs = 0
    for (topic, part), ms in by_part.items():
        if topic.endswith("._schemas") or topic == txn_topic:
            continue
        for i, m in enumerate(ms):
            if m.value is None:
                tombs += 1
                if topic.endswith(".notes"):
                    keyless_tombs += 1
                prev = ms[i - 1] if i else None
                pv = dec.decode(prev.value) if prev is not None and prev.value is not None else None
                h = m.headers or {}
                if (pv is None or pv["op"] != "d" or prev.key != m.key
                        or h.get("rowcast.tombstone") != b"true"
                        or (h.get("rowcast.file", b"").decode(), int(h.get("rowcast.offset", b"-1")),
                            int(h.get("rowcast.row", b"-1"))) != pos_of(pv, fmt)):
                    bad_tomb.append((topic, part, m.offset))
                continue
            v = dec.decode(m.value)
            if v["op"] == "d" and m.key is not None:
                deletes += 1
                nxt = ms[i + 1] if i + 1 < len(ms) else None
                if nxt is None or nxt.value is not None or nxt.key != m.key:
                    bad_tomb.append((topic, part, m.offset, "no tombstone after"))
    want_deletes = sum(1 for c in expected if c["op"] == "d" and c["table"] != "notes")
    ck.check(deletes == want_deletes and tombs == deletes and not bad_tomb and keyless_tombs == 0,
             f"{fmt}: each of the {want_deletes} deletes of keyed tables is followed in its partition by one tombstone "
             f"(same key, null value, its position in headers); {tombs} tombstones in all",
             f"deletes {deletes}, tombstones {tombs}, keyless {keyless_tombs}, wrong {bad_tomb[:3]}")

    # -- the compacted fold equals the table
    for table, (cols, rows) in tables.items():
        topic = f"{prefix}.shop.{table}"
        fold = {}
        for m in sorted((m for m in msgs if m.topic == topic), key=lambda m: (m.partition, m.offset)):
            if m.value is None:
                fold.pop(m.key, None)
            else:
                fold[m.key] = dec.decode(m.value)["after"]
        got = sorted(tuple(norm(row[c]) for c in cols) for row in fold.values() if row is not None)
        ck.check(got == rows, f"{fmt}: the compacted fold of {topic} equals SELECT of shop.{table} ({len(rows)} rows)",
                 f"fold {got[:4]} ... ({len(got)}), table {rows[:4]} ... ({len(rows)})")

    # -- transactions
    changes = []  # (message value, decode's line)
    want_by_pos = {(c["pos"]["file"], c["pos"]["offset"], c["pos"]["row"]): c for c in expected}
    for m in msgs:
        if m.topic.endswith("._schemas") or m.topic == txn_topic or m.value is None:
            continue
        v = dec.decode(m.value)
        changes.append((v, want_by_pos.get(pos_of(v, fmt))))
    ck.check(len(changes) == len(expected) and all(w is not None for _, w in changes),
             f"{fmt}: every change reached Kafka once ({len(changes)} of {len(expected)})")
    want_txn = collections.OrderedDict()
    for c in expected:
        want_txn.setdefault(c["gtid"], []).append(c)
    begins, ends = {}, {}
    dup = 0
    for m in msgs:
        if m.topic != txn_topic:
            continue
        try:
            v = dec.decode(m.value)
        except ValueError:
            raise ValueError(f"{m.topic} offset {m.offset}: {m.value!r}")
        k = dec.decode(m.key)
        d = begins if v["status"] == "BEGIN" else ends
        dup += v["id"] in d
        d[v["id"]] = (v, m, k)
    ck.check(set(begins) == set(want_txn) and set(ends) == set(want_txn) and dup == 0,
             f"{fmt}: one BEGIN and one END per transaction that changed rows ({len(want_txn)}; "
             f"{len(begins)} BEGIN, {len(ends)} END)",
             f"missing {list(set(want_txn) - set(begins))[:3]} / {list(set(want_txn) - set(ends))[:3]}, "
             f"unexpected {list(set(begins) - set(want_txn))[:3]}, duplicates {dup}")
    bad = []
    for tid, cs in want_txn.items():
        if tid not in begins or tid not in ends:
            continue
        (bv, bm, bk), (ev, em, ek) = begins[tid], ends[tid]
        per = collections.Counter(f"{c['db']}.{c['table']}" for c in cs)
        got_per = {f"{t['db']}.{t['table']}": t["event_count"] for t in ev["tables"]}
        first = min((c["pos"]["file"], c["pos"]["offset"]) for c in cs)
        last = max((c["pos"]["file"], c["pos"]["offset"]) for c in cs)
        bpos = (bv["file"], bv["offset"]) if fmt == "avro" else (bv["pos"]["file"], bv["pos"]["offset"])
        epos = (ev["file"], ev["offset"]) if fmt == "avro" else (ev["pos"]["file"], ev["pos"]["offset"])
        if (ev["event_count"] != len(cs) or got_per != dict(per) or bv["event_count"] is not None
                or bv["gtid"] != tid or bk != {"id": tid} or ek != {"id": tid}
                or bm.partition != em.partition or bm.offset >= em.offset
                or not bpos < first or not epos > last or bv["ts_ms"] != ev["ts_ms"] or bv["ts_ms"] <= 0):
            bad.append((tid, ev["event_count"], len(cs), got_per, dict(per), bpos, first, epos, last))
    ck.check(not bad, f"{fmt}: END counts (total and per table) match the changes; BEGIN/END keyed by the id, "
             "in one partition, BEGIN first, positions around the changes", f"{len(bad)} wrong, e.g. {bad[:2]}")
    bad = []
    seen = collections.defaultdict(list)
    for v, w in changes:
        t = txn_of(v, fmt)
        if w is None or t is None or t["id"] != w["gtid"]:
            bad.append((pos_of(v, fmt), t))
            continue
        seen[t["id"]].append((pos_of(v, fmt), f"{w['db']}.{w['table']}", t["order"], t["table_order"]))
    for tid, lst in seen.items():
        lst.sort()
        if [o for _, _, o, _ in lst] != list(range(1, len(lst) + 1)):
            bad.append((tid, "order", [o for _, _, o, _ in lst][:10]))
        per = collections.defaultdict(list)
        for _, tbl, _, to in lst:
            per[tbl].append(to)
        if any(v != list(range(1, len(v) + 1)) for v in per.values()):
            bad.append((tid, "table_order", dict(per)))
    ck.check(not bad and changes, f"{fmt}: each change carries its transaction's id and its order (1-based, in the "
             "transaction and in its table)", f"{len(bad)} wrong, e.g. {bad[:3]}")
    if fmt == "avro":
        vfp = [fp for fp, t in dec.texts.items() if '"name":"Transaction"' in t]
        kfp = [fp for fp, t in dec.texts.items() if '"name":"TransactionKey"' in t]
        ok = len(vfp) == 1 and len(kfp) == 1 and all(
            crc64(dec.schemas[fp].canonical_form.encode()) == fp for fp in vfp + kfp)
        ck.check(ok, "avro: the transaction schemas' fingerprints are the CRC-64-AVRO of python3-avro's canonical form")


def check_tail(ck, rc, fmt, prefix, bootstrap, expected):
    """`rowcast tail`: the changes (tombstones counted, not printed), or with --topic the BEGIN/END."""
    base = [rc, "tail", "--from-beginning", "--exit-at-end", "-o", f"kafka.bootstrap.servers={bootstrap}",
            "-o", f"publisher.topic_prefix={prefix}", "-o", f"publisher.transactions_topic={prefix}._transactions"]
    p = subprocess.run(base, capture_output=True, timeout=60)
    lines = [json.loads(x) for x in p.stdout.decode().splitlines()]
    want = {json.dumps(c, sort_keys=True) for c in expected}
    got = {json.dumps({k: v for k, v in c.items() if k != "transaction"}, sort_keys=True) for c in lines}
    err = p.stderr.decode(errors="replace")
    ck.check(p.returncode == 0 and len(lines) == len(expected) and got == want and "tombstones" in err
             and all("transaction" in c for c in lines),
             f"{fmt}: rowcast tail prints every change as rowcast decode does, with its transaction; tombstones "
             "counted, not printed", f"exit {p.returncode}, {len(lines)} lines: {err[-1000:]}")
    p = subprocess.run(base + ["--topic", rf"^{prefix}\._transactions$"], capture_output=True, timeout=60)
    lines = [json.loads(x) for x in p.stdout.decode().splitlines()]
    n = len({c["gtid"] for c in expected})
    ck.check(p.returncode == 0 and len(lines) == 2 * n and {c["status"] for c in lines} == {"BEGIN", "END"},
             f"{fmt}: rowcast tail --topic of the transactions topic prints the {2 * n} BEGIN/END",
             f"exit {p.returncode}, {len(lines)} lines: {p.stderr.decode(errors='replace')[-1000:]}")


def check_compressed(ck, rc, tmp, bootstrap):
    """MySQL's TRANSACTION_PAYLOAD: BEGIN, the change, END, and a checkpoint after the payload."""
    state, _, _ = replay(ck, rc, tmp, [FIXTURE], "compressed",
                         [f"kafka.bootstrap.servers={bootstrap}", "serializer.format=json", "publisher.topic_prefix=tfx",
                          "publisher.tombstones=true", "publisher.transactions_topic=tfx._transactions"])
    msgs = consume(bootstrap, r"^tfx\.", 3)
    txn = [json.loads(m.value) for m in msgs if m.topic == "tfx._transactions"]
    ch = [json.loads(m.value) for m in msgs if m.topic != "tfx._transactions"]
    with open(os.path.join(state, "checkpoint")) as f:
        cp = f.read()
    ck.check([t["status"] for t in txn] == ["BEGIN", "END"] and len(ch) == 1 and txn[1]["event_count"] == 1
             and ch[0]["transaction"]["order"] == 1 and "pos=431" in cp,
             "MySQL compressed transaction: BEGIN, its change, END after it, and the checkpoint after the payload",
             f"{txn} {ch} {cp}")


def replay(ck, rc, tmp, files, name, extra):
    state = os.path.join(tmp, "state-" + name)
    run = os.path.join(tmp, "run-" + name)
    p = subprocess.run([rc, "replay", "-o", f"state.dir={state}", "-o", f"run.dir={run}"]
                       + sum((["-o", e] for e in extra), []) + files, capture_output=True, timeout=120)
    err = p.stderr.decode(errors="replace")
    ck.check(p.returncode == 0, f"{name}: the replay exits 0", err[-2000:])
    return state, run, err


def replay_again(ck, rc, tmp, files, fmt, extra, prefix, before):
    """The replay again without its checkpoint: the recovery must find everything in Kafka."""
    state = os.path.join(tmp, "state-" + fmt)
    os.unlink(os.path.join(state, "checkpoint"))
    _, run, err = replay(ck, rc, tmp, files, fmt, extra)
    try:
        with open(os.path.join(run, "skip")) as f:
            skip = f.read()
    except OSError:
        skip = "(no skip table: " + err[-1500:] + ")"
    tombs = sum(1 for line in skip.splitlines() if line.endswith(" tombstone"))
    txns = sum(1 for line in skip.splitlines() if line.startswith(f"p {prefix}._transactions "))
    ck.check(tombs > 0 and txns > 0, f"{fmt} again: the recovery read {tombs} partitions ending with a tombstone "
             f"and {txns} of the transaction topic", skip[-1500:])
    after = consume(rc_bootstrap[0], rf"^{prefix}\.", len(before))
    n = [sum(1 for m in ms if not m.topic.endswith("._schemas")) for ms in (after, before)]  # schemas: once per run
    ck.check(n[0] == n[1], f"{fmt} again: nothing sent twice ({n[0]} messages, {n[1]} before)", err[-1500:])


rc_bootstrap = [None]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--rounds", type=int, default=30)
    a = ap.parse_args()

    def body(ck, rc, tmp, t0):
        out = os.path.join(tmp, "binlogs")
        os.makedirs(out)
        with MariaDBSandbox(extra_args=["--binlog-row-metadata=FULL"]) as db:
            db.sql(SCHEMA)
            db.sql(workload(a.rounds), database="shop")
            tables = {
                "accounts": (["id", "owner", "balance"], db.query("SELECT id, owner, balance FROM accounts", "shop")),
                "items": (["sku", "store", "qty"], db.query("SELECT sku, store, qty FROM items", "shop")),
            }
            tables = {k: (c, sorted(tuple(r) for r in rows)) for k, (c, rows) in tables.items()}
            db.flush_binlogs()
            files = []
            for f in db.binlog_files()[:-1]:
                files.append(shutil.copy(f, os.path.join(out, os.path.basename(f))))
        p = subprocess.run([rc, "decode"] + files, capture_output=True, check=True)
        expected = [json.loads(x) for x in p.stdout.decode().splitlines()]
        ck.check(len(files) >= 2 and any(c["op"] == "d" for c in expected) and len(expected) > 200,
                 f"workload: {len(expected)} changes in {len(files)} files")
        # changes, tombstones of keyed deletes, BEGIN and END per transaction (and schemas)
        least = (len(expected) + sum(1 for c in expected if c["op"] == "d" and c["table"] != "notes")
                 + 2 * len({c["gtid"] for c in expected}))
        with Broker(rc, partitions=4, echo_stderr=False) as broker:
            rc_bootstrap[0] = broker.bootstrap
            for fmt in ("avro", "json"):
                prefix = "t" + fmt
                extra = [f"kafka.bootstrap.servers={broker.bootstrap}", f"serializer.format={fmt}",
                         f"publisher.topic_prefix={prefix}", "publisher.tombstones=true",
                         f"publisher.transactions_topic={prefix}._transactions"]
                replay(ck, rc, tmp, files, fmt, extra)
                msgs = consume(broker.bootstrap, rf"^{prefix}\.", least)
                check_replay(ck, fmt, prefix, msgs, expected, tables)
                check_tail(ck, rc, fmt, prefix, broker.bootstrap, expected)
                if fmt == "avro":  # (JSON positions of BEGIN/END: tests/unit/test_codec_position.c)
                    replay_again(ck, rc, tmp, files, fmt, extra, prefix, msgs)
            if os.path.exists(FIXTURE):
                check_compressed(ck, rc, tmp, broker.bootstrap)
            else:
                print(f"(no public fixture {FIXTURE}: the compressed-transaction check is skipped)")
    return run_driver(a.rowcast, "rowcast-txn-", RUNNING, body)


if __name__ == "__main__":
    sys.exit(main())
