/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsink's hold on the upstream encoder's bitrate, whatever the encoder. */

#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

GstElement *gst_icecam_find_upstream_encoder (GstElement *element);
gboolean gst_icecam_encoder_get_bitrate (GstElement *encoder, guint *kbps);
gboolean gst_icecam_encoder_set_bitrate (GstElement *encoder, guint kbps);

G_END_DECLS
