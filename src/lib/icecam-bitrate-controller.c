/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Congestion control for one shared encoder: a bandwidth estimate per viewer from its receiver
 * reports, and the encoder's target between a minimum and a maximum. */

#include "icecam-bitrate-controller.h"

/* Loss-based part (the thresholds of draft-ietf-rmcat-gcc 6): over 10 % lost the estimate
 * drops by half the loss, under 2 % it may grow, in between it holds. */
#define LOSS_HIGH 0.10
#define LOSS_LOW 0.02
/* Delay-based part: a round trip this far over the path's smallest one means a queue is
 * building: back off below what is getting through, before the queue overflows. */
#define QUEUE_DELAY_HIGH_MS 100
#define QUEUE_DELAY_LOW_MS 40
#define DELAY_BACKOFF 0.85
/* Growth per report (about 2 a second): +8 %, so 5x takes about 10 s. */
#define INCREASE 1.08
/* After a decrease, no increase for this long: the queue needs a round trip to drain. */
#define HOLD_US (1500 * 1000)
/* The smallest round trip is forgotten after this long (a route may change). */
#define MIN_RTT_WINDOW_US (30 * G_USEC_PER_SEC)
/* A viewer whose estimate is under this share of the best one's is "far below the others". */
#define FAR_BELOW 0.5

/**
 * IcecamBitrateController:
 *
 * One estimate per viewer, updated by each of its receiver reports: loss (the report's
 * fraction lost) and queueing delay (the round trip from the report's LSR/DLSR against the
 * smallest seen) lower it, a clean path lets it grow. The encoder's target is the smallest
 * estimate of the viewers that are not far below the best one, within [min, max]: a viewer
 * that reports absurd figures can lower only its own estimate under the honest viewers' (and
 * is then set apart), and can never raise the target over the maximum.
 *
 * Thread-safe (reports arrive in the endpoint's context, the encoder reads the target from
 * the streaming thread).
 */
typedef struct {
  gdouble estimate_kbps;
  guint sent_kbps;
  gint rtt_ms;
  gdouble loss;
  gboolean reduced;
  guint64 last_bytes;
  gint64 last_report;      /* monotonic µs */
  gint64 hold_until;
  gint min_rtt_ms;
  gint64 min_rtt_time;
} Viewer;

struct _IcecamBitrateController {
  GMutex lock;
  guint min_kbps, max_kbps;
  gboolean enabled;
  GHashTable *viewers; /* key -> Viewer */
  guint target_kbps;
};

static void update_target (IcecamBitrateController *self);

IcecamBitrateController *
icecam_bitrate_controller_new (guint min_kbps, guint max_kbps)
{
  IcecamBitrateController *self = g_new0 (IcecamBitrateController, 1);

  g_mutex_init (&self->lock);
  self->viewers = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  self->enabled = TRUE;
  self->min_kbps = MIN (min_kbps, max_kbps);
  self->max_kbps = max_kbps;
  self->target_kbps = max_kbps;
  return self;
}

void
icecam_bitrate_controller_free (IcecamBitrateController *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->viewers);
  g_mutex_clear (&self->lock);
  g_free (self);
}

void
icecam_bitrate_controller_set_limits (IcecamBitrateController *self, guint min_kbps,
                                      guint max_kbps)
{
  g_mutex_lock (&self->lock);
  self->min_kbps = MIN (min_kbps, max_kbps);
  self->max_kbps = max_kbps;
  update_target (self);
  g_mutex_unlock (&self->lock);
}

/**
 * icecam_bitrate_controller_set_enabled:
 *
 * Disabled, the target stays at the maximum and no viewer is reduced; the estimates are
 * still kept (for the stats).
 */
void
icecam_bitrate_controller_set_enabled (IcecamBitrateController *self, gboolean enabled)
{
  g_mutex_lock (&self->lock);
  self->enabled = enabled;
  update_target (self);
  g_mutex_unlock (&self->lock);
}

void
icecam_bitrate_controller_add_viewer (IcecamBitrateController *self, gconstpointer viewer)
{
  Viewer *v = g_new0 (Viewer, 1);

  g_mutex_lock (&self->lock);
  v->estimate_kbps = self->max_kbps;
  v->rtt_ms = -1;
  v->min_rtt_ms = -1;
  g_hash_table_replace (self->viewers, (gpointer) viewer, v);
  update_target (self);
  g_mutex_unlock (&self->lock);
}

void
icecam_bitrate_controller_remove_viewer (IcecamBitrateController *self, gconstpointer viewer)
{
  g_mutex_lock (&self->lock);
  g_hash_table_remove (self->viewers, viewer);
  update_target (self);
  g_mutex_unlock (&self->lock);
}

/* The round trip of RFC 3550 6.4.1: now - LSR - DLSR, in 1/65536 s; -1 if there is none or
 * it is absurd. */
