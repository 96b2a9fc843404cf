/*
 * config.c: checking, storage, lookup and printing of rowcast's configuration (see config.h),
 * driven by the key table in config_keys.c (config_int.h). Help, docs, rc_config_write() and
 * the unit tests follow from the table.
 *
 * The INI syntax is libinih's. We read lines ourselves (ini_parse_stream) to know the line of
 * every error and to refuse over-long lines instead of letting inih split them, and we set
 * Debian libinih's run-time switches around each parse: no multi-line values (an indented
 * "key = value" is a plain key), stop at the first error, lines up to RC_CONFIG_LINE_MAX.
 */
#include "config.h"

#include "buf.h"
#include "config_int.h"
#include "rc_err.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- the config --------------------------------------------------------------------------- */

typedef struct {
  char *key; /* without "kafka." */
  char *value;
} kafka_prop;

struct rc_config {
  int64_t num[RC_CONFIG_NKEYS]; /* KT_INT, KT_BYTES, KT_MS, KT_BOOL */
  char *str[RC_CONFIG_NKEYS];   /* KT_STRING, KT_ENUM (NULL for the others) */
  kafka_prop *kafka;
  size_t nkafka, kafka_cap;
};

static bool is_str_type(key_type t) { return t == KT_STRING || t == KT_ENUM; }

static int find_key(const char *name) {
  for (size_t i = 0; i < RC_CONFIG_NKEYS; i++)
    if (strcmp(rc_config_keys[i].name, name) == 0) return (int)i;
  return -1;
}

int rc_config_is_secret(const char *key) {
  if (!strcmp(key, "source.password")) return 1;
  if (strncmp(key, KAFKA_PREFIX, strlen(KAFKA_PREFIX))) return 0;
  return strstr(key, "password") || strstr(key, "secret"); /* sasl.password, ssl.key.password... */
}

/* The value as error messages show it: a secret never. */
static const char *shown(const char *key, const char *value) {
  return rc_config_is_secret(key) ? "(redacted)" : value;
}

static const char *type_name(key_type t) {
  switch (t) {
  case KT_INT: return "integer";
  case KT_BYTES: return "bytes";
  case KT_MS: return "milliseconds";
  case KT_BOOL: return "boolean";
  case KT_STRING: return "string";
  case KT_ENUM: return "enum";
  }
  return "?";
}

/* "4m" for 4 MiB: the shortest exact form of a byte count. */
static void format_bytes(int64_t v, char *buf, size_t size) {
  if (v != 0 && v % GIB == 0)
    snprintf(buf, size, "%lldg", (long long)(v / GIB));
  else if (v != 0 && v % MIB == 0)
    snprintf(buf, size, "%lldm", (long long)(v / MIB));
  else if (v != 0 && v % KIB == 0)
    snprintf(buf, size, "%lldk", (long long)(v / KIB));
  else
    snprintf(buf, size, "%lld", (long long)v);
}

/* What a key accepts, in words: for errors, help and (md: Markdown) docs. */
static void describe_allowed(const key_def *k, bool md, char *buf, size_t size) {
  char lo[32], hi[32];
  switch (k->type) {
  case KT_INT:
    snprintf(buf, size, "%san integer from %lld to %lld", k->allowed ? "auto, or " : "", (long long)k->min,
             (long long)k->max);
    break;
  case KT_BYTES:
    format_bytes(k->min, lo, sizeof lo);
    format_bytes(k->max, hi, sizeof hi);
    snprintf(buf, size, "a size from %s to %s (bytes; suffixes k, m, g: KiB, MiB, GiB)", lo, hi);
    break;
  case KT_MS:
    snprintf(buf, size, "milliseconds from %lld to %lld", (long long)k->min, (long long)k->max);
    break;
  case KT_BOOL:
    snprintf(buf, size, "true or false (also yes/no, on/off, 1/0)");
    break;
  case KT_ENUM: {
    size_t n = (size_t)snprintf(buf, size, "one of ");
    for (const char *p = k->allowed; *p && n < size;) {
      size_t wl = strcspn(p, "|");
      n += (size_t)snprintf(buf + n, size - n, "%s%s%.*s%s", p == k->allowed ? "" : ", ",
                            md ? "`" : "", (int)wl, p, md ? "`" : "");
      p += wl;
      if (*p) p++;
    }
    break;
  }
  case KT_STRING: {
    size_t n;
    if (k->min > 0)
      n = (size_t)snprintf(buf, size, "%lld to %lld characters", (long long)k->min,
                           (long long)k->max);
    else
      n = (size_t)snprintf(buf, size, "at most %lld characters", (long long)k->max);
    if (k->allowed && n < size)
      snprintf(buf + n, size - n, md ? ", each in `[%s]`" : ", each in [%s]", k->allowed);
    break;
  }
  }
}

