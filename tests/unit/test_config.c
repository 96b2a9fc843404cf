/*
 * test_config.c: unit tests of common/pipeline/config.c: defaults, INI files, -o overrides, errors,
 * kafka.* passthrough, write/load round trip, help and the generated docs/CONFIGURATION.md
 * (compared with the committed file when ROWCAST_SOURCE_DIR is set).
 */
#include "config.h"
#include "rc_err.h"
#include "rc_test.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/rc_test_config.XXXXXX";

/* Write text to a fresh file in tmpdir; returns its path (static buffer). */
static const char *write_tmp(const char *name, const char *text) {
  static char path[256];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "w");
  if (!f) {
    perror(path);
    exit(2);
  }
  fputs(text, f);
  fclose(f);
  return path;
}

static int contains(const char *hay, const char *needle) { return strstr(hay, needle) != NULL; }

static void test_defaults(void) {
  rc_config *c = rc_config_new();
  RC_CHECK(c != NULL);
  RC_CHECK(rc_config_int(c, "batch.max_changes") == 1000);
  RC_CHECK(rc_config_int(c, "batch.max_ms") == 1000);
  RC_CHECK(rc_config_int(c, "serializer.workers") == 2);
  RC_CHECK_STR(rc_config_str(c, "serializer.format"), "avro");
  RC_CHECK_STR(rc_config_str(c, "publisher.topic_prefix"), "rowcast");
  RC_CHECK(rc_config_int(c, "publisher.checkpoint_interval_ms") == 1000);
  RC_CHECK(rc_config_int(c, "pipe.buffer_bytes") == 4 * 1024 * 1024);
  RC_CHECK(rc_config_int(c, "pipe.max_message_bytes") == 64 * 1024 * 1024);
  RC_CHECK_STR(rc_config_str(c, "state.dir"), "rowcast-state");
  RC_CHECK_STR(rc_config_str(c, "run.dir"), "");
  RC_CHECK(rc_config_int(c, "metrics.interval_ms") == 1000);
  RC_CHECK(rc_config_int(c, "supervisor.restart_delay_ms") == 1000);
  RC_CHECK(rc_config_int(c, "supervisor.max_restarts") == 10);
  RC_CHECK(rc_config_int(c, "supervisor.stall_timeout_ms") == 30000);
  RC_CHECK(rc_config_kafka_count(c) == 0);
  RC_CHECK(rc_config_int(c, "publisher.headers") == 0);
  RC_CHECK(rc_config_key_count() == 50);
  RC_CHECK(rc_config_int(c, "pipe.shared_bytes") == 16 * 1024 * 1024);
  RC_CHECK_STR(rc_config_str(c, "snapshot.mode"), "initial");
  RC_CHECK_STR(rc_config_str(c, "snapshot.tables"), "*.*");
  RC_CHECK(rc_config_int(c, "snapshot.chunk_rows") == 10000);
  RC_CHECK(rc_config_int(c, "source.gtid_resume") == 0);
  RC_CHECK(rc_config_key_name(rc_config_key_count()) == NULL);
  rc_config_free(c);
  rc_config_free(NULL);
}

