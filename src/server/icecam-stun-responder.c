/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A STUN Binding responder on one UDP socket, or four for RFC 5780 (codec: icecam-stun-message). */

#include "icecam-stun-responder.h"

#include "icecam-stun-message.h"

#include <string.h>

/* One more than the largest datagram accepted, so a truncated read is recognisable. */
#define RECEIVE_BUFFER_SIZE 1536
/* Bounds the time one busy socket holds the main context. */
#define MAX_PACKETS_PER_DISPATCH 32
/* Ephemeral ports chosen for one RFC 5780 socket can be taken on the other address. */
#define MAX_BIND_ATTEMPTS 8
/* STUN-over-TCP connections of the responder's own TCP listener open at once; each lasts
 * ICECAM_STUN_TCP_TIMEOUT_S at most. More are closed at once. */
#define MAX_TCP_CONNECTIONS 256
/* After accept() failed (no descriptor left): wait this long, then try again. */
#define TCP_ACCEPT_RETRY_MS 100
#define TCP_LISTEN_BACKLOG 128

/* Index bits of the four RFC 5780 sockets: endpoints[0] is the primary ip:port. */
#define ENDPOINT_CHANGE_PORT 1u
#define ENDPOINT_CHANGE_IP 2u
#define N_ENDPOINTS 4

typedef enum {
  STATE_NEW,
  STATE_LISTENING,
  STATE_CLOSED,
} IcecamStunResponderState;

typedef enum {
  OUTCOME_ANSWERED,
  OUTCOME_ERROR_ANSWERED,
  OUTCOME_IGNORED,
  OUTCOME_SEND_FAILED,
} Outcome;

typedef struct {
  IcecamStunResponder *responder;
  guint index;
  GSocket *socket;
  GSource *source;
  GInetSocketAddress *local_address;
  IcecamStunAddress wire_address;
} Endpoint;

/**
 * IcecamStunResponder:
 *
 * Answers STUN Binding requests on UDP so that one public rendezvous host is enough for
 * server-reflexive candidates: RFC 8489 requests get XOR-MAPPED-ADDRESS, SOFTWARE and
 * FINGERPRINT; RFC 3489 requests (no magic cookie, as libnice 0.1.21 sends) get
 * MAPPED-ADDRESS. With icecam_stun_responder_listen_rfc5780() it also serves RFC 5780 NAT
 * behaviour discovery: CHANGE-REQUEST, RESPONSE-ORIGIN, OTHER-ADDRESS and RESPONSE-PORT (the
 * answer goes to the requester's IP address at that port, for binding lifetime discovery).
 *
 * Everything else is dropped and counted: datagrams that are not STUN, malformed or oversized
 * (1536 bytes and more), with a wrong FINGERPRINT, responses, indications and methods other
 * than Binding. Binding requests are refused with 420 Unknown Attribute (listing them) when
 * they carry comprehension-required attributes we do not know, and with 400 Bad Request when
 * their CHANGE-REQUEST is malformed. Nothing from the network is trusted and memory use is
 * fixed: one 1536-byte receive buffer per responder.
 *
 * With icecam_stun_responder_listen_tcp() it also answers Binding requests over TCP on the
 * primary address and port (#IcecamStunTcp; at most 256 such connections at once, each for
 * %ICECAM_STUN_TCP_TIMEOUT_S seconds at most), so that a client learns the public mapping of
 * a TCP socket of its own for TCP hole punching.
 *
 * Threading: sockets are read, and answered, in the #GMainContext that was thread-default
 * when icecam_stun_responder_new() was called; that context must be iterated. Call listen and
 * drop the last reference in that context's thread; icecam_stun_responder_get_stats() may be
 * called from any thread. The responder emits no signals.
 */
struct _IcecamStunResponder {
  GObject parent_instance;

  GMainContext *context;
  IcecamStunResponderState state;
  gchar *log_id;

