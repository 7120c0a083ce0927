/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-camera's RTSP source: an IP camera's H.264, passed through, reconnected when it drops. */

#include "icecam-camera-source.h"

#include <gst/app/app.h>
#include <string.h>

#define WATCH_INTERVAL_MS 500
#define CONNECT_TIMEOUT_US (15 * G_USEC_PER_SEC)
#define STALL_TIMEOUT_US (4 * G_USEC_PER_SEC)
#define RETRY_FIRST_S 1
#define RETRY_MAX_S 30
#define RTSP_LATENCY_MS 100
#define AUDIO_TIMEOUT_US (5 * G_USEC_PER_SEC)

typedef enum {
  RTSP_STATE_IDLE,
  RTSP_STATE_CONNECTING, /* the source pipeline is starting; no access unit yet */
  RTSP_STATE_STREAMING,  /* access units flow */
  RTSP_STATE_WAITING,    /* dropped or unreachable: connecting again after a backoff */
  RTSP_STATE_FAILED,     /* no retry helps (credentials, not H.264); final */
} RtspState;

static const gchar *const state_names[] = { "idle", "connecting", "streaming", "waiting",
                                            "failed" };

/**
 * IcecamCameraRtsp:
 *
 * Reads an IP camera over RTSP in a pipeline of its own (rtspsrc ! rtph264depay ! h264parse
 * ! appsink) and pushes its H.264 access units, undecoded, into the camera pipeline's appsrc,
 * timestamped on arrival. The camera pipeline (icecamsink, the viewers' sessions, the
 * payloader's sequence numbers) never stops: when the camera drops, stalls or cannot be
 * reached, only the RTSP pipeline is torn down and made again after 1 s, 2 s, 4 s ... 30 s,
 * and viewers continue after a gap. With --rtsp-transport auto rtspsrc tries UDP, then TCP
 * (interleaved) when no UDP arrives within its udp-timeout (5 s). The H.264 video stream is
 * set up ("select-stream") and, with icecam_camera_rtsp_set_audio() (--audio auto), an AAC,
 * PCMA or PCMU audio stream too: decoded to 48 kHz stereo and pushed into the camera
 * pipeline's audio appsrc, which encodes it to Opus (the only transcoding). A camera with no
 * such audio stream is told once, at its first access unit, so the offers go without audio.
 *
 * Runs in the main context; the appsink callback runs in the RTSP pipeline's streaming thread
 * and only pushes to the appsrc and stamps the time of the last access unit.
 */
struct _IcecamCameraRtsp {
  gchar *location; /* without user information */
  gchar *display;  /* for people: rtsp://USER@HOST..., never a password */
  gchar *user;
  gchar *password;
  const gchar *protocols; /* rtspsrc protocols */
  GstElement *appsrc;
  IcecamCameraRtspFatalFunc fatal;
  gpointer fatal_data;

  RtspState state;
  GstElement *pipeline;
  guint bus_watch;
  guint watch_source;
  guint retry_source;
  guint retry_s;
  gint64 state_since;
  gint64 last_unit_us; /* atomic */
  gchar *refused_codec; /* atomic: a video stream that is not H.264 (select-stream) */
  gint selected;        /* atomic: an H.264 stream was set up (select-stream) */
  GstElement *audio_appsrc; /* (nullable): the camera pipeline's audio appsrc */
  GSourceFunc no_audio;     /* called once in the main context: the camera has no audio */
  gpointer no_audio_data;
  gint audio_selected;      /* atomic: an audio stream was set up (select-stream) */
  gint audio_decided;       /* atomic: whether the camera has audio is known */
  gint64 first_unit_us;     /* streaming thread: when the first access unit came, 0 before */
};

static void connect_camera (IcecamCameraRtsp *self);

static void
set_state (IcecamCameraRtsp *self, RtspState state)
{
  if (self->state == state || self->state == RTSP_STATE_FAILED)
    return;
  g_debug ("rtsp %s: %s -> %s", self->display, state_names[self->state], state_names[state]);
  self->state = state;
  self->state_since = g_get_monotonic_time ();
}

