/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-camera: stream a camera (or a test pattern) to icecam viewers until stopped. */

#include <glib-unix.h>
#include <gst/gst.h>
#include <stdio.h>

#include "icecam-camera-keyframe.h"
#include "icecam-camera-source.h"
#include "icecam-camera-stats.h"
#include "icecam-tool.h"

typedef struct {
  gchar *server;   /* the --server URLs, comma-separated */
  gchar **servers;
  gchar *id;
  IcecamCameraSourceOptions src;
  gint max_viewers;
  gint stats_interval_s;
  gint min_bitrate_kbps;  /* --min-bitrate: congestion control's floor */
  gboolean no_congestion_control;
  gchar *secret_file;
  gchar *certificate;
  IcecamToolIceOptions ice;
  gboolean nat_probe;
  gboolean version;

  GMainLoop *loop;
  GstElement *pipeline;
  IcecamCameraRtsp *rtsp;
  gint exit_code;
  guint sessions_started, sessions_ended;
} CameraApp;

static void
on_rtsp_fatal (const gchar *message, gpointer data)
{
  CameraApp *app = data;

  g_printerr ("icecam-camera: %s\n", message);
  app->exit_code = 1;
  g_main_loop_quit (app->loop);
}

/* The RTSP camera has no audio icecam takes: the sink's audio pad goes, and with it the
 * offers' wait for audio. */
static gboolean
on_rtsp_no_audio (gpointer data)
{
  CameraApp *app = data;
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (app->pipeline), "sink");
  g_autoptr (GstPad) pad = sink ? gst_element_get_static_pad (sink, "audio") : NULL;

  g_print ("icecam-camera: audio none: the camera's stream has no AAC, PCMA or PCMU audio\n");
  if (pad != NULL)
    gst_element_release_request_pad (sink, pad);
  return G_SOURCE_REMOVE;
}

static gboolean
create_rtsp_source (CameraApp *app, GstElement *pipeline, GError **error)
{
  g_autoptr (GstElement) appsrc = gst_bin_get_by_name (GST_BIN (pipeline),
                                                       ICECAM_CAMERA_RTSP_APPSRC);

  g_autoptr (GstElement) audio = gst_bin_get_by_name (GST_BIN (pipeline),
                                                      ICECAM_CAMERA_RTSP_AUDIO_APPSRC);

  app->rtsp = icecam_camera_rtsp_new (&app->src, appsrc, on_rtsp_fatal, app, error);
  if (app->rtsp != NULL && audio != NULL)
    icecam_camera_rtsp_set_audio (app->rtsp, audio, on_rtsp_no_audio, app);
  return app->rtsp != NULL;
}

