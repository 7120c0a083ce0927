/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the registry's cluster side: two registries ("node-a" and "node-c") whose
 * routed messages the test carries between them, as IcecamCluster does over Redis. */

#include "icecam-registry.h"

#include <gio/gio.h>
#include <string.h>

#define CAMERA 1
#define VIEWER 2

typedef struct {
  guint64 peer;
  IcecamMessage *msg;    /* NULL: a close request */
  gchar *route_node;     /* a routed message: to this node */
} Sent;

typedef struct {
  const gchar *name;
  IcecamRegistry *registry;
  GQueue sent;
} Node;

typedef struct {
  Node a;
  Node c;
} Fixture;

static void
sent_free (Sent *sent)
{
  icecam_message_free (sent->msg);
  g_free (sent->route_node);
  g_free (sent);
}

static void
on_send (IcecamRegistry *registry, guint64 peer, IcecamMessage *msg, Node *node)
{
  Sent *sent = g_new0 (Sent, 1);

  sent->peer = peer;
  sent->msg = icecam_message_copy (msg);
  g_queue_push_tail (&node->sent, sent);
}

static void
on_close (IcecamRegistry *registry, guint64 peer, const gchar *reason, Node *node)
{
  Sent *sent = g_new0 (Sent, 1);

  sent->peer = peer;
  g_queue_push_tail (&node->sent, sent);
}

static void
on_route (IcecamRegistry *registry, const gchar *to, IcecamMessage *msg, Node *node)
{
  Sent *sent = g_new0 (Sent, 1);

  sent->route_node = g_strdup (to);
  sent->msg = icecam_message_copy (msg);
  g_queue_push_tail (&node->sent, sent);
}

static void
node_init (Node *node, const gchar *name)
{
  node->name = name;
  node->registry = icecam_registry_new ();
  g_queue_init (&node->sent);
  g_signal_connect (node->registry, "send", G_CALLBACK (on_send), node);
  g_signal_connect (node->registry, "close", G_CALLBACK (on_close), node);
  g_signal_connect (node->registry, "route", G_CALLBACK (on_route), node);
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  node_init (&f->a, "node-a");
  node_init (&f->c, "node-c");
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_assert_finalize_object (f->a.registry);
  g_assert_finalize_object (f->c.registry);
  g_queue_clear_full (&f->a.sent, (GDestroyNotify) sent_free);
  g_queue_clear_full (&f->c.sent, (GDestroyNotify) sent_free);
}

static void
feed (Node *node, guint64 peer, const gchar *json)
{
  icecam_registry_handle_text (node->registry, peer, json, strlen (json));
}

/* The next thing @node emitted is @type for its local @peer; returns it. */
static IcecamMessage *
expect_msg (Node *node, guint64 peer, IcecamMessageType type)
{
  Sent *sent = g_queue_pop_head (&node->sent);
  IcecamMessage *msg;

  g_assert_nonnull (sent);
  g_assert_null (sent->route_node);
  g_assert_nonnull (sent->msg);
  g_assert_cmpuint (sent->peer, ==, peer);
  g_assert_cmpstr (icecam_message_type_to_string (sent->msg->type), ==,
                   icecam_message_type_to_string (type));
  msg = g_steal_pointer (&sent->msg);
  sent_free (sent);
  return msg;
}

/* The next thing @from emitted is @type routed to @to: delivers it there, as the cluster does. */
static void
carry (Node *from, Node *to, IcecamMessageType type)
{
  Sent *sent = g_queue_pop_head (&from->sent);
  g_autofree gchar *json = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (sent);
  g_assert_cmpstr (sent->route_node, ==, to->name);
  g_assert_cmpstr (icecam_message_type_to_string (sent->msg->type), ==,
                   icecam_message_type_to_string (type));
  json = icecam_message_to_json (sent->msg);
  sent_free (sent);
  g_assert_true (icecam_registry_remote_message (to->registry, from->name, json, strlen (json),
                                                 &error));
  g_assert_no_error (error);
}

static void
expect_nothing (Node *node)
{
  g_assert_cmpuint (g_queue_get_length (&node->sent), ==, 0);
}

static void
drain (Node *node)
{
  g_queue_clear_full (&node->sent, (GDestroyNotify) sent_free);
  g_queue_init (&node->sent);
}

