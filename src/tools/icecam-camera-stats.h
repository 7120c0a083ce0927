/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

guint icecam_camera_stats_start (GstElement *sink, guint seconds);

G_END_DECLS
