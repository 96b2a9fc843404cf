/*
 * tracker.c: rowcast-schema, the schema tracker. A process of its own, started by the reader
 * (replay, run) or by `rowcast decode` through schema_client.h and driven over a socket pair:
 * it applies the binlog's table DDL, in order, with each statement's default database,
 * sql_mode and charsets, to a private MariaDB (private_db.c), reads every table it changed back
 * from information_schema into a new version at the statement's position (versions.c), and
 * answers each TABLE_MAP with the version current at its position: checked against the binlog
 * (check.c) and written into the TABLE_MAP's optional metadata, so the stages decode names,
 * labels and keys without knowing the tracker exists.
 *
 * Statements that are not about tables or databases (users, roles, grants, servers, DML) are
 * skipped; views, triggers and routines are applied when MariaDB takes them and skipped with an
 * info line when it does not. Nothing a statement does stops the stream: a DDL that fails here
 * leaves its tables as they were, and the next TABLE_MAP check says when that matters.
 *
 * In `run` it connects to the source itself (to read the server's schema at the start, and a
 * table again after a mismatch) as the reader does: source.tls and its files, the same check after
 * the login and the same refusals (common/connect). The password comes in the init message,
 * never on the command line or in the environment, and is wiped from every buffer that held it.
 *
 * Protocol (schema_client.c is the other side): each message is a u32 LE length, a kind byte
 * and a payload. 'I' init (key=value lines) -> 'K', or 'E' (a configuration error) or 'R' (an
 * error a restart may mend) with the message; 'Q' query -> 'K' u8 changed;
 * 'T' table map -> 'T' u8 status, u32 message length, message, event bytes. EOF: stop.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "clock.h"
#include "connect_tls.h"
#include "log.h"
#include "rc_err.h"
#include "schema_proto.h"
#include "tracker_int.h"

/* the source's settings in the init message (run), as tracker.src indexes them */
enum { SRC_HOST, SRC_PORT, SRC_SOCKET, SRC_USER, SRC_PASSWORD, SRC_TLS, SRC_TLS_CA, SRC_TLS_CERT, SRC_TLS_KEY, NSRC };
static const char *const srckeys[NSRC] = {"source_host", "source_port", "source_socket", "source_user",
                                          "source_password", "source_tls", "source_tls_ca", "source_tls_cert",
                                          "source_tls_key"};

typedef struct {
  int fd;
  sc_db db;
  sc_store store;
  char mode[16];              /* decode, replay, run */
  char *src[NSRC];            /* run: the source's host, port, socket, user, password, TLS (SRC_*) */
  rc_connect_tls_state tls_st; /* its TLS, said at the first connection */
  const sc_version **warned;  /* FULL-metadata mismatches already logged */
  size_t nwarned;
  rc_buf msg, reply;
  uint64_t ddl_applied, ddl_failed, ddl_skipped, resyncs;
} tracker;

static volatile sig_atomic_t stop;
static void on_signal(int sig) { stop = sig; }

static int read_full(int fd, void *p, size_t n) {
  uint8_t *b = p;
  while (n) {
    ssize_t r = read(fd, b, n);
    if (r < 0 && errno == EINTR && !stop) continue;
    if (r <= 0) return -1;
    b += r;
    n -= (size_t)r;
  }
  return 0;
}