static GstElement *
build_pipeline (CameraApp *app, GError **error)
{
  g_autofree gchar *description = icecam_camera_source_describe (&app->src, error);
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GstElement) sink = NULL;

  if (description == NULL)
    return NULL;
  pipeline = gst_parse_launch (description, error);
  if (pipeline == NULL)
    return NULL;
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  g_object_set (sink, "server", app->server, "camera-id", app->id, "max-viewers",
                (guint) app->max_viewers, "secret-file", app->secret_file, NULL);
  /* An RTSP source has no encoder to adapt: the sink finds none upstream, and congestion
   * control only gives a viewer far below the others the camera's keyframes alone. */
  g_object_set (sink, "min-bitrate", (guint) app->min_bitrate_kbps, "max-bitrate",
                (guint) app->src.bitrate_kbps, "congestion-control", !app->no_congestion_control,
                NULL);
  if (app->certificate != NULL)
    g_object_set (sink, "certificate", app->certificate, NULL);
  if (!icecam_tool_apply_ice_options (&app->ice, sink, error))
    return NULL;
  if (icecam_camera_source_is_rtsp (&app->src)) {
    if (!create_rtsp_source (app, pipeline, error))
      return NULL;
  } else {
    g_autoptr (GstElement) queue = gst_bin_get_by_name (GST_BIN (pipeline),
                                                        ICECAM_CAMERA_RAW_QUEUE);
    g_autoptr (GstElement) payloader = gst_bin_get_by_name (GST_BIN (pipeline),
                                                            ICECAM_CAMERA_PAYLOADER);

    /* A new viewer's keyframe is encoded from the last frame, not the source's next one. */
    icecam_camera_keyframe_arm (queue, payloader);
  }
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
  } else if (gst_structure_has_name (s, "icecam-registered")) {
    gboolean again = FALSE;

    gst_structure_get_boolean (s, "again", &again);
    g_print ("icecam-camera: camera '%s' registered%s with the rendezvous %s\n", app->id,
             again ? " again" : "", app->server);
  } else if (gst_structure_has_name (s, "icecam-gop-cache-start")) {
    guint packets = 0, span_ms = 0;

    gst_structure_get_uint (s, "packets", &packets);
    gst_structure_get_uint (s, "span-ms", &span_ms);
    g_print ("icecam-camera: session %s starts from the GOP cache: %u packets, %u ms since the "
             "keyframe\n", gst_structure_get_string (s, "session"), packets, span_ms);
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
  g_autofree gchar *reason = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      on_element_message (app, gst_message_get_structure (msg));
      break;
    case GST_MESSAGE_ERROR:
      reason = icecam_tool_describe_error (msg, app->ice.verbose);
      g_printerr ("icecam-camera: error: %s\n", reason);
      app->exit_code = 1;
      g_main_loop_quit (app->loop);
      break;
    case GST_MESSAGE_WARNING:
      reason = icecam_tool_describe_error (msg, app->ice.verbose);
      g_printerr ("icecam-camera: warning: %s\n", reason);
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

/* What the elements would refuse when they start, refused now with the option named. */
static gboolean
check_options (CameraApp *app, GError **error)
{
  if (!icecam_tool_check_range ("--width", app->src.width, 16, 8192, error) ||
      !icecam_tool_check_range ("--height", app->src.height, 16, 8192, error) ||
      !icecam_tool_check_range ("--fps", app->src.fps, 1, 120, error) ||
      !icecam_tool_check_range ("--bitrate", app->src.bitrate_kbps, 16, 2048000, error) ||
      !icecam_tool_check_range ("--keyframe-interval", app->src.keyframe_interval_s, 1, 3600,
                                error) ||
      !icecam_tool_check_range ("--min-bitrate", app->min_bitrate_kbps, 16,
                                app->src.bitrate_kbps, error) ||
      !icecam_tool_check_range ("--max-viewers", app->max_viewers, 1, 1024, error) ||
      !icecam_tool_check_range ("--stats-interval", app->stats_interval_s, 0, 3600, error) ||
      !icecam_camera_source_check_pattern (&app->src, error))
    return FALSE;
  return icecam_tool_check_server (app->server, error) &&
         icecam_tool_check_id ("--id", app->id, error) &&
         icecam_tool_check_readable ("--secret-file", app->secret_file, error) &&
         icecam_tool_check_ice_options (&app->ice, error);
}

static gboolean
parse_options (CameraApp *app, int *argc, char ***argv, GError **error)
{
  GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING_ARRAY, &app->servers,
      "The rendezvous (required); repeat it for the nodes of a cluster: the first that "
      "answers is used, the next when it is lost", "ws://HOST:PORT" },
    { "id", 'i', 0, G_OPTION_ARG_STRING, &app->id, "This camera's id (required)", "NAME" },
    { "source", 0, 0, G_OPTION_ARG_STRING, &app->src.source,
      "auto (a camera if there is one, else a test pattern), test, v4l2:/dev/videoN, or an IP "
      "camera's H.264 passed through: rtsp://[USER@]HOST[:PORT]/PATH", "SOURCE" },
    { "pattern", 0, 0, G_OPTION_ARG_STRING, &app->src.pattern,
      "The test pattern of --source test (videotestsrc's: ball, snow, smpte, ...; default "
      "ball)", "NAME" },
    { "rtsp-password-file", 0, 0, G_OPTION_ARG_FILENAME, &app->src.rtsp_password_file,
      "The RTSP camera's password (default: $ICECAM_RTSP_PASSWORD); never in the URL", "PATH" },
    { "rtsp-transport", 0, 0, G_OPTION_ARG_STRING, &app->src.rtsp_transport,
      "RTSP media over auto (UDP, else TCP), udp or tcp (default auto)", "TRANSPORT" },
    { "no-gop-cache", 0, 0, G_OPTION_ARG_NONE, &app->src.no_gop_cache,
      "RTSP: new viewers wait for the camera's next keyframe instead of getting the frames "
      "since the last one at once", NULL },
    { "audio", 0, 0, G_OPTION_ARG_STRING, &app->src.audio,
      "Opus audio in the same session: auto (an RTSP camera's own AAC, PCMA or PCMU audio, "
      "transcoded; else none), none, test (a tone), or alsa:DEVICE, a microphone (default auto)", "AUDIO" },
    { "encoder", 0, 0, G_OPTION_ARG_STRING, &app->src.encoder,
      "auto (a hardware H.264 encoder that works here, else x264), x264, or an element name "
      "such as v4l2h264enc, vaapih264enc, nvh264enc (default auto)", "ENCODER" },
    { "width", 0, 0, G_OPTION_ARG_INT, &app->src.width, "Width (default 640)", "PIXELS" },
    { "height", 0, 0, G_OPTION_ARG_INT, &app->src.height, "Height (default 480)", "PIXELS" },
    { "fps", 0, 0, G_OPTION_ARG_INT, &app->src.fps, "Frames per second (default 30)", "N" },
    { "bitrate", 0, 0, G_OPTION_ARG_INT, &app->src.bitrate_kbps,
      "Encoder bitrate (default 1500)", "KBIT/S" },
    { "min-bitrate", 0, 0, G_OPTION_ARG_INT, &app->min_bitrate_kbps,
      "Congestion control never makes the encoder go under this (default 150; --bitrate is "
      "the maximum)", "KBIT/S" },
    { "no-congestion-control", 0, 0, G_OPTION_ARG_NONE, &app->no_congestion_control,
      "Always encode at --bitrate, whatever the viewers' paths carry", NULL },
    { "keyframe-interval", 0, 0, G_OPTION_ARG_INT, &app->src.keyframe_interval_s,
      "Seconds between scheduled keyframes (default 10; joining viewers get one at once)",
      "SECONDS" },
    { "stats-interval", 0, 0, G_OPTION_ARG_INT, &app->stats_interval_s,
      "Every N seconds, a line of stats per viewer session: bandwidth estimate, rate sent, "
      "NACKs and retransmissions (default 0: none)", "N" },
    { "max-viewers", 0, 0, G_OPTION_ARG_INT, &app->max_viewers,
      "Viewers served at once (default 16)", "N" },
    { "secret-file", 0, 0, G_OPTION_ARG_FILENAME, &app->secret_file,
      "This camera's secret, as provisioned on the rendezvous (--camera-secrets)", "PATH" },
    { "certificate", 0, 0, G_OPTION_ARG_FILENAME, &app->certificate,
      "The camera's DTLS key and certificate, created if missing (default "
      "$XDG_DATA_HOME/icecam/ID.pem); viewers pin its fingerprint", "PATH" },
    { "nat-probe", 0, 0, G_OPTION_ARG_NONE, &app->nat_probe,
      "First print which NAT this host is behind, as icecam-natprobe finds it; behind a NAT "
      "that counts ports (ports=sequential) sessions also signal predicted ports, behind a "
      "restricted cone they wait 1 s for a direct pair before using the relay", NULL },
    icecam_tool_version_entry (&app->version),
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- stream a camera to icecam viewers");

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, icecam_tool_ice_option_group (&app->ice));
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (app->version)
    return TRUE;
  if (!icecam_tool_check_arguments (*argc, *argv, error))
    return FALSE;
  if (app->servers != NULL)
    app->server = g_strjoinv (",", app->servers);
  if (app->server == NULL || app->id == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--server and --id are required");
    return FALSE;
  }
  if (app->min_bitrate_kbps == 0)
    app->min_bitrate_kbps = MIN (150, app->src.bitrate_kbps);
  return check_options (app, error);
}

