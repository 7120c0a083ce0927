/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What icecam-punch.c and icecam-punch-tcp.c (the TCP role) share. */

#pragma once

#include "icecam-framed-tcp.h"
#include "icecam-punch.h"

G_BEGIN_DECLS

struct _IcecamPunch {
  IcecamPunchConfig config;
  GMainContext *context;
  IcecamPunchDoneFunc done;
  gpointer user_data;

  GPtrArray *sockets;  /* GSocket */
  GPtrArray *sources;  /* GSource, one per socket */
  GSource *tick;
  GSource *deadline;
  GSource *linger;
  GInetAddress *peer_ip;

  guint n_sprayed;     /* cone role: random ports probed; sequential: destinations opened */
  guint n_ticks;
  GPtrArray *targets;  /* sequential role: GInetSocketAddress, in the order opened */
  guint n_sent;        /* every probe and answer sent */
  gint64 start_us;
  gint64 done_us;
  gboolean finished;
  gboolean success;
  guint winner;        /* index into sockets */
  GInetSocketAddress *remote; /* guarded by lock after success: the cone side follows the
                               * peer's latest source */
  GMutex lock;

  /* After success: the path (icecam_punch_set_path_funcs()). */
  GSource *keepalive;
  gint alive;          /* atomic */
  gint64 last_heard_us;
  guint8 *buffer;       /* RECEIVE_BUFFER_SIZE bytes: a whole datagram, media included */
  IcecamPunchDataFunc data_func;
  IcecamPunchAliveFunc alive_func;
  gpointer path_data;

  /* The TCP role (in the context; current also guarded by lock, for sending) */
  GInetSocketAddress *tcp_local;  /* the port whose mapping was signalled */
  GSocket *listener;
  GSource *listen_source;
  GSource *retry;
  IcecamFramedTcp *connecting;    /* our connect, while in progress */
  GPtrArray *conns;               /* IcecamFramedTcp: up, to or from the peer's IP */
  IcecamFramedTcp *current;       /* where the path's datagrams go */
};

void icecam_punch_finish (IcecamPunch *self, gboolean success);
void icecam_punch_set_alive (IcecamPunch *self, gboolean alive);

gboolean icecam_punch_tcp_start (IcecamPunch *self, GError **error);
void icecam_punch_tcp_finish (IcecamPunch *self, gboolean success);
void icecam_punch_tcp_send_packet (IcecamPunch *self, IcecamFramedTcp *conn,
                                   IcecamPunchPacket kind);
void icecam_punch_tcp_set_current (IcecamPunch *self, IcecamFramedTcp *conn);
void icecam_punch_tcp_close_others (IcecamPunch *self);

G_END_DECLS
