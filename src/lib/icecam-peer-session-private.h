/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the files of IcecamPeerSession share: the object, and the functions of each part. */

#pragma once

#include "icecam-peer-session.h"

G_BEGIN_DECLS

/* RTP sources counted for sender reports: video and audio, with room to spare. */
#define ICECAM_PEER_SESSION_MAX_SOURCES 4

/* What the offerer sent this peer from one SSRC. */
typedef struct {
  guint32 ssrc;
  guint8 payload_type;     /* of its latest packet */
  guint32 packets;         /* RTP packets handed to the transport (wraps, as RFC 3550 says) */
  guint32 octets;          /* their payload octets */
  guint32 last_timestamp;  /* RTP timestamp of the latest packet */
  gint64 last_sent;        /* monotonic µs when it went */
  gint64 last_reported;    /* last_sent when the latest report went */
} IcecamRtpSource;

struct _IcecamPeerSession {
  GObject parent;

  gchar *id;
  IcecamPeerRole role;
  IcecamCertificate *certificate;
  IcecamIceConfig *config;        /* for the next ICE transport */
  IcecamPeerPolicy policy;
  GMainContext *context;
  gchar *pinned_fingerprint;      /* normalised; answerer only */
  gchar *remote_fingerprint;      /* normalised, from the first remote description */
  gchar *remote_ufrag;            /* of the remote description the transport uses */
  GError *error;
  guint restarts;                 /* in a row, since the last selected pair */
  guint transports;               /* ICE transports made so far (1 + restarts in all) */
  gboolean transport_needed;      /* offerer: the next offer makes a new ICE transport */
  GSource *connect_timeout;
  GSource *recovery_timeout;
  GSource *stall_check;           /* while CONNECTED with a media timeout */
  gint64 last_receive;            /* monotonic µs of the last packet from the peer; 0: none
                                   * since the session last became CONNECTED */
  gboolean stalled;               /* "media-stalled" was emitted for the current silence */
  gboolean connected_once;        /* the session was CONNECTED: a pair and the peer proved (a
                                   * handshake through signalling alone proves no path) */
  IcecamRtpClock *capture_clock;  /* (nullable): when each source's content was captured */

  IcecamPeerReceiveFunc receive_func;
  gpointer receive_data;
  GDestroyNotify receive_notify;

  guint pending_closes;           /* ICE transports still closing */
  GTask *close_task;

  GMutex lock;                    /* protects the fields below */
  IcecamPeerState state;
  IcecamIceSession *ice;          /* the current transport; NULL between a death and a restart */
  IcecamDtlsSrtp *dtls;           /* from the first remote description on */
  gboolean selected;              /* the current transport has a selected pair */
  GQueue pending_dtls;            /* GBytes: DTLS records waiting for a selected pair */
  gboolean signalled_dtls;        /* this end's descriptions offer DTLS through signalling */
  gboolean remote_signalled_dtls; /* and the peer's first description did */
  gboolean signalled_dtls_received; /* a DTLS datagram came that way: it delivers */
  GQueue signalled_in;            /* GBytes: those datagrams, for signalled_idle */
  GSource *signalled_idle;        /* feeds them to DTLS at idle priority */
  IcecamRtpSource sources[ICECAM_PEER_SESSION_MAX_SOURCES];
  guint n_sources;
  gint64 next_report;             /* offerer, while CONNECTED: monotonic µs when the next RTCP
                                   * sender reports are due (with the media); 0: none */
  guint32 clock_rates[128];       /* RTP clock rate by payload type, from the offered media */
  gchar *cname;                   /* of the offered sources; set once */
};

gboolean icecam_peer_session_state_is_final (IcecamPeerState state);
void icecam_peer_session_set_state (IcecamPeerSession *self, IcecamPeerState state);
void icecam_peer_session_fail (IcecamPeerSession *self, GError *error);
void icecam_peer_session_clear_source (GSource **source);
void icecam_peer_session_drop_transport (IcecamPeerSession *self);
gboolean icecam_peer_session_make_transport (IcecamPeerSession *self, GError **error);
void icecam_peer_session_update_connected (IcecamPeerSession *self);
void icecam_peer_session_dtls_send_cb (const guint8 *data, gsize length, gpointer user_data);
void icecam_peer_session_flush_pending_dtls (IcecamPeerSession *self);
void icecam_peer_session_emit_signalled_dtls (IcecamPeerSession *self, GBytes *datagram);
void icecam_peer_session_on_ice_receive (const guint8 *data, gsize length, gpointer user_data);
void icecam_peer_session_on_dtls_state_changed (IcecamDtlsSrtp *dtls, guint state,
                                                IcecamPeerSession *self);

void icecam_peer_session_note_sent_locked (IcecamPeerSession *self,
                                           const guint8 * const *packets, const gsize *lengths,
                                           guint n_packets);
void icecam_peer_session_set_report_media (IcecamPeerSession *self, const IcecamSdp *media);
guint icecam_peer_session_take_reports_locked (IcecamPeerSession *self, guint8 *reports,
                                               gsize *lengths);
void icecam_peer_session_start_reports (IcecamPeerSession *self);
void icecam_peer_session_stop_reports (IcecamPeerSession *self);

G_END_DECLS
