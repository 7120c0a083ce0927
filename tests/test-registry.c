/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the rendezvous registry: JSON in, the messages it asks to send out. */

#include "icecam-registry.h"
#include "icecam-token.h"
#include "icecam-turn-credentials.h"

#include <string.h>

#define CAMERA_1 1
#define CAMERA_2 2
#define VIEWER_1 11
#define VIEWER_2 12
#define STRANGER 99

static const gchar *test_sdp = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                               "m=video 9 UDP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";

/* What the registry asked for: a message for a peer, or (msg NULL) to close it, for a reason
 * or because it was replaced. */
typedef struct {
  guint64 peer;
  IcecamMessage *msg;
  gchar *close_reason;
  gboolean replaced;
} Sent;

typedef struct {
  IcecamRegistry *registry;
  GQueue sent;
  guint64 remove_on_send;  /* a peer whose "socket" fails when something is sent to it */
} Fixture;

static void
sent_free (Sent *sent)
{
  icecam_message_free (sent->msg);
  g_free (sent->close_reason);
  g_free (sent);
}

static void
on_registry_send (IcecamRegistry *registry, guint64 peer, IcecamMessage *msg, Fixture *f)
{
  Sent *sent = g_new0 (Sent, 1);
  g_autofree gchar *json = icecam_message_to_json (msg);
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamMessage) reparsed = icecam_message_parse (json, strlen (json), &error);

  /* Whatever the registry sends must be valid on the wire. */
  g_assert_no_error (error);
  g_assert_nonnull (reparsed);
  g_test_message ("→ %" G_GUINT64_FORMAT ": %s", peer, json);
  sent->peer = peer;
  sent->msg = icecam_message_copy (msg);
  g_queue_push_tail (&f->sent, sent);

  if (peer == f->remove_on_send) {
    f->remove_on_send = 0;
    icecam_registry_remove_peer (registry, peer);
  }
}

static void
on_registry_close (IcecamRegistry *registry, guint64 peer, const gchar *reason, Fixture *f)
{
  Sent *sent = g_new0 (Sent, 1);

  g_test_message ("→ %" G_GUINT64_FORMAT ": close (%s)", peer, reason);
  sent->peer = peer;
  sent->close_reason = g_strdup (reason);
  g_queue_push_tail (&f->sent, sent);
}

static void
on_registry_replaced (IcecamRegistry *registry, guint64 peer, Fixture *f)
{
  Sent *sent = g_new0 (Sent, 1);

  g_test_message ("→ %" G_GUINT64_FORMAT ": close (replaced)", peer);
  sent->peer = peer;
  sent->replaced = TRUE;
  g_queue_push_tail (&f->sent, sent);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->registry = icecam_registry_new ();
  g_queue_init (&f->sent);
  g_signal_connect (f->registry, "send", G_CALLBACK (on_registry_send), f);
  g_signal_connect (f->registry, "close", G_CALLBACK (on_registry_close), f);
  g_signal_connect (f->registry, "replaced", G_CALLBACK (on_registry_replaced), f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_finalize_object (f->registry);
  g_queue_clear_full (&f->sent, (GDestroyNotify) sent_free);
}

/* ---- helpers ---------------------------------------------------------------------------- */

static void
feed (Fixture *f, guint64 peer, const gchar *json)
{
  icecam_registry_handle_text (f->registry, peer, json, strlen (json));
}

static void G_GNUC_PRINTF (3, 4)
feedf (Fixture *f, guint64 peer, const gchar *format, ...)
{
  g_autofree gchar *json = NULL;
  va_list args;

  va_start (args, format);
  json = g_strdup_vprintf (format, args);
  va_end (args);
  feed (f, peer, json);
}

/* The next thing sent is @type for @peer; returns it. */
static IcecamMessage *
expect_msg (Fixture *f, guint64 peer, IcecamMessageType type)
{
  Sent *sent = g_queue_pop_head (&f->sent);
  IcecamMessage *msg;

  g_assert_nonnull (sent);
  g_assert_nonnull (sent->msg);
  g_assert_cmpuint (sent->peer, ==, peer);
  g_assert_cmpstr (icecam_message_type_to_string (sent->msg->type), ==,
                   icecam_message_type_to_string (type));
  msg = g_steal_pointer (&sent->msg);
  sent_free (sent);
  return msg;
}

static void
expect_error (Fixture *f, guint64 peer, IcecamErrorCode code, const gchar *needle)
{
  g_autoptr (IcecamMessage) msg = expect_msg (f, peer, ICECAM_MESSAGE_ERROR);

  g_assert_cmpstr (icecam_error_code_to_string (msg->error_code), ==,
                   icecam_error_code_to_string (code));
  if (strstr (msg->text, needle) == NULL)
    g_error ("error text '%s' does not contain '%s'", msg->text, needle);
}

static void
expect_close (Fixture *f, guint64 peer)
{
  Sent *sent = g_queue_pop_head (&f->sent);

  g_assert_nonnull (sent);
  g_assert_null (sent->msg);
  g_assert_cmpuint (sent->peer, ==, peer);
  g_assert_nonnull (sent->close_reason);
  g_assert_false (sent->replaced);
  sent_free (sent);
}

static void
expect_replaced (Fixture *f, guint64 peer)
{
  Sent *sent = g_queue_pop_head (&f->sent);

  g_assert_nonnull (sent);
  g_assert_null (sent->msg);
  g_assert_cmpuint (sent->peer, ==, peer);
  g_assert_true (sent->replaced);
  sent_free (sent);
}

static void
expect_nothing (Fixture *f)
{
  g_assert_cmpuint (g_queue_get_length (&f->sent), ==, 0);
}

static void
expect_presence (Fixture *f, guint64 viewer, const gchar * const *cameras)
{
  g_autoptr (IcecamMessage) msg = expect_msg (f, viewer, ICECAM_MESSAGE_PRESENCE);

  g_assert_true (g_strv_equal ((const gchar * const *) msg->cameras, cameras));
}

/* The next two messages are the same presence for @viewer_a and @viewer_b, in either order. */
static void
expect_presence_to_viewers (Fixture *f, guint64 viewer_a, guint64 viewer_b,
                            const gchar * const *cameras)
{
  Sent *first = g_queue_peek_head (&f->sent);
  guint64 other;

  g_assert_nonnull (first);
  g_assert_true (first->peer == viewer_a || first->peer == viewer_b);
  other = first->peer == viewer_a ? viewer_b : viewer_a;
  expect_presence (f, first->peer, cameras);
  expect_presence (f, other, cameras);
}

/* A new connection gets a challenge first; returns its nonce. */
static gchar *
add_peer_nonce (Fixture *f, guint64 peer)
{
  g_autofree gchar *address = g_strdup_printf ("203.0.113.%u:40000", (guint) peer);
  g_autoptr (IcecamMessage) challenge = NULL;

  icecam_registry_add_peer (f->registry, peer, address, NULL);
  challenge = expect_msg (f, peer, ICECAM_MESSAGE_CHALLENGE);
  g_assert_cmpuint (strlen (challenge->nonce), ==, 32);
  return g_strdup (challenge->nonce);
}

static void
add_peer (Fixture *f, guint64 peer)
{
  g_free (add_peer_nonce (f, peer));
}

/* A camera says hello; returns its welcome. Presence updates to viewers are left queued. */
static IcecamMessage *
connect_camera (Fixture *f, guint64 peer, const gchar *id)
{
  add_peer (f, peer);
  feedf (f, peer, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"%s\"}", id);
  return expect_msg (f, peer, ICECAM_MESSAGE_WELCOME);
}

/* A viewer says hello (with @name if not NULL); returns the id it was given. */
static gchar *
connect_viewer (Fixture *f, guint64 peer, const gchar *name)
{
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) presence = NULL;

  add_peer (f, peer);
  if (name != NULL)
    feedf (f, peer, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\",\"id\":\"%s\"}", name);
  else
    feed (f, peer, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  welcome = expect_msg (f, peer, ICECAM_MESSAGE_WELCOME);
  presence = expect_msg (f, peer, ICECAM_MESSAGE_PRESENCE);
  return g_strdup (welcome->id);
}

/* The viewer watches the camera; checks both `session` messages; returns the session id. */
static gchar *
open_session (Fixture *f, guint64 camera, const gchar *camera_id, guint64 viewer,
              const gchar *viewer_id)
{
  g_autoptr (IcecamMessage) to_camera = NULL;
  g_autoptr (IcecamMessage) to_viewer = NULL;

  feedf (f, viewer, "{\"type\":\"watch\",\"camera\":\"%s\"}", camera_id);
  to_camera = expect_msg (f, camera, ICECAM_MESSAGE_SESSION);
  to_viewer = expect_msg (f, viewer, ICECAM_MESSAGE_SESSION);
  g_assert_cmpstr (to_camera->session, ==, to_viewer->session);
  g_assert_cmpint (to_camera->role, ==, ICECAM_ROLE_CAMERA);
  g_assert_cmpstr (to_camera->camera, ==, camera_id);
  g_assert_cmpstr (to_camera->peer, ==, viewer_id);
  g_assert_cmpint (to_viewer->role, ==, ICECAM_ROLE_VIEWER);
  g_assert_cmpstr (to_viewer->camera, ==, camera_id);
  return g_strdup (to_camera->session);
}

/* A candidate from @from in @session arrives unchanged at @to. */
static void
assert_relays_candidate (Fixture *f, const gchar *session, guint64 from, guint64 to)
{
  g_autoptr (IcecamMessage) msg = NULL;
  g_autofree gchar *candidate =
    g_strdup_printf ("candidate:%u 1 UDP 2013266431 203.0.113.1 5000 typ host", g_random_int ());

  feedf (f, from, "{\"type\":\"candidate\",\"session\":\"%s\",\"candidate\":\"%s\"}", session,
         candidate);
  msg = expect_msg (f, to, ICECAM_MESSAGE_CANDIDATE);
  g_assert_cmpstr (msg->session, ==, session);
  g_assert_cmpstr (msg->candidate, ==, candidate);
  expect_nothing (f);
}

/* A moment at which the default resume grace of every client gone until now is over. */
static gint64
after_grace (void)
{
  return g_get_monotonic_time () + (ICECAM_REGISTRY_DEFAULT_RESUME_GRACE_S + 1) * G_USEC_PER_SEC;
}

/* One camera, one viewer and a session between them. */
static gchar *
setup_pair (Fixture *f)
{
  g_autoptr (IcecamMessage) welcome = connect_camera (f, CAMERA_1, "cam1");
  g_autofree gchar *viewer = connect_viewer (f, VIEWER_1, "alice");

  return open_session (f, CAMERA_1, "cam1", VIEWER_1, "alice");
}

/* ---- TURN credentials ------------------------------------------------------------------- */

static void
assert_turn_credentials (const IcecamIceServer *server, const gchar *session, const gchar *role)
{
  g_autofree gchar *expected = NULL;
  g_autofree gchar *suffix = g_strdup_printf (":%s:%s", session, role);
  gint64 expiry = g_ascii_strtoll (server->username, NULL, 10);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  g_assert_cmpstr (server->urls[0], ==, "turn:198.51.100.3:3478?transport=udp");
  g_assert_cmpstr (server->username + strcspn (server->username, ":"), ==, suffix);
  g_assert_cmpint (expiry, >=, now + 600 - 5);
  g_assert_cmpint (expiry, <=, now + 600 + 5);
  expected = icecam_turn_credentials_password ("north-wind", server->username);
  g_assert_cmpstr (server->credential, ==, expected);
}

/* No entry of a welcome carries a relay credential, whoever asks. */
static void
assert_no_credentials (const IcecamMessage *welcome)
{
  for (guint i = 0; i < welcome->ice_servers->len; i++) {
    const IcecamIceServer *server = g_ptr_array_index (welcome->ice_servers, i);

    g_assert_null (server->username);
    g_assert_null (server->credential);
  }
}

static void
assert_relay_issued (Fixture *f, guint64 cameras, guint64 viewers)
{
  IcecamRegistryStats stats;

  icecam_registry_get_stats (f->registry, &stats);
  g_assert_cmpuint (stats.relay_credentials_camera, ==, cameras);
  g_assert_cmpuint (stats.relay_credentials_viewer, ==, viewers);
}

static void
set_turn (Fixture *f, guint ttl)
{
  const gchar *urls[] = { "turn:198.51.100.3:3478?transport=udp", NULL };

  icecam_registry_set_turn (f->registry, urls, "north-wind", ttl);
}

/* Relay credentials only in `session`, minted for that session and end; never in `welcome`
 * (the raw client of issue 21 that said only hello as a camera got a 24-hour credential). */
static void
test_turn_credentials (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) to_camera = NULL;
  g_autoptr (IcecamMessage) to_viewer = NULL;
  g_autofree gchar *viewer = NULL;

  set_turn (f, 600);
  welcome = connect_camera (f, CAMERA_1, "cam1");
  assert_no_credentials (welcome);
  assert_relay_issued (f, 0, 0);

  viewer = connect_viewer (f, VIEWER_1, "alice");
  feed (f, VIEWER_1, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  to_camera = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_SESSION);
  to_viewer = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_SESSION);
  g_assert_cmpuint (to_camera->ice_servers->len, ==, 1);
  g_assert_cmpuint (to_viewer->ice_servers->len, ==, 1);
  assert_turn_credentials (g_ptr_array_index (to_camera->ice_servers, 0), to_camera->session,
                           "camera");
  assert_turn_credentials (g_ptr_array_index (to_viewer->ice_servers, 0), to_viewer->session,
                           "viewer");
  assert_relay_issued (f, 1, 1);
}

