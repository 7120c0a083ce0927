/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Integration tests: the real rendezvous on 127.0.0.1, WebSocket clients in the same process. */

#include "icecam-rendezvous.h"
#include "icecam-signalling-client.h"

#include <string.h>
#include <signal.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "icecam-test-util.h"

static const gchar *test_sdp = "v=0\r\no=- 7 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                               "m=video 9 UDP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
                               "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\n";

/* One WebSocket client and the messages it received, parsed. */
typedef struct {
  SoupWebsocketConnection *ws;
  GQueue received;
  gboolean closed;
} Client;

typedef struct {
  IcecamRendezvous *rendezvous;
  SoupSession *session;
  gchar *uri;
  GPtrArray *clients;
} Fixture;

/* ---- clients ---------------------------------------------------------------------------- */

static void
on_client_message (SoupWebsocketConnection *ws, gint type, GBytes *bytes, Client *client)
{
  gsize size = 0;
  const gchar *data = g_bytes_get_data (bytes, &size);
  g_autoptr (GError) error = NULL;
  IcecamMessage *msg;

  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  g_test_message ("client %p ← %.*s", (gpointer) client, (int) size, data);
  /* Everything the server sends must be valid protocol. */
  msg = icecam_message_parse (data, size, &error);
  g_assert_no_error (error);
  g_queue_push_tail (&client->received, msg);
}

static void
on_client_closed (SoupWebsocketConnection *ws, Client *client)
{
  client->closed = TRUE;
}

static void
client_free (Client *client)
{
  g_signal_handlers_disconnect_by_data (client->ws, client);
  g_object_unref (client->ws);
  g_queue_clear_full (&client->received, (GDestroyNotify) icecam_message_free);
  g_free (client);
}

static IcecamMessage *client_expect (Client *client, IcecamMessageType type);

static void
store_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

/* A WebSocket to the server, before anything is read from it. */
static Client *
client_open (Fixture *f, const gchar *uri)
{
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, uri);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  Client *client = g_new0 (Client, 1);

  soup_session_websocket_connect_async (f->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        store_result_cb, &result);
  g_assert_true (WAIT_UNTIL (result != NULL));
  client->ws = soup_session_websocket_connect_finish (f->session, result, &error);
  g_assert_no_error (error);
  g_queue_init (&client->received);
  g_signal_connect (client->ws, "message", G_CALLBACK (on_client_message), client);
  g_signal_connect (client->ws, "closed", G_CALLBACK (on_client_closed), client);
  g_ptr_array_add (f->clients, client);
  return client;
}

static Client *
client_connect_to (Fixture *f, const gchar *uri)
{
  Client *client = client_open (f, uri);

  /* Every connection starts with the server's challenge. */
  icecam_message_free (client_expect (client, ICECAM_MESSAGE_CHALLENGE));
  return client;
}

static Client *
client_connect (Fixture *f)
{
  return client_connect_to (f, f->uri);
}

static void
client_send (Client *client, const gchar *json)
{
  soup_websocket_connection_send_text (client->ws, json);
}

static void G_GNUC_PRINTF (2, 3)
client_sendf (Client *client, const gchar *format, ...)
{
  g_autofree gchar *json = NULL;
  va_list args;

  va_start (args, format);
  json = g_strdup_vprintf (format, args);
  va_end (args);
  client_send (client, json);
}

/* Waits for the client's next message, which must be of @type. */
static IcecamMessage *
client_expect (Client *client, IcecamMessageType type)
{
  IcecamMessage *msg;

  g_assert_true (WAIT_UNTIL (!g_queue_is_empty (&client->received)));
  msg = g_queue_pop_head (&client->received);
  g_assert_cmpstr (icecam_message_type_to_string (msg->type), ==,
                   icecam_message_type_to_string (type));
  return msg;
}

static void
client_expect_error (Client *client, IcecamErrorCode code, const gchar *needle)
{
  g_autoptr (IcecamMessage) msg = client_expect (client, ICECAM_MESSAGE_ERROR);

  g_assert_cmpstr (icecam_error_code_to_string (msg->error_code), ==,
                   icecam_error_code_to_string (code));
  if (strstr (msg->text, needle) == NULL)
    g_error ("error text '%s' does not contain '%s'", msg->text, needle);
}

static void
client_expect_presence (Client *client, const gchar * const *cameras)
{
  g_autoptr (IcecamMessage) msg = client_expect (client, ICECAM_MESSAGE_PRESENCE);

  g_assert_true (g_strv_equal ((const gchar * const *) msg->cameras, cameras));
}

static Client *
connect_camera (Fixture *f, const gchar *id)
{
  Client *camera = client_connect (f);
  g_autoptr (IcecamMessage) welcome = NULL;

  client_sendf (camera, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"%s\"}", id);
  welcome = client_expect (camera, ICECAM_MESSAGE_WELCOME);
  g_assert_cmpstr (welcome->id, ==, id);
  return camera;
}

static Client *
connect_viewer (Fixture *f, gchar **id)
{
  Client *viewer = client_connect (f);
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) presence = NULL;

  client_send (viewer, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  welcome = client_expect (viewer, ICECAM_MESSAGE_WELCOME);
  presence = client_expect (viewer, ICECAM_MESSAGE_PRESENCE);
  if (id != NULL)
    *id = g_strdup (welcome->id);
  return viewer;
}

/* The viewer watches; both get `session`; returns the session id. */
static gchar *
watch (Client *viewer, Client *camera, const gchar *camera_id)
{
  g_autoptr (IcecamMessage) to_viewer = NULL;
  g_autoptr (IcecamMessage) to_camera = NULL;

  client_sendf (viewer, "{\"type\":\"watch\",\"camera\":\"%s\"}", camera_id);
  to_viewer = client_expect (viewer, ICECAM_MESSAGE_SESSION);
  to_camera = client_expect (camera, ICECAM_MESSAGE_SESSION);
  g_assert_cmpstr (to_viewer->session, ==, to_camera->session);
  g_assert_cmpint (to_viewer->role, ==, ICECAM_ROLE_VIEWER);
  g_assert_cmpint (to_camera->role, ==, ICECAM_ROLE_CAMERA);
  g_assert_cmpstr (to_camera->camera, ==, camera_id);
  return g_strdup (to_camera->session);
}

static void
assert_relays_candidate (Client *from, Client *to, const gchar *session)
{
  g_autoptr (IcecamMessage) msg = NULL;
  g_autofree gchar *candidate =
    g_strdup_printf ("candidate:%u 1 UDP 2013266431 127.0.0.1 4000 typ host", g_random_int ());

  client_sendf (from, "{\"type\":\"candidate\",\"session\":\"%s\",\"candidate\":\"%s\"}",
                session, candidate);
  msg = client_expect (to, ICECAM_MESSAGE_CANDIDATE);
  g_assert_cmpstr (msg->session, ==, session);
  g_assert_cmpstr (msg->candidate, ==, candidate);
}

