/*
 * private_db.c: the private MariaDB of rowcast-schema: a mariadbd child on a Unix socket of a
 * temporary directory, no networking, no grant tables, no InnoDB (tables fall back to Aria:
 * only their definitions matter here, never their rows), no binlog. Started empty by
 * sc_db_start, stopped and removed by sc_db_stop; DDL goes through one Connector/C connection,
 * a schema dump through the mariadb client (it knows DELIMITER and the dump's other client
 * commands). Nothing else talks to it.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "rc_err.h"
#include "tracker_int.h"

/* The first of ROWCAST_<env>, `name` on PATH, /usr/sbin/name, /usr/bin/name that exists. */
static const char *find_program(const char *env, const char *name, char *buf, size_t n) {
  const char *e = getenv(env);
  if (e && *e) return e;
  const char *path = getenv("PATH");
  char *copy = strdup(path ? path : "");
  for (char *dir = strtok(copy, ":"); dir; dir = strtok(NULL, ":")) {
    snprintf(buf, n, "%s/%s", dir, name);
    if (access(buf, X_OK) == 0) {
      free(copy);
      return buf;
    }
  }
  free(copy);
  for (int i = 0; i < 2; i++) {
    snprintf(buf, n, "%s/%s", i ? "/usr/bin" : "/usr/sbin", name);
    if (access(buf, X_OK) == 0) return buf;
  }
  return NULL;
}

/* The last lines of the server's error log, for a message. */
static void log_tail(const sc_db *db, char *out, size_t n) {
  char path[400];
  snprintf(path, sizeof path, "%s/error.log", db->dir);
  out[0] = 0;
  FILE *f = fopen(path, "r");
  if (!f) return;
  char buf[4096];
  size_t got = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[got] = 0;
  const char *p = got > 600 ? buf + got - 600 : buf;
  size_t l = strlen(p) < n - 1 ? strlen(p) : n - 1;
  memcpy(out, p, l);
  out[l] = 0;
  for (char *q = out; *q; q++)
    if (*q == '\n') *q = ' ';
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw);

/* Remove what a tracker killed outright left in base: rowcast-schema.* directories whose
 * mariadbd is gone (its pid file names a process that no longer exists), or that never got a
 * pid file and are more than an hour old. */
static void remove_stale(const char *base) {
  DIR *d = opendir(base);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "rowcast-schema.", 15)) continue;
    char dir[600], pidpath[700];
    snprintf(dir, sizeof dir, "%s/%s", base, e->d_name);
    snprintf(pidpath, sizeof pidpath, "%s/pid", dir);
    FILE *f = fopen(pidpath, "r");
    long pid = 0;
    struct stat sb;
    int stale = 0;
    if (f) {
      stale = fscanf(f, "%ld", &pid) == 1 && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
      fclose(f);
    } else if (stat(dir, &sb) == 0) {
      stale = time(NULL) - sb.st_mtime > 3600;
    }
    if (stale) {
      rc_info("removing %s, left by a schema tracker that was killed", dir);
      nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
  }
  closedir(d);
}

