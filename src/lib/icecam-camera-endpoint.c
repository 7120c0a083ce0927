/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The camera side of icecam: one signalling client, one ICE session per viewer, one fan-out. */

#include "icecam-camera-endpoint.h"

#include "icecam-dtls-srtp.h"
#include "icecam-rtcp.h"
#include "icecam-srtp.h"
#include "icecam-sdp.h"

#include <string.h>

#define DEFAULT_MAX_VIEWERS 16
/* Keyframe requests closer together than this are merged into one, deferred, never lost:
 * with one shared encoder a request serves every viewer. */
#define KEYFRAME_MIN_INTERVAL_US (200 * G_TIME_SPAN_MILLISECOND)
/* A session (or a restart of it) whose pair is not selected by then is given up. */
#define CONNECT_TIMEOUT_S 30
/* ICE restarts in a row without ever getting a pair back. */
#define MAX_RESTARTS 3
/* Room for one datagram from a viewer (RTCP or DTLS records; media never flows this way). */
#define RECEIVE_BUFFER_SIZE 2048

/**
 * IcecamCameraEndpoint:
 *
 * Registers a camera with the rendezvous and serves every viewer that asks for it, each
 * over its own #IcecamIceSession (the camera is the controlling agent and sends the offer).
 * Packets handed to icecam_camera_endpoint_send() go to every viewer whose pair is
 * selected and whose DTLS-SRTP handshake (the camera is the DTLS server) has proved the
 * fingerprint from its answer: encode once, protect per viewer, fan out.
 *
 * Signals are emitted, and all functions except _set_media(), _send(), _get_stats() and
 * _get_n_viewers() (which are thread-safe) must be called, in the GMainContext that was
 * thread-default when the endpoint was created.
 */
struct _IcecamCameraEndpoint {
  GObject parent;

  gchar *camera_id;
  IcecamIceConfig *user_config;
  GPtrArray *welcome_servers; /* IcecamIceServer from `welcome` */
  IcecamSignallingClient *client;
  GMainContext *context;
  guint max_viewers;
  IcecamCertificate *certificate; /* the camera's DTLS identity */

  GMutex lock;        /* protects the fields below */
  GHashTable *sessions; /* id -> ViewerSession */
  GPtrArray *active;  /* ActiveViewer of the sessions with a selected pair and DTLS
                       * connected; replaced, never edited */
  IcecamSdp *media;   /* what the offers describe; NULL until the caps are known */
  gboolean start_on_keyframe; /* the media is H.264: a new viewer's stream starts at a
                               * keyframe (icecam_rtp_h264_starts_keyframe()) */

  gint64 last_keyframe_request;
  guint keyframe_source_id;
  guint pending_closes;
  GTask *close_task;
};

typedef struct {
  IcecamCameraEndpoint *endpoint; /* not a reference: the endpoint owns the session */
  gchar *id;
  gchar *viewer;
  IcecamIceSession *ice;
  IcecamDtlsSrtp *dtls;   /* from the first answer on; kept across ICE restarts */
  gchar *remote_fingerprint; /* normalised, from the first answer */
  GPtrArray *ice_servers; /* from the `session` message, kept for restarts */
  GSource *connect_timeout;
  guint restarts;         /* in a row, since the last selected pair */
  gboolean offered;
  gboolean selected;      /* the current ICE transport has a selected pair */
  gboolean active;        /* selected and DTLS connected: in the fan-out */
  gint *started;          /* atomic rc box, shared with ActiveViewer: whether this viewer's
                           * stream has reached a keyframe since it became active */
} ViewerSession;

/* One entry of the fan-out snapshot, usable from the streaming thread. */
typedef struct {
  IcecamIceSession *ice;
  IcecamDtlsSrtp *dtls;
  gint *started;  /* ViewerSession.started; written by the streaming thread only */
} ActiveViewer;

G_DEFINE_TYPE (IcecamCameraEndpoint, icecam_camera_endpoint, G_TYPE_OBJECT)