static void
client_close (Client *client)
{
  if (soup_websocket_connection_get_state (client->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (client->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_assert_true (WAIT_UNTIL (client->closed));
}

static IcecamRegistryStats
get_stats (Fixture *f)
{
  IcecamRegistryStats stats;

  icecam_registry_get_stats (icecam_rendezvous_get_registry (f->rendezvous), &stats);
  return stats;
}

/* ---- fixture ---------------------------------------------------------------------------- */

static void
fixture_start (Fixture *f, const gchar *host)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (icecam_rendezvous_listen (f->rendezvous, host, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icecam_rendezvous_get_port (f->rendezvous), !=, 0);
  f->uri = icecam_rendezvous_get_uri (f->rendezvous);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->rendezvous = icecam_rendezvous_new ();
  f->session = soup_session_new ();
  /* Never let a proxy from the environment carry test traffic off this host. */
  soup_session_set_proxy_resolver (f->session, NULL);
  f->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);
  if (data == NULL)
    fixture_start (f, "127.0.0.1");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < f->clients->len; i++)
    client_close (f->clients->pdata[i]);
  /* The server forgets each peer once its side of the WebSocket is closed. */
  g_assert_true (WAIT_UNTIL (get_stats (f).peers == 0));
  g_ptr_array_unref (f->clients);
  g_assert_finalize_object (f->rendezvous);
  g_object_unref (f->session);
  g_free (f->uri);
}

/* ---- tests ------------------------------------------------------------------------------ */

static void
test_uri (Fixture *f, gconstpointer data)
{
  g_autofree gchar *expected = g_strdup_printf ("ws://127.0.0.1:%u/ws",
                                                icecam_rendezvous_get_port (f->rendezvous));

  g_assert_cmpstr (f->uri, ==, expected);
  g_assert_cmpuint (icecam_rendezvous_get_stun_port (f->rendezvous), !=, 0);
}

static void
test_welcome (Fixture *f, gconstpointer data)
{
  Client *viewer = client_connect (f);
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) presence = NULL;
  g_autofree gchar *stun_url = g_strdup_printf ("stun:127.0.0.1:%u",
                                                icecam_rendezvous_get_stun_port (f->rendezvous));
  const IcecamIceServer *stun;

  client_send (viewer, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\",\"id\":\"eve\"}");
  welcome = client_expect (viewer, ICECAM_MESSAGE_WELCOME);
  g_assert_cmpstr (welcome->id, ==, "eve");
  g_assert_true (g_str_has_prefix (welcome->address, "127.0.0.1:"));
  g_assert_cmpuint (welcome->ice_servers->len, ==, 1);
  stun = welcome->ice_servers->pdata[0];
  g_assert_cmpstr (stun->urls[0], ==, stun_url);
  g_assert_null (stun->urls[1]);
  presence = client_expect (viewer, ICECAM_MESSAGE_PRESENCE);
}

