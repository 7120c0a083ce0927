/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's TURN relays as a pool: each checked every few seconds, a dead one withdrawn
 * from what sessions are given (icecam_registry_set_relay_up()) and returned when it answers. */

#include "icecam-relay-pool.h"

#include "icecam-ice-config.h"

#include <gio/gio.h>
#include <string.h>

/**
 * SECTION:icecam-relay-pool
 *
 * A relay over UDP is sent an Allocate request without credentials (RFC 8656): a TURN server
 * answers it with a 401 error, which proves it is alive without allocating anything. A relay
 * over TCP or TLS is alive when it accepts a TCP connection. Each relay is checked every
 * %ICECAM_RELAY_POOL_INTERVAL_MS; after three checks in a row without an answer it is withdrawn
 * (an answer to the check before the last still counts: on a busy host it may come late).
 *
 * Threading: create and use it in one thread; it runs in the thread-default #GMainContext.
 */

#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_ALLOCATE_REQUEST 0x0003u
#define STUN_ALLOCATE_SUCCESS 0x0103u
#define STUN_ALLOCATE_ERROR 0x0113u
#define STUN_ATTR_REQUESTED_TRANSPORT 0x0019u
#define MISSES_TO_WITHDRAW 3

typedef struct {
  IcecamRelayPool *pool;
  gchar *url;
  IcecamIceServerAddress *address;
  GSocket *socket;             /* UDP */
  GSource *source;
  guint8 transaction[12];
  guint8 previous[12];          /* the check before: its answer may come late on a busy host */
  gboolean waiting;            /* a check is out and not answered */
  guint misses;
  gboolean up;
  GCancellable *cancellable;   /* TCP check */
} Relay;

struct _IcecamRelayPool {
  GObject parent_instance;

  IcecamRegistry *registry;
  GPtrArray *relays;
  GSource *tick;
};

G_DEFINE_FINAL_TYPE (IcecamRelayPool, icecam_relay_pool, G_TYPE_OBJECT)

static void
relay_set_up (Relay *relay, gboolean up)
{
  if (up)
    g_debug ("relay pool: %s answered its check", relay->url);
  relay->misses = 0;
  relay->waiting = FALSE;
  if (relay->up == up)
    return;
  relay->up = up;
  if (up)
    g_message ("relay pool: %s answers again: offered to sessions", relay->url);
  else
    g_warning ("relay pool: %s does not answer: withdrawn", relay->url);
  icecam_registry_set_relay_up (relay->pool->registry, relay->url, up);
}

static void
relay_free (Relay *relay)
{
  if (relay->source != NULL) {
    g_source_destroy (relay->source);
    g_source_unref (relay->source);
  }
  if (relay->cancellable != NULL)
    g_cancellable_cancel (relay->cancellable);
  g_clear_object (&relay->cancellable);
  g_clear_object (&relay->socket);
  icecam_ice_server_address_free (relay->address);
  g_free (relay->url);
  g_free (relay);
}

/* ---- UDP: an Allocate answered 401 ---------------------------------------------------------- */

static gboolean
on_udp_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Relay *relay = user_data;
  guint8 buffer[1500];
  gssize n;

  while ((n = g_socket_receive (socket, (gchar *) buffer, sizeof buffer, NULL, NULL)) > 0) {
    guint16 type = (guint16) (buffer[0] << 8 | buffer[1]);
    guint32 cookie = (guint32) buffer[4] << 24 | (guint32) buffer[5] << 16 |
                     (guint32) buffer[6] << 8 | buffer[7];

    if (n < 20 || cookie != STUN_MAGIC_COOKIE ||
        (memcmp (buffer + 8, relay->transaction, 12) != 0 &&
         memcmp (buffer + 8, relay->previous, 12) != 0) ||
        (type != STUN_ALLOCATE_ERROR && type != STUN_ALLOCATE_SUCCESS))
      continue;
    relay_set_up (relay, TRUE);
  }
  return G_SOURCE_CONTINUE;
}

static void
udp_check (Relay *relay)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) host = g_inet_address_new_from_string (relay->address->host);
  g_autoptr (GSocketAddress) to = NULL;
  guint8 request[28] = { 0 };

  if (host == NULL)
    return;  /* a host name: left to the clients, never withdrawn */
  if (relay->socket == NULL) {
    relay->socket = g_socket_new (g_inet_address_get_family (host), G_SOCKET_TYPE_DATAGRAM,
                                  G_SOCKET_PROTOCOL_UDP, &error);
    if (relay->socket == NULL) {
      g_warning ("relay pool: %s: %s", relay->url, error->message);
      return;
    }
    g_socket_set_blocking (relay->socket, FALSE);
    relay->source = g_socket_create_source (relay->socket, G_IO_IN, NULL);
    g_source_set_callback (relay->source, (GSourceFunc) (GCallback) on_udp_readable, relay,
                           NULL);
    g_source_attach (relay->source, g_main_context_get_thread_default ());
  }
  request[0] = STUN_ALLOCATE_REQUEST >> 8;
  request[1] = STUN_ALLOCATE_REQUEST & 0xff;
  request[3] = 8;  /* one attribute of 4 + 4 bytes */
  request[4] = 0x21;
  request[5] = 0x12;
  request[6] = 0xA4;
  request[7] = 0x42;
  memcpy (relay->previous, relay->transaction, 12);
  for (guint i = 0; i < 12; i++)
    relay->transaction[i] = (guint8) g_random_int_range (0, 256);
  memcpy (request + 8, relay->transaction, 12);
  request[21] = STUN_ATTR_REQUESTED_TRANSPORT & 0xff;
  request[23] = 4;
  request[24] = 17;  /* UDP */
  to = g_inet_socket_address_new (host, relay->address->port);
  if (g_socket_send_to (relay->socket, to, (const gchar *) request, sizeof request, NULL,
                        &error) < 0)
    g_debug ("relay pool: %s: %s", relay->url, error->message);
}

