/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One side of birthday punching with src/lib/icecam-punch.c, for the NAT lab (the C twin of
 * punch.py; bench/natlab-punch.sh, tests/natlab/test-direct.sh). It learns its
 * server-reflexive address from the STUN server (a Binding request with a random transaction
 * ID, retransmitted), writes "IP PORT" to --out (the "signalling"), waits for the other side's
 * file, then punches. The cone side punches from the very socket it asked the STUN server
 * with; the symmetric side needs only its public IP from STUN. Prints one line:
 *   result=ok ms=MS sent=N remote=IP:PORT   or   result=fail ms=MS sent=N
 * and exits 0 on success, 1 on failure, 2 on bad arguments. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "icecam-punch.h"
#include "icecam-random.h"
#include "icecam-stun-message.h"

static gboolean finished;
static gboolean succeeded;

static void
done_cb (IcecamPunch *punch, gboolean success, gpointer user_data)
{
  finished = TRUE;
  succeeded = success;
}

static GInetSocketAddress *
parse_address (const gchar *text)
{
  g_autofree gchar *host = NULL;
  g_autoptr (GInetAddress) ip = NULL;
  const gchar *colon = strrchr (text, ':');
  gchar *end;
  gulong port;

  if (colon == NULL)
    return NULL;
  host = g_strndup (text, colon - text);
  port = strtoul (colon + 1, &end, 10);
  if (*end != '\0' || port == 0 || port > 65535 ||
      (ip = g_inet_address_new_from_string (host)) == NULL)
    return NULL;
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (ip, (guint16) port));
}