static void
test_presence (Fixture *f, gconstpointer data)
{
  const gchar *none[] = { NULL };
  const gchar *cam1[] = { "cam1", NULL };
  Client *viewer = client_connect (f);
  Client *camera;
  g_autoptr (IcecamMessage) welcome = NULL;

  client_send (viewer, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  welcome = client_expect (viewer, ICECAM_MESSAGE_WELCOME);
  client_expect_presence (viewer, none);

  camera = connect_camera (f, "cam1");
  client_expect_presence (viewer, cam1);
  g_assert_cmpuint (get_stats (f).cameras, ==, 1);

  client_close (camera);
  client_expect_presence (viewer, none);
  g_assert_cmpuint (get_stats (f).cameras, ==, 0);
}

static void
test_session (Fixture *f, gconstpointer data)
{
  Client *camera = connect_camera (f, "cam1");
  g_autofree gchar *viewer_id = NULL;
  Client *viewer = connect_viewer (f, &viewer_id);
  g_autofree gchar *session = watch (viewer, camera, "cam1");
  g_autoptr (IcecamMessage) offer_msg = icecam_message_new_offer (session, test_sdp);
  g_autofree gchar *offer_json = icecam_message_to_json (offer_msg);
  g_autoptr (IcecamMessage) offer = NULL;
  g_autoptr (IcecamMessage) answer = NULL;
  g_autoptr (IcecamMessage) bye = NULL;

  client_send (camera, offer_json);
  offer = client_expect (viewer, ICECAM_MESSAGE_OFFER);
  g_assert_cmpstr (offer->session, ==, session);
  g_assert_cmpstr (offer->sdp, ==, test_sdp);

  client_sendf (viewer, "{\"type\":\"answer\",\"session\":\"%s\",\"sdp\":\"v=0\\r\\n\"}", session);
  answer = client_expect (camera, ICECAM_MESSAGE_ANSWER);
  g_assert_cmpstr (answer->sdp, ==, "v=0\r\n");

  assert_relays_candidate (camera, viewer, session);
  assert_relays_candidate (viewer, camera, session);
  g_assert_cmpuint (get_stats (f).sessions, ==, 1);

  /* The viewer goes away: the camera is told its peer left; the session is kept for the
   * viewer to take back for the resume grace. */
  client_close (viewer);
  bye = client_expect (camera, ICECAM_MESSAGE_BYE);
  g_assert_cmpstr (bye->session, ==, session);
  g_assert_cmpstr (bye->reason, ==, "peer-left");
  g_assert_cmpint (bye->bye_code, ==, ICECAM_BYE_CODE_PEER_LEFT);
  g_assert_cmpuint (get_stats (f).sessions, ==, 1);
  g_assert_cmpuint (get_stats (f).detached, ==, 1);
}

static void
test_oversized (Fixture *f, gconstpointer data)
{
  Client *camera = connect_camera (f, "cam1");
  Client *viewer = connect_viewer (f, NULL);
  g_autoptr (GString) big = g_string_new ("{\"type\":\"watch\",\"camera\":\"cam1\",\"pad\":\"");
  g_autofree gchar *session = NULL;

  while (big->len < 100 * 1024 - 2)
    g_string_append_c (big, 'x');
  g_string_append (big, "\"}");
  g_assert_cmpuint (big->len, ==, 100 * 1024);

  client_send (viewer, big->str);
  client_expect_error (viewer, ICECAM_ERROR_CODE_TOO_LARGE,
                       "message is 102400 bytes, the limit is 65536");
  /* The same connection still works. */
  session = watch (viewer, camera, "cam1");
  g_assert_false (viewer->closed);
  g_assert_cmpuint (get_stats (f).errors_sent, ==, 1);
}

static void
test_garbage (Fixture *f, gconstpointer data)
{
  Client *camera = connect_camera (f, "cam1");
  Client *viewer = connect_viewer (f, NULL);
  Client *troll = connect_viewer (f, NULL);
  g_autofree gchar *session = watch (viewer, camera, "cam1");
  g_autoptr (IcecamMessage) offer = NULL;

  client_send (troll, "}}}{{{ not json");
  client_expect_error (troll, ICECAM_ERROR_CODE_MALFORMED, "not valid JSON");
  client_sendf (troll, "{\"type\":\"offer\",\"session\":\"%s\",\"sdp\":\"v=0\"}", session);
  client_expect_error (troll, ICECAM_ERROR_CODE_NOT_ALLOWED, "a viewer may not send 'offer'");
  client_sendf (troll, "{\"type\":\"candidate\",\"session\":\"%s\","
                "\"candidate\":\"candidate:1 1 UDP 1 10.0.0.1 1 typ host\"}", session);
  client_expect_error (troll, ICECAM_ERROR_CODE_UNKNOWN_SESSION, session);

  /* The established session is undisturbed, in both directions. */
  client_sendf (camera, "{\"type\":\"offer\",\"session\":\"%s\",\"sdp\":\"v=0\"}", session);
  offer = client_expect (viewer, ICECAM_MESSAGE_OFFER);
  assert_relays_candidate (viewer, camera, session);
  g_assert_true (g_queue_is_empty (&camera->received));
  g_assert_true (g_queue_is_empty (&viewer->received));
  g_assert_false (troll->closed);
}

static void
test_binary_frame (Fixture *f, gconstpointer data)
{
  Client *viewer = connect_viewer (f, NULL);
  const gchar hello[] = "{\"type\":\"watch\",\"camera\":\"cam1\"}";

  soup_websocket_connection_send_binary (viewer->ws, hello, sizeof hello - 1);
  client_expect_error (viewer, ICECAM_ERROR_CODE_MALFORMED, "binary frames are not accepted");
  g_assert_false (viewer->closed);
}

static void
test_version_closes (Fixture *f, gconstpointer data)
{
  Client *client = client_connect (f);

  client_send (client, "{\"type\":\"hello\",\"version\":7,\"role\":\"viewer\"}");
  client_expect_error (client, ICECAM_ERROR_CODE_VERSION, "protocol version 7 is not supported");
  g_assert_true (WAIT_UNTIL (client->closed));
  g_assert_cmpint (soup_websocket_connection_get_close_code (client->ws), ==,
                   SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
}

static void
test_id_in_use_closes (Fixture *f, gconstpointer data)
{
  Client *camera = connect_camera (f, "cam1");
  Client *impostor = client_connect (f);
  Client *viewer = NULL;
  g_autofree gchar *session = NULL;

  client_send (impostor, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam1\"}");
  client_expect_error (impostor, ICECAM_ERROR_CODE_ID_IN_USE, "camera id 'cam1' is already online");
  g_assert_true (WAIT_UNTIL (impostor->closed));

  /* The real camera is still online and reachable. */
  g_assert_true (WAIT_UNTIL (get_stats (f).peers == 1));
  viewer = connect_viewer (f, NULL);
  session = watch (viewer, camera, "cam1");
}

static gchar *http_get (Fixture *f, const gchar *method, const gchar *path, guint *status,
                        const gchar **content_type);

/* Drops what @client got until an error with @code, which must come before it is closed. */
static void
client_expect_error_among (Client *client, IcecamErrorCode code, const gchar *needle)
{
  for (;;) {
    g_autoptr (IcecamMessage) msg = NULL;

    g_assert_true (WAIT_UNTIL (!g_queue_is_empty (&client->received) || client->closed));
    msg = g_queue_pop_head (&client->received);
    g_assert_nonnull (msg);
    if (msg->type == ICECAM_MESSAGE_ERROR && msg->error_code == code) {
      if (strstr (msg->text, needle) == NULL)
        g_error ("error text '%s' does not contain '%s'", msg->text, needle);
      return;
    }
  }
}

/* A connection over the per-address limit is told so and closed before it is a peer; the
 * connections already open keep working, and a closed one makes room again. */
static void
test_connections_per_address (Fixture *f, gconstpointer data)
{
  Client *camera = NULL;
  Client *viewer = NULL;
  Client *extra = NULL;
  Client *again = NULL;
  g_autofree gchar *session = NULL;
  g_autofree gchar *metrics = NULL;
  guint status = 0;

  icecam_rendezvous_set_max_connections_per_address (f->rendezvous, 2);
  camera = connect_camera (f, "cam1");
  viewer = connect_viewer (f, NULL);
  extra = client_open (f, f->uri);
  client_expect_error (extra, ICECAM_ERROR_CODE_LIMIT_EXCEEDED,
                       "127.0.0.1 already has 2 signalling connections open");
  g_assert_true (WAIT_UNTIL (extra->closed));
  g_assert_cmpint (soup_websocket_connection_get_close_code (extra->ws), ==,
                   SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);
  g_assert_true (g_queue_is_empty (&extra->received));
  g_assert_cmpuint (get_stats (f).peers, ==, 2);

  session = watch (viewer, camera, "cam1");
  assert_relays_candidate (camera, viewer, session);
  metrics = http_get (f, SOUP_METHOD_GET, "/metrics", &status, NULL);
  g_assert_nonnull (strstr (metrics, "\nicecam_rendezvous_connections_refused_total 1\n"));

  client_close (viewer);
  g_assert_true (WAIT_UNTIL (get_stats (f).peers == 1));
  again = client_connect (f);
  g_assert_false (again->closed);
}

/* A client sending faster than the rate is told so and closed, its session ends, and the
 * camera's other session is undisturbed; a client under the rate is never cut off. */
static void
test_message_rate (Fixture *f, gconstpointer data)
{
  Client *camera = NULL;
  Client *viewer = NULL;
  Client *flooder = NULL;
  g_autofree gchar *session = NULL;
  g_autofree gchar *flood_session = NULL;
  g_autoptr (IcecamMessage) bye = NULL;
  g_autofree gchar *metrics = NULL;
  guint status = 0;

  icecam_rendezvous_set_message_rate (f->rendezvous, 20, 10);
  camera = connect_camera (f, "cam1");
  viewer = connect_viewer (f, NULL);
  flooder = connect_viewer (f, NULL);
  session = watch (viewer, camera, "cam1");
  flood_session = watch (flooder, camera, "cam1");

  /* 15 messages at 10 a second: more than the burst, less than the rate. */
  for (guint i = 0; i < 15; i++) {
    assert_relays_candidate (camera, viewer, session);
    g_usleep (100 * 1000);
  }
  g_assert_false (camera->closed);

  for (guint i = 0; i < 40; i++)
    client_sendf (flooder, "{\"type\":\"bye\",\"session\":\"nope%u\"}", i);
  client_expect_error_among (flooder, ICECAM_ERROR_CODE_LIMIT_EXCEEDED,
                             "more than 20 messages a second (burst 10)");
  g_assert_true (WAIT_UNTIL (flooder->closed));
  g_assert_cmpint (soup_websocket_connection_get_close_code (flooder->ws), ==,
                   SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION);

  bye = client_expect (camera, ICECAM_MESSAGE_BYE);
  g_assert_cmpstr (bye->session, ==, flood_session);
  assert_relays_candidate (viewer, camera, session);
  assert_relays_candidate (camera, viewer, session);
  metrics = http_get (f, SOUP_METHOD_GET, "/metrics", &status, NULL);
  g_assert_nonnull (strstr (metrics, "\nicecam_rendezvous_rate_limited_total 1\n"));
}

/* A client that opens the WebSocket by hand, says @json in one frame and then reads nothing
 * and answers no ping, as a dead or stuck client does. @pipelined: the frame goes in the same
 * write as the HTTP request, before the 101 came back. */
static GSocket *
open_raw_client (Fixture *f, const gchar *json, gboolean pipelined)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) address =
    g_inet_socket_address_new_from_string ("127.0.0.1", icecam_rendezvous_get_port (f->rendezvous));
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                             G_SOCKET_PROTOCOL_TCP, &error);
  g_autofree gchar *request = g_strdup_printf (
    "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  g_autoptr (GByteArray) frame = g_byte_array_new ();
  const guint8 header[2] = { 0x81, 0x80 | strlen (json) }; /* FIN, text, masked, short length */
  const guint8 mask[4] = { 0, 0, 0, 0 }; /* a zero mask leaves the payload as it is */
  gchar response[4096];
  gssize got;

  g_assert_cmpuint (strlen (json), <, 126);
  g_assert_no_error (error);
  g_assert_true (g_socket_connect (socket, address, NULL, &error));
  g_assert_no_error (error);
  if (pipelined)
    g_byte_array_append (frame, (const guint8 *) request, strlen (request));
  g_byte_array_append (frame, header, sizeof header);
  g_byte_array_append (frame, mask, sizeof mask);
  g_byte_array_append (frame, (const guint8 *) json, strlen (json));
  if (!pipelined)
    g_assert_cmpint (g_socket_send (socket, request, strlen (request), NULL, &error), ==,
                     strlen (request));
  else
    g_assert_cmpint (g_socket_send (socket, (const gchar *) frame->data, frame->len, NULL,
                                    &error), ==, frame->len);
  g_socket_set_blocking (socket, FALSE);
  g_assert_true (WAIT_UNTIL (g_socket_condition_check (socket, G_IO_IN) & G_IO_IN));
  got = g_socket_receive (socket, response, sizeof response - 1, NULL, &error);
  g_assert_no_error (error);
  response[MAX (got, 0)] = '\0';
  g_assert_true (g_str_has_prefix (response, "HTTP/1.1 101"));
  g_socket_set_blocking (socket, TRUE);
  if (!pipelined)
    g_assert_cmpint (g_socket_send (socket, (const gchar *) frame->data, frame->len, NULL,
                                    &error), ==, frame->len);
  return g_steal_pointer (&socket);
}

static GSocket *
open_deaf_client (Fixture *f, const gchar *json)
{
  return open_raw_client (f, json, FALSE);
}

/* A frame that came in the same read as the HTTP request waits in libsoup's buffer, not in
 * the socket: the server must still read it (icecam-ws-stream.c). */
static void
test_pipelined_frame (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocket) early = open_raw_client (
    f, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"early\"}", TRUE);

  g_assert_true (WAIT_UNTIL (get_stats (f).cameras == 1));
}

