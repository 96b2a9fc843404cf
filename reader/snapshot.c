/*
 * snapshot.c: the server side of snapshots (see snapshot.h): chunks read in consistent
 * snapshots with prepared statements, their rows as binlog row images, and the held chunk's
 * keys for the merge with the stream (the plan and the table definitions: snapshot_def.c).
 */
#include "snapshot_int.h"

#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calendar.h"
#include "clock.h"
#include "decimal.h"
#include "log.h"

/* ---- helpers ------------------------------------------------------------------------------ */

static int key_load(rc_snap *sn, const uint8_t *key, size_t klen, char *es, size_t esz);

int rc_snap_query(rc_snap *sn, const char *sql, MYSQL_RES **res, const char *doing, char *es, size_t esz) {
  if (mysql_real_query(sn->my, sql, strlen(sql))) return rc_server_fail(sn->srv, sn->my, doing, es, esz);
  MYSQL_RES *r = mysql_store_result(sn->my);
  if (res)
    *res = r;
  else if (r)
    mysql_free_result(r);
  if (res && !r && mysql_errno(sn->my)) return rc_server_fail(sn->srv, sn->my, doing, es, esz);
  return 0;
}

char *rc_snap_esc(rc_snap *sn, const char *s) {
  size_t n = strlen(s);
  char *o = malloc(2 * n + 1);
  if (o) mysql_real_escape_string(sn->my, o, s, (unsigned long)n);
  return o;
}

/* `name` quoted as an identifier into b. */
void rc_snap_put_ident(rc_buf *b, const char *name) {
  rc_buf_putc(b, '`');
  for (const char *p = name; *p; p++) {
    if (*p == '`') rc_buf_putc(b, '`');
    rc_buf_putc(b, *p);
  }
  rc_buf_putc(b, '`');
}

void rc_snap_put_table(rc_buf *b, const char *db, const char *name) {
  rc_snap_put_ident(b, db);
  rc_buf_putc(b, '.');
  rc_snap_put_ident(b, name);
}


/* ---- statements --------------------------------------------------------------------------- */

/* The parameter placeholder for key column j: a character column's bytes are in its own
 * charset (results are not converted), so they are relabelled, not converted. */
static void put_param(rc_buf *b, const col_fetch *f) {
  if (f->is_char) {
    rc_buf_lit(b, "CONVERT(CAST(? AS BINARY) USING ");
    rc_buf_puts(b, f->charset);
    rc_buf_lit(b, ") COLLATE ");
    rc_buf_puts(b, f->collation_name);
  } else {
    rc_buf_putc(b, '?');
  }
}

