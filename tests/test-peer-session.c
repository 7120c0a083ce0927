/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Two IcecamPeerSessions back to back in one process: no rendezvous, no GStreamer. */

#include <stdlib.h>
#include <string.h>

#include "icecam-peer-session.h"
#include "icecam-rtcp.h"
#include "icecam-srtp.h"
#include "icecam-test-util.h"

/* The answerer lives in a context of its own, so that a test can make it vanish by no longer
 * iterating it: it then answers nothing, as a peer whose power was cut. */
typedef struct {
  GMainContext *context_b;
  gboolean b_alive;
  IcecamCertificate *cert_a, *cert_b;
  IcecamPeerSession *a, *b; /* a offers (the camera), b answers (the viewer) */
  IcecamSdp *media;
  guint rtp_to_b, rtcp_to_a;
  guint16 last_seq_b;
  gint64 rtp_epoch;            /* monotonic µs of RTP timestamp 0 in a's packets */
  guint sr_to_b;               /* sender reports b received */
  IcecamRtcpSenderInfo last_sr;
  gint64 last_sr_arrival;      /* monotonic µs */
  guint negotiation_a, negotiation_b;
  guint stalled_a, stalled_b;
  guint connected_b, restarting_b;
  gboolean hold_candidates;   /* drop trickled candidates instead of passing them on */
  GPtrArray *held_a, *held_b; /* or keep them here, when set */
  guint signalled_a, signalled_b; /* "signalled-dtls" datagrams each emitted */
  gboolean drop_signalled;    /* a rendezvous that does not relay `dtls` */
  gchar *tamper_fingerprint;  /* replaces a=fingerprint in a's offers */
  guint closed;
} Fixture;

/* Iterates a's context (blocking, with a tick) and b's (if alive) until @cond or timeout. */
#define PUMP_UNTIL(f, cond, seconds)                                                        \
  ({                                                                                        \
    gint64 _deadline = g_get_monotonic_time () + (gint64) ((seconds) * G_TIME_SPAN_SECOND);  \
    GSource *_tick = g_timeout_source_new (2);                                              \
    g_source_set_callback (_tick, icecam_test_tick, NULL, NULL);                            \
    g_source_attach (_tick, NULL);                                                          \
    while (!(cond) && g_get_monotonic_time () < _deadline) {                                \
      g_main_context_iteration (NULL, TRUE);                                                \
      while ((f)->b_alive && g_main_context_iteration ((f)->context_b, FALSE))              \
        ;                                                                                   \
    }                                                                                       \
    g_source_destroy (_tick);                                                               \
    g_source_unref (_tick);                                                                 \
    (cond);                                                                                 \
  })

static void
on_candidate_a (IcecamPeerSession *a, const gchar *candidate, Fixture *f)
{
  g_autoptr (GError) error = NULL;

  if (f->held_a != NULL)
    g_ptr_array_add (f->held_a, g_strdup (candidate));
  if (f->hold_candidates)
    return;
  g_assert_true (icecam_peer_session_add_remote_candidate (f->b, candidate, &error));
  g_assert_no_error (error);
}

static void
on_candidate_b (IcecamPeerSession *b, const gchar *candidate, Fixture *f)
{
  g_autoptr (GError) error = NULL;

  if (f->held_b != NULL)
    g_ptr_array_add (f->held_b, g_strdup (candidate));
  if (f->hold_candidates)
    return;
  g_assert_true (icecam_peer_session_add_remote_candidate (f->a, candidate, &error));
  g_assert_no_error (error);
}

/* The rendezvous relaying `dtls`: in order, after the description that preceded it. */
static void
on_signalled_a (IcecamPeerSession *a, GBytes *datagram, Fixture *f)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (datagram, &length);

  g_assert_cmpuint (length, <=, ICECAM_PEER_SESSION_MAX_SIGNALLED_DTLS);
  f->signalled_a++;
  if (f->drop_signalled)
    return;
  g_main_context_push_thread_default (f->context_b);
  icecam_peer_session_receive_signalled_dtls (f->b, data, length);
  g_main_context_pop_thread_default (f->context_b);
}

static void
on_signalled_b (IcecamPeerSession *b, GBytes *datagram, Fixture *f)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (datagram, &length);

  f->signalled_b++;
  if (!f->drop_signalled)
    icecam_peer_session_receive_signalled_dtls (f->a, data, length);
}

static void
on_gathered_a (IcecamPeerSession *a, Fixture *f)
{
  if (!f->hold_candidates)
    icecam_peer_session_set_remote_gathering_done (f->b);
}

static void
on_gathered_b (IcecamPeerSession *b, Fixture *f)
{
  if (!f->hold_candidates)
    icecam_peer_session_set_remote_gathering_done (f->a);
}

static void
on_negotiation_needed_a (IcecamPeerSession *a, Fixture *f)
{
  f->negotiation_a++;
}

static void
on_negotiation_needed_b (IcecamPeerSession *b, Fixture *f)
{
  f->negotiation_b++;
}

