/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous service: WebSocket signalling, health endpoints and the STUN responder. */

#include "icecam-rendezvous.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <libsoup/soup.h>

#include "icecam-acceptor.h"
#include "icecam-admission.h"
#include "icecam-http-endpoints.h"
#include "icecam-stun-responder.h"
#include "icecam-tcp-options.h"
#include "icecam-ws-stream.h"

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
 *
 * Threading: create and use the object in one thread. Its sockets, callbacks and the registry's
 * signals run in the #GMainContext that was thread-default when the object was created, which
 * must be iterated for it to serve.
 */

/* Frames over the protocol's 64 KiB limit still reach the registry, which answers them with a
 * too-large error on an open connection; only frames past this are cut off by libsoup. */
#define MAX_INCOMING_PAYLOAD_SIZE (1024 * 1024)

/* Connections the kernel queues for accept(): GLib's default of 10 dropped SYNs when a few
 * hundred devices reconnected at once (docs/benchmarks.md, section 4). */
#define LISTEN_BACKLOG 1024

typedef struct {
  IcecamRendezvous *self;   /* borrowed: connections never outlive the rendezvous */
  guint64 id;               /* the registry's peer id */
  SoupWebsocketConnection *ws;
  gulong message_handler;
  gulong closed_handler;
  gchar *host;              /* the client's IP address, as the admission counts it */
  gulong pong_handler;
} Connection;

struct _IcecamRendezvous {
  GObject parent_instance;

  GMainContext *context;
  SoupServer *server;
  GPtrArray *websocket_extension_types; /* what libsoup offers by default: permessage-deflate */
  IcecamRendezvousWsStream ws_stream;
  IcecamRegistry *registry;
  GHashTable *connections;          /* &Connection.id → Connection (owned) */
  IcecamAcceptor *acceptor;         /* connection ids are its ids */
  IcecamAdmission *admission;
  gchar **presence_cameras;         /* the last presence list sent, and its JSON text */
  gchar *presence_json;

  GSource *silence_check;
  GSource *deadline_check;
  GSource *registry_tick;           /* the registry's timed work: relay credential renewals */

  GInetAddress *listen_address;     /* NULL until listening */
  guint port;

  gboolean stun_enabled;
  GInetSocketAddress *stun_address; /* as configured; NULL: the WebSocket's host and port */
  GInetAddress *stun_alternate;     /* RFC 5780's second IP, or NULL */
  IcecamStunResponder *stun;        /* NULL unless listening */
  GInetAddress *stun_host;          /* the host the responder is bound to */
  gboolean tls;             /* serve wss:// with the server's tls-certificate */
};

G_DEFINE_FINAL_TYPE (IcecamRendezvous, icecam_rendezvous, G_TYPE_OBJECT)

/* ---- addresses ------------------------------------------------------------------------ */

/* @address as a URL host: IPv4-mapped IPv6 as plain IPv4, other IPv6 in brackets. */
static gchar *
host_to_string (GInetAddress *address)
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
  g_autofree gchar *host = host_to_string (address);

  return g_strdup_printf ("%s:%u", host, port);
}

static gchar *
socket_address_to_string (GSocketAddress *address)
{
  GInetSocketAddress *inet;

  if (!G_IS_INET_SOCKET_ADDRESS (address))
    return g_strdup ("unknown");
  inet = G_INET_SOCKET_ADDRESS (address);
  return host_port_to_string (g_inet_socket_address_get_address (inet),
                              g_inet_socket_address_get_port (inet));
}

/* The STUN server as a client that reached us at @local sees it, listed first in its welcome. */
static GPtrArray *
peer_ice_servers (IcecamRendezvous *self, GSocketAddress *local)
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

/* ---- connections ---------------------------------------------------------------------- */

