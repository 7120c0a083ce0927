/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-view's audio: icecamsrc's `audio` pad decoded and played (or counted, headless). */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* The audio plays this much after the instant icecamsrc stamps it with (lip-sync=true: the
 * arrival of the video captured with it): the video's decoding, and room for the audio's
 * jitter on the side that ITU-R BT.1359 tolerates more (sound late up to 125 ms, early only
 * up to 45 ms). */
#define ICECAM_VIEW_AUDIO_DELAY_MS 60

/* Decoding, before the sink; tests/av-skew.c builds its viewer with it. */
#define ICECAM_VIEW_AUDIO_DECODER \
  "queue max-size-time=500000000 leaky=downstream ! rtpopusdepay ! opusdec name=adec plc=true " \
  "! audioconvert ! audioresample"
/* The sink's settings: played on icecamsrc's stamps (autoaudiosink has no async property; the
 * headless fakesink adds async=false: it joins a playing pipeline, nothing to preroll). */
#define ICECAM_VIEW_AUDIO_SINK_SETTINGS "sync=true ts-offset=%d"

typedef struct _IcecamViewAudio IcecamViewAudio;

IcecamViewAudio *icecam_view_audio_new (GstElement *pipeline, GstElement *src, gboolean headless);
gint64 icecam_view_audio_get_ms (IcecamViewAudio *audio);
void icecam_view_audio_free (IcecamViewAudio *audio);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamViewAudio, icecam_view_audio_free)

G_END_DECLS
