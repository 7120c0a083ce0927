/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IcecamCameraEndpoint's media input: the stream's description (video and audio), keyframe
 * requests merged for the encoder, the H.264 profile from the first SPS, the GOP cache and
 * the packets sent to every viewer. */

#include "icecam-camera-endpoint-private.h"

#include "icecam-h264.h"

#include <string.h>

/* Keyframe requests closer together than this are merged into one, deferred, never lost:
 * with one shared encoder a request serves every viewer. */
#define KEYFRAME_MIN_INTERVAL_US (200 * G_TIME_SPAN_MILLISECOND)
/* ... and than this while the path of a viewer is congested (see
 * icecam_bitrate_controller_is_congested()). */
#define KEYFRAME_CONGESTED_INTERVAL_US (750 * G_TIME_SPAN_MILLISECOND)
/* ... and than this when a viewer on the reduced stream asks: it gets keyframes only, on a
 * path far below the stream, so one takes it seconds to receive, and it asks again meanwhile;
 * each one asked costs every other viewer a keyframe (five a second were made for one viewer
 * behind 300 kbit/s, while the fast viewer's bursts read as queues). */
#define KEYFRAME_REDUCED_INTERVAL_US (2 * G_TIME_SPAN_SECOND)

static gboolean
emit_keyframe_request (gpointer data)
{
  IcecamCameraEndpoint *self = data;

  g_clear_pointer (&self->keyframe_source, g_source_unref);
  self->last_keyframe_request = g_get_monotonic_time ();
  g_debug ("camera %s: keyframe requested", self->camera_id);
  g_signal_emit (self, icecam_camera_endpoint_signals[SIGNAL_KEYFRAME_REQUESTED], 0);
  return G_SOURCE_REMOVE;
}

void
icecam_camera_endpoint_cancel_keyframe_request (IcecamCameraEndpoint *self)
{
  if (self->keyframe_source == NULL)
    return;
  /* Destroyed where it was attached (the endpoint's context), not looked up by id in
   * whatever context is the default where this runs. */
  g_source_destroy (self->keyframe_source);
  g_clear_pointer (&self->keyframe_source, g_source_unref);
}

/* @reduced: asked for by a viewer on the reduced stream. */
void
icecam_camera_endpoint_request_keyframe (IcecamCameraEndpoint *self, gboolean reduced)
{
  gint64 now = g_get_monotonic_time (), since = now - self->last_keyframe_request;
  gint64 interval = reduced ? KEYFRAME_REDUCED_INTERVAL_US
                    : icecam_bitrate_controller_is_congested (self->controller, now)
                      ? KEYFRAME_CONGESTED_INTERVAL_US : KEYFRAME_MIN_INTERVAL_US;

  if (self->keyframe_source != NULL) {
    /* One is already scheduled: it serves this request too, unless it was a reduced
     * viewer's, due later than this one may be (the full stream's viewers' requests must not
     * wait the reduced stream's 2 s). */
    if (g_source_get_ready_time (self->keyframe_source) <=
        self->last_keyframe_request + interval + 10 * G_TIME_SPAN_MILLISECOND)
      return;
    icecam_camera_endpoint_cancel_keyframe_request (self);
  }
  if (since >= interval) {
    emit_keyframe_request (self);
    return;
  }
  self->keyframe_source = g_timeout_source_new ((guint) ((interval - since) / 1000) + 1);
  g_source_set_callback (self->keyframe_source, emit_keyframe_request, self, NULL);
  g_source_attach (self->keyframe_source, self->context);
}

/**
 * icecam_camera_endpoint_set_media:
 * @media: "video" or "audio"
 * @payload_type: RTP payload type
 * @rtpmap: e.g. "H264/90000"
 * @fmtp: (nullable): format parameters
 * @ssrc: the stream's RTP SSRC (the payloader's), or 0 if not known: then the offer names none
 *
 * Describes the RTP stream; sessions waiting for it get their offer. The offer's section has
 * a=mid:0, an a=msid and the source's cname, rtcp-fb "nack" and "nack pli" (the camera
 * answers PLI and FIR with a keyframe, and generic NACKs with retransmissions from its
 * history), and an RTX payload type (RFC 4588, the next one up) with its own SSRC in an
 * a=ssrc-group:FID. For H.264 the fmtp states
 * the profile-level-id of the stream sent, from @fmtp's profile-level-id or
 * sprop-parameter-sets; if neither is there, offers wait for the first SPS the camera sends.
 * Thread-safe.
 */
