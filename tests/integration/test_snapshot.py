#!/usr/bin/python3
"""`rowcast run` snapshots (docs/snapshots.md) against a MariaDB sandbox and the local broker.

  types     every table of the type-coverage suite (test_mariadb_types.py: every type and edge
            value of the decoder tests, a table without a primary key with duplicate rows) and
            an empty table are snapshotted; then `INSERT ... SELECT` copies each table into a
            twin. Every `r` after-image must equal the `c` after-image the binlog gives for the
            same row (as multisets per table: the same rows, value for value); the empty table
            gives no message and the snapshot completes.
  avro      the same in Avro: the r and c after records decoded by python3-avro with the
            writer schemas of the schema topic.
  replica   20,000 rows (--rows), read in chunks of 1,000 while a writer inserts, updates and
            deletes; a consumer folds the topic (r/c/u upsert by key, d delete) and the result
            must equal the table's rows at the end, value for value (CAST to text by the
            server); and the log says where the table's snapshot started and ended.
  kill      the same with the reader killed (kill -9) in the middle of the snapshot: the
            restarted group resends the chunks Kafka had not acknowledged identically (the
            skip table drops what Kafka has) and reads on: the fold is still equal, no row
            comes twice as r.
  killsup   the same with the supervisor killed (kill -9; its stages follow it) and
            `rowcast run` started again: the pending snapshot resumes.
  lock      the replica case with snapshot.position=read_lock (the MySQL route, forced on
            MariaDB, 2,000 rows in chunks of 400): a user with RELOAD gets a brief FLUSH TABLES WITH READ LOCK per
            chunk; a user with LOCK TABLES only, LOCK TABLES ... READ per chunk (the log says
            so). The fold must equal the table and no row come twice as r, with each.
  nopk      a table without a primary key (4,000 rows, duplicates) read whole in one snapshot
            and spooled in pieces of 500 rows under a writer: the multiset fold equals the
            table, and it went out as several chunks.
  nopkkill  the same between two keyed tables, the reader killed (kill -9) right after the
            pieces went out: the restarted group sends the unacknowledged ones again; the
            fold still equals the table.
  ddl       a table dropped and another altered (ADD COLUMN) between two chunks (the reader
            pauses at a test hook): the dropped one's snapshot ends with a warning naming it and
            the rest goes on; the altered one's later chunks carry the new column like the
            stream's changes; every row once as r, the fold equals the table. Then /metrics
            (metrics.listen): promtool check metrics passes, rowcast_snapshot_rows_total and
            rowcast_snapshot_table_rows{table} equal the r messages, the tables add up.
  ondemand  `rowcast snapshot od.t` while `rowcast run` streams with snapshot.mode=never: the
            running reader takes the request, every row comes once as r, the stream goes on, a
            second request meanwhile is refused, the fold equals the table.
  privilege a user without SELECT on a table named in snapshot.tables: exit 2 at once, with a
            message naming the table.

Usage: test_snapshot.py --rowcast PATH [--only types,avro,replica,kill,killsup,lock,nopk,nopkkill,ddl,ondemand,privilege] [--rows N]
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pipeline_common import Background, child_processes, run_driver, skip_if_missing, wait_for  # noqa: E402
from mariadb_sandbox import MariaDBSandbox, SandboxError  # noqa: E402
import test_mariadb_types as types_suite  # noqa: E402

with skip_if_missing():
    from kafka_tool import Broker, Collector  # noqa: E402

USER, PASSWORD = "rowcast", "rc-Secret-42"
RUNNING = []


class Run(Background):
    """`rowcast run` in the background, output in files beside the state dir."""

    def __init__(self, rc, db, state, bootstrap, extra=(), user=USER, password=PASSWORD, env=None):
        self.state = state
        opts = ["state.dir=" + state, "serializer.format=json", "source.host=127.0.0.1", f"source.port={db.port}",
                f"source.user={user}", f"source.password={password}", "source.start=latest",
                "source.server_id=4343", f"kafka.bootstrap.servers={bootstrap}"]
        args = [rc, "run"]
        for o in opts + list(extra):
            args += ["-o", o]
        super().__init__(args, state + ".stdout", state + ".stderr", RUNNING,
                         dict(os.environ, **env) if env else None)

    def log(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


def grant(db, user=USER, password=PASSWORD, select="*.*"):
    db.sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}';"
           f"GRANT REPLICATION SLAVE, BINLOG MONITOR ON *.* TO '{user}'@'%';"
           f"GRANT SELECT ON {select} TO '{user}'@'%';")


def changes(msgs, table):
    """The JSON change lines of one table's topic."""
    return [json.loads(m.value) for m in msgs if m.topic == "rowcast." + table]


def canon(after):
    return json.dumps(after, sort_keys=True)


# ---------------------------------------------------------------------------- types

