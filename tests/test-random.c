/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests that STUN transaction IDs come from a cryptographic source, not from g_random. */

#include "icecam-random.h"
#include "icecam-stun-client.h"

#include <string.h>

#define N_SAMPLES 2000

static void
never_called (IcecamStunTransaction *transaction, gpointer user_data)
{
  g_assert_not_reached ();
}

/* g_random_set_seed() makes g_random_*() replay the same stream: IDs taken from it would
 * repeat. These must not. */
static void
test_ids_ignore_grandom_seed (void)
{
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) to = g_inet_socket_address_new (loopback, 9);
  g_autoptr (GError) error = NULL;
  IcecamStunClient *client = icecam_stun_client_new (any, 1000, "test");
  IcecamStunClientSocket *sock = icecam_stun_client_open_socket (client, "test", &error);
  guint8 first[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  IcecamStunTransaction *t;

  g_assert_no_error (error);
  g_random_set_seed (42);
  t = icecam_stun_transaction_new (client, "a", sock, G_INET_SOCKET_ADDRESS (to),
                                   never_called, NULL);
  memcpy (first, t->id, sizeof first);
  g_random_set_seed (42);
  t = icecam_stun_transaction_new (client, "b", sock, G_INET_SOCKET_ADDRESS (to),
                                   never_called, NULL);
  g_assert_false (memcmp (first, t->id, sizeof first) == 0);
  icecam_stun_client_close (client);
  g_object_unref (client);
}

/* Every bit position is set about half the time and no two 96-bit IDs collide. The bounds are
 * 6 standard deviations wide: a correct source fails them about once in 10^8 runs; a stuck or
 * short source (zeros, a counter) fails at once. */
static void
test_bytes_look_random (void)
{
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_bytes_hash, g_bytes_equal,
                                                       (GDestroyNotify) g_bytes_unref, NULL);
  guint ones[96] = { 0 };
  guint8 guard[20];

  for (guint i = 0; i < N_SAMPLES; i++) {
    guint8 id[12];

    icecam_random_bytes (id, sizeof id);
    for (guint b = 0; b < 96; b++)
      ones[b] += (id[b / 8] >> (b % 8)) & 1;
    g_assert_true (g_hash_table_add (seen, g_bytes_new (id, sizeof id)));
  }
  for (guint b = 0; b < 96; b++) {
    g_assert_cmpuint (ones[b], >, N_SAMPLES / 2 - 135);
    g_assert_cmpuint (ones[b], <, N_SAMPLES / 2 + 135);
  }

  /* Only the asked-for length is written. */
  memset (guard, 0xa5, sizeof guard);
  icecam_random_bytes (guard + 4, 12);
  for (guint i = 0; i < 4; i++) {
    g_assert_cmpuint (guard[i], ==, 0xa5);
    g_assert_cmpuint (guard[16 + i], ==, 0xa5);
  }
  icecam_random_bytes (NULL, 0);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/random/stun-id/ignores-grandom-seed", test_ids_ignore_grandom_seed);
  g_test_add_func ("/random/bytes/distribution", test_bytes_look_random);
  return g_test_run ();
}
