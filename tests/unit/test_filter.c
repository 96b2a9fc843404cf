/*
 * test_filter.c: the table and column patterns (common/pipeline/filter.c): the list syntax
 * (blanks, empty elements, dots), fnmatch wildcards matched part by part, include/exclude
 * precedence, column exclusion over masking, the mask key from a key file (trailing newline
 * dropped, empty or missing refused), masking without a key refused, and the config keys
 * refusing bad patterns as they are set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "filter.h"
#include "rc_err.h"
#include "rc_test.h"

static char err[512];

static int parse_ok(const char *list, int parts) {
  rc_patterns *p;
  int r = rc_patterns_parse(&p, list, parts, err, sizeof err);
  rc_patterns_free(p);
  return r == 0;
}

static void test_syntax(void) {
  RC_CHECK(parse_ok("", 2));
  RC_CHECK(parse_ok(NULL, 2));
  RC_CHECK(parse_ok("  ", 2));
  RC_CHECK(parse_ok("shop.orders", 2));
  RC_CHECK(parse_ok(" shop.* , *.t_? ,a[bc].d ", 2));
  RC_CHECK(parse_ok("shop.users.email", 3));
  RC_CHECK(parse_ok("a\\.b.c", 2)); /* a quoted dot is part of the name */
  RC_CHECK(!parse_ok("shop", 2));
  RC_CHECK(strstr(err, "'shop'") && strstr(err, "DB.TABLE"));
  RC_CHECK(!parse_ok("shop.a.b", 2));
  RC_CHECK(!parse_ok("shop.users", 3));
  RC_CHECK(strstr(err, "DB.TABLE.COLUMN"));
  RC_CHECK(!parse_ok("a.b,,c.d", 2));
  RC_CHECK(strstr(err, "empty pattern"));
  RC_CHECK(!parse_ok("a.b,", 2));
  RC_CHECK(!parse_ok(",a.b", 2));
  RC_CHECK(!parse_ok("a.b, ,c.d", 2));
  RC_CHECK(!parse_ok(".b", 2));
  RC_CHECK(strstr(err, "empty part"));
  RC_CHECK(!parse_ok("a.", 2));
  RC_CHECK(!parse_ok("a..c", 3));
}

static int match(const char *list, int parts, const char *a, const char *b, const char *c) {
  rc_patterns *p;
  if (rc_patterns_parse(&p, list, parts, err, sizeof err) < 0) return -1;
  const char *names[3] = {a, b, c};
  int m = rc_patterns_match(p, names);
  rc_patterns_free(p);
  return m;
}

static void test_match(void) {
  RC_CHECK(match("shop.orders", 2, "shop", "orders", NULL) == 1);
  RC_CHECK(match("shop.orders", 2, "shop", "Orders", NULL) == 0); /* case-sensitive */
  RC_CHECK(match("shop.*", 2, "shop", "anything", NULL) == 1);
  RC_CHECK(match("shop.*", 2, "shopx", "t", NULL) == 0);
  RC_CHECK(match("*.t_?", 2, "db", "t_1", NULL) == 1);
  RC_CHECK(match("*.t_?", 2, "db", "t_12", NULL) == 0);
  RC_CHECK(match("s*", 2, "shop", "orders", NULL) == -1); /* one part: not a table pattern */
  RC_CHECK(match("*.*", 2, "a", "b", NULL) == 1);
  RC_CHECK(match("sh*p.*", 2, "shop", "x", NULL) == 1);
  RC_CHECK(match("a[bc].d", 2, "ac", "d", NULL) == 1);
  RC_CHECK(match("a[bc].d", 2, "ad", "d", NULL) == 0);
  RC_CHECK(match("x.y, shop.or*", 2, "shop", "orders", NULL) == 1);
  RC_CHECK(match("a\\.b.c", 2, "a.b", "c", NULL) == 1);
  RC_CHECK(match("*.*.email", 3, "shop", "users", "email") == 1);
  RC_CHECK(match("*.*.email", 3, "shop", "users", "emails") == 0);
  RC_CHECK(match("shop.u*.e?ail", 3, "shop", "users", "email") == 1);
}

