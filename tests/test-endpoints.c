/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A camera endpoint and viewer endpoints through the real rendezvous on 127.0.0.1, fed with
 * synthetic H.264 RTP packets: no GStreamer. */

#include <string.h>

#include "icecam-camera-endpoint.h"
#include "icecam-test-rendezvous.h"
#include "icecam-viewer-endpoint.h"

#define CAMERA_ID "frontdoor"
#define N_VIEWERS 2
#define RTP_HEADER_SIZE 12
#define RTP_PAYLOAD_SIZE 40
#define RTP_SSRC 0x1cecab1eu
/* H.264 NAL unit types (RFC 6184 single NAL unit packets). */
#define NAL_SLICE 1
#define NAL_IDR 5
#define NAL_SPS 7
/* The camera's merge window for keyframe requests. */
#define KEYFRAME_MIN_INTERVAL_US (200 * G_TIME_SPAN_MILLISECOND)

typedef struct {
  IcecamViewerEndpoint *endpoint;
  GString *states;      /* every state it entered, space-separated */
  GPtrArray *received;  /* GBytes: each packet handed to the receive function, in order */
  gchar *media;         /* what its "media" signal announced */
  guint pairs_selected;
  gboolean closed;      /* closed by viewer_close() */
} Viewer;

typedef struct {
  gchar *session;
  gchar *reason;
} EndedSession;

typedef struct {
  IcecamRendezvous *rendezvous;
  gchar *url;
  IcecamIceConfig *config;
  IcecamCameraEndpoint *camera;
  GPtrArray *started;   /* session ids from "session-started" */
  GPtrArray *ended;     /* EndedSession from "session-ended" */
  GArray *keyframe_requests; /* gint64: the monotonic time of each "keyframe-requested" */
  guint camera_pairs_selected;
  gboolean camera_closed;
  GPtrArray *sent;      /* GBytes: every packet handed to icecam_camera_endpoint_send() */
  guint16 seq;
  Viewer viewers[N_VIEWERS];
} Fixture;

/* ---- the camera ------------------------------------------------------------------------- */

static void
ended_session_free (EndedSession *ended)
{
  g_free (ended->session);
  g_free (ended->reason);
  g_free (ended);
}

static void
on_camera_session_started (IcecamCameraEndpoint *camera, const gchar *session,
                           const gchar *viewer, Fixture *f)
{
  g_assert_nonnull (viewer);
  g_ptr_array_add (f->started, g_strdup (session));
}

static void
on_camera_session_ended (IcecamCameraEndpoint *camera, const gchar *session,
                         const gchar *reason, Fixture *f)
{
  EndedSession *ended = g_new0 (EndedSession, 1);

  g_test_message ("camera: session %s ended: %s", session, reason);
  ended->session = g_strdup (session);
  ended->reason = g_strdup (reason);
  g_ptr_array_add (f->ended, ended);
}

static void
on_camera_pair_selected (IcecamCameraEndpoint *camera, const gchar *session,
                         IcecamPairInfo *info, Fixture *f)
{
  g_assert_cmpstr (info->local_type, ==, "host");
  g_assert_true (g_str_has_prefix (info->local_address, "127.0.0.1:"));
  f->camera_pairs_selected++;
}

static void
on_camera_keyframe_requested (IcecamCameraEndpoint *camera, Fixture *f)
{
  gint64 now = g_get_monotonic_time ();

  g_array_append_val (f->keyframe_requests, now);
}

static void
camera_close (Fixture *f)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  icecam_camera_endpoint_close_async (f->camera, icecam_test_store_result_cb, &result);
  g_assert_true (WAIT_UNTIL (result != NULL));
  g_assert_true (icecam_camera_endpoint_close_finish (f->camera, result, &error));
  g_assert_no_error (error);
  f->camera_closed = TRUE;
}

/* Hands @n packets to the camera in one call, one RTP packet per NAL unit of @nal_types, each
 * as a header buffer and a payload buffer the way a payloader's buffer list arrives; the
 * camera must have handed them to @n_viewers viewers. */
