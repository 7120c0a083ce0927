/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loss repair and congestion feedback on the wire: generic NACK (RFC 4585 6.2.1), RTX packets
 * (RFC 4588), receiver report blocks (RFC 3550 6.4). Pure functions, bounds-checked:
 * everything here reads packets from the network. */

#include "icecam-rtcp-feedback.h"

#include <string.h>

#include "icecam-rtcp.h"

#define RTCP_PT_SR 200
#define RTCP_PT_RR 201
#define RTCP_PT_RTPFB 205
#define RTPFB_FMT_NACK 1
#define MAX_COMPOUND_PACKETS 32

static void
write_u32 (guint8 *at, guint32 value)
{
  for (guint i = 0; i < 4; i++)
    at[i] = (guint8) (value >> (24 - 8 * i));
}

/* Adds the sequence numbers one FCI entry (PID and BLP) names; returns the new count. */
static guint
add_fci (const guint8 *fci, guint16 *seqs, guint n, guint max_seqs)
{
  guint16 pid = (guint16) ((fci[0] << 8) | fci[1]);
  guint16 blp = (guint16) ((fci[2] << 8) | fci[3]);

  if (n < max_seqs)
    seqs[n++] = pid;
  for (guint bit = 0; bit < 16 && n < max_seqs; bit++) {
    if (blp & (1u << bit))
      seqs[n++] = (guint16) (pid + bit + 1);
  }
  return n;
}

/**
 * icecam_rtcp_parse_nacks:
 * @seqs: (out caller-allocates) (array length=max_seqs): where the sequence numbers go
 *
 * Walks a compound RTCP packet and collects the sequence numbers of every generic NACK in it,
 * whatever media SSRC it names (a peer session carries one video source). A malformed packet
 * ends the walk; what was read before it is kept. Duplicates are not removed.
 *
 * Returns: the number of sequence numbers written to @seqs
 */
guint
icecam_rtcp_parse_nacks (const guint8 *data, gsize length, guint16 *seqs, guint max_seqs)
{
  gsize offset = 0;
  guint n = 0;

  if (!icecam_rtp_is_rtcp (data, length))
    return 0;
  for (guint k = 0; k < MAX_COMPOUND_PACKETS && offset + 4 <= length; k++) {
    const guint8 *p = data + offset;
    gsize size = (((gsize) p[2] << 8) | p[3]) * 4 + 4;

    if ((p[0] >> 6) != 2 || offset + size > length)
      break;
    if (p[1] == RTCP_PT_RTPFB && (p[0] & 0x1f) == RTPFB_FMT_NACK) {
      for (gsize at = 12; at + 4 <= size && n < max_seqs; at += 4)
        n = add_fci (p + at, seqs, n, max_seqs);
    }
    offset += size;
  }
  return n;
}

/**
 * icecam_rtcp_build_nack:
 * @out: (out caller-allocates): room for the packet
 * @room: bytes in @out
 * @seqs: (array length=n_seqs): the missing sequence numbers, in order of arrival
 *
 * One generic NACK: each FCI entry names a packet and up to 16 that follow it (those given
 * next, in ascending order). Entries that do not fit in @room (or past 255 of them) are left
 * out.
 *
 * Returns: the length of the packet, or 0 if @n_seqs is 0 or @room is under 16 bytes
 */
gsize
icecam_rtcp_build_nack (guint8 *out, gsize room, guint32 sender_ssrc, guint32 media_ssrc,
                        const guint16 *seqs, guint n_seqs)
{
  gsize length = 12;
  guint i = 0;

  if (n_seqs == 0 || room < 16)
    return 0;
  while (i < n_seqs && length + 4 <= room && length + 4 <= 4 * 256) {
    guint16 pid = seqs[i++];
    guint16 blp = 0, last = 0;

    /* The bitmask reads in ascending order: it takes the following ones only while they
     * ascend, so that the receiver reads them in the order given. */
    while (i < n_seqs && (guint16) (seqs[i] - pid) > last && (guint16) (seqs[i] - pid) <= 16) {
      last = (guint16) (seqs[i++] - pid);
      blp |= (guint16) (1u << (last - 1));
    }
    out[length] = (guint8) (pid >> 8);
    out[length + 1] = (guint8) pid;
    out[length + 2] = (guint8) (blp >> 8);
    out[length + 3] = (guint8) blp;
    length += 4;
  }
  out[0] = 0x80 | RTPFB_FMT_NACK;
  out[1] = RTCP_PT_RTPFB;
  out[2] = (guint8) ((length / 4 - 1) >> 8);
  out[3] = (guint8) (length / 4 - 1);
  write_u32 (out + 4, sender_ssrc);
  write_u32 (out + 8, media_ssrc);
  return length;
}

gboolean
icecam_rtp_get_seq (const guint8 *data, gsize length, guint16 *seq)
{
  if (length < 12 || (data[0] >> 6) != 2 || icecam_rtp_is_rtcp (data, length))
    return FALSE;
  *seq = (guint16) ((data[2] << 8) | data[3]);
  return TRUE;
}

/**
 * icecam_rtx_wrap:
 * @packet: (array length=length): the original RTP packet
 * @rtx_seq: the sequence number of the RTX stream (its own, per receiver)
 * @out: (out caller-allocates): room for @length + 2 bytes
 * @out_length: (inout): the room in @out; the packet's length on return
 *
 * The retransmission of @packet (RFC 4588 4): the same header (timestamp, marker, CSRCs and
 * extensions) with the RTX payload type, SSRC and sequence number, then the original sequence
 * number, then the original payload without its padding.
 *
 * Returns: whether @packet is RTP with a payload and @out had room
 */
