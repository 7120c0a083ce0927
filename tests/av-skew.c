/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* av-skew: how far apart a camera's audio and video play in a viewer built as icecam-view
 * builds its own (video shown as decoded, audio played on its stamps).
 *
 *   av-skew SERVER CAMERA SECONDS [lip-sync=true|false]
 *
 * The camera shows a white frame on every whole second of its running time and ticks at the
 * same instants (videotestsrc pattern=blink at 2 frames/s, audiotestsrc wave=ticks). Each
 * black-to-white frame's decoding time is paired with the nearest tick's first loud sample as
 * played; prints one line per pair and a summary line
 *   skew_ms median=M min=A max=B n=N
 * where a positive skew is audio after video. Exit status 1 when no pair was measured. */

#include <gst/gst.h>

#include "icecam-view-audio.h"
#include <stdlib.h>
#include <string.h>

#define WARM_UP (3 * GST_SECOND) /* the first sender reports come within a second */
#define LOUD 4000                /* S16 amplitude of a tick; silence is 0 */
#define QUIET_BEFORE (300 * GST_MSECOND)
#define MAX_EVENTS 256

typedef struct {
  GMutex lock;
  GstElement *pipeline;
  GstClockTime started;
  GstClockTime video[MAX_EVENTS], audio[MAX_EVENTS];
  guint n_video, n_audio;
  gboolean was_bright;
  GstClockTime last_loud;
} Skew;

static GstClockTime
clock_now (Skew *skew)
{
  g_autoptr (GstClock) clock = gst_element_get_clock (skew->pipeline);

  return clock != NULL ? gst_clock_get_time (clock) : GST_CLOCK_TIME_NONE;
}

static void
on_video (GstElement *sink, GstBuffer *buf, GstPad *pad, Skew *skew)
{
  GstMapInfo map;
  guint64 sum = 0;
  gsize n;
  gboolean bright;
  GstClockTime now = clock_now (skew);

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return;
  n = MIN (map.size, 4096); /* the top of the Y plane: the picture is one colour */
  for (gsize i = 0; i < n; i++)
    sum += map.data[i];
  gst_buffer_unmap (buf, &map);
  bright = n > 0 && sum / n > 128;
  g_mutex_lock (&skew->lock);
  if (bright && !skew->was_bright && now - skew->started > WARM_UP && skew->n_video < MAX_EVENTS)
    skew->video[skew->n_video++] = now;
  skew->was_bright = bright;
  g_mutex_unlock (&skew->lock);
}

static void
on_audio (GstElement *sink, GstBuffer *buf, GstPad *pad, Skew *skew)
{
  GstMapInfo map;
  GstClockTime now = clock_now (skew);
  gint rate = 48000;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);

  if (caps != NULL)
    gst_structure_get_int (gst_caps_get_structure (caps, 0), "rate", &rate);
  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return;
  g_mutex_lock (&skew->lock);
  for (gsize i = 0; i + 1 < map.size; i += 2) {
    gint16 sample = (gint16) GST_READ_UINT16_LE (map.data + i);
    GstClockTime at = now + gst_util_uint64_scale_int (i / 2, GST_SECOND, rate);

    if (ABS (sample) < LOUD)
      continue;
    if ((!GST_CLOCK_TIME_IS_VALID (skew->last_loud) || at - skew->last_loud > QUIET_BEFORE) &&
        now - skew->started > WARM_UP && skew->n_audio < MAX_EVENTS)
      skew->audio[skew->n_audio++] = at;
    skew->last_loud = at;
  }
  g_mutex_unlock (&skew->lock);
  gst_buffer_unmap (buf, &map);
}

