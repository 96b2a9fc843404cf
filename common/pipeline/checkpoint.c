/* checkpoint.c: reading (strictly: a torn or garbled file is an error naming its line, never "no
 * checkpoint") and atomically, durably writing the checkpoint file of checkpoint.h. */
#include "checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rc_err.h"

int rc_mkdirs(const char *path, char *errstr, size_t es) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (size_t n = strlen(tmp); n > 1 && tmp[n - 1] == '/';) tmp[--n] = 0; /* "dir/" is dir */
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
      return rc_errf(RC_ERR_IO, errstr, es, "cannot create directory %s: %s", tmp, strerror(errno));
    *p = '/';
  }
  if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
    return rc_errf(RC_ERR_IO, errstr, es, "cannot create directory %s: %s", tmp, strerror(errno));
  return 0;
}

/* A decimal number and nothing else: 0 and *v, or -1. */
static int parse_u64(const char *s, uint64_t *v) {
  if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19) return -1;
  *v = strtoull(s, NULL, 10);
  return 0;
}

/* One "key=value" line of the checkpoint into cp (*have gets the key's bit). Returns 0, or -1
 * with what is wrong in why. */
static int parse_line(char *line, rc_checkpoint *cp, int *have, char *why, size_t wn) {
  if (!strncmp(line, "file=", 5)) {
    if (!line[5] || strlen(line + 5) >= sizeof cp->file) {
      snprintf(why, wn, "file= needs a binlog file name of 1 to %zu characters", sizeof cp->file - 1);
      return -1;
    }
    snprintf(cp->file, sizeof cp->file, "%s", line + 5);
    *have |= 1;
  } else if (!strncmp(line, "pos=", 4)) {
    if (parse_u64(line + 4, &cp->pos) < 0) {
      snprintf(why, wn, "pos= needs a decimal offset, not '%.40s'", line + 4);
      return -1;
    }
    *have |= 2;
  } else if (!strncmp(line, "gtid=", 5)) {
    if (strlen(line + 5) >= sizeof cp->gtid) {
      snprintf(why, wn, "gtid= holds a GTID state of at most %zu characters", sizeof cp->gtid - 1);
      return -1;
    }
    snprintf(cp->gtid, sizeof cp->gtid, "%s", line + 5);
  } else if (!strncmp(line, "snapshot=", 9)) {
    if (parse_u64(line + 9, &cp->snapshot) < 0) {
      snprintf(why, wn, "snapshot= needs a decimal count, not '%.40s'", line + 9);
      return -1;
    }
  } else if (!strncmp(line, "changes=", 8)) {
    if (parse_u64(line + 8, &cp->changes) < 0) {
      snprintf(why, wn, "changes= needs a decimal count, not '%.40s'", line + 8);
      return -1;
    }
  } else {
    snprintf(why, wn, "unexpected '%.60s' (expected file=, pos=, changes=, gtid= or snapshot=)", line);
    return -1;
  }
  return 0;
}

int rc_state_open(const char *path, const char *what, FILE **f, char *errstr, size_t es) {
  *f = fopen(path, "r");
  if (*f) return 1;
  if (errno == ENOENT) return 0;
  return rc_errf(RC_ERR_IO, errstr, es, "cannot read %s%s: %s", what, path, strerror(errno));
}

int rc_checkpoint_read(const char *dir, rc_checkpoint *cp, char *errstr, size_t es) {
  char path[4200];
  snprintf(path, sizeof path, "%s/checkpoint", dir);
  FILE *f;
  int o = rc_state_open(path, "checkpoint ", &f, errstr, es);
  if (o <= 0) return o;
  memset(cp, 0, sizeof *cp);
  char line[RC_GTID_STATE_MAX + 64], why[160];
  int have = 0, lineno = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    size_t n = strlen(line);
    if (!n || line[n - 1] != '\n') { /* every line the publisher writes ends with a newline */
      rc = rc_errf(RC_ERR_CORRUPT, errstr, es, "checkpoint %s line %d: cut short (no end of line, or over %zu "
                   "bytes): the file is truncated or garbled", path, lineno, sizeof line - 2);
      break;
    }
    line[n - 1] = 0;
    if (parse_line(line, cp, &have, why, sizeof why) < 0)
      rc = rc_errf(RC_ERR_CORRUPT, errstr, es, "checkpoint %s line %d: %s", path, lineno, why);
  }
  if (rc == 0 && ferror(f)) rc = rc_errf(RC_ERR_IO, errstr, es, "cannot read checkpoint %s: %s", path, strerror(errno));
  fclose(f);
  if (rc < 0) return rc;
  if (have != 3)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "checkpoint %s line %d: %s; it needs file= and pos= lines "
                   "(truncated or garbled: restore it, or remove it to start over from the beginning)",
                   path, lineno + 1, lineno ? "the file ends early" : "the file is empty");
  return 1;
}

