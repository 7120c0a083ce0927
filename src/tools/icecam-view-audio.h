/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-view's audio: icecamsrc's `audio` pad decoded and played (or counted, headless). */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _IcecamViewAudio IcecamViewAudio;

IcecamViewAudio *icecam_view_audio_new (GstElement *pipeline, GstElement *src, gboolean headless);
gint64 icecam_view_audio_get_ms (IcecamViewAudio *audio);
void icecam_view_audio_free (IcecamViewAudio *audio);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamViewAudio, icecam_view_audio_free)

G_END_DECLS
