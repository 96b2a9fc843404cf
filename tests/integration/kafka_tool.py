"""Kafka helpers for rowcast's integration tests: the local broker and a collecting consumer.

Usage:

    from kafka_tool import Broker, Collector, consume_all

    with Broker("/path/to/rowcast") as broker:          # `rowcast broker` in a subprocess
        bootstrap = broker.bootstrap                      # "127.0.0.1:PORT"
        with Collector(bootstrap, r"^rowcast\\..*") as col:   # reads in a background thread
            ... produce ...
            col.wait(count=1000, idle=5.0)                # until 1000 messages or 5 s quiet
            msgs = col.messages                           # list of Msg, in arrival order
        broker.down()                                     # SIGUSR1: every broker down
        broker.up()                                       # SIGUSR2: back up, same ports

The broker is librdkafka's mock cluster (see supervisor/broker.c): topics are auto-created
with 4 partitions on first use, every partition keeps only ~5 MiB of message sets and evicts
older ones, so a consumer must read while the producer writes: that is what Collector is for.

Collector does not join a consumer group. It lists the cluster's topics every
`refresh_interval` seconds, and every partition of a topic whose name matches the regex is
added to the consumer's assignment at OFFSET_BEGINNING (incremental_assign). So messages
produced before the topic was discovered are read from the log start (offset 0 unless already
evicted), there is no rebalance pause and no committed offset to go wrong. Offset gaps inside
a partition (evicted data, or transaction control records) are reported in `gaps`.

Needs Debian's /usr/bin/python3 with python3-confluent-kafka; the standard library otherwise.
"""

import collections
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

__all__ = ["Broker", "BrokerError", "Collector", "Msg", "consume_all"]


class BrokerError(RuntimeError):
    pass


Msg = collections.namedtuple(
    "Msg", "topic partition offset key value headers timestamp timestamp_type")
Msg.__doc__ = """One consumed message. key/value: bytes or None; headers: dict name -> bytes
(the last value wins for a repeated name; None when the message has no headers); timestamp:
milliseconds since the epoch (None if absent); timestamp_type:
confluent_kafka.TIMESTAMP_CREATE_TIME or TIMESTAMP_LOG_APPEND_TIME."""


