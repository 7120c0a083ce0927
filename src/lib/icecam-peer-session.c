/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One camera↔viewer session: ICE transport, DTLS-SRTP, SDP, restarts; no signalling. */

#include "icecam-peer-session.h"

#include "icecam-rtcp.h"

/* Room for one datagram from the peer: an MTU-sized SRTP packet or DTLS flight. */
#define RECEIVE_BUFFER_SIZE 2048
/* DTLS datagrams kept while no pair is selected: a handshake flight is a few. */
#define MAX_PENDING_DTLS 16
/* How often a CONNECTED session with a media timeout looks at the time of its last packet. */
#define STALL_CHECK_INTERVAL_MS 250

/**
 * IcecamPeerSession:
 *
 * Everything between one camera and one viewer once the rendezvous has paired them: an
 * #IcecamIceSession (a new one for every ICE restart), the #IcecamDtlsSrtp association
 * (made from the first remote description, kept across restarts: the keys survive a change
 * of path), the offer and answer SDP, the DTLS/SRTP/RTCP demultiplexing of what arrives, and
 * the restart and timeout policy. It never talks to the rendezvous: the caller sends what
 * it produces (descriptions, "local-candidate", "gathering-done") and feeds in what the
 * peer sent.
 *
 * The offerer (camera) is the controlling ICE agent and the DTLS server; when a path that
 * carried media dies it restarts ICE by itself, emitting "negotiation-needed" for the next
 * offer. The answerer (viewer) is controlled and the DTLS client; when its path dies it
 * emits "negotiation-needed" (ask the offerer to restart) and waits
 * #IcecamPeerPolicy.recovery_timeout_s for an offer with new credentials.
 *
 * DTLS records that the handshake produces before any pair is selected (a ClientHello
 * answered before the agent has picked a pair) are queued and sent when it is, not left to
 * the DTLS retransmission timer.
 *
 * Signals and the receive function run in the GMainContext that was thread-default when the
 * session was created; all functions must be called there, except _send_rtp(),
 * _send_rtcp(), _get_state(), _get_ice_state(), _get_pair_info() and _get_stats(), which are
 * thread-safe.
 */
struct _IcecamPeerSession {
  GObject parent;

  gchar *id;
  IcecamPeerRole role;
  IcecamCertificate *certificate;
  IcecamIceConfig *config;        /* for the next ICE transport */
  IcecamPeerPolicy policy;
  GMainContext *context;
  gchar *pinned_fingerprint;      /* normalised; answerer only */
  gchar *remote_fingerprint;      /* normalised, from the first remote description */
  gchar *remote_ufrag;            /* of the remote description the transport uses */
  GError *error;
  guint restarts;                 /* in a row, since the last selected pair */
  gboolean transport_needed;      /* offerer: the next offer makes a new ICE transport */
  GSource *connect_timeout;
  GSource *recovery_timeout;
  GSource *stall_check;           /* while CONNECTED with a media timeout */
  gint64 last_receive;            /* monotonic µs of the last packet from the peer; 0: none
                                   * since the session last became CONNECTED */
  gboolean stalled;               /* "media-stalled" was emitted for the current silence */

  IcecamPeerReceiveFunc receive_func;
  gpointer receive_data;
  GDestroyNotify receive_notify;

  guint pending_closes;           /* ICE transports still closing */
  GTask *close_task;

  GMutex lock;                    /* protects the fields below */
  IcecamPeerState state;
  IcecamIceSession *ice;          /* the current transport; NULL between a death and a restart */
  IcecamDtlsSrtp *dtls;           /* from the first remote description on */
  gboolean selected;              /* the current transport has a selected pair */
  GQueue pending_dtls;            /* GBytes: DTLS records waiting for a selected pair */
};

G_DEFINE_TYPE (IcecamPeerSession, icecam_peer_session, G_TYPE_OBJECT)
G_DEFINE_QUARK (icecam-peer-session-error-quark, icecam_peer_session_error)

enum {
  SIGNAL_LOCAL_CANDIDATE,
  SIGNAL_GATHERING_DONE,
  SIGNAL_PAIR_SELECTED,
  SIGNAL_STATE_CHANGED,
  SIGNAL_NEGOTIATION_NEEDED,
  SIGNAL_MEDIA_STALLED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void transport_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data);

const gchar *
icecam_peer_state_to_string (IcecamPeerState state)
{
  static const gchar *names[] = { "new", "negotiating", "connecting", "connected", "restarting",
                                  "closed", "failed" };

  return state < G_N_ELEMENTS (names) ? names[state] : "unknown";
}

static gboolean
state_is_final (IcecamPeerState state)
{
  return state == ICECAM_PEER_STATE_CLOSED || state == ICECAM_PEER_STATE_FAILED;
}

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

/* The one place the state changes: lock, compare, set, unlock, then log and emit. */
static void
set_state (IcecamPeerSession *self, IcecamPeerState state)
{
  IcecamPeerState old;

  g_mutex_lock (&self->lock);
  old = self->state;
  if (old == state || state_is_final (old)) {
    g_mutex_unlock (&self->lock);
    return;
  }
  self->state = state;
  g_mutex_unlock (&self->lock);

  if (state != ICECAM_PEER_STATE_CONNECTED)
    clear_source (&self->stall_check);
  g_debug ("peer-session %s: %s -> %s", self->id, icecam_peer_state_to_string (old),
           icecam_peer_state_to_string (state));
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0, (guint) state);
}

