/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Two IcecamIceSessions on loopback: trickle, a selected host pair, data both ways, close;
 * STUN/TURN servers given by name. */

#include <string.h>

#include "icecam-ice-config-resolve.h"
#include "icecam-ice-session.h"
#include "icecam-stun-responder.h"
#include "icecam-test-util.h"

typedef struct {
  IcecamIceSession *a, *b; /* a controls */
  IcecamPairInfo *pair_a;
  guint received_a, received_b;
  gchar *last_b;
  gboolean gathered_a, gathered_b;
  guint closed;
  guint candidates_a; /* local candidates a trickled */

  IcecamStunResponder *stun; /* a STUN server on 127.0.0.1, for servers given by name */
  GSocket *turn;             /* a UDP socket on 127.0.0.1 that only listens, as a TURN server */
  guint allocates;           /* Allocate requests it received */
  guint warnings;            /* warnings naming a server under .invalid */
  GLogLevelFlags fatal_mask; /* while warnings are counted */
  guint log_handler;
} Fixture;

static void
on_candidate_to_b (IcecamIceSession *ice, const gchar *candidate, Fixture *f)
{
  g_autoptr (GError) error = NULL;

  f->candidates_a++;
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

static IcecamIceConfig *
loopback_config (void)
{
  IcecamIceConfig *config = icecam_ice_config_new ();
  const gchar *loopback[] = { "127.0.0.1", NULL };

  config->local_addresses = g_strdupv ((gchar **) loopback);
  return config;
}

/* a with @config_a, b with host candidates on loopback only. */
static void
fixture_init (Fixture *f, const IcecamIceConfig *config_a)
{
  g_autoptr (IcecamIceConfig) config_b = loopback_config ();
  g_autoptr (GError) error = NULL;

  f->a = icecam_ice_session_new (config_a, TRUE, &error);
  g_assert_no_error (error);
  f->b = icecam_ice_session_new (config_b, FALSE, &error);
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
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamIceConfig) config = loopback_config ();

  fixture_init (f, config);
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
  guint to_close = f->a != NULL ? 2 : 1; /* a test may have closed a already */

  if (f->a != NULL)
    icecam_ice_session_close_async (f->a, close_cb, f);
  icecam_ice_session_close_async (f->b, close_cb, f);
  g_assert_true (WAIT_UNTIL (f->closed == to_close));
  if (f->a != NULL) {
    g_assert_cmpint (icecam_ice_session_get_state (f->a), ==, ICECAM_ICE_STATE_CLOSED);
    g_assert_finalize_object (f->a);
  }
  g_assert_finalize_object (f->b);
  icecam_pair_info_free (f->pair_a);
  g_free (f->last_b);
  g_clear_object (&f->stun);
  g_clear_object (&f->turn);
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

/* 127.0.0.1, any port: where the servers given as "localhost" listen. */
static GSocketAddress *
loopback_any_port (void)
{
  g_autoptr (GInetAddress) ip = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);

  return g_inet_socket_address_new (ip, 0);
}

