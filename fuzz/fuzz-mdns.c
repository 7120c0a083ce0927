/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: multicast DNS, which anyone on the link may send to a camera resolving a
 * browser's `<uuid>.local` candidate. The first input byte says how many of the following bytes
 * are the name asked for; the rest is a DNS message from the link, read by
 * icecam_mdns_parse_answer(). The whole input, as text, is also a remote candidate line, whose
 * `.local` address is found (icecam_mdns_candidate_name()) and replaced
 * (icecam_mdns_candidate_with_address()) as a browser's candidates are. */

#include "icecam-fuzz.h"
#include "icecam-mdns.h"

#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  icecam_fuzz_init ();
  return 0;
}

static void
check_candidate (const uint8_t *data, size_t size)
{
  g_autofree gchar *text = g_strndup ((const gchar *) data, size);
  g_autofree gchar *name = icecam_mdns_candidate_name (text);
  g_autofree gchar *resolved = NULL;
  g_autofree gchar *left = NULL;

  if (name == NULL)
    return;
  if (!icecam_mdns_is_local_name (name))
    icecam_fuzz_fail ("candidate name '%s' is not a .local name", name);
  resolved = icecam_mdns_candidate_with_address (text, "198.51.100.7");
  if (resolved == NULL)
    icecam_fuzz_fail ("a candidate with a .local name could not take an address");
  left = icecam_mdns_candidate_name (resolved);
  if (left != NULL)
    icecam_fuzz_fail ("the candidate still names '%s' once resolved", left);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree gchar *name = NULL;
  g_autofree guint8 *message = NULL;
  gsize name_length, message_length;
  guint8 address[4];

  if (size > 8192)
    return 0;
  check_candidate (data, size);
  if (size < 1)
    return 0;
  name_length = MIN ((gsize) data[0], size - 1);
  name = g_strndup ((const gchar *) data + 1, name_length);
  message_length = size - 1 - name_length;
  /* exactly its own bytes, so that ASan sees any read past them */
  message = g_memdup2 (data + 1 + name_length, message_length);
  icecam_mdns_parse_answer (message, message_length, name, address);

  /* A query asks; it never reads as the answer to itself. */
  if (icecam_mdns_is_local_name (name)) {
    g_autoptr (GBytes) query = icecam_mdns_build_query (name, 0x1234, TRUE);
    gsize query_length;
    const guint8 *bytes;

    if (query == NULL)
      return 0;
    bytes = g_bytes_get_data (query, &query_length);
    if (icecam_mdns_parse_answer (bytes, query_length, name, address))
      icecam_fuzz_fail ("the query for '%s' read as its own answer", name);
  }
  return 0;
}
