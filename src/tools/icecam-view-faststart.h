/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-view: the jitterbuffer's first packet passes at once (faststart), not after its latency. */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

void icecam_view_faststart_arm (GstElement *jitterbuffer);

G_END_DECLS
