#!/usr/bin/python3
"""The local broker's eviction warning, and `rowcast stats --watch`.

Usage: test_broker_stats.py --rowcast PATH_TO_ROWCAST

A throwaway MariaDB writes two binlogs: a small one (20 rows of a table with a primary key)
and a big one (2,000 rows of 3.5 KB in a table without a primary key, so every change goes
to one partition: over 5 MiB, more than librdkafka's mock cluster keeps in a partition).

  * small replay into the broker `replay` starts: no eviction warning in its log, none in
    stats.json or `rowcast stats`;
  * big replay into the broker `replay` starts: the broker's log and `rowcast stats` (stderr,
    and stats.json's broker.evicted) name the table's topic and its partition, once;
  * big replay into a `rowcast broker` started apart: python3-confluent-kafka finds the
    partition whose low watermark moved past 0; the broker's log names that topic and
    partition and `rowcast tail --from-beginning` says it starts at that low watermark;
  * `rowcast run` on the server (2 serializer workers, the local broker) with rows written
    while it runs: `rowcast stats --watch` with stdout a pipe prints one plain line per stage
    (reader, serializer-0, serializer-1, publisher, broker) per refresh, no escape codes, the
    reader's binlog file:position and GTID as the server reports them; under a pty it clears
    and redraws the screen; SIGTERM ends it with status 0; when the group ends the watch says
    so and exits 0 by itself; with no group running it exits 1 saying so.

Exit status 0 when every check passes, 77 (skip) without python3-confluent-kafka.
"""
import argparse
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_common import Background, run_driver, skip_if_missing, wait_for  # noqa: E402
from mariadb_sandbox import MariaDBSandbox  # noqa: E402

with skip_if_missing(" (install python3-confluent-kafka)"):
    from confluent_kafka import Consumer, TopicPartition
    from kafka_tool import Broker

USER, PASSWORD = "repl", "repl-pw"
BIG_ROWS, BIG_BYTES = 2000, 3500
EVICTED = re.compile(r"topic (\S+) partition (\d+) lost its oldest messages")
RUNS = []
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:")
STDERRS = []  # (what, text) of every process the test ran: none may hold a sanitizer report


class Run(Background):
    """rowcast replay or run in the background, output in files beside its state dir."""

    def __init__(self, args, state):
        super().__init__(args, state + ".stdout", state + ".stderr", RUNS)


def make_binlogs(db):
    """The small binlog and the big one (paths in the sandbox)."""
    db.sql(f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}';"
           f"GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO '{USER}'@'%';"
           "SET GLOBAL binlog_row_metadata = FULL; CREATE DATABASE shop;")
    db.sql("CREATE TABLE small (id INT PRIMARY KEY, v VARCHAR(20));"
           "INSERT INTO small SELECT seq, CONCAT('v', seq) FROM seq_1_to_20;", database="shop")
    db.flush_binlogs()
    small = db.binlog_files()[-2]
    db.sql(f"CREATE TABLE big (n INT, pad VARCHAR({BIG_BYTES + 10}));"
           f"INSERT INTO big SELECT seq, REPEAT(CHAR(65 + seq % 26), {BIG_BYTES}) FROM seq_1_to_{BIG_ROWS};",
           database="shop")
    db.flush_binlogs()
    return small, db.binlog_files()[-2]


def replay(rc, tmp, name, binlog, extra=()):
    state = os.path.join(tmp, name)
    args = [rc, "replay", "-o", f"state.dir={state}"]
    for o in extra:
        args += ["-o", o]
    p = subprocess.run(args + [binlog], capture_output=True, timeout=120)
    st = subprocess.run([rc, "stats", "-o", f"state.dir={state}"], capture_output=True, timeout=30)
    STDERRS.extend([(f"replay {name}", p.stderr.decode()), (f"stats {name}", st.stderr.decode())])
    try:
        stats = json.loads(st.stdout)
    except ValueError:
        stats = {}
    return p, st, stats


def check_small(ck, rc, tmp, small):
    p, st, stats = replay(rc, tmp, "small", small)
    err = p.stderr.decode()
    ck.check(p.returncode == 0, "small replay: exit 0", err[-2000:])
    ck.check("broker" in stats and "messages" in stats["broker"],
             "small replay: stats.json has the local broker's figures", json.dumps(stats)[:1000])
    ck.check(not EVICTED.search(err) and not stats.get("broker", {}).get("evicted") and not stats.get("warnings")
             and b"warning" not in st.stderr,
             "small replay: no eviction warning (broker log, stats.json, rowcast stats)", err[-2000:])


