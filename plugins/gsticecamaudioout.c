/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsrc's `audio` pad: the camera's audio RTP, split from the video by payload type. */

#include "gsticecamaudioout.h"

#include <gst/rtp/rtp.h>

/**
 * GstIcecamAudioOut:
 *
 * The "sometimes" pad `audio` of icecamsrc. It appears in the streaming thread before the
 * first video buffer (or the first audio packet, if that comes first); when the camera's offer
 * has no audio section it ends at once (EOS). It outputs RTP with the caps of that section (application/x-rtp,media=audio,
 * encoding-name=OPUS), timestamped on arrival like the video, so the two share one time line,
 * then moved on it to the arrival of the video captured at the same time (gsticecamlipsync.c).
 * The set_caps() call comes from the worker thread; the rest runs in icecamsrc's streaming
 * thread.
 */
struct _GstIcecamAudioOut {
  GstElement *element;     /* not a reference: the element owns this */
  GstIcecamLipSync *lip_sync; /* not owned */
  GstPadTemplate *templ;
  GMutex lock;             /* protects caps and payload_type */
  GstCaps *caps;           /* (nullable): from the offer */
  gint payload_type;       /* -1: no audio in the offer */
  gint clock_rate;         /* of the offer's audio */
  GstPad *pad;             /* (nullable): streaming thread only */
  GstCaps *pad_caps;       /* the caps the pad has sent */
  gboolean eos;
};

GstIcecamAudioOut *
gst_icecam_audio_out_new (GstElement *element, GstPadTemplate *templ, GstIcecamLipSync *lip_sync)
{
  GstIcecamAudioOut *self = g_new0 (GstIcecamAudioOut, 1);

  self->lip_sync = lip_sync;
  self->element = element;
  self->templ = templ;
  self->payload_type = -1;
  g_mutex_init (&self->lock);
  return self;
}

void
gst_icecam_audio_out_reset (GstIcecamAudioOut *self)
{
  if (self->pad != NULL) {
    gst_pad_set_active (self->pad, FALSE);
    gst_element_remove_pad (self->element, self->pad);
    self->pad = NULL;
  }
  gst_caps_replace (&self->pad_caps, NULL);
  self->eos = FALSE;
}

void
gst_icecam_audio_out_free (GstIcecamAudioOut *self)
{
  if (self == NULL)
    return;
  gst_caps_replace (&self->caps, NULL);
  gst_caps_replace (&self->pad_caps, NULL);
  g_mutex_clear (&self->lock);
  g_free (self);
}

/* @caps: an audio section's caps, from the camera's offer; only Opus is taken. */
void
gst_icecam_audio_out_set_caps (GstIcecamAudioOut *self, GstCaps *caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gint pt = -1, clock_rate = 0;

  gst_structure_get_int (s, "clock-rate", &clock_rate);
  if (g_strcmp0 (gst_structure_get_string (s, "encoding-name"), "OPUS") != 0 ||
      !gst_structure_get_int (s, "payload", &pt)) {
    GST_WARNING_OBJECT (self->element, "audio that is not Opus ignored: %" GST_PTR_FORMAT, caps);
    return;
  }
  g_mutex_lock (&self->lock);
  gst_caps_replace (&self->caps, caps);
  self->payload_type = pt;
  self->clock_rate = clock_rate;
  g_mutex_unlock (&self->lock);
}

/* @caps: (nullable): NULL for a pad that only ends (a camera without audio) */
static void
add_pad (GstIcecamAudioOut *self, GstCaps *caps)
{
  g_autofree gchar *stream_id = NULL;
  GstSegment segment;

  self->pad = gst_pad_new_from_template (self->templ, "audio");
  gst_pad_use_fixed_caps (self->pad);
  gst_pad_set_active (self->pad, TRUE);
  stream_id = gst_pad_create_stream_id (self->pad, self->element, "audio");
  gst_pad_push_event (self->pad, gst_event_new_stream_start (stream_id));
  if (caps != NULL)
    gst_pad_push_event (self->pad, gst_event_new_caps (caps));
  gst_caps_replace (&self->pad_caps, caps);
  gst_element_add_pad (self->element, self->pad);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  gst_pad_push_event (self->pad, gst_event_new_segment (&segment));
}

/* Streaming thread: pushes @buf on the audio pad if it is the offer's audio (takes it, TRUE);
 * else leaves it to the caller (FALSE). */
gboolean
gst_icecam_audio_out_claims (GstIcecamAudioOut *self, GstBuffer *buf)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  g_autoptr (GstCaps) caps = NULL;
  gint pt, clock_rate;

  g_mutex_lock (&self->lock);
  pt = self->payload_type;
  clock_rate = self->clock_rate;
  if (self->caps != NULL)
    caps = gst_caps_ref (self->caps);
  g_mutex_unlock (&self->lock);
  if (pt < 0 || caps == NULL || !gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
    return FALSE;
  if (gst_rtp_buffer_get_payload_type (&rtp) != pt) {
    gst_rtp_buffer_unmap (&rtp);
    return FALSE;
  }
  gst_rtp_buffer_unmap (&rtp);
  if (self->pad == NULL)
    add_pad (self, caps);
  if (self->pad_caps == NULL || !gst_caps_is_equal (self->pad_caps, caps)) {
    gst_caps_replace (&self->pad_caps, caps);
    gst_pad_push_event (self->pad, gst_event_new_caps (caps));
  }
  gst_icecam_lip_sync_audio (self->lip_sync, buf, (guint) MAX (clock_rate, 0));
  /* A branch that is not linked, or that stopped, does not stop the video. */
  gst_pad_push (self->pad, buf);
  return TRUE;
}

/* Streaming thread, before the first video buffer (stamped @pts) is pushed: the pad appears
 * now, not at the first audio packet, with a gap event that lets a sink linked to it preroll;
 * a camera without audio gets a pad that ends at once (EOS). Otherwise the video sink of a
 * pipeline with sinks on both pads (gst-launch's `src.audio ! ... ! autoaudiosink`) would
 * preroll on the first frame and hold this thread, the only one that pushes audio, waiting for
 * PLAYING, which waits for the audio sink to preroll: a deadlock. */
void
gst_icecam_audio_out_prepare (GstIcecamAudioOut *self, GstClockTime pts)
{
  g_autoptr (GstCaps) caps = NULL;

  if (self->pad != NULL)
    return;
  g_mutex_lock (&self->lock);
  if (self->caps != NULL)
    caps = gst_caps_ref (self->caps);
  g_mutex_unlock (&self->lock);
  add_pad (self, caps);
  if (caps == NULL) {
    self->eos = TRUE;
    gst_pad_push_event (self->pad, gst_event_new_eos ());
    return;
  }
  gst_pad_push_event (self->pad, gst_event_new_gap (GST_CLOCK_TIME_IS_VALID (pts) ? pts : 0, 0));
}

void
gst_icecam_audio_out_push_eos (GstIcecamAudioOut *self)
{
  if (self->pad != NULL && !self->eos) {
    self->eos = TRUE;
    gst_pad_push_event (self->pad, gst_event_new_eos ());
  }
}
