/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The signalling client against the real rendezvous, in process on 127.0.0.1. */

#include <string.h>

#include "icecam-signalling-client.h"
#include "icecam-test-rendezvous.h"

/* The client's first reconnect delay, 250 ms, spread by ±25 %; each next one doubles. */
#define RETRY_FIRST_MIN_US (187 * G_TIME_SPAN_MILLISECOND)

typedef struct {
  IcecamSignallingState state;
  gint64 at;
} StateChange;

/* One client and what it reported. */
typedef struct {
  IcecamSignallingClient *client;
  GArray *changes;  /* StateChange, in order */
  GQueue messages;  /* IcecamMessage copies from "message", in order */
} Client;

typedef struct {
  IcecamRendezvous *rendezvous;
  gchar *url;
  GPtrArray *clients;
} Fixture;

/* ---- clients ---------------------------------------------------------------------------- */

static void
on_client_state_changed (IcecamSignallingClient *client, guint state, Client *c)
{
  StateChange change = { state, g_get_monotonic_time () };

  g_array_append_val (c->changes, change);
}

static void
on_client_message (IcecamSignallingClient *client, IcecamMessage *msg, Client *c)
{
  g_queue_push_tail (&c->messages, icecam_message_copy (msg));
}

/* Drops the last reference to @object, which operations under way may still hold for a
 * moment (a cancelled connect reports back in a later iteration): then it must go. */
static void
assert_finalized_soon (gpointer object)
{
  gpointer weak = object;

  g_object_add_weak_pointer (object, &weak);
  g_object_unref (object);
  g_assert_true (WAIT_UNTIL (weak == NULL));
}

static void
client_free (Client *c)
{
  icecam_signalling_client_stop (c->client);
  g_signal_handlers_disconnect_by_data (c->client, c);
  assert_finalized_soon (c->client);
  g_array_unref (c->changes);
  g_queue_clear_full (&c->messages, (GDestroyNotify) icecam_message_free);
  g_free (c);
}

static Client *
client_new_for_url (Fixture *f, const gchar *url, IcecamRole role, const gchar *id,
                    gboolean reconnect)
{
  g_autoptr (GError) error = NULL;
  Client *c = g_new0 (Client, 1);

  c->client = icecam_signalling_client_new (url, role, id, &error);
  g_assert_no_error (error);
  icecam_signalling_client_set_reconnect (c->client, reconnect);
  c->changes = g_array_new (FALSE, FALSE, sizeof (StateChange));
  g_queue_init (&c->messages);
  g_signal_connect (c->client, "state-changed", G_CALLBACK (on_client_state_changed), c);
  g_signal_connect (c->client, "message", G_CALLBACK (on_client_message), c);
  g_ptr_array_add (f->clients, c);
  return c;
}

static Client *
client_new (Fixture *f, IcecamRole role, const gchar *id, gboolean reconnect)
{
  return client_new_for_url (f, f->url, role, id, reconnect);
}

static IcecamSignallingState
client_state (Client *c)
{
  return icecam_signalling_client_get_state (c->client);
}

/* Every state @c went through, space-separated. */
static gchar *
client_states (Client *c)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < c->changes->len; i++) {
    StateChange *change = &g_array_index (c->changes, StateChange, i);

    g_string_append_printf (s, "%s%s", i > 0 ? " " : "",
                            icecam_signalling_state_to_string (change->state));
  }
  return g_string_free (s, FALSE);
}

/* How many times @c entered @state. */
static guint
client_count_state (Client *c, IcecamSignallingState state)
{
  guint n = 0;

  for (guint i = 0; i < c->changes->len; i++)
    n += g_array_index (c->changes, StateChange, i).state == state;
  return n;
}

static void
client_wait_state (Client *c, IcecamSignallingState state)
{
  if (!WAIT_UNTIL (client_state (c) == state)) {
    g_autofree gchar *states = client_states (c);

    g_error ("client never %s; it went through: %s", icecam_signalling_state_to_string (state),
             states);
  }
}

/* Starts @c and waits until it holds the server's welcome. */
static void
client_start_ready (Client *c)
{
  icecam_signalling_client_start (c->client);
  client_wait_state (c, ICECAM_SIGNALLING_STATE_READY);
  g_assert_nonnull (icecam_signalling_client_get_welcome (c->client));
}

