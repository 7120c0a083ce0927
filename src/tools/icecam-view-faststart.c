/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-view: the jitterbuffer's first packet passes at once (faststart), not after its latency.
 *
 * rtpjitterbuffer holds the first packet of a stream for its whole latency (200 ms) unless
 * faststart-min-packets lets it go sooner. It checks that only when a packet comes in and the
 * head of its queue is a packet. The stream-start, caps and segment events that icecamsrc
 * sends just before the first packet are in that queue too, until the jitterbuffer's own
 * thread has pushed them on: a small keyframe (two or three packets) arrives before that, and
 * the check fails for each of its packets; the first frame then waits for the next frame's
 * packet, 33 ms later at 30 fps. So the first packet waits, in the source's streaming thread,
 * until the segment has left the jitterbuffer (well under a millisecond; at most
 * FASTSTART_MAX_WAIT_US), and then finds an empty queue. */

#include "icecam-view-faststart.h"

#define FASTSTART_MAX_WAIT_US (50 * G_TIME_SPAN_MILLISECOND)

typedef struct {
  GMutex lock;
  GCond cond;
  gboolean segment_out;
} Faststart;

static void
faststart_clear (gpointer data)
{
  Faststart *self = data;

  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
}

static void
faststart_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, faststart_clear);
}

/* The jitterbuffer's thread: its queue holds nothing before the first packet now. */
static GstPadProbeReturn
on_jitterbuffer_event_out (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Faststart *self = data;

  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) != GST_EVENT_SEGMENT)
    return GST_PAD_PROBE_OK;
  g_mutex_lock (&self->lock);
  self->segment_out = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return GST_PAD_PROBE_REMOVE;
}

/* The source's streaming thread, with the first packet. */
static GstPadProbeReturn
on_jitterbuffer_first_packet (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Faststart *self = data;
  gint64 until = g_get_monotonic_time () + FASTSTART_MAX_WAIT_US;

  g_mutex_lock (&self->lock);
  while (!self->segment_out && g_cond_wait_until (&self->cond, &self->lock, until))
    ;
  g_mutex_unlock (&self->lock);
  return GST_PAD_PROBE_REMOVE;
}

/**
 * icecam_view_faststart_arm:
 * @jitterbuffer: an rtpjitterbuffer with faststart-min-packets set, not yet running
 *
 * Makes the first packet that reaches @jitterbuffer wait until the events before it have left
 * it, so that faststart applies to that packet. Once: the probes go with the first packet.
 */
void
icecam_view_faststart_arm (GstElement *jitterbuffer)
{
  g_autoptr (GstPad) sink = gst_element_get_static_pad (jitterbuffer, "sink");
  g_autoptr (GstPad) src = gst_element_get_static_pad (jitterbuffer, "src");
  Faststart *self = g_atomic_rc_box_new0 (Faststart);

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_jitterbuffer_event_out,
                     g_atomic_rc_box_acquire (self), faststart_release);
  gst_pad_add_probe (sink, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                     on_jitterbuffer_first_packet, self, faststart_release);
}
