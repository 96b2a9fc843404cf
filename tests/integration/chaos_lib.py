"""The chaos harness of issue 10: kill -9 of any process of a rowcast group, at random moments,
against a consumer that is not rowcast, and the proof that every change arrived exactly once.

Used by tests/integration/test_chaos.py (the short version in the suite) and scripts/chaos (the
long one). The pieces:

  TimedCollector  kafka_tool.Collector (python3-confluent-kafka, no consumer group, every
                  partition from the beginning) that also notes when each message arrived
  Group           one `rowcast replay` or `rowcast run` command, started again as an operator
                  would after its supervisor was killed; its stages found in /proc
  Chaos           the kill loop: seeded plan of (victim, moment) pairs; victims are the reader,
                  a serializer, the publisher and the supervisor; moments are "start" (the first
                  second of a run, before its first checkpoint when it is the first run),
                  "recovery" (as soon as the group is back after a kill, before its first new
                  message) and "progress" (after a random number of messages)
  verify()        every message decoded with python3-avro (writer schemas from the
                  `<prefix>._schemas` topic, keyed by fingerprint), compared with `rowcast decode`
                  of the same binlog files on position and value: lost, duplicated, unexpected,
                  different values, out of order per partition, a key in two partitions; and the
                  recovery time of each kill (kill -> the next change the consumer had not seen)

Nothing here sleeps as an assertion: every wait is on a condition with a generous timeout, and
the verdict depends only on what the consumer received and on rowcast's exit statuses.
"""
import decimal
import io
import json
import os
import random
import re
import signal
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import avro.io  # noqa: E402  (the importer catches ImportError and skips with 77)
from kafka_tool import Collector  # noqa: E402
from pipeline_common import child_processes  # noqa: E402
import test_avro as ta  # noqa: E402  (Writer, value_to_canonical, compare_change)

STAGES = ("reader", "serializer", "publisher")
VICTIMS = STAGES + ("supervisor",)
MOMENTS = ("start", "recovery", "progress")
QUIET = {"log_level": 2}  # the consumer's own connection chatter is not the test's business
MSG_BYTES = 400           # a generous estimate of one Avro message with its overhead
PARTITION_KEEP = 4 << 20  # the local broker keeps ~5 MiB a partition: count on 4


def log(*a):
    print(*a, flush=True)


def partitions_for(changes, share, resend_factor=4):
    """Partitions for a topic that gets `share` of `changes`, so that the broker's per-partition
    retention keeps all of it even if every change is sent `resend_factor` times (today's
    at-least-once resends) and the consumer lags: a power of two, 4 to 64."""
    need = changes * share * MSG_BYTES * resend_factor / PARTITION_KEEP
    n = 4
    while n < need and n < 64:
        n *= 2
    return n


def file_seq(name):
    """The number after the last '.' of a binlog file name (rc_pos_file_seq)."""
    m = re.search(r"\.(\d+)$", name)
    return int(m.group(1)) if m else -1


def pos_key(pos):
    return (file_seq(pos["file"]), pos["offset"], pos["row"])


class TimedCollector(Collector):
    """A Collector that also keeps the arrival time (time.monotonic()) of every message, in
    `arrivals`, parallel to `messages`."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.arrivals = []

    def _take(self, batch):
        now = time.monotonic()
        super()._take(batch)
        with self._lock:
            self.arrivals.extend([now] * (len(self._msgs) - len(self.arrivals)))

    def snapshot(self):
        with self._lock:
            return list(self._msgs), list(self.arrivals)

    def caught_up(self):
        """Every assigned partition at its end."""
        with self._lock:
            return bool(self.assigned) and self.eof >= self.assigned

    def settle(self, count=0, quiet=3.0, timeout=300.0):
        """Until at least `count` messages arrived, every partition is at its end and nothing
        arrived for `quiet` seconds (or `timeout`). True when settled."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = self.count()
            if n >= count and self.caught_up() and time.monotonic() - self._last_arrival >= quiet:
                return True
            time.sleep(0.2)
        return False


# ---------------------------------------------------------------------------- the group

