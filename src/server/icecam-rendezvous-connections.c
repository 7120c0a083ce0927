/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's connections: the WebSocket upgrade, and each WebSocket as a registry peer. */

#include "icecam-rendezvous-private.h"

#include <libsoup/soup.h>

#include "icecam-acceptor.h"
#include "icecam-admission.h"
#include "icecam-proxy-header.h"
#include "icecam-tcp-options.h"
#include "icecam-ws-stream.h"

/* Frames over the protocol's 64 KiB limit still reach the registry, which answers them with a
 * too-large error on an open connection; a message past this is refused before its payload is
 * read: on ws:// by the IcecamWsStream (close 1009), on wss:// and the libsoup stream by libsoup
 * itself (it drops the connection without a close frame). */
#define MAX_INCOMING_PAYLOAD_SIZE (1024 * 1024)
/* Our messages waiting for a client that does not read them (beyond what the kernel holds):
 * past this it is closed. An honest client on a slow link has a few presence lists waiting
 * (4096 cameras: ~300 KB each); one that stops reading while its peers send would otherwise
 * hold up to the message rate's worth a second until the keepalive gives up on it. */
#define MAX_QUEUED_OUTPUT (4 * 1024 * 1024)

/* ---- connections ---------------------------------------------------------------------- */

void
icecam_rendezvous_connection_free (Connection *conn)
{
  g_clear_signal_handler (&conn->message_handler, conn->ws);
  g_clear_signal_handler (&conn->closed_handler, conn->ws);
  g_clear_signal_handler (&conn->pong_handler, conn->ws);
  if (conn->slow_close != NULL) {
    g_source_destroy (conn->slow_close);
    g_clear_pointer (&conn->slow_close, g_source_unref);
  }
  if (conn->ping != NULL)
    icecam_ping_wheel_remove (conn->self->pings, g_steal_pointer (&conn->ping));
  if (conn->stream != NULL) {
    g_clear_signal_handler (&conn->oversized_handler, conn->stream);
    g_object_unref (conn->stream);
  }
  g_object_unref (conn->ws);
  g_free (conn->host);
  g_free (conn);
}

/* Out of the send that found it (the registry may be walking its peers then). */
static gboolean
close_slow_reader (gpointer data)
{
  Connection *conn = data;
  IcecamRendezvous *self = conn->self;
  guint64 id = conn->id;
  g_autofree gchar *text = g_strdup_printf ("over %d bytes of messages waiting, unread",
                                            MAX_QUEUED_OUTPUT);

  g_clear_pointer (&conn->slow_close, g_source_unref);
  icecam_rendezvous_log_refusal (self, ICECAM_OPS_LOG_SLOW_READER, id, conn->host, text);
  /* The output fails libsoup's close frame: the connection closes at once (may free conn). */
  soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION,
                                   "not reading");
  icecam_registry_evict_peer (self->registry, id);
  return G_SOURCE_REMOVE;
}

/* The bytes of a server's (unmasked) text frame of @length payload bytes. */
static guint64
frame_size (gsize length)
{
  return length + (length < 126 ? 2 : length <= G_MAXUINT16 ? 4 : 10);
}

/* Our messages: through the stream's output when it is ours (libsoup's send copies the text
 * twice and formats two debug lines per frame), else through libsoup. Either way, a client
 * with more than MAX_QUEUED_OUTPUT of them waiting is closed: on wss:// libsoup holds them,
 * and what it holds is what it was handed less what the output under it took (its own few
 * control frames make that a little less than it is). */
static void
connection_send_text (Connection *conn, const gchar *json)
{
  gsize length = strlen (json);
  IcecamWsOutput *output = conn->output != NULL ? conn->output : conn->tls_output;
  guint64 queued = 0;

  if (conn->output != NULL) {
    icecam_ws_output_send_text (conn->output, json, length);
    queued = icecam_ws_output_get_queued (conn->output);
  } else {
    soup_websocket_connection_send_text (conn->ws, json);
    if (conn->tls_output != NULL) {
      guint64 passed = icecam_ws_output_get_passed (conn->tls_output);

      conn->handed += frame_size (length);
      queued = conn->handed > passed ? conn->handed - passed : 0;
    }
  }
  if (conn->slow_close == NULL && output != NULL && queued > MAX_QUEUED_OUTPUT) {
    icecam_ws_output_abort (output); /* nothing more is queued for it */
    conn->slow_close = g_idle_source_new ();
    g_source_set_callback (conn->slow_close, close_slow_reader, conn, NULL);
    g_source_attach (conn->slow_close, conn->self->context);
  }
}

