/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Loss repair on the wire: generic NACK (RFC 4585 6.2.1) and RTX packets (RFC 4588). */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* At most this many sequence numbers are read from one compound packet. */
#define ICECAM_RTCP_MAX_NACKED 512

guint icecam_rtcp_parse_nacks (const guint8 *data, gsize length, guint16 *seqs, guint max_seqs);
gsize icecam_rtcp_build_nack (guint8 *out, gsize room, guint32 sender_ssrc, guint32 media_ssrc,
                              const guint16 *seqs, guint n_seqs);
gboolean icecam_rtp_get_seq (const guint8 *data, gsize length, guint16 *seq);
gboolean icecam_rtx_wrap (const guint8 *packet, gsize length, guint rtx_payload_type,
                          guint32 rtx_ssrc, guint16 rtx_seq, guint8 *out, gsize *out_length);
gboolean icecam_rtx_unwrap (const guint8 *packet, gsize length, guint payload_type,
                            guint32 ssrc, guint8 *out, gsize *out_length);

G_END_DECLS
