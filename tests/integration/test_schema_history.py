#!/usr/bin/python3
"""Integration test: the schema history (docs/schema-history.md) gives `rowcast decode` the
names a binlog without FULL metadata lacks, version by version.

Usage: test_schema_history.py --rowcast PATH_TO_ROWCAST [--keep]

One throwaway MariaDB writes the same workload three times, with binlog_row_metadata FULL,
MINIMAL and NO_LOG: every column type of test_mariadb_types.py, the tables created in the
binlog, rows changed, then ALTERs (a column added, one dropped, one modified, one renamed, the
primary key changed, a table renamed) and the rows changed again. Checks:

  * MINIMAL and NO_LOG binlogs decode, line for line, to the same named output as the FULL
    binlog (positions, GTIDs and timestamps aside: the servers' events differ in size);
  * with schema.tracker=off the same MINIMAL binlog does not (the feature is what names them);
  * a MINIMAL binlog that starts after the tables exist, with schema.initial from
    mariadb-dump --no-data: the same named output; without schema.initial, columns keyed @1
    and a warning that says schema.initial would name them;
  * DDL met in practice (MySQL-dialect options and comments, views, triggers and procedures
    with DEFINERs, CREATE TABLE ... LIKE, ALTER ... RENAME, DDL from another default database,
    unusual identifiers, a gh-ost style shadow-table swap): named output equal to FULL's;
  * a schema.initial that does not describe the binlog's tables: exit 2 naming the table, the
    position and schema.initial;
  * `rowcast replay` of the MINIMAL binlog (JSON into the local broker): the named changes of
    `rowcast decode`, and <state.dir>/schema_history written;
  * `rowcast run` on a MINIMAL server across an ALTER executed while it is stopped: the changes
    written before the ALTER keep their old names, those after get the new ones; with
    schema.tracker=off (information_schema now) the old changes get the new names, which is
    what the schema history is for; and a DDL run with sql_log_bin=0 makes the next table map
    disagree with the history: the server's schema is read again, warned, and names the row.

Exit status 0 when every check passes, 77 when MariaDB is not installed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mariadb_sandbox import MariaDBSandbox, find_tool, mariadb_missing  # noqa: E402
import test_mariadb_types as types  # noqa: E402

DB = types.DB

FAILED = []


def check(name, ok, detail=""):
    print("%s  %s%s" % ("ok  " if ok else "FAIL", name, "" if ok or not detail else "\n      " + detail))
    if not ok:
        FAILED.append(name)


# The ALTERs in the middle of the type workload: every kind of change, each on its own table.
ALTERS = [
    "ALTER TABLE t_int ADD COLUMN extra INT NOT NULL DEFAULT 7 AFTER id",           # add
    "ALTER TABLE t_int DROP PRIMARY KEY, ADD PRIMARY KEY (extra, id)",               # primary key
    "ALTER TABLE t_num DROP COLUMN d",                                               # drop
    "ALTER TABLE t_str MODIFY COLUMN vc VARCHAR(300) CHARACTER SET latin1",          # modify
    "ALTER TABLE t_time RENAME COLUMN dt0 TO dt_renamed",                            # rename column
    "ALTER TABLE t_nopk ADD PRIMARY KEY (id)",                                       # a key where none was
    "ALTER TABLE t_bin RENAME TO t_bin2",                                            # rename the table
    "ALTER TABLE t_misc ADD COLUMN inv INT INVISIBLE DEFAULT 3, "
    "ADD COLUMN gen INT AS (id * 2) VIRTUAL",                                       # invisible, generated
]
RENAMED = {"t_bin": "t_bin2"}


def after_alters_dml():
    """Changes touching every column of every table, with the schema after the ALTERs."""
    out = []
    for t, _rows in types.TABLES:
        name = RENAMED.get(t.name, t.name)
        out.append("UPDATE `%s` SET `id` = `id` + 1000" % name)
        out.append("DELETE FROM `%s` WHERE `id` >= 1000 ORDER BY `id` LIMIT 2" % name)
    return out


def write_types(db, meta):
    """The type workload under binlog_row_metadata=meta: (files with the CREATEs and the rest,
    files after the CREATEs only, the mariadb-dump --no-data taken at that point)."""
    db.sql("DROP DATABASE IF EXISTS %s; SET GLOBAL binlog_row_metadata=%s" % (DB, meta))
    db.flush_binlogs()
    first = len(db.binlog_files()) - 1
    db.sql("CREATE DATABASE %s CHARACTER SET utf8mb4" % DB)
    db.sql(";\n".join(t.ddl() for t, _ in types.TABLES) + ";", database=DB)
    db.flush_binlogs()
    after_create = len(db.binlog_files()) - 1
    dump = subprocess.run([find_tool("mariadb-dump", "mysqldump"), "--no-defaults", "--user=root",
                           "--socket=" + db.socket, "--no-data", "--databases", DB],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
    ops = types.build_scenario(0, 1)
    types.run_ops(db, ops, "SET sql_mode=''; SET time_zone='+00:00';")
    db.sql(";\n".join(ALTERS) + ";", database=DB)
    db.sql("SET sql_mode=''; " + ";\n".join(after_alters_dml()) + ";", database=DB)
    db.flush_binlogs()
    files = db.binlog_files()
    return files[first:-1], files[after_create:-1], dump


def copy_out(files, dest):
    os.makedirs(dest, exist_ok=True)
    for f in files:
        shutil.copy2(f, dest)
    return [os.path.join(dest, os.path.basename(f)) for f in files]


def decode(rowcast, files, *opts):
    args = [rowcast, "decode"]
    for o in opts:
        args += ["-o", o]
    r = subprocess.run(args + files, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def named(out):
    """The lines without what differs between two servers' binlogs of the same changes."""
    lines = []
    for line in out.splitlines():
        j = json.loads(line)
        for k in ("pos", "gtid", "ts"):
            j.pop(k, None)
        lines.append(json.dumps(j, sort_keys=False))
    return lines


