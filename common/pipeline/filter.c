/*
 * filter.c: table and column patterns (filter.h): parsing a comma-separated list into
 * patterns of dot-separated parts, matching each part with fnmatch(3), and the filter the
 * filter.* keys describe.
 */
#include "filter.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rc_err.h"

#define MAX_PARTS 3
#define MASK_KEY_MAX 4096 /* bytes of a key file: an HMAC key longer than a block is hashed anyway */

typedef struct {
  char *part[MAX_PARTS]; /* NUL-terminated copies */
} pattern;

struct rc_patterns {
  pattern *p;
  size_t n;
  int parts;
};

struct rc_filter {
  rc_patterns *include, *exclude, *exclude_columns, *mask_columns;
  uint8_t *key;
  size_t key_len;
};

void rc_patterns_free(rc_patterns *p) {
  if (!p) return;
  for (size_t i = 0; i < p->n; i++)
    for (int k = 0; k < p->parts; k++) free(p->p[i].part[k]);
  free(p->p);
  free(p);
}

size_t rc_patterns_count(const rc_patterns *p) { return p ? p->n : 0; }

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* One element s[0..n) (blanks already trimmed) into pattern pt. */
static int parse_one(pattern *pt, const char *s, size_t n, int parts, char *errstr, size_t es) {
  int k = 0;
  size_t start = 0;
  const char *what = parts == 2 ? "DB.TABLE" : "DB.TABLE.COLUMN";
  for (size_t i = 0; i <= n; i++) {
    if (i < n && s[i] == '\\' && i + 1 < n) { /* a quoted character, a dot among them */
      i++;
      continue;
    }
    if (i < n && s[i] != '.') continue;
    if (k == parts)
      return rc_errf(RC_ERR_ARG, errstr, es, "pattern '%.*s' has more than %d dots; a pattern is %s", (int)n, s,
                     parts - 1, what);
    if (i == start)
      return rc_errf(RC_ERR_ARG, errstr, es, "pattern '%.*s' has an empty part; a pattern is %s (use * for any)",
                     (int)n, s, what);
    if (!(pt->part[k] = malloc(i - start + 1))) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
    memcpy(pt->part[k], s + start, i - start);
    pt->part[k][i - start] = '\0';
    k++;
    start = i + 1;
  }
  if (k != parts)
    return rc_errf(RC_ERR_ARG, errstr, es, "pattern '%.*s' has %d dot%s; a pattern is %s", (int)n, s, k - 1,
                   k == 2 ? "" : "s", what);
  return 0;
}

int rc_patterns_parse(rc_patterns **out, const char *list, int parts, char *errstr, size_t es) {
  *out = NULL;
  if (parts < 1 || parts > MAX_PARTS) return rc_errf(RC_ERR_ARG, errstr, es, "internal: %d parts", parts);
  rc_patterns *p = calloc(1, sizeof *p);
  if (!p) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  p->parts = parts;
  const char *s = list ? list : "";
  while (is_blank(*s)) s++;
  int r = 0;
  if (*s) {
    for (;;) {
      size_t n = strcspn(s, ",");
      const char *b = s, *e = s + n;
      while (b < e && is_blank(*b)) b++;
      while (e > b && is_blank(e[-1])) e--;
      if (b == e) {
        r = rc_errf(RC_ERR_ARG, errstr, es, "an empty pattern at character %zu of '%s' (two commas, or one at an end)",
                    (size_t)(s - list) + 1, list);
        break;
      }
      pattern *np = realloc(p->p, (p->n + 1) * sizeof *np);
      if (!np) {
        r = rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
        break;
      }
      p->p = np;
      memset(&p->p[p->n], 0, sizeof p->p[p->n]);
      p->n++;
      if ((r = parse_one(&p->p[p->n - 1], b, (size_t)(e - b), parts, errstr, es)) < 0) break;
      if (!s[n]) break;
      s += n + 1;
    }
  }
  if (r < 0) {
    rc_patterns_free(p);
    return r;
  }
  *out = p;
  return 0;
}

int rc_patterns_match(const rc_patterns *p, const char *const *names) {
  if (!p) return 0;
  for (size_t i = 0; i < p->n; i++) {
    int k = 0;
    while (k < p->parts && fnmatch(p->p[i].part[k], names[k] ? names[k] : "", 0) == 0) k++;
    if (k == p->parts) return 1;
  }
  return 0;
}

static int check_list(const char *list, int parts, char *errstr, size_t es) {
  rc_patterns *p;
  int r = rc_patterns_parse(&p, list, parts, errstr, es);
  rc_patterns_free(p);
  return r;
}

int rc_filter_check_tables(const char *list, char *errstr, size_t es) { return check_list(list, 2, errstr, es); }
int rc_filter_check_columns(const char *list, char *errstr, size_t es) { return check_list(list, 3, errstr, es); }

