/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loss repair on the wire: generic NACK (RFC 4585 6.2.1) and RTX packets (RFC 4588). */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* At most this many sequence numbers are read from one compound packet. */
#define ICECAM_RTCP_MAX_NACKED 512

/* A receiver report with one report block. */
#define ICECAM_RTCP_RR_SIZE 32

/**
 * IcecamRtcpReportBlock:
 * @ssrc: the source reported on
 * @fraction_lost: lost since the previous report, in 1/256
 * @cumulative_lost: lost since the start (may be negative with duplicates)
 * @highest_seq: extended highest sequence number received
 * @jitter: interarrival jitter, in RTP timestamp units
 * @lsr: middle 32 bits of the NTP time of the last sender report received, 0 if none
 * @dlsr: time since then, in 1/65536 s
 *
 * RFC 3550 6.4.1 report block.
 */
typedef struct {
  guint32 ssrc;
  guint8 fraction_lost;
  gint32 cumulative_lost;
  guint32 highest_seq;
  guint32 jitter;
  guint32 lsr;
  guint32 dlsr;
} IcecamRtcpReportBlock;

gsize icecam_rtcp_build_receiver_report (guint8 *out, gsize room, guint32 sender_ssrc,
                                         const IcecamRtcpReportBlock *block);
gboolean icecam_rtcp_find_report_block (const guint8 *data, gsize length, guint32 ssrc,
                                        IcecamRtcpReportBlock *block);
guint icecam_rtcp_parse_nacks (const guint8 *data, gsize length, guint16 *seqs, guint max_seqs);
gsize icecam_rtcp_build_nack (guint8 *out, gsize room, guint32 sender_ssrc, guint32 media_ssrc,
                              const guint16 *seqs, guint n_seqs);
gboolean icecam_rtp_get_seq (const guint8 *data, gsize length, guint16 *seq);
gboolean icecam_rtx_wrap (const guint8 *packet, gsize length, guint rtx_payload_type,
                          guint32 rtx_ssrc, guint16 rtx_seq, guint8 *out, gsize *out_length);
gboolean icecam_rtx_unwrap (const guint8 *packet, gsize length, guint payload_type,
                            guint32 ssrc, guint8 *out, gsize *out_length);

G_END_DECLS
