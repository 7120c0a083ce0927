/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsrc: the viewer side; asks the rendezvous for one camera and outputs its RTP. */

/**
 * SECTION:element-icecamsrc
 * @title: icecamsrc
 *
 * Connects to an icecam rendezvous, asks for one camera, negotiates an ICE session with it
 * and outputs the camera's RTP packets, timestamped on arrival. The caps come from the
 * camera's offer. Upstream force-key-unit events (for example from a depayloader with
 * request-keyframe=true) are sent to the camera as RTCP PLI over the media path, and
 * upstream retransmission requests (from rtpjitterbuffer do-retransmission=true) as generic
 * NACKs: the camera's retransmissions (RTX, RFC 4588) come out of icecamsrc as the packets
 * they repair, so a jitter buffer between icecamsrc and the depayloader is all loss repair
 * needs.
 *
 * When the pair is selected an "icecam-pair-selected" element message is posted (session,
 * local-type, remote-type, transport, local-address, remote-address). An unknown camera, an
 * unreachable rendezvous or an ICE failure is an error on the bus whose debug string says
 * which candidate types each side had.
 *
 * When the camera leaves (it ends the session, closes DTLS, or leaves the rendezvous and its
 * path dies) the element posts an "icecam-camera-lost" element message (reason, resuming) and
 * ends the stream with EOS, so that a muxer downstream finalises its file. With resume=true
 * it stays up instead: once a session has played, a camera that leaves or whose path fails for
 * good is asked for again (after 0.5 s, doubling to 4 s) until it returns, and the stream goes on
 * from its first keyframe with the same caps and timestamps that keep growing (buffers are
 * stamped with the running time at which they arrived); only a camera that is not the pinned
 * one or a refusal (token, full) ends it with an error.
 *
 * The element is a URI handler for icecam://HOST[:PORT]/CAMERA (a ws:// rendezvous, port 8080
 * when omitted) and icecams://HOST[:PORT]/CAMERA (wss://, port 443), so playbin and
 * gst-play-1.0 open a camera. Properties may follow as query parameters: token,
 * camera-fingerprint, resume, stun-server, turn-server, ice-transport-policy, ice-tcp, port-step,
 * ca-file, insecure-tls, region, turn-ca-file (percent-encode reserved characters). Without a
 * token property or parameter, the element uses the ICECAM_TOKEN environment variable when it
 * is set. A URI that is not one of these is refused with the reason (GST_URI_ERROR_BAD_URI).
 *
 * ## Audio
 *
 * A sometimes pad `audio` appears before the first video buffer. When the camera's offer has an
 * Opus audio section (icecamsink's `audio` pad) it starts with a gap event (a sink linked to it
 * prerolls, so sinks that preroll on both pads do not wait for each other) and outputs the
 * camera's audio RTP (application/x-rtp,media=audio,
 * encoding-name=OPUS), stamped on the video's time line: with lip-sync=true (the default) an
 * audio packet is stamped with the arrival of the video captured with it (from the camera's
 * RTCP sender reports), so sinks that sync on the stamps play the two together. Put a queue
 * after it: the pad is pushed from the same streaming thread as the video. For a camera without
 * audio the pad ends at once (EOS), so a pipeline with an audio branch plays its video.
 * |[
 * gst-launch-1.0 icecamsrc name=src server=ws://127.0.0.1:8080 camera-id=frontdoor \
 *   ! rtph264depay ! avdec_h264 ! videoconvert ! autovideosink \
 *   src.audio ! queue ! rtpopusdepay ! opusdec ! audioconvert ! autoaudiosink
 * ]|
 *
 * ## Example launch line (pipelines/view-screen.sh)
 * |[
 * gst-launch-1.0 icecamsrc server=ws://127.0.0.1:8080 camera-id=frontdoor \
 *   ! rtpjitterbuffer latency=200 do-retransmission=true \
 *   ! rtph264depay request-keyframe=true ! avdec_h264 ! videoconvert ! autovideosink sync=false
 * ]|
 *
 * ## Recording that survives the camera leaving (pipelines/view-file.sh)
 * |[
 * gst-launch-1.0 -e icecamsrc server=ws://127.0.0.1:8080 camera-id=frontdoor resume=true \
 *   ! rtph264depay request-keyframe=true ! h264parse \
 *   ! mp4mux fragment-duration=1000 ! filesink buffer-mode=unbuffered location=camera.mp4
 * ]|
 *
 * ## Playing a URI
 * |[
 * gst-play-1.0 'icecam://127.0.0.1:8080/frontdoor?token=...'
 * ]|
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gsticecamsrc.h"

#include <gst/base/gstqueuearray.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>

#include "gsticecamaudioout.h"
#include "gsticecamlipsync.h"
#include "gsticecamcommon.h"
#include "gsticecamuri.h"
#include "icecam-viewer-endpoint.h"
#include "icecam-worker.h"

GST_DEBUG_CATEGORY_STATIC (gst_icecam_src_debug);
#define GST_CAT_DEFAULT gst_icecam_src_debug

#define MAX_QUEUED_PACKETS 2048

/* With resume=true, the wait before asking for a lost camera again: doubling up to the most. */
#define RESUME_FIRST_DELAY_MS 500
#define RESUME_MAX_DELAY_MS 4000

enum {
  PROP_TOKEN = GST_ICECAM_PROP_LAST,
  PROP_CAMERA_FINGERPRINT,
  PROP_WAIT_FOR_CAMERA,
  PROP_RESUME,
  PROP_LIP_SYNC,
};

struct _GstIcecamSrc {
  GstPushSrc parent;