void
icecam_camera_endpoint_set_media (IcecamCameraEndpoint *self, const gchar *media,
                                  guint payload_type, const gchar *rtpmap, const gchar *fmtp,
                                  guint32 ssrc)
{
  gboolean h264 = g_ascii_strncasecmp (rtpmap, "H264/", 5) == 0;
  g_autofree gchar *h264_fmtp = h264 ? icecam_h264_fmtp_for_offer (fmtp, NULL) : NULL;
  IcecamSdp *sdp = icecam_sdp_new ();
  IcecamSdpMedia *section = icecam_sdp_add_media (
      sdp, icecam_sdp_media_new (media, payload_type, rtpmap, h264_fmtp ? h264_fmtp : fmtp));

  section->mid = g_strdup ("0");
  section->direction = ICECAM_SDP_DIRECTION_SENDONLY;
  section->msid = g_strdup_printf ("icecam %s0", media);
  section->ssrc = ssrc;
  section->cname = g_strdup (self->cname);
  g_ptr_array_add (section->rtcp_fb, g_strdup ("nack"));
  g_ptr_array_add (section->rtcp_fb, g_strdup ("nack pli"));
  section->rtx_payload_type = payload_type == 127 ? 96 : MAX (payload_type + 1, 96);
  section->rtx_ssrc = ssrc != 0 ? self->rtx_ssrc : 0;

  g_mutex_lock (&self->lock);
  icecam_sdp_free (self->media);
  self->media = sdp;
  self->start_on_keyframe = h264;
  self->rtx_payload_type = section->rtx_payload_type;
  g_atomic_int_set (&self->profile_pending, h264 && h264_fmtp == NULL);
  g_mutex_unlock (&self->lock);
  if (h264 && h264_fmtp == NULL)
    g_info ("camera %s: H.264 profile not in the caps; offers wait for the stream's SPS",
            self->camera_id);

  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT,
                              icecam_camera_endpoint_send_due_offers_cb, g_object_ref (self),
                              g_object_unref);
}

/**
 * icecam_camera_endpoint_expect_audio:
 *
 * Audio will be described (icecam_camera_endpoint_set_audio()): offers wait for it, so that
 * no viewer gets an offer without the audio section. Thread-safe.
 */
void
icecam_camera_endpoint_expect_audio (IcecamCameraEndpoint *self)
{
  g_mutex_lock (&self->lock);
  if (self->audio == NULL)
    g_atomic_int_set (&self->audio_pending, TRUE);
  g_mutex_unlock (&self->lock);
}

/**
 * icecam_camera_endpoint_set_audio:
 * @payload_type: the RTP payload type of the Opus stream (111 in browsers' offers)
 * @fmtp: (nullable): format parameters, e.g. "minptime=10;useinbandfec=1"
 * @ssrc: the stream's RTP SSRC, or 0 if not known
 *
 * Describes the camera's audio, Opus (RFC 7587: "opus/48000/2"): offers carry a second,
 * bundled section, m=audio with a=mid:1, its own msid and the camera's cname. Thread-safe.
 */
void
icecam_camera_endpoint_set_audio (IcecamCameraEndpoint *self, guint payload_type,
                                  const gchar *fmtp, guint32 ssrc)
{
  IcecamSdpMedia *section = icecam_sdp_media_new ("audio", payload_type, "opus/48000/2", fmtp);

  section->mid = g_strdup ("1");
  section->direction = ICECAM_SDP_DIRECTION_SENDONLY;
  section->msid = g_strdup ("icecam audio0");
  section->ssrc = ssrc;
  section->cname = g_strdup (self->cname);
  g_mutex_lock (&self->lock);
  icecam_sdp_media_free (self->audio);
  self->audio = section;
  g_atomic_int_set (&self->audio_pending, FALSE);
  g_mutex_unlock (&self->lock);
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT,
                              icecam_camera_endpoint_send_due_offers_cb, g_object_ref (self),
                              g_object_unref);
}

/**
 * icecam_camera_endpoint_clear_audio:
 *
 * There is no audio after all (or no more): offers go without the audio section and wait for
 * it no longer. Thread-safe.
 */
void
icecam_camera_endpoint_clear_audio (IcecamCameraEndpoint *self)
{
  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->audio, icecam_sdp_media_free);
  g_atomic_int_set (&self->audio_pending, FALSE);
  g_mutex_unlock (&self->lock);
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT,
                              icecam_camera_endpoint_send_due_offers_cb, g_object_ref (self),
                              g_object_unref);
}

/**
 * icecam_camera_endpoint_send_audio:
 * @messages: (array length=n_messages): RTP packets of the stream icecam_camera_endpoint_set_audio()
 *   describes
 *
 * Like icecam_camera_endpoint_send(), but every CONNECTED viewer gets them at once: audio
 * waits for no keyframe and is not kept in the GOP cache. Thread-safe; never blocks.
 *
 * Returns: the number of viewers the packets were handed to
 */
guint
icecam_camera_endpoint_send_audio (IcecamCameraEndpoint *self, const NiceOutputMessage *messages,
                                   guint n_messages)
{
  return icecam_fanout_send_ungated (self->fanout, messages, n_messages);
}

/**
 * icecam_camera_endpoint_note_capture:
 * @ssrc: the source (video or audio)
 * @rtp_timestamp: of content captured at @captured_us
 * @captured_us: monotonic time (g_get_monotonic_time()) of the capture
 *
 * The sessions' RTCP sender reports then tie @ssrc's RTP time to the time of capture, so that
 * a viewer plays audio and video captured together at the same time, however long each took
 * to encode. Without it the reports tie RTP time to the time of sending. Thread-safe.
 */