static GSource *
add_seconds (IcecamPeerSession *self, guint seconds, GSourceFunc func)
{
  GSource *source = g_timeout_source_new_seconds (seconds);

  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

/* Hands the current transport to libnice to close (TURN released); the session stays alive
 * until it has. */
static void
drop_transport (IcecamPeerSession *self)
{
  IcecamIceSession *ice;

  g_mutex_lock (&self->lock);
  ice = g_steal_pointer (&self->ice);
  self->selected = FALSE;
  g_mutex_unlock (&self->lock);
  clear_source (&self->connect_timeout);
  if (ice == NULL)
    return;
  g_signal_handlers_disconnect_by_data (ice, self);
  icecam_ice_session_set_receive_func (ice, NULL, NULL, NULL);
  self->pending_closes++;
  icecam_ice_session_close_async (ice, transport_closed_cb, g_object_ref (self));
  g_object_unref (ice);
}

static void
close_dtls (IcecamPeerSession *self)
{
  IcecamDtlsSrtp *dtls;

  g_mutex_lock (&self->lock);
  dtls = g_steal_pointer (&self->dtls);
  g_mutex_unlock (&self->lock);
  if (dtls == NULL)
    return;
  g_signal_handlers_disconnect_by_data (dtls, self);
  /* close_notify goes out over the current transport, before it closes. */
  icecam_dtls_srtp_close (dtls);
  icecam_dtls_srtp_set_send_func (dtls, NULL, NULL, NULL);
  g_object_unref (dtls);
}

/* Ends the session with @error (taken) as the reason. */
static void
fail (IcecamPeerSession *self, GError *error)
{
  if (state_is_final (icecam_peer_session_get_state (self))) {
    g_error_free (error);
    return;
  }
  g_debug ("peer-session %s: failed: %s", self->id, error->message);
  self->error = error;
  clear_source (&self->connect_timeout);
  clear_source (&self->recovery_timeout);
  close_dtls (self);
  drop_transport (self);
  set_state (self, ICECAM_PEER_STATE_FAILED);
}

static gboolean
dtls_connected (IcecamPeerSession *self)
{
  return self->dtls != NULL &&
         icecam_dtls_srtp_get_state (self->dtls) == ICECAM_DTLS_STATE_CONNECTED;
}

static gboolean
on_stall_check (gpointer data)
{
  IcecamPeerSession *self = data;
  gint64 silence;

  if (self->last_receive == 0 || self->stalled)
    return G_SOURCE_CONTINUE;
  silence = g_get_monotonic_time () - self->last_receive;
  if (silence < (gint64) self->policy.media_timeout_ms * G_TIME_SPAN_MILLISECOND)
    return G_SOURCE_CONTINUE;
  self->stalled = TRUE;
  g_message ("peer-session %s: nothing from the peer for %" G_GINT64_FORMAT " ms", self->id,
             silence / G_TIME_SPAN_MILLISECOND);
  g_signal_emit (self, signals[SIGNAL_MEDIA_STALLED], 0);
  return G_SOURCE_CONTINUE;
}

/* CONNECTED exactly when the current transport has a pair and DTLS has proved the peer. */
static void
update_connected (IcecamPeerSession *self)
{
  if (!self->selected || !dtls_connected (self))
    return;
  self->restarts = 0;
  clear_source (&self->recovery_timeout);
  /* Silence counts only after the peer has sent something on this path: a peer that never
   * sends (a viewer without RTCP) is not stalled. */
  self->last_receive = 0;
  self->stalled = FALSE;
  if (self->stall_check == NULL && self->policy.media_timeout_ms > 0) {
    self->stall_check = g_timeout_source_new (STALL_CHECK_INTERVAL_MS);
    g_source_set_callback (self->stall_check, on_stall_check, self, NULL);
    g_source_attach (self->stall_check, self->context);
  }
  set_state (self, ICECAM_PEER_STATE_CONNECTED);
}

/* ---- DTLS ----------------------------------------------------------------------------- */

/* Records go out over whichever transport the session has now, or wait for its pair. Any
 * thread (see IcecamDtlsSendFunc). */
static void
dtls_send_cb (const guint8 *data, gsize length, gpointer user_data)
{
  IcecamPeerSession *self = user_data;
  IcecamIceSession *ice = NULL;
  gboolean dropped = FALSE;
  guint waiting;

  g_mutex_lock (&self->lock);
  if (self->selected && self->ice != NULL)
    ice = g_object_ref (self->ice);
  else if (g_queue_get_length (&self->pending_dtls) < MAX_PENDING_DTLS)
    g_queue_push_tail (&self->pending_dtls, g_bytes_new (data, length));
  else
    dropped = TRUE;
  waiting = g_queue_get_length (&self->pending_dtls);
  g_mutex_unlock (&self->lock);
  if (ice == NULL) {
    g_debug ("peer-session %s: no pair yet: %" G_GSIZE_FORMAT "-byte DTLS datagram %s "
             "(%u waiting)", self->id, length, dropped ? "dropped" : "queued", waiting);
    return;
  }
  icecam_ice_session_send (ice, data, length);
  g_object_unref (ice);
}

static void
flush_pending_dtls (IcecamPeerSession *self)
{
  GQueue pending = G_QUEUE_INIT;
  IcecamIceSession *ice = NULL;
  GBytes *bytes;

  g_mutex_lock (&self->lock);
  pending = self->pending_dtls;
  g_queue_init (&self->pending_dtls);
  if (self->ice != NULL)
    ice = g_object_ref (self->ice);
  g_mutex_unlock (&self->lock);

  if (pending.length > 0)
    g_debug ("peer-session %s: pair selected: %u queued DTLS datagrams sent", self->id,
             pending.length);
  while ((bytes = g_queue_pop_head (&pending)) != NULL) {
    gsize length;
    const guint8 *data = g_bytes_get_data (bytes, &length);

    if (ice != NULL)
      icecam_ice_session_send (ice, data, length);
    g_bytes_unref (bytes);
  }
  g_clear_object (&ice);
}

static void
on_dtls_state_changed (IcecamDtlsSrtp *dtls, guint state, IcecamPeerSession *self)
{
  g_autoptr (IcecamPeerSession) hold = g_object_ref (self);
  const GError *error = icecam_dtls_srtp_get_error (dtls);

  switch (state) {
    case ICECAM_DTLS_STATE_CONNECTED:
      g_debug ("peer-session %s: DTLS-SRTP connected, peer proved %s", self->id,
               self->remote_fingerprint);
      update_connected (self);
      break;
    case ICECAM_DTLS_STATE_FAILED:
      fail (self, g_error_new (ICECAM_PEER_SESSION_ERROR,
                               error != NULL && g_error_matches (error, ICECAM_DTLS_SRTP_ERROR,
                                                                 ICECAM_DTLS_SRTP_ERROR_FINGERPRINT)
                                 ? ICECAM_PEER_SESSION_ERROR_FINGERPRINT
                                 : ICECAM_PEER_SESSION_ERROR_DTLS,
                               "DTLS-SRTP failed: %s",
                               error != NULL ? error->message : "unknown error"));
      break;
    case ICECAM_DTLS_STATE_CLOSED:
      fail (self, g_error_new_literal (ICECAM_PEER_SESSION_ERROR,
                                       ICECAM_PEER_SESSION_ERROR_CLOSED, "the peer closed DTLS"));
      break;
    default:
      break;
  }
}

/* Checks the remote description's certificate: the pinned one if any, the same one as
 * before on a restart; makes the DTLS association from the first description. */
static gboolean
setup_dtls (IcecamPeerSession *self, const IcecamSdp *sdp, GError **error)
{
  g_autofree gchar *offered = NULL;
  g_autoptr (GError) local_error = NULL;
  gboolean offerer = self->role == ICECAM_PEER_ROLE_OFFERER;
  const gchar *expected;
  IcecamDtlsSrtp *dtls;

  if (sdp->fingerprint == NULL) {
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_DESCRIPTION,
                 "no a=fingerprint: refusing unencrypted media");
    return FALSE;
  }
  /* The offerer is the DTLS server: its answerer must be active. An answerer takes an
   * offer that lets it be active (actpass, or passive; absent means actpass). */
  if (offerer ? g_strcmp0 (sdp->setup, "active") != 0
              : (sdp->setup != NULL && g_strcmp0 (sdp->setup, "actpass") != 0 &&
                 g_strcmp0 (sdp->setup, "passive") != 0)) {
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_DESCRIPTION,
                 "a=setup:%s does not fit: this side is the DTLS %s", sdp->setup,
                 offerer ? "server" : "client");
    return FALSE;
  }
  offered = icecam_fingerprint_normalize (sdp->fingerprint, &local_error);
  if (offered == NULL) {
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_DESCRIPTION,
                 "%s", local_error->message);
    return FALSE;
  }
  if (self->pinned_fingerprint != NULL && g_strcmp0 (offered, self->pinned_fingerprint) != 0) {
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_FINGERPRINT,
                 "the peer presents fingerprint %s, but %s is pinned", offered,
                 self->pinned_fingerprint);
    return FALSE;
  }
  if (self->remote_fingerprint != NULL) {
    if (g_strcmp0 (offered, self->remote_fingerprint) == 0)
      return TRUE;
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_FINGERPRINT,
                 "the peer's fingerprint changed from %s to %s during the session",
                 self->remote_fingerprint, offered);
    return FALSE;
  }
  expected = self->pinned_fingerprint != NULL ? self->pinned_fingerprint : offered;
  dtls = icecam_dtls_srtp_new (self->certificate, !offerer, expected, &local_error);
  if (dtls == NULL) {
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_DTLS,
                 "cannot set up DTLS: %s", local_error->message);
    return FALSE;
  }
  self->remote_fingerprint = g_strdup (expected);
  icecam_dtls_srtp_set_send_func (dtls, dtls_send_cb, self, NULL);
  g_signal_connect (dtls, "state-changed", G_CALLBACK (on_dtls_state_changed), self);
  g_mutex_lock (&self->lock);
  self->dtls = dtls;
  g_mutex_unlock (&self->lock);
  /* The server waits for the ClientHello at once; the client speaks once a path exists. */
  if (offerer)
    icecam_dtls_srtp_start (dtls);
  return TRUE;
}

