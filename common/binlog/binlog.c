/*
 * binlog.c: framing of binlog files and streams, checksums, the FORMAT_DESCRIPTION state,
 * GTID tracking, table-map bookkeeping and TRANSACTION_PAYLOAD unpacking (zstd).
 * See binlog.h for the layers; the row decoder is rows.c, table maps are parsed in table_map.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "binlog_int.h"

/* The largest TRANSACTION_PAYLOAD we unpack: MySQL caps a transaction at 1 GiB of binlog. */
#define RC_MAX_PAYLOAD ((size_t)1 << 30)

const char *rc_event_type_name(int type) {
  switch (type) {
  case 1: return "START_EVENT_V3";
  case 2: return "QUERY_EVENT";
  case 3: return "STOP_EVENT";
  case 4: return "ROTATE_EVENT";
  case 5: return "INTVAR_EVENT";
  case 6: return "LOAD_EVENT";
  case 7: return "SLAVE_EVENT";
  case 8: return "CREATE_FILE_EVENT";
  case 9: return "APPEND_BLOCK_EVENT";
  case 10: return "EXEC_LOAD_EVENT";
  case 11: return "DELETE_FILE_EVENT";
  case 12: return "NEW_LOAD_EVENT";
  case 13: return "RAND_EVENT";
  case 14: return "USER_VAR_EVENT";
  case 15: return "FORMAT_DESCRIPTION_EVENT";
  case 16: return "XID_EVENT";
  case 17: return "BEGIN_LOAD_QUERY_EVENT";
  case 18: return "EXECUTE_LOAD_QUERY_EVENT";
  case 19: return "TABLE_MAP_EVENT";
  case 20: return "WRITE_ROWS_EVENT_V0";
  case 21: return "UPDATE_ROWS_EVENT_V0";
  case 22: return "DELETE_ROWS_EVENT_V0";
  case 23: return "WRITE_ROWS_EVENT_V1";
  case 24: return "UPDATE_ROWS_EVENT_V1";
  case 25: return "DELETE_ROWS_EVENT_V1";
  case 26: return "INCIDENT_EVENT";
  case 27: return "HEARTBEAT_LOG_EVENT";
  case 28: return "IGNORABLE_LOG_EVENT";
  case 29: return "ROWS_QUERY_LOG_EVENT";
  case 30: return "WRITE_ROWS_EVENT";
  case 31: return "UPDATE_ROWS_EVENT";
  case 32: return "DELETE_ROWS_EVENT";
  case 33: return "GTID_LOG_EVENT";
  case 34: return "ANONYMOUS_GTID_LOG_EVENT";
  case 35: return "PREVIOUS_GTIDS_LOG_EVENT";
  case 36: return "TRANSACTION_CONTEXT_EVENT";
  case 37: return "VIEW_CHANGE_EVENT";
  case 38: return "XA_PREPARE_LOG_EVENT";
  case 39: return "PARTIAL_UPDATE_ROWS_EVENT";
  case 40: return "TRANSACTION_PAYLOAD_EVENT";
  case 41: return "HEARTBEAT_LOG_EVENT_V2";
  case 42: return "GTID_TAGGED_LOG_EVENT";
  case 160: return "ANNOTATE_ROWS_EVENT";
  case 161: return "BINLOG_CHECKPOINT_EVENT";
  case 162: return "GTID_EVENT";
  case 163: return "GTID_LIST_EVENT";
  case 164: return "START_ENCRYPTION_EVENT";
  case 165: return "QUERY_COMPRESSED_EVENT";
  case 166: return "WRITE_ROWS_COMPRESSED_EVENT_V1";
  case 167: return "UPDATE_ROWS_COMPRESSED_EVENT_V1";
  case 168: return "DELETE_ROWS_COMPRESSED_EVENT_V1";
  case 169: return "WRITE_ROWS_COMPRESSED_EVENT";
  case 170: return "UPDATE_ROWS_COMPRESSED_EVENT";
  case 171: return "DELETE_ROWS_COMPRESSED_EVENT";
  default: return NULL;
  }
}

/* ---- rc_binfile ------------------------------------------------------------------------- */

struct rc_binfile {
  char *path;
  const char *name;
  const uint8_t *map;
  size_t size;
  size_t pos;
  size_t released; /* pages of the map before this offset were handed back (MADV_DONTNEED) */
  int mapped;      /* map is ours to munmap */
};

