/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Birthday punching (docs/design.md). The symmetric side opens up to 256 sockets, each of
 * which keeps sending tokened probes to the cone side's server-reflexive address: every socket
 * gets its own mapping on the symmetric NAT, at a port the NAT picks at random. The cone side
 * sends up to 1000 probes from the one socket whose mapping the peer targets to random ports
 * of the symmetric side's public IP: each opens its port-restricted NAT to that IP:port. When
 * one of them is a port where the symmetric NAT holds a mapping towards the cone side (the
 * birthday bound: 256 of ~64,500 ports and 1000 tries give ~98 %), the next probe of that
 * socket gets through, is answered (and probed back, like ICE's triggered check), and both
 * sides see an answer carrying the token: the path works both ways. Probes go only to the
 * address learned from signalling and stop at the first success or when the time is over.
 *
 * Two sequential (counting) NATs need no birthday: the sequential role probes the other NAT's
 * next ports in order from one socket (sequential_tick()).
 *
 * The TCP role (icecam-punch-tcp.c) opens one TCP connection through two NATs instead.
 *
 * Runs in the GMainContext given to icecam_punch_new(); not thread-safe. */

#include "icecam-punch-private.h"

#include <string.h>

#include "icecam-framed-tcp.h"
#include "icecam-random.h"

/* The symmetric side sends a round (one probe per socket) this often; the cone side sprays
 * SPRAY_PER_TICK probes per tick until it has sent max_probes. */
#define SYMMETRIC_ROUND_MS 100
#define SPRAY_TICK_MS 50
#define SPRAY_PER_TICK 100
/* The sequential role opens up to SEQUENTIAL_PER_TICK new destinations (new mappings on its
 * NAT) per tick, back to back so that other flows through a busy NAT fall between as few of
 * them as possible, and sends again to all it opened every SEQUENTIAL_RESEND_TICKS (a lost
 * probe is not the end). */
#define SEQUENTIAL_TICK_MS 20
#define SEQUENTIAL_PER_TICK 100
#define SEQUENTIAL_RESEND_TICKS 25
/* After success, the losing sockets stay this long to answer probes still on their way. */
#define LINGER_MS 1000
#define RECEIVE_BUFFER_SIZE 65536





void
icecam_punch_config_init (IcecamPunchConfig *config, IcecamPunchRole role)
{
  memset (config, 0, sizeof *config);
  config->role = role;
  config->n_sockets = ICECAM_PUNCH_MAX_SOCKETS;
  config->max_probes = ICECAM_PUNCH_MAX_PROBES;
  config->timeout_ms = ICECAM_PUNCH_MAX_TIMEOUT_MS;
  config->port_min = 1024;
  config->port_max = 65535;
}

gsize
icecam_punch_build_packet (IcecamPunchPacket kind, const guint8 token[ICECAM_PUNCH_TOKEN_LENGTH],
                           guint8 out[ICECAM_PUNCH_PACKET_LENGTH])
{
  memset (out, 0, ICECAM_PUNCH_PACKET_LENGTH);
  memcpy (out, "icpb", 4);
  out[4] = (guint8) kind;
  memcpy (out + 8, token, ICECAM_PUNCH_TOKEN_LENGTH);
  return ICECAM_PUNCH_PACKET_LENGTH;
}

/**
 * icecam_punch_token_from_hex:
 * @hex: the token as the `punch` message carries it (32 hex digits)
 *
 * Returns: %FALSE if @hex is not exactly that
 */
gboolean
icecam_punch_token_from_hex (const gchar *hex, guint8 token[ICECAM_PUNCH_TOKEN_LENGTH])
{
  if (hex == NULL || strlen (hex) != 2 * ICECAM_PUNCH_TOKEN_LENGTH)
    return FALSE;
  for (guint i = 0; i < ICECAM_PUNCH_TOKEN_LENGTH; i++) {
    gint high = g_ascii_xdigit_value (hex[2 * i]), low = g_ascii_xdigit_value (hex[2 * i + 1]);

    if (high < 0 || low < 0)
      return FALSE;
    token[i] = (guint8) (high << 4 | low);
  }
  return TRUE;
}

IcecamPunchPacket
icecam_punch_parse_packet (const guint8 *data, gsize length,
                           const guint8 token[ICECAM_PUNCH_TOKEN_LENGTH])
{
  guint8 diff = 0;

  if (length != ICECAM_PUNCH_PACKET_LENGTH || memcmp (data, "icpb", 4) != 0 ||
      data[5] != 0 || data[6] != 0 || data[7] != 0)
    return ICECAM_PUNCH_PACKET_NONE;
  for (guint i = 0; i < ICECAM_PUNCH_TOKEN_LENGTH; i++)
    diff |= data[8 + i] ^ token[i];
  if (diff != 0)
    return ICECAM_PUNCH_PACKET_NONE;
  if (data[4] == ICECAM_PUNCH_PACKET_PROBE)
    return ICECAM_PUNCH_PACKET_PROBE;
  if (data[4] == ICECAM_PUNCH_PACKET_ANSWER)
    return ICECAM_PUNCH_PACKET_ANSWER;
  return ICECAM_PUNCH_PACKET_NONE;
}

static void
send_packet (IcecamPunch *self, GSocket *sock, IcecamPunchPacket kind, GSocketAddress *to)
{
  guint8 packet[ICECAM_PUNCH_PACKET_LENGTH];
  gsize length = icecam_punch_build_packet (kind, self->config.token, packet);

  /* A full send buffer or an unreachable port loses one probe: the rounds go on. */
  if (g_socket_send_to (sock, to, (const gchar *) packet, length, NULL, NULL) > 0)
    self->n_sent++;
}

static guint16
random_port (IcecamPunch *self)
{
  guint8 bytes[4];
  guint32 span = (guint32) self->config.port_max - self->config.port_min + 1;

  icecam_random_bytes (bytes, sizeof bytes);
  return (guint16) (self->config.port_min +
                    ((guint32) bytes[0] << 24 | (guint32) bytes[1] << 16 |
                     (guint32) bytes[2] << 8 | bytes[3]) % span);
}

static void
stop_sending (IcecamPunch *self)
{
  if (self->tick != NULL) {
    g_source_destroy (self->tick);
    g_clear_pointer (&self->tick, g_source_unref);
  }
  if (self->deadline != NULL) {
    g_source_destroy (self->deadline);
    g_clear_pointer (&self->deadline, g_source_unref);
  }
}

static gboolean
on_linger_over (gpointer user_data)
{
  IcecamPunch *self = user_data;

  if (self->config.role == ICECAM_PUNCH_ROLE_TCP) {
    icecam_punch_tcp_close_others (self);
    g_clear_pointer (&self->linger, g_source_unref);
    return G_SOURCE_REMOVE;
  }
  /* Keep only the socket that worked (it stays open for the caller and answers probes). */
  for (guint i = 0; i < self->sockets->len; i++) {
    if (i == self->winner)
      continue;
    g_source_destroy (self->sources->pdata[i]);
    g_socket_close (self->sockets->pdata[i], NULL);
  }
  g_clear_pointer (&self->linger, g_source_unref);
  return G_SOURCE_REMOVE;
}

void
icecam_punch_set_alive (IcecamPunch *self, gboolean alive)
{
  if (g_atomic_int_get (&self->alive) == alive)
    return;
  g_atomic_int_set (&self->alive, alive);
  g_debug ("punch: the punched path is %s", alive ? "alive again" : "silent");
  if (self->alive_func != NULL)
    self->alive_func (self, alive, self->path_data);
}

static gboolean
on_keepalive (gpointer user_data)
{
  IcecamPunch *self = user_data;
  g_autoptr (GInetSocketAddress) remote = NULL;

  if (self->config.role == ICECAM_PUNCH_ROLE_TCP) {
    if (self->current != NULL)
      icecam_punch_tcp_send_packet (self, self->current, ICECAM_PUNCH_PACKET_PROBE);
  } else {
    g_mutex_lock (&self->lock);
    remote = g_object_ref (self->remote);
    g_mutex_unlock (&self->lock);
    send_packet (self, self->sockets->pdata[self->winner], ICECAM_PUNCH_PACKET_PROBE,
                 G_SOCKET_ADDRESS (remote));
  }
  if (g_get_monotonic_time () - self->last_heard_us > ICECAM_PUNCH_SILENCE_MS * 1000)
    icecam_punch_set_alive (self, FALSE);
  return G_SOURCE_CONTINUE;
}

void
icecam_punch_finish (IcecamPunch *self, gboolean success)
{
  if (self->finished)
    return;
  self->finished = TRUE;
  self->success = success;
  self->done_us = g_get_monotonic_time ();
  stop_sending (self);
  if (self->config.role == ICECAM_PUNCH_ROLE_TCP)
    icecam_punch_tcp_finish (self, success);
  if (success) {
    self->linger = g_timeout_source_new (LINGER_MS);
    g_source_set_callback (self->linger, on_linger_over, self, NULL);
    g_source_attach (self->linger, self->context);
    self->last_heard_us = self->done_us;
    g_atomic_int_set (&self->alive, TRUE);
    self->keepalive = g_timeout_source_new (ICECAM_PUNCH_KEEPALIVE_MS);
    g_source_set_callback (self->keepalive, on_keepalive, self, NULL);
    g_source_attach (self->keepalive, self->context);
  } else {
    for (guint i = 0; i < self->sources->len; i++)
      g_source_destroy (self->sources->pdata[i]);
  }
  g_debug ("punch (%s): %s after %" G_GINT64_FORMAT " ms, %u packets sent",
           self->config.role == ICECAM_PUNCH_ROLE_CONE ? "cone"
           : self->config.role == ICECAM_PUNCH_ROLE_SEQUENTIAL ? "sequential"
           : self->config.role == ICECAM_PUNCH_ROLE_TCP ? "tcp" : "symmetric",
           success ? "path works" : "no path", icecam_punch_get_elapsed_ms (self),
           self->n_sent);
  if (self->done != NULL)
    self->done (self, success, self->user_data);
}

/* The k-th port (k from 1) the sequential role probes, or 0 when it is out of range. */
static guint16
sequential_port (IcecamPunch *self, guint k)
{
  gint64 base = g_inet_socket_address_get_port (self->config.peer);
  gint64 index = (gint64) self->config.stride * k - self->config.stride + 1;
  gint64 port = base + (gint64) self->config.port_step * index;

  return port >= 1 && port <= 65535 ? (guint16) port : 0;
}

/* Both NATs give each new destination the next port: if this side's k-th new destination is
 * the peer's k'-th port and the peer's k'-th new destination is this side's k-th port, the
 * two mappings face each other and the later probe gets through. One side steps by 2, the
 * other by 1, so that such a pair exists whatever other flows each NAT made between the
 * mapping signalled and the first probe (docs/design.md, "Sequential punching"). */
static void
sequential_tick (IcecamPunch *self)
{
  self->n_ticks++;
  if (self->n_ticks % SEQUENTIAL_RESEND_TICKS == 0) {
    for (guint i = 0; i < self->targets->len; i++)
      send_packet (self, self->sockets->pdata[0], ICECAM_PUNCH_PACKET_PROBE,
                   self->targets->pdata[i]);
  }
  for (guint n = 0; n < SEQUENTIAL_PER_TICK && self->n_sprayed < self->config.max_probes; n++) {
    guint16 port = sequential_port (self, ++self->n_sprayed);
    GSocketAddress *to;

    if (port == 0)
      continue;
    to = g_inet_socket_address_new (self->peer_ip, port);
    g_ptr_array_add (self->targets, to);
    send_packet (self, self->sockets->pdata[0], ICECAM_PUNCH_PACKET_PROBE, to);
  }
}

static gboolean
on_tick (gpointer user_data)
{
  IcecamPunch *self = user_data;

  if (self->config.role == ICECAM_PUNCH_ROLE_SYMMETRIC) {
    for (guint i = 0; i < self->sockets->len; i++)
      send_packet (self, self->sockets->pdata[i], ICECAM_PUNCH_PACKET_PROBE,
                   G_SOCKET_ADDRESS (self->config.peer));
    return G_SOURCE_CONTINUE;
  }
  if (self->config.role == ICECAM_PUNCH_ROLE_SEQUENTIAL) {
    sequential_tick (self);
    return G_SOURCE_CONTINUE;
  }
  for (guint i = 0; i < SPRAY_PER_TICK && self->n_sprayed < self->config.max_probes; i++) {
    g_autoptr (GSocketAddress) to = g_inet_socket_address_new (self->peer_ip,
                                                               random_port (self));
    send_packet (self, self->sockets->pdata[0], ICECAM_PUNCH_PACKET_PROBE, to);
    self->n_sprayed++;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_deadline (gpointer user_data)
{
  IcecamPunch *self = user_data;

  g_clear_pointer (&self->deadline, g_source_unref);
  icecam_punch_finish (self, FALSE);
  return G_SOURCE_REMOVE;
}

static gboolean
same_address (GInetSocketAddress *a, GInetSocketAddress *b)
{
  return g_inet_socket_address_get_port (a) == g_inet_socket_address_get_port (b) &&
         g_inet_address_equal (g_inet_socket_address_get_address (a),
                               g_inet_socket_address_get_address (b));
}

static void
handle_packet (IcecamPunch *self, guint index, const guint8 *data, gsize length,
               GSocketAddress *from)
{
  GInetSocketAddress *inet;
  IcecamPunchPacket kind;

  /* Only the address learned from signalling is ever answered. */
  if (!G_IS_INET_SOCKET_ADDRESS (from))
    return;
  inet = G_INET_SOCKET_ADDRESS (from);
  if (!g_inet_address_equal (g_inet_socket_address_get_address (inet), self->peer_ip))
    return;
  kind = icecam_punch_parse_packet (data, length, self->config.token);
  if (self->finished && self->success) {
    /* Media is handed on (SRTP authenticates it) but neither keeps the path alive nor moves
     * it: only the token's probes and answers do, so that datagrams forged with the peer's
     * address can neither hold up a dead path (no fallback) nor redirect the media. */
    if (kind == ICECAM_PUNCH_PACKET_NONE) {
      if (self->data_func != NULL)
        self->data_func (data, length, self->path_data);
      return;
    }
    self->last_heard_us = g_get_monotonic_time ();
    /* The cone side answers wherever the symmetric side now sends from (one of its sockets
     * may have won on each side); the symmetric side keeps the cone side's one mapping. Two
     * sequential sides may each have won on another pair of mappings: both follow. */
    if (self->config.role != ICECAM_PUNCH_ROLE_SYMMETRIC && kind != ICECAM_PUNCH_PACKET_ANSWER &&
        !same_address (inet, self->remote)) {
      g_mutex_lock (&self->lock);
      g_set_object (&self->remote, inet);
      g_mutex_unlock (&self->lock);
    }
    icecam_punch_set_alive (self, TRUE);
  }
  if (kind == ICECAM_PUNCH_PACKET_PROBE) {
    send_packet (self, self->sockets->pdata[index], ICECAM_PUNCH_PACKET_ANSWER, from);
    if (!self->finished)
      send_packet (self, self->sockets->pdata[index], ICECAM_PUNCH_PACKET_PROBE, from);
  } else if (kind == ICECAM_PUNCH_PACKET_ANSWER && !self->finished) {
    self->winner = index;
    self->remote = g_object_ref (inet);
    icecam_punch_finish (self, TRUE);
  }
}

typedef struct {
  IcecamPunch *punch;
  guint index;
} SocketWatch;

/**
 * icecam_punch_set_path_funcs:
 *
 * Where the punched path's datagrams and its liveness go (in the punch's context).
 */
void
icecam_punch_set_path_funcs (IcecamPunch *self, IcecamPunchDataFunc data,
                             IcecamPunchAliveFunc alive, gpointer user_data)
{
  self->data_func = data;
  self->alive_func = alive;
  self->path_data = user_data;
}

/* Whether the path is a TCP connection (framed datagrams) rather than UDP. */
gboolean
icecam_punch_is_tcp (IcecamPunch *self)
{
  return self->config.role == ICECAM_PUNCH_ROLE_TCP;
}

/* Whether the punch succeeded and the peer was heard lately; from any thread. */
gboolean
icecam_punch_is_alive (IcecamPunch *self)
{
  return g_atomic_int_get (&self->alive);
}

/**
 * icecam_punch_send:
 *
 * Sends one datagram on the punched path, without blocking, from any thread.
 *
 * Returns: whether it was sent
 */
gboolean
icecam_punch_send (IcecamPunch *self, const GOutputVector *vectors, guint n_vectors)
{
  g_autoptr (GInetSocketAddress) remote = NULL;

  if (!g_atomic_int_get (&self->alive))
    return FALSE;
  if (self->config.role == ICECAM_PUNCH_ROLE_TCP) {
    gboolean sent;

    g_mutex_lock (&self->lock);
    sent = self->current != NULL && icecam_framed_tcp_send (self->current, vectors, n_vectors);
    g_mutex_unlock (&self->lock);
    return sent;
  }
  g_mutex_lock (&self->lock);
  remote = g_object_ref (self->remote);
  g_mutex_unlock (&self->lock);
  return g_socket_send_message (self->sockets->pdata[self->winner], G_SOCKET_ADDRESS (remote),
                                (GOutputVector *) vectors, n_vectors, NULL, 0, 0, NULL,
                                NULL) >= 0;
}

/* Stops keepalives and receiving (the path goes silent for good); the sockets stay. */
void
icecam_punch_stop (IcecamPunch *self)
{
  g_atomic_int_set (&self->alive, FALSE);
  if (self->keepalive != NULL) {
    g_source_destroy (self->keepalive);
    g_clear_pointer (&self->keepalive, g_source_unref);
  }
  /* Also the linger (it closes the losing sockets), so that nothing of the punch runs in its
   * context once the session is closed: the free may come later, on another thread. */
  if (self->linger != NULL) {
    g_source_destroy (self->linger);
    g_clear_pointer (&self->linger, g_source_unref);
  }
  for (guint i = 0; i < self->sources->len; i++)
    g_source_destroy (self->sources->pdata[i]);
  if (self->config.role == ICECAM_PUNCH_ROLE_TCP) {
    if (!self->finished) {
      self->finished = TRUE;
      stop_sending (self);
      icecam_punch_tcp_finish (self, FALSE);
    }
    icecam_punch_tcp_set_current (self, NULL);
    for (guint i = 0; i < self->conns->len; i++)
      icecam_framed_tcp_free (self->conns->pdata[i]);
    g_ptr_array_set_size (self->conns, 0);
  }
  self->data_func = NULL;
  self->alive_func = NULL;
}

static gboolean
on_socket_readable (GSocket *sock, GIOCondition condition, gpointer user_data)
{
  SocketWatch *watch = user_data;
  IcecamPunch *self = watch->punch;
  guint index = watch->index;

  for (guint n = 0; n < 64; n++) {
    g_autoptr (GSocketAddress) from = NULL;
    gssize got = g_socket_receive_from (sock, &from, (gchar *) self->buffer, RECEIVE_BUFFER_SIZE,
                                        NULL, NULL);

    if (got < 0)
      break;
    handle_packet (self, index, self->buffer, (gsize) got, from);
  }
  return G_SOURCE_CONTINUE;
}

static GSocket *
open_socket (GSocketFamily family, GInetAddress *bind_ip, GError **error)
{
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GInetAddress) any = bind_ip != NULL ? g_object_ref (bind_ip)
                                                 : g_inet_address_new_any (family);
  g_autoptr (GSocketAddress) local = g_inet_socket_address_new (any, 0);

  sock = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (sock == NULL || !g_socket_bind (sock, local, FALSE, error))
    return NULL;
  g_socket_set_blocking (sock, FALSE);
  return g_steal_pointer (&sock);
}

/**
 * icecam_punch_new:
 * @config: the role, token, peer address and bounds (checked here)
 * @cone_socket: (nullable): cone and sequential roles: the bound UDP socket whose mapping was
 *   signalled (NULL opens one, for tests); ignored by the symmetric role
 * @context: (nullable): where sending, receiving and @done run (NULL: the global default)
 *
 * Returns: a punch to start, or %NULL with @error set (bad bounds, no sockets)
 */
IcecamPunch *
icecam_punch_new (const IcecamPunchConfig *config, GSocket *cone_socket, GMainContext *context,
                  IcecamPunchDoneFunc done, gpointer user_data, GError **error)
{
  g_autoptr (GPtrArray) sockets = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GInetSocketAddress) tcp_local = NULL;
  GSocketFamily family;
  IcecamPunch *self;
  guint n;

  if (config->peer == NULL ||
      (config->role != ICECAM_PUNCH_ROLE_CONE && config->role != ICECAM_PUNCH_ROLE_SYMMETRIC &&
       config->role != ICECAM_PUNCH_ROLE_SEQUENTIAL && config->role != ICECAM_PUNCH_ROLE_TCP) ||
      (config->role == ICECAM_PUNCH_ROLE_TCP && cone_socket == NULL)) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "punch: no peer address or no role");
    return NULL;
  }
  if (config->timeout_ms == 0 || config->timeout_ms > ICECAM_PUNCH_MAX_TIMEOUT_MS ||
      (config->role == ICECAM_PUNCH_ROLE_SYMMETRIC &&
       (config->n_sockets == 0 || config->n_sockets > ICECAM_PUNCH_MAX_SOCKETS)) ||
      (config->role == ICECAM_PUNCH_ROLE_CONE &&
       (config->max_probes == 0 || config->max_probes > ICECAM_PUNCH_MAX_PROBES ||
        config->port_min == 0 || config->port_min > config->port_max)) ||
      (config->role == ICECAM_PUNCH_ROLE_SEQUENTIAL &&
       (config->max_probes == 0 || config->max_probes > ICECAM_PUNCH_MAX_PROBES ||
        config->port_step == 0 || ABS (config->port_step) > ICECAM_PUNCH_MAX_PORT_STEP ||
        (config->stride != 1 && config->stride != 2)))) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                         "punch: bounds out of range (at most 256 sockets, 1000 probes, 10 s, "
                         "a port step of 1 to 32, a stride of 1 or 2)");
    return NULL;
  }
  family = g_inet_address_get_family (g_inet_socket_address_get_address (config->peer));
  n = config->role == ICECAM_PUNCH_ROLE_SYMMETRIC ? config->n_sockets : 1;
  for (guint i = 0; i < n; i++) {
    GSocket *sock;

    if (config->role == ICECAM_PUNCH_ROLE_TCP) {
      GSocketAddress *local = g_socket_get_local_address (cone_socket, error);

      if (local == NULL) {
        g_prefix_error (error, "punch: the TCP socket: ");
        return NULL;
      }
      tcp_local = G_INET_SOCKET_ADDRESS (local);
      sock = g_object_ref (cone_socket);
    } else if (config->role != ICECAM_PUNCH_ROLE_SYMMETRIC && cone_socket != NULL) {
      sock = g_object_ref (cone_socket);
      g_socket_set_blocking (sock, FALSE);
    } else if ((sock = open_socket (family, config->bind_ip, error)) == NULL) {
      g_prefix_error (error, "punch: socket %u of %u: ", i + 1, n);
      return NULL;
    }
    g_ptr_array_add (sockets, sock);
  }

  self = g_new0 (IcecamPunch, 1);
  self->config = *config;
  self->config.peer = g_object_ref (config->peer);
  if (config->bind_ip != NULL)
    self->config.bind_ip = g_object_ref (config->bind_ip);
  self->peer_ip = g_object_ref (g_inet_socket_address_get_address (config->peer));
  self->context = context != NULL ? g_main_context_ref (context) : g_main_context_ref_thread_default ();
  self->done = done;
  self->user_data = user_data;
  self->sockets = g_steal_pointer (&sockets);
  self->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) g_source_unref);
  self->targets = g_ptr_array_new_with_free_func (g_object_unref);
  g_mutex_init (&self->lock);
  self->buffer = g_malloc (RECEIVE_BUFFER_SIZE);
  self->tcp_local = g_steal_pointer (&tcp_local);
  self->conns = g_ptr_array_new ();
  return self;
}

