/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsrc: the camera's audio stamped to play with the video captured with it.
 *
 * icecamsrc stamps what arrives with the running time of its arrival, and icecam-view shows
 * each video frame as soon as it is decoded. The camera's encoders delay audio and video
 * differently (an H.264 encoder holds frames, an RTSP camera buffers), so arrival times alone
 * put the sound ahead of the picture or behind it. The camera's RTCP sender reports tie each
 * stream's RTP time to its capture time on one clock (icecamsink reports the capture time, see
 * gsticecamcapture.c). From them:
 *
 *   video transit = when a frame's last packet arrived - when the frame was captured
 *
 * on the camera's clock, the least over the last two seconds (the frames that came straight
 * through; the GOP cache's burst and late frames are more), and each audio packet is stamped
 * with
 *
 *   capture time of the audio packet + video transit
 *
 * that is, with the time at which the video captured with it arrived. Stamped that way the
 * audio is also free of the network's jitter. Until both streams have a sender report the
 * audio keeps its arrival time. The streaming thread calls everything but set_clock() and
 * set_enabled(). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsticecamlipsync.h"

#include <string.h>

#define WINDOW_US (2 * G_USEC_PER_SEC)
#define VIDEO_CLOCK_RATE 90000 /* H.264 (RFC 6184) */
#define RTP_HEADER_SIZE 12

/* The least of a value over a sliding window: the current and the previous window. */
typedef struct {
  gboolean valid, previous_valid;
  gint64 least, previous_least;
  gint64 started_us;
} WindowMin;

struct _GstIcecamLipSync {
  GMutex lock;              /* protects clock and enabled */
  IcecamRtpClock *clock;    /* (nullable): the current session's sender reports */
  gboolean enabled;

  /* streaming thread */
  gboolean in_frame;
  guint32 frame_ssrc, frame_timestamp;
  GstClockTime frame_arrived; /* running time of the frame's latest packet */
  WindowMin video_transit;    /* µs: running time of arrival - capture on the camera's clock */
  GstClockTime last_audio_pts;
  gint64 offset_us;           /* atomic: the last audio stamp - its arrival, for the stats */
};

GstIcecamLipSync *
gst_icecam_lip_sync_new (void)
{
  GstIcecamLipSync *self = g_new0 (GstIcecamLipSync, 1);

  g_mutex_init (&self->lock);
  self->enabled = TRUE;
  self->last_audio_pts = GST_CLOCK_TIME_NONE;
  return self;
}

void
gst_icecam_lip_sync_free (GstIcecamLipSync *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->clock, icecam_rtp_clock_unref);
  g_mutex_clear (&self->lock);
  g_free (self);
}

void
gst_icecam_lip_sync_set_enabled (GstIcecamLipSync *self, gboolean enabled)
{
  g_mutex_lock (&self->lock);
  self->enabled = enabled;
  g_mutex_unlock (&self->lock);
}

gboolean
gst_icecam_lip_sync_get_enabled (GstIcecamLipSync *self)
{
  gboolean enabled;

  g_mutex_lock (&self->lock);
  enabled = self->enabled;
  g_mutex_unlock (&self->lock);
  return enabled;
}

/* A new session (@clock its sender reports; NULL: none): what was learnt goes. Any thread. */
void
gst_icecam_lip_sync_set_clock (GstIcecamLipSync *self, IcecamRtpClock *clock)
{
  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->clock, icecam_rtp_clock_unref);
  if (clock != NULL)
    self->clock = icecam_rtp_clock_ref (clock);
  g_mutex_unlock (&self->lock);
}

/* The element starts (running times start again): what the streaming thread learnt goes. */
void
gst_icecam_lip_sync_reset (GstIcecamLipSync *self)
{
  self->in_frame = FALSE;
  memset (&self->video_transit, 0, sizeof self->video_transit);
  self->last_audio_pts = GST_CLOCK_TIME_NONE;
  __atomic_store_n (&self->offset_us, 0, __ATOMIC_RELAXED);
}

static void
window_min_add (WindowMin *w, gint64 value, gint64 now_us)
{
  if (!w->valid || now_us - w->started_us >= WINDOW_US) {
    w->previous_valid = w->valid;
    w->previous_least = w->least;
    w->valid = TRUE;
    w->least = value;
    w->started_us = now_us;
    return;
  }
  w->least = MIN (w->least, value);
}

