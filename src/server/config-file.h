/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-rendezvous --config FILE: options from a file of "key = value" lines. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

GPtrArray *icecam_config_file_read (const gchar *path, const GOptionEntry *entries,
                                    GError **error);
const gchar *icecam_config_file_lookup (GPtrArray *args, const gchar *key);
const gchar *icecam_config_file_find_path (int argc, char **argv);
gboolean icecam_config_file_command_line_has (int argc, char **argv,
                                              const GOptionEntry *entries, const gchar *key);
gchar **icecam_config_file_merge_args (const GOptionEntry *entries, int argc, char **argv,
                                       GError **error);

G_END_DECLS
