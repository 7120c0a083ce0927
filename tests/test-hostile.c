/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Integration tests: the rendezvous under half-open and idle connection floods, in process. */

#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <libsoup/soup.h>

#include "icecam-signalling-client.h"
#include "icecam-test-rendezvous.h"

#define HANDSHAKE_S 1
#define HELLO_S 2
#define SOURCE_ADDRESSES 20
#define FLOOD 1000
#define BATCH 100
/* How late a connection may be closed after its deadline: the check interval (250 ms here)
 * plus room for a loaded machine; times ICECAM_TEST_SLOWDOWN where code runs slower (the
 * sanitized build). */
#define SLACK_US (2 * ICECAM_TEST_SLACK_US)

static const gchar half_request[] = "GET /ws HTT";
static const gchar upgrade_request[] =
  "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/* A hostile connection: what it sent, and when it was opened and found closed. */
typedef struct {
  GSocket *socket;
  gint64 deadline_s;  /* its deadline: the handshake's, or the hello's once upgraded */
  gint64 opened_us;
  gint64 closed_us;   /* 0 while open */
} Hostile;

/* A signalling client (the one cameras and viewers use) and what it received. */
typedef struct {
  IcecamSignallingClient *client;
  GQueue messages;
} Peer;

typedef struct {
  IcecamRendezvous *rendezvous;
  gchar *url;
  Peer *camera;
  Peer *viewer;
  gchar *session;
  GArray *hostile;
  gchar *tls_dir;      /* wss://: the certificate's directory; NULL: ws:// */
} Fixture;

/* ---- hostile connections -------------------------------------------------------------- */

static IcecamAdmissionStats
admission_stats (Fixture *f)
{
  IcecamAdmissionStats stats;

  icecam_rendezvous_get_admission_stats (f->rendezvous, &stats);
  return stats;
}

