/*
 * versions.c: every table version rowcast-schema knows, with the binlog position where it
 * starts, read back from the private server's information_schema after each DDL
 * (sc_store_sync), and kept in <state.dir>/schema_history (one JSON object a line, appended and
 * synced before the reader goes on) so that a restart rebuilds the private server from the
 * latest versions instead of applying the whole binlog again.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "rc_err.h"
#include "tracker_int.h"

static int64_t file_seq(const char *f) {
  const char *dot = strrchr(f, '.');
  if (!dot || !dot[1]) return -1;
  int64_t v = 0;
  for (const char *p = dot + 1; *p; p++) {
    if (*p < '0' || *p > '9') return -1;
    v = v * 10 + (*p - '0');
  }
  return v;
}

int sc_pos_cmp(const sc_pos *a, const sc_pos *b) {
  if (strcmp(a->file, b->file)) {
    if (!a->file[0] || !b->file[0]) return a->file[0] ? 1 : -1;
    int64_t x = file_seq(a->file), y = file_seq(b->file);
    if (x != y && x >= 0 && y >= 0) return x < y ? -1 : 1;
    return strcmp(a->file, b->file) < 0 ? -1 : 1;
  }
  return a->off < b->off ? -1 : a->off > b->off ? 1 : 0;
}

void sc_version_free(sc_version *v) {
  if (!v) return;
  for (uint32_t i = 0; i < v->ncols; i++) {
    sc_col *c = &v->cols[i];
    free(c->name);
    free(c->data_type);
    free(c->column_type);
    for (uint32_t k = 0; k < c->n_labels; k++) free(c->labels[k]);
    free(c->labels);
    free(c->label_lens);
  }
  free(v->cols);
  free(v->db);
  free(v->name);
  free(v->create);
  free(v->hash);
  free(v);
}

static int same_name(const sc_version *v, const char *db, const char *name) {
  if (strcmp(v->db, db)) return 0;
  if (!name || !v->name) return !name && !v->name;
  return !strcmp(v->name, name);
}

/* The latest version of db.name at or before pos (pos NULL: the latest of all). */
static const sc_version *find_any(const sc_store *s, const char *db, const char *name, const sc_pos *pos) {
  for (size_t i = s->n; i-- > 0;) {
    const sc_version *v = s->v[i];
    if (same_name(v, db, name) && (!pos || sc_pos_cmp(&v->pos, pos) <= 0)) return v;
  }
  return NULL;
}

const sc_version *sc_store_find(const sc_store *s, const char *db, const char *name, const sc_pos *pos) {
  const sc_version *v = find_any(s, db, name, pos);
  return v && !v->dropped ? v : NULL;
}

/* ---- the history file --------------------------------------------------------------------- */

static json_t *pos_json(const sc_pos *p) { return json_pack("{s:s,s:I}", "file", p->file, "off", (json_int_t)p->off); }

static int pos_from(json_t *j, sc_pos *p) {
  const char *f;
  json_int_t off;
  if (json_unpack(j, "{s:s,s:I}", "file", &f, "off", &off) < 0) return -1;
  snprintf(p->file, sizeof p->file, "%s", f);
  p->off = (uint64_t)off;
  return 0;
}

static json_t *version_json(const sc_version *v) {
  json_t *cols = json_array();
  for (uint32_t i = 0; i < v->ncols; i++) {
    const sc_col *c = &v->cols[i];
    json_t *labels = json_array();
    for (uint32_t k = 0; k < c->n_labels; k++) json_array_append_new(labels, json_stringn(c->labels[k], c->label_lens[k]));
    json_array_append_new(cols, json_pack("{s:s,s:s,s:s,s:i,s:i,s:b,s:b,s:b,s:I,s:i,s:i,s:i,s:o}", "name", c->name,
                                          "data_type", c->data_type, "column_type", c->column_type, "collation",
                                          c->collation, "signed", c->is_signed, "pk", c->pk, "invisible",
                                          c->invisible, "generated", c->generated, "octets", (json_int_t)c->octet_len,
                                          "precision", c->precision, "scale", c->scale, "fsp", c->dt_precision,
                                          "labels", labels));
  }
  return json_pack("{s:s,s:s?,s:o,s:s#,s:b,s:s,s:s,s:o}", "db", v->db, "table", v->name, "pos", pos_json(&v->pos),
                   "origin", &v->origin, 1, "dropped", v->dropped, "create", v->create ? v->create : "", "hash",
                   v->hash ? v->hash : "", "columns", cols);
}

