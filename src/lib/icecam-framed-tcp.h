/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One TCP connection carrying datagrams, each behind a 16-bit length (RFC 4571 framing):
 * the path a TCP punch made (docs/design.md, "TCP simultaneous open"). */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Bytes waiting to be sent beyond which whole new datagrams are dropped (media is real-time:
 * a queue behind a slow link is worse than a loss that the receiver reports). */
#define ICECAM_FRAMED_TCP_MAX_QUEUED (128 * 1024)

typedef struct _IcecamFramedTcp IcecamFramedTcp;

/**
 * IcecamFramedTcpPacketFunc:
 * @data: (array length=length): one datagram the peer framed
 *
 * In the connection's context.
 */
typedef void (*IcecamFramedTcpPacketFunc) (IcecamFramedTcp *conn, const guint8 *data,
                                           gsize length, gpointer user_data);

/**
 * IcecamFramedTcpStateFunc:
 * @up: TRUE once the connection is established (at once for an accepted one: not called),
 *   FALSE when it failed to connect or closed (the peer left, a reset, a framing error)
 *
 * In the connection's context. After @up FALSE nothing more is called; free it from there
 * or later.
 */
typedef void (*IcecamFramedTcpStateFunc) (IcecamFramedTcp *conn, gboolean up,
                                          gpointer user_data);

IcecamFramedTcp *icecam_framed_tcp_new (GSocket *socket, gboolean connecting,
                                        GMainContext *context, IcecamFramedTcpPacketFunc packet,
                                        IcecamFramedTcpStateFunc state, gpointer user_data);
gboolean icecam_framed_tcp_send (IcecamFramedTcp *conn, const GOutputVector *vectors,
                                 guint n_vectors);
gboolean icecam_framed_tcp_is_up (IcecamFramedTcp *conn);
GInetSocketAddress *icecam_framed_tcp_get_remote (IcecamFramedTcp *conn);
guint64 icecam_framed_tcp_get_dropped (IcecamFramedTcp *conn);
void icecam_framed_tcp_free (IcecamFramedTcp *conn);

G_END_DECLS