/* Splits USER@ off @url; a password in the URL is refused (it would show in ps). */
static gboolean
parse_url (IcecamCameraRtsp *self, const gchar *url, GError **error)
{
  g_autoptr (GstUri) uri = gst_uri_from_string (url);
  const gchar *userinfo;

  if (uri == NULL || gst_uri_get_host (uri) == NULL || *gst_uri_get_host (uri) == '\0') {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--source: '%s' is not rtsp://[USER@]HOST[:PORT]/PATH", url);
    return FALSE;
  }
  userinfo = gst_uri_get_userinfo (uri);
  if (userinfo != NULL && strchr (userinfo, ':') != NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--source: no password in the URL (it shows in the process list); use "
                 "--rtsp-password-file or ICECAM_RTSP_PASSWORD");
    return FALSE;
  }
  if (userinfo != NULL && *userinfo != '\0')
    self->user = g_uri_unescape_string (userinfo, NULL);
  self->display = gst_uri_to_string (uri);
  gst_uri_set_userinfo (uri, NULL);
  self->location = gst_uri_to_string (uri);
  return TRUE;
}

static gboolean
parse_transport (IcecamCameraRtsp *self, const gchar *transport, GError **error)
{
  if (transport == NULL || g_str_equal (transport, "auto"))
    self->protocols = "udp+tcp";
  else if (g_str_equal (transport, "udp"))
    self->protocols = "udp";
  else if (g_str_equal (transport, "tcp"))
    self->protocols = "tcp";
  else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--rtsp-transport must be auto, udp or tcp, not '%s'", transport);
    return FALSE;
  }
  return TRUE;
}

static gboolean
read_password (IcecamCameraRtsp *self, const gchar *path, GError **error)
{
  const gchar *env = g_getenv ("ICECAM_RTSP_PASSWORD");
  g_autoptr (GError) local = NULL;

  if (path != NULL) {
    if (!g_file_get_contents (path, &self->password, NULL, &local)) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--rtsp-password-file: %s", local->message);
      return FALSE;
    }
    g_strchomp (self->password);
  } else if (env != NULL) {
    self->password = g_strdup (env);
  }
  return TRUE;
}

/* @text with the password, should a library have echoed it, replaced by "***". */
static gchar *
redact (IcecamCameraRtsp *self, const gchar *text)
{
  g_auto (GStrv) parts = NULL;

  if (text == NULL)
    return g_strdup ("");
  if (self->password == NULL || *self->password == '\0')
    return g_strdup (text);
  parts = g_strsplit (text, self->password, -1);
  return g_strjoinv ("***", parts);
}

/* Streaming thread of the RTSP pipeline. */
static GstFlowReturn
on_appsink_new_sample (GstAppSink *appsink, gpointer data)
{
  IcecamCameraRtsp *self = data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (appsink);
  GstCaps *caps;
  GstBuffer *buffer;

  if (sample == NULL)
    return GST_FLOW_EOS;
  caps = gst_sample_get_caps (sample);
  if (caps != NULL) {
    g_autoptr (GstCaps) current = gst_app_src_get_caps (GST_APP_SRC (self->appsrc));

    if (current == NULL || !gst_caps_is_equal (current, caps))
      gst_app_src_set_caps (GST_APP_SRC (self->appsrc), caps);
  }
  /* The camera pipeline's clock times it (appsrc do-timestamp): one time line across
   * reconnections, which start their own. */
  buffer = gst_buffer_copy (gst_sample_get_buffer (sample));
  GST_BUFFER_PTS (buffer) = GST_BUFFER_DTS (buffer) = GST_CLOCK_TIME_NONE;
  GST_BUFFER_DURATION (buffer) = GST_CLOCK_TIME_NONE;
  __atomic_store_n (&self->last_unit_us, g_get_monotonic_time (), __ATOMIC_RELEASE);
  gst_app_src_push_buffer (GST_APP_SRC (self->appsrc), buffer);
  /* Every stream was set up before the first access unit: the audio, if any, is known. Audio
   * that was set up but gives nothing decoded within AUDIO_TIMEOUT_US (no decoder for it)
   * counts as none, so that the offers stop waiting for it. */
  if (self->first_unit_us == 0)
    self->first_unit_us = g_get_monotonic_time ();
  if (self->audio_appsrc != NULL &&
      (!g_atomic_int_get (&self->audio_selected) ||
       g_get_monotonic_time () - self->first_unit_us > AUDIO_TIMEOUT_US) &&
      g_atomic_int_compare_and_exchange (&self->audio_decided, FALSE, TRUE))
    g_idle_add (self->no_audio, self->no_audio_data);
  return GST_FLOW_OK;
}