enum {
  SIGNAL_SESSION_STARTED,
  SIGNAL_PAIR_SELECTED,
  SIGNAL_SESSION_ENDED,
  SIGNAL_SESSION_RESTARTED,
  SIGNAL_KEYFRAME_REQUESTED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

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
active_viewer_free (ActiveViewer *av)
{
  g_object_unref (av->ice);
  g_object_unref (av->dtls);
  g_atomic_rc_box_release (av->started);
  g_free (av);
}

static void
cancel_connect_timeout (ViewerSession *vs)
{
  if (vs->connect_timeout == NULL)
    return;
  g_source_destroy (vs->connect_timeout);
  g_clear_pointer (&vs->connect_timeout, g_source_unref);
}

static void
viewer_session_free (ViewerSession *vs)
{
  cancel_connect_timeout (vs);
  if (vs->ice_servers != NULL)
    g_ptr_array_unref (vs->ice_servers);
  g_free (vs->id);
  g_free (vs->viewer);
  g_free (vs->remote_fingerprint);
  g_clear_object (&vs->ice);
  g_clear_object (&vs->dtls);
  g_atomic_rc_box_release (vs->started);
  g_free (vs);
}

/* Called with the lock held. */
static void
rebuild_active (IcecamCameraEndpoint *self)
{
  GPtrArray *active = g_ptr_array_new_with_free_func ((GDestroyNotify) active_viewer_free);
  GHashTableIter iter;
  ViewerSession *vs;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &vs)) {
    ActiveViewer *av;

    if (!vs->active)
      continue;
    av = g_new (ActiveViewer, 1);
    av->ice = g_object_ref (vs->ice);
    av->dtls = g_object_ref (vs->dtls);
    av->started = g_atomic_rc_box_acquire (vs->started);
    g_ptr_array_add (active, av);
  }
  g_ptr_array_unref (self->active);
  self->active = active;
}

static gboolean
emit_keyframe_request (gpointer data)
{
  IcecamCameraEndpoint *self = data;

  self->keyframe_source_id = 0;
  self->last_keyframe_request = g_get_monotonic_time ();
  g_debug ("camera %s: keyframe requested", self->camera_id);
  g_signal_emit (self, signals[SIGNAL_KEYFRAME_REQUESTED], 0);
  return G_SOURCE_REMOVE;
}

static void
request_keyframe (IcecamCameraEndpoint *self)
{
  gint64 since = g_get_monotonic_time () - self->last_keyframe_request;
  GSource *source;

  if (self->keyframe_source_id != 0)
    return; /* one is already scheduled */
  if (since >= KEYFRAME_MIN_INTERVAL_US) {
    emit_keyframe_request (self);
    return;
  }
  source = g_timeout_source_new ((guint) ((KEYFRAME_MIN_INTERVAL_US - since) / 1000) + 1);
  g_source_set_callback (source, emit_keyframe_request, self, NULL);
  self->keyframe_source_id = g_source_attach (source, self->context);
  g_source_unref (source);
}

static void
remove_session (IcecamCameraEndpoint *self, const gchar *id, const gchar *reason,
                gboolean send_bye)
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
  if (vs->active)
    rebuild_active (self);
  g_mutex_unlock (&self->lock);

  g_info ("camera %s: session %s with %s ended: %s", self->camera_id, id, vs->viewer, reason);
  if (send_bye) {
    g_autoptr (IcecamMessage) bye = icecam_message_new_bye (id, ICECAM_BYE_CODE_FAILED, reason);

    icecam_signalling_client_send (self->client, bye);
  }
  if (vs->dtls != NULL) {
    /* close_notify goes out over the current transport before it closes. */
    g_signal_handlers_disconnect_by_data (vs->dtls, vs);
    icecam_dtls_srtp_close (vs->dtls);
    icecam_dtls_srtp_set_send_func (vs->dtls, NULL, NULL, NULL);
  }
  g_signal_handlers_disconnect_by_data (vs->ice, vs);
  self->pending_closes++;
  icecam_ice_session_close_async (vs->ice, session_close_cb, g_object_ref (self));
  viewer_session_free (vs);
  g_signal_emit (self, signals[SIGNAL_SESSION_ENDED], 0, session_id, reason);
}

static void
on_ice_local_candidate (IcecamIceSession *ice, const gchar *candidate, ViewerSession *vs)
{
  g_autoptr (IcecamMessage) msg = icecam_message_new_candidate (vs->id, candidate);

  icecam_signalling_client_send (vs->endpoint->client, msg);
}

static void
on_ice_gathering_done (IcecamIceSession *ice, ViewerSession *vs)
{
  g_autoptr (IcecamMessage) msg = icecam_message_new_end_of_candidates (vs->id);

  icecam_signalling_client_send (vs->endpoint->client, msg);
}

