/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* IcecamPeerSession's media plane: DTLS records out (queued until a pair is selected), what
 * arrives demultiplexed into DTLS and SRTP/SRTCP, protected RTP and RTCP out. */

#include "icecam-peer-session-private.h"

#include "icecam-rtcp.h"

/* Room for one datagram from the peer: an MTU-sized SRTP packet or DTLS flight. */
#define RECEIVE_BUFFER_SIZE 2048
/* DTLS datagrams kept while no pair is selected: a handshake flight is a few. */
#define MAX_PENDING_DTLS 16
/* DTLS datagrams through signalling waiting for the idle feed: a flight is a few; past this
 * the peer (or the rendezvous) floods, and the rest are dropped as a lossy path would. */
#define MAX_SIGNALLED_IN 32

typedef struct {
  IcecamPeerSession *self;
  GBytes *datagram;
} SignalledDtls;

static gboolean
emit_signalled_dtls (gpointer data)
{
  SignalledDtls *out = data;

  icecam_peer_session_emit_signalled_dtls (out->self, out->datagram);
  return G_SOURCE_REMOVE;
}

static void
signalled_dtls_free (gpointer data)
{
  SignalledDtls *out = data;

  g_object_unref (out->self);
  g_bytes_unref (out->datagram);
  g_free (out);
}

/* Records go out over whichever transport the session has now, or wait for its pair; before
 * the pair, handshake records also go through signalling when both ends offered that. Any
 * thread (see IcecamDtlsSendFunc); the signal is emitted in the session's context. */
void
icecam_peer_session_dtls_send_cb (const guint8 *data, gsize length, gpointer user_data)
{
  IcecamPeerSession *self = user_data;
  IcecamIceSession *ice = NULL;
  IcecamDtlsSrtp *alerting = NULL;
  gboolean dropped = FALSE, signalled = FALSE;
  guint waiting;

  g_mutex_lock (&self->lock);
  if (self->selected && self->ice != NULL) {
    ice = g_object_ref (self->ice);
  } else {
    if (g_queue_get_length (&self->pending_dtls) < MAX_PENDING_DTLS)
      g_queue_push_tail (&self->pending_dtls, g_bytes_new (data, length));
    else
      dropped = TRUE;
    /* Handshake, change-cipher-spec and alert records only (RFC 6347 content types). */
    signalled = self->signalled_dtls && self->remote_signalled_dtls && length > 0 &&
                length <= ICECAM_PEER_SESSION_MAX_SIGNALLED_DTLS && data[0] >= 20 && data[0] <= 22;
    if (signalled && data[0] == 21) {
      if (self->dtls != NULL)
        alerting = g_object_ref (self->dtls);
      else
        signalled = FALSE; /* the association is being closed (close_dtls()) */
    }
  }
  waiting = g_queue_get_length (&self->pending_dtls);
  g_mutex_unlock (&self->lock);
  /* An alert goes that way during the handshake (a refused certificate), not after it: the
   * close_notify of a session ending before it had a path would end the peer's with "the
   * peer closed DTLS" instead of its own reason (the bye says why). */
  if (alerting != NULL) {
    signalled = icecam_dtls_srtp_get_state (alerting) != ICECAM_DTLS_STATE_CONNECTED &&
                icecam_dtls_srtp_get_state (alerting) != ICECAM_DTLS_STATE_CLOSED;
    g_object_unref (alerting);
  }
  if (signalled) {
    SignalledDtls *out = g_new (SignalledDtls, 1);

    out->self = g_object_ref (self);
    out->datagram = g_bytes_new (data, length);
    g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, emit_signalled_dtls, out,
                                signalled_dtls_free);
  }
  if (ice == NULL) {
    g_debug ("peer-session %s: no pair yet: %" G_GSIZE_FORMAT "-byte DTLS datagram %s "
             "(%u waiting)%s", self->id, length, dropped ? "dropped" : "queued", waiting,
             signalled ? ", sent through signalling" : "");
    return;
  }
  icecam_ice_session_send (ice, data, length);
  g_object_unref (ice);
}

/* At the selected pair. What went through signalling arrived there when the peer's came back
 * that way (signalling is reliable); otherwise it is sent on the path too. */
