/*
 * query.c: the parts of a QUERY (or MariaDB QUERY_COMPRESSED) event a schema tracker needs to
 * apply the statement elsewhere as the server did: the default database, the sql_mode, the
 * session charsets and the statement text (inflated when compressed). Called by the schema
 * tracker's client (schema/) for each statement that is not BEGIN/COMMIT/ROLLBACK.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "binlog_int.h"
#include "binlog_info_int.h"
#include "buf.h"

#undef CORRUPT
#define CORRUPT(...) return rc_errf(RC_ERR_CORRUPT, errstr, es, __VA_ARGS__)

void rc_query_free(rc_query *q) {
  free(q->inflated);
  memset(q, 0, sizeof *q);
}

/* Walk the status block for the sql_mode (code 1) and the charsets (code 4). Codes whose size
 * is not known here end the walk: what was found so far stays. */
static void query_status(rc_query *q, const uint8_t *sv, size_t n) {
  rc_cur c = {sv, sv + n, 0};
  while (cur_left(&c) > 0 && !c.bad) {
    uint8_t code = cur_u8(&c);
    size_t skip = 0;
    switch (code) {
    case 0: skip = 4; break;
    case 1:
      q->sql_mode = cur_le(&c, 8);
      q->has_sql_mode = !c.bad;
      break;
    case 2: skip = (size_t)cur_u8(&c) + 1; break;
    case 3: skip = 4; break;
    case 4:
      q->cs_client = (uint16_t)cur_le(&c, 2);
      q->cs_connection = (uint16_t)cur_le(&c, 2);
      q->cs_server = (uint16_t)cur_le(&c, 2);
      q->has_charsets = !c.bad;
      break;
    case 5: case 6: skip = cur_u8(&c); break;
    case 7: case 8: skip = 2; break;
    case 9: skip = 8; break;
    case 10: skip = 4; break;
    case 11: skip = cur_u8(&c); cur_take(&c, skip); skip = cur_u8(&c); break;
    case 13: skip = 3; break;
    case 16: skip = 1; break;
    case 17: skip = 8; break;
    case 18: skip = 2; break;
    case 19: case 20: skip = 1; break;
    case 128: skip = 3; break;
    case 129: skip = 8; break;
    default: return; /* 12 (a list) and codes of newer servers: nothing after them is needed */
    }
    if (skip) cur_take(&c, skip);
  }
}

int rc_event_query_parse(const rc_binlog *bl, const rc_event *ev, rc_query *q, char *errstr, size_t es) {
  memset(q, 0, sizeof *q);
  if (ev->type != RC_EV_QUERY && ev->type != RC_EV_MARIA_QUERY_COMPRESSED)
    return rc_errf(RC_ERR_ARG, errstr, es, "event type %u is not a query", ev->type);
  int phl = rc_binlog_post_header_len(bl, ev->type);
  if (phl < 13) phl = 13;
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  cur_take(&c, 8); /* thread id, exec time */
  uint8_t db_len = cur_u8(&c);
  q->error_code = (uint16_t)cur_le(&c, 2);
  uint16_t sv_len = (uint16_t)cur_le(&c, 2);
  cur_take(&c, (size_t)phl - 13);
  const uint8_t *sv = cur_take(&c, sv_len);
  const uint8_t *db = cur_take(&c, db_len);
  const uint8_t *nul = cur_take(&c, 1);
  if (c.bad || !sv || !db || !nul || *nul)
    CORRUPT("%s: query event at offset %llu: its status block or database name runs past its %zu bytes",
            rc_binlog_file(bl), (unsigned long long)ev->offset, ev->body_len);
  query_status(q, sv, sv_len);
  q->db = (const char *)db;
  q->db_len = db_len;
  q->text = (const char *)c.p;
  q->text_len = cur_left(&c);
  q->suppress_use = (ev->flags & RC_EVF_SUPPRESS_USE) != 0;
  if (ev->type != RC_EV_MARIA_QUERY_COMPRESSED) return 0;
  uint8_t h = cur_u8(&c);
  int n = h & 7;
  const uint8_t *lp = cur_take(&c, (size_t)n);
  if (c.bad || !(h & 0x80) || n < 1 || n > 4 || ((h >> 4) & 7) || !lp)
    CORRUPT("%s: compressed query at offset %llu has a bad header", rc_binlog_file(bl),
            (unsigned long long)ev->offset);
  size_t ulen = (size_t)rd_be_n(lp, n);
  if (ulen > RC_MAX_QUERY_INFLATE)
    CORRUPT("%s: compressed query at offset %llu claims %zu bytes", rc_binlog_file(bl),
            (unsigned long long)ev->offset, ulen);
  if (!(q->inflated = malloc(ulen + 1))) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  uLongf got = (uLongf)ulen;
  if (uncompress((Bytef *)q->inflated, &got, c.p, (uLong)cur_left(&c)) != Z_OK || got != ulen) {
    rc_query_free(q);
    CORRUPT("%s: compressed query at offset %llu does not unpack", rc_binlog_file(bl),
            (unsigned long long)ev->offset);
  }
  q->text = q->inflated;
  q->text_len = ulen;
  return 0;
}

/* The labels of "enum('a','b''c')" / "set(...)" as information_schema.COLUMNS.COLUMN_TYPE
 * writes them: each quoted, a quote doubled, backslash escapes for \, NUL, newline, CR. */
int rc_sql_labels_parse(const char *ct, char ***labels, uint32_t **lens, uint32_t *count) {
  const char *p = strchr(ct, '(');
  if (!p) return -1;
  p++;
  size_t cap = 8, n = 0;
  char **l = calloc(cap, sizeof *l);
  uint32_t *ln = calloc(cap, sizeof *ln);
  if (!l || !ln) goto fail;
  while (*p == '\'') {
    rc_buf b = {0};
    p++;
    for (;;) {
      if (!*p) {
        rc_buf_free(&b);
        goto fail;
      }
      if (*p == '\'' && p[1] == '\'') {
        rc_buf_putc(&b, '\'');
        p += 2;
      } else if (*p == '\'') {
        p++;
        break;
      } else if (*p == '\\' && p[1]) {
        char c = p[1];
        rc_buf_putc(&b, c == '0' ? '\0' : c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c == 'Z' ? '\032' : c);
        p += 2;
      } else {
        rc_buf_putc(&b, *p++);
      }
    }
    if (n == cap) {
      cap *= 2;
      char **nl = realloc(l, cap * sizeof *nl);
      if (nl) l = nl;
      uint32_t *nln = realloc(ln, cap * sizeof *nln);
      if (nln) ln = nln;
      if (!nl || !nln) {
        rc_buf_free(&b);
        goto fail;
      }
    }
    char *str = malloc(b.len + 1);
    if (!str) {
      rc_buf_free(&b);
      goto fail;
    }
    if (b.len) memcpy(str, b.p, b.len);
    str[b.len] = 0;
    l[n] = str;
    ln[n] = (uint32_t)b.len;
    n++;
    rc_buf_free(&b);
    if (*p == ',') p++;
  }
  *labels = l;
  *lens = ln;
  *count = (uint32_t)n;
  return 0;
fail:
  for (size_t i = 0; i < n; i++) free(l[i]);
  free(l);
  free(ln);
  return -1;
}

