/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RTP/RTCP demultiplexing (RFC 5761) and keyframe requests: PLI (RFC 4585), FIR (RFC 5104). */

#include "icecam-rtcp.h"

#define RTCP_PT_PSFB 206
#define PSFB_FMT_PLI 1
#define PSFB_FMT_FIR 4
#define MAX_COMPOUND_PACKETS 32

/**
 * icecam_rtp_is_rtcp:
 *
 * Returns: whether a packet on a muxed component is RTCP: version 2 and a packet type in
 *   192..223 (RFC 5761 section 4)
 */
gboolean
icecam_rtp_is_rtcp (const guint8 *data, gsize length)
{
  return length >= 8 && (data[0] >> 6) == 2 && data[1] >= 192 && data[1] <= 223;
}

gboolean
icecam_rtp_get_ssrc (const guint8 *data, gsize length, guint32 *ssrc)
{
  if (length < 12 || (data[0] >> 6) != 2 || icecam_rtp_is_rtcp (data, length))
    return FALSE;
  *ssrc = ((guint32) data[8] << 24) | ((guint32) data[9] << 16) | ((guint32) data[10] << 8) |
          data[11];
  return TRUE;
}

/**
 * icecam_rtcp_has_keyframe_request:
 *
 * Walks a compound RTCP packet, bounds-checked, and looks for PLI or FIR.
 *
 * Returns: whether the peer asks for a keyframe
 */
gboolean
icecam_rtcp_has_keyframe_request (const guint8 *data, gsize length)
{
  gsize offset = 0;

  if (!icecam_rtp_is_rtcp (data, length))
    return FALSE;
  for (guint n = 0; n < MAX_COMPOUND_PACKETS && offset + 4 <= length; n++) {
    const guint8 *p = data + offset;
    gsize size = (((gsize) p[2] << 8) | p[3]) * 4 + 4;
    guint fmt = p[0] & 0x1f;

    if ((p[0] >> 6) != 2 || offset + size > length)
      return FALSE;
    if (p[1] == RTCP_PT_PSFB && (fmt == PSFB_FMT_PLI || fmt == PSFB_FMT_FIR))
      return TRUE;
    offset += size;
  }
  return FALSE;
}

void
icecam_rtcp_build_pli (guint8 out[ICECAM_RTCP_PLI_SIZE], guint32 sender_ssrc,
                       guint32 media_ssrc)
{
  out[0] = 0x80 | PSFB_FMT_PLI; /* V=2, P=0, FMT=1 */
  out[1] = RTCP_PT_PSFB;
  out[2] = 0;
  out[3] = 2; /* length in 32-bit words minus one */
  for (guint i = 0; i < 4; i++) {
    out[4 + i] = (guint8) (sender_ssrc >> (24 - 8 * i));
    out[8 + i] = (guint8) (media_ssrc >> (24 - 8 * i));
  }
}