  GstIcecamSettings settings; /* object lock */
  gchar *token;
  gchar *camera_fingerprint;
  gboolean wait_for_camera;
  gboolean resume;
  gchar *uri;                     /* the URI set, until server or camera-id is set */

  IcecamWorker *worker;
  IcecamViewerEndpoint *endpoint; /* worker thread; set/cleared under the object lock */
  GstIcecamAudioOut *audio;       /* the `audio` pad */
  GstIcecamLipSync *lip_sync;     /* the audio's stamps from the camera's sender reports */

  GMutex lock;                    /* protects the fields below */
  GCond cond;
  /* Ring buffers, not lists: no list node allocated and freed per packet. */
  GstQueueArray *packets;         /* GstBuffer, GST_BUFFER_OFFSET: arrival, monotonic µs */
  GstQueueArray *ready;           /* taken from packets by create(); streaming thread only */
  GstClockTime last_pts;          /* streaming thread: the latest stamp, which none precedes */
  gboolean waiting;               /* create() sleeps on cond until a packet comes */
  gboolean wake_pending;          /* wake_create() is attached to the worker's context */
  GstCaps *pending_caps;
  gboolean flushing;
  GError *error;                  /* the endpoint closed with this */
  IcecamViewerError error_code;
  guint64 packets_queue_dropped;

  /* worker thread only */
  gboolean played;                /* a session played since start(): the camera exists */
  gboolean session_played;        /* the current endpoint's session played */
  GSource *resume_source;         /* resume=true: the next endpoint, after resume_delay_ms */
  guint resume_delay_ms;
  guint resumes;                  /* endpoints started again since start(); object lock */
};

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS ("application/x-rtp"));

static GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE ("audio",
    GST_PAD_SRC, GST_PAD_SOMETIMES, GST_STATIC_CAPS ("application/x-rtp,media=audio"));

static void gst_icecam_src_uri_handler_init (gpointer g_iface, gpointer iface_data);

#define gst_icecam_src_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstIcecamSrc, gst_icecam_src, GST_TYPE_PUSH_SRC,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER, gst_icecam_src_uri_handler_init));
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE (icecamsrc, "icecamsrc", GST_RANK_NONE,
    GST_TYPE_ICECAM_SRC,
    GST_DEBUG_CATEGORY_INIT (gst_icecam_src_debug, "icecamsrc", 0, "icecam viewer source"));

static gboolean
wake_create (gpointer data)
{
  GstIcecamSrc *src = data;

  g_mutex_lock (&src->lock);
  src->wake_pending = FALSE;
  if (src->waiting) {
    src->waiting = FALSE;
    g_cond_signal (&src->cond);
  }
  g_mutex_unlock (&src->lock);
  return G_SOURCE_REMOVE;
}

/* The worker thread, for every packet: queue it with its arrival time. Wakes create() only
 * when it sleeps: a futex call per packet was most of the receiver's cost. */
static void
on_endpoint_receive (const guint8 *data, gsize length, gpointer user_data)
{
  GstIcecamSrc *src = user_data;
  /* The memory and its data in one allocation (gst_buffer_new_memdup() makes two). */
  GstBuffer *buf = gst_buffer_new_allocate (NULL, length, NULL);

  gst_buffer_fill (buf, 0, data, length);
  GST_BUFFER_OFFSET (buf) = (guint64) g_get_monotonic_time ();
  g_mutex_lock (&src->lock);
  if (gst_queue_array_get_length (src->packets) >= MAX_QUEUED_PACKETS) {
    gst_buffer_unref (gst_queue_array_pop_head (src->packets));
    src->packets_queue_dropped++;
  }
  gst_queue_array_push_tail (src->packets, buf);
  /* create() is woken once the worker has read everything that is there now, and takes the
   * whole burst (a video frame) at once: waking it for every packet made the two threads take
   * turns, a context switch per packet. */
  if (src->waiting && !src->wake_pending) {
    GSource *wake = g_idle_source_new ();

    src->wake_pending = TRUE;
    g_source_set_priority (wake, G_PRIORITY_DEFAULT);
    g_source_set_callback (wake, wake_create, src, NULL);
    g_source_attach (wake, g_main_context_get_thread_default ());
    g_source_unref (wake);
  }
  g_mutex_unlock (&src->lock);
}

static void
on_endpoint_media (IcecamViewerEndpoint *endpoint, const gchar *media_type, guint pt,
                   const gchar *rtpmap, const gchar *fmtp, GstIcecamSrc *src)
{
  GstSDPMedia *media = NULL;
  g_autofree gchar *format = g_strdup_printf ("%u", pt);
  g_autofree gchar *rtpmap_attr = g_strdup_printf ("%u %s", pt, rtpmap);
  g_autofree gchar *fmtp_attr = fmtp ? g_strdup_printf ("%u %s", pt, fmtp) : NULL;
  GstCaps *caps;

  gst_sdp_media_new (&media);
  gst_sdp_media_set_media (media, media_type);
  gst_sdp_media_add_format (media, format);
  gst_sdp_media_add_attribute (media, "rtpmap", rtpmap_attr);
  if (fmtp_attr != NULL)
    gst_sdp_media_add_attribute (media, "fmtp", fmtp_attr);
  caps = gst_sdp_media_get_caps_from_media (media, (gint) pt);
  gst_sdp_media_free (media);
  if (caps == NULL) {
    GST_WARNING_OBJECT (src, "no caps for rtpmap '%s'", rtpmap);
    return;
  }
  gst_structure_set_name (gst_caps_get_structure (caps, 0), "application/x-rtp");
  GST_INFO_OBJECT (src, "caps from the camera's offer: %" GST_PTR_FORMAT, caps);
  if (g_strcmp0 (media_type, "audio") == 0) {
    gst_icecam_audio_out_set_caps (src->audio, caps);
    gst_caps_unref (caps);
    return;
  }

  g_mutex_lock (&src->lock);
  gst_caps_replace (&src->pending_caps, caps);
  g_mutex_unlock (&src->lock);
  gst_caps_unref (caps);
}

