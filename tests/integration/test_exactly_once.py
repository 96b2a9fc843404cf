#!/usr/bin/env python3
"""Exactly once across crashes: after a kill -9 of any stage, of the supervisor, or during the
recovery itself, a consumer sees every change of the binlog exactly once, each partition in
binlog order.

The broker is started by the test (`rowcast broker`, topics with enough partitions to keep
everything); an independent consumer (python3-confluent-kafka, kafka_tool.Collector) reads
concurrently and counts every change by the position its value carries: the Avro value's
`source` (file, offset, row), decoded with python3-avro and the writer schema from the
rowcast._schemas topic, or the JSON line's `pos`. Headers are not used.

Scenarios, in Avro and in JSON:
  publisher-early  kill -9 of the publisher before its first checkpoint (the group restarts);
  supervisor-early kill -9 of the supervisor before the first checkpoint, then the same command
                   again (the stages exit on their own);
  reader, serializer  kill -9 mid-run, after checkpoints;
  recovery         kill -9 of the publisher, then of the restarted group's first stage as soon
                   as it appears (while the recovery of the first restart has just run), so the
                   group recovers twice.

With --features, the replays also send tombstones (publisher.tombstones) and transaction
boundaries (publisher.transactions_topic=rowcast._transactions), on binlogs written with
binlog_row_metadata=FULL (so that tables have keys): every tombstone (its position from its
headers) must arrive exactly once, in its partition right after its delete, and every
transaction exactly one BEGIN and one END (their positions from their values), whatever was
killed.

Usage: test_exactly_once.py --rowcast PATH [--rounds N] [--only NAME,...] [--formats avro,json]
                            [--features]
"""
import argparse
import io
import fnmatch
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pipeline_common import make_binlogs, out_of_order, run_driver, skip_if_missing, wait_for  # noqa: E402

with skip_if_missing():
    from kafka_tool import Broker, Collector  # noqa: E402
    import avro.io  # noqa: E402
    import avro.schema  # noqa: E402
from test_faults import RUNNING, Replay, decode_lines, read_checkpoint, tail  # noqa: E402

TOPICS = ["rowcast.shop.users", "rowcast.shop.orders", "rowcast.shop.events_log"]
TXN_TOPIC = "rowcast._transactions"
FEATURES = ["publisher.tombstones=true", f"publisher.transactions_topic={TXN_TOPIC}"]
END_ROW = 0xFFFFFFFF
PARTITIONS = 8
QUIET = {"log_level": 2}
SLOW = ["batch.max_changes=200", "kafka.queue.buffering.max.messages=2000", "kafka.linger.ms=20",
        "metrics.interval_ms=100", "publisher.headers=false"]
SCENARIOS = ["publisher-early", "supervisor-early", "reader", "serializer", "recovery"]


# ---------------------------------------------------------------------------- positions

