/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The stream under a WebSocket the rendezvous accepted, with input sources that cost O(1). */

#include "icecam-ws-stream.h"
#include "icecam-ws-frame-limit.h"
#include "icecam-ws-output.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

/*
 * libsoup 3.2's SoupWebsocketConnection destroys its input source before every read and makes
 * and attaches a new one after it (soup_websocket_connection_read()). A GSocket source carries
 * the socket's descriptor, and GLib adds and removes a descriptor by walking the main context's
 * list of all descriptors, sorted by number; it also takes a source's descriptors out and puts
 * them back around each dispatch; and poll() looks at every descriptor on every iteration.
 * With 10,000 connections that was O(connections) several times for every message received
 * (docs/benchmarks.md, section 4).
 *
 * Here the connections' sockets are not in GLib's poll at all: they are in one epoll set per
 * main context (the "poller"), whose descriptor is the only one GLib polls for them. libsoup gets
 * input sources without a descriptor of their own, so attaching, dispatching and destroying
 * one is O(1).
 *
 * GLib still visits every source of the context twice per main-loop iteration (prepare and
 * check: a reference taken and dropped, and the source's own function called, for each), one
 * input source per connection: at 10,000 connections that walk was half of the server's CPU
 * at 10,000 messages/s (perf: g_source_ref, g_main_context_prepare/check, the readers' check).
 * So the input sources have no prepare or check function, and the poller does their work: its
 * prepare and check read which sockets are readable (epoll_wait() without waiting), and when
 * any is, it is ready; its dispatch calls the callback of each readable socket's input source
 * (libsoup's read) itself. With many streams (EXPRESS_MIN, or ICECAM_WS_EXPRESS_MIN in the
 * environment, for tests and benchmarks) the poller also runs one priority above everything
 * else of the default priority: when it is ready, GLib stops both walks at its priority (it
 * never dispatches below the first ready source's priority), so while sockets keep being
 * readable an iteration costs O(readable sockets), not O(connections). So that the other
 * sources (timers, the listening socket, writers waiting for room, idle callbacks) are served
 * too, the poller then stands back for one iteration at least every YIELD_US (or 3 µs per
 * stream, whichever is longer: 57 ms at 19,000): it claims nothing, GLib's walk goes through every source, and
 * they run. Between those, when no socket is readable, the poller's prepare waits for one
 * (epoll_wait() with the time left until the next yield) instead of letting GLib walk every
 * source and poll: each wake-up by a message would otherwise cost a walk, and spread-out
 * pongs wake the loop often. Timers, idle callbacks and other threads' wake-ups of the
 * context wait until the next yield then. With few streams it keeps the
 * default priority and nothing waits behind it. An input source is also ready by itself when
 * the stream already holds data (bytes libsoup read past the HTTP request): its ready time,
 * dispatched by GLib.
 *
 * Everything runs in the thread that iterates the main context the stream was made in.
 */

#define READABLE (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)
#define MAX_EVENTS 256
/* The longest the poller keeps the rest of the main context waiting under load. */
#define YIELD_US (10 * 1000)
/* Streams from which on the poller runs above the default priority, and below which again. */
#define EXPRESS_MIN 1000

#define ICECAM_TYPE_WS_INPUT (icecam_ws_input_get_type ())
G_DECLARE_FINAL_TYPE (IcecamWsInput, icecam_ws_input, ICECAM, WS_INPUT, GInputStream)

struct _IcecamWsInput {
  GInputStream parent;
  GPollableInputStream *base; /* the base stream's input */
  IcecamWsStream *owner;      /* not a reference: the owner holds this stream */
};

struct _IcecamWsStream {
  GIOStream parent;
  GIOStream *base;
  IcecamWsInput *input;
  IcecamWsOutput *output;  /* the base's output, with pings of our own (icecam-ws-output.c) */
  gint fd;
  gboolean watched;  /* the socket is in the poller's epoll set with READABLE */
  gboolean closed;   /* out of the set for good */
  gboolean asked_buffer; /* whether the base stream already held bytes, for the first reader */
  GSource *reader;   /* libsoup's input source of the moment, not a reference */
  struct _Poller *poller;
  IcecamWsFrameLimit limit; /* max_payload 0: no limit */
  GSource *oversized_idle;  /* reports the frame over the limit, from the main loop */
};

