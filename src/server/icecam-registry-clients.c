/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who each connection of the registry is: hello with proof, token and name, and a client's new
 * connection taking the place of its earlier one, live or gone, with its sessions. */

#include "icecam-registry-private.h"

#include "icecam-token.h"

/* What this server understands beyond the first release of version 1, told in `welcome`. */
#define SERVER_FEATURES (ICECAM_FEATURE_PING | ICECAM_FEATURE_RESTART | ICECAM_FEATURE_ICE_SERVERS | \
                         ICECAM_FEATURE_PUNCH | ICECAM_FEATURE_DTLS)

/* ---- hello ------------------------------------------------------------------------------ */

/* Every welcome hands out a new resume secret: a connection's secret dies with the next. */
static void
queue_welcome (IcecamRegistry *self, Peer *peer, gboolean resumed)
{
  g_autoptr (GPtrArray) servers = g_ptr_array_new ();
  IcecamMessage *welcome;

  /* The peer's own servers (the STUN responder as it reached us) come first. Relay
   * credentials are never in a welcome: only sessions the server authorised get them. */
  for (guint i = 0; i < peer->ice_servers->len; i++)
    g_ptr_array_add (servers, peer->ice_servers->pdata[i]);
  for (guint i = 0; i < self->ice_servers->len; i++)
    g_ptr_array_add (servers, self->ice_servers->pdata[i]);
  if (servers->len > ICECAM_PROTOCOL_MAX_ICE_SERVERS) {
    g_warning ("%u ICE servers configured, welcome lists only the first %d", servers->len,
               ICECAM_PROTOCOL_MAX_ICE_SERVERS);
    g_ptr_array_set_size (servers, ICECAM_PROTOCOL_MAX_ICE_SERVERS);
  }
  welcome = icecam_message_new_welcome (peer->name, peer->address, servers);
  g_free (peer->resume);
  peer->resume = icecam_random_hex (16);
  welcome->resume = g_strdup (peer->resume);
  welcome->resumed = resumed;
  welcome->features = SERVER_FEATURES;
  registry_queue_send (self, peer, welcome);
}

/* A detached viewer keeps its name: its client may come back for it. */
static gboolean
viewer_name_taken (IcecamRegistry *self, const gchar *name)
{
  return g_hash_table_contains (self->viewers, name) ||
         g_hash_table_contains (self->detached_viewers, name);
}

/* @wanted if no other viewer has it, else @wanted-2, -3, ...; viewer-<n> without a wish. */
static gchar *
unique_viewer_name (IcecamRegistry *self, const gchar *wanted)
{
  gchar *name = NULL;

  if (wanted == NULL) {
    do {
      g_free (name);
      name = g_strdup_printf ("viewer-%" G_GUINT64_FORMAT, ++self->next_viewer_number);
    } while (viewer_name_taken (self, name));
    return name;
  }
  if (!viewer_name_taken (self, wanted))
    return g_strdup (wanted);
  for (guint n = 2;; n++) {
    g_autofree gchar *suffix = g_strdup_printf ("-%u", n);
    gint keep = MIN (strlen (wanted), ICECAM_PROTOCOL_MAX_ID_LENGTH - strlen (suffix));

    name = g_strdup_printf ("%.*s%s", keep, wanted, suffix);
    if (!viewer_name_taken (self, name))
      return name;
    g_free (name);
  }
}

/* With provisioned secrets, a camera proves it holds its id's secret by an HMAC over this
 * connection's nonce: the secret never crosses the wire, and a proof cannot be replayed. */
static gboolean
camera_proof_valid (IcecamRegistry *self, Peer *peer, const IcecamMessage *hello)
{
  const gchar *secret = g_hash_table_lookup (self->camera_secrets, hello->id);

  return secret != NULL &&
         icecam_camera_proof_check (secret, hello->id, peer->nonce, hello->proof);
}

/* Without provisioned secrets any camera may register under any free id. */
static gboolean
camera_proves_identity (IcecamRegistry *self, Peer *peer, const IcecamMessage *hello)
{
  const gchar *secret;

  if (self->camera_secrets == NULL || camera_proof_valid (self, peer, hello))
    return TRUE;
  secret = g_hash_table_lookup (self->camera_secrets, hello->id);
  icecam_ops_log_event (self->ops_log, ICECAM_OPS_LOG_CAMERA_REFUSED,
                        "camera '%s' refused from %s: %s", hello->id, peer->address,
                        secret == NULL ? "not provisioned"
                                       : hello->proof ? "wrong proof" : "no proof");
  registry_queue_error (self, peer, ICECAM_ERROR_CODE_UNAUTHORIZED, NULL,
                        secret == NULL ? "camera '%s' is not provisioned on this rendezvous"
                              : "camera '%s' did not prove its identity (wrong or missing secret)",
                        hello->id);
  registry_queue_close (self, peer, "unauthorized");
  return FALSE;
}

