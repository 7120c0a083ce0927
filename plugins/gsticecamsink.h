/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsink: the camera side; RTP in, sent to every viewer over its own ICE session. */

#pragma once

#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_ICECAM_SINK (gst_icecam_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstIcecamSink, gst_icecam_sink, GST, ICECAM_SINK, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (icecamsink);

G_END_DECLS
