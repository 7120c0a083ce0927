/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loss repair's pure parts: generic NACK parse/build, RTX wrap/unwrap, the shared history and
 * the per-viewer cap on retransmissions. */

#include <string.h>

#include "icecam-retransmitter.h"
#include "icecam-rtcp-feedback.h"
#include "icecam-rtp-history.h"
#include "icecam-sdp.h"

/* An RTP packet: V=2, PT 96, @seq, timestamp 1000, SSRC 0x11223344, @payload_length bytes. */
static gsize
make_rtp (guint8 *out, guint16 seq, gsize payload_length, gboolean marker)
{
  out[0] = 0x80;
  out[1] = (guint8) ((marker ? 0x80 : 0) | 96);
  out[2] = (guint8) (seq >> 8);
  out[3] = (guint8) seq;
  memcpy (out + 4, "\x00\x00\x03\xe8\x11\x22\x33\x44", 8);
  for (gsize i = 0; i < payload_length; i++)
    out[12 + i] = (guint8) (i + seq);
  return 12 + payload_length;
}

static void
test_nack_round_trip (void)
{
  guint16 asked[] = { 65530, 65531, 65535, 0, 9, 10, 100 };
  guint16 got[64];
  guint8 nack[256];
  gsize length = icecam_rtcp_build_nack (nack, sizeof nack, 1, 2, asked, G_N_ELEMENTS (asked));
  guint n;

  /* 65530 with 65531, 65535, 0, 9 and 10 in its bitmask (16 after it, across the wrap); 100
   * alone */
  g_assert_cmpuint (length, ==, 12 + 2 * 4);
  g_assert_cmpuint (nack[1], ==, 205);
  g_assert_cmpuint (nack[0] & 0x1f, ==, 1);
  n = icecam_rtcp_parse_nacks (nack, length, got, G_N_ELEMENTS (got));
  g_assert_cmpuint (n, ==, G_N_ELEMENTS (asked));
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (got[i], ==, asked[i]);
}

/* A receiver report, then a NACK, in one compound packet: the NACK is found. */
static void
test_nack_in_compound (void)
{
  guint16 asked[] = { 7 };
  guint16 got[8];
  guint8 packet[64] = { 0x80, 201, 0, 1, 0, 0, 0, 9 };
  gsize length = 8 + icecam_rtcp_build_nack (packet + 8, sizeof packet - 8, 9, 2, asked, 1);

  g_assert_cmpuint (icecam_rtcp_parse_nacks (packet, length, got, 8), ==, 1);
  g_assert_cmpuint (got[0], ==, 7);
}

static void
test_nack_malformed (void)
{
  guint16 got[8];
  guint8 nack[16];
  guint16 asked[] = { 1 };
  gsize length = icecam_rtcp_build_nack (nack, sizeof nack, 1, 2, asked, 1);

  /* a length field past the end, a truncated packet, not RTCP, an empty FCI */
  nack[3] = 40;
  g_assert_cmpuint (icecam_rtcp_parse_nacks (nack, length, got, 8), ==, 0);
  nack[3] = 3;
  g_assert_cmpuint (icecam_rtcp_parse_nacks (nack, length - 1, got, 8), ==, 0);
  g_assert_cmpuint (icecam_rtcp_parse_nacks ((const guint8 *) "\x80\x60\0\0", 4, got, 8), ==, 0);
  nack[3] = 2;
  g_assert_cmpuint (icecam_rtcp_parse_nacks (nack, 12, got, 8), ==, 0);
  /* the caller's room is respected: 17 sequence numbers asked, 4 room */
  nack[3] = 3;
  nack[14] = nack[15] = 0xff;
  g_assert_cmpuint (icecam_rtcp_parse_nacks (nack, length, got, 4), ==, 4);
}

static void
test_rtx_round_trip (void)
{
  guint8 original[200], rtx[202], back[202];
  gsize length = make_rtp (original, 4242, 100, TRUE);
  gsize rtx_length = sizeof rtx, back_length = sizeof back;

  g_assert_true (icecam_rtx_wrap (original, length, 97, 0xabcdef01, 7, rtx, &rtx_length));
  g_assert_cmpuint (rtx_length, ==, length + 2);
  g_assert_cmpuint (rtx[1], ==, 0x80 | 97); /* marker kept */
  g_assert_cmpuint ((rtx[2] << 8) | rtx[3], ==, 7);
  g_assert_cmpuint ((rtx[12] << 8) | rtx[13], ==, 4242);
  g_assert_true (icecam_rtx_unwrap (rtx, rtx_length, 96, 0x11223344, back, &back_length));
  g_assert_cmpmem (back, back_length, original, length);
  /* too short to carry an original sequence number and a payload */
  back_length = sizeof back;
  g_assert_false (icecam_rtx_unwrap (rtx, 14, 96, 1, back, &back_length));
  /* no room */
  rtx_length = length;
  g_assert_false (icecam_rtx_wrap (original, length, 97, 1, 7, rtx, &rtx_length));
}

