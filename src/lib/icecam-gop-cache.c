/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The RTP packets since the last H.264 keyframe, for viewers of a source that cannot make one. */

#include "icecam-gop-cache.h"

#include "icecam-rtcp.h"

/**
 * IcecamGopCache:
 *
 * A camera that passes a stream through (an IP camera's H.264 over RTSP) cannot ask its
 * encoder for a keyframe when a viewer joins; IP cameras send one every 1–10 s. The cache keeps
 * copies of the RTP packets from the last packet that starts a keyframe
 * (icecam_rtp_h264_starts_keyframe()) on, so that a new viewer is sent that keyframe and
 * everything after it at once (paced: %ICECAM_GOP_CACHE_BURST_BYTES at once, then
 * %ICECAM_GOP_CACHE_RATE_BYTES_PER_S), and decodes its first frame about one round trip after
 * it joins. The packets keep their sequence numbers and timestamps: to the viewer the cached
 * ones are simply the stream's packets before the live ones, arriving late.
 *
 * A group larger than @max_bytes is given up until the next keyframe (viewers joining then
 * wait for it, as without the cache).
 *
 * Not thread-safe: one thread (the streaming thread) pushes and reads. Cursors hold a
 * reference on the group they read, so a new keyframe does not pull packets from under them.
 */
struct _IcecamGopCache {
  GPtrArray *gop; /* (element-type GBytes) (nullable): since the last keyframe */
  gsize gop_bytes;
  gsize max_bytes;
};

IcecamGopCache *
icecam_gop_cache_new (gsize max_bytes)
{
  IcecamGopCache *self = g_new0 (IcecamGopCache, 1);

  self->max_bytes = max_bytes;
  return self;
}

void
icecam_gop_cache_free (IcecamGopCache *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->gop, g_ptr_array_unref);
  g_free (self);
}

static guint32
rtp_timestamp (GBytes *packet)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (packet, &length);

  return length >= 12 ? (guint32) data[4] << 24 | data[5] << 16 | data[6] << 8 | data[7] : 0;
}

/* Whether @packet is the slice after the parameter sets the group opened with: the group holds
 * only packets of parameter sets so far, with @packet's timestamp. */
static gboolean
continues_keyframe (IcecamGopCache *self, const guint8 *packet, gsize length)
{
  guint32 timestamp;

  if (self->gop == NULL || self->gop->len == 0 || length < 12)
    return FALSE;
  timestamp = (guint32) packet[4] << 24 | packet[5] << 16 | packet[6] << 8 | packet[7];
  for (guint i = 0; i < self->gop->len; i++) {
    GBytes *cached = g_ptr_array_index (self->gop, i);
    gsize cached_length;
    const guint8 *data = g_bytes_get_data (cached, &cached_length);

    if (rtp_timestamp (cached) != timestamp ||
        !icecam_rtp_h264_is_parameter_sets (data, cached_length))
      return FALSE;
  }
  return TRUE;
}

/**
 * icecam_gop_cache_push:
 * @packets: (array length=n_packets): RTP packets of the stream, in order
 *
 * Keeps copies of the packets; a packet that starts a keyframe starts a new group.
 */
void
icecam_gop_cache_push (IcecamGopCache *self, const guint8 * const *packets,
                       const gsize *lengths, guint n_packets)
{
  for (guint i = 0; i < n_packets; i++) {
    /* A keyframe's access unit can hold several packets that each look like a start: the
     * parameter sets (a STAP-A, as rtph264pay sends them before a large IDR) and then the
     * first fragment of the IDR slice. The group starts at the first of them: without the
     * parameter sets Chromium cannot decode the IDR, and waited for the next one (issue 15). */
    if (icecam_rtp_h264_starts_keyframe (packets[i], lengths[i]) &&
        !continues_keyframe (self, packets[i], lengths[i])) {
      g_clear_pointer (&self->gop, g_ptr_array_unref);
      self->gop = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      self->gop_bytes = 0;
    }
    if (self->gop == NULL)
      continue;
    if (self->gop_bytes + lengths[i] > self->max_bytes) {
      g_debug ("GOP cache: a group over %" G_GSIZE_FORMAT " bytes; none until the next keyframe",
               self->max_bytes);
      g_clear_pointer (&self->gop, g_ptr_array_unref);
      continue;
    }
    g_ptr_array_add (self->gop, g_bytes_new (packets[i], lengths[i]));
    self->gop_bytes += lengths[i];
  }
}


/**
 * icecam_gop_cache_start:
 * @cursor: (out caller-allocates): a cleared cursor
 * @n_packets: (out) (optional): packets in the cache now
 * @span_ms: (out) (optional): the video they hold, from their RTP timestamps (90 kHz)
 *
 * Returns: %TRUE if there is a group to start from; @cursor then reads it from its keyframe
 */
gboolean
icecam_gop_cache_start (IcecamGopCache *self, IcecamGopCursor *cursor, gint64 now_us,
                        guint *n_packets, guint *span_ms)
{
  if (self->gop == NULL || self->gop->len == 0)
    return FALSE;
  cursor->gop = g_ptr_array_ref (self->gop);
  cursor->next = 0;
  cursor->started_us = now_us;
  cursor->sent_bytes = 0;
  if (n_packets != NULL)
    *n_packets = self->gop->len;
  if (span_ms != NULL)
    *span_ms = (rtp_timestamp (g_ptr_array_index (self->gop, self->gop->len - 1)) -
                rtp_timestamp (g_ptr_array_index (self->gop, 0))) / 90;
  return TRUE;
}

/**
 * icecam_gop_cache_take:
 * @out: (element-type GBytes): gets the packets to send now, within the pacing budget
 *
 * Returns: whether @cursor has more to send, is live, or lost its group
 */
IcecamGopCursorState
icecam_gop_cache_take (IcecamGopCache *self, IcecamGopCursor *cursor, gint64 now_us,
                       GPtrArray *out)
{
  gint64 budget = ICECAM_GOP_CACHE_BURST_BYTES +
                  (now_us - cursor->started_us) * ICECAM_GOP_CACHE_RATE_BYTES_PER_S / G_USEC_PER_SEC -
                  (gint64) cursor->sent_bytes;

  while (TRUE) {
    if (cursor->next == cursor->gop->len) {
      if (cursor->gop == self->gop)
        return ICECAM_GOP_CURSOR_LIVE;
      /* The group it read was followed by a keyframe: on to the group that keyframe opened. */
      g_ptr_array_unref (cursor->gop);
      cursor->gop = self->gop != NULL ? g_ptr_array_ref (self->gop) : NULL;
      cursor->next = 0;
      if (cursor->gop == NULL)
        return ICECAM_GOP_CURSOR_LOST;
      continue;
    }
    if (budget <= 0)
      return ICECAM_GOP_CURSOR_CATCHING_UP;
    GBytes *packet = g_ptr_array_index (cursor->gop, cursor->next++);
    g_ptr_array_add (out, g_bytes_ref (packet));
    budget -= g_bytes_get_size (packet);
    cursor->sent_bytes += g_bytes_get_size (packet);
  }
}

void
icecam_gop_cursor_clear (IcecamGopCursor *cursor)
{
  g_clear_pointer (&cursor->gop, g_ptr_array_unref);
}