static int prepare(rc_snap *sn, MYSQL_STMT **st, int keyset, char *es, size_t esz) {
  const rc_table *t = sn->t;
  rc_buf q = {0};
  rc_buf_lit(&q, "SELECT ");
  for (uint32_t i = 0; i < t->ncols; i++) {
    if (i) rc_buf_putc(&q, ',');
    rc_buf_puts(&q, sn->cf[i].expr);
  }
  rc_buf_lit(&q, " FROM ");
  rc_snap_put_table(&q, t->db, t->name);
  if (keyset) { /* (k1 > ?) OR (k1 = ? AND k2 > ?) OR ... */
    rc_buf_lit(&q, " WHERE ");
    for (uint32_t i = 0; i < sn->npk; i++) {
      rc_buf_puts(&q, i ? " OR (" : "(");
      for (uint32_t j = 0; j <= i; j++) {
        if (j) rc_buf_lit(&q, " AND ");
        rc_buf_puts(&q, sn->cf[sn->pk[j]].expr);
        rc_buf_puts(&q, j == i ? " > " : " = ");
        put_param(&q, &sn->cf[sn->pk[j]]);
      }
      rc_buf_putc(&q, ')');
    }
  }
  if (sn->npk) {
    rc_buf_lit(&q, " ORDER BY ");
    for (uint32_t i = 0; i < sn->npk; i++) {
      if (i) rc_buf_putc(&q, ',');
      rc_buf_puts(&q, sn->cf[sn->pk[i]].expr);
    }
    char lim[40];
    snprintf(lim, sizeof lim, " LIMIT %u", sn->chunk_rows);
    rc_buf_puts(&q, lim);
  }
  *st = mysql_stmt_init(sn->my);
  int rc = 0;
  if (!*st || mysql_stmt_prepare(*st, q.p, (unsigned long)q.len)) {
    unsigned e = *st ? mysql_stmt_errno(*st) : 0;
    rc = rc_errf(e == ER_TABLEACCESS_DENIED_ERROR || e == ER_COLUMNACCESS_DENIED_ERROR ? RC_ERR_ARG
                 : e >= 2000 && e < 3000 ? RC_ERR_IO : RC_ERR_ARG,
                 es, esz, "snapshot of %s.%s on %s: %s (error %u)%s", t->db, t->name, sn->srv->where,
                 *st ? mysql_stmt_error(*st) : "out of memory", e,
                 e == ER_TABLEACCESS_DENIED_ERROR || e == ER_COLUMNACCESS_DENIED_ERROR
                     ? ": rowcast needs SELECT on every table of snapshot.tables"
                     : "");
  }
  if (rc == 0) {
    my_bool on = 1;
    mysql_stmt_attr_set(*st, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
  }
  rc_buf_free(&q);
  return rc;
}

static enum enum_field_types bind_type(int fetch) {
  switch (fetch) {
  case F_INT: return MYSQL_TYPE_LONGLONG;
  case F_FLOAT: return MYSQL_TYPE_FLOAT;
  case F_DOUBLE: return MYSQL_TYPE_DOUBLE;
  case F_DATE: return MYSQL_TYPE_DATE;
  case F_DATETIME: case F_TIMESTAMP: return MYSQL_TYPE_DATETIME;
  case F_TIME: return MYSQL_TYPE_TIME;
  default: return MYSQL_TYPE_BLOB; /* DECIMAL as text; strings and blobs as bytes */
  }
}

/* Point bind b at f's buffers (the result of column f, or a parameter holding its last value). */
static void bind_to(MYSQL_BIND *b, col_fetch *f, int unsigned_) {
  memset(b, 0, sizeof *b);
  b->buffer_type = bind_type(f->fetch);
  b->is_null = &f->is_null;
  b->length = &f->len;
  b->error = &f->error;
  b->is_unsigned = (my_bool)unsigned_;
  if (f->fetch == F_BYTES || f->fetch == F_DECIMAL) {
    b->buffer = f->buf;
    b->buffer_length = (unsigned long)f->cap;
  } else {
    b->buffer = &f->num;
    b->buffer_length = sizeof f->num;
  }
}

static void close_table(rc_snap *sn) {
  sn->streaming = 0;
  if (sn->first) mysql_stmt_close(sn->first);
  if (sn->next) mysql_stmt_close(sn->next);
  sn->first = sn->next = NULL;
  uint32_t nc = sn->t ? sn->t->ncols : 0;
  for (uint32_t i = 0; sn->cf && i < nc; i++) {
    free(sn->cf[i].buf);
    free(sn->cf[i].charset);
    free(sn->cf[i].collation_name);
  }
  for (uint32_t i = 0; sn->parv && i < sn->npk; i++) free(sn->parv[i].buf);
  free(sn->cf);
  free(sn->parv);
  free(sn->pk);
  free(sn->res);
  free(sn->par);
  sn->cf = NULL;
  sn->parv = NULL;
  sn->pk = NULL;
  sn->res = sn->par = NULL;
  rc_table_free(sn->t);
  sn->t = NULL;
  sn->started = 0;
  sn->have_key = 0;
}

/* The TABLE_MAP id of the current table's current definition (a new one after an ALTER). */
static uint64_t table_id(const rc_snap *sn) { return SNAP_TABLE_ID_BASE + ((uint64_t)sn->version << 24) + sn->cur; }

/* Open the current table: 0, 1 when it is gone (dropped or renamed since the plan), or an error.
 * reopen: its definition changed (an ALTER while it is read): say so, not "started". */
static int open_table(rc_snap *sn, int reopen, char *es, size_t esz) {
  plan_table *pt = &sn->tables[sn->cur];
  rc_table *def = NULL;
  int rc = rc_snap_load_table(sn, pt, &def, es, esz);
  if (rc != 0) return rc;
  uint64_t id = table_id(sn);
  rc = rc_table_map_build(def, id, (uint32_t)time(NULL), sn->srv->is_mariadb, &sn->tmap, es, esz);
  if (rc == 0) /* the table as the serializer will see it (charset kinds resolved) */
    rc = rc_table_map_parse((const uint8_t *)sn->tmap.p + RC_EVENT_HEADER_LEN, sn->tmap.len - RC_EVENT_HEADER_LEN, 8,
                            sn->srv->is_mariadb, &sn->t, es, esz);
  rc_table_free(def);
  if (rc < 0) return rc;
  uint32_t nc = sn->t->ncols;
  sn->res = calloc(nc, sizeof *sn->res);
  sn->par = calloc(sn->npk * (sn->npk + 1) / 2 + 1, sizeof *sn->par);
  sn->parv = calloc(sn->npk + 1, sizeof *sn->parv);
  sn->vals = realloc(sn->vals, nc * sizeof *sn->vals);
  if (!sn->res || !sn->par || !sn->parv || !sn->vals) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  if ((rc = prepare(sn, &sn->first, 0, es, esz)) < 0) return rc;
  if (sn->npk && (rc = prepare(sn, &sn->next, 1, es, esz)) < 0) return rc;
  sn->started = 1;
  sn->table_done = 0;
  if (reopen) return 0;
  pt->state = 1;
  pt->started_ms = rc_wall_ns() / 1000000;
  rc_info("snapshot of %s.%s started (about %llu rows, %s)", pt->db, pt->name, (unsigned long long)pt->estimate,
          sn->npk ? "in chunks by primary key" : "no primary key: read whole in one snapshot, spooled in chunks");
  return 0;
}

/* ---- values ------------------------------------------------------------------------------- */

/* The value of column i of the fetched row, as rows.c would decode it from a row image. */
static int value_of(rc_snap *sn, uint32_t i, rc_value *v, char *es, size_t esz) {
  col_fetch *f = &sn->cf[i];
  const rc_column *c = &sn->t->cols[i];
  memset(v, 0, sizeof *v);
  if (f->is_null) {
    v->kind = RC_V_NULL;
    return 0;
  }
  const MYSQL_TIME *tm = &f->num.tm;
  switch (f->fetch) {
  case F_INT:
    v->kind = c->type == RC_T_YEAR ? RC_V_YEAR : c->type == RC_T_BIT ? RC_V_BIT : c->type == RC_T_ENUM ? RC_V_ENUM
              : c->type == RC_T_SET ? RC_V_SET : c->is_signed ? RC_V_INT : RC_V_UINT;
    v->v.u = (uint64_t)f->num.ll;
    break;
  case F_FLOAT: v->kind = RC_V_FLOAT, v->v.f = f->num.f; break;
  case F_DOUBLE: v->kind = RC_V_DOUBLE, v->v.d = f->num.d; break;
  case F_DECIMAL:
    if (rc_decimal_from_text(f->buf, f->len, c->precision, c->scale, f->dec) < 0)
      return rc_errf(RC_ERR_CORRUPT, es, esz, "snapshot of %s.%s: column %s: the server sent '%.*s' for a DECIMAL(%u,%u)",
                     sn->t->db, sn->t->name, c->name, (int)f->len, f->buf, c->precision, c->scale);
    v->kind = RC_V_DECIMAL;
    v->v.s.p = f->dec;
    v->v.s.len = (uint32_t)rc_decimal_size(c->precision, c->scale);
    break;
  case F_DATE: case F_DATETIME:
    v->kind = f->fetch == F_DATE ? RC_V_DATE : RC_V_DATETIME;
    v->v.dt.year = (uint16_t)tm->year, v->v.dt.month = (uint8_t)tm->month, v->v.dt.day = (uint8_t)tm->day;
    v->v.dt.hour = (uint8_t)tm->hour, v->v.dt.minute = (uint8_t)tm->minute, v->v.dt.second = (uint8_t)tm->second;
    v->v.dt.usec = (uint32_t)tm->second_part;
    break;
  case F_TIMESTAMP: /* the session is in UTC: the stored seconds */
    v->kind = RC_V_TIMESTAMP;
    if (tm->year == 0 && tm->month == 0 && tm->day == 0) {
      v->v.ts.sec = 0;
    } else {
      int64_t s = rc_days_from_civil(tm->year, tm->month, tm->day) * 86400 + tm->hour * 3600 + tm->minute * 60 + tm->second;
      v->v.ts.sec = (uint32_t)s;
    }
    v->v.ts.usec = (uint32_t)tm->second_part;
    break;
  case F_TIME:
    v->kind = RC_V_TIME;
    v->v.tm.neg = tm->neg ? 1 : 0;
    v->v.tm.hour = tm->hour + tm->day * 24;
    v->v.tm.minute = (uint8_t)tm->minute, v->v.tm.second = (uint8_t)tm->second;
    v->v.tm.usec = (uint32_t)tm->second_part;
    break;
  default:
    v->kind = RC_V_STRING;
    v->v.s.p = (const uint8_t *)f->buf;
    v->v.s.len = (uint32_t)f->len;
    break;
  }
  return 0;
}

/* A canonical form of a key value, the same from a row read here and from a row image of the
 * stream (rows.c): integers as 64 bits, text and bytes without the padding the binlog strips. */
static void key_put(rc_buf *b, const rc_column *c, const rc_value *v) {
  rc_buf_putc(b, (char)v->kind);
  switch (v->kind) {
  case RC_V_INT: case RC_V_UINT: case RC_V_YEAR: case RC_V_BIT: case RC_V_ENUM: case RC_V_SET:
    rc_buf_put(b, &v->v.u, 8);
    break;
  case RC_V_FLOAT: rc_buf_put(b, &v->v.f, 4); break;
  case RC_V_DOUBLE: rc_buf_put(b, &v->v.d, 8); break;
  case RC_V_DATE: case RC_V_DATETIME: {
    uint64_t x = (uint64_t)v->v.dt.year << 40 | (uint64_t)v->v.dt.month << 32 | (uint64_t)v->v.dt.day << 24 |
                 (uint64_t)v->v.dt.hour << 16 | (uint64_t)v->v.dt.minute << 8 | v->v.dt.second;
    rc_buf_put(b, &x, 8);
    rc_buf_put(b, &v->v.dt.usec, 4);
    break;
  }
  case RC_V_TIMESTAMP: rc_buf_put(b, &v->v.ts, sizeof v->v.ts); break;
  case RC_V_TIME: {
    uint64_t x = (uint64_t)v->v.tm.neg << 60 | (uint64_t)v->v.tm.hour << 20 | (uint64_t)v->v.tm.minute << 8 | v->v.tm.second;
    rc_buf_put(b, &x, 8);
    rc_buf_put(b, &v->v.tm.usec, 4);
    break;
  }
  case RC_V_NULL: case RC_V_ABSENT: break;
  default: {
    uint32_t n = v->v.s.len;
    int pad = c->cs_kind == RC_CS_BINARY ? 0 : ' ';
    if (c->type == RC_T_STRING)
      while (n && v->v.s.p[n - 1] == pad) n--;
    rc_buf_put(b, &n, 4);
    rc_buf_put(b, v->v.s.p, n);
  }
  }
}

static uint64_t hash_bytes(const char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull;
  return h;
}

/* ---- chunks ------------------------------------------------------------------------------- */

static int grow_rows(rc_snap *sn, size_t need) {
  if (need <= sn->rows_cap) return 0;
  size_t cap = sn->rows_cap ? sn->rows_cap * 2 : 1024;
  while (cap < need) cap *= 2;
  size_t *o = realloc(sn->off, (cap + 1) * sizeof *o);
  if (o) sn->off = o;
  size_t *k = o ? realloc(sn->koff, (cap + 1) * sizeof *k) : NULL;
  if (k) sn->koff = k;
  uint8_t *d = k ? realloc(sn->dropped, cap) : NULL;
  if (!d) return -1;
  sn->dropped = d;
  sn->rows_cap = cap;
  return 0;
}

static void index_keys(rc_snap *sn, uint32_t n) {
  uint32_t want = 16;
  while (want < 2 * n + 16) want *= 2;
  if (want != sn->nslots) {
    free(sn->slots);
    sn->slots = calloc(want, sizeof *sn->slots);
    sn->nslots = sn->slots ? want : 0;
  } else {
    memset(sn->slots, 0, want * sizeof *sn->slots);
  }
  for (uint32_t i = 0; i < n && sn->nslots; i++) {
    uint64_t h = hash_bytes(sn->keys.p + sn->koff[i], sn->koff[i + 1] - sn->koff[i]);
    uint32_t s = (uint32_t)(h & (sn->nslots - 1));
    while (sn->slots[s]) s = (s + 1) & (sn->nslots - 1);
    sn->slots[s] = i + 1;
  }
}

/* Size column i's buffer to hold `need` bytes and point its result bind at it. */
static int size_buf(rc_snap *sn, uint32_t i, size_t need) {
  col_fetch *f = &sn->cf[i];
  if (f->cap < need) {
    char *p = realloc(f->buf, need);
    if (!p) return -1;
    f->buf = p;
    f->cap = need;
  }
  bind_to(&sn->res[i], f, !sn->t->cols[i].is_signed);
  return 0;
}

/* A fetched row had values longer than their buffers (an unbuffered read): grow them and fetch
 * those values again; the binds then hold for the rows that follow. */
static int refetch_long(rc_snap *sn, MYSQL_STMT *st) {
  for (uint32_t i = 0; i < sn->t->ncols; i++) {
    col_fetch *f = &sn->cf[i];
    if (!f->error || (f->fetch != F_BYTES && f->fetch != F_DECIMAL) || f->len < f->cap) continue;
    if (size_buf(sn, i, f->len + 1) < 0) return -1;
    if (mysql_stmt_fetch_column(st, &sn->res[i], i, 0)) return -1;
    f->error = 0;
  }
  return mysql_stmt_bind_result(st, sn->res) ? -1 : 0;
}

/* Fetch the rows of an executed statement into the chunk. buffered: the whole result (a chunk of
 * at most chunk_rows rows by its LIMIT), its buffers sized from the longest value; otherwise (a
 * table without a key, read whole) the rows stream from the server, chunk_rows at a time: the
 * call after the last row sets table_done (buffers grow when a value does not fit). */
static int fetch_rows(rc_snap *sn, MYSQL_STMT *st, int buffered, char *es, size_t esz) {
  const rc_table *t = sn->t;
  if (buffered && mysql_stmt_store_result(st)) goto fail;
  if (buffered || !sn->streaming) {
    MYSQL_RES *meta = mysql_stmt_result_metadata(st);
    for (uint32_t i = 0; i < t->ncols; i++) {
      size_t need = 0;
      if (sn->cf[i].fetch == F_BYTES || sn->cf[i].fetch == F_DECIMAL) {
        const MYSQL_FIELD *fd = meta ? mysql_fetch_field_direct(meta, i) : NULL;
        need = (fd ? buffered ? fd->max_length : fd->length < 4096 ? fd->length : 4096 : 0) + 1;
        if (need < 80) need = 80;
      }
      if (size_buf(sn, i, need) < 0) {
        if (meta) mysql_free_result(meta);
        return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
      }
    }
    if (meta) mysql_free_result(meta);
    if (mysql_stmt_bind_result(st, sn->res)) goto fail;
  }
  uint32_t n = 0;
  sn->images.len = sn->keys.len = 0;
  if (grow_rows(sn, 1) < 0) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory"); /* off[0] even for no row */
  int r = 0;
  while ((buffered || n < sn->chunk_rows) && ((r = mysql_stmt_fetch(st)) == 0 || r == MYSQL_DATA_TRUNCATED)) {
    if (grow_rows(sn, n + 1) < 0) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
    if (r == MYSQL_DATA_TRUNCATED && refetch_long(sn, st) < 0) goto fail;
    for (uint32_t i = 0; i < t->ncols; i++)
      if ((r = value_of(sn, i, &sn->vals[i], es, esz)) < 0) return r;
    sn->off[n] = sn->images.len;
    if ((r = rc_row_image_put(&sn->images, t, sn->vals, es, esz)) < 0) return r;
    sn->koff[n] = sn->keys.len;
    for (uint32_t k = 0; k < sn->npk; k++) key_put(&sn->keys, &t->cols[sn->pk[k]], &sn->vals[sn->pk[k]]);
    sn->dropped[n] = 0;
    n++;
  }
  int more = !buffered && n == sn->chunk_rows; /* the loop stopped at the chunk's size, not the end */
  if (!more && r != MYSQL_NO_DATA) goto fail;
  sn->off[n] = sn->images.len;
  sn->koff[n] = sn->keys.len;
  /* the last key: the parameters of the next chunk */
  if (n && sn->npk) {
    sn->have_key = 1;
    for (uint32_t k = 0; k < sn->npk; k++) {
      col_fetch *src = &sn->cf[sn->pk[k]], *dst = &sn->parv[k];
      dst->fetch = src->fetch;
      dst->num = src->num;
      dst->len = src->len;
      dst->is_null = 0;
      if (src->fetch == F_BYTES || src->fetch == F_DECIMAL) {
        if (dst->cap < src->len + 1) {
          char *p = realloc(dst->buf, src->len + 1);
          if (!p) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
          dst->buf = p;
          dst->cap = src->len + 1;
        }
        memcpy(dst->buf, src->buf, src->len);
      }
    }
  }
  if (!more) mysql_stmt_free_result(st);
  sn->streaming = more;
  sn->ch.nrows = n;
  sn->ch.ndropped = 0;
  if (sn->npk) index_keys(sn, n);
  if (buffered ? n < sn->chunk_rows : !more) sn->table_done = 1;
  return 0;
fail: {
  unsigned e = mysql_stmt_errno(st);
  return rc_errf(e >= 2000 && e < 3000 ? RC_ERR_IO : RC_ERR_ARG, es, esz, "snapshot of %s.%s on %s: %s (error %u)",
                 t->db, t->name, sn->srv->where, mysql_stmt_error(st), e);
}
}

/* Bind the last key as the keyset statement's parameters: (k1 > ?) OR (k1 = ? AND k2 > ?) ... */
static int bind_params(rc_snap *sn, char *es, size_t esz) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < sn->npk; i++)
    for (uint32_t j = 0; j <= i; j++) {
      bind_to(&sn->par[n], &sn->parv[j], !sn->t->cols[sn->pk[j]].is_signed);
      sn->par[n].buffer_length = (unsigned long)sn->parv[j].len;
      if (sn->parv[j].fetch == F_DECIMAL) sn->par[n].buffer_type = MYSQL_TYPE_STRING;
      n++;
    }
  if (mysql_stmt_bind_param(sn->next, sn->par))
    return rc_errf(RC_ERR_ARG, es, esz, "snapshot of %s.%s: binding the key: %s", sn->t->db, sn->t->name,
                   mysql_stmt_error(sn->next));
  return 0;
}

