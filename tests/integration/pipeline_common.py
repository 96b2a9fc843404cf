"""Shared pieces of the pipeline tests: a workload written by a real MariaDB, the expected
changes from `rowcast decode`, and the comparison of what a Kafka consumer received.
"""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mariadb_sandbox import MariaDBSandbox  # noqa: E402


STAGE_EXECUTABLES = ("rowcast", "rowcast-reader", "rowcast-serializer", "rowcast-publisher", "rowcast-schema")


class RunOutput:
    """What a rowcast process started with its stdout and stderr in files (out_path, err_path)
    has written so far, as text."""

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


class Background(RunOutput):
    """A rowcast command started in the background, its stdout and stderr in files; appended to
    `runs` (the list run_driver kills at the end), so that none outlives the test."""

    def __init__(self, args, out_path, err_path, runs, env=None):
        self.out_path, self.err_path = out_path, err_path
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env)
        runs.append(self)

    def running(self):
        return self.proc.poll() is None

    def stop(self, timeout=60):
        """SIGTERM (a drain), then wait: the exit status, or 'timeout' (then killed); the time it
        took in stop_secs."""
        t0 = time.monotonic()
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = "timeout"
        self.stop_secs = time.monotonic() - t0
        return code


@contextlib.contextmanager
def skip_if_missing(hint=""):
    """Around the imports of optional Debian modules (python3-confluent-kafka, python3-avro): an
    ImportError in the block ends the test as skipped, "SKIP: <error><hint>" and exit 77
    (ctest's SKIP_RETURN_CODE)."""
    try:
        yield
    except ImportError as e:
        print(f"SKIP: {e}{hint}")
        sys.exit(77)


def new_accounts(writer, n, row):
    """The SQL tuples of `n` new accounts for a workload writer: ids taken in turn from
    writer.next_account (which grows by n), each tuple row(id, balance, updated) with the
    balance and update time both live workloads derive from the id."""
    vals = []
    for _ in range(n):
        i = writer.next_account
        writer.next_account += 1
        vals.append(row(i, f"{i * 13 % 100000}.{i % 100:02d}", f"2026-03-{i % 28 + 1:02d} 12:00:00.{i % 1000000:06d}"))
    return vals


def private_rowcast(rowcast, tmp):
    """Copy the executables next to `rowcast` into tmp/bin and return tmp/bin/rowcast.

    The supervisor runs the stages from its own directory, so with a private copy a rebuild
    during the test cannot swap them under a running group."""
    src = os.path.dirname(os.path.abspath(rowcast))
    os.makedirs(os.path.join(tmp, "bin"))
    for exe in STAGE_EXECUTABLES:
        shutil.copy2(os.path.join(src, exe), os.path.join(tmp, "bin", exe))
    return os.path.join(tmp, "bin", "rowcast")


def kill_running(runs):
    """Kill (SIGKILL) and reap every run in `runs` (objects with .running() and .proc) still
    going: a test that failed half way stops its group (the stages follow the supervisor)."""
    for run in runs:
        if run.running():
            run.proc.kill()
            run.proc.wait()


def run_driver(rowcast, prefix, runs, body):
    """The frame of a test driver's main(): a Checks and a temporary directory (named with
    `prefix`) holding a private copy of rowcast (private_rowcast); body(ck, rc, tmp, t0) runs
    the tests (t0: time.monotonic() at the start). Whatever happens, every run of `runs` still
    going is killed (kill_running); then the total time is printed. Returns ck.summary(), the
    exit status."""
    ck = Checks()
    t0 = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            body(ck, private_rowcast(rowcast, tmp), tmp, t0)
    finally:
        kill_running(runs)
    print(f"total {time.monotonic() - t0:.1f} s")
    return ck.summary()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (for an HTTP endpoint or a server)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, timeout, step=0.02):
    """Poll cond() every `step` seconds until it is true (True) or `timeout` seconds passed
    (then cond() once more decides)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def child_processes(ppid):
    """[(pid, executable name, state)] of the processes whose parent is `ppid`, from /proc: the
    basename of argv[0] and the state letter ('Z': a zombie not reaped yet, whose argv is
    empty). A process that goes away while it is read is left out."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            fields = st[st.rindex(")") + 2:].split()
            if int(fields[1]) != ppid:
                continue
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv0 = os.path.basename(f.read().split(b"\0")[0].decode())
        except (OSError, ValueError, IndexError):
            continue
        kids.append((int(d), argv0, fields[0]))
    return kids


