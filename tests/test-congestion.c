/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Congestion control's pure parts: receiver reports (statistics, build, parse), the per-viewer
 * estimate and the shared encoder's target, the reduced stream. */

#include <string.h>

#include "icecam-bitrate-controller.h"
#include "icecam-receive-stats.h"
#include "icecam-reduced-stream.h"
#include "icecam-rtcp-feedback.h"

static gsize
make_rtp (guint8 *out, guint16 seq, guint32 timestamp, gboolean marker, guint8 nal)
{
  memset (out, 0, 20);
  out[0] = 0x80;
  out[1] = (guint8) ((marker ? 0x80 : 0) | 96);
  out[2] = (guint8) (seq >> 8);
  out[3] = (guint8) seq;
  out[4] = (guint8) (timestamp >> 24);
  out[5] = (guint8) (timestamp >> 16);
  out[6] = (guint8) (timestamp >> 8);
  out[7] = (guint8) timestamp;
  out[12] = nal;
  return 20;
}

/* 100 packets with every tenth missing, across the sequence-number wrap: 10 % lost, and the
 * report block reads back as written. */
static void
test_receiver_report (void)
{
  IcecamReceiveStats stats = { 0 };
  IcecamRtcpReportBlock block, back;
  guint8 packet[20], rr[ICECAM_RTCP_RR_SIZE + 8];
  gint64 now = 1000 * G_USEC_PER_SEC;

  memset (&block, 0, sizeof block); /* padding too: compared whole below */
  memset (&back, 0, sizeof back);
  for (guint i = 0; i < 100; i++) {
    guint16 seq = (guint16) (65500 + i);

    if (i % 10 == 5)
      continue;
    make_rtp (packet, seq, 3000 * i, FALSE, 1);
    icecam_receive_stats_packet (&stats, packet, sizeof packet, 90000, now + i * 33333, 0);
  }
  icecam_receive_stats_sender_report (&stats, G_GUINT64_CONSTANT (0x0001000200030004), 0, now);
  icecam_receive_stats_report (&stats, 42, now + G_USEC_PER_SEC / 2, &block);
  g_assert_cmpuint (block.ssrc, ==, 42);
  g_assert_cmpint (block.cumulative_lost, ==, 10);
  g_assert_cmpuint (block.fraction_lost, ==, 10 * 256 / 100);
  g_assert_cmpuint (block.highest_seq, ==, 65536 + (guint16) (65500 + 99));
  g_assert_cmpuint (block.lsr, ==, 0x00020003);
  g_assert_cmpuint (block.dlsr, ==, 32768);
  g_assert_cmpuint (block.jitter, <, 10); /* packets came exactly on time */

  g_assert_cmpuint (icecam_rtcp_build_receiver_report (rr, sizeof rr, 7, &block), ==,
                    ICECAM_RTCP_RR_SIZE);
  g_assert_true (icecam_rtcp_find_report_block (rr, ICECAM_RTCP_RR_SIZE, 42, &back));
  g_assert_cmpmem (&back, sizeof back, &block, sizeof block);
  g_assert_true (icecam_rtcp_find_report_block (rr, ICECAM_RTCP_RR_SIZE, 0, &back));
  g_assert_false (icecam_rtcp_find_report_block (rr, ICECAM_RTCP_RR_SIZE, 43, &back));
  /* truncated: the block is not read past the end */
  rr[3] = 3;
  g_assert_false (icecam_rtcp_find_report_block (rr, 16, 42, &back));

  /* the next interval had no loss */
  make_rtp (packet, (guint16) (65500 + 100), 300000, FALSE, 1);
  icecam_receive_stats_packet (&stats, packet, sizeof packet, 90000, now + 3 * G_USEC_PER_SEC,
                               0);
  icecam_receive_stats_report (&stats, 42, now + 3 * G_USEC_PER_SEC, &block);
  g_assert_cmpuint (block.fraction_lost, ==, 0);
  g_assert_cmpint (block.cumulative_lost, ==, 10);
}

static guint64
ntp_at (gint64 us)
{
  return ((guint64) (us / G_USEC_PER_SEC) << 32) |
         (((guint64) (us % G_USEC_PER_SEC) << 32) / G_USEC_PER_SEC);
}