enum {
  SIGNAL_OVERSIZED,
  N_SIGNALS,
};

static guint signals[N_SIGNALS];

/* One per main context: the epoll set of its WebSockets, as a source attached to it, alive
 * while it has streams. */
typedef struct _Poller {
  GSource source;
  GMainContext *context; /* the key in pollers */
  gint epfd;
  guint streams;         /* protected by pollers_lock */
  GPtrArray *ready;      /* IcecamWsStream (references) found readable, to dispatch */
  gint64 last_yield_us;  /* when the poller last let every source be looked at */
  gboolean yielding;     /* this iteration: claim nothing */
  gboolean dispatching;  /* in its dispatch (a nested loop's poller stays out) */
  gpointer tag;          /* epfd's in the source */
  gboolean express;      /* above the default priority */
} Poller;

typedef struct {
  GSource source;
  IcecamWsStream *stream; /* a reference */
} ReaderSource;

static GMutex pollers_lock;
static GHashTable *pollers; /* GMainContext * -> Poller *, under pollers_lock */

static void icecam_ws_input_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_TYPE_WITH_CODE (IcecamWsInput, icecam_ws_input, G_TYPE_INPUT_STREAM,
                         G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                icecam_ws_input_pollable_init))
G_DEFINE_TYPE (IcecamWsStream, icecam_ws_stream, G_TYPE_IO_STREAM)

static gboolean
reader_alive (IcecamWsStream *self)
{
  return self->reader != NULL && !g_source_is_destroyed (self->reader);
}

static void
set_watched (IcecamWsStream *self, gboolean watched)
{
  struct epoll_event event = { .events = watched ? READABLE : 0, .data.ptr = self };

  if (self->watched == watched || self->closed)
    return;
  if (epoll_ctl (self->poller->epfd, EPOLL_CTL_MOD, self->fd, &event) != 0)
    g_warning ("ws-stream: epoll_ctl MOD %d: %s", self->fd, g_strerror (errno));
  self->watched = watched;
}

/* Which sockets are readable (without waiting), each held until dispatched. A readable socket
 * without an input source (libsoup stopped reading: the connection closes) leaves the set
 * until one comes, or level-triggered epoll would wake the loop for ever. */
static void
poller_collect (Poller *poller, gint timeout_ms)
{
  struct epoll_event events[MAX_EVENTS];
  gint n;

  if (poller->ready->len > 0)
    return;
  n = epoll_wait (poller->epfd, events, MAX_EVENTS, timeout_ms);
  for (gint i = 0; i < n; i++) {
    IcecamWsStream *stream = events[i].data.ptr;

    if (reader_alive (stream))
      g_ptr_array_add (poller->ready, g_object_ref (stream));
    else
      set_watched (stream, FALSE);
  }
}

/* The epoll descriptor back in the poll after an iteration without it. */
static void
end_yield (Poller *poller)
{
  if (!poller->yielding)
    return;
  poller->yielding = FALSE;
  g_source_modify_unix_fd (&poller->source, poller->tag, G_IO_IN);
}

/* Ready at once when a socket is readable, unless it is time to let the others be seen. */
static gboolean
poller_prepare (GSource *source, gint *timeout)
{
  Poller *poller = (Poller *) source;
  gint64 now = g_source_get_time (source);
  /* A yield's walk costs ~250 ns per source (prepare and check; measured at 17,000): one
   * every 3 µs per stream keeps it under ~8 % of a core. */
  gint64 yield_us = MAX (YIELD_US, (gint64) poller->streams * 3);

  *timeout = -1;
  /* GLib skips every check of an iteration in which descriptors were added or removed: the
   * last yield may not have been ended by poller_check(). */
  end_yield (poller);
  if (poller->dispatching)
    return FALSE;
  if (!poller->express) {
    poller_collect (poller, 0);
    return poller->ready->len > 0;
  }
  if (now - poller->last_yield_us < yield_us) {
    poller_collect (poller, 0);
    if (poller->ready->len > 0)
      return TRUE;
    /* Nothing readable: wait for the sockets here, until the next yield at the latest, rather
     * than let GLib walk every source for each message that wakes it (at 17,000 idle
     * connections their pongs alone took half a core that way). */
    poller_collect (poller, (gint) ((poller->last_yield_us + yield_us - now + 999) / 1000));
    if (poller->ready->len > 0)
      return TRUE;
    now = g_get_monotonic_time ();
  }
  /* GLib would find the source ready by its descriptor alone: out of this iteration's poll,
   * which must then not wait (sockets may be readable). */
  poller->yielding = TRUE;
  poller->last_yield_us = now;
  g_source_modify_unix_fd (source, poller->tag, 0);
  *timeout = 0;
  return FALSE;
}

