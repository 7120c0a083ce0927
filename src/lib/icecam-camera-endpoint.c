/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The camera side of icecam: one signalling client, one peer session per viewer, one fan-out. */

#include "icecam-camera-endpoint-private.h"

#include "icecam-srtp.h"
#include "icecam-predicted-candidate.h"

#define DEFAULT_MAX_VIEWERS 16
/* A viewer asks for a restart until an offer reaches it, so a `restart` this soon after the
 * camera's latest offer crossed that offer on the way (a round trip through the rendezvous).
 * One that comes later means the offer was lost: sent to a connection of the viewer's that had
 * died (its router rebooted) before it took its place back. */
#define RESTART_MIN_INTERVAL_US (1 * G_TIME_SPAN_SECOND)
/* A restart asked of a session that works, from the camera's side, this soon after the
 * latest offer is ignored: every restart gathers again (a TURN allocation each, where relays
 * are configured), so a viewer that asks all the time gets one every 5 s at most. */
#define RESTART_CONNECTED_MIN_INTERVAL_US (5 * G_TIME_SPAN_SECOND)

/* The camera's session policy: a transport (first or restarted) without a pair after 30 s is
 * given up, so is a path that three restarts in a row could not bring back, or one that is
 * still dead a minute later (signalling may be down meanwhile: the restart waits for it). A
 * viewer that sends receiver reports (two a second) and then nothing for 1.5 s has lost its
 * path back, long before consent freshness (~10 s) would say so. */
static const IcecamPeerPolicy camera_policy = {
  .connect_timeout_s = 30,
  .max_restarts = 3,
  .recovery_timeout_s = 60,
  .media_timeout_ms = 1500,
};
/* A camera pings its rendezvous when a viewer falls silent: no pong within this long and the
 * connection is replaced (with its sessions) at once. */
#define SIGNALLING_CHECK_TIMEOUT_S 2

G_DEFINE_TYPE (IcecamCameraEndpoint, icecam_camera_endpoint, G_TYPE_OBJECT)

/* Until icecam_camera_endpoint_set_bitrate_limits(). */
#define DEFAULT_MIN_BITRATE_KBPS 150
#define DEFAULT_MAX_BITRATE_KBPS 1500

guint icecam_camera_endpoint_signals[N_SIGNALS];

static void session_close_cb (GObject *source, GAsyncResult *result, gpointer user_data);

void
icecam_session_stats_free (IcecamSessionStats *stats)
{
  if (stats == NULL)
    return;
  g_free (stats->session);
  g_free (stats->viewer);
  icecam_pair_info_free (stats->pair);
  g_free (stats);
}

static void
viewer_session_free (ViewerSession *vs)
{
  g_free (vs->id);
  g_free (vs->viewer);
  g_clear_object (&vs->peer);
  icecam_retransmitter_free (vs->rtx);
  icecam_punch_session_free (vs->punch);
  g_free (vs);
}

static void
use_punched_path_cb (IcecamPunch *punch, gpointer user_data)
{
  ViewerSession *vs = user_data;

  icecam_peer_session_use_punched_path (vs->peer, punch);
}

static void
send_punch_cb (IcecamMessage *msg, gpointer user_data)
{
  ViewerSession *vs = user_data;

  icecam_signalling_client_send (vs->endpoint->client, msg);
  icecam_message_free (msg);
}

static void
set_active (IcecamCameraEndpoint *self, ViewerSession *vs, gboolean active)
{
  gboolean from_keyframe;

  if (active == vs->active)
    return;
  vs->active = active;
  if (!active) {
    IcecamViewerRate rate;

    icecam_fanout_remove (self->fanout, vs->peer);
    if (icecam_bitrate_controller_get_viewer (self->controller, vs, &rate))
      vs->resume_kbps = rate.estimate_kbps;
    icecam_bitrate_controller_remove_viewer (self->controller, vs);
    vs->reduced = FALSE;
    return;
  }
  /* Back after an ICE restart: where its estimate was, not where a new viewer starts (a
   * viewer too slow for the stream was given it all again at each restart). */
  icecam_bitrate_controller_add_viewer_at (self->controller, vs, vs->resume_kbps);
  g_mutex_lock (&self->lock);
  from_keyframe = self->start_on_keyframe;
  g_mutex_unlock (&self->lock);
  icecam_fanout_add (self->fanout, vs->peer, from_keyframe);
  /* A joining viewer can decode nothing before a keyframe: ask for one now. */
  if (active)
    icecam_camera_endpoint_request_keyframe (self, FALSE);
}