static void
on_endpoint_pair_selected (IcecamViewerEndpoint *endpoint, IcecamPairInfo *info,
                           GstIcecamSrc *src)
{
  GST_INFO_OBJECT (src, "%s/%s pair %s <-> %s", info->local_type, info->remote_type,
                   info->local_address, info->remote_address);
  gst_element_post_message (GST_ELEMENT (src),
      gst_icecam_pair_message_new (GST_OBJECT (src),
                                   icecam_viewer_endpoint_get_session_id (endpoint), info));
}

/* Whether a camera that was playing and went away may be asked for again: not one that
 * is not the pinned one, and not when the rendezvous or the camera refused us. */
static gboolean
error_is_resumable (const GError *error)
{
  return !g_error_matches (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_DTLS) &&
         !g_error_matches (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_REFUSED) &&
         !g_error_matches (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_BAD_OFFER);
}

static void schedule_resume (GstIcecamSrc *src);

/* The worker thread. A camera that leaves ends the stream (EOS, in create()); with resume,
 * a camera lost after playing is asked for again instead. */
static void
on_endpoint_state_changed (IcecamViewerEndpoint *endpoint, guint state, GstIcecamSrc *src)
{
  const GError *endpoint_error = icecam_viewer_endpoint_get_error (endpoint);
  g_autoptr (GError) error = NULL;
  gboolean resume, resuming, left;

  if (state == ICECAM_VIEWER_STATE_PLAYING) {
    src->played = src->session_played = TRUE;
    src->resume_delay_ms = RESUME_FIRST_DELAY_MS;
    return;
  }
  if (state != ICECAM_VIEWER_STATE_CLOSED)
    return;
  error = endpoint_error ? g_error_copy (endpoint_error)
                         : g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ENDED,
                                        "the session ended");
  GST_OBJECT_LOCK (src);
  resume = src->resume;
  GST_OBJECT_UNLOCK (src);
  resuming = resume && src->played && error_is_resumable (error);
  left = g_error_matches (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ENDED);
  /* Said once per camera run: not again for each attempt that finds it still away. */
  if ((left || resuming) && (src->session_played || !src->played)) {
    GST_INFO_OBJECT (src, "camera lost (%s): %s", resuming ? "resuming" : "end of stream",
                     error->message);
    gst_element_post_message (GST_ELEMENT (src), gst_message_new_element (GST_OBJECT (src),
        gst_structure_new ("icecam-camera-lost", "reason", G_TYPE_STRING, error->message,
                           "resuming", G_TYPE_BOOLEAN, resuming, NULL)));
  }
  if (resuming) {
    schedule_resume (src);
    return;
  }
  g_mutex_lock (&src->lock);
  if (src->error == NULL)
    src->error = g_steal_pointer (&error);
  g_cond_signal (&src->cond);
  g_mutex_unlock (&src->lock);
}

/* The worker thread: a new endpoint from the properties, started, or an error posted. */
static gboolean
open_endpoint (GstIcecamSrc *src)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamIceConfig) config = NULL;
  g_autofree gchar *server = NULL;
  g_autofree gchar *camera_id = NULL;
  g_autofree gchar *ca_file = NULL;
  g_autofree gchar *region = NULL;
  gboolean insecure_tls;
  g_autofree gchar *token = NULL;
  g_autofree gchar *camera_fingerprint = NULL;
  gboolean wait_for_camera;
  IcecamViewerEndpoint *endpoint;

  GST_OBJECT_LOCK (src);
  ca_file = g_strdup (src->settings.ca_file);
  region = g_strdup (src->settings.region);
  insecure_tls = src->settings.insecure_tls;
  token = g_strdup (src->token);
  camera_fingerprint = g_strdup (src->camera_fingerprint);
  /* Resuming, the camera that left is waited for at the rendezvous and watched the moment the
   * presence list names it again. */
  wait_for_camera = src->wait_for_camera || src->resumes > 0;
  server = g_strdup (src->settings.server);
  camera_id = g_strdup (src->settings.camera_id);
  config = gst_icecam_settings_to_ice_config (&src->settings, &error);
  GST_OBJECT_UNLOCK (src);

  if (token == NULL)
    token = g_strdup (g_getenv ("ICECAM_TOKEN"));
  if (config == NULL) {
    GST_ELEMENT_ERROR (src, RESOURCE, SETTINGS, ("Bad ICE server setting."), ("%s",
                       error->message));
    return FALSE;
  }
  if (server == NULL || camera_id == NULL) {
    GST_ELEMENT_ERROR (src, RESOURCE, SETTINGS, ("Both server and camera-id must be set."),
                       (NULL));
    return FALSE;
  }
  endpoint = icecam_viewer_endpoint_new (server, camera_id, config, &error);
  if (endpoint == NULL) {
    GST_ELEMENT_ERROR (src, RESOURCE, SETTINGS, ("%s", error->message), (NULL));
    return FALSE;
  }
  icecam_viewer_endpoint_set_token (endpoint, token);
  icecam_viewer_endpoint_set_wait (endpoint, wait_for_camera);
  if (!icecam_viewer_endpoint_set_camera_fingerprint (endpoint, camera_fingerprint, &error)) {
    GST_ELEMENT_ERROR (src, RESOURCE, SETTINGS, ("Bad camera-fingerprint."), ("%s",
                       error->message));
    g_object_unref (endpoint);
    return FALSE;
  }
  if (!icecam_viewer_endpoint_set_region (endpoint, region, &error)) {
    GST_ELEMENT_ERROR (src, RESOURCE, SETTINGS, ("Bad region."), ("%s", error->message));
    g_object_unref (endpoint);
    return FALSE;
  }
  if (!icecam_viewer_endpoint_set_tls (endpoint, ca_file, insecure_tls, &error)) {
    GST_ELEMENT_ERROR (src, RESOURCE, SETTINGS, ("Cannot load ca-file."), ("%s", error->message));
    g_object_unref (endpoint);
    return FALSE;
  }
  icecam_viewer_endpoint_set_receive_func (endpoint, on_endpoint_receive, src, NULL);
  gst_icecam_lip_sync_set_clock (src->lip_sync, icecam_viewer_endpoint_get_sender_clock (endpoint));
  g_signal_connect (endpoint, "media", G_CALLBACK (on_endpoint_media), src);
  g_signal_connect (endpoint, "pair-selected", G_CALLBACK (on_endpoint_pair_selected), src);
  g_signal_connect (endpoint, "state-changed", G_CALLBACK (on_endpoint_state_changed), src);
  src->session_played = FALSE;
  GST_OBJECT_LOCK (src);
  src->endpoint = endpoint;
  GST_OBJECT_UNLOCK (src);
  icecam_viewer_endpoint_start (endpoint);
  return TRUE;
}

