/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The operator's log of the rendezvous: one line per event, rate-limited per kind. */

#include "icecam-ops-log.h"

/**
 * SECTION:icecam-ops-log
 * @title: IcecamOpsLog
 * @short_description: what an operator reads: cameras coming and going, refusals, limits hit
 *
 * Each event is one line in the %ICECAM_OPS_LOG_DOMAIN domain at %G_LOG_LEVEL_INFO (journald
 * priority 6). A client can cause events as fast as it connects, so each kind may print at
 * most a number of lines per %ICECAM_OPS_LOG_WINDOW_S seconds (a window opens with the first
 * line of its kind); the rest are counted, and one line says how many were suppressed once
 * the window is over (from a timer, so it is printed even if the flood stopped).
 *
 * icecam_ops_log_admit() is the decision alone, with the time given, for tests.
 *
 * Threading: use it from one thread; its timer runs in the thread-default #GMainContext of
 * the first suppression.
 */

static const gchar *const kind_names[ICECAM_OPS_LOG_N_KINDS] = {
  [ICECAM_OPS_LOG_CAMERA_ONLINE] = "camera online",
  [ICECAM_OPS_LOG_CAMERA_OFFLINE] = "camera offline",
  [ICECAM_OPS_LOG_CAMERA_REFUSED] = "camera refused",
  [ICECAM_OPS_LOG_VIEWER_REFUSED] = "viewer refused",
  [ICECAM_OPS_LOG_PER_ADDRESS] = "per-address limit",
  [ICECAM_OPS_LOG_MESSAGE_RATE] = "message rate limit",
  [ICECAM_OPS_LOG_GLOBAL_CAP] = "connection cap",
  [ICECAM_OPS_LOG_SESSION_LIMIT] = "session limit",
  [ICECAM_OPS_LOG_FRAME_TOO_BIG] = "message too big",
  [ICECAM_OPS_LOG_PROXY_REFUSED] = "proxy header refused",
  [ICECAM_OPS_LOG_RELOAD] = "reload",
  [ICECAM_OPS_LOG_SLOW_READER] = "client not reading",
};

typedef struct {
  gint64 window_start;  /* monotonic µs; 0: no window open */
  guint printed;        /* lines printed in the window */
  guint suppressed;     /* lines not printed in the window */
} KindState;

struct _IcecamOpsLog {
  GObject parent_instance;

  guint limit;          /* 0: no limit */
  KindState kinds[ICECAM_OPS_LOG_N_KINDS];
  GSource *flush;       /* prints the suppressed counts of windows that ended */
};

G_DEFINE_FINAL_TYPE (IcecamOpsLog, icecam_ops_log, G_TYPE_OBJECT)

#define WINDOW_US ((gint64) ICECAM_OPS_LOG_WINDOW_S * G_USEC_PER_SEC)

static void
print_suppressed (IcecamOpsLogKind kind, guint count)
{
  g_log (ICECAM_OPS_LOG_DOMAIN, G_LOG_LEVEL_INFO,
         "%u more '%s' line%s suppressed in the last %d s", count, kind_names[kind],
         count == 1 ? "" : "s", ICECAM_OPS_LOG_WINDOW_S);
}

/**
 * icecam_ops_log_admit:
 * @self: the log
 * @kind: the event's kind
 * @now_us: the monotonic time
 * @suppressed: (out): lines of @kind suppressed in a window that ended, to report before this
 *   one (0 if none)
 *
 * Counts the event and decides whether its line is printed.
 *
 * Returns: %TRUE to print it, %FALSE when it is one more suppressed
 */
gboolean
icecam_ops_log_admit (IcecamOpsLog *self, IcecamOpsLogKind kind, gint64 now_us,
                      guint *suppressed)
{
  KindState *state;

  g_return_val_if_fail (ICECAM_IS_OPS_LOG (self), FALSE);
  g_return_val_if_fail (kind < ICECAM_OPS_LOG_N_KINDS, FALSE);

  state = &self->kinds[kind];
  *suppressed = 0;
  if (self->limit == 0)
    return TRUE;
  if (state->window_start == 0 || now_us - state->window_start >= WINDOW_US) {
    *suppressed = state->suppressed;
    state->window_start = now_us;
    state->printed = 0;
    state->suppressed = 0;
  }
  if (state->printed < self->limit) {
    state->printed++;
    return TRUE;
  }
  state->suppressed++;
  return FALSE;
}