/* The value of key i as rc_config_write writes it. */
static void format_value(const rc_config *c, size_t i, char *buf, size_t size) {
  switch (rc_config_keys[i].type) {
  case KT_BYTES: format_bytes(c->num[i], buf, size); break;
  case KT_BOOL: snprintf(buf, size, "%s", c->num[i] ? "true" : "false"); break;
  case KT_STRING:
  case KT_ENUM: snprintf(buf, size, "%s", c->str[i]); break;
  default: snprintf(buf, size, "%lld", (long long)c->num[i]); break;
  }
}

/* A regex-like character class of letters ranges and literals: "a-zA-Z0-9._-". */
static bool in_class(const char *cls, unsigned char ch) {
  for (const char *p = cls; *p; p++) {
    if (p[1] == '-' && p[2]) {
      if (ch >= (unsigned char)p[0] && ch <= (unsigned char)p[2]) return true;
      p += 2;
    } else if (ch == (unsigned char)*p) {
      return true;
    }
  }
  return false;
}

/* Decimal digits with an optional sign, into *v; *end after them. 0, or -1 on no digits or
 * overflow (errno ERANGE). */
static int parse_digits(const char *s, int64_t *v, const char **end) {
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (!isdigit((unsigned char)*p)) return -1;
  errno = 0;
  char *e;
  long long x = strtoll(s, &e, 10);
  if (errno == ERANGE) return -1;
  *v = x;
  *end = e;
  return 0;
}

/* Parse `text` as the value of key i. Numbers into *num; 0 or RC_ERR_ARG with msg. */
static int parse_value(size_t i, const char *text, int64_t *num, char *msg, size_t msgsz) {
  const key_def *k = &rc_config_keys[i];
  char allowed[256];
  describe_allowed(k, false, allowed, sizeof allowed);
  const char *end = NULL;
  int64_t v = 0;

  switch (k->type) {
  case KT_BOOL:
    if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on") ||
        !strcmp(text, "1"))
      *num = 1;
    else if (!strcasecmp(text, "false") || !strcasecmp(text, "no") ||
             !strcasecmp(text, "off") || !strcmp(text, "0"))
      *num = 0;
    else
      return rc_errf(RC_ERR_ARG, msg, msgsz, "%s: '%s' is not a boolean; allowed: %s", k->name,
                     text, allowed);
    return 0;

  case KT_ENUM: {
    size_t len = strlen(text);
    for (const char *p = k->allowed; *p;) {
      size_t wl = strcspn(p, "|");
      if (wl == len && memcmp(p, text, len) == 0) return 0;
      p += wl;
      if (*p == '|') p++;
    }
    return rc_errf(RC_ERR_ARG, msg, msgsz, "%s: '%s' is not allowed; allowed: %s", k->name,
                   text, allowed);
  }

  case KT_STRING: {
    size_t len = strlen(text);
    const char *show = shown(k->name, text);
    if ((int64_t)len < k->min || (int64_t)len > k->max)
      return rc_errf(RC_ERR_ARG, msg, msgsz, "%s: '%.100s%s' has %zu characters; allowed: %s",
                     k->name, show, strlen(show) > 100 ? "..." : "", len, allowed);
    if (k->allowed)
      for (size_t j = 0; j < len; j++)
        if (!in_class(k->allowed, (unsigned char)text[j]))
          return rc_errf(RC_ERR_ARG, msg, msgsz,
                         "%s: '%.100s%s' holds the character '%c', not allowed; allowed: %s",
                         k->name, show, strlen(show) > 100 ? "..." : "", text[j], allowed);
    for (const key_check *kc = rc_config_checks; kc->name; kc++) {
      char inner[512];
      if (!strcmp(kc->name, k->name) && kc->check(text, inner, sizeof inner) < 0)
        return rc_errf(RC_ERR_ARG, msg, msgsz, "%s: %s", k->name, inner);
    }
    return 0;
  }

  case KT_INT:
  case KT_MS:
  case KT_BYTES:
    if (k->type == KT_INT && k->allowed && !strcmp(text, AUTO)) {
      *num = 0;
      return 0;
    }
    if (parse_digits(text, &v, &end) != 0) {
      if (errno == ERANGE) goto out_of_bounds;
      goto not_a_number;
    }
    if (k->type == KT_MS && strcmp(end, "ms") == 0) end += 2;
    if (k->type == KT_BYTES && *end && end[1] == 0) {
      int64_t mult = 0;
      switch (*end) {
      case 'k': case 'K': mult = KIB; break;
      case 'm': case 'M': mult = MIB; break;
      case 'g': case 'G': mult = GIB; break;
      }
      if (mult) {
        if (v > INT64_MAX / mult || v < INT64_MIN / mult) goto out_of_bounds;
        v *= mult;
        end++;
      }
    }
    if (*end) goto not_a_number;
    if (v < k->min || v > k->max) goto out_of_bounds;
    *num = v;
    return 0;
  }
  return rc_errf(RC_ERR_ARG, msg, msgsz, "%s: bad key type", k->name);

