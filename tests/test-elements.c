/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsink and icecamsrc end to end on loopback, through an in-process rendezvous. */

#include <gst/gst.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>
#include <errno.h>
#include <glib-unix.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "icecam-admission.h"
#include "icecam-rendezvous.h"
#include "icecam-token.h"
#include "icecam-test-util.h"

#define GOP_SECONDS 10
#define FPS 30

/* One pipeline and what was seen in it; fields written by streaming threads are guarded. */
typedef struct {
  GstElement *pipeline;
  GMutex lock;
  gint frames;
  gint64 first_frame_us;
  GPtrArray *keyframe_times_us; /* camera: when the encoder produced each keyframe */
  gchar *local_type, *remote_type;
  guint pairs;
  GError *error;
  gchar *error_debug;
} Run;

typedef struct {
  IcecamRendezvous *rendezvous;
  gchar *url;
  Run camera;
  Run viewers[2];
} Fixture;

static gboolean
on_bus_message (GstBus *bus, GstMessage *msg, gpointer data)
{
  Run *run = data;
  const GstStructure *s = gst_message_get_structure (msg);

  g_mutex_lock (&run->lock);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR && run->error == NULL) {
    gst_message_parse_error (msg, &run->error, &run->error_debug);
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT &&
             gst_structure_has_name (s, "icecam-pair-selected")) {
    g_free (run->local_type);
    g_free (run->remote_type);
    run->local_type = g_strdup (gst_structure_get_string (s, "local-type"));
    run->remote_type = g_strdup (gst_structure_get_string (s, "remote-type"));
    run->pairs++;
  }
  g_mutex_unlock (&run->lock);
  return G_SOURCE_CONTINUE;
}

static GstPadProbeReturn
on_decoded (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Run *run = data;

  g_mutex_lock (&run->lock);
  if (run->frames++ == 0)
    run->first_frame_us = g_get_monotonic_time ();
  g_mutex_unlock (&run->lock);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_encoded (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Run *run = data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);

  if (!GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT)) {
    g_mutex_lock (&run->lock);
    g_ptr_array_add (run->keyframe_times_us, g_memdup2 (&(gint64) { g_get_monotonic_time () },
                                                        sizeof (gint64)));
    g_mutex_unlock (&run->lock);
  }
  return GST_PAD_PROBE_OK;
}