static void
on_stalled_a (IcecamPeerSession *a, Fixture *f)
{
  f->stalled_a++;
}

static void
on_stalled_b (IcecamPeerSession *b, Fixture *f)
{
  f->stalled_b++;
}

static void
on_state_b (IcecamPeerSession *b, guint state, Fixture *f)
{
  if (state == ICECAM_PEER_STATE_CONNECTED)
    f->connected_b++;
  else if (state == ICECAM_PEER_STATE_RESTARTING)
    f->restarting_b++;
}

static void
receive_b (const guint8 *data, gsize length, gpointer user_data)
{
  Fixture *f = user_data;

  /* The camera's sender reports; nothing else comes as RTCP. */
  if (icecam_rtp_is_rtcp (data, length)) {
    g_assert_true (icecam_rtcp_find_sender_report (data, length, &f->last_sr));
    f->last_sr_arrival = g_get_monotonic_time ();
    f->sr_to_b++;
    return;
  }
  f->rtp_to_b++;
  f->last_seq_b = (guint16) (data[2] << 8 | data[3]);
}

static void
receive_a (const guint8 *data, gsize length, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_true (icecam_rtcp_has_keyframe_request (data, length));
  f->rtcp_to_a++;
}

/* Fixture data: each side has two loopback addresses, four candidate pairs. */
#define TWO_ADDRESSES ((gconstpointer) "two addresses")

static IcecamIceConfig *
loopback_config (gconstpointer data)
{
  IcecamIceConfig *config = icecam_ice_config_new ();
  const gchar *loopback[] = { "127.0.0.1", data == TWO_ADDRESSES ? "127.0.0.2" : NULL, NULL };

  config->local_addresses = g_strdupv ((gchar **) loopback);
  return config;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamIceConfig) config = loopback_config (data);
  g_autoptr (GError) error = NULL;

  f->cert_a = icecam_certificate_new_ephemeral (&error);
  g_assert_no_error (error);
  f->cert_b = icecam_certificate_new_ephemeral (&error);
  g_assert_no_error (error);
  f->a = icecam_peer_session_new ("s1", ICECAM_PEER_ROLE_OFFERER, f->cert_a, config, &error);
  g_assert_no_error (error);
  f->context_b = g_main_context_new ();
  f->b_alive = TRUE;
  g_main_context_push_thread_default (f->context_b);
  f->b = icecam_peer_session_new ("s1", ICECAM_PEER_ROLE_ANSWERER, f->cert_b, config, &error);
  g_main_context_pop_thread_default (f->context_b);
  g_assert_no_error (error);

  g_signal_connect (f->a, "local-candidate", G_CALLBACK (on_candidate_a), f);
  g_signal_connect (f->b, "local-candidate", G_CALLBACK (on_candidate_b), f);
  g_signal_connect (f->a, "gathering-done", G_CALLBACK (on_gathered_a), f);
  g_signal_connect (f->b, "gathering-done", G_CALLBACK (on_gathered_b), f);
  g_signal_connect (f->a, "negotiation-needed", G_CALLBACK (on_negotiation_needed_a), f);
  g_signal_connect (f->b, "negotiation-needed", G_CALLBACK (on_negotiation_needed_b), f);
  g_signal_connect (f->a, "media-stalled", G_CALLBACK (on_stalled_a), f);
  g_signal_connect (f->b, "media-stalled", G_CALLBACK (on_stalled_b), f);
  g_signal_connect (f->b, "state-changed", G_CALLBACK (on_state_b), f);
  g_signal_connect (f->a, "signalled-dtls", G_CALLBACK (on_signalled_a), f);
  g_signal_connect (f->b, "signalled-dtls", G_CALLBACK (on_signalled_b), f);
  icecam_peer_session_set_receive_func (f->a, receive_a, f, NULL);
  icecam_peer_session_set_receive_func (f->b, receive_b, f, NULL);

  f->media = icecam_sdp_new ();
  icecam_sdp_add_media (f->media, icecam_sdp_media_new ("video", 96, "H264/90000",
                                                        "packetization-mode=1"));
}

static void
close_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Fixture *f = user_data;

  g_assert_true (icecam_peer_session_close_finish (ICECAM_PEER_SESSION (source), result, NULL));
  f->closed++;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  f->b_alive = TRUE;
  icecam_peer_session_close_async (f->a, close_cb, f);
  g_main_context_push_thread_default (f->context_b);
  icecam_peer_session_close_async (f->b, close_cb, f);
  g_main_context_pop_thread_default (f->context_b);
  g_assert_true (PUMP_UNTIL (f, f->closed == 2, 10));
  /* FAILED stays FAILED: both are final. */
  g_assert_cmpint (icecam_peer_session_get_state (f->a), >=, ICECAM_PEER_STATE_CLOSED);
  g_assert_cmpint (icecam_peer_session_get_state (f->b), >=, ICECAM_PEER_STATE_CLOSED);
  g_assert_finalize_object (f->a);
  g_assert_finalize_object (f->b);
  /* Nothing the sessions had (transports, DTLS) is left in b's context. */
  while (g_main_context_iteration (f->context_b, FALSE))
    ;
  g_main_context_unref (f->context_b);
  g_assert_finalize_object (f->cert_a);
  g_assert_finalize_object (f->cert_b);
  icecam_sdp_free (f->media);
  g_free (f->tamper_fingerprint);
  g_clear_pointer (&f->held_a, g_ptr_array_unref);
  g_clear_pointer (&f->held_b, g_ptr_array_unref);
}

