/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of DTLS-SRTP and certificates: two associations wired back to back in memory. */

#include "icecam-certificate.h"
#include "icecam-dtls-srtp.h"
#include "icecam-rtcp.h"
#include "icecam-test-util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#define MARKER "PLAINTEXT-PAYLOAD"
#define RTP_SIZE 1200
#define BUF_SIZE (RTP_SIZE + ICECAM_SRTP_MAX_OVERHEAD)

/* One direction of the in-memory wire: each datagram is delivered to the peer from an idle
 * source, so one side's send never re-enters the other. */
typedef struct {
  IcecamDtlsSrtp *to;
  guint drop_first;     /* datagrams to lose before delivering any */
  guint sent;
  GPtrArray *delivered; /* GBytes: media plaintext the receiver got */
  guint consumed;
  guint dropped;
} Link;

typedef struct {
  Link *link;
  IcecamDtlsSrtp *to;
  GBytes *bytes;
} Delivery;

typedef struct {
  IcecamCertificate *client_cert;
  IcecamCertificate *server_cert;
  IcecamCertificate *stranger_cert;
  IcecamDtlsSrtp *client;
  IcecamDtlsSrtp *server;
  Link to_server;
  Link to_client;
  GArray *client_states;
  GArray *server_states;
  GThread *main_thread;
  gboolean signal_in_other_thread;
  gchar *tmpdir;
} Fixture;

static gboolean
deliver_cb (gpointer data)
{
  Delivery *d = data;
  guint8 out[2048];
  gsize out_length = sizeof out;
  gsize length;
  const guint8 *p = g_bytes_get_data (d->bytes, &length);

  switch (icecam_dtls_srtp_handle_incoming (d->to, p, length, out, &out_length, NULL)) {
    case ICECAM_DTLS_SRTP_RESULT_MEDIA:
      g_ptr_array_add (d->link->delivered, g_bytes_new (out, out_length));
      break;
    case ICECAM_DTLS_SRTP_RESULT_CONSUMED:
      d->link->consumed++;
      break;
    case ICECAM_DTLS_SRTP_RESULT_DROPPED:
    default:
      d->link->dropped++;
      break;
  }
  return G_SOURCE_REMOVE;
}

static void
delivery_free (gpointer data)
{
  Delivery *d = data;

  g_bytes_unref (d->bytes);
  g_object_unref (d->to);
  g_free (d);
}

static void
link_send (const guint8 *data, gsize length, gpointer user_data)
{
  Link *link = user_data;
  Delivery *d;

  link->sent++;
  if (link->drop_first > 0) {
    link->drop_first--;
    return;
  }
  d = g_new0 (Delivery, 1);
  d->link = link;
  d->to = g_object_ref (link->to);
  d->bytes = g_bytes_new (data, length);
  g_idle_add_full (G_PRIORITY_DEFAULT, deliver_cb, d, delivery_free);
}

static void
on_state_changed (IcecamDtlsSrtp *dtls, guint state, Fixture *fx)
{
  GArray *states = dtls == fx->client ? fx->client_states : fx->server_states;

  if (g_thread_self () != fx->main_thread)
    fx->signal_in_other_thread = TRUE;
  g_array_append_val (states, state);
}

