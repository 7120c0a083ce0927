/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TCP options that make a connection to a peer that vanished fail within seconds. */

#include "icecam-tcp-options.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

/* Keepalive probes only go out on a connection nothing was sent on for this long: the
 * rendezvous pings every connection more often, so they are a safety net, not extra traffic. */
#define KEEPALIVE_IDLE_S 60
#define KEEPALIVE_PROBE_INTERVAL_S 5
#define KEEPALIVE_PROBES 3

/**
 * icecam_tcp_set_dead_peer_timeout:
 * @socket: a connected TCP socket
 * @timeout_s: how long sent data may stay unacknowledged before the connection fails
 *   (TCP_USER_TIMEOUT, RFC 5482)
 * @error: a #GIOError if the system refused an option
 *
 * Also turns TCP keepalive on, so that an idle connection to a vanished peer fails too. On
 * systems without these options, only what they have is set.
 *
 * Returns: %TRUE, or %FALSE with @error set
 */
gboolean
icecam_tcp_set_dead_peer_timeout (GSocket *socket, guint timeout_s, GError **error)
{
  g_return_val_if_fail (G_IS_SOCKET (socket), FALSE);

  g_socket_set_keepalive (socket, TRUE);
#ifdef TCP_KEEPIDLE
  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_KEEPIDLE, KEEPALIVE_IDLE_S, error) ||
      !g_socket_set_option (socket, IPPROTO_TCP, TCP_KEEPINTVL, KEEPALIVE_PROBE_INTERVAL_S,
                            error) ||
      !g_socket_set_option (socket, IPPROTO_TCP, TCP_KEEPCNT, KEEPALIVE_PROBES, error))
    return FALSE;
#endif
#ifdef TCP_USER_TIMEOUT
  if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_USER_TIMEOUT, (gint) timeout_s * 1000,
                            error))
    return FALSE;
#endif
  return TRUE;
}