static void
camera_app_clear (CameraApp *app)
{
  g_clear_pointer (&app->loop, g_main_loop_unref);
  g_clear_pointer (&app->rtsp, icecam_camera_rtsp_free);
  gst_clear_object (&app->pipeline);
  g_free (app->server);
  g_strfreev (app->servers);
  g_free (app->id);
  g_free (app->src.source);
  g_free (app->src.encoder);
  g_free (app->src.audio);
  g_free (app->src.pattern);
  g_free (app->src.rtsp_password_file);
  g_free (app->src.rtsp_transport);
  g_free (app->secret_file);
  g_free (app->certificate);
  icecam_tool_ice_options_clear (&app->ice);
}

static int
run (CameraApp *app, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstBus) bus = NULL;

  icecam_tool_init (&app->ice.verbose);
  icecam_tool_use_build_tree_plugin ();
  if (!parse_options (app, &argc, &argv, &error)) {
    g_printerr ("icecam-camera: %s\n", error->message);
    return 2;
  }
  if (app->version) {
    icecam_tool_print_version ("icecam-camera");
    return 0;
  }
  if (app->src.source == NULL)
    app->src.source = g_strdup ("auto");
  if (app->nat_probe) {
    g_autofree gchar *nat_type = NULL;
    g_autofree gchar *nat = icecam_tool_probe_nat ("icecam-camera", app->server,
                                                   app->ice.stun_server, &nat_type,
                                                   &app->ice);

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
    g_autofree gchar *reason = icecam_tool_pop_error (app->pipeline, app->ice.verbose);

    g_printerr ("icecam-camera: does not start: %s\n", reason);
    app->exit_code = 2;
  } else {
    g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (app->pipeline), "sink");
    g_autofree gchar *fingerprint = NULL;
    guint stats;

    g_object_get (sink, "fingerprint", &fingerprint, NULL);
    g_print ("icecam-camera: fingerprint %s\n", fingerprint);
    g_print ("icecam-camera: camera '%s' streaming %s; registering with %s\n", app->id,
             app->rtsp != NULL ? "rtsp" : app->src.source, app->server);
    if (app->rtsp != NULL)
      icecam_camera_rtsp_start (app->rtsp);
    stats = icecam_camera_stats_start (sink, (guint) app->stats_interval_s);
    g_main_loop_run (app->loop);
    if (stats != 0)
      g_source_remove (stats);
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
  CameraApp app = { .src = { .width = 640, .height = 480, .fps = 30, .bitrate_kbps = 1500,
                            .keyframe_interval_s = 10 }, .max_viewers = 16 };
  int exit_code = run (&app, argc, argv);

  camera_app_clear (&app);
  return exit_code;
}
