/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One encoded stream to many peer sessions: who receives, and from which packet on. */

#include "icecam-fanout.h"

#include <string.h>

#include "icecam-gop-cache.h"
#include "icecam-reduced-stream.h"
#include "icecam-rtcp.h"
#include "icecam-srtp.h"

/**
 * IcecamFanout:
 *
 * The camera's list of receivers: encode once, protect per peer session (each has its own
 * SRTP keys), send to all. A receiver added "from keyframe" gets nothing until the first packet
 * that starts an H.264 keyframe (icecam_rtp_h264_starts_keyframe()): packets already on their
 * way hold only the end of a frame, or frames that depend on ones it never got.
 *
 * With a GOP cache (icecam_fanout_set_gop_cache(), for sources that cannot make a keyframe on
 * demand) a new receiver starts with the cached packets since the last keyframe instead, paced
 * (see #IcecamGopCache), and gets the live packets once it has caught up.
 *
 * Thread-safe: icecam_fanout_send() runs in the streaming thread and takes the lock only to
 * reference the current array of receivers, which is replaced, never edited, when one comes
 * or goes; add and remove run wherever the peer sessions' states change.
 */
struct _IcecamFanout {
  GMutex lock;
  GPtrArray *receivers; /* Receiver; replaced, never edited */
  IcecamGopCache *cache; /* (nullable): streaming thread only, set before the first send */
  IcecamFanoutCacheFunc cache_func;
  gpointer cache_data;
};

/* One receiver; shared by the arrays that list it (an atomic rc box). */
typedef struct {
  IcecamPeerSession *peer;
  gint started; /* atomic: has reached a keyframe; written by the streaming thread only */
  IcecamGopCursor cursor; /* streaming thread only: catching up from the GOP cache */
  IcecamReducedStream reduced; /* keyframes only, for a viewer far below the others */
} Receiver;

static void
receiver_clear (Receiver *receiver)
{
  icecam_gop_cursor_clear (&receiver->cursor);
  g_object_unref (receiver->peer);
}

static void
receiver_release (Receiver *receiver)
{
  g_atomic_rc_box_release_full (receiver, (GDestroyNotify) receiver_clear);
}

static GPtrArray *
receivers_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) receiver_release);
}

IcecamFanout *
icecam_fanout_new (void)
{
  IcecamFanout *self = g_new0 (IcecamFanout, 1);

  g_mutex_init (&self->lock);
  self->receivers = receivers_new ();
  return self;
}

void
icecam_fanout_free (IcecamFanout *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->receivers);
  icecam_gop_cache_free (self->cache);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/**
 * icecam_fanout_set_gop_cache:
 * @enabled: keep the packets since the last keyframe and start new receivers with them
 * @func: (nullable) (scope notified): called in the streaming thread when a receiver starts
 *   from the cache
 *
 * Call before the first icecam_fanout_send().
 */
void
icecam_fanout_set_gop_cache (IcecamFanout *self, gboolean enabled, IcecamFanoutCacheFunc func,
                             gpointer data)
{
  g_clear_pointer (&self->cache, icecam_gop_cache_free);
  if (enabled)
    self->cache = icecam_gop_cache_new (ICECAM_GOP_CACHE_MAX_BYTES);
  self->cache_func = func;
  self->cache_data = data;
}

/* A copy of the current array without @peer; called with the lock. */
static GPtrArray *
copy_without (IcecamFanout *self, IcecamPeerSession *peer)
{
  GPtrArray *copy = receivers_new ();

  for (guint i = 0; i < self->receivers->len; i++) {
    Receiver *receiver = g_ptr_array_index (self->receivers, i);

    if (receiver->peer != peer)
      g_ptr_array_add (copy, g_atomic_rc_box_acquire (receiver));
  }
  return copy;
}

static void
replace (IcecamFanout *self, GPtrArray *receivers)
{
  g_ptr_array_unref (self->receivers);
  self->receivers = receivers;
}

