/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The viewer side: asks the rendezvous for one camera and receives its RTP over ICE. */

#pragma once

#include <gio/gio.h>

#include "icecam-ice-config.h"
#include "icecam-ice-session.h"
#include "icecam-rtp-clock.h"
#include "icecam-sdp.h"
#include "icecam-signalling-client.h"

G_BEGIN_DECLS

#define ICECAM_VIEWER_ERROR (icecam_viewer_error_quark ())
GQuark icecam_viewer_error_quark (void);

typedef enum {
  ICECAM_VIEWER_ERROR_SIGNALLING,    /* the rendezvous is unreachable or went away */
  ICECAM_VIEWER_ERROR_UNKNOWN_CAMERA,/* no such camera online */
  ICECAM_VIEWER_ERROR_REFUSED,       /* the rendezvous or the camera refused the session */
  ICECAM_VIEWER_ERROR_BAD_OFFER,     /* the camera's offer is unusable */
  ICECAM_VIEWER_ERROR_ICE_FAILED,    /* no candidate pair works, or the path died */
  ICECAM_VIEWER_ERROR_ENDED,         /* the camera ended the session */
  ICECAM_VIEWER_ERROR_DTLS,          /* the camera is not the pinned one, or DTLS failed */
} IcecamViewerError;

typedef enum {
  ICECAM_VIEWER_STATE_IDLE,
  ICECAM_VIEWER_STATE_CONNECTING,  /* signalling */
  ICECAM_VIEWER_STATE_WAITING,     /* watch sent, waiting for the session and the offer */
  ICECAM_VIEWER_STATE_CHECKING,    /* answer sent, ICE checks under way */
  ICECAM_VIEWER_STATE_PLAYING,     /* pair selected, DTLS connected, media flows */
  ICECAM_VIEWER_STATE_CLOSED,      /* over; icecam_viewer_endpoint_get_error() says why */
} IcecamViewerState;

#define ICECAM_TYPE_VIEWER_ENDPOINT (icecam_viewer_endpoint_get_type ())
G_DECLARE_FINAL_TYPE (IcecamViewerEndpoint, icecam_viewer_endpoint, ICECAM, VIEWER_ENDPOINT,
                      GObject)

IcecamViewerEndpoint *icecam_viewer_endpoint_new (const gchar *server_url,
                                                  const gchar *camera_id,
                                                  const IcecamIceConfig *config,
                                                  GError **error);
IcecamSignallingClient *icecam_viewer_endpoint_get_client (IcecamViewerEndpoint *self);
void icecam_viewer_endpoint_set_token (IcecamViewerEndpoint *self, const gchar *token);
gboolean icecam_viewer_endpoint_set_region (IcecamViewerEndpoint *self, const gchar *region,
                                            GError **error);
gboolean icecam_viewer_endpoint_set_tls (IcecamViewerEndpoint *self, const gchar *ca_file,
                                         gboolean accept_invalid, GError **error);
gboolean icecam_viewer_endpoint_set_camera_fingerprint (IcecamViewerEndpoint *self,
                                                        const gchar *fingerprint,
                                                        GError **error);
void icecam_viewer_endpoint_set_receive_func (IcecamViewerEndpoint *self,
                                              IcecamIceReceiveFunc func, gpointer user_data,
                                              GDestroyNotify notify);
void icecam_viewer_endpoint_set_wait (IcecamViewerEndpoint *self, gboolean wait);
IcecamRtpClock *icecam_viewer_endpoint_get_sender_clock (IcecamViewerEndpoint *self);
void icecam_viewer_endpoint_start (IcecamViewerEndpoint *self);
void icecam_viewer_endpoint_request_keyframe (IcecamViewerEndpoint *self);
gboolean icecam_viewer_endpoint_request_retransmission (IcecamViewerEndpoint *self,
                                                        const guint16 *seqs, guint n_seqs);
gint64 icecam_viewer_endpoint_get_delay (IcecamViewerEndpoint *self, guint64 *sum_us,
                                         guint64 *samples);
void icecam_viewer_endpoint_get_repair_stats (IcecamViewerEndpoint *self, guint64 *nacked,
                                              guint64 *recovered);
IcecamViewerState icecam_viewer_endpoint_get_state (IcecamViewerEndpoint *self);
const GError *icecam_viewer_endpoint_get_error (IcecamViewerEndpoint *self);
const gchar *icecam_viewer_endpoint_get_session_id (IcecamViewerEndpoint *self);
IcecamPairInfo *icecam_viewer_endpoint_get_pair_info (IcecamViewerEndpoint *self);
gboolean icecam_viewer_endpoint_get_stats (IcecamViewerEndpoint *self, IcecamIceStats *stats);
void icecam_viewer_endpoint_close_async (IcecamViewerEndpoint *self,
                                         GAsyncReadyCallback callback, gpointer user_data);
gboolean icecam_viewer_endpoint_close_finish (IcecamViewerEndpoint *self,
                                              GAsyncResult *result, GError **error);
const gchar *icecam_viewer_state_to_string (IcecamViewerState state);

G_END_DECLS
