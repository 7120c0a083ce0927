/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A viewer's session of IcecamCameraEndpoint in a thread of its own: the calls into it, the
 * events out of it, its end. */

#include "icecam-camera-endpoint-private.h"

/* Why a thread per viewer: one GMainContext for every viewer's ICE agent, timers and stall
 * check walks all of their sources and polls all of their sockets on each wake-up, and every
 * viewer's receiver reports and consent checks wake it, so the camera's cost grew with the
 * square of its viewers (docs/benchmarks.md, sections 19 and 21). In a thread of its own a
 * viewer's wake-ups walk its own few sources; the endpoint's context keeps the signalling and
 * wakes once per event. */

typedef enum {
  CALL_SETUP,
  CALL_CREATE_OFFER,
  CALL_GATHER,
  CALL_RESTART,
  CALL_APPLY_ANSWER,
  CALL_ADD_CANDIDATE,
  CALL_REMOTE_GATHERING_DONE,
  CALL_SIGNALLED_DTLS,
  CALL_SET_ICE_CONFIG,
  CALL_HANDLE_PUNCH,
  CALL_PUNCH_IF_RELAYED,
  CALL_CLOSE,
  CALL_TEARDOWN,
} CallKind;

typedef struct {
  ViewerSession *vs;
  CallKind kind;
  gconstpointer in;  /* what the call takes (its kind says which type) */
  gsize length;
  gboolean flag;
  gpointer out;      /* what it gives back */
  gboolean ok;
  GError *error;
} Call;

/* Until the endpoint's context hears that the peer session closed. */
typedef struct {
  IcecamCameraEndpoint *endpoint;
  IcecamWorker *worker;
  GSourceFunc closed;
  gpointer data;
} Closing;

typedef struct {
  IcecamCameraEndpoint *endpoint;
  gchar *id;
  guint serial;
  IcecamPeerEvent event;
} Posted;

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

static gint last_serial;

/* Session thread → endpoint's context. */

static void
posted_free (gpointer data)
{
  Posted *posted = data;

  g_free (posted->event.text);
  g_clear_pointer (&posted->event.bytes, g_bytes_unref);
  icecam_pair_info_free (posted->event.pair);
  g_clear_error (&posted->event.error);
  icecam_message_free (posted->event.message);
  g_free (posted->id);
  g_object_unref (posted->endpoint);
  g_free (posted);
}

static gboolean
dispatch_posted (gpointer data)
{
  Posted *posted = data;
  IcecamCameraEndpoint *self = posted->endpoint;
  ViewerSession *vs = g_hash_table_lookup (self->sessions, posted->id);

  /* A session that ended meanwhile hears nothing more. */
  if (vs != NULL && vs->serial == posted->serial)
    icecam_camera_endpoint_on_peer_event (self, vs, &posted->event);
  return G_SOURCE_REMOVE;
}

/* In the session's thread: hands @event (its fields taken) to the endpoint's context, in the
 * order posted. */
static void
post (ViewerSession *vs, const IcecamPeerEvent *event)
{
  Posted *posted = g_new0 (Posted, 1);

  posted->endpoint = g_object_ref (vs->endpoint);
  posted->id = g_strdup (vs->id);
  posted->serial = vs->serial;
  posted->event = *event;
  g_main_context_invoke_full (vs->endpoint->context, G_PRIORITY_DEFAULT, dispatch_posted, posted,
                              posted_free);
}

static void
on_local_candidate (IcecamPeerSession *peer, const gchar *candidate, ViewerSession *vs)
{
  post (vs, &(IcecamPeerEvent) { .kind = ICECAM_PEER_EVENT_LOCAL_CANDIDATE,
                                 .text = g_strdup (candidate) });
}

static void
on_signalled_dtls (IcecamPeerSession *peer, GBytes *datagram, ViewerSession *vs)
{
  post (vs, &(IcecamPeerEvent) { .kind = ICECAM_PEER_EVENT_SIGNALLED_DTLS,
                                 .bytes = g_bytes_ref (datagram) });
}

static void
on_gathering_done (IcecamPeerSession *peer, ViewerSession *vs)
{
  post (vs, &(IcecamPeerEvent) { .kind = ICECAM_PEER_EVENT_GATHERING_DONE });
}

