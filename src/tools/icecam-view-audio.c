/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-view's audio: icecamsrc's `audio` pad decoded and played (or counted, headless). */

#include "icecam-view-audio.h"

/**
 * IcecamViewAudio:
 *
 * When icecamsrc adds its `audio` pad (the camera's offer has Opus), a chain
 * "queue ! rtpopusdepay ! opusdec ! audioconvert ! audioresample ! autoaudiosink" joins the
 * pipeline (headless: a fakesink) and the decoded audio is counted. The chain is made once
 * and linked again to the pad of each new session. The video is shown as soon as it is
 * decoded; the audio is played on its stamps (sync=true), which icecamsrc sets from the
 * camera's sender reports to the arrival of the video captured with it (lip-sync), plus
 * ICECAM_VIEW_AUDIO_DELAY_MS: so the two play together however differently the camera's
 * encoders delay them (tests/test-audio.sh measures it). pad-added and the probe run in the
 * streaming thread.
 */
struct _IcecamViewAudio {
  GstElement *pipeline;   /* not references: the pipeline outlives this */
  GstElement *src;
  gboolean headless;
  GstElement *chain;      /* (nullable): made on the first audio pad */
  gint64 decoded_us;      /* atomic */
  gulong handler;
};

static GstPadProbeReturn
on_decoded_audio (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  IcecamViewAudio *self = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (GST_BUFFER_DURATION_IS_VALID (buf))
    __atomic_add_fetch (&self->decoded_us, (gint64) (GST_BUFFER_DURATION (buf) / GST_USECOND),
                        __ATOMIC_RELAXED);
  return GST_PAD_PROBE_OK;
}

static GstElement *
make_chain (IcecamViewAudio *self, GError **error)
{
  g_autofree gchar *description = g_strdup_printf (
      ICECAM_VIEW_AUDIO_DECODER " ! %s " ICECAM_VIEW_AUDIO_SINK_SETTINGS,
      self->headless ? "fakesink async=false" : "autoaudiosink", ICECAM_VIEW_AUDIO_DELAY_MS * 1000000);
  GstElement *chain = gst_parse_bin_from_description (description, TRUE, error);
  g_autoptr (GstElement) dec = NULL;
  g_autoptr (GstPad) pad = NULL;

  if (chain == NULL)
    return NULL;
  gst_element_set_name (chain, "audio");
  dec = gst_bin_get_by_name (GST_BIN (chain), "adec");
  pad = gst_element_get_static_pad (dec, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_decoded_audio, self, NULL);
  return chain;
}

static void
on_src_pad_added (GstElement *src, GstPad *pad, gpointer data)
{
  IcecamViewAudio *self = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstPad) sink = NULL;

  /* A camera without audio: icecamsrc's pad has no caps and ends at once; linked alone (before
   * the video's chain) its EOS would end the pipeline. */
  if (g_strcmp0 (GST_PAD_NAME (pad), "audio") != 0 || !gst_pad_has_current_caps (pad))
    return;
  if (self->chain == NULL) {
    self->chain = make_chain (self, &error);
    if (self->chain == NULL) {
      g_printerr ("icecam-view: no audio: %s\n", error->message);
      return;
    }
    gst_bin_add (GST_BIN (self->pipeline), self->chain);
    gst_element_sync_state_with_parent (self->chain);
  }
  sink = gst_element_get_static_pad (self->chain, "sink");
  if (gst_pad_link (pad, sink) != GST_PAD_LINK_OK)
    g_printerr ("icecam-view: cannot play the camera's audio\n");
}

IcecamViewAudio *
icecam_view_audio_new (GstElement *pipeline, GstElement *src, gboolean headless)
{
  IcecamViewAudio *self = g_new0 (IcecamViewAudio, 1);

  self->pipeline = pipeline;
  self->src = src;
  self->headless = headless;
  self->handler = g_signal_connect (src, "pad-added", G_CALLBACK (on_src_pad_added), self);
  return self;
}

/* Milliseconds of audio decoded so far. Thread-safe. */
gint64
icecam_view_audio_get_ms (IcecamViewAudio *self)
{
  return __atomic_load_n (&self->decoded_us, __ATOMIC_RELAXED) / 1000;
}

void
icecam_view_audio_free (IcecamViewAudio *self)
{
  if (self == NULL)
    return;
  g_signal_handler_disconnect (self->src, self->handler);
  g_free (self);
}
