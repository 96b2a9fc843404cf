/*
 * row_project.c: column filters applied to a table and its row images (row_project.h):
 * the projected table, the image projection, and the masking (HMAC-SHA256 with OpenSSL's
 * libcrypto, through the EVP_MAC interface: the key is set once per table version, each value
 * re-initialises the keyed context).
 */
#include "row_project.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "charset.h"
#include "rc_err.h"
#include "row_json.h"

#define HEX_LEN 64 /* SHA-256: 32 bytes, as hex */

struct rc_project {
  rc_table *orig;   /* a copy of the table, for the text of masked values */
  rc_table *view;   /* the projected table */
  uint32_t *src;    /* view column i is orig column src[i] */
  uint32_t nmasked;
  rc_value *img[2]; /* projected images, view->ncols each */
  char *hex[2];     /* HEX_LEN bytes per view column, per slot */
  rc_buf text;
  EVP_MAC *alg;
  EVP_MAC_CTX *mac;
};

static const char *col_name(const rc_column *c) { return c->name ? c->name : "(unnamed)"; }

/* Forget a column's strings (an excluded column of the view). */
static void col_free(rc_column *c) {
  free(c->name);
  free(c->key);
  for (uint32_t k = 0; k < c->n_labels; k++) free(c->labels[k]);
  free(c->labels);
  free(c->label_lens);
  c->name = c->key = NULL;
  c->labels = NULL;
  c->label_lens = NULL;
  c->n_labels = 0;
}

/* A masked column of the view: a nullable string in UTF-8, nothing of its old type's details. */
static void col_mask(rc_column *c) {
  for (uint32_t k = 0; k < c->n_labels; k++) free(c->labels[k]);
  free(c->labels);
  free(c->label_lens);
  c->labels = NULL;
  c->label_lens = NULL;
  c->n_labels = 0;
  c->cs_kind = RC_CS_UTF8;
  c->iconv_cd = NULL;
  c->collation = 0;
  c->is_signed = -1;
  c->masked = 1;
}

void rc_project_free(rc_project *p) {
  if (!p) return;
  rc_table_free(p->orig);
  rc_table_free(p->view);
  free(p->src);
  for (int s = 0; s < 2; s++) {
    free(p->img[s]);
    free(p->hex[s]);
  }
  rc_buf_free(&p->text);
  EVP_MAC_CTX_free(p->mac);
  EVP_MAC_free(p->alg);
  free(p);
}

