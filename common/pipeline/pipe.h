/*
 * pipe.h: nanomsg PUSH/PULL sockets between stages, over ipc:// in the run directory.
 *
 * Every socket gets its buffers sized from configuration (NN_SNDBUF/NN_RCVBUF) and a deliberate
 * NN_RCVMAXSIZE: nanomsg silently drops a larger message and closes the pipe, so senders cut
 * batches below that size and refuse, loudly, what cannot be cut.
 */
#ifndef RC_PIPE_H
#define RC_PIPE_H

#include <stddef.h>

typedef struct rc_pipe_opts {
  int buffer_bytes;      /* NN_SNDBUF and NN_RCVBUF */
  int max_message_bytes; /* NN_RCVMAXSIZE */
} rc_pipe_opts;

/* Open a PUSH (push=1) or PULL socket, bound (bind=1) or connected to ipc://<path>.
 * Returns the socket (>= 0) or an error. */
int rc_pipe_open(int push, const char *path, int bind, const rc_pipe_opts *o, char *errstr,
                 size_t errstr_size);
/* The file descriptor that polls readable when the socket can receive (recv=1) or send. */
int rc_pipe_fd(int sock, int recv);
/* Send a whole message, blocking (backpressure) but returning RC_ERR_IO with errno EINTR when a
 * signal interrupts, so the caller can check its stop flag. dontwait: fail with EAGAIN at once. */
int rc_pipe_send(int sock, const void *buf, size_t len, int dontwait);
/* Receive one message without blocking: 1 and *msg (free with rc_pipe_msg_free), 0 if none. */
int rc_pipe_recv(int sock, void **msg, size_t *len, char *errstr, size_t errstr_size);
void rc_pipe_msg_free(void *msg);
void rc_pipe_close(int sock);

#endif
