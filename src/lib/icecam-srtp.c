/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SRTP/SRTCP with libsrtp2 for one DTLS-SRTP association: one context per direction. */

#include "icecam-srtp.h"

#include <openssl/crypto.h>
#include <srtp2/srtp.h>
#include <string.h>
#ifdef ICECAM_HAVE_NSS
#include <nss.h>
#endif

#include "icecam-rtcp.h"
#include "icecam-srtp-gcm.h"

/* A keyframe at 1200 bytes a packet is hundreds of packets sent in a burst; reordering
 * inside one must not be mistaken for a replay (libsrtp's default window is 128). */
#define REPLAY_WINDOW 1024
/* libsrtp keeps a stream for every SSRC it authenticates; a peer holding the keys could
 * otherwise grow that without end. icecam sends one or two SSRCs per direction. */
#define MAX_INBOUND_SSRCS 16
#define MAX_PACKET_LENGTH 65535
#define MAX_KEY_SALT_LENGTH 32

/**
 * IcecamSrtp:
 *
 * The outbound and inbound libsrtp sessions of one association, each behind its own mutex:
 * protect (from a streaming thread) and unprotect (from the ICE thread) never wait for each
 * other, and any function may be called from any thread.
 */
struct _IcecamSrtp {
  IcecamSrtpProfile profile;

  GMutex out_lock; /* protects out, gcm_out and the outbound counters */
  srtp_t out;
  IcecamSrtpGcm *gcm_out; /* (nullable): RTP with AES-GCM, in place of libsrtp */
  IcecamSrtpGcm *gcm_rtcp_out; /* (nullable): RTCP with AES-GCM, likewise */
  guint64 rtp_protected;
  guint64 rtcp_protected;
  guint64 protect_failed;

  GMutex in_lock;  /* protects in, gcm_in, the SSRC list and the inbound counters */
  srtp_t in;
  IcecamSrtpGcm *gcm_in;
  IcecamSrtpGcm *gcm_rtcp_in;
  guint32 in_ssrcs[MAX_INBOUND_SSRCS];
  guint n_in_ssrcs;
  guint64 rtp_unprotected;
  guint64 rtcp_unprotected;
  guint64 dropped_auth;
  guint64 dropped_replay;
  guint64 dropped_other;
};

G_DEFINE_QUARK (icecam-srtp-error-quark, icecam_srtp_error)

