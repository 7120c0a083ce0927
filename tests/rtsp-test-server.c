/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A real RTSP server (gst-rtsp-server) for the tests and benchmarks: an IP camera's stream. */

#include <glib-unix.h>
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <stdio.h>

typedef struct {
  gchar *video, *pattern;
  gint port, width, height, fps, gop_s, bitrate_kbps;
  gboolean audio, no_inband_params;
  gchar *audio_codec; /* aac (default), pcma or pcmu */
  gchar *user, *password_file, *auth;
} ServerOptions;

static gchar *
video_chain (const ServerOptions *o)
{
  g_autofree gchar *raw = g_strdup_printf (
      "videotestsrc is-live=true pattern=%s ! video/x-raw,width=%d,height=%d,framerate=%d/1",
      o->pattern, o->width, o->height, o->fps);

  if (g_str_equal (o->video, "mjpeg"))
    return g_strdup_printf ("%s ! videoconvert ! video/x-raw,format=I420 ! jpegenc "
                            "! rtpjpegpay name=pay0 pt=26", raw); /* 4:2:0, as RFC 2435 wants */
  if (g_str_equal (o->video, "h265"))
    return g_strdup_printf ("%s ! x265enc tune=zerolatency speed-preset=ultrafast key-int-max=%d "
                            "! rtph265pay name=pay0 pt=96", raw, o->fps * o->gop_s);
  /* Without in-band parameter sets, as many cameras send: only the SDP's
   * sprop-parameter-sets carries them. */
  return g_strdup_printf ("%s ! x264enc tune=zerolatency speed-preset=ultrafast bitrate=%d "
                          "key-int-max=%d%s ! video/x-h264,profile=constrained-baseline ! h264parse "
                          "! video/x-h264,stream-format=%s ! rtph264pay name=pay0 pt=96 "
                          "config-interval=%d", raw, o->bitrate_kbps, o->fps * o->gop_s,
                          o->no_inband_params ? " option-string=repeat-headers=0" : "",
                          o->no_inband_params ? "avc" : "byte-stream",
                          o->no_inband_params ? 0 : -1);
}

static gboolean
add_auth (GstRTSPServer *server, GstRTSPMediaFactory *factory, const ServerOptions *o,
          GError **error)
{
  g_autoptr (GstRTSPAuth) auth = gst_rtsp_auth_new ();
  g_autoptr (GstRTSPToken) token = gst_rtsp_token_new (GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE,
                                                       G_TYPE_STRING, "viewer", NULL);
  g_autofree gchar *password = NULL;

  if (!g_file_get_contents (o->password_file, &password, NULL, error))
    return FALSE;
  g_strchomp (password);
  if (g_strcmp0 (o->auth, "digest") == 0) {
    gst_rtsp_auth_add_digest (auth, o->user, password, token);
    gst_rtsp_auth_set_supported_methods (auth, GST_RTSP_AUTH_DIGEST);
  } else {
    g_autofree gchar *basic = gst_rtsp_auth_make_basic (o->user, password);

    gst_rtsp_auth_add_basic (auth, basic, token);
  }
  gst_rtsp_media_factory_add_role (factory, "viewer",
                                   GST_RTSP_PERM_MEDIA_FACTORY_ACCESS, G_TYPE_BOOLEAN, TRUE,
                                   GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, G_TYPE_BOOLEAN, TRUE,
                                   NULL);
  gst_rtsp_server_set_auth (server, auth);
  return TRUE;
}

