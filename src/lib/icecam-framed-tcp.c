/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Datagrams over one TCP connection, each behind its length as two bytes in network order
 * (RFC 4571, as ICE-TCP and TURN-TCP frame them): what a TCP punch's path carries
 * (docs/design.md, "TCP simultaneous open").
 *
 * Threading: reading, connecting and the callbacks run in the GMainContext given to
 * icecam_framed_tcp_new(); icecam_framed_tcp_send() may be called from any thread (the media's
 * streaming threads): it writes at once when nothing is queued, else queues whole framed
 * datagrams (up to ICECAM_FRAMED_TCP_MAX_QUEUED bytes, then drops new ones) that the context
 * sends as the socket drains. A datagram is never split across a drop: the framing stays
 * whole. */

#include "icecam-framed-tcp.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define FRAME_HEADER 2
#define MAX_DATAGRAM 65535
#define MAX_VECTORS 16
/* Reads per wake-up before the main loop serves others. */
#define READS_PER_DISPATCH 16

struct _IcecamFramedTcp {
  GSocket *socket;
  GMainContext *context;
  IcecamFramedTcpPacketFunc packet_func;
  IcecamFramedTcpStateFunc state_func;
  gpointer user_data;

  GSource *connect_source;      /* waiting for the connect to finish */
  GSource *in_source;
  GInetSocketAddress *remote;   /* set once up, then not changed */
  gint up;                      /* atomic */
  gboolean gone;                /* closed or failed: state_func (FALSE) was called */

  guint8 *rx;                   /* FRAME_HEADER + MAX_DATAGRAM bytes */
  gsize rx_fill;

  GMutex lock;                  /* guards what follows */
  GByteArray *queue;            /* framed bytes not yet written */
  GSource *out_source;          /* draining the queue */
  guint64 dropped;
  gboolean closed;
};

static void start_reading (IcecamFramedTcp *self);

static void
clear_source (GSource **source)
{
  if (*source != NULL) {
    g_source_destroy (*source);
    g_clear_pointer (source, g_source_unref);
  }
}

/* Nothing is sent, read or waited for any more. */
static void
stop (IcecamFramedTcp *self)
{
  self->gone = TRUE;
  g_atomic_int_set (&self->up, FALSE);
  g_mutex_lock (&self->lock);
  self->closed = TRUE;
  clear_source (&self->out_source);
  g_mutex_unlock (&self->lock);
  clear_source (&self->connect_source);
  clear_source (&self->in_source);
}

static void
set_gone (IcecamFramedTcp *self)
{
  if (self->gone)
    return;
  stop (self);
  g_socket_shutdown (self->socket, TRUE, TRUE, NULL);
  /* Last: the callback may free us. */
  if (self->state_func != NULL)
    self->state_func (self, FALSE, self->user_data);
}

/* Delivers every whole frame at the front of rx; FALSE on a frame that cannot be (none is
 * longer than the buffer, so this does not happen with 16-bit lengths; kept as a guard). */
static void
deliver_frames (IcecamFramedTcp *self)
{
  gsize offset = 0;

  while (self->rx_fill - offset >= FRAME_HEADER) {
    gsize length = (gsize) self->rx[offset] << 8 | self->rx[offset + 1];

    if (self->rx_fill - offset < FRAME_HEADER + length)
      break;
    if (length > 0 && self->packet_func != NULL)
      self->packet_func (self, self->rx + offset + FRAME_HEADER, length, self->user_data);
    offset += FRAME_HEADER + length;
  }
  if (offset > 0) {
    memmove (self->rx, self->rx + offset, self->rx_fill - offset);
    self->rx_fill -= offset;
  }
}

static gboolean
on_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  IcecamFramedTcp *self = user_data;

  for (guint n = 0; n < READS_PER_DISPATCH; n++) {
    gssize got = recv (g_socket_get_fd (socket), self->rx + self->rx_fill,
                       FRAME_HEADER + MAX_DATAGRAM - self->rx_fill, MSG_DONTWAIT);

    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return G_SOURCE_CONTINUE;
    if (got <= 0) {
      g_debug ("framed-tcp %p: %s", self, got == 0 ? "closed by the peer" : g_strerror (errno));
      g_clear_pointer (&self->in_source, g_source_unref);
      set_gone (self);
      return G_SOURCE_REMOVE;
    }
    self->rx_fill += (gsize) got;
    deliver_frames (self);
  }
  return G_SOURCE_CONTINUE;
}