static void
camera_send (Fixture *f, const guint8 *nal_types, guint n, guint n_viewers)
{
  g_autofree NiceOutputMessage *messages = g_new0 (NiceOutputMessage, n);
  g_autofree GOutputVector *vectors = g_new0 (GOutputVector, 2 * n);
  g_autofree guint8 *storage = g_malloc0 (n * (RTP_HEADER_SIZE + RTP_PAYLOAD_SIZE));

  for (guint i = 0; i < n; i++) {
    guint8 *packet = storage + i * (RTP_HEADER_SIZE + RTP_PAYLOAD_SIZE);
    guint8 *payload = packet + RTP_HEADER_SIZE;
    guint16 seq = f->seq++;
    guint32 timestamp = (guint32) seq * 3000;

    packet[0] = 0x80;
    packet[1] = 96;
    packet[2] = seq >> 8;
    packet[3] = seq & 0xff;
    for (guint b = 0; b < 4; b++) {
      packet[4 + b] = (guint8) (timestamp >> (24 - 8 * b));
      packet[8 + b] = (guint8) (RTP_SSRC >> (24 - 8 * b));
    }
    payload[0] = 0x60 | nal_types[i]; /* nal_ref_idc 3 */
    /* Every packet's bytes differ, so that a test can tell which ones arrived. */
    for (guint b = 1; b < RTP_PAYLOAD_SIZE; b++)
      payload[b] = (guint8) (seq * 7 + b);
    vectors[2 * i] = (GOutputVector) { packet, RTP_HEADER_SIZE };
    vectors[2 * i + 1] = (GOutputVector) { payload, RTP_PAYLOAD_SIZE };
    messages[i].buffers = &vectors[2 * i];
    messages[i].n_buffers = 2;
    g_ptr_array_add (f->sent, g_bytes_new (packet, RTP_HEADER_SIZE + RTP_PAYLOAD_SIZE));
  }
  g_assert_cmpuint (icecam_camera_endpoint_send (f->camera, messages, n), ==, n_viewers);
}

static guint
camera_n_sessions (Fixture *f)
{
  g_autoptr (GPtrArray) stats = icecam_camera_endpoint_get_stats (f->camera);

  return stats->len;
}

static const EndedSession *
find_ended (Fixture *f, const gchar *session)
{
  for (guint i = 0; i < f->ended->len; i++) {
    const EndedSession *ended = g_ptr_array_index (f->ended, i);

    if (g_strcmp0 (ended->session, session) == 0)
      return ended;
  }
  return NULL;
}

/* ---- viewers ---------------------------------------------------------------------------- */

static void
on_viewer_state_changed (IcecamViewerEndpoint *endpoint, guint state, Viewer *v)
{
  if (v->states->len > 0)
    g_string_append_c (v->states, ' ');
  g_string_append (v->states, icecam_viewer_state_to_string (state));
}

static void
on_viewer_media (IcecamViewerEndpoint *endpoint, const gchar *media, guint payload_type,
                 const gchar *rtpmap, const gchar *fmtp, Viewer *v)
{
  g_free (v->media);
  v->media = g_strdup_printf ("%s %u %s %s", media, payload_type, rtpmap, fmtp);
}

static void
on_viewer_pair_selected (IcecamViewerEndpoint *endpoint, IcecamPairInfo *info, Viewer *v)
{
  g_assert_cmpstr (info->local_type, ==, "host");
  g_assert_true (g_str_has_prefix (info->local_address, "127.0.0.1:"));
  v->pairs_selected++;
}

static void
viewer_receive (const guint8 *data, gsize length, gpointer user_data)
{
  Viewer *v = user_data;

  g_ptr_array_add (v->received, g_bytes_new (data, length));
}

/* Viewer @v watches @camera_id, trusting the camera's certificate only if it is @pinned. */
static Viewer *
viewer_start (Fixture *f, Viewer *v, const gchar *camera_id, const gchar *pinned)
{
  g_autoptr (GError) error = NULL;

  v->endpoint = icecam_viewer_endpoint_new (f->url, camera_id, f->config, &error);
  g_assert_no_error (error);
  g_assert_true (icecam_viewer_endpoint_set_camera_fingerprint (v->endpoint, pinned, &error));
  g_assert_no_error (error);
  v->states = g_string_new (NULL);
  v->received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_signal_connect (v->endpoint, "state-changed", G_CALLBACK (on_viewer_state_changed), v);
  g_signal_connect (v->endpoint, "media", G_CALLBACK (on_viewer_media), v);
  g_signal_connect (v->endpoint, "pair-selected", G_CALLBACK (on_viewer_pair_selected), v);
  icecam_viewer_endpoint_set_receive_func (v->endpoint, viewer_receive, v, NULL);
  icecam_viewer_endpoint_start (v->endpoint);
  return v;
}

