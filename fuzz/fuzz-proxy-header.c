/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the PROXY protocol header (v1 and v2) at the start of a connection, and the
 * same bytes as a Forwarded and an X-Forwarded-For header. */

#include "icecam-fuzz.h"
#include "icecam-proxy-header.h"

#include <string.h>

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  icecam_fuzz_init ();
  return 0;
}

/* The acceptor consumes header_len bytes of what it peeked and hands on the rest: the header
 * must lie within the input, and every answer but DONE must leave nothing to consume. */
static void
check_proxy_header (const uint8_t *data, size_t size)
{
  g_autoptr (GInetSocketAddress) source = NULL;
  g_autoptr (GError) error = NULL;
  gsize header_len = 0;
  IcecamProxyHeaderResult result =
    icecam_proxy_header_parse (data, size, &header_len, &source, &error);

  switch (result) {
  case ICECAM_PROXY_HEADER_DONE:
    if (header_len == 0 || header_len > size || header_len > ICECAM_PROXY_HEADER_MAX)
      icecam_fuzz_fail ("a header of %" G_GSIZE_FORMAT " bytes in %" G_GSIZE_FORMAT,
                        header_len, (gsize) size);
    if (error != NULL)
      icecam_fuzz_fail ("a header and an error");
    break;
  case ICECAM_PROXY_HEADER_INVALID:
    if (error == NULL || source != NULL || !g_utf8_validate (error->message, -1, NULL))
      icecam_fuzz_fail ("refused without a readable reason, or with an address");
    break;
  case ICECAM_PROXY_HEADER_NONE:
  case ICECAM_PROXY_HEADER_NEED_MORE:
    if (error != NULL || source != NULL || header_len != 0)
      icecam_fuzz_fail ("no header, yet an error, an address or a length");
    /* A v1 header longer than 107 bytes or a v2 one longer than the limit is never awaited. */
    if (result == ICECAM_PROXY_HEADER_NEED_MORE && size >= ICECAM_PROXY_HEADER_MAX)
      icecam_fuzz_fail ("more asked for after %" G_GSIZE_FORMAT " bytes", (gsize) size);
    break;
  default:
    icecam_fuzz_fail ("unknown result %d", result);
  }
}

static void
check_forwarded (const gchar *text)
{
  g_autoptr (GPtrArray) masks = g_ptr_array_new_with_free_func (g_object_unref);

  g_ptr_array_add (masks, g_inet_address_mask_new_from_string ("127.0.0.0/8", NULL));
  g_ptr_array_add (masks, g_inet_address_mask_new_from_string ("2001:db8::/32", NULL));
  for (guint which = 0; which < 2; which++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) hops = icecam_forwarded_parse (which == 0 ? text : NULL,
                                                         which == 1 ? text : NULL, &error);
    g_autoptr (GInetSocketAddress) client = NULL;

    if ((hops == NULL) != (error != NULL))
      icecam_fuzz_fail ("Forwarded parse: a result and an error, or neither");
    /* The reason goes to the log and back to the client in an error message. */
    if (error != NULL && !g_utf8_validate (error->message, -1, NULL))
      icecam_fuzz_fail ("Forwarded parse: the reason is not UTF-8");
    if (hops == NULL)
      continue;
    client = icecam_forwarded_pick_client (hops, masks);
    if (client != NULL && !G_IS_INET_SOCKET_ADDRESS (client))
      icecam_fuzz_fail ("the client is no address");
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree gchar *text = NULL;

  check_proxy_header (data, size);
  /* Header values are text without NUL: libsoup hands over a C string. */
  if (size > 4096 || memchr (data, 0, size) != NULL)
    return 0;
  text = g_strndup ((const gchar *) data, size);
  check_forwarded (text);
  return 0;
}
