/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What an H.264 offer states about the stream (RFC 6184 8.1): profile-level-id from the SPS. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ICECAM_H264_PROFILE_LEVEL_ID_LENGTH 7 /* six hex digits and the NUL */

gboolean icecam_h264_profile_level_id_from_sps (const guint8 *nal, gsize length,
                                                gchar out[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH]);
gboolean icecam_h264_profile_level_id_from_sprop (const gchar *sprop,
                                                  gchar out[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH]);
gboolean icecam_rtp_h264_find_profile_level_id (const guint8 *data, gsize length,
                                                gchar out[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH]);
gchar *icecam_h264_fmtp_for_offer (const gchar *fmtp, const gchar *profile_level_id);
gchar *icecam_h264_fmtp_get (const gchar *fmtp, const gchar *name);

G_END_DECLS
