/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reads WebSocket frame headers as bytes stream past, to refuse a frame before its payload. */

#include "icecam-ws-frame-limit.h"

/* The header's size once its first two bytes are known: length field and mask included. */
static guint
header_size (const guint8 *header)
{
  guint size = 2;

  switch (header[1] & 0x7f) {
  case 126:
    size += 2;
    break;
  case 127:
    size += 8;
    break;
  default:
    break;
  }
  return size + ((header[1] & 0x80) ? 4 : 0);
}

static guint64
payload_length (const guint8 *header)
{
  guint64 length = header[1] & 0x7f;

  if (length == 126)
    return ((guint64) header[2] << 8) | header[3];
  if (length == 127) {
    length = 0;
    for (guint i = 2; i < 10; i++)
      length = (length << 8) | header[i];
  }
  return length;
}

/* A whole header was read: does its frame keep the message within the limit? Control frames
 * (opcode 8 and up) stand alone; a data frame with opcode 0 continues the message. */
static gboolean
header_done (IcecamWsFrameLimit *limit)
{
  guint64 length = payload_length (limit->header);
  guint8 opcode = limit->header[0] & 0x0f;

  limit->payload_left = length;
  if (opcode >= 8) {
    if (length > limit->max_payload)
      limit->over_len = length;
    return length <= limit->max_payload;
  }
  if (opcode != 0)
    limit->message_len = 0;
  /* No overflow: both are at most max_payload or caught here first. */
  if (length > limit->max_payload || limit->message_len > limit->max_payload - length) {
    limit->over_len = limit->message_len + MIN (length, G_MAXUINT64 - limit->message_len);
    return FALSE;
  }
  limit->message_len += length;
  return TRUE;
}

/**
 * icecam_ws_frame_limit_feed:
 * @limit: the limit, following one stream of frames
 * @data: (array length=len): the next bytes read
 * @len: how many
 *
 * Returns: how many of @data may be passed on: all of them, or, once a frame is over the
 *   limit, those before that frame's header (limit->over is then set; bytes of its header may
 *   have been passed in an earlier call, never its payload). Once over, always 0.
 */
gsize
icecam_ws_frame_limit_feed (IcecamWsFrameLimit *limit, const guint8 *data, gsize len)
{
  gsize at = 0;
  gsize header_start = 0; /* where the header being read began, if in these bytes */

  if (limit->over)
    return 0;
  while (at < len) {
    if (limit->payload_left > 0) {
      guint64 skip = MIN (limit->payload_left, (guint64) (len - at));

      limit->payload_left -= skip;
      at += skip;
      continue;
    }
    if (limit->header_len == 0)
      header_start = at;
    limit->header[limit->header_len++] = data[at++];
    if (limit->header_len < 2 || limit->header_len < header_size (limit->header))
      continue;
    limit->header_len = 0;
    if (!header_done (limit)) {
      limit->over = TRUE;
      return header_start;
    }
  }
  return len;
}