/* A session whose STUN server, an IcecamStunResponder on a free port, is named by @host. */
static void
fixture_setup_stun_at (Fixture *f, const gchar *host)
{
  g_autoptr (IcecamIceConfig) config = loopback_config ();
  g_autoptr (GSocketAddress) any_port = loopback_any_port ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;

  f->stun = icecam_stun_responder_new ();
  g_assert_true (icecam_stun_responder_listen (f->stun, G_INET_SOCKET_ADDRESS (any_port),
                                               &error));
  g_assert_no_error (error);
  url = g_strdup_printf ("stun:%s:%u", host, icecam_stun_responder_get_port (f->stun));
  g_assert_true (icecam_ice_config_add_url (config, url, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (config->stun->host, ==, host);
  fixture_init (f, config);
}

/* A STUN server given as "localhost": the name is looked up, the agent asks the server at its
 * address, and the sessions connect. */
static void
fixture_setup_named_stun (Fixture *f, gconstpointer data)
{
  fixture_setup_stun_at (f, "localhost");
}

/* A TURN server given as "localhost": a socket that receives the agent's Allocate requests
 * and never answers (no TURN server in unit tests); the sessions connect on host
 * candidates. */
static void
fixture_setup_named_turn (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamIceConfig) config = loopback_config ();
  g_autoptr (GSocketAddress) any_port = loopback_any_port ();
  g_autoptr (GSocketAddress) bound = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;

  f->turn = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                          &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (f->turn, any_port, FALSE, &error));
  g_socket_set_blocking (f->turn, FALSE);
  bound = g_socket_get_local_address (f->turn, &error);
  g_assert_no_error (error);
  url = g_strdup_printf ("turn:localhost:%u",
                         g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  g_assert_true (icecam_ice_config_add_url (config, url, "user", "password", &error));
  fixture_init (f, config);
}

/* Whether a STUN Allocate request (RFC 5766: type 0x0003) came to the TURN socket. */
static gboolean
turn_got_allocate (Fixture *f)
{
  guint8 buf[1500];
  gssize n;

  while ((n = g_socket_receive (f->turn, (gchar *) buf, sizeof buf, NULL, NULL)) > 0) {
    if (n >= 20 && buf[0] == 0x00 && buf[1] == 0x03)
      f->allocates++;
  }
  return f->allocates > 0;
}

static void
wait_connected_on_host_pair (Fixture *f)
{
  g_assert_true (WAIT_UNTIL (f->pair_a != NULL &&
                             icecam_ice_session_get_state (f->b) == ICECAM_ICE_STATE_CONNECTED));
  g_assert_cmpstr (f->pair_a->local_type, ==, "host");
  g_assert_cmpstr (f->pair_a->remote_type, ==, "host");
  g_assert_cmpint (icecam_ice_session_send (f->a, (const guint8 *) "x", 1), ==, 1);
  g_assert_true (WAIT_UNTIL (f->received_b == 1));
}

static void
test_named_stun (Fixture *f, gconstpointer data)
{
  IcecamIceStats stats;
  IcecamIceStats stats_b;
  IcecamStunResponderStats served;

  exchange_credentials_and_gather (f, FALSE);
  icecam_stun_responder_get_stats (f->stun, &served);
  g_assert_cmpuint (served.requests_answered, >, 0);
  wait_connected_on_host_pair (f);
  icecam_ice_session_get_stats (f->a, &stats);
  icecam_ice_session_get_stats (f->b, &stats_b);
  g_assert_cmpuint (stats.packets_sent, ==, 1);
  g_assert_cmpuint (stats_b.packets_received, ==, 1);
}

/* Both sides get each other's credentials, then b and a gather; nothing waits. */
static void
exchange_credentials_then_gather (Fixture *f)
{
  g_autofree gchar *ufrag_a = NULL, *pwd_a = NULL, *ufrag_b = NULL, *pwd_b = NULL;
  g_autoptr (GError) error = NULL;

  icecam_ice_session_get_local_credentials (f->a, &ufrag_a, &pwd_a);
  icecam_ice_session_get_local_credentials (f->b, &ufrag_b, &pwd_b);
  g_assert_nonnull (ufrag_a);
  g_assert_true (icecam_ice_session_set_remote_credentials (f->b, ufrag_a, pwd_a, &error));
  g_assert_true (icecam_ice_session_set_remote_credentials (f->a, ufrag_b, pwd_b, &error));
  g_assert_true (icecam_ice_session_gather (f->b, &error));
  g_assert_true (icecam_ice_session_gather (f->a, &error));
  g_assert_no_error (error);
}

static void
test_named_turn (Fixture *f, gconstpointer data)
{
  exchange_credentials_then_gather (f);
  /* The relay's name was looked up and the agent asked 127.0.0.1 for an allocation. */
  g_assert_true (WAIT_UNTIL (turn_got_allocate (f)));
  wait_connected_on_host_pair (f);
}

static void
count_invalid_warnings (const gchar *domain, GLogLevelFlags level, const gchar *message,
                        gpointer user_data)
{
  Fixture *f = user_data;

  g_log_default_handler (domain, level, message, NULL);
  if (strstr (message, ".invalid") != NULL)
    f->warnings++;
  else
    g_test_fail (); /* any other warning is still a failure */
}

/* Warnings of the library are counted (they come whenever the lookups report), not fatal. */
static void
count_warnings_start (Fixture *f)
{
  f->fatal_mask = g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  f->log_handler = g_log_set_handler ("icecam", G_LOG_LEVEL_WARNING, count_invalid_warnings, f);
}

static void
count_warnings_stop (Fixture *f)
{
  g_log_remove_handler ("icecam", f->log_handler);
  g_log_set_always_fatal (f->fatal_mask);
}

/* Names under .invalid (RFC 6761) never resolve. */
static void
fixture_setup_unresolvable (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamIceConfig) config = loopback_config ();
  g_autoptr (GError) error = NULL;

  g_assert_true (icecam_ice_config_add_url (config, "stun:stun.icecam.invalid", NULL, NULL,
                                            &error));
  g_assert_true (icecam_ice_config_add_url (config, "turn:turn.icecam.invalid", "u", "p",
                                            &error));
  config->policy = GPOINTER_TO_INT (data) ? ICECAM_ICE_POLICY_RELAY : ICECAM_ICE_POLICY_ALL;
  count_warnings_start (f);
  fixture_init (f, config);
}

