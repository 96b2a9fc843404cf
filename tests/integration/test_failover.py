#!/usr/bin/env python3
"""`rowcast run` resumed by GTID after a failover to another server (issue 10 item 5).

  failover  two MariaDB sandboxes, a primary (server_id 1) and a replica (server_id 2) set up
            with CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos (gtid_strict_mode,
            log_slave_updates, binlog_format=ROW, binlog_row_metadata=FULL). A writer commits
            transactions over three tables on the primary (recording every row change it
            committed) while `rowcast run` (source.gtid_resume=true, serializer.format=json)
            streams the primary into the local broker; the primary's binlog is rotated (FLUSH
            BINARY LOGS) so that its file numbers run ahead of the replica's, as they do on any
            two servers with their own history. SIGTERM drains: the checkpoint has a gtid= line.
            The writer commits more on the primary; once the replica has applied all of it
            (MASTER_GTID_WAIT), the primary is shut down, the replica promoted (STOP SLAVE,
            RESET SLAVE ALL) and written to; rowcast is started again with the same state.dir
            against the replica, source.gtid_resume=true. An independent python3-confluent-kafka
            consumer must have every change the writer committed exactly once (by table, kind,
            id and value), before and after the failover.
  unknown   the same checkpoint against an unrelated server that never had those GTIDs: rowcast
            must stop with an error that names the GTID, not stream from somewhere else.

Usage: test_failover.py --rowcast PATH [--only failover,unknown] [--seed N]
(unknown runs after failover, on its checkpoint: --only failover leaves it out)
"""
import argparse
import collections
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pipeline_common import Checks  # noqa: E402
from mariadb_sandbox import MariaDBSandbox, SandboxError  # noqa: E402

try:
    from kafka_tool import Broker, Collector  # noqa: E402
    import test_live  # noqa: E402  (SqlClient, Live, run_once, grant_rowcast)
except ImportError as e:  # python3-confluent-kafka missing
    print(f"SKIP: {e}")
    sys.exit(77)
from test_live import RUNNING, Live, SqlClient, grant_rowcast, run_once, tail  # noqa: E402

QUIET = {"log_level": 2}
REPL_USER, REPL_PASSWORD = "repl", "repl-Secret-7"
TABLES = ("fa", "fb", "fc")


def server_args(server_id):
    return [f"--server-id={server_id}", "--log-slave-updates=ON", "--gtid-strict-mode=ON",
            "--binlog-format=ROW", "--binlog-row-metadata=FULL", "--binlog-row-image=FULL"]


def read_checkpoint(state):
    with open(os.path.join(state, "checkpoint")) as f:
        return dict(l.split("=", 1) for l in f.read().splitlines() if "=" in l)