static void
fixture_setup (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  fx->main_thread = g_thread_self ();
  fx->client_cert = icecam_certificate_new_ephemeral (&error);
  g_assert_no_error (error);
  fx->server_cert = icecam_certificate_new_ephemeral (&error);
  g_assert_no_error (error);
  fx->stranger_cert = icecam_certificate_new_ephemeral (&error);
  g_assert_no_error (error);
  fx->to_server.delivered = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  fx->to_client.delivered = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  fx->client_states = g_array_new (FALSE, FALSE, sizeof (guint));
  fx->server_states = g_array_new (FALSE, FALSE, sizeof (guint));
  fx->tmpdir = g_dir_make_tmp ("icecam-dtls-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
remove_tree (const gchar *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const gchar *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *child = g_build_filename (path, name, NULL);

    if (g_file_test (child, G_FILE_TEST_IS_DIR))
      remove_tree (child);
    else
      g_unlink (child);
  }
  if (dir != NULL)
    g_dir_close (dir);
  g_rmdir (path);
}

static void
fixture_teardown (Fixture *fx, gconstpointer data)
{
  if (fx->client != NULL)
    icecam_dtls_srtp_close (fx->client);
  if (fx->server != NULL)
    icecam_dtls_srtp_close (fx->server);
  drain ();
  g_assert_false (fx->signal_in_other_thread);
  if (fx->client != NULL)
    g_assert_finalize_object (fx->client);
  if (fx->server != NULL)
    g_assert_finalize_object (fx->server);
  g_assert_finalize_object (fx->client_cert);
  g_assert_finalize_object (fx->server_cert);
  g_assert_finalize_object (fx->stranger_cert);
  g_ptr_array_unref (fx->to_server.delivered);
  g_ptr_array_unref (fx->to_client.delivered);
  g_array_unref (fx->client_states);
  g_array_unref (fx->server_states);
  remove_tree (fx->tmpdir);
  g_free (fx->tmpdir);
}

/* The viewer is the client, the camera the server; each expects what the peer's SDP says. */
static void
make_pair (Fixture *fx, const gchar *client_expects, const gchar *server_expects,
           IcecamSrtpProfile profiles)
{
  g_autoptr (GError) error = NULL;

  fx->client = icecam_dtls_srtp_new (fx->client_cert, TRUE, client_expects, &error);
  g_assert_no_error (error);
  fx->server = icecam_dtls_srtp_new (fx->server_cert, FALSE, server_expects, &error);
  g_assert_no_error (error);
  if (profiles != ICECAM_SRTP_PROFILE_NONE) {
    g_assert_true (icecam_dtls_srtp_set_profiles (fx->client, profiles, &error));
    g_assert_true (icecam_dtls_srtp_set_profiles (fx->server, profiles, &error));
    g_assert_no_error (error);
  }
  fx->to_server.to = fx->server;
  fx->to_client.to = fx->client;
  icecam_dtls_srtp_set_send_func (fx->client, link_send, &fx->to_server, NULL);
  icecam_dtls_srtp_set_send_func (fx->server, link_send, &fx->to_client, NULL);
  g_signal_connect (fx->client, "state-changed", G_CALLBACK (on_state_changed), fx);
  g_signal_connect (fx->server, "state-changed", G_CALLBACK (on_state_changed), fx);
}

static void
start_pair (Fixture *fx)
{
  icecam_dtls_srtp_start (fx->server);
  icecam_dtls_srtp_start (fx->client);
}

static void
connect_pair (Fixture *fx, IcecamSrtpProfile profiles)
{
  make_pair (fx, icecam_certificate_get_fingerprint (fx->server_cert),
             icecam_certificate_get_fingerprint (fx->client_cert), profiles);
  start_pair (fx);
  g_assert_true (WAIT_UNTIL (icecam_dtls_srtp_get_state (fx->client) ==
                               ICECAM_DTLS_STATE_CONNECTED &&
                             icecam_dtls_srtp_get_state (fx->server) ==
                               ICECAM_DTLS_STATE_CONNECTED));
}

static gsize
build_rtp (guint8 *buf, guint16 seq, guint32 ssrc, gsize size)
{
  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = seq >> 8;
  buf[3] = seq & 0xff;
  for (guint i = 0; i < 4; i++) {
    buf[4 + i] = (guint8) ((seq * 3000u) >> (24 - 8 * i));
    buf[8 + i] = (guint8) (ssrc >> (24 - 8 * i));
  }
  for (gsize i = 12; i < size; i++)
    buf[i] = MARKER[(i - 12) % (sizeof MARKER - 1)];
  return size;
}

/* An RTCP APP packet (RFC 3550 section 6.7) carrying the marker as its data. */
static gsize
build_rtcp_app (guint8 *buf, guint32 ssrc)
{
  const gsize size = 12 + 32;

  buf[0] = 0x80;
  buf[1] = 204;
  buf[2] = 0;
  buf[3] = size / 4 - 1;
  for (guint i = 0; i < 4; i++)
    buf[4 + i] = (guint8) (ssrc >> (24 - 8 * i));
  memcpy (buf + 8, "TEST", 4);
  for (gsize i = 12; i < size; i++)
    buf[i] = MARKER[(i - 12) % (sizeof MARKER - 1)];
  return size;
}

static gboolean
contains (const guint8 *hay, gsize hay_length, const gchar *needle)
{
  gsize n = strlen (needle);

  for (gsize i = 0; i + n <= hay_length; i++) {
    if (memcmp (hay + i, needle, n) == 0)
      return TRUE;
  }
  return FALSE;
}

static IcecamDtlsSrtpResult
feed (IcecamDtlsSrtp *to, const guint8 *data, gsize length, guint8 *out, gsize *out_length,
      GError **error)
{
  *out_length = BUF_SIZE;
  return icecam_dtls_srtp_handle_incoming (to, data, length, out, out_length, error);
}

static void
test_handshake (Fixture *fx, gconstpointer data)
{
  g_autofree gchar *client_sees = NULL;
  g_autofree gchar *server_sees = NULL;

  connect_pair (fx, ICECAM_SRTP_PROFILE_NONE);
  g_assert_cmpint (icecam_dtls_srtp_get_profile (fx->client), ==,
                   icecam_dtls_srtp_get_profile (fx->server));
  g_assert_cmpint (icecam_dtls_srtp_get_profile (fx->client), !=, ICECAM_SRTP_PROFILE_NONE);
  client_sees = icecam_dtls_srtp_dup_remote_fingerprint (fx->client);
  server_sees = icecam_dtls_srtp_dup_remote_fingerprint (fx->server);
  g_assert_cmpstr (client_sees, ==, icecam_certificate_get_fingerprint (fx->server_cert));
  g_assert_cmpstr (server_sees, ==, icecam_certificate_get_fingerprint (fx->client_cert));
  g_assert_true (icecam_dtls_srtp_is_client (fx->client));
  g_assert_false (icecam_dtls_srtp_is_client (fx->server));
  /* Every transition, in order, in this (the creator's) thread. */
  g_assert_true (WAIT_UNTIL (fx->client_states->len == 2 && fx->server_states->len == 2));
  g_assert_cmpuint (g_array_index (fx->client_states, guint, 0), ==,
                    ICECAM_DTLS_STATE_CONNECTING);
  g_assert_cmpuint (g_array_index (fx->client_states, guint, 1), ==,
                    ICECAM_DTLS_STATE_CONNECTED);
  g_assert_cmpuint (g_array_index (fx->server_states, guint, 1), ==,
                    ICECAM_DTLS_STATE_CONNECTED);
  g_assert_null (icecam_dtls_srtp_get_error (fx->client));
  g_test_message ("negotiated %s",
                  icecam_srtp_profile_to_string (icecam_dtls_srtp_get_profile (fx->client)));
}

/* Protects with @from, unprotects with @to: byte-identical, and never in clear on the wire. */
static void
check_roundtrip (IcecamDtlsSrtp *from, IcecamDtlsSrtp *to, gboolean rtcp, guint16 seq)
{
  guint8 plain[RTP_SIZE];
  guint8 wire[BUF_SIZE];
  guint8 out[BUF_SIZE];
  gsize plain_length = rtcp ? build_rtcp_app (plain, 0xc0ffee00)
                            : build_rtp (plain, seq, 0x1234abcd, 600);
  gsize wire_length = sizeof wire;
  gsize out_length;
  g_autoptr (GError) error = NULL;

  g_assert_true (contains (plain, plain_length, MARKER));
  if (rtcp)
    g_assert_true (icecam_dtls_srtp_protect_rtcp (from, plain, plain_length, wire, &wire_length));
  else
    g_assert_true (icecam_dtls_srtp_protect_rtp (from, plain, plain_length, wire, &wire_length));
  g_assert_cmpuint (wire_length, >, plain_length);
  g_assert_false (contains (wire, wire_length, MARKER));
  g_assert_false (contains (wire, wire_length, "PAYLOAD"));
  feed (to, wire, wire_length, out, &out_length, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (out, out_length, plain, plain_length);
}

static void
test_media (Fixture *fx, gconstpointer data)
{
  IcecamDtlsSrtpStats stats;

  connect_pair (fx, ICECAM_SRTP_PROFILE_NONE);
  for (guint16 seq = 1; seq <= 5; seq++) {
    check_roundtrip (fx->server, fx->client, FALSE, seq); /* camera -> viewer RTP */
    check_roundtrip (fx->client, fx->server, FALSE, seq); /* and the other way */
    check_roundtrip (fx->server, fx->client, TRUE, seq);  /* RTCP both ways */
    check_roundtrip (fx->client, fx->server, TRUE, seq);
  }
  icecam_dtls_srtp_get_stats (fx->client, &stats);
  g_assert_cmpuint (stats.srtp.rtp_protected, ==, 5);
  g_assert_cmpuint (stats.srtp.rtcp_protected, ==, 5);
  g_assert_cmpuint (stats.srtp.rtp_unprotected, ==, 5);
  g_assert_cmpuint (stats.srtp.rtcp_unprotected, ==, 5);
  g_assert_cmpuint (stats.dtls_sent, >, 0);
  g_assert_cmpuint (stats.dtls_received, >, 0);
}

static void
test_media_each_profile (Fixture *fx, gconstpointer data)
{
  IcecamSrtpProfile profile = GPOINTER_TO_INT (data);

  if ((icecam_srtp_get_supported_profiles () & profile) == 0) {
    g_test_skip ("this libsrtp build lacks the profile");
    return;
  }
  connect_pair (fx, profile);
  g_assert_cmpint (icecam_dtls_srtp_get_profile (fx->server), ==, profile);
  check_roundtrip (fx->server, fx->client, FALSE, 1);
  check_roundtrip (fx->client, fx->server, TRUE, 1);
}

static void
test_in_place (Fixture *fx, gconstpointer data)
{
  guint8 buf[BUF_SIZE];
  guint8 small[RTP_SIZE];
  gsize length = sizeof buf;
  gsize small_length = 500 + 16; /* room for a GCM tag, less than the documented minimum */
  gsize plain_length = build_rtp (buf, 1, 7, 500);
  guint8 copy[500];

  connect_pair (fx, ICECAM_SRTP_PROFILE_NONE);
  memcpy (copy, buf, plain_length);
  /* Too little room for the tag: refused, nothing written. */
  g_assert_false (icecam_dtls_srtp_protect_rtp (fx->server, buf, plain_length, small,
                                                &small_length));
  g_assert_true (icecam_dtls_srtp_protect_rtp (fx->server, buf, plain_length, buf, &length));
  g_assert_cmpint (icecam_dtls_srtp_handle_incoming (fx->client, buf, length, buf, &length,
                                                     NULL), ==, ICECAM_DTLS_SRTP_RESULT_MEDIA);
  g_assert_cmpmem (buf, length, copy, plain_length);
  /* Not RTP at all. */
  length = sizeof buf;
  g_assert_false (icecam_dtls_srtp_protect_rtp (fx->server, (const guint8 *) "\x80\x60", 2, buf,
                                                &length));
}

static void
expect_no_media (IcecamDtlsSrtp *dtls, IcecamDtlsSrtp *other)
{
  guint8 plain[RTP_SIZE];
  guint8 wire[BUF_SIZE];
  guint8 out[BUF_SIZE];
  gsize plain_length = build_rtp (plain, 1, 99, 200);
  gsize wire_length = sizeof wire;
  gsize out_length;
  g_autoptr (GError) error = NULL;

  g_assert_false (icecam_dtls_srtp_protect_rtp (dtls, plain, plain_length, wire, &wire_length));
  g_assert_false (icecam_dtls_srtp_protect_rtp (other, plain, plain_length, wire, &wire_length));
  /* What would be SRTP is refused before keys exist. */
  g_assert_cmpint (feed (dtls, plain, plain_length, out, &out_length, &error), ==,
                   ICECAM_DTLS_SRTP_RESULT_DROPPED);
  g_assert_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_NOT_READY);
  g_assert_cmpuint (out_length, ==, 0);
  g_assert_cmpint (icecam_dtls_srtp_get_profile (dtls), ==, ICECAM_SRTP_PROFILE_NONE);
}

/* data TRUE: the camera expects another viewer than the one that connects; FALSE: the viewer
 * pinned another camera (a rendezvous redirecting it to an impostor). Both sides fail, the
 * checking side with an error naming both fingerprints, and no media passes either way. */
static void
test_wrong_fingerprint (Fixture *fx, gconstpointer data)
{
  gboolean at_server = GPOINTER_TO_INT (data);
  const gchar *stranger = icecam_certificate_get_fingerprint (fx->stranger_cert);
  const gchar *client_fp = icecam_certificate_get_fingerprint (fx->client_cert);
  const gchar *server_fp = icecam_certificate_get_fingerprint (fx->server_cert);
  IcecamDtlsSrtp *checker;
  GArray *states;
  const GError *error;

  make_pair (fx, at_server ? server_fp : stranger, at_server ? stranger : client_fp,
             ICECAM_SRTP_PROFILE_NONE);
  checker = at_server ? fx->server : fx->client;
  states = at_server ? fx->server_states : fx->client_states;
  start_pair (fx);
  g_assert_true (WAIT_UNTIL (icecam_dtls_srtp_get_state (fx->server) ==
                               ICECAM_DTLS_STATE_FAILED &&
                             icecam_dtls_srtp_get_state (fx->client) ==
                               ICECAM_DTLS_STATE_FAILED));
  error = icecam_dtls_srtp_get_error (checker);
  g_assert_error ((GError *) error, ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_FINGERPRINT);
  g_assert_nonnull (strstr (error->message, stranger));
  g_assert_nonnull (strstr (error->message, at_server ? client_fp : server_fp));
  g_test_message ("checker: %s", error->message);
  g_test_message ("peer: %s", icecam_dtls_srtp_get_error (at_server ? fx->client
                                                                     : fx->server)->message);
  expect_no_media (fx->server, fx->client);
  expect_no_media (fx->client, fx->server);
  g_assert_true (WAIT_UNTIL (states->len == 2));
  g_assert_cmpuint (g_array_index (states, guint, 1), ==, ICECAM_DTLS_STATE_FAILED);
}

static void
test_no_expected_fingerprint (Fixture *fx, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamDtlsSrtp) bad = icecam_dtls_srtp_new (fx->client_cert, TRUE, "sha-1 00:11",
                                                         &error);

  g_assert_null (bad);
  g_assert_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_FINGERPRINT);
  make_pair (fx, icecam_certificate_get_fingerprint (fx->server_cert), NULL,
             ICECAM_SRTP_PROFILE_NONE);
  start_pair (fx);
  g_assert_true (WAIT_UNTIL (icecam_dtls_srtp_get_state (fx->server) ==
                             ICECAM_DTLS_STATE_FAILED));
  g_assert_error ((GError *) icecam_dtls_srtp_get_error (fx->server), ICECAM_DTLS_SRTP_ERROR,
                  ICECAM_DTLS_SRTP_ERROR_FINGERPRINT);
  expect_no_media (fx->server, fx->client);
}

