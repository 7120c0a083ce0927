/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsrc's `audio` pad: the camera's audio RTP, split from the video by payload type. */

#pragma once

#include <gst/gst.h>

#include "gsticecamlipsync.h"

G_BEGIN_DECLS

typedef struct _GstIcecamAudioOut GstIcecamAudioOut;

GstIcecamAudioOut *gst_icecam_audio_out_new (GstElement *element, GstPadTemplate *templ,
                                             GstIcecamLipSync *lip_sync);
void gst_icecam_audio_out_free (GstIcecamAudioOut *self);
void gst_icecam_audio_out_set_caps (GstIcecamAudioOut *self, GstCaps *caps);
gboolean gst_icecam_audio_out_claims (GstIcecamAudioOut *self, GstBuffer *buf);
void gst_icecam_audio_out_prepare (GstIcecamAudioOut *self, GstClockTime pts);
void gst_icecam_audio_out_push_eos (GstIcecamAudioOut *self);
void gst_icecam_audio_out_reset (GstIcecamAudioOut *self);

G_END_DECLS