  Endpoint endpoints[N_ENDPOINTS];
  guint n_endpoints;

  GSocket *tcp_listening;          /* NULL unless icecam_stun_responder_listen_tcp() */
  GSource *tcp_source;
  GSource *tcp_retry;
  GPtrArray *tcp_connections;       /* IcecamStunTcp (owned) of tcp_listening */

  GMutex stats_lock;
  IcecamStunResponderStats stats;

  guint8 buffer[RECEIVE_BUFFER_SIZE];
};

G_DEFINE_FINAL_TYPE (IcecamStunResponder, icecam_stun_responder, G_TYPE_OBJECT)

/* States only move forward: new, then listening, then closed. */
static void
set_state (IcecamStunResponder *self, IcecamStunResponderState state)
{
  static const gchar *const names[] = { "new", "listening", "closed" };

  if (self->state == state)
    return;
  g_return_if_fail (state > self->state);
  g_debug ("%s: %s -> %s", self->log_id, names[self->state], names[state]);
  self->state = state;
}

static void
count_outcome (IcecamStunResponder *self, Outcome outcome)
{
  g_mutex_lock (&self->stats_lock);
  self->stats.packets_received++;
  switch (outcome) {
  case OUTCOME_ANSWERED:
    self->stats.requests_answered++;
    break;
  case OUTCOME_ERROR_ANSWERED:
    self->stats.errors_answered++;
    break;
  case OUTCOME_IGNORED:
    self->stats.packets_ignored++;
    break;
  case OUTCOME_SEND_FAILED:
    self->stats.send_failures++;
    break;
  default:
    break;
  }
  g_mutex_unlock (&self->stats_lock);
}

static void
log_packet (IcecamStunResponder *self, Endpoint *endpoint, GSocketAddress *from,
            const gchar *what, const gchar *reason)
{
  g_autofree gchar *peer = NULL;

  if (g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))
    return;
  peer = from != NULL ? g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (from))
                      : g_strdup ("?");
  g_debug ("%s: socket %u: %s from %s: %s", self->log_id, endpoint->index, what, peer, reason);
}

static Endpoint *
reply_endpoint (IcecamStunResponder *self, Endpoint *received_on,
                const IcecamStunRequest *request)
{
  guint index = received_on->index;

  if (self->n_endpoints != N_ENDPOINTS || !request->has_change_request)
    return received_on;
  if (request->change_flags & ICECAM_STUN_CHANGE_IP)
    index ^= ENDPOINT_CHANGE_IP;
  if (request->change_flags & ICECAM_STUN_CHANGE_PORT)
    index ^= ENDPOINT_CHANGE_PORT;
  return &self->endpoints[index];
}

/* @length is 0, with @write_error set, when the answer could not be written. */
static void
send_answer (IcecamStunResponder *self, Endpoint *endpoint, GSocketAddress *to,
             const guint8 *answer, gsize length, const GError *write_error, Outcome outcome)
{
  g_autoptr(GError) error = NULL;

  if (length == 0) {
    g_warning ("%s: answer not written: %s", self->log_id,
               write_error != NULL ? write_error->message : "invalid request");
    count_outcome (self, OUTCOME_SEND_FAILED);
    return;
  }
  if (g_socket_send_to (endpoint->socket, to, (const gchar *) answer, length, NULL,
                        &error) < 0) {
    log_packet (self, endpoint, to, "answer not sent", error->message);
    count_outcome (self, OUTCOME_SEND_FAILED);
    return;
  }
  count_outcome (self, outcome);
}