/* One line for the operator: which client (@host, connection @id) hit which limit. */
void
icecam_rendezvous_log_refusal (IcecamRendezvous *self, IcecamOpsLogKind kind, guint64 id,
                               const gchar *host, const gchar *text)
{
  icecam_ops_log_event (icecam_registry_get_ops_log (self->registry), kind,
                        "%s from %s (connection %" G_GUINT64_FORMAT "): %s",
                        icecam_ops_log_kind_to_string (kind), host, id, text);
}

/* Tells the client which limit it went over (@text), then closes; the admission refused it,
 * so it is no registry peer from here on and what it still sends is dropped. */
static void
refuse_connection_with (Connection *conn, IcecamOpsLogKind kind, IcecamErrorCode code,
                        const gchar *reason, const gchar *text)
{
  g_autoptr (IcecamMessage) error = NULL;
  g_autofree gchar *json = NULL;

  icecam_rendezvous_log_refusal (conn->self, kind, conn->id, conn->host, text);
  error = icecam_message_new_error (code, NULL, text);
  json = icecam_message_to_json (error);
  connection_send_text (conn, json);
  soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, reason);
}

static void
refuse_connection (Connection *conn, IcecamOpsLogKind kind, const gchar *reason,
                   const gchar *text)
{
  refuse_connection_with (conn, kind, ICECAM_ERROR_CODE_LIMIT_EXCEEDED, reason, text);
}

/* Where the client is: the connection's remote address (the PROXY header's, if a trusted
 * proxy sent one), or, when that is a trusted proxy, the rightmost untrusted hop of its
 * Forwarded (else X-Forwarded-For) header. %NULL with @error for a malformed header. */
static GSocketAddress *
client_address (IcecamRendezvous *self, SoupServerMessage *msg, GSocketAddress *remote,
                GError **error)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  const gchar *forwarded = soup_message_headers_get_list (headers, "Forwarded");
  const gchar *x_forwarded_for = soup_message_headers_get_list (headers, "X-Forwarded-For");
  GInetAddress *peer;
  g_autoptr (GPtrArray) hops = NULL;
  GInetSocketAddress *client;

  if (!G_IS_INET_SOCKET_ADDRESS (remote) || (forwarded == NULL && x_forwarded_for == NULL))
    return g_object_ref (remote);
  peer = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote));
  if (!icecam_proxy_is_trusted (self->trusted_proxies, peer))
    return g_object_ref (remote);
  hops = icecam_forwarded_parse (forwarded, x_forwarded_for, error);
  if (hops == NULL)
    return NULL;
  client = icecam_forwarded_pick_client (hops, self->trusted_proxies);
  return client != NULL ? G_SOCKET_ADDRESS (client) : g_object_ref (remote);
}