/* ---- ICE ------------------------------------------------------------------------------ */

static void
on_ice_local_candidate (IcecamIceSession *ice, const gchar *candidate, IcecamPeerSession *self)
{
  g_signal_emit (self, signals[SIGNAL_LOCAL_CANDIDATE], 0, candidate);
}

static void
on_ice_gathering_done (IcecamIceSession *ice, IcecamPeerSession *self)
{
  g_signal_emit (self, signals[SIGNAL_GATHERING_DONE], 0);
}

static void
on_ice_pair_selected (IcecamIceSession *ice, IcecamPairInfo *info, IcecamPeerSession *self)
{
  g_autoptr (IcecamPeerSession) hold = g_object_ref (self);
  clear_source (&self->connect_timeout);
  g_mutex_lock (&self->lock);
  self->selected = TRUE;
  g_mutex_unlock (&self->lock);
  flush_pending_dtls (self);
  g_signal_emit (self, signals[SIGNAL_PAIR_SELECTED], 0, info);
  if (self->dtls == NULL)
    return;
  /* The DTLS client speaks first, once a path exists; after a restart the association is
   * already connected and media resumes on the new path at once. */
  if (self->role == ICECAM_PEER_ROLE_ANSWERER)
    icecam_dtls_srtp_start (self->dtls);
  update_connected (self);
}

static gboolean
on_recovery_timeout (gpointer data)
{
  IcecamPeerSession *self = data;
  g_autoptr (IcecamPeerSession) hold = g_object_ref (self);

  g_clear_pointer (&self->recovery_timeout, g_source_unref);
  fail (self, g_error_new (ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_ICE,
                           "the path died and no new one was found within %u s",
                           self->policy.recovery_timeout_s));
  return G_SOURCE_REMOVE;
}

/* The path is gone but the DTLS association is not: get a new transport negotiated. */
static void
begin_restart (IcecamPeerSession *self)
{
  drop_transport (self);
  if (self->role == ICECAM_PEER_ROLE_OFFERER)
    self->transport_needed = TRUE;
  if (self->recovery_timeout == NULL && self->policy.recovery_timeout_s > 0)
    self->recovery_timeout = add_seconds (self, self->policy.recovery_timeout_s,
                                          on_recovery_timeout);
  set_state (self, ICECAM_PEER_STATE_RESTARTING);
  g_signal_emit (self, signals[SIGNAL_NEGOTIATION_NEEDED], 0);
}

static void
on_ice_state_changed (IcecamIceSession *ice, guint state, IcecamPeerSession *self)
{
  g_autoptr (IcecamPeerSession) hold = g_object_ref (self);
  g_autofree gchar *candidates = NULL;
  gboolean had_media = dtls_connected (self);

  if (state != ICECAM_ICE_STATE_FAILED)
    return;
  candidates = icecam_ice_session_describe_candidates (ice);
  /* A path that worked and died (a NAT forgot the mapping, consent was lost) may work again
   * on another pair. */
  if (had_media && self->role == ICECAM_PEER_ROLE_OFFERER &&
      self->restarts < self->policy.max_restarts) {
    g_message ("peer-session %s: path lost (%s), ICE restart %u", self->id, candidates,
               self->restarts + 1);
    begin_restart (self);
    return;
  }
  if (had_media && self->role == ICECAM_PEER_ROLE_ANSWERER &&
      self->policy.recovery_timeout_s > 0) {
    g_message ("peer-session %s: path lost (%s); waiting for an ICE restart", self->id,
               candidates);
    begin_restart (self);
    return;
  }
  fail (self, g_error_new (ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_ICE,
                           had_media ? "connection to the peer lost (%s)"
                                     : "no ICE candidate pair works (%s)", candidates));
}

