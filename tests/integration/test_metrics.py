#!/usr/bin/python3
"""The metrics endpoint (metrics.listen): /metrics in the Prometheus text format and /healthz.

  taken     metrics.listen on a port another socket holds, a bad port, an address that is not
            this machine's: exit 2, naming the address, before anything starts.
  replay    a replay whose Kafka broker is down while it runs (so a scrape lands mid-run for
            certain: read, not yet acknowledged), then up; metrics.linger_ms keeps the final
            figures up. Every scrape passes `promtool check metrics` and Prometheus' own text
            parser (python3-prometheus-client); the final counters equal the replay summary
            (changes, tables, bytes) and the histograms count every change.
  run       `rowcast run` against a live MariaDB: /healthz 200; the server stopped: 503 naming
            the disconnected source; started again: 200 again, a reconnection counted; kill -9 of
            a serializer: 503 while the group restarts, then 200, the restart counted. The source
            password never appears in /metrics or /healthz.

Skips (77) when promtool, python3-prometheus-client or python3-confluent-kafka is missing.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pipeline_common import Background, free_port, child_processes, run_driver, skip_if_missing, wait_for, write_workload  # noqa: E402
from mariadb_sandbox import MariaDBSandbox  # noqa: E402

with skip_if_missing(" (Debian: python3-prometheus-client, python3-confluent-kafka)"):
    from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
    from kafka_tool import Broker  # noqa: E402
    from test_live import PASSWORD, grant_rowcast, run_args  # noqa: E402

PROMTOOL = shutil.which("promtool")
RUNNING = []


def get(url):
    """(status, body text) of a GET, or (None, why) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return None, str(e)


def promtool_ok(text):
    """(passed, promtool's output) of `promtool check metrics` on the text."""
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    return p.returncode == 0, (p.stdout + p.stderr).decode()