static void
fixture_teardown_unresolvable (Fixture *f, gconstpointer data)
{
  fixture_teardown (f, data);
  count_warnings_stop (f);
}

/* gather() does not wait for the resolver: it returns before the lookups have reported (their
 * warnings) and before any candidate; then the session goes on without the servers. */
static void
test_unresolvable (Fixture *f, gconstpointer data)
{
  exchange_credentials_then_gather (f);
  g_assert_cmpuint (f->warnings, ==, 0);
  g_assert_cmpuint (f->candidates_a, ==, 0);
  g_assert_false (f->gathered_a);
  g_assert_cmpint (icecam_ice_session_get_state (f->a), ==, ICECAM_ICE_STATE_CHECKING);

  /* One warning per server, then host candidates only. */
  g_assert_true (WAIT_UNTIL (f->warnings == 2));
  wait_connected_on_host_pair (f);
  g_assert_true (WAIT_UNTIL (f->gathered_a));
  g_assert_cmpuint (f->warnings, ==, 2);
}

/* Relay-only and no relay's name resolves: nothing to gather, the session fails and says why. */
static void
test_unresolvable_relay_only (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *described = NULL;

  g_signal_connect (f->a, "state-changed", G_CALLBACK (on_state_a), f);
  g_assert_true (icecam_ice_session_gather (f->a, &error));
  g_assert_no_error (error);
  g_assert_cmpint (icecam_ice_session_get_state (f->a), ==, ICECAM_ICE_STATE_CHECKING);
  g_assert_true (WAIT_UNTIL (icecam_ice_session_get_state (f->a) == ICECAM_ICE_STATE_FAILED));
  g_assert_cmpuint (f->closed, ==, 100);
  g_assert_cmpuint (f->warnings, ==, 2);
  g_assert_cmpuint (f->candidates_a, ==, 0);
  described = icecam_ice_session_describe_candidates (f->a);
  g_assert_nonnull (strstr (described, "no TURN server name resolved"));
  f->closed = 0;
}

/* Closed while its lookups are pending: nothing is reported after close, close completes once
 * the lookups have returned, and the session is finalized (ASan: nothing leaks). */
static void
test_close_while_resolving (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_signal_connect (f->a, "state-changed", G_CALLBACK (on_state_a), f);
  g_assert_true (icecam_ice_session_gather (f->a, &error));
  g_assert_no_error (error);
  /* The context has not been iterated since gather(): the lookups are pending. */
  icecam_ice_session_close_async (f->a, close_cb, f);
  g_assert_cmpint (icecam_ice_session_get_state (f->a), ==, ICECAM_ICE_STATE_CLOSED);
  g_assert_true (WAIT_UNTIL (f->closed == 1));
  /* Nothing came from the lookups: no warning (cancelled), no candidate, no state. */
  g_assert_cmpuint (f->warnings, ==, 0);
  g_assert_cmpuint (f->candidates_a, ==, 0);
  g_assert_false (f->gathered_a);

  /* gather() after close is refused. */
  g_assert_false (icecam_ice_session_gather (f->a, &error));
  g_assert_error (error, ICECAM_ICE_SESSION_ERROR, ICECAM_ICE_SESSION_ERROR_AGENT);
  g_assert_finalize_object (g_steal_pointer (&f->a));
  f->closed = 0;
}

/* A STUN server at a numeric address (the test's own, on a free port): the agent gets it at
 * once, no lookup of icecam's. */