/* The test hook ROWCAST_TEST_SNAPSHOT_PAUSE=N[,N...]:PATH: before its N-th chunk (counted over
 * the run, from 1) the reader creates PATH and waits (up to 120 s) until it is removed, so that
 * a test can change a table between two chunks. */
static void test_pause(rc_snap *sn) {
  const char *h = getenv("ROWCAST_TEST_SNAPSHOT_PAUSE");
  char *colon = h ? strchr(h, ':') : NULL, *p = (char *)h;
  if (!colon) return;
  int hit = 0;
  while (p < colon && !hit) {
    char *e;
    hit = strtoull(p, &e, 10) == sn->chunks_read && e > p;
    p = e > p ? e : p + 1;
    if (*p == ',') p++;
  }
  if (!hit) return;
  FILE *f = fopen(colon + 1, "w");
  if (f) fclose(f);
  rc_info("snapshot: paused before chunk %llu until %s is removed (ROWCAST_TEST_SNAPSHOT_PAUSE)",
          (unsigned long long)sn->chunks_read, colon + 1);
  for (int i = 0; i < 12000 && access(colon + 1, F_OK) == 0; i++) nanosleep(&(struct timespec){0, 10000000}, NULL);
}

/* The current table's definition changed (an ALTER between two chunks): open it again with the
 * new one, under a new TABLE_MAP id, and go on after the last key read. 0, 1 when it is gone, or
 * RC_ERR_ARG when its primary key changed (the key order could not go on exactly). */
