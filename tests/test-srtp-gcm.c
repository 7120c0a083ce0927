/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IcecamSrtpGcm: RFC 3711's key derivation vectors, byte-for-byte agreement with libsrtp both
 * ways (ROC roll-over, CSRCs, header extensions; SRTCP), libsrtp's replay semantics. */

#include <srtp2/srtp.h>
#include <string.h>

#include "icecam-srtp-gcm.h"
#include "icecam-srtp.h"

static void
unhex (const gchar *hex, guint8 *out, gsize length)
{
  g_assert_cmpuint (strlen (hex), ==, 2 * length);
  for (gsize i = 0; i < length; i++)
    out[i] = (guint8) ((g_ascii_xdigit_value (hex[2 * i]) << 4) |
                       g_ascii_xdigit_value (hex[2 * i + 1]));
}

/* RFC 3711 appendix B.3: the AES-CM PRF (key derivation rate 0, index 0). */
static void
test_kdf_rfc3711 (void)
{
  guint8 key[16], salt[14], expect[16], out[16];

  unhex ("E1F97A0D3E018BE0D64FA32C06DE4139", key, sizeof key);
  unhex ("0EC675AD498AFEEBB6960B3AABE6", salt, sizeof salt);

  g_assert_true (icecam_srtp_gcm_derive (key, salt, 14, 0x00, out, 16));
  unhex ("C61E7A93744F39EE10734AFE3FF7A087", expect, 16);
  g_assert_cmpmem (out, 16, expect, 16);

  g_assert_true (icecam_srtp_gcm_derive (key, salt, 14, 0x02, out, 14));
  unhex ("30CBBC08863D8C85D49DB34A9AE1", expect, 14);
  g_assert_cmpmem (out, 14, expect, 14);
}

typedef struct {
  guint8 key[16];
  guint8 salt[12];
  srtp_t libsrtp_out, libsrtp_in;
  IcecamSrtpGcm *out, *in;
  IcecamSrtpGcm *rtcp_out, *rtcp_in;
} Pair;

static srtp_t
libsrtp_session_full (Pair *pair, srtp_ssrc_type_t type, srtp_sec_serv_t rtcp_services)
{
  guint8 key_salt[28];
  srtp_policy_t policy;
  srtp_t session = NULL;

  memcpy (key_salt, pair->key, 16);
  memcpy (key_salt + 16, pair->salt, 12);
  memset (&policy, 0, sizeof policy);
  srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy.rtp);
  srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy.rtcp);
  policy.rtcp.sec_serv = rtcp_services;
  policy.ssrc.type = type;
  policy.key = key_salt;
  policy.window_size = ICECAM_SRTP_GCM_WINDOW;
  g_assert_cmpint (srtp_create (&session, &policy), ==, srtp_err_status_ok);
  return session;
}

static srtp_t
libsrtp_session (Pair *pair, srtp_ssrc_type_t type)
{
  return libsrtp_session_full (pair, type, sec_serv_conf_and_auth);
}

static gboolean
pair_init (Pair *pair)
{
  if ((icecam_srtp_get_supported_profiles () & ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM) == 0)
    return FALSE;
  for (guint i = 0; i < sizeof pair->key; i++)
    pair->key[i] = (guint8) g_test_rand_int ();
  for (guint i = 0; i < sizeof pair->salt; i++)
    pair->salt[i] = (guint8) g_test_rand_int ();
  pair->libsrtp_out = libsrtp_session (pair, ssrc_any_outbound);
  pair->libsrtp_in = libsrtp_session (pair, ssrc_any_inbound);
  pair->out = icecam_srtp_gcm_new (pair->key, pair->salt, TRUE);
  pair->in = icecam_srtp_gcm_new (pair->key, pair->salt, FALSE);
  pair->rtcp_out = icecam_srtp_gcm_new_rtcp (pair->key, pair->salt, TRUE);
  pair->rtcp_in = icecam_srtp_gcm_new_rtcp (pair->key, pair->salt, FALSE);
  g_assert_nonnull (pair->out);
  g_assert_nonnull (pair->in);
  g_assert_nonnull (pair->rtcp_out);
  g_assert_nonnull (pair->rtcp_in);
  return TRUE;
}

static void
pair_clear (Pair *pair)
{
  srtp_dealloc (pair->libsrtp_out);
  srtp_dealloc (pair->libsrtp_in);
  icecam_srtp_gcm_free (pair->out);
  icecam_srtp_gcm_free (pair->in);
  icecam_srtp_gcm_free (pair->rtcp_out);
  icecam_srtp_gcm_free (pair->rtcp_in);
}

