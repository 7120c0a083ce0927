/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the port allocation classifier with tables of mapped ports, and the candidates
 * port prediction derives from it. */

#include "icecam-nat-ports.h"
#include "icecam-port-prediction.h"

#include <string.h>

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

#define SRFLX "candidate:3 1 UDP 1694498815 203.0.113.7 20005 typ srflx raddr 10.0.1.2 rport 41000"

static void
test_predict_srflx (void)
{
  g_auto (GStrv) got = icecam_port_prediction_candidates (SRFLX, 1, 4);

  g_assert_cmpuint (g_strv_length (got), ==, 4);
  g_assert_cmpstr (got[0], ==, "candidate:3p1 1 UDP 1694498559 203.0.113.7 20006 typ srflx "
                   "raddr 10.0.1.2 rport 41000");
  g_assert_cmpstr (got[3], ==, "candidate:3p4 1 UDP 1694497791 203.0.113.7 20009 typ srflx "
                   "raddr 10.0.1.2 rport 41000");
}

static void
test_predict_steps (void)
{
  g_auto (GStrv) down = icecam_port_prediction_candidates (SRFLX, -3, 2);
  g_auto (GStrv) wide = icecam_port_prediction_candidates (SRFLX, ICECAM_PORT_PREDICTION_MAX_STEP,
                                                           ICECAM_PORT_PREDICTION_COUNT);
  g_auto (GStrv) top = icecam_port_prediction_candidates (
      "candidate:1 1 udp 1694498815 203.0.113.7 65533 typ srflx raddr 10.0.1.2 rport 1", 1, 12);
  g_auto (GStrv) bottom = icecam_port_prediction_candidates (
      "candidate:1 1 udp 1694498815 203.0.113.7 1025 typ srflx", -1, 12);

  g_assert_cmpuint (g_strv_length (down), ==, 2);
  g_assert_nonnull (strstr (down[1], " 203.0.113.7 19999 typ srflx"));
  g_assert_cmpuint (g_strv_length (wide), ==, ICECAM_PORT_PREDICTION_COUNT);
  /* The ports stop at the top and at 1024, not wrapping into other ranges. */
  g_assert_cmpuint (g_strv_length (top), ==, 2);
  g_assert_nonnull (strstr (top[1], " 65535 typ srflx raddr"));
  g_assert_cmpuint (g_strv_length (bottom), ==, 1);
  g_assert_nonnull (strstr (bottom[0], " 1024 typ srflx"));
}

static void
test_predict_nothing (void)
{
  const gchar *none[] = {
    "candidate:1 1 UDP 2015363327 10.0.1.2 41000 typ host",
    "candidate:5 1 UDP 16777215 198.51.100.2 50000 typ relay raddr 203.0.113.7 rport 20005",
    "candidate:7 1 TCP 1015021823 203.0.113.7 20005 typ srflx raddr 10.0.1.2 rport 9 tcptype "
    "active",
    "candidate:3 1 UDP 1694498815 203.0.113.7 port typ srflx",
    "candidate:3 1 UDP 1694498815 203.0.113.7 70000 typ srflx",
    "candidate:3 1 UDP -5 203.0.113.7 20005 typ srflx",
    "candidate:3 1 UDP 1694498815 203.0.113.7",
    "a=candidate:3 1 UDP 1694498815 203.0.113.7 20005 typ srflx",
    "",
  };

  for (guint i = 0; i < G_N_ELEMENTS (none); i++) {
    g_auto (GStrv) got = icecam_port_prediction_candidates (none[i], 1, 4);

    g_test_message ("%s", none[i]);
    g_assert_cmpuint (g_strv_length (got), ==, 0);
  }
  for (gint step = -100; step <= 100; step += 200) {
    g_auto (GStrv) got = icecam_port_prediction_candidates (SRFLX, step, 4);

    g_assert_cmpuint (g_strv_length (got), ==, 0);
  }
  {
    g_auto (GStrv) got = icecam_port_prediction_candidates (SRFLX, 0, 4);

    g_assert_cmpuint (g_strv_length (got), ==, 0);
  }
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/nat-ports/classify/table", test_table);
  g_test_add_func ("/nat-ports/predict/srflx", test_predict_srflx);
  g_test_add_func ("/nat-ports/predict/steps", test_predict_steps);
  g_test_add_func ("/nat-ports/predict/nothing", test_predict_nothing);
  return g_test_run ();
}