static void
test_tampered_and_replayed (Fixture *fx, gconstpointer data)
{
  guint8 plain[RTP_SIZE];
  guint8 wire[BUF_SIZE];
  guint8 bad[BUF_SIZE];
  guint8 out[BUF_SIZE];
  gsize plain_length;
  gsize wire_length = sizeof wire;
  gsize out_length;
  IcecamDtlsSrtpStats stats;

  connect_pair (fx, ICECAM_SRTP_PROFILE_NONE);
  plain_length = build_rtp (plain, 10, 0xabcdef01, 800);
  g_assert_true (icecam_dtls_srtp_protect_rtp (fx->server, plain, plain_length, wire,
                                               &wire_length));
  /* One bit in the payload, in the header, in the tag: each fails authentication. */
  for (guint i = 0; i < 3; i++) {
    g_autoptr (GError) error = NULL;
    gsize at = i == 0 ? 100 : i == 1 ? 3 : wire_length - 1;

    memcpy (bad, wire, wire_length);
    bad[at] ^= 0x01;
    g_assert_cmpint (feed (fx->client, bad, wire_length, out, &out_length, &error), ==,
                     ICECAM_DTLS_SRTP_RESULT_DROPPED);
    g_assert_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_AUTH);
  }
  /* Truncated: never delivered. */
  for (gsize cut = 0; cut < wire_length; cut += 7) {
    g_assert_cmpint (feed (fx->client, wire, cut, out, &out_length, NULL), ==,
                     ICECAM_DTLS_SRTP_RESULT_DROPPED);
  }
  /* The genuine packet still passes (failures do not advance the replay window)... */
  g_assert_cmpint (feed (fx->client, wire, wire_length, out, &out_length, NULL), ==,
                   ICECAM_DTLS_SRTP_RESULT_MEDIA);
  g_assert_cmpmem (out, out_length, plain, plain_length);
  /* ...once. */
  {
    g_autoptr (GError) error = NULL;

    g_assert_cmpint (feed (fx->client, wire, wire_length, out, &out_length, &error), ==,
                     ICECAM_DTLS_SRTP_RESULT_DROPPED);
    g_assert_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_REPLAY);
  }
  /* The same for SRTCP. */
  plain_length = build_rtcp_app (plain, 0xabcdef01);
  wire_length = sizeof wire;
  g_assert_true (icecam_dtls_srtp_protect_rtcp (fx->server, plain, plain_length, wire,
                                                &wire_length));
  memcpy (bad, wire, wire_length);
  bad[20] ^= 0x80;
  g_assert_cmpint (feed (fx->client, bad, wire_length, out, &out_length, NULL), ==,
                   ICECAM_DTLS_SRTP_RESULT_DROPPED);
  g_assert_cmpint (feed (fx->client, wire, wire_length, out, &out_length, NULL), ==,
                   ICECAM_DTLS_SRTP_RESULT_MEDIA);
  {
    g_autoptr (GError) error = NULL;

    g_assert_cmpint (feed (fx->client, wire, wire_length, out, &out_length, &error), ==,
                     ICECAM_DTLS_SRTP_RESULT_DROPPED);
    g_assert_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_REPLAY);
  }
  icecam_dtls_srtp_get_stats (fx->client, &stats);
  g_assert_cmpuint (stats.srtp.dropped_auth, >=, 4); /* and most truncated copies */
  g_assert_cmpuint (stats.srtp.dropped_replay, ==, 2);
  g_assert_cmpuint (stats.srtp.rtp_unprotected, ==, 1);
  g_assert_cmpuint (stats.srtp.rtcp_unprotected, ==, 1);
  g_assert_cmpint (icecam_dtls_srtp_get_state (fx->client), ==, ICECAM_DTLS_STATE_CONNECTED);
}

