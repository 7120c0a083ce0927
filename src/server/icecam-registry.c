/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's routing logic: who is connected, which sessions exist, where messages go. */

#include "icecam-registry-private.h"

#include "icecam-token.h"

#include <gio/gio.h>
#include <string.h>

/**
 * SECTION:icecam-registry
 * @title: IcecamRegistry
 * @short_description: presence and session routing for the rendezvous, without I/O
 *
 * The registry knows the connected peers (identified by ids the caller allocates), which of
 * them are cameras and viewers, and the sessions between them. The caller feeds it the text of
 * every frame a peer sends (icecam_registry_handle_text()); the registry answers through two
 * signals: #IcecamRegistry::send, a message for one peer, #IcecamRegistry::close, a request
 * to close a peer's connection, and #IcecamRegistry::replaced, a request to close a connection
 * whose client took its place on a new one. It does no I/O and owns no sources, so it is tested
 * with strings.
 *
 * A client whose connection goes while it has sessions is detached rather than forgotten
 * (icecam_registry_set_resume_grace()): the other ends hear `bye` with code `peer-left` as
 * before, but the sessions stay, for a new connection of the client that presents the `resume`
 * secret of its latest `welcome` to take back with their ids. Meanwhile messages for it are
 * dropped (a `bye` is held and sent when it is back). The grace is checked against the
 * monotonic clock whenever the registry is called, or by icecam_registry_expire().
 *
 * Threading: the registry is not thread-safe. It emits its signals synchronously, in the
 * thread that called the function that caused them (add, remove, handle, send-error), after
 * its own state is updated and in the order the messages were produced. Handlers may call back
 * into the registry, e.g. remove a peer whose connection failed.
 *
 * Bad input from a peer never changes anything but that peer's error counter: it is answered
 * with an `error` message and every other peer and session carries on.
 */