static void
answer_request (IcecamStunResponder *self, Endpoint *received_on, GSocketAddress *from,
                const IcecamStunAddress *mapped, const IcecamStunRequest *request)
{
  guint8 answer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocketAddress) to = NULL;
  Endpoint *reply_from;
  Endpoint *other;
  gsize length;

  if (request->error_code != 0) {
    log_packet (self, received_on, from, "request refused", request->error_reason);
    length = icecam_stun_message_write_error (request, answer, sizeof answer, &error);
    send_answer (self, received_on, from, answer, length, error, OUTCOME_ERROR_ANSWERED);
    return;
  }

  reply_from = reply_endpoint (self, received_on, request);
  /* RESPONSE-PORT (understood only with RFC 5780): the same host, the port it names. That
   * host could already send to any port of its own, so this reflects nothing new to it. */
  if (request->has_response_port) {
    GInetAddress *host = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from));

    to = g_inet_socket_address_new (host, request->response_port);
  } else {
    to = g_object_ref (from);
  }
  if (self->n_endpoints == N_ENDPOINTS) {
    /* OTHER-ADDRESS is where "change IP and port" would answer from: relative to the socket
     * the request reached, whatever this request asked for (RFC 5780 section 7.4). */
    other = &self->endpoints[received_on->index ^ (ENDPOINT_CHANGE_IP | ENDPOINT_CHANGE_PORT)];
    length = icecam_stun_message_write_success (request, mapped, &reply_from->wire_address,
                                                &other->wire_address, answer, sizeof answer,
                                                &error);
  } else {
    length = icecam_stun_message_write_success (request, mapped, NULL, NULL, answer,
                                                sizeof answer, &error);
  }
  send_answer (self, reply_from, to, answer, length, error, OUTCOME_ANSWERED);
}

static void
handle_datagram (IcecamStunResponder *self, Endpoint *endpoint, GSocketAddress *from,
                 gsize length)
{
  IcecamStunRequest request;
  IcecamStunAddress mapped;
  g_autoptr(GError) error = NULL;
  const gchar *reason = NULL;

  if (length >= sizeof self->buffer)
    reason = "datagram too large";
  else if (!G_IS_INET_SOCKET_ADDRESS (from) ||
           !icecam_stun_address_from_socket_address (G_INET_SOCKET_ADDRESS (from), &mapped))
    reason = "source is not an IP address";
  else if (!icecam_stun_message_parse_request (self->buffer, length,
                                               self->n_endpoints == N_ENDPOINTS, &request,
                                               &error))
    reason = error->message;

  if (reason != NULL) {
    log_packet (self, endpoint, from, "datagram ignored", reason);
    count_outcome (self, OUTCOME_IGNORED);
    return;
  }
  answer_request (self, endpoint, from, &mapped, &request);
}

/* Returns FALSE when there is nothing more to read for now. */
static gboolean
receive_one (Endpoint *endpoint)
{
  IcecamStunResponder *self = endpoint->responder;
  g_autoptr(GSocketAddress) from = NULL;
  g_autoptr(GError) error = NULL;
  gssize received;

  received = g_socket_receive_from (endpoint->socket, &from, (gchar *) self->buffer,
                                    sizeof self->buffer, NULL, &error);
  if (received < 0) {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      g_debug ("%s: socket %u: receive failed: %s", self->log_id, endpoint->index,
               error->message);
    return FALSE;
  }
  handle_datagram (self, endpoint, from, (gsize) received);
  return TRUE;
}

static gboolean
on_socket_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Endpoint *endpoint = user_data;

  for (guint i = 0; i < MAX_PACKETS_PER_DISPATCH; i++) {
    if (!receive_one (endpoint))
      break;
  }
  return G_SOURCE_CONTINUE;
}

static void
endpoint_close (Endpoint *endpoint)
{
  if (endpoint->source != NULL) {
    g_source_destroy (endpoint->source);
    g_clear_pointer (&endpoint->source, g_source_unref);
  }
  if (endpoint->socket != NULL) {
    g_socket_close (endpoint->socket, NULL);
    g_clear_object (&endpoint->socket);
  }
  g_clear_object (&endpoint->local_address);
  memset (endpoint, 0, sizeof *endpoint);
}

/* ---- TCP ------------------------------------------------------------------------------ */

