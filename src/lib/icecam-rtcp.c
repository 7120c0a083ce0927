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

#define H264_NAL_SLICE 1
#define H264_NAL_IDR 5
#define H264_NAL_SPS 7
#define H264_STAP_A 24
#define H264_FU_A 28

/* What the NAL units of one packet hold, as far as where a decoder may start matters. */
typedef struct {
  gboolean sps;       /* a sequence parameter set (or the first fragment of one) */
  gboolean idr_start; /* an IDR slice, or the first fragment of one */
  gboolean slice;     /* any coded slice (NAL 1..5), or a fragment of one */
} H264Contents;

/* @starts: the NAL unit begins in this packet (always, except for FU-A middle and end). */
static void
h264_note_nal (H264Contents *contents, guint type, gboolean starts)
{
  if (type >= H264_NAL_SLICE && type <= H264_NAL_IDR)
    contents->slice = TRUE;
  if (starts && type == H264_NAL_IDR)
    contents->idr_start = TRUE;
  if (starts && type == H264_NAL_SPS)
    contents->sps = TRUE;
}

/* Reads the payload's NAL units into @contents; FALSE if the payload is malformed. */
static gboolean
h264_read_payload (const guint8 *payload, gsize end, H264Contents *contents)
{
  switch (payload[0] & 0x1f) {
  case H264_STAP_A:
    for (gsize i = 1; i + 2 < end;) {
      gsize size = ((gsize) payload[i] << 8) | payload[i + 1];

      i += 2;
      if (size == 0 || i + size > end)
        return FALSE;
      h264_note_nal (contents, payload[i] & 0x1f, TRUE);
      i += size;
    }
    return TRUE;
  case H264_FU_A:
    if (end < 2)
      return FALSE;
    h264_note_nal (contents, payload[1] & 0x1f, (payload[1] & 0x80) != 0);
    return TRUE;
  default:
    h264_note_nal (contents, payload[0] & 0x1f, TRUE);
    return TRUE;
  }
}

/**
 * icecam_rtp_h264_starts_keyframe:
 *
 * Reads an H.264 RTP packet (RFC 6184), bounds-checked: single NAL unit, STAP-A or FU-A.
 *
 * A packet of parameter sets with the RTP marker set is an access unit of its own with no
 * picture (what rtph264pay makes of a force-key-unit event with all-headers, see
 * gsticecamsink.c): a receiver that starts there is handed a frame it cannot decode, and
 * browsers answer that with another keyframe request. So such a packet is not a start; the
 * access unit of the IDR that follows it is.
 *
 * Returns: whether a decoder could start here: the packet carries a sequence parameter set
 *   or the start of an IDR slice, and does not end its access unit without a slice
 */
gboolean
icecam_rtp_h264_starts_keyframe (const guint8 *data, gsize length)
{
  H264Contents contents = { FALSE, FALSE, FALSE };
  const guint8 *payload;
  gsize payload_length;
  gboolean marker;

  if (!icecam_rtp_get_payload (data, length, &payload, &payload_length))
    return FALSE;
  marker = (data[1] & 0x80) != 0;
  if (!h264_read_payload (payload, payload_length, &contents))
    return FALSE;
  return (contents.sps || contents.idr_start) && (!marker || contents.slice);
}

/**
 * icecam_rtp_get_payload:
 * @payload: (out): where the payload starts in @data
 * @payload_length: (out): its length, without padding
 *
 * Skips an RTP packet's header, CSRCs and header extension, and drops its padding;
 * bounds-checked.
 *
 * Returns: whether @data is an RTP packet (not RTCP) with a payload of at least one byte
 */
gboolean
icecam_rtp_get_payload (const guint8 *data, gsize length, const guint8 **payload,
                        gsize *payload_length)
{
  gsize offset = 12, end = length;

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
  *payload = data + offset;
  *payload_length = end - offset;
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

/**
 * icecam_rtcp_starts_with_report:
 *
 * Returns: whether @data is an RTCP packet that begins with a sender or receiver report, as
 *   every regular compound packet does (RFC 3550 6.1); a lone feedback message does not
 */
gboolean
icecam_rtcp_starts_with_report (const guint8 *data, gsize length)
{
  return length >= 8 && (data[0] >> 6) == 2 && (data[1] == 200 || data[1] == 201);
}
