/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The viewer side of icecam: watch one camera, answer its offer, receive its RTP over ICE. */

#include "icecam-viewer-endpoint-private.h"

#include <string.h>

#include "icecam-srtp.h"

/* The viewer's session policy: no deadline of its own for the first pair (ICE's failure
 * decides); after its path died, 30 s for the camera's ICE restart; a camera whose packets
 * (30 a second, at least one a second) stop for 1.5 s is a path that may have died. */
static const IcecamPeerPolicy viewer_policy = {
  .connect_timeout_s = 0,
  .max_restarts = 0,
  .recovery_timeout_s = 30,
  .media_timeout_ms = 1500,
};

/* A receiver report this often tells the camera the path back works and what it lost (the
 * camera's congestion control reacts within a report or two): 32 bytes (about 70 with SRTCP,
 * UDP and IP), 2.2 kbit/s, well within RFC 3550's 5 % of a video stream. */
#define RECEIVER_REPORT_INTERVAL_MS 250
/* When the media stops the viewer pings its rendezvous: no pong within this long and the
 * connection is replaced (with the session) at once. */
#define SIGNALLING_CHECK_TIMEOUT_S 2
/* While its media is stopped and no new offer came, the viewer asks the camera for an ICE
 * restart this often: a request sent while either end's rendezvous connection was dead is
 * lost, and the ends come back at different times. */
#define RESTART_REQUEST_INTERVAL_S 2

G_DEFINE_TYPE (IcecamViewerEndpoint, icecam_viewer_endpoint, G_TYPE_OBJECT)
G_DEFINE_QUARK (icecam-viewer-error-quark, icecam_viewer_error)

enum {
  SIGNAL_STATE_CHANGED,
  SIGNAL_MEDIA,
  SIGNAL_PAIR_SELECTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

const gchar *
icecam_viewer_state_to_string (IcecamViewerState state)
{
  static const gchar *names[] = { "idle", "connecting", "waiting", "checking", "playing",
                                  "closed" };

  return state < G_N_ELEMENTS (names) ? names[state] : "unknown";
}

static void
set_state (IcecamViewerEndpoint *self, IcecamViewerState state)
{
  if (self->state == state || self->state == ICECAM_VIEWER_STATE_CLOSED)
    return;
  if (state == ICECAM_VIEWER_STATE_PLAYING && self->report_source == NULL) {
    self->report_source = g_timeout_source_new (RECEIVER_REPORT_INTERVAL_MS);
    g_source_set_callback (self->report_source, icecam_viewer_endpoint_send_receiver_report,
                           self, NULL);
    g_source_attach (self->report_source, self->context);
    icecam_viewer_endpoint_send_receiver_report (self);
  } else if (state != ICECAM_VIEWER_STATE_PLAYING && self->report_source != NULL) {
    g_source_destroy (self->report_source);
    g_clear_pointer (&self->report_source, g_source_unref);
  }
  g_debug ("viewer %s: %s -> %s", self->camera_id, icecam_viewer_state_to_string (self->state),
           icecam_viewer_state_to_string (state));
  self->state = state;
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, (guint) state);
}

void
icecam_viewer_endpoint_stop_restart_requests (IcecamViewerEndpoint *self)
{
  if (self->restart_source == NULL)
    return;
  g_source_destroy (self->restart_source);
  g_clear_pointer (&self->restart_source, g_source_unref);
}

/* Takes the peer session out of the endpoint and closes it; @callback runs once its
 * transports are closed. */
static void
close_peer (IcecamViewerEndpoint *self, GAsyncReadyCallback callback, gpointer user_data)
{
  IcecamPeerSession *peer;

  g_mutex_lock (&self->lock);
  peer = g_steal_pointer (&self->peer);
  g_mutex_unlock (&self->lock);
  if (peer == NULL) {
    if (callback != NULL)
      callback (NULL, NULL, user_data);
    return;
  }
  g_signal_handlers_disconnect_by_data (peer, self);
  icecam_peer_session_set_receive_func (peer, NULL, NULL, NULL);
  icecam_peer_session_close_async (peer, callback, user_data);
  g_object_unref (peer);
}

/* Ends the endpoint with @error (taken) as the reason; says bye with @code unless NONE. */
static void
fail (IcecamViewerEndpoint *self, GError *error, IcecamByeCode code)
{
  if (self->state == ICECAM_VIEWER_STATE_CLOSED) {
    g_error_free (error);
    return;
  }
  g_message ("viewer %s: %s", self->camera_id, error->message);
  self->error = error;
  icecam_viewer_endpoint_stop_restart_requests (self);
  if (code != ICECAM_BYE_CODE_NONE && self->session_id != NULL) {
    g_autoptr (IcecamMessage) bye = icecam_message_new_bye (self->session_id, code,
                                                             error->message);

    icecam_signalling_client_send (self->client, bye);
  }
  close_peer (self, NULL, NULL);
  set_state (self, ICECAM_VIEWER_STATE_CLOSED);
}