int rc_checkpoint_write(const char *dir, const rc_checkpoint *cp, char *errstr, size_t es) {
  char path[4200], tmp[4210];
  snprintf(path, sizeof path, "%s/checkpoint", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return rc_errf(RC_ERR_IO, errstr, es, "cannot write %s: %s", tmp, strerror(errno));
  char text[400 + RC_GTID_STATE_MAX];
  int n = snprintf(text, sizeof text, "file=%s\npos=%llu\nchanges=%llu\n%s%s%s", cp->file,
                   (unsigned long long)cp->pos, (unsigned long long)cp->changes, cp->gtid[0] ? "gtid=" : "",
                   cp->gtid, cp->gtid[0] ? "\n" : "");
  if (cp->snapshot && n > 0 && (size_t)n < sizeof text)
    n += snprintf(text + n, sizeof text - (size_t)n, "snapshot=%llu\n", (unsigned long long)cp->snapshot);
  errno = 0; /* a short write sets none */
  if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
    int e = errno ? errno : EIO;
    close(fd);
    unlink(tmp);
    return rc_errf(RC_ERR_IO, errstr, es, "cannot write %s: %s", tmp, strerror(e));
  }
  if (close(fd) != 0) return rc_errf(RC_ERR_IO, errstr, es, "cannot write %s: %s", tmp, strerror(errno));
  if (rename(tmp, path) != 0) return rc_errf(RC_ERR_IO, errstr, es, "cannot replace %s: %s", path, strerror(errno));
  /* the rename is durable only once the directory is */
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return rc_errf(RC_ERR_IO, errstr, es, "cannot open %s to make %s durable: %s", dir, path, strerror(errno));
  if (fsync(dfd) != 0) {
    int e = errno;
    close(dfd);
    return rc_errf(RC_ERR_IO, errstr, es, "cannot fsync directory %s after replacing %s: %s", dir, path, strerror(e));
  }
  close(dfd);
  return 0;
}

/* The part of a GTID that names its stream: a MariaDB domain ("0-" of "0-1-42") or a MySQL
 * uuid and tag ("uuid:" or "uuid:tag:" of "uuid:tag:7"); its length, 0 when the text is
 * neither form. */
static size_t gtid_stream_len(const char *g, size_t len) {
  const char *colon = NULL;
  for (size_t i = len; i > 0 && !colon; i--)
    if (g[i - 1] == ':') colon = g + i - 1;
  if (colon) return (size_t)(colon - g) + 1 >= len ? 0 : (size_t)(colon - g) + 1;
  const char *dash = memchr(g, '-', len);
  return dash && dash > g && dash + 1 < g + len ? (size_t)(dash - g) + 1 : 0;
}

int rc_gtid_state_add(char *state, size_t size, const char *gtid, size_t len) {
  size_t k = gtid_stream_len(gtid, len);
  if (!k || memchr(gtid, ',', len)) return RC_ERR_ARG;
  size_t have = strlen(state);
  for (size_t at = 0; at < have;) {
    size_t end = at;
    while (end < have && state[end] != ',') end++;
    if (end - at > k && !memcmp(state + at, gtid, k) && gtid_stream_len(state + at, end - at) == k) {
      if (have - (end - at) + len + 1 > size) return RC_ERR_ARG;
      memmove(state + at + len, state + end, have - end + 1);
      memcpy(state + at, gtid, len);
      return 0;
    }
    at = end + 1;
  }
  if (have + (have ? 1 : 0) + len + 1 > size) return RC_ERR_ARG;
  if (have) state[have++] = ',';
  memcpy(state + have, gtid, len);
  state[have + len] = 0;
  return 0;
}