static gboolean
start_in_worker (gpointer data)
{
  open_endpoint (data);
  return G_SOURCE_REMOVE;
}

static void
detach_endpoint (GstIcecamSrc *src, IcecamViewerEndpoint *endpoint)
{
  g_signal_handlers_disconnect_by_data (endpoint, src);
  icecam_viewer_endpoint_set_receive_func (endpoint, NULL, NULL, NULL);
}

/* The worker thread, resume_delay_ms after a camera was lost: the closed endpoint goes, a
 * new one asks for the camera. Its packets join the queue behind the old session's. */
static gboolean
resume_cb (gpointer data)
{
  GstIcecamSrc *src = data;
  IcecamViewerEndpoint *old;

  g_clear_pointer (&src->resume_source, g_source_unref);
  GST_OBJECT_LOCK (src);
  old = g_steal_pointer (&src->endpoint);
  src->resumes++;
  GST_OBJECT_UNLOCK (src);
  if (old != NULL) {
    detach_endpoint (src, old);
    g_object_unref (old);
  }
  GST_INFO_OBJECT (src, "asking for the camera again (attempt %u)", src->resumes);
  if (!open_endpoint (src)) {
    g_mutex_lock (&src->lock);
    if (src->error == NULL)
      src->error = g_error_new (ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_SIGNALLING,
                                "cannot ask for the camera again");
    g_cond_signal (&src->cond);
    g_mutex_unlock (&src->lock);
  }
  return G_SOURCE_REMOVE;
}

static void
schedule_resume (GstIcecamSrc *src)
{
  GST_DEBUG_OBJECT (src, "asking for the camera again in %u ms", src->resume_delay_ms);
  src->resume_source = g_timeout_source_new (src->resume_delay_ms);
  g_source_set_callback (src->resume_source, resume_cb, src, NULL);
  g_source_attach (src->resume_source, g_main_context_get_thread_default ());
  src->resume_delay_ms = MIN (src->resume_delay_ms * 2, RESUME_MAX_DELAY_MS);
}

static gboolean
gst_icecam_src_start (GstBaseSrc *bsrc)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (bsrc);

  g_mutex_lock (&src->lock);
  src->flushing = FALSE;
  g_clear_error (&src->error);
  g_mutex_unlock (&src->lock);
  src->played = src->session_played = FALSE;
  src->last_pts = GST_CLOCK_TIME_NONE;
  gst_icecam_lip_sync_reset (src->lip_sync);
  src->resume_delay_ms = RESUME_FIRST_DELAY_MS;
  src->resumes = 0;

  src->worker = icecam_worker_new ("icecamsrc");
  icecam_worker_call (src->worker, start_in_worker, src);
  if (src->endpoint == NULL) {
    g_clear_pointer (&src->worker, icecam_worker_free);
    return FALSE;
  }
  return TRUE;
}

static void
close_endpoint (GstElement *element, gpointer endpoint, GAsyncReadyCallback callback,
                gpointer user_data)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (element);

  if (src->resume_source != NULL) {
    g_source_destroy (src->resume_source);
    g_clear_pointer (&src->resume_source, g_source_unref);
  }
  /* resume_cb() could not start another one: nothing to close. */
  if (endpoint == NULL) {
    callback (NULL, NULL, user_data);
    return;
  }
  detach_endpoint (src, endpoint);
  icecam_viewer_endpoint_close_async (endpoint, callback, user_data);
}

static gboolean
gst_icecam_src_stop (GstBaseSrc *bsrc)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (bsrc);

  if (!gst_icecam_stop_endpoint (GST_ELEMENT (src), &src->worker, (gpointer *) &src->endpoint,
                                 close_endpoint))
    GST_WARNING_OBJECT (src, "ICE session did not close in time");
  g_mutex_lock (&src->lock);
  gst_queue_array_clear (src->packets);
  gst_caps_replace (&src->pending_caps, NULL);
  /* A wake_create() still attached went with the worker's context. */
  src->wake_pending = FALSE;
  g_mutex_unlock (&src->lock);
  gst_queue_array_clear (src->ready);
  return TRUE;
}