/* Connection @index comes from 127.0.1.(index % SOURCE_ADDRESSES + 1) and sends @payload. */
static Hostile
hostile_open (Fixture *f, guint index, const gchar *payload, gint64 deadline_s)
{
  g_autofree gchar *source = g_strdup_printf ("127.0.1.%u", index % SOURCE_ADDRESSES + 1);
  g_autoptr (GSocketAddress) from = g_inet_socket_address_new_from_string (source, 0);
  g_autoptr (GSocketAddress) to =
    g_inet_socket_address_new_from_string ("127.0.0.1",
                                           icecam_rendezvous_get_port (f->rendezvous));
  g_autoptr (GError) error = NULL;
  Hostile hostile = { .deadline_s = deadline_s };

  hostile.socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (hostile.socket, from, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (g_socket_connect (hostile.socket, to, NULL, &error));
  g_assert_no_error (error);
  hostile.opened_us = g_get_monotonic_time ();
  if (payload != NULL)
    g_assert_cmpint (g_socket_send (hostile.socket, payload, strlen (payload), NULL, &error), ==,
                     strlen (payload));
  g_assert_no_error (error);
  g_socket_set_blocking (hostile.socket, FALSE);
  return hostile;
}

static guint hostile_count_open (Fixture *f);

/* Opens @n connections in batches, each batch accepted by the server before the next (the
 * listen queue holds 1024); every tenth of them sends @payloads[i % 10]. */
static void
hostile_flood (Fixture *f, guint n, const gchar * const payloads[10], const gint64 deadlines[10])
{
  guint first = f->hostile->len;

  for (guint i = 0; i < n; i++) {
    Hostile hostile = hostile_open (f, first + i, payloads[i % 10], deadlines[i % 10]);

    g_array_append_val (f->hostile, hostile);
    if ((i + 1) % BATCH == 0 || i + 1 == n) {
      guint64 accepted = first + i + 1;

      /* Counted whether still open or already closed: under a sanitizer the first batches
       * can reach their deadline before the last is opened. */
      g_assert_true (WAIT_UNTIL (admission_stats (f).connections +
                                 admission_stats (f).deadline_closed +
                                 admission_stats (f).capacity_refused >= accepted + 2));
      /* Notes when the earlier ones were closed while the rest are being opened. */
      hostile_count_open (f);
    }
  }
}

/* Reads what each open one was sent; end-of-file or an error means the server closed it. */
static guint
hostile_count_open (Fixture *f)
{
  guint open = 0;

  for (guint i = 0; i < f->hostile->len; i++) {
    Hostile *hostile = &g_array_index (f->hostile, Hostile, i);
    g_autoptr (GError) error = NULL;
    gchar buffer[4096];
    gssize n;

    if (hostile->closed_us != 0)
      continue;
    do {
      g_clear_error (&error);
      n = g_socket_receive (hostile->socket, buffer, sizeof buffer, NULL, &error);
    } while (n > 0);
    if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      open++;
    else
      hostile->closed_us = g_get_monotonic_time ();
  }
  return open;
}

static void
hostile_clear (Hostile *hostile)
{
  g_socket_close (hostile->socket, NULL);
  g_object_unref (hostile->socket);
}

/* ---- camera and viewer ---------------------------------------------------------------- */

static void
on_peer_message (IcecamSignallingClient *client, IcecamMessage *msg, Peer *peer)
{
  g_queue_push_tail (&peer->messages, icecam_message_copy (msg));
}

static Peer *
peer_start (Fixture *f, IcecamRole role, const gchar *id)
{
  g_autoptr (GError) error = NULL;
  Peer *peer = g_new0 (Peer, 1);

  peer->client = icecam_signalling_client_new (f->url, role, id, &error);
  g_assert_no_error (error);
  if (f->tls_dir != NULL)
    g_assert_true (icecam_signalling_client_set_tls (peer->client, NULL, TRUE, &error));
  g_assert_no_error (error);
  icecam_signalling_client_set_reconnect (peer->client, FALSE);
  g_queue_init (&peer->messages);
  g_signal_connect (peer->client, "message", G_CALLBACK (on_peer_message), peer);
  icecam_signalling_client_start (peer->client);
  g_assert_true (WAIT_UNTIL (icecam_signalling_client_get_state (peer->client) ==
                             ICECAM_SIGNALLING_STATE_READY));
  return peer;
}

static void
peer_free (Peer *peer)
{
  icecam_signalling_client_stop (peer->client);
  g_signal_handlers_disconnect_by_data (peer->client, peer);
  g_object_unref (peer->client);
  g_queue_clear_full (&peer->messages, (GDestroyNotify) icecam_message_free);
  g_free (peer);
}

/* Drops what @peer got until a message of @type, which it returns. */
static IcecamMessage *
peer_expect (Peer *peer, IcecamMessageType type)
{
  for (;;) {
    IcecamMessage *msg;

    g_assert_true (WAIT_UNTIL (!g_queue_is_empty (&peer->messages)));
    msg = g_queue_pop_head (&peer->messages);
    if (msg->type == type)
      return msg;
    icecam_message_free (msg);
  }
}

static void
peer_send (Peer *peer, IcecamMessage *msg)
{
  icecam_signalling_client_send (peer->client, msg);
  icecam_message_free (msg);
}

/* The camera's session with the viewer carries a fresh candidate to it. */
static void
assert_session_works (Fixture *f)
{
  g_autofree gchar *candidate =
    g_strdup_printf ("candidate:%u 1 UDP 2013266431 127.0.0.1 4000 typ host", g_random_int ());
  g_autoptr (IcecamMessage) got = NULL;

  g_assert_cmpint (icecam_signalling_client_get_state (f->camera->client), ==,
                   ICECAM_SIGNALLING_STATE_READY);
  g_assert_cmpint (icecam_signalling_client_get_state (f->viewer->client), ==,
                   ICECAM_SIGNALLING_STATE_READY);
  peer_send (f->camera, icecam_message_new_candidate (f->session, candidate));
  got = peer_expect (f->viewer, ICECAM_MESSAGE_CANDIDATE);
  g_assert_cmpstr (got->candidate, ==, candidate);
}

/* ---- plain HTTP ----------------------------------------------------------------------- */

static gchar *
http_get (Fixture *f, const gchar *path)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *uri = g_strdup_printf ("http://127.0.0.1:%u%s",
                                           icecam_rendezvous_get_port (f->rendezvous), path);
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, uri);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;

  soup_session_set_proxy_resolver (session, NULL);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL,
                                    icecam_test_store_result_cb, &result);
  g_assert_true (WAIT_UNTIL (result != NULL));
  body = soup_session_send_and_read_finish (session, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, SOUP_STATUS_OK);
  return g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static void