static void
remove_session (IcecamCameraEndpoint *self, const gchar *id, IcecamByeCode code,
                const gchar *reason, gboolean send_bye)
{
  ViewerSession *vs;
  g_autofree gchar *session_id = g_strdup (id);

  g_mutex_lock (&self->lock);
  vs = g_hash_table_lookup (self->sessions, id);
  if (vs == NULL) {
    g_mutex_unlock (&self->lock);
    return;
  }
  g_hash_table_steal (self->sessions, id);
  g_mutex_unlock (&self->lock);
  if (vs->active)
    icecam_fanout_remove (self->fanout, vs->peer);
  icecam_bitrate_controller_remove_viewer (self->controller, vs);

  g_info ("camera %s: session %s with %s ended: %s", self->camera_id, id, vs->viewer, reason);
  if (send_bye) {
    g_autoptr (IcecamMessage) bye = icecam_message_new_bye (id, code, reason);

    icecam_signalling_client_send (self->client, bye);
  }
  g_signal_handlers_disconnect_by_data (vs->peer, vs);
  icecam_peer_session_set_receive_func (vs->peer, NULL, NULL, NULL);
  self->pending_closes++;
  icecam_peer_session_close_async (vs->peer, session_close_cb, g_object_ref (self));
  viewer_session_free (vs);
  g_signal_emit (self, icecam_camera_endpoint_signals[SIGNAL_SESSION_ENDED], 0, session_id, reason);
}

/* What a failed session's bye tells the viewer's code. */
static IcecamByeCode
bye_code_for (const GError *error)
{
  if (g_error_matches (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_FINGERPRINT) ||
      g_error_matches (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_DESCRIPTION))
    return ICECAM_BYE_CODE_REFUSED;
  if (g_error_matches (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_CLOSED))
    return ICECAM_BYE_CODE_CLOSED;
  return ICECAM_BYE_CODE_FAILED;
}

static void
on_peer_signalled_dtls (IcecamPeerSession *peer, GBytes *datagram, ViewerSession *vs)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (datagram, &length);
  g_autoptr (IcecamMessage) msg = icecam_message_new_dtls (vs->id, data, length);

  icecam_signalling_client_send (vs->endpoint->client, msg);
}

static void
on_peer_local_candidate (IcecamPeerSession *peer, const gchar *candidate, ViewerSession *vs)
{
  g_autoptr (IcecamMessage) msg = icecam_message_new_candidate (vs->id, candidate);
  gboolean relay_only = vs->endpoint->user_config->policy == ICECAM_ICE_POLICY_RELAY;
  g_autofree gchar *predicted = relay_only ? NULL :
    icecam_predicted_candidate_from_host (candidate, vs->endpoint->public_ipv4);

  icecam_signalling_client_send (vs->endpoint->client, msg);
  /* The srflx candidate, round trips before the TURN allocation confirms it; never with the
   * relay policy, which reveals no address of the camera's. */
  if (predicted != NULL) {
    g_autoptr (IcecamMessage) guess = icecam_message_new_candidate (vs->id, predicted);

    icecam_signalling_client_send (vs->endpoint->client, guess);
  }
}

static void
on_peer_gathering_done (IcecamPeerSession *peer, ViewerSession *vs)
{
  g_autoptr (IcecamMessage) msg = icecam_message_new_end_of_candidates (vs->id);

  icecam_signalling_client_send (vs->endpoint->client, msg);
}

static void
on_peer_pair_selected (IcecamPeerSession *peer, IcecamPairInfo *info, ViewerSession *vs)
{
  g_signal_emit (vs->endpoint, icecam_camera_endpoint_signals[SIGNAL_PAIR_SELECTED], 0, vs->id,
                 info);
}

static void
on_peer_state_changed (IcecamPeerSession *peer, guint state, ViewerSession *vs)
{
  IcecamCameraEndpoint *self = vs->endpoint;
  const GError *error = icecam_peer_session_get_error (peer);
  g_autofree gchar *reason = NULL;

  switch (state) {
    case ICECAM_PEER_STATE_CONNECTED:
      g_info ("camera %s: session %s: media to %s flows", self->camera_id, vs->id, vs->viewer);
      set_active (self, vs, TRUE);
      if (vs->punch != NULL) {
        icecam_punch_session_set_transport (vs->punch,
                                            icecam_peer_session_get_transport_number (peer));
        icecam_punch_session_start_if_relayed (vs->punch,
                                               icecam_peer_session_get_pair_info (peer));
      }
      break;
    case ICECAM_PEER_STATE_FAILED:
      reason = g_strdup (error != NULL ? error->message : "the session failed");
      remove_session (self, vs->id, bye_code_for (error), reason,
                      !g_error_matches (error, ICECAM_PEER_SESSION_ERROR,
                                        ICECAM_PEER_SESSION_ERROR_CLOSED));
      break;
    default:
      set_active (self, vs, FALSE);
      break;
  }
}

