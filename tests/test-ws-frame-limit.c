/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests: IcecamWsFrameLimit finds a WebSocket message over the limit from its header. */

#include <string.h>

#include "icecam-ws-frame-limit.h"

#define LIMIT 1000

/* A masked client frame header (mask zero) for @length bytes. */
static gsize
header (guint8 *out, guint8 first, guint64 length)
{
  gsize at = 0;

  out[at++] = first;
  if (length < 126) {
    out[at++] = 0x80 | (guint8) length;
  } else if (length <= G_MAXUINT16) {
    out[at++] = 0x80 | 126;
    out[at++] = (guint8) (length >> 8);
    out[at++] = (guint8) length;
  } else {
    out[at++] = 0x80 | 127;
    for (gint shift = 56; shift >= 0; shift -= 8)
      out[at++] = (guint8) (length >> shift);
  }
  memset (out + at, 0, 4);
  return at + 4;
}

/* Frames within the limit pass whole, fed in pieces of every size. */
static void
test_within (void)
{
  g_autoptr (GByteArray) stream = g_byte_array_new ();
  guint8 h[14];
  guint8 payload[LIMIT] = { 0 };

  g_byte_array_append (stream, h, header (h, 0x81, 5));
  g_byte_array_append (stream, payload, 5);
  g_byte_array_append (stream, h, header (h, 0x81, LIMIT));
  g_byte_array_append (stream, payload, LIMIT);
  g_byte_array_append (stream, h, header (h, 0x89, 0)); /* a ping */
  g_byte_array_append (stream, h, header (h, 0x01, 400)); /* 400 + 600 fragments */
  g_byte_array_append (stream, payload, 400);
  g_byte_array_append (stream, h, header (h, 0x80, 600));
  g_byte_array_append (stream, payload, 600);
  for (gsize piece = 1; piece <= stream->len; piece = piece * 2 + 1) {
    IcecamWsFrameLimit limit = { .max_payload = LIMIT };

    for (gsize at = 0; at < stream->len; at += piece) {
      gsize len = MIN (piece, stream->len - at);

      g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, stream->data + at, len), ==, len);
    }
    g_assert_false (limit.over);
  }
}

/* A frame announcing 2 MiB after a good one: the good one passes, the big one's header does
 * not, and nothing after it does. */
static void
test_oversized_frame (void)
{
  g_autoptr (GByteArray) stream = g_byte_array_new ();
  IcecamWsFrameLimit limit = { .max_payload = LIMIT };
  guint8 h[14];
  guint8 payload[10] = { 0 };
  gsize first;

  g_byte_array_append (stream, h, header (h, 0x81, 10));
  g_byte_array_append (stream, payload, 10);
  first = stream->len;
  g_byte_array_append (stream, h, header (h, 0x81, 2 * 1024 * 1024));
  g_byte_array_append (stream, payload, 10);
  g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, stream->data, stream->len), ==, first);
  g_assert_true (limit.over);
  g_assert_cmpuint (limit.over_len, ==, 2 * 1024 * 1024);
  g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, payload, 10), ==, 0);
}

/* The header split across reads: the bytes of it already passed stay passed (libsoup cannot
 * act on a partial header), the rest is held back. */
static void
test_split_header (void)
{
  IcecamWsFrameLimit limit = { .max_payload = LIMIT };
  guint8 h[14];
  gsize len = header (h, 0x82, G_MAXUINT64 >> 1);

  g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, h, 3), ==, 3);
  g_assert_false (limit.over);
  g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, h + 3, len - 3), ==, 0);
  g_assert_true (limit.over);
}

/* Fragments each within the limit that add up to more; a new message starts the count again. */
static void
test_fragments (void)
{
  IcecamWsFrameLimit limit = { .max_payload = LIMIT };
  guint8 h[14];
  guint8 payload[600] = { 0 };
  gsize len;

  for (guint round = 0; round < 2; round++) {
    len = header (h, 0x81, 600);
    g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, h, len), ==, len);
    g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, payload, 600), ==, 600);
  }
  len = header (h, 0x01, 600);
  g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, h, len), ==, len);
  g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, payload, 600), ==, 600);
  /* A ping between fragments counts for itself only. */
  len = header (h, 0x89, 100);
  g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, h, len), ==, len);
  g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, payload, 100), ==, 100);
  len = header (h, 0x80, 401);
  g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, h, len), ==, 0);
  g_assert_true (limit.over);
  g_assert_cmpuint (limit.over_len, ==, 1001);
}

/* Every byte string: no crash, and what passes is a prefix. */
static void
test_random (void)
{
  for (guint i = 0; i < 2000; i++) {
    IcecamWsFrameLimit limit = { .max_payload = g_test_rand_int_range (0, 70000) };
    guint8 data[64];
    gsize len = (gsize) g_test_rand_int_range (0, sizeof data);

    for (gsize j = 0; j < len; j++)
      data[j] = (guint8) g_test_rand_int_range (0, 256);
    g_assert_cmpuint (icecam_ws_frame_limit_feed (&limit, data, len), <=, len);
  }
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ws-frame-limit/within", test_within);
  g_test_add_func ("/ws-frame-limit/oversized", test_oversized_frame);
  g_test_add_func ("/ws-frame-limit/split-header", test_split_header);
  g_test_add_func ("/ws-frame-limit/fragments", test_fragments);
  g_test_add_func ("/ws-frame-limit/random", test_random);
  return g_test_run ();
}
