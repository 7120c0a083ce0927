/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keyframes end to end: what a camera pipeline ending in icecamsink sends around keyframe
 * requests, seen by a viewer that assembles and decodes access units the way a browser does. */

#include <gst/check/gstharness.h>
#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <string.h>

#include "icecam-camera-keyframe.h"
#include "icecam-rendezvous.h"
#include "icecam-rtcp.h"
#include "icecam-viewer-endpoint.h"
#include "icecam-test-util.h"

#define FPS 30
#define GOP_SECONDS 10
#define BROWSER_RUN_SECONDS 20
#define BROWSER_REQUESTS 2
/* The target for a browser watching for 20 s: at most 4 keyframe requests. */
#define BROWSER_MAX_PLIS 4

#define NAL_BIT(type) (1u << (type))
#define SLICE_BITS (NAL_BIT (1) | NAL_BIT (2) | NAL_BIT (3) | NAL_BIT (4) | NAL_BIT (5))
#define NAL_IDR 5
#define NAL_SPS 7
#define NAL_PPS 8

/* The encoder and payloader of icecam-camera (src/tools/icecam-camera.c), on a smaller
 * picture: the two cores are shared with other tests. */
#define CAMERA_ENCODER                                                                       \
  "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 " \
  "! queue max-size-buffers=2 leaky=downstream ! videoconvert "                             \
  "! x264enc name=enc tune=zerolatency speed-preset=ultrafast bitrate=1500 key-int-max=300 " \
  "! video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au "
#define CAMERA_PAYLOADER "! rtph264pay pt=96 mtu=1200 aggregate-mode=zero-latency "

typedef struct {
  const gchar *pipeline;  /* camera pipeline up to icecamsink */
  gboolean headers_once;  /* strip SPS/PPS from every keyframe but the first */
} CameraVariant;

/* As icecam-camera runs it. */
static const CameraVariant camera_x264 = { CAMERA_ENCODER CAMERA_PAYLOADER, FALSE };
/* An encoder that writes SPS/PPS only once, as many hardware encoders do, in the pipeline the
 * icecamsink documentation gives for them. */
static const CameraVariant camera_headers_once = {
  CAMERA_ENCODER "! h264parse config-interval=-1 " CAMERA_PAYLOADER, TRUE
};

typedef struct {
  IcecamRendezvous *rendezvous;
  gchar *url;
  gchar *certificate_dir;
  gchar *certificate;
  GstElement *camera;
  GError *camera_error;    /* from the camera's bus */
  gboolean first_keyframe; /* headers-once: the encoder has not written its first yet */
} Fixture;

/* A viewer: an IcecamViewerEndpoint whose RTP is depacketized into access units (RFC 6184:
 * one RTP timestamp, ended by the marker bit) and each access unit decoded by avdec_h264, the
 * FFmpeg decoder Chromium uses. Everything runs in the test's main context. */
typedef struct {
  IcecamViewerEndpoint *endpoint;
  GstHarness *decoder;
  gboolean browser;        /* like Chromium: a PLI for every access unit it cannot decode */
  gboolean closed;

  GByteArray *au;          /* the access unit being assembled, Annex B */
  guint32 au_timestamp;
  guint au_nals;           /* NAL_BIT of every NAL type in it */
  gboolean au_broken;      /* a packet of it was lost or malformed */
  gboolean have_seq;
  guint16 next_seq;

  guint packets;
  guint marked_without_slice; /* packets with the marker set and no slice */
  guint access_units;
  guint idr_access_units;
  guint idr_without_parameter_sets;
  guint frames;            /* access units the decoder made a picture of */
  guint undecodable;
  guint plis;              /* keyframe requests sent because of undecodable access units */

  gboolean first_seen;
  guint first_packet_nals;
  gboolean first_packet_marker;
  gboolean first_au_seen;
  guint first_au_nals;
  gboolean first_au_decoded;
} Viewer;

static gboolean
on_camera_bus_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  Fixture *f = data;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR && f->camera_error == NULL)
    gst_message_parse_error (msg, &f->camera_error, NULL);
  return G_SOURCE_CONTINUE;
}

