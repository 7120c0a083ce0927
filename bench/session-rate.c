/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Session rate: viewers (libicecam's IcecamViewerEndpoint, no GStreamer) join one camera through
 * the rendezvous, get a pair and leave, K at a time, for a fixed time; reports sessions per second
 * and the time from start to a selected pair. */

#include <stdio.h>

#include "bench-util.h"
#include "icecam-viewer-endpoint.h"

#define SESSION_TIMEOUT_S 15

typedef struct _App App;

typedef struct {
  App *app;
  IcecamViewerEndpoint *endpoint;
  gint64 start_us;
  GSource *timeout;
  gboolean done;
} Viewer;

struct _App {
  gchar *server;
  gchar *camera;
  gdouble seconds;
  gint in_flight;

  GMainLoop *loop;
  gint64 end_us;
  guint open, started, paired, failed;
  GArray *setup_ms;
  IcecamIceConfig *config;
};

static void start_viewers (App *app);

static void
viewer_closed_cb (GObject *source, GAsyncResult *result, gpointer data)
{
  Viewer *viewer = data;
  App *app = viewer->app;

  g_object_unref (viewer->endpoint);
  g_free (viewer);
  app->open--;
  start_viewers (app);
}

static void
viewer_finish (Viewer *viewer, gboolean paired)
{
  App *app = viewer->app;
  gdouble ms = (g_get_monotonic_time () - viewer->start_us) / 1000.0;

  if (viewer->done)
    return;
  viewer->done = TRUE;
  g_source_destroy (viewer->timeout);
  g_clear_pointer (&viewer->timeout, g_source_unref);
  if (paired) {
    app->paired++;
    g_array_append_val (app->setup_ms, ms);
  } else {
    app->failed++;
    if (app->failed <= 3) {
      const GError *error = icecam_viewer_endpoint_get_error (viewer->endpoint);

      g_printerr ("bench-session-rate: a session failed: %s\n",
                  error ? error->message : "timed out");
    }
  }
  g_signal_handlers_disconnect_by_data (viewer->endpoint, viewer);
  icecam_viewer_endpoint_close_async (viewer->endpoint, viewer_closed_cb, viewer);
}

static void
on_pair_selected (IcecamViewerEndpoint *endpoint, IcecamPairInfo *info, Viewer *viewer)
{
  viewer_finish (viewer, TRUE);
}

static void
on_state_changed (IcecamViewerEndpoint *endpoint, guint state, Viewer *viewer)
{
  if (state == ICECAM_VIEWER_STATE_CLOSED)
    viewer_finish (viewer, FALSE);
}

static gboolean
on_viewer_timeout (gpointer data)
{
  Viewer *viewer = data;

  viewer_finish (viewer, FALSE);
  return G_SOURCE_REMOVE;
}

static void
start_viewers (App *app)
{
  while (g_get_monotonic_time () < app->end_us && app->open < (guint) app->in_flight) {
    g_autoptr (GError) error = NULL;
    Viewer *viewer = g_new0 (Viewer, 1);

    viewer->app = app;
    viewer->endpoint = icecam_viewer_endpoint_new (app->server, app->camera, app->config, &error);
    if (viewer->endpoint == NULL) {
      g_printerr ("bench-session-rate: %s\n", error->message);
      g_free (viewer);
      g_main_loop_quit (app->loop);
      return;
    }
    g_signal_connect (viewer->endpoint, "pair-selected", G_CALLBACK (on_pair_selected), viewer);
    g_signal_connect (viewer->endpoint, "state-changed", G_CALLBACK (on_state_changed), viewer);
    viewer->timeout = g_timeout_source_new_seconds (SESSION_TIMEOUT_S);
    g_source_set_callback (viewer->timeout, on_viewer_timeout, viewer, NULL);
    g_source_attach (viewer->timeout, NULL);
    app->open++;
    app->started++;
    viewer->start_us = g_get_monotonic_time ();
    icecam_viewer_endpoint_start (viewer->endpoint);
  }
  if (app->open == 0)
    g_main_loop_quit (app->loop);
}

static gboolean
kick_off (gpointer data)
{
  start_viewers (data);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  App app = { .seconds = 8, .in_flight = 4 };
  GOptionEntry entries[] = {
    { "server", 0, 0, G_OPTION_ARG_STRING, &app.server, "The rendezvous", "URL" },
    { "camera", 0, 0, G_OPTION_ARG_STRING, &app.camera, "The camera's id", "ID" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &app.seconds, "How long to start sessions (8)", "S" },
    { "in-flight", 0, 0, G_OPTION_ARG_INT, &app.in_flight, "Viewers at once (4)", "K" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- sessions per second");
  g_autoptr (GError) error = NULL;
  gint64 start_us;
  gdouble cpu, elapsed;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || app.server == NULL ||
      app.camera == NULL || app.in_flight < 1) {
    g_printerr ("bench-session-rate: %s\n", error ? error->message : "--server and --camera");
    return 2;
  }
  app.loop = g_main_loop_new (NULL, FALSE);
  app.setup_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
  app.config = icecam_ice_config_new ();
  start_us = g_get_monotonic_time ();
  app.end_us = start_us + (gint64) (app.seconds * G_USEC_PER_SEC);
  cpu = bench_self_cpu_seconds ();
  g_idle_add (kick_off, &app);
  g_main_loop_run (app.loop);
  elapsed = (g_get_monotonic_time () - start_us) / 1e6;
  cpu = bench_self_cpu_seconds () - cpu;

  printf ("session-rate: in_flight=%d sessions=%u failed=%u elapsed_s=%.2f sessions_per_s=%.1f "
          "setup_p50_ms=%.1f setup_p99_ms=%.1f viewer_cpu_ms_per_session=%.2f\n", app.in_flight,
          app.paired, app.failed, elapsed, app.paired / elapsed,
          bench_percentile (app.setup_ms, 50), bench_percentile (app.setup_ms, 99),
          app.paired ? cpu * 1000 / app.paired : 0.0);
  icecam_ice_config_free (app.config);
  g_array_unref (app.setup_ms);
  g_main_loop_unref (app.loop);
  g_free (app.server);
  g_free (app.camera);
  return 0;
}
