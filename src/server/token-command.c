/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `icecam-rendezvous token`: mint a viewer token with the rendezvous's key. */

#include "token-command.h"

#include <stdio.h>
#include <string.h>

#include "icecam-protocol.h"
#include "icecam-token.h"

#define MIN_KEY_LENGTH 16

/**
 * icecam_token_command_read_key:
 *
 * Returns: (transfer full) (nullable): the key in @path, stripped; at least 16 characters
 */
gchar *
icecam_token_command_read_key (const gchar *path, GError **error)
{
  g_autofree gchar *contents = NULL;

  if (!g_file_get_contents (path, &contents, NULL, error))
    return NULL;
  g_strstrip (contents);
  if (strlen (contents) < MIN_KEY_LENGTH) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                 "the token key in %s is shorter than %d characters", path, MIN_KEY_LENGTH);
    return NULL;
  }
  return g_steal_pointer (&contents);
}

/**
 * icecam_token_command_parse_duration:
 * @text: "90", "90s", "15m", "1h" or "7d"
 *
 * Returns: seconds, or -1 if @text is not a positive duration
 */
gint64
icecam_token_command_parse_duration (const gchar *text)
{
  gchar *end = NULL;
  guint64 n;
  gint64 unit = 1;

  if (text == NULL || !g_ascii_isdigit (text[0]))
    return -1;
  n = g_ascii_strtoull (text, &end, 10);
  if (g_str_equal (end, "m"))
    unit = 60;
  else if (g_str_equal (end, "h"))
    unit = 3600;
  else if (g_str_equal (end, "d"))
    unit = 86400;
  else if (*end != '\0' && !g_str_equal (end, "s"))
    return -1;
  if (n == 0 || n > G_MAXINT32)
    return -1;
  return (gint64) n * unit;
}

int
icecam_token_command (int argc, char **argv)
{
  g_auto (GStrv) cameras = NULL;
  g_autofree gchar *ttl = NULL;
  g_autofree gchar *key_file = NULL;
  g_autofree gchar *key = NULL;
  g_autofree gchar *token = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context = g_option_context_new ("- mint a viewer token");
  GOptionEntry entries[] = {
    { "camera", 'c', 0, G_OPTION_ARG_STRING_ARRAY, &cameras,
      "A camera the token grants (repeatable; '*' for every camera)", "NAME" },
    { "ttl", 't', 0, G_OPTION_ARG_STRING, &ttl,
      "How long it is valid: 90s, 15m, 1h, 7d (default 1h)", "DURATION" },
    { "token-key-file", 'k', 0, G_OPTION_ARG_FILENAME, &key_file,
      "The rendezvous's token key (the same file as its --token-key-file)", "PATH" },
    { NULL }
  };
  gint64 seconds;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context, "Prints a token for icecam-view --token or "
                                "icecamsrc token=...; the rendezvous checks it with its key.");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    goto usage;
  if (argc > 1) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'",
                 argv[1]);
    goto usage;
  }
  seconds = icecam_token_command_parse_duration (ttl ? ttl : "1h");
  if (cameras == NULL || key_file == NULL || seconds < 0) {
    g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 "--camera and --token-key-file are required, --ttl must be like 90s, 15m, 1h, 7d");
    goto usage;
  }
  for (guint i = 0; cameras[i] != NULL; i++) {
    if (!g_str_equal (cameras[i], ICECAM_TOKEN_ANY_CAMERA) &&
        !icecam_protocol_id_is_valid (cameras[i])) {
      g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "'%s' is not a camera id", cameras[i]);
      goto usage;
    }
  }
  key = icecam_token_command_read_key (key_file, &error);
  if (key == NULL) {
    g_printerr ("icecam-rendezvous token: %s\n", error->message);
    return 1;
  }
  token = icecam_token_mint (key, (const gchar * const *) cameras,
                             g_get_real_time () / G_USEC_PER_SEC + seconds);
  printf ("%s\n", token);
  return 0;

usage:
  g_printerr ("icecam-rendezvous token: %s\n", error->message);
  return 2;
}
