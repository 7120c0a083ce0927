/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IcecamPeerSession's descriptions: the offer and answer it makes, the remote description it
 * applies (certificate checks, the DTLS association, ICE credentials, restarts). */

#include "icecam-peer-session-private.h"

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
  icecam_dtls_srtp_set_send_func (dtls, icecam_peer_session_dtls_send_cb, self, NULL);
  g_signal_connect (dtls, "state-changed", G_CALLBACK (icecam_peer_session_on_dtls_state_changed), self);
  g_mutex_lock (&self->lock);
  self->dtls = dtls;
  self->remote_signalled_dtls = sdp->signalled_dtls;
  g_mutex_unlock (&self->lock);
  /* The server waits for the ClientHello at once; the client speaks once a path exists. */
  if (offerer)
    icecam_dtls_srtp_start (dtls);
  return TRUE;
}

/* @media's sections, each with @direction; an answer (recvonly) sends no source of its own. */
static gchar *
build_description (IcecamPeerSession *self, const IcecamSdp *media, IcecamSdpDirection direction,
                   const gchar *setup)
{
  g_autoptr (IcecamSdp) sdp = icecam_sdp_new ();

  for (guint i = 0; i < media->media->len; i++) {
    IcecamSdpMedia *section = icecam_sdp_add_media (
        sdp, icecam_sdp_media_copy (g_ptr_array_index (media->media, i)));

    section->direction = direction;
    if (direction == ICECAM_SDP_DIRECTION_RECVONLY) {
      section->ssrc = 0;
      section->rtx_ssrc = 0;
      g_clear_pointer (&section->cname, g_free);
      g_clear_pointer (&section->msid, g_free);
    }
  }
  sdp->fingerprint = g_strdup (icecam_certificate_get_fingerprint (self->certificate));
  sdp->setup = g_strdup (setup);
  sdp->signalled_dtls = self->signalled_dtls;
  icecam_ice_session_get_local_credentials (self->ice, &sdp->ice_ufrag, &sdp->ice_pwd);
  return icecam_sdp_to_string (sdp, g_random_int ());
}

/**
 * icecam_peer_session_create_offer:
 * @media: a description whose media sections are offered (kind, mid, payload type, rtpmap,
 *   fmtp, rtcp-fb, ssrc, cname, msid); its transport fields are not used
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
  g_return_val_if_fail (media != NULL && media->media->len > 0, NULL);

  hold = g_object_ref (self);
  state = icecam_peer_session_get_state (self);
  if (self->role != ICECAM_PEER_ROLE_OFFERER || icecam_peer_session_state_is_final (state)) {
    g_set_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_STATE,
                 "session %s cannot offer: %s %s", self->id,
                 self->role == ICECAM_PEER_ROLE_OFFERER ? "offerer" : "answerer",
                 icecam_peer_state_to_string (state));
    return NULL;
  }
  if (self->transport_needed || self->ice == NULL) {
    if (!icecam_peer_session_make_transport (self, error))
      return NULL;
    self->transport_needed = FALSE;
    self->restarts++;
  }
  if (state == ICECAM_PEER_STATE_NEW)
    icecam_peer_session_set_state (self, ICECAM_PEER_STATE_NEGOTIATING);
  icecam_peer_session_set_report_media (self, media);
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
    icecam_peer_session_set_state (self, ICECAM_PEER_STATE_CONNECTING);
  icecam_peer_session_update_connected (self);
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
    icecam_peer_session_drop_transport (self);
    if (!icecam_peer_session_make_transport (self, error))
      return FALSE;
    self->restarts++;
    icecam_peer_session_clear_source (&self->recovery_timeout);
    /* The media stops until the new path works, as when this end saw its path die; its
     * owner hears "connected" again then (and can start what belongs to a path anew). */
    if (icecam_peer_session_get_state (self) == ICECAM_PEER_STATE_CONNECTED)
      icecam_peer_session_set_state (self, ICECAM_PEER_STATE_RESTARTING);
  }
  if (!icecam_ice_session_set_remote_credentials (self->ice, sdp->ice_ufrag, sdp->ice_pwd, error))
    return FALSE;
  self->remote_ufrag = g_strdup (sdp->ice_ufrag);
  add_description_candidates (self, sdp);
  *answer = build_description (self, sdp, ICECAM_SDP_DIRECTION_RECVONLY, "active");
  if (icecam_peer_session_get_state (self) == ICECAM_PEER_STATE_NEW)
    icecam_peer_session_set_state (self, ICECAM_PEER_STATE_CONNECTING);
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
  if (icecam_peer_session_state_is_final (icecam_peer_session_get_state (self))) {
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
    icecam_peer_session_fail (self, g_steal_pointer (&local_error));
    return FALSE;
  }
  if (answer != NULL)
    *answer = local_answer;
  else
    g_free (local_answer);
  return TRUE;
}

