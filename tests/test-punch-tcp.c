/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the TCP punch on loopback (no NAT: each end's listener takes the other's connect,
 * which a NAT would have let in only as a simultaneous open; that part is proven in the NAT
 * lab, natlab-direct `tcp-punch-udpblocked`): the token exchange over framed TCP, media both
 * ways with a large datagram split across reads, a wrong token that finds nothing, the path
 * dead once the peer closes. And the framing itself: RFC 4571 lengths, a full queue dropping
 * whole datagrams. */

#include <string.h>
#include <sys/socket.h>

#include "icecam-framed-tcp.h"
#include "icecam-punch.h"
#include "icecam-random.h"

#define IP_A "127.46.1.1"
#define IP_B "127.46.1.2"

typedef struct {
  gint done;
  gboolean success;
  GByteArray *got;
  guint packets;
  gint alive_changes;
  gboolean alive;
} End;

static void
done_cb (IcecamPunch *punch, gboolean success, gpointer user_data)
{
  End *end = user_data;

  end->done++;
  end->success = success;
}

static void
data_cb (const guint8 *data, gsize length, gpointer user_data)
{
  End *end = user_data;

  end->packets++;
  g_byte_array_append (end->got, data, (guint) length);
}

static void
alive_cb (IcecamPunch *punch, gboolean alive, gpointer user_data)
{
  End *end = user_data;

  end->alive_changes++;
  end->alive = alive;
}

/* Two ends that know each other's port (what the `punch` exchange tells them). */
static void
make_pair (const guint8 token_a[ICECAM_PUNCH_TOKEN_LENGTH],
           const guint8 token_b[ICECAM_PUNCH_TOKEN_LENGTH], guint timeout_ms, End *a, End *b,
           IcecamPunch **punch_a, IcecamPunch **punch_b)
{
  g_autoptr (GSocket) sock_a = NULL, sock_b = NULL;
  g_autoptr (GSocketAddress) local_a = NULL, local_b = NULL;
  g_autoptr (GInetAddress) ip_a = g_inet_address_new_from_string (IP_A);
  g_autoptr (GInetAddress) ip_b = g_inet_address_new_from_string (IP_B);
  IcecamPunchConfig config;

  /* Learn the ports first, then build the real ends towards them. */
  local_a = g_inet_socket_address_new (ip_a, 0);
  local_b = g_inet_socket_address_new (ip_b, 0);
  sock_a = icecam_punch_tcp_socket_new (G_SOCKET_FAMILY_IPV4, G_INET_SOCKET_ADDRESS (local_a),
                                        NULL);
  sock_b = icecam_punch_tcp_socket_new (G_SOCKET_FAMILY_IPV4, G_INET_SOCKET_ADDRESS (local_b),
                                        NULL);
  g_assert_nonnull (sock_a);
  g_assert_nonnull (sock_b);
  g_clear_object (&local_a);
  g_clear_object (&local_b);
  local_a = g_socket_get_local_address (sock_a, NULL);
  local_b = g_socket_get_local_address (sock_b, NULL);

  icecam_punch_config_init (&config, ICECAM_PUNCH_ROLE_TCP);
  memcpy (config.token, token_a, ICECAM_PUNCH_TOKEN_LENGTH);
  config.peer = G_INET_SOCKET_ADDRESS (local_b);
  config.leader = TRUE;
  config.timeout_ms = timeout_ms;
  *punch_a = icecam_punch_new (&config, sock_a, NULL, done_cb, a, NULL);
  memcpy (config.token, token_b, ICECAM_PUNCH_TOKEN_LENGTH);
  config.peer = G_INET_SOCKET_ADDRESS (local_a);
  config.leader = FALSE;
  *punch_b = icecam_punch_new (&config, sock_b, NULL, done_cb, b, NULL);
  g_assert_nonnull (*punch_a);
  g_assert_nonnull (*punch_b);
  g_assert_true (icecam_punch_is_tcp (*punch_a));
  icecam_punch_set_path_funcs (*punch_a, data_cb, alive_cb, a);
  icecam_punch_set_path_funcs (*punch_b, data_cb, alive_cb, b);
}