static void
connect_peer (Node *node, guint64 peer, const gchar *hello)
{
  icecam_registry_add_peer (node->registry, peer, "203.0.113.1:4000", NULL);
  feed (node, peer, hello);
}

/* Camera "cam" on A listed at C; viewer "alice" on C watching it. Returns the session id. */
static gchar *
setup_remote_session (Fixture *f)
{
  g_auto (GStrv) cameras = NULL;
  g_autoptr (IcecamMessage) to_viewer = NULL;
  g_autoptr (IcecamMessage) to_camera = NULL;
  g_autoptr (IcecamMessage) presence = NULL;

  connect_peer (&f->a, CAMERA, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam\"}");
  drain (&f->a);
  connect_peer (&f->c, VIEWER, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\",\"id\":\"alice\","
                               "\"features\":[\"dtls\"]}");
  drain (&f->c);

  /* A's heartbeat reaches C: its viewer is told. */
  cameras = icecam_registry_dup_local_cameras (f->a.registry);
  icecam_registry_set_remote_cameras (f->c.registry, "node-a", (const gchar * const *) cameras);
  presence = expect_msg (&f->c, VIEWER, ICECAM_MESSAGE_PRESENCE);
  g_assert_cmpstrv (presence->cameras, ((const gchar * const[]) { "cam", NULL }));

  feed (&f->c, VIEWER, "{\"type\":\"watch\",\"camera\":\"cam\"}");
  carry (&f->c, &f->a, ICECAM_MESSAGE_SESSION);
  to_viewer = expect_msg (&f->c, VIEWER, ICECAM_MESSAGE_SESSION);
  to_camera = expect_msg (&f->a, CAMERA, ICECAM_MESSAGE_SESSION);
  g_assert_cmpstr (to_camera->session, ==, to_viewer->session);
  g_assert_cmpstr (to_camera->peer, ==, "alice");
  g_assert_cmpint (to_camera->role, ==, ICECAM_ROLE_CAMERA);
  expect_nothing (&f->a);
  expect_nothing (&f->c);
  return g_strdup (to_camera->session);
}

static void
test_remote_session (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_remote_session (f);
  g_autofree gchar *offer = g_strdup_printf (
    "{\"type\":\"offer\",\"session\":\"%s\",\"sdp\":\"v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\n"
    "s=-\\r\\nt=0 0\\r\\nm=video 9 UDP/AVP 96\\r\\na=rtpmap:96 H264/90000\\r\\n\"}", session);
  g_autofree gchar *bye = g_strdup_printf ("{\"type\":\"bye\",\"session\":\"%s\"}", session);
  g_autoptr (IcecamMessage) relayed = NULL;
  g_autoptr (IcecamMessage) ended = NULL;
  IcecamRegistryStats stats;

  feed (&f->a, CAMERA, offer);
  carry (&f->a, &f->c, ICECAM_MESSAGE_OFFER);
  relayed = expect_msg (&f->c, VIEWER, ICECAM_MESSAGE_OFFER);
  g_assert_cmpstr (relayed->session, ==, session);

  /* A viewer asks the camera of another node for an ICE restart. */
  {
    g_autofree gchar *restart = g_strdup_printf ("{\"type\":\"restart\",\"session\":\"%s\"}",
                                                 session);
    g_autoptr (IcecamMessage) asked = NULL;

    feed (&f->c, VIEWER, restart);
    carry (&f->c, &f->a, ICECAM_MESSAGE_RESTART);
    asked = expect_msg (&f->a, CAMERA, ICECAM_MESSAGE_RESTART);
  }

  /* `dtls` crosses nodes; the node of the receiving end drops it for an end that did not list
   * it (the camera here), and delivers it to one that did (alice). */
  {
    g_autofree gchar *dtls = g_strdup_printf ("{\"type\":\"dtls\",\"session\":\"%s\","
                                              "\"data\":\"FgP+\"}", session);
    g_autoptr (IcecamMessage) handshake = NULL;

    feed (&f->c, VIEWER, dtls);
    carry (&f->c, &f->a, ICECAM_MESSAGE_DTLS);
    expect_nothing (&f->a);
    feed (&f->a, CAMERA, dtls);
    carry (&f->a, &f->c, ICECAM_MESSAGE_DTLS);
    handshake = expect_msg (&f->c, VIEWER, ICECAM_MESSAGE_DTLS);
    g_assert_cmpstr (handshake->data, ==, "FgP+");
  }

  feed (&f->c, VIEWER, bye);
  carry (&f->c, &f->a, ICECAM_MESSAGE_BYE);
  ended = expect_msg (&f->a, CAMERA, ICECAM_MESSAGE_BYE);
  icecam_registry_get_stats (f->a.registry, &stats);
  g_assert_cmpuint (stats.sessions, ==, 0);
  icecam_registry_get_stats (f->c.registry, &stats);
  g_assert_cmpuint (stats.sessions, ==, 0);
}