static int send_msg(tracker *t, char kind, const void *p, size_t n) {
  uint8_t h[5] = {(uint8_t)(n + 1), (uint8_t)((n + 1) >> 8), (uint8_t)((n + 1) >> 16), (uint8_t)((n + 1) >> 24),
                  (uint8_t)kind};
  t->reply.len = 0;
  rc_buf_put(&t->reply, h, 5);
  rc_buf_put(&t->reply, p, n);
  size_t off = 0;
  while (off < t->reply.len) {
    ssize_t w = write(t->fd, t->reply.p + off, t->reply.len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    off += (size_t)w;
  }
  return 0;
}

/* ---- what a statement is about ------------------------------------------------------------ */

/* The next word of a statement, after blanks and comments (an executable comment's marker
 * "/" "*!NNNNN" counts as blank: its text is read). Upper-cased into w. */
static const char *next_word(const char *p, const char *end, char *w, size_t n) {
  for (;;) {
    while (p < end && strchr(" \t\r\n", *p)) p++;
    if (end - p >= 3 && p[0] == '/' && p[1] == '*' && p[2] == '!') {
      p += 3;
      while (p < end && *p >= '0' && *p <= '9') p++;
    } else if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
      const char *e = p + 2;
      while (e + 1 < end && !(e[0] == '*' && e[1] == '/')) e++;
      p = e + 2 > end ? end : e + 2;
    } else if (p < end && (*p == '#' || (end - p >= 3 && p[0] == '-' && p[1] == '-' && p[2] == ' '))) {
      while (p < end && *p != '\n') p++;
    } else {
      break;
    }
  }
  size_t k = 0;
  while (p < end && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_')) {
    if (k + 1 < n) w[k++] = (char)(*p >= 'a' ? *p - 32 : *p);
    p++;
  }
  w[k] = 0;
  return p;
}

/* Is the statement one to apply: DDL about tables, databases, or objects that live with them
 * (views, triggers, routines, indexes, sequences)? Users, roles, grants, servers, tablespaces,
 * DML and the rest are not. */
static int is_schema_ddl(const char *sql, size_t len, char *what, size_t n) {
  const char *end = sql + len;
  char w1[32], w2[32];
  const char *p = next_word(sql, end, w1, sizeof w1);
  snprintf(what, n, "%s", w1[0] ? w1 : "(no keyword)");
  if (strcmp(w1, "CREATE") && strcmp(w1, "ALTER") && strcmp(w1, "DROP") && strcmp(w1, "RENAME") &&
      strcmp(w1, "TRUNCATE"))
    return 0;
  p = next_word(p, end, w2, sizeof w2);
  if (!strcmp(w2, "OR")) { /* CREATE OR REPLACE x */
    p = next_word(p, end, w2, sizeof w2);
    p = next_word(p, end, w2, sizeof w2);
  }
  snprintf(what, n, "%s %s", w1, w2);
  static const char *const not_schema[] = {"USER", "ROLE", "SERVER", "TABLESPACE", "LOGFILE", "RESOURCE",
                                           "INSTANCE", "SPATIAL", "TEMPORARY", NULL};
  for (int i = 0; not_schema[i]; i++)
    if (!strcmp(w2, not_schema[i])) return 0;
  return 1;
}

/* ---- requests ----------------------------------------------------------------------------- */

static int parse_pos(const uint8_t **p, const uint8_t *end, sc_pos *pos) {
  const uint8_t *z = memchr(*p, 0, (size_t)(end - *p));
  if (!z || end - z < 9 || z - *p >= (ptrdiff_t)sizeof pos->file) return -1;
  memcpy(pos->file, *p, (size_t)(z - *p));
  pos->file[z - *p] = 0;
  pos->off = 0;
  for (int i = 0; i < 8; i++) pos->off |= (uint64_t)z[1 + i] << (8 * i);
  *p = z + 9;
  return 0;
}

/* Set one session charset variable to a collation id; one MariaDB does not know (MySQL 8's
 * utf8mb4_0900 family, 255 and up) is taken as utf8mb4_general_ci. */
static void set_collation(tracker *t, const char *var, unsigned id) {
  char set[120], es[300];
  int n = snprintf(set, sizeof set, "SET SESSION %s = %u", var, id);
  if (sc_db_exec(&t->db, set, (size_t)n, es, sizeof es) == 0) return;
  rc_debug("%s = %u not taken (%s): utf8mb4 instead", var, id, es);
  n = snprintf(set, sizeof set, "SET SESSION %s = 45", var);
  sc_db_exec(&t->db, set, (size_t)n, es, sizeof es);
}

/* Run the statement with its session (charsets, sql_mode, database). 0, or the error. A
 * database the private server does not know yet is created (the source had it), with the
 * event's server collation as its default. */