/* Streaming thread of the RTSP pipeline: decoded audio, into the camera pipeline. */
static GstFlowReturn
on_audio_sink_new_sample (GstAppSink *appsink, gpointer data)
{
  IcecamCameraRtsp *self = data;
  g_autoptr (GstSample) sample = gst_app_sink_pull_sample (appsink);
  GstBuffer *buffer;

  if (sample == NULL)
    return GST_FLOW_EOS;
  g_atomic_int_set (&self->audio_decided, TRUE);
  buffer = gst_buffer_copy (gst_sample_get_buffer (sample));
  GST_BUFFER_PTS (buffer) = GST_BUFFER_DTS (buffer) = GST_CLOCK_TIME_NONE;
  gst_app_src_push_buffer (GST_APP_SRC (self->audio_appsrc), buffer);
  return GST_FLOW_OK;
}

/* The depayloader and decoder of an audio encoding an IP camera sends, or NULL. AAC is decoded
 * by faad where it is installed, not by libav: the camera process then maps no library that
 * could encode video, which shows that the video is passed through. */
static gchar *
describe_audio_decoder (const gchar *encoding)
{
  g_autoptr (GstElementFactory) faad = gst_element_factory_find ("faad");
  const gchar *aac = faad != NULL ? "faad" : "avdec_aac";

  if (encoding == NULL)
    return NULL;
  if (g_ascii_strcasecmp (encoding, "MPEG4-GENERIC") == 0)
    return g_strdup_printf ("rtpmp4gdepay ! aacparse ! %s", aac);
  if (g_ascii_strcasecmp (encoding, "MP4A-LATM") == 0)
    return g_strdup_printf ("rtpmp4adepay ! aacparse ! %s", aac);
  if (g_ascii_strcasecmp (encoding, "PCMA") == 0)
    return g_strdup ("rtppcmadepay ! alawdec");
  if (g_ascii_strcasecmp (encoding, "PCMU") == 0)
    return g_strdup ("rtppcmudepay ! mulawdec");
  return NULL;
}

/* rtspsrc's streaming thread: the audio stream's pad gets its branch now (one made
 * before would hold the pipeline in PAUSED for a camera without audio). */
static void
on_rtspsrc_pad_added (GstElement *rtspsrc, GstPad *pad, gpointer data)
{
  IcecamCameraRtsp *self = data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  const GstStructure *s = caps != NULL ? gst_caps_get_structure (caps, 0) : NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *decoder = NULL;
  g_autofree gchar *description = NULL;
  g_autoptr (GstElement) audio_sink = NULL;
  g_autoptr (GstPad) sink = NULL;
  GstAppSinkCallbacks callbacks = { .new_sample = on_audio_sink_new_sample };
  GstElement *branch, *pipeline;
  GstPadLinkReturn link;

  if (s == NULL || g_strcmp0 (gst_structure_get_string (s, "media"), "audio") != 0)
    return;
  decoder = describe_audio_decoder (gst_structure_get_string (s, "encoding-name"));
  if (decoder == NULL)
    return;
  description = g_strdup_printf ("%s ! audioconvert ! audioresample ! " ICECAM_CAMERA_RTSP_AUDIO_CAPS
                                 " ! appsink name=aout sync=false max-buffers=64 drop=true",
                                 decoder);
  branch = gst_parse_bin_from_description (description, TRUE, &error);
  if (branch == NULL) {
    g_warning ("rtsp %s: no audio: %s", self->display, error->message);
    return;
  }
  audio_sink = gst_bin_get_by_name (GST_BIN (branch), "aout");
  gst_app_sink_set_callbacks (GST_APP_SINK (audio_sink), &callbacks, self, NULL);
  pipeline = GST_ELEMENT (gst_element_get_parent (rtspsrc));
  gst_bin_add (GST_BIN (pipeline), branch);
  gst_object_unref (pipeline);
  gst_element_sync_state_with_parent (branch);
  sink = gst_element_get_static_pad (branch, "sink");
  link = gst_pad_link (pad, sink);
  if (link != GST_PAD_LINK_OK)
    g_warning ("rtsp %s: cannot link the audio stream: %s", self->display,
               gst_pad_link_get_name (link));
  else
    g_print ("icecam-camera: rtsp %s: audio %s, transcoded to Opus\n", self->display,
             gst_structure_get_string (s, "encoding-name"));
}