/* An RTP packet: @csrcs CSRCs, a one-byte header extension of @ext_words words if nonzero. */
static gsize
make_packet (guint8 *p, guint16 seq, guint32 ssrc, guint csrcs, guint ext_words, gsize payload)
{
  gsize at = 12;

  p[0] = 0x80 | (ext_words > 0 ? 0x10 : 0) | csrcs;
  p[1] = 96;
  p[2] = seq >> 8;
  p[3] = seq & 0xff;
  p[4] = 0x11; p[5] = 0x22; p[6] = 0x33; p[7] = 0x44;
  p[8] = ssrc >> 24; p[9] = ssrc >> 16; p[10] = ssrc >> 8; p[11] = ssrc;
  for (guint i = 0; i < csrcs * 4; i++)
    p[at++] = (guint8) (0xc0 + i);
  if (ext_words > 0) {
    p[at++] = 0xbe; p[at++] = 0xde; p[at++] = 0; p[at++] = ext_words;
    for (guint i = 0; i < ext_words * 4; i++)
      p[at++] = (guint8) i;
  }
  for (gsize i = 0; i < payload; i++)
    p[at++] = (guint8) (seq + i);
  return at;
}

/* Same bytes as libsrtp, across a ROC roll-over, and each side opens the other's packets. */
static void
test_matches_libsrtp (void)
{
  Pair pair;
  guint8 plain[1600], ours[1600], theirs[1600];

  if (!pair_init (&pair)) {
    g_test_skip ("this libsrtp has no AES-GCM");
    return;
  }
  for (guint i = 0; i < 300; i++) {
    guint16 seq = (guint16) (65400 + i); /* wraps after 136 packets */
    guint csrcs = i % 3, ext = i % 5 == 0 ? 2 : 0;
    gsize payload = i % 7 == 0 ? 0 : 1 + (i * 37) % 1200;
    gsize length = make_packet (plain, seq, 0x12345678, csrcs, ext, payload);
    gsize our_length = 0, opened = 0;
    int their_length = (int) length;

    memcpy (ours, plain, length);
    memcpy (theirs, plain, length);
    g_assert_cmpint (icecam_srtp_gcm_protect (pair.out, ours, length, sizeof ours, &our_length),
                     ==, ICECAM_SRTP_GCM_OK);
    g_assert_cmpint (srtp_protect (pair.libsrtp_out, theirs, &their_length), ==,
                     srtp_err_status_ok);
    g_assert_cmpmem (ours, our_length, theirs, (gsize) their_length);

    /* Ours through libsrtp, libsrtp's through ours. */
    g_assert_cmpint (srtp_unprotect (pair.libsrtp_in, ours, &their_length), ==,
                     srtp_err_status_ok);
    g_assert_cmpmem (ours, (gsize) their_length, plain, length);
    g_assert_cmpint (icecam_srtp_gcm_unprotect (pair.in, theirs, our_length, &opened), ==,
                     ICECAM_SRTP_GCM_OK);
    g_assert_cmpmem (theirs, opened, plain, length);
  }
  pair_clear (&pair);
}

static IcecamSrtpGcmResult
protect_seq (Pair *pair, guint16 seq, guint8 *out, gsize *length)
{
  gsize plain = make_packet (out, seq, 0xabcdef01, 0, 0, 100);

  return icecam_srtp_gcm_protect (pair->out, out, plain, 1600, length);
}

static IcecamSrtpGcmResult
unprotect_copy (Pair *pair, const guint8 *packet, gsize length)
{
  guint8 copy[1600];
  gsize opened = 0;

  memcpy (copy, packet, length);
  return icecam_srtp_gcm_unprotect (pair->in, copy, length, &opened);
}

/* libsrtp's replay rules: a replay and anything older than the window dropped, reordering
 * inside it accepted, a forgery changes nothing; an index is never protected twice. */