static void
run_start (Run *run, const gchar *description, const gchar *probe_element,
           GstPadProbeCallback probe)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstBus) bus = NULL;
  g_autoptr (GstElement) element = NULL;
  g_autoptr (GstPad) pad = NULL;

  g_mutex_init (&run->lock);
  run->keyframe_times_us = g_ptr_array_new_with_free_func (g_free);
  run->pipeline = gst_parse_launch (description, &error);
  g_assert_no_error (error);
  bus = gst_element_get_bus (run->pipeline);
  gst_bus_add_watch (bus, on_bus_message, run);
  element = gst_bin_get_by_name (GST_BIN (run->pipeline), probe_element);
  pad = gst_element_get_static_pad (element, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, probe, run, NULL);
  g_assert_cmpint (gst_element_set_state (run->pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
}

static void
run_stop (Run *run)
{
  g_autoptr (GstBus) bus = NULL;

  if (run->pipeline == NULL)
    return;
  bus = gst_element_get_bus (run->pipeline);
  gst_element_set_state (run->pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  gst_bus_set_flushing (bus, TRUE);
  g_assert_finalize_object (run->pipeline);
  g_ptr_array_unref (run->keyframe_times_us);
  g_free (run->local_type);
  g_free (run->remote_type);
  g_clear_error (&run->error);
  g_free (run->error_debug);
  g_mutex_clear (&run->lock);
}

static gint
run_frames (Run *run)
{
  gint frames;

  g_mutex_lock (&run->lock);
  frames = run->frames;
  g_mutex_unlock (&run->lock);
  return frames;
}

static gboolean
run_failed (Run *run)
{
  gboolean failed;

  g_mutex_lock (&run->lock);
  failed = run->error != NULL;
  g_mutex_unlock (&run->lock);
  return failed;
}

static guint
camera_count (Fixture *f)
{
  IcecamRegistryStats stats;

  icecam_registry_get_stats (icecam_rendezvous_get_registry (f->rendezvous), &stats);
  return stats.cameras;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *camera = NULL;

  f->rendezvous = icecam_rendezvous_new ();
  g_assert_true (icecam_rendezvous_listen (f->rendezvous, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  f->url = g_strdup_printf ("ws://127.0.0.1:%u", icecam_rendezvous_get_port (f->rendezvous));

  camera = g_strdup_printf (
      "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=%d/1 "
      "! x264enc name=enc tune=zerolatency speed-preset=ultrafast key-int-max=%d "
      "! rtph264pay config-interval=-1 aggregate-mode=zero-latency "
      "! icecamsink name=sink server=%s camera-id=frontdoor", FPS, FPS * GOP_SECONDS, f->url);
  run_start (&f->camera, camera, "enc", on_encoded);
  g_assert_true (WAIT_UNTIL (camera_count (f) == 1 || run_failed (&f->camera)));
  g_assert_false (run_failed (&f->camera));
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  run_stop (&f->viewers[1]);
  run_stop (&f->viewers[0]);
  run_stop (&f->camera);
  g_assert_true (WAIT_UNTIL (camera_count (f) == 0));
  g_assert_finalize_object (f->rendezvous);
  g_free (f->url);
}

static void
start_viewer (Fixture *f, Run *run, const gchar *camera_id)
{
  g_autofree gchar *viewer = g_strdup_printf (
      "icecamsrc server=%s camera-id=%s ! rtph264depay name=depay request-keyframe=true "
      "! avdec_h264 name=dec ! fakesink sync=false", f->url, camera_id);

  run_start (run, viewer, "dec", on_decoded);
}

static guint
keyframes_between (Run *camera, gint64 from_us, gint64 to_us)
{
  guint n = 0;

  g_mutex_lock (&camera->lock);
  for (guint i = 0; i < camera->keyframe_times_us->len; i++) {
    gint64 t = *(gint64 *) g_ptr_array_index (camera->keyframe_times_us, i);

    if (t >= from_us && t <= to_us)
      n++;
  }
  g_mutex_unlock (&camera->lock);
  return n;
}

/* Two viewers join at different times; each decodes, each has a host pair, and the late one
 * does not wait for the next scheduled keyframe (10 s away) because the sink forces one. */
static void
test_two_viewers (Fixture *f, gconstpointer data)
{
  gint64 camera_start = g_get_monotonic_time ();
  gint64 join_us, first_us;
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstStructure) stats = NULL;
  guint viewers = 0;

  start_viewer (f, &f->viewers[0], "frontdoor");
  g_assert_true (WAIT_UNTIL (run_frames (&f->viewers[0]) >= 30 || run_failed (&f->viewers[0])));
  g_assert_false (run_failed (&f->viewers[0]));
  g_assert_cmpstr (f->viewers[0].local_type, ==, "host");
  g_assert_cmpstr (f->viewers[0].remote_type, ==, "host");

  /* The second viewer joins mid-GOP, after the first one's 30 frames. */
  join_us = g_get_monotonic_time ();
  start_viewer (f, &f->viewers[1], "frontdoor");
  g_assert_true (WAIT_UNTIL (run_frames (&f->viewers[1]) >= 30 || run_failed (&f->viewers[1])));
  g_assert_false (run_failed (&f->viewers[1]));
  g_assert_cmpstr (f->viewers[1].local_type, ==, "host");
  g_assert_cmpstr (f->viewers[1].remote_type, ==, "host");

  first_us = f->viewers[1].first_frame_us;
  g_test_message ("late viewer: first frame %.1f ms after it started, %.1f s into the GOP",
                  (first_us - join_us) / 1000.0, (join_us - camera_start) / 1e6);
  /* The next scheduled keyframe is GOP_SECONDS after the camera's first; the late viewer's
   * first frame must come from a keyframe forced for it, long before that. */
  g_assert_cmpint (first_us - join_us, <, 3 * G_TIME_SPAN_SECOND);
  g_assert_cmpint (first_us - camera_start, <, (GOP_SECONDS - 2) * G_TIME_SPAN_SECOND);
  g_assert_cmpuint (keyframes_between (&f->camera, join_us, first_us), >=, 1);

  /* Both viewers are counted in the sink's stats, with their pair types. */
  sink = gst_bin_get_by_name (GST_BIN (f->camera.pipeline), "sink");
  g_object_get (sink, "stats", &stats, NULL);
  g_assert_true (gst_structure_get_uint (stats, "viewers", &viewers));
  g_assert_cmpuint (viewers, ==, 2);
  g_assert_cmpuint (gst_value_list_get_size (gst_structure_get_value (stats, "sessions")), ==, 2);
}

/* A force-key-unit event sent upstream in the viewer's pipeline (what a depayloader does
 * after loss) travels to the camera as RTCP PLI and makes its encoder produce a keyframe. */
static void
test_viewer_keyframe_request (Fixture *f, gconstpointer data)
{
  g_autoptr (GstElement) depay = NULL;
  g_autoptr (GstPad) pad = NULL;
  gint64 asked_us;
  guint before;

  start_viewer (f, &f->viewers[0], "frontdoor");
  g_assert_true (WAIT_UNTIL (run_frames (&f->viewers[0]) >= 10 || run_failed (&f->viewers[0])));
  g_assert_false (run_failed (&f->viewers[0]));
  /* The join keyframe is behind us; the next scheduled one is seconds away. Ask twice with a
   * pause between so that the camera's 200 ms merging of requests cannot hide the second. */
  g_assert_true (WAIT_UNTIL (run_frames (&f->viewers[0]) >= 20));
  asked_us = g_get_monotonic_time ();
  before = keyframes_between (&f->camera, asked_us, G_MAXINT64);
  g_assert_cmpuint (before, ==, 0);

  depay = gst_bin_get_by_name (GST_BIN (f->viewers[0].pipeline), "depay");
  pad = gst_element_get_static_pad (depay, "src");
  g_assert_true (gst_pad_send_event (pad, gst_video_event_new_upstream_force_key_unit (
                                                GST_CLOCK_TIME_NONE, TRUE, 1)));
  g_assert_true (WAIT_UNTIL_FOR (keyframes_between (&f->camera, asked_us, G_MAXINT64) >= 1, 3));
  g_test_message ("keyframe %.1f ms after the viewer asked",
                  (*(gint64 *) g_ptr_array_index (f->camera.keyframe_times_us,
                                                  f->camera.keyframe_times_us->len - 1) -
                   asked_us) / 1000.0);
}

static void
test_unknown_camera (Fixture *f, gconstpointer data)
{
  start_viewer (f, &f->viewers[0], "backyard");
  g_assert_true (WAIT_UNTIL (run_failed (&f->viewers[0])));
  g_assert_error (f->viewers[0].error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (f->viewers[0].error->message, "backyard"));
  g_assert_cmpint (run_frames (&f->viewers[0]), ==, 0);
}

static void
test_server_unreachable (Fixture *f, gconstpointer data)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *description = NULL;
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, &error);

  /* A port that was free a moment ago and is closed now: nothing listens there. */
  g_socket_listener_close (listener);
  description = g_strdup_printf ("icecamsrc server=ws://127.0.0.1:%u camera-id=frontdoor "
                                 "! rtph264depay ! avdec_h264 name=dec ! fakesink", port);
  run_start (&f->viewers[0], description, "dec", on_decoded);
  g_assert_true (WAIT_UNTIL (run_failed (&f->viewers[0])));
  g_assert_error (f->viewers[0].error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ);
  g_assert_nonnull (strstr (f->viewers[0].error->message, "cannot reach the rendezvous"));
}

/* ---- access control ----------------------------------------------------------------------- */

typedef struct {
  IcecamRendezvous *rendezvous;
  gchar *url;
  gchar *secret_path;
  Run camera;
  Run viewer;
} AuthFixture;

static void
auth_setup (AuthFixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GHashTable) secrets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree gchar *camera = NULL;
  gint fd;

  f->rendezvous = icecam_rendezvous_new ();
  g_hash_table_insert (secrets, g_strdup ("frontdoor"), g_strdup ("door-secret"));
  icecam_registry_set_camera_secrets (icecam_rendezvous_get_registry (f->rendezvous), secrets);
  icecam_registry_set_token_key (icecam_rendezvous_get_registry (f->rendezvous), "token-key");
  g_assert_true (icecam_rendezvous_listen (f->rendezvous, "127.0.0.1", 0, &error));
  f->url = g_strdup_printf ("ws://127.0.0.1:%u", icecam_rendezvous_get_port (f->rendezvous));

  fd = g_file_open_tmp ("icecam-secret-XXXXXX", &f->secret_path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (write (fd, "door-secret\n", 12), ==, 12);
  close (fd);
  camera = g_strdup_printf (
      "videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 "
      "! x264enc name=enc tune=zerolatency speed-preset=ultrafast key-int-max=300 "
      "! rtph264pay config-interval=-1 ! icecamsink name=sink server=%s camera-id=frontdoor "
      "secret-file=%s", f->url, f->secret_path);
  run_start (&f->camera, camera, "enc", on_encoded);
}

static void
auth_teardown (AuthFixture *f, gconstpointer data)
{
  run_stop (&f->viewer);
  run_stop (&f->camera);
  g_assert_finalize_object (f->rendezvous);
  g_unlink (f->secret_path);
  g_free (f->secret_path);
  g_free (f->url);
}

static guint
auth_cameras (AuthFixture *f)
{
  IcecamRegistryStats stats;

  icecam_registry_get_stats (icecam_rendezvous_get_registry (f->rendezvous), &stats);
  return stats.cameras;
}

static guint
sink_sessions (Run *camera)
{
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (camera->pipeline), "sink");
  g_autoptr (GstStructure) stats = NULL;

  g_object_get (sink, "stats", &stats, NULL);
  return gst_value_list_get_size (gst_structure_get_value (stats, "sessions"));
}