/* Waits for @c's next message, which must be of @type. */
static IcecamMessage *
client_expect (Client *c, IcecamMessageType type)
{
  IcecamMessage *msg;

  g_assert_true (WAIT_UNTIL (!g_queue_is_empty (&c->messages)));
  msg = g_queue_pop_head (&c->messages);
  g_assert_cmpstr (icecam_message_type_to_string (msg->type), ==,
                   icecam_message_type_to_string (type));
  return msg;
}

static void
client_send (Client *c, IcecamMessage *msg)
{
  icecam_signalling_client_send (c->client, msg);
  icecam_message_free (msg);
}

static void
assert_error (Client *c, IcecamSignallingError code, const gchar *needle)
{
  const GError *error = icecam_signalling_client_get_error (c->client);

  g_assert_error ((GError *) error, ICECAM_SIGNALLING_ERROR, (gint) code);
  if (strstr (error->message, needle) == NULL)
    g_error ("error '%s' does not say '%s'", error->message, needle);
}

/* A loopback port where nothing listens, for as long as the returned socket is held: it is
 * bound, so nobody else can take it, and refuses connections. */
static GSocket *
reserve_dead_port (gchar **url)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr (GSocketAddress) bound = NULL;
  GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                  G_SOCKET_PROTOCOL_TCP, &error);

  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, any, FALSE, &error));
  g_assert_no_error (error);
  bound = g_socket_get_local_address (socket, &error);
  g_assert_no_error (error);
  *url = g_strdup_printf ("ws://127.0.0.1:%u/ws",
                          g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  return socket;
}

/* ---- fixture ---------------------------------------------------------------------------- */

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->rendezvous = icecam_test_rendezvous_new (0, TRUE, &error);
  g_assert_no_error (error);
  f->url = icecam_rendezvous_get_uri (f->rendezvous);
  f->clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_ptr_array_unref (f->clients);
  if (f->rendezvous != NULL)
    icecam_test_rendezvous_finalize (f->rendezvous);
  g_free (f->url);
}

/* ---- tests ------------------------------------------------------------------------------ */

/* READY once the server's welcome is in; the welcome is kept and also delivered. The URL
 * names only the server: the client adds the /ws path. */
static void
test_connect_welcome (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = g_strdup_printf ("ws://127.0.0.1:%u",
                                           icecam_rendezvous_get_port (f->rendezvous));
  g_autofree gchar *stun = g_strdup_printf ("stun:127.0.0.1:%u",
                                            icecam_rendezvous_get_stun_port (f->rendezvous));
  Client *c = client_new_for_url (f, url, ICECAM_ROLE_VIEWER, "eve", FALSE);
  const IcecamMessage *welcome;
  const IcecamIceServer *server;
  g_autoptr (IcecamMessage) delivered = NULL;
  g_autoptr (IcecamMessage) presence = NULL;
  g_autofree gchar *states = NULL;

  g_assert_cmpint (client_state (c), ==, ICECAM_SIGNALLING_STATE_IDLE);
  g_assert_null (icecam_signalling_client_get_welcome (c->client));
  g_assert_true (icecam_signalling_client_server_is_loopback (c->client));
  client_start_ready (c);
  states = client_states (c);
  g_assert_cmpstr (states, ==, "connecting ready");
  g_assert_null (icecam_signalling_client_get_error (c->client));

  welcome = icecam_signalling_client_get_welcome (c->client);
  g_assert_cmpint (welcome->type, ==, ICECAM_MESSAGE_WELCOME);
  g_assert_cmpstr (welcome->id, ==, "eve");
  g_assert_true (g_str_has_prefix (welcome->address, "127.0.0.1:"));
  g_assert_cmpuint (welcome->ice_servers->len, ==, 1);
  server = g_ptr_array_index (welcome->ice_servers, 0);
  g_assert_cmpstr (server->urls[0], ==, stun);

  delivered = client_expect (c, ICECAM_MESSAGE_WELCOME);
  g_assert_cmpstr (delivered->id, ==, "eve");
  presence = client_expect (c, ICECAM_MESSAGE_PRESENCE);
  g_assert_cmpstrv (presence->cameras, ((const gchar *[]) { NULL }));
  g_assert_cmpuint (icecam_test_rendezvous_get_stats (f->rendezvous).viewers, ==, 1);
}