static void
connection_free (Connection *conn)
{
  g_clear_signal_handler (&conn->message_handler, conn->ws);
  g_clear_signal_handler (&conn->closed_handler, conn->ws);
  g_clear_signal_handler (&conn->pong_handler, conn->ws);
  g_object_unref (conn->ws);
  g_free (conn->host);
  g_free (conn);
}

/* Tells the client which limit it went over (@text), then closes; the admission refused it,
 * so it is no registry peer from here on and what it still sends is dropped. */
static void
refuse_connection (Connection *conn, const gchar *reason, const gchar *text)
{
  g_autoptr (IcecamMessage) error = NULL;
  g_autofree gchar *json = NULL;

  g_info ("peer %" G_GUINT64_FORMAT " (%s): %s", conn->id, conn->host, text);
  error = icecam_message_new_error (ICECAM_ERROR_CODE_LIMIT_EXCEEDED, NULL, text);
  json = icecam_message_to_json (error);
  soup_websocket_connection_send_text (conn->ws, json);
  soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, reason);
}

static void
on_websocket_message (SoupWebsocketConnection *ws, gint type, GBytes *message, Connection *conn)
{
  IcecamRendezvous *self = conn->self;
  guint64 id = conn->id;
  gsize size = 0;
  const gchar *data = g_bytes_get_data (message, &size);
  g_autofree gchar *refusal = NULL;

  switch (icecam_admission_message (self->admission, id, size, g_get_monotonic_time (),
                                    &refusal)) {
  case ICECAM_ADMISSION_ALLOW:
    break;
  case ICECAM_ADMISSION_OVER_RATE:
    refuse_connection (conn, "message rate", refusal);
    /* Its sessions end now, not when the close handshake is done. */
    icecam_registry_remove_peer (self->registry, id);
    return;
  default: /* refused before: dropped */
    return;
  }
  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    icecam_registry_send_error (self->registry, id, ICECAM_ERROR_CODE_MALFORMED, NULL,
                                "binary frames are not accepted, send JSON text frames");
    return;
  }
  /* conn may be freed from here on: closing handlers can run inside the registry's signals. */
  icecam_registry_handle_text (self->registry, id, data, size);
}

static void
on_websocket_pong (SoupWebsocketConnection *ws, GBytes *message, Connection *conn)
{
  icecam_admission_heard (conn->self->admission, conn->id, g_get_monotonic_time ());
}

