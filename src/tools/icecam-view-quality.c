/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-view's picture of the stream's quality: fps, freezes, loss after repair, rate. */

#include "icecam-view-quality.h"

/**
 * IcecamViewQuality:
 *
 * Counts decoded frames (from the streaming thread) and reads icecamsrc's and the jitter
 * buffer's stats (from the main loop) into the summary's and progress lines' fields:
 * fps= (decoded frames per second after the first frame), freezes= (gaps over
 * %ICECAM_VIEW_FREEZE_US between decoded frames, a gap still open included), lost= (packets
 * the jitter buffer gave up on: still missing after repair), recovered= (retransmissions
 * received), kbps= (media received), delay_ms= (the mean delay of the packets from the
 * camera, by its sender reports: meaningful when both clocks agree), and in the summary
 * max_delay_ms= (the largest of the progress lines' delay_ms). A progress line covers the time
 * since the previous one; the summary the whole run.
 */
struct _IcecamViewQuality {
  GMutex lock;
  gint64 first_frame;
  gint64 last_frame;
  guint64 frames;
  guint freezes;
  GstElement *src;          /* weak: the pipeline owns them */
  GstElement *jitterbuffer;
  guint64 lost_before;      /* of the jitter buffers replaced (a new decoder chain) */
  /* at the previous progress line */
  gint64 mark_time;
  guint64 mark_frames;
  guint64 mark_bytes;
  guint mark_freezes;
  guint64 mark_lost;
  guint64 mark_recovered;
  gdouble mark_delay_sum;
  guint64 mark_delay_samples;
  gdouble max_delay_ms;     /* of the progress lines' means */
};

IcecamViewQuality *
icecam_view_quality_new (void)
{
  IcecamViewQuality *self = g_new0 (IcecamViewQuality, 1);

  g_mutex_init (&self->lock);
  return self;
}