def proc_alive(pid):
    """A process that exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        return st[st.rindex(")") + 2] != "Z"
    except (OSError, ValueError, IndexError):
        return False


class Group:
    """One rowcast command (replay or run), started again and again with the same arguments;
    each run's stderr in <work>/run-N.stderr."""

    def __init__(self, args, work):
        self.args, self.work = list(args), work
        self.proc = None
        self.runs = 0
        self.exits = []  # (run, status) of every run that ended
        self.seen_stage_pids = set()

    def start(self):
        self.runs += 1
        self.err_path = os.path.join(self.work, f"run-{self.runs}.stderr")
        with open(self.err_path, "wb") as err, open(os.path.join(self.work, f"run-{self.runs}.stdout"), "wb") as out:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.started = time.monotonic()
        return self.proc.pid

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def reap(self):
        """The exit status of the current run once it ended (recorded once), else None."""
        if self.proc is None or self.proc.poll() is None:
            return None
        if not self.exits or self.exits[-1][0] != self.runs:
            self.exits.append((self.runs, self.proc.returncode))
        return self.proc.returncode

    def stages(self):
        """{stage name: [pids]} of the supervisor's live children."""
        out = {}
        if not self.running():
            return out
        for pid, argv0, state in child_processes(self.proc.pid):
            if state != "Z" and argv0.startswith("rowcast-"):
                out.setdefault(argv0[len("rowcast-"):], []).append(pid)
        for pids in out.values():
            self.seen_stage_pids.update(pids)
        return out

    def complete(self, exclude=()):
        """{stage: [pids]} when every stage runs and none is in `exclude`, else None."""
        s = self.stages()
        if all(k in s for k in STAGES) and not any(p in exclude for ps in s.values() for p in ps):
            return s
        return None

    def stderr_all(self):
        text = []
        for n in range(1, self.runs + 1):
            try:
                with open(os.path.join(self.work, f"run-{n}.stderr"), "rb") as f:
                    text.append(f"--- run {n}\n" + f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "\n".join(text)

    def restarts(self):
        """Group restarts the supervisors logged (all runs)."""
        return len(re.findall(r"restarting the group", self.stderr_all()))

    def stop(self, timeout=60):
        """SIGTERM (drain) and wait; the exit status, or 'timeout' (then SIGKILLed)."""
        if not self.running():
            return self.reap()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.reap()
            return "timeout"
        return self.reap()

    def kill_all(self):
        """The end of the test, whatever happened: nothing of ours outlives it."""
        if self.running():
            self.proc.kill()
            self.proc.wait()
        for pid in list(self.seen_stage_pids):
            if proc_alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def wait_for(cond, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


# ---------------------------------------------------------------------------- the kill loop

def make_plan(rnd, kills):
    """(victim, moment) for each kill: the first in the first second of the first run (before
    any checkpoint); every victim and every moment at least once when there are enough kills."""
    victims = list(VICTIMS) + [rnd.choice(VICTIMS) for _ in range(max(0, kills - len(VICTIMS)))]
    rnd.shuffle(victims)
    moments = ["recovery", "start"] + [rnd.choice(MOMENTS) if rnd.random() < 0.5 else "progress"
                                       for _ in range(max(0, kills - 2))]
    rnd.shuffle(moments)
    plan = list(zip(victims[:kills], moments[:kills]))
    if plan:
        plan[0] = (plan[0][0], "first")
    return plan


class Chaos:
    """Runs a plan of kills against a Group while `col` consumes. `total` is the number of
    changes expected (for the spacing of "progress" kills); `disruptions` {kill index: fn()}
    runs fn (a server restart, a connection KILL) before that kill."""

    def __init__(self, group, col, rnd, total, state_dir, up_timeout=120.0):
        self.g, self.col, self.rnd, self.total = group, col, rnd, total
        self.state_dir = state_dir
        self.up_timeout = up_timeout
        self.kills = []      # dicts: t, victim, moment, run, checkpoint (one existed), pid
        self.problems = []   # rowcast misbehaving (not lost/duplicated: verify() counts those)
        self.ended_early = False

    def acked(self):
        """The changes the checkpoint says Kafka acknowledged (0 before the first): only to
        space the kills along what is left of the workload, never for the verdict."""
        try:
            with open(os.path.join(self.state_dir, "checkpoint")) as f:
                kv = dict(line.strip().split("=", 1) for line in f if "=" in line)
            return int(kv.get("changes", "0"))
        except (OSError, ValueError):
            return 0

    def has_checkpoint(self):
        """A checkpoint past acknowledged changes (not only a resolved start position)."""
        try:
            with open(os.path.join(self.state_dir, "checkpoint")) as f:
                kv = dict(line.strip().split("=", 1) for line in f if "=" in line)
            return int(kv.get("changes", "1")) > 0
        except (OSError, ValueError):
            return False

    def ensure_running(self):
        """Rerun the command if the supervisor is gone (killed by us). False when the group
        finished by itself (a replay at its end) or failed."""
        if self.g.running():
            return True
        st = self.g.reap()
        if st == 0:
            self.ended_early = True
            return False
        if st is not None and st != -signal.SIGKILL:
            self.problems.append(f"run {self.g.runs} exited with status {st} (not killed by the test)")
            return False
        self.g.start()
        return True

    def wait_group(self, exclude):
        """The group's stages once every stage runs and none is in `exclude`; None when the
        run ended (a replay at its end; any other exit is a problem) or never came up."""
        s = wait_for(lambda: (not self.g.running()) or self.g.complete(exclude), self.up_timeout)
        if s is True:
            st = self.g.reap()
            if st == 0:
                self.ended_early = True
            else:
                self.problems.append(f"run {self.g.runs} exited with status {st} (not killed by the test)")
            return None
        if not s:
            self.problems.append(f"run {self.g.runs}: the group did not come up within {self.up_timeout:.0f} s")
            return None
        return s

    def moment(self, moment, last_pids, k, nkills):
        """Wait for the moment of a kill; the group's stages then, or None if it ended."""
        if moment == "first":
            # the first second of the first run, before its first checkpoint
            s = self.wait_group(last_pids)
            if s is None:
                return None
            time.sleep(self.rnd.uniform(0.0, 0.25))
        elif moment == "start":
            # a fresh supervisor when the last victim was one; else the restarted group
            s = self.wait_group(last_pids)
            if s is None:
                return None
            since = max(self.g.started, self.kills[-1]["t"] if self.kills else 0)
            time.sleep(max(0.0, since + self.rnd.uniform(0.02, 1.0) - time.monotonic()))
        elif moment == "recovery":
            s = self.wait_group(last_pids)
            if s is None:
                return None
            time.sleep(self.rnd.uniform(0.0, 0.3))
        else:
            s = self.wait_group(last_pids)
            if s is None:
                return None
            left = max(1, nkills - k)
            remaining = max(0, self.total - self.acked())
            step = max(200, int(remaining / (left + 1) * self.rnd.uniform(0.2, 1.0)))
            target = self.col.count() + step
            wait_for(lambda: self.col.count() >= target or not self.g.running(), 600, 0.01)
        return self.g.stages() if self.g.running() else None

    def kill(self, victim, moment, stages):
        if victim == "supervisor":
            pid = self.g.proc.pid
        else:
            pids = stages.get(victim) or []
            if not pids:
                return False
            pid = self.rnd.choice(pids)
        cp = self.has_checkpoint()
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        t = time.monotonic()
        self.kills.append({"t": t, "wall_ms": time.time() * 1000, "victim": victim, "moment": moment, "run": self.g.runs,
                           "checkpoint": cp, "pid": pid})
        log(f"chaos: kill {len(self.kills)}: kill -9 {victim} (pid {pid}) at the '{moment}' moment of run "
            f"{self.g.runs}, {'after' if cp else 'before'} the first checkpoint, {self.col.count()} messages so far")
        if victim == "supervisor":
            self.g.proc.wait()
            self.g.reap()
            orphans = [p for p in self.g.seen_stage_pids if proc_alive(p)]
            if not wait_for(lambda: not any(proc_alive(p) for p in orphans), 30):
                left = [p for p in orphans if proc_alive(p)]
                self.problems.append(f"stages {left} still ran 30 s after their supervisor was killed")
                for p in left:
                    os.kill(p, signal.SIGKILL)
            self.g.start()  # the same command again, as an operator would
        return True

    def run(self, plan, disruptions=None):
        disruptions = disruptions or {}
        last_pids = set()
        for k, (victim, moment) in enumerate(plan):
            if self.ended_early or self.problems:
                break
            if k in disruptions:
                disruptions[k]()
            for _attempt in range(5):  # a victim that just exited by itself: try again
                if self.ended_early or self.problems or not self.ensure_running():
                    break
                stages = self.moment(moment, last_pids, k, len(plan))
                if stages is None:
                    continue
                before = {p for ps in stages.values() for p in ps}
                if self.kill(victim, moment, stages):
                    last_pids = before
                    break
        return self.kills


# ---------------------------------------------------------------------------- the verdict

class Kinds:
    """Column kinds for test_avro.compare_change: (table, column) -> 'double' / 'float'."""

    def __init__(self, kinds):
        self.kind = dict(kinds)
        self.sqltype = {k: v.upper() for k, v in kinds.items()}

    same = ta.Cols.same


def decode_expected(rc, files):
    """`rowcast decode` of the files: {position key: change}, values as test_avro compares them."""
    p = subprocess.run([rc, "decode"] + list(files), capture_output=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"rowcast decode failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
    want = {}
    for line in p.stdout.decode("utf-8").splitlines():
        ch = json.loads(line, parse_float=decimal.Decimal)
        want[pos_key(ch["pos"])] = ch
    return want


def decode_messages(msgs, prefix):
    """[(msg index, position key, canonical change)] of every change message, and problems."""
    writers, readers, out, problems = {}, {}, [], []
    for m in msgs:
        if m.topic == prefix + "._schemas":
            w = ta.Writer(m.value.decode("utf-8"))
            if m.key.decode() != "%016x" % w.fingerprint:
                problems.append(f"schema keyed {m.key!r}, fingerprint {w.fingerprint:016x}")
            writers[w.fingerprint] = w
    for i, m in enumerate(msgs):
        if m.topic == prefix + "._schemas":
            continue
        v = m.value or b""
        where = f"{m.topic} [{m.partition}] @{m.offset}"
        if len(v) < 10 or v[:2] != b"\xc3\x01":
            problems.append(f"{where}: not an Avro single-object value: {v[:12]!r}")
            continue
        fp = struct.unpack("<Q", v[2:10])[0]
        w = writers.get(fp)
        if w is None:
            problems.append(f"{where}: no schema {fp:016x} in {prefix}._schemas")
            continue
        r = readers.get(fp) or readers.setdefault(fp, avro.io.DatumReader(w.raw, w.raw))
        try:
            buf = io.BytesIO(v[10:])
            ch = ta.value_to_canonical(w, r.read(avro.io.BinaryDecoder(buf)))
            if buf.tell() != len(v) - 10:
                raise ValueError(f"{len(v) - 10 - buf.tell()} bytes left after the datum")
        except Exception as e:  # noqa: BLE001 - any decoding failure is reported
            problems.append(f"{where}: python3-avro cannot decode it: {e}")
            continue
        out.append((i, pos_key(ch["pos"]), ch))
    return out, problems


def verify(want, msgs, arrivals, prefix, kills, kinds):
    """The counts of the report, and the problems found (lists of examples)."""
    decoded, problems = decode_messages(msgs, prefix)
    seen, first_seen = {}, {}
    for i, k, ch in decoded:
        seen[k] = seen.get(k, 0) + 1
        first_seen.setdefault(k, (arrivals[i], msgs[i].timestamp or 0))
    lost = [k for k in want if k not in seen]
    unexpected = [k for k in seen if k not in want]
    dups = sum(n - 1 for n in seen.values())
    differ, lossy = [], []
    checked = set()
    for i, k, ch in decoded:
        if k in want and k not in checked:
            checked.add(k)
            differ += ta.compare_change(kinds, want[k], ch, lossy)
    by_part, key_parts = {}, {}
    for i, k, ch in decoded:
        m = msgs[i]
        by_part.setdefault((m.topic, m.partition), []).append((m.offset, k))
        if m.key is not None:
            key_parts.setdefault((m.topic, m.key), set()).add(m.partition)
    unordered = 0
    for lst in by_part.values():
        lst.sort()
        unordered += sum(1 for (_, a), (_, b) in zip(lst, lst[1:]) if b < a)
    split_keys = sum(1 for p in key_parts.values() if len(p) > 1)
    # recovery: from each kill to the arrival of the next change the consumer had not seen
    # before and that was produced after the kill (its Kafka timestamp: librdkafka's produce time)
    news = sorted(first_seen.values())
    rec, overlapped = [], 0
    for j, kill in enumerate(kills):
        nxt = kills[j + 1]["t"] if j + 1 < len(kills) else float("inf")
        after = [t for t, ts in news if t > kill["t"] and ts > kill["wall_ms"]][:1]
        if after and after[0] < nxt:
            rec.append(after[0] - kill["t"])
        else:
            overlapped += 1
    return {"changes": len(want), "messages": len(decoded), "lost": len(lost), "duplicated": dups,
            "unexpected": len(unexpected), "differ": len(differ), "out_of_order": unordered,
            "split_keys": split_keys, "partitions": len(by_part), "decode_problems": problems,
            "lost_examples": lost[:5], "unexpected_examples": unexpected[:5], "differ_examples": differ[:3],
            "recovery": rec, "overlapped": overlapped}


def report(label, seed, chaos, group, res, col):
    rec = res["recovery"]
    mean = sum(rec) / len(rec) if rec else float("nan")
    victims = {}
    for k in chaos.kills:
        victims[k["victim"]] = victims.get(k["victim"], 0) + 1
    early = sum(1 for k in chaos.kills if not k["checkpoint"])
    log(f"chaos {label}: seed {seed}")
    log(f"chaos {label}: kills {len(chaos.kills)} ({', '.join(f'{v} {n}' for v, n in sorted(victims.items()))}; "
        f"{early} before the first checkpoint; {sum(1 for k in chaos.kills if k['moment'] == 'recovery')} during "
        f"recovery)")
    log(f"chaos {label}: changes {res['changes']}, messages {res['messages']} in {res['partitions']} partitions")
    log(f"chaos {label}: lost {res['lost']}, duplicated {res['duplicated']}, out of order {res['out_of_order']}, "
        f"unexpected {res['unexpected']}, values differing {res['differ']}, keys in two partitions "
        f"{res['split_keys']}")
    log(f"chaos {label}: restarts {group.restarts()} by the supervisor, {group.runs - 1} reruns after a killed "
        f"supervisor")
    log(f"chaos {label}: mean recovery time {mean:.2f} s (kill -> the next new change at the consumer; "
        f"{len(rec)} kills measured, {res['overlapped']} followed by another kill first; max "
        f"{max(rec) if rec else float('nan'):.2f} s)")
    if col.gaps:
        log(f"chaos {label}: the broker evicted messages before the consumer read them: {col.gaps[:5]}")
    for what in ("lost_examples", "unexpected_examples", "differ_examples"):
        if res[what]:
            log(f"chaos {label}: {what.replace('_', ' ')}: {res[what]}")
    if res["decode_problems"]:
        log(f"chaos {label}: decoding problems: {res['decode_problems'][:5]}")
    for p in chaos.problems:
        log(f"chaos {label}: rowcast misbehaved: {p}")


def failures(res, chaos, col, min_kills):
    """What makes the test fail: the names of the failed checks."""
    bad = []
    for k in ("lost", "duplicated", "out_of_order", "unexpected", "differ", "split_keys"):
        if res[k]:
            bad.append(k)
    if res["decode_problems"]:
        bad.append("decoding")
    if chaos.problems:
        bad.append("rowcast errors")
    if col.gaps:
        bad.append("broker evicted unread data (a harness limit: more partitions)")
    if len(chaos.kills) < min_kills:
        bad.append(f"only {len(chaos.kills)} kills of {min_kills} (the workload ended first)")
    return bad


def new_rng(seed):
    if seed is None:
        seed = random.SystemRandom().randrange(1 << 31)
    return seed, random.Random(seed)
