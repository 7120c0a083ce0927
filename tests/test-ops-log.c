/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests: the operator's log prints at most N lines of a kind per window, then says how
 * many it suppressed. */

#include "icecam-ops-log.h"

#define SECOND G_USEC_PER_SEC

static void
test_window (void)
{
  g_autoptr (IcecamOpsLog) log = icecam_ops_log_new ();
  gint64 start = 1000 * SECOND;
  guint printed = 0;
  guint suppressed = 0;

  icecam_ops_log_set_limit (log, 3);
  /* A flood of 100 in one second: 3 printed. Another kind is not affected. */
  for (guint i = 0; i < 100; i++) {
    printed += icecam_ops_log_admit (log, ICECAM_OPS_LOG_PER_ADDRESS, start + i * 10000,
                                     &suppressed);
    g_assert_cmpuint (suppressed, ==, 0);
  }
  g_assert_cmpuint (printed, ==, 3);
  g_assert_true (icecam_ops_log_admit (log, ICECAM_OPS_LOG_CAMERA_ONLINE, start, &suppressed));
  /* Still in the window. */
  g_assert_false (icecam_ops_log_admit (log, ICECAM_OPS_LOG_PER_ADDRESS,
                                        start + (ICECAM_OPS_LOG_WINDOW_S - 1) * SECOND,
                                        &suppressed));
  /* The next window: printed, after saying how many were left out. */
  g_assert_true (icecam_ops_log_admit (log, ICECAM_OPS_LOG_PER_ADDRESS,
                                       start + ICECAM_OPS_LOG_WINDOW_S * SECOND, &suppressed));
  g_assert_cmpuint (suppressed, ==, 98);
  g_assert_true (icecam_ops_log_admit (log, ICECAM_OPS_LOG_PER_ADDRESS,
                                       start + ICECAM_OPS_LOG_WINDOW_S * SECOND, &suppressed));
  g_assert_cmpuint (suppressed, ==, 0);
}

static void
test_no_limit (void)
{
  g_autoptr (IcecamOpsLog) log = icecam_ops_log_new ();
  guint suppressed = 0;

  g_assert_cmpuint (icecam_ops_log_get_limit (log), ==, ICECAM_OPS_LOG_DEFAULT_LIMIT);
  icecam_ops_log_set_limit (log, 0);
  for (guint i = 0; i < 1000; i++)
    g_assert_true (icecam_ops_log_admit (log, ICECAM_OPS_LOG_GLOBAL_CAP, SECOND + i,
                                         &suppressed));
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ops-log/window", test_window);
  g_test_add_func ("/ops-log/no-limit", test_no_limit);
  return g_test_run ();
}
