/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsrc: the camera's audio stamped to play with the video captured with it. */

#pragma once

#include <gst/gst.h>

#include "icecam-rtp-clock.h"

G_BEGIN_DECLS

typedef struct _GstIcecamLipSync GstIcecamLipSync;

GstIcecamLipSync *gst_icecam_lip_sync_new (void);
void gst_icecam_lip_sync_free (GstIcecamLipSync *self);
void gst_icecam_lip_sync_reset (GstIcecamLipSync *self);
void gst_icecam_lip_sync_set_enabled (GstIcecamLipSync *self, gboolean enabled);
gboolean gst_icecam_lip_sync_get_enabled (GstIcecamLipSync *self);
void gst_icecam_lip_sync_set_clock (GstIcecamLipSync *self, IcecamRtpClock *clock);
void gst_icecam_lip_sync_video (GstIcecamLipSync *self, GstBuffer *buf);
void gst_icecam_lip_sync_audio (GstIcecamLipSync *self, GstBuffer *buf, guint clock_rate);
gint64 gst_icecam_lip_sync_get_offset_ms (GstIcecamLipSync *self);

G_END_DECLS