static void
on_tcp_answered (IcecamStunTcp *connection, gpointer user_data)
{
  IcecamStunResponder *self = user_data;

  g_mutex_lock (&self->stats_lock);
  self->stats.tcp_requests_answered++;
  g_mutex_unlock (&self->stats_lock);
}

static void
on_tcp_closed (IcecamStunTcp *connection, const gchar *reason, gpointer user_data)
{
  IcecamStunResponder *self = user_data;

  /* Emitted with a reference held: dropping ours here is safe. */
  g_ptr_array_remove_fast (self->tcp_connections, connection);
}

static void start_tcp_accepting (IcecamStunResponder *self);

static gboolean
on_tcp_retry (gpointer user_data)
{
  IcecamStunResponder *self = user_data;

  g_clear_pointer (&self->tcp_retry, g_source_unref);
  start_tcp_accepting (self);
  return G_SOURCE_REMOVE;
}

static void
tcp_accept_one (IcecamStunResponder *self, GSocket *socket)
{
  g_autoptr (GSocketAddress) remote = g_socket_get_remote_address (socket, NULL);
  IcecamStunTcp *connection;

  if (!G_IS_INET_SOCKET_ADDRESS (remote) || self->tcp_connections->len >= MAX_TCP_CONNECTIONS) {
    g_debug ("%s: TCP connection closed at once (%s)", self->log_id,
             remote == NULL ? "gone" : "too many open");
    g_socket_close (socket, NULL);
    return;
  }
  connection = icecam_stun_tcp_new (socket, G_INET_SOCKET_ADDRESS (remote));
  g_ptr_array_add (self->tcp_connections, connection);
  icecam_stun_responder_add_tcp (self, connection);
  g_signal_connect_object (connection, "closed", G_CALLBACK (on_tcp_closed), self, 0);
  g_main_context_push_thread_default (self->context);
  icecam_stun_tcp_start (connection, ICECAM_STUN_TCP_TIMEOUT_S * 1000);
  g_main_context_pop_thread_default (self->context);
}

static gboolean
on_tcp_listening_readable (GSocket *listening, GIOCondition condition, gpointer user_data)
{
  IcecamStunResponder *self = user_data;

  for (guint i = 0; i < MAX_PACKETS_PER_DISPATCH; i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocket) socket = g_socket_accept (listening, NULL, &error);

    if (socket != NULL) {
      tcp_accept_one (self, socket);
      continue;
    }
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      break;
    /* Most likely no descriptor left; the queue stays readable, so pause instead of spinning. */
    g_warning ("%s: TCP accept failed (%s), trying again in %d ms", self->log_id,
               error->message, TCP_ACCEPT_RETRY_MS);
    self->tcp_retry = g_timeout_source_new (TCP_ACCEPT_RETRY_MS);
    g_source_set_callback (self->tcp_retry, on_tcp_retry, self, NULL);
    g_source_attach (self->tcp_retry, self->context);
    g_clear_pointer (&self->tcp_source, g_source_unref);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void
start_tcp_accepting (IcecamStunResponder *self)
{
  self->tcp_source = g_socket_create_source (self->tcp_listening, G_IO_IN, NULL);
  g_source_set_callback (self->tcp_source, G_SOURCE_FUNC (on_tcp_listening_readable), self,
                         NULL);
  g_source_set_static_name (self->tcp_source, "icecam-stun-responder-tcp");
  g_source_attach (self->tcp_source, self->context);
}

static void
close_tcp (IcecamStunResponder *self)
{
  g_autoptr (GPtrArray) connections = NULL;

  if (self->tcp_source != NULL) {
    g_source_destroy (self->tcp_source);
    g_clear_pointer (&self->tcp_source, g_source_unref);
  }
  if (self->tcp_retry != NULL) {
    g_source_destroy (self->tcp_retry);
    g_clear_pointer (&self->tcp_retry, g_source_unref);
  }
  if (self->tcp_listening != NULL)
    g_socket_close (self->tcp_listening, NULL);
  g_clear_object (&self->tcp_listening);
  /* Dropped, not closed: their signals would reach a responder going away. */
  connections = g_steal_pointer (&self->tcp_connections);
  self->tcp_connections = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; connections != NULL && i < connections->len; i++)
    g_signal_handlers_disconnect_by_data (g_ptr_array_index (connections, i), self);
}

