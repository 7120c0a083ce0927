/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-camera: stream a camera (or a test pattern) to icecam viewers until stopped. */

#include <glib-unix.h>
#include <gst/gst.h>
#include <stdio.h>

#include "icecam-tool.h"

typedef struct {
  gchar *server;
  gchar *id;
  gchar *source;
  gchar *pattern;         /* --pattern: a videotestsrc pattern for --source test */
  gint min_bitrate_kbps;  /* --min-bitrate: congestion control's floor */
  gboolean no_congestion_control;
  gint width, height, fps, bitrate_kbps, keyframe_interval_s, max_viewers;
  gchar *secret_file;
  gchar *certificate;
  IcecamToolIceOptions ice;
  gboolean nat_probe;

  GMainLoop *loop;
  GstElement *pipeline;
  gint exit_code;
  guint sessions_started, sessions_ended;
} CameraApp;

/* First /dev/videoN that exists; v4l2src checks that it captures. */
static gchar *
find_v4l2_device (void)
{
  for (guint i = 0; i < 10; i++) {
    g_autofree gchar *path = g_strdup_printf ("/dev/video%u", i);

    if (g_file_test (path, G_FILE_TEST_EXISTS))
      return g_steal_pointer (&path);
  }
  return NULL;
}

/* --pattern names one of videotestsrc's patterns (its "pattern" property's nicks, e.g. ball,
 * snow, smpte); "snow" is noise that fills any bitrate the encoder is given. */
static gboolean
check_pattern (const gchar *pattern, GError **error)
{
  g_autoptr (GstElement) src = NULL;
  GParamSpec *pspec;

  if (pattern == NULL)
    return TRUE;
  src = gst_element_factory_make ("videotestsrc", NULL);
  if (src == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--pattern needs GStreamer's videotestsrc (gstreamer1.0-plugins-base)");
    return FALSE;
  }
  gst_object_ref_sink (src);
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src), "pattern");
  if (pspec == NULL || !G_IS_PARAM_SPEC_ENUM (pspec) ||
      g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (pspec)->enum_class, pattern) == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--pattern '%s' is not a videotestsrc pattern (e.g. ball, snow, smpte; "
                 "gst-inspect-1.0 videotestsrc lists them)", pattern);
    return FALSE;
  }
  return TRUE;
}

static gchar *
build_source_description (CameraApp *app, GError **error)
{
  g_autofree gchar *device = NULL;

  if (g_str_equal (app->source, "test"))
    return g_strdup_printf ("videotestsrc is-live=true pattern=%s ! video/x-raw,width=%d,"
                            "height=%d,framerate=%d/1", app->pattern ? app->pattern : "ball",
                            app->width, app->height, app->fps);
  if (g_str_has_prefix (app->source, "v4l2:"))
    device = g_strdup (app->source + 5);
  else if (g_str_equal (app->source, "auto"))
    device = find_v4l2_device ();
  else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--source must be auto, test or v4l2:/dev/videoN, not '%s'", app->source);
    return NULL;
  }
  if (device == NULL) {
    g_print ("icecam-camera: no camera device found, streaming a test pattern\n");
    g_free (app->source);
    app->source = g_strdup ("test");
    return build_source_description (app, error);
  }
  return g_strdup_printf ("v4l2src device=%s ! videoconvert ! videoscale ! videorate ! "
                          "video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1",
                          device, app->width, app->height, app->fps);
}

static GstElement *
build_pipeline (CameraApp *app, GError **error)
{
  g_autofree gchar *source = build_source_description (app, error);
  g_autofree gchar *description = NULL;
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) sink = NULL;

  if (source == NULL)
    return NULL;
  /* Low latency: no B-frames or lookahead, one keyframe per interval (viewers get one on
   * join anyway), one RTP packet per NAL as soon as it exists. x264 writes SPS/PPS before
   * every IDR of a byte-stream; rtph264pay config-interval=-1 would also put a copy before
   * each of the IDR's slices (x264's sliced threads make several), between the slices of one
   * picture, which OpenH264 and other strict decoders refuse. A 250 ms VBV buffer (x264enc's
   * default is 600) keeps a keyframe's burst small enough for a slow uplink's queue. */
  description = g_strdup_printf (
      "%s ! queue max-size-buffers=2 leaky=downstream ! videoconvert "
      "! x264enc tune=zerolatency speed-preset=ultrafast bitrate=%d key-int-max=%d "
      "vbv-buf-capacity=250 "
      "! video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au "
      "! rtph264pay pt=96 mtu=1200 aggregate-mode=zero-latency "
      "! icecamsink name=sink",
      source, app->bitrate_kbps, app->fps * app->keyframe_interval_s);
  pipeline = gst_parse_launch (description, error);
  if (pipeline == NULL)
    return NULL;
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (sink, "server", app->server, "camera-id", app->id, "max-viewers",
                (guint) app->max_viewers, "secret-file", app->secret_file, NULL);
  g_object_set (sink, "min-bitrate", (guint) app->min_bitrate_kbps, "max-bitrate",
                (guint) app->bitrate_kbps, "congestion-control", !app->no_congestion_control,
                NULL);
  if (app->certificate != NULL)
    g_object_set (sink, "certificate", app->certificate, NULL);
  if (!icecam_tool_apply_ice_options (&app->ice, sink, error))
    return NULL;
  return g_steal_pointer (&pipeline);
}

