/*
 * test_checkpoint_gtid.c: the GTID state of the checkpoint (checkpoint.h): rc_gtid_state_add
 * folds GTIDs per MariaDB domain and per MySQL uuid/tag, and the gtid= line survives a write
 * and a read (and is absent when there is no GTID).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "rc_test.h"

static int add(char *st, size_t size, const char *g) { return rc_gtid_state_add(st, size, g, strlen(g)); }

static void test_state_mariadb(void) {
  char st[64] = "";
  RC_CHECK(add(st, sizeof st, "0-1-5") == 0);
  RC_CHECK(add(st, sizeof st, "0-1-6") == 0);
  RC_CHECK(add(st, sizeof st, "10-2-7") == 0);
  RC_CHECK(add(st, sizeof st, "1-3-1") == 0);
  RC_CHECK(add(st, sizeof st, "0-2-9") == 0); /* a failover: another server id, the same domain */
  RC_CHECK(add(st, sizeof st, "10-2-8") == 0);
  RC_CHECK_STR(st, "0-2-9,10-2-8,1-3-1");
  RC_CHECK(add(st, sizeof st, "garbage") < 0 && add(st, sizeof st, "0-1-5,1-1-1") < 0);
  char small[12] = "0-1-5";
  RC_CHECK(add(small, sizeof small, "1-1-100") < 0);
  RC_CHECK_STR(small, "0-1-5");
}

static void test_state_mysql(void) {
  char st[256] = "";
  const char *u1 = "93e95066-a2f4-11ec-9b69-9657f0ae95e2", *u2 = "357df524-4139-11ee-9979-b033ee13919e";
  char g[128];
  snprintf(g, sizeof g, "%s:41", u1);
  RC_CHECK(add(st, sizeof st, g) == 0);
  snprintf(g, sizeof g, "%s:blue:3", u1);
  RC_CHECK(add(st, sizeof st, g) == 0);
  snprintf(g, sizeof g, "%s:42", u1);
  RC_CHECK(add(st, sizeof st, g) == 0);
  snprintf(g, sizeof g, "%s:7", u2);
  RC_CHECK(add(st, sizeof st, g) == 0);
  snprintf(g, sizeof g, "%s:blue:4", u1);
  RC_CHECK(add(st, sizeof st, g) == 0);
  char want[256];
  snprintf(want, sizeof want, "%s:42,%s:blue:4,%s:7", u1, u1, u2);
  RC_CHECK_STR(st, want);
}

static void test_line(void) {
  char dir[] = "/tmp/rc-test-cp-XXXXXX";
  RC_CHECK(mkdtemp(dir) != NULL);
  char err[256];
  rc_checkpoint cp = {0}, back;
  snprintf(cp.file, sizeof cp.file, "mariadb-bin.000003");
  cp.pos = 1234, cp.changes = 9;
  RC_CHECK(rc_checkpoint_write(dir, &cp, err, sizeof err) == 0);
  char path[300], text[512];
  snprintf(path, sizeof path, "%s/checkpoint", dir);
  FILE *f = fopen(path, "r");
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  RC_CHECK(strstr(text, "gtid") == NULL);
  RC_CHECK(rc_checkpoint_read(dir, &back, err, sizeof err) == 1 && back.gtid[0] == 0);
  snprintf(cp.gtid, sizeof cp.gtid, "0-1-4711,1-2-99");
  RC_CHECK(rc_checkpoint_write(dir, &cp, err, sizeof err) == 0);
  RC_CHECK(rc_checkpoint_read(dir, &back, err, sizeof err) == 1);
  RC_CHECK_STR(back.gtid, "0-1-4711,1-2-99");
  RC_CHECK_STR(back.file, "mariadb-bin.000003");
  RC_CHECK(back.pos == 1234);
  RC_CHECK(back.snapshot == 0 && strstr(text, "snapshot") == NULL); /* no snapshot: no line */
  cp.snapshot = 17; /* the snapshot progress survives a write too */
  RC_CHECK(rc_checkpoint_write(dir, &cp, err, sizeof err) == 0);
  RC_CHECK(rc_checkpoint_read(dir, &back, err, sizeof err) == 1 && back.snapshot == 17);
  RC_CHECK_STR(back.gtid, "0-1-4711,1-2-99");
  unlink(path);
  rmdir(dir);
}

void rc_tests(void) {
  RC_RUN(test_state_mariadb);
  RC_RUN(test_state_mysql);
  RC_RUN(test_line);
}
