/*
 * connect_tls.h: TLS on a connection rowcast opens to the source with Connector/C, the same for
 * every program that connects (the reader's replication and lookup connections, the schema
 * tracker's reads of the server's schema): source.tls and its files as Connector/C options
 * before the login, the check after it (a mode that requires TLS refuses a connection that
 * went on in clear), the line that says once how the connection is protected, and the TLS
 * errors a retry will not cure.
 *
 * The mode is source.tls as a number, in the order of rc_tls_mode (pipeline/source_config.h,
 * which this layer does not see): 0 disabled, 1 preferred, 2 required, 3 verify_ca,
 * 4 verify_identity; each does what the one before does, and more. Errors follow rc_err.h.
 */
#ifndef RC_CONNECT_TLS_H
#define RC_CONNECT_TLS_H

#include <mysql.h>
#include <stddef.h>

enum { RC_CONNECT_TLS_MODES = 5 };

typedef struct {
  int mode;                     /* source.tls, as above */
  const char *ca, *cert, *key;  /* source.tls_ca, _cert, _key; NULL or "" when not set */
  const char *where;            /* "host:port" or the socket, for messages */
  int is_socket;                /* a Unix socket (preferred does not warn there: nothing to encrypt) */
} rc_connect_tls;

/* What the check found on the last connection, and whether the TLS state was said already. */
typedef struct {
  int said;                     /* set by rc_connect_tls_check once it has logged */
  int on;                       /* the connection is encrypted */
  int openssl;                  /* ... by OpenSSL */
} rc_connect_tls_state;

/* source.tls's word for a mode ("preferred" for a number out of range). */
const char *rc_connect_tls_name(int mode);
/* The mode of a source.tls word, or -1 when it is none. */
int rc_connect_tls_mode(const char *word);

/* Set the TLS options of t on m, before mysql_real_connect. */
void rc_connect_tls_options(MYSQL *m, const rc_connect_tls *t);

/* After the login: 0 when m is as encrypted as t->mode wants, else RC_ERR_ARG with a message
 * that says what to change. The first time (st->said 0) it logs the TLS state, prefixed by
 * who ("connected to ..." when who is NULL or ""). */
int rc_connect_tls_check(MYSQL *m, const rc_connect_tls *t, rc_connect_tls_state *st, const char *who, char *es,
                         size_t esz);

/* The last error on m, when it is a TLS refusal no retry cures (the server's certificate refused
 * by its chain or host name, TLS required and not offered): RC_ERR_ARG with a message naming
 * source.tls and what to do. 0 for any other error (the caller classifies it). */
int rc_connect_tls_refused(MYSQL *m, const rc_connect_tls *t, char *es, size_t esz);

#endif
