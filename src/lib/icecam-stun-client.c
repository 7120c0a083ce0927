/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* STUN Binding requests from UDP sockets, retransmitted until answered or out of time. */

#include "icecam-stun-client.h"

#include "icecam-random.h"

#include <string.h>

/**
 * SECTION:icecam-stun-client
 * @title: IcecamStunClient
 * @short_description: the NAT probe's sockets and STUN transactions
 *
 * Owns UDP sockets bound to one local IP address (a port the system picks for each) and the
 * Binding transactions sent from them. A transaction is sent at once, then again after 100,
 * 200, 400, 800 ms... until it is answered or its time budget runs out; either way its
 * callback runs once. Answers are matched by transaction ID on the socket that sent the
 * request or on the one the caller said the answer goes to (a RESPONSE-PORT request is
 * answered to another socket; a hairpinning test "answers" with the request itself); any
 * other datagram is ignored.
 *
 * Threading: sockets are read, timers fire and callbacks run in the #GMainContext that was
 * thread-default when icecam_stun_client_new() was called. A callback may close the client
 * (icecam_stun_client_close()): nothing of it runs afterwards. It emits no signals.
 */

#define MAX_PACKETS_PER_DISPATCH 32
#define RECEIVE_BUFFER_SIZE 1536

struct _IcecamStunClientSocket {
  IcecamStunClient *client;
  const gchar *role; /* static, for logs */
  GSocket *socket;
  GSource *source;
  GInetSocketAddress *local;
};

struct _IcecamStunClient {
  GObject parent_instance;

  GMainContext *context;
  GInetAddress *local_ip;
  guint timeout_ms;
  gchar *log_id;
  gboolean closed;
  GPtrArray *sockets;      /* IcecamStunClientSocket, owned */
  GPtrArray *transactions; /* IcecamStunTransaction, owned */
};

G_DEFINE_FINAL_TYPE (IcecamStunClient, icecam_stun_client, G_TYPE_OBJECT)

static gchar *
address_to_string (GInetSocketAddress *address)
{
  return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
}

/* ---- transactions --------------------------------------------------------------------- */

static void
transaction_free (IcecamStunTransaction *t)
{
  if (t->timer != NULL) {
    g_source_destroy (t->timer);
    g_source_unref (t->timer);
  }
  g_clear_object (&t->to);
  g_clear_object (&t->answer_from);
  g_free (t);
}

static void
transaction_stop (IcecamStunTransaction *t)
{
  t->pending = FALSE;
  if (t->timer != NULL) {
    g_source_destroy (t->timer);
    g_clear_pointer (&t->timer, g_source_unref);
  }
}

static void
transaction_send (IcecamStunTransaction *t)
{
  g_autoptr (GError) error = NULL;
  gint64 rto_ms = (gint64) ICECAM_STUN_CLIENT_FIRST_RTO_MS << MIN (t->n_sent, 16);

  t->n_sent++;
  t->next_send_us = g_get_monotonic_time () + rto_ms * 1000;
  if (g_socket_send_to (t->from->socket, G_SOCKET_ADDRESS (t->to), (const gchar *) t->message,
                        t->length, NULL, &error) < 0) {
    /* An unreachable network says as much as a lost packet: the deadline decides. */
    g_debug ("%s: %s: send %u failed: %s", t->client->log_id, t->what, t->n_sent,
             error->message);
  }
}

static gboolean on_transaction_timer (gpointer user_data);

static void
transaction_arm (IcecamStunTransaction *t)
{
  gint64 at = MIN (t->next_send_us, t->deadline_us);
  gint64 wait_ms = (at - g_get_monotonic_time () + 999) / 1000;

  t->timer = g_timeout_source_new ((guint) MAX (wait_ms, 0));
  g_source_set_callback (t->timer, on_transaction_timer, t, NULL);
  g_source_set_static_name (t->timer, "icecam-stun-client-retransmit");
  g_source_attach (t->timer, t->client->context);
}