static void
post_error (GstIcecamSrc *src, const GError *error)
{
  if (g_error_matches (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_UNKNOWN_CAMERA))
    GST_ELEMENT_ERROR (src, RESOURCE, NOT_FOUND, ("%s", error->message), (NULL));
  else if (g_error_matches (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_SIGNALLING))
    GST_ELEMENT_ERROR (src, RESOURCE, OPEN_READ, ("%s", error->message), (NULL));
  else if (g_error_matches (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ENDED))
    GST_ELEMENT_ERROR (src, RESOURCE, READ, ("%s", error->message), (NULL));
  else if (g_error_matches (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_DTLS))
    GST_ELEMENT_ERROR (src, RESOURCE, NOT_AUTHORIZED, ("%s", error->message), (NULL));
  else
    GST_ELEMENT_ERROR (src, RESOURCE, FAILED, ("%s", error->message), (NULL));
}

/* Timestamps @buf with the running time at which it arrived (what do-timestamp would give
 * it, had it been pushed then), from the monotonic time on_endpoint_receive() noted. A packet
 * that came before the pipeline was PLAYING (queued while PAUSED) gets the start of the
 * running time. Left without a stamp, it got do-timestamp's, the time it was pushed: later
 * than the arrival stamps of packets that came while the queue was being pushed, so the
 * times went back (a recording's first frames, in CI run 43's test-recording). */
static void
stamp_arrival (GstBuffer *buf, GstClockTime now, gint64 now_us, GstClockTime base_time)
{
  GstClockTime waited = (GstClockTime) MAX (now_us - (gint64) GST_BUFFER_OFFSET (buf), 0) *
                        GST_USECOND;
  GstClockTime arrived = now - MIN (now, waited);

  GST_BUFFER_OFFSET (buf) = GST_BUFFER_OFFSET_NONE;
  GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf) = arrived > base_time ? arrived - base_time : 0;
}

/* Timestamps what create() took from the queue, all at once. */
static void
stamp_ready (GstIcecamSrc *src)
{
  g_autoptr (GstClock) clock = gst_element_get_clock (GST_ELEMENT (src));
  GstClockTime base_time = gst_element_get_base_time (GST_ELEMENT (src));
  GstClockTime now = clock != NULL ? gst_clock_get_time (clock) : GST_CLOCK_TIME_NONE;
  gint64 now_us = g_get_monotonic_time ();

  for (guint i = 0; i < gst_queue_array_get_length (src->ready); i++) {
    GstBuffer *buf = gst_queue_array_peek_nth (src->ready, i);

    if (clock == NULL) {
      GST_BUFFER_OFFSET (buf) = GST_BUFFER_OFFSET_NONE;
      continue;
    }
    stamp_arrival (buf, now, now_us, base_time);
    /* Packets that came microseconds apart, in two wake-ups, can come out reversed (each
     * wake-up reads the clock and the monotonic time at its own instants): never go back.
     * Nor repeat a time: a parser takes a frame with its predecessor's time for a part of it
     * and strips the time (h264parse did so to each frame of a queue that came before
     * PLAYING, all stamped 0, and matroskamux dropped them). A nanosecond apart is enough. */
    if (GST_CLOCK_TIME_IS_VALID (src->last_pts) && GST_BUFFER_PTS (buf) <= src->last_pts)
      GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf) = src->last_pts + 1;
    src->last_pts = GST_BUFFER_PTS (buf);
  }
}

/* One packet per call, from what the last wake-up took from the queue: the lock is taken and
 * the thread sleeps once per burst, not once per packet. */
static GstFlowReturn
take_packet (GstIcecamSrc *src, GstBuffer **outbuf)
{
  GstCaps *caps = NULL;
  gboolean took = FALSE;
  g_autoptr (GError) error = NULL;

  g_mutex_lock (&src->lock);
  while (gst_queue_array_is_empty (src->ready) && !src->flushing && src->error == NULL &&
         gst_queue_array_is_empty (src->packets)) {
    src->waiting = TRUE;
    g_cond_wait (&src->cond, &src->lock);
  }
  src->waiting = FALSE;
  if (src->flushing) {
    g_mutex_unlock (&src->lock);
    return GST_FLOW_FLUSHING;
  }
  if (gst_queue_array_is_empty (src->ready) && gst_queue_array_is_empty (src->packets)) {
    error = g_error_copy (src->error);
    g_mutex_unlock (&src->lock);
    /* The camera left: the end of its stream, which a muxer downstream finalises. */
    if (g_error_matches (error, ICECAM_VIEWER_ERROR, ICECAM_VIEWER_ERROR_ENDED)) {
      GST_INFO_OBJECT (src, "end of stream: %s", error->message);
      return GST_FLOW_EOS;
    }
    post_error (src, error);
    return GST_FLOW_ERROR;
  }
  if (gst_queue_array_is_empty (src->ready)) {
    GstQueueArray *empty = src->ready;

    src->ready = src->packets;
    src->packets = empty;
    took = TRUE;
  }
  caps = g_steal_pointer (&src->pending_caps);
  g_mutex_unlock (&src->lock);

  if (took)
    stamp_ready (src);
  if (caps != NULL) {
    gboolean ok = gst_base_src_set_caps (GST_BASE_SRC (src), caps);

    gst_caps_unref (caps);
    if (!ok)
      return GST_FLOW_NOT_NEGOTIATED;
  }
  /* Caps come from the offer and packets from the endpoint, never from a pool: a downstream
   * chain linked after the start (icecam-view links its decoder while signalling runs) has
   * nothing to renegotiate. Left set, the flag makes GstBaseSrc send an ALLOCATION query after
   * the first packet, and a serialized query waits in rtpjitterbuffer behind that packet for
   * its whole latency. */
  gst_pad_check_reconfigure (GST_BASE_SRC_PAD (src));
  *outbuf = gst_queue_array_pop_head (src->ready);
  return GST_FLOW_OK;
}

