/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The viewer side of icecam: watch one camera, answer its offer, receive its RTP over ICE. */

#include "icecam-viewer-endpoint.h"

#include "icecam-dtls-srtp.h"
#include "icecam-rtcp.h"
#include "icecam-srtp.h"

/* After its path died, how long a viewer waits for the camera's ICE restart. */
#define RECOVERY_TIMEOUT_S 30
/* Room for one datagram from the camera: an MTU-sized SRTP packet or DTLS flight. */
#define RECEIVE_BUFFER_SIZE 2048

/**
 * IcecamViewerEndpoint:
 *
 * Connects to the rendezvous, asks for one camera, answers the camera's offer as the
 * controlled ICE agent, proves the camera's certificate fingerprint (from the offer, or
 * pinned with icecam_viewer_endpoint_set_camera_fingerprint()) in a DTLS-SRTP handshake as
 * the DTLS client, and hands every decrypted RTP packet to the receive function.
 *
 * Signals ("state-changed", "media", "pair-selected") and the receive function run in the
 * GMainContext that was thread-default when the endpoint was created, where all functions
 * must be called except _request_keyframe(), _get_stats() and _get_pair_info(), which are
 * thread-safe.
 */
struct _IcecamViewerEndpoint {
  GObject parent;

  gchar *camera_id;
  IcecamIceConfig *user_config;
  IcecamMessage *welcome;  /* its ice_servers */
  IcecamMessage *session;  /* its ice_servers: fresh TURN credentials */
  IcecamSignallingClient *client;
  IcecamViewerState state;
  GError *error;
  gchar *session_id;

  IcecamIceReceiveFunc receive_func;
  gpointer receive_data;
  GDestroyNotify receive_notify;

  IcecamCertificate *certificate; /* ephemeral: the camera learns it from each answer */
  gchar *pinned_fingerprint;      /* normalised; NULL: trust the offer's */
  gchar *camera_fingerprint;      /* normalised, the one the DTLS session expects */

  GMutex lock;           /* protects ice and dtls against _request_keyframe() */
  IcecamIceSession *ice;
  IcecamDtlsSrtp *dtls;  /* from the first offer on; kept across ICE restarts */
  guint32 own_ssrc;
  guint32 media_ssrc;    /* atomic: the camera's SSRC, learnt from its packets */
  gchar *remote_ufrag;   /* of the offer in use: a new one means an ICE restart */
  GSource *recovery_timeout;
  gboolean camera_left;  /* the camera's signalling went away while media flowed: it cannot
                          * send the offer of an ICE restart */

  GTask *close_task;
};

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
  g_debug ("viewer %s: %s -> %s", self->camera_id, icecam_viewer_state_to_string (self->state),
           icecam_viewer_state_to_string (state));
  self->state = state;
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, (guint) state);
}

static void
close_ice (IcecamViewerEndpoint *self)
{
  IcecamIceSession *ice;

  g_mutex_lock (&self->lock);
  ice = g_steal_pointer (&self->ice);
  g_mutex_unlock (&self->lock);
  if (ice == NULL)
    return;
  g_signal_handlers_disconnect_by_data (ice, self);
  icecam_ice_session_close (ice);
  g_object_unref (ice);
}

static void
close_dtls (IcecamViewerEndpoint *self)
{
  IcecamDtlsSrtp *dtls;

  g_mutex_lock (&self->lock);
  dtls = g_steal_pointer (&self->dtls);
  g_mutex_unlock (&self->lock);
  if (dtls == NULL)
    return;
  g_signal_handlers_disconnect_by_data (dtls, self);
  icecam_dtls_srtp_close (dtls);
  icecam_dtls_srtp_set_send_func (dtls, NULL, NULL, NULL);
  g_object_unref (dtls);
}

static void
cancel_recovery (IcecamViewerEndpoint *self)
{
  if (self->recovery_timeout == NULL)
    return;
  g_source_destroy (self->recovery_timeout);
  g_clear_pointer (&self->recovery_timeout, g_source_unref);
}

