/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the media path's packet inspection: RTP/RTCP demultiplexing, the SSRC, and
 * the walk of a compound RTCP packet looking for a keyframe request (PLI, FIR), and the H.264
 * payload walk that finds where a new viewer's stream may start. */

#include "icecam-fuzz.h"
#include "icecam-rtcp.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  icecam_fuzz_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  gboolean is_rtcp = icecam_rtp_is_rtcp (data, size);
  guint32 ssrc;

  if (icecam_rtcp_has_keyframe_request (data, size) && !is_rtcp)
    icecam_fuzz_fail ("a keyframe request in a packet that is not RTCP");
  if (icecam_rtp_h264_starts_keyframe (data, size) && is_rtcp)
    icecam_fuzz_fail ("a keyframe start found in an RTCP packet");
  if (icecam_rtp_get_ssrc (data, size, &ssrc) && is_rtcp)
    icecam_fuzz_fail ("an RTP SSRC read from an RTCP packet");
  return 0;
}