static gchar *
tamper (Fixture *f, const gchar *offer)
{
  g_auto (GStrv) lines = g_strsplit (offer, "\r\n", -1);

  for (guint i = 0; lines[i] != NULL; i++) {
    if (g_str_has_prefix (lines[i], "a=fingerprint:")) {
      g_free (lines[i]);
      lines[i] = g_strdup_printf ("a=fingerprint:%s", f->tamper_fingerprint);
    }
  }
  return g_strjoinv ("\r\n", lines);
}

/* One offer/answer round as the endpoints do it: description out, then gather. */
static gboolean
negotiate (Fixture *f, GError **error_b)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *offer = NULL;
  g_autofree gchar *answer = NULL;
  gboolean ok;

  offer = icecam_peer_session_create_offer (f->a, f->media, &error);
  g_assert_no_error (error);
  g_assert_nonnull (offer);
  if (f->tamper_fingerprint != NULL) {
    gchar *tampered = tamper (f, offer);

    g_free (offer);
    offer = tampered;
  }
  g_main_context_push_thread_default (f->context_b);
  ok = icecam_peer_session_apply_remote_description (f->b, offer, &answer, error_b);
  g_main_context_pop_thread_default (f->context_b);
  if (!ok)
    return FALSE;
  g_assert_nonnull (answer);
  /* Signalling keeps order: each side's description reaches the other before its
   * candidates. */
  g_assert_true (icecam_peer_session_gather (f->a, &error));
  g_assert_no_error (error);
  g_assert_true (icecam_peer_session_apply_remote_description (f->a, answer, NULL, &error));
  g_assert_no_error (error);
  g_main_context_push_thread_default (f->context_b);
  g_assert_true (icecam_peer_session_gather (f->b, &error));
  g_main_context_pop_thread_default (f->context_b);
  g_assert_no_error (error);
  return TRUE;
}

static gboolean
both_connected (Fixture *f)
{
  return icecam_peer_session_get_state (f->a) == ICECAM_PEER_STATE_CONNECTED &&
         icecam_peer_session_get_state (f->b) == ICECAM_PEER_STATE_CONNECTED;
}

static void
send_rtp (Fixture *f, guint16 seq)
{
  guint8 rtp[200] = { 0x80, 96 };
  guint8 scratch[sizeof rtp + ICECAM_SRTP_MAX_OVERHEAD];
  const guint8 *packets[] = { rtp };
  gsize lengths[] = { sizeof rtp };

  guint32 timestamp;

  if (f->rtp_epoch == 0)
    f->rtp_epoch = g_get_monotonic_time ();
  /* A 90 kHz clock that runs with the monotonic one. */
  timestamp = (guint32) ((g_get_monotonic_time () - f->rtp_epoch) * 9 / 100);
  rtp[2] = seq >> 8;
  rtp[3] = seq & 0xff;
  rtp[4] = (guint8) (timestamp >> 24);
  rtp[5] = (guint8) (timestamp >> 16);
  rtp[6] = (guint8) (timestamp >> 8);
  rtp[7] = (guint8) timestamp;
  rtp[8] = 0x12; /* SSRC */
  icecam_peer_session_send_rtp (f->a, packets, lengths, 1, scratch, sizeof scratch);
}

static void
connect_and_check_media (Fixture *f)
{
  guint8 pli[ICECAM_RTCP_PLI_SIZE];
  IcecamIceStats ice_a, ice_b;
  g_autoptr (IcecamPairInfo) pair = NULL;
  guint16 seq = 1;

  g_assert_true (negotiate (f, NULL));
  g_assert_true (PUMP_UNTIL (f, both_connected (f), 10));
  pair = icecam_peer_session_get_pair_info (f->a);
  g_assert_nonnull (pair);
  g_assert_cmpstr (pair->local_type, ==, "host");
  g_assert_cmpstr (pair->remote_type, ==, "host");

  /* Media from the camera, a keyframe request back. */
  g_assert_true (PUMP_UNTIL (f, (send_rtp (f, seq++), f->rtp_to_b >= 5), 5));
  icecam_rtcp_build_pli (pli, 0x34, 0x12);
  g_assert_true (PUMP_UNTIL (f, (icecam_peer_session_send_rtcp (f->b, pli, sizeof pli),
                                 f->rtcp_to_a >= 1), 5));

  /* The DTLS flight answered before a side had selected its pair waited for the pair
   * instead of being lost: nothing was dropped for want of a pair. */
  icecam_peer_session_get_stats (f->a, &ice_a, NULL);
  icecam_peer_session_get_stats (f->b, &ice_b, NULL);
  g_assert_cmpuint (ice_a.packets_dropped, ==, 0);
  g_assert_cmpuint (ice_b.packets_dropped, ==, 0);
}