class Writer(threading.Thread):
    """Transactions over ft.fa/fb/fc (inserts into two or three tables, updates, a delete), each
    committed by one long-lived client and recorded only when the server answered its COMMIT:
    `changes` is every committed row change as (table, kind, id, value), each one unique (ids
    only grow, every update writes a new value, a row is deleted once)."""

    def __init__(self, seed, txn_per_s=60):
        super().__init__(daemon=True, name="writer")
        self.rnd = random.Random(seed)
        self.interval = 1.0 / txn_per_s
        self.rows = {t: {} for t in TABLES}  # id -> v, what is in the table now
        self.next_id = 1
        self.next_v = 1
        self.changes = []
        self.errors = []
        self.db = None
        self._halt = threading.Event()

    def value(self):
        self.next_v += 1
        return self.next_v

    def txn(self):
        r = self.rnd
        sql, ch = [], []
        for t in r.sample(TABLES, r.randint(2, 3)):
            vals = []
            for _ in range(r.randint(1, 4)):
                i, v = self.next_id, self.value()
                self.next_id += 1
                vals.append(f"({i}, {v}, 'row {i} é😀')")
                ch.append((t, "i", i, v))
            sql.append(f"INSERT INTO ft.{t} (id, v, s) VALUES " + ",".join(vals))
        pending = {t: dict(self.rows[t]) for t in TABLES}
        for t, k, i, v in ch:
            pending[t][i] = v
        for _ in range(r.randint(0, 3)):
            t = r.choice(TABLES)
            if not pending[t]:
                continue
            i = r.choice(sorted(pending[t]))
            v = self.value()
            sql.append(f"UPDATE ft.{t} SET v = {v} WHERE id = {i}")
            pending[t][i] = v
            ch.append((t, "u", i, v))
        if r.random() < 0.4:
            t = r.choice(TABLES)
            if pending[t]:
                i = r.choice(sorted(pending[t]))
                sql.append(f"DELETE FROM ft.{t} WHERE id = {i}")
                ch.append((t, "d", i, pending[t].pop(i)))
        return "BEGIN; " + "; ".join(sql) + "; COMMIT", ch, pending

    def commit_some(self, db, n):
        """n transactions now, on db (synchronously)."""
        client = SqlClient(db)
        try:
            for _ in range(n):
                self.one(client)
        finally:
            client.close()

    def one(self, client):
        sql, ch, pending = self.txn()
        client.run(sql)  # raises on any error: nothing is left uncertain (no server goes away while writing)
        self.rows = pending
        self.changes.extend(ch)

    def start_on(self, db):
        self.db = db
        self.start()

    def stop(self):
        self._halt.set()
        self.join(60)

    def run(self):
        client = SqlClient(self.db)
        next_t = time.monotonic()
        try:
            while not self._halt.is_set():
                try:
                    self.one(client)
                except SandboxError as e:
                    self.errors.append(str(e)[:500])
                    return
                next_t += self.interval
                delay = next_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        finally:
            client.close()


def kafka_changes(msgs):
    """(table, kind, id, value) of every JSON change consumed, and those that are not ours."""
    out, odd = [], []
    for m in msgs:
        try:
            v = json.loads(m.value)
            row = v["after"] if v["after"] is not None else v["before"]
            kind = "i" if v["before"] is None else "d" if v["after"] is None else "u"
            out.append((v["table"], kind, int(row["id"]), int(row["v"])))
        except (ValueError, KeyError, TypeError) as e:
            odd.append(f"{m.topic}[{m.partition}]@{m.offset}: {e}")
    return out, odd


def compare_changes(ck, label, want, msgs):
    got, odd = kafka_changes(msgs)
    cw, cg = collections.Counter(want), collections.Counter(got)
    missing = list((cw - cg).elements())
    extra = list((cg - cw).elements())
    dups = sum(n - 1 for n in cg.values() if n > 1)
    ck.check(not odd, f"{label}: every message is a JSON change of ft", "; ".join(odd[:3]))
    ck.check(not missing, f"{label}: every committed change reached Kafka ({len(want) - len(missing)} of {len(want)})",
             f"{len(missing)} missing, e.g. {sorted(missing)[:5]}")
    ck.check(dups == 0 and not [c for c in extra if c not in cw],
             f"{label}: no change twice, none that was not committed ({len(got)} messages)",
             f"{dups} duplicated, {len([c for c in extra if c not in cw])} never committed, e.g. {extra[:5]}")
    return missing, dups


def wait_replica(ck, primary, replica, timeout=60):
    pos = primary.query_value("SELECT @@gtid_binlog_pos")
    r = replica.query_value(f"SELECT MASTER_GTID_WAIT('{pos}', {timeout})")
    cur = replica.query_value("SELECT @@gtid_current_pos")
    ck.check(r == "0", f"the replica has applied everything of the primary (MASTER_GTID_WAIT('{pos}') = {r}, "
             f"replica gtid_current_pos {cur})",
             replica.query("SHOW SLAVE STATUS")[0][:40].__repr__() if r != "0" else "")
    return pos


def binlog_names(db):
    return [os.path.basename(f) for f in db.binlog_files()]