/* A peer holding the keys still cannot make the other side keep state for unlimited SSRCs. */
static void
test_ssrc_bound (Fixture *fx, gconstpointer data)
{
  guint8 plain[RTP_SIZE];
  guint8 wire[BUF_SIZE];
  guint8 out[BUF_SIZE];
  gsize out_length;
  guint delivered = 0;
  g_autoptr (GError) error = NULL;

  connect_pair (fx, ICECAM_SRTP_PROFILE_NONE);
  for (guint32 ssrc = 1; ssrc <= 17; ssrc++) {
    gsize plain_length = build_rtp (plain, 1, ssrc, 100);
    gsize wire_length = sizeof wire;

    g_assert_true (icecam_dtls_srtp_protect_rtp (fx->client, plain, plain_length, wire,
                                                 &wire_length));
    g_clear_error (&error);
    if (feed (fx->server, wire, wire_length, out, &out_length, &error) ==
        ICECAM_DTLS_SRTP_RESULT_MEDIA)
      delivered++;
  }
  g_assert_cmpuint (delivered, ==, 16);
  g_assert_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_LIMIT);
}

static void
feed_garbage (IcecamDtlsSrtp *to, GRand *rand, guint count)
{
  guint8 junk[1500];
  guint8 out[BUF_SIZE];
  gsize out_length;

  for (guint i = 0; i < count; i++) {
    gsize length = g_rand_int_range (rand, 0, sizeof junk);

    for (gsize j = 0; j < length; j++)
      junk[j] = (guint8) g_rand_int (rand);
    if (length > 0 && i % 2 == 0)
      junk[0] = (guint8) g_rand_int_range (rand, 20, 64); /* looks like DTLS */
    if (length >= 13 && i % 4 == 0) {
      junk[0] = 22;                    /* handshake record */
      junk[1] = 0xfe;                  /* DTLS 1.2 */
      junk[2] = 0xfd;
      junk[3] = (guint8) (i % 3);      /* epoch 0..2 */
      junk[11] = (guint8) ((length - 13) >> 8);
      junk[12] = (guint8) (length - 13);
    }
    feed (to, junk, length, out, &out_length, NULL);
  }
}