gboolean
icecam_rtx_wrap (const guint8 *packet, gsize length, guint rtx_payload_type, guint32 rtx_ssrc,
                 guint16 rtx_seq, guint8 *out, gsize *out_length)
{
  const guint8 *payload;
  gsize payload_length, header;

  if (!icecam_rtp_get_payload (packet, length, &payload, &payload_length))
    return FALSE;
  header = (gsize) (payload - packet);
  if (header + 2 + payload_length > *out_length)
    return FALSE;
  memcpy (out, packet, header);
  out[0] &= ~0x20; /* no padding */
  out[1] = (guint8) ((packet[1] & 0x80) | (rtx_payload_type & 0x7f));
  out[2] = (guint8) (rtx_seq >> 8);
  out[3] = (guint8) rtx_seq;
  write_u32 (out + 8, rtx_ssrc);
  out[header] = packet[2];
  out[header + 1] = packet[3];
  memcpy (out + header + 2, payload, payload_length);
  *out_length = header + 2 + payload_length;
  return TRUE;
}

/**
 * icecam_rtx_unwrap:
 * @packet: (array length=length): an RTX packet
 * @payload_type: the original stream's payload type
 * @ssrc: the original stream's SSRC
 * @out: (out caller-allocates): room for @length bytes
 * @out_length: (inout): the room in @out; the original packet's length on return
 *
 * The original packet back from its retransmission: what icecam_rtx_wrap() did, undone.
 *
 * Returns: whether @packet is RTP that carries an original sequence number and a payload
 */
gboolean
icecam_rtx_unwrap (const guint8 *packet, gsize length, guint payload_type, guint32 ssrc,
                   guint8 *out, gsize *out_length)
{
  const guint8 *payload;
  gsize payload_length, header;

  if (!icecam_rtp_get_payload (packet, length, &payload, &payload_length) ||
      payload_length < 3)
    return FALSE;
  header = (gsize) (payload - packet);
  if (header + payload_length - 2 > *out_length)
    return FALSE;
  memcpy (out, packet, header);
  out[0] &= ~0x20;
  out[1] = (guint8) ((packet[1] & 0x80) | (payload_type & 0x7f));
  out[2] = payload[0];
  out[3] = payload[1];
  write_u32 (out + 8, ssrc);
  memcpy (out + header, payload + 2, payload_length - 2);
  *out_length = header + payload_length - 2;
  return TRUE;
}

static guint32
read_u32 (const guint8 *at)
{
  return ((guint32) at[0] << 24) | ((guint32) at[1] << 16) | ((guint32) at[2] << 8) | at[3];
}

/**
 * icecam_rtcp_build_receiver_report:
 * @out: (out caller-allocates): room for %ICECAM_RTCP_RR_SIZE bytes
 * @block: the one report block
 *
 * Returns: the length of the packet, or 0 if @room is too small
 */
gsize
icecam_rtcp_build_receiver_report (guint8 *out, gsize room, guint32 sender_ssrc,
                                   const IcecamRtcpReportBlock *block)
{
  guint32 lost = (guint32) CLAMP (block->cumulative_lost, -0x800000, 0x7fffff) & 0xffffff;

  if (room < ICECAM_RTCP_RR_SIZE)
    return 0;
  out[0] = 0x81; /* V=2, RC=1 */
  out[1] = RTCP_PT_RR;
  out[2] = 0;
  out[3] = ICECAM_RTCP_RR_SIZE / 4 - 1;
  write_u32 (out + 4, sender_ssrc);
  write_u32 (out + 8, block->ssrc);
  write_u32 (out + 12, ((guint32) block->fraction_lost << 24) | lost);
  write_u32 (out + 16, block->highest_seq);
  write_u32 (out + 20, block->jitter);
  write_u32 (out + 24, block->lsr);
  write_u32 (out + 28, block->dlsr);
  return ICECAM_RTCP_RR_SIZE;
}

/**
 * icecam_rtcp_find_report_block:
 * @ssrc: the source whose block is wanted, or 0 for the first block
 * @block: (out): the block
 *
 * Walks a compound RTCP packet, bounds-checked, through its sender and receiver reports.
 *
 * Returns: whether a report block about @ssrc was found
 */
gboolean
icecam_rtcp_find_report_block (const guint8 *data, gsize length, guint32 ssrc,
                               IcecamRtcpReportBlock *block)
{
  gsize offset = 0;

  if (!icecam_rtp_is_rtcp (data, length))
    return FALSE;
  for (guint k = 0; k < MAX_COMPOUND_PACKETS && offset + 4 <= length; k++) {
    const guint8 *p = data + offset;
    gsize size = (((gsize) p[2] << 8) | p[3]) * 4 + 4;
    gsize first = p[1] == RTCP_PT_SR ? 28 : 8;

    if ((p[0] >> 6) != 2 || offset + size > length)
      return FALSE;
    for (guint i = 0; (p[1] == RTCP_PT_SR || p[1] == RTCP_PT_RR) && i < (p[0] & 0x1fu) &&
                      first + 24 * (i + 1) <= size; i++) {
      const guint8 *b = p + first + 24 * i;
      guint32 lost = read_u32 (b + 4) & 0xffffff;

      if (ssrc != 0 && read_u32 (b) != ssrc)
        continue;
      block->ssrc = read_u32 (b);
      block->fraction_lost = b[4];
      block->cumulative_lost = (gint32) (lost & 0x800000 ? lost | 0xff000000u : lost);
      block->highest_seq = read_u32 (b + 8);
      block->jitter = read_u32 (b + 12);
      block->lsr = read_u32 (b + 16);
      block->dlsr = read_u32 (b + 20);
      return TRUE;
    }
    offset += size;
  }
  return FALSE;
}