static int apply(tracker *t, const rc_sc_query *q, char *es, size_t esz) {
  MYSQL *m = t->db.my;
  char set[200];
  if (q->has_charsets) {
    set_collation(t, "character_set_client", q->cs_client);
    set_collation(t, "collation_connection", q->cs_connection);
    set_collation(t, "collation_server", q->cs_server);
  }
  uint64_t mode = q->has_sql_mode ? q->sql_mode : 0;
  if (!q->is_mariadb) mode &= 0x7FFFFFFFull; /* MySQL's higher bits mean other things here */
  mode &= ~(1ull << 30);                     /* NO_ENGINE_SUBSTITUTION: InnoDB tables become Aria */
  mode |= 1ull << 4;                         /* IGNORE_BAD_TABLE_OPTIONS */
  int n = snprintf(set, sizeof set, "SET SESSION sql_mode = %llu", (unsigned long long)mode);
  if (sc_db_exec(&t->db, set, (size_t)n, es, esz)) rc_debug("sql_mode %llu not taken: %s", (unsigned long long)mode, es);
  if (q->db_len && !q->suppress_use) {
    char dbn[256];
    snprintf(dbn, sizeof dbn, "%.*s", (int)q->db_len, q->db);
    if (mysql_select_db(m, dbn) && mysql_errno(m) == 1049) {
      rc_buf c = {0};
      rc_buf_lit(&c, "CREATE DATABASE IF NOT EXISTS `");
      for (const char *s = dbn; *s; s++) {
        if (*s == '`') rc_buf_putc(&c, '`');
        rc_buf_putc(&c, *s);
      }
      rc_buf_putc(&c, '`');
      sc_db_exec(&t->db, c.p, c.len, es, esz);
      rc_buf_free(&c);
      mysql_select_db(m, dbn);
    }
  }
  int rc = sc_db_exec(&t->db, q->text, q->text_len, es, esz);
  char ignore[64];
  sc_db_exec(&t->db, "SET NAMES utf8mb4", 17, ignore, sizeof ignore); /* reading back is in UTF-8 */
  return rc;
}

static int on_query(tracker *t, const uint8_t *p, size_t n) {
  rc_sc_query q;
  sc_pos pos;
  const uint8_t *end = p + n;
  char es[1024], what[80];
  uint8_t changed = 0;
  if (parse_pos(&p, end, &pos) < 0 || rc_sc_query_get(&q, p, (size_t)(end - p)) < 0)
    return send_msg(t, 'E', "bad query request", 17);
  if (sc_pos_cmp(&pos, &t->store.applied) <= 0) return send_msg(t, 'K', &changed, 1); /* applied before a restart */
  if (!is_schema_ddl(q.text, q.text_len, what, sizeof what)) {
    t->ddl_skipped++;
    rc_debug("%s:%llu: %s: not about tables, skipped", pos.file, (unsigned long long)pos.off, what);
    return send_msg(t, 'K', &changed, 1);
  }
  uint64_t t0 = rc_now_ns();
  int err = apply(t, &q, es, sizeof es);
  if (err) {
    t->ddl_failed++;
    rc_info("%s:%llu: %s not applied to the schema history (MariaDB %s says: %s); the tables it names keep "
            "their last version, and a TABLE_MAP that no longer matches is reported: %.*s",
            pos.file, (unsigned long long)pos.off, what, mysql_get_server_info(t->db.my), es,
            (int)(q.text_len > 300 ? 300 : q.text_len), q.text);
    if (sc_store_mark_applied(&t->store, &pos, es, sizeof es) < 0) return send_msg(t, 'E', es, strlen(es));
    return send_msg(t, 'K', &changed, 1);
  }
  int nchanged = 0;
  if (sc_store_sync(&t->store, &t->db, &pos, 'b', q.text, q.text_len, &nchanged, es, sizeof es) < 0) {
    rc_warn("%s:%llu: reading the tables back failed (%s); trying once more", pos.file, (unsigned long long)pos.off, es);
    if (sc_store_sync(&t->store, &t->db, &pos, 'b', q.text, q.text_len, &nchanged, es, sizeof es) < 0) return send_msg(t, 'E', es, strlen(es));
  }
  t->ddl_applied++;
  t->db.ddl_ns += rc_now_ns() - t0;
  t->db.ddl_count++;
  changed = nchanged > 0;
  return send_msg(t, 'K', &changed, 1);
}

