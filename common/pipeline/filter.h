/*
 * filter.h: which tables and columns rowcast streams, from the filter.* keys. One pattern
 * syntax for every feature that names tables or columns:
 *
 *   a comma-separated list of patterns, blanks around each ignored; a table pattern is
 *   DB.TABLE, a column pattern DB.TABLE.COLUMN; each part is matched against the name the
 *   binlog carries with fnmatch(3) (no flags): `*` any run of characters, `?` one character,
 *   `[...]` a class, `\` quotes the next character. Parts are matched separately, so `*` never
 *   crosses a dot; matching is case-sensitive. An empty list means "no pattern"; an empty
 *   element (`a.b,,c.d`, a trailing comma), a part that is empty, or a pattern with the wrong
 *   number of dots is an error.
 *
 * Tables: a table is streamed when filter.include is empty or one of its patterns matches, and
 * no pattern of filter.exclude does (exclude wins). Columns: a column matched by
 * filter.exclude_columns is left out; one matched by filter.mask_columns (and not excluded) is
 * masked with the key of filter.mask_key_file.
 *
 * Callers: the config key table (rc_filter_check_* validate values as they are set), the
 * reader (tables, at TABLE_MAP time), the serializer and `rowcast decode` (columns), and any
 * feature that takes table patterns (rc_patterns). Not thread-safe; read-only once built.
 */
#ifndef RC_FILTER_H
#define RC_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* A parsed pattern list of `parts` dot-separated parts per pattern. */
typedef struct rc_patterns rc_patterns;

/* Parse `list` (NULL or "" gives an empty list) into patterns of exactly `parts` parts (2 for
 * tables, 3 for columns). On success *out is the caller's (rc_patterns_free). RC_ERR_ARG with
 * errstr naming the element and what is wrong; RC_ERR_NOMEM. */
int rc_patterns_parse(rc_patterns **out, const char *list, int parts, char *errstr, size_t errstr_size);
void rc_patterns_free(rc_patterns *p);
size_t rc_patterns_count(const rc_patterns *p);
/* Does a pattern match the names (parts of them: db, table[, column])? 0 or 1. */
int rc_patterns_match(const rc_patterns *p, const char *const *names);

/* Validators for the config key table: 0, or RC_ERR_ARG with a message naming the element. */
int rc_filter_check_tables(const char *list, char *errstr, size_t errstr_size);
int rc_filter_check_columns(const char *list, char *errstr, size_t errstr_size);

typedef struct rc_filter rc_filter;

/* What happens to a column (rc_filter_column). */
enum { RC_FILTER_KEEP = 0, RC_FILTER_EXCLUDE = 1, RC_FILTER_MASK = 2 };

/* Build the filter of a configuration: filter.include, filter.exclude, filter.exclude_columns,
 * filter.mask_columns, and the key of filter.mask_key_file (read now: its bytes, a trailing
 * newline dropped). On success *out is the caller's (rc_filter_free); it never points into c.
 * RC_ERR_ARG (errstr says which key and why) for a bad pattern, for mask_columns without a key
 * file, or for a key file that cannot be read or is empty; RC_ERR_NOMEM. */
int rc_filter_from_config(rc_filter **out, const rc_config *c, char *errstr, size_t errstr_size);
/* The same from the lists themselves (tests); key may be NULL (then no mask patterns). */
int rc_filter_parse(rc_filter **out, const char *include, const char *exclude, const char *exclude_columns,
                    const char *mask_columns, const uint8_t *key, size_t key_len, char *errstr,
                    size_t errstr_size);
void rc_filter_free(rc_filter *f);

/* Is table db.table streamed? 1 yes, 0 filtered out. */
int rc_filter_table(const rc_filter *f, const char *db, const char *table);
/* Does the filter leave any table out (any include or exclude pattern)? */
int rc_filter_has_tables(const rc_filter *f);
/* Does the filter touch columns at all (any exclude_columns or mask_columns pattern)? */
int rc_filter_has_columns(const rc_filter *f);
/* What happens to column db.table.column: RC_FILTER_KEEP, _EXCLUDE or _MASK. */
int rc_filter_column(const rc_filter *f, const char *db, const char *table, const char *column);
/* The masking key (NULL, 0 when no mask pattern); owned by f. */
const uint8_t *rc_filter_mask_key(const rc_filter *f, size_t *len);

#endif