static int reopen_table(rc_snap *sn, char *es, size_t esz) {
  plan_table *pt = &sn->tables[sn->cur];
  rc_buf key = {0}, pkdef = {0};
  rc_snap_key_save(sn, &key);
  for (uint32_t k = 0; k < sn->npk; k++) { /* the key's columns: name and fetch kind */
    rc_buf_puts(&pkdef, sn->t->cols[sn->pk[k]].name);
    rc_buf_putc(&pkdef, (char)sn->cf[sn->pk[k]].fetch);
  }
  int had_key = sn->have_key, first = sn->ch.first;
  uint32_t npk = sn->npk;
  close_table(sn);
  if (++sn->version > 255) {
    rc_buf_free(&key);
    rc_buf_free(&pkdef);
    return rc_errf(RC_ERR_ARG, es, esz, "snapshot of %s.%s: its definition changed 255 times while it was read", pt->db,
                   pt->name);
  }
  int rc = open_table(sn, 1, es, esz);
  if (rc == 0) {
    rc_buf now = {0};
    for (uint32_t k = 0; k < sn->npk; k++) {
      rc_buf_puts(&now, sn->t->cols[sn->pk[k]].name);
      rc_buf_putc(&now, (char)sn->cf[sn->pk[k]].fetch);
    }
    if (npk != sn->npk || now.len != pkdef.len || (now.len && memcmp(now.p, pkdef.p, now.len)))
      rc = rc_errf(RC_ERR_ARG, es, esz,
                   "snapshot of %s.%s: its primary key changed (ALTER TABLE) while it was read, after %llu rows: the "
                   "chunks cannot go on in key order exactly; run its snapshot again (rowcast snapshot %s.%s)",
                   pt->db, pt->name, (unsigned long long)pt->rows_sent, pt->db, pt->name);
    else if (had_key && (rc = key_load(sn, (const uint8_t *)key.p, key.len, es, esz)) == 0)
      sn->have_key = 1;
    rc_buf_free(&now);
  }
  sn->ch.first = first;
  if (rc == 0)
    rc_warn("snapshot of %s.%s: its definition changed (ALTER TABLE) while it was read, after %llu rows: the "
            "following chunks are read with the new one (%u columns)", pt->db, pt->name,
            (unsigned long long)pt->rows_sent, sn->t->ncols);
  rc_buf_free(&key);
  rc_buf_free(&pkdef);
  return rc;
}

