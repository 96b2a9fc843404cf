/*
 * stats_read.c: <state.dir>/stats.json read back (stats_read.h). The file is replaced
 * atomically (rename) by the supervisor, so a read sees one whole version of it.
 */
#include "stats_read.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "rc_err.h"

int rc_stats_read(const char *state_dir, rc_stats *s, char *errstr, size_t errstr_size) {
  memset(s, 0, sizeof *s);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/stats.json", state_dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    int e = errno;
    rc_errf(RC_ERR_IO, errstr, errstr_size, "%s: %s", path, strerror(e));
    return e == ENOENT ? RC_STATS_NONE : RC_ERR_IO;
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) == 0)
    s->mtime_ns = (uint64_t)sb.st_mtim.tv_sec * 1000000000ull + (uint64_t)sb.st_mtim.tv_nsec;
  json_error_t je;
  s->root = json_loadf(f, 0, &je);
  fclose(f);
  if (!s->root) return rc_errf(RC_ERR_CORRUPT, errstr, errstr_size, "%s line %d: %s", path, je.line, je.text);
  if (!json_is_object(s->root)) {
    json_decref(s->root);
    s->root = NULL;
    return rc_errf(RC_ERR_CORRUPT, errstr, errstr_size, "%s: not a JSON object", path);
  }
  s->pid = (pid_t)json_integer_value(json_object_get(s->root, "pid"));
  s->uptime_s = json_number_value(json_object_get(s->root, "uptime_s"));
  json_t *stages = json_object_get(s->root, "stages");
  size_t i;
  json_t *o;
  json_array_foreach(stages, i, o) {
    if (s->n == RC_STATS_MAX_STAGES || !json_is_object(o)) break;
    rc_stats_stage *st = &s->st[s->n];
    st->stage = rc_stats_str(o, "stage");
    st->worker = (int)rc_stats_u64(o, "worker");
    st->pid = (pid_t)rc_stats_u64(o, "pid");
    st->o = o;
    if (st->stage[0]) s->n++;
  }
  s->broker = json_object_get(s->root, "broker");
  if (s->broker && !json_is_object(s->broker)) s->broker = NULL;
  s->warnings = json_object_get(s->root, "warnings");
  if (s->warnings && !json_is_array(s->warnings)) s->warnings = NULL;
  return 0;
}

void rc_stats_free(rc_stats *s) {
  if (s->root) json_decref(s->root);
  memset(s, 0, sizeof *s);
}

uint64_t rc_stats_u64(const json_t *o, const char *name) {
  json_t *v = json_object_get(o, name);
  if (json_is_integer(v)) return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
  if (json_is_real(v)) return json_real_value(v) > 0 ? (uint64_t)json_real_value(v) : 0;
  return 0;
}

int rc_stats_has(const json_t *o, const char *name) { return json_object_get(o, name) != NULL; }

const char *rc_stats_str(const json_t *o, const char *name) {
  const char *v = json_string_value(json_object_get(o, name));
  return v ? v : "";
}

int rc_stats_running(const rc_stats *s, uint64_t fresh_ms) {
  if (s->pid <= 0 || (kill(s->pid, 0) != 0 && errno != EPERM)) return 0;
  /* alive: is it still the rowcast that wrote the file (not a process that got its pid)? A
   * group busy with its recovery writes nothing for a while, so the name decides, not the age */
  char path[64], argv0[PATH_MAX];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)s->pid);
  FILE *f = fopen(path, "r");
  if (f) {
    size_t n = fread(argv0, 1, sizeof argv0 - 1, f);
    fclose(f);
    argv0[n] = 0; /* argv[0] ends at its NUL */
    const char *base = strrchr(argv0, '/');
    return !strcmp(base ? base + 1 : argv0, "rowcast");
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
  return now_ns < s->mtime_ns || now_ns - s->mtime_ns <= fresh_ms * 1000000ull;
}