/* A viewer gets media once its pair is selected and DTLS has proved its fingerprint. */
static void
update_active (IcecamCameraEndpoint *self, ViewerSession *vs)
{
  gboolean active = vs->selected && vs->dtls != NULL &&
                    icecam_dtls_srtp_get_state (vs->dtls) == ICECAM_DTLS_STATE_CONNECTED;

  if (active == vs->active)
    return;
  g_mutex_lock (&self->lock);
  vs->active = active;
  /* Packets already on their way hold only the end of a frame or frames that depend on ones
   * this viewer never got: its stream starts at the next keyframe. */
  if (active)
    g_atomic_int_set (vs->started, !self->start_on_keyframe);
  rebuild_active (self);
  g_mutex_unlock (&self->lock);
  /* A joining viewer can decode nothing before a keyframe: ask for one now. */
  if (active)
    request_keyframe (self);
}

static void
on_ice_pair_selected (IcecamIceSession *ice, IcecamPairInfo *info, ViewerSession *vs)
{
  IcecamCameraEndpoint *self = vs->endpoint;

  cancel_connect_timeout (vs);
  vs->restarts = 0;
  vs->selected = TRUE;
  update_active (self, vs);
  g_signal_emit (self, signals[SIGNAL_PAIR_SELECTED], 0, vs->id, info);
}

static void
on_dtls_state_changed (IcecamDtlsSrtp *dtls, guint state, ViewerSession *vs)
{
  IcecamCameraEndpoint *self = vs->endpoint;
  const GError *error = icecam_dtls_srtp_get_error (dtls);
  g_autofree gchar *reason = NULL;

  switch (state) {
    case ICECAM_DTLS_STATE_CONNECTED:
      g_info ("camera %s: session %s: DTLS-SRTP with %s connected", self->camera_id, vs->id,
              vs->viewer);
      update_active (self, vs);
      break;
    case ICECAM_DTLS_STATE_FAILED:
      reason = g_strdup_printf ("DTLS-SRTP with the viewer failed: %s",
                                error != NULL ? error->message : "unknown error");
      remove_session (self, vs->id, reason, TRUE);
      break;
    case ICECAM_DTLS_STATE_CLOSED:
      remove_session (self, vs->id, "the viewer closed DTLS", TRUE);
      break;
    default:
      break;
  }
}

static void restart_session (IcecamCameraEndpoint *self, ViewerSession *vs);

static void
on_ice_state_changed (IcecamIceSession *ice, guint state, ViewerSession *vs)
{
  g_autofree gchar *reason = NULL;
  g_autofree gchar *candidates = NULL;

  if (state != ICECAM_ICE_STATE_FAILED)
    return;
  /* A path that worked and died (a NAT forgot the mapping, an interface went away) may work
   * again on another pair: restart ICE within the same session. */
  if (vs->active && vs->restarts < MAX_RESTARTS) {
    restart_session (vs->endpoint, vs);
    return;
  }
  candidates = icecam_ice_session_describe_candidates (ice);
  reason = g_strdup_printf (vs->active ? "connection to the viewer lost (%s)"
                                       : "no ICE candidate pair works (%s)", candidates);
  remove_session (vs->endpoint, vs->id, reason, TRUE);
}

static void
on_ice_receive (const guint8 *data, gsize length, gpointer user_data)
{
  ViewerSession *vs = user_data;
  guint8 plain[RECEIVE_BUFFER_SIZE];
  gsize plain_length = sizeof plain;
  g_autoptr (GError) error = NULL;

  /* Nothing is trusted before the answer named the viewer's fingerprint. */
  if (vs->dtls == NULL || length > sizeof plain)
    return;
  switch (icecam_dtls_srtp_handle_incoming (vs->dtls, data, length, plain, &plain_length,
                                            &error)) {
    case ICECAM_DTLS_SRTP_RESULT_MEDIA:
      if (icecam_rtcp_has_keyframe_request (plain, plain_length))
        request_keyframe (vs->endpoint);
      break;
    case ICECAM_DTLS_SRTP_RESULT_DROPPED:
      g_debug ("camera %s: session %s: dropped a packet: %s", vs->endpoint->camera_id, vs->id,
               error != NULL ? error->message : "unknown");
      break;
    case ICECAM_DTLS_SRTP_RESULT_CONSUMED:
    default:
      break;
  }
}