/* A camera and a viewer through the server: watch, session, offer, candidate, bye. */
static void
test_messages_session (Fixture *f, gconstpointer data)
{
  Client *camera = client_new (f, ICECAM_ROLE_CAMERA, "cam1", FALSE);
  Client *viewer = client_new (f, ICECAM_ROLE_VIEWER, "eve", FALSE);
  const gchar *sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n";
  const gchar *candidate = "candidate:1 1 UDP 2013266431 127.0.0.1 4000 typ host";
  g_autoptr (IcecamMessage) camera_welcome = NULL, viewer_welcome = NULL, presence = NULL;
  g_autoptr (IcecamMessage) viewer_session = NULL, camera_session = NULL;
  g_autoptr (IcecamMessage) offer = NULL, remote_candidate = NULL, bye = NULL;
  const gchar *session;

  /* Not connected yet: dropped, not queued. */
  client_send (viewer, icecam_message_new_watch ("cam1"));
  client_start_ready (camera);
  client_start_ready (viewer);
  camera_welcome = client_expect (camera, ICECAM_MESSAGE_WELCOME);
  viewer_welcome = client_expect (viewer, ICECAM_MESSAGE_WELCOME);
  presence = client_expect (viewer, ICECAM_MESSAGE_PRESENCE);
  g_assert_cmpstrv (presence->cameras, ((const gchar *[]) { "cam1", NULL }));
  g_assert_cmpuint (icecam_test_rendezvous_get_stats (f->rendezvous).sessions, ==, 0);

  client_send (viewer, icecam_message_new_watch ("cam1"));
  viewer_session = client_expect (viewer, ICECAM_MESSAGE_SESSION);
  g_assert_cmpint (viewer_session->role, ==, ICECAM_ROLE_VIEWER);
  g_assert_cmpstr (viewer_session->camera, ==, "cam1");
  session = viewer_session->session;
  camera_session = client_expect (camera, ICECAM_MESSAGE_SESSION);
  g_assert_cmpint (camera_session->role, ==, ICECAM_ROLE_CAMERA);
  g_assert_cmpstr (camera_session->session, ==, session);
  g_assert_cmpstr (camera_session->peer, ==, "eve");

  client_send (camera, icecam_message_new_offer (session, sdp));
  offer = client_expect (viewer, ICECAM_MESSAGE_OFFER);
  g_assert_cmpstr (offer->session, ==, session);
  g_assert_cmpstr (offer->sdp, ==, sdp);

  client_send (viewer, icecam_message_new_candidate (session, candidate));
  remote_candidate = client_expect (camera, ICECAM_MESSAGE_CANDIDATE);
  g_assert_cmpstr (remote_candidate->candidate, ==, candidate);

  client_send (viewer, icecam_message_new_bye (session, ICECAM_BYE_CODE_CLOSED, "done"));
  bye = client_expect (camera, ICECAM_MESSAGE_BYE);
  g_assert_cmpint (bye->bye_code, ==, ICECAM_BYE_CODE_CLOSED);
  g_assert_cmpstr (bye->reason, ==, "done");
  g_assert_cmpuint (icecam_test_rendezvous_get_stats (f->rendezvous).sessions, ==, 0);
  g_assert_true (g_queue_is_empty (&camera->messages));
  g_assert_true (g_queue_is_empty (&viewer->messages));
}

/* A camera id already online: without reconnect the refusal is final, with the server's
 * words. */
static void
test_refused_closed (Fixture *f, gconstpointer data)
{
  Client *first = client_new (f, ICECAM_ROLE_CAMERA, "cam1", FALSE);
  Client *second = client_new (f, ICECAM_ROLE_CAMERA, "cam1", FALSE);
  g_autofree gchar *states = NULL;

  client_start_ready (first);
  icecam_signalling_client_start (second->client);
  client_wait_state (second, ICECAM_SIGNALLING_STATE_CLOSED);
  states = client_states (second);
  g_assert_cmpstr (states, ==, "connecting closed");
  assert_error (second, ICECAM_SIGNALLING_ERROR_REFUSED,
                "(id-in-use): camera id 'cam1' is already online");
  g_assert_null (icecam_signalling_client_get_welcome (second->client));
  g_assert_true (g_queue_is_empty (&second->messages));
  g_assert_cmpint (client_state (first), ==, ICECAM_SIGNALLING_STATE_READY);
}

/* With reconnect on, the same refusal is retried (the id may be held by our own dead
 * connection), and the camera registers once the id is free. */