/* With access control on, the welcome of a proven camera and of a viewer with a token carry
 * no relay credential either, whatever other servers are advertised. */
static void
test_turn_welcome_with_access_control (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) servers = g_ptr_array_new_with_free_func (
    (GDestroyNotify) icecam_ice_server_free);
  const gchar *stun[] = { "stun:198.51.100.1:3478", NULL };
  g_autoptr (GHashTable) secrets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree gchar *nonce = NULL;
  g_autofree gchar *proof = NULL;
  g_autofree gchar *token = NULL;
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) viewer_welcome = NULL;
  g_autoptr (IcecamMessage) presence = NULL;

  g_ptr_array_add (servers, icecam_ice_server_new (stun, NULL, NULL));
  icecam_registry_set_ice_servers (f->registry, servers);
  set_turn (f, 600);
  g_hash_table_insert (secrets, g_strdup ("cam1"), g_strdup ("s3cret-cam1"));
  icecam_registry_set_camera_secrets (f->registry, secrets);
  icecam_registry_set_token_key (f->registry, "token-key");

  nonce = add_peer_nonce (f, CAMERA_1);
  proof = icecam_camera_proof ("s3cret-cam1", "cam1", nonce);
  feedf (f, CAMERA_1, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam1\","
         "\"proof\":\"%s\"}", proof);
  welcome = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_WELCOME);
  g_assert_cmpuint (welcome->ice_servers->len, ==, 1);
  g_assert_cmpstr (((IcecamIceServer *) welcome->ice_servers->pdata[0])->urls[0], ==, stun[0]);
  assert_no_credentials (welcome);

  token = icecam_token_mint ("token-key", (const gchar *[]) { "cam1", NULL },
                             g_get_real_time () / G_USEC_PER_SEC + 3600);
  add_peer (f, VIEWER_1);
  feedf (f, VIEWER_1, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\",\"token\":\"%s\"}",
         token);
  viewer_welcome = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_WELCOME);
  presence = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_PRESENCE);
  assert_no_credentials (viewer_welcome);
  assert_relay_issued (f, 0, 0);
}

static void
hello_with_features (Fixture *f, guint64 peer, const gchar *role, const gchar *id,
                     const gchar *features)
{
  add_peer (f, peer);
  feedf (f, peer, "{\"type\":\"hello\",\"version\":1,\"role\":\"%s\",\"id\":\"%s\","
         "\"features\":[%s]}", role, id, features);
}

static void
expect_renewal (Fixture *f, guint64 peer, const gchar *session, const gchar *role)
{
  g_autoptr (IcecamMessage) msg = expect_msg (f, peer, ICECAM_MESSAGE_ICE_SERVERS);

  g_assert_cmpstr (msg->session, ==, session);
  g_assert_cmpuint (msg->ice_servers->len, ==, 1);
  assert_turn_credentials (g_ptr_array_index (msg->ice_servers, 0), session, role);
}

/* cam1 (listing "ice-servers" if @camera_features) and alice (listing it) in a session with
 * relays of a 600 s lifetime; returns the session id. */
static gchar *
open_renewing_session (Fixture *f, gboolean camera_features)
{
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) viewer_welcome = NULL;
  g_autoptr (IcecamMessage) presence = NULL;
  g_autoptr (IcecamMessage) to_camera = NULL;
  g_autoptr (IcecamMessage) to_viewer = NULL;

  set_turn (f, 600);
  hello_with_features (f, CAMERA_1, "camera", "cam1", camera_features ? "\"ice-servers\"" : "");
  welcome = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_WELCOME);
  g_assert_true (welcome->features & ICECAM_FEATURE_ICE_SERVERS);
  hello_with_features (f, VIEWER_1, "viewer", "alice", "\"ice-servers\"");
  viewer_welcome = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_WELCOME);
  presence = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_PRESENCE);
  feed (f, VIEWER_1, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  to_camera = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_SESSION);
  to_viewer = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_SESSION);
  return g_strdup (to_camera->session);
}

/* Ends that listed "ice-servers" get fresh credentials every half lifetime while the session
 * lasts; nothing after the session ended. */
static void
test_turn_renewal (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) bye = NULL;
  gint64 start = g_get_monotonic_time ();
  g_autofree gchar *session = open_renewing_session (f, TRUE);

  icecam_registry_expire (f->registry, start + (gint64) 290 * G_USEC_PER_SEC);
  expect_nothing (f);
  icecam_registry_expire (f->registry, start + (gint64) 301 * G_USEC_PER_SEC);
  expect_renewal (f, CAMERA_1, session, "camera");
  expect_renewal (f, VIEWER_1, session, "viewer");
  expect_nothing (f);
  icecam_registry_expire (f->registry, start + (gint64) 590 * G_USEC_PER_SEC);
  expect_nothing (f);
  icecam_registry_expire (f->registry, start + (gint64) 602 * G_USEC_PER_SEC);
  expect_renewal (f, CAMERA_1, session, "camera");
  expect_renewal (f, VIEWER_1, session, "viewer");
  assert_relay_issued (f, 3, 3);

  feedf (f, VIEWER_1, "{\"type\":\"bye\",\"session\":\"%s\"}", session);
  bye = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_BYE);
  icecam_registry_expire (f->registry, start + (gint64) 3600 * G_USEC_PER_SEC);
  expect_nothing (f);
  assert_relay_issued (f, 3, 3);
}

/* A client that did not list the feature (written before it) never gets the message. */
static void
test_turn_renewal_needs_feature (Fixture *f, gconstpointer data)
{
  gint64 start = g_get_monotonic_time ();
  g_autofree gchar *session = open_renewing_session (f, FALSE);

  icecam_registry_expire (f->registry, start + (gint64) 301 * G_USEC_PER_SEC);
  expect_renewal (f, VIEWER_1, session, "viewer");
  expect_nothing (f);
}

/* A client may not send `ice-servers`: it is the server's. */
static void
test_turn_renewal_from_client (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) welcome = connect_camera (f, CAMERA_1, "cam1");

  feed (f, CAMERA_1, "{\"type\":\"ice-servers\",\"session\":\"s1\",\"ice_servers\":[]}");
  expect_error (f, CAMERA_1, ICECAM_ERROR_CODE_NOT_ALLOWED, "sent by the server");
  expect_nothing (f);
}

/* ---- access control --------------------------------------------------------------------- */

static void
provision (Fixture *f)
{
  g_autoptr (GHashTable) secrets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_hash_table_insert (secrets, g_strdup ("cam1"), g_strdup ("s3cret-cam1"));
  g_hash_table_insert (secrets, g_strdup ("cam2"), g_strdup ("s3cret-cam2"));
  icecam_registry_set_camera_secrets (f->registry, secrets);
}

static void
camera_hello_with_proof (Fixture *f, guint64 peer, const gchar *id, const gchar *secret)
{
  g_autofree gchar *nonce = add_peer_nonce (f, peer);
  g_autofree gchar *proof = secret ? icecam_camera_proof (secret, id, nonce) : NULL;

  if (proof != NULL)
    feedf (f, peer, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"%s\","
           "\"proof\":\"%s\"}", id, proof);
  else
    feedf (f, peer, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"%s\"}", id);
}

static void
expect_refused (Fixture *f, guint64 peer, const gchar *needle)
{
  IcecamRegistryStats stats;

  expect_error (f, peer, ICECAM_ERROR_CODE_UNAUTHORIZED, needle);
  expect_close (f, peer);
  expect_nothing (f);
  icecam_registry_get_stats (f->registry, &stats);
  g_assert_cmpuint (stats.cameras, ==, 0);
}