not_a_number:
  return rc_errf(RC_ERR_ARG, msg, msgsz, "%s: '%s' is not valid; allowed: %s", k->name, text,
                 allowed);
out_of_bounds:
  return rc_errf(RC_ERR_ARG, msg, msgsz, "%s: %s is out of bounds; allowed: %s", k->name, text,
                 allowed);
}

/* Can `value` be written as "name = value" and read back unchanged by inih? (one line, no
 * blanks at the ends, nothing inih takes for an inline comment: ';' first or after a blank) */
static int check_writable(const char *key, const char *value, char *msg, size_t msgsz) {
  size_t len = strlen(value);
  for (size_t j = 0; j < len; j++) {
    unsigned char ch = (unsigned char)value[j];
    if (ch == '\n' || ch == '\r')
      return rc_errf(RC_ERR_ARG, msg, msgsz,
                     "%s: the value holds a line break; a config value must fit on one line",
                     key);
    if (ch == ';' && (j == 0 || isspace((unsigned char)value[j - 1])))
      return rc_errf(RC_ERR_ARG, msg, msgsz,
                     "%s: the value holds ';' %s, which the config file format reads as the "
                     "start of a comment",
                     key, j == 0 ? "first" : "after a blank");
  }
  if (len && (isspace((unsigned char)value[0]) || isspace((unsigned char)value[len - 1])))
    return rc_errf(RC_ERR_ARG, msg, msgsz, "%s: the value starts or ends with a blank", key);
  const char *dot = strchr(key, '.'); /* written as "name = value" under [section] */
  if (len + strlen(dot ? dot + 1 : key) + 3 > RC_CONFIG_LINE_MAX)
    return rc_errf(RC_ERR_ARG, msg, msgsz,
                   "%s: the value is %zu characters long; a config line holds at most %d", key,
                   len, RC_CONFIG_LINE_MAX);
  return 0;
}

/* Edit distance, for "did you mean". */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 127 || lb > 127) return (size_t)-1;
  size_t row[128];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t up = row[j];
      size_t best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

static int unknown_key(const char *key, char *msg, size_t msgsz) {
  const char *best = NULL;
  size_t best_d = 4; /* suggest only close names */
  for (size_t i = 0; i < RC_CONFIG_NKEYS; i++) {
    size_t d = edit_distance(key, rc_config_keys[i].name);
    const char *dot = strchr(rc_config_keys[i].name, '.');
    if (dot && strcmp(key, dot + 1) == 0) d = 0; /* "max_changes" written without its section */
    if (d < best_d) {
      best_d = d;
      best = rc_config_keys[i].name;
    }
  }
  if (best)
    return rc_errf(RC_ERR_ARG, msg, msgsz,
                   "unknown key '%s' (did you mean '%s'?); 'rowcast config --help' lists every "
                   "key",
                   key, best);
  return rc_errf(RC_ERR_ARG, msg, msgsz,
                 "unknown key '%s'; 'rowcast config --help' lists every key", key);
}

static char *dup_trimmed(const char *s, size_t len) {
  while (len && isspace((unsigned char)*s)) s++, len--;
  while (len && isspace((unsigned char)s[len - 1])) len--;
  return strndup(s, len);
}