static gboolean
viewer_token_valid (IcecamRegistry *self, Peer *peer, const IcecamMessage *hello)
{
  g_autoptr (GError) error = NULL;

  if (self->token_key == NULL)
    return TRUE;
  if (hello->token == NULL) {
    registry_queue_error (self, peer, ICECAM_ERROR_CODE_UNAUTHORIZED, NULL,
                          "this rendezvous needs a token to watch cameras");
  } else if (!icecam_token_verify (self->token_key, hello->token,
                                   g_get_real_time () / G_USEC_PER_SEC, &peer->granted,
                                   &peer->grant_expiry, &error)) {
    registry_queue_error (self, peer, ICECAM_ERROR_CODE_UNAUTHORIZED, NULL, "token refused: %s",
                          error->message);
  } else {
    return TRUE;
  }
  icecam_ops_log_event (self->ops_log, ICECAM_OPS_LOG_VIEWER_REFUSED,
                        "viewer refused from %s: %s", peer->address,
                        error ? error->message : "no token");
  registry_queue_close (self, peer, "unauthorized");
  return FALSE;
}

/* ---- leaving and coming back ---------------------------------------------------------- */

/* Whether @given is the secret @peer's latest welcome handed out. */
static gboolean
resume_matches (Peer *peer, const gchar *given)
{
  return peer->resume != NULL && icecam_secret_equal (peer->resume, given);
}

/* The sessions of @from become @to's, ids and other ends unchanged: what the other ends send
 * reaches @to from now on. */
static void
sessions_move (Peer *from, Peer *to)
{
  GHashTableIter iter;
  Session *session;

  g_hash_table_iter_init (&iter, from->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session)) {
    if (session->camera == from)
      session->camera = to;
    else
      session->viewer = to;
    g_hash_table_insert (to->sessions, session->id, session);
  }
  g_hash_table_remove_all (from->sessions);
}

static GHashTable *
detached_table (IcecamRegistry *self, IcecamRole role)
{
  return role == ICECAM_ROLE_CAMERA ? self->detached_cameras : self->detached_viewers;
}

/* @peer's connection is gone (and it is out of the peer and presence tables): its sessions
 * stay for the grace period. The other ends hear `peer-left` now, as when nothing is kept;
 * their media may go on, and the sessions route again if the client comes back. */
void
registry_peer_detach (IcecamRegistry *self, Peer *peer)
{
  GHashTableIter iter;
  Session *session;

  g_hash_table_iter_init (&iter, peer->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &session))
    registry_queue_send (self, registry_session_other_end (session, peer),
                         icecam_message_new_bye (session->id, ICECAM_BYE_CODE_PEER_LEFT,
                                                 ICECAM_BYE_REASON_PEER_LEFT));
  g_info ("%s: gone, its %u sessions are kept for %u s", peer->label,
          g_hash_table_size (peer->sessions), self->resume_grace_s);
  registry_peer_set_state (peer, PEER_STATE_DETACHED);
  peer->detached_until = g_get_monotonic_time () + (gint64) self->resume_grace_s * G_USEC_PER_SEC;
  g_hash_table_insert (detached_table (self, peer->role), peer->name, peer);
  g_queue_push_tail (&self->detached, peer);
}

void
registry_detached_free (IcecamRegistry *self, Peer *peer)
{
  g_hash_table_remove (detached_table (self, peer->role), peer->name);
  g_queue_remove (&self->detached, peer);
  registry_peer_free (peer);
}

/* Forgets the detached peers whose grace is over, and their sessions. The other ends heard
 * `peer-left` when the connection went; only those detached themselves hear it again. */
void
registry_expire_detached (IcecamRegistry *self, gint64 now_us)
{
  Peer *peer;

  while ((peer = g_queue_peek_head (&self->detached)) != NULL &&
         peer->detached_until <= now_us) {
    g_info ("%s: did not come back in time, its sessions are over", peer->label);
    registry_sessions_end (self, peer, ICECAM_BYE_CODE_PEER_LEFT, ICECAM_BYE_REASON_PEER_LEFT,
                           FALSE);
    registry_detached_free (self, peer);
  }
}

/* @peer, a new connection, is welcomed under the identity its client had; @resumed: with its
 * sessions, which were moved over. */
static void
welcome_back (IcecamRegistry *self, Peer *peer, gboolean resumed)
{
  if (resumed)
    self->resumed++;
  registry_peer_set_state (peer, PEER_STATE_READY);
  g_info ("%s: back from %s%s", peer->label, peer->address,
          resumed ? " with its sessions" : ", its sessions ended");
  if (peer->role == ICECAM_ROLE_CAMERA)
    icecam_ops_log_event (self->ops_log, ICECAM_OPS_LOG_CAMERA_ONLINE,
                          "camera '%s' online again from %s", peer->name, peer->address);
  queue_welcome (self, peer, resumed);
  if (peer->role == ICECAM_ROLE_VIEWER)
    registry_queue_presence (self, peer);
}