static void test_load_file(void) {
  const char *path = write_tmp("load.ini",
                               "; rowcast test config\n"
                               "# another comment\n"
                               "\n"
                               "batch.max_ms = 250\n" /* whole key before any section */
                               "[batch]\n"
                               "max_changes = 5000 ; inline comment\n"
                               "[pipe]\n"
                               "  buffer_bytes = 16M\n" /* indented: a key, not a continuation */
                               "max_message_bytes=1g\r\n"
                               "[publisher]\n"
                               "topic_prefix = cdc.prod-1_x\n"
                               "checkpoint_interval_ms = 50ms\n"
                               "[run]\n"
                               "dir =\n"
                               "[kafka]\n"
                               "bootstrap.servers = k1:9092,k2:9092\n"
                               "compression.type: zstd\n");
  rc_config *c = rc_config_new();
  char err[512] = "";
  int r = rc_config_load_file(c, path, err, sizeof err);
  RC_CHECK(r == 0);
  if (r) fprintf(stderr, "  %s\n", err);
  RC_CHECK(rc_config_int(c, "batch.max_ms") == 250);
  RC_CHECK(rc_config_int(c, "batch.max_changes") == 5000);
  RC_CHECK(rc_config_int(c, "pipe.buffer_bytes") == 16 * 1024 * 1024);
  RC_CHECK(rc_config_int(c, "pipe.max_message_bytes") == 1024 * 1024 * 1024);
  RC_CHECK_STR(rc_config_str(c, "publisher.topic_prefix"), "cdc.prod-1_x");
  RC_CHECK(rc_config_int(c, "publisher.checkpoint_interval_ms") == 50);
  RC_CHECK_STR(rc_config_str(c, "run.dir"), "");
  RC_CHECK(rc_config_int(c, "serializer.workers") == 2); /* untouched keys keep defaults */
  RC_CHECK(rc_config_kafka_count(c) == 2);
  RC_CHECK_STR(rc_config_kafka_key(c, 0), "bootstrap.servers");
  RC_CHECK_STR(rc_config_kafka_value(c, 0), "k1:9092,k2:9092");
  RC_CHECK_STR(rc_config_kafka_key(c, 1), "compression.type");
  RC_CHECK_STR(rc_config_kafka_value(c, 1), "zstd");
  RC_CHECK(rc_config_kafka_key(c, 2) == NULL);

  /* a missing file: RC_ERR_IO naming it */
  r = rc_config_load_file(c, "/nonexistent/rowcast.ini", err, sizeof err);
  RC_CHECK(r == RC_ERR_IO);
  RC_CHECK(contains(err, "/nonexistent/rowcast.ini"));
  rc_config_free(c);
}

