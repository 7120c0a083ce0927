/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers the benchmark programs share: percentiles, CPU time and memory of processes. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

gdouble bench_percentile (GArray *values, gdouble p);
gdouble bench_self_cpu_seconds (void);
gboolean bench_proc_cpu_seconds (GPid pid, gdouble *seconds);
gboolean bench_proc_rss_kib (GPid pid, guint64 *kib);
void bench_raise_fd_limit (void);

G_END_DECLS