/* DTLS records go out over whichever ICE transport the session has now. Worker thread. */
static void
dtls_send_cb (const guint8 *data, gsize length, gpointer user_data)
{
  ViewerSession *vs = user_data;

  icecam_ice_session_send (vs->ice, data, length);
}

static void
send_offer (IcecamCameraEndpoint *self, ViewerSession *vs)
{
  g_autoptr (IcecamSdp) sdp = icecam_sdp_new ();
  g_autoptr (IcecamMessage) offer = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = NULL;

  g_mutex_lock (&self->lock);
  sdp->media = g_strdup (self->media->media);
  sdp->payload_type = self->media->payload_type;
  sdp->rtpmap = g_strdup (self->media->rtpmap);
  sdp->fmtp = g_strdup (self->media->fmtp);
  g_mutex_unlock (&self->lock);
  sdp->direction = ICECAM_SDP_DIRECTION_SENDONLY;
  sdp->fingerprint = g_strdup (icecam_certificate_get_fingerprint (self->certificate));
  sdp->setup = g_strdup ("actpass");
  icecam_ice_session_get_local_credentials (vs->ice, &sdp->ice_ufrag, &sdp->ice_pwd);

  text = icecam_sdp_to_string (sdp, g_random_int ());
  offer = icecam_message_new_offer (vs->id, text);
  icecam_signalling_client_send (self->client, offer);
  vs->offered = TRUE;

  /* Candidates trickle after the offer, so the viewer always has the credentials first. */
  if (!icecam_ice_session_gather (vs->ice, &error))
    remove_session (self, vs->id, error->message, TRUE);
}

static gboolean
send_pending_offers (gpointer data)
{
  IcecamCameraEndpoint *self = data;
  g_autoptr (GPtrArray) pending = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  ViewerSession *vs;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &vs)) {
    if (!vs->offered)
      g_ptr_array_add (pending, g_strdup (vs->id));
  }
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < pending->len; i++) {
    vs = g_hash_table_lookup (self->sessions, g_ptr_array_index (pending, i));
    if (vs != NULL && !vs->offered)
      send_offer (self, vs);
  }
  return G_SOURCE_REMOVE;
}

static gboolean
on_connect_timeout (gpointer data)
{
  ViewerSession *vs = data;

  g_clear_pointer (&vs->connect_timeout, g_source_unref);
  remove_session (vs->endpoint, vs->id, "no ICE pair within " G_STRINGIFY (CONNECT_TIMEOUT_S)
                  " s", TRUE);
  return G_SOURCE_REMOVE;
}

/* A new ICE transport for @vs: fresh credentials, fresh gathering, a deadline. */
static IcecamIceSession *
create_ice (IcecamCameraEndpoint *self, ViewerSession *vs, GError **error)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_for_session (
    self->user_config, vs->ice_servers, self->welcome_servers,
    icecam_signalling_client_server_is_loopback (self->client));
  IcecamIceSession *ice = icecam_ice_session_new (config, TRUE, error);

  if (ice == NULL)
    return NULL;
  g_signal_connect (ice, "local-candidate", G_CALLBACK (on_ice_local_candidate), vs);
  g_signal_connect (ice, "gathering-done", G_CALLBACK (on_ice_gathering_done), vs);
  g_signal_connect (ice, "pair-selected", G_CALLBACK (on_ice_pair_selected), vs);
  g_signal_connect (ice, "state-changed", G_CALLBACK (on_ice_state_changed), vs);
  icecam_ice_session_set_receive_func (ice, on_ice_receive, vs, NULL);
  cancel_connect_timeout (vs);
  vs->connect_timeout = g_timeout_source_new_seconds (CONNECT_TIMEOUT_S);
  g_source_set_callback (vs->connect_timeout, on_connect_timeout, vs, NULL);
  g_source_attach (vs->connect_timeout, self->context);
  return ice;
}

