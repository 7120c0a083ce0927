/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One end of the media-path benchmark: synthetic RTP at a set packet rate through icecamsink ->
 * icecamsrc, or through udpsink -> udpsrc as the baseline; reports this process's CPU time per
 * packet and what it sent or received. No encoder: the packets are made here, equally for both. */

#include <gst/gst.h>
#include <stdio.h>
#include <string.h>

#include "bench-util.h"
#include "bench-gst.h"

/* The profile is in the caps, as rtph264pay puts it there: the stream carries no SPS, and
 * without it the camera's offers would wait for one. */
#define RTP_CAPS "application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96," \
                 "profile-level-id=(string)42c01f,packetization-mode=(string)1"
#define SETTLE_MS 500        /* default --settle-ms */
#define DEADLINE_S 60

typedef struct {
  gboolean send;
  gchar *via;
  gchar *server;
  gchar *camera;
  gint port;
  gint clients;
  gint rate;
  gdouble seconds;
  gint size;
  gint fps;
  gint idle_ms;
  gint settle_ms;

  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *appsrc;
  gboolean icecam;
  gint exit_code;

  /* sender */
  gint64 start_us;
  guint8 *template;
  guint16 seq;
  guint64 frames_sent, packets_sent;

  /* receiver: the counters are written in the streaming thread */
  guint64 packets_received;   /* atomic */
  gdouble cpu_at_first;       /* set once, in the streaming thread, before first_seen */
  gint first_seen;            /* atomic */
  guint64 last_count;
  gint64 last_change_us;
  gdouble cpu_start;
} App;

/* One frame's worth of packets, as rtph264pay pushes a fragmented NAL: one buffer list. Every
 * packet has its own sequence number (SRTP refuses to protect one twice); the payload is a
 * copy of one template, zero but for an IDR NAL header. */
static GstBufferList *
make_frame (App *app, guint n)
{
  GstBufferList *list = gst_buffer_list_new_sized (n);
  guint32 ts = (guint32) (app->frames_sent * 90000 / app->fps);

  for (guint i = 0; i < n; i++) {
    guint8 *packet = app->template;
    guint16 seq = app->seq++;

    packet[1] = 96 | (i == n - 1 ? 0x80 : 0);
    packet[2] = seq >> 8;
    packet[3] = seq & 0xff;
    packet[4] = ts >> 24;
    packet[5] = ts >> 16;
    packet[6] = ts >> 8;
    packet[7] = ts;
    gst_buffer_list_add (list, gst_buffer_new_memdup (packet, app->size));
  }
  return list;
}

/* What icecamsink counted for its one session: packets sent and dropped (send failures). */
static void
icecamsink_counts (App *app, guint64 *sent, guint64 *dropped)
{
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (app->pipeline), "sink");
  GstStructure *stats = NULL;
  const GValue *sessions;

  *sent = *dropped = 0;
  g_object_get (sink, "stats", &stats, NULL);
  sessions = stats ? gst_structure_get_value (stats, "sessions") : NULL;
  for (guint i = 0; sessions != NULL && i < gst_value_list_get_size (sessions); i++) {
    const GstStructure *s = gst_value_get_structure (gst_value_list_get_value (sessions, i));
    guint64 n = 0;

    gst_structure_get_uint64 (s, "packets-sent", &n);
    *sent += n;
    gst_structure_get_uint64 (s, "packets-dropped", &n);
    *dropped += n;
  }
  g_clear_pointer (&stats, gst_structure_free);
}