enum {
  SIGNAL_SEND,
  SIGNAL_CLOSE,
  SIGNAL_REPLACED,
  SIGNAL_ROUTE,
  SIGNAL_MOVED_HERE,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (IcecamRegistry, icecam_registry, G_TYPE_OBJECT)

/* ---- peers and sessions ----------------------------------------------------------------- */

Peer *
registry_peer_new (guint64 id, const gchar *address, GPtrArray *ice_servers)
{
  Peer *peer = g_new0 (Peer, 1);

  peer->id = id;
  peer->state = PEER_STATE_CONNECTED;
  peer->label = g_strdup_printf ("peer %" G_GUINT64_FORMAT, id);
  peer->address = g_strdup (address);
  peer->ice_servers = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  for (guint i = 0; ice_servers != NULL && i < ice_servers->len; i++)
    g_ptr_array_add (peer->ice_servers, icecam_ice_server_copy (ice_servers->pdata[i]));
  peer->sessions = g_hash_table_new (g_str_hash, g_str_equal);
  peer->nonce = icecam_random_hex (16);
  return peer;
}

void
registry_peer_free (Peer *peer)
{
  g_hash_table_unref (peer->sessions);
  g_ptr_array_unref (peer->ice_servers);
  g_free (peer->nonce);
  g_free (peer->resume);
  g_clear_pointer (&peer->held_byes, g_ptr_array_unref);
  g_strfreev (peer->granted);
  g_free (peer->name);
  g_free (peer->label);
  g_free (peer->address);
  g_free (peer->node);
  icecam_message_free (peer->claiming);
  g_free (peer->region);
  g_free (peer);
}

static const gchar *
peer_state_to_string (PeerState state)
{
  switch (state) {
  case PEER_STATE_CONNECTED:
    return "connected";
  case PEER_STATE_READY:
    return "ready";
  case PEER_STATE_CLOSING:
    return "closing";
  case PEER_STATE_DETACHED:
    return "detached";
  default:
    return "invalid";
  }
}

void
registry_peer_set_state (Peer *peer, PeerState state)
{
  /* Peers only move forward: connected → ready → closing or detached, or straight to
   * closing. */
  g_return_if_fail (state > peer->state);

  g_debug ("%s: %s → %s", peer->label, peer_state_to_string (peer->state),
           peer_state_to_string (state));
  peer->state = state;
}

void
registry_peer_set_identity (Peer *peer, IcecamRole role, gchar *name)
{
  peer->role = role;
  g_free (peer->name);
  peer->name = name;
  g_free (peer->label);
  peer->label = g_strdup_printf ("%s '%s' (peer %" G_GUINT64_FORMAT ")",
                                 icecam_role_to_string (role), name, peer->id);
}

static void
session_free (Session *session)
{
  g_free (session->relay_url);
  g_free (session->id);
  g_free (session);
}

Peer *
registry_session_other_end (Session *session, Peer *peer)
{
  return session->camera == peer ? session->viewer : session->camera;
}

/* @id: the id another cluster node gave it, or NULL for a new random one. */
Session *
registry_session_create (IcecamRegistry *self, Peer *camera, Peer *viewer, const gchar *id)
{
  Session *session = g_new0 (Session, 1);

  /* Random so that a client cannot guess another client's sessions. */
  if (id != NULL)
    session->id = g_strdup (id);
  while (session->id == NULL || g_hash_table_contains (self->sessions, session->id)) {
    g_free (session->id);
    session->id = icecam_random_hex (8);
  }
  session->camera = camera;
  session->viewer = viewer;
  g_hash_table_insert (self->sessions, session->id, session);
  g_hash_table_insert (camera->sessions, session->id, session);
  g_hash_table_insert (viewer->sessions, session->id, session);
  registry_relay_session_added (self, session, g_get_monotonic_time ());
  return session;
}

void
registry_session_destroy (IcecamRegistry *self, Session *session)
{
  Peer *camera = session->camera;
  Peer *viewer = session->viewer;

  g_info ("session %s between %s and %s is over", session->id, session->camera->label,
          session->viewer->label);
  registry_relay_session_removed (self, session);
  g_hash_table_remove (session->camera->sessions, session->id);
  g_hash_table_remove (session->viewer->sessions, session->id);
  g_hash_table_remove (self->sessions, session->id);
  registry_proxy_release (self, camera);
  registry_proxy_release (self, viewer);
}

/* Ends every session of @peer; the other ends get `bye` with @code (a detached one when it is
 * back), or nothing if @tell_online is FALSE and they are connected. */
void
registry_sessions_end (IcecamRegistry *self, Peer *peer, IcecamByeCode code,
                       const gchar *reason, gboolean tell_online)
{
  GList *sessions = g_hash_table_get_values (peer->sessions);

  for (GList *l = sessions; l != NULL; l = l->next) {
    Session *session = l->data;
    Peer *other = registry_session_other_end (session, peer);

    if (tell_online || other->state == PEER_STATE_DETACHED)
      registry_queue_send (self, other, icecam_message_new_bye (session->id, code, reason));
    registry_session_destroy (self, session);
  }
  g_list_free (sessions);
}

/* ---- the outbox ------------------------------------------------------------------------- */

static void
outgoing_free (Outgoing *out)
{
  icecam_message_free (out->msg);
  g_free (out->close_reason);
  g_free (out->route_node);
  g_free (out->moved_here);
  g_free (out);
}

/* Keeps a `bye` (@msg, taken) for a detached peer, one per session; drops anything else. */
static void
peer_hold_bye (Peer *peer, IcecamMessage *msg)
{
  if (msg->type != ICECAM_MESSAGE_BYE) {
    g_debug ("%s: detached, dropping '%s'", peer->label,
             icecam_message_type_to_string (msg->type));
    icecam_message_free (msg);
    return;
  }
  if (peer->held_byes == NULL)
    peer->held_byes = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_message_free);
  for (guint i = 0; i < peer->held_byes->len; i++) {
    IcecamMessage *held = g_ptr_array_index (peer->held_byes, i);

    if (g_str_equal (held->session, msg->session)) {
      g_ptr_array_remove_index (peer->held_byes, i);
      break;
    }
  }
  g_ptr_array_add (peer->held_byes, msg);
}

void
registry_queue_send (IcecamRegistry *self, Peer *peer, IcecamMessage *msg)
{
  Outgoing *out;

  if (peer->state == PEER_STATE_DETACHED) {
    peer_hold_bye (peer, msg);
    return;
  }
  if (peer->node != NULL) {
    registry_queue_route (self, peer, msg);
    return;
  }
  out = g_new0 (Outgoing, 1);
  out->peer_id = peer->id;
  out->msg = msg;
  g_queue_push_tail (&self->outbox, out);
}

void
registry_queue_close (IcecamRegistry *self, Peer *peer, const gchar *reason)
{
  Outgoing *out = g_new0 (Outgoing, 1);

  g_info ("%s: closing: %s", peer->label, reason);
  registry_peer_set_state (peer, PEER_STATE_CLOSING);
  out->peer_id = peer->id;
  out->close_reason = g_strdup (reason);
  g_queue_push_tail (&self->outbox, out);
}