assert_contains (const gchar *text, const gchar *needle)
{
  if (strstr (text, needle) == NULL)
    g_error ("'%s' not in:\n%s", needle, text);
}

/* ---- fixture -------------------------------------------------------------------------- */

/* The camera cam1 and a viewer watching it, on the rendezvous at f->url. */
static void
fixture_start_session (Fixture *f)
{
  g_autoptr (IcecamMessage) to_camera = NULL;
  g_autoptr (IcecamMessage) to_viewer = NULL;

  f->url = icecam_rendezvous_get_uri (f->rendezvous);
  f->hostile = g_array_new (FALSE, FALSE, sizeof (Hostile));
  g_array_set_clear_func (f->hostile, (GDestroyNotify) hostile_clear);

  f->camera = peer_start (f, ICECAM_ROLE_CAMERA, "cam1");
  f->viewer = peer_start (f, ICECAM_ROLE_VIEWER, NULL);
  peer_send (f->viewer, icecam_message_new_watch ("cam1"));
  to_viewer = peer_expect (f->viewer, ICECAM_MESSAGE_SESSION);
  to_camera = peer_expect (f->camera, ICECAM_MESSAGE_SESSION);
  g_assert_cmpstr (to_viewer->session, ==, to_camera->session);
  f->session = g_strdup (to_camera->session);
  assert_session_works (f);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->rendezvous = icecam_test_rendezvous_new (0, FALSE, &error);
  g_assert_no_error (error);
  icecam_rendezvous_set_deadlines (f->rendezvous, HANDSHAKE_S, HELLO_S);
  fixture_start_session (f);
}

/* The same on wss:// (a self-signed certificate the clients accept), with deadlines a TLS
 * handshake under the sanitizers meets. */