static void
test_refused_retried (Fixture *f, gconstpointer data)
{
  Client *first = client_new (f, ICECAM_ROLE_CAMERA, "cam1", FALSE);
  Client *second = client_new (f, ICECAM_ROLE_CAMERA, "cam1", TRUE);

  client_start_ready (first);
  icecam_signalling_client_start (second->client);
  client_wait_state (second, ICECAM_SIGNALLING_STATE_RETRYING);
  assert_error (second, ICECAM_SIGNALLING_ERROR_REFUSED, "camera id 'cam1' is already online");

  icecam_signalling_client_stop (first->client);
  client_wait_state (second, ICECAM_SIGNALLING_STATE_READY);
  g_assert_cmpstr (icecam_signalling_client_get_welcome (second->client)->id, ==, "cam1");
  g_assert_cmpuint (icecam_test_rendezvous_get_stats (f->rendezvous).cameras, ==, 1);
  /* The refusal is over: neither READY nor a stop of our own has an error to tell. */
  g_assert_null (icecam_signalling_client_get_error (second->client));
  icecam_signalling_client_stop (second->client);
  g_assert_null (icecam_signalling_client_get_error (second->client));
}

static void
test_bad_url (void)
{
  const gchar *urls[] = { "http://127.0.0.1:8080", "127.0.0.1:8080", "", "ws:/ws",
                          "wss://[::1", "ws://", "ws://:8443/ws" };

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *message = g_strdup_printf ("'%s' is not a ws:// or wss:// URL", urls[i]);
    IcecamSignallingClient *client = icecam_signalling_client_new (urls[i], ICECAM_ROLE_VIEWER,
                                                                   NULL, &error);

    g_assert_null (client);
    g_assert_error (error, ICECAM_SIGNALLING_ERROR, ICECAM_SIGNALLING_ERROR_BAD_URL);
    g_assert_cmpstr (error->message, ==, message);
  }
}

/* Several nodes of a cluster: every URL must be good. */
static void
test_url_list (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamSignallingClient) client =
    icecam_signalling_client_new ("ws://127.0.0.1:1, wss://[::1]:2", ICECAM_ROLE_VIEWER, NULL,
                                  &error);
  IcecamSignallingClient *bad;

  g_assert_no_error (error);
  g_assert_nonnull (client);
  bad = icecam_signalling_client_new ("ws://127.0.0.1:1,http://127.0.0.1:2", ICECAM_ROLE_VIEWER,
                                      NULL, &error);
  g_assert_null (bad);
  g_assert_error (error, ICECAM_SIGNALLING_ERROR, ICECAM_SIGNALLING_ERROR_BAD_URL);
  g_assert_cmpstr (error->message, ==, "'http://127.0.0.1:2' is not a ws:// or wss:// URL");
  g_clear_error (&error);
  bad = icecam_signalling_client_new ("ws://127.0.0.1:1,", ICECAM_ROLE_VIEWER, NULL, &error);
  g_assert_null (bad);
  g_assert_error (error, ICECAM_SIGNALLING_ERROR, ICECAM_SIGNALLING_ERROR_BAD_URL);
}