void
registry_queue_replaced (IcecamRegistry *self, Peer *peer)
{
  Outgoing *out = g_new0 (Outgoing, 1);

  g_info ("%s: closing: its client took its place on a new connection", peer->label);
  registry_peer_set_state (peer, PEER_STATE_CLOSING);
  out->peer_id = peer->id;
  out->replaced = TRUE;
  g_queue_push_tail (&self->outbox, out);
}

void
registry_queue_error (IcecamRegistry *self, Peer *peer, IcecamErrorCode code,
                      const gchar *session, const gchar *format, ...)
{
  g_autofree gchar *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  /* The protocol caps error texts; cut at a character boundary, never inside one. */
  if (strlen (text) > ICECAM_PROTOCOL_MAX_TEXT_LENGTH)
    *g_utf8_find_prev_char (text, text + ICECAM_PROTOCOL_MAX_TEXT_LENGTH + 1) = '\0';

  g_debug ("%s: error %s: %s", peer->label, icecam_error_code_to_string (code), text);
  self->errors_sent++;
  registry_queue_send (self, peer, icecam_message_new_error (code, session, text));
}

/* Emits what the last operation produced. Handlers may re-enter the registry: whatever they
 * cause is appended to the same queue and emitted in order by the innermost flush. */
void
registry_flush_outbox (IcecamRegistry *self)
{
  g_autoptr (IcecamRegistry) hold = g_object_ref (self);
  Outgoing *out;

  while ((out = g_queue_pop_head (&self->outbox)) != NULL) {
    if (out->moved_here != NULL)
      g_signal_emit (self, signals[SIGNAL_MOVED_HERE], 0, out->moved_here);
    else if (out->route_node != NULL)
      g_signal_emit (self, signals[SIGNAL_ROUTE], 0, out->route_node, out->msg);
    else if (out->msg != NULL)
      g_signal_emit (self, signals[SIGNAL_SEND], 0, out->peer_id, out->msg);
    else if (out->replaced)
      g_signal_emit (self, signals[SIGNAL_REPLACED], 0, out->peer_id);
    else
      g_signal_emit (self, signals[SIGNAL_CLOSE], 0, out->peer_id, out->close_reason);
    outgoing_free (out);
  }
}

/* ---- sessions --------------------------------------------------------------------------- */

/* Relay credentials of this session and role: the only way a client gets any. */
IcecamMessage *
registry_session_message (IcecamRegistry *self, Session *session, IcecamRole role)
{
  IcecamMessage *msg = icecam_message_new_session (session->id, session->camera->name,
                                                   role == ICECAM_ROLE_CAMERA
                                                     ? session->viewer->name : NULL,
                                                   role);

  /* A stand-in's own node mints its client's credentials. */
  if (self->turn_urls != NULL &&
      (role == ICECAM_ROLE_CAMERA ? session->camera : session->viewer)->node == NULL) {
    msg->ice_servers = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
    g_ptr_array_add (msg->ice_servers, registry_relay_mint (self, session, role));
  }
  return msg;
}

