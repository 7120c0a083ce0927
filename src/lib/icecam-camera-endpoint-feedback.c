/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IcecamCameraEndpoint's feedback from the viewers: receiver reports and congestion control,
 * retransmissions answering NACKs, per-session stats. */

#include "icecam-camera-endpoint-private.h"

#include "icecam-rtcp-feedback.h"
#include "icecam-rtcp.h"
#include "icecam-srtp.h"

static gboolean
send_retransmission (const guint8 *packet, gsize length, gpointer user_data)
{
  guint8 scratch[ICECAM_RTP_HISTORY_MAX_PACKET + 2 + ICECAM_SRTP_MAX_OVERHEAD];
  const guint8 *packets[1] = { packet };

  if (length + ICECAM_SRTP_MAX_OVERHEAD > sizeof scratch)
    return FALSE;
  return icecam_peer_session_send_rtp (user_data, packets, &length, 1, scratch,
                                       sizeof scratch) == 1;
}

/* Generic NACKs are answered from the shared history, as RTX (see IcecamRetransmitter). */
static void
answer_nacks (IcecamCameraEndpoint *self, ViewerSession *vs, const guint8 *data, gsize length)
{
  guint rtx_payload_type;
  guint16 seq_offset;

  g_mutex_lock (&self->lock);
  rtx_payload_type = self->rtx_payload_type;
  g_mutex_unlock (&self->lock);
  /* A viewer on the reduced stream is too slow for repairs. */
  if (rtx_payload_type != 0 &&
      !icecam_fanout_get_renumbering (self->fanout, vs->peer, &seq_offset))
    icecam_retransmitter_answer (vs->rtx, self->history, rtx_payload_type, self->rtx_ssrc,
                                 seq_offset, data, length, send_retransmission, vs->peer);
}

/* Viewers far below the others get keyframes only, the others the full stream again. */
static void
update_reduced (IcecamCameraEndpoint *self)
{
  GHashTableIter iter;
  ViewerSession *vs;
  IcecamViewerRate rate;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &vs)) {
    if (!vs->active || !icecam_bitrate_controller_get_viewer (self->controller, vs, &rate) ||
        rate.reduced == vs->reduced)
      continue;
    vs->reduced = rate.reduced;
    icecam_fanout_set_reduced (self->fanout, vs->peer, rate.reduced);
    g_message ("camera %s: session %s %s (its estimate %u kbit/s, the encoder's %u)",
               self->camera_id, vs->id,
               rate.reduced ? "is far below the others: keyframes only"
                            : "gets the full stream again",
               rate.estimate_kbps, icecam_bitrate_controller_get_target_kbps (self->controller));
  }
}

/* A receiver report: the viewer's estimate, the encoder's target, who is reduced. */
static void
note_report (IcecamCameraEndpoint *self, ViewerSession *vs, const guint8 *data, gsize length)
{
  IcecamRtcpReportBlock block;
  IcecamIceStats ice = { 0 };
  IcecamRetransmitStats rtx;
  IcecamViewerRate rate;
  const IcecamSdpMedia *video;
  guint32 ssrc = 0;

  g_mutex_lock (&self->lock);
  video = self->media != NULL ? icecam_sdp_get_media (self->media, 0) : NULL;
  if (video != NULL)
    ssrc = video->ssrc;
  g_mutex_unlock (&self->lock);
  if (!vs->active || !icecam_rtcp_find_report_block (data, length, ssrc, &block))
    return;
  icecam_peer_session_get_stats (vs->peer, &ice, NULL);
  icecam_retransmitter_get_stats (vs->rtx, &rtx);
  icecam_bitrate_controller_report (self->controller, vs, &block,
                                    ice.bytes_sent - MIN (rtx.bytes, ice.bytes_sent),
                                    icecam_rtcp_ntp_from_unix_us (g_get_real_time ()),
                                    g_get_monotonic_time ());
  /* Repairs must not deepen the congestion they follow: a quarter of the estimate at most. */
  if (icecam_bitrate_controller_get_viewer (self->controller, vs, &rate))
    icecam_retransmitter_set_ceiling (vs->rtx, (guint64) rate.estimate_kbps * 1000 / 8 / 4);
  update_reduced (self);
}

void
icecam_camera_endpoint_on_peer_receive (const guint8 *data, gsize length, gpointer user_data)
{
  ViewerSession *vs = user_data;

  if (icecam_rtcp_starts_with_report (data, length)) {
    vs->reports = TRUE;
    note_report (vs->endpoint, vs, data, length);
  }
  if (icecam_rtcp_has_keyframe_request (data, length))
    icecam_camera_endpoint_request_keyframe (vs->endpoint, vs->reduced);
  answer_nacks (vs->endpoint, vs, data, length);
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
    stats->state = icecam_peer_session_get_ice_state (vs->peer);
    stats->pair = icecam_peer_session_get_pair_info (vs->peer);
    icecam_peer_session_get_stats (vs->peer, &stats->ice, NULL);
    icecam_retransmitter_get_stats (vs->rtx, &stats->retransmit);
    if (!icecam_bitrate_controller_get_viewer (self->controller, vs, &stats->rate))
      stats->rate.rtt_ms = -1;
    g_ptr_array_add (all, stats);
  }
  g_mutex_unlock (&self->lock);
  return all;
}

/**
 * icecam_camera_endpoint_set_bitrate_limits:
 * @min_kbps: the encoder's target never goes under this
 * @max_kbps: nor over this (the encoder's configured bitrate)
 *
 * Thread-safe.
 */
void
icecam_camera_endpoint_set_bitrate_limits (IcecamCameraEndpoint *self, guint min_kbps,
                                           guint max_kbps)
{
  icecam_bitrate_controller_set_limits (self->controller, min_kbps, max_kbps);
}

/**
 * icecam_camera_endpoint_set_congestion_control:
 * @enabled: FALSE: the target stays at the maximum and every viewer gets the full stream
 *
 * Thread-safe.
 */
void
icecam_camera_endpoint_set_congestion_control (IcecamCameraEndpoint *self, gboolean enabled)
{
  icecam_bitrate_controller_set_enabled (self->controller, enabled);
}

/**
 * icecam_camera_endpoint_get_target_bitrate:
 *
 * What the encoder should make now: the smallest estimate of the viewers that are not far
 * below the others, within the limits (IcecamBitrateController). Thread-safe and cheap: the
 * streaming thread may ask for every buffer.
 *
 * Returns: kbit/s
 */
guint
icecam_camera_endpoint_get_target_bitrate (IcecamCameraEndpoint *self)
{
  return icecam_bitrate_controller_get_target_kbps (self->controller);
}
