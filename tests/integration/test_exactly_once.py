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

Usage: test_exactly_once.py --rowcast PATH [--rounds N] [--only NAME,...] [--formats avro,json]
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
PARTITIONS = 8
QUIET = {"log_level": 2}
SLOW = ["batch.max_changes=200", "kafka.queue.buffering.max.messages=2000", "kafka.linger.ms=20",
        "metrics.interval_ms=100", "publisher.headers=false"]
SCENARIOS = ["publisher-early", "supervisor-early", "reader", "serializer", "recovery"]


# ---------------------------------------------------------------------------- positions

class Positions:
    """The position (file index, offset, row) of every change message, from its value."""

    def __init__(self, order):
        self.order = order
        self.schemas = {}  # fingerprint -> python3-avro schema
        self.bad = []

    def learn(self, msgs):
        for m in msgs:
            if m.topic == "rowcast._schemas" and m.key and m.value:
                fp = int(m.key.decode(), 16)
                if fp not in self.schemas:
                    self.schemas[fp] = avro.schema.parse(m.value.decode())

    def of(self, m):
        v = m.value
        try:
            if v[:2] == b"\xc3\x01":
                fp = int.from_bytes(v[2:10], "little")
                d = avro.io.DatumReader(self.schemas[fp]).read(avro.io.BinaryDecoder(io.BytesIO(v[10:])))
                p = d["source"]
            else:
                p = json.loads(v)["pos"]
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
    last_new = time.monotonic()
    deadline = last_new + timeout
    while True:
        msgs = col.messages
        if len(msgs) > seen:
            pos.learn(msgs[seen:])
            for m in msgs[seen:]:
                if m.topic == "rowcast._schemas":
                    continue
                k = pos.of(m)
                out.append((m, k))
                left.discard(k)
            seen = len(msgs)
            last_new = time.monotonic()
        now = time.monotonic()
        if not left:
            time.sleep(1.0)
            if len(col.messages) == seen:
                return out
            continue
        if now - last_new >= idle or now >= deadline:
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


def scenario(ck, rc, tmp, files, want, order, fmt, name, exclude=""):
    label = f"{fmt}, {name}" + (f", filter.exclude={exclude}" if exclude else "")
    with Broker(rc, topics=TOPICS, partitions=PARTITIONS, echo_stderr=False) as broker, \
            Collector(broker.bootstrap, r"^rowcast\.", config=QUIET) as col:
        state = os.path.join(tmp, f"state-{fmt}-{name}")
        early = name.endswith("-early")
        extra = [f"kafka.bootstrap.servers={broker.bootstrap}", f"serializer.format={fmt}",
                 "publisher.checkpoint_interval_ms=" + ("60000" if early else "100")] + SLOW
        if exclude:
            extra.append("filter.exclude=" + exclude)
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
        pos = Positions(order)
        got = collect(col, pos, want)
        ck.check(not pos.bad, f"{label}: every message carries a rowcast position ({len(got)} messages)",
                 "; ".join(pos.bad[:3]))
        check_exactly_once(ck, label, want, got)


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
    a = ap.parse_args()
    only = [s for s in SCENARIOS if not a.only or s in a.only.split(",")]

    def body(ck, rc, tmp, t0):
        files = make_binlogs(os.path.join(tmp, "binlogs"), a.rounds)
        want, order = decode_lines(rc, files)
        if a.exclude:
            pats = [p.strip().split(".") for p in a.exclude.split(",")]
            kept = {k: v for k, v in want.items()
                    if not any(fnmatch.fnmatchcase(json.loads(v)["db"], d) and fnmatch.fnmatchcase(json.loads(v)["table"], t)
                               for d, t in pats)}
            print(f"info  filter.exclude={a.exclude}: {len(kept)} of {len(want)} changes kept")
            want = kept
        ck.check(len(want) > (100 * a.rounds if a.exclude else 50000), f"workload: {len(want)} changes in {len(files)} files")
        json_only = None if a.json_scenarios == "all" else set(a.json_scenarios.split(","))
        for fmt in a.formats.split(","):
            for name in only:
                if fmt == "json" and json_only is not None and name not in json_only:
                    continue
                scenario(ck, rc, tmp, files, set(want), order, fmt, name, a.exclude)
    return run_driver(a.rowcast, "rowcast-eo-", RUNNING, body)


if __name__ == "__main__":
    sys.exit(main())