static void
on_element_message (CameraApp *app, const GstStructure *s)
{
  if (gst_structure_has_name (s, "icecam-session-started")) {
    app->sessions_started++;
    g_print ("icecam-camera: session %s for %s\n", gst_structure_get_string (s, "session"),
             gst_structure_get_string (s, "viewer"));
  } else if (gst_structure_has_name (s, "icecam-pair-selected")) {
    g_print ("icecam-camera: session %s pair=%s/%s transport=%s remote=%s\n",
             gst_structure_get_string (s, "session"), gst_structure_get_string (s, "local-type"),
             gst_structure_get_string (s, "remote-type"), gst_structure_get_string (s, "transport"),
             gst_structure_get_string (s, "remote-address"));
  } else if (gst_structure_has_name (s, "icecam-session-restarted")) {
    g_print ("icecam-camera: session %s path lost, restarting ICE\n",
             gst_structure_get_string (s, "session"));
  } else if (gst_structure_has_name (s, "icecam-session-ended")) {
    app->sessions_ended++;
    g_print ("icecam-camera: session %s ended: %s\n", gst_structure_get_string (s, "session"),
             gst_structure_get_string (s, "reason"));
  } else if (gst_structure_has_name (s, "icecam-target-bitrate")) {
    guint kbps = 0;

    gst_structure_get_uint (s, "bitrate", &kbps);
    g_debug ("target bitrate %u kbit/s", kbps);
  }
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  CameraApp *app = data;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      on_element_message (app, gst_message_get_structure (msg));
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, &debug);
      g_printerr ("icecam-camera: error: %s%s%s\n", error->message, debug ? " — " : "",
                  debug ? debug : "");
      app->exit_code = 1;
      g_main_loop_quit (app->loop);
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &error, &debug);
      g_printerr ("icecam-camera: warning: %s%s%s\n", error->message, debug ? " — " : "",
                  debug ? debug : "");
      break;
    case GST_MESSAGE_EOS:
      g_main_loop_quit (app->loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  CameraApp *app = data;

  g_print ("icecam-camera: stopping\n");
  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
parse_options (CameraApp *app, int *argc, char ***argv, GError **error)
{
  GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING, &app->server,
      "The rendezvous (required)", "ws://HOST:PORT" },
    { "id", 'i', 0, G_OPTION_ARG_STRING, &app->id, "This camera's id (required)", "NAME" },
    { "source", 0, 0, G_OPTION_ARG_STRING, &app->source,
      "auto (a camera if there is one, else a test pattern), test, or v4l2:/dev/videoN",
      "SOURCE" },
    { "pattern", 0, 0, G_OPTION_ARG_STRING, &app->pattern,
      "The test pattern of --source test (videotestsrc's: ball, snow, smpte, ...; default "
      "ball)", "NAME" },
    { "width", 0, 0, G_OPTION_ARG_INT, &app->width, "Width (default 640)", "PIXELS" },
    { "height", 0, 0, G_OPTION_ARG_INT, &app->height, "Height (default 480)", "PIXELS" },
    { "fps", 0, 0, G_OPTION_ARG_INT, &app->fps, "Frames per second (default 30)", "N" },
    { "bitrate", 0, 0, G_OPTION_ARG_INT, &app->bitrate_kbps,
      "Encoder bitrate (default 1500)", "KBIT/S" },
    { "min-bitrate", 0, 0, G_OPTION_ARG_INT, &app->min_bitrate_kbps,
      "Congestion control never makes the encoder go under this (default 150; --bitrate is "
      "the maximum)", "KBIT/S" },
    { "no-congestion-control", 0, 0, G_OPTION_ARG_NONE, &app->no_congestion_control,
      "Always encode at --bitrate, whatever the viewers' paths carry", NULL },
    { "keyframe-interval", 0, 0, G_OPTION_ARG_INT, &app->keyframe_interval_s,
      "Seconds between scheduled keyframes (default 10; joining viewers get one at once)",
      "SECONDS" },
    { "max-viewers", 0, 0, G_OPTION_ARG_INT, &app->max_viewers,
      "Viewers served at once (default 16)", "N" },
    { "secret-file", 0, 0, G_OPTION_ARG_FILENAME, &app->secret_file,
      "This camera's secret, as provisioned on the rendezvous (--camera-secrets)", "PATH" },
    { "certificate", 0, 0, G_OPTION_ARG_FILENAME, &app->certificate,
      "The camera's DTLS key and certificate, created if missing (default "
      "$XDG_DATA_HOME/icecam/ID.pem); viewers pin its fingerprint", "PATH" },
    { "nat-probe", 0, 0, G_OPTION_ARG_NONE, &app->nat_probe,
      "First print which NAT this host is behind, as icecam-natprobe finds it", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- stream a camera to icecam viewers");

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, icecam_tool_ice_option_group (&app->ice));
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (app->server == NULL || app->id == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--server and --id are required");
    return FALSE;
  }
  if (app->min_bitrate_kbps == 0)
    app->min_bitrate_kbps = MIN (150, app->bitrate_kbps);
  if (app->width < 16 || app->height < 16 || app->fps < 1 || app->fps > 120 ||
      app->bitrate_kbps < 16 || app->keyframe_interval_s < 1 || app->max_viewers < 1 ||
      app->min_bitrate_kbps < 16 || app->min_bitrate_kbps > app->bitrate_kbps) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "size, fps, bitrate (min-bitrate 16..bitrate), keyframe interval or max "
                 "viewers out of range");
    return FALSE;
  }
  return check_pattern (app->pattern, error);
}