static void
transaction_complete (IcecamStunTransaction *t)
{
  transaction_stop (t);
  if (t->answered) {
    g_autofree gchar *from = address_to_string (t->answer_from);

    g_debug ("%s: %s: answered from %s on the %s socket after %u send(s)%s", t->client->log_id,
             t->what, from, t->answered_on->role, t->n_sent,
             t->response.is_error ? " with an error" : "");
  } else {
    g_debug ("%s: %s: no answer after %u send(s)", t->client->log_id, t->what, t->n_sent);
  }
  t->func (t, t->user_data);
}

static gboolean
on_transaction_timer (gpointer user_data)
{
  IcecamStunTransaction *t = user_data;
  g_autoptr (IcecamStunClient) client = g_object_ref (t->client);

  g_clear_pointer (&t->timer, g_source_unref);
  if (g_get_monotonic_time () >= t->deadline_us) {
    transaction_complete (t);
    return G_SOURCE_REMOVE;
  }
  if (g_get_monotonic_time () >= t->next_send_us)
    transaction_send (t);
  transaction_arm (t);
  return G_SOURCE_REMOVE;
}

/**
 * icecam_stun_transaction_new:
 * @client: the client that owns it
 * @what: what the request tests, for logs; static
 * @from: the socket that sends it
 * @to: where to
 * @func: called once when answered or out of time
 * @user_data: for @func
 *
 * Returns: (transfer none): a transaction with a random ID, not sent yet; the client owns it
 */
IcecamStunTransaction *
icecam_stun_transaction_new (IcecamStunClient *client, const gchar *what,
                             IcecamStunClientSocket *from, GInetSocketAddress *to,
                             IcecamStunTransactionFunc func, gpointer user_data)
{
  IcecamStunTransaction *t;

  g_return_val_if_fail (ICECAM_IS_STUN_CLIENT (client), NULL);
  g_return_val_if_fail (from != NULL && from->client == client, NULL);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (to), NULL);
  g_return_val_if_fail (func != NULL, NULL);

  t = g_new0 (IcecamStunTransaction, 1);
  t->client = client;
  t->what = what;
  t->from = from;
  t->expect_on = from;
  t->to = g_object_ref (to);
  t->func = func;
  t->user_data = user_data;
  /* An off-path attacker who guesses the ID can forge the answer (RFC 8489 section 6). */
  icecam_random_bytes (t->id, sizeof t->id);
  g_ptr_array_add (client->transactions, t);
  return t;
}

/**
 * icecam_stun_transaction_expect_on:
 * @transaction: a transaction not started yet
 * @sock: where the answer should arrive besides the sending socket
 * @as_request: whether the "answer" is the request itself arriving there (hairpinning), not
 *   a response
 */
void
icecam_stun_transaction_expect_on (IcecamStunTransaction *transaction,
                                   IcecamStunClientSocket *sock, gboolean as_request)
{
  g_return_if_fail (transaction != NULL && !transaction->pending);
  g_return_if_fail (sock != NULL && sock->client == transaction->client);

  transaction->expect_on = sock;
  transaction->expect_request = as_request;
}

/**
 * icecam_stun_transaction_start:
 * @transaction: a transaction not started yet
 * @change_flags: CHANGE-REQUEST flags (RFC 5780), or 0 for no CHANGE-REQUEST
 * @response_port: the RESPONSE-PORT (RFC 5780), or 0 for none; not with @change_flags
 *
 * Writes the Binding request and sends it; the time budget starts now.
 */
void
icecam_stun_transaction_start (IcecamStunTransaction *transaction, guint32 change_flags,
                               guint16 response_port)
{
  IcecamStunTransaction *t = transaction;
  g_autoptr (GError) error = NULL;

  g_return_if_fail (t != NULL && !t->pending && t->n_sent == 0);
  g_return_if_fail (change_flags == 0 || response_port == 0);

  if (response_port != 0)
    t->length = icecam_stun_message_write_response_port_request (t->id, response_port,
                                                                 t->message, sizeof t->message,
                                                                 &error);
  else
    t->length = icecam_stun_message_write_binding_request (t->id, change_flags != 0,
                                                           change_flags, t->message,
                                                           sizeof t->message, &error);
  /* The codec promises that its buffer size holds every request. */
  g_return_if_fail (t->length > 0);

  t->pending = TRUE;
  t->deadline_us = g_get_monotonic_time () + (gint64) t->client->timeout_ms * 1000;
  transaction_send (t);
  transaction_arm (t);
}