def avro_afters(msgs, table):
    """The `after` records of one table's Avro messages, decoded by python3-avro with the writer
    schemas of the schema topic (C3 01 + fingerprint framing), as comparable text; and ops."""
    import io
    import struct
    import avro.io
    import avro.schema
    def strip_logical(j):  # raw values: python3-avro cannot hold year 0 or invalid dates
        if isinstance(j, dict):
            return {k: strip_logical(v) for k, v in j.items() if k != "logicalType"}
        return [strip_logical(v) for v in j] if isinstance(j, list) else j
    writers = {}
    for m in msgs:
        if m.topic == "rowcast._schemas":
            writers[m.key.decode()] = avro.schema.parse(json.dumps(strip_logical(json.loads(m.value))))
    out, ops = [], []
    for m in msgs:
        if m.topic != "rowcast." + table:
            continue
        fp = "%016x" % struct.unpack("<Q", m.value[2:10])[0]
        w = writers[fp]
        v = avro.io.DatumReader(w, w).read(avro.io.BinaryDecoder(io.BytesIO(m.value[10:])))
        ops.append(v["op"])
        out.append(repr(sorted(v["after"].items())) if v["after"] is not None else "null")
    return out, ops


def test_types(ck, rc, tmp, db, broker, fmt="json"):
    """fmt json: rowcast's canonical JSON; avro: the after records decoded by python3-avro."""
    dbn = "rc_types" if fmt == "json" else "rc_types_" + fmt  # topics of its own
    db.sql("CREATE DATABASE " + dbn)
    names = []
    for table, rows in types_suite.TABLES:
        db.sql(table.ddl(), database=dbn)
        ids = 1
        for r in rows:
            r = {k: v for k, v in r.items() if k in table.by_name}
            cols = ["id"] + list(r) if table.pk else list(r)
            vals = [str(ids)] + list(r.values()) if table.pk else list(r.values())
            db.sql("SET SESSION sql_mode=''; SET time_zone='+00:00'; INSERT INTO `%s` (%s) VALUES (%s)" % (
                table.name, ",".join("`%s`" % c for c in cols), ",".join(vals)), database=dbn)
            ids += 1
        db.sql("CREATE TABLE `z_%s` LIKE `%s`" % (table.name, table.name), database=dbn)
        names.append(table.name)
    db.sql("CREATE TABLE t_empty (id INT PRIMARY KEY, v VARCHAR(10)); CREATE TABLE z_t_empty LIKE t_empty",
           database=dbn)
    state = os.path.join(tmp, "types-state-" + fmt)
    with Collector(broker.bootstrap, r"^rowcast\.(" + dbn + r"\.|_schemas$)") as col:
        run = Run(rc, db, state, broker.bootstrap, [f"snapshot.tables={dbn}.t_*", "snapshot.chunk_rows=3",
                                                     "serializer.format=" + fmt])
        done = wait_for(lambda: "snapshot complete" in run.log() or not run.running(), 120, 0.1)
        ck.check(done and run.running(), f"types {fmt}: the snapshot completes", run.log()[-3000:])
        for n in names + ["t_empty"]:
            db.sql("SET SESSION sql_mode=''; INSERT INTO `z_%s` SELECT * FROM `%s`" % (n, n), database=dbn)
        total = sum(len(rows) for _t, rows in types_suite.TABLES)
        wait_for(lambda: len([m for m in col.messages if m.topic != "rowcast._schemas"]) >= 2 * total, 120, 0.1)
        code = run.stop()
        ck.check(code == 0, f"types {fmt}: rowcast run drains and exits 0", f"exit {code}: {run.log()[-2000:]}")
        msgs = col.messages
    for table, rows in types_suite.TABLES:
        if fmt == "avro":
            sa, sops = avro_afters(msgs, dbn + "." + table.name)
            ta, tops = avro_afters(msgs, dbn + ".z_" + table.name)
        else:
            snap, twin = changes(msgs, dbn + "." + table.name), changes(msgs, dbn + ".z_" + table.name)
            sa, sops = [canon(c["after"]) for c in snap], [c["op"] for c in snap]
            ta, tops = [canon(c["after"]) for c in twin], [c["op"] for c in twin]
        ck.check(len(sops) == len(rows) and all(o == "r" for o in sops),
                 f"types {fmt}: {table.name}: one r change per row ({len(rows)})", f"got {len(sops)}: ops {Counter(sops)}")
        ck.check(len(tops) == len(rows) and all(o == "c" for o in tops),
                 f"types {fmt}: z_{table.name}: one c change per row", f"got {len(tops)}")
        snap = sa
        a, b = Counter(sa), Counter(ta)
        diff = [(k, a[k], b[k]) for k in set(a) | set(b) if a[k] != b[k]]
        ck.check(snap and not diff, f"types {fmt}: {table.name}: every r after-image equals the binlog's c after-image",
                 "\n".join(f"r x{x} c x{y}: {k[:600]}" for k, x, y in diff[:6]))
    ck.check(not [m for m in msgs if m.topic == "rowcast." + dbn + ".t_empty"], f"types {fmt}: the empty table gives no change")
    ck.check(f"snapshot of {dbn}.t_nopk started" in run.log() and "no primary key" in run.log(),
             f"types {fmt}: the table without a primary key is read whole", run.log()[-2000:])