/* In the chunk's snapshot, before reading: take the table's metadata lock for the transaction
 * (no ALTER or DROP of it can end before the chunk is read) and see whether the table is still
 * there and as it was. 0 as it was, 1 changed, 2 gone, or an error. */
static int check_table(rc_snap *sn, char *es, size_t esz) {
  const plan_table *pt = &sn->tables[sn->cur];
  rc_buf q = {0};
  rc_buf_lit(&q, "SELECT 1 FROM ");
  rc_snap_put_table(&q, pt->db, pt->name);
  rc_buf_lit(&q, " LIMIT 0");
  rc_buf_putc(&q, 0);
  int rc = 0;
  if (mysql_real_query(sn->my, q.p, (unsigned long)q.len - 1)) {
    unsigned e = mysql_errno(sn->my);
    rc = e == ER_NO_SUCH_TABLE ? 2 : e == ER_TABLE_DEF_CHANGED ? 1
         : rc_server_fail(sn->srv, sn->my, "opening the table for the snapshot's chunk", es, esz);
  } else {
    MYSQL_RES *r = mysql_store_result(sn->my);
    if (r) mysql_free_result(r);
    rc = rc_snap_def_changed(sn, pt, es, esz);
  }
  rc_buf_free(&q);
  return rc;
}

/* Read one chunk in its own consistent snapshot, with the binlog position it corresponds to
 * (snapshot_pos.c). A table without a key: its first piece opens the snapshot, the following
 * ones fetch on in it (same position), the last one closes it. A table dropped since the last
 * chunk: an empty last chunk (its snapshot ends there); altered: read again with the new
 * definition in a new snapshot. */
