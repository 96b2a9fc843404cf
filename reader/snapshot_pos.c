/*
 * snapshot_pos.c: where each snapshot chunk is in the binlog (snapshot.position). Called by
 * snapshot.c around every chunk's read: rc_snap_pos_begin opens the chunk's consistent view
 * and gives its binlog position P, rc_snap_pos_end closes it.
 *
 * binlog_snapshot (MariaDB): START TRANSACTION WITH CONSISTENT SNAPSHOT, then MariaDB's
 * binlog_snapshot_file / binlog_snapshot_position say which position the view is at. No lock.
 *
 * read_lock (MySQL, or forced): the position is read while nothing can commit, so it is the
 * view's. First choice, per chunk: FLUSH TABLES WITH READ LOCK; START TRANSACTION WITH
 * CONSISTENT SNAPSHOT; SHOW MASTER STATUS (SHOW BINARY LOG STATUS on MySQL 8.4); UNLOCK
 * TABLES; then the chunk is read in the transaction, without the lock (a global read lock is
 * not released by START TRANSACTION, and UNLOCK TABLES after FTWRL commits nothing). When the
 * server refuses FTWRL (no RELOAD privilege, as on managed servers): LOCK TABLES t READ; SHOW
 * MASTER STATUS; the chunk is read under the table lock; UNLOCK TABLES (a table lock cannot be
 * combined with a consistent-snapshot transaction: START TRANSACTION would release it). The
 * time each lock is held is measured (rc_snap_lock, logged at debug).
 */
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "snapshot_int.h"

static void lock_done(rc_snap *sn) {
  uint64_t ns = rc_now_ns() - sn->lock_t0;
  sn->lock.count++;
  sn->lock.total_ns += ns;
  sn->lock.last_ns = ns;
  if (ns > sn->lock.max_ns) sn->lock.max_ns = ns;
  rc_debug("snapshot chunk of %s.%s: %s held for %.3f ms", sn->tables[sn->cur].db, sn->tables[sn->cur].name,
           sn->lock_kind == LOCK_GLOBAL ? "FLUSH TABLES WITH READ LOCK" : "LOCK TABLES ... READ", (double)ns / 1e6);
}

/* MariaDB's position of the consistent snapshot just opened. */
static int binlog_snapshot_pos(rc_snap *sn, char *es, size_t esz) {
  MYSQL_RES *res;
  int rc = rc_snap_query(sn, "SHOW STATUS LIKE 'binlog_snapshot_%'", &res, "reading the snapshot's binlog position", es, esz);
  if (rc < 0) return rc;
  MYSQL_ROW row;
  while ((row = mysql_fetch_row(res))) {
    if (!row[0] || !row[1]) continue;
    if (!strcasecmp(row[0], "binlog_snapshot_file")) snprintf(sn->ch.file, sizeof sn->ch.file, "%s", row[1]);
    if (!strcasecmp(row[0], "binlog_snapshot_position")) sn->ch.pos = strtoull(row[1], NULL, 10);
  }
  mysql_free_result(res);
  if (!sn->ch.file[0] || !sn->ch.pos)
    return rc_errf(RC_ERR_ARG, es, esz,
                   "%s gives no binlog_snapshot_file/binlog_snapshot_position (snapshot.position=binlog_snapshot "
                   "needs MariaDB): use snapshot.position=read_lock (or auto)", sn->srv->where);
  return 0;
}

/* The server's current binlog position (nothing can commit meanwhile: the caller holds a lock). */
static int master_status(rc_snap *sn, char *es, size_t esz) {
  static const char *const stmt[] = {"SHOW MASTER STATUS", "SHOW BINARY LOG STATUS"};
  MYSQL_RES *res = NULL;
  for (;;) {
    const char *q = stmt[sn->status_stmt];
    if (!mysql_real_query(sn->my, q, strlen(q))) break;
    /* MySQL 8.4 removed SHOW MASTER STATUS: a syntax error; try its new name once */
    if (mysql_errno(sn->my) == ER_PARSE_ERROR && sn->status_stmt == 0) {
      sn->status_stmt = 1;
      continue;
    }
    return rc_server_fail(sn->srv, sn->my, "reading the binlog position (SHOW MASTER STATUS)", es, esz);
  }
  res = mysql_store_result(sn->my);
  MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
  if (row && row[0] && row[1]) {
    snprintf(sn->ch.file, sizeof sn->ch.file, "%s", row[0]);
    sn->ch.pos = strtoull(row[1], NULL, 10);
  }
  if (res) mysql_free_result(res);
  if (!sn->ch.file[0] || !sn->ch.pos)
    return rc_errf(RC_ERR_ARG, es, esz, "%s on %s gives no binlog position: is the binlog enabled (log_bin)?",
                   stmt[sn->status_stmt], sn->srv->where);
  return 0;
}

static int is_denied(unsigned e) {
  return e == ER_SPECIFIC_ACCESS_DENIED_ERROR || e == ER_DBACCESS_DENIED_ERROR || e == ER_ACCESS_DENIED_ERROR ||
         e == ER_TABLEACCESS_DENIED_ERROR;
}