void rc_filter_free(rc_filter *f) {
  if (!f) return;
  rc_patterns_free(f->include);
  rc_patterns_free(f->exclude);
  rc_patterns_free(f->exclude_columns);
  rc_patterns_free(f->mask_columns);
  free(f->key);
  free(f);
}

int rc_filter_parse(rc_filter **out, const char *include, const char *exclude, const char *exclude_columns,
                    const char *mask_columns, const uint8_t *key, size_t key_len, char *errstr, size_t es) {
  *out = NULL;
  rc_filter *f = calloc(1, sizeof *f);
  if (!f) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
  char inner[512];
  int r = 0;
  const char *bad = NULL;
  if ((r = rc_patterns_parse(&f->include, include, 2, inner, sizeof inner)) < 0) bad = "filter.include";
  else if ((r = rc_patterns_parse(&f->exclude, exclude, 2, inner, sizeof inner)) < 0) bad = "filter.exclude";
  else if ((r = rc_patterns_parse(&f->exclude_columns, exclude_columns, 3, inner, sizeof inner)) < 0)
    bad = "filter.exclude_columns";
  else if ((r = rc_patterns_parse(&f->mask_columns, mask_columns, 3, inner, sizeof inner)) < 0)
    bad = "filter.mask_columns";
  if (bad) {
    rc_filter_free(f);
    return rc_errf(r, errstr, es, "%s: %s", bad, inner);
  }
  if (f->mask_columns->n) {
    if (!key || !key_len) {
      rc_filter_free(f);
      return rc_errf(RC_ERR_ARG, errstr, es,
                     "filter.mask_columns is set but filter.mask_key_file is not: masking needs a key file");
    }
    if (!(f->key = malloc(key_len))) {
      rc_filter_free(f);
      return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
    }
    memcpy(f->key, key, key_len);
    f->key_len = key_len;
  }
  *out = f;
  return 0;
}

/* The key of a key file: its bytes without one trailing newline (LF or CRLF). */
static int read_key(const char *path, uint8_t *key, size_t *len, char *errstr, size_t es) {
  FILE *fp = fopen(path, "rb");
  if (!fp)
    return rc_errf(RC_ERR_ARG, errstr, es, "filter.mask_key_file: cannot open %s: %s", path, strerror(errno));
  size_t n = fread(key, 1, MASK_KEY_MAX, fp);
  int more = fgetc(fp) != EOF, err = ferror(fp);
  fclose(fp);
  if (err) return rc_errf(RC_ERR_ARG, errstr, es, "filter.mask_key_file: cannot read %s", path);
  if (more)
    return rc_errf(RC_ERR_ARG, errstr, es, "filter.mask_key_file: %s is longer than %d bytes", path, MASK_KEY_MAX);
  if (n && key[n - 1] == '\n') n--;
  if (n && key[n - 1] == '\r') n--;
  if (!n) return rc_errf(RC_ERR_ARG, errstr, es, "filter.mask_key_file: %s is empty: the key must not be", path);
  *len = n;
  return 0;
}

int rc_filter_from_config(rc_filter **out, const rc_config *c, char *errstr, size_t es) {
  *out = NULL;
  const char *mask = rc_config_str(c, "filter.mask_columns"), *path = rc_config_str(c, "filter.mask_key_file");
  static uint8_t key[MASK_KEY_MAX]; /* stages are single-threaded; wiped below */
  size_t key_len = 0;
  int r = 0;
  if (mask[0] && path[0]) r = read_key(path, key, &key_len, errstr, es);
  if (r == 0)
    r = rc_filter_parse(out, rc_config_str(c, "filter.include"), rc_config_str(c, "filter.exclude"),
                        rc_config_str(c, "filter.exclude_columns"), mask, key, key_len, errstr, es);
  memset(key, 0, key_len);
  return r;
}

int rc_filter_table(const rc_filter *f, const char *db, const char *table) {
  if (!f) return 1;
  const char *names[2] = {db, table};
  if (f->include->n && !rc_patterns_match(f->include, names)) return 0;
  return !rc_patterns_match(f->exclude, names);
}

int rc_filter_has_tables(const rc_filter *f) { return f && (f->include->n || f->exclude->n); }

int rc_filter_has_columns(const rc_filter *f) { return f && (f->exclude_columns->n || f->mask_columns->n); }

int rc_filter_column(const rc_filter *f, const char *db, const char *table, const char *column) {
  if (!f) return RC_FILTER_KEEP;
  const char *names[3] = {db, table, column};
  if (rc_patterns_match(f->exclude_columns, names)) return RC_FILTER_EXCLUDE;
  if (rc_patterns_match(f->mask_columns, names)) return RC_FILTER_MASK;
  return RC_FILTER_KEEP;
}

const uint8_t *rc_filter_mask_key(const rc_filter *f, size_t *len) {
  *len = f ? f->key_len : 0;
  return f ? f->key : NULL;
}
