/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's TURN relays as a pool: each checked every few seconds, a dead one withdrawn. */

#pragma once

#include <glib-object.h>

#include "icecam-registry.h"

G_BEGIN_DECLS

/**
 * ICECAM_RELAY_POOL_INTERVAL_MS:
 *
 * How often each relay is checked. A relay that missed three checks in a row is withdrawn: at
 * most four intervals (8 s) after it stopped answering.
 */
#define ICECAM_RELAY_POOL_INTERVAL_MS 2000

#define ICECAM_TYPE_RELAY_POOL (icecam_relay_pool_get_type ())
G_DECLARE_FINAL_TYPE (IcecamRelayPool, icecam_relay_pool, ICECAM, RELAY_POOL, GObject)

IcecamRelayPool *icecam_relay_pool_new (IcecamRegistry *registry, const gchar * const *urls);

G_END_DECLS