static void
set_policy (srtp_policy_t *policy, IcecamSrtpProfile profile, guint8 *key_salt,
            srtp_ssrc_type_t type)
{
  memset (policy, 0, sizeof *policy);
  if (profile == ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy->rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth (&policy->rtcp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy->rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80 (&policy->rtcp);
  }
  policy->ssrc.type = type;
  policy->key = key_salt;
  policy->window_size = REPLAY_WINDOW;
  /* Two different packets under one sequence number would reuse keystream. */
  policy->allow_repeat_tx = 0;
}

/* Debian's libsrtp2 does its crypto with NSS and opens an NSS context for every cipher it
 * allocates; with no other context open, each one initialises NSS from nothing (loads
 * softokn3 and freebl, reads /dev/urandom ...) and shuts it down again when freed.
 * srtp_init()'s self-tests do that 14 times. One context held for the life of the process
 * turns the others into references: srtp_init() 5 ms instead of 30, srtp_create() 0.1 ms
 * instead of 1.5 (measured on Debian 12). */
static void
hold_nss (void)
{
#ifdef ICECAM_HAVE_NSS
  NSSInitContext *context = NSS_InitContext (
      "", "", "", "", NULL,
      NSS_INIT_READONLY | NSS_INIT_NOCERTDB | NSS_INIT_NOMODDB | NSS_INIT_FORCEOPEN |
          NSS_INIT_NOROOTINIT | NSS_INIT_OPTIMIZESPACE);

  if (context == NULL)
    g_debug ("srtp: no NSS context held; libsrtp will initialise NSS itself");
  /* never shut down: NSS stays initialised until the process ends */
#endif
}

/* libsrtp is initialised once per process; AES-GCM exists only in some of its builds
 * (Debian's uses NSS), so whether it works is found out by trying. */
static gpointer
init_libsrtp (gpointer data)
{
  guint8 key[MAX_KEY_SALT_LENGTH] = { 0 };
  srtp_policy_t policy;
  srtp_t probe = NULL;
  IcecamSrtpProfile supported = ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80;
  srtp_err_status_t status;

  hold_nss ();
  status = srtp_init ();

  if (status != srtp_err_status_ok) {
    g_warning ("srtp: srtp_init failed (%d): no SRTP", status);
    return GINT_TO_POINTER (ICECAM_SRTP_PROFILE_NONE + 1);
  }
  set_policy (&policy, ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM, key, ssrc_any_outbound);
  if (srtp_create (&probe, &policy) == srtp_err_status_ok) {
    supported |= ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM;
    srtp_dealloc (probe);
  }
  return GINT_TO_POINTER (supported + 1);
}

/**
 * icecam_srtp_get_supported_profiles:
 *
 * Initialises libsrtp on first use (thread-safe).
 *
 * Returns: the profiles this libsrtp build can do
 */
IcecamSrtpProfile
icecam_srtp_get_supported_profiles (void)
{
  static GOnce once = G_ONCE_INIT;

  return GPOINTER_TO_INT (g_once (&once, init_libsrtp, NULL)) - 1;
}

/**
 * icecam_srtp_get_handshake_profiles:
 *
 * The profiles a DTLS handshake may offer or accept. With AES-GCM done by OpenSSL (the
 * default, see icecam_srtp_gcm_enabled()) that is both profiles, known at once: a viewer's
 * offer then does not wait for libsrtp's initialisation (its self-tests take 5-13 ms, run in
 * a thread since the endpoint was made), which is only needed once the keys exist, for
 * AES-CM. Otherwise it is icecam_srtp_get_supported_profiles() (which may wait).
 *
 * Returns: the profiles to negotiate
 */
IcecamSrtpProfile
icecam_srtp_get_handshake_profiles (void)
{
  if (icecam_srtp_gcm_enabled ())
    return ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80 | ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM;
  return icecam_srtp_get_supported_profiles ();
}

static gpointer
prepare_thread (gpointer data)
{
  icecam_srtp_get_supported_profiles ();
  return NULL;
}

/**
 * icecam_srtp_prepare:
 *
 * Starts initialising libsrtp in a thread of its own, once per process, so that the first
 * session does not wait for it (~5-30 ms): endpoints call this when they are created, long
 * before their first DTLS handshake ends. A session that gets there first waits for it.
 */
void
icecam_srtp_prepare (void)
{
  static gsize started = 0;

  if (g_once_init_enter (&started)) {
    g_thread_unref (g_thread_new ("icecam-srtp", prepare_thread, NULL));
    g_once_init_leave (&started, 1);
  }
}

const gchar *
icecam_srtp_profile_to_string (IcecamSrtpProfile profile)
{
  switch (profile) {
    case ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80:
      return "SRTP_AES128_CM_SHA1_80";
    case ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM:
      return "SRTP_AEAD_AES_128_GCM";
    case ICECAM_SRTP_PROFILE_NONE:
    default:
      return "none";
  }
}

/* Master key and salt lengths (RFC 5764 section 4.1.2, RFC 7714 section 12). */
gsize
icecam_srtp_profile_get_key_length (IcecamSrtpProfile profile)
{
  return profile == ICECAM_SRTP_PROFILE_NONE ? 0 : 16;
}

gsize
icecam_srtp_profile_get_salt_length (IcecamSrtpProfile profile)
{
  switch (profile) {
    case ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80:
      return 14;
    case ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM:
      return 12;
    case ICECAM_SRTP_PROFILE_NONE:
    default:
      return 0;
  }
}

static srtp_t
create_session (IcecamSrtpProfile profile, const guint8 *key, const guint8 *salt,
                srtp_ssrc_type_t type, GError **error)
{
  gsize key_len = icecam_srtp_profile_get_key_length (profile);
  gsize salt_len = icecam_srtp_profile_get_salt_length (profile);
  guint8 key_salt[MAX_KEY_SALT_LENGTH];
  srtp_policy_t policy;
  srtp_t session = NULL;
  srtp_err_status_t status;

  memcpy (key_salt, key, key_len);
  memcpy (key_salt + key_len, salt, salt_len);
  set_policy (&policy, profile, key_salt, type);
  status = srtp_create (&session, &policy); /* derives session keys; keeps no pointer */
  OPENSSL_cleanse (key_salt, sizeof key_salt);
  if (status != srtp_err_status_ok) {
    g_set_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_INTERNAL,
                 "libsrtp cannot create a %s %s session (error %d)",
                 icecam_srtp_profile_to_string (profile),
                 type == ssrc_any_inbound ? "inbound" : "outbound", status);
    return NULL;
  }
  return session;
}

