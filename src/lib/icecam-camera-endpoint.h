/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The camera side: registers with the rendezvous and serves each viewer over its own ICE session. */

#pragma once

#include <gio/gio.h>

#include "icecam-certificate.h"
#include "icecam-ice-config.h"
#include "icecam-ice-session.h"
#include "icecam-bitrate-controller.h"
#include "icecam-retransmitter.h"
#include "icecam-signalling-client.h"

G_BEGIN_DECLS

/**
 * IcecamSessionStats:
 * @session: the session id
 * @viewer: the viewer's id
 * @state: the ICE state
 * @pair: (nullable): the selected pair
 * @ice: packet counters
 * @retransmit: the viewer's NACKs and what was resent
 * @rate: the viewer's bandwidth estimate, what it was sent, its round trip and loss, and
 *   whether it is on the reduced stream
 */
typedef struct {
  gchar *session;
  gchar *viewer;
  IcecamIceState state;
  IcecamPairInfo *pair;
  IcecamIceStats ice;
  IcecamRetransmitStats retransmit;
  IcecamViewerRate rate;
} IcecamSessionStats;

void icecam_session_stats_free (IcecamSessionStats *stats);

#define ICECAM_TYPE_CAMERA_ENDPOINT (icecam_camera_endpoint_get_type ())
G_DECLARE_FINAL_TYPE (IcecamCameraEndpoint, icecam_camera_endpoint, ICECAM, CAMERA_ENDPOINT,
                      GObject)

IcecamCameraEndpoint *icecam_camera_endpoint_new (const gchar *server_url,
                                                  const gchar *camera_id,
                                                  const IcecamIceConfig *config,
                                                  GError **error);
IcecamSignallingClient *icecam_camera_endpoint_get_client (IcecamCameraEndpoint *self);
void icecam_camera_endpoint_set_secret (IcecamCameraEndpoint *self, const gchar *secret);
gboolean icecam_camera_endpoint_set_region (IcecamCameraEndpoint *self, const gchar *region,
                                            GError **error);
gboolean icecam_camera_endpoint_set_tls (IcecamCameraEndpoint *self, const gchar *ca_file,
                                         gboolean accept_invalid, GError **error);
IcecamSignallingState icecam_camera_endpoint_get_signalling_state (IcecamCameraEndpoint *self);
const GError *icecam_camera_endpoint_get_signalling_error (IcecamCameraEndpoint *self);
void icecam_camera_endpoint_set_gop_cache (IcecamCameraEndpoint *self, gboolean enabled);
void icecam_camera_endpoint_set_max_viewers (IcecamCameraEndpoint *self, guint max_viewers);
void icecam_camera_endpoint_set_media (IcecamCameraEndpoint *self, const gchar *media,
                                       guint payload_type, const gchar *rtpmap,
                                       const gchar *fmtp, guint32 ssrc);
void icecam_camera_endpoint_expect_audio (IcecamCameraEndpoint *self);
void icecam_camera_endpoint_set_audio (IcecamCameraEndpoint *self, guint payload_type,
                                       const gchar *fmtp, guint32 ssrc);
void icecam_camera_endpoint_clear_audio (IcecamCameraEndpoint *self);
guint icecam_camera_endpoint_send_audio (IcecamCameraEndpoint *self,
                                         const NiceOutputMessage *messages, guint n_messages);
void icecam_camera_endpoint_note_capture (IcecamCameraEndpoint *self, guint32 ssrc,
                                          guint32 rtp_timestamp, gint64 captured_us);
void icecam_camera_endpoint_set_certificate (IcecamCameraEndpoint *self,
                                             IcecamCertificate *certificate);
IcecamCertificate *icecam_camera_endpoint_get_certificate (IcecamCameraEndpoint *self);
gboolean icecam_camera_endpoint_start (IcecamCameraEndpoint *self, GError **error);
guint icecam_camera_endpoint_send (IcecamCameraEndpoint *self,
                                   const NiceOutputMessage *messages, guint n_messages);
GPtrArray *icecam_camera_endpoint_get_stats (IcecamCameraEndpoint *self);
void icecam_camera_endpoint_set_bitrate_limits (IcecamCameraEndpoint *self, guint min_kbps,
                                                guint max_kbps);
void icecam_camera_endpoint_set_congestion_control (IcecamCameraEndpoint *self,
                                                    gboolean enabled);
guint icecam_camera_endpoint_get_target_bitrate (IcecamCameraEndpoint *self);
guint icecam_camera_endpoint_get_n_viewers (IcecamCameraEndpoint *self);
void icecam_camera_endpoint_close_async (IcecamCameraEndpoint *self,
                                         GAsyncReadyCallback callback, gpointer user_data);
gboolean icecam_camera_endpoint_close_finish (IcecamCameraEndpoint *self,
                                              GAsyncResult *result, GError **error);

G_END_DECLS