/* The mapped pages of what was read count in the process's RSS until given back; a reader
 * going through a 1 GiB binlog would otherwise end up holding all of it. Pages behind the read
 * position are given back in steps of RELEASE_STEP, keeping the last RELEASE_KEEP: events
 * handed out recently stay resident, and an older one read again (a private, read-only file
 * mapping) is simply paged in again from the file. */
#define RELEASE_STEP (4u << 20)
#define RELEASE_KEEP (4u << 20)

static int binfile_new(rc_binfile **out, const char *path, const uint8_t *map, size_t size,
                       int mapped, char *errstr, size_t errstr_size) {
  static const uint8_t magic[4] = {0xFE, 'b', 'i', 'n'};
  if (size < 4 || memcmp(map, magic, 4) != 0)
    return rc_errf(RC_ERR_CORRUPT, errstr, errstr_size,
                   "%s: not a binlog file: it does not start with the binlog magic FE 62 69 6E",
                   path);
  rc_binfile *f = calloc(1, sizeof *f);
  if (!f || !(f->path = strdup(path))) {
    free(f);
    return rc_errf(RC_ERR_NOMEM, errstr, errstr_size, "out of memory");
  }
  const char *slash = strrchr(f->path, '/');
  f->name = slash ? slash + 1 : f->path;
  f->map = map;
  f->size = size;
  f->pos = RC_BINLOG_MAGIC_LEN;
  f->mapped = mapped;
  *out = f;
  return 0;
}

int rc_binfile_open_mem(rc_binfile **out, const char *name, const uint8_t *data, size_t size,
                        char *errstr, size_t errstr_size) {
  return binfile_new(out, name, data, size, 0, errstr, errstr_size);
}

int rc_binfile_open(rc_binfile **out, const char *path, char *errstr, size_t errstr_size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return rc_errf(RC_ERR_IO, errstr, errstr_size, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return rc_errf(RC_ERR_IO, errstr, errstr_size, "%s: cannot stat: %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return rc_errf(RC_ERR_ARG, errstr, errstr_size, "%s: not a regular file", path);
  }
  size_t size = (size_t)st.st_size;
  const uint8_t *map = NULL;
  if (size > 0) {
    void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
      int e = errno;
      close(fd);
      return rc_errf(RC_ERR_IO, errstr, errstr_size, "%s: cannot map: %s", path, strerror(e));
    }
    madvise(m, size, MADV_SEQUENTIAL);
    map = m;
  }
  close(fd);
  int r = binfile_new(out, path, map ? map : (const uint8_t *)"", size, map != NULL, errstr, errstr_size);
  if (r < 0 && map) munmap((void *)map, size);
  return r;
}

void rc_binfile_close(rc_binfile *f) {
  if (!f) return;
  if (f->mapped) munmap((void *)f->map, f->size);
  free(f->path);
  free(f);
}

const char *rc_binfile_path(const rc_binfile *f) { return f->path; }
const char *rc_binfile_name(const rc_binfile *f) { return f->name; }
uint64_t rc_binfile_size(const rc_binfile *f) { return f->size; }

int rc_binfile_next(rc_binfile *f, const uint8_t **raw, size_t *len, uint64_t *offset,
                    char *errstr, size_t errstr_size) {
  if (f->pos == f->size) return 0;
  size_t left = f->size - f->pos;
  if (left < RC_EVENT_HEADER_LEN)
    return rc_errf(RC_ERR_TRUNCATED, errstr, errstr_size,
                   "%s: truncated event at offset %zu: %zu bytes left, an event header needs %d",
                   f->path, f->pos, left, RC_EVENT_HEADER_LEN);
  const uint8_t *p = f->map + f->pos;
  uint32_t size = rd_le32(p + 9);
  if (size < RC_EVENT_HEADER_LEN)
    return rc_errf(RC_ERR_CORRUPT, errstr, errstr_size,
                   "%s: corrupt event at offset %zu: event size %u is smaller than the %d-byte header",
                   f->path, f->pos, size, RC_EVENT_HEADER_LEN);
  if (size > left)
    return rc_errf(RC_ERR_TRUNCATED, errstr, errstr_size,
                   "%s: truncated event at offset %zu: the header says %u bytes, the file has %zu left",
                   f->path, f->pos, size, left);
  if (f->pos == RC_BINLOG_MAGIC_LEN && p[4] != RC_EV_FORMAT_DESCRIPTION && p[4] != RC_EV_START_V3) {
    const char *tn = rc_event_type_name(p[4]);
    return rc_errf(RC_ERR_CORRUPT, errstr, errstr_size,
                   "%s: the first event, at offset %zu, is %s (type %u), not a FORMAT_DESCRIPTION_EVENT (type 15): "
                   "every binlog file starts with one and nothing in the file can be decoded or checked without it "
                   "(its type byte may be corrupt)",
                   f->path, f->pos, tn ? tn : "of no known type", p[4]);
  }
  *raw = p;
  *len = size;
  *offset = f->pos;
  f->pos += size;
  if (f->mapped && f->pos - f->released >= RELEASE_STEP + RELEASE_KEEP) {
    size_t upto = (f->pos - RELEASE_KEEP) & ~(size_t)(RELEASE_STEP - 1); /* page aligned */
    if (upto > f->released) {
      madvise((void *)(f->map + f->released), upto - f->released, MADV_DONTNEED);
      f->released = upto;
    }
  }
  return 1;
}