static gboolean
on_registry_tick (gpointer user_data)
{
  IcecamRendezvous *self = user_data;

  icecam_registry_expire (self->registry, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

/* Closes the connections that have been silent for longer than the limit; runs every
 * keepalive interval, so a dead client goes within limit + interval. */
static gboolean
check_silence (gpointer user_data)
{
  IcecamRendezvous *self = user_data;
  g_autoptr (GArray) silent = icecam_admission_take_silent (self->admission,
                                                            g_get_monotonic_time ());

  /* Closing can run the registry's signals; look each one up again. */
  for (guint i = 0; i < silent->len; i++) {
    guint64 id = g_array_index (silent, guint64, i);
    Connection *conn = g_hash_table_lookup (self->connections, &id);

    if (conn == NULL)
      continue;
    g_info ("peer %" G_GUINT64_FORMAT " (%s): silent for over %u s, closing", id, conn->host,
            icecam_admission_get_silence_limit (self->admission));
    soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
                                     "no answer to pings");
    icecam_registry_remove_peer (self->registry, id);
  }
  return G_SOURCE_CONTINUE;
}

/* Shuts down the connections that missed their handshake or hello deadline: libsoup or the
 * WebSocket reads end-of-file and closes them. An upgraded one is told why first, and its
 * registry peer goes at once. */
static gboolean
check_deadlines (gpointer user_data)
{
  IcecamRendezvous *self = user_data;
  g_autoptr (GArray) overdue = icecam_admission_take_overdue (self->admission,
                                                              g_get_monotonic_time ());

  for (guint i = 0; i < overdue->len; i++) {
    guint64 id = g_array_index (overdue, guint64, i);
    Connection *conn = g_hash_table_lookup (self->connections, &id);

    if (conn == NULL) {
      g_debug ("connection %" G_GUINT64_FORMAT ": no WebSocket upgrade in time, closing", id);
    } else {
      g_info ("peer %" G_GUINT64_FORMAT " (%s): no hello in time, closing", id, conn->host);
      if (soup_websocket_connection_get_state (conn->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                         "no hello in time");
      icecam_registry_remove_peer (self->registry, id);
    }
    icecam_acceptor_shutdown (self->acceptor, id);
  }
  return G_SOURCE_CONTINUE;
}

static void
on_websocket_closed (SoupWebsocketConnection *ws, Connection *conn)
{
  IcecamRendezvous *self = conn->self;
  guint64 id = conn->id;

  g_debug ("peer %" G_GUINT64_FORMAT ": WebSocket closed (code %u)", id,
           soup_websocket_connection_get_close_code (ws));
  icecam_admission_close (self->admission, id);
  g_hash_table_remove (self->connections, &id);
  icecam_registry_remove_peer (self->registry, id);
}

static void
on_server_websocket (SoupServer *server, SoupServerMessage *msg, const char *path,
                     SoupWebsocketConnection *ws, gpointer user_data)
{
  IcecamRendezvous *self = user_data;
  Connection *conn;
  GSocketAddress *remote_address = soup_server_message_get_remote_address (msg);
  g_autofree gchar *remote = socket_address_to_string (remote_address);
  g_autoptr (GPtrArray) servers =
    peer_ice_servers (self, soup_server_message_get_local_address (msg));
  g_autofree gchar *refusal = NULL;
  guint64 id = 0;

  /* Every connection comes through the acceptor; one it does not know is already gone. */
  if (icecam_acceptor_lookup (self->acceptor, remote_address, &id) == NULL) {
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    return;
  }
  conn = g_new0 (Connection, 1);
  conn->self = self;
  conn->id = id;
  conn->ws = g_object_ref (ws);
  conn->host = G_IS_INET_SOCKET_ADDRESS (remote_address)
    ? host_to_string (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote_address)))
    : g_strdup ("unknown");
  soup_websocket_connection_set_max_incoming_payload_size (ws, MAX_INCOMING_PAYLOAD_SIZE);
  soup_websocket_connection_set_keepalive_interval (
    ws, icecam_admission_get_keepalive_interval (self->admission));
  conn->pong_handler = g_signal_connect (ws, "pong", G_CALLBACK (on_websocket_pong), conn);
  conn->message_handler = g_signal_connect (ws, "message", G_CALLBACK (on_websocket_message),
                                            conn);
  conn->closed_handler = g_signal_connect (ws, "closed", G_CALLBACK (on_websocket_closed), conn);
  g_hash_table_insert (self->connections, &conn->id, conn);

  g_debug ("peer %" G_GUINT64_FORMAT ": WebSocket from %s", conn->id, remote);
  switch (icecam_admission_open (self->admission, conn->id, conn->host,
                                 g_get_monotonic_time (), &refusal)) {
  case ICECAM_ADMISSION_ALLOW:
    icecam_registry_add_peer (self->registry, conn->id, remote, servers);
    break;
  case ICECAM_ADMISSION_TOO_MANY_CONNECTIONS:
    refuse_connection (conn, "connections per address", refusal);
    break;
  default: /* accepted before, and the host never empty: not reached */
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_SERVER_ERROR, NULL);
    break;
  }
}

static void
free_extensions (gpointer list)
{
  g_list_free_full (list, g_object_unref);
}

/* The 101 is written: the connection becomes a WebSocket, as in libsoup's own handler
 * (soup-server.c, complete_websocket_upgrade()), except that a plain TCP connection's stream is
 * wrapped in an IcecamWsStream, whose input sources cost O(1) instead of O(connections). */
