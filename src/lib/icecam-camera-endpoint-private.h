/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of IcecamCameraEndpoint share: the object, a viewer's session, the signals
 * and the functions of each part. */

#pragma once

#include "icecam-camera-endpoint.h"

#include "icecam-bitrate-controller.h"
#include "icecam-fanout.h"
#include "icecam-peer-session.h"
#include "icecam-punch-session.h"
#include "icecam-retransmitter.h"
#include "icecam-rtp-history.h"
#include "icecam-sdp.h"

G_BEGIN_DECLS

/**
 * IcecamCameraEndpoint:
 *
 * Registers a camera with the rendezvous and serves every viewer that asks for it, each
 * over its own #IcecamPeerSession (the camera offers, controls ICE and is the DTLS server).
 * Packets handed to icecam_camera_endpoint_send() go to every viewer whose session is
 * CONNECTED (pair selected, fingerprint proved): encode once, protect per viewer, fan out.
 * Keyframe requests of all viewers are merged into "keyframe-requested".
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
  gchar *public_ipv4;         /* where `welcome` saw the camera, for predicted candidates */
  IcecamSignallingClient *client;
  GMainContext *context;
  guint max_viewers;
  IcecamCertificate *certificate; /* the camera's DTLS identity */

  IcecamFanout *fanout; /* the CONNECTED sessions */
  IcecamRtpHistory *history; /* what was sent, for retransmissions; thread-safe */
  guint32 rtx_ssrc;          /* RFC 4588 retransmission stream, the same for every viewer */
  IcecamBitrateController *controller; /* the encoder's target from the viewers' reports */
  IcecamRtpClock *capture_clock; /* when each source's content was captured; thread-safe */

  GMutex lock;        /* protects the fields below */
  GHashTable *sessions; /* id -> ViewerSession */
  IcecamSdp *media;   /* the sections the offers describe; NULL until the caps are known */
  gchar *cname;       /* RTCP CNAME of the camera's sources (RFC 3550 6.5.1), random */
  gboolean start_on_keyframe; /* the media is H.264: a new viewer's stream starts at a
                               * keyframe (icecam_rtp_h264_starts_keyframe()) */
  guint rtx_payload_type;     /* of the media described */

  IcecamSdpMedia *audio; /* (nullable): the Opus section offered after the video one */
  gint audio_pending;   /* atomic: audio is expected; the offers wait for its description */
  gint profile_pending; /* atomic: H.264 whose profile-level-id is not known yet; the offers
                         * wait for the first SPS that icecam_camera_endpoint_send() sees */
  gint64 last_keyframe_request;
  GSource *keyframe_source;
  guint pending_closes;
  GTask *close_task;
};

typedef struct {
  IcecamCameraEndpoint *endpoint; /* not a reference: the endpoint owns the session */
  gchar *id;
  gchar *viewer;
  IcecamPeerSession *peer;
  gboolean offer_due;     /* an offer must go out as soon as media and signalling allow */
  gboolean active;        /* in the fan-out */
  gboolean reports;       /* the viewer sends RTCP reports: its silence means something */
  gint64 last_offer;      /* monotonic µs of the latest offer sent */
  IcecamRetransmitter *rtx; /* answers its NACKs */
  gboolean reduced;       /* on the reduced stream (IcecamBitrateController) */
  guint resume_kbps;      /* its estimate when it last left the fan-out (an ICE restart); 0 */
  IcecamPunchSession *punch; /* (nullable): birthday punching beside the session's path */
} ViewerSession;

enum {
  SIGNAL_SESSION_STARTED,
  SIGNAL_PAIR_SELECTED,
  SIGNAL_SESSION_ENDED,
  SIGNAL_SESSION_RESTARTED,
  SIGNAL_KEYFRAME_REQUESTED,
  SIGNAL_SIGNALLING_STATE_CHANGED,
  SIGNAL_GOP_CACHE_START,
  N_SIGNALS
};

extern guint icecam_camera_endpoint_signals[N_SIGNALS];

/* Keyframes and media input (icecam-camera-endpoint-media.c). */
void icecam_camera_endpoint_cancel_keyframe_request (IcecamCameraEndpoint *self);
void icecam_camera_endpoint_request_keyframe (IcecamCameraEndpoint *self, gboolean reduced);

/* Receiver reports and retransmissions (icecam-camera-endpoint-feedback.c). */
void icecam_camera_endpoint_on_peer_receive (const guint8 *data, gsize length,
                                             gpointer user_data);

/* Signalling and the sessions table (icecam-camera-endpoint.c). */
gboolean icecam_camera_endpoint_send_due_offers_cb (gpointer data);

G_END_DECLS