static void
on_peer_local_candidate (IcecamPeerSession *peer, const gchar *candidate,
                         IcecamViewerEndpoint *self)
{
  g_autoptr (IcecamMessage) msg = icecam_message_new_candidate (self->session_id, candidate);

  icecam_signalling_client_send (self->client, msg);
}

static void
on_peer_signalled_dtls (IcecamPeerSession *peer, GBytes *datagram, IcecamViewerEndpoint *self)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (datagram, &length);
  g_autoptr (IcecamMessage) msg = icecam_message_new_dtls (self->session_id, data, length);

  icecam_signalling_client_send (self->client, msg);
}

static void
on_peer_gathering_done (IcecamPeerSession *peer, IcecamViewerEndpoint *self)
{
  g_autoptr (IcecamMessage) msg = icecam_message_new_end_of_candidates (self->session_id);

  icecam_signalling_client_send (self->client, msg);
}

static void
on_peer_pair_selected (IcecamPeerSession *peer, IcecamPairInfo *info, IcecamViewerEndpoint *self)
{
  g_signal_emit (self, signals[SIGNAL_PAIR_SELECTED], 0, info);
}

static gboolean
send_restart_request (gpointer data)
{
  IcecamViewerEndpoint *self = data;
  g_autoptr (IcecamMessage) restart = NULL;

  if (icecam_signalling_client_get_state (self->client) != ICECAM_SIGNALLING_STATE_READY)
    return G_SOURCE_CONTINUE; /* asked again once the connection is back */
  g_message ("viewer %s: asking the camera for an ICE restart", self->camera_id);
  restart = icecam_message_new_restart (self->session_id);
  icecam_signalling_client_send (self->client, restart);
  return G_SOURCE_CONTINUE;
}

/* The media stopped: find out whether our own rendezvous connection still works (a dead one
 * is replaced at once, keeping the session), and ask the camera for a new path until an
 * offer comes. */
static void
start_restart_requests (IcecamViewerEndpoint *self)
{
  if (self->restart_source != NULL)
    return;
  icecam_signalling_client_check (self->client);
  send_restart_request (self);
  self->restart_source = g_timeout_source_new_seconds (RESTART_REQUEST_INTERVAL_S);
  g_source_set_callback (self->restart_source, send_restart_request, self, NULL);
  g_source_attach (self->restart_source, self->context);
}

static void
on_peer_media_stalled (IcecamPeerSession *peer, IcecamViewerEndpoint *self)
{
  g_message ("viewer %s: no packets from the camera", self->camera_id);
  start_restart_requests (self);
}

/* The viewer's error for a failed session, and the bye that tells the camera. */
static GError *
viewer_error_for (IcecamViewerEndpoint *self, const GError *error, IcecamByeCode *code)
{
  const gchar *why = error != NULL ? error->message : "unknown error";

  *code = ICECAM_BYE_CODE_FAILED;
  if (error == NULL || error->domain != ICECAM_PEER_SESSION_ERROR)
    return g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ICE_FAILED, "camera '%s': %s",
                        self->camera_id, why);
  switch ((IcecamPeerSessionError) error->code) {
    case ICECAM_PEER_SESSION_ERROR_DESCRIPTION:
      *code = ICECAM_BYE_CODE_REFUSED;
      return g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_BAD_OFFER,
                          "unusable offer from camera '%s': %s", self->camera_id, why);
    case ICECAM_PEER_SESSION_ERROR_FINGERPRINT:
      *code = ICECAM_BYE_CODE_REFUSED;
      return g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_DTLS,
                          "camera '%s' is not the one expected: %s", self->camera_id, why);
    case ICECAM_PEER_SESSION_ERROR_DTLS:
      return g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_DTLS,
                          "secure connection to camera '%s' failed: %s", self->camera_id, why);
    case ICECAM_PEER_SESSION_ERROR_CLOSED:
      *code = ICECAM_BYE_CODE_NONE;
      return g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ENDED,
                          "camera '%s' ended the session (it closed DTLS)", self->camera_id);
    case ICECAM_PEER_SESSION_ERROR_ICE:
    case ICECAM_PEER_SESSION_ERROR_STATE:
    default:
      return g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ICE_FAILED,
                          "camera '%s': %s", self->camera_id, why);
  }
}