static void
test_url_loopback (void)
{
  const struct {
    const gchar *url;
    gboolean loopback;
  } cases[] = {
    { "ws://127.0.0.1:8443", TRUE },  { "wss://localhost", TRUE }, { "ws://[::1]:80/ws", TRUE },
    { "ws://203.0.113.7:8443", FALSE }, { "wss://example.org", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (IcecamSignallingClient) client =
      icecam_signalling_client_new (cases[i].url, ICECAM_ROLE_CAMERA, "cam1", &error);

    g_assert_no_error (error);
    g_assert_cmpint (icecam_signalling_client_server_is_loopback (client), ==,
                     cases[i].loopback);
  }
}

/* Nothing listens: with reconnect on the client retries with a growing delay, and stopping
 * it while it waits ends it at once. */
static void
test_unreachable_retrying (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = NULL;
  g_autoptr (GSocket) dead = reserve_dead_port (&url);
  g_autofree gchar *message = g_strdup_printf ("cannot reach the rendezvous at %s", url);
  Client *c = client_new_for_url (f, url, ICECAM_ROLE_CAMERA, "cam1", TRUE);
  gint64 delays[2];
  StateChange *changes;

  icecam_signalling_client_start (c->client);
  g_assert_true (WAIT_UNTIL (client_count_state (c, ICECAM_SIGNALLING_STATE_RETRYING) == 3));
  client_wait_state (c, ICECAM_SIGNALLING_STATE_RETRYING);
  assert_error (c, ICECAM_SIGNALLING_ERROR_CONNECT, message);
  g_assert_null (icecam_signalling_client_get_welcome (c->client));

  /* connecting retrying connecting retrying connecting retrying */
  g_assert_cmpuint (c->changes->len, ==, 6);
  changes = (StateChange *) c->changes->data;
  for (guint i = 0; i < c->changes->len; i++)
    g_assert_cmpint (changes[i].state, ==, i % 2 == 0 ? ICECAM_SIGNALLING_STATE_CONNECTING
                                                      : ICECAM_SIGNALLING_STATE_RETRYING);
  delays[0] = changes[2].at - changes[1].at;
  delays[1] = changes[4].at - changes[3].at;
  g_test_message ("retried after %" G_GINT64_FORMAT " ms, then %" G_GINT64_FORMAT " ms",
                  delays[0] / 1000, delays[1] / 1000);
  g_assert_cmpint (delays[0], >=, RETRY_FIRST_MIN_US);
  g_assert_cmpint (delays[1], >=, 2 * RETRY_FIRST_MIN_US);

  icecam_signalling_client_stop (c->client);
  g_assert_cmpint (client_state (c), ==, ICECAM_SIGNALLING_STATE_CLOSED);
  g_assert_false (WAIT_UNTIL_FOR (client_state (c) != ICECAM_SIGNALLING_STATE_CLOSED, 0.6));
}

/* Nothing listens and reconnect is off: CLOSED, saying where it tried. */
static void
test_unreachable_closed (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = NULL;
  g_autoptr (GSocket) dead = reserve_dead_port (&url);
  g_autofree gchar *message = g_strdup_printf ("cannot reach the rendezvous at %s", url);
  Client *c = client_new_for_url (f, url, ICECAM_ROLE_VIEWER, NULL, FALSE);
  g_autofree gchar *states = NULL;

  icecam_signalling_client_start (c->client);
  client_wait_state (c, ICECAM_SIGNALLING_STATE_CLOSED);
  states = client_states (c);
  g_assert_cmpstr (states, ==, "connecting closed");
  assert_error (c, ICECAM_SIGNALLING_ERROR_CONNECT, message);
}

/* wss:// to the rendezvous, which speaks plain ws:// here: the client says the server does
 * not speak TLS, rather than waiting for the server to give up on the handshake (5-10 s). */
static void
test_tls_plain_server (Fixture *f, gconstpointer data)
{
  g_autofree gchar *url = g_strdup_printf ("wss://%s", f->url + strlen ("ws://"));
  g_autoptr (GTlsDatabase) database = NULL;
  Client *c;
  gint64 start;

  /* The TLS backend's first use loads the system's trust store in this thread: seconds under
   * the sanitizers, before any deadline here. */
  database = g_tls_backend_get_default_database (g_tls_backend_get_default ());
  c = client_new_for_url (f, url, ICECAM_ROLE_VIEWER, NULL, GPOINTER_TO_INT (data));
  start = g_get_monotonic_time ();

  icecam_signalling_client_start (c->client);
  if (data != NULL) {
    client_wait_state (c, ICECAM_SIGNALLING_STATE_RETRYING);
    assert_error (c, ICECAM_SIGNALLING_ERROR_CONNECT, "use ws://");
    /* It keeps trying, each attempt saying the same. */
    g_assert_true (WAIT_UNTIL (client_count_state (c, ICECAM_SIGNALLING_STATE_RETRYING) == 2));
    assert_error (c, ICECAM_SIGNALLING_ERROR_CONNECT, "speak TLS");
    return;
  }
  client_wait_state (c, ICECAM_SIGNALLING_STATE_CLOSED);
  /* The probe's verdict; or, when the server gave up on the handshake first (a slow run), the
   * handshake's error with the same hint. */
  assert_error (c, ICECAM_SIGNALLING_ERROR_CONNECT, "speak TLS");
  assert_error (c, ICECAM_SIGNALLING_ERROR_CONNECT, "use ws://");
  g_test_message ("said after %" G_GINT64_FORMAT " ms", (g_get_monotonic_time () - start) / 1000);
}

/* The server goes away and comes back on the same port: the client retries meanwhile and
 * registers again. */
static void
test_reconnect_server_restarts (Fixture *f, gconstpointer data)
{
  Client *c = client_new (f, ICECAM_ROLE_CAMERA, "cam1", TRUE);
  guint port = icecam_rendezvous_get_port (f->rendezvous);
  g_autoptr (GError) error = NULL;

  client_start_ready (c);
  g_assert_finalize_object (g_steal_pointer (&f->rendezvous));
  client_wait_state (c, ICECAM_SIGNALLING_STATE_RETRYING);
  assert_error (c, ICECAM_SIGNALLING_ERROR_CLOSED, "the rendezvous closed the connection");
  /* While it is away, attempts fail to connect at all. */
  g_assert_true (WAIT_UNTIL (g_error_matches (icecam_signalling_client_get_error (c->client),
                                              ICECAM_SIGNALLING_ERROR,
                                              ICECAM_SIGNALLING_ERROR_CONNECT)));

  /* Its STUN port may be someone else's by now; the signalling port is what matters. */
  f->rendezvous = icecam_test_rendezvous_new (port, FALSE, &error);
  if (f->rendezvous == NULL) {
    g_autofree gchar *why = g_strdup_printf ("cannot listen on port %u again: %s", port,
                                             error->message);

    g_test_skip (why);
    return;
  }
  client_wait_state (c, ICECAM_SIGNALLING_STATE_READY);
  g_assert_cmpuint (client_count_state (c, ICECAM_SIGNALLING_STATE_READY), ==, 2);
  g_assert_cmpstr (icecam_signalling_client_get_welcome (c->client)->id, ==, "cam1");
  g_assert_null (icecam_signalling_client_get_error (c->client));
  g_assert_cmpuint (icecam_test_rendezvous_get_stats (f->rendezvous).cameras, ==, 1);
}

/* Stopped during the handshake: CLOSED at once, no error of its own, and the client is
 * freed once the cancelled handshake has reported back. */
static void
test_stop_while_connecting (Fixture *f, gconstpointer data)
{
  Client *c = client_new (f, ICECAM_ROLE_CAMERA, "cam1", TRUE);
  g_autofree gchar *states = NULL;

  icecam_signalling_client_start (c->client);
  g_assert_cmpint (client_state (c), ==, ICECAM_SIGNALLING_STATE_CONNECTING);
  icecam_signalling_client_stop (c->client);
  states = client_states (c);
  g_assert_cmpstr (states, ==, "connecting closed");
  g_assert_null (icecam_signalling_client_get_error (c->client));
  g_assert_false (WAIT_UNTIL_FOR (client_state (c) != ICECAM_SIGNALLING_STATE_CLOSED, 0.5));
  g_assert_true (g_queue_is_empty (&c->messages));
  g_assert_cmpuint (icecam_test_rendezvous_get_stats (f->rendezvous).cameras, ==, 0);
}

/* Stopped when READY: the server forgets the camera; nothing more is sent or reported. */
static void
test_stop_when_ready (Fixture *f, gconstpointer data)
{
  Client *c = client_new (f, ICECAM_ROLE_CAMERA, "cam1", TRUE);

  client_start_ready (c);
  g_assert_cmpuint (icecam_test_rendezvous_get_stats (f->rendezvous).cameras, ==, 1);
  icecam_signalling_client_stop (c->client);
  g_assert_cmpint (client_state (c), ==, ICECAM_SIGNALLING_STATE_CLOSED);
  g_assert_null (icecam_signalling_client_get_error (c->client));
  g_assert_true (WAIT_UNTIL (icecam_test_rendezvous_get_stats (f->rendezvous).cameras == 0));
  client_send (c, icecam_message_new_watch ("cam2"));
  g_assert_cmpuint (client_count_state (c, ICECAM_SIGNALLING_STATE_CLOSED), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_writer_default_set_use_stderr (TRUE);

#define ADD(path, func) \
  g_test_add ("/signalling-client/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("connect/welcome", test_connect_welcome);
  ADD ("messages/session", test_messages_session);
  ADD ("refused/closed", test_refused_closed);
  ADD ("refused/retried", test_refused_retried);
  g_test_add_func ("/signalling-client/url/bad", test_bad_url);
  g_test_add_func ("/signalling-client/url/loopback", test_url_loopback);
  g_test_add_func ("/signalling-client/url/list", test_url_list);
  ADD ("unreachable/retrying", test_unreachable_retrying);
  ADD ("unreachable/closed", test_unreachable_closed);
  g_test_add ("/signalling-client/tls/plain-server", Fixture, NULL, fixture_setup,
              test_tls_plain_server, fixture_teardown);
  g_test_add ("/signalling-client/tls/plain-server-retrying", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_tls_plain_server, fixture_teardown);
  ADD ("reconnect/server-restarts", test_reconnect_server_restarts);
  ADD ("stop/while-connecting", test_stop_while_connecting);
  ADD ("stop/when-ready", test_stop_when_ready);
#undef ADD
  return g_test_run ();
}
