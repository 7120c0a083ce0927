/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The public mapping of a TCP socket, asked of a STUN server over TCP (RFC 8489 §6.2.2): the
 * first step of a TCP punch (docs/design.md, "TCP simultaneous open"). */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* How long the connect and the answer may take together. */
#define ICECAM_TCP_MAPPING_TIMEOUT_MS 3000

typedef struct _IcecamTcpMapping IcecamTcpMapping;

/**
 * IcecamTcpMappingFunc:
 * @socket: (nullable): the socket, still connected to the STUN server (so that its NAT keeps
 *   the mapping), or %NULL when no mapping was learned
 * @mapped: (nullable): the mapping the server saw
 *
 * Called once, in the context of icecam_tcp_mapping_new()'s caller. Take a reference to keep
 * @socket; do not free the mapping from here.
 */
typedef void (*IcecamTcpMappingFunc) (GSocket *socket, GInetSocketAddress *mapped,
                                      gpointer user_data);

IcecamTcpMapping *icecam_tcp_mapping_new (GInetSocketAddress *stun, IcecamTcpMappingFunc done,
                                          gpointer user_data);
void icecam_tcp_mapping_free (IcecamTcpMapping *mapping);

G_END_DECLS