static void
test_media_both_ways (Fixture *f, gconstpointer data)
{
  IcecamIceStats before, after;
  IcecamDtlsSrtpStats dtls_before, dtls_after, dtls_b;
  guint received;

  connect_and_check_media (f);
  /* Each packet goes out once: the wire carries what was sent, nothing twice (the viewer's
   * SRTP would drop a second copy as a replay, silently to the application). A sender report
   * due goes out with the media: the datagrams are the RTP packets and the reports. */
  PUMP_UNTIL (f, FALSE, 0.2); /* the packets of connect_and_check_media () arrive */
  received = f->rtp_to_b;
  icecam_peer_session_get_stats (f->a, &before, &dtls_before);
  for (guint16 seq = 1000; seq < 1010; seq++)
    send_rtp (f, seq);
  icecam_peer_session_get_stats (f->a, &after, &dtls_after);
  g_assert_cmpuint (dtls_after.srtp.rtp_protected - dtls_before.srtp.rtp_protected, ==, 10);
  g_assert_cmpuint (after.packets_sent - before.packets_sent, ==,
                    10 + dtls_after.srtp.rtcp_protected - dtls_before.srtp.rtcp_protected);
  g_assert_true (PUMP_UNTIL (f, f->rtp_to_b == received + 10, 5));
  PUMP_UNTIL (f, FALSE, 0.2);
  icecam_peer_session_get_stats (f->b, NULL, &dtls_b);
  g_assert_cmpuint (dtls_b.srtp.dropped_replay, ==, 0);
  g_assert_cmpuint (f->rtp_to_b, ==, received + 10);

  g_assert_cmpstr (icecam_peer_session_get_remote_fingerprint (f->b), ==,
                   icecam_certificate_get_fingerprint (f->cert_a));
  g_assert_cmpuint (f->negotiation_a + f->negotiation_b, ==, 0);
}

static void
on_pair_selected_count (IcecamPeerSession *peer, IcecamPairInfo *info, guint *count)
{
  (*count)++;
}

/* Both ends use the pair the controlling camera nominated (regular nomination): with several
 * working pairs, what one side sends on is what the other side receives on, and it stays so. */
static void
test_same_pair (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamPairInfo) a = NULL;
  g_autoptr (IcecamPairInfo) b = NULL;
  g_autoptr (IcecamPairInfo) a_later = NULL;
  g_autoptr (IcecamPairInfo) b_later = NULL;
  guint16 seq = 1;
  guint selected_a = 0, selected_b = 0;

  g_signal_connect (f->a, "pair-selected", G_CALLBACK (on_pair_selected_count), &selected_a);
  g_signal_connect (f->b, "pair-selected", G_CALLBACK (on_pair_selected_count), &selected_b);
  g_assert_true (negotiate (f, NULL));
  g_assert_true (PUMP_UNTIL (f, both_connected (f), 10));
  g_assert_true (PUMP_UNTIL (f, (send_rtp (f, seq++), f->rtp_to_b >= 5), 5));
  a = icecam_peer_session_get_pair_info (f->a);
  b = icecam_peer_session_get_pair_info (f->b);
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpstr (a->local_address, ==, b->remote_address);
  g_assert_cmpstr (a->remote_address, ==, b->local_address);
  /* Every check has had time to finish (4 pairs, Ta 20 ms, retransmissions): nobody moved. */
  PUMP_UNTIL (f, (send_rtp (f, seq++), FALSE), 1.5);
  a_later = icecam_peer_session_get_pair_info (f->a);
  b_later = icecam_peer_session_get_pair_info (f->b);
  g_assert_cmpstr (a_later->local_address, ==, a->local_address);
  g_assert_cmpstr (a_later->remote_address, ==, a->remote_address);
  g_assert_cmpstr (b_later->local_address, ==, b->local_address);
  g_assert_cmpstr (b_later->remote_address, ==, b->remote_address);
  /* One nomination: neither side switched pairs on the way (a browser would not follow). */
  g_assert_cmpuint (selected_a, ==, 1);
  g_assert_cmpuint (selected_b, ==, 1);
  g_signal_handlers_disconnect_by_data (f->a, &selected_a);
  g_signal_handlers_disconnect_by_data (f->b, &selected_b);
}

/* The camera reports what it sent about once a second (RFC 3550 SR over SRTCP): counts of
 * what reached the viewer, its wall clock, and an RTP timestamp that matches the stream's. */
