/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The WebSocket output's own pings land between frames, never inside one; the ping wheel
 * pings every output once per interval, spread over it. */

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "icecam-ping-wheel.h"
#include "icecam-ws-output.h"

/* A server frame (unmasked) with @len bytes of payload, all @fill. */
static GByteArray *
make_frame (guint8 opcode, gsize len, guint8 fill)
{
  GByteArray *frame = g_byte_array_new ();
  guint8 header[10] = { 0x80 | opcode };
  gsize n = 2;

  if (len < 126) {
    header[1] = (guint8) len;
  } else if (len < 65536) {
    header[1] = 126;
    header[2] = (guint8) (len >> 8);
    header[3] = (guint8) len;
    n = 4;
  } else {
    header[1] = 127;
    for (guint i = 0; i < 8; i++)
      header[2 + i] = (guint8) ((guint64) len >> (56 - 8 * i));
    n = 10;
  }
  g_byte_array_append (frame, header, n);
  for (gsize i = 0; i < len; i++)
    g_byte_array_append (frame, &fill, 1);
  return frame;
}

/* Splits @data into frames; fails the test on a frame cut short. Returns "opcode:length" per
 * frame, space-separated. */
static gchar *
parse_frames (const guint8 *data, gsize len)
{
  GString *out = g_string_new (NULL);
  gsize at = 0;

  while (at < len) {
    guint64 length;
    gsize header = 2;

    g_assert_cmpuint (len - at, >=, 2);
    length = data[at + 1] & 0x7f;
    if (length == 126) {
      g_assert_cmpuint (len - at, >=, 4);
      length = ((guint64) data[at + 2] << 8) | data[at + 3];
      header = 4;
    } else if (length == 127) {
      g_assert_cmpuint (len - at, >=, 10);
      length = 0;
      for (guint i = 0; i < 8; i++)
        length = (length << 8) | data[at + 2 + i];
      header = 10;
    }
    g_assert_cmpuint (len - at - header, >=, length);
    g_string_append_printf (out, "%s%x:%" G_GUINT64_FORMAT, out->len ? " " : "",
                            data[at] & 0x0f, length);
    at += header + (gsize) length;
  }
  return g_string_free (out, FALSE);
}

static void
write_part (IcecamWsOutput *output, const guint8 *data, gsize len)
{
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (g_pollable_output_stream_write_nonblocking (
                     G_POLLABLE_OUTPUT_STREAM (output), data, len, NULL, &error),
                   ==, (gssize) len);
  g_assert_no_error (error);
}

static gchar *
written (GOutputStream *memory)
{
  return parse_frames (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (memory)),
                       g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (memory)));
}

/* A ping asked for in the middle of a frame (header, 16-bit and 64-bit lengths, each cut at
 * every kind of place) goes out right after the frame, once. */
static void
test_ping_between_frames (void)
{
  const gsize lengths[] = { 0, 5, 125, 126, 300, 65535, 65536, 70000 };

  for (guint l = 0; l < G_N_ELEMENTS (lengths); l++) {
    g_autoptr (GByteArray) frame = make_frame (0x1, lengths[l], 'a');
    guint cuts[] = { 1, 2, 3, frame->len / 2, frame->len - 1 };

    for (guint c = 0; c < G_N_ELEMENTS (cuts); c++) {
      g_autoptr (GOutputStream) memory = g_memory_output_stream_new_resizable ();
      g_autoptr (IcecamWsOutput) output = icecam_ws_output_new (memory);
      g_autoptr (GByteArray) second = make_frame (0x2, 3, 'b');
      g_autofree gchar *frames = NULL;
      g_autofree gchar *expected = NULL;
      guint cut = MIN (cuts[c], frame->len - 1);

      if (cut == 0)
        continue;
      write_part (output, frame->data, cut);
      g_assert_false (icecam_ws_output_at_boundary (output));
      icecam_ws_output_ping (output);
      icecam_ws_output_ping (output); /* the same ping */
      g_assert_cmpuint (g_memory_output_stream_get_data_size (
                          G_MEMORY_OUTPUT_STREAM (memory)), ==, cut);
      write_part (output, frame->data + cut, frame->len - cut);
      g_assert_true (icecam_ws_output_at_boundary (output));
      write_part (output, second->data, second->len);
      frames = written (memory);
      expected = g_strdup_printf ("1:%" G_GSIZE_FORMAT " 9:0 2:3", lengths[l]);
      g_assert_cmpstr (frames, ==, expected);
    }
  }
}

