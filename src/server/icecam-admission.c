/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's admission policy: connection limits, deadlines, message rate, silence. */

#include "icecam-admission.h"

#include <gio/gio.h>
#include <string.h>

/**
 * SECTION:icecam-admission
 * @title: IcecamAdmission
 * @short_description: which signalling connections the rendezvous keeps, without I/O
 *
 * The admission policy of the rendezvous, as decisions on values: the caller reports each
 * connection (an id it allocates and the client's address as text) when it opens, each message
 * it receives (its size) and each sign of life (a pong), with the current monotonic time; the
 * admission answers with an #IcecamAdmissionVerdict. The rules:
 *
 * - the process holds at most a number of TCP connections, whatever they are doing
 *   (icecam_admission_set_max_connections(), checked by icecam_admission_accept()), below its
 *   descriptor limit, so that a flood is refused instead of making accept() fail;
 * - a connection must earn its keep: it has a few seconds from accept() to be upgraded to a
 *   WebSocket (icecam_admission_open()), and a few more to say a `hello` the server welcomes
 *   (icecam_admission_welcomed()); icecam_admission_take_overdue() names those that did not
 *   (icecam_admission_set_deadlines());
 * - one address may hold at most a number of WebSocket connections open
 *   (icecam_admission_set_max_connections_per_address()); IPv6 addresses count by their
 *   prefix (icecam_admission_set_ipv6_prefix_length()), since any IPv6 client can pick from a
 *   whole /64;
 * - each connection has a token bucket of messages: a sustained rate and a burst, where every
 *   further %ICECAM_ADMISSION_BYTES_PER_MESSAGE bytes of a message count as one more message
 *   (icecam_admission_set_message_rate());
 * - a connection that sent nothing and answered no ping for the silence limit is gone
 *   (icecam_admission_set_keepalive(); the caller pings every keepalive interval and asks
 *   icecam_admission_take_silent() as often).
 *
 * It owns no sockets and no sources, so it is tested with a fake clock. Bad input (an unknown
 * or repeated id, an empty address, time that goes backwards) changes nothing.
 *
 * Threading: not thread-safe; use it from one thread. It emits no signals.
 */

typedef enum {
  CONNECTION_STATE_HANDSHAKE, /* accepted: HTTP request and WebSocket upgrade due */
  CONNECTION_STATE_HELLO,     /* upgraded: a welcomed hello due */
  CONNECTION_STATE_ADMITTED,
  CONNECTION_STATE_CLOSING,   /* refused: final until the caller closes it */
} ConnectionState;

typedef struct {
  guint64 id;
  ConnectionState state;
  gchar *address;           /* NULL until upgraded */
  gchar *key;               /* what the per-address limit counts it under; NULL with address */
  gint64 deadline_us;       /* of the state's deadline, while in pending */
  gdouble tokens;           /* the token bucket of the message rate */
  gint64 refilled_us;
  gint64 heard_us;          /* when it last sent a message or answered a ping */
} Connection;

struct _IcecamAdmission {
  GObject parent_instance;

  GHashTable *connections;   /* &Connection.id → Connection (owned) */
  GHashTable *per_address;   /* address key → open connections from it (GUINT) */
  GHashTable *pending;       /* &Connection.id → Connection (borrowed) with a deadline */

  guint max_connections;             /* 0: no limit */
  guint max_connections_per_address; /* 0: no limit */
  guint ipv6_prefix_length;
  guint handshake_timeout_s;         /* 0: none */
  guint hello_timeout_s;             /* 0: none */
  guint message_rate;                /* per second and connection; 0: no limit */
  guint message_burst;
  guint keepalive_interval_s;
  guint silence_limit_s;

  guint64 connections_refused;
  guint64 rate_limited;
  guint64 silent_closed;
  guint64 deadline_closed;
  guint64 capacity_refused;
};

G_DEFINE_FINAL_TYPE (IcecamAdmission, icecam_admission, G_TYPE_OBJECT)

/* ---- connections ---------------------------------------------------------------------- */

static void
connection_free (Connection *conn)
{
  g_free (conn->address);
  g_free (conn->key);
  g_free (conn);
}

static const gchar *
connection_state_to_string (ConnectionState state)
{
  switch (state) {
  case CONNECTION_STATE_HANDSHAKE:
    return "handshake";
  case CONNECTION_STATE_HELLO:
    return "hello";
  case CONNECTION_STATE_ADMITTED:
    return "admitted";
  case CONNECTION_STATE_CLOSING:
    return "closing";
  default:
    return "invalid";
  }
}

