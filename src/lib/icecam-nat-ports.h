/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How a NAT picks public ports for new mappings: one port, counting up, or at random. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * IcecamNatPortAllocation:
 * @ICECAM_NAT_PORTS_UNKNOWN: too few different mappings to tell
 * @ICECAM_NAT_PORTS_SAME: one public port for every destination (endpoint-independent mapping)
 * @ICECAM_NAT_PORTS_SEQUENTIAL: each new mapping a small, steady step from the previous one:
 *   the next ports can be predicted
 * @ICECAM_NAT_PORTS_RANDOM: new mappings land anywhere: only many tries (birthday) find one
 * How a NAT allocates public ports, from the mapped ports of one socket towards several
 * destinations, in the order the mappings were made.
 */
typedef enum {
  ICECAM_NAT_PORTS_UNKNOWN,
  ICECAM_NAT_PORTS_SAME,
  ICECAM_NAT_PORTS_SEQUENTIAL,
  ICECAM_NAT_PORTS_RANDOM,
} IcecamNatPortAllocation;

/**
 * ICECAM_NAT_PORTS_MAX_STEP:
 * The largest step between two successive mappings still called sequential: other hosts
 * behind the same NAT take ports in between, so the step is 1 only on a quiet NAT. A random
 * allocator over ~60,000 ports makes two steps this small and of one sign with a probability
 * of about 10^-6.
 */
#define ICECAM_NAT_PORTS_MAX_STEP 32

IcecamNatPortAllocation icecam_nat_ports_classify (const guint16 *ports, guint n_ports,
                                                   gint *delta, guint *spread);
const gchar *icecam_nat_port_allocation_to_string (IcecamNatPortAllocation allocation);

G_END_DECLS