/* A viewer that reported regularly fell silent: its path (or ours) probably died with a NAT
 * that forgot its mappings. Restart ICE now rather than after consent freshness. */
static void
on_peer_media_stalled (IcecamPeerSession *peer, ViewerSession *vs)
{
  if (!vs->reports)
    return; /* a viewer that never reports is silent by nature */
  g_message ("camera %s: session %s: %s went silent, restarting ICE", vs->endpoint->camera_id,
             vs->id, vs->viewer);
  /* If our own network changed, the rendezvous connection may be as dead as the path: the
   * offer waits for the new connection, which takes the old one's place and sessions. */
  icecam_signalling_client_check (vs->endpoint->client);
  icecam_peer_session_restart (peer, NULL);
}

/* The viewer's media stopped and it asks for a new path (`restart`). */
static void
on_restart_request (IcecamCameraEndpoint *self, ViewerSession *vs)
{
  IcecamPeerState state = icecam_peer_session_get_state (vs->peer);
  gint64 since = g_get_monotonic_time () - vs->last_offer;

  if (since < (state == ICECAM_PEER_STATE_CONNECTED ? RESTART_CONNECTED_MIN_INTERVAL_US
                                                    : RESTART_MIN_INTERVAL_US)) {
    g_debug ("camera %s: session %s: restart asked %" G_GINT64_FORMAT " ms after the latest "
             "offer, ignored", self->camera_id, vs->id, since / 1000);
    return;
  }
  g_message ("camera %s: session %s: %s asks for an ICE restart", self->camera_id, vs->id,
             vs->viewer);
  icecam_peer_session_restart (vs->peer, NULL);
}

/* Back at the rendezvous in the place of the old connection, with our sessions: an offer
 * sent while the old one was dead never arrived. */
static void
resend_lost_offers (IcecamCameraEndpoint *self)
{
  g_autoptr (GPtrArray) pending = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  ViewerSession *vs;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &vs)) {
    IcecamPeerState state = icecam_peer_session_get_state (vs->peer);

    if (!vs->offer_due && (state == ICECAM_PEER_STATE_RESTARTING ||
                           state == ICECAM_PEER_STATE_CONNECTING))
      g_ptr_array_add (pending, g_strdup (vs->id));
  }
  for (guint i = 0; i < pending->len; i++) {
    vs = g_hash_table_lookup (self->sessions, g_ptr_array_index (pending, i));
    if (vs != NULL)
      icecam_peer_session_restart (vs->peer, NULL);
  }
}

/* Sends the offer @vs is due, if the media is known and the rendezvous reachable; otherwise
 * it stays due and goes out when they are. */
static void
send_offer (IcecamCameraEndpoint *self, ViewerSession *vs)
{
  g_autoptr (IcecamSdp) media = NULL;
  g_autoptr (IcecamMessage) offer = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *id = g_strdup (vs->id);

  if (!vs->offer_due ||
      icecam_signalling_client_get_state (self->client) != ICECAM_SIGNALLING_STATE_READY)
    return;
  g_mutex_lock (&self->lock);
  if (self->media != NULL && !g_atomic_int_get (&self->profile_pending) &&
      !g_atomic_int_get (&self->audio_pending)) {
    media = icecam_sdp_new ();
    for (guint i = 0; i < self->media->media->len; i++)
      icecam_sdp_add_media (media, icecam_sdp_media_copy (g_ptr_array_index (self->media->media, i)));
    if (self->audio != NULL)
      icecam_sdp_add_media (media, icecam_sdp_media_copy (self->audio));
  }
  g_mutex_unlock (&self->lock);
  if (media == NULL)
    return;

  text = icecam_peer_session_create_offer (vs->peer, media, &error);
  if (text == NULL) {
    remove_session (self, id, ICECAM_BYE_CODE_FAILED, error->message, TRUE);
    return;
  }
  vs->offer_due = FALSE;
  vs->last_offer = g_get_monotonic_time ();
  offer = icecam_message_new_offer (vs->id, text);
  icecam_signalling_client_send (self->client, offer);
  /* Candidates trickle after the offer, so the viewer always has the credentials first. A
   * failure fails the session, which removes it. */
  icecam_peer_session_gather (vs->peer, NULL);
}

static void
on_peer_negotiation_needed (IcecamPeerSession *peer, ViewerSession *vs)
{
  vs->offer_due = TRUE;
  g_signal_emit (vs->endpoint, icecam_camera_endpoint_signals[SIGNAL_SESSION_RESTARTED], 0, vs->id);
  send_offer (vs->endpoint, vs);
}

