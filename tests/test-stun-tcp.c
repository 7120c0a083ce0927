/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* STUN Binding over TCP (RFC 8489 section 6.2.2) at the rendezvous, for TCP hole punching. */

#include <string.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "icecam-rendezvous.h"
#include "icecam-stun-message.h"
#include "icecam-stun-tcp.h"
#include "icecam-test-rendezvous.h"

typedef struct {
  IcecamRendezvous *rendezvous;
  SoupSession *session;
  gchar *tls_dir;
  gchar *scheme;   /* "http" or "https" */
} Fixture;

/* ---- a client TCP socket -------------------------------------------------------------- */

/* A non-blocking TCP socket from 127.0.0.1 connected to 127.0.0.1:@port (the server runs in
 * this thread: the test iterates the main context while it waits). */
static GSocket *
tcp_connect (guint port)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) server = g_inet_socket_address_new (loopback, port);
  g_autoptr (GError) error = NULL;
  GSocket *socket =
    g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  /* Bound first, as a puncher binds the socket it will punch with. */
  g_assert_true (g_socket_bind (socket, any, TRUE, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (socket, FALSE);
  if (!g_socket_connect (socket, server, NULL, &error)) {
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PENDING);
    g_clear_error (&error);
    g_assert_true (WAIT_UNTIL (g_socket_condition_check (socket, G_IO_OUT) & G_IO_OUT));
    g_assert_true (g_socket_check_connect_result (socket, &error));
    g_assert_no_error (error);
  }
  return socket;
}

static void
tcp_send (GSocket *socket, const guint8 *data, gsize length)
{
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_socket_send (socket, (const gchar *) data, length, NULL, &error), ==,
                   (gssize) length);
  g_assert_no_error (error);
}

/* Reads until @length bytes are there, or end-of-file (then FALSE). */
static gboolean
tcp_read (GSocket *socket, guint8 *buffer, gsize length)
{
  gsize filled = 0;

  while (filled < length) {
    g_autoptr (GError) error = NULL;
    gssize n;

    g_assert_true (WAIT_UNTIL (g_socket_condition_check (socket, G_IO_IN | G_IO_HUP)));
    n = g_socket_receive (socket, (gchar *) buffer + filled, length - filled, NULL, &error);
    if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      continue;
    if (n <= 0)
      return FALSE;
    filled += (gsize) n;
  }
  return TRUE;
}

/* Whether the server closed @socket (end-of-file or a reset) within @seconds. */
static gboolean
tcp_closed_within (GSocket *socket, gdouble seconds)
{
  gboolean closed = FALSE;

  WAIT_UNTIL_FOR (({
                    guint8 byte;
                    gssize n = -1;

                    if (g_socket_condition_check (socket, G_IO_IN | G_IO_HUP | G_IO_ERR))
                      n = g_socket_receive (socket, (gchar *) &byte, 1, NULL, NULL);
                    closed = closed || n == 0 || (n < 0 && (g_socket_condition_check (
                                                      socket, G_IO_ERR | G_IO_HUP) != 0));
                    closed;
                  }),
                  seconds);
  return closed;
}

/* A Binding request with a random transaction ID, as a puncher sends it; returns its size. */
static gsize
binding_request (guint8 request[ICECAM_STUN_MESSAGE_BUFFER_SIZE],
                 guint8 transaction_id[ICECAM_STUN_TRANSACTION_ID_LENGTH])
{
  g_autoptr (GError) error = NULL;
  gsize length;

  for (guint i = 0; i < ICECAM_STUN_TRANSACTION_ID_LENGTH; i++)
    transaction_id[i] = g_random_int_range (0, 256);
  length = icecam_stun_message_write_binding_request (transaction_id, FALSE, 0, request,
                                                      ICECAM_STUN_MESSAGE_BUFFER_SIZE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, >=, 20);
  return length;
}

/* Reads one Binding success response from @socket: it must name @transaction_id and map to
 * @socket's own local address (no NAT on loopback). */
