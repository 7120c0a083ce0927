/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A command's summary line: key=value fields, or the same fields as one JSON object. */

#include "icecam-tool-summary.h"

#include <json-glib/json-glib.h>
#include <string.h>

struct _IcecamToolSummary {
  GPtrArray *keys;
  GPtrArray *values;   /* NULL: none */
  GArray *numbers;     /* gboolean: the value is a number when it parses as one */
};

IcecamToolSummary *
icecam_tool_summary_new (void)
{
  IcecamToolSummary *summary = g_new0 (IcecamToolSummary, 1);

  summary->keys = g_ptr_array_new_with_free_func (g_free);
  summary->values = g_ptr_array_new_with_free_func (g_free);
  summary->numbers = g_array_new (FALSE, FALSE, sizeof (gboolean));
  return summary;
}

void
icecam_tool_summary_free (IcecamToolSummary *summary)
{
  g_ptr_array_unref (summary->keys);
  g_ptr_array_unref (summary->values);
  g_array_unref (summary->numbers);
  g_free (summary);
}

/* @value: (nullable): NULL or "none" when there is none */
void
icecam_tool_summary_add (IcecamToolSummary *summary, const gchar *key, const gchar *value,
                         gboolean number)
{
  g_ptr_array_add (summary->keys, g_strdup (key));
  g_ptr_array_add (summary->values, g_strcmp0 (value, "none") != 0 ? g_strdup (value) : NULL);
  g_array_append_val (summary->numbers, number);
}

void
icecam_tool_summary_add_int (IcecamToolSummary *summary, const gchar *key, gint64 value)
{
  g_autofree gchar *text = g_strdup_printf ("%" G_GINT64_FORMAT, value);

  icecam_tool_summary_add (summary, key, text, TRUE);
}

/* @us: microseconds, negative for none; printed in milliseconds with @decimals */
void
icecam_tool_summary_add_ms (IcecamToolSummary *summary, const gchar *key, gint64 us,
                            guint decimals)
{
  g_autofree gchar *text = NULL;

  if (us >= 0)
    text = g_strdup_printf ("%.*f", (int) decimals, us / 1000.0);
  icecam_tool_summary_add (summary, key, text, TRUE);
}

/* Whether @text is a JSON number as the summary writes them: -?digits(.digits)?, so that it
 * goes into the object as written (95.2, not the double's 95.200000000000003). */
static gboolean
is_plain_number (const gchar *text)
{
  const gchar *p = text;

  if (*p == '-')
    p++;
  if (!g_ascii_isdigit (*p))
    return FALSE;
  while (g_ascii_isdigit (*p))
    p++;
  if (*p == '.') {
    p++;
    if (!g_ascii_isdigit (*p))
      return FALSE;
    while (g_ascii_isdigit (*p))
      p++;
  }
  return *p == '\0';
}

static void
summary_print_json (IcecamToolSummary *summary)
{
  g_autoptr (GString) out = g_string_new ("{");

  for (guint i = 0; i < summary->keys->len; i++) {
    const gchar *value = g_ptr_array_index (summary->values, i);
    g_autoptr (JsonNode) key = json_node_init_string (json_node_alloc (),
                                                      g_ptr_array_index (summary->keys, i));
    g_autofree gchar *key_text = json_to_string (key, FALSE);

    g_string_append_printf (out, "%s%s:", i > 0 ? "," : "", key_text);
    if (value == NULL) {
      g_string_append (out, "null");
    } else if (g_array_index (summary->numbers, gboolean, i) && is_plain_number (value)) {
      g_string_append (out, value);
    } else {
      g_autoptr (JsonNode) node = json_node_init_string (json_node_alloc (), value);
      g_autofree gchar *text = json_to_string (node, FALSE);

      g_string_append (out, text);
    }
  }
  g_string_append_c (out, '}');
  g_print ("%s\n", out->str);
}

void
icecam_tool_summary_print (IcecamToolSummary *summary, const gchar *tool, gboolean json)
{
  g_autoptr (GString) line = NULL;

  if (json) {
    summary_print_json (summary);
    return;
  }
  line = g_string_new (tool);
  g_string_append_c (line, ':');
  for (guint i = 0; i < summary->keys->len; i++) {
    const gchar *value = g_ptr_array_index (summary->values, i);

    g_string_append_printf (line, " %s=%s", (const gchar *) g_ptr_array_index (summary->keys, i),
                            value != NULL ? value : "none");
  }
  g_print ("%s\n", line->str);
}