/* ---- TCP and TLS: a connection accepted ----------------------------------------------------- */

static void
tcp_connect_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Relay *relay = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) connection =
    g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&relay->cancellable);
  if (connection != NULL) {
    relay_set_up (relay, TRUE);
    g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
  }
}

static void
tcp_check (Relay *relay)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GInetAddress) host = g_inet_address_new_from_string (relay->address->host);
  g_autoptr (GSocketAddress) to = NULL;

  if (host == NULL)
    return;
  if (relay->cancellable != NULL)
    g_cancellable_cancel (relay->cancellable);
  g_clear_object (&relay->cancellable);
  relay->cancellable = g_cancellable_new ();
  to = g_inet_socket_address_new (host, relay->address->port);
  g_socket_client_set_timeout (client, ICECAM_RELAY_POOL_INTERVAL_MS / 1000);
  g_socket_client_connect_async (client, G_SOCKET_CONNECTABLE (to), relay->cancellable,
                                 tcp_connect_cb, relay);
}

/* ---- the checks ------------------------------------------------------------------------------ */

static gboolean
on_tick (gpointer user_data)
{
  IcecamRelayPool *self = user_data;

  for (guint i = 0; i < self->relays->len; i++) {
    Relay *relay = g_ptr_array_index (self->relays, i);

    if (relay->waiting && ++relay->misses >= MISSES_TO_WITHDRAW)
      relay_set_up (relay, FALSE);
    relay->waiting = TRUE;
    if (relay->address->transport == ICECAM_TURN_TRANSPORT_UDP)
      udp_check (relay);
    else
      tcp_check (relay);
  }
  return G_SOURCE_CONTINUE;
}

/**
 * icecam_relay_pool_new:
 * @registry: the registry whose sessions get the relays
 * @urls: (array zero-terminated=1): the relays given to icecam_registry_set_turn()
 *
 * Starts checking the relays at once and every %ICECAM_RELAY_POOL_INTERVAL_MS. Relays named by
 * a host name rather than an address are not checked (each client looks the name up).
 *
 * Returns: (transfer full): the pool
 */
IcecamRelayPool *
icecam_relay_pool_new (IcecamRegistry *registry, const gchar * const *urls)
{
  IcecamRelayPool *self;

  g_return_val_if_fail (ICECAM_IS_REGISTRY (registry), NULL);

  self = g_object_new (ICECAM_TYPE_RELAY_POOL, NULL);
  self->registry = g_object_ref (registry);
  for (guint i = 0; urls != NULL && urls[i] != NULL; i++) {
    IcecamIceServerAddress *address = icecam_ice_server_address_parse (urls[i], "u", "p", NULL);
    Relay *relay;

    if (address == NULL)
      continue;
    relay = g_new0 (Relay, 1);
    relay->pool = self;
    relay->url = g_strdup (urls[i]);
    relay->address = address;
    relay->up = TRUE;
    g_ptr_array_add (self->relays, relay);
  }
  self->tick = g_timeout_source_new (ICECAM_RELAY_POOL_INTERVAL_MS);
  g_source_set_callback (self->tick, on_tick, self, NULL);
  g_source_attach (self->tick, g_main_context_get_thread_default ());
  on_tick (self);
  return self;
}

static void
icecam_relay_pool_dispose (GObject *object)
{
  IcecamRelayPool *self = ICECAM_RELAY_POOL (object);

  if (self->tick != NULL) {
    g_source_destroy (self->tick);
    g_clear_pointer (&self->tick, g_source_unref);
  }
  g_ptr_array_set_size (self->relays, 0);
  g_clear_object (&self->registry);
  G_OBJECT_CLASS (icecam_relay_pool_parent_class)->dispose (object);
}

static void
icecam_relay_pool_finalize (GObject *object)
{
  IcecamRelayPool *self = ICECAM_RELAY_POOL (object);

  g_ptr_array_unref (self->relays);
  G_OBJECT_CLASS (icecam_relay_pool_parent_class)->finalize (object);
}

static void
icecam_relay_pool_class_init (IcecamRelayPoolClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_relay_pool_dispose;
  object_class->finalize = icecam_relay_pool_finalize;
}

static void
icecam_relay_pool_init (IcecamRelayPool *self)
{
  self->relays = g_ptr_array_new_with_free_func ((GDestroyNotify) relay_free);
}