static void
handle_watch (IcecamRegistry *self, Peer *viewer, const IcecamMessage *watch)
{
  Peer *camera = g_hash_table_lookup (self->cameras, watch->camera);
  const gchar *node = g_hash_table_lookup (self->remote_cameras, watch->camera);
  Session *session;

  if (viewer->role != ICECAM_ROLE_VIEWER) {
    registry_queue_error (self, viewer, ICECAM_ERROR_CODE_NOT_ALLOWED, NULL,
                          "a camera may not send 'watch'");
    return;
  }
  /* Checked before whether the camera is online, so a token cannot probe for cameras. */
  if (self->token_key != NULL &&
      (viewer->grant_expiry <= g_get_real_time () / G_USEC_PER_SEC ||
       !icecam_token_grants ((const gchar * const *) viewer->granted, watch->camera))) {
    icecam_ops_log_event (self->ops_log, ICECAM_OPS_LOG_VIEWER_REFUSED,
                          "viewer '%s' (%s) may not watch '%s': %s", viewer->name,
                          viewer->address, watch->camera,
                          viewer->grant_expiry <= g_get_real_time () / G_USEC_PER_SEC
                            ? "its token expired" : "its token does not grant it");
    registry_queue_error (self, viewer, ICECAM_ERROR_CODE_UNAUTHORIZED, NULL,
                          viewer->grant_expiry <= g_get_real_time () / G_USEC_PER_SEC
                   ? "your token expired" : "your token does not grant camera '%s'",
                          watch->camera);
    return;
  }
  if (camera == NULL && node != NULL)
    camera = registry_proxy_lookup (self, node, ICECAM_ROLE_CAMERA, watch->camera, TRUE);
  if (camera == NULL) {
    registry_queue_error (self, viewer, ICECAM_ERROR_CODE_UNKNOWN_CAMERA, NULL,
                          "camera '%s' is not online", watch->camera);
    return;
  }
  if (g_hash_table_size (viewer->sessions) >= self->max_sessions_per_viewer) {
    icecam_ops_log_event (self->ops_log, ICECAM_OPS_LOG_SESSION_LIMIT,
                          "viewer '%s' (%s) may not watch '%s': %u sessions open, the limit "
                          "(--max-sessions-per-viewer)", viewer->name, viewer->address,
                          watch->camera, g_hash_table_size (viewer->sessions));
    registry_queue_error (self, viewer, ICECAM_ERROR_CODE_LIMIT_EXCEEDED, NULL,
                          "viewer '%s' has %u sessions open, the limit is %u", viewer->name,
                          g_hash_table_size (viewer->sessions), self->max_sessions_per_viewer);
    return;
  }
  if (g_hash_table_size (camera->sessions) >= self->max_sessions_per_camera) {
    icecam_ops_log_event (self->ops_log, ICECAM_OPS_LOG_SESSION_LIMIT,
                          "viewer '%s' (%s) may not watch '%s': the camera has %u sessions "
                          "open, the limit (--max-sessions-per-camera)", viewer->name,
                          viewer->address, watch->camera, g_hash_table_size (camera->sessions));
    registry_queue_error (self, viewer, ICECAM_ERROR_CODE_LIMIT_EXCEEDED, NULL,
                          "camera '%s' has %u sessions open, the limit is %u", watch->camera,
                          g_hash_table_size (camera->sessions), self->max_sessions_per_camera);
    return;
  }

  session = registry_session_create (self, camera, viewer, NULL);
  g_info ("session %s: %s watches %s", session->id, viewer->label, camera->label);
  registry_queue_send (self, camera, registry_session_message (self, session, ICECAM_ROLE_CAMERA));
  registry_queue_send (self, viewer, registry_session_message (self, session, ICECAM_ROLE_VIEWER));
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static void
dispatch (IcecamRegistry *self, Peer *peer, const IcecamMessage *msg)
{
  const gchar *type = icecam_message_type_to_string (msg->type);

  if (self->debug)
    g_debug ("%s: received '%s'", peer->label, type);
  if (msg->type == ICECAM_MESSAGE_HELLO) {
    registry_handle_hello (self, peer, msg);
    return;
  }
  /* Liveness, in any state: a client may check its connection before its welcome. */
  if (msg->type == ICECAM_MESSAGE_PING) {
    registry_queue_send (self, peer, icecam_message_new_pong ());
    return;
  }
  if (msg->type == ICECAM_MESSAGE_PONG)
    return;
  if (peer->state != PEER_STATE_READY) {
    registry_queue_error (self, peer, ICECAM_ERROR_CODE_NOT_READY, msg->session,
                          "send 'hello' first, not '%s'", type);
    return;
  }

  switch (msg->type) {
  case ICECAM_MESSAGE_WATCH:
    handle_watch (self, peer, msg);
    break;
  case ICECAM_MESSAGE_OFFER:
    registry_forward (self, peer, msg, ICECAM_ROLE_CAMERA);
    break;
  case ICECAM_MESSAGE_ANSWER:
    registry_forward (self, peer, msg, ICECAM_ROLE_VIEWER);
    break;
  case ICECAM_MESSAGE_CANDIDATE:
  case ICECAM_MESSAGE_END_OF_CANDIDATES:
  case ICECAM_MESSAGE_BYE:
    registry_forward (self, peer, msg, ICECAM_ROLE_NONE);
    break;
  case ICECAM_MESSAGE_RESTART:
    registry_handle_restart (self, peer, msg);
    break;
  case ICECAM_MESSAGE_PUNCH:
    registry_handle_punch (self, peer, msg);
    break;
  case ICECAM_MESSAGE_DTLS:
    registry_handle_dtls (self, peer, msg);
    break;
  case ICECAM_MESSAGE_ERROR:
    /* Answering would risk an error loop; the log is where it can help. */
    g_info ("%s: reports error %s: %s", peer->label,
            icecam_error_code_to_string (msg->error_code), msg->text);
    break;
  case ICECAM_MESSAGE_WELCOME:
  case ICECAM_MESSAGE_PRESENCE:
  case ICECAM_MESSAGE_SESSION:
  case ICECAM_MESSAGE_ICE_SERVERS:
  default:
    registry_queue_error (self, peer, ICECAM_ERROR_CODE_NOT_ALLOWED, msg->session,
                          "'%s' is sent by the server, not by clients", type);
    break;
  }
}

static void
handle_parse_error (IcecamRegistry *self, Peer *peer, const GError *error)
{
  IcecamErrorCode code = icecam_error_code_from_protocol_error (error);

  registry_queue_error (self, peer, code, NULL, "%s", error->message);
  /* A client that speaks another version cannot understand anything else we would say. */
  if (code == ICECAM_ERROR_CODE_VERSION && peer->state == PEER_STATE_CONNECTED)
    registry_queue_close (self, peer, "unsupported protocol version");
}

/* ---- public API ------------------------------------------------------------------------- */

/**
 * icecam_registry_new:
 *
 * Returns: (transfer full): a registry with no peers, no ICE servers to advertise and
 *   %ICECAM_REGISTRY_DEFAULT_MAX_SESSIONS_PER_VIEWER
 */
IcecamRegistry *
icecam_registry_new (void)
{
  return g_object_new (ICECAM_TYPE_REGISTRY, NULL);
}

/**
 * icecam_registry_set_ice_servers:
 * @self: a registry
 * @ice_servers: (nullable) (element-type IcecamIceServer): servers every `welcome` lists after
 *   the peer's own; copied
 *
 * Sets the STUN/TURN servers advertised to clients that say hello from now on.
 */
void
icecam_registry_set_ice_servers (IcecamRegistry *self, GPtrArray *ice_servers)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));

  g_ptr_array_set_size (self->ice_servers, 0);
  for (guint i = 0; ice_servers != NULL && i < ice_servers->len; i++)
    g_ptr_array_add (self->ice_servers, icecam_ice_server_copy (ice_servers->pdata[i]));
}