/* Only a camera proving its provisioned secret over this connection's nonce registers. */
static void
test_auth_camera (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autofree gchar *old_nonce = NULL;
  g_autofree gchar *replayed = NULL;

  provision (f);
  camera_hello_with_proof (f, CAMERA_1, "cam1", NULL);
  expect_refused (f, CAMERA_1, "did not prove");
  camera_hello_with_proof (f, CAMERA_2, "cam1", "s3cret-cam2");
  expect_refused (f, CAMERA_2, "did not prove");
  camera_hello_with_proof (f, 3, "cam9", "anything");
  expect_refused (f, 3, "not provisioned");

  /* A proof made for another connection's nonce is worthless here. */
  old_nonce = add_peer_nonce (f, 4);
  replayed = icecam_camera_proof ("s3cret-cam1", "cam1", "0123456789abcdef0123456789abcdef");
  feedf (f, 4, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam1\","
         "\"proof\":\"%s\"}", replayed);
  expect_refused (f, 4, "did not prove");

  camera_hello_with_proof (f, 5, "cam1", "s3cret-cam1");
  welcome = expect_msg (f, 5, ICECAM_MESSAGE_WELCOME);
  g_assert_cmpstr (welcome->id, ==, "cam1");
}

static gchar *
token_for (const gchar *camera, gint64 ttl)
{
  const gchar *cameras[] = { camera, NULL };

  return icecam_token_mint ("token-key", cameras, g_get_real_time () / G_USEC_PER_SEC + ttl);
}

static void
viewer_hello_with_token (Fixture *f, guint64 peer, const gchar *token)
{
  add_peer (f, peer);
  if (token != NULL)
    feedf (f, peer, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\",\"token\":\"%s\"}",
           token);
  else
    feed (f, peer, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
}

/* No token, a forged one, an expired one: refused at hello. A token for another camera:
 * presence shows only what it grants, and watching anything else is refused (before the
 * camera hears of the viewer), whether that camera is online or not. */
static void
test_auth_viewer (Fixture *f, gconstpointer data)
{
  g_autofree gchar *good = token_for ("cam1", 600);
  g_autofree gchar *expired = token_for ("cam1", -5);
  g_autofree gchar *forged = NULL;
  g_autoptr (IcecamMessage) welcome1 = NULL;
  g_autoptr (IcecamMessage) welcome2 = NULL;
  g_autoptr (IcecamMessage) presence = NULL;
  const gchar *all[] = { "*", NULL };

  icecam_registry_set_token_key (f->registry, "token-key");
  forged = icecam_token_mint ("not-the-key", all, g_get_real_time () / G_USEC_PER_SEC + 600);
  welcome1 = connect_camera (f, CAMERA_1, "cam1");
  welcome2 = connect_camera (f, CAMERA_2, "cam2");

  viewer_hello_with_token (f, VIEWER_1, NULL);
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_UNAUTHORIZED, "needs a token");
  expect_close (f, VIEWER_1);
  viewer_hello_with_token (f, 21, forged);
  expect_error (f, 21, ICECAM_ERROR_CODE_UNAUTHORIZED, "signature");
  expect_close (f, 21);
  viewer_hello_with_token (f, 22, expired);
  expect_error (f, 22, ICECAM_ERROR_CODE_UNAUTHORIZED, "expired");
  expect_close (f, 22);
  viewer_hello_with_token (f, 23, "v1.garbage");
  expect_error (f, 23, ICECAM_ERROR_CODE_UNAUTHORIZED, "not an icecam token");
  expect_close (f, 23);
  expect_nothing (f);

  viewer_hello_with_token (f, VIEWER_2, good);
  icecam_message_free (expect_msg (f, VIEWER_2, ICECAM_MESSAGE_WELCOME));
  presence = expect_msg (f, VIEWER_2, ICECAM_MESSAGE_PRESENCE);
  g_assert_cmpuint (g_strv_length (presence->cameras), ==, 1);
  g_assert_cmpstr (presence->cameras[0], ==, "cam1");

  feed (f, VIEWER_2, "{\"type\":\"watch\",\"camera\":\"cam2\"}");
  expect_error (f, VIEWER_2, ICECAM_ERROR_CODE_UNAUTHORIZED, "does not grant camera 'cam2'");
  feed (f, VIEWER_2, "{\"type\":\"watch\",\"camera\":\"cam7\"}");
  expect_error (f, VIEWER_2, ICECAM_ERROR_CODE_UNAUTHORIZED, "does not grant camera 'cam7'");
  expect_nothing (f); /* neither camera heard of it */

  g_free (open_session (f, CAMERA_1, "cam1", VIEWER_2, "viewer-1"));
}

/* ---- hello and presence --------------------------------------------------------------- */

static void
test_hello_camera (Fixture *f, gconstpointer data)
{
  const gchar *stun[] = { "stun:203.0.113.1:8080", NULL };
  const gchar *turn[] = { "turn:turn.example.org:3478", NULL };
  g_autoptr (GPtrArray) configured =
    g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  g_autoptr (GPtrArray) own =
    g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  g_autoptr (IcecamMessage) welcome = NULL;
  IcecamIceServer *server;

  g_ptr_array_add (configured, icecam_ice_server_new (turn, "user", "pass"));
  g_ptr_array_add (own, icecam_ice_server_new (stun, NULL, NULL));
  icecam_registry_set_ice_servers (f->registry, configured);

  icecam_registry_add_peer (f->registry, CAMERA_1, "198.51.100.7:51000", own);
  icecam_message_free (expect_msg (f, CAMERA_1, ICECAM_MESSAGE_CHALLENGE));
  expect_nothing (f);
  feed (f, CAMERA_1, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"front-door\"}");
  welcome = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_WELCOME);
  g_assert_cmpuint (welcome->version, ==, ICECAM_PROTOCOL_VERSION);
  g_assert_cmpstr (welcome->id, ==, "front-door");
  g_assert_cmpstr (welcome->address, ==, "198.51.100.7:51000");
  g_assert_cmpuint (welcome->ice_servers->len, ==, 2);
  server = welcome->ice_servers->pdata[0];
  g_assert_cmpstr (server->urls[0], ==, "stun:203.0.113.1:8080");
  server = welcome->ice_servers->pdata[1];
  g_assert_cmpstr (server->urls[0], ==, "turn:turn.example.org:3478");
  g_assert_cmpstr (server->username, ==, "user");
  g_assert_cmpstr (server->credential, ==, "pass");
  /* No viewers: nobody to tell. */
  expect_nothing (f);
}

static void
test_hello_viewer_names (Fixture *f, gconstpointer data)
{
  g_autofree gchar *long_name = g_strnfill (ICECAM_PROTOCOL_MAX_ID_LENGTH, 'v');
  g_autofree gchar *anonymous_1 = connect_viewer (f, 1, NULL);
  g_autofree gchar *anonymous_2 = connect_viewer (f, 2, NULL);
  g_autofree gchar *alice_1 = connect_viewer (f, 3, "alice");
  g_autofree gchar *alice_2 = connect_viewer (f, 4, "alice");
  g_autofree gchar *alice_3 = connect_viewer (f, 5, "alice");
  g_autofree gchar *long_1 = connect_viewer (f, 6, long_name);
  g_autofree gchar *long_2 = connect_viewer (f, 7, long_name);
  g_autofree gchar *alice_again = NULL;

  g_assert_cmpstr (anonymous_1, ==, "viewer-1");
  g_assert_cmpstr (anonymous_2, ==, "viewer-2");
  g_assert_cmpstr (alice_1, ==, "alice");
  g_assert_cmpstr (alice_2, ==, "alice-2");
  g_assert_cmpstr (alice_3, ==, "alice-3");
  g_assert_cmpstr (long_1, ==, long_name);
  g_assert_cmpuint (strlen (long_2), ==, ICECAM_PROTOCOL_MAX_ID_LENGTH);
  g_assert_true (g_str_has_suffix (long_2, "v-2"));

  /* A name is free again once its viewer has left. */
  icecam_registry_remove_peer (f->registry, 3);
  alice_again = connect_viewer (f, 8, "alice");
  g_assert_cmpstr (alice_again, ==, "alice");
  expect_nothing (f);
}

static void
test_presence (Fixture *f, gconstpointer data)
{
  const gchar *none[] = { NULL };
  const gchar *only_zulu[] = { "zulu", NULL };
  const gchar *both[] = { "alpha", "zulu", NULL };
  const gchar *only_alpha[] = { "alpha", NULL };
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) welcome2 = NULL;
  g_autoptr (IcecamMessage) late_welcome = NULL;

  add_peer (f, VIEWER_1);
  feed (f, VIEWER_1, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  welcome = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_WELCOME);
  expect_presence (f, VIEWER_1, none);

  g_clear_pointer (&welcome, icecam_message_free);
  welcome = connect_camera (f, CAMERA_1, "zulu");
  expect_presence (f, VIEWER_1, only_zulu);
  expect_nothing (f);

  welcome2 = connect_camera (f, CAMERA_2, "alpha");
  expect_presence (f, VIEWER_1, both);
  expect_nothing (f);

  /* A viewer arriving later gets the current list right after its welcome. */
  add_peer (f, VIEWER_2);
  feed (f, VIEWER_2, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  late_welcome = expect_msg (f, VIEWER_2, ICECAM_MESSAGE_WELCOME);
  expect_presence (f, VIEWER_2, both);
  expect_nothing (f);

  /* A camera leaving is pushed to every viewer, in no particular order. */
  icecam_registry_remove_peer (f->registry, CAMERA_1);
  expect_presence_to_viewers (f, VIEWER_1, VIEWER_2, only_alpha);
  expect_nothing (f);
}

/* ---- sessions --------------------------------------------------------------------------- */

static void
test_session_setup (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_pair (f);
  IcecamRegistryStats stats;

  g_assert_cmpuint (strlen (session), ==, 16);
  for (const gchar *p = session; *p != '\0'; p++)
    g_assert_true (g_ascii_isxdigit (*p));
  expect_nothing (f);

  icecam_registry_get_stats (f->registry, &stats);
  g_assert_cmpuint (stats.peers, ==, 2);
  g_assert_cmpuint (stats.cameras, ==, 1);
  g_assert_cmpuint (stats.viewers, ==, 1);
  g_assert_cmpuint (stats.sessions, ==, 1);
}