def check_big_local(ck, rc, tmp, big):
    p, st, stats = replay(rc, tmp, "big", big)
    err = p.stderr.decode()
    ck.check(p.returncode == 0, "big replay: exit 0", err[-2000:])
    found = EVICTED.findall(err)
    ck.check(len(found) == 1 and found[0][0] == "rowcast.shop.big",
             "big replay: the broker's log warns once, naming topic rowcast.shop.big and its partition", err[-3000:])
    ev = stats.get("broker", {}).get("evicted", [])
    part = int(found[0][1]) if found else -1
    ck.check(len(ev) == 1 and ev[0]["topic"] == "rowcast.shop.big" and ev[0]["partition"] == part
             and ev[0]["first_offset"] > 0 and ev[0]["end_offset"] == BIG_ROWS,
             "big replay: stats.json's broker.evicted names the same topic and partition", json.dumps(stats)[:2000])
    serr = st.stderr.decode()
    ck.check(st.returncode == 0 and f"topic rowcast.shop.big partition {part} lost its oldest messages" in serr,
             "big replay: rowcast stats warns on stderr, naming the topic and partition", serr[:2000])
    return part


def low_watermarks(bootstrap, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wm", "enable.auto.commit": False})
    try:
        md = c.list_topics(topic, timeout=10)
        return {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[0]
                for p in md.topics[topic].partitions}
    finally:
        c.close()


def check_big_tail(ck, rc, tmp, big, part_local):
    with Broker(rc, echo_stderr=False) as broker:
        p, _, _ = replay(rc, tmp, "big-ext", big, [f"kafka.bootstrap.servers={broker.bootstrap}"])
        ck.check(p.returncode == 0, "big replay into rowcast broker: exit 0", p.stderr.decode()[-2000:])
        low = low_watermarks(broker.bootstrap, "rowcast.shop.big")
        moved = {k: v for k, v in low.items() if v > 0}
        ck.check(len(moved) == 1 and list(moved) == [part_local],
                 "confluent_kafka: one partition lost messages, the one the local broker named", repr(low))
        ok = wait_for(lambda: EVICTED.search(broker.stderr_text()), 10, 0.1)
        ck.check(ok and EVICTED.findall(broker.stderr_text()) == [("rowcast.shop.big", str(part_local))],
                 "rowcast broker's log names it, once", broker.stderr_text()[-2000:])
        t = subprocess.run([rc, "tail", "-o", f"kafka.bootstrap.servers={broker.bootstrap}", "--from-beginning",
                            "--exit-at-end", "--topic", r"^rowcast\.shop\.big$"], capture_output=True, timeout=120)
        terr = t.stderr.decode()
        STDERRS.extend([("tail", terr), ("rowcast broker", broker.stderr_text())])
        first = moved.get(part_local, -1)
        want = (f"topic rowcast.shop.big partition {part_local} no longer starts at offset 0: the first message "
                f"it could read is at offset {first},")
        ck.check(t.returncode == 0 and want in terr and terr.count("no longer starts at offset 0") == 1,
                 "tail --from-beginning names the partition and the first offset it could read", terr[-2000:])
        ck.check(len(t.stdout.splitlines()) == BIG_ROWS - first,
                 f"tail printed the {BIG_ROWS - first} changes left", str(len(t.stdout.splitlines())))


def watch_pty(rc, state, seconds):
    """`rowcast stats --watch` on a pty for `seconds`, then SIGTERM: (status, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([rc, "stats", "--watch", "--interval", "200", "-o", f"state.dir={state}"],
                         stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                out += os.read(master, 65536)
            except OSError:
                break
    p.send_signal(signal.SIGTERM)
    code = p.wait(10)
    try:
        while select.select([master], [], [], 0.1)[0]:
            out += os.read(master, 65536)
    except OSError:
        pass
    os.close(master)
    return code, out.decode("utf-8", "replace")


def check_watch(ck, rc, tmp, db):
    state = os.path.join(tmp, "live")
    args = [rc, "run", "-o", f"state.dir={state}", "-o", "serializer.workers=2", "-o", "source.host=127.0.0.1",
            "-o", f"source.port={db.port}", "-o", f"source.user={USER}", "-o", f"source.password={PASSWORD}",
            "-o", "source.server_id=4242", "-o", "source.start=latest", "-o", "snapshot.mode=never"]
    run = Run(args, state)
    ok = wait_for(lambda: os.path.exists(os.path.join(state, "stats.json")), 30, 0.1)
    ck.check(ok, "rowcast run writes stats.json", run.stderr()[-2000:])
    db.sql("INSERT INTO small SELECT seq, 'live' FROM seq_100_to_199;", database="shop")
    plain = subprocess.Popen([rc, "stats", "--watch", "--interval", "200", "-o", f"state.dir={state}"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    for i in range(6):
        db.sql(f"INSERT INTO small VALUES ({1000 + i}, 'w');", database="shop")
        time.sleep(0.25)
    code, screen = watch_pty(rc, state, 1.2)
    want_file, want_pos = db.master_status()[:2]
    gtid = db.query_value("SELECT @@gtid_binlog_pos")

    def reader_at_end():
        try:
            with open(os.path.join(state, "stats.json")) as f:
                st = json.load(f)
        except (OSError, ValueError):
            return False
        rd = [x for x in st.get("stages", []) if x.get("stage") == "reader"]
        return bool(rd) and (rd[0].get("file"), rd[0].get("position")) == (want_file, want_pos)
    wait_for(reader_at_end, 30, 0.1)  # a snapshot after the last insert
    time.sleep(0.5)  # and a refresh of the watch after it
    run.proc.send_signal(signal.SIGTERM)
    run.proc.wait(60)
    try:
        out, err = plain.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        plain.kill()
        out, err = plain.communicate()
    out, err = out.decode(), err.decode()
    STDERRS.extend([("stats --watch", err), ("stats --watch on a pty", screen), ("rowcast run", run.stderr())])
    lines = out.splitlines()
    stages = ["reader", "serializer-0", "serializer-1", "publisher", "broker"]
    counts = {s: sum(1 for l in lines if re.match(rf"\d\d:\d\d:\d\d {s} pid=\d+ rate=\S+ cpu=\S+ rss=\S+ queue=\S+ "
                                               rf"blocked=\S+ lag=\S+", l)) for s in stages}
    ck.check(all(counts[s] >= 3 for s in stages) and len(set(counts.values())) == 1 and "\x1b" not in out,
             "stats --watch to a pipe: one plain line per stage per refresh, no escape codes", repr(counts) + out[-1500:])
    ck.check(any(re.search(r" rate=[1-9]\d*/s ", l) for l in lines if " reader " in l)
             and any(re.search(r" rss=\d+\.\dMiB ", l) for l in lines if " publisher " in l),
             "stats --watch: the reader's rate moved while rows were written; RSS is shown", out[-1500:])
    reader = [l for l in lines if " reader " in l]
    ck.check(bool(reader) and reader[-1].endswith(f" at={want_file}:{want_pos} gtid={gtid}")
             and " lag=0s " in reader[-1],
             f"stats --watch: the reader is at the server's {want_file}:{want_pos}, GTID {gtid}, lag 0 s",
             reader[-1] if reader else out[-500:])
    ck.check(plain.returncode == 0 and "has ended" in err,
             "stats --watch: says the group ended and exits 0 by itself", f"status {plain.returncode}: {err[-500:]}")
    ck.check(code == 0 and "\x1b[H\x1b[2J" in screen and screen.count("\x1b[2J") >= 3 and "STAGE" in screen
             and "serializer 1" in screen,
             "stats --watch on a pty: the screen is cleared and redrawn; SIGTERM exits 0", f"status {code}: {screen[-800:]!r}")
    p = subprocess.run([rc, "stats", "--watch", "-o", f"state.dir={state}"], capture_output=True, timeout=30)
    ck.check(p.returncode == 1 and b"no rowcast group is running" in p.stderr,
             "stats --watch with no group running: says so, exit 1", p.stderr.decode()[-500:])


def body(ck, rc, tmp, t0):
    with MariaDBSandbox() as db:
        small, big = make_binlogs(db)
        print(f"binlogs written in {time.monotonic() - t0:.1f} s: {os.path.getsize(big)} bytes")
        check_small(ck, rc, tmp, small)
        part = check_big_local(ck, rc, tmp, big)
        check_big_tail(ck, rc, tmp, big, part)
        check_watch(ck, rc, tmp, db)
    bad = [what for what, text in STDERRS if SANITIZER.search(text)]
    ck.check(not bad, "no sanitizer report in any process's stderr", ", ".join(bad))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    args = ap.parse_args()
    return run_driver(args.rowcast, "rowcast-brokerstats-", RUNS, body)


if __name__ == "__main__":
    sys.exit(main())