/* A report from viewer @key at @t: @loss in 1/256, round trip @rtt_ms, @kbps sent to it in the
 * half second before, in packets of 1000 bytes; @counts: the bytes sent to it and the packets it
 * lost so far. */
static void
report (IcecamBitrateController *c, gconstpointer key, gint64 t, guint8 loss, guint rtt_ms,
        guint64 *counts, guint kbps)
{
  IcecamRtcpReportBlock block = { 0 };
  guint64 ntp_now = ntp_at (t);
  guint64 sent = (guint64) kbps * 1000 / 8 / 2;

  counts[0] += sent;
  counts[1] += sent / 1000 * loss / 256;
  block.fraction_lost = loss;
  block.cumulative_lost = (gint32) counts[1];
  block.highest_seq = (guint32) (counts[0] / 1000);
  block.lsr = (guint32) ((ntp_at (t - rtt_ms * 1000) >> 16));
  block.dlsr = 0;
  icecam_bitrate_controller_report (c, key, &block, counts[0], ntp_now, t);
}

/* Reports @from to @end - 1, half a second apart from @t, on a path of round trip @rtt_ms
 * without loss, each after sending at the target then; returns @end. */
static guint
reports_at_target (IcecamBitrateController *c, gconstpointer key, gint64 t, guint from,
                   guint end, guint rtt_ms, guint64 *counts)
{
  for (guint i = from; i < end; i++)
    report (c, key, t + i * G_USEC_PER_SEC / 2, 0, rtt_ms, counts,
            icecam_bitrate_controller_get_target_kbps (c));
  return end;
}

/* One viewer behind 800 kbit/s: a queue builds (the round trip grows), then loss; the target
 * comes down near what gets through, then grows again on a clean path, never over the max. */
static void
test_controller_one_viewer (void)
{
  g_autoptr (IcecamBitrateController) c = icecam_bitrate_controller_new (150, 2500);
  gint64 t = 100 * G_USEC_PER_SEC;
  guint64 bytes[2] = { 0 };
  IcecamViewerRate rate;
  guint v = 1;

  /* nobody: the rate a viewer starts at */
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), ==, 600);
  icecam_bitrate_controller_add_viewer (c, &v);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), ==, 600);  /* start low */
  for (guint i = 0; i < 30; i++) /* 15 s of a clean path */
    report (c, &v, t - 20 * G_USEC_PER_SEC + i * G_USEC_PER_SEC / 2, 0, 40, bytes,
            icecam_bitrate_controller_get_target_kbps (c));
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), ==, 2500);
  report (c, &v, t, 0, 40, bytes, 2500);
  for (guint i = 1; i <= 4; i++)
    report (c, &v, t + i * G_USEC_PER_SEC / 2, 0, 40 + 150 * i, bytes, 2500);
  /* a queue that lasts two round trips: cut by its share (to drain it), once per round trip */
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), <, 1400);
  g_assert_true (icecam_bitrate_controller_is_congested (c, t + 2 * G_USEC_PER_SEC));
  /* heavy loss: down to what gets through (not under 30 % at once), a round trip after the
   * last cut */
  report (c, &v, t + 5 * G_USEC_PER_SEC / 2, 80, 400, bytes,
          icecam_bitrate_controller_get_target_kbps (c));
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), <, 1400);
  for (guint i = 1; i <= 2; i++)
    report (c, &v, t + (5 + i) * G_USEC_PER_SEC / 2, 80, 400 + 10 * i, bytes,
            icecam_bitrate_controller_get_target_kbps (c));
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), <, 900);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), >=, 150);
  g_assert_true (icecam_bitrate_controller_get_viewer (c, &v, &rate));
  g_assert_cmpint (rate.rtt_ms, >=, 419);
  g_assert_cmpint (rate.rtt_ms, <=, 421);
  g_assert_false (rate.reduced);
  /* clean again: grows, up to the maximum and no further */
  t += 10 * G_USEC_PER_SEC;
  for (guint i = 0; i < 100; i++)
    report (c, &v, t + i * G_USEC_PER_SEC / 2, 0, 40,
            bytes, icecam_bitrate_controller_get_target_kbps (c));
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), ==, 2500);
  g_assert_false (icecam_bitrate_controller_is_congested (c, t + 50 * G_USEC_PER_SEC));
  /* off: the maximum whatever the reports */
  icecam_bitrate_controller_set_enabled (c, FALSE);
  report (c, &v, t + 60 * G_USEC_PER_SEC, 255, 900, bytes, 2500);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), ==, 2500);
}