static void test_override_wins(void) {
  const char *path = write_tmp("override.ini", "[batch]\nmax_changes = 5000\nmax_ms = 20\n");
  rc_config *c = rc_config_new();
  char err[512] = "";
  RC_CHECK(rc_config_load_file(c, path, err, sizeof err) == 0);
  RC_CHECK(rc_config_set_arg(c, "batch.max_changes=7", err, sizeof err) == 0);
  RC_CHECK(rc_config_set_arg(c, "  serializer.workers =  8 ", err, sizeof err) == 0);
  RC_CHECK(rc_config_set_arg(c, "kafka.sasl.password=a=b:c", err, sizeof err) == 0);
  RC_CHECK(rc_config_int(c, "batch.max_changes") == 7);
  RC_CHECK(rc_config_int(c, "batch.max_ms") == 20); /* from the file */
  RC_CHECK(rc_config_int(c, "serializer.workers") == 8);
  /* auto (the default): the CPUs online less 2, from 2 to 4; 0 is still refused */
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  int64_t want = ncpu - 2 < 2 ? 2 : ncpu - 2 > 4 ? 4 : ncpu - 2;
  RC_CHECK(rc_config_set_arg(c, "serializer.workers=auto", err, sizeof err) == 0);
  RC_CHECK(rc_config_int(c, "serializer.workers") == want);
  RC_CHECK(rc_config_set_arg(c, "serializer.workers=0", err, sizeof err) < 0);
  RC_CHECK(rc_config_set_arg(c, "serializer.workers=8", err, sizeof err) == 0);
  RC_CHECK_STR(rc_config_kafka_value(c, 0), "a=b:c"); /* only the first '=' splits */
  RC_CHECK(rc_config_set(c, "state.dir", " /var/lib/rowcast ", err, sizeof err) == 0);
  RC_CHECK_STR(rc_config_str(c, "state.dir"), "/var/lib/rowcast");

  RC_CHECK(rc_config_set_arg(c, "batch.max_changes", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(contains(err, "section.key=value"));
  RC_CHECK(rc_config_set_arg(c, "=5", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(rc_config_set_arg(c, "batch.max_ms=0", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(contains(err, "-o batch.max_ms=0"));
  RC_CHECK(contains(err, "from 1 to 60000"));
  RC_CHECK(rc_config_int(c, "batch.max_ms") == 20); /* a failed set changes nothing */
  rc_config_free(c);
}

static void test_unknown_key(void) {
  const char *path = write_tmp("unknown.ini", "[batch]\nmax_changes = 10\nmax_change = 10\n");
  rc_config *c = rc_config_new();
  char err[512] = "";
  RC_CHECK(rc_config_load_file(c, path, err, sizeof err) == RC_ERR_ARG);
  char where[300];
  snprintf(where, sizeof where, "%s:3:", path);
  RC_CHECK(contains(err, where));
  RC_CHECK(contains(err, "'batch.max_change'"));
  RC_CHECK(contains(err, "did you mean 'batch.max_changes'"));
  /* all or nothing: line 2 was good, but the load failed */
  RC_CHECK(rc_config_int(c, "batch.max_changes") == 1000);

  RC_CHECK(rc_config_set(c, "nosuch.key", "1", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(contains(err, "unknown key 'nosuch.key'"));
  RC_CHECK(!contains(err, "did you mean"));
  RC_CHECK(rc_config_set(c, "workers", "1", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(contains(err, "did you mean 'serializer.workers'"));
  path = write_tmp("toplevel.ini", "max_changes = 10\n");
  RC_CHECK(rc_config_load_file(c, path, err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(contains(err, ":1: unknown key 'max_changes'"));
  rc_config_free(c);
}

/* One bad assignment: RC_ERR_ARG, and errstr holds each of the `want` strings. */
static void check_bad(rc_config *c, const char *key, const char *value, const char *want1,
                      const char *want2) {
  char err[512] = "";
  int r = rc_config_set(c, key, value, err, sizeof err);
  RC_CHECK(r == RC_ERR_ARG);
  if (r != RC_ERR_ARG) fprintf(stderr, "  %s = '%s' was accepted\n", key, value);
  if (want1 && !contains(err, want1)) fprintf(stderr, "  '%s' not in '%s'\n", want1, err);
  if (want2 && !contains(err, want2)) fprintf(stderr, "  '%s' not in '%s'\n", want2, err);
  RC_CHECK(!want1 || contains(err, want1));
  RC_CHECK(!want2 || contains(err, want2));
}

static void test_bad_values(void) {
  rc_config *c = rc_config_new();
  check_bad(c, "batch.max_changes", "abc", "batch.max_changes", "an integer from 1 to 1000000");
  check_bad(c, "batch.max_changes", "", "batch.max_changes", "an integer");
  check_bad(c, "batch.max_changes", "12x", "'12x'", NULL);
  check_bad(c, "batch.max_changes", "0x10", "'0x10'", NULL);
  check_bad(c, "batch.max_changes", "1.5", "'1.5'", NULL);
  check_bad(c, "batch.max_changes", "0", "out of bounds", "from 1 to 1000000");
  check_bad(c, "batch.max_changes", "1000001", "out of bounds", NULL);
  check_bad(c, "batch.max_changes", "-5", "out of bounds", NULL);
  check_bad(c, "batch.max_changes", "99999999999999999999999", "out of bounds", NULL);
  check_bad(c, "serializer.workers", "65", "out of bounds", "from 1 to 64");
  check_bad(c, "batch.max_ms", "1s", "milliseconds from 1 to 60000", NULL);
  check_bad(c, "supervisor.restart_delay_ms", "999", "out of bounds", "from 1000 to 600000");
  check_bad(c, "pipe.buffer_bytes", "4mb", "'4mb'", "suffixes k, m, g");
  check_bad(c, "pipe.buffer_bytes", "4t", "'4t'", NULL);
  check_bad(c, "pipe.buffer_bytes", "4 m", "'4 m'", NULL);
  check_bad(c, "pipe.buffer_bytes", "k", "'k'", NULL);
  check_bad(c, "pipe.buffer_bytes", "2g", "out of bounds", "from 64k to 1g");
  check_bad(c, "pipe.buffer_bytes", "65535", "out of bounds", NULL);
  check_bad(c, "pipe.buffer_bytes", "9999999999999g", "out of bounds", NULL);
  check_bad(c, "serializer.format", "protobuf", "'protobuf' is not allowed", "one of avro, json");
  check_bad(c, "serializer.format", "JSON", "one of avro, json", NULL);
  check_bad(c, "publisher.topic_prefix", "", "publisher.topic_prefix", "1 to 119 characters");
  check_bad(c, "publisher.topic_prefix", "my topic", "' '", "[a-zA-Z0-9._-]");
  check_bad(c, "publisher.topic_prefix", "cdc/x", "'/'", NULL);
  char long_prefix[121];
  memset(long_prefix, 'p', 120);
  long_prefix[120] = 0;
  check_bad(c, "publisher.topic_prefix", long_prefix, "120 characters", NULL);
  check_bad(c, "state.dir", "", "state.dir", "1 to 4000 characters");
  check_bad(c, "state.dir", "a\nb", "one line", NULL);
  check_bad(c, "state.dir", "x ;y", "comment", NULL);

  /* every failure above left the defaults alone */
  RC_CHECK(rc_config_int(c, "batch.max_changes") == 1000);
  RC_CHECK(rc_config_int(c, "pipe.buffer_bytes") == 4 << 20);
  RC_CHECK_STR(rc_config_str(c, "publisher.topic_prefix"), "rowcast");
  RC_CHECK_STR(rc_config_str(c, "state.dir"), "rowcast-state");

  /* the accepted forms */
  char err[512];
  static const struct {
    const char *key, *value;
    int64_t want;
  } good[] = {
      {"pipe.buffer_bytes", "64k", 64 << 10},   {"pipe.buffer_bytes", "64K", 64 << 10},
      {"pipe.buffer_bytes", "5m", 5 << 20},     {"pipe.buffer_bytes", "5M", 5 << 20},
      {"pipe.buffer_bytes", "1g", 1 << 30},     {"pipe.buffer_bytes", "1G", 1 << 30},
      {"pipe.buffer_bytes", "100000", 100000},  {"batch.max_ms", "60000", 60000},
      {"batch.max_ms", "7ms", 7},               {"batch.max_changes", "+12", 12},
      {"supervisor.max_restarts", "0", 0},      {"supervisor.max_restarts", "1000000", 1000000},
  };
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    int r = rc_config_set(c, good[i].key, good[i].value, err, sizeof err);
    RC_CHECK(r == 0);
    if (r) fprintf(stderr, "  %s\n", err);
    RC_CHECK(rc_config_int(c, good[i].key) == good[i].want);
  }
  RC_CHECK(rc_config_set(c, "publisher.topic_prefix", "a", err, sizeof err) == 0);
  RC_CHECK(rc_config_set(c, "run.dir", "/run/rowcast", err, sizeof err) == 0);
  RC_CHECK_STR(rc_config_str(c, "run.dir"), "/run/rowcast");

  /* bad values in a file name the file and line */
  const char *path = write_tmp("bad.ini", "[pipe]\nbuffer_bytes = 4m\n\nbuffer_bytes = 4x\n");
  RC_CHECK(rc_config_load_file(c, path, err, sizeof err) == RC_ERR_ARG);
  char where[300];
  snprintf(where, sizeof where, "%s:4: pipe.buffer_bytes: '4x'", path);
  RC_CHECK(contains(err, where));
  rc_config_free(c);
}

static void test_syntax_errors(void) {
  rc_config *c = rc_config_new();
  char err[512], where[600];
  const char *path = write_tmp("syntax1.ini", "[batch]\nmax_changes\n");
  RC_CHECK(rc_config_load_file(c, path, err, sizeof err) == RC_ERR_ARG);
  snprintf(where, sizeof where, "%s:2: 'max_changes': expected key = value", path);
  RC_CHECK(contains(err, where));

  path = write_tmp("syntax2.ini", "[batch\nmax_changes = 5\n");
  RC_CHECK(rc_config_load_file(c, path, err, sizeof err) == RC_ERR_ARG);
  snprintf(where, sizeof where, "%s:1: '[batch': a [section] line lacks its closing ']'", path);
  RC_CHECK(contains(err, where));

  /* the first error is the one reported */
  path = write_tmp("syntax3.ini", "[batch]\noops\nnosuch = 1\n");
  RC_CHECK(rc_config_load_file(c, path, err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(contains(err, ":2: 'oops'"));

  path = write_tmp("syntax4.ini", "[batch]\n= 5\n");
  RC_CHECK(rc_config_load_file(c, path, err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(contains(err, ":2: a key is missing"));

  /* an indented line after a key is a key of its own, not a continuation of the value */
  path = write_tmp("indent.ini", "[batch]\nmax_changes = 5\n   oops\n");
  RC_CHECK(rc_config_load_file(c, path, err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(contains(err, ":3: 'oops'"));

  /* long lines: up to RC_CONFIG_LINE_MAX read whole, longer refused (never split) */
  size_t n = RC_CONFIG_LINE_MAX + 100;
  char *text = malloc(n + 64);
  int len = snprintf(text, n + 64, "[kafka]\nsasl.username = ");
  memset(text + len, 'u', RC_CONFIG_LINE_MAX - strlen("sasl.username = "));
  strcpy(text + len + RC_CONFIG_LINE_MAX - strlen("sasl.username = "), "\n");
  path = write_tmp("long1.ini", text);
  int r = rc_config_load_file(c, path, err, sizeof err);
  RC_CHECK(r == 0);
  if (r) fprintf(stderr, "  %s\n", err);
  RC_CHECK(rc_config_kafka_count(c) == 1);
  RC_CHECK(rc_config_kafka_value(c, 0) &&
           strlen(rc_config_kafka_value(c, 0)) == RC_CONFIG_LINE_MAX - strlen("sasl.username = "));
  strcpy(text + len + RC_CONFIG_LINE_MAX - strlen("sasl.username = "), "u\nbogus\n");
  path = write_tmp("long2.ini", text);
  RC_CHECK(rc_config_load_file(c, path, err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(contains(err, ":2: the line is 4097 characters long; a config line holds at most 4096"));
  free(text);
  rc_config_free(c);
}

static void test_kafka_passthrough(void) {
  const char *path = write_tmp("kafka.ini",
                               "[kafka]\n"
                               "bootstrap.servers = a:9092\n"
                               "linger.ms = 5\n"
                               "[kafka.ssl]\n"
                               "ca.location = /etc/ssl/ca.pem\n"
                               "[batch]\n"
                               "max_changes = 3\n"
                               "[kafka]\n"
                               "acks = all\n");
  rc_config *c = rc_config_new();
  char err[512] = "";
  RC_CHECK(rc_config_load_file(c, path, err, sizeof err) == 0);
  RC_CHECK(rc_config_set_arg(c, "kafka.client.id=rowcast-test", err, sizeof err) == 0);
  RC_CHECK(rc_config_set_arg(c, "kafka.linger.ms=50", err, sizeof err) == 0); /* in place */
  RC_CHECK(rc_config_set(c, "kafka.not.a.real.property", "whatever", err, sizeof err) == 0);
  static const char *want[][2] = {
      {"bootstrap.servers", "a:9092"},        {"linger.ms", "50"}, {"ssl.ca.location", "/etc/ssl/ca.pem"},
      {"acks", "all"},                        {"client.id", "rowcast-test"},
      {"not.a.real.property", "whatever"},
  };
  size_t n = sizeof want / sizeof want[0];
  RC_CHECK(rc_config_kafka_count(c) == n);
  for (size_t i = 0; i < n && i < rc_config_kafka_count(c); i++) {
    RC_CHECK_STR(rc_config_kafka_key(c, i), want[i][0]);
    RC_CHECK_STR(rc_config_kafka_value(c, i), want[i][1]);
  }
  RC_CHECK(rc_config_set(c, "kafka.", "x", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(contains(err, "kafka.bootstrap.servers"));
  RC_CHECK(rc_config_set(c, "kafka", "x", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(rc_config_set(c, "kafka.a b", "x", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(rc_config_set(c, "kafka.a=b", "x", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(rc_config_set(c, "kafka.sasl.password", ";secret", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(contains(err, "comment"));
  RC_CHECK(rc_config_set(c, "kafka.ssl.key.pem", "-----BEGIN\nabc\n-----END", err, sizeof err) ==
           RC_ERR_ARG);
  RC_CHECK(contains(err, "one line"));
  RC_CHECK(rc_config_kafka_count(c) == n);
  rc_config_free(c);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char *buf = NULL;
  size_t size = 0;
  FILE *m = open_memstream(&buf, &size);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) fwrite(chunk, 1, n, m);
  fclose(f);
  fclose(m);
  return buf;
}

/* a and b write the same file, and hold the same kafka.* properties. */
static void check_same(const rc_config *a, const rc_config *b) {
  char pa[300], pb[300], err[512] = "";
  snprintf(pa, sizeof pa, "%s/same_a.ini", tmpdir);
  snprintf(pb, sizeof pb, "%s/same_b.ini", tmpdir);
  RC_CHECK(rc_config_write(a, pa, err, sizeof err) == 0);
  RC_CHECK(rc_config_write(b, pb, err, sizeof err) == 0);
  char *ta = slurp(pa), *tb = slurp(pb);
  RC_CHECK(ta && tb && strcmp(ta, tb) == 0);
  free(ta);
  free(tb);
  RC_CHECK(rc_config_kafka_count(a) == rc_config_kafka_count(b));
  for (size_t i = 0; i < rc_config_kafka_count(a); i++) {
    RC_CHECK_STR(rc_config_kafka_key(b, i), rc_config_kafka_key(a, i));
    RC_CHECK_STR(rc_config_kafka_value(b, i), rc_config_kafka_value(a, i));
  }
}

static void test_write_roundtrip(void) {
  rc_config *a = rc_config_new();
  char err[512] = "", path[300], tmp[310];
  snprintf(path, sizeof path, "%s/effective.ini", tmpdir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);

  /* all defaults: an empty config, read back as all defaults */
  RC_CHECK(rc_config_write(a, path, err, sizeof err) == 0);
  char *text = slurp(path);
  RC_CHECK(text && !contains(text, "="));
  free(text);

  static const char *sets[][2] = {
      {"batch.max_changes", "42"},
      {"batch.max_ms", "5"},
      {"pipe.buffer_bytes", "65536"},
      {"pipe.max_message_bytes", "1536k"},
      {"publisher.topic_prefix", "cdc.prod"},
      {"state.dir", "/var/lib/row cast # not a comment"},
      {"run.dir", "/run/rc;x"},
      {"supervisor.max_restarts", "0"},
      {"kafka.bootstrap.servers", "k1:9092,k2:9092"},
      {"kafka.sasl.password", "p=a:s#s;w\"o'rd"},
      {"kafka.client.id", ""},
      {"kafka.ssl.ca.location", "/etc/ssl/ca.pem"},
  };
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
    RC_CHECK(rc_config_set(a, sets[i][0], sets[i][1], err, sizeof err) == 0);
  RC_CHECK(rc_config_write(a, path, err, sizeof err) == 0);
  struct stat st;
  RC_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
  RC_CHECK(access(tmp, F_OK) != 0); /* renamed away */
  text = slurp(path);
  RC_CHECK(text != NULL);
  if (text) {
    RC_CHECK(contains(text, "[batch]\nmax_changes = 42\nmax_ms = 5\n"));
    RC_CHECK(contains(text, "max_message_bytes = 1536k\n"));
    RC_CHECK(!contains(text, "workers")); /* defaults are not written */
    RC_CHECK(!contains(text, "format"));
    RC_CHECK(contains(text, "[kafka]\nbootstrap.servers = k1:9092,k2:9092\n"));
  }
  free(text);

  rc_config *b = rc_config_new();
  RC_CHECK(rc_config_load_file(b, path, err, sizeof err) == 0);
  check_same(a, b);
  RC_CHECK(rc_config_int(b, "batch.max_changes") == 42);
  RC_CHECK(rc_config_int(b, "batch.max_ms") == 5);
  RC_CHECK(rc_config_int(b, "pipe.buffer_bytes") == 65536);
  RC_CHECK(rc_config_int(b, "pipe.max_message_bytes") == 1536 * 1024);
  RC_CHECK(rc_config_int(b, "supervisor.max_restarts") == 0);
  RC_CHECK(rc_config_int(b, "serializer.workers") == 2);
  RC_CHECK_STR(rc_config_str(b, "publisher.topic_prefix"), "cdc.prod");
  RC_CHECK_STR(rc_config_str(b, "run.dir"), "/run/rc;x");
  RC_CHECK_STR(rc_config_str(b, "state.dir"), "/var/lib/row cast # not a comment");
  RC_CHECK_STR(rc_config_kafka_value(b, 1), "p=a:s#s;w\"o'rd");
  RC_CHECK_STR(rc_config_kafka_value(b, 2), "");

  /* write over an existing file, then the written file reads back the same again */
  RC_CHECK(rc_config_set(a, "batch.max_changes", "1000", err, sizeof err) == 0);
  RC_CHECK(rc_config_write(a, path, err, sizeof err) == 0);
  rc_config *d = rc_config_new();
  RC_CHECK(rc_config_load_file(d, path, err, sizeof err) == 0);
  check_same(a, d);
  RC_CHECK(rc_config_int(d, "batch.max_changes") == 1000);

  /* a directory that does not exist: RC_ERR_IO, nothing left behind */
  RC_CHECK(rc_config_write(a, "/nonexistent/dir/x.ini", err, sizeof err) == RC_ERR_IO);
  RC_CHECK(contains(err, "/nonexistent/dir/x.ini"));
  rc_config_free(a);
  rc_config_free(b);
  rc_config_free(d);
}

/* A call with a key not in the table aborts (a programming error), in a child process. */
static int dies_of_abort(int which) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(3);
    rc_config *c = rc_config_new();
    if (which == 0) (void)rc_config_int(c, "batch.nosuch");
    if (which == 1) (void)rc_config_str(c, "nosuch");
    if (which == 2) (void)rc_config_str(c, "batch.max_changes"); /* wrong type */
    if (which == 3) (void)rc_config_int(c, "state.dir");
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

static void test_unknown_key_aborts(void) {
  for (int i = 0; i < 4; i++) RC_CHECK(dies_of_abort(i));
}

static void test_help_mentions_every_key(void) {
  char *help = NULL, *md = NULL;
  size_t help_len = 0, md_len = 0;
  FILE *f = open_memstream(&help, &help_len);
  rc_config_help(f);
  fclose(f);
  f = open_memstream(&md, &md_len);
  rc_config_markdown(f);
  fclose(f);
  for (size_t i = 0; i < rc_config_key_count(); i++) {
    const char *k = rc_config_key_name(i);
    char line[128];
    snprintf(line, sizeof line, "\n%s\n", k);
    RC_CHECK(contains(help, line));
    snprintf(line, sizeof line, "### `%s`\n", k);
    RC_CHECK(contains(md, line));
    if (!contains(help, k) || !contains(md, k)) fprintf(stderr, "  %s missing\n", k);
  }
  RC_CHECK(contains(help, "kafka.*"));
  RC_CHECK(contains(md, "### `kafka.*`"));
  RC_CHECK(contains(help, "bytes, default 4m (4194304 bytes)\n    allowed: a size from 64k to 1g"));
  RC_CHECK(contains(md, "Avro"));
  /* help lines fit a terminal */
  for (char *p = help; *p;) {
    size_t n = strcspn(p, "\n");
    RC_CHECK(n <= 90);
    p += n + (p[n] == '\n');
  }
  free(help);
  free(md);
}

static void test_docs_up_to_date(void) {
  const char *src = getenv("ROWCAST_SOURCE_DIR");
  if (!src) {
    fprintf(stderr, "test_docs_up_to_date: ROWCAST_SOURCE_DIR unset, skipped\n");
    return;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/docs/CONFIGURATION.md", src);
  char *doc = slurp(path);
  char *md = NULL;
  size_t md_len = 0;
  FILE *f = open_memstream(&md, &md_len);
  rc_config_markdown(f);
  fclose(f);
  RC_CHECK(doc != NULL);
  int same = doc && strcmp(doc, md) == 0;
  RC_CHECK(same);
  if (!same)
    fprintf(stderr,
            "  %s is not what rc_config_markdown() generates: regenerate it with gen_config_doc "
            "> docs/CONFIGURATION.md\n",
            path);
  free(doc);
  free(md);
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
  RC_RUN(test_defaults);
  RC_RUN(test_load_file);
  RC_RUN(test_override_wins);
  RC_RUN(test_unknown_key);
  RC_RUN(test_bad_values);
  RC_RUN(test_syntax_errors);
  RC_RUN(test_kafka_passthrough);
  RC_RUN(test_write_roundtrip);
  RC_RUN(test_unknown_key_aborts);
  RC_RUN(test_help_mentions_every_key);
  RC_RUN(test_docs_up_to_date);
  cleanup();
}