class Broker:
    """`rowcast broker` in a subprocess; a context manager that always stops it.

    rowcast: path of the rowcast executable. brokers: cluster size. topics: names created at
    start with `partitions` partitions (other topics are auto-created with 4).
    echo_stderr: copy the broker's stderr lines to our stderr (they are also kept in .log).
    """

    def __init__(self, rowcast, brokers=1, topics=(), partitions=None, startup_timeout=10.0,
                 echo_stderr=True):
        self.rowcast = rowcast
        self.args = [rowcast, "broker", "--exit-on-stdin-eof", "--brokers", str(brokers)]
        for t in topics:
            self.args += ["--topic", t]
        if partitions is not None:
            self.args += ["--partitions", str(partitions)]
        self.startup_timeout = startup_timeout
        self.echo_stderr = echo_stderr
        self.proc = None
        self.bootstrap = None
        self.log = []  # the broker's stderr lines
        self._cond = threading.Condition()
        self._stderr_thread = None

    # ------------------------------------------------------------------ lifecycle

    def start(self):
        # stdin is a pipe we never write to: if this process dies, the broker sees EOF.
        self.proc = subprocess.Popen(self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, close_fds=True)
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True,
                                               name="broker-stderr")
        self._stderr_thread.start()
        line = self._read_first_line()
        self.proc.stdout.close()
        if not re.fullmatch(r"127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+)*", line):
            self.stop()
            raise BrokerError("rowcast broker printed %r, not an address list" % line)
        self.bootstrap = line
        return self

    def _read_first_line(self):
        deadline = time.monotonic() + self.startup_timeout
        fd = self.proc.stdout.fileno()
        buf = b""
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self._kill()
                raise BrokerError("rowcast broker printed no address within %.0f s; stderr:\n%s"
                                  % (self.startup_timeout, self.stderr_text()))
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                self._kill()
                time.sleep(0.1)
                raise BrokerError("rowcast broker exited (status %s) before printing its "
                                  "address; stderr:\n%s" % (self.proc.returncode,
                                                            self.stderr_text()))
            buf += chunk
        return buf.split(b"\n", 1)[0].decode("ascii", "replace").strip()

    def _read_stderr(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self.echo_stderr:
                sys.stderr.write(line + "\n")
                sys.stderr.flush()
            with self._cond:
                self.log.append(line)
                self._cond.notify_all()

    def stderr_text(self):
        with self._cond:
            return "\n".join(self.log)

    def stop(self, timeout=10.0):
        """SIGTERM, wait (SIGKILL after `timeout`); returns the exit status (0 = clean)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill()
        self._close_pipes()
        return self.proc.returncode

    def _kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _close_pipes(self):
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f:
                    f.close()
            except OSError:
                pass
        if self._stderr_thread:
            self._stderr_thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # ------------------------------------------------------------------ availability

    def down(self, timeout=5.0):
        """Take every broker down (SIGUSR1) and wait until the broker says it did."""
        self._signal_and_wait(signal.SIGUSR1, ("SIGUSR1: all", "SIGUSR1: brokers already"),
                              timeout)

    def up(self, timeout=5.0):
        """Bring every broker back up (SIGUSR2) and wait until the broker says it did."""
        self._signal_and_wait(signal.SIGUSR2, ("SIGUSR2: all", "SIGUSR2: brokers already"),
                              timeout)

    def _signal_and_wait(self, sig, markers, timeout):
        with self._cond:
            start = len(self.log)
        self.proc.send_signal(sig)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if any(m in line for line in self.log[start:] for m in markers):
                    return
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise BrokerError("rowcast broker did not confirm %s; stderr:\n%s"
                                      % (signal.Signals(sig).name, "\n".join(self.log)))
                self._cond.wait(left)


class Collector:
    """Reads every message of every topic matching `topic_regex`, from the beginning, in a
    background thread, while producers write.

    start()/stop() (or use as a context manager); `messages` is a snapshot list of Msg in
    arrival order; wait(count, idle, timeout) blocks until enough arrived or the topics have
    been quiet for `idle` seconds. `errors`: consumer errors seen (strings); `gaps`: offset
    jumps inside a partition as (topic, partition, expected, got); `eof`: set of
    (topic, partition) currently at their end. `config`: extra consumer properties. The schema
    history topic (<prefix>._schema_history, which holds table versions, not changes) is read
    only when `topic_regex` names it.
    """

    def __init__(self, bootstrap, topic_regex, config=None, refresh_interval=0.5):
        self.bootstrap = bootstrap
        self.regex = re.compile(topic_regex)
        self.history_too = "_schema_history" in topic_regex
        self.refresh_interval = refresh_interval
        self.conf = {
            "bootstrap.servers": bootstrap,
            "group.id": "rowcast-test-%s" % uuid.uuid4().hex,  # never used for a group join
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": True,
            "topic.metadata.refresh.interval.ms": 500,
            # the mock answers Metadata v0-v2 only (no AllowAutoTopicCreation field): asking
            # for a named unknown topic creates it. The collector lists all topics, never asks.
            "reconnect.backoff.max.ms": 1000,
            "log.connection.close": False,
        }
        self.conf.update(config or {})
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._msgs = []
        self._last_arrival = time.monotonic()
        self._next_offset = {}  # (topic, partition) -> next expected offset
        self.errors = []
        self.gaps = []
        self.eof = set()
        self.assigned = set()  # (topic, partition)
        self._stop = threading.Event()
        self._thread = None
        self._exc = None

    # ------------------------------------------------------------------ public

    def start(self):
        self._consumer = Consumer(self.conf)
        self._thread = threading.Thread(target=self._run, daemon=True, name="collector")
        self._thread.start()
        return self

    def stop(self):
        if self._thread:
            self._stop.set()
            self._thread.join(30)
            self._thread = None
        if self._exc:
            raise self._exc

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def messages(self):
        with self._lock:
            return list(self._msgs)

    def count(self):
        with self._lock:
            return len(self._msgs)

    def wait(self, count=None, idle=5.0, timeout=120.0):
        """Until `count` messages were collected (True), or no new message arrived for
        `idle` seconds / `timeout` passed (False if a count was given, else True)."""
        start = time.monotonic()
        deadline = start + timeout
        with self._cond:
            while True:
                if count is not None and len(self._msgs) >= count:
                    return True
                now = time.monotonic()
                quiet_since = max(start, self._last_arrival)  # idle counts from the call, too
                if now - quiet_since >= idle or now >= deadline or self._exc:
                    return count is None
                self._cond.wait(min(0.2, deadline - now))

    # ------------------------------------------------------------------ thread

    def _refresh(self):
        """Assign, from the beginning, every partition of every matching topic not yet ours."""
        try:
            md = self._consumer.list_topics(timeout=2.0)
        except Exception as e:  # KafkaException while brokers are down: try again later
            with self._lock:
                if not self.errors or self.errors[-1] != "list_topics: %s" % e:
                    self.errors.append("list_topics: %s" % e)
            return
        new = []
        for name, tmd in md.topics.items():
            if not self.regex.search(name) or tmd.error is not None or \
                    (name.endswith("._schema_history") and not self.history_too):
                continue
            for p in tmd.partitions:
                if (name, p) not in self.assigned:
                    new.append(TopicPartition(name, p, OFFSET_BEGINNING))
        if new:
            self._consumer.incremental_assign(new)
            with self._lock:
                self.assigned.update((tp.topic, tp.partition) for tp in new)

    def _run(self):
        try:
            next_refresh = 0.0
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_refresh:
                    self._refresh()
                    next_refresh = now + self.refresh_interval
                if not self.assigned:
                    time.sleep(0.05)
                    continue
                batch = self._consumer.consume(num_messages=1000, timeout=0.1)
                if batch:
                    self._take(batch)
        except Exception as e:  # reported by stop()
            self._exc = e
        finally:
            try:
                self._consumer.close()
            except Exception:
                pass

    def _take(self, batch):
        got = []
        with self._lock:
            for m in batch:
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        self.eof.add((m.topic(), m.partition()))
                    else:
                        self.errors.append(str(err))
                    continue
                tp = (m.topic(), m.partition())
                self.eof.discard(tp)
                expected = self._next_offset.get(tp, 0)
                if m.offset() != expected:
                    self.gaps.append((tp[0], tp[1], expected, m.offset()))
                self._next_offset[tp] = m.offset() + 1
                hl = m.headers()
                ts_type, ts = m.timestamp()
                got.append(Msg(m.topic(), m.partition(), m.offset(), m.key(), m.value(),
                               dict(hl) if hl is not None else None,
                               ts if ts_type != 0 else None, ts_type))
            if got:
                self._msgs.extend(got)
                self._last_arrival = time.monotonic()
                self._cond.notify_all()


def consume_all(bootstrap, topic_regex, count=None, idle=5.0, timeout=120.0, config=None):
    """Every message of the matching topics from the beginning, until `count` messages or
    `idle` seconds without a new one. Only for data produced already; to read while a
    producer writes (the broker evicts old data), keep a Collector running instead."""
    with Collector(bootstrap, topic_regex, config=config) as col:
        col.wait(count=count, idle=idle, timeout=timeout)
        return col.messages
