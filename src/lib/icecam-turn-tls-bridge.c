/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A `turns:` relay reached over real TLS: libnice 0.1.21 has no TLS client for TURN (its
 * "TLS" relay type is a fake handshake for Google's old relays), so the ICE session gives it a
 * loopback TCP relay instead, this bridge, which carries each connection libnice makes over
 * a GIO TLS connection to the real relay, its certificate checked. See docs/design.md. */

#include "icecam-turn-tls-bridge.h"

#include <gio/gio.h>

struct _IcecamTurnTlsBridge {
  GObject parent;

  gchar *host;              /* the relay's address, as libnice would have used it */
  guint16 port;
  gchar *server_name;       /* what its certificate must name: its host name, or address */
  GTlsDatabase *database;   /* NULL: the system's */
  GSocketService *service;
  guint16 local_port;
  GCancellable *cancellable;
  guint connections;
};

G_DEFINE_TYPE (IcecamTurnTlsBridge, icecam_turn_tls_bridge, G_TYPE_OBJECT)

typedef struct {
  IcecamTurnTlsBridge *bridge;  /* a reference */
  GSocketConnection *local;     /* libnice's side */
  GIOStream *tls;
} Link;

static void
link_free (Link *link)
{
  g_clear_object (&link->local);
  g_clear_object (&link->tls);
  g_object_unref (link->bridge);
  g_free (link);
}

static void
spliced_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Link *link = user_data;
  g_autoptr (GError) error = NULL;

  if (!g_io_stream_splice_finish (result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_debug ("turns bridge %s:%u: connection ended: %s", link->bridge->host, link->bridge->port,
             error->message);
  link_free (link);
}

static void
handshake_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Link *link = user_data;
  IcecamTurnTlsBridge *self = link->bridge;
  g_autoptr (GError) error = NULL;

  if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error)) {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_warning ("turns: relay %s:%u: TLS handshake failed (%s): relay left out", self->host,
                 self->port, error->message);
    link_free (link);  /* closes libnice's connection: its allocation fails */
    return;
  }
  g_debug ("turns bridge: TLS to %s:%u (%s) up", self->host, self->port, self->server_name);
  g_io_stream_splice_async (G_IO_STREAM (link->local), link->tls,
                            G_IO_STREAM_SPLICE_CLOSE_STREAM1 | G_IO_STREAM_SPLICE_CLOSE_STREAM2,
                            G_PRIORITY_DEFAULT, self->cancellable, spliced_cb, link);
}

static void
connected_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Link *link = user_data;
  IcecamTurnTlsBridge *self = link->bridge;
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketConnection) tcp = NULL;
  g_autoptr (GSocketConnectable) identity = NULL;

  tcp = g_socket_client_connect_finish (G_SOCKET_CLIENT (source), result, &error);
  if (tcp == NULL) {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      g_warning ("turns: relay %s:%u: %s", self->host, self->port, error->message);
    link_free (link);
    return;
  }
  identity = g_network_address_new (self->server_name, self->port);
  link->tls = g_tls_client_connection_new (G_IO_STREAM (tcp), identity, &error);
  if (link->tls == NULL) {
    g_warning ("turns: relay %s:%u: %s", self->host, self->port, error->message);
    link_free (link);
    return;
  }
  if (self->database != NULL)
    g_tls_connection_set_database (G_TLS_CONNECTION (link->tls), self->database);
  g_tls_connection_handshake_async (G_TLS_CONNECTION (link->tls), G_PRIORITY_DEFAULT,
                                    self->cancellable, handshake_cb, link);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source_object,
             gpointer user_data)
{
  IcecamTurnTlsBridge *self = user_data;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  Link *link = g_new0 (Link, 1);

  link->bridge = g_object_ref (self);
  link->local = g_object_ref (connection);
  self->connections++;
  g_socket_client_set_timeout (client, 10);
  g_socket_client_connect_to_host_async (client, self->host, self->port, self->cancellable,
                                         connected_cb, link);
  return TRUE;
}

/**
 * icecam_turn_tls_bridge_new:
 * @host: the relay's IP address
 * @port: its TLS port
 * @server_name: (nullable): the name its certificate must carry; %NULL: @host (then the
 *   certificate must name that IP address)
 * @ca_file: (nullable): PEM file of the authorities to trust; %NULL: the system's
 * @error: when @ca_file cannot be loaded or no loopback port can be had
 *
 * Listens on a loopback TCP port, in the thread-default main context: each connection made
 * to it is carried over TLS to @host:@port once the relay's certificate checks out.
 *
 * Returns: (transfer full) (nullable): the bridge
 */
IcecamTurnTlsBridge *
icecam_turn_tls_bridge_new (const gchar *host, guint16 port, const gchar *server_name,
                            const gchar *ca_file, GError **error)
{
  g_autoptr (IcecamTurnTlsBridge) self = g_object_new (ICECAM_TYPE_TURN_TLS_BRIDGE, NULL);
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) effective = NULL;

  g_return_val_if_fail (host != NULL, NULL);

  self->host = g_strdup (host);
  self->port = port;
  self->server_name = g_strdup (server_name != NULL ? server_name : host);
  if (ca_file != NULL) {
    self->database = g_tls_file_database_new (ca_file, error);
    if (self->database == NULL) {
      g_prefix_error (error, "turns: CA file %s: ", ca_file);
      return NULL;
    }
  }
  self->service = g_socket_service_new ();
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address,
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
                                      &effective, error))
    return NULL;
  self->local_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);
  return g_steal_pointer (&self);
}

/**
 * icecam_turn_tls_bridge_get_port:
 * @self: a bridge
 *
 * Returns: the loopback TCP port to give libnice as a TURN-over-TCP relay
 */
guint16
icecam_turn_tls_bridge_get_port (IcecamTurnTlsBridge *self)
{
  g_return_val_if_fail (ICECAM_IS_TURN_TLS_BRIDGE (self), 0);
  return self->local_port;
}

/**
 * icecam_turn_tls_bridge_stop:
 * @self: a bridge
 *
 * Stops listening and ends every connection it carries.
 */
void
icecam_turn_tls_bridge_stop (IcecamTurnTlsBridge *self)
{
  g_return_if_fail (ICECAM_IS_TURN_TLS_BRIDGE (self));

  if (self->service != NULL) {
    g_socket_service_stop (self->service);
    g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    g_signal_handlers_disconnect_by_data (self->service, self);
  }
  g_cancellable_cancel (self->cancellable);
}

static void
icecam_turn_tls_bridge_dispose (GObject *object)
{
  IcecamTurnTlsBridge *self = ICECAM_TURN_TLS_BRIDGE (object);

  icecam_turn_tls_bridge_stop (self);
  g_clear_object (&self->service);
  G_OBJECT_CLASS (icecam_turn_tls_bridge_parent_class)->dispose (object);
}

static void
icecam_turn_tls_bridge_finalize (GObject *object)
{
  IcecamTurnTlsBridge *self = ICECAM_TURN_TLS_BRIDGE (object);

  g_free (self->host);
  g_free (self->server_name);
  g_clear_object (&self->database);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (icecam_turn_tls_bridge_parent_class)->finalize (object);
}

static void
icecam_turn_tls_bridge_class_init (IcecamTurnTlsBridgeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_turn_tls_bridge_dispose;
  object_class->finalize = icecam_turn_tls_bridge_finalize;
}

static void
icecam_turn_tls_bridge_init (IcecamTurnTlsBridge *self)
{
  self->cancellable = g_cancellable_new ();
}