static void
on_websocket_upgraded (SoupServerMessage *msg, IcecamRendezvous *self)
{
  g_autoptr (SoupServerMessage) hold = g_object_ref (msg);
  /* The acceptor holds it while the connection is open. */
  GSocket *socket = icecam_acceptor_lookup (self->acceptor,
                                            soup_server_message_get_remote_address (msg), NULL);
  GList *extensions = g_object_steal_data (G_OBJECT (msg), "icecam-websocket-extensions");
  SoupMessageHeaders *request = soup_server_message_get_request_headers (msg);
  SoupMessageHeaders *response = soup_server_message_get_response_headers (msg);
  GUri *uri = soup_server_message_get_uri (msg);
  g_autoptr (GIOStream) stream = soup_server_message_steal_connection (msg);
  g_autoptr (GIOStream) wrapped = NULL;
  g_autoptr (SoupWebsocketConnection) ws = NULL;
  g_autoptr (GError) error = NULL;

  /* A client whose network vanished must not hold its camera id for long. */
  if (socket != NULL &&
      !icecam_tcp_set_dead_peer_timeout (socket, ICECAM_TCP_DEAD_PEER_TIMEOUT_S, &error))
    g_debug ("cannot set the dead peer timeout: %s", error->message);
  if (self->tls || socket == NULL)
    wrapped = g_object_ref (stream);
  else
    wrapped = G_IO_STREAM (icecam_ws_stream_new (stream, socket));
  ws = soup_websocket_connection_new (
      wrapped, uri, SOUP_WEBSOCKET_CONNECTION_SERVER,
      soup_message_headers_get_one (request, "Origin"),
      soup_message_headers_get_one (response, "Sec-WebSocket-Protocol"),
      extensions);
  on_server_websocket (self->server, msg, g_uri_get_path (uri), ws, self);
}

static void
on_server_websocket_request (SoupServer *server, SoupServerMessage *msg, const char *path,
                             GHashTable *query, gpointer user_data)
{
  IcecamRendezvous *self = user_data;
  GList *extensions = NULL;

  /* On failure the handshake has set 400 and its reason. */
  if (!soup_websocket_server_process_handshake (msg, NULL, NULL, self->websocket_extension_types,
                                                &extensions))
    return;
  g_object_set_data_full (G_OBJECT (msg), "icecam-websocket-extensions", extensions,
                          free_extensions);
  g_signal_connect_object (msg, "wrote-informational", G_CALLBACK (on_websocket_upgraded), self,
                           0);
}

/* The /ws handler for the chosen stream: our own upgrade, or libsoup's whole WebSocket path. */
static void
add_websocket_handler (IcecamRendezvous *self)
{
  if (self->ws_stream == ICECAM_RENDEZVOUS_WS_STREAM_LIBSOUP)
    soup_server_add_websocket_handler (self->server, "/ws", NULL, NULL, on_server_websocket,
                                       self, NULL);
  else
    soup_server_add_handler (self->server, "/ws", on_server_websocket_request, self, NULL);
}

static const gchar *
ws_stream_to_string (IcecamRendezvousWsStream stream)
{
  return stream == ICECAM_RENDEZVOUS_WS_STREAM_LIBSOUP ? "libsoup" : "epoll";
}