def test_failover(ck, rc, tmp, seed, unknown=True):
    label = "failover"
    state = os.path.join(tmp, "failover-state")
    with MariaDBSandbox(extra_args=server_args(1)) as primary, \
            MariaDBSandbox(extra_args=server_args(2)) as replica:
        primary.sql(f"CREATE USER '{REPL_USER}'@'%' IDENTIFIED BY '{REPL_PASSWORD}';"
                    f"GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'%';")
        replica.sql(f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, "
                    f"MASTER_USER='{REPL_USER}', MASTER_PASSWORD='{REPL_PASSWORD}', MASTER_USE_GTID=slave_pos, "
                    f"MASTER_CONNECT_RETRY=1; START SLAVE;")
        grant_rowcast(primary)  # replicated: the replica has the user too
        primary.sql("CREATE DATABASE ft;" + "".join(
            f"CREATE TABLE ft.{t} (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(40) CHARACTER SET utf8mb4);"
            for t in TABLES))
        wait_replica(ck, primary, replica)
        ck.check(replica.query_value("SELECT COUNT(*) FROM mysql.user WHERE user = 'rowcast'") == "1",
                 "the rowcast user was replicated to the replica")

        writer = Writer(seed)
        with Broker(rc, echo_stderr=False) as broker, \
                Collector(broker.bootstrap, r"^rowcast\.ft\.", config=QUIET) as col:
            # -- before the failover: rowcast on the primary while the writer writes
            live = Live(rc, primary, state, broker.bootstrap, extra=["source.gtid_resume=true"])
            writer.start_on(primary)
            for _ in range(3):  # the primary's binlog numbers run ahead of the replica's
                time.sleep(1.0)
                primary.flush_binlogs()
            time.sleep(1.0)
            code = live.stop()
            ck.check(code == 0, f"{label}: the run on the primary drains on SIGTERM while the writer writes "
                     f"(exit {code}, {live.stop_secs:.1f} s)", tail(live.stderr()))
            cp1 = read_checkpoint(state)
            ck.check(bool(cp1.get("gtid")) and cp1["gtid"].startswith("0-1-"),
                     f"{label}: the checkpoint has the primary's GTID state (gtid={cp1.get('gtid')}, "
                     f"{cp1.get('file')}:{cp1.get('pos')}, changes={cp1.get('changes')})", str(cp1))
            time.sleep(1.0)  # more on the primary while no rowcast runs
            writer.stop()
            ck.check(not writer.errors, f"{label}: the writer committed {len(writer.changes)} changes on the primary",
                     "; ".join(writer.errors[:2]))
            on_primary = len(writer.changes)

            # -- the failover
            gtid_primary = wait_replica(ck, primary, replica)
            pnames, rnames = binlog_names(primary), binlog_names(replica)
            print(f"      primary binlogs {pnames}, replica binlogs {rnames}; primary gtid_binlog_pos {gtid_primary}")
            primary.shutdown_server()
            replica.sql("STOP SLAVE; RESET SLAVE ALL;")
            writer.commit_some(replica, 40)  # the new primary is written to
            after = len(writer.changes) - on_primary
            rgtid = replica.query_value("SELECT @@gtid_binlog_pos")
            print(f"      {on_primary} changes on the primary, {after} on the promoted replica (gtid_binlog_pos {rgtid})")

            # -- rowcast resumes on the replica by the checkpoint's GTID state
            live = Live(rc, replica, state, broker.bootstrap, extra=["source.gtid_resume=true"])
            col.wait(count=len(writer.changes), idle=3.0, timeout=90)
            time.sleep(1.0)
            code = live.stop()
            err = live.stderr()
            ck.check(code == 0 and f"by its GTID state {cp1['gtid']}" in err,
                     f"{label}: the run on the replica resumes by the checkpoint's GTID state (exit {code})", tail(err))
            for l in err.splitlines():
                if "recovery" in l or "skipped" in l or "resuming" in l:
                    print("      rowcast: " + l.strip()[:300])
            cp2 = read_checkpoint(state)
            ck.check(cp2.get("file") in rnames and cp2.get("gtid", "").find("0-2-") >= 0,
                     f"{label}: the checkpoint is now in the replica's binlog with its GTIDs "
                     f"({cp2.get('file')}:{cp2.get('pos')}, gtid={cp2.get('gtid')}, changes={cp2.get('changes')})",
                     str(cp2))
            msgs = col.messages
            missing, dups = compare_changes(ck, label, writer.changes, msgs)
            lost_after = [c for c in missing if c in set(writer.changes[on_primary:])]
            print(f"      changes: {on_primary} before the failover, {after} after; consumed {len(msgs)}; "
                  f"missing {len(missing)} ({len(lost_after)} of them after the failover), duplicated {dups}")
            ck.check(int(cp2.get("changes", -1)) == len(writer.changes),
                     f"{label}: the checkpoint counts every change ({cp2.get('changes')} == {len(writer.changes)})")
            if unknown:
                print("---- unknown")
                test_unknown(ck, rc, tmp, state, broker, col)


