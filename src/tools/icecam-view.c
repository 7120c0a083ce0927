/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-view: watch one camera through a rendezvous, in a window or headless. */

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>

#include "icecam-tool.h"
#include "icecam-view-audio.h"
#include "icecam-view-faststart.h"
#include "icecam-view-record.h"
#include "icecam-view-quality.h"

typedef struct {
  gchar *server;   /* the --server URLs, comma-separated */
  gchar **servers;
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
  gboolean json;
  gboolean version;
  gboolean wait;          /* --wait: a camera not online yet is waited for */
  gboolean list;          /* --list: print the cameras online and exit */
  gchar *record_path;     /* --record */
  IcecamViewRecord *record;
  IcecamViewAudio *audio; /* the camera's audio, when its offer has some */
  GstElement *tail;       /* what the chain links from: src, or the recording's tee */
  gchar *lost;            /* icecamsrc said the camera left; its EOS follows */

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
  gboolean interrupted;   /* by SIGINT or SIGTERM */
  gboolean watched;       /* a pair was selected once: later ones are "watching again" */
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
  app->interrupted = TRUE;
  return quit_loop (app);
}

static gboolean
on_sigterm (gpointer data)
{
  ViewApp *app = data;

  app->stopped_by = "SIGTERM";
  app->interrupted = TRUE;
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
 * pass at once. faststart-min-packets=1: the first packet passes at once too (by default the
 * jitterbuffer holds it for the whole latency, 200 ms more to the first frame; see
 * icecam-view-faststart.c); packets older than the first are never asked for anyway.
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
      "rtpjitterbuffer name=jb latency=%d do-retransmission=true faststart-min-packets=1 ! "
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
  icecam_view_faststart_arm (jitterbuffer);
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
  if (!gst_element_link (app->tail, app->chain) ||
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

  gst_element_unlink (app->tail, old);
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

/* The fields after elapsed_ms are over the interval since the previous line. */
static gboolean
print_progress (gpointer data)
{
  ViewApp *app = data;
  gint64 now = g_get_monotonic_time ();
  g_autofree gchar *quality = icecam_view_quality_format_interval (app->quality, now);

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
    app->error = icecam_tool_pop_error (app->pipeline, app->ice.verbose);
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
  /* Recording, icecamsrc resumes what can be resumed; a restart would start the file again. */
  if (app->no_retry || app->record != NULL || g_atomic_int_get (&app->frames) == 0 ||
      g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED))
    return FALSE;
  g_printerr ("icecam-view: lost camera '%s': %s; watching again as soon as it is back "
              "(retrying in %u s)\n", app->camera, error->message, app->retry_delay_s);
  /* The summary names the path that works, not the one that died. */
  g_clear_pointer (&app->pair, g_free);
  g_clear_pointer (&app->transport, g_free);
  gst_element_set_state (app->pipeline, GST_STATE_NULL);
  /* The next attempt waits for the camera at the rendezvous: it watches again as soon as the
   * presence list names it, whatever the backoff says. */
  g_object_set (app->src, "wait-for-camera", TRUE, NULL);
  app->retry_source_id = g_timeout_add_seconds (app->retry_delay_s, retry_source, app);
  app->retry_delay_s = MIN (app->retry_delay_s * 2, RETRY_MAX_DELAY_S);
  return TRUE;
}

/* icecamsrc lost the camera. Recording, it waits for it to come back (resume=true): the file
 * goes on. Otherwise the EOS that follows decides. */
static void
on_camera_lost (ViewApp *app, const GstStructure *s)
{
  gboolean resuming = FALSE;

  gst_structure_get_boolean (s, "resuming", &resuming);
  if (!resuming) {
    g_free (app->lost);
    app->lost = g_strdup (gst_structure_get_string (s, "reason"));
    return;
  }
  app->retries++;
  g_printerr ("icecam-view: lost camera '%s': %s; waiting for it to come back, recording "
              "goes on\n", app->camera, gst_structure_get_string (s, "reason"));
}

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  ViewApp *app = data;
  g_autoptr (GError) error = NULL;
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
        /* Again: after a retry, or a new path in the same session (an ICE restart). */
        g_printerr ("icecam-view: watching camera '%s'%s (session %s, pair %s)\n", app->camera,
                    app->watched ? " again" : "", app->session, app->pair);
        app->watched = TRUE;
        app->retry_delay_s = 1;
      } else if (gst_structure_has_name (s, "icecam-camera-lost")) {
        on_camera_lost (app, s);
      }
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, NULL);
      /* After the first error the pipeline is going down: one decision per stop. */
      if (app->retry_source_id != 0 || maybe_retry (app, error))
        break;
      g_free (app->error);
      app->error = icecam_tool_describe_error (msg, app->ice.verbose);
      app->exit_code = 1;
      g_main_loop_quit (app->loop);
      break;
    case GST_MESSAGE_EOS:
      /* The camera left: as any loss of it, retried or not. */
      if (app->lost != NULL) {
        error = g_error_new_literal (GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_READ, app->lost);
        g_clear_pointer (&app->lost, g_free);
        if (maybe_retry (app, error))
          break;
        app->error = g_strdup (error->message);
        app->exit_code = 1;
        g_main_loop_quit (app->loop);
        break;
      }
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
                "camera-fingerprint", app->camera_fingerprint, "wait-for-camera", app->wait,
                NULL);
  gst_bin_add (GST_BIN (app->pipeline), app->src);
  app->audio = icecam_view_audio_new (app->pipeline, app->src, app->headless);
  app->tail = app->src;
  if (app->record_path != NULL) {
    /* Restarting the pipeline would start the file again: icecamsrc waits for the camera. */
    g_object_set (app->src, "resume", !app->no_retry, NULL);
    app->record = icecam_view_record_new (app->pipeline, app->src, app->record_path, error);
    if (app->record == NULL)
      return FALSE;
    app->tail = icecam_view_record_get_tee (app->record);
  }
  if (!icecam_tool_apply_ice_options (&app->ice, app->src, error) || !choose_decoder (app, error))
    return FALSE;
  /* The pipeline (the source alone in it) goes to PAUSED: the source starts, and the rest
   * joins the running pipeline, which never goes through NULL -> READY again. */
  if (gst_element_set_state (app->pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    g_autofree gchar *reason = icecam_tool_pop_error (app->pipeline, app->ice.verbose);

    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_STATE_CHANGE, "does not start: %s",
                 reason);
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
    return app->interrupted ? "interrupted" : "incomplete";
  }
  return app->interrupted ? "interrupted" : "ok";
}

