/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the SDP subset, the RTCP helpers and TURN credentials: pure code, strings in. */

#include "icecam-h264.h"
#include "icecam-rtcp.h"
#include "icecam-rtp-clock.h"
#include "icecam-sdp.h"
#include "icecam-turn-credentials.h"

#include <string.h>

static const gchar *offer_text =
  "v=0\r\n"
  "o=- 42 1 IN IP4 0.0.0.0\r\n"
  "s=icecam\r\n"
  "t=0 0\r\n"
  "a=ice-options:trickle\r\n"
  "m=video 9 RTP/AVPF 96 97\r\n"
  "c=IN IP4 0.0.0.0\r\n"
  "a=ice-ufrag:abcd\r\n"
  "a=ice-pwd:0123456789abcdefghijklmn\r\n"
  "a=sendonly\r\n"
  "a=rtpmap:97 VP8/90000\r\n"
  "a=rtpmap:96 H264/90000\r\n"
  "a=fmtp:96 packetization-mode=1;profile-level-id=42c01f\r\n"
  "a=candidate:1 1 UDP 2013266431 127.0.0.1 5000 typ host\r\n"
  "a=end-of-candidates\r\n"
  "m=audio 9 RTP/AVP 0\r\n"
  "a=rtpmap:0 PCMU/8000\r\n";

static void
test_sdp_parse_offer (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamSdp) sdp = icecam_sdp_parse (offer_text, &error);
  const IcecamSdpMedia *video, *audio;

  g_assert_no_error (error);
  g_assert_cmpuint (sdp->media->len, ==, 2);
  video = icecam_sdp_get_media (sdp, 0);
  g_assert_cmpstr (video->kind, ==, "video");
  g_assert_cmpstr (video->mid, ==, "0"); /* none given: its index */
  g_assert_cmpuint (video->payload_type, ==, 96);
  g_assert_cmpstr (video->rtpmap, ==, "H264/90000");
  g_assert_cmpstr (video->fmtp, ==, "packetization-mode=1;profile-level-id=42c01f");
  g_assert_cmpint (video->direction, ==, ICECAM_SDP_DIRECTION_SENDONLY);
  audio = icecam_sdp_get_media (sdp, 1);
  g_assert_cmpstr (audio->kind, ==, "audio");
  g_assert_cmpuint (audio->payload_type, ==, 0);
  g_assert_cmpstr (audio->rtpmap, ==, "PCMU/8000");
  g_assert_cmpstr (sdp->ice_ufrag, ==, "abcd");
  g_assert_cmpstr (sdp->ice_pwd, ==, "0123456789abcdefghijklmn");
  g_assert_cmpuint (sdp->candidates->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (sdp->candidates, 0), ==,
                   "candidate:1 1 UDP 2013266431 127.0.0.1 5000 typ host");
  g_assert_true (sdp->end_of_candidates);
}

static void
test_sdp_roundtrip (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamSdp) sdp = icecam_sdp_new ();
  g_autoptr (IcecamSdp) back = NULL;
  g_autofree gchar *text = NULL;
  IcecamSdpMedia *media = icecam_sdp_add_media (
      sdp, icecam_sdp_media_new ("video", 96, "H264/90000", "packetization-mode=1"));
  const IcecamSdpMedia *back_media;

  media->direction = ICECAM_SDP_DIRECTION_RECVONLY;
  sdp->ice_ufrag = g_strdup ("ufrag+/1");
  sdp->ice_pwd = g_strdup ("pwdpwdpwdpwdpwdpwdpwdpwd");
  g_ptr_array_add (sdp->candidates, g_strdup ("candidate:2 1 UDP 1 198.51.100.7 4000 typ srflx"));
  text = icecam_sdp_to_string (sdp, 7);
  g_assert_true (g_str_has_suffix (text, "\r\n"));
  back = icecam_sdp_parse (text, &error);
  g_assert_no_error (error);
  back_media = icecam_sdp_get_media (back, 0);
  g_assert_cmpstr (back_media->kind, ==, "video");
  g_assert_cmpuint (back_media->payload_type, ==, 96);
  g_assert_cmpstr (back_media->rtpmap, ==, media->rtpmap);
  g_assert_cmpstr (back_media->fmtp, ==, media->fmtp);
  g_assert_cmpint (back_media->direction, ==, ICECAM_SDP_DIRECTION_RECVONLY);
  g_assert_cmpstr (back->ice_ufrag, ==, sdp->ice_ufrag);
  g_assert_cmpstr (back->ice_pwd, ==, sdp->ice_pwd);
  g_assert_cmpuint (back->candidates->len, ==, 1);
  g_assert_false (back->end_of_candidates);
}

static void
expect_sdp_error (const gchar *text, gint code, const gchar *fragment)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamSdp) sdp = icecam_sdp_parse (text, &error);

  g_assert_null (sdp);
  g_assert_error (error, ICECAM_SDP_ERROR, code);
  g_assert_nonnull (strstr (error->message, fragment));
}