static void
start_viewer_with_token (AuthFixture *f, const gchar *token)
{
  g_autofree gchar *with_token = token ? g_strdup_printf ("token=%s", token) : g_strdup ("");
  g_autofree gchar *viewer = g_strdup_printf (
      "icecamsrc server=%s camera-id=frontdoor %s ! rtph264depay "
      "! avdec_h264 name=dec ! fakesink sync=false", f->url, with_token);

  run_start (&f->viewer, viewer, "dec", on_decoded);
}

/* A viewer whose token is @case_data: refused, no frames, and the camera saw no session. */
static void
test_auth_refused (AuthFixture *f, gconstpointer data)
{
  const gchar *which = data;
  const gchar *door[] = { "frontdoor", NULL };
  const gchar *garage[] = { "garage", NULL };
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autofree gchar *token = NULL;
  const gchar *expected;

  if (g_str_equal (which, "none")) {
    expected = "needs a token";
  } else if (g_str_equal (which, "forged")) {
    token = icecam_token_mint ("guessed-key", door, now + 600);
    expected = "signature";
  } else if (g_str_equal (which, "expired")) {
    token = icecam_token_mint ("token-key", door, now - 1);
    expected = "expired";
  } else {
    token = icecam_token_mint ("token-key", garage, now + 600);
    expected = "does not grant camera 'frontdoor'";
  }
  g_assert_true (WAIT_UNTIL (auth_cameras (f) == 1 || run_failed (&f->camera)));
  g_assert_false (run_failed (&f->camera));
  start_viewer_with_token (f, token);
  g_assert_true (WAIT_UNTIL (run_failed (&f->viewer)));
  g_test_message ("refused: %s", f->viewer.error->message);
  g_assert_nonnull (strstr (f->viewer.error->message, "unauthorized"));
  g_assert_nonnull (strstr (f->viewer.error->message, expected));
  g_assert_cmpint (run_frames (&f->viewer), ==, 0);
  g_assert_cmpuint (sink_sessions (&f->camera), ==, 0);
}

