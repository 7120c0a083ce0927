/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsink: the camera side; RTP in, sent to every viewer over its own ICE session. */

/**
 * SECTION:element-icecamsink
 * @title: icecamsink
 *
 * Registers a camera with an icecam rendezvous and serves every viewer that asks for it,
 * each over its own ICE session (host, server-reflexive, peer-reflexive or relayed pair).
 * Media is private: each viewer runs a DTLS-SRTP handshake with the camera, which proves
 * the certificate whose fingerprint is in the camera's offer (and in the read-only
 * #GstIcecamSink:fingerprint, for viewers to pin). One encoder serves every viewer; each
 * packet is encrypted once per viewer with that viewer's keys. When a
 * viewer's path comes up, and when a viewer asks (RTCP PLI/FIR), the element sends an
 * upstream force-key-unit event so that the viewer's first frame does not wait for the
 * next scheduled keyframe.
 *
 * The event does not ask for headers (all-headers is FALSE): each IDR access unit must carry
 * its SPS and PPS itself. x264enc writes them before every IDR. With an encoder that writes
 * them only once (many hardware encoders), put `h264parse config-interval=-1` before
 * rtph264pay; not `rtph264pay config-interval=-1`, which in GStreamer 1.22 repeats them before
 * every slice of an IDR, between the slices of one picture.
 *
 * Congestion control: each viewer's receiver reports give it a bandwidth estimate, and the
 * one encoder's target follows the smallest estimate of the viewers that are not far below
 * the others, between #GstIcecamSink:min-bitrate and #GstIcecamSink:max-bitrate (by default
 * the encoder's own bitrate at the start); a viewer far below the others gets keyframes only
 * until its path recovers. The element sets the target on the upstream encoder it finds
 * (x264enc, x265enc, openh264enc, vp8enc, vp9enc, v4l2h264enc's video_bitrate control, and
 * others with a "bitrate" or "target-bitrate" property) and posts it as an
 * "icecam-target-bitrate" element message (bitrate in kbit/s, encoder: the element's name or
 * "none") for applications with other encoders. #GstIcecamSink:congestion-control=false keeps
 * the maximum.
 *
 * Element messages on the bus: "icecam-session-started" (session, viewer),
 * "icecam-pair-selected" (session, local-type, remote-type, transport, local-address,
 * remote-address), "icecam-session-restarted" (session: its path died and ICE restarts within
 * the same session), "icecam-session-ended" (session, reason), "icecam-registered" (again:
 * FALSE the first time the camera is registered with the rendezvous after start, TRUE when it
 * is registered again after losing the rendezvous) and, with #GstIcecamSink:gop-cache,
 * "icecam-gop-cache-start" (session, packets, span-ms).
 *
 * ## Audio
 *
 * An `audio` request pad takes Opus RTP (rtpopuspay): the offers then carry a second media
 * section, m=audio with payload type and SSRC from its caps, bundled with the video on the same
 * ICE/DTLS-SRTP transport. Once the pad is requested, offers wait for its caps, so that every
 * viewer gets the audio section; releasing the pad says there is no audio after all. Audio packets go to every connected viewer as they come
 * (audio waits for no keyframe and stays out of the GOP cache). Without the pad nothing changes.
 * (pipelines/camera-audio.sh)
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! video/x-raw,width=640,height=480,framerate=30/1 \
 *   ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=300 \
 *   ! video/x-h264,stream-format=byte-stream,alignment=au \
 *   ! rtph264pay aggregate-mode=zero-latency \
 *   ! icecamsink name=sink server=ws://127.0.0.1:8080 camera-id=frontdoor \
 *   audiotestsrc is-live=true ! audioconvert ! audioresample ! opusenc ! rtpopuspay pt=111 \
 *   ! sink.audio
 * ]|
 *
 * A source that cannot make a keyframe when asked (an IP camera passed through) sets
 * #GstIcecamSink:gop-cache, so a new viewer gets the packets since the last keyframe at once.
 *
 * ## Passing an IP camera's H.264 through (pipelines/camera-rtsp.sh)
 * |[
 * gst-launch-1.0 rtspsrc location=rtsp://192.168.1.64:554/stream1 latency=100 \
 *   protocols=udp+tcp ! rtph264depay ! h264parse config-interval=-1 \
 *   ! video/x-h264,stream-format=byte-stream,alignment=au \
 *   ! rtph264pay aggregate-mode=zero-latency mtu=1200 \
 *   ! icecamsink server=ws://127.0.0.1:8080 camera-id=frontdoor gop-cache=true
 * ]|
 *
 * ## Example launch line (pipelines/camera-test.sh)
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! video/x-raw,width=640,height=480,framerate=30/1 \
 *   ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=300 \
 *   ! video/x-h264,stream-format=byte-stream,alignment=au \
 *   ! rtph264pay aggregate-mode=zero-latency \
 *   ! icecamsink server=ws://127.0.0.1:8080 camera-id=frontdoor
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsticecamsink.h"

#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <string.h>

#include "gsticecamcapture.h"
#include "gsticecamcommon.h"
#include "gsticecamencoder.h"
#include "icecam-camera-endpoint.h"
#include "icecam-worker.h"

GST_DEBUG_CATEGORY_STATIC (gst_icecam_sink_debug);
#define GST_CAT_DEFAULT gst_icecam_sink_debug

#define DEFAULT_MAX_VIEWERS 16
#define DEFAULT_MIN_BITRATE 150
/* When max-bitrate is 0 and the encoder's cannot be read. */
#define FALLBACK_MAX_BITRATE 2000
/* The encoder is told a new target only when it moved this much (churn costs encoders). */
#define TARGET_STEP 0.05
#define MAX_BUFFERS_PER_PACKET 16