static void
on_ice_receive (const guint8 *data, gsize length, gpointer user_data)
{
  IcecamPeerSession *self = user_data;
  guint8 plain[RECEIVE_BUFFER_SIZE];
  gsize plain_length = sizeof plain;
  g_autoptr (GError) error = NULL;

  /* Nothing is trusted before a remote description named the peer's certificate. */
  if (self->dtls == NULL || length > sizeof plain)
    return;
  switch (icecam_dtls_srtp_handle_incoming (self->dtls, data, length, plain, &plain_length,
                                            &error)) {
    case ICECAM_DTLS_SRTP_RESULT_MEDIA:
      self->last_receive = g_get_monotonic_time ();
      self->stalled = FALSE;
      if (self->receive_func != NULL)
        self->receive_func (plain, plain_length, self->receive_data);
      break;
    case ICECAM_DTLS_SRTP_RESULT_DROPPED:
      g_debug ("peer-session %s: dropped a packet: %s", self->id,
               error != NULL ? error->message : "unknown");
      break;
    case ICECAM_DTLS_SRTP_RESULT_CONSUMED:
    default:
      break;
  }
}

static gboolean
on_connect_timeout (gpointer data)
{
  IcecamPeerSession *self = data;
  g_autoptr (IcecamPeerSession) hold = g_object_ref (self);

  g_clear_pointer (&self->connect_timeout, g_source_unref);
  fail (self, g_error_new (ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_ICE,
                           "no ICE pair within %u s", self->policy.connect_timeout_s));
  return G_SOURCE_REMOVE;
}

/* A new ICE transport: fresh credentials, fresh gathering (not started yet), a deadline. */
static gboolean
make_transport (IcecamPeerSession *self, GError **error)
{
  IcecamIceSession *ice = icecam_ice_session_new (self->config,
                                                  self->role == ICECAM_PEER_ROLE_OFFERER, error);

  if (ice == NULL)
    return FALSE;
  g_signal_connect (ice, "local-candidate", G_CALLBACK (on_ice_local_candidate), self);
  g_signal_connect (ice, "gathering-done", G_CALLBACK (on_ice_gathering_done), self);
  g_signal_connect (ice, "pair-selected", G_CALLBACK (on_ice_pair_selected), self);
  g_signal_connect (ice, "state-changed", G_CALLBACK (on_ice_state_changed), self);
  icecam_ice_session_set_receive_func (ice, on_ice_receive, self, NULL);
  g_clear_pointer (&self->remote_ufrag, g_free);
  g_mutex_lock (&self->lock);
  self->ice = ice;
  self->selected = FALSE;
  g_mutex_unlock (&self->lock);
  clear_source (&self->connect_timeout);
  if (self->policy.connect_timeout_s > 0)
    self->connect_timeout = add_seconds (self, self->policy.connect_timeout_s,
                                         on_connect_timeout);
  return TRUE;
}

/* ---- Public API ----------------------------------------------------------------------- */

/**
 * icecam_peer_session_new:
 * @id: the session id (for logs)
 * @role: which end this is
 * @certificate: this end's DTLS identity
 * @config: the ICE configuration of the first transport
 * @error: an %ICECAM_ICE_SESSION_ERROR
 *
 * Makes the session and its first ICE transport, so that local credentials exist at once
 * (the first description carries them) and remote candidates can arrive before it.
 *
 * Returns: (transfer full) (nullable): the session, or %NULL if libnice refused
 */