static void
test_garbage (Fixture *fx, gconstpointer data)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (5764);
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamDtlsSrtp) lone = icecam_dtls_srtp_new (fx->server_cert, FALSE,
                                                          icecam_certificate_get_fingerprint (
                                                            fx->client_cert), &error);
  guint8 out[BUF_SIZE];
  gsize out_length;

  g_assert_no_error (error);
  /* Before start, while waiting for a ClientHello, and after: no crash, no media. */
  feed_garbage (lone, rand, 200);
  icecam_dtls_srtp_start (lone);
  feed_garbage (lone, rand, 2000);
  g_assert_cmpint (icecam_dtls_srtp_get_state (lone), !=, ICECAM_DTLS_STATE_CONNECTED);
  g_assert_cmpint (feed (lone, (const guint8 *) "", 0, out, &out_length, NULL), ==,
                   ICECAM_DTLS_SRTP_RESULT_DROPPED);
  drain ();

  /* A connected pair shrugs garbage off: still connected, media still flows. */
  connect_pair (fx, ICECAM_SRTP_PROFILE_NONE);
  feed_garbage (fx->client, rand, 2000);
  feed_garbage (fx->server, rand, 2000);
  drain ();
  g_assert_cmpint (icecam_dtls_srtp_get_state (fx->client), ==, ICECAM_DTLS_STATE_CONNECTED);
  g_assert_cmpint (icecam_dtls_srtp_get_state (fx->server), ==, ICECAM_DTLS_STATE_CONNECTED);
  check_roundtrip (fx->server, fx->client, FALSE, 1);
  check_roundtrip (fx->client, fx->server, TRUE, 1);
}

static void
capture_send (const guint8 *data, gsize length, gpointer user_data)
{
  g_ptr_array_add (user_data, g_bytes_new (data, length));
}

/* Truncated and bit-flipped copies of a real ClientHello, fed to a fresh server. */
static void
test_truncated_handshake (Fixture *fx, gconstpointer data)
{
  g_autoptr (GPtrArray) flight = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GPtrArray) replies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamDtlsSrtp) client = icecam_dtls_srtp_new (
    fx->client_cert, TRUE, icecam_certificate_get_fingerprint (fx->server_cert), &error);
  g_autoptr (IcecamDtlsSrtp) server = icecam_dtls_srtp_new (
    fx->server_cert, FALSE, icecam_certificate_get_fingerprint (fx->client_cert), &error);
  guint8 copy[2048];
  guint8 out[BUF_SIZE];
  gsize out_length;
  gsize length;
  const guint8 *hello;

  g_assert_no_error (error);
  icecam_dtls_srtp_set_send_func (client, capture_send, flight, NULL);
  icecam_dtls_srtp_set_send_func (server, capture_send, replies, NULL);
  icecam_dtls_srtp_start (client);
  icecam_dtls_srtp_start (server);
  g_assert_cmpuint (flight->len, >=, 1);
  hello = g_bytes_get_data (g_ptr_array_index (flight, 0), &length);
  g_assert_cmpuint (length, <=, sizeof copy);
  g_assert_cmpuint (hello[0], ==, 22);

  for (gsize cut = 0; cut < length; cut++) {
    g_assert_cmpint (feed (server, hello, cut, out, &out_length, NULL), !=,
                     ICECAM_DTLS_SRTP_RESULT_MEDIA);
  }
  for (gsize at = 0; at < length; at++) {
    memcpy (copy, hello, length);
    copy[at] ^= 0x5a;
    feed (server, copy, length, out, &out_length, NULL);
  }
  g_assert_cmpint (icecam_dtls_srtp_get_state (server), !=, ICECAM_DTLS_STATE_CONNECTED);
  g_test_message ("after %" G_GSIZE_FORMAT " broken ClientHellos the server is %s and sent %u "
                  "datagrams", 2 * length,
                  icecam_dtls_state_to_string (icecam_dtls_srtp_get_state (server)), replies->len);
  icecam_dtls_srtp_close (client);
  icecam_dtls_srtp_close (server);
  drain ();
}

