/*
 * metrics_http.c: the HTTP endpoint of metrics_http.h, served by libmicrohttpd from its own
 * thread. The supervisor's thread renders (rc_http_publish) and swaps the text in under the
 * lock; a request copies it out under the same lock. Nothing else is shared.
 *
 * The listening socket is made here (socket, bind, listen) and handed to libmicrohttpd, so a
 * port that is taken or an address that is not ours is an error that says so at start. It is
 * close-on-exec, as are the connections libmicrohttpd accepts: the stages never inherit them.
 * The server thread blocks every signal: they are the supervisor's (its self-pipe).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "metrics_http.h"
#include "rc_err.h"

struct rc_http {
  struct MHD_Daemon *d;
  int fd;
  char url[320];
  pthread_mutex_t lock;
  /* what the next requests get (under lock) */
  rc_buf metrics, health;
  int health_status;
  uint64_t published_ns, stale_ns;
};

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *type, const char *body,
                               size_t len) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
  MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  enum MHD_Result ok = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ok;
}

/* /healthz when the supervisor has published nothing for stale_ns: its loop is stuck. */
static enum MHD_Result respond_stale(struct MHD_Connection *conn, uint64_t age_ns) {
  char body[200];
  int n = snprintf(body, sizeof body,
                   "{\"status\":\"unavailable\",\"reason\":\"the supervisor has not updated its figures for %.1f s\"}\n",
                   (double)age_ns / 1e9);
  return respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "application/json", body, (size_t)n);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
  (void)version, (void)upload_data, (void)req_cls;
  rc_http *h = cls;
  int is_metrics = !strcmp(url, "/metrics"), is_health = !strcmp(url, "/healthz");
  if (!is_metrics && !is_health) {
    static const char nf[] = "not found: rowcast serves /metrics and /healthz\n";
    return respond(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", nf, sizeof nf - 1);
  }
  if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)) {
    static const char na[] = "method not allowed: GET or HEAD\n";
    *upload_data_size = 0;
    return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", na, sizeof na - 1);
  }
  pthread_mutex_lock(&h->lock);
  enum MHD_Result r;
  uint64_t age = rc_now_ns() - h->published_ns;
  if (is_metrics)
    r = respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", h->metrics.p, h->metrics.len);
  else if (h->health_status == MHD_HTTP_OK && age > h->stale_ns)
    r = respond_stale(conn, age);
  else
    r = respond(conn, (unsigned)h->health_status, "application/json", h->health.p, h->health.len);
  pthread_mutex_unlock(&h->lock);
  return r;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  msg[strcspn(msg, "\n")] = 0;
  rc_warn("metrics endpoint: %s", msg);
}

/* Split HOST:PORT, [V6]:PORT, :PORT or PORT (host 127.0.0.1). 0, or RC_ERR_ARG with errstr. */
static int split_listen(const char *spec, char *host, size_t hn, char *port, size_t pn, char *es, size_t esz) {
  const char *colon = strrchr(spec, ':');
  const char *p = colon ? colon + 1 : spec;
  size_t hl = colon ? (size_t)(colon - spec) : 0;
  const char *hs = spec;
  if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') hs++, hl -= 2;
  else if (hl && memchr(spec, ':', hl))
    return rc_errf(RC_ERR_ARG, es, esz, "metrics.listen=%s: an IPv6 address goes in brackets: [ADDRESS]:PORT", spec);
  if (!hl) hs = "127.0.0.1", hl = 9;
  char *end;
  errno = 0;
  unsigned long n = *p >= '0' && *p <= '9' ? strtoul(p, &end, 10) : 0;
  if (!*p || *p < '0' || *p > '9' || *end || errno || n < 1 || n > 65535)
    return rc_errf(RC_ERR_ARG, es, esz, "metrics.listen=%s: bad port '%s' (HOST:PORT, the port 1 to 65535)", spec, p);
  if (hl >= hn) return rc_errf(RC_ERR_ARG, es, esz, "metrics.listen=%s: the host is too long", spec);
  memcpy(host, hs, hl);
  host[hl] = 0;
  snprintf(port, pn, "%lu", n);
  return 0;
}

/* The listening socket on spec (metrics.listen): the fd, or an error with errstr. */
static int listen_on(const char *spec, int *v6, char *url, size_t un, char *es, size_t esz) {
  char host[256], port[8];
  int r = split_listen(spec, host, sizeof host, port, sizeof port, es, esz);
  if (r < 0) return r;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
  struct addrinfo *ai;
  int g = getaddrinfo(host, port, &hints, &ai);
  if (g != 0) return rc_errf(RC_ERR_ARG, es, esz, "metrics.listen=%s: bad address '%s': %s", spec, host, gai_strerror(g));
  int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 64) != 0) {
    int e = errno;
    if (fd >= 0) close(fd);
    freeaddrinfo(ai);
    return rc_errf(e == EADDRINUSE || e == EADDRNOTAVAIL || e == EACCES ? RC_ERR_ARG : RC_ERR_IO, es, esz,
                   "metrics.listen=%s: cannot listen on %s port %s: %s", spec, host, port, strerror(e));
  }
  *v6 = ai->ai_family == AF_INET6;
  snprintf(url, un, *v6 ? "http://[%s]:%s" : "http://%s:%s", host, port);
  freeaddrinfo(ai);
  return fd;
}

int rc_http_open(const char *spec, uint64_t stale_ms, rc_http **out, char *es, size_t esz) {
  rc_http *h = calloc(1, sizeof *h);
  if (!h) return rc_errf(RC_ERR_IO, es, esz, "out of memory");
  int v6 = 0;
  h->fd = listen_on(spec, &v6, h->url, sizeof h->url, es, esz);
  if (h->fd < 0) {
    int r = h->fd;
    free(h);
    return r;
  }
  pthread_mutex_init(&h->lock, NULL);
  h->stale_ns = stale_ms * 1000000ull;
  h->health_status = MHD_HTTP_SERVICE_UNAVAILABLE;
  rc_buf_lit(&h->health, "{\"status\":\"unavailable\",\"state\":\"starting\"}\n");
  rc_buf_reserve(&h->metrics, 1);
  h->published_ns = rc_now_ns();
  /* the server thread inherits this mask: every signal stays with the supervisor's thread */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG | (v6 ? MHD_USE_IPv6 : 0), 0,
                          NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                          MHD_OPTION_LISTEN_SOCKET, h->fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!h->d) {
    int r = rc_errf(RC_ERR_IO, es, esz, "metrics.listen=%s: libmicrohttpd cannot serve on it (see above)", spec);
    close(h->fd);
    rc_http_close(h);
    return r;
  }
  *out = h;
  return 0;
}

void rc_http_publish(rc_http *h, const rc_http_view *v) {
  if (!h) return;
  rc_buf m = {0}, j = {0};
  rc_metrics_text(v, &m);
  int status = rc_health_json(v, &j);
  pthread_mutex_lock(&h->lock);
  rc_buf tm = h->metrics, tj = h->health;
  h->metrics = m;
  h->health = j;
  h->health_status = status;
  h->published_ns = rc_now_ns();
  pthread_mutex_unlock(&h->lock);
  rc_buf_free(&tm);
  rc_buf_free(&tj);
}

const char *rc_http_url(const rc_http *h) { return h->url; }

void rc_http_close(rc_http *h) {
  if (!h) return;
  if (h->d) {
    MHD_stop_daemon(h->d); /* joins its thread; the listening socket is still ours */
    close(h->fd);
  }
  pthread_mutex_destroy(&h->lock);
  rc_buf_free(&h->metrics);
  rc_buf_free(&h->health);
  free(h);
}
