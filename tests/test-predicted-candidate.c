/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the predicted server-reflexive candidate (src/lib/icecam-predicted-candidate.c). */

#include "icecam-predicted-candidate.h"

static void
test_public_ipv4 (void)
{
  g_autofree gchar *v4 = icecam_predicted_public_ipv4 ("198.51.100.2:40001");
  g_autofree gchar *v6 = icecam_predicted_public_ipv4 ("[2001:db8::1]:40001");
  g_autofree gchar *name = icecam_predicted_public_ipv4 ("camera.example:40001");
  g_autofree gchar *bare = icecam_predicted_public_ipv4 ("198.51.100.2");

  g_assert_cmpstr (v4, ==, "198.51.100.2");
  g_assert_null (v6);
  g_assert_null (name);
  g_assert_null (bare);
  g_assert_null (icecam_predicted_public_ipv4 (NULL));
}

static void
test_from_host (void)
{
  g_autofree gchar *srflx = icecam_predicted_candidate_from_host (
      "candidate:1 1 UDP 2015363327 10.1.0.2 45243 typ host", "198.51.100.2");

  g_assert_cmpstr (srflx, ==, "candidate:p1 1 UDP 1694498815 198.51.100.2 45243 typ srflx "
                              "raddr 10.1.0.2 rport 45243");
}

/* Nothing to predict: no NAT in between, another kind of candidate, IPv6, TCP, a name. */
static void
test_none (void)
{
  static const gchar *const hosts[] = {
    "candidate:1 1 UDP 2015363327 198.51.100.2 45243 typ host",
    "candidate:2 1 UDP 1679819007 198.51.100.2 45243 typ srflx raddr 10.1.0.2 rport 45243",
    "candidate:3 1 UDP 505413887 203.0.113.3 50625 typ relay raddr 10.1.0.2 rport 45243",
    "candidate:1 1 UDP 2015363327 fd00::2 45243 typ host",
    "candidate:1 1 TCP 1015363327 10.1.0.2 9 typ host tcptype active",
    "candidate:1 1 UDP 2015363327 0f6b8a2e-1c2d-4e5f-8a9b-0c1d2e3f4a5b.local 45243 typ host",
    "candidate:1 2 UDP 2015363326 10.1.0.2 45244 typ host",
    "candidate:1 1 UDP 2015363327 10.1.0.2 0 typ host",
    "candidate:1 1 UDP 2015363327 10.1.0.2 70000 typ host",
    "candidate:1 1 UDP",
    "1 1 UDP 2015363327 10.1.0.2 45243 typ host",
    "",
  };

  for (guint i = 0; i < G_N_ELEMENTS (hosts); i++) {
    g_autofree gchar *srflx = icecam_predicted_candidate_from_host (hosts[i], "198.51.100.2");

    g_assert_null (srflx);
  }
  g_assert_null (icecam_predicted_candidate_from_host (
      "candidate:1 1 UDP 2015363327 10.1.0.2 45243 typ host", NULL));
  g_assert_null (icecam_predicted_candidate_from_host (
      "candidate:1 1 UDP 2015363327 10.1.0.2 45243 typ host", "2001:db8::1"));
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/predicted-candidate/public-ipv4", test_public_ipv4);
  g_test_add_func ("/predicted-candidate/from-host", test_from_host);
  g_test_add_func ("/predicted-candidate/none", test_none);
  return g_test_run ();
}