/* ---- receiving ------------------------------------------------------------------------ */

static IcecamStunTransaction *
find_transaction (IcecamStunClient *self, IcecamStunClientSocket *sock, const guint8 *id,
                  guint32 cookie, gboolean is_request)
{
  if (cookie != ICECAM_STUN_MAGIC_COOKIE)
    return NULL;
  for (guint i = 0; i < self->transactions->len; i++) {
    IcecamStunTransaction *t = g_ptr_array_index (self->transactions, i);

    if (t->pending && t->expect_request == is_request &&
        (sock == t->from || sock == t->expect_on) &&
        memcmp (t->id, id, ICECAM_STUN_TRANSACTION_ID_LENGTH) == 0)
      return t;
  }
  return NULL;
}

/* Answers are matched by transaction ID only: anything else is someone else's packet. */
static void
handle_datagram (IcecamStunClient *self, IcecamStunClientSocket *sock, GSocketAddress *from,
                 const guint8 *data, gsize length)
{
  IcecamStunResponse response;
  IcecamStunRequest request;
  IcecamStunTransaction *t = NULL;

  if (!G_IS_INET_SOCKET_ADDRESS (from))
    return;
  if (icecam_stun_message_parse_response (data, length, &response, NULL)) {
    t = find_transaction (self, sock, response.transaction_id, response.cookie, FALSE);
    if (t != NULL)
      t->response = response;
  } else if (icecam_stun_message_parse_request (data, length, FALSE, &request, NULL)) {
    t = find_transaction (self, sock, request.transaction_id, request.cookie, TRUE);
  }
  if (t == NULL) {
    g_debug ("%s: %s socket: ignored a %" G_GSIZE_FORMAT "-byte datagram", self->log_id,
             sock->role, length);
    return;
  }
  t->answered = TRUE;
  t->answered_on = sock;
  t->answer_from = g_object_ref (G_INET_SOCKET_ADDRESS (from));
  transaction_complete (t);
}

/* A callback may close the client, which frees its sockets: hold it, look before reading. */
static gboolean
on_socket_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  IcecamStunClientSocket *sock = user_data;
  g_autoptr (IcecamStunClient) self = g_object_ref (sock->client);
  guint8 buffer[RECEIVE_BUFFER_SIZE];

  for (guint i = 0; i < MAX_PACKETS_PER_DISPATCH && !self->closed; i++) {
    g_autoptr (GSocketAddress) from = NULL;
    g_autoptr (GError) error = NULL;
    gssize received;

    received = g_socket_receive_from (socket, &from, (gchar *) buffer, sizeof buffer, NULL,
                                      &error);
    if (received < 0) {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        g_debug ("%s: %s socket: receive failed: %s", self->log_id, sock->role, error->message);
      break;
    }
    handle_datagram (self, sock, from, buffer, (gsize) received);
  }
  return G_SOURCE_CONTINUE;
}

/* ---- sockets -------------------------------------------------------------------------- */

static void
socket_free (IcecamStunClientSocket *sock)
{
  g_source_destroy (sock->source);
  g_source_unref (sock->source);
  g_socket_close (sock->socket, NULL);
  g_object_unref (sock->socket);
  g_object_unref (sock->local);
  g_free (sock);
}

/**
 * icecam_stun_client_open_socket:
 * @self: a client, not closed
 * @role: what the socket is for, in logs; static
 * @error: return location for a #GIOErrorEnum error
 *
 * Returns: (transfer none) (nullable): a UDP socket on the client's local IP address and a port
 *   the system picks, read in the client's context; the client owns it
 */
