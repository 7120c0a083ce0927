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

#define H264_NAL_IDR 5
#define H264_NAL_SPS 7
#define H264_STAP_A 24
#define H264_FU_A 28

static gboolean
h264_nal_starts_keyframe (guint8 header)
{
  guint type = header & 0x1f;

  return type == H264_NAL_IDR || type == H264_NAL_SPS;
}

/**
 * icecam_rtp_h264_starts_keyframe:
 *
 * Reads an H.264 RTP packet (RFC 6184), bounds-checked: single NAL unit, STAP-A or FU-A.
 *
 * Returns: whether a decoder could start here: the packet carries a sequence parameter set
 *   or the start of an IDR slice
 */
gboolean
icecam_rtp_h264_starts_keyframe (const guint8 *data, gsize length)
{
  gsize offset = 12, end = length;
  const guint8 *payload;

  if (length < 12 || (data[0] >> 6) != 2 || icecam_rtp_is_rtcp (data, length))
    return FALSE;
  offset += (gsize) (data[0] & 0x0f) * 4;
  if (data[0] & 0x10) { /* header extension */
    if (offset + 4 > length)
      return FALSE;
    offset += 4 + (((gsize) data[offset + 2] << 8) | data[offset + 3]) * 4;
  }
  if (data[0] & 0x20) /* padding: its length is the last byte */
    end = data[length - 1] <= length ? length - data[length - 1] : 0;
  if (offset >= end)
    return FALSE;
  payload = data + offset;
  end -= offset;

  switch (payload[0] & 0x1f) {
  case H264_STAP_A:
    for (gsize i = 1; i + 2 < end;) {
      gsize size = ((gsize) payload[i] << 8) | payload[i + 1];

      i += 2;
      if (size == 0 || i + size > end)
        return FALSE;
      if (h264_nal_starts_keyframe (payload[i]))
        return TRUE;
      i += size;
    }
    return FALSE;
  case H264_FU_A:
    return end >= 2 && (payload[1] & 0x80) != 0 && (payload[1] & 0x1f) == H264_NAL_IDR;
  default:
    return h264_nal_starts_keyframe (payload[0]);
  }
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

/**
 * icecam_rtcp_build_empty_rr:
 * @out: room for the packet
 * @sender_ssrc: the receiver's own SSRC
 *
 * A receiver report without report blocks (RFC 3550 6.4.2: RC=0): "this receiver is alive",
 * sent so that the sender sees a path that stopped carrying anything back.
 */
void
icecam_rtcp_build_empty_rr (guint8 out[ICECAM_RTCP_EMPTY_RR_SIZE], guint32 sender_ssrc)
{
  out[0] = 0x80; /* V=2, P=0, RC=0 */
  out[1] = 201;  /* RR */
  out[2] = 0;
  out[3] = 1;    /* length in 32-bit words minus one */
  for (guint i = 0; i < 4; i++)
    out[4 + i] = (guint8) (sender_ssrc >> (24 - 8 * i));
}
