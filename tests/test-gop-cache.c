/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of the GOP cache: which packets a new viewer gets, in which order, how fast. */

#include "icecam-gop-cache.h"

#include <string.h>

/* An H.264 RTP packet (RFC 6184) with sequence number @seq, timestamp @ts and one NAL unit
 * of @nal_type (5: IDR slice, 1: other slice, 7: SPS) padded to @size bytes. */
static GBytes *
make_packet (guint16 seq, guint32 ts, guint8 nal_type, gsize size)
{
  guint8 *data = g_malloc0 (size);

  data[0] = 0x80;
  data[1] = 0x80 | 96; /* marker: one packet per frame */
  data[2] = seq >> 8;
  data[3] = seq & 0xff;
  data[4] = ts >> 24;
  data[5] = (ts >> 16) & 0xff;
  data[6] = (ts >> 8) & 0xff;
  data[7] = ts & 0xff;
  data[12] = 0x60 | nal_type;
  return g_bytes_new_take (data, size);
}

/* Pushes one frame's packet; @idr makes it a keyframe. */
static void
push_frame (IcecamGopCache *cache, guint16 seq, gboolean idr, gsize size)
{
  g_autoptr (GBytes) packet = make_packet (seq, seq * 3600u, idr ? 5 : 1, size);
  gsize length;
  const guint8 *data = g_bytes_get_data (packet, &length);

  icecam_gop_cache_push (cache, &data, &length, 1);
}

static guint16
seq_of (GBytes *packet)
{
  const guint8 *data = g_bytes_get_data (packet, NULL);

  return (guint16) (data[2] << 8 | data[3]);
}

static void
test_gop_cache_empty (void)
{
  g_autoptr (IcecamGopCache) cache = icecam_gop_cache_new (1 << 20);
  IcecamGopCursor cursor = { 0 };

  /* Frames before any keyframe are of no use to a new viewer. */
  push_frame (cache, 1, FALSE, 100);
  g_assert_false (icecam_gop_cache_start (cache, &cursor, 0, NULL, NULL));
}

/* A viewer gets the keyframe and every packet after it, in order, then is live. */
static void
test_gop_cache_from_keyframe (void)
{
  g_autoptr (IcecamGopCache) cache = icecam_gop_cache_new (1 << 20);
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  IcecamGopCursor cursor = { 0 };
  guint n = 0, span = 0;

  push_frame (cache, 1, TRUE, 100);
  push_frame (cache, 2, FALSE, 100);
  push_frame (cache, 3, TRUE, 100);
  for (guint16 seq = 4; seq <= 10; seq++)
    push_frame (cache, seq, FALSE, 100);
  g_assert_true (icecam_gop_cache_start (cache, &cursor, 0, &n, &span));
  g_assert_cmpuint (n, ==, 8);
  g_assert_cmpuint (span, ==, 7 * 40); /* 3600 ticks of 90 kHz per frame */
  g_assert_cmpint (icecam_gop_cache_take (cache, &cursor, 0, out), ==, ICECAM_GOP_CURSOR_LIVE);
  g_assert_cmpuint (out->len, ==, 8);
  for (guint i = 0; i < out->len; i++)
    g_assert_cmpuint (seq_of (g_ptr_array_index (out, i)), ==, 3 + i);
  icecam_gop_cursor_clear (&cursor);
}

/* A packet with @payload after the RTP header; @marker ends the access unit. */
static GBytes *
make_payload_packet (guint16 seq, guint32 ts, gboolean marker, const guint8 *payload, gsize size)
{
  guint8 *data = g_malloc0 (12 + size);

  data[0] = 0x80;
  data[1] = (marker ? 0x80 : 0) | 96;
  data[2] = seq >> 8;
  data[3] = seq & 0xff;
  data[4] = ts >> 24;
  data[5] = (ts >> 16) & 0xff;
  data[6] = (ts >> 8) & 0xff;
  data[7] = ts & 0xff;
  memcpy (data + 12, payload, size);
  return g_bytes_new_take (data, 12 + size);
}

static void
push_bytes (IcecamGopCache *cache, GBytes *packet)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (packet, &length);

  icecam_gop_cache_push (cache, &data, &length, 1);
  g_bytes_unref (packet);
}

/* A keyframe too big for one packet, as rtph264pay sends it: a STAP-A of the parameter sets,
 * then the IDR slice in FU-A fragments, all with the keyframe's timestamp. Its group starts at
 * the STAP-A (Chromium cannot decode the IDR without it), not at the IDR's first fragment; the
 * next keyframe, whose first packet looks the same, starts the next group. */