static gboolean
finish_send (gpointer data)
{
  App *app = data;
  guint64 queued = 0, sink_sent = 0, sink_dropped = 0;
  gdouble cpu;

  g_object_get (app->appsrc, "current-level-bytes", &queued, NULL);
  if (queued > 0)
    return G_SOURCE_CONTINUE;
  cpu = bench_self_cpu_seconds () - app->cpu_start;
  if (app->icecam)
    icecamsink_counts (app, &sink_sent, &sink_dropped);
  printf ("media-path: send via=%s rate=%d seconds=%.1f sent=%" G_GUINT64_FORMAT
          " achieved_pps=%.0f cpu_s=%.3f cpu_us_per_pkt=%.2f sink_sent=%" G_GUINT64_FORMAT
          " sink_dropped=%" G_GUINT64_FORMAT "\n", app->via, app->rate, app->seconds,
          app->packets_sent, app->packets_sent / ((g_get_monotonic_time () - app->start_us) / 1e6),
          cpu, cpu * 1e6 / MAX (app->packets_sent, 1), sink_sent, sink_dropped);
  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

/* Pushes the frames that are due, then sleeps until the next one is. */
static gboolean
send_tick (gpointer data)
{
  App *app = data;
  gint64 now = g_get_monotonic_time ();
  gdouble elapsed = (now - app->start_us) / 1e6;
  guint64 due = (guint64) (MIN (elapsed, app->seconds) * app->fps) + 1;
  guint per_frame = MAX (app->rate / app->fps, 1);
  gint64 next_us;
  GstFlowReturn ret;

  while (app->frames_sent < due) {
    GstBufferList *list = make_frame (app, per_frame);

    g_signal_emit_by_name (app->appsrc, "push-buffer-list", list, &ret);
    gst_buffer_list_unref (list);
    app->frames_sent++;
    app->packets_sent += per_frame;
  }
  if (elapsed >= app->seconds) {
    /* Drained when appsrc's queue is empty; the last list is then in the sink or sent. */
    g_timeout_add (10, finish_send, app);
    return G_SOURCE_REMOVE;
  }
  next_us = app->start_us + (gint64) (app->frames_sent * G_USEC_PER_SEC / app->fps);
  g_timeout_add (MAX ((next_us - g_get_monotonic_time () + 999) / 1000, 1), send_tick, app);
  return G_SOURCE_REMOVE;
}

static gboolean
start_sending (gpointer data)
{
  App *app = data;

  app->template = g_malloc0 (app->size);
  app->template[0] = 0x80;                                   /* RTP version 2 */
  memcpy (app->template + 8, "\x12\x34\x56\x78", 4);        /* SSRC */
  /* An H.264 IDR NAL header: the camera starts a viewer's stream at a keyframe, and every
   * packet here looks like one, so none is held back. */
  app->template[12] = 0x65;
  app->start_us = g_get_monotonic_time ();
  app->cpu_start = bench_self_cpu_seconds ();
  send_tick (app);
  return G_SOURCE_REMOVE;
}

static GstPadProbeReturn
on_packet (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  App *app = data;
  guint n = bench_probe_packets (info);

  if (__atomic_fetch_add (&app->packets_received, n, __ATOMIC_RELAXED) == 0) {
    app->cpu_at_first = bench_self_cpu_seconds ();
    g_atomic_int_set (&app->first_seen, 1);
  }
  return GST_PAD_PROBE_OK;
}

static guint64
icecamsrc_queue_drops (App *app)
{
  g_autoptr (GstElement) src = gst_bin_get_by_name (GST_BIN (app->pipeline), "src");
  GstStructure *stats = NULL;
  guint64 dropped = 0;

  g_object_get (src, "stats", &stats, NULL);
  if (stats != NULL)
    gst_structure_get_uint64 (stats, "packets-queue-dropped", &dropped);
  g_clear_pointer (&stats, gst_structure_free);
  return dropped;
}

static void
report_received (App *app)
{
  guint64 count = __atomic_load_n (&app->packets_received, __ATOMIC_RELAXED);
  gdouble cpu = bench_self_cpu_seconds () - app->cpu_at_first;

  printf ("media-path: recv via=%s received=%" G_GUINT64_FORMAT " queue_dropped=%"
          G_GUINT64_FORMAT " cpu_s=%.3f cpu_us_per_pkt=%.2f\n", app->via, count,
          app->icecam ? icecamsrc_queue_drops (app) : 0, cpu, cpu * 1e6 / MAX (count, 1));
  g_main_loop_quit (app->loop);
}

/* Every 50 ms: once packets have come and then stopped for idle_ms, the window is over. */
static gboolean
recv_tick (gpointer data)
{
  App *app = data;
  guint64 count = __atomic_load_n (&app->packets_received, __ATOMIC_RELAXED);
  gint64 now = g_get_monotonic_time ();

  if (count != app->last_count) {
    app->last_count = count;
    app->last_change_us = now;
    return G_SOURCE_CONTINUE;
  }
  if (!g_atomic_int_get (&app->first_seen) || now - app->last_change_us < app->idle_ms * 1000)
    return G_SOURCE_CONTINUE;
  report_received (app);
  return G_SOURCE_REMOVE;
}

static gboolean
on_deadline (gpointer data)
{
  App *app = data;

  g_printerr ("bench-media-path: nothing happened within %d s\n", DEADLINE_S);
  app->exit_code = 1;
  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  App *app = data;
  g_autoptr (GError) error = NULL;
  const GstStructure *s;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR && !app->send &&
      g_atomic_int_get (&app->first_seen)) {
    report_received (app); /* the sender ended the session: the window is over */
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    gst_message_parse_error (msg, &error, NULL);
    g_printerr ("bench-media-path: %s\n", error->message);
    app->exit_code = 1;
    g_main_loop_quit (app->loop);
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && app->send && app->start_us == 0 &&
             (s = gst_message_get_structure (msg)) != NULL &&
             gst_structure_has_name (s, "icecam-pair-selected")) {
    app->start_us = -1; /* once */
    g_timeout_add (app->settle_ms, start_sending, app);
  }
  return G_SOURCE_CONTINUE;
}