static void
restart_session (IcecamCameraEndpoint *self, ViewerSession *vs)
{
  g_autoptr (GError) error = NULL;
  IcecamIceSession *old = vs->ice;
  IcecamIceSession *ice = create_ice (self, vs, &error);

  if (ice == NULL) {
    remove_session (self, vs->id, error->message, TRUE);
    return;
  }
  vs->restarts++;
  g_message ("camera %s: session %s: path to %s lost, ICE restart %u", self->camera_id, vs->id,
             vs->viewer, vs->restarts);
  g_mutex_lock (&self->lock);
  vs->ice = ice;
  vs->active = FALSE;
  vs->selected = FALSE;
  vs->offered = FALSE;
  rebuild_active (self);
  g_mutex_unlock (&self->lock);

  g_signal_handlers_disconnect_by_data (old, vs);
  self->pending_closes++;
  icecam_ice_session_close_async (old, session_close_cb, g_object_ref (self));
  g_object_unref (old);
  g_signal_emit (self, signals[SIGNAL_SESSION_RESTARTED], 0, vs->id);
  send_offer (self, vs);
}

static void
start_session (IcecamCameraEndpoint *self, const IcecamMessage *msg)
{
  g_autoptr (GError) error = NULL;
  ViewerSession *vs;
  gboolean have_media;

  if (g_hash_table_size (self->sessions) >= self->max_viewers) {
    g_autoptr (IcecamMessage) bye = icecam_message_new_bye (msg->session, ICECAM_BYE_CODE_FULL,
                                                             "camera is full");

    g_message ("camera %s: refusing %s: already %u viewers", self->camera_id, msg->peer,
               self->max_viewers);
    icecam_signalling_client_send (self->client, bye);
    return;
  }
  if (g_hash_table_contains (self->sessions, msg->session))
    return;
  vs = g_new0 (ViewerSession, 1);
  vs->endpoint = self;
  vs->started = g_atomic_rc_box_new0 (gint);
  vs->id = g_strdup (msg->session);
  vs->viewer = g_strdup (msg->peer ? msg->peer : "viewer");
  if (msg->ice_servers != NULL)
    vs->ice_servers = g_ptr_array_ref (msg->ice_servers);
  vs->ice = create_ice (self, vs, &error);
  if (vs->ice == NULL) {
    g_autoptr (IcecamMessage) bye = icecam_message_new_bye (msg->session, ICECAM_BYE_CODE_FAILED,
                                                             error->message);

    g_warning ("camera %s: cannot start an ICE session: %s", self->camera_id, error->message);
    icecam_signalling_client_send (self->client, bye);
    viewer_session_free (vs);
    return;
  }

  g_mutex_lock (&self->lock);
  g_hash_table_insert (self->sessions, vs->id, vs);
  have_media = self->media != NULL;
  g_mutex_unlock (&self->lock);

  g_info ("camera %s: session %s for %s", self->camera_id, vs->id, vs->viewer);
  g_signal_emit (self, signals[SIGNAL_SESSION_STARTED], 0, vs->id, vs->viewer);
  if (have_media)
    send_offer (self, vs);
}

/* The DTLS association of @vs, created from the first answer; a restart's answer must name
 * the same certificate. */
static gboolean
setup_dtls (IcecamCameraEndpoint *self, ViewerSession *vs, const IcecamSdp *sdp,
            GError **error)
{
  g_autofree gchar *fingerprint = NULL;

  if (sdp->fingerprint == NULL || g_strcmp0 (sdp->setup, "active") != 0) {
    g_set_error (error, ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_FINGERPRINT,
                 "the answer must carry a=fingerprint and a=setup:active (got %s, setup %s)",
                 sdp->fingerprint ? sdp->fingerprint : "no fingerprint",
                 sdp->setup ? sdp->setup : "none");
    return FALSE;
  }
  fingerprint = icecam_fingerprint_normalize (sdp->fingerprint, error);
  if (fingerprint == NULL)
    return FALSE;
  if (vs->dtls != NULL) {
    if (g_strcmp0 (fingerprint, vs->remote_fingerprint) == 0)
      return TRUE;
    g_set_error (error, ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_FINGERPRINT,
                 "the viewer's fingerprint changed from %s to %s", vs->remote_fingerprint,
                 fingerprint);
    return FALSE;
  }
  vs->dtls = icecam_dtls_srtp_new (self->certificate, FALSE, fingerprint, error);
  if (vs->dtls == NULL)
    return FALSE;
  vs->remote_fingerprint = g_steal_pointer (&fingerprint);
  icecam_dtls_srtp_set_send_func (vs->dtls, dtls_send_cb, vs, NULL);
  g_signal_connect (vs->dtls, "state-changed", G_CALLBACK (on_dtls_state_changed), vs);
  icecam_dtls_srtp_start (vs->dtls);
  return TRUE;
}

