/*
 * avro_test.h: the helpers test_avro_row.c and test_avro_encode.c share (avro_test.c): tables
 * and values built by hand, the table of every type, the round trip through both encoders and
 * the checks that close a test program (python3-avro, fast path = reference).
 */
#ifndef RC_AVRO_TEST_H
#define RC_AVRO_TEST_H

#include <stdint.h>

#include "avro_row.h"
#include "binlog.h"
#include "row_json.h"

/* ---- building tables and values (the caller frees a table with rc_table_free) ---- */
rc_table *tbl_new(const char *db, const char *name, uint32_t ncols);
rc_column *col(rc_table *t, uint32_t i, const char *name, uint8_t type);
void col_cs(rc_column *c, uint16_t collation);
void col_labels(rc_column *c, const char *const *labels, uint32_t n);
void tbl_finish(rc_table *t); /* the JSON keys, as the table-map parser makes them */
rc_value V(int kind);
rc_value vi(int64_t i);
rc_value vu(int kind, uint64_t u);
rc_value vflt(float f);
rc_value vdbl(double d);
rc_value vdt(int kind, unsigned y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s, uint32_t us);
rc_value vts(uint32_t sec, uint32_t usec);
rc_value vtime(int neg, uint32_t h, unsigned mi, unsigned s, uint32_t us);
rc_value vs(int kind, const void *p, uint32_t len, uint32_t pad_to);
rc_value vstr(const char *s);
const uint8_t *pack_decimal(const char *txt, int prec, int scale); /* MySQL's packed DECIMAL */

/* ---- the table of every type: its columns, and two rows of it ---- */
enum { C_TINY, C_UTINY, C_SMALL, C_USMALL, C_MED, C_UMED, C_INT, C_UINT, C_BIG, C_UBIG, C_FLOAT, C_DOUBLE,
       C_DEC, C_DEC0, C_DECBIG, C_DATE, C_DT0, C_DT6, C_DTOLD, C_TS0, C_TS3, C_TSOLD, C_TIME0, C_TIME6, C_TIMEOLD,
       C_YEAR, C_BIT1, C_BIT5, C_BIT64, C_ENUM, C_SET, C_ENUM_NL, C_SET_NL, C_VARCHAR, C_LATIN1, C_UCS2, C_CHAR_BIN,
       C_VARBIN, C_BLOB, C_TEXT_UNK, C_JSON, C_GEOM, C_GEOM2, C_VECTOR, C_NCOLS };
rc_table *alltypes_table(void);
void fill_row_a(rc_value *r);
void fill_row_b(rc_value *r);

/* ---- the round trip ---- */
/* Encode a change, decode it back and compare with rc_json_change (lossy values as null), and
 * write it with both encoders (check_encoders); `export` hands the datums to the Python check.
 * Returns 1 when compared, 0 when both sides refused the change, -1 on a mismatch. */
int roundtrip_ex(rc_avro_table *at, const rc_table *t, char op, const rc_value *before,
                 const rc_value *after, const rc_change_pos *pos, int export);
int roundtrip(rc_avro_table *at, const rc_table *t, char op, const rc_value *before, const rc_value *after);
/* Both encoders over one change: the value, and the key when the table has one. */
int check_encoders(rc_avro_table *at, char op, const rc_value *before, const rc_value *after,
                   const rc_avro_source *src);
/* The fast datum (or its error fr) against the reference one (rr): 0 when both refuse or both
 * are the same bytes that avro-c reads back to equal values. */
int same_as_reference(const char *what, uint64_t fp, const char *schema, const rc_buf *fast, int fr,
                      const rc_buf *ref, int rr);
extern unsigned long n_same, n_same_err, n_differ; /* same_as_reference's counts */
extern int quiet;          /* the self-check's expected differences are not printed */
extern int fixtures_swept; /* test_fixture_rows found the fixtures (and exported their datums) */
extern unsigned n_exported; /* datums handed to the Python check */
/* Without the fixtures, the closing checks want more than this many datums compared (20) and
 * exported (10): a program whose round trips write fewer lowers them before its first test. */
extern unsigned long min_same;
extern unsigned min_exported;

/* ---- what starts and closes a test program ---- */
void python_start(void);                /* first: the folder the datums are exported to */
void test_python_avro(void);            /* python3-avro reads every exported datum */
void test_fast_matches_reference(void); /* every datum was the same through both encoders */

#endif
