/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reduced stream of a viewer far below the others: keyframes only, renumbered. */

#include "icecam-reduced-stream.h"

#include <string.h>

#include "icecam-rtcp.h"

/**
 * icecam_reduced_stream_set_wanted:
 *
 * Asks for keyframes only (from the next keyframe on), or for the full stream again (also from
 * the next keyframe: the frames in between refer to ones the viewer never got). Any thread.
 */
void
icecam_reduced_stream_set_wanted (IcecamReducedStream *stream, gboolean wanted)
{
  g_atomic_int_set (&stream->wanted, wanted);
}

gboolean
icecam_reduced_stream_is_active (IcecamReducedStream *stream)
{
  return g_atomic_int_get (&stream->wanted);
}

/**
 * icecam_reduced_stream_to_camera_seq:
 * @seq: a sequence number as the viewer saw it (in a NACK)
 *
 * Any thread.
 *
 * Returns: the camera's sequence number of that packet
 */
guint16
icecam_reduced_stream_to_camera_seq (IcecamReducedStream *stream, guint16 seq)
{
  return (guint16) (seq + (guint16) g_atomic_int_get (&stream->skipped));
}

/* Whether the packets must go through icecam_reduced_stream_filter(): reduced now or wanted,
 * or renumbered since an earlier reduction. */
gboolean
icecam_reduced_stream_needed (IcecamReducedStream *stream)
{
  return stream->active || g_atomic_int_get (&stream->wanted) ||
         g_atomic_int_get (&stream->skipped) != 0;
}

/**
 * icecam_reduced_stream_filter:
 * @packets: (array length=n_packets): the camera's RTP packets
 * @copies: room for @n_packets packets of @room bytes
 * @out: (out caller-allocates) (array length=n_packets): the packets for the viewer
 * @out_lengths: (out caller-allocates) (array length=n_packets): their lengths
 *
 * Passes what the viewer gets, renumbered so that it sees no gap (its jitter buffer would ask
 * for every packet left out): while reduced, only the access units of keyframes.
 *
 * Returns: the number of packets in @out
 */
guint
icecam_reduced_stream_filter (IcecamReducedStream *stream, const guint8 * const *packets,
                              const gsize *lengths, guint n_packets, guint8 *copies, gsize room,
                              const guint8 **out, gsize *out_lengths)
{
  guint n_out = 0;
  guint16 skipped = (guint16) g_atomic_int_get (&stream->skipped);

  for (guint i = 0; i < n_packets; i++) {
    gboolean starts = icecam_rtp_h264_starts_keyframe (packets[i], lengths[i]);
    guint8 *copy = copies + (gsize) n_out * room;
    guint16 seq;

    if (starts) {
      stream->active = g_atomic_int_get (&stream->wanted);
      stream->in_keyframe = TRUE;
    }
    if (stream->active && !stream->in_keyframe) {
      skipped++;
      continue;
    }
    if (lengths[i] < 12 || lengths[i] > room)
      continue;
    if (lengths[i] >= 2 && (packets[i][1] & 0x80))
      stream->in_keyframe = FALSE; /* the marker ends the access unit */
    memcpy (copy, packets[i], lengths[i]);
    seq = (guint16) (((copy[2] << 8) | copy[3]) - skipped);
    copy[2] = (guint8) (seq >> 8);
    copy[3] = (guint8) seq;
    out[n_out] = copy;
    out_lengths[n_out] = lengths[i];
    n_out++;
  }
  g_atomic_int_set (&stream->skipped, (gint) skipped);
  return n_out;
}
