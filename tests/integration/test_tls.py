#!/usr/bin/env python3
"""TLS to the source and the source's secrets, against one MariaDB the test starts with
certificates it makes with openssl: a CA, a server certificate it signed (subject alternative
name IP:127.0.0.1 only), and a second, self-signed CA that signed nothing of the server's. The
server listens on 127.0.0.1 and 127.0.0.2, so that a name the certificate does not hold reaches
it too.

  verify_ca      source.tls=verify_ca with the right CA streams: the rows arrive in Kafka (read by
                 python3-confluent-kafka), the server counts TLS handshakes (Ssl_accepts) and
                 rowcast says TLS. The password comes from source.password_file (mode 0600). During
                 the run, a distinctive password appears in no /proc/PID/cmdline of the supervisor
                 or of any stage, not in stats.json, not in the stages' config file, and after it
                 in no log line; state.dir and run.dir were created 0700, the config file 0600.
  wrong CA       verify_ca with the other CA: exit 2 at once naming the certificate problem, no
                 restart loop; with a pre-existing state.dir of mode 0755 (warned, chmod 700) and
                 the password in a --config file of mode 0644 (warned, chmod 600); `rowcast config
                 --show` of that file redacts the passwords; a source.tls_ca naming no file.
  identity       verify_identity to 127.0.0.1 (in the certificate) connects, the password given as
                 -o source.password=... and blanked in the supervisor's command line; to
                 127.0.0.2 (not in it) exit 2 naming the host check.
  tracker        the table written with binlog_row_metadata=MINIMAL (the server's global, for the
                 run) and the user altered to REQUIRE SSL (the server refuses it any connection in
                 clear): `run` under verify_ca starts the schema tracker, which connects to the
                 source over TLS itself (its own log line; the server, which requires SSL of
                 the user, let it in) to read the server's schema, and the rows arrive named.
                 The password, given in ROWCAST_SOURCE_PASSWORD, is in neither the tracker's
                 /proc/PID/cmdline nor its /proc/PID/environ (the reader's environment has it),
                 nor in a log line or a file of the state dir (schema_history included).
  disabled       source.tls=disabled streams with no TLS handshake (Ssl_accepts unchanged), the
                 password from ROWCAST_SOURCE_PASSWORD.
  no TLS         the server restarted without TLS (--skip-ssl): required refuses it (exit 2, "does
                 not offer TLS"), verify_identity too (before the login), preferred streams with
                 a warning.

Usage: test_tls.py --rowcast PATH
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pipeline_common import Background, free_port, child_processes, run_driver, skip_if_missing, wait_for  # noqa: E402
from mariadb_sandbox import MariaDBSandbox  # noqa: E402

with skip_if_missing():
    from kafka_tool import Broker, Collector  # noqa: E402

USER, SECRET = "rowcast", "Tls-pw-9Qz4Wd7Xk"
RUNNING = []


def tail(text, n=2500):
    return text[-n:]


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    """ca.pem (signed the server's), other-ca.pem (signed nothing of ours), server.pem/key."""
    os.makedirs(d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for name in ("ca", "other-ca"):
        openssl("req", "-x509", *ec, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
                "-subj", f"/CN=rowcast test {name}", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=rowcast-test-server", cwd=d)
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return {n: os.path.join(d, n) for n in ("ca.pem", "other-ca.pem", "server.pem", "server.key")}


class Run(Background):
    """`rowcast run` in the background, output in files beside its state dir."""

    def __init__(self, rc, args, state, env=None):
        self.state = state
        super().__init__([rc, "run"] + args, state + ".stdout", state + ".stderr", RUNNING, env)


def opts(db, state, host="127.0.0.1", **kw):
    o = {"state.dir": state, "serializer.format": "json", "source.host": host, "source.port": str(db.port),
         "source.user": USER, "source.server_id": "4343", "source.connect_timeout_ms": "3000",
         "supervisor.max_restarts": "2", "snapshot.mode": "never"}  # the stream alone
    o.update(kw)
    args = []
    for k, v in o.items():
        args += ["-o", f"{k}={v}"]
    return args


def run_once(rc, args, env=None, timeout=30):
    """`rowcast run` expected to stop by itself: (exit status or 'timeout', stderr, seconds)."""
    t0 = time.monotonic()
    try:
        p = subprocess.run([rc, "run"] + args, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, env=env)
        code, err = p.returncode, p.stderr.decode() + p.stdout.decode()
    except subprocess.TimeoutExpired as e:
        code, err = "timeout", (e.stderr or b"").decode()
    return code, err, time.monotonic() - t0


def refused(ck, what, res, pattern):
    code, err, secs = res
    first = next((l for l in err.splitlines() if "error" in l), err.strip()[:300])
    ok = code == 2 and re.search(pattern, err, re.I) and "restarting the group" not in err and SECRET not in err
    ck.check(ok, f"{what}: exit 2 in {secs:.1f} s, no restart (exit {code}): {first.strip()[:220]}",
             f"expected /{pattern}/:\n{tail(err)}")


def plain_sql(db, sql):
    """The mariadb CLI without TLS (this client asks for TLS by default, which the server would
    count among its Ssl_accepts)."""
    r = subprocess.run(db._client_args() + ["--skip-ssl"], input=sql.encode(), capture_output=True, check=True)
    return r.stdout.decode()


def ssl_accepts(db):
    """The server's count of TLS handshakes: only rowcast's, the test's own clients use none."""
    return int(plain_sql(db, "SHOW GLOBAL STATUS LIKE 'Ssl_accepts'").split()[1])


def ids_of(col, table):
    return sorted(json.loads(m.value)["after"]["id"] for m in col.messages
                  if m.topic == f"rowcast.tls.{table}" and m.value)


def write_rows(db, table, first, n):
    plain_sql(db, f"CREATE TABLE IF NOT EXISTS tls.{table} (id INT PRIMARY KEY, note VARCHAR(40));"
              + "".join(f"INSERT INTO tls.{table} VALUES ({i}, 'row {i}');" for i in range(first, first + n)))


def proc_texts(pid):
    """The supervisor's command line and those of its children (the stages), NUL bytes as blanks."""
    out = {}
    for p in [pid] + [k for k, _, st in child_processes(pid) if st != "Z"]:
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                out[p] = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            pass
    return out


def scrape(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read().decode("utf-8", "replace")
    except OSError as e:
        return f"(no answer: {e})"


def mode_of(path):
    return oct(os.stat(path).st_mode & 0o777)


def test_verify_ca(ck, rc, tmp, db, certs, broker, col):
    label = "verify_ca"
    write_rows(db, "a", 1, 20)
    pwfile = os.path.join(tmp, "pw")
    with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(SECRET + "\n")
    state, run_dir = os.path.join(tmp, "ca-state"), os.path.join(tmp, "ca-run")
    before = ssl_accepts(db)
    port = free_port()
    live = Run(rc, opts(db, state, **{"source.tls": "verify_ca", "source.tls_ca": certs["ca.pem"],
                                      "metrics.listen": f"127.0.0.1:{port}",
                                      "source.password_file": pwfile, "run.dir": run_dir,
                                      "kafka.bootstrap.servers": broker.bootstrap}), state,
               env=dict(os.environ, ROWCAST_LOG="debug"))  # every log line rowcast has
    got = wait_for(lambda: len(ids_of(col, "a")) >= 20 or not live.running(), 30, 0.1)
    write_rows(db, "a", 21, 10)  # while it streams
    got = got and wait_for(lambda: len(ids_of(col, "a")) >= 30 or not live.running(), 30, 0.1)
    ck.check(got and ids_of(col, "a") == list(range(1, 31)),
             f"{label}: rows written before and during the run arrive in Kafka ({len(ids_of(col, 'a'))} of 30)",
             tail(live.stderr()))
    after = ssl_accepts(db)
    ck.check(after > before, f"{label}: the server counts rowcast's TLS handshakes (Ssl_accepts {before} -> {after})")
    texts = proc_texts(live.proc.pid)
    stages = [t for t in texts.values() if "rowcast-" in t]
    ck.check(len(stages) >= 3 and not any(SECRET in t for t in texts.values()),
             f"{label}: the password is in no command line of the supervisor or its {len(stages)} stages",
             "\n".join(texts.values()))
    wait_for(lambda: os.path.exists(os.path.join(state, "stats.json")), 5)
    with open(os.path.join(state, "stats.json")) as f:
        stats = f.read()
    ck.check('"stage":"reader"' in stats and SECRET not in stats, f"{label}: stats.json holds no password", stats[:300])
    scraped = []  # the last scrape: the stages' figures come with their first snapshots
    wait_for(lambda: "rowcast_reader_changes_total" in (scraped.append(scrape(f"http://127.0.0.1:{port}/metrics"))
                                                        or scraped[-1]), 10, 0.2)
    metrics = scraped[-1]
    health = scrape(f"http://127.0.0.1:{port}/healthz")
    ck.check("rowcast_reader_changes_total" in metrics and SECRET not in metrics and SECRET not in health,
             f"{label}: /metrics ({len(metrics)} bytes) and /healthz hold no password", metrics[:300])
    cfg = os.path.join(run_dir, "config.ini")
    with open(cfg) as f:
        cfg_text = f.read()
    ck.check(SECRET not in cfg_text and "password_file" in cfg_text and mode_of(cfg) == "0o600",
             f"{label}: the stages' config file names the password file, not the password ({mode_of(cfg)})")
    ck.check(mode_of(state) == "0o700" and mode_of(run_dir) == "0o700",
             f"{label}: state.dir and run.dir created private ({mode_of(state)}, {mode_of(run_dir)})")
    code = live.stop()
    err = live.stderr() + live.stdout()
    ck.check(code == 0 and re.search(r"over TLS \(TLSv1\.[23], [^)]+\); the server's certificate is signed by "
                                     r"source\.tls_ca", err),
             f"{label}: rowcast says TLS and the CA check; SIGTERM drains, exit {code}", tail(err))
    ck.check(SECRET not in err, f"{label}: no log line holds the password ({len(err.splitlines())} lines)")


def test_wrong_ca(ck, rc, tmp, db, certs):
    state = os.path.join(tmp, "wrong-state")
    os.makedirs(state)
    os.chmod(state, 0o755)
    ini = os.path.join(tmp, "wrong.ini")
    with open(ini, "w") as f:
        f.write(f"[source]\npassword = {SECRET}\n")
    os.chmod(ini, 0o644)
    res = run_once(rc, ["--config", ini] + opts(db, state, **{"source.tls": "verify_ca",
                                                               "source.tls_ca": certs["other-ca.pem"]}))
    refused(ck, "verify_ca with a CA that did not sign the server's certificate", res,
            r"TLS to 127\.0\.0\.1:\d+ refused \(source\.tls=verify_ca\).*(certificate|issuer)")
    err = res[1]
    ck.check(re.search(r"state\.dir \S+ can be read by its group or others \(mode 0755\): chmod 700", err)
             and re.search(r"wrong\.ini holds source\.password: .*mode 0644\): chmod 600 \S+wrong\.ini", err),
             "warnings: a state.dir open to others (chmod 700), a config file holding a password open to others "
             "(chmod 600)", tail(err))
    p = subprocess.run([rc, "config", "--show", "--config", ini, "-o", f"kafka.sasl.password={SECRET}"],
                       capture_output=True, text=True)
    ck.check(p.returncode == 0 and SECRET not in p.stdout + p.stderr and "\npassword = (redacted)\n" in p.stdout
             and "\nsasl.password = (redacted)\n" in p.stdout and "the source's password: source.password" in p.stdout,
             "rowcast config --show: the effective configuration with the passwords redacted", p.stdout + p.stderr)
    res = run_once(rc, opts(db, os.path.join(tmp, "missing-ca"), **{"source.tls": "verify_ca", "source.tls_ca":
                                                                   os.path.join(tmp, "no-such-ca.pem")}))
    refused(ck, "source.tls_ca naming no file", res, r"source\.tls_ca: cannot read \S+no-such-ca\.pem")


def test_identity(ck, rc, tmp, db, certs, broker):
    state = os.path.join(tmp, "id-state")
    live = Run(rc, opts(db, state, **{"source.tls": "verify_identity", "source.tls_ca": certs["ca.pem"],
                                      "source.password": SECRET, "kafka.bootstrap.servers": broker.bootstrap}), state)
    ok = wait_for(lambda: "over TLS" in live.stderr() or not live.running(), 30, 0.1)
    texts = proc_texts(live.proc.pid) if live.running() else {}
    sup = texts.get(live.proc.pid, "")
    ck.check(ok and live.running() and "source.password=xxxx" in sup and not any(SECRET in t for t in texts.values()),
             "verify_identity to 127.0.0.1: connects; -o source.password=... is blanked in the supervisor's "
             "command line and in no stage's", sup + tail(live.stderr()))
    code = live.stop()
    err = live.stderr()
    ck.check(code == 0 and "signed by a trusted CA and names the host" in err and SECRET not in err
             and "other users of this machine can read (ps)" in err,
             f"verify_identity: the host check said, the command-line password warned of, exit {code}", tail(err))
    res = run_once(rc, opts(db, os.path.join(tmp, "id2-state"), host="127.0.0.2",
                            **{"source.tls": "verify_identity", "source.tls_ca": certs["ca.pem"]}),
                   env=dict(os.environ, ROWCAST_SOURCE_PASSWORD=SECRET))
    refused(ck, "verify_identity to 127.0.0.2, a name the certificate does not hold", res,
            r"refused \(source\.tls=verify_identity\).*name source\.host")


def descendants(pid):
    """[(pid, name)] of the processes below pid (the stages, and what they started)."""
    out, todo = [], [pid]
    while todo:
        for k, name, st in child_processes(todo.pop()):
            if st != "Z":
                out.append((k, name))
                todo.append(k)
    return out


def proc_file(pid, name):
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def test_tracker(ck, rc, tmp, db, certs, broker, col):
    label = "tracker"
    plain_sql(db, "SET GLOBAL binlog_row_metadata = MINIMAL;")  # the tracker runs when the server does not log FULL
    plain_sql(db, f"ALTER USER '{USER}'@'%' REQUIRE SSL;")    # the server refuses it a connection in clear
    try:
        write_rows(db, "m", 1, 12)
        before = ssl_accepts(db)
        state = os.path.join(tmp, "tracker-state")
        env = dict(os.environ, ROWCAST_SOURCE_PASSWORD=SECRET)
        live = Run(rc, opts(db, state, **{"source.tls": "verify_ca", "source.tls_ca": certs["ca.pem"],
                                          "kafka.bootstrap.servers": broker.bootstrap}), state, env=env)
        got = wait_for(lambda: len(ids_of(col, "m")) >= 12 or not live.running(), 40, 0.1)
        procs = descendants(live.proc.pid) if live.running() else []
        tracker = [p for p, name in procs if name == "rowcast-schema"]
        reader = [p for p, name in procs if name == "rowcast-reader"]
        texts = {p: (proc_file(p, "cmdline"), proc_file(p, "environ")) for p in tracker}
        reader_env = proc_file(reader[0], "environ") if reader else ""
        after = ssl_accepts(db)
        code = live.stop()
        err = live.stderr()
        ck.check(got and ids_of(col, "m") == list(range(1, 13)),
                 f"{label}: the rows of the MINIMAL table arrive with their column names ({len(ids_of(col, 'm'))} of 12)",
                 tail(err))
        ck.check(re.search(r"rowcast-schema\[\d+\].*the schema tracker connected to 127\.0\.0\.1:\d+ over TLS "
                           r"\(TLSv1\.[23], [^)]+\); the server's certificate is signed by source\.tls_ca", err)
                 and "the source's schema at" in err and code == 0,
                 f"{label}: the tracker says its own TLS connection and the CA check, and recorded the server's "
                 f"schema; exit {code}", tail(err))
        ck.check(after > before, f"{label}: the server counts TLS handshakes (Ssl_accepts {before} -> {after}); the "
                 f"user requires SSL, so the server took none of its connections in clear")
        ck.check(len(tracker) == 1 and not any(SECRET in c or SECRET in e or "ROWCAST_SOURCE_PASSWORD" in e
                                               for c, e in texts.values())
                 and SECRET in reader_env and SECRET not in err,
                 f"{label}: the password is in neither the command line nor the environment of the tracker "
                 f"(pid {tracker}); the reader's environment has it; no log line holds it",
                 repr(texts)[:600])
        kept = {}
        for d, _, names in os.walk(state):
            for n in names:
                with open(os.path.join(d, n), "rb") as f:
                    kept[n] = f.read()
        ck.check("schema_history" in kept and not any(SECRET.encode() in v for v in kept.values()),
                 f"{label}: no file of the state dir holds the password ({', '.join(sorted(kept))})")
    finally:
        plain_sql(db, f"ALTER USER '{USER}'@'%' REQUIRE NONE; SET GLOBAL binlog_row_metadata = FULL;")


def test_disabled(ck, rc, tmp, db, broker, col):
    write_rows(db, "d", 1, 15)
    before = ssl_accepts(db)
    state = os.path.join(tmp, "off-state")
    live = Run(rc, opts(db, state, **{"source.tls": "disabled", "kafka.bootstrap.servers": broker.bootstrap}), state,
               env=dict(os.environ, ROWCAST_SOURCE_PASSWORD=SECRET))
    got = wait_for(lambda: len(ids_of(col, "d")) >= 15 or not live.running(), 30, 0.1)
    code = live.stop()
    err = live.stderr()
    ck.check(got and ids_of(col, "d") == list(range(1, 16)) and code == 0 and "over TLS" not in err,
             f"disabled, the password from ROWCAST_SOURCE_PASSWORD: the rows arrive ({len(ids_of(col, 'd'))} of 15), "
             f"exit {code}", tail(err))
    after = ssl_accepts(db)
    ck.check(after == before and SECRET not in err,
             f"disabled: no TLS handshake (Ssl_accepts {before} -> {after}), no password in the log")


def test_no_tls_server(ck, rc, tmp, db, broker, col):
    db.shutdown_server()
    db.extra_args = [a for a in db.extra_args if not a.startswith("--ssl")] + ["--skip-ssl"]
    db.start_server()
    have = db.query("SHOW VARIABLES LIKE 'have_ssl'")[0][1]
    ck.check(have == "DISABLED", f"the server restarted without TLS (have_ssl {have})")
    env = dict(os.environ, ROWCAST_SOURCE_PASSWORD=SECRET)
    res = run_once(rc, opts(db, os.path.join(tmp, "req-state"), **{"source.tls": "required"}), env=env)
    refused(ck, "required against a server without TLS", res, r"does not offer TLS, and source\.tls=required")
    res = run_once(rc, opts(db, os.path.join(tmp, "req2-state"), **{"source.tls": "verify_identity"}), env=env)
    refused(ck, "verify_identity against a server without TLS (refused before the login)", res,
            r"SSL is required, but the server does not support it")
    write_rows(db, "p", 1, 5)
    state = os.path.join(tmp, "pref-state")
    live = Run(rc, opts(db, state, **{"kafka.bootstrap.servers": broker.bootstrap}), state, env=env)
    got = wait_for(lambda: len(ids_of(col, "p")) >= 5 or not live.running(), 30, 0.1)
    code = live.stop()
    err = live.stderr()
    ck.check(got and code == 0 and "does not offer TLS: the connection is not encrypted (source.tls=preferred" in err,
             f"preferred (the default) against it: streams ({len(ids_of(col, 'p'))} of 5) with a warning, exit {code}",
             tail(err))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    a = ap.parse_args()

    def body(ck, rc, tmp, t0):
        certs = make_certs(os.path.join(tmp, "certs"))
        tls_args = ["--binlog-row-metadata=FULL", "--bind-address=127.0.0.1,127.0.0.2",
                    "--ssl-ca=" + certs["ca.pem"], "--ssl-cert=" + certs["server.pem"], "--ssl-key=" + certs["server.key"]]
        with MariaDBSandbox(extra_args=tls_args) as db, \
                Broker(rc, echo_stderr=False) as broker, \
                Collector(broker.bootstrap, r"^rowcast\.tls\.", config={"log_level": 2}) as col:
            have = db.query("SHOW VARIABLES LIKE 'have_ssl'")[0][1]
            if not ck.check(have == "YES", f"the server runs with the test's certificates (have_ssl {have})"):
                return
            db.sql(f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{SECRET}';"
                   f"GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO '{USER}'@'%'; CREATE DATABASE tls;")
            for name, fn, args in (("verify_ca", test_verify_ca, (db, certs, broker, col)),
                                   ("wrong CA", test_wrong_ca, (db, certs)),
                                   ("identity", test_identity, (db, certs, broker)),
                                   ("tracker", test_tracker, (db, certs, broker, col)),
                                   ("disabled", test_disabled, (db, broker, col)),
                                   ("no TLS", test_no_tls_server, (db, broker, col))):
                print(f"---- {name} (at {time.monotonic() - t0:.1f} s)")
                fn(ck, rc, tmp, *args)
    return run_driver(a.rowcast, "rowcast-tls-", RUNNING, body)


if __name__ == "__main__":
    sys.exit(main())
