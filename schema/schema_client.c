/*
 * schema_client.c: the caller's side of rowcast-schema (schema_client.h): starting it beside
 * the calling program, the request/answer exchange (tracker.c describes the messages), the
 * statements kept until it starts, and the cache of table-map answers.
 */
#include "schema_client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rc_err.h"

/* o's strings, in the order of strs and of the init message's keys */
enum { STR_PASSWORD = 8, NSTRS = 13 };
static const char *const init_keys[NSTRS] = {"mode", "state", "initial", "start_file", "source_host", "source_port",
                                             "source_socket", "source_user", "source_password", "source_tls",
                                             "source_tls_ca", "source_tls_cert", "source_tls_key"};

typedef struct {
  uint8_t *body;    /* the TABLE_MAP body it answers (header excluded: it differs per event) */
  size_t body_len;
  int status;
  uint8_t *ev;      /* the completed event */
  size_t ev_len;
  char *msg;
} cache_entry;

struct rc_schema {
  rc_schema_opts o;
  char *strs[NSTRS]; /* the copies behind o's strings (STR_PASSWORD: wiped once sent) */
  pid_t pid;
  int fd;
  int started, failed;
  int retriable;    /* the tracker's last error was one a restart may mend ('R') */
  rc_buf pending;   /* 'Q' requests read before the start, each framed as on the wire */
  rc_buf out, in;
  cache_entry *cache;
  size_t ncache;
};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void cache_clear(rc_schema *sc) {
  for (size_t i = 0; i < sc->ncache; i++) {
    free(sc->cache[i].body);
    free(sc->cache[i].ev);
    free(sc->cache[i].msg);
  }
  sc->ncache = 0;
}