void
icecam_peer_session_flush_pending_dtls (IcecamPeerSession *self)
{
  GQueue pending = G_QUEUE_INIT;
  IcecamIceSession *ice = NULL;
  GBytes *bytes;
  gboolean delivered;

  g_mutex_lock (&self->lock);
  pending = self->pending_dtls;
  g_queue_init (&self->pending_dtls);
  delivered = self->signalled_dtls_received;
  if (self->ice != NULL && !delivered)
    ice = g_object_ref (self->ice);
  g_mutex_unlock (&self->lock);

  if (pending.length > 0)
    g_debug ("peer-session %s: pair selected: %u queued DTLS datagrams %s", self->id,
             pending.length, delivered ? "went through signalling" : "sent");
  while ((bytes = g_queue_pop_head (&pending)) != NULL) {
    gsize length;
    const guint8 *data = g_bytes_get_data (bytes, &length);

    if (ice != NULL)
      icecam_ice_session_send (ice, data, length);
    g_bytes_unref (bytes);
  }
  g_clear_object (&ice);
}

/* What came through signalling is fed to DTLS at idle priority: a flight's crypto takes a few
 * ms, and the session's first connectivity checks, due then too, must not wait for it. Behind
 * stateful firewalls the first check that leaves opens its own side for the peer's; a check
 * held back by the handshake let the peer's arrive first and be dropped, and ICE took the
 * relay (natlab-direct ipv6-symmetric, CI run 23). */
static gboolean
on_signalled_dtls_idle (gpointer data)
{
  IcecamPeerSession *self = data;
  g_autoptr (IcecamPeerSession) hold = g_object_ref (self);
  GBytes *datagram;

  g_clear_pointer (&self->signalled_idle, g_source_unref);
  while ((datagram = g_queue_pop_head (&self->signalled_in)) != NULL) {
    guint8 plain[RECEIVE_BUFFER_SIZE];
    gsize plain_length = sizeof plain, length;
    const guint8 *data_in = g_bytes_get_data (datagram, &length);
    g_autoptr (GError) error = NULL;
    IcecamDtlsSrtp *dtls;

    g_mutex_lock (&self->lock);
    dtls = self->dtls != NULL ? g_object_ref (self->dtls) : NULL;
    g_mutex_unlock (&self->lock);
    if (dtls != NULL &&
        icecam_dtls_srtp_handle_incoming (dtls, data_in, length, plain, &plain_length, &error) ==
          ICECAM_DTLS_SRTP_RESULT_DROPPED)
      g_debug ("peer-session %s: a DTLS datagram through signalling dropped: %s", self->id,
               error != NULL ? error->message : "unknown");
    g_clear_object (&dtls);
    g_bytes_unref (datagram);
  }
  return G_SOURCE_REMOVE;
}

/**
 * icecam_peer_session_receive_signalled_dtls:
 * @datagram: (array length=length): the data of the peer's `dtls` message
 * @length: its length in bytes
 *
 * A DTLS handshake datagram the peer sent through signalling. Ignored unless this end offered
 * that (icecam_peer_session_set_signalled_dtls()) and the session has its DTLS association;
 * SRTP never comes this way. Untrusted input: DTLS checks it as it checks the path's, once
 * the session's context is idle (datagrams in the order they came).
 */
void
icecam_peer_session_receive_signalled_dtls (IcecamPeerSession *self, const guint8 *datagram,
                                            gsize length)
{
  gboolean taken;

  g_return_if_fail (ICECAM_IS_PEER_SESSION (self));

  if (length == 0 || length > ICECAM_PEER_SESSION_MAX_SIGNALLED_DTLS || datagram[0] < 20 ||
      datagram[0] > 22)
    return;
  g_mutex_lock (&self->lock);
  taken = self->signalled_dtls && self->dtls != NULL;
  if (taken)
    self->signalled_dtls_received = TRUE;
  g_mutex_unlock (&self->lock);
  if (!taken || self->signalled_in.length >= MAX_SIGNALLED_IN) {
    g_debug ("peer-session %s: a DTLS datagram through signalling, not taken", self->id);
    return;
  }
  g_queue_push_tail (&self->signalled_in, g_bytes_new (datagram, length));
  if (self->signalled_idle == NULL) {
    self->signalled_idle = g_idle_source_new ();
    g_source_set_priority (self->signalled_idle, G_PRIORITY_DEFAULT_IDLE);
    g_source_set_callback (self->signalled_idle, on_signalled_dtls_idle, self, NULL);
    g_source_attach (self->signalled_idle, self->context);
  }
}