/* ---- rc_binlog ---------------------------------------------------------------------------- */

rc_binlog *rc_binlog_new(void) {
  rc_binlog *bl = calloc(1, sizeof *bl);
  if (!bl) return NULL;
  bl->checksum_alg = -1;
  return bl;
}

static void tables_clear(rc_binlog *bl) {
  for (size_t i = 0; i < bl->tables_cap; i++) {
    rc_table_free(bl->tables[i]);
    bl->tables[i] = NULL;
  }
  bl->tables_n = 0;
}

void rc_binlog_free(rc_binlog *bl) {
  if (!bl) return;
  tables_clear(bl);
  free(bl->tables);
  free(bl->payload);
  free(bl);
}

void rc_binlog_start_file(rc_binlog *bl, const char *name) {
  /* the same file again (a serializer gets every batch with its file's name): the table maps
   * stay, each is checked against the bytes of its next TABLE_MAP before it is used again */
  int same = !strcmp(bl->file, name);
  snprintf(bl->file, sizeof bl->file, "%s", name);
  bl->have_fde = 0;
  bl->checksum_alg = -1;
  bl->n_post_header = 0;
  bl->gtid[0] = 0;
  bl->commit_us = 0;
  bl->payload_len = bl->payload_pos = 0;
  if (!same) tables_clear(bl);
}

const char *rc_binlog_file(const rc_binlog *bl) { return bl->file; }
void rc_binlog_set_verify_checksums(rc_binlog *bl, int on) { bl->no_verify = !on; }
const char *rc_binlog_gtid(const rc_binlog *bl) { return bl->gtid; }
const char *rc_binlog_server_version(const rc_binlog *bl) { return bl->server_version; }
int rc_binlog_is_mariadb(const rc_binlog *bl) { return bl->is_mariadb; }

int rc_binlog_post_header_len(const rc_binlog *bl, int type) {
  if (type == RC_EV_TRANSACTION_PAYLOAD) return 0; /* advertised as 40, but the TLV starts at once */
  if (type >= 1 && type <= bl->n_post_header) return bl->post_header_len[type - 1];
  return -1;
}

uint64_t rc_table_map_id(const rc_binlog *bl, const rc_event *ev) {
  if (ev->body_len < 6) return 0;
  return rc_binlog_post_header_len(bl, RC_EV_TABLE_MAP) == 6 ? rd_le32(ev->body) : rd_le48(ev->body);
}

uint64_t rc_rows_table_id(const rc_binlog *bl, const rc_event *ev) {
  if (ev->body_len < 6) return 0;
  return rc_binlog_post_header_len(bl, ev->type) == 6 ? rd_le32(ev->body) : rd_le48(ev->body);
}

static size_t table_slot(const rc_binlog *bl, uint64_t id) {
  size_t mask = bl->tables_cap - 1;
  size_t i = (size_t)(id * 0x9E3779B97F4A7C15ull >> 20) & mask;
  while (bl->tables[i] && bl->tables[i]->table_id != id) i = (i + 1) & mask;
  return i;
}

const rc_table *rc_binlog_table(const rc_binlog *bl, uint64_t table_id) {
  if (!bl->tables_cap) return NULL;
  return bl->tables[table_slot(bl, table_id)];
}

