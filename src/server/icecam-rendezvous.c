/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous service: WebSocket signalling, health endpoints and the STUN responder. */

#include "icecam-rendezvous-private.h"

#include <netinet/in.h>
#include <string.h>
#include <libsoup/soup.h>

#include "icecam-acceptor.h"
#include "icecam-admission.h"
#include "icecam-http-endpoints.h"
#include "icecam-web-app.h"
#include "icecam-stun-responder.h"

/**
 * SECTION:icecam-rendezvous
 * @title: IcecamRendezvous
 * @short_description: the signalling server cameras and viewers meet at
 *
 * An HTTP server (libsoup) with the signalling WebSocket at `/ws` (docs/protocol.md), `/healthz`
 * (200 and a small JSON object of counters) and `/metrics` (the same counters for Prometheus;
 * both in icecam-http-endpoints.c), plus an #IcecamStunResponder so that clients learn their
 * public address from the same host.
 * Each WebSocket connection is one peer of an #IcecamRegistry, which does all the routing;
 * an #IcecamAdmission decides which connections it keeps (limits, deadlines, rate, silence).
 * An #IcecamAcceptor accepts the TCP connections and hands them to the libsoup server, so that
 * each is known from accept() on: refused at the global cap, and shut down when it has not
 * finished its HTTP request and upgrade, or its `hello`, by its deadline.
 *
 * By default the STUN responder listens on UDP on the same host and port number as the
 * WebSocket's TCP listener; when that UDP port is taken and the WebSocket port was chosen by the
 * system (port 0), it falls back to a port the system chooses. Each client's `welcome` lists
 * "stun:HOST:PORT" with HOST the address that client reached the server at, so the same server
 * works on 127.0.0.1, on a LAN address or on 0.0.0.0.
 * Given a second IP address of the host (icecam_rendezvous_set_stun_alternate()), the responder
 * also serves RFC 5780 NAT behaviour discovery, which icecam-natprobe uses.
 * STUN Binding is answered over TCP too, at the same host and port (for TCP hole punching: a
 * client learns the public mapping of a TCP socket of its own): on the signalling port the
 * acceptor tells STUN from HTTP by a connection's first byte; on a STUN port of its own the
 * responder listens on TCP as well (a warning, and UDP only, if that TCP port is taken).
 *
 * Threading: create and use the object in one thread. Its sockets, callbacks and the registry's
 * signals run in the #GMainContext that was thread-default when the object was created, which
 * must be iterated for it to serve.
 */

/* Connections the kernel queues for accept(): GLib's default of 10 dropped SYNs when a few
 * hundred devices reconnected at once (docs/benchmarks.md, section 4). */
#define LISTEN_BACKLOG 1024

G_DEFINE_FINAL_TYPE (IcecamRendezvous, icecam_rendezvous, G_TYPE_OBJECT)

/* ---- addresses ------------------------------------------------------------------------ */

/* @address as a URL host: IPv4-mapped IPv6 as plain IPv4, other IPv6 in brackets. */
gchar *
icecam_rendezvous_host_to_string (GInetAddress *address)
{
  static const guint8 v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  g_autofree gchar *text = NULL;

  if (g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6)
    return g_inet_address_to_string (address);
  if (memcmp (g_inet_address_to_bytes (address), v4_mapped_prefix, 12) == 0) {
    g_autoptr (GInetAddress) v4 =
      g_inet_address_new_from_bytes (g_inet_address_to_bytes (address) + 12,
                                     G_SOCKET_FAMILY_IPV4);

    return g_inet_address_to_string (v4);
  }
  text = g_inet_address_to_string (address);
  return g_strdup_printf ("[%s]", text);
}

static gchar *
host_port_to_string (GInetAddress *address, guint port)
{
  g_autofree gchar *host = icecam_rendezvous_host_to_string (address);

  return g_strdup_printf ("%s:%u", host, port);
}

gchar *
icecam_rendezvous_socket_address_to_string (GSocketAddress *address)
{
  GInetSocketAddress *inet;

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return g_strdup ("unknown");
  inet = G_INET_SOCKET_ADDRESS (address);
  return host_port_to_string (g_inet_socket_address_get_address (inet),
                              g_inet_socket_address_get_port (inet));
}

