/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IcecamViewerEndpoint's media plane: what arrives (RTP, RTX, sender reports) and the RTCP
 * sent back (receiver reports, keyframe requests, NACKs), with the repair and delay counts. */

#include "icecam-viewer-endpoint-private.h"

#include "icecam-rtcp.h"
#include "icecam-rtcp-feedback.h"

/* Room for one retransmitted packet. */
#define RTX_BUFFER_SIZE 2048

gboolean
icecam_viewer_endpoint_send_receiver_report (gpointer data)
{
  IcecamViewerEndpoint *self = data;
  guint8 rr[ICECAM_RTCP_RR_SIZE];
  guint32 media_ssrc = (guint32) g_atomic_int_get ((gint *) &self->media_ssrc);
  IcecamRtcpReportBlock block;
  gsize length = ICECAM_RTCP_EMPTY_RR_SIZE;

  /* Loss and jitter of the camera's stream once it flows (the camera's bitrate follows them),
   * else just "alive". */
  if (media_ssrc != 0 && self->receive_stats.started) {
    icecam_receive_stats_report (&self->receive_stats, media_ssrc, g_get_monotonic_time (),
                                 &block);
    length = icecam_rtcp_build_receiver_report (rr, sizeof rr, self->own_ssrc, &block);
  } else {
    icecam_rtcp_build_empty_rr (rr, self->own_ssrc);
  }
  if (self->peer != NULL)
    icecam_peer_session_send_rtcp (self->peer, rr, length);
  return G_SOURCE_CONTINUE;
}

/* An RTX packet (RFC 4588) goes on as the packet it repairs: downstream sees one stream. */
static void
receive_retransmission (IcecamViewerEndpoint *self, const guint8 *data, gsize length)
{
  guint8 original[RTX_BUFFER_SIZE];
  gsize original_length = sizeof original;
  guint32 media_ssrc = (guint32) g_atomic_int_get ((gint *) &self->media_ssrc);

  if (media_ssrc == 0 ||
      !icecam_rtx_unwrap (data, length, (guint) g_atomic_int_get (&self->payload_type),
                          media_ssrc, original, &original_length))
    return;
  __atomic_add_fetch (&self->recovered, 1, __ATOMIC_RELAXED);
  if (self->receive_func != NULL)
    self->receive_func (original, original_length, self->receive_data);
}

void
icecam_viewer_endpoint_on_peer_receive (const guint8 *data, gsize length, gpointer user_data)
{
  IcecamViewerEndpoint *self = user_data;
  guint32 ssrc;
  gint rtx_payload_type;

  if (icecam_rtp_is_rtcp (data, length)) {
    IcecamRtcpSenderInfo info;

    if (!icecam_rtcp_find_sender_report (data, length, &info))
      return;
    /* Echoed in the receiver reports: the camera measures the round trip with it. */
    if (info.ssrc == (guint32) g_atomic_int_get ((gint *) &self->media_ssrc))
      icecam_receive_stats_sender_report (&self->receive_stats, info.ntp_time,
                                          info.rtp_timestamp, g_get_monotonic_time ());
    /* Each source's RTP time on the camera's clock: what lines audio up with video. */
    icecam_rtp_clock_note (self->sender_clock, info.ssrc, info.rtp_timestamp,
                           icecam_rtp_clock_unix_us_from_ntp (info.ntp_time));
    return;
  }
  icecam_viewer_endpoint_stop_restart_requests (self); /* media again: whatever was asked worked */
  rtx_payload_type = g_atomic_int_get (&self->rtx_payload_type);
  if (rtx_payload_type != 0 && length >= 12 && (data[1] & 0x7f) == rtx_payload_type) {
    receive_retransmission (self, data, length);
    return;
  }
  /* Keyframe requests and receiver reports name the video source, not the audio one. */
  if (length >= 12 && (data[1] & 0x7f) == g_atomic_int_get (&self->video_pt) &&
      icecam_rtp_get_ssrc (data, length, &ssrc)) {
    if (ssrc != (guint32) g_atomic_int_get ((gint *) &self->media_ssrc))
      icecam_receive_stats_restart (&self->receive_stats);
    g_atomic_int_set ((gint *) &self->media_ssrc, (gint) ssrc);
    icecam_receive_stats_packet (&self->receive_stats, data, length, self->clock_rate,
                                 g_get_monotonic_time (), g_get_real_time ());
  }
  if (self->receive_func != NULL)
    self->receive_func (data, length, self->receive_data);
}