class Positions:
    """The position (file index, offset, row) of every change message, from its value."""

    def __init__(self, order, features=False):
        self.order = order
        self.features = features
        self.schemas = {}  # fingerprint -> python3-avro schema
        self.bad = []
        self.txn = {}  # position of a transaction message -> (BEGIN or END, transaction id)

    def learn(self, msgs):
        for m in msgs:
            if m.topic == "rowcast._schemas" and m.key and m.value:
                fp = int(m.key.decode(), 16)
                if fp not in self.schemas:
                    self.schemas[fp] = avro.schema.parse(m.value.decode())

    def ready(self, m):
        """Can m be read yet? An Avro value waits for its schema (the schema topic is found by
        the consumer's pattern up to half a second after the table topics: a fast replay's
        first changes arrive before their schema)."""
        v = m.value
        return v is None or v[:2] != b"\xc3\x01" or int.from_bytes(v[2:10], "little") in self.schemas

    def decode(self, v):
        if v[:2] == b"\xc3\x01":
            fp = int.from_bytes(v[2:10], "little")
            return avro.io.DatumReader(self.schemas[fp]).read(avro.io.BinaryDecoder(io.BytesIO(v[10:])))
        return json.loads(v)

    def of(self, m):
        """(file index, offset, row) of a change; with --features (file index, offset, row, 0)
        for a change, 1 last for a tombstone (the delete's position, from headers), and BEGIN at
        row 0, END at row END_ROW for a transaction message, as rowcast orders them."""
        v = m.value
        try:
            if self.features and v is None:
                h = m.headers
                assert h.get("rowcast.tombstone") == b"true", h
                return (self.order[h["rowcast.file"].decode()], int(h["rowcast.offset"]), int(h["rowcast.row"]), 1)
            d = self.decode(v)
            if self.features and m.topic == TXN_TOPIC:
                f, off = (d["file"], d["offset"]) if "file" in d else (d["pos"]["file"], d["pos"]["offset"])
                k = (self.order[f], off, END_ROW if d["status"] == "END" else 0, 0)
                self.txn[k] = (d["status"], d["id"])
                return k
            p = d["source"] if "source" in d else d["pos"]
            if self.features:
                return (self.order[p["file"]], p["offset"], p["row"], 0)
            return (self.order[p["file"]], p["offset"], p["row"])
        except Exception as e:  # noqa: BLE001: reported as a check
            self.bad.append(f"{m.topic} [{m.partition}] offset {m.offset}: {e!r}")
            return None


def collect(col, pos, want, idle=6.0, timeout=180.0):
    """Read until every wanted position arrived, then a moment for repeats still on the way;
    or `idle` seconds with nothing new. Returns [(message, position)] of change messages."""
    left = set(want)
    seen = 0
    out = []
    waiting = []  # messages whose schema has not arrived yet
    last_new = time.monotonic()
    deadline = last_new + timeout

    def take(msgs):
        for m in msgs:
            k = pos.of(m)
            out.append((m, k))
            left.discard(k)

    while True:
        msgs = col.messages
        if len(msgs) > seen:
            pos.learn(msgs[seen:])
            waiting += [m for m in msgs[seen:] if m.topic != "rowcast._schemas"]
            seen = len(msgs)
            take([m for m in waiting if pos.ready(m)])
            waiting = [m for m in waiting if not pos.ready(m)]
            last_new = time.monotonic()  # after the decoding, which can take seconds
        now = time.monotonic()
        if not left:
            time.sleep(1.0)
            if len(col.messages) == seen:
                take(waiting)
                return out
            continue
        if now - last_new >= idle or now >= deadline:
            take(waiting)  # a schema that never came: each one reported
            return out
        time.sleep(0.2)


def check_exactly_once(ck, label, want, got):
    count = {}
    for _, k in got:
        if k is not None:
            count[k] = count.get(k, 0) + 1
    missing = [k for k in want if k not in count]
    extra = [k for k in count if k not in want]
    dups = sum(n - 1 for n in count.values())
    ck.check(not missing and not extra, f"{label}: every change reached Kafka ({len(want) - len(missing)} of {len(want)})",
             f"missing {len(missing)} e.g. {sorted(missing)[:3]}; unexpected {len(extra)} e.g. {extra[:3]}")
    ck.check(dups == 0, f"{label}: no change twice", f"{dups} duplicates")
    unordered, parts = out_of_order(got)
    ck.check(unordered == 0, f"{label}: each partition in binlog order ({parts} partitions)",
             f"{unordered} out of order")


# ---------------------------------------------------------------------------- scenarios

def kill_stage(run, stage):
    pids = [pid for pid, st in sorted(run.stages().items()) if st == stage]
    if pids:
        os.kill(pids[0], signal.SIGKILL)
    return pids


def no_progress(cp):
    """Before the first checkpoint of acknowledged changes: no checkpoint at all, or only the start
    position the reader records before it reads anything (changes=0)."""
    return cp is None or cp[2] == 0


