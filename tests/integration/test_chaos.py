#!/usr/bin/env python3
"""Exactly once across crashes (issue 10): random kill -9s of every process of a rowcast group,
against a consumer that is not rowcast (python3-confluent-kafka, reading every topic from the
start while rowcast writes), values decoded by python3-avro.

  replay  `rowcast replay` of binlog files written by a real MariaDB (users, orders with a
          composite key, events_log without a primary key; a file rotation half way) into the
          local broker, with kills of the reader, a serializer, the publisher and the
          supervisor (then the same command again, as an operator would): in the first second
          before any checkpoint, during a recovery, and after random progress. The consumer
          must end with every change of `rowcast decode` exactly once, the same values, each
          partition in position order, each key in one partition.
  live    `rowcast run` against a MariaDB started here, a writer committing transactions over
          three tables (one without a primary key) all along, kills of each stage and of the
          supervisor, a server restart and KILLs of the replication connection in the middle;
          the consumer must end with the changes of the server's binlog exactly once, and with
          every transaction the writer saw committed.

The publisher is slowed with librdkafka settings (kafka.linger.ms, a small
kafka.queue.buffering.max.messages) so that a replay lasts long enough for its kills to land
all along it; nothing else is tuned. Each scenario prints: kills, lost, duplicated, out of
order, restarts, mean recovery time, and the seed that replays it.

scripts/chaos runs the long versions (50 kills, 200,000 changes).

Usage: test_chaos.py --rowcast PATH [--only replay,live] [--seed S] [--kills N]
       [--changes N] [--rate N] [--keep]
Exit status: 0 all passed, 1 a check failed, 77 python3-avro, python3-confluent-kafka or
MariaDB is missing.
"""
import argparse
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mariadb_sandbox import MariaDBSandbox, SandboxError, find_tool  # noqa: E402
from pipeline_common import Checks, make_binlogs, new_accounts, skip_if_missing  # noqa: E402

with skip_if_missing(" (install python3-avro and python3-confluent-kafka)"):
    import chaos_lib as cl
    from kafka_tool import Broker
    from test_live import SqlClient, dump_threads, grant_rowcast, copy_binlogs, USER, PASSWORD

ROUND = 203  # changes per round of pipeline_common.write_workload (100 rows a transaction)


def throttle(rate):
    """librdkafka settings that hold the publisher near `rate` messages a second: at most 1,000
    messages queued, each batch sent after linger.ms."""
    linger = max(1, int(1000 * 1000 / rate))
    return [f"kafka.linger.ms={linger}", "kafka.queue.buffering.max.messages=1000"]


def group_opts(state, bootstrap, rate):
    return ["state.dir=" + state, "kafka.bootstrap.servers=" + bootstrap, "serializer.workers=2",
            # the test kills during recoveries on purpose: no giving up after 10
            "supervisor.max_restarts=100000"] + throttle(rate)


def with_opts(args, opts):
    for o in opts:
        args += ["-o", o]
    return args


def finish(ck, label, seed, chaos, group, col, want, min_kills, kinds):
    msgs, arrivals = col.snapshot()
    t0 = time.monotonic()
    res = cl.verify(want, msgs, arrivals, "rowcast", chaos.kills, kinds)
    cl.log(f"chaos {label}: {len(msgs)} messages decoded with python3-avro in {time.monotonic() - t0:.1f} s")
    cl.report(label, seed, chaos, group, res, col)
    bad = cl.failures(res, chaos, col, min_kills)
    ck.check(not bad, f"{label}: every change exactly once, in order, after {len(chaos.kills)} kills (seed {seed})",
             "failed: " + ", ".join(bad) + "\n" + group.stderr_all()[-3000:])
    return res


# ---------------------------------------------------------------------------- replay