static void
test_sdp_parse_bad (void)
{
  expect_sdp_error ("", ICECAM_SDP_ERROR_MISSING, "m=");
  expect_sdp_error ("v=0\r\nthis is not sdp\r\n", ICECAM_SDP_ERROR_MALFORMED, "line 2");
  expect_sdp_error ("m=video 9 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n",
                    ICECAM_SDP_ERROR_MISSING, "ice-ufrag");
  expect_sdp_error ("m=video 9 RTP/AVP 96\r\na=ice-ufrag:abcd\r\n"
                    "a=ice-pwd:0123456789abcdefghijklmn\r\n",
                    ICECAM_SDP_ERROR_MISSING, "rtpmap");
  expect_sdp_error ("m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
                    ICECAM_SDP_ERROR_UNSUPPORTED, "application");
  expect_sdp_error ("m=video 9 RTP/AVP 300\r\n", ICECAM_SDP_ERROR_MALFORMED, "payload type");
  expect_sdp_error ("m=video 9 RTP/AVP 96\r\na=ice-ufrag:ab\r\n", ICECAM_SDP_ERROR_MALFORMED,
                    "ice-ufrag");
  expect_sdp_error ("m=video 9 RTP/AVP 96\r\na=rtpmap:x\r\n", ICECAM_SDP_ERROR_MALFORMED,
                    "rtpmap");
  expect_sdp_error ("v=0\r\na=ice-ufrag:ab\x01" "cd\r\n", ICECAM_SDP_ERROR_MALFORMED, "line 2");
}

static void
test_sdp_too_many_lines (void)
{
  GString *s = g_string_new ("m=video 9 RTP/AVP 96\r\n");

  for (guint i = 0; i < 1000; i++)
    g_string_append (s, "a=x\r\n");
  expect_sdp_error (s->str, ICECAM_SDP_ERROR_UNSUPPORTED, "lines");
  g_string_free (s, TRUE);
}

#define FP_SHA256 "sha-256 0B:1C:2D:3E:4F:50:61:72:83:94:A5:B6:C7:D8:E9:FA:" \
                  "0B:1C:2D:3E:4F:50:61:72:83:94:A5:B6:C7:D8:E9:FA"
#define FP_SHA1 "sha-1 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33"

static IcecamSdp *
new_media_sdp (void)
{
  IcecamSdp *sdp = icecam_sdp_new ();

  icecam_sdp_add_media (sdp, icecam_sdp_media_new ("video", 96, "H264/90000", NULL));
  sdp->ice_ufrag = g_strdup ("ufrag");
  sdp->ice_pwd = g_strdup ("pwdpwdpwdpwdpwdpwdpwdpwd");
  return sdp;
}

static void
test_sdp_dtls_roundtrip (void)
{
  g_autoptr (IcecamSdp) sdp = new_media_sdp ();
  g_autoptr (IcecamSdp) back = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = NULL;

  sdp->fingerprint = g_strdup (FP_SHA256);
  sdp->setup = g_strdup ("actpass");
  text = icecam_sdp_to_string (sdp, 7);
  g_assert_nonnull (strstr (text, "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"));
  g_assert_nonnull (strstr (text, "a=fingerprint:" FP_SHA256 "\r\n"));
  g_assert_nonnull (strstr (text, "a=setup:actpass\r\n"));
  back = icecam_sdp_parse (text, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->fingerprint, ==, FP_SHA256);
  g_assert_cmpstr (back->setup, ==, "actpass");
  g_assert_false (back->signalled_dtls);
  g_assert_null (strstr (text, "x-icecam-signalled-dtls"));
}

/* a=x-icecam-signalled-dtls: at session level only (in a media section it means nothing). */
static void
test_sdp_dtls_signalled (void)
{
  g_autoptr (IcecamSdp) sdp = new_media_sdp ();
  g_autoptr (IcecamSdp) back = NULL;
  g_autoptr (IcecamSdp) in_media = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *moved = NULL;
  g_auto (GStrv) halves = NULL;

  sdp->fingerprint = g_strdup (FP_SHA256);
  sdp->setup = g_strdup ("active");
  sdp->signalled_dtls = TRUE;
  text = icecam_sdp_to_string (sdp, 7);
  g_assert_nonnull (strstr (text, "a=ice-options:trickle\r\na=x-icecam-signalled-dtls\r\n"));
  g_assert_cmpuint (strstr (text, "a=x-icecam-signalled-dtls") - text, <, strstr (text, "m=") - text);
  back = icecam_sdp_parse (text, &error);
  g_assert_no_error (error);
  g_assert_true (back->signalled_dtls);

  halves = g_strsplit (text, "a=x-icecam-signalled-dtls\r\n", 2);
  moved = g_strconcat (halves[0], halves[1], "a=x-icecam-signalled-dtls\r\n", NULL);
  in_media = icecam_sdp_parse (moved, &error);
  g_assert_no_error (error);
  g_assert_false (in_media->signalled_dtls);
}

static void
test_sdp_dtls_plain (void)
{
  g_autoptr (IcecamSdp) sdp = new_media_sdp ();
  g_autoptr (IcecamSdp) back = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = icecam_sdp_to_string (sdp, 7);

  g_assert_nonnull (strstr (text, "m=video 9 RTP/AVPF 96\r\n"));
  g_assert_null (strstr (text, "a=fingerprint"));
  g_assert_null (strstr (text, "a=setup"));
  back = icecam_sdp_parse (text, &error);
  g_assert_no_error (error);
  g_assert_null (back->fingerprint);
  g_assert_null (back->setup);
}