/* A Binding request on @sock until answered (3 s at most); the mapped address or NULL. */
static GInetSocketAddress *
learn_mapping (GSocket *sock, GInetSocketAddress *server)
{
  guint8 id[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  guint8 request[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  gsize length;

  icecam_random_bytes (id, sizeof id);
  length = icecam_stun_message_write_binding_request (id, FALSE, 0, request, sizeof request,
                                                      NULL);
  if (length == 0)
    return NULL;
  g_socket_set_timeout (sock, 0);
  for (guint attempt = 0; attempt < 15; attempt++) {
    gint64 until = g_get_monotonic_time () + 200000;

    g_socket_send_to (sock, G_SOCKET_ADDRESS (server), (const gchar *) request, length, NULL,
                      NULL);
    while (g_get_monotonic_time () < until) {
      guint8 answer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
      IcecamStunResponse response;
      gssize got;

      if (!g_socket_condition_timed_wait (sock, G_IO_IN, until - g_get_monotonic_time (),
                                          NULL, NULL))
        break;
      got = g_socket_receive (sock, (gchar *) answer, sizeof answer, NULL, NULL);
      if (got > 0 && icecam_stun_message_parse_response (answer, got, &response, NULL) &&
          memcmp (response.transaction_id, id, sizeof id) == 0 && !response.is_error &&
          response.has_mapped_address)
        return icecam_stun_address_to_socket_address (&response.mapped_address);
    }
  }
  return NULL;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *stun = NULL, *out = NULL, *peer_file = NULL, *token_hex = NULL;
  gint sockets = ICECAM_PUNCH_MAX_SOCKETS, max_probes = ICECAM_PUNCH_MAX_PROBES;
  gint timeout_ms = 5000;
  GOptionEntry entries[] = {
    { "stun", 0, 0, G_OPTION_ARG_STRING, &stun, "STUN server", "IP:PORT" },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "Where to write our address", "FILE" },
    { "peer", 0, 0, G_OPTION_ARG_FILENAME, &peer_file, "The other side's address", "FILE" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &token_hex, "32 hex digits, both sides", "HEX" },
    { "sockets", 0, 0, G_OPTION_ARG_INT, &sockets, "symmetric: sockets", "N" },
    { "max-probes", 0, 0, G_OPTION_ARG_INT, &max_probes, "cone: random ports", "N" },
    { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_ms, "time budget", "MS" },
    { NULL }
  };
  g_autoptr (GOptionContext) options = g_option_context_new ("cone|symmetric");
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetSocketAddress) server = NULL, mapped = NULL, peer = NULL;
  g_autoptr (GInetAddress) any = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GSocket) sock = NULL;
  g_autofree gchar *tmp = NULL, *mapped_ip = NULL, *text = NULL, *remote_ip = NULL;
  IcecamPunchConfig config;
  IcecamPunch *punch;
  gboolean cone;
  gint64 until;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || argc != 2 ||
      (strcmp (argv[1], "cone") != 0 && strcmp (argv[1], "symmetric") != 0) ||
      stun == NULL || out == NULL || peer_file == NULL ||
      (server = parse_address (stun)) == NULL) {
    g_printerr ("punch-peer: %s\n", error != NULL ? error->message
                                                  : "needs cone|symmetric, --stun, --out, --peer");
    return 2;
  }
  cone = strcmp (argv[1], "cone") == 0;
  icecam_punch_config_init (&config, cone ? ICECAM_PUNCH_ROLE_CONE : ICECAM_PUNCH_ROLE_SYMMETRIC);
  if (!icecam_punch_token_from_hex (token_hex, config.token)) {
    g_printerr ("punch-peer: --token needs 32 hex digits\n");
    return 2;
  }
  config.n_sockets = (guint) sockets;
  config.max_probes = (guint) max_probes;
  config.timeout_ms = (guint) timeout_ms;

  any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  local = g_inet_socket_address_new (any, 0);
  sock = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, NULL);
  if (sock == NULL || !g_socket_bind (sock, local, FALSE, NULL) ||
      (mapped = learn_mapping (sock, server)) == NULL) {
    g_print ("result=fail reason=no-stun-answer\n");
    return 1;
  }
  mapped_ip = g_inet_address_to_string (g_inet_socket_address_get_address (mapped));
  text = g_strdup_printf ("%s:%u", mapped_ip, g_inet_socket_address_get_port (mapped));
  tmp = g_strconcat (out, ".tmp", NULL);
  if (!g_file_set_contents (tmp, text, -1, NULL) || rename (tmp, out) != 0) {
    g_print ("result=fail reason=cannot-write\n");
    return 1;
  }
  until = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (peer == NULL && g_get_monotonic_time () < until) {
    g_autofree gchar *contents = NULL;

    if (g_file_get_contents (peer_file, &contents, NULL, NULL))
      peer = parse_address (g_strstrip (contents));
    else
      g_usleep (10000);
  }
  if (peer == NULL) {
    g_print ("result=fail reason=no-peer-info\n");
    return 1;
  }
  config.peer = peer;
  punch = icecam_punch_new (&config, cone ? sock : NULL, NULL, done_cb, NULL, &error);
  if (punch == NULL) {
    g_printerr ("punch-peer: %s\n", error->message);
    return 2;
  }
  icecam_punch_start (punch);
  while (!finished)
    g_main_context_iteration (NULL, TRUE);
  if (succeeded) {
    /* Stay a little to answer the other side's probes. */
    until = g_get_monotonic_time () + 500000;
    while (g_get_monotonic_time () < until)
      g_main_context_iteration (NULL, FALSE), g_usleep (1000);
    remote_ip = g_inet_address_to_string (
      g_inet_socket_address_get_address (icecam_punch_get_remote (punch)));
    g_print ("result=ok ms=%" G_GINT64_FORMAT " sent=%u remote=%s:%u\n",
             icecam_punch_get_elapsed_ms (punch), icecam_punch_get_probes_sent (punch),
             remote_ip, g_inet_socket_address_get_port (icecam_punch_get_remote (punch)));
  } else {
    g_print ("result=fail ms=%" G_GINT64_FORMAT " sent=%u\n", icecam_punch_get_elapsed_ms (punch),
             icecam_punch_get_probes_sent (punch));
  }
  icecam_punch_free (punch);
  return succeeded ? 0 : 1;
}
