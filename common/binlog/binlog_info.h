/*
 * binlog_info.h: the decoded fields of control events (QUERY, ROTATE, XID, GTIDs, ...) as a
 * compact JSON object, for `rowcast decode --events` and for debugging tools.
 *
 * Called after rc_binlog_feed / rc_binlog_next_inner accepted the event, so the decoder state
 * (post-header lengths, checksum algorithm, table maps) already reflects it. Every read is
 * bounds-checked against ev->body_len: event bodies are untrusted input.
 */
#ifndef RC_BINLOG_INFO_H
#define RC_BINLOG_INFO_H

#include <stddef.h>

#include "binlog.h"
#include "buf.h"

/* Append a JSON object with the fields of `ev` to b. Appends nothing and returns 0 for events
 * that carry nothing worth showing (STOP, unknown types): the caller then omits the field.
 * A malformed event returns RC_ERR_CORRUPT (or RC_ERR_NOMEM) with errstr naming the event
 * type, the field and the file/offset; b is then left as it was on entry. */
int rc_event_info_json(const rc_binlog *bl, const rc_event *ev, rc_buf *b, char *errstr,
                       size_t errstr_size);

#endif
