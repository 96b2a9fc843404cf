/*
 * registry.c: Confluent-compatible schema registry client (see registry.h). libcurl does the
 * HTTP, jansson builds the request and parses the answers; nothing here parses by hand.
 */
#include "registry.h"

#include "buf.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rc_err.h"

#define CONNECT_TIMEOUT_MS 5000L
#define TOTAL_TIMEOUT_MS 30000L
#define MAX_ANSWER_BYTES (64u << 20) /* a registry answer larger than this is not one */
#define CONTENT_TYPE "application/vnd.schemaregistry.v1+json"

typedef struct {
  char *p;
  size_t len, cap;
  int too_big;
} answer;

static size_t on_data(char *data, size_t size, size_t nmemb, void *userp) {
  answer *a = userp;
  size_t n = size * nmemb;
  if (a->len + n + 1 > MAX_ANSWER_BYTES) {
    a->too_big = 1;
    return 0; /* makes curl fail with CURLE_WRITE_ERROR */
  }
  if (a->len + n + 1 > a->cap) {
    size_t ncap = a->cap ? a->cap : 4096;
    while (ncap < a->len + n + 1) ncap *= 2;
    char *np = realloc(a->p, ncap);
    if (!np) return 0;
    a->p = np;
    a->cap = ncap;
  }
  memcpy(a->p + a->len, data, n);
  a->len += n;
  a->p[a->len] = 0;
  return n;
}

static int curl_ready(char *errstr, size_t errstr_size) {
  static int done;
  if (done) return 0;
  CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (c != CURLE_OK)
    return rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "schema registry: cannot initialise libcurl: %s",
                   curl_easy_strerror(c));
  done = 1;
  return 0;
}

/* The registry's error answer, {"error_code":40901,"message":"..."}, as text ("" if none). */
static void registry_error(const answer *a, char *out, size_t out_size) {
  out[0] = 0;
  if (!a->p) return;
  json_error_t je;
  json_t *j = json_loadb(a->p, a->len, 0, &je);
  if (j && json_is_object(j)) {
    json_t *code = json_object_get(j, "error_code"), *msg = json_object_get(j, "message");
    snprintf(out, out_size, ": error_code %lld: %s", code && json_is_integer(code) ? (long long)json_integer_value(code) : 0LL,
             msg && json_is_string(msg) ? json_string_value(msg) : "(no message)");
  } else {
    snprintf(out, out_size, ": %.200s", a->p); /* a proxy's page, say: show its start */
    for (char *c = out; *c; c++)
      if (*c == '\n' || *c == '\r') *c = ' ';
  }
  json_decref(j);
}

/* One request to full_url. body NULL: GET, else POST of body. On success (a 2xx answer that is a
 * JSON object) returns 0 and *json is the parsed answer, which the caller decrefs. */
static int request(const char *url, const char *body, json_t **json, char *errstr, size_t errstr_size) {
  *json = NULL;
  char full_url[4400]; /* as messages show it: without the password of user:password@ */
  rc_url_redact(url, full_url, sizeof full_url);
  const char *method = body ? "POST" : "GET";
  int err = curl_ready(errstr, errstr_size);
  if (err < 0) return err;
  CURL *h = curl_easy_init();
  if (!h) return rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "schema registry: curl_easy_init failed");
  answer a = {0};
  char curl_err[CURL_ERROR_SIZE] = "";
  struct curl_slist *hdr = NULL, *h2;
  if (!(h2 = curl_slist_append(hdr, "Accept: " CONTENT_TYPE ", application/vnd.schemaregistry+json, application/json"))) goto nomem;
  hdr = h2;
  if (body) {
    if (!(h2 = curl_slist_append(hdr, "Content-Type: " CONTENT_TYPE))) goto nomem;
    hdr = h2;
  }
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* timeouts without SIGALRM: safe in threads */
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_USERAGENT, "rowcast");
  if (body) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
  }
  CURLcode c = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (c != CURLE_OK) {
    /* a URL curl cannot use is the user's mistake; everything else (refused, reset, DNS,
     * timeout) may pass */
    int fatal = c == CURLE_URL_MALFORMAT || c == CURLE_UNSUPPORTED_PROTOCOL;
    if (a.too_big) {
      fatal = 1;
      snprintf(curl_err, sizeof curl_err, "answer larger than %u bytes", MAX_ANSWER_BYTES);
    }
    err = rc_errf(fatal ? RC_ERR_ARG : RC_ERR_IO, errstr, errstr_size, "schema registry: %s %s: %s", method,
                  full_url, curl_err[0] ? curl_err : curl_easy_strerror(c));
    goto out;
  }
  if (status < 200 || status > 299) {
    char why[512];
    registry_error(&a, why, sizeof why);
    int retriable = status >= 500 || status == 408 || status == 429;
    err = rc_errf(retriable ? RC_ERR_IO : RC_ERR_ARG, errstr, errstr_size, "schema registry: %s %s: HTTP %ld%s", method,
                  full_url, status, why);
    goto out;
  }
  json_error_t je;
  *json = a.p ? json_loadb(a.p, a.len, 0, &je) : NULL;
  if (!*json || !json_is_object(*json)) {
    json_decref(*json);
    *json = NULL;
    err = rc_errf(RC_ERR_ARG, errstr, errstr_size,
                  "schema registry: %s %s: HTTP %ld but the answer is not a JSON object (%s): is this a schema "
                  "registry?",
                  method, full_url, status, a.p ? je.text : "empty answer");
    goto out;
  }
  err = 0;
  goto out;
