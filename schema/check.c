/*
 * check.c: a TABLE_MAP against the table version the schema history holds for its position:
 * the column count, each column's binlog type and the metadata the binlog carries (lengths,
 * precision and scale, fractional seconds, ENUM/SET pack lengths, BIT widths, names when
 * present), so a version that does not describe the rows is caught before a row is decoded with
 * it; and the TABLE_MAP completed with the version's names, signedness, charsets, labels and
 * primary key (rc_table_map_enrich does the bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tracker_int.h"

static int is(const char *a, const char *b) { return !strcmp(a, b); }

/* The binlog types a column of this information_schema DATA_TYPE may have in a TABLE_MAP
 * (STRING already resolved to its real type by the parser). 0 ends the list; an empty list
 * means any (a type this check does not know). */
static void expected_types(const sc_col *c, uint8_t out[4]) {
  const char *d = c->data_type;
  memset(out, 0, 4);
  if (is(d, "tinyint")) out[0] = RC_T_TINY;
  else if (is(d, "smallint")) out[0] = RC_T_SHORT;
  else if (is(d, "mediumint")) out[0] = RC_T_INT24;
  else if (is(d, "int")) out[0] = RC_T_LONG;
  else if (is(d, "bigint")) out[0] = RC_T_LONGLONG;
  else if (is(d, "float")) out[0] = RC_T_FLOAT;
  else if (is(d, "double")) out[0] = RC_T_DOUBLE;
  else if (is(d, "decimal")) out[0] = RC_T_NEWDECIMAL;
  else if (is(d, "date")) out[0] = RC_T_DATE, out[1] = RC_T_NEWDATE;
  else if (is(d, "datetime")) out[0] = RC_T_DATETIME2, out[1] = RC_T_DATETIME;
  else if (is(d, "timestamp")) out[0] = RC_T_TIMESTAMP2, out[1] = RC_T_TIMESTAMP;
  else if (is(d, "time")) out[0] = RC_T_TIME2, out[1] = RC_T_TIME;
  else if (is(d, "year")) out[0] = RC_T_YEAR;
  else if (is(d, "char") || is(d, "binary")) out[0] = RC_T_STRING;
  else if (is(d, "varchar") || is(d, "varbinary")) out[0] = RC_T_VARCHAR, out[1] = RC_T_VAR_STRING;
  else if (strstr(d, "text") || strstr(d, "blob")) out[0] = RC_T_BLOB, out[1] = RC_T_JSON; /* MySQL JSON: LONGTEXT here */
  else if (is(d, "json")) out[0] = RC_T_JSON, out[1] = RC_T_BLOB;
  else if (is(d, "enum")) out[0] = RC_T_ENUM;
  else if (is(d, "set")) out[0] = RC_T_SET;
  else if (is(d, "bit")) out[0] = RC_T_BIT;
  else if (strstr(d, "point") || strstr(d, "geometry") || strstr(d, "linestring") || strstr(d, "polygon"))
    out[0] = RC_T_GEOMETRY;
}

/* The length-prefix size of a BLOB/TEXT type. */
static uint32_t blob_prefix(const char *d) {
  if (!strncmp(d, "tiny", 4)) return 1;
  if (!strncmp(d, "medium", 6)) return 3;
  if (!strncmp(d, "long", 4)) return 4;
  return 2;
}