/* Between frames a ping goes out at once; several frames in one write are followed exactly. */
static void
test_ping_at_once (void)
{
  g_autoptr (GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr (IcecamWsOutput) output = icecam_ws_output_new (memory);
  g_autoptr (GByteArray) both = make_frame (0x1, 200, 'a');
  g_autoptr (GByteArray) close = make_frame (0x8, 2, 0x03);
  g_autofree gchar *frames = NULL;

  icecam_ws_output_ping (output);
  g_byte_array_append (both, close->data, close->len);
  write_part (output, both->data, both->len);
  icecam_ws_output_ping (output);
  frames = written (memory);
  g_assert_cmpstr (frames, ==, "9:0 1:200 8:2 9:0");

  /* Closed: no more pings. */
  g_assert_true (g_output_stream_close (G_OUTPUT_STREAM (output), NULL, NULL));
  icecam_ws_output_ping (output);
}

/* Our texts: at once between libsoup's frames, else right after libsoup's frame, in order,
 * with a ping asked for meanwhile; lengths with 7-, 16- and 64-bit length fields. */
static void
test_text_between_frames (void)
{
  g_autoptr (GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr (IcecamWsOutput) output = icecam_ws_output_new (memory);
  g_autoptr (GByteArray) frame = make_frame (0x2, 300, 'a');
  g_autoptr (GByteArray) close = make_frame (0x8, 2, 0x03);
  g_autofree gchar *big = g_strnfill (70000, 'x');
  g_autofree gchar *frames = NULL;
  gsize size;
  const guint8 *data;

  icecam_ws_output_send_text (output, "{\"a\":1}", 7);
  write_part (output, frame->data, 10);
  icecam_ws_output_send_text (output, big, 125);
  icecam_ws_output_ping (output);
  icecam_ws_output_send_text (output, big, 126);
  g_assert_cmpuint (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (memory)),
                    ==, 2 + 7 + 10);
  write_part (output, frame->data + 10, frame->len - 10);
  icecam_ws_output_send_text (output, big, 70000);
  write_part (output, close->data, close->len);
  frames = written (memory);
  g_assert_cmpstr (frames, ==, "1:7 2:300 1:125 1:126 9:0 1:70000 8:2");
  data = g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (memory));
  g_assert_cmpmem (data + 2, 7, "{\"a\":1}", 7);
  g_assert_cmpuint (data[0], ==, 0x81);

  /* Closed: nothing more of ours. */
  size = g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (memory));
  g_assert_true (g_output_stream_close (G_OUTPUT_STREAM (output), NULL, NULL));
  icecam_ws_output_send_text (output, "{}", 2);
  g_assert_cmpuint (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (memory)),
                    ==, size);
}

/* A text larger than the socket takes: the rest goes when the socket is writable again, with
 * no write of libsoup's to carry it, and libsoup's next frame waits behind it. */
static void
test_text_socket_full (void)
{
  enum { BIG = 4 * 1024 * 1024 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) ours = NULL;
  g_autoptr (GSocket) peer = NULL;
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (IcecamWsOutput) output = NULL;
  g_autoptr (GByteArray) frame = make_frame (0x2, 3, 'b');
  g_autoptr (GByteArray) received = g_byte_array_new ();
  g_autofree gchar *big = g_strnfill (BIG, 'x');
  g_autofree gchar *frames = NULL;
  guint8 buffer[65536];
  gssize n;
  gint fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  ours = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  peer = g_socket_new_from_fd (fds[1], &error);
  g_assert_no_error (error);
  g_socket_set_blocking (peer, FALSE);
  connection = g_socket_connection_factory_create_connection (ours);
  output = icecam_ws_output_new (g_io_stream_get_output_stream (G_IO_STREAM (connection)));

  icecam_ws_output_send_text (output, big, BIG);
  /* libsoup's frame may not go before ours is out. */
  n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (output),
                                                  frame->data, frame->len, NULL, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_clear_error (&error);

  /* The peer reads; only our source writes the rest. */
  while (received->len < BIG + 10) {
    n = g_socket_receive (peer, (gchar *) buffer, sizeof buffer, NULL, NULL);
    if (n > 0)
      g_byte_array_append (received, buffer, (guint) n);
    g_main_context_iteration (NULL, n <= 0);
  }
  g_assert_true (icecam_ws_output_at_boundary (output));
  write_part (output, frame->data, frame->len);
  while ((n = g_socket_receive (peer, (gchar *) buffer, sizeof buffer, NULL, NULL)) > 0)
    g_byte_array_append (received, buffer, (guint) n);
  frames = parse_frames (received->data, received->len);
  g_assert_cmpstr (frames, ==, "1:4194304 2:3");
}

/* What waits for a peer that does not read is counted; abort drops it, and from then on every
 * write (libsoup's close frame too) fails at once instead of waiting for the peer. */