static int set_kafka(rc_config *c, const char *name, const char *value, const char *key,
                     char *msg, size_t msgsz) {
  if (!*name)
    return rc_errf(RC_ERR_ARG, msg, msgsz,
                   "'%s' names no librdkafka property; write e.g. kafka.bootstrap.servers", key);
  for (const char *p = name; *p; p++)
    if (!in_class(NAME_CHARS, (unsigned char)*p))
      return rc_errf(RC_ERR_ARG, msg, msgsz,
                     "'%s' is not a librdkafka property name: it holds '%c'; allowed: "
                     "[" NAME_CHARS "]",
                     key, *p);
  int err = check_writable(key, value, msg, msgsz);
  if (err) return err;
  char *v = strdup(value);
  if (!v) return rc_errf(RC_ERR_NOMEM, msg, msgsz, "out of memory");
  for (size_t i = 0; i < c->nkafka; i++)
    if (strcmp(c->kafka[i].key, name) == 0) {
      free(c->kafka[i].value);
      c->kafka[i].value = v;
      return 0;
    }
  if (c->nkafka == c->kafka_cap) {
    size_t cap = c->kafka_cap ? 2 * c->kafka_cap : 8;
    kafka_prop *kp = realloc(c->kafka, cap * sizeof *kp);
    if (!kp) {
      free(v);
      return rc_errf(RC_ERR_NOMEM, msg, msgsz, "out of memory");
    }
    c->kafka = kp;
    c->kafka_cap = cap;
  }
  char *k = strdup(name);
  if (!k) {
    free(v);
    return rc_errf(RC_ERR_NOMEM, msg, msgsz, "out of memory");
  }
  c->kafka[c->nkafka].key = k;
  c->kafka[c->nkafka].value = v;
  c->nkafka++;
  return 0;
}

/* rc_config_set with a value already trimmed. */
static int set_trimmed(rc_config *c, const char *key, const char *value, char *msg,
                       size_t msgsz) {
  if (strncmp(key, KAFKA_PREFIX, strlen(KAFKA_PREFIX)) == 0)
    return set_kafka(c, key + strlen(KAFKA_PREFIX), value, key, msg, msgsz);
  if (strcmp(key, "kafka") == 0)
    return rc_errf(RC_ERR_ARG, msg, msgsz,
                   "'kafka' names no librdkafka property; write e.g. kafka.bootstrap.servers");
  int i = find_key(key);
  if (i < 0) return unknown_key(key, msg, msgsz);
  int64_t num = 0;
  int err = parse_value((size_t)i, value, &num, msg, msgsz);
  if (err) return err;
  if (!is_str_type(rc_config_keys[i].type)) {
    c->num[i] = num;
    return 0;
  }
  if ((err = check_writable(key, value, msg, msgsz)) != 0) return err;
  char *s = strdup(value);
  if (!s) return rc_errf(RC_ERR_NOMEM, msg, msgsz, "out of memory");
  free(c->str[i]);
  c->str[i] = s;
  return 0;
}

int rc_config_set(rc_config *c, const char *key, const char *value, char *errstr,
                  size_t errstr_size) {
  char *v = dup_trimmed(value, strlen(value));
  if (!v) return rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "out of memory");
  int err = set_trimmed(c, key, v, errstr, errstr_size);
  free(v);
  return err;
}

int rc_config_set_arg(rc_config *c, const char *assignment, char *errstr, size_t errstr_size) {
  const char *eq = strchr(assignment, '=');
  if (!eq)
    return rc_errf(RC_ERR_ARG, errstr, errstr_size,
                   "-o %s: expected section.key=value, e.g. -o batch.max_changes=5000",
                   assignment);
  char *key = dup_trimmed(assignment, (size_t)(eq - assignment));
  char *value = dup_trimmed(eq + 1, strlen(eq + 1));
  int err;
  char msg[512];
  if (!key || !value) {
    err = rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "out of memory");
  } else if (!*key) {
    err = rc_errf(RC_ERR_ARG, errstr, errstr_size,
                  "-o %s: the key is missing, expected section.key=value", assignment);
  } else if ((err = set_trimmed(c, key, value, msg, sizeof msg)) != 0) {
    if (rc_config_is_secret(key))
      rc_errf(err, errstr, errstr_size, "-o %s=(redacted): %s", key, msg);
    else
      rc_errf(err, errstr, errstr_size, "-o %s: %s", assignment, msg);
  }
  free(key);
  free(value);
  return err;
}

static void config_free_values(rc_config *c) {
  for (size_t i = 0; i < RC_CONFIG_NKEYS; i++) free(c->str[i]);
  for (size_t i = 0; i < c->nkafka; i++) {
    free(c->kafka[i].key);
    free(c->kafka[i].value);
  }
  free(c->kafka);
}

void rc_config_free(rc_config *c) {
  if (!c) return;
  config_free_values(c);
  free(c);
}

rc_config *rc_config_new(void) {
  rc_config *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  for (size_t i = 0; i < RC_CONFIG_NKEYS; i++) {
    char msg[512];
    int err = set_trimmed(c, rc_config_keys[i].name, rc_config_keys[i].def, msg, sizeof msg);
    if (err == RC_ERR_NOMEM) {
      rc_config_free(c);
      return NULL;
    }
    if (err) {
      fprintf(stderr, "rowcast: internal error: config key table: default of %s\n", msg);
      abort();
    }
  }
  return c;
}