/**
 * icecam_srtp_new:
 * @profile: the negotiated profile (exactly one)
 * @local_key: (array): this side's write master key (16 bytes)
 * @local_salt: (array): this side's write master salt (14 or 12 bytes, per @profile)
 * @remote_key: (array): the peer's write master key
 * @remote_salt: (array): the peer's write master salt
 *
 * Returns: (transfer full) (nullable): the contexts, or %NULL with @error set
 */
IcecamSrtp *
icecam_srtp_new (IcecamSrtpProfile profile, const guint8 *local_key, const guint8 *local_salt,
                 const guint8 *remote_key, const guint8 *remote_salt, GError **error)
{
  IcecamSrtp *srtp;
  gboolean with_libsrtp;

  if (profile != ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80 &&
      profile != ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM) {
    g_set_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_INTERNAL,
                 "SRTP profile %s is not available", icecam_srtp_profile_to_string (profile));
    return NULL;
  }
  srtp = g_new0 (IcecamSrtp, 1);
  srtp->profile = profile;
  g_mutex_init (&srtp->out_lock);
  g_mutex_init (&srtp->in_lock);
  /* With AES-GCM, RTP and RTCP go through OpenSSL (see IcecamSrtpGcm); libsrtp keeps the
   * AES-CM profile. */
  if (profile == ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM && icecam_srtp_gcm_enabled ()) {
    srtp->gcm_out = icecam_srtp_gcm_new (local_key, local_salt, TRUE);
    srtp->gcm_in = icecam_srtp_gcm_new (remote_key, remote_salt, FALSE);
    srtp->gcm_rtcp_out = icecam_srtp_gcm_new_rtcp (local_key, local_salt, TRUE);
    srtp->gcm_rtcp_in = icecam_srtp_gcm_new_rtcp (remote_key, remote_salt, FALSE);
    if (srtp->gcm_out == NULL || srtp->gcm_in == NULL || srtp->gcm_rtcp_out == NULL ||
        srtp->gcm_rtcp_in == NULL) {
      g_debug ("srtp: OpenSSL's AES-GCM unavailable; RTP and RTCP through libsrtp");
      g_clear_pointer (&srtp->gcm_out, icecam_srtp_gcm_free);
      g_clear_pointer (&srtp->gcm_in, icecam_srtp_gcm_free);
      g_clear_pointer (&srtp->gcm_rtcp_out, icecam_srtp_gcm_free);
      g_clear_pointer (&srtp->gcm_rtcp_in, icecam_srtp_gcm_free);
    }
  }
  /* libsrtp's sessions: needed unless OpenSSL does it all; made as before when this libsrtp
   * can do the profile (which waits for its initialisation, long over by now). */
  with_libsrtp = (icecam_srtp_get_supported_profiles () & profile) != 0;
  if (srtp->gcm_out == NULL && !with_libsrtp) {
    g_set_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_INTERNAL,
                 "SRTP profile %s is not available", icecam_srtp_profile_to_string (profile));
    icecam_srtp_free (srtp);
    return NULL;
  }
  if (with_libsrtp) {
    srtp->out = create_session (profile, local_key, local_salt, ssrc_any_outbound, error);
    srtp->in = srtp->out == NULL ? NULL
               : create_session (profile, remote_key, remote_salt, ssrc_any_inbound, error);
    if (srtp->in == NULL) {
      icecam_srtp_free (srtp);
      return NULL;
    }
  }
  return srtp;
}

