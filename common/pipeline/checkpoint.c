/* checkpoint.c: reading and atomically writing the checkpoint file of checkpoint.h. */
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
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
      return rc_errf(RC_ERR_IO, errstr, es, "cannot create directory %s: %s", tmp, strerror(errno));
    *p = '/';
  }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
    return rc_errf(RC_ERR_IO, errstr, es, "cannot create directory %s: %s", tmp, strerror(errno));
  return 0;
}

int rc_checkpoint_read(const char *dir, rc_checkpoint *cp, char *errstr, size_t es) {
  char path[4200];
  snprintf(path, sizeof path, "%s/checkpoint", dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT) return 0;
    return rc_errf(RC_ERR_IO, errstr, es, "cannot read checkpoint %s: %s", path, strerror(errno));
  }
  memset(cp, 0, sizeof *cp);
  char line[512];
  int have_file = 0, have_pos = 0, lineno = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\n")] = 0;
    char *end;
    if (!strncmp(line, "file=", 5) && line[5] && strlen(line + 5) < sizeof cp->file) {
      snprintf(cp->file, sizeof cp->file, "%s", line + 5);
      have_file = 1;
    } else if (!strncmp(line, "pos=", 4)) {
      cp->pos = strtoull(line + 4, &end, 10);
      have_pos = *end == 0 && line[4];
    } else if (!strncmp(line, "changes=", 8)) {
      cp->changes = strtoull(line + 8, &end, 10);
    } else if (line[0]) {
      fclose(f);
      return rc_errf(RC_ERR_CORRUPT, errstr, es, "checkpoint %s line %d: unexpected '%s'", path, lineno, line);
    }
  }
  fclose(f);
  if (!have_file || !have_pos)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "checkpoint %s: needs file= and pos= lines", path);
  return 1;
}

int rc_checkpoint_write(const char *dir, const rc_checkpoint *cp, char *errstr, size_t es) {
  char path[4200], tmp[4210];
  snprintf(path, sizeof path, "%s/checkpoint", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return rc_errf(RC_ERR_IO, errstr, es, "cannot write %s: %s", tmp, strerror(errno));
  char text[400];
  int n = snprintf(text, sizeof text, "file=%s\npos=%llu\nchanges=%llu\n", cp->file,
                   (unsigned long long)cp->pos, (unsigned long long)cp->changes);
  if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
    int e = errno;
    close(fd);
    return rc_errf(RC_ERR_IO, errstr, es, "cannot write %s: %s", tmp, strerror(e));
  }
  close(fd);
  if (rename(tmp, path) != 0) return rc_errf(RC_ERR_IO, errstr, es, "cannot replace %s: %s", path, strerror(errno));
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;
}