static void
connection_set_state (Connection *conn, ConnectionState state)
{
  /* Forward only; closing is final. */
  g_return_if_fail (state > conn->state);

  g_debug ("peer %" G_GUINT64_FORMAT ": %s → %s", conn->id,
           connection_state_to_string (conn->state), connection_state_to_string (state));
  conn->state = state;
}

static guint
count_address (IcecamAdmission *self, const gchar *address, gint delta)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, address)) + delta;

  if (count == 0)
    g_hash_table_remove (self->per_address, address);
  else
    g_hash_table_insert (self->per_address, g_strdup (address), GUINT_TO_POINTER (count));
  return count;
}

/* @conn's next deadline is @timeout_s from @now_us (saturating); none if 0. */
static void
set_deadline (IcecamAdmission *self, Connection *conn, guint timeout_s, gint64 now_us)
{
  gint64 timeout_us = (gint64) timeout_s * G_USEC_PER_SEC;

  if (timeout_s == 0) {
    g_hash_table_remove (self->pending, &conn->id);
    return;
  }
  conn->deadline_us = now_us > G_MAXINT64 - timeout_us ? G_MAXINT64 : now_us + timeout_us;
  g_hash_table_insert (self->pending, &conn->id, conn);
}

/* The connection is closing from now on; the counter of @verdict says why. */
static void
refuse (IcecamAdmission *self, Connection *conn, IcecamAdmissionVerdict verdict)
{
  connection_set_state (conn, CONNECTION_STATE_CLOSING);
  g_hash_table_remove (self->pending, &conn->id);
  switch (verdict) {
  case ICECAM_ADMISSION_TOO_MANY_CONNECTIONS:
    self->connections_refused++;
    break;
  case ICECAM_ADMISSION_OVER_RATE:
    self->rate_limited++;
    break;
  case ICECAM_ADMISSION_SILENT:
    self->silent_closed++;
    break;
  case ICECAM_ADMISSION_MISSED_DEADLINE:
    self->deadline_closed++;
    break;
  default:
    g_return_if_reached ();
  }
}

/* The token bucket: @cost tokens, refilled at message_rate per second up to message_burst.
 * Time that goes backwards refills nothing. */
static gboolean
take_tokens (IcecamAdmission *self, Connection *conn, gdouble cost, gint64 now_us)
{
  gdouble elapsed_us = MAX ((gdouble) now_us - (gdouble) conn->refilled_us, 0);

  if (self->message_rate == 0)
    return TRUE;
  conn->tokens = MIN ((gdouble) self->message_burst,
                      conn->tokens + elapsed_us * self->message_rate / 1e6);
  conn->refilled_us = MAX (conn->refilled_us, now_us);
  if (conn->tokens < cost)
    return FALSE;
  conn->tokens -= cost;
  return TRUE;
}

/* ---- public API ----------------------------------------------------------------------- */

/**
 * icecam_admission_new:
 *
 * Returns: (transfer full): an admission policy with the default limits and no connections
 */
IcecamAdmission *
icecam_admission_new (void)
{
  return g_object_new (ICECAM_TYPE_ADMISSION, NULL);
}

/**
 * icecam_admission_set_max_connections_per_address:
 * @self: an admission policy
 * @max: how many connections one address may hold open; 0 for no limit
 *
 * Applies to connections opened afterwards. Default:
 * %ICECAM_ADMISSION_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS.
 */
void
icecam_admission_set_max_connections_per_address (IcecamAdmission *self, guint max)
{
  g_return_if_fail (ICECAM_IS_ADMISSION (self));

  self->max_connections_per_address = max;
}

/**
 * icecam_admission_set_message_rate:
 * @self: an admission policy
 * @per_second: messages one connection may send per second, sustained; 0 for no limit
 * @burst: how many it may send at once (at least 1)
 *
 * Every connection's bucket refills at the new rate from its next message on; a new
 * connection starts with a full bucket. Defaults: %ICECAM_ADMISSION_DEFAULT_MESSAGE_RATE,
 * %ICECAM_ADMISSION_DEFAULT_MESSAGE_BURST.
 *
 * Returns: %TRUE, or %FALSE (nothing changed) if @burst is 0
 */