void
icecam_srtp_free (IcecamSrtp *srtp)
{
  if (srtp == NULL)
    return;
  if (srtp->out != NULL)
    srtp_dealloc (srtp->out);
  if (srtp->in != NULL)
    srtp_dealloc (srtp->in);
  icecam_srtp_gcm_free (srtp->gcm_out);
  icecam_srtp_gcm_free (srtp->gcm_in);
  icecam_srtp_gcm_free (srtp->gcm_rtcp_out);
  icecam_srtp_gcm_free (srtp->gcm_rtcp_in);
  g_mutex_clear (&srtp->out_lock);
  g_mutex_clear (&srtp->in_lock);
  g_free (srtp);
}

IcecamSrtpProfile
icecam_srtp_get_profile (IcecamSrtp *srtp)
{
  return srtp->profile;
}

/* RFC 3550 section 5.1: the fixed header, the CSRCs and the header extension all fit. */
static gboolean
rtp_header_fits (const guint8 *p, gsize length)
{
  gsize header = 12;

  if (length < header || (p[0] >> 6) != 2)
    return FALSE;
  header += 4 * (gsize) (p[0] & 0x0f);
  if (p[0] & 0x10) {
    if (header + 4 > length)
      return FALSE;
    header += 4 + 4 * (((gsize) p[header + 2] << 8) | p[header + 3]);
  }
  return header <= length;
}

static guint32
read_u32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

/* IcecamSrtpGcm's results as libsrtp's, for the counters and errors both share. */
static srtp_err_status_t
gcm_status (IcecamSrtpGcmResult result)
{
  switch (result) {
    case ICECAM_SRTP_GCM_OK:
      return srtp_err_status_ok;
    case ICECAM_SRTP_GCM_AUTH:
      return srtp_err_status_auth_fail;
    case ICECAM_SRTP_GCM_REPLAY:
      return srtp_err_status_replay_fail;
    case ICECAM_SRTP_GCM_REPLAY_OLD:
      return srtp_err_status_replay_old;
    case ICECAM_SRTP_GCM_MALFORMED:
      return srtp_err_status_bad_param;
    case ICECAM_SRTP_GCM_LIMIT:
    case ICECAM_SRTP_GCM_INTERNAL:
    default:
      return srtp_err_status_fail;
  }
}

/**
 * icecam_srtp_protect:
 * @rtcp: whether @in is an RTCP packet (else RTP)
 * @in: (array length=length): the plaintext packet
 * @out: (array): where the protected packet goes; may be @in itself
 * @out_length: (inout): the room at @out (at least @length + %ICECAM_SRTP_MAX_OVERHEAD);
 *   the protected length on return
 * @error: (optional): why not
 *
 * Thread-safe.
 */