/* The video goes out of the src pad; audio packets are pushed on the `audio` pad on the way. */
static GstFlowReturn
gst_icecam_src_create (GstPushSrc *psrc, GstBuffer **outbuf)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (psrc);

  for (;;) {
    GstFlowReturn ret = take_packet (src, outbuf);

    if (ret != GST_FLOW_OK)
      return ret;
    if (!gst_icecam_audio_out_claims (src->audio, *outbuf)) {
      gst_icecam_audio_out_prepare (src->audio, GST_BUFFER_PTS (*outbuf));
      gst_icecam_lip_sync_video (src->lip_sync, *outbuf);
      return GST_FLOW_OK;
    }
  }
}

/* The video's EOS (the camera left, or downstream had enough) ends the audio too, so that the
 * pipeline's sinks all see the end. */
static GstPadProbeReturn
on_src_eos (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstIcecamSrc *src = data;

  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS)
    gst_icecam_audio_out_push_eos (src->audio);
  return GST_PAD_PROBE_OK;
}

static GstStateChangeReturn
gst_icecam_src_change_state (GstElement *element, GstStateChange transition)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (element);
  GstStateChangeReturn ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  /* The streaming thread has stopped: the audio pad goes; a new start may make it again. */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_icecam_audio_out_reset (src->audio);
  return ret;
}

/* Caps are set from the camera's offer in create(), before the first packet. */
static gboolean
gst_icecam_src_negotiate (GstBaseSrc *bsrc)
{
  return TRUE;
}

/* One missing packet, from rtpjitterbuffer: a NACK for it. The event stays the caller's. */
static gboolean
request_retransmission (GstIcecamSrc *src, GstEvent *event)
{
  const GstStructure *s = gst_event_get_structure (event);
  guint seqnum;
  guint16 seq;
  gboolean sent = FALSE;

  if (!gst_structure_get_uint (s, "seqnum", &seqnum))
    return FALSE;
  seq = (guint16) seqnum;
  GST_OBJECT_LOCK (src);
  if (src->endpoint != NULL)
    sent = icecam_viewer_endpoint_request_retransmission (src->endpoint, &seq, 1);
  GST_OBJECT_UNLOCK (src);
  GST_LOG_OBJECT (src, "retransmission of %u %s", seq, sent ? "asked for" : "not asked for");
  return sent;
}

static gboolean
gst_icecam_src_event (GstBaseSrc *bsrc, GstEvent *event)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (bsrc);

  if (gst_video_event_is_force_key_unit (event)) {
    GST_OBJECT_LOCK (src);
    if (src->endpoint != NULL)
      icecam_viewer_endpoint_request_keyframe (src->endpoint);
    GST_OBJECT_UNLOCK (src);
    GST_DEBUG_OBJECT (src, "keyframe request sent to the camera");
    return TRUE;
  }
  if (GST_EVENT_TYPE (event) == GST_EVENT_CUSTOM_UPSTREAM &&
      gst_event_has_name (event, "GstRTPRetransmissionRequest"))
    return request_retransmission (src, event);
  return GST_BASE_SRC_CLASS (parent_class)->event (bsrc, event);
}

static gboolean
gst_icecam_src_unlock (GstBaseSrc *bsrc)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (bsrc);

  g_mutex_lock (&src->lock);
  src->flushing = TRUE;
  g_cond_broadcast (&src->cond);
  g_mutex_unlock (&src->lock);
  return TRUE;
}

static gboolean
gst_icecam_src_unlock_stop (GstBaseSrc *bsrc)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (bsrc);

  g_mutex_lock (&src->lock);
  src->flushing = FALSE;
  g_mutex_unlock (&src->lock);
  /* The streaming thread is stopped: what it had taken goes with the flush. */
  gst_queue_array_clear (src->ready);
  return TRUE;
}

static GstStructure *
build_stats (GstIcecamSrc *src)
{
  GstStructure *stats = gst_structure_new_empty ("application/x-icecam-src-stats");
  IcecamIceStats ice = { 0 };
  guint64 nacked = 0, recovered = 0, delay_sum_us = 0, delay_samples = 0;
  gint64 delay_us = -1;
  g_autoptr (IcecamPairInfo) pair = NULL;
  const gchar *session = NULL;

  GST_OBJECT_LOCK (src);
  gst_structure_set (stats, "resumes", G_TYPE_UINT, src->resumes, NULL);
  if (src->endpoint != NULL) {
    icecam_viewer_endpoint_get_stats (src->endpoint, &ice);
    pair = icecam_viewer_endpoint_get_pair_info (src->endpoint);
    session = icecam_viewer_endpoint_get_session_id (src->endpoint);
    icecam_viewer_endpoint_get_repair_stats (src->endpoint, &nacked, &recovered);
    delay_us = icecam_viewer_endpoint_get_delay (src->endpoint, &delay_sum_us, &delay_samples);
    gst_structure_set (stats, "session", G_TYPE_STRING, session, NULL);
  }
  GST_OBJECT_UNLOCK (src);
  g_mutex_lock (&src->lock);
  gst_structure_set (stats, "packets-queue-dropped", G_TYPE_UINT64, src->packets_queue_dropped,
                     NULL);
  gst_structure_set (stats, "audio-offset-ms", G_TYPE_INT64,
                     gst_icecam_lip_sync_get_offset_ms (src->lip_sync), NULL);

  g_mutex_unlock (&src->lock);
  gst_structure_set (stats,
      "packets-received", G_TYPE_UINT64, ice.packets_received,
      "bytes-received", G_TYPE_UINT64, ice.bytes_received,
      "packets-sent", G_TYPE_UINT64, ice.packets_sent,
      "packets-nacked", G_TYPE_UINT64, nacked,
      "packets-recovered", G_TYPE_UINT64, recovered,
      "delay-ms", G_TYPE_DOUBLE, delay_us >= 0 ? delay_us / 1000.0 : -1.0,
      "delay-sum-ms", G_TYPE_DOUBLE, delay_sum_us / 1000.0,
      "delay-samples", G_TYPE_UINT64, delay_samples, NULL);
  if (pair != NULL)
    gst_icecam_set_pair_fields (stats, pair);
  return stats;
}