static const char *origin_text(char o) {
  return o == 'i' ? "schema.initial" : o == 's' ? "the server's schema at the start" :
         o == 'r' ? "the server's schema, read again" : "the binlog's DDL";
}

static int tmap_reply(tracker *t, uint8_t status, const char *msg, const void *ev, size_t evlen) {
  rc_buf *b = &t->msg;
  b->len = 0;
  size_t ml = msg ? strlen(msg) : 0;
  uint8_t h[5] = {status, (uint8_t)ml, (uint8_t)(ml >> 8), (uint8_t)(ml >> 16), (uint8_t)(ml >> 24)};
  rc_buf_put(b, h, 5);
  if (ml) rc_buf_put(b, msg, ml);
  if (evlen) rc_buf_put(b, ev, evlen);
  return send_msg(t, 'T', b->p, b->len);
}

int sc_resync_table(tracker *t, const char *db, const char *name, const sc_pos *pos, char *es, size_t esz);

static int on_tmap(tracker *t, const uint8_t *p, size_t n) {
  sc_pos pos;
  const uint8_t *end = p + n;
  char es[1024], why[600], msg[2048];
  if (parse_pos(&p, end, &pos) < 0 || end - p < 1 + RC_EVENT_HEADER_LEN) return send_msg(t, 'E', "bad table map request", 21);
  int is_mariadb = *p++;
  rc_event ev = {.raw = p, .raw_len = (size_t)(end - p), .body = p + RC_EVENT_HEADER_LEN,
                 .body_len = (size_t)(end - p) - RC_EVENT_HEADER_LEN, .offset = pos.off, .type = p[4]};
  rc_table *tb = NULL;
  if (rc_table_map_parse(ev.body, ev.body_len, 8, is_mariadb, &tb, es, sizeof es) < 0)
    return tmap_reply(t, RC_SC_NONE, es, NULL, 0);
  const sc_version *v = sc_store_find(&t->store, tb->db, tb->name, &pos);
  int rc;
  if (!v) {
    snprintf(msg, sizeof msg, "the schema history has no `%s`.`%s` at %s:%llu (the binlog starts after it was "
             "created); give its definition with schema.initial=FILE.sql (mariadb-dump --no-data), or write the "
             "binlog with binlog_row_metadata=FULL", tb->db, tb->name, pos.file, (unsigned long long)pos.off);
    rc = tmap_reply(t, RC_SC_NONE, msg, NULL, 0);
  } else if (sc_check(tb, v, why, sizeof why) == 0) {
    if (tb->has_names) rc = tmap_reply(t, RC_SC_FULL, NULL, NULL, 0);
    else if (sc_enrich(&ev, tb, v, is_mariadb, &t->reply) < 0) rc = send_msg(t, 'E', "out of memory", 13);
    else {
      rc_buf out = t->reply;
      t->reply = (rc_buf){0};
      rc = tmap_reply(t, RC_SC_ENRICHED, NULL, out.p, out.len);
      rc_buf_free(&out);
    }
  } else {
    snprintf(msg, sizeof msg, "table `%s`.`%s` at %s:%llu does not match its schema version (from %s at %s:%llu): "
             "%s", tb->db, tb->name, pos.file, (unsigned long long)pos.off, origin_text(v->origin),
             v->pos.file[0] ? v->pos.file : "the start", (unsigned long long)v->pos.off, why);
    if (tb->has_names) {
      size_t k = 0;
      while (k < t->nwarned && t->warned[k] != v) k++;
      if (k == t->nwarned) {
        const sc_version **w = realloc(t->warned, (t->nwarned + 1) * sizeof *w);
        if (w) {
          t->warned = w;
          t->warned[t->nwarned++] = v;
        }
        rc_warn("%s; the binlog's own metadata (FULL) is used", msg);
      }
      rc = tmap_reply(t, RC_SC_FULL, NULL, NULL, 0);
    } else if (!strcmp(t->mode, "run") && sc_resync_table(t, tb->db, tb->name, &pos, es, sizeof es) == 0 &&
               (v = sc_store_find(&t->store, tb->db, tb->name, &pos)) && sc_check(tb, v, why, sizeof why) == 0 &&
               sc_enrich(&ev, tb, v, is_mariadb, &t->reply) == 0) {
      t->resyncs++;
      rc_buf out = t->reply;
      t->reply = (rc_buf){0};
      rc = tmap_reply(t, RC_SC_RESYNCED, msg, out.p, out.len);
      rc_buf_free(&out);
    } else {
      size_t l = strlen(msg);
      snprintf(msg + l, sizeof msg - l, ". Give the table's definition as it was at that position with "
               "schema.initial=FILE.sql (mariadb-dump --no-data), or write the binlog with "
               "binlog_row_metadata=FULL; schema.tracker=off decodes it with columns keyed \"@1\", \"@2\", ...");
      rc = tmap_reply(t, RC_SC_MISMATCH, msg, NULL, 0);
    }
  }
  rc_table_free(tb);
  return rc;
}

