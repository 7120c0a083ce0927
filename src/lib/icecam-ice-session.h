/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One ICE session (one NiceAgent, one stream, one RTP/RTCP-muxed component) with a peer. */

#pragma once

#include <gio/gio.h>
#include <nice/agent.h>

#include "icecam-ice-config.h"
#include "icecam-punch.h"

G_BEGIN_DECLS

#define ICECAM_ICE_SESSION_ERROR (icecam_ice_session_error_quark ())
GQuark icecam_ice_session_error_quark (void);

typedef enum {
  ICECAM_ICE_SESSION_ERROR_AGENT,     /* libnice refused (stream, gathering, credentials) */
  ICECAM_ICE_SESSION_ERROR_CANDIDATE, /* a remote candidate could not be parsed */
} IcecamIceSessionError;

/**
 * IcecamIceState:
 * @ICECAM_ICE_STATE_NEW: created, not gathering yet
 * @ICECAM_ICE_STATE_CHECKING: gathering and/or checking pairs
 * @ICECAM_ICE_STATE_CONNECTED: a pair is selected; media flows
 * @ICECAM_ICE_STATE_FAILED: no pair works (or consent was lost)
 * @ICECAM_ICE_STATE_CLOSED: closed by icecam_ice_session_close()
 */
typedef enum {
  ICECAM_ICE_STATE_NEW,
  ICECAM_ICE_STATE_CHECKING,
  ICECAM_ICE_STATE_CONNECTED,
  ICECAM_ICE_STATE_FAILED,
  ICECAM_ICE_STATE_CLOSED,
} IcecamIceState;

/**
 * IcecamPairInfo:
 * @local_type: "host", "srflx", "prflx" or "relay"
 * @remote_type: likewise for the remote candidate
 * @transport: "udp" or "tcp"
 * @local_address: "ip:port" of the local candidate
 * @remote_address: "ip:port" of the remote candidate
 *
 * The selected candidate pair.
 */
typedef struct {
  gchar *local_type;
  gchar *remote_type;
  gchar *transport;
  gchar *local_address;
  gchar *remote_address;
} IcecamPairInfo;

#define ICECAM_TYPE_PAIR_INFO (icecam_pair_info_get_type ())
GType icecam_pair_info_get_type (void);
IcecamPairInfo *icecam_pair_info_copy (const IcecamPairInfo *info);
void icecam_pair_info_free (IcecamPairInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamPairInfo, icecam_pair_info_free)

/**
 * IcecamIceStats:
 *
 * Counters of one session. Dropped packets are those libnice could not send (no pair yet,
 * a full socket buffer, consent lost).
 */
typedef struct {
  guint64 packets_sent;
  guint64 bytes_sent;
  guint64 packets_dropped;
  guint64 packets_received;
  guint64 bytes_received;
} IcecamIceStats;

/**
 * IcecamIceReceiveFunc:
 * @data: (array length=length): one datagram (an RTP or RTCP packet)
 *
 * Called in the session's GMainContext for every packet from the peer.
 */
typedef void (*IcecamIceReceiveFunc) (const guint8 *data, gsize length, gpointer user_data);

#define ICECAM_TYPE_ICE_SESSION (icecam_ice_session_get_type ())
G_DECLARE_FINAL_TYPE (IcecamIceSession, icecam_ice_session, ICECAM, ICE_SESSION, GObject)

IcecamIceSession *icecam_ice_session_new (const IcecamIceConfig *config, gboolean controlling,
                                          GError **error);
gboolean icecam_ice_session_gather (IcecamIceSession *self, GError **error);
void icecam_ice_session_get_local_credentials (IcecamIceSession *self, gchar **ufrag,
                                               gchar **pwd);
gboolean icecam_ice_session_set_remote_credentials (IcecamIceSession *self, const gchar *ufrag,
                                                    const gchar *pwd, GError **error);
gboolean icecam_ice_session_add_remote_candidate (IcecamIceSession *self,
                                                  const gchar *candidate, GError **error);
void icecam_ice_session_set_remote_gathering_done (IcecamIceSession *self);
void icecam_ice_session_set_receive_func (IcecamIceSession *self, IcecamIceReceiveFunc func,
                                          gpointer user_data, GDestroyNotify notify);
gint icecam_ice_session_send (IcecamIceSession *self, const guint8 *data, gsize length);
gint icecam_ice_session_send_messages (IcecamIceSession *self,
                                       const NiceOutputMessage *messages, guint n_messages);
IcecamIceState icecam_ice_session_get_state (IcecamIceSession *self);
IcecamPairInfo *icecam_ice_session_get_pair_info (IcecamIceSession *self);
void icecam_ice_session_get_stats (IcecamIceSession *self, IcecamIceStats *stats);
gchar *icecam_ice_session_describe_candidates (IcecamIceSession *self);
void icecam_ice_session_close_async (IcecamIceSession *self, GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean icecam_ice_session_close_finish (IcecamIceSession *self, GAsyncResult *result,
                                          GError **error);
void icecam_ice_session_close (IcecamIceSession *self);

const gchar *icecam_ice_state_to_string (IcecamIceState state);

void icecam_ice_session_use_punched_path (IcecamIceSession *self, IcecamPunch *punch);

G_END_DECLS