gboolean
icecam_srtp_protect (IcecamSrtp *srtp, gboolean rtcp, const guint8 *in, gsize length,
                     guint8 *out, gsize *out_length, GError **error)
{
  srtp_err_status_t status;
  int len = (int) length;
  gsize done = 0;

  /* An RTP packet whose second byte (marker and payload type) reads as RTCP's (payload types
   * 64-95 with the marker, RFC 5761 section 4) would be taken for RTCP by the receiver of a
   * muxed session and refused there: not sent (found by fuzz/fuzz-srtp.c). */
  if (length > MAX_PACKET_LENGTH || *out_length < length + ICECAM_SRTP_MAX_OVERHEAD ||
      (rtcp ? !icecam_rtp_is_rtcp (in, length)
            : !rtp_header_fits (in, length) || icecam_rtp_is_rtcp (in, length))) {
    g_mutex_lock (&srtp->out_lock);
    srtp->protect_failed++;
    g_mutex_unlock (&srtp->out_lock);
    g_set_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_MALFORMED,
                 "cannot protect %" G_GSIZE_FORMAT " bytes as %s into %" G_GSIZE_FORMAT
                 " bytes", length, rtcp ? "RTCP" : "RTP", *out_length);
    return FALSE;
  }
  if (out != in)
    memcpy (out, in, length);
  g_mutex_lock (&srtp->out_lock);
  if (srtp->gcm_out != NULL) {
    status = gcm_status (rtcp ? icecam_srtp_gcm_protect_rtcp (srtp->gcm_rtcp_out, out, length,
                                                              *out_length, &done)
                              : icecam_srtp_gcm_protect (srtp->gcm_out, out, length,
                                                         *out_length, &done));
    len = (int) done;
  } else {
    status = rtcp ? srtp_protect_rtcp (srtp->out, out, &len) : srtp_protect (srtp->out, out, &len);
  }
  if (status == srtp_err_status_ok) {
    if (rtcp)
      srtp->rtcp_protected++;
    else
      srtp->rtp_protected++;
  } else {
    srtp->protect_failed++;
  }
  g_mutex_unlock (&srtp->out_lock);
  if (status != srtp_err_status_ok) {
    g_set_error (error, ICECAM_SRTP_ERROR,
                 status == srtp_err_status_replay_fail ? ICECAM_SRTP_ERROR_REPLAY
                                                       : ICECAM_SRTP_ERROR_INTERNAL,
                 "libsrtp cannot protect this %s packet (error %d)", rtcp ? "RTCP" : "RTP",
                 status);
    return FALSE;
  }
  *out_length = (gsize) len;
  return TRUE;
}

/* Called with in_lock held. */
static gboolean
ssrc_is_known (IcecamSrtp *srtp, guint32 ssrc)
{
  for (guint i = 0; i < srtp->n_in_ssrcs; i++) {
    if (srtp->in_ssrcs[i] == ssrc)
      return TRUE;
  }
  return FALSE;
}

static gint
unprotect_error_code (srtp_err_status_t status)
{
  switch (status) {
    case srtp_err_status_auth_fail:
      return ICECAM_SRTP_ERROR_AUTH;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
      return ICECAM_SRTP_ERROR_REPLAY;
    default:
      return ICECAM_SRTP_ERROR_MALFORMED;
  }
}

/**
 * icecam_srtp_unprotect:
 * @in: (array length=length): an SRTP or SRTCP packet from the network
 * @out: (array): where the plaintext goes; may be @in itself
 * @out_length: (inout): the room at @out (at least @length); the plaintext length on return
 * @is_rtcp: (out) (optional): whether it was SRTCP
 * @error: (optional): why it was dropped
 *
 * Checks the header bounds, the SSRC bound, the authentication tag and the replay window,
 * in that order. Thread-safe.
 */