/* ---- the source server (run) --------------------------------------------------------------- */

/* A connection to the source as the reader opens its own: the same TLS options, the same check
 * after the login and the same refusals (connect_tls.h). NULL with es set: RC_ERR_ARG in *rc for
 * what a retry will not cure (TLS refused or missing, the login refused), RC_ERR_IO otherwise. */
static MYSQL *source_connect(tracker *t, int *rc, char *es, size_t esz) {
  const char *sock = t->src[SRC_SOCKET] && *t->src[SRC_SOCKET] ? t->src[SRC_SOCKET] : NULL;
  unsigned port = (unsigned)atoi(t->src[SRC_PORT] ? t->src[SRC_PORT] : "3306");
  char where[300];
  if (sock) snprintf(where, sizeof where, "%s", sock);
  else snprintf(where, sizeof where, "%s:%u", t->src[SRC_HOST] ? t->src[SRC_HOST] : "127.0.0.1", port);
  int mode = rc_connect_tls_mode(t->src[SRC_TLS] ? t->src[SRC_TLS] : "preferred");
  rc_connect_tls tls = {mode < 0 ? 1 : mode, t->src[SRC_TLS_CA], t->src[SRC_TLS_CERT], t->src[SRC_TLS_KEY], where,
                        sock != NULL};
  MYSQL *m = mysql_init(NULL);
  if (!m) {
    *rc = rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
    return NULL;
  }
  mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  unsigned timeout = 10;
  my_bool no = 0;
  mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &(unsigned){60});
  mysql_optionsv(m, MYSQL_OPT_RECONNECT, &no);
  rc_connect_tls_options(m, &tls);
  char detail[1024];
  if (!mysql_real_connect(m, sock ? "localhost" : t->src[SRC_HOST], t->src[SRC_USER], t->src[SRC_PASSWORD], NULL,
                          sock ? 0 : port, sock, 0)) {
    unsigned e = mysql_errno(m);
    if ((*rc = rc_connect_tls_refused(m, &tls, detail, sizeof detail)) == 0) {
      *rc = e == 1045 || e == 1698 || e == 1130 || e == 1129 ? RC_ERR_ARG : RC_ERR_IO; /* refused logins */
      snprintf(detail, sizeof detail, "%s (error %u)", mysql_error(m), e);
    }
    rc_errf(*rc, es, esz, "the schema tracker cannot connect to the source %s: %s", where, detail);
    mysql_close(m);
    return NULL;
  }
  if ((*rc = rc_connect_tls_check(m, &tls, &t->tls_st, "the schema tracker connected to", detail, sizeof detail))) {
    rc_errf(*rc, es, esz, "the schema tracker's connection to the source: %s", detail);
    mysql_close(m);
    return NULL;
  }
  return m;
}

/* Apply SHOW CREATE TABLE of one table (db.name) or every base table (name NULL) of the source
 * to the private server. */