static int mac_open(rc_project *p, const uint8_t *key, size_t key_len, char *errstr, size_t es) {
  OSSL_PARAM params[2];
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
  params[1] = OSSL_PARAM_construct_end();
  if (!(p->alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(p->mac = EVP_MAC_CTX_new(p->alg)) ||
      !EVP_MAC_init(p->mac, key, key_len, params))
    return rc_errf(RC_ERR_UNSUPPORTED, errstr, es, "OpenSSL's libcrypto cannot set up HMAC-SHA256");
  return 0;
}

int rc_project_new(const rc_table *t, const uint8_t *actions, const uint8_t *key, size_t key_len, rc_project **out,
                   char *errstr, size_t es) {
  *out = NULL;
  for (uint32_t i = 0; i < t->ncols; i++) {
    if (actions[i] == RC_PROJECT_EXCLUDE && t->has_pk && t->cols[i].pk)
      return rc_errf(RC_ERR_ARG, errstr, es,
                     "%s.%s: column %s is part of the primary key: filter.exclude_columns cannot leave it out "
                     "(the message key would change meaning); mask it with filter.mask_columns instead",
                     t->db, t->name, col_name(&t->cols[i]));
    if (actions[i] == RC_PROJECT_MASK && (!key || !key_len))
      return rc_errf(RC_ERR_ARG, errstr, es, "%s.%s: column %s is to be masked, but there is no key (filter.mask_key_file)",
                     t->db, t->name, col_name(&t->cols[i]));
  }
  rc_project *p = calloc(1, sizeof *p);
  size_t n = t->ncols ? t->ncols : 1;
  if (!p || !(p->orig = rc_table_dup(t)) || !(p->view = rc_table_dup(t)) || !(p->src = calloc(n, sizeof *p->src)) ||
      !(p->img[0] = calloc(n, sizeof *p->img[0])) || !(p->img[1] = calloc(n, sizeof *p->img[1])) ||
      !(p->hex[0] = malloc(n * HEX_LEN)) || !(p->hex[1] = malloc(n * HEX_LEN))) {
    rc_project_free(p);
    return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  }
  rc_table *v = p->view;
  uint32_t k = 0;
  for (uint32_t i = 0; i < t->ncols; i++) {
    if (actions[i] == RC_PROJECT_EXCLUDE) {
      col_free(&v->cols[i]);
      continue;
    }
    if (actions[i] == RC_PROJECT_MASK) {
      col_mask(&v->cols[i]);
      p->nmasked++;
    }
    v->cols[k] = v->cols[i];
    p->src[k++] = i;
  }
  v->ncols = k;
  v->sig_known = 0;
  if (p->nmasked && mac_open(p, key, key_len, errstr, es) < 0) {
    rc_project_free(p);
    return RC_ERR_UNSUPPORTED;
  }
  *out = p;
  return 0;
}

int rc_project_for(const rc_table *t, rc_project_action_fn action, void *ctx, const uint8_t *key, size_t key_len,
                   rc_project **out, char *errstr, size_t es) {
  *out = NULL;
  uint8_t *a = malloc(t->ncols ? t->ncols : 1);
  if (!a) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  int any = 0;
  for (uint32_t k = 0; k < t->ncols; k++) {
    const char *name = t->cols[k].name;
    char num[16];
    if (!name) {
      snprintf(num, sizeof num, "@%u", k + 1);
      name = num;
    }
    a[k] = (uint8_t)action(ctx, t->db, t->name, name);
    any |= a[k] != RC_PROJECT_KEEP;
  }
  int r = any ? rc_project_new(t, a, key, key_len, out, errstr, es) : 0;
  free(a);
  return r;
}

const rc_table *rc_project_table(const rc_project *p) { return p->view; }

int rc_project_value_text(rc_buf *b, const rc_column *col, const rc_value *v, char *errstr, size_t es) {
  int kind = col->cs_kind == RC_CS_UNKNOWN ? RC_CS_UTF8 : col->cs_kind;
  switch (v->kind) {
  case RC_V_STRING: /* text: the JSON string's content; bytes (or text not valid in its charset): base64 */
    if (col->cs_kind != RC_CS_BINARY && col->cs_kind != RC_CS_UNKNOWN &&
        rc_charset_utf8(b, col->cs_kind, col->iconv_cd, v->v.s.p, v->v.s.len) == 0)
      return 0;
    break;
  case RC_V_ENUM:
    if (!col->labels || v->v.u > col->n_labels) break;
    if (v->v.u == 0) return 0; /* the empty error value: "" */
    if (rc_charset_utf8(b, kind, col->iconv_cd, (const uint8_t *)col->labels[v->v.u - 1], col->label_lens[v->v.u - 1]) < 0)
      rc_buf_utf8_clean(b, col->labels[v->v.u - 1], col->label_lens[v->v.u - 1]); /* as the JSON does */
    return 0;
  case RC_V_SET: {
    if (!col->labels || (col->n_labels < 64 && (v->v.u >> col->n_labels))) break;
    rc_buf joined = {0}; /* the labels joined, then converted once, as the JSON does */
    for (uint32_t k = 0; k < col->n_labels && k < 64; k++) {
      if (!((v->v.u >> k) & 1)) continue;
      if (joined.len) rc_buf_putc(&joined, ',');
      rc_buf_put(&joined, col->labels[k], col->label_lens[k]);
    }
    if (rc_charset_utf8(b, kind, col->iconv_cd, (const uint8_t *)joined.p, joined.len) < 0)
      rc_buf_utf8_clean(b, joined.p, joined.len);
    rc_buf_free(&joined);
    return 0;
  }
  default:
    break;
  }
  /* anything else: its JSON text; a JSON string of it (base64, a decimal, a date) holds no
   * escapes, so its content is the text between the quotes */
  size_t start = b->len;
  int r = rc_json_value(b, col, v, errstr, es);
  if (r < 0) return r;
  if (b->len - start >= 2 && b->p[start] == '"') {
    memmove(b->p + start, b->p + start + 1, b->len - start - 2);
    b->len -= 2;
  }
  return 0;
}

/* The mask of one value into hex (HEX_LEN bytes). */
static int mask_value(rc_project *p, const rc_column *col, const rc_value *v, char *hex, char *errstr, size_t es) {
  p->text.len = 0;
  int r = rc_project_value_text(&p->text, col, v, errstr, es);
  if (r < 0) return r;
  unsigned char md[EVP_MAX_MD_SIZE];
  size_t mdlen = 0;
  if (!EVP_MAC_init(p->mac, NULL, 0, NULL) || !EVP_MAC_update(p->mac, (const unsigned char *)p->text.p, p->text.len) ||
      !EVP_MAC_final(p->mac, md, &mdlen, sizeof md) || mdlen * 2 != HEX_LEN)
    return rc_errf(RC_ERR_UNSUPPORTED, errstr, es, "column %s: HMAC-SHA256 failed in libcrypto", col_name(col));
  static const char hx[] = "0123456789abcdef";
  for (size_t i = 0; i < mdlen; i++) {
    hex[2 * i] = hx[md[i] >> 4];
    hex[2 * i + 1] = hx[md[i] & 15];
  }
  return 0;
}

int rc_project_image(rc_project *p, int slot, const rc_value *img, const rc_value **out, char *errstr, size_t es) {
  if (!img) {
    *out = NULL;
    return 0;
  }
  rc_value *o = p->img[slot];
  const rc_table *v = p->view;
  for (uint32_t i = 0; i < v->ncols; i++) {
    const rc_value *x = &img[p->src[i]];
    if (!v->cols[i].masked || x->kind == RC_V_NULL || x->kind == RC_V_ABSENT) {
      o[i] = *x;
      continue;
    }
    char *hex = p->hex[slot] + (size_t)i * HEX_LEN;
    int r = mask_value(p, &p->orig->cols[p->src[i]], x, hex, errstr, es);
    if (r < 0) return r;
    memset(&o[i], 0, sizeof o[i]);
    o[i].kind = RC_V_STRING;
    o[i].v.s.p = (const uint8_t *)hex;
    o[i].v.s.len = HEX_LEN;
  }
  *out = o;
  return 0;
}
