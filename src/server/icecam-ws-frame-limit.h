/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reads WebSocket frame headers as bytes stream past, to refuse a frame before its payload. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * IcecamWsFrameLimit:
 *
 * Follows the frames of one direction of a WebSocket (RFC 6455 section 5.2) through the bytes
 * read, without keeping any payload: only the header being read (at most 14 bytes) and how much
 * of the current frame is left. A frame announcing a payload over the limit, or a fragmented
 * message whose frames add up to more, is found as soon as its length field has arrived.
 * Pure code: no I/O, tested with byte strings. Zero-initialise it, then set @max_payload.
 */
typedef struct {
  guint64 max_payload;   /* bytes of one message at most */
  /* private */
  guint8 header[14];
  guint header_len;      /* header bytes read of the frame being started */
  guint64 payload_left;  /* payload bytes of the current frame still to come */
  guint64 message_len;   /* payload of the data message so far (all its fragments) */
  guint64 over_len;      /* once over: the length that was too much */
  gboolean over;
} IcecamWsFrameLimit;

gsize icecam_ws_frame_limit_feed (IcecamWsFrameLimit *limit, const guint8 *data, gsize len);

G_END_DECLS