def first_diff(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "line %d:\n      got      %s\n      expected %s" % (i + 1, x[:400], y[:400])
    return "%d lines, expected %d" % (len(a), len(b))


def same(name, got, expected):
    check(name, got == expected, first_diff(got, expected))


# ----------------------------------------------------------------------------- practical DDL

PRACTICAL = r"""
CREATE DATABASE app /*!40100 DEFAULT CHARACTER SET utf8mb4 */;
CREATE DATABASE other;
USE app;
/* a MySQL-dialect table: comments, options MariaDB only half knows */
CREATE TABLE `orders` (
  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT COMMENT 'the order',
  `status` enum('new','paid','shipped') COLLATE utf8mb4_unicode_ci NOT NULL DEFAULT 'new',
  `note` varchar(64) CHARACTER SET latin1 DEFAULT NULL /* free text */,
  `created` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (`id`) USING BTREE,
  KEY `ix_status` (`status`) COMMENT 'for the dashboard'
) ENGINE=InnoDB AUTO_INCREMENT=1000 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
  ROW_FORMAT=DYNAMIC STATS_PERSISTENT=0 COMMENT='orders, MySQL style';
INSERT INTO orders (status, note) VALUES ('new', 'café'), ('paid', NULL);
CREATE DEFINER=`nobody`@`%` SQL SECURITY DEFINER VIEW v_orders AS SELECT id, status FROM orders;
CREATE DEFINER=`root`@`localhost` TRIGGER tr_orders BEFORE INSERT ON orders
  FOR EACH ROW SET NEW.note = IFNULL(NEW.note, 'none');
CREATE DEFINER=`nobody`@`localhost` PROCEDURE p_orders() SELECT COUNT(*) FROM orders;
CREATE TABLE orders_archive LIKE orders;
INSERT INTO orders_archive SELECT * FROM orders;
ALTER TABLE orders_archive RENAME TO orders_old, ADD COLUMN archived_at date NULL;
UPDATE orders_old SET archived_at = '2024-01-02';
USE other;
ALTER TABLE app.orders ADD COLUMN `total` decimal(12,2) NOT NULL DEFAULT 0 AFTER status;
INSERT INTO app.orders (status, total) VALUES ('shipped', 12.5);
USE app;
CREATE TABLE `select` (`from` int NOT NULL PRIMARY KEY, `naïve ☃` varchar(10), `a``b` int);
INSERT INTO `select` VALUES (1, 'snow', 2);
ALTER TABLE `select` RENAME COLUMN `naïve ☃` TO `größe`;
INSERT INTO `select` VALUES (2, 'mann', 3);
-- a gh-ost style change: shadow table, copy, atomic swap
CREATE TABLE `_orders_gho` LIKE orders;
ALTER TABLE `_orders_gho` ADD COLUMN coupon varchar(16) NULL, DROP COLUMN note;
INSERT INTO `_orders_gho` (id, status, total, created) SELECT id, status, total, created FROM orders;
RENAME TABLE orders TO `_orders_del`, `_orders_gho` TO orders;
DROP TABLE `_orders_del`;
INSERT INTO orders (status, total, coupon) VALUES ('new', 1.25, 'SPRING');
UPDATE orders SET coupon = 'ALL';
DROP VIEW v_orders;
GRANT SELECT ON app.* TO 'reporting'@'%' IDENTIFIED BY 'x';
TRUNCATE TABLE orders_old;
DROP TABLE orders_old;
"""


def write_practical(db, meta):
    db.sql("DROP DATABASE IF EXISTS app; DROP DATABASE IF EXISTS other; DROP USER IF EXISTS 'reporting'@'%%'; "
           "SET GLOBAL binlog_row_metadata=%s" % meta)
    db.flush_binlogs()
    first = len(db.binlog_files()) - 1
    db.sql("SET sql_mode='STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION'; SET timestamp=1700000000;\n" + PRACTICAL)
    db.flush_binlogs()
    return db.binlog_files()[first:-1]


def kafka_values(rowcast, args, count, bootstrap_cb):
    """Run `rowcast` with args (a replay, or a run stopped once count changes arrived) into a
    local broker; (exit status, stderr, values received)."""
    from kafka_tool import Broker, Collector
    with Broker(rowcast, echo_stderr=False) as broker, \
            Collector(broker.bootstrap, r"^rowcast\.", config={"log_level": 2}) as col:
        code, err = bootstrap_cb(broker.bootstrap, col, count)
        return code, err, [json.loads(m.value) for m in col.messages]


def replay_check(rowcast, work, files, expected_named):
    state = os.path.join(work, "replay-state")

    def go(bootstrap, col, count):
        r = subprocess.run([rowcast, "replay", "-o", "state.dir=" + state, "-o", "serializer.format=json",
                            "-o", "kafka.bootstrap.servers=" + bootstrap] + files,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        col.wait(count=count, idle=2.0, timeout=60)
        return r.returncode, r.stderr.decode("utf-8", "replace")

    code, err, values = kafka_values(rowcast, None, len(expected_named), go)
    check("replay of the MINIMAL binlog succeeds", code == 0, err[-1500:])
    order = {os.path.basename(f): i for i, f in enumerate(files)}
    values.sort(key=lambda v: (order[v["pos"]["file"]], v["pos"]["offset"], v["pos"]["row"]))
    same("replay of the MINIMAL binlog: the named changes of rowcast decode", named("\n".join(
        json.dumps(v) for v in values)), expected_named)
    check("replay keeps the versions in <state.dir>/schema_history",
          os.path.exists(os.path.join(state, "schema_history")))


def run_across_alter(rowcast, work, tracker):
    """rowcast run, stopped; rows, an ALTER, rows; rowcast run again. The changes by id."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import test_live
    tag = "on" if tracker else "off"
    extra = [] if tracker else ["schema.tracker=off"]
    with MariaDBSandbox(extra_args=["--binlog-row-metadata=MINIMAL"]) as db:
        test_live.grant_rowcast(db)
        db.sql("CREATE DATABASE sh; CREATE TABLE sh.t (id INT PRIMARY KEY, a VARCHAR(10), b INT, "
               "e ENUM('x','y','z'));" + "".join("INSERT INTO sh.t VALUES (%d, 'a%d', %d, 'y');" % (i, i, i)
                                                   for i in (1, 2, 3)))
        state = os.path.join(work, "run-state-" + tag)
        results = []

        def go(bootstrap, col, count):
            live = test_live.Live(rowcast, db, state, bootstrap, extra)
            col.wait(count=3, idle=2.0, timeout=60)
            code1 = live.stop()
            err = live.stderr()
            # while rowcast is stopped: old-schema rows, the ALTER, new-schema rows
            db.sql("INSERT INTO sh.t VALUES (4, 'a4', 4, 'z'); ALTER TABLE sh.t RENAME COLUMN a TO a_new, "
                   "DROP COLUMN b, ADD COLUMN c INT DEFAULT 9 AFTER e, MODIFY e ENUM('x','y','z','w');"
                   "INSERT INTO sh.t VALUES (5, 'a5', 'w', 5); UPDATE sh.t SET id = id + 10 WHERE id = 1")
            live = test_live.Live(rowcast, db, state, bootstrap, extra)
            col.wait(count=count, idle=3.0, timeout=60)
            if tracker:
                # a DDL the binlog does not carry: the next table map does not match the history
                db.sql("SET sql_log_bin = 0; ALTER TABLE sh.t ADD COLUMN hidden INT DEFAULT 1; SET sql_log_bin = 1; "
                       "INSERT INTO sh.t (id, a_new, e, c, hidden) VALUES (6, 'a6', 'x', 6, 66)")
                col.wait(count=count + 1, idle=3.0, timeout=60)
                from pipeline_common import wait_for

                def counted():
                    r = subprocess.run([rowcast, "stats", "-o", "state.dir=" + state], stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL)
                    try:
                        st = json.loads(r.stdout)
                    except ValueError:
                        return False
                    return any(x.get("stage") == "reader" and x.get("schema_mismatches", 0) >= 1
                               for x in st.get("stages", []))
                results.append(wait_for(counted, 15))
            code2 = live.stop()
            results.insert(0, (code1, code2))
            return code2, err + live.stderr()

        code, err, values = kafka_values(rowcast, None, 6, go)
    by_id = {}
    for v in values:
        img = v["after"] or v["before"]
        ident = img.get("id", img.get("@1"))
        by_id.setdefault(ident, []).append(v)
    return results[0] if results else None, err, by_id, results[1:] == [True]


def test_run(rowcast, work):
    codes, err, by_id, stats_counted = run_across_alter(rowcast, work, True)
    check("run (MINIMAL server) streams, stops, streams again", codes == (0, 0), "%s\n%s" % (codes, err[-2500:]))
    old = by_id.get(4, [{}])[0].get("after") or {}
    new = by_id.get(5, [{}])[0].get("after") or {}
    upd = by_id.get(11, [{}])[0]
    check("run: the row written before the ALTER while rowcast was stopped keeps its old names",
          old == {"id": 4, "a": "a4", "b": 4, "e": "z"}, json.dumps(by_id.get(4)))
    check("run: the row written after it has the new names", new == {"id": 5, "a_new": "a5", "e": "w", "c": 5},
          json.dumps(by_id.get(5)))
    check("run: the update after the ALTER, before and after images named by the new version",
          (upd.get("before") or {}).get("a_new") == "a1" and (upd.get("after") or {}).get("id") == 11,
          json.dumps(upd))
    check("run: the first rows (before the stop) named", (by_id.get(1, [{}])[0].get("after") or {}).get("a") == "a1",
          json.dumps(by_id.get(1)))
    hidden = by_id.get(6, [{}])[0].get("after") or {}
    check("run: a DDL the binlog does not carry (sql_log_bin=0): the table map does not match, the server's "
          "schema is read again, warned, and the row named by it", hidden.get("hidden") == 66 and
          "read again" in err, json.dumps(by_id.get(6)) + "\n" + "\n".join(
              l for l in err.splitlines() if "schema" in l)[-1500:])
    check("run: rowcast stats counts the mismatch (schema_mismatches)", stats_counted)
    codes, err, by_id, _ = run_across_alter(rowcast, work, False)
    old = by_id.get(4, [{}])[0].get("after") or {}
    check("run with schema.tracker=off (information_schema now): the old row gets the new names, "
          "which the schema history avoids", codes == (0, 0) and "a" not in old, json.dumps(by_id.get(4)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rowcast", required=True)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    missing = mariadb_missing(("mariadb-dump", "mysqldump"))
    if missing:
        print("SKIP  " + missing)
        return 77
    rowcast = os.path.abspath(args.rowcast)
    work = tempfile.mkdtemp(prefix="rowcast-schema-it-")
    try:
        sets = {}
        with MariaDBSandbox(keep=args.keep, extra_args=["--sql-mode=", "--default-time-zone=+00:00"]) as db:
            for meta in ("FULL", "MINIMAL", "NO_LOG"):
                whole, after, dump = write_types(db, meta)
                sets[meta] = (copy_out(whole, os.path.join(work, meta)),
                              [os.path.join(work, meta, os.path.basename(f)) for f in after], dump)
                sets["practical_" + meta] = copy_out(write_practical(db, meta), os.path.join(work, "p" + meta))
        full_files, full_after, _ = sets["FULL"]
        rc, out, err = decode(rowcast, full_files)
        check("the FULL binlog decodes", rc == 0, err[-2000:])
        expected = named(out)
        check("the FULL binlog has named columns and every table's changes",
              '"@1"' not in out and len(expected) > 200 and all(
                  ('"table":"%s"' % RENAMED.get(t.name, t.name)) in out for t, _ in types.TABLES),
              "%d lines" % len(expected))
        check("a FULL binlog never starts the schema tracker", "rowcast-schema" not in err, err[-500:])

        for meta in ("MINIMAL", "NO_LOG"):
            whole, after, dump = sets[meta]
            rc, out, err = decode(rowcast, whole)
            check("%s binlog with the CREATEs decodes" % meta, rc == 0, err[-2000:])
            same("%s binlog decodes to the FULL binlog's named output, line for line" % meta, named(out), expected)
        whole, after, dump = sets["MINIMAL"]
        rc, out, err = decode(rowcast, whole, "schema.tracker=off")
        check("with schema.tracker=off the MINIMAL binlog is keyed @1 (the feature names it)",
              rc == 0 and '"@1"' in out and named(out) != expected, err[-500:])

        initial = os.path.join(work, "initial.sql")
        with open(initial, "wb") as f:
            f.write(dump)
        rc, out, err = decode(rowcast, after, "schema.initial=" + initial)
        check("a binlog starting after the CREATEs, with schema.initial, decodes", rc == 0, err[-2000:])
        same("... to the FULL binlog's named output", named(out), expected)
        rc, out, err = decode(rowcast, after)
        check("without schema.initial: columns keyed @1 and a warning naming schema.initial",
              rc == 0 and '"@1"' in out and "schema.initial" in err, err[-800:])
        # a dump that does not describe the binlog: the tables as they are after the ALTERs
        bad = os.path.join(work, "bad.sql")
        with MariaDBSandbox(extra_args=["--sql-mode="]) as db2:
            db2.sql("CREATE DATABASE %s; USE %s; CREATE TABLE t_int (id INT PRIMARY KEY, only_one INT)" % (DB, DB))
            with open(bad, "wb") as f:
                f.write(subprocess.run([find_tool("mariadb-dump", "mysqldump"), "--no-defaults", "--user=root",
                                        "--socket=" + db2.socket, "--no-data", "--databases", DB],
                                       stdout=subprocess.PIPE, check=True).stdout)
        rc, out, err = decode(rowcast, after, "schema.initial=" + bad)
        check("a schema.initial that does not match: exit 2 naming the table, the position and schema.initial",
              rc == 2 and "t_int" in err and after[0].rsplit("/", 1)[1] in err and "schema.initial" in err,
              "status %d: %s" % (rc, err[-800:]))
        check("... and nothing printed for that table", '"table":"t_int"' not in out, out[-300:])

        replay_check(rowcast, work, sets["MINIMAL"][0], expected)
        test_run(rowcast, work)

        rc, out, err = decode(rowcast, sets["practical_FULL"])
        check("practical DDL, FULL binlog decodes", rc == 0 and '"@1"' not in out, err[-1000:])
        pexpected = named(out)
        for meta in ("MINIMAL", "NO_LOG"):
            rc, out, err = decode(rowcast, sets["practical_" + meta])
            check("practical DDL, %s binlog decodes without a stop" % meta, rc == 0, err[-2000:])
            same("practical DDL, %s: the FULL binlog's named output" % meta, named(out), pexpected)
            print("info: %s tracker log:\n      %s" % (meta, "\n      ".join(
                l for l in err.splitlines() if "rowcast-schema" in l)))
            check("practical DDL, %s: no error logged" % meta, " error" not in err, err[-1500:])
    finally:
        if args.keep:
            print("info: kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("%d failed" % len(FAILED))
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
