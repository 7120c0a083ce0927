/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One accepted TCP connection that speaks STUN (RFC 8489 section 6.2.2): Binding answered. */

#include "icecam-stun-tcp.h"

#include <string.h>

#include "icecam-stun-message.h"

/**
 * SECTION:icecam-stun-tcp
 * @title: IcecamStunTcp
 * @short_description: answers STUN Binding requests on one connected TCP socket
 *
 * A client that wants the public mapping of a TCP socket of its own (for TCP hole punching)
 * connects it to the STUN server's address and port and sends Binding requests over it: STUN
 * over TCP has no framing of its own, the messages follow each other (RFC 8489 section
 * 6.2.2). Each RFC 8489 Binding request gets a success response whose XOR-MAPPED-ADDRESS is
 * the connection's remote address (or an error response: 420 for unknown
 * comprehension-required attributes, as on UDP). The client keeps the connection open while
 * it punches, so that its NAT keeps the mapping.
 *
 * Anything else closes the connection: a header that is not RFC 8489's (the first two bits
 * 0, the magic cookie, a length that is a multiple of 4), a message larger than
 * %ICECAM_STUN_TCP_MAX_MESSAGE bytes, a class or method other than a Binding request, an
 * answer the socket cannot take at once (a client that does not read). So does the timeout
 * of icecam_stun_tcp_start(), and the client closing its end. Memory is fixed: one
 * %ICECAM_STUN_TCP_MAX_MESSAGE buffer per connection.
 *
 * Threading: the socket is read, and #IcecamStunTcp::answered and #IcecamStunTcp::closed are
 * emitted, in the thread-default #GMainContext of icecam_stun_tcp_start()'s caller; use the
 * object in that thread only.
 */

/* The RFC 8489 header: type, length, magic cookie, transaction ID. */
#define HEADER_SIZE 20

typedef enum {
  STATE_NEW,
  STATE_SERVING,
  STATE_CLOSED,
} IcecamStunTcpState;

struct _IcecamStunTcp {
  GObject parent_instance;

  IcecamStunTcpState state;
  GSocket *socket;
  IcecamStunAddress mapped;     /* the remote address, as answers carry it */
  gboolean mapped_valid;
  gchar *log_id;
  GSource *read_source;
  GSource *timeout_source;
  guint8 buffer[ICECAM_STUN_TCP_MAX_MESSAGE];
  gsize filled;
};

