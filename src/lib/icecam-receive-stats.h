/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A receiver's statistics of one RTP source, for its receiver reports (RFC 3550 6.4, A.1, A.8). */

#pragma once

#include "icecam-rtcp-feedback.h"

G_BEGIN_DECLS

/**
 * IcecamReceiveStats:
 *
 * Plain data, zero-initialised; used from one thread. Counts the packets of one source as
 * they arrive (originals only: retransmissions are another source, so the report shows the
 * path's loss, the sender's congestion signal), the jitter of their arrival, and the last
 * sender report, and writes report blocks.
 */
typedef struct {
  gboolean started;
  guint16 max_seq;
  guint32 cycles;          /* sequence number wraps, << 16 */
  guint32 base_seq;
  guint64 received;
  guint64 expected_prior, received_prior;
  gint64 last_transit;     /* arrival minus timestamp, in RTP units */
  gdouble jitter;          /* RTP units */
  guint32 lsr;             /* middle 32 bits of the last sender report's NTP time */
  gint64 lsr_arrival;      /* monotonic µs */
  gint64 sr_unix_us;       /* the last sender report's wall-clock time ... */
  guint32 sr_timestamp;    /* ... and the same instant in RTP units */
  gint delay_us;           /* atomic: the last packet's delay (wall clock at arrival minus at
                            * sending, by the sender report's mapping), -1 if unknown */
  guint64 delay_sum_us;    /* atomic: the sum of those delays, and their number */
  guint64 delay_samples;
} IcecamReceiveStats;

void icecam_receive_stats_restart (IcecamReceiveStats *stats);
void icecam_receive_stats_packet (IcecamReceiveStats *stats, const guint8 *packet, gsize length,
                                  guint clock_rate, gint64 now, gint64 now_unix_us);
void icecam_receive_stats_sender_report (IcecamReceiveStats *stats, guint64 ntp_time,
                                         guint32 rtp_timestamp, gint64 now);
void icecam_receive_stats_report (IcecamReceiveStats *stats, guint32 ssrc, gint64 now,
                                  IcecamRtcpReportBlock *block);

G_END_DECLS