static void
push_one (IcecamRtpHistory *history, guint16 seq, gsize payload_length, gint64 now)
{
  guint8 packet[ICECAM_RTP_HISTORY_MAX_PACKET];
  GOutputVector vector = { packet, make_rtp (packet, seq, payload_length, FALSE) };
  NiceOutputMessage message = { &vector, 1 };

  icecam_rtp_history_push (history, &message, 1, now);
}

static void
test_history (void)
{
  g_autoptr (IcecamRtpHistory) history = icecam_rtp_history_new ();
  guint8 out[ICECAM_RTP_HISTORY_MAX_PACKET];
  gsize length;
  gint64 t0 = 10 * G_USEC_PER_SEC;

  push_one (history, 65535, 100, t0);
  push_one (history, 0, 100, t0);
  g_assert_true (icecam_rtp_history_copy (history, 65535, t0, out, &length));
  g_assert_cmpuint (length, ==, 112);
  g_assert_cmpuint ((out[2] << 8) | out[3], ==, 65535);
  g_assert_false (icecam_rtp_history_copy (history, 1, t0, out, &length));
  /* too old */
  g_assert_false (icecam_rtp_history_copy (history, 0, t0 + ICECAM_RTP_HISTORY_MAX_AGE_US, out,
                                           &length));
  /* overwritten by the packet one ring later */
  push_one (history, ICECAM_RTP_HISTORY_SLOTS, 50, t0);
  g_assert_false (icecam_rtp_history_copy (history, 0, t0, out, &length));
  g_assert_true (icecam_rtp_history_copy (history, ICECAM_RTP_HISTORY_SLOTS, t0, out, &length));
  /* rate: the bytes of the first second, then of the last full one */
  g_assert_cmpuint (icecam_rtp_history_get_rate (history, t0), ==, 112 + 112 + 62);
  push_one (history, 5, 988, t0 + G_USEC_PER_SEC);
  g_assert_cmpuint (icecam_rtp_history_get_rate (history, t0 + G_USEC_PER_SEC + 1), ==, 286);
  g_assert_cmpuint (icecam_rtp_history_get_rate (history, t0 + 5 * G_USEC_PER_SEC), ==, 0);
}

typedef struct {
  guint packets;
  gsize bytes;
  guint16 last_rtx_seq;
} Sent;

static gboolean
count_sent (const guint8 *packet, gsize length, gpointer user_data)
{
  Sent *sent = user_data;

  if (sent->packets > 0)
    g_assert_cmpuint ((guint16) (((packet[2] << 8) | packet[3]) - sent->last_rtx_seq), ==, 1);
  sent->last_rtx_seq = (guint16) ((packet[2] << 8) | packet[3]);
  g_assert_cmpuint (packet[1] & 0x7f, ==, 97);
  sent->packets++;
  sent->bytes += length;
  return TRUE;
}

/* A viewer that NACKs everything gets its share: at most half the stream's rate (a burst of
 * half a second of it), however much it asks; an honest one gets what it lost. */
