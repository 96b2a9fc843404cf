/*
 * test_row_project.c: column filters on a table and its images (common/codec/row_project.c):
 * the RFC 4231 HMAC-SHA256 vector through a masked VARCHAR (and again, for the re-initialised
 * context), excluded columns gone from the projected table and from its Avro schema, masked ones
 * strings marked rowcast.masked, NULL kept NULL, every masked value of the table of every type
 * equal to OpenSSL's one-shot HMAC() of the value's text as rowcast's JSON line shows it (read
 * back with jansson), both Avro encoders and the decoder agreeing on the projection, and an
 * excluded primary-key column refused.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avro_test.h"
#include "rc_err.h"
#include "rc_test.h"
#include "row_project.h"

static char err[512];
static const uint8_t JEFE[] = "Jefe";

static int hex_is(const rc_value *v, const char *hex) {
  return v->kind == RC_V_STRING && v->v.s.len == 64 && !memcmp(v->v.s.p, hex, 64);
}

static void test_rfc4231(void) {
  rc_table *t = tbl_new("db", "t", 2);
  col(t, 0, "id", RC_T_LONG)->pk = 1;
  t->has_pk = 1;
  col_cs(col(t, 1, "v", RC_T_VARCHAR), 45);
  tbl_finish(t);
  uint8_t act[2] = {RC_PROJECT_MASK, RC_PROJECT_MASK};
  rc_project *p;
  RC_CHECK(rc_project_new(t, act, JEFE, 4, &p, err, sizeof err) == 0);
  const rc_table *v = rc_project_table(p);
  RC_CHECK(v->ncols == 2 && v->cols[1].masked && v->cols[1].cs_kind == RC_CS_UTF8 && v->cols[0].pk);
  rc_value img[2] = {vi(-42), vstr("what do ya want for nothing?")};
  const rc_value *o;
  for (int round = 0; round < 2; round++) { /* the second time through the re-initialised context */
    RC_CHECK(rc_project_image(p, round, img, &o, err, sizeof err) == 0);
    RC_CHECK(hex_is(&o[1], "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
    RC_CHECK(hex_is(&o[0], "3a6cb9ebd2472fe975d51581b569498dd4562a1b958bd4a66cdf61914092afc6")); /* "-42" */
  }
  rc_value nul[2] = {vi(1), V(RC_V_NULL)};
  RC_CHECK(rc_project_image(p, 0, nul, &o, err, sizeof err) == 0 && o[1].kind == RC_V_NULL);
  RC_CHECK(rc_project_image(p, 1, NULL, &o, err, sizeof err) == 0 && o == NULL);
  rc_project_free(p);
  /* no key: refused */
  RC_CHECK(rc_project_new(t, act, NULL, 0, &p, err, sizeof err) == RC_ERR_ARG);
  /* the primary key cannot be excluded */
  act[0] = RC_PROJECT_EXCLUDE;
  RC_CHECK(rc_project_new(t, act, JEFE, 4, &p, err, sizeof err) == RC_ERR_ARG);
  RC_CHECK(strstr(err, "db.t") && strstr(err, "id") && strstr(err, "primary key"));
  rc_table_free(t);
}

/* The text rowcast's JSON shows for column c of a change line: a string's content, or an
 * integer's digits. 0 when the value is something else (not compared here). */
static int line_text(json_t *img, const char *c, char *out, size_t n) {
  json_t *x = json_object_get(img, c);
  if (json_is_string(x)) return snprintf(out, n, "%s", json_string_value(x)) < (int)n;
  if (json_is_integer(x)) return snprintf(out, n, "%lld", (long long)json_integer_value(x)) < (int)n;
  return 0;
}