/* Ends the endpoint with @error (taken) as the reason; says bye if a session exists. */
static void
fail (IcecamViewerEndpoint *self, GError *error, gboolean send_bye)
{
  if (self->state == ICECAM_VIEWER_STATE_CLOSED) {
    g_error_free (error);
    return;
  }
  g_message ("viewer %s: %s", self->camera_id, error->message);
  cancel_recovery (self);
  self->error = error;
  if (send_bye && self->session_id != NULL) {
    g_autoptr (IcecamMessage) bye = icecam_message_new_bye (self->session_id, ICECAM_BYE_CODE_FAILED,
                                                             error->message);

    icecam_signalling_client_send (self->client, bye);
  }
  close_dtls (self);
  close_ice (self);
  set_state (self, ICECAM_VIEWER_STATE_CLOSED);
}

static void
on_ice_local_candidate (IcecamIceSession *ice, const gchar *candidate,
                        IcecamViewerEndpoint *self)
{
  g_autoptr (IcecamMessage) msg = icecam_message_new_candidate (self->session_id, candidate);

  icecam_signalling_client_send (self->client, msg);
}

static void
on_ice_gathering_done (IcecamIceSession *ice, IcecamViewerEndpoint *self)
{
  g_autoptr (IcecamMessage) msg = icecam_message_new_end_of_candidates (self->session_id);

  icecam_signalling_client_send (self->client, msg);
}

static gboolean
dtls_is_connected (IcecamViewerEndpoint *self)
{
  return self->dtls != NULL &&
         icecam_dtls_srtp_get_state (self->dtls) == ICECAM_DTLS_STATE_CONNECTED;
}

static void
become_playing (IcecamViewerEndpoint *self)
{
  set_state (self, ICECAM_VIEWER_STATE_PLAYING);
  /* From now on the rendezvous is not needed for the media; stay reachable through it. */
  icecam_signalling_client_set_reconnect (self->client, TRUE);
}

static void
on_ice_pair_selected (IcecamIceSession *ice, IcecamPairInfo *info, IcecamViewerEndpoint *self)
{
  cancel_recovery (self);
  g_signal_emit (self, signals[SIGNAL_PAIR_SELECTED], 0, info);
  if (self->dtls == NULL)
    return;
  /* The DTLS client speaks first, once a path exists; after an ICE restart the association
   * is already connected and media resumes on the new path at once. */
  icecam_dtls_srtp_start (self->dtls);
  if (dtls_is_connected (self))
    become_playing (self);
}

static void
on_dtls_state_changed (IcecamDtlsSrtp *dtls, guint state, IcecamViewerEndpoint *self)
{
  const GError *error = icecam_dtls_srtp_get_error (dtls);

  switch (state) {
    case ICECAM_DTLS_STATE_CONNECTED:
      g_info ("viewer %s: DTLS-SRTP connected, camera proved %s", self->camera_id,
              self->camera_fingerprint);
      become_playing (self);
      break;
    case ICECAM_DTLS_STATE_FAILED:
      fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_DTLS,
                               "secure connection to camera '%s' failed: %s", self->camera_id,
                               error != NULL ? error->message : "unknown error"),
            TRUE);
      break;
    case ICECAM_DTLS_STATE_CLOSED:
      fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ENDED,
                               "camera '%s' ended the session (it closed DTLS)",
                               self->camera_id),
            FALSE);
      break;
    default:
      break;
  }
}

/* DTLS records go out over the current ICE transport. Runs in the endpoint's context. */
static void
dtls_send_cb (const guint8 *data, gsize length, gpointer user_data)
{
  IcecamViewerEndpoint *self = user_data;
  IcecamIceSession *ice = NULL;

  g_mutex_lock (&self->lock);
  if (self->ice != NULL)
    ice = g_object_ref (self->ice);
  g_mutex_unlock (&self->lock);
  if (ice == NULL)
    return;
  icecam_ice_session_send (ice, data, length);
  g_object_unref (ice);
}

static gboolean
on_recovery_timeout (gpointer data)
{
  IcecamViewerEndpoint *self = data;

  g_clear_pointer (&self->recovery_timeout, g_source_unref);
  fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ICE_FAILED,
                           "the path to camera '%s' died and did not recover within %d s",
                           self->camera_id, RECOVERY_TIMEOUT_S),
        TRUE);
  return G_SOURCE_REMOVE;
}