/* Does the metadata of binlog column b agree with c? 0, or 1 with why set. */
static int meta_differs(const rc_column *b, const sc_col *c, char *why, size_t n) {
  switch (b->type) {
  case RC_T_NEWDECIMAL:
    if (b->precision != c->precision || b->scale != c->scale)
      return snprintf(why, n, "DECIMAL(%u,%u) in the binlog, %s in the schema", b->precision, b->scale,
                      c->column_type), 1;
    break;
  case RC_T_DATETIME2: case RC_T_TIMESTAMP2: case RC_T_TIME2:
    if (b->fsp != c->dt_precision)
      return snprintf(why, n, "fractional seconds %u in the binlog, %s in the schema", b->fsp, c->column_type), 1;
    break;
  case RC_T_VARCHAR: case RC_T_VAR_STRING: case RC_T_STRING:
    if (c->octet_len && b->length != c->octet_len && !is(c->data_type, "char")) /* CHAR: the engine may store less */
      return snprintf(why, n, "%u bytes in the binlog, %s (%llu bytes) in the schema", b->length, c->column_type,
                      (unsigned long long)c->octet_len), 1;
    break;
  case RC_T_BLOB:
    if (strstr(c->data_type, "text") || strstr(c->data_type, "blob"))
      if (b->length != blob_prefix(c->data_type))
        return snprintf(why, n, "a %u-byte length BLOB in the binlog, %s in the schema", b->length, c->column_type), 1;
    break;
  case RC_T_ENUM:
    if (b->length != (c->n_labels < 256 ? 1u : 2u))
      return snprintf(why, n, "an ENUM of %u bytes in the binlog, %s in the schema", b->length, c->column_type), 1;
    break;
  case RC_T_SET: {
    uint32_t bytes = (c->n_labels + 7) / 8;
    if (bytes > 4) bytes = 8;
    if (b->length != bytes)
      return snprintf(why, n, "a SET of %u bytes in the binlog, %s in the schema", b->length, c->column_type), 1;
    break;
  }
  case RC_T_BIT:
    if (c->precision && b->length != c->precision)
      return snprintf(why, n, "BIT(%u) in the binlog, %s in the schema", b->length, c->column_type), 1;
    break;
  default:
    break;
  }
  if (b->labels && c->n_labels != b->n_labels)
    return snprintf(why, n, "%u labels in the binlog, %s in the schema", b->n_labels, c->column_type), 1;
  return 0;
}

int sc_check(const rc_table *t, const sc_version *v, char *why, size_t n) {
  if (t->ncols != v->ncols) {
    snprintf(why, n, "the binlog's TABLE_MAP has %u columns, the schema version %u", t->ncols, v->ncols);
    return 1;
  }
  for (uint32_t i = 0; i < t->ncols; i++) {
    const rc_column *b = &t->cols[i];
    const sc_col *c = &v->cols[i];
    uint8_t ok[4];
    expected_types(c, ok);
    int match = ok[0] == 0;
    for (int k = 0; k < 4 && ok[k]; k++) match |= ok[k] == b->type;
    char sub[300];
    if (!match) {
      snprintf(why, n, "column %u (`%s`) is %s in the binlog's TABLE_MAP but %s in the schema version", i + 1, c->name,
               rc_type_desc_of(b->type)->code ? rc_type_desc_of(b->type)->code : "an unknown type", c->column_type);
      return 1;
    }
    if (meta_differs(b, c, sub, sizeof sub)) {
      snprintf(why, n, "column %u (`%s`): %s", i + 1, c->name, sub);
      return 1;
    }
    if (b->name && strcmp(b->name, c->name)) {
      snprintf(why, n, "column %u is `%s` in the binlog's TABLE_MAP but `%s` in the schema version", i + 1, b->name,
               c->name);
      return 1;
    }
  }
  return 0;
}

int sc_enrich(const rc_event *ev, const rc_table *t, const sc_version *v, int is_mariadb, rc_buf *out) {
  rc_table *full = calloc(1, sizeof *full);
  if (!full || !(full->cols = calloc(v->ncols, sizeof *full->cols))) {
    free(full);
    return RC_ERR_NOMEM;
  }
  full->ncols = v->ncols;
  full->has_names = full->has_pk = full->has_charsets = full->is_numeric_known = 1;
  int rc = 0;
  for (uint32_t i = 0; i < v->ncols && rc == 0; i++) {
    const sc_col *c = &v->cols[i];
    rc_column *x = &full->cols[i];
    x->type = t->cols[i].type;
    x->name = strdup(c->name);
    x->is_signed = c->is_signed < 0 ? 1 : c->is_signed;
    x->pk = c->pk;
    x->collation = c->collation ? c->collation : 63;
    if (c->n_labels) {
      x->labels = calloc(c->n_labels, sizeof *x->labels);
      x->label_lens = calloc(c->n_labels, sizeof *x->label_lens);
      if (!x->labels || !x->label_lens) {
        rc = RC_ERR_NOMEM;
        break;
      }
      x->n_labels = c->n_labels;
      for (uint32_t k = 0; k < c->n_labels; k++) {
        x->labels[k] = malloc(c->label_lens[k] + 1);
        if (!x->labels[k]) {
          rc = RC_ERR_NOMEM;
          break;
        }
        memcpy(x->labels[k], c->labels[k], c->label_lens[k] + 1);
        x->label_lens[k] = c->label_lens[k];
      }
    }
    if (!x->name) rc = RC_ERR_NOMEM;
  }
  if (rc == 0) rc = rc_table_map_enrich(ev, t, full, is_mariadb, out);
  rc_table_free(full);
  return rc;
}