/**
 * icecam_punch_start:
 *
 * Starts receiving, sending and the clock. Call once.
 */
void
icecam_punch_start (IcecamPunch *self)
{
  guint period;

  if (self->start_us != 0)
    return;
  self->start_us = g_get_monotonic_time ();
  self->deadline = g_timeout_source_new (self->config.timeout_ms);
  g_source_set_callback (self->deadline, on_deadline, self, NULL);
  g_source_attach (self->deadline, self->context);
  if (self->config.role == ICECAM_PUNCH_ROLE_TCP) {
    g_autoptr (GError) error = NULL;

    if (!icecam_punch_tcp_start (self, &error)) {
      g_debug ("punch (tcp): cannot listen: %s", error->message);
      icecam_punch_finish (self, FALSE);
    }
    return;
  }
  for (guint i = 0; i < self->sockets->len; i++) {
    GSource *source = g_socket_create_source (self->sockets->pdata[i], G_IO_IN, NULL);
    SocketWatch *watch = g_new (SocketWatch, 1);

    watch->punch = self;
    watch->index = i;
    g_source_set_callback (source, G_SOURCE_FUNC (on_socket_readable), watch, g_free);
    g_source_attach (source, self->context);
    g_ptr_array_add (self->sources, source);
  }
  period = self->config.role == ICECAM_PUNCH_ROLE_SYMMETRIC ? SYMMETRIC_ROUND_MS
         : self->config.role == ICECAM_PUNCH_ROLE_SEQUENTIAL ? SEQUENTIAL_TICK_MS
         : SPRAY_TICK_MS;
  on_tick (self);
  self->tick = g_timeout_source_new (period);
  g_source_set_callback (self->tick, on_tick, self, NULL);
  g_source_attach (self->tick, self->context);
}