static void
test_session_relay (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_pair (f);
  g_autoptr (IcecamMessage) offer = NULL;
  g_autoptr (IcecamMessage) answer = NULL;
  g_autoptr (IcecamMessage) eoc1 = NULL;
  g_autoptr (IcecamMessage) eoc2 = NULL;
  g_autoptr (IcecamMessage) bye = NULL;
  g_autoptr (IcecamMessage) msg = NULL;
  g_autofree gchar *offer_json = NULL;
  IcecamRegistryStats stats;

  msg = icecam_message_new_offer (session, test_sdp);
  offer_json = icecam_message_to_json (msg);
  feed (f, CAMERA_1, offer_json);
  offer = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_OFFER);
  g_assert_cmpstr (offer->session, ==, session);
  g_assert_cmpstr (offer->sdp, ==, test_sdp);

  feedf (f, VIEWER_1, "{\"type\":\"answer\",\"session\":\"%s\",\"sdp\":\"v=0\\r\\nanswer\"}",
         session);
  answer = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_ANSWER);
  g_assert_cmpstr (answer->sdp, ==, "v=0\r\nanswer");

  assert_relays_candidate (f, session, CAMERA_1, VIEWER_1);
  assert_relays_candidate (f, session, VIEWER_1, CAMERA_1);

  feedf (f, CAMERA_1, "{\"type\":\"end-of-candidates\",\"session\":\"%s\"}", session);
  eoc1 = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_END_OF_CANDIDATES);
  g_assert_cmpstr (eoc1->session, ==, session);
  feedf (f, VIEWER_1, "{\"type\":\"end-of-candidates\",\"session\":\"%s\"}", session);
  eoc2 = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_END_OF_CANDIDATES);

  icecam_registry_get_stats (f->registry, &stats);
  g_assert_cmpuint (stats.messages_relayed, ==, 6);
  g_assert_cmpuint (stats.errors_sent, ==, 0);

  /* bye is relayed, then the session is gone for both ends. */
  feedf (f, VIEWER_1, "{\"type\":\"bye\",\"session\":\"%s\",\"reason\":\"closed the app\"}",
         session);
  bye = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_BYE);
  g_assert_cmpstr (bye->session, ==, session);
  g_assert_cmpstr (bye->reason, ==, "closed the app");
  expect_nothing (f);
  icecam_registry_get_stats (f->registry, &stats);
  g_assert_cmpuint (stats.sessions, ==, 0);

  feedf (f, CAMERA_1, "{\"type\":\"candidate\",\"session\":\"%s\","
         "\"candidate\":\"candidate:1 1 UDP 1 203.0.113.1 5 typ host\"}", session);
  expect_error (f, CAMERA_1, ICECAM_ERROR_CODE_UNKNOWN_SESSION, session);
  expect_nothing (f);
}

static void
test_session_many_viewers (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) welcome = connect_camera (f, CAMERA_1, "cam1");
  g_autofree gchar *v1 = connect_viewer (f, VIEWER_1, NULL);
  g_autofree gchar *v2 = connect_viewer (f, VIEWER_2, NULL);
  g_autofree gchar *s1 = open_session (f, CAMERA_1, "cam1", VIEWER_1, v1);
  g_autofree gchar *s2 = open_session (f, CAMERA_1, "cam1", VIEWER_2, v2);

  /* Each viewer is its own session; the camera's messages go to the right one. */
  g_assert_cmpstr (s1, !=, s2);
  assert_relays_candidate (f, s2, CAMERA_1, VIEWER_2);
  assert_relays_candidate (f, s1, CAMERA_1, VIEWER_1);

  /* A viewer cannot use another viewer's session. */
  feedf (f, VIEWER_1, "{\"type\":\"answer\",\"session\":\"%s\",\"sdp\":\"v=0\"}", s2);
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_UNKNOWN_SESSION, s2);
  expect_nothing (f);
}

static void
test_session_peer_left (Fixture *f, gconstpointer data)
{
  const gchar *none[] = { NULL };
  g_autofree gchar *s1 = setup_pair (f);
  g_autofree gchar *v2 = connect_viewer (f, VIEWER_2, "bob");
  g_autofree gchar *s2 = open_session (f, CAMERA_1, "cam1", VIEWER_2, "bob");
  g_autoptr (IcecamMessage) bye1 = NULL;
  g_autoptr (IcecamMessage) bye2 = NULL;
  IcecamRegistryStats stats;

  /* A viewer leaving: its camera is told, nobody else. */
  icecam_registry_remove_peer (f->registry, VIEWER_1);
  bye1 = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_BYE);
  g_assert_cmpstr (bye1->session, ==, s1);
  g_assert_cmpstr (bye1->reason, ==, "peer-left");
  expect_nothing (f);

  /* A camera leaving: its viewer gets bye, then the new presence. */
  icecam_registry_remove_peer (f->registry, CAMERA_1);
  bye2 = expect_msg (f, VIEWER_2, ICECAM_MESSAGE_BYE);
  g_assert_cmpstr (bye2->session, ==, s2);
  g_assert_cmpstr (bye2->reason, ==, "peer-left");
  expect_presence (f, VIEWER_2, none);
  expect_nothing (f);

  /* Their sessions are kept for their clients to take back, until the grace is over. */
  icecam_registry_get_stats (f->registry, &stats);
  g_assert_cmpuint (stats.sessions, ==, 2);
  g_assert_cmpuint (stats.detached, ==, 2);
  icecam_registry_expire (f->registry, after_grace ());
  expect_nothing (f);

  icecam_registry_get_stats (f->registry, &stats);
  g_assert_cmpuint (stats.sessions, ==, 0);
  g_assert_cmpuint (stats.detached, ==, 0);
  g_assert_cmpuint (stats.cameras, ==, 0);
  g_assert_cmpuint (stats.peers, ==, 1);

  /* Removing an unknown or already removed peer does nothing. */
  icecam_registry_remove_peer (f->registry, CAMERA_1);
  icecam_registry_remove_peer (f->registry, STRANGER);
  expect_nothing (f);
}

static void
test_session_send_failure_reentrancy (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_pair (f);
  g_autoptr (IcecamMessage) offer = NULL;
  g_autoptr (IcecamMessage) bye = NULL;

  /* The viewer's socket fails while the offer is being sent to it: the handler removes the
   * peer from inside the emission, and the camera is told after the offer. */
  f->remove_on_send = VIEWER_1;
  feedf (f, CAMERA_1, "{\"type\":\"offer\",\"session\":\"%s\",\"sdp\":\"v=0\"}", session);
  offer = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_OFFER);
  bye = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_BYE);
  g_assert_cmpstr (bye->reason, ==, "peer-left");
  expect_nothing (f);
}

/* ---- errors ----------------------------------------------------------------------------- */

static void
test_error_not_ready (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) welcome = NULL;

  add_peer (f, VIEWER_1);
  feed (f, VIEWER_1, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_NOT_READY, "send 'hello' first, not 'watch'");
  expect_nothing (f);

  /* Nothing changed: hello still works. */
  feed (f, VIEWER_1, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam1\"}");
  welcome = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_WELCOME);
  g_assert_cmpstr (welcome->id, ==, "cam1");
  expect_nothing (f);
}

static void
test_error_unknown_camera (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_pair (f);
  IcecamRegistryStats stats;

  feed (f, VIEWER_1, "{\"type\":\"watch\",\"camera\":\"back-yard\"}");
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_UNKNOWN_CAMERA, "camera 'back-yard' is not online");
  expect_nothing (f);
  icecam_registry_get_stats (f->registry, &stats);
  g_assert_cmpuint (stats.sessions, ==, 1);
  g_assert_cmpuint (stats.errors_sent, ==, 1);
  assert_relays_candidate (f, session, CAMERA_1, VIEWER_1);
}

static void
test_error_unknown_session (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_pair (f);
  g_autoptr (IcecamMessage) error = NULL;
  g_autoptr (IcecamMessage) welcome = connect_camera (f, CAMERA_2, "cam2");
  const gchar *both[] = { "cam1", "cam2", NULL };

  expect_presence (f, VIEWER_1, both);
  feed (f, VIEWER_1, "{\"type\":\"candidate\",\"session\":\"0000000000000000\","
        "\"candidate\":\"candidate:1 1 UDP 1 203.0.113.1 5 typ host\"}");
  error = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_ERROR);
  g_assert_cmpint (error->error_code, ==, ICECAM_ERROR_CODE_UNKNOWN_SESSION);
  g_assert_cmpstr (error->session, ==, "0000000000000000");
  g_assert_cmpstr (error->text, ==, "unknown session '0000000000000000'");

  /* A camera that is not part of the session cannot inject into it. */
  feedf (f, CAMERA_2, "{\"type\":\"offer\",\"session\":\"%s\",\"sdp\":\"v=0\"}", session);
  expect_error (f, CAMERA_2, ICECAM_ERROR_CODE_UNKNOWN_SESSION, session);
  feedf (f, CAMERA_2, "{\"type\":\"bye\",\"session\":\"%s\"}", session);
  expect_error (f, CAMERA_2, ICECAM_ERROR_CODE_UNKNOWN_SESSION, session);
  expect_nothing (f);
  assert_relays_candidate (f, session, VIEWER_1, CAMERA_1);
}

static void
test_error_not_allowed (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_pair (f);

  feed (f, CAMERA_1, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  expect_error (f, CAMERA_1, ICECAM_ERROR_CODE_NOT_ALLOWED, "a camera may not send 'watch'");
  feedf (f, VIEWER_1, "{\"type\":\"offer\",\"session\":\"%s\",\"sdp\":\"v=0\"}", session);
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_NOT_ALLOWED, "a viewer may not send 'offer'");
  feedf (f, CAMERA_1, "{\"type\":\"answer\",\"session\":\"%s\",\"sdp\":\"v=0\"}", session);
  expect_error (f, CAMERA_1, ICECAM_ERROR_CODE_NOT_ALLOWED, "a camera may not send 'answer'");
  feed (f, VIEWER_1, "{\"type\":\"welcome\",\"version\":1,\"id\":\"x\",\"address\":\"a\","
        "\"ice_servers\":[]}");
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_NOT_ALLOWED,
                "'welcome' is sent by the server, not by clients");
  feed (f, VIEWER_1, "{\"type\":\"presence\",\"cameras\":[]}");
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_NOT_ALLOWED, "'presence' is sent by the server");
  feedf (f, CAMERA_1, "{\"type\":\"session\",\"session\":\"%s\",\"camera\":\"cam1\","
         "\"role\":\"viewer\"}", session);
  expect_error (f, CAMERA_1, ICECAM_ERROR_CODE_NOT_ALLOWED, "'session' is sent by the server");
  feed (f, VIEWER_1, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_NOT_ALLOWED, "'hello' was already sent");
  expect_nothing (f);

  /* An error from a client is logged, not answered. */
  feed (f, VIEWER_1, "{\"type\":\"error\",\"code\":\"internal\",\"message\":\"oops\"}");
  expect_nothing (f);

  assert_relays_candidate (f, session, CAMERA_1, VIEWER_1);
}

