#!/usr/bin/env python3
"""The group's lifecycle: the supervisor killed (its stages exit on their own, the same command
resumes), one rowcast per state.dir (the lock), the checkpoint read strictly (truncated, garbled,
past the end of the files: exit 2, never a start from the beginning), a drain that repeats
nothing, the watchdog (a SIGSTOPped serializer is named and the group restarted), Kafka
unreachable (said every 10 s; SIGTERM still stops rowcast), and the time a crash restart takes.

What reaches Kafka is read by an independent consumer (python3-confluent-kafka, kafka_tool) and
compared with `rowcast decode`.

Usage: test_lifecycle.py --rowcast PATH [--rounds N] [--only NAME,...]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pipeline_common import make_binlogs, run_driver, skip_if_missing, wait_for  # noqa: E402

with skip_if_missing():
    from kafka_tool import Broker, Collector  # noqa: E402
    from test_faults import (LARGE_TOPICS, QUIET, RUNNING, Replay, acked_changes, check_delivery,  # noqa: E402
                             decode_lines, tail, wait_for_keys)

# slowed down (small batches, a short librdkafka queue) to last several seconds
SLOW = ["batch.max_changes=200", "kafka.queue.buffering.max.messages=2000", "kafka.linger.ms=20",
        "publisher.checkpoint_interval_ms=100", "metrics.interval_ms=200"]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def started(ck, label, run, state, want):
    ok = run.wait_until(lambda: run.stat("publisher", "acked") > 0 and acked_changes(state) > 0, 30, 0.05)
    acked = run.stat("publisher", "acked")
    return ck.check(ok and run.running() and acked < len(want),
                    f"{label}: mid-replay ({acked} of {len(want)} acknowledged)", tail(run.stderr()))


def delivered(ck, label, col, want, order, exactly_once):
    """What the consumer `col` holds, once every change of `want` arrived (or nothing new for
    8 s), checked against `rowcast decode` with check_delivery (exactly once or at least once)."""
    msgs = wait_for_keys(col, want, order, idle=8.0, timeout=120)
    check_delivery(ck, label, want, msgs, order, exactly_once=exactly_once)


def resumed(ck, label, what, rc, files, state, extra, col, want, order, exactly_once):
    """The same replay started again on `state` exits 0 (the check says `what`), and then every
    change reached the consumer (delivered)."""
    again = Replay(rc, files, state, extra)
    code = again.wait(180)
    ck.check(code == 0, f"{label}: {what} (exit {code})", tail(again.stderr()))
    delivered(ck, label, col, want, order, exactly_once)


# ---------------------------------------------------------------------------- 1 + 2

def test_supervisor_killed(ck, rc, tmp, files, want, order):
    label = "kill -9 supervisor"
    with Broker(rc, topics=LARGE_TOPICS, partitions=32, echo_stderr=False) as broker, \
            Collector(broker.bootstrap, r"^rowcast\.", config=QUIET) as col:
        state = os.path.join(tmp, "state-killsup")
        extra = [f"kafka.bootstrap.servers={broker.bootstrap}"] + SLOW
        run = Replay(rc, files, state, extra)
        if not started(ck, label, run, state, want):
            return
        # the lock: a second rowcast on the same state.dir refuses at once, naming the pid;
        # `rowcast stats` needs no lock
        second = subprocess.run([rc, "replay", "-o", f"state.dir={state}"] + files, capture_output=True,
                                timeout=60)
        err2 = second.stderr.decode()
        ck.check(second.returncode == 2 and f"held by rowcast pid {run.proc.pid}" in err2,
                 f"{label}: a second replay on the same state.dir exits 2 naming pid {run.proc.pid}",
                 f"exit {second.returncode}: {err2[-800:]}")
        ck.check(run.stats() is not None, f"{label}: rowcast stats reads the running group's figures")
        stages = run.stages()
        run_dirs = [d for d in os.listdir("/tmp") if d.startswith("rowcast-run-")]
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait()
        t_kill = time.monotonic()
        # the same command again, at once: it waits for the dead supervisor's stages (they hold
        # the lock), then resumes
        again = Replay(rc, files, state + "", extra)
        gone = wait_for(lambda: not any(alive(p) for p in stages), 10)
        secs = time.monotonic() - t_kill
        ck.check(gone and len(stages) == 4, f"{label}: all {len(stages)} stages exited on their own "
                 f"(within {secs:.2f} s of the kill)", f"alive: {[p for p in stages if alive(p)]}")
        code = again.wait(180)
        err = again.stderr()
        ck.check(code == 0, f"{label}: the same command again completes (exit {code})", tail(err))
        ck.check("in use" not in err, f"{label}: the rerun waited for the old stages instead of refusing", tail(err))
        left = [d for d in run_dirs if os.path.isdir(os.path.join("/tmp", d))]
        ck.check(re.search(r"removed the run directory /tmp/rowcast-run-\S+, left behind", err),
                 f"{label}: the run directory the killed supervisor left is removed at the next start "
                 f"({len(run_dirs)} before, {len(left)} still there)", tail(err))
        delivered(ck, label, col, want, order, exactly_once=False)


# ---------------------------------------------------------------------------- 3

def test_checkpoint_errors(ck, rc, tmp, files):
    first = os.path.basename(files[0])
    size = os.path.getsize(files[-1])
    cases = [
        ("truncated", f"file={first}\npos=12", r"checkpoint \S+ line 2: cut short"),
        ("garbled", f"file={first}\npos=12x4\nchanges=1\n", r"checkpoint \S+ line 2: pos= needs a decimal"),
        ("garbage", "\x00\x17binary junk\n", r"checkpoint \S+ line 1: (unexpected|cut short)"),
        ("empty", "", r"checkpoint \S+ line 1: the file is empty"),
        ("no pos", f"file={first}\n", r"checkpoint \S+ line 2: the file ends early"),
        ("file not given", "file=mariadb-bin.999999\npos=4\nchanges=0\n", r"mariadb-bin\.999999:4, which is not among"),
        ("past the end", f"file={os.path.basename(files[-1])}\npos={size + 1000}\nchanges=5\n",
         rf"{re.escape(os.path.basename(files[-1]))}:{size + 1000}, past the end of \S+ \({size} bytes\)"),
    ]
    for name, text, pattern in cases:
        state = os.path.join(tmp, "state-cp-" + name.replace(" ", "-"))
        os.makedirs(state)
        with open(os.path.join(state, "checkpoint"), "w") as f:
            f.write(text)
        p = subprocess.run([rc, "replay", "-o", f"state.dir={state}"] + files, capture_output=True, timeout=120)
        err, out = p.stderr.decode("utf-8", "replace"), p.stdout.decode("utf-8", "replace")
        ck.check(p.returncode == 2 and re.search(pattern, err) and "replayed" not in out,
                 f"checkpoint {name}: exit 2 with an error naming it",
                 f"exit {p.returncode}; stdout {out[-300:]!r}; stderr {err[-800:]}")


# ---------------------------------------------------------------------------- 7

def test_drain(ck, rc, tmp, files, want, order):
    label = "SIGTERM (drain) then resume"
    with Broker(rc, topics=LARGE_TOPICS, partitions=32, echo_stderr=False) as broker, \
            Collector(broker.bootstrap, r"^rowcast\.", config=QUIET) as col:
        state = os.path.join(tmp, "state-drain")
        # small pipes: the reader is held back by backpressure, so the drain stops it mid-file
        extra = [f"kafka.bootstrap.servers={broker.bootstrap}", "pipe.buffer_bytes=1m"] + SLOW
        run = Replay(rc, files, state, extra)
        if not started(ck, label, run, state, want):
            return
        run.proc.send_signal(signal.SIGTERM)
        code = run.wait(120)
        out = run.stdout()
        m = re.search(r"stopped on request after publishing (\d+) changes", out)
        ck.check(code == 0 and m and 0 < int(m.group(1)) < len(want),
                 f"{label}: the drain exits 0 ({m.group(1) if m else '?'} changes published)", out + tail(run.stderr()))
        resumed(ck, label, "the resume completes", rc, files, state, extra, col, want, order, exactly_once=True)


# ---------------------------------------------------------------------------- 7b

def test_terminal(ck, rc, tmp, files, want, order):
    """A Ctrl-C (SIGINT) or a hang-up (SIGHUP) of the terminal reaches the whole process group:
    the supervisor, its stages and the local broker it started. The group drains as for
    SIGTERM, into a broker still there (it ignores them: the supervisor stops it after the
    drain), exits 0, and the same command resumes with the rest, exactly."""
    for sig in (signal.SIGINT, signal.SIGHUP):
        label = f"{sig.name} to the process group, local broker"
        state = os.path.join(tmp, "state-" + sig.name)
        # small pipes: the reader is held back by backpressure, so the drain stops it mid-file
        run = Replay(rc, files, state, ["pipe.buffer_bytes=1m"] + SLOW, session=True)
        if not started(ck, label, run, state, want):
            continue
        os.killpg(run.proc.pid, sig)
        code = run.wait(120)
        out, err = run.stdout(), run.stderr()
        m = re.search(r"stopped on request after publishing (\d+) changes", out)
        errors = [line for line in err.splitlines() if "error" in line.lower()]
        ck.check(code == 0 and m and 0 < int(m.group(1)) < len(want) and not errors,
                 f"{label}: the group drains and exits 0 ({m.group(1) if m else '?'} changes), no error",
                 f"exit {code}\n" + out + tail(err))
        if sig == signal.SIGHUP:
            ck.check("SIGHUP (the terminal went away): stopping as for SIGTERM" in err, f"{label}: the log says why",
                     tail(err))
        again = Replay(rc, files, state, ["pipe.buffer_bytes=1m"] + SLOW)
        code = again.wait(180)
        m2 = re.search(r"replayed (\d+) changes", again.stdout())
        first = int(m.group(1)) if m else -1
        ck.check(code == 0 and m2 and first + int(m2.group(1)) == len(want),
                 f"{label}: the same command resumes and sends the rest ({first} + "
                 f"{m2.group(1) if m2 else '?'} of {len(want)})", again.stdout() + tail(again.stderr()))


# ---------------------------------------------------------------------------- 6

def test_stall(ck, rc, tmp, files, want, order):
    label = "SIGSTOP serializer (watchdog)"
    with Broker(rc, topics=LARGE_TOPICS, partitions=32, echo_stderr=False) as broker, \
            Collector(broker.bootstrap, r"^rowcast\.", config=QUIET) as col:
        state = os.path.join(tmp, "state-stall")
        run = Replay(rc, files, state, [f"kafka.bootstrap.servers={broker.bootstrap}",
                                        "supervisor.stall_timeout_ms=3000"] + SLOW)
        if not started(ck, label, run, state, want):
            return
        victim = [p for p, st in sorted(run.stages().items()) if st == "serializer"][0]
        os.kill(victim, signal.SIGSTOP)
        seen = run.wait_until(lambda: f"pid {victim}) made no progress" in run.stderr(), 60, 0.1)
        ck.check(seen and re.search(rf"watchdog: rowcast-serializer \(worker \d+, pid {victim}\) made no progress for "
                                    r"[\d.]+ s while work is queued.*stall_timeout_ms=3000", run.stderr()),
                 f"{label}: the watchdog names the stopped serializer (pid {victim})", tail(run.stderr()))
        code = run.wait(180)
        err = run.stderr()
        ck.check(code == 0 and re.search(r"rowcast-serializer \(worker \d+\) stalled; restarting the group", err),
                 f"{label}: the group restarted and the replay completes (exit {code})", tail(err))
        delivered(ck, label, col, want, order, exactly_once=False)


# ---------------------------------------------------------------------------- 6 (Kafka)

def test_kafka_down_sigterm(ck, rc, tmp, files, want, order):
    label = "Kafka down, SIGTERM"
    with Broker(rc, topics=LARGE_TOPICS, partitions=32, echo_stderr=False) as broker, \
            Collector(broker.bootstrap, r"^rowcast\.", config=QUIET) as col:
        state = os.path.join(tmp, "state-kafkadown")
        extra = [f"kafka.bootstrap.servers={broker.bootstrap}"] + SLOW
        run = Replay(rc, files, state, extra)
        if not started(ck, label, run, state, want):
            return
        broker.down()
        said = run.wait_until(lambda: re.search(r"Kafka at \S+ unreachable for \d+ s \(no acknowledgement\); \d+ "
                                                r"changes waiting", run.stderr()), 40, 0.2)
        ck.check(said, f"{label}: the publisher says Kafka is unreachable", tail(run.stderr()))
        run.proc.send_signal(signal.SIGTERM)
        code = run.wait(60)
        err = run.stderr()
        ck.check(code == 1 and "stopped before the end with the checkpoint at" in err,
                 f"{label}: the first SIGTERM stops rowcast (exit {code}, a final line with the checkpoint)", tail(err))
        broker.up()
        resumed(ck, label, "the next start sends the rest", rc, files, state, extra, col, want, order,
                exactly_once=False)


# ---------------------------------------------------------------------------- 5 (a figure)

def test_restart_time(ck, rc, tmp, files, want, order):
    label = "restart time"
    with Broker(rc, topics=LARGE_TOPICS, partitions=32, echo_stderr=False) as broker:
        state = os.path.join(tmp, "state-restart")
        run = Replay(rc, files, state, [f"kafka.bootstrap.servers={broker.bootstrap}"] + SLOW)
        if not started(ck, label, run, state, want):
            return
        victim = [p for p, st in sorted(run.stages().items()) if st == "serializer"][0]
        before = run.stderr().count("resuming from the checkpoint")
        os.kill(victim, signal.SIGKILL)
        t = time.monotonic()
        run.wait_until(lambda: run.stderr().count("resuming from the checkpoint") > before, 30, 0.01)
        secs = time.monotonic() - t
        print(f"NOTE  {label}: from the kill to the restarted reader's 'resuming' line {secs:.2f} s "
              "(supervisor.restart_delay_ms=1000)")
        code = run.wait(180)
        ck.check(code == 0, f"{label}: the replay completes after the restart (exit {code})", tail(run.stderr()))


# ---------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--only", default="", help="comma-separated: supervisor, checkpoint, drain, terminal, stall, kafka, "
                    "restart")
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))

    def body(ck, rc, tmp, t0):
        files = make_binlogs(os.path.join(tmp, "binlogs"), a.rounds)
        want, order = decode_lines(rc, files)
        print(f"workload: {len(want)} changes in {len(files)} files ({time.monotonic() - t0:.1f} s)")
        tests = [("checkpoint", lambda: test_checkpoint_errors(ck, rc, tmp, files)),
                 ("supervisor", lambda: test_supervisor_killed(ck, rc, tmp, files, want, order)),
                 ("drain", lambda: test_drain(ck, rc, tmp, files, want, order)),
                 ("terminal", lambda: test_terminal(ck, rc, tmp, files, want, order)),
                 ("stall", lambda: test_stall(ck, rc, tmp, files, want, order)),
                 ("kafka", lambda: test_kafka_down_sigterm(ck, rc, tmp, files, want, order)),
                 ("restart", lambda: test_restart_time(ck, rc, tmp, files, want, order))]
        for name, fn in tests:
            if not only or name in only:
                fn()
    return run_driver(a.rowcast, "rowcast-lifecycle-", RUNNING, body)


if __name__ == "__main__":
    sys.exit(main())
