/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for birthday punching on loopback: the packet format, the bounds, the exchange of
 * tokened probes and answers between a cone side and a symmetric side of 256 sockets (with
 * no NAT in between, the first round of the symmetric side's probes already gets through:
 * the birthday odds themselves are measured in the NAT lab, bench/natlab-punch.sh), and a
 * wrong token that finds nothing. The symmetric side binds its sockets to an address of its
 * own (127.46.0.2), so the spray reaches nothing bound to 127.0.0.1 only. Two sequential
 * sides step through each other's ports in order (test_sequential). */

#include <stdio.h>
#include <string.h>

#include "icecam-punch.h"
#include "icecam-random.h"

#define SYM_IP "127.46.0.2"
#define CONE_IP "127.46.0.1"

typedef struct {
  gint done;
  gboolean success[2];
} Outcome;

static void
done_cb (IcecamPunch *punch, gboolean success, gpointer user_data)
{
  Outcome *outcome = user_data;

  outcome->success[outcome->done++] = success;
}

static void
test_packet (void)
{
  guint8 token[ICECAM_PUNCH_TOKEN_LENGTH], other[ICECAM_PUNCH_TOKEN_LENGTH];
  guint8 packet[ICECAM_PUNCH_PACKET_LENGTH];

  icecam_random_bytes (token, sizeof token);
  memcpy (other, token, sizeof other);
  other[15] ^= 1;
  g_assert_cmpuint (icecam_punch_build_packet (ICECAM_PUNCH_PACKET_PROBE, token, packet), ==,
                    ICECAM_PUNCH_PACKET_LENGTH);
  g_assert_cmpint (icecam_punch_parse_packet (packet, sizeof packet, token), ==,
                   ICECAM_PUNCH_PACKET_PROBE);
  g_assert_cmpint (icecam_punch_parse_packet (packet, sizeof packet, other), ==,
                   ICECAM_PUNCH_PACKET_NONE);
  g_assert_cmpint (icecam_punch_parse_packet (packet, sizeof packet - 1, token), ==,
                   ICECAM_PUNCH_PACKET_NONE);
  icecam_punch_build_packet (ICECAM_PUNCH_PACKET_ANSWER, token, packet);
  g_assert_cmpint (icecam_punch_parse_packet (packet, sizeof packet, token), ==,
                   ICECAM_PUNCH_PACKET_ANSWER);
  packet[4] = 3;
  g_assert_cmpint (icecam_punch_parse_packet (packet, sizeof packet, token), ==,
                   ICECAM_PUNCH_PACKET_NONE);
  packet[4] = 1;
  packet[0] = 'I';
  g_assert_cmpint (icecam_punch_parse_packet (packet, sizeof packet, token), ==,
                   ICECAM_PUNCH_PACKET_NONE);
  /* Not RTP, RTCP, STUN, DTLS or a TURN channel (RFC 7983): the first byte is 'i' (105). */
  icecam_punch_build_packet (ICECAM_PUNCH_PACKET_PROBE, token, packet);
  g_assert_cmpuint (packet[0], ==, 105);
}