gboolean
icecam_srtp_unprotect (IcecamSrtp *srtp, const guint8 *in, gsize length, guint8 *out,
                       gsize *out_length, gboolean *is_rtcp, GError **error)
{
  gboolean rtcp = icecam_rtp_is_rtcp (in, length);
  guint32 ssrc;
  srtp_err_status_t status;
  int len = (int) length;
  gint code;

  if (length > MAX_PACKET_LENGTH || *out_length < length ||
      (!rtcp && !rtp_header_fits (in, length)) || (rtcp && length < 12)) {
    g_mutex_lock (&srtp->in_lock);
    srtp->dropped_other++;
    g_mutex_unlock (&srtp->in_lock);
    g_set_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_MALFORMED,
                 "%" G_GSIZE_FORMAT "-byte packet is not SRTP or SRTCP (or no room for it)",
                 length);
    return FALSE;
  }
  ssrc = read_u32 (in + (rtcp ? 4 : 8));

  g_mutex_lock (&srtp->in_lock);
  if (!ssrc_is_known (srtp, ssrc) && srtp->n_in_ssrcs >= MAX_INBOUND_SSRCS) {
    srtp->dropped_other++;
    g_mutex_unlock (&srtp->in_lock);
    g_set_error (error, ICECAM_SRTP_ERROR, ICECAM_SRTP_ERROR_LIMIT,
                 "SSRC %08x would be the peer's %dth: dropped", ssrc, MAX_INBOUND_SSRCS + 1);
    return FALSE;
  }
  if (out != in)
    memcpy (out, in, length);
  if (srtp->gcm_in != NULL) {
    gsize done = 0;

    status = gcm_status (rtcp ? icecam_srtp_gcm_unprotect_rtcp (srtp->gcm_rtcp_in, out, length,
                                                                &done)
                              : icecam_srtp_gcm_unprotect (srtp->gcm_in, out, length, &done));
    len = (int) done;
  } else {
    status = rtcp ? srtp_unprotect_rtcp (srtp->in, out, &len) : srtp_unprotect (srtp->in, out, &len);
  }
  code = unprotect_error_code (status);
  if (status == srtp_err_status_ok) {
    if (!ssrc_is_known (srtp, ssrc))
      srtp->in_ssrcs[srtp->n_in_ssrcs++] = ssrc; /* only once authenticated */
    if (rtcp)
      srtp->rtcp_unprotected++;
    else
      srtp->rtp_unprotected++;
  } else if (code == ICECAM_SRTP_ERROR_AUTH) {
    srtp->dropped_auth++;
  } else if (code == ICECAM_SRTP_ERROR_REPLAY) {
    srtp->dropped_replay++;
  } else {
    srtp->dropped_other++;
  }
  g_mutex_unlock (&srtp->in_lock);

  if (status != srtp_err_status_ok) {
    g_set_error (error, ICECAM_SRTP_ERROR, code, "%s packet (SSRC %08x) dropped: %s",
                 rtcp ? "SRTCP" : "SRTP", ssrc,
                 code == ICECAM_SRTP_ERROR_AUTH     ? "authentication failed"
                 : code == ICECAM_SRTP_ERROR_REPLAY ? "replayed"
                                                    : "malformed");
    return FALSE;
  }
  if (is_rtcp != NULL)
    *is_rtcp = rtcp;
  *out_length = (gsize) len;
  return TRUE;
}

/**
 * icecam_srtp_get_stats:
 *
 * Thread-safe.
 */
void
icecam_srtp_get_stats (IcecamSrtp *srtp, IcecamSrtpStats *stats)
{
  g_mutex_lock (&srtp->out_lock);
  stats->rtp_protected = srtp->rtp_protected;
  stats->rtcp_protected = srtp->rtcp_protected;
  stats->protect_failed = srtp->protect_failed;
  g_mutex_unlock (&srtp->out_lock);
  g_mutex_lock (&srtp->in_lock);
  stats->rtp_unprotected = srtp->rtp_unprotected;
  stats->rtcp_unprotected = srtp->rtcp_unprotected;
  stats->dropped_auth = srtp->dropped_auth;
  stats->dropped_replay = srtp->dropped_replay;
  stats->dropped_other = srtp->dropped_other;
  g_mutex_unlock (&srtp->in_lock);
}
