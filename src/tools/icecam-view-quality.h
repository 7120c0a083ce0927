/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-view's picture of the stream's quality: fps, freezes, loss after repair, rate. */

#pragma once

#include <gst/gst.h>

#include "icecam-tool-summary.h"

G_BEGIN_DECLS

/* Frames further apart than this are a freeze. */
#define ICECAM_VIEW_FREEZE_US (500 * 1000)
/* The jitter buffer waits this long for a missing packet (NACK and retransmission). */
#define ICECAM_VIEW_REPAIR_LATENCY_MS 200

typedef struct _IcecamViewQuality IcecamViewQuality;

IcecamViewQuality *icecam_view_quality_new (void);
void icecam_view_quality_free (IcecamViewQuality *self);
void icecam_view_quality_frame (IcecamViewQuality *self, gint64 now);
void icecam_view_quality_set_elements (IcecamViewQuality *self, GstElement *src,
                                       GstElement *jitterbuffer);
gchar *icecam_view_quality_format_interval (IcecamViewQuality *self, gint64 now);
void icecam_view_quality_add_to_summary (IcecamViewQuality *self, IcecamToolSummary *summary,
                                         gint64 now);

G_END_DECLS