/* Node A stops: C's viewer is told peer-left and A's cameras leave presence. */
static void
test_node_gone (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_remote_session (f);
  g_autoptr (IcecamMessage) bye = NULL;
  g_autoptr (IcecamMessage) presence = NULL;
  IcecamRegistryStats stats;

  icecam_registry_remote_node_gone (f->c.registry, "node-a");
  bye = expect_msg (&f->c, VIEWER, ICECAM_MESSAGE_BYE);
  g_assert_cmpstr (bye->session, ==, session);
  g_assert_cmpint (bye->bye_code, ==, ICECAM_BYE_CODE_PEER_LEFT);
  presence = expect_msg (&f->c, VIEWER, ICECAM_MESSAGE_PRESENCE);
  g_assert_cmpstrv (presence->cameras, ((const gchar * const[]) { NULL }));
  icecam_registry_get_stats (f->c.registry, &stats);
  g_assert_cmpuint (stats.sessions, ==, 0);
  expect_nothing (&f->c);
}

/* A camera id another node lists is refused. */
static void
test_id_in_use (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamMessage) error = NULL;
  g_autoptr (IcecamMessage) challenge = NULL;

  icecam_registry_set_remote_cameras (f->c.registry, "node-a",
                                      (const gchar * const[]) { "cam", NULL });
  connect_peer (&f->c, CAMERA, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam\"}");
  challenge = expect_msg (&f->c, CAMERA, ICECAM_MESSAGE_CHALLENGE);
  error = expect_msg (&f->c, CAMERA, ICECAM_MESSAGE_ERROR);
  g_assert_cmpint (error->error_code, ==, ICECAM_ERROR_CODE_ID_IN_USE);
  g_assert_nonnull (strstr (error->text, "node-a"));
}

typedef struct {
  guint calls;
  guint64 peer;
  gchar *camera_id;
  gchar *resume;
  gboolean answer;  /* what the claim function returns: a claim started */
} Claims;

static gboolean
claim_func (IcecamRegistry *registry, guint64 peer, const gchar *camera_id, const gchar *resume,
            gboolean proven, gpointer user_data)
{
  Claims *claims = user_data;

  claims->calls++;
  claims->peer = peer;
  g_free (claims->camera_id);
  claims->camera_id = g_strdup (camera_id);
  g_free (claims->resume);
  claims->resume = g_strdup (resume);
  return claims->answer;
}

/* With a claim function (the cluster up), a camera is welcomed only once its claim is granted,
 * refused when the cluster says another node holds the id; without an answer (degraded), the
 * node's own view decides. A camera whose id another node took is dropped. */
static void
on_moved_here (IcecamRegistry *registry, const gchar *camera_id, GPtrArray *moved)
{
  g_ptr_array_add (moved, g_strdup (camera_id));
}