IcecamPeerSession *
icecam_peer_session_new (const gchar *id, IcecamPeerRole role, IcecamCertificate *certificate,
                         const IcecamIceConfig *config, GError **error)
{
  g_autoptr (IcecamPeerSession) self = NULL;

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (ICECAM_IS_CERTIFICATE (certificate), NULL);
  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (ICECAM_TYPE_PEER_SESSION, NULL);
  self->id = g_strdup (id);
  self->role = role;
  self->certificate = g_object_ref (certificate);
  self->config = icecam_ice_config_copy (config);
  if (!make_transport (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * icecam_peer_session_set_policy:
 *
 * Sets the timeouts and restart policy; the connect timeout applies from the next transport.
 */
void
icecam_peer_session_set_policy (IcecamPeerSession *self, const IcecamPeerPolicy *policy)
{
  g_return_if_fail (ICECAM_IS_PEER_SESSION (self));

  self->policy = *policy;
  if (self->connect_timeout != NULL && policy->connect_timeout_s == 0)
    clear_source (&self->connect_timeout);
  else if (self->connect_timeout == NULL && policy->connect_timeout_s > 0 && self->ice != NULL &&
           !self->selected)
    self->connect_timeout = add_seconds (self, policy->connect_timeout_s, on_connect_timeout);
}

/**
 * icecam_peer_session_set_ice_config:
 *
 * The configuration of the next ICE transport (a restart), e.g. with fresh TURN credentials.
 */
void
icecam_peer_session_set_ice_config (IcecamPeerSession *self, const IcecamIceConfig *config)
{
  g_return_if_fail (ICECAM_IS_PEER_SESSION (self));

  icecam_ice_config_free (self->config);
  self->config = icecam_ice_config_copy (config);
}

/**
 * icecam_peer_session_set_pinned_fingerprint:
 * @fingerprint: (nullable): the peer's "sha-256 AB:CD:.." in any case, with or without colons;
 *   %NULL trusts the one in the remote description
 * @error: an %ICECAM_CERTIFICATE_ERROR
 *
 * Pins the peer's certificate: a description naming another one fails the session with
 * %ICECAM_PEER_SESSION_ERROR_FINGERPRINT before a DTLS packet is exchanged, and the DTLS
 * handshake proves the pinned one. Call before the first remote description.
 *
 * Returns: %FALSE if @fingerprint is not a SHA-256 fingerprint
 */
gboolean
icecam_peer_session_set_pinned_fingerprint (IcecamPeerSession *self, const gchar *fingerprint,
                                            GError **error)
{
  gchar *normalized = NULL;

  g_return_val_if_fail (ICECAM_IS_PEER_SESSION (self), FALSE);

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
 * icecam_peer_session_set_receive_func:
 * @func: (nullable): called in the session's context with every decrypted RTP and RTCP
 *   packet from the peer
 */
void
icecam_peer_session_set_receive_func (IcecamPeerSession *self, IcecamPeerReceiveFunc func,
                                      gpointer user_data, GDestroyNotify notify)
{
  g_return_if_fail (ICECAM_IS_PEER_SESSION (self));

  if (self->receive_notify != NULL)
    self->receive_notify (self->receive_data);
  self->receive_func = func;
  self->receive_data = user_data;
  self->receive_notify = notify;
}

static gchar *
build_description (IcecamPeerSession *self, const IcecamSdp *media, IcecamSdpDirection direction,
                   const gchar *setup)
{
  g_autoptr (IcecamSdp) sdp = icecam_sdp_new ();

  sdp->media = g_strdup (media->media);
  sdp->payload_type = media->payload_type;
  sdp->rtpmap = g_strdup (media->rtpmap);
  sdp->fmtp = g_strdup (media->fmtp);
  sdp->direction = direction;
  sdp->fingerprint = g_strdup (icecam_certificate_get_fingerprint (self->certificate));
  sdp->setup = g_strdup (setup);
  icecam_ice_session_get_local_credentials (self->ice, &sdp->ice_ufrag, &sdp->ice_pwd);
  return icecam_sdp_to_string (sdp, g_random_int ());
}

/**
 * icecam_peer_session_create_offer:
 * @media: the media section to offer (media, payload type, rtpmap, fmtp)
 * @error: an %ICECAM_PEER_SESSION_ERROR or %ICECAM_ICE_SESSION_ERROR
 *
 * Offerer only: the offer for the current transport — or, after the path died
 * ("negotiation-needed"), for a new one with fresh credentials. Send it, then call
 * icecam_peer_session_gather(), so that the peer has the credentials before candidates.
 *
 * Returns: (transfer full) (nullable): the SDP text
 */
gchar *
icecam_peer_session_create_offer (IcecamPeerSession *self, const IcecamSdp *media,
                                  GError **error)
{
  g_autoptr (IcecamPeerSession) hold = NULL;
  IcecamPeerState state;

  g_return_val_if_fail (ICECAM_IS_PEER_SESSION (self), NULL);
  g_return_val_if_fail (media != NULL, NULL);

  hold = g_object_ref (self);
  state = icecam_peer_session_get_state (self);
  if (self->role != ICECAM_PEER_ROLE_OFFERER || state_is_final (state)) {
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_STATE,
                 "session %s cannot offer: %s %s", self->id,
                 self->role == ICECAM_PEER_ROLE_OFFERER ? "offerer" : "answerer",
                 icecam_peer_state_to_string (state));
    return NULL;
  }
  if (self->transport_needed || self->ice == NULL) {
    if (!make_transport (self, error))
      return NULL;
    self->transport_needed = FALSE;
    self->restarts++;
  }
  if (state == ICECAM_PEER_STATE_NEW)
    set_state (self, ICECAM_PEER_STATE_NEGOTIATING);
  return build_description (self, media, ICECAM_SDP_DIRECTION_SENDONLY, "actpass");
}

static void
add_description_candidates (IcecamPeerSession *self, const IcecamSdp *sdp)
{
  for (guint i = 0; i < sdp->candidates->len; i++) {
    g_autoptr (GError) error = NULL;

    if (!icecam_ice_session_add_remote_candidate (self->ice,
                                                  g_ptr_array_index (sdp->candidates, i),
                                                  &error))
      g_debug ("peer-session %s: %s", self->id, error->message);
  }
  if (sdp->end_of_candidates)
    icecam_ice_session_set_remote_gathering_done (self->ice);
}

/* Whether @sdp is the description the current transport already uses: a repeat. */
static gboolean
is_repeat (IcecamPeerSession *self, const IcecamSdp *sdp)
{
  return self->ice != NULL && self->remote_ufrag != NULL &&
         g_strcmp0 (sdp->ice_ufrag, self->remote_ufrag) == 0;
}

static gboolean
apply_answer (IcecamPeerSession *self, const IcecamSdp *sdp, GError **error)
{
  if (is_repeat (self, sdp))
    return TRUE;
  /* A late answer to an offer of a transport that is gone changes nothing. */
  if (self->ice == NULL || self->remote_ufrag != NULL ||
      icecam_peer_session_get_state (self) == ICECAM_PEER_STATE_NEW) {
    g_debug ("peer-session %s: an answer that answers no offer in flight, ignored", self->id);
    return TRUE;
  }
  if (!setup_dtls (self, sdp, error))
    return FALSE;
  if (!icecam_ice_session_set_remote_credentials (self->ice, sdp->ice_ufrag, sdp->ice_pwd, error))
    return FALSE;
  self->remote_ufrag = g_strdup (sdp->ice_ufrag);
  add_description_candidates (self, sdp);
  if (icecam_peer_session_get_state (self) == ICECAM_PEER_STATE_NEGOTIATING)
    set_state (self, ICECAM_PEER_STATE_CONNECTING);
  update_connected (self);
  return TRUE;
}

static gboolean
apply_offer (IcecamPeerSession *self, const IcecamSdp *sdp, gchar **answer, GError **error)
{
  if (is_repeat (self, sdp)) {
    g_debug ("peer-session %s: repeated offer ignored", self->id);
    return TRUE;
  }
  if (!setup_dtls (self, sdp, error))
    return FALSE;
  /* New credentials in the same session: the offerer restarts ICE on a new transport. */
  if (self->ice == NULL || self->remote_ufrag != NULL) {
    g_debug ("peer-session %s: the offerer restarts ICE", self->id);
    drop_transport (self);
    if (!make_transport (self, error))
      return FALSE;
    self->restarts++;
    clear_source (&self->recovery_timeout);
  }
  if (!icecam_ice_session_set_remote_credentials (self->ice, sdp->ice_ufrag, sdp->ice_pwd, error))
    return FALSE;
  self->remote_ufrag = g_strdup (sdp->ice_ufrag);
  add_description_candidates (self, sdp);
  *answer = build_description (self, sdp, ICECAM_SDP_DIRECTION_RECVONLY, "active");
  if (icecam_peer_session_get_state (self) == ICECAM_PEER_STATE_NEW)
    set_state (self, ICECAM_PEER_STATE_CONNECTING);
  return TRUE;
}

/**
 * icecam_peer_session_apply_remote_description:
 * @sdp: the peer's offer (answerer) or answer (offerer)
 * @answer: (out) (transfer full) (optional): answerer: the answer to send, then call
 *   icecam_peer_session_gather(); %NULL when the offer repeats the one in use (nothing to do)
 * @error: an %ICECAM_PEER_SESSION_ERROR, %ICECAM_SDP_ERROR or %ICECAM_ICE_SESSION_ERROR
 *
 * Applies the peer's description: checks its certificate (the pinned one, the same one as
 * before), makes the DTLS association from the first one, sets the ICE credentials and the
 * candidates it carries. For the answerer an offer with new ICE credentials is a restart:
 * a new transport, the same DTLS association. A description that cannot be used fails the
 * session (the "state-changed" signal says so too).
 *
 * Returns: %TRUE, or %FALSE with @error set and the session FAILED
 */
gboolean
icecam_peer_session_apply_remote_description (IcecamPeerSession *self, const gchar *sdp,
                                              gchar **answer, GError **error)
{
  g_autoptr (IcecamPeerSession) hold = NULL;
  g_autoptr (IcecamSdp) parsed = NULL;
  g_autoptr (GError) local_error = NULL;
  gchar *local_answer = NULL;
  gboolean ok;

  g_return_val_if_fail (ICECAM_IS_PEER_SESSION (self), FALSE);
  g_return_val_if_fail (sdp != NULL, FALSE);

  /* A handler of the signals emitted on the way may drop the caller's reference. */
  hold = g_object_ref (self);
  if (answer != NULL)
    *answer = NULL;
  if (state_is_final (icecam_peer_session_get_state (self))) {
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_STATE,
                 "session %s is over", self->id);
    return FALSE;
  }
  parsed = icecam_sdp_parse (sdp, &local_error);
  if (parsed == NULL) {
    g_prefix_error (&local_error, "unusable %s: ",
                    self->role == ICECAM_PEER_ROLE_OFFERER ? "answer" : "offer");
    ok = FALSE;
  } else if (self->role == ICECAM_PEER_ROLE_OFFERER) {
    ok = apply_answer (self, parsed, &local_error);
  } else {
    ok = apply_offer (self, parsed, &local_answer, &local_error);
  }
  if (!ok) {
    if (error != NULL)
      *error = g_error_copy (local_error);
    fail (self, g_steal_pointer (&local_error));
    return FALSE;
  }
  if (answer != NULL)
    *answer = local_answer;
  else
    g_free (local_answer);
  return TRUE;
}

/**
 * icecam_peer_session_gather:
 * @error: an %ICECAM_ICE_SESSION_ERROR
 *
 * Starts gathering on the current transport; local candidates follow as "local-candidate".
 * Call after the description carrying its credentials went out. A failure fails the session.
 *
 * Returns: %FALSE with @error set if libnice refused
 */
gboolean
icecam_peer_session_gather (IcecamPeerSession *self, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (IcecamPeerSession) hold = NULL;

  g_return_val_if_fail (ICECAM_IS_PEER_SESSION (self), FALSE);

  hold = g_object_ref (self);
  if (self->ice == NULL) {
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_STATE,
                 "session %s has no ICE transport to gather on", self->id);
    return FALSE;
  }
  if (icecam_ice_session_gather (self->ice, &local_error))
    return TRUE;
  if (error != NULL)
    *error = g_error_copy (local_error);
  fail (self, g_steal_pointer (&local_error));
  return FALSE;
}

/**
 * icecam_peer_session_add_remote_candidate:
 * @candidate: a trickled "candidate:..." attribute value
 * @error: an %ICECAM_ICE_SESSION_ERROR
 *
 * Candidates that arrive before the remote description are kept until it comes. One that
 * arrives between a dead path and its restart belongs to the dead path and is ignored.
 *
 * Returns: %FALSE if the candidate cannot be used (the session goes on)
 */
gboolean
icecam_peer_session_add_remote_candidate (IcecamPeerSession *self, const gchar *candidate,
                                          GError **error)
{
  g_return_val_if_fail (ICECAM_IS_PEER_SESSION (self), FALSE);

  if (self->ice == NULL)
    return TRUE;
  return icecam_ice_session_add_remote_candidate (self->ice, candidate, error);
}

/**
 * icecam_peer_session_set_remote_gathering_done:
 *
 * The peer sent end-of-candidates for the current transport.
 */
void
icecam_peer_session_set_remote_gathering_done (IcecamPeerSession *self)
{
  g_return_if_fail (ICECAM_IS_PEER_SESSION (self));

  if (self->ice != NULL)
    icecam_ice_session_set_remote_gathering_done (self->ice);
}

/**
 * icecam_peer_session_restart:
 * @error: an %ICECAM_PEER_SESSION_ERROR
 *
 * Gives up the current path and negotiates a new one within the session, keeping the DTLS
 * association: the offerer emits "negotiation-needed" (send a new offer), the answerer too
 * (ask the offerer to restart) and waits for the offer. Used when the peer asks for a restart
 * or when media stopped without ICE noticing. Does nothing while a restart is already
 * waiting for its offer.
 *
 * Returns: %FALSE if the session is over or has not connected yet
 */
gboolean
icecam_peer_session_restart (IcecamPeerSession *self, GError **error)
{
  g_autoptr (IcecamPeerSession) hold = NULL;
  IcecamPeerState state;

  g_return_val_if_fail (ICECAM_IS_PEER_SESSION (self), FALSE);

  hold = g_object_ref (self);
  state = icecam_peer_session_get_state (self);
  if (state == ICECAM_PEER_STATE_RESTARTING && self->ice == NULL)
    return TRUE;
  if (state_is_final (state) || self->dtls == NULL) {
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_STATE,
                 "session %s cannot restart: %s", self->id, icecam_peer_state_to_string (state));
    return FALSE;
  }
  g_message ("peer-session %s: ICE restart asked for", self->id);
  begin_restart (self);
  return TRUE;
}

