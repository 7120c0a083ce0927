/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Many headless viewers in one process for the fan-out benchmark: N pipelines of icecamsrc (or
 * udpsrc, the baseline) into fakesink, no decoding, so that the viewers cost the machine little.
 * Prints "viewers: ready" once every one has received a packet, and runs until SIGTERM. */

#include <glib-unix.h>
#include <gst/gst.h>
#include <stdio.h>

#include "bench-gst.h"

#define RTP_CAPS "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"

typedef struct {
  gchar *via;
  gchar *server;
  gchar *camera;
  gint count;
  gint base_port;

  GMainLoop *loop;
  GPtrArray *pipelines;
  guint64 *packets;   /* one atomic counter per pipeline */
  gint64 ready_us;
  guint64 ready_packets;
  gint exit_code;
} App;

typedef struct {
  App *app;
  guint index;
} Probe;

static GstPadProbeReturn
on_packet (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Probe *probe = data;

  __atomic_fetch_add (&probe->app->packets[probe->index], bench_probe_packets (info),
                      __ATOMIC_RELAXED);
  return GST_PAD_PROBE_OK;
}

static guint64
total_packets (App *app)
{
  guint64 total = 0;

  for (gint i = 0; i < app->count; i++)
    total += __atomic_load_n (&app->packets[i], __ATOMIC_RELAXED);
  return total;
}

static gboolean
check_ready (gpointer data)
{
  App *app = data;

  for (gint i = 0; i < app->count; i++) {
    if (__atomic_load_n (&app->packets[i], __ATOMIC_RELAXED) == 0)
      return G_SOURCE_CONTINUE;
  }
  app->ready_us = g_get_monotonic_time ();
  app->ready_packets = total_packets (app);
  printf ("viewers: ready count=%d\n", app->count);
  fflush (stdout);
  return G_SOURCE_REMOVE;
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  App *app = data;
  g_autoptr (GError) error = NULL;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (msg, &error, NULL);
    g_printerr ("bench-viewers: %s: %s\n", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
                error->message);
    app->exit_code = 1;
    g_main_loop_quit (app->loop);
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (((App *) data)->loop);
  return G_SOURCE_REMOVE;
}

static GstElement *
make_viewer (App *app, guint index, GError **error)
{
  g_autofree gchar *description = NULL;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstPad) pad = NULL;
  g_autoptr (GstBus) bus = NULL;
  GstElement *pipeline;
  Probe *probe;

  if (g_str_equal (app->via, "icecam"))
    description = g_strdup_printf ("icecamsrc server=%s camera-id=%s ! fakesink name=sink "
                                   "sync=false", app->server, app->camera);
  else
    description = g_strdup_printf ("udpsrc address=127.0.0.1 port=%d caps=%s "
                                   "! fakesink name=sink sync=false",
                                   app->base_port + index, RTP_CAPS);
  pipeline = gst_parse_launch (description, error);
  if (pipeline == NULL)
    return NULL;
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  probe = g_new0 (Probe, 1);
  probe->app = app;
  probe->index = index;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, on_packet,
                     probe, g_free);
  bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_bus_message, app);
  return pipeline;
}

int
main (int argc, char **argv)
{
  App app = { .count = 1, .base_port = 40000 };
  GOptionEntry entries[] = {
    { "via", 0, 0, G_OPTION_ARG_STRING, &app.via, "icecam or udp", "PATH" },
    { "server", 0, 0, G_OPTION_ARG_STRING, &app.server, "Rendezvous (icecam)", "URL" },
    { "camera", 0, 0, G_OPTION_ARG_STRING, &app.camera, "Camera id (icecam)", "ID" },
    { "count", 'n', 0, G_OPTION_ARG_INT, &app.count, "How many viewers", "N" },
    { "base-port", 0, 0, G_OPTION_ARG_INT, &app.base_port,
      "udp: viewer i listens on BASE+i", "PORT" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- many headless viewers");
  g_autoptr (GError) error = NULL;
  guint64 total = 0;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, &argc, &argv, &error) || app.via == NULL ||
      app.count < 1 || (g_str_equal (app.via, "icecam") && (!app.server || !app.camera))) {
    g_printerr ("bench-viewers: %s\n", error ? error->message : "bad options, see --help");
    return 2;
  }
  app.loop = g_main_loop_new (NULL, FALSE);
  app.pipelines = g_ptr_array_new ();
  app.packets = g_new0 (guint64, app.count);
  for (gint i = 0; i < app.count; i++) {
    GstElement *pipeline = make_viewer (&app, i, &error);

    if (pipeline == NULL) {
      g_printerr ("bench-viewers: %s\n", error->message);
      return 2;
    }
    g_ptr_array_add (app.pipelines, pipeline);
    gst_element_set_state (pipeline, GST_STATE_PLAYING);
  }
  g_timeout_add (20, check_ready, &app);
  g_unix_signal_add (SIGTERM, on_signal, &app);
  g_unix_signal_add (SIGINT, on_signal, &app);
  g_main_loop_run (app.loop);

  total = total_packets (&app);
  printf ("viewers: stopped count=%d packets=%" G_GUINT64_FORMAT " pps_per_viewer=%.0f\n",
          app.count, total, app.ready_us == 0 ? 0.0 :
          (total - app.ready_packets) / ((g_get_monotonic_time () - app.ready_us) / 1e6) / app.count);
  fflush (stdout);
  for (guint i = 0; i < app.pipelines->len; i++) {
    GstElement *pipeline = g_ptr_array_index (app.pipelines, i);
    g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);

    gst_element_set_state (pipeline, GST_STATE_NULL);
    gst_bus_remove_watch (bus);
    gst_object_unref (pipeline);
  }
  g_ptr_array_unref (app.pipelines);
  g_free (app.packets);
  g_main_loop_unref (app.loop);
  g_free (app.via);
  g_free (app.server);
  g_free (app.camera);
  return app.exit_code;
}