enum {
  SIGNAL_ANSWERED,
  SIGNAL_CLOSED,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (IcecamStunTcp, icecam_stun_tcp, G_TYPE_OBJECT)

static void
set_state (IcecamStunTcp *self, IcecamStunTcpState state)
{
  static const gchar *const names[] = { "new", "serving", "closed" };

  if (self->state == state)
    return;
  g_return_if_fail (state > self->state);
  g_debug ("%s: %s -> %s", self->log_id, names[self->state], names[state]);
  self->state = state;
}

static void
clear_source (GSource **source)
{
  if (*source != NULL) {
    g_source_destroy (*source);
    g_clear_pointer (source, g_source_unref);
  }
}

/* Without the signal: dispose. */
static void
finish (IcecamStunTcp *self, const gchar *reason, gboolean notify)
{
  if (self->state == STATE_CLOSED)
    return;
  clear_source (&self->read_source);
  clear_source (&self->timeout_source);
  g_socket_close (self->socket, NULL);
  g_debug ("%s: closed: %s", self->log_id, reason);
  set_state (self, STATE_CLOSED);
  if (notify) {
    g_object_ref (self);
    g_signal_emit (self, signals[SIGNAL_CLOSED], 0, reason);
    g_object_unref (self);
  }
}

/* The header of what @self->buffer starts with: its total size, or 0 if it is no RFC 8489
 * message this server reads. */
static gsize
message_size (IcecamStunTcp *self)
{
  const guint8 *header = self->buffer;
  guint32 cookie = ((guint32) header[4] << 24) | ((guint32) header[5] << 16) |
                   ((guint32) header[6] << 8) | header[7];
  gsize body = ((gsize) header[2] << 8) | header[3];

  if ((header[0] & 0xc0) != 0 || cookie != ICECAM_STUN_MAGIC_COOKIE || body % 4 != 0 ||
      HEADER_SIZE + body > sizeof self->buffer)
    return 0;
  return HEADER_SIZE + body;
}

/* Returns FALSE (and closes) when the answer cannot go. */
static gboolean
answer (IcecamStunTcp *self, gsize size)
{
  guint8 out[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  g_autoptr (GError) error = NULL;
  IcecamStunRequest request;
  gsize length;
  gssize sent;

  if (!icecam_stun_message_parse_request (self->buffer, size, FALSE, &request, &error)) {
    finish (self, error->message, TRUE);
    return FALSE;
  }
  if (request.error_code != 0)
    length = icecam_stun_message_write_error (&request, out, sizeof out, &error);
  else
    length = icecam_stun_message_write_success (&request, &self->mapped, NULL, NULL, out,
                                                sizeof out, &error);
  if (length == 0) {
    finish (self, error != NULL ? error->message : "answer not written", TRUE);
    return FALSE;
  }
  /* A small answer to a client that reads: it fits in the socket buffer whole. */
  sent = g_socket_send (self->socket, (const gchar *) out, length, NULL, &error);
  if (sent != (gssize) length) {
    finish (self, error != NULL ? error->message : "answer sent in part", TRUE);
    return FALSE;
  }
  if (request.error_code == 0) {
    g_object_ref (self);
    g_signal_emit (self, signals[SIGNAL_ANSWERED], 0);
    g_object_unref (self);
  }
  return self->state == STATE_SERVING;
}

/* Answers the whole messages in the buffer and keeps the rest. */
static void
answer_buffered (IcecamStunTcp *self)
{
  while (self->filled >= HEADER_SIZE) {
    gsize size = message_size (self);

    if (size == 0) {
      finish (self, "not an RFC 8489 STUN message", TRUE);
      return;
    }
    if (self->filled < size)
      return;
    if (!answer (self, size))
      return;
    memmove (self->buffer, self->buffer + size, self->filled - size);
    self->filled -= size;
  }
  /* Even before a whole header: what cannot start one ends it at once. */
  if (self->filled > 0 && (self->buffer[0] & 0xc0) != 0)
    finish (self, "not an RFC 8489 STUN message", TRUE);
}

static gboolean
on_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  IcecamStunTcp *self = user_data;
  g_autoptr (GError) error = NULL;
  gssize received;

  received = g_socket_receive (self->socket, (gchar *) self->buffer + self->filled,
                               sizeof self->buffer - self->filled, NULL, &error);
  if (received < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
    return G_SOURCE_CONTINUE;
  if (received < 0) {
    finish (self, error->message, TRUE);
    return G_SOURCE_REMOVE;
  }
  if (received == 0) {
    finish (self, "closed by the client", TRUE);
    return G_SOURCE_REMOVE;
  }
  self->filled += (gsize) received;
  g_object_ref (self);
  answer_buffered (self);
  if (self->state != STATE_SERVING) {
    g_object_unref (self);
    return G_SOURCE_REMOVE;
  }
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_timeout (gpointer user_data)
{
  IcecamStunTcp *self = user_data;

  finish (self, "time is up", TRUE);
  return G_SOURCE_REMOVE;
}

/* ---- public API ----------------------------------------------------------------------- */

/**
 * icecam_stun_tcp_may_start_with:
 * @first_byte: the first byte a client sent on a new connection
 *
 * Whether the connection may be STUN over TCP for Binding: a Binding message type (request
 * 0x0001, indication, success and error response) starts with 0x00 or 0x01, which no HTTP
 * request, TLS record or PROXY header does. The rest is checked by #IcecamStunTcp.
 *
 * Returns: %TRUE if @first_byte is 0x00 or 0x01
 */
gboolean
icecam_stun_tcp_may_start_with (guint8 first_byte)
{
  return first_byte <= 0x01;
}

/**
 * icecam_stun_tcp_new:
 * @socket: a connected TCP socket; the object closes it when done
 * @remote: the client's address: what XOR-MAPPED-ADDRESS tells it (a trusted proxy's PROXY
 *   header may have named it)
 *
 * Returns: (transfer full): a connection that does not read yet
 */
IcecamStunTcp *
icecam_stun_tcp_new (GSocket *socket, GInetSocketAddress *remote)
{
  IcecamStunTcp *self;
  g_autofree gchar *peer = NULL;

  g_return_val_if_fail (G_IS_SOCKET (socket), NULL);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (remote), NULL);

  self = g_object_new (ICECAM_TYPE_STUN_TCP, NULL);
  self->socket = g_object_ref (socket);
  self->mapped_valid = icecam_stun_address_from_socket_address (remote, &self->mapped);
  peer = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote));
  g_free (self->log_id);
  self->log_id = g_strdup_printf ("stun-tcp %s", peer);
  return self;
}

