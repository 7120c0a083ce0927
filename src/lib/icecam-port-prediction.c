/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Port prediction: the server-reflexive candidates a sequential symmetric NAT will most
 * likely give the next mappings, as ordinary candidates the peer's ICE checks. */

#include "icecam-port-prediction.h"

#include <string.h>

/* Fields of "candidate:FOUNDATION COMPONENT TRANSPORT PRIORITY ADDRESS PORT typ TYPE ...". */
enum {
  FIELD_FOUNDATION,
  FIELD_COMPONENT,
  FIELD_TRANSPORT,
  FIELD_PRIORITY,
  FIELD_ADDRESS,
  FIELD_PORT,
  FIELD_TYP,
  FIELD_TYPE,
  N_FIELDS,
};

static gboolean
parse_number (const gchar *text, guint64 max, guint64 *out)
{
  return g_ascii_string_to_unsigned (text, 10, 1, max, out, NULL);
}

/**
 * icecam_port_prediction_candidates:
 * @candidate: a local "candidate:..." attribute value (no "a=")
 * @step: the NAT's port step (icecam_nat_ports_classify()'s delta), non-zero, at most
 *   %ICECAM_PORT_PREDICTION_MAX_STEP either way
 * @count: how many to predict
 *
 * Pure, no I/O. For a UDP server-reflexive @candidate at ADDRESS:PORT, the candidates
 * ADDRESS:PORT+k·@step for k = 1..@count (fewer where the ports would leave 1024-65535):
 * each with its own foundation (FOUNDATION then "p" and k, so that no pair waits frozen
 * behind another) and a priority below the real one (256·k less, the component's byte
 * kept), the rest of the attribute (typ srflx raddr ... rport ...) unchanged. A standard stack
 * takes them as server-reflexive candidates, and checks them as such.
 *
 * Returns: (transfer full) (array zero-terminated=1): the predicted candidates; empty for
 *   anything else (host, relayed, TCP, malformed, @step 0)
 */
gchar **
icecam_port_prediction_candidates (const gchar *candidate, gint step, guint count)
{
  GPtrArray *out = g_ptr_array_new ();
  g_auto (GStrv) fields = NULL;
  guint64 priority, port;
  g_autofree gchar *rest = NULL;

  g_return_val_if_fail (candidate != NULL, NULL);

  fields = g_strsplit (candidate, " ", -1);
  if (step == 0 || ABS (step) > ICECAM_PORT_PREDICTION_MAX_STEP ||
      g_strv_length (fields) < N_FIELDS ||
      !g_str_has_prefix (fields[FIELD_FOUNDATION], "candidate:") ||
      g_ascii_strcasecmp (fields[FIELD_TRANSPORT], "udp") != 0 ||
      !g_str_equal (fields[FIELD_TYP], "typ") || !g_str_equal (fields[FIELD_TYPE], "srflx") ||
      !parse_number (fields[FIELD_PRIORITY], G_MAXUINT32, &priority) ||
      !parse_number (fields[FIELD_PORT], G_MAXUINT16, &port)) {
    g_ptr_array_add (out, NULL);
    return (gchar **) g_ptr_array_free (out, FALSE);
  }

  rest = g_strjoinv (" ", fields + FIELD_TYP);
  for (guint k = 1; k <= count; k++) {
    gint64 predicted = (gint64) port + (gint64) k * step;
    guint64 lower = (guint64) k * 256;

    if (predicted < 1024 || predicted > G_MAXUINT16 || lower >= priority)
      break;
    g_ptr_array_add (out, g_strdup_printf ("%sp%u %s %s %" G_GUINT64_FORMAT " %s %"
                                           G_GINT64_FORMAT " %s",
                                           fields[FIELD_FOUNDATION], k, fields[FIELD_COMPONENT],
                                           fields[FIELD_TRANSPORT], priority - lower,
                                           fields[FIELD_ADDRESS], predicted, rest));
  }
  g_ptr_array_add (out, NULL);
  return (gchar **) g_ptr_array_free (out, FALSE);
}