# ---------------------------------------------------------------------------- replica

class Writer(threading.Thread):
    """Inserts, updates and deletes on <dbname>.items until stop(), as fast as one client goes."""

    def __init__(self, db, base, dbname, seed=7):
        super().__init__(daemon=True, name="writer")
        self.db, self.rnd, self.next_id, self.base = db, random.Random(seed), base + 1, base
        self.dbname = dbname
        self.halt = threading.Event()
        self.txns = 0
        self.errors = []

    def run(self):
        from test_live import SqlClient
        cl = SqlClient(self.db, self.dbname)
        r = self.rnd
        while not self.halt.is_set():
            s = []
            for _ in range(r.randint(1, 4)):
                k = r.random()
                if k < 0.4:
                    s.append(f"INSERT INTO items VALUES ({self.next_id}, {r.randrange(1000)}, 'new {self.next_id}', "
                             f"{r.randrange(10**6)}.{r.randrange(100):02d}, NOW(6))")
                    self.next_id += 1
                elif k < 0.8:
                    i = r.randrange(1, self.next_id)
                    s.append(f"UPDATE items SET n = n + 1, note = CONCAT('upd ', n), amount = amount + 0.01 WHERE id = {i}")
                else:
                    i = r.randrange(1, self.next_id)
                    s.append(f"DELETE FROM items WHERE id = {i}")
            try:
                cl.run("BEGIN; " + "; ".join(s) + "; COMMIT")
                self.txns += 1
            except SandboxError as e:
                self.errors.append(str(e)[:300])
                cl = SqlClient(self.db, self.dbname)
        cl.close()

    def stop(self):
        self.halt.set()
        self.join(60)


def fold(msgs, topic, stale=None):
    """r/c/u upsert by key, d delete, in partition order; (rows by id, count of r per id). With
    `stale` (a list), every u and d whose before-image differs from the state folded so far for
    its key is noted there: a consumer that saw a row's state at P must then see the changes after
    P, each starting from that state (an r sent before the stream reached its chunk's position
    would be followed by older changes)."""
    state, seen_r = {}, Counter()
    for m in sorted((m for m in msgs if m.topic == topic), key=lambda m: (m.partition, m.offset)):
        ch = json.loads(m.value)
        if ch["op"] in ("u", "d") and ch.get("before"):
            k = ch["before"]["id"]
            if stale is not None and k in state and state[k] != ch["before"]:
                stale.append((k, state[k], ch["before"]))
            state.pop(k, None)
        if ch["op"] in ("r", "c", "u"):
            state[ch["after"]["id"]] = ch["after"]
            if ch["op"] == "r":
                seen_r[ch["after"]["id"]] += 1
    return state, seen_r


def table_rows(db, dbname):
    rows = db.query("SELECT id, n, note, CAST(amount AS CHAR), DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f') FROM items",
                    database=dbname)
    return {int(r[0]): (int(r[1]), r[2], r[3], r[4]) for r in rows}


def folded_rows(state):
    out = {}
    for k, a in state.items():
        at = a["at"]
        out[int(k)] = (a["n"], a["note"], a["amount"], at.rstrip("Z") if isinstance(at, str) else at)
    return out