static SoupWebsocketConnection *
lookup_open_websocket (IcecamRendezvous *self, guint64 peer_id)
{
  Connection *conn = g_hash_table_lookup (self->connections, &peer_id);

  if (conn == NULL || soup_websocket_connection_get_state (conn->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return NULL;
  return conn->ws;
}

/* A camera coming or going sends every viewer the same list: written once, not per viewer
 * (with thousands of cameras the JSON of one list takes milliseconds). */
static const gchar *
presence_to_json (IcecamRendezvous *self, const IcecamMessage *msg)
{
  if (self->presence_json == NULL ||
      !g_strv_equal ((const gchar * const *) self->presence_cameras,
                     (const gchar * const *) msg->cameras)) {
    g_strfreev (self->presence_cameras);
    g_free (self->presence_json);
    self->presence_cameras = g_strdupv (msg->cameras);
    self->presence_json = icecam_message_to_json (msg);
  }
  return self->presence_json;
}

static void
on_registry_send (IcecamRegistry *registry, guint64 peer_id, IcecamMessage *msg,
                  IcecamRendezvous *self)
{
  SoupWebsocketConnection *ws = lookup_open_websocket (self, peer_id);
  g_autofree gchar *json = NULL;

  if (ws == NULL) {
    g_debug ("peer %" G_GUINT64_FORMAT ": not open, dropping '%s'", peer_id,
             icecam_message_type_to_string (msg->type));
    return;
  }
  /* Its hello was good: the hello deadline is met. */
  if (msg->type == ICECAM_MESSAGE_WELCOME)
    icecam_admission_welcomed (self->admission, peer_id);
  if (msg->type == ICECAM_MESSAGE_PRESENCE) {
    soup_websocket_connection_send_text (ws, presence_to_json (self, msg));
    return;
  }
  json = icecam_message_to_json (msg);
  soup_websocket_connection_send_text (ws, json);
}

static void
on_registry_close (IcecamRegistry *registry, guint64 peer_id, const gchar *reason,
                   IcecamRendezvous *self)
{
  SoupWebsocketConnection *ws = lookup_open_websocket (self, peer_id);

  /* Queued after what was sent before, so the peer reads the error first. */
  if (ws != NULL)
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, reason);
}

static void
on_registry_replaced (IcecamRegistry *registry, guint64 peer_id, IcecamRendezvous *self)
{
  SoupWebsocketConnection *ws = lookup_open_websocket (self, peer_id);

  if (ws != NULL)
    soup_websocket_connection_close (ws, ICECAM_PROTOCOL_CLOSE_REPLACED,
                                     ICECAM_PROTOCOL_CLOSE_REPLACED_REASON);
}

/* ---- accepted connections ------------------------------------------------------------- */

static gboolean
on_acceptor_accepted (IcecamAcceptor *acceptor, guint64 id, GSocketAddress *remote,
                      IcecamRendezvous *self)
{
  if (icecam_admission_accept (self->admission, id, g_get_monotonic_time ()) ==
      ICECAM_ADMISSION_ALLOW)
    return TRUE;
  g_debug ("connection %" G_GUINT64_FORMAT ": %u connections open, the maximum: refused", id,
           icecam_admission_get_max_connections (self->admission));
  return FALSE;
}

static void
on_acceptor_closed (IcecamAcceptor *acceptor, guint64 id, IcecamRendezvous *self)
{
  icecam_admission_close (self->admission, id);
}

/* ---- health and metrics --------------------------------------------------------------- */

static void
get_http_stats (IcecamHttpEndpointsStats *stats, gpointer user_data)
{
  IcecamRendezvous *self = user_data;

  icecam_registry_get_stats (self->registry, &stats->registry);
  icecam_admission_get_stats (self->admission, &stats->admission);
  stats->stun_running = self->stun != NULL;
  if (self->stun != NULL)
    icecam_stun_responder_get_stats (self->stun, &stats->stun);
}

/* ---- listening ------------------------------------------------------------------------ */

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
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket, IPPROTO_IPV6, IPV6_V6ONLY, TRUE, NULL);
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