static char *jdup(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return strdup(s ? s : "");
}

static sc_version *version_from(json_t *o) {
  sc_version *v = calloc(1, sizeof *v);
  json_t *cols = json_object_get(o, "columns");
  if (!v || pos_from(json_object_get(o, "pos"), &v->pos) < 0 || !json_is_array(cols)) goto bad;
  v->db = jdup(o, "db");
  v->name = json_is_string(json_object_get(o, "table")) ? jdup(o, "table") : NULL;
  const char *origin = json_string_value(json_object_get(o, "origin"));
  v->origin = origin && *origin ? *origin : 'b';
  v->dropped = json_is_true(json_object_get(o, "dropped"));
  v->create = jdup(o, "create");
  v->hash = jdup(o, "hash");
  v->ncols = (uint32_t)json_array_size(cols);
  v->cols = calloc(v->ncols ? v->ncols : 1, sizeof *v->cols);
  if (!v->cols) goto bad;
  for (uint32_t i = 0; i < v->ncols; i++) {
    json_t *c = json_array_get(cols, i), *labels = json_object_get(c, "labels");
    sc_col *x = &v->cols[i];
    x->name = jdup(c, "name");
    x->data_type = jdup(c, "data_type");
    x->column_type = jdup(c, "column_type");
    x->collation = (uint16_t)json_integer_value(json_object_get(c, "collation"));
    x->is_signed = (int8_t)json_integer_value(json_object_get(c, "signed"));
    x->pk = json_is_true(json_object_get(c, "pk"));
    x->invisible = json_is_true(json_object_get(c, "invisible"));
    x->generated = json_is_true(json_object_get(c, "generated"));
    x->octet_len = (uint64_t)json_integer_value(json_object_get(c, "octets"));
    x->precision = (uint32_t)json_integer_value(json_object_get(c, "precision"));
    x->scale = (uint32_t)json_integer_value(json_object_get(c, "scale"));
    x->dt_precision = (uint32_t)json_integer_value(json_object_get(c, "fsp"));
    x->n_labels = (uint32_t)json_array_size(labels);
    if (x->n_labels) {
      x->labels = calloc(x->n_labels, sizeof *x->labels);
      x->label_lens = calloc(x->n_labels, sizeof *x->label_lens);
      if (!x->labels || !x->label_lens) goto bad;
      for (uint32_t k = 0; k < x->n_labels; k++) {
        json_t *l = json_array_get(labels, k);
        size_t len = json_string_length(l);
        x->labels[k] = malloc(len + 1);
        if (!x->labels[k]) goto bad;
        memcpy(x->labels[k], json_string_value(l) ? json_string_value(l) : "", len);
        x->labels[k][len] = 0;
        x->label_lens[k] = (uint32_t)len;
      }
    }
  }
  return v;
bad:
  sc_version_free(v);
  return NULL;
}

static int append_line(sc_store *s, json_t *j, char *es, size_t esz) {
  if (!s->out) {
    json_decref(j);
    return 0;
  }
  char *line = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  if (!line) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  int bad = fputs(line, s->out) < 0 || fputc('\n', s->out) < 0 || fflush(s->out) != 0 || fsync(fileno(s->out)) != 0;
  free(line);
  if (bad) return rc_errf(RC_ERR_IO, es, esz, "cannot write %s: %s", s->path, strerror(errno));
  return 0;
}