static int table_put(rc_binlog *bl, rc_table *t) {
  if (bl->tables_n >= RC_MAX_TABLES) tables_clear(bl); /* bound memory on endless streams */
  if ((bl->tables_n + 1) * 2 > bl->tables_cap) {
    size_t ncap = bl->tables_cap ? bl->tables_cap * 2 : 64;
    rc_table **old = bl->tables;
    size_t ocap = bl->tables_cap;
    bl->tables = calloc(ncap, sizeof *bl->tables);
    if (!bl->tables) {
      bl->tables = old;
      return RC_ERR_NOMEM;
    }
    bl->tables_cap = ncap;
    for (size_t i = 0; i < ocap; i++)
      if (old[i]) bl->tables[table_slot(bl, old[i]->table_id)] = old[i];
    free(old);
  }
  size_t i = table_slot(bl, t->table_id);
  if (bl->tables[i]) {
    rc_table_free(bl->tables[i]);
  } else {
    bl->tables_n++;
  }
  bl->tables[i] = t;
  return 0;
}

/* Does a server of this version write the checksum-algorithm byte in its FORMAT_DESCRIPTION?
 * MySQL from 5.6.1, MariaDB from 5.3. -1: the text is not a server version at all. */
static int version_has_checksum(const char *v) {
  unsigned maj = 0, min = 0, pat = 0;
  if (sscanf(v, "%u.%u.%u", &maj, &min, &pat) < 2) return -1;
  if (strstr(v, "MariaDB")) return maj > 5 || (maj == 5 && min >= 3);
  return maj > 5 || (maj == 5 && (min > 6 || (min == 6 && pat >= 1)));
}

/* The CRC32 a FORMAT_DESCRIPTION carries: over the event but its last 4 bytes, computed with the
 * in-use flag cleared (byte 17 holds the low byte of the header flags) and, when alg >= 0, with
 * the checksum-algorithm byte taken as alg. */
static uint32_t fde_crc(const rc_event *ev, int alg) {
  uint8_t flags_lo = (uint8_t)(ev->raw[17] & ~RC_EVF_BINLOG_IN_USE);
  uint8_t a = alg >= 0 ? (uint8_t)alg : ev->raw[ev->raw_len - 5];
  uLong crc = crc32(0L, ev->raw, 17);
  crc = crc32(crc, &flags_lo, 1);
  crc = crc32(crc, ev->raw + 18, (uInt)(ev->raw_len - 5 - 18));
  return (uint32_t)crc32(crc, &a, 1);
}

/* The checksum fields of a FORMAT_DESCRIPTION (the algorithm byte and the CRC32 after it, which
 * every server that writes the byte writes, even with checksums off): verified whenever the
 * version says they are there or the bytes look like them, so that no single corrupted byte
 * (the algorithm, the version text) can switch verification off for the file. Returns the
 * algorithm (0 off, 1 CRC32), 2 when the event has no checksum fields, or an error. */
static int fde_checksum(rc_binlog *bl, const rc_event *ev, int has_fields, char *errstr, size_t es) {
  unsigned long long off = (unsigned long long)ev->offset;
  uint32_t want = rd_le32(ev->raw + ev->raw_len - 4);
  int alg = ev->raw[ev->raw_len - 5];
  if (!has_fields) {
    /* an older server's version, but the bytes end like a checksummed FORMAT_DESCRIPTION: the
     * event's own post-header length (entry 15 of the array) leaves exactly the 5 bytes of the
     * checksum fields, or they hold a CRC32 of the event */
    size_t n = ev->raw_len - RC_EVENT_HEADER_LEN;
    const uint8_t *ph = ev->raw + RC_EVENT_HEADER_LEN + 57;
    if (n >= 57 + RC_EV_FORMAT_DESCRIPTION && (size_t)ph[RC_EV_FORMAT_DESCRIPTION - 1] + 5 == n) has_fields = 1;
    else if ((alg == 0 || alg == 1) && fde_crc(ev, -1) == want) has_fields = 1;
    else if (alg == 0 && fde_crc(ev, 1) == want) has_fields = 1;
    if (!has_fields) return 2;
  }
  if (alg != 0 && alg != 1)
    return rc_errf(RC_ERR_CORRUPT, errstr, es,
                   "%s: FORMAT_DESCRIPTION at offset %llu names checksum algorithm %d; known are 0 (none) and 1 (CRC32)",
                   bl->file, off, alg);
  if (bl->no_verify) return alg;
  uint32_t got = fde_crc(ev, -1);
  if (got == want) return alg;
  if (alg == 0 && fde_crc(ev, 1) == want)
    return rc_errf(RC_ERR_CHECKSUM, errstr, es,
                   "%s: FORMAT_DESCRIPTION at offset %llu says checksums are off, but its CRC32 was computed with "
                   "them on (algorithm 1): the algorithm byte is corrupt",
                   bl->file, off);
  return rc_errf(RC_ERR_CHECKSUM, errstr, es,
                 "%s: checksum mismatch in FORMAT_DESCRIPTION event at offset %llu: stored %08x, computed %08x",
                 bl->file, off, want, got);
}