static void
on_pair_selected (IcecamPeerSession *peer, IcecamPairInfo *info, ViewerSession *vs)
{
  post (vs, &(IcecamPeerEvent) { .kind = ICECAM_PEER_EVENT_PAIR_SELECTED,
                                 .pair = icecam_pair_info_copy (info) });
}

static void
on_state_changed (IcecamPeerSession *peer, guint state, ViewerSession *vs)
{
  const GError *error = icecam_peer_session_get_error (peer);

  post (vs, &(IcecamPeerEvent) { .kind = ICECAM_PEER_EVENT_STATE_CHANGED, .state = state,
                                 .error = error != NULL ? g_error_copy (error) : NULL });
}

static void
on_negotiation_needed (IcecamPeerSession *peer, ViewerSession *vs)
{
  post (vs, &(IcecamPeerEvent) { .kind = ICECAM_PEER_EVENT_NEGOTIATION_NEEDED });
}

static void
on_media_stalled (IcecamPeerSession *peer, ViewerSession *vs)
{
  post (vs, &(IcecamPeerEvent) { .kind = ICECAM_PEER_EVENT_MEDIA_STALLED });
}

static void
on_received (const guint8 *data, gsize length, gpointer user_data)
{
  post (user_data, &(IcecamPeerEvent) { .kind = ICECAM_PEER_EVENT_RECEIVED,
                                        .bytes = g_bytes_new (data, length) });
}

static void
send_punch_cb (IcecamMessage *msg, gpointer user_data)
{
  post (user_data, &(IcecamPeerEvent) { .kind = ICECAM_PEER_EVENT_PUNCH_MESSAGE,
                                        .message = msg });
}

static void
use_punched_path_cb (IcecamPunch *punch, gpointer user_data)
{
  ViewerSession *vs = user_data;

  icecam_peer_session_use_punched_path (vs->peer, punch);
}

/* In the session's thread: what the endpoint asked of it. */

static void
setup (Call *call)
{
  ViewerSession *vs = call->vs;
  IcecamCameraEndpoint *self = vs->endpoint;
  const IcecamIceConfig *config = call->in;
  /* Only the endpoint's thread changes the welcome, and it waits for this call. */
  const IcecamMessage *welcome = icecam_signalling_client_get_welcome (self->client);

  vs->peer = icecam_peer_session_new (vs->id, ICECAM_PEER_ROLE_OFFERER, self->certificate,
                                      config, &call->error);
  if (vs->peer == NULL)
    return;
  icecam_peer_session_set_policy (vs->peer, &camera_policy);
  icecam_peer_session_set_capture_clock (vs->peer, self->capture_clock);
  vs->punch = icecam_punch_session_new_for_config ("icecam-camera", vs->id, config, welcome,
                                                   send_punch_cb, vs);
  if (vs->punch != NULL)
    icecam_punch_session_set_path_func (vs->punch, use_punched_path_cb);
  /* The DTLS handshake beside ICE, through the rendezvous, when it relays `dtls`. */
  icecam_peer_session_set_signalled_dtls (
    vs->peer, welcome != NULL && (welcome->features & ICECAM_FEATURE_DTLS));
  g_signal_connect (vs->peer, "local-candidate", G_CALLBACK (on_local_candidate), vs);
  g_signal_connect (vs->peer, "signalled-dtls", G_CALLBACK (on_signalled_dtls), vs);
  g_signal_connect (vs->peer, "gathering-done", G_CALLBACK (on_gathering_done), vs);
  g_signal_connect (vs->peer, "pair-selected", G_CALLBACK (on_pair_selected), vs);
  g_signal_connect (vs->peer, "state-changed", G_CALLBACK (on_state_changed), vs);
  g_signal_connect (vs->peer, "negotiation-needed", G_CALLBACK (on_negotiation_needed), vs);
  g_signal_connect (vs->peer, "media-stalled", G_CALLBACK (on_media_stalled), vs);
  icecam_peer_session_set_receive_func (vs->peer, on_received, vs, NULL);
  call->ok = TRUE;
}

static gboolean
closing_done (gpointer data)
{
  Closing *closing = data;

  /* The session's thread has nothing left to run: the peer session was its last object. */
  icecam_worker_free (g_steal_pointer (&closing->worker));
  closing->closed (closing->data);
  return G_SOURCE_REMOVE;
}

static void
closing_free (gpointer data)
{
  Closing *closing = data;

  icecam_worker_free (closing->worker); /* the endpoint's context went away first */
  g_object_unref (closing->endpoint);
  g_free (closing);
}