static void
test_claims (Fixture *f, gconstpointer data)
{
  Claims claims = { .answer = TRUE };
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autoptr (IcecamMessage) error = NULL;
  g_autoptr (IcecamMessage) error2 = NULL;
  g_autoptr (IcecamMessage) presence = NULL;
  g_auto (GStrv) resumes = NULL;
  g_auto (GStrv) ids = NULL;
  IcecamRegistryStats stats;
  g_autoptr (GPtrArray) moved = g_ptr_array_new_with_free_func (g_free);

  icecam_registry_set_claim_func (f->c.registry, claim_func, &claims);
  g_signal_connect (f->c.registry, "moved-here", G_CALLBACK (on_moved_here), moved);
  connect_peer (&f->c, VIEWER, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  drain (&f->c);

  /* Granted: welcomed then, not before. */
  connect_peer (&f->c, CAMERA, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam\"}");
  g_assert_cmpuint (claims.calls, ==, 1);
  g_assert_cmpuint (claims.peer, ==, CAMERA);
  g_assert_cmpstr (claims.camera_id, ==, "cam");
  g_assert_null (claims.resume);
  sent_free (g_queue_pop_head (&f->c.sent));  /* the challenge */
  expect_nothing (&f->c);
  /* A second hello while the claim runs is refused, the claim goes on. */
  feed (&f->c, CAMERA, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam\"}");
  error2 = expect_msg (&f->c, CAMERA, ICECAM_MESSAGE_ERROR);
  g_assert_cmpint (error2->error_code, ==, ICECAM_ERROR_CODE_NOT_ALLOWED);
  icecam_registry_claim_done (f->c.registry, CAMERA, ICECAM_REGISTRY_CLAIM_GRANTED, NULL);
  welcome = expect_msg (&f->c, CAMERA, ICECAM_MESSAGE_WELCOME);
  presence = expect_msg (&f->c, VIEWER, ICECAM_MESSAGE_PRESENCE);
  g_assert_cmpstrv (presence->cameras, ((const gchar * const[]) { "cam", NULL }));
  ids = icecam_registry_dup_claimed_cameras (f->c.registry, &resumes);
  g_assert_cmpstrv (ids, ((const gchar * const[]) { "cam", NULL }));
  g_assert_cmpstr (resumes[0], ==, welcome->resume);
  /* An answer for a connection that is not waiting changes nothing. */
  icecam_registry_claim_done (f->c.registry, CAMERA, ICECAM_REGISTRY_CLAIM_REFUSED, "node-a");
  icecam_registry_claim_done (f->c.registry, 99, ICECAM_REGISTRY_CLAIM_GRANTED, NULL);
  expect_nothing (&f->c);

  /* Refused: id-in-use naming the node. */
  connect_peer (&f->c, 3, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"door\"}");
  drain (&f->c);
  icecam_registry_claim_done (f->c.registry, 3, ICECAM_REGISTRY_CLAIM_REFUSED, "node-a");
  error = expect_msg (&f->c, 3, ICECAM_MESSAGE_ERROR);
  g_assert_cmpint (error->error_code, ==, ICECAM_ERROR_CODE_ID_IN_USE);
  g_assert_nonnull (strstr (error->text, "node-a"));
  drain (&f->c);

  /* No answer: another node listing the id refuses it; otherwise it is in. */
  icecam_registry_set_remote_cameras (f->c.registry, "node-a",
                                      (const gchar * const[]) { "porch", NULL });
  drain (&f->c);
  connect_peer (&f->c, 4, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"porch\"}");
  drain (&f->c);
  icecam_registry_claim_done (f->c.registry, 4, ICECAM_REGISTRY_CLAIM_UNKNOWN, NULL);
  g_clear_pointer (&error, icecam_message_free);
  error = expect_msg (&f->c, 4, ICECAM_MESSAGE_ERROR);
  g_assert_cmpint (error->error_code, ==, ICECAM_ERROR_CODE_ID_IN_USE);
  drain (&f->c);
  claims.answer = FALSE;  /* degraded: decided at once */
  connect_peer (&f->c, 5, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"yard\"}");
  sent_free (g_queue_pop_head (&f->c.sent));  /* the challenge */
  g_clear_pointer (&welcome, icecam_message_free);
  welcome = expect_msg (&f->c, 5, ICECAM_MESSAGE_WELCOME);
  drain (&f->c);
  claims.answer = TRUE;

  /* Granted an id node-a lists (the camera failed over here): ::moved-here, for it alone
   * ("cam" and "yard" were listed by nobody else). */
  g_assert_cmpuint (moved->len, ==, 0);
  connect_peer (&f->c, 6, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"porch\"}");
  drain (&f->c);
  icecam_registry_claim_done (f->c.registry, 6, ICECAM_REGISTRY_CLAIM_GRANTED, NULL);
  g_assert_cmpuint (moved->len, ==, 1);
  g_assert_cmpstr (moved->pdata[0], ==, "porch");
  drain (&f->c);

  /* Another node took "cam": its connection here is closed as replaced, presence updated. */
  g_assert_true (icecam_registry_camera_taken (f->c.registry, "cam", "node-a"));
  g_assert_false (icecam_registry_camera_taken (f->c.registry, "cam", "node-a"));
  icecam_registry_get_stats (f->c.registry, &stats);
  g_assert_cmpuint (stats.cameras, ==, 2);
  g_clear_pointer (&presence, icecam_message_free);
  while (!g_queue_is_empty (&f->c.sent)) {
    Sent *sent = g_queue_pop_head (&f->c.sent);

    if (sent->peer == VIEWER && sent->msg != NULL &&
        sent->msg->type == ICECAM_MESSAGE_PRESENCE)
      presence = g_steal_pointer (&sent->msg);
    sent_free (sent);
  }
  g_assert_nonnull (presence);
  g_assert_false (g_strv_contains ((const gchar * const *) presence->cameras, "cam"));
  g_signal_handlers_disconnect_by_data (f->c.registry, moved);
  icecam_registry_set_claim_func (f->c.registry, NULL, NULL);
  g_free (claims.camera_id);
  g_free (claims.resume);
}

/* The relay of the session @viewer (a local peer of @node) opens on @camera: the first URL
 * its session message lists. */
static gchar *
watch_relay (Node *node, guint64 viewer, guint64 camera, const gchar *camera_id)
{
  g_autofree gchar *watch = g_strdup_printf ("{\"type\":\"watch\",\"camera\":\"%s\"}",
                                             camera_id);
  g_autoptr (IcecamMessage) to_viewer = NULL;
  g_autoptr (IcecamMessage) to_camera = NULL;
  IcecamIceServer *server;

  feed (node, viewer, watch);
  if (((Sent *) g_queue_peek_head (&node->sent))->peer == camera) {
    to_camera = expect_msg (node, camera, ICECAM_MESSAGE_SESSION);
    to_viewer = expect_msg (node, viewer, ICECAM_MESSAGE_SESSION);
  } else {
    to_viewer = expect_msg (node, viewer, ICECAM_MESSAGE_SESSION);
    to_camera = expect_msg (node, camera, ICECAM_MESSAGE_SESSION);
  }
  g_assert_cmpstr (to_camera->session, ==, to_viewer->session);
  g_assert_nonnull (to_camera->ice_servers);
  g_assert_cmpuint (to_camera->ice_servers->len, >=, 1);
  server = g_ptr_array_index (to_camera->ice_servers, 0);
  return g_strdup (server->urls[0]);
}

/* Relays: a healthy one, then one of the camera's region, then the fewest sessions counted
 * across the cluster (this node's and what the others' heartbeats said). */
static void
test_relay_policy (Fixture *f, gconstpointer data)
{
  const gchar *urls[] = { "turn:198.51.100.1:3478?transport=udp",
                          "turn:198.51.100.2:3478?transport=udp", NULL };
  const gchar *regions[] = { "", "eu", NULL };
  g_autoptr (GHashTable) remote = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GArray) relays = NULL;
  gchar *relay;

  icecam_registry_set_turn (f->c.registry, urls, "secret", 600);
  icecam_registry_set_relay_regions (f->c.registry, urls, regions);
  connect_peer (&f->c, CAMERA, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"cam\",\"region\":\"eu\"}");
  connect_peer (&f->c, 3, "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"door\"}");
  connect_peer (&f->c, VIEWER, "{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");
  drain (&f->c);

  /* The camera in "eu" gets the eu relay although the other has fewer sessions. */
  for (guint i = 0; i < 2; i++) {
    relay = watch_relay (&f->c, VIEWER, CAMERA, "cam");
    g_assert_cmpstr (relay, ==, urls[1]);
    g_free (relay);
  }
  /* Without a region: the fewest sessions, here relay 1 (0 against 2). */
  relay = watch_relay (&f->c, VIEWER, 3, "door");
  g_assert_cmpstr (relay, ==, urls[0]);
  g_free (relay);
  /* Another node assigned relay 1 five sessions: across the cluster relay 2 has fewer. */
  g_hash_table_insert (remote, (gpointer) urls[0], GUINT_TO_POINTER (5));
  icecam_registry_set_remote_relay_sessions (f->c.registry, "node-a", remote);
  relay = watch_relay (&f->c, VIEWER, 3, "door");
  g_assert_cmpstr (relay, ==, urls[1]);
  g_free (relay);
  relays = icecam_registry_get_relays (f->c.registry);
  g_assert_cmpuint (relays->len, ==, 2);
  g_assert_cmpuint (g_array_index (relays, IcecamRegistryRelay, 0).sessions, ==, 1);
  g_assert_cmpuint (g_array_index (relays, IcecamRegistryRelay, 0).cluster_sessions, ==, 6);
  g_assert_cmpuint (g_array_index (relays, IcecamRegistryRelay, 1).sessions, ==, 3);
  g_assert_cmpuint (g_array_index (relays, IcecamRegistryRelay, 1).cluster_sessions, ==, 3);
  g_assert_cmpstr (g_array_index (relays, IcecamRegistryRelay, 1).region, ==, "eu");
  g_assert_null (g_array_index (relays, IcecamRegistryRelay, 0).region);
  /* The node gone, its sessions no longer count; a withdrawn relay is skipped whatever its
   * region. */
  icecam_registry_set_remote_relay_sessions (f->c.registry, "node-a", NULL);
  icecam_registry_set_relay_up (f->c.registry, urls[1], FALSE);
  relay = watch_relay (&f->c, VIEWER, CAMERA, "cam");
  g_assert_cmpstr (relay, ==, urls[0]);
  g_free (relay);
}