static void
start_reading (IcecamFramedTcp *self)
{
  self->in_source = g_socket_create_source (self->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (self->in_source, G_SOURCE_FUNC (on_readable), self, NULL);
  g_source_attach (self->in_source, self->context);
}

static void
become_up (IcecamFramedTcp *self)
{
  GSocketAddress *remote = g_socket_get_remote_address (self->socket, NULL);

  if (remote != NULL && G_IS_INET_SOCKET_ADDRESS (remote))
    self->remote = G_INET_SOCKET_ADDRESS (remote);
  else
    g_clear_object (&remote);
  g_atomic_int_set (&self->up, TRUE);
  start_reading (self);
}

static gboolean
on_connected (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  IcecamFramedTcp *self = user_data;
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&self->connect_source, g_source_unref);
  if (!g_socket_check_connect_result (socket, &error)) {
    g_debug ("framed-tcp %p: connect failed: %s", self, error->message);
    set_gone (self);
    return G_SOURCE_REMOVE;
  }
  become_up (self);
  if (self->state_func != NULL)
    self->state_func (self, TRUE, self->user_data);
  return G_SOURCE_REMOVE;
}

/**
 * icecam_framed_tcp_new:
 * @socket: a TCP socket, non-blocking: connected (accepted) or with a connect in progress
 * @connecting: whether the connect is still in progress (@state tells how it ends)
 * @context: (nullable): where reading and the callbacks run (NULL: the thread-default)
 *
 * Returns: (transfer full): the connection; it owns a reference to @socket and closes it
 */
IcecamFramedTcp *
icecam_framed_tcp_new (GSocket *socket, gboolean connecting, GMainContext *context,
                       IcecamFramedTcpPacketFunc packet, IcecamFramedTcpStateFunc state,
                       gpointer user_data)
{
  IcecamFramedTcp *self = g_new0 (IcecamFramedTcp, 1);

  self->socket = g_object_ref (socket);
  g_socket_set_blocking (socket, FALSE);
  self->context = context != NULL ? g_main_context_ref (context)
                                  : g_main_context_ref_thread_default ();
  self->packet_func = packet;
  self->state_func = state;
  self->user_data = user_data;
  self->rx = g_malloc (FRAME_HEADER + MAX_DATAGRAM);
  self->queue = g_byte_array_new ();
  g_mutex_init (&self->lock);
  if (connecting) {
    self->connect_source = g_socket_create_source (socket, G_IO_OUT | G_IO_ERR | G_IO_HUP, NULL);
    g_source_set_callback (self->connect_source, G_SOURCE_FUNC (on_connected), self, NULL);
    g_source_attach (self->connect_source, self->context);
  } else {
    become_up (self);
  }
  return self;
}