static void
test_error_session_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) welcome = connect_camera (f, CAMERA_1, "cam1");
  g_autofree gchar *viewer = connect_viewer (f, VIEWER_1, "alice");
  g_autofree gchar *s1 = NULL;
  g_autofree gchar *s2 = NULL;
  g_autofree gchar *s3 = NULL;
  g_autoptr (IcecamMessage) bye = NULL;

  icecam_registry_set_max_sessions_per_viewer (f->registry, 2);
  s1 = open_session (f, CAMERA_1, "cam1", VIEWER_1, viewer);
  s2 = open_session (f, CAMERA_1, "cam1", VIEWER_1, viewer);
  feed (f, VIEWER_1, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_LIMIT_EXCEEDED,
                "viewer 'alice' has 2 sessions open, the limit is 2");
  expect_nothing (f);

  /* Closing one makes room again. */
  feedf (f, VIEWER_1, "{\"type\":\"bye\",\"session\":\"%s\"}", s1);
  bye = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_BYE);
  s3 = open_session (f, CAMERA_1, "cam1", VIEWER_1, viewer);
  expect_nothing (f);
}

/* A camera at its session limit hears nothing of the watch that is refused. */
static void
test_error_camera_session_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) welcome = connect_camera (f, CAMERA_1, "cam1");
  g_autofree gchar *alice = connect_viewer (f, VIEWER_1, "alice");
  g_autofree gchar *bob = connect_viewer (f, VIEWER_2, "bob");
  g_autofree gchar *s1 = NULL;
  g_autofree gchar *s2 = NULL;
  g_autofree gchar *s3 = NULL;
  g_autoptr (IcecamMessage) bye = NULL;

  icecam_registry_set_max_sessions_per_camera (f->registry, 2);
  s1 = open_session (f, CAMERA_1, "cam1", VIEWER_1, alice);
  s2 = open_session (f, CAMERA_1, "cam1", VIEWER_2, bob);
  feed (f, VIEWER_2, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  expect_error (f, VIEWER_2, ICECAM_ERROR_CODE_LIMIT_EXCEEDED,
                "camera 'cam1' has 2 sessions open, the limit is 2");
  expect_nothing (f);

  feedf (f, VIEWER_1, "{\"type\":\"bye\",\"session\":\"%s\"}", s1);
  bye = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_BYE);
  s3 = open_session (f, CAMERA_1, "cam1", VIEWER_2, bob);
  expect_nothing (f);
}

static void
test_error_id_in_use (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_pair (f);
  g_autofree gchar *viewer2 = NULL;
  IcecamRegistryStats stats;

  add_peer (f, CAMERA_2);
  feed (f, CAMERA_2, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam1\"}");
  expect_error (f, CAMERA_2, ICECAM_ERROR_CODE_ID_IN_USE, "camera id 'cam1' is already online");
  expect_close (f, CAMERA_2);
  expect_nothing (f);

  /* What the refused peer sends before its socket is closed is dropped. */
  feed (f, CAMERA_2, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam9\"}");
  expect_nothing (f);

  /* Its leaving does not take the real cam1 offline. */
  icecam_registry_remove_peer (f->registry, CAMERA_2);
  expect_nothing (f);
  icecam_registry_get_stats (f->registry, &stats);
  g_assert_cmpuint (stats.cameras, ==, 1);
  viewer2 = connect_viewer (f, VIEWER_2, NULL);
  assert_relays_candidate (f, session, CAMERA_1, VIEWER_1);
}

static void
test_error_version (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_pair (f);

  add_peer (f, CAMERA_2);
  feed (f, CAMERA_2, "{\"type\":\"hello\",\"version\":2,\"role\":\"camera\",\"id\":\"cam2\"}");
  expect_error (f, CAMERA_2, ICECAM_ERROR_CODE_VERSION, "protocol version 2 is not supported");
  expect_close (f, CAMERA_2);
  expect_nothing (f);
  assert_relays_candidate (f, session, CAMERA_1, VIEWER_1);
}

/* Bad input from a peer in a session: error to it, and its session still relays. */
static void
test_error_bad_input (Fixture *f, gconstpointer data)
{
  static const struct {
    const gchar *text;
    IcecamErrorCode code;
    const gchar *needle;
  } cases[] = {
    { "this is not json", ICECAM_ERROR_CODE_MALFORMED, "not valid JSON" },
    { "[1,2,3]", ICECAM_ERROR_CODE_MALFORMED, "not a JSON object" },
    { "{\"type\":\"offer\",\"session\":", ICECAM_ERROR_CODE_MALFORMED, "not valid JSON" },
    { "{\"type\":\"watch\",\"camera\":42}", ICECAM_ERROR_CODE_MALFORMED,
      "field 'camera' in 'watch' must be a string" },
    { "{\"type\":\"subscribe\"}", ICECAM_ERROR_CODE_UNKNOWN_TYPE,
      "unknown message type 'subscribe'" },
    { "{\"type\":\"offer\",\"session\":\"abc\"}", ICECAM_ERROR_CODE_MISSING_FIELD,
      "field 'sdp' is missing in 'offer'" },
    { "{\"type\":\"watch\",\"camera\":\"no such/camera\"}", ICECAM_ERROR_CODE_INVALID_FIELD,
      "field 'camera' in 'watch' is not a valid id" },
    { "{\"type\":\"candidate\",\"session\":\"abc\",\"candidate\":\"\"}",
      ICECAM_ERROR_CODE_INVALID_FIELD, "must start with 'candidate:'" },
  };
  g_autofree gchar *session = setup_pair (f);
  g_autofree gchar *oversized = g_strnfill (ICECAM_PROTOCOL_MAX_MESSAGE_SIZE + 1, ' ');
  IcecamRegistryStats stats;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    feed (f, VIEWER_1, cases[i].text);
    expect_error (f, VIEWER_1, cases[i].code, cases[i].needle);
    expect_nothing (f);
    assert_relays_candidate (f, session, CAMERA_1, VIEWER_1);
  }

  feed (f, CAMERA_1, oversized);
  expect_error (f, CAMERA_1, ICECAM_ERROR_CODE_TOO_LARGE, "message is 65537 bytes, the limit is 65536");
  expect_nothing (f);
  assert_relays_candidate (f, session, VIEWER_1, CAMERA_1);

  icecam_registry_get_stats (f->registry, &stats);
  g_assert_cmpuint (stats.errors_sent, ==, G_N_ELEMENTS (cases) + 1);
  g_assert_cmpuint (stats.sessions, ==, 1);
}

static void
test_send_error (Fixture *f, gconstpointer data)
{
  g_autofree gchar *long_text = g_strnfill (2000, 'e');
  g_autoptr (IcecamMessage) error = NULL;

  add_peer (f, VIEWER_1);
  icecam_registry_send_error (f->registry, VIEWER_1, ICECAM_ERROR_CODE_MALFORMED, NULL,
                              "binary frames are not accepted");
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_MALFORMED, "binary frames are not accepted");

  /* Texts over the protocol limit are cut so the message stays valid (checked in the handler). */
  icecam_registry_send_error (f->registry, VIEWER_1, ICECAM_ERROR_CODE_INTERNAL, NULL, long_text);
  error = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_ERROR);
  g_assert_cmpuint (strlen (error->text), ==, ICECAM_PROTOCOL_MAX_TEXT_LENGTH);

  icecam_registry_send_error (f->registry, STRANGER, ICECAM_ERROR_CODE_INTERNAL, NULL, "x");
  expect_nothing (f);
}

/* ---- coming back: resume, takeover, detached sessions ------------------------------------ */

/* A new connection says hello with @json_fields after the role; returns what came first. */
static void G_GNUC_PRINTF (4, 5)
hello_as (Fixture *f, guint64 peer, const gchar *role, const gchar *format, ...)
{
  g_autofree gchar *fields = NULL;
  va_list args;

  va_start (args, format);
  fields = g_strdup_vprintf (format, args);
  va_end (args);
  add_peer (f, peer);
  feedf (f, peer, "{\"type\":\"hello\",\"version\":1,\"role\":\"%s\"%s}", role, fields);
}

static IcecamMessage *
expect_welcome (Fixture *f, guint64 peer, const gchar *id, gboolean resumed)
{
  IcecamMessage *welcome = expect_msg (f, peer, ICECAM_MESSAGE_WELCOME);

  g_assert_cmpstr (welcome->id, ==, id);
  g_assert_cmpint (welcome->resumed, ==, resumed);
  g_assert_cmpuint (strlen (welcome->resume), ==, 32);
  g_assert_cmpint (welcome->features, ==,
                   ICECAM_FEATURE_PING | ICECAM_FEATURE_RESTART | ICECAM_FEATURE_ICE_SERVERS |
                   ICECAM_FEATURE_PUNCH | ICECAM_FEATURE_DTLS);
  return welcome;
}

static void
expect_bye (Fixture *f, guint64 peer, const gchar *session, IcecamByeCode code)
{
  g_autoptr (IcecamMessage) bye = expect_msg (f, peer, ICECAM_MESSAGE_BYE);

  g_assert_cmpstr (bye->session, ==, session);
  g_assert_cmpint (bye->bye_code, ==, code);
}

static IcecamRegistryStats
stats_of (Fixture *f)
{
  IcecamRegistryStats stats;

  icecam_registry_get_stats (f->registry, &stats);
  return stats;
}

/* Every welcome hands out a fresh 128-bit secret; each connection has its own. */
static void
test_resume_secret (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) camera = connect_camera (f, CAMERA_1, "cam1");
  g_autoptr (IcecamMessage) viewer = NULL;
  g_autoptr (IcecamMessage) again = NULL;
  g_autofree gchar *session = NULL;

  hello_as (f, VIEWER_1, "viewer", "%s", "");
  viewer = expect_welcome (f, VIEWER_1, "viewer-1", FALSE);
  icecam_message_free (expect_msg (f, VIEWER_1, ICECAM_MESSAGE_PRESENCE));
  g_assert_cmpuint (strlen (camera->resume), ==, 32);
  g_assert_cmpstr (camera->resume, !=, viewer->resume);
  session = open_session (f, CAMERA_1, "cam1", VIEWER_1, "viewer-1");

  /* Taking its place rotates it: the secret of the replaced connection is worth nothing. */
  hello_as (f, CAMERA_2, "camera", ",\"id\":\"cam1\",\"resume\":\"%s\"", camera->resume);
  expect_replaced (f, CAMERA_1);
  again = expect_welcome (f, CAMERA_2, "cam1", TRUE);
  g_assert_cmpstr (again->resume, !=, camera->resume);
  hello_as (f, 3, "camera", ",\"id\":\"cam1\",\"resume\":\"%s\"", camera->resume);
  expect_error (f, 3, ICECAM_ERROR_CODE_ID_IN_USE, "camera id 'cam1' is already online");
  expect_close (f, 3);
  expect_nothing (f);
}