static gboolean
poller_check (GSource *source)
{
  Poller *poller = (Poller *) source;

  if (poller->dispatching)
    return FALSE;
  if (poller->yielding) {
    end_yield (poller);
    return FALSE;
  }
  poller_collect (poller, 0);
  return poller->ready->len > 0;
}

/* Runs an input source's callback as GLib's dispatch would (the callback of
 * g_source_set_callback(), held while it runs); destroys the source if it says so. */
static void
dispatch_reader (IcecamWsStream *stream)
{
  GSource *source = stream->reader;
  GSourceFunc callback = NULL;
  gpointer user_data = NULL;
  GSourceCallbackFuncs *callback_funcs;
  gpointer callback_data;

  if (stream->closed || !reader_alive (stream) || source->callback_funcs == NULL)
    return;
  g_source_ref (source);
  /* Kept here: destroying the source clears them (and drops its hold on the data). */
  callback_funcs = source->callback_funcs;
  callback_data = source->callback_data;
  callback_funcs->ref (callback_data);
  callback_funcs->get (callback_data, source, &callback, &user_data);
  g_source_set_ready_time (source, -1);
  if (callback != NULL &&
      !((GPollableSourceFunc) (void (*) (void)) callback) (G_OBJECT (stream->input), user_data) &&
      !g_source_is_destroyed (source))
    g_source_destroy (source);
  callback_funcs->unref (callback_data);
  g_source_unref (source);
}

static gboolean
poller_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  Poller *poller = (Poller *) source;
  g_autoptr (GPtrArray) ready = poller->ready;

  poller->ready = g_ptr_array_new_with_free_func (g_object_unref);
  poller->dispatching = TRUE;
  for (guint i = 0; i < ready->len; i++)
    dispatch_reader (ready->pdata[i]);
  poller->dispatching = FALSE;
  return G_SOURCE_CONTINUE;
}

static void
poller_finalize (GSource *source)
{
  Poller *poller = (Poller *) source;

  g_ptr_array_unref (poller->ready);
  close (poller->epfd);
}

static GSourceFuncs poller_funcs = {
  .prepare = poller_prepare,
  .check = poller_check,
  .dispatch = poller_dispatch,
  .finalize = poller_finalize,
};

static guint
express_min (void)
{
  static gsize value;

  if (g_once_init_enter (&value)) {
    const gchar *env = g_getenv ("ICECAM_WS_EXPRESS_MIN");
    guint64 min = env != NULL ? g_ascii_strtoull (env, NULL, 10) : 0;

    g_once_init_leave (&value, min > 0 && min < G_MAXUINT ? (gsize) min : EXPRESS_MIN);
  }
  return (guint) value;
}

static Poller *
poller_ref (GMainContext *context)
{
  Poller *poller;
  gint epfd;

  g_mutex_lock (&pollers_lock);
  if (pollers == NULL)
    pollers = g_hash_table_new (NULL, NULL);
  poller = g_hash_table_lookup (pollers, context);
  if (poller == NULL && (epfd = epoll_create1 (EPOLL_CLOEXEC)) >= 0) {
    poller = (Poller *) g_source_new (&poller_funcs, sizeof (Poller));
    poller->context = context;
    poller->epfd = epfd;
    poller->ready = g_ptr_array_new_with_free_func (g_object_unref);
    g_source_set_static_name (&poller->source, "icecam-ws-poller");
    poller->tag = g_source_add_unix_fd (&poller->source, epfd, G_IO_IN);
    g_source_set_can_recurse (&poller->source, TRUE);
    g_source_attach (&poller->source, context);
    g_hash_table_insert (pollers, context, poller);
  }
  if (poller != NULL && ++poller->streams >= express_min () && !poller->express) {
    /* Above the input sources (libsoup's, at the default priority) and everything else of
     * the default priority: see the top of the file. */
    poller->express = TRUE;
    g_source_set_priority (&poller->source, G_PRIORITY_DEFAULT - 1);
  }
  g_mutex_unlock (&pollers_lock);
  return poller;
}