static int parse_fde(rc_binlog *bl, const rc_event *ev, char *errstr, size_t es) {
  const uint8_t *b = ev->raw + RC_EVENT_HEADER_LEN;
  size_t n = ev->raw_len - RC_EVENT_HEADER_LEN;
  if (n < 2 + 50 + 4 + 1)
    return rc_errf(RC_ERR_CORRUPT, errstr, es,
                   "%s: corrupt FORMAT_DESCRIPTION event at offset %llu: %zu bytes, need at least 57",
                   bl->file, (unsigned long long)ev->offset, n);
  uint16_t version = rd_le16(b);
  if (version != 4)
    return rc_errf(RC_ERR_UNSUPPORTED, errstr, es,
                   "%s: FORMAT_DESCRIPTION at offset %llu has binlog version %u; rowcast reads version 4 (MySQL 5.0 and later)",
                   bl->file, (unsigned long long)ev->offset, version);
  memcpy(bl->server_version, b + 2, 50);
  bl->server_version[50] = 0;
  bl->is_mariadb = strstr(bl->server_version, "MariaDB") != NULL;
  uint8_t header_len = b[56];
  if (header_len != RC_EVENT_HEADER_LEN)
    return rc_errf(RC_ERR_UNSUPPORTED, errstr, es,
                   "%s: FORMAT_DESCRIPTION at offset %llu has common header length %u, expected 19",
                   bl->file, (unsigned long long)ev->offset, header_len);
  int vc = version_has_checksum(bl->server_version);
  size_t npost = n - 57;
  int alg = npost >= 5 ? fde_checksum(bl, ev, vc > 0, errstr, es) : 2;
  if (alg < 0) return alg;
  if (alg == 2 && vc > 0)
    return rc_errf(RC_ERR_CORRUPT, errstr, es,
                   "%s: FORMAT_DESCRIPTION at offset %llu is too short for its checksum fields",
                   bl->file, (unsigned long long)ev->offset);
  if (vc < 0 && alg == 2) {
    char shown[51];
    size_t k = 0;
    for (; bl->server_version[k]; k++) {
      unsigned char ch = (unsigned char)bl->server_version[k];
      shown[k] = ch >= 0x20 && ch < 0x7f && ch != '"' ? (char)ch : '?';
    }
    shown[k] = 0;
    return rc_errf(RC_ERR_CORRUPT, errstr, es,
                   "%s: corrupt FORMAT_DESCRIPTION at offset %llu: server version \"%s\" does not start with a version "
                   "number, and no checksum confirms the event",
                   bl->file, (unsigned long long)ev->offset, shown);
  }
  if (alg != 2) {
    npost -= 5;
    bl->fde_crc_fields = 1;
  } else {
    alg = 0;
    bl->fde_crc_fields = 0;
  }
  if (npost > 255) npost = 255;
  memcpy(bl->post_header_len, b + 57, npost);
  bl->n_post_header = (int)npost;
  bl->checksum_alg = alg;
  bl->have_fde = 1;
  return 0;
}

void rc_event_parse_header(rc_event *ev, const uint8_t *raw, size_t len, uint64_t offset) {
  ev->raw = raw;
  ev->raw_len = len;
  ev->ts = rd_le32(raw);
  ev->type = raw[4];
  ev->server_id = rd_le32(raw + 5);
  ev->size = rd_le32(raw + 9);
  ev->log_pos = rd_le32(raw + 13);
  ev->flags = rd_le16(raw + 17);
  ev->offset = offset;
  ev->in_payload = 0;
  ev->body = raw + RC_EVENT_HEADER_LEN;
  ev->body_len = len - RC_EVENT_HEADER_LEN;
}

uint64_t rc_binlog_commit_us(const rc_binlog *bl, const rc_event *ev) {
  return bl->commit_us ? bl->commit_us : (uint64_t)ev->ts * 1000000u;
}

/* "uuid" in MySQL's text form (lowercase, 8-4-4-4-12) at o; returns the end. */
static char *put_uuid_text(char *o, const uint8_t *u) {
  static const char hx[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
    *o++ = hx[u[i] >> 4];
    *o++ = hx[u[i] & 15];
  }
  *o = 0;
  return o;
}