static int read_chunk(rc_snap *sn, char *es, size_t esz) {
  int rc;
  MYSQL_STMT *st = sn->ch.first || !sn->npk ? sn->first : sn->next;
  if (!sn->streaming) {
    sn->chunks_read++;
    test_pause(sn);
    char e2[256];
    for (;;) {
      if ((rc = rc_snap_pos_begin(sn, es, esz)) < 0) return rc;
      if ((rc = check_table(sn, es, esz)) == 0) break;
      rc_snap_pos_end(sn, e2, sizeof e2);
      if (rc < 0) return rc;
      if (rc == 1 && (rc = reopen_table(sn, es, esz)) < 0) return rc;
      if (rc == 0) { /* read again, with the new definition */
        st = sn->ch.first || !sn->npk ? sn->first : sn->next;
        continue;
      }
      const plan_table *pt = &sn->tables[sn->cur];
      rc_warn("snapshot of %s.%s: the table was dropped while it was read: its snapshot ends after %llu rows; the "
              "other tables go on", pt->db, pt->name, (unsigned long long)pt->rows_sent);
      if (grow_rows(sn, 1) < 0) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
      sn->off[0] = sn->koff[0] = 0;
      sn->images.len = sn->keys.len = 0;
      sn->ch.nrows = sn->ch.ndropped = 0;
      sn->table_done = 1;
      sn->started = 1; /* (closed if it went while being opened again: the next read goes on after it) */
      if (sn->npk) index_keys(sn, 0);
      return 0; /* an empty last chunk at the position just read */
    }
    if (st == sn->next && (rc = bind_params(sn, es, esz)) < 0) return rc;
    if (mysql_stmt_execute(st)) {
      unsigned e = mysql_stmt_errno(st);
      rc = rc_errf(e >= 2000 && e < 3000 ? RC_ERR_IO : RC_ERR_ARG, es, esz, "snapshot of %s.%s on %s: %s (error %u)",
                   sn->t->db, sn->t->name, sn->srv->where, mysql_stmt_error(st), e);
      goto end;
    }
  }
  rc = fetch_rows(sn, st, sn->npk != 0, es, esz);
  if (rc == 0 && sn->streaming) return 0; /* more of the table to come in this snapshot */
  if (rc < 0) {
    mysql_stmt_free_result(st);
    sn->streaming = 0;
  }
end: {
  char e2[256];
  if (rc_snap_pos_end(sn, e2, sizeof e2) < 0 && rc == 0)
    rc = rc_errf(RC_ERR_IO, es, esz, "%s", e2);
  return rc;
}
}

int rc_snap_read(rc_snap *sn, rc_snap_chunk **out, char *es, size_t esz) {
  *out = NULL;
  if (sn->held) {
    *out = &sn->ch;
    return 1;
  }
  int rc;
  for (;;) {
    if (sn->cur >= sn->ntables) return 0;
    if (!sn->started) {
      if ((rc = open_table(sn, 0, es, esz)) < 0) return rc;
      if (rc == 1) { /* dropped (or renamed) after the plan, before its read */
        rc_warn("snapshot of %s.%s: the table is gone (dropped or renamed since the snapshot was planned): "
                "no rows of it are sent; the other tables go on", sn->tables[sn->cur].db, sn->tables[sn->cur].name);
        close_table(sn);
        sn->tables[sn->cur++].state = 2;
        continue;
      }
      sn->ch.first = 1;
    } else if (sn->table_done) {
      close_table(sn);
      sn->cur++;
      continue;
    }
    break;
  }
  if ((rc = read_chunk(sn, es, esz)) < 0) return rc;
  plan_table *pt = &sn->tables[sn->cur];
  sn->ch.table = sn->cur;
  sn->ch.db = pt->db;
  sn->ch.name = pt->name;
  sn->ch.tmap = (const uint8_t *)sn->tmap.p;
  sn->ch.tmap_len = sn->tmap.len;
  sn->ch.table_id = table_id(sn);
  sn->ch.ncols = sn->t ? sn->t->ncols : 0;
  sn->ch.images = (const uint8_t *)sn->images.p;
  sn->ch.off = sn->off;
  sn->ch.dropped = sn->dropped;
  sn->ch.keyless = sn->npk == 0;
  sn->ch.last = sn->table_done;
  sn->held = 1;
  *out = &sn->ch;
  return 1;
}

rc_snap_chunk *rc_snap_held(rc_snap *sn) { return sn && sn->held ? &sn->ch : NULL; }

void rc_snap_release(rc_snap *sn) {
  sn->held = 0;
  sn->ch.first = 0;
}

int rc_snap_covers(const rc_snap *sn, const rc_table *t) {
  if (!sn || !sn->held || !t->db || !t->name) return 0;
  return !strcmp(t->db, sn->ch.db) && !strcmp(t->name, sn->ch.name);
}