/* @peer takes the place of @old, a connection of the same client that the server still
 * holds (its network may be gone without a word). @old is closed as replaced: its sessions
 * become @peer's if @keep_sessions (the other ends hear nothing), or end with `closed`. */
static void
peer_replace (IcecamRegistry *self, Peer *peer, Peer *old, gboolean keep_sessions)
{
  registry_peer_set_identity (peer, old->role, g_strdup (old->name));
  g_hash_table_replace (old->role == ICECAM_ROLE_CAMERA ? self->cameras : self->viewers,
                        peer->name, peer);
  if (keep_sessions)
    sessions_move (old, peer);
  else
    registry_sessions_end (self, old, ICECAM_BYE_CODE_CLOSED, "the camera reconnected without them",
                           TRUE);
  registry_queue_replaced (self, old);
  welcome_back (self, peer, keep_sessions);
}

/* @peer takes back the sessions of @detached, its client's connection that went. A camera is
 * online again; byes held for the client follow its welcome. */
static void
peer_reattach (IcecamRegistry *self, Peer *peer, Peer *detached)
{
  g_autoptr (GPtrArray) byes = g_steal_pointer (&detached->held_byes);

  registry_peer_set_identity (peer, detached->role, g_strdup (detached->name));
  sessions_move (detached, peer);
  registry_detached_free (self, detached);
  if (peer->role == ICECAM_ROLE_CAMERA) {
    g_hash_table_insert (self->cameras, peer->name, peer);
    registry_cameras_changed (self);
  } else {
    g_hash_table_insert (self->viewers, peer->name, peer);
  }
  welcome_back (self, peer, TRUE);
  if (peer->role == ICECAM_ROLE_CAMERA)
    registry_queue_presence_to_viewers (self);
  for (guint i = 0; byes != NULL && i < byes->len; i++)
    registry_queue_send (self, peer, icecam_message_copy (g_ptr_array_index (byes, i)));
}

/* ---- registering ------------------------------------------------------------------------ */

/* A camera whose id is online takes its place with the resume secret of that connection, or
 * with its proof where cameras are provisioned (then its sessions end: only the secret says
 * the client still knows them). Anyone else learns only that the id is in use. */
static void
register_camera_online (IcecamRegistry *self, Peer *peer, Peer *online,
                        const IcecamMessage *hello)
{
  gboolean resumes = resume_matches (online, hello->resume);
  gboolean proven = self->camera_secrets != NULL && camera_proof_valid (self, peer, hello);

  if (!resumes && !proven) {
    registry_queue_error (self, peer, ICECAM_ERROR_CODE_ID_IN_USE, NULL,
                          "camera id '%s' is already online", hello->id);
    registry_queue_close (self, peer, "camera id already online");
    return;
  }
  if (!camera_proves_identity (self, peer, hello))
    return;
  peer->features = hello->features;
  peer_replace (self, peer, online, resumes);
}

/* @peer registers as @hello's camera id, which no camera holds here and the cluster (if any)
 * granted: it takes back its detached sessions, or starts anew. */
static void
register_camera_free_id (IcecamRegistry *self, Peer *peer, const IcecamMessage *hello)
{
  Peer *detached;

  peer->features = hello->features;
  detached = g_hash_table_lookup (self->detached_cameras, hello->id);
  if (detached != NULL && resume_matches (detached, hello->resume)) {
    peer_reattach (self, peer, detached);
    return;
  }
  /* Back without its secret (restarted?): it no longer knows its sessions. */
  if (detached != NULL) {
    registry_sessions_end (self, detached, ICECAM_BYE_CODE_CLOSED,
                           "the camera reconnected without them", TRUE);
    registry_detached_free (self, detached);
  }
  registry_peer_set_identity (peer, ICECAM_ROLE_CAMERA, g_strdup (hello->id));
  g_hash_table_insert (self->cameras, peer->name, peer);
  registry_cameras_changed (self);
  if (g_hash_table_contains (self->remote_cameras, peer->name))
    registry_queue_moved_here (self, peer->name);
  registry_peer_set_state (peer, PEER_STATE_READY);
  icecam_ops_log_event (self->ops_log, ICECAM_OPS_LOG_CAMERA_ONLINE,
                        "camera '%s' online from %s", peer->name, peer->address);
  queue_welcome (self, peer, FALSE);
  registry_queue_presence_to_viewers (self);
}

/* The cluster granted @hello's id to this node (or could not say: then the node's own view
 * of the other nodes decides); a camera may have taken it here meanwhile. */