/* The STUN server as a client that reached us at @local sees it, listed first in its welcome. */
GPtrArray *
icecam_rendezvous_peer_ice_servers (IcecamRendezvous *self, GSocketAddress *local)
{
  GPtrArray *servers = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  GInetAddress *host = self->stun_host;
  g_autofree gchar *host_port = NULL;
  g_autofree gchar *url = NULL;
  const gchar *urls[2] = { NULL, NULL };

  if (self->stun == NULL)
    return servers;
  /* Bound to the wildcard: the responder answers on whatever address the client used. */
  if (g_inet_address_get_is_any (host) && G_IS_INET_SOCKET_ADDRESS (local))
    host = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local));
  host_port = host_port_to_string (host, icecam_stun_responder_get_port (self->stun));
  url = g_strconcat ("stun:", host_port, NULL);
  urls[0] = url;
  g_ptr_array_add (servers, icecam_ice_server_new (urls, NULL, NULL));
  return servers;
}

/* ---- health and metrics --------------------------------------------------------------- */

static void
get_http_stats (IcecamHttpEndpointsStats *stats, gpointer user_data)
{
  IcecamRendezvous *self = user_data;

  icecam_registry_get_stats (self->registry, &stats->registry);
  icecam_admission_get_stats (self->admission, &stats->admission);
  stats->stun_running = self->stun != NULL;
  stats->cluster = self->cluster_state;
  stats->relays = icecam_registry_get_relays (self->registry);
  if (self->stun != NULL)
    icecam_stun_responder_get_stats (self->stun, &stats->stun);
}

/**
 * icecam_rendezvous_set_cluster_degraded:
 * @self: a rendezvous
 * @degraded: whether this cluster node lost Redis
 *
 * Makes /healthz and /metrics report the node's cluster state, from now on.
 */
void
icecam_rendezvous_set_cluster_degraded (IcecamRendezvous *self, gboolean degraded)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));
  self->cluster_state = degraded ? "degraded" : "ok";
}

/* ---- listening ------------------------------------------------------------------------ */

static const gchar *
ws_stream_to_string (IcecamRendezvousWsStream stream)
{
  return stream == ICECAM_RENDEZVOUS_WS_STREAM_LIBSOUP ? "libsoup" : "epoll";
}

static gboolean
listen_websocket (IcecamRendezvous *self, GInetAddress *address, guint port, GError **error)
{
  g_autoptr (GSocketAddress) requested = g_inet_socket_address_new (address, port);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GSocket) socket = g_socket_new (g_inet_address_get_family (address),
                                             G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);

  /* Our own socket, for its backlog; soup_server_listen() would make one with GLib's 10. */
  if (socket == NULL)
    return FALSE;
  /* The IPv6 wildcard serves IPv4 too (their clients appear IPv4-mapped, which admission and
   * the logs unmap), like the STUN responder on the same address; a specific IPv6 address
   * only IPv6. */
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, !g_inet_address_get_is_any (address),
                         NULL);
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!g_socket_bind (socket, requested, TRUE, error) || !g_socket_listen (socket, error))
    return FALSE;
  bound = g_socket_get_local_address (socket, error);
  if (bound == NULL)
    return FALSE;
  icecam_acceptor_listen (self->acceptor, socket);
  self->listen_address = g_object_ref (address);
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  return TRUE;
}

static gboolean
try_listen_stun (IcecamRendezvous *self, GInetSocketAddress *address, GError **error)
{
  g_autoptr (IcecamStunResponder) stun = icecam_stun_responder_new ();

  if (self->stun_alternate != NULL) {
    g_autoptr (GSocketAddress) alternate = g_inet_socket_address_new (self->stun_alternate, 0);

    if (!icecam_stun_responder_listen_rfc5780 (stun, address,
                                               G_INET_SOCKET_ADDRESS (alternate), error))
      return FALSE;
  } else if (!icecam_stun_responder_listen (stun, address, error)) {
    return FALSE;
  }
  self->stun = g_steal_pointer (&stun);
  self->stun_host = g_object_ref (g_inet_socket_address_get_address (address));
  return TRUE;
}