static int copy_from_source(tracker *t, MYSQL *src, const char *db, const char *name, char *es, size_t esz) {
  rc_buf q = {0};
  rc_buf_puts(&q, "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' "
                  "AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')");
  if (name) {
    char d[600], n[600];
    mysql_real_escape_string(src, d, db, (unsigned long)strnlen(db, 290));
    mysql_real_escape_string(src, n, name, (unsigned long)strnlen(name, 290));
    rc_buf_printf(&q, " AND TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s'", d, n);
  }
  MYSQL_RES *r = NULL;
  if (mysql_real_query(src, q.p, (unsigned long)q.len) || !(r = mysql_store_result(src))) {
    rc_buf_free(&q);
    return rc_errf(RC_ERR_IO, es, esz, "reading the source's tables: %s", mysql_error(src));
  }
  MYSQL_ROW row;
  char err[1024];
  sc_db_exec(&t->db, "SET SESSION foreign_key_checks = 0, sql_mode = 'IGNORE_BAD_TABLE_OPTIONS'", 74, err, sizeof err);
  while ((row = mysql_fetch_row(r))) {
    rc_buf s = {0};
    rc_buf_printf(&s, "CREATE DATABASE IF NOT EXISTS `%s`", row[0]);
    sc_db_exec(&t->db, s.p, s.len, err, sizeof err);
    s.len = 0;
    rc_buf_printf(&s, "SHOW CREATE TABLE `%s`.`%s`", row[0], row[1]);
    MYSQL_RES *c = NULL;
    MYSQL_ROW crow = NULL;
    if (!mysql_real_query(src, s.p, (unsigned long)s.len) && (c = mysql_store_result(src))) crow = mysql_fetch_row(c);
    mysql_select_db(t->db.my, row[0]);
    s.len = 0;
    rc_buf_printf(&s, "DROP TABLE IF EXISTS `%s`", row[1]);
    sc_db_exec(&t->db, s.p, s.len, err, sizeof err);
    if (crow && crow[1] && sc_db_exec(&t->db, crow[1], strlen(crow[1]), err, sizeof err))
      rc_warn("`%s`.`%s`: the source's definition does not apply to MariaDB %s (%s): its changes have no names "
              "until a DDL in the binlog defines it", row[0], row[1], mysql_get_server_info(t->db.my), err);
    if (c) mysql_free_result(c);
    rc_buf_free(&s);
  }
  mysql_free_result(r);
  rc_buf_free(&q);
  return 0;
}

int sc_resync_table(tracker *t, const char *db, const char *name, const sc_pos *pos, char *es, size_t esz) {
  int rc, changed = 0;
  MYSQL *src = source_connect(t, &rc, es, esz);
  if (!src) return rc;
  rc = copy_from_source(t, src, db, name, es, esz);
  mysql_close(src);
  if (rc == 0) rc = sc_store_sync(&t->store, &t->db, pos, 'r', NULL, 0, &changed, es, esz);
  return rc;
}

/* ---- start -------------------------------------------------------------------------------- */

