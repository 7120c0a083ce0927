/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The output under a server WebSocket: libsoup's frames, and pings slipped in between them. */

#include "icecam-ws-output.h"

#include <string.h>

/**
 * SECTION:icecam-ws-output
 * @title: IcecamWsOutput
 * @short_description: a WebSocket's output stream that can send a ping of its own
 *
 * libsoup 3.2 pings a WebSocket from a seconds timer of its own
 * (soup_websocket_connection_set_keepalive_interval()), and GLib fires every seconds timer due
 * in the same second in one main-loop iteration: all connections that arrived within one
 * second are pinged in one burst (docs/benchmarks.md, section 4). It has no call to send one
 * ping when the caller wants.
 *
 * This stream passes libsoup's writes to the connection's output and follows the frames in
 * them (RFC 6455 section 5.2: header, extended length, mask, payload), so that it knows when
 * the bytes written end on a frame boundary. icecam_ws_output_ping() writes a ping frame
 * (FIN, opcode 0x9, no payload) at such a boundary: at once if the output is between frames,
 * else right after the write that ends libsoup's frame. Whatever part of a ping the socket did
 * not take is written before libsoup's next bytes; until it is, libsoup's writes would block.
 * The client answers with a pong, which libsoup reports as for its own pings.
 *
 * Everything runs in the thread of the WebSocket's main context.
 */

#define PING_FRAME "\x89\x00"

struct _IcecamWsOutput {
  GOutputStream parent;
  GOutputStream *base;
  /* the frame being written by libsoup */
  guint8 header[14];
  guint header_len;      /* header bytes seen so far of the frame being written */
  guint header_need;     /* its whole header's length, once two bytes were seen */
  guint64 payload_left;  /* payload bytes still to come */
  /* our pings */
  gboolean ping_due;     /* asked for while a frame was being written */
  guint8 pending[2];     /* a ping's bytes the socket did not take yet */
  guint pending_len;
  gboolean broken;       /* writing failed: libsoup hears it from its own writes */
};

static void icecam_ws_output_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (IcecamWsOutput, icecam_ws_output, G_TYPE_OUTPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                      icecam_ws_output_pollable_init))

static gboolean
at_boundary (IcecamWsOutput *self)
{
  return self->header_len == 0 && self->payload_left == 0;
}

/* Follows the frames in @n bytes libsoup's write put on the wire. */
static void
track (IcecamWsOutput *self, const guint8 *data, gsize n)
{
  while (n > 0) {
    if (self->payload_left > 0) {
      guint64 take = MIN ((guint64) n, self->payload_left);

      self->payload_left -= take;
      data += take;
      n -= (gsize) take;
      continue;
    }
    self->header[self->header_len++] = *data++;
    n--;
    if (self->header_len == 2) {
      guint length7 = self->header[1] & 0x7f;

      self->header_need = 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) +
        ((self->header[1] & 0x80) ? 4 : 0);
    }
    if (self->header_len >= 2 && self->header_len == self->header_need) {
      guint length7 = self->header[1] & 0x7f;
      guint64 length = length7;

      if (length7 == 126)
        length = ((guint64) self->header[2] << 8) | self->header[3];
      else if (length7 == 127) {
        length = 0;
        for (guint i = 0; i < 8; i++)
          length = (length << 8) | self->header[2 + i];
      }
      self->payload_left = length;
      self->header_len = 0;
    }
  }
}

/* Writes what is pending of a ping, then a ping that is due if between frames, without
 * blocking. Returns TRUE when nothing of ours is pending afterwards. */
static gboolean
flush_pings (IcecamWsOutput *self)
{
  for (;;) {
    g_autoptr (GError) error = NULL;
    gssize n;

    if (self->broken)
      return TRUE;  /* nothing more goes out from us; libsoup's own write fails */
    if (self->pending_len == 0) {
      if (!self->ping_due || !at_boundary (self))
        return TRUE;
      memcpy (self->pending, PING_FRAME, 2);
      self->pending_len = 2;
      self->ping_due = FALSE;
    }
    n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (self->base),
                                                    self->pending, self->pending_len, NULL,
                                                    &error);
    if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      return FALSE;  /* later */
    /* More than was asked means a layer below sent something else of its own (a TLS record
     * it held from an earlier write): the frames' boundaries are lost, so is the stream. */
    if (n <= 0 || (gsize) n > self->pending_len) {
      self->broken = TRUE;
      self->pending_len = 0;
      return TRUE;
    }
    memmove (self->pending, self->pending + n, self->pending_len - (gsize) n);
    self->pending_len -= (guint) n;
  }
}

/* ---- GPollableOutputStream ------------------------------------------------------------ */

static gboolean
icecam_ws_output_can_poll (GPollableOutputStream *pollable)
{
  IcecamWsOutput *self = ICECAM_WS_OUTPUT (pollable);

  return g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (self->base));
}

static gboolean
icecam_ws_output_is_writable (GPollableOutputStream *pollable)
{
  IcecamWsOutput *self = ICECAM_WS_OUTPUT (pollable);

  return g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (self->base));
}