/* A camera that stops answering (power cut, or it reads nothing) is taken offline once it
 * has been silent past the limit; a client that answers the pings stays however idle. */
static void
test_silent_client_closed (Fixture *f, gconstpointer data)
{
  Client *viewer = NULL;
  g_autoptr (GSocket) deaf = NULL;
  g_autofree gchar *metrics = NULL;
  const gchar *none[] = { NULL };
  gint64 since;
  guint status = 0;

  icecam_rendezvous_set_keepalive (f->rendezvous, 1, 3);
  viewer = connect_viewer (f, NULL);
  deaf = open_deaf_client (
    f, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"deafcam\"}");
  g_assert_true (WAIT_UNTIL (get_stats (f).cameras == 1));
  icecam_message_free (client_expect (viewer, ICECAM_MESSAGE_PRESENCE));

  since = g_get_monotonic_time ();
  g_assert_true (WAIT_UNTIL (get_stats (f).cameras == 0));
  g_test_message ("silent camera offline after %.1f s",
                  (g_get_monotonic_time () - since) / 1e6);
  g_assert_cmpint (g_get_monotonic_time () - since, >=, 2 * G_USEC_PER_SEC);
  client_expect_presence (viewer, none);

  /* The viewer said nothing all along but answered every ping. */
  g_assert_false (viewer->closed);
  g_assert_cmpuint (get_stats (f).peers, ==, 1);
  metrics = http_get (f, SOUP_METHOD_GET, "/metrics", &status, NULL);
  g_assert_nonnull (strstr (metrics, "\nicecam_rendezvous_silent_closed_total 1\n"));
}

/* ---- coming back ------------------------------------------------------------------------ */

/* A camera says hello with @resume (may be NULL); returns its welcome. */
static IcecamMessage *
camera_hello (Client *camera, const gchar *id, const gchar *resume)
{
  if (resume != NULL)
    client_sendf (camera, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"%s\","
                  "\"resume\":\"%s\",\"features\":[\"ping\",\"restart\"]}", id, resume);
  else
    client_sendf (camera, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"%s\","
                  "\"features\":[\"ping\",\"restart\"]}", id);
  return client_expect (camera, ICECAM_MESSAGE_WELCOME);
}

/* The server still holds the camera's connection when the camera comes back on a new one
 * with its secret: the old one is closed as replaced, the camera is online all along, a new
 * viewer sees it at once, and the session of its viewer routes to the new connection. */
static void
test_resume_replaced (Fixture *f, gconstpointer data)
{
  const gchar *cam1[] = { "cam1", NULL };
  Client *old = client_connect (f);
  Client *viewer = connect_viewer (f, NULL);
  Client *camera = NULL;
  Client *late = NULL;
  g_autoptr (IcecamMessage) welcome = camera_hello (old, "cam1", NULL);
  g_autoptr (IcecamMessage) again = NULL;
  g_autoptr (IcecamMessage) welcome_late = NULL;
  g_autoptr (IcecamMessage) pong = NULL;
  g_autoptr (IcecamMessage) restart = NULL;
  g_autofree gchar *session = NULL;

  client_expect_presence (viewer, cam1);
  g_assert_false (welcome->resumed);
  g_assert_cmpint (welcome->features, ==,
                   ICECAM_FEATURE_PING | ICECAM_FEATURE_RESTART | ICECAM_FEATURE_ICE_SERVERS |
                   ICECAM_FEATURE_PUNCH | ICECAM_FEATURE_DTLS);
  session = watch (viewer, old, "cam1");

  camera = client_connect (f);
  again = camera_hello (camera, "cam1", welcome->resume);
  g_assert_true (again->resumed);
  g_assert_cmpstr (again->id, ==, "cam1");
  g_assert_true (WAIT_UNTIL (old->closed));
  g_assert_cmpint (soup_websocket_connection_get_close_code (old->ws), ==,
                   ICECAM_PROTOCOL_CLOSE_REPLACED);
  g_assert_cmpstr (soup_websocket_connection_get_close_data (old->ws), ==,
                   ICECAM_PROTOCOL_CLOSE_REPLACED_REASON);
  g_assert_true (g_queue_is_empty (&old->received));

  late = client_connect (f);
  client_send (late, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  welcome_late = client_expect (late, ICECAM_MESSAGE_WELCOME);
  client_expect_presence (late, cam1);
  assert_relays_candidate (viewer, camera, session);
  assert_relays_candidate (camera, viewer, session);
  client_sendf (viewer, "{\"type\":\"restart\",\"session\":\"%s\"}", session);
  restart = client_expect (camera, ICECAM_MESSAGE_RESTART);
  g_assert_cmpstr (restart->session, ==, session);
  client_send (camera, "{\"type\":\"ping\"}");
  pong = client_expect (camera, ICECAM_MESSAGE_PONG);
  g_assert_true (g_queue_is_empty (&viewer->received));  /* no bye, no presence */
  g_assert_cmpuint (get_stats (f).cameras, ==, 1);
  g_assert_cmpuint (get_stats (f).resumed, ==, 1);
}

/* The camera's connection closed: it leaves presence and its viewer hears peer-left, but
 * back with its secret it is listed again at once and the session routes on. */
static void
test_resume_after_close (Fixture *f, gconstpointer data)
{
  const gchar *none[] = { NULL };
  const gchar *cam1[] = { "cam1", NULL };
  Client *old = client_connect (f);
  Client *viewer = connect_viewer (f, NULL);
  Client *camera = NULL;
  g_autoptr (IcecamMessage) welcome = camera_hello (old, "cam1", NULL);
  g_autoptr (IcecamMessage) again = NULL;
  g_autoptr (IcecamMessage) bye = NULL;
  g_autofree gchar *session = NULL;

  client_expect_presence (viewer, cam1);
  session = watch (viewer, old, "cam1");
  client_close (old);
  bye = client_expect (viewer, ICECAM_MESSAGE_BYE);
  g_assert_cmpint (bye->bye_code, ==, ICECAM_BYE_CODE_PEER_LEFT);
  client_expect_presence (viewer, none);
  /* Meanwhile the viewer's messages are dropped, not refused. */
  client_sendf (viewer, "{\"type\":\"candidate\",\"session\":\"%s\","
                "\"candidate\":\"candidate:1 1 UDP 1 127.0.0.1 9 typ host\"}", session);

  camera = client_connect (f);
  again = camera_hello (camera, "cam1", welcome->resume);
  g_assert_true (again->resumed);
  client_expect_presence (viewer, cam1);
  assert_relays_candidate (viewer, camera, session);
  assert_relays_candidate (camera, viewer, session);
  g_assert_true (g_queue_is_empty (&viewer->received));
  g_assert_cmpuint (get_stats (f).errors_sent, ==, 0);
}

/* ---- a relay whose connections can be frozen, like a NAT that forgot its mappings ------- */

typedef struct _Relay Relay;
typedef struct _RelayLink RelayLink;

typedef struct {
  RelayLink *link;
  GInputStream *in;
  GOutputStream *out;
  GBytes *bytes;            /* being written */
} RelayPump;

struct _RelayLink {
  Relay *relay;
  GSocketConnection *down;  /* from the client */
  GSocketConnection *up;    /* to the server */
  GCancellable *cancellable;
  RelayPump pumps[2];
  gboolean frozen;          /* bytes and closes are dropped, both ways, without a word */
};

struct _Relay {
  GSocketService *service;
  guint port;
  guint server_port;
  GPtrArray *links;
  guint pending;            /* reads and writes under way, on all links */
};

static void relay_pump_read (RelayPump *pump);

static void
relay_pump_written_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelayPump *pump = user_data;
  gboolean ok = g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL);

  pump->link->relay->pending--;
  g_clear_pointer (&pump->bytes, g_bytes_unref);
  if (ok)
    relay_pump_read (pump);
  else
    g_cancellable_cancel (pump->link->cancellable);
}