static void
poller_unref (Poller *poller)
{
  g_mutex_lock (&pollers_lock);
  if (--poller->streams < express_min () / 2 && poller->express) {
    poller->express = FALSE;
    end_yield (poller);
    g_source_set_priority (&poller->source, G_PRIORITY_DEFAULT);
  }
  if (poller->streams == 0) {
    g_hash_table_remove (pollers, poller->context);
    g_source_destroy (&poller->source);
    g_source_unref (&poller->source);
  }
  g_mutex_unlock (&pollers_lock);
}

static gboolean
reader_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  IcecamWsStream *self = ((ReaderSource *) source)->stream;
  GPollableSourceFunc func = (GPollableSourceFunc) (void (*) (void)) callback;

  g_source_set_ready_time (source, -1);
  return func != NULL ? func (G_OBJECT (self->input), user_data) : G_SOURCE_REMOVE;
}

static void
reader_finalize (GSource *source)
{
  ReaderSource *reader = (ReaderSource *) source;

  if (reader->stream->reader == source)
    reader->stream->reader = NULL;
  g_object_unref (reader->stream);
}

/* No prepare or check: the poller dispatches a reader whose socket is readable; GLib only when
 * its ready time came (bytes already in the base stream). */
static GSourceFuncs reader_funcs = {
  .dispatch = reader_dispatch,
  .finalize = reader_finalize,
};

static GSource *
icecam_ws_input_create_source (GPollableInputStream *pollable, GCancellable *cancellable)
{
  IcecamWsInput *input = ICECAM_WS_INPUT (pollable);
  IcecamWsStream *self = input->owner;
  GSource *source;

  /* A cancellable, or a closed stream: GLib's own source (libsoup passes neither). */
  if (cancellable != NULL || self->closed)
    return g_pollable_input_stream_create_source (input->base, cancellable);
  source = g_source_new (&reader_funcs, sizeof (ReaderSource));
  ((ReaderSource *) source)->stream = g_object_ref (self);
  g_source_set_static_name (source, "icecam-ws-input");
  set_watched (self, TRUE);
  self->reader = source;
  /* Bytes the base stream holds already (read with the HTTP request) never make the
   * descriptor readable again. Only the first reader can find any: libsoup reads until the
   * socket would block, which empties that buffer, and nothing fills it again. Asking later
   * would cost a poll() per message. */
  if (!self->asked_buffer) {
    self->asked_buffer = TRUE;
    if (g_pollable_input_stream_is_readable (input->base))
      g_source_set_ready_time (source, 0);
  }
  return source;
}

static gboolean
icecam_ws_input_can_poll (GPollableInputStream *pollable)
{
  return TRUE;
}

static gboolean
icecam_ws_input_is_readable (GPollableInputStream *pollable)
{
  return g_pollable_input_stream_is_readable (ICECAM_WS_INPUT (pollable)->base);
}

static gboolean
on_oversized_idle (gpointer user_data)
{
  IcecamWsStream *self = user_data;

  g_clear_pointer (&self->oversized_idle, g_source_unref);
  g_signal_emit (self, signals[SIGNAL_OVERSIZED], 0, self->limit.over_len);
  return G_SOURCE_REMOVE;
}

/* Bytes read, checked against the frame limit: a frame over it never reaches libsoup. From the
 * frame on, what arrives is read and dropped (the reader would block, as far as libsoup knows)
 * until the owner, told from the main loop (not inside libsoup's read), closes the WebSocket. */
