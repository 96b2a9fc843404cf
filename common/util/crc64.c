/* crc64.c: CRC-64-AVRO (crc64.h), table-driven; the table is built on first use. */
#include "crc64.h"

static uint64_t crc64_table[256];
static int crc64_ready;

static void crc64_init(void) {
  for (int i = 0; i < 256; i++) {
    uint64_t fp = (uint64_t)i;
    for (int j = 0; j < 8; j++) fp = (fp >> 1) ^ (RC_CRC64_EMPTY & (0 - (fp & 1)));
    crc64_table[i] = fp;
  }
  crc64_ready = 1;
}

uint64_t rc_crc64_update(uint64_t fp, const void *p, size_t n) {
  if (!crc64_ready) crc64_init();
  const uint8_t *s = p;
  for (size_t i = 0; i < n; i++) fp = (fp >> 8) ^ crc64_table[(fp ^ s[i]) & 0xff];
  return fp;
}

uint64_t rc_crc64(const void *p, size_t n) { return rc_crc64_update(RC_CRC64_EMPTY, p, n); }