static void
send_due_offers (IcecamCameraEndpoint *self)
{
  g_autoptr (GPtrArray) due = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  ViewerSession *vs;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &vs)) {
    if (vs->offer_due)
      g_ptr_array_add (due, g_strdup (vs->id));
  }
  g_mutex_unlock (&self->lock);

  /* Sending may end a session: look each up again. */
  for (guint i = 0; i < due->len; i++) {
    vs = g_hash_table_lookup (self->sessions, g_ptr_array_index (due, i));
    if (vs != NULL)
      send_offer (self, vs);
  }
}

gboolean
icecam_camera_endpoint_send_due_offers_cb (gpointer data)
{
  send_due_offers (data);
  return G_SOURCE_REMOVE;
}

static void
start_session (IcecamCameraEndpoint *self, const IcecamMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamIceConfig) config = NULL;
  const IcecamMessage *welcome;
  ViewerSession *vs;

  if (g_hash_table_size (self->sessions) >= self->max_viewers) {
    g_autoptr (IcecamMessage) bye = icecam_message_new_bye (msg->session, ICECAM_BYE_CODE_FULL,
                                                             "camera is full");

    g_message ("camera %s: refusing %s: already %u viewer%s, the most it serves",
               self->camera_id, msg->peer, self->max_viewers, self->max_viewers == 1 ? "" : "s");
    icecam_signalling_client_send (self->client, bye);
    return;
  }
  if (g_hash_table_contains (self->sessions, msg->session))
    return;
  config = icecam_ice_config_for_session (self->user_config, msg->ice_servers,
                                          self->welcome_servers,
                                          icecam_signalling_client_server_is_loopback (
                                            self->client));
  vs = g_new0 (ViewerSession, 1);
  vs->rtx = icecam_retransmitter_new ();
  vs->endpoint = self;
  vs->id = g_strdup (msg->session);
  vs->viewer = g_strdup (msg->peer ? msg->peer : "viewer");
  vs->peer = icecam_peer_session_new (vs->id, ICECAM_PEER_ROLE_OFFERER, self->certificate,
                                      config, &error);
  if (vs->peer == NULL) {
    g_autoptr (IcecamMessage) bye = icecam_message_new_bye (msg->session, ICECAM_BYE_CODE_FAILED,
                                                             error->message);

    g_warning ("camera %s: cannot start a session: %s", self->camera_id, error->message);
    icecam_signalling_client_send (self->client, bye);
    viewer_session_free (vs);
    return;
  }
  icecam_peer_session_set_policy (vs->peer, &camera_policy);
  icecam_peer_session_set_capture_clock (vs->peer, self->capture_clock);
  vs->punch = icecam_punch_session_new_for_config (
    "icecam-camera", vs->id, config, icecam_signalling_client_get_welcome (self->client),
    send_punch_cb, vs);
  if (vs->punch != NULL)
    icecam_punch_session_set_path_func (vs->punch, use_punched_path_cb);
  /* The DTLS handshake beside ICE, through the rendezvous, when it relays `dtls`. */
  welcome = icecam_signalling_client_get_welcome (self->client);
  icecam_peer_session_set_signalled_dtls (
    vs->peer, welcome != NULL && (welcome->features & ICECAM_FEATURE_DTLS));
  g_signal_connect (vs->peer, "local-candidate", G_CALLBACK (on_peer_local_candidate), vs);
  g_signal_connect (vs->peer, "signalled-dtls", G_CALLBACK (on_peer_signalled_dtls), vs);
  g_signal_connect (vs->peer, "gathering-done", G_CALLBACK (on_peer_gathering_done), vs);
  g_signal_connect (vs->peer, "pair-selected", G_CALLBACK (on_peer_pair_selected), vs);
  g_signal_connect (vs->peer, "state-changed", G_CALLBACK (on_peer_state_changed), vs);
  g_signal_connect (vs->peer, "negotiation-needed", G_CALLBACK (on_peer_negotiation_needed), vs);
  g_signal_connect (vs->peer, "media-stalled", G_CALLBACK (on_peer_media_stalled), vs);
  icecam_peer_session_set_receive_func (vs->peer, icecam_camera_endpoint_on_peer_receive, vs, NULL);
  vs->offer_due = TRUE;

  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->sessions, vs->id, vs);
  g_mutex_unlock (&self->lock);

  g_info ("camera %s: session %s for %s", self->camera_id, vs->id, vs->viewer);
  g_signal_emit (self, icecam_camera_endpoint_signals[SIGNAL_SESSION_STARTED], 0, vs->id,
                 vs->viewer);
  send_offer (self, vs);
}