/* The camera's connection is dead but the server does not know yet: with its secret the
 * camera takes its place at once, its viewer hears nothing and the session routes on. */
static void
test_resume_camera_takeover (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) welcome = connect_camera (f, CAMERA_1, "cam1");
  g_autofree gchar *viewer = connect_viewer (f, VIEWER_1, "alice");
  g_autofree gchar *session = open_session (f, CAMERA_1, "cam1", VIEWER_1, "alice");
  g_autoptr (IcecamMessage) again = NULL;

  hello_as (f, CAMERA_2, "camera", ",\"id\":\"cam1\",\"resume\":\"%s\"", welcome->resume);
  expect_replaced (f, CAMERA_1);
  again = expect_welcome (f, CAMERA_2, "cam1", TRUE);
  expect_nothing (f);  /* no bye, no presence: for the viewer nothing changed */
  assert_relays_candidate (f, session, VIEWER_1, CAMERA_2);
  assert_relays_candidate (f, session, CAMERA_2, VIEWER_1);

  /* The old connection goes later; that changes nothing. */
  feedf (f, CAMERA_1, "{\"type\":\"bye\",\"session\":\"%s\"}", session);
  expect_nothing (f);
  icecam_registry_remove_peer (f->registry, CAMERA_1);
  expect_nothing (f);
  g_assert_cmpuint (stats_of (f).cameras, ==, 1);
  g_assert_cmpuint (stats_of (f).sessions, ==, 1);
  g_assert_cmpuint (stats_of (f).resumed, ==, 1);
  assert_relays_candidate (f, session, VIEWER_1, CAMERA_2);
}

/* Without the secret (or with a wrong one) a hello for an id online is refused as before,
 * and the error names neither the sessions nor the viewers. */
static void
test_resume_impostor (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) welcome = connect_camera (f, CAMERA_1, "cam1");
  g_autofree gchar *viewer = connect_viewer (f, VIEWER_1, "alice");
  g_autofree gchar *session = open_session (f, CAMERA_1, "cam1", VIEWER_1, "alice");
  g_autofree gchar *wrong = g_strdup (welcome->resume);
  const gchar *attempts[] = { "", ",\"resume\":\"00000000000000000000000000000000\"",
                              ",\"resume\":\"x\"", NULL };

  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  for (guint i = 0; attempts[i] != NULL; i++) {
    g_autoptr (IcecamMessage) error = NULL;

    hello_as (f, 20 + i, "camera", ",\"id\":\"cam1\"%s", attempts[i]);
    error = expect_msg (f, 20 + i, ICECAM_MESSAGE_ERROR);
    g_assert_cmpint (error->error_code, ==, ICECAM_ERROR_CODE_ID_IN_USE);
    g_assert_cmpstr (error->text, ==, "camera id 'cam1' is already online");
    g_assert_null (error->session);
    expect_close (f, 20 + i);
  }
  hello_as (f, 30, "camera", ",\"id\":\"cam1\",\"resume\":\"%s\"", wrong);
  expect_error (f, 30, ICECAM_ERROR_CODE_ID_IN_USE, "camera id 'cam1' is already online");
  expect_close (f, 30);
  expect_nothing (f);
  assert_relays_candidate (f, session, CAMERA_1, VIEWER_1);
  g_assert_cmpuint (stats_of (f).resumed, ==, 0);
}

/* Where cameras are provisioned, a valid proof takes the id over without the secret (a
 * restarted camera is back at once), but its sessions end: only the secret says the camera
 * still knows them. A wrong proof is an impostor; the secret without a proof is not enough. */
static void
test_resume_proof_takeover (Fixture *f, gconstpointer data)
{
  g_autofree gchar *nonce = NULL;
  g_autofree gchar *proof = NULL;
  g_autofree gchar *viewer = NULL;
  g_autofree gchar *session = NULL;
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) again = NULL;

  provision (f);
  camera_hello_with_proof (f, CAMERA_1, "cam1", "s3cret-cam1");
  welcome = expect_welcome (f, CAMERA_1, "cam1", FALSE);
  viewer = connect_viewer (f, VIEWER_1, "alice");
  session = open_session (f, CAMERA_1, "cam1", VIEWER_1, "alice");

  camera_hello_with_proof (f, CAMERA_2, "cam1", "s3cret-cam2");
  expect_error (f, CAMERA_2, ICECAM_ERROR_CODE_ID_IN_USE, "camera id 'cam1' is already online");
  expect_close (f, CAMERA_2);
  hello_as (f, 3, "camera", ",\"id\":\"cam1\",\"resume\":\"%s\"", welcome->resume);
  expect_error (f, 3, ICECAM_ERROR_CODE_UNAUTHORIZED, "did not prove");
  expect_close (f, 3);
  g_assert_cmpuint (stats_of (f).cameras, ==, 1);
  assert_relays_candidate (f, session, CAMERA_1, VIEWER_1);

  camera_hello_with_proof (f, 4, "cam1", "s3cret-cam1");
  expect_bye (f, VIEWER_1, session, ICECAM_BYE_CODE_CLOSED);
  expect_replaced (f, CAMERA_1);
  again = expect_welcome (f, 4, "cam1", FALSE);
  expect_nothing (f);
  g_assert_cmpuint (stats_of (f).sessions, ==, 0);

  /* With proof and secret, the sessions stay. */
  g_free (session);
  session = open_session (f, 4, "cam1", VIEWER_1, "alice");
  nonce = add_peer_nonce (f, 5);
  proof = icecam_camera_proof ("s3cret-cam1", "cam1", nonce);
  feedf (f, 5, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam1\","
         "\"proof\":\"%s\",\"resume\":\"%s\"}", proof, again->resume);
  expect_replaced (f, 4);
  g_clear_pointer (&welcome, icecam_message_free);
  welcome = expect_welcome (f, 5, "cam1", TRUE);
  expect_nothing (f);
  assert_relays_candidate (f, session, VIEWER_1, 5);
}

/* A camera whose connection went: its viewer hears peer-left and it leaves presence, but the
 * session stays. What the viewer sends meanwhile is dropped without an error; the camera
 * comes back with its secret and the session routes again. */
static void
test_resume_camera_detached (Fixture *f, gconstpointer data)
{
  const gchar *none[] = { NULL };
  const gchar *cam1[] = { "cam1", NULL };
  g_autoptr (IcecamMessage) welcome = connect_camera (f, CAMERA_1, "cam1");
  g_autofree gchar *viewer = connect_viewer (f, VIEWER_1, "alice");
  g_autofree gchar *session = open_session (f, CAMERA_1, "cam1", VIEWER_1, "alice");
  g_autoptr (IcecamMessage) again = NULL;

  icecam_registry_remove_peer (f->registry, CAMERA_1);
  expect_bye (f, VIEWER_1, session, ICECAM_BYE_CODE_PEER_LEFT);
  expect_presence (f, VIEWER_1, none);
  expect_nothing (f);
  g_assert_cmpuint (stats_of (f).sessions, ==, 1);
  g_assert_cmpuint (stats_of (f).detached, ==, 1);

  feedf (f, VIEWER_1, "{\"type\":\"candidate\",\"session\":\"%s\","
         "\"candidate\":\"candidate:1 1 UDP 1 203.0.113.1 5 typ host\"}", session);
  feedf (f, VIEWER_1, "{\"type\":\"restart\",\"session\":\"%s\"}", session);
  expect_nothing (f);
  feed (f, VIEWER_1, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_UNKNOWN_CAMERA, "camera 'cam1' is not online");

  hello_as (f, CAMERA_2, "camera", ",\"id\":\"cam1\",\"resume\":\"%s\"", welcome->resume);
  again = expect_welcome (f, CAMERA_2, "cam1", TRUE);
  expect_presence (f, VIEWER_1, cam1);
  expect_nothing (f);
  g_assert_cmpuint (stats_of (f).detached, ==, 0);
  assert_relays_candidate (f, session, VIEWER_1, CAMERA_2);
  assert_relays_candidate (f, session, CAMERA_2, VIEWER_1);
}

/* A bye for a detached end ends the session now and reaches that end when it is back. */
static void
test_resume_bye_held (Fixture *f, gconstpointer data)
{
  const gchar *none[] = { NULL };
  const gchar *cam1[] = { "cam1", NULL };
  g_autoptr (IcecamMessage) welcome = connect_camera (f, CAMERA_1, "cam1");
  g_autofree gchar *alice = connect_viewer (f, VIEWER_1, "alice");
  g_autofree gchar *bob = connect_viewer (f, VIEWER_2, "bob");
  g_autofree gchar *s1 = open_session (f, CAMERA_1, "cam1", VIEWER_1, "alice");
  g_autofree gchar *s2 = open_session (f, CAMERA_1, "cam1", VIEWER_2, "bob");
  g_autoptr (IcecamMessage) again = NULL;
  g_autoptr (IcecamMessage) bye = NULL;

  icecam_registry_remove_peer (f->registry, CAMERA_1);
  /* Its sessions end in no particular order. */
  if (((Sent *) g_queue_peek_head (&f->sent))->peer == VIEWER_2) {
    expect_bye (f, VIEWER_2, s2, ICECAM_BYE_CODE_PEER_LEFT);
    expect_bye (f, VIEWER_1, s1, ICECAM_BYE_CODE_PEER_LEFT);
  } else {
    expect_bye (f, VIEWER_1, s1, ICECAM_BYE_CODE_PEER_LEFT);
    expect_bye (f, VIEWER_2, s2, ICECAM_BYE_CODE_PEER_LEFT);
  }
  expect_presence_to_viewers (f, VIEWER_1, VIEWER_2, none);
  expect_nothing (f);
  feedf (f, VIEWER_1, "{\"type\":\"bye\",\"session\":\"%s\",\"code\":\"closed\"}", s1);
  expect_nothing (f);
  g_assert_cmpuint (stats_of (f).sessions, ==, 1);

  hello_as (f, CAMERA_2, "camera", ",\"id\":\"cam1\",\"resume\":\"%s\"", welcome->resume);
  again = expect_welcome (f, CAMERA_2, "cam1", TRUE);
  expect_presence_to_viewers (f, VIEWER_1, VIEWER_2, cam1);
  bye = expect_msg (f, CAMERA_2, ICECAM_MESSAGE_BYE);
  g_assert_cmpstr (bye->session, ==, s1);
  g_assert_cmpint (bye->bye_code, ==, ICECAM_BYE_CODE_CLOSED);
  expect_nothing (f);
  assert_relays_candidate (f, s2, CAMERA_2, VIEWER_2);
  feedf (f, CAMERA_2, "{\"type\":\"end-of-candidates\",\"session\":\"%s\"}", s1);
  expect_error (f, CAMERA_2, ICECAM_ERROR_CODE_UNKNOWN_SESSION, s1);
}