/* The audio encodings an IP camera sends that icecam transcodes to Opus. */
static gboolean
is_camera_audio (const gchar *encoding)
{
  g_autofree gchar *decoder = describe_audio_decoder (encoding);

  return decoder != NULL;
}

/* rtspsrc asks, per stream in the camera's SDP, whether to set it up: the H.264 video only. */
static gboolean
on_rtspsrc_select_stream (GstElement *rtspsrc, guint num, GstCaps *caps, gpointer data)
{
  IcecamCameraRtsp *self = data;
  const GstStructure *s = gst_caps_get_size (caps) > 0 ? gst_caps_get_structure (caps, 0) : NULL;
  const gchar *media = s != NULL ? gst_structure_get_string (s, "media") : NULL;
  const gchar *encoding = s != NULL ? gst_structure_get_string (s, "encoding-name") : NULL;
  gchar *refused;

  if (g_strcmp0 (media, "audio") == 0 && self->audio_appsrc != NULL && is_camera_audio (encoding) &&
      !g_atomic_int_get (&self->audio_selected)) {
    g_atomic_int_set (&self->audio_selected, TRUE);
    return TRUE;
  }
  if (g_strcmp0 (media, "video") != 0)
    return FALSE;
  if (encoding != NULL && g_ascii_strcasecmp (encoding, "H264") == 0) {
    g_atomic_int_set (&self->selected, TRUE);
    return TRUE;
  }
  refused = g_strdup (encoding ? encoding : "unknown");
  if (!g_atomic_pointer_compare_and_exchange (&self->refused_codec, NULL, refused))
    g_free (refused);
  return FALSE;
}

static void
stop_pipeline (IcecamCameraRtsp *self)
{
  if (self->pipeline == NULL)
    return;
  g_source_remove (self->bus_watch);
  self->bus_watch = 0;
  gst_element_set_state (self->pipeline, GST_STATE_NULL);
  gst_clear_object (&self->pipeline);
}

static void
fail (IcecamCameraRtsp *self, const gchar *message)
{
  stop_pipeline (self);
  set_state (self, RTSP_STATE_FAILED);
  self->fatal (message, self->fatal_data);
}

static gboolean
retry_cb (gpointer data)
{
  IcecamCameraRtsp *self = data;

  self->retry_source = 0;
  connect_camera (self);
  return G_SOURCE_REMOVE;
}

/* The camera dropped, stalled or cannot be reached: again after the backoff. */
static void
retry (IcecamCameraRtsp *self, const gchar *why)
{
  g_autofree gchar *line = redact (self, why);

  stop_pipeline (self);
  if (self->state == RTSP_STATE_FAILED)
    return;
  g_printerr ("icecam-camera: camera %s: %s; connecting again in %u s\n", self->display, line,
              self->retry_s);
  set_state (self, RTSP_STATE_WAITING);
  self->retry_source = g_timeout_add_seconds (self->retry_s, retry_cb, self);
  self->retry_s = MIN (self->retry_s * 2, RETRY_MAX_S);
}

static void
fail_not_h264 (IcecamCameraRtsp *self)
{
  g_autofree gchar *line = g_strdup_printf (
      "the camera %s sends %s video, not H.264: icecam passes H.264 through and does not "
      "transcode (set the camera's video codec to H.264)", self->display, self->refused_codec);

  fail (self, line);
}

/* The reason at the end of rtspsrc's debug text ("...: Failed to connect. (Connection
 * refused)"), or the error's message. */
