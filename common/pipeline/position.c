/* position.c: binlog positions (position.h). */
#include "position.h"

int64_t rc_pos_file_seq(const char *name, size_t n) {
  size_t dot = n;
  while (dot > 0 && name[dot - 1] != '.') dot--;
  if (dot == 0 || dot == n || n - dot > 18) return -1;
  int64_t v = 0;
  for (size_t i = dot; i < n; i++) {
    if (name[i] < '0' || name[i] > '9') return -1;
    v = v * 10 + (name[i] - '0');
  }
  return v;
}
