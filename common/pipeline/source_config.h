/*
 * source_config.h: what the source.* keys mean together, beyond the checks of one key at a time
 * (config.h): where the password comes from (source.password, source.password_file or the
 * environment variable ROWCAST_SOURCE_PASSWORD), whether the TLS keys agree with each other and
 * name readable files, and the mode check that says when a file or directory holding secrets is
 * open to other users.
 *
 * Called by the supervisor before it starts a group (`rowcast run`: a problem is exit 2 before
 * anything starts), by `rowcast config --show`, and by rowcast-reader at each connection (so a
 * rotated password file is read again). Knows nothing of MySQL: the reader turns the TLS mode
 * into Connector/C options. Errors follow rc_err.h: RC_ERR_ARG with errstr naming the key and
 * the file, RC_ERR_NOMEM.
 */
#ifndef RC_SOURCE_CONFIG_H
#define RC_SOURCE_CONFIG_H

#include <stddef.h>

#include "config.h"

/* The environment variable that may hold the source's password. */
#define RC_SOURCE_PASSWORD_ENV "ROWCAST_SOURCE_PASSWORD"

/* source.tls, as a number: the order is the strength (each mode does what the one before does,
 * and more). */
typedef enum {
  RC_TLS_DISABLED = 0,
  RC_TLS_PREFERRED,
  RC_TLS_REQUIRED,
  RC_TLS_VERIFY_CA,
  RC_TLS_VERIFY_IDENTITY,
} rc_tls_mode;

/* The mode of source.tls (a valid config always has one of the five words). */
rc_tls_mode rc_source_tls_mode(const rc_config *c);

/*
 * The password to log in with, into *out (malloc'd, the caller's: wipe it with explicit_bzero
 * before free). *from (may be NULL) names where it came from: "source.password",
 * "source.password_file", RC_SOURCE_PASSWORD_ENV, or "none" (empty password). Precedence:
 * source.password and source.password_file both set is an error; with neither, the
 * environment variable when it is set. A password file is read whole, one trailing newline
 * ("\n" or "\r\n") removed; unreadable, empty, holding a NUL byte or longer than 1024 bytes:
 * RC_ERR_ARG naming the file. errstr never holds the password.
 */
int rc_source_password(const rc_config *c, char **out, const char **from, char *errstr,
                       size_t errstr_size);

/* Everything about the source that can be checked without connecting: the TLS keys agree with
 * source.tls (verify_ca needs source.tls_ca; disabled, preferred and required take no CA;
 * source.tls_cert and source.tls_key go together), every source.tls_* file can be read, and the
 * password can be found (rc_source_password). Returns 0, or RC_ERR_ARG with errstr naming the
 * key and the file. */
int rc_source_check(const rc_config *c, char *errstr, size_t errstr_size);

/* Is the file or directory at path open to its group or others (any of the mode bits 077)?
 * Returns 1 and fills msg with "WHAT PATH can be read by its group or others (mode 0644):
 * chmod 600 PATH" (700 for a directory), 0 when it is private or cannot be stat'ed. */
int rc_private_mode_check(const char *path, const char *what, char *msg, size_t msg_size);

#endif