static void
relay_pump_read_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  RelayPump *pump = user_data;
  RelayLink *link = pump->link;
  g_autoptr (GBytes) bytes = g_input_stream_read_bytes_finish (G_INPUT_STREAM (source), result,
                                                               NULL);

  link->relay->pending--;
  if (link->frozen) {
    /* A NAT that forgot the mapping drops everything, a FIN included. */
    if (bytes != NULL && g_bytes_get_size (bytes) > 0)
      relay_pump_read (pump);
    return;
  }
  if (bytes == NULL || g_bytes_get_size (bytes) == 0) {
    g_cancellable_cancel (link->cancellable);
    return;
  }
  pump->bytes = g_steal_pointer (&bytes);
  link->relay->pending++;
  g_output_stream_write_all_async (pump->out, g_bytes_get_data (pump->bytes, NULL),
                                   g_bytes_get_size (pump->bytes), G_PRIORITY_DEFAULT,
                                   link->cancellable, relay_pump_written_cb, pump);
}

static void
relay_pump_read (RelayPump *pump)
{
  pump->link->relay->pending++;
  g_input_stream_read_bytes_async (pump->in, 16384, G_PRIORITY_DEFAULT, pump->link->cancellable,
                                   relay_pump_read_cb, pump);
}

static gboolean
on_relay_incoming (GSocketService *service, GSocketConnection *down, GObject *source,
                   Relay *relay)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  RelayLink *link = g_new0 (RelayLink, 1);

  link->relay = relay;
  link->down = g_object_ref (down);
  link->up = g_socket_client_connect_to_host (client, "127.0.0.1", relay->server_port, NULL,
                                              &error);
  g_assert_no_error (error);
  link->cancellable = g_cancellable_new ();
  link->pumps[0] = (RelayPump) { link, g_io_stream_get_input_stream (G_IO_STREAM (down)),
                                 g_io_stream_get_output_stream (G_IO_STREAM (link->up)), NULL };
  link->pumps[1] = (RelayPump) { link, g_io_stream_get_input_stream (G_IO_STREAM (link->up)),
                                 g_io_stream_get_output_stream (G_IO_STREAM (down)), NULL };
  g_ptr_array_add (relay->links, link);
  relay_pump_read (&link->pumps[0]);
  relay_pump_read (&link->pumps[1]);
  return TRUE;
}

static Relay *
relay_new (guint server_port)
{
  Relay *relay = g_new0 (Relay, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  relay->server_port = server_port;
  relay->links = g_ptr_array_new ();
  relay->service = g_socket_service_new ();
  g_assert_true (g_socket_listener_add_address (G_SOCKET_LISTENER (relay->service), any_port,
                                                G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
                                                NULL, &bound, &error));
  g_assert_no_error (error);
  relay->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_signal_connect (relay->service, "incoming", G_CALLBACK (on_relay_incoming), relay);
  g_socket_service_start (relay->service);
  return relay;
}

static void
relay_freeze (Relay *relay)
{
  for (guint i = 0; i < relay->links->len; i++)
    ((RelayLink *) relay->links->pdata[i])->frozen = TRUE;
}

/* Closes every connection, which the server then sees go, and frees the relay. */
static void
relay_free (Relay *relay)
{
  g_socket_service_stop (relay->service);
  g_socket_listener_close (G_SOCKET_LISTENER (relay->service));
  for (guint i = 0; i < relay->links->len; i++)
    g_cancellable_cancel (((RelayLink *) relay->links->pdata[i])->cancellable);
  g_assert_true (WAIT_UNTIL (relay->pending == 0));
  for (guint i = 0; i < relay->links->len; i++) {
    RelayLink *link = relay->links->pdata[i];

    g_io_stream_close (G_IO_STREAM (link->down), NULL, NULL);
    g_io_stream_close (G_IO_STREAM (link->up), NULL, NULL);
    g_object_unref (link->down);
    g_object_unref (link->up);
    g_object_unref (link->cancellable);
    g_free (link);
  }
  g_ptr_array_unref (relay->links);
  g_object_unref (relay->service);
  g_free (relay);
}

/* ---- the signalling client's keepalive ------------------------------------------------- */

typedef struct {
  GQueue messages;          /* IcecamMessage received, welcomes included */
  guint retrying;           /* times the client went RETRYING */
  gint64 retrying_at;       /* when it last did */
} Observed;

static void
on_signalling_message (IcecamSignallingClient *client, IcecamMessage *msg, Observed *observed)
{
  g_queue_push_tail (&observed->messages, icecam_message_copy (msg));
}

static void
on_signalling_state (IcecamSignallingClient *client, guint state, Observed *observed)
{
  if (state == ICECAM_SIGNALLING_STATE_RETRYING) {
    observed->retrying++;
    observed->retrying_at = g_get_monotonic_time ();
  }
}

/* The next message of @type the client reported, skipping others. */
static IcecamMessage *
observed_expect (Observed *observed, IcecamMessageType type)
{
  for (;;) {
    IcecamMessage *msg;

    g_assert_true (WAIT_UNTIL (!g_queue_is_empty (&observed->messages)));
    msg = g_queue_pop_head (&observed->messages);
    if (msg->type == type)
      return msg;
    icecam_message_free (msg);
  }
}

/* A signalling client that connects through @relay and reconnects by itself; what it reports
 * goes to @observed. */
static IcecamSignallingClient *
start_client_through (Relay *relay, IcecamRole role, const gchar *id, guint interval_s,
                      guint timeout_s, Observed *observed)
{
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u", relay->port);
  g_autoptr (GError) error = NULL;
  IcecamSignallingClient *client = icecam_signalling_client_new (url, role, id, &error);

  g_assert_no_error (error);
  icecam_signalling_client_set_reconnect (client, TRUE);
  icecam_signalling_client_set_keepalive (client, interval_s, timeout_s);
  g_signal_connect (client, "message", G_CALLBACK (on_signalling_message), observed);
  g_signal_connect (client, "state-changed", G_CALLBACK (on_signalling_state), observed);
  icecam_signalling_client_start (client);
  return client;
}

static void
stop_client (IcecamSignallingClient *client, Observed *observed)
{
  icecam_signalling_client_stop (client);
  g_signal_handlers_disconnect_by_data (client, observed);
  g_queue_clear_full (&observed->messages, (GDestroyNotify) icecam_message_free);
  g_object_unref (client);
}

/* The camera's path to the server dies without a word (its router rebooted): the server
 * cannot tell, but the camera's keepalive finds out within interval + timeout, connects again
 * at once and takes its connection's place with its sessions; its viewer notices nothing. */
static void
test_keepalive_dead_path (Fixture *f, gconstpointer data)
{
  Relay *relay = relay_new (icecam_rendezvous_get_port (f->rendezvous));
  IcecamSignallingClient *camera = NULL;
  g_autoptr (IcecamMessage) to_camera = NULL;
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) candidate = NULL;
  g_autoptr (IcecamMessage) from_camera = NULL;
  g_autoptr (IcecamMessage) mine = NULL;
  g_autofree gchar *session = NULL;
  Observed observed = { G_QUEUE_INIT, 0, 0 };
  Client *viewer = connect_viewer (f, NULL);
  gint64 frozen_at;

  camera = start_client_through (relay, ICECAM_ROLE_CAMERA, "cam1", 1, 1, &observed);
  welcome = observed_expect (&observed, ICECAM_MESSAGE_WELCOME);
  g_assert_false (icecam_signalling_client_get_resumed (camera));
  icecam_message_free (client_expect (viewer, ICECAM_MESSAGE_PRESENCE));

  client_send (viewer, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  to_camera = observed_expect (&observed, ICECAM_MESSAGE_SESSION);
  session = g_strdup (to_camera->session);
  icecam_message_free (client_expect (viewer, ICECAM_MESSAGE_SESSION));

  /* Quiet for longer than the interval: pings keep it up. */
  g_assert_false (WAIT_UNTIL_FOR (observed.retrying > 0, 2.5));

  relay_freeze (relay);
  frozen_at = g_get_monotonic_time ();
  g_assert_true (WAIT_UNTIL (observed.retrying > 0));
  g_test_message ("dead path noticed after %.2f s", (observed.retrying_at - frozen_at) / 1e6);
  /* Within the interval and the timeout (1 s each), and room for a loaded machine. */
  g_assert_cmpint (observed.retrying_at - frozen_at, <=, 2 * G_USEC_PER_SEC + ICECAM_TEST_SLACK_US);
  g_assert_cmpint (icecam_signalling_client_get_error (camera)->code, ==,
                   ICECAM_SIGNALLING_ERROR_TIMEOUT);

  g_clear_pointer (&welcome, icecam_message_free);
  welcome = observed_expect (&observed, ICECAM_MESSAGE_WELCOME);
  g_test_message ("back after %.2f s", (g_get_monotonic_time () - frozen_at) / 1e6);
  g_assert_true (welcome->resumed);
  g_assert_true (icecam_signalling_client_get_resumed (camera));
  g_assert_cmpuint (observed.retrying, ==, 1);

  /* The session routes both ways over the new connection; the viewer heard nothing. */
  client_sendf (viewer, "{\"type\":\"candidate\",\"session\":\"%s\","
                "\"candidate\":\"candidate:7 1 UDP 1 127.0.0.1 7 typ host\"}", session);
  candidate = observed_expect (&observed, ICECAM_MESSAGE_CANDIDATE);
  g_assert_cmpstr (candidate->session, ==, session);
  mine = icecam_message_new_candidate (session, "candidate:8 1 UDP 1 127.0.0.1 8 typ host");
  icecam_signalling_client_send (camera, mine);
  from_camera = client_expect (viewer, ICECAM_MESSAGE_CANDIDATE);
  g_assert_cmpstr (from_camera->candidate, ==, mine->candidate);
  g_assert_true (g_queue_is_empty (&viewer->received));
  g_assert_cmpuint (get_stats (f).resumed, ==, 1);

  stop_client (camera, &observed);
  relay_free (relay);
}

/* check() pings at once: a dead path is noticed within the timeout, whatever the interval. */
static void
test_keepalive_check (Fixture *f, gconstpointer data)
{
  Relay *relay = relay_new (icecam_rendezvous_get_port (f->rendezvous));
  Observed observed = { G_QUEUE_INIT, 0, 0 };
  IcecamSignallingClient *viewer =
    start_client_through (relay, ICECAM_ROLE_VIEWER, NULL, 0, 1, &observed);
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) again = NULL;
  gint64 checked_at;

  welcome = observed_expect (&observed, ICECAM_MESSAGE_WELCOME);

  /* A check on a live path is answered and changes nothing. */
  icecam_signalling_client_check (viewer);
  g_assert_false (WAIT_UNTIL_FOR (observed.retrying > 0, 1.5));

  relay_freeze (relay);
  checked_at = g_get_monotonic_time ();
  icecam_signalling_client_check (viewer);
  g_assert_true (WAIT_UNTIL (observed.retrying > 0));
  g_assert_cmpint (observed.retrying_at - checked_at, <=, G_USEC_PER_SEC + ICECAM_TEST_SLACK_US);
  again = observed_expect (&observed, ICECAM_MESSAGE_WELCOME);
  g_assert_cmpstr (again->id, ==, welcome->id);
  /* A viewer without sessions gets its id back, and nothing else to resume. */
  g_assert_true (again->resumed);

  stop_client (viewer, &observed);
  relay_free (relay);
}

