/*
 * registry.h: a client for a Confluent-compatible schema registry (its documented REST API,
 * over HTTP with libcurl, JSON with jansson).
 *
 * Used by the serializer (register each table version's key and value schema under the subjects
 * <topic>-key and <topic>-value when schema_registry.url is set) and by `rowcast tail` (fetch
 * the writer schema of a Confluent-framed message by its id).
 *
 * Each call is one HTTP request on its own connection: connect timeout 5 s, whole request 30 s.
 * The url is the registry's base URL ("http://host:8081", a trailing '/' is ignored); user and
 * password may be given in it ("http://user:secret@host:8081"). Subject names are URL-escaped.
 *
 * Errors follow rc_err.h, classified for the caller's retry decision:
 *   RC_ERR_IO   retriable: connection refused or reset, DNS failure, timeout, HTTP 5xx, 408, 429;
 *   RC_ERR_ARG  fatal: any other 4xx (409 schema incompatible with the subject, 422 invalid
 *               schema, 404 unknown id, 401/403), a malformed URL, or an answer that is not the
 *               documented JSON (the URL is not a schema registry);
 *   RC_ERR_NOMEM.
 * errstr then holds the URL, the HTTP status and the registry's error_code and message.
 *
 * Thread safety: the first call initialises libcurl (curl_global_init), which is not
 * thread-safe; make it before starting threads. Later calls may run concurrently.
 */
#ifndef RC_REGISTRY_H
#define RC_REGISTRY_H

#include <stddef.h>

/* Register schema_json (Avro schema text) under subject: POST {url}/subjects/{subject}/versions
 * with {"schema": schema_json}. The registry answers with the schema's global id, the same id
 * when this schema text was registered before. On success *id is set and 0 returned. */
int rc_registry_register(const char *url, const char *subject, const char *schema_json, int *id,
                         char *errstr, size_t errstr_size);

/* The schema text registered under a global id: GET {url}/schemas/ids/{id}. On success
 * *schema_json is a malloc'ed NUL-terminated string the caller frees; on failure it is NULL. */
int rc_registry_schema(const char *url, int id, char **schema_json, char *errstr,
                       size_t errstr_size);

#endif