nomem:
  err = rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "schema registry: out of memory");
out:
  curl_slist_free_all(hdr);
  curl_easy_cleanup(h);
  free(a.p);
  return err;
}

/* base URL without trailing slashes, as a length */
static int base_len(const char *url) {
  size_t n = strlen(url);
  while (n > 0 && url[n - 1] == '/') n--;
  return n > 4096 ? 4096 : (int)n;
}

int rc_registry_register(const char *url, const char *subject, const char *schema_json, int *id, char *errstr,
                         size_t errstr_size) {
  *id = -1;
  if (!url || !url[0] || !subject || !subject[0] || !schema_json)
    return rc_errf(RC_ERR_ARG, errstr, errstr_size, "schema registry: a URL, a subject and a schema are needed");
  int err = curl_ready(errstr, errstr_size);
  if (err < 0) return err;
  char *body = NULL, *full = NULL, *esc = NULL;
  json_t *ans = NULL, *req = NULL, *text = json_string(schema_json);
  if (!text) { /* jansson refuses text that is not UTF-8 */
    err = rc_errf(RC_ERR_ARG, errstr, errstr_size, "schema registry: the schema for subject %s is not UTF-8 text",
                  subject);
    goto out;
  }
  if (!(esc = curl_easy_escape(NULL, subject, 0)) || !(req = json_object()) ||
      json_object_set(req, "schema", text) < 0 || !(body = json_dumps(req, JSON_COMPACT)) ||
      asprintf(&full, "%.*s/subjects/%s/versions", base_len(url), url, esc) < 0) {
    full = NULL;
    err = rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "schema registry: out of memory");
    goto out;
  }
  err = request(full, body, &ans, errstr, errstr_size);
  if (err < 0) goto out;
  json_t *jid = json_object_get(ans, "id");
  if (!json_is_integer(jid) || json_integer_value(jid) < 0 || json_integer_value(jid) > INT32_MAX) {
    err = rc_errf(RC_ERR_ARG, errstr, errstr_size, "schema registry: POST %s: the answer has no integer \"id\"",
                  full);
    goto out;
  }
  *id = (int)json_integer_value(jid);
  err = 0;
out:
  json_decref(ans);
  json_decref(req);
  json_decref(text);
  free(body);
  free(full);
  curl_free(esc);
  return err;
}

int rc_registry_schema(const char *url, int id, char **schema_json, char *errstr, size_t errstr_size) {
  *schema_json = NULL;
  if (!url || !url[0] || id < 0)
    return rc_errf(RC_ERR_ARG, errstr, errstr_size, "schema registry: a URL and a schema id >= 0 are needed");
  char *full = NULL;
  if (asprintf(&full, "%.*s/schemas/ids/%d", base_len(url), url, id) < 0)
    return rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "schema registry: out of memory");
  json_t *ans = NULL;
  int err = request(full, NULL, &ans, errstr, errstr_size);
  if (err < 0) goto out;
  json_t *s = json_object_get(ans, "schema");
  json_t *type = json_object_get(ans, "schemaType"); /* absent means AVRO */
  if (type && !(json_is_string(type) && !strcmp(json_string_value(type), "AVRO"))) {
    err = rc_errf(RC_ERR_ARG, errstr, errstr_size, "schema registry: GET %s: schema %d is of type %s, not AVRO",
                  full, id, json_is_string(type) ? json_string_value(type) : "?");
    goto out;
  }
  if (!json_is_string(s)) {
    err = rc_errf(RC_ERR_ARG, errstr, errstr_size, "schema registry: GET %s: the answer has no string \"schema\"",
                  full);
    goto out;
  }
  if (!(*schema_json = strdup(json_string_value(s)))) {
    err = rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "schema registry: out of memory");
    goto out;
  }
  err = 0;
out:
  json_decref(ans);
  free(full);
  return err;
}