static gssize
filter_read (IcecamWsStream *self, void *buffer, gssize count, GError **error)
{
  gsize passed;

  if (count <= 0 || self->limit.max_payload == 0)
    return count;
  if (self->limit.over) {
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "frame over the limit");
    return -1;
  }
  passed = icecam_ws_frame_limit_feed (&self->limit, buffer, (gsize) count);
  if (!self->limit.over)
    return count;
  self->oversized_idle = g_idle_source_new ();
  /* Not below the reader's priority: a client still sending keeps its reader ready, and an
   * idle source would wait until it stopped. */
  g_source_set_priority (self->oversized_idle, G_PRIORITY_DEFAULT);
  g_source_set_callback (self->oversized_idle, on_oversized_idle, g_object_ref (self),
                         g_object_unref);
  g_source_attach (self->oversized_idle, g_main_context_get_thread_default ());
  if (passed > 0)
    return (gssize) passed;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "frame over the limit");
  return -1;
}

static gssize
icecam_ws_input_read_nonblocking (GPollableInputStream *pollable, void *buffer, gsize count,
                                  GError **error)
{
  IcecamWsInput *input = ICECAM_WS_INPUT (pollable);

  return filter_read (input->owner,
                      buffer,
                      g_pollable_input_stream_read_nonblocking (input->base, buffer, count, NULL,
                                                                error),
                      error);
}

static void
icecam_ws_input_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = icecam_ws_input_can_poll;
  iface->is_readable = icecam_ws_input_is_readable;
  iface->create_source = icecam_ws_input_create_source;
  iface->read_nonblocking = icecam_ws_input_read_nonblocking;
}

static gssize
icecam_ws_input_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                      GError **error)
{
  IcecamWsInput *input = ICECAM_WS_INPUT (stream);

  return filter_read (input->owner,
                      buffer,
                      g_input_stream_read (G_INPUT_STREAM (input->base), buffer, count,
                                           cancellable, error),
                      error);
}

/* The base stream is closed with the IcecamWsStream, not here. */
static gboolean
icecam_ws_input_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  return TRUE;
}

static void
icecam_ws_input_finalize (GObject *object)
{
  g_object_unref (ICECAM_WS_INPUT (object)->base);
  G_OBJECT_CLASS (icecam_ws_input_parent_class)->finalize (object);
}

static void
icecam_ws_input_class_init (IcecamWsInputClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = icecam_ws_input_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = icecam_ws_input_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = icecam_ws_input_close;
}

static void
icecam_ws_input_init (IcecamWsInput *input)
{
}

/* Before the descriptor is closed: epoll forgets a closed descriptor by itself only once no
 * other descriptor refers to the same socket. */
static void
stop_watching (IcecamWsStream *self)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  self->watched = FALSE;
  epoll_ctl (self->poller->epfd, EPOLL_CTL_DEL, self->fd, NULL);
  g_clear_pointer (&self->poller, poller_unref);
}

static GInputStream *
icecam_ws_stream_get_input_stream (GIOStream *stream)
{
  IcecamWsStream *self = ICECAM_WS_STREAM (stream);

  /* Without a socket (TLS): the base's own input, whose sources know its buffered bytes. */
  return self->input != NULL ? G_INPUT_STREAM (self->input)
                             : g_io_stream_get_input_stream (self->base);
}

static GOutputStream *
icecam_ws_stream_get_output_stream (GIOStream *stream)
{
  return G_OUTPUT_STREAM (ICECAM_WS_STREAM (stream)->output);
}

static gboolean
icecam_ws_stream_close (GIOStream *stream, GCancellable *cancellable, GError **error)
{
  IcecamWsStream *self = ICECAM_WS_STREAM (stream);

  stop_watching (self);
  return g_io_stream_close (self->base, cancellable, error);
}