gboolean
icecam_admission_set_message_rate (IcecamAdmission *self, guint per_second, guint burst)
{
  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), FALSE);

  if (burst < 1)
    return FALSE;
  self->message_rate = per_second;
  self->message_burst = burst;
  return TRUE;
}

/**
 * icecam_admission_set_keepalive:
 * @self: an admission policy
 * @interval_s: seconds between the pings the caller sends on every connection (at least 1)
 * @silence_limit_s: a connection that neither sent a message nor answered a ping for this
 *   long is silent (more than @interval_s)
 *
 * Defaults: %ICECAM_ADMISSION_DEFAULT_KEEPALIVE_INTERVAL_S,
 * %ICECAM_ADMISSION_DEFAULT_SILENCE_LIMIT_S.
 *
 * Returns: %TRUE, or %FALSE (nothing changed) if the values break those rules
 */
gboolean
icecam_admission_set_keepalive (IcecamAdmission *self, guint interval_s, guint silence_limit_s)
{
  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), FALSE);

  if (interval_s < 1 || silence_limit_s <= interval_s)
    return FALSE;
  self->keepalive_interval_s = interval_s;
  self->silence_limit_s = silence_limit_s;
  return TRUE;
}

/**
 * icecam_admission_get_keepalive_interval:
 * @self: an admission policy
 *
 * Returns: seconds between pings, and between calls of icecam_admission_take_silent()
 */
guint
icecam_admission_get_keepalive_interval (IcecamAdmission *self)
{
  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), 0);

  return self->keepalive_interval_s;
}

/**
 * icecam_admission_get_silence_limit:
 * @self: an admission policy
 *
 * Returns: seconds of silence after which a connection is silent
 */
guint
icecam_admission_get_silence_limit (IcecamAdmission *self)
{
  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), 0);

  return self->silence_limit_s;
}

/**
 * icecam_admission_set_max_connections:
 * @self: an admission policy
 * @max: how many TCP connections the process may hold, whatever their state; 0 for no limit
 *
 * The global cap: icecam_admission_accept() refuses connections beyond it. Set it below the
 * process's descriptor limit (icecam_admission_max_connections_for_descriptors()). Default: 0.
 */
void
icecam_admission_set_max_connections (IcecamAdmission *self, guint max)
{
  g_return_if_fail (ICECAM_IS_ADMISSION (self));

  self->max_connections = max;
}

/**
 * icecam_admission_get_max_connections:
 * @self: an admission policy
 *
 * Returns: the global cap, 0 for none
 */
guint
icecam_admission_get_max_connections (IcecamAdmission *self)
{
  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), 0);

  return self->max_connections;
}

/**
 * icecam_admission_max_connections_for_descriptors:
 * @descriptor_limit: the process's descriptor limit (RLIMIT_NOFILE)
 *
 * Returns: a global cap that leaves %ICECAM_ADMISSION_DESCRIPTOR_RESERVE descriptors for
 *   everything else, or half of a limit too small for that; at least 1
 */
guint
icecam_admission_max_connections_for_descriptors (guint64 descriptor_limit)
{
  guint64 max;

  if (descriptor_limit > 2 * ICECAM_ADMISSION_DESCRIPTOR_RESERVE)
    max = descriptor_limit - ICECAM_ADMISSION_DESCRIPTOR_RESERVE;
  else
    max = descriptor_limit / 2;
  return (guint) CLAMP (max, 1, G_MAXUINT);
}

/**
 * icecam_admission_set_deadlines:
 * @self: an admission policy
 * @handshake_s: seconds from accept to the WebSocket upgrade; 0 for no deadline
 * @hello_s: seconds from the upgrade to a welcomed `hello`; 0 for no deadline
 *
 * Applies to connections that enter those states afterwards. Defaults:
 * %ICECAM_ADMISSION_DEFAULT_HANDSHAKE_TIMEOUT_S, %ICECAM_ADMISSION_DEFAULT_HELLO_TIMEOUT_S.
 */
void
icecam_admission_set_deadlines (IcecamAdmission *self, guint handshake_s, guint hello_s)
{
  g_return_if_fail (ICECAM_IS_ADMISSION (self));

  self->handshake_timeout_s = handshake_s;
  self->hello_timeout_s = hello_s;
}