/* How many ports the system may choose for the STUN responder before one is free for TCP too. */
#define STUN_PORT_ATTEMPTS 8

/* @address with port 0: a port the system chooses for UDP may be taken for TCP; choose again,
 * a few times, so that STUN over TCP shares it (else TCP punching would find no mapping). The
 * last choice stays without TCP if need be (listen_stun_tcp() then warns). */
static gboolean
listen_stun_any_port (IcecamRendezvous *self, GInetSocketAddress *address, GError **error)
{
  for (guint attempt = 0; attempt < STUN_PORT_ATTEMPTS; attempt++) {
    g_autoptr (GError) tcp_error = NULL;

    if (!try_listen_stun (self, address, error))
      return FALSE;
    if (attempt + 1 == STUN_PORT_ATTEMPTS ||
        icecam_stun_responder_listen_tcp (self->stun, &tcp_error))
      return TRUE;
    g_debug ("STUN port %u is taken for TCP (%s), choosing another",
             icecam_stun_responder_get_port (self->stun), tcp_error->message);
    g_clear_object (&self->stun);
    g_clear_object (&self->stun_host);
  }
  return TRUE;
}

/* STUN over TCP at the responder's host and port: the signalling listener's own connections
 * when it receives them, else a TCP listener of the responder's. */
static void
listen_stun_tcp (IcecamRendezvous *self)
{
  guint16 port = icecam_stun_responder_get_port (self->stun);
  g_autoptr (GError) error = NULL;

  if (port == self->port && (g_inet_address_get_is_any (self->listen_address) ||
                             g_inet_address_equal (self->listen_address, self->stun_host))) {
    icecam_acceptor_set_stun_over_tcp (self->acceptor, TRUE);
    return;
  }
  if (icecam_stun_responder_get_tcp_port (self->stun) != 0)
    return; /* a port the system chose, free for both (listen_stun()) */
  if (!icecam_stun_responder_listen_tcp (self->stun, &error))
    g_warning ("STUN over TCP on port %u: %s (STUN on UDP only; TCP hole punching finds no "
               "mapping here)", port, error->message);
}

/* The STUN responder's address rule; see the class documentation. */
static gboolean
listen_stun (IcecamRendezvous *self, gboolean ws_port_was_ephemeral, GError **error)
{
  g_autoptr (GSocketAddress) same_port = NULL;
  g_autoptr (GSocketAddress) any_port = NULL;
  g_autoptr (GError) local_error = NULL;

  if (self->stun_address != NULL) {
    if (g_inet_socket_address_get_port (self->stun_address) == 0 ?
          listen_stun_any_port (self, self->stun_address, error) :
          try_listen_stun (self, self->stun_address, error))
      return TRUE;
    g_prefix_error (error, "STUN responder: ");
    return FALSE;
  }

  same_port = g_inet_socket_address_new (self->listen_address, self->port);
  if (try_listen_stun (self, G_INET_SOCKET_ADDRESS (same_port), &local_error))
    return TRUE;
  if (!ws_port_was_ephemeral) {
    g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                "STUN responder on UDP port %u: ", self->port);
    return FALSE;
  }
  g_debug ("UDP port %u is not free (%s), STUN responder on a port the system chooses",
           self->port, local_error->message);
  any_port = g_inet_socket_address_new (self->listen_address, 0);
  if (listen_stun_any_port (self, G_INET_SOCKET_ADDRESS (any_port), error))
    return TRUE;
  g_prefix_error (error, "STUN responder: ");
  return FALSE;
}

static gboolean
listen_all (IcecamRendezvous *self, GInetAddress *address, guint port, GError **error)
{
  if (!listen_websocket (self, address, port, error))
    return FALSE;
  if (self->stun_enabled && !listen_stun (self, port == 0, error)) {
    icecam_acceptor_stop (self->acceptor);
    g_clear_object (&self->listen_address);
    self->port = 0;
    return FALSE;
  }
  if (self->stun != NULL)
    listen_stun_tcp (self);
  return TRUE;
}