static void
on_pad_added (GstElement *src, GstPad *pad, Skew *skew)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *description = NULL;
  GstElement *chain;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstPad) sinkpad = NULL;

  if (g_strcmp0 (GST_PAD_NAME (pad), "audio") != 0)
    return;
  /* icecam-view's audio chain (src/tools/icecam-view-audio.c), into a sink that listens. */
  description = g_strdup_printf (
      ICECAM_VIEW_AUDIO_DECODER " ! audio/x-raw,format=S16LE,channels=1 ! fakesink name=a async=false "
      ICECAM_VIEW_AUDIO_SINK_SETTINGS " signal-handoffs=true", ICECAM_VIEW_AUDIO_DELAY_MS * 1000000);
  chain = gst_parse_bin_from_description (description, TRUE, &error);
  if (chain == NULL) {
    g_printerr ("av-skew: %s\n", error->message);
    return;
  }
  sink = gst_bin_get_by_name (GST_BIN (chain), "a");
  g_signal_connect (sink, "handoff", G_CALLBACK (on_audio), skew);
  gst_bin_add (GST_BIN (skew->pipeline), chain);
  gst_element_sync_state_with_parent (chain);
  sinkpad = gst_element_get_static_pad (chain, "sink");
  gst_pad_link (pad, sinkpad);
}

static gint
compare_skew (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

int
main (int argc, char **argv)
{
  Skew skew = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *description = NULL;
  g_autoptr (GstElement) src = NULL, vsink = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstMessage) msg = NULL;
  gint64 skews[MAX_EVENTS];
  guint n = 0;

  gst_init (&argc, &argv);
  if (argc < 4) {
    g_printerr ("usage: av-skew SERVER CAMERA SECONDS [lip-sync=true|false]\n");
    return 2;
  }
  g_mutex_init (&skew.lock);
  skew.last_loud = GST_CLOCK_TIME_NONE;
  /* icecam-view's video chain (src/tools/icecam-view.c): shown as soon as decoded. */
  description = g_strdup_printf (
      "icecamsrc name=src server=%s camera-id=%s %s "
      "! rtpjitterbuffer latency=200 do-retransmission=true ! rtph264depay request-keyframe=true "
      "! avdec_h264 thread-type=slice ! fakesink name=v sync=false signal-handoffs=true",
      argv[1], argv[2], argc > 4 ? argv[4] : "");
  skew.pipeline = gst_parse_launch (description, &error);
  if (skew.pipeline == NULL) {
    g_printerr ("av-skew: %s\n", error->message);
    return 2;
  }
  src = gst_bin_get_by_name (GST_BIN (skew.pipeline), "src");
  vsink = gst_bin_get_by_name (GST_BIN (skew.pipeline), "v");
  g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added), &skew);
  g_signal_connect (vsink, "handoff", G_CALLBACK (on_video), &skew);
  gst_element_set_state (skew.pipeline, GST_STATE_PLAYING);
  skew.started = clock_now (&skew);
  bus = gst_element_get_bus (skew.pipeline);
  msg = gst_bus_timed_pop_filtered (bus, (GstClockTime) atoi (argv[3]) * GST_SECOND,
                                    GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  if (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (msg, &error, NULL);
    g_printerr ("av-skew: %s\n", error->message);
  }
  {
    g_autoptr (GstStructure) stats = NULL;
    gint64 offset_ms = 0;

    g_object_get (src, "stats", &stats, NULL);
    gst_structure_get_int64 (stats, "audio-offset-ms", &offset_ms);
    g_print ("audio stamped %+" G_GINT64_FORMAT " ms from its arrival\n", offset_ms);
  }
  gst_element_set_state (skew.pipeline, GST_STATE_NULL);

  for (guint i = 0; i < skew.n_video; i++) {
    gint64 best = G_MAXINT64;

    for (guint j = 0; j < skew.n_audio; j++) {
      gint64 d = GST_CLOCK_DIFF (skew.video[i], skew.audio[j]);

      if (ABS (d) < ABS (best))
        best = d;
    }
    if (ABS (best) < 500 * GST_MSECOND) {
      skews[n++] = best / GST_MSECOND;
      g_print ("flash %u: audio %+" G_GINT64_FORMAT " ms\n", i, best / GST_MSECOND);
    }
  }
  gst_object_unref (skew.pipeline);
  if (n == 0) {
    g_print ("skew_ms n=0 (video flashes %u, audio ticks %u)\n", skew.n_video, skew.n_audio);
    return 1;
  }
  qsort (skews, n, sizeof skews[0], compare_skew);
  g_print ("skew_ms median=%" G_GINT64_FORMAT " min=%" G_GINT64_FORMAT " max=%" G_GINT64_FORMAT
           " n=%u\n", skews[n / 2], skews[0], skews[n - 1], n);
  return 0;
}