static int store_add(sc_store *s, sc_version *v, char *es, size_t esz) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 64;
    sc_version **n = realloc(s->v, cap * sizeof *n);
    if (!n) {
      sc_version_free(v);
      return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
    }
    s->v = n;
    s->cap = cap;
  }
  s->v[s->n++] = v;
  return 0;
}

int sc_store_open(sc_store *s, const char *state_dir, char *es, size_t esz) {
  memset(s, 0, sizeof *s);
  if (!state_dir || !*state_dir) return 0;
  size_t n = strlen(state_dir) + 32;
  if (!(s->path = malloc(n))) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  snprintf(s->path, n, "%s/schema_history", state_dir);
  FILE *in = fopen(s->path, "r");
  if (in) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0;
    while ((len = getline(&line, &cap, in)) > 0) {
      lineno++;
      json_error_t je;
      json_t *o = json_loadb(line, (size_t)len, 0, &je);
      json_t *applied = o ? json_object_get(o, "applied") : NULL;
      sc_pos p;
      sc_version *v = NULL;
      if (applied && pos_from(applied, &p) == 0) {
        s->applied = p;
      } else if (!o || !(v = version_from(o))) {
        json_decref(o);
        free(line);
        fclose(in);
        return rc_errf(RC_ERR_ARG, es, esz, "%s, line %u: not a schema version rowcast wrote%s%s; move the file "
                       "away to start the schema history over", s->path, lineno, o ? "" : ": ", o ? "" : je.text);
      } else {
        if (sc_pos_cmp(&v->pos, &s->applied) > 0) s->applied = v->pos;
        if (store_add(s, v, es, esz) < 0) {
          json_decref(o);
          free(line);
          fclose(in);
          return RC_ERR_NOMEM;
        }
      }
      json_decref(o);
    }
    free(line);
    fclose(in);
  }
  if (!(s->out = fopen(s->path, "a")))
    return rc_errf(RC_ERR_IO, es, esz, "cannot open %s: %s", s->path, strerror(errno));
  return 0;
}

void sc_store_close(sc_store *s) {
  for (size_t i = 0; i < s->n; i++) sc_version_free(s->v[i]);
  free(s->v);
  if (s->out) fclose(s->out);
  free(s->path);
  memset(s, 0, sizeof *s);
}

int sc_store_mark_applied(sc_store *s, const sc_pos *pos, char *es, size_t esz) {
  s->applied = *pos;
  return append_line(s, json_pack("{s:o}", "applied", pos_json(pos)), es, esz);
}

/* ---- reading the private server back ------------------------------------------------------ */

static char *esc(MYSQL *m, const char *s) {
  size_t n = strlen(s);
  char *o = malloc(2 * n + 1);
  if (o) mysql_real_escape_string(m, o, s, (unsigned long)n);
  return o;
}

/* "<col>TABLE_SCHEMA = 'schema' AND <col>TABLE_NAME = 'name'" into q, the names escaped; col is
 * the column prefix ("c." or ""). */
static void put_table_where(rc_buf *q, MYSQL *m, const char *col, const char *schema, const char *name) {
  char *d = esc(m, schema), *t = esc(m, name);
  rc_buf_puts(q, col);
  rc_buf_lit(q, "TABLE_SCHEMA = '");
  rc_buf_puts(q, d ? d : "");
  rc_buf_lit(q, "' AND ");
  rc_buf_puts(q, col);
  rc_buf_lit(q, "TABLE_NAME = '");
  rc_buf_puts(q, t ? t : "");
  rc_buf_putc(q, '\'');
  free(d);
  free(t);
}

/* `name` quoted as an identifier, a backtick doubled. */
static void put_ident(rc_buf *q, const char *name) {
  rc_buf_putc(q, '`');
  for (const char *p = name; *p; p++) {
    if (*p == '`') rc_buf_putc(q, '`');
    rc_buf_putc(q, *p);
  }
  rc_buf_putc(q, '`');
}