void
icecam_peer_session_on_ice_receive (const guint8 *data, gsize length, gpointer user_data)
{
  IcecamPeerSession *self = user_data;
  guint8 plain[RECEIVE_BUFFER_SIZE];
  gsize plain_length = sizeof plain;
  g_autoptr (GError) error = NULL;

  /* Nothing is trusted before a remote description named the peer's certificate. */
  if (self->dtls == NULL || length > sizeof plain)
    return;
  switch (icecam_dtls_srtp_handle_incoming (self->dtls, data, length, plain, &plain_length,
                                            &error)) {
    case ICECAM_DTLS_SRTP_RESULT_MEDIA:
      /* A sender report is not media: one goes out up to a second after a stream stopped,
       * and must not end the silence the stall check is waiting for. */
      if (!icecam_rtcp_is_sender_report (plain, plain_length)) {
        self->last_receive = g_get_monotonic_time ();
        self->stalled = FALSE;
      }
      if (self->receive_func != NULL)
        self->receive_func (plain, plain_length, self->receive_data);
      break;
    case ICECAM_DTLS_SRTP_RESULT_DROPPED:
      g_debug ("peer-session %s: dropped a packet: %s", self->id,
               error != NULL ? error->message : "unknown");
      break;
    case ICECAM_DTLS_SRTP_RESULT_CONSUMED:
    default:
      break;
  }
}

/* The sender reports that were due with the media just sent, protected and sent in one batch
 * after it. */
static void
send_reports (IcecamPeerSession *self, IcecamIceSession *ice, IcecamDtlsSrtp *dtls,
              const guint8 *reports, const gsize *lengths, guint n_reports)
{
  guint8 srtcp[ICECAM_PEER_SESSION_MAX_SOURCES]
              [ICECAM_RTCP_SENDER_REPORT_MAX_SIZE + ICECAM_SRTP_MAX_OVERHEAD];
  GOutputVector vectors[ICECAM_PEER_SESSION_MAX_SOURCES];
  NiceOutputMessage out[ICECAM_PEER_SESSION_MAX_SOURCES];
  guint n_out = 0;

  for (guint i = 0; i < n_reports; i++) {
    gsize length = sizeof srtcp[n_out];

    if (!icecam_dtls_srtp_protect_rtcp (dtls, reports + i * ICECAM_RTCP_SENDER_REPORT_MAX_SIZE,
                                        lengths[i], srtcp[n_out], &length))
      continue;
    vectors[n_out].buffer = srtcp[n_out];
    vectors[n_out].size = length;
    out[n_out].buffers = &vectors[n_out];
    out[n_out].n_buffers = 1;
    n_out++;
  }
  if (n_out > 0 && icecam_ice_session_send_messages (ice, out, n_out) < (gint) n_out)
    g_debug ("peer-session %s: a sender report was not sent", self->id);
}

/**
 * icecam_peer_session_send_rtp:
 * @packets: (array length=n_packets): plain RTP packets
 * @lengths: (array length=n_packets): their lengths
 * @scratch: room for @n_packets protected packets of @room bytes each
 * @room: bytes per packet in @scratch: the longest packet plus %ICECAM_SRTP_MAX_OVERHEAD
 *
 * Protects the packets with this session's SRTP keys and sends them in one batch, if the
 * session is CONNECTED. Thread-safe; never blocks.
 *
 * Returns: the number of packets handed to the transport
 */