void rc_snap_track(rc_snap *sn, const rc_table *t, const rc_value *img) {
  if (!sn->held || !sn->npk || !sn->nslots || !img) return;
  sn->kb.len = 0;
  if (t->ncols != sn->t->ncols) return; /* another definition (an ALTER in between): mark nothing, */
  for (uint32_t k = 0; k < sn->npk; k++) { /* the chunk's row then goes out, as its state at P */
    uint32_t i = sn->pk[k];
    if (i >= t->ncols || img[i].kind == RC_V_ABSENT || t->cols[i].type != sn->t->cols[i].type ||
        (t->has_names && t->cols[i].name && strcmp(t->cols[i].name, sn->t->cols[i].name)))
      return;
    key_put(&sn->kb, &sn->t->cols[i], &img[i]);
  }
  uint64_t h = hash_bytes(sn->kb.p, sn->kb.len);
  for (uint32_t s = (uint32_t)(h & (sn->nslots - 1)); sn->slots[s]; s = (s + 1) & (sn->nslots - 1)) {
    uint32_t row = sn->slots[s] - 1;
    size_t n = sn->koff[row + 1] - sn->koff[row];
    if (n == sn->kb.len && !memcmp(sn->keys.p + sn->koff[row], sn->kb.p, n)) {
      if (!sn->dropped[row]) sn->ch.ndropped++;
      sn->dropped[row] = 1;
      return;
    }
  }
}

void rc_snap_count(rc_snap *sn, uint32_t table, uint32_t rows, int last) {
  if (table >= sn->ntables) return;
  plan_table *pt = &sn->tables[table];
  pt->rows_sent += rows;
  if (!last) return;
  pt->state = 2;
  pt->ended_ms = rc_wall_ns() / 1000000;
  double secs = (double)(pt->ended_ms - pt->started_ms) / 1000.0;
  rc_info("snapshot of %s.%s done: %llu rows sent in %.1f s (%.0f rows/s)", pt->db, pt->name,
          (unsigned long long)pt->rows_sent, secs, secs > 0 ? (double)pt->rows_sent / secs : 0.0);
}

uint32_t rc_snap_ntables(const rc_snap *sn) { return sn->ntables; }

/* The key layout: per key column, u8 fetch kind, u32 length, the bytes (a number's buffer as
 * kept in memory: the spool is read back by the same build on the same machine). */
void rc_snap_key_save(const rc_snap *sn, rc_buf *b) {
  if (!sn->npk || !sn->parv || !sn->have_key) return;
  for (uint32_t k = 0; k < sn->npk; k++) {
    const col_fetch *f = &sn->parv[k];
    uint32_t len = (uint32_t)f->len;
    rc_buf_putc(b, (char)f->fetch);
    if (f->fetch == F_BYTES || f->fetch == F_DECIMAL) {
      rc_buf_put(b, &len, 4);
      rc_buf_put(b, f->buf, len);
    } else {
      uint32_t n = (uint32_t)sizeof f->num;
      rc_buf_put(b, &n, 4);
      rc_buf_put(b, &f->num, n);
    }
  }
}

int rc_snap_resume(rc_snap *sn, const char *db, const char *name, int done, const uint8_t *key, size_t klen,
                   char *es, size_t esz) {
  uint32_t i = 0;
  while (i < sn->ntables && (strcmp(sn->tables[i].db, db) || strcmp(sn->tables[i].name, name))) i++;
  if (i == sn->ntables) { /* gone since: go on with the tables after it by name */
    for (i = 0; i < sn->ntables; i++) {
      int c = strcmp(sn->tables[i].db, db);
      if (c > 0 || (c == 0 && strcmp(sn->tables[i].name, name) > 0)) break;
    }
    done = 0;
    klen = 0;
    rc_warn("snapshot resume: %s.%s is no longer there; going on after it", db, name);
  } else if (done) {
    i++;
  }
  for (uint32_t k = 0; k < i && k < sn->ntables; k++) sn->tables[k].state = 2;
  sn->cur = i;
  if (i >= sn->ntables || !klen) return 0;
  int rc = open_table(sn, 0, es, esz);
  if (rc == 1) { /* gone since: the next rc_snap_read goes on after it */
    rc_warn("snapshot resume: %s.%s is no longer there; going on after it", db, name);
    sn->tables[i].state = 2;
    sn->cur++;
    return 0;
  }
  if (rc < 0) return rc;
  if ((rc = key_load(sn, key, klen, es, esz)) < 0) return rc;
  sn->ch.first = 0;
  sn->have_key = 1;
  rc_info("snapshot of %s.%s resumes after the last chunk Kafka has", db, name);
  return 0;
}

/* The last key saved by rc_snap_key_save, as the next chunk's parameters. */
static int key_load(rc_snap *sn, const uint8_t *key, size_t klen, char *es, size_t esz) {
  const char *db = sn->t->db, *name = sn->t->name;
  const uint8_t *p = key, *end = key + klen;
  for (uint32_t k = 0; k < sn->npk; k++) {
    col_fetch *f = &sn->parv[k];
    uint32_t n;
    if (end - p < 5) return rc_errf(RC_ERR_CORRUPT, es, esz, "snapshot resume of %s.%s: the saved key is cut short", db, name);
    f->fetch = *p++;
    memcpy(&n, p, 4);
    p += 4;
    if ((size_t)(end - p) < n) return rc_errf(RC_ERR_CORRUPT, es, esz, "snapshot resume of %s.%s: the saved key is cut short", db, name);
    if (f->fetch == F_BYTES || f->fetch == F_DECIMAL) {
      char *b = realloc(f->buf, n + 1);
      if (!b) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
      f->buf = b;
      f->cap = n + 1;
      memcpy(f->buf, p, n);
      f->len = n;
    } else if (n == sizeof f->num) {
      memcpy(&f->num, p, n);
      f->len = 0;
    }
    f->is_null = 0;
    p += n;
  }
  return 0;
}

int rc_snap_done(const rc_snap *sn) { return !sn || (sn->cur >= sn->ntables && !sn->held); }