/* ---- public API ----------------------------------------------------------------------- */

/**
 * icecam_rendezvous_new:
 *
 * Returns: (transfer full): a rendezvous, not listening yet, with the STUN responder enabled;
 *   it serves in the thread-default #GMainContext of the caller
 */
IcecamRendezvous *
icecam_rendezvous_new (void)
{
  return g_object_new (ICECAM_TYPE_RENDEZVOUS, NULL);
}

/**
 * icecam_rendezvous_set_ice_servers:
 * @self: a rendezvous
 * @ice_servers: (nullable) (element-type IcecamIceServer): STUN/TURN servers every `welcome`
 *   lists after the built-in STUN responder; copied
 */
void
icecam_rendezvous_set_ice_servers (IcecamRendezvous *self, GPtrArray *ice_servers)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));

  icecam_registry_set_ice_servers (self->registry, ice_servers);
}

/**
 * icecam_rendezvous_set_stun_enabled:
 * @self: a rendezvous, not listening yet
 * @enabled: whether to run the STUN responder (default %TRUE)
 */
void
icecam_rendezvous_set_stun_enabled (IcecamRendezvous *self, gboolean enabled)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));
  g_return_if_fail (self->listen_address == NULL);

  self->stun_enabled = enabled;
}

/**
 * icecam_rendezvous_set_stun_address:
 * @self: a rendezvous, not listening yet
 * @address: (nullable): where the STUN responder listens; %NULL (the default) for the host and
 *   port number of the WebSocket listener
 *
 * With an explicit address there is no fallback: if it is taken, listening fails.
 */
void
icecam_rendezvous_set_stun_address (IcecamRendezvous *self, GInetSocketAddress *address)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));
  g_return_if_fail (address == NULL || G_IS_INET_SOCKET_ADDRESS (address));
  g_return_if_fail (self->listen_address == NULL);

  g_set_object (&self->stun_address, address);
}

/**
 * icecam_rendezvous_set_stun_alternate:
 * @self: a rendezvous, not listening yet
 * @alternate: (nullable): a second IP address of this host, of the STUN address's family;
 *   %NULL (the default) for a plain responder
 *
 * With a second address the STUN responder also serves RFC 5780 NAT behaviour discovery
 * (icecam-natprobe): it listens on both addresses, each on the primary port and on an
 * alternate port the system picks, and honours CHANGE-REQUEST. The STUN address must then be
 * a specific one, not a wildcard, or listening fails.
 */
void
icecam_rendezvous_set_stun_alternate (IcecamRendezvous *self, GInetAddress *alternate)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));
  g_return_if_fail (alternate == NULL || G_IS_INET_ADDRESS (alternate));
  g_return_if_fail (self->listen_address == NULL);

  g_set_object (&self->stun_alternate, alternate);
}

/**
 * icecam_rendezvous_get_stun_alternate:
 * @self: a rendezvous
 *
 * Returns: (transfer full) (nullable): the RFC 5780 alternate address and port of the STUN
 *   responder ("HOST:PORT", the OTHER-ADDRESS clients are given), or %NULL when the responder
 *   is not listening or plain
 */
gchar *
icecam_rendezvous_get_stun_alternate (IcecamRendezvous *self)
{
  g_autoptr (GInetSocketAddress) other = NULL;

  g_return_val_if_fail (ICECAM_IS_RENDEZVOUS (self), NULL);

  if (self->stun == NULL || self->stun_alternate == NULL)
    return NULL;
  other = icecam_stun_responder_get_local_address (self->stun, TRUE, TRUE);
  if (other == NULL)
    return NULL;
  return icecam_rendezvous_socket_address_to_string (G_SOCKET_ADDRESS (other));
}