static void
expect_binding_success (GSocket *socket,
                        const guint8 transaction_id[ICECAM_STUN_TRANSACTION_ID_LENGTH])
{
  guint8 message[ICECAM_STUN_TCP_MAX_MESSAGE];
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (socket, &error);
  IcecamStunResponse response;
  IcecamStunAddress expected;
  gsize body;

  g_assert_true (tcp_read (socket, message, 20));
  body = ((gsize) message[2] << 8) | message[3];
  g_assert_cmpuint (20 + body, <=, sizeof message);
  g_assert_true (tcp_read (socket, message + 20, body));
  g_assert_true (icecam_stun_message_parse_response (message, 20 + body, &response, &error));
  g_assert_no_error (error);
  g_assert_false (response.is_error);
  g_assert_cmphex (response.cookie, ==, ICECAM_STUN_MAGIC_COOKIE);
  g_assert_cmpmem (response.transaction_id, ICECAM_STUN_TRANSACTION_ID_LENGTH, transaction_id,
                   ICECAM_STUN_TRANSACTION_ID_LENGTH);
  g_assert_true (response.has_mapped_address);
  g_assert_true (icecam_stun_address_from_socket_address (G_INET_SOCKET_ADDRESS (local),
                                                          &expected));
  g_assert_cmpint (response.mapped_address.family, ==, expected.family);
  g_assert_cmpuint (response.mapped_address.port, ==, expected.port);
  g_assert_cmpmem (response.mapped_address.address, 4, expected.address, 4);
}

/* One connection, two requests written back to back in one segment, both answered in order;
 * the connection stays open. */
static void
check_two_bindings (guint port)
{
  g_autoptr (GSocket) socket = tcp_connect (port);
  guint8 requests[2 * ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  guint8 first_id[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  guint8 second_id[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  gsize length = binding_request (requests, first_id);

  length += binding_request (requests + length, second_id);
  tcp_send (socket, requests, length);
  expect_binding_success (socket, first_id);
  expect_binding_success (socket, second_id);
  g_assert_false (tcp_closed_within (socket, 0.2));
}

static void
set_flag (gboolean *flag)
{
  *flag = TRUE;
}

/* ---- the server's other services ------------------------------------------------------ */

static gboolean
on_accept_certificate (SoupMessage *msg, GTlsCertificate *certificate,
                       GTlsCertificateFlags errors, gpointer user_data)
{
  return TRUE;  /* the test's own self-signed certificate */
}

static JsonObject *
get_healthz (Fixture *f)
{
  g_autofree gchar *uri = g_strdup_printf ("%s://127.0.0.1:%u/healthz", f->scheme,
                                           icecam_rendezvous_get_port (f->rendezvous));
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, uri);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();

  g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_accept_certificate), NULL);
  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT, NULL,
                                    icecam_test_store_result_cb, &result);
  g_assert_true (WAIT_UNTIL (result != NULL));
  body = soup_session_send_and_read_finish (f->session, result, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, SOUP_STATUS_OK);
  json_parser_load_from_data (parser, g_bytes_get_data (body, NULL), g_bytes_get_size (body),
                              &error);
  g_assert_no_error (error);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static gint64
tcp_answers (Fixture *f)
{
  g_autoptr (JsonObject) healthz = get_healthz (f);

  return json_object_get_int_member (json_object_get_object_member (healthz, "stun"),
                                     "tcp_requests_answered");
}