static void
on_peer_state_changed (IcecamPeerSession *peer, guint state, IcecamViewerEndpoint *self)
{
  IcecamByeCode code;
  GError *error;

  switch (state) {
    case ICECAM_PEER_STATE_CONNECTED:
      g_info ("viewer %s: DTLS-SRTP connected, camera proved %s", self->camera_id,
              icecam_peer_session_get_remote_fingerprint (peer));
      set_state (self, ICECAM_VIEWER_STATE_PLAYING);
      self->played = TRUE;
      if (self->punch != NULL) {
        icecam_punch_session_set_transport (self->punch,
                                            icecam_peer_session_get_transport_number (peer));
        icecam_punch_session_start_if_relayed (self->punch,
                                               icecam_peer_session_get_pair_info (peer));
      }
      /* From now on the rendezvous is not needed for the media; stay reachable through it. */
      icecam_signalling_client_set_reconnect (self->client, TRUE);
      break;
    case ICECAM_PEER_STATE_RESTARTING:
      /* The camera's offer of a new path (it saw ours die first): media again once it
       * connects ("connected" again: receiver reports and punching start anew). */
      if (self->taking_offer) {
        set_state (self, ICECAM_VIEWER_STATE_CHECKING);
        break;
      }
      /* A path that worked and died: the camera (controlling) restarts ICE with a new offer,
       * unless it has left the rendezvous too, i.e. it is gone. */
      if (self->camera_left) {
        fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ENDED,
                                 "camera '%s' is gone: it left the rendezvous and its path died",
                                 self->camera_id),
              ICECAM_BYE_CODE_NONE);
        break;
      }
      g_message ("viewer %s: the path died; waiting for the camera's ICE restart",
                 self->camera_id);
      set_state (self, ICECAM_VIEWER_STATE_CHECKING);
      start_restart_requests (self);
      break;
    case ICECAM_PEER_STATE_FAILED:
      error = viewer_error_for (self, icecam_peer_session_get_error (peer), &code);
      fail (self, error, code);
      break;
    default:
      break;
  }
}

static void
use_punched_path_cb (IcecamPunch *punch, gpointer user_data)
{
  IcecamViewerEndpoint *self = user_data;

  if (self->peer != NULL)
    icecam_peer_session_use_punched_path (self->peer, punch);
  else
    icecam_punch_free (punch);
}

static void
send_punch_cb (IcecamMessage *msg, gpointer user_data)
{
  IcecamViewerEndpoint *self = user_data;

  icecam_signalling_client_send (self->client, msg);
  icecam_message_free (msg);
}

/* The session exists at the rendezvous: make its peer session, so that candidates can
 * arrive even before the offer. */
static void
start_session (IcecamViewerEndpoint *self, const IcecamMessage *msg)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_for_session (
    self->user_config, msg->ice_servers, self->welcome ? self->welcome->ice_servers : NULL,
    icecam_signalling_client_server_is_loopback (self->client));
  g_autoptr (GError) error = NULL;
  IcecamPeerSession *peer;

  self->session_id = g_strdup (msg->session);
  peer = icecam_peer_session_new (msg->session, ICECAM_PEER_ROLE_ANSWERER, self->certificate,
                                  config, &error);
  if (peer == NULL || !icecam_peer_session_set_pinned_fingerprint (peer,
                                                                   self->pinned_fingerprint,
                                                                   &error)) {
    g_clear_object (&peer);
    fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ICE_FAILED, "%s",
                             error->message), ICECAM_BYE_CODE_FAILED);
    return;
  }
  icecam_peer_session_set_policy (peer, &viewer_policy);
  g_clear_pointer (&self->punch, icecam_punch_session_free);
  self->punch = icecam_punch_session_new_for_config ("icecam-view", msg->session, config,
                                                     self->welcome, send_punch_cb, self);
  if (self->punch != NULL)
    icecam_punch_session_set_path_func (self->punch, use_punched_path_cb);
  /* The DTLS handshake beside ICE, through the rendezvous, when it relays `dtls`. */
  icecam_peer_session_set_signalled_dtls (
    peer, self->welcome != NULL && (self->welcome->features & ICECAM_FEATURE_DTLS));
  g_signal_connect (peer, "local-candidate", G_CALLBACK (on_peer_local_candidate), self);
  g_signal_connect (peer, "signalled-dtls", G_CALLBACK (on_peer_signalled_dtls), self);
  g_signal_connect (peer, "gathering-done", G_CALLBACK (on_peer_gathering_done), self);
  g_signal_connect (peer, "pair-selected", G_CALLBACK (on_peer_pair_selected), self);
  g_signal_connect (peer, "state-changed", G_CALLBACK (on_peer_state_changed), self);
  g_signal_connect (peer, "media-stalled", G_CALLBACK (on_peer_media_stalled), self);
  icecam_peer_session_set_receive_func (peer, icecam_viewer_endpoint_on_peer_receive, self, NULL);
  g_mutex_lock (&self->lock);
  self->peer = peer;
  g_mutex_unlock (&self->lock);
}

