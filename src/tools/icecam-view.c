/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-view: watch one camera through a rendezvous, in a window or headless. */

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>

#include "icecam-tool.h"
#include "icecam-view-quality.h"

typedef struct {
  gchar *server;
  gchar *camera;
  gboolean headless;
  gint frames_wanted;
  gint timeout_s;
  gint stats_interval_s;
  gchar *token;
  gchar *token_file;
  gchar *camera_fingerprint;
  IcecamToolIceOptions ice;
  gboolean nat_probe;
  gchar *nat_type;        /* set when probed */
  gboolean no_retry;
  gchar *decoder;         /* --decoder: auto or an element name */
  gboolean decoder_auto;  /* chosen by us, so ours to change when it cannot decode */

  gint64 start_us;
  GMainLoop *loop;
  GstElement *pipeline;
  GstElement *src;
  GstElement *chain;      /* depayloader ! decoder ! sink, after src */
  gint frames;            /* atomic: counted in the streaming thread */
  gint64 first_frame_us;  /* atomic */
  GMutex gap_lock;        /* the two below: written in the streaming thread */
  gint64 last_frame_us;
  gint64 max_gap_us;      /* the longest time between two decoded frames so far */
  IcecamViewQuality *quality; /* fps, freezes, lost, recovered, kbps */
  const gchar *stopped_by; /* why the main loop ended without an error, when not done */
  gchar *pair;
  gchar *transport;
  gchar *session;
  gchar *error;
  gint exit_code;
  guint retries;          /* times the source was started again after the camera went */
  guint retry_delay_s;    /* the next one's wait: 1 s doubling to RETRY_MAX_DELAY_S */
  guint retry_source_id;
} ViewApp;

/* After the camera went away, the viewer tries again after 1 s, 2 s, 4 s ... up to this. */
#define RETRY_MAX_DELAY_S 30

/* The frames asked for decoded. */
static gboolean
quit_loop (gpointer data)
{
  ViewApp *app = data;

  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_sigint (gpointer data)
{
  ViewApp *app = data;

  app->stopped_by = "SIGINT";
  return quit_loop (app);
}

static gboolean
on_sigterm (gpointer data)
{
  ViewApp *app = data;

  app->stopped_by = "SIGTERM";
  return quit_loop (app);
}

/* Streaming thread. The main loop hears of it once, when the frames asked for are there. */
static GstPadProbeReturn
on_decoded_frame (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  ViewApp *app = data;
  gint64 now = g_get_monotonic_time ();
  gint before = g_atomic_int_add (&app->frames, 1);

  if (before == 0)
    __atomic_store_n (&app->first_frame_us, now, __ATOMIC_RELEASE);
  g_mutex_lock (&app->gap_lock);
  if (app->last_frame_us != 0)
    app->max_gap_us = MAX (app->max_gap_us, now - app->last_frame_us);
  app->last_frame_us = now;
  g_mutex_unlock (&app->gap_lock);
  icecam_view_quality_frame (app->quality, now);
  if (before + 1 == app->frames_wanted)
    g_idle_add (quit_loop, app);
  return GST_PAD_PROBE_OK;
}

/* The decoder "auto" picks: openh264dec loads in ~10 ms, avdec_h264 (libav and the ~100
 * libraries gst-libav links) in 100-250 ms, which was most of a viewer's time to first frame.
 * OpenH264 decodes baseline, main and high progressive streams; anything it drops makes the
 * viewer switch to avdec_h264 (switch_to_fallback_decoder()). */
#define FAST_DECODER "openh264dec"
#define FALLBACK_DECODER "avdec_h264"

static gboolean
decoder_installed (const gchar *name)
{
  g_autoptr (GstElementFactory) factory = gst_element_factory_find (name);

  return factory != NULL;
}

static gboolean
choose_decoder (ViewApp *app, GError **error)
{
  if (app->decoder == NULL || g_str_equal (app->decoder, "auto")) {
    g_free (app->decoder);
    app->decoder = g_strdup (decoder_installed (FAST_DECODER) ? FAST_DECODER : FALLBACK_DECODER);
    app->decoder_auto = g_str_equal (app->decoder, FAST_DECODER);
  }
  if (!decoder_installed (app->decoder)) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
                 "no GStreamer element '%s' (--decoder wants an H.264 decoder such as "
                 FALLBACK_DECODER " or " FAST_DECODER ")", app->decoder);
    return FALSE;
  }
  return TRUE;
}