static void
test_sender_reports (Fixture *f, gconstpointer data)
{
  gint64 now_real, expected;
  guint sent = 0;
  gint32 skew;

  connect_and_check_media (f);
  g_assert_true (PUMP_UNTIL (f, (send_rtp (f, (guint16) sent++), f->sr_to_b >= 2),
                             3 * icecam_test_slowdown ()));
  now_real = g_get_real_time ();
  g_assert_cmpuint (f->last_sr.ssrc, ==, 0x12000000);
  /* Every packet counted was sent; its payload is 200 - 12 header bytes. */
  g_assert_cmpuint (f->last_sr.packet_count, >, 5);
  g_assert_cmpuint (f->last_sr.packet_count, <=, sent + 5);
  g_assert_cmpuint (f->last_sr.octet_count, ==, f->last_sr.packet_count * 188);
  /* NTP time: seconds since 1900 of about now. */
  g_assert_cmpint (llabs ((gint64) (f->last_sr.ntp_time >> 32) - 2208988800 -
                          now_real / G_USEC_PER_SEC), <=, 2);
  /* The RTP timestamp of the report's instant, in the packets' clock (generous: 100 ms). */
  expected = (f->last_sr_arrival - f->rtp_epoch) * 9 / 100;
  skew = (gint32) (f->last_sr.rtp_timestamp - (guint32) expected);
  g_assert_cmpint (ABS (skew), <, 9000 * icecam_test_slowdown ());
}

/* A pinned fingerprint that the offer does not name: refused before a DTLS packet. */
static void
test_pinned_fingerprint_refused (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  IcecamCertificate *other = icecam_certificate_new_ephemeral (&error);

  g_assert_no_error (error);
  g_assert_true (icecam_peer_session_set_pinned_fingerprint (
    f->b, icecam_certificate_get_fingerprint (other), &error));
  g_assert_false (negotiate (f, &error));
  g_assert_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_FINGERPRINT);
  g_assert_cmpint (icecam_peer_session_get_state (f->b), ==, ICECAM_PEER_STATE_FAILED);
  g_assert_error (icecam_peer_session_get_error (f->b), ICECAM_PEER_SESSION_ERROR,
                  ICECAM_PEER_SESSION_ERROR_FINGERPRINT);
  g_assert_cmpuint (f->rtp_to_b, ==, 0);
  g_assert_finalize_object (other);
}

/* An offer rewritten on the way to name another certificate than the one the camera holds:
 * the handshake proves the named one, fails, and no packet is ever decrypted. */
static void
test_wrong_fingerprint_no_media (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  IcecamCertificate *other = icecam_certificate_new_ephemeral (&error);
  guint16 seq = 1;

  g_assert_no_error (error);
  f->tamper_fingerprint = g_strdup (icecam_certificate_get_fingerprint (other));
  g_assert_true (negotiate (f, NULL));
  g_assert_true (PUMP_UNTIL (f, icecam_peer_session_get_state (f->b) ==
                                  ICECAM_PEER_STATE_FAILED, 10));
  g_assert_error (icecam_peer_session_get_error (f->b), ICECAM_PEER_SESSION_ERROR,
                  ICECAM_PEER_SESSION_ERROR_FINGERPRINT);
  /* The camera never considered it connected, so it sent nothing; had it, nothing could
   * have been decrypted. */
  PUMP_UNTIL (f, (send_rtp (f, seq++), FALSE), 0.2);
  g_assert_cmpuint (f->rtp_to_b, ==, 0);
  g_assert_cmpint (icecam_peer_session_get_state (f->a), !=, ICECAM_PEER_STATE_CONNECTED);
  g_assert_finalize_object (other);
}

/* A restart asked of the camera: new credentials, new transport, the same DTLS association
 * (no second handshake) and media again. */
