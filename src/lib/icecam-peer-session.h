/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One camera↔viewer session: ICE transport, DTLS-SRTP, SDP, restarts; no signalling. */

#pragma once

#include <gio/gio.h>

#include "icecam-certificate.h"
#include "icecam-dtls-srtp.h"
#include "icecam-ice-config.h"
#include "icecam-ice-session.h"
#include "icecam-rtp-clock.h"
#include "icecam-sdp.h"

G_BEGIN_DECLS

#define ICECAM_PEER_SESSION_ERROR (icecam_peer_session_error_quark ())

/* The largest DTLS datagram that goes through signalling (the `dtls` message's limit). */
#define ICECAM_PEER_SESSION_MAX_SIGNALLED_DTLS 2048
GQuark icecam_peer_session_error_quark (void);

typedef enum {
  ICECAM_PEER_SESSION_ERROR_DESCRIPTION, /* the remote SDP is unusable */
  ICECAM_PEER_SESSION_ERROR_FINGERPRINT, /* not the pinned certificate, or it changed */
  ICECAM_PEER_SESSION_ERROR_ICE,         /* no pair works, or the path died for good */
  ICECAM_PEER_SESSION_ERROR_DTLS,        /* the DTLS handshake failed */
  ICECAM_PEER_SESSION_ERROR_CLOSED,      /* the peer ended the session (DTLS close_notify) */
  ICECAM_PEER_SESSION_ERROR_STATE,       /* the call does not fit the session's state or role */
} IcecamPeerSessionError;

/**
 * IcecamPeerRole:
 * @ICECAM_PEER_ROLE_OFFERER: the camera: sends the offer, controlling ICE agent, DTLS server
 *   (`a=setup:actpass`, answered `active`), restarts ICE when the path dies
 * @ICECAM_PEER_ROLE_ANSWERER: the viewer: answers, controlled ICE agent, DTLS client; an
 *   offer with new ICE credentials is a restart
 */
typedef enum {
  ICECAM_PEER_ROLE_OFFERER,
  ICECAM_PEER_ROLE_ANSWERER,
} IcecamPeerRole;

/**
 * IcecamPeerState:
 * @ICECAM_PEER_STATE_NEW: created; nothing described yet
 * @ICECAM_PEER_STATE_NEGOTIATING: the offer is out, its answer not applied yet
 * @ICECAM_PEER_STATE_CONNECTING: both descriptions known; ICE checks and the DTLS handshake
 * @ICECAM_PEER_STATE_CONNECTED: a pair is selected and DTLS has proved the fingerprint:
 *   media flows
 * @ICECAM_PEER_STATE_RESTARTING: the path died; a new ICE transport is (to be) negotiated,
 *   the DTLS association and its keys are kept
 * @ICECAM_PEER_STATE_CLOSED: closed by icecam_peer_session_close_async(). Final.
 * @ICECAM_PEER_STATE_FAILED: see icecam_peer_session_get_error(). Final.
 */
typedef enum {
  ICECAM_PEER_STATE_NEW,
  ICECAM_PEER_STATE_NEGOTIATING,
  ICECAM_PEER_STATE_CONNECTING,
  ICECAM_PEER_STATE_CONNECTED,
  ICECAM_PEER_STATE_RESTARTING,
  ICECAM_PEER_STATE_CLOSED,
  ICECAM_PEER_STATE_FAILED,
} IcecamPeerState;

/**
 * IcecamPeerPolicy:
 * @connect_timeout_s: an ICE transport without a selected pair this long after it was made
 *   fails the session (0: no deadline; ICE's own failure still counts)
 * @max_restarts: offerer: ICE restarts in a row, without a pair in between, before the
 *   session fails
 * @recovery_timeout_s: after a path died, how long the session waits for a new one (the
 *   offerer for the rendezvous to carry its new offer, the answerer for that offer) before it
 *   fails (0: the answerer fails at once)
 * @media_timeout_ms: a CONNECTED session that has received packets from the peer and then
 *   none for this long emits "media-stalled", once per stall (0: never); ICE's consent
 *   freshness notices a dead path only after about 10 s
 *
 * Timeouts and restart policy; each side keeps its own numbers.
 */