static void
close_endpoints (IcecamStunResponder *self)
{
  for (guint i = 0; i < N_ENDPOINTS; i++)
    endpoint_close (&self->endpoints[i]);
  self->n_endpoints = 0;
}

static gboolean
endpoint_open (IcecamStunResponder *self, guint index, GInetAddress *ip, guint16 port,
               GError **error)
{
  Endpoint *endpoint = &self->endpoints[index];
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) bind_address = g_inet_socket_address_new (ip, port);
  g_autoptr(GSocketAddress) local = NULL;

  socket = g_socket_new (g_inet_address_get_family (ip), G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL)
    return FALSE;
  g_socket_set_blocking (socket, FALSE);
  /* No address reuse: on UDP that would let a second server share the port silently. */
  if (!g_socket_bind (socket, bind_address, FALSE, error))
    return FALSE;
  local = g_socket_get_local_address (socket, error);
  if (local == NULL)
    return FALSE;
  if (!icecam_stun_address_from_socket_address (G_INET_SOCKET_ADDRESS (local),
                                                &endpoint->wire_address)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "Not an IP socket");
    return FALSE;
  }

  endpoint->responder = self;
  endpoint->index = index;
  endpoint->socket = g_steal_pointer (&socket);
  endpoint->local_address = G_INET_SOCKET_ADDRESS (g_steal_pointer (&local));
  return TRUE;
}

static guint16
endpoint_port (const Endpoint *endpoint)
{
  return g_inet_socket_address_get_port (endpoint->local_address);
}

static gchar *
describe_address (GInetSocketAddress *address)
{
  return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
}

static void
start (IcecamStunResponder *self, guint n_endpoints)
{
  g_autofree gchar *primary = describe_address (self->endpoints[0].local_address);

  self->n_endpoints = n_endpoints;
  g_free (self->log_id);
  self->log_id = g_strdup_printf ("stun-responder %s", primary);

  for (guint i = 0; i < n_endpoints; i++) {
    Endpoint *endpoint = &self->endpoints[i];

    endpoint->source = g_socket_create_source (endpoint->socket, G_IO_IN, NULL);
    g_source_set_callback (endpoint->source, G_SOURCE_FUNC (on_socket_readable), endpoint, NULL);
    g_source_set_static_name (endpoint->source, "icecam-stun-responder");
    g_source_attach (endpoint->source, self->context);
  }

  set_state (self, STATE_LISTENING);
  if (n_endpoints == N_ENDPOINTS) {
    g_autofree gchar *other = describe_address (self->endpoints[N_ENDPOINTS - 1].local_address);

    g_info ("%s: listening, RFC 5780 alternate %s", self->log_id, other);
  } else {
    g_info ("%s: listening", self->log_id);
  }
}

/**
 * icecam_stun_responder_new:
 *
 * Creates a responder that will run in the thread-default #GMainContext of the caller.
 *
 * Returns: (transfer full): a responder that does not listen yet
 */
IcecamStunResponder *
icecam_stun_responder_new (void)
{
  return g_object_new (ICECAM_TYPE_STUN_RESPONDER, NULL);
}

/**
 * icecam_stun_responder_listen:
 * @self: a responder that does not listen yet
 * @address: the local address to bind; port 0 picks a free port (see
 *   icecam_stun_responder_get_port()). An IPv6 wildcard also serves IPv4 where the system
 *   allows dual-stack sockets.
 * @error: return location for a #GIOErrorEnum error, such as %G_IO_ERROR_ADDRESS_IN_USE
 *
 * Binds one UDP socket and starts answering Binding requests in the responder's context.
 * On failure the responder is left as it was and may be asked to listen again.
 *
 * Returns: %TRUE if listening, %FALSE with @error set otherwise
 */