static void
camera_app_clear (CameraApp *app)
{
  g_clear_pointer (&app->loop, g_main_loop_unref);
  gst_clear_object (&app->pipeline);
  g_free (app->server);
  g_free (app->id);
  g_free (app->source);
  g_free (app->pattern);
  g_free (app->secret_file);
  g_free (app->certificate);
  icecam_tool_ice_options_clear (&app->ice);
}

static int
run (CameraApp *app, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstBus) bus = NULL;

  icecam_tool_use_build_tree_plugin ();
  if (!parse_options (app, &argc, &argv, &error)) {
    g_printerr ("icecam-camera: %s\n", error->message);
    return 2;
  }
  if (app->source == NULL)
    app->source = g_strdup ("auto");
  if (app->nat_probe) {
    g_autofree gchar *nat_type = NULL;
    g_autofree gchar *nat = icecam_tool_probe_nat ("icecam-camera", app->server,
                                                   app->ice.stun_server, &nat_type);

    g_print ("icecam-camera: %s\n", nat);
  }
  if (!icecam_tool_check_plugin (&error) || !(app->pipeline = build_pipeline (app, &error))) {
    g_printerr ("icecam-camera: %s\n", error->message);
    return 2;
  }
  app->loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (app->pipeline);
  gst_bus_add_watch (bus, on_bus_message, app);
  g_unix_signal_add (SIGINT, on_signal, app);
  g_unix_signal_add (SIGTERM, on_signal, app);

  if (gst_element_set_state (app->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    g_printerr ("icecam-camera: the pipeline does not start (run with --verbose)\n");
    app->exit_code = 1;
  } else {
    g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (app->pipeline), "sink");
    g_autofree gchar *fingerprint = NULL;

    g_object_get (sink, "fingerprint", &fingerprint, NULL);
    g_print ("icecam-camera: fingerprint %s\n", fingerprint);
    g_print ("icecam-camera: camera '%s' streaming %s to %s\n", app->id, app->source, app->server);
    g_main_loop_run (app->loop);
  }
  /* NULL closes every session: viewers get a bye, TURN allocations are released. */
  gst_element_set_state (app->pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  g_print ("icecam-camera: stopped sessions=%u\n", app->sessions_started);
  return app->exit_code;
}

int
main (int argc, char **argv)
{
  CameraApp app = { .width = 640, .height = 480, .fps = 30, .bitrate_kbps = 1500,
                    .keyframe_interval_s = 10, .max_viewers = 16 };
  int exit_code = run (&app, argc, argv);

  camera_app_clear (&app);
  return exit_code;
}