def replay_chaos(ck, rc, work, seed, kills, changes, rate):
    label = "replay"
    seed, rnd = cl.new_rng(seed)
    cl.log(f"chaos {label}: seed {seed}, {kills} kills, {changes} changes, publisher near {rate}/s")
    rounds = max(2, -(-changes // ROUND))
    t0 = time.monotonic()
    files = make_binlogs(os.path.join(work, "binlogs"), rounds)
    want = cl.decode_expected(rc, files)
    cl.log(f"chaos {label}: {len(want)} changes in {len(files)} files, written in {time.monotonic() - t0:.0f} s")
    topics = {"users": 150 / ROUND, "orders": 51 / ROUND, "events_log": 2 / ROUND}
    nparts = max(cl.partitions_for(len(want), s) for s in topics.values())
    state = os.path.join(work, "state")
    with Broker(rc, topics=["rowcast.shop." + t for t in topics], partitions=nparts, echo_stderr=False) as broker, \
            cl.TimedCollector(broker.bootstrap, r"^rowcast\.", config=cl.QUIET) as col:
        g = cl.Group(with_opts([rc, "replay"], group_opts(state, broker.bootstrap, rate)) + files, work)
        chaos = cl.Chaos(g, col, rnd, len(want), state)
        try:
            g.start()
            chaos.run(cl.make_plan(rnd, kills))
            # the last run goes to the end by itself
            if g.running() and not cl.wait_for(lambda: not g.running(), 900, 0.2):
                chaos.problems.append("the last run did not finish within 900 s")
            st = g.reap()
            if st != 0:
                chaos.problems.append(f"the last run exited with status {st}")
            col.settle(count=len(want), quiet=3.0, timeout=300)
        finally:
            g.kill_all()
        return finish(ck, label, seed, chaos, g, col, want, kills, cl.Kinds({("users", "score"): "double"}))


# ---------------------------------------------------------------------------- live

LIVE_SCHEMA = """
CREATE DATABASE chaos;
CREATE TABLE chaos.accounts (id INT PRIMARY KEY, owner VARCHAR(40) CHARACTER SET utf8mb4, balance DECIMAL(12,2),
  state ENUM('open','frozen','closed'), updated DATETIME(6));
CREATE TABLE chaos.orders (id BIGINT UNSIGNED, region CHAR(2), qty SMALLINT UNSIGNED, note TEXT,
  PRIMARY KEY (id, region));
CREATE TABLE chaos.audit (txn INT, msg VARCHAR(100));
"""
LIVE_TOPICS = ["rowcast.chaos.accounts", "rowcast.chaos.orders", "rowcast.chaos.audit"]


class LiveWriter(threading.Thread):
    """Transactions of inserts, updates and deletes over chaos.accounts/orders/audit, each with
    one audit row naming it (txn), through one long-lived client, until stop(). `committed`:
    the txns whose COMMIT the server answered; `uncertain`: those cut by a restart or a KILL
    (the server decides: they may or may not be in the binlog). Ids only grow."""

    def __init__(self, db, rnd, txn_per_s):
        super().__init__(daemon=True, name="writer")
        self.db, self.rnd, self.interval = db, rnd, 1.0 / txn_per_s
        self._halt = threading.Event()
        self.committed, self.uncertain, self.errors = set(), set(), []
        self.txn = 0
        self.next_account, self.next_order = 1, 1

    def stop(self):
        self._halt.set()
        self.join(120)

    def sql(self):
        r, s = self.rnd, []
        self.txn += 1
        vals = new_accounts(self, r.randint(1, 15), lambda i, bal, upd: f"({i}, 'owner {i} é', {bal}, 'open', '{upd}')")
        s.append("INSERT INTO chaos.accounts VALUES " + ",".join(vals))
        lo = r.randrange(1, self.next_account)
        s.append(f"UPDATE chaos.accounts SET balance = balance + 1, state = 'frozen' WHERE id BETWEEN {lo} AND {lo + 5}")
        vals = []
        for _ in range(r.randint(1, 30)):
            vals.append(f"({self.next_order}, '{r.choice(['EU', 'US', 'AP'])}', {r.randrange(65536)}, 'order {self.next_order}')")
            self.next_order += 1
        s.append("INSERT INTO chaos.orders VALUES " + ",".join(vals))
        if r.random() < 0.5:
            lo = r.randrange(1, self.next_order)
            s.append(f"DELETE FROM chaos.orders WHERE id BETWEEN {lo} AND {lo + 3}")
        if r.random() < 0.2:
            s.append(f"DELETE FROM chaos.accounts WHERE id = {r.randrange(1, self.next_account)}")
        s.append(f"INSERT INTO chaos.audit VALUES ({self.txn}, 'txn {self.txn}'), ({self.txn}, 'again')")
        return "BEGIN; " + "; ".join(s) + "; COMMIT"

    def run(self):
        client, next_t = None, time.monotonic()
        while not self._halt.is_set():
            try:
                if client is None:
                    client = SqlClient(self.db)
                text = self.sql()
                client.run(text)
                self.committed.add(self.txn)
            except (SandboxError, OSError) as e:
                client = None
                self.uncertain.add(self.txn)
                if "server has gone away" not in str(e) and not any(
                        c in str(e) for c in ("Lost connection", "Can't connect", "ERROR 2013", "ERROR 2006",
                                              "ERROR 2002", "ERROR 1927", "ERROR 1053", "shutdown")):
                    self.errors.append(str(e)[:300])
                time.sleep(0.1)
                continue
            next_t += self.interval
            time.sleep(max(0.0, next_t - time.monotonic()))
            if next_t < time.monotonic():
                next_t = time.monotonic()
        if client is not None:
            client.close()


def kill_dump_connection(db, chaos):
    """KILL of the server's replication thread (rowcast's dump connection), once it is there."""
    ids = cl.wait_for(lambda: dump_threads(db), 60, 0.05)
    for t in ids or []:
        try:
            db.sql(f"KILL {t}")
        except SandboxError:
            pass  # it ended by itself meanwhile
    cl.log(f"chaos live: KILL of the replication connection {ids}")
    chaos.kills_extra.append(("connection KILL", time.monotonic()))


def restart_server(db, chaos):
    cl.log("chaos live: the server shuts down and starts again")
    db.restart()
    chaos.kills_extra.append(("server restart", time.monotonic()))


def live_chaos(ck, rc, work, seed, kills, rate, txn_per_s=40):
    label = "live"
    seed, rnd = cl.new_rng(seed)
    cl.log(f"chaos {label}: seed {seed}, {kills} kills, a writer at {txn_per_s} transactions/s")
    state = os.path.join(work, "state")
    with MariaDBSandbox(extra_args=["--binlog-row-metadata=FULL"]) as db, \
            Broker(rc, topics=LIVE_TOPICS, partitions=16, echo_stderr=False) as broker, \
            cl.TimedCollector(broker.bootstrap, r"^rowcast\.", config=cl.QUIET) as col:
        grant_rowcast(db)
        db.sql(LIVE_SCHEMA)
        opts = group_opts(state, broker.bootstrap, rate) + [
            "source.host=127.0.0.1", f"source.port={db.port}", f"source.user={USER}", f"source.password={PASSWORD}",
            "source.start=earliest", "source.server_id=4343", "source.reconnect_max_ms=1000",
            "source.connect_timeout_ms=3000", "snapshot.mode=never"]  # the stream alone
        g = cl.Group(with_opts([rc, "run"], opts), work)
        chaos = cl.Chaos(g, col, rnd, kills * 1500, state)
        chaos.kills_extra = []
        writer = LiveWriter(db, rnd, txn_per_s)
        try:
            g.start()
            writer.start()
            mid = max(1, kills // 2)
            chaos.run(cl.make_plan(rnd, kills), {mid: lambda: restart_server(db, chaos),
                                                 max(1, mid - 1): lambda: kill_dump_connection(db, chaos),
                                                 min(kills - 1, mid + 1): lambda: kill_dump_connection(db, chaos)})
            time.sleep(1.0)  # a little traffic after the last kill (not an assertion)
            writer.stop()
            files, _ = copy_binlogs(db, os.path.join(work, "binlogs"))
            want = cl.decode_expected(rc, files)
            col.settle(count=len(want), quiet=3.0, timeout=300)
            st = g.stop(120)
            if st != 0:
                chaos.problems.append(f"the last run exited with status {st} on SIGTERM (drain)")
            col.settle(quiet=2.0, timeout=60)
        finally:
            writer.stop()
            g.kill_all()
        res = finish(ck, label, seed, chaos, g, col, want, kills, cl.Kinds({}))
        cl.log(f"chaos {label}: the writer committed {len(writer.committed)} transactions "
               f"({len(writer.uncertain)} cut by a restart or KILL); disruptions: "
               f"{[d for d, _ in chaos.kills_extra]}")
        check_writer(ck, label, writer, col)
        return res


def check_writer(ck, label, writer, col):
    """Every transaction the writer saw committed is in the stream, its two audit rows once."""
    msgs, _ = col.snapshot()
    decoded, _ = cl.decode_messages(msgs, "rowcast")
    count = {}
    for _, _, ch in decoded:
        if ch["table"] == "audit" and ch["op"] == "c":
            count[ch["after"]["txn"]] = count.get(ch["after"]["txn"], 0) + 1
    missing = sorted(t for t in writer.committed if t not in count)
    twice = sorted(t for t, n in count.items() if n != 2)
    unknown = sorted(t for t in count if t not in writer.committed and t not in writer.uncertain)
    ck.check(writer.committed and not missing and not twice and not unknown and not writer.errors,
             f"{label}: the consumer has every transaction the writer committed ({len(writer.committed)}), "
             f"each once, and none it did not write",
             f"missing {len(missing)} {missing[:5]}; not exactly once {len(twice)} {twice[:5]}; "
             f"never written {unknown[:5]}; writer errors {writer.errors[:3]}")


# ---------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--only", default="replay,live")
    ap.add_argument("--seed", type=int, default=None, help="the seed of every random choice (printed)")
    ap.add_argument("--kills", type=int, default=8)
    ap.add_argument("--live-kills", type=int, default=None, help="kills of the live scenario (default --kills)")
    ap.add_argument("--changes", type=int, default=60000, help="changes of the replayed binlog")
    ap.add_argument("--rate", type=int, default=10000, help="messages a second the publisher is held near")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    try:
        find_tool("mariadbd", "mysqld")
    except SandboxError as e:
        print(f"SKIP: {e}")
        return 77
    rc = os.path.abspath(a.rowcast)
    ck = Checks()
    work = tempfile.mkdtemp(prefix="rowcast-chaos-")
    try:
        only = set(a.only.split(","))
        if "replay" in only:
            os.makedirs(os.path.join(work, "replay"))
            replay_chaos(ck, rc, os.path.join(work, "replay"), a.seed, a.kills, a.changes, a.rate)
        if "live" in only:
            os.makedirs(os.path.join(work, "live"))
            live_chaos(ck, rc, os.path.join(work, "live"), a.seed, a.live_kills or a.kills, a.rate)
    finally:
        if a.keep or ck.failed:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())
