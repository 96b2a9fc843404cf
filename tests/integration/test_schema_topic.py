#!/usr/bin/python3
"""The schema history in Kafka (schema.history_topic, docs/schema-history.md): every table
version the tracker records is published to <prefix>._schema_history, and a history file lost
from the state dir is rebuilt from that topic before the stages start.

One throwaway MariaDB with binlog_row_metadata=MINIMAL writes a database and a table, rows, an
ALTER (a column renamed, one added) and rows again, in two binlog files; then, later, a third
file of rows. One `rowcast broker` outlives the replays (a replay's own local broker would
start empty each time). Checks, with python3-confluent-kafka reading the topic:

  * `rowcast replay` of the first two files: the topic holds one message per version the
    state dir's schema_history records (the database, the table's two versions), each keyed by
    the version's identity (`db`.`table`@FILE:OFFSET) with the file's line as its value;
  * schema_history deleted, `rowcast replay` of the three files resumes at the checkpoint (the
    third file only): the log says the file was rebuilt from the topic, the file holds the same
    versions again, the rows of the third file arrive with the names of the ALTERed table, and
    nothing was published twice;
  * the same with schema.history_topic=false: not rebuilt, and the rows have no names (what the
    topic is for).

Usage: test_schema_topic.py --rowcast PATH
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pipeline_common import run_driver, skip_if_missing  # noqa: E402
from mariadb_sandbox import MariaDBSandbox  # noqa: E402

with skip_if_missing():
    import confluent_kafka  # noqa: E402
    from kafka_tool import Broker, Collector  # noqa: E402

TOPIC = "rowcast._schema_history"


def history_topic(bootstrap):
    """Every message of the history topic: [(partition, offset, key, value)]."""
    c = confluent_kafka.Consumer({"bootstrap.servers": bootstrap, "group.id": "t", "enable.auto.commit": False,
                                  "enable.partition.eof": True, "log_level": 2})
    md = c.list_topics(timeout=10)
    if TOPIC not in md.topics:
        c.close()
        return []
    parts = list(md.topics[TOPIC].partitions)
    c.assign([confluent_kafka.TopicPartition(TOPIC, p, confluent_kafka.OFFSET_BEGINNING) for p in parts])
    out, ends = [], set()
    import time
    deadline = time.monotonic() + 20
    while len(ends) < len(parts) and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None:
            continue
        if m.error():
            if m.error().code() == confluent_kafka.KafkaError._PARTITION_EOF:
                ends.add(m.partition())
            continue
        out.append((m.partition(), m.offset(), m.key().decode(), m.value().decode()))
    c.close()
    return out


def versions_of(state):
    with open(os.path.join(state, "schema_history")) as f:
        return [l.rstrip("\n") for l in f if '"applied"' not in l]


def key_of(line):
    v = json.loads(line)
    ident = "`%s`" % v["db"].replace("`", "``")
    if v["table"] is not None:
        ident += ".`%s`" % v["table"].replace("`", "``")
    return "%s@%s:%d" % (ident, v["pos"]["file"], v["pos"]["off"])


def replay(rc, state, bootstrap, files, *opts):
    args = [rc, "replay", "-o", "state.dir=" + state, "-o", "serializer.format=json",
            "-o", "kafka.bootstrap.servers=" + bootstrap]
    for o in opts:
        args += ["-o", o]
    p = subprocess.run(args + files, capture_output=True, timeout=120)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def rows(col, first):
    """The after images of st.t's rows with id >= first, by id."""
    out = {}
    for m in col.messages:
        if m.topic == "rowcast.st.t" and m.value:
            a = json.loads(m.value)["after"] or {}
            ident = a.get("id", a.get("@1"))
            if ident is not None and ident >= first:
                out[ident] = a
    return out