/* A deep copy of c, or NULL when out of memory. */
static rc_config *config_clone(const rc_config *c) {
  rc_config *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  memcpy(d->num, c->num, sizeof d->num);
  for (size_t i = 0; i < RC_CONFIG_NKEYS; i++)
    if (c->str[i] && !(d->str[i] = strdup(c->str[i]))) goto nomem;
  if (c->nkafka) {
    if (!(d->kafka = calloc(c->nkafka, sizeof *d->kafka))) goto nomem;
    d->kafka_cap = c->nkafka;
    for (size_t i = 0; i < c->nkafka; i++, d->nkafka++) {
      d->kafka[i].key = strdup(c->kafka[i].key);
      d->kafka[i].value = strdup(c->kafka[i].value);
      if (!d->kafka[i].key || !d->kafka[i].value) {
        d->nkafka++; /* free what was copied */
        goto nomem;
      }
    }
  }
  return d;
nomem:
  rc_config_free(d);
  return NULL;
}

/* ---- getters ------------------------------------------------------------------------------ */

static size_t key_or_abort(const char *key, bool want_str, const char *fn) {
  int i = find_key(key);
  if (i < 0) {
    fprintf(stderr, "rowcast: internal error: %s(\"%s\"): no such key in the config table\n",
            fn, key);
    abort();
  }
  if (is_str_type(rc_config_keys[i].type) != want_str) {
    fprintf(stderr, "rowcast: internal error: %s(\"%s\"): the key is of type %s\n", fn, key,
            type_name(rc_config_keys[i].type));
    abort();
  }
  return (size_t)i;
}

/* What "auto" means for this machine (the keys whose `allowed` is AUTO). */
static int64_t auto_value(const key_def *k) {
  if (!strcmp(k->name, "serializer.workers")) { /* the CPUs the reader and publisher leave */
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int64_t w = ncpu > 2 ? (int64_t)ncpu - 2 : 2;
    return w < 2 ? 2 : w > 4 ? 4 : w;
  }
  return k->min;
}

int64_t rc_config_int(const rc_config *c, const char *key) {
  size_t i = key_or_abort(key, false, "rc_config_int");
  if (rc_config_keys[i].type == KT_INT && rc_config_keys[i].allowed && c->num[i] == 0) return auto_value(&rc_config_keys[i]);
  return c->num[i];
}

const char *rc_config_str(const rc_config *c, const char *key) {
  return c->str[key_or_abort(key, true, "rc_config_str")];
}

size_t rc_config_key_count(void) { return RC_CONFIG_NKEYS; }

const char *rc_config_key_name(size_t i) { return i < RC_CONFIG_NKEYS ? rc_config_keys[i].name : NULL; }

size_t rc_config_kafka_count(const rc_config *c) { return c->nkafka; }

const char *rc_config_kafka_key(const rc_config *c, size_t i) {
  return i < c->nkafka ? c->kafka[i].key : NULL;
}

const char *rc_config_kafka_value(const rc_config *c, size_t i) {
  return i < c->nkafka ? c->kafka[i].value : NULL;
}

const char *rc_config_kafka_shown(const rc_config *c, size_t i) {
  if (i >= c->nkafka) return NULL;
  char full[512];
  snprintf(full, sizeof full, KAFKA_PREFIX "%s", c->kafka[i].key);
  return rc_config_is_secret(full) ? "(redacted)" : c->kafka[i].value;
}

/* ---- loading a file ----------------------------------------------------------------------- */

typedef struct {
  rc_config *c; /* a scratch copy, swapped in on success */
  FILE *f;
  char *line; /* the line being parsed (getline's buffer) */
  size_t line_cap;
  int lineno;
  int err;
  char msg[768];
} load_ctx;

static char *load_reader(char *str, int num, void *stream) {
  load_ctx *lc = stream;
  if (lc->err) return NULL;
  errno = 0;
  ssize_t n = getline(&lc->line, &lc->line_cap, lc->f);
  if (n < 0) {
    if (ferror(lc->f))
      lc->err = rc_errf(RC_ERR_IO, lc->msg, sizeof lc->msg, "read error: %s", strerror(errno));
    else if (errno == ENOMEM)
      lc->err = rc_errf(RC_ERR_NOMEM, lc->msg, sizeof lc->msg, "out of memory");
    return NULL;
  }
  lc->lineno++;
  size_t len = (size_t)n;
  if (len && lc->line[len - 1] == '\n') lc->line[--len] = 0;
  if (len && lc->line[len - 1] == '\r') lc->line[--len] = 0;
  if (strlen(lc->line) != len) {
    lc->err = rc_errf(RC_ERR_ARG, lc->msg, sizeof lc->msg, "the line holds a NUL byte");
    return NULL;
  }
  if (num < 1 || len > (size_t)num - 1) {
    lc->err = rc_errf(RC_ERR_ARG, lc->msg, sizeof lc->msg,
                      "the line is %zu characters long; a config line holds at most %d", len,
                      num - 1);
    return NULL;
  }
  memcpy(str, lc->line, len + 1);
  return str;
}