static guint
camera_count (Fixture *f)
{
  IcecamRegistryStats stats;

  icecam_registry_get_stats (icecam_rendezvous_get_registry (f->rendezvous), &stats);
  return stats.cameras;
}

/* Removes the SPS and PPS NAL units from an Annex B access unit. */
static GstBuffer *
strip_parameter_sets (GstBuffer *in)
{
  GByteArray *out = g_byte_array_new ();
  GstMapInfo map;
  GstBuffer *buf;
  gsize i = 0;

  gst_buffer_map (in, &map, GST_MAP_READ);
  while (i + 3 < map.size) {
    gsize start = i + (map.data[i + 2] == 1 ? 3 : 4); /* after a 3- or 4-byte start code */
    gsize next = start;

    while (next + 3 <= map.size && !(map.data[next] == 0 && map.data[next + 1] == 0 &&
                                     (map.data[next + 2] == 1 ||
                                      (next + 4 <= map.size && map.data[next + 2] == 0 &&
                                       map.data[next + 3] == 1))))
      next++;
    if (next + 3 > map.size)
      next = map.size;
    if (start < map.size && (map.data[start] & 0x1f) != NAL_SPS &&
        (map.data[start] & 0x1f) != NAL_PPS)
      g_byte_array_append (out, map.data + i, (guint) (next - i));
    i = next;
  }
  gst_buffer_unmap (in, &map);
  buf = gst_buffer_new_wrapped (out->data, out->len);
  g_byte_array_free (out, FALSE);
  gst_buffer_copy_into (buf, in, GST_BUFFER_COPY_METADATA, 0, -1);
  return buf;
}

