/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: icecam_sdp_parse() on an offer or answer, and the build -> parse round trip
 * of every description it accepts. */

#include "icecam-fuzz.h"
#include "icecam-sdp.h"

#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  icecam_fuzz_init ();
  return 0;
}

static void
check_same (const gchar *what, const gchar *a, const gchar *b)
{
  if (g_strcmp0 (a, b) != 0)
    icecam_fuzz_fail ("round trip changed %s: '%s' -> '%s'", what, a ? a : "(null)",
                      b ? b : "(null)");
}

/* The viewer answers with what it parsed from the offer, so what icecam writes must read
 * back as the same description. */
static void
check_round_trip (const IcecamSdp *sdp)
{
  g_autofree gchar *text = icecam_sdp_to_string (sdp, 1);
  g_autofree gchar *text_again = NULL;
  g_autoptr (IcecamSdp) back = NULL;
  g_autoptr (GError) error = NULL;

  if (text == NULL)
    icecam_fuzz_fail ("icecam_sdp_to_string() returned NULL for a parsed description");
  back = icecam_sdp_parse (text, &error);
  if (back == NULL)
    icecam_fuzz_fail ("built SDP does not parse: %s\n%s", error->message, text);
  if (back->media->len != sdp->media->len)
    icecam_fuzz_fail ("round trip changed the number of media sections: %u -> %u",
                      sdp->media->len, back->media->len);
  for (guint i = 0; i < sdp->media->len; i++) {
    const IcecamSdpMedia *a = icecam_sdp_get_media (sdp, i), *b = icecam_sdp_get_media (back, i);

    check_same ("kind", a->kind, b->kind);
    check_same ("mid", a->mid, b->mid);
    if (a->payload_type != b->payload_type)
      icecam_fuzz_fail ("round trip changed the payload type: %u -> %u", a->payload_type,
                        b->payload_type);
    check_same ("rtpmap", a->rtpmap, b->rtpmap);
    check_same ("fmtp", a->fmtp, b->fmtp);
    check_same ("msid", a->msid, b->msid);
    if (a->direction != b->direction)
      icecam_fuzz_fail ("round trip changed the direction");
    if (a->rtcp_fb->len != b->rtcp_fb->len)
      icecam_fuzz_fail ("round trip changed the number of rtcp-fb");
    if (a->cname != NULL && (a->ssrc != b->ssrc || g_strcmp0 (a->cname, b->cname) != 0))
      icecam_fuzz_fail ("round trip changed the source");
  }
  check_same ("ice-ufrag", sdp->ice_ufrag, back->ice_ufrag);
  check_same ("ice-pwd", sdp->ice_pwd, back->ice_pwd);
  check_same ("fingerprint", sdp->fingerprint, back->fingerprint);
  check_same ("setup", sdp->setup, back->setup);
  if (back->candidates->len != sdp->candidates->len)
    icecam_fuzz_fail ("round trip changed the number of candidates: %u -> %u",
                      sdp->candidates->len, back->candidates->len);
  for (guint i = 0; i < sdp->candidates->len; i++)
    check_same ("a candidate", g_ptr_array_index (sdp->candidates, i),
                g_ptr_array_index (back->candidates, i));
  if (back->end_of_candidates != sdp->end_of_candidates)
    icecam_fuzz_fail ("round trip changed end-of-candidates");

  /* Fields added to IcecamSdp later are covered too: writing what was read back is stable. */
  text_again = icecam_sdp_to_string (back, 1);
  if (g_strcmp0 (text, text_again) != 0)
    icecam_fuzz_fail ("writing the description read back changed it:\n%s\n%s", text, text_again);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* The parser takes NUL-terminated text (the protocol layer has refused NULs already). */
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);
  g_autoptr (IcecamSdp) sdp = NULL;
  g_autoptr (GError) error = NULL;

  sdp = icecam_sdp_parse (text, &error);
  if (sdp == NULL) {
    if (error == NULL || error->domain != ICECAM_SDP_ERROR)
      icecam_fuzz_fail ("icecam_sdp_parse() failed without an ICECAM_SDP_ERROR");
    return 0;
  }
  check_round_trip (sdp);
  return 0;
}
