/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the port allocation classifier with tables of mapped ports. */

#include "icecam-nat-ports.h"

typedef struct {
  const gchar *what;
  guint16 ports[6];
  guint n;
  IcecamNatPortAllocation expected;
  gint delta;
  guint spread;
} Case;

static const Case cases[] = {
  { "none", { 0 }, 0, ICECAM_NAT_PORTS_UNKNOWN, 0, 0 },
  { "one mapping", { 5000 }, 1, ICECAM_NAT_PORTS_UNKNOWN, 0, 0 },
  { "endpoint-independent", { 5000, 5000 }, 2, ICECAM_NAT_PORTS_SAME, 0, 0 },
  { "endpoint-independent, four", { 5000, 5000, 5000, 5000 }, 4, ICECAM_NAT_PORTS_SAME, 0, 0 },
  { "two different: too few", { 5000, 5001 }, 2, ICECAM_NAT_PORTS_UNKNOWN, 0, 1 },
  { "address-dependent: two ports", { 5000, 7000, 7000, 5000 }, 4, ICECAM_NAT_PORTS_UNKNOWN, 0,
    2000 },
  { "counter +1", { 20000, 20001, 20002, 20003 }, 4, ICECAM_NAT_PORTS_SEQUENTIAL, 1, 3 },
  { "counter with other hosts in between", { 20000, 20003, 20004, 20009 }, 4,
    ICECAM_NAT_PORTS_SEQUENTIAL, 1, 9 },
  { "counter +2", { 40000, 40002, 40004 }, 3, ICECAM_NAT_PORTS_SEQUENTIAL, 2, 4 },
  { "counting down", { 40000, 39999, 39998 }, 3, ICECAM_NAT_PORTS_SEQUENTIAL, -1, 2 },
  { "wrapping at 65535", { 65534, 65535, 0, 1 }, 4, ICECAM_NAT_PORTS_SEQUENTIAL, 1,
    65535 },
  { "largest step still sequential", { 1000, 1000 + ICECAM_NAT_PORTS_MAX_STEP, 1000 +
    2 * ICECAM_NAT_PORTS_MAX_STEP }, 3, ICECAM_NAT_PORTS_SEQUENTIAL, ICECAM_NAT_PORTS_MAX_STEP,
    2 * ICECAM_NAT_PORTS_MAX_STEP },
  { "one step too large", { 1000, 1001, 1002 + ICECAM_NAT_PORTS_MAX_STEP }, 3,
    ICECAM_NAT_PORTS_RANDOM, 0, ICECAM_NAT_PORTS_MAX_STEP + 2 },
  { "up then down", { 30000, 30001, 30000, 29999 }, 4, ICECAM_NAT_PORTS_RANDOM, 0, 2 },
  { "random", { 48211, 23003, 61870, 30112 }, 4, ICECAM_NAT_PORTS_RANDOM, 0, 38867 },
};

static void
test_table (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const Case *c = &cases[i];
    gint delta = 12345;
    guint spread = 12345;
    IcecamNatPortAllocation got = icecam_nat_ports_classify (c->ports, c->n, &delta, &spread);

    g_test_message ("%s: %s delta=%d spread=%u", c->what,
                    icecam_nat_port_allocation_to_string (got), delta, spread);
    g_assert_cmpstr (icecam_nat_port_allocation_to_string (got), ==,
                     icecam_nat_port_allocation_to_string (c->expected));
    g_assert_cmpint (delta, ==, c->delta);
    g_assert_cmpuint (spread, ==, c->spread);
  }
  /* The out arguments are optional. */
  g_assert_cmpint (icecam_nat_ports_classify (cases[6].ports, cases[6].n, NULL, NULL), ==,
                   ICECAM_NAT_PORTS_SEQUENTIAL);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nat-ports/classify/table", test_table);
  return g_test_run ();
}