static void
on_ice_state_changed (IcecamIceSession *ice, guint state, IcecamViewerEndpoint *self)
{
  g_autofree gchar *candidates = NULL;

  if (state != ICECAM_ICE_STATE_FAILED)
    return;
  candidates = icecam_ice_session_describe_candidates (ice);
  /* A path that worked and died: the camera (controlling) restarts ICE with a new offer,
   * unless it has left the rendezvous too, i.e. it is gone. */
  if (self->state == ICECAM_VIEWER_STATE_PLAYING && self->camera_left) {
    fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ENDED,
                             "camera '%s' is gone: it left the rendezvous and its path died",
                             self->camera_id),
          FALSE);
    return;
  }
  if (self->state == ICECAM_VIEWER_STATE_PLAYING) {
    g_message ("viewer %s: the path died (%s); waiting for the camera's ICE restart",
               self->camera_id, candidates);
    close_ice (self);
    set_state (self, ICECAM_VIEWER_STATE_CHECKING);
    self->recovery_timeout = g_timeout_source_new_seconds (RECOVERY_TIMEOUT_S);
    g_source_set_callback (self->recovery_timeout, on_recovery_timeout, self, NULL);
    g_source_attach (self->recovery_timeout, g_main_context_get_thread_default ());
    return;
  }
  fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ICE_FAILED,
                           "no ICE candidate pair to camera '%s' works (%s)",
                           self->camera_id, candidates),
        TRUE);
}

static void
on_ice_receive (const guint8 *data, gsize length, gpointer user_data)
{
  IcecamViewerEndpoint *self = user_data;
  guint8 buffer[RECEIVE_BUFFER_SIZE];
  gsize plain_length = sizeof buffer;
  const guint8 *plain = buffer;
  g_autoptr (GError) error = NULL;
  guint32 ssrc;

  if (self->dtls == NULL || length > sizeof buffer)
    return;
  switch (icecam_dtls_srtp_handle_incoming (self->dtls, data, length, buffer, &plain_length,
                                            &error)) {
    case ICECAM_DTLS_SRTP_RESULT_MEDIA:
      break;
    case ICECAM_DTLS_SRTP_RESULT_DROPPED:
      g_debug ("viewer %s: dropped a packet: %s", self->camera_id,
               error != NULL ? error->message : "unknown");
      return;
    case ICECAM_DTLS_SRTP_RESULT_CONSUMED:
    default:
      return;
  }
  data = plain;
  length = plain_length;
  if (icecam_rtp_is_rtcp (data, length))
    return; /* the camera's sender reports carry nothing the viewer needs yet */
  if (icecam_rtp_get_ssrc (data, length, &ssrc))
    g_atomic_int_set ((gint *) &self->media_ssrc, (gint) ssrc);
  if (self->receive_func != NULL)
    self->receive_func (data, length, self->receive_data);
}

static gchar *
build_answer (IcecamViewerEndpoint *self, const IcecamSdp *offer)
{
  g_autoptr (IcecamSdp) answer = icecam_sdp_new ();

  answer->media = g_strdup (offer->media);
  answer->payload_type = offer->payload_type;
  answer->rtpmap = g_strdup (offer->rtpmap);
  answer->fmtp = g_strdup (offer->fmtp);
  answer->direction = ICECAM_SDP_DIRECTION_RECVONLY;
  answer->fingerprint = g_strdup (icecam_certificate_get_fingerprint (self->certificate));
  answer->setup = g_strdup ("active");
  icecam_ice_session_get_local_credentials (self->ice, &answer->ice_ufrag, &answer->ice_pwd);
  return icecam_sdp_to_string (answer, g_random_int ());
}

static gboolean
start_ice (IcecamViewerEndpoint *self, const IcecamSdp *offer, GError **error)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_for_session (
    self->user_config, self->session ? self->session->ice_servers : NULL,
    self->welcome ? self->welcome->ice_servers : NULL,
    icecam_signalling_client_server_is_loopback (self->client));
  IcecamIceSession *ice = icecam_ice_session_new (config, FALSE, error);

  if (ice == NULL)
    return FALSE;
  g_signal_connect (ice, "local-candidate", G_CALLBACK (on_ice_local_candidate), self);
  g_signal_connect (ice, "gathering-done", G_CALLBACK (on_ice_gathering_done), self);
  g_signal_connect (ice, "pair-selected", G_CALLBACK (on_ice_pair_selected), self);
  g_signal_connect (ice, "state-changed", G_CALLBACK (on_ice_state_changed), self);
  icecam_ice_session_set_receive_func (ice, on_ice_receive, self, NULL);
  g_mutex_lock (&self->lock);
  self->ice = ice;
  g_mutex_unlock (&self->lock);

  if (!icecam_ice_session_set_remote_credentials (ice, offer->ice_ufrag, offer->ice_pwd, error))
    return FALSE;
  for (guint i = 0; i < offer->candidates->len; i++) {
    g_autoptr (GError) local_error = NULL;

    if (!icecam_ice_session_add_remote_candidate (ice, g_ptr_array_index (offer->candidates, i),
                                                  &local_error))
      g_debug ("viewer %s: %s", self->camera_id, local_error->message);
  }
  return TRUE;
}