static gboolean
on_signal (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  ServerOptions o = { .width = 640, .height = 480, .fps = 25, .gop_s = 4, .bitrate_kbps = 1500 };
  GOptionEntry entries[] = {
    { "port", 0, 0, G_OPTION_ARG_INT, &o.port, "Port (default 0: any; printed)", "N" },
    { "video", 0, 0, G_OPTION_ARG_STRING, &o.video, "h264 (default), h265 or mjpeg", "CODEC" },
    { "pattern", 0, 0, G_OPTION_ARG_STRING, &o.pattern, "videotestsrc pattern (ball)", "NAME" },
    { "width", 0, 0, G_OPTION_ARG_INT, &o.width, "Width", "PIXELS" },
    { "height", 0, 0, G_OPTION_ARG_INT, &o.height, "Height", "PIXELS" },
    { "fps", 0, 0, G_OPTION_ARG_INT, &o.fps, "Frames per second", "N" },
    { "gop", 0, 0, G_OPTION_ARG_INT, &o.gop_s, "Seconds between keyframes (default 4)", "S" },
    { "bitrate", 0, 0, G_OPTION_ARG_INT, &o.bitrate_kbps, "H.264 bitrate", "KBIT/S" },
    { "audio", 0, 0, G_OPTION_ARG_NONE, &o.audio, "Add AAC audio to the stream", NULL },
    { "audio-codec", 0, 0, G_OPTION_ARG_STRING, &o.audio_codec,
      "Add audio in this codec: aac, pcma or pcmu (G.711, 8 kHz, as most IP cameras)", "CODEC" },
    { "no-inband-params", 0, 0, G_OPTION_ARG_NONE, &o.no_inband_params,
      "SPS/PPS only in the SDP, never before an IDR", NULL },
    { "user", 0, 0, G_OPTION_ARG_STRING, &o.user, "Require this user", "NAME" },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &o.password_file, "Its password", "PATH" },
    { "auth", 0, 0, G_OPTION_ARG_STRING, &o.auth, "basic (default) or digest", "METHOD" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- RTSP test camera at /cam");
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  g_autoptr (GstRTSPServer) server = NULL;
  g_autofree gchar *service = NULL;
  g_autofree gchar *launch = NULL;
  const gchar *audio = NULL;
  g_autofree gchar *video = NULL;
  GstRTSPMediaFactory *factory;
  GstRTSPMountPoints *mounts;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_add_group (context, gst_init_get_option_group ());
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("rtsp-test-server: %s\n", error->message);
    return 2;
  }
  if (o.video == NULL)
    o.video = g_strdup ("h264");
  if (o.pattern == NULL)
    o.pattern = g_strdup ("ball");
  video = video_chain (&o);
  if (o.audio_codec != NULL)
    o.audio = TRUE;
  else
    o.audio_codec = g_strdup ("aac");
  if (g_str_equal (o.audio_codec, "aac")) {
    audio = " audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample "
            "! audio/x-raw,rate=48000,channels=1 ! avenc_aac ! rtpmp4gpay name=pay1 pt=97";
  } else if (g_str_equal (o.audio_codec, "pcma")) {
    audio = " audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample "
            "! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8";
  } else if (g_str_equal (o.audio_codec, "pcmu")) {
    audio = " audiotestsrc is-live=true wave=sine ! audioconvert ! audioresample "
            "! audio/x-raw,rate=8000,channels=1 ! mulawenc ! rtppcmupay name=pay1 pt=0";
  } else {
    g_printerr ("rtsp-test-server: --audio-codec '%s': expected aac, pcma or pcmu\n",
                o.audio_codec);
    return 2;
  }
  launch = g_strdup_printf ("( %s%s )", video, o.audio ? audio : "");
  server = gst_rtsp_server_new ();
  service = g_strdup_printf ("%d", o.port);
  gst_rtsp_server_set_address (server, "127.0.0.1");
  gst_rtsp_server_set_service (server, service);
  factory = gst_rtsp_media_factory_new ();
  gst_rtsp_media_factory_set_launch (factory, launch);
  gst_rtsp_media_factory_set_shared (factory, TRUE);
  if (o.user != NULL && !add_auth (server, factory, &o, &error)) {
    g_printerr ("rtsp-test-server: %s\n", error->message);
    return 2;
  }
  mounts = gst_rtsp_server_get_mount_points (server);
  gst_rtsp_mount_points_add_factory (mounts, "/cam", factory);
  g_object_unref (mounts);
  if (gst_rtsp_server_attach (server, NULL) == 0) {
    g_printerr ("rtsp-test-server: cannot listen on port %d\n", o.port);
    return 1;
  }
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_signal, loop);
  g_unix_signal_add (SIGTERM, on_signal, loop);
  printf ("rtsp-test-server: port %d\n", gst_rtsp_server_get_bound_port (server));
  fflush (stdout);
  g_main_loop_run (loop);
  return 0;
}