/* rtpjitterbuffer: puts retransmitted packets back in order and asks for missing ones
 * (icecamsrc sends NACKs), waiting at most ICECAM_VIEW_REPAIR_LATENCY_MS; in-order packets
 * pass at once.
 * request-keyframe: after loss, the depayloader asks; icecamsrc turns that into RTCP PLI.
 * avdec_h264 with slice threads only: frame threads hold frames back. Other decoders take
 * byte-stream access units, which h264parse makes. sync=false: show each frame as soon as it
 * is decoded. */
static GstElement *
make_chain (ViewApp *app, GError **error)
{
  g_autofree gchar *description = NULL;
  g_autoptr (GstElement) dec = NULL;
  g_autoptr (GstElement) jitterbuffer = NULL;
  g_autoptr (GstPad) pad = NULL;
  GstElement *chain;

  description = g_strdup_printf (
      "rtpjitterbuffer name=jb latency=%d do-retransmission=true ! "
      "rtph264depay request-keyframe=true ! %s%s name=dec%s ! %s", ICECAM_VIEW_REPAIR_LATENCY_MS,
      g_str_equal (app->decoder, "avdec_h264") ? "" : "h264parse ! ", app->decoder,
      g_str_equal (app->decoder, "avdec_h264") ? " thread-type=slice" : "",
      app->headless ? "fakesink sync=false" : "videoconvert ! autovideosink sync=false");
  chain = gst_parse_bin_from_description (description, TRUE, error);
  if (chain == NULL)
    return NULL;
  dec = gst_bin_get_by_name (GST_BIN (chain), "dec");
  pad = gst_element_get_static_pad (dec, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_decoded_frame, app, NULL);
  jitterbuffer = gst_bin_get_by_name (GST_BIN (chain), "jb");
  icecam_view_quality_set_elements (app->quality, app->src, jitterbuffer);
  return chain;
}

static gboolean
add_chain (ViewApp *app, GError **error)
{
  app->chain = make_chain (app, error);
  if (app->chain == NULL)
    return FALSE;
  gst_bin_add (GST_BIN (app->pipeline), app->chain);
  if (!gst_element_link (app->src, app->chain) ||
      !gst_element_sync_state_with_parent (app->chain)) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_NEGOTIATION,
                 "cannot link icecamsrc to %s", app->decoder);
    return FALSE;
  }
  return TRUE;
}

/* Runs in the streaming thread once icecamsrc's pad is idle: the old chain goes, the new one
 * comes, and asks the camera for a keyframe to start from. */
static GstPadProbeReturn
replace_chain (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  ViewApp *app = data;
  g_autoptr (GError) error = NULL;
  GstElement *old = app->chain;

  gst_element_unlink (app->src, old);
  gst_element_set_state (old, GST_STATE_NULL);
  gst_bin_remove (GST_BIN (app->pipeline), old);
  if (!add_chain (app, &error)) {
    GST_ELEMENT_ERROR (app->src, CORE, NEGOTIATION, ("%s", error->message), (NULL));
    return GST_PAD_PROBE_REMOVE;
  }
  gst_pad_send_event (pad, gst_video_event_new_upstream_force_key_unit (
                               GST_CLOCK_TIME_NONE, TRUE, 0));
  return GST_PAD_PROBE_REMOVE;
}

/* The automatic decoder dropped a frame before it decoded any (GstVideoDecoder posts QoS for
 * each drop): the stream has something OpenH264 refuses, such as parameter sets between the
 * slices of a picture (rtph264pay config-interval=-1 with x264's sliced threads). */
static void
switch_to_fallback_decoder (ViewApp *app)
{
  g_autoptr (GstPad) pad = gst_element_get_static_pad (app->src, "src");

  app->decoder_auto = FALSE;
  g_printerr ("icecam-view: %s cannot decode camera '%s'; decoding with %s instead\n",
              app->decoder, app->camera, FALLBACK_DECODER);
  g_free (app->decoder);
  app->decoder = g_strdup (FALLBACK_DECODER);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_IDLE, replace_chain, app, NULL);
}

