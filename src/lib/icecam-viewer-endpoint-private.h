/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of IcecamViewerEndpoint share: the object and the functions of each part. */

#pragma once

#include "icecam-viewer-endpoint.h"

#include "icecam-peer-session.h"
#include "icecam-punch-session.h"
#include "icecam-receive-stats.h"

G_BEGIN_DECLS

/**
 * IcecamViewerEndpoint:
 *
 * Connects to the rendezvous, asks for one camera and runs one #IcecamPeerSession with it
 * as the answerer: controlled ICE agent, DTLS client proving the camera's certificate
 * fingerprint (from the offer, or pinned with icecam_viewer_endpoint_set_camera_fingerprint()).
 * Every decrypted RTP packet goes to the receive function.
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
  IcecamSignallingClient *client;
  IcecamViewerState state;
  GError *error;
  gchar *session_id;
  IcecamPunchSession *punch; /* (nullable): birthday punching beside the session's path */

  IcecamIceReceiveFunc receive_func;
  gpointer receive_data;
  GDestroyNotify receive_notify;

  IcecamCertificate *certificate; /* ephemeral: the camera learns it from each answer */
  gchar *pinned_fingerprint;      /* as the user gave it; NULL: trust the offer's */
  guint32 own_ssrc;
  guint32 media_ssrc;    /* atomic: the camera's video SSRC, learnt from its packets */
  gint video_pt;         /* atomic: the payload type of the offer's first (video) section */
  gint payload_type;     /* atomic: the offer's, and its RTX payload type (0: none) */
  gint rtx_payload_type;
  guint64 nacks_sent;    /* atomic: sequence numbers asked for again */
  guint64 recovered;     /* atomic: retransmissions received */
  IcecamReceiveStats receive_stats; /* of the camera's video, for the receiver reports */
  IcecamRtpClock *sender_clock;   /* the camera's sender reports: RTP time to its wall clock */
  guint clock_rate;      /* of the offer's rtpmap */
  gboolean taking_offer;  /* applying the camera's offer: a restart it started, not a death */
  gboolean camera_left;  /* the camera's signalling went away while media flowed: it cannot
                          * send the offer of an ICE restart */
  gboolean wait;         /* an unknown camera is waited for, not an error */
  gboolean watch_pending; /* the camera was unknown: watch again once presence lists it */
  gchar **online;        /* the last presence list: the cameras this viewer may see */

  GMainContext *context;
  GSource *report_source; /* receiver reports while PLAYING */
  GSource *restart_source; /* asks for an ICE restart while the media is stopped */
  gboolean played;        /* the session was PLAYING once: errors are no longer fatal */

  GMutex lock;           /* protects peer against the thread-safe functions */
  IcecamPeerSession *peer;
};

/* The session and its signalling (icecam-viewer-endpoint.c). */
void icecam_viewer_endpoint_stop_restart_requests (IcecamViewerEndpoint *self);

/* The media plane (icecam-viewer-endpoint-media.c). */
gboolean icecam_viewer_endpoint_send_receiver_report (gpointer data);
void icecam_viewer_endpoint_on_peer_receive (const guint8 *data, gsize length,
                                             gpointer user_data);

G_END_DECLS
