/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The TCP role of a punch (docs/design.md, "TCP simultaneous open"): a TCP connection through
 * two NATs that keep a TCP socket's mapping for every destination. Both ends connect from
 * the port whose mapping they signalled to the other's, so that each NAT has seen its own
 * end's SYN when the other's arrives (a simultaneous open), and listen on that port too (for
 * an end without a NAT in the way). Probes and answers are framed on the connection like any
 * datagram (RFC 4571); the first answer with the token is the path. Runs in the punch's
 * context, as icecam-punch.c; `current` is also read under the punch's lock by senders. */

#include "icecam-punch-private.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

/* A connect that failed (refused, reset, timed out) is tried again this much later, until the
 * punch's time is over; connections accepted from the peer at most. */
#define TCP_RETRY_MS 200
#define TCP_MAX_CONNECTIONS 8
/* The kernel's send buffer of a punched connection (Linux doubles it to 96 KiB): ~0.3 s at
 * 2.5 Mbit/s, and room for ~5 Mbit/s at 150 ms of round trip. */
#define SEND_BUFFER_BYTES (48 * 1024)

/**
 * icecam_punch_tcp_socket_new:
 * @bind_to: (nullable): the address and port to bind (port 0: any)
 *
 * A non-blocking TCP socket that shares its port with the others of a TCP punch (the one
 * whose mapping is learned, the listener, each connect): SO_REUSEADDR and SO_REUSEPORT.
 */
GSocket *
icecam_punch_tcp_socket_new (GSocketFamily family, GInetSocketAddress *bind_to, GError **error)
{
  g_autoptr (GSocket) sock = g_socket_new (family, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                           error);
  g_autoptr (GInetAddress) any = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  struct sockaddr_storage native;

  if (sock == NULL)
    return NULL;
  if (!g_socket_set_option (sock, SOL_SOCKET, SO_REUSEADDR, 1, error) ||
      !g_socket_set_option (sock, SOL_SOCKET, SO_REUSEPORT, 1, error))
    return NULL;
  /* Real-time datagrams: no Nagle delay for the small ones (RTCP, probes), and a small kernel
   * send buffer, so that a slow path shows as drops the receiver reports (and the camera's
   * rate follows) rather than as seconds of queue (accepted sockets inherit both). */
  g_socket_set_option (sock, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  g_socket_set_option (sock, SOL_SOCKET, SO_SNDBUF, SEND_BUFFER_BYTES, NULL);
  if (bind_to != NULL) {
    address = g_object_ref (G_SOCKET_ADDRESS (bind_to));
  } else {
    any = g_inet_address_new_any (family);
    address = g_inet_socket_address_new (any, 0);
  }
  /* Not g_socket_bind(): it sets SO_REUSEADDR to its argument and clears SO_REUSEPORT on
   * stream sockets. */
  if (!g_socket_address_to_native (address, &native, sizeof native, error))
    return NULL;
  if (bind (g_socket_get_fd (sock), (struct sockaddr *) &native,
            (socklen_t) g_socket_address_get_native_size (address)) != 0) {
    int saved = errno;
    g_autofree gchar *text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "cannot bind %s: %s",
                 text, g_strerror (saved));
    return NULL;
  }
  g_socket_set_blocking (sock, FALSE);
  return g_steal_pointer (&sock);
}

void
icecam_punch_tcp_send_packet (IcecamPunch *self, IcecamFramedTcp *conn, IcecamPunchPacket kind)
{
  guint8 packet[ICECAM_PUNCH_PACKET_LENGTH];
  GOutputVector vector = { packet, icecam_punch_build_packet (kind, self->config.token, packet) };

  if (icecam_framed_tcp_send (conn, &vector, 1))
    self->n_sent++;
}

void
icecam_punch_tcp_set_current (IcecamPunch *self, IcecamFramedTcp *conn)
{
  g_mutex_lock (&self->lock);
  self->current = conn;
  g_mutex_unlock (&self->lock);
}

static void tcp_connect (IcecamPunch *self);

