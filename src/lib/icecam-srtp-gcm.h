/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* SRTP AEAD_AES_128_GCM (RFC 7714) for RTP and RTCP through OpenSSL's EVP: the per-packet fast
 * path. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Packets either way per SSRC remembered for the replay check, as libsrtp's window. */
#define ICECAM_SRTP_GCM_WINDOW 1024
/* SSRCs one direction keeps state for (icecam sends two or three: video, RTX, audio; IcecamSrtp
 * accepts 16 from a peer). */
#define ICECAM_SRTP_GCM_MAX_STREAMS 32
#define ICECAM_SRTP_GCM_TAG_LENGTH 16

typedef enum {
  ICECAM_SRTP_GCM_OK,
  ICECAM_SRTP_GCM_MALFORMED, /* header, room or length wrong */
  ICECAM_SRTP_GCM_AUTH,      /* the tag did not verify (unprotect) */
  ICECAM_SRTP_GCM_REPLAY,    /* this index was seen (or sent) already */
  ICECAM_SRTP_GCM_REPLAY_OLD, /* older than the window */
  ICECAM_SRTP_GCM_LIMIT,     /* one SSRC too many */
  ICECAM_SRTP_GCM_INTERNAL,  /* OpenSSL failed */
} IcecamSrtpGcmResult;

typedef struct _IcecamSrtpGcm IcecamSrtpGcm;

IcecamSrtpGcm *icecam_srtp_gcm_new (const guint8 *master_key, const guint8 *master_salt,
                                    gboolean outbound);
IcecamSrtpGcm *icecam_srtp_gcm_new_rtcp (const guint8 *master_key, const guint8 *master_salt,
                                         gboolean outbound);
void icecam_srtp_gcm_free (IcecamSrtpGcm *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamSrtpGcm, icecam_srtp_gcm_free)

IcecamSrtpGcmResult icecam_srtp_gcm_protect (IcecamSrtpGcm *self, guint8 *packet, gsize length,
                                             gsize room, gsize *out_length);
IcecamSrtpGcmResult icecam_srtp_gcm_unprotect (IcecamSrtpGcm *self, guint8 *packet, gsize length,
                                               gsize *out_length);
IcecamSrtpGcmResult icecam_srtp_gcm_protect_rtcp (IcecamSrtpGcm *self, guint8 *packet,
                                                  gsize length, gsize room, gsize *out_length);
IcecamSrtpGcmResult icecam_srtp_gcm_unprotect_rtcp (IcecamSrtpGcm *self, guint8 *packet,
                                                    gsize length, gsize *out_length);

gboolean icecam_srtp_gcm_derive (const guint8 *master_key, const guint8 *master_salt,
                                 gsize salt_length, guint8 label, guint8 *out, gsize out_length);

gboolean icecam_srtp_gcm_enabled (void);

G_END_DECLS