static gboolean
window_min_get (const WindowMin *w, gint64 *value)
{
  if (!w->valid)
    return FALSE;
  *value = w->previous_valid ? MIN (w->least, w->previous_least) : w->least;
  return TRUE;
}

static gboolean
read_header (GstBuffer *buf, guint32 *ssrc, guint32 *timestamp)
{
  guint8 header[RTP_HEADER_SIZE];

  if (!GST_BUFFER_PTS_IS_VALID (buf) ||
      gst_buffer_extract (buf, 0, header, sizeof header) != sizeof header ||
      (header[0] >> 6) != 2)
    return FALSE;
  *timestamp = GST_READ_UINT32_BE (header + 4);
  *ssrc = GST_READ_UINT32_BE (header + 8);
  return TRUE;
}

/* The capture time of @timestamp on the camera's clock (µs), from its latest sender report. */
static gboolean
capture_time (GstIcecamLipSync *self, guint32 ssrc, guint32 timestamp, guint clock_rate,
              gint64 *captured_us)
{
  g_autoptr (IcecamRtpClock) clock = NULL;
  guint32 reference_timestamp;
  gint64 reference_us;

  g_mutex_lock (&self->lock);
  if (self->enabled && self->clock != NULL)
    clock = icecam_rtp_clock_ref (self->clock);
  g_mutex_unlock (&self->lock);
  if (clock == NULL ||
      !icecam_rtp_clock_lookup (clock, ssrc, &reference_timestamp, &reference_us))
    return FALSE;
  *captured_us = icecam_rtp_clock_time_of (reference_timestamp, reference_us, timestamp,
                                           clock_rate);
  return TRUE;
}

/* The frame that just ended (its last packet came at frame_arrived) counts in the transit. */
static void
end_frame (GstIcecamLipSync *self)
{
  gint64 captured_us, arrived_us = (gint64) (self->frame_arrived / GST_USECOND);

  if (capture_time (self, self->frame_ssrc, self->frame_timestamp, VIDEO_CLOCK_RATE,
                    &captured_us))
    window_min_add (&self->video_transit, arrived_us - captured_us, arrived_us);
}

/* A video packet, stamped with its arrival. */
void
gst_icecam_lip_sync_video (GstIcecamLipSync *self, GstBuffer *buf)
{
  guint32 ssrc, timestamp;

  if (!read_header (buf, &ssrc, &timestamp))
    return;
  if (self->in_frame && (ssrc != self->frame_ssrc || timestamp != self->frame_timestamp))
    end_frame (self);
  if (self->in_frame && ssrc != self->frame_ssrc)
    memset (&self->video_transit, 0, sizeof self->video_transit); /* a new session */
  self->in_frame = TRUE;
  self->frame_ssrc = ssrc;
  self->frame_timestamp = timestamp;
  self->frame_arrived = GST_BUFFER_PTS (buf);
}

/* An audio packet, stamped with its arrival: stamped again with the arrival of the video
 * captured with it, when the reports tell. */
void
gst_icecam_lip_sync_audio (GstIcecamLipSync *self, GstBuffer *buf, guint clock_rate)
{
  guint32 ssrc, timestamp;
  gint64 captured_us, transit_us, stamp_us;
  GstClockTime pts;

  if (!read_header (buf, &ssrc, &timestamp))
    return;
  pts = GST_BUFFER_PTS (buf);
  if (clock_rate > 0 && window_min_get (&self->video_transit, &transit_us) &&
      capture_time (self, ssrc, timestamp, clock_rate, &captured_us)) {
    stamp_us = MAX (captured_us + transit_us, 0);
    pts = (GstClockTime) stamp_us * GST_USECOND;
  }
  /* Never back in time (a better estimate can move the stamps earlier). */
  if (GST_CLOCK_TIME_IS_VALID (self->last_audio_pts) && pts < self->last_audio_pts)
    pts = self->last_audio_pts;
  __atomic_store_n (&self->offset_us, GST_CLOCK_DIFF (GST_BUFFER_PTS (buf), pts) / GST_USECOND,
                    __ATOMIC_RELAXED);
  self->last_audio_pts = pts;
  GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf) = pts;
}

/* How much later than it arrived the audio is stamped (negative: earlier), in ms. */
gint64
gst_icecam_lip_sync_get_offset_ms (GstIcecamLipSync *self)
{
  return __atomic_load_n (&self->offset_us, __ATOMIC_RELAXED) / 1000;
}