/* Writes what it can of the queue; with the lock held. FALSE on a socket error. */
static gboolean
drain_locked (IcecamFramedTcp *self)
{
  while (self->queue->len > 0) {
    gssize wrote = send (g_socket_get_fd (self->socket), self->queue->data, self->queue->len,
                         MSG_DONTWAIT | MSG_NOSIGNAL);

    if (wrote < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    g_byte_array_remove_range (self->queue, 0, (guint) wrote);
  }
  return TRUE;
}

static gboolean
on_writable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  IcecamFramedTcp *self = user_data;
  gboolean more;

  g_mutex_lock (&self->lock);
  if (!drain_locked (self))
    g_byte_array_set_size (self->queue, 0); /* the reader sees the error and closes */
  more = self->queue->len > 0;
  if (!more)
    g_clear_pointer (&self->out_source, g_source_unref);
  g_mutex_unlock (&self->lock);
  return more ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* Appends the framed datagram from byte @skip of it on (what a partial write left). */
static void
queue_framed_locked (IcecamFramedTcp *self, const guint8 header[FRAME_HEADER],
                     const GOutputVector *vectors, guint n_vectors, gsize skip)
{
  gsize at = 0;

  for (gsize i = 0; i < FRAME_HEADER; i++, at++) {
    if (at >= skip)
      g_byte_array_append (self->queue, header + i, 1);
  }
  for (guint i = 0; i < n_vectors; i++) {
    gsize size = vectors[i].size;
    gsize from = skip > at ? MIN (skip - at, size) : 0;

    if (from < size)
      g_byte_array_append (self->queue, (const guint8 *) vectors[i].buffer + from,
                           (guint) (size - from));
    at += size;
  }
}

/**
 * icecam_framed_tcp_send:
 *
 * Sends one datagram (the concatenation of @vectors, 1 to 65535 bytes), framed; from any
 * thread, without blocking.
 *
 * Returns: FALSE when it was dropped: not connected, too large, or the queue is full
 */
gboolean
icecam_framed_tcp_send (IcecamFramedTcp *self, const GOutputVector *vectors, guint n_vectors)
{
  struct iovec iov[MAX_VECTORS + 1];
  struct msghdr message = { 0 };
  guint8 header[FRAME_HEADER];
  gsize length = 0;
  gssize wrote = 0;

  for (guint i = 0; i < n_vectors; i++)
    length += vectors[i].size;
  if (length == 0 || length > MAX_DATAGRAM || !g_atomic_int_get (&self->up))
    return FALSE;
  header[0] = (guint8) (length >> 8);
  header[1] = (guint8) length;

  g_mutex_lock (&self->lock);
  if (self->closed || self->queue->len + FRAME_HEADER + length > ICECAM_FRAMED_TCP_MAX_QUEUED) {
    self->dropped++;
    g_mutex_unlock (&self->lock);
    return FALSE;
  }
  if (self->queue->len == 0 && n_vectors <= MAX_VECTORS) {
    iov[0].iov_base = header;
    iov[0].iov_len = FRAME_HEADER;
    for (guint i = 0; i < n_vectors; i++) {
      iov[i + 1].iov_base = (void *) vectors[i].buffer;
      iov[i + 1].iov_len = vectors[i].size;
    }
    message.msg_iov = iov;
    message.msg_iovlen = n_vectors + 1;
    wrote = sendmsg (g_socket_get_fd (self->socket), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (wrote < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      g_mutex_unlock (&self->lock);
      return FALSE; /* the reader sees the error and closes */
    }
    if (wrote == (gssize) (FRAME_HEADER + length)) {
      g_mutex_unlock (&self->lock);
      return TRUE;
    }
  }
  queue_framed_locked (self, header, vectors, n_vectors, wrote > 0 ? (gsize) wrote : 0);
  if (self->out_source == NULL) {
    self->out_source = g_socket_create_source (self->socket, G_IO_OUT, NULL);
    g_source_set_callback (self->out_source, G_SOURCE_FUNC (on_writable), self, NULL);
    g_source_attach (self->out_source, self->context);
  }
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* Connected and not closed since; from any thread. */
gboolean
icecam_framed_tcp_is_up (IcecamFramedTcp *self)
{
  return g_atomic_int_get (&self->up);
}

/* The peer's address once connected (owned by the connection), else NULL. */
GInetSocketAddress *
icecam_framed_tcp_get_remote (IcecamFramedTcp *self)
{
  return self->remote;
}

/* Datagrams dropped because the queue was full. */
guint64
icecam_framed_tcp_get_dropped (IcecamFramedTcp *self)
{
  guint64 dropped;

  g_mutex_lock (&self->lock);
  dropped = self->dropped;
  g_mutex_unlock (&self->lock);
  return dropped;
}

/* Closes the connection (nothing is called any more); in its context. */
void
icecam_framed_tcp_free (IcecamFramedTcp *self)
{
  if (self == NULL)
    return;
  self->state_func = NULL;
  self->packet_func = NULL;
  stop (self);
  g_socket_close (self->socket, NULL);
  g_object_unref (self->socket);
  g_clear_object (&self->remote);
  g_main_context_unref (self->context);
  g_byte_array_unref (self->queue);
  g_mutex_clear (&self->lock);
  g_free (self->rx);
  g_free (self);
}