/* "H264/90000" -> 90000; video's 90000 when the rtpmap is odd. */
static guint
clock_rate_of (const gchar *rtpmap)
{
  const gchar *slash = rtpmap != NULL ? strchr (rtpmap, '/') : NULL;
  guint64 rate = slash != NULL ? g_ascii_strtoull (slash + 1, NULL, 10) : 0;

  return rate >= 1000 && rate <= 1000000 ? (guint) rate : 90000;
}

static void
handle_offer (IcecamViewerEndpoint *self, const IcecamMessage *msg)
{
  g_autoptr (IcecamSdp) offer = icecam_sdp_parse (msg->sdp, NULL);
  const IcecamSdpMedia *video;
  g_autoptr (IcecamMessage) reply = NULL;
  g_autofree gchar *answer = NULL;
  gboolean restart = self->state == ICECAM_VIEWER_STATE_PLAYING ||
                     self->state == ICECAM_VIEWER_STATE_CHECKING;

  /* An unusable offer fails the session: the state-changed handler says why and ends. */
  self->taking_offer = TRUE;
  if (!icecam_peer_session_apply_remote_description (self->peer, msg->sdp, &answer, NULL)) {
    self->taking_offer = FALSE;
    return;
  }
  self->taking_offer = FALSE;
  if (answer == NULL)
    return; /* a repeat */
  self->camera_left = FALSE; /* it is in touch again */
  icecam_viewer_endpoint_stop_restart_requests (self); /* the restart is under way */
  if (restart)
    g_message ("viewer %s: the camera restarts ICE", self->camera_id);
  /* The caps must be known before the first packet is handed on: one "media" per section,
   * the first (video) first. */
  video = icecam_sdp_get_media (offer, 0);
  g_atomic_int_set (&self->video_pt, (gint) video->payload_type);
  g_atomic_int_set (&self->payload_type, (gint) video->payload_type);
  g_atomic_int_set (&self->rtx_payload_type, (gint) video->rtx_payload_type);
  self->clock_rate = clock_rate_of (video->rtpmap);
  for (guint i = 0; (video = icecam_sdp_get_media (offer, i)) != NULL; i++)
    g_signal_emit (self, signals[SIGNAL_MEDIA], 0, video->kind, video->payload_type,
                   video->rtpmap, video->fmtp);
  reply = icecam_message_new_answer (self->session_id, answer);
  icecam_signalling_client_send (self->client, reply);
  set_state (self, ICECAM_VIEWER_STATE_CHECKING);
  /* A failure fails the session, which ends the endpoint. */
  icecam_peer_session_gather (self->peer, NULL);
}

static void
on_welcome (IcecamViewerEndpoint *self, const IcecamMessage *msg)
{
  g_autoptr (IcecamMessage) watch = icecam_message_new_watch (self->camera_id);

  icecam_message_free (self->welcome);
  self->welcome = icecam_message_copy (msg);
  if (self->peer != NULL) {
    /* A new connection while a session runs: the server gave it back (resumed) or forgot it
     * (it restarted). Either way no second watch: media that flows goes on. */
    g_info ("viewer %s: back at the rendezvous, %s", self->camera_id,
            msg->resumed ? "session kept" : "the rendezvous no longer knows the session");
    if (msg->resumed && self->restart_source != NULL)
      send_restart_request (self); /* asked while away: lost */
    return;
  }
  self->watch_pending = FALSE;
  icecam_signalling_client_send (self->client, watch);
  set_state (self, ICECAM_VIEWER_STATE_WAITING);
}

/* The presence list came before the answer to watch (the rendezvous sends it on hello), and
 * names only the cameras this viewer's token allows. */
static GError *
unknown_camera_error (IcecamViewerEndpoint *self, const IcecamMessage *msg)
{
  g_autofree gchar *online = self->online != NULL && self->online[0] != NULL
                             ? g_strjoinv (", ", self->online) : NULL;

  return g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_UNKNOWN_CAMERA,
                      "rendezvous refused (%s): %s; %s%s",
                      icecam_error_code_to_string (msg->error_code), msg->text,
                      online != NULL ? "online: " : "no camera this viewer may see is online",
                      online != NULL ? online : "");
}