def replica_case(ck, rc, tmp, db, broker, label, rows, kill, extra=(), user=USER, env=None, quick=False, chunk=None):
    dbname = label + "db"  # a topic of its own: the broker is shared by the cases
    db.sql(f"DROP DATABASE IF EXISTS {dbname}; CREATE DATABASE {dbname}")
    # AUTO_INCREMENT: the writer's inserts move the table's counter, which is not a change of
    # its definition (the check between chunks must not take it for an ALTER)
    db.sql("CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, n INT, note VARCHAR(40), amount DECIMAL(12,2), "
           "at DATETIME(6))", database=dbname)
    db.sql(f"INSERT INTO items SELECT seq, seq % 1000, CONCAT('row ', seq), seq * 1.5, '2026-01-02 03:04:05.123456' "
           f"FROM seq_1_to_{rows}", database=dbname)
    state = os.path.join(tmp, label + "-state")
    topic = f"rowcast.{dbname}.items"
    with Collector(broker.bootstrap, "^" + topic.replace(".", r"\.") + "$") as col:
        before = len([m for m in col.messages])
        writer = Writer(db, rows, dbname)
        writer.start()
        run = Run(rc, db, state, broker.bootstrap, [f"snapshot.tables={dbname}.items",
                                                     "snapshot.chunk_rows=%d" % (chunk or (100 if kill else 200)),
                                                     "batch.max_changes=500"] + list(extra), user=user, env=env)
        if kill:
            spool = os.path.join(state, "snapshot")
            wait_for(lambda: os.path.isdir(spool) and len(os.listdir(spool)) >= 15, 60, 0.002)
            ck.check("snapshot complete" not in run.log(), f"{label}: the kill comes in the middle of the snapshot")
            stages = [pid for pid, name, _st in child_processes(run.proc.pid) if name.startswith("rowcast-")]
            pids = [pid for pid, name, _st in child_processes(run.proc.pid) if name == "rowcast-reader"]
            ck.check(len(pids) == 1, f"{label}: the reader found", str(pids))
            if kill == "reader":
                for p in pids:
                    os.kill(p, signal.SIGKILL)
            else:  # the supervisor: its stages follow it; `rowcast run` again resumes
                run.proc.kill()
                run.proc.wait()
                gone = wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in stages), 30, 0.05)
                ck.check(gone, f"{label}: the stages exit when the supervisor is killed")
                earlier = run.log()
                run = Run(rc, db, state, broker.bootstrap, [f"snapshot.tables={dbname}.items",
                                                             "snapshot.chunk_rows=100", "batch.max_changes=500"])
                run.earlier = earlier
        done = wait_for(lambda: run.log().count("snapshot complete") >= 1 or not run.running(), 240, 0.1)
        time.sleep(0.3 if quick else 1.0)
        writer.stop()
        ck.check(done and run.running(), f"{label}: the snapshot completes while the writer writes "
                 f"({writer.txns} transactions)", run.log()[-3000:])
        ck.check(not writer.errors, f"{label}: the writer had no errors", "\n".join(writer.errors[:3]))
        # the stream drains to the end of the binlog
        if quick:  # a last row marks the end: once it is in, a short quiet spell is enough
            db.sql("INSERT INTO items VALUES (999999999, 0, 'the end', 0, NOW(6))", database=dbname)
            wait_for(lambda: any(b"the end" in m.value for m in col.messages), 60, 0.05)
            col.wait(idle=1, timeout=60)
            wait_for(lambda: "Kafka acknowledged the whole snapshot" in run.log(), 30, 0.1)
        else:
            col.wait(idle=4, timeout=120)
        code = run.stop()
        msgs = col.messages
    ck.check(code == 0, f"{label}: rowcast run drains and exits 0", f"exit {code}")
    stale = []
    state_rows, seen_r = fold(msgs, topic, stale)
    ck.check(not stale, f"{label}: every change after a row's r starts from the state the r gave",
             f"{len(stale)} changes: {stale[:3]}")
    got, want = folded_rows(state_rows), table_rows(db, dbname)
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    wrong = [k for k in want if k in got and got[k] != want[k]]
    ck.check(not missing and not extra and not wrong,
             f"{label}: the fold of the topic equals the table ({len(want)} rows)",
             f"missing {missing[:5]} extra {extra[:5]} wrong {[(k, got[k], want[k]) for k in wrong[:3]]}")
    evicted = [line for line in broker.log if topic + " partition" in line and "lost its oldest" in line]
    ck.check(not evicted, f"{label}: the local broker kept every message of {topic}", "\n".join(evicted[:2]))
    twice = [k for k, n in seen_r.items() if n > 1]
    log = getattr(run, "earlier", "") + run.log()
    ck.check(f"snapshot of {dbname}.items started" in log and f"snapshot of {dbname}.items done" in log,
             f"{label}: the log says where the table's snapshot started and ended")
    ck.check(not twice, f"{label}: no row comes twice as r", f"{len(twice)} rows: {twice[:5]}\n" +
             "\n".join(l for l in log.splitlines() if "snapshot" in l or "exited" in l or "killed" in l)[-3000:])
    ck.check("its definition changed" not in log, f"{label}: the writer's inserts (AUTO_INCREMENT moving) are not "
             "taken for an ALTER between chunks", "\n".join(l for l in log.splitlines() if "definition" in l)[:2000])
    if kill:
        ck.check("resuming the snapshot" in log, f"{label}: the restarted reader resumes the snapshot",
                 "\n".join(l for l in log.splitlines() if "snapshot" in l)[-2000:])
    ck.check("Kafka acknowledged the whole snapshot" in log or "Kafka has all of it" in log, f"{label}: the snapshot request is done once Kafka has it")
    m = [l for l in log.splitlines() if "snapshot complete" in l]
    print(f"  {label}: {m[-1] if m else ''}")
    return log


