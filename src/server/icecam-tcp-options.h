/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TCP options that make a connection to a peer that vanished fail within seconds. */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * ICECAM_TCP_DEAD_PEER_TIMEOUT_S:
 *
 * How long data the server sent may stay unacknowledged before the kernel gives the
 * connection up: a client whose router rebooted never acknowledges anything again, and without
 * this the kernel retransmits for about 15 minutes.
 */
#define ICECAM_TCP_DEAD_PEER_TIMEOUT_S 10

gboolean icecam_tcp_set_dead_peer_timeout (GSocket *socket, guint timeout_s, GError **error);

G_END_DECLS