/* Windows that ended with lines suppressed: say so now, not at the next event of their kind,
 * which may never come. */
static gboolean
on_flush (gpointer user_data)
{
  IcecamOpsLog *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 next = 0;

  for (guint kind = 0; kind < ICECAM_OPS_LOG_N_KINDS; kind++) {
    KindState *state = &self->kinds[kind];

    if (state->suppressed == 0)
      continue;
    if (now - state->window_start >= WINDOW_US) {
      print_suppressed (kind, state->suppressed);
      state->window_start = 0;
      state->suppressed = 0;
      state->printed = 0;
    } else if (next == 0 || state->window_start + WINDOW_US < next) {
      next = state->window_start + WINDOW_US;
    }
  }
  if (next != 0) {
    g_source_set_ready_time (self->flush, next);
    return G_SOURCE_CONTINUE;
  }
  g_clear_pointer (&self->flush, g_source_unref);
  return G_SOURCE_REMOVE;
}

static void
schedule_flush (IcecamOpsLog *self, IcecamOpsLogKind kind)
{
  gint64 at = self->kinds[kind].window_start + WINDOW_US;

  if (self->flush != NULL) {
    if (g_source_get_ready_time (self->flush) > at)
      g_source_set_ready_time (self->flush, at);
    return;
  }
  self->flush = g_timeout_source_new (0);
  g_source_set_ready_time (self->flush, at);
  g_source_set_callback (self->flush, on_flush, self, NULL);
  g_source_attach (self->flush, g_main_context_get_thread_default ());
}

/**
 * icecam_ops_log_event:
 * @self: the log
 * @kind: what happened
 * @format: the line, printf-style, without a newline
 *
 * Prints the line unless its kind is over its rate.
 */
void
icecam_ops_log_event (IcecamOpsLog *self, IcecamOpsLogKind kind, const gchar *format, ...)
{
  g_autofree gchar *line = NULL;
  guint suppressed = 0;
  va_list args;

  g_return_if_fail (ICECAM_IS_OPS_LOG (self));

  if (!icecam_ops_log_admit (self, kind, g_get_monotonic_time (), &suppressed)) {
    if (self->kinds[kind].suppressed == 1)
      schedule_flush (self, kind);
    return;
  }
  if (suppressed > 0)
    print_suppressed (kind, suppressed);
  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  g_log (ICECAM_OPS_LOG_DOMAIN, G_LOG_LEVEL_INFO, "%s", line);
}

/**
 * icecam_ops_log_kind_to_string:
 * @kind: a kind
 *
 * Returns: its name as the suppressed lines print it
 */
const gchar *
icecam_ops_log_kind_to_string (IcecamOpsLogKind kind)
{
  g_return_val_if_fail (kind < ICECAM_OPS_LOG_N_KINDS, NULL);
  return kind_names[kind];
}

/**
 * icecam_ops_log_set_limit:
 * @self: the log
 * @lines_per_window: lines of one kind printed per %ICECAM_OPS_LOG_WINDOW_S s; 0: all
 */
void
icecam_ops_log_set_limit (IcecamOpsLog *self, guint lines_per_window)
{
  g_return_if_fail (ICECAM_IS_OPS_LOG (self));
  self->limit = lines_per_window;
}

guint
icecam_ops_log_get_limit (IcecamOpsLog *self)
{
  g_return_val_if_fail (ICECAM_IS_OPS_LOG (self), 0);
  return self->limit;
}

/**
 * icecam_ops_log_new:
 *
 * Returns: (transfer full): a log with the default limit
 */
IcecamOpsLog *
icecam_ops_log_new (void)
{
  return g_object_new (ICECAM_TYPE_OPS_LOG, NULL);
}

static void
icecam_ops_log_dispose (GObject *object)
{
  IcecamOpsLog *self = ICECAM_OPS_LOG (object);

  if (self->flush != NULL) {
    g_source_destroy (self->flush);
    g_clear_pointer (&self->flush, g_source_unref);
  }
  G_OBJECT_CLASS (icecam_ops_log_parent_class)->dispose (object);
}

static void
icecam_ops_log_class_init (IcecamOpsLogClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = icecam_ops_log_dispose;
}

static void
icecam_ops_log_init (IcecamOpsLog *self)
{
  self->limit = ICECAM_OPS_LOG_DEFAULT_LIMIT;
}
