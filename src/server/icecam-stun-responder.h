/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's STUN Binding responder (RFC 8489, RFC 3489 clients, RFC 5780 discovery). */

#pragma once

#include <gio/gio.h>

#include "icecam-stun-tcp.h"

G_BEGIN_DECLS

/**
 * IcecamStunResponderStats:
 * @packets_received: datagrams read from the responder's sockets, since start
 * @requests_answered: Binding success responses sent
 * @errors_answered: Binding error responses sent (400 Bad Request, 420 Unknown Attribute)
 * @packets_ignored: datagrams dropped without an answer: not STUN, malformed, a bad
 *   FINGERPRINT, a response, an indication or a method other than Binding
 * @send_failures: answers the socket refused to send (a full socket buffer, an unreachable
 *   address); they are not counted as answered
 * @tcp_requests_answered: Binding success responses sent over TCP (icecam_stun_responder_listen_tcp(),
 *   icecam_stun_responder_add_tcp()); not part of the UDP counters above
 *
 * Counters for health and metrics endpoints. @packets_received is the sum of the four UDP
 * counters after it.
 */
typedef struct {
  guint64 packets_received;
  guint64 requests_answered;
  guint64 errors_answered;
  guint64 packets_ignored;
  guint64 send_failures;
  guint64 tcp_requests_answered;
} IcecamStunResponderStats;

#define ICECAM_TYPE_STUN_RESPONDER (icecam_stun_responder_get_type ())
G_DECLARE_FINAL_TYPE (IcecamStunResponder, icecam_stun_responder, ICECAM, STUN_RESPONDER, GObject)

IcecamStunResponder *icecam_stun_responder_new (void);

gboolean icecam_stun_responder_listen (IcecamStunResponder *self, GInetSocketAddress *address,
                                       GError **error);
gboolean icecam_stun_responder_listen_rfc5780 (IcecamStunResponder *self,
                                               GInetSocketAddress *primary,
                                               GInetSocketAddress *alternate,
                                               GError **error);

gboolean icecam_stun_responder_listen_tcp (IcecamStunResponder *self, GError **error);
void icecam_stun_responder_add_tcp (IcecamStunResponder *self, IcecamStunTcp *connection);

guint16 icecam_stun_responder_get_port (IcecamStunResponder *self);
guint16 icecam_stun_responder_get_tcp_port (IcecamStunResponder *self);
GInetSocketAddress *icecam_stun_responder_get_local_address (IcecamStunResponder *self,
                                                             gboolean change_ip,
                                                             gboolean change_port);
void icecam_stun_responder_get_stats (IcecamStunResponder *self, IcecamStunResponderStats *stats);

G_END_DECLS