/* The socket of the path that worked (owned by the punch), or NULL before success. */
GSocket *
icecam_punch_get_socket (IcecamPunch *self)
{
  return self->success ? self->sockets->pdata[self->winner] : NULL;
}

/* Where the peer's answer came from on that socket, or NULL before success. */
GInetSocketAddress *
icecam_punch_get_remote (IcecamPunch *self)
{
  return self->remote;
}

guint
icecam_punch_get_probes_sent (IcecamPunch *self)
{
  return self->n_sent;
}

/* Milliseconds from start to the end (success or timeout), or to now while punching. */
gint64
icecam_punch_get_elapsed_ms (IcecamPunch *self)
{
  if (self->start_us == 0)
    return 0;
  return ((self->finished ? self->done_us : g_get_monotonic_time ()) - self->start_us) / 1000;
}

/* The local address of socket @index (0 for the cone role), a new reference, or NULL. */
GInetSocketAddress *
icecam_punch_get_local_address (IcecamPunch *self, guint index)
{
  GSocketAddress *local;

  if (self->tcp_local != NULL)
    return index == 0 ? g_object_ref (self->tcp_local) : NULL;
  if (index >= self->sockets->len)
    return NULL;
  local = g_socket_get_local_address (self->sockets->pdata[index], NULL);
  return local != NULL ? G_INET_SOCKET_ADDRESS (local) : NULL;
}

void
icecam_punch_free (IcecamPunch *self)
{
  if (self == NULL)
    return;
  stop_sending (self);
  icecam_punch_stop (self);
  if (self->linger != NULL) {
    g_source_destroy (self->linger);
    g_clear_pointer (&self->linger, g_source_unref);
  }
  for (guint i = 0; i < self->sources->len; i++)
    g_source_destroy (self->sources->pdata[i]);
  g_ptr_array_unref (self->sources);
  g_ptr_array_unref (self->sockets);
  g_ptr_array_unref (self->targets);
  g_ptr_array_unref (self->conns);
  g_clear_object (&self->listener);
  g_clear_object (&self->tcp_local);
  g_clear_object (&self->remote);
  g_clear_object (&self->peer_ip);
  g_clear_object (&self->config.peer);
  g_clear_object (&self->config.bind_ip);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  g_free (self->buffer);
  g_free (self);
}