static void
peer_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Closing *closing = user_data;

  g_main_context_invoke_full (closing->endpoint->context, G_PRIORITY_DEFAULT, closing_done,
                              closing, closing_free);
}

/* Nothing of the session calls out to the endpoint after this. */
static void
disconnect (ViewerSession *vs)
{
  g_signal_handlers_disconnect_by_data (vs->peer, vs);
  icecam_peer_session_set_receive_func (vs->peer, NULL, NULL, NULL);
  g_clear_pointer (&vs->punch, icecam_punch_session_free);
}

static gboolean
run_call (gpointer data)
{
  Call *call = data;
  ViewerSession *vs = call->vs;

  switch (call->kind) {
    case CALL_SETUP:
      setup (call);
      break;
    case CALL_CREATE_OFFER:
      call->out = icecam_peer_session_create_offer (vs->peer, call->in, &call->error);
      break;
    case CALL_GATHER:
      /* A failure fails the session, which the endpoint hears of as an event. */
      icecam_peer_session_gather (vs->peer, NULL);
      break;
    case CALL_RESTART:
      icecam_peer_session_restart (vs->peer, NULL);
      break;
    case CALL_APPLY_ANSWER:
      /* An unusable answer fails the session, the same way. */
      icecam_peer_session_apply_remote_description (vs->peer, call->in, NULL, NULL);
      break;
    case CALL_ADD_CANDIDATE:
      call->ok = icecam_peer_session_add_remote_candidate (vs->peer, call->in, &call->error);
      break;
    case CALL_REMOTE_GATHERING_DONE:
      icecam_peer_session_set_remote_gathering_done (vs->peer);
      break;
    case CALL_SIGNALLED_DTLS:
      icecam_peer_session_receive_signalled_dtls (vs->peer, call->in, call->length);
      break;
    case CALL_SET_ICE_CONFIG:
      icecam_peer_session_set_ice_config (vs->peer, call->in);
      break;
    case CALL_HANDLE_PUNCH:
      if (vs->punch != NULL) {
        icecam_punch_session_set_transport (vs->punch,
                                            icecam_peer_session_get_transport_number (vs->peer));
        icecam_punch_session_handle (vs->punch, call->in);
      }
      break;
    case CALL_PUNCH_IF_RELAYED:
      if (vs->punch != NULL) {
        icecam_punch_session_set_transport (vs->punch,
                                            icecam_peer_session_get_transport_number (vs->peer));
        icecam_punch_session_start_if_relayed (vs->punch,
                                               icecam_peer_session_get_pair_info (vs->peer));
      }
      break;
    case CALL_CLOSE:
      disconnect (vs);
      /* The close holds the peer session until its transports are closed; its last
       * reference goes here, in its thread. */
      icecam_peer_session_close_async (vs->peer, peer_closed_cb, call->out);
      g_clear_object (&vs->peer);
      break;
    case CALL_TEARDOWN:
      if (vs->peer != NULL) {
        disconnect (vs);
        g_clear_object (&vs->peer);
      }
      g_clear_pointer (&vs->punch, icecam_punch_session_free);
      break;
  }
  return G_SOURCE_REMOVE;
}

/* Runs @call in @vs's thread and waits for it. */
static void
call_session (ViewerSession *vs, Call *call)
{
  call->vs = vs;
  if (vs->peer == NULL && call->kind != CALL_SETUP && call->kind != CALL_TEARDOWN)
    return; /* closed */
  icecam_worker_call (vs->worker, run_call, call);
}

/* The endpoint's side. */

/**
 * icecam_viewer_session_new:
 * @id: the session's id
 * @viewer: the viewer's id
 * @config: the session's ICE settings
 *
 * Starts the session's thread and makes the peer session (the offerer) there, with its
 * punching and the endpoint's handlers.
 *
 * Returns: (transfer full) (nullable): the session, not in the endpoint's table yet
 */
ViewerSession *
icecam_viewer_session_new (IcecamCameraEndpoint *self, const gchar *id, const gchar *viewer,
                           const IcecamIceConfig *config, GError **error)
{
  ViewerSession *vs = g_new0 (ViewerSession, 1);
  Call call = { .kind = CALL_SETUP, .in = config };

  vs->endpoint = self;
  vs->id = g_strdup (id);
  vs->serial = (guint) g_atomic_int_add (&last_serial, 1) + 1;
  vs->viewer = g_strdup (viewer);
  vs->rtx = icecam_retransmitter_new ();
  vs->worker = icecam_worker_new ("icecam-viewer");
  call_session (vs, &call);
  if (!call.ok) {
    g_propagate_error (error, call.error);
    icecam_viewer_session_free (vs);
    return NULL;
  }
  return vs;
}