/**
 * icecam_rendezvous_listen:
 * @self: a rendezvous, not listening yet
 * @host: an IP address to listen on, e.g. "127.0.0.1", "0.0.0.0" or "::"
 * @port: the TCP port; 0 lets the system choose (see icecam_rendezvous_get_port())
 * @error: return location for a #GError
 *
 * Starts serving: the HTTP/WebSocket listener, then the STUN responder unless disabled. If
 * either fails, nothing is left listening.
 *
 * Returns: %TRUE if listening, %FALSE with @error set
 */
/**
 * icecam_rendezvous_set_tls_files:
 * @certificate_file: PEM certificate (chain) for wss://
 * @key_file: its PEM private key
 * @error: a #GTlsError or #GFileError
 *
 * Serve wss:// instead of ws://. Call before icecam_rendezvous_listen().
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
icecam_rendezvous_set_tls_files (IcecamRendezvous *self, const gchar *certificate_file,
                                 const gchar *key_file, GError **error)
{
  g_autoptr (GTlsCertificate) certificate =
    g_tls_certificate_new_from_files (certificate_file, key_file, error);

  if (certificate == NULL)
    return FALSE;
  g_object_set (self->server, "tls-certificate", certificate, NULL);
  icecam_acceptor_set_tls_certificate (self->acceptor, certificate);
  self->tls = TRUE;
  return TRUE;
}

gboolean
icecam_rendezvous_listen (IcecamRendezvous *self, const gchar *host, guint port, GError **error)
{
  g_autoptr (GInetAddress) address = NULL;
  GMainContext *current;
  gboolean pushed;
  gboolean ok;

  g_return_val_if_fail (ICECAM_IS_RENDEZVOUS (self), FALSE);
  g_return_val_if_fail (host != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  g_return_val_if_fail (self->listen_address == NULL, FALSE);

  address = g_inet_address_new_from_string (host);
  if (address == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "'%s' is not an IP address", host);
    return FALSE;
  }
  if (port > G_MAXUINT16) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                 "port %u is not a TCP port", port);
    return FALSE;
  }

  /* Sockets attach to the thread-default context: make that the one we were created in. */
  current = g_main_context_ref_thread_default ();
  pushed = current != self->context;
  g_main_context_unref (current);
  if (pushed)
    g_main_context_push_thread_default (self->context);
  ok = listen_all (self, address, port, error);
  if (pushed)
    g_main_context_pop_thread_default (self->context);
  if (ok)
    g_info ("listening on port %u, WebSocket stream: %s", self->port,
            ws_stream_to_string (self->ws_stream));
  return ok;
}

/**
 * icecam_rendezvous_set_ws_stream:
 * @self: a rendezvous, not listening yet
 * @stream: the stream under the signalling WebSockets; default
 *   %ICECAM_RENDEZVOUS_WS_STREAM_EPOLL
 *
 * %ICECAM_RENDEZVOUS_WS_STREAM_LIBSOUP is for bisecting libsoup upgrades: it costs
 * O(connections) per message (docs/design.md, Threads).
 */
void
icecam_rendezvous_set_ws_stream (IcecamRendezvous *self, IcecamRendezvousWsStream stream)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));
  g_return_if_fail (stream == ICECAM_RENDEZVOUS_WS_STREAM_EPOLL ||
                    stream == ICECAM_RENDEZVOUS_WS_STREAM_LIBSOUP);
  g_return_if_fail (self->listen_address == NULL);

  if (stream == self->ws_stream)
    return;
  self->ws_stream = stream;
  soup_server_remove_handler (self->server, "/ws");
  icecam_rendezvous_add_websocket_handler (self);
}

/**
 * icecam_rendezvous_get_uri:
 * @self: a rendezvous
 *
 * Returns: (transfer full) (nullable): the signalling URL, "ws://HOST:PORT/ws" with the port
 *   actually bound, or %NULL if not listening
 */
gchar *
icecam_rendezvous_get_uri (IcecamRendezvous *self)
{
  g_autofree gchar *host_port = NULL;

  g_return_val_if_fail (ICECAM_IS_RENDEZVOUS (self), NULL);

  if (self->listen_address == NULL)
    return NULL;
  host_port = host_port_to_string (self->listen_address, self->port);
  return g_strdup_printf ("%s://%s/ws", self->tls ? "wss" : "ws", host_port);
}

