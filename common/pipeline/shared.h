/*
 * shared.h: a serializer's frames handed to the publisher through shared memory instead of
 * through the pipe's socket (which copies every byte into the kernel and out again).
 *
 * The supervisor makes one region per serializer worker and group start (a memfd, pipe.shared_bytes
 * divided among the workers), and both processes inherit it. The serializer copies a finished
 * MESSAGES frame into the region's ring and sends, over its pipe as before, a 24-byte reference
 * to it; so the pipe still orders everything and wakes the publisher. The publisher reads the
 * frame where it lies, librdkafka points into it until the delivery reports, and the publisher
 * then gives the space back, in the order the frames came (a counter in the region's first page).
 * A full ring makes the serializer wait, as a full pipe does: the ring's size bounds what is
 * between the two. A frame larger than a quarter of the ring goes through the socket whole, as
 * every frame did before. A crash of either process restarts the whole group, which gets
 * fresh regions: nothing in a region outlives its group.
 */
#ifndef RC_SHARED_H
#define RC_SHARED_H

#include <stddef.h>
#include <stdint.h>

#define RC_SHARED_REF_MAGIC 0x31524352u /* "RCR1" little-endian: not a frame's "RCF1" */
#define RC_SHARED_REF_LEN 24

typedef struct rc_shared {
  uint8_t *map;      /* the whole mapping: one header page, then the ring */
  size_t map_len;
  uint8_t *data;     /* the ring */
  uint64_t size;     /* its bytes */
  uint64_t head;     /* writer: the byte position (ever growing) where the next frame goes */
  uint64_t put, too_large; /* writer: frames put in the ring, and too large for it (sent whole) */
  uint64_t pad;      /* writer: the bytes skipped at the ring's end before its open window */
} rc_shared;

/* Where a frame lies: bytes [off, off + len) of the ring; end is the writer's position after it
 * (what the reader gives back once it is done with this frame and every earlier one). */
typedef struct {
  uint64_t off, len, end;
} rc_shared_ref;

/* The supervisor: a new region of ring_bytes (a memfd, close-on-exec). Returns its fd, or -1
 * with errstr set. */
int rc_shared_create(uint64_t ring_bytes, const char *name, char *errstr, size_t errstr_size);
/* Map the region behind fd (inherited): 0, or -1 with errstr set. */
int rc_shared_map(rc_shared *r, int fd, char *errstr, size_t errstr_size);
void rc_shared_unmap(rc_shared *r);

/* The writer: copy len bytes into the ring and write the reference message into ref_msg
 * (RC_SHARED_REF_LEN bytes). 1 done; 0 no room until the reader gives some back (wait and try
 * again); -1 no ring, or the frame is over a quarter of it (send it whole). */
int rc_shared_put(rc_shared *r, const void *buf, size_t len, uint8_t *ref_msg);

/* The writer, to build a frame in place: the ring's free bytes where the next frame goes (at most
 * a quarter of the ring, contiguous), or NULL when fewer than want are free there now. The frame
 * written there becomes the reader's with rc_shared_commit. */
uint8_t *rc_shared_window(rc_shared *r, size_t want, size_t *avail);
/* The writer: the len bytes written at the window's start are a frame: the reference to it into
 * ref_msg (RC_SHARED_REF_LEN bytes). */
void rc_shared_commit(rc_shared *r, size_t len, uint8_t *ref_msg);

/* The reader: is msg a reference? 1 and *ref (checked against the ring's bounds); 0 not one; -1
 * a reference that lies outside the ring (corrupt). */
int rc_shared_ref_parse(const rc_shared *r, const void *msg, size_t len, rc_shared_ref *ref);
static inline const uint8_t *rc_shared_at(const rc_shared *r, const rc_shared_ref *ref) { return r->data + ref->off; }
/* The reader is done with every frame up to the one ending at end: the writer may reuse it. */
void rc_shared_release(rc_shared *r, uint64_t end);
/* Bytes of the ring in use (written and not yet given back): for the metrics. */
uint64_t rc_shared_used(const rc_shared *r);

#endif