static void test_filter_tables(void) {
  rc_filter *f;
  RC_CHECK(rc_filter_parse(&f, "", "", "", "", NULL, 0, err, sizeof err) == 0);
  RC_CHECK(rc_filter_table(f, "any", "thing") == 1);
  RC_CHECK(!rc_filter_has_columns(f) && !rc_filter_has_tables(f));
  rc_filter_free(f);
  RC_CHECK(rc_filter_table(NULL, "any", "thing") == 1);

  RC_CHECK(rc_filter_parse(&f, "shop.*, app.t?", "shop.secret*", "", "", NULL, 0, err, sizeof err) == 0);
  RC_CHECK(rc_filter_table(f, "shop", "orders") == 1);
  RC_CHECK(rc_filter_table(f, "shop", "secrets") == 0); /* exclude wins over include */
  RC_CHECK(rc_filter_table(f, "app", "t1") == 1);
  RC_CHECK(rc_filter_table(f, "app", "t12") == 0);
  RC_CHECK(rc_filter_table(f, "other", "orders") == 0); /* not included */
  rc_filter_free(f);

  RC_CHECK(rc_filter_parse(&f, "", "*.audit_*", "", "", NULL, 0, err, sizeof err) == 0);
  RC_CHECK(rc_filter_table(f, "shop", "orders") == 1);
  RC_CHECK(rc_filter_table(f, "shop", "audit_log") == 0);
  RC_CHECK(rc_filter_has_tables(f) && !rc_filter_has_columns(f));
  rc_filter_free(f);

  RC_CHECK(rc_filter_parse(&f, "shop", "", "", "", NULL, 0, err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(strstr(err, "filter.include") != NULL);
  RC_CHECK(rc_filter_parse(&f, "", "", "shop.users", "", NULL, 0, err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(strstr(err, "filter.exclude_columns") != NULL);
}

static void test_filter_columns(void) {
  rc_filter *f;
  const uint8_t key[] = "k";
  RC_CHECK(rc_filter_parse(&f, "", "", "shop.users.pass*", "*.users.*", NULL, 0, err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(strstr(err, "filter.mask_key_file") != NULL); /* masking without a key */
  RC_CHECK(rc_filter_parse(&f, "", "", "shop.users.pass*", "*.users.*", key, 1, err, sizeof err) == 0);
  RC_CHECK(rc_filter_has_columns(f));
  RC_CHECK(rc_filter_column(f, "shop", "users", "password") == RC_FILTER_EXCLUDE); /* over the mask */
  RC_CHECK(rc_filter_column(f, "shop", "users", "email") == RC_FILTER_MASK);
  RC_CHECK(rc_filter_column(f, "shop", "orders", "email") == RC_FILTER_KEEP);
  size_t n;
  const uint8_t *k = rc_filter_mask_key(f, &n);
  RC_CHECK(n == 1 && k && k[0] == 'k');
  rc_filter_free(f);
}

static void test_config_keys(void) {
  rc_config *c = rc_config_new();
  RC_CHECK(c != NULL);
  RC_CHECK(rc_config_set(c, "filter.include", "shop.*,app.t_?", err, sizeof err) == 0);
  RC_CHECK(rc_config_set(c, "filter.include", "shop.*,,x.y", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(strstr(err, "filter.include") && strstr(err, "empty pattern"));
  RC_CHECK_STR(rc_config_str(c, "filter.include"), "shop.*,app.t_?"); /* unchanged */
  RC_CHECK(rc_config_set(c, "filter.exclude", "shop", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(rc_config_set(c, "filter.exclude_columns", "shop.users", err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(strstr(err, "DB.TABLE.COLUMN") != NULL);
  RC_CHECK(rc_config_set(c, "filter.mask_columns", "shop.users.email", err, sizeof err) == 0);

  rc_filter *f;
  RC_CHECK(rc_filter_from_config(&f, c, err, sizeof err) == RC_ERR_ARG); /* no key file */
  RC_CHECK(strstr(err, "filter.mask_key_file") != NULL);

  char path[] = "/tmp/rowcast-test-key-XXXXXX";
  int fd = mkstemp(path);
  RC_CHECK(fd >= 0);
  RC_CHECK(rc_config_set(c, "filter.mask_key_file", path, err, sizeof err) == 0);
  RC_CHECK(rc_filter_from_config(&f, c, err, sizeof err) == RC_ERR_ARG); /* empty */
  RC_CHECK(strstr(err, "empty") != NULL);
  RC_CHECK(write(fd, "s3cret\n", 7) == 7);
  close(fd);
  RC_CHECK(rc_filter_from_config(&f, c, err, sizeof err) == 0);
  size_t n;
  const uint8_t *k = rc_filter_mask_key(f, &n);
  RC_CHECK(n == 6 && !memcmp(k, "s3cret", 6)); /* the newline is not part of the key */
  RC_CHECK(rc_filter_column(f, "shop", "users", "email") == RC_FILTER_MASK);
  rc_filter_free(f);
  unlink(path);
  RC_CHECK(rc_filter_from_config(&f, c, err, sizeof err) == RC_ERR_ARG); /* gone */
  RC_CHECK(strstr(err, path) != NULL);
  rc_config_free(c);
}

void rc_tests(void) {
  RC_RUN(test_syntax);
  RC_RUN(test_match);
  RC_RUN(test_filter_tables);
  RC_RUN(test_filter_columns);
  RC_RUN(test_config_keys);
}