/* The start-up probe ends at the first round trip over the smallest by a queue's worth (near
 * the path's rate a keyframe's burst is the first sign); under where the path last gave way,
 * one such round trip alone is a burst that drains by itself, and only two in a row cut; past
 * it (a probe again), one is enough. */
static void
test_controller_startup_probe (void)
{
  g_autoptr (IcecamBitrateController) c = icecam_bitrate_controller_new (150, 2500);
  gint64 t = 100 * G_USEC_PER_SEC;
  guint64 bytes[2] = { 0 };
  guint v = 1, before, i;

  icecam_bitrate_controller_add_viewer (c, &v);
  i = reports_at_target (c, &v, t, 0, 4, 40, bytes);
  before = icecam_bitrate_controller_get_target_kbps (c);
  g_assert_cmpuint (before, >, 600); /* grew on the clean path */
  report (c, &v, t + i++ * G_USEC_PER_SEC / 2, 0, 140, bytes, before);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), <, before);
  g_assert_true (icecam_bitrate_controller_is_congested (c, t + i * G_USEC_PER_SEC / 2));
  /* clean for 10 s (held under the last cut), then one round trip over: no cut */
  i = reports_at_target (c, &v, t, i, 24, 40, bytes);
  before = icecam_bitrate_controller_get_target_kbps (c);
  report (c, &v, t + i++ * G_USEC_PER_SEC / 2, 0, 140, bytes, before);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), ==, before);
  /* ... and a second in a row: a cut */
  report (c, &v, t + i++ * G_USEC_PER_SEC / 2, 0, 150, bytes, before);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), <, before);
  /* clean for 30 s: past that cut again, and one round trip over cuts */
  i = reports_at_target (c, &v, t, i, i + 60, 40, bytes);
  before = icecam_bitrate_controller_get_target_kbps (c);
  report (c, &v, t + i++ * G_USEC_PER_SEC / 2, 0, 140, bytes, before);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), <, before);
}

/* Past where the path last gave way (115 % of what got through at the cut, after the 15 s
 * ceiling), growth is 8 % a second, not the 16 % of a path never cut: the keyframes are the
 * probes, 2 s apart, and at 16 % the estimate was 35 % higher at each. */
static void
test_controller_probe_growth (void)
{
  g_autoptr (IcecamBitrateController) c = icecam_bitrate_controller_new (150, 20000);
  gint64 t = 100 * G_USEC_PER_SEC;
  guint64 bytes[2] = { 0 };
  IcecamViewerRate rate;
  guint v = 1, i;
  gdouble before;

  icecam_bitrate_controller_add_viewer (c, &v);
  i = reports_at_target (c, &v, t, 0, 4, 40, bytes);
  report (c, &v, t + i++ * G_USEC_PER_SEC / 2, 0, 140, bytes,
          icecam_bitrate_controller_get_target_kbps (c)); /* a cut: the path's rate is known */
  i = reports_at_target (c, &v, t, i, i + 60, 40, bytes); /* 30 s: past the ceiling, past 115 % */
  g_assert_true (icecam_bitrate_controller_get_viewer (c, &v, &rate));
  before = rate.estimate_kbps;
  reports_at_target (c, &v, t, i, i + 4, 40, bytes); /* 2 s more */
  g_assert_true (icecam_bitrate_controller_get_viewer (c, &v, &rate));
  g_assert_cmpfloat (rate.estimate_kbps / before, >, 1.12);  /* 1.08^2 = 1.166 */
  g_assert_cmpfloat (rate.estimate_kbps / before, <, 1.2);   /* 1.16^2 = 1.346 */
}

/* The smallest round trip is forgotten after a while (a route may change), but never replaced
 * by one full queue's round trip because 30 s passed since the smallest was seen: that read a
 * full queue as none. */