/* Watches the camera it waits for as soon as presence lists it. */
static void
handle_presence (IcecamViewerEndpoint *self, const IcecamMessage *msg)
{
  g_strfreev (self->online);
  self->online = g_strdupv (msg->cameras);
  if (self->watch_pending && self->online != NULL &&
      g_strv_contains ((const gchar * const *) self->online, self->camera_id)) {
    g_autoptr (IcecamMessage) watch = icecam_message_new_watch (self->camera_id);

    g_info ("viewer %s: online now, watching", self->camera_id);
    self->watch_pending = FALSE;
    icecam_signalling_client_send (self->client, watch);
  }
}

static void
handle_error (IcecamViewerEndpoint *self, const IcecamMessage *msg)
{
  IcecamViewerError code = ICECAM_VIEWER_ERROR_REFUSED;

  if (msg->error_code == ICECAM_ERROR_CODE_UNKNOWN_CAMERA && self->session_id == NULL) {
    if (self->wait) {
      g_info ("viewer %s: not online yet, waiting for it", self->camera_id);
      self->watch_pending = TRUE;
      return;
    }
    fail (self, unknown_camera_error (self, msg), ICECAM_BYE_CODE_NONE);
    return;
  }
  if (msg->error_code == ICECAM_ERROR_CODE_UNKNOWN_CAMERA)
    code = ICECAM_VIEWER_ERROR_UNKNOWN_CAMERA;
  /* Errors about one of our messages (a restart a camera does not understand, say) are
   * fatal only before media has flowed. */
  if (self->played && code == ICECAM_VIEWER_ERROR_REFUSED) {
    g_warning ("viewer %s: rendezvous says %s: %s", self->camera_id,
               icecam_error_code_to_string (msg->error_code), msg->text);
    return;
  }
  fail (self, g_error_new (ICECAM_VIEWER_ERROR, code, "rendezvous refused (%s): %s",
                           icecam_error_code_to_string (msg->error_code), msg->text),
        ICECAM_BYE_CODE_NONE);
}

static void
handle_bye (IcecamViewerEndpoint *self, const IcecamMessage *msg)
{
  /* The camera lost its signalling, not necessarily its path: consent freshness ends the
   * session within ~10 s if the camera is really gone. */
  if (self->state == ICECAM_VIEWER_STATE_PLAYING &&
      msg->bye_code == ICECAM_BYE_CODE_PEER_LEFT) {
    g_info ("viewer %s: camera left the rendezvous, media continues", self->camera_id);
    self->camera_left = TRUE;
    return;
  }
  /* The code decides; the reason is for people. */
  fail (self, g_error_new (ICECAM_VIEWER_ERROR,
                           msg->bye_code == ICECAM_BYE_CODE_FULL ||
                               msg->bye_code == ICECAM_BYE_CODE_REFUSED
                             ? ICECAM_VIEWER_ERROR_REFUSED
                             : ICECAM_VIEWER_ERROR_ENDED,
                           "camera '%s' ended the session: %s", self->camera_id,
                           msg->reason ? msg->reason : "no reason given"),
        ICECAM_BYE_CODE_NONE);
}

/* Fresh relay credentials, for the session's next transport (an offer restarting ICE). */
static void
renew_ice_servers (IcecamViewerEndpoint *self, const IcecamMessage *msg)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_for_session (
    self->user_config, msg->ice_servers, self->welcome ? self->welcome->ice_servers : NULL,
    icecam_signalling_client_server_is_loopback (self->client));

  g_debug ("viewer %s: session %s: fresh relay credentials", self->camera_id, msg->session);
  icecam_peer_session_set_ice_config (self->peer, config);
}

static void
on_client_message (IcecamSignallingClient *client, IcecamMessage *msg,
                   IcecamViewerEndpoint *self)
{
  g_autoptr (GError) error = NULL;
  gboolean ours = msg->session != NULL && self->peer != NULL &&
                  g_strcmp0 (msg->session, self->session_id) == 0;

  switch (msg->type) {
    case ICECAM_MESSAGE_WELCOME:
      on_welcome (self, msg);
      break;
    case ICECAM_MESSAGE_SESSION:
      if (self->session_id == NULL && g_strcmp0 (msg->camera, self->camera_id) == 0)
        start_session (self, msg);
      break;
    case ICECAM_MESSAGE_OFFER:
      if (ours)
        handle_offer (self, msg);
      break;
    case ICECAM_MESSAGE_CANDIDATE:
      if (ours && !icecam_peer_session_add_remote_candidate (self->peer, msg->candidate, &error))
        g_debug ("viewer %s: %s", self->camera_id, error->message);
      break;
    case ICECAM_MESSAGE_BYE:
      if (ours)
        handle_bye (self, msg);
      break;
    case ICECAM_MESSAGE_ERROR:
      handle_error (self, msg);
      break;
    case ICECAM_MESSAGE_END_OF_CANDIDATES:
      if (ours)
        icecam_peer_session_set_remote_gathering_done (self->peer);
      break;
    case ICECAM_MESSAGE_DTLS:
      if (ours && self->peer != NULL) {
        gsize length = 0;
        g_autofree guint8 *datagram = g_base64_decode (msg->data, &length);

        icecam_peer_session_receive_signalled_dtls (self->peer, datagram, length);
      }
      break;
    case ICECAM_MESSAGE_ICE_SERVERS:
      if (ours)
        renew_ice_servers (self, msg);
      break;
    case ICECAM_MESSAGE_PUNCH:
      if (ours && self->punch != NULL && self->peer != NULL) {
        icecam_punch_session_set_transport (
          self->punch, icecam_peer_session_get_transport_number (self->peer));
        icecam_punch_session_handle (self->punch, msg);
      }
      break;
    case ICECAM_MESSAGE_PRESENCE:
      handle_presence (self, msg);
      break;
    default:
      break;
  }
}