static gboolean
on_tcp_retry (gpointer user_data)
{
  IcecamPunch *self = user_data;

  g_clear_pointer (&self->retry, g_source_unref);
  tcp_connect (self);
  return G_SOURCE_REMOVE;
}

static void
tcp_retry_later (IcecamPunch *self)
{
  if (self->finished || self->retry != NULL)
    return;
  self->retry = g_timeout_source_new (TCP_RETRY_MS);
  g_source_set_callback (self->retry, on_tcp_retry, self, NULL);
  g_source_attach (self->retry, self->context);
}

/* A datagram framed on one of the connections. Only the token's probes and answers move or
 * keep the path (as for UDP); media is handed on, SRTP authenticates it. */
static void
on_tcp_packet (IcecamFramedTcp *conn, const guint8 *data, gsize length, gpointer user_data)
{
  IcecamPunch *self = user_data;
  IcecamPunchPacket kind = icecam_punch_parse_packet (data, length, self->config.token);

  if (self->finished && self->success) {
    if (kind == ICECAM_PUNCH_PACKET_NONE) {
      if (self->data_func != NULL)
        self->data_func (data, length, self->path_data);
      return;
    }
    self->last_heard_us = g_get_monotonic_time ();
    /* The other end keeps the connection where its first answer came; follow it. */
    if (!self->config.leader && kind == ICECAM_PUNCH_PACKET_PROBE && self->current != conn)
      icecam_punch_tcp_set_current (self, conn);
    icecam_punch_set_alive (self, TRUE);
  }
  if (kind == ICECAM_PUNCH_PACKET_PROBE) {
    icecam_punch_tcp_send_packet (self, conn, ICECAM_PUNCH_PACKET_ANSWER);
  } else if (kind == ICECAM_PUNCH_PACKET_ANSWER && !self->finished) {
    GInetSocketAddress *remote = icecam_framed_tcp_get_remote (conn);

    icecam_punch_tcp_set_current (self, conn);
    self->remote = g_object_ref (remote != NULL ? remote : self->config.peer);
    icecam_punch_finish (self, TRUE);
  }
}

static void
tcp_drop (IcecamPunch *self, IcecamFramedTcp *conn)
{
  g_ptr_array_remove_fast (self->conns, conn);
  /* Another connection to the peer may carry on (the leader's probes then confirm it). */
  if (self->current == conn)
    icecam_punch_tcp_set_current (self, self->success && self->conns->len > 0 ?
                                          self->conns->pdata[0] : NULL);
  icecam_framed_tcp_free (conn);
}

static void
on_tcp_state (IcecamFramedTcp *conn, gboolean up, gpointer user_data)
{
  IcecamPunch *self = user_data;

  if (conn == self->connecting) {
    self->connecting = NULL;
    if (!up) {
      icecam_framed_tcp_free (conn);
      tcp_retry_later (self);
      return;
    }
    g_debug ("punch (tcp): connected to the peer");
    g_ptr_array_add (self->conns, conn);
    icecam_punch_tcp_send_packet (self, conn, ICECAM_PUNCH_PACKET_PROBE);
    return;
  }
  if (up)
    return;
  g_debug ("punch (tcp): a connection closed");
  tcp_drop (self, conn);
  if (!self->finished && self->conns->len == 0)
    tcp_retry_later (self);
  if (self->finished && self->success && self->current == NULL) {
    /* The path is gone for good: ICE's pair carries the media again. */
    if (self->keepalive != NULL) {
      g_source_destroy (self->keepalive);
      g_clear_pointer (&self->keepalive, g_source_unref);
    }
    icecam_punch_set_alive (self, FALSE);
  }
}

