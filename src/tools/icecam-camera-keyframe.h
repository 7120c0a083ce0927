/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-camera: a requested keyframe is encoded from the last raw frame at once, not from the
 * source's next frame. */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* Names of the elements icecam_camera_keyframe_arm() works between in icecam-camera's
 * pipeline (src/tools/icecam-camera-source.c). */
#define ICECAM_CAMERA_RAW_QUEUE "rawqueue"
#define ICECAM_CAMERA_PAYLOADER "pay"

void icecam_camera_keyframe_arm (GstElement *raw_queue, GstElement *payloader);

G_END_DECLS