static void
test_replay (void)
{
  Pair pair;
  guint8 packets[4][1600];
  gsize lengths[4];
  guint8 forged[1600];

  if (!pair_init (&pair)) {
    g_test_skip ("this libsrtp has no AES-GCM");
    return;
  }
  g_assert_cmpint (protect_seq (&pair, 100, packets[0], &lengths[0]), ==, ICECAM_SRTP_GCM_OK);
  g_assert_cmpint (protect_seq (&pair, 101, packets[1], &lengths[1]), ==, ICECAM_SRTP_GCM_OK);
  g_assert_cmpint (protect_seq (&pair, 1200, packets[2], &lengths[2]), ==, ICECAM_SRTP_GCM_OK);
  g_assert_cmpint (protect_seq (&pair, 1201, packets[3], &lengths[3]), ==, ICECAM_SRTP_GCM_OK);
  /* The sender refuses an index it used, and one older than its window. */
  g_assert_cmpint (protect_seq (&pair, 1201, forged, &lengths[0]), ==, ICECAM_SRTP_GCM_REPLAY);
  g_assert_cmpint (protect_seq (&pair, 150, forged, &lengths[0]), ==,
                   ICECAM_SRTP_GCM_REPLAY_OLD);
  g_assert_cmpint (protect_seq (&pair, 1199, forged, &lengths[0]), ==, ICECAM_SRTP_GCM_OK);

  /* A forgery of 101 (one payload bit flipped) fails and leaves 101 acceptable. */
  memcpy (forged, packets[1], lengths[1]);
  forged[20] ^= 1;
  g_assert_cmpint (unprotect_copy (&pair, forged, lengths[1]), ==, ICECAM_SRTP_GCM_AUTH);
  g_assert_cmpint (unprotect_copy (&pair, packets[1], lengths[1]), ==, ICECAM_SRTP_GCM_OK);
  g_assert_cmpint (unprotect_copy (&pair, packets[1], lengths[1]), ==, ICECAM_SRTP_GCM_REPLAY);
  /* Reordered within the window: fine. */
  g_assert_cmpint (unprotect_copy (&pair, packets[3], lengths[3]), ==, ICECAM_SRTP_GCM_OK);
  g_assert_cmpint (unprotect_copy (&pair, packets[2], lengths[2]), ==, ICECAM_SRTP_GCM_OK);
  g_assert_cmpint (unprotect_copy (&pair, packets[2], lengths[2]), ==, ICECAM_SRTP_GCM_REPLAY);
  /* 100 is 1101 behind 1201: older than the window of 1024. */
  g_assert_cmpint (unprotect_copy (&pair, packets[0], lengths[0]), ==,
                   ICECAM_SRTP_GCM_REPLAY_OLD);
  /* Truncated, or not RTP: malformed, not a crash. */
  g_assert_cmpint (unprotect_copy (&pair, packets[3], 20), ==, ICECAM_SRTP_GCM_MALFORMED);
  g_assert_cmpint (unprotect_copy (&pair, packets[3], 3), ==, ICECAM_SRTP_GCM_MALFORMED);
  pair_clear (&pair);
}

/* One SSRC too many is refused either way; the known ones still work. */
static void
test_stream_limit (void)
{
  Pair pair;
  guint8 packet[1600];
  gsize length = 0;

  if (!pair_init (&pair)) {
    g_test_skip ("this libsrtp has no AES-GCM");
    return;
  }
  for (guint32 ssrc = 1; ssrc <= ICECAM_SRTP_GCM_MAX_STREAMS + 1; ssrc++) {
    gsize plain = make_packet (packet, 7, ssrc, 0, 0, 10);
    IcecamSrtpGcmResult result = icecam_srtp_gcm_protect (pair.out, packet, plain, sizeof packet,
                                                          &length);

    g_assert_cmpint (result, ==, ssrc <= ICECAM_SRTP_GCM_MAX_STREAMS ? ICECAM_SRTP_GCM_OK
                                                                    : ICECAM_SRTP_GCM_LIMIT);
    if (result == ICECAM_SRTP_GCM_OK)
      g_assert_cmpint (unprotect_copy (&pair, packet, length), ==, ICECAM_SRTP_GCM_OK);
  }
  make_packet (packet, 8, 1, 0, 0, 10);
  g_assert_cmpint (icecam_srtp_gcm_protect (pair.out, packet, 22, sizeof packet, &length), ==,
                   ICECAM_SRTP_GCM_OK);
  g_assert_cmpint (unprotect_copy (&pair, packet, length), ==, ICECAM_SRTP_GCM_OK);
  pair_clear (&pair);
}

/* An RTCP packet from @ssrc: a sender report (with a receiver block when @blocks) and @extra
 * more words, as one compound packet. */