enum {
  PROP_MAX_VIEWERS = GST_ICECAM_PROP_LAST,
  PROP_SECRET_FILE,
  PROP_CERTIFICATE,
  PROP_FINGERPRINT,
  PROP_GOP_CACHE,
  PROP_CONGESTION_CONTROL,
  PROP_MIN_BITRATE,
  PROP_MAX_BITRATE,
};

struct _GstIcecamSink {
  GstBaseSink parent;

  GstIcecamSettings settings; /* object lock */
  guint max_viewers;
  gchar *secret_file;
  gchar *certificate;             /* path; NULL: the default under the user data dir */
  gchar *fingerprint;             /* of the loaded certificate */
  gboolean gop_cache;
  GstPad *audio_pad;              /* (nullable): the `audio` request pad */

  gboolean congestion_control;
  guint min_bitrate, max_bitrate; /* kbit/s; max 0: the encoder's */

  /* streaming thread */
  gboolean encoder_searched;
  GstElement *encoder;            /* upstream, NULL if none was found */
  guint applied_bitrate;          /* kbit/s, the last target given to the encoder */
  GstIcecamCaptureNote video_capture;
  GstIcecamCaptureNote audio_capture; /* the audio pad's streaming thread */

  IcecamWorker *worker;
  IcecamCameraEndpoint *endpoint; /* created and used in the worker; send() from streaming */
  gboolean registered;            /* worker thread only */
  gboolean was_registered;        /* worker thread only: registered once since start */
  guint keyframe_count;

  /* render_list() scratch, reused (basesink serializes its calls): NiceOutputMessage,
   * GOutputVector and GstMapInfo */
  GArray *messages;
  GArray *vecs;
  GArray *maps;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS ("application/x-rtp"));

static GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE ("audio",
    GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000"));

#define gst_icecam_sink_parent_class parent_class
G_DEFINE_TYPE (GstIcecamSink, gst_icecam_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (icecamsink, "icecamsink", GST_RANK_NONE,
    GST_TYPE_ICECAM_SINK,
    GST_DEBUG_CATEGORY_INIT (gst_icecam_sink_debug, "icecamsink", 0, "icecam camera sink"));

static void
on_endpoint_session_started (IcecamCameraEndpoint *endpoint, const gchar *session,
                             const gchar *viewer, GstIcecamSink *sink)
{
  gst_element_post_message (GST_ELEMENT (sink),
      gst_message_new_element (GST_OBJECT (sink),
          gst_structure_new ("icecam-session-started", "session", G_TYPE_STRING, session,
                             "viewer", G_TYPE_STRING, viewer, NULL)));
}

static void
on_endpoint_pair_selected (IcecamCameraEndpoint *endpoint, const gchar *session,
                           IcecamPairInfo *info, GstIcecamSink *sink)
{
  GST_INFO_OBJECT (sink, "session %s: %s/%s pair %s <-> %s", session, info->local_type,
                   info->remote_type, info->local_address, info->remote_address);
  gst_element_post_message (GST_ELEMENT (sink),
                            gst_icecam_pair_message_new (GST_OBJECT (sink), session, info));
}

static void
on_endpoint_session_ended (IcecamCameraEndpoint *endpoint, const gchar *session,
                           const gchar *reason, GstIcecamSink *sink)
{
  gst_element_post_message (GST_ELEMENT (sink),
      gst_message_new_element (GST_OBJECT (sink),
          gst_structure_new ("icecam-session-ended", "session", G_TYPE_STRING, session,
                             "reason", G_TYPE_STRING, reason, NULL)));
}

static void
on_endpoint_session_restarted (IcecamCameraEndpoint *endpoint, const gchar *session,
                               GstIcecamSink *sink)
{
  gst_element_post_message (GST_ELEMENT (sink),
      gst_message_new_element (GST_OBJECT (sink),
          gst_structure_new ("icecam-session-restarted", "session", G_TYPE_STRING, session,
                             NULL)));
}

/* all-headers is FALSE on purpose. With it, rtph264pay (GStreamer 1.22, aggregate-mode
 * zero-latency or max-stap) sends its stored SPS/PPS ahead of the keyframe, before x264's
 * access unit delimiter, which closes them into an aggregate of their own with the RTP marker
 * set: an access unit with no picture (RFC 6184 allows the marker only on an access unit's
 * last packet). Browsers fail to decode it and ask for another keyframe, for as long as they
 * watch. x264enc writes SPS/PPS into every IDR access unit by itself; for an encoder that does
 * not, the documented pipeline puts h264parse config-interval=-1 before the payloader, which
 * inserts them once per IDR, inside its access unit. */
static void
on_endpoint_keyframe_requested (IcecamCameraEndpoint *endpoint, GstIcecamSink *sink)
{
  GstEvent *event = gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, FALSE,
                                                                 ++sink->keyframe_count);

  GST_DEBUG_OBJECT (sink, "asking upstream for a keyframe");
  gst_pad_push_event (GST_BASE_SINK_PAD (sink), event);
}

/* The camera keeps trying to reach its rendezvous; viewers already connected keep playing
 * meanwhile. Only a final refusal (bad URL, another protocol version) is an error. */
static void
on_endpoint_signalling_state_changed (IcecamCameraEndpoint *endpoint, guint state,
                                      GstIcecamSink *sink)
{
  const GError *error = icecam_camera_endpoint_get_signalling_error (endpoint);

  switch (state) {
    case ICECAM_SIGNALLING_STATE_READY:
      /* "again": after an outage (the element's first registration has again=FALSE). */
      GST_INFO_OBJECT (sink, "registered with the rendezvous");
      gst_element_post_message (GST_ELEMENT (sink),
          gst_message_new_element (GST_OBJECT (sink),
              gst_structure_new ("icecam-registered", "again", G_TYPE_BOOLEAN,
                                 sink->was_registered, NULL)));
      sink->registered = sink->was_registered = TRUE;
      break;
    case ICECAM_SIGNALLING_STATE_RETRYING:
      GST_ELEMENT_WARNING (sink, RESOURCE, OPEN_READ_WRITE,
                           ("%s; retrying.", sink->registered
                              ? "Lost the icecam rendezvous, viewers already connected keep playing"
                              : "Cannot register with the icecam rendezvous"),
                           ("%s", error ? error->message : "unknown"));
      sink->registered = FALSE;
      break;
    case ICECAM_SIGNALLING_STATE_CLOSED:
      if (error != NULL)
        GST_ELEMENT_ERROR (sink, RESOURCE, OPEN_READ_WRITE,
                           ("The icecam rendezvous refused this camera."), ("%s", error->message));
      break;
    default:
      break;
  }
}

static void
on_endpoint_gop_cache_start (IcecamCameraEndpoint *endpoint, const gchar *session,
                             guint n_packets, guint span_ms, GstIcecamSink *sink)
{
  gst_element_post_message (GST_ELEMENT (sink),
      gst_message_new_element (GST_OBJECT (sink),
          gst_structure_new ("icecam-gop-cache-start", "session", G_TYPE_STRING, session,
                             "packets", G_TYPE_UINT, n_packets, "span-ms", G_TYPE_UINT, span_ms,
                             NULL)));
}

/* The properties start() needs, copied under the object lock. */
typedef struct {
  IcecamIceConfig *config;
  gchar *server;
  gchar *camera_id;
  gchar *ca_file;
  gboolean insecure_tls;
  gchar *region;
  gchar *secret_file;
  gchar *certificate_path;
  guint max_viewers;
  gboolean gop_cache;
  gboolean congestion_control;
} SinkStart;

static void
sink_start_clear (SinkStart *start)
{
  icecam_ice_config_free (start->config);
  g_free (start->server);
  g_free (start->camera_id);
  g_free (start->ca_file);
  g_free (start->region);
  g_free (start->secret_file);
  g_free (start->certificate_path);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (SinkStart, sink_start_clear)

/* Copies the settings; posts the error and returns FALSE if they cannot work. */
static gboolean
copy_settings (GstIcecamSink *sink, SinkStart *start)
{
  g_autoptr (GError) error = NULL;

  GST_OBJECT_LOCK (sink);
  start->config = gst_icecam_settings_to_ice_config (&sink->settings, &error);
  start->server = g_strdup (sink->settings.server);
  start->camera_id = g_strdup (sink->settings.camera_id);
  start->ca_file = g_strdup (sink->settings.ca_file);
  start->insecure_tls = sink->settings.insecure_tls;
  start->region = g_strdup (sink->settings.region);
  start->secret_file = g_strdup (sink->secret_file);
  start->certificate_path = g_strdup (sink->certificate);
  start->max_viewers = sink->max_viewers;
  start->gop_cache = sink->gop_cache;
  start->congestion_control = sink->congestion_control;
  GST_OBJECT_UNLOCK (sink);

  if (start->config == NULL) {
    GST_ELEMENT_ERROR (sink, RESOURCE, SETTINGS, ("Bad ICE server setting."), ("%s",
                       error->message));
    return FALSE;
  }
  if (start->server == NULL || start->camera_id == NULL) {
    GST_ELEMENT_ERROR (sink, RESOURCE, SETTINGS, ("Both server and camera-id must be set."),
                       (NULL));
    return FALSE;
  }
  if (start->certificate_path == NULL)
    start->certificate_path = g_strdup_printf ("%s/icecam/%s.pem", g_get_user_data_dir (),
                                               start->camera_id);
  return TRUE;
}

/* The endpoint, told everything it needs (secret, TLS, certificate); errors are posted. */
static IcecamCameraEndpoint *
create_endpoint (GstIcecamSink *sink, const SinkStart *start)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamCameraEndpoint) endpoint = NULL;
  g_autoptr (IcecamCertificate) certificate = NULL;
  g_autofree gchar *secret = NULL;

  if (start->secret_file != NULL &&
      !g_file_get_contents (start->secret_file, &secret, NULL, &error)) {
    GST_ELEMENT_ERROR (sink, RESOURCE, SETTINGS, ("Cannot read the camera's secret."),
                       ("%s", error->message));
    return NULL;
  }
  endpoint = icecam_camera_endpoint_new (start->server, start->camera_id, start->config, &error);
  if (endpoint == NULL) {
    GST_ELEMENT_ERROR (sink, RESOURCE, SETTINGS, ("%s", error->message), (NULL));
    return NULL;
  }
  if (!icecam_camera_endpoint_set_region (endpoint, start->region, &error)) {
    GST_ELEMENT_ERROR (sink, RESOURCE, SETTINGS, ("Bad region."), ("%s", error->message));
    return NULL;
  }
  if (!icecam_camera_endpoint_set_tls (endpoint, start->ca_file, start->insecure_tls, &error)) {
    GST_ELEMENT_ERROR (sink, RESOURCE, SETTINGS, ("Cannot load ca-file."), ("%s", error->message));
    return NULL;
  }
  certificate = icecam_certificate_load_or_create (start->certificate_path, &error);
  if (certificate == NULL) {
    GST_ELEMENT_ERROR (sink, RESOURCE, OPEN_READ_WRITE, ("Cannot load the camera's certificate."),
                       ("%s", error->message));
    return NULL;
  }
  GST_INFO_OBJECT (sink, "certificate %s, fingerprint %s", start->certificate_path,
                   icecam_certificate_get_fingerprint (certificate));
  icecam_camera_endpoint_set_certificate (endpoint, certificate);
  icecam_camera_endpoint_set_secret (endpoint, secret);
  icecam_camera_endpoint_set_max_viewers (endpoint, start->max_viewers);
  icecam_camera_endpoint_set_gop_cache (endpoint, start->gop_cache);
  icecam_camera_endpoint_set_congestion_control (endpoint, start->congestion_control);
  return g_steal_pointer (&endpoint);
}