def check_transactions(ck, label, pos, got, gtids):
    """One BEGIN and one END per transaction, and each tombstone right after its delete."""
    count = {}
    for _, k in got:
        if k in pos.txn:
            count[pos.txn[k]] = count.get(pos.txn[k], 0) + 1
    want = {(s, g) for g in gtids for s in ("BEGIN", "END")}
    missing = want - set(count)
    dups = sum(n - 1 for n in count.values())
    ck.check(not missing and set(count) <= want and dups == 0,
             f"{label}: one BEGIN and one END per transaction ({len(gtids)} transactions, {len(count)} messages)",
             f"missing {sorted(missing)[:3]}, unexpected {sorted(set(count) - want)[:3]}, {dups} twice")
    by_part = {}
    for m, k in got:
        by_part.setdefault((m.topic, m.partition), []).append((m.offset, k, m))
    bad = 0
    for part in by_part.values():
        part.sort(key=lambda e: e[0])
        for i, (_, k, m) in enumerate(part):
            if k is not None and len(k) == 4 and k[3] == 1:
                prev = part[i - 1] if i else None
                bad += prev is None or prev[1] != k[:3] + (0,) or prev[2].key != m.key
    ck.check(bad == 0, f"{label}: each tombstone right after its delete, with its key", f"{bad} not")
    unordered, parts = out_of_order((m, k) for m, k in got if k in pos.txn)
    ck.check(unordered == 0, f"{label}: the transaction messages in binlog order ({parts} partitions)",
             f"{unordered} out of order")


def scenario(ck, rc, tmp, files, want, order, fmt, name, features=None, exclude=""):
    label = (f"{fmt}, {name}" + (", tombstones and transactions" if features else "")
             + (f", filter.exclude={exclude}" if exclude else ""))
    topics = TOPICS + ([TXN_TOPIC] if features else [])
    with Broker(rc, topics=topics, partitions=PARTITIONS, echo_stderr=False) as broker, \
            Collector(broker.bootstrap, r"^rowcast\.", config=QUIET) as col:
        state = os.path.join(tmp, f"state-{fmt}-{name}")
        early = name.endswith("-early")
        extra = [f"kafka.bootstrap.servers={broker.bootstrap}", f"serializer.format={fmt}",
                 "publisher.checkpoint_interval_ms=" + ("60000" if early else "100")] + SLOW
        if early:  # slower still, so that a loaded machine's consumer sees some before the replay ends
            extra.append("kafka.queue.buffering.max.messages=500")
        if exclude:
            extra.append("filter.exclude=" + exclude)
        if name == "reader":  # small pipes hold the reader back, so that it is still reading at the kill
            extra.append("pipe.buffer_bytes=1m")
        if features:
            extra += FEATURES
        run = Replay(rc, files, state, extra)
        # some changes in Kafka (the consumer saw them), and, for the early kills, no checkpoint of them yet
        seen = wait_for(lambda: len(col.messages) > 2000 or not run.running(), 60)
        cp = read_checkpoint(state)
        ok = seen and run.running() and (no_progress(cp) if early else True)
        if not early:
            ok = ok and wait_for(lambda: not no_progress(read_checkpoint(state)) or not run.running(), 30) and run.running()
        ck.check(ok, f"{label}: killed mid-run ({len(col.messages)} messages in Kafka, checkpoint "
                 f"{read_checkpoint(state)})", tail(run.stderr()))
        if name == "supervisor-early":
            kids = list(run.stages())
            run.proc.kill()
            run.proc.wait()
            gone = wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in kids), 10)
            ck.check(gone, f"{label}: the stages exit when the supervisor is killed")
            # (the stages, told by the closed pipe, may checkpoint what Kafka acknowledged as they exit:
            # the kill itself came before any checkpoint, as checked above)
            run = Replay(rc, files, state, extra)  # the same command again
        elif name == "recovery":
            old = set(run.stages())
            kill_stage(run, "publisher")
            # the restarted group's publisher, killed as soon as it runs: right after the recovery
            fresh = wait_for(lambda: any(p not in old and s == "publisher" for p, s in run.stages().items())
                             or not run.running(), 30, 0.005)
            pids = [p for p, s in run.stages().items() if p not in old and s == "publisher"]
            if pids:
                os.kill(pids[0], signal.SIGKILL)
            ck.check(fresh and pids, f"{label}: the restarted publisher killed at once")
        else:
            victim = "publisher" if name == "publisher-early" else name
            ck.check(kill_stage(run, victim), f"{label}: rowcast-{victim} killed")
        code = run.wait(240)
        err = run.stderr()
        ck.check(code == 0, f"{label}: the replay exits 0 ({code}, {run.secs:.1f} s)", tail(err))
        recs = [line for line in err.splitlines() if "recovery: read the last message" in line]
        ck.check(recs, f"{label}: the supervisor recovered what Kafka holds ({recs[-1].split('recovery: ')[-1] if recs else 'no line'})",
                 tail(err))
        pos = Positions(order, features is not None)
        got = collect(col, pos, want)
        ck.check(not pos.bad, f"{label}: every message carries a rowcast position ({len(got)} messages)",
                 "; ".join(pos.bad[:3]))
        check_exactly_once(ck, label, want, [(m, k) for m, k in got if k not in pos.txn])
        if features:
            check_transactions(ck, label, pos, got, features)