static void
on_welcome (IcecamCameraEndpoint *self, const IcecamMessage *msg)
{
  g_ptr_array_set_size (self->welcome_servers, 0);
  for (guint i = 0; msg->ice_servers != NULL && i < msg->ice_servers->len; i++)
    g_ptr_array_add (self->welcome_servers,
                     icecam_ice_server_copy (g_ptr_array_index (msg->ice_servers, i)));
  g_info ("camera %s: registered with the rendezvous (seen at %s)%s", self->camera_id,
          msg->address, msg->resumed ? ", sessions kept" : "");
  g_free (self->public_ipv4);
  self->public_ipv4 = icecam_predicted_public_ipv4 (msg->address);
  if (msg->resumed)
    resend_lost_offers (self);
  /* Restarts that waited for the rendezvous go out now. */
  send_due_offers (self);
}

static void
on_bye (IcecamCameraEndpoint *self, ViewerSession *vs, const IcecamMessage *msg)
{
  /* The viewer lost its signalling, not necessarily its path: consent freshness ends the
   * session within ~10 s if the viewer is really gone. */
  if (vs != NULL && vs->active && msg->bye_code == ICECAM_BYE_CODE_PEER_LEFT) {
    g_info ("camera %s: session %s: viewer left the rendezvous, media continues",
            self->camera_id, vs->id);
    return;
  }
  remove_session (self, msg->session, ICECAM_BYE_CODE_NONE,
                  msg->reason ? msg->reason : "viewer left", FALSE);
}

static void
on_error (IcecamCameraEndpoint *self, const IcecamMessage *msg)
{
  /* A message about a session the rendezvous already closed (a trickled candidate racing
   * the viewer's bye) is routine, not a warning. */
  if (msg->error_code == ICECAM_ERROR_CODE_UNKNOWN_SESSION)
    g_debug ("camera %s: rendezvous says %s: %s", self->camera_id,
             icecam_error_code_to_string (msg->error_code), msg->text);
  else
    g_warning ("camera %s: rendezvous says %s: %s", self->camera_id,
               icecam_error_code_to_string (msg->error_code), msg->text);
  if (msg->session != NULL)
    remove_session (self, msg->session, ICECAM_BYE_CODE_NONE,
                    msg->error_code == ICECAM_ERROR_CODE_UNKNOWN_SESSION
                      ? "the viewer is gone (the rendezvous no longer knows the session)"
                      : msg->text,
                    FALSE);
}

/* Fresh relay credentials, for the session's next transport: a restart after the first
 * credentials expired still gets a relay (coturn checks them on Allocate). */
static void
renew_ice_servers (IcecamCameraEndpoint *self, ViewerSession *vs, const IcecamMessage *msg)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_for_session (
    self->user_config, msg->ice_servers, self->welcome_servers,
    icecam_signalling_client_server_is_loopback (self->client));

  g_debug ("camera %s: session %s: fresh relay credentials", self->camera_id, vs->id);
  icecam_peer_session_set_ice_config (vs->peer, config);
}

static void
on_client_message (IcecamSignallingClient *client, IcecamMessage *msg,
                   IcecamCameraEndpoint *self)
{
  ViewerSession *vs = msg->session ? g_hash_table_lookup (self->sessions, msg->session) : NULL;
  g_autoptr (GError) error = NULL;

  switch (msg->type) {
    case ICECAM_MESSAGE_WELCOME:
      on_welcome (self, msg);
      break;
    case ICECAM_MESSAGE_SESSION:
      start_session (self, msg);
      break;
    case ICECAM_MESSAGE_ANSWER:
      /* An unusable answer fails the session, which removes it with a bye. */
      if (vs != NULL)
        icecam_peer_session_apply_remote_description (vs->peer, msg->sdp, NULL, NULL);
      break;
    case ICECAM_MESSAGE_CANDIDATE:
      if (vs != NULL && !icecam_peer_session_add_remote_candidate (vs->peer, msg->candidate,
                                                                   &error))
        g_debug ("camera %s: session %s: %s", self->camera_id, vs->id, error->message);
      break;
    case ICECAM_MESSAGE_END_OF_CANDIDATES:
      if (vs != NULL)
        icecam_peer_session_set_remote_gathering_done (vs->peer);
      break;
    case ICECAM_MESSAGE_DTLS:
      if (vs != NULL) {
        gsize length = 0;
        g_autofree guint8 *datagram = g_base64_decode (msg->data, &length);

        icecam_peer_session_receive_signalled_dtls (vs->peer, datagram, length);
      }
      break;
    case ICECAM_MESSAGE_BYE:
      on_bye (self, vs, msg);
      break;
    case ICECAM_MESSAGE_RESTART:
      if (vs != NULL)
        on_restart_request (self, vs);
      break;
    case ICECAM_MESSAGE_ICE_SERVERS:
      if (vs != NULL)
        renew_ice_servers (self, vs, msg);
      break;
    case ICECAM_MESSAGE_PUNCH:
      if (vs != NULL && vs->punch != NULL) {
        icecam_punch_session_set_transport (vs->punch,
                                            icecam_peer_session_get_transport_number (vs->peer));
        icecam_punch_session_handle (vs->punch, msg);
      }
      break;
    case ICECAM_MESSAGE_ERROR:
      on_error (self, msg);
      break;
    case ICECAM_MESSAGE_PRESENCE:
    default:
      break;
  }
}