static void
handle_answer (IcecamCameraEndpoint *self, ViewerSession *vs, const gchar *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamSdp) sdp = icecam_sdp_parse (text, &error);

  if (sdp == NULL || !setup_dtls (self, vs, sdp, &error) ||
      !icecam_ice_session_set_remote_credentials (vs->ice, sdp->ice_ufrag,
                                                                 sdp->ice_pwd, &error)) {
    g_autofree gchar *reason = g_strdup_printf ("unusable answer: %s", error->message);

    remove_session (self, vs->id, reason, TRUE);
    return;
  }
  for (guint i = 0; i < sdp->candidates->len; i++) {
    g_clear_error (&error);
    if (!icecam_ice_session_add_remote_candidate (vs->ice, g_ptr_array_index (sdp->candidates, i),
                                                  &error))
      g_debug ("camera %s: session %s: %s", self->camera_id, vs->id, error->message);
  }
}

static void
on_welcome (IcecamCameraEndpoint *self, const IcecamMessage *msg)
{
  g_ptr_array_set_size (self->welcome_servers, 0);
  for (guint i = 0; msg->ice_servers != NULL && i < msg->ice_servers->len; i++)
    g_ptr_array_add (self->welcome_servers,
                     icecam_ice_server_copy (g_ptr_array_index (msg->ice_servers, i)));
  g_info ("camera %s: registered with the rendezvous (seen at %s)", self->camera_id,
          msg->address);
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
      if (vs != NULL)
        handle_answer (self, vs, msg->sdp);
      break;
    case ICECAM_MESSAGE_CANDIDATE:
      if (vs != NULL && !icecam_ice_session_add_remote_candidate (vs->ice, msg->candidate, &error))
        g_debug ("camera %s: session %s: %s", self->camera_id, vs->id, error->message);
      break;
    case ICECAM_MESSAGE_BYE:
      /* The viewer lost its signalling, not necessarily its path: consent freshness ends the
       * session within ~10 s if the viewer is really gone. */
      if (vs != NULL && vs->active && msg->bye_code == ICECAM_BYE_CODE_PEER_LEFT) {
        g_info ("camera %s: session %s: viewer left the rendezvous, media continues",
                self->camera_id, vs->id);
        break;
      }
      remove_session (self, msg->session, msg->reason ? msg->reason : "viewer left", FALSE);
      break;
    case ICECAM_MESSAGE_ERROR:
      /* A message about a session the rendezvous already closed (a trickled candidate
       * racing the viewer's bye) is routine, not a warning. */
      if (msg->error_code == ICECAM_ERROR_CODE_UNKNOWN_SESSION)
        g_debug ("camera %s: rendezvous says %s: %s", self->camera_id,
                 icecam_error_code_to_string (msg->error_code), msg->text);
      else
        g_warning ("camera %s: rendezvous says %s: %s", self->camera_id,
                   icecam_error_code_to_string (msg->error_code), msg->text);
      if (msg->session != NULL)
        remove_session (self, msg->session,
                        msg->error_code == ICECAM_ERROR_CODE_UNKNOWN_SESSION
                          ? "the viewer is gone (the rendezvous no longer knows the session)"
                          : msg->text,
                        FALSE);
      break;
    case ICECAM_MESSAGE_END_OF_CANDIDATES:
      if (vs != NULL)
        icecam_ice_session_set_remote_gathering_done (vs->ice);
      break;
    case ICECAM_MESSAGE_PRESENCE:
    default:
      break;
  }
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
  /* A camera waits for its rendezvous, however long it takes. */
  icecam_signalling_client_set_reconnect (client, TRUE);
  g_signal_connect (client, "message", G_CALLBACK (on_client_message), self);
  return self;
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
 * icecam_camera_endpoint_set_media:
 * @media: "video" or "audio"
 * @payload_type: RTP payload type
 * @rtpmap: e.g. "H264/90000"
 * @fmtp: (nullable): format parameters
 *
 * Describes the RTP stream; sessions waiting for it get their offer. Thread-safe.
 */
