/* snapshot_spool.c: the chunk files of snapshot_spool.h. */
#include "snapshot_spool.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "frame.h"
#include "rc_err.h"

#define SPOOL_MAGIC "RCSNAP1\n"

/* The fields are little-endian integers, written and read with frame.h's primitives; the
 * row offsets are an array of size_t as the chunk holds them (a chunk file is read back by
 * the same build that wrote it). */
static void put_str(rc_buf *b, const char *s) {
  size_t n = strlen(s);
  rc_frame_put_u32(b, (uint32_t)n);
  rc_buf_put(b, s, n);
}
static void put_bytes(rc_buf *b, const void *p, size_t n) {
  rc_frame_put_u64(b, n);
  rc_buf_put(b, p, n);
}

int rc_spool_write(const char *dir, const rc_spool_chunk *c, char *es, size_t esz) {
  if (rc_mkdirs(dir, es, esz) < 0) return RC_ERR_IO;
  rc_buf b = {0};
  rc_buf_lit(&b, SPOOL_MAGIC);
  rc_frame_put_u64(&b, c->seq);
  rc_frame_put_u32(&b, c->flags);
  put_str(&b, c->db);
  put_str(&b, c->name);
  put_str(&b, c->file);
  rc_frame_put_u64(&b, c->pos);
  rc_frame_put_u32(&b, c->row_base);
  rc_frame_put_u64(&b, c->table_id);
  rc_frame_put_u32(&b, c->ncols);
  rc_frame_put_u32(&b, c->nrows);
  put_bytes(&b, c->tmap.p, c->tmap.len);
  put_bytes(&b, c->off, (size_t)(c->nrows + 1) * sizeof *c->off);
  put_bytes(&b, c->images.p, c->images.len);
  put_bytes(&b, c->key.p, c->key.len);
  char path[4200], tmp[4220];
  snprintf(path, sizeof path, "%s/chunk-%020llu", dir, (unsigned long long)c->seq);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(b.p, 1, b.len, f) == b.len;
  if (f && fclose(f) != 0) ok = 0;
  rc_buf_free(&b);
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    return rc_errf(RC_ERR_IO, es, esz, "cannot write the snapshot chunk %s: %s", path, strerror(e));
  }
  return 0;
}

static void get_str(rc_frame_rd *r, char *out, size_t size) {
  uint32_t n = rc_frame_get_u32(r);
  const uint8_t *q = rc_frame_take(r, n);
  if (!q || n >= size) {
    r->bad = 1;
    out[0] = 0;
    return;
  }
  memcpy(out, q, n);
  out[n] = 0;
}
static const uint8_t *get_bytes(rc_frame_rd *r, size_t *n) {
  *n = (size_t)rc_frame_get_u64(r);
  return rc_frame_take(r, *n);
}

int rc_spool_read(const char *dir, uint64_t seq, rc_spool_chunk *c, char *es, size_t esz) {
  char path[4200];
  snprintf(path, sizeof path, "%s/chunk-%020llu", dir, (unsigned long long)seq);
  FILE *f;
  int o = rc_state_open(path, "the snapshot chunk ", &f, es, esz);
  if (o <= 0) return o;
  rc_buf b = {0};
  char tmp[65536];
  size_t n;
  while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) rc_buf_put(&b, tmp, n);
  fclose(f);
  rc_frame_rd r;
  rc_frame_rd_init(&r, (const uint8_t *)b.p, b.len);
  const uint8_t *m = rc_frame_take(&r, strlen(SPOOL_MAGIC));
  if (!m || memcmp(m, SPOOL_MAGIC, strlen(SPOOL_MAGIC))) r.bad = 1;
  c->seq = rc_frame_get_u64(&r);
  c->flags = rc_frame_get_u32(&r);
  get_str(&r, c->db, sizeof c->db);
  get_str(&r, c->name, sizeof c->name);
  get_str(&r, c->file, sizeof c->file);
  c->pos = rc_frame_get_u64(&r);
  c->row_base = rc_frame_get_u32(&r);
  c->table_id = rc_frame_get_u64(&r);
  c->ncols = rc_frame_get_u32(&r);
  c->nrows = rc_frame_get_u32(&r);
  size_t tl, ol, il, kl;
  const uint8_t *t = get_bytes(&r, &tl), *offs = get_bytes(&r, &ol), *img = get_bytes(&r, &il), *key = get_bytes(&r, &kl);
  int rc = 0;
  if (r.bad || r.p != r.end || c->seq != seq || ol != (size_t)(c->nrows + 1) * sizeof *c->off) {
    rc = rc_errf(RC_ERR_CORRUPT, es, esz, "the snapshot chunk %s is cut short or garbled: remove %s (and the "
                 "snapshot starts over)", path, dir);
  } else {
    c->tmap.len = c->images.len = c->key.len = 0;
    rc_buf_put(&c->tmap, t, tl);
    rc_buf_put(&c->images, img, il);
    rc_buf_put(&c->key, key, kl);
    free(c->off);
    free(c->dropped);
    c->off = malloc(ol);
    c->dropped = calloc(c->nrows + 1, 1);
    if (!c->off || !c->dropped) rc = rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
    else memcpy(c->off, offs, ol);
    for (uint32_t i = 0; rc == 0 && i < c->nrows; i++)
      if (c->off[i] > c->off[i + 1] || c->off[i + 1] > il)
        rc = rc_errf(RC_ERR_CORRUPT, es, esz, "the snapshot chunk %s is garbled: remove %s", path, dir);
  }
  rc_buf_free(&b);
  return rc < 0 ? rc : 1;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

int rc_spool_list(const char *dir, uint64_t **seqs, size_t *n, char *es, size_t esz) {
  *seqs = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT ? 0 : rc_errf(RC_ERR_IO, es, esz, "cannot list %s: %s", dir, strerror(errno));
  size_t cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "chunk-", 6) || strlen(e->d_name) != 26 || strspn(e->d_name + 6, "0123456789") != 20)
      continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      uint64_t *s = realloc(*seqs, cap * sizeof *s);
      if (!s) break;
      *seqs = s;
    }
    (*seqs)[(*n)++] = strtoull(e->d_name + 6, NULL, 10);
  }
  closedir(d);
  if (*n) qsort(*seqs, *n, sizeof **seqs, cmp_u64);
  return 0;
}

void rc_spool_remove(const char *dir, uint64_t seq) {
  char path[4200];
  snprintf(path, sizeof path, "%s/chunk-%020llu", dir, (unsigned long long)seq);
  unlink(path);
}

void rc_spool_chunk_free(rc_spool_chunk *c) {
  rc_buf_free(&c->tmap);
  rc_buf_free(&c->images);
  rc_buf_free(&c->key);
  free(c->off);
  free(c->dropped);
  c->off = NULL;
  c->dropped = NULL;
}
