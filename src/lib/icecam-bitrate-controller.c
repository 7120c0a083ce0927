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
#define QUEUE_DELAY_HIGH_MS 60
#define QUEUE_DELAY_LOW_MS 40
#define BACKOFF 0.85
/* A decrease never goes below this share of the estimate at once: reports lag the path by a
 * queue and a report interval, and the loss they show may already be over. Not a half: a
 * 5 -> 0.8 Mbit/s drop then needs two cuts a round trip apart, while the first report's
 * loss already says what gets through (docs/benchmarks.md section 12). */
#define MAX_CUT 0.3
/* ... and a cut on a queue alone (under 10 % lost) not below this share: a round trip also
 * grows when a host is too busy to answer at once (a late report reads as a queue), and the
 * queue's growth over a quarter second is a coarse measure of the path. */
#define MAX_DELAY_CUT 0.7
/* Below what got through by the queue's share of this: the queue then drains in about this
 * long instead of the seconds a 15 % margin takes (300 ms of queue: 2 s). */
#define DRAIN_US (1000 * 1000)
/* Growth on a clean path: +16 % a second (compounded per report), so 5x takes about 11 s. */
#define INCREASE_PER_S 0.16
/* ... but +4 % a second from 85 % to 115 % of what got through at the last cut (near where the
 * path gave way; further above, the path has changed, or the cut answered a burst: the host
 * stalled and the encoder sent its backlog at once) ... */
#define INCREASE_NEAR_PER_S 0.04
/* ... and +8 % a second above that (draft-ietf-rmcat-gcc's growth): a probe past a path that
 * did give way. The encoder sends about three quarters of its target between keyframes, so
 * the next keyframe is the first to show where the path is; at 16 % a second the estimate was
 * 35 % higher at each, and the one that found the path's rate overflowed its queue (the second
 * freeze of the 800 kbit/s case, docs/benchmarks.md 22 and 24). */
#define INCREASE_ABOVE_PER_S 0.08
#define NEAR_LAST_CUT 0.85
#define FAR_ABOVE_LAST_CUT 1.15
/* ... and not above 95 % of it at all for this long after the cut: each probe past what the
 * path carried costs a burst of loss (a keyframe in a full queue is a freeze). "It" is what
 * got through when the cut was made, not the estimate then (which was already past the
 * path's rate: a ceiling under that one still probes past the path). */
#define CEILING_US (15 * G_USEC_PER_SEC)
#define CEILING 0.95
/* After a decrease, no increase for this long (the queue needs a round trip to drain), and
 * no further decrease for the round trip plus this (the next reports still show the queue
 * the first decrease answered). */
#define HOLD_US (1500 * 1000)
#define DECREASE_GAP_US (500 * 1000)
/* The smallest round trip is forgotten after 15-30 s (a route may change): the smallest of
 * two windows of this length, the current one and the one before. Not "the last sample once
 * 30 s passed": that took a round trip of 313 ms, a full queue's, for the smallest, and with
 * no queue to see the next keyframe overflowed it (docs/benchmarks.md 24). */
#define MIN_RTT_WINDOW_US (15 * G_USEC_PER_SEC)
/* Loss over LOSS_HIGH cuts only when at least this many packets were lost since the last
 * report: a quarter second of a 170 kbit/s stream is 16 packets, and 5 % random loss reads
 * over 10 % (two lost) in one report of five, each a cut the path did not ask for; four lost
 * of 16 happens in under one report of a hundred. */
