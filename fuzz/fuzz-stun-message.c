/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the STUN codec on one datagram, read as a request (both responder modes)
 * and as a response; the answer written to every accepted request must read back. */

#include "icecam-fuzz.h"
#include "icecam-stun-message.h"

#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  icecam_fuzz_init ();
  return 0;
}

static void
check_same_address (const gchar *what, gboolean has, const IcecamStunAddress *got,
                    const IcecamStunAddress *sent)
{
  if (!has || got->family != sent->family || got->port != sent->port ||
      memcmp (got->address, sent->address, got->family == ICECAM_STUN_FAMILY_IPV6 ? 16 : 4) != 0)
    icecam_fuzz_fail ("the answer's %s does not read back", what);
}

/* The responder answers what icecam_stun_message_parse_request() accepted; the NAT probe
 * reads answers with icecam_stun_message_parse_response(). Each answer must fit the buffer
 * size the header promises and read back with the request's transaction and our addresses. */
static void
check_answer (const IcecamStunRequest *request, gboolean rfc5780)
{
  static const IcecamStunAddress mapped = { ICECAM_STUN_FAMILY_IPV6, 32853,
    { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77 } };
  static const IcecamStunAddress origin = { ICECAM_STUN_FAMILY_IPV4, 3478, { 192, 0, 2, 1 } };
  static const IcecamStunAddress other = { ICECAM_STUN_FAMILY_IPV4, 3479, { 192, 0, 2, 2 } };
  guint8 buffer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  IcecamStunResponse response;
  g_autoptr (GError) error = NULL;
  gsize length;

  if (request->error_code == 0)
    length = icecam_stun_message_write_success (request, &mapped, rfc5780 ? &origin : NULL,
                                                rfc5780 ? &other : NULL, buffer, sizeof buffer,
                                                &error);
  else
    length = icecam_stun_message_write_error (request, buffer, sizeof buffer, &error);
  if (length == 0)
    icecam_fuzz_fail ("answer (code %u) not written: %s", request->error_code, error->message);

  if (!icecam_stun_message_parse_response (buffer, length, &response, &error))
    icecam_fuzz_fail ("answer (code %u) does not read back: %s", request->error_code,
                      error->message);
  if (response.cookie != request->cookie ||
      memcmp (response.transaction_id, request->transaction_id,
              ICECAM_STUN_TRANSACTION_ID_LENGTH) != 0)
    icecam_fuzz_fail ("the answer's transaction ID differs from the request's");
  if (response.error_code != request->error_code || response.is_error != (request->error_code != 0))
    icecam_fuzz_fail ("answer code %u read back as %u", request->error_code, response.error_code);
  if (request->error_code != 0)
    return;
  check_same_address ("mapped address", response.has_mapped_address, &response.mapped_address,
                      &mapped);
  if (rfc5780) {
    check_same_address ("response origin", response.has_response_origin,
                        &response.response_origin, &origin);
    check_same_address ("other address", response.has_other_address, &response.other_address,
                        &other);
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  IcecamStunRequest request;
  IcecamStunResponse response;

  for (guint rfc5780 = 0; rfc5780 <= 1; rfc5780++) {
    g_autoptr (GError) error = NULL;

    if (icecam_stun_message_parse_request (data, size, rfc5780, &request, &error))
      check_answer (&request, rfc5780);
    else if (error == NULL || error->domain != ICECAM_STUN_MESSAGE_ERROR)
      icecam_fuzz_fail ("request refused without an ICECAM_STUN_MESSAGE_ERROR");
  }

  {
    g_autoptr (GError) error = NULL;

    if (!icecam_stun_message_parse_response (data, size, &response, &error) &&
        (error == NULL || error->domain != ICECAM_STUN_MESSAGE_ERROR))
      icecam_fuzz_fail ("response refused without an ICECAM_STUN_MESSAGE_ERROR");
  }
  return 0;
}