static gboolean
start_in_worker (gpointer data)
{
  GstIcecamSink *sink = data;
  g_auto (SinkStart) start = { 0 };
  IcecamCameraEndpoint *endpoint;

  if (!copy_settings (sink, &start))
    return G_SOURCE_REMOVE;
  endpoint = create_endpoint (sink, &start);
  if (endpoint == NULL)
    return G_SOURCE_REMOVE;
  g_signal_connect (endpoint, "session-started", G_CALLBACK (on_endpoint_session_started), sink);
  g_signal_connect (endpoint, "pair-selected", G_CALLBACK (on_endpoint_pair_selected), sink);
  g_signal_connect (endpoint, "session-ended", G_CALLBACK (on_endpoint_session_ended), sink);
  g_signal_connect (endpoint, "session-restarted", G_CALLBACK (on_endpoint_session_restarted),
                    sink);
  g_signal_connect (endpoint, "keyframe-requested", G_CALLBACK (on_endpoint_keyframe_requested),
                    sink);
  g_signal_connect (endpoint, "gop-cache-start", G_CALLBACK (on_endpoint_gop_cache_start), sink);
  g_signal_connect (endpoint, "signalling-state-changed",
                    G_CALLBACK (on_endpoint_signalling_state_changed), sink);
  if (sink->audio_pad != NULL)
    icecam_camera_endpoint_expect_audio (endpoint);
  GST_OBJECT_LOCK (sink);
  sink->endpoint = endpoint;
  g_free (sink->fingerprint);
  sink->fingerprint = g_strdup (icecam_certificate_get_fingerprint (
    icecam_camera_endpoint_get_certificate (endpoint)));
  GST_OBJECT_UNLOCK (sink);
  g_object_notify (G_OBJECT (sink), "fingerprint");
  sink->registered = sink->was_registered = FALSE;
  /* Cannot fail: the certificate is set. */
  icecam_camera_endpoint_start (endpoint, NULL);
  return G_SOURCE_REMOVE;
}

static gboolean
gst_icecam_sink_start (GstBaseSink *bsink)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (bsink);

  sink->worker = icecam_worker_new ("icecamsink");
  icecam_worker_call (sink->worker, start_in_worker, sink);
  if (sink->endpoint == NULL) {
    g_clear_pointer (&sink->worker, icecam_worker_free);
    return FALSE;
  }
  return TRUE;
}

static void
close_endpoint (GstElement *element, gpointer endpoint, GAsyncReadyCallback callback,
                gpointer user_data)
{
  g_signal_handlers_disconnect_by_data (endpoint, element);
  icecam_camera_endpoint_close_async (endpoint, callback, user_data);
}

static gboolean
gst_icecam_sink_stop (GstBaseSink *bsink)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (bsink);

  if (!gst_icecam_stop_endpoint (GST_ELEMENT (sink), &sink->worker,
                                 (gpointer *) &sink->endpoint, close_endpoint))
    GST_WARNING_OBJECT (sink, "ICE sessions did not close in time");
  gst_clear_object (&sink->encoder);
  sink->encoder_searched = FALSE;
  return TRUE;
}