def test_unknown(ck, rc, tmp, state, broker, col):
    """The checkpoint (a copy: its GTID state is now the promoted replica's) against an unrelated
    server that never had those GTIDs: an error, exit != 0, naming the GTID state; nothing sent.
    The same broker: the recovery must find the topics rowcast wrote to."""
    label = "unknown"
    st = os.path.join(tmp, "unknown-state")
    shutil.copytree(state, st)
    cp = read_checkpoint(st)
    before = len(col.messages)
    with MariaDBSandbox(extra_args=server_args(3)) as other:
        grant_rowcast(other)
        other.sql("CREATE DATABASE ft; CREATE TABLE ft.fa (id INT PRIMARY KEY, v INT NOT NULL, s VARCHAR(40));"
                  "INSERT INTO ft.fa VALUES (1, 1, 'unrelated')")
        if True:
            code, out, err, secs = run_once(rc, other, st, timeout=30, bootstrap=broker.bootstrap,
                                            extra=["source.gtid_resume=true"])
            col.wait(idle=1.0, timeout=5)
            lines = [l.strip() for l in err.splitlines() if "error" in l.lower()]
            first = lines[0][:300] if lines else err.strip()[:300]
            print(f"      exit {code} after {secs:.1f} s: {first}")
            ck.check(code not in (0, "timeout"), f"{label}: a GTID state the server does not have stops rowcast "
                     f"(exit {code} in {secs:.1f} s)", tail(err))
            gtid = cp["gtid"]
            ck.check(f"checkpoint's GTID state {gtid}" in err and "not in the master's binlog" in err,
                     f"{label}: the error names the GTID state {gtid}", tail(err))
            ck.check("restarting the group" not in err, f"{label}: no restart loop", tail(err))
            sent = len(col.messages) - before
            ck.check(sent == 0, f"{label}: nothing was sent ({sent} messages)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--only", default="", help="comma-separated: failover, unknown")
    ap.add_argument("--seed", type=int, default=10)
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    ck = Checks()
    t0 = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="rowcast-failover-") as tmp:
            src = os.path.dirname(os.path.abspath(a.rowcast))
            os.makedirs(os.path.join(tmp, "bin"))
            for exe in ("rowcast", "rowcast-reader", "rowcast-serializer", "rowcast-publisher"):
                shutil.copy2(os.path.join(src, exe), os.path.join(tmp, "bin", exe))
            rc = os.path.join(tmp, "bin", "rowcast")
            print(f"---- failover (at {time.monotonic() - t0:.1f} s)")
            test_failover(ck, rc, tmp, a.seed, unknown=not only or "unknown" in only)
    finally:
        for run in RUNNING:
            if run.running():
                run.proc.kill()
                run.proc.wait()
    print(f"total {time.monotonic() - t0:.1f} s")
    return ck.summary()


if __name__ == "__main__":
    sys.exit(main())