/**
 * icecam_fanout_add:
 * @peer: a session that gets the packets from now on (sent only while it is CONNECTED)
 * @from_keyframe: start it at the next packet that starts a keyframe
 *
 * Adds @peer again if it is there already (its start is reset).
 */
void
icecam_fanout_add (IcecamFanout *self, IcecamPeerSession *peer, gboolean from_keyframe)
{
  Receiver *receiver = g_atomic_rc_box_new0 (Receiver);
  GPtrArray *receivers;

  receiver->peer = g_object_ref (peer);
  receiver->started = !from_keyframe;
  g_mutex_lock (&self->lock);
  receivers = copy_without (self, peer);
  g_ptr_array_add (receivers, receiver);
  replace (self, receivers);
  g_mutex_unlock (&self->lock);
}

/**
 * icecam_fanout_remove:
 * @peer: a session that gets no more packets
 */
void
icecam_fanout_remove (IcecamFanout *self, IcecamPeerSession *peer)
{
  g_mutex_lock (&self->lock);
  replace (self, copy_without (self, peer));
  g_mutex_unlock (&self->lock);
}

/**
 * icecam_fanout_clear:
 *
 * Removes every receiver.
 */
void
icecam_fanout_clear (IcecamFanout *self)
{
  g_mutex_lock (&self->lock);
  replace (self, receivers_new ());
  g_mutex_unlock (&self->lock);
}

guint
icecam_fanout_get_n_peers (IcecamFanout *self)
{
  guint n;

  g_mutex_lock (&self->lock);
  n = self->receivers->len;
  g_mutex_unlock (&self->lock);
  return n;
}

static gsize
message_length (const NiceOutputMessage *message)
{
  gsize length = 0;

  for (gint j = 0; message->n_buffers < 0 ? message->buffers[j].buffer != NULL
                                          : j < message->n_buffers; j++)
    length += message->buffers[j].size;
  return length;
}

/* Gathers each message into one contiguous packet: SRTP protects whole packets. */
static const guint8 **
flatten_messages (const NiceOutputMessage *messages, guint n_messages, gsize *lengths,
                  guint8 **storage)
{
  const guint8 **packets = g_new (const guint8 *, n_messages);
  gsize total = 0;
  guint8 *at;

  for (guint i = 0; i < n_messages; i++) {
    lengths[i] = message_length (&messages[i]);
    if (messages[i].n_buffers != 1)
      total += lengths[i];
  }
  *storage = at = total > 0 ? g_malloc (total) : NULL;
  for (guint i = 0; i < n_messages; i++) {
    if (messages[i].n_buffers == 1) {
      packets[i] = messages[i].buffers[0].buffer;
      continue;
    }
    packets[i] = at;
    for (gint j = 0; messages[i].n_buffers < 0 ? messages[i].buffers[j].buffer != NULL
                                               : j < messages[i].n_buffers; j++) {
      memcpy (at, messages[i].buffers[j].buffer, messages[i].buffers[j].size);
      at += messages[i].buffers[j].size;
    }
  }
  return packets;
}

static gboolean
start_from_cache (IcecamFanout *self, Receiver *receiver)
{
  guint n_packets = 0, span_ms = 0;

  if (!icecam_gop_cache_start (self->cache, &receiver->cursor, g_get_monotonic_time (),
                               &n_packets, &span_ms))
    return FALSE;
  if (self->cache_func != NULL)
    self->cache_func (receiver->peer, n_packets, span_ms, self->cache_data);
  return TRUE;
}

/* Sends @receiver what the pacing allows of the cache, in batches that fit the stack.
 * Returns: %FALSE if its group was lost and it must wait for a keyframe in the live packets;
 * else the live packets of this call were pushed to the cache and are sent from there */