static IcecamViewerState
viewer_state (Viewer *v)
{
  return icecam_viewer_endpoint_get_state (v->endpoint);
}

/* Waits until @v plays and the camera counts @n_viewers in its fan-out (its side of the
 * handshake may finish a moment after the viewer's, or before). */
static void
viewer_wait_playing (Fixture *f, Viewer *v, guint n_viewers)
{
  g_assert_true (WAIT_UNTIL (viewer_state (v) == ICECAM_VIEWER_STATE_PLAYING ||
                             viewer_state (v) == ICECAM_VIEWER_STATE_CLOSED));
  g_assert_no_error ((GError *) icecam_viewer_endpoint_get_error (v->endpoint));
  g_assert_cmpstr (icecam_viewer_state_to_string (viewer_state (v)), ==, "playing");
  g_assert_true (WAIT_UNTIL (icecam_camera_endpoint_get_n_viewers (f->camera) == n_viewers));
}

/* Waits until @v ends on its own, with an error from @code that says @needle. */
static void
viewer_wait_failed (Viewer *v, IcecamViewerError code, const gchar *needle)
{
  const GError *error;

  g_assert_true (WAIT_UNTIL (viewer_state (v) == ICECAM_VIEWER_STATE_CLOSED));
  error = icecam_viewer_endpoint_get_error (v->endpoint);
  g_assert_error ((GError *) error, ICECAM_VIEWER_ERROR, (gint) code);
  g_test_message ("viewer: %s", error->message);
  if (strstr (error->message, needle) == NULL)
    g_error ("viewer error '%s' does not say '%s'", error->message, needle);
}