/* Lost datagrams in both directions: the retransmission timers recover. */
static void
test_retransmit (Fixture *fx, gconstpointer data)
{
  gint64 start = g_get_monotonic_time ();

  make_pair (fx, icecam_certificate_get_fingerprint (fx->server_cert),
             icecam_certificate_get_fingerprint (fx->client_cert), ICECAM_SRTP_PROFILE_NONE);
  fx->to_server.drop_first = 2; /* the ClientHello and its first retransmission */
  fx->to_client.drop_first = 1; /* the start of the server's flight */
  start_pair (fx);
  g_assert_true (WAIT_UNTIL (icecam_dtls_srtp_get_state (fx->client) ==
                               ICECAM_DTLS_STATE_CONNECTED &&
                             icecam_dtls_srtp_get_state (fx->server) ==
                               ICECAM_DTLS_STATE_CONNECTED));
  g_test_message ("connected despite losses after %" G_GINT64_FORMAT " ms",
                  (g_get_monotonic_time () - start) / 1000);
  check_roundtrip (fx->server, fx->client, FALSE, 1);
}

static void
test_close (Fixture *fx, gconstpointer data)
{
  guint8 plain[RTP_SIZE];
  guint8 wire[BUF_SIZE];
  gsize wire_length = sizeof wire;
  gsize plain_length = build_rtp (plain, 1, 5, 100);

  connect_pair (fx, ICECAM_SRTP_PROFILE_NONE);
  icecam_dtls_srtp_close (fx->server);
  g_assert_cmpint (icecam_dtls_srtp_get_state (fx->server), ==, ICECAM_DTLS_STATE_CLOSED);
  /* The viewer learns it from close_notify, at once. */
  g_assert_true (WAIT_UNTIL (icecam_dtls_srtp_get_state (fx->client) ==
                             ICECAM_DTLS_STATE_CLOSED));
  g_assert_false (icecam_dtls_srtp_protect_rtp (fx->server, plain, plain_length, wire,
                                                &wire_length));
  g_assert_false (icecam_dtls_srtp_protect_rtp (fx->client, plain, plain_length, wire,
                                                &wire_length));
  g_assert_null (icecam_dtls_srtp_get_error (fx->client));
}

typedef struct {
  IcecamDtlsSrtp *from;
  GAsyncQueue *queue;
  guint count;
  guint failed;
} Streamer;

static gpointer
stream_thread (gpointer data)
{
  Streamer *st = data;

  for (guint i = 0; i < st->count; i++) {
    guint8 plain[RTP_SIZE];
    guint8 *wire = g_malloc (BUF_SIZE);
    gsize wire_length = BUF_SIZE;
    gsize plain_length = build_rtp (plain, (guint16) i, 0x5151, 300 + i % 800);

    if (!icecam_dtls_srtp_protect_rtp (st->from, plain, plain_length, wire, &wire_length)) {
      st->failed++;
      g_free (wire);
      continue;
    }
    g_async_queue_push (st->queue, g_bytes_new_take (wire, wire_length));
  }
  return NULL;
}

/* Protect in a streaming thread while this thread unprotects and exchanges RTCP. */
static void
test_threads (Fixture *fx, gconstpointer data)
{
  Streamer st = { 0 };
  GThread *thread;
  guint received = 0;

  connect_pair (fx, ICECAM_SRTP_PROFILE_NONE);
  st.from = fx->server;
  st.queue = g_async_queue_new_full ((GDestroyNotify) g_bytes_unref);
  st.count = 20000;
  thread = g_thread_new ("streamer", stream_thread, &st);
  while (received < st.count) {
    g_autoptr (GBytes) packet = g_async_queue_timeout_pop (st.queue, 5 * G_TIME_SPAN_SECOND);
    guint8 out[BUF_SIZE];
    gsize out_length;
    gsize length;
    const guint8 *p;

    g_assert_nonnull (packet);
    p = g_bytes_get_data (packet, &length);
    g_assert_cmpint (feed (fx->client, p, length, out, &out_length, NULL), ==,
                     ICECAM_DTLS_SRTP_RESULT_MEDIA);
    g_assert_cmpuint (out_length, ==, 300 + received % 800);
    if (received % 100 == 0)
      check_roundtrip (fx->client, fx->server, TRUE, (guint16) (received / 100));
    received++;
  }
  g_thread_join (thread);
  g_assert_cmpuint (st.failed, ==, 0);
  g_async_queue_unref (st.queue);
}

#define COST_PACKETS 20000

static gdouble
us_per_packet (gint64 start, guint n)
{
  return (gdouble) (g_get_monotonic_time () - start) / n;
}