void
icecam_camera_endpoint_note_capture (IcecamCameraEndpoint *self, guint32 ssrc,
                                     guint32 rtp_timestamp, gint64 captured_us)
{
  icecam_rtp_clock_note (self->capture_clock, ssrc, rtp_timestamp, captured_us);
}

/* Reads the profile-level-id from the first SPS sent, when the caps did not say it. Runs on
 * the streaming thread while the profile is pending. */
static void
find_profile (IcecamCameraEndpoint *self, const NiceOutputMessage *messages, guint n_messages)
{
  gchar profile[ICECAM_H264_PROFILE_LEVEL_ID_LENGTH];
  gboolean found = FALSE;

  for (guint i = 0; i < n_messages && !found; i++) {
    guint8 head[256];
    gsize length = 0;

    /* A payloader writes the header and the payload in separate memories: join the start. */
    for (guint j = 0; j < (guint) messages[i].n_buffers && length < sizeof (head); j++) {
      gsize n = MIN (messages[i].buffers[j].size, sizeof (head) - length);

      memcpy (head + length, messages[i].buffers[j].buffer, n);
      length += n;
    }
    found = icecam_rtp_h264_find_profile_level_id (head, length, profile);
  }
  if (!found)
    return;
  g_mutex_lock (&self->lock);
  if (self->media != NULL && g_atomic_int_get (&self->profile_pending)) {
    IcecamSdpMedia *section = g_ptr_array_index (self->media->media, 0);
    gchar *fmtp = icecam_h264_fmtp_for_offer (section->fmtp, profile);

    g_free (section->fmtp);
    section->fmtp = fmtp;
    g_atomic_int_set (&self->profile_pending, FALSE);
  }
  g_mutex_unlock (&self->lock);
  g_info ("camera %s: H.264 profile-level-id %s, from the stream", self->camera_id, profile);
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT,
                              icecam_camera_endpoint_send_due_offers_cb, g_object_ref (self),
                              g_object_unref);
}

typedef struct {
  IcecamCameraEndpoint *endpoint;
  gchar *session_id;
  guint n_packets, span_ms;
} CacheStart;

static void
cache_start_free (CacheStart *start)
{
  g_object_unref (start->endpoint);
  g_free (start->session_id);
  g_free (start);
}

static gboolean
emit_gop_cache_start (gpointer data)
{
  CacheStart *start = data;

  g_debug ("camera %s: session %s starts from the GOP cache (%u packets, %u ms)",
           start->endpoint->camera_id, start->session_id, start->n_packets, start->span_ms);
  g_signal_emit (start->endpoint, icecam_camera_endpoint_signals[SIGNAL_GOP_CACHE_START], 0,
                 start->session_id, start->n_packets, start->span_ms);
  return G_SOURCE_REMOVE;
}

/* Streaming thread: the signal goes out in the endpoint's context. */
static void
on_fanout_cache_start (IcecamPeerSession *peer, guint n_packets, guint span_ms, gpointer data)
{
  IcecamCameraEndpoint *self = data;
  CacheStart *start = g_new0 (CacheStart, 1);

  start->endpoint = g_object_ref (self);
  start->session_id = g_strdup (icecam_peer_session_get_id (peer));
  start->n_packets = n_packets;
  start->span_ms = span_ms;
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, emit_gop_cache_start, start,
                              (GDestroyNotify) cache_start_free);
}

/**
 * icecam_camera_endpoint_set_gop_cache:
 * @enabled: keep the stream's packets since its last keyframe and start each new viewer with
 *   them (for sources that cannot make a keyframe on demand; see #IcecamGopCache)
 *
 * Call before the first icecam_camera_endpoint_send(). "gop-cache-start" tells when a viewer
 * starts from the cache.
 */
void
icecam_camera_endpoint_set_gop_cache (IcecamCameraEndpoint *self, gboolean enabled)
{
  icecam_fanout_set_gop_cache (self->fanout, enabled, on_fanout_cache_start, self);
}

/**
 * icecam_camera_endpoint_send:
 * @messages: (array length=n_messages): RTP packets
 *
 * Protects the packets with each viewer's SRTP keys and sends them to every viewer whose
 * pair is selected and whose DTLS is connected. Thread-safe; never blocks.
 *
 * Returns: the number of viewers the packets were handed to
 */
guint
icecam_camera_endpoint_send (IcecamCameraEndpoint *self, const NiceOutputMessage *messages,
                             guint n_messages)
{
  if (G_UNLIKELY (g_atomic_int_get (&self->profile_pending)))
    find_profile (self, messages, n_messages);
  icecam_rtp_history_push (self->history, messages, n_messages, g_get_monotonic_time ());
  return icecam_fanout_send (self->fanout, messages, n_messages);
}
