/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One WebSocket connection to the rendezvous: hello/welcome, then typed messages both ways. */

#pragma once

#include <gio/gio.h>

#include "icecam-protocol.h"

G_BEGIN_DECLS

#define ICECAM_SIGNALLING_ERROR (icecam_signalling_error_quark ())
GQuark icecam_signalling_error_quark (void);

typedef enum {
  ICECAM_SIGNALLING_ERROR_BAD_URL,    /* not a ws:// or wss:// URL */
  ICECAM_SIGNALLING_ERROR_CONNECT,    /* the server could not be reached */
  ICECAM_SIGNALLING_ERROR_CLOSED,     /* the server closed the connection */
  ICECAM_SIGNALLING_ERROR_REFUSED,    /* the server answered hello with an error */
  ICECAM_SIGNALLING_ERROR_TIMEOUT,    /* the server did not answer a ping in time */
} IcecamSignallingError;

/**
 * ICECAM_SIGNALLING_DEFAULT_KEEPALIVE_INTERVAL_S:
 *
 * Seconds without a word from the server after which the client pings it.
 */
#define ICECAM_SIGNALLING_DEFAULT_KEEPALIVE_INTERVAL_S 15

/**
 * ICECAM_SIGNALLING_DEFAULT_KEEPALIVE_TIMEOUT_S:
 *
 * Seconds the server has to answer a ping before the connection counts as dead: on a working
 * path a pong takes a round trip, and a camera behind a rebooted router should not wait long.
 */
#define ICECAM_SIGNALLING_DEFAULT_KEEPALIVE_TIMEOUT_S 3

/**
 * IcecamSignallingState:
 * @ICECAM_SIGNALLING_STATE_IDLE: not started
 * @ICECAM_SIGNALLING_STATE_CONNECTING: WebSocket handshake or hello under way
 * @ICECAM_SIGNALLING_STATE_READY: welcome received; messages may be sent
 * @ICECAM_SIGNALLING_STATE_RETRYING: connection lost or refused for now; a new attempt is
 *   scheduled (only with reconnect on; icecam_signalling_client_get_error() says why)
 * @ICECAM_SIGNALLING_STATE_CLOSED: connection over (see icecam_signalling_client_get_error())
 */
typedef enum {
  ICECAM_SIGNALLING_STATE_IDLE,
  ICECAM_SIGNALLING_STATE_CONNECTING,
  ICECAM_SIGNALLING_STATE_READY,
  ICECAM_SIGNALLING_STATE_RETRYING,
  ICECAM_SIGNALLING_STATE_CLOSED,
} IcecamSignallingState;

#define ICECAM_TYPE_SIGNALLING_CLIENT (icecam_signalling_client_get_type ())
G_DECLARE_FINAL_TYPE (IcecamSignallingClient, icecam_signalling_client, ICECAM,
                      SIGNALLING_CLIENT, GObject)

IcecamSignallingClient *icecam_signalling_client_new (const gchar *url, IcecamRole role,
                                                      const gchar *id, GError **error);
void icecam_signalling_client_set_credentials (IcecamSignallingClient *self,
                                               const gchar *secret, const gchar *token);
gboolean icecam_signalling_client_set_tls (IcecamSignallingClient *self, const gchar *ca_file,
                                           gboolean accept_invalid, GError **error);
void icecam_signalling_client_set_reconnect (IcecamSignallingClient *self, gboolean reconnect);
gboolean icecam_signalling_client_set_region (IcecamSignallingClient *self, const gchar *region,
                                              GError **error);
void icecam_signalling_client_set_keepalive (IcecamSignallingClient *self, guint interval_s,
                                             guint timeout_s);
void icecam_signalling_client_start (IcecamSignallingClient *self);
void icecam_signalling_client_send (IcecamSignallingClient *self, const IcecamMessage *msg);
void icecam_signalling_client_add_features (IcecamSignallingClient *self,
                                            IcecamFeatures features);
void icecam_signalling_client_stop (IcecamSignallingClient *self);
void icecam_signalling_client_check (IcecamSignallingClient *self);
IcecamSignallingState icecam_signalling_client_get_state (IcecamSignallingClient *self);
const IcecamMessage *icecam_signalling_client_get_welcome (IcecamSignallingClient *self);
gboolean icecam_signalling_client_get_resumed (IcecamSignallingClient *self);
const GError *icecam_signalling_client_get_error (IcecamSignallingClient *self);
gboolean icecam_signalling_client_server_is_loopback (IcecamSignallingClient *self);
const gchar *icecam_signalling_state_to_string (IcecamSignallingState state);

G_END_DECLS