/* One request the way a health probe makes it: a new client and connection each time. */
static gchar *
http_get (Fixture *f, const gchar *method, const gchar *path, guint *status,
          const gchar **content_type)
{
  g_autofree gchar *uri = g_strdup_printf ("http://127.0.0.1:%u%s",
                                           icecam_rendezvous_get_port (f->rendezvous), path);
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;

  soup_session_set_proxy_resolver (session, NULL);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, store_result_cb,
                                    &result);
  g_assert_true (WAIT_UNTIL (result != NULL));
  body = soup_session_send_and_read_finish (session, result, &error);
  g_assert_no_error (error);
  *status = soup_message_get_status (msg);
  if (content_type != NULL)
    *content_type = g_intern_string (soup_message_headers_get_content_type (
      soup_message_get_response_headers (msg), NULL));
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static void
test_healthz (Fixture *f, gconstpointer data)
{
  Client *camera = connect_camera (f, "cam1");
  Client *viewer = connect_viewer (f, NULL);
  g_autofree gchar *session = watch (viewer, camera, "cam1");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *body = NULL;
  g_autofree gchar *metrics = NULL;
  g_autofree gchar *refused = NULL;
  const gchar *content_type = NULL;
  JsonObject *object;
  guint status = 0;

  body = http_get (f, SOUP_METHOD_GET, "/healthz", &status, &content_type);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (content_type, ==, "application/json");
  json_parser_load_from_data (parser, body, -1, &error);
  g_assert_no_error (error);
  object = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (object, "status"), ==, "ok");
  g_assert_cmpint (json_object_get_int_member (object, "peers"), ==, 2);
  g_assert_cmpint (json_object_get_int_member (object, "cameras"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (object, "viewers"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (object, "sessions"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (object, "detached"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (object, "resumed"), ==, 0);
  g_assert_true (json_object_has_member (object, "stun"));

  metrics = http_get (f, SOUP_METHOD_GET, "/metrics", &status, NULL);
  g_assert_cmpuint (status, ==, 200);
  g_assert_nonnull (strstr (metrics, "\nicecam_rendezvous_cameras 1\n"));
  g_assert_nonnull (strstr (metrics, "\nicecam_rendezvous_sessions 1\n"));
  g_assert_nonnull (strstr (metrics, "\nicecam_rendezvous_detached 0\n"));
  g_assert_nonnull (strstr (metrics, "\nicecam_rendezvous_resumed_total 0\n"));

  refused = http_get (f, SOUP_METHOD_POST, "/healthz", &status, NULL);
  g_assert_cmpuint (status, ==, SOUP_STATUS_METHOD_NOT_ALLOWED);
}

static guint
count_open_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  while (dir != NULL && g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

/* Health probes open a connection per request; the server must not keep any of them. */
static void
test_http_no_fd_leak (Fixture *f, gconstpointer data)
{
  guint before;
  guint status = 0;

  if (!g_file_test ("/proc/self/fd", G_FILE_TEST_IS_DIR)) {
    g_test_skip ("no /proc/self/fd");
    return;
  }
  g_free (http_get (f, SOUP_METHOD_GET, "/healthz", &status, NULL));
  g_assert_true (WAIT_UNTIL (get_stats (f).peers == 0 && count_open_fds () > 0));
  before = count_open_fds ();
  for (guint i = 0; i < 20; i++) {
    g_free (http_get (f, SOUP_METHOD_GET, i % 2 ? "/healthz" : "/no-such-page", &status, NULL));
    g_assert_cmpuint (status, ==, i % 2 ? SOUP_STATUS_OK : SOUP_STATUS_NOT_FOUND);
  }
  g_assert_true (WAIT_UNTIL (count_open_fds () <= before));
}

/* Closed WebSockets give their descriptors back, whichever side closes. */
static void
test_websocket_no_fd_leak (Fixture *f, gconstpointer data)
{
  guint before;

  if (!g_file_test ("/proc/self/fd", G_FILE_TEST_IS_DIR)) {
    g_test_skip ("no /proc/self/fd");
    return;
  }
  before = count_open_fds ();
  for (guint i = 0; i < 10; i++) {
    g_autofree gchar *id = g_strdup_printf ("cam%u", i);
    Client *camera = connect_camera (f, id);
    Client *closed_by_server = client_connect (f);

    soup_websocket_connection_close (camera->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    client_send (closed_by_server, "{\"type\":\"hello\",\"version\":7,\"role\":\"viewer\"}");
    g_assert_true (WAIT_UNTIL (camera->closed && closed_by_server->closed));
  }
  g_assert_true (WAIT_UNTIL (get_stats (f).peers == 0));
  g_ptr_array_set_size (f->clients, 0);
  g_assert_true (WAIT_UNTIL (count_open_fds () <= before));
}

static void
test_stun_disabled (Fixture *f, gconstpointer data)
{
  Client *viewer;
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) presence = NULL;
  g_autofree gchar *stun = NULL;

  icecam_rendezvous_set_stun_enabled (f->rendezvous, FALSE);
  fixture_start (f, "127.0.0.1");
  g_assert_cmpuint (icecam_rendezvous_get_stun_port (f->rendezvous), ==, 0);
  stun = icecam_rendezvous_get_stun_host_port (f->rendezvous);
  g_assert_null (stun);

  viewer = client_connect (f);
  client_send (viewer, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  welcome = client_expect (viewer, ICECAM_MESSAGE_WELCOME);
  g_assert_cmpuint (welcome->ice_servers->len, ==, 0);
  presence = client_expect (viewer, ICECAM_MESSAGE_PRESENCE);
}

/* Listening on the wildcard, each client is told the STUN address it reached the server at. */
static void
test_stun_wildcard (Fixture *f, gconstpointer data)
{
  const gchar *turn_urls[] = { "turn:turn.example.org:3478", NULL };
  g_autoptr (GPtrArray) servers =
    g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  g_autofree gchar *loopback_uri = NULL;
  g_autofree gchar *expected = NULL;
  g_autofree gchar *stun = NULL;
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) presence = NULL;
  const IcecamIceServer *server;
  Client *viewer;

  g_ptr_array_add (servers, icecam_ice_server_new (turn_urls, "u", "p"));
  icecam_rendezvous_set_ice_servers (f->rendezvous, servers);
  fixture_start (f, "0.0.0.0");
  g_assert_true (g_str_has_prefix (f->uri, "ws://0.0.0.0:"));
  stun = icecam_rendezvous_get_stun_host_port (f->rendezvous);
  g_assert_true (g_str_has_prefix (stun, "0.0.0.0:"));

  loopback_uri = g_strdup_printf ("ws://127.0.0.1:%u/ws", icecam_rendezvous_get_port (f->rendezvous));
  viewer = client_connect_to (f, loopback_uri);
  client_send (viewer, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  welcome = client_expect (viewer, ICECAM_MESSAGE_WELCOME);
  presence = client_expect (viewer, ICECAM_MESSAGE_PRESENCE);
  g_assert_cmpuint (welcome->ice_servers->len, ==, 2);
  expected = g_strdup_printf ("stun:127.0.0.1:%u", icecam_rendezvous_get_stun_port (f->rendezvous));
  server = welcome->ice_servers->pdata[0];
  g_assert_cmpstr (server->urls[0], ==, expected);
  server = welcome->ice_servers->pdata[1];
  g_assert_cmpstr (server->urls[0], ==, "turn:turn.example.org:3478");
  g_assert_cmpstr (server->username, ==, "u");
}

/* A viewer's welcome on the connection to @uri: its address and STUN URL must start with
 * @host (the address it reached, as a URL host). */
static void
expect_welcome_at (Fixture *f, const gchar *uri, const gchar *host)
{
  Client *viewer = client_connect_to (f, uri);
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) presence = NULL;
  g_autofree gchar *address_prefix = g_strdup_printf ("%s:", host);
  g_autofree gchar *stun = g_strdup_printf ("stun:%s:%u", host,
                                            icecam_rendezvous_get_stun_port (f->rendezvous));
  const IcecamIceServer *server;

  client_send (viewer, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  welcome = client_expect (viewer, ICECAM_MESSAGE_WELCOME);
  presence = client_expect (viewer, ICECAM_MESSAGE_PRESENCE);
  g_assert_true (g_str_has_prefix (welcome->address, address_prefix));
  g_assert_cmpuint (welcome->ice_servers->len, ==, 1);
  server = welcome->ice_servers->pdata[0];
  g_assert_cmpstr (server->urls[0], ==, stun);
}

/* --listen [::]: one rendezvous serves IPv4 and IPv6 clients, each told the STUN address it
 * reached (IPv4 ones unmapped from ::ffff:a.b.c.d). */
static void
test_dual_stack (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *v4 = NULL;
  g_autofree gchar *v6 = NULL;

  if (!icecam_rendezvous_listen (f->rendezvous, "::", 0, &error)) {
    g_test_skip (error->message);
    return;
  }
  f->uri = icecam_rendezvous_get_uri (f->rendezvous);
  g_assert_true (g_str_has_prefix (f->uri, "ws://[::]:"));
  v4 = g_strdup_printf ("ws://127.0.0.1:%u/ws", icecam_rendezvous_get_port (f->rendezvous));
  v6 = g_strdup_printf ("ws://[::1]:%u/ws", icecam_rendezvous_get_port (f->rendezvous));
  expect_welcome_at (f, v4, "127.0.0.1");
  expect_welcome_at (f, v6, "[::1]");
  g_assert_cmpuint (get_stats (f).peers, ==, 2);
}

/* The STUN port the server advertises answers a Binding request (RFC 8489 §6) from a client. */
static void
test_stun_answers (Fixture *f, gconstpointer data)
{
  guint8 request[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42 };
  guint8 response[548];
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) server = NULL;
  g_autoptr (GSocket) udp = NULL;
  g_autoptr (GError) error = NULL;
  gssize received;

  for (guint i = 8; i < sizeof request; i++)
    request[i] = g_random_int_range (0, 256);
  server = g_inet_socket_address_new (loopback, icecam_rendezvous_get_stun_port (f->rendezvous));
  udp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (udp, FALSE);
  g_assert_cmpint (g_socket_send_to (udp, server, (const gchar *) request, sizeof request, NULL,
                                     &error), ==, sizeof request);
  g_assert_no_error (error);

  /* The responder runs in this thread's main context: iterate it until the answer is there. */
  g_assert_true (WAIT_UNTIL (g_socket_condition_check (udp, G_IO_IN) & G_IO_IN));
  received = g_socket_receive (udp, (gchar *) response, sizeof response, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (received, >=, 20);
  g_assert_cmpint (response[0], ==, 0x01);  /* Binding success response: 0x0101 */
  g_assert_cmpint (response[1], ==, 0x01);
  g_assert_cmpmem (response + 4, 16, request + 4, 16);  /* cookie and transaction id */
  g_assert_cmpuint (get_stats (f).peers, ==, 0);
}

/* A fixed WebSocket port whose UDP twin is taken: no silent fallback, nothing left listening. */
static void
test_stun_port_taken (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocket) udp = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any_port = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;
  guint port;

  udp = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (udp, any_port, FALSE, &error));
  bound = g_socket_get_local_address (udp, &error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));

  if (icecam_rendezvous_listen (f->rendezvous, "127.0.0.1", port, &error))
    g_error ("listening succeeded although UDP port %u is taken", port);
  if (!g_str_has_prefix (error->message, "STUN responder")) {
    /* Somebody else holds the TCP port by chance: nothing this test can check. */
    g_test_skip (error->message);
    return;
  }
  g_test_message ("%s", error->message);
  g_assert_cmpuint (icecam_rendezvous_get_port (f->rendezvous), ==, 0);
  g_assert_null (icecam_rendezvous_get_uri (f->rendezvous));
}

static void
test_bad_host (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_assert_false (icecam_rendezvous_listen (f->rendezvous, "example.org", 0, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "'example.org' is not an IP address"));
}

/* ---- the icecam-rendezvous command ------------------------------------------------------ */

static GSubprocess *
spawn_command (GSubprocessFlags flags, const gchar * const *args)
{
  g_autofree gchar *path = g_build_filename (g_getenv ("ICECAM_BUILD_DIR"), "src", "server",
                                             "icecam-rendezvous", NULL);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  GSubprocess *proc;

  g_assert_nonnull (g_getenv ("ICECAM_BUILD_DIR"));
  g_ptr_array_add (argv, path);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  proc = g_subprocess_newv ((const gchar * const *) argv->pdata, flags, &error);
  g_assert_no_error (error);
  return proc;
}

static gchar *
read_line (GDataInputStream *in)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  gchar *line;

  g_data_input_stream_read_line_async (in, G_PRIORITY_DEFAULT, NULL, store_result_cb, &result);
  g_assert_true (WAIT_UNTIL (result != NULL));
  line = g_data_input_stream_read_line_finish_utf8 (in, result, NULL, &error);
  g_assert_no_error (error);
  return line;
}

static void
wait_for_exit (GSubprocess *proc, gint expected_status)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  g_subprocess_wait_async (proc, NULL, store_result_cb, &result);
  g_assert_true (WAIT_UNTIL (result != NULL));
  g_assert_true (g_subprocess_wait_finish (proc, result, &error));
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, expected_status);
}