static gboolean
gst_icecam_sink_set_caps (GstBaseSink *bsink, GstCaps *caps)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (bsink);
  GstSDPMedia *media = NULL;
  const gchar *rtpmap, *fmtp;
  guint pt, ssrc = 0;
  gboolean ok = FALSE;

  gst_sdp_media_new (&media);
  if (gst_sdp_media_set_media_from_caps (caps, media) != GST_SDP_OK) {
    GST_ELEMENT_ERROR (sink, STREAM, FORMAT, ("Cannot describe these caps in SDP."),
                       ("caps %" GST_PTR_FORMAT, caps));
    goto done;
  }
  pt = (guint) g_ascii_strtoull (gst_sdp_media_get_format (media, 0), NULL, 10);
  rtpmap = gst_sdp_media_get_attribute_val (media, "rtpmap");
  fmtp = gst_sdp_media_get_attribute_val (media, "fmtp");
  /* Both are "<pt> <value>"; the endpoint wants the value. */
  rtpmap = rtpmap ? strchr (rtpmap, ' ') : NULL;
  fmtp = fmtp ? strchr (fmtp, ' ') : NULL;
  if (rtpmap == NULL) {
    GST_ELEMENT_ERROR (sink, STREAM, FORMAT, ("Caps lack encoding-name or clock-rate."),
                       ("caps %" GST_PTR_FORMAT, caps));
    goto done;
  }
  /* The payloader's SSRC, named in the offer (a=ssrc ... cname:). */
  gst_structure_get_uint (gst_caps_get_structure (caps, 0), "ssrc", &ssrc);
  icecam_camera_endpoint_set_media (sink->endpoint, gst_sdp_media_get_media (media), pt,
                                    rtpmap + 1, fmtp ? fmtp + 1 : NULL, ssrc);
  ok = TRUE;
done:
  gst_sdp_media_free (media);
  return ok;
}

/* Maps the memories of @buf into @vec without copying. Returns the number used, 0 if the
 * buffer has more memories than fit. */
static guint
map_buffer (GstBuffer *buf, GstMapInfo *maps, GOutputVector *vec, guint max)
{
  guint n = gst_buffer_n_memory (buf);

  if (n == 0 || n > max)
    return 0;
  for (guint i = 0; i < n; i++) {
    if (!gst_memory_map (gst_buffer_peek_memory (buf, i), &maps[i], GST_MAP_READ)) {
      for (guint j = 0; j < i; j++)
        gst_memory_unmap (maps[j].memory, &maps[j]);
      return 0;
    }
    vec[i].buffer = maps[i].data;
    vec[i].size = maps[i].size;
  }
  return n;
}

static void
unmap_buffer (GstMapInfo *maps, guint n)
{
  for (guint i = 0; i < n; i++)
    gst_memory_unmap (maps[i].memory, &maps[i]);
}

/* The first buffer: the encoder upstream and the limits. */
static void
find_encoder (GstIcecamSink *sink)
{
  guint min_kbps, max_kbps, encoder_kbps = 0;

  sink->encoder_searched = TRUE;
  sink->encoder = gst_icecam_find_upstream_encoder (GST_ELEMENT (sink));
  GST_OBJECT_LOCK (sink);
  min_kbps = sink->min_bitrate;
  max_kbps = sink->max_bitrate;
  GST_OBJECT_UNLOCK (sink);
  if (sink->encoder != NULL)
    gst_icecam_encoder_get_bitrate (sink->encoder, &encoder_kbps);
  if (max_kbps == 0)
    max_kbps = encoder_kbps > 0 ? encoder_kbps : FALLBACK_MAX_BITRATE;
  GST_INFO_OBJECT (sink, "encoder %s (%u kbit/s); target between %u and %u kbit/s",
                   sink->encoder ? GST_OBJECT_NAME (sink->encoder) : "none", encoder_kbps,
                   min_kbps, max_kbps);
  icecam_camera_endpoint_set_bitrate_limits (sink->endpoint, min_kbps, max_kbps);
  sink->applied_bitrate = encoder_kbps > 0 ? encoder_kbps : max_kbps;
}

/* Streaming thread, each buffer: the encoder follows the endpoint's target. */
static void
adapt_encoder (GstIcecamSink *sink)
{
  guint target;

  if (!sink->encoder_searched)
    find_encoder (sink);
  target = icecam_camera_endpoint_get_target_bitrate (sink->endpoint);
  if (target == sink->applied_bitrate ||
      (ABS ((gint) target - (gint) sink->applied_bitrate) < TARGET_STEP * sink->applied_bitrate))
    return;
  GST_DEBUG_OBJECT (sink, "target bitrate %u -> %u kbit/s", sink->applied_bitrate, target);
  sink->applied_bitrate = target;
  if (sink->encoder != NULL && !gst_icecam_encoder_set_bitrate (sink->encoder, target))
    GST_WARNING_OBJECT (sink, "cannot set the bitrate of %s", GST_OBJECT_NAME (sink->encoder));
  gst_element_post_message (GST_ELEMENT (sink),
      gst_message_new_element (GST_OBJECT (sink), gst_structure_new ("icecam-target-bitrate",
          "bitrate", G_TYPE_UINT, target,
          "encoder", G_TYPE_STRING, sink->encoder ? GST_OBJECT_NAME (sink->encoder) : "none",
          NULL)));
}

