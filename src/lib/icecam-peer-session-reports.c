/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IcecamPeerSession's RTCP sender reports (RFC 3550 6.4.1): what the offerer sent this peer,
 * source by source, and a report four times a second while it sends (each receiver report
 * then echoes a fresh one: the round trip, which is how the camera sees a queue building on
 * the path, is measured every 250 ms, not once a second). A report goes out with the media,
 * from the thread that sends it, when one is due: no timer per session wakes the context
 * (a camera's worker runs every viewer's session: 32 viewers were 128 wake-ups a second, each
 * a pass over every viewer's sources and sockets; docs/benchmarks.md section 19). */

#include "icecam-peer-session-private.h"

#include "icecam-rtcp.h"

#include <string.h>

#define REPORT_INTERVAL_US (250 * G_TIME_SPAN_MILLISECOND)

/* Called with the lock held, for the packets just handed to the transport. */
void
icecam_peer_session_note_sent_locked (IcecamPeerSession *self, const guint8 * const *packets,
                                      const gsize *lengths, guint n_packets)
{
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < n_packets; i++) {
    const guint8 *data = packets[i], *payload;
    gsize payload_length;
    IcecamRtpSource *source = NULL;
    guint32 ssrc;

    if (!icecam_rtp_get_ssrc (data, lengths[i], &ssrc) ||
        !icecam_rtp_get_payload (data, lengths[i], &payload, &payload_length))
      continue;
    for (guint j = 0; j < self->n_sources && source == NULL; j++) {
      if (self->sources[j].ssrc == ssrc)
        source = &self->sources[j];
    }
    if (source == NULL) {
      if (self->n_sources == ICECAM_PEER_SESSION_MAX_SOURCES)
        continue;
      source = &self->sources[self->n_sources++];
      memset (source, 0, sizeof *source);
      source->ssrc = ssrc;
    }
    source->payload_type = data[1] & 0x7f;
    source->packets++;
    source->octets += (guint32) payload_length;
    source->last_timestamp = ((guint32) data[4] << 24) | ((guint32) data[5] << 16) |
                             ((guint32) data[6] << 8) | data[7];
    source->last_sent = now;
  }
}

/* The clock rate of each payload type and the CNAME, from the media the offer describes. */
void
icecam_peer_session_set_report_media (IcecamPeerSession *self, const IcecamSdp *media)
{
  g_mutex_lock (&self->lock); /* the thread that sends media reads them */
  memset (self->clock_rates, 0, sizeof self->clock_rates);
  for (guint i = 0; i < media->media->len; i++) {
    const IcecamSdpMedia *section = g_ptr_array_index (media->media, i);
    const gchar *slash = section->rtpmap ? strchr (section->rtpmap, '/') : NULL;
    guint64 rate = slash ? g_ascii_strtoull (slash + 1, NULL, 10) : 0;

    if (rate > 0 && rate <= 1000000 && section->payload_type < 128)
      self->clock_rates[section->payload_type] = (guint32) rate;
    if (section->cname != NULL && self->cname == NULL)
      self->cname = g_strdup (section->cname);
  }
  if (self->cname == NULL)
    self->cname = g_strdup_printf ("%08x%08x", g_random_int (), g_random_int ());
  g_mutex_unlock (&self->lock);
}

/* The sender info of @source now: the RTP timestamp extrapolated from its last packet with the
 * payload type's clock. */
static gboolean
make_sender_info (IcecamPeerSession *self, const IcecamRtpSource *source, gint64 now_monotonic,
                  gint64 now_real, IcecamRtcpSenderInfo *info)
{
  guint32 rate = self->clock_rates[source->payload_type];
  gint64 elapsed = now_monotonic - source->last_sent, captured_us;
  guint32 captured_timestamp;

  if (rate == 0)
    return FALSE;
  info->ssrc = source->ssrc;
  info->ntp_time = icecam_rtcp_ntp_from_unix_us (now_real);
  info->rtp_timestamp = source->last_timestamp +
                        (guint32) ((guint64) MAX (elapsed, 0) * rate / G_USEC_PER_SEC);
  /* Known, the capture time of a recent packet is the better reference: receivers line audio
   * up with video from these reports, and the streams' encoders delay them differently. */
  if (self->capture_clock != NULL &&
      icecam_rtp_clock_lookup (self->capture_clock, source->ssrc, &captured_timestamp,
                               &captured_us))
    info->rtp_timestamp = icecam_rtp_clock_timestamp_at (captured_timestamp, captured_us,
                                                         now_monotonic, rate);
  info->packet_count = source->packets;
  info->octet_count = source->octets;
  return TRUE;
}

/**
 * icecam_peer_session_take_reports_locked:
 * @reports: room for %ICECAM_PEER_SESSION_MAX_SOURCES reports of
 *   %ICECAM_RTCP_SENDER_REPORT_MAX_SIZE bytes each
 * @lengths: (out caller-allocates) (array fixed-size=4): their lengths
 *
 * Called with the lock held, after icecam_peer_session_note_sent_locked(): if a report is due,
 * one per source that sent since the last one (RFC 3550 6.4: only active senders send SR, so
 * a source that stopped stops reporting and reports never keep a dead stream alive).
 *
 * Returns: the number of reports in @reports
 */
guint
icecam_peer_session_take_reports_locked (IcecamPeerSession *self, guint8 *reports,
                                         gsize *lengths)
{
  gint64 now = g_get_monotonic_time (), real;
  guint n = 0;

  if (self->next_report == 0 || now < self->next_report)
    return 0;
  self->next_report = now + REPORT_INTERVAL_US;
  real = g_get_real_time ();
  for (guint i = 0; i < self->n_sources; i++) {
    IcecamRtpSource *source = &self->sources[i];
    IcecamRtcpSenderInfo info;
    gsize length;

    if (source->last_sent <= source->last_reported)
      continue;
    source->last_reported = source->last_sent;
    if (!make_sender_info (self, source, now, real, &info))
      continue;
    length = icecam_rtcp_build_sender_report (reports + n * ICECAM_RTCP_SENDER_REPORT_MAX_SIZE,
                                              ICECAM_RTCP_SENDER_REPORT_MAX_SIZE, &info,
                                              self->cname);
    if (length > 0)
      lengths[n++] = length;
  }
  return n;
}

/**
 * icecam_peer_session_set_capture_clock:
 * @clock: (nullable): for each SSRC, the RTP timestamp of content captured at a monotonic time
 *
 * The sender reports then map RTP time to the time of capture rather than of sending. Call
 * before the session connects.
 */
void
icecam_peer_session_set_capture_clock (IcecamPeerSession *self, IcecamRtpClock *clock)
{
  g_clear_pointer (&self->capture_clock, icecam_rtp_clock_unref);
  if (clock != NULL)
    self->capture_clock = icecam_rtp_clock_ref (clock);
}

/* Offerer, on becoming CONNECTED: reports start, the first after a random part of the
 * interval so that a camera's viewers do not all report with the same packet. */
void
icecam_peer_session_start_reports (IcecamPeerSession *self)
{
  if (self->role != ICECAM_PEER_ROLE_OFFERER)
    return;
  g_mutex_lock (&self->lock);
  if (self->next_report == 0)
    self->next_report = g_get_monotonic_time () +
                        g_random_int_range (REPORT_INTERVAL_US / 2, REPORT_INTERVAL_US);
  g_mutex_unlock (&self->lock);
}

/* On leaving CONNECTED. */
void
icecam_peer_session_stop_reports (IcecamPeerSession *self)
{
  g_mutex_lock (&self->lock);
  self->next_report = 0;
  g_mutex_unlock (&self->lock);
}
