/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `icecam-rendezvous token`: mint a viewer token with the rendezvous's key. */

#pragma once

#include <glib.h>

gchar *icecam_token_command_read_key (const gchar *path, GError **error);
gint64 icecam_token_command_parse_duration (const gchar *text);
int icecam_token_command (int argc, char **argv);
