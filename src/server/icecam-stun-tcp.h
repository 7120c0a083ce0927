/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One accepted TCP connection that speaks STUN (RFC 8489 section 6.2.2): Binding answered. */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * ICECAM_STUN_TCP_TIMEOUT_S:
 *
 * How long a STUN-over-TCP connection is kept at most (the client keeps it open while it
 * punches, so that its NAT keeps the mapping).
 */
#define ICECAM_STUN_TCP_TIMEOUT_S 30

/**
 * ICECAM_STUN_TCP_MAX_MESSAGE:
 *
 * The largest STUN message read over TCP, header included (RFC 8489's 548 bytes for a path
 * of unknown MTU; a Binding request is far smaller).
 */
#define ICECAM_STUN_TCP_MAX_MESSAGE 548

#define ICECAM_TYPE_STUN_TCP (icecam_stun_tcp_get_type ())
G_DECLARE_FINAL_TYPE (IcecamStunTcp, icecam_stun_tcp, ICECAM, STUN_TCP, GObject)

gboolean icecam_stun_tcp_may_start_with (guint8 first_byte);

IcecamStunTcp *icecam_stun_tcp_new (GSocket *socket, GInetSocketAddress *remote);
void icecam_stun_tcp_start (IcecamStunTcp *self, guint timeout_ms);
void icecam_stun_tcp_close (IcecamStunTcp *self, const gchar *reason);
gboolean icecam_stun_tcp_is_closed (IcecamStunTcp *self);

G_END_DECLS