static void
on_websocket_message (SoupWebsocketConnection *ws, gint type, GBytes *message, Connection *conn)
{
  IcecamRendezvous *self = conn->self;
  guint64 id = conn->id;
  gsize size = 0;
  const gchar *data = g_bytes_get_data (message, &size);
  g_autofree gchar *refusal = NULL;

  if (conn->refused)
    return;
  switch (icecam_admission_message (self->admission, id, size, g_get_monotonic_time (),
                                    &refusal)) {
  case ICECAM_ADMISSION_ALLOW:
    break;
  case ICECAM_ADMISSION_OVER_RATE:
    refuse_connection (conn, ICECAM_OPS_LOG_MESSAGE_RATE, "message rate", refusal);
    /* Its sessions end now, not when the close handshake is done, and for good. */
    icecam_registry_evict_peer (self->registry, id);
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
  g_autoptr (GError) forwarding_error = NULL;
  g_autoptr (GSocketAddress) client = client_address (self, msg, remote_address,
                                                      &forwarding_error);
  g_autofree gchar *remote = icecam_rendezvous_socket_address_to_string (
    client != NULL ? client : remote_address);
  g_autoptr (GPtrArray) servers =
    icecam_rendezvous_peer_ice_servers (self, soup_server_message_get_local_address (msg));
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
  if (client == NULL)
    client = g_object_ref (remote_address);
  conn->host = G_IS_INET_SOCKET_ADDRESS (client)
    ? icecam_rendezvous_host_to_string (
        g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (client)))
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
  if (forwarding_error != NULL) {
    conn->refused = TRUE;
    refuse_connection_with (conn, ICECAM_OPS_LOG_PROXY_REFUSED, ICECAM_ERROR_CODE_MALFORMED,
                            "forwarding header", forwarding_error->message);
    return;
  }
  switch (icecam_admission_open (self->admission, conn->id, conn->host,
                                 g_get_monotonic_time (), &refusal)) {
  case ICECAM_ADMISSION_ALLOW:
    icecam_registry_add_peer (self->registry, conn->id, remote, servers);
    break;
  case ICECAM_ADMISSION_TOO_MANY_CONNECTIONS:
    refuse_connection (conn, ICECAM_OPS_LOG_PER_ADDRESS, "connections per address", refusal);
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

/* A ws:// client announced a frame over the limit: nothing of it was read, nor will be. */
static void
on_ws_stream_oversized (IcecamWsStream *stream, guint64 length, Connection *conn)
{
  IcecamRendezvous *self = conn->self;
  guint64 id = conn->id;
  g_autofree gchar *text = NULL;

  if (soup_websocket_connection_get_state (conn->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  text = g_strdup_printf ("a message of %" G_GUINT64_FORMAT " bytes, over the %d byte limit",
                          length, MAX_INCOMING_PAYLOAD_SIZE);
  icecam_rendezvous_log_refusal (self, ICECAM_OPS_LOG_FRAME_TOO_BIG, conn->id, conn->host, text);
  soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_TOO_BIG, "message too big");
  /* Its sessions end now: whatever it meant to say is lost. */
  icecam_registry_evict_peer (self->registry, id);
}

/* The 101 is written: the connection becomes a WebSocket, as in libsoup's own handler
 * (soup-server.c, complete_websocket_upgrade()), except that the stream is wrapped in an
 * IcecamWsStream: on plain TCP its input sources cost O(1) instead of O(connections), and on
 * both its output lets the ping wheel send the keepalive pings. */
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
  if (socket == NULL) {
    wrapped = g_object_ref (stream);
  } else if (self->tls) {
    /* libsoup reads TLS as it is (and enforces the frame limit itself); the output is ours. */
    wrapped = G_IO_STREAM (icecam_ws_stream_new (stream, NULL));
  } else {
    wrapped = G_IO_STREAM (icecam_ws_stream_new (stream, socket));
    icecam_ws_stream_set_max_payload (ICECAM_WS_STREAM (wrapped), MAX_INCOMING_PAYLOAD_SIZE);
  }
  ws = soup_websocket_connection_new (
      wrapped, uri, SOUP_WEBSOCKET_CONNECTION_SERVER,
      soup_message_headers_get_one (request, "Origin"),
      soup_message_headers_get_one (response, "Sec-WebSocket-Protocol"),
      extensions);
  on_server_websocket (self->server, msg, g_uri_get_path (uri), ws, self);
  /* The connection, if kept, hears of a frame over the limit; its handler goes with it. */
  if (ICECAM_IS_WS_STREAM (wrapped)) {
    guint64 id = 0;
    Connection *conn = NULL;

    icecam_acceptor_lookup (self->acceptor, soup_server_message_get_remote_address (msg), &id);
    conn = g_hash_table_lookup (self->connections, &id);
    if (conn != NULL && conn->ws == ws) {
      conn->stream = G_OBJECT (g_object_ref (wrapped));
      conn->oversized_handler = g_signal_connect (wrapped, "oversized",
                                                  G_CALLBACK (on_ws_stream_oversized), conn);
      /* Its pings come from the wheel, spread over the interval, not from libsoup's seconds
       * timer (which fires for every connection of the same second at once). Not over TLS:
       * GnuTLS keeps a record libsoup's write was refused for (would block) and sends it with
       * the next write, ours, so the frames' boundaries cannot be followed there; wss://
       * connections keep libsoup's own pings. */
      if (!self->tls) {
        soup_websocket_connection_set_keepalive_interval (ws, 0);
        conn->output = ICECAM_WS_OUTPUT (g_io_stream_get_output_stream (wrapped));
        conn->ping = icecam_ping_wheel_add (self->pings, conn->output);
      } else {
        conn->tls_output = ICECAM_WS_OUTPUT (g_io_stream_get_output_stream (wrapped));
      }
    }
  }
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
void
icecam_rendezvous_add_websocket_handler (IcecamRendezvous *self)
{
  if (self->ws_stream == ICECAM_RENDEZVOUS_WS_STREAM_LIBSOUP)
    soup_server_add_websocket_handler (self->server, "/ws", NULL, NULL, on_server_websocket,
                                       self, NULL);
  else
    soup_server_add_handler (self->server, "/ws", on_server_websocket_request, self, NULL);
}

static Connection *
lookup_open_websocket (IcecamRendezvous *self, guint64 peer_id)
{
  Connection *conn = g_hash_table_lookup (self->connections, &peer_id);

  if (conn == NULL || soup_websocket_connection_get_state (conn->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return NULL;
  return conn;
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

void
icecam_rendezvous_on_registry_send (IcecamRegistry *registry, guint64 peer_id,
                                    IcecamMessage *msg, IcecamRendezvous *self)
{
  Connection *conn = lookup_open_websocket (self, peer_id);
  g_autofree gchar *json = NULL;

  if (conn == NULL) {
    g_debug ("peer %" G_GUINT64_FORMAT ": not open, dropping '%s'", peer_id,
             icecam_message_type_to_string (msg->type));
    return;
  }
  /* Its hello was good: the hello deadline is met. */
  if (msg->type == ICECAM_MESSAGE_WELCOME)
    icecam_admission_welcomed (self->admission, peer_id);
  if (msg->type == ICECAM_MESSAGE_PRESENCE) {
    connection_send_text (conn, presence_to_json (self, msg));
    return;
  }
  json = icecam_message_to_json (msg);
  connection_send_text (conn, json);
}

void
icecam_rendezvous_on_registry_close (IcecamRegistry *registry, guint64 peer_id,
                                     const gchar *reason, IcecamRendezvous *self)
{
  Connection *conn = lookup_open_websocket (self, peer_id);

  /* Queued after what was sent before, so the peer reads the error first (libsoup's close
   * frame waits for our texts: icecam_ws_output_send_text()). */
  if (conn != NULL)
    soup_websocket_connection_close (conn->ws, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, reason);
}

void
icecam_rendezvous_on_registry_replaced (IcecamRegistry *registry, guint64 peer_id,
                                        IcecamRendezvous *self)
{
  Connection *conn = lookup_open_websocket (self, peer_id);

  if (conn != NULL)
    soup_websocket_connection_close (conn->ws, ICECAM_PROTOCOL_CLOSE_REPLACED,
                                     ICECAM_PROTOCOL_CLOSE_REPLACED_REASON);
}

/* ---- accepted connections ------------------------------------------------------------- */

gboolean
icecam_rendezvous_on_acceptor_accepted (IcecamAcceptor *acceptor, guint64 id,
                                        GSocketAddress *remote, IcecamRendezvous *self)
{
  if (icecam_admission_accept (self->admission, id, g_get_monotonic_time ()) ==
      ICECAM_ADMISSION_ALLOW)
    return TRUE;
  {
    g_autofree gchar *host = icecam_rendezvous_socket_address_to_string (remote);
    g_autofree gchar *text = g_strdup_printf ("%u connections open, the maximum "
                                              "(--max-connections)",
                                              icecam_admission_get_max_connections (
                                                self->admission));

    icecam_rendezvous_log_refusal (self, ICECAM_OPS_LOG_GLOBAL_CAP, id, host, text);
  }
  return FALSE;
}

void
icecam_rendezvous_on_acceptor_closed (IcecamAcceptor *acceptor, guint64 id,
                                      IcecamRendezvous *self)
{
  icecam_admission_close (self->admission, id);
}

/* STUN over TCP on the signalling port: bounded by its own timeout, counted as STUN. */
void
icecam_rendezvous_on_acceptor_stun (IcecamAcceptor *acceptor, guint64 id,
                                    IcecamStunTcp *stun_tcp, IcecamRendezvous *self)
{
  icecam_admission_not_http (self->admission, id);
  if (self->stun != NULL)
    icecam_stun_responder_add_tcp (self->stun, stun_tcp);
}

void
icecam_rendezvous_on_acceptor_proxy_refused (IcecamAcceptor *acceptor, guint64 id,
                                             GSocketAddress *remote, const gchar *reason,
                                             IcecamRendezvous *self)
{
  g_autofree gchar *host = icecam_rendezvous_socket_address_to_string (remote);

  icecam_rendezvous_log_refusal (self, ICECAM_OPS_LOG_PROXY_REFUSED, id, host, reason);
}