static void
base_closed_cb (GObject *base, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (g_io_stream_close_finish (G_IO_STREAM (base), result, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static void
icecam_ws_stream_close_async (GIOStream *stream, int io_priority, GCancellable *cancellable,
                              GAsyncReadyCallback callback, gpointer user_data)
{
  IcecamWsStream *self = ICECAM_WS_STREAM (stream);
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  stop_watching (self);
  g_io_stream_close_async (self->base, io_priority, cancellable, base_closed_cb, task);
}

static gboolean
icecam_ws_stream_close_finish (GIOStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
icecam_ws_stream_dispose (GObject *object)
{
  IcecamWsStream *self = ICECAM_WS_STREAM (object);

  if (self->oversized_idle != NULL) {
    g_source_destroy (self->oversized_idle);
    g_clear_pointer (&self->oversized_idle, g_source_unref);
  }
  stop_watching (self);
  G_OBJECT_CLASS (icecam_ws_stream_parent_class)->dispose (object);
}

static void
icecam_ws_stream_finalize (GObject *object)
{
  IcecamWsStream *self = ICECAM_WS_STREAM (object);

  g_clear_object (&self->input);
  g_object_unref (self->output);
  g_object_unref (self->base);
  G_OBJECT_CLASS (icecam_ws_stream_parent_class)->finalize (object);
}

static void
icecam_ws_stream_class_init (IcecamWsStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GIOStreamClass *stream_class = G_IO_STREAM_CLASS (klass);

  object_class->dispose = icecam_ws_stream_dispose;
  object_class->finalize = icecam_ws_stream_finalize;
  stream_class->get_input_stream = icecam_ws_stream_get_input_stream;
  stream_class->get_output_stream = icecam_ws_stream_get_output_stream;
  stream_class->close_fn = icecam_ws_stream_close;
  stream_class->close_async = icecam_ws_stream_close_async;
  stream_class->close_finish = icecam_ws_stream_close_finish;

  /**
   * IcecamWsStream::oversized:
   * @stream: the stream
   * @length: the payload the frame (or the message, with its fragments) announced
   *
   * A frame over icecam_ws_stream_set_max_payload()'s limit began; nothing of its payload was
   * passed on, nor will anything read after it be. The owner closes the WebSocket (1009).
   * Emitted once, from the main loop of the thread-default context the stream was made in.
   */
  signals[SIGNAL_OVERSIZED] =
    g_signal_new ("oversized", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
}

static void
icecam_ws_stream_init (IcecamWsStream *self)
{
}

/**
 * icecam_ws_stream_new:
 * @base: the connection a WebSocket upgrade took over; its input and output must be pollable
 * @socket: (nullable): @base's socket, watched in the thread-default main context's epoll set
 *   until the stream is closed; %NULL (a TLS connection, whose input may hold decrypted bytes
 *   the socket no longer shows): @base's input as it is
 *
 * The output is an #IcecamWsOutput either way (keepalive pings of our own).
 *
 * Returns: (transfer full): the stream to give soup_websocket_connection_new()
 */
IcecamWsStream *
icecam_ws_stream_new (GIOStream *base, GSocket *socket)
{
  GInputStream *base_input = g_io_stream_get_input_stream (base);
  IcecamWsStream *self;

  g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (base_input), NULL);
  self = g_object_new (ICECAM_TYPE_WS_STREAM, NULL);
  self->base = g_object_ref (base);
  self->output = icecam_ws_output_new (g_io_stream_get_output_stream (base));
  self->closed = TRUE; /* until it is in the set; if it cannot be: GLib's own sources */
  if (socket == NULL)
    return self;
  self->input = g_object_new (ICECAM_TYPE_WS_INPUT, NULL);
  self->input->base = G_POLLABLE_INPUT_STREAM (g_object_ref (base_input));
  self->input->owner = self;
  self->fd = g_socket_get_fd (socket);
  self->poller = poller_ref (g_main_context_get_thread_default ());
  if (self->poller != NULL) {
    struct epoll_event event = { .events = 0, .data.ptr = self };

    if (epoll_ctl (self->poller->epfd, EPOLL_CTL_ADD, self->fd, &event) == 0)
      self->closed = FALSE;
    else
      g_clear_pointer (&self->poller, poller_unref);
  }
  return self;
}

/**
 * icecam_ws_stream_set_max_payload:
 * @self: a stream no byte was read from yet
 * @max_payload: the longest message (one frame, or all fragments of one) passed on, in bytes;
 *   0 for no limit
 *
 * A message announcing more is not read: #IcecamWsStream::oversized tells the owner.
 */
void
icecam_ws_stream_set_max_payload (IcecamWsStream *self, guint64 max_payload)
{
  g_return_if_fail (ICECAM_IS_WS_STREAM (self));

  self->limit.max_payload = max_payload;
}