static void
test_auth_granted (AuthFixture *f, gconstpointer data)
{
  const gchar *door[] = { "frontdoor", NULL };
  g_autofree gchar *token = icecam_token_mint ("token-key", door,
                                               g_get_real_time () / G_USEC_PER_SEC + 600);

  g_assert_true (WAIT_UNTIL (auth_cameras (f) == 1 || run_failed (&f->camera)));
  start_viewer_with_token (f, token);
  g_assert_true (WAIT_UNTIL (run_frames (&f->viewer) >= 10 || run_failed (&f->viewer)));
  g_assert_false (run_failed (&f->viewer));
}

/* A camera with the wrong secret is refused and stays unlisted. */
static void
test_auth_camera_wrong_secret (AuthFixture *f, gconstpointer data)
{
  Run impostor = { 0 };
  g_autofree gchar *path = NULL;
  g_autofree gchar *pipeline = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_true (WAIT_UNTIL (auth_cameras (f) == 1));
  run_stop (&f->camera);
  memset (&f->camera, 0, sizeof f->camera);
  g_assert_true (WAIT_UNTIL (auth_cameras (f) == 0));

  g_assert_true (g_file_set_contents (f->secret_path, "not-the-secret", -1, &error));
  pipeline = g_strdup_printf ("videotestsrc is-live=true ! x264enc name=enc tune=zerolatency "
                              "! rtph264pay ! icecamsink server=%s camera-id=frontdoor "
                              "secret-file=%s", f->url, f->secret_path);
  run_start (&impostor, pipeline, "enc", on_encoded);
  g_assert_true (WAIT_UNTIL (run_failed (&impostor)));
  g_assert_nonnull (strstr (impostor.error_debug, "did not prove its identity"));
  g_assert_cmpuint (auth_cameras (f), ==, 0);
  run_stop (&impostor);
}

/* ---- wss:// -------------------------------------------------------------------------------- */