/* Cost per packet of each profile; reported, never asserted. */
static void
test_cost (Fixture *fx, gconstpointer data)
{
  IcecamSrtpProfile profile = GPOINTER_TO_INT (data);
  guint8 *wire;
  gsize *lengths;
  guint8 plain[RTP_SIZE];
  guint8 out[BUF_SIZE];
  gsize out_length;
  gint64 start;
  gdouble handshake_ms, protect_us, unprotect_us, rtcp_us;

  if ((icecam_srtp_get_supported_profiles () & profile) == 0) {
    g_test_skip ("this libsrtp build lacks the profile");
    return;
  }
  start = g_get_monotonic_time ();
  connect_pair (fx, profile);
  handshake_ms = (g_get_monotonic_time () - start) / 1000.0;

  wire = g_malloc ((gsize) COST_PACKETS * BUF_SIZE);
  lengths = g_new (gsize, COST_PACKETS);
  memset (wire, 0, (gsize) COST_PACKETS * BUF_SIZE); /* page faults are not SRTP's cost */
  build_rtp (plain, 0, 0x77, RTP_SIZE);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < COST_PACKETS; i++) {
    plain[2] = (guint8) (i >> 8);
    plain[3] = (guint8) i;
    lengths[i] = BUF_SIZE;
    g_assert_true (icecam_dtls_srtp_protect_rtp (fx->server, plain, RTP_SIZE,
                                                 wire + (gsize) i * BUF_SIZE, &lengths[i]));
  }
  protect_us = us_per_packet (start, COST_PACKETS);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < COST_PACKETS; i++) {
    out_length = sizeof out;
    g_assert_cmpint (icecam_dtls_srtp_handle_incoming (fx->client, wire + (gsize) i * BUF_SIZE,
                                                       lengths[i], out, &out_length, NULL),
                     ==, ICECAM_DTLS_SRTP_RESULT_MEDIA);
  }
  unprotect_us = us_per_packet (start, COST_PACKETS);

  start = g_get_monotonic_time ();
  for (guint i = 0; i < COST_PACKETS / 10; i++) {
    guint8 pli[ICECAM_RTCP_PLI_SIZE];
    gsize length = BUF_SIZE;

    icecam_rtcp_build_pli (pli, 0x99, 0x77);
    g_assert_true (icecam_dtls_srtp_protect_rtcp (fx->client, pli, sizeof pli, wire, &length));
    out_length = sizeof out;
    g_assert_cmpint (icecam_dtls_srtp_handle_incoming (fx->server, wire, length, out,
                                                       &out_length, NULL),
                     ==, ICECAM_DTLS_SRTP_RESULT_MEDIA);
  }
  rtcp_us = us_per_packet (start, COST_PACKETS / 10);

  g_test_message ("%s: handshake %.1f ms (in memory, both sides, incl. setup); "
                  "%d-byte RTP protect %.2f us, unprotect %.2f us (+%" G_GSIZE_FORMAT
                  " bytes); PLI protect+unprotect %.2f us",
                  icecam_srtp_profile_to_string (profile), handshake_ms, RTP_SIZE, protect_us,
                  unprotect_us, lengths[0] - RTP_SIZE, rtcp_us);
  g_test_message ("%s: 16 viewers x 500 pkt/s (~5 Mbit/s each) = %.1f%% of one core to protect",
                  icecam_srtp_profile_to_string (profile), 16 * 500 * protect_us / 1e4);
  g_free (wire);
  g_free (lengths);
}

static gboolean
is_rfc8122_sha256 (const gchar *fingerprint)
{
  return g_regex_match_simple ("^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$", fingerprint, 0, 0);
}

static guint
file_mode (const gchar *path)
{
  GStatBuf st;

  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return st.st_mode & 07777;
}

static void
test_certificate_persist (Fixture *fx, gconstpointer data)
{
  g_autofree gchar *dir = g_build_filename (fx->tmpdir, "etc", "icecam", NULL);
  g_autofree gchar *path = g_build_filename (dir, "camera.pem", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamCertificate) first = icecam_certificate_load_or_create (path, &error);
  g_autoptr (IcecamCertificate) again = NULL;
  g_autoptr (GDir) listing = NULL;

  g_assert_no_error (error);
  g_assert_true (is_rfc8122_sha256 (icecam_certificate_get_fingerprint (first)));
  g_assert_cmphex (file_mode (path), ==, 0600);
  g_assert_cmphex (file_mode (dir), ==, 0700);
  /* A restart: the same identity, so a pinned fingerprint keeps working. */
  again = icecam_certificate_load_or_create (path, &error);
  g_assert_no_error (error);
  g_assert_true (again != first);
  g_assert_cmpstr (icecam_certificate_get_fingerprint (again), ==,
                   icecam_certificate_get_fingerprint (first));
  g_assert_cmpstr (icecam_certificate_get_fingerprint (fx->server_cert), !=,
                   icecam_certificate_get_fingerprint (first));
  /* Nothing but the file itself (no temporary left behind). */
  listing = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (g_dir_read_name (listing), ==, "camera.pem");
  g_assert_null (g_dir_read_name (listing));
  /* And it serves a handshake with a viewer that pinned it. */
  g_object_unref (fx->server_cert);
  fx->server_cert = g_steal_pointer (&again);
  connect_pair (fx, ICECAM_SRTP_PROFILE_NONE);
}

static void
test_certificate_invalid (Fixture *fx, gconstpointer data)
{
  g_autofree gchar *path = g_build_filename (fx->tmpdir, "camera.pem", NULL);
  g_autofree gchar *other_path = g_build_filename (fx->tmpdir, "other.pem", NULL);
  g_autofree gchar *good = NULL;
  g_autofree gchar *other = NULL;
  g_autofree gchar *key_only = NULL;
  g_autofree gchar *mixed = NULL;
  g_autofree gchar *back = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamCertificate) cert = NULL;
  g_autoptr (IcecamCertificate) other_cert = NULL;
  g_autoptr (IcecamCertificate) loaded = NULL;
  const gchar *garbage = "-----BEGIN NONSENSE-----\nnot a key\n";

  cert = icecam_certificate_load_or_create (path, &error);
  g_assert_no_error (error);
  other_cert = icecam_certificate_load_or_create (other_path, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &good, NULL, NULL));
  g_assert_true (g_file_get_contents (other_path, &other, NULL, NULL));

  /* Garbage: an error, and the file is left alone (it may be someone's pinned identity). */
  g_assert_true (g_file_set_contents_full (path, garbage, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                             0600, NULL));
  g_assert_null (icecam_certificate_load_or_create (path, &error));
  g_assert_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  g_assert_true (g_file_get_contents (path, &back, NULL, NULL));
  g_assert_cmpstr (back, ==, garbage);

  /* One file's key with the other's certificate. */
  key_only = g_strndup (good, strstr (good, "-----BEGIN CERTIFICATE-----") - good);
  mixed = g_strconcat (key_only, strstr (other, "-----BEGIN CERTIFICATE-----"), NULL);
  g_assert_true (g_file_set_contents_full (path, mixed, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                           NULL));
  g_assert_null (icecam_certificate_load_or_create (path, &error));
  g_assert_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "not the private key's"));
  g_clear_error (&error);

  /* A key readable by others is tightened, with a warning, and still loads. */
  g_assert_true (g_file_set_contents_full (path, good, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                             0644, NULL));
  g_assert_cmphex (file_mode (path), ==, 0644);
  g_test_expect_message ("icecam", G_LOG_LEVEL_WARNING, "*readable by others*");
  loaded = icecam_certificate_load_or_create (path, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpstr (icecam_certificate_get_fingerprint (loaded), ==,
                   icecam_certificate_get_fingerprint (cert));
  g_assert_cmphex (file_mode (path), ==, 0600);

  /* Not a file, and nowhere to write one. */
  g_assert_null (icecam_certificate_load_or_create (fx->tmpdir, &error));
  g_assert_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_null (icecam_certificate_load_or_create ("/dev/null/icecam/camera.pem", &error));
  g_assert_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_IO);
}