void
icecam_camera_endpoint_set_media (IcecamCameraEndpoint *self, const gchar *media,
                                  guint payload_type, const gchar *rtpmap, const gchar *fmtp)
{
  IcecamSdp *sdp = icecam_sdp_new ();

  sdp->media = g_strdup (media);
  sdp->payload_type = payload_type;
  sdp->rtpmap = g_strdup (rtpmap);
  sdp->fmtp = g_strdup (fmtp);

  g_mutex_lock (&self->lock);
  icecam_sdp_free (self->media);
  self->media = sdp;
  self->start_on_keyframe = g_ascii_strncasecmp (rtpmap, "H264/", 5) == 0;
  g_mutex_unlock (&self->lock);

  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, send_pending_offers,
                              g_object_ref (self), g_object_unref);
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

/**
 * icecam_camera_endpoint_send:
 * @messages: (array length=n_messages): RTP packets
 *
 * Sends the packets to every viewer whose pair is selected. Thread-safe; never blocks.
 *
 * Returns: the number of viewers the packets were handed to
 */
static gsize
message_length (const NiceOutputMessage *message)
{
  gsize length = 0;

  for (gint j = 0; message->n_buffers < 0 ? message->buffers[j].buffer != NULL
                                          : j < message->n_buffers; j++)
    length += message->buffers[j].size;
  return length;
}

/* Gathers each message into one contiguous packet: SRTP protects whole packets. */
static const guint8 **
flatten_messages (const NiceOutputMessage *messages, guint n_messages, gsize *lengths,
                  guint8 **storage)
{
  const guint8 **packets = g_new (const guint8 *, n_messages);
  gsize total = 0;
  guint8 *at;

  for (guint i = 0; i < n_messages; i++) {
    lengths[i] = message_length (&messages[i]);
    if (messages[i].n_buffers != 1)
      total += lengths[i];
  }
  *storage = at = total > 0 ? g_malloc (total) : NULL;
  for (guint i = 0; i < n_messages; i++) {
    if (messages[i].n_buffers == 1) {
      packets[i] = messages[i].buffers[0].buffer;
      continue;
    }
    packets[i] = at;
    for (gint j = 0; messages[i].n_buffers < 0 ? messages[i].buffers[j].buffer != NULL
                                               : j < messages[i].n_buffers; j++) {
      memcpy (at, messages[i].buffers[j].buffer, messages[i].buffers[j].size);
      at += messages[i].buffers[j].size;
    }
  }
  return packets;
}

/**
 * icecam_camera_endpoint_send:
 * @messages: (array length=n_messages): RTP packets
 *
 * Protects the packets with each viewer's SRTP keys and sends them to every viewer whose
 * pair is selected and whose DTLS is connected. Thread-safe; never blocks.
 *
 * Returns: the number of viewers the packets were handed to
 */
guint
icecam_camera_endpoint_send (IcecamCameraEndpoint *self, const NiceOutputMessage *messages,
                             guint n_messages)
{
  g_autoptr (GPtrArray) active = NULL;
  g_autofree gsize *lengths = NULL;
  g_autofree const guint8 **packets = NULL;
  g_autofree guint8 *flat = NULL;
  g_autofree guint8 *scratch = NULL;
  g_autofree GOutputVector *vectors = NULL;
  g_autofree NiceOutputMessage *out = NULL;
  gsize room = 0;

  g_mutex_lock (&self->lock);
  active = g_ptr_array_ref (self->active);
  g_mutex_unlock (&self->lock);
  if (active->len == 0 || n_messages == 0)
    return active->len;

  lengths = g_new (gsize, n_messages);
  packets = flatten_messages (messages, n_messages, lengths, &flat);
  for (guint i = 0; i < n_messages; i++)
    room = MAX (room, lengths[i] + ICECAM_SRTP_MAX_OVERHEAD);
  scratch = g_malloc (room * n_messages);
  vectors = g_new (GOutputVector, n_messages);
  out = g_new (NiceOutputMessage, n_messages);

  /* Encoded once; the ciphertext differs per viewer (each has its own keys). */
  for (guint v = 0; v < active->len; v++) {
    ActiveViewer *av = g_ptr_array_index (active, v);
    guint n_out = 0;

    for (guint i = 0; i < n_messages; i++) {
      guint8 *cipher = scratch + (gsize) n_out * room;
      gsize cipher_length = room;

      if (!g_atomic_int_get (av->started)) {
        if (!icecam_rtp_h264_starts_keyframe (packets[i], lengths[i]))
          continue;
        g_atomic_int_set (av->started, TRUE);
      }
      if (!icecam_dtls_srtp_protect_rtp (av->dtls, packets[i], lengths[i], cipher,
                                         &cipher_length))
        continue;
      vectors[n_out].buffer = cipher;
      vectors[n_out].size = cipher_length;
      out[n_out].buffers = &vectors[n_out];
      out[n_out].n_buffers = 1;
      n_out++;
    }
    if (n_out > 0)
      icecam_ice_session_send_messages (av->ice, out, n_out);
  }
  return active->len;
}