static void
fixture_setup_numeric_stun (Fixture *f, gconstpointer data)
{
  fixture_setup_stun_at (f, "127.0.0.1");
}

/* Closed a turn of the loop after gather(), as a camera closes a session whose viewer left at
 * once: libnice 0.1.21 looks even a numeric STUN server up, and closed before that lookup
 * answered it warned "Can't resolve STUN server: Operation was cancelled" (fatal in a test). */
static void
test_close_right_after_gather (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (icecam_ice_session_gather (f->a, &error));
  g_assert_no_error (error);
  /* One turn: libnice starts the lookup, whose answer waits for the next. */
  g_main_context_iteration (NULL, FALSE);
  icecam_ice_session_close_async (f->a, close_cb, f);
  g_assert_true (WAIT_UNTIL (f->closed == 1));
  g_assert_finalize_object (g_steal_pointer (&f->a));
  f->closed = 0;
}

static void
resolved_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  IcecamIceConfig **resolved = user_data;
  g_autoptr (GError) error = NULL;

  *resolved = icecam_ice_config_resolve_finish (result, &error);
  g_assert_no_error (error);
}

/* The lookups themselves: every name at once, addresses kept, IPv4 preferred, servers whose
 * names do not resolve left out (one warning each), the configuration given untouched. */
static void
test_resolve_config (void)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();
  g_autoptr (IcecamIceConfig) resolved = NULL;
  Fixture f = { 0 };
  const IcecamIceServerAddress *turn;

  g_assert_true (icecam_ice_config_add_url (config, "stun:localhost:3479", NULL, NULL, NULL));
  g_assert_true (icecam_ice_config_add_url (config, "turn:198.51.100.5", "u", "p", NULL));
  g_assert_true (icecam_ice_config_add_url (config, "turn:relay.icecam.invalid", "u", "p", NULL));
  g_assert_true (icecam_ice_config_add_url (config, "turn:localhost?transport=tcp", "u", "p",
                                            NULL));
  g_assert_true (icecam_ice_config_has_host_names (config));

  count_warnings_start (&f);
  icecam_ice_config_resolve_async (config, NULL, resolved_cb, &resolved);
  g_assert_null (resolved);
  g_assert_true (WAIT_UNTIL (resolved != NULL));
  count_warnings_stop (&f);

  g_assert_cmpuint (f.warnings, ==, 1);
  g_assert_false (icecam_ice_config_has_host_names (resolved));
  g_assert_cmpstr (resolved->stun->host, ==, "127.0.0.1");
  g_assert_cmpuint (resolved->stun->port, ==, 3479);
  g_assert_cmpuint (resolved->turn->len, ==, 2);
  turn = g_ptr_array_index (resolved->turn, 0);
  g_assert_cmpstr (turn->host, ==, "198.51.100.5");
  turn = g_ptr_array_index (resolved->turn, 1);
  g_assert_cmpstr (turn->host, ==, "127.0.0.1");
  g_assert_cmpint (turn->transport, ==, ICECAM_TURN_TRANSPORT_TCP);
  g_assert_cmpstr (turn->username, ==, "u");
  g_assert_cmpstr (config->stun->host, ==, "localhost");
  g_assert_cmpuint (config->turn->len, ==, 3);
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
  g_test_add_func ("/ice-session/resolve/config", test_resolve_config);
  g_test_add ("/ice-session/resolve/stun-localhost", Fixture, NULL, fixture_setup_named_stun,
              test_named_stun, fixture_teardown);
  g_test_add ("/ice-session/resolve/turn-localhost", Fixture, NULL, fixture_setup_named_turn,
              test_named_turn, fixture_teardown);
  g_test_add ("/ice-session/resolve/unresolvable", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup_unresolvable, test_unresolvable, fixture_teardown_unresolvable);
  g_test_add ("/ice-session/resolve/unresolvable-relay-only", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup_unresolvable, test_unresolvable_relay_only,
              fixture_teardown_unresolvable);
  g_test_add ("/ice-session/resolve/close-while-resolving", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup_unresolvable, test_close_while_resolving,
              fixture_teardown_unresolvable);
  g_test_add ("/ice-session/close/right-after-gather", Fixture, NULL, fixture_setup_numeric_stun,
              test_close_right_after_gather, fixture_teardown);
  return g_test_run ();
}