/* SHOW CREATE TABLE db.table (or DATABASE db when table is NULL): malloc'd, or NULL. */
static char *show_create(sc_db *db, const char *dbname, const char *table) {
  rc_buf q = {0};
  rc_buf_puts(&q, table ? "SHOW CREATE TABLE " : "SHOW CREATE DATABASE ");
  put_ident(&q, dbname);
  if (table) {
    rc_buf_putc(&q, '.');
    put_ident(&q, table);
  }
  char *out = NULL;
  if (mysql_real_query(db->my, q.p, (unsigned long)q.len) == 0) {
    MYSQL_RES *r = mysql_store_result(db->my);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    if (row && row[1]) out = strdup(row[1]);
    if (r) mysql_free_result(r);
  }
  rc_buf_free(&q);
  return out;
}

/* The columns of db.table as information_schema has them now. */
static int read_columns(sc_db *db, sc_version *v, char *es, size_t esz) {
  rc_buf q = {0};
  rc_buf_puts(&q, "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, IFNULL(co.ID, 0), c.COLUMN_KEY, c.EXTRA, "
                  "c.IS_GENERATED, IFNULL(c.CHARACTER_OCTET_LENGTH, 0), IFNULL(c.NUMERIC_PRECISION, 0), "
                  "IFNULL(c.NUMERIC_SCALE, 0), IFNULL(c.DATETIME_PRECISION, 0) FROM information_schema.COLUMNS c "
                  "LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = c.COLLATION_NAME "
                  "WHERE ");
  put_table_where(&q, db->my, "c.", v->db, v->name);
  rc_buf_lit(&q, " ORDER BY c.ORDINAL_POSITION");
  MYSQL_RES *r = NULL;
  int rc = 0;
  if (mysql_real_query(db->my, q.p, (unsigned long)q.len) || !(r = mysql_store_result(db->my)))
    rc = rc_errf(RC_ERR_IO, es, esz, "reading `%s`.`%s` back from the private server: %s", v->db, v->name,
                 mysql_error(db->my));
  rc_buf_free(&q);
  if (rc < 0) return rc;
  v->ncols = (uint32_t)mysql_num_rows(r);
  v->cols = calloc(v->ncols ? v->ncols : 1, sizeof *v->cols);
  MYSQL_ROW row;
  for (uint32_t i = 0; v->cols && i < v->ncols && (row = mysql_fetch_row(r)); i++) {
    sc_col *c = &v->cols[i];
    c->name = strdup(row[0] ? row[0] : "");
    c->data_type = strdup(row[1] ? row[1] : "");
    c->column_type = strdup(row[2] ? row[2] : "");
    c->collation = (uint16_t)atoi(row[3] ? row[3] : "0");
    c->pk = row[4] && !strcmp(row[4], "PRI");
    c->invisible = row[5] && strstr(row[5], "INVISIBLE");
    c->generated = row[6] && !strcmp(row[6], "ALWAYS");
    c->octet_len = strtoull(row[7] ? row[7] : "0", NULL, 10);
    c->precision = (uint32_t)atoi(row[8] ? row[8] : "0");
    c->scale = (uint32_t)atoi(row[9] ? row[9] : "0");
    c->dt_precision = (uint32_t)atoi(row[10] ? row[10] : "0");
    c->is_signed = -1;
    if (strstr(c->data_type, "int") || !strcmp(c->data_type, "decimal") || !strcmp(c->data_type, "float") ||
        !strcmp(c->data_type, "double"))
      c->is_signed = strstr(c->column_type, "unsigned") ? 0 : 1;
    if ((!strcmp(c->data_type, "enum") || !strcmp(c->data_type, "set")) &&
        rc_sql_labels_parse(c->column_type, &c->labels, &c->label_lens, &c->n_labels) < 0)
      rc = rc_errf(RC_ERR_CORRUPT, es, esz, "`%s`.`%s`: cannot read the labels of %s", v->db, v->name, c->column_type);
  }
  mysql_free_result(r);
  if (!v->cols) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  return rc;
}