/* The STUN responder's address rule; see the class documentation. */
static gboolean
listen_stun (IcecamRendezvous *self, gboolean ws_port_was_ephemeral, GError **error)
{
  g_autoptr (GSocketAddress) same_port = NULL;
  g_autoptr (GSocketAddress) any_port = NULL;
  g_autoptr (GError) local_error = NULL;

  if (self->stun_address != NULL) {
    if (try_listen_stun (self, self->stun_address, error))
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
  if (try_listen_stun (self, G_INET_SOCKET_ADDRESS (any_port), error))
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
  return socket_address_to_string (G_SOCKET_ADDRESS (other));
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
 * icecam_rendezvous_set_max_connections_per_address:
 * @self: a rendezvous
 * @max: how many signalling connections one IP address may hold open; 0 for no limit
 *
 * A connection over the limit gets an `error` with code `limit-exceeded` and is closed before
 * it is a peer: nothing it sends is read. Default:
 * %ICECAM_ADMISSION_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS.
 */
void
icecam_rendezvous_set_max_connections_per_address (IcecamRendezvous *self, guint max)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));

  icecam_admission_set_max_connections_per_address (self->admission, max);
}

/**
 * icecam_rendezvous_set_message_rate:
 * @self: a rendezvous
 * @per_second: messages one connection may send per second, sustained; 0 for no limit
 * @burst: how many it may send at once (at least 1)
 *
 * A token bucket per connection; each further 4 KiB of a message costs one more message.
 * A connection over its rate gets an `error` with code `limit-exceeded` and is closed: its
 * sessions end as if it had left. Defaults: %ICECAM_ADMISSION_DEFAULT_MESSAGE_RATE,
 * %ICECAM_ADMISSION_DEFAULT_MESSAGE_BURST. Applies to connections opened afterwards.
 */
void
icecam_rendezvous_set_message_rate (IcecamRendezvous *self, guint per_second, guint burst)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));
  g_return_if_fail (burst >= 1);

  icecam_admission_set_message_rate (self->admission, per_second, burst);
}

static void
stop_check (GSource **check)
{
  if (*check != NULL) {
    g_source_destroy (*check);
    g_clear_pointer (check, g_source_unref);
  }
}

/* (Re)starts the periodic check @check, which runs @func every @source's interval. */
static void
start_check (IcecamRendezvous *self, GSource **check, GSource *source, GSourceFunc func)
{
  stop_check (check);
  *check = source;
  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
}

static void
start_silence_check (IcecamRendezvous *self)
{
  start_check (self, &self->silence_check,
               g_timeout_source_new_seconds (
                 icecam_admission_get_keepalive_interval (self->admission)),
               check_silence);
}

/**
 * icecam_rendezvous_set_keepalive:
 * @self: a rendezvous
 * @interval_s: seconds between the pings sent on every signalling connection (at least 1)
 * @silence_limit_s: a connection that neither sent a message nor answered a ping for this
 *   long is closed and its peer removed (more than @interval_s)
 *
 * Defaults: a ping every 20 s, closed after 60 s of silence. Applies to connections opened
 * afterwards.
 */
void
icecam_rendezvous_set_keepalive (IcecamRendezvous *self, guint interval_s, guint silence_limit_s)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));
  g_return_if_fail (interval_s >= 1 && silence_limit_s > interval_s);

  icecam_admission_set_keepalive (self->admission, interval_s, silence_limit_s);
  start_silence_check (self);
}

static void
start_deadline_check (IcecamRendezvous *self)
{
  start_check (self, &self->deadline_check,
               g_timeout_source_new (
                 icecam_admission_get_deadline_check_interval_ms (self->admission)),
               check_deadlines);
}

/* The process's descriptor limit as it is now, less a reserve for everything else. */
static guint
default_max_connections (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return 0;
  return icecam_admission_max_connections_for_descriptors (limit.rlim_cur);
}

/**
 * icecam_rendezvous_set_deadlines:
 * @self: a rendezvous
 * @handshake_s: seconds a TCP connection has from accept() to finish its HTTP request and
 *   WebSocket upgrade (plain HTTP: to be answered and closed); 0 for no deadline
 * @hello_s: seconds an upgraded connection has to say a `hello` the server welcomes; 0 for no
 *   deadline
 *
 * A connection that misses either is shut down and counted (`deadline_closed`). Defaults:
 * %ICECAM_ADMISSION_DEFAULT_HANDSHAKE_TIMEOUT_S, %ICECAM_ADMISSION_DEFAULT_HELLO_TIMEOUT_S.
 * Applies to connections that start those stages afterwards.
 */
