/*
 * row_project.h: a table's changes as messages show them under column filters
 * (filter.exclude_columns, filter.mask_columns; the patterns are pipeline/filter.h's, the
 * caller turns them into one action per column).
 *
 * An rc_project holds the projected table (the kept columns, in their order; a masked column
 * becomes a nullable string: cs_kind UTF-8, `masked` set) and projects each row image onto
 * it: excluded columns are left out, a masked value is replaced by the HMAC-SHA256 of its
 * text, as 64 lowercase hex digits. The text is the value as rowcast's canonical JSON shows it
 * (docs/json-mapping.md): a JSON string's UTF-8 content without quotes or escapes, any other
 * value its JSON text (a number, a JSON document, a geometry object). NULL stays NULL and an
 * absent column stays absent. The Avro schemas and both encoders then work on the projected
 * table and images as on any table, so Avro and JSON, value and key, always agree.
 *
 * A primary-key column cannot be excluded (the key would change meaning): rc_project_new
 * refuses it. A masked key column is masked in the key too. Callers: the serializer (one
 * rc_project per table version, cached with its schemas) and `rowcast decode`.
 */
#ifndef RC_ROW_PROJECT_H
#define RC_ROW_PROJECT_H

#include <stddef.h>
#include <stdint.h>

#include "binlog.h"
#include "buf.h"

/* What happens to a column: one byte per column of the table (the values of filter.h's
 * RC_FILTER_KEEP, _EXCLUDE, _MASK). */
enum { RC_PROJECT_KEEP = 0, RC_PROJECT_EXCLUDE = 1, RC_PROJECT_MASK = 2 };

typedef struct rc_project rc_project;

/* Build the projection of table t under actions[0..t->ncols). key (key_len bytes) is the HMAC
 * key, needed when a column is masked. On success *out is the caller's (rc_project_free); t is
 * copied and may be freed afterwards. RC_ERR_ARG naming the column when an excluded column is
 * part of the primary key or when a column is masked without a key; RC_ERR_NOMEM. */
int rc_project_new(const rc_table *t, const uint8_t *actions, const uint8_t *key, size_t key_len,
                   rc_project **out, char *errstr, size_t errstr_size);
void rc_project_free(rc_project *p);

/* What to do with column `column` of db.table: RC_PROJECT_* (the caller's filter). */
typedef int (*rc_project_action_fn)(void *ctx, const char *db, const char *table, const char *column);
/* rc_project_new with the actions `action` gives for each column (a column without a name is
 * asked as "@N", 1-based, the name the messages give it); *out is NULL, and 0 returned, when
 * every column is kept. */
int rc_project_for(const rc_table *t, rc_project_action_fn action, void *ctx, const uint8_t *key, size_t key_len,
                   rc_project **out, char *errstr, size_t errstr_size);

/* The projected table, owned by p. */
const rc_table *rc_project_table(const rc_project *p);

/* Project one image of t's ncols values (NULL gives NULL) into slot 0 or 1 (before, after):
 * *out then points to the projected table's ncols values, valid until the next call for the
 * same slot. Returns 0, or an error naming the column whose value has no text (a JSON document
 * that does not parse, ...). */
int rc_project_image(rc_project *p, int slot, const rc_value *img, const rc_value **out, char *errstr,
                     size_t errstr_size);

/* The text a masked value is hashed from (see above), appended to b. 0, or an error. */
int rc_project_value_text(rc_buf *b, const rc_column *col, const rc_value *v, char *errstr, size_t errstr_size);

#endif
