/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Two IcecamIceSessions on loopback: trickle, a selected host pair, data both ways, close. */

#include <string.h>

#include "icecam-ice-session.h"
#include "icecam-test-util.h"

typedef struct {
  IcecamIceSession *a, *b; /* a controls */
  IcecamPairInfo *pair_a;
  guint received_a, received_b;
  gchar *last_b;
  gboolean gathered_a, gathered_b;
  guint closed;
} Fixture;

static void
on_candidate_to_b (IcecamIceSession *ice, const gchar *candidate, Fixture *f)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (icecam_ice_session_add_remote_candidate (f->b, candidate, &error));
  g_assert_no_error (error);
}

static void
on_candidate_to_a (IcecamIceSession *ice, const gchar *candidate, Fixture *f)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (icecam_ice_session_add_remote_candidate (f->a, candidate, &error));
  g_assert_no_error (error);
}

static void
on_pair_a (IcecamIceSession *ice, IcecamPairInfo *info, Fixture *f)
{
  icecam_pair_info_free (f->pair_a);
  f->pair_a = icecam_pair_info_copy (info);
}

static void
on_gathered_a (IcecamIceSession *ice, Fixture *f)
{
  f->gathered_a = TRUE;
}

static void
on_gathered_b (IcecamIceSession *ice, Fixture *f)
{
  f->gathered_b = TRUE;
}

static void
receive_a (const guint8 *data, gsize length, gpointer user_data)
{
  ((Fixture *) user_data)->received_a++;
}

static void
receive_b (const guint8 *data, gsize length, gpointer user_data)
{
  Fixture *f = user_data;

  f->received_b++;
  g_free (f->last_b);
  f->last_b = g_strndup ((const gchar *) data, length);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();
  g_autoptr (GError) error = NULL;
  const gchar *loopback[] = { "127.0.0.1", NULL };

  config->local_addresses = g_strdupv ((gchar **) loopback);
  f->a = icecam_ice_session_new (config, TRUE, &error);
  g_assert_no_error (error);
  f->b = icecam_ice_session_new (config, FALSE, &error);
  g_assert_no_error (error);
  g_signal_connect (f->a, "local-candidate", G_CALLBACK (on_candidate_to_b), f);
  g_signal_connect (f->b, "local-candidate", G_CALLBACK (on_candidate_to_a), f);
  g_signal_connect (f->a, "pair-selected", G_CALLBACK (on_pair_a), f);
  g_signal_connect (f->a, "gathering-done", G_CALLBACK (on_gathered_a), f);
  g_signal_connect (f->b, "gathering-done", G_CALLBACK (on_gathered_b), f);
  icecam_ice_session_set_receive_func (f->a, receive_a, f, NULL);
  icecam_ice_session_set_receive_func (f->b, receive_b, f, NULL);
}

static void
close_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_true (icecam_ice_session_close_finish (ICECAM_ICE_SESSION (source), result, NULL));
  f->closed++;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  icecam_ice_session_close_async (f->a, close_cb, f);
  icecam_ice_session_close_async (f->b, close_cb, f);
  g_assert_true (WAIT_UNTIL (f->closed == 2));
  g_assert_cmpint (icecam_ice_session_get_state (f->a), ==, ICECAM_ICE_STATE_CLOSED);
  g_assert_finalize_object (f->a);
  g_assert_finalize_object (f->b);
  icecam_pair_info_free (f->pair_a);
  g_free (f->last_b);
}

/* Credentials first, then candidates trickle while both sides gather (as the endpoints do). */
static void
exchange_credentials_and_gather (Fixture *f, gboolean b_candidates_before_credentials)
{
  g_autofree gchar *ufrag_a = NULL, *pwd_a = NULL, *ufrag_b = NULL, *pwd_b = NULL;
  g_autoptr (GError) error = NULL;

  icecam_ice_session_get_local_credentials (f->a, &ufrag_a, &pwd_a);
  icecam_ice_session_get_local_credentials (f->b, &ufrag_b, &pwd_b);
  g_assert_true (icecam_ice_session_set_remote_credentials (f->b, ufrag_a, pwd_a, &error));
  g_assert_true (icecam_ice_session_gather (f->b, &error));
  if (!b_candidates_before_credentials)
    g_assert_true (icecam_ice_session_set_remote_credentials (f->a, ufrag_b, pwd_b, &error));
  g_assert_true (icecam_ice_session_gather (f->a, &error));
  g_assert_true (WAIT_UNTIL (f->gathered_a && f->gathered_b));
  if (b_candidates_before_credentials)
    g_assert_true (icecam_ice_session_set_remote_credentials (f->a, ufrag_b, pwd_b, &error));
  g_assert_no_error (error);
}

static void
test_connect_and_exchange (Fixture *f, gconstpointer data)
{
  const gchar *msg = "hello over ICE";
  IcecamIceStats stats;

  exchange_credentials_and_gather (f, GPOINTER_TO_INT (data));
  g_assert_true (WAIT_UNTIL (f->pair_a != NULL &&
                             icecam_ice_session_get_state (f->b) == ICECAM_ICE_STATE_CONNECTED));
  g_assert_cmpstr (f->pair_a->local_type, ==, "host");
  g_assert_cmpstr (f->pair_a->remote_type, ==, "host");
  g_assert_cmpstr (f->pair_a->transport, ==, "udp");
  g_assert_true (g_str_has_prefix (f->pair_a->local_address, "127.0.0.1:"));

  for (guint i = 0; i < 10; i++)
    g_assert_cmpint (icecam_ice_session_send (f->a, (const guint8 *) msg, strlen (msg)), ==, 1);
  g_assert_cmpint (icecam_ice_session_send (f->b, (const guint8 *) "x", 1), ==, 1);
  g_assert_true (WAIT_UNTIL (f->received_b == 10 && f->received_a == 1));
  g_assert_cmpstr (f->last_b, ==, msg);

  icecam_ice_session_get_stats (f->a, &stats);
  g_assert_cmpuint (stats.packets_sent, ==, 10);
  g_assert_cmpuint (stats.bytes_sent, ==, 10 * strlen (msg));
  g_assert_cmpuint (stats.packets_received, ==, 1);
  g_assert_cmpuint (stats.packets_dropped, ==, 0);
}

