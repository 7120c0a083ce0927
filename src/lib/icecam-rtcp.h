/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The few RTP/RTCP facts icecam reads and writes on the media path (RFC 3550, 4585, 5104, 5761). */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ICECAM_RTCP_PLI_SIZE 12
#define ICECAM_RTCP_EMPTY_RR_SIZE 8

/* A sender report with no report block (28 bytes) and an SDES with one CNAME of up to 255
 * bytes, rounded up to a word: room enough for icecam_rtcp_build_sender_report(). */
#define ICECAM_RTCP_SENDER_REPORT_MAX_SIZE (28 + 8 + 2 + 255 + 3)

/**
 * IcecamRtcpSenderInfo:
 * @ssrc: the sender's SSRC, the one of its RTP packets
 * @ntp_time: wall-clock time of the report, NTP format (seconds since 1900 in the high 32
 *   bits, the fraction in the low 32)
 * @rtp_timestamp: the same instant in the stream's RTP clock
 * @packet_count: RTP packets sent since the start (to this receiver)
 * @octet_count: payload octets of those packets (no headers, no padding)
 *
 * RFC 3550 6.4.1 sender info.
 */
typedef struct {
  guint32 ssrc;
  guint64 ntp_time;
  guint32 rtp_timestamp;
  guint32 packet_count;
  guint32 octet_count;
} IcecamRtcpSenderInfo;

guint64 icecam_rtcp_ntp_from_unix_us (gint64 unix_us);
gsize icecam_rtcp_build_sender_report (guint8 *out, gsize room, const IcecamRtcpSenderInfo *info,
                                       const gchar *cname);
gboolean icecam_rtcp_is_sender_report (const guint8 *data, gsize length);
gboolean icecam_rtcp_find_sender_report (const guint8 *data, gsize length,
                                         IcecamRtcpSenderInfo *info);
gboolean icecam_rtp_is_rtcp (const guint8 *data, gsize length);
gboolean icecam_rtp_get_ssrc (const guint8 *data, gsize length, guint32 *ssrc);
gboolean icecam_rtp_get_payload (const guint8 *data, gsize length, const guint8 **payload,
                                 gsize *payload_length);
gboolean icecam_rtp_h264_starts_keyframe (const guint8 *data, gsize length);
gboolean icecam_rtp_h264_is_parameter_sets (const guint8 *data, gsize length);
gboolean icecam_rtcp_has_keyframe_request (const guint8 *data, gsize length);
gboolean icecam_rtcp_starts_with_report (const guint8 *data, gsize length);
void icecam_rtcp_build_pli (guint8 out[ICECAM_RTCP_PLI_SIZE], guint32 sender_ssrc,
                            guint32 media_ssrc);
void icecam_rtcp_build_empty_rr (guint8 out[ICECAM_RTCP_EMPTY_RR_SIZE], guint32 sender_ssrc);

G_END_DECLS