/* GTID_TAGGED (MySQL 8.4+): the uuid, tag, gno and immediate commit time out of the
 * serialization library's message (the field layout: binlog_info_gtid.c). The GTID text is what
 * the server prints, "uuid:tag:gno". An event that does not parse leaves the GTID empty; `decode
 * --events` names what is wrong with it. */
static void track_gtid_tagged(rc_binlog *bl, const rc_event *ev) {
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  (void)cur_u8(&c); /* serialization version */
  uint64_t size = cur_varlen(&c);
  (void)cur_varlen(&c); /* last non-ignorable field */
  size_t consumed = (size_t)(c.p - ev->body);
  if (c.bad || size < consumed || size - consumed > cur_left(&c)) return;
  rc_cur m = {c.p, c.p + (size - consumed), 0};
  uint8_t sid[16];
  const uint8_t *tag = NULL;
  uint64_t tag_len = 0, imm_ts = 0;
  int64_t gno = 0;
  int have_sid = 0, have_gno = 0, done = 0;
  while (cur_left(&m) > 0 && !done && !m.bad) {
    switch (cur_varlen(&m)) {
    case 1:
      for (int i = 0; i < 16; i++) {
        uint64_t v = cur_varlen(&m);
        if (v > 255) return;
        sid[i] = (uint8_t)v;
      }
      have_sid = 1;
      break;
    case 2: gno = cur_varlen_signed(&m), have_gno = 1; break;
    case 3:
      tag_len = cur_varlen(&m);
      if (m.bad || tag_len > cur_left(&m) || tag_len > 32) return; /* MySQL's tags: 32 characters at most */
      tag = cur_take(&m, (size_t)tag_len);
      break;
    case 6: imm_ts = cur_varlen(&m); break;
    case 0: case 4: case 5: case 7: case 8: case 9: case 10: case 11: (void)cur_varlen(&m); break;
    default: done = 1; break; /* a later field: what rowcast needs comes before it */
    }
  }
  if (m.bad || !have_sid || !have_gno) return;
  char *o = put_uuid_text(bl->gtid, sid);
  size_t room = sizeof bl->gtid - (size_t)(o - bl->gtid);
  if (tag_len)
    snprintf(o, room, ":%.*s:%lld", (int)tag_len, (const char *)tag, (long long)gno);
  else
    snprintf(o, room, ":%lld", (long long)gno);
  bl->commit_us = imm_ts;
}

static void track_gtid(rc_binlog *bl, const rc_event *ev) {
  const uint8_t *b = ev->body;
  size_t n = ev->body_len;
  bl->commit_us = 0;
  bl->gtid[0] = 0;
  /* MySQL 8: flags, sid, gno, ts_type, last_committed, sequence_number, then the 7-byte
   * immediate_commit_timestamp (bit 55: an original timestamp follows) */
  if ((ev->type == RC_EV_GTID || ev->type == RC_EV_ANONYMOUS_GTID) && n >= 42 + 7 && b[25] == 2)
    bl->commit_us = rd_le_n(b + 42, 7) & ~(1ull << 55);
  if (ev->type == RC_EV_MARIA_GTID && n >= 13) {
    snprintf(bl->gtid, sizeof bl->gtid, "%u-%u-%llu", rd_le32(b + 8), ev->server_id,
             (unsigned long long)rd_le64(b));
  } else if (ev->type == RC_EV_GTID && n >= 25) {
    char *o = put_uuid_text(bl->gtid, b + 1);
    snprintf(o, sizeof bl->gtid - (size_t)(o - bl->gtid), ":%lld", (long long)rd_le64(b + 17));
  } else if (ev->type == RC_EV_GTID_TAGGED) {
    track_gtid_tagged(bl, ev);
  } /* anonymous: no GTID */
}