static void
test_restart_keeps_dtls (Fixture *f, gconstpointer data)
{
  IcecamDtlsSrtpStats before_a, before_b, after_a, after_b;
  g_autoptr (GError) error = NULL;
  guint received;
  guint16 seq = 100;

  connect_and_check_media (f);
  icecam_peer_session_get_stats (f->a, NULL, &before_a);
  icecam_peer_session_get_stats (f->b, NULL, &before_b);

  g_assert_true (icecam_peer_session_restart (f->a, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->negotiation_a, ==, 1);
  g_assert_cmpint (icecam_peer_session_get_state (f->a), ==, ICECAM_PEER_STATE_RESTARTING);
  /* Asked twice before the offer went out: one restart. */
  g_assert_true (icecam_peer_session_restart (f->a, &error));
  g_assert_cmpuint (f->negotiation_a, ==, 1);

  g_assert_cmpuint (f->connected_b, ==, 1);
  g_assert_true (negotiate (f, NULL));
  g_assert_true (PUMP_UNTIL (f, both_connected (f), 10));
  received = f->rtp_to_b;
  g_assert_true (PUMP_UNTIL (f, (send_rtp (f, seq++), f->rtp_to_b >= received + 5), 5));
  g_assert_cmpuint (f->last_seq_b, >=, 100);
  /* The answerer's path went too: it said so, and "connected" again on the new one (its
   * owner restarts what lives with a path: receiver reports, punching). */
  g_assert_cmpuint (f->restarting_b, ==, 1);
  g_assert_cmpuint (f->connected_b, ==, 2);

  icecam_peer_session_get_stats (f->a, NULL, &after_a);
  icecam_peer_session_get_stats (f->b, NULL, &after_b);
  g_assert_cmpuint (after_a.dtls_sent, ==, before_a.dtls_sent);
  g_assert_cmpuint (after_b.dtls_sent, ==, before_b.dtls_sent);
  g_assert_cmpuint (icecam_peer_session_get_restarts (f->a), ==, 0);
}

/* An offer that repeats the one in use (same credentials) changes nothing. */
static void
test_repeated_offer_ignored (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *offer = NULL;
  g_autofree gchar *answer = NULL;

  connect_and_check_media (f);
  offer = icecam_peer_session_create_offer (f->a, f->media, &error);
  g_assert_no_error (error);
  g_main_context_push_thread_default (f->context_b);
  g_assert_true (icecam_peer_session_apply_remote_description (f->b, offer, &answer, &error));
  g_main_context_pop_thread_default (f->context_b);
  g_assert_no_error (error);
  g_assert_null (answer);
  g_assert_cmpint (icecam_peer_session_get_state (f->b), ==, ICECAM_PEER_STATE_CONNECTED);
}

/* The viewer vanishes (power cut): consent freshness tells the camera within about 10 s. */
static void
test_peer_vanishes (Fixture *f, gconstpointer data)
{
  IcecamPeerPolicy policy = { 30, 0, 0, 0 };
  gint64 vanished;
  gdouble seconds;

  icecam_peer_session_set_policy (f->a, &policy);
  connect_and_check_media (f);
  f->b_alive = FALSE;
  vanished = g_get_monotonic_time ();
  g_assert_true (PUMP_UNTIL (f, icecam_peer_session_get_state (f->a) ==
                                  ICECAM_PEER_STATE_FAILED, 20));
  seconds = (g_get_monotonic_time () - vanished) / (gdouble) G_TIME_SPAN_SECOND;
  g_test_message ("consent lost after %.1f s", seconds);
  /* Consent freshness gives up 10 s after the last answer; room for a loaded machine. */
  g_assert_cmpfloat (seconds, <, 10.0 + 5.0 * icecam_test_slowdown ());
  g_assert_error (icecam_peer_session_get_error (f->a), ICECAM_PEER_SESSION_ERROR,
                  ICECAM_PEER_SESSION_ERROR_ICE);
  g_assert_nonnull (strstr (icecam_peer_session_get_error (f->a)->message, "lost"));
}

/* The same with a policy that restarts: the camera asks for a new offer instead of failing,
 * and gives up after the recovery time without one. */
static void
test_path_death_restarts (Fixture *f, gconstpointer data)
{
  IcecamPeerPolicy policy = { 30, 3, 1, 0 };

  icecam_peer_session_set_policy (f->a, &policy);
  connect_and_check_media (f);
  f->b_alive = FALSE;
  g_assert_true (PUMP_UNTIL (f, f->negotiation_a == 1, 20));
  g_assert_cmpint (icecam_peer_session_get_state (f->a), ==, ICECAM_PEER_STATE_RESTARTING);
  g_assert_cmpint (icecam_peer_session_get_ice_state (f->a), ==, ICECAM_ICE_STATE_CLOSED);
  g_assert_true (PUMP_UNTIL (f, icecam_peer_session_get_state (f->a) ==
                                  ICECAM_PEER_STATE_FAILED, 5));
  g_assert_nonnull (strstr (icecam_peer_session_get_error (f->a)->message, "no new one"));
}

/* Media that stops while ICE still looks fine (a NAT that forgot its mapping) is noticed
 * after the media timeout, once per silence; a peer that never sent anything never stalls. */
static void
test_media_stalled (Fixture *f, gconstpointer data)
{
  IcecamPeerPolicy policy = { 0, 0, 30, 300 };
  guint16 seq = 1;
  guint received;

  icecam_peer_session_set_policy (f->a, &policy);
  g_main_context_push_thread_default (f->context_b);
  icecam_peer_session_set_policy (f->b, &policy);
  g_main_context_pop_thread_default (f->context_b);
  connect_and_check_media (f);
  /* b has sent one PLI: a counts silence from it; b from the camera's last packet. */
  g_assert_true (PUMP_UNTIL (f, f->stalled_b == 1, 5));
  g_assert_cmpint (icecam_peer_session_get_state (f->b), ==, ICECAM_PEER_STATE_CONNECTED);
  PUMP_UNTIL (f, FALSE, 0.6);
  g_assert_cmpuint (f->stalled_b, ==, 1);
  /* Media again, then silence again: a second stall. */
  received = f->rtp_to_b;
  g_assert_true (PUMP_UNTIL (f, (send_rtp (f, seq++), f->rtp_to_b > received), 5));
  g_assert_true (PUMP_UNTIL (f, f->stalled_b == 2, 5));
  g_assert_cmpuint (f->stalled_a, ==, 1);
}

/* No pair within the connect timeout (candidates never reach the other side). */
static void
test_connect_timeout (Fixture *f, gconstpointer data)
{
  IcecamPeerPolicy policy = { 1, 3, 0, 0 };

  icecam_peer_session_set_policy (f->a, &policy);
  f->hold_candidates = TRUE;
  g_assert_true (negotiate (f, NULL));
  g_assert_true (PUMP_UNTIL (f, icecam_peer_session_get_state (f->a) ==
                                  ICECAM_PEER_STATE_FAILED, 5));
  g_assert_cmpstr (icecam_peer_session_get_error (f->a)->message, ==, "no ICE pair within 1 s");
}

/* Descriptions that cannot be used fail the session with a reason, and nothing else. */
static void
test_bad_descriptions (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *answer = NULL;
  g_autofree gchar *offer = NULL;

  /* An answerer cannot offer. */
  g_assert_null (icecam_peer_session_create_offer (f->b, f->media, &error));
  g_assert_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_STATE);
  g_clear_error (&error);
  g_assert_cmpint (icecam_peer_session_get_state (f->b), ==, ICECAM_PEER_STATE_NEW);

  /* Garbage. */
  g_main_context_push_thread_default (f->context_b);
  g_assert_false (icecam_peer_session_apply_remote_description (f->b, "v=0\r\nnonsense", &answer,
                                                                &error));
  g_main_context_pop_thread_default (f->context_b);
  g_assert_nonnull (error);
  g_assert_null (answer);
  g_assert_true (g_str_has_prefix (error->message, "unusable offer: "));
  g_assert_cmpint (icecam_peer_session_get_state (f->b), ==, ICECAM_PEER_STATE_FAILED);
  g_clear_error (&error);

  /* An answer that claims to be the DTLS server too. */
  offer = icecam_peer_session_create_offer (f->a, f->media, &error);
  g_assert_no_error (error);
  {
    g_autofree gchar *passive = NULL;
    GString *s = g_string_new (offer);

    g_string_replace (s, "a=setup:actpass", "a=setup:passive", 0);
    passive = g_string_free (s, FALSE);
    g_assert_false (icecam_peer_session_apply_remote_description (f->a, passive, NULL, &error));
  }
  g_assert_error (error, ICECAM_PEER_SESSION_ERROR, ICECAM_PEER_SESSION_ERROR_DESCRIPTION);
  g_assert_cmpint (icecam_peer_session_get_state (f->a), ==, ICECAM_PEER_STATE_FAILED);
}