static void
test_wss (void)
{
  g_autofree gchar *dir = icecam_test_make_certificate ();
  g_autofree gchar *cert = g_build_filename (dir, "cert.pem", NULL);
  g_autofree gchar *key = g_build_filename (dir, "key.pem", NULL);
  g_autoptr (IcecamRendezvous) rendezvous = icecam_rendezvous_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;
  g_autofree gchar *camera = NULL;
  const gchar *variants[] = { "", "ca-file=", "insecure-tls=true" };
  Run cam = { 0 };
  IcecamRegistryStats stats = { 0 };

  g_assert_true (icecam_rendezvous_set_tls_files (rendezvous, cert, key, &error));
  /* A TLS handshake under the sanitizers on a loaded machine can outlast the default deadline. */
  icecam_rendezvous_set_deadlines (rendezvous,
                                   ICECAM_ADMISSION_DEFAULT_HANDSHAKE_TIMEOUT_S * icecam_test_slowdown (),
                                   ICECAM_ADMISSION_DEFAULT_HELLO_TIMEOUT_S * icecam_test_slowdown ());
  g_assert_true (icecam_rendezvous_listen (rendezvous, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  url = g_strdup_printf ("wss://127.0.0.1:%u", icecam_rendezvous_get_port (rendezvous));
  camera = g_strdup_printf ("videotestsrc is-live=true ! x264enc name=enc tune=zerolatency "
                            "key-int-max=300 ! rtph264pay config-interval=-1 "
                            "! icecamsink server=%s camera-id=frontdoor ca-file=%s", url, cert);
  run_start (&cam, camera, "enc", on_encoded);
  g_assert_true (WAIT_UNTIL ((icecam_registry_get_stats (icecam_rendezvous_get_registry (
                                rendezvous), &stats), stats.cameras == 1) || run_failed (&cam)));
  g_assert_false (run_failed (&cam));

  for (guint i = 0; i < G_N_ELEMENTS (variants); i++) {
    Run viewer = { 0 };
    g_autofree gchar *option = i == 1 ? g_strconcat (variants[i], cert, NULL)
                                      : g_strdup (variants[i]);
    g_autofree gchar *description = g_strdup_printf (
        "icecamsrc server=%s camera-id=frontdoor %s ! rtph264depay ! avdec_h264 name=dec "
        "! fakesink sync=false", url, option);

    run_start (&viewer, description, "dec", on_decoded);
    if (i == 0) {
      /* The system does not trust this certificate: refused, nothing decoded. */
      g_assert_true (WAIT_UNTIL (run_failed (&viewer)));
      g_test_message ("without the CA: %s", viewer.error->message);
      g_assert_error (viewer.error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ);
      g_assert_cmpint (run_frames (&viewer), ==, 0);
    } else {
      g_assert_true (WAIT_UNTIL (run_frames (&viewer) >= 10 || run_failed (&viewer)));
      g_assert_false (run_failed (&viewer));
    }
    run_stop (&viewer);
  }
  run_stop (&cam);
  icecam_test_remove_dir (dir);
}

/* The camera's fingerprint, known once its sink has started. */
static gchar *
camera_fingerprint (Run *camera)
{
  g_autoptr (GstElement) sink = gst_bin_get_by_name (GST_BIN (camera->pipeline), "sink");
  gchar *fingerprint = NULL;

  g_object_get (sink, "fingerprint", &fingerprint, NULL);
  return fingerprint;
}

static void
start_pinned_viewer (Fixture *f, Run *run, const gchar *fingerprint)
{
  g_autofree gchar *viewer = g_strdup_printf (
      "icecamsrc server=%s camera-id=frontdoor camera-fingerprint=\"%s\" "
      "! rtph264depay request-keyframe=true ! avdec_h264 name=dec ! fakesink sync=false",
      f->url, fingerprint);

  run_start (run, viewer, "dec", on_decoded);
}

/* A viewer that pins the camera's real fingerprint (in another spelling) plays. */
static void
test_pinned_fingerprint (Fixture *f, gconstpointer data)
{
  g_autofree gchar *fingerprint = camera_fingerprint (&f->camera);
  g_autofree gchar *lower = NULL;

  g_assert_nonnull (fingerprint);
  g_assert_true (g_str_has_prefix (fingerprint, "sha-256 "));
  lower = g_ascii_strdown (fingerprint, -1);
  start_pinned_viewer (f, &f->viewers[0], lower);
  g_assert_true (WAIT_UNTIL (run_frames (&f->viewers[0]) >= 10 || run_failed (&f->viewers[0])));
  g_assert_false (run_failed (&f->viewers[0]));
}

/* A viewer pinning another certificate is refused before any media, and says which
 * fingerprint it got and which it expected. */
static void
test_wrong_fingerprint (Fixture *f, gconstpointer data)
{
  g_autofree gchar *fingerprint = camera_fingerprint (&f->camera);
  GString *wrong = g_string_new ("sha-256 ");

  for (guint i = 0; i < 32; i++)
    g_string_append (wrong, i == 0 ? "AB" : ":AB");
  start_pinned_viewer (f, &f->viewers[0], wrong->str);
  g_assert_true (WAIT_UNTIL (run_failed (&f->viewers[0])));
  g_assert_error (f->viewers[0].error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_AUTHORIZED);
  g_assert_nonnull (strstr (f->viewers[0].error->message, fingerprint));
  g_assert_nonnull (strstr (f->viewers[0].error->message, wrong->str));
  g_assert_cmpint (run_frames (&f->viewers[0]), ==, 0);
  g_string_free (wrong, TRUE);
}

static gchar *
run_camera_once (Fixture *f, const gchar *certificate)
{
  g_autofree gchar *description = g_strdup_printf (
      "videotestsrc is-live=true ! x264enc name=enc tune=zerolatency ! rtph264pay "
      "! icecamsink name=sink server=%s camera-id=porch certificate=%s", f->url, certificate);
  Run run = { 0 };
  gchar *fingerprint;

  run_start (&run, description, "enc", on_encoded);
  fingerprint = camera_fingerprint (&run);
  /* Stop only once registered: a half-open WebSocket would only test the rendezvous. */
  g_assert_true (WAIT_UNTIL (camera_count (f) == 2 || run_failed (&run)));
  g_assert_false (run_failed (&run));
  run_stop (&run);
  g_assert_true (WAIT_UNTIL (camera_count (f) == 1));
  return fingerprint;
}

/* The certificate on disk survives a restart, so a pinned fingerprint stays valid. */
static void
test_certificate_persists (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *dir = g_dir_make_tmp ("icecam-cert-XXXXXX", &error);
  g_autofree gchar *path = NULL;
  g_autofree gchar *first = NULL;
  g_autofree gchar *second = NULL;

  g_assert_no_error (error);
  path = g_build_filename (dir, "porch.pem", NULL);
  first = run_camera_once (f, path);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  second = run_camera_once (f, path);
  g_assert_nonnull (first);
  g_assert_cmpstr (first, ==, second);
  g_unlink (path);
  g_rmdir (dir);
}

/* What crossed loopback in UDP, captured by an AF_PACKET socket (root only). */
typedef struct {
  GPtrArray *datagrams; /* GBytes: UDP payloads between 127.0.0.1 ports */
  GPtrArray *plaintext; /* GBytes: 16 payload bytes of RTP packets entering the sink */
  GMutex lock;          /* plaintext is written by the camera's streaming thread */
} Capture;

static gboolean
on_capture_readable (gint fd, GIOCondition condition, gpointer data)
{
  Capture *capture = data;
  guint8 packet[65536];
  gssize n;

  while ((n = recv (fd, packet, sizeof packet, MSG_DONTWAIT)) > 0) {
    gsize ihl = (packet[0] & 0x0f) * 4;

    if (n < 28 || (packet[0] >> 4) != 4 || packet[9] != IPPROTO_UDP || (gsize) n < ihl + 8)
      continue;
    g_ptr_array_add (capture->datagrams, g_bytes_new (packet + ihl + 8, n - ihl - 8));
  }
  return G_SOURCE_CONTINUE;
}

static void
record_rtp (Capture *capture, GstBuffer *buf)
{
  GstMapInfo map;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return;
  if (map.size >= 12) {
    gsize offset = 12 + 4 * (map.data[0] & 0x0f);

    if ((map.data[0] & 0x10) && map.size >= offset + 4)
      offset += 4 + 4 * ((map.data[offset + 2] << 8) | map.data[offset + 3]);
    g_mutex_lock (&capture->lock);
    if (map.size >= offset + 16 && capture->plaintext->len < 300)
      g_ptr_array_add (capture->plaintext, g_bytes_new (map.data + offset, 16));
    g_mutex_unlock (&capture->lock);
  }
  gst_buffer_unmap (buf, &map);
}

static GstPadProbeReturn
on_sink_rtp (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Capture *capture = data;

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);

    for (guint i = 0; i < gst_buffer_list_length (list); i++)
      record_rtp (capture, gst_buffer_list_get (list, i));
  } else {
    record_rtp (capture, GST_PAD_PROBE_INFO_BUFFER (info));
  }
  return GST_PAD_PROBE_OK;
}

