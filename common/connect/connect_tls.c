/*
 * connect_tls.c: TLS on a connection to the source (see connect_tls.h).
 *
 * source.tls as Connector/C options (3.3, OpenSSL; libmariadb/secure/openssl.c and
 * plugins/auth/my_auth.c): MYSQL_OPT_SSL_ENFORCE asks for TLS, but when the server does not
 * offer it the login goes on in clear, so the modes that require TLS also check the cipher
 * after the login (rc_connect_tls_check). A CA (MYSQL_OPT_SSL_CA) makes OpenSSL verify the
 * chain during the handshake (SSL_VERIFY_PEER). MYSQL_OPT_SSL_VERIFY_SERVER_CERT adds the host
 * name check (X509_check_host / X509_check_ip_asc against the host connected to, with the
 * system's CAs when no CA is given), and makes a server without TLS an error before the login.
 */
#include "connect_tls.h"

#include <errmsg.h>
#include <string.h>

#include "log.h"
#include "rc_err.h"

static const char *const names[RC_CONNECT_TLS_MODES] = {"disabled", "preferred", "required", "verify_ca",
                                                         "verify_identity"};
enum { DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY };

const char *rc_connect_tls_name(int mode) {
  return mode >= 0 && mode < RC_CONNECT_TLS_MODES ? names[mode] : names[PREFERRED];
}

int rc_connect_tls_mode(const char *word) {
  for (int i = 0; word && i < RC_CONNECT_TLS_MODES; i++)
    if (!strcmp(word, names[i])) return i;
  return -1;
}

static const char *set(const char *s) { return s && s[0] ? s : NULL; }

void rc_connect_tls_options(MYSQL *m, const rc_connect_tls *t) {
  my_bool yes = 1, no = 0;
  if (t->mode == DISABLED) {
    mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &no);
    return;
  }
  mysql_optionsv(m, MYSQL_OPT_SSL_ENFORCE, &yes);
  if (t->mode >= VERIFY_CA && set(t->ca)) mysql_optionsv(m, MYSQL_OPT_SSL_CA, t->ca);
  if (set(t->cert)) mysql_optionsv(m, MYSQL_OPT_SSL_CERT, t->cert);
  if (set(t->key)) mysql_optionsv(m, MYSQL_OPT_SSL_KEY, t->key);
  mysql_optionsv(m, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, t->mode == VERIFY_IDENTITY ? &yes : &no);
}

int rc_connect_tls_check(MYSQL *m, const rc_connect_tls *t, rc_connect_tls_state *st, const char *who, char *es,
                         size_t esz) {
  const char *cipher = mysql_get_ssl_cipher(m);
  const char *lib = NULL;
  mariadb_get_infov(m, MARIADB_TLS_LIBRARY, &lib);
  st->on = cipher != NULL;
  st->openssl = lib && !strncmp(lib, "OpenSSL", 7);
  if (!cipher && t->mode >= REQUIRED)
    return rc_errf(RC_ERR_ARG, es, esz,
                   "%s does not offer TLS, and source.tls=%s requires it: enable TLS on the server "
                   "(ssl_cert and ssl_key; SHOW VARIABLES LIKE 'have_ssl' says YES), or choose "
                   "source.tls=preferred or disabled",
                   t->where, rc_connect_tls_name(t->mode));
  if (st->said) return 0;
  st->said = 1;
  if (!who || !who[0]) who = "connected to";
  const char *version = NULL;
  if (cipher) mariadb_get_infov(m, MARIADB_CONNECTION_TLS_VERSION, &version);
  if (cipher)
    rc_info("%s %s over TLS (%s, %s); the server's certificate %s", who, t->where, version ? version : "?", cipher,
            t->mode == VERIFY_IDENTITY ? "is signed by a trusted CA and names the host"
            : t->mode == VERIFY_CA     ? "is signed by source.tls_ca (its name is not checked)"
                                       : "is not checked (source.tls=verify_ca checks it)");
  else if (t->mode == PREFERRED && !t->is_socket)
    rc_warn("%s does not offer TLS: the connection is not encrypted (source.tls=preferred; required "
            "refuses such a server)", t->where);
  return 0;
}

/* Connector/C gives no finer code than the message, whose words come from OpenSSL's
 * X509_verify_cert_error_string and Connector/C's own texts. Other 2026 errors (a connection
 * cut during the handshake) are transient. */
static int refused_text(const char *msg) {
  return strstr(msg, "certificate") || strstr(msg, "Certificate") || strstr(msg, "verif") ||
         strstr(msg, "SSL is required") || strstr(msg, "issuer") || strstr(msg, "self-signed") ||
         strstr(msg, "self signed");
}

int rc_connect_tls_refused(MYSQL *m, const rc_connect_tls *t, char *es, size_t esz) {
  unsigned e = mysql_errno(m);
  const char *msg = mysql_error(m);
  if (e != CR_SSL_CONNECTION_ERROR || !refused_text(msg)) return 0;
  return rc_errf(RC_ERR_ARG, es, esz, "TLS to %s refused (source.tls=%s): %s (error %u): %s", t->where,
                 rc_connect_tls_name(t->mode), msg, e,
                 strstr(msg, "SSL is required")
                     ? "enable TLS on the server (ssl_cert and ssl_key), or choose another source.tls"
                 : t->mode == VERIFY_IDENTITY
                     ? "the certificate must be signed by source.tls_ca (or a CA the system trusts) and name "
                       "source.host in its subject alternative names or common name"
                     : "the server's certificate must be signed by a CA of source.tls_ca");
}