/* The one stdout line gives the ports; the server works; SIGTERM stops it with status 0. */
static void
test_command_listen_and_stop (Fixture *f, gconstpointer data)
{
  const gchar *args[] = { "--listen", "127.0.0.1:0", "--verbose", NULL };
  g_autoptr (GSubprocess) proc =
    spawn_command (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, args);
  g_autoptr (GDataInputStream) out =
    g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  g_autoptr (GRegex) regex = g_regex_new (
    "^icecam-rendezvous: listening on (ws://127\\.0\\.0\\.1:([0-9]+)/ws) "
    "\\(stun udp 127\\.0\\.0\\.1:([0-9]+)\\)$", 0, 0, NULL);
  g_autoptr (GMatchInfo) match = NULL;
  g_autofree gchar *line = read_line (out);
  g_autofree gchar *uri = NULL;
  g_autofree gchar *stun_port = NULL;
  g_autofree gchar *stun_url = NULL;
  g_autofree gchar *rest = NULL;
  g_autoptr (IcecamMessage) welcome = NULL;
  Client *viewer;

  g_assert_nonnull (line);
  if (!g_regex_match (regex, line, 0, &match))
    g_error ("unexpected first line: '%s'", line);
  uri = g_match_info_fetch (match, 1);
  stun_port = g_match_info_fetch (match, 3);

  viewer = client_connect_to (f, uri);
  client_send (viewer, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  welcome = client_expect (viewer, ICECAM_MESSAGE_WELCOME);
  stun_url = g_strdup_printf ("stun:127.0.0.1:%s", stun_port);
  g_assert_cmpstr (((IcecamIceServer *) welcome->ice_servers->pdata[0])->urls[0], ==, stun_url);

  g_subprocess_send_signal (proc, SIGTERM);
  wait_for_exit (proc, 0);
  /* Exactly one line on stdout, even with --verbose. */
  rest = read_line (out);
  g_assert_null (rest);
  g_assert_true (WAIT_UNTIL (viewer->closed));
}

static void
test_command_bad_options (Fixture *f, gconstpointer data)
{
  static const struct {
    const gchar *args[3];
    const gchar *message;
  } cases[] = {
    { { "--listen", "nowhere:80", NULL }, "--listen: 'nowhere' is not an IP address" },
    { { "--stun-listen", "127.0.0.1:70000", NULL }, "--stun-listen: '127.0.0.1:70000'" },
    { { "--no-such-option", NULL, NULL }, "--no-such-option" },
    { { "stray", NULL, NULL }, "unexpected argument 'stray'" },
    { { "--message-rate", "-1", NULL }, "--message-rate must be >= 0 (0: no limit), not -1" },
    { { "--message-burst", "0", NULL }, "--message-burst must be >= 1, not 0" },
    { { "--max-sessions-per-camera", "0", NULL },
      "--max-sessions-per-camera must be >= 1, not 0" },
    { { "--max-sessions-per-viewer", "-1", NULL }, "--max-sessions-per-viewer must be >= 1, not -1" },
    { { "--keepalive-interval", "0", NULL }, "--keepalive-interval must be >= 1, not 0" },
    { { "--silence-limit", "20", NULL },
      "--silence-limit must be longer than --keepalive-interval (20 s), not 20" },
    { { "--resume-grace", "-1", NULL }, "--resume-grace must be >= 0" },
    { { "--handshake-timeout", "-1", NULL }, "--handshake-timeout must be >= 0 (0: none), not -1" },
    { { "--hello-timeout", "-5", NULL }, "--hello-timeout must be >= 0 (0: none), not -5" },
    { { "--max-connections", "-2", NULL }, "--max-connections must be >= 0 (0: none), not -2" },
    { { "--ipv6-prefix-length", "0", NULL }, "--ipv6-prefix-length must be 1 to 128, not 0" },
    { { "--ipv6-prefix-length", "129", NULL }, "--ipv6-prefix-length must be 1 to 128, not 129" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GSubprocess) proc =
      spawn_command (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                     cases[i].args);
    g_autoptr (GAsyncResult) result = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree gchar *out = NULL;
    g_autofree gchar *err = NULL;

    g_subprocess_communicate_utf8_async (proc, NULL, NULL, store_result_cb, &result);
    g_assert_true (WAIT_UNTIL (result != NULL));
    g_subprocess_communicate_utf8_finish (proc, result, &out, &err, &error);
    g_assert_no_error (error);
    wait_for_exit (proc, 2);
    g_assert_cmpstr (out, ==, "");
    if (strstr (err, cases[i].message) == NULL)
      g_error ("stderr '%s' does not contain '%s'", err, cases[i].message);
    /* One line. */
    g_assert_cmpint (strchr (err, '\n') - err, ==, (gint) strlen (err) - 1);
  }
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
#define ADD_NOT_LISTENING(path, func) \
  g_test_add (path, Fixture, "not listening", fixture_setup, func, fixture_teardown)

  ADD ("/rendezvous/listen/uri", test_uri);
  ADD_NOT_LISTENING ("/rendezvous/listen/bad-host", test_bad_host);
  ADD ("/rendezvous/hello/welcome", test_welcome);
  ADD ("/rendezvous/presence/camera-comes-and-goes", test_presence);
  ADD ("/rendezvous/session/relay", test_session);
  ADD ("/rendezvous/error/oversized", test_oversized);
  ADD ("/rendezvous/error/garbage", test_garbage);
  ADD ("/rendezvous/error/binary-frame", test_binary_frame);
  ADD ("/rendezvous/error/version-closes", test_version_closes);
  ADD ("/rendezvous/error/id-in-use-closes", test_id_in_use_closes);
  ADD ("/rendezvous/http/healthz", test_healthz);
  ADD ("/rendezvous/limits/connections-per-address", test_connections_per_address);
  ADD ("/rendezvous/limits/message-rate", test_message_rate);
  ADD ("/rendezvous/limits/silent-client-closed", test_silent_client_closed);
  ADD ("/rendezvous/resume/replaced", test_resume_replaced);
  ADD ("/rendezvous/resume/after-close", test_resume_after_close);
  ADD ("/rendezvous/keepalive/dead-path", test_keepalive_dead_path);
  ADD ("/rendezvous/keepalive/check", test_keepalive_check);
  ADD ("/rendezvous/http/no-fd-leak", test_http_no_fd_leak);
  ADD ("/rendezvous/websocket/pipelined-frame", test_pipelined_frame);
  ADD ("/rendezvous/websocket/no-fd-leak", test_websocket_no_fd_leak);
  ADD ("/rendezvous/stun/answers", test_stun_answers);
  ADD_NOT_LISTENING ("/rendezvous/stun/disabled", test_stun_disabled);
  ADD_NOT_LISTENING ("/rendezvous/stun/wildcard", test_stun_wildcard);
  ADD_NOT_LISTENING ("/rendezvous/listen/dual-stack", test_dual_stack);
  ADD_NOT_LISTENING ("/rendezvous/stun/port-taken", test_stun_port_taken);
  ADD_NOT_LISTENING ("/rendezvous/command/listen-and-stop", test_command_listen_and_stop);
  ADD_NOT_LISTENING ("/rendezvous/command/bad-options", test_command_bad_options);

#undef ADD
#undef ADD_NOT_LISTENING
  return g_test_run ();
}