/* Checks the offer's fingerprint against the pin and, on a restart, against the one the
 * DTLS session proved; creates the DTLS session for the first offer. */
static gboolean
check_fingerprint (IcecamViewerEndpoint *self, const IcecamSdp *offer, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree gchar *offered = NULL;
  const gchar *expected;
  IcecamDtlsSrtp *dtls;

  if (offer->fingerprint == NULL) {
    g_set_error (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_BAD_OFFER,
                 "camera '%s' offers no a=fingerprint: refusing unencrypted media",
                 self->camera_id);
    return FALSE;
  }
  offered = icecam_fingerprint_normalize (offer->fingerprint, &local_error);
  if (offered == NULL) {
    g_set_error (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_BAD_OFFER,
                 "unusable offer from camera '%s': %s", self->camera_id, local_error->message);
    return FALSE;
  }
  if (self->pinned_fingerprint != NULL && g_strcmp0 (offered, self->pinned_fingerprint) != 0) {
    g_set_error (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_DTLS,
                 "camera '%s' presents fingerprint %s, but %s is pinned", self->camera_id,
                 offered, self->pinned_fingerprint);
    return FALSE;
  }
  if (self->dtls != NULL) {
    if (g_strcmp0 (offered, self->camera_fingerprint) == 0)
      return TRUE;
    g_set_error (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_DTLS,
                 "camera '%s' changed its fingerprint from %s to %s during the session",
                 self->camera_id, self->camera_fingerprint, offered);
    return FALSE;
  }
  expected = self->pinned_fingerprint != NULL ? self->pinned_fingerprint : offered;
  dtls = icecam_dtls_srtp_new (self->certificate, TRUE, expected, &local_error);
  if (dtls == NULL) {
    g_set_error (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_DTLS,
                 "cannot set up DTLS with camera '%s': %s", self->camera_id,
                 local_error->message);
    return FALSE;
  }
  icecam_dtls_srtp_set_send_func (dtls, dtls_send_cb, self, NULL);
  g_signal_connect (dtls, "state-changed", G_CALLBACK (on_dtls_state_changed), self);
  g_free (self->camera_fingerprint);
  self->camera_fingerprint = g_strdup (expected);
  g_mutex_lock (&self->lock);
  self->dtls = dtls;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static void
handle_offer (IcecamViewerEndpoint *self, const IcecamMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamSdp) offer = NULL;
  g_autoptr (IcecamMessage) answer = NULL;
  g_autofree gchar *text = NULL;

  offer = icecam_sdp_parse (msg->sdp, &error);
  if (offer != NULL && self->ice != NULL &&
      g_strcmp0 (offer->ice_ufrag, self->remote_ufrag) == 0) {
    g_debug ("viewer %s: repeated offer ignored", self->camera_id);
    return;
  }
  self->camera_left = FALSE; /* it is in touch again */
  if (offer != NULL && !check_fingerprint (self, offer, &error)) {
    fail (self, g_steal_pointer (&error), TRUE);
    return;
  }
  if (offer != NULL && self->ice != NULL) {
    /* New credentials in the same session: the camera restarts ICE. */
    g_message ("viewer %s: the camera restarts ICE", self->camera_id);
    close_ice (self);
  }
  if (offer != NULL) {
    g_free (self->remote_ufrag);
    self->remote_ufrag = g_strdup (offer->ice_ufrag);
  }
  if (offer == NULL || !start_ice (self, offer, &error)) {
    fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_BAD_OFFER,
                             "unusable offer from camera '%s': %s", self->camera_id,
                             error->message),
          TRUE);
    return;
  }
  /* The caps must be known before the first packet is handed on. */
  g_signal_emit (self, signals[SIGNAL_MEDIA], 0, offer->media, offer->payload_type,
                 offer->rtpmap, offer->fmtp);

  text = build_answer (self, offer);
  answer = icecam_message_new_answer (self->session_id, text);
  icecam_signalling_client_send (self->client, answer);
  set_state (self, ICECAM_VIEWER_STATE_CHECKING);
  if (!icecam_ice_session_gather (self->ice, &error))
    fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ICE_FAILED, "%s",
                             error->message), TRUE);
}

