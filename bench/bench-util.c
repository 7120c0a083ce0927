/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers the benchmark programs share: percentiles, CPU time and memory of processes. */

#include "bench-util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static gint
compare_doubles (gconstpointer a, gconstpointer b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * bench_percentile:
 * @values: (element-type gdouble): the samples; sorted in place
 * @p: 0..100
 *
 * Returns: the nearest-rank percentile, or NAN when there are no samples
 */
gdouble
bench_percentile (GArray *values, gdouble p)
{
  gsize rank;

  if (values->len == 0)
    return NAN;
  g_array_sort (values, compare_doubles);
  rank = (gsize) ((p / 100.0) * values->len + 0.999999);
  rank = CLAMP (rank, 1, values->len);
  return g_array_index (values, gdouble, rank - 1);
}

/* User + system time of this process, threads included. */
gdouble
bench_self_cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/* utime + stime (fields 14 and 15 of /proc/PID/stat), after the command name. */
gboolean
bench_proc_cpu_seconds (GPid pid, gdouble *seconds)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree gchar *text = NULL;
  g_auto (GStrv) fields = NULL;
  const gchar *after;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (after = strrchr (text, ')')) == NULL)
    return FALSE;
  fields = g_strsplit (after + 2, " ", 0);
  if (g_strv_length (fields) < 13)
    return FALSE;
  /* fields[0] is the state (field 3): utime is field 14, stime 15. */
  *seconds = (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) /
             sysconf (_SC_CLK_TCK);
  return TRUE;
}

gboolean
bench_proc_rss_kib (GPid pid, guint64 *kib)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree gchar *text = NULL;
  const gchar *line;

  if (!g_file_get_contents (path, &text, NULL, NULL) || (line = strstr (text, "VmRSS:")) == NULL)
    return FALSE;
  *kib = g_ascii_strtoull (line + strlen ("VmRSS:"), NULL, 10);
  return TRUE;
}

/* Thousands of sockets need more than the usual 1024 descriptors; root may go past the hard
 * limit. Children (the rendezvous we start) inherit it. */
void
bench_raise_fd_limit (void)
{
  struct rlimit limit = { 65536, 65536 };

  if (setrlimit (RLIMIT_NOFILE, &limit) == 0 || getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit (RLIMIT_NOFILE, &limit);
}