/* One line of key=value pairs, or with --json one JSON object with the same fields. */
static void
print_summary (ViewApp *app)
{
  gint64 now = g_get_monotonic_time ();
  gint64 first = __atomic_load_n (&app->first_frame_us, __ATOMIC_ACQUIRE);
  g_autoptr (IcecamToolSummary) summary = icecam_tool_summary_new ();
  g_autofree gchar *max_gap = format_max_gap (app, now);
  const gchar *result;

  if (app->error != NULL)
    g_printerr ("icecam-view: error: %s\n", app->error);
  result = decide_result (app);
  icecam_tool_summary_add (summary, "result", result, FALSE);
  icecam_tool_summary_add (summary, "camera", app->camera, FALSE);
  icecam_tool_summary_add_int (summary, "frames", g_atomic_int_get (&app->frames));
  icecam_tool_summary_add (summary, "pair", app->pair, FALSE);
  icecam_tool_summary_add (summary, "transport", app->transport, FALSE);
  icecam_tool_summary_add_ms (summary, "ttff_ms", first ? first - app->start_us : -1, 1);
  icecam_tool_summary_add_ms (summary, "elapsed_ms", now - app->start_us, 0);
  icecam_tool_summary_add (summary, "max_gap_ms", max_gap, TRUE);
  icecam_tool_summary_add (summary, "session", app->session, FALSE);
  icecam_tool_summary_add_int (summary, "retries", app->retries);
  icecam_tool_summary_add (summary, "decoder", app->decoder, FALSE);
  icecam_tool_summary_add_int (summary, "audio_ms",
                               app->audio ? icecam_view_audio_get_ms (app->audio) : 0);
  icecam_view_quality_add_to_summary (app->quality, summary, now);
  if (app->nat_type != NULL)
    icecam_tool_summary_add (summary, "nat", app->nat_type, FALSE);
  icecam_tool_summary_print (summary, "icecam-view", app->json);
  fflush (stdout);
}