static void test_all_types(void) {
  rc_table *t = alltypes_table();
  uint8_t act[C_NCOLS];
  for (uint32_t i = 0; i < C_NCOLS; i++) act[i] = i % 3 == 1 ? RC_PROJECT_MASK : i % 3 == 2 ? RC_PROJECT_EXCLUDE : 0;
  act[C_TINY] = act[C_UBIG] = RC_PROJECT_MASK; /* the key columns: masked, never excluded */
  rc_project *p;
  RC_CHECK(rc_project_new(t, act, JEFE, 4, &p, err, sizeof err) == 0);
  const rc_table *v = rc_project_table(p);
  uint32_t kept = 0, masked = 0;
  for (uint32_t i = 0; i < C_NCOLS; i++) kept += act[i] != RC_PROJECT_EXCLUDE, masked += act[i] == RC_PROJECT_MASK;
  RC_CHECK(v->ncols == kept);
  rc_avro_table *at;
  RC_CHECK(rc_avro_table_new(v, &at, err, sizeof err) == 0);
  const char *vs_json = rc_avro_value_schema(at);
  for (uint32_t i = 0; i < C_NCOLS; i++) {
    char want[200];
    snprintf(want, sizeof want, "\"rowcast.name\":\"%s\"", t->cols[i].name);
    if (act[i] == RC_PROJECT_EXCLUDE) RC_CHECK(strstr(vs_json, want) == NULL);
    else RC_CHECK(strstr(vs_json, want) != NULL);
  }
  size_t nm = 0;
  for (const char *s = vs_json; (s = strstr(s, "\"rowcast.masked\":\"hmac-sha256\"")); s++) nm++;
  RC_CHECK(nm == masked);
  RC_CHECK(rc_avro_key_schema(at) && strstr(rc_avro_key_schema(at), "rowcast.masked"));

  rc_value a[C_NCOLS], b[C_NCOLS];
  fill_row_a(a);
  fill_row_b(b);
  for (uint32_t i = 0; i < C_NCOLS; i++) /* jansson reads integers up to INT64_MAX only */
    for (rc_value *x = &a[i]; x; x = x == &a[i] ? &b[i] : NULL)
      if ((x->kind == RC_V_UINT || x->kind == RC_V_BIT || x->kind == RC_V_SET) && x->v.u > INT64_MAX) x->v.u >>= 1;
  const rc_value *pa, *pb;
  RC_CHECK(rc_project_image(p, 0, b, &pb, err, sizeof err) == 0);
  RC_CHECK(rc_project_image(p, 1, a, &pa, err, sizeof err) == 0);
  /* both encoders agree, and the decoder reads the projection back as decode prints it */
  RC_CHECK(roundtrip_ex(at, v, 'u', pb, pa, &(rc_change_pos){"mariadb-bin.000001", 4, 0, "", 1, NULL}, 0) == 1);

  /* every masked value is the HMAC of the text the unfiltered JSON line shows */
  rc_buf line = {0};
  rc_change_pos pos = {"mariadb-bin.000001", 4, 0, "", 1, NULL};
  RC_CHECK(rc_json_change(&line, t, 'u', b, a, &pos, err, sizeof err) == 0);
  json_error_t jerr;
  json_t *root = json_loadb(line.p, line.len, 0, &jerr);
  if (!root) fprintf(stderr, "%s: %.*s\n", jerr.text, (int)line.len, line.p);
  RC_CHECK(root != NULL);
  unsigned compared = 0;
  for (int side = 0; side < 2 && root; side++) {
    json_t *img = json_object_get(root, side ? "after" : "before");
    const rc_value *proj = side ? pa : pb;
    const rc_value *orig = side ? a : b;
    for (uint32_t i = 0, k = 0; i < C_NCOLS; i++) {
      if (act[i] == RC_PROJECT_EXCLUDE) {
        RC_CHECK(orig[i].kind == RC_V_ABSENT || json_object_get(img, t->cols[i].name) != NULL); /* unfiltered */
        continue;
      }
      const rc_value *x = &proj[k++];
      if (act[i] != RC_PROJECT_MASK) continue;
      if (orig[i].kind == RC_V_NULL) {
        RC_CHECK(x->kind == RC_V_NULL);
        continue;
      }
      char text[4096];
      if (!line_text(img, t->cols[i].name, text, sizeof text)) continue; /* floats, JSON, geometry */
      unsigned char md[32];
      unsigned mdlen = 0;
      HMAC(EVP_sha256(), JEFE, 4, (const unsigned char *)text, strlen(text), md, &mdlen);
      char hex[65];
      for (int j = 0; j < 32; j++) snprintf(hex + 2 * j, 3, "%02x", md[j]);
      if (!hex_is(x, hex)) fprintf(stderr, "column %s: text '%s'\n", t->cols[i].name, text);
      RC_CHECK(hex_is(x, hex));
      compared++;
    }
  }
  RC_CHECK(compared >= 15);
  json_decref(root);
  rc_buf_free(&line);
  rc_avro_table_free(at);
  rc_project_free(p);
  rc_table_free(t);
}

void rc_tests(void) {
  min_same = 1; /* one change, value and key, through both encoders */
  RC_RUN(test_rfc4231);
  RC_RUN(test_all_types);
  RC_RUN(test_fast_matches_reference); /* and frees avro-c's readers */
  rc_avro_decoder_cache_free();
}