def test_read_lock(ck, rc, tmp, db, broker, rows):
    """snapshot.position=read_lock forced on MariaDB (the MySQL route): with RELOAD, a brief
    FLUSH TABLES WITH READ LOCK per chunk; without it (LOCK TABLES only), a table lock per chunk.
    The replica case must hold with each: the fold equals the table, no row twice as r."""
    grant(db, "locker", PASSWORD)
    db.sql("GRANT RELOAD ON *.* TO 'locker'@'%'")
    log = replica_case(ck, rc, tmp, db, broker, "lockg", rows, kill=False, user="locker", quick=True, chunk=400,
                       extra=["snapshot.position=read_lock"], env={"ROWCAST_LOG": "debug"})
    held = [float(l.split(" held for ")[1].split()[0]) for l in log.splitlines() if "FLUSH TABLES WITH READ LOCK held for" in l]
    ck.check(held and "refuses FLUSH TABLES" not in log, "lockg: every chunk's position read under FLUSH TABLES WITH READ LOCK",
             "\n".join(l for l in log.splitlines() if "snapshot" in l)[-1500:])
    if held:
        print(f"  lockg: FTWRL held {len(held)} times, max {max(held):.3f} ms, mean {sum(held) / len(held):.3f} ms (under load)")
    grant(db, "tlocker", PASSWORD)
    db.sql("GRANT LOCK TABLES ON *.* TO 'tlocker'@'%'")
    log = replica_case(ck, rc, tmp, db, broker, "lockt", rows, kill=False, user="tlocker", quick=True, chunk=400,
                       extra=["snapshot.position=read_lock"], env={"ROWCAST_LOG": "debug"})
    held = [float(l.split(" held for ")[1].split()[0]) for l in log.splitlines() if "LOCK TABLES ... READ held for" in l]
    ck.check(held and "refuses FLUSH TABLES WITH READ LOCK" in log,
             "lockt: without RELOAD, the log says so and each chunk is read under LOCK TABLES",
             "\n".join(l for l in log.splitlines() if "snapshot" in l)[-1500:])
    if held:
        print(f"  lockt: LOCK TABLES held {len(held)} times, max {max(held):.3f} ms, mean {sum(held) / len(held):.3f} ms (under load)")


