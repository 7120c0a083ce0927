/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One viewer's retransmissions: NACKs answered from the shared history as RTX, within a cap. */

#include "icecam-retransmitter.h"

#include "icecam-rtcp-feedback.h"

/* The same packet is not resent to one viewer twice within this: the first copy is on its
 * way (a NACK repeated before the round trip is over). */
#define REPEAT_GUARD_US (40 * 1000)
#define RECENT_SLOTS 256
/* The bucket holds at most this much of the viewer's rate: a burst after a loss. */
#define BURST_S 0.5

/**
 * IcecamRetransmitter:
 *
 * The per-viewer half of loss repair (RFC 4588 session multiplexing: the RTX stream has its
 * own payload type and SSRC, and its own sequence numbers per viewer, so a viewer's SRTP
 * replay window sees a stream without gaps). What a viewer may have resent is a token bucket
 * filled at %ICECAM_RETRANSMIT_SHARE of the stream's measured rate: a viewer that NACKs
 * everything gets its share and no more, and never slows the others, whose packets go out
 * from the streaming thread, not from here.
 *
 * Answer from the thread the viewer's RTCP arrives in; the stats from any thread.
 */
struct _IcecamRetransmitter {
  GMutex lock;
  guint16 rtx_seq;
  gdouble tokens;   /* bytes */
  guint64 ceiling;  /* bytes per second at most, whatever the stream's rate; 0: none */
  gint64 refilled;  /* monotonic µs */
  struct {
    guint16 seq;
    gint64 when;
  } recent[RECENT_SLOTS];
  IcecamRetransmitStats stats;
};

IcecamRetransmitter *
icecam_retransmitter_new (void)
{
  IcecamRetransmitter *self = g_new0 (IcecamRetransmitter, 1);

  g_mutex_init (&self->lock);
  self->rtx_seq = (guint16) g_random_int ();
  return self;
}

void
icecam_retransmitter_free (IcecamRetransmitter *self)
{
  if (self == NULL)
    return;
  g_mutex_clear (&self->lock);
  g_free (self);
}

static void
refill (IcecamRetransmitter *self, guint64 stream_rate, gint64 now)
{
  gdouble rate = MAX (ICECAM_RETRANSMIT_SHARE * (gdouble) stream_rate,
                      ICECAM_RETRANSMIT_FLOOR_BYTES_PER_S);

  if (self->ceiling != 0)
    rate = MIN (rate, MAX ((gdouble) self->ceiling, ICECAM_RETRANSMIT_FLOOR_BYTES_PER_S));

  if (self->refilled == 0)
    self->tokens = rate * BURST_S;
  else
    self->tokens = MIN (rate * BURST_S,
                        self->tokens + rate * (gdouble) (now - self->refilled) / G_USEC_PER_SEC);
  self->refilled = now;
}

/* Whether @seq may go out now; called with the lock. */
static gboolean
admit (IcecamRetransmitter *self, guint16 seq, gsize length, gint64 now)
{
  guint slot = seq % RECENT_SLOTS;

  if (self->recent[slot].when != 0 && self->recent[slot].seq == seq &&
      now - self->recent[slot].when < REPEAT_GUARD_US)
    return FALSE;
  if (self->tokens < (gdouble) length)
    return FALSE;
  self->tokens -= (gdouble) length;
  self->recent[slot].seq = seq;
  self->recent[slot].when = now;
  return TRUE;
}

/**
 * icecam_retransmitter_answer:
 * @history: the camera's packets
 * @seq_offset: what to add to the viewer's sequence numbers to get the camera's (see
 *   IcecamReducedStream; 0 for a viewer whose stream was never renumbered)
 * @rtcp: (array length=length): a plain compound RTCP packet from the viewer
 * @send: protects and sends one packet to the viewer
 *
 * Resends, as RTX, each packet a generic NACK in @rtcp names that the history still holds, in
 * the order asked, as far as the viewer's cap allows.
 *
 * Returns: the number of packets resent
 */
guint
icecam_retransmitter_answer (IcecamRetransmitter *self, IcecamRtpHistory *history,
                             guint rtx_payload_type, guint32 rtx_ssrc, guint16 seq_offset,
                             const guint8 *rtcp, gsize length, IcecamRetransmitSendFunc send,
                             gpointer user_data)
{
  guint16 seqs[ICECAM_RTCP_MAX_NACKED];
  guint n = icecam_rtcp_parse_nacks (rtcp, length, seqs, G_N_ELEMENTS (seqs));
  gint64 now = g_get_monotonic_time ();
  guint64 stream_rate;
  guint sent = 0;

  if (n == 0)
    return 0;
  stream_rate = icecam_rtp_history_get_rate (history, now);
  for (guint i = 0; i < n; i++) {
    guint8 plain[ICECAM_RTP_HISTORY_MAX_PACKET];
    guint8 rtx[ICECAM_RTP_HISTORY_MAX_PACKET + 2];
    gsize plain_length, rtx_length = sizeof rtx;
    gboolean ok;

    if (!icecam_rtp_history_copy (history, (guint16) (seqs[i] + seq_offset), now, plain,
                                  &plain_length)) {
      g_mutex_lock (&self->lock);
      self->stats.nacked++;
      self->stats.missing++;
      g_mutex_unlock (&self->lock);
      continue;
    }
    /* The original sequence number as the viewer knows it goes into the RTX payload. */
    plain[2] = (guint8) (seqs[i] >> 8);
    plain[3] = (guint8) seqs[i];
    g_mutex_lock (&self->lock);
    self->stats.nacked++;
    refill (self, stream_rate, now);
    ok = admit (self, seqs[i], plain_length + 2, now) &&
         icecam_rtx_wrap (plain, plain_length, rtx_payload_type, rtx_ssrc, self->rtx_seq, rtx,
                          &rtx_length);
    if (ok)
      self->rtx_seq++;
    else
      self->stats.refused++;
    g_mutex_unlock (&self->lock);
    if (!ok || !send (rtx, rtx_length, user_data))
      continue;
    g_mutex_lock (&self->lock);
    self->stats.sent++;
    self->stats.bytes += rtx_length;
    g_mutex_unlock (&self->lock);
    sent++;
  }
  return sent;
}

/**
 * icecam_retransmitter_set_ceiling:
 * @bytes_per_s: what the viewer may have resent at most, whatever the stream's rate (from its
 *   bandwidth estimate); 0: no ceiling
 */
void
icecam_retransmitter_set_ceiling (IcecamRetransmitter *self, guint64 bytes_per_s)
{
  g_mutex_lock (&self->lock);
  self->ceiling = bytes_per_s;
  g_mutex_unlock (&self->lock);
}

void
icecam_retransmitter_get_stats (IcecamRetransmitter *self, IcecamRetransmitStats *stats)
{
  g_mutex_lock (&self->lock);
  *stats = self->stats;
  g_mutex_unlock (&self->lock);
}