/**
 * icecam_rendezvous_get_port:
 * @self: a rendezvous
 *
 * Returns: the TCP port the WebSocket listener is bound to, or 0 if not listening
 */
guint
icecam_rendezvous_get_port (IcecamRendezvous *self)
{
  g_return_val_if_fail (ICECAM_IS_RENDEZVOUS (self), 0);

  return self->port;
}

/**
 * icecam_rendezvous_get_stun_host_port:
 * @self: a rendezvous
 *
 * Returns: (transfer full) (nullable): where the STUN responder is bound, "HOST:PORT", or
 *   %NULL if it is disabled or not listening
 */
gchar *
icecam_rendezvous_get_stun_host_port (IcecamRendezvous *self)
{
  g_return_val_if_fail (ICECAM_IS_RENDEZVOUS (self), NULL);

  if (self->stun == NULL)
    return NULL;
  return host_port_to_string (self->stun_host, icecam_stun_responder_get_port (self->stun));
}

/**
 * icecam_rendezvous_get_stun_port:
 * @self: a rendezvous
 *
 * Returns: the UDP port of the STUN responder, or 0 if it is disabled or not listening
 */
guint
icecam_rendezvous_get_stun_port (IcecamRendezvous *self)
{
  g_return_val_if_fail (ICECAM_IS_RENDEZVOUS (self), 0);

  return self->stun != NULL ? icecam_stun_responder_get_port (self->stun) : 0;
}

/**
 * icecam_rendezvous_get_registry:
 * @self: a rendezvous
 *
 * Returns: (transfer none): the registry behind the WebSocket endpoint, e.g. for its counters
 */
IcecamRegistry *
icecam_rendezvous_get_registry (IcecamRendezvous *self)
{
  g_return_val_if_fail (ICECAM_IS_RENDEZVOUS (self), NULL);

  return self->registry;
}

/* ---- GObject -------------------------------------------------------------------------- */