/* After the grace the sessions are gone: the secret finds nothing to resume. */
static void
test_resume_after_grace (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) camera = connect_camera (f, CAMERA_1, "cam1");
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) again = NULL;
  g_autofree gchar *session = NULL;

  hello_as (f, VIEWER_1, "viewer", ",\"id\":\"alice\"");
  welcome = expect_welcome (f, VIEWER_1, "alice", FALSE);
  icecam_message_free (expect_msg (f, VIEWER_1, ICECAM_MESSAGE_PRESENCE));
  session = open_session (f, CAMERA_1, "cam1", VIEWER_1, "alice");

  icecam_registry_remove_peer (f->registry, VIEWER_1);
  expect_bye (f, CAMERA_1, session, ICECAM_BYE_CODE_PEER_LEFT);
  /* Within the grace, the name stays the detached viewer's. */
  hello_as (f, VIEWER_2, "viewer", ",\"id\":\"alice\"");
  icecam_message_free (expect_welcome (f, VIEWER_2, "alice-2", FALSE));
  icecam_message_free (expect_msg (f, VIEWER_2, ICECAM_MESSAGE_PRESENCE));

  icecam_registry_expire (f->registry, g_get_monotonic_time ());
  g_assert_cmpuint (stats_of (f).sessions, ==, 1);
  icecam_registry_expire (f->registry, after_grace ());
  expect_nothing (f);  /* the camera heard peer-left when the viewer went */
  g_assert_cmpuint (stats_of (f).sessions, ==, 0);
  g_assert_cmpuint (stats_of (f).detached, ==, 0);

  hello_as (f, 3, "viewer", ",\"id\":\"alice\",\"resume\":\"%s\"", welcome->resume);
  again = expect_welcome (f, 3, "alice", FALSE);
  icecam_message_free (expect_msg (f, 3, ICECAM_MESSAGE_PRESENCE));
  feedf (f, CAMERA_1, "{\"type\":\"end-of-candidates\",\"session\":\"%s\"}", session);
  expect_error (f, CAMERA_1, ICECAM_ERROR_CODE_UNKNOWN_SESSION, session);
  expect_nothing (f);
}

/* A camera back without its secret (a restarted process) starts afresh: the sessions it had
 * end with `closed`, so viewers need not wait for their media to fail. */
static void
test_resume_camera_restarted (Fixture *f, gconstpointer data)
{
  const gchar *none[] = { NULL };
  const gchar *cam1[] = { "cam1", NULL };
  g_autofree gchar *session = setup_pair (f);
  g_autoptr (IcecamMessage) welcome = NULL;

  icecam_registry_remove_peer (f->registry, CAMERA_1);
  expect_bye (f, VIEWER_1, session, ICECAM_BYE_CODE_PEER_LEFT);
  expect_presence (f, VIEWER_1, none);

  hello_as (f, CAMERA_2, "camera", ",\"id\":\"cam1\"");
  expect_bye (f, VIEWER_1, session, ICECAM_BYE_CODE_CLOSED);
  welcome = expect_welcome (f, CAMERA_2, "cam1", FALSE);
  expect_presence (f, VIEWER_1, cam1);
  expect_nothing (f);
  g_assert_cmpuint (stats_of (f).sessions, ==, 0);
  g_assert_cmpuint (stats_of (f).detached, ==, 0);
}

/* A viewer takes back its id and sessions the same way, from a live connection or a gone one;
 * a viewer with a wrong secret is just another viewer. */
static void
test_resume_viewer (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) camera = connect_camera (f, CAMERA_1, "cam1");
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) second = NULL;
  g_autoptr (IcecamMessage) third = NULL;
  g_autoptr (IcecamMessage) other = NULL;
  g_autofree gchar *session = NULL;

  hello_as (f, VIEWER_1, "viewer", "%s", "");
  welcome = expect_welcome (f, VIEWER_1, "viewer-1", FALSE);
  icecam_message_free (expect_msg (f, VIEWER_1, ICECAM_MESSAGE_PRESENCE));
  session = open_session (f, CAMERA_1, "cam1", VIEWER_1, "viewer-1");

  hello_as (f, 30, "viewer", ",\"id\":\"viewer-1\",\"resume\":\"0123456789abcdef\"");
  other = expect_welcome (f, 30, "viewer-1-2", FALSE);
  icecam_message_free (expect_msg (f, 30, ICECAM_MESSAGE_PRESENCE));
  feedf (f, 30, "{\"type\":\"answer\",\"session\":\"%s\",\"sdp\":\"v=0\"}", session);
  expect_error (f, 30, ICECAM_ERROR_CODE_UNKNOWN_SESSION, session);

  hello_as (f, VIEWER_2, "viewer", ",\"id\":\"viewer-1\",\"resume\":\"%s\"", welcome->resume);
  expect_replaced (f, VIEWER_1);
  second = expect_welcome (f, VIEWER_2, "viewer-1", TRUE);
  icecam_message_free (expect_msg (f, VIEWER_2, ICECAM_MESSAGE_PRESENCE));
  expect_nothing (f);
  assert_relays_candidate (f, session, CAMERA_1, VIEWER_2);
  icecam_registry_remove_peer (f->registry, VIEWER_1);
  expect_nothing (f);

  icecam_registry_remove_peer (f->registry, VIEWER_2);
  expect_bye (f, CAMERA_1, session, ICECAM_BYE_CODE_PEER_LEFT);
  hello_as (f, 3, "viewer", ",\"id\":\"viewer-1\",\"resume\":\"%s\"", second->resume);
  third = expect_welcome (f, 3, "viewer-1", TRUE);
  icecam_message_free (expect_msg (f, 3, ICECAM_MESSAGE_PRESENCE));
  expect_nothing (f);
  assert_relays_candidate (f, session, CAMERA_1, 3);
  assert_relays_candidate (f, session, 3, CAMERA_1);
}

/* Kept sessions count against the limits until they are forgotten, and a client that takes
 * its sessions back takes their count with them. */
static void
test_resume_limits (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) camera = connect_camera (f, CAMERA_1, "cam1");
  g_autoptr (IcecamMessage) again = NULL;
  g_autofree gchar *alice = connect_viewer (f, VIEWER_1, "alice");
  g_autofree gchar *bob = connect_viewer (f, VIEWER_2, "bob");
  g_autofree gchar *carol = connect_viewer (f, 13, "carol");
  g_autofree gchar *s1 = NULL;
  g_autofree gchar *s2 = NULL;
  g_autofree gchar *s3 = NULL;

  icecam_registry_set_max_sessions_per_camera (f->registry, 2);
  s1 = open_session (f, CAMERA_1, "cam1", VIEWER_1, alice);
  s2 = open_session (f, CAMERA_1, "cam1", VIEWER_2, bob);

  icecam_registry_remove_peer (f->registry, VIEWER_1);
  expect_bye (f, CAMERA_1, s1, ICECAM_BYE_CODE_PEER_LEFT);
  feed (f, 13, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  expect_error (f, 13, ICECAM_ERROR_CODE_LIMIT_EXCEEDED,
                "camera 'cam1' has 2 sessions open, the limit is 2");

  hello_as (f, CAMERA_2, "camera", ",\"id\":\"cam1\",\"resume\":\"%s\"", camera->resume);
  expect_replaced (f, CAMERA_1);
  again = expect_welcome (f, CAMERA_2, "cam1", TRUE);
  feed (f, 13, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  expect_error (f, 13, ICECAM_ERROR_CODE_LIMIT_EXCEEDED,
                "camera 'cam1' has 2 sessions open, the limit is 2");
  expect_nothing (f);

  icecam_registry_expire (f->registry, after_grace ());
  s3 = open_session (f, CAMERA_2, "cam1", 13, carol);
  feed (f, 13, "{\"type\":\"watch\",\"camera\":\"cam1\"}");
  expect_error (f, 13, ICECAM_ERROR_CODE_LIMIT_EXCEEDED,
                "camera 'cam1' has 2 sessions open, the limit is 2");
  expect_nothing (f);
}

/* With no grace, a connection that goes takes its sessions with it, as before. */
static void
test_resume_no_grace (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = NULL;

  icecam_registry_set_resume_grace (f->registry, 0);
  session = setup_pair (f);
  icecam_registry_remove_peer (f->registry, VIEWER_1);
  expect_bye (f, CAMERA_1, session, ICECAM_BYE_CODE_PEER_LEFT);
  expect_nothing (f);
  g_assert_cmpuint (stats_of (f).sessions, ==, 0);
  g_assert_cmpuint (stats_of (f).detached, ==, 0);
}

/* A connection evicted for abuse (over the message rate) keeps nothing, whatever the grace:
 * its resume secret cannot take the sessions back. */
static void
test_resume_evicted (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = NULL;

  session = setup_pair (f);
  icecam_registry_evict_peer (f->registry, VIEWER_1);
  expect_bye (f, CAMERA_1, session, ICECAM_BYE_CODE_PEER_LEFT);
  expect_nothing (f);
  g_assert_cmpuint (stats_of (f).sessions, ==, 0);
  g_assert_cmpuint (stats_of (f).detached, ==, 0);
}

/* ---- restart and ping ------------------------------------------------------------------- */

/* A viewer asks its camera to restart ICE; a camera may not ask, nor anyone about a session
 * it is not in, nor of a camera that did not say it understands `restart`. */
static void
test_restart (Fixture *f, gconstpointer data)
{
  g_autofree gchar *alice = connect_viewer (f, VIEWER_1, "alice");
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) old_welcome = connect_camera (f, CAMERA_2, "old-cam");
  g_autoptr (IcecamMessage) restart = NULL;
  g_autofree gchar *session = NULL;
  g_autofree gchar *old_session = NULL;
  const gchar *both[] = { "cam1", "old-cam", NULL };

  expect_presence (f, VIEWER_1, (const gchar *[]) { "old-cam", NULL });
  hello_as (f, CAMERA_1, "camera", ",\"id\":\"cam1\",\"features\":[\"restart\",\"ping\"]");
  welcome = expect_welcome (f, CAMERA_1, "cam1", FALSE);
  expect_presence (f, VIEWER_1, both);
  session = open_session (f, CAMERA_1, "cam1", VIEWER_1, "alice");
  old_session = open_session (f, CAMERA_2, "old-cam", VIEWER_1, "alice");

  feedf (f, VIEWER_1, "{\"type\":\"restart\",\"session\":\"%s\"}", session);
  restart = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_RESTART);
  g_assert_cmpstr (restart->session, ==, session);
  expect_nothing (f);

  feedf (f, CAMERA_1, "{\"type\":\"restart\",\"session\":\"%s\"}", session);
  expect_error (f, CAMERA_1, ICECAM_ERROR_CODE_NOT_ALLOWED, "a camera may not send 'restart'");
  feed (f, VIEWER_1, "{\"type\":\"restart\",\"session\":\"0000000000000000\"}");
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_UNKNOWN_SESSION, "unknown session");
  feedf (f, VIEWER_1, "{\"type\":\"restart\",\"session\":\"%s\"}", old_session);
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_NOT_ALLOWED,
                "camera 'old-cam' does not support 'restart'");
  expect_nothing (f);
}