def body(ck, rc, tmp, t0):
    bins = os.path.join(tmp, "binlogs")
    os.makedirs(bins)
    with MariaDBSandbox(extra_args=["--binlog-row-metadata=MINIMAL"]) as db:
        db.flush_binlogs()
        first = len(db.binlog_files()) - 1
        db.sql("CREATE DATABASE st; CREATE TABLE st.t (id INT PRIMARY KEY, a VARCHAR(10), b INT);"
               + "".join(f"INSERT INTO st.t VALUES ({i}, 'a{i}', {i});" for i in range(1, 4)))
        db.flush_binlogs()
        db.sql("ALTER TABLE st.t RENAME COLUMN a TO a_new, ADD COLUMN c INT DEFAULT 7;"
               + "".join(f"INSERT INTO st.t VALUES ({i}, 'n{i}', {i}, {i * 10});" for i in range(4, 6)))
        db.flush_binlogs()
        db.sql("".join(f"INSERT INTO st.t VALUES ({i}, 'm{i}', {i}, {i * 10});" for i in range(6, 9)))
        db.flush_binlogs()
        files = []
        for f in db.binlog_files()[first:-1]:
            shutil.copy2(f, bins)
            files.append(os.path.join(bins, os.path.basename(f)))
    two, three = files[:2], files[:3]

    with Broker(rc, echo_stderr=False) as broker, \
            Collector(broker.bootstrap, r"^rowcast\.st\.", config={"log_level": 2}) as col:
        state = os.path.join(tmp, "state")
        code, err = replay(rc, state, broker.bootstrap, two)
        col.wait(count=5, idle=1.0, timeout=30)
        lines = versions_of(state) if code == 0 else []
        msgs = history_topic(broker.bootstrap)
        ck.check(code == 0 and len(lines) == 3 and sorted((k, v) for _, _, k, v in msgs)
                 == sorted((key_of(l), l) for l in lines),
                 f"replay: {TOPIC} holds one message per version of schema_history ({len(msgs)} messages, "
                 f"{len(lines)} versions: the database, the table before and after its ALTER), keyed by identity, "
                 f"the line as value", err[-2000:] + "\n" + repr(msgs)[:800])
        ck.check(all(p == 0 for p, _, _, _ in msgs) and [k for _, _, k, _ in msgs][:1] == ["`st`@%s:%s" % (
            os.path.basename(two[0]), json.loads(lines[0])["pos"]["off"])] if lines else False,
            f"the versions are in partition 0, in the history's order (first key {msgs[0][2] if msgs else None})")
        ck.check("cannot create the topic %s compacted" % TOPIC in err,
                 "rowcast says it cannot have the topic created compacted here (the local broker has no controller "
                 "for CreateTopics)", err[-1500:])

        os.remove(os.path.join(state, "schema_history"))
        code, err = replay(rc, state, broker.bootstrap, three)
        col.wait(count=8, idle=1.0, timeout=30)
        got = rows(col, 6)
        ck.check(code == 0 and "schema history: %s/schema_history was missing; rebuilt from %s: 3 table versions"
                 % (state, TOPIC) in err,
                 "the history file deleted: the next replay says it rebuilt it from the topic (3 versions)",
                 err[-2000:])
        ck.check(os.path.exists(os.path.join(state, "schema_history")) and versions_of(state) == lines,
                 "the rebuilt file holds the same versions, in order")
        ck.check(sorted(got) == [6, 7, 8] and all(got[i] == {"id": i, "a_new": f"m{i}", "b": i, "c": i * 10}
                                                   for i in got),
                 f"the rows after the resume (third file only) are named by the ALTERed version: {got.get(6)}",
                 err[-1500:])
        again = history_topic(broker.bootstrap)
        ck.check(len(again) == len(msgs), f"nothing published twice ({len(again)} messages in {TOPIC})")

        state2 = os.path.join(tmp, "state-off")
        code, err = replay(rc, state2, broker.bootstrap, two, "schema.history_topic=false")
        os.remove(os.path.join(state2, "schema_history"))
        code, err = replay(rc, state2, broker.bootstrap, three, "schema.history_topic=false")
        ck.check("rebuilt" not in err and ("no `st`.`t`" in err or "@1" in err or code != 0),
                 f"with schema.history_topic=false the lost history is not rebuilt: the resumed rows have no "
                 f"names (exit {code})", err[-1500:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rowcast", required=True)
    a = ap.parse_args()
    return run_driver(a.rowcast, "rowcast-schema-topic-", [], body)


if __name__ == "__main__":
    sys.exit(main())