static gboolean
send_cached (IcecamFanout *self, Receiver *receiver)
{
  g_autoptr (GPtrArray) batch = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  IcecamGopCursorState state = icecam_gop_cache_take (self->cache, &receiver->cursor,
                                                      g_get_monotonic_time (), batch);
  const guint8 *packets[64];
  gsize lengths[64];
  gsize room = 0;
  g_autofree guint8 *scratch = NULL;

  for (guint i = 0; i < batch->len; i++)
    room = MAX (room, g_bytes_get_size (g_ptr_array_index (batch, i)) + ICECAM_SRTP_MAX_OVERHEAD);
  scratch = g_malloc (room * G_N_ELEMENTS (packets) + 1);
  for (guint i = 0; i < batch->len; i += G_N_ELEMENTS (packets)) {
    guint n = MIN (batch->len - i, G_N_ELEMENTS (packets));

    for (guint j = 0; j < n; j++)
      packets[j] = g_bytes_get_data (g_ptr_array_index (batch, i + j), &lengths[j]);
    icecam_peer_session_send_rtp (receiver->peer, packets, lengths, n, scratch, room);
  }
  if (state == ICECAM_GOP_CURSOR_CATCHING_UP)
    return TRUE;
  icecam_gop_cursor_clear (&receiver->cursor);
  if (state == ICECAM_GOP_CURSOR_LIVE)
    return TRUE;
  /* Lost its group: like a new receiver without a cache, it waits for the next keyframe. */
  g_atomic_int_set (&receiver->started, FALSE);
  return FALSE;
}

/* A receiver on the reduced stream (or renumbered since): see IcecamReducedStream. */
static void
send_reduced (Receiver *receiver, const guint8 * const *packets, const gsize *lengths,
              guint n_packets, guint8 *scratch, gsize room)
{
  g_autofree guint8 *copies = g_malloc (room * n_packets);
  g_autofree const guint8 **out = g_new (const guint8 *, n_packets);
  g_autofree gsize *out_lengths = g_new (gsize, n_packets);
  guint n_out = icecam_reduced_stream_filter (&receiver->reduced, packets, lengths, n_packets,
                                              copies, room, out, out_lengths);

  if (n_out > 0)
    icecam_peer_session_send_rtp (receiver->peer, out, out_lengths, n_out, scratch, room);
}

/* Called with the lock. */
static Receiver *
find_receiver (IcecamFanout *self, IcecamPeerSession *peer)
{
  for (guint i = 0; i < self->receivers->len; i++) {
    Receiver *receiver = g_ptr_array_index (self->receivers, i);

    if (receiver->peer == peer)
      return receiver;
  }
  return NULL;
}

/**
 * icecam_fanout_set_reduced:
 * @reduced: whether @peer gets keyframes only (from its next keyframe on) or, again, the
 *   full stream (also from the next keyframe)
 */
void
icecam_fanout_set_reduced (IcecamFanout *self, IcecamPeerSession *peer, gboolean reduced)
{
  Receiver *receiver;

  g_mutex_lock (&self->lock);
  receiver = find_receiver (self, peer);
  if (receiver != NULL)
    icecam_reduced_stream_set_wanted (&receiver->reduced, reduced);
  g_mutex_unlock (&self->lock);
}

/**
 * icecam_fanout_get_renumbering:
 * @seq_offset: (out): what to add to @peer's sequence numbers to get the camera's
 *
 * Returns: whether @peer is on the reduced stream (it gets no retransmissions)
 */
gboolean
icecam_fanout_get_renumbering (IcecamFanout *self, IcecamPeerSession *peer, guint16 *seq_offset)
{
  Receiver *receiver;
  gboolean reduced = FALSE;

  *seq_offset = 0;
  g_mutex_lock (&self->lock);
  receiver = find_receiver (self, peer);
  if (receiver != NULL) {
    reduced = icecam_reduced_stream_is_active (&receiver->reduced);
    *seq_offset = icecam_reduced_stream_to_camera_seq (&receiver->reduced, 0);
  }
  g_mutex_unlock (&self->lock);
  return reduced;
}

/**
 * icecam_fanout_send:
 * @messages: (array length=n_messages): RTP packets
 *
 * Protects the packets with each receiver's SRTP keys and sends them to every receiver (that
 * has reached a keyframe, where it waits for one). Thread-safe; never blocks.
 *
 * Returns: the number of receivers
 */
