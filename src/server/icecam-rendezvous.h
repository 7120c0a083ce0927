/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous service: WebSocket signalling, health endpoints and the STUN responder. */

#pragma once

#include <gio/gio.h>

#include "icecam-admission.h"
#include "icecam-registry.h"

G_BEGIN_DECLS

/**
 * IcecamRendezvousWsStream:
 * @ICECAM_RENDEZVOUS_WS_STREAM_EPOLL: the rendezvous upgrades WebSocket requests itself and
 *   puts each ws:// connection's socket in the main context's epoll set (#IcecamWsStream):
 *   O(1) per message however many connections are open. wss:// keeps libsoup's stream.
 *   The default.
 * @ICECAM_RENDEZVOUS_WS_STREAM_LIBSOUP: libsoup's own WebSocket handler and stream, as before
 *   #IcecamWsStream existed: to tell whether a change of behaviour after a libsoup upgrade is
 *   libsoup's or icecam's.
 *
 * The stream under the signalling WebSockets.
 */
typedef enum {
  ICECAM_RENDEZVOUS_WS_STREAM_EPOLL,
  ICECAM_RENDEZVOUS_WS_STREAM_LIBSOUP,
} IcecamRendezvousWsStream;

#define ICECAM_TYPE_RENDEZVOUS (icecam_rendezvous_get_type ())
G_DECLARE_FINAL_TYPE (IcecamRendezvous, icecam_rendezvous, ICECAM, RENDEZVOUS, GObject)

IcecamRendezvous *icecam_rendezvous_new (void);

void icecam_rendezvous_set_cluster_degraded (IcecamRendezvous *self, gboolean degraded);
void icecam_rendezvous_set_ice_servers (IcecamRendezvous *self, GPtrArray *ice_servers);
void icecam_rendezvous_set_stun_enabled (IcecamRendezvous *self, gboolean enabled);
void icecam_rendezvous_set_stun_address (IcecamRendezvous *self, GInetSocketAddress *address);
void icecam_rendezvous_set_stun_alternate (IcecamRendezvous *self, GInetAddress *alternate);
void icecam_rendezvous_set_max_connections_per_address (IcecamRendezvous *self, guint max);
void icecam_rendezvous_set_message_rate (IcecamRendezvous *self, guint per_second, guint burst);
gboolean icecam_rendezvous_add_trusted_proxy (IcecamRendezvous *self, const gchar *cidr,
                                              GError **error);
void icecam_rendezvous_set_keepalive (IcecamRendezvous *self, guint interval_s,
                                      guint silence_limit_s);
void icecam_rendezvous_set_deadlines (IcecamRendezvous *self, guint handshake_s, guint hello_s);
void icecam_rendezvous_set_max_connections (IcecamRendezvous *self, guint max);
guint icecam_rendezvous_get_max_connections (IcecamRendezvous *self);
void icecam_rendezvous_set_ipv6_prefix_length (IcecamRendezvous *self, guint length);
void icecam_rendezvous_get_admission_stats (IcecamRendezvous *self, IcecamAdmissionStats *stats);
void icecam_rendezvous_set_ws_stream (IcecamRendezvous *self, IcecamRendezvousWsStream stream);

gboolean icecam_rendezvous_set_tls_files (IcecamRendezvous *self, const gchar *certificate_file,
                                          const gchar *key_file, GError **error);
gboolean icecam_rendezvous_listen (IcecamRendezvous *self, const gchar *host, guint port,
                                   GError **error);

gchar *icecam_rendezvous_get_uri (IcecamRendezvous *self);
guint icecam_rendezvous_get_port (IcecamRendezvous *self);
gchar *icecam_rendezvous_get_stun_host_port (IcecamRendezvous *self);
guint icecam_rendezvous_get_stun_port (IcecamRendezvous *self);
gchar *icecam_rendezvous_get_stun_alternate (IcecamRendezvous *self);
IcecamRegistry *icecam_rendezvous_get_registry (IcecamRendezvous *self);

G_END_DECLS
