/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* DTLS-SRTP (RFC 5764) for one session: datagrams in, datagrams out; no sockets, no GStreamer. */

#pragma once

#include <glib-object.h>

#include "icecam-certificate.h"
#include "icecam-srtp.h"

G_BEGIN_DECLS

#define ICECAM_DTLS_SRTP_ERROR (icecam_dtls_srtp_error_quark ())
GQuark icecam_dtls_srtp_error_quark (void);

/* Why a session failed. Why one packet was dropped is an %ICECAM_SRTP_ERROR. */
typedef enum {
  ICECAM_DTLS_SRTP_ERROR_FINGERPRINT, /* the peer's certificate is not the expected one */
  ICECAM_DTLS_SRTP_ERROR_HANDSHAKE,   /* an alert, a protocol error, no common SRTP profile */
  ICECAM_DTLS_SRTP_ERROR_TIMEOUT,     /* the handshake did not complete in time */
  ICECAM_DTLS_SRTP_ERROR_INTERNAL,    /* OpenSSL or libsrtp refused something locally */
} IcecamDtlsSrtpError;

/**
 * IcecamDtlsState:
 * @ICECAM_DTLS_STATE_NEW: created, icecam_dtls_srtp_start() not called yet
 * @ICECAM_DTLS_STATE_CONNECTING: handshake under way (a server waits for the ClientHello)
 * @ICECAM_DTLS_STATE_CONNECTED: the peer proved the expected fingerprint; SRTP keys are
 *   installed and media flows both ways
 * @ICECAM_DTLS_STATE_FAILED: handshake failed, timed out, the fingerprint did not match or
 *   the peer sent a fatal alert; see icecam_dtls_srtp_get_error(). Final.
 * @ICECAM_DTLS_STATE_CLOSED: closed by icecam_dtls_srtp_close() or by the peer's
 *   close_notify. Final.
 */
typedef enum {
  ICECAM_DTLS_STATE_NEW,
  ICECAM_DTLS_STATE_CONNECTING,
  ICECAM_DTLS_STATE_CONNECTED,
  ICECAM_DTLS_STATE_FAILED,
  ICECAM_DTLS_STATE_CLOSED,
} IcecamDtlsState;

/**
 * IcecamDtlsSrtpResult:
 * @ICECAM_DTLS_SRTP_RESULT_MEDIA: the packet was SRTP/SRTCP and its plaintext RTP/RTCP is
 *   in @out
 * @ICECAM_DTLS_SRTP_RESULT_CONSUMED: the packet was DTLS and went to the handshake
 * @ICECAM_DTLS_SRTP_RESULT_DROPPED: nothing to deliver; @error (an %ICECAM_SRTP_ERROR) says
 *   why: not DTLS/SRTP, no keys yet, failed authentication, replayed, malformed
 */
typedef enum {
  ICECAM_DTLS_SRTP_RESULT_MEDIA,
  ICECAM_DTLS_SRTP_RESULT_CONSUMED,
  ICECAM_DTLS_SRTP_RESULT_DROPPED,
} IcecamDtlsSrtpResult;

/**
 * IcecamDtlsSendFunc:
 * @data: (array length=length): one datagram (DTLS records) to send to the peer over ICE
 *
 * Called without any lock held, from the thread that called icecam_dtls_srtp_start(),
 * _handle_incoming() or _close(), or from the creator's GMainContext (retransmissions).
 */
typedef void (*IcecamDtlsSendFunc) (const guint8 *data, gsize length, gpointer user_data);

/**
 * IcecamDtlsSrtpStats:
 * @srtp: the SRTP counters (all zero before %ICECAM_DTLS_STATE_CONNECTED)
 * @dtls_received: DTLS datagrams fed to the handshake
 * @dtls_sent: DTLS datagrams handed to the send function
 * @dropped_not_ready: SRTP packets that arrived before the keys (or after the end)
 * @dropped_unknown: packets whose first byte is neither DTLS nor SRTP (RFC 7983)
 */
typedef struct {
  IcecamSrtpStats srtp;
  guint64 dtls_received;
  guint64 dtls_sent;
  guint64 dropped_not_ready;
  guint64 dropped_unknown;
} IcecamDtlsSrtpStats;

#define ICECAM_TYPE_DTLS_SRTP (icecam_dtls_srtp_get_type ())
G_DECLARE_FINAL_TYPE (IcecamDtlsSrtp, icecam_dtls_srtp, ICECAM, DTLS_SRTP, GObject)

IcecamDtlsSrtp *icecam_dtls_srtp_new (IcecamCertificate *local, gboolean is_client,
                                      const gchar *expected_remote_fingerprint, GError **error);
void icecam_dtls_srtp_set_send_func (IcecamDtlsSrtp *self, IcecamDtlsSendFunc func,
                                     gpointer user_data, GDestroyNotify notify);
gboolean icecam_dtls_srtp_set_profiles (IcecamDtlsSrtp *self, IcecamSrtpProfile profiles,
                                        GError **error);
void icecam_dtls_srtp_start (IcecamDtlsSrtp *self);
IcecamDtlsSrtpResult icecam_dtls_srtp_handle_incoming (IcecamDtlsSrtp *self, const guint8 *data,
                                                       gsize length, guint8 *out,
                                                       gsize *out_length, GError **error);
gboolean icecam_dtls_srtp_protect_rtp (IcecamDtlsSrtp *self, const guint8 *in, gsize length,
                                       guint8 *out, gsize *out_length);
gboolean icecam_dtls_srtp_protect_rtcp (IcecamDtlsSrtp *self, const guint8 *in, gsize length,
                                        guint8 *out, gsize *out_length);
void icecam_dtls_srtp_close (IcecamDtlsSrtp *self);

IcecamDtlsState icecam_dtls_srtp_get_state (IcecamDtlsSrtp *self);
const GError *icecam_dtls_srtp_get_error (IcecamDtlsSrtp *self);
gboolean icecam_dtls_srtp_is_client (IcecamDtlsSrtp *self);
IcecamSrtpProfile icecam_dtls_srtp_get_profile (IcecamDtlsSrtp *self);
gchar *icecam_dtls_srtp_dup_remote_fingerprint (IcecamDtlsSrtp *self);
void icecam_dtls_srtp_get_stats (IcecamDtlsSrtp *self, IcecamDtlsSrtpStats *stats);

const gchar *icecam_dtls_state_to_string (IcecamDtlsState state);

G_END_DECLS