/* A WebSocket to the signalling port still gets the server's first message, its challenge. */
static void
expect_websocket_served (Fixture *f)
{
  g_autofree gchar *uri = g_strdup_printf ("%s://127.0.0.1:%u/ws",
                                           g_str_equal (f->scheme, "https") ? "wss" : "ws",
                                           icecam_rendezvous_get_port (f->rendezvous));
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, uri);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (SoupWebsocketConnection) ws = NULL;
  g_autoptr (GError) error = NULL;
  gboolean got_message = FALSE;

  g_signal_connect (msg, "accept-certificate", G_CALLBACK (on_accept_certificate), NULL);
  soup_session_websocket_connect_async (f->session, msg, NULL, NULL, G_PRIORITY_DEFAULT, NULL,
                                        icecam_test_store_result_cb, &result);
  g_assert_true (WAIT_UNTIL (result != NULL));
  ws = soup_session_websocket_connect_finish (f->session, result, &error);
  g_assert_no_error (error);
  g_signal_connect_swapped (ws, "message", G_CALLBACK (set_flag), &got_message);
  g_assert_true (WAIT_UNTIL (got_message));
  soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  g_assert_true (WAIT_UNTIL (soup_websocket_connection_get_state (ws) ==
                             SOUP_WEBSOCKET_STATE_CLOSED));
}

/* ---- fixture -------------------------------------------------------------------------- */

static void
make_tls_files (Fixture *f)
{
  f->tls_dir = icecam_test_rendezvous_use_certificate (f->rendezvous);
  g_free (f->scheme);
  f->scheme = g_strdup ("https");
}