static void
on_client_state_changed (IcecamSignallingClient *client, guint state,
                         IcecamViewerEndpoint *self)
{
  const GError *error = icecam_signalling_client_get_error (client);

  if ((state != ICECAM_SIGNALLING_STATE_CLOSED && state != ICECAM_SIGNALLING_STATE_RETRYING) ||
      error == NULL)
    return;
  /* A viewer that waits for its camera waits for the rendezvous too. */
  if (self->wait && self->peer == NULL && state == ICECAM_SIGNALLING_STATE_RETRYING) {
    g_info ("viewer %s: waiting for the rendezvous: %s", self->camera_id, error->message);
    return;
  }
  /* Once media flows, the rendezvous is not needed (DESIGN.md decision 3). */
  if (self->state == ICECAM_VIEWER_STATE_PLAYING) {
    g_message ("viewer %s: lost the rendezvous, media continues: %s", self->camera_id,
               error->message);
    return;
  }
  fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_SIGNALLING, "%s",
                           error->message), ICECAM_BYE_CODE_NONE);
}

/**
 * icecam_viewer_endpoint_new:
 * @server_url: the rendezvous, "ws://HOST:PORT"
 * @camera_id: the camera to watch
 * @config: ICE settings chosen by the user; the rendezvous's servers are added to them
 *
 * Returns: (transfer full) (nullable): the endpoint, or %NULL with @error set
 */
IcecamViewerEndpoint *
icecam_viewer_endpoint_new (const gchar *server_url, const gchar *camera_id,
                            const IcecamIceConfig *config, GError **error)
{
  g_autoptr (IcecamCertificate) certificate = NULL;
  IcecamSignallingClient *client;
  IcecamViewerEndpoint *self;

  g_return_val_if_fail (config != NULL, NULL);

  if (!icecam_protocol_id_is_valid (camera_id)) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                 "camera id '%s' must be 1..%d characters of A-Z a-z 0-9 . _ -",
                 camera_id ? camera_id : "", ICECAM_PROTOCOL_MAX_ID_LENGTH);
    return NULL;
  }
  certificate = icecam_certificate_new_ephemeral (error);
  if (certificate == NULL)
    return NULL;
  client = icecam_signalling_client_new (server_url, ICECAM_ROLE_VIEWER, NULL, error);
  if (client == NULL)
    return NULL;
  icecam_srtp_prepare (); /* in a thread, done before the first session needs it */
  self = g_object_new (ICECAM_TYPE_VIEWER_ENDPOINT, NULL);
  self->certificate = g_steal_pointer (&certificate);
  self->camera_id = g_strdup (camera_id);
  self->user_config = icecam_ice_config_copy (config);
  self->client = client;
  if (config->punch != 0 || config->punch_tcp)
    icecam_signalling_client_add_features (client, ICECAM_FEATURE_PUNCH);
  icecam_signalling_client_add_features (client, ICECAM_FEATURE_DTLS);
  icecam_signalling_client_set_keepalive (client, ICECAM_SIGNALLING_DEFAULT_KEEPALIVE_INTERVAL_S,
                                          SIGNALLING_CHECK_TIMEOUT_S);
  g_signal_connect (client, "message", G_CALLBACK (on_client_message), self);
  g_signal_connect (client, "state-changed", G_CALLBACK (on_client_state_changed), self);
  return self;
}

/**
 * icecam_viewer_endpoint_set_token:
 * @token: (nullable): the grant to present to a rendezvous that requires one
 *
 * Must be called before icecam_viewer_endpoint_start().
 */