static void
on_client_state_changed (IcecamSignallingClient *client, guint state,
                         IcecamCameraEndpoint *self)
{
  g_signal_emit (self, icecam_camera_endpoint_signals[SIGNAL_SIGNALLING_STATE_CHANGED], 0, state);
}

/**
 * icecam_camera_endpoint_new:
 * @server_url: the rendezvous, "ws://HOST:PORT"
 * @camera_id: the id viewers ask for
 * @config: ICE settings chosen by the user; the rendezvous's servers are added to them
 *
 * Returns: (transfer full) (nullable): the endpoint, or %NULL with @error set
 */
IcecamCameraEndpoint *
icecam_camera_endpoint_new (const gchar *server_url, const gchar *camera_id,
                            const IcecamIceConfig *config, GError **error)
{
  IcecamSignallingClient *client;
  IcecamCameraEndpoint *self;

  g_return_val_if_fail (config != NULL, NULL);

  if (!icecam_protocol_id_is_valid (camera_id)) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                 "camera id '%s' must be 1..%d characters of A-Z a-z 0-9 . _ -",
                 camera_id ? camera_id : "", ICECAM_PROTOCOL_MAX_ID_LENGTH);
    return NULL;
  }
  client = icecam_signalling_client_new (server_url, ICECAM_ROLE_CAMERA, camera_id, error);
  if (client == NULL)
    return NULL;
  icecam_srtp_prepare (); /* in a thread, done before the first session needs it */
  self = g_object_new (ICECAM_TYPE_CAMERA_ENDPOINT, NULL);
  self->camera_id = g_strdup (camera_id);
  self->user_config = icecam_ice_config_copy (config);
  self->client = client;
  if (config->punch != 0 || config->punch_tcp)
    icecam_signalling_client_add_features (client, ICECAM_FEATURE_PUNCH);
  icecam_signalling_client_add_features (client, ICECAM_FEATURE_DTLS);
  /* A camera waits for its rendezvous, however long it takes. */
  icecam_signalling_client_set_reconnect (client, TRUE);
  icecam_signalling_client_set_keepalive (client, ICECAM_SIGNALLING_DEFAULT_KEEPALIVE_INTERVAL_S,
                                          SIGNALLING_CHECK_TIMEOUT_S);
  g_signal_connect (client, "message", G_CALLBACK (on_client_message), self);
  g_signal_connect (client, "state-changed", G_CALLBACK (on_client_state_changed), self);
  return self;
}

/**
 * icecam_camera_endpoint_set_secret:
 * @secret: (nullable): the camera's provisioned secret, proved to a rendezvous that requires
 *   one (leading and trailing white space is ignored)
 *
 * Call before icecam_camera_endpoint_start().
 */
void
icecam_camera_endpoint_set_secret (IcecamCameraEndpoint *self, const gchar *secret)
{
  g_autofree gchar *stripped = g_strstrip (g_strdup (secret != NULL ? secret : ""));

  icecam_signalling_client_set_credentials (self->client, *stripped ? stripped : NULL, NULL);
}

/**
 * icecam_camera_endpoint_set_region:
 * @region: (nullable): a region hint for the rendezvous's relay policy; %NULL or "": none
 * @error: what is wrong with @region
 *
 * Call before icecam_camera_endpoint_start().
 *
 * Returns: %TRUE if @region is usable
 */
gboolean
icecam_camera_endpoint_set_region (IcecamCameraEndpoint *self, const gchar *region, GError **error)
{
  return icecam_signalling_client_set_region (self->client, region, error);
}

/**
 * icecam_camera_endpoint_set_tls:
 * @ca_file: (nullable): PEM file of the authorities a wss:// rendezvous is checked against;
 *   %NULL: the system's trust store
 * @accept_invalid: accept any certificate (tests only)
 * @error: why @ca_file cannot be used
 *
 * Call before icecam_camera_endpoint_start().
 *
 * Returns: %FALSE with @error set if @ca_file cannot be loaded
 */
