/* pipe.c: the nanomsg wrapper of pipe.h. */
#include "pipe.h"

#include <errno.h>
#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>
#include <stdio.h>
#include <string.h>

#include "rc_err.h"

int rc_pipe_open(int push, const char *path, int bind, const rc_pipe_opts *o, char *errstr,
                 size_t es) {
  int s = nn_socket(AF_SP, push ? NN_PUSH : NN_PULL);
  if (s < 0) return rc_errf(RC_ERR_IO, errstr, es, "nanomsg socket: %s", nn_strerror(nn_errno()));
  int buf = o->buffer_bytes, max = o->max_message_bytes;
  if (nn_setsockopt(s, NN_SOL_SOCKET, push ? NN_SNDBUF : NN_RCVBUF, &buf, sizeof buf) < 0 ||
      nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &max, sizeof max) < 0) {
    int e = nn_errno();
    nn_close(s);
    return rc_errf(RC_ERR_IO, errstr, es, "nanomsg buffer options (%d bytes, max message %d): %s", buf, max,
                   nn_strerror(e));
  }
  char addr[4200];
  snprintf(addr, sizeof addr, "ipc://%s", path);
  int r = bind ? nn_bind(s, addr) : nn_connect(s, addr);
  if (r < 0) {
    int e = nn_errno();
    nn_close(s);
    return rc_errf(RC_ERR_IO, errstr, es, "nanomsg %s %s: %s", bind ? "bind" : "connect", addr, nn_strerror(e));
  }
  return s;
}

int rc_pipe_fd(int sock, int recv) {
  int fd = -1;
  size_t sz = sizeof fd;
  if (nn_getsockopt(sock, NN_SOL_SOCKET, recv ? NN_RCVFD : NN_SNDFD, &fd, &sz) < 0) return -1;
  return fd;
}

int rc_pipe_send(int sock, const void *buf, size_t len, int dontwait) {
  int r = nn_send(sock, buf, len, dontwait ? NN_DONTWAIT : 0);
  if (r < 0) {
    errno = nn_errno();
    return RC_ERR_IO;
  }
  return 0;
}

int rc_pipe_recv(int sock, void **msg, size_t *len, char *errstr, size_t es) {
  void *m = NULL;
  int r = nn_recv(sock, &m, NN_MSG, NN_DONTWAIT);
  if (r < 0) {
    int e = nn_errno();
    if (e == EAGAIN || e == EINTR) return 0;
    return rc_errf(RC_ERR_IO, errstr, es, "nanomsg receive: %s", nn_strerror(e));
  }
  *msg = m;
  *len = (size_t)r;
  return 1;
}

void rc_pipe_msg_free(void *msg) {
  if (msg) nn_freemsg(msg);
}

void rc_pipe_close(int sock) {
  if (sock >= 0) nn_close(sock);
}