static gboolean
on_registry_tick (gpointer user_data)
{
  IcecamRendezvous *self = user_data;

  icecam_registry_expire (self->registry, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

static void
icecam_rendezvous_dispose (GObject *object)
{
  IcecamRendezvous *self = ICECAM_RENDEZVOUS (object);
  GHashTableIter iter;
  Connection *conn;

  if (self->registry != NULL)
    g_signal_handlers_disconnect_by_data (self->registry, self);
  /* Before the server lets its connections go: the admission is not told any more. */
  if (self->acceptor != NULL)
    g_signal_handlers_disconnect_by_data (self->acceptor, self);
  g_clear_object (&self->acceptor);
  g_clear_pointer (&self->trusted_proxies, g_ptr_array_unref);
  if (self->connections != NULL) {
    g_hash_table_iter_init (&iter, self->connections);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &conn)) {
      g_clear_signal_handler (&conn->closed_handler, conn->ws);
      if (soup_websocket_connection_get_state (conn->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "shutdown");
    }
    g_clear_pointer (&self->connections, g_hash_table_unref);
  }
  if (self->server != NULL)
    soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  g_clear_object (&self->stun);
  icecam_rendezvous_stop_check (&self->silence_check);
  icecam_rendezvous_stop_check (&self->deadline_check);
  icecam_rendezvous_stop_check (&self->registry_tick);
  g_clear_object (&self->registry);
  g_clear_object (&self->admission);

  G_OBJECT_CLASS (icecam_rendezvous_parent_class)->dispose (object);
}

static void
icecam_rendezvous_finalize (GObject *object)
{
  IcecamRendezvous *self = ICECAM_RENDEZVOUS (object);

  g_clear_object (&self->listen_address);
  g_clear_object (&self->stun_address);
  g_clear_object (&self->stun_alternate);
  g_clear_object (&self->stun_host);
  g_clear_pointer (&self->websocket_extension_types, g_ptr_array_unref);
  g_strfreev (self->presence_cameras);
  g_free (self->presence_json);
  g_clear_pointer (&self->pings, icecam_ping_wheel_free);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (icecam_rendezvous_parent_class)->finalize (object);
}

static void
icecam_rendezvous_class_init (IcecamRendezvousClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_rendezvous_dispose;
  object_class->finalize = icecam_rendezvous_finalize;
}

static void
icecam_rendezvous_init (IcecamRendezvous *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->stun_enabled = TRUE;
  self->registry = icecam_registry_new ();
  self->connections = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                             (GDestroyNotify) icecam_rendezvous_connection_free);
  self->admission = icecam_admission_new ();
  icecam_admission_set_max_connections (self->admission,
                                        icecam_rendezvous_default_max_connections ());
  self->pings = icecam_ping_wheel_new (
    self->context, icecam_admission_get_keepalive_interval (self->admission));
  icecam_rendezvous_start_silence_check (self);
  icecam_rendezvous_start_deadline_check (self);
  self->registry_tick = g_timeout_source_new_seconds (1);
  g_source_set_callback (self->registry_tick, on_registry_tick, self, NULL);
  g_source_attach (self->registry_tick, self->context);
  g_signal_connect (self->registry, "send", G_CALLBACK (icecam_rendezvous_on_registry_send), self);
  g_signal_connect (self->registry, "close", G_CALLBACK (icecam_rendezvous_on_registry_close),
                    self);
  g_signal_connect (self->registry, "replaced",
                    G_CALLBACK (icecam_rendezvous_on_registry_replaced), self);

  self->server = soup_server_new ("server-header", "icecam-rendezvous ", NULL);
  self->acceptor = icecam_acceptor_new (self->server);
  self->trusted_proxies = g_ptr_array_new_with_free_func (g_object_unref);
  icecam_acceptor_set_trusted_proxies (self->acceptor, self->trusted_proxies);
  g_signal_connect (self->acceptor, "proxy-refused",
                    G_CALLBACK (icecam_rendezvous_on_acceptor_proxy_refused), self);
  g_signal_connect (self->acceptor, "accepted",
                    G_CALLBACK (icecam_rendezvous_on_acceptor_accepted), self);
  g_signal_connect (self->acceptor, "closed", G_CALLBACK (icecam_rendezvous_on_acceptor_closed),
                    self);
  g_signal_connect (self->acceptor, "stun", G_CALLBACK (icecam_rendezvous_on_acceptor_stun),
                    self);
  /* No permessage-deflate: the message size limit counts what is read, and a compressed
   * frame within it could inflate a thousandfold (libsoup 3.2 inflates with no bound). Neither
   * our extension list nor libsoup's own handler (which offers it by default) offers it. */
  self->websocket_extension_types = g_ptr_array_new_with_free_func (g_type_class_unref);
  soup_server_remove_websocket_extension (self->server, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  icecam_rendezvous_add_websocket_handler (self);
  icecam_http_endpoints_add (self->server, get_http_stats, self);
  icecam_web_app_add (self->server);
}

/**
 * icecam_rendezvous_add_trusted_proxy:
 * @self: a rendezvous
 * @cidr: "ADDRESS/LENGTH" or an address alone, IPv4 or IPv6
 * @error: return location for a #GError
 *
 * Connections from these addresses are a reverse proxy's or a load balancer's: the client's
 * address is taken from their PROXY protocol header (v1 or v2, read before anything else when
 * the connection starts with one), and, for a WebSocket, from the Forwarded or X-Forwarded-For
 * header (the rightmost hop that is not a trusted proxy). That address is what the
 * per-address limit counts, what welcome tells the client, and what the logs name.
 *
 * Returns: %FALSE with @error set if @cidr is not an address or network
 */
gboolean
icecam_rendezvous_add_trusted_proxy (IcecamRendezvous *self, const gchar *cidr, GError **error)
{
  GInetAddressMask *mask;

  g_return_val_if_fail (ICECAM_IS_RENDEZVOUS (self), FALSE);

  mask = g_inet_address_mask_new_from_string (cidr, error);
  if (mask == NULL)
    return FALSE;
  g_ptr_array_add (self->trusted_proxies, mask);
  return TRUE;
}