static GstPadProbeReturn
on_encoded_strip (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Fixture *f = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (f->first_keyframe) {
    f->first_keyframe = FALSE;
    return GST_PAD_PROBE_OK;
  }
  GST_PAD_PROBE_INFO_DATA (info) = strip_parameter_sets (buf);
  gst_buffer_unref (buf);
  return GST_PAD_PROBE_OK;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  const CameraVariant *variant = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autofree gchar *description = NULL;

  f->rendezvous = icecam_rendezvous_new ();
  g_assert_true (icecam_rendezvous_listen (f->rendezvous, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  f->url = g_strdup_printf ("ws://127.0.0.1:%u", icecam_rendezvous_get_port (f->rendezvous));

  /* The camera's DTLS certificate: not in the user's data directory. */
  f->certificate_dir = g_dir_make_tmp ("icecam-keyframes-XXXXXX", &error);
  g_assert_no_error (error);
  f->certificate = g_build_filename (f->certificate_dir, "frontdoor.pem", NULL);
  description = g_strdup_printf ("%s ! icecamsink server=%s camera-id=frontdoor certificate=%s",
                                 variant->pipeline, f->url, f->certificate);
  f->camera = gst_parse_launch (description, &error);
  g_assert_no_error (error);
  if (variant->headers_once) {
    g_autoptr (GstElement) enc = gst_bin_get_by_name (GST_BIN (f->camera), "enc");
    g_autoptr (GstPad) pad = gst_element_get_static_pad (enc, "src");

    f->first_keyframe = TRUE;
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_encoded_strip, f, NULL);
  }
  bus = gst_element_get_bus (f->camera);
  gst_bus_add_watch (bus, on_camera_bus_message, f);
  g_assert_cmpint (gst_element_set_state (f->camera, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  g_assert_true (WAIT_UNTIL (camera_count (f) == 1 || f->camera_error != NULL));
  g_assert_no_error (f->camera_error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (f->camera);

  gst_element_set_state (f->camera, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  gst_bus_set_flushing (bus, TRUE);
  g_assert_finalize_object (f->camera);
  g_assert_true (WAIT_UNTIL (camera_count (f) == 0));
  g_assert_finalize_object (f->rendezvous);
  g_clear_error (&f->camera_error);
  g_unlink (f->certificate);
  g_rmdir (f->certificate_dir);
  g_free (f->certificate);
  g_free (f->certificate_dir);
  g_free (f->url);
}

/* Whether the decoder made a picture of the access unit: browsers decode one access unit at a
 * time and take one that gives no picture for an error. One thread and no reordering in the
 * stream: a picture comes out while its access unit goes in. */
static gboolean
viewer_decode (Viewer *v)
{
  GstBuffer *buf = gst_buffer_new_memdup (v->au->data, v->au->len);
  guint pictures;

  GST_BUFFER_PTS (buf) = gst_util_uint64_scale (v->access_units, GST_SECOND, FPS);
  if (gst_harness_push (v->decoder, buf) != GST_FLOW_OK)
    return FALSE;
  pictures = gst_harness_buffers_in_queue (v->decoder);
  for (guint i = 0; i < pictures; i++)
    gst_buffer_unref (gst_harness_pull (v->decoder));
  return pictures > 0;
}

/* The access unit is over: @complete if its marker came, not if the next one began first. */
static void
viewer_finish_access_unit (Viewer *v, gboolean complete)
{
  gboolean decoded = complete && !v->au_broken && viewer_decode (v);

  v->access_units++;
  if (v->au_nals & NAL_BIT (NAL_IDR)) {
    v->idr_access_units++;
    if ((v->au_nals & (NAL_BIT (NAL_SPS) | NAL_BIT (NAL_PPS))) !=
        (NAL_BIT (NAL_SPS) | NAL_BIT (NAL_PPS)))
      v->idr_without_parameter_sets++;
  }
  if (!v->first_au_seen) {
    v->first_au_seen = TRUE;
    v->first_au_nals = v->au_nals;
    v->first_au_decoded = decoded;
  }
  if (decoded) {
    v->frames++;
  } else {
    v->undecodable++;
    if (v->browser) {
      icecam_viewer_endpoint_request_keyframe (v->endpoint);
      v->plis++;
    }
  }
  g_byte_array_set_size (v->au, 0);
  v->au_nals = 0;
  v->au_broken = FALSE;
}

static void
append_nal (Viewer *v, const guint8 *nal, gsize size)
{
  static const guint8 start_code[] = { 0, 0, 0, 1 };

  g_byte_array_append (v->au, start_code, sizeof start_code);
  g_byte_array_append (v->au, nal, (guint) size);
}

/* Appends the NAL units of one RTP payload (single NAL unit, STAP-A, FU-A) to the access unit.
 * Returns NAL_BIT of the NAL types the packet carries (of a fragment: the fragmented unit's),
 * 0 if it is malformed. */
static guint
depacketize (Viewer *v, const guint8 *payload, gsize size)
{
  guint nals = 0;

  if (size < 1)
    return 0;
  switch (payload[0] & 0x1f) {
  case 24: /* STAP-A */
    for (gsize i = 1; i < size;) {
      gsize n;

      if (i + 2 > size)
        return 0;
      n = ((gsize) payload[i] << 8) | payload[i + 1];
      i += 2;
      if (n == 0 || i + n > size)
        return 0;
      append_nal (v, payload + i, n);
      nals |= NAL_BIT (payload[i] & 0x1f);
      i += n;
    }
    return nals;
  case 28: /* FU-A */
    if (size < 2)
      return 0;
    if (payload[1] & 0x80) {
      guint8 header = (payload[0] & 0xe0) | (payload[1] & 0x1f);

      append_nal (v, &header, 1);
    }
    g_byte_array_append (v->au, payload + 2, (guint) (size - 2));
    return NAL_BIT (payload[1] & 0x1f);
  default:
    append_nal (v, payload, size);
    return NAL_BIT (payload[0] & 0x1f);
  }
}

static void
on_viewer_receive (const guint8 *data, gsize length, gpointer user_data)
{
  Viewer *v = user_data;
  g_autoptr (GstBuffer) buf = NULL;
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint32 timestamp;
  guint16 seq;
  gboolean marker;
  guint nals;

  if (icecam_rtp_is_rtcp (data, length))
    return;
  buf = gst_buffer_new_memdup (data, length);
  if (!gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
    return;
  timestamp = gst_rtp_buffer_get_timestamp (&rtp);
  seq = gst_rtp_buffer_get_seq (&rtp);
  marker = gst_rtp_buffer_get_marker (&rtp);

  /* A new timestamp before the marker: the access unit before it stays incomplete. */
  if (v->au->len > 0 && timestamp != v->au_timestamp)
    viewer_finish_access_unit (v, FALSE);
  if (v->have_seq && seq != v->next_seq)
    v->au_broken = TRUE;
  v->have_seq = TRUE;
  v->next_seq = seq + 1;
  v->au_timestamp = timestamp;
  nals = depacketize (v, gst_rtp_buffer_get_payload (&rtp),
                      gst_rtp_buffer_get_payload_len (&rtp));
  gst_rtp_buffer_unmap (&rtp);
  if (nals == 0)
    v->au_broken = TRUE;
  v->au_nals |= nals;

  v->packets++;
  if (marker && (nals & SLICE_BITS) == 0)
    v->marked_without_slice++;
  if (!v->first_seen) {
    v->first_seen = TRUE;
    v->first_packet_nals = nals;
    v->first_packet_marker = marker;
  }
  if (marker)
    viewer_finish_access_unit (v, TRUE);
}

static Viewer *
viewer_start (Fixture *f, gboolean browser)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();
  g_autoptr (GError) error = NULL;
  Viewer *v = g_new0 (Viewer, 1);

  v->browser = browser;
  v->au = g_byte_array_new ();
  v->decoder = gst_harness_new_parse ("avdec_h264 max-threads=1 max-errors=-1");
  gst_harness_set_src_caps_str (v->decoder,
                                "video/x-h264,stream-format=byte-stream,alignment=au");
  v->endpoint = icecam_viewer_endpoint_new (f->url, "frontdoor", config, &error);
  g_assert_no_error (error);
  icecam_viewer_endpoint_set_receive_func (v->endpoint, on_viewer_receive, v, NULL);
  icecam_viewer_endpoint_start (v->endpoint);
  return v;
}

static void
viewer_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Viewer *v = user_data;

  icecam_viewer_endpoint_close_finish (ICECAM_VIEWER_ENDPOINT (source), result, NULL);
  v->closed = TRUE;
}

static void
viewer_free (Viewer *v)
{
  icecam_viewer_endpoint_set_receive_func (v->endpoint, NULL, NULL, NULL);
  icecam_viewer_endpoint_close_async (v->endpoint, viewer_closed_cb, v);
  g_assert_true (WAIT_UNTIL (v->closed));
  g_assert_finalize_object (v->endpoint);
  gst_harness_teardown (v->decoder);
  g_byte_array_unref (v->au);
  g_free (v);
}

static gboolean
viewer_failed (Viewer *v)
{
  return icecam_viewer_endpoint_get_state (v->endpoint) == ICECAM_VIEWER_STATE_CLOSED;
}

static void
viewer_report (Viewer *v, const gchar *what)
{
  g_test_message ("%s: %u packets, %u with the marker and no slice; %u access units, %u IDR, "
                  "%u decoded, %u undecodable, %u PLIs for them", what, v->packets,
                  v->marked_without_slice, v->access_units, v->idr_access_units, v->frames,
                  v->undecodable, v->plis);
}

/* Several keyframe requests, each answered by an IDR access unit; over the whole run, no
 * packet with the marker set lacks a slice (RFC 6184: the marker ends an access unit), and
 * every IDR access unit carries its SPS and PPS. */
static void
test_marker_on_slices (Fixture *f, gconstpointer data)
{
  Viewer *v = viewer_start (f, FALSE);

  g_assert_true (WAIT_UNTIL (v->frames >= 10 || viewer_failed (v)));
  g_assert_false (viewer_failed (v));
  for (guint i = 0; i < 5; i++) {
    guint before = v->idr_access_units;

    icecam_viewer_endpoint_request_keyframe (v->endpoint);
    g_assert_true (WAIT_UNTIL_FOR (v->idr_access_units > before, 3));
  }
  g_assert_true (WAIT_UNTIL (v->frames >= 60));
  viewer_report (v, "viewer");
  g_assert_cmpuint (v->idr_access_units, >=, 6); /* the join's and the five requested */
  g_assert_cmpuint (v->marked_without_slice, ==, 0);
  g_assert_cmpuint (v->idr_without_parameter_sets, ==, 0);
  g_assert_cmpuint (v->undecodable, ==, 0);
  viewer_free (v);
}

static gboolean
make_real_request (gpointer data)
{
  Viewer *v = data;

  icecam_viewer_endpoint_request_keyframe (v->endpoint);
  return G_SOURCE_CONTINUE;
}

/* A viewer that behaves like Chromium (a PLI for every access unit it cannot decode) watches
 * for 20 s and asks twice for a keyframe on purpose. It gets one keyframe on joining, one per
 * request and the encoder's scheduled ones: no more, and no storm of requests of its own. */
static void
test_browser_viewer (Fixture *f, gconstpointer data)
{
  Viewer *v = viewer_start (f, TRUE);
  guint interval = BROWSER_RUN_SECONDS / (BROWSER_REQUESTS + 1);
  guint scheduled_max = BROWSER_RUN_SECONDS / GOP_SECONDS;
  guint source;

  g_assert_true (WAIT_UNTIL (v->access_units >= 1 || viewer_failed (v)));
  g_assert_false (viewer_failed (v));
  source = g_timeout_add_seconds (interval, make_real_request, v);
  /* The observation itself: the context runs (media, requests) for the whole period. */
  (void) WAIT_UNTIL_FOR (viewer_failed (v), BROWSER_RUN_SECONDS);
  g_source_remove (source);
  viewer_report (v, "browser-like viewer");
  g_assert_false (viewer_failed (v));
  g_assert_cmpuint (v->frames, >=, BROWSER_RUN_SECONDS * FPS / 2);
  g_assert_cmpuint (v->plis, <=, BROWSER_MAX_PLIS);
  g_assert_cmpuint (v->idr_access_units, <=, 1 + BROWSER_REQUESTS + scheduled_max);
  viewer_free (v);
}

/* Viewers that join a playing camera one after another: the first packet each is handed is
 * the start of an IDR access unit (SPS, PPS and IDR slice of one timestamp), which decodes. */
static void
test_late_join (Fixture *f, gconstpointer data)
{
  Viewer *first = viewer_start (f, TRUE);

  g_assert_true (WAIT_UNTIL (first->frames >= 2 * FPS || viewer_failed (first)));
  g_assert_false (viewer_failed (first));
  for (guint i = 0; i < 3; i++) {
    Viewer *late = viewer_start (f, TRUE);
    guint wanted = NAL_BIT (NAL_SPS) | NAL_BIT (NAL_PPS) | NAL_BIT (NAL_IDR);

    g_assert_true (WAIT_UNTIL (late->first_au_seen || viewer_failed (late)));
    g_assert_false (viewer_failed (late));
    g_test_message ("late viewer %u: first packet NAL types 0x%x%s, first access unit 0x%x", i,
                    late->first_packet_nals, late->first_packet_marker ? " (marker)" : "",
                    late->first_au_nals);
    g_assert_true (late->first_packet_nals & NAL_BIT (NAL_SPS));
    g_assert_false (late->first_packet_marker && !(late->first_packet_nals & SLICE_BITS));
    g_assert_cmpuint (late->first_au_nals & wanted, ==, wanted);
    g_assert_true (late->first_au_decoded);
    viewer_free (late);
  }
  viewer_report (first, "first viewer");
  g_assert_cmpuint (first->plis, ==, 0);
  viewer_free (first);
}

/* Long enough that a first packet held for it stands out from any slow start. */
#define JITTERBUFFER_LATENCY_MS 8000

static GstPadProbeReturn
on_first_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  gint64 *when = data;
  gint64 none = 0;

  __atomic_compare_exchange_n (when, &none, g_get_monotonic_time (), FALSE, __ATOMIC_SEQ_CST,
                               __ATOMIC_SEQ_CST);
  return GST_PAD_PROBE_REMOVE;
}

/* The viewer pipeline as icecam-view builds it: icecamsrc started alone, the jitter buffer and
 * the decoder chain linked while it connects. The first packet passes an rtpjitterbuffer with
 * faststart within a frame or two: a serialized query after it (GstBaseSrc renegotiating for
 * the late link) used to wait in the jitter buffer behind it, stopping the packets that would
 * let faststart start, and the first frame waited for the whole latency (8 s here). */
static void
test_jitterbuffer_start (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *description = g_strdup_printf (
      "rtpjitterbuffer latency=%d do-retransmission=true faststart-min-packets=1 "
      "! rtph264depay request-keyframe=true ! avdec_h264 ! fakesink name=sink sync=false",
      JITTERBUFFER_LATENCY_MS);
  GstElement *pipeline = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make ("icecamsrc", NULL);
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstPad) src_pad = NULL;
  g_autoptr (GstPad) sink_pad = NULL;
  GstElement *chain;
  gint64 sent = 0, received = 0;

  g_assert_nonnull (src);
  g_object_set (src, "server", f->url, "camera-id", "frontdoor", NULL);
  gst_bin_add (GST_BIN (pipeline), src);
  src_pad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (src_pad, GST_PAD_PROBE_TYPE_BUFFER, on_first_buffer, &sent, NULL);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PAUSED), !=,
                   GST_STATE_CHANGE_FAILURE);
  chain = gst_parse_bin_from_description (description, TRUE, &error);
  g_assert_no_error (error);
  sink = gst_bin_get_by_name (GST_BIN (chain), "sink");
  sink_pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_BUFFER, on_first_buffer, &received, NULL);
  gst_bin_add (GST_BIN (pipeline), chain);
  g_assert_true (gst_element_link (src, chain));
  g_assert_true (gst_element_sync_state_with_parent (chain));
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);

  g_assert_true (WAIT_UNTIL_FOR (__atomic_load_n (&received, __ATOMIC_SEQ_CST) != 0,
                                 2 * JITTERBUFFER_LATENCY_MS / 1000));
  g_test_message ("first packet through the jitter buffer after %.1f ms",
                  (__atomic_load_n (&received, __ATOMIC_SEQ_CST) -
                   __atomic_load_n (&sent, __ATOMIC_SEQ_CST)) / 1000.0);
  g_assert_cmpint (__atomic_load_n (&received, __ATOMIC_SEQ_CST) -
                   __atomic_load_n (&sent, __ATOMIC_SEQ_CST), <,
                   JITTERBUFFER_LATENCY_MS * G_TIME_SPAN_MILLISECOND / 2);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