static int unpack_payload(rc_binlog *bl, const rc_event *ev, char *errstr, size_t es) {
  rc_cur c = {ev->body, ev->body + ev->body_len, 0};
  uint64_t payload_size = 0, comp = 255, usize = 0;
  int have_size = 0;
  for (;;) {
    uint64_t t = cur_lenenc(&c);
    if (c.bad) break;
    if (t == 0) break;
    uint64_t l = cur_lenenc(&c);
    rc_cur v = {c.p, c.p + (l <= cur_left(&c) ? l : 0), 0};
    if (!cur_take(&c, l)) break;
    if (t == 1) payload_size = cur_lenenc(&v), have_size = 1;
    else if (t == 2) comp = cur_lenenc(&v);
    else if (t == 3) usize = cur_lenenc(&v);
    if (v.bad) c.bad = 1;
  }
  if (c.bad || !have_size || payload_size != cur_left(&c))
    return rc_errf(RC_ERR_CORRUPT, errstr, es,
                   "%s: corrupt TRANSACTION_PAYLOAD event at offset %llu: bad header (payload size %llu, %zu bytes follow)",
                   bl->file, (unsigned long long)ev->offset, (unsigned long long)payload_size,
                   cur_left(&c));
  const uint8_t *data = c.p;
  size_t dlen = (size_t)payload_size;
  if (comp == 255) {
    usize = dlen;
  } else if (comp != 0) {
    return rc_errf(RC_ERR_UNSUPPORTED, errstr, es,
                   "%s: TRANSACTION_PAYLOAD at offset %llu uses compression type %llu; known are 0 (zstd) and 255 (none)",
                   bl->file, (unsigned long long)ev->offset, (unsigned long long)comp);
  }
  if (usize > RC_MAX_PAYLOAD)
    return rc_errf(RC_ERR_UNSUPPORTED, errstr, es,
                   "%s: TRANSACTION_PAYLOAD at offset %llu unpacks to %llu bytes, over rowcast's limit of %zu",
                   bl->file, (unsigned long long)ev->offset, (unsigned long long)usize, RC_MAX_PAYLOAD);
  if (bl->payload_cap < usize) {
    uint8_t *p = realloc(bl->payload, usize);
    if (!p) return rc_errf(RC_ERR_NOMEM, errstr, es, "out of memory unpacking a transaction payload");
    bl->payload = p;
    bl->payload_cap = usize;
  }
  if (comp == 255) {
    memcpy(bl->payload, data, dlen);
  } else {
    size_t got = ZSTD_decompress(bl->payload, usize, data, dlen);
    if (ZSTD_isError(got) || got != usize)
      return rc_errf(RC_ERR_CORRUPT, errstr, es,
                     "%s: TRANSACTION_PAYLOAD at offset %llu does not unpack: %s (expected %llu bytes)",
                     bl->file, (unsigned long long)ev->offset,
                     ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size",
                     (unsigned long long)usize);
  }
  bl->payload_len = usize;
  bl->payload_pos = 0;
  bl->payload_offset = ev->offset;
  return 0;
}

/* State changes an event makes, common to outer and inner events. */
static int apply_event(rc_binlog *bl, const rc_event *ev, char *errstr, size_t es) {
  switch (ev->type) {
  case RC_EV_TABLE_MAP: {
    /* every transaction maps its tables again, mostly with the very same bytes: then the table
     * parsed the last time stays (and with it what was derived from it, the signature) */
    uint64_t id = rc_table_map_id(bl, ev);
    const rc_table *old = rc_binlog_table(bl, id);
    if (old && old->map_body && old->map_body_len == ev->body_len && !memcmp(old->map_body, ev->body, ev->body_len))
      return 0;
    rc_table *t;
    int r = rc_table_map_parse(ev->body, ev->body_len, rc_binlog_post_header_len(bl, ev->type),
                               bl->is_mariadb, &t, errstr, es);
    if (r < 0) {
      char inner[512];
      snprintf(inner, sizeof inner, "%s", errstr ? errstr : "");
      return rc_errf(r, errstr, es, "%s: TABLE_MAP event at offset %llu: %s", bl->file,
                     (unsigned long long)ev->offset, inner);
    }
    if ((t->map_body = malloc(ev->body_len ? ev->body_len : 1))) { /* without it: parsed every time */
      memcpy(t->map_body, ev->body, ev->body_len);
      t->map_body_len = ev->body_len;
    }
    r = table_put(bl, t);
    if (r < 0) {
      rc_table_free(t);
      return rc_errf(r, errstr, es, "out of memory");
    }
    return 0;
  }
  case RC_EV_MARIA_GTID:
  case RC_EV_GTID:
  case RC_EV_ANONYMOUS_GTID:
  case RC_EV_GTID_TAGGED:
    track_gtid(bl, ev);
    return 0;
  default:
    return 0;
  }
}