static void
viewer_close (Viewer *v)
{
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;

  icecam_viewer_endpoint_close_async (v->endpoint, icecam_test_store_result_cb, &result);
  g_assert_true (WAIT_UNTIL (result != NULL));
  g_assert_true (icecam_viewer_endpoint_close_finish (v->endpoint, result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (viewer_state (v), ==, ICECAM_VIEWER_STATE_CLOSED);
  v->closed = TRUE;
}

/* Waits until @v has received what the camera sent from packet @first on, and checks that
 * those are exactly the packets it received, byte for byte and in order. */
static void
viewer_assert_received_from (Fixture *f, Viewer *v, guint first)
{
  guint expected = f->sent->len - first;

  g_assert_true (WAIT_UNTIL (v->received->len >= expected));
  g_assert_cmpuint (v->received->len, ==, expected);
  for (guint i = 0; i < expected; i++) {
    GBytes *got = g_ptr_array_index (v->received, i);
    GBytes *sent = g_ptr_array_index (f->sent, first + i);

    g_assert_true (g_bytes_equal (got, sent));
  }
}

/* ---- fixture ---------------------------------------------------------------------------- */

/* Fixture data: the camera does not know its media when it starts. */
#define NO_MEDIA_YET ((gconstpointer) "no media yet")
/* Fixture data: the test starts the camera (camera_start()). */
#define CAMERA_LATER ((gconstpointer) "camera later")

static void
camera_set_media (Fixture *f)
{
  icecam_camera_endpoint_set_media (f->camera, "video", 96, "H264/90000",
                                    "packetization-mode=1;profile-level-id=42c01e", 0x1234);
}

static void
camera_start (Fixture *f)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (icecam_camera_endpoint_start (f->camera, &error));
  g_assert_no_error (error);
  g_assert_true (WAIT_UNTIL (icecam_test_rendezvous_get_stats (f->rendezvous).cameras == 1));
  /* The server counts the camera when it sends the welcome; the camera is ready once it has
   * read it (the rendezvous's sockets may be served first: icecam-ws-stream.c). */
  g_assert_true (WAIT_UNTIL (icecam_camera_endpoint_get_signalling_state (f->camera) ==
                             ICECAM_SIGNALLING_STATE_READY));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->rendezvous = icecam_test_rendezvous_new (0, TRUE, &error);
  g_assert_no_error (error);
  f->url = g_strdup_printf ("ws://127.0.0.1:%u", icecam_rendezvous_get_port (f->rendezvous));
  /* Nothing chosen by the user: with a rendezvous on loopback the endpoints gather on
   * 127.0.0.1 only (icecam_ice_config_for_session()). */
  f->config = icecam_ice_config_new ();
  f->started = g_ptr_array_new_with_free_func (g_free);
  f->ended = g_ptr_array_new_with_free_func ((GDestroyNotify) ended_session_free);
  f->keyframe_requests = g_array_new (FALSE, FALSE, sizeof (gint64));
  f->sent = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  f->seq = 1000;

  f->camera = icecam_camera_endpoint_new (f->url, CAMERA_ID, f->config, &error);
  g_assert_no_error (error);
  if (data != NO_MEDIA_YET)
    camera_set_media (f);
  g_signal_connect (f->camera, "session-started", G_CALLBACK (on_camera_session_started), f);
  g_signal_connect (f->camera, "session-ended", G_CALLBACK (on_camera_session_ended), f);
  g_signal_connect (f->camera, "pair-selected", G_CALLBACK (on_camera_pair_selected), f);
  g_signal_connect (f->camera, "keyframe-requested",
                    G_CALLBACK (on_camera_keyframe_requested), f);
  if (data != CAMERA_LATER)
    camera_start (f);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  for (guint i = 0; i < N_VIEWERS; i++) {
    Viewer *v = &f->viewers[i];

    if (v->endpoint == NULL)
      continue;
    if (!v->closed)
      viewer_close (v);
    g_assert_finalize_object (v->endpoint);
    g_string_free (v->states, TRUE);
    g_ptr_array_unref (v->received);
    g_free (v->media);
  }
  if (!f->camera_closed)
    camera_close (f);
  g_assert_cmpuint (icecam_camera_endpoint_get_n_viewers (f->camera), ==, 0);
  g_assert_finalize_object (f->camera);
  icecam_test_rendezvous_finalize (f->rendezvous);
  icecam_ice_config_free (f->config);
  g_ptr_array_unref (f->started);
  g_ptr_array_unref (f->ended);
  g_array_unref (f->keyframe_requests);
  g_ptr_array_unref (f->sent);
  g_free (f->url);
}

/* ---- tests ------------------------------------------------------------------------------ */

static const guint8 slices[] = { NAL_SLICE, NAL_SLICE, NAL_SLICE };
/* A keyframe as rtph264pay sends it with config-interval=-1: SPS, then the IDR slice. */
static const guint8 keyframe[] = { NAL_SPS, NAL_IDR, NAL_SLICE };

/* A viewer watches: it plays on a loopback pair, and its stream starts at the first keyframe
 * the camera sends after it joined, whatever came before. */
static void
test_watch (Fixture *f, gconstpointer data)
{
  Viewer *v = viewer_start (f, &f->viewers[0], CAMERA_ID, NULL);
  const guint8 mixed[] = { NAL_SLICE, NAL_IDR, NAL_SLICE };
  g_autoptr (IcecamPairInfo) pair = NULL;
  IcecamIceStats stats;
  guint first;

  viewer_wait_playing (f, v, 1);
  g_assert_cmpstr (v->states->str, ==, "connecting waiting checking playing");
  g_assert_cmpstr (v->media, ==, "video 96 H264/90000 level-asymmetry-allowed=1;"
                   "packetization-mode=1;profile-level-id=42c01e");
  g_assert_cmpuint (v->pairs_selected, >=, 1);
  g_assert_cmpuint (f->camera_pairs_selected, >=, 1);
  pair = icecam_viewer_endpoint_get_pair_info (v->endpoint);
  g_assert_nonnull (pair);
  g_assert_cmpstr (pair->transport, ==, "udp");
  g_assert_true (g_str_has_prefix (pair->remote_address, "127.0.0.1:"));
  g_assert_cmpuint (f->started->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (f->started, 0), ==,
                   icecam_viewer_endpoint_get_session_id (v->endpoint));

  /* The tail of a picture the viewer cannot decode: not sent to it. */
  camera_send (f, slices, G_N_ELEMENTS (slices), 1);
  /* Its stream starts at the IDR slice in the middle of this batch. */
  first = f->sent->len + 1;
  camera_send (f, mixed, G_N_ELEMENTS (mixed), 1);
  camera_send (f, slices, G_N_ELEMENTS (slices), 1);
  viewer_assert_received_from (f, v, first);

  g_assert_true (icecam_viewer_endpoint_get_stats (v->endpoint, &stats));
  g_assert_cmpuint (stats.packets_received, >=, f->sent->len - first);
  g_assert_cmpuint (f->ended->len, ==, 0);
}

/* A viewer that comes before the camera knows its media waits for the offer, which goes
 * out once the media is set. */
static void
test_watch_media_later (Fixture *f, gconstpointer data)
{
  Viewer *v = viewer_start (f, &f->viewers[0], CAMERA_ID, NULL);

  g_assert_true (WAIT_UNTIL (f->started->len == 1));
  g_assert_false (WAIT_UNTIL_FOR (viewer_state (v) != ICECAM_VIEWER_STATE_WAITING, 0.3));
  g_assert_null (v->media);
  camera_set_media (f);
  viewer_wait_playing (f, v, 1);
  g_assert_cmpstr (v->media, ==, "video 96 H264/90000 level-asymmetry-allowed=1;"
                   "packetization-mode=1;profile-level-id=42c01e");
  camera_send (f, keyframe, G_N_ELEMENTS (keyframe), 1);
  viewer_assert_received_from (f, v, 0);
}

/* Caps without the H.264 profile: the offer waits for the first SPS the camera sends and
 * states its profile-level-id (profile_idc, constraint flags, level_idc). */
static void
test_watch_profile_from_stream (Fixture *f, gconstpointer data)
{
  const guint8 sps[] = { NAL_SPS };
  Viewer *v = viewer_start (f, &f->viewers[0], CAMERA_ID, NULL);
  g_autofree gchar *expected = NULL;
  const guint8 *packet;

  icecam_camera_endpoint_set_media (f->camera, "video", 96, "H264/90000", "packetization-mode=1",
                                    0x1234);
  g_assert_true (WAIT_UNTIL (f->started->len == 1));
  g_assert_false (WAIT_UNTIL_FOR (viewer_state (v) != ICECAM_VIEWER_STATE_WAITING, 0.3));
  camera_send (f, sps, 1, 0);
  packet = g_bytes_get_data (g_ptr_array_index (f->sent, 0), NULL);
  expected = g_strdup_printf ("video 96 H264/90000 level-asymmetry-allowed=1;packetization-mode=1;"
                              "profile-level-id=%02x%02x%02x", packet[RTP_HEADER_SIZE + 1],
                              packet[RTP_HEADER_SIZE + 2], packet[RTP_HEADER_SIZE + 3]);
  viewer_wait_playing (f, v, 1);
  g_assert_cmpstr (v->media, ==, expected);
}

/* The viewer pins the certificate the camera really has: it plays. */
static void
test_fingerprint_pinned (Fixture *f, gconstpointer data)
{
  IcecamCertificate *certificate = icecam_camera_endpoint_get_certificate (f->camera);
  Viewer *v = viewer_start (f, &f->viewers[0], CAMERA_ID,
                            icecam_certificate_get_fingerprint (certificate));
  guint first = f->sent->len;

  viewer_wait_playing (f, v, 1);
  camera_send (f, keyframe, G_N_ELEMENTS (keyframe), 1);
  viewer_assert_received_from (f, v, first);
}

/* The viewer pins another certificate than the camera's: it refuses the offer, receives
 * nothing, and the camera frees that session. */
static void
test_fingerprint_wrong (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  IcecamCertificate *other = icecam_certificate_new_ephemeral (&error);
  Viewer *v;
  const EndedSession *ended;

  g_assert_no_error (error);
  v = viewer_start (f, &f->viewers[0], CAMERA_ID, icecam_certificate_get_fingerprint (other));
  viewer_wait_failed (v, ICECAM_VIEWER_ERROR_DTLS, "is not the one expected");
  g_assert_cmpuint (f->started->len, ==, 1);
  g_assert_true (WAIT_UNTIL (f->ended->len == 1));
  ended = find_ended (f, icecam_viewer_endpoint_get_session_id (v->endpoint));
  g_assert_nonnull (ended);
  g_assert_nonnull (strstr (ended->reason, "is not the one expected"));
  g_assert_cmpuint (camera_n_sessions (f), ==, 0);

  /* Nothing reaches it, nor could have: the camera never had it in its fan-out. */
  camera_send (f, keyframe, G_N_ELEMENTS (keyframe), 0);
  g_assert_cmpuint (v->received->len, ==, 0);
  g_assert_cmpuint (f->camera_pairs_selected, ==, 0);
  g_assert_finalize_object (other);
}

/* A join asks for a keyframe; so does the viewer's PLI. Requests closer together than 200 ms
 * give one signal at once and one deferred: merged, never lost. */
static void
test_keyframe_requests (Fixture *f, gconstpointer data)
{
  Viewer *v = viewer_start (f, &f->viewers[0], CAMERA_ID, NULL);
  gint64 joined, asked;
  gint64 *at;

  viewer_wait_playing (f, v, 1);
  g_assert_cmpuint (f->keyframe_requests->len, ==, 1);

  /* A PLI names the camera's SSRC: the viewer learns it from the first packet. */
  camera_send (f, keyframe, G_N_ELEMENTS (keyframe), 1);
  viewer_assert_received_from (f, v, 0);

  /* Once the merge window of the join is over, a PLI is passed on at once... */
  joined = g_array_index (f->keyframe_requests, gint64, 0);
  g_assert_true (WAIT_UNTIL (g_get_monotonic_time () - joined > KEYFRAME_MIN_INTERVAL_US));
  icecam_viewer_endpoint_request_keyframe (f->viewers[0].endpoint);
  g_assert_true (WAIT_UNTIL (f->keyframe_requests->len == 2));

  /* ...and two more within 200 ms of it are one more signal, 200 ms after it. */
  asked = g_get_monotonic_time ();
  at = &g_array_index (f->keyframe_requests, gint64, 0);
  if (asked - at[1] >= KEYFRAME_MIN_INTERVAL_US / 2) {
    g_test_skip ("the machine is too slow to ask again within the merge window");
    return;
  }
  icecam_viewer_endpoint_request_keyframe (f->viewers[0].endpoint);
  icecam_viewer_endpoint_request_keyframe (f->viewers[0].endpoint);
  g_assert_true (WAIT_UNTIL (f->keyframe_requests->len == 3));
  at = &g_array_index (f->keyframe_requests, gint64, 0);
  g_test_message ("keyframe requests at +%" G_GINT64_FORMAT " ms, +%" G_GINT64_FORMAT " ms",
                  (at[1] - at[0]) / 1000, (at[2] - at[0]) / 1000);
  /* The handler reads its clock after the emission: a thread preempted between the two (a
   * busy machine) shortens the gap measured here by as much. Merged requests come 200 ms
   * apart, unmerged ones at once. */
  g_assert_cmpint (at[2] - at[1], >=, KEYFRAME_MIN_INTERVAL_US - 2 * G_TIME_SPAN_MILLISECOND);
  g_assert_false (WAIT_UNTIL_FOR (f->keyframe_requests->len > 3, 0.4));
}

/* Two viewers at once: each stream starts at a keyframe after its own join, both receive
 * every packet after that, and the camera's counters agree. */
static void
test_two_viewers (Fixture *f, gconstpointer data)
{
  Viewer *a = viewer_start (f, &f->viewers[0], CAMERA_ID, NULL);
  Viewer *b;
  g_autoptr (GPtrArray) stats = NULL;
  guint a_first = f->sent->len, b_first;

  viewer_wait_playing (f, a, 1);
  camera_send (f, keyframe, G_N_ELEMENTS (keyframe), 1);

  b = viewer_start (f, &f->viewers[1], CAMERA_ID, NULL);
  viewer_wait_playing (f, b, 2);
  g_assert_cmpuint (f->keyframe_requests->len, >=, 1);
  camera_send (f, slices, G_N_ELEMENTS (slices), 2);
  b_first = f->sent->len;
  camera_send (f, keyframe, G_N_ELEMENTS (keyframe), 2);
  viewer_assert_received_from (f, a, a_first);
  viewer_assert_received_from (f, b, b_first);
  g_assert_cmpstr (icecam_viewer_endpoint_get_session_id (a->endpoint), !=,
                   icecam_viewer_endpoint_get_session_id (b->endpoint));

  g_assert_cmpuint (icecam_camera_endpoint_get_n_viewers (f->camera), ==, 2);
  stats = icecam_camera_endpoint_get_stats (f->camera);
  g_assert_cmpuint (stats->len, ==, 2);
  for (guint i = 0; i < stats->len; i++) {
    IcecamSessionStats *s = g_ptr_array_index (stats, i);
    Viewer *v = g_strcmp0 (s->session, icecam_viewer_endpoint_get_session_id (a->endpoint)) == 0
                  ? a : b;

    g_assert_cmpstr (s->session, ==, icecam_viewer_endpoint_get_session_id (v->endpoint));
    g_assert_nonnull (s->viewer);
    g_assert_cmpint (s->state, ==, ICECAM_ICE_STATE_CONNECTED);
    g_assert_nonnull (s->pair);
    g_assert_cmpstr (s->pair->local_type, ==, "host");
    /* DTLS and media: at least every packet this viewer received. */
    g_assert_cmpuint (s->ice.packets_sent, >=, v->received->len);
    g_assert_cmpuint (s->ice.packets_dropped, ==, 0);
  }
  g_clear_pointer (&stats, g_ptr_array_unref);

  /* One leaves: the other is undisturbed. */
  viewer_close (a);
  g_assert_true (WAIT_UNTIL (f->ended->len == 1));
  g_assert_cmpuint (icecam_camera_endpoint_get_n_viewers (f->camera), ==, 1);
  stats = icecam_camera_endpoint_get_stats (f->camera);
  g_assert_cmpuint (stats->len, ==, 1);
  g_assert_cmpstr (((IcecamSessionStats *) g_ptr_array_index (stats, 0))->session, ==,
                   icecam_viewer_endpoint_get_session_id (b->endpoint));
  camera_send (f, slices, G_N_ELEMENTS (slices), 1);
  viewer_assert_received_from (f, b, b_first);
}

/* With room for one viewer, a second is refused with `bye` code full; the first plays on. */
static void
test_max_viewers (Fixture *f, gconstpointer data)
{
  Viewer *a, *b;
  guint a_first = f->sent->len;

  icecam_camera_endpoint_set_max_viewers (f->camera, 1);
  a = viewer_start (f, &f->viewers[0], CAMERA_ID, NULL);
  viewer_wait_playing (f, a, 1);
  camera_send (f, keyframe, G_N_ELEMENTS (keyframe), 1);

  b = viewer_start (f, &f->viewers[1], CAMERA_ID, NULL);
  viewer_wait_failed (b, ICECAM_VIEWER_ERROR_REFUSED, "camera is full");
  g_assert_cmpuint (b->received->len, ==, 0);
  g_assert_cmpuint (b->pairs_selected, ==, 0);
  /* The camera never made a session for it. */
  g_assert_cmpuint (f->started->len, ==, 1);
  g_assert_cmpuint (f->ended->len, ==, 0);

  g_assert_cmpint (viewer_state (a), ==, ICECAM_VIEWER_STATE_PLAYING);
  g_assert_cmpuint (icecam_camera_endpoint_get_n_viewers (f->camera), ==, 1);
  camera_send (f, slices, G_N_ELEMENTS (slices), 1);
  viewer_assert_received_from (f, a, a_first);
  g_assert_cmpuint (icecam_test_rendezvous_get_stats (f->rendezvous).sessions, ==, 1);
}

/* A viewer that leaves ends its session at the camera, with the reason. */
static void
test_viewer_closes (Fixture *f, gconstpointer data)
{
  Viewer *v = viewer_start (f, &f->viewers[0], CAMERA_ID, NULL);
  g_autofree gchar *session = NULL;
  const EndedSession *ended;

  viewer_wait_playing (f, v, 1);
  session = g_strdup (icecam_viewer_endpoint_get_session_id (v->endpoint));
  viewer_close (v);
  g_assert_null (icecam_viewer_endpoint_get_error (v->endpoint));
  g_assert_true (WAIT_UNTIL (f->ended->len == 1));
  ended = find_ended (f, session);
  g_assert_nonnull (ended);
  /* Whichever the camera hears first: the viewer's bye or its DTLS close_notify. */
  if (g_strcmp0 (ended->reason, "viewer left") != 0 &&
      g_strcmp0 (ended->reason, "the peer closed DTLS") != 0)
    g_error ("unexpected reason '%s'", ended->reason);
  g_assert_cmpuint (icecam_camera_endpoint_get_n_viewers (f->camera), ==, 0);
  g_assert_cmpuint (camera_n_sessions (f), ==, 0);
  g_assert_true (WAIT_UNTIL (icecam_test_rendezvous_get_stats (f->rendezvous).sessions == 0));
  camera_send (f, keyframe, G_N_ELEMENTS (keyframe), 0);
}

/* A camera that stops ends its viewers' sessions. */
static void
test_camera_closes (Fixture *f, gconstpointer data)
{
  Viewer *v = viewer_start (f, &f->viewers[0], CAMERA_ID, NULL);
  const EndedSession *ended;

  viewer_wait_playing (f, v, 1);
  camera_close (f);
  g_assert_cmpuint (f->ended->len, ==, 1);
  ended = g_ptr_array_index (f->ended, 0);
  g_assert_cmpstr (ended->session, ==, icecam_viewer_endpoint_get_session_id (v->endpoint));
  g_assert_cmpstr (ended->reason, ==, "camera stopped");
  g_assert_cmpint (icecam_camera_endpoint_get_signalling_state (f->camera), ==,
                   ICECAM_SIGNALLING_STATE_CLOSED);
  viewer_wait_failed (v, ICECAM_VIEWER_ERROR_ENDED, "camera '" CAMERA_ID "' ended the session");
}

/* A viewer closed before it reached the rendezvous: nothing to end at the camera. */
static void
test_viewer_closes_connecting (Fixture *f, gconstpointer data)
{
  Viewer *v = viewer_start (f, &f->viewers[0], CAMERA_ID, NULL);

  g_assert_cmpint (viewer_state (v), ==, ICECAM_VIEWER_STATE_CONNECTING);
  viewer_close (v);
  g_assert_null (icecam_viewer_endpoint_get_error (v->endpoint));
  g_assert_cmpstr (v->states->str, ==, "connecting closed");
  g_assert_false (WAIT_UNTIL_FOR (f->started->len > 0, 0.3));
  g_assert_cmpuint (icecam_test_rendezvous_get_stats (f->rendezvous).viewers, ==, 0);
}

static void
test_unknown_camera (Fixture *f, gconstpointer data)
{
  Viewer *v = viewer_start (f, &f->viewers[0], "backdoor", NULL);

  /* The error names the cameras online (this viewer may see every camera). */
  viewer_wait_failed (v, ICECAM_VIEWER_ERROR_UNKNOWN_CAMERA,
                      "camera 'backdoor' is not online; online: " CAMERA_ID);
  g_assert_null (icecam_viewer_endpoint_get_session_id (v->endpoint));
  g_assert_cmpuint (f->started->len, ==, 0);
}

/* A viewer told to wait for a camera that is not online stays connected, and watches it as
 * soon as the rendezvous lists it. */
static void
test_wait_for_camera (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Viewer *v = &f->viewers[0];

  v->endpoint = icecam_viewer_endpoint_new (f->url, CAMERA_ID, f->config, &error);
  g_assert_no_error (error);
  icecam_viewer_endpoint_set_wait (v->endpoint, TRUE);
  v->states = g_string_new (NULL);
  v->received = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_signal_connect (v->endpoint, "state-changed", G_CALLBACK (on_viewer_state_changed), v);
  g_signal_connect (v->endpoint, "media", G_CALLBACK (on_viewer_media), v);
  icecam_viewer_endpoint_set_receive_func (v->endpoint, viewer_receive, v, NULL);
  icecam_viewer_endpoint_start (v->endpoint);

  g_assert_true (WAIT_UNTIL (viewer_state (v) == ICECAM_VIEWER_STATE_WAITING));
  /* Refused as unknown meanwhile, but waiting, not failed. */
  g_assert_false (WAIT_UNTIL_FOR (viewer_state (v) != ICECAM_VIEWER_STATE_WAITING, 0.5));
  g_assert_null (icecam_viewer_endpoint_get_error (v->endpoint));
  camera_start (f);
  viewer_wait_playing (f, v, 1);
  g_assert_cmpstr (v->states->str, ==, "connecting waiting checking playing");
  camera_send (f, keyframe, G_N_ELEMENTS (keyframe), 1);
  viewer_assert_received_from (f, v, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_writer_default_set_use_stderr (TRUE);

#define ADD(path, func) \
  g_test_add ("/endpoints/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("watch/starts-at-keyframe", test_watch);
  g_test_add ("/endpoints/watch/media-later", Fixture, NO_MEDIA_YET, fixture_setup,
              test_watch_media_later, fixture_teardown);
  g_test_add ("/endpoints/watch/profile-from-stream", Fixture, NO_MEDIA_YET, fixture_setup,
              test_watch_profile_from_stream, fixture_teardown);
  ADD ("fingerprint/pinned", test_fingerprint_pinned);
  ADD ("fingerprint/wrong", test_fingerprint_wrong);
  ADD ("keyframe/requests-merged", test_keyframe_requests);
  ADD ("fan-out/two-viewers", test_two_viewers);
  ADD ("admission/max-viewers", test_max_viewers);
  ADD ("close/viewer", test_viewer_closes);
  ADD ("close/camera", test_camera_closes);
  ADD ("close/viewer-while-connecting", test_viewer_closes_connecting);
  ADD ("watch/unknown-camera", test_unknown_camera);
  g_test_add ("/endpoints/watch/wait-for-camera", Fixture, CAMERA_LATER, fixture_setup,
              test_wait_for_camera, fixture_teardown);
#undef ADD
  return g_test_run ();
}