static int load_handler(void *user, const char *section, const char *name, const char *value) {
  load_ctx *lc = user;
  if (lc->err) return 0;
  if (!*name) {
    lc->err = rc_errf(RC_ERR_ARG, lc->msg, sizeof lc->msg, "a key is missing before '='");
    return 0;
  }
  char *key = NULL;
  if (*section) {
    if (asprintf(&key, "%s.%s", section, name) < 0) key = NULL;
  } else {
    key = strdup(name);
  }
  if (!key) {
    lc->err = rc_errf(RC_ERR_NOMEM, lc->msg, sizeof lc->msg, "out of memory");
    return 0;
  }
  lc->err = set_trimmed(lc->c, key, value, lc->msg, sizeof lc->msg);
  free(key);
  return lc->err == 0;
}

/* Why inih refused the line it stopped at. */
static void describe_syntax_error(const char *line, char *msg, size_t msgsz) {
  while (isspace((unsigned char)*line)) line++;
  if (*line == '[')
    snprintf(msg, msgsz, "'%.100s': a [section] line lacks its closing ']'", line);
  else
    snprintf(msg, msgsz,
             "'%.100s': expected key = value, [section], or a comment starting with ';' or '#'",
             line);
}

int rc_config_load_file(rc_config *c, const char *path, char *errstr, size_t errstr_size) {
  load_ctx lc = {0};
  lc.f = fopen(path, "re");
  if (!lc.f)
    return rc_errf(RC_ERR_IO, errstr, errstr_size, "%s: cannot open the config file: %s", path,
                   strerror(errno));
  lc.c = config_clone(c);
  if (!lc.c) {
    fclose(lc.f);
    return rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "%s: out of memory", path);
  }

  /* Debian libinih's run-time switches (process-wide: config is read at start-up, from one
   * thread) */
  int saved_max_line = ini_max_line;
  bool saved_multiline = ini_allow_multiline, saved_stop = ini_stop_on_first_error;
  ini_max_line = RC_CONFIG_LINE_MAX + 1;
  ini_allow_multiline = false;
  ini_stop_on_first_error = true;
  int r = ini_parse_stream(load_reader, &lc, load_handler, &lc);
  ini_max_line = saved_max_line;
  ini_allow_multiline = saved_multiline;
  ini_stop_on_first_error = saved_stop;

  int err = lc.err;
  if (err == RC_ERR_IO)
    rc_errf(err, errstr, errstr_size, "%s: %s", path, lc.msg);
  else if (err)
    rc_errf(err, errstr, errstr_size, "%s:%d: %s", path, lc.lineno, lc.msg);
  else if (r == -2)
    err = rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "%s: out of memory", path);
  else if (r != 0) {
    describe_syntax_error(lc.line ? lc.line : "", lc.msg, sizeof lc.msg);
    err = rc_errf(RC_ERR_ARG, errstr, errstr_size, "%s:%d: %s", path, r, lc.msg);
  }
  fclose(lc.f);
  free(lc.line);

  if (err) {
    rc_config_free(lc.c);
    return err;
  }
  /* swap: c takes the loaded values, the scratch copy takes the old ones and goes */
  rc_config tmp = *c;
  *c = *lc.c;
  *lc.c = tmp;
  rc_config_free(lc.c);
  return 0;
}

/* ---- writing a file ----------------------------------------------------------------------- */

static bool is_default(const rc_config *c, size_t i) {
  int64_t def = 0;
  char msg[8];
  if (is_str_type(rc_config_keys[i].type)) return strcmp(c->str[i], rc_config_keys[i].def) == 0;
  parse_value(i, rc_config_keys[i].def, &def, msg, sizeof msg); /* checked by rc_config_new */
  return c->num[i] == def;
}

static void put_line(FILE *f, const char *name, const char *value) {
  if (*value)
    fprintf(f, "%s = %s\n", name, value);
  else
    fprintf(f, "%s =\n", name);
}