static void
iterate_until (gboolean (*cond) (End *, End *), End *a, End *b, guint ms)
{
  gint64 deadline = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  while (!cond (a, b) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
}

static gboolean
both_done (End *a, End *b)
{
  return a->done > 0 && b->done > 0;
}

static gboolean
both_got_media (End *a, End *b)
{
  return a->packets >= 2 && b->packets >= 2;
}

static gboolean
a_dead (End *a, End *b)
{
  return !a->alive && a->alive_changes > 0;
}

static void
test_exchange (void)
{
  guint8 token[ICECAM_PUNCH_TOKEN_LENGTH];
  End a = { 0 }, b = { 0 };
  IcecamPunch *punch_a, *punch_b;
  guint8 *big = g_malloc (60000);
  const gchar *small = "\x80\x60 media, not a punch packet";
  GOutputVector small_vec = { small, strlen (small) };
  GOutputVector big_vec[2] = { { big, 30000 }, { big + 30000, 30000 } };

  a.got = g_byte_array_new ();
  b.got = g_byte_array_new ();
  icecam_random_bytes (token, sizeof token);
  icecam_random_bytes (big, 60000);
  make_pair (token, token, 5000, &a, &b, &punch_a, &punch_b);
  g_assert_false (icecam_punch_send (punch_a, &small_vec, 1)); /* nothing before success */
  icecam_punch_start (punch_a);
  icecam_punch_start (punch_b);
  iterate_until (both_done, &a, &b, 5000);
  g_assert_true (a.success);
  g_assert_true (b.success);
  g_assert_true (icecam_punch_is_alive (punch_a) && icecam_punch_is_alive (punch_b));

  /* Media both ways: the datagram boundaries survive the stream (a 60,000-byte one arrives
   * in several reads, in two vectors). */
  g_assert_true (icecam_punch_send (punch_a, &small_vec, 1));
  g_assert_true (icecam_punch_send (punch_a, big_vec, 2));
  g_assert_true (icecam_punch_send (punch_b, big_vec, 2));
  g_assert_true (icecam_punch_send (punch_b, &small_vec, 1));
  iterate_until (both_got_media, &a, &b, 5000);
  g_assert_cmpuint (b.packets, ==, 2);
  g_assert_cmpuint (b.got->len, ==, strlen (small) + 60000);
  g_assert_cmpmem (b.got->data, strlen (small), small, strlen (small));
  g_assert_cmpmem (b.got->data + strlen (small), 60000, big, 60000);
  g_assert_cmpuint (a.packets, ==, 2);
  g_assert_cmpmem (a.got->data, 60000, big, 60000);

  /* The peer closes: the path is dead at once (not after the silence), for good. */
  icecam_punch_free (punch_b);
  iterate_until (a_dead, &a, &b, ICECAM_PUNCH_SILENCE_MS + 3000);
  g_assert_false (a.alive);
  g_assert_false (icecam_punch_is_alive (punch_a));
  g_assert_false (icecam_punch_send (punch_a, &small_vec, 1));
  icecam_punch_free (punch_a);
  g_byte_array_unref (a.got);
  g_byte_array_unref (b.got);
  g_free (big);
}

/* The connections are made, but a token that does not match answers nothing: no path. */
static void
test_wrong_token (void)
{
  guint8 token_a[ICECAM_PUNCH_TOKEN_LENGTH], token_b[ICECAM_PUNCH_TOKEN_LENGTH];
  End a = { 0 }, b = { 0 };
  IcecamPunch *punch_a, *punch_b;

  icecam_random_bytes (token_a, sizeof token_a);
  memcpy (token_b, token_a, sizeof token_b);
  token_b[0] ^= 0x80;
  make_pair (token_a, token_b, 800, &a, &b, &punch_a, &punch_b);
  icecam_punch_start (punch_a);
  icecam_punch_start (punch_b);
  iterate_until (both_done, &a, &b, 5000);
  g_assert_cmpint (a.done, ==, 1);
  g_assert_cmpint (b.done, ==, 1);
  g_assert_false (a.success);
  g_assert_false (b.success);
  icecam_punch_free (punch_a);
  icecam_punch_free (punch_b);
}

/* A TCP punch needs the socket whose mapping was signalled. */
static void
test_bounds (void)
{
  g_autoptr (GInetAddress) ip = g_inet_address_new_from_string (IP_A);
  g_autoptr (GSocketAddress) peer = g_inet_socket_address_new (ip, 9);
  g_autoptr (GError) error = NULL;
  IcecamPunchConfig config;

  icecam_punch_config_init (&config, ICECAM_PUNCH_ROLE_TCP);
  config.peer = G_INET_SOCKET_ADDRESS (peer);
  g_assert_null (icecam_punch_new (&config, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

typedef struct {
  GPtrArray *got;     /* GBytes */
  gboolean up, gone;
} Conn;

static void
conn_packet_cb (IcecamFramedTcp *conn, const guint8 *data, gsize length, gpointer user_data)
{
  Conn *c = user_data;

  g_ptr_array_add (c->got, g_bytes_new (data, length));
}

static void
conn_state_cb (IcecamFramedTcp *conn, gboolean up, gpointer user_data)
{
  Conn *c = user_data;

  if (up)
    c->up = TRUE;
  else
    c->gone = TRUE;
}

/* RFC 4571 on the wire: two bytes of length, big-endian, then the datagram; bytes that come
 * a few at a time still make whole datagrams; a queue past its bound drops whole datagrams and
 * the stream stays in step. */
static void
test_framing (void)
{
  int fds[2];
  g_autoptr (GSocket) ours = NULL, theirs = NULL;
  Conn c = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref), FALSE, FALSE };
  IcecamFramedTcp *conn;
  const guint8 wire[] = { 0, 3, 'a', 'b', 'c', 0, 0, 0, 1, 'z' };
  guint8 header[2];
  guint8 *chunk = g_malloc0 (60000);
  GOutputVector vec = { chunk, 60000 };
  guint sent = 0, dropped = 0;
  gint64 deadline;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  ours = g_socket_new_from_fd (fds[0], NULL);
  theirs = g_socket_new_from_fd (fds[1], NULL);
  conn = icecam_framed_tcp_new (ours, FALSE, NULL, conn_packet_cb, conn_state_cb, &c);
  g_assert_true (icecam_framed_tcp_is_up (conn));
  for (gsize i = 0; i < sizeof wire; i++) {
    g_assert_cmpint (g_socket_send (theirs, (const gchar *) wire + i, 1, NULL, NULL), ==, 1);
    while (g_main_context_iteration (NULL, FALSE));
  }
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (c.got->len < 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_cmpuint (c.got->len, ==, 2); /* the empty frame carries nothing */
  g_assert_cmpmem (g_bytes_get_data (c.got->pdata[0], NULL), 3, "abc", 3);
  g_assert_cmpmem (g_bytes_get_data (c.got->pdata[1], NULL), 1, "z", 1);

  /* Nobody reads the other end: the kernel's buffers fill, then the queue, then datagrams are
   * dropped whole. */
  for (guint i = 0; i < 200; i++) {
    if (icecam_framed_tcp_send (conn, &vec, 1))
      sent++;
    else
      dropped++;
  }
  g_assert_cmpuint (dropped, >, 0);
  g_assert_cmpuint (icecam_framed_tcp_get_dropped (conn), ==, dropped);
  /* Read it all: every datagram that was taken arrives whole, in step. */
  g_socket_set_blocking (theirs, TRUE);
  g_socket_set_timeout (theirs, 5);
  for (guint i = 0; i < sent; i++) {
    gsize at = 0;

    while (at < 2) {
      gssize got = g_socket_receive (theirs, (gchar *) header + at, 2 - at, NULL, NULL);
      g_assert_cmpint (got, >, 0);
      at += (gsize) got;
    }
    g_assert_cmpuint ((guint) header[0] << 8 | header[1], ==, 60000);
    at = 0;
    while (at < 60000) {
      gssize got;

      while (g_main_context_iteration (NULL, FALSE));
      got = g_socket_receive (theirs, (gchar *) chunk, MIN (60000 - at, 60000), NULL, NULL);
      g_assert_cmpint (got, >, 0);
      at += (gsize) got;
    }
  }
  g_socket_close (theirs, NULL);
  deadline = g_get_monotonic_time () + 2 * G_USEC_PER_SEC;
  while (!c.gone && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, FALSE) || (g_usleep (1000), TRUE);
  g_assert_true (c.gone);
  g_assert_false (icecam_framed_tcp_is_up (conn));
  icecam_framed_tcp_free (conn);
  g_ptr_array_unref (c.got);
  g_free (chunk);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/punch-tcp/framing", test_framing);
  g_test_add_func ("/punch-tcp/bounds", test_bounds);
  g_test_add_func ("/punch-tcp/exchange", test_exchange);
  g_test_add_func ("/punch-tcp/wrong-token", test_wrong_token);
  return g_test_run ();
}