/* What icecamsrc would refuse when it starts, refused now with the option named. */
static gboolean
check_options (ViewApp *app, GError **error)
{
  if (!icecam_tool_check_range ("--frames", app->frames_wanted, 0, G_MAXINT, error) ||
      !icecam_tool_check_range ("--timeout", app->timeout_s, 0, 24 * 3600, error) ||
      !icecam_tool_check_range ("--stats-interval", app->stats_interval_s, 0, 24 * 3600, error))
    return FALSE;
  return icecam_tool_check_server (app->server, error) &&
         (app->camera == NULL || icecam_tool_check_id ("--camera", app->camera, error)) &&
         icecam_tool_check_fingerprint (app->camera_fingerprint, error) &&
         icecam_tool_check_ice_options (&app->ice, error);
}

static gboolean
parse_options (ViewApp *app, int *argc, char ***argv, GError **error)
{
  GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING_ARRAY, &app->servers,
      "The rendezvous (required); repeat it for the nodes of a cluster: the first that "
      "answers is used, the next when it is lost", "ws://HOST:PORT" },
    { "camera", 'c', 0, G_OPTION_ARG_STRING, &app->camera, "The camera's id (required)", "NAME" },
    { "headless", 0, 0, G_OPTION_ARG_NONE, &app->headless,
      "Decode without a display (automatic when there is none)", NULL },
    { "frames", 'n', 0, G_OPTION_ARG_INT, &app->frames_wanted,
      "Exit 0 after decoding N frames; stopped before, exit 1 with result=incomplete "
      "(default: run until stopped)", "N" },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &app->timeout_s,
      "Give up when no frame arrived after this long (default 20; 0: never)", "SECONDS" },
    { "token", 0, 0, G_OPTION_ARG_STRING, &app->token,
      "The grant to show a rendezvous that requires one", "TOKEN" },
    { "token-file", 0, 0, G_OPTION_ARG_FILENAME, &app->token_file,
      "Read the token from this file (keeps it out of the process list)", "PATH" },
    { "camera-fingerprint", 0, 0, G_OPTION_ARG_STRING, &app->camera_fingerprint,
      "Refuse a camera whose certificate is not this one, as icecam-camera prints it",
      "\"sha-256 AB:CD:..\"" },
    { "stats-interval", 0, 0, G_OPTION_ARG_INT, &app->stats_interval_s,
      "Print a progress line (frames decoded so far, frame rate and bitrate since the last "
      "line) every SECONDS (default 0: none)", "SECONDS" },
    { "no-retry", 0, 0, G_OPTION_ARG_NONE, &app->no_retry,
      "Exit when the camera goes away while watching (default: say so and try again, "
      "after 1 s, 2 s, 4 s ... up to 30 s)", NULL },
    { "decoder", 0, 0, G_OPTION_ARG_STRING, &app->decoder,
      "The H.264 decoder element (default auto: " FAST_DECODER " when installed, which starts "
      "faster, else " FALLBACK_DECODER "; auto switches to " FALLBACK_DECODER " for a stream "
      FAST_DECODER " cannot decode)", "auto|NAME" },
    { "record", 0, 0, G_OPTION_ARG_FILENAME, &app->record_path,
      "Also write the camera's video, as it came, to FILE: .mp4 (fragmented MP4) or .mkv "
      "(Matroska); it plays even if the viewer is killed, and goes on when the camera comes "
      "back", "FILE" },
    { "nat-probe", 0, 0, G_OPTION_ARG_NONE, &app->nat_probe,
      "First find which NAT this host is behind (as icecam-natprobe); the summary says it; "
      "behind a NAT that counts ports (ports=sequential) the session also signals predicted "
      "ports", NULL },
    { "wait", 0, 0, G_OPTION_ARG_NONE, &app->wait,
      "Wait for a camera that is not online yet, and for a rendezvous not up yet (services "
      "started together), up to --timeout", NULL },
    { "list", 0, 0, G_OPTION_ARG_NONE, &app->list,
      "Print the cameras online that this viewer may see (one per line) and exit", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &app->json,
      "Print the summary as one JSON object (the same fields; none is null)", NULL },
    icecam_tool_version_entry (&app->version),
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- watch an icecam camera");

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
  if (app->server == NULL || (app->camera == NULL && !app->list)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 "--server and --camera are required");
    return FALSE;
  }
  if (app->token_file != NULL) {
    g_autofree gchar *contents = NULL;
    g_autoptr (GError) local_error = NULL;

    if (!g_file_get_contents (app->token_file, &contents, NULL, &local_error)) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--token-file: %s",
                   local_error->message);
      return FALSE;
    }
    g_free (app->token);
    app->token = g_strdup (g_strstrip (contents));
  }
  return check_options (app, error);
}