/**
 * icecam_peer_session_send_rtp:
 * @packets: (array length=n_packets): plain RTP packets
 * @lengths: (array length=n_packets): their lengths
 * @scratch: room for @n_packets protected packets of @room bytes each
 * @room: bytes per packet in @scratch: the longest packet plus %ICECAM_SRTP_MAX_OVERHEAD
 *
 * Protects the packets with this session's SRTP keys and sends them in one batch, if the
 * session is CONNECTED. Thread-safe; never blocks.
 *
 * Returns: the number of packets handed to the transport
 */
guint
icecam_peer_session_send_rtp (IcecamPeerSession *self, const guint8 * const *packets,
                              const gsize *lengths, guint n_packets, guint8 *scratch, gsize room)
{
  GOutputVector vectors_on_stack[64];
  NiceOutputMessage out_on_stack[64];
  g_autofree GOutputVector *vectors_on_heap = NULL;
  g_autofree NiceOutputMessage *out_on_heap = NULL;
  GOutputVector *vectors = vectors_on_stack;
  NiceOutputMessage *out = out_on_stack;
  IcecamIceSession *ice = NULL;
  IcecamDtlsSrtp *dtls = NULL;
  guint n_out = 0;

  g_mutex_lock (&self->lock);
  if (self->state == ICECAM_PEER_STATE_CONNECTED && self->ice != NULL && self->dtls != NULL) {
    ice = g_object_ref (self->ice);
    dtls = g_object_ref (self->dtls);
  }
  g_mutex_unlock (&self->lock);
  if (ice == NULL || n_packets == 0)
    goto out;

  /* A frame's packets fit on the stack: no allocation per viewer and frame. */
  if (n_packets > G_N_ELEMENTS (out_on_stack)) {
    vectors = vectors_on_heap = g_new (GOutputVector, n_packets);
    out = out_on_heap = g_new (NiceOutputMessage, n_packets);
  }
  for (guint i = 0; i < n_packets; i++) {
    guint8 *cipher = scratch + (gsize) n_out * room;
    gsize cipher_length = room;

    if (!icecam_dtls_srtp_protect_rtp (dtls, packets[i], lengths[i], cipher, &cipher_length))
      continue;
    vectors[n_out].buffer = cipher;
    vectors[n_out].size = cipher_length;
    out[n_out].buffers = &vectors[n_out];
    out[n_out].n_buffers = 1;
    n_out++;
  }
  if (n_out > 0)
    n_out = (guint) MAX (0, icecam_ice_session_send_messages (ice, out, n_out));
out:
  g_clear_object (&ice);
  g_clear_object (&dtls);
  return n_out;
}

