/*
 * test_source_config.c: unit tests of common/pipeline/source_config.c and of the secret handling
 * of config.c: where the source's password comes from (source.password, source.password_file,
 * ROWCAST_SOURCE_PASSWORD) and the precedence between them; the TLS keys checked together and
 * their files checked readable; the private-mode check; secrets kept out of error messages and
 * of rc_config_print; rc_mkdirs making the last directory private.
 */
#include "checkpoint.h"
#include "config.h"
#include "rc_err.h"
#include "rc_test.h"
#include "source_config.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/rc_test_source_config.XXXXXX";
#define SECRET "Zq7-very-Secret-pw"

/* A file of tmpdir with this content and mode; its path (static buffer, one per slot). */
static const char *file_with(int slot, const char *name, const char *text, size_t len, mode_t mode) {
  static char paths[4][256];
  char *path = paths[slot];
  snprintf(path, 256, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    exit(2);
  }
  fwrite(text, 1, len, f);
  fclose(f);
  chmod(path, mode);
  return path;
}

static rc_config *with(const char *k1, const char *v1, const char *k2, const char *v2) {
  rc_config *c = rc_config_new();
  char err[512];
  if (k1) RC_CHECK(rc_config_set(c, k1, v1, err, sizeof err) == 0);
  if (k2) RC_CHECK(rc_config_set(c, k2, v2, err, sizeof err) == 0);
  return c;
}

/* The password c gives, and where from; "" and "error" on error (errstr in err). */
static void password_of(rc_config *c, char *out, size_t n, const char **from, char *err, size_t en) {
  char *pw = NULL;
  *from = "error";
  err[0] = 0;
  if (rc_source_password(c, &pw, from, err, en) == 0) {
    snprintf(out, n, "%s", pw);
  } else {
    out[0] = 0;
    *from = "error";
  }
  free(pw);
}

static void test_password_sources(void) {
  char pw[2048], err[512];
  const char *from;
  unsetenv(RC_SOURCE_PASSWORD_ENV);
  rc_config *c = with(NULL, NULL, NULL, NULL);
  password_of(c, pw, sizeof pw, &from, err, sizeof err);
  RC_CHECK_STR(pw, "");
  RC_CHECK_STR(from, "none");
  setenv(RC_SOURCE_PASSWORD_ENV, "from-env", 1);
  password_of(c, pw, sizeof pw, &from, err, sizeof err);
  RC_CHECK_STR(pw, "from-env");
  RC_CHECK_STR(from, RC_SOURCE_PASSWORD_ENV);
  rc_config_free(c);

  /* source.password wins over the environment */
  c = with("source.password", SECRET, NULL, NULL);
  password_of(c, pw, sizeof pw, &from, err, sizeof err);
  RC_CHECK_STR(pw, SECRET);
  RC_CHECK_STR(from, "source.password");
  rc_config_free(c);

  /* the file: its content, one trailing newline (LF or CRLF) removed, over the environment */
  const char *f = file_with(0, "pw", SECRET "\n", strlen(SECRET) + 1, 0600);
  c = with("source.password_file", f, NULL, NULL);
  password_of(c, pw, sizeof pw, &from, err, sizeof err);
  RC_CHECK_STR(pw, SECRET);
  RC_CHECK_STR(from, "source.password_file");
  RC_CHECK(rc_source_check(c, err, sizeof err) == 0);
  rc_config_free(c);
  f = file_with(0, "pw", "a b\r\n", 5, 0600);
  c = with("source.password_file", f, NULL, NULL);
  password_of(c, pw, sizeof pw, &from, err, sizeof err);
  RC_CHECK_STR(pw, "a b");
  rc_config_free(c);
  f = file_with(0, "pw", "two\n\n", 5, 0600); /* only one newline goes */
  c = with("source.password_file", f, NULL, NULL);
  password_of(c, pw, sizeof pw, &from, err, sizeof err);
  RC_CHECK_STR(pw, "two\n");
  rc_config_free(c);

  /* both set: refused, naming both keys */
  c = with("source.password", SECRET, "source.password_file", f);
  password_of(c, pw, sizeof pw, &from, err, sizeof err);
  RC_CHECK_STR(from, "error");
  RC_CHECK(strstr(err, "source.password and source.password_file") != NULL);
  RC_CHECK(rc_source_check(c, err, sizeof err) == RC_ERR_ARG);
  rc_config_free(c);
  unsetenv(RC_SOURCE_PASSWORD_ENV);
}

static void check_file_refused(const char *content, size_t len, mode_t mode, const char *want) {
  char pw[2048], err[512];
  const char *from;
  const char *f = file_with(1, "badpw", content, len, mode);
  rc_config *c = with("source.password_file", f, NULL, NULL);
  password_of(c, pw, sizeof pw, &from, err, sizeof err);
  RC_CHECK_STR(from, "error");
  RC_CHECK(strstr(err, f) != NULL && strstr(err, "source.password_file") != NULL);
  RC_CHECK(strstr(err, want) != NULL);
  RC_CHECK(rc_source_check(c, err, sizeof err) == RC_ERR_ARG);
  if (!strstr(err, want)) fprintf(stderr, "  got: %s\n", err);
  rc_config_free(c);
}

