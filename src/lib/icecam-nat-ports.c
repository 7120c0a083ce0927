/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* How a NAT picks public ports for new mappings: one port, counting up, or at random. */

#include "icecam-nat-ports.h"

/* The step from @a to @b on the 16-bit port circle, -32768..32767 (a counter that wraps from
 * the top of its range to the bottom is still counting). */
static gint
port_step (guint16 a, guint16 b)
{
  return (gint) (gint16) (guint16) (b - a);
}

/**
 * icecam_nat_ports_classify:
 * @ports: (array length=n_ports): the public ports of one socket's mappings, in the order
 *   they were made; a repeated port (the same mapping seen again, as towards an address-
 *   dependent NAT's known address) counts once
 * @n_ports: how many
 * @delta: (out) (optional): for %ICECAM_NAT_PORTS_SEQUENTIAL the smallest step between
 *   successive mappings (negative for a NAT that counts down), else 0
 * @spread: (out) (optional): the highest port minus the lowest
 *
 * Pure arithmetic, no I/O. Two mappings with one port are %ICECAM_NAT_PORTS_SAME; telling a
 * counter from chance takes three different ports (two steps): all steps of one sign and at
 * most %ICECAM_NAT_PORTS_MAX_STEP is sequential, anything else random.
 *
 * Returns: what the ports say
 */
IcecamNatPortAllocation
icecam_nat_ports_classify (const guint16 *ports, guint n_ports, gint *delta, guint *spread)
{
  guint16 distinct[16];
  guint n = 0;
  guint16 lo = G_MAXUINT16, hi = 0;
  gint smallest = 0;
  gint sign = 0;

  if (delta != NULL)
    *delta = 0;
  if (spread != NULL)
    *spread = 0;
  g_return_val_if_fail (ports != NULL || n_ports == 0, ICECAM_NAT_PORTS_UNKNOWN);

  for (guint i = 0; i < n_ports && n < G_N_ELEMENTS (distinct); i++) {
    gboolean seen = FALSE;

    for (guint j = 0; j < n && !seen; j++)
      seen = distinct[j] == ports[i];
    if (!seen)
      distinct[n++] = ports[i];
    lo = MIN (lo, ports[i]);
    hi = MAX (hi, ports[i]);
  }
  if (n_ports > 0 && spread != NULL)
    *spread = hi - lo;
  if (n_ports >= 2 && n == 1)
    return ICECAM_NAT_PORTS_SAME;
  if (n < 3)
    return ICECAM_NAT_PORTS_UNKNOWN;

  for (guint i = 0; i + 1 < n; i++) {
    gint step = port_step (distinct[i], distinct[i + 1]);
    gint step_sign = step > 0 ? 1 : -1;

    if (ABS (step) > ICECAM_NAT_PORTS_MAX_STEP || (sign != 0 && step_sign != sign))
      return ICECAM_NAT_PORTS_RANDOM;
    sign = step_sign;
    if (smallest == 0 || ABS (step) < ABS (smallest))
      smallest = step;
  }
  if (delta != NULL)
    *delta = smallest;
  return ICECAM_NAT_PORTS_SEQUENTIAL;
}

/**
 * icecam_nat_port_allocation_to_string:
 *
 * Returns: a lowercase token: "unknown", "same", "sequential" or "random"
 */
const gchar *
icecam_nat_port_allocation_to_string (IcecamNatPortAllocation allocation)
{
  switch (allocation) {
  case ICECAM_NAT_PORTS_SAME:
    return "same";
  case ICECAM_NAT_PORTS_SEQUENTIAL:
    return "sequential";
  case ICECAM_NAT_PORTS_RANDOM:
    return "random";
  case ICECAM_NAT_PORTS_UNKNOWN:
  default:
    return "unknown";
  }
}
