/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-camera's sources: the pipeline up to icecamsink, and an IP camera's RTSP stream. */

#include "icecam-camera-source.h"
#include "icecam-camera-keyframe.h"

#include <gst/app/app.h>
#include <string.h>

/* H.264 encoders icecam-camera knows how to set for low latency, tried in this order by
 * --encoder auto (hardware first; each must reach READY, i.e. find its device). Formats take
 * the bitrate (times @bitrate_scale, kbit/s) and the keyframe interval in frames. Encoders that
 * write SPS/PPS only once get h264parse config-interval=-1 (each IDR then carries them);
 * x264enc writes them before every IDR itself (see docs/design.md, "Keyframes"). */
typedef struct {
  const gchar *element;
  const gchar *format;
  guint bitrate_scale;
  gboolean hardware;
  const gchar *caps; /* fields for the H.264 caps after it */
} EncoderInfo;

static const EncoderInfo encoders[] = {
  { "v4l2h264enc", "v4l2h264enc extra-controls=\"controls,video_bitrate=%u,"
    "h264_i_frame_period=%d\" ! video/x-h264,level=(string)4 ! h264parse config-interval=-1",
    1000, TRUE, "" },
  { "vah264enc", "vah264enc bitrate=%u key-int-max=%d ! h264parse config-interval=-1", 1, TRUE,
    "" },
  { "vaapih264enc", "vaapih264enc rate-control=cbr bitrate=%u keyframe-period=%d "
    "! h264parse config-interval=-1", 1, TRUE, "" },
  { "nvh264enc", "nvh264enc preset=low-latency-hq zerolatency=true bitrate=%u gop-size=%d "
    "! h264parse config-interval=-1", 1, TRUE, "" },
  /* A 250 ms VBV buffer (x264enc's default is 600) keeps a keyframe's burst small enough for a
   * slow uplink's queue. */
  { "x264enc", "x264enc tune=zerolatency speed-preset=ultrafast bitrate=%u key-int-max=%d "
    "vbv-buf-capacity=250", 1, FALSE, ",profile=constrained-baseline" },
  { "openh264enc", "openh264enc bitrate=%u gop-size=%d ! h264parse config-interval=-1", 1000,
    FALSE, "" },
};

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

gboolean
icecam_camera_source_is_rtsp (const IcecamCameraSourceOptions *options)
{
  return options->source != NULL && g_ascii_strncasecmp (options->source, "rtsp://", 7) == 0;
}

/**
 * icecam_camera_source_check_pattern:
 *
 * --pattern names one of videotestsrc's patterns (its "pattern" property's nicks, e.g. ball,
 * snow, smpte); "snow" is noise that fills any bitrate the encoder is given.
 */
gboolean
icecam_camera_source_check_pattern (const IcecamCameraSourceOptions *o, GError **error)
{
  g_autoptr (GstElement) src = NULL;
  GParamSpec *pspec;

  if (o->pattern == NULL)
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
      g_enum_get_value_by_nick (G_PARAM_SPEC_ENUM (pspec)->enum_class, o->pattern) == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--pattern '%s' is not a videotestsrc pattern (e.g. ball, snow, smpte; "
                 "gst-inspect-1.0 videotestsrc lists them)", o->pattern);
    return FALSE;
  }
  return TRUE;
}

/* Whether the element can work here: a hardware encoder without its device fails READY. */
static gboolean
encoder_works (const gchar *element)
{
  g_autoptr (GstElement) encoder = gst_element_factory_make (element, NULL);
  gboolean works;

  if (encoder == NULL)
    return FALSE;
  works = gst_element_set_state (encoder, GST_STATE_READY) != GST_STATE_CHANGE_FAILURE;
  gst_element_set_state (encoder, GST_STATE_NULL);
  return works;
}

static gboolean
is_h264_encoder (GstElementFactory *factory)
{
  const gchar *klass = gst_element_factory_get_metadata (factory, GST_ELEMENT_METADATA_KLASS);
  g_autoptr (GstCaps) h264 = gst_caps_from_string ("video/x-h264");

  return klass != NULL && strstr (klass, "Encoder") != NULL &&
         gst_element_factory_can_src_any_caps (factory, h264);
}