static int on_init(tracker *t, const uint8_t *p, size_t n, char *es, size_t esz) {
  char *text = strndup((const char *)p, n), *save = NULL, *state = NULL, *initial = NULL;
  sc_pos start = {{0}, 0};
  if (!text) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    char *eq = strchr(l, '=');
    if (!eq) continue;
    *eq++ = 0;
    if (!strcmp(l, "mode")) snprintf(t->mode, sizeof t->mode, "%s", eq);
    else if (!strcmp(l, "state")) state = eq;
    else if (!strcmp(l, "initial")) initial = eq;
    else if (!strcmp(l, "start_file")) snprintf(start.file, sizeof start.file, "%s", eq);
    else if (!strcmp(l, "start_pos")) start.off = strtoull(eq, NULL, 10);
    for (int i = 0; i < NSRC; i++)
      if (!strcmp(l, srckeys[i])) {
        free(t->src[i]);
        t->src[i] = strdup(eq);
      }
  }
  uint64_t t0 = rc_now_ns();
  int rc = sc_store_open(&t->store, state, es, esz), changed = 0;
  if (rc == 0) rc = sc_db_start(&t->db, es, esz);
  if (rc == 0 && t->store.n) {
    rc = sc_store_rebuild(&t->store, &t->db, es, esz);
    if (rc == 0) rc_info("schema history: %zu versions from %s, private server rebuilt in %.0f ms", t->store.n,
                         t->store.path, (double)(rc_now_ns() - t0) / 1e6);
  } else if (rc == 0 && initial && *initial) {
    rc = sc_db_source_file(&t->db, initial, es, esz);
    if (rc == 0) rc = sc_store_sync(&t->store, &t->db, &(sc_pos){{0}, 0}, 'i', NULL, 0, &changed, es, esz);
    if (rc == 0) rc_info("schema.initial %s: %d tables and databases", initial, changed);
  } else if (rc == 0 && !strcmp(t->mode, "run")) {
    MYSQL *src = source_connect(t, &rc, es, esz);
    if (src) rc = copy_from_source(t, src, NULL, NULL, es, esz);
    if (src) mysql_close(src);
    if (rc == 0) rc = sc_store_sync(&t->store, &t->db, &start, 's', NULL, 0, &changed, es, esz);
    if (rc == 0) rc_info("the source's schema at %s:%llu recorded: %d tables and databases", start.file,
                         (unsigned long long)start.off, changed);
  }
  explicit_bzero(text, n); /* it held the password */
  free(text);
  return rc;
}

int main(int argc, char **argv) {
  rc_log_init("rowcast-schema");
  if (argc != 3 || strcmp(argv[1], "--fd")) {
    fprintf(stderr, "usage: rowcast-schema --fd N (started by rowcast, not by hand)\n");
    return 2;
  }
  tracker t;
  memset(&t, 0, sizeof t);
  t.fd = atoi(argv[2]);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  int status = 0;
  rc_buf in = {0};
  char es[2048];
  for (;;) {
    uint8_t h[5];
    if (stop || read_full(t.fd, h, 5) < 0) break;
    uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    if (len < 1) break;
    in.len = 0;
    rc_buf_grow(&in, len);
    if (read_full(t.fd, in.p, len - 1) < 0) break;
    const uint8_t *p = (const uint8_t *)in.p;
    int rc = 0;
    if (h[4] == 'I') {
      int irc = on_init(&t, p, len - 1, es, sizeof es);
      explicit_bzero(in.p, len - 1); /* the init message holds the source's password */
      if (irc < 0) { /* 'E': a configuration error; 'R': one a restart may mend */
        send_msg(&t, irc == RC_ERR_ARG ? 'E' : 'R', es, strlen(es));
        status = irc == RC_ERR_ARG ? 2 : 1;
        break;
      }
      rc = send_msg(&t, 'K', NULL, 0);
    } else if (h[4] == 'Q') {
      rc = on_query(&t, p, len - 1);
    } else if (h[4] == 'T') {
      rc = on_tmap(&t, p, len - 1);
    } else {
      rc = send_msg(&t, 'E', "unknown request", 15);
    }
    if (rc < 0) break;
  }
  if (t.db.ddl_count)
    rc_info("schema history: %llu DDL applied (%.1f ms each, reading back included), %llu failed, %llu skipped, "
            "%llu tables re-read from the server", (unsigned long long)t.ddl_applied,
            (double)t.db.ddl_ns / 1e6 / (double)t.db.ddl_count, (unsigned long long)t.ddl_failed,
            (unsigned long long)t.ddl_skipped, (unsigned long long)t.resyncs);
  sc_db_stop(&t.db);
  sc_store_close(&t.store);
  if (t.src[SRC_PASSWORD]) explicit_bzero(t.src[SRC_PASSWORD], strlen(t.src[SRC_PASSWORD]));
  for (int i = 0; i < NSRC; i++) free(t.src[i]);
  free(t.warned);
  rc_buf_free(&in);
  rc_buf_free(&t.msg);
  rc_buf_free(&t.reply);
  return status;
}