/**
 * icecam_registry_set_max_sessions_per_viewer:
 * @self: a registry
 * @max_sessions: how many sessions one viewer may have open; a `watch` beyond that is
 *   answered with `limit-exceeded`
 */
void
icecam_registry_set_max_sessions_per_viewer (IcecamRegistry *self, guint max_sessions)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));

  self->max_sessions_per_viewer = max_sessions;
}

/**
 * icecam_registry_set_max_sessions_per_camera:
 * @self: a registry
 * @max_sessions: how many sessions one camera may have open; a `watch` of a camera at its
 *   limit is answered with `limit-exceeded` and the camera hears nothing of it
 */
void
icecam_registry_set_max_sessions_per_camera (IcecamRegistry *self, guint max_sessions)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));

  self->max_sessions_per_camera = max_sessions;
}

/**
 * icecam_registry_add_peer:
 * @self: a registry
 * @peer_id: an id for the new connection, not used by any peer currently added
 * @remote_address: the peer's address as "ip:port", told to it in `welcome`
 * @peer_ice_servers: (nullable) (element-type IcecamIceServer): servers to list first in this
 *   peer's `welcome`, e.g. the STUN responder at the address this peer connected to; copied
 *
 * Starts tracking a new connection. Nothing is sent until it says hello.
 */
void
icecam_registry_add_peer (IcecamRegistry *self, guint64 peer_id, const gchar *remote_address,
                          GPtrArray *peer_ice_servers)
{
  Peer *peer;

  g_return_if_fail (ICECAM_IS_REGISTRY (self));
  g_return_if_fail (remote_address != NULL);
  g_return_if_fail (!g_hash_table_contains (self->peers, &peer_id));

  registry_expire_detached (self, g_get_monotonic_time ());
  peer = registry_peer_new (peer_id, remote_address, peer_ice_servers);
  g_hash_table_insert (self->peers, &peer->id, peer);
  g_debug ("%s: connected from %s", peer->label, remote_address);
  registry_queue_send (self, peer, icecam_message_new_challenge (peer->nonce));
  registry_flush_outbox (self);
}

static void registry_remove_peer (IcecamRegistry *self, guint64 peer_id, gboolean keep);

/**
 * icecam_registry_remove_peer:
 * @self: a registry
 * @peer_id: a peer's id; unknown ids are ignored
 *
 * Forgets a connection that is gone. The other end of each of its sessions gets a `bye` with
 * code and reason "peer-left"; if it was a camera, viewers get a new `presence`. With a resume
 * grace (icecam_registry_set_resume_grace()) its sessions stay for that long, for its client
 * to take back on a new connection.
 */
void
icecam_registry_remove_peer (IcecamRegistry *self, guint64 peer_id)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));

  registry_remove_peer (self, peer_id, TRUE);
}

/**
 * icecam_registry_evict_peer:
 * @self: a registry
 * @peer_id: a peer's id; unknown ids are ignored
 *
 * As icecam_registry_remove_peer(), for a connection closed for abuse (over the message
 * rate): its sessions end at once, whatever the resume grace, so that coming back with its
 * resume secret does not undo the penalty.
 */
