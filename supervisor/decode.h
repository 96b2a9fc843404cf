/* decode.h: `rowcast decode`, captured binlog files to canonical JSON lines. */
#ifndef RC_DECODE_H
#define RC_DECODE_H

/* argv[0] is "decode". Returns the process exit status. */
int rc_cmd_decode(int argc, char **argv);

#endif
