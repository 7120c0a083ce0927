/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The output under a server WebSocket: libsoup's frames, and pings and text frames of our own
 * slipped in between them. */

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
 * icecam_ws_output_send_text() writes a text frame the same way, for the rendezvous's
 * messages: libsoup's soup_websocket_connection_send_text() copies the text twice, formats two
 * debug lines (GLib formats them even when they are dropped) and queues the frame, a fifth of
 * what relaying a message cost (docs/benchmarks.md, section 16b). Once the caller sends its text
 * here, libsoup sends only its own control frames (pong, close). Our frames wait, in order, for
 * the end of a frame of libsoup's; what the socket did not take is written when it is writable
 * again (a source of our own), and before any more of libsoup's bytes: a close frame libsoup
 * queues after our texts goes after them.
 *
 * Everything runs in the thread of the WebSocket's main context.
 */

#define PING_FRAME "\x89\x00"

struct _IcecamWsOutput {
  GOutputStream parent;
  GOutputStream *base;
  GMainContext *context; /* where the writable source goes */
  /* the frame being written by libsoup */
  guint8 header[14];
  guint header_len;      /* header bytes seen so far of the frame being written */
  guint header_need;     /* its whole header's length, once two bytes were seen */
  guint64 payload_left;  /* payload bytes still to come */
  /* our frames */
  gboolean ping_due;     /* asked for while a frame was being written */
  GByteArray *due;       /* our text frames, waiting for the end of libsoup's frame; NULL:
                          * none (not kept empty: a connection would keep its largest
                          * message's worth of memory) */
  GByteArray *pending;   /* our bytes being written: libsoup's wait until they are; NULL: none */
  GSource *writable;     /* while pending waits for the socket */
  gboolean broken;       /* writing failed: libsoup hears it from its own writes */
  gboolean aborted;      /* icecam_ws_output_abort(): libsoup's writes fail too */
  guint64 passed;        /* libsoup's bytes the base took, since the start */
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
  self->passed += n;
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

static gboolean flush_ours (IcecamWsOutput *self);

static gboolean
on_writable (GObject *stream, gpointer data)
{
  IcecamWsOutput *self = data;

  if (flush_ours (self)) {
    g_clear_pointer (&self->writable, g_source_unref);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

/* Writes our pending bytes, then (between libsoup's frames) our due frames and a due ping,
 * without blocking. Returns TRUE when nothing of ours is pending afterwards; if something is,
 * it is written when the socket is writable, or before libsoup's next bytes. */
static gboolean
flush_ours (IcecamWsOutput *self)
{
  for (;;) {
    g_autoptr (GError) error = NULL;
    gssize n;

    if (self->broken) {
      g_clear_pointer (&self->pending, g_byte_array_unref);
      g_clear_pointer (&self->due, g_byte_array_unref);
      return TRUE;  /* nothing more goes out from us; libsoup's own write fails */
    }
    if (self->pending == NULL) {
      if (!at_boundary (self) || (!self->ping_due && self->due == NULL))
        return TRUE;
      /* Moved, not copied. */
      self->pending = self->due != NULL ? g_steal_pointer (&self->due) : g_byte_array_new ();
      if (self->ping_due)
        g_byte_array_append (self->pending, (const guint8 *) PING_FRAME, 2);
      self->ping_due = FALSE;
    }
    n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (self->base),
                                                    self->pending->data, self->pending->len,
                                                    NULL, &error);
    if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      if (self->writable == NULL) {
        self->writable = g_pollable_output_stream_create_source (
          G_POLLABLE_OUTPUT_STREAM (self->base), NULL);
        g_source_set_callback (self->writable, G_SOURCE_FUNC (on_writable), self, NULL);
        g_source_attach (self->writable, self->context);
      }
      return FALSE;  /* later */
    }
    /* More than was asked means a layer below sent something else of its own (a TLS record
     * it held from an earlier write): the frames' boundaries are lost, so is the stream. */
    if (n <= 0 || (gsize) n > self->pending->len) {
      self->broken = TRUE;
      continue;
    }
    if ((gsize) n == self->pending->len)
      g_clear_pointer (&self->pending, g_byte_array_unref);
    else
      g_byte_array_remove_range (self->pending, 0, (guint) n);
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

  if (self->aborted) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "output aborted");
    return -1;
  }
  if (!flush_ours (self)) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                         "a frame of ours is still being written");
    return -1;
  }
  n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (self->base),
                                                  buffer, count, NULL, error);
  if (n > 0) {
    track (self, buffer, (gsize) n);
    if ((self->ping_due || self->due != NULL) && at_boundary (self))
      flush_ours (self);
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

/* Blocking: what is pending of ours first. */
static gboolean
write_pending_blocking (IcecamWsOutput *self, GCancellable *cancellable, GError **error)
{
  gsize written = 0;

  if (self->pending == NULL)
    return TRUE;
  if (!g_output_stream_write_all (self->base, self->pending->data, self->pending->len, &written,
                                  cancellable, error)) {
    self->broken = TRUE;
    return FALSE;
  }
  g_clear_pointer (&self->pending, g_byte_array_unref);
  return TRUE;
}

static gssize
icecam_ws_output_write (GOutputStream *stream, const void *buffer, gsize count,
                        GCancellable *cancellable, GError **error)
{
  IcecamWsOutput *self = ICECAM_WS_OUTPUT (stream);
  gssize n;

  if (self->aborted) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE, "output aborted");
    return -1;
  }
  if (!write_pending_blocking (self, cancellable, error))
    return -1;
  n = g_output_stream_write (self->base, buffer, count, cancellable, error);
  if (n > 0) {
    track (self, buffer, (gsize) n);
    if ((self->ping_due || self->due != NULL) && at_boundary (self))
      flush_ours (self);
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
  flush_ours (self);  /* drops what is ours */
  if (self->writable != NULL) {
    g_source_destroy (self->writable);
    g_clear_pointer (&self->writable, g_source_unref);
  }
  return g_output_stream_close (self->base, cancellable, error);
}

