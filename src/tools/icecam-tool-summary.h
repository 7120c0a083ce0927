/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A command's summary line: key=value fields, or the same fields as one JSON object. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * IcecamToolSummary:
 *
 * A command's last line: fields in order, printed as "TOOL: key=value ..." or as one JSON
 * object with the same keys (numbers as numbers, "none" as null).
 */
typedef struct _IcecamToolSummary IcecamToolSummary;

IcecamToolSummary *icecam_tool_summary_new (void);
void icecam_tool_summary_add (IcecamToolSummary *summary, const gchar *key, const gchar *value,
                              gboolean number);
void icecam_tool_summary_add_int (IcecamToolSummary *summary, const gchar *key, gint64 value);
void icecam_tool_summary_add_ms (IcecamToolSummary *summary, const gchar *key, gint64 us,
                                 guint decimals);
void icecam_tool_summary_print (IcecamToolSummary *summary, const gchar *tool, gboolean json);
void icecam_tool_summary_free (IcecamToolSummary *summary);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamToolSummary, icecam_tool_summary_free)

G_END_DECLS