static GSource *
icecam_ws_output_create_source (GPollableOutputStream *pollable, GCancellable *cancellable)
{
  IcecamWsOutput *self = ICECAM_WS_OUTPUT (pollable);
  g_autoptr (GSource) base_source =
    g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (self->base), NULL);

  return g_pollable_source_new_full (self, base_source, cancellable);
}

static gssize
icecam_ws_output_write_nonblocking (GPollableOutputStream *pollable, const void *buffer,
                                    gsize count, GError **error)
{
  IcecamWsOutput *self = ICECAM_WS_OUTPUT (pollable);
  gssize n;

  if (!flush_pings (self)) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                         "a ping is still being written");
    return -1;
  }
  n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (self->base),
                                                  buffer, count, NULL, error);
  if (n > 0) {
    track (self, buffer, (gsize) n);
    if (self->ping_due && at_boundary (self))
      flush_pings (self);
  }
  return n;
}

static void
icecam_ws_output_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = icecam_ws_output_can_poll;
  iface->is_writable = icecam_ws_output_is_writable;
  iface->create_source = icecam_ws_output_create_source;
  iface->write_nonblocking = icecam_ws_output_write_nonblocking;
}

/* ---- GOutputStream -------------------------------------------------------------------- */

/* Blocking: what is pending of a ping first. */
static gboolean
write_pending_blocking (IcecamWsOutput *self, GCancellable *cancellable, GError **error)
{
  gsize written = 0;

  if (self->pending_len == 0)
    return TRUE;
  if (!g_output_stream_write_all (self->base, self->pending, self->pending_len, &written,
                                  cancellable, error)) {
    self->broken = TRUE;
    return FALSE;
  }
  self->pending_len = 0;
  return TRUE;
}

static gssize
icecam_ws_output_write (GOutputStream *stream, const void *buffer, gsize count,
                        GCancellable *cancellable, GError **error)
{
  IcecamWsOutput *self = ICECAM_WS_OUTPUT (stream);
  gssize n;

  if (!write_pending_blocking (self, cancellable, error))
    return -1;
  n = g_output_stream_write (self->base, buffer, count, cancellable, error);
  if (n > 0) {
    track (self, buffer, (gsize) n);
    if (self->ping_due && at_boundary (self))
      flush_pings (self);
  }
  return n;
}

static gboolean
icecam_ws_output_flush (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  IcecamWsOutput *self = ICECAM_WS_OUTPUT (stream);

  return write_pending_blocking (self, cancellable, error) &&
    g_output_stream_flush (self->base, cancellable, error);
}

static gboolean
icecam_ws_output_close (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  IcecamWsOutput *self = ICECAM_WS_OUTPUT (stream);

  self->broken = TRUE;
  return g_output_stream_close (self->base, cancellable, error);
}

static void
icecam_ws_output_finalize (GObject *object)
{
  IcecamWsOutput *self = ICECAM_WS_OUTPUT (object);

  g_object_unref (self->base);
  G_OBJECT_CLASS (icecam_ws_output_parent_class)->finalize (object);
}

static void
icecam_ws_output_class_init (IcecamWsOutputClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  object_class->finalize = icecam_ws_output_finalize;
  stream_class->write_fn = icecam_ws_output_write;
  stream_class->flush = icecam_ws_output_flush;
  stream_class->close_fn = icecam_ws_output_close;
}

static void
icecam_ws_output_init (IcecamWsOutput *self)
{
}

/**
 * icecam_ws_output_new:
 * @base: the connection's output, pollable, no WebSocket byte written to it yet
 *
 * Returns: (transfer full): the output to give libsoup's WebSocket
 */
IcecamWsOutput *
icecam_ws_output_new (GOutputStream *base)
{
  IcecamWsOutput *self;

  g_return_val_if_fail (G_IS_POLLABLE_OUTPUT_STREAM (base), NULL);

  self = g_object_new (ICECAM_TYPE_WS_OUTPUT, NULL);
  self->base = g_object_ref (base);
  return self;
}

/**
 * icecam_ws_output_ping:
 * @self: a WebSocket's output
 *
 * Sends a ping without payload: now if no frame is half written, else as soon as libsoup's
 * frame is complete. A ping asked for while one is still waiting is the same ping. Never
 * blocks; does nothing once the stream is closed or a write failed.
 */
void
icecam_ws_output_ping (IcecamWsOutput *self)
{
  g_return_if_fail (ICECAM_IS_WS_OUTPUT (self));

  if (self->broken || g_output_stream_is_closed (G_OUTPUT_STREAM (self)))
    return;
  self->ping_due = TRUE;
  flush_pings (self);
}

/**
 * icecam_ws_output_at_boundary:
 * @self: a WebSocket's output
 *
 * Returns: whether the bytes written so far (libsoup's and pings) end between two frames
 */
gboolean
icecam_ws_output_at_boundary (IcecamWsOutput *self)
{
  g_return_val_if_fail (ICECAM_IS_WS_OUTPUT (self), FALSE);

  return at_boundary (self) && self->pending_len == 0;
}
