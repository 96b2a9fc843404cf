#!/usr/bin/env python3
"""The pipeline end to end: a binlog written by a real MariaDB, replayed with
serializer.workers = 1, 2 and 4 into rowcast's local broker; a Kafka consumer reading every
topic must get exactly the changes `rowcast decode` prints for the same files, each partition in
binlog order, none missing, none twice, whether the serializers hand their batches to the
publisher through their shared rings (the default), through the pipes, or both. Also: configuration errors exit 2 naming the key, with
no restart loop; the checkpoint lands on the last transaction boundary.

Usage: test_pipeline.py --rowcast PATH
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pipeline_common import Checks, compare, decode, make_binlogs, skip_if_missing  # noqa: E402

with skip_if_missing():
    from kafka_tool import Broker, Collector  # noqa: E402


def replay(rowcast, files, state, extra=(), timeout=300):
    args = [rowcast, "replay", "-o", f"state.dir={state}", "-o", "serializer.format=json"]
    for e in extra:
        args += ["-o", e]
    t0 = time.time()
    p = subprocess.run(args + files, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode(), time.time() - t0


def check_rings(ck, label, ring, stats, err):
    """What the serializers' counters say went through their shared rings."""
    sers = [st for st in stats["stages"] if st["stage"] == "serializer"]
    frames = sum(st.get("batches", 0) for st in sers)
    shared = sum(st.get("shared_batches", 0) for st in sers)
    whole = sum(st.get("shared_too_large", 0) for st in sers)
    got = f"{frames} batches, {shared} through the rings, {whole} too large for them"
    if ring == "off":
        ck.check(frames > 0 and not any("shared_batches" in st for st in sers), f"{label}: no ring, every batch through the pipe", got)
    elif ring == "tiny":
        ck.check(whole > 0 and shared > 0 and shared + whole >= frames, f"{label}: batches over a quarter of the ring go whole through the pipe, the others through the ring", got)
        ck.check("under 4 MiB" in err, f"{label}: the supervisor warns that the ring is small", err[-800:])
    else:
        ck.check(frames > 0 and shared >= frames and whole == 0, f"{label}: every batch through the shared rings", got)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--rounds", type=int, default=40)
    a = ap.parse_args()
    rc = os.path.abspath(a.rowcast)
    ck = Checks()
    with tempfile.TemporaryDirectory(prefix="rowcast-pipeline-") as tmp:
        files = make_binlogs(os.path.join(tmp, "binlogs"), a.rounds)
        order = {os.path.basename(f): i for i, f in enumerate(files)}
        expected = decode(rc, files)
        evs = subprocess.run([rc, "decode", "--events"] + files, capture_output=True, check=True).stdout.decode()
        last_xid = [json.loads(l) for l in evs.splitlines() if '"XID_EVENT"' in l][-1]
        want_cp = f"file={last_xid['file']}\npos={last_xid['offset'] + last_xid['size']}\n"
        ck.check(len(files) >= 2 and len(expected) > 5000, f"workload: {len(expected)} changes in {len(files)} files")

        # the serializers hand their batches to the publisher through shared memory rings
        # (pipe.shared_bytes, 16 MiB by default); the last three runs: no ring (every batch
        # through the pipes), a small one that wraps a dozen times with the serializer waiting
        # for room, and one whose quarter is the batches' mean size (a third of them, too large
        # for it, go whole through the pipe, the others through the ring, mixed on one pipe)
        runs = [(1, [], "default"), (2, [], "default"), (4, [], "default"), (2, ["pipe.shared_bytes=0"], "off"),
                (1, ["pipe.shared_bytes=256k", "batch.max_changes=40"], "small"),
                (1, ["pipe.shared_bytes=112k", "batch.max_changes=40"], "tiny")]
        for n, (workers, more, ring) in enumerate(runs):
            headers = workers != 2  # publisher.headers: on for 1 and 4 workers, off (the default) for 2
            label = f"workers={workers}" + (" headers" if headers else "") + ("" if ring == "default" else f" ring={more[0]}")
            with Broker(rc) as broker, Collector(broker.bootstrap, r"^rowcast\..*") as col:
                state = os.path.join(tmp, f"state-{n}")
                code, out, err, secs = replay(rc, files, state, [f"kafka.bootstrap.servers={broker.bootstrap}",
                                                               f"serializer.workers={workers}", "batch.max_changes=500"]
                                               + (["publisher.headers=true"] if headers else []) + more)
                ck.check(code == 0, f"{label}: replay exits 0 in {secs:.1f} s", err[-2000:])
                ck.check(f"replayed {len(expected)} changes" in out, f"{label}: summary counts every change", out)
                col.wait(count=len(expected), idle=5.0, timeout=120)
                compare(ck, label, expected, col.messages, order, headers)
                cp = open(os.path.join(state, "checkpoint")).read()
                ck.check(cp.startswith(want_cp), f"{label}: checkpoint right after the last transaction's XID",
                         f"{cp!r} != {want_cp!r}")
                check_rings(ck, label, ring, json.load(open(os.path.join(state, "stats.json"))), err)

        # the local broker is started when none is configured, and the summary says so
        state = os.path.join(tmp, "state-local")
        code, out, err, secs = replay(rc, files[:1], state)
        ck.check(code == 0 and "local broker" in err, "without kafka.bootstrap.servers: rowcast starts its local broker", err[-1000:])
        # the summary's per-stage figures come from the kernel (wait4), even for a run shorter
        # than the stages' metrics interval
        rss = re.search(r"reader ([\d.]+) MiB, serializer ([\d.]+) MiB .*publisher ([\d.]+) MiB", out)
        cpu = re.search(r"CPU time: reader ([\d.]+) s, serializers ([\d.]+) s .*publisher ([\d.]+) s, local broker ([\d.]+) s", out)
        ck.check(rss and all(float(x) > 1 for x in rss.groups()) and cpu and float(cpu.group(2)) > 0,
                 f"summary: peak RSS and CPU time of every stage ({secs:.1f} s run)", out)

        # a second replay with the checkpoint at the end publishes nothing new
        code, out, err, secs = replay(rc, files[:1], state)
        ck.check(code == 0 and "replayed 0 changes" in out and "resuming from the checkpoint" in err,
                 "a replay resumes from the checkpoint", out + err[-500:])

        # configuration errors: exit 2, the key named, no restart loop
        for bad, key in (("serializer.workers=0", "serializer.workers"), ("no.such_key=1", "no.such_key"),
                         ("batch.max_changes=lots", "batch.max_changes"), ("kafka.acks=sometimes", "acks")):
            code, out, err, secs = replay(rc, files[:1], os.path.join(tmp, "state-bad"), [bad], timeout=60)
            ck.check(code == 2 and key in err and "restarting the group" not in err and secs < 20,
                     f"config error {bad}: exit 2 naming {key}, no restart ({code}, {secs:.1f} s)", err[-800:])
        code, out, err, secs = replay(rc, ["/nonexistent/binlog.000001"], os.path.join(tmp, "state-bad"))
        ck.check(code == 2 and "/nonexistent/binlog.000001" in err, "a missing file: exit 2 naming it", err)
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())
