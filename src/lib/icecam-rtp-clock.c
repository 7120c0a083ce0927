/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IcecamRtpClock: the latest (RTP timestamp, time) pair of each source, shared between
 * threads (the streaming thread notes, the sessions' report timers read). */

#include "icecam-rtp-clock.h"

typedef struct {
  guint32 ssrc;
  guint32 rtp_timestamp;
  gint64 time_us;
} Entry;

struct _IcecamRtpClock {
  gint ref_count;
  GMutex lock;
  Entry entries[ICECAM_RTP_CLOCK_MAX_SOURCES];
  guint n_entries;
  guint next_evicted; /* a full table forgets its entries round robin */
};

IcecamRtpClock *
icecam_rtp_clock_new (void)
{
  IcecamRtpClock *self = g_new0 (IcecamRtpClock, 1);

  self->ref_count = 1;
  g_mutex_init (&self->lock);
  return self;
}

IcecamRtpClock *
icecam_rtp_clock_ref (IcecamRtpClock *self)
{
  g_atomic_int_inc (&self->ref_count);
  return self;
}

void
icecam_rtp_clock_unref (IcecamRtpClock *self)
{
  if (self == NULL || !g_atomic_int_dec_and_test (&self->ref_count))
    return;
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* Thread-safe. */
void
icecam_rtp_clock_note (IcecamRtpClock *self, guint32 ssrc, guint32 rtp_timestamp, gint64 time_us)
{
  Entry *entry = NULL;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->n_entries && entry == NULL; i++) {
    if (self->entries[i].ssrc == ssrc)
      entry = &self->entries[i];
  }
  if (entry == NULL) {
    if (self->n_entries < ICECAM_RTP_CLOCK_MAX_SOURCES) {
      entry = &self->entries[self->n_entries++];
    } else {
      entry = &self->entries[self->next_evicted];
      self->next_evicted = (self->next_evicted + 1) % ICECAM_RTP_CLOCK_MAX_SOURCES;
    }
    entry->ssrc = ssrc;
  }
  entry->rtp_timestamp = rtp_timestamp;
  entry->time_us = time_us;
  g_mutex_unlock (&self->lock);
}

/* Thread-safe. FALSE when @ssrc was never noted. */
gboolean
icecam_rtp_clock_lookup (IcecamRtpClock *self, guint32 ssrc, guint32 *rtp_timestamp,
                         gint64 *time_us)
{
  gboolean found = FALSE;

  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->n_entries && !found; i++) {
    if (self->entries[i].ssrc == ssrc) {
      *rtp_timestamp = self->entries[i].rtp_timestamp;
      *time_us = self->entries[i].time_us;
      found = TRUE;
    }
  }
  g_mutex_unlock (&self->lock);
  return found;
}

void
icecam_rtp_clock_clear (IcecamRtpClock *self)
{
  g_mutex_lock (&self->lock);
  self->n_entries = 0;
  self->next_evicted = 0;
  g_mutex_unlock (&self->lock);
}

/* The time of @rtp_timestamp, from a reference pair of the same source: timestamps within
 * 2^31 ticks of the reference, before or after it (RFC 3550 wraps them). */
gint64
icecam_rtp_clock_time_of (guint32 reference_timestamp, gint64 reference_us,
                          guint32 rtp_timestamp, guint32 clock_rate)
{
  gint32 ticks = (gint32) (rtp_timestamp - reference_timestamp);

  if (clock_rate == 0)
    return reference_us;
  return reference_us + (gint64) ticks * G_USEC_PER_SEC / (gint64) clock_rate;
}

/* The RTP timestamp at @time_us, from a reference pair of the same source. */
guint32
icecam_rtp_clock_timestamp_at (guint32 reference_timestamp, gint64 reference_us,
                               gint64 time_us, guint32 clock_rate)
{
  gint64 ticks = (time_us - reference_us) * (gint64) clock_rate / G_USEC_PER_SEC;

  return reference_timestamp + (guint32) ticks; /* modulo 2^32, as RTP timestamps wrap */
}

/* Microseconds since 1970 of an NTP timestamp (seconds since 1900, 32.32 fixed point). */
gint64
icecam_rtp_clock_unix_us_from_ntp (guint64 ntp_time)
{
  gint64 seconds = (gint64) (ntp_time >> 32) - G_GINT64_CONSTANT (2208988800);
  gint64 fraction_us = (gint64) (((ntp_time & 0xffffffff) * G_USEC_PER_SEC) >> 32);

  return seconds * G_USEC_PER_SEC + fraction_us;
}