static void
icecam_ws_output_finalize (GObject *object)
{
  IcecamWsOutput *self = ICECAM_WS_OUTPUT (object);

  if (self->writable != NULL) {
    g_source_destroy (self->writable);
    g_source_unref (self->writable);
  }
  g_clear_pointer (&self->due, g_byte_array_unref);
  g_clear_pointer (&self->pending, g_byte_array_unref);
  g_main_context_unref (self->context);
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
  self->context = g_main_context_ref_thread_default ();
}

/**
 * icecam_ws_output_new:
 * @base: the connection's output, pollable, no WebSocket byte written to it yet
 *
 * Made in the thread whose main context runs the WebSocket (the thread-default one).
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
  flush_ours (self);
}

/**
 * icecam_ws_output_send_text:
 * @self: a WebSocket's output
 * @text: the text, UTF-8
 * @length: its length in bytes
 *
 * Sends @text in one text frame (FIN, opcode 0x1, unmasked: a server's): now if no frame is
 * half written, else as soon as libsoup's frame is complete; after every text sent before.
 * Never blocks; does nothing once the stream is closed or a write failed. The caller sends
 * all its text here, not through libsoup: libsoup's queue and ours are not ordered.
 */
void
icecam_ws_output_send_text (IcecamWsOutput *self, const gchar *text, gsize length)
{
  guint8 header[10] = { 0x81 };
  guint header_len = 2;

  g_return_if_fail (ICECAM_IS_WS_OUTPUT (self));
  g_return_if_fail (text != NULL || length == 0);

  if (self->broken || g_output_stream_is_closed (G_OUTPUT_STREAM (self)))
    return;
  if (length < 126) {
    header[1] = (guint8) length;
  } else if (length < 65536) {
    header[1] = 126;
    header[2] = (guint8) (length >> 8);
    header[3] = (guint8) length;
    header_len = 4;
  } else {
    header[1] = 127;
    for (guint i = 0; i < 8; i++)
      header[2 + i] = (guint8) ((guint64) length >> (56 - 8 * i));
    header_len = 10;
  }
  /* Between frames with nothing of ours waiting (nearly always): written straight from @text,
   * header and text in one call; only what the socket does not take is copied. */
  if (self->pending == NULL && self->due == NULL && at_boundary (self)) {
    GOutputVector vectors[] = { { header, header_len }, { text, length } };
    gsize written = 0;
    GPollableReturn ret;

    ret = g_pollable_output_stream_writev_nonblocking (G_POLLABLE_OUTPUT_STREAM (self->base),
                                                       vectors, G_N_ELEMENTS (vectors),
                                                       &written, NULL, NULL);
    if (ret == G_POLLABLE_RETURN_FAILED || written > header_len + length) {
      self->broken = TRUE;
      flush_ours (self);
      return;
    }
    if (written == header_len + length)
      return;
    self->pending = g_byte_array_sized_new ((guint) (header_len + length - written));
    if (written < header_len)
      g_byte_array_append (self->pending, header + written, (guint) (header_len - written));
    g_byte_array_append (self->pending,
                         (const guint8 *) text + MAX (written, header_len) - header_len,
                         (guint) (length - (MAX (written, header_len) - header_len)));
    flush_ours (self);  /* the socket is full: arms the writable source */
    return;
  }
  if (self->due == NULL)
    self->due = g_byte_array_new ();
  g_byte_array_append (self->due, header, header_len);
  g_byte_array_append (self->due, (const guint8 *) text, (guint) length);
  flush_ours (self);
}

/**
 * icecam_ws_output_get_queued:
 * @self: a WebSocket's output
 *
 * Returns: the bytes of our frames the socket has not taken yet (a client that stops reading
 * makes this grow)
 */
gsize
icecam_ws_output_get_queued (IcecamWsOutput *self)
{
  g_return_val_if_fail (ICECAM_IS_WS_OUTPUT (self), 0);

  return (self->pending != NULL ? self->pending->len : 0) + (self->due != NULL ? self->due->len : 0);
}

/**
 * icecam_ws_output_get_passed:
 * @self: a WebSocket's output
 *
 * Returns: the bytes of libsoup's frames the stream under this one has taken since it was made
 * (on wss://, the plain bytes TLS took): with what was handed to libsoup, how much libsoup
 * still holds for a client
 */
guint64
icecam_ws_output_get_passed (IcecamWsOutput *self)
{
  g_return_val_if_fail (ICECAM_IS_WS_OUTPUT (self), 0);

  return self->passed;
}

/**
 * icecam_ws_output_abort:
 * @self: a WebSocket's output
 *
 * Gives up on the client: what is queued is dropped, nothing more of ours is sent, and every
 * later write (libsoup's close frame too) fails, so that libsoup closes the connection at
 * once instead of waiting to write to a client that does not read.
 */
void
icecam_ws_output_abort (IcecamWsOutput *self)
{
  g_return_if_fail (ICECAM_IS_WS_OUTPUT (self));

  self->aborted = TRUE;
  self->broken = TRUE;
  flush_ours (self); /* drops what is ours */
  if (self->writable != NULL) {
    g_source_destroy (self->writable);
    g_clear_pointer (&self->writable, g_source_unref);
  }
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

  return at_boundary (self) && self->pending == NULL;
}