/* A --turn-server entry's region tag. */
static void
test_relay_entry (void)
{
  g_autofree gchar *url = NULL;
  g_autofree gchar *region = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (icecam_relay_entry_split ("turn:198.51.100.1:3478", &url, &region, &error));
  g_assert_cmpstr (url, ==, "turn:198.51.100.1:3478");
  g_assert_null (region);
  g_free (url);
  g_assert_true (icecam_relay_entry_split ("turns:198.51.100.1:443?transport=tcp,region=eu-west",
                                           &url, &region, &error));
  g_assert_cmpstr (url, ==, "turns:198.51.100.1:443?transport=tcp");
  g_assert_cmpstr (region, ==, "eu-west");
  g_clear_pointer (&url, g_free);
  g_clear_pointer (&region, g_free);
  g_assert_false (icecam_relay_entry_split ("turn:198.51.100.1:3478,zone=eu", &url, &region,
                                            &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_false (icecam_relay_entry_split ("turn:198.51.100.1:3478,region=", &url, &region,
                                            &error));
  g_assert_nonnull (error);
}

/* Messages from Redis that make no sense are refused and change nothing. */
static void
test_garbage (Fixture *f, gconstpointer data)
{
  g_autofree gchar *session = setup_remote_session (f);
  g_autofree gchar *wrong_node = g_strdup_printf (
    "{\"type\":\"bye\",\"session\":\"%s\"}", session);
  const gchar *bad[] = {
    "", "not json", "[]", "{\"type\":\"offer\"}", "{\"type\":\"welcome\"}",
    "{\"type\":\"candidate\",\"session\":\"nope\",\"candidate\":\"candidate:1 1 UDP 1 203.0.113.1 1 typ host\"}",
  };
  IcecamRegistryStats stats;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;

    g_assert_false (icecam_registry_remote_message (f->c.registry, "node-a", bad[i],
                                                    strlen (bad[i]), &error));
    g_assert_nonnull (error);
  }
  /* The session's other end is on node-a, not node-x. */
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (icecam_registry_remote_message (f->c.registry, "node-x", wrong_node,
                                                    strlen (wrong_node), &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED);
  }
  /* A session for a camera that is not there is answered with bye, nothing else. */
  {
    const gchar *open = "{\"type\":\"session\",\"session\":\"0011\",\"camera\":\"ghost\","
                        "\"peer\":\"bob\",\"role\":\"camera\"}";
    g_autoptr (GError) error = NULL;

    g_assert_true (icecam_registry_remote_message (f->a.registry, "node-c", open,
                                                   strlen (open), &error));
    carry (&f->a, &f->c, ICECAM_MESSAGE_BYE);
  }
  expect_nothing (&f->a);
  expect_nothing (&f->c);
  icecam_registry_get_stats (f->c.registry, &stats);
  g_assert_cmpuint (stats.sessions, ==, 1);
  icecam_registry_get_stats (f->a.registry, &stats);
  g_assert_cmpuint (stats.sessions, ==, 1);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/registry-cluster/session/across-nodes", test_remote_session);
  ADD ("/registry-cluster/node/gone", test_node_gone);
  ADD ("/registry-cluster/hello/id-in-use", test_id_in_use);
  ADD ("/registry-cluster/input/garbage", test_garbage);
  ADD ("/registry-cluster/hello/claims", test_claims);
  ADD ("/registry-cluster/relay/policy", test_relay_policy);
  g_test_add_func ("/registry-cluster/relay/entry", test_relay_entry);
  return g_test_run ();
}