void
icecam_registry_evict_peer (IcecamRegistry *self, guint64 peer_id)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));

  registry_remove_peer (self, peer_id, FALSE);
}

static void
registry_remove_peer (IcecamRegistry *self, guint64 peer_id, gboolean keep)
{
  gboolean camera_left = FALSE;
  Peer *peer;

  registry_expire_detached (self, g_get_monotonic_time ());
  peer = g_hash_table_lookup (self->peers, &peer_id);
  if (peer == NULL)
    return;
  g_hash_table_steal (self->peers, &peer_id);

  /* A replaced connection no longer holds its name. */
  if (peer->name != NULL && peer->role == ICECAM_ROLE_CAMERA &&
      g_hash_table_lookup (self->cameras, peer->name) == peer) {
    icecam_ops_log_event (self->ops_log, ICECAM_OPS_LOG_CAMERA_OFFLINE,
                          "camera '%s' offline (was at %s)", peer->name, peer->address);
    g_hash_table_remove (self->cameras, peer->name);
    registry_cameras_changed (self);
    camera_left = TRUE;
  } else if (peer->name != NULL && peer->role == ICECAM_ROLE_VIEWER &&
             g_hash_table_lookup (self->viewers, peer->name) == peer) {
    g_hash_table_remove (self->viewers, peer->name);
  }

  if (keep && peer->state == PEER_STATE_READY && self->resume_grace_s > 0 &&
      g_hash_table_size (peer->sessions) > 0) {
    registry_peer_detach (self, peer);
  } else {
    g_info ("%s: gone", peer->label);
    registry_sessions_end (self, peer, ICECAM_BYE_CODE_PEER_LEFT, ICECAM_BYE_REASON_PEER_LEFT,
                           TRUE);
    registry_peer_free (peer);
  }
  if (camera_left)
    registry_queue_presence_to_viewers (self);
  registry_flush_outbox (self);
}

/**
 * icecam_registry_handle_text:
 * @self: a registry
 * @peer_id: the id of the peer that sent the frame
 * @text: (array length=length): the frame's payload, untrusted; need not be NUL-terminated
 * @length: its length in bytes
 *
 * Parses one message from a peer and acts on it: answers, relays it, or answers an `error`
 * whose code and text say what was wrong (and, for a protocol version mismatch or a camera id
 * already online, asks for the connection to be closed). Frames from a peer being closed are
 * dropped.
 */
void
icecam_registry_handle_text (IcecamRegistry *self, guint64 peer_id, const gchar *text,
                             gsize length)
{
  g_autoptr (IcecamMessage) msg = NULL;
  g_autoptr (GError) error = NULL;
  Peer *peer;

  g_return_if_fail (ICECAM_IS_REGISTRY (self));
  g_return_if_fail (text != NULL || length == 0);

  registry_expire_detached (self, g_get_monotonic_time ());
  peer = g_hash_table_lookup (self->peers, &peer_id);
  g_return_if_fail (peer != NULL);
  if (peer->state == PEER_STATE_CLOSING) {
    g_debug ("%s: dropping a message received while closing", peer->label);
    return;
  }

  msg = icecam_message_parse (text, length, &error);
  if (msg == NULL)
    handle_parse_error (self, peer, error);
  else
    dispatch (self, peer, msg);
  registry_flush_outbox (self);
}

/**
 * icecam_registry_send_error:
 * @self: a registry
 * @peer_id: the peer to tell
 * @code: the error code
 * @session: (nullable): the session the error is about
 * @text: what was wrong; cut to %ICECAM_PROTOCOL_MAX_TEXT_LENGTH bytes
 *
 * Sends an `error` that the transport detected itself (e.g. a binary frame), counted like the
 * registry's own.
 */
void
icecam_registry_send_error (IcecamRegistry *self, guint64 peer_id, IcecamErrorCode code,
                            const gchar *session, const gchar *text)
{
  Peer *peer;

  g_return_if_fail (ICECAM_IS_REGISTRY (self));
  g_return_if_fail (text != NULL);

  peer = g_hash_table_lookup (self->peers, &peer_id);
  if (peer == NULL || peer->state == PEER_STATE_CLOSING)
    return;
  registry_queue_error (self, peer, code, session, "%s", text);
  registry_flush_outbox (self);
}

/**
 * icecam_registry_get_stats:
 * @self: a registry
 * @stats: (out caller-allocates): filled with the current counters
 */