static int write_all(int fd, const void *p, size_t n) {
  const char *b = p;
  while (n) {
    ssize_t w = send(fd, b, n, MSG_NOSIGNAL); /* a tracker gone is an error, not SIGPIPE */
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    b += w;
    n -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *p, size_t n) {
  char *b = p;
  while (n) {
    ssize_t r = read(fd, b, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    b += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Frame a request into b: u32 length (kind + payload), kind; the payload follows. */
static size_t frame_begin(rc_buf *b, char kind) {
  size_t at = b->len;
  rc_buf_put(b, "\0\0\0\0", 4);
  rc_buf_putc(b, kind);
  return at;
}
static void frame_end(rc_buf *b, size_t at) {
  uint32_t n = (uint32_t)(b->len - at - 4);
  for (int i = 0; i < 4; i++) b->p[at + i] = (char)(n >> (8 * i));
}

static void put_pos(rc_buf *b, const char *file, uint64_t off) {
  rc_buf_put(b, file, strlen(file) + 1);
  rc_sc_put_u64(b, off);
}

/* Send what is framed in b, read one answer into sc->in: its kind, or -1. */
static int exchange(rc_schema *sc, const rc_buf *b, char *es, size_t esz) {
  uint8_t h[5];
  if (write_all(sc->fd, b->p, b->len) < 0 || read_all(sc->fd, h, 5) < 0) {
    sc->failed = 1;
    rc_errf(RC_ERR_IO, es, esz, "the schema tracker (rowcast-schema, pid %d) is gone; its log says why", (int)sc->pid);
    return -1;
  }
  uint32_t n = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
  sc->in.len = 0;
  rc_buf_grow(&sc->in, n + 1);
  if (n < 1 || read_all(sc->fd, sc->in.p, n - 1) < 0) {
    sc->failed = 1;
    rc_errf(RC_ERR_IO, es, esz, "the schema tracker (pid %d) stopped in the middle of an answer", (int)sc->pid);
    return -1;
  }
  sc->in.len = n - 1;
  sc->in.p[sc->in.len] = 0;
  if (h[4] == 'E' || h[4] == 'R') {
    sc->retriable = h[4] == 'R';
    rc_errf(sc->retriable ? RC_ERR_IO : RC_ERR_ARG, es, esz, "%s", sc->in.p);
    return -1;
  }
  return h[4];
}

static void wipe_password(rc_schema *sc) {
  if (sc->strs[STR_PASSWORD]) explicit_bzero(sc->strs[STR_PASSWORD], strlen(sc->strs[STR_PASSWORD]));
  free(sc->strs[STR_PASSWORD]);
  sc->strs[STR_PASSWORD] = NULL;
  sc->o.source_password = NULL;
}

static int spawn(rc_schema *sc, int *status, char *es, size_t esz) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 32);
  if (n <= 0) return rc_errf(RC_ERR_IO, es, esz, "cannot find the rowcast programs: %s", strerror(errno));
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  snprintf(slash + 1, sizeof exe - (size_t)(slash + 1 - exe), "rowcast-schema");
  if (access(exe, X_OK) != 0) { /* an installation without it: not worth a restart */
    if (status) *status = 2;
    return rc_errf(RC_ERR_ARG, es, esz,
                   "cannot run %s (%s): rowcast-schema belongs beside the other rowcast programs; or set "
                   "schema.tracker=off", exe, strerror(errno));
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
    return rc_errf(RC_ERR_IO, es, esz, "socketpair: %s", strerror(errno));
  sc->pid = fork();
  if (sc->pid < 0) return rc_errf(RC_ERR_IO, es, esz, "fork: %s", strerror(errno));
  if (sc->pid == 0) {
    int fd = dup(sv[1]); /* without CLOEXEC */
    for (const char *const *e = sc->o.env_drop; e && *e; e++) unsetenv(*e);
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", fd);
    execl(exe, "rowcast-schema", "--fd", fdarg, (char *)NULL);
    fprintf(stderr, "rowcast: cannot run %s: %s\n", exe, strerror(errno));
    _exit(127);
  }
  close(sv[1]);
  sc->fd = sv[0];
  sc->started = 1;
  rc_buf b = {0};
  size_t need = 64;
  for (int i = 0; i < NSTRS; i++) need += 24 + (sc->strs[i] ? strlen(sc->strs[i]) : 0);
  rc_buf_grow(&b, need); /* grown once: no copy of the password is left behind by a realloc */
  size_t at = frame_begin(&b, 'I');
  for (int i = 0; i < NSTRS; i++)
    if (sc->strs[i]) rc_buf_printf(&b, "%s=%s\n", init_keys[i], sc->strs[i]);
  rc_buf_printf(&b, "start_pos=%llu\n", (unsigned long long)sc->o.start_pos);
  frame_end(&b, at);
  int k = exchange(sc, &b, es, esz);
  explicit_bzero(b.p, b.len); /* it held the password */
  rc_buf_free(&b);
  wipe_password(sc);
  if (k < 0) {
    *status = sc->failed || sc->retriable ? 1 : 2;
    return -1;
  }
  /* the statements read before the start, in order */
  for (size_t off = 0; off < sc->pending.len;) {
    uint32_t len = (uint32_t)(uint8_t)sc->pending.p[off] | (uint32_t)(uint8_t)sc->pending.p[off + 1] << 8 |
                   (uint32_t)(uint8_t)sc->pending.p[off + 2] << 16 | (uint32_t)(uint8_t)sc->pending.p[off + 3] << 24;
    rc_buf one = {sc->pending.p + off, 4 + len, 4 + len, 1}; /* a view of pending: never grown nor freed */
    if (exchange(sc, &one, es, esz) < 0) {
      *status = 1;
      return -1;
    }
    off += 4 + len;
  }
  rc_buf_free(&sc->pending);
  return 0;
}

rc_schema *rc_schema_new(const rc_schema_opts *o, int *status, char *es, size_t esz) {
  *status = 1;
  if (o->initial && *o->initial && access(o->initial, R_OK) != 0) { /* said now, not at the first table map */
    *status = 2;
    rc_errf(RC_ERR_ARG, es, esz, "schema.initial: cannot read %s: %s", o->initial, strerror(errno));
    return NULL;
  }
  rc_schema *sc = calloc(1, sizeof *sc);
  if (!sc) {
    rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
    return NULL;
  }
  sc->fd = -1;
  sc->o = *o;
  const char **fields[NSTRS] = {&sc->o.mode,          &sc->o.state_dir,     &sc->o.initial,       &sc->o.start_file,
                                &sc->o.source_host,   &sc->o.source_port,   &sc->o.source_socket, &sc->o.source_user,
                                &sc->o.source_password, &sc->o.source_tls,  &sc->o.source_tls_ca,
                                &sc->o.source_tls_cert, &sc->o.source_tls_key};
  for (int i = 0; i < NSTRS; i++) *fields[i] = sc->strs[i] = dup_or_null(*fields[i]);
  if (o->eager && spawn(sc, status, es, esz) < 0) {
    rc_schema_free(sc);
    return NULL;
  }
  return sc;
}

void rc_schema_free(rc_schema *sc) {
  if (!sc) return;
  if (sc->fd >= 0) close(sc->fd); /* EOF: the tracker stops its server and exits */
  if (sc->pid > 0) {
    int st;
    while (waitpid(sc->pid, &st, 0) < 0 && errno == EINTR) {
    }
  }
  cache_clear(sc);
  free(sc->cache);
  wipe_password(sc);
  for (int i = 0; i < NSTRS; i++) free(sc->strs[i]);
  rc_buf_free(&sc->pending);
  rc_buf_free(&sc->out);
  rc_buf_free(&sc->in);
  free(sc);
}

int rc_schema_query(rc_schema *sc, const rc_binlog *bl, const rc_event *ev, char *es, size_t esz) {
  if (ev->type != RC_EV_QUERY && ev->type != RC_EV_MARIA_QUERY_COMPRESSED) return 0;
  if (rc_event_query_kind(ev) != RC_QUERY_STATEMENT) return 0;
  if (sc->failed) return rc_errf(RC_ERR_IO, es, esz, "the schema tracker is gone");
  rc_query q;
  int rc = rc_event_query_parse(bl, ev, &q, es, esz);
  if (rc < 0) return rc;
  rc_sc_query sq = {q.db, q.text, (uint32_t)q.db_len, q.text_len, q.sql_mode, q.cs_client, q.cs_connection,
                    q.cs_server, q.has_sql_mode, q.has_charsets, q.suppress_use, (uint8_t)rc_binlog_is_mariadb(bl)};
  rc_buf *b = sc->started ? &sc->out : &sc->pending;
  if (sc->started) b->len = 0;
  size_t at = frame_begin(b, 'Q');
  put_pos(b, rc_binlog_file(bl), ev->offset);
  rc_sc_query_put(b, &sq);
  frame_end(b, at);
  rc_query_free(&q);
  if (!sc->started) return 0;
  if (exchange(sc, b, es, esz) < 0) return sc->failed ? RC_ERR_IO : RC_ERR_ARG;
  if (sc->in.len >= 1 && sc->in.p[0]) cache_clear(sc); /* a new version: answers may change */
  return 0;
}

int rc_schema_tmap(rc_schema *sc, const rc_binlog *bl, const rc_event *ev, const uint8_t **out, size_t *out_len,
                   const char **msg, char *es, size_t esz) {
  *out = NULL;
  *out_len = 0;
  *msg = NULL;
  const rc_table *t = rc_binlog_table(bl, rc_table_map_id(bl, ev));
  if (!sc->started && t && t->has_names) return RC_SC_FULL; /* nothing to add: no need to start */
  if (sc->failed) return rc_errf(RC_ERR_IO, es, esz, "the schema tracker is gone");
  cache_entry *c = NULL;
  for (size_t i = 0; i < sc->ncache && !c; i++)
    if (sc->cache[i].body_len == ev->body_len && !memcmp(sc->cache[i].body, ev->body, ev->body_len)) c = &sc->cache[i];
  if (!c) {
    int status;
    if (!sc->started && spawn(sc, &status, es, esz) < 0) return sc->failed ? RC_ERR_IO : RC_ERR_ARG;
    sc->out.len = 0;
    size_t at = frame_begin(&sc->out, 'T');
    put_pos(&sc->out, rc_binlog_file(bl), ev->offset);
    rc_buf_putc(&sc->out, (char)rc_binlog_is_mariadb(bl));
    rc_buf_put(&sc->out, ev->raw, RC_EVENT_HEADER_LEN + ev->body_len);
    frame_end(&sc->out, at);
    if (exchange(sc, &sc->out, es, esz) != 'T' || sc->in.len < 5)
      return sc->failed ? RC_ERR_IO : rc_errf(RC_ERR_ARG, es, esz, "the schema tracker answered out of turn");
    const uint8_t *p = (const uint8_t *)sc->in.p;
    uint32_t ml = (uint32_t)p[1] | (uint32_t)p[2] << 8 | (uint32_t)p[3] << 16 | (uint32_t)p[4] << 24;
    if (ml > sc->in.len - 5) return rc_errf(RC_ERR_ARG, es, esz, "the schema tracker's answer does not add up");
    cache_entry *n = realloc(sc->cache, (sc->ncache + 1) * sizeof *n);
    if (!n) return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
    sc->cache = n;
    c = &sc->cache[sc->ncache++];
    memset(c, 0, sizeof *c);
    c->status = p[0];
    c->body = malloc(ev->body_len ? ev->body_len : 1);
    c->body_len = ev->body_len;
    c->msg = ml ? strndup((const char *)p + 5, ml) : NULL;
    c->ev_len = sc->in.len - 5 - ml;
    c->ev = c->ev_len ? malloc(c->ev_len) : NULL;
    if (!c->body || (c->ev_len && !c->ev) || (ml && !c->msg)) {
      sc->ncache--;
      free(c->body);
      free(c->ev);
      free(c->msg);
      return rc_errf(RC_ERR_NOMEM, es, esz, "out of memory");
    }
    memcpy(c->body, ev->body, ev->body_len);
    if (c->ev_len) memcpy(c->ev, p + 5 + ml, c->ev_len);
  } else if (c->status == RC_SC_RESYNCED) {
    c->status = RC_SC_ENRICHED; /* said once */
  }
  if (c->ev_len >= RC_EVENT_HEADER_LEN) { /* this event's header, the completed event's size */
    memcpy(c->ev, ev->raw, 9);
    memcpy(c->ev + 13, ev->raw + 13, RC_EVENT_HEADER_LEN - 13);
  }
  *out = c->ev;
  *out_len = c->ev_len;
  *msg = c->msg;
  return c->status;
}