static gsize
make_rtcp (guint8 *p, guint32 ssrc, guint blocks, guint extra)
{
  gsize words = 6 + 6 * blocks, at;

  p[0] = 0x80 | blocks;
  p[1] = 200;
  p[2] = (words >> 8) & 0xff;
  p[3] = words & 0xff;
  p[4] = ssrc >> 24; p[5] = ssrc >> 16; p[6] = ssrc >> 8; p[7] = ssrc;
  for (at = 8; at < 4 * (words + 1); at++)
    p[at] = (guint8) (at * 7 + ssrc);
  if (extra > 0) {
    p[at++] = 0x81; p[at++] = 202; p[at++] = 0; p[at++] = (guint8) (extra - 1);
    for (guint i = 4; i < 4 * extra; i++)
      p[at++] = (guint8) i;
  }
  return at;
}

/* SRTCP: the same bytes as libsrtp (its index counts from 1 per SSRC), each side opens the
 * other's packets, two SSRCs interleaved. */
static void
test_rtcp_matches_libsrtp (void)
{
  Pair pair;
  guint8 plain[1600], ours[1600], theirs[1600];

  if (!pair_init (&pair)) {
    g_test_skip ("this libsrtp has no AES-GCM");
    return;
  }
  for (guint i = 0; i < 200; i++) {
    guint32 ssrc = i % 3 == 0 ? 0x0badcafe : 0x12345678;
    gsize length = make_rtcp (plain, ssrc, i % 2, i % 5 == 0 ? 0 : 1 + i % 40);
    gsize our_length = 0, opened = 0;
    int their_length = (int) length;

    memcpy (ours, plain, length);
    memcpy (theirs, plain, length);
    g_assert_cmpint (icecam_srtp_gcm_protect_rtcp (pair.rtcp_out, ours, length, sizeof ours,
                                                   &our_length), ==, ICECAM_SRTP_GCM_OK);
    g_assert_cmpint (srtp_protect_rtcp (pair.libsrtp_out, theirs, &their_length), ==,
                     srtp_err_status_ok);
    g_assert_cmpmem (ours, our_length, theirs, (gsize) their_length);

    g_assert_cmpint (srtp_unprotect_rtcp (pair.libsrtp_in, ours, &their_length), ==,
                     srtp_err_status_ok);
    g_assert_cmpmem (ours, (gsize) their_length, plain, length);
    g_assert_cmpint (icecam_srtp_gcm_unprotect_rtcp (pair.rtcp_in, theirs, our_length, &opened),
                     ==, ICECAM_SRTP_GCM_OK);
    g_assert_cmpmem (theirs, opened, plain, length);
  }
  pair_clear (&pair);
}

static IcecamSrtpGcmResult
unprotect_rtcp_copy (Pair *pair, const guint8 *packet, gsize length)
{
  guint8 copy[1600];
  gsize opened = 0;

  memcpy (copy, packet, length);
  return icecam_srtp_gcm_unprotect_rtcp (pair->rtcp_in, copy, length, &opened);
}

/* SRTCP replays dropped, reordering accepted, a forgery (in the payload or in the index the
 * AAD covers) changes nothing, short packets are malformed; authenticated-only SRTCP (E flag
 * clear, from libsrtp) opens. */
