/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The reduced stream of a viewer far below the others: keyframes only, renumbered. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * IcecamReducedStream:
 *
 * Zero-initialised; written by the streaming thread only, @skipped also read from others.
 */
typedef struct {
  gint wanted;      /* atomic: reduce from the next keyframe; back to full at the next one */
  gboolean active;  /* keyframes only now */
  gboolean in_keyframe; /* the access unit being passed is a keyframe's */
  gint skipped;     /* atomic: packets left out so far: the viewer's sequence numbers are the
                     * camera's minus this */
} IcecamReducedStream;

void icecam_reduced_stream_set_wanted (IcecamReducedStream *stream, gboolean wanted);
gboolean icecam_reduced_stream_is_active (IcecamReducedStream *stream);
guint16 icecam_reduced_stream_to_camera_seq (IcecamReducedStream *stream, guint16 seq);
gboolean icecam_reduced_stream_needed (IcecamReducedStream *stream);
guint icecam_reduced_stream_filter (IcecamReducedStream *stream, const guint8 * const *packets,
                                    const gsize *lengths, guint n_packets, guint8 *copies,
                                    gsize room, const guint8 **out, gsize *out_lengths);

G_END_DECLS