void
icecam_viewer_endpoint_set_token (IcecamViewerEndpoint *self, const gchar *token)
{
  icecam_signalling_client_set_credentials (self->client, NULL, token);
}

/**
 * icecam_viewer_endpoint_set_region:
 * @region: (nullable): a region hint for the rendezvous's relay policy; %NULL or "": none
 * @error: what is wrong with @region
 *
 * Call before icecam_viewer_endpoint_start().
 *
 * Returns: %TRUE if @region is usable
 */
gboolean
icecam_viewer_endpoint_set_region (IcecamViewerEndpoint *self, const gchar *region, GError **error)
{
  return icecam_signalling_client_set_region (self->client, region, error);
}

/**
 * icecam_viewer_endpoint_set_tls:
 * @ca_file: (nullable): PEM file of the authorities a wss:// rendezvous is checked against;
 *   %NULL: the system's trust store
 * @accept_invalid: accept any certificate (tests only)
 * @error: why @ca_file cannot be used
 *
 * Call before icecam_viewer_endpoint_start().
 *
 * Returns: %FALSE with @error set if @ca_file cannot be loaded
 */
gboolean
icecam_viewer_endpoint_set_tls (IcecamViewerEndpoint *self, const gchar *ca_file,
                                gboolean accept_invalid, GError **error)
{
  return icecam_signalling_client_set_tls (self->client, ca_file, accept_invalid, error);
}

/**
 * icecam_viewer_endpoint_set_camera_fingerprint:
 * @fingerprint: (nullable): the camera's "sha-256 AB:CD:.." (any case, with or without
 *   colons), as icecam-camera prints it; %NULL trusts the fingerprint in the offer
 * @error: an %ICECAM_CERTIFICATE_ERROR
 *
 * Pins the camera's certificate: an offer with another fingerprint is refused with
 * %ICECAM_VIEWER_ERROR_DTLS, so a rendezvous that rewrites offers cannot see the media.
 * Must be called before icecam_viewer_endpoint_start().
 *
 * Returns: %FALSE if @fingerprint is not a SHA-256 fingerprint
 */
gboolean
icecam_viewer_endpoint_set_camera_fingerprint (IcecamViewerEndpoint *self,
                                               const gchar *fingerprint, GError **error)
{
  gchar *normalized = NULL;

  if (fingerprint != NULL) {
    normalized = icecam_fingerprint_normalize (fingerprint, error);
    if (normalized == NULL)
      return FALSE;
  }
  g_free (self->pinned_fingerprint);
  self->pinned_fingerprint = normalized;
  return TRUE;
}

/**
 * icecam_viewer_endpoint_get_client:
 *
 * Returns: (transfer none): the signalling client, to configure before starting
 */
IcecamSignallingClient *
icecam_viewer_endpoint_get_client (IcecamViewerEndpoint *self)
{
  return self->client;
}

/**
 * icecam_viewer_endpoint_set_receive_func:
 * @func: (nullable): called in the endpoint's context with every RTP packet
 */
void
icecam_viewer_endpoint_set_receive_func (IcecamViewerEndpoint *self, IcecamIceReceiveFunc func,
                                         gpointer user_data, GDestroyNotify notify)
{
  if (self->receive_notify != NULL)
    self->receive_notify (self->receive_data);
  self->receive_func = func;
  self->receive_data = user_data;
  self->receive_notify = notify;
}

/**
 * icecam_viewer_endpoint_set_wait:
 * @wait: wait for a camera that is not online (and for a rendezvous that cannot be reached)
 *   instead of failing; the camera is watched as soon as presence lists it
 *
 * Must be called before icecam_viewer_endpoint_start().
 */
void
icecam_viewer_endpoint_set_wait (IcecamViewerEndpoint *self, gboolean wait)
{
  self->wait = wait;
  if (wait)
    icecam_signalling_client_set_reconnect (self->client, TRUE);
}

void
icecam_viewer_endpoint_start (IcecamViewerEndpoint *self)
{
  set_state (self, ICECAM_VIEWER_STATE_CONNECTING);
  icecam_signalling_client_start (self->client);
}

IcecamViewerState
icecam_viewer_endpoint_get_state (IcecamViewerEndpoint *self)
{
  return self->state;
}

/**
 * icecam_viewer_endpoint_get_error:
 *
 * Returns: (transfer none) (nullable): why the endpoint is CLOSED
 */
const GError *
icecam_viewer_endpoint_get_error (IcecamViewerEndpoint *self)
{
  return self->error;
}

const gchar *
icecam_viewer_endpoint_get_session_id (IcecamViewerEndpoint *self)
{
  return self->session_id;
}

