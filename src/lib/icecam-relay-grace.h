/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Relay grace: the controlling side keeps relayed candidates out of ICE for a moment, so that
 * a direct pair that needs the peer's second check is among the first pairs nomination sees. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * IcecamRelayGraceFunc:
 * @candidate: (nullable): a held "candidate:..." value, or %NULL for the held end of local
 *   gathering
 * @local: whether @candidate is one of ours (to signal) or the peer's (to add to ICE)
 *
 * Called in the grace's context when the grace is over, once per held item, in the order
 * held (the end of gathering last).
 */
typedef void (*IcecamRelayGraceFunc) (const gchar *candidate, gboolean local, gpointer user_data);

typedef struct _IcecamRelayGrace IcecamRelayGrace;

IcecamRelayGrace *icecam_relay_grace_new (guint grace_ms, GMainContext *context,
                                          IcecamRelayGraceFunc release, gpointer user_data);
gboolean icecam_relay_grace_hold (IcecamRelayGrace *grace, const gchar *candidate,
                                  gboolean local);
gboolean icecam_relay_grace_hold_gathering_done (IcecamRelayGrace *grace);
void icecam_relay_grace_start (IcecamRelayGrace *grace);
gboolean icecam_relay_grace_holds_address (IcecamRelayGrace *grace, const gchar *address,
                                           guint port);
void icecam_relay_grace_end_soon (IcecamRelayGrace *grace, guint ms);
void icecam_relay_grace_free (IcecamRelayGrace *grace);
gboolean icecam_relay_grace_is_relay (const gchar *candidate);

G_END_DECLS