/* What the private server holds now: one row per database (table NULL, with its default
 * collation as its hash) and base table. Listing names does not open the tables. */
static const char NAMES_SQL[] =
    "SELECT SCHEMA_NAME, NULL, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA "
    "WHERE SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema') UNION ALL "
    "SELECT TABLE_SCHEMA, TABLE_NAME, NULL FROM information_schema.TABLES WHERE TABLE_TYPE = 'BASE TABLE' "
    "AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema')";

/* A hash of one table's columns (malloc'd), or NULL when it cannot be read. */
static char *table_hash(sc_db *db, const char *schema, const char *name) {
  rc_buf q = {0};
  rc_buf_puts(&q, "SELECT MD5(GROUP_CONCAT(CONCAT_WS(0x1f, COLUMN_NAME, COLUMN_TYPE, IFNULL(COLLATION_NAME, ''), "
                  "COLUMN_KEY, EXTRA, IS_GENERATED) ORDER BY ORDINAL_POSITION SEPARATOR 0x1e)) "
                  "FROM information_schema.COLUMNS WHERE ");
  put_table_where(&q, db->my, "", schema, name);
  char *out = NULL;
  if (mysql_real_query(db->my, q.p, (unsigned long)q.len) == 0) {
    MYSQL_RES *r = mysql_store_result(db->my);
    MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
    out = strdup(row && row[0] ? row[0] : "");
    if (r) mysql_free_result(r);
  }
  rc_buf_free(&q);
  return out;
}

/* Could the statement have changed table `name`? Only a statement that names it can (a table
 * created or dropped shows in the list of names). A case-insensitive search for the name in
 * the text; a name with bytes that may be written otherwise there (non-ASCII, in the statement's
 * charset; a backtick, doubled) is always looked at. */
static int mentioned(const char *stmt, size_t len, const char *name) {
  size_t n = strlen(name);
  for (const char *p = name; *p; p++)
    if ((unsigned char)*p >= 0x80 || *p == '`') return 1;
  for (size_t i = 0; n && i + n <= len; i++)
    if (!strncasecmp(stmt + i, name, n)) return 1;
  return 0;
}

/* Is the latest version of (db, name) live and with this hash? */
static int unchanged(const sc_store *s, const char *db, const char *name, const char *hash) {
  const sc_version *v = find_any(s, db, name, NULL);
  return v && !v->dropped && v->hash && !strcmp(v->hash, hash);
}

static int record(sc_store *s, sc_version *v, int *changed, char *es, size_t esz) {
  int rc = append_line(s, version_json(v), es, esz);
  if (rc < 0) {
    sc_version_free(v);
    return rc;
  }
  (*changed)++;
  if (v->name)
    rc_info("schema history: `%s`.`%s` %s at %s:%llu (%u columns)", v->db, v->name,
            v->dropped ? "dropped" : "version", v->pos.file[0] ? v->pos.file : "(first version)",
            (unsigned long long)v->pos.off, v->ncols);
  return store_add(s, v, es, esz);
}

