/* recovery.c: the topic list and the skip table of the exactly-once recovery (recovery.h). */
#include "recovery.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "rc_err.h"

static int valid_topic(const char *s, size_t n) {
  if (n == 0 || n > 249) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return 0;
  }
  return 1;
}

/* ---- the topic list ------------------------------------------------------------------------ */

const rc_topic_entry *rc_topic_list_find(const rc_topic_list *l, const char *name, size_t len) {
  for (size_t i = 0; i < l->n; i++)
    if (strlen(l->v[i].name) == len && !memcmp(l->v[i].name, name, len)) return &l->v[i];
  return NULL;
}

void rc_topic_list_free(rc_topic_list *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i].name);
  free(l->v);
  l->v = NULL;
  l->n = 0;
}

int rc_topic_list_read(const char *dir, rc_topic_list *out, char *errstr, size_t es) {
  memset(out, 0, sizeof *out);
  char path[4200];
  snprintf(path, sizeof path, "%s/topics", dir);
  FILE *f;
  int o = rc_state_open(path, "", &f, errstr, es);
  if (o <= 0) return o;
  char line[512];
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    size_t n = strcspn(line, "\n");
    if (line[n] != '\n') { /* a torn last line (a crash while appending) or an overlong one */
      rc = rc_errf(RC_ERR_CORRUPT, errstr, es, "%s line %d: incomplete line", path, lineno);
      break;
    }
    line[n] = 0;
    char *sp = strchr(line, ' ');
    char *end = NULL;
    long parts = sp ? strtol(sp + 1, &end, 10) : 0;
    if (!sp || !valid_topic(line, (size_t)(sp - line)) || !end || *end || parts < 1 || parts > 1000000) {
      rc = rc_errf(RC_ERR_CORRUPT, errstr, es, "%s line %d: expected 'TOPIC PARTITIONS', got '%.200s'", path, lineno,
                   line);
      break;
    }
    *sp = 0;
    rc_topic_entry *e = (rc_topic_entry *)rc_topic_list_find(out, line, strlen(line));
    if (!e) {
      rc_topic_entry *v = realloc(out->v, (out->n + 1) * sizeof *v);
      if (!v || !(v[out->n].name = strdup(line))) {
        if (v) out->v = v;
        rc = rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
        break;
      }
      out->v = v;
      e = &out->v[out->n++];
    }
    e->partitions = (int32_t)parts;
  }
  fclose(f);
  if (rc < 0) rc_topic_list_free(out);
  return rc;
}