# ---------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--rounds", type=int, default=400)
    ap.add_argument("--only", default="", help="comma-separated: " + ",".join(SCENARIOS))
    ap.add_argument("--formats", default="avro,json")
    # JSON changes only how the recovery decodes a position: two kills cover it (a restart from
    # before any checkpoint, and one from a checkpoint); "all" for every scenario in JSON too
    ap.add_argument("--json-scenarios", default="publisher-early,reader")
    # the same kills with tables filtered out by the reader: only the others' changes, exactly once
    ap.add_argument("--exclude", default="", help="filter.exclude for every replay (DB.TABLE patterns)")
    ap.add_argument("--features", action="store_true",
                    help="with tombstones and transaction messages (binlog_row_metadata=FULL)")
    a = ap.parse_args()
    only = [s for s in SCENARIOS if not a.only or s in a.only.split(",")]

    def body(ck, rc, tmp, t0):
        files = make_binlogs(os.path.join(tmp, "binlogs"), a.rounds,
                             extra_args=["--binlog-row-metadata=FULL"] if a.features else ())
        want, order = decode_lines(rc, files)
        if a.exclude:
            pats = [p.strip().split(".") for p in a.exclude.split(",")]
            kept = {k: v for k, v in want.items()
                    if not any(fnmatch.fnmatchcase(json.loads(v)["db"], d) and fnmatch.fnmatchcase(json.loads(v)["table"], t)
                               for d, t in pats)}
            print(f"info  filter.exclude={a.exclude}: {len(kept)} of {len(want)} changes kept")
            want = kept
        ck.check(len(want) > (100 if a.exclude else 125) * a.rounds, f"workload: {len(want)} changes in {len(files)} files")
        gtids = None
        if a.features:  # the tombstones of the deletes of keyed tables, and the transactions
            lines = [json.loads(v) for v in want.values()]
            gtids = {c["gtid"] for c in lines}
            keyed = {"users", "orders"}
            want = {k + (0,) for k in want} | {k + (1,) for k, c in zip(want, lines)
                                               if c["op"] == "d" and c["table"] in keyed}
            ck.check(len(want) > len(lines), f"workload: {len(want) - len(lines)} deletes with a key, "
                     f"{len(gtids)} transactions")
        json_only = None if a.json_scenarios == "all" else set(a.json_scenarios.split(","))
        for fmt in a.formats.split(","):
            for name in only:
                if fmt == "json" and json_only is not None and name not in json_only:
                    continue
                scenario(ck, rc, tmp, files, set(want), order, fmt, name, gtids, a.exclude)
    return run_driver(a.rowcast, "rowcast-eo-", RUNNING, body)


if __name__ == "__main__":
    sys.exit(main())
