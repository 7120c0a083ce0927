/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The few RTP/RTCP facts icecam reads and writes on the media path (RFC 3550, 4585, 5104, 5761). */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ICECAM_RTCP_PLI_SIZE 12
#define ICECAM_RTCP_EMPTY_RR_SIZE 8

gboolean icecam_rtp_is_rtcp (const guint8 *data, gsize length);
gboolean icecam_rtp_get_ssrc (const guint8 *data, gsize length, guint32 *ssrc);
gboolean icecam_rtp_get_payload (const guint8 *data, gsize length, const guint8 **payload,
                                 gsize *payload_length);
gboolean icecam_rtp_h264_starts_keyframe (const guint8 *data, gsize length);
gboolean icecam_rtcp_has_keyframe_request (const guint8 *data, gsize length);
gboolean icecam_rtcp_starts_with_report (const guint8 *data, gsize length);
void icecam_rtcp_build_pli (guint8 out[ICECAM_RTCP_PLI_SIZE], guint32 sender_ssrc,
                            guint32 media_ssrc);
void icecam_rtcp_build_empty_rr (guint8 out[ICECAM_RTCP_EMPTY_RR_SIZE], guint32 sender_ssrc);

G_END_DECLS
