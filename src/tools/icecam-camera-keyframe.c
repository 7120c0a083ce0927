/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-camera: a requested keyframe is encoded from the last raw frame at once, not from the
 * source's next frame.
 *
 * icecamsink asks for a keyframe (a new viewer's keys are ready, a PLI) with an upstream
 * force-key-unit event. A GstVideoEncoder keeps it and makes the *next* frame it gets a
 * keyframe: with a 30 fps source that is 0-33 ms later (a third of a second at 3 fps), and the
 * new viewer waits for it. Instead, the request is turned into what the encoder would get if
 * the source had just captured a frame: a downstream force-key-unit event and a copy of the
 * last raw frame (the same memory, a new timestamp between the last frame's and the next
 * one's), put into the queue before the encoder, whose thread encodes it at once. The picture
 * is the one viewers already have; the stream gets one frame more, as if the camera had
 * captured it. The request still goes on to the encoder, before the frame: it is met by the
 * same frame, or by the next one should the queue have dropped the repeated one. Without a raw
 * frame yet, or with one already queued for the encoder, nothing else is done. */

#include "icecam-camera-keyframe.h"

#include <gst/video/video.h>

/* The repeated frame's timestamp stays this far from its neighbours'. */
#define REPEAT_MARGIN (GST_MSECOND)

typedef struct {
  GMutex lock;
  GstBuffer *last;        /* the last raw frame that entered the queue */
  GstClockTime duration;  /* of a source frame, if known */
  GWeakRef queue;
} Keyframe;

static void
keyframe_clear (gpointer data)
{
  Keyframe *self = data;

  gst_clear_buffer (&self->last);
  g_weak_ref_clear (&self->queue);
  g_mutex_clear (&self->lock);
}

static void
keyframe_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, keyframe_clear);
}

static void
keyframe_forget (Keyframe *self)
{
  g_mutex_lock (&self->lock);
  gst_clear_buffer (&self->last);
  g_mutex_unlock (&self->lock);
}

/* The source's streaming thread (and the thread of a request, for the repeated frame). */
static GstPadProbeReturn
on_queue_data_in (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Keyframe *self = data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);

    g_mutex_lock (&self->lock);
    if (GST_BUFFER_PTS_IS_VALID (buffer))
      gst_buffer_replace (&self->last, buffer);
    else
      gst_clear_buffer (&self->last);
    if (GST_BUFFER_DURATION_IS_VALID (buffer))
      self->duration = GST_BUFFER_DURATION (buffer);
    g_mutex_unlock (&self->lock);
    return GST_PAD_PROBE_OK;
  }
  /* A frame of other caps, or from before a flush, is not to be repeated. */
  switch (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info))) {
    case GST_EVENT_CAPS:
    case GST_EVENT_FLUSH_STOP:
    case GST_EVENT_EOS:
    case GST_EVENT_STREAM_START:
    case GST_EVENT_SEGMENT:
      keyframe_forget (self);
      break;
    default:
      break;
  }
  return GST_PAD_PROBE_OK;
}

/* Now, in the stream's time, kept between the last frame and the next one (1 ms from each). */
static GstClockTime
repeat_pts (GstElement *queue, GstPad *sink, GstClockTime last, GstClockTime duration)
{
  g_autoptr (GstClock) clock = gst_element_get_clock (queue);
  g_autoptr (GstEvent) event = gst_pad_get_sticky_event (sink, GST_EVENT_SEGMENT, 0);
  GstClockTime lowest = last + REPEAT_MARGIN, pts = GST_CLOCK_TIME_NONE;
  const GstSegment *segment;

  if (clock != NULL && event != NULL) {
    GstClockTime now = gst_clock_get_time (clock), base = gst_element_get_base_time (queue);

    gst_event_parse_segment (event, &segment);
    if (segment->format == GST_FORMAT_TIME && now > base)
      pts = gst_segment_position_from_running_time (segment, GST_FORMAT_TIME, now - base);
  }
  if (!GST_CLOCK_TIME_IS_VALID (pts) || pts < lowest)
    pts = lowest;
  if (GST_CLOCK_TIME_IS_VALID (duration) && duration > 2 * REPEAT_MARGIN &&
      pts > last + duration - REPEAT_MARGIN)
    pts = last + duration - REPEAT_MARGIN;
  return pts;
}

