/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DTLS-SRTP (RFC 5764, 5763, 7983) for one session, over OpenSSL 3.0 and libsrtp2. */

#include "icecam-dtls-srtp.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <string.h>

#include "icecam-certificate-private.h"
#include "icecam-dtls-openssl.h"

/* A DTLS datagram from a sane peer is at most its path MTU; anything far above is not one. */
#define MAX_DTLS_DATAGRAM 8192
/* From the first DTLS datagram (server) or _start() (client) to CONNECTED. */
#define HANDSHAKE_TIMEOUT_S 20
/* Records after the handshake (retransmitted flights, alerts, application data icecam never
 * sends): at most this many are read per datagram. */
#define MAX_POST_HANDSHAKE_READS 16

/**
 * IcecamDtlsSrtp:
 *
 * The DTLS-SRTP association of one session. DTLS datagrams leave through the send function;
 * every datagram from the peer goes to icecam_dtls_srtp_handle_incoming(), which feeds DTLS
 * to the handshake and returns SRTP/SRTCP as plaintext. Once the peer has proved the
 * expected certificate fingerprint, SRTP keys are exported (RFC 5764 section 4.2) and
 * icecam_dtls_srtp_protect_rtp()/_rtcp() work.
 *
 * Threads: "state-changed" is emitted, and retransmission timers run, in the GMainContext
 * that was thread-default when the object was created; the signal comes from an idle
 * source, in order, after the call that caused the change has returned. Every function is
 * thread-safe: _protect_rtp()/_protect_rtcp() are meant for a streaming thread and take
 * only the outbound SRTP lock; _handle_incoming() takes the inbound SRTP lock for media and
 * the DTLS lock for handshake records. No lock is held while the send function runs.
 * The send function must be set before icecam_dtls_srtp_start().
 */
struct _IcecamDtlsSrtp {
  GObject parent;

  GMainContext *context;
  gboolean is_client;
  gboolean have_expected;
  guint8 expected[ICECAM_FINGERPRINT_DIGEST_LENGTH];

  IcecamDtlsSendFunc send_func;
  gpointer send_data;
  GDestroyNotify send_notify;

  IcecamSrtp *srtp; /* atomic; set once, before media_open, freed at finalize */
  gint media_open;  /* atomic: whether the state is CONNECTED */

  GMutex lock;      /* protects everything below */
  SSL *ssl;
  IcecamDtlsDatagrams io; /* what the SSL reads and writes; sent after unlocking */
  IcecamDtlsState state;
  GError *error;
  gboolean have_remote;
  guint8 remote[ICECAM_FINGERPRINT_DIGEST_LENGTH];
  gboolean fingerprint_mismatch;
  GSource *timer;
  GSource *deadline;
  GSource *notify;
  GArray *pending_states; /* IcecamDtlsState, emitted by the notify source */
  guint64 dtls_received;
  guint64 dtls_sent;
  guint64 dropped_not_ready;
  guint64 dropped_unknown;
};

G_DEFINE_TYPE (IcecamDtlsSrtp, icecam_dtls_srtp, G_TYPE_OBJECT)
G_DEFINE_QUARK (icecam-dtls-srtp-error-quark, icecam_dtls_srtp_error)