/* icecam-camera's encoder chain (src/tools/icecam-camera-source.c) at 2 fps, so that the
 * source's next frame is half a second away, ending in an appsink that sees the encoded
 * frames (the "payloader" is an identity: keyframe requests come up through it). */
#define REPEAT_FRAME_INTERVAL (GST_SECOND / 2)
#define REPEAT_PIPELINE                                                                       \
  "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=2/1 "  \
  "! queue name=" ICECAM_CAMERA_RAW_QUEUE " max-size-buffers=2 leaky=downstream "             \
  "! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=300 "         \
  "! video/x-h264,stream-format=byte-stream,alignment=au "                                    \
  "! identity name=" ICECAM_CAMERA_PAYLOADER " ! appsink name=out sync=false"

static GstBuffer *
pull_frame (GstElement *appsink)
{
  g_autoptr (GstSample) sample = NULL;

  g_signal_emit_by_name (appsink, "try-pull-sample", 5 * GST_SECOND * icecam_test_slowdown (),
                         &sample);
  g_assert_nonnull (sample);
  return gst_buffer_ref (gst_sample_get_buffer (sample));
}

/* A keyframe request (what icecamsink sends up for a new viewer) is answered with a keyframe
 * of the last raw frame, timestamped between it and the source's next frame, and that next
 * frame is not a second keyframe. Without icecam_camera_keyframe_arm() (@data) the keyframe
 * is the source's next frame, half a second later. */
