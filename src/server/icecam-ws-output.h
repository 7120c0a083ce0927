/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The output under a server WebSocket: libsoup's frames, and our pings and texts between them. */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define ICECAM_TYPE_WS_OUTPUT (icecam_ws_output_get_type ())
G_DECLARE_FINAL_TYPE (IcecamWsOutput, icecam_ws_output, ICECAM, WS_OUTPUT, GOutputStream)

IcecamWsOutput *icecam_ws_output_new (GOutputStream *base);
void icecam_ws_output_ping (IcecamWsOutput *self);
void icecam_ws_output_send_text (IcecamWsOutput *self, const gchar *text, gsize length);
gsize icecam_ws_output_get_queued (IcecamWsOutput *self);
guint64 icecam_ws_output_get_passed (IcecamWsOutput *self);
void icecam_ws_output_abort (IcecamWsOutput *self);

/* For tests: whether the bytes written so far end on a frame boundary. */
gboolean icecam_ws_output_at_boundary (IcecamWsOutput *self);

G_END_DECLS
