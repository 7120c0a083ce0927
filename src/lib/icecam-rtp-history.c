/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The camera's short memory of the RTP packets it sent, shared by all viewers, for
 * retransmissions. */

#include "icecam-rtp-history.h"

#include <string.h>

/**
 * IcecamRtpHistory:
 *
 * One ring of the last %ICECAM_RTP_HISTORY_SLOTS packets the encoder's stream carried, indexed
 * by sequence number, whatever the number of viewers: a packet is kept once, in plain text,
 * and protected again for the viewer that asks for it. At most
 * %ICECAM_RTP_HISTORY_SLOTS × %ICECAM_RTP_HISTORY_MAX_PACKET bytes, allocated as packets come.
 * It also measures the stream's rate, which bounds what each viewer may have resent.
 *
 * Thread-safe: pushed from the streaming thread, read where NACKs arrive.
 */
struct _IcecamRtpHistory {
  GMutex lock;
  struct {
    guint8 *data; /* ICECAM_RTP_HISTORY_MAX_PACKET bytes, or NULL until first used */
    gsize length; /* 0: empty */
    guint16 seq;
    gint64 sent;  /* monotonic µs */
  } slots[ICECAM_RTP_HISTORY_SLOTS];
  gint64 window_start; /* rate: bytes in the current second, and in the one before */
  guint64 window_bytes;
  guint64 last_window_bytes;
};

IcecamRtpHistory *
icecam_rtp_history_new (void)
{
  IcecamRtpHistory *self = g_new0 (IcecamRtpHistory, 1);

  g_mutex_init (&self->lock);
  return self;
}

void
icecam_rtp_history_free (IcecamRtpHistory *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < ICECAM_RTP_HISTORY_SLOTS; i++)
    g_free (self->slots[i].data);
  g_mutex_clear (&self->lock);
  g_free (self);
}

static gsize
gather (const NiceOutputMessage *message, guint8 *out)
{
  gsize length = 0;

  for (gint j = 0; message->n_buffers < 0 ? message->buffers[j].buffer != NULL
                                          : j < message->n_buffers; j++) {
    if (length + message->buffers[j].size > ICECAM_RTP_HISTORY_MAX_PACKET)
      return 0;
    memcpy (out + length, message->buffers[j].buffer, message->buffers[j].size);
    length += message->buffers[j].size;
  }
  return length;
}

/* Called with the lock. */
static void
count_bytes (IcecamRtpHistory *self, gsize bytes, gint64 now)
{
  if (now - self->window_start >= G_USEC_PER_SEC) {
    /* A silent second in between leaves nothing to go on. */
    self->last_window_bytes = now - self->window_start < 2 * G_USEC_PER_SEC
                                ? self->window_bytes : 0;
    self->window_bytes = 0;
    self->window_start = now;
  }
  self->window_bytes += bytes;
}

/**
 * icecam_rtp_history_push:
 * @messages: (array length=n_messages): RTP packets as sent
 * @now: monotonic µs
 *
 * Keeps the packets, each in the slot of its sequence number (the older packet there goes).
 * Packets too short to be RTP or longer than %ICECAM_RTP_HISTORY_MAX_PACKET are not kept.
 */
void
icecam_rtp_history_push (IcecamRtpHistory *self, const NiceOutputMessage *messages,
                         guint n_messages, gint64 now)
{
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < n_messages; i++) {
    guint8 packet[ICECAM_RTP_HISTORY_MAX_PACKET];
    gsize length = gather (&messages[i], packet);
    guint16 seq;

    if (length < 12)
      continue;
    seq = (guint16) ((packet[2] << 8) | packet[3]);
    if (self->slots[seq % ICECAM_RTP_HISTORY_SLOTS].data == NULL)
      self->slots[seq % ICECAM_RTP_HISTORY_SLOTS].data = g_malloc (ICECAM_RTP_HISTORY_MAX_PACKET);
    memcpy (self->slots[seq % ICECAM_RTP_HISTORY_SLOTS].data, packet, length);
    self->slots[seq % ICECAM_RTP_HISTORY_SLOTS].length = length;
    self->slots[seq % ICECAM_RTP_HISTORY_SLOTS].seq = seq;
    self->slots[seq % ICECAM_RTP_HISTORY_SLOTS].sent = now;
    count_bytes (self, length, now);
  }
  g_mutex_unlock (&self->lock);
}

/**
 * icecam_rtp_history_copy:
 * @seq: the sequence number asked for
 * @now: monotonic µs
 * @out: (out caller-allocates): room for %ICECAM_RTP_HISTORY_MAX_PACKET bytes
 * @length: (out): the packet's length
 *
 * Returns: whether the packet was sent less than %ICECAM_RTP_HISTORY_MAX_AGE_US ago and is
 *   still kept
 */
gboolean
icecam_rtp_history_copy (IcecamRtpHistory *self, guint16 seq, gint64 now, guint8 *out,
                         gsize *length)
{
  gboolean found;

  g_mutex_lock (&self->lock);
  found = self->slots[seq % ICECAM_RTP_HISTORY_SLOTS].length > 0 &&
          self->slots[seq % ICECAM_RTP_HISTORY_SLOTS].seq == seq &&
          now - self->slots[seq % ICECAM_RTP_HISTORY_SLOTS].sent < ICECAM_RTP_HISTORY_MAX_AGE_US;
  if (found) {
    *length = self->slots[seq % ICECAM_RTP_HISTORY_SLOTS].length;
    memcpy (out, self->slots[seq % ICECAM_RTP_HISTORY_SLOTS].data, *length);
  }
  g_mutex_unlock (&self->lock);
  return found;
}

/**
 * icecam_rtp_history_get_rate:
 * @now: monotonic µs
 *
 * Returns: bytes per second of the stream over the last full second (0 after a silence)
 */
guint64
icecam_rtp_history_get_rate (IcecamRtpHistory *self, gint64 now)
{
  guint64 rate;

  g_mutex_lock (&self->lock);
  rate = now - self->window_start < 2 * G_USEC_PER_SEC ? self->last_window_bytes : 0;
  if (rate == 0 && now - self->window_start < G_USEC_PER_SEC)
    rate = self->window_bytes; /* the first second: what came so far */
  g_mutex_unlock (&self->lock);
  return rate;
}
