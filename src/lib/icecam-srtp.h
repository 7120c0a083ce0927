/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SRTP/SRTCP (RFC 3711, 7714) for one DTLS-SRTP association: keys in, packets protected. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define ICECAM_SRTP_ERROR (icecam_srtp_error_quark ())
GQuark icecam_srtp_error_quark (void);

/* Why one packet was not protected or not delivered; the session itself is unaffected. */
typedef enum {
  ICECAM_SRTP_ERROR_NOT_READY, /* no keys yet (handshake not done) or the session ended */
  ICECAM_SRTP_ERROR_MALFORMED, /* too short, too long, not RTP/RTCP, or no room for the tag */
  ICECAM_SRTP_ERROR_AUTH,      /* the authentication tag does not verify: forged or damaged */
  ICECAM_SRTP_ERROR_REPLAY,    /* already received, or older than the replay window */
  ICECAM_SRTP_ERROR_LIMIT,     /* a new SSRC beyond the per-session bound */
  ICECAM_SRTP_ERROR_INTERNAL,  /* libsrtp refused for another reason */
} IcecamSrtpError;

/**
 * IcecamSrtpProfile:
 * @ICECAM_SRTP_PROFILE_NONE: none (not negotiated yet)
 * @ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80: SRTP_AES128_CM_HMAC_SHA1_80 (RFC 5764), the one
 *   every implementation has
 * @ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM: SRTP_AEAD_AES_128_GCM (RFC 7714)
 *
 * Flags, so that a set of acceptable profiles can be given.
 */
typedef enum {
  ICECAM_SRTP_PROFILE_NONE = 0,
  ICECAM_SRTP_PROFILE_AES128_CM_SHA1_80 = 1 << 0,
  ICECAM_SRTP_PROFILE_AEAD_AES_128_GCM = 1 << 1,
} IcecamSrtpProfile;

/* The most a protected packet can exceed its plaintext by, with the room libsrtp demands
 * (SRTP_MAX_TRAILER_LEN: 16-byte tag + 128-byte MKI it never writes here) and the 4-byte
 * SRTCP index: size output buffers as input + this. */
#define ICECAM_SRTP_MAX_OVERHEAD 148

typedef struct _IcecamSrtp IcecamSrtp;

typedef struct {
  guint64 rtp_protected;
  guint64 rtcp_protected;
  guint64 protect_failed;
  guint64 rtp_unprotected;
  guint64 rtcp_unprotected;
  guint64 dropped_auth;
  guint64 dropped_replay;
  guint64 dropped_other;
} IcecamSrtpStats;

IcecamSrtpProfile icecam_srtp_get_supported_profiles (void);
IcecamSrtpProfile icecam_srtp_get_handshake_profiles (void);
void icecam_srtp_prepare (void);
const gchar *icecam_srtp_profile_to_string (IcecamSrtpProfile profile);
gsize icecam_srtp_profile_get_key_length (IcecamSrtpProfile profile);
gsize icecam_srtp_profile_get_salt_length (IcecamSrtpProfile profile);

IcecamSrtp *icecam_srtp_new (IcecamSrtpProfile profile, const guint8 *local_key,
                             const guint8 *local_salt, const guint8 *remote_key,
                             const guint8 *remote_salt, GError **error);
void icecam_srtp_free (IcecamSrtp *srtp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamSrtp, icecam_srtp_free)

IcecamSrtpProfile icecam_srtp_get_profile (IcecamSrtp *srtp);
gboolean icecam_srtp_protect (IcecamSrtp *srtp, gboolean rtcp, const guint8 *in, gsize length,
                              guint8 *out, gsize *out_length, GError **error);
gboolean icecam_srtp_unprotect (IcecamSrtp *srtp, const guint8 *in, gsize length, guint8 *out,
                                gsize *out_length, gboolean *is_rtcp, GError **error);
void icecam_srtp_get_stats (IcecamSrtp *srtp, IcecamSrtpStats *stats);

G_END_DECLS