int sc_db_start(sc_db *db, char *es, size_t esz) {
  char exe[600], arg[12][400];
  const char *bin = find_program("ROWCAST_MARIADBD", "mariadbd", exe, sizeof exe);
  if (!bin) bin = find_program("ROWCAST_MARIADBD", "mysqld", exe, sizeof exe);
  if (!bin)
    return rc_errf(RC_ERR_ARG, es, esz, "the schema tracker needs mariadbd (Debian package mariadb-server), "
                   "found neither on PATH nor in /usr/sbin; install it or set schema.tracker=off");
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp || strlen(tmp) >= 60) tmp = "/tmp";
  remove_stale(tmp);
  snprintf(db->dir, sizeof db->dir, "%s/rowcast-schema.XXXXXX", tmp);
  if (!mkdtemp(db->dir)) return rc_errf(RC_ERR_IO, es, esz, "cannot make a directory %s: %s", db->dir, strerror(errno));
  snprintf(db->sock, sizeof db->sock, "%s/sock", db->dir);
  snprintf(arg[0], sizeof arg[0], "--datadir=%s", db->dir);
  snprintf(arg[1], sizeof arg[1], "--socket=%s", db->sock);
  snprintf(arg[2], sizeof arg[2], "--log-error=%s/error.log", db->dir);
  snprintf(arg[3], sizeof arg[3], "--pid-file=%s/pid", db->dir);
  snprintf(arg[4], sizeof arg[4], "--tmpdir=%s", db->dir); /* its temporary tables stay its own */
  char *argv[40];
  int n = 0;
  argv[n++] = (char *)bin;
  argv[n++] = "--no-defaults";
  for (int i = 0; i < 5; i++) argv[n++] = arg[i];
  if (geteuid() == 0) argv[n++] = "--user=root";
  static char *fixed[] = {"--skip-networking", "--skip-grant-tables", "--skip-log-bin", "--innodb=OFF",
                          "--default-storage-engine=Aria", "--default-tmp-storage-engine=Aria",
                          "--sql-mode=IGNORE_BAD_TABLE_OPTIONS", "--performance-schema=OFF",
                          "--key-buffer-size=64K", "--aria-pagecache-buffer-size=128K",
                          "--aria-log-file-size=8M", "--max-connections=4", "--table-open-cache=400",
                          "--thread-cache-size=0", "--query-cache-size=0", "--character-set-server=utf8mb4",
                          "--collation-server=utf8mb4_general_ci", "--lower-case-table-names=0",
                          "--explicit-defaults-for-timestamp=ON", NULL};
  for (int i = 0; fixed[i]; i++) argv[n++] = fixed[i];
  argv[n] = NULL;
  uint64_t t0 = rc_now_ns();
  db->pid = fork();
  if (db->pid < 0) return rc_errf(RC_ERR_IO, es, esz, "cannot fork for mariadbd: %s", strerror(errno));
  if (db->pid == 0) {
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
    }
    setpgid(0, 0); /* a terminal's ^C goes to rowcast, which stops us in order */
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* and a tracker killed outright does not leave us behind */
    execv(bin, argv);
    _exit(127);
  }
  for (int i = 0; i < 3000; i++) { /* up to 30 s */
    int st;
    if (waitpid(db->pid, &st, WNOHANG) == db->pid) {
      char tail[700];
      log_tail(db, tail, sizeof tail);
      db->pid = 0;
      return rc_errf(RC_ERR_IO, es, esz, "the schema tracker's mariadbd (%s) exited at start-up: %s", bin, tail);
    }
    if (access(db->sock, F_OK) == 0) {
      MYSQL *m = mysql_init(NULL);
      mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
      if (mysql_real_connect(m, NULL, "root", NULL, NULL, 0, db->sock, 0)) {
        db->my = m;
        rc_info("private MariaDB for the schema history ready in %.0f ms (%s, pid %d)",
                (double)(rc_now_ns() - t0) / 1e6, db->dir, (int)db->pid);
        sc_db_exec(db, "SET SESSION group_concat_max_len = 4294967295", 46, es, esz);
        return 0;
      }
      mysql_close(m);
    }
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return rc_errf(RC_ERR_IO, es, esz, "the schema tracker's mariadbd did not accept connections within 30 s (%s)",
                 db->dir);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void sc_db_stop(sc_db *db) {
  if (db->my) mysql_close(db->my);
  db->my = NULL;
  if (db->pid > 0) {
    kill(db->pid, SIGTERM);
    int st;
    for (int i = 0; i < 1000 && waitpid(db->pid, &st, WNOHANG) == 0; i++) {
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
      if (i == 999) {
        kill(db->pid, SIGKILL);
        waitpid(db->pid, &st, 0);
      }
    }
    db->pid = 0;
  }
  if (db->dir[0] && !getenv("ROWCAST_KEEP_SCHEMA_DB")) nftw(db->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  db->dir[0] = 0;
}

int sc_db_exec(sc_db *db, const char *sql, size_t len, char *es, size_t esz) {
  if (mysql_real_query(db->my, sql, (unsigned long)len)) {
    snprintf(es, esz, "%s", mysql_error(db->my));
    return (int)mysql_errno(db->my);
  }
  do { /* drain any result (SHOW, SELECT in a dump) */
    MYSQL_RES *r = mysql_store_result(db->my);
    if (r) mysql_free_result(r);
  } while (mysql_next_result(db->my) == 0);
  return 0;
}

int sc_db_source_file(sc_db *db, const char *path, char *es, size_t esz) {
  char exe[600], sockarg[400], errpath[400];
  const char *bin = find_program("ROWCAST_MARIADB_CLIENT", "mariadb", exe, sizeof exe);
  if (!bin) bin = find_program("ROWCAST_MARIADB_CLIENT", "mysql", exe, sizeof exe);
  if (!bin)
    return rc_errf(RC_ERR_ARG, es, esz, "schema.initial needs the mariadb client (Debian package mariadb-client)");
  int in = open(path, O_RDONLY);
  if (in < 0) return rc_errf(RC_ERR_ARG, es, esz, "schema.initial: cannot open %s: %s", path, strerror(errno));
  snprintf(sockarg, sizeof sockarg, "--socket=%s", db->sock);
  snprintf(errpath, sizeof errpath, "%s/initial.err", db->dir);
  pid_t pid = fork();
  if (pid < 0) {
    close(in);
    return rc_errf(RC_ERR_IO, es, esz, "cannot fork: %s", strerror(errno));
  }
  if (pid == 0) {
    int err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int null = open("/dev/null", O_WRONLY);
    dup2(in, 0);
    if (null >= 0) dup2(null, 1);
    if (err >= 0) dup2(err, 2);
    execl(bin, bin, "--no-defaults", sockarg, "--user=root", "--default-character-set=utf8mb4", "--batch",
          (char *)NULL);
    _exit(127);
  }
  close(in);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  char msg[700] = "";
  FILE *f = fopen(errpath, "r");
  if (f) {
    size_t got = fread(msg, 1, sizeof msg - 1, f);
    msg[got] = 0;
    fclose(f);
    char *nl = strchr(msg, '\n');
    if (nl) *nl = 0;
  }
  return rc_errf(RC_ERR_ARG, es, esz, "schema.initial %s does not apply to MariaDB %s: %s", path,
                 mysql_get_server_info(db->my), msg[0] ? msg : "the mariadb client failed");
}
