/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging and failure reporting shared by the libFuzzer targets. */

#include "icecam-fuzz.h"

#include <stdio.h>
#include <stdlib.h>

static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields,
                 gpointer user_data)
{
  if ((log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) == 0)
    return G_LOG_WRITER_HANDLED;
  g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
  abort ();
}

void
icecam_fuzz_init (void)
{
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
}

void
icecam_fuzz_fail (const gchar *format, ...)
{
  va_list args;

  va_start (args, format);
  fputs ("icecam-fuzz: ", stderr);
  vfprintf (stderr, format, args);
  fputc ('\n', stderr);
  va_end (args);
  abort ();
}