static GstFlowReturn
gst_icecam_sink_render_list (GstBaseSink *bsink, GstBufferList *list)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (bsink);
  guint n = gst_buffer_list_length (list);
  guint n_memories = 0, at = 0, used = 0;
  NiceOutputMessage *messages;
  GOutputVector *vecs;
  GstMapInfo *maps;

  for (guint i = 0; i < n; i++)
    n_memories += gst_buffer_n_memory (gst_buffer_list_get (list, i));
  /* Sized for this list, never cleared: every entry used is written first. */
  messages = (NiceOutputMessage *) g_array_set_size (sink->messages, n)->data;
  vecs = (GOutputVector *) g_array_set_size (sink->vecs, n_memories)->data;
  maps = (GstMapInfo *) g_array_set_size (sink->maps, n_memories)->data;
  for (guint i = 0; i < n; i++) {
    guint k = map_buffer (gst_buffer_list_get (list, i), maps + at, vecs + at,
                          MAX_BUFFERS_PER_PACKET);

    if (k == 0) {
      GST_WARNING_OBJECT (sink, "packet %u of the list cannot be mapped; dropped", i);
      continue;
    }
    messages[used].buffers = vecs + at;
    messages[used].n_buffers = (gint) k;
    used++;
    at += k;
  }
  if (n > 0)
    gst_icecam_note_capture (GST_ELEMENT (sink), sink->endpoint, &bsink->segment,
                             gst_buffer_list_get (list, 0), &sink->video_capture);
  if (used > 0)
    icecam_camera_endpoint_send (sink->endpoint, messages, used);
  adapt_encoder (sink);
  unmap_buffer (maps, at);
  return GST_FLOW_OK;
}

static GstFlowReturn
gst_icecam_sink_render (GstBaseSink *bsink, GstBuffer *buf)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (bsink);
  GstMapInfo maps[MAX_BUFFERS_PER_PACKET];
  GOutputVector vecs[MAX_BUFFERS_PER_PACKET];
  NiceOutputMessage message;
  guint k = map_buffer (buf, maps, vecs, MAX_BUFFERS_PER_PACKET);

  if (k == 0) {
    GST_WARNING_OBJECT (sink, "packet cannot be mapped; dropped");
    return GST_FLOW_OK;
  }
  message.buffers = vecs;
  message.n_buffers = (gint) k;
  gst_icecam_note_capture (GST_ELEMENT (sink), sink->endpoint, &bsink->segment, buf,
                           &sink->video_capture);
  icecam_camera_endpoint_send (sink->endpoint, &message, 1);
  unmap_buffer (maps, k);
  adapt_encoder (sink);
  return GST_FLOW_OK;
}

static GstStructure *
build_stats (GstIcecamSink *sink)
{
  GstStructure *stats = gst_structure_new_empty ("application/x-icecam-sink-stats");
  GValue sessions = G_VALUE_INIT;
  g_autoptr (GPtrArray) all = NULL;
  guint n_viewers = 0;

  g_value_init (&sessions, GST_TYPE_LIST);
  GST_OBJECT_LOCK (sink);
  if (sink->endpoint != NULL) {
    all = icecam_camera_endpoint_get_stats (sink->endpoint);
    n_viewers = icecam_camera_endpoint_get_n_viewers (sink->endpoint);
  }
  GST_OBJECT_UNLOCK (sink);

  for (guint i = 0; all != NULL && i < all->len; i++) {
    const IcecamSessionStats *ss = g_ptr_array_index (all, i);
    GstStructure *s = gst_structure_new ("session",
        "session", G_TYPE_STRING, ss->session,
        "viewer", G_TYPE_STRING, ss->viewer,
        "state", G_TYPE_STRING, icecam_ice_state_to_string (ss->state),
        "packets-sent", G_TYPE_UINT64, ss->ice.packets_sent,
        "bytes-sent", G_TYPE_UINT64, ss->ice.bytes_sent,
        "packets-dropped", G_TYPE_UINT64, ss->ice.packets_dropped,
        "packets-received", G_TYPE_UINT64, ss->ice.packets_received,
        "packets-nacked", G_TYPE_UINT64, ss->retransmit.nacked,
        "packets-retransmitted", G_TYPE_UINT64, ss->retransmit.sent,
        "bytes-retransmitted", G_TYPE_UINT64, ss->retransmit.bytes,
        "retransmissions-refused", G_TYPE_UINT64, ss->retransmit.refused,
        "retransmissions-missing", G_TYPE_UINT64, ss->retransmit.missing,
        "estimate-kbps", G_TYPE_UINT, ss->rate.estimate_kbps,
        "sent-kbps", G_TYPE_UINT, ss->rate.sent_kbps,
        "rtt-ms", G_TYPE_INT, ss->rate.rtt_ms,
        "fraction-lost", G_TYPE_DOUBLE, ss->rate.loss,
        "reduced", G_TYPE_BOOLEAN, ss->rate.reduced, NULL);
    GValue v = G_VALUE_INIT;

    if (ss->pair != NULL)
      gst_icecam_set_pair_fields (s, ss->pair);
    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, s);
    gst_value_list_append_and_take_value (&sessions, &v);
  }
  gst_structure_set (stats, "viewers", G_TYPE_UINT, n_viewers, NULL);
  gst_structure_take_value (stats, "sessions", &sessions);
  return stats;
}