/**
 * icecam_admission_get_deadline_check_interval_ms:
 * @self: an admission policy
 *
 * Returns: how often to call icecam_admission_take_overdue(): a quarter of the shorter
 *   deadline, between 100 ms and 1 s
 */
guint
icecam_admission_get_deadline_check_interval_ms (IcecamAdmission *self)
{
  guint shortest;

  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), 1000);

  if (self->handshake_timeout_s == 0 || self->hello_timeout_s == 0)
    shortest = MAX (self->handshake_timeout_s, self->hello_timeout_s);
  else
    shortest = MIN (self->handshake_timeout_s, self->hello_timeout_s);
  if (shortest == 0)
    return 1000;
  return CLAMP (shortest * 250u, 100, 1000);
}

/**
 * icecam_admission_set_ipv6_prefix_length:
 * @self: an admission policy
 * @length: how many leading bits of an IPv6 address the per-address limit counts by, 1 to 128
 *
 * Applies to connections upgraded afterwards. IPv4 addresses (and IPv4-mapped IPv6 ones)
 * always count exactly. Default: %ICECAM_ADMISSION_DEFAULT_IPV6_PREFIX_LENGTH.
 *
 * Returns: %TRUE, or %FALSE (nothing changed) if @length is out of range
 */
gboolean
icecam_admission_set_ipv6_prefix_length (IcecamAdmission *self, guint length)
{
  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), FALSE);

  if (length < 1 || length > 128)
    return FALSE;
  self->ipv6_prefix_length = length;
  return TRUE;
}

/**
 * icecam_admission_address_key:
 * @self: an admission policy
 * @address: a client's IP address as text, IPv6 possibly in brackets
 *
 * What the per-address limit counts @address under: an IPv4 address as it is, an IPv6 one as
 * its prefix ("2001:db8:1:2::/64"), an IPv4-mapped IPv6 one as the IPv4 address. Text that is
 * no IP address counts as itself.
 *
 * Returns: (transfer full): the key
 */
gchar *
icecam_admission_address_key (IcecamAdmission *self, const gchar *address)
{
  static const guint8 v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  g_autofree gchar *bare = NULL;
  g_autoptr (GInetAddress) parsed = NULL;
  g_autoptr (GInetAddress) masked = NULL;
  g_autofree gchar *text = NULL;
  guint8 bytes[16];
  gsize len;

  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), NULL);
  g_return_val_if_fail (address != NULL, NULL);

  len = strlen (address);
  if (len >= 2 && address[0] == '[' && address[len - 1] == ']')
    bare = g_strndup (address + 1, len - 2);
  else
    bare = g_strdup (address);
  parsed = g_inet_address_new_from_string (bare);
  if (parsed == NULL || g_inet_address_get_family (parsed) != G_SOCKET_FAMILY_IPV6)
    return g_strdup (address);
  memcpy (bytes, g_inet_address_to_bytes (parsed), sizeof bytes);
  if (memcmp (bytes, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
    masked = g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
    return g_inet_address_to_string (masked);
  }
  for (guint bit = self->ipv6_prefix_length; bit < 128; bit++)
    bytes[bit / 8] &= (guint8) ~(0x80u >> (bit % 8));
  masked = g_inet_address_new_from_bytes (bytes, G_SOCKET_FAMILY_IPV6);
  text = g_inet_address_to_string (masked);
  return g_strdup_printf ("%s/%u", text, self->ipv6_prefix_length);
}

/**
 * icecam_admission_accept:
 * @self: an admission policy
 * @id: the new TCP connection's id, unique among the open ones
 * @now_us: the current monotonic time (g_get_monotonic_time())
 *
 * A TCP connection was accepted. Unless the process holds the maximum of connections already,
 * it is kept and its handshake deadline runs: it must be upgraded (icecam_admission_open())
 * within the handshake timeout. It counts until icecam_admission_close().
 *
 * Returns: %ICECAM_ADMISSION_ALLOW, %ICECAM_ADMISSION_AT_CAPACITY (close it at once: it is not
 *   kept), or %ICECAM_ADMISSION_INVALID if @id is open already
 */
