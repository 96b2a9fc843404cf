/*
 * schema_client.h: the schema history as the reader and `rowcast decode` use it. It starts
 * rowcast-schema (a process of its own, beside the calling program; it runs the private
 * MariaDB) and drives it over a socket pair: every statement of the stream goes to it in order
 * (rc_schema_query), every TABLE_MAP that lacks names comes back completed with the table
 * version current at its position (rc_schema_tmap). Answers are cached until the next DDL, so
 * the tracker sees each table map once per table version, not once per event.
 *
 * Not eager, the tracker starts at the first TABLE_MAP without names, and the statements read
 * before are kept until then; a stream whose table maps all carry names never starts it.
 */
#ifndef RC_SCHEMA_CLIENT_H
#define RC_SCHEMA_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "binlog.h"
#include "schema_proto.h"

typedef struct rc_schema rc_schema;

typedef struct {
  const char *mode;       /* "decode", "replay", "run" */
  const char *state_dir;  /* where schema_history is kept; NULL or "": nowhere (decode) */
  const char *initial;    /* schema.initial, or NULL */
  int eager;              /* start at rc_schema_new (run: the server's schema is read there) */
  const char *start_file; /* run: the position the stream starts at */
  uint64_t start_pos;
  /* run: how the tracker connects to the source, as the reader does (source.tls: its word) */
  const char *source_host, *source_port, *source_socket, *source_user, *source_password;
  const char *source_tls, *source_tls_ca, *source_tls_cert, *source_tls_key;
  /* environment variables the tracker must not inherit (NULL-terminated, or NULL): the one that
   * may hold the source's password. The password goes to it in the init message only, and the
   * client wipes its own copy once that is sent. Not copied: give an array of static storage. */
  const char *const *env_drop;
} rc_schema_opts;

/* A client (started now when eager). On failure NULL with errstr set; *status says whether it
 * is a configuration problem (2) or not (1). The strings of o are copied. */
rc_schema *rc_schema_new(const rc_schema_opts *o, int *status, char *errstr, size_t errstr_size);
/* Stop the tracker and free everything. */
void rc_schema_free(rc_schema *sc);

/* Hand it a QUERY event of the stream (other events and BEGIN/COMMIT/ROLLBACK are ignored
 * here). 0, or an error (the tracker is gone: RC_ERR_IO). */
int rc_schema_query(rc_schema *sc, const rc_binlog *bl, const rc_event *ev, char *errstr, size_t errstr_size);

/* The TABLE_MAP ev (its table already parsed by bl): RC_SC_* (schema_proto.h). For ENRICHED and
 * RESYNCED, *out and *out_len is the completed event (no checksum: feed it with
 * rc_binlog_feed_nocrc), valid until the next call; *msg is the tracker's message for NONE,
 * MISMATCH and RESYNCED (valid until the next call). Negative: an error, errstr set. */
int rc_schema_tmap(rc_schema *sc, const rc_binlog *bl, const rc_event *ev, const uint8_t **out, size_t *out_len,
                   const char **msg, char *errstr, size_t errstr_size);

#endif
