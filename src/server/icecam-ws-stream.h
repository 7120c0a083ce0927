/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define ICECAM_TYPE_WS_STREAM (icecam_ws_stream_get_type ())
G_DECLARE_FINAL_TYPE (IcecamWsStream, icecam_ws_stream, ICECAM, WS_STREAM, GIOStream)

IcecamWsStream *icecam_ws_stream_new (GIOStream *base, GSocket *socket);
void icecam_ws_stream_set_max_payload (IcecamWsStream *self, guint64 max_payload);

G_END_DECLS