static void
test_cap (void)
{
  g_autoptr (IcecamRtpHistory) history = icecam_rtp_history_new ();
  g_autoptr (IcecamRetransmitter) greedy = icecam_retransmitter_new ();
  g_autoptr (IcecamRetransmitter) honest = icecam_retransmitter_new ();
  guint16 all[500], some[] = { 10, 20 };
  guint8 nack[4 * 600];
  gsize length;
  Sent sent = { 0 };
  IcecamRetransmitStats stats;
  gint64 now = g_get_monotonic_time ();
  guint64 rate;

  for (guint i = 0; i < G_N_ELEMENTS (all); i++) {
    all[i] = (guint16) i;
    push_one (history, (guint16) i, 1000, now);
  }
  rate = icecam_rtp_history_get_rate (history, now);
  length = icecam_rtcp_build_nack (nack, sizeof nack, 1, 2, all, G_N_ELEMENTS (all));
  for (guint round = 0; round < 3; round++)
    icecam_retransmitter_answer (greedy, history, 97, 0x5555, 0, nack, length, count_sent,
                                 &sent);
  icecam_retransmitter_get_stats (greedy, &stats);
  g_assert_cmpuint (stats.nacked, ==, 3 * G_N_ELEMENTS (all));
  g_assert_cmpuint (stats.sent, ==, sent.packets);
  g_assert_cmpuint (stats.sent + stats.refused, ==, stats.nacked);
  g_assert_cmpuint (sent.bytes, <=, ICECAM_RETRANSMIT_SHARE * rate * 0.5 + 2000);
  g_assert_cmpuint (sent.packets, >, 0);

  memset (&sent, 0, sizeof sent);
  length = icecam_rtcp_build_nack (nack, sizeof nack, 1, 2, some, G_N_ELEMENTS (some));
  g_assert_cmpuint (icecam_retransmitter_answer (honest, history, 97, 0x5555, 0, nack, length,
                                                 count_sent, &sent), ==, 2);
  /* the same again at once: already on its way */
  g_assert_cmpuint (icecam_retransmitter_answer (honest, history, 97, 0x5555, 0, nack, length,
                                                 count_sent, &sent), ==, 0);
}

/* The offer's RTX payload type and source survive a round trip through the SDP text. */
static void
test_sdp_rtx (void)
{
  g_autoptr (IcecamSdp) sdp = icecam_sdp_new ();
  g_autoptr (IcecamSdp) parsed = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = NULL;
  IcecamSdpMedia *media = icecam_sdp_add_media (sdp, icecam_sdp_media_new ("video", 96,
                                                                          "H264/90000", NULL));
  const IcecamSdpMedia *back;

  media->ssrc = 1111;
  media->rtx_ssrc = 2222;
  media->rtx_payload_type = 97;
  media->cname = g_strdup ("cam");
  g_ptr_array_add (media->rtcp_fb, g_strdup ("nack"));
  sdp->ice_ufrag = g_strdup ("abcd");
  sdp->ice_pwd = g_strdup ("abcdefghijklmnopqrstuvwx");
  text = icecam_sdp_to_string (sdp, 1);
  g_assert_nonnull (strstr (text, "m=video 9 RTP/AVPF 96 97\r\n"));
  g_assert_nonnull (strstr (text, "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"));
  g_assert_nonnull (strstr (text, "a=ssrc-group:FID 1111 2222\r\n"));
  g_assert_nonnull (strstr (text, "a=ssrc:2222 cname:cam\r\n"));
  parsed = icecam_sdp_parse (text, &error);
  g_assert_no_error (error);
  back = icecam_sdp_get_media (parsed, 0);
  g_assert_cmpuint (back->payload_type, ==, 96);
  g_assert_cmpstr (back->rtpmap, ==, "H264/90000");
  g_assert_cmpuint (back->rtx_payload_type, ==, 97);
  g_assert_cmpuint (back->ssrc, ==, 1111);
  g_assert_cmpuint (back->rtx_ssrc, ==, 2222);
}

static void
test_sdp_ssrc_group_malformed (void)
{
  const gchar *text = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
                      "m=video 9 RTP/AVPF 96 97\r\na=ice-ufrag:abcd\r\n"
                      "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\na=rtpmap:96 H264/90000\r\n"
                      "a=ssrc-group:FID 1111 x\r\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamSdp) sdp = icecam_sdp_parse (text, &error);

  g_assert_null (sdp);
  g_assert_error (error, ICECAM_SDP_ERROR, ICECAM_SDP_ERROR_MALFORMED);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/loss-repair/nack/round-trip", test_nack_round_trip);
  g_test_add_func ("/loss-repair/nack/compound", test_nack_in_compound);
  g_test_add_func ("/loss-repair/nack/malformed", test_nack_malformed);
  g_test_add_func ("/loss-repair/rtx/round-trip", test_rtx_round_trip);
  g_test_add_func ("/loss-repair/history/slots-and-age", test_history);
  g_test_add_func ("/loss-repair/retransmitter/cap", test_cap);
  g_test_add_func ("/loss-repair/sdp/rtx", test_sdp_rtx);
  g_test_add_func ("/loss-repair/sdp/ssrc-group-malformed", test_sdp_ssrc_group_malformed);
  return g_test_run ();
}