typedef struct {
  guint connect_timeout_s;
  guint max_restarts;
  guint recovery_timeout_s;
  guint media_timeout_ms;
} IcecamPeerPolicy;

/**
 * IcecamPeerReceiveFunc:
 * @data: (array length=length): one decrypted RTP or RTCP packet from the peer
 *
 * Called in the session's GMainContext.
 */
typedef void (*IcecamPeerReceiveFunc) (const guint8 *data, gsize length, gpointer user_data);

#define ICECAM_TYPE_PEER_SESSION (icecam_peer_session_get_type ())
G_DECLARE_FINAL_TYPE (IcecamPeerSession, icecam_peer_session, ICECAM, PEER_SESSION, GObject)

IcecamPeerSession *icecam_peer_session_new (const gchar *id, IcecamPeerRole role,
                                            IcecamCertificate *certificate,
                                            const IcecamIceConfig *config, GError **error);
void icecam_peer_session_set_policy (IcecamPeerSession *self, const IcecamPeerPolicy *policy);
void icecam_peer_session_set_capture_clock (IcecamPeerSession *self, IcecamRtpClock *clock);
void icecam_peer_session_set_ice_config (IcecamPeerSession *self, const IcecamIceConfig *config);
gboolean icecam_peer_session_set_pinned_fingerprint (IcecamPeerSession *self,
                                                     const gchar *fingerprint, GError **error);
void icecam_peer_session_set_receive_func (IcecamPeerSession *self, IcecamPeerReceiveFunc func,
                                           gpointer user_data, GDestroyNotify notify);

gchar *icecam_peer_session_create_offer (IcecamPeerSession *self, const IcecamSdp *media,
                                         GError **error);
gboolean icecam_peer_session_apply_remote_description (IcecamPeerSession *self,
                                                       const gchar *sdp, gchar **answer,
                                                       GError **error);
gboolean icecam_peer_session_gather (IcecamPeerSession *self, GError **error);
gboolean icecam_peer_session_add_remote_candidate (IcecamPeerSession *self,
                                                   const gchar *candidate, GError **error);
void icecam_peer_session_set_remote_gathering_done (IcecamPeerSession *self);
void icecam_peer_session_set_signalled_dtls (IcecamPeerSession *self, gboolean enabled);
void icecam_peer_session_receive_signalled_dtls (IcecamPeerSession *self,
                                                 const guint8 *datagram, gsize length);
gboolean icecam_peer_session_restart (IcecamPeerSession *self, GError **error);

guint icecam_peer_session_send_rtp (IcecamPeerSession *self, const guint8 * const *packets,
                                    const gsize *lengths, guint n_packets, guint8 *scratch,
                                    gsize room);
gboolean icecam_peer_session_send_rtcp (IcecamPeerSession *self, const guint8 *data,
                                        gsize length);

void icecam_peer_session_close_async (IcecamPeerSession *self, GAsyncReadyCallback callback,
                                      gpointer user_data);
gboolean icecam_peer_session_close_finish (IcecamPeerSession *self, GAsyncResult *result,
                                           GError **error);

const gchar *icecam_peer_session_get_id (IcecamPeerSession *self);
IcecamPeerRole icecam_peer_session_get_role (IcecamPeerSession *self);
IcecamPeerState icecam_peer_session_get_state (IcecamPeerSession *self);
const GError *icecam_peer_session_get_error (IcecamPeerSession *self);
const gchar *icecam_peer_session_get_remote_fingerprint (IcecamPeerSession *self);
IcecamIceState icecam_peer_session_get_ice_state (IcecamPeerSession *self);
IcecamPairInfo *icecam_peer_session_get_pair_info (IcecamPeerSession *self);
void icecam_peer_session_get_stats (IcecamPeerSession *self, IcecamIceStats *ice,
                                    IcecamDtlsSrtpStats *dtls);
gchar *icecam_peer_session_describe_candidates (IcecamPeerSession *self);
guint icecam_peer_session_get_restarts (IcecamPeerSession *self);
guint icecam_peer_session_get_transport_number (IcecamPeerSession *self);

const gchar *icecam_peer_state_to_string (IcecamPeerState state);

void icecam_peer_session_use_punched_path (IcecamPeerSession *self, IcecamPunch *punch);

G_END_DECLS