static gboolean
dtls_datagrams_received (Fixture *f, guint64 at_a, guint64 at_b)
{
  IcecamDtlsSrtpStats a, b;

  icecam_peer_session_get_stats (f->a, NULL, &a);
  icecam_peer_session_get_stats (f->b, NULL, &b);
  return a.dtls_received >= at_a && b.dtls_received >= at_b;
}

/* Both descriptions offer DTLS through signalling: the whole handshake runs there while ICE
 * has no candidates at all, and the session is CONNECTED the moment a pair is selected, with
 * no DTLS datagram on the path. */
static void
test_signalled_dtls_before_pair (Fixture *f, gconstpointer data)
{
  IcecamDtlsSrtpStats a_before, b_before, a_after, b_after;
  guint16 seq = 1;

  icecam_peer_session_set_signalled_dtls (f->a, TRUE);
  icecam_peer_session_set_signalled_dtls (f->b, TRUE);
  f->hold_candidates = TRUE;
  f->held_a = g_ptr_array_new_with_free_func (g_free);
  f->held_b = g_ptr_array_new_with_free_func (g_free);
  g_assert_true (negotiate (f, NULL));
  /* ClientHello; the server's flight; the client's Finished flight; the server's Finished. */
  g_assert_true (PUMP_UNTIL (f, dtls_datagrams_received (f, 2, 2), 5));
  /* Past the client's first retransmission (400 ms): none came, the handshake is done. */
  PUMP_UNTIL (f, FALSE, 0.7);
  g_assert_cmpuint (f->signalled_b, ==, 2);
  g_assert_cmpuint (f->signalled_a, ==, 2);
  g_assert_cmpint (icecam_peer_session_get_state (f->a), !=, ICECAM_PEER_STATE_CONNECTED);
  g_assert_cmpint (icecam_peer_session_get_state (f->b), !=, ICECAM_PEER_STATE_CONNECTED);
  icecam_peer_session_get_stats (f->a, NULL, &a_before);
  icecam_peer_session_get_stats (f->b, NULL, &b_before);

  /* The candidates, late: a pair, and media at once. */
  f->hold_candidates = FALSE;
  for (guint i = 0; i < f->held_a->len; i++)
    g_assert_true (icecam_peer_session_add_remote_candidate (f->b, f->held_a->pdata[i], NULL));
  for (guint i = 0; i < f->held_b->len; i++)
    g_assert_true (icecam_peer_session_add_remote_candidate (f->a, f->held_b->pdata[i], NULL));
  g_assert_true (PUMP_UNTIL (f, both_connected (f), 10));
  g_assert_true (PUMP_UNTIL (f, (send_rtp (f, seq++), f->rtp_to_b >= 5), 5));
  icecam_peer_session_get_stats (f->a, NULL, &a_after);
  icecam_peer_session_get_stats (f->b, NULL, &b_after);
  g_assert_cmpuint (a_after.dtls_sent, ==, a_before.dtls_sent);
  g_assert_cmpuint (b_after.dtls_sent, ==, b_before.dtls_sent);
  g_assert_cmpuint (a_after.dtls_received, ==, a_before.dtls_received);
  g_assert_cmpuint (b_after.dtls_received, ==, b_before.dtls_received);
  g_assert_cmpuint (f->signalled_a + f->signalled_b, ==, 4);
}