void
icecam_rendezvous_set_deadlines (IcecamRendezvous *self, guint handshake_s, guint hello_s)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));

  icecam_admission_set_deadlines (self->admission, handshake_s, hello_s);
  start_deadline_check (self);
}

/**
 * icecam_rendezvous_set_max_connections:
 * @self: a rendezvous
 * @max: how many TCP connections the service holds at most, in any state; 0 for no limit
 *
 * Connections beyond it are closed as soon as they are accepted and counted
 * (`capacity_refused`). Default: the descriptor limit (RLIMIT_NOFILE) when the rendezvous was
 * created, less %ICECAM_ADMISSION_DESCRIPTOR_RESERVE.
 */
void
icecam_rendezvous_set_max_connections (IcecamRendezvous *self, guint max)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));

  icecam_admission_set_max_connections (self->admission, max);
}

/**
 * icecam_rendezvous_get_max_connections:
 * @self: a rendezvous
 *
 * Returns: the global connection cap, 0 for none
 */
guint
icecam_rendezvous_get_max_connections (IcecamRendezvous *self)
{
  g_return_val_if_fail (ICECAM_IS_RENDEZVOUS (self), 0);

  return icecam_admission_get_max_connections (self->admission);
}

/**
 * icecam_rendezvous_set_ipv6_prefix_length:
 * @self: a rendezvous
 * @length: IPv6 clients count for the per-address limit by this many leading bits, 1 to 128
 *
 * Default: %ICECAM_ADMISSION_DEFAULT_IPV6_PREFIX_LENGTH.
 */
void
icecam_rendezvous_set_ipv6_prefix_length (IcecamRendezvous *self, guint length)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));
  g_return_if_fail (length >= 1 && length <= 128);

  icecam_admission_set_ipv6_prefix_length (self->admission, length);
}

/**
 * icecam_rendezvous_get_admission_stats:
 * @self: a rendezvous
 * @stats: (out caller-allocates): the admission counters, as /healthz reports them
 */
void
icecam_rendezvous_get_admission_stats (IcecamRendezvous *self, IcecamAdmissionStats *stats)
{
  g_return_if_fail (ICECAM_IS_RENDEZVOUS (self));

  icecam_admission_get_stats (self->admission, stats);
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
  add_websocket_handler (self);
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
  stop_check (&self->silence_check);
  stop_check (&self->deadline_check);
  stop_check (&self->registry_tick);
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
                                             (GDestroyNotify) connection_free);
  self->admission = icecam_admission_new ();
  icecam_admission_set_max_connections (self->admission, default_max_connections ());
  start_silence_check (self);
  start_deadline_check (self);
  self->registry_tick = g_timeout_source_new_seconds (1);
  g_source_set_callback (self->registry_tick, on_registry_tick, self, NULL);
  g_source_attach (self->registry_tick, self->context);
  g_signal_connect (self->registry, "send", G_CALLBACK (on_registry_send), self);
  g_signal_connect (self->registry, "close", G_CALLBACK (on_registry_close), self);
  g_signal_connect (self->registry, "replaced", G_CALLBACK (on_registry_replaced), self);

  self->server = soup_server_new ("server-header", "icecam-rendezvous ", NULL);
  self->acceptor = icecam_acceptor_new (self->server);
  g_signal_connect (self->acceptor, "accepted", G_CALLBACK (on_acceptor_accepted), self);
  g_signal_connect (self->acceptor, "closed", G_CALLBACK (on_acceptor_closed), self);
  self->websocket_extension_types = g_ptr_array_new_with_free_func (g_type_class_unref);
  g_ptr_array_add (self->websocket_extension_types,
                   g_type_class_ref (SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE));
  add_websocket_handler (self);
  icecam_http_endpoints_add (self->server, get_http_stats, self);
}