#define LOSS_MIN_PACKETS 4
/* A new viewer's estimate. */
#define START_KBPS 600
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
  gint64 next_decrease;
  gint64 last_estimate;    /* monotonic µs of the last update */
  gdouble last_cut_kbps;   /* what got through when it was last cut; 0 before */
  gint64 last_cut_time;
  gint min_rtt_ms;          /* the smaller of the two windows' */
  gint window_min_rtt_ms;   /* the current window's smallest, -1 before one */
  gint last_window_min_rtt_ms; /* the window before's, -1 if none */
  gint64 min_rtt_time;      /* when the current window began */
  gint prev_rtt_ms;        /* the fresh round trip before the last one; -1 if none */
  gint64 rtt_time, prev_rtt_time; /* when they were measured */
  gboolean loss_counts;    /* this report's loss is enough to cut for */
  gboolean have_lost;      /* last_lost is set */
  gint32 last_lost;        /* the previous report's cumulative lost */
  guint32 last_lsr;        /* a round trip is measured once per sender report echoed */
  gboolean rtt_fresh;      /* this report measured one */
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
  update_target (self);
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

/**
 * icecam_bitrate_controller_add_viewer_at:
 * @start_kbps: its estimate to start from (what it had before an ICE restart of its session:
 *   a new path to the same peer, behind the same access link); 0: as a new viewer
 *
 * A new viewer: its path is unknown, so it starts low and grows (WebRTC stacks start at
 * 0.3-1 Mbit/s). But while others watch, the encoder already runs at their target, which the
 * new viewer is sent whatever its estimate says: it starts there, until its reports say
 * otherwise. Started low, it was "far below" them at once: keyframes only for the seconds its
 * estimate took to grow, and the gaps between them read as a lost path.
 */
void
icecam_bitrate_controller_add_viewer_at (IcecamBitrateController *self, gconstpointer viewer,
                                         guint start_kbps)
{
  Viewer *v = g_new0 (Viewer, 1);

  g_mutex_lock (&self->lock);
  v->estimate_kbps = CLAMP (START_KBPS, self->min_kbps, self->max_kbps);
  if (self->enabled && g_hash_table_size (self->viewers) > 0)
    v->estimate_kbps = MAX (v->estimate_kbps, self->target_kbps);
  if (start_kbps > 0)
    v->estimate_kbps = CLAMP (start_kbps, self->min_kbps, self->max_kbps);
  v->rtt_ms = -1;
  v->prev_rtt_ms = -1;
  v->min_rtt_ms = -1;
  v->window_min_rtt_ms = -1;
  v->last_window_min_rtt_ms = -1;
  g_hash_table_replace (self->viewers, (gpointer) viewer, v);
  update_target (self);
  g_mutex_unlock (&self->lock);
}