def test_nopk(ck, rc, tmp, db, broker, rows=4000, kill=False):
    """A table without a primary key (duplicate rows too), read whole in one snapshot and spooled
    in pieces of snapshot.chunk_rows rows while a writer inserts, updates and deletes: the
    multiset fold (the first r starts it over: a keyless table's r rows are its contents at their
    position; r/c add the after row, u replaces its before row, d removes it) equals the table's
    rows at the end, and the pieces went out as several chunks. kill: keyed tables before
    and after it, and the reader killed (kill -9) before the chunk after its pieces (the test
    hook pauses it there): the pieces Kafka had not acknowledged are sent again, the fold holds."""
    from test_live import SqlClient
    dbn, label = ("nkk", "nopk kill") if kill else ("nk", "nopk")
    db.sql(f"DROP DATABASE IF EXISTS {dbn}; CREATE DATABASE {dbn}")
    db.sql("CREATE TABLE t (id INT, n INT, v VARCHAR(30));"
           f"INSERT INTO t SELECT seq % {rows // 2}, seq % 7, CONCAT('v', seq % {rows // 2}) FROM seq_1_to_{rows}",
           database=dbn)
    if kill:  # chunks 1-3 of a, the pieces of t (one read), then the pause before z's chunk
        db.sql("CREATE TABLE a (id INT PRIMARY KEY); INSERT INTO a SELECT seq FROM seq_1_to_1000;"
               "CREATE TABLE z (id INT PRIMARY KEY); INSERT INTO z SELECT seq FROM seq_1_to_100", database=dbn)
    halt, txns, errors = threading.Event(), [0], []

    def write():
        cl, rnd, nid = SqlClient(db, dbn), random.Random(11), rows
        while not halt.is_set():
            k, i = rnd.random(), rnd.randrange(rows // 2)
            sql = (f"INSERT INTO t VALUES ({nid}, 1, 'new')" if k < 0.4 else
                   f"UPDATE t SET n = n + 1 WHERE id = {i}" if k < 0.8 else f"DELETE FROM t WHERE id = {i} LIMIT 1")
            nid += 1
            try:
                cl.run(sql)
                txns[0] += 1
            except SandboxError as e:
                errors.append(str(e)[:300])
                cl = SqlClient(db, dbn)
        cl.close()
    w = threading.Thread(target=write, daemon=True)
    state, pause = os.path.join(tmp, dbn + "-state"), os.path.join(tmp, dbn + "-pause")
    with Collector(broker.bootstrap, r"^rowcast\." + dbn + r"\.t$") as col:
        w.start()
        run = Run(rc, db, state, broker.bootstrap, [f"snapshot.tables={dbn}.*", "snapshot.chunk_rows=500",
                                                     "batch.max_changes=500"],
                  env={"ROWCAST_TEST_SNAPSHOT_PAUSE": "5:" + pause} if kill else None)
        if kill:
            paused = wait_for(lambda: os.path.exists(pause) or not run.running(), 60, 0.02) and run.running()
            pids = [pid for pid, name, _st in child_processes(run.proc.pid) if name == "rowcast-reader"]
            ck.check(paused and len(pids) == 1, f"{label}: the reader pauses after the pieces, and is killed", str(pids))
            for p in pids:
                os.kill(p, signal.SIGKILL)
            os.unlink(pause)
        done = wait_for(lambda: "snapshot complete" in run.log() or not run.running(), 120, 0.1)
        time.sleep(0.5)
        halt.set()
        w.join(60)
        db.sql("INSERT INTO t VALUES (-1, 0, 'end')", database=dbn)
        wait_for(lambda: any(b'"end"' in m.value for m in col.messages), 60, 0.1)
        col.wait(idle=1, timeout=60)
        code = run.stop()
        msgs = col.messages
    log = run.log()
    ck.check(done and code == 0, f"{label}: the snapshot completes under a writer ({txns[0]} transactions); exit 0",
             f"exit {code}: {log[-2000:]}")
    ck.check(not errors, f"{label}: the writer had no errors", "\n".join(errors[:3]))
    m = re.search(r"snapshot complete: (\d+) rows sent in (\d+) chunks", log)
    ck.check("its definition changed" not in log, f"{label}: the writer's inserts (AUTO_INCREMENT moving) are not "
             "taken for an ALTER between chunks", "\n".join(l for l in log.splitlines() if "definition" in l)[:2000])
    if kill:
        ck.check("resuming the snapshot" in log, f"{label}: the restarted reader resumes the snapshot",
                 "\n".join(l for l in log.splitlines() if "snapshot" in l)[-2000:])
    else:
        ck.check(m and int(m.group(2)) >= rows // 500, f"{label}: the table went out in pieces of chunk_rows rows",
                 m.group(0) if m else log[-1500:])
    rowset, stale, seen_r = Counter(), [], False
    for msg in sorted(msgs, key=lambda m: (m.partition, m.offset)):
        ch = json.loads(msg.value)
        if ch["op"] == "r" and not seen_r:  # a keyless table's r rows are its contents at P: start over
            rowset, stale, seen_r = Counter(), [], True
        if ch["op"] in ("u", "d"):
            b = canon(ch["before"])
            if rowset[b] <= 0:
                stale.append(ch["before"])
            rowset[b] -= 1
        if ch["op"] in ("r", "c", "u"):
            rowset[canon(ch["after"])] += 1
    want = Counter(canon({"id": int(r[0]), "n": int(r[1]), "v": r[2]})
                   for r in db.query("SELECT id, n, v FROM t", database=dbn))
    got = +rowset
    ops = Counter(json.loads(m.value)["op"] for m in msgs)
    ck.check(not stale, f"{label}: every u and d removes a row the fold has", f"{stale[:3]}; ops {dict(ops)}")
    ck.check(got == want, f"{label}: the multiset fold equals the table ({sum(want.values())} rows)",
             f"only in the fold {list((got - want).items())[:4]}; only in the table {list((want - got).items())[:4]}\n" +
             "\n".join(l for l in log.splitlines() if "snapshot" in l or "killed" in l)[-3000:])


def test_ddl(ck, rc, tmp, db, broker):
    """DDL between two chunks (the reader pauses before chunks 3 and 6: ROWCAST_TEST_SNAPSHOT_PAUSE):
    dd.a (3,000 rows in chunks of 500) is dropped after its 2nd chunk: its snapshot ends there with
    a warning naming it, and the rest goes on; dd.c gets ADD COLUMN after its 2nd chunk: the
    following chunks carry the new column, with the same after-image shape as the stream's changes
    after the ALTER; every row of dd.c comes once as r and the fold equals the table."""
    db.sql("DROP DATABASE IF EXISTS dd; CREATE DATABASE dd")
    db.sql("CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(20)); CREATE TABLE c (id INT PRIMARY KEY, v VARCHAR(20));"
           "INSERT INTO a SELECT seq, CONCAT('a', seq) FROM seq_1_to_3000;"
           "INSERT INTO c SELECT seq, CONCAT('c', seq) FROM seq_1_to_3000", database="dd")
    import test_metrics as tm
    state, pause = os.path.join(tmp, "ddl-state"), os.path.join(tmp, "ddl-pause")
    port = tm.free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    with Collector(broker.bootstrap, r"^rowcast\.dd\.") as col:
        run = Run(rc, db, state, broker.bootstrap, ["snapshot.tables=dd.*", "snapshot.chunk_rows=500",
                                                     f"metrics.listen=127.0.0.1:{port}", "metrics.interval_ms=100"],
                  env={"ROWCAST_TEST_SNAPSHOT_PAUSE": "3,6:" + pause})
        for ddl in ("DROP TABLE a", "ALTER TABLE c ADD COLUMN extra VARCHAR(10) NOT NULL DEFAULT 'x'"):
            ck.check(wait_for(lambda: os.path.exists(pause) or not run.running(), 60, 0.02) and run.running(),
                     f"ddl: the reader pauses between two chunks for: {ddl}", run.log()[-1500:])
            db.sql(ddl, database="dd")
            os.unlink(pause)
        done = wait_for(lambda: "snapshot complete" in run.log() or not run.running(), 60, 0.1)
        db.sql("INSERT INTO c VALUES (9001, 'after', 'y'); UPDATE c SET v = 'upd' WHERE id = 10", database="dd")
        col.wait(count=1000 + 3000 + 2, timeout=60)
        text = [""]

        def reported():  # the reader's report after the last chunk: both tables done
            st, text[0] = tm.get(url)
            return st == 200 and re.search(r"^rowcast_snapshot_tables_done\{[^}]*\} 2$", text[0], re.M)
        wait_for(reported, 30, 0.1)
        code = run.stop()
        msgs = col.messages
    log = run.log()
    smp = tm.check_text(ck, "ddl: /metrics", text[0])
    nr = {t: len([c for c in changes(msgs, t) if c["op"] == "r"]) for t in ("dd.a", "dd.c")}
    ck.check(tm.total(smp, "rowcast_snapshot_rows_total") == sum(nr.values()) == 4000,
             "ddl: /metrics: rowcast_snapshot_rows_total equals the r messages",
             f"metric {tm.total(smp, 'rowcast_snapshot_rows_total')}, r {nr}")
    tr = {t: tm.total(smp, "rowcast_snapshot_table_rows", table=t) for t in nr}
    ck.check(tr == nr, "ddl: /metrics: rowcast_snapshot_table_rows{table} equals each table's r messages", str(tr))
    ck.check(("rowcast_snapshot_table_rows_estimate", frozenset({("table", "dd.c")})) in smp and
             tm.total(smp, "rowcast_snapshot_table_done", table="dd.a") == 1 and
             tm.total(smp, "rowcast_snapshot_tables") == 2 and tm.total(smp, "rowcast_snapshot_chunks_total") >= 8,
             "ddl: /metrics: the estimate, done, tables and chunks figures are there and add up",
             str({k: v for k, v in smp.items() if "snapshot" in k[0]})[:900])
    ck.check(done and code == 0, "ddl: the snapshot completes and rowcast run exits 0 (no crash, no restart)",
             f"exit {code}: {log[-2500:]}")
    ck.check("dd.a: the table was dropped while it was read" in log and "restarting the group" not in log,
             "ddl: the dropped table's snapshot ends with a warning naming it",
             "\n".join(l for l in log.splitlines() if "snapshot" in l)[-1500:])
    ra = [c for c in changes(msgs, "dd.a") if c["op"] == "r"]
    ck.check(len(ra) == 1000 and sorted(c["after"]["id"] for c in ra) == list(range(1, 1001)),
             "ddl: dd.a: the rows of the chunks read before the DROP, once each", f"{len(ra)} r")
    ck.check("dd.c: its definition changed (ALTER TABLE)" in log, "ddl: the log says dd.c was altered while read",
             "\n".join(l for l in log.splitlines() if "snapshot" in l)[-1500:])
    cc = changes(msgs, "dd.c")
    rc_ = [c for c in cc if c["op"] == "r"]
    ids = Counter(c["after"]["id"] for c in rc_)
    ck.check(len(ids) == 3000 and max(ids.values()) == 1, "ddl: dd.c: every row once as r", f"{len(rc_)} r, {len(ids)} ids")
    old = [c for c in rc_ if "extra" not in c["after"]]
    new = [c for c in rc_ if "extra" in c["after"]]
    ck.check(sorted(c["after"]["id"] for c in old) == list(range(1, 1001)) and
             all(c["after"]["extra"] == "x" for c in new) and len(new) == 2000,
             "ddl: dd.c: the chunks before the ALTER have the old columns, those after it the new column's value",
             f"old {len(old)} new {len(new)}")
    stream = [c for c in cc if c["op"] in ("c", "u")]
    ck.check(len(stream) == 2 and all(sorted(c["after"]) == sorted(new[0]["after"]) for c in stream),
             "ddl: dd.c: the r rows after the ALTER have the columns of the stream's changes after it",
             str(stream)[:600])
    state_rows, _ = fold(msgs, "rowcast.dd.c")
    want = {int(r[0]): (r[1], r[2]) for r in db.query("SELECT id, v, extra FROM c", database="dd")}
    got = {int(k): (a["v"], a.get("extra", "x")) for k, a in state_rows.items()}
    ck.check(got == want, f"ddl: dd.c: the fold equals the table ({len(want)} rows)")


def test_ondemand(ck, rc, tmp, db, broker):
    """`rowcast snapshot TABLE` while `rowcast run` streams (snapshot.mode=never): the running
    reader picks the request up, the stream goes on, the fold equals the table."""
    db.sql("DROP DATABASE IF EXISTS od; CREATE DATABASE od")
    db.sql("CREATE TABLE od.t (id INT PRIMARY KEY, v VARCHAR(20));"
           "INSERT INTO od.t SELECT seq, CONCAT('v', seq) FROM seq_1_to_3000", database="od")
    state = os.path.join(tmp, "od-state")
    with Collector(broker.bootstrap, r"^rowcast\.od\.t$") as col:
        run = Run(rc, db, state, broker.bootstrap, ["snapshot.mode=never"])
        wait_for(lambda: "recorded in" in run.log(), 60, 0.05)
        db.sql("INSERT INTO od.t VALUES (5000, 'before')")
        ck.check(col.wait(count=1, timeout=30), "ondemand: the stream runs (snapshot.mode=never sends no r)")
        p = subprocess.run([rc, "snapshot", "-o", "state.dir=" + state, "od.t"], capture_output=True, text=True)
        ck.check(p.returncode == 0, "ondemand: rowcast snapshot TABLE asks for it", p.stderr)
        p2 = subprocess.run([rc, "snapshot", "-o", "state.dir=" + state, "od.t"], capture_output=True, text=True)
        ck.check(p2.returncode == 2 and "in progress" in p2.stderr, "ondemand: a second request is refused meanwhile",
                 p2.stderr)
        done = wait_for(lambda: "Kafka acknowledged the whole snapshot" in run.log() or not run.running(), 60, 0.1)
        db.sql("UPDATE od.t SET v = 'after' WHERE id = 7; DELETE FROM od.t WHERE id = 8")
        col.wait(count=1 + 3001 + 2, timeout=60)
        code = run.stop()
        msgs = col.messages
    ck.check(done and code == 0, "ondemand: the snapshot is done and acknowledged while streaming; exit 0",
             f"exit {code}: {run.log()[-1500:]}")
    ch = [json.loads(m.value) for m in msgs]
    ck.check(Counter(c["op"] for c in ch) == Counter({"r": 3001, "c": 1, "u": 1, "d": 1}),
             "ondemand: every row once as r, and the stream's changes", str(Counter(c["op"] for c in ch)))
    state_rows, _ = fold(msgs, "rowcast.od.t")
    want = {int(r[0]): r[1] for r in db.query("SELECT id, v FROM t", database="od")}
    got = {int(k): a["v"] for k, a in state_rows.items()}
    ck.check(got == want, f"ondemand: the fold equals the table ({len(want)} rows)")


def test_privilege(ck, rc, tmp, db, broker):
    db.sql("CREATE DATABASE IF NOT EXISTS pub; CREATE DATABASE IF NOT EXISTS secret;"
           "CREATE TABLE IF NOT EXISTS pub.a (id INT PRIMARY KEY); CREATE TABLE IF NOT EXISTS secret.b (id INT PRIMARY KEY)")
    grant(db, "limited", PASSWORD, select="pub.*")
    state = os.path.join(tmp, "priv-state")
    run = Run(rc, db, state, broker.bootstrap, ["snapshot.tables=pub.*,secret.b"], user="limited")
    try:
        code = run.proc.wait(60)
    except subprocess.TimeoutExpired:
        code = "timeout"
    log = run.log()
    ck.check(code == 2, "privilege: a table the user cannot read: exit 2", f"exit {code}: {log[-1500:]}")
    ck.check("secret.b" in log and "SELECT" in log, "privilege: the message names the table and SELECT", log[-1500:])
    ck.check(log.count("snapshot planned") == 0 or log.count("starting") <= 2, "privilege: no restart loop")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--rows", type=int, default=20000)
    a = ap.parse_args()
    only = set(x for x in a.only.split(",") if x)

    # the replica cases' topics made with enough partitions that the local broker (about 5 MiB a
    # partition) keeps every message of --rows rows and the writer's changes: with the default
    # 4, a 200,000-row run evicts its first messages before a slow consumer has read them
    parts = max(8, a.rows // 4000)
    topics = [f"rowcast.{label}db.items" for label in ("replica", "kill", "killsup")]

    def body(ck, rc, tmp, t0):
        with MariaDBSandbox(extra_args=["--binlog-row-image=FULL"]) as db, \
                Broker(rc, topics=topics, partitions=parts, echo_stderr=False) as broker:
            grant(db)
            if not only or "types" in only:
                test_types(ck, rc, tmp, db, broker)
            if not only or "avro" in only:
                test_types(ck, rc, tmp, db, broker, "avro")
            if not only or "replica" in only:
                replica_case(ck, rc, tmp, db, broker, "replica", a.rows, kill=False)
            if not only or "kill" in only:
                replica_case(ck, rc, tmp, db, broker, "kill", a.rows, kill="reader")
            if not only or "killsup" in only:
                replica_case(ck, rc, tmp, db, broker, "killsup", a.rows, kill="supervisor")
            if not only or "lock" in only:
                test_read_lock(ck, rc, tmp, db, broker, min(a.rows, 2000))
            if not only or "nopk" in only:
                test_nopk(ck, rc, tmp, db, broker)
            if not only or "nopkkill" in only:
                test_nopk(ck, rc, tmp, db, broker, kill=True)
            if not only or "ddl" in only:
                test_ddl(ck, rc, tmp, db, broker)
            if not only or "ondemand" in only:
                test_ondemand(ck, rc, tmp, db, broker)
            if not only or "privilege" in only:
                test_privilege(ck, rc, tmp, db, broker)
    return run_driver(a.rowcast, "rc-snapshot-", RUNNING, body)


if __name__ == "__main__":
    sys.exit(main())