/**
 * icecam_peer_session_send_rtcp:
 * @data: (array length=length): one plain RTCP packet (compound allowed)
 *
 * Protects and sends it, if the session is CONNECTED. Thread-safe; never blocks.
 *
 * Returns: whether it was handed to the transport
 */
gboolean
icecam_peer_session_send_rtcp (IcecamPeerSession *self, const guint8 *data, gsize length)
{
  guint8 srtcp[RECEIVE_BUFFER_SIZE];
  gsize srtcp_length = sizeof srtcp;
  IcecamIceSession *ice = NULL;
  IcecamDtlsSrtp *dtls = NULL;
  gboolean sent = FALSE;

  if (length + ICECAM_SRTP_MAX_OVERHEAD > sizeof srtcp)
    return FALSE;
  g_mutex_lock (&self->lock);
  if (self->state == ICECAM_PEER_STATE_CONNECTED && self->ice != NULL && self->dtls != NULL) {
    ice = g_object_ref (self->ice);
    dtls = g_object_ref (self->dtls);
  }
  g_mutex_unlock (&self->lock);
  if (ice == NULL)
    return FALSE;
  if (icecam_dtls_srtp_protect_rtcp (dtls, data, length, srtcp, &srtcp_length))
    sent = icecam_ice_session_send (ice, srtcp, srtcp_length) > 0;
  g_object_unref (dtls);
  g_object_unref (ice);
  return sent;
}

static void
maybe_finish_close (IcecamPeerSession *self)
{
  GTask *task;

  if (self->pending_closes > 0 || self->close_task == NULL)
    return;
  task = g_steal_pointer (&self->close_task);
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
transport_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  IcecamPeerSession *self = user_data;

  self->pending_closes--;
  maybe_finish_close (self);
  g_object_unref (self);
}

/**
 * icecam_peer_session_close_async:
 * @callback: (nullable): called in the session's context once every ICE transport it had
 *   is closed (TURN allocations released)
 *
 * Ends the session: DTLS close_notify goes out while the path exists, then the transport
 * closes. The session is CLOSED at once; its context must be iterated until @callback runs.
 */
void
icecam_peer_session_close_async (IcecamPeerSession *self, GAsyncReadyCallback callback,
                                 gpointer user_data)
{
  g_return_if_fail (ICECAM_IS_PEER_SESSION (self));
  g_return_if_fail (self->close_task == NULL);

  self->close_task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (self->close_task, icecam_peer_session_close_async);
  clear_source (&self->connect_timeout);
  clear_source (&self->recovery_timeout);
  close_dtls (self);
  drop_transport (self);
  set_state (self, ICECAM_PEER_STATE_CLOSED);
  maybe_finish_close (self);
}