enum {
  SIGNAL_STATE_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

const gchar *
icecam_dtls_state_to_string (IcecamDtlsState state)
{
  static const gchar *names[] = { "new", "connecting", "connected", "failed", "closed" };

  return state < G_N_ELEMENTS (names) ? names[state] : "unknown";
}

static const gchar *
role (IcecamDtlsSrtp *self)
{
  return self->is_client ? "client" : "server";
}

/* ---- helpers ---- */

/* Sources hold a weak reference: a timer must neither keep the object alive nor outlive it. */
static gpointer
weak_new (IcecamDtlsSrtp *self)
{
  GWeakRef *weak = g_new0 (GWeakRef, 1);

  g_weak_ref_init (weak, self);
  return weak;
}

static void
weak_free (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

static void
clear_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static GSource *
attach_source (IcecamDtlsSrtp *self, GSource *source, GSourceFunc func)
{
  g_source_set_callback (source, func, weak_new (self), weak_free);
  g_source_attach (source, self->context);
  return source;
}

static void
send_all (IcecamDtlsSrtp *self, GPtrArray *datagrams)
{
  for (guint i = 0; i < datagrams->len; i++) {
    gsize length;
    const guint8 *data = g_bytes_get_data (g_ptr_array_index (datagrams, i), &length);

    if (self->send_func != NULL)
      self->send_func (data, length, self->send_data);
  }
  g_ptr_array_unref (datagrams);
}

/* Called with the lock held: what OpenSSL wrote, to be sent once the lock is released. */
static GPtrArray *
take_outgoing_locked (IcecamDtlsSrtp *self)
{
  GPtrArray *out = self->io.outgoing;

  self->io.outgoing = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  self->dtls_sent += out->len;
  return out;
}

/* ---- state ---- */

static gboolean
on_notify (gpointer data)
{
  IcecamDtlsSrtp *self = g_weak_ref_get (data);
  GArray *states;

  if (self == NULL)
    return G_SOURCE_REMOVE;
  g_mutex_lock (&self->lock);
  states = self->pending_states;
  self->pending_states = g_array_new (FALSE, FALSE, sizeof (IcecamDtlsState));
  g_clear_pointer (&self->notify, g_source_unref);
  g_mutex_unlock (&self->lock);

  for (guint i = 0; i < states->len; i++)
    g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0,
                   (guint) g_array_index (states, IcecamDtlsState, i));
  g_array_unref (states);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

/* Called with the lock held. FAILED and CLOSED are final. */
static void
set_state_locked (IcecamDtlsSrtp *self, IcecamDtlsState state)
{
  if (self->state == state || self->state == ICECAM_DTLS_STATE_FAILED ||
      self->state == ICECAM_DTLS_STATE_CLOSED)
    return;
  g_debug ("dtls-srtp %s %p: %s -> %s", role (self), self,
           icecam_dtls_state_to_string (self->state), icecam_dtls_state_to_string (state));
  self->state = state;
  g_atomic_int_set (&self->media_open, state == ICECAM_DTLS_STATE_CONNECTED);
  if (state == ICECAM_DTLS_STATE_CONNECTED || state == ICECAM_DTLS_STATE_FAILED ||
      state == ICECAM_DTLS_STATE_CLOSED)
    clear_source (&self->deadline);
  if (state == ICECAM_DTLS_STATE_FAILED || state == ICECAM_DTLS_STATE_CLOSED)
    clear_source (&self->timer);
  g_array_append_val (self->pending_states, state);
  if (self->notify == NULL)
    self->notify = attach_source (self, g_idle_source_new (), on_notify);
}

/* Called with the lock held; takes @error. */
static void
fail_locked (IcecamDtlsSrtp *self, GError *error)
{
  if (self->state == ICECAM_DTLS_STATE_FAILED || self->state == ICECAM_DTLS_STATE_CLOSED) {
    g_error_free (error);
    return;
  }
  g_message ("dtls-srtp %s %p: %s", role (self), self, error->message);
  self->error = error;
  set_state_locked (self, ICECAM_DTLS_STATE_FAILED);
}

static void
fail_handshake_locked (IcecamDtlsSrtp *self)
{
  g_autofree gchar *reason = icecam_dtls_take_openssl_errors ();
  g_autofree gchar *expected = NULL;
  g_autofree gchar *actual = NULL;

  if (!self->fingerprint_mismatch) {
    fail_locked (self, g_error_new (ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_HANDSHAKE,
                                    "DTLS handshake failed: %s", reason));
    return;
  }
  actual = self->have_remote ? icecam_fingerprint_format (self->remote) : g_strdup ("none");
  if (!self->have_expected) {
    fail_locked (self, g_error_new (ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_FINGERPRINT,
                                    "peer certificate %s refused: no fingerprint to check it "
                                    "against", actual));
    return;
  }
  expected = icecam_fingerprint_format (self->expected);
  fail_locked (self, g_error_new (ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_FINGERPRINT,
                                  "peer certificate fingerprint %s does not match the "
                                  "expected %s", actual, expected));
}

/* ---- timers ---- */

static gboolean on_timer (gpointer data);

/* Called with the lock held, after every OpenSSL call: follows OpenSSL's DTLS timer. */
static void
reschedule_timer_locked (IcecamDtlsSrtp *self)
{
  struct timeval tv = { 0, 0 };
  guint ms;

  clear_source (&self->timer);
  if (self->state != ICECAM_DTLS_STATE_CONNECTING && self->state != ICECAM_DTLS_STATE_CONNECTED)
    return;
  if (DTLSv1_get_timeout (self->ssl, &tv) != 1)
    return;
  ms = (guint) (tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
  self->timer = attach_source (self, g_timeout_source_new (ms), on_timer);
}

static gboolean
on_timer (gpointer data)
{
  IcecamDtlsSrtp *self = g_weak_ref_get (data);
  GPtrArray *out;

  if (self == NULL)
    return G_SOURCE_REMOVE;
  g_mutex_lock (&self->lock);
  if (self->timer == g_main_current_source ())
    g_clear_pointer (&self->timer, g_source_unref);
  if ((self->state == ICECAM_DTLS_STATE_CONNECTING || self->state == ICECAM_DTLS_STATE_CONNECTED)
      && DTLSv1_handle_timeout (self->ssl) < 0) {
    g_autofree gchar *reason = icecam_dtls_take_openssl_errors ();

    fail_locked (self, g_error_new (ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_TIMEOUT,
                                    "DTLS peer stopped answering: %s", reason));
  }
  ERR_clear_error ();
  reschedule_timer_locked (self);
  out = take_outgoing_locked (self);
  g_mutex_unlock (&self->lock);

  send_all (self, out);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static gboolean
on_deadline (gpointer data)
{
  IcecamDtlsSrtp *self = g_weak_ref_get (data);

  if (self == NULL)
    return G_SOURCE_REMOVE;
  g_mutex_lock (&self->lock);
  if (self->deadline == g_main_current_source ())
    g_clear_pointer (&self->deadline, g_source_unref);
  if (self->state == ICECAM_DTLS_STATE_CONNECTING)
    fail_locked (self, g_error_new (ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_TIMEOUT,
                                    "no DTLS handshake within %d s", HANDSHAKE_TIMEOUT_S));
  g_mutex_unlock (&self->lock);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

static void
arm_deadline_locked (IcecamDtlsSrtp *self)
{
  if (self->deadline == NULL)
    self->deadline = attach_source (self, g_timeout_source_new_seconds (HANDSHAKE_TIMEOUT_S),
                                    on_deadline);
}

/* ---- the handshake ---- */

/* Replaces chain verification: a self-signed certificate is fine, exactly when its SHA-256
 * digest is the expected one (RFC 5763 section 5). Runs inside OpenSSL, lock held. */
static int
verify_cb (X509_STORE_CTX *store, void *arg)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data (store, SSL_get_ex_data_X509_STORE_CTX_idx ());
  IcecamDtlsSrtp *self = ssl ? SSL_get_app_data (ssl) : NULL;
  X509 *cert = X509_STORE_CTX_get0_cert (store);

  if (self == NULL || !icecam_certificate_digest_x509 (cert, self->remote)) {
    X509_STORE_CTX_set_error (store, X509_V_ERR_UNSPECIFIED);
    return 0;
  }
  self->have_remote = TRUE;
  if (!self->have_expected ||
      CRYPTO_memcmp (self->remote, self->expected, ICECAM_FINGERPRINT_DIGEST_LENGTH) != 0) {
    self->fingerprint_mismatch = TRUE;
    X509_STORE_CTX_set_error (store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }
  return 1;
}

static void
handshake_done_locked (IcecamDtlsSrtp *self)
{
  guint8 digest[ICECAM_FINGERPRINT_DIGEST_LENGTH];
  GError *error = NULL;
  IcecamSrtp *srtp;

  /* Checked again here, whatever path the handshake took (no resumption is enabled). */
  if (!self->have_expected || !icecam_certificate_digest_x509 (
                                SSL_get0_peer_certificate (self->ssl), digest) ||
      CRYPTO_memcmp (digest, self->expected, sizeof digest) != 0) {
    self->fingerprint_mismatch = TRUE;
    fail_handshake_locked (self);
    return;
  }
  srtp = icecam_dtls_export_srtp (self->ssl, self->is_client, &error);
  if (srtp == NULL) {
    fail_locked (self, error);
    return;
  }
  g_atomic_pointer_set (&self->srtp, srtp);
  g_info ("dtls-srtp %s %p: connected, %s, %s", role (self), self, SSL_get_cipher (self->ssl),
          icecam_srtp_profile_to_string (icecam_srtp_get_profile (srtp)));
  set_state_locked (self, ICECAM_DTLS_STATE_CONNECTED);
}

/* Called with the lock held: feeds one datagram (or none) to OpenSSL. */
static void
drive_locked (IcecamDtlsSrtp *self, const guint8 *datagram, gsize length)
{
  self->io.incoming = datagram;
  self->io.incoming_length = length;
  if (self->state == ICECAM_DTLS_STATE_CONNECTING) {
    int r = SSL_do_handshake (self->ssl);
    int err = SSL_get_error (self->ssl, r);

    if (r == 1)
      handshake_done_locked (self);
    else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
      fail_handshake_locked (self);
  }
  for (guint i = 0; self->state == ICECAM_DTLS_STATE_CONNECTED &&
                    i < MAX_POST_HANDSHAKE_READS; i++) {
    guint8 scratch[2048];
    int r = SSL_read (self->ssl, scratch, sizeof scratch);
    int err = SSL_get_error (self->ssl, r);

    if (r > 0)
      continue; /* application data: icecam defines none, so it is discarded */
    if (err == SSL_ERROR_ZERO_RETURN) {
      g_info ("dtls-srtp %s %p: the peer closed the association", role (self), self);
      set_state_locked (self, ICECAM_DTLS_STATE_CLOSED);
    } else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      g_autofree gchar *reason = icecam_dtls_take_openssl_errors ();

      fail_locked (self, g_error_new (ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_HANDSHAKE,
                                      "DTLS association failed: %s", reason));
    }
    break;
  }
  self->io.incoming = NULL;
  ERR_clear_error ();
  reschedule_timer_locked (self);
}

/**
 * icecam_dtls_srtp_new:
 * @local: this side's identity (its fingerprint goes in this side's a=fingerprint)
 * @is_client: %TRUE for the DTLS client (the viewer: a=setup:active), %FALSE for the server
 *   (the camera, which offers a=setup:actpass and is answered with active)
 * @expected_remote_fingerprint: (nullable): the peer's "sha-256 AB:.." from its SDP, or the
 *   pinned one; %NULL refuses every peer (the handshake fails at the peer's certificate)
 * @error: an %ICECAM_DTLS_SRTP_ERROR or %ICECAM_CERTIFICATE_ERROR
 *
 * Creates the association in %ICECAM_DTLS_STATE_NEW; set the send function, then call
 * icecam_dtls_srtp_start(). The thread-default GMainContext becomes the object's.
 *
 * Returns: (transfer full) (nullable): the association, or %NULL with @error set
 */
IcecamDtlsSrtp *
icecam_dtls_srtp_new (IcecamCertificate *local, gboolean is_client,
                      const gchar *expected_remote_fingerprint, GError **error)
{
  g_autoptr (IcecamDtlsSrtp) self = NULL;

  g_return_val_if_fail (ICECAM_IS_CERTIFICATE (local), NULL);

  if (icecam_srtp_get_handshake_profiles () == ICECAM_SRTP_PROFILE_NONE) {
    g_set_error (error, ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_INTERNAL,
                 "libsrtp could not be initialised");
    return NULL;
  }
  self = g_object_new (ICECAM_TYPE_DTLS_SRTP, NULL);
  self->is_client = is_client;
  if (expected_remote_fingerprint != NULL) {
    if (!icecam_fingerprint_parse (expected_remote_fingerprint, self->expected, error))
      return NULL;
    self->have_expected = TRUE;
  }
  self->ssl = icecam_dtls_ssl_new (local, self->is_client, &self->io, verify_cb, self, error);
  if (self->ssl == NULL)
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * icecam_dtls_srtp_set_send_func:
 * @func: (nullable): sends one datagram to the peer (over ICE); see #IcecamDtlsSendFunc
 *
 * Must be called before icecam_dtls_srtp_start().
 */
void
icecam_dtls_srtp_set_send_func (IcecamDtlsSrtp *self, IcecamDtlsSendFunc func,
                                gpointer user_data, GDestroyNotify notify)
{
  g_return_if_fail (ICECAM_IS_DTLS_SRTP (self));

  if (self->send_notify != NULL)
    self->send_notify (self->send_data);
  self->send_func = func;
  self->send_data = user_data;
  self->send_notify = notify;
}

/**
 * icecam_dtls_srtp_set_profiles:
 * @profiles: the SRTP profiles to accept (by default every one libsrtp can do, AES-GCM
 *   preferred)
 *
 * Before icecam_dtls_srtp_start() only.
 *
 * Returns: %FALSE with @error set if none of @profiles is available
 */
gboolean
icecam_dtls_srtp_set_profiles (IcecamDtlsSrtp *self, IcecamSrtpProfile profiles,
                               GError **error)
{
  IcecamSrtpProfile usable = profiles & icecam_srtp_get_handshake_profiles ();
  gboolean ok;

  g_return_val_if_fail (ICECAM_IS_DTLS_SRTP (self), FALSE);

  g_mutex_lock (&self->lock);
  ok = usable != ICECAM_SRTP_PROFILE_NONE && self->state == ICECAM_DTLS_STATE_NEW &&
       SSL_set_tlsext_use_srtp (self->ssl, icecam_dtls_profile_list (usable)) == 0;
  ERR_clear_error ();
  g_mutex_unlock (&self->lock);
  if (!ok)
    g_set_error (error, ICECAM_DTLS_SRTP_ERROR, ICECAM_DTLS_SRTP_ERROR_INTERNAL,
                 "cannot restrict SRTP profiles to 0x%x (available: 0x%x, or already started)",
                 profiles, icecam_srtp_get_handshake_profiles ());
  return ok;
}

/**
 * icecam_dtls_srtp_start:
 *
 * Moves to %ICECAM_DTLS_STATE_CONNECTING. A client sends its ClientHello now (call it once
 * the ICE pair is selected) and retransmits until answered; a server waits for the
 * ClientHello. The handshake fails if not complete 20 s after the client's start or the
 * server's first DTLS datagram.
 */
void
icecam_dtls_srtp_start (IcecamDtlsSrtp *self)
{
  GPtrArray *out;

  g_return_if_fail (ICECAM_IS_DTLS_SRTP (self));

  g_object_ref (self);
  g_mutex_lock (&self->lock);
  if (self->state == ICECAM_DTLS_STATE_NEW) {
    set_state_locked (self, ICECAM_DTLS_STATE_CONNECTING);
    if (self->is_client) {
      arm_deadline_locked (self);
      drive_locked (self, NULL, 0);
    }
  }
  out = take_outgoing_locked (self);
  g_mutex_unlock (&self->lock);
  send_all (self, out);
  g_object_unref (self);
}

static IcecamDtlsSrtpResult
handle_dtls (IcecamDtlsSrtp *self, const guint8 *data, gsize length, GError **error)
{
  GPtrArray *out;
  gboolean taken = FALSE;

  if (length > MAX_DTLS_DATAGRAM) {
    g_set_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_MALFORMED,
                 "%" G_GSIZE_FORMAT "-byte DTLS datagram is too large", length);
    return ICECAM_DTLS_SRTP_RESULT_DROPPED;
  }
  g_object_ref (self); /* the send function may drop the caller's reference */
  g_mutex_lock (&self->lock);
  if (self->state == ICECAM_DTLS_STATE_CONNECTING || self->state == ICECAM_DTLS_STATE_CONNECTED) {
    taken = TRUE;
    self->dtls_received++;
    if (self->state == ICECAM_DTLS_STATE_CONNECTING)
      arm_deadline_locked (self);
    drive_locked (self, data, length);
  }
  out = take_outgoing_locked (self);
  g_mutex_unlock (&self->lock);
  send_all (self, out);
  g_object_unref (self);
  if (!taken) {
    g_set_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_NOT_READY,
                 "DTLS datagram outside a handshake (not started, or ended)");
    return ICECAM_DTLS_SRTP_RESULT_DROPPED;
  }
  return ICECAM_DTLS_SRTP_RESULT_CONSUMED;
}

/**
 * icecam_dtls_srtp_handle_incoming:
 * @data: (array length=length): one datagram from the peer (what ICE delivered)
 * @out: (array): where the plaintext of an SRTP/SRTCP packet goes; may be @data itself
 * @out_length: (inout): the room at @out (at least @length); on return the plaintext
 *   length for %ICECAM_DTLS_SRTP_RESULT_MEDIA, else 0
 * @error: (optional): why a packet was dropped (%ICECAM_SRTP_ERROR); the state of the
 *   association, not this, says whether the handshake failed
 *
 * Demultiplexes by the first byte (RFC 7983): 20..63 is DTLS and goes to the handshake
 * (replies go out through the send function before this returns); 128..191 is SRTP or
 * SRTCP (RFC 5761 tells which) and is authenticated, replay-checked and decrypted into
 * @out, only while %ICECAM_DTLS_STATE_CONNECTED; anything else is dropped. Thread-safe.
 *
 * Returns: what became of the datagram
 */
IcecamDtlsSrtpResult
icecam_dtls_srtp_handle_incoming (IcecamDtlsSrtp *self, const guint8 *data, gsize length,
                                  guint8 *out, gsize *out_length, GError **error)
{
  IcecamSrtp *srtp;
  gsize room;

  g_return_val_if_fail (ICECAM_IS_DTLS_SRTP (self), ICECAM_DTLS_SRTP_RESULT_DROPPED);
  g_return_val_if_fail (data != NULL || length == 0, ICECAM_DTLS_SRTP_RESULT_DROPPED);
  g_return_val_if_fail (out != NULL && out_length != NULL, ICECAM_DTLS_SRTP_RESULT_DROPPED);

  room = *out_length;
  *out_length = 0;
  if (length > 0 && data[0] >= 20 && data[0] <= 63)
    return handle_dtls (self, data, length, error);
  if (length == 0 || data[0] < 128 || data[0] > 191) {
    g_mutex_lock (&self->lock);
    self->dropped_unknown++;
    g_mutex_unlock (&self->lock);
    g_set_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_MALFORMED,
                 "datagram starting with %u is neither DTLS nor SRTP (RFC 7983)",
                 length > 0 ? data[0] : 0);
    return ICECAM_DTLS_SRTP_RESULT_DROPPED;
  }
  if (!g_atomic_int_get (&self->media_open)) {
    g_mutex_lock (&self->lock);
    self->dropped_not_ready++;
    g_mutex_unlock (&self->lock);
    g_set_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_NOT_READY,
                 "SRTP before the DTLS handshake completed (or after the end)");
    return ICECAM_DTLS_SRTP_RESULT_DROPPED;
  }
  srtp = g_atomic_pointer_get (&self->srtp);
  if (!icecam_srtp_unprotect (srtp, data, length, out, &room, NULL, error))
    return ICECAM_DTLS_SRTP_RESULT_DROPPED;
  *out_length = room;
  return ICECAM_DTLS_SRTP_RESULT_MEDIA;
}

static gboolean
protect (IcecamDtlsSrtp *self, gboolean rtcp, const guint8 *in, gsize length, guint8 *out,
         gsize *out_length)
{
  g_return_val_if_fail (ICECAM_IS_DTLS_SRTP (self), FALSE);
  g_return_val_if_fail (in != NULL && out != NULL && out_length != NULL, FALSE);

  if (!g_atomic_int_get (&self->media_open))
    return FALSE;
  return icecam_srtp_protect (g_atomic_pointer_get (&self->srtp), rtcp, in, length, out,
                              out_length, NULL);
}

/**
 * icecam_dtls_srtp_protect_rtp:
 * @in: (array length=length): one RTP packet
 * @out: (array): where the SRTP packet goes; may be @in if the room suffices
 * @out_length: (inout): the room at @out, at least @length + %ICECAM_SRTP_MAX_OVERHEAD;
 *   the SRTP length on return
 *
 * Thread-safe and cheap: one uncontended mutex and the cipher. Each packet (SSRC and
 * sequence number) may be protected once per association.
 *
 * Returns: %FALSE (and nothing to send) before %ICECAM_DTLS_STATE_CONNECTED, after the
 *   end, or for a malformed packet or too little room
 */
gboolean
icecam_dtls_srtp_protect_rtp (IcecamDtlsSrtp *self, const guint8 *in, gsize length,
                              guint8 *out, gsize *out_length)
{
  return protect (self, FALSE, in, length, out, out_length);
}

/**
 * icecam_dtls_srtp_protect_rtcp:
 *
 * Like icecam_dtls_srtp_protect_rtp(), for one (compound) RTCP packet.
 */
gboolean
icecam_dtls_srtp_protect_rtcp (IcecamDtlsSrtp *self, const guint8 *in, gsize length,
                               guint8 *out, gsize *out_length)
{
  return protect (self, TRUE, in, length, out, out_length);
}

/**
 * icecam_dtls_srtp_close:
 *
 * Sends close_notify if connected (the peer stops at once instead of waiting for consent
 * freshness), stops the timers and refuses media from now on: %ICECAM_DTLS_STATE_CLOSED.
 */
void
icecam_dtls_srtp_close (IcecamDtlsSrtp *self)
{
  GPtrArray *out;

  g_return_if_fail (ICECAM_IS_DTLS_SRTP (self));

  g_object_ref (self);
  g_mutex_lock (&self->lock);
  if (self->state == ICECAM_DTLS_STATE_CONNECTED)
    SSL_shutdown (self->ssl);
  ERR_clear_error ();
  set_state_locked (self, ICECAM_DTLS_STATE_CLOSED);
  clear_source (&self->timer);
  clear_source (&self->deadline);
  out = take_outgoing_locked (self);
  g_mutex_unlock (&self->lock);
  send_all (self, out);
  g_object_unref (self);
}

/**
 * icecam_dtls_srtp_get_state:
 *
 * Thread-safe.
 */
IcecamDtlsState
icecam_dtls_srtp_get_state (IcecamDtlsSrtp *self)
{
  IcecamDtlsState state;

  g_return_val_if_fail (ICECAM_IS_DTLS_SRTP (self), ICECAM_DTLS_STATE_FAILED);
  g_mutex_lock (&self->lock);
  state = self->state;
  g_mutex_unlock (&self->lock);
  return state;
}

/**
 * icecam_dtls_srtp_get_error:
 *
 * Set once, when the state becomes %ICECAM_DTLS_STATE_FAILED, and never changed after.
 *
 * Returns: (transfer none) (nullable): why the association failed
 */
const GError *
icecam_dtls_srtp_get_error (IcecamDtlsSrtp *self)
{
  const GError *error;

  g_return_val_if_fail (ICECAM_IS_DTLS_SRTP (self), NULL);
  g_mutex_lock (&self->lock);
  error = self->error;
  g_mutex_unlock (&self->lock);
  return error;
}

gboolean
icecam_dtls_srtp_is_client (IcecamDtlsSrtp *self)
{
  g_return_val_if_fail (ICECAM_IS_DTLS_SRTP (self), FALSE);
  return self->is_client;
}

/**
 * icecam_dtls_srtp_get_profile:
 *
 * Returns: the negotiated SRTP profile, %ICECAM_SRTP_PROFILE_NONE before the keys exist
 */
IcecamSrtpProfile
icecam_dtls_srtp_get_profile (IcecamDtlsSrtp *self)
{
  IcecamSrtp *srtp;

  g_return_val_if_fail (ICECAM_IS_DTLS_SRTP (self), ICECAM_SRTP_PROFILE_NONE);
  srtp = g_atomic_pointer_get (&self->srtp);
  return srtp ? icecam_srtp_get_profile (srtp) : ICECAM_SRTP_PROFILE_NONE;
}

/**
 * icecam_dtls_srtp_dup_remote_fingerprint:
 *
 * Returns: (transfer full) (nullable): the fingerprint of the certificate the peer
 *   presented (matching or not), once it has presented one
 */
gchar *
icecam_dtls_srtp_dup_remote_fingerprint (IcecamDtlsSrtp *self)
{
  gchar *fingerprint = NULL;

  g_return_val_if_fail (ICECAM_IS_DTLS_SRTP (self), NULL);
  g_mutex_lock (&self->lock);
  if (self->have_remote)
    fingerprint = icecam_fingerprint_format (self->remote);
  g_mutex_unlock (&self->lock);
  return fingerprint;
}

/**
 * icecam_dtls_srtp_get_stats:
 * @stats: (out caller-allocates): the counters
 *
 * Thread-safe.
 */
void
icecam_dtls_srtp_get_stats (IcecamDtlsSrtp *self, IcecamDtlsSrtpStats *stats)
{
  IcecamSrtp *srtp;

  g_return_if_fail (ICECAM_IS_DTLS_SRTP (self));
  memset (stats, 0, sizeof *stats);
  srtp = g_atomic_pointer_get (&self->srtp);
  if (srtp != NULL)
    icecam_srtp_get_stats (srtp, &stats->srtp);
  g_mutex_lock (&self->lock);
  stats->dtls_received = self->dtls_received;
  stats->dtls_sent = self->dtls_sent;
  stats->dropped_not_ready = self->dropped_not_ready;
  stats->dropped_unknown = self->dropped_unknown;
  g_mutex_unlock (&self->lock);
}

static void
icecam_dtls_srtp_dispose (GObject *object)
{
  IcecamDtlsSrtp *self = ICECAM_DTLS_SRTP (object);

  g_mutex_lock (&self->lock);
  g_atomic_int_set (&self->media_open, 0);
  clear_source (&self->timer);
  clear_source (&self->deadline);
  clear_source (&self->notify);
  g_mutex_unlock (&self->lock);
  icecam_dtls_srtp_set_send_func (self, NULL, NULL, NULL);
  G_OBJECT_CLASS (icecam_dtls_srtp_parent_class)->dispose (object);
}

static void
icecam_dtls_srtp_finalize (GObject *object)
{
  IcecamDtlsSrtp *self = ICECAM_DTLS_SRTP (object);

  SSL_free (self->ssl); /* frees the BIO too */
  icecam_srtp_free (self->srtp);
  g_ptr_array_unref (self->io.outgoing);
  g_array_unref (self->pending_states);
  g_clear_error (&self->error);
  g_main_context_unref (self->context);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (icecam_dtls_srtp_parent_class)->finalize (object);
}

static void
icecam_dtls_srtp_class_init (IcecamDtlsSrtpClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_dtls_srtp_dispose;
  object_class->finalize = icecam_dtls_srtp_finalize;

  /**
   * IcecamDtlsSrtp::state-changed:
   * @state: the new #IcecamDtlsState
   *
   * Emitted in the creator's GMainContext for every transition, in order.
   */
  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                  NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
}

static void
icecam_dtls_srtp_init (IcecamDtlsSrtp *self)
{
  g_mutex_init (&self->lock);
  self->context = g_main_context_ref_thread_default ();
  self->state = ICECAM_DTLS_STATE_NEW;
  self->io.outgoing = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  self->pending_states = g_array_new (FALSE, FALSE, sizeof (IcecamDtlsState));
}