static int write_ini(const rc_config *c, FILE *f, char *msg, size_t msgsz) {
  char value[RC_CONFIG_LINE_MAX];
  size_t section_len = 0;
  const char *section = NULL;
  fputs("; rowcast configuration: every value that differs from its default.\n", f);
  for (size_t i = 0; i < RC_CONFIG_NKEYS; i++) {
    if (is_default(c, i)) continue;
    const char *name = rc_config_keys[i].name, *dot = strchr(name, '.');
    size_t len = (size_t)(dot - name);
    if (!section || len != section_len || memcmp(section, name, len) != 0) {
      fprintf(f, "\n[%.*s]\n", (int)len, name);
      section = name;
      section_len = len;
    }
    format_value(c, i, value, sizeof value);
    int err = check_writable(name, value, msg, msgsz);
    if (err) return err;
    put_line(f, dot + 1, value);
  }
  if (c->nkafka) fputs("\n[kafka]\n", f);
  for (size_t i = 0; i < c->nkafka; i++) {
    int err = check_writable(c->kafka[i].key, c->kafka[i].value, msg, msgsz);
    if (err) return err;
    put_line(f, c->kafka[i].key, c->kafka[i].value);
  }
  return 0;
}

void rc_config_print(const rc_config *c, FILE *out) {
  char value[RC_CONFIG_LINE_MAX];
  size_t section_len = 0;
  const char *section = NULL;
  fputs("; rowcast's effective configuration: every key, secrets redacted.\n", out);
  for (size_t i = 0; i < RC_CONFIG_NKEYS; i++) {
    const char *name = rc_config_keys[i].name, *dot = strchr(name, '.');
    size_t len = (size_t)(dot - name);
    if (!section || len != section_len || memcmp(section, name, len) != 0) {
      fprintf(out, "\n[%.*s]\n", (int)len, name);
      section = name;
      section_len = len;
    }
    if (rc_config_keys[i].type == KT_INT && rc_config_keys[i].allowed && c->num[i] == 0)
      snprintf(value, sizeof value, "%s", AUTO);
    else
      format_value(c, i, value, sizeof value);
    if (rc_config_is_secret(name) && value[0]) snprintf(value, sizeof value, "(redacted)");
    if (!strcmp(name, "schema_registry.url")) rc_url_redact(c->str[i], value, sizeof value);
    put_line(out, dot + 1, value);
  }
  if (c->nkafka) fputs("\n[kafka]\n", out);
  for (size_t i = 0; i < c->nkafka; i++) {
    put_line(out, c->kafka[i].key, rc_config_kafka_shown(c, i));
  }
}

static int fsync_dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
  if (!dir) return -1;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  free(dir);
  if (fd < 0) return -1;
  int r = fsync(fd);
  close(fd);
  return r;
}

int rc_config_write(const rc_config *c, const char *path, char *errstr, size_t errstr_size) {
  char *tmp;
  if (asprintf(&tmp, "%s.tmp", path) < 0)
    return rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "%s: out of memory", path);
  int err = 0;
  char msg[512];
  unlink(tmp); /* a stale one from a crash: start afresh, with our mode */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
  if (!f) {
    err = rc_errf(RC_ERR_IO, errstr, errstr_size, "%s: cannot create: %s", tmp,
                  strerror(errno));
    if (fd >= 0) {
      close(fd);
      unlink(tmp);
    }
    free(tmp);
    return err;
  }
  if ((err = write_ini(c, f, msg, sizeof msg)) != 0)
    rc_errf(err, errstr, errstr_size, "%s: cannot write %s", path, msg);
  else if (fflush(f) != 0 || ferror(f) || fsync(fd) != 0)
    err = rc_errf(RC_ERR_IO, errstr, errstr_size, "%s: cannot write: %s", tmp,
                  strerror(errno));
  if (fclose(f) != 0 && !err)
    err = rc_errf(RC_ERR_IO, errstr, errstr_size, "%s: cannot write: %s", tmp,
                  strerror(errno));
  if (!err && rename(tmp, path) != 0)
    err = rc_errf(RC_ERR_IO, errstr, errstr_size, "cannot rename %s to %s: %s", tmp, path,
                  strerror(errno));
  if (err) {
    unlink(tmp);
  } else if (fsync_dir_of(path) != 0) {
    err = rc_errf(RC_ERR_IO, errstr, errstr_size, "%s: cannot sync its directory: %s", path,
                  strerror(errno));
  }
  free(tmp);
  return err;
}

/* ---- help and docs ------------------------------------------------------------------------ */

/* Print text word-wrapped to `width` columns, each line after `indent`. */
static void wrap(FILE *out, const char *text, const char *indent, size_t width) {
  size_t col = 0;
  while (*text) {
    size_t wl = strcspn(text, " ");
    if (col && col + 1 + wl > width) {
      fputc('\n', out);
      col = 0;
    }
    if (!col) {
      fputs(indent, out);
      col = strlen(indent);
    } else {
      fputc(' ', out);
      col++;
    }
    fwrite(text, 1, wl, out);
    col += wl;
    text += wl;
    while (*text == ' ') text++;
  }
  if (col) fputc('\n', out);
}