gboolean
icecam_stun_responder_listen (IcecamStunResponder *self, GInetSocketAddress *address,
                              GError **error)
{
  g_autofree gchar *wanted = NULL;

  g_return_val_if_fail (ICECAM_IS_STUN_RESPONDER (self), FALSE);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (address), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  g_return_val_if_fail (self->state == STATE_NEW, FALSE);

  if (!endpoint_open (self, 0, g_inet_socket_address_get_address (address),
                      g_inet_socket_address_get_port (address), error)) {
    close_endpoints (self);
    wanted = describe_address (address);
    g_prefix_error (error, "Cannot listen for STUN on %s: ", wanted);
    return FALSE;
  }
  start (self, 1);
  return TRUE;
}

/* Returns why the pair cannot serve RFC 5780, or NULL if it can. */
static const gchar *
rfc5780_addresses_problem (GInetSocketAddress *primary, GInetSocketAddress *alternate)
{
  GInetAddress *primary_ip = g_inet_socket_address_get_address (primary);
  GInetAddress *alternate_ip = g_inet_socket_address_get_address (alternate);
  guint16 primary_port = g_inet_socket_address_get_port (primary);

  if (g_inet_address_get_family (primary_ip) != g_inet_address_get_family (alternate_ip))
    return "two addresses of the same family";
  if (g_inet_address_get_is_any (primary_ip) || g_inet_address_get_is_any (alternate_ip))
    return "specific addresses, not a wildcard";
  if (g_inet_address_equal (primary_ip, alternate_ip))
    return "two different IP addresses";
  if (primary_port != 0 && primary_port == g_inet_socket_address_get_port (alternate))
    return "two different ports";
  return NULL;
}

/* The order lets port 0 work: the primary port is learnt first and taken on the alternate IP,
 * so the alternate port picked next cannot equal it. */
static gboolean
open_rfc5780_endpoints (IcecamStunResponder *self, GInetSocketAddress *primary,
                        GInetSocketAddress *alternate, GError **error)
{
  GInetAddress *primary_ip = g_inet_socket_address_get_address (primary);
  GInetAddress *alternate_ip = g_inet_socket_address_get_address (alternate);
  guint16 port = g_inet_socket_address_get_port (primary);
  guint16 alternate_port = g_inet_socket_address_get_port (alternate);

  if (!endpoint_open (self, 0, primary_ip, port, error))
    return FALSE;
  port = endpoint_port (&self->endpoints[0]);
  if (!endpoint_open (self, ENDPOINT_CHANGE_IP, alternate_ip, port, error))
    return FALSE;
  if (!endpoint_open (self, ENDPOINT_CHANGE_IP | ENDPOINT_CHANGE_PORT, alternate_ip,
                      alternate_port, error))
    return FALSE;
  alternate_port = endpoint_port (&self->endpoints[ENDPOINT_CHANGE_IP | ENDPOINT_CHANGE_PORT]);
  return endpoint_open (self, ENDPOINT_CHANGE_PORT, primary_ip, alternate_port, error);
}

/**
 * icecam_stun_responder_listen_rfc5780:
 * @self: a responder that does not listen yet
 * @primary: the primary address and port; port 0 picks a free one
 * @alternate: the alternate address, of the same family, and the alternate port; port 0
 *   picks a free one
 * @error: return location for a #GIOErrorEnum error: %G_IO_ERROR_INVALID_ARGUMENT for
 *   unusable addresses, or the bind error
 *
 * Binds four UDP sockets, primary IP × {primary port, alternate port} and alternate IP ×
 * {primary port, alternate port}, and answers on all of them. A CHANGE-REQUEST is honoured
 * by answering from the socket that differs in IP and/or port from the one that received the
 * request; answers carry RESPONSE-ORIGIN (the socket answering) and OTHER-ADDRESS (the socket
 * differing in both from the receiving one), and go to the port a RESPONSE-PORT names. Both
 * addresses must be specific (not wildcards) and different. On failure the responder is left
 * as it was.
 *
 * Returns: %TRUE if listening, %FALSE with @error set otherwise
 */
