/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One camera↔viewer session: ICE transport, DTLS-SRTP, SDP, restarts; no signalling. */

#include "icecam-peer-session-private.h"

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
 * the DTLS retransmission timer. When both ends' descriptions offer it
 * (icecam_peer_session_set_signalled_dtls()), they also go out at once as
 * "signalled-dtls" for the signalling channel, and the handshake runs beside ICE instead of
 * after it: the answerer's ClientHello leaves right after its answer.
 *
 * Signals and the receive function run in the GMainContext that was thread-default when the
 * session was created; all functions must be called there, except _send_rtp(),
 * _send_rtcp(), _get_state(), _get_ice_state(), _get_pair_info() and _get_stats(), which are
 * thread-safe.
 */

G_DEFINE_TYPE (IcecamPeerSession, icecam_peer_session, G_TYPE_OBJECT)
G_DEFINE_QUARK (icecam-peer-session-error-quark, icecam_peer_session_error)

enum {
  SIGNAL_LOCAL_CANDIDATE,
  SIGNAL_GATHERING_DONE,
  SIGNAL_PAIR_SELECTED,
  SIGNAL_STATE_CHANGED,
  SIGNAL_NEGOTIATION_NEEDED,
  SIGNAL_MEDIA_STALLED,
  SIGNAL_SIGNALLED_DTLS,
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

gboolean
icecam_peer_session_state_is_final (IcecamPeerState state)
{
  return state == ICECAM_PEER_STATE_CLOSED || state == ICECAM_PEER_STATE_FAILED;
}

void
icecam_peer_session_clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

/* The one place the state changes: lock, compare, set, unlock, then log and emit. */
void
icecam_peer_session_set_state (IcecamPeerSession *self, IcecamPeerState state)
{
  IcecamPeerState old;

  g_mutex_lock (&self->lock);
  old = self->state;
  if (old == state || icecam_peer_session_state_is_final (old)) {
    g_mutex_unlock (&self->lock);
    return;
  }
  self->state = state;
  g_mutex_unlock (&self->lock);

  if (state != ICECAM_PEER_STATE_CONNECTED) {
    icecam_peer_session_clear_source (&self->stall_check);
    icecam_peer_session_stop_reports (self);
  }
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
void
icecam_peer_session_drop_transport (IcecamPeerSession *self)
{
  IcecamIceSession *ice;

  g_mutex_lock (&self->lock);
  ice = g_steal_pointer (&self->ice);
  self->selected = FALSE;
  g_mutex_unlock (&self->lock);
  icecam_peer_session_clear_source (&self->connect_timeout);
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
void
icecam_peer_session_fail (IcecamPeerSession *self, GError *error)
{
  if (icecam_peer_session_state_is_final (icecam_peer_session_get_state (self))) {
    g_error_free (error);
    return;
  }
  g_debug ("peer-session %s: failed: %s", self->id, error->message);
  self->error = error;
  icecam_peer_session_clear_source (&self->connect_timeout);
  icecam_peer_session_clear_source (&self->recovery_timeout);
  close_dtls (self);
  icecam_peer_session_drop_transport (self);
  icecam_peer_session_set_state (self, ICECAM_PEER_STATE_FAILED);
}

static gboolean
dtls_connected (IcecamPeerSession *self)
{
  return self->dtls != NULL &&
         icecam_dtls_srtp_get_state (self->dtls) == ICECAM_DTLS_STATE_CONNECTED;
}

/* Wakes up once per media timeout (not per packet): the time of the last packet decides
 * whether the silence is long enough, or when to look again. */
static gboolean
on_stall_check (gpointer data)
{
  IcecamPeerSession *self = data;
  g_autoptr (IcecamPeerSession) hold = g_object_ref (self);
  gint64 timeout = (gint64) self->policy.media_timeout_ms * G_TIME_SPAN_MILLISECOND;
  gint64 now = g_get_monotonic_time ();
  gint64 silence = now - self->last_receive;

  if (self->last_receive != 0 && !self->stalled && silence < timeout) {
    g_source_set_ready_time (self->stall_check, self->last_receive + timeout);
    return G_SOURCE_CONTINUE;
  }
  g_source_set_ready_time (self->stall_check, now + timeout);
  if (self->last_receive == 0 || self->stalled)
    return G_SOURCE_CONTINUE;
  self->stalled = TRUE;
  g_message ("peer-session %s: nothing from the peer for %" G_GINT64_FORMAT " ms", self->id,
             silence / G_TIME_SPAN_MILLISECOND);
  g_signal_emit (self, signals[SIGNAL_MEDIA_STALLED], 0);
  return G_SOURCE_CONTINUE;
}

static gboolean
stall_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return callback (user_data);
}

/* A source with nothing but a ready time. */
static GSourceFuncs stall_source_funcs = { NULL, NULL, stall_source_dispatch, NULL, NULL, NULL };

/* CONNECTED exactly when the current transport has a pair and DTLS has proved the peer. */
void
icecam_peer_session_update_connected (IcecamPeerSession *self)
{
  if (!self->selected || !dtls_connected (self))
    return;
  self->restarts = 0;
  self->connected_once = TRUE;
  icecam_peer_session_clear_source (&self->recovery_timeout);
  /* Silence counts only after the peer has sent something on this path: a peer that never
   * sends (a viewer without RTCP) is not stalled. */
  self->last_receive = 0;
  self->stalled = FALSE;
  if (self->stall_check == NULL && self->policy.media_timeout_ms > 0) {
    self->stall_check = g_source_new (&stall_source_funcs, sizeof (GSource));
    g_source_set_callback (self->stall_check, on_stall_check, self, NULL);
    g_source_set_ready_time (self->stall_check,
                             g_get_monotonic_time () +
                               (gint64) self->policy.media_timeout_ms * G_TIME_SPAN_MILLISECOND);
    g_source_attach (self->stall_check, self->context);
  }
  icecam_peer_session_set_state (self, ICECAM_PEER_STATE_CONNECTED);
  if (icecam_peer_session_get_state (self) == ICECAM_PEER_STATE_CONNECTED)
    icecam_peer_session_start_reports (self);
}

/* ---- DTLS ----------------------------------------------------------------------------- */

void
icecam_peer_session_on_dtls_state_changed (IcecamDtlsSrtp *dtls, guint state, IcecamPeerSession *self)
{
  g_autoptr (IcecamPeerSession) hold = g_object_ref (self);
  const GError *error = icecam_dtls_srtp_get_error (dtls);

  switch (state) {
    case ICECAM_DTLS_STATE_CONNECTED:
      g_debug ("peer-session %s: DTLS-SRTP connected, peer proved %s", self->id,
               self->remote_fingerprint);
      icecam_peer_session_update_connected (self);
      break;
    case ICECAM_DTLS_STATE_FAILED:
      icecam_peer_session_fail (self, g_error_new (ICECAM_PEER_SESSION_ERROR,
                               error != NULL && g_error_matches (error, ICECAM_DTLS_SRTP_ERROR,
                                                                 ICECAM_DTLS_SRTP_ERROR_FINGERPRINT)
                                 ? ICECAM_PEER_SESSION_ERROR_FINGERPRINT
                                 : ICECAM_PEER_SESSION_ERROR_DTLS,
                               "DTLS-SRTP failed: %s",
                               error != NULL ? error->message : "unknown error"));
      break;
    case ICECAM_DTLS_STATE_CLOSED:
      icecam_peer_session_fail (self, g_error_new_literal (ICECAM_PEER_SESSION_ERROR,
                                       ICECAM_PEER_SESSION_ERROR_CLOSED, "the peer closed DTLS"));
      break;
    default:
      break;
  }
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
  icecam_peer_session_clear_source (&self->connect_timeout);
  g_mutex_lock (&self->lock);
  self->selected = TRUE;
  g_mutex_unlock (&self->lock);
  icecam_peer_session_flush_pending_dtls (self);
  g_signal_emit (self, signals[SIGNAL_PAIR_SELECTED], 0, info);
  if (self->dtls == NULL)
    return;
  /* The DTLS client speaks first, once a path exists; after a restart the association is
   * already connected and media resumes on the new path at once. */
  if (self->role == ICECAM_PEER_ROLE_ANSWERER)
    icecam_dtls_srtp_start (self->dtls);
  icecam_peer_session_update_connected (self);
}

static gboolean
on_recovery_timeout (gpointer data)
{
  IcecamPeerSession *self = data;
  g_autoptr (IcecamPeerSession) hold = g_object_ref (self);

  g_clear_pointer (&self->recovery_timeout, g_source_unref);
  icecam_peer_session_fail (self, g_error_new (ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_ICE,
                           "the path died and no new one was found within %u s",
                           self->policy.recovery_timeout_s));
  return G_SOURCE_REMOVE;
}

/* The path is gone but the DTLS association is not: get a new transport negotiated. */
static void
begin_restart (IcecamPeerSession *self)
{
  icecam_peer_session_drop_transport (self);
  if (self->role == ICECAM_PEER_ROLE_OFFERER)
    self->transport_needed = TRUE;
  if (self->recovery_timeout == NULL && self->policy.recovery_timeout_s > 0)
    self->recovery_timeout = add_seconds (self, self->policy.recovery_timeout_s,
                                          on_recovery_timeout);
  icecam_peer_session_set_state (self, ICECAM_PEER_STATE_RESTARTING);
  g_signal_emit (self, signals[SIGNAL_NEGOTIATION_NEEDED], 0);
}

static void
on_ice_state_changed (IcecamIceSession *ice, guint state, IcecamPeerSession *self)
{
  g_autoptr (IcecamPeerSession) hold = g_object_ref (self);
  g_autofree gchar *candidates = NULL;
  gboolean had_media = self->connected_once;

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
  icecam_peer_session_fail (self, g_error_new (ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_ICE,
                           had_media ? "connection to the peer lost (%s)"
                                     : "no ICE candidate pair works (%s)", candidates));
}

static gboolean
on_connect_timeout (gpointer data)
{
  IcecamPeerSession *self = data;
  g_autoptr (IcecamPeerSession) hold = g_object_ref (self);

  g_clear_pointer (&self->connect_timeout, g_source_unref);
  icecam_peer_session_fail (self, g_error_new (ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_ICE,
                           "no ICE pair within %u s", self->policy.connect_timeout_s));
  return G_SOURCE_REMOVE;
}

/* A new ICE transport: fresh credentials, fresh gathering (not started yet), a deadline. */
gboolean
icecam_peer_session_make_transport (IcecamPeerSession *self, GError **error)
{
  IcecamIceSession *ice = icecam_ice_session_new (self->config,
                                                  self->role == ICECAM_PEER_ROLE_OFFERER, error);

  if (ice == NULL)
    return FALSE;
  self->transports++;
  g_signal_connect (ice, "local-candidate", G_CALLBACK (on_ice_local_candidate), self);
  g_signal_connect (ice, "gathering-done", G_CALLBACK (on_ice_gathering_done), self);
  g_signal_connect (ice, "pair-selected", G_CALLBACK (on_ice_pair_selected), self);
  g_signal_connect (ice, "state-changed", G_CALLBACK (on_ice_state_changed), self);
  icecam_ice_session_set_receive_func (ice, icecam_peer_session_on_ice_receive, self, NULL);
  g_clear_pointer (&self->remote_ufrag, g_free);
  g_mutex_lock (&self->lock);
  self->ice = ice;
  self->selected = FALSE;
  g_mutex_unlock (&self->lock);
  icecam_peer_session_clear_source (&self->connect_timeout);
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
  if (!icecam_peer_session_make_transport (self, error))
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
    icecam_peer_session_clear_source (&self->connect_timeout);
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
  if (icecam_ice_session_gather (self->ice, &local_error)) {
    /* The answer is out (the peer has its DTLS association): the client may speak now. */
    if (self->role == ICECAM_PEER_ROLE_ANSWERER && self->dtls != NULL && self->signalled_dtls &&
        self->remote_signalled_dtls)
      icecam_dtls_srtp_start (self->dtls);
    return TRUE;
  }
  if (error != NULL)
    *error = g_error_copy (local_error);
  icecam_peer_session_fail (self, g_steal_pointer (&local_error));
  return FALSE;
}

/**
 * icecam_peer_session_set_signalled_dtls:
 * @enabled: whether the signalling channel relays `dtls` messages (its `welcome` listed
 *   %ICECAM_FEATURE_DTLS)
 *
 * Before the first description: this end's descriptions then offer DTLS handshake datagrams
 * through signalling (a=x-icecam-signalled-dtls). Where the peer's offers it too, records
 * sent before a pair is selected are emitted as "signalled-dtls" as well; feed the peer's in
 * with icecam_peer_session_receive_signalled_dtls().
 */
void
icecam_peer_session_set_signalled_dtls (IcecamPeerSession *self, gboolean enabled)
{
  g_return_if_fail (ICECAM_IS_PEER_SESSION (self));

  g_mutex_lock (&self->lock);
  self->signalled_dtls = enabled;
  g_mutex_unlock (&self->lock);
}

void
icecam_peer_session_emit_signalled_dtls (IcecamPeerSession *self, GBytes *datagram)
{
  g_signal_emit (self, signals[SIGNAL_SIGNALLED_DTLS], 0, datagram);
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
  if (icecam_peer_session_state_is_final (state) || self->dtls == NULL) {
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_STATE,
                 "session %s cannot restart: %s", self->id, icecam_peer_state_to_string (state));
    return FALSE;
  }
  g_message ("peer-session %s: ICE restart asked for", self->id);
  begin_restart (self);
  return TRUE;
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
  icecam_peer_session_clear_source (&self->connect_timeout);
  icecam_peer_session_clear_source (&self->recovery_timeout);
  close_dtls (self);
  icecam_peer_session_drop_transport (self);
  icecam_peer_session_set_state (self, ICECAM_PEER_STATE_CLOSED);
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

/**
 * icecam_peer_session_get_transport_number:
 *
 * Returns: which ICE transport the session is on: 1 for the first, one more for each made by
 *   an ICE restart (0 before the first); what lives with a transport (a punched path) can tell
 *   a new one by it
 */
guint
icecam_peer_session_get_transport_number (IcecamPeerSession *self)
{
  return self->transports;
}

static void
icecam_peer_session_dispose (GObject *object)
{
  IcecamPeerSession *self = ICECAM_PEER_SESSION (object);

  icecam_peer_session_clear_source (&self->connect_timeout);
  icecam_peer_session_clear_source (&self->recovery_timeout);
  icecam_peer_session_clear_source (&self->stall_check);
  icecam_peer_session_clear_source (&self->signalled_idle);
  g_queue_clear_full (&self->signalled_in, (GDestroyNotify) g_bytes_unref);
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
  g_free (self->cname);
  g_clear_pointer (&self->capture_clock, icecam_rtp_clock_unref);
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
  /**
   * IcecamPeerSession::signalled-dtls:
   * @datagram: a #GBytes: one DTLS handshake datagram, at most 2048 bytes
   *
   * Send it to the peer as `dtls` (icecam_message_new_dtls()). Emitted only while no pair is
   * selected and only when both ends' descriptions offered DTLS through signalling.
   */
  signals[SIGNAL_SIGNALLED_DTLS] =
    g_signal_new ("signalled-dtls", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_BYTES);
}

static void
icecam_peer_session_init (IcecamPeerSession *self)
{
  g_mutex_init (&self->lock);
  g_queue_init (&self->pending_dtls);
  g_queue_init (&self->signalled_in);
  self->context = g_main_context_ref_thread_default ();
  self->state = ICECAM_PEER_STATE_NEW;
}

/**
 * icecam_peer_session_use_punched_path:
 * @punch: (transfer full): a punch towards this session's peer that succeeded
 *
 * Moves the media of the current transport to the punched path while it lives
 * (icecam_ice_session_use_punched_path()); without a transport the punch is dropped.
 */
void
icecam_peer_session_use_punched_path (IcecamPeerSession *self, IcecamPunch *punch)
{
  g_autoptr (IcecamIceSession) ice = NULL;

  g_mutex_lock (&self->lock);
  ice = self->ice != NULL ? g_object_ref (self->ice) : NULL;
  g_mutex_unlock (&self->lock);
  if (ice != NULL)
    icecam_ice_session_use_punched_path (ice, punch);
  else
    icecam_punch_free (punch);
}