static void
test_bounds (void)
{
  g_autoptr (GInetAddress) ip = g_inet_address_new_from_string (SYM_IP);
  g_autoptr (GSocketAddress) peer = g_inet_socket_address_new (ip, 4000);
  g_autoptr (GError) error = NULL;
  IcecamPunchConfig config;

  icecam_punch_config_init (&config, ICECAM_PUNCH_ROLE_SYMMETRIC);
  g_assert_null (icecam_punch_new (&config, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  config.peer = G_INET_SOCKET_ADDRESS (peer);
  config.n_sockets = ICECAM_PUNCH_MAX_SOCKETS + 1;
  g_assert_null (icecam_punch_new (&config, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  icecam_punch_config_init (&config, ICECAM_PUNCH_ROLE_CONE);
  config.peer = G_INET_SOCKET_ADDRESS (peer);
  config.max_probes = ICECAM_PUNCH_MAX_PROBES + 1;
  g_assert_null (icecam_punch_new (&config, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  config.max_probes = 10;
  config.timeout_ms = ICECAM_PUNCH_MAX_TIMEOUT_MS + 1;
  g_assert_null (icecam_punch_new (&config, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  /* Sequential: a step of 1 to 32 either way, a stride of 1 or 2. */
  icecam_punch_config_init (&config, ICECAM_PUNCH_ROLE_SEQUENTIAL);
  config.peer = G_INET_SOCKET_ADDRESS (peer);
  config.stride = 1;
  g_assert_null (icecam_punch_new (&config, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  config.port_step = ICECAM_PUNCH_MAX_PORT_STEP + 1;
  g_assert_null (icecam_punch_new (&config, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  config.port_step = -2;
  config.stride = 3;
  g_assert_null (icecam_punch_new (&config, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
}

/* Two sequential sides on loopback, where no NAT moves a port: each side's peer port is put
 * so many steps below the other's socket that the k-th destination of the leader (stride 2:
 * P + S·(2k − 1)) and of the other side (stride 1: P + S·k) is the other's socket only at
 * k = 3: the ports are stepped through in order, and the answers carry the token. */
static GSocket *
bound_socket (GInetAddress *ip, guint16 *port)
{
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (ip, 0);
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GError) error = NULL;
  GSocket *sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                G_SOCKET_PROTOCOL_UDP, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (sock, any, FALSE, &error));
  local = g_socket_get_local_address (sock, &error);
  g_assert_no_error (error);
  *port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  return sock;
}

/* Two sequential sides on loopback, where no NAT moves a port: each side's peer port is put
 * so many steps below the other's socket that the k-th destination of the leader (stride 2:
 * P + S·(2k − 1)) and of the other side (stride 1: P + S·k) is the other's socket only at
 * k = 3: the ports are stepped through in order, and the answers carry the token. */
static void
test_sequential (void)
{
  g_autoptr (GInetAddress) lead_ip = g_inet_address_new_from_string (SYM_IP);
  g_autoptr (GInetAddress) follow_ip = g_inet_address_new_from_string (CONE_IP);
  g_autoptr (GSocketAddress) lead_peer = NULL, follow_peer = NULL;
  g_autoptr (GSocket) lead_sock = NULL, follow_sock = NULL;
  g_autoptr (GError) error = NULL;
  IcecamPunchConfig lead_config, follow_config;
  IcecamPunch *lead, *follow;
  Outcome outcome = { 0 };
  gint64 deadline;
  guint16 lead_port, follow_port;

  lead_sock = bound_socket (lead_ip, &lead_port);
  follow_sock = bound_socket (follow_ip, &follow_port);
  if (lead_port < 1024 || follow_port < 1024) {
    g_test_skip ("ephemeral ports too low to step below");
    return;
  }
  lead_peer = g_inet_socket_address_new (follow_ip, follow_port - 1 * 5);
  follow_peer = g_inet_socket_address_new (lead_ip, lead_port - 2 * 3);
  icecam_punch_config_init (&lead_config, ICECAM_PUNCH_ROLE_SEQUENTIAL);
  icecam_random_bytes (lead_config.token, sizeof lead_config.token);
  lead_config.timeout_ms = 3000;
  lead_config.max_probes = 8;
  follow_config = lead_config;
  lead_config.peer = G_INET_SOCKET_ADDRESS (lead_peer);
  lead_config.stride = 2;
  lead_config.port_step = 1;
  follow_config.peer = G_INET_SOCKET_ADDRESS (follow_peer);
  follow_config.stride = 1;
  follow_config.port_step = 2;
  lead = icecam_punch_new (&lead_config, lead_sock, NULL, done_cb, &outcome, &error);
  g_assert_no_error (error);
  follow = icecam_punch_new (&follow_config, follow_sock, NULL, done_cb, &outcome, &error);
  g_assert_no_error (error);
  icecam_punch_start (lead);
  icecam_punch_start (follow);
  deadline = g_get_monotonic_time () + 8 * G_USEC_PER_SEC;
  while (outcome.done < 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (outcome.done, ==, 2);
  g_assert_true (outcome.success[0]);
  g_assert_true (outcome.success[1]);
  g_assert_cmpuint (g_inet_socket_address_get_port (icecam_punch_get_remote (lead)), ==,
                    follow_port);
  g_assert_cmpuint (g_inet_socket_address_get_port (icecam_punch_get_remote (follow)), ==,
                    lead_port);
  g_assert_true (icecam_punch_get_socket (lead) == lead_sock);
  icecam_punch_free (lead);
  icecam_punch_free (follow);
}

/* Both sides on loopback; @cone_token_flip: the cone side has another token. */
static void
run_pair (guint n_sockets, gboolean cone_token_flip, guint timeout_ms, Outcome *outcome,
          guint *probes)
{
  g_autoptr (GInetAddress) sym_ip = g_inet_address_new_from_string (SYM_IP);
  g_autoptr (GInetAddress) cone_ip = g_inet_address_new_from_string (CONE_IP);
  g_autoptr (GSocketAddress) sym_public = g_inet_socket_address_new (sym_ip, 9);
  g_autoptr (GInetSocketAddress) cone_local = NULL;
  g_autoptr (GError) error = NULL;
  IcecamPunchConfig cone_config, sym_config;
  IcecamPunch *cone, *sym;
  guint8 token[ICECAM_PUNCH_TOKEN_LENGTH];
  gint64 deadline;
  gchar *range;
  guint low = 32768, high = 60999;

  /* The sockets get ports of the ephemeral range: spray that. */
  if (g_file_get_contents ("/proc/sys/net/ipv4/ip_local_port_range", &range, NULL, NULL)) {
    if (sscanf (range, "%u %u", &low, &high) != 2 || low == 0 || high > 65535 || low > high)
      low = 32768, high = 60999;
    g_free (range);
  }
  icecam_random_bytes (token, sizeof token);
  icecam_punch_config_init (&cone_config, ICECAM_PUNCH_ROLE_CONE);
  memcpy (cone_config.token, token, sizeof token);
  if (cone_token_flip)
    cone_config.token[0] ^= 0x80;
  cone_config.peer = G_INET_SOCKET_ADDRESS (sym_public);
  cone_config.port_min = (guint16) low;
  cone_config.port_max = (guint16) high;
  cone_config.timeout_ms = timeout_ms;
  cone_config.bind_ip = cone_ip;
  cone = icecam_punch_new (&cone_config, NULL, NULL, done_cb, outcome, &error);
  g_assert_no_error (error);
  cone_local = icecam_punch_get_local_address (cone, 0);

  icecam_punch_config_init (&sym_config, ICECAM_PUNCH_ROLE_SYMMETRIC);
  memcpy (sym_config.token, token, sizeof token);
  sym_config.peer = cone_local;
  sym_config.n_sockets = n_sockets;
  sym_config.timeout_ms = timeout_ms;
  sym_config.bind_ip = sym_ip;
  sym = icecam_punch_new (&sym_config, NULL, NULL, done_cb, outcome, &error);
  g_assert_no_error (error);

  icecam_punch_start (sym);
  icecam_punch_start (cone);
  deadline = g_get_monotonic_time () + (gint64) (timeout_ms + 5000) * 1000;
  while (outcome->done < 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (outcome->done, ==, 2);
  if (outcome->success[0] && outcome->success[1]) {
    g_autoptr (GInetSocketAddress) sym_winner = NULL;
    GInetSocketAddress *cone_remote = icecam_punch_get_remote (cone);
    GInetSocketAddress *sym_remote = icecam_punch_get_remote (sym);

    g_assert_nonnull (icecam_punch_get_socket (cone));
    g_assert_nonnull (icecam_punch_get_socket (sym));
    /* The symmetric side's answer came from the cone side's one socket. */
    g_assert_cmpuint (g_inet_socket_address_get_port (sym_remote), ==,
                      g_inet_socket_address_get_port (cone_local));
    g_assert_true (g_inet_address_equal (g_inet_socket_address_get_address (cone_remote),
                                         sym_ip));
  } else {
    g_assert_null (icecam_punch_get_socket (cone));
    g_assert_null (icecam_punch_get_remote (cone));
  }
  *probes = icecam_punch_get_probes_sent (cone) + icecam_punch_get_probes_sent (sym);
  icecam_punch_free (cone);
  icecam_punch_free (sym);
}

static void
test_birthday (void)
{
  Outcome outcome = { 0 };
  guint probes = 0;

  run_pair (ICECAM_PUNCH_MAX_SOCKETS, FALSE, 5000, &outcome, &probes);
  g_assert_true (outcome.success[0]);
  g_assert_true (outcome.success[1]);
  g_assert_cmpuint (probes, >, 0);
  g_test_message ("punched with %u packets sent", probes);
}

typedef struct {
  GByteArray *got;
  gint alive_changes;
  gboolean alive;
} PathOutcome;

static void
path_data_cb (const guint8 *data, gsize length, gpointer user_data)
{
  PathOutcome *path = user_data;

  g_byte_array_append (path->got, data, (guint) length);
}

static void
path_alive_cb (IcecamPunch *punch, gboolean alive, gpointer user_data)
{
  PathOutcome *path = user_data;

  path->alive_changes++;
  path->alive = alive;
}

/* After success the path carries datagrams both ways (not punch packets: media), and goes
 * silent (alive FALSE) once the peer is gone for ICECAM_PUNCH_SILENCE_MS. */
static void
test_path (void)
{
  g_autoptr (GInetAddress) sym_ip = g_inet_address_new_from_string (SYM_IP);
  g_autoptr (GInetAddress) cone_ip = g_inet_address_new_from_string (CONE_IP);
  g_autoptr (GSocketAddress) sym_public = g_inet_socket_address_new (sym_ip, 9);
  g_autoptr (GInetSocketAddress) cone_local = NULL;
  IcecamPunchConfig cone_config, sym_config;
  PathOutcome at_cone = { g_byte_array_new (), 0, FALSE }, at_sym = { g_byte_array_new (), 0, FALSE };
  Outcome outcome = { 0 };
  IcecamPunch *cone, *sym;
  guint8 token[ICECAM_PUNCH_TOKEN_LENGTH];
  g_autoptr (GSocket) forger = NULL;
  g_autoptr (GSocketAddress) forger_local = NULL;
  const gchar *media = "\x80\x60 not a punch packet";
  GOutputVector vec = { media, strlen (media) };
  gint64 deadline;

  icecam_random_bytes (token, sizeof token);
  icecam_punch_config_init (&cone_config, ICECAM_PUNCH_ROLE_CONE);
  memcpy (cone_config.token, token, sizeof token);
  cone_config.peer = G_INET_SOCKET_ADDRESS (sym_public);
  cone_config.bind_ip = cone_ip;
  cone_config.max_probes = 1; /* no NAT here: the symmetric side's first round gets through */
  cone = icecam_punch_new (&cone_config, NULL, NULL, done_cb, &outcome, NULL);
  g_assert_nonnull (cone);
  cone_local = icecam_punch_get_local_address (cone, 0);
  icecam_punch_config_init (&sym_config, ICECAM_PUNCH_ROLE_SYMMETRIC);
  memcpy (sym_config.token, token, sizeof token);
  sym_config.peer = cone_local;
  sym_config.n_sockets = 4;
  sym_config.bind_ip = sym_ip;
  sym = icecam_punch_new (&sym_config, NULL, NULL, done_cb, &outcome, NULL);
  g_assert_nonnull (sym);
  g_assert_false (icecam_punch_send (sym, &vec, 1)); /* nothing before success */
  icecam_punch_set_path_funcs (cone, path_data_cb, path_alive_cb, &at_cone);
  icecam_punch_set_path_funcs (sym, path_data_cb, path_alive_cb, &at_sym);
  icecam_punch_start (sym);
  icecam_punch_start (cone);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (outcome.done < 2 && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_true (outcome.success[0] && outcome.success[1]);
  g_assert_true (icecam_punch_is_alive (cone) && icecam_punch_is_alive (sym));

  g_assert_true (icecam_punch_send (sym, &vec, 1));
  g_assert_true (icecam_punch_send (cone, &vec, 1));
  while ((at_cone.got->len == 0 || at_sym.got->len == 0) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpmem (at_cone.got->data, at_cone.got->len, media, strlen (media));
  g_assert_cmpmem (at_sym.got->data, at_sym.got->len, media, strlen (media));

  /* The symmetric side goes away: the cone side hears no more probes and calls the path dead,
   * even while datagrams that are not the token's keep coming from the peer's address (anyone
   * can forge those; SRTP, not the path, judges them). */
  icecam_punch_free (sym);
  forger = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  g_assert_nonnull (forger);
  forger_local = g_inet_socket_address_new (sym_ip, 0);
  g_assert_true (g_socket_bind (forger, forger_local, FALSE, NULL));
  deadline = g_get_monotonic_time () + (ICECAM_PUNCH_SILENCE_MS + 3000) * G_TIME_SPAN_MILLISECOND;
  while (icecam_punch_is_alive (cone) && g_get_monotonic_time () < deadline) {
    gint64 next = g_get_monotonic_time () + 50 * G_TIME_SPAN_MILLISECOND;

    g_socket_send_to (forger, G_SOCKET_ADDRESS (cone_local), media, strlen (media), NULL, NULL);
    while (g_get_monotonic_time () < next && icecam_punch_is_alive (cone)) {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  }
  g_assert_false (icecam_punch_is_alive (cone));
  g_assert_false (at_cone.alive);
  g_assert_cmpint (at_cone.alive_changes, ==, 1);
  g_assert_false (icecam_punch_send (cone, &vec, 1));
  icecam_punch_free (cone);
  g_byte_array_unref (at_cone.got);
  g_byte_array_unref (at_sym.got);
}

static void
test_wrong_token (void)
{
  Outcome outcome = { 0 };
  guint probes = 0;

  run_pair (64, TRUE, 600, &outcome, &probes);
  g_assert_false (outcome.success[0]);
  g_assert_false (outcome.success[1]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/punch/packet", test_packet);
  g_test_add_func ("/punch/bounds", test_bounds);
  g_test_add_func ("/punch/exchange/loopback", test_birthday);
  g_test_add_func ("/punch/exchange/wrong-token", test_wrong_token);
  g_test_add_func ("/punch/exchange/sequential", test_sequential);
  g_test_add_func ("/punch/path/data-and-silence", test_path);
  return g_test_run ();
}
