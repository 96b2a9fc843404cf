/* shared.c: the frame ring in shared memory of shared.h. */
#include "shared.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame.h"
#include "rc_err.h"

#define HEADER_BYTES 4096
#define RELEASED_AT 64 /* the reader's counter, a cache line of its own */

static inline _Atomic uint64_t *released_of(const rc_shared *r) { return (_Atomic uint64_t *)(void *)(r->map + RELEASED_AT); }

int rc_shared_create(uint64_t ring_bytes, const char *name, char *errstr, size_t es) {
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return rc_errf(-1, errstr, es, "memfd_create: %s", strerror(errno));
  if (ftruncate(fd, (off_t)(HEADER_BYTES + ring_bytes)) != 0) {
    int e = errno;
    close(fd);
    return rc_errf(-1, errstr, es, "sizing a shared frame ring of %llu bytes: %s", (unsigned long long)ring_bytes,
                   strerror(e));
  }
  return fd;
}

int rc_shared_map(rc_shared *r, int fd, char *errstr, size_t es) {
  memset(r, 0, sizeof *r);
  struct stat sb;
  if (fstat(fd, &sb) != 0) return rc_errf(-1, errstr, es, "shared frame ring (fd %d): %s", fd, strerror(errno));
  if (sb.st_size <= HEADER_BYTES) return rc_errf(-1, errstr, es, "shared frame ring (fd %d): too small", fd);
  void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return rc_errf(-1, errstr, es, "mapping the shared frame ring (fd %d): %s", fd, strerror(errno));
  r->map = m;
  r->map_len = (size_t)sb.st_size;
  r->data = r->map + HEADER_BYTES;
  r->size = (uint64_t)sb.st_size - HEADER_BYTES;
  r->head = atomic_load_explicit(released_of(r), memory_order_acquire); /* 0 in a new region */
  return 0;
}

void rc_shared_unmap(rc_shared *r) {
  if (r->map) munmap(r->map, r->map_len);
  memset(r, 0, sizeof *r);
}

/* The reference to the frame of len bytes at ring offset off, ending the writer's position
 * (written with frame.h's little-endian fields into the caller's RC_SHARED_REF_LEN bytes). */
static void put_ref(const rc_shared *r, uint64_t off, size_t len, uint8_t *ref_msg) {
  rc_buf b;
  rc_buf_borrow(&b, ref_msg, RC_SHARED_REF_LEN);
  rc_frame_put_u32(&b, RC_SHARED_REF_MAGIC);
  rc_frame_put_u32(&b, (uint32_t)len);
  rc_frame_put_u64(&b, off);
  rc_frame_put_u64(&b, r->head);
}

uint8_t *rc_shared_window(rc_shared *r, size_t want, size_t *avail) {
  if (!r->map) return NULL;
  uint64_t released = atomic_load_explicit(released_of(r), memory_order_acquire);
  uint64_t free = r->size - (r->head - released), off = r->head % r->size, quarter = r->size / 4;
  uint64_t room = r->size - off < free ? r->size - off : free, pad = 0;
  if (room < want && free > r->size - off) { /* too little before the end: start over at 0 */
    pad = r->size - off;
    room = free - pad;
    off = 0;
  }
  if (room < want) return NULL;
  r->pad = pad;
  *avail = (size_t)(room < quarter ? room : quarter);
  return r->data + off;
}

void rc_shared_commit(rc_shared *r, size_t len, uint8_t *ref_msg) {
  r->head += r->pad;
  uint64_t off = r->head % r->size;
  r->head += len;
  r->pad = 0;
  r->put++;
  put_ref(r, off, len, ref_msg);
}

int rc_shared_put(rc_shared *r, const void *buf, size_t len, uint8_t *ref_msg) {
  if (!r->map || len == 0 || len > r->size / 4) {
    if (r->map) r->too_large++;
    return -1;
  }
  size_t avail;
  uint8_t *at = rc_shared_window(r, len, &avail);
  if (!at) return 0; /* the reader still holds what it would overwrite */
  memcpy(at, buf, len);
  rc_shared_commit(r, len, ref_msg);
  return 1; /* the bytes are visible to the reader before the reference: it comes by a syscall */
}

int rc_shared_ref_parse(const rc_shared *r, const void *msg, size_t len, rc_shared_ref *ref) {
  if (len != RC_SHARED_REF_LEN) return 0;
  rc_frame_rd rd;
  rc_frame_rd_init(&rd, msg, len);
  if (rc_frame_get_u32(&rd) != RC_SHARED_REF_MAGIC) return 0;
  ref->len = rc_frame_get_u32(&rd);
  ref->off = rc_frame_get_u64(&rd);
  ref->end = rc_frame_get_u64(&rd);
  if (!r->map || ref->off >= r->size || ref->len > r->size - ref->off || ref->len == 0) return -1;
  return 1;
}

void rc_shared_release(rc_shared *r, uint64_t end) {
  atomic_store_explicit(released_of(r), end, memory_order_release);
}

uint64_t rc_shared_used(const rc_shared *r) {
  return r->map ? r->head - atomic_load_explicit(released_of(r), memory_order_acquire) : 0;
}
