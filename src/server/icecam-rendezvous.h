/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous service: WebSocket signalling, health endpoints and the STUN responder. */

#pragma once

#include <gio/gio.h>

#include "icecam-registry.h"

G_BEGIN_DECLS

/**
 * ICECAM_RENDEZVOUS_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS:
 *
 * How many signalling connections one IP address may hold open unless configured otherwise:
 * room for a household's cameras and viewers behind one NAT, not for a flood.
 */
#define ICECAM_RENDEZVOUS_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS 64

/**
 * ICECAM_RENDEZVOUS_DEFAULT_MESSAGE_RATE:
 *
 * Messages per second one connection may send, sustained, unless configured otherwise; every
 * further 4 KiB of a message counts as one more message.
 */
#define ICECAM_RENDEZVOUS_DEFAULT_MESSAGE_RATE 100

/**
 * ICECAM_RENDEZVOUS_DEFAULT_MESSAGE_BURST:
 *
 * How many messages one connection may send at once above the sustained rate: a camera that
 * 16 viewers join at the same moment sends about 16 x 12 (offer, candidates, end).
 */
#define ICECAM_RENDEZVOUS_DEFAULT_MESSAGE_BURST 400

/**
 * ICECAM_RENDEZVOUS_DEFAULT_KEEPALIVE_INTERVAL_S:
 *
 * Seconds between the pings sent on every connection: they keep NAT mappings and proxies from
 * dropping idle signalling connections.
 */
#define ICECAM_RENDEZVOUS_DEFAULT_KEEPALIVE_INTERVAL_S 20

/**
 * ICECAM_RENDEZVOUS_DEFAULT_SILENCE_LIMIT_S:
 *
 * A client that answers neither the pings nor anything else for this long is gone (power cut,
 * cable pulled) or not reading what it is sent, which would otherwise pile up in the server.
 */
#define ICECAM_RENDEZVOUS_DEFAULT_SILENCE_LIMIT_S 60

#define ICECAM_TYPE_RENDEZVOUS (icecam_rendezvous_get_type ())
G_DECLARE_FINAL_TYPE (IcecamRendezvous, icecam_rendezvous, ICECAM, RENDEZVOUS, GObject)

IcecamRendezvous *icecam_rendezvous_new (void);

void icecam_rendezvous_set_ice_servers (IcecamRendezvous *self, GPtrArray *ice_servers);
void icecam_rendezvous_set_stun_enabled (IcecamRendezvous *self, gboolean enabled);
void icecam_rendezvous_set_stun_address (IcecamRendezvous *self, GInetSocketAddress *address);
void icecam_rendezvous_set_stun_alternate (IcecamRendezvous *self, GInetAddress *alternate);
void icecam_rendezvous_set_max_connections_per_address (IcecamRendezvous *self, guint max);
void icecam_rendezvous_set_message_rate (IcecamRendezvous *self, guint per_second, guint burst);
void icecam_rendezvous_set_keepalive (IcecamRendezvous *self, guint interval_s,
                                      guint silence_limit_s);

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