guint
icecam_peer_session_send_rtp (IcecamPeerSession *self, const guint8 * const *packets,
                              const gsize *lengths, guint n_packets, guint8 *scratch, gsize room)
{
  GOutputVector vectors_on_stack[64];
  NiceOutputMessage out_on_stack[64];
  const guint8 *plain_on_stack[64];
  gsize plain_lengths_on_stack[64];
  g_autofree GOutputVector *vectors_on_heap = NULL;
  g_autofree NiceOutputMessage *out_on_heap = NULL;
  g_autofree const guint8 **plain_on_heap = NULL;
  g_autofree gsize *plain_lengths_on_heap = NULL;
  GOutputVector *vectors = vectors_on_stack;
  NiceOutputMessage *out = out_on_stack;
  const guint8 **plain = plain_on_stack;   /* the packets protected, in order: for the reports */
  gsize *plain_lengths = plain_lengths_on_stack;
  IcecamIceSession *ice = NULL;
  IcecamDtlsSrtp *dtls = NULL;
  guint n_out = 0;

  g_mutex_lock (&self->lock);
  if (self->state == ICECAM_PEER_STATE_CONNECTED && self->ice != NULL && self->dtls != NULL) {
    ice = g_object_ref (self->ice);
    dtls = g_object_ref (self->dtls);
  }
  g_mutex_unlock (&self->lock);
  if (ice == NULL || n_packets == 0)
    goto out;

  /* A frame's packets fit on the stack: no allocation per viewer and frame. */
  if (n_packets > G_N_ELEMENTS (out_on_stack)) {
    vectors = vectors_on_heap = g_new (GOutputVector, n_packets);
    out = out_on_heap = g_new (NiceOutputMessage, n_packets);
    plain = plain_on_heap = g_new (const guint8 *, n_packets);
    plain_lengths = plain_lengths_on_heap = g_new (gsize, n_packets);
  }
  for (guint i = 0; i < n_packets; i++) {
    guint8 *cipher = scratch + (gsize) n_out * room;
    gsize cipher_length = room;

    if (!icecam_dtls_srtp_protect_rtp (dtls, packets[i], lengths[i], cipher, &cipher_length))
      continue;
    vectors[n_out].buffer = cipher;
    vectors[n_out].size = cipher_length;
    out[n_out].buffers = &vectors[n_out];
    out[n_out].n_buffers = 1;
    plain[n_out] = packets[i];
    plain_lengths[n_out] = lengths[i];
    n_out++;
  }
  if (n_out > 0) {
    gint sent = icecam_ice_session_send_messages (ice, out, n_out);

    n_out = sent > 0 ? (guint) sent : 0;
  }
  if (n_out > 0 && self->role == ICECAM_PEER_ROLE_OFFERER) {
    guint8 reports[ICECAM_PEER_SESSION_MAX_SOURCES * ICECAM_RTCP_SENDER_REPORT_MAX_SIZE];
    gsize report_lengths[ICECAM_PEER_SESSION_MAX_SOURCES];
    guint n_reports;

    g_mutex_lock (&self->lock);
    icecam_peer_session_note_sent_locked (self, plain, plain_lengths, n_out);
    n_reports = icecam_peer_session_take_reports_locked (self, reports, report_lengths);
    g_mutex_unlock (&self->lock);
    if (n_reports > 0)
      send_reports (self, ice, dtls, reports, report_lengths, n_reports);
  }
out:
  g_clear_object (&ice);
  g_clear_object (&dtls);
  return n_out;
}

/**
 * icecam_peer_session_send_rtcp:
 * @data: (array length=length): one plain RTCP packet (compound allowed)
 *
 * Protects and sends it, if the session is CONNECTED. Thread-safe; never blocks.
 *
 * Returns: whether it was handed to the transport
 */
gboolean
icecam_peer_session_send_rtcp (IcecamPeerSession *self, const guint8 *data, gsize length)
{
  guint8 srtcp[RECEIVE_BUFFER_SIZE];
  gsize srtcp_length = sizeof srtcp;
  IcecamIceSession *ice = NULL;
  IcecamDtlsSrtp *dtls = NULL;
  gboolean sent = FALSE;

  if (length + ICECAM_SRTP_MAX_OVERHEAD > sizeof srtcp)
    return FALSE;
  g_mutex_lock (&self->lock);
  if (self->state == ICECAM_PEER_STATE_CONNECTED && self->ice != NULL && self->dtls != NULL) {
    ice = g_object_ref (self->ice);
    dtls = g_object_ref (self->dtls);
  }
  g_mutex_unlock (&self->lock);
  if (ice == NULL)
    return FALSE;
  if (icecam_dtls_srtp_protect_rtcp (dtls, data, length, srtcp, &srtcp_length))
    sent = icecam_ice_session_send (ice, srtcp, srtcp_length) > 0;
  g_object_unref (dtls);
  g_object_unref (ice);
  return sent;
}