void rc_snap_metrics(const rc_snap *sn, rc_buf *b) {
  uint64_t sent = 0, est = 0, done = 0;
  const plan_table *cur = NULL;
  for (uint32_t i = 0; i < sn->ntables; i++) {
    const plan_table *pt = &sn->tables[i];
    sent += pt->rows_sent;
    est += pt->estimate > pt->rows_sent ? pt->estimate : pt->rows_sent;
    done += pt->state == 2;
    if (pt->state == 1) cur = pt;
  }
  char line[900];
  if (cur) { /* the table being read: one line of text, like the reader's file */
    snprintf(line, sizeof line, "snapshot_table %s.%s\n", cur->db, cur->name);
    rc_buf_puts(b, line);
    snprintf(line, sizeof line, "snapshot_table_rows %llu\nsnapshot_table_estimate %llu\nsnapshot_table_ms %llu\n",
             (unsigned long long)cur->rows_sent, (unsigned long long)cur->estimate,
             (unsigned long long)(rc_wall_ns() / 1000000 - cur->started_ms));
    rc_buf_puts(b, line);
  }
  snprintf(line, sizeof line, "snapshot_rows %llu\nsnapshot_rows_estimate %llu\nsnapshot_tables_done %llu\nsnapshot_tables %u\n",
           (unsigned long long)sent, (unsigned long long)est, (unsigned long long)done, sn->ntables);
  rc_buf_puts(b, line);
  if (sn->position == RC_SNAP_POS_READ_LOCK) {
    snprintf(line, sizeof line, "snapshot_locks %llu\nsnapshot_lock_us %llu\nsnapshot_lock_max_us %llu\n",
             (unsigned long long)sn->lock.count, (unsigned long long)(sn->lock.total_ns / 1000),
             (unsigned long long)(sn->lock.max_ns / 1000));
    rc_buf_puts(b, line);
  }
  /* every table begun, for /metrics: "snapshot_tab ROWS ESTIMATE DONE db.name" (the first 100, and
   * the current one, so that a plan of thousands of tables keeps the report small) */
  for (uint32_t i = 0; i < sn->ntables; i++) {
    const plan_table *pt = &sn->tables[i];
    if (pt->state == 0 || (i >= 100 && pt != cur)) continue;
    snprintf(line, sizeof line, "snapshot_tab %llu %llu %d %s.%s\n", (unsigned long long)pt->rows_sent,
             (unsigned long long)pt->estimate, pt->state == 2, pt->db, pt->name);
    rc_buf_puts(b, line);
  }
}

int rc_snap_new(rc_snap **out, rc_server *srv, const char *patterns, const rc_filter *filter, uint32_t chunk_rows,
                int position, char *es, size_t esz) {
  *out = NULL;
  rc_snap *sn = calloc(1, sizeof *sn);
  if (!sn) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  sn->srv = srv;
  sn->chunk_rows = chunk_rows ? chunk_rows : 10000;
  sn->position = position != RC_SNAP_POS_AUTO ? position
                 : srv->is_mariadb ? RC_SNAP_POS_BINLOG_SNAPSHOT : RC_SNAP_POS_READ_LOCK;
  int rc;
  sn->my = rc_server_connect(srv, 0, es, esz, &rc);
  if (!sn->my) {
    free(sn);
    return rc;
  }
  MYSQL_RES *res = NULL;
  if ((rc = rc_snap_query(sn, "SET SESSION time_zone = '+00:00', character_set_results = NULL", NULL,
                  "setting up the snapshot session", es, esz)) < 0 ||
      (rc = rc_snap_query(sn, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", NULL, "setting up the snapshot session",
                  es, esz)) < 0 ||
      (rc = rc_snap_query(sn, "SELECT @@GLOBAL.binlog_row_image", &res, "reading binlog_row_image", es, esz)) < 0) {
    rc_snap_free(sn);
    return rc;
  }
  MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
  int full = row && row[0] && !strcasecmp(row[0], "FULL");
  if (res) mysql_free_result(res);
  if (!full) {
    rc_snap_free(sn);
    return rc_errf(RC_ERR_ARG, es, esz,
                   "a snapshot needs binlog_row_image=FULL on %s (the merge with the stream takes a changed "
                   "row's state from its change): SET GLOBAL binlog_row_image=FULL, or snapshot.mode=never",
                   srv->where);
  }
  if ((rc = rc_snap_plan(sn, patterns, filter, es, esz)) < 0) {
    rc_snap_free(sn);
    return rc;
  }
  uint64_t est = 0;
  for (uint32_t i = 0; i < sn->ntables; i++) est += sn->tables[i].estimate;
  rc_info("snapshot planned: %u tables matching '%s', about %llu rows, %u rows per chunk, positions by %s", sn->ntables,
          patterns, (unsigned long long)est, sn->chunk_rows,
          sn->position == RC_SNAP_POS_READ_LOCK ? "read_lock" : "binlog_snapshot (no lock)");
  *out = sn;
  return 0;
}

void rc_snap_free(rc_snap *sn) {
  if (!sn) return;
  close_table(sn);
  for (uint32_t i = 0; i < sn->ntables; i++) {
    free(sn->tables[i].db);
    free(sn->tables[i].name);
  }
  free(sn->tables);
  if (sn->my) mysql_close(sn->my);
  rc_buf_free(&sn->tmap);
  rc_buf_free(&sn->images);
  rc_buf_free(&sn->keys);
  rc_buf_free(&sn->kb);
  rc_buf_free(&sn->def_sig);
  free(sn->off);
  free(sn->koff);
  free(sn->dropped);
  free(sn->slots);
  free(sn->vals);
  free(sn);
}