void
icecam_registry_get_stats (IcecamRegistry *self, IcecamRegistryStats *stats)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));
  g_return_if_fail (stats != NULL);

  registry_expire_detached (self, g_get_monotonic_time ());
  stats->peers = g_hash_table_size (self->peers);
  stats->cameras = g_hash_table_size (self->cameras);
  stats->viewers = g_hash_table_size (self->viewers);
  stats->sessions = g_hash_table_size (self->sessions);
  stats->messages_relayed = self->messages_relayed;
  stats->errors_sent = self->errors_sent;
  stats->detached = g_queue_get_length (&self->detached);
  stats->resumed = self->resumed;
  stats->relay_credentials_camera = self->relay_issued_camera;
  stats->relay_credentials_viewer = self->relay_issued_viewer;
}

/**
 * icecam_registry_expire:
 * @self: a registry
 * @now_us: the time, as g_get_monotonic_time() tells it
 *
 * Forgets the clients whose connection went more than the resume grace before @now_us, and
 * their sessions (the registry also does this by itself whenever it is called), and sends the
 * relay credential renewals due by @now_us (only here: call it every second or so when relays
 * are configured, as #IcecamRendezvous does).
 */
void
icecam_registry_expire (IcecamRegistry *self, gint64 now_us)
{
  g_return_if_fail (ICECAM_IS_REGISTRY (self));

  registry_expire_detached (self, now_us);
  registry_relay_renew (self, now_us);
  registry_flush_outbox (self);
}

/* ---- GObject ---------------------------------------------------------------------------- */

static void
icecam_registry_finalize (GObject *object)
{
  IcecamRegistry *self = ICECAM_REGISTRY (object);

  g_queue_clear_full (&self->outbox, (GDestroyNotify) outgoing_free);
  g_object_unref (self->ops_log);
  /* Sessions reference peers: drop them first. */
  g_hash_table_unref (self->sessions);
  g_hash_table_unref (self->detached_cameras);
  g_hash_table_unref (self->detached_viewers);
  g_queue_clear_full (&self->detached, (GDestroyNotify) registry_peer_free);
  registry_cluster_clear (self);
  g_hash_table_unref (self->relay_down);
  g_hash_table_unref (self->relay_assigned);
  g_hash_table_unref (self->relay_regions);
  g_hash_table_unref (self->relay_remote);
  g_hash_table_unref (self->cameras);
  g_strfreev (self->online);
  g_hash_table_unref (self->viewers);
  g_hash_table_unref (self->peers);
  g_ptr_array_unref (self->ice_servers);
  registry_relay_clear (self);
  g_strfreev (self->turn_urls);
  g_free (self->turn_secret);
  g_clear_pointer (&self->camera_secrets, g_hash_table_unref);
  g_free (self->token_key);

  G_OBJECT_CLASS (icecam_registry_parent_class)->finalize (object);
}

/* "send" is emitted once per message relayed: its own marshallers instead of the generic
 * one, which goes through GValues and libffi. VOID:UINT64,BOXED, the message in static scope
 * (never copied). */
typedef void (*SendHandler) (gpointer instance, guint64 peer_id, gpointer message,
                             gpointer data);

static void
marshal_send (GClosure *closure, GValue *return_value, guint n_param_values,
              const GValue *param_values, gpointer invocation_hint, gpointer marshal_data)
{
  GCClosure *cc = (GCClosure *) closure;
  gpointer instance = g_value_peek_pointer (&param_values[0]);
  SendHandler handler = (SendHandler) (marshal_data != NULL ? marshal_data : cc->callback);

  g_return_if_fail (n_param_values == 3);
  if (G_CCLOSURE_SWAP_DATA (closure))
    handler (closure->data, g_value_get_uint64 (&param_values[1]),
             g_value_get_boxed (&param_values[2]), instance);
  else
    handler (instance, g_value_get_uint64 (&param_values[1]),
             g_value_get_boxed (&param_values[2]), closure->data);
}

static void
marshal_send_va (GClosure *closure, GValue *return_value, gpointer instance, va_list args,
                 gpointer marshal_data, int n_params, GType *param_types)
{
  GCClosure *cc = (GCClosure *) closure;
  SendHandler handler = (SendHandler) (marshal_data != NULL ? marshal_data : cc->callback);
  guint64 peer_id;
  gpointer message;
  va_list copy;

  G_VA_COPY (copy, args);
  peer_id = va_arg (copy, guint64);
  message = va_arg (copy, gpointer);
  va_end (copy);
  if (G_CCLOSURE_SWAP_DATA (closure))
    handler (closure->data, peer_id, message, instance);
  else
    handler (instance, peer_id, message, closure->data);
}

