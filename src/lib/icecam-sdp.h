/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The SDP (RFC 8866) subset icecam offers and answers with: RTP media sections bundled on one
 * ICE/DTLS transport (RFC 8843), as a standard WebRTC stack (JSEP, RFC 8829) expects. */

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

/* At most this many media sections are read; more is an error. */
#define ICECAM_SDP_MAX_MEDIA 8

/**
 * IcecamSdpMedia:
 * @kind: "video" or "audio"
 * @mid: (nullable): a=mid (RFC 8843); when writing, %NULL stands for the section's index
 * @payload_type: the one RTP payload type used, the m= line's first, 0..127
 * @rtpmap: the value of a=rtpmap after the payload type, e.g. "H264/90000"
 * @fmtp: (nullable): the value of a=fmtp after the payload type
 * @rtcp_fb: (element-type utf8): a=rtcp-fb values (RFC 4585) for the payload type (or "*"),
 *   after it, e.g. "nack pli"
 * @direction: a=sendonly / recvonly / sendrecv
 * @ssrc: the first a=ssrc (RFC 5576) of the section, 0 if none
 * @cname: (nullable): its "cname:" source attribute
 * @msid: (nullable): a=msid (RFC 8830), "<stream id> <track id>"
 * @rtx_payload_type: the retransmission payload type (RFC 4588: "rtx/<clock rate>" with
 *   "apt=" the section's payload type), 0 if none
 * @rtx_ssrc: the retransmission stream's SSRC (a=ssrc-group:FID after @ssrc), 0 if none
 *
 * One RTP media section.
 */
typedef struct {
  gchar *kind;
  gchar *mid;
  guint payload_type;
  gchar *rtpmap;
  gchar *fmtp;
  GPtrArray *rtcp_fb;
  IcecamSdpDirection direction;
  guint32 ssrc;
  gchar *cname;
  gchar *msid;
  guint rtx_payload_type;
  guint32 rtx_ssrc;
} IcecamSdpMedia;

IcecamSdpMedia *icecam_sdp_media_new (const gchar *kind, guint payload_type, const gchar *rtpmap,
                                      const gchar *fmtp);
IcecamSdpMedia *icecam_sdp_media_copy (const IcecamSdpMedia *media);
void icecam_sdp_media_free (IcecamSdpMedia *media);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamSdpMedia, icecam_sdp_media_free)

/**
 * IcecamSdp:
 * @media: (element-type IcecamSdpMedia): the media sections, in order; all bundled on the
 *   transport below (the first section's, RFC 8843 "BUNDLE-tag")
 * @ice_ufrag: a=ice-ufrag
 * @ice_pwd: a=ice-pwd
 * @candidates: (element-type utf8): "candidate:..." values present in the SDP
 * @end_of_candidates: whether a=end-of-candidates was present
 * @fingerprint: (nullable): a=fingerprint (RFC 8122), e.g. "sha-256 AB:CD:..": media-level
 *   over session-level, sha-256 over other hashes. When set, the m= lines' profile is
 *   UDP/TLS/RTP/SAVPF (DTLS-SRTP, RFC 5764), else RTP/AVPF
 * @setup: (nullable): a=setup (RFC 4145): "actpass", "active" or "passive"
 * @signalled_dtls: a=x-icecam-signalled-dtls at session level: the sender takes DTLS handshake
 *   datagrams through signalling (`dtls` messages) until its ICE pair is selected
 *
 * A session description: media sections and the one transport they share, with the ICE
 * attributes of RFC 8839. Parse and build are pure.
 */
typedef struct {
  GPtrArray *media;
  gchar *ice_ufrag;
  gchar *ice_pwd;
  GPtrArray *candidates;
  gboolean end_of_candidates;
  gchar *fingerprint;
  gchar *setup;
  gboolean signalled_dtls;
} IcecamSdp;

IcecamSdp *icecam_sdp_new (void);
void icecam_sdp_free (IcecamSdp *sdp);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamSdp, icecam_sdp_free)

/**
 * icecam_sdp_add_media:
 * @media: (transfer full): a section to append
 *
 * Returns: (transfer none): @media
 */
IcecamSdpMedia *icecam_sdp_add_media (IcecamSdp *sdp, IcecamSdpMedia *media);

/**
 * icecam_sdp_get_media:
 *
 * Returns: (transfer none) (nullable): the @index-th media section
 */
const IcecamSdpMedia *icecam_sdp_get_media (const IcecamSdp *sdp, guint index);

/**
 * icecam_sdp_parse:
 * @text: SDP text, lines ended by CRLF or LF
 * @error: an %ICECAM_SDP_ERROR naming the offending line
 *
 * Reads every audio or video RTP media section (sections of other kinds, such as a data
 * channel, are skipped; a description without any usable one is refused). The transport
 * (ICE credentials and candidates, DTLS fingerprint and setup) is read at session level and in
 * the first media section, the one a bundle's transport belongs to; later sections' transport
 * attributes are ignored. Lines icecam does not use (extmap, ssrc-group, rtcp-rsize, ...) are
 * skipped. Requires m=, ICE credentials, an rtpmap for each section's first payload type, and
 * a=fingerprint when an m= profile is secure (SAVP/SAVPF).
 *
 * Returns: (transfer full) (nullable): the description, or %NULL with @error set
 */
IcecamSdp *icecam_sdp_parse (const gchar *text, GError **error);

/**
 * icecam_sdp_to_string:
 * @sdp: a description with at least one media section (kind, payload type, rtpmap) and ICE
 *   credentials set
 * @session_id: the o= line's session id
 *
 * Writes every section into one a=group:BUNDLE, each with its mid, the transport attributes
 * (candidates in the first only) and rtcp-mux; a=msid-semantic when a section has a=msid.
 *
 * Returns: (transfer full): SDP text with CRLF line ends
 */
gchar *icecam_sdp_to_string (const IcecamSdp *sdp, guint64 session_id);

G_END_DECLS