/* The default as help and docs show it: `4m` (4194304 bytes), `1000`, empty. */
static void default_text(size_t i, bool md, char *buf, size_t size) {
  const char *q = md ? "`" : "";
  if (!*rc_config_keys[i].def) {
    snprintf(buf, size, "empty");
  } else if (rc_config_keys[i].type == KT_BYTES) {
    int64_t v = 0;
    char msg[8];
    parse_value(i, rc_config_keys[i].def, &v, msg, sizeof msg);
    snprintf(buf, size, "%s%s%s (%lld bytes)", q, rc_config_keys[i].def, q, (long long)v);
  } else {
    snprintf(buf, size, "%s%s%s", q, rc_config_keys[i].def, q);
  }
}

void rc_config_help(FILE *out) {
  fputs("rowcast reads its configuration from an INI file ([section], then key = value; ';' or\n"
        "'#' starts a comment) and from -o section.key=value options, which win over the file.\n"
        "Sizes take the suffixes k, m, g (KiB, MiB, GiB). `rowcast config --show [--config FILE]\n"
        "[-o section.key=value]...` prints the configuration they give, secrets redacted.\n",
        out);
  for (size_t i = 0; i < RC_CONFIG_NKEYS; i++) {
    char allowed[256], def[64];
    describe_allowed(&rc_config_keys[i], false, allowed, sizeof allowed);
    default_text(i, false, def, sizeof def);
    char line[320];
    fprintf(out, "\n%s\n", rc_config_keys[i].name);
    fprintf(out, "    %s, default %s\n", type_name(rc_config_keys[i].type), def);
    snprintf(line, sizeof line, "allowed: %s", allowed);
    wrap(out, line, "    ", 78);
    wrap(out, rc_config_keys[i].help, "    ", 78);
  }
  fputs("\nkafka.* (for example kafka.bootstrap.servers)\n", out);
  wrap(out, rc_config_kafka_help, "    ", 78);
}

void rc_config_markdown(FILE *out) {
  fputs("# rowcast configuration\n"
        "\n"
        "<!-- Generated from the key table of common/pipeline/config_keys.c by tests/unit/gen_config_doc.c;\n"
        "     edit the table, then regenerate this file. -->\n"
        "\n"
        "rowcast reads an INI file, then applies `-o section.key=value` options, which win over\n"
        "the file. In the file, `key = value` after `[section]` sets `section.key`; `;` or `#`\n"
        "starts a comment at the start of a line, `;` after a blank also at the end of one. Each\n"
        "value fits on one line of at most 4096 characters. Unknown keys and bad values are\n"
        "errors that name the file, the line and what is allowed.\n"
        "\n"
        "```ini\n"
        "[batch]\n"
        "max_changes = 5000\n"
        "\n"
        "[pipe]\n"
        "buffer_bytes = 16m\n"
        "\n"
        "[kafka]\n"
        "bootstrap.servers = kafka1:9092,kafka2:9092\n"
        "```\n"
        "\n"
        "Sizes in bytes take the suffixes `k`, `m` and `g` (KiB, MiB, GiB). Booleans are `true`\n"
        "or `false` (also `yes`/`no`, `on`/`off`, `1`/`0`). Durations are in milliseconds (`250`\n"
        "or `250ms`).\n"
        "`rowcast config --help` prints this reference; `rowcast config --show` the configuration a\n"
        "`--config` file and `-o` options give, with every secret redacted.\n",
        out);
  size_t section_len = 0;
  const char *section = NULL;
  for (size_t i = 0; i < RC_CONFIG_NKEYS; i++) {
    const char *name = rc_config_keys[i].name;
    size_t len = strcspn(name, ".");
    if (!section || len != section_len || memcmp(section, name, len) != 0) {
      fprintf(out, "\n## %.*s\n", (int)len, name);
      section = name;
      section_len = len;
    }
    char allowed[256], def[64];
    describe_allowed(&rc_config_keys[i], true, allowed, sizeof allowed);
    default_text(i, true, def, sizeof def);
    fprintf(out, "\n### `%s`\n\n", name);
    fprintf(out, "- Type: %s\n", type_name(rc_config_keys[i].type));
    fprintf(out, "- Default: %s\n", def);
    fprintf(out, "- Allowed: %s\n\n", allowed);
    wrap(out, rc_config_keys[i].help, "", 96);
  }
  fputs("\n## kafka\n\n### `kafka.*`\n\n", out);
  wrap(out, rc_config_kafka_help, "", 96);
}
