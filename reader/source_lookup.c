/*
 * source_lookup.c: the information_schema lookup of the live source (rc_server_lookup in
 * source_server.h): the column names, signedness, ENUM/SET labels, charsets and primary key of a
 * table whose table map lacks them (no binlog_row_metadata=FULL), on a connection of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "source_server_int.h"

typedef struct {
  char *name, *key;
  uint32_t key_len;
  char **labels;
  uint32_t *label_lens, n_labels;
  int8_t is_signed;
  uint8_t pk;
  uint16_t collation;
} col_info;

static void col_info_free(col_info *c, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    free(c[i].name);
    free(c[i].key);
    for (uint32_t k = 0; k < c[i].n_labels; k++) free(c[i].labels[k]);
    free(c[i].labels);
    free(c[i].label_lens);
  }
  free(c);
}

static int lookup_query(rc_server *s, const rc_table *t, MYSQL_RES **res, char *es, size_t esz) {
  size_t dl = strlen(t->db), tl = strlen(t->name);
  char *d = malloc(2 * dl + 1), *n = malloc(2 * tl + 1);
  char *sql = malloc(2 * dl + 2 * tl + 300);
  if (!d || !n || !sql) {
    free(d);
    free(n);
    free(sql);
    return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  }
  mysql_real_escape_string(s->meta, d, t->db, (unsigned long)dl);
  mysql_real_escape_string(s->meta, n, t->name, (unsigned long)tl);
  sprintf(sql,
          "SELECT c.COLUMN_NAME, c.COLUMN_TYPE, c.COLUMN_KEY, co.ID FROM information_schema.COLUMNS c "
          "LEFT JOIN information_schema.COLLATIONS co ON co.COLLATION_NAME = c.COLLATION_NAME "
          "WHERE c.TABLE_SCHEMA = '%s' AND c.TABLE_NAME = '%s' ORDER BY c.ORDINAL_POSITION",
          d, n);
  free(d);
  free(n);
  int rc = 0;
  sigset_t old;
  int held = rc_server_hold_signals(s->tls_st.on, &old);
  if (mysql_query(s->meta, sql) || !(*res = mysql_store_result(s->meta)))
    rc = rc_server_fail(s, s->meta, "looking a table up in information_schema", es, esz);
  rc_server_release_signals(&old, held);
  free(sql);
  return rc;
}

int rc_server_lookup(rc_server *s, rc_table *t, char *es, size_t esz) {
  int rc;
  MYSQL_RES *res = NULL;
  for (int attempt = 0; attempt < 2; attempt++) {
    if (!s->meta) {
      s->meta = rc_server_connect(s, 0, es, esz, &rc);
      if (!s->meta) return rc;
    }
    rc = lookup_query(s, t, &res, es, esz);
    if (rc == 0) break;
    mysql_close(s->meta); /* lost, or in a bad state: reopen once */
    s->meta = NULL;
    if (rc != RC_ERR_IO) return rc;
  }
  if (rc < 0) return rc;
  uint32_t nrows = (uint32_t)mysql_num_rows(res);
  if (nrows == 0) {
    mysql_free_result(res);
    return rc_errf(RC_ERR_ARG, es, esz,
                   "table `%s`.`%s` is not in information_schema on %s (dropped or renamed since "
                   "the event was written)", t->db, t->name, s->where);
  }
  if (nrows != t->ncols) {
    mysql_free_result(res);
    return rc_errf(RC_ERR_ARG, es, esz,
                   "table `%s`.`%s` has %u columns in information_schema on %s but %u in its "
                   "TABLE_MAP (its definition changed since the event was written)",
                   t->db, t->name, nrows, s->where, t->ncols);
  }
  col_info *ci = calloc(nrows, sizeof *ci);
  if (!ci) {
    mysql_free_result(res);
    return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  }
  MYSQL_ROW row;
  uint32_t i = 0;
  rc = 0;
  while ((row = mysql_fetch_row(res)) && i < nrows) {
    unsigned long *lens = mysql_fetch_lengths(res);
    rc_column *c = &t->cols[i];
    col_info *x = &ci[i];
    const char *ctype = row[1] ? row[1] : "";
    if (!t->has_names) {
      x->name = malloc(lens[0] + 1);
      if (!x->name) {
        rc = RC_ERR_NOMEM;
        break;
      }
      memcpy(x->name, row[0] ? row[0] : "", lens[0]);
      x->name[lens[0]] = 0;
      rc_buf k = {0};
      rc_buf_json_str(&k, x->name, lens[0]);
      rc_buf_putc(&k, ':');
      x->key = k.p;
      x->key_len = (uint32_t)k.len;
    }
    x->is_signed = c->is_signed;
    if (rc_type_is_numeric(c->type) && c->is_signed < 0) x->is_signed = strstr(ctype, "unsigned") ? 0 : 1;
    if (rc_type_has_labels(c->type) && !c->labels) {
      if (strncasecmp(ctype, c->type == RC_T_ENUM ? "enum(" : "set(", c->type == RC_T_ENUM ? 5 : 4) ||
          rc_sql_labels_parse(ctype, &x->labels, &x->label_lens, &x->n_labels) < 0) {
        rc = rc_errf(RC_ERR_ARG, es, esz,
                     "column %u of `%s`.`%s` is %s in its TABLE_MAP but %s in information_schema "
                     "(its definition changed since the event was written)",
                     i + 1, t->db, t->name, c->type == RC_T_ENUM ? "an ENUM" : "a SET", ctype);
        break;
      }
    }
    x->pk = t->has_pk ? c->pk : (row[2] && !strcmp(row[2], "PRI"));
    /* the charset of a character column (binary ones have none there: 63, binary) */
    x->collation = c->collation ? c->collation : row[3] ? (uint16_t)atoi(row[3]) : 63;
    i++;
  }
  mysql_free_result(res);
  if (rc == RC_ERR_NOMEM) rc = rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  if (rc < 0) {
    col_info_free(ci, nrows);
    return rc;
  }
  /* all found: move them into t */
  for (i = 0; i < nrows; i++) {
    rc_column *c = &t->cols[i];
    col_info *x = &ci[i];
    if (x->name) {
      free(c->name);
      free(c->key);
      c->name = x->name;
      c->key = x->key;
      c->key_len = x->key_len;
      x->name = x->key = NULL;
    }
    c->is_signed = x->is_signed;
    if (x->labels) {
      c->labels = x->labels;
      c->label_lens = x->label_lens;
      c->n_labels = x->n_labels;
      x->labels = NULL;
      x->label_lens = NULL;
      x->n_labels = 0;
    }
    c->pk = x->pk;
    c->collation = x->collation;
  }
  t->has_names = 1;
  t->has_pk = 1;
  t->has_charsets = 1;
  col_info_free(ci, nrows);
  return 0;
}

/* ---- status and end ----------------------------------------------------------------------- */