static void
test_gop_cache_parameter_sets (void)
{
  static const guint8 stap_a[] = { 0x78, 0, 4, 0x67, 0x42, 0xc0, 0x1e, 0, 2, 0x68, 0xce };
  static const guint8 fu_start[] = { 0x7c, 0x85, 0xaa, 0xbb };
  static const guint8 fu_end[] = { 0x7c, 0x45, 0xcc };
  static const guint8 slice[] = { 0x41, 0x9a };
  g_autoptr (IcecamGopCache) cache = icecam_gop_cache_new (1 << 20);
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  IcecamGopCursor cursor = { 0 };
  guint n = 0;

  for (guint k = 0; k < 2; k++) {
    guint16 base = (guint16) (10 * k + 1);
    guint32 ts = 90000u * (k + 1);

    push_bytes (cache, make_payload_packet (base, ts, FALSE, stap_a, sizeof stap_a));
    push_bytes (cache, make_payload_packet (base + 1, ts, FALSE, fu_start, sizeof fu_start));
    push_bytes (cache, make_payload_packet (base + 2, ts, TRUE, fu_end, sizeof fu_end));
    push_bytes (cache, make_payload_packet (base + 3, ts + 3600, TRUE, slice, sizeof slice));
  }
  g_assert_true (icecam_gop_cache_start (cache, &cursor, 0, &n, NULL));
  g_assert_cmpuint (n, ==, 4);
  g_assert_cmpint (icecam_gop_cache_take (cache, &cursor, 0, out), ==, ICECAM_GOP_CURSOR_LIVE);
  g_assert_cmpuint (out->len, ==, 4);
  for (guint i = 0; i < out->len; i++)
    g_assert_cmpuint (seq_of (g_ptr_array_index (out, i)), ==, 11 + i);
  icecam_gop_cursor_clear (&cursor);
}

/* Paced: the burst at once, then the rate; packets pushed meanwhile come after, and a new
 * keyframe while it catches up does not make it skip any. */
static void
test_gop_cache_paced (void)
{
  g_autoptr (IcecamGopCache) cache = icecam_gop_cache_new (16 << 20);
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  IcecamGopCursor cursor = { 0 };
  const gsize size = 1000;
  const guint frames = 2 * ICECAM_GOP_CACHE_BURST_BYTES / size;
  gint64 now = 1000000;
  guint16 seq = 1;
  IcecamGopCursorState state;

  push_frame (cache, seq++, TRUE, size);
  while (seq <= frames)
    push_frame (cache, seq++, FALSE, size);
  g_assert_true (icecam_gop_cache_start (cache, &cursor, now, NULL, NULL));
  g_assert_cmpint (icecam_gop_cache_take (cache, &cursor, now, out), ==,
                   ICECAM_GOP_CURSOR_CATCHING_UP);
  /* The burst: as many packets as fit in it, and one more (a packet is never split). */
  g_assert_cmpuint (out->len, ==, ICECAM_GOP_CACHE_BURST_BYTES / size + 1);
  push_frame (cache, seq++, TRUE, size); /* a keyframe while it catches up */
  push_frame (cache, seq++, FALSE, size);
  do {
    now += 10000;
    state = icecam_gop_cache_take (cache, &cursor, now, out);
  } while (state == ICECAM_GOP_CURSOR_CATCHING_UP && now < 60 * G_USEC_PER_SEC);
  g_assert_cmpint (state, ==, ICECAM_GOP_CURSOR_LIVE);
  g_assert_cmpuint (out->len, ==, seq - 1);
  for (guint i = 0; i < out->len; i++)
    g_assert_cmpuint (seq_of (g_ptr_array_index (out, i)), ==, 1 + i);
  /* At the rate: the second burst's worth took about its time. */
  g_assert_cmpint (now - 1000000, >=, (gint64) (frames + 2 - ICECAM_GOP_CACHE_BURST_BYTES / size)
                   * size * G_USEC_PER_SEC / ICECAM_GOP_CACHE_RATE_BYTES_PER_S - 10000);
  icecam_gop_cursor_clear (&cursor);
}

/* A group over the limit is given up until the next keyframe. */
static void
test_gop_cache_too_big (void)
{
  g_autoptr (IcecamGopCache) cache = icecam_gop_cache_new (1000);
  g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  IcecamGopCursor cursor = { 0 };

  push_frame (cache, 1, TRUE, 400);
  push_frame (cache, 2, FALSE, 400);
  g_assert_true (icecam_gop_cache_start (cache, &cursor, 0, NULL, NULL));
  push_frame (cache, 3, FALSE, 400); /* over 1000 bytes */
  g_assert_cmpint (icecam_gop_cache_take (cache, &cursor, 0, out), ==, ICECAM_GOP_CURSOR_LOST);
  icecam_gop_cursor_clear (&cursor);
  g_assert_false (icecam_gop_cache_start (cache, &cursor, 0, NULL, NULL));
  push_frame (cache, 4, TRUE, 400);
  g_assert_true (icecam_gop_cache_start (cache, &cursor, 0, NULL, NULL));
  icecam_gop_cursor_clear (&cursor);
}

/* Garbage and truncated packets are kept or skipped, never read past their end. */
static void
test_gop_cache_garbage (void)
{
  g_autoptr (IcecamGopCache) cache = icecam_gop_cache_new (1 << 20);
  const guint8 short_packet[3] = { 0x80, 0x60, 0x00 };
  const guint8 *data = short_packet;
  gsize length = sizeof short_packet;
  IcecamGopCursor cursor = { 0 };

  icecam_gop_cache_push (cache, &data, &length, 1);
  length = 0;
  icecam_gop_cache_push (cache, &data, &length, 1);
  g_assert_false (icecam_gop_cache_start (cache, &cursor, 0, NULL, NULL));
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gop-cache/empty", test_gop_cache_empty);
  g_test_add_func ("/gop-cache/from-keyframe", test_gop_cache_from_keyframe);
  g_test_add_func ("/gop-cache/parameter-sets", test_gop_cache_parameter_sets);
  g_test_add_func ("/gop-cache/paced", test_gop_cache_paced);
  g_test_add_func ("/gop-cache/too-big", test_gop_cache_too_big);
  g_test_add_func ("/gop-cache/garbage", test_gop_cache_garbage);
  return g_test_run ();
}