static gboolean
contains (const guint8 *haystack, gsize size, const guint8 *needle, gsize needle_size)
{
  for (gsize i = 0; i + needle_size <= size; i++) {
    if (memcmp (haystack + i, needle, needle_size) == 0)
      return TRUE;
  }
  return FALSE;
}

static guint
count_first_bytes (Capture *capture, guint8 low, guint8 high)
{
  guint n = 0;

  for (guint i = 0; i < capture->datagrams->len; i++) {
    gsize size;
    const guint8 *d = g_bytes_get_data (g_ptr_array_index (capture->datagrams, i), &size);

    if (size > 0 && d[0] >= low && d[0] <= high)
      n++;
  }
  return n;
}

/* Nothing the encoder produced crosses the wire in the clear: the UDP datagrams between
 * camera and viewer are DTLS records and SRTP packets, and none contains a plaintext
 * payload sequence seen entering icecamsink. */
static void
test_wire_encrypted (Fixture *f, gconstpointer data)
{
  Capture capture = { g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref),
                      g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref) };
  struct sockaddr_ll address = { 0 };
  g_autoptr (GstElement) sink = NULL;
  g_autoptr (GstPad) pad = NULL;
  gulong probe;
  guint source;
  guint leaks = 0;
  gint fd;

  fd = socket (AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons (ETH_P_IP));
  if (fd < 0 && (errno == EPERM || errno == EACCES)) {
    g_test_skip ("capturing on loopback needs CAP_NET_RAW");
    g_ptr_array_unref (capture.datagrams);
    g_ptr_array_unref (capture.plaintext);
    return;
  }
  g_assert_cmpint (fd, >=, 0);
  address.sll_family = AF_PACKET;
  address.sll_protocol = htons (ETH_P_IP);
  address.sll_ifindex = (gint) if_nametoindex ("lo");
  g_assert_cmpint (bind (fd, (struct sockaddr *) &address, sizeof address), ==, 0);
  g_mutex_init (&capture.lock);
  source = g_unix_fd_add (fd, G_IO_IN, on_capture_readable, &capture);

  sink = gst_bin_get_by_name (GST_BIN (f->camera.pipeline), "sink");
  pad = gst_element_get_static_pad (sink, "sink");
  probe = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                             on_sink_rtp, &capture, NULL);
  start_viewer (f, &f->viewers[0], "frontdoor");
  g_assert_true (WAIT_UNTIL (run_frames (&f->viewers[0]) >= 30 || run_failed (&f->viewers[0])));
  g_assert_false (run_failed (&f->viewers[0]));
  gst_pad_remove_probe (pad, probe);
  on_capture_readable (fd, G_IO_IN, &capture);
  g_source_remove (source);
  close (fd);

  g_mutex_lock (&capture.lock);
  g_assert_cmpuint (capture.plaintext->len, >=, 30);
  for (guint i = 0; i < capture.datagrams->len; i++) {
    gsize size;
    const guint8 *d = g_bytes_get_data (g_ptr_array_index (capture.datagrams, i), &size);

    for (guint j = 0; j < capture.plaintext->len; j++) {
      gsize needle_size;
      const guint8 *needle = g_bytes_get_data (g_ptr_array_index (capture.plaintext, j),
                                               &needle_size);

      if (contains (d, size, needle, needle_size))
        leaks++;
    }
  }
  g_mutex_unlock (&capture.lock);
  /* The DTLS handshake goes through the rendezvous while no pair is selected (`dtls`), on
   * the path only when the pair came first: any number here, 0 usually. */
  g_test_message ("%u UDP datagrams captured (%u DTLS), %u plaintext sequences recorded",
                  capture.datagrams->len, count_first_bytes (&capture, 20, 63),
                  capture.plaintext->len);
  g_assert_cmpuint (leaks, ==, 0);
  g_assert_cmpuint (count_first_bytes (&capture, 128, 191), >=, 30); /* SRTP */
  g_mutex_clear (&capture.lock);
  g_ptr_array_unref (capture.datagrams);
  g_ptr_array_unref (capture.plaintext);
}