static const gchar *
error_reason (const GError *error, const gchar *debug)
{
  const gchar *tail = debug != NULL ? g_strrstr (debug, ": ") : NULL;

  return tail != NULL && tail[2] != '\0' ? tail + 2 : error->message;
}

static void
on_rtsp_error (IcecamCameraRtsp *self, GstMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;
  g_autofree gchar *line = NULL;

  gst_message_parse_error (msg, &error, &debug);
  if (debug != NULL) {
    g_autofree gchar *raw = g_steal_pointer (&debug);

    debug = redact (self, raw);
  }
  g_debug ("rtsp %s: error from %s: %s (%s)", self->display, GST_OBJECT_NAME (msg->src),
           error->message, debug ? debug : "");
  if (g_atomic_pointer_get (&self->refused_codec) && !g_atomic_int_get (&self->selected)) {
    fail_not_h264 (self);
  } else if (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED)) {
    if (self->user == NULL)
      line = g_strdup_printf ("the camera %s wants a user name and password (rtsp://USER@... "
                              "and --rtsp-password-file or ICECAM_RTSP_PASSWORD)", self->display);
    else
      line = g_strdup_printf ("the camera %s refused user '%s': wrong user name or password",
                              self->display, self->user);
    fail (self, line);
  } else {
    line = g_strdup_printf ("%s (%s)", self->state == RTSP_STATE_STREAMING ? "the stream broke"
                            : "cannot reach it", error_reason (error, debug));
    /* rtspsrc's debug text can span lines; one line for people. */
    g_strdelimit (line, "\n", ' ');
    retry (self, line);
  }
}

static gboolean
on_rtsp_bus_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  IcecamCameraRtsp *self = data;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
    on_rtsp_error (self, msg);
  else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS)
    retry (self, "the stream ended");
  return G_SOURCE_CONTINUE;
}

static GstElement *
make_pipeline (IcecamCameraRtsp *self, GError **error)
{
  g_autoptr (GstElement) pipeline = gst_parse_launch (
      "rtspsrc name=rtsp ! rtph264depay ! h264parse "
      "! video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=out sync=false "
      "max-buffers=64", error);
  g_autoptr (GstElement) rtspsrc = NULL;
  g_autoptr (GstElement) appsink = NULL;
  GstAppSinkCallbacks callbacks = { .new_sample = on_appsink_new_sample };

  if (pipeline == NULL)
    return NULL;
  rtspsrc = gst_bin_get_by_name (GST_BIN (pipeline), "rtsp");
  gst_util_set_object_arg (G_OBJECT (rtspsrc), "protocols", self->protocols);
  g_object_set (rtspsrc, "location", self->location, "latency", RTSP_LATENCY_MS, NULL);
  if (self->user != NULL)
    g_object_set (rtspsrc, "user-id", self->user, NULL);
  if (self->password != NULL)
    g_object_set (rtspsrc, "user-pw", self->password, NULL);
  g_signal_connect (rtspsrc, "select-stream", G_CALLBACK (on_rtspsrc_select_stream), self);
  appsink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  gst_app_sink_set_callbacks (GST_APP_SINK (appsink), &callbacks, self, NULL);
  if (self->audio_appsrc != NULL)
    g_signal_connect (rtspsrc, "pad-added", G_CALLBACK (on_rtspsrc_pad_added), self);
  return g_steal_pointer (&pipeline);
}