/* The thread that asks for the keyframe (icecamsink's endpoint). */
static GstPadProbeReturn
on_payloader_event_up (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Keyframe *self = data;
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
  g_autoptr (GstElement) queue = NULL;
  g_autoptr (GstPad) sink = NULL;
  g_autoptr (GstBuffer) repeat = NULL;
  g_autoptr (GstPad) peer = NULL;
  GstClockTime running_time, last;
  gboolean all_headers;
  guint count, queued = 0;

  if (!gst_video_event_is_force_key_unit (event) ||
      !gst_video_event_parse_upstream_force_key_unit (event, &running_time, &all_headers,
                                                      &count) ||
      GST_CLOCK_TIME_IS_VALID (running_time))
    return GST_PAD_PROBE_OK;
  queue = g_weak_ref_get (&self->queue);
  if (queue == NULL || GST_STATE (queue) != GST_STATE_PLAYING)
    return GST_PAD_PROBE_OK;
  /* A frame already waits for the encoder: it will be the keyframe. */
  g_object_get (queue, "current-level-buffers", &queued, NULL);
  if (queued > 0)
    return GST_PAD_PROBE_OK;
  sink = gst_element_get_static_pad (queue, "sink");

  g_mutex_lock (&self->lock);
  if (self->last != NULL) {
    last = GST_BUFFER_PTS (self->last);
    repeat = gst_buffer_copy (self->last);
    GST_BUFFER_PTS (repeat) = repeat_pts (queue, sink, last, self->duration);
    GST_BUFFER_DTS (repeat) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION (repeat) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_FLAG_UNSET (repeat, GST_BUFFER_FLAG_DISCONT);
  }
  g_mutex_unlock (&self->lock);
  if (repeat == NULL)
    return GST_PAD_PROBE_OK;

  /* The request itself goes to the encoder first, from here (its source pad's event function
   * runs in this thread), so that the encoder holds it before the repeated frame can reach it
   * through the queue's thread: then all its pending requests are met by that one frame, one
   * keyframe. Should the leaky queue drop the repeated frame (a busy encoder), the next frame
   * is still a keyframe. Passed on from the probe instead, the request raced the frame and,
   * arriving after it, made the next frame a second keyframe. */
  peer = gst_pad_get_peer (pad);
  if (peer == NULL)
    return GST_PAD_PROBE_OK;
  gst_pad_send_event (peer, gst_event_ref (event));
  GST_DEBUG_OBJECT (queue, "keyframe requested: repeating the last frame at %" GST_TIME_FORMAT,
                    GST_TIME_ARGS (GST_BUFFER_PTS (repeat)));
  if (gst_pad_send_event (sink, gst_video_event_new_downstream_force_key_unit (
                              GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE,
                              all_headers, count)))
    gst_pad_chain (sink, g_steal_pointer (&repeat));
  return GST_PAD_PROBE_DROP; /* delivered above */
}

/**
 * icecam_camera_keyframe_arm:
 * @raw_queue: the queue that feeds the encoder raw frames (leaky, so that a frame put in from
 *   another thread never waits)
 * @payloader: the RTP payloader after the encoder, where keyframe requests come up
 *
 * From now on an upstream force-key-unit event for the next frame that reaches @payloader's
 * sink pad is also answered with the last raw frame, repeated into an empty @raw_queue behind
 * a downstream force-key-unit event, so that the keyframe does not wait for the source's next
 * frame. Holds one reference to the last raw frame; nothing keeps the elements alive.
 */
void
icecam_camera_keyframe_arm (GstElement *raw_queue, GstElement *payloader)
{
  g_autoptr (GstPad) queue_sink = gst_element_get_static_pad (raw_queue, "sink");
  g_autoptr (GstPad) payloader_sink = gst_element_get_static_pad (payloader, "sink");
  Keyframe *self = g_atomic_rc_box_new0 (Keyframe);

  g_mutex_init (&self->lock);
  g_weak_ref_init (&self->queue, raw_queue);
  self->duration = GST_CLOCK_TIME_NONE;
  gst_pad_add_probe (queue_sink,
                     GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM |
                     GST_PAD_PROBE_TYPE_EVENT_FLUSH,
                     on_queue_data_in, self, keyframe_release);
  gst_pad_add_probe (payloader_sink, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_payloader_event_up,
                     g_atomic_rc_box_acquire (self), keyframe_release);
}