static void
test_controller_min_rtt_window (void)
{
  g_autoptr (IcecamBitrateController) c = icecam_bitrate_controller_new (150, 20000);
  gint64 t = 100 * G_USEC_PER_SEC;
  guint64 bytes[2] = { 0 };
  guint v = 1, before;

  icecam_bitrate_controller_add_viewer (c, &v);
  report (c, &v, t, 0, 40, bytes, 600);
  reports_at_target (c, &v, t, 1, 60, 50, bytes); /* 29.5 s at 50 ms: 40 ms not seen again */
  before = icecam_bitrate_controller_get_target_kbps (c);
  /* a full queue, the first round trip more than 30 s after the smallest */
  report (c, &v, t + 61 * G_USEC_PER_SEC / 2, 0, 300, bytes, before);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), <, before);
}

/* A slow viewer (or one reporting absurd loss) is set apart: the fast one keeps the encoder. */
static void
test_controller_slow_viewer (void)
{
  g_autoptr (IcecamBitrateController) c = icecam_bitrate_controller_new (150, 2500);
  gint64 t = 100 * G_USEC_PER_SEC;
  guint64 fast_bytes[2] = { 0 }, slow_bytes[2] = { 0 };
  IcecamViewerRate rate;
  guint fast = 1, slow = 2;

  icecam_bitrate_controller_add_viewer (c, &fast);
  icecam_bitrate_controller_add_viewer (c, &slow);
  for (guint i = 0; i < 30; i++) {
    report (c, &fast, t + i * G_USEC_PER_SEC / 2, 0, 40, fast_bytes, 2500);
    report (c, &slow, t + i * G_USEC_PER_SEC / 2, 200, 600, slow_bytes, 300);
  }
  g_assert_true (icecam_bitrate_controller_get_viewer (c, &slow, &rate));
  g_assert_true (rate.reduced);
  g_assert_true (icecam_bitrate_controller_get_viewer (c, &fast, &rate));
  g_assert_false (rate.reduced);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), ==, 2500);
  /* the slow one leaves: nothing changes for the fast one */
  icecam_bitrate_controller_remove_viewer (c, &slow);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), ==, 2500);
}

/* A viewer that joins while another watches starts at the encoder's target: not set apart
 * (keyframes only) before its path has said anything, and the target stays; one back after an
 * ICE restart starts where it was. */
static void
test_controller_late_viewer (void)
{
  g_autoptr (IcecamBitrateController) c = icecam_bitrate_controller_new (150, 2500);
  gint64 t = 100 * G_USEC_PER_SEC;
  guint64 bytes[2] = { 0 };
  IcecamViewerRate rate;
  guint first = 1, late = 2, i;

  icecam_bitrate_controller_add_viewer (c, &first);
  for (i = 0; i < 30; i++)
    report (c, &first, t + i * G_USEC_PER_SEC / 2, 0, 40, bytes,
            icecam_bitrate_controller_get_target_kbps (c));
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), ==, 2500);
  icecam_bitrate_controller_add_viewer (c, &late);
  g_assert_true (icecam_bitrate_controller_get_viewer (c, &late, &rate));
  g_assert_false (rate.reduced);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), ==, 2500);
  /* back after an ICE restart at the estimate it had: set apart again at once */
  icecam_bitrate_controller_remove_viewer (c, &late);
  icecam_bitrate_controller_add_viewer_at (c, &late, 200);
  g_assert_true (icecam_bitrate_controller_get_viewer (c, &late, &rate));
  g_assert_cmpuint (rate.estimate_kbps, ==, 200);
  g_assert_true (rate.reduced);
  g_assert_cmpuint (icecam_bitrate_controller_get_target_kbps (c), ==, 2500);
}

/* A thin stream with random loss: a report reading 12.5 % from one packet in eight is no
 * reason to cut; the same fraction of a stream ten times thicker is. */
static void
test_controller_sparse_loss (void)
{
  g_autoptr (IcecamBitrateController) c = icecam_bitrate_controller_new (50, 2500);
  gint64 t = 100 * G_USEC_PER_SEC;
  guint64 counts[2] = { 0 };
  IcecamViewerRate rate;
  guint before, v = 1;

  icecam_bitrate_controller_add_viewer (c, &v);
  for (guint i = 0; i < 4; i++)
    report (c, &v, t + i * G_USEC_PER_SEC / 2, 0, 40, counts, 170);
  g_assert_true (icecam_bitrate_controller_get_viewer (c, &v, &rate));
  before = rate.estimate_kbps;
  for (guint i = 4; i < 12; i++) /* 170 kbit/s: 10 packets a report, 1 lost */
    report (c, &v, t + i * G_USEC_PER_SEC / 2, 32, 40, counts, 170);
  g_assert_true (icecam_bitrate_controller_get_viewer (c, &v, &rate));
  g_assert_cmpuint (rate.estimate_kbps, >=, before);
  g_assert_false (icecam_bitrate_controller_is_congested (c, t + 6 * G_USEC_PER_SEC));
  report (c, &v, t + 6 * G_USEC_PER_SEC, 32, 40, counts, 1700); /* 106 packets, 13 lost */
  g_assert_true (icecam_bitrate_controller_is_congested (c, t + 6 * G_USEC_PER_SEC));
}