/**
 * icecam_viewer_endpoint_get_pair_info:
 *
 * Returns: (transfer full) (nullable): the selected pair
 */
IcecamPairInfo *
icecam_viewer_endpoint_get_pair_info (IcecamViewerEndpoint *self)
{
  IcecamPairInfo *info = NULL;

  g_mutex_lock (&self->lock);
  if (self->peer != NULL)
    info = icecam_peer_session_get_pair_info (self->peer);
  g_mutex_unlock (&self->lock);
  return info;
}

gboolean
icecam_viewer_endpoint_get_stats (IcecamViewerEndpoint *self, IcecamIceStats *stats)
{
  gboolean have = FALSE;

  g_mutex_lock (&self->lock);
  if (self->peer != NULL) {
    icecam_peer_session_get_stats (self->peer, stats, NULL);
    have = TRUE;
  }
  g_mutex_unlock (&self->lock);
  return have;
}

static void
peer_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;

  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/**
 * icecam_viewer_endpoint_close_async:
 *
 * Says bye, closes the peer session (DTLS close_notify first, so the camera stops sending
 * at once; TURN allocations released) and the signalling connection; @callback runs once
 * libnice has closed.
 */
void
icecam_viewer_endpoint_close_async (IcecamViewerEndpoint *self, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);

  if (self->session_id != NULL && self->state != ICECAM_VIEWER_STATE_CLOSED) {
    g_autoptr (IcecamMessage) bye = icecam_message_new_bye (self->session_id,
                                                             ICECAM_BYE_CODE_CLOSED,
                                                             "viewer left");

    icecam_signalling_client_send (self->client, bye);
  }
  g_signal_handlers_disconnect_by_data (self->client, self);
  icecam_signalling_client_stop (self->client);
  icecam_viewer_endpoint_stop_restart_requests (self);
  set_state (self, ICECAM_VIEWER_STATE_CLOSED);
  close_peer (self, peer_closed_cb, task);
}

gboolean
icecam_viewer_endpoint_close_finish (IcecamViewerEndpoint *self, GAsyncResult *result,
                                     GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
icecam_viewer_endpoint_dispose (GObject *object)
{
  IcecamViewerEndpoint *self = ICECAM_VIEWER_ENDPOINT (object);

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  if (self->report_source != NULL) {
    g_source_destroy (self->report_source);
    g_clear_pointer (&self->report_source, g_source_unref);
  }
  icecam_viewer_endpoint_stop_restart_requests (self);
  g_clear_pointer (&self->punch, icecam_punch_session_free);
  close_peer (self, NULL, NULL);
  g_clear_object (&self->client);
  icecam_viewer_endpoint_set_receive_func (self, NULL, NULL, NULL);
  G_OBJECT_CLASS (icecam_viewer_endpoint_parent_class)->dispose (object);
}

static void
icecam_viewer_endpoint_finalize (GObject *object)
{
  IcecamViewerEndpoint *self = ICECAM_VIEWER_ENDPOINT (object);

  g_free (self->camera_id);
  g_free (self->session_id);
  g_free (self->pinned_fingerprint);
  g_strfreev (self->online);
  g_clear_object (&self->certificate);
  icecam_ice_config_free (self->user_config);
  icecam_message_free (self->welcome);
  g_clear_error (&self->error);
  icecam_rtp_clock_unref (self->sender_clock);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (icecam_viewer_endpoint_parent_class)->finalize (object);
}

static void
icecam_viewer_endpoint_class_init (IcecamViewerEndpointClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_viewer_endpoint_dispose;
  object_class->finalize = icecam_viewer_endpoint_finalize;

  /**
   * IcecamViewerEndpoint::state-changed:
   * @state: the new #IcecamViewerState
   */
  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /**
   * IcecamViewerEndpoint::media:
   * @media: "video" or "audio"
   * @payload_type: the RTP payload type
   * @rtpmap: e.g. "H264/90000"
   * @fmtp: (nullable): format parameters
   *
   * The camera's offer arrived: this is what its packets will be. Emitted once per media
   * section of the offer, in its order (the video first, then an audio section if any).
   */
  signals[SIGNAL_MEDIA] =
    g_signal_new ("media", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_UINT, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * IcecamViewerEndpoint::pair-selected:
   * @info: the #IcecamPairInfo now carrying media
   */
  signals[SIGNAL_PAIR_SELECTED] =
    g_signal_new ("pair-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, ICECAM_TYPE_PAIR_INFO);
}

static void
icecam_viewer_endpoint_init (IcecamViewerEndpoint *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->state = ICECAM_VIEWER_STATE_IDLE;
  self->own_ssrc = g_random_int ();
  self->sender_clock = icecam_rtp_clock_new ();
}
