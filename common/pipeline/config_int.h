/*
 * config_int.h: what config.c and config_keys.c share and nothing else may use: the shape of a
 * configuration key and the key table itself (config_keys.c). Included by those two files only.
 */
#ifndef RC_CONFIG_INT_H
#define RC_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  KT_INT,    /* a plain integer */
  KT_BYTES,  /* a size: integer with an optional suffix k/K, m/M, g/G (KiB, MiB, GiB) */
  KT_MS,     /* a duration in milliseconds: integer, optionally followed by "ms" */
  KT_BOOL,   /* true/false, yes/no, on/off, 1/0 (stored as 1/0) */
  KT_STRING, /* text; min/max bound its length, `allowed` (if set) its characters */
  KT_ENUM,   /* one of the '|'-separated words of `allowed` */
} key_type;

/* A KT_INT key whose `allowed` is AUTO also takes the word "auto" (stored as 0, below every
 * such key's min): rc_config_int gives the value auto_value() picks for this machine. */
#define AUTO "auto"

typedef struct {
  const char *name;    /* "section.key" */
  key_type type;
  const char *def;     /* default, as a user would write it */
  int64_t min, max;    /* numbers: bounds (inclusive); strings: length bounds */
  const char *allowed; /* enum: "a|b|c"; string: a character class "a-zA-Z0-9._-", or NULL */
  const char *help;    /* one paragraph, rowcast speaking to its users */
} key_def;

#define KIB (INT64_C(1) << 10)
#define MIB (INT64_C(1) << 20)
#define GIB (INT64_C(1) << 30)
#define KAFKA_PREFIX "kafka."
/* Characters of Kafka topic names, and of librdkafka property names. */
#define NAME_CHARS "a-zA-Z0-9._-"

/* How many keys the table holds: the size of rc_config's value arrays. The compiler checks it
 * against the table (config_keys.c); bump it when you add a key. */
#define RC_CONFIG_NKEYS 50

extern const key_def rc_config_keys[RC_CONFIG_NKEYS];

/* String keys whose values get a further check once their length and characters pass (a
 * pattern list, ...): the check returns 0, or RC_ERR_ARG with a message. Ends with {NULL}. */
typedef struct {
  const char *name;
  int (*check)(const char *value, char *errstr, size_t errstr_size);
} key_check;
extern const key_check rc_config_checks[];

/* The help paragraph of the kafka.* pass-through keys. */
extern const char rc_config_kafka_help[];

#endif
