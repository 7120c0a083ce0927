/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test helpers shared by the icecam test programs. */

#pragma once

#include <gio/gio.h>
#include <glib/gstdio.h>

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

/* A self-signed certificate for 127.0.0.1, its own CA: cert.pem and key.pem in a new
 * temporary directory, whose path it returns (icecam_test_remove_dir() removes it). */
static inline gchar *
icecam_test_make_certificate (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("icecam-tls-XXXXXX", &error);
  g_autofree gchar *cert = NULL;
  g_autofree gchar *key = NULL;
  gint status = 0;

  g_assert_no_error (error);
  cert = g_build_filename (dir, "cert.pem", NULL);
  key = g_build_filename (dir, "key.pem", NULL);
  {
    const gchar *argv[] = { "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                            "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", key, "-out", cert, NULL };

    g_assert_true (g_spawn_sync (NULL, (gchar **) argv, NULL,
                                 G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                                   G_SPAWN_STDERR_TO_DEV_NULL,
                                 NULL, NULL, NULL, NULL, &status, &error));
    g_assert_no_error (error);
    g_assert_true (g_spawn_check_wait_status (status, &error));
    g_assert_no_error (error);
  }
  return g_steal_pointer (&dir);
}

/* Removes @dir and the files in it. */
static inline void
icecam_test_remove_dir (const gchar *dir)
{
  GDir *listing = g_dir_open (dir, 0, NULL);
  const gchar *name;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL) {
    gchar *path = g_build_filename (dir, name, NULL);

    (void) g_unlink (path);
    g_free (path);
  }
  if (listing != NULL)
    g_dir_close (listing);
  (void) g_rmdir (dir);
}