gboolean
icecam_stun_responder_listen_rfc5780 (IcecamStunResponder *self, GInetSocketAddress *primary,
                                      GInetSocketAddress *alternate, GError **error)
{
  const gchar *problem;
  gboolean ephemeral;

  g_return_val_if_fail (ICECAM_IS_STUN_RESPONDER (self), FALSE);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (primary), FALSE);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (alternate), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  g_return_val_if_fail (self->state == STATE_NEW, FALSE);

  problem = rfc5780_addresses_problem (primary, alternate);
  if (problem != NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "RFC 5780 needs %s", problem);
    return FALSE;
  }

  ephemeral = g_inet_socket_address_get_port (primary) == 0 ||
              g_inet_socket_address_get_port (alternate) == 0;
  for (guint attempt = 1;; attempt++) {
    g_autoptr(GError) local_error = NULL;

    if (open_rfc5780_endpoints (self, primary, alternate, &local_error))
      break;
    close_endpoints (self);
    if (!ephemeral || attempt == MAX_BIND_ATTEMPTS ||
        !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)) {
      g_autofree gchar *wanted = describe_address (primary);

      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "Cannot listen for STUN (RFC 5780) on %s: ", wanted);
      return FALSE;
    }
  }
  start (self, N_ENDPOINTS);
  return TRUE;
}

/**
 * icecam_stun_responder_listen_tcp:
 * @self: a listening responder
 * @error: return location for the bind or listen error
 *
 * Also answers STUN Binding requests over TCP (#IcecamStunTcp) on the primary address and
 * port: a TCP listener of its own.
 *
 * Returns: %TRUE if listening on TCP too, %FALSE with @error set otherwise
 */
gboolean
icecam_stun_responder_listen_tcp (IcecamStunResponder *self, GError **error)
{
  GInetSocketAddress *primary;
  g_autoptr (GSocket) socket = NULL;

  g_return_val_if_fail (ICECAM_IS_STUN_RESPONDER (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  g_return_val_if_fail (self->state == STATE_LISTENING, FALSE);
  g_return_val_if_fail (self->tcp_listening == NULL, FALSE);

  primary = self->endpoints[0].local_address;
  socket = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (primary)),
                         G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return FALSE;
  g_socket_set_blocking (socket, FALSE);
  g_socket_set_listen_backlog (socket, TCP_LISTEN_BACKLOG);
  /* On TCP, reuse only lets a restarted server bind past its old connections' TIME_WAIT. */
  if (!g_socket_bind (socket, G_SOCKET_ADDRESS (primary), TRUE, error) ||
      !g_socket_listen (socket, error))
    return FALSE;
  self->tcp_listening = g_steal_pointer (&socket);
  start_tcp_accepting (self);
  g_info ("%s: listening on TCP too", self->log_id);
  return TRUE;
}

/**
 * icecam_stun_responder_add_tcp:
 * @self: a responder
 * @connection: a STUN-over-TCP connection served by someone else (the signalling port's
 *   acceptor)
 *
 * Counts @connection's answers in this responder's tcp_requests_answered, as long as both
 * exist.
 */
void
icecam_stun_responder_add_tcp (IcecamStunResponder *self, IcecamStunTcp *connection)
{
  g_return_if_fail (ICECAM_IS_STUN_RESPONDER (self));
  g_return_if_fail (ICECAM_IS_STUN_TCP (connection));

  g_signal_connect_object (connection, "answered", G_CALLBACK (on_tcp_answered), self, 0);
}

/**
 * icecam_stun_responder_get_tcp_port:
 * @self: a responder
 *
 * Returns: the port of icecam_stun_responder_listen_tcp()'s listener, or 0 if there is none
 */
guint16
icecam_stun_responder_get_tcp_port (IcecamStunResponder *self)
{
  g_autoptr (GSocketAddress) local = NULL;

  g_return_val_if_fail (ICECAM_IS_STUN_RESPONDER (self), 0);

  if (self->tcp_listening == NULL)
    return 0;
  local = g_socket_get_local_address (self->tcp_listening, NULL);
  return local != NULL ? g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local)) : 0;
}