static void
test_send_before_pair_is_dropped (Fixture *f, gconstpointer data)
{
  IcecamIceStats stats;

  g_assert_cmpint (icecam_ice_session_send (f->a, (const guint8 *) "x", 1), ==, 0);
  icecam_ice_session_get_stats (f->a, &stats);
  g_assert_cmpuint (stats.packets_dropped, ==, 1);
  g_assert_cmpuint (stats.packets_sent, ==, 0);
}

static void
test_bad_candidates (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *ufrag = NULL, *pwd = NULL;
  g_autofree gchar *described = NULL;

  g_assert_false (icecam_ice_session_add_remote_candidate (f->a, "typ host", &error));
  g_assert_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_CANDIDATE);
  g_clear_error (&error);

  icecam_ice_session_get_local_credentials (f->b, &ufrag, &pwd);
  g_assert_true (icecam_ice_session_set_remote_credentials (f->a, ufrag, pwd, &error));
  g_assert_false (icecam_ice_session_add_remote_candidate (f->a, "candidate:garbage", &error));
  g_assert_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_CANDIDATE);
  g_assert_nonnull (strstr (error->message, "candidate:garbage"));

  /* Found by fuzz/fuzz-ice-candidate.c: libnice hits a GLib critical (fatal in these tests)
   * on TCP candidates without a valid tcptype. */
  g_clear_error (&error);
  g_assert_false (icecam_ice_session_add_remote_candidate (
      f->a, "candidate:1 1 TCP 2105524479 203.0.113.1 9 typ host", &error));
  g_assert_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_CANDIDATE);
  g_clear_error (&error);
  g_assert_false (icecam_ice_session_add_remote_candidate (
      f->a, "candidate:1 1 TCP 2105524479 203.0.113.1 tcptype x 9 typ host", &error));
  g_clear_error (&error);
  g_assert_false (icecam_ice_session_add_remote_candidate (
      f->a, "candidate:1 1 TCP 2105524479 203.0.113.1 9 typ host x tcptype active y", &error));
  g_clear_error (&error);
  g_assert_true (icecam_ice_session_add_remote_candidate (
      f->a, "candidate:1 1 TCP 2105524479 203.0.113.1 9 typ host tcptype active", &error));
  g_assert_no_error (error);

  described = icecam_ice_session_describe_candidates (f->a);
  g_assert_cmpstr (described, ==, "local=none remote=host");
}

static void
on_state_a (IcecamIceSession *ice, guint state, Fixture *f)
{
  if (state == ICECAM_ICE_STATE_FAILED)
    f->closed += 100; /* counted apart from closes */
}

/* A relay-only side without a TURN server has no candidate at all: once both sides said they
 * are done, the session fails at once and says why (libnice alone would wait forever). */
static void
test_no_candidates_fails (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *ufrag = NULL, *pwd = NULL, *described = NULL;
  const gchar *loopback[] = { "127.0.0.1", NULL };
  IcecamIceSession *relay_only;

  config->local_addresses = g_strdupv ((gchar **) loopback);
  config->policy = ICECAM_ICE_POLICY_RELAY;
  relay_only = icecam_ice_session_new (config, TRUE, &error);
  g_assert_no_error (error);
  g_signal_connect (relay_only, "state-changed", G_CALLBACK (on_state_a), f);
  g_signal_connect (relay_only, "gathering-done", G_CALLBACK (on_gathered_a), f);
  icecam_ice_session_get_local_credentials (f->b, &ufrag, &pwd);
  g_assert_true (icecam_ice_session_set_remote_credentials (relay_only, ufrag, pwd, &error));
  g_assert_true (icecam_ice_session_gather (relay_only, &error));
  g_assert_true (WAIT_UNTIL (f->gathered_a));
  g_assert_cmpint (icecam_ice_session_get_state (relay_only), ==, ICECAM_ICE_STATE_CHECKING);

  icecam_ice_session_set_remote_gathering_done (relay_only);
  g_assert_cmpint (icecam_ice_session_get_state (relay_only), ==, ICECAM_ICE_STATE_FAILED);
  g_assert_cmpuint (f->closed, ==, 100);
  described = icecam_ice_session_describe_candidates (relay_only);
  g_assert_nonnull (strstr (described, "local=none"));
  g_assert_nonnull (strstr (described, "no TURN server configured"));
  icecam_ice_session_close (relay_only);
  g_object_unref (relay_only);
  f->closed = 0;
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/ice-session/connect/trickle", Fixture, GINT_TO_POINTER (FALSE), fixture_setup,
              test_connect_and_exchange, fixture_teardown);
  g_test_add ("/ice-session/connect/candidates-before-credentials", Fixture,
              GINT_TO_POINTER (TRUE), fixture_setup, test_connect_and_exchange,
              fixture_teardown);
  g_test_add ("/ice-session/send/before-pair", Fixture, NULL, fixture_setup,
              test_send_before_pair_is_dropped, fixture_teardown);
  g_test_add ("/ice-session/candidate/bad", Fixture, NULL, fixture_setup, test_bad_candidates,
              fixture_teardown);
  g_test_add ("/ice-session/fail/no-candidates", Fixture, NULL, fixture_setup,
              test_no_candidates_fails, fixture_teardown);
  return g_test_run ();
}
