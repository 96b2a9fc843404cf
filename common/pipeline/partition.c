/* partition.c: Kafka's murmur2 (partition.h). */
#include "partition.h"

int32_t rc_murmur2(const void *data, size_t n) {
  const uint8_t *p = data;
  const uint32_t m = 0x5bd1e995u;
  uint32_t h = 0x9747b28cu ^ (uint32_t)n;
  size_t n4 = n / 4;
  for (size_t i = 0; i < n4; i++) {
    const uint8_t *q = p + 4 * i;
    uint32_t k = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  const uint8_t *t = p + 4 * n4;
  switch (n & 3) {
  case 3: h ^= (uint32_t)t[2] << 16; /* fall through */
  case 2: h ^= (uint32_t)t[1] << 8;  /* fall through */
  case 1:
    h ^= t[0];
    h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return (int32_t)h;
}
