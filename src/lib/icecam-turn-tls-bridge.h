/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A loopback TCP relay for libnice that carries its TURN connections over real TLS. */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define ICECAM_TYPE_TURN_TLS_BRIDGE (icecam_turn_tls_bridge_get_type ())
G_DECLARE_FINAL_TYPE (IcecamTurnTlsBridge, icecam_turn_tls_bridge, ICECAM, TURN_TLS_BRIDGE,
                      GObject)

IcecamTurnTlsBridge *icecam_turn_tls_bridge_new (const gchar *host, guint16 port,
                                                 const gchar *server_name,
                                                 const gchar *ca_file, GError **error);
guint16 icecam_turn_tls_bridge_get_port (IcecamTurnTlsBridge *self);
void icecam_turn_tls_bridge_stop (IcecamTurnTlsBridge *self);

G_END_DECLS
