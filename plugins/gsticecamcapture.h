/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsink: when the content of each RTP packet was captured, for the sender reports. */

#pragma once

#include <gst/gst.h>

#include "icecam-camera-endpoint.h"

G_BEGIN_DECLS

/* The last RTP timestamp noted for one pad; zero-initialised means none. */
typedef struct {
  gboolean noted;
  guint32 timestamp;
} GstIcecamCaptureNote;

void gst_icecam_note_capture (GstElement *element, IcecamCameraEndpoint *endpoint,
                              const GstSegment *segment, GstBuffer *buf,
                              GstIcecamCaptureNote *last);

G_END_DECLS