/* The encoder chain for --encoder, up to and including its H.264 caps; prints the choice. */
static gchar *
describe_encoder (const IcecamCameraSourceOptions *o, GError **error)
{
  const gchar *wanted = o->encoder == NULL || g_str_equal (o->encoder, "auto") ? NULL
                        : g_str_equal (o->encoder, "x264") ? "x264enc" : o->encoder;
  gint interval = o->fps * o->keyframe_interval_s;
  g_autoptr (GstElementFactory) factory = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (encoders); i++) {
    const EncoderInfo *e = &encoders[i];
    g_autofree gchar *encoder = NULL;

    if (wanted != NULL ? !g_str_equal (wanted, e->element) : !encoder_works (e->element))
      continue;
    g_print ("icecam-camera: encoder %s (%s%s)\n", e->element,
             e->hardware ? "hardware" : "software",
             wanted == NULL ? ", chosen by --encoder auto" : "");
    encoder = g_strdup_printf (e->format, (guint) o->bitrate_kbps * e->bitrate_scale, interval);
    return g_strdup_printf ("%s ! video/x-h264%s,stream-format=byte-stream,alignment=au",
                            encoder, e->caps);
  }
  factory = wanted != NULL ? gst_element_factory_find (wanted) : NULL;
  if (factory == NULL || !is_h264_encoder (factory)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 wanted == NULL ? "no H.264 encoder is installed (x264enc: gstreamer1.0-plugins-ugly)"
                 : "--encoder: '%s' is not an installed H.264 encoder (auto, x264, or an element "
                   "such as v4l2h264enc, vaapih264enc, nvh264enc)", wanted);
    return NULL;
  }
  g_print ("icecam-camera: encoder %s (with its own default bitrate and keyframe interval)\n",
           wanted);
  return g_strdup_printf ("%s ! h264parse config-interval=-1 "
                          "! video/x-h264,stream-format=byte-stream,alignment=au", wanted);
}

static gchar *
describe_raw_source (IcecamCameraSourceOptions *o, GError **error)
{
  g_autofree gchar *device = NULL;

  if (g_str_equal (o->source, "test"))
    return g_strdup_printf ("videotestsrc is-live=true pattern=%s ! video/x-raw,width=%d,"
                            "height=%d,framerate=%d/1", o->pattern ? o->pattern : "ball",
                            o->width, o->height, o->fps);
  if (g_str_has_prefix (o->source, "v4l2:")) {
    device = g_strdup (o->source + 5);
    if (!g_file_test (device, G_FILE_TEST_EXISTS)) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--source: there is no %s", device);
      return NULL;
    }
  } else if (g_str_equal (o->source, "auto"))
    device = find_v4l2_device ();
  else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--source must be auto, test, v4l2:/dev/videoN or rtsp://[USER@]HOST[:PORT]/PATH, "
                 "not '%s'", o->source);
    return NULL;
  }
  if (device == NULL) {
    g_print ("icecam-camera: no camera device found, streaming a test pattern\n");
    g_free (o->source);
    o->source = g_strdup ("test");
    return describe_raw_source (o, error);
  }
  return g_strdup_printf ("v4l2src device=%s ! videoconvert ! videoscale ! videorate ! "
                          "video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1",
                          device, o->width, o->height, o->fps);
}

/**
 * icecam_camera_source_describe:
 *
 * The pipeline up to and including "icecamsink name=sink", for gst_parse_launch(). An RTSP
 * source is an appsrc named %ICECAM_CAMERA_RTSP_APPSRC that icecam_camera_rtsp_new() feeds with
 * the camera's H.264 access units, passed on without decoding (the sink's GOP cache on unless
 * @no_gop_cache); other sources are encoded. Prints the encoder chosen.
 */
gchar *
icecam_camera_source_describe (IcecamCameraSourceOptions *o, GError **error)
{
  g_autofree gchar *source = NULL;
  g_autofree gchar *encoder = NULL;
  g_autofree gchar *audio = NULL;

  /* Low latency: no B-frames or lookahead, one keyframe per interval (viewers get one on
   * join anyway), one RTP packet per NAL as soon as it exists. Not rtph264pay
   * config-interval=-1: it would put a copy of SPS/PPS before each of an IDR's slices (x264's
   * sliced threads make several), between the slices of one picture, which OpenH264 and
   * other strict decoders refuse. */
  if (!icecam_camera_audio_describe (o->audio, icecam_camera_source_is_rtsp (o), &audio, error))
    return NULL;
  if (icecam_camera_source_is_rtsp (o)) {
    if (o->encoder != NULL) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--encoder does not apply to an RTSP source: its H.264 is passed through");
      return NULL;
    }
    g_print ("icecam-camera: encoder none: the camera's H.264 is passed through\n");
    return g_strdup_printf (
        "appsrc name=" ICECAM_CAMERA_RTSP_APPSRC " is-live=true format=time do-timestamp=true "
        "max-bytes=8000000 leaky-type=downstream "
        "! h264parse config-interval=-1 ! video/x-h264,stream-format=byte-stream,alignment=au "
        "! rtph264pay pt=96 mtu=1200 aggregate-mode=zero-latency "
        "! icecamsink name=sink gop-cache=%s %s", o->no_gop_cache ? "false" : "true",
        audio ? audio : "");
  }
  source = describe_raw_source (o, error);
  if (source == NULL)
    return NULL;
  encoder = describe_encoder (o, error);
  if (encoder == NULL)
    return NULL;
  return g_strdup_printf (
      "%s ! queue name=" ICECAM_CAMERA_RAW_QUEUE " max-size-buffers=2 leaky=downstream "
      "! videoconvert ! %s "
      "! rtph264pay name=" ICECAM_CAMERA_PAYLOADER " pt=96 mtu=1200 aggregate-mode=zero-latency "
      "! icecamsink name=sink %s", source, encoder, audio ? audio : "");
}
