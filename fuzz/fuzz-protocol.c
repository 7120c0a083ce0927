/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: icecam_message_parse() on one WebSocket frame, the build -> parse round
 * trip of every message it accepts, and the same outcome as json-glib alone (the flat reader
 * takes plain-string objects first). */

#include "icecam-fuzz.h"
#include "icecam-protocol.h"
#include "icecam-protocol-private.h"

#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  icecam_fuzz_init ();
  return 0;
}

/* What a peer receives when the server answers bad input: the error must say why in text that
 * can travel back in an `error` message. */
static void
check_parse_error (const GError *error)
{
  if (error == NULL)
    icecam_fuzz_fail ("icecam_message_parse() returned NULL without an error");
  if (error->domain != ICECAM_PROTOCOL_ERROR)
    icecam_fuzz_fail ("parse error of domain %s: %s", g_quark_to_string (error->domain),
                      error->message);
  if (!g_utf8_validate (error->message, -1, NULL))
    icecam_fuzz_fail ("parse error text is not valid UTF-8");
  (void) icecam_error_code_to_string (icecam_error_code_from_protocol_error (error));
}

/* Whatever the parser accepts, the builder must write as JSON that parses back to the same
 * message: both ends use the same code, so a message that changes on the way would be
 * relayed wrongly. The copy must carry every field too. */
static void
check_round_trip (const IcecamMessage *msg)
{
  g_autofree gchar *json = icecam_message_to_json (msg);
  g_autofree gchar *json_again = NULL;
  g_autofree gchar *json_of_copy = NULL;
  g_autoptr (IcecamMessage) back = NULL;
  g_autoptr (IcecamMessage) copy = NULL;
  g_autoptr (GError) error = NULL;

  if (json == NULL)
    icecam_fuzz_fail ("icecam_message_to_json() returned NULL for a parsed %s",
                      icecam_message_type_to_string (msg->type));
  back = icecam_message_parse (json, strlen (json), &error);
  if (back == NULL)
    icecam_fuzz_fail ("built message does not parse: %s\n%s", error->message, json);
  if (back->type != msg->type)
    icecam_fuzz_fail ("round trip changed the type: %s", json);
  json_again = icecam_message_to_json (back);
  if (g_strcmp0 (json, json_again) != 0)
    icecam_fuzz_fail ("round trip changed the message:\n%s\n%s", json, json_again);

  copy = icecam_message_copy (msg);
  json_of_copy = icecam_message_to_json (copy);
  if (g_strcmp0 (json, json_of_copy) != 0)
    icecam_fuzz_fail ("icecam_message_copy() lost something:\n%s\n%s", json, json_of_copy);
}

/* The message, or the error, exactly as when every text went through json-glib. */
static void
check_same_as_json_glib (const uint8_t *data, size_t size, const IcecamMessage *msg,
                         const GError *error)
{
  g_autoptr (IcecamMessage) reference = NULL;
  g_autoptr (GError) reference_error = NULL;
  g_autofree gchar *json = NULL;
  g_autofree gchar *reference_json = NULL;

  reference = icecam_message_parse_with_json_glib ((const gchar *) data, size,
                                                   &reference_error);
  if ((msg == NULL) != (reference == NULL))
    icecam_fuzz_fail ("accepted by %s only", msg != NULL ? "the flat reader" : "json-glib");
  if (msg == NULL) {
    if (error->code != reference_error->code ||
        g_strcmp0 (error->message, reference_error->message) != 0)
      icecam_fuzz_fail ("error '%s', json-glib alone: '%s'", error->message,
                        reference_error->message);
    return;
  }
  json = icecam_message_to_json (msg);
  reference_json = icecam_message_to_json (reference);
  if (g_strcmp0 (json, reference_json) != 0)
    icecam_fuzz_fail ("parsed as %s, by json-glib alone as %s", json, reference_json);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (IcecamMessage) msg = NULL;
  g_autoptr (GError) error = NULL;

  msg = icecam_message_parse ((const gchar *) data, size, &error);
  if (msg == NULL)
    check_parse_error (error);
  else
    check_round_trip (msg);
  check_same_as_json_glib (data, size, msg, error);
  return 0;
}