static void test_password_file_refused(void) {
  char big[1100];
  memset(big, 'p', sizeof big);
  check_file_refused("", 0, 0600, "is empty");
  check_file_refused("\n", 1, 0600, "is empty");
  check_file_refused("a\0b", 3, 0600, "NUL");
  check_file_refused(big, sizeof big, 0600, "more than 1024 bytes");
  char pw[16], err[512];
  const char *from;
  char missing[300];
  snprintf(missing, sizeof missing, "%s/no-such-file", tmpdir);
  rc_config *c = with("source.password_file", missing, NULL, NULL);
  password_of(c, pw, sizeof pw, &from, err, sizeof err);
  RC_CHECK(strstr(err, missing) && strstr(err, "No such file"));
  rc_config_free(c);
}

/* rc_source_check on a config with these two keys set: 0, or the error with `want` in it. */
static void check_tls(const char *k1, const char *v1, const char *k2, const char *v2, const char *want) {
  char err[512] = "";
  rc_config *c = with(k1, v1, k2, v2);
  int r = rc_source_check(c, err, sizeof err);
  if (!want) {
    RC_CHECK(r == 0);
    if (r) fprintf(stderr, "  unexpected: %s\n", err);
  } else {
    RC_CHECK(r == RC_ERR_ARG && strstr(err, want) != NULL);
    if (!strstr(err, want)) fprintf(stderr, "  got '%s', want '%s'\n", err, want);
  }
  rc_config_free(c);
}

static void test_tls_keys(void) {
  const char *ca = file_with(2, "ca.pem", "x", 1, 0644);
  char missing[300];
  snprintf(missing, sizeof missing, "%s/missing-ca.pem", tmpdir);
  rc_config *c = rc_config_new();
  RC_CHECK(rc_source_tls_mode(c) == RC_TLS_PREFERRED); /* the default */
  rc_config_free(c);
  c = with("source.tls", "verify_identity", NULL, NULL);
  RC_CHECK(rc_source_tls_mode(c) == RC_TLS_VERIFY_IDENTITY);
  rc_config_free(c);
  check_tls("source.tls", "verify_ca", "source.tls_ca", ca, NULL);
  check_tls("source.tls", "verify_identity", NULL, NULL, NULL); /* the system's CAs */
  check_tls("source.tls", "verify_identity", "source.tls_ca", ca, NULL);
  check_tls("source.tls", "required", NULL, NULL, NULL);
  check_tls("source.tls", "disabled", NULL, NULL, NULL);
  check_tls("source.tls", "verify_ca", NULL, NULL, "source.tls=verify_ca needs source.tls_ca");
  check_tls("source.tls", "verify_ca", "source.tls_ca", missing, missing);
  check_tls("source.tls", "verify_identity", "source.tls_ca", missing, "source.tls_ca: cannot read");
  check_tls("source.tls", "required", "source.tls_ca", ca, "does not check the server's certificate");
  check_tls("source.tls_ca", ca, NULL, NULL, "source.tls=preferred does not check");
  check_tls("source.tls", "disabled", "source.tls_ca", ca, "source.tls_ca is set but source.tls=disabled");
  check_tls("source.tls_cert", ca, NULL, NULL, "source.tls_cert is set without source.tls_key");
  check_tls("source.tls_key", ca, NULL, NULL, "source.tls_key is set without source.tls_cert");
  /* cert and key, each checked readable */
  char err[512];
  c = with("source.tls_cert", ca, "source.tls_key", missing);
  RC_CHECK(rc_source_check(c, err, sizeof err) == RC_ERR_ARG && strstr(err, "source.tls_key") && strstr(err, missing));
  rc_config_free(c);
  c = with("source.tls_cert", ca, "source.tls_key", ca);
  RC_CHECK(rc_source_check(c, err, sizeof err) == 0);
  rc_config_free(c);
  char bad[] = "source.tls=verify_all";
  c = rc_config_new();
  RC_CHECK(rc_config_set_arg(c, bad, err, sizeof err) == RC_ERR_ARG && strstr(err, "verify_identity"));
  rc_config_free(c);
}