static void
view_app_clear (ViewApp *app)
{
  g_clear_pointer (&app->loop, g_main_loop_unref);
  if (app->pipeline != NULL)
    gst_element_set_state (app->pipeline, GST_STATE_NULL);
  g_clear_pointer (&app->audio, icecam_view_audio_free);
  gst_clear_object (&app->pipeline);
  g_clear_pointer (&app->record, icecam_view_record_free);
  g_free (app->record_path);
  g_free (app->lost);
  g_free (app->server);
  g_strfreev (app->servers);
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
list_cameras (ViewApp *app)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) cameras = icecam_tool_list_cameras (app->server, app->token, &app->ice, &error);

  if (cameras == NULL) {
    g_printerr ("icecam-view: cannot list the cameras: %s\n", error->message);
    return 1;
  }
  if (app->json) {
    g_autoptr (GString) line = g_string_new ("{\"cameras\":[");

    for (guint i = 0; cameras[i] != NULL; i++)  /* ids are [A-Za-z0-9._-]: nothing to escape */
      g_string_append_printf (line, "%s\"%s\"", i > 0 ? "," : "", cameras[i]);
    g_print ("%s]}\n", line->str);
    return 0;
  }
  for (guint i = 0; cameras[i] != NULL; i++)
    g_print ("%s\n", cameras[i]);
  return 0;
}

static int
run (ViewApp *app, int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstBus) bus = NULL;

  app->start_us = g_get_monotonic_time ();
  icecam_tool_init (&app->ice.verbose);
  icecam_tool_use_build_tree_plugin ();
  app->ice.preload_plugin = TRUE; /* while the options' gst_init() reads the registry */
  if (!parse_options (app, &argc, &argv, &error)) {
    g_printerr ("icecam-view: %s\n", error->message);
    return 2;
  }
  if (app->version) {
    icecam_tool_print_version ("icecam-view");
    return 0;
  }
  if (app->list)
    return list_cameras (app);
  if (!app->headless && g_getenv ("DISPLAY") == NULL && g_getenv ("WAYLAND_DISPLAY") == NULL) {
    g_printerr ("icecam-view: no display, decoding headless\n");
    app->headless = TRUE;
  }
  if (app->nat_probe) {
    g_autofree gchar *nat = icecam_tool_probe_nat ("icecam-view", app->server,
                                                   app->ice.stun_server, &app->nat_type,
                                                   &app->ice);

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
  if (app->timeout_s > 0)
    g_timeout_add_seconds (app->timeout_s, on_timeout, app);
  if (app->stats_interval_s > 0)
    g_timeout_add_seconds (app->stats_interval_s, print_progress, app);

  if (gst_element_set_state (app->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    app->error = icecam_tool_pop_error (app->pipeline, app->ice.verbose);
    app->exit_code = 2;
  } else {
    g_main_loop_run (app->loop);
  }
  if (app->record != NULL && !icecam_view_record_finish (app->record, 3000))
    g_printerr ("icecam-view: the recording %s was not finished in time; it plays up to its "
                "last fragment\n", app->record_path);
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