static void
icecam_registry_class_init (IcecamRegistryClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = icecam_registry_finalize;

  /**
   * IcecamRegistry::send:
   * @registry: the registry
   * @peer_id: the peer to send to
   * @message: the message; valid only during the emission, copy it to keep it
   *
   * Asks the caller to send @message to a peer. Emitted synchronously, see the threading
   * note of #IcecamRegistry.
   */
  signals[SIGNAL_SEND] =
    g_signal_new ("send", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  marshal_send, G_TYPE_NONE, 2, G_TYPE_UINT64,
                  ICECAM_TYPE_MESSAGE | G_SIGNAL_TYPE_STATIC_SCOPE);
  g_signal_set_va_marshaller (signals[SIGNAL_SEND], G_TYPE_FROM_CLASS (klass), marshal_send_va);

  /**
   * IcecamRegistry::close:
   * @registry: the registry
   * @peer_id: the peer whose connection to close
   * @reason: why, for the WebSocket close frame and logs
   *
   * Asks the caller to close a peer's connection, after sending what was queued for it. The
   * caller still calls icecam_registry_remove_peer() once the connection is gone.
   */
  signals[SIGNAL_CLOSE] =
    g_signal_new ("close", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_UINT64, G_TYPE_STRING);

  /**
   * IcecamRegistry::replaced:
   * @registry: the registry
   * @peer_id: the peer whose connection to close
   *
   * Asks the caller to close a peer's connection because its client took its place on a new
   * connection (with %ICECAM_PROTOCOL_CLOSE_REPLACED): the registry no longer counts it as that
   * client. The caller still calls icecam_registry_remove_peer() once the connection is gone.
   */
  /**
   * IcecamRegistry::route:
   * @registry: the registry
   * @node: the cluster node holding the client the message is for
   * @message: the message; valid only during the emission
   *
   * Asks the cluster (#IcecamCluster) to deliver @message to the other end of its session,
   * a client of @node, which passes it to icecam_registry_remote_message() there.
   */
  signals[SIGNAL_ROUTE] =
    g_signal_new ("route", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 2, G_TYPE_STRING,
                  ICECAM_TYPE_MESSAGE | G_SIGNAL_TYPE_STATIC_SCOPE);

  signals[SIGNAL_REPLACED] =
    g_signal_new ("replaced", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_UINT64);

  /**
   * IcecamRegistry::moved-here:
   * @registry: the registry
   * @camera_id: a camera that just came online here
   *
   * The camera was last listed by another cluster node (it failed over, or moved): the other
   * nodes still route its viewers there until they hear this node lists it. Tells the cluster
   * (#IcecamCluster) to say so now rather than at its next heartbeat.
   */
  signals[SIGNAL_MOVED_HERE] =
    g_signal_new ("moved-here", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
icecam_registry_init (IcecamRegistry *self)
{
  self->debug = !g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN);
  self->peers = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                       (GDestroyNotify) registry_peer_free);
  self->cameras = g_hash_table_new (g_str_hash, g_str_equal);
  self->viewers = g_hash_table_new (g_str_hash, g_str_equal);
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                          (GDestroyNotify) session_free);
  self->detached_cameras = g_hash_table_new (g_str_hash, g_str_equal);
  self->detached_viewers = g_hash_table_new (g_str_hash, g_str_equal);
  g_queue_init (&self->detached);
  self->resume_grace_s = ICECAM_REGISTRY_DEFAULT_RESUME_GRACE_S;
  self->ops_log = icecam_ops_log_new ();
  self->ice_servers = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  self->max_sessions_per_viewer = ICECAM_REGISTRY_DEFAULT_MAX_SESSIONS_PER_VIEWER;
  self->max_sessions_per_camera = ICECAM_REGISTRY_DEFAULT_MAX_SESSIONS_PER_CAMERA;
  g_queue_init (&self->outbox);
  self->remote_cameras = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->proxies = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) registry_peer_free);
  self->next_proxy_id = G_MAXUINT64;
  self->relay_down = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->relay_assigned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->relay_regions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->relay_remote = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                              (GDestroyNotify) g_hash_table_unref);
}

/**
 * icecam_registry_get_ops_log:
 * @self: a registry
 *
 * Returns: (transfer none): the operator's log it writes cameras coming and going and the
 *   clients it refuses to; its owner writes its own refusals there too
 */
IcecamOpsLog *
icecam_registry_get_ops_log (IcecamRegistry *self)
{
  g_return_val_if_fail (ICECAM_IS_REGISTRY (self), NULL);
  return self->ops_log;
}
