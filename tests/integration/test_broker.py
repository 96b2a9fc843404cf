#!/usr/bin/python3
"""Integration test of `rowcast broker`, the local in-memory Kafka broker.

Usage: test_broker.py --rowcast PATH_TO_ROWCAST [--verbose]

Starts `rowcast broker` (kafka_tool.Broker) and checks, with real Kafka clients:

  * the first stdout line is a 127.0.0.1 bootstrap address; kcat -L lists the broker;
  * 10,000 keyed messages to 3 topics (acks=all, enable.idempotence=true), with a Collector
    started before the topics exist, all come back: counts, contiguous per-partition offsets
    matching the delivery reports, per-key order, key -> partition stability, headers,
    timestamps; a second reader started afterwards reads everything from offset 0;
  * SIGUSR1 takes the broker down (connects refused): new messages stay queued without
    error; SIGUSR2 brings it back: they are delivered, to the same partitions per key, and
    the running Collector receives them;
  * retention: a partition keeps ~5 MiB, older data is evicted (low watermark moves);
  * --topic/--partitions pre-creates a topic, auto-created topics get 4 partitions;
    --port is refused (exit 2); SIGTERM and stdin EOF (--exit-on-stdin-eof) exit 0.

Prints one line per check and a final `N passed, M failed`; exit status 0 iff M == 0,
77 (skip) when python3-confluent-kafka is not installed.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    from confluent_kafka import Consumer, Producer, TopicPartition
    from kafka_tool import Broker, Collector, consume_all
except ImportError as e:  # pragma: no cover
    print("SKIP: %s (install python3-confluent-kafka)" % e)
    sys.exit(77)

N_MESSAGES = 10000
TOPICS = ["rowcast.test.alpha", "rowcast.test.beta", "rowcast.test.gamma"]
N_KEYS = 50  # per topic
MAX_DETAILS = 10


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, problems):
        """problems: list of strings (empty = pass)."""
        if not problems:
            self.passed += 1
            print("ok   %s" % name)
        else:
            self.failed += 1
            print("FAIL %s" % name)
            for p in problems[:MAX_DETAILS]:
                print("       %s" % p)
            if len(problems) > MAX_DETAILS:
                print("       ... and %d more" % (len(problems) - MAX_DETAILS))
        sys.stdout.flush()

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 0 if self.failed == 0 else 1


class Deliveries:
    """Delivery reports of a Producer: (topic, partition, offset, key) or errors."""

    def __init__(self):
        self.ok = []
        self.errors = []

    def __call__(self, err, msg):
        if err is not None:
            self.errors.append("%s key=%r: %s" % (msg.topic(), msg.key(), err))
        else:
            self.ok.append((msg.topic(), msg.partition(), msg.offset(), msg.key()))


def make_producer(bootstrap, **extra):
    conf = {
        "bootstrap.servers": bootstrap,
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": 5,
        "message.timeout.ms": 60000,
        "reconnect.backoff.max.ms": 500,
        "log.connection.close": False,
    }
    conf.update(extra)
    return Producer(conf)


def key_of(topic_idx, i):
    return ("k%02d" % (i % N_KEYS)).encode()


def port_refuses(hostport):
    host, port = hostport.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, int(port)))
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()


# ====================================================================== checks

def check_startup(rep, broker):
    problems = []
    first = broker.bootstrap.split(",")[0]
    if not first.startswith("127.0.0.1:"):
        problems.append("bootstrap %r is not on 127.0.0.1" % broker.bootstrap)
    rep.check("broker prints a 127.0.0.1 bootstrap address first (%s)" % broker.bootstrap,
              problems)


def check_kcat(rep, broker, expect_topics):
    kcat = shutil.which("kcat") or shutil.which("kafkacat")
    if not kcat:
        print("note kcat not installed: metadata listing not checked")
        return
    r = subprocess.run([kcat, "-b", broker.bootstrap, "-L", "-m", "10"], capture_output=True,
                       text=True, timeout=30)
    problems = []
    if r.returncode != 0:
        problems.append("kcat -L exited %d: %s" % (r.returncode, r.stderr.strip()))
    if "1 brokers" not in r.stdout:
        problems.append("kcat -L does not show 1 broker:\n%s" % r.stdout)
    for t in expect_topics:
        if '"%s" with 4 partitions' % t not in r.stdout:
            problems.append("kcat -L does not list %s with 4 partitions" % t)
    rep.check("kcat -L lists the broker and the auto-created topics (4 partitions)", problems)


def produce_bulk(bootstrap, deliveries):
    p = make_producer(bootstrap)
    for i in range(N_MESSAGES):
        ti = i % len(TOPICS)
        seq = i // len(TOPICS)
        key = key_of(ti, seq)
        # value: the message's sequence within its (topic, key), for the per-key order check
        value = ("%s|%d|%d" % (key.decode(), seq // N_KEYS, i)).encode()
        while True:
            try:
                p.produce(TOPICS[ti], value=value, key=key, on_delivery=deliveries,
                          headers=[("rowcast.i", str(i).encode()), ("rowcast.test", b"bulk")])
                break
            except BufferError:
                p.poll(0.1)
        p.poll(0)
    left = p.flush(60)
    return p, left


def check_bulk(rep, col, deliveries, left):
    rep.check("producer: %d messages acknowledged (acks=all, idempotent), none failed"
              % N_MESSAGES,
              (["%d messages still queued after flush" % left] if left else [])
              + deliveries.errors
              + ([] if len(deliveries.ok) == N_MESSAGES else
                 ["%d delivery reports, expected %d" % (len(deliveries.ok), N_MESSAGES)]))

    got = col.wait(count=N_MESSAGES, idle=15, timeout=120)
    msgs = col.messages
    problems = []
    if not got or len(msgs) != N_MESSAGES:
        problems.append("collected %d messages, expected %d" % (len(msgs), N_MESSAGES))
    per_topic = {}
    for m in msgs:
        per_topic[m.topic] = per_topic.get(m.topic, 0) + 1
    for ti, t in enumerate(TOPICS):
        want = len(range(ti, N_MESSAGES, len(TOPICS)))
        if per_topic.get(t, 0) != want:
            problems.append("%s: %d messages, expected %d" % (t, per_topic.get(t, 0), want))
    if col.gaps:
        problems.append("offset gaps: %s" % col.gaps[:5])
    rep.check("collector (started before the topics existed) got all %d messages"
              % N_MESSAGES, problems)

    # each (topic, partition) read in offset order, contiguous from 0
    problems = []
    by_tp = {}
    for m in msgs:
        by_tp.setdefault((m.topic, m.partition), []).append(m.offset)
    for tp, offs in sorted(by_tp.items()):
        if offs != list(range(len(offs))):
            problems.append("%s[%d]: offsets not 0..%d in order" % (tp[0], tp[1], len(offs) - 1))
    rep.check("per-partition order: offsets contiguous from 0 in %d partitions" % len(by_tp),
              problems)

    # what was consumed is what the broker acknowledged, message by message
    acked = {(t, p, o): k for t, p, o, k in deliveries.ok}
    problems = []
    for m in msgs:
        k = acked.get((m.topic, m.partition, m.offset), "missing")
        if k != m.key:
            problems.append("%s[%d]@%d: key %r, delivery report said %r"
                            % (m.topic, m.partition, m.offset, m.key, k))
    rep.check("consumed (topic, partition, offset, key) match the delivery reports", problems)

    # key -> partition stable, per-key order preserved
    problems = []
    part_of = {}
    last_seq = {}
    for m in msgs:
        tk = (m.topic, m.key)
        if part_of.setdefault(tk, m.partition) != m.partition:
            problems.append("%s key %r in partitions %d and %d"
                            % (m.topic, m.key, part_of[tk], m.partition))
        k, seq, _ = m.value.decode().split("|")
        seq = int(seq)
        if k.encode() != m.key:
            problems.append("value %r under key %r" % (m.value, m.key))
        if seq != last_seq.get(tk, -1) + 1:
            problems.append("%s key %r: sequence %d after %d"
                            % (m.topic, m.key, seq, last_seq.get(tk, -1)))
        last_seq[tk] = seq
    used = {p for (t, _), p in part_of.items()}
    if len(used) < 2:
        problems.append("all keys in one partition (%s): partitioner not exercised" % used)
    rep.check("key -> partition stable and per-key order kept (%d keys)" % len(part_of),
              problems)

    problems = []
    now_ms = time.time() * 1000
    for m in msgs:
        if not m.headers or m.headers.get("rowcast.test") != b"bulk" or \
                int(m.headers.get("rowcast.i", b"-1")) != int(m.value.decode().split("|")[2]):
            problems.append("%s[%d]@%d: headers %r" % (m.topic, m.partition, m.offset, m.headers))
        if m.timestamp is None or not (now_ms - 600000 < m.timestamp <= now_ms + 60000):
            problems.append("%s[%d]@%d: timestamp %r" % (m.topic, m.partition, m.offset,
                                                         m.timestamp))
    rep.check("headers and timestamps come back", problems)
    return part_of


def check_late_reader(rep, bootstrap):
    msgs = consume_all(bootstrap, r"^rowcast\.test\.", count=N_MESSAGES, idle=10, timeout=60)
    problems = []
    if len(msgs) != N_MESSAGES:
        problems.append("read %d messages, expected %d" % (len(msgs), N_MESSAGES))
    if msgs and min(m.offset for m in msgs) != 0:
        problems.append("does not start at offset 0")
    rep.check("a reader started after production reads everything from offset 0", problems)


def check_down_up(rep, broker, col, part_of, producer, deliveries):
    n_before = col.count()
    broker.down()
    rep.check("SIGUSR1: broker down, connects refused",
              [] if port_refuses(broker.bootstrap.split(",")[0]) else
              ["a TCP connect to %s still succeeds" % broker.bootstrap])

    ok_before, err_before = len(deliveries.ok), len(deliveries.errors)
    extra = []
    for i in range(5):
        t = TOPICS[i % len(TOPICS)]
        key = ("k%02d" % i).encode()
        value = ("%s|down|%d" % (key.decode(), i)).encode()
        producer.produce(t, value=value, key=key, on_delivery=deliveries,
                         headers=[("rowcast.test", b"down")])
        extra.append((t, key))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        producer.poll(0.2)
    problems = []
    if len(deliveries.ok) != ok_before:
        problems.append("%d messages delivered while down" % (len(deliveries.ok) - ok_before))
    problems += deliveries.errors[err_before:]
    if len(producer) != 5:
        problems.append("%d messages queued in the producer, expected 5" % len(producer))
    rep.check("while down: 5 new messages stay queued, no delivery error", problems)

    broker.up()
    left = producer.flush(60)
    problems = []
    if left:
        problems.append("%d messages still queued 60 s after SIGUSR2" % left)
    problems += deliveries.errors[err_before:]
    new = deliveries.ok[ok_before:]
    if len(new) != 5:
        problems.append("%d delivered after up, expected 5" % len(new))
    for t, p, _, k in new:
        if part_of.get((t, k)) != p:
            problems.append("%s key %r went to partition %d, before to %s"
                            % (t, k, p, part_of.get((t, k))))
    rep.check("SIGUSR2: broker up, the queued messages are delivered to the same partitions",
              problems)

    col.wait(count=n_before + 5, idle=15, timeout=60)
    after = [m for m in col.messages[n_before:]]
    problems = []
    got = sorted((m.topic, m.key) for m in after)
    if got != sorted(extra):
        problems.append("collector got %r after up, expected %r" % (got, sorted(extra)))
    if any(not m.headers or m.headers.get("rowcast.test") != b"down" for m in after):
        problems.append("unexpected messages after up: %r" % after[:3])
    if col.gaps:
        problems.append("offset gaps: %s" % col.gaps[:5])
    rep.check("the running collector survives the outage and gets the 5 messages", problems)


def check_retention(rep, bootstrap):
    topic = "rowcast.retention"
    p = make_producer(bootstrap, **{"linger.ms": 20, "batch.size": 1000000,
                                    "compression.type": "none"})
    value = b"x" * 10000
    n = 800  # ~8 MB into one partition
    for i in range(n):
        while True:
            try:
                p.produce(topic, value=value, key=b"k", partition=0)
                break
            except BufferError:
                p.poll(0.1)
    left = p.flush(60)
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rowcast-test-retention"})
    lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.close()
    problems = []
    if left:
        problems.append("%d not delivered" % left)
    if hi != n:
        problems.append("high watermark %d, expected %d" % (hi, n))
    kept_mb = (hi - lo) * len(value) / 1048576.0
    if lo == 0 or not 3.0 <= kept_mb <= 5.5:
        problems.append("low watermark %d: %.1f MiB kept, expected older data evicted down to "
                        "~5 MiB" % (lo, kept_mb))
    rep.check("retention: after ~8 MB to one partition, offsets %d..%d kept (%.1f MiB)"
              % (lo, hi, kept_mb), problems)


def check_options(rep, rowcast):
    with Broker(rowcast, topics=["rowcast.fixed"], partitions=7, echo_stderr=False) as b:
        c = Consumer({"bootstrap.servers": b.bootstrap, "group.id": "rowcast-test-md"})
        md = c.list_topics(timeout=10)
        c.close()
        problems = []
        t = md.topics.get("rowcast.fixed")
        if t is None or len(t.partitions) != 7:
            problems.append("rowcast.fixed has %s partitions, expected 7"
                            % (len(t.partitions) if t else "no"))
        status = b.stop()
        if status != 0:
            problems.append("SIGTERM: exit status %s, expected 0" % status)
        rep.check("--topic/--partitions pre-creates a 7-partition topic; SIGTERM exits 0",
                  problems)

    r = subprocess.run([rowcast, "broker", "--port", "9092"], capture_output=True, text=True,
                       timeout=10)
    rep.check("--port is refused with exit status 2",
              [] if r.returncode == 2 and "--port" in r.stderr else
              ["exit %d, stderr %r" % (r.returncode, r.stderr)])

    proc = subprocess.Popen([rowcast, "broker", "--exit-on-stdin-eof"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline()
    proc.stdin.close()
    try:
        status = proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        status = "still running 10 s after EOF"
    proc.stdout.close()
    rep.check("--exit-on-stdin-eof: exits 0 when stdin closes",
              [] if line and status == 0 else ["first line %r, status %s" % (line, status)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--verbose", action="store_true", help="show the broker's stderr")
    args = ap.parse_args()
    rep = Report()

    with Broker(args.rowcast, echo_stderr=args.verbose) as broker:
        check_startup(rep, broker)
        deliveries = Deliveries()
        with Collector(broker.bootstrap, r"^rowcast\.test\.") as col:
            t0 = time.monotonic()
            producer, left = produce_bulk(broker.bootstrap, deliveries)
            part_of = check_bulk(rep, col, deliveries, left)
            print("note produced and collected %d messages in %.1f s"
                  % (N_MESSAGES, time.monotonic() - t0))
            check_late_reader(rep, broker.bootstrap)
            check_kcat(rep, broker, TOPICS)
            check_down_up(rep, broker, col, part_of, producer, deliveries)
        check_retention(rep, broker.bootstrap)
        status = broker.stop()
        rep.check("SIGTERM: clean exit (status 0)",
                  [] if status == 0 else ["exit status %s" % status])
    check_options(rep, args.rowcast)
    return rep.summary()


if __name__ == "__main__":
    sys.exit(main())
