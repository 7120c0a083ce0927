/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Birthday punching inside a peer session: the `punch` exchange over signalling, the cone
 * side's own mapping (learned by STUN), and the #IcecamPunch it then runs (docs/design.md). */

#pragma once

#include <gio/gio.h>

#include "icecam-ice-config.h"
#include "icecam-ice-session.h"
#include "icecam-protocol.h"
#include "icecam-punch.h"

G_BEGIN_DECLS

/**
 * IcecamPunchMapping:
 * @ICECAM_PUNCH_MAPPING_NONE: this end does not punch
 * @ICECAM_PUNCH_MAPPING_RANDOM: behind a symmetric NAT with random ports: starts the exchange
 *   once a session has a path, and opens the many mappings
 * @ICECAM_PUNCH_MAPPING_CONE: behind a NAT with one mapping for every destination: answers a
 *   `random` peer's `punch` and sprays random ports from one socket
 * @ICECAM_PUNCH_MAPPING_SEQUENTIAL: behind a symmetric NAT that counts its ports by a steady
 *   step (the ICE config's port_step): with a peer behind another, both probe each other's
 *   next ports in order from one socket each
 *
 * What --nat-probe found, as far as punching goes (the element property "punch").
 */
typedef enum {
  ICECAM_PUNCH_MAPPING_NONE = 0,
  ICECAM_PUNCH_MAPPING_RANDOM = 1,
  ICECAM_PUNCH_MAPPING_CONE = 2,
  ICECAM_PUNCH_MAPPING_SEQUENTIAL = 3,
} IcecamPunchMapping;

typedef struct _IcecamPunchSession IcecamPunchSession;

/* Sends @msg (transfer full) to the peer over signalling. */
typedef void (*IcecamPunchSendFunc) (IcecamMessage *msg, gpointer user_data);
/* A punch that succeeded (transfer full), for the session's media to move to. */
typedef void (*IcecamPunchPathFunc) (IcecamPunch *punch, gpointer user_data);

IcecamPunchSession *icecam_punch_session_new (const gchar *log_id, const gchar *session_id,
                                              IcecamPunchMapping mapping,
                                              const gchar *stun_host, guint stun_port,
                                              const gchar *public_address,
                                              IcecamPunchSendFunc send, gpointer user_data);
IcecamPunchSession *icecam_punch_session_new_for_config (const gchar *log_id,
                                                         const gchar *session_id,
                                                         const IcecamIceConfig *config,
                                                         const IcecamMessage *welcome,
                                                         IcecamPunchSendFunc send,
                                                         gpointer user_data);
void icecam_punch_session_set_port_step (IcecamPunchSession *self, gint port_step);
void icecam_punch_session_set_tcp (IcecamPunchSession *self, gboolean tcp);
void icecam_punch_session_set_transport (IcecamPunchSession *self, guint number);
void icecam_punch_session_set_path_func (IcecamPunchSession *self, IcecamPunchPathFunc func);
void icecam_punch_session_start (IcecamPunchSession *self);
void icecam_punch_session_start_if_relayed (IcecamPunchSession *self, IcecamPairInfo *pair);
void icecam_punch_session_handle (IcecamPunchSession *self, const IcecamMessage *msg);
gboolean icecam_punch_session_succeeded (IcecamPunchSession *self);
IcecamPunch *icecam_punch_session_get_punch (IcecamPunchSession *self);
void icecam_punch_session_free (IcecamPunchSession *self);

G_END_DECLS