def samples(text):
    """{(name, frozenset(labels)): value} from Prometheus' own parser; raises if it refuses."""
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def total(smp, name, **labels):
    """The sum of a metric's samples whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in smp.items() if n == name and want <= ls)


def group_state(smp):
    for (n, ls), v in smp.items():
        if n == "rowcast_group_state" and v == 1:
            return dict(ls)["state"]
    return None


class Run(Background):
    """A rowcast command in the background, its output in files under tmp."""

    def __init__(self, args, tmp, name):
        super().__init__(args, os.path.join(tmp, name + ".out"), os.path.join(tmp, name + ".err"), RUNNING)


def check_text(ck, label, text):
    ok, out = promtool_ok(text)
    ck.check(ok, f"{label}: promtool check metrics passes", out[-2000:])
    try:
        return samples(text)
    except Exception as e:  # the parser's own complaint is the finding
        ck.check(False, f"{label}: the Prometheus text parser reads it", repr(e))
        return {}


def test_taken(ck, rc, tmp, files):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    addr = "127.0.0.1:%d" % holder.getsockname()[1]
    try:
        for spec, pattern in ((addr, r"metrics\.listen=" + re.escape(addr) + r": cannot listen .*in use"),
                              ("127.0.0.1:70000", r"metrics\.listen=127\.0\.0\.1:70000: bad port"),
                              ("192.0.2.1:9187", r"metrics\.listen=192\.0\.2\.1:9187: cannot listen .*")):
            p = subprocess.run([rc, "replay", "-o", "state.dir=" + os.path.join(tmp, "taken"), "-o",
                                "metrics.listen=" + spec] + files, capture_output=True, timeout=60)
            err = p.stderr.decode()
            ck.check(p.returncode == 2 and re.search(pattern, err), f"metrics.listen={spec}: exit 2 naming it",
                     f"status {p.returncode}, stderr:\n{err[-1500:]}")
            ck.check("replayed" not in p.stdout.decode(), f"metrics.listen={spec}: nothing replayed")
    finally:
        holder.close()


def summary_figures(out):
    m = re.search(r"replayed (\d+) changes of (\d+) tables .*keys ([\d.]+) MB, values ([\d.]+) MB", out)
    return (int(m.group(1)), int(m.group(2)), float(m.group(3)), float(m.group(4))) if m else None


def test_replay(ck, rc, tmp, files):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Broker(rc, echo_stderr=False) as broker:
        broker.down()
        args = [rc, "replay"]
        for o in ("state.dir=" + os.path.join(tmp, "replay"), "serializer.format=json", f"metrics.listen=127.0.0.1:{port}",
                  "metrics.interval_ms=100", "metrics.linger_ms=60000", "batch.max_changes=100",
                  "source.password=" + PASSWORD, f"kafka.bootstrap.servers={broker.bootstrap}",
                  "kafka.reconnect.backoff.max.ms=200"):
            args += ["-o", o]
        run = Run(args + files, tmp, "replay")
        mid = {}

        def mid_run():
            nonlocal mid
            st, text = get(base + "/metrics")
            if st != 200:
                return False
            smp = samples(text)
            if (group_state(smp) == "running" and total(smp, "rowcast_serializer_changes_total") > 0
                    and total(smp, "rowcast_stage_up", stage="publisher") == 1
                    and total(smp, "rowcast_publisher_changes_total") == 0):
                mid = {"text": text, "smp": smp}
                return True
            return not run.running()

        wait_for(mid_run, 60, step=0.05)
        ck.check(mid, "replay: a scrape while it runs (read, serialized, the publisher up, Kafka down: nothing "
                 "acknowledged)",
                 run.stderr()[-2000:])
        if mid:
            smp = check_text(ck, "replay, mid-run", mid["text"])
            ck.check(total(smp, "rowcast_info", mode="replay") == 1, "replay, mid-run: rowcast_info says replay")
        seen = {}

        def healthy():
            seen["h"] = get(base + "/healthz")
            return seen["h"][0] == 200
        ck.check(wait_for(healthy, 5, 0.05), "replay, mid-run: /healthz 200 (every stage up, the reader may have "
                 "finished its input)", str(seen.get("h")))
        code, body = get(base + "/nope")
        ck.check(code == 404, "any other path: 404", f"{code} {body}")
        broker.up()
        final = {}

        def finished():
            nonlocal final
            st, text = get(base + "/metrics")
            if st == 200 and group_state(samples(text)) in ("finished", "stopped"):
                final = {"text": text}
                return True
            return not run.running()

        wait_for(finished, 120, step=0.1)
        hcode, hbody = get(base + "/healthz")
        status = run.stop()
    ck.check(status == 0, "replay: exit 0 after the linger is cut short by SIGTERM", f"{status}\n{run.stderr()[-2000:]}")
    fig = summary_figures(run.stdout())
    ck.check(fig and final, "replay: a summary and a final scrape", run.stdout() + run.stderr()[-2000:])
    if not (fig and final):
        return
    changes, tables, keys_mb, values_mb = fig
    text = final["text"]
    smp = check_text(ck, "replay, final", text)
    ck.check(group_state(smp) == "finished", "replay, final: state finished")
    ck.check(PASSWORD not in text and PASSWORD not in hbody, "replay: the source password is in neither endpoint")
    for name in ("rowcast_reader_changes_total", "rowcast_serializer_changes_total", "rowcast_publisher_changes_total",
                 "rowcast_publisher_produced_total", "rowcast_serializer_table_changes_total",
                 "rowcast_publisher_receipt_to_ack_seconds_count", "rowcast_publisher_commit_to_ack_seconds_count"):
        ck.check(total(smp, name) == changes, f"replay, final: {name} = {changes} (the summary)", str(total(smp, name)))
    ck.check(total(smp, "rowcast_publisher_receipt_to_ack_seconds_bucket", le="+Inf") == changes,
             "replay, final: the +Inf bucket holds every change")
    names = {dict(ls)["table"] for (n, ls) in smp if n == "rowcast_serializer_table_changes_total"}
    ck.check(len(names) == tables, f"replay, final: {tables} tables (the summary)", str(names))
    mb = total(smp, "rowcast_publisher_bytes_total") / 1e6
    ck.check(abs(mb - (keys_mb + values_mb)) < 0.0021, "replay, final: publisher bytes = keys + values of the summary",
             f"{mb} vs {keys_mb} + {values_mb}")
    ck.check(total(smp, "rowcast_checkpoint_changes") == changes, "replay, final: the checkpoint holds every change")
    ck.check(hcode == 503 and json.loads(hbody).get("state") == "finished",
             "replay, final: /healthz 503 saying the group finished", f"{hcode} {hbody}")


def health(base):
    code, body = get(base + "/healthz")
    try:
        return code, json.loads(body)
    except ValueError:
        return code, {"body": body}


def test_run(ck, rc, tmp, db):
    grant_rowcast(db)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    state = os.path.join(tmp, "run")
    live = Run(run_args(rc, db, state, extra=[f"metrics.listen=127.0.0.1:{port}", "metrics.interval_ms=100"]),
               tmp, "run")
    last = {}

    def is_(want, reason=None):
        def cond():
            last["h"] = health(base)
            code, js = last["h"]
            return (code == want and (reason is None or reason in js.get("reason", ""))) or not live.running()
        return cond

    ck.check(wait_for(is_(200), 60, 0.1) and last["h"][0] == 200, "run: /healthz 200 once streaming",
             f"{last.get('h')}\n{live.stderr()[-2000:]}")
    db.sql("INSERT INTO events_log VALUES ('metrics', 1);", database="shop")
    code, text = get(base + "/metrics")
    smp = check_text(ck, "run", text if code == 200 else "")
    ck.check(total(smp, "rowcast_source_connected") == 1 and total(smp, "rowcast_info", mode="run") == 1,
             "run: the source connected, mode run")
    ck.check(("rowcast_source_seconds_behind", frozenset()) in smp, "run: seconds behind the source is there")
    db.shutdown_server()
    ck.check(wait_for(is_(503, "disconnected"), 60, 0.1) and last["h"][0] == 503,
             "run: /healthz 503 naming the disconnected source once the server is stopped",
             f"{last.get('h')}\n{live.stderr()[-2000:]}")
    code, text = get(base + "/metrics")
    smp = check_text(ck, "run, source down", text if code == 200 else "")
    ck.check(total(smp, "rowcast_source_connected") == 0, "run, source down: rowcast_source_connected 0")
    db.start_server()
    ck.check(wait_for(is_(200), 60, 0.1) and last["h"][0] == 200, "run: /healthz 200 again once the server is back",
             f"{last.get('h')}\n{live.stderr()[-2000:]}")
    code, text = get(base + "/metrics")
    smp = check_text(ck, "run, source back", text if code == 200 else "")
    ck.check(total(smp, "rowcast_source_reconnects_total") >= 1, "run: the reconnection is counted")
    ck.check(PASSWORD not in text and PASSWORD not in json.dumps(last["h"][1]),
             "run: the source password is in neither endpoint")
    victim = next((pid for pid, exe, st in child_processes(live.proc.pid) if exe == "rowcast-serializer"), None)
    ck.check(victim, "run: a serializer to kill")
    if victim:
        os.kill(victim, signal.SIGKILL)
        ck.check(wait_for(is_(503, "restarting"), 30, 0.05) and last["h"][0] == 503,
                 "run: /healthz 503 while the group restarts after kill -9 of a serializer", str(last.get("h")))
        ck.check(wait_for(is_(200), 60, 0.1) and last["h"][0] == 200, "run: /healthz 200 once restarted",
                 f"{last.get('h')}\n{live.stderr()[-2000:]}")
        code, text = get(base + "/metrics")
        smp = check_text(ck, "run, restarted", text if code == 200 else "")
        ck.check(total(smp, "rowcast_supervisor_restarts_total") == 1, "run: the restart is counted")
    status = live.stop()
    ck.check(status == 0, "run: SIGTERM drains, exit 0", f"{status}\n{live.stderr()[-2000:]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    a = ap.parse_args()
    if not PROMTOOL:
        print("SKIP: promtool is missing (Debian: prometheus)")
        return 77

    def body(ck, rc, tmp, t0):
        with MariaDBSandbox(extra_args=["--max-binlog-size=1073741824"]) as db:
            write_workload(db, 60)
            db.flush_binlogs()
            files = []
            for f in db.binlog_files()[:-1]:
                files.append(shutil.copy(f, os.path.join(tmp, os.path.basename(f))))
            print(f"workload written: {time.monotonic() - t0:.1f} s")
            test_taken(ck, rc, tmp, files)
            test_replay(ck, rc, tmp, files)
            print(f"replay done: {time.monotonic() - t0:.1f} s")
            test_run(ck, rc, tmp, db)

    return run_driver(a.rowcast, "rowcast-metrics-", RUNNING, body)


if __name__ == "__main__":
    sys.exit(main())