static void test_private_mode(void) {
  char msg[600];
  const char *f = file_with(3, "conf.ini", "x", 1, 0600);
  RC_CHECK(rc_private_mode_check(f, "the config file", msg, sizeof msg) == 0);
  chmod(f, 0640);
  RC_CHECK(rc_private_mode_check(f, "the config file", msg, sizeof msg) == 1);
  RC_CHECK(strstr(msg, f) && strstr(msg, "mode 0640") && strstr(msg, "chmod 600"));
  chmod(f, 0602);
  RC_CHECK(rc_private_mode_check(f, "x", msg, sizeof msg) == 1 && strstr(msg, "changed"));
  char dir[300];
  snprintf(dir, sizeof dir, "%s/a/b/state", tmpdir);
  char err[512];
  mode_t old = umask(022);
  RC_CHECK(rc_mkdirs(dir, err, sizeof err) == 0);
  umask(old);
  struct stat sb;
  RC_CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
  RC_CHECK(rc_private_mode_check(dir, "state.dir", msg, sizeof msg) == 0);
  chmod(dir, 0755);
  RC_CHECK(rc_private_mode_check(dir, "state.dir", msg, sizeof msg) == 1 && strstr(msg, "chmod 700"));
  snprintf(dir, sizeof dir, "%s/run/", tmpdir); /* a trailing slash: the same directory */
  RC_CHECK(rc_mkdirs(dir, err, sizeof err) == 0);
  snprintf(dir, sizeof dir, "%s/run", tmpdir);
  RC_CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
  char missing[300];
  snprintf(missing, sizeof missing, "%s/none", tmpdir);
  RC_CHECK(rc_private_mode_check(missing, "x", msg, sizeof msg) == 0);
}

static void test_secrets_never_shown(void) {
  RC_CHECK(rc_config_is_secret("source.password"));
  RC_CHECK(rc_config_is_secret("kafka.sasl.password"));
  RC_CHECK(rc_config_is_secret("kafka.ssl.key.password"));
  RC_CHECK(rc_config_is_secret("kafka.sasl.oauthbearer.client.secret"));
  RC_CHECK(!rc_config_is_secret("source.password_file"));
  RC_CHECK(!rc_config_is_secret("source.user"));
  RC_CHECK(!rc_config_is_secret("kafka.bootstrap.servers"));

  /* an error about the value names the key, never the value */
  char err[1024], arg[1200], big[1100];
  memset(big, 'S', sizeof big - 1);
  big[sizeof big - 1] = 0;
  rc_config *c = rc_config_new();
  snprintf(arg, sizeof arg, "source.password=%s", big);
  RC_CHECK(rc_config_set_arg(c, arg, err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(strstr(err, "source.password") && !strstr(err, "SSSS") && strstr(err, "1099 characters"));
  RC_CHECK(rc_config_set(c, "source.password", big, err, sizeof err) == RC_ERR_ARG && !strstr(err, "SSSS"));
  RC_CHECK(rc_config_set_arg(c, "kafka.sasl.password= " SECRET " ;x", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(strstr(err, "kafka.sasl.password") && !strstr(err, SECRET));
  RC_CHECK(rc_config_set_arg(c, "source.user=" SECRET " ;x", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(strstr(err, SECRET) != NULL); /* not a secret: the value is quoted as always */

  /* rc_config_print: every key, secrets redacted */
  RC_CHECK(rc_config_set(c, "source.password", SECRET, err, sizeof err) == 0);
  RC_CHECK(rc_config_set(c, "kafka.sasl.password", SECRET "k", err, sizeof err) == 0);
  RC_CHECK(rc_config_set(c, "kafka.sasl.username", "alice", err, sizeof err) == 0);
  RC_CHECK(rc_config_set(c, "schema_registry.url", "https://bob:" SECRET "r@registry:8081/x", err, sizeof err) == 0);
  RC_CHECK_STR(rc_config_kafka_shown(c, 0), "(redacted)"); /* kafka.sasl.password */
  RC_CHECK_STR(rc_config_kafka_shown(c, 1), "alice");
  RC_CHECK(rc_config_kafka_shown(c, 2) == NULL);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  rc_config_print(c, f);
  fclose(f);
  RC_CHECK(!strstr(text, SECRET));
  RC_CHECK(strstr(text, "\npassword = (redacted)\n") && strstr(text, "\nsasl.password = (redacted)\n"));
  RC_CHECK(strstr(text, "\nsasl.username = alice\n") && strstr(text, "url = https://bob:(redacted)@registry:8081/x\n"));
  RC_CHECK(strstr(text, "\nworkers = auto\n") && strstr(text, "\ntls = preferred\n") && strstr(text, "\nmax_changes = 1000\n"));
  for (size_t i = 0; i < rc_config_key_count(); i++) {
    const char *dot = strchr(rc_config_key_name(i), '.');
    char line[200];
    snprintf(line, sizeof line, "\n%s =", dot + 1);
    RC_CHECK(strstr(text, line) != NULL);
  }
  free(text);
  rc_config_free(c);
}

static void cleanup(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

void rc_tests(void) {
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    exit(2);
  }
  RC_RUN(test_password_sources);
  RC_RUN(test_password_file_refused);
  RC_RUN(test_tls_keys);
  RC_RUN(test_private_mode);
  RC_RUN(test_secrets_never_shown);
  cleanup();
}