gboolean
icecam_camera_endpoint_set_tls (IcecamCameraEndpoint *self, const gchar *ca_file,
                                gboolean accept_invalid, GError **error)
{
  return icecam_signalling_client_set_tls (self->client, ca_file, accept_invalid, error);
}

/**
 * icecam_camera_endpoint_get_signalling_state:
 *
 * Returns: the state of the connection to the rendezvous
 */
IcecamSignallingState
icecam_camera_endpoint_get_signalling_state (IcecamCameraEndpoint *self)
{
  return icecam_signalling_client_get_state (self->client);
}

/**
 * icecam_camera_endpoint_get_signalling_error:
 *
 * Returns: (transfer none) (nullable): why the rendezvous connection is RETRYING or CLOSED
 */
const GError *
icecam_camera_endpoint_get_signalling_error (IcecamCameraEndpoint *self)
{
  return icecam_signalling_client_get_error (self->client);
}

/**
 * icecam_camera_endpoint_get_client:
 *
 * Returns: (transfer none): the signalling client, to watch its "state-changed"
 */
IcecamSignallingClient *
icecam_camera_endpoint_get_client (IcecamCameraEndpoint *self)
{
  return self->client;
}

void
icecam_camera_endpoint_set_max_viewers (IcecamCameraEndpoint *self, guint max_viewers)
{
  self->max_viewers = max_viewers;
}

/**
 * icecam_camera_endpoint_set_certificate:
 * @certificate: the camera's DTLS identity, e.g. from icecam_certificate_load_or_create()
 *
 * Its fingerprint goes in every offer, so viewers can pin it. Without one the endpoint
 * makes an ephemeral certificate when it starts. Call before icecam_camera_endpoint_start().
 */
void
icecam_camera_endpoint_set_certificate (IcecamCameraEndpoint *self,
                                        IcecamCertificate *certificate)
{
  g_return_if_fail (ICECAM_IS_CERTIFICATE (certificate));

  g_set_object (&self->certificate, certificate);
}

/**
 * icecam_camera_endpoint_get_certificate:
 *
 * Returns: (transfer none) (nullable): the camera's DTLS identity
 */
IcecamCertificate *
icecam_camera_endpoint_get_certificate (IcecamCameraEndpoint *self)
{
  return self->certificate;
}

/**
 * icecam_camera_endpoint_start:
 * @error: an %ICECAM_CERTIFICATE_ERROR
 *
 * Registers with the rendezvous.
 *
 * Returns: %FALSE if no certificate was set and none could be made
 */
gboolean
icecam_camera_endpoint_start (IcecamCameraEndpoint *self, GError **error)
{
  if (self->certificate == NULL) {
    self->certificate = icecam_certificate_new_ephemeral (error);
    if (self->certificate == NULL)
      return FALSE;
  }
  icecam_signalling_client_start (self->client);
  return TRUE;
}

guint
icecam_camera_endpoint_get_n_viewers (IcecamCameraEndpoint *self)
{
  return icecam_fanout_get_n_peers (self->fanout);
}

static void
maybe_finish_close (IcecamCameraEndpoint *self)
{
  GTask *task;

  if (self->pending_closes > 0 || self->close_task == NULL)
    return;
  task = g_steal_pointer (&self->close_task);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
session_close_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  IcecamCameraEndpoint *self = user_data;

  self->pending_closes--;
  maybe_finish_close (self);
  g_object_unref (self);
}

/**
 * icecam_camera_endpoint_close_async:
 *
 * Says bye to every viewer, closes every ICE session (releasing TURN allocations) and the
 * signalling connection. @callback runs once libnice has closed every agent.
 */
void
icecam_camera_endpoint_close_async (IcecamCameraEndpoint *self, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  g_autoptr (GList) ids = NULL;

  g_return_if_fail (self->close_task == NULL);

  self->close_task = g_task_new (self, NULL, callback, user_data);
  ids = g_hash_table_get_keys (self->sessions);
  for (GList *l = ids; l != NULL; l = l->next) {
    g_autofree gchar *id = g_strdup (l->data);

    remove_session (self, id, ICECAM_BYE_CODE_CLOSED, "camera stopped", TRUE);
  }
  icecam_camera_endpoint_cancel_keyframe_request (self);
  icecam_signalling_client_stop (self->client);
  maybe_finish_close (self);
}

