/* charset.c: collation ids to charsets, text to UTF-8 (see charset.h). */
#include "charset.h"

#include <errno.h>
#include <iconv.h>
#include <mysql.h>
#include <stdlib.h>
#include <string.h>

#include "binlog.h"

/* MySQL's latin1 is Windows-1252 with 0x81, 0x8D, 0x8F, 0x90 and 0x9D mapped to the C1
 * controls of the same value. Code points for 0x80-0x9F. */
static const uint16_t latin1_80[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

#define MAX_COLLATION 4096
static void *iconv_cache[MAX_COLLATION];
static uint8_t iconv_failed[MAX_COLLATION];

const char *rc_charset_name(uint16_t collation) {
  if (!collation) return NULL;
  MARIADB_CHARSET_INFO *cs = mariadb_get_charset_by_nr(collation);
  return cs ? cs->csname : NULL;
}

/* iconv's name for a MySQL charset, where Connector/C's is not what glibc wants. */
static const char *iconv_name(const MARIADB_CHARSET_INFO *cs) {
  if (!strcmp(cs->csname, "utf16")) return "UTF-16BE";
  if (!strcmp(cs->csname, "utf16le")) return "UTF-16LE";
  if (!strcmp(cs->csname, "utf32")) return "UTF-32BE";
  if (!strcmp(cs->csname, "ucs2")) return "UCS-2BE";
  if (!strcmp(cs->csname, "ujis")) return "EUC-JP";
  if (!strcmp(cs->csname, "eucjpms")) return "EUC-JP-MS";
  if (!strcmp(cs->csname, "sjis")) return "SHIFT_JIS";
  if (!strcmp(cs->csname, "euckr")) return "EUC-KR";
  if (!strcmp(cs->csname, "gb2312")) return "GB2312";
  if (!strcmp(cs->csname, "gb18030")) return "GB18030";
  if (!strcmp(cs->csname, "koi8r")) return "KOI8-R";
  if (!strcmp(cs->csname, "koi8u")) return "KOI8-U";
  if (!strcmp(cs->csname, "latin2")) return "ISO-8859-2";
  if (!strcmp(cs->csname, "latin5")) return "ISO-8859-9";
  if (!strcmp(cs->csname, "latin7")) return "ISO-8859-13";
  if (!strcmp(cs->csname, "greek")) return "ISO-8859-7";
  if (!strcmp(cs->csname, "hebrew")) return "ISO-8859-8";
  if (!strcmp(cs->csname, "tis620")) return "TIS-620";
  if (!strcmp(cs->csname, "macroman")) return "MACINTOSH";
  if (!strcmp(cs->csname, "armscii8")) return "ARMSCII-8";
  return cs->encoding && cs->encoding[0] ? cs->encoding : NULL;
}

int rc_charset_kind(uint16_t collation, void **cd) {
  *cd = NULL;
  if (!collation) return RC_CS_UNKNOWN;
  if (collation == 63) return RC_CS_BINARY;
  MARIADB_CHARSET_INFO *cs = mariadb_get_charset_by_nr(collation);
  if (!cs) return RC_CS_UNKNOWN;
  if (!strncmp(cs->csname, "utf8", 4) || !strcmp(cs->csname, "ascii")) return RC_CS_UTF8;
  if (!strcmp(cs->csname, "latin1")) return RC_CS_LATIN1;
  if (!strcmp(cs->csname, "binary")) return RC_CS_BINARY;
  if (collation >= MAX_COLLATION || iconv_failed[collation]) return RC_CS_UNKNOWN;
  if (!iconv_cache[collation]) {
    const char *name = iconv_name(cs);
    iconv_t h = name ? iconv_open("UTF-8", name) : (iconv_t)-1;
    if (h == (iconv_t)-1) {
      iconv_failed[collation] = 1;
      return RC_CS_UNKNOWN;
    }
    iconv_cache[collation] = h;
  }
  *cd = iconv_cache[collation];
  return RC_CS_ICONV;
}

/* Text in a charset as UTF-8 into scratch (replaced): 0, or -1 when the bytes are not valid
 * in the charset. Returns the UTF-8 through out and len (in scratch, or p itself for UTF-8). */
static int to_utf8(rc_buf *scratch, int kind, void *cd, const uint8_t *p, size_t n, const char **out, size_t *len) {
  if (kind == RC_CS_UTF8) {
    *out = (const char *)p, *len = n;
    return 0;
  }
  if (kind == RC_CS_LATIN1) {
    /* at most 3 UTF-8 bytes per input byte */
    char *tmp = rc_buf_reserve(scratch, n * 3 + 1);
    char *o = tmp;
    for (size_t i = 0; i < n; i++) {
      uint32_t cp = p[i];
      if (cp >= 0x80 && cp < 0xA0) cp = latin1_80[cp - 0x80];
      if (cp < 0x80) {
        *o++ = (char)cp;
      } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | cp >> 6);
        *o++ = (char)(0x80 | (cp & 63));
      } else {
        *o++ = (char)(0xE0 | cp >> 12);
        *o++ = (char)(0x80 | ((cp >> 6) & 63));
        *o++ = (char)(0x80 | (cp & 63));
      }
    }
    *out = tmp, *len = (size_t)(o - tmp);
    return 0;
  }
  if (kind == RC_CS_ICONV && cd) {
    iconv_t h = cd;
    iconv(h, NULL, NULL, NULL, NULL);
    size_t cap = n * 4 + 16;
    char *buf = rc_buf_reserve(scratch, cap);
    char *in = (char *)p, *o = buf;
    size_t inleft = n, outleft = cap;
    size_t r = iconv(h, &in, &inleft, &o, &outleft);
    if (r == (size_t)-1 || inleft != 0) return -1;
    *out = buf, *len = (size_t)(o - buf);
    return 0;
  }
  return -1;
}

/* Text appended to b as UTF-8: a JSON string literal (json) or the plain text. */
static int append_text(rc_buf *b, int kind, void *cd, const uint8_t *p, size_t n, int json) {
  static rc_buf scratch; /* per process: stages are single-threaded */
  const char *u = "";
  size_t len = 0;
  /* empty text is valid in every charset, not in "binary" or an unknown one */
  if ((n || kind == RC_CS_BINARY || kind == RC_CS_UNKNOWN) && to_utf8(&scratch, kind, cd, p, n, &u, &len) < 0)
    return -1;
  if (json) rc_buf_json_str(b, u, len);
  else rc_buf_utf8_clean(b, u, len);
  return 0;
}

int rc_charset_json_str(rc_buf *b, int kind, void *cd, const uint8_t *p, size_t n) {
  return append_text(b, kind, cd, p, n, 1);
}

int rc_charset_utf8(rc_buf *b, int kind, void *cd, const uint8_t *p, size_t n) {
  return append_text(b, kind, cd, p, n, 0);
}
