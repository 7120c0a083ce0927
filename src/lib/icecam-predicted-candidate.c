/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A server-reflexive candidate predicted from a host candidate and the public address the
 * rendezvous saw, sent before the STUN/TURN answer that confirms it. No I/O.
 *
 * Why: a camera learns its own server-reflexive candidate from its TURN allocation, two round
 * trips after the session started (Allocate, 401, Allocate), and the viewer another half round
 * trip later; until then the viewer has nowhere to send a check that the camera's NAT lets in,
 * and ICE waits (docs/benchmarks.md, section 13: 2.2 of the 4.3-4.8 round trips ICE took).
 * Most NATs keep the local port when they can (Linux's masquerade does), so the public
 * address the rendezvous saw the camera's signalling come from, with the host candidate's
 * port, is where the srflx candidate will be. Sent at once with the host candidate, it lets the
 * viewer's checks open its own NAT toward the camera from the start. A wrong guess (a NAT that
 * changes ports) costs a few checks that get no answer; the real srflx candidate follows as
 * before. */

#include "icecam-predicted-candidate.h"

#include <gio/gio.h>
#include <string.h>

/* srflx type preference (RFC 8445 5.1.2.2: 100), the highest local preference, component 1 */
#define PREDICTED_PRIORITY ((100u << 24) | (65535u << 8) | (256u - 1u))

static gboolean
is_ipv4_literal (const gchar *text)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (text);

  return address != NULL && g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4;
}

/**
 * icecam_predicted_public_ipv4:
 * @address: (nullable): "ip:port" as `welcome` gives it
 *
 * Returns: (transfer full) (nullable): the IPv4 address, or %NULL for IPv6 or anything else
 */
gchar *
icecam_predicted_public_ipv4 (const gchar *address)
{
  const gchar *colon;
  g_autofree gchar *ip = NULL;

  if (address == NULL || (colon = strrchr (address, ':')) == NULL)
    return NULL;
  ip = g_strndup (address, colon - address);
  return is_ipv4_literal (ip) ? g_steal_pointer (&ip) : NULL;
}

/**
 * icecam_predicted_candidate_from_host:
 * @host_candidate: a local candidate attribute, "candidate:F C UDP P ADDRESS PORT typ host ..."
 * @public_ipv4: (nullable): from icecam_predicted_public_ipv4()
 *
 * Returns: (transfer full) (nullable): "candidate:... typ srflx raddr ADDRESS rport PORT" at
 *   @public_ipv4 and the host candidate's port; %NULL unless @host_candidate is an IPv4 UDP
 *   host candidate whose address is not @public_ipv4 (no NAT in between)
 */
gchar *
icecam_predicted_candidate_from_host (const gchar *host_candidate, const gchar *public_ipv4)
{
  g_auto (GStrv) fields = NULL;
  guint64 port;

  if (host_candidate == NULL || public_ipv4 == NULL || !is_ipv4_literal (public_ipv4) ||
      !g_str_has_prefix (host_candidate, "candidate:"))
    return NULL;
  fields = g_strsplit (host_candidate + strlen ("candidate:"), " ", 0);
  if (g_strv_length (fields) < 8 || g_ascii_strcasecmp (fields[2], "udp") != 0 ||
      !g_str_equal (fields[6], "typ") || !g_str_equal (fields[7], "host") ||
      !g_str_equal (fields[1], "1") || !is_ipv4_literal (fields[4]) ||
      g_str_equal (fields[4], public_ipv4) ||
      !g_ascii_string_to_unsigned (fields[5], 10, 1, 65535, &port, NULL) ||
      strlen (fields[0]) > 30)
    return NULL;
  /* Its own foundation: it is not the host candidate's base/server pair. */
  return g_strdup_printf ("candidate:p%s 1 UDP %u %s %u typ srflx raddr %s rport %u", fields[0],
                          PREDICTED_PRIORITY, public_ipv4, (guint) port, fields[4],
                          (guint) port);
}
