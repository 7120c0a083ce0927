/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What --verbose means in every icecam command: the icecam debug logs, on stderr. */

#include "icecam-log.h"

/**
 * icecam_log_set_verbose:
 * @verbose: whether to show the debug and info messages of the icecam log domains
 *
 * What `--verbose` does in every icecam command. Every log message goes to stderr from now on,
 * so that stdout carries only what the command prints for people and scripts. With @verbose,
 * the debug and info messages of libicecam and the commands (%ICECAM_LOG_DOMAINS) are shown
 * too, in addition to the domains G_MESSAGES_DEBUG already names; without it, G_MESSAGES_DEBUG
 * is left as the user set it. GStreamer's own logs stay GST_DEBUG's business, and libnice's
 * NICE_DEBUG's.
 *
 * Threading: call it once, from main() before any other thread runs: it changes the
 * environment, which GLib reads at every message.
 */
void
icecam_log_set_verbose (gboolean verbose)
{
  const gchar *current;
  g_autofree gchar *domains = NULL;

  g_log_writer_default_set_use_stderr (TRUE);
  if (!verbose)
    return;
  current = g_getenv ("G_MESSAGES_DEBUG");
  if (current != NULL && *current != '\0')
    domains = g_strjoin (" ", current, ICECAM_LOG_DOMAINS, NULL);
  else
    domains = g_strdup (ICECAM_LOG_DOMAINS);
  g_setenv ("G_MESSAGES_DEBUG", domains, TRUE);
}