static void
fixture_listen (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (icecam_rendezvous_listen (f->rendezvous, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->rendezvous = icecam_rendezvous_new ();
  f->session = soup_session_new ();
  soup_session_set_proxy_resolver (f->session, NULL);
  f->scheme = g_strdup ("http");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_object_unref (f->session);
  g_assert_finalize_object (f->rendezvous);
  if (f->tls_dir != NULL)
    icecam_test_remove_dir (f->tls_dir);
  g_free (f->tls_dir);
  g_free (f->scheme);
}

/* The rendezvous's STUN port must be its signalling port for these tests; a UDP twin taken by
 * chance moves it. */
static gboolean
stun_on_signalling_port (Fixture *f)
{
  if (icecam_rendezvous_get_stun_port (f->rendezvous) == icecam_rendezvous_get_port (f->rendezvous))
    return TRUE;
  g_test_skip ("the UDP port twin of the signalling port was taken");
  return FALSE;
}

/* ---- tests ---------------------------------------------------------------------------- */

/* ws:// mode: Binding over TCP on the signalling port, counted; WebSocket and HTTP still
 * served on the same port. */
static void
test_signalling_port (Fixture *f, gconstpointer data)
{
  fixture_listen (f);
  if (!stun_on_signalling_port (f))
    return;
  check_two_bindings (icecam_rendezvous_get_port (f->rendezvous));
  g_assert_cmpint (tcp_answers (f), ==, 2);
  expect_websocket_served (f);
}

/* wss:// mode: the same, and TLS (first byte 0x16) still reaches the server. */
static void
test_signalling_port_tls (Fixture *f, gconstpointer data)
{
  make_tls_files (f);
  fixture_listen (f);
  if (!stun_on_signalling_port (f))
    return;
  check_two_bindings (icecam_rendezvous_get_port (f->rendezvous));
  g_assert_cmpint (tcp_answers (f), ==, 2);
  expect_websocket_served (f);
}

/* A header that is not RFC 8489's (no magic cookie), or a method other than Binding: the
 * connection is closed, and the server serves WebSocket clients as before. */
static void
test_malformed_closed (Fixture *f, gconstpointer data)
{
  static const guint8 no_cookie[20] = { 0x00, 0x01, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef };
  guint8 allocate[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  gsize length;
  guint8 id[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  guint port;

  fixture_listen (f);
  if (!stun_on_signalling_port (f))
    return;
  port = icecam_rendezvous_get_port (f->rendezvous);
  {
    g_autoptr (GSocket) socket = tcp_connect (port);

    tcp_send (socket, no_cookie, sizeof no_cookie);
    g_assert_true (tcp_closed_within (socket, 5));
  }
  {
    g_autoptr (GSocket) socket = tcp_connect (port);

    length = binding_request (allocate, id);
    allocate[1] = 0x03;  /* an Allocate request: TURN, not served here */
    tcp_send (socket, allocate, length);
    g_assert_true (tcp_closed_within (socket, 5));
  }
  g_assert_cmpint (tcp_answers (f), ==, 0);
  expect_websocket_served (f);
  check_two_bindings (port);
}

/* The handshake deadline still closes a connection that sends nothing; a STUN one outlives
 * it (it has its own bound) and is still answered. */
static void
test_handshake_deadline (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocket) silent = NULL;
  g_autoptr (GSocket) stun = NULL;
  guint8 request[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  guint8 id[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  gint64 started;

  icecam_rendezvous_set_deadlines (f->rendezvous, 1, 1);
  fixture_listen (f);
  if (!stun_on_signalling_port (f))
    return;
  started = g_get_monotonic_time ();
  silent = tcp_connect (icecam_rendezvous_get_port (f->rendezvous));
  stun = tcp_connect (icecam_rendezvous_get_port (f->rendezvous));
  tcp_send (stun, request, binding_request (request, id));
  expect_binding_success (stun, id);

  g_assert_true (tcp_closed_within (silent, 5 * icecam_test_slowdown ()));
  /* Past the handshake deadline (and its check's interval) by now. */
  g_assert_cmpint (g_get_monotonic_time () - started, >=, G_USEC_PER_SEC);
  g_assert_false (tcp_closed_within (stun, 0.5));
  tcp_send (stun, request, binding_request (request, id));
  expect_binding_success (stun, id);
}

/* From a trusted proxy, after its PROXY header: the mapping is the client's address the header
 * names, not the proxy's. */
static void
test_after_proxy_header (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autofree gchar *header = NULL;
  guint8 message[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  guint8 id[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  IcecamStunResponse response;
  gsize body;

  g_assert_true (icecam_rendezvous_add_trusted_proxy (f->rendezvous, "127.0.0.1", &error));
  fixture_listen (f);
  if (!stun_on_signalling_port (f))
    return;
  socket = tcp_connect (icecam_rendezvous_get_port (f->rendezvous));
  header = g_strdup_printf ("PROXY TCP4 203.0.113.9 127.0.0.1 40000 %u\r\n",
                            icecam_rendezvous_get_port (f->rendezvous));
  tcp_send (socket, (const guint8 *) header, strlen (header));
  tcp_send (socket, message, binding_request (message, id));

  g_assert_true (tcp_read (socket, message, 20));
  body = ((gsize) message[2] << 8) | message[3];
  g_assert_true (tcp_read (socket, message + 20, body));
  g_assert_true (icecam_stun_message_parse_response (message, 20 + body, &response, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (response.transaction_id, sizeof id, id, sizeof id);
  g_assert_true (response.has_mapped_address);
  g_assert_cmpint (response.mapped_address.family, ==, ICECAM_STUN_FAMILY_IPV4);
  g_assert_cmpuint (response.mapped_address.port, ==, 40000);
  g_assert_cmpmem (response.mapped_address.address, 4, ((const guint8[]) { 203, 0, 113, 9 }), 4);
}

/* --stun-listen on a port of its own: Binding over TCP there too. */
static void
test_own_port (Fixture *f, gconstpointer data)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) stun_address = g_inet_socket_address_new (loopback, 0);
  guint stun_port;

  icecam_rendezvous_set_stun_address (f->rendezvous, G_INET_SOCKET_ADDRESS (stun_address));
  fixture_listen (f);
  stun_port = icecam_rendezvous_get_stun_port (f->rendezvous);
  g_assert_cmpuint (stun_port, !=, icecam_rendezvous_get_port (f->rendezvous));
  check_two_bindings (stun_port);
  g_assert_cmpint (tcp_answers (f), ==, 2);
  expect_websocket_served (f);
}

/* The one warning test_own_port_tcp_taken() expects is counted, not fatal; any other fails. */
static void
count_tcp_taken_warning (const gchar *domain, GLogLevelFlags level, const gchar *message,
                         gpointer user_data)
{
  g_log_default_handler (domain, level, message, NULL);
  if (g_str_has_prefix (message, "STUN over TCP on port ") &&
      strstr (message, "(STUN on UDP only") != NULL)
    (*(guint *) user_data)++;
  else
    g_test_fail ();
}

/* --stun-listen on a port whose TCP twin is taken: a warning, and STUN on UDP as before. */
static void
test_own_port_tcp_taken (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocketListener) holder = g_socket_listener_new ();
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) wanted = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) taken = NULL;
  g_autoptr (GSocketAddress) stun_address = NULL;
  g_autoptr (GError) error = NULL;
  GLogLevelFlags fatal_mask;
  guint warnings = 0;
  guint handler;
  guint port;

  g_assert_true (g_socket_listener_add_address (holder, wanted, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &taken, &error));
  g_assert_no_error (error);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (taken));
  stun_address = g_inet_socket_address_new (loopback, port);
  icecam_rendezvous_set_stun_address (f->rendezvous, G_INET_SOCKET_ADDRESS (stun_address));
  fatal_mask = g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  handler = g_log_set_handler ("icecam-rendezvous", G_LOG_LEVEL_WARNING, count_tcp_taken_warning,
                               &warnings);
  fixture_listen (f);
  g_log_remove_handler ("icecam-rendezvous", handler);
  g_log_set_always_fatal (fatal_mask);
  g_assert_cmpuint (warnings, ==, 1);
  g_assert_cmpuint (icecam_rendezvous_get_stun_port (f->rendezvous), ==, port);
  g_assert_cmpint (tcp_answers (f), ==, 0);
}

/* The generic connection: closed at its timeout, with IcecamStunTcp::closed. */
static void
test_timeout (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) client = NULL;
  g_autoptr (GSocketConnection) accepted = NULL;
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (IcecamStunTcp) stun_tcp = NULL;
  g_autoptr (GSocketAddress) remote = NULL;
  guint8 request[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  guint8 id[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  gboolean closed = FALSE;
  guint16 port;

  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_accept_async (listener, NULL, icecam_test_store_result_cb, &result);
  client = tcp_connect (port);
  g_assert_true (WAIT_UNTIL (result != NULL));
  accepted = g_socket_listener_accept_finish (listener, result, NULL, &error);
  g_assert_no_error (error);
  remote = g_socket_connection_get_remote_address (accepted, &error);
  g_assert_no_error (error);
  stun_tcp = icecam_stun_tcp_new (g_socket_connection_get_socket (accepted),
                                  G_INET_SOCKET_ADDRESS (remote));
  g_signal_connect_swapped (stun_tcp, "closed", G_CALLBACK (set_flag), &closed);
  icecam_stun_tcp_start (stun_tcp, 300);
  tcp_send (client, request, binding_request (request, id));
  expect_binding_success (client, id);
  g_assert_true (tcp_closed_within (client, 5 * icecam_test_slowdown ()));
  g_assert_true (closed);
  g_assert_true (icecam_stun_tcp_is_closed (stun_tcp));
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/stun-tcp/signalling-port/binding", test_signalling_port);
  ADD ("/stun-tcp/signalling-port/tls", test_signalling_port_tls);
  ADD ("/stun-tcp/signalling-port/malformed-closed", test_malformed_closed);
  ADD ("/stun-tcp/signalling-port/handshake-deadline", test_handshake_deadline);
  ADD ("/stun-tcp/signalling-port/after-proxy-header", test_after_proxy_header);
  ADD ("/stun-tcp/own-port/binding", test_own_port);
  ADD ("/stun-tcp/own-port/tcp-taken", test_own_port_tcp_taken);
  ADD ("/stun-tcp/connection/timeout", test_timeout);
#undef ADD
  return g_test_run ();
}
