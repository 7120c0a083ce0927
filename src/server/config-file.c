/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-rendezvous --config FILE: options from a file of "key = value" lines. */

#include "config-file.h"

#include <string.h>

/*
 * The file holds one option per line, named as its long option without the dashes:
 *
 *   # comments and blank lines are skipped
 *   listen = 0.0.0.0:8080
 *   camera-secrets = secrets          (a relative path is relative to the file's directory)
 *   turn-server = turn:relay.example.net:3478?transport=udp    (repeatable, as on the
 *                                                               command line)
 *   verbose = true                    (options without a value: true or false)
 *
 * It becomes "--key=value" arguments placed before the command line's, so that the command
 * line wins: a later value replaces an earlier one, and an option the command line gives is
 * not taken from the file at all (for the repeatable ones, whose values would add up).
 * Its errors are in the G_KEY_FILE_ERROR domain: the command prints them as one line.
 */

static const GOptionEntry *
find_entry (const GOptionEntry *entries, const gchar *key)
{
  for (const GOptionEntry *entry = entries; entry->long_name != NULL; entry++) {
    if (strcmp (entry->long_name, key) == 0)
      return entry;
  }
  return NULL;
}

static gboolean
parse_boolean (const gchar *value, gboolean *result)
{
  if (g_ascii_strcasecmp (value, "true") == 0 || g_ascii_strcasecmp (value, "yes") == 0 ||
      strcmp (value, "1") == 0) {
    *result = TRUE;
    return TRUE;
  }
  if (g_ascii_strcasecmp (value, "false") == 0 || g_ascii_strcasecmp (value, "no") == 0 ||
      strcmp (value, "0") == 0) {
    *result = FALSE;
    return TRUE;
  }
  return FALSE;
}

/* One "key = value" line as an argument, or NULL with nothing to add (a false boolean). */
static gboolean
line_to_arg (const gchar *path, guint number, gchar *line, const GOptionEntry *entries,
             gchar **arg, GError **error)
{
  gchar *equals = strchr (line, '=');
  const GOptionEntry *entry;
  gchar *key;
  gchar *value;
  gboolean on;

  *arg = NULL;
  if (equals == NULL) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE,
                 "--config: line %u of %s is not 'key = value'", number, path);
    return FALSE;
  }
  *equals = '\0';
  key = g_strstrip (line);
  value = g_strstrip (equals + 1);
  entry = find_entry (entries, key);
  if (entry == NULL || strcmp (key, "config") == 0) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                 "--config: unknown key '%s' on line %u of %s", key, number, path);
    return FALSE;
  }
  if (entry->arg == G_OPTION_ARG_NONE) {
    if (!parse_boolean (value, &on)) {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "--config: '%s' on line %u of %s must be true or false", key, number, path);
      return FALSE;
    }
    if (on)
      *arg = g_strdup_printf ("--%s", key);
    return TRUE;
  }
  if (*value == '\0') {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                 "--config: '%s' on line %u of %s has no value", key, number, path);
    return FALSE;
  }
  if (entry->arg == G_OPTION_ARG_FILENAME && !g_path_is_absolute (value)) {
    g_autofree gchar *dir = g_path_get_dirname (path);
    g_autofree gchar *full = g_build_filename (dir, value, NULL);

    *arg = g_strdup_printf ("--%s=%s", key, full);
    return TRUE;
  }
  *arg = g_strdup_printf ("--%s=%s", key, value);
  return TRUE;
}

/**
 * icecam_config_file_read:
 * @path: the file
 * @entries: the command's options, ending with a zeroed entry
 *
 * Returns: (transfer full) (element-type utf8): the file's options as "--key=value" (or
 *   "--key") arguments, in its order; %NULL with @error naming the line and key that is wrong
 */
GPtrArray *
icecam_config_file_read (const gchar *path, const GOptionEntry *entries, GError **error)
{
  g_autofree gchar *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GPtrArray) args = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) local_error = NULL;

  if (!g_file_get_contents (path, &contents, NULL, &local_error)) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_NOT_FOUND, "--config: %s",
                 local_error->message);
    return NULL;
  }
  if (!g_utf8_validate (contents, -1, NULL)) {
    g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_UNKNOWN_ENCODING,
                 "--config: %s is not UTF-8",
                 path);
    return NULL;
  }
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    gchar *line = g_strstrip (lines[i]);
    gchar *arg = NULL;

    if (*line == '\0' || *line == '#')
      continue;
    if (!line_to_arg (path, i + 1, line, entries, &arg, error))
      return NULL;
    if (arg != NULL)
      g_ptr_array_add (args, arg);
  }
  return g_steal_pointer (&args);
}

