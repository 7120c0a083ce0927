/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A receiver's statistics of one RTP source, for its receiver reports (RFC 3550 6.4, A.1, A.8). */

#include "icecam-receive-stats.h"

#include <string.h>

/* Further than this from the highest sequence number seen: a restart, not a late packet. */
#define MAX_MISORDER 100
#define MAX_DROPOUT 3000
/* Seconds from 1900 (NTP) to 1970. */
#define NTP_UNIX_OFFSET G_GUINT64_CONSTANT (2208988800)

/**
 * icecam_receive_stats_restart:
 *
 * A new source: counting starts again; the delay totals are kept (they describe the path).
 */
void
icecam_receive_stats_restart (IcecamReceiveStats *stats)
{
  guint64 sum = stats->delay_sum_us, samples = stats->delay_samples;

  memset (stats, 0, sizeof *stats);
  stats->delay_sum_us = sum;
  stats->delay_samples = samples;
}

/**
 * icecam_receive_stats_packet:
 * @packet: (array length=length): an RTP packet of the source
 * @clock_rate: its RTP clock rate, e.g. 90000
 * @now: monotonic µs of its arrival
 * @now_unix_us: the same, wall clock (for the delay, when the sender's clock is the same: a
 *   camera and a viewer on one host or both synchronised by NTP)
 */
void
icecam_receive_stats_packet (IcecamReceiveStats *stats, const guint8 *packet, gsize length,
                             guint clock_rate, gint64 now, gint64 now_unix_us)
{
  guint16 seq;
  guint16 delta;
  guint32 timestamp;
  gint64 arrival, transit, d;

  if (!icecam_rtp_get_seq (packet, length, &seq))
    return;
  timestamp = ((guint32) packet[4] << 24) | ((guint32) packet[5] << 16) |
              ((guint32) packet[6] << 8) | packet[7];
  if (!stats->started) {
    stats->started = TRUE;
    stats->max_seq = seq;
    stats->base_seq = seq;
    stats->cycles = 0;
  }
  delta = (guint16) (seq - stats->max_seq);
  if (delta < MAX_DROPOUT) {
    if (seq < stats->max_seq)
      stats->cycles += 1 << 16;
    stats->max_seq = seq;
  } else if (delta <= 65536 - MAX_MISORDER) {
    /* A jump: the source restarted; count from here. */
    stats->max_seq = seq;
    stats->base_seq = seq;
    stats->cycles = 0;
    stats->received = stats->expected_prior = stats->received_prior = 0;
  }
  stats->received++;

  /* A.8: the jitter of arrival against the timestamps, in RTP units. */
  arrival = now * (gint64) clock_rate / G_USEC_PER_SEC;
  transit = arrival - (gint64) timestamp;
  if (stats->last_transit != 0) {
    d = transit - stats->last_transit;
    if (d < 0)
      d = -d;
    /* Wrapped timestamps or a restart give absurd jumps: ignore those. */
    if (d < (gint64) clock_rate * 10)
      stats->jitter += ((gdouble) d - stats->jitter) / 16;
  }
  stats->last_transit = transit;

  if (stats->sr_unix_us != 0) {
    gint64 sent = stats->sr_unix_us +
                  (gint64) (gint32) (timestamp - stats->sr_timestamp) * G_USEC_PER_SEC /
                  (gint64) clock_rate;
    gint64 delay = CLAMP (now_unix_us - sent, 0, 60 * G_USEC_PER_SEC);

    g_atomic_int_set (&stats->delay_us, (gint) delay);
    __atomic_add_fetch (&stats->delay_sum_us, (guint64) delay, __ATOMIC_RELAXED);
    __atomic_add_fetch (&stats->delay_samples, 1, __ATOMIC_RELAXED);
  }
}

/**
 * icecam_receive_stats_sender_report:
 * @ntp_time: the report's NTP time
 * @rtp_timestamp: the same instant in RTP units
 * @now: monotonic µs of its arrival
 */
void
icecam_receive_stats_sender_report (IcecamReceiveStats *stats, guint64 ntp_time,
                                    guint32 rtp_timestamp, gint64 now)
{
  stats->lsr = (guint32) (ntp_time >> 16);
  stats->lsr_arrival = now;
  stats->sr_unix_us = (gint64) ((ntp_time >> 32) - NTP_UNIX_OFFSET) * G_USEC_PER_SEC +
                      (gint64) (((ntp_time & 0xffffffff) * G_USEC_PER_SEC) >> 32);
  stats->sr_timestamp = rtp_timestamp;
}

/**
 * icecam_receive_stats_report:
 * @ssrc: the source's SSRC
 * @now: monotonic µs
 * @block: (out): the report block; the interval's counters start again
 */
void
icecam_receive_stats_report (IcecamReceiveStats *stats, guint32 ssrc, gint64 now,
                             IcecamRtcpReportBlock *block)
{
  guint64 extended = stats->cycles + (guint64) stats->max_seq;
  guint64 expected = stats->started ? extended - stats->base_seq + 1 : 0;
  gint64 expected_interval = (gint64) (expected - stats->expected_prior);
  gint64 received_interval = (gint64) (stats->received - stats->received_prior);
  gint64 lost_interval = expected_interval - received_interval;

  block->ssrc = ssrc;
  block->cumulative_lost = (gint32) CLAMP ((gint64) expected - (gint64) stats->received,
                                           -0x800000, 0x7fffff);
  block->fraction_lost = expected_interval > 0 && lost_interval > 0
                           ? (guint8) MIN (255, (lost_interval << 8) / expected_interval) : 0;
  block->highest_seq = (guint32) extended;
  block->jitter = (guint32) stats->jitter;
  block->lsr = stats->lsr;
  block->dlsr = stats->lsr_arrival != 0
                  ? (guint32) MIN ((now - stats->lsr_arrival) * 65536 / G_USEC_PER_SEC,
                                   G_MAXUINT32)
                  : 0;
  stats->expected_prior = expected;
  stats->received_prior = stats->received;
}