gboolean
icecam_camera_endpoint_close_finish (IcecamCameraEndpoint *self, GAsyncResult *result,
                                     GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
icecam_camera_endpoint_dispose (GObject *object)
{
  IcecamCameraEndpoint *self = ICECAM_CAMERA_ENDPOINT (object);

  GHashTableIter iter;
  ViewerSession *vs;

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  icecam_camera_endpoint_cancel_keyframe_request (self);
  /* Not closed first: the peer sessions close their transports as they go. */
  icecam_fanout_clear (self->fanout);
  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &vs)) {
    g_signal_handlers_disconnect_by_data (vs->peer, vs);
    icecam_peer_session_set_receive_func (vs->peer, NULL, NULL, NULL);
    g_hash_table_iter_steal (&iter);
    viewer_session_free (vs);
  }
  g_mutex_unlock (&self->lock);
  G_OBJECT_CLASS (icecam_camera_endpoint_parent_class)->dispose (object);
}

static void
icecam_camera_endpoint_finalize (GObject *object)
{
  IcecamCameraEndpoint *self = ICECAM_CAMERA_ENDPOINT (object);

  g_hash_table_unref (self->sessions);
  icecam_fanout_free (self->fanout);
  icecam_rtp_history_free (self->history);
  icecam_bitrate_controller_free (self->controller);
  icecam_rtp_clock_unref (self->capture_clock);
  icecam_sdp_free (self->media);
  icecam_sdp_media_free (self->audio);
  g_free (self->cname);
  g_clear_object (&self->certificate);
  icecam_ice_config_free (self->user_config);
  g_ptr_array_unref (self->welcome_servers);
  g_free (self->public_ipv4);
  g_free (self->camera_id);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (icecam_camera_endpoint_parent_class)->finalize (object);
}

static void
icecam_camera_endpoint_class_init (IcecamCameraEndpointClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_camera_endpoint_dispose;
  object_class->finalize = icecam_camera_endpoint_finalize;

  /**
   * IcecamCameraEndpoint::session-started:
   * @session: the session id
   * @viewer: the viewer's id
   */
  icecam_camera_endpoint_signals[SIGNAL_SESSION_STARTED] =
    g_signal_new ("session-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * IcecamCameraEndpoint::pair-selected:
   * @session: the session id
   * @info: the selected #IcecamPairInfo
   */
  icecam_camera_endpoint_signals[SIGNAL_PAIR_SELECTED] =
    g_signal_new ("pair-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, ICECAM_TYPE_PAIR_INFO);
  /**
   * IcecamCameraEndpoint::session-ended:
   * @session: the session id
   * @reason: why
   */
  icecam_camera_endpoint_signals[SIGNAL_SESSION_ENDED] =
    g_signal_new ("session-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * IcecamCameraEndpoint::session-restarted:
   * @session: the session id
   *
   * The session's path died; a new ICE negotiation (new credentials, new candidates) runs
   * within the same session.
   */
  icecam_camera_endpoint_signals[SIGNAL_SESSION_RESTARTED] =
    g_signal_new ("session-restarted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * IcecamCameraEndpoint::keyframe-requested:
   *
   * A viewer joined or asked for a keyframe; merged so that at most one is emitted per
   * 200 ms, and none is lost.
   */
  icecam_camera_endpoint_signals[SIGNAL_KEYFRAME_REQUESTED] =
    g_signal_new ("keyframe-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 0);
  /**
   * IcecamCameraEndpoint::signalling-state-changed:
   * @state: the #IcecamSignallingState of the rendezvous connection
   *
   * icecam_camera_endpoint_get_signalling_error() says why it is RETRYING or CLOSED.
   */
  /**
   * IcecamCameraEndpoint::gop-cache-start:
   * @session_id: the viewer's session
   * @n_packets: the cached packets it is sent first
   * @span_ms: the video they hold
   */
  icecam_camera_endpoint_signals[SIGNAL_GOP_CACHE_START] =
    g_signal_new ("gop-cache-start", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_UINT, G_TYPE_UINT);
  icecam_camera_endpoint_signals[SIGNAL_SIGNALLING_STATE_CHANGED] =
    g_signal_new ("signalling-state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
icecam_camera_endpoint_init (IcecamCameraEndpoint *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->sessions = g_hash_table_new (g_str_hash, g_str_equal);
  self->fanout = icecam_fanout_new ();
  self->history = icecam_rtp_history_new ();
  self->controller = icecam_bitrate_controller_new (DEFAULT_MIN_BITRATE_KBPS,
                                                    DEFAULT_MAX_BITRATE_KBPS);
  self->rtx_ssrc = g_random_int () | 1;
  self->welcome_servers = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  self->max_viewers = DEFAULT_MAX_VIEWERS;
  self->last_keyframe_request = G_MININT64 / 2;
  self->cname = g_strdup_printf ("%08x%08x", g_random_int (), g_random_int ());
  self->capture_clock = icecam_rtp_clock_new ();
}
