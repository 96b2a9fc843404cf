/*
 * source_config.c: the source.* keys taken together (see source_config.h): the password and
 * where it comes from, the TLS keys, and the private-mode check of files and directories.
 */
#include "source_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rc_err.h"

#define PASSWORD_MAX 1024 /* as source.password */

rc_tls_mode rc_source_tls_mode(const rc_config *c) {
  static const char *const names[] = {"disabled", "preferred", "required", "verify_ca",
                                      "verify_identity"};
  const char *m = rc_config_str(c, "source.tls");
  for (int i = 0; i < 5; i++)
    if (!strcmp(m, names[i])) return (rc_tls_mode)i;
  return RC_TLS_PREFERRED; /* unreachable: the key is an enum of these words */
}

/* Read the password file into *out (malloc'd). 0 or RC_ERR_ARG / RC_ERR_NOMEM. */
static int read_password_file(const char *path, char **out, char *es, size_t esz) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return rc_errf(RC_ERR_ARG, es, esz, "source.password_file: cannot read %s: %s", path,
                   strerror(errno));
  char *buf = malloc(PASSWORD_MAX + 3);
  if (!buf) {
    close(fd);
    return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  }
  size_t len = 0;
  ssize_t n;
  while (len < PASSWORD_MAX + 2 && (n = read(fd, buf + len, PASSWORD_MAX + 2 - len)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      explicit_bzero(buf, PASSWORD_MAX + 3);
      free(buf);
      return rc_errf(RC_ERR_ARG, es, esz, "source.password_file: cannot read %s: %s", path,
                     strerror(e));
    }
    len += (size_t)n;
  }
  close(fd);
  if (len && buf[len - 1] == '\n') len--;
  if (len && buf[len - 1] == '\r') len--;
  const char *why = NULL;
  if (len == 0) why = "is empty";
  else if (len > PASSWORD_MAX) why = "holds more than 1024 bytes: is it the right file?";
  else if (memchr(buf, 0, len)) why = "holds a NUL byte";
  if (why) {
    explicit_bzero(buf, PASSWORD_MAX + 3);
    free(buf);
    return rc_errf(RC_ERR_ARG, es, esz, "source.password_file: %s %s", path, why);
  }
  buf[len] = 0;
  *out = buf;
  return 0;
}

int rc_source_password(const rc_config *c, char **out, const char **from, char *es, size_t esz) {
  *out = NULL;
  const char *pw = rc_config_str(c, "source.password");
  const char *file = rc_config_str(c, "source.password_file");
  const char *where = "none";
  int err = 0;
  if (pw[0] && file[0])
    return rc_errf(RC_ERR_ARG, es, esz,
                   "source.password and source.password_file are both set: give the password "
                   "one way only");
  if (file[0]) {
    where = "source.password_file";
    err = read_password_file(file, out, es, esz);
  } else {
    const char *env = getenv(RC_SOURCE_PASSWORD_ENV);
    if (pw[0]) where = "source.password";
    else if (env) where = RC_SOURCE_PASSWORD_ENV, pw = env;
    if (!(*out = strdup(pw))) err = rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
  }
  if (from) *from = where;
  return err;
}

/* 0 when the file the key names can be opened for reading, else RC_ERR_ARG naming it. */
static int check_readable(const rc_config *c, const char *key, char *es, size_t esz) {
  const char *path = rc_config_str(c, key);
  if (!path[0]) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return rc_errf(RC_ERR_ARG, es, esz, "%s: cannot read %s: %s", key, path, strerror(errno));
  close(fd);
  return 0;
}

int rc_source_check(const rc_config *c, char *es, size_t esz) {
  rc_tls_mode mode = rc_source_tls_mode(c);
  const char *tls = rc_config_str(c, "source.tls");
  const char *ca = rc_config_str(c, "source.tls_ca"), *cert = rc_config_str(c, "source.tls_cert");
  const char *key = rc_config_str(c, "source.tls_key");
  if (mode == RC_TLS_DISABLED && (ca[0] || cert[0] || key[0]))
    return rc_errf(RC_ERR_ARG, es, esz,
                   "%s is set but source.tls=disabled: remove it, or choose a source.tls mode "
                   "that uses it", ca[0] ? "source.tls_ca" : cert[0] ? "source.tls_cert" : "source.tls_key");
  if (mode < RC_TLS_VERIFY_CA && ca[0])
    return rc_errf(RC_ERR_ARG, es, esz,
                   "source.tls_ca is set but source.tls=%s does not check the server's "
                   "certificate: set source.tls=verify_ca (or verify_identity) to check it", tls);
  if (mode == RC_TLS_VERIFY_CA && !ca[0])
    return rc_errf(RC_ERR_ARG, es, esz,
                   "source.tls=verify_ca needs source.tls_ca, the PEM file of the CA that signed "
                   "the server's certificate");
  if (!cert[0] != !key[0])
    return rc_errf(RC_ERR_ARG, es, esz, "%s is set without %s: a client certificate needs its key",
                   cert[0] ? "source.tls_cert" : "source.tls_key", cert[0] ? "source.tls_key" : "source.tls_cert");
  int err;
  if ((err = check_readable(c, "source.tls_ca", es, esz)) || (err = check_readable(c, "source.tls_cert", es, esz)) ||
      (err = check_readable(c, "source.tls_key", es, esz)))
    return err;
  char *pw;
  if ((err = rc_source_password(c, &pw, NULL, es, esz)) != 0) return err;
  explicit_bzero(pw, strlen(pw));
  free(pw);
  return 0;
}

int rc_private_mode_check(const char *path, const char *what, char *msg, size_t msg_size) {
  struct stat sb;
  if (stat(path, &sb) != 0 || !(sb.st_mode & 077)) return 0;
  int dir = S_ISDIR(sb.st_mode);
  snprintf(msg, msg_size, "%s %s can be %s by its group or others (mode %04o): chmod %s %s", what, path,
           sb.st_mode & 044 ? "read" : "changed", (unsigned)(sb.st_mode & 07777), dir ? "700" : "600", path);
  return 1;
}