/**
 * icecam_stun_responder_get_port:
 * @self: a responder
 *
 * Returns: the primary UDP port, or 0 if not listening
 */
guint16
icecam_stun_responder_get_port (IcecamStunResponder *self)
{
  g_return_val_if_fail (ICECAM_IS_STUN_RESPONDER (self), 0);

  if (self->n_endpoints == 0)
    return 0;
  return endpoint_port (&self->endpoints[0]);
}

/**
 * icecam_stun_responder_get_local_address:
 * @self: a responder
 * @change_ip: %TRUE for a socket on the alternate IP
 * @change_port: %TRUE for a socket on the alternate port
 *
 * The address a client sees answers come from when it asks for @change_ip and @change_port
 * in a request sent to the primary address. Both %FALSE gives the primary address, the
 * only one without RFC 5780; both %TRUE gives the OTHER-ADDRESS sent to such a client.
 *
 * Returns: (transfer full) (nullable): the bound address, or %NULL if not listening or if the
 *   socket does not exist
 */
GInetSocketAddress *
icecam_stun_responder_get_local_address (IcecamStunResponder *self, gboolean change_ip,
                                         gboolean change_port)
{
  guint index = (change_ip ? ENDPOINT_CHANGE_IP : 0) | (change_port ? ENDPOINT_CHANGE_PORT : 0);

  g_return_val_if_fail (ICECAM_IS_STUN_RESPONDER (self), NULL);

  if (index >= self->n_endpoints)
    return NULL;
  return g_object_ref (self->endpoints[index].local_address);
}

/**
 * icecam_stun_responder_get_stats:
 * @self: a responder
 * @stats: (out caller-allocates): where to copy the counters
 *
 * Copies the counters. Safe to call from any thread.
 */
void
icecam_stun_responder_get_stats (IcecamStunResponder *self, IcecamStunResponderStats *stats)
{
  g_return_if_fail (ICECAM_IS_STUN_RESPONDER (self));
  g_return_if_fail (stats != NULL);

  g_mutex_lock (&self->stats_lock);
  *stats = self->stats;
  g_mutex_unlock (&self->stats_lock);
}

static void
icecam_stun_responder_dispose (GObject *object)
{
  IcecamStunResponder *self = ICECAM_STUN_RESPONDER (object);

  close_tcp (self);
  close_endpoints (self);
  set_state (self, STATE_CLOSED);

  G_OBJECT_CLASS (icecam_stun_responder_parent_class)->dispose (object);
}

static void
icecam_stun_responder_finalize (GObject *object)
{
  IcecamStunResponder *self = ICECAM_STUN_RESPONDER (object);

  g_main_context_unref (self->context);
  g_ptr_array_unref (self->tcp_connections);
  g_mutex_clear (&self->stats_lock);
  g_free (self->log_id);

  G_OBJECT_CLASS (icecam_stun_responder_parent_class)->finalize (object);
}

static void
icecam_stun_responder_class_init (IcecamStunResponderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_stun_responder_dispose;
  object_class->finalize = icecam_stun_responder_finalize;
}

static void
icecam_stun_responder_init (IcecamStunResponder *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->log_id = g_strdup ("stun-responder (not listening)");
  self->tcp_connections = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_init (&self->stats_lock);
}