guint
icecam_fanout_send (IcecamFanout *self, const NiceOutputMessage *messages, guint n_messages)
{
  g_autoptr (GPtrArray) receivers = NULL;
  g_autofree gsize *lengths = NULL;
  g_autofree const guint8 **packets = NULL;
  g_autofree guint8 *flat = NULL;
  g_autofree guint8 *scratch = NULL;
  gsize room = 0;

  g_mutex_lock (&self->lock);
  receivers = g_ptr_array_ref (self->receivers);
  g_mutex_unlock (&self->lock);
  /* The cache fills also while nobody watches: the first viewer starts from it too. */
  if ((receivers->len == 0 && self->cache == NULL) || n_messages == 0)
    return receivers->len;

  lengths = g_new (gsize, n_messages);
  packets = flatten_messages (messages, n_messages, lengths, &flat);
  if (self->cache != NULL)
    icecam_gop_cache_push (self->cache, packets, lengths, n_messages);
  if (receivers->len == 0)
    return 0;
  for (guint i = 0; i < n_messages; i++)
    room = MAX (room, lengths[i] + ICECAM_SRTP_MAX_OVERHEAD);
  scratch = g_malloc (room * n_messages);

  /* Encoded once; the ciphertext differs per receiver (each has its own keys). */
  for (guint r = 0; r < receivers->len; r++) {
    Receiver *receiver = g_ptr_array_index (receivers, r);
    guint first = 0;

    if (!g_atomic_int_get (&receiver->started) && self->cache != NULL &&
        start_from_cache (self, receiver))
      g_atomic_int_set (&receiver->started, TRUE);
    /* Catching up: this call's packets are in the cache, behind those it gets now. */
    if (receiver->cursor.gop != NULL && send_cached (self, receiver))
      continue;
    /* A receiver that has not reached a keyframe yet starts at the first packet of one. */
    if (!g_atomic_int_get (&receiver->started)) {
      while (first < n_messages && !icecam_rtp_h264_starts_keyframe (packets[first],
                                                                      lengths[first]))
        first++;
      if (first == n_messages)
        continue;
      g_atomic_int_set (&receiver->started, TRUE);
    }
    if (icecam_reduced_stream_needed (&receiver->reduced)) {
      send_reduced (receiver, packets + first, lengths + first, n_messages - first, scratch,
                    room);
      continue;
    }
    icecam_peer_session_send_rtp (receiver->peer, packets + first, lengths + first,
                                  n_messages - first, scratch, room);
  }
  return receivers->len;
}

/**
 * icecam_fanout_send_ungated:
 * @messages: (array length=n_messages): RTP packets of a stream that needs no keyframe (audio)
 *
 * Sends the packets to every receiver at once, whether or not its video has started; they do
 * not go into the GOP cache. Thread-safe; never blocks.
 *
 * Returns: the number of receivers
 */
guint
icecam_fanout_send_ungated (IcecamFanout *self, const NiceOutputMessage *messages,
                            guint n_messages)
{
  g_autoptr (GPtrArray) receivers = NULL;
  g_autofree gsize *lengths = NULL;
  g_autofree const guint8 **packets = NULL;
  g_autofree guint8 *flat = NULL;
  g_autofree guint8 *scratch = NULL;
  gsize room = 0;

  g_mutex_lock (&self->lock);
  receivers = g_ptr_array_ref (self->receivers);
  g_mutex_unlock (&self->lock);
  if (receivers->len == 0 || n_messages == 0)
    return receivers->len;
  lengths = g_new (gsize, n_messages);
  packets = flatten_messages (messages, n_messages, lengths, &flat);
  for (guint i = 0; i < n_messages; i++)
    room = MAX (room, lengths[i] + ICECAM_SRTP_MAX_OVERHEAD);
  scratch = g_malloc (room * n_messages);
  for (guint r = 0; r < receivers->len; r++) {
    Receiver *receiver = g_ptr_array_index (receivers, r);

    icecam_peer_session_send_rtp (receiver->peer, packets, lengths, n_messages, scratch, room);
  }
  return receivers->len;
}