static void
test_rtcp_replay (void)
{
  Pair pair;
  guint8 packets[3][1600], forged[1600], plain[1600];
  gsize lengths[3], plain_length, opened = 0;
  srtp_t auth_only;
  int length;

  if (!pair_init (&pair)) {
    g_test_skip ("this libsrtp has no AES-GCM");
    return;
  }
  for (guint i = 0; i < 3; i++) {
    gsize n = make_rtcp (packets[i], 0x55667788, 1, 2);

    g_assert_cmpint (icecam_srtp_gcm_protect_rtcp (pair.rtcp_out, packets[i], n,
                                                   sizeof packets[i], &lengths[i]), ==,
                     ICECAM_SRTP_GCM_OK);
  }
  memcpy (forged, packets[0], lengths[0]);
  forged[12] ^= 1;
  g_assert_cmpint (unprotect_rtcp_copy (&pair, forged, lengths[0]), ==, ICECAM_SRTP_GCM_AUTH);
  memcpy (forged, packets[0], lengths[0]);
  forged[lengths[0] - 1] ^= 2; /* index 1 -> 3: the tag does not verify */
  g_assert_cmpint (unprotect_rtcp_copy (&pair, forged, lengths[0]), ==, ICECAM_SRTP_GCM_AUTH);
  g_assert_cmpint (unprotect_rtcp_copy (&pair, packets[1], lengths[1]), ==, ICECAM_SRTP_GCM_OK);
  g_assert_cmpint (unprotect_rtcp_copy (&pair, packets[0], lengths[0]), ==, ICECAM_SRTP_GCM_OK);
  g_assert_cmpint (unprotect_rtcp_copy (&pair, packets[0], lengths[0]), ==,
                   ICECAM_SRTP_GCM_REPLAY);
  g_assert_cmpint (unprotect_rtcp_copy (&pair, packets[2], lengths[2]), ==, ICECAM_SRTP_GCM_OK);
  g_assert_cmpint (unprotect_rtcp_copy (&pair, packets[1], lengths[1]), ==,
                   ICECAM_SRTP_GCM_REPLAY);
  g_assert_cmpint (unprotect_rtcp_copy (&pair, packets[2], 27), ==, ICECAM_SRTP_GCM_MALFORMED);
  g_assert_cmpint (unprotect_rtcp_copy (&pair, packets[2], 3), ==, ICECAM_SRTP_GCM_MALFORMED);

  auth_only = libsrtp_session_full (&pair, ssrc_any_outbound, sec_serv_auth);
  plain_length = make_rtcp (plain, 0x01020304, 0, 3);
  memcpy (forged, plain, plain_length);
  length = (int) plain_length;
  g_assert_cmpint (srtp_protect_rtcp (auth_only, forged, &length), ==, srtp_err_status_ok);
  g_assert_cmpint (forged[length - 4] & 0x80, ==, 0);
  g_assert_cmpint (icecam_srtp_gcm_unprotect_rtcp (pair.rtcp_in, forged, (gsize) length,
                                                   &opened), ==, ICECAM_SRTP_GCM_OK);
  g_assert_cmpmem (forged, opened, plain, plain_length);
  srtp_dealloc (auth_only);
  pair_clear (&pair);
}

/* An RTP packet whose marker and payload type read as an RTCP packet type (marker set, payload
 * type 64-95: RFC 5761 section 4) would be taken for SRTCP by the receiver of a muxed session
 * and refused: icecam_srtp_protect() refuses it, with either profile, and still protects the
 * same packet with payload type 96 (fuzz/regressions/srtp/rtp-payload-type-reads-as-rtcp.bin). */
static void
test_rtp_reading_as_rtcp (void)
{
  static const IcecamSrtpProfile profiles[] = { ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM,
                                                ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80 };
  guint8 key[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
  guint8 salt[14] = { 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34 };
  guint8 packet[12 + 20] = { 0x80, 0x80 | 77, 0x12, 0x34, 0, 0, 0x5f, 0x90, 0xca, 0xfe, 0, 1 };
  guint8 out[sizeof packet + ICECAM_SRTP_MAX_OVERHEAD];

  icecam_srtp_prepare ();
  for (guint i = 0; i < G_N_ELEMENTS (profiles); i++) {
    g_autoptr (IcecamSrtp) out_end = icecam_srtp_new (profiles[i], key, salt, key, salt, NULL);
    g_autoptr (IcecamSrtp) in_end = icecam_srtp_new (profiles[i], key, salt, key, salt, NULL);
    g_autoptr (GError) error = NULL;
    gsize length = sizeof out;
    gboolean is_rtcp = TRUE;

    g_assert_nonnull (out_end);
    packet[1] = 0x80 | 77;
    g_assert_false (icecam_srtp_protect (out_end, FALSE, packet, sizeof packet, out, &length,
                                         &error));
    g_assert_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_MALFORMED);
    packet[1] = 0x80 | 96;
    length = sizeof out;
    g_assert_true (icecam_srtp_protect (out_end, FALSE, packet, sizeof packet, out, &length,
                                        NULL));
    g_assert_true (icecam_srtp_unprotect (in_end, out, length, out, &length, &is_rtcp, NULL));
    g_assert_false (is_rtcp);
    g_assert_cmpmem (out, length, packet, sizeof packet);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/srtp-gcm/kdf/rfc3711", test_kdf_rfc3711);
  g_test_add_func ("/srtp-gcm/matches-libsrtp", test_matches_libsrtp);
  g_test_add_func ("/srtp-gcm/replay", test_replay);
  g_test_add_func ("/srtp-gcm/stream-limit", test_stream_limit);
  g_test_add_func ("/srtp-gcm/rtcp/matches-libsrtp", test_rtcp_matches_libsrtp);
  g_test_add_func ("/srtp-gcm/rtcp/replay", test_rtcp_replay);
  g_test_add_func ("/srtp/protect/rtp-reading-as-rtcp", test_rtp_reading_as_rtcp);
  return g_test_run ();
}