void
icecam_view_quality_free (IcecamViewQuality *self)
{
  if (self == NULL)
    return;
  g_clear_object (&self->src);
  g_clear_object (&self->jitterbuffer);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* Streaming thread. */
void
icecam_view_quality_frame (IcecamViewQuality *self, gint64 now)
{
  g_mutex_lock (&self->lock);
  if (self->first_frame == 0)
    self->first_frame = now;
  else if (now - self->last_frame > ICECAM_VIEW_FREEZE_US)
    self->freezes++;
  self->last_frame = now;
  self->frames++;
  g_mutex_unlock (&self->lock);
}

static guint64
jitterbuffer_lost (GstElement *jitterbuffer)
{
  g_autoptr (GstStructure) stats = NULL;
  guint64 lost = 0;

  if (jitterbuffer == NULL)
    return 0;
  g_object_get (jitterbuffer, "stats", &stats, NULL);
  if (stats != NULL)
    gst_structure_get_uint64 (stats, "num-lost", &lost);
  return lost;
}

/**
 * icecam_view_quality_set_elements:
 * @src: icecamsrc
 * @jitterbuffer: (nullable): the rtpjitterbuffer of the current decoder chain
 *
 * Main loop or streaming thread (a chain replaced); what the replaced jitter buffer counted
 * is kept.
 */
void
icecam_view_quality_set_elements (IcecamViewQuality *self, GstElement *src,
                                  GstElement *jitterbuffer)
{
  g_mutex_lock (&self->lock);
  self->lost_before += jitterbuffer_lost (self->jitterbuffer);
  g_set_object (&self->src, src);
  g_set_object (&self->jitterbuffer, jitterbuffer);
  g_mutex_unlock (&self->lock);
}

/* One reading of the quality fields; delay_ms < 0: none. */
typedef struct {
  gdouble fps, kbps, delay_ms, max_delay_ms;
  guint freezes;
  guint64 lost, recovered;
} Reading;

/* @interval: since the previous interval's reading (a progress line), else since the start */
static void
measure (IcecamViewQuality *self, gboolean interval, gint64 now, Reading *r)
{
  g_autoptr (GstStructure) stats = NULL;
  guint64 bytes = 0, recovered = 0, lost, frames, delay_samples = 0;
  gdouble delay_sum = 0;
  guint freezes;
  gint64 since, frames_since;
  gdouble seconds;

  if (self->src != NULL)
    g_object_get (self->src, "stats", &stats, NULL);
  if (stats != NULL) {
    gst_structure_get_uint64 (stats, "bytes-received", &bytes);
    gst_structure_get_uint64 (stats, "packets-recovered", &recovered);
    gst_structure_get_double (stats, "delay-sum-ms", &delay_sum);
    gst_structure_get_uint64 (stats, "delay-samples", &delay_samples);
  }
  g_mutex_lock (&self->lock);
  /* icecamsrc's counters start again with each session (a retry, a resume): the interval's
   * share then counts from that start. */
  if (bytes < self->mark_bytes)
    self->mark_bytes = 0;
  if (recovered < self->mark_recovered)
    self->mark_recovered = 0;
  if (delay_samples < self->mark_delay_samples) {
    self->mark_delay_samples = 0;
    self->mark_delay_sum = 0;
  }
  lost = self->lost_before + jitterbuffer_lost (self->jitterbuffer);
  frames = self->frames;
  freezes = self->freezes;
  /* A freeze still going on counts. */
  if (self->last_frame != 0 && now - self->last_frame > ICECAM_VIEW_FREEZE_US)
    freezes++;
  since = self->first_frame;
  frames_since = 1;
  if (interval && self->mark_time != 0) {
    since = self->mark_time;
    frames_since = 0;
  }
  seconds = since != 0 && now > since ? (now - since) / (gdouble) G_USEC_PER_SEC : 0;
  r->fps = seconds > 0 && frames >= (guint64) frames_since + (interval ? self->mark_frames : 0)
             ? (frames - (interval ? self->mark_frames : 0) - frames_since) / seconds : 0;
  r->kbps = seconds > 0 ? (bytes - (interval ? self->mark_bytes : 0)) * 8 / seconds / 1000 : 0;
  r->delay_ms = -1;
  if (interval) {
    r->freezes = freezes - self->mark_freezes;
    r->lost = lost - self->mark_lost;
    r->recovered = recovered - self->mark_recovered;
    if (delay_samples > self->mark_delay_samples) {
      r->delay_ms = (delay_sum - self->mark_delay_sum) /
                    (delay_samples - self->mark_delay_samples);
      self->max_delay_ms = MAX (self->max_delay_ms, r->delay_ms);
    }
    self->mark_delay_sum = delay_sum;
    self->mark_delay_samples = delay_samples;
    if (self->first_frame != 0) {
      self->mark_time = now;
      self->mark_frames = frames;
      self->mark_bytes = bytes;
      self->mark_freezes = freezes; /* a freeze still going on counts once */
      self->mark_lost = lost;
      self->mark_recovered = recovered;
    }
  } else {
    r->freezes = freezes;
    r->lost = lost;
    r->recovered = recovered;
    if (delay_samples > 0)
      r->delay_ms = delay_sum / delay_samples;
  }
  r->max_delay_ms = self->max_delay_ms;
  g_mutex_unlock (&self->lock);
}

static gchar *
format_delay (gdouble delay_ms)
{
  return delay_ms >= 0 ? g_strdup_printf ("%.0f", delay_ms) : g_strdup ("none");
}

/**
 * icecam_view_quality_format_interval:
 * @now: monotonic µs
 *
 * Main loop. The fields of a progress line, for the time since the previous one.
 *
 * Returns: (transfer full): "fps=.. kbps=.. freezes=.. lost=.. recovered=.. delay_ms=.."
 */
gchar *
icecam_view_quality_format_interval (IcecamViewQuality *self, gint64 now)
{
  Reading r;
  g_autofree gchar *delay = NULL;

  measure (self, TRUE, now, &r);
  delay = format_delay (r.delay_ms);
  return g_strdup_printf ("fps=%.1f kbps=%.0f freezes=%u lost=%" G_GUINT64_FORMAT
                          " recovered=%" G_GUINT64_FORMAT " delay_ms=%s", r.fps, r.kbps,
                          r.freezes, r.lost, r.recovered, delay);
}

/**
 * icecam_view_quality_add_to_summary:
 * @now: monotonic µs
 *
 * Main loop. Adds the whole run's fps, freezes, lost, recovered, kbps, delay_ms and
 * max_delay_ms to @summary.
 */
void
icecam_view_quality_add_to_summary (IcecamViewQuality *self, IcecamToolSummary *summary,
                                    gint64 now)
{
  Reading r;
  g_autofree gchar *fps = NULL;
  g_autofree gchar *kbps = NULL;
  g_autofree gchar *delay = NULL;
  g_autofree gchar *max_delay = NULL;

  measure (self, FALSE, now, &r);
  fps = g_strdup_printf ("%.1f", r.fps);
  kbps = g_strdup_printf ("%.0f", r.kbps);
  delay = format_delay (r.delay_ms);
  max_delay = g_strdup_printf ("%.0f", r.max_delay_ms);
  icecam_tool_summary_add (summary, "fps", fps, TRUE);
  icecam_tool_summary_add_int (summary, "freezes", r.freezes);
  icecam_tool_summary_add_int (summary, "lost", (gint64) r.lost);
  icecam_tool_summary_add_int (summary, "recovered", (gint64) r.recovered);
  icecam_tool_summary_add (summary, "kbps", kbps, TRUE);
  icecam_tool_summary_add (summary, "delay_ms", delay, TRUE);
  icecam_tool_summary_add (summary, "max_delay_ms", max_delay, TRUE);
}
