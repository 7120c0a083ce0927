/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the media path's packet inspection: RTP/RTCP demultiplexing, the SSRC, and
 * the walk of a compound RTCP packet looking for a keyframe request (PLI, FIR), and the H.264
 * payload walk that finds where a new viewer's stream may start. */

#include "icecam-fuzz.h"
#include "icecam-h264.h"
#include "icecam-rtcp.h"

#include <string.h>

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
  gchar profile[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH];
  IcecamRtcpSenderInfo info;
  const guint8 *payload;
  gsize payload_length;
  guint32 ssrc;

  if (icecam_rtcp_has_keyframe_request (data, size) && !is_rtcp)
    icecam_fuzz_fail ("a keyframe request in a packet that is not RTCP");
  if (icecam_rtp_h264_starts_keyframe (data, size) && is_rtcp)
    icecam_fuzz_fail ("a keyframe start found in an RTCP packet");
  if (icecam_rtp_get_ssrc (data, size, &ssrc) && is_rtcp)
    icecam_fuzz_fail ("an RTP SSRC read from an RTCP packet");
  if (icecam_rtcp_find_sender_report (data, size, &info) && !is_rtcp)
    icecam_fuzz_fail ("a sender report in a packet that is not RTCP");
  if (icecam_rtp_get_payload (data, size, &payload, &payload_length) &&
      (is_rtcp || payload < data || payload + payload_length > data + size || payload_length == 0))
    icecam_fuzz_fail ("an RTP payload outside the packet");
  if (icecam_rtp_h264_find_profile_level_id (data, size, profile) && strlen (profile) != 6)
    icecam_fuzz_fail ("a profile-level-id that is not six hex digits");
  return 0;
}
