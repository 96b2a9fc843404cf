/*
 * mysql_types.c: the descriptor table of the MySQL/MariaDB column types (mysql_types.h) and
 * the SQL names rowcast prints for them. Constant data; no state.
 */
#include "mysql_types.h"

#include <stddef.h>

#define NUM RC_TF_NUMERIC
#define CHR RC_TF_CHAR
#define FSP RC_TF_FSP
#define LBL RC_TF_LABELS
#define LEN RC_TF_LENPREFIX
#define MAX RC_TF_MAXLEN

/* code name, SQL name (text form), binary form, charset unknown, properties. A NULL SQL name:
 * rowcast decodes no value of that type. */
const rc_type_desc rc_type_descs[256] = {
    [RC_T_DECIMAL] = {"DECIMAL", NULL, NULL, NULL, NUM},
    [RC_T_TINY] = {"TINY", "TINYINT", NULL, NULL, NUM},
    [RC_T_SHORT] = {"SHORT", "SMALLINT", NULL, NULL, NUM},
    [RC_T_LONG] = {"LONG", "INT", NULL, NULL, NUM},
    [RC_T_FLOAT] = {"FLOAT", "FLOAT", NULL, NULL, NUM},
    [RC_T_DOUBLE] = {"DOUBLE", "DOUBLE", NULL, NULL, NUM},
    [RC_T_NULL] = {"NULL", NULL, NULL, NULL, 0},
    [RC_T_TIMESTAMP] = {"TIMESTAMP", "TIMESTAMP", NULL, NULL, 0},
    [RC_T_LONGLONG] = {"LONGLONG", "BIGINT", NULL, NULL, NUM},
    [RC_T_INT24] = {"INT24", "MEDIUMINT", NULL, NULL, NUM},
    [RC_T_DATE] = {"DATE", "DATE", NULL, NULL, 0},
    [RC_T_TIME] = {"TIME", "TIME", NULL, NULL, 0},
    [RC_T_DATETIME] = {"DATETIME", "DATETIME", NULL, NULL, 0},
    [RC_T_YEAR] = {"YEAR", "YEAR", NULL, NULL, NUM},
    [RC_T_NEWDATE] = {"NEWDATE", NULL, NULL, NULL, 0},
    [RC_T_VARCHAR] = {"VARCHAR", "VARCHAR", "VARBINARY", "VARCHAR/VARBINARY", CHR | MAX},
    [RC_T_BIT] = {"BIT", "BIT", NULL, NULL, 0},
    [RC_T_TIMESTAMP2] = {"TIMESTAMP2", "TIMESTAMP", NULL, NULL, FSP},
    [RC_T_DATETIME2] = {"DATETIME2", "DATETIME", NULL, NULL, FSP},
    [RC_T_TIME2] = {"TIME2", "TIME", NULL, NULL, FSP},
    [RC_T_TYPED_ARRAY] = {"TYPED_ARRAY", NULL, NULL, NULL, 0},
    [RC_T_VECTOR] = {"VECTOR", "VECTOR", NULL, NULL, LEN},
    [RC_T_JSON] = {"JSON", "JSON", NULL, NULL, LEN},
    [RC_T_NEWDECIMAL] = {"NEWDECIMAL", "DECIMAL", NULL, NULL, NUM},
    [RC_T_ENUM] = {"ENUM", "ENUM", NULL, NULL, LBL},
    [RC_T_SET] = {"SET", "SET", NULL, NULL, LBL},
    [RC_T_TINY_BLOB] = {"TINY_BLOB", "TEXT", "BLOB", "BLOB/TEXT", CHR | LEN},
    [RC_T_MEDIUM_BLOB] = {"MEDIUM_BLOB", "TEXT", "BLOB", "BLOB/TEXT", CHR | LEN},
    [RC_T_LONG_BLOB] = {"LONG_BLOB", "TEXT", "BLOB", "BLOB/TEXT", CHR | LEN},
    [RC_T_BLOB] = {"BLOB", "TEXT", "BLOB", "BLOB/TEXT", CHR | LEN},
    [RC_T_VAR_STRING] = {"VAR_STRING", "VARCHAR", "VARBINARY", "VARCHAR/VARBINARY", CHR | MAX},
    [RC_T_STRING] = {"STRING", "CHAR", "BINARY", "CHAR/BINARY", CHR | MAX},
    [RC_T_GEOMETRY] = {"GEOMETRY", "GEOMETRY", NULL, NULL, LEN},
};

const char *rc_type_sql_name(uint8_t type, int flavour, uint32_t length) {
  static const char *const blobs[3][4] = {
      {"TINYTEXT", "TEXT", "MEDIUMTEXT", "LONGTEXT"},
      {"TINYBLOB", "BLOB", "MEDIUMBLOB", "LONGBLOB"},
      {"TINYBLOB/TINYTEXT", "BLOB/TEXT", "MEDIUMBLOB/MEDIUMTEXT", "LONGBLOB/LONGTEXT"}};
  const rc_type_desc *d = &rc_type_descs[type];
  if (!d->sql) return "UNKNOWN";
  if (!(d->flags & RC_TF_CHAR)) return d->sql;
  int f = flavour == RC_TS_BINARY ? 1 : flavour == RC_TS_EITHER ? 2 : 0;
  if (d->flags & RC_TF_LENPREFIX) { /* the BLOB family: named by its length-prefix size */
    unsigned k = length >= 1 && length <= 4 ? length - 1 : 3;
    return blobs[f][k];
  }
  return f == 1 ? d->sql_binary : f == 2 ? d->sql_either : d->sql;
}