static gint
round_trip_ms (const IcecamRtcpReportBlock *block, guint64 ntp_now)
{
  guint32 now_mid = (guint32) (ntp_now >> 16);
  guint32 rtt;

  if (block->lsr == 0)
    return -1;
  rtt = now_mid - block->lsr - block->dlsr;
  if (rtt > 65536 * 10) /* over 10 s, or "negative": a broken or hostile report */
    return -1;
  return (gint) ((guint64) rtt * 1000 / 65536);
}

/* Called with the lock. */
static void
estimate (IcecamBitrateController *self, Viewer *v, gint64 now)
{
  gdouble received_kbps = v->sent_kbps * (1 - v->loss);
  gint queue_ms = v->rtt_ms >= 0 && v->min_rtt_ms >= 0 ? v->rtt_ms - v->min_rtt_ms : 0;

  if (v->loss > LOSS_HIGH) {
    v->estimate_kbps = MIN (v->estimate_kbps, v->sent_kbps) * (1 - 0.5 * v->loss);
    v->hold_until = now + HOLD_US;
  } else if (queue_ms > QUEUE_DELAY_HIGH_MS) {
    if (now >= v->hold_until || received_kbps * DELAY_BACKOFF < v->estimate_kbps * 0.9) {
      v->estimate_kbps = MIN (v->estimate_kbps, received_kbps * DELAY_BACKOFF);
      v->hold_until = now + HOLD_US;
    }
  } else if (v->loss < LOSS_LOW && queue_ms < QUEUE_DELAY_LOW_MS && now >= v->hold_until) {
    v->estimate_kbps *= INCREASE;
  }
  v->estimate_kbps = CLAMP (v->estimate_kbps, 16, self->max_kbps);
}

/**
 * icecam_bitrate_controller_report:
 * @viewer: its key
 * @block: its report block about the camera's stream
 * @bytes_sent: everything sent to it so far, media and retransmissions
 * @ntp_now: the camera's wall clock now, NTP format (for the round trip)
 * @now: monotonic µs
 */
void
icecam_bitrate_controller_report (IcecamBitrateController *self, gconstpointer viewer,
                                  const IcecamRtcpReportBlock *block, guint64 bytes_sent,
                                  guint64 ntp_now, gint64 now)
{
  Viewer *v;

  g_mutex_lock (&self->lock);
  v = g_hash_table_lookup (self->viewers, viewer);
  if (v == NULL) {
    g_mutex_unlock (&self->lock);
    return;
  }
  if (v->last_report != 0 && now - v->last_report >= 100 * 1000 && bytes_sent >= v->last_bytes)
    v->sent_kbps = (guint) ((bytes_sent - v->last_bytes) * 8 * 1000 /
                            (guint64) (now - v->last_report));
  else if (v->last_report != 0)
    goto out; /* too soon after the previous one to say anything */
  v->last_bytes = bytes_sent;
  v->last_report = now;
  v->loss = block->fraction_lost / 256.0;
  v->rtt_ms = round_trip_ms (block, ntp_now);
  if (v->rtt_ms >= 0 && (v->min_rtt_ms < 0 || v->rtt_ms <= v->min_rtt_ms ||
                         now - v->min_rtt_time > MIN_RTT_WINDOW_US)) {
    v->min_rtt_ms = v->rtt_ms;
    v->min_rtt_time = now;
  }
  if (v->sent_kbps > 0)
    estimate (self, v, now);
  update_target (self);
out:
  g_mutex_unlock (&self->lock);
}

/* Called with the lock. */
static void
update_target (IcecamBitrateController *self)
{
  GHashTableIter iter;
  Viewer *v;
  gdouble best = 0, target = G_MAXDOUBLE;

  g_hash_table_iter_init (&iter, self->viewers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &v))
    best = MAX (best, v->estimate_kbps);
  g_hash_table_iter_init (&iter, self->viewers);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &v)) {
    v->reduced = self->enabled && g_hash_table_size (self->viewers) > 1 &&
                 (v->estimate_kbps < FAR_BELOW * best || v->estimate_kbps < self->min_kbps);
    if (!v->reduced)
      target = MIN (target, v->estimate_kbps);
  }
  if (!self->enabled || target == G_MAXDOUBLE)
    target = self->max_kbps;
  self->target_kbps = (guint) CLAMP (target, self->min_kbps, self->max_kbps);
}

guint
icecam_bitrate_controller_get_target_kbps (IcecamBitrateController *self)
{
  guint target;

  g_mutex_lock (&self->lock);
  target = self->target_kbps;
  g_mutex_unlock (&self->lock);
  return target;
}

gboolean
icecam_bitrate_controller_get_viewer (IcecamBitrateController *self, gconstpointer viewer,
                                      IcecamViewerRate *rate)
{
  Viewer *v;

  g_mutex_lock (&self->lock);
  v = g_hash_table_lookup (self->viewers, viewer);
  if (v != NULL) {
    rate->estimate_kbps = (guint) v->estimate_kbps;
    rate->sent_kbps = v->sent_kbps;
    rate->rtt_ms = v->rtt_ms;
    rate->loss = v->loss;
    rate->reduced = v->reduced;
  }
  g_mutex_unlock (&self->lock);
  return v != NULL;
}