/**
 * icecam_viewer_endpoint_get_sender_clock:
 *
 * The camera's sender reports, source by source: the latest RTP timestamp reported and the
 * camera's wall-clock time (µs since 1970) it stands for. Audio and video lined up on that
 * clock play in sync (RFC 3550 6.4.1).
 *
 * Returns: (transfer none): the reports so far; thread-safe
 */
IcecamRtpClock *
icecam_viewer_endpoint_get_sender_clock (IcecamViewerEndpoint *self)
{
  return self->sender_clock;
}

/**
 * icecam_viewer_endpoint_request_keyframe:
 *
 * Sends an RTCP PLI to the camera over the media path. Thread-safe; does nothing before
 * the first packet (there is nothing to refer to yet, and the camera sends a keyframe to
 * every viewer that joins anyway).
 */
void
icecam_viewer_endpoint_request_keyframe (IcecamViewerEndpoint *self)
{
  guint8 pli[ICECAM_RTCP_PLI_SIZE];
  guint32 media_ssrc = (guint32) g_atomic_int_get ((gint *) &self->media_ssrc);
  IcecamPeerSession *peer = NULL;

  if (media_ssrc == 0)
    return;
  g_mutex_lock (&self->lock);
  if (self->peer != NULL)
    peer = g_object_ref (self->peer);
  g_mutex_unlock (&self->lock);
  if (peer == NULL)
    return;
  icecam_rtcp_build_pli (pli, self->own_ssrc, media_ssrc);
  icecam_peer_session_send_rtcp (peer, pli, sizeof pli);
  g_object_unref (peer);
}

/**
 * icecam_viewer_endpoint_request_retransmission:
 * @seqs: (array length=n_seqs): sequence numbers of the camera's stream not received
 *
 * Sends a generic NACK (RFC 4585) for them, if the camera's offer has a retransmission
 * payload type (it resends as RTX, which the endpoint hands on as the original packets).
 * Thread-safe.
 *
 * Returns: whether a NACK went out
 */
gboolean
icecam_viewer_endpoint_request_retransmission (IcecamViewerEndpoint *self, const guint16 *seqs,
                                               guint n_seqs)
{
  guint8 nack[4 * 64];
  guint32 media_ssrc = (guint32) g_atomic_int_get ((gint *) &self->media_ssrc);
  IcecamPeerSession *peer = NULL;
  gsize length;
  gboolean sent = FALSE;

  if (media_ssrc == 0 || g_atomic_int_get (&self->rtx_payload_type) == 0)
    return FALSE;
  length = icecam_rtcp_build_nack (nack, sizeof nack, self->own_ssrc, media_ssrc, seqs, n_seqs);
  g_mutex_lock (&self->lock);
  if (self->peer != NULL)
    peer = g_object_ref (self->peer);
  g_mutex_unlock (&self->lock);
  if (peer != NULL && length > 0)
    sent = icecam_peer_session_send_rtcp (peer, nack, length);
  if (sent)
    __atomic_add_fetch (&self->nacks_sent, n_seqs, __ATOMIC_RELAXED);
  g_clear_object (&peer);
  return sent;
}

/**
 * icecam_viewer_endpoint_get_repair_stats:
 * @nacked: (out) (optional): sequence numbers asked for again
 * @recovered: (out) (optional): retransmissions received
 *
 * Thread-safe.
 */
void
icecam_viewer_endpoint_get_repair_stats (IcecamViewerEndpoint *self, guint64 *nacked,
                                         guint64 *recovered)
{
  if (nacked != NULL)
    *nacked = __atomic_load_n (&self->nacks_sent, __ATOMIC_RELAXED);
  if (recovered != NULL)
    *recovered = __atomic_load_n (&self->recovered, __ATOMIC_RELAXED);
}

/**
 * icecam_viewer_endpoint_get_delay:
 * @sum_us: (out): the sum of the delays of the camera's packets measured so far
 * @samples: (out): their number
 *
 * A packet's delay is the wall clock at its arrival minus the wall clock when the camera
 * sent it, by the camera's last sender report: meaningful when both clocks agree (one host,
 * or NTP). Thread-safe.
 *
 * Returns: the last packet's delay in µs, -1 before the first sender report
 */
gint64
icecam_viewer_endpoint_get_delay (IcecamViewerEndpoint *self, guint64 *sum_us,
                                  guint64 *samples)
{
  *sum_us = __atomic_load_n (&self->receive_stats.delay_sum_us, __ATOMIC_RELAXED);
  *samples = __atomic_load_n (&self->receive_stats.delay_samples, __ATOMIC_RELAXED);
  return *samples > 0 ? g_atomic_int_get (&self->receive_stats.delay_us) : -1;
}