IcecamAdmissionVerdict
icecam_admission_accept (IcecamAdmission *self, guint64 id, gint64 now_us)
{
  Connection *conn;

  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), ICECAM_ADMISSION_INVALID);

  if (g_hash_table_contains (self->connections, &id))
    return ICECAM_ADMISSION_INVALID;
  if (self->max_connections != 0 &&
      g_hash_table_size (self->connections) >= self->max_connections) {
    self->capacity_refused++;
    return ICECAM_ADMISSION_AT_CAPACITY;
  }
  conn = g_new0 (Connection, 1);
  conn->id = id;
  conn->state = CONNECTION_STATE_HANDSHAKE;
  conn->tokens = self->message_burst;
  conn->refilled_us = now_us;
  conn->heard_us = now_us;
  g_hash_table_insert (self->connections, &conn->id, conn);
  set_deadline (self, conn, self->handshake_timeout_s, now_us);
  return ICECAM_ADMISSION_ALLOW;
}

/**
 * icecam_admission_open:
 * @self: an admission policy
 * @id: a connection accepted before (icecam_admission_accept()) and now upgraded to a
 *   WebSocket, or a new id: then it is accepted and upgraded at once
 * @address: the client's IP address as text (IPv6 may be in brackets); connections with the
 *   same address, or IPv6 ones in the same prefix, share a limit
 * @now_us: the current monotonic time (g_get_monotonic_time())
 * @refusal: (out) (optional) (transfer full) (nullable): what to tell the client when it is
 *   refused, else %NULL
 *
 * A connection is a WebSocket now; its hello deadline runs until icecam_admission_welcomed().
 * It counts for its address until icecam_admission_close(), even when it is refused, so that
 * a flood of connections is refused until the flood's own ones are closed.
 *
 * Returns: %ICECAM_ADMISSION_ALLOW, %ICECAM_ADMISSION_TOO_MANY_CONNECTIONS,
 *   %ICECAM_ADMISSION_AT_CAPACITY (a new @id at the global maximum: not kept), or
 *   %ICECAM_ADMISSION_INVALID if @id is upgraded already or @address is empty
 */
IcecamAdmissionVerdict
icecam_admission_open (IcecamAdmission *self, guint64 id, const gchar *address, gint64 now_us,
                       gchar **refusal)
{
  Connection *conn;
  guint count;

  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), ICECAM_ADMISSION_INVALID);

  if (refusal != NULL)
    *refusal = NULL;
  if (address == NULL || *address == '\0')
    return ICECAM_ADMISSION_INVALID;
  conn = g_hash_table_lookup (self->connections, &id);
  if (conn != NULL && conn->state != CONNECTION_STATE_HANDSHAKE)
    return ICECAM_ADMISSION_INVALID;
  if (conn == NULL) {
    IcecamAdmissionVerdict accepted = icecam_admission_accept (self, id, now_us);

    if (accepted != ICECAM_ADMISSION_ALLOW)
      return accepted;
    conn = g_hash_table_lookup (self->connections, &id);
  }

  connection_set_state (conn, CONNECTION_STATE_HELLO);
  conn->address = g_strdup (address);
  conn->key = icecam_admission_address_key (self, address);
  conn->tokens = self->message_burst;
  conn->refilled_us = now_us;
  conn->heard_us = now_us;
  set_deadline (self, conn, self->hello_timeout_s, now_us);
  count = count_address (self, conn->key, +1);
  if (self->max_connections_per_address == 0 || count <= self->max_connections_per_address)
    return ICECAM_ADMISSION_ALLOW;

  refuse (self, conn, ICECAM_ADMISSION_TOO_MANY_CONNECTIONS);
  if (refusal != NULL)
    *refusal = g_strdup_printf ("%s already has %u signalling connections open, the limit",
                                conn->key, self->max_connections_per_address);
  return ICECAM_ADMISSION_TOO_MANY_CONNECTIONS;
}

/**
 * icecam_admission_welcomed:
 * @self: an admission policy
 * @id: a connection whose `hello` the server welcomed
 *
 * Its hello deadline is met. Unknown ids, and connections not waiting for their hello, are
 * ignored.
 */
void
icecam_admission_welcomed (IcecamAdmission *self, guint64 id)
{
  Connection *conn;

  g_return_if_fail (ICECAM_IS_ADMISSION (self));

  conn = g_hash_table_lookup (self->connections, &id);
  if (conn == NULL || conn->state != CONNECTION_STATE_HELLO)
    return;
  connection_set_state (conn, CONNECTION_STATE_ADMITTED);
  g_hash_table_remove (self->pending, &id);
}