static void
on_welcome (IcecamViewerEndpoint *self, const IcecamMessage *msg)
{
  g_autoptr (IcecamMessage) watch = icecam_message_new_watch (self->camera_id);

  icecam_message_free (self->welcome);
  self->welcome = icecam_message_copy (msg);
  if (self->state == ICECAM_VIEWER_STATE_PLAYING) {
    g_info ("viewer %s: back at the rendezvous, media never stopped", self->camera_id);
    return;
  }
  icecam_signalling_client_send (self->client, watch);
  set_state (self, ICECAM_VIEWER_STATE_WAITING);
}

static void
handle_error (IcecamViewerEndpoint *self, const IcecamMessage *msg)
{
  IcecamViewerError code = ICECAM_VIEWER_ERROR_REFUSED;

  if (msg->error_code == ICECAM_ERROR_CODE_UNKNOWN_CAMERA)
    code = ICECAM_VIEWER_ERROR_UNKNOWN_CAMERA;
  /* Errors about one of our messages are fatal only before media flows. */
  if (self->state == ICECAM_VIEWER_STATE_PLAYING && code == ICECAM_VIEWER_ERROR_REFUSED) {
    g_warning ("viewer %s: rendezvous says %s: %s", self->camera_id,
               icecam_error_code_to_string (msg->error_code), msg->text);
    return;
  }
  fail (self, g_error_new (ICECAM_VIEWER_ERROR, code, "rendezvous refused (%s): %s",
                           icecam_error_code_to_string (msg->error_code), msg->text),
        FALSE);
}

static void
on_client_message (IcecamSignallingClient *client, IcecamMessage *msg,
                   IcecamViewerEndpoint *self)
{
  g_autoptr (GError) error = NULL;
  gboolean ours = msg->session != NULL && g_strcmp0 (msg->session, self->session_id) == 0;

  switch (msg->type) {
    case ICECAM_MESSAGE_WELCOME:
      on_welcome (self, msg);
      break;
    case ICECAM_MESSAGE_SESSION:
      if (self->session_id == NULL && g_strcmp0 (msg->camera, self->camera_id) == 0) {
        self->session_id = g_strdup (msg->session);
        self->session = icecam_message_copy (msg);
      }
      break;
    case ICECAM_MESSAGE_OFFER:
      if (ours)
        handle_offer (self, msg);
      break;
    case ICECAM_MESSAGE_CANDIDATE:
      if (ours && self->ice != NULL &&
          !icecam_ice_session_add_remote_candidate (self->ice, msg->candidate, &error))
        g_debug ("viewer %s: %s", self->camera_id, error->message);
      break;
    case ICECAM_MESSAGE_BYE:
      /* The camera lost its signalling, not necessarily its path: consent freshness ends the
       * session within ~10 s if the camera is really gone. */
      if (ours && self->state == ICECAM_VIEWER_STATE_PLAYING &&
          msg->bye_code == ICECAM_BYE_CODE_PEER_LEFT) {
        g_info ("viewer %s: camera left the rendezvous, media continues", self->camera_id);
        self->camera_left = TRUE;
        break;
      }
      if (ours)
        fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ENDED,
                                 "camera '%s' ended the session: %s", self->camera_id,
                                 msg->reason ? msg->reason : "no reason given"),
              FALSE);
      break;
    case ICECAM_MESSAGE_ERROR:
      handle_error (self, msg);
      break;
    case ICECAM_MESSAGE_END_OF_CANDIDATES:
      if (ours && self->ice != NULL)
        icecam_ice_session_set_remote_gathering_done (self->ice);
      break;
    case ICECAM_MESSAGE_PRESENCE:
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
  /* Once media flows, the rendezvous is not needed (DESIGN.md decision 3). */
  if (self->state == ICECAM_VIEWER_STATE_PLAYING) {
    g_message ("viewer %s: lost the rendezvous, media continues: %s", self->camera_id,
               error->message);
    return;
  }
  fail (self, g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_SIGNALLING, "%s",
                           error->message), FALSE);
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

void
icecam_viewer_endpoint_start (IcecamViewerEndpoint *self)
{
  set_state (self, ICECAM_VIEWER_STATE_CONNECTING);
  icecam_signalling_client_start (self->client);
}