static void
gst_icecam_src_set_property (GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (object);

  GST_OBJECT_LOCK (src);
  if (prop_id == GST_ICECAM_PROP_SERVER || prop_id == GST_ICECAM_PROP_CAMERA_ID)
    g_clear_pointer (&src->uri, g_free);
  if (prop_id == PROP_TOKEN) {
    g_free (src->token);
    src->token = g_value_dup_string (value);
  } else if (prop_id == PROP_CAMERA_FINGERPRINT) {
    g_free (src->camera_fingerprint);
    src->camera_fingerprint = g_value_dup_string (value);
  } else if (prop_id == PROP_WAIT_FOR_CAMERA) {
    src->wait_for_camera = g_value_get_boolean (value);
  } else if (prop_id == PROP_RESUME) {
    src->resume = g_value_get_boolean (value);
  } else if (prop_id == PROP_LIP_SYNC) {
    gst_icecam_lip_sync_set_enabled (src->lip_sync, g_value_get_boolean (value));
  } else if (!gst_icecam_settings_set_property (&src->settings, prop_id, value)) {
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
  GST_OBJECT_UNLOCK (src);
}

static void
gst_icecam_src_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (object);

  if (prop_id == GST_ICECAM_PROP_STATS) {
    g_value_take_boxed (value, build_stats (src));
    return;
  }
  GST_OBJECT_LOCK (src);
  if (prop_id == PROP_TOKEN)
    g_value_set_string (value, src->token);
  else if (prop_id == PROP_CAMERA_FINGERPRINT)
    g_value_set_string (value, src->camera_fingerprint);
  else if (prop_id == PROP_WAIT_FOR_CAMERA)
    g_value_set_boolean (value, src->wait_for_camera);
  else if (prop_id == PROP_RESUME)
    g_value_set_boolean (value, src->resume);
  else if (prop_id == PROP_LIP_SYNC)
    g_value_set_boolean (value, gst_icecam_lip_sync_get_enabled (src->lip_sync));
  else if (!gst_icecam_settings_get_property (&src->settings, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (src);
}

static void
gst_icecam_src_finalize (GObject *object)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (object);

  gst_icecam_audio_out_free (src->audio);
  gst_icecam_lip_sync_free (src->lip_sync);
  gst_icecam_settings_clear (&src->settings);
  g_free (src->token);
  g_free (src->camera_fingerprint);
  g_free (src->uri);
  gst_queue_array_free (src->packets); /* unrefs what is left (the clear function) */
  gst_queue_array_free (src->ready);
  gst_caps_replace (&src->pending_caps, NULL);
  g_clear_error (&src->error);
  g_mutex_clear (&src->lock);
  g_cond_clear (&src->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static GstURIType
gst_icecam_src_uri_get_type (GType type)
{
  return GST_URI_SRC;
}

static const gchar * const *
gst_icecam_src_uri_get_protocols (GType type)
{
  static const gchar *protocols[] = { "icecam", "icecams", NULL };

  return protocols;
}

static gchar *
gst_icecam_src_uri_get_uri (GstURIHandler *handler)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (handler);
  gchar *uri;

  GST_OBJECT_LOCK (src);
  uri = src->uri ? g_strdup (src->uri)
                 : gst_icecam_uri_build (src->settings.server, src->settings.camera_id);
  GST_OBJECT_UNLOCK (src);
  return uri;
}

/* Each parameter as its property's value, checked: a bad one refuses the whole URI. */
static gboolean
values_from_params (GstIcecamSrc *src, GHashTable *params, const gchar *uri, GValue *values,
                    const gchar **names, guint *n, GError **error)
{
  GHashTableIter iter;
  gpointer key, value;

  *n = 0;
  g_hash_table_iter_init (&iter, params);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (src), key);

    g_value_init (&values[*n], pspec->value_type);
    names[*n] = key;
    (*n)++;
    if (G_IS_PARAM_SPEC_STRING (pspec))
      g_value_set_string (&values[*n - 1], value);
    else if (!gst_value_deserialize (&values[*n - 1], value)) {
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
                   "bad icecam URI '%s': '%s' is not a value of %s (%s)", uri,
                   (const gchar *) value, (const gchar *) key, g_type_name (pspec->value_type));
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
gst_icecam_src_uri_set_uri (GstURIHandler *handler, const gchar *uri, GError **error)
{
  GstIcecamSrc *src = GST_ICECAM_SRC (handler);
  g_autoptr (GstIcecamUri) parsed = NULL;
  const gchar * const *known = gst_icecam_uri_param_names ();
  guint max = g_strv_length ((gchar **) known);
  g_autofree GValue *values = g_new0 (GValue, max);
  g_autofree const gchar **names = g_new0 (const gchar *, max);
  guint n = 0;
  gboolean ok;

  if (GST_STATE (src) > GST_STATE_READY) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
                 "icecamsrc takes a URI only when it is not playing");
    return FALSE;
  }
  parsed = gst_icecam_uri_parse (uri, error);
  if (parsed == NULL)
    return FALSE;
  ok = values_from_params (src, parsed->params, uri, values, names, &n, error);
  if (ok) {
    g_object_set (src, "server", parsed->server, "camera-id", parsed->camera_id, NULL);
    g_object_setv (G_OBJECT (src), n, names, values);
    GST_OBJECT_LOCK (src);
    g_free (src->uri);
    src->uri = g_strdup (uri);
    GST_OBJECT_UNLOCK (src);
  }
  for (guint i = 0; i < n; i++)
    g_value_unset (&values[i]);
  return ok;
}