/* The camera's session ends before any pair (its ICE failed): its close_notify does not go
 * through signalling, so the viewer ends on its own reason (and the bye's), not on "the peer
 * closed DTLS". */
static void
test_signalled_dtls_close_before_pair (Fixture *f, gconstpointer data)
{
  icecam_peer_session_set_signalled_dtls (f->a, TRUE);
  icecam_peer_session_set_signalled_dtls (f->b, TRUE);
  f->hold_candidates = TRUE;
  g_assert_true (negotiate (f, NULL));
  g_assert_true (PUMP_UNTIL (f, dtls_datagrams_received (f, 2, 2), 5));
  PUMP_UNTIL (f, FALSE, 0.2);
  g_assert_cmpuint (f->signalled_a, ==, 2);
  icecam_peer_session_close_async (f->a, close_cb, f);
  g_assert_true (PUMP_UNTIL (f, f->closed == 1, 5));
  PUMP_UNTIL (f, FALSE, 0.3);
  g_assert_cmpuint (f->signalled_a, ==, 2);
  g_assert_cmpint (icecam_peer_session_get_state (f->b), !=, ICECAM_PEER_STATE_FAILED);
  f->closed = 0; /* the teardown closes both again */
}

/* A peer whose description does not offer it (a browser, an older viewer) never gets one. */
static void
test_signalled_dtls_one_side (Fixture *f, gconstpointer data)
{
  icecam_peer_session_set_signalled_dtls (f->a, TRUE);
  connect_and_check_media (f);
  g_assert_cmpuint (f->signalled_a, ==, 0);
  g_assert_cmpuint (f->signalled_b, ==, 0);
}

/* Offered by both, but nothing arrives that way (a rendezvous that drops `dtls`): what was
 * queued goes on the path once the pair is selected, without waiting for a retransmission. */
static void
test_signalled_dtls_lost (Fixture *f, gconstpointer data)
{
  IcecamDtlsSrtpStats b;
  gint64 started = g_get_monotonic_time ();

  icecam_peer_session_set_signalled_dtls (f->a, TRUE);
  icecam_peer_session_set_signalled_dtls (f->b, TRUE);
  f->drop_signalled = TRUE;
  connect_and_check_media (f);
  g_assert_cmpuint (f->signalled_b, >=, 1);
  icecam_peer_session_get_stats (f->b, NULL, &b);
  g_test_message ("connected in %" G_GINT64_FORMAT " ms, the client sent %" G_GUINT64_FORMAT
                  " DTLS datagrams", (g_get_monotonic_time () - started) / 1000, b.dtls_sent);
  /* The ClientHello and the Finished flight, once each: no retransmission was needed. */
  g_assert_cmpuint (b.dtls_sent, ==, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_log_writer_default_set_use_stderr (TRUE);

#define ADD(path, func) \
  g_test_add ("/peer-session/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("connect/media-both-ways", test_media_both_ways);
  g_test_add ("/peer-session/connect/same-pair", Fixture, TWO_ADDRESSES, fixture_setup,
              test_same_pair, fixture_teardown);
  ADD ("reports/sender-reports", test_sender_reports);
  ADD ("fingerprint/pinned-refused", test_pinned_fingerprint_refused);
  ADD ("fingerprint/wrong-no-media", test_wrong_fingerprint_no_media);
  ADD ("restart/keeps-dtls", test_restart_keeps_dtls);
  ADD ("restart/repeated-offer-ignored", test_repeated_offer_ignored);
  ADD ("consent/peer-vanishes", test_peer_vanishes);
  ADD ("consent/path-death-restarts", test_path_death_restarts);
  ADD ("timeout/connect", test_connect_timeout);
  ADD ("timeout/media-stalled", test_media_stalled);
  ADD ("bad-input/descriptions", test_bad_descriptions);
  ADD ("signalled-dtls/before-pair", test_signalled_dtls_before_pair);
  ADD ("signalled-dtls/one-side", test_signalled_dtls_one_side);
  ADD ("signalled-dtls/lost", test_signalled_dtls_lost);
  ADD ("signalled-dtls/close-before-pair", test_signalled_dtls_close_before_pair);
#undef ADD
  return g_test_run ();
}