static void
test_sdp_dtls_precedence (void)
{
  const gchar *head = "v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n";
  const gchar *media = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96 H264/90000\r\n";
  g_autoptr (GError) error = NULL;
  g_autofree gchar *session_level = g_strconcat (head, "a=fingerprint:" FP_SHA256 "\r\n"
                                                 "a=setup:passive\r\n", media, NULL);
  g_autofree gchar *both = g_strconcat (head, "a=fingerprint:" FP_SHA256 "\r\n"
                                        "a=setup:passive\r\n", media,
                                        "a=fingerprint:" FP_SHA1 "\r\na=setup:active\r\n", NULL);
  g_autofree gchar *two_hashes = g_strconcat (head, media, "a=fingerprint:" FP_SHA1 "\r\n"
                                              "a=fingerprint:" FP_SHA256 "\r\n", NULL);
  g_autoptr (IcecamSdp) a = icecam_sdp_parse (session_level, &error);
  g_autoptr (IcecamSdp) b = NULL;
  g_autoptr (IcecamSdp) c = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (a->fingerprint, ==, FP_SHA256);
  g_assert_cmpstr (a->setup, ==, "passive");
  /* Media-level setup wins; a sha-256 fingerprint wins over a sha-1 one at any level. */
  b = icecam_sdp_parse (both, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (b->fingerprint, ==, FP_SHA256);
  g_assert_cmpstr (b->setup, ==, "active");
  c = icecam_sdp_parse (two_hashes, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (c->fingerprint, ==, FP_SHA256);
}

static void
test_sdp_dtls_bad (void)
{
  const gchar *head = "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:abcd\r\n"
                      "a=ice-pwd:0123456789abcdefghijklmn\r\na=rtpmap:96 H264/90000\r\n";
  g_autofree gchar *no_fp = g_strdup (head);
  g_autofree gchar *bad_hex = g_strconcat (head, "a=fingerprint:sha-256 0B:1C:ZZ\r\n", NULL);
  g_autofree gchar *no_hash = g_strconcat (head, "a=fingerprint:0B:1C\r\n", NULL);
  g_autofree gchar *short_fp = g_strconcat (head, "a=fingerprint:sha-256 0B:1C:2D\r\n", NULL);
  g_autofree gchar *holdconn = g_strconcat (head, "a=fingerprint:" FP_SHA256 "\r\n"
                                            "a=setup:holdconn\r\n", NULL);

  expect_sdp_error (no_fp, ICECAM_SDP_ERROR_MISSING, "fingerprint");
  expect_sdp_error (bad_hex, ICECAM_SDP_ERROR_MALFORMED, "fingerprint");
  expect_sdp_error (no_hash, ICECAM_SDP_ERROR_MALFORMED, "fingerprint");
  expect_sdp_error (short_fp, ICECAM_SDP_ERROR_MALFORMED, "fingerprint");
  expect_sdp_error (holdconn, ICECAM_SDP_ERROR_UNSUPPORTED, "holdconn");
}

/* What Chromium answers to a camera's offer with bundlePolicy max-bundle (trimmed). */
static const gchar *chromium_answer =
  "v=0\r\n"
  "o=- 5718236479231480419 2 IN IP4 127.0.0.1\r\n"
  "s=-\r\n"
  "t=0 0\r\n"
  "a=group:BUNDLE 0\r\n"
  "a=extmap-allow-mixed\r\n"
  "a=msid-semantic: WMS\r\n"
  "m=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
  "c=IN IP4 0.0.0.0\r\n"
  "a=rtcp:9 IN IP4 0.0.0.0\r\n"
  "a=ice-ufrag:Wq7p\r\n"
  "a=ice-pwd:mIHy4K0d9u/8vt5bLl2D3y0p\r\n"
  "a=ice-options:trickle\r\n"
  "a=fingerprint:" FP_SHA256 "\r\n"
  "a=setup:active\r\n"
  "a=mid:0\r\n"
  "a=extmap:1 urn:ietf:params:rtp-hdrext:toffset\r\n"
  "a=extmap:3 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time\r\n"
  "a=recvonly\r\n"
  "a=rtcp-mux\r\n"
  "a=rtcp-rsize\r\n"
  "a=rtpmap:96 H264/90000\r\n"
  "a=rtcp-fb:96 goog-remb\r\n"
  "a=rtcp-fb:96 transport-cc\r\n"
  "a=rtcp-fb:96 ccm fir\r\n"
  "a=rtcp-fb:96 nack\r\n"
  "a=rtcp-fb:96 nack pli\r\n"
  "a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42c01e\r\n";

static void
test_sdp_parse_chromium_answer (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamSdp) sdp = icecam_sdp_parse (chromium_answer, &error);
  const IcecamSdpMedia *video;

  g_assert_no_error (error);
  g_assert_cmpuint (sdp->media->len, ==, 1);
  video = icecam_sdp_get_media (sdp, 0);
  g_assert_cmpstr (video->mid, ==, "0");
  g_assert_cmpint (video->direction, ==, ICECAM_SDP_DIRECTION_RECVONLY);
  g_assert_cmpuint (video->rtcp_fb->len, ==, 5);
  g_assert_cmpstr (g_ptr_array_index (video->rtcp_fb, 4), ==, "nack pli");
  g_assert_cmpstr (sdp->ice_ufrag, ==, "Wq7p");
  g_assert_cmpstr (sdp->fingerprint, ==, FP_SHA256);
  g_assert_cmpstr (sdp->setup, ==, "active");
  g_assert_cmpuint (video->ssrc, ==, 0);
  g_assert_null (video->msid);
}

/* The camera's offer: one bundle, msid, the source, rtcp-fb; another section can join it on
 * the same transport (audio, later), and everything reads back. */
static void
test_sdp_bundle_offer (void)
{
  g_autoptr (IcecamSdp) sdp = icecam_sdp_new ();
  g_autoptr (IcecamSdp) back = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *text = NULL;
  IcecamSdpMedia *video = icecam_sdp_add_media (
      sdp, icecam_sdp_media_new ("video", 96, "H264/90000",
                                 "level-asymmetry-allowed=1;packetization-mode=1;"
                                 "profile-level-id=42c01e"));
  IcecamSdpMedia *audio = icecam_sdp_add_media (
      sdp, icecam_sdp_media_new ("audio", 111, "opus/48000/2", "minptime=10;useinbandfec=1"));
  const IcecamSdpMedia *b;

  video->mid = g_strdup ("0");
  video->direction = ICECAM_SDP_DIRECTION_SENDONLY;
  video->msid = g_strdup ("icecam video0");
  video->ssrc = 3735928559u;
  video->cname = g_strdup ("c4f3");
  g_ptr_array_add (video->rtcp_fb, g_strdup ("nack pli"));
  audio->mid = g_strdup ("1");
  audio->direction = ICECAM_SDP_DIRECTION_SENDONLY;
  audio->msid = g_strdup ("icecam audio0");
  audio->ssrc = 287454020u;
  audio->cname = g_strdup ("c4f3");
  sdp->ice_ufrag = g_strdup ("ufrag");
  sdp->ice_pwd = g_strdup ("pwdpwdpwdpwdpwdpwdpwdpwd");
  sdp->fingerprint = g_strdup (FP_SHA256);
  sdp->setup = g_strdup ("actpass");
  g_ptr_array_add (sdp->candidates, g_strdup ("candidate:1 1 UDP 2013266431 127.0.0.1 5000 typ host"));
  text = icecam_sdp_to_string (sdp, 7);
  g_assert_nonnull (strstr (text, "a=group:BUNDLE 0 1\r\n"));
  g_assert_nonnull (strstr (text, "a=msid-semantic: WMS *\r\n"));
  g_assert_nonnull (strstr (text, "a=msid:icecam video0\r\n"));
  g_assert_nonnull (strstr (text, "a=ssrc:3735928559 cname:c4f3\r\n"));
  g_assert_nonnull (strstr (text, "a=ssrc:3735928559 msid:icecam video0\r\n"));
  g_assert_nonnull (strstr (text, "a=rtcp-fb:96 nack pli\r\n"));
  g_assert_null (strstr (text, "a=rtcp-fb:96 nack\r\n"));
  g_assert_nonnull (strstr (text, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"));
  /* The audio section (icecam_camera_endpoint_set_audio()): its own source in the same stream,
   * so that a browser plays both tracks in one MediaStream. */
  g_assert_nonnull (strstr (text, "a=rtpmap:111 opus/48000/2\r\n"));
  g_assert_nonnull (strstr (text, "a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
  g_assert_nonnull (strstr (text, "a=mid:1\r\n"));
  g_assert_nonnull (strstr (text, "a=ssrc:287454020 cname:c4f3\r\n"));
  g_assert_nonnull (strstr (text, "a=msid:icecam audio0\r\n"));
  g_assert_true (strstr (text, "m=video") < strstr (text, "m=audio"));
  /* Candidates belong to the bundle's transport: listed once. */
  g_assert_true (strstr (text, "a=candidate:") == g_strrstr (text, "a=candidate:"));
  back = icecam_sdp_parse (text, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (back->media->len, ==, 2);
  b = icecam_sdp_get_media (back, 0);
  g_assert_cmpstr (b->msid, ==, "icecam video0");
  g_assert_cmpuint (b->ssrc, ==, 3735928559u);
  g_assert_cmpstr (b->cname, ==, "c4f3");
  g_assert_cmpuint (b->rtcp_fb->len, ==, 1);
  g_assert_cmpuint (back->candidates->len, ==, 1);
  b = icecam_sdp_get_media (back, 1);
  g_assert_cmpstr (b->mid, ==, "1");
  g_assert_cmpstr (b->rtpmap, ==, "opus/48000/2");
  g_assert_cmpstr (b->kind, ==, "audio");
  g_assert_cmpuint (b->payload_type, ==, 111);
  g_assert_cmpstr (b->fmtp, ==, "minptime=10;useinbandfec=1");
  g_assert_cmpuint (b->ssrc, ==, 287454020u);
  g_assert_cmpstr (b->msid, ==, "icecam audio0");
  g_assert_cmpint (b->direction, ==, ICECAM_SDP_DIRECTION_SENDONLY);
}

static void
test_sdp_parse_bad_media (void)
{
  const gchar *head = "v=0\r\na=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijklmn\r\n";
  g_autofree gchar *dup_mid = g_strconcat (head, "m=video 9 RTP/AVPF 96\r\na=mid:a\r\n"
                                           "a=rtpmap:96 H264/90000\r\nm=audio 9 RTP/AVPF 0\r\n"
                                           "a=mid:a\r\na=rtpmap:0 PCMU/8000\r\n", NULL);
  g_autofree gchar *bad_ssrc = g_strconcat (head, "m=video 9 RTP/AVPF 96\r\n"
                                            "a=rtpmap:96 H264/90000\r\na=ssrc:x cname:y\r\n", NULL);
  g_autofree gchar *bad_msid = g_strconcat (head, "m=video 9 RTP/AVPF 96\r\n"
                                            "a=rtpmap:96 H264/90000\r\na=msid:a b c\r\n", NULL);
  g_autofree gchar *data_first = g_strconcat (head, "m=application 9 UDP/DTLS/SCTP x\r\n"
                                              "m=video 9 RTP/AVPF 96\r\n"
                                              "a=rtpmap:96 H264/90000\r\n", NULL);
  g_autoptr (IcecamSdp) sdp = NULL;
  g_autoptr (GError) error = NULL;

  expect_sdp_error (dup_mid, ICECAM_SDP_ERROR_MALFORMED, "mid");
  expect_sdp_error (bad_ssrc, ICECAM_SDP_ERROR_MALFORMED, "ssrc");
  expect_sdp_error (bad_msid, ICECAM_SDP_ERROR_MALFORMED, "msid");
  /* A data channel section is skipped, the video one kept. */
  sdp = icecam_sdp_parse (data_first, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (sdp->media->len, ==, 1);
}

/* profile-level-id from the stream's own SPS (RFC 6184 8.1). */
static void
test_h264_profile (void)
{
  const guint8 sps[] = { 0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02 };
  const guint8 stap[] = { 0x80, 0x60, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 0x78, 0, 6, 0x67, 0x64,
                          0x00, 0x28, 0xac, 0xd9, 0, 2, 0x68, 0xce };
  const guint8 stap_cut[] = { 0x80, 0x60, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4, 0x78, 0, 9, 0x67, 0x64 };
  gchar out[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH];
  g_autofree gchar *from_sprop = NULL;
  g_autofree gchar *stated = NULL;
  g_autofree gchar *none = NULL;

  g_assert_true (icecam_h264_profile_level_id_from_sps (sps, sizeof sps, out));
  g_assert_cmpstr (out, ==, "42c01e");
  g_assert_false (icecam_h264_profile_level_id_from_sps (sps + 1, sizeof sps - 1, out));
  g_assert_true (icecam_rtp_h264_find_profile_level_id (stap, sizeof stap, out));
  g_assert_cmpstr (out, ==, "640028");
  g_assert_false (icecam_rtp_h264_find_profile_level_id (stap_cut, sizeof stap_cut, out));
  /* rtph264pay's caps carry the SPS as sprop-parameter-sets. */
  from_sprop = icecam_h264_fmtp_for_offer (
      "packetization-mode=1;sprop-parameter-sets=Z0LAHtoCgPbAWoMDA1KAAAADAIAAAB5HixdQ,aM48gA==",
      NULL);
  g_assert_cmpstr (from_sprop, ==, "level-asymmetry-allowed=1;packetization-mode=1;"
                   "profile-level-id=42c01e;"
                   "sprop-parameter-sets=Z0LAHtoCgPbAWoMDA1KAAAADAIAAAB5HixdQ,aM48gA==");
  stated = icecam_h264_fmtp_for_offer ("profile-level-id=4d001f", NULL);
  g_assert_cmpstr (stated, ==, "level-asymmetry-allowed=1;packetization-mode=1;"
                   "profile-level-id=4d001f");
  none = icecam_h264_fmtp_for_offer ("packetization-mode=1", NULL);
  g_assert_null (none);
}

/* RFC 3550 6.4.1 SR and 6.5 SDES, byte by byte, and read back. */
static void
test_rtcp_sender_report (void)
{
  IcecamRtcpSenderInfo info = { 0xdeadbeef, 0, 0x11223344, 1000, 188000 };
  IcecamRtcpSenderInfo back = { 0 };
  guint8 packet[ICECAM_RTCP_SENDER_REPORT_MAX_SIZE];
  gchar long_cname[300];
  gsize length;

  /* 1.5 s after the Unix epoch: 2208988801 s and a half since 1900. */
  info.ntp_time = icecam_rtcp_ntp_from_unix_us (1500000);
  g_assert_cmphex (info.ntp_time, ==, (G_GUINT64_CONSTANT (2208988801) << 32) | 0x80000000u);

  length = icecam_rtcp_build_sender_report (packet, sizeof packet, &info, "abcde");
  /* SR 28 bytes; SDES: 4 header + 4 SSRC + 2 + 5 CNAME + 1 end = 16 bytes, already aligned. */
  g_assert_cmpuint (length, ==, 28 + 16);
  g_assert_cmphex (packet[0], ==, 0x80);
  g_assert_cmpuint (packet[1], ==, 200);
  g_assert_cmpuint (packet[3], ==, 6);
  g_assert_cmphex (packet[4], ==, 0xde);
  g_assert_cmphex (packet[28], ==, 0x81);
  g_assert_cmpuint (packet[29], ==, 202);
  g_assert_cmpuint (packet[31], ==, 3);
  g_assert_cmpuint (packet[36], ==, 1); /* CNAME */
  g_assert_cmpuint (packet[37], ==, 5);
  g_assert_cmpmem (packet + 38, 5, "abcde", 5);
  g_assert_cmpuint (packet[43], ==, 0);
  g_assert_true (icecam_rtp_is_rtcp (packet, length));
  g_assert_true (icecam_rtcp_starts_with_report (packet, length));
  g_assert_true (icecam_rtcp_is_sender_report (packet, length));
  g_assert_false (icecam_rtcp_has_keyframe_request (packet, length));
  g_assert_true (icecam_rtcp_find_sender_report (packet, length, &back));
  g_assert_cmphex (back.ssrc, ==, info.ssrc);
  g_assert_cmphex (back.ntp_time, ==, info.ntp_time);
  g_assert_cmphex (back.rtp_timestamp, ==, info.rtp_timestamp);
  g_assert_cmpuint (back.packet_count, ==, 1000);
  g_assert_cmpuint (back.octet_count, ==, 188000);

  /* A CNAME of 4 bytes needs padding: 4 + 4 + 2 + 4 + 1 = 15 -> 16. */
  g_assert_cmpuint (icecam_rtcp_build_sender_report (packet, sizeof packet, &info, "abcd"), ==,
                    44);
  /* No room, no CNAME, or one longer than an SDES item holds: nothing. */
  g_assert_cmpuint (icecam_rtcp_build_sender_report (packet, 40, &info, "abcde"), ==, 0);
  g_assert_cmpuint (icecam_rtcp_build_sender_report (packet, sizeof packet, &info, ""), ==, 0);
  memset (long_cname, 'x', sizeof long_cname - 1);
  long_cname[sizeof long_cname - 1] = '\0';
  g_assert_cmpuint (icecam_rtcp_build_sender_report (packet, sizeof packet, &info, long_cname),
                    ==, 0);
  /* A report cut short is not read. */
  g_assert_false (icecam_rtcp_find_sender_report (packet, 20, &back));
}

/* RTP header (version 2, PT 96) followed by @payload. */
static gsize
make_rtp (guint8 *out, guint8 first_byte, const guint8 *payload, gsize length)
{
  const guint8 header[12] = { first_byte, 96, 0, 1, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef };

  memcpy (out, header, 12);
  memcpy (out + 12, payload, length);
  return 12 + length;
}

/* A camera starts a new viewer's stream where a decoder can start: an SPS or an IDR start. */
static void
test_rtp_h264_keyframe_start (void)
{
  const guint8 sps[] = { 0x67, 0x42, 0xc0, 0x1f };
  const guint8 pps[] = { 0x68, 0xce, 0x3c, 0x80 };
  const guint8 idr[] = { 0x65, 0x88, 0x84 };
  const guint8 p_slice[] = { 0x41, 0x9a, 0x02 };
  const guint8 stap_sps_pps[] = { 0x78, 0, 4, 0x67, 0x42, 0xc0, 0x1f, 0, 4, 0x68, 0xce, 0x3c,
                                  0x80 };
  const guint8 stap_pps_only[] = { 0x78, 0, 4, 0x68, 0xce, 0x3c, 0x80 };
  const guint8 stap_cut[] = { 0x78, 0, 9, 0x67, 0x42 };
  const guint8 fu_idr_start[] = { 0x7c, 0x85, 0xaa };
  const guint8 fu_idr_middle[] = { 0x7c, 0x05, 0xaa };
  const guint8 fu_p_start[] = { 0x5c, 0x81, 0xaa };
  /* With one CSRC and a one-word header extension before the payload. */
  const guint8 ext_then_idr[] = { 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 1, 2, 3, 4, 0x65, 0x88 };
  /* Padding: the last byte says 2 bytes are padding, so the payload is only the FU
   * indicator; what looks like an IDR start is padding. */
  const guint8 padded_fu[] = { 0x7c, 0x85, 2 };
  guint8 packet[64];

  g_assert_true (icecam_rtp_h264_starts_keyframe (packet, make_rtp (packet, 0x80, sps, 4)));
  g_assert_true (icecam_rtp_h264_starts_keyframe (packet, make_rtp (packet, 0x80, idr, 3)));
  g_assert_false (icecam_rtp_h264_starts_keyframe (packet, make_rtp (packet, 0x80, pps, 4)));
  g_assert_false (icecam_rtp_h264_starts_keyframe (packet, make_rtp (packet, 0x80, p_slice, 3)));
  g_assert_true (icecam_rtp_h264_starts_keyframe (
      packet, make_rtp (packet, 0x80, stap_sps_pps, sizeof stap_sps_pps)));
  g_assert_false (icecam_rtp_h264_starts_keyframe (
      packet, make_rtp (packet, 0x80, stap_pps_only, sizeof stap_pps_only)));
  g_assert_false (icecam_rtp_h264_starts_keyframe (
      packet, make_rtp (packet, 0x80, stap_cut, sizeof stap_cut)));
  g_assert_true (icecam_rtp_h264_starts_keyframe (packet, make_rtp (packet, 0x80, fu_idr_start, 3)));
  g_assert_false (icecam_rtp_h264_starts_keyframe (packet,
                                                   make_rtp (packet, 0x80, fu_idr_middle, 3)));
  g_assert_false (icecam_rtp_h264_starts_keyframe (packet, make_rtp (packet, 0x80, fu_p_start, 3)));
  g_assert_true (icecam_rtp_h264_starts_keyframe (
      packet, make_rtp (packet, 0x91, ext_then_idr, sizeof ext_then_idr)));
  g_assert_false (icecam_rtp_h264_starts_keyframe (
      packet, make_rtp (packet, 0x91, ext_then_idr, 8))); /* ends inside the extension */
  g_assert_false (icecam_rtp_h264_starts_keyframe (
      packet, make_rtp (packet, 0xa0, padded_fu, sizeof padded_fu)));
  /* Not RTP at all: too short, RTCP, version 0. */
  g_assert_false (icecam_rtp_h264_starts_keyframe (packet, 11));
  icecam_rtcp_build_pli (packet, 1, 2);
  g_assert_false (icecam_rtp_h264_starts_keyframe (packet, ICECAM_RTCP_PLI_SIZE));
  g_assert_false (icecam_rtp_h264_starts_keyframe (packet, make_rtp (packet, 0x00, sps, 4)));
}

/* Whether an RTP packet of @payload with the marker set starts a keyframe. */
static gboolean
marked_starts_keyframe (const guint8 *payload, gsize length)
{
  guint8 packet[64];
  gsize n = make_rtp (packet, 0x80, payload, length);

  packet[1] |= 0x80;
  return icecam_rtp_h264_starts_keyframe (packet, n);
}

/* A packet of parameter sets with the RTP marker set is an access unit without a picture:
 * a new viewer starts at the IDR's access unit after it, never there. */
static void
test_rtp_h264_keyframe_start_marker (void)
{
  /* rtph264pay (GStreamer 1.22, aggregate-mode=zero-latency) after a force-key-unit event
   * with all-headers, ahead of x264's IDR access unit of the same timestamp: STAP-A of SPS
   * (27 bytes) and PPS (4 bytes), marker set. */
  const guint8 stray[] = {
    0x80, 0xe0, 0x5e, 0xfa, 0x05, 0x70, 0xcf, 0xd8, 0x98, 0xff, 0xba, 0xe2, 0x78, 0x00, 0x1b,
    0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80, 0xf6, 0xc0, 0x5a, 0x83, 0x03, 0x03, 0x52, 0x80,
    0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x1e, 0x47, 0x8b, 0x17, 0x50, 0x00, 0x04, 0x68,
    0xce, 0x3c, 0x80,
  };
  /* The IDR access unit's first packet: STAP-A of AUD, SPS, PPS and a (short) IDR slice. */
  const guint8 stap_aud_sps_pps_idr[] = { 0x78, 0, 2, 0x09, 0xf0, 0, 4, 0x67, 0x42, 0xc0, 0x1e,
                                          0, 4, 0x68, 0xce, 0x3c, 0x80, 0, 3, 0x65, 0x88, 0x84 };
  const guint8 stap_sps_pps_p[] = { 0x78, 0, 4, 0x67, 0x42, 0xc0, 0x1e, 0, 4, 0x68, 0xce, 0x3c,
                                    0x80, 0, 3, 0x41, 0x9a, 0x02 };
  const guint8 sps[] = { 0x67, 0x42, 0xc0, 0x1f };
  const guint8 idr[] = { 0x65, 0x88, 0x84 };
  const guint8 fu_idr_start[] = { 0x7c, 0x85, 0xaa };
  guint8 packet[64];
  gsize n;

  g_assert_false (icecam_rtp_h264_starts_keyframe (stray, sizeof stray));
  /* The same parameter sets without the marker belong to the access unit that follows. */
  memcpy (packet, stray, sizeof stray);
  packet[1] &= 0x7f;
  g_assert_true (icecam_rtp_h264_starts_keyframe (packet, sizeof stray));

  n = make_rtp (packet, 0x80, stap_aud_sps_pps_idr, sizeof stap_aud_sps_pps_idr);
  g_assert_true (icecam_rtp_h264_starts_keyframe (packet, n));
  /* With the marker: a whole IDR access unit in one packet. */
  g_assert_true (marked_starts_keyframe (stap_aud_sps_pps_idr, sizeof stap_aud_sps_pps_idr));
  g_assert_false (marked_starts_keyframe (sps, sizeof sps));
  g_assert_true (marked_starts_keyframe (idr, sizeof idr));
  g_assert_true (marked_starts_keyframe (fu_idr_start, sizeof fu_idr_start));
  /* Parameter sets before a non-IDR slice (an encoder's intra-refresh recovery point): a
   * picture, so a start as before. */
  g_assert_true (marked_starts_keyframe (stap_sps_pps_p, sizeof stap_sps_pps_p));
}

static void
test_rtcp_pli (void)
{
  guint8 pli[ICECAM_RTCP_PLI_SIZE];
  guint8 rr_then_pli[8 + ICECAM_RTCP_PLI_SIZE] = { 0x80, 201, 0, 1, 1, 2, 3, 4 };
  guint8 rtp[12] = { 0x80, 96, 0, 1, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef };
  guint32 ssrc = 0;

  icecam_rtcp_build_pli (pli, 0x01020304, 0xdeadbeef);
  g_assert_true (icecam_rtp_is_rtcp (pli, sizeof pli));
  g_assert_true (icecam_rtcp_has_keyframe_request (pli, sizeof pli));
  g_assert_cmpuint (pli[11], ==, 0xef);

  memcpy (rr_then_pli + 8, pli, sizeof pli);
  g_assert_true (icecam_rtcp_has_keyframe_request (rr_then_pli, sizeof rr_then_pli));
  /* A receiver report alone asks for nothing; a truncated compound packet is ignored. */
  g_assert_false (icecam_rtcp_has_keyframe_request (rr_then_pli, 8));
  g_assert_false (icecam_rtcp_has_keyframe_request (rr_then_pli, 8 + 6));

  g_assert_false (icecam_rtp_is_rtcp (rtp, sizeof rtp));
  g_assert_true (icecam_rtp_get_ssrc (rtp, sizeof rtp, &ssrc));
  g_assert_cmphex (ssrc, ==, 0xdeadbeef);
  g_assert_false (icecam_rtp_get_ssrc (rtp, 11, &ssrc));
  g_assert_false (icecam_rtcp_has_keyframe_request (rtp, sizeof rtp));
}

/* Vectors computed independently: base64 (HMAC-SHA1 (key, message)) with Python's hmac. */
static void
test_turn_credentials_vectors (void)
{
  const gchar *urls[] = { "turn:198.51.100.3:3478", NULL };
  g_autofree gchar *password = icecam_turn_credentials_password ("north-wind",
                                                                 "1700003600:frontdoor");
  g_autoptr (IcecamIceServer) server = icecam_turn_credentials_mint (urls, "north-wind",
                                                                     "frontdoor", 1700000000,
                                                                     3600);

  g_assert_cmpstr (password, ==, "sRh7YF1/KOHBaWHg9+oVM/8BcTo=");
  g_assert_cmpstr (server->username, ==, "1700003600:frontdoor");
  g_assert_cmpstr (server->credential, ==, "sRh7YF1/KOHBaWHg9+oVM/8BcTo=");
  g_assert_cmpstr (server->urls[0], ==, "turn:198.51.100.3:3478");
}

/* RTP time to a clock and back, across the 32-bit wrap, and a sender report's NTP time. */
static void
test_rtp_clock (void)
{
  g_autoptr (IcecamRtpClock) clock = icecam_rtp_clock_new ();
  guint32 timestamp = 0;
  gint64 time_us = 0;

  /* 90 kHz: 9000 ticks are 100 ms, before or after, also where the timestamp wraps. */
  g_assert_cmpint (icecam_rtp_clock_time_of (1000, 5000000, 10000, 90000), ==, 5100000);
  g_assert_cmpint (icecam_rtp_clock_time_of (1000, 5000000, 0xffffffffu - 7999, 90000), ==,
                   4900000);
  g_assert_cmpint (icecam_rtp_clock_time_of (0xffffff00u, 0, 0x00001f00u, 48000), ==, 170666);
  g_assert_cmpuint (icecam_rtp_clock_timestamp_at (0xffffffffu, 1000000, 1100000, 90000), ==,
                    8999);
  g_assert_cmpuint (icecam_rtp_clock_timestamp_at (100, 1000000, 900000, 90000), ==,
                    (guint32) (100 - 9000));
  g_assert_cmpint (icecam_rtp_clock_unix_us_from_ntp (icecam_rtcp_ntp_from_unix_us (
                     G_GINT64_CONSTANT (1765000000123456))), >=, G_GINT64_CONSTANT (1765000000123455));
  g_assert_cmpint (icecam_rtp_clock_unix_us_from_ntp (icecam_rtcp_ntp_from_unix_us (
                     G_GINT64_CONSTANT (1765000000123456))), <=, G_GINT64_CONSTANT (1765000000123456));

  /* Sources by SSRC; a full table forgets one to make room, and never grows. */
  g_assert_false (icecam_rtp_clock_lookup (clock, 7, &timestamp, &time_us));
  icecam_rtp_clock_note (clock, 7, 1234, 42);
  icecam_rtp_clock_note (clock, 8, 99, 43);
  icecam_rtp_clock_note (clock, 7, 1300, 44);
  g_assert_true (icecam_rtp_clock_lookup (clock, 7, &timestamp, &time_us));
  g_assert_cmpuint (timestamp, ==, 1300);
  g_assert_cmpint (time_us, ==, 44);
  for (guint32 ssrc = 100; ssrc < 100 + 2 * ICECAM_RTP_CLOCK_MAX_SOURCES; ssrc++)
    icecam_rtp_clock_note (clock, ssrc, ssrc, ssrc);
  g_assert_true (icecam_rtp_clock_lookup (clock, 100 + 2 * ICECAM_RTP_CLOCK_MAX_SOURCES - 1,
                                          &timestamp, &time_us));
  icecam_rtp_clock_clear (clock);
  g_assert_false (icecam_rtp_clock_lookup (clock, 8, &timestamp, &time_us));
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/rtcp/rtp-clock", test_rtp_clock);

  g_test_add_func ("/sdp/parse/offer", test_sdp_parse_offer);
  g_test_add_func ("/sdp/roundtrip", test_sdp_roundtrip);
  g_test_add_func ("/sdp/parse/bad", test_sdp_parse_bad);
  g_test_add_func ("/sdp/parse/too-many-lines", test_sdp_too_many_lines);
  g_test_add_func ("/sdp/parse/chromium-answer", test_sdp_parse_chromium_answer);
  g_test_add_func ("/sdp/parse/bad-media", test_sdp_parse_bad_media);
  g_test_add_func ("/sdp/bundle/offer", test_sdp_bundle_offer);
  g_test_add_func ("/sdp/h264/profile", test_h264_profile);
  g_test_add_func ("/rtcp/sender-report", test_rtcp_sender_report);
  g_test_add_func ("/sdp/dtls/roundtrip", test_sdp_dtls_roundtrip);
  g_test_add_func ("/sdp/dtls/plain", test_sdp_dtls_plain);
  g_test_add_func ("/sdp/dtls/signalled", test_sdp_dtls_signalled);
  g_test_add_func ("/sdp/dtls/precedence", test_sdp_dtls_precedence);
  g_test_add_func ("/sdp/dtls/bad", test_sdp_dtls_bad);
  g_test_add_func ("/rtcp/pli", test_rtcp_pli);
  g_test_add_func ("/rtp/h264-keyframe-start", test_rtp_h264_keyframe_start);
  g_test_add_func ("/rtp/h264-keyframe-start/marker", test_rtp_h264_keyframe_start_marker);
  g_test_add_func ("/turn-credentials/vectors", test_turn_credentials_vectors);
  return g_test_run ();
}