static gchar *
describe_pipeline (App *app)
{
  if (app->send && app->icecam)
    return g_strdup_printf ("appsrc name=app caps=%s format=time block=true max-bytes=4000000 "
                            "! icecamsink name=sink server=%s camera-id=%s sync=false "
                            "max-viewers=64", RTP_CAPS, app->server, app->camera);
  if (app->send && app->clients > 1) {
    g_autoptr (GString) clients = g_string_new (NULL);

    for (gint i = 0; i < app->clients; i++)
      g_string_append_printf (clients, "%s127.0.0.1:%d", i ? "," : "", app->port + i);
    return g_strdup_printf ("appsrc name=app caps=%s format=time block=true max-bytes=4000000 "
                            "! multiudpsink clients=%s sync=false", RTP_CAPS, clients->str);
  }
  if (app->send && g_str_equal (app->via, "null"))
    return g_strdup_printf ("appsrc name=app caps=%s format=time block=true max-bytes=4000000 "
                            "! fakesink sync=false", RTP_CAPS);
  if (app->send)
    return g_strdup_printf ("appsrc name=app caps=%s format=time block=true max-bytes=4000000 "
                            "! udpsink host=127.0.0.1 port=%d sync=false", RTP_CAPS, app->port);
  if (app->icecam)
    return g_strdup_printf ("icecamsrc name=src server=%s camera-id=%s "
                            "! fakesink name=sink sync=false", app->server, app->camera);
  return g_strdup_printf ("udpsrc name=src address=127.0.0.1 port=%d caps=%s "
                          "! fakesink name=sink sync=false", app->port, RTP_CAPS);
}

static gboolean
parse_options (App *app, int *argc, char ***argv, GError **error)
{
  GOptionEntry entries[] = {
    { "via", 0, 0, G_OPTION_ARG_STRING, &app->via, "icecam, udp or null (send only)", "PATH" },
    { "server", 0, 0, G_OPTION_ARG_STRING, &app->server, "Rendezvous (icecam)", "URL" },
    { "camera", 0, 0, G_OPTION_ARG_STRING, &app->camera, "Camera id (icecam)", "ID" },
    { "port", 0, 0, G_OPTION_ARG_INT, &app->port, "UDP port (udp)", "PORT" },
    { "clients", 0, 0, G_OPTION_ARG_INT, &app->clients,
      "udp send: to this many ports from --port on (multiudpsink), like a fan-out", "N" },
    { "rate", 0, 0, G_OPTION_ARG_INT, &app->rate, "Packets per second (send)", "PPS" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &app->seconds, "How long to send", "S" },
    { "size", 0, 0, G_OPTION_ARG_INT, &app->size, "Packet size in bytes (1200)", "BYTES" },
    { "fps", 0, 0, G_OPTION_ARG_INT, &app->fps, "Frames (bursts) per second (30)", "N" },
    { "settle-ms", 0, 0, G_OPTION_ARG_INT, &app->settle_ms, "Sender: wait this long after the "
      "pair is selected (or the start, for udp) before the window (500; libnice's check timer "
      "ticks every Ta for ~5 s after the checks end, so 6000 measures the steady state)", "MS" },
    { "idle-ms", 0, 0, G_OPTION_ARG_INT, &app->idle_ms, "Receiver: end after this long "
      "without packets (500)", "MS" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("send|recv - media-path benchmark");

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (*argc != 2 || (!g_str_equal ((*argv)[1], "send") && !g_str_equal ((*argv)[1], "recv")) ||
      app->via == NULL || (!g_str_equal (app->via, "icecam") && !g_str_equal (app->via, "udp") &&
                           !g_str_equal (app->via, "null"))) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 "send|recv and --via icecam|udp|null (null: appsrc ! fakesink, the generator's "
                 "own cost)");
    return FALSE;
  }
  app->send = g_str_equal ((*argv)[1], "send");
  app->icecam = g_str_equal (app->via, "icecam");
  if (app->icecam && (app->server == NULL || app->camera == NULL)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--server and --camera needed");
    return FALSE;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  App app = { .rate = 5000, .seconds = 3, .size = 1200, .fps = 30, .idle_ms = 500,
              .settle_ms = SETTLE_MS };
  g_autoptr (GError) error = NULL;
  g_autofree gchar *description = NULL;
  g_autoptr (GstBus) bus = NULL;

  if (!parse_options (&app, &argc, &argv, &error)) {
    g_printerr ("bench-media-path: %s\n", error->message);
    return 2;
  }
  description = describe_pipeline (&app);
  app.pipeline = gst_parse_launch (description, &error);
  if (app.pipeline == NULL) {
    g_printerr ("bench-media-path: %s\n", error->message);
    return 2;
  }
  app.loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (app.pipeline);
  gst_bus_add_watch (bus, on_bus_message, &app);
  if (app.send) {
    app.appsrc = gst_bin_get_by_name (GST_BIN (app.pipeline), "app");
    if (!app.icecam)
      g_timeout_add (app.settle_ms, start_sending, &app);
  } else {
    g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (app.pipeline), "sink");
    g_autoptr (GstPad) pad = gst_element_get_static_pad (sink, "sink");

    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, on_packet,
                       &app, NULL);
    g_timeout_add (50, recv_tick, &app);
  }
  g_timeout_add_seconds (DEADLINE_S, on_deadline, &app);
  gst_element_set_state (app.pipeline, GST_STATE_PLAYING);
  g_main_loop_run (app.loop);

  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  g_clear_object (&app.appsrc);
  g_free (app.template);
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);
  g_free (app.via);
  g_free (app.server);
  g_free (app.camera);
  return app.exit_code;
}