/**
 * icecam_admission_not_http:
 * @self: an admission policy
 * @id: a connection still waiting for its handshake
 *
 * The connection turned out to be no HTTP at all (STUN over TCP, which has a time bound of
 * its own): it has no handshake deadline any more, and still counts toward the maximum of
 * connections until icecam_admission_close(). Unknown ids, and connections past their
 * handshake, are ignored.
 */
void
icecam_admission_not_http (IcecamAdmission *self, guint64 id)
{
  Connection *conn;

  g_return_if_fail (ICECAM_IS_ADMISSION (self));

  conn = g_hash_table_lookup (self->connections, &id);
  if (conn == NULL || conn->state != CONNECTION_STATE_HANDSHAKE)
    return;
  g_hash_table_remove (self->pending, &id);
}

/**
 * icecam_admission_message:
 * @self: an admission policy
 * @id: the connection that sent a message
 * @size: the message's size in bytes
 * @now_us: the current monotonic time
 * @refusal: (out) (optional) (transfer full) (nullable): what to tell the client when it is
 *   refused, else %NULL
 *
 * A message arrived: the connection is not silent, and the message costs one token plus one
 * per further %ICECAM_ADMISSION_BYTES_PER_MESSAGE bytes.
 *
 * Returns: %ICECAM_ADMISSION_ALLOW, %ICECAM_ADMISSION_OVER_RATE (the connection is refused
 *   now), %ICECAM_ADMISSION_CLOSING (refused before: drop the message) or
 *   %ICECAM_ADMISSION_INVALID (unknown @id)
 */
IcecamAdmissionVerdict
icecam_admission_message (IcecamAdmission *self, guint64 id, gsize size, gint64 now_us,
                          gchar **refusal)
{
  Connection *conn;

  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), ICECAM_ADMISSION_INVALID);

  if (refusal != NULL)
    *refusal = NULL;
  conn = g_hash_table_lookup (self->connections, &id);
  if (conn == NULL)
    return ICECAM_ADMISSION_INVALID;
  if (conn->state == CONNECTION_STATE_CLOSING)
    return ICECAM_ADMISSION_CLOSING;
  conn->heard_us = MAX (conn->heard_us, now_us);
  if (take_tokens (self, conn, 1 + (gdouble) (size / ICECAM_ADMISSION_BYTES_PER_MESSAGE), now_us))
    return ICECAM_ADMISSION_ALLOW;

  refuse (self, conn, ICECAM_ADMISSION_OVER_RATE);
  if (refusal != NULL)
    *refusal = g_strdup_printf ("more than %u messages a second (burst %u): closing the "
                                "connection", self->message_rate, self->message_burst);
  return ICECAM_ADMISSION_OVER_RATE;
}

/**
 * icecam_admission_heard:
 * @self: an admission policy
 * @id: a connection that showed it is alive without a message (it answered a ping)
 * @now_us: the current monotonic time
 *
 * Unknown ids are ignored.
 */
void
icecam_admission_heard (IcecamAdmission *self, guint64 id, gint64 now_us)
{
  Connection *conn;

  g_return_if_fail (ICECAM_IS_ADMISSION (self));

  conn = g_hash_table_lookup (self->connections, &id);
  if (conn != NULL)
    conn->heard_us = MAX (conn->heard_us, now_us);
}

/**
 * icecam_admission_take_silent:
 * @self: an admission policy
 * @now_us: the current monotonic time
 *
 * Finds the admitted connections silent for longer than the silence limit and refuses them:
 * the caller closes each. Called every keepalive interval, a dead client goes within the limit
 * plus one interval.
 *
 * Returns: (transfer full) (element-type guint64): the ids of the connections that are
 *   silent, refused now; empty if none
 */
GArray *
icecam_admission_take_silent (IcecamAdmission *self, gint64 now_us)
{
  GArray *silent;
  gint64 oldest;
  GHashTableIter iter;
  Connection *conn;

  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), NULL);

  silent = g_array_new (FALSE, FALSE, sizeof (guint64));
  oldest = now_us - (gint64) self->silence_limit_s * G_USEC_PER_SEC;
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conn)) {
    if ((conn->state != CONNECTION_STATE_HELLO && conn->state != CONNECTION_STATE_ADMITTED) ||
        conn->heard_us >= oldest)
      continue;
    refuse (self, conn, ICECAM_ADMISSION_SILENT);
    g_array_append_val (silent, conn->id);
  }
  return silent;
}