void
registry_register_camera_claimed (IcecamRegistry *self, Peer *peer, const IcecamMessage *hello)
{
  Peer *online = g_hash_table_lookup (self->cameras, hello->id);

  if (online != NULL)
    register_camera_online (self, peer, online, hello);
  else
    register_camera_free_id (self, peer, hello);
}

static void
register_camera (IcecamRegistry *self, Peer *peer, const IcecamMessage *hello)
{
  Peer *online = g_hash_table_lookup (self->cameras, hello->id);

  if (online != NULL) {
    register_camera_online (self, peer, online, hello);
    return;
  }
  if (!camera_proves_identity (self, peer, hello))
    return;
  /* In a cluster, Redis says atomically whether another node's camera holds the id. */
  if (registry_claim_start (self, peer, hello,
                            self->camera_secrets != NULL && hello->proof != NULL))
    return;
  if (g_hash_table_contains (self->remote_cameras, hello->id)) {
    registry_queue_error (self, peer, ICECAM_ERROR_CODE_ID_IN_USE, NULL,
                          "camera id '%s' is already online on cluster node '%s'", hello->id,
                          (const gchar *) g_hash_table_lookup (self->remote_cameras, hello->id));
    registry_queue_close (self, peer, "camera id already online on another node");
    return;
  }
  register_camera_free_id (self, peer, hello);
}

/* A viewer comes back as the id it had, with its sessions, by the resume secret of that id's
 * latest welcome; without it, it is a new viewer (and the id, if taken, gets a suffix). */
static void
register_viewer (IcecamRegistry *self, Peer *peer, const IcecamMessage *hello)
{
  Peer *old = NULL;

  if (!viewer_token_valid (self, peer, hello))
    return;
  peer->features = hello->features;
  if (hello->resume != NULL && hello->id != NULL) {
    old = g_hash_table_lookup (self->viewers, hello->id);
    if (old == NULL)
      old = g_hash_table_lookup (self->detached_viewers, hello->id);
  }
  if (old != NULL && resume_matches (old, hello->resume)) {
    if (old->state == PEER_STATE_DETACHED)
      peer_reattach (self, peer, old);
    else
      peer_replace (self, peer, old, TRUE);
    return;
  }
  registry_peer_set_identity (peer, ICECAM_ROLE_VIEWER, unique_viewer_name (self, hello->id));
  g_hash_table_insert (self->viewers, peer->name, peer);
  registry_peer_set_state (peer, PEER_STATE_READY);
  g_info ("%s: joined from %s", peer->label, peer->address);
  queue_welcome (self, peer, FALSE);
  registry_queue_presence (self, peer);
}

void
registry_handle_hello (IcecamRegistry *self, Peer *peer, const IcecamMessage *hello)
{
  if (peer->state != PEER_STATE_CONNECTED || peer->claiming != NULL) {
    registry_queue_error (self, peer, ICECAM_ERROR_CODE_NOT_ALLOWED, NULL,
                          "'hello' was already sent on this connection");
    return;
  }
  g_free (peer->region);
  peer->region = g_strdup (hello->region);
  if (hello->role == ICECAM_ROLE_CAMERA)
    register_camera (self, peer, hello);
  else
    register_viewer (self, peer, hello);
}

/* ---- public API ------------------------------------------------------------------------- */

/**
 * icecam_registry_set_camera_secrets:
 * @secrets: (nullable) (element-type utf8 utf8): camera id → its provisioned secret; %NULL
 *   lets any camera register under any free id
 *
 * With secrets, a camera's `hello` must carry icecam_camera_proof() of its secret over the
 * connection's challenge; others are refused with `unauthorized` and closed.
 */
void
icecam_registry_set_camera_secrets (IcecamRegistry *self, GHashTable *secrets)
{
  g_clear_pointer (&self->camera_secrets, g_hash_table_unref);
  if (secrets != NULL)
    self->camera_secrets = g_hash_table_ref (secrets);
}

/**
 * icecam_registry_set_token_key:
 * @key: (nullable): the key viewer tokens are signed with; %NULL: viewers need no token
 *
 * With a key, a viewer's `hello` must carry a token (icecam_token_mint()) that is valid and
 * unexpired; it sees and may watch only the cameras the token grants, until it expires.
 */
void
icecam_registry_set_token_key (IcecamRegistry *self, const gchar *key)
{
  g_free (self->token_key);
  self->token_key = g_strdup (key);
}

/**
 * icecam_registry_set_resume_grace:
 * @self: a registry
 * @seconds: how long the sessions of a client whose connection went are kept for it to take
 *   back; 0: they end at once
 *
 * Default: %ICECAM_REGISTRY_DEFAULT_RESUME_GRACE_S. Applies to connections that go afterwards.
 */
void
icecam_registry_set_resume_grace (IcecamRegistry *self, guint seconds)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));

  self->resume_grace_s = seconds;
}