void
icecam_bitrate_controller_add_viewer (IcecamBitrateController *self, gconstpointer viewer)
{
  icecam_bitrate_controller_add_viewer_at (self, viewer, 0);
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

/* Called with the lock. Loss over LOSS_HIGH or a queue over QUEUE_DELAY_HIGH_MS: the
 * estimate goes to a little under what got through (sent less lost), at most halved at once,
 * once per round trip; a clean path (little loss, almost no queue) lets it grow. */
static void
estimate (IcecamBitrateController *self, Viewer *v, gint64 now)
{
  gdouble received_kbps = v->sent_kbps * (1 - v->loss);
  /* The last round trip measured says whether a queue is there; only a fresh one may cut
   * (a stale one would cut again for the queue the last cut answered). */
  gint queue_ms = v->rtt_ms >= 0 && v->min_rtt_ms >= 0 ? v->rtt_ms - v->min_rtt_ms : 0;
  /* A queue is one that lasts: the smaller of the last two round trips (250 ms apart) says
   * so, where one alone also sees the burst of a keyframe (a 250 ms VBV buffer's worth at
   * once: 150 ms on a path just under the stream's rate), which drains by itself. */
  gint lasting_ms = v->prev_rtt_ms >= 0 && v->min_rtt_ms >= 0
                      ? MIN (v->rtt_ms, v->prev_rtt_ms) - v->min_rtt_ms : 0;
  /* While probing past where the path last gave way (or before any cut: the start-up probe
   * from START_KBPS), one round trip over is enough: near the path's rate a keyframe's burst is
   * the first sign of it, and waiting for a second one let the next keyframe into a queue
   * already full (the freezes of docs/benchmarks.md 12.1); and 40 ms over is enough (60 ms was
   * seen 250 ms before the queue filled). */
  gboolean probing = v->last_cut_kbps <= 0 || v->estimate_kbps > v->last_cut_kbps;
  gint over_ms = probing ? queue_ms : lasting_ms;
  gboolean queue_building = v->rtt_fresh && over_ms > (probing ? QUEUE_DELAY_LOW_MS
                                                               : QUEUE_DELAY_HIGH_MS);
  /* Sending well under the estimate (the encoder is behind, or the picture is simple), what
   * got through says little about the path: then back off from the estimate itself. */
  gdouble base = v->sent_kbps >= 0.7 * v->estimate_kbps ? received_kbps : v->estimate_kbps;
  gdouble elapsed_s = v->last_estimate != 0 ? (now - v->last_estimate) / (gdouble) G_USEC_PER_SEC
                                            : 0;

  v->last_estimate = now;
  /* A queue growing by G ms in T ms of sending at S: the path carries S * T / (T + G). While
   * it grows (no loss yet), what was sent is more than what got through. */
  if (queue_building && v->loss <= LOSS_HIGH && received_kbps > 0 &&
      v->rtt_ms > v->prev_rtt_ms && v->rtt_time > v->prev_rtt_time) {
    gdouble t_ms = (v->rtt_time - v->prev_rtt_time) / 1000.0;

    base = MIN (base, received_kbps * t_ms / (t_ms + v->rtt_ms - v->prev_rtt_ms));
  }
  if (v->loss_counts || queue_building) {
    if (now >= v->next_decrease) {
      gdouble drain = queue_building ? 1 - over_ms * 1000.0 / DRAIN_US : 1;
      gdouble floor = v->estimate_kbps * (v->loss_counts ? MAX_CUT : MAX_DELAY_CUT);
      gdouble cut = MIN (v->estimate_kbps, MAX (base * MIN (BACKOFF, drain), floor));

      v->last_cut_kbps = MAX (MIN (base, v->estimate_kbps), cut);
      v->last_cut_time = now;
      v->estimate_kbps = cut;
      v->next_decrease = now + (gint64) MAX (v->rtt_ms, 0) * 1000 + DECREASE_GAP_US;
    }
    v->hold_until = now + HOLD_US;
  } else if (v->loss < LOSS_LOW && queue_ms < QUEUE_DELAY_LOW_MS && now >= v->hold_until) {
    /* Near where the path gave way last time: slowly, so as to get there less often. */
    gdouble rate = v->last_cut_kbps <= 0 || v->estimate_kbps <= NEAR_LAST_CUT * v->last_cut_kbps
                     ? INCREASE_PER_S
                     : v->estimate_kbps < FAR_ABOVE_LAST_CUT * v->last_cut_kbps
                     ? INCREASE_NEAR_PER_S : INCREASE_ABOVE_PER_S;

    gdouble ceiling = v->last_cut_kbps > 0 && now - v->last_cut_time < CEILING_US
                        ? CEILING * v->last_cut_kbps : G_MAXDOUBLE;

    if (v->estimate_kbps < ceiling)
      v->estimate_kbps = MIN (v->estimate_kbps * (1 + rate * MIN (elapsed_s, 1.0)), ceiling);
  }
  v->estimate_kbps = CLAMP (v->estimate_kbps, 16, self->max_kbps);
}

/* The report's fraction lost, and whether it counts: over LOSS_HIGH with at least
 * LOSS_MIN_PACKETS lost since the previous report (by the cumulative count; a first report, or
 * a count that went back, is taken at its fraction). */
static void
note_loss (Viewer *v, const IcecamRtcpReportBlock *block)
{
  gint64 lost = v->have_lost ? (gint64) block->cumulative_lost - v->last_lost : -1;

  v->loss = block->fraction_lost / 256.0;
  v->loss_counts = v->loss > LOSS_HIGH && (lost < 0 || lost >= LOSS_MIN_PACKETS);
  v->last_lost = block->cumulative_lost;
  v->have_lost = TRUE;
}

/**
 * icecam_bitrate_controller_report:
 * @viewer: its key
 * @block: its report block about the camera's stream
 * @bytes_sent: the media sent to it so far (not the retransmissions: those answer loss, the
 *   estimate is of what the stream itself may be)
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
  note_loss (v, block);
  v->rtt_fresh = block->lsr != 0 && block->lsr != v->last_lsr;
  v->last_lsr = block->lsr;
  if (v->rtt_fresh) {
    v->prev_rtt_ms = v->rtt_ms;
    v->prev_rtt_time = v->rtt_time;
    v->rtt_ms = round_trip_ms (block, ntp_now);
    v->rtt_time = now;
    if (v->rtt_ms < 0)
      v->prev_rtt_ms = -1;
  }
  if (v->rtt_ms >= 0) {
    if (v->window_min_rtt_ms < 0 || now - v->min_rtt_time > MIN_RTT_WINDOW_US) {
      v->last_window_min_rtt_ms = v->window_min_rtt_ms;
      v->window_min_rtt_ms = -1;
      v->min_rtt_time = now;
    }
    if (v->window_min_rtt_ms < 0 || v->rtt_ms < v->window_min_rtt_ms)
      v->window_min_rtt_ms = v->rtt_ms;
    v->min_rtt_ms = v->last_window_min_rtt_ms >= 0
                      ? MIN (v->window_min_rtt_ms, v->last_window_min_rtt_ms)
                      : v->window_min_rtt_ms;
  }
  if (v->sent_kbps > 0)
    estimate (self, v, now);
  update_target (self);
  /* GLib 2.74 formats a message before it knows nobody shows it: every viewer's every receiver
   * report came through here (~5 % of a camera's worker with 32 viewers). */
  if (!g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))
    g_debug ("bitrate-controller: viewer %p: sent %u kbit/s, lost %.1f %%, rtt %d ms (min %d): "
             "estimate %.0f kbit/s%s, target %u", viewer, v->sent_kbps, v->loss * 100,
             v->rtt_ms, v->min_rtt_ms, v->estimate_kbps, v->reduced ? " (reduced)" : "",
             self->target_kbps);
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
  /* Nobody watching: the rate a new viewer starts at, so that the first frames a viewer
   * gets (its keyframe comes at once, the encoder's rate buffer still filled at the old
   * rate) are not those of the maximum sent into a path not measured yet. */
  if (self->enabled && g_hash_table_size (self->viewers) == 0)
    target = START_KBPS;
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

/**
 * icecam_bitrate_controller_is_congested:
 * @now: monotonic µs
 *
 * Whether a viewer not on the reduced stream (whose congestion the shared encoder answers)
 * had its estimate cut within the hold after a cut, or reported heavy loss last. Keyframe
 * requests are then spaced further apart: a keyframe costs several P frames' share of a
 * bitrate just cut, and on a lossy path each one lost is asked for again (a keyframe every
 * 200 ms is then all the encoder makes).
 */
gboolean
icecam_bitrate_controller_is_congested (IcecamBitrateController *self, gint64 now)
{
  GHashTableIter iter;
  Viewer *v;
  gboolean congested = FALSE;

  g_mutex_lock (&self->lock);
  g_hash_table_iter_init (&iter, self->viewers);
  while (!congested && g_hash_table_iter_next (&iter, NULL, (gpointer *) &v))
    congested = self->enabled && !v->reduced &&
                ((v->last_cut_time != 0 && now - v->last_cut_time < HOLD_US) ||
                 v->loss_counts);
  g_mutex_unlock (&self->lock);
  return congested;
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