int sc_store_sync(sc_store *s, sc_db *db, const sc_pos *pos, char origin, const char *stmt, size_t stmt_len,
                  int *changed, char *es, size_t esz) {
  *changed = 0;
  MYSQL_RES *r = NULL;
  if (mysql_real_query(db->my, NAMES_SQL, sizeof NAMES_SQL - 1) || !(r = mysql_store_result(db->my)))
    return rc_errf(RC_ERR_IO, es, esz, "reading the private server's tables: %s", mysql_error(db->my));
  size_t nrows = (size_t)mysql_num_rows(r);
  char **seen = calloc(nrows ? 2 * nrows : 1, sizeof *seen);
  size_t nseen = 0;
  MYSQL_ROW row;
  int rc = seen ? 0 : rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  while (rc == 0 && (row = mysql_fetch_row(r))) {
    seen[nseen++] = strdup(row[0]);
    seen[nseen++] = row[1] ? strdup(row[1]) : NULL;
    const sc_version *last = find_any(s, row[0], row[1], NULL);
    if (row[1] && stmt && last && !last->dropped && !mentioned(stmt, stmt_len, row[1])) continue;
    char *th = row[1] ? table_hash(db, row[0], row[1]) : NULL;
    if (row[1] && !th) {
      rc = rc_errf(RC_ERR_IO, es, esz, "reading `%s`.`%s` back: %s", row[0], row[1], mysql_error(db->my));
      break;
    }
    const char *hash = row[1] ? th : row[2] ? row[2] : "";
    if (unchanged(s, row[0], row[1], hash)) {
      free(th);
      continue;
    }
    sc_version *v = calloc(1, sizeof *v);
    if (!v) {
      rc = rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
      break;
    }
    v->db = strdup(row[0]);
    v->name = row[1] ? strdup(row[1]) : NULL;
    v->pos = *pos;
    v->origin = origin;
    v->hash = strdup(hash);
    free(th);
    v->create = show_create(db, v->db, v->name);
    if (v->name && (rc = read_columns(db, v, es, esz)) < 0) {
      sc_version_free(v);
      break;
    }
    rc = record(s, v, changed, es, esz);
  }
  mysql_free_result(r);
  /* what the latest versions hold and the server no longer has: dropped (or renamed away) */
  for (size_t i = 0; rc == 0 && i < s->n; i++) {
    const sc_version *v = s->v[i];
    if (v->dropped || find_any(s, v->db, v->name, NULL) != v) continue;
    int found = 0;
    for (size_t k = 0; k < nseen && !found; k += 2)
      found = seen[k] && !strcmp(seen[k], v->db) &&
              ((!v->name && !seen[k + 1]) || (v->name && seen[k + 1] && !strcmp(seen[k + 1], v->name)));
    if (found) continue;
    sc_version *d = calloc(1, sizeof *d);
    if (!d) {
      rc = rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
      break;
    }
    d->db = strdup(v->db);
    d->name = v->name ? strdup(v->name) : NULL;
    d->pos = *pos;
    d->origin = origin;
    d->dropped = 1;
    d->cols = calloc(1, sizeof *d->cols);
    rc = record(s, d, changed, es, esz);
  }
  for (size_t k = 0; k < nseen; k++) free(seen[k]);
  free(seen);
  if (rc == 0 && sc_pos_cmp(pos, &s->applied) > 0) rc = sc_store_mark_applied(s, pos, es, esz);
  return rc;
}

int sc_store_rebuild(sc_store *s, sc_db *db, char *es, size_t esz) {
  /* databases first, then their tables; foreign keys may point forwards */
  sc_db_exec(db, "SET SESSION foreign_key_checks = 0, sql_mode = 'IGNORE_BAD_TABLE_OPTIONS'", 74, es, esz);
  for (int pass = 0; pass < 2; pass++)
    for (size_t i = 0; i < s->n; i++) {
      const sc_version *v = s->v[i];
      if ((pass == 0) != (v->name == NULL) || v->dropped || find_any(s, v->db, v->name, NULL) != v) continue;
      if (!v->create || !*v->create) continue;
      if (pass == 1) {
        if (mysql_select_db(db->my, v->db))
          return rc_errf(RC_ERR_IO, es, esz, "rebuilding the schema history: USE `%s`: %s", v->db, mysql_error(db->my));
      }
      char err[512];
      if (sc_db_exec(db, v->create, strlen(v->create), err, sizeof err))
        return rc_errf(RC_ERR_ARG, es, esz, "rebuilding `%s`%s%s%s from %s: %s", v->db, v->name ? ".`" : "",
                       v->name ? v->name : "", v->name ? "`" : "", s->path, err);
    }
  return 0;
}