/* FLUSH TABLES WITH READ LOCK: 0 taken, 1 refused for want of a privilege, or an error. */
static int global_lock(rc_snap *sn, char *es, size_t esz) {
  static const char q[] = "FLUSH TABLES WITH READ LOCK";
  sn->lock_t0 = rc_now_ns();
  if (!mysql_real_query(sn->my, q, sizeof q - 1)) return 0;
  unsigned e = mysql_errno(sn->my);
  if (is_denied(e) && sn->lock_kind == 0) {
    rc_warn("snapshot.position=read_lock: %s refuses FLUSH TABLES WITH READ LOCK (%s, error %u): each chunk is "
            "read under LOCK TABLES <table> READ instead, which blocks the table's writers while the chunk is read",
            sn->srv->where, mysql_error(sn->my), e);
    return 1;
  }
  return rc_server_fail(sn->srv, sn->my, "taking FLUSH TABLES WITH READ LOCK for the snapshot's position", es, esz);
}

static int table_lock(rc_snap *sn, char *es, size_t esz) {
  const plan_table *pt = &sn->tables[sn->cur];
  rc_buf q = {0};
  rc_buf_lit(&q, "LOCK TABLES ");
  rc_snap_put_table(&q, pt->db, pt->name);
  rc_buf_lit(&q, " READ");
  sn->lock_t0 = rc_now_ns();
  int failed = mysql_real_query(sn->my, q.p, (unsigned long)q.len);
  rc_buf_free(&q);
  if (!failed) {
    sn->table_locked = 1;
    return 0;
  }
  unsigned e = mysql_errno(sn->my);
  if (is_denied(e))
    return rc_errf(RC_ERR_ARG, es, esz,
                   "snapshot.position=read_lock on %s: neither FLUSH TABLES WITH READ LOCK nor LOCK TABLES %s.%s READ "
                   "is allowed (%s, error %u): grant the user RELOAD (for FTWRL) or LOCK TABLES on %s, or on MariaDB "
                   "use snapshot.position=binlog_snapshot, which needs no lock",
                   sn->srv->where, pt->db, pt->name, mysql_error(sn->my), e, pt->db);
  return rc_server_fail(sn->srv, sn->my, "taking LOCK TABLES ... READ for the snapshot's position", es, esz);
}

static int read_lock_begin(rc_snap *sn, char *es, size_t esz) {
  int rc;
  if (sn->lock_kind != LOCK_TABLE) {
    if ((rc = global_lock(sn, es, esz)) < 0) return rc;
    if (rc == 0) {
      if (!sn->lock_kind) rc_info("snapshot.position=read_lock: each chunk's position is read under a brief FLUSH TABLES WITH READ LOCK");
      sn->lock_kind = LOCK_GLOBAL;
      char e2[256];
      if ((rc = rc_snap_query(sn, "START TRANSACTION WITH CONSISTENT SNAPSHOT", NULL, "starting a consistent snapshot",
                              es, esz)) < 0 ||
          (rc = master_status(sn, es, esz)) < 0) {
        rc_snap_query(sn, "UNLOCK TABLES", NULL, "releasing the read lock", e2, sizeof e2);
        return rc;
      }
      rc = rc_snap_query(sn, "UNLOCK TABLES", NULL, "releasing the read lock", es, esz);
      lock_done(sn);
      return rc;
    }
    sn->lock_kind = LOCK_TABLE;
  }
  if ((rc = table_lock(sn, es, esz)) < 0) return rc;
  if ((rc = master_status(sn, es, esz)) < 0) {
    char e2[256];
    rc_snap_query(sn, "UNLOCK TABLES", NULL, "releasing the table lock", e2, sizeof e2);
    sn->table_locked = 0;
  }
  return rc;
}

int rc_snap_pos_begin(rc_snap *sn, char *es, size_t esz) {
  sn->ch.file[0] = 0;
  sn->ch.pos = 0;
  if (sn->position == RC_SNAP_POS_READ_LOCK) return read_lock_begin(sn, es, esz);
  int rc = rc_snap_query(sn, "START TRANSACTION WITH CONSISTENT SNAPSHOT", NULL, "starting a consistent snapshot", es, esz);
  if (rc == 0 && (rc = binlog_snapshot_pos(sn, es, esz)) < 0) {
    char e2[256];
    rc_snap_query(sn, "ROLLBACK", NULL, "ending the snapshot", e2, sizeof e2);
  }
  return rc;
}

int rc_snap_pos_end(rc_snap *sn, char *es, size_t esz) {
  if (sn->table_locked) {
    sn->table_locked = 0;
    int rc = rc_snap_query(sn, "UNLOCK TABLES", NULL, "releasing the table lock", es, esz);
    lock_done(sn);
    return rc;
  }
  return rc_snap_query(sn, "COMMIT", NULL, "ending the snapshot", es, esz);
}

const rc_snap_lock_stats *rc_snap_lock(const rc_snap *sn) { return &sn->lock; }