static void
test_fingerprint_text (void)
{
#define FP16 "0B:1C:2D:3E:4F:50:61:72:83:94:A5:B6:C7:D8:E9:FA"
#define FP15 "0B:1C:2D:3E:4F:50:61:72:83:94:A5:B6:C7:D8:E9"
  const gchar *upper = "sha-256 " FP16 ":" FP16;
  const gchar *bad[] = {
    NULL, "", "sha-256", "sha-256 ", "sha-1 " FP16 ":0B:1C:2D:3E", /* only sha-256 */
    "sha-256 " FP16 ":" FP15,                                      /* 31 bytes */
    "sha-256 " FP16 ":" FP16 ":00",                                /* 33 bytes */
    "sha-256 0B1C2D3E4F5061728394A5B6C7D8E9FA0B1C2D3E4F5061728394A5B6C7D8E9FA",
    "sha-256 " FP16 ":" FP15 ":FG",
    "sha-256 " FP16 ":" FP16 " x",
  };
  g_autofree gchar *from_lower = icecam_fingerprint_normalize (
    "  SHA-256 0b:1c:2d:3e:4f:50:61:72:83:94:a5:b6:c7:d8:e9:fa:"
    "0b:1c:2d:3e:4f:50:61:72:83:94:a5:b6:c7:d8:e9:fa\r\n", NULL);

  g_assert_cmpstr (from_lower, ==, upper);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;

    g_assert_null (icecam_fingerprint_normalize (bad[i], &error));
    g_assert_error (error, ICECAM_CERTIFICATE_ERROR, ICECAM_CERTIFICATE_ERROR_FINGERPRINT);
  }
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/dtls-srtp/handshake", Fixture, NULL, fixture_setup, test_handshake,
              fixture_teardown);
  g_test_add ("/dtls-srtp/media/both-ways", Fixture, NULL, fixture_setup, test_media,
              fixture_teardown);
  g_test_add ("/dtls-srtp/media/aes-cm-sha1-80", Fixture,
              GINT_TO_POINTER (ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80), fixture_setup,
              test_media_each_profile, fixture_teardown);
  g_test_add ("/dtls-srtp/media/aes-gcm", Fixture,
              GINT_TO_POINTER (ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM), fixture_setup,
              test_media_each_profile, fixture_teardown);
  g_test_add ("/dtls-srtp/media/in-place", Fixture, NULL, fixture_setup, test_in_place,
              fixture_teardown);
  g_test_add ("/dtls-srtp/fingerprint/wrong-at-server", Fixture, GINT_TO_POINTER (TRUE),
              fixture_setup, test_wrong_fingerprint, fixture_teardown);
  g_test_add ("/dtls-srtp/fingerprint/wrong-at-client", Fixture, GINT_TO_POINTER (FALSE),
              fixture_setup, test_wrong_fingerprint, fixture_teardown);
  g_test_add ("/dtls-srtp/fingerprint/none", Fixture, NULL, fixture_setup,
              test_no_expected_fingerprint, fixture_teardown);
  g_test_add ("/dtls-srtp/srtp/tampered-replayed", Fixture, NULL, fixture_setup,
              test_tampered_and_replayed, fixture_teardown);
  g_test_add ("/dtls-srtp/srtp/ssrc-bound", Fixture, NULL, fixture_setup, test_ssrc_bound,
              fixture_teardown);
  g_test_add ("/dtls-srtp/garbage", Fixture, NULL, fixture_setup, test_garbage,
              fixture_teardown);
  g_test_add ("/dtls-srtp/garbage/broken-client-hello", Fixture, NULL, fixture_setup,
              test_truncated_handshake, fixture_teardown);
  g_test_add ("/dtls-srtp/handshake/retransmit", Fixture, NULL, fixture_setup, test_retransmit,
              fixture_teardown);
  g_test_add ("/dtls-srtp/close", Fixture, NULL, fixture_setup, test_close, fixture_teardown);
  g_test_add ("/dtls-srtp/threads", Fixture, NULL, fixture_setup, test_threads,
              fixture_teardown);
  g_test_add ("/dtls-srtp/cost/aes-cm-sha1-80", Fixture,
              GINT_TO_POINTER (ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80), fixture_setup, test_cost,
              fixture_teardown);
  g_test_add ("/dtls-srtp/cost/aes-gcm", Fixture,
              GINT_TO_POINTER (ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM), fixture_setup, test_cost,
              fixture_teardown);
  g_test_add ("/certificate/persist", Fixture, NULL, fixture_setup, test_certificate_persist,
              fixture_teardown);
  g_test_add ("/certificate/invalid", Fixture, NULL, fixture_setup, test_certificate_invalid,
              fixture_teardown);
  g_test_add_func ("/certificate/fingerprint-text", test_fingerprint_text);
  return g_test_run ();
}