static void
fixture_setup_tls (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->rendezvous = icecam_rendezvous_new ();
  icecam_rendezvous_set_stun_enabled (f->rendezvous, FALSE);
  f->tls_dir = icecam_test_rendezvous_use_certificate (f->rendezvous);
  icecam_rendezvous_set_deadlines (f->rendezvous, 60, 60);
  g_assert_true (icecam_rendezvous_listen (f->rendezvous, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  fixture_start_session (f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_array_unref (f->hostile);
  peer_free (f->camera);
  peer_free (f->viewer);
  icecam_test_rendezvous_finalize (f->rendezvous);
  g_free (f->session);
  g_free (f->url);
  if (f->tls_dir != NULL)
    icecam_test_remove_dir (f->tls_dir);
  g_free (f->tls_dir);
}

/* ---- tests ---------------------------------------------------------------------------- */

/* 1,000 connections from 20 addresses (50 each, under the per-address limit) that never
 * finish: idle, half a request line, or upgraded without a hello. Each is closed within its
 * deadline and counted, while the camera's session with the viewer carries on. */
static void
test_half_open_flood (Fixture *f, gconstpointer data)
{
  static const gchar *payloads[10] = {
    NULL, NULL, NULL, NULL, half_request, half_request, half_request,
    upgrade_request, upgrade_request, upgrade_request,
  };
  static const gint64 deadlines[10] = {
    HANDSHAKE_S, HANDSHAKE_S, HANDSHAKE_S, HANDSHAKE_S, HANDSHAKE_S, HANDSHAKE_S, HANDSHAKE_S,
    HELLO_S, HELLO_S, HELLO_S,
  };
  g_autofree gchar *healthz = NULL;
  g_autofree gchar *metrics = NULL;

  hostile_flood (f, FLOOD, payloads, deadlines);
  assert_session_works (f);
  g_assert_true (WAIT_UNTIL_FOR (hostile_count_open (f) == 0, HELLO_S + 10));

  for (guint i = 0; i < f->hostile->len; i++) {
    Hostile *hostile = &g_array_index (f->hostile, Hostile, i);
    gint64 lived_us = hostile->closed_us - hostile->opened_us;

    if (lived_us < hostile->deadline_s * G_USEC_PER_SEC ||
        lived_us > hostile->deadline_s * G_USEC_PER_SEC + SLACK_US)
      g_error ("connection %u (deadline %" G_GINT64_FORMAT " s) closed after %" G_GINT64_FORMAT
               " ms", i, hostile->deadline_s, lived_us / 1000);
  }
  g_assert_cmpuint (admission_stats (f).deadline_closed, ==, FLOOD);
  g_assert_true (WAIT_UNTIL (admission_stats (f).connections == 2));
  assert_session_works (f);

  healthz = http_get (f, "/healthz");
  assert_contains (healthz, "\"deadline_closed\":1000");
  metrics = http_get (f, "/metrics");
  assert_contains (metrics, "\nicecam_rendezvous_deadline_closed_total 1000\n");
  assert_contains (metrics, "\nicecam_rendezvous_capacity_refused_total 0\n");
}

/* At the global cap new connections are closed at once and counted; the camera and viewer
 * are undisturbed, and once connections go new ones are served again. */
static void
test_global_cap (Fixture *f, gconstpointer data)
{
  static const gchar *idle[10] = { NULL };
  static const gint64 deadlines[10] = { 0 };
  g_autofree gchar *healthz = NULL;
  g_autofree gchar *metrics = NULL;
  Peer *late = NULL;

  /* Nothing may time out here: only the cap closes connections. */
  icecam_rendezvous_set_deadlines (f->rendezvous, 60, 60);
  icecam_rendezvous_set_max_connections (f->rendezvous, 2 + 40);
  hostile_flood (f, 50, idle, deadlines);
  g_assert_true (WAIT_UNTIL (admission_stats (f).capacity_refused == 10));
  g_assert_true (WAIT_UNTIL (hostile_count_open (f) == 40));
  for (guint i = 0; i < f->hostile->len; i++)
    g_assert_cmpint (g_array_index (f->hostile, Hostile, i).closed_us != 0, ==, i >= 40);
  g_assert_cmpuint (admission_stats (f).connections, ==, 42);
  assert_session_works (f);

  g_array_set_size (f->hostile, 0);
  g_assert_true (WAIT_UNTIL (admission_stats (f).connections == 2));
  healthz = http_get (f, "/healthz");
  assert_contains (healthz, "\"capacity_refused\":10");
  metrics = http_get (f, "/metrics");
  assert_contains (metrics, "\nicecam_rendezvous_capacity_refused_total 10\n");
  late = peer_start (f, ICECAM_ROLE_VIEWER, NULL);
  peer_free (late);
  assert_session_works (f);
}

/* ---- messages over the size limit ---------------------------------------------------- */

#define MIB (1024 * 1024)

/* Reads what the server sent @hostile into @received until @done says it is there, the
 * connection closed, or the deadline passed; then whether @done holds. */
static gboolean
hostile_read_until (Hostile *hostile, GByteArray *received,
                    gboolean (*done) (GByteArray *received))
{
  gint64 deadline = g_get_monotonic_time () + 10 * ICECAM_TEST_SLACK_US;

  while (!done (received) && g_get_monotonic_time () < deadline) {
    g_autoptr (GError) error = NULL;
    guint8 buffer[4096];
    gssize n = g_socket_receive (hostile->socket, (gchar *) buffer, sizeof buffer, NULL, &error);

    if (n > 0)
      g_byte_array_append (received, buffer, (guint) n);
    else if (n == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      break;
    else
      g_main_context_iteration (NULL, FALSE);
  }
  return done (received);
}

static gboolean
has_http_head (GByteArray *received)
{
  return received->len > 0 && g_strstr_len ((const gchar *) received->data, received->len, "\r\n\r\n") != NULL;
}

/* The bytes after the 101's head, from the server's first frame on. */
static gsize
frames_start (GByteArray *received)
{
  const gchar *end = received->len == 0 ? NULL
    : g_strstr_len ((const gchar *) received->data, received->len, "\r\n\r\n");

  return end != NULL ? (gsize) (end + 4 - (const gchar *) received->data) : received->len;
}

/* The server's frames (after the 101) hold a close frame, unmasked, with a short payload. */
static gint
close_code (GByteArray *received)
{
  gsize at = frames_start (received);

  while (at + 2 <= received->len) {
    guint8 opcode = received->data[at] & 0x0f;
    gsize length = received->data[at + 1] & 0x7f;
    gsize header = 2;

    if (length == 126) {
      if (at + 4 > received->len)
        return -1;
      length = ((gsize) received->data[at + 2] << 8) | received->data[at + 3];
      header = 4;
    }
    if (at + header + length > received->len)
      return -1;
    if (opcode == 0x8 && length >= 2)
      return (received->data[at + header] << 8) | received->data[at + header + 1];
    at += header + length;
  }
  return -1;
}

static gboolean
has_close (GByteArray *received)
{
  return close_code (received) >= 0;
}

/* A masked client frame header: @opcode, @fin, a 64-bit @length; the mask is zero. */
static gsize
frame_header (guint8 *header, guint8 opcode, gboolean fin, guint64 length)
{
  gsize at = 0;

  header[at++] = (fin ? 0x80 : 0) | opcode;
  if (length < 126) {
    header[at++] = 0x80 | (guint8) length;
  } else if (length <= G_MAXUINT16) {
    header[at++] = 0x80 | 126;
    header[at++] = (guint8) (length >> 8);
    header[at++] = (guint8) length;
  } else {
    header[at++] = 0x80 | 127;
    for (gint shift = 56; shift >= 0; shift -= 8)
      header[at++] = (guint8) (length >> shift);
  }
  memset (header + at, 0, 4);
  return at + 4;
}

static void
hostile_send_all (Hostile *hostile, const guint8 *data, gsize len)
{
  gsize sent = 0;
  gint64 deadline = g_get_monotonic_time () + 10 * ICECAM_TEST_SLACK_US;

  while (sent < len && g_get_monotonic_time () < deadline) {
    g_autoptr (GError) error = NULL;
    gssize n = g_socket_send (hostile->socket, (const gchar *) data + sent, len - sent, NULL,
                              &error);

    if (n > 0)
      sent += (gsize) n;
    else
      g_main_context_iteration (NULL, FALSE);
  }
  g_assert_cmpuint (sent, ==, len);
}

/* An upgraded raw WebSocket from 127.0.1.x, its 101 read. */
static Hostile
hostile_upgraded (Fixture *f, GByteArray *received)
{
  Hostile hostile = hostile_open (f, 0, upgrade_request, 60);

  g_assert_true (hostile_read_until (&hostile, received, has_http_head));
  g_assert_nonnull (g_strstr_len ((const gchar *) received->data, received->len, " 101 "));
  return hostile;
}

/* A text frame announcing 2 MiB: the server closes with 1009 after its header and the first
 * 64 KiB of payload, without waiting for the rest (it would need the rest to answer anything
 * else), and with no message rate to blame; the session of the camera and viewer carries on. */
static void
test_oversized_frame (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) received = g_byte_array_new ();
  g_autofree guint8 *part = g_malloc0 (64 * 1024);
  Hostile hostile;
  guint8 header[14];
  gsize header_len = frame_header (header, 0x1, TRUE, 2 * MIB);

  icecam_rendezvous_set_message_rate (f->rendezvous, 0, 1);
  icecam_rendezvous_set_deadlines (f->rendezvous, 60, 60);
  hostile = hostile_upgraded (f, received);
  hostile_send_all (&hostile, header, header_len);
  hostile_send_all (&hostile, part, 64 * 1024);
  g_assert_true (hostile_read_until (&hostile, received, has_close));
  g_assert_cmpint (close_code (received), ==, SOUP_WEBSOCKET_CLOSE_TOO_BIG);
  assert_session_works (f);
  hostile_clear (&hostile);
}

/* Fragments of at most 512 KiB each that add up to over 1 MiB: the same close, at the fragment
 * that goes over, with the earlier ones never delivered as a message. */
static void
test_oversized_fragments (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) received = g_byte_array_new ();
  g_autofree guint8 *fragment = g_malloc0 (512 * 1024);
  Hostile hostile;
  guint8 header[14];

  icecam_rendezvous_set_message_rate (f->rendezvous, 0, 1);
  icecam_rendezvous_set_deadlines (f->rendezvous, 60, 60);
  hostile = hostile_upgraded (f, received);
  memset (fragment, ' ', 512 * 1024);
  for (guint i = 0; i < 3 && !has_close (received); i++) {
    gsize header_len = frame_header (header, i == 0 ? 0x1 : 0x0, FALSE, 512 * 1024);

    hostile_send_all (&hostile, header, header_len);
    hostile_send_all (&hostile, fragment, 512 * 1024);
    while (g_main_context_iteration (NULL, FALSE))
      ;
  }
  g_assert_true (hostile_read_until (&hostile, received, has_close));
  g_assert_cmpint (close_code (received), ==, SOUP_WEBSOCKET_CLOSE_TOO_BIG);
  assert_session_works (f);
  hostile_clear (&hostile);
}

/* A masked client text frame (zero mask: the payload as it is). */
static void
hostile_send_text (Hostile *hostile, const gchar *text)
{
  guint8 header[14];
  gsize header_len = frame_header (header, 0x1, TRUE, strlen (text));

  hostile_send_all (hostile, header, header_len);
  hostile_send_all (hostile, (const guint8 *) text, strlen (text));
}

/* The slow reader has watched cam1: the camera sends it 30 KB offers until its session ends
 * (2,000 are 60 MB, far past any socket buffer), which must come well before that; the
 * camera's session with the other viewer carries on. */
static void
offer_until_session_ends (Fixture *f)
{
  g_autoptr (IcecamMessage) session = peer_expect (f->camera, ICECAM_MESSAGE_SESSION);
  g_autoptr (GString) sdp = g_string_new ("v=0\r\n");
  gboolean ended = FALSE;
  guint sent = 0;

  while (sdp->len < 30000)
    g_string_append (sdp, "a=x-padding:0123456789012345678901234567890123456789012345\r\n");
  while (!ended && sent < 2000) {
    peer_send (f->camera, icecam_message_new_offer (session->session, sdp->str));
    sent++;
    while (g_main_context_iteration (NULL, FALSE))
      ;
    for (GList *l = f->camera->messages.head; l != NULL; l = l->next) {
      IcecamMessage *msg = l->data;

      ended |= msg->type == ICECAM_MESSAGE_BYE && g_strcmp0 (msg->session, session->session) == 0;
    }
  }
  if (!ended) {
    g_autoptr (IcecamMessage) bye = peer_expect (f->camera, ICECAM_MESSAGE_BYE);

    g_assert_cmpstr (bye->session, ==, session->session);
  }
  g_test_message ("the session ended after %u offers (%u KB)", sent, sent * 30);
  g_assert_cmpuint (sent, <, 2000);
  assert_session_works (f);
}

/* A viewer that watches, then never reads again, while its camera sends: once over 4 MiB of
 * messages wait for it beyond what the kernel holds, it is closed and its session ends (the
 * camera hears peer-left) instead of the server holding all it is sent until the keepalive
 * gives up; the camera's session with the other viewer carries on. */
static void
test_slow_reader (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) received = g_byte_array_new ();
  Hostile hostile;

  icecam_rendezvous_set_message_rate (f->rendezvous, 0, 1);
  icecam_rendezvous_set_deadlines (f->rendezvous, 60, 60);
  hostile = hostile_upgraded (f, received);
  hostile_send_text (&hostile, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  hostile_send_text (&hostile, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  offer_until_session_ends (f);
  hostile_clear (&hostile);
}

/* ---- a wss:// client that stops reading ---------------------------------------------- */

/* It runs in a thread of its own, with blocking calls: the server runs in this one. */
typedef struct {
  guint port;
  GMutex lock;
  GCond cond;
  gboolean release;   /* under lock: it may read again, to see whether the server closed it */
  gint watching;      /* atomic: it has sent its watch and reads no more */
  gint done;          /* atomic: it has finished; then closed says how */
  gboolean closed;    /* it found the connection closed by the server */
} TlsReader;

static gboolean
accept_any_certificate (GTlsConnection *connection, GTlsCertificate *certificate,
                        GTlsCertificateFlags errors, gpointer data)
{
  return TRUE;
}

static void
tls_write_text (GOutputStream *out, const gchar *text)
{
  guint8 header[14];
  gsize header_len = frame_header (header, 0x1, TRUE, strlen (text));
  g_autoptr (GError) error = NULL;

  g_assert_true (g_output_stream_write_all (out, header, header_len, NULL, NULL, &error));
  g_assert_true (g_output_stream_write_all (out, text, strlen (text), NULL, NULL, &error));
  g_assert_no_error (error);
}

static gpointer
tls_reader_thread (gpointer data)
{
  TlsReader *reader = data;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GIOStream) tls = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GByteArray) head = g_byte_array_new ();
  GInputStream *in;
  gssize n;
  guint8 buffer[4096];

  connection = g_socket_client_connect_to_host (client, "127.0.0.1", reader->port, NULL, &error);
  g_assert_no_error (error);
  /* Not reading shows sooner with a small receive buffer. */
  g_socket_set_option (g_socket_connection_get_socket (connection), SOL_SOCKET, SO_RCVBUF,
                       64 * 1024, NULL);
  tls = g_tls_client_connection_new (G_IO_STREAM (connection), NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (tls, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  g_assert_true (g_tls_connection_handshake (G_TLS_CONNECTION (tls), NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_write_all (g_io_stream_get_output_stream (tls), upgrade_request,
                                            strlen (upgrade_request), NULL, NULL, &error));
  in = g_io_stream_get_input_stream (tls);
  while (!has_http_head (head)) {
    n = g_input_stream_read (in, buffer, sizeof buffer, NULL, &error);
    g_assert_cmpint (n, >, 0);
    g_byte_array_append (head, buffer, (guint) n);
  }
  g_assert_nonnull (g_strstr_len ((const gchar *) head->data, head->len, " 101 "));
  tls_write_text (g_io_stream_get_output_stream (tls),
                  "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  tls_write_text (g_io_stream_get_output_stream (tls), "{\"type\":\"watch\",\"camera\":\"cam1\"}");

  g_atomic_int_set (&reader->watching, TRUE);
  g_mutex_lock (&reader->lock);
  while (!reader->release)
    g_cond_wait (&reader->cond, &reader->lock);
  g_mutex_unlock (&reader->lock);

  /* What the kernel held, then the end: a server that kept the connection would keep it
   * past the timeout. */
  g_socket_set_timeout (g_socket_connection_get_socket (connection), 10 * icecam_test_slowdown ());
  do {
    g_clear_error (&error);
    n = g_input_stream_read (in, buffer, sizeof buffer, NULL, &error);
  } while (n > 0);
  reader->closed = n == 0 || !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_atomic_int_set (&reader->done, TRUE);
  return NULL;
}

/* On wss:// libsoup, not the stream under it, queues the messages for a client: the same
 * limit holds, counted as what libsoup was handed less what went into TLS. */
static void
test_slow_reader_tls (Fixture *f, gconstpointer data)
{
  TlsReader reader = { .port = icecam_rendezvous_get_port (f->rendezvous) };
  GThread *thread;

  icecam_rendezvous_set_message_rate (f->rendezvous, 0, 1);
  g_mutex_init (&reader.lock);
  g_cond_init (&reader.cond);
  thread = g_thread_new ("tls-reader", tls_reader_thread, &reader);
  g_assert_true (WAIT_UNTIL (g_atomic_int_get (&reader.watching)));
  offer_until_session_ends (f);

  g_mutex_lock (&reader.lock);
  reader.release = TRUE;
  g_cond_signal (&reader.cond);
  g_mutex_unlock (&reader.lock);
  /* The server runs here: it must keep running while the client reads to the end. */
  g_assert_true (WAIT_UNTIL_FOR (g_atomic_int_get (&reader.done), 20 * icecam_test_slowdown ()));
  g_thread_join (thread);
  g_assert_true (reader.closed);
  g_mutex_clear (&reader.lock);
  g_cond_clear (&reader.cond);
}

int
main (int argc, char **argv)
{
  struct rlimit limit;

  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

  /* Both ends of every connection live in this process: raise the limit as the service does. */
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit (RLIMIT_NOFILE, &limit);
  }
  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur < 2 * FLOOD + 512) {
    g_test_skip ("fewer than 2,512 descriptors");
    return 77;
  }

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/hostile/deadlines/half-open-flood", test_half_open_flood);
  ADD ("/hostile/capacity/global-cap", test_global_cap);
  ADD ("/hostile/frames/oversized", test_oversized_frame);
  ADD ("/hostile/frames/oversized-fragments", test_oversized_fragments);
  ADD ("/hostile/output/slow-reader", test_slow_reader);
#undef ADD
  g_test_add ("/hostile/output/slow-reader-tls", Fixture, NULL, fixture_setup_tls,
              test_slow_reader_tls, fixture_teardown);
  return g_test_run ();
}