static void
tcp_connect (IcecamPunch *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) sock = NULL;
  GSocketFamily family = g_inet_address_get_family (self->peer_ip);

  /* One connection to the peer is all it takes (its 4-tuple is then taken anyway). */
  if (self->finished || self->connecting != NULL || self->conns->len > 0)
    return;
  sock = icecam_punch_tcp_socket_new (family, self->tcp_local, &error);
  if (sock == NULL) {
    g_debug ("punch (tcp): %s", error->message);
    tcp_retry_later (self);
    return;
  }
  if (!g_socket_connect (sock, G_SOCKET_ADDRESS (self->config.peer), NULL, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_PENDING)) {
    g_debug ("punch (tcp): connect: %s", error->message);
    tcp_retry_later (self);
    return;
  }
  self->n_sent++;  /* a SYN */
  self->connecting = icecam_framed_tcp_new (sock, error != NULL, self->context, on_tcp_packet,
                                            on_tcp_state, self);
  if (error == NULL)
    on_tcp_state (self->connecting, TRUE, self);
}

/* The peer's SYN came in first (its NAT was open, or it has none): take it if it comes from
 * the peer's IP (the token decides the rest). */
static gboolean
on_tcp_listener_readable (GSocket *listener, GIOCondition condition, gpointer user_data)
{
  IcecamPunch *self = user_data;

  for (guint n = 0; n < 8; n++) {
    g_autoptr (GSocket) sock = g_socket_accept (listener, NULL, NULL);
    g_autoptr (GSocketAddress) from = NULL;
    IcecamFramedTcp *conn;

    if (sock == NULL)
      break;
    from = g_socket_get_remote_address (sock, NULL);
    if (from == NULL || !G_IS_INET_SOCKET_ADDRESS (from) ||
        !g_inet_address_equal (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from)),
                               self->peer_ip) ||
        self->conns->len >= TCP_MAX_CONNECTIONS) {
      g_socket_close (sock, NULL);
      continue;
    }
    g_debug ("punch (tcp): accepted the peer's connection");
    conn = icecam_framed_tcp_new (sock, FALSE, self->context, on_tcp_packet, on_tcp_state, self);
    g_ptr_array_add (self->conns, conn);
    icecam_punch_tcp_send_packet (self, conn, ICECAM_PUNCH_PACKET_PROBE);
  }
  return G_SOURCE_CONTINUE;
}

gboolean
icecam_punch_tcp_start (IcecamPunch *self, GError **error)
{
  GSocketFamily family = g_inet_address_get_family (self->peer_ip);

  self->listener = icecam_punch_tcp_socket_new (family, self->tcp_local, error);
  if (self->listener == NULL || !g_socket_listen (self->listener, error))
    return FALSE;
  self->listen_source = g_socket_create_source (self->listener, G_IO_IN, NULL);
  g_source_set_callback (self->listen_source, G_SOURCE_FUNC (on_tcp_listener_readable), self,
                         NULL);
  g_source_attach (self->listen_source, self->context);
  tcp_connect (self);
  return TRUE;
}

/* No more connects or accepts; on failure every connection goes; the socket whose mapping
 * was signalled (its STUN connection) has done its part either way. */
void
icecam_punch_tcp_finish (IcecamPunch *self, gboolean success)
{
  if (self->retry != NULL) {
    g_source_destroy (self->retry);
    g_clear_pointer (&self->retry, g_source_unref);
  }
  if (self->listen_source != NULL) {
    g_source_destroy (self->listen_source);
    g_clear_pointer (&self->listen_source, g_source_unref);
  }
  if (self->listener != NULL)
    g_socket_close (self->listener, NULL);
  g_clear_pointer (&self->connecting, icecam_framed_tcp_free);
  if (!success) {
    icecam_punch_tcp_set_current (self, NULL);
    for (guint i = 0; i < self->conns->len; i++)
      icecam_framed_tcp_free (self->conns->pdata[i]);
    g_ptr_array_set_size (self->conns, 0);
  }
  for (guint i = 0; i < self->sockets->len; i++)
    g_socket_close (self->sockets->pdata[i], NULL);
}

/* After the linger: the leader keeps only the connection it answered on; the other end's
 * extra ones then close, and it follows the leader's probes. */
void
icecam_punch_tcp_close_others (IcecamPunch *self)
{
  if (!self->config.leader)
    return;
  for (guint i = self->conns->len; i > 0; i--) {
    IcecamFramedTcp *conn = self->conns->pdata[i - 1];

    if (conn != self->current)
      tcp_drop (self, conn);
  }
}