/* The times of the buffers that crossed a pad, in order. */
typedef struct {
  GMutex lock;
  GArray *pts;
} Stamps;

static GstPadProbeReturn
on_stamped_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  Stamps *stamps = data;
  GstClockTime pts = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));

  g_mutex_lock (&stamps->lock);
  g_array_append_val (stamps->pts, pts);
  g_mutex_unlock (&stamps->lock);
  return GST_PAD_PROBE_OK;
}

static guint
stamps_count (Stamps *stamps)
{
  guint n;

  g_mutex_lock (&stamps->lock);
  n = stamps->pts->len;
  g_mutex_unlock (&stamps->lock);
  return n;
}

static guint64
packets_received (GstElement *src)
{
  g_autoptr (GstStructure) stats = NULL;
  guint64 packets = 0;

  g_object_get (src, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "packets-received", &packets);
  return packets;
}

/* Every time in @stamps is valid and none goes back. */
static void
assert_stamps_grow (Stamps *stamps, const gchar *what)
{
  for (guint i = 0; i < stamps->pts->len; i++) {
    GstClockTime pts = g_array_index (stamps->pts, GstClockTime, i);

    if (!GST_CLOCK_TIME_IS_VALID (pts))
      g_error ("%s %u of %u has no time", what, i, stamps->pts->len);
    if (i > 0 && pts < g_array_index (stamps->pts, GstClockTime, i - 1))
      g_error ("%s %u of %u goes back: %" GST_TIME_FORMAT " after %" GST_TIME_FORMAT, what, i,
               stamps->pts->len, GST_TIME_ARGS (pts),
               GST_TIME_ARGS (g_array_index (stamps->pts, GstClockTime, i - 1)));
  }
}

/* A viewer whose pipeline reaches PLAYING only after the first packets came (icecam-view
 * links its chain in PAUSED; a loaded machine). Those packets once got do-timestamp's time,
 * when they were pushed, and packets that came meanwhile their earlier arrival: the first
 * frames of a recording went back (test-recording, `cut.mkv`, CI run 43); identity's 2 ms a
 * packet makes "meanwhile" long here. Stamped all at 0 instead, every frame of the queue but
 * the first left h264parse without a time (it strips a repeated one). Now each packet and each
 * parsed frame has a time, and none goes back. */
