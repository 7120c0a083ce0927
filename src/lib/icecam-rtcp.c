/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RTP/RTCP demultiplexing (RFC 5761) and keyframe requests: PLI (RFC 4585), FIR (RFC 5104). */

#include "icecam-rtcp.h"

#include <string.h>

#define RTCP_PT_SR 200
#define RTCP_PT_SDES 202
#define RTCP_PT_PSFB 206
#define SDES_CNAME 1
/* Seconds from 1900-01-01 (NTP's epoch) to 1970-01-01 (Unix's). */
#define NTP_UNIX_OFFSET G_GUINT64_CONSTANT (2208988800)
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
 * icecam_rtp_h264_is_parameter_sets:
 *
 * Returns: whether an H.264 RTP packet carries a sequence parameter set and no coded slice
 *   (a STAP-A of SPS and PPS, or a lone SPS), as payloaders send before a keyframe's slices
 */
gboolean
icecam_rtp_h264_is_parameter_sets (const guint8 *data, gsize length)
{
  H264Contents contents = { FALSE, FALSE, FALSE };
  const guint8 *payload;
  gsize payload_length;

  return icecam_rtp_get_payload (data, length, &payload, &payload_length) &&
         h264_read_payload (payload, payload_length, &contents) && contents.sps &&
         !contents.slice;
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

static void
put32 (guint8 *out, guint32 value)
{
  out[0] = (guint8) (value >> 24);
  out[1] = (guint8) (value >> 16);
  out[2] = (guint8) (value >> 8);
  out[3] = (guint8) value;
}

static guint32
get32 (const guint8 *in)
{
  return ((guint32) in[0] << 24) | ((guint32) in[1] << 16) | ((guint32) in[2] << 8) | in[3];
}

/**
 * icecam_rtcp_ntp_from_unix_us:
 * @unix_us: microseconds since 1970, e.g. g_get_real_time()
 *
 * Returns: the same instant as a 64-bit NTP timestamp (RFC 3550 4)
 */
guint64
icecam_rtcp_ntp_from_unix_us (gint64 unix_us)
{
  guint64 seconds = (guint64) (unix_us / G_USEC_PER_SEC) + NTP_UNIX_OFFSET;
  guint64 fraction = ((guint64) (unix_us % G_USEC_PER_SEC) << 32) / G_USEC_PER_SEC;

  return (seconds << 32) | fraction;
}

/**
 * icecam_rtcp_build_sender_report:
 * @out: (out caller-allocates) (array length=room): where the packet goes
 * @room: bytes available, %ICECAM_RTCP_SENDER_REPORT_MAX_SIZE is always enough
 * @info: the sender info
 * @cname: the source's CNAME, 1..255 bytes
 *
 * A compound RTCP packet as RFC 3550 6.1 wants it: a sender report (no report blocks: the
 * camera receives no RTP) followed by an SDES chunk with the CNAME.
 *
 * Returns: its length, or 0 if @room is too small or @cname unusable
 */
gsize
icecam_rtcp_build_sender_report (guint8 *out, gsize room, const IcecamRtcpSenderInfo *info,
                                 const gchar *cname)
{
  gsize cname_length = cname ? strlen (cname) : 0;
  /* SDES: header, SSRC, CNAME item (type, length, text), then at least one zero byte ending
   * the item list, padded to a 32-bit boundary. */
  gsize sdes_length = (4 + 4 + 2 + cname_length + 1 + 3) & ~(gsize) 3;
  gsize length = 28 + sdes_length;
  guint8 *sdes = out + 28;

  if (cname_length == 0 || cname_length > 255 || length > room)
    return 0;
  out[0] = 0x80; /* V=2, P=0, RC=0 */
  out[1] = RTCP_PT_SR;
  out[2] = 0;
  out[3] = 6;    /* 28 bytes: 7 words, minus one */
  put32 (out + 4, info->ssrc);
  put32 (out + 8, (guint32) (info->ntp_time >> 32));
  put32 (out + 12, (guint32) info->ntp_time);
  put32 (out + 16, info->rtp_timestamp);
  put32 (out + 20, info->packet_count);
  put32 (out + 24, info->octet_count);

  memset (sdes, 0, sdes_length);
  sdes[0] = 0x81; /* V=2, P=0, SC=1 */
  sdes[1] = RTCP_PT_SDES;
  sdes[2] = (guint8) ((sdes_length / 4 - 1) >> 8);
  sdes[3] = (guint8) (sdes_length / 4 - 1);
  put32 (sdes + 4, info->ssrc);
  sdes[8] = SDES_CNAME;
  sdes[9] = (guint8) cname_length;
  memcpy (sdes + 10, cname, cname_length);
  return length;
}

/**
 * icecam_rtcp_is_sender_report:
 *
 * Returns: whether @data is an RTCP packet that begins with a sender report
 */
gboolean
icecam_rtcp_is_sender_report (const guint8 *data, gsize length)
{
  return icecam_rtp_is_rtcp (data, length) && data[1] == RTCP_PT_SR;
}

/**
 * icecam_rtcp_find_sender_report:
 * @info: (out): the first sender report's sender info
 *
 * Walks a compound RTCP packet, bounds-checked.
 *
 * Returns: whether it holds a sender report
 */
gboolean
icecam_rtcp_find_sender_report (const guint8 *data, gsize length, IcecamRtcpSenderInfo *info)
{
  gsize offset = 0;

  if (!icecam_rtp_is_rtcp (data, length))
    return FALSE;
  for (guint n = 0; n < MAX_COMPOUND_PACKETS && offset + 4 <= length; n++) {
    const guint8 *p = data + offset;
    gsize size = (((gsize) p[2] << 8) | p[3]) * 4 + 4;

    if ((p[0] >> 6) != 2 || offset + size > length)
      return FALSE;
    if (p[1] == RTCP_PT_SR && size >= 28) {
      info->ssrc = get32 (p + 4);
      info->ntp_time = ((guint64) get32 (p + 8) << 32) | get32 (p + 12);
      info->rtp_timestamp = get32 (p + 16);
      info->packet_count = get32 (p + 20);
      info->octet_count = get32 (p + 24);
      return TRUE;
    }
    offset += size;
  }
  return FALSE;
}
