/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keepalive pings spread evenly over the interval: a timer wheel of WebSocket outputs. */

#pragma once

#include "icecam-ws-output.h"

G_BEGIN_DECLS

typedef struct _IcecamPingWheel IcecamPingWheel;
typedef struct _IcecamPingEntry IcecamPingEntry;

IcecamPingWheel *icecam_ping_wheel_new (GMainContext *context, guint interval_s);
void icecam_ping_wheel_free (IcecamPingWheel *wheel);
void icecam_ping_wheel_set_interval (IcecamPingWheel *wheel, guint interval_s);
IcecamPingEntry *icecam_ping_wheel_add (IcecamPingWheel *wheel, IcecamWsOutput *output);
void icecam_ping_wheel_remove (IcecamPingWheel *wheel, IcecamPingEntry *entry);
guint icecam_ping_wheel_get_size (IcecamPingWheel *wheel);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamPingWheel, icecam_ping_wheel_free)

G_END_DECLS