int rc_topic_list_add(const char *dir, const char *name, size_t len, int32_t partitions, char *errstr, size_t es) {
  if (!valid_topic(name, len) || partitions < 1)
    return rc_errf(RC_ERR_ARG, errstr, es, "not a topic for the topic list: '%.*s' (%d partitions)", (int)len,
                   name, partitions);
  char path[4200];
  snprintf(path, sizeof path, "%s/topics", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return rc_errf(RC_ERR_IO, errstr, es, "cannot write %s: %s", path, strerror(errno));
  char line[300];
  int n = snprintf(line, sizeof line, "%.*s %d\n", (int)len, name, partitions);
  int rc = 0;
  if (write(fd, line, (size_t)n) != n || fsync(fd) != 0)
    rc = rc_errf(RC_ERR_IO, errstr, es, "cannot write %s: %s", path, strerror(errno));
  close(fd);
  return rc;
}

/* ---- the skip table ------------------------------------------------------------------------ */

rc_skip_topic *rc_skip_add_topic(rc_skip *s, const char *name, size_t len, int32_t partitions) {
  rc_skip_topic *v = realloc(s->t, (s->n + 1) * sizeof *v);
  if (!v) return NULL;
  s->t = v;
  rc_skip_topic *t = &v[s->n];
  memset(t, 0, sizeof *t);
  t->name = malloc(len + 1);
  t->last = calloc((size_t)partitions, sizeof *t->last);
  t->has = calloc((size_t)partitions, 1);
  if (!t->name || !t->last || !t->has) {
    free(t->name);
    free(t->last);
    free(t->has);
    return NULL;
  }
  memcpy(t->name, name, len);
  t->name[len] = 0;
  t->len = len;
  t->partitions = partitions;
  s->n++;
  return t;
}

void rc_skip_set(rc_skip *s, rc_skip_topic *t, int32_t partition, const rc_pos *last) {
  if (partition < 0 || partition >= t->partitions) return;
  t->last[partition] = *last;
  t->has[partition] = 1;
  if (!s->any || rc_pos_cmp(last, &s->max) > 0) s->max = *last;
  s->any = 1;
}

const rc_skip_topic *rc_skip_find(const rc_skip *s, const char *name, size_t len) {
  for (size_t i = 0; i < s->n; i++)
    if (s->t[i].len == len && !memcmp(s->t[i].name, name, len)) return &s->t[i];
  return NULL;
}

void rc_skip_free(rc_skip *s) {
  for (size_t i = 0; i < s->n; i++) {
    free(s->t[i].name);
    free(s->t[i].last);
    free(s->t[i].has);
  }
  free(s->t);
  memset(s, 0, sizeof *s);
}

int rc_skip_write(const rc_skip *s, const char *path, char *errstr, size_t es) {
  char tmp[4300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "w");
  if (!f) return rc_errf(RC_ERR_IO, errstr, es, "cannot write %s: %s", tmp, strerror(errno));
  for (size_t i = 0; i < s->n; i++) fprintf(f, "t %s %d\n", s->t[i].name, s->t[i].partitions);
  for (size_t i = 0; i < s->n; i++)
    for (int32_t p = 0; p < s->t[i].partitions; p++)
      if (s->t[i].has[p])
        fprintf(f, "p %s %d %llu %llu %u%s\n", s->t[i].name, p, (unsigned long long)s->t[i].last[p].seq,
                (unsigned long long)s->t[i].last[p].offset, s->t[i].last[p].row,
                s->t[i].last[p].sub ? " tombstone" : "");
  int bad = ferror(f) | (fflush(f) != 0) | (fsync(fileno(f)) != 0);
  if (fclose(f) != 0 || bad) return rc_errf(RC_ERR_IO, errstr, es, "cannot write %s: %s", tmp, strerror(errno));
  if (rename(tmp, path) != 0) return rc_errf(RC_ERR_IO, errstr, es, "cannot replace %s: %s", path, strerror(errno));
  return 0;
}

int rc_skip_read(rc_skip *s, const char *path, char *errstr, size_t es) {
  memset(s, 0, sizeof *s);
  FILE *f;
  int o = rc_state_open(path, "", &f, errstr, es);
  if (o <= 0) return o;
  char line[512], name[256];
  int lineno = 0, rc = 1;
  while (rc == 1 && fgets(line, sizeof line, f)) {
    lineno++;
    int part, used = 0;
    unsigned long long seq, off;
    unsigned row;
    if (sscanf(line, "t %255s %d %n", name, &part, &used) == 2 && used && !line[used] && part >= 1) {
      if (rc_skip_find(s, name, strlen(name)) || !valid_topic(name, strlen(name)))
        rc = rc_errf(RC_ERR_CORRUPT, errstr, es, "%s line %d: topic %s listed twice or invalid", path, lineno, name);
      else if (!rc_skip_add_topic(s, name, strlen(name), part))
        rc = rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory");
    } else if (sscanf(line, "p %255s %d %llu %llu %u %n", name, &part, &seq, &off, &row, &used) == 5 && used &&
               (!line[used] || !strcmp(line + used, "tombstone\n") || !strcmp(line + used, "tombstone"))) {
      rc_skip_topic *t = (rc_skip_topic *)rc_skip_find(s, name, strlen(name));
      if (!t || part < 0 || part >= t->partitions)
        rc = rc_errf(RC_ERR_CORRUPT, errstr, es, "%s line %d: partition %d of a topic not listed before", path,
                     lineno, part);
      else
        rc_skip_set(s, t, part, &(rc_pos){seq, off, row, line[used] != 0});
    } else {
      rc = rc_errf(RC_ERR_CORRUPT, errstr, es, "%s line %d: unexpected '%.200s'", path, lineno, line);
    }
  }
  fclose(f);
  if (rc < 0) rc_skip_free(s);
  return rc;
}
