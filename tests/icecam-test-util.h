/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helpers shared by the icecam test programs. */

#pragma once

#include <gio/gio.h>

static inline gboolean
icecam_test_tick (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the thread-default main context until @cond holds or @seconds pass, and is
 * whether it holds. A 5 ms tick wakes the loop to re-check conditions set by other
 * threads; nothing sleeps blindly. */
#define WAIT_UNTIL_FOR(cond, seconds)                                                      \
  ({                                                                                       \
    gint64 _deadline = g_get_monotonic_time () + (gint64) ((seconds) * G_TIME_SPAN_SECOND); \
    GMainContext *_ctx = g_main_context_get_thread_default ();                             \
    GSource *_tick = g_timeout_source_new (5);                                             \
    g_source_set_callback (_tick, icecam_test_tick, NULL, NULL);                           \
    g_source_attach (_tick, _ctx);                                                         \
    while (!(cond) && g_get_monotonic_time () < _deadline)                                 \
      g_main_context_iteration (_ctx, TRUE);                                               \
    g_source_destroy (_tick);                                                              \
    g_source_unref (_tick);                                                                \
    (cond);                                                                                \
  })

#define WAIT_UNTIL(cond) WAIT_UNTIL_FOR (cond, 10)

/* How many times slower than normal the code under test runs: ICECAM_TEST_SLOWDOWN (set by
 * scripts/sanitize.sh), else 1. Bounds on how late something may happen scale by it. */
static inline gint64
icecam_test_slowdown (void)
{
  const gchar *factor = g_getenv ("ICECAM_TEST_SLOWDOWN");
  gint64 value = factor != NULL ? g_ascii_strtoll (factor, NULL, 10) : 1;

  return value > 1 ? value : 1;
}

/* Room a loaded 2-core machine needs on top of a deadline the code promises. */
#define ICECAM_TEST_SLACK_US (G_USEC_PER_SEC * icecam_test_slowdown ())

/* A GAsyncReadyCallback that keeps the result in the GAsyncResult * at @user_data, for the
 * test to WAIT_UNTIL it is there and finish the operation itself. */
static inline void
icecam_test_store_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}