def out_of_order(items, first_only=False):
    """Binlog order per partition. `items`: (message, position) pairs; per (topic, partition),
    in offset order, counts the neighbours whose positions do not increase (a missing position,
    None, counts too). first_only: only the first occurrence of each position takes part (the
    repeats of a retried batch). Returns (count, number of partitions)."""
    by_part = {}
    for m, k in items:
        by_part.setdefault((m.topic, m.partition), []).append((m.offset, k))
    unordered = 0
    for part in by_part.values():
        part.sort(key=lambda e: e[0])
        keys = [k for _, k in part]
        if first_only:
            seen = set()
            keys = [k for k in keys if not (k in seen or seen.add(k))]
        unordered += sum(1 for a, b in zip(keys, keys[1:]) if a is None or b is None or a >= b)
    return unordered, len(by_part)


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("PASS ", what)
        else:
            self.failed += 1
            print("FAIL ", what, ("\n      " + detail) if detail else "")
        sys.stdout.flush()
        return cond

    def summary(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0


WORKLOAD = """
SET GLOBAL binlog_row_metadata = FULL;
CREATE DATABASE shop;
USE shop;
CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(64) CHARACTER SET utf8mb4, balance DECIMAL(12,2),
  created DATETIME(6), score DOUBLE, tags SET('a','b','c'), state ENUM('new','active','gone'));
CREATE TABLE orders (id BIGINT UNSIGNED, region CHAR(2), total DECIMAL(10,2), note TEXT, at TIMESTAMP(3) NULL,
  PRIMARY KEY (id, region));
CREATE TABLE events_log (msg VARCHAR(200), n INT);
"""


def write_workload(db, rounds, rows_per_txn=100, blob_bytes=0):
    """Transactions of inserts, updates and deletes over three tables; FLUSH BINARY LOGS half way."""
    db.sql(WORKLOAD)
    uid = 0
    statements = []
    for r in range(rounds):
        vals = []
        for _ in range(rows_per_txn):
            uid += 1
            vals.append(f"({uid}, 'user {uid} é😀', {uid * 7 % 10000}.{uid % 100:02d}, "
                        f"'2026-01-{uid % 28 + 1:02d} 10:00:{uid % 60:02d}.{uid:06d}', {uid / 7.0}, 'a,c', 'new')")
        statements.append("BEGIN;")
        statements.append("INSERT INTO users VALUES " + ",".join(vals) + ";")
        ovals = []
        for k in range(rows_per_txn // 2):
            note = "x" * blob_bytes if blob_bytes else f"order {r}-{k}"
            ovals.append(f"({r * 1000 + k}, '{'EU' if k % 2 else 'US'}', {k}.50, '{note}', '2026-02-03 04:05:06.{k % 1000:03d}')")
        statements.append("INSERT INTO orders VALUES " + ",".join(ovals) + ";")
        statements.append(f"UPDATE users SET state='active', balance=balance+1 WHERE id > {uid - rows_per_txn // 2};")
        statements.append(f"DELETE FROM orders WHERE id = {r * 1000} AND region = 'US';")
        statements.append(f"INSERT INTO events_log VALUES ('round {r}', {r}), ('again {r}', {r});")
        statements.append("COMMIT;")
        if r == rounds // 2:
            statements.append("FLUSH BINARY LOGS;")
    db.sql("\n".join(statements), database="shop")


def make_binlogs(out_dir, rounds, rows_per_txn=100, blob_bytes=0, extra_args=()):
    """Run the workload on a throwaway MariaDB (with mariadbd options extra_args); copy its
    binlog files to out_dir; return them."""
    os.makedirs(out_dir, exist_ok=True)
    with MariaDBSandbox(extra_args=["--max-binlog-size=1073741824"] + list(extra_args)) as db:
        write_workload(db, rounds, rows_per_txn, blob_bytes)
        db.flush_binlogs()
        files = []
        for f in db.binlog_files()[:-1]:
            dst = os.path.join(out_dir, os.path.basename(f))
            shutil.copyfile(f, dst)
            files.append(dst)
    return files


def decode(rowcast, files):
    p = subprocess.run([rowcast, "decode"] + files, capture_output=True, check=True)
    return [json.loads(l) for l in p.stdout.decode().splitlines()]


def pos_key(change, order):
    p = change["pos"]
    return (order[p["file"]], p["offset"], p["row"])


def compare(ck, label, expected, msgs, order, headers=True):
    """Every expected change exactly once, equal to `rowcast decode`'s line; each partition in
    binlog order; keys stable per partition; with `headers` (publisher.headers=true) the
    position headers agree with the value's position, without it no message has headers."""
    want = {pos_key(c, order): c for c in expected}
    got = {}
    dups = 0
    bad_headers = 0
    for m in msgs:
        v = json.loads(m.value)
        k = pos_key(v, order)
        if k in got:
            dups += 1
        got[k] = (v, m)
        h = m.headers
        if not headers:
            bad_headers += h is not None
        elif (h is None or h.get("rowcast.file", b"").decode() != v["pos"]["file"] or h.get("rowcast.offset", b"").decode() != str(v["pos"]["offset"])
                or h.get("rowcast.row", b"").decode() != str(v["pos"]["row"])):
            bad_headers += 1
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    ck.check(not missing and not extra, f"{label}: every change of the binlog reached Kafka ({len(got)} of {len(want)})",
             f"missing {len(missing)} e.g. {missing[:3]}; unexpected {len(extra)} e.g. {extra[:3]}")
    ck.check(dups == 0, f"{label}: no change twice", f"{dups} duplicates")
    diff = [k for k in want if k in got and got[k][0] != want[k]]
    ck.check(not diff, f"{label}: every message value equals rowcast decode's line",
             "" if not diff else f"{len(diff)} differ, e.g. decode {want[diff[0]]}\n      kafka  {got[diff[0]][0]}")
    ck.check(bad_headers == 0, f"{label}: position headers agree with the value" if headers else
             f"{label}: no message headers (publisher.headers is off)", f"{bad_headers} messages wrong")
    unordered, parts = out_of_order((m, pos_key(json.loads(m.value), order)) for m in msgs)
    ck.check(unordered == 0, f"{label}: each partition in binlog order ({parts} partitions)",
             f"{unordered} out of order")
    key_parts = {}
    for m in msgs:
        if m.key is not None:
            key_parts.setdefault((m.topic, m.key), set()).add(m.partition)
    ck.check(all(len(p) == 1 for p in key_parts.values()) and key_parts,
             f"{label}: one row (key) always lands in one partition ({len(key_parts)} keys)")