static gboolean
print_progress (gpointer data)
{
  ViewApp *app = data;

  gint64 now = g_get_monotonic_time ();
  g_autofree gchar *quality = icecam_view_quality_format (app->quality, TRUE, now);

  g_print ("icecam-view: progress frames=%d elapsed_ms=%.0f %s\n",
           g_atomic_int_get (&app->frames), (now - app->start_us) / 1000.0, quality);
  fflush (stdout);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_timeout (gpointer data)
{
  ViewApp *app = data;

  if (g_atomic_int_get (&app->frames) == 0) {
    app->error = g_strdup_printf ("no video from camera '%s' within %d s", app->camera,
                                  app->timeout_s);
    app->exit_code = 1;
    g_main_loop_quit (app->loop);
  }
  return G_SOURCE_REMOVE;
}

static gboolean
retry_source (gpointer data)
{
  ViewApp *app = data;

  app->retry_source_id = 0;
  app->retries++;
  g_printerr ("icecam-view: retrying camera '%s' (attempt %u)\n", app->camera, app->retries);
  if (gst_element_set_state (app->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    app->error = g_strdup ("the pipeline does not start again (run with --verbose)");
    app->exit_code = 1;
    g_main_loop_quit (app->loop);
  }
  return G_SOURCE_REMOVE;
}

/* A viewer that was watching and lost the camera (it went offline, ended the session, its
 * path died for good, the rendezvous is unreachable) says so and tries again, unless told
 * not to; a camera that is not the pinned one is never retried. */
static gboolean
maybe_retry (ViewApp *app, const GError *error)
{
  if (app->no_retry || g_atomic_int_get (&app->frames) == 0 ||
      g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED))
    return FALSE;
  g_printerr ("icecam-view: lost camera '%s': %s; retrying in %u s\n", app->camera,
              error->message, app->retry_delay_s);
  gst_element_set_state (app->pipeline, GST_STATE_NULL);
  app->retry_source_id = g_timeout_add_seconds (app->retry_delay_s, retry_source, app);
  app->retry_delay_s = MIN (app->retry_delay_s * 2, RETRY_MAX_DELAY_S);
  return TRUE;
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  ViewApp *app = data;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;
  const GstStructure *s;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      s = gst_message_get_structure (msg);
      if (gst_structure_has_name (s, "icecam-pair-selected")) {
        g_free (app->pair);
        g_free (app->transport);
        g_free (app->session);
        app->pair = g_strdup_printf ("%s/%s", gst_structure_get_string (s, "local-type"),
                                     gst_structure_get_string (s, "remote-type"));
        app->transport = g_strdup (gst_structure_get_string (s, "transport"));
        app->session = g_strdup (gst_structure_get_string (s, "session"));
        if (app->retries > 0)
          g_printerr ("icecam-view: watching camera '%s' again (session %s, pair %s)\n",
                      app->camera, app->session, app->pair);
        app->retry_delay_s = 1;
      }
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, &debug);
      if (debug != NULL && app->ice.verbose)
        g_printerr ("icecam-view: %s\n", debug);
      /* After the first error the pipeline is going down: one decision per stop. */
      if (app->retry_source_id != 0 || maybe_retry (app, error))
        break;
      app->error = g_strdup (error->message);
      app->exit_code = 1;
      g_main_loop_quit (app->loop);
      break;
    case GST_MESSAGE_EOS:
      app->stopped_by = "the end of the stream";
      g_main_loop_quit (app->loop);
      break;
    case GST_MESSAGE_QOS:
      if (app->decoder_auto && g_atomic_int_get (&app->frames) == 0 &&
          g_str_equal (GST_MESSAGE_SRC_NAME (msg), "dec") &&
          GST_OBJECT_PARENT (GST_MESSAGE_SRC (msg)) == GST_OBJECT (app->chain))
        switch_to_fallback_decoder (app);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* The source starts first, on its own: signalling and ICE run while the decoder's plugins
 * load, so they overlap instead of adding up. */
static gboolean
build_pipeline (ViewApp *app, GError **error)
{
  app->pipeline = gst_pipeline_new ("icecam-view");
  app->src = gst_element_factory_make ("icecamsrc", "src");
  g_object_set (app->src, "server", app->server, "camera-id", app->camera, "token", app->token,
                "camera-fingerprint", app->camera_fingerprint, NULL);
  gst_bin_add (GST_BIN (app->pipeline), app->src);
  if (!icecam_tool_apply_ice_options (&app->ice, app->src, error) || !choose_decoder (app, error))
    return FALSE;
  /* The pipeline (the source alone in it) goes to PAUSED: the source starts, and the rest
   * joins the running pipeline, which never goes through NULL -> READY again. */
  if (gst_element_set_state (app->pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE,
                 "icecamsrc does not start (run with --verbose)");
    return FALSE;
  }
  return add_chain (app, error);
}

/* The longest time without a new decoded frame, from the first one until @now: a freeze
 * the viewer was stopped in counts too. "none" before the first frame. */
static gchar *
format_max_gap (ViewApp *app, gint64 now)
{
  gint64 gap;

  g_mutex_lock (&app->gap_lock);
  gap = app->last_frame_us != 0 ? MAX (app->max_gap_us, now - app->last_frame_us) : -1;
  g_mutex_unlock (&app->gap_lock);
  return gap >= 0 ? g_strdup_printf ("%.0f", gap / 1000.0) : g_strdup ("none");
}

/* ok only when the frames asked for were decoded: a viewer stopped (by a signal, or by the
 * stream ending) before that is incomplete, and exits 1. */
static const gchar *
decide_result (ViewApp *app)
{
  gint frames = g_atomic_int_get (&app->frames);

  if (app->exit_code != 0)
    return "error";
  if (app->frames_wanted > 0 && frames < app->frames_wanted) {
    g_printerr ("icecam-view: incomplete: decoded %d of the %d frames asked for; stopped by %s\n",
                frames, app->frames_wanted, app->stopped_by ? app->stopped_by : "an early quit");
    app->exit_code = 1;
    return "incomplete";
  }
  return "ok";
}

static void
print_summary (ViewApp *app)
{
  gint64 now = g_get_monotonic_time ();
  gint64 first = __atomic_load_n (&app->first_frame_us, __ATOMIC_ACQUIRE);
  g_autofree gchar *ttff = first ? g_strdup_printf ("%.1f", (first - app->start_us) / 1000.0)
                                 : g_strdup ("none");
  g_autofree gchar *max_gap = format_max_gap (app, now);
  g_autofree gchar *quality = icecam_view_quality_format (app->quality, FALSE, now);
  const gchar *result;

  if (app->error != NULL)
    g_printerr ("icecam-view: error: %s\n", app->error);
  result = decide_result (app);
  g_print ("icecam-view: result=%s camera=%s frames=%d pair=%s transport=%s ttff_ms=%s "
           "elapsed_ms=%.0f max_gap_ms=%s session=%s retries=%u decoder=%s %s%s%s\n",
           result, app->camera, g_atomic_int_get (&app->frames),
           app->pair ? app->pair : "none", app->transport ? app->transport : "none", ttff,
           (now - app->start_us) / 1000.0, max_gap,
           app->session ? app->session : "none", app->retries, app->decoder, quality,
           app->nat_type ? " nat=" : "", app->nat_type ? app->nat_type : "");
  fflush (stdout);
}

static gboolean
parse_options (ViewApp *app, int *argc, char ***argv, GError **error)
{
  GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING, &app->server,
      "The rendezvous (required)", "ws://HOST:PORT" },
    { "camera", 'c', 0, G_OPTION_ARG_STRING, &app->camera, "The camera's id (required)", "NAME" },
    { "headless", 0, 0, G_OPTION_ARG_NONE, &app->headless,
      "Decode without a display (automatic when there is none)", NULL },
    { "frames", 'n', 0, G_OPTION_ARG_INT, &app->frames_wanted,
      "Exit 0 after decoding N frames; stopped before, exit 1 with result=incomplete "
      "(default: run until stopped)", "N" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &app->timeout_s,
      "Give up when no frame arrived after this long (default 20)", "SECONDS" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &app->token,
      "The grant to show a rendezvous that requires one", "TOKEN" },
    { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &app->token_file,
      "Read the token from this file (keeps it out of the process list)", "PATH" },
    { "camera-fingerprint", 0, 0, G_OPTION_ARG_STRING, &app->camera_fingerprint,
      "Refuse a camera whose certificate is not this one, as icecam-camera prints it",
      "\"sha-256 AB:CD:..\"" },
    { "stats-interval", 0, 0, G_OPTION_ARG_INT, &app->stats_interval_s,
      "Print a progress line (frames decoded so far) every SECONDS", "SECONDS" },
    { "no-retry", 0, 0, G_OPTION_ARG_NONE, &app->no_retry,
      "Exit when the camera goes away while watching (default: say so and try again, "
      "after 1 s, 2 s, 4 s ... up to 30 s)", NULL },
    { "decoder", 0, 0, G_OPTION_ARG_STRING, &app->decoder,
      "The H.264 decoder element (default auto: " FAST_DECODER " when installed, which starts "
      "faster, else " FALLBACK_DECODER "; auto switches to " FALLBACK_DECODER " for a stream "
      FAST_DECODER " cannot decode)", "auto|NAME" },
    { "nat-probe", 0, 0, G_OPTION_ARG_NONE, &app->nat_probe,
      "First find which NAT this host is behind (as icecam-natprobe); the summary says it",
      NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- watch an icecam camera");

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, icecam_tool_ice_option_group (&app->ice));
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (app->server == NULL || app->camera == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 "--server and --camera are required");
    return FALSE;
  }
  if (app->token_file != NULL) {
    g_autofree gchar *contents = NULL;

    if (!g_file_get_contents (app->token_file, &contents, NULL, error))
      return FALSE;
    g_free (app->token);
    app->token = g_strdup (g_strstrip (contents));
  }
  if (app->frames_wanted < 0 || app->timeout_s < 1 || app->stats_interval_s < 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--frames must be >= 0 and --timeout >= 1");
    return FALSE;
  }
  return TRUE;
}