int rc_binlog_feed(rc_binlog *bl, const uint8_t *raw, size_t len, uint64_t offset, rc_event *ev,
                   char *errstr, size_t es) {
  if (len < RC_EVENT_HEADER_LEN)
    return rc_errf(RC_ERR_TRUNCATED, errstr, es, "%s: event at offset %llu has %zu bytes, less than a header",
                   bl->file, (unsigned long long)offset, len);
  rc_event_parse_header(ev, raw, len, offset);
  if (ev->size != len)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s: event at offset %llu: header says %u bytes, got %zu",
                   bl->file, (unsigned long long)offset, ev->size, len);
  bl->payload_len = bl->payload_pos = 0;
  if (ev->type == RC_EV_FORMAT_DESCRIPTION) {
    int r = parse_fde(bl, ev, errstr, es);
    if (r < 0) return r;
    if (bl->fde_crc_fields) ev->body_len -= 4;
    return 0;
  }
  if (ev->type == RC_EV_START_V3 && !bl->have_fde) {
    /* binlog version 1-3 (MySQL before 5.0): not supported */
    return rc_errf(RC_ERR_UNSUPPORTED, errstr, es,
                   "%s: START_EVENT_V3 at offset %llu: binlog versions before 4 (MySQL < 5.0) are not supported",
                   bl->file, (unsigned long long)offset);
  }
  int has_crc;
  if (bl->have_fde) {
    has_crc = bl->checksum_alg == 1;
  } else {
    /* Before any FORMAT_DESCRIPTION (a replication stream's fake ROTATE): the checksum depends
     * on what was negotiated; accept the event with a CRC if its last 4 bytes are one. */
    has_crc = len >= RC_EVENT_HEADER_LEN + 4 &&
              (uint32_t)crc32(0L, raw, (uInt)(len - 4)) == rd_le32(raw + len - 4);
  }
  if (has_crc) {
    if (len < RC_EVENT_HEADER_LEN + 4)
      return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s: event at offset %llu is too short for its checksum",
                     bl->file, (unsigned long long)offset);
    uint32_t want = rd_le32(raw + len - 4);
    uint32_t got = bl->no_verify ? want : (uint32_t)crc32(0L, raw, (uInt)(len - 4));
    if (want != got)
      return rc_errf(RC_ERR_CHECKSUM, errstr, es,
                     "%s: checksum mismatch in %s (type %u) at offset %llu: stored %08x, computed %08x",
                     bl->file, rc_event_type_name(ev->type) ? rc_event_type_name(ev->type) : "event",
                     ev->type, (unsigned long long)offset, want, got);
    ev->body_len -= 4;
  }
  if (ev->type == RC_EV_TRANSACTION_PAYLOAD) return unpack_payload(bl, ev, errstr, es);
  return apply_event(bl, ev, errstr, es);
}

int rc_binlog_feed_nocrc(rc_binlog *bl, const uint8_t *raw, size_t len, uint64_t offset,
                         rc_event *ev, char *errstr, size_t es) {
  if (len < RC_EVENT_HEADER_LEN || rd_le32(raw + 9) != len)
    return rc_errf(RC_ERR_CORRUPT, errstr, es, "%s: event at offset %llu: %zu bytes do not frame an event",
                   bl->file, (unsigned long long)offset, len);
  rc_event_parse_header(ev, raw, len, offset);
  ev->in_payload = 1;
  return apply_event(bl, ev, errstr, es);
}

int rc_binlog_next_inner(rc_binlog *bl, rc_event *ev, char *errstr, size_t es) {
  if (bl->payload_pos >= bl->payload_len) return 0;
  size_t left = bl->payload_len - bl->payload_pos;
  const uint8_t *p = bl->payload + bl->payload_pos;
  if (left < RC_EVENT_HEADER_LEN || rd_le32(p + 9) < RC_EVENT_HEADER_LEN || rd_le32(p + 9) > left)
    return rc_errf(RC_ERR_CORRUPT, errstr, es,
                   "%s: TRANSACTION_PAYLOAD at offset %llu: inner event at payload byte %zu does not fit (%zu bytes left)",
                   bl->file, (unsigned long long)bl->payload_offset, bl->payload_pos, left);
  size_t len = rd_le32(p + 9);
  rc_event_parse_header(ev, p, len, bl->payload_offset);
  ev->in_payload = 1;
  bl->payload_pos += len;
  if (ev->type == RC_EV_TRANSACTION_PAYLOAD || ev->type == RC_EV_FORMAT_DESCRIPTION)
    return rc_errf(RC_ERR_CORRUPT, errstr, es,
                   "%s: TRANSACTION_PAYLOAD at offset %llu holds a %s, which cannot be nested",
                   bl->file, (unsigned long long)bl->payload_offset, rc_event_type_name(ev->type));
  int r = apply_event(bl, ev, errstr, es);
  return r < 0 ? r : 1;
}
