/* decode.h: `rowcast decode`'s work, captured binlog files to canonical JSON lines. Called by
 * cmd_decode.c once it has read the command line. */
#ifndef RC_DECODE_H
#define RC_DECODE_H

typedef struct rc_filter rc_filter;

/* Decode files[0..nfiles) in order to JSON lines on stdout: one line per row change, or per
 * event when events_mode; the changes of tables `filter` leaves out are skipped, its column
 * filters applied (filter may be NULL: everything as it is). cfg gives schema.tracker and
 * schema.initial. Returns the process exit status (0, 1 output or OS failure, 2 bad input,
 * named on stderr with its file and offset). */
#include "config.h"

int rc_decode_files(char **files, int nfiles, int events_mode, const rc_filter *filter, const rc_config *cfg);

#endif