static void
gst_icecam_sink_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (object);

  GST_OBJECT_LOCK (sink);
  if (prop_id == PROP_MAX_VIEWERS) {
    sink->max_viewers = g_value_get_uint (value);
  } else if (prop_id == PROP_SECRET_FILE) {
    g_free (sink->secret_file);
    sink->secret_file = g_value_dup_string (value);
  } else if (prop_id == PROP_CERTIFICATE) {
    g_free (sink->certificate);
    sink->certificate = g_value_dup_string (value);
  } else if (prop_id == PROP_GOP_CACHE) {
    sink->gop_cache = g_value_get_boolean (value);
  } else if (prop_id == PROP_CONGESTION_CONTROL) {
    sink->congestion_control = g_value_get_boolean (value);
  } else if (prop_id == PROP_MIN_BITRATE) {
    sink->min_bitrate = g_value_get_uint (value);
  } else if (prop_id == PROP_MAX_BITRATE) {
    sink->max_bitrate = g_value_get_uint (value);
  } else if (!gst_icecam_settings_set_property (&sink->settings, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (sink);
}

static void
gst_icecam_sink_get_property (GObject *object, guint prop_id, GValue *value,
                              GParamSpec *pspec)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (object);

  if (prop_id == GST_ICECAM_PROP_STATS) {
    g_value_take_boxed (value, build_stats (sink));
    return;
  }
  GST_OBJECT_LOCK (sink);
  if (prop_id == PROP_MAX_VIEWERS)
    g_value_set_uint (value, sink->max_viewers);
  else if (prop_id == PROP_SECRET_FILE)
    g_value_set_string (value, sink->secret_file);
  else if (prop_id == PROP_CERTIFICATE)
    g_value_set_string (value, sink->certificate);
  else if (prop_id == PROP_FINGERPRINT)
    g_value_set_string (value, sink->fingerprint);
  else if (prop_id == PROP_GOP_CACHE)
    g_value_set_boolean (value, sink->gop_cache);

  else if (prop_id == PROP_CONGESTION_CONTROL)
    g_value_set_boolean (value, sink->congestion_control);
  else if (prop_id == PROP_MIN_BITRATE)
    g_value_set_uint (value, sink->min_bitrate);
  else if (prop_id == PROP_MAX_BITRATE)
    g_value_set_uint (value, sink->max_bitrate);
  else if (!gst_icecam_settings_get_property (&sink->settings, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (sink);
}

/* The audio pad's caps: the offers' audio section. */
static gboolean
set_audio_caps (GstIcecamSink *sink, GstCaps *caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  gint pt = -1;
  guint ssrc = 0;

  if (!gst_structure_get_int (s, "payload", &pt) || pt < 96 || pt > 127) {
    GST_ELEMENT_ERROR (sink, STREAM, FORMAT, ("The audio caps need a dynamic payload type."),
                       ("caps %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  gst_structure_get_uint (s, "ssrc", &ssrc);
  if (sink->endpoint == NULL)
    return FALSE;
  icecam_camera_endpoint_set_audio (sink->endpoint, (guint) pt, "minptime=10;useinbandfec=1",
                                    ssrc);
  return TRUE;
}

static gboolean
gst_icecam_sink_audio_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (parent);
  gboolean ok = TRUE;

  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
    GstCaps *caps;

    gst_event_parse_caps (event, &caps);
    ok = set_audio_caps (sink, caps);
  }
  gst_event_unref (event);
  return ok;
}

static GstFlowReturn
gst_icecam_sink_audio_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (parent);
  GstMapInfo map;
  GOutputVector vec;
  NiceOutputMessage message = { &vec, 1 };
  g_autoptr (GstEvent) segment_event = NULL;

  if (sink->endpoint == NULL) {
    gst_buffer_unref (buf);
    return GST_FLOW_FLUSHING;
  }
  segment_event = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
  if (segment_event != NULL) {
    const GstSegment *segment;

    gst_event_parse_segment (segment_event, &segment);
    gst_icecam_note_capture (GST_ELEMENT (sink), sink->endpoint, segment, buf,
                             &sink->audio_capture);
  }
  if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
    vec.buffer = map.data;
    vec.size = map.size;
    icecam_camera_endpoint_send_audio (sink->endpoint, &message, 1);
    gst_buffer_unmap (buf, &map);
  }
  gst_buffer_unref (buf);
  return GST_FLOW_OK;
}

static GstPad *
gst_icecam_sink_request_new_pad (GstElement *element, GstPadTemplate *templ, const gchar *name,
                                 const GstCaps *caps)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (element);
  GstPad *pad;

  GST_OBJECT_LOCK (sink);
  if (sink->audio_pad != NULL || GST_STATE (sink) > GST_STATE_READY) {
    GST_OBJECT_UNLOCK (sink);
    GST_WARNING_OBJECT (sink, "one audio pad, requested before the element starts");
    return NULL;
  }
  GST_OBJECT_UNLOCK (sink);
  pad = gst_pad_new_from_template (templ, "audio");
  gst_pad_set_chain_function (pad, GST_DEBUG_FUNCPTR (gst_icecam_sink_audio_chain));
  gst_pad_set_event_function (pad, GST_DEBUG_FUNCPTR (gst_icecam_sink_audio_event));
  GST_PAD_SET_PROXY_ALLOCATION (pad);
  sink->audio_pad = pad;
  gst_element_add_pad (element, pad);
  return pad;
}

static void
gst_icecam_sink_release_pad (GstElement *element, GstPad *pad)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (element);

  if (pad != sink->audio_pad)
    return;
  sink->audio_pad = NULL;
  /* No audio after all: offers stop waiting for it. */
  if (sink->endpoint != NULL)
    icecam_camera_endpoint_clear_audio (sink->endpoint);
  gst_element_remove_pad (element, pad);
}