gboolean
icecam_peer_session_close_finish (IcecamPeerSession *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

const gchar *
icecam_peer_session_get_id (IcecamPeerSession *self)
{
  return self->id;
}

IcecamPeerRole
icecam_peer_session_get_role (IcecamPeerSession *self)
{
  return self->role;
}

IcecamPeerState
icecam_peer_session_get_state (IcecamPeerSession *self)
{
  IcecamPeerState state;

  g_mutex_lock (&self->lock);
  state = self->state;
  g_mutex_unlock (&self->lock);
  return state;
}

/**
 * icecam_peer_session_get_error:
 *
 * Returns: (transfer none) (nullable): why the session is FAILED
 */
const GError *
icecam_peer_session_get_error (IcecamPeerSession *self)
{
  return self->error;
}

/**
 * icecam_peer_session_get_remote_fingerprint:
 *
 * Returns: (transfer none) (nullable): the peer's certificate fingerprint the DTLS
 *   association proves, normalised; %NULL before the first remote description
 */
const gchar *
icecam_peer_session_get_remote_fingerprint (IcecamPeerSession *self)
{
  return self->remote_fingerprint;
}

/**
 * icecam_peer_session_get_ice_state:
 *
 * Thread-safe.
 *
 * Returns: the state of the current ICE transport (%ICECAM_ICE_STATE_CLOSED when none)
 */
IcecamIceState
icecam_peer_session_get_ice_state (IcecamPeerSession *self)
{
  IcecamIceState state = ICECAM_ICE_STATE_CLOSED;

  g_mutex_lock (&self->lock);
  if (self->ice != NULL)
    state = icecam_ice_session_get_state (self->ice);
  g_mutex_unlock (&self->lock);
  return state;
}

/**
 * icecam_peer_session_get_pair_info:
 *
 * Thread-safe.
 *
 * Returns: (transfer full) (nullable): the current transport's selected pair
 */
IcecamPairInfo *
icecam_peer_session_get_pair_info (IcecamPeerSession *self)
{
  IcecamPairInfo *info = NULL;

  g_mutex_lock (&self->lock);
  if (self->ice != NULL)
    info = icecam_ice_session_get_pair_info (self->ice);
  g_mutex_unlock (&self->lock);
  return info;
}

/**
 * icecam_peer_session_get_stats:
 * @ice: (out caller-allocates) (optional): the current transport's counters (zero if none)
 * @dtls: (out caller-allocates) (optional): the DTLS-SRTP counters of the whole session
 *
 * Thread-safe.
 */
void
icecam_peer_session_get_stats (IcecamPeerSession *self, IcecamIceStats *ice,
                               IcecamDtlsSrtpStats *dtls)
{
  g_mutex_lock (&self->lock);
  if (ice != NULL) {
    *ice = (IcecamIceStats) { 0 };
    if (self->ice != NULL)
      icecam_ice_session_get_stats (self->ice, ice);
  }
  if (dtls != NULL) {
    *dtls = (IcecamDtlsSrtpStats) { 0 };
    if (self->dtls != NULL)
      icecam_dtls_srtp_get_stats (self->dtls, dtls);
  }
  g_mutex_unlock (&self->lock);
}

/**
 * icecam_peer_session_describe_candidates:
 *
 * Returns: (transfer full): the candidate types on both sides, for an error text
 */
gchar *
icecam_peer_session_describe_candidates (IcecamPeerSession *self)
{
  if (self->ice == NULL)
    return g_strdup ("no ICE transport");
  return icecam_ice_session_describe_candidates (self->ice);
}

/**
 * icecam_peer_session_get_restarts:
 *
 * Returns: ICE restarts since the last time a pair was selected (0 while connected)
 */
guint
icecam_peer_session_get_restarts (IcecamPeerSession *self)
{
  return self->restarts;
}

static void
icecam_peer_session_dispose (GObject *object)
{
  IcecamPeerSession *self = ICECAM_PEER_SESSION (object);

  clear_source (&self->connect_timeout);
  clear_source (&self->recovery_timeout);
  clear_source (&self->stall_check);
  close_dtls (self);
  if (self->ice != NULL) {
    g_signal_handlers_disconnect_by_data (self->ice, self);
    icecam_ice_session_set_receive_func (self->ice, NULL, NULL, NULL);
    icecam_ice_session_close (self->ice);
    g_clear_object (&self->ice);
  }
  icecam_peer_session_set_receive_func (self, NULL, NULL, NULL);
  G_OBJECT_CLASS (icecam_peer_session_parent_class)->dispose (object);
}

static void
icecam_peer_session_finalize (GObject *object)
{
  IcecamPeerSession *self = ICECAM_PEER_SESSION (object);

  g_queue_clear_full (&self->pending_dtls, (GDestroyNotify) g_bytes_unref);
  g_free (self->id);
  g_free (self->pinned_fingerprint);
  g_free (self->remote_fingerprint);
  g_free (self->remote_ufrag);
  g_clear_error (&self->error);
  g_clear_object (&self->certificate);
  icecam_ice_config_free (self->config);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (icecam_peer_session_parent_class)->finalize (object);
}

static void
icecam_peer_session_class_init (IcecamPeerSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_peer_session_dispose;
  object_class->finalize = icecam_peer_session_finalize;

  /**
   * IcecamPeerSession::local-candidate:
   * @candidate: a "candidate:..." attribute value to trickle to the peer
   */
  signals[SIGNAL_LOCAL_CANDIDATE] =
    g_signal_new ("local-candidate", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * IcecamPeerSession::gathering-done:
   *
   * The current transport has no more candidates: send end-of-candidates.
   */
  signals[SIGNAL_GATHERING_DONE] =
    g_signal_new ("gathering-done", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 0);
  /**
   * IcecamPeerSession::pair-selected:
   * @info: the #IcecamPairInfo of the pair now carrying media
   */
  signals[SIGNAL_PAIR_SELECTED] =
    g_signal_new ("pair-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, ICECAM_TYPE_PAIR_INFO);
  /**
   * IcecamPeerSession::state-changed:
   * @state: the new #IcecamPeerState
   */
  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  /**
   * IcecamPeerSession::negotiation-needed:
   *
   * The path died (or a restart was asked for) and the DTLS association lives on: the
   * offerer should send a new offer (icecam_peer_session_create_offer() makes it with new
   * credentials) as soon as it can reach the peer; the answerer should ask the offerer to.
   */
  signals[SIGNAL_NEGOTIATION_NEEDED] =
    g_signal_new ("negotiation-needed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 0);
  /**
   * IcecamPeerSession::media-stalled:
   *
   * CONNECTED, but nothing came from the peer for #IcecamPeerPolicy.media_timeout_ms after
   * something had: the path may be dead before ICE can tell (a rebooted NAT). Emitted once
   * per silence. icecam_peer_session_restart() is one answer; checking the signalling
   * connection another.
   */
  signals[SIGNAL_MEDIA_STALLED] =
    g_signal_new ("media-stalled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 0);
}

static void
icecam_peer_session_init (IcecamPeerSession *self)
{
  g_mutex_init (&self->lock);
  g_queue_init (&self->pending_dtls);
  self->context = g_main_context_ref_thread_default ();
  self->state = ICECAM_PEER_STATE_NEW;
}