static void
test_repeat_last_frame (gconstpointer data)
{
  gboolean armed = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = gst_parse_launch (REPEAT_PIPELINE, &error);
  g_autoptr (GstElement) queue = NULL;
  g_autoptr (GstElement) identity = NULL;
  g_autoptr (GstElement) appsink = NULL;
  g_autoptr (GstBuffer) first = NULL;
  g_autoptr (GstBuffer) second = NULL;
  g_autoptr (GstBuffer) keyframe = NULL;
  g_autoptr (GstBuffer) after = NULL;

  g_assert_no_error (error);
  queue = gst_bin_get_by_name (GST_BIN (pipeline), ICECAM_CAMERA_RAW_QUEUE);
  identity = gst_bin_get_by_name (GST_BIN (pipeline), ICECAM_CAMERA_PAYLOADER);
  appsink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  if (armed)
    icecam_camera_keyframe_arm (queue, identity);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);

  first = pull_frame (appsink);
  g_assert_false (GST_BUFFER_FLAG_IS_SET (first, GST_BUFFER_FLAG_DELTA_UNIT));
  second = pull_frame (appsink);
  g_assert_true (GST_BUFFER_FLAG_IS_SET (second, GST_BUFFER_FLAG_DELTA_UNIT));

  g_assert_true (gst_element_send_event (
      appsink, gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE, FALSE, 1)));
  keyframe = pull_frame (appsink);
  g_assert_false (GST_BUFFER_FLAG_IS_SET (keyframe, GST_BUFFER_FLAG_DELTA_UNIT));
  g_test_message ("keyframe %" GST_TIME_FORMAT " after the frame of %" GST_TIME_FORMAT,
                  GST_TIME_ARGS (GST_BUFFER_PTS (keyframe)), GST_TIME_ARGS (GST_BUFFER_PTS (second)));
  g_assert_cmpuint (GST_BUFFER_PTS (keyframe), >, GST_BUFFER_PTS (second));
  if (armed) {
    g_assert_cmpuint (GST_BUFFER_PTS (keyframe), <,
                      GST_BUFFER_PTS (second) + REPEAT_FRAME_INTERVAL);
    after = pull_frame (appsink);
    g_assert_cmpuint (GST_BUFFER_PTS (after), ==, GST_BUFFER_PTS (second) + REPEAT_FRAME_INTERVAL);
    g_assert_true (GST_BUFFER_FLAG_IS_SET (after, GST_BUFFER_FLAG_DELTA_UNIT));
  } else {
    g_assert_cmpuint (GST_BUFFER_PTS (keyframe), ==,
                      GST_BUFFER_PTS (second) + REPEAT_FRAME_INTERVAL);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/keyframes/marker/x264", Fixture, &camera_x264, fixture_setup,
              test_marker_on_slices, fixture_teardown);
  g_test_add ("/keyframes/marker/headers-once", Fixture, &camera_headers_once, fixture_setup,
              test_marker_on_slices, fixture_teardown);
  g_test_add ("/keyframes/browser-viewer", Fixture, &camera_x264, fixture_setup,
              test_browser_viewer, fixture_teardown);
  g_test_add ("/keyframes/late-join", Fixture, &camera_x264, fixture_setup, test_late_join,
              fixture_teardown);
  g_test_add ("/keyframes/jitterbuffer-start", Fixture, &camera_x264, fixture_setup,
              test_jitterbuffer_start, fixture_teardown);
  g_test_add_data_func ("/keyframes/repeat-last-frame/armed", GINT_TO_POINTER (TRUE),
                        test_repeat_last_frame);
  g_test_add_data_func ("/keyframes/repeat-last-frame/not-armed", GINT_TO_POINTER (FALSE),
                        test_repeat_last_frame);
  return g_test_run ();
}