/* `punch` goes either way, only to an end that listed it; otherwise it is dropped. */
static void
test_punch (Fixture *f, gconstpointer data)
{
  g_autofree gchar *alice = connect_viewer (f, VIEWER_1, "alice");
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) old_welcome = connect_camera (f, CAMERA_2, "old-cam");
  g_autoptr (IcecamMessage) punch = NULL;
  g_autofree gchar *session = NULL;
  g_autofree gchar *old_session = NULL;
  const gchar *both[] = { "cam1", "old-cam", NULL };
  /* On the IP each end connects from (203.0.113.PEER, add_peer_nonce()). */
  const gchar *fields = "\"mapping\":\"cone\",\"address\":\"203.0.113.11:4000\","
                        "\"token\":\"00112233445566778899aabbccddeeff\"";
  const gchar *elsewhere = "\"mapping\":\"random\",\"address\":\"198.51.100.99:4000\","
                           "\"token\":\"00112233445566778899aabbccddeeff\"";

  expect_presence (f, VIEWER_1, (const gchar *[]) { "old-cam", NULL });
  hello_as (f, CAMERA_1, "camera", ",\"id\":\"cam1\",\"features\":[\"punch\"]");
  welcome = expect_welcome (f, CAMERA_1, "cam1", FALSE);
  expect_presence (f, VIEWER_1, both);
  session = open_session (f, CAMERA_1, "cam1", VIEWER_1, "alice");
  old_session = open_session (f, CAMERA_2, "old-cam", VIEWER_1, "alice");

  feedf (f, VIEWER_1, "{\"type\":\"punch\",\"session\":\"%s\",%s}", session, fields);
  punch = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_PUNCH);
  g_assert_cmpstr (punch->session, ==, session);
  g_assert_cmpstr (punch->address, ==, "203.0.113.11:4000");
  expect_nothing (f);
  g_clear_pointer (&punch, icecam_message_free);
  /* A sequential punch's step goes along. */
  feedf (f, VIEWER_1, "{\"type\":\"punch\",\"session\":\"%s\",\"mapping\":\"sequential\","
         "\"address\":\"203.0.113.11:20000\",\"step\":-2,"
         "\"token\":\"00112233445566778899aabbccddeeff\"}", session);
  punch = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_PUNCH);
  g_assert_cmpstr (punch->mapping, ==, "sequential");
  g_assert_cmpint (punch->port_step, ==, -2);
  expect_nothing (f);
  /* An address that is not the sender's own IP would aim the other end's probes at a third
   * party: dropped. */
  feedf (f, VIEWER_1, "{\"type\":\"punch\",\"session\":\"%s\",%s}", session, elsewhere);
  expect_nothing (f);
  /* The viewer did not list `punch`: the camera's is dropped, and so is one to old-cam. */
  feedf (f, CAMERA_1, "{\"type\":\"punch\",\"session\":\"%s\",%s}", session, fields);
  feedf (f, VIEWER_1, "{\"type\":\"punch\",\"session\":\"%s\",%s}", old_session, fields);
  expect_nothing (f);
  feedf (f, VIEWER_1, "{\"type\":\"punch\",\"session\":\"0000000000000000\",%s}", fields);
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_UNKNOWN_SESSION, "unknown session");
}

/* `dtls` goes either way, unchanged, only to an end that listed it; otherwise it is dropped. */
static void
test_dtls (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) old_welcome = connect_camera (f, CAMERA_2, "old-cam");
  g_autoptr (IcecamMessage) dtls = NULL;
  g_autofree gchar *session = NULL;
  g_autofree gchar *old_session = NULL;
  const gchar *both[] = { "cam1", "old-cam", NULL };

  hello_with_features (f, VIEWER_1, "viewer", "alice", "\"dtls\"");
  icecam_message_free (expect_msg (f, VIEWER_1, ICECAM_MESSAGE_WELCOME));
  expect_presence (f, VIEWER_1, (const gchar *[]) { "old-cam", NULL });
  hello_as (f, CAMERA_1, "camera", ",\"id\":\"cam1\",\"features\":[\"dtls\"]");
  welcome = expect_welcome (f, CAMERA_1, "cam1", FALSE);
  expect_presence (f, VIEWER_1, both);
  session = open_session (f, CAMERA_1, "cam1", VIEWER_1, "alice");
  old_session = open_session (f, CAMERA_2, "old-cam", VIEWER_1, "alice");

  feedf (f, VIEWER_1, "{\"type\":\"dtls\",\"session\":\"%s\",\"data\":\"FgP+AAA=\"}", session);
  dtls = expect_msg (f, CAMERA_1, ICECAM_MESSAGE_DTLS);
  g_assert_cmpstr (dtls->session, ==, session);
  g_assert_cmpstr (dtls->data, ==, "FgP+AAA=");
  expect_nothing (f);
  g_clear_pointer (&dtls, icecam_message_free);
  feedf (f, CAMERA_1, "{\"type\":\"dtls\",\"session\":\"%s\",\"data\":\"FP7/\"}", session);
  dtls = expect_msg (f, VIEWER_1, ICECAM_MESSAGE_DTLS);
  g_assert_cmpstr (dtls->data, ==, "FP7/");
  expect_nothing (f);
  /* old-cam did not list `dtls`: the viewer's is dropped, not an error. */
  feedf (f, VIEWER_1, "{\"type\":\"dtls\",\"session\":\"%s\",\"data\":\"FgP+AAA=\"}",
         old_session);
  expect_nothing (f);
  /* Not base64: an error to the sender, nothing relayed. */
  feedf (f, VIEWER_1, "{\"type\":\"dtls\",\"session\":\"%s\",\"data\":\"not base64\"}",
         session);
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_INVALID_FIELD, "'data' in 'dtls'");
  feedf (f, VIEWER_1, "{\"type\":\"dtls\",\"session\":\"0000000000000000\",\"data\":\"FgP+\"}");
  expect_error (f, VIEWER_1, ICECAM_ERROR_CODE_UNKNOWN_SESSION, "unknown session");
}

/* Any peer is answered at once, whatever it has said so far; a pong needs no answer. */
static void
test_ping (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_pair (f);

  add_peer (f, 5);
  feed (f, 5, "{\"type\":\"ping\"}");
  icecam_message_free (expect_msg (f, 5, ICECAM_MESSAGE_PONG));
  feed (f, VIEWER_1, "{\"type\":\"ping\",\"later\":1}");
  icecam_message_free (expect_msg (f, VIEWER_1, ICECAM_MESSAGE_PONG));
  feed (f, CAMERA_1, "{\"type\":\"pong\"}");
  expect_nothing (f);
  g_assert_cmpuint (stats_of (f).errors_sent, ==, 0);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/registry/hello/camera", test_hello_camera);
  ADD ("/registry/hello/viewer-names", test_hello_viewer_names);
  ADD ("/registry/presence/updates", test_presence);
  ADD ("/registry/session/setup", test_session_setup);
  ADD ("/registry/session/relay", test_session_relay);
  ADD ("/registry/session/many-viewers", test_session_many_viewers);
  ADD ("/registry/session/peer-left", test_session_peer_left);
  ADD ("/registry/session/send-failure", test_session_send_failure_reentrancy);
  ADD ("/registry/turn/credentials", test_turn_credentials);
  ADD ("/registry/turn/welcome-with-access-control", test_turn_welcome_with_access_control);
  ADD ("/registry/turn/renewal", test_turn_renewal);
  ADD ("/registry/turn/renewal-needs-feature", test_turn_renewal_needs_feature);
  ADD ("/registry/turn/renewal-from-client", test_turn_renewal_from_client);
  ADD ("/registry/auth/camera", test_auth_camera);
  ADD ("/registry/auth/viewer", test_auth_viewer);
  ADD ("/registry/error/not-ready", test_error_not_ready);
  ADD ("/registry/error/unknown-camera", test_error_unknown_camera);
  ADD ("/registry/error/unknown-session", test_error_unknown_session);
  ADD ("/registry/error/not-allowed", test_error_not_allowed);
  ADD ("/registry/error/session-limit", test_error_session_limit);
  ADD ("/registry/error/camera-session-limit", test_error_camera_session_limit);
  ADD ("/registry/error/id-in-use", test_error_id_in_use);
  ADD ("/registry/error/version", test_error_version);
  ADD ("/registry/error/bad-input", test_error_bad_input);
  ADD ("/registry/error/send-error", test_send_error);
  ADD ("/registry/resume/secret", test_resume_secret);
  ADD ("/registry/resume/camera-takeover", test_resume_camera_takeover);
  ADD ("/registry/resume/impostor", test_resume_impostor);
  ADD ("/registry/resume/proof-takeover", test_resume_proof_takeover);
  ADD ("/registry/resume/camera-detached", test_resume_camera_detached);
  ADD ("/registry/resume/bye-held", test_resume_bye_held);
  ADD ("/registry/resume/after-grace", test_resume_after_grace);
  ADD ("/registry/resume/camera-restarted", test_resume_camera_restarted);
  ADD ("/registry/resume/viewer", test_resume_viewer);
  ADD ("/registry/resume/limits", test_resume_limits);
  ADD ("/registry/resume/no-grace", test_resume_no_grace);
  ADD ("/registry/resume/evicted", test_resume_evicted);
  ADD ("/registry/restart/relay", test_restart);
  ADD ("/registry/punch/relay", test_punch);
  ADD ("/registry/dtls/relay", test_dtls);
  ADD ("/registry/ping/pong", test_ping);

#undef ADD
  return g_test_run ();
}