/**
 * icecam_stun_tcp_start:
 * @self: a connection not started yet
 * @timeout_ms: close it this long from now at the latest
 *
 * Starts reading and answering in the thread-default #GMainContext. The socket is made
 * non-blocking. #IcecamStunTcp::closed is emitted once, when the connection is done.
 */
void
icecam_stun_tcp_start (IcecamStunTcp *self, guint timeout_ms)
{
  GMainContext *context = g_main_context_get_thread_default ();

  g_return_if_fail (ICECAM_IS_STUN_TCP (self));
  g_return_if_fail (self->state == STATE_NEW);

  set_state (self, STATE_SERVING);
  if (!self->mapped_valid) {
    finish (self, "remote is not an IP address", TRUE);
    return;
  }
  g_socket_set_blocking (self->socket, FALSE);
  self->read_source = g_socket_create_source (self->socket, G_IO_IN, NULL);
  g_source_set_callback (self->read_source, G_SOURCE_FUNC (on_readable), self, NULL);
  g_source_set_static_name (self->read_source, "icecam-stun-tcp");
  g_source_attach (self->read_source, context);
  self->timeout_source = g_timeout_source_new (timeout_ms);
  g_source_set_callback (self->timeout_source, on_timeout, self, NULL);
  g_source_attach (self->timeout_source, context);
}

/**
 * icecam_stun_tcp_close:
 * @self: a connection
 * @reason: for the logs and #IcecamStunTcp::closed
 *
 * Closes the connection now (the owner's own deadline, say); #IcecamStunTcp::closed is
 * emitted unless it was closed already.
 */
void
icecam_stun_tcp_close (IcecamStunTcp *self, const gchar *reason)
{
  g_return_if_fail (ICECAM_IS_STUN_TCP (self));

  finish (self, reason, TRUE);
}

/**
 * icecam_stun_tcp_is_closed:
 * @self: a connection
 *
 * Returns: whether the connection is done
 */
gboolean
icecam_stun_tcp_is_closed (IcecamStunTcp *self)
{
  g_return_val_if_fail (ICECAM_IS_STUN_TCP (self), TRUE);

  return self->state == STATE_CLOSED;
}

/* ---- GObject -------------------------------------------------------------------------- */

static void
icecam_stun_tcp_dispose (GObject *object)
{
  IcecamStunTcp *self = ICECAM_STUN_TCP (object);

  if (self->socket != NULL)
    finish (self, "dropped by its owner", FALSE);
  g_clear_object (&self->socket);

  G_OBJECT_CLASS (icecam_stun_tcp_parent_class)->dispose (object);
}

static void
icecam_stun_tcp_finalize (GObject *object)
{
  IcecamStunTcp *self = ICECAM_STUN_TCP (object);

  g_free (self->log_id);

  G_OBJECT_CLASS (icecam_stun_tcp_parent_class)->finalize (object);
}

static void
icecam_stun_tcp_class_init (IcecamStunTcpClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_stun_tcp_dispose;
  object_class->finalize = icecam_stun_tcp_finalize;

  /**
   * IcecamStunTcp::answered:
   * @stun_tcp: the connection
   *
   * A Binding request got its success response.
   */
  signals[SIGNAL_ANSWERED] =
    g_signal_new ("answered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  /**
   * IcecamStunTcp::closed:
   * @stun_tcp: the connection
   * @reason: why, for the logs
   *
   * The connection is closed; emitted once, not when the last reference is dropped first.
   */
  signals[SIGNAL_CLOSED] =
    g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
icecam_stun_tcp_init (IcecamStunTcp *self)
{
  self->log_id = g_strdup ("stun-tcp");
}
