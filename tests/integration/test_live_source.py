#!/usr/bin/env python3
"""The live source (reader/source_server.c) against a real MariaDB, through its test driver
tools/server_dump: every event streamed over the replication protocol must be the event
`rowcast decode --events` finds at the same file and offset of the server's own binlog files.

  - streaming: a writer's inserts, updates and deletes (and a FLUSH BINARY LOGS) while the
    driver streams from `earliest`: the same (file, offset, type, size) sequence for every
    non-artificial event, and the same number of changes;
  - reconnection: the dump connection KILLed and the server restarted mid-stream; the driver
    resumes with rc_server_reconnect at the end of the last complete transaction: no event
    repeated or skipped;
  - start positions: FILE:POS, latest, a MariaDB GTID position, a checkpoint (which wins);
  - a 20 MiB row event (more than one 16 MiB protocol packet) comes through whole;
  - information_schema lookups for table maps without names, and a column-count mismatch;
  - pre-flight failures exit 2 with a message saying what to fix: wrong password (names the
    user), log_bin off, binlog_format=STATEMENT, no REPLICATION SLAVE, no BINLOG MONITOR, a
    purged start file (names the file and what to do), server_id 0, a MySQL GTID set; an
    unreachable server exits 1.

Usage: test_live_source.py --rowcast PATH --server-dump PATH
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from mariadb_sandbox import MariaDBSandbox, SandboxError  # noqa: E402
from pipeline_common import Checks, write_workload  # noqa: E402

USER, PASSWORD = "rc", "rc-pw"


def dump_args(a, db, start, *extra, user=USER, password=PASSWORD, server_id=77):
    return [a.server_dump, "--host", "127.0.0.1", "--port", str(db.port), "--user", user,
            "--password", password, "--server-id", str(server_id), "--start", start,
            "--heartbeat-ms", "200", "--timeout-ms", "200"] + list(extra)


def run_dump(a, db, start, *extra, timeout=120, **kw):
    p = subprocess.run(dump_args(a, db, start, *extra, **kw), capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class Background:
    """The driver running in the background, its output going to files (a pipe nobody reads
    while the test works would fill up and stall the driver)."""

    def __init__(self, args):
        import tempfile
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=self.err)

    def finish(self, timeout=120):
        self.proc.wait(timeout=timeout)
        self.out.seek(0)
        self.err.seek(0)
        out, err = self.out.read().decode(), self.err.read().decode()
        self.out.close()
        self.err.close()
        return self.proc.returncode, out, err


def parse_dump(out):
    """(events, flagged, comments): events = [(file, offset, type, size, changes)] of the
    non-artificial events; flagged = the artificial/resent ones."""
    events, flagged, comments = [], [], []
    for line in out.splitlines():
        if line.startswith("#"):
            comments.append(line)
            continue
        f = line.split()
        ev = (f[0], int(f[1]), f[2], int(f[3]), int(f[4]))
        (flagged if len(f) > 5 else events).append(ev)
    return events, flagged, comments


def decode_events(a, files):
    p = subprocess.run([a.rowcast, "decode", "--events"] + files, capture_output=True, check=True, timeout=300)
    return [json.loads(l) for l in p.stdout.decode().splitlines()]


def decode_changes(a, files):
    p = subprocess.run([a.rowcast, "decode"] + files, capture_output=True, check=True, timeout=300)
    return len(p.stdout.splitlines())


def key(e):
    return (e["file"], e["offset"], e["type"], e["size"])


def after(evs, file, pos, order):
    """Events at or after file:pos."""
    return [e for e in evs if (order[e["file"]], e["offset"]) >= (order[file], pos)]


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"at #{i}: streamed {x}, file {y}"
    return f"lengths {len(a)} vs {len(b)}" + (f"; extra {a[len(b):][:3]}" if len(a) > len(b) else f"; missing {b[len(a):][:3]}")


def restart(db, down_s=2.0):
    """Shut the sandbox's server down and start it again on the same data, port and socket."""
    args = db.proc.args
    subprocess.run([db.admin, "--no-defaults", "--user=root", "--socket=" + db.socket, "shutdown"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    db.proc.wait(timeout=60)
    time.sleep(down_s)  # the server stays away a while: reconnection attempts fail and back off
    db.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    db._wait_ready()


def setup_users(db):
    db.sql(f"""
      CREATE USER {USER}@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';
      GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO {USER}@'127.0.0.1';
      CREATE USER norepl@'127.0.0.1' IDENTIFIED BY 'pw';
      GRANT BINLOG MONITOR, SELECT ON *.* TO norepl@'127.0.0.1';
      CREATE USER nomon@'127.0.0.1' IDENTIFIED BY 'pw';
      GRANT REPLICATION SLAVE, SELECT ON *.* TO nomon@'127.0.0.1';
    """)


def test_streaming(a, ck, db):
    """Stream from earliest while a writer works; compare with the files."""
    bg = Background(dump_args(a, db, "earliest", "--idle-exit", "3000", "--lookup"))
    write_workload(db, 30, rows_per_txn=20)
    code, out, err = bg.finish()
    ck.check(code == 0, "streaming: the driver ends cleanly", err[-2000:])
    events, flagged, comments = parse_dump(out)
    files = db.binlog_files()
    want = decode_events(a, files)
    got = [e[:4] for e in events]
    ck.check(len(files) >= 2 and got == [key(e) for e in want],
             f"streaming: {len(got)} events in {len(files)} files: the same file/offset/type/size as rowcast decode --events",
             first_diff(got, [key(e) for e in want]))
    n_changes = decode_changes(a, files)
    ck.check(sum(e[4] for e in events) == n_changes and n_changes > 1000,
             f"streaming: the same number of changes ({sum(e[4] for e in events)} of {n_changes})")
    rot = [f for f in flagged if f[2] == "ROTATE_EVENT"]
    ck.check(len(rot) >= len(files) and not any(f[2] not in ("ROTATE_EVENT", "GTID_LIST_EVENT", "FORMAT_DESCRIPTION_EVENT") for f in flagged),
             f"streaming: a fake ROTATE per file, returned and flagged ({len(rot)})", str(flagged[:5]))
    status = [c for c in comments if c.startswith("# status")]
    ck.check(status and "behind=0" in status[-1] and "connected=1" in status[-1],
             "streaming: caught up at the end: 0 seconds behind", str(status))
    return want


def test_reconnect(a, ck, db):
    """KILL the dump connection, then restart the server, while a writer works."""
    file, pos = db.master_status()
    db.sql("CREATE TABLE shop.rec (id INT PRIMARY KEY, v INT)")
    bg = Background(dump_args(a, db, f"{file}:{pos}", "--idle-exit", "4000", "--reconnect-test",
                              "--max-backoff-ms", "800"))
    done = threading.Event()
    written = [0]

    def writer():
        i = 0
        while not done.is_set() and i < 400:
            i += 1
            try:
                db.sql(f"BEGIN; INSERT INTO shop.rec VALUES ({i}, 0), ({i + 100000}, 1); "
                       f"UPDATE shop.rec SET v = v + 1 WHERE id = {i}; DELETE FROM shop.rec WHERE id = {i + 100000}; COMMIT;",
                       timeout=30)
                written[0] += 1
            except (SandboxError, subprocess.TimeoutExpired):
                time.sleep(0.2)
            time.sleep(0.005)

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(1.5)
    ids = [r[0] for r in db.query("SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'")]
    ck.check(len(ids) == 1, "reconnect: the driver's dump connection shows in the process list", str(ids))
    for i in ids:
        db.sql(f"KILL {i}")
    time.sleep(1.5)
    restart(db)
    time.sleep(1.5)
    done.set()
    t.join()
    code, out, err = bg.finish()
    ck.check(code == 0, f"reconnect: the driver ends cleanly ({written[0]} transactions written)", err[-2000:])
    events, flagged, comments = parse_dump(out)
    files = db.binlog_files()
    order = {os.path.basename(f): i for i, f in enumerate(files)}
    want = [key(e) for e in after(decode_events(a, files), file, pos, order)]
    got = [e[:4] for e in events]
    ck.check(len(set(got)) == len(got), "reconnect: no event streamed twice",
             str([g for g in got if got.count(g) > 1][:3]))
    ck.check(got == want, f"reconnect: {len(got)} events, none skipped: the same sequence as the files", first_diff(got, want))
    status = [c for c in comments if c.startswith("# status")]
    n = int(status[-1].split("reconnects=")[1].split()[0]) if status else 0
    ck.check(n >= 2, f"reconnect: resumed after the KILL and after the restart ({n} reconnects)", err[-1500:])
    ck.check("reconnect attempt" in err, "reconnect: failed attempts are logged with the backoff", err[-800:])


def test_positions(a, ck, db, evs):
    files = db.binlog_files()
    order = {os.path.basename(f): i for i, f in enumerate(files)}
    # FILE:POS at a transaction in the middle of the first file
    gt = [e for e in evs if e["type"] == "GTID_EVENT"]
    mid = gt[len(gt) // 3]
    code, out, err = run_dump(a, db, f"{mid['file']}:{mid['offset']}", "--idle-exit", "1500")
    events, flagged, _ = parse_dump(out)
    all_now = decode_events(a, files)
    want = [key(e) for e in after(all_now, mid["file"], mid["offset"], order)]
    ck.check(code == 0 and [e[:4] for e in events] == want,
             f"FILE:POS {mid['file']}:{mid['offset']}: the stream starts there and matches the files",
             err[-500:] + first_diff([e[:4] for e in events], want))
    ck.check([f[2] for f in flagged[:2]] == ["ROTATE_EVENT", "FORMAT_DESCRIPTION_EVENT"] and flagged[1][1] == 4,
             "FILE:POS: a fake ROTATE, then the FORMAT_DESCRIPTION re-sent (offset 4) before the first event", str(flagged[:3]))
    # a checkpoint wins over source.start
    code, out, err = run_dump(a, db, "latest", "--checkpoint", f"{mid['file']}:{mid['offset']}", "--count", "3")
    events, _, _ = parse_dump(out)
    ck.check(code == 0 and events and events[0][:2] == (mid["file"], mid["offset"]) and "checkpoint" in err,
             "checkpoint: wins over source.start=latest, and the log says so", err[-500:])
    # MariaDB GTID position: the server starts after that transaction
    g = gt[len(gt) // 2]
    nxt = gt[len(gt) // 2 + 1]
    code, out, err = run_dump(a, db, g["info"]["gtid"], "--idle-exit", "1500")
    events, flagged, _ = parse_dump(out)
    first_gtid = [e for e in events if e[2] == "GTID_EVENT"][:1]
    want = [key(e) for e in after(all_now, nxt["file"], nxt["offset"], order)]
    got = [e[:4] for e in events if (order[e[0]], e[1]) >= (order[nxt["file"]], nxt["offset"])]
    ck.check(code == 0 and first_gtid and first_gtid[0][:2] == (nxt["file"], nxt["offset"]) and got == want,
             f"GTID start {g['info']['gtid']}: the first transaction streamed is {nxt['info']['gtid']}, the rest matches",
             err[-500:] + str(first_gtid) + first_diff(got, want))
    # latest: only what is written afterwards
    file, pos = db.master_status()
    bg = Background(dump_args(a, db, "latest", "--idle-exit", "2000"))
    time.sleep(0.7)
    db.sql("INSERT INTO shop.events_log VALUES ('latest', 1)")
    code, out, err = bg.finish(timeout=60)
    events, _, _ = parse_dump(out)
    ck.check(code == 0 and events and events[0][:2] == (file, pos) and sum(e[4] for e in events) == 1,
             f"latest: starts at {file}:{pos} and gets only the new row", str(events[:4]) + err[-300:])


def test_big_event(a, ck, db):
    db.sql("CREATE TABLE shop.big (id INT PRIMARY KEY, b LONGBLOB)")
    file, pos = db.master_status()
    db.sql("INSERT INTO shop.big VALUES (1, REPEAT('x', 20 * 1024 * 1024))")
    code, out, err = run_dump(a, db, f"{file}:{pos}", "--idle-exit", "2000")
    events, _, _ = parse_dump(out)
    rows = [e for e in events if e[2].startswith("WRITE_ROWS")]
    files = db.binlog_files()
    order = {os.path.basename(f): i for i, f in enumerate(files)}
    want = [key(e) for e in after(decode_events(a, files), file, pos, order)]
    ck.check(code == 0 and rows and rows[0][3] > 20 * 1024 * 1024 and rows[0][4] == 1,
             f"20 MiB row: one WRITE_ROWS event of {rows[0][3] if rows else 0} bytes, whole, CRC checked, 1 change",
             err[-800:])
    ck.check([e[:4] for e in events] == want, "20 MiB row: offsets match the file", first_diff([e[:4] for e in events], want))


def test_lookup(a, ck, db):
    db.sql("SET GLOBAL binlog_row_metadata = MINIMAL")
    db.sql("CREATE TABLE shop.lk (id INT UNSIGNED PRIMARY KEY, `we\"ird` VARCHAR(5), e ENUM('a','b''c'), s SET('x','y'), n SMALLINT)")
    file, pos = db.master_status()
    db.sql("INSERT INTO shop.lk VALUES (1, 'q', 'b''c', 'x,y', -3)")
    db.sql("ALTER TABLE shop.lk ADD COLUMN z INT")
    db.sql("INSERT INTO shop.lk VALUES (2, 'r', 'a', 'y', 4, 5)")
    db.sql("SET GLOBAL binlog_row_metadata = FULL")
    code, out, err = run_dump(a, db, f"{file}:{pos}", "--idle-exit", "1500", "--lookup")
    look = [l for l in out.splitlines() if l.startswith("# lookup shop.lk")]
    ck.check(len(look) == 2 and "has 6 columns in information_schema" in look[0] and "but 5 in its TABLE_MAP" in look[0],
             "lookup: a table whose column count changed since the event is reported, not guessed", "\n".join(look))
    ck.check(len(look) == 2 and look[1] == "# lookup shop.lk: id(pk)(unsigned),we\"ird,e[a|b'c],s[x|y],n,z",
             "lookup: names, signedness, ENUM/SET labels and the primary key from information_schema", "\n".join(look))


def test_preflight(a, ck, db):
    code, out, err = run_dump(a, db, "earliest", password="wrong")
    ck.check(code == 2 and f"'{USER}'" in err and "password" in err, "wrong password: exit 2, naming the user", err)
    code, out, err = run_dump(a, db, "earliest", user="norepl", password="pw")
    ck.check(code == 2 and "REPLICATION SLAVE" in err and "norepl" in err, "no REPLICATION SLAVE: exit 2 naming the privilege", err)
    code, out, err = run_dump(a, db, "earliest", user="nomon", password="pw")
    ck.check(code == 2 and "BINLOG MONITOR" in err, "no BINLOG MONITOR: exit 2 naming the privilege", err)
    code, out, err = run_dump(a, db, "earliest", server_id=0)
    ck.check(code == 2 and "server_id" in err, "server_id 0: exit 2", err)
    code, out, err = run_dump(a, db, "earliest", server_id=1)
    ck.check(code == 2 and "server_id" in err, "the server's own server_id: exit 2", err)
    code, out, err = run_dump(a, db, "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5")
    ck.check(code == 2 and "MySQL GTID" in err, "a MySQL GTID set: exit 2 saying it is not supported", err)
    code, out, err = run_dump(a, db, "nonsense")
    ck.check(code == 2 and "FILE:POS" in err, "a malformed start: exit 2 with the accepted forms", err)
    db.sql("SET GLOBAL binlog_format = STATEMENT")
    try:
        code, out, err = run_dump(a, db, "earliest")
        ck.check(code == 2 and "binlog_format is STATEMENT" in err and "ROW" in err, "binlog_format=STATEMENT: exit 2", err)
    finally:
        db.sql("SET GLOBAL binlog_format = ROW")
    db.sql("SET GLOBAL binlog_row_image = MINIMAL")
    try:
        code, out, err = run_dump(a, db, "latest", "--count", "1")
        ck.check(code == 0 and "binlog_row_image is MINIMAL" in err and "absent" in err,
                 "binlog_row_image=MINIMAL: a warning saying what it costs", err)
    finally:
        db.sql("SET GLOBAL binlog_row_image = FULL")
    code, out, err = run_dump(a, db, "earliest", "--count", "1", "--host", "127.0.0.1", "--port", "1")
    ck.check(code == 1, "an unreachable server: exit 1 (transient)", err)


def test_purged(a, ck, db):
    first = os.path.basename(db.binlog_files()[0])
    db.flush_binlogs()
    last = os.path.basename(db.binlog_files()[-1])
    # MariaDB keeps a file until its binlog checkpoint has passed: purge until it is gone
    deadline = time.time() + 30
    while True:
        db.sql(f"PURGE BINARY LOGS TO '{last}'")
        left = [os.path.basename(f) for f in db.binlog_files()]
        if first not in left or time.time() > deadline:
            break
        time.sleep(0.2)
    ck.check(left == [last], f"PURGE BINARY LOGS TO '{last}' leaves only {last}", str(left))
    code, out, err = run_dump(a, db, f"{first}:4", "--count", "5")
    ck.check(code == 2 and first in err and "purged" in err and "earliest" in err,
             "purged start file: exit 2 naming the file and what to do", err)
    code, out, err = run_dump(a, db, "earliest", "--checkpoint", f"{first}:4", "--count", "5")
    ck.check(code == 2 and first in err and "checkpoint" in err, "purged checkpoint file: exit 2 saying to remove the checkpoint", err)
    code, out, err = run_dump(a, db, "earliest", "--count", "2")
    ev, fl, _ = parse_dump(out)
    ck.check(code == 0 and fl and fl[0][0] == last, f"earliest after the purge: starts at {last}", err[-300:])


def test_log_bin_off(a, ck):
    with MariaDBSandbox(extra_args=["--skip-log-bin"]) as db:
        setup_users_nobinlog(db)
        code, out, err = run_dump(a, db, "earliest")
        ck.check(code == 2 and "binary logging is disabled" in err, "log_bin=OFF: exit 2 saying the binlog is disabled", err)


def setup_users_nobinlog(db):
    db.sql(f"CREATE USER {USER}@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';"
           f"GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO {USER}@'127.0.0.1';")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--server-dump", required=True)
    a = ap.parse_args()
    a.rowcast = os.path.abspath(a.rowcast)
    a.server_dump = os.path.abspath(a.server_dump)
    ck = Checks()
    try:
        with MariaDBSandbox(extra_args=["--max-allowed-packet=64M", "--max-binlog-size=1073741824"]) as db:
            setup_users(db)
            evs = test_streaming(a, ck, db)
            test_positions(a, ck, db, evs)
            test_big_event(a, ck, db)
            test_lookup(a, ck, db)
            test_reconnect(a, ck, db)
            test_preflight(a, ck, db)
            test_purged(a, ck, db)
        test_log_bin_off(a, ck)
    except SandboxError as e:
        if "found on PATH" in str(e):
            print(f"SKIP: {e}")
            sys.exit(77)
        ck.check(False, "sandbox", str(e))
    except Exception as e:  # noqa: BLE001 - report, count, and fail
        import traceback
        traceback.print_exc()
        ck.check(False, f"unexpected {type(e).__name__}", str(e))
    sys.exit(ck.summary())


if __name__ == "__main__":
    main()
