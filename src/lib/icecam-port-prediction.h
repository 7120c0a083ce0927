/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Port prediction: the server-reflexive candidates a sequential symmetric NAT will most
 * likely give the next mappings, as ordinary candidates the peer's ICE checks. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * ICECAM_PORT_PREDICTION_COUNT:
 * How many predicted candidates follow one server-reflexive candidate. The peer's libnice
 * takes at most 25 remote candidates per component; this leaves room for the real host,
 * server-reflexive and relayed ones (two relays, a few interfaces). Between the mapping its
 * srflx candidate shows (towards the relay) and the one towards the peer's srflx, a NAT
 * counting one port per new flow made 1-4 more in the lab (checks to the peer's host and
 * relayed candidates).
 */
#define ICECAM_PORT_PREDICTION_COUNT 12

/**
 * ICECAM_PORT_PREDICTION_MAX_STEP:
 * The largest port step (either sign) predicted from: the classifier's sequential limit
 * (ICECAM_NAT_PORTS_MAX_STEP).
 */
#define ICECAM_PORT_PREDICTION_MAX_STEP 32

gchar **icecam_port_prediction_candidates (const gchar *candidate, gint step, guint count);

G_END_DECLS