static void
test_stamps_before_playing (Fixture *f, gconstpointer data)
{
  g_autofree gchar *description = g_strdup_printf (
      "icecamsrc name=src server=%s camera-id=frontdoor ! identity sleep-time=2000 "
      "! rtph264depay ! h264parse name=parse ! fakesink sync=false", f->url);
  Stamps packets = { .pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime)) };
  Stamps frames = { .pts = g_array_new (FALSE, FALSE, sizeof (GstClockTime)) };
  g_autoptr (GError) error = NULL;
  g_autoptr (GstElement) pipeline = gst_parse_launch (description, &error);
  g_autoptr (GstElement) src = NULL;
  g_autoptr (GstElement) parse = NULL;
  g_autoptr (GstPad) src_pad = NULL;
  g_autoptr (GstPad) parse_pad = NULL;
  guint64 queued;

  g_assert_no_error (error);
  g_mutex_init (&packets.lock);
  g_mutex_init (&frames.lock);
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  src_pad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (src_pad, GST_PAD_PROBE_TYPE_BUFFER, on_stamped_buffer, &packets, NULL);
  parse = gst_bin_get_by_name (GST_BIN (pipeline), "parse");
  parse_pad = gst_element_get_static_pad (parse, "src");
  gst_pad_add_probe (parse_pad, GST_PAD_PROBE_TYPE_BUFFER, on_stamped_buffer, &frames, NULL);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PAUSED), !=,
                   GST_STATE_CHANGE_FAILURE);
  /* ~1 s of video: more than the session's STUN and DTLS packets */
  g_assert_true (WAIT_UNTIL (packets_received (src) >= 100));
  queued = packets_received (src);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  g_assert_true (WAIT_UNTIL (stamps_count (&packets) >= queued + 30));
  gst_element_set_state (pipeline, GST_STATE_NULL);

  g_test_message ("%" G_GUINT64_FORMAT " packets came before PLAYING; %u packets and %u frames "
                  "out, the first at %" GST_TIME_FORMAT, queued, packets.pts->len,
                  frames.pts->len, GST_TIME_ARGS (g_array_index (packets.pts, GstClockTime, 0)));
  g_assert_cmpuint (frames.pts->len, >=, 20);
  assert_stamps_grow (&packets, "packet");
  assert_stamps_grow (&frames, "frame");
  g_array_unref (packets.pts);
  g_array_unref (frames.pts);
  g_mutex_clear (&packets.lock);
  g_mutex_clear (&frames.lock);
}

/* Camera certificates default to $XDG_DATA_HOME/icecam: keep them out of the real one. */
static void
remove_data_home (const gchar *data_home)
{
  g_autofree gchar *icecam = g_build_filename (data_home, "icecam", NULL);
  GDir *dir = g_dir_open (icecam, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *path = g_build_filename (icecam, name, NULL);

    g_unlink (path);
  }
  g_clear_pointer (&dir, g_dir_close);
  g_rmdir (icecam);
  g_rmdir (data_home);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *data_home = g_dir_make_tmp ("icecam-test-data-XXXXXX", NULL);
  int status;

  g_assert_nonnull (data_home);
  g_setenv ("XDG_DATA_HOME", data_home, TRUE);
  g_log_writer_default_set_use_stderr (TRUE);
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/elements/e2e/two-viewers", Fixture, NULL, fixture_setup, test_two_viewers,
              fixture_teardown);
  g_test_add ("/elements/timestamps/before-playing", Fixture, NULL, fixture_setup,
              test_stamps_before_playing, fixture_teardown);
  g_test_add ("/elements/keyframe/viewer-request", Fixture, NULL, fixture_setup,
              test_viewer_keyframe_request, fixture_teardown);
  g_test_add ("/elements/error/unknown-camera", Fixture, NULL, fixture_setup,
              test_unknown_camera, fixture_teardown);
  g_test_add ("/elements/error/server-unreachable", Fixture, NULL, fixture_setup,
              test_server_unreachable, fixture_teardown);
  g_test_add ("/elements/dtls/pinned-fingerprint", Fixture, NULL, fixture_setup,
              test_pinned_fingerprint, fixture_teardown);
  g_test_add ("/elements/dtls/wrong-fingerprint", Fixture, NULL, fixture_setup,
              test_wrong_fingerprint, fixture_teardown);
  g_test_add ("/elements/dtls/certificate-persists", Fixture, NULL, fixture_setup,
              test_certificate_persists, fixture_teardown);
  g_test_add ("/elements/dtls/wire-encrypted", Fixture, NULL, fixture_setup,
              test_wire_encrypted, fixture_teardown);
  g_test_add_func ("/elements/tls/wss", test_wss);
  g_test_add ("/elements/auth/no-token", AuthFixture, "none", auth_setup, test_auth_refused,
              auth_teardown);
  g_test_add ("/elements/auth/forged-token", AuthFixture, "forged", auth_setup,
              test_auth_refused, auth_teardown);
  g_test_add ("/elements/auth/expired-token", AuthFixture, "expired", auth_setup,
              test_auth_refused, auth_teardown);
  g_test_add ("/elements/auth/other-camera-token", AuthFixture, "garage", auth_setup,
              test_auth_refused, auth_teardown);
  g_test_add ("/elements/auth/granted", AuthFixture, NULL, auth_setup, test_auth_granted,
              auth_teardown);
  g_test_add ("/elements/auth/camera-wrong-secret", AuthFixture, NULL, auth_setup,
              test_auth_camera_wrong_secret, auth_teardown);
  status = g_test_run ();
  remove_data_home (data_home);
  return status;
}