/**
 * icecam_admission_take_overdue:
 * @self: an admission policy
 * @now_us: the current monotonic time
 *
 * Finds the connections whose handshake or hello deadline has passed and refuses them: the
 * caller closes each. Called every icecam_admission_get_deadline_check_interval_ms(), a
 * connection goes within its deadline plus that interval.
 *
 * Returns: (transfer full) (element-type guint64): the ids of the connections refused now;
 *   empty if none
 */
GArray *
icecam_admission_take_overdue (IcecamAdmission *self, gint64 now_us)
{
  GArray *overdue;
  GHashTableIter iter;
  Connection *conn;

  g_return_val_if_fail (ICECAM_IS_ADMISSION (self), NULL);

  overdue = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conn))
    if (conn->deadline_us <= now_us)
      g_array_append_val (overdue, conn->id);
  /* Refusing takes each out of pending: not while iterating it. */
  for (guint i = 0; i < overdue->len; i++) {
    guint64 id = g_array_index (overdue, guint64, i);

    conn = g_hash_table_lookup (self->connections, &id);
    g_debug ("peer %" G_GUINT64_FORMAT ": missed its %s deadline", id,
             connection_state_to_string (conn->state));
    refuse (self, conn, ICECAM_ADMISSION_MISSED_DEADLINE);
  }
  return overdue;
}

/**
 * icecam_admission_close:
 * @self: an admission policy
 * @id: a connection that is closed, refused or not
 *
 * Forgets the connection; its address may open another in its place. Unknown ids are ignored.
 */
void
icecam_admission_close (IcecamAdmission *self, guint64 id)
{
  Connection *conn;

  g_return_if_fail (ICECAM_IS_ADMISSION (self));

  conn = g_hash_table_lookup (self->connections, &id);
  if (conn == NULL)
    return;
  if (conn->key != NULL)
    count_address (self, conn->key, -1);
  g_hash_table_remove (self->pending, &id);
  g_hash_table_remove (self->connections, &id);
}

/**
 * icecam_admission_get_stats:
 * @self: an admission policy
 * @stats: (out caller-allocates): where to store the counters
 */
void
icecam_admission_get_stats (IcecamAdmission *self, IcecamAdmissionStats *stats)
{
  g_return_if_fail (ICECAM_IS_ADMISSION (self));
  g_return_if_fail (stats != NULL);

  stats->connections = g_hash_table_size (self->connections);
  stats->connections_refused = self->connections_refused;
  stats->rate_limited = self->rate_limited;
  stats->silent_closed = self->silent_closed;
  stats->deadline_closed = self->deadline_closed;
  stats->capacity_refused = self->capacity_refused;
}

/* ---- GObject -------------------------------------------------------------------------- */

static void
icecam_admission_finalize (GObject *object)
{
  IcecamAdmission *self = ICECAM_ADMISSION (object);

  g_hash_table_unref (self->pending);
  g_hash_table_unref (self->connections);
  g_hash_table_unref (self->per_address);

  G_OBJECT_CLASS (icecam_admission_parent_class)->finalize (object);
}

static void
icecam_admission_class_init (IcecamAdmissionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = icecam_admission_finalize;
}

static void
icecam_admission_init (IcecamAdmission *self)
{
  self->connections = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                             (GDestroyNotify) connection_free);
  self->per_address = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->pending = g_hash_table_new (g_int64_hash, g_int64_equal);
  self->ipv6_prefix_length = ICECAM_ADMISSION_DEFAULT_IPV6_PREFIX_LENGTH;
  self->handshake_timeout_s = ICECAM_ADMISSION_DEFAULT_HANDSHAKE_TIMEOUT_S;
  self->hello_timeout_s = ICECAM_ADMISSION_DEFAULT_HELLO_TIMEOUT_S;
  self->max_connections_per_address = ICECAM_ADMISSION_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
  self->message_rate = ICECAM_ADMISSION_DEFAULT_MESSAGE_RATE;
  self->message_burst = ICECAM_ADMISSION_DEFAULT_MESSAGE_BURST;
  self->keepalive_interval_s = ICECAM_ADMISSION_DEFAULT_KEEPALIVE_INTERVAL_S;
  self->silence_limit_s = ICECAM_ADMISSION_DEFAULT_SILENCE_LIMIT_S;
}