/**
 * icecam_viewer_session_close:
 * @closed: called in the endpoint's context once the peer session's transports are closed
 *   (TURN allocations released) and its thread has ended
 *
 * Ends the session (DTLS close_notify while the path exists) and frees @vs now; nothing of
 * it reaches icecam_camera_endpoint_on_peer_event() any more.
 */
void
icecam_viewer_session_close (ViewerSession *vs, GSourceFunc closed, gpointer data)
{
  Closing *closing = g_new0 (Closing, 1);
  Call call = { .kind = CALL_CLOSE, .out = closing };

  closing->endpoint = g_object_ref (vs->endpoint);
  closing->worker = vs->worker;
  closing->closed = closed;
  closing->data = data;
  call_session (vs, &call);
  vs->worker = NULL; /* now the closing's: it ends once the peer session has closed */
  icecam_viewer_session_free (vs);
}

/**
 * icecam_viewer_session_free:
 *
 * Drops the peer session without closing it (its transports close as they go), ends the
 * session's thread and frees @vs.
 */
void
icecam_viewer_session_free (ViewerSession *vs)
{
  if (vs->worker != NULL) {
    Call call = { .kind = CALL_TEARDOWN };

    call_session (vs, &call);
    icecam_worker_free (vs->worker);
  }
  g_free (vs->id);
  g_free (vs->viewer);
  icecam_retransmitter_free (vs->rtx);
  g_free (vs);
}

gchar *
icecam_viewer_session_create_offer (ViewerSession *vs, const IcecamSdp *media, GError **error)
{
  Call call = { .kind = CALL_CREATE_OFFER, .in = media };

  call_session (vs, &call);
  if (call.out == NULL) {
    if (call.error == NULL)
      call.error = g_error_new_literal (ICECAM_PEER_SESSION_ERROR,
                                        ICECAM_PEER_SESSION_ERROR_STATE, "the session is closed");
    g_propagate_error (error, call.error);
  }
  return call.out;
}

void
icecam_viewer_session_gather (ViewerSession *vs)
{
  call_session (vs, &(Call) { .kind = CALL_GATHER });
}

void
icecam_viewer_session_restart (ViewerSession *vs)
{
  call_session (vs, &(Call) { .kind = CALL_RESTART });
}

void
icecam_viewer_session_apply_answer (ViewerSession *vs, const gchar *sdp)
{
  call_session (vs, &(Call) { .kind = CALL_APPLY_ANSWER, .in = sdp });
}

gboolean
icecam_viewer_session_add_remote_candidate (ViewerSession *vs, const gchar *candidate,
                                            GError **error)
{
  Call call = { .kind = CALL_ADD_CANDIDATE, .in = candidate };

  call_session (vs, &call);
  if (call.error != NULL)
    g_propagate_error (error, call.error);
  return call.ok;
}

void
icecam_viewer_session_set_remote_gathering_done (ViewerSession *vs)
{
  call_session (vs, &(Call) { .kind = CALL_REMOTE_GATHERING_DONE });
}

void
icecam_viewer_session_receive_signalled_dtls (ViewerSession *vs, const guint8 *datagram,
                                              gsize length)
{
  call_session (vs, &(Call) { .kind = CALL_SIGNALLED_DTLS, .in = datagram, .length = length });
}

void
icecam_viewer_session_set_ice_config (ViewerSession *vs, const IcecamIceConfig *config)
{
  call_session (vs, &(Call) { .kind = CALL_SET_ICE_CONFIG, .in = config });
}

/* A `punch` message from the viewer, for the session's current transport. */
void
icecam_viewer_session_handle_punch (ViewerSession *vs, const IcecamMessage *msg)
{
  call_session (vs, &(Call) { .kind = CALL_HANDLE_PUNCH, .in = msg });
}

/* Connected: punching starts if ICE settled on a relayed pair. */
void
icecam_viewer_session_punch_if_relayed (ViewerSession *vs)
{
  call_session (vs, &(Call) { .kind = CALL_PUNCH_IF_RELAYED });
}