IcecamStunClientSocket *
icecam_stun_client_open_socket (IcecamStunClient *self, const gchar *role, GError **error)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) bind_address = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  IcecamStunClientSocket *sock;

  g_return_val_if_fail (ICECAM_IS_STUN_CLIENT (self), NULL);
  g_return_val_if_fail (!self->closed, NULL);

  bind_address = g_inet_socket_address_new (self->local_ip, 0);
  socket = g_socket_new (g_inet_address_get_family (self->local_ip), G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL)
    return NULL;
  g_socket_set_blocking (socket, FALSE);
  if (!g_socket_bind (socket, bind_address, FALSE, error))
    return NULL;
  local = g_socket_get_local_address (socket, error);
  if (local == NULL)
    return NULL;

  sock = g_new0 (IcecamStunClientSocket, 1);
  sock->client = self;
  sock->role = role;
  sock->socket = g_steal_pointer (&socket);
  sock->local = G_INET_SOCKET_ADDRESS (g_steal_pointer (&local));
  sock->source = g_socket_create_source (sock->socket, G_IO_IN, NULL);
  g_source_set_callback (sock->source, G_SOURCE_FUNC (on_socket_readable), sock, NULL);
  g_source_set_static_name (sock->source, "icecam-stun-client");
  g_source_attach (sock->source, self->context);
  g_ptr_array_add (self->sockets, sock);
  return sock;
}

/**
 * icecam_stun_client_socket_get_local_address:
 * @sock: a socket of a client
 *
 * Returns: (transfer none): the address it is bound to
 */
GInetSocketAddress *
icecam_stun_client_socket_get_local_address (IcecamStunClientSocket *sock)
{
  g_return_val_if_fail (sock != NULL, NULL);

  return sock->local;
}

/**
 * icecam_stun_client_stop_matching:
 * @self: a client
 * @data: a value of #IcecamStunTransaction.data
 *
 * Stops every pending transaction whose data is @data, without calling back.
 */
void
icecam_stun_client_stop_matching (IcecamStunClient *self, gpointer data)
{
  g_return_if_fail (ICECAM_IS_STUN_CLIENT (self));

  for (guint i = 0; i < self->transactions->len; i++) {
    IcecamStunTransaction *t = g_ptr_array_index (self->transactions, i);

    if (t->pending && t->data == data)
      transaction_stop (t);
  }
}

/**
 * icecam_stun_client_close:
 * @self: a client
 *
 * Stops every transaction without calling back and closes every socket. Idempotent; also
 * done when the last reference goes.
 */
void
icecam_stun_client_close (IcecamStunClient *self)
{
  g_return_if_fail (ICECAM_IS_STUN_CLIENT (self));

  self->closed = TRUE;
  g_ptr_array_set_size (self->transactions, 0);
  g_ptr_array_set_size (self->sockets, 0);
}

/**
 * icecam_stun_client_new:
 * @local_ip: the local address every socket binds to
 * @timeout_ms: each transaction's time budget, retransmissions included
 * @log_id: prefix of its log lines
 *
 * Returns: (transfer full): a client running in the caller's thread-default #GMainContext
 */
IcecamStunClient *
icecam_stun_client_new (GInetAddress *local_ip, guint timeout_ms, const gchar *log_id)
{
  IcecamStunClient *self;

  g_return_val_if_fail (G_IS_INET_ADDRESS (local_ip), NULL);

  self = g_object_new (ICECAM_TYPE_STUN_CLIENT, NULL);
  self->local_ip = g_object_ref (local_ip);
  self->timeout_ms = timeout_ms;
  self->log_id = g_strdup (log_id);
  return self;
}

static void
icecam_stun_client_dispose (GObject *object)
{
  icecam_stun_client_close (ICECAM_STUN_CLIENT (object));

  G_OBJECT_CLASS (icecam_stun_client_parent_class)->dispose (object);
}

static void
icecam_stun_client_finalize (GObject *object)
{
  IcecamStunClient *self = ICECAM_STUN_CLIENT (object);

  g_ptr_array_unref (self->transactions);
  g_ptr_array_unref (self->sockets);
  g_clear_object (&self->local_ip);
  g_main_context_unref (self->context);
  g_free (self->log_id);

  G_OBJECT_CLASS (icecam_stun_client_parent_class)->finalize (object);
}

static void
icecam_stun_client_class_init (IcecamStunClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_stun_client_dispose;
  object_class->finalize = icecam_stun_client_finalize;
}

static void
icecam_stun_client_init (IcecamStunClient *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->sockets = g_ptr_array_new_with_free_func ((GDestroyNotify) socket_free);
  self->transactions = g_ptr_array_new_with_free_func ((GDestroyNotify) transaction_free);
}