/**
 * icecam_config_file_lookup:
 * @args: (element-type utf8): what icecam_config_file_read() returned
 * @key: a long option name
 *
 * Returns: (nullable): the value the file gives @key last (the one that counts)
 */
const gchar *
icecam_config_file_lookup (GPtrArray *args, const gchar *key)
{
  g_autofree gchar *prefix = g_strdup_printf ("--%s=", key);
  const gchar *value = NULL;

  for (guint i = 0; i < args->len; i++) {
    const gchar *arg = g_ptr_array_index (args, i);

    if (g_str_has_prefix (arg, prefix))
      value = arg + strlen (prefix);
  }
  return value;
}

/**
 * icecam_config_file_find_path:
 *
 * Returns: (nullable): the value of the last --config in @argv, or %NULL
 */
const gchar *
icecam_config_file_find_path (int argc, char **argv)
{
  const gchar *path = NULL;

  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--") == 0)
      break;
    if (strcmp (argv[i], "--config") == 0 && i + 1 < argc)
      path = argv[++i];
    else if (g_str_has_prefix (argv[i], "--config="))
      path = argv[i] + strlen ("--config=");
  }
  return path;
}

/**
 * icecam_config_file_command_line_has:
 *
 * Returns: whether @argv gives the option @key (by its long or short name)
 */
gboolean
icecam_config_file_command_line_has (int argc, char **argv, const GOptionEntry *entries,
                                     const gchar *key)
{
  const GOptionEntry *entry = find_entry (entries, key);
  g_autofree gchar *long_form = g_strdup_printf ("--%s", key);
  g_autofree gchar *long_value = g_strdup_printf ("--%s=", key);

  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--") == 0)
      break;
    if (strcmp (argv[i], long_form) == 0 || g_str_has_prefix (argv[i], long_value))
      return TRUE;
    /* A short option, alone or first in a group ("-v", "-vl ..."): good enough here. */
    if (entry != NULL && entry->short_name != 0 && argv[i][0] == '-' && argv[i][1] != '-' &&
        strchr (argv[i] + 1, entry->short_name) != NULL)
      return TRUE;
  }
  return FALSE;
}

/**
 * icecam_config_file_merge_args:
 * @entries: the command's options
 * @argc: the command line's argument count
 * @argv: the command line
 *
 * Returns: (transfer full): @argv with the options of its --config file (if any) inserted
 *   after the program name, less those the command line gives itself; %NULL with @error set
 *   if the file cannot be read or has a key that is no option
 */
gchar **
icecam_config_file_merge_args (const GOptionEntry *entries, int argc, char **argv,
                               GError **error)
{
  const gchar *path = icecam_config_file_find_path (argc, argv);
  g_autoptr (GPtrArray) file_args = NULL;
  GPtrArray *merged = g_ptr_array_new ();

  g_ptr_array_add (merged, g_strdup (argv[0]));
  if (path != NULL) {
    file_args = icecam_config_file_read (path, entries, error);
    if (file_args == NULL) {
      g_ptr_array_add (merged, NULL);
      g_strfreev ((gchar **) g_ptr_array_free (merged, FALSE));
      return NULL;
    }
    for (guint i = 0; i < file_args->len; i++) {
      const gchar *arg = g_ptr_array_index (file_args, i);
      const gchar *end = strchr (arg, '=');
      g_autofree gchar *key = g_strndup (arg + 2, end != NULL ? (gsize) (end - arg - 2)
                                                              : strlen (arg + 2));

      if (!icecam_config_file_command_line_has (argc, argv, entries, key))
        g_ptr_array_add (merged, g_strdup (arg));
    }
  }
  for (int i = 1; i < argc; i++)
    g_ptr_array_add (merged, g_strdup (argv[i]));
  g_ptr_array_add (merged, NULL);
  return (gchar **) g_ptr_array_free (merged, FALSE);
}