static void
view_app_clear (ViewApp *app)
{
  g_clear_pointer (&app->loop, g_main_loop_unref);
  if (app->pipeline != NULL)
    gst_element_set_state (app->pipeline, GST_STATE_NULL);
  gst_clear_object (&app->pipeline);
  g_free (app->server);
  g_free (app->camera);
  g_free (app->pair);
  g_free (app->transport);
  g_free (app->session);
  g_free (app->token);
  g_free (app->token_file);
  g_free (app->camera_fingerprint);
  g_free (app->error);
  g_free (app->nat_type);
  g_free (app->decoder);
  icecam_tool_ice_options_clear (&app->ice);
  g_mutex_clear (&app->gap_lock);
  icecam_view_quality_free (app->quality);
}

static int
run (ViewApp *app, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstBus) bus = NULL;

  app->start_us = g_get_monotonic_time ();
  icecam_tool_use_build_tree_plugin ();
  if (!parse_options (app, &argc, &argv, &error)) {
    g_printerr ("icecam-view: %s\n", error->message);
    return 2;
  }
  if (!app->headless && g_getenv ("DISPLAY") == NULL && g_getenv ("WAYLAND_DISPLAY") == NULL) {
    g_printerr ("icecam-view: no display, decoding headless\n");
    app->headless = TRUE;
  }
  if (app->nat_probe) {
    g_autofree gchar *nat = icecam_tool_probe_nat ("icecam-view", app->server,
                                                   app->ice.stun_server, &app->nat_type);

    g_print ("icecam-view: %s\n", nat);
    /* ttff_ms and elapsed_ms measure the session, not the probe before it. */
    app->start_us = g_get_monotonic_time ();
  }
  if (!icecam_tool_check_plugin (&error) || !build_pipeline (app, &error)) {
    g_printerr ("icecam-view: %s\n", error->message);
    return 2;
  }
  app->loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (app->pipeline); /* messages posted meanwhile wait on the bus */
  gst_bus_add_watch (bus, on_bus_message, app);
  g_unix_signal_add (SIGINT, on_sigint, app);
  g_unix_signal_add (SIGTERM, on_sigterm, app);
  g_timeout_add_seconds (app->timeout_s, on_timeout, app);
  if (app->stats_interval_s > 0)
    g_timeout_add_seconds (app->stats_interval_s, print_progress, app);

  if (gst_element_set_state (app->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    app->error = g_strdup ("the pipeline does not start (run with --verbose)");
    app->exit_code = 1;
  } else {
    g_main_loop_run (app->loop);
  }
  print_summary (app);
  gst_element_set_state (app->pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  return app->exit_code;
}

int
main (int argc, char **argv)
{
  ViewApp app = { .timeout_s = 20, .retry_delay_s = 1 };
  int exit_code;

  g_mutex_init (&app.gap_lock);
  app.quality = icecam_view_quality_new ();
  exit_code = run (&app, argc, argv);

  view_app_clear (&app);
  return exit_code;
}