/* Keyframes only, renumbered without gaps; back to full at the next keyframe. */
static void
test_reduced_stream (void)
{
  IcecamReducedStream stream = { 0 };
  guint8 packets[8][20];
  const guint8 *in[8], *out[8];
  gsize lengths[8], out_lengths[8];
  guint8 copies[8 * 64];
  guint n;

  /* 0: IDR (single NAL, marker), 1-2: P frame, 3-4: IDR in two FU-A, 5-6: P, 7: IDR */
  lengths[0] = make_rtp (packets[0], 100, 0, TRUE, 0x65);
  lengths[1] = make_rtp (packets[1], 101, 1, FALSE, 0x41);
  lengths[2] = make_rtp (packets[2], 102, 1, TRUE, 0x41);
  lengths[3] = make_rtp (packets[3], 103, 2, FALSE, 0x7c);
  packets[3][13] = 0x85; /* FU-A start of an IDR */
  lengths[4] = make_rtp (packets[4], 104, 2, TRUE, 0x7c);
  packets[4][13] = 0x45; /* FU-A end */
  lengths[5] = make_rtp (packets[5], 105, 3, FALSE, 0x41);
  lengths[6] = make_rtp (packets[6], 106, 3, TRUE, 0x41);
  lengths[7] = make_rtp (packets[7], 107, 4, TRUE, 0x65);
  for (guint i = 0; i < 8; i++)
    in[i] = packets[i];

  g_assert_false (icecam_reduced_stream_needed (&stream));
  icecam_reduced_stream_set_wanted (&stream, TRUE);
  g_assert_true (icecam_reduced_stream_needed (&stream));
  n = icecam_reduced_stream_filter (&stream, in, lengths, 5, copies, 64, out, out_lengths);
  g_assert_cmpuint (n, ==, 3); /* 100, 103, 104 as 100, 101, 102 */
  g_assert_cmpuint ((out[1][2] << 8) | out[1][3], ==, 101);
  g_assert_cmpuint ((out[2][2] << 8) | out[2][3], ==, 102);
  g_assert_cmpuint (icecam_reduced_stream_to_camera_seq (&stream, 102), ==, 104);
  /* full again, from the next keyframe (107): 105 and 106 are still left out */
  icecam_reduced_stream_set_wanted (&stream, FALSE);
  n = icecam_reduced_stream_filter (&stream, in + 5, lengths + 5, 3, copies, 64, out,
                                    out_lengths);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpuint ((out[0][2] << 8) | out[0][3], ==, 103);
  g_assert_true (icecam_reduced_stream_needed (&stream)); /* still renumbered */
  n = icecam_reduced_stream_filter (&stream, in + 1, lengths + 1, 2, copies, 64, out,
                                    out_lengths);
  g_assert_cmpuint (n, ==, 2);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/congestion/receiver-report", test_receiver_report);
  g_test_add_func ("/congestion/controller/one-viewer", test_controller_one_viewer);
  g_test_add_func ("/congestion/controller/startup-probe", test_controller_startup_probe);
  g_test_add_func ("/congestion/controller/probe-growth", test_controller_probe_growth);
  g_test_add_func ("/congestion/controller/min-rtt-window", test_controller_min_rtt_window);
  g_test_add_func ("/congestion/controller/slow-viewer", test_controller_slow_viewer);
  g_test_add_func ("/congestion/controller/late-viewer", test_controller_late_viewer);
  g_test_add_func ("/congestion/controller/sparse-loss", test_controller_sparse_loss);
  g_test_add_func ("/congestion/reduced-stream", test_reduced_stream);
  return g_test_run ();
}