static void
gst_icecam_sink_finalize (GObject *object)
{
  GstIcecamSink *sink = GST_ICECAM_SINK (object);

  gst_icecam_settings_clear (&sink->settings);
  g_free (sink->secret_file);
  g_free (sink->certificate);
  g_free (sink->fingerprint);
  g_array_unref (sink->messages);
  g_array_unref (sink->vecs);
  g_array_unref (sink->maps);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_icecam_sink_class_init (GstIcecamSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_icecam_sink_set_property;
  gobject_class->get_property = gst_icecam_sink_get_property;
  gobject_class->finalize = gst_icecam_sink_finalize;

  gst_icecam_install_properties (gobject_class,
      "Per-session statistics: \"viewers\" (uint, viewers with a selected pair) and "
      "\"sessions\", a list of structures with session, viewer, state, packets-sent, "
      "bytes-sent, packets-dropped, packets-received, packets-nacked, "
      "packets-retransmitted, bytes-retransmitted, retransmissions-refused (over the "
      "viewer's cap), retransmissions-missing (no longer kept), estimate-kbps (the viewer's "
      "bandwidth estimate), sent-kbps (sent to it lately), rtt-ms (-1: not measured yet), "
      "fraction-lost (its last report), reduced (keyframes only: far below the others) and, "
      "once selected, the pair's "
      "local-type, remote-type, transport, local-address, remote-address");
  g_object_class_install_property (gobject_class, PROP_MAX_VIEWERS,
      g_param_spec_uint ("max-viewers", "Maximum viewers",
          "Viewers served at once; further ones are refused", 1, 1024, DEFAULT_MAX_VIEWERS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_SECRET_FILE,
      g_param_spec_string ("secret-file", "Secret file",
          "File holding this camera's secret, provisioned on the rendezvous "
          "(icecam-rendezvous --camera-secrets); only an HMAC of it over the server's "
          "challenge is sent. Unset: register without proof", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_CERTIFICATE,
      g_param_spec_string ("certificate", "Certificate",
          "PEM file with the camera's DTLS key and self-signed certificate, created (mode "
          "0600) if missing, so the fingerprint viewers pin survives restarts. Unset: "
          "$XDG_DATA_HOME/icecam/<camera-id>.pem", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_FINGERPRINT,
      g_param_spec_string ("fingerprint", "Fingerprint",
          "SHA-256 fingerprint of the camera's certificate, \"sha-256 AB:CD:..\", as viewers "
          "see it in the offer and pin it (icecamsrc camera-fingerprint); known once the "
          "element has started (NULL before)", NULL,
          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));

  g_object_class_install_property (gobject_class, PROP_GOP_CACHE,
      g_param_spec_boolean ("gop-cache", "GOP cache",
          "Keep the H.264 packets since the last keyframe and send them to each new viewer "
          "at once (paced: 128 KiB, then 20 Mbit/s) with their own sequence numbers and "
          "timestamps, so that it decodes its first frame without waiting for the next "
          "keyframe. For sources that cannot make a keyframe when asked (an IP camera's "
          "stream passed through); at most 16 MiB per group of pictures. Posts "
          "\"icecam-gop-cache-start\" (session, packets, span-ms) when a viewer starts from it",
          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_CONGESTION_CONTROL,
      g_param_spec_boolean ("congestion-control", "Congestion control",
          "Adapt the upstream encoder's bitrate to the viewers' bandwidth estimates and give "
          "a viewer far below the others keyframes only; FALSE: the maximum, to everyone",
          TRUE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_MIN_BITRATE,
      g_param_spec_uint ("min-bitrate", "Minimum bitrate",
          "The encoder's target never goes under this (kbit/s)", 16, 2048000,
          DEFAULT_MIN_BITRATE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_MAX_BITRATE,
      g_param_spec_uint ("max-bitrate", "Maximum bitrate",
          "The encoder's target never goes over this (kbit/s); 0: the encoder's bitrate at "
          "the start (2000 if it cannot be read)", 0, 2048000, 0,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  element_class->request_new_pad = GST_DEBUG_FUNCPTR (gst_icecam_sink_request_new_pad);
  element_class->release_pad = GST_DEBUG_FUNCPTR (gst_icecam_sink_release_pad);
  gst_element_class_set_static_metadata (element_class, "icecam camera sink",
      "Sink/Network/RTP", "Serves RTP to icecam viewers over ICE, through a rendezvous",
      "icecam developers");

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_icecam_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_icecam_sink_stop);
  basesink_class->set_caps = GST_DEBUG_FUNCPTR (gst_icecam_sink_set_caps);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_icecam_sink_render);
  basesink_class->render_list = GST_DEBUG_FUNCPTR (gst_icecam_sink_render_list);

  gst_type_mark_as_plugin_api (GST_TYPE_ICECAM_ICE_TRANSPORT_POLICY, 0);
}

static void
gst_icecam_sink_init (GstIcecamSink *sink)
{
  sink->max_viewers = DEFAULT_MAX_VIEWERS;
  sink->congestion_control = TRUE;
  sink->min_bitrate = DEFAULT_MIN_BITRATE;
  sink->messages = g_array_new (FALSE, FALSE, sizeof (NiceOutputMessage));
  sink->vecs = g_array_new (FALSE, FALSE, sizeof (GOutputVector));
  sink->maps = g_array_new (FALSE, FALSE, sizeof (GstMapInfo));
  /* Live RTP: send as it comes, never wait for a clock or preroll. */
  gst_base_sink_set_sync (GST_BASE_SINK (sink), FALSE);
  gst_base_sink_set_async_enabled (GST_BASE_SINK (sink), FALSE);
  gst_base_sink_set_last_sample_enabled (GST_BASE_SINK (sink), FALSE);
}
