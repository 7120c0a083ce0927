/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What --verbose means in every icecam command: the icecam debug logs, on stderr. */

#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * ICECAM_LOG_DOMAINS:
 *
 * The log domains of libicecam and of the icecam commands, in the form G_MESSAGES_DEBUG takes.
 * A new meson target with its own G_LOG_DOMAIN adds its domain here.
 */
#define ICECAM_LOG_DOMAINS \
  "icecam icecam-rendezvous icecam-tool icecam-camera icecam-view icecam-natprobe"

void icecam_log_set_verbose (gboolean verbose);

G_END_DECLS
