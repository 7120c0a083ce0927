/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The small SDP (RFC 8866) subset icecam offers and answers with: one RTP media section. */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define ICECAM_SDP_ERROR (icecam_sdp_error_quark ())
GQuark icecam_sdp_error_quark (void);

typedef enum {
  ICECAM_SDP_ERROR_MALFORMED,   /* a line that is not "x=value", or a broken attribute */
  ICECAM_SDP_ERROR_UNSUPPORTED, /* well-formed, but not something icecam can use */
  ICECAM_SDP_ERROR_MISSING,     /* a required line (m=, ice-ufrag, ice-pwd, rtpmap) is absent */
} IcecamSdpError;

typedef enum {
  ICECAM_SDP_DIRECTION_SENDRECV,
  ICECAM_SDP_DIRECTION_SENDONLY,
  ICECAM_SDP_DIRECTION_RECVONLY,
} IcecamSdpDirection;

/**
 * IcecamSdp:
 * @media: "video" or "audio"
 * @payload_type: the one RTP payload type, 0..127
 * @rtpmap: the value of a=rtpmap after the payload type, e.g. "H264/90000"
 * @fmtp: (nullable): the value of a=fmtp after the payload type
 * @direction: a=sendonly / recvonly / sendrecv
 * @ice_ufrag: a=ice-ufrag
 * @ice_pwd: a=ice-pwd
 * @candidates: (element-type utf8): "candidate:..." values present in the SDP
 * @end_of_candidates: whether a=end-of-candidates was present
 * @fingerprint: (nullable): a=fingerprint (RFC 8122), e.g. "sha-256 AB:CD:..": media-level
 *   over session-level, sha-256 over other hashes. When set, the m= line's profile is
 *   UDP/TLS/RTP/SAVPF (DTLS-SRTP, RFC 5764), else RTP/AVPF
 * @setup: (nullable): a=setup (RFC 4145): "actpass", "active" or "passive"
 *
 * One media section with the ICE attributes of RFC 8839. Parse and build are pure.
 */
typedef struct {
  gchar *media;
  guint payload_type;
  gchar *rtpmap;
  gchar *fmtp;
  IcecamSdpDirection direction;
  gchar *ice_ufrag;
  gchar *ice_pwd;
  GPtrArray *candidates;
  gboolean end_of_candidates;
  gchar *fingerprint;
  gchar *setup;
} IcecamSdp;

IcecamSdp *icecam_sdp_new (void);
void icecam_sdp_free (IcecamSdp *sdp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamSdp, icecam_sdp_free)

/**
 * icecam_sdp_parse:
 * @text: SDP text, lines ended by CRLF or LF
 * @error: an %ICECAM_SDP_ERROR naming the offending line
 *
 * Reads the first media section; later media sections are ignored. Requires m=, ICE
 * credentials and an rtpmap for the media section's first payload type, and a=fingerprint
 * when the m= profile is secure (SAVP/SAVPF).
 *
 * Returns: (transfer full) (nullable): the description, or %NULL with @error set
 */
IcecamSdp *icecam_sdp_parse (const gchar *text, GError **error);

/**
 * icecam_sdp_to_string:
 * @sdp: a description with media, payload type, rtpmap and ICE credentials set
 * @session_id: the o= line's session id
 *
 * Returns: (transfer full): SDP text with CRLF line ends
 */
gchar *icecam_sdp_to_string (const IcecamSdp *sdp, guint64 session_id);

G_END_DECLS
