/*
 * crc64.h: the Avro specification's 64-bit Rabin fingerprint (CRC-64-AVRO). Used for Avro schema
 * fingerprints (codec layer) and for table-map signatures (binlog layer).
 */
#ifndef RC_CRC64_H
#define RC_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* The fingerprint of no bytes, and the starting value of the incremental form:
 * fp = RC_CRC64_EMPTY, then fp = rc_crc64_update(fp, p, n)... */
#define RC_CRC64_EMPTY 0xc15d213aa4d7a795ULL

uint64_t rc_crc64(const void *p, size_t n);
uint64_t rc_crc64_update(uint64_t fp, const void *p, size_t n);

#endif