static void
gst_icecam_src_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = g_iface;

  iface->get_type = gst_icecam_src_uri_get_type;
  iface->get_protocols = gst_icecam_src_uri_get_protocols;
  iface->get_uri = gst_icecam_src_uri_get_uri;
  iface->set_uri = gst_icecam_src_uri_set_uri;
}

static void
gst_icecam_src_class_init (GstIcecamSrcClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_icecam_src_set_property;
  gobject_class->get_property = gst_icecam_src_get_property;
  gobject_class->finalize = gst_icecam_src_finalize;

  gst_icecam_install_properties (gobject_class,
      "Session statistics: session, packets-received, bytes-received, packets-sent "
      "(keyframe requests), packets-queue-dropped, packets-nacked (asked for again), "
      "packets-recovered (retransmissions received), delay-ms (the last packet's delay "
      "from the camera by its sender reports, -1 before the first; meaningful when both "
      "clocks agree), delay-sum-ms and delay-samples (for means), resumes (resume=true: "
      "times the camera was asked for again), audio-offset-ms (lip-sync: how much later than "
      "it arrived the latest audio packet is stamped) and, once selected, the pair's local-type, "
      "remote-type, transport, local-address, remote-address");

  g_object_class_install_property (gobject_class, PROP_TOKEN,
      g_param_spec_string ("token", "Token",
          "The grant to present to a rendezvous that requires one "
          "(icecam-rendezvous token --camera NAME --ttl 1h)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_CAMERA_FINGERPRINT,
      g_param_spec_string ("camera-fingerprint", "Camera fingerprint",
          "Pins the camera's certificate: \"sha-256 AB:CD:..\" as icecam-camera prints it "
          "(icecamsink fingerprint). A camera presenting another one is refused "
          "(RESOURCE NOT_AUTHORIZED) before any media. Unset: trust the fingerprint in the "
          "camera's offer (media is still encrypted)", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_WAIT_FOR_CAMERA,
      g_param_spec_boolean ("wait-for-camera", "Wait for camera",
          "A camera that is not online is waited for, not an error: it is watched as soon as "
          "the rendezvous lists it online, and an unreachable rendezvous is tried again. "
          "FALSE: an unknown camera is an error (RESOURCE NOT_FOUND) naming those online",
          FALSE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_RESUME,
      g_param_spec_boolean ("resume", "Resume",
          "When a camera that was playing leaves or its path fails for good, stay up and ask "
          "for it again (after 0.5 s, doubling to 4 s) until it returns, going on with the same "
          "stream; the camera's leaving then ends nothing. Off (the default): the camera "
          "leaving ends the stream with EOS, other failures with an error", FALSE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));

  g_object_class_install_property (gobject_class, PROP_LIP_SYNC,
      g_param_spec_boolean ("lip-sync", "Lip sync",
          "Stamp the audio with the arrival of the video captured with it, from the camera's "
          "RTCP sender reports, so that audio and video played as stamped are in sync however "
          "differently the camera's encoders delay them. Off: the audio is stamped on arrival",
          TRUE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  element_class->change_state = GST_DEBUG_FUNCPTR (gst_icecam_src_change_state);
  gst_element_class_set_static_metadata (element_class, "icecam viewer source",
      "Source/Network/RTP", "Receives a camera's RTP over ICE, through an icecam rendezvous",
      "icecam developers");

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_icecam_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_icecam_src_stop);
  basesrc_class->negotiate = GST_DEBUG_FUNCPTR (gst_icecam_src_negotiate);
  basesrc_class->event = GST_DEBUG_FUNCPTR (gst_icecam_src_event);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_icecam_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_icecam_src_unlock_stop);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_icecam_src_create);
}

static void
gst_icecam_src_init (GstIcecamSrc *src)
{
  g_mutex_init (&src->lock);
  g_cond_init (&src->cond);
  src->lip_sync = gst_icecam_lip_sync_new ();
  src->audio = gst_icecam_audio_out_new (GST_ELEMENT (src),
      gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (src), "audio"), src->lip_sync);
  gst_pad_add_probe (GST_BASE_SRC_PAD (src), GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_src_eos, src,
                     NULL);
  src->packets = gst_queue_array_new (MAX_QUEUED_PACKETS / 8);
  gst_queue_array_set_clear_func (src->packets, (GDestroyNotify) gst_buffer_unref);
  src->ready = gst_queue_array_new (MAX_QUEUED_PACKETS / 8);
  gst_queue_array_set_clear_func (src->ready, (GDestroyNotify) gst_buffer_unref);
  gst_base_src_set_live (GST_BASE_SRC (src), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (src), GST_FORMAT_TIME);
  gst_base_src_set_do_timestamp (GST_BASE_SRC (src), TRUE);
}