/**
 * icecam_viewer_endpoint_request_keyframe:
 *
 * Sends an RTCP PLI to the camera over the media path. Thread-safe; does nothing before
 * the first packet (there is nothing to refer to yet, and the camera sends a keyframe to
 * every viewer that joins anyway).
 */
void
icecam_viewer_endpoint_request_keyframe (IcecamViewerEndpoint *self)
{
  guint8 pli[ICECAM_RTCP_PLI_SIZE];
  guint8 srtcp[ICECAM_RTCP_PLI_SIZE + ICECAM_SRTP_MAX_OVERHEAD];
  gsize srtcp_length = sizeof srtcp;
  guint32 media_ssrc = (guint32) g_atomic_int_get ((gint *) &self->media_ssrc);
  IcecamIceSession *ice = NULL;
  IcecamDtlsSrtp *dtls = NULL;

  if (media_ssrc == 0)
    return;
  g_mutex_lock (&self->lock);
  if (self->ice != NULL && self->dtls != NULL) {
    ice = g_object_ref (self->ice);
    dtls = g_object_ref (self->dtls);
  }
  g_mutex_unlock (&self->lock);
  if (ice == NULL)
    return;
  icecam_rtcp_build_pli (pli, self->own_ssrc, media_ssrc);
  if (icecam_dtls_srtp_protect_rtcp (dtls, pli, sizeof pli, srtcp, &srtcp_length))
    icecam_ice_session_send (ice, srtcp, srtcp_length);
  g_object_unref (dtls);
  g_object_unref (ice);
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
  if (self->ice != NULL)
    info = icecam_ice_session_get_pair_info (self->ice);
  g_mutex_unlock (&self->lock);
  return info;
}

gboolean
icecam_viewer_endpoint_get_stats (IcecamViewerEndpoint *self, IcecamIceStats *stats)
{
  gboolean have = FALSE;

  g_mutex_lock (&self->lock);
  if (self->ice != NULL) {
    icecam_ice_session_get_stats (self->ice, stats);
    have = TRUE;
  }
  g_mutex_unlock (&self->lock);
  return have;
}

static void
ice_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GTask *task = user_data;

  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/**
 * icecam_viewer_endpoint_close_async:
 *
 * Says bye, closes the ICE session (releasing TURN allocations) and the signalling
 * connection; @callback runs once libnice has closed.
 */
void
icecam_viewer_endpoint_close_async (IcecamViewerEndpoint *self, GAsyncReadyCallback callback,
                                    gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  IcecamIceSession *ice;

  if (self->session_id != NULL && self->state != ICECAM_VIEWER_STATE_CLOSED) {
    g_autoptr (IcecamMessage) bye = icecam_message_new_bye (self->session_id, ICECAM_BYE_CODE_CLOSED,
                                                             "viewer left");

    icecam_signalling_client_send (self->client, bye);
  }
  g_signal_handlers_disconnect_by_data (self->client, self);
  icecam_signalling_client_stop (self->client);
  /* close_notify first, while the path exists: the camera stops sending at once. */
  close_dtls (self);

  g_mutex_lock (&self->lock);
  ice = g_steal_pointer (&self->ice);
  g_mutex_unlock (&self->lock);
  if (self->state != ICECAM_VIEWER_STATE_CLOSED) {
    self->state = ICECAM_VIEWER_STATE_CLOSED;
    g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, (guint) self->state);
  }
  if (ice == NULL) {
    g_task_return_boolean (task, TRUE);
    g_object_unref (task);
    return;
  }
  g_signal_handlers_disconnect_by_data (ice, self);
  icecam_ice_session_close_async (ice, ice_closed_cb, task);
  g_object_unref (ice);
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
  cancel_recovery (self);
  close_dtls (self);
  close_ice (self);
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
  g_free (self->remote_ufrag);
  g_free (self->pinned_fingerprint);
  g_free (self->camera_fingerprint);
  g_clear_object (&self->certificate);
  icecam_ice_config_free (self->user_config);
  icecam_message_free (self->welcome);
  icecam_message_free (self->session);
  g_clear_error (&self->error);
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
   * The camera's offer arrived: this is what its packets will be.
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
  self->state = ICECAM_VIEWER_STATE_IDLE;
  self->own_ssrc = g_random_int ();
}