static void
connect_camera (IcecamCameraRtsp *self)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstBus) bus = NULL;

  g_clear_pointer (&self->refused_codec, g_free);
  g_atomic_int_set (&self->selected, FALSE);
  g_atomic_int_set (&self->audio_selected, FALSE);
  self->pipeline = make_pipeline (self, &error);
  if (self->pipeline == NULL) {
    g_autofree gchar *line = g_strdup_printf ("cannot read RTSP: %s", error->message);

    fail (self, line);
    return;
  }
  bus = gst_element_get_bus (self->pipeline);
  self->bus_watch = gst_bus_add_watch (bus, on_rtsp_bus_message, self);
  set_state (self, RTSP_STATE_CONNECTING);
  __atomic_store_n (&self->last_unit_us, 0, __ATOMIC_RELEASE);
  if (gst_element_set_state (self->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    retry (self, "the RTSP pipeline does not start");
}

/* Every WATCH_INTERVAL_MS: a camera that went quiet, or never answered, is connected again. */
static gboolean
watch_cb (gpointer data)
{
  IcecamCameraRtsp *self = data;
  gint64 now = g_get_monotonic_time ();
  gint64 last = __atomic_load_n (&self->last_unit_us, __ATOMIC_ACQUIRE);

  /* rtspsrc set up nothing and says nothing when it had no stream it was allowed to take. */
  if (self->state == RTSP_STATE_CONNECTING && g_atomic_pointer_get (&self->refused_codec) &&
      !g_atomic_int_get (&self->selected) && now - self->state_since > G_USEC_PER_SEC) {
    fail_not_h264 (self);
  } else if (self->state == RTSP_STATE_CONNECTING && last != 0) {
    g_print ("icecam-camera: camera %s: receiving H.264\n", self->display);
    set_state (self, RTSP_STATE_STREAMING);
    self->retry_s = RETRY_FIRST_S;
  } else if (self->state == RTSP_STATE_CONNECTING && now - self->state_since > CONNECT_TIMEOUT_US) {
    retry (self, "no video within 15 s");
  } else if (self->state == RTSP_STATE_STREAMING && now - last > STALL_TIMEOUT_US) {
    retry (self, "no video for 4 s");
  }
  return G_SOURCE_CONTINUE;
}

/**
 * icecam_camera_rtsp_new:
 * @appsrc: the camera pipeline's appsrc (%ICECAM_CAMERA_RTSP_APPSRC)
 * @fatal: called when no retry can help
 *
 * Returns: (nullable): the source, not started; %NULL with @error for a bad URL or password
 *   file
 */
IcecamCameraRtsp *
icecam_camera_rtsp_new (const IcecamCameraSourceOptions *options, GstElement *appsrc,
                        IcecamCameraRtspFatalFunc fatal, gpointer data, GError **error)
{
  g_autoptr (IcecamCameraRtsp) self = g_new0 (IcecamCameraRtsp, 1);

  self->appsrc = gst_object_ref (appsrc);
  self->fatal = fatal;
  self->fatal_data = data;
  self->retry_s = RETRY_FIRST_S;
  if (!parse_url (self, options->source, error) ||
      !parse_transport (self, options->rtsp_transport, error) ||
      !read_password (self, options->rtsp_password_file, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * icecam_camera_rtsp_set_audio:
 * @appsrc: the camera pipeline's audio appsrc (%ICECAM_CAMERA_RTSP_AUDIO_APPSRC)
 * @no_audio: called once in the main context if the camera's stream has no audio icecam takes
 *
 * Takes the camera's audio too. Call before icecam_camera_rtsp_start().
 */
void
icecam_camera_rtsp_set_audio (IcecamCameraRtsp *self, GstElement *appsrc, GSourceFunc no_audio,
                              gpointer data)
{
  gst_object_replace ((GstObject **) &self->audio_appsrc, GST_OBJECT (appsrc));
  self->no_audio = no_audio;
  self->no_audio_data = data;
}

/* Connects now and keeps the camera connected. */
void
icecam_camera_rtsp_start (IcecamCameraRtsp *self)
{
  g_print ("icecam-camera: camera %s: connecting over RTSP%s\n", self->display,
           self->password != NULL ? " (password given)" : "");
  self->watch_source = g_timeout_add (WATCH_INTERVAL_MS, watch_cb, self);
  connect_camera (self);
}

void
icecam_camera_rtsp_free (IcecamCameraRtsp *self)
{
  if (self == NULL)
    return;
  stop_pipeline (self);
  if (self->watch_source != 0)
    g_source_remove (self->watch_source);
  if (self->retry_source != 0)
    g_source_remove (self->retry_source);
  gst_clear_object (&self->appsrc);
  gst_clear_object (&self->audio_appsrc);
  g_free (self->location);
  g_free (self->display);
  g_free (self->user);
  if (self->password != NULL)
    memset (self->password, 0, strlen (self->password));
  g_free (self->password);
  g_free (self->refused_codec);
  g_free (self);
}