static void
test_abort (void)
{
  enum { BIG = 4 * 1024 * 1024 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) ours = NULL;
  g_autoptr (GSocket) peer = NULL;
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (IcecamWsOutput) output = NULL;
  g_autoptr (GByteArray) frame = make_frame (0x8, 2, 'c');
  g_autofree gchar *big = g_strnfill (BIG, 'x');
  gint fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  ours = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  peer = g_socket_new_from_fd (fds[1], &error);
  g_assert_no_error (error);
  connection = g_socket_connection_factory_create_connection (ours);
  output = icecam_ws_output_new (g_io_stream_get_output_stream (G_IO_STREAM (connection)));

  g_assert_cmpuint (icecam_ws_output_get_queued (output), ==, 0);
  icecam_ws_output_send_text (output, big, BIG);
  icecam_ws_output_send_text (output, "{}", 2);
  /* The socket took some; the rest of the first frame and all of the second wait. */
  g_assert_cmpuint (icecam_ws_output_get_queued (output), >, 4);
  g_assert_cmpuint (icecam_ws_output_get_queued (output), <, BIG + 14);
  icecam_ws_output_abort (output);
  g_assert_cmpuint (icecam_ws_output_get_queued (output), ==, 0);
  icecam_ws_output_send_text (output, "{}", 2);
  g_assert_cmpuint (icecam_ws_output_get_queued (output), ==, 0);
  g_assert_cmpint (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (output),
                                                               frame->data, frame->len, NULL,
                                                               &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_clear_error (&error);
  g_assert_cmpint (g_output_stream_write (G_OUTPUT_STREAM (output), frame->data, frame->len,
                                          NULL, &error), ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
}

typedef struct {
  GOutputStream *memory;
  IcecamWsOutput *output;
  gint64 first_ping_us;
} Pinged;

static gboolean
check_outputs (gpointer data)
{
  Pinged *pinged = data;

  for (guint i = 0; pinged[i].memory != NULL; i++) {
    if (pinged[i].first_ping_us == 0 &&
        g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (pinged[i].memory)) > 0)
      pinged[i].first_ping_us = g_get_monotonic_time ();
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

/* 60 outputs added at once, interval 1 s: after 2.5 s each was pinged 1 to 3 times, and the
 * first pings did not all come together (60 random slots of 250 over 1 s). */
static void
test_wheel_spreads (void)
{
  enum { N = 60 };
  Pinged pinged[N + 1] = { { 0 } };
  g_autoptr (IcecamPingWheel) wheel = icecam_ping_wheel_new (NULL, 1);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  gint64 earliest = G_MAXINT64, latest = 0;
  guint check;

  for (guint i = 0; i < N; i++) {
    pinged[i].memory = g_memory_output_stream_new_resizable ();
    pinged[i].output = icecam_ws_output_new (pinged[i].memory);
    icecam_ping_wheel_add (wheel, pinged[i].output);
  }
  g_assert_cmpuint (icecam_ping_wheel_get_size (wheel), ==, N);
  check = g_timeout_add (2, check_outputs, pinged);
  g_timeout_add (2500, quit_loop, loop);
  g_main_loop_run (loop);
  g_source_remove (check);

  for (guint i = 0; i < N; i++) {
    gsize size = g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (pinged[i].memory));
    g_autofree gchar *frames = written (pinged[i].memory);

    g_assert_cmpuint (size, >=, 2);
    g_assert_cmpuint (size, <=, 6);
    g_assert_true (g_str_has_prefix (frames, "9:0"));
    earliest = MIN (earliest, pinged[i].first_ping_us);
    latest = MAX (latest, pinged[i].first_ping_us);
  }
  g_test_message ("first pings spread over %.0f ms", (latest - earliest) / 1000.0);
  g_assert_cmpint (latest - earliest, >=, 300 * 1000);

  /* Removed outputs are pinged no more; the wheel forgets the rest when freed. */
  g_clear_pointer (&wheel, icecam_ping_wheel_free);
  for (guint i = 0; i < N; i++) {
    g_object_unref (pinged[i].output);
    g_object_unref (pinged[i].memory);
  }
}

static void
test_wheel_remove (void)
{
  g_autoptr (IcecamPingWheel) wheel = icecam_ping_wheel_new (NULL, 1);
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr (IcecamWsOutput) output = icecam_ws_output_new (memory);
  IcecamPingEntry *entry = icecam_ping_wheel_add (wheel, output);

  icecam_ping_wheel_remove (wheel, entry);
  g_assert_cmpuint (icecam_ping_wheel_get_size (wheel), ==, 0);
  g_timeout_add (1200, quit_loop, loop);
  g_main_loop_run (loop);
  g_assert_cmpuint (g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (memory)),
                    ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ws-output/ping-between-frames", test_ping_between_frames);
  g_test_add_func ("/ws-output/ping-at-once", test_ping_at_once);
  g_test_add_func ("/ws-output/text-between-frames", test_text_between_frames);
  g_test_add_func ("/ws-output/text-socket-full", test_text_socket_full);
  g_test_add_func ("/ws-output/abort", test_abort);
  g_test_add_func ("/ws-output/wheel-spreads", test_wheel_spreads);
  g_test_add_func ("/ws-output/wheel-remove", test_wheel_remove);
  return g_test_run ();
}
