/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the relay grace: which candidates it holds, and that it releases them in order,
 * the end of gathering last, once its time is over. */

#include "icecam-relay-grace.h"

#define HOST "candidate:1 1 UDP 2015363327 10.0.1.2 41000 typ host"
#define SRFLX "candidate:2 1 UDP 1694498815 203.0.113.7 20005 typ srflx raddr 10.0.1.2 rport 41000"
#define RELAY "candidate:5 1 UDP 16777215 198.51.100.2 50000 typ relay raddr 203.0.113.7 rport 1"
#define RELAY2 "candidate:6 1 UDP 16777215 198.51.100.3 50002 typ relay"

typedef struct {
  GPtrArray *released; /* "local CANDIDATE", "remote CANDIDATE" or "done" */
} Fixture;

static void
release_cb (const gchar *candidate, gboolean local, gpointer user_data)
{
  Fixture *f = user_data;

  if (candidate == NULL)
    g_ptr_array_add (f->released, g_strdup ("done"));
  else
    g_ptr_array_add (f->released, g_strdup_printf ("%s %s", local ? "local" : "remote",
                                                   candidate));
}

static void
test_is_relay (void)
{
  g_assert_true (icecam_relay_grace_is_relay (RELAY));
  g_assert_true (icecam_relay_grace_is_relay (RELAY2));
  g_assert_false (icecam_relay_grace_is_relay (HOST));
  g_assert_false (icecam_relay_grace_is_relay (SRFLX));
  g_assert_false (icecam_relay_grace_is_relay ("candidate:5 1 UDP 1 198.51.100.2 1 typ relayx"));
  g_assert_false (icecam_relay_grace_is_relay ("candidate:5 1 UDP 1 198.51.100.2 1 typ"));
  g_assert_false (icecam_relay_grace_is_relay (""));
}

static gboolean
quit_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
test_hold_and_release (void)
{
  Fixture f = { g_ptr_array_new_with_free_func (g_free) };
  IcecamRelayGrace *grace = icecam_relay_grace_new (50, g_main_context_default (), release_cb, &f);
  gboolean timed_out = FALSE;

  /* Nothing local held yet: the end of gathering would go now. */
  g_assert_false (icecam_relay_grace_hold_gathering_done (grace));
  g_assert_false (icecam_relay_grace_hold (grace, HOST, TRUE));
  g_assert_false (icecam_relay_grace_hold (grace, SRFLX, FALSE));
  g_assert_true (icecam_relay_grace_hold (grace, RELAY, TRUE));
  g_assert_true (icecam_relay_grace_hold (grace, RELAY2, FALSE));
  g_assert_true (icecam_relay_grace_hold_gathering_done (grace));

  /* Not started: nothing is released, however long we wait. */
  g_timeout_add (120, quit_cb, &timed_out);
  while (!timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (f.released->len, ==, 0);

  icecam_relay_grace_start (grace);
  icecam_relay_grace_start (grace); /* the first call counts */
  while (f.released->len < 3)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (g_ptr_array_index (f.released, 0), ==, "local " RELAY);
  g_assert_cmpstr (g_ptr_array_index (f.released, 1), ==, "remote " RELAY2);
  g_assert_cmpstr (g_ptr_array_index (f.released, 2), ==, "done");

  /* Over: relayed candidates pass at once. */
  g_assert_false (icecam_relay_grace_hold (grace, RELAY, FALSE));
  g_assert_false (icecam_relay_grace_hold_gathering_done (grace));
  icecam_relay_grace_free (grace);
  g_ptr_array_unref (f.released);
}

static void
test_end_soon (void)
{
  Fixture f = { g_ptr_array_new_with_free_func (g_free) };
  IcecamRelayGrace *grace = icecam_relay_grace_new (60000, g_main_context_default (), release_cb,
                                                    &f);

  g_assert_true (icecam_relay_grace_hold (grace, RELAY, FALSE));
  g_assert_true (icecam_relay_grace_holds_address (grace, "198.51.100.2", 50000));
  g_assert_false (icecam_relay_grace_holds_address (grace, "198.51.100.2", 50001));
  g_assert_false (icecam_relay_grace_holds_address (grace, "203.0.113.7", 50000));
  icecam_relay_grace_end_soon (grace, 10); /* not started: nothing to shorten */
  icecam_relay_grace_start (grace);
  icecam_relay_grace_end_soon (grace, 10);
  icecam_relay_grace_end_soon (grace, 50000); /* never lengthens */
  while (f.released->len < 1)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (g_ptr_array_index (f.released, 0), ==, "remote " RELAY);
  g_assert_false (icecam_relay_grace_holds_address (grace, "198.51.100.2", 50000));
  icecam_relay_grace_free (grace);
  g_ptr_array_unref (f.released);
}

static void
test_bounded (void)
{
  Fixture f = { g_ptr_array_new_with_free_func (g_free) };
  IcecamRelayGrace *grace = icecam_relay_grace_new (60000, g_main_context_default (), release_cb,
                                                    &f);
  guint held = 0;

  /* A peer flooding relayed candidates gets them passed on once the grace holds 32. */
  for (guint i = 0; i < 100; i++)
    held += icecam_relay_grace_hold (grace, RELAY, FALSE);
  g_assert_cmpuint (held, ==, 32);
  icecam_relay_grace_free (grace);
  g_ptr_array_unref (f.released);
}

static void
test_free_while_holding (void)
{
  Fixture f = { g_ptr_array_new_with_free_func (g_free) };
  IcecamRelayGrace *grace = icecam_relay_grace_new (10, g_main_context_default (), release_cb, &f);
  gboolean timed_out = FALSE;

  g_assert_true (icecam_relay_grace_hold (grace, RELAY, TRUE));
  icecam_relay_grace_start (grace);
  icecam_relay_grace_free (grace); /* a session closed during its grace */
  g_timeout_add (50, quit_cb, &timed_out);
  while (!timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (f.released->len, ==, 0);
  g_ptr_array_unref (f.released);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/relay-grace/is-relay", test_is_relay);
  g_test_add_func ("/relay-grace/hold-and-release", test_hold_and_release);
  g_test_add_func ("/relay-grace/end-soon", test_end_soon);
  g_test_add_func ("/relay-grace/bounded", test_bounded);
  g_test_add_func ("/relay-grace/free-while-holding", test_free_while_holding);
  return g_test_run ();
}