/**
 * icecam_camera_endpoint_get_stats:
 *
 * Thread-safe.
 *
 * Returns: (transfer container) (element-type IcecamSessionStats): one entry per session
 */
GPtrArray *
icecam_camera_endpoint_get_stats (IcecamCameraEndpoint *self)
{
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_session_stats_free);
  GHashTableIter iter;
  ViewerSession *vs;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &vs)) {
    IcecamSessionStats *stats = g_new0 (IcecamSessionStats, 1);

    stats->session = g_strdup (vs->id);
    stats->viewer = g_strdup (vs->viewer);
    stats->state = icecam_ice_session_get_state (vs->ice);
    stats->pair = icecam_ice_session_get_pair_info (vs->ice);
    icecam_ice_session_get_stats (vs->ice, &stats->ice);
    g_ptr_array_add (all, stats);
  }
  g_mutex_unlock (&self->lock);
  return all;
}

guint
icecam_camera_endpoint_get_n_viewers (IcecamCameraEndpoint *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->active->len;
  g_mutex_unlock (&self->lock);
  return n;
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

    remove_session (self, id, "camera stopped", TRUE);
  }
  g_clear_handle_id (&self->keyframe_source_id, g_source_remove);
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

  if (self->client != NULL)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  if (self->keyframe_source_id != 0) {
    GSource *source = g_main_context_find_source_by_id (self->context, self->keyframe_source_id);

    if (source != NULL)
      g_source_destroy (source);
    self->keyframe_source_id = 0;
  }
  G_OBJECT_CLASS (icecam_camera_endpoint_parent_class)->dispose (object);
}

static void
icecam_camera_endpoint_finalize (GObject *object)
{
  IcecamCameraEndpoint *self = ICECAM_CAMERA_ENDPOINT (object);

  g_hash_table_unref (self->sessions);
  g_ptr_array_unref (self->active);
  icecam_sdp_free (self->media);
  g_clear_object (&self->certificate);
  icecam_ice_config_free (self->user_config);
  g_ptr_array_unref (self->welcome_servers);
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
  signals[SIGNAL_SESSION_STARTED] =
    g_signal_new ("session-started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * IcecamCameraEndpoint::pair-selected:
   * @session: the session id
   * @info: the selected #IcecamPairInfo
   */
  signals[SIGNAL_PAIR_SELECTED] =
    g_signal_new ("pair-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, ICECAM_TYPE_PAIR_INFO);
  /**
   * IcecamCameraEndpoint::session-ended:
   * @session: the session id
   * @reason: why
   */
  signals[SIGNAL_SESSION_ENDED] =
    g_signal_new ("session-ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  /**
   * IcecamCameraEndpoint::session-restarted:
   * @session: the session id
   *
   * The session's path died; a new ICE negotiation (new credentials, new candidates) runs
   * within the same session.
   */
  signals[SIGNAL_SESSION_RESTARTED] =
    g_signal_new ("session-restarted", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * IcecamCameraEndpoint::keyframe-requested:
   *
   * A viewer joined or asked for a keyframe; merged so that at most one is emitted per
   * 200 ms, and none is lost.
   */
  signals[SIGNAL_KEYFRAME_REQUESTED] =
    g_signal_new ("keyframe-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 0);
}

static void
icecam_camera_endpoint_init (IcecamCameraEndpoint *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->sessions = g_hash_table_new (g_str_hash, g_str_equal);
  self->active = g_ptr_array_new_with_free_func ((GDestroyNotify) active_viewer_free);
  self->welcome_servers = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  self->max_viewers = DEFAULT_MAX_VIEWERS;
  self->last_keyframe_request = G_MININT64 / 2;
}
