/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests: the PROXY protocol header and the Forwarded / X-Forwarded-For parsers. */

#include <string.h>

#include "icecam-proxy-header.h"

static gchar *
address_string (GInetSocketAddress *address)
{
  g_autofree gchar *host = g_inet_address_to_string (g_inet_socket_address_get_address (address));

  return g_strdup_printf ("%s:%u", host, g_inet_socket_address_get_port (address));
}

static IcecamProxyHeaderResult
parse (const void *data, gsize len, gsize *header_len, gchar **source, GError **error)
{
  g_autoptr (GInetSocketAddress) address = NULL;
  IcecamProxyHeaderResult result =
    icecam_proxy_header_parse (data, len, header_len, &address, error);

  *source = address != NULL ? address_string (address) : NULL;
  return result;
}

static void
test_v1 (void)
{
  static const gchar tcp4[] = "PROXY TCP4 203.0.113.7 198.51.100.1 51234 443\r\nGET /ws";
  static const gchar tcp6[] = "PROXY TCP6 2001:db8::7 2001:db8::1 1 65535\r\n";
  static const gchar unknown[] = "PROXY UNKNOWN ffff::1 whatever\r\nGET";
  g_autofree gchar *source = NULL;
  gsize len = 0;

  g_assert_cmpint (parse (tcp4, strlen (tcp4), &len, &source, NULL), ==,
                   ICECAM_PROXY_HEADER_DONE);
  g_assert_cmpuint (len, ==, strlen (tcp4) - strlen ("GET /ws"));
  g_assert_cmpstr (source, ==, "203.0.113.7:51234");
  g_clear_pointer (&source, g_free);
  g_assert_cmpint (parse (tcp6, strlen (tcp6), &len, &source, NULL), ==,
                   ICECAM_PROXY_HEADER_DONE);
  g_assert_cmpstr (source, ==, "2001:db8::7:1");
  g_clear_pointer (&source, g_free);
  g_assert_cmpint (parse (unknown, strlen (unknown), &len, &source, NULL), ==,
                   ICECAM_PROXY_HEADER_DONE);
  g_assert_null (source);
  g_assert_cmpuint (len, ==, strlen (unknown) - 3);
  /* Every prefix of a header asks for more, or is the header. */
  for (gsize i = 0; i < strlen (tcp4) - strlen ("GET /ws") - 1; i++) {
    g_assert_cmpint (parse (tcp4, i, &len, &source, NULL), ==, ICECAM_PROXY_HEADER_NEED_MORE);
    g_assert_null (source);
  }
}

static void
test_v1_malformed (void)
{
  static const gchar *const bad[] = {
    "PROXY TCP4 203.0.113.7 198.51.100.1 51234\r\n",
    "PROXY TCP4 203.0.113.7 198.51.100.1 51234 443 extra\r\n",
    "PROXY TCP5 203.0.113.7 198.51.100.1 51234 443\r\n",
    "PROXY TCP4 2001:db8::7 198.51.100.1 51234 443\r\n",
    "PROXY TCP6 203.0.113.7 2001:db8::1 51234 443\r\n",
    "PROXY TCP4 203.0.113.999 198.51.100.1 51234 443\r\n",
    "PROXY TCP4 1 198.51.100.1 51234 443\r\n",
    "PROXY TCP4 203.0.113.7 198.51.100.1 65536 443\r\n",
    "PROXY TCP4 203.0.113.7 198.51.100.1 051234 443\r\n",
    "PROXY TCP4 203.0.113.7 198.51.100.1 -1 443\r\n",
    "PROXY TCP4  203.0.113.7 198.51.100.1 1 443\r\n",
    "PROXY \r\n",
    "PROXY TCP4\x88 203.0.113.7 198.51.100.1 51234 443\r\n", /* the reason quotes it: UTF-8 */
  };
  g_autofree gchar *long_line = g_strnfill (200, 'A');
  g_autofree gchar *too_long = g_strconcat ("PROXY ", long_line, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *source = NULL;
    gsize len = 0;

    g_assert_cmpint (parse (bad[i], strlen (bad[i]), &len, &source, &error), ==,
                     ICECAM_PROXY_HEADER_INVALID);
    g_assert_error (error, ICECAM_PROXY_HEADER_ERROR, ICECAM_PROXY_HEADER_ERROR_MALFORMED);
    g_assert_true (g_str_has_prefix (error->message, "PROXY header: "));
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
    g_assert_null (source);
  }
  {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *source = NULL;
    gsize len = 0;

    g_assert_cmpint (parse (too_long, strlen (too_long), &len, &source, &error), ==,
                     ICECAM_PROXY_HEADER_INVALID);
    g_assert_nonnull (strstr (error->message, "no CRLF"));
  }
}

/* What is not a PROXY header is said to be so from the first byte that differs. */
static void
test_none (void)
{
  static const gchar *const others[] = {
    "GET /ws HTTP/1.1\r\n", "POST / HTTP/1.1", "PUT", "PRI * HTTP/2.0", "\x16\x03\x01", "P",
  };
  g_autofree gchar *source = NULL;
  gsize len = 0;

  for (guint i = 0; i < G_N_ELEMENTS (others); i++) {
    IcecamProxyHeaderResult result = parse (others[i], strlen (others[i]), &len, &source, NULL);

    if (strcmp (others[i], "P") == 0)
      g_assert_cmpint (result, ==, ICECAM_PROXY_HEADER_NEED_MORE);
    else
      g_assert_cmpint (result, ==, ICECAM_PROXY_HEADER_NONE);
  }
}

static GByteArray *
v2 (guint8 version_command, guint8 family, const guint8 *body, guint16 body_len)
{
  static const guint8 signature[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
  };
  GByteArray *header = g_byte_array_new ();
  guint8 fields[4] = { version_command, family, body_len >> 8, body_len & 0xff };

  g_byte_array_append (header, signature, sizeof signature);
  g_byte_array_append (header, fields, sizeof fields);
  if (body_len > 0)
    g_byte_array_append (header, body, body_len);
  return header;
}

static void
test_v2 (void)
{
  static const guint8 ipv4[12 + 5] = {
    203, 0, 113, 7, 198, 51, 100, 1, 0xc8, 0x22, 0x01, 0xbb,
    0x04, 0x00, 0x02, 'h', 'i', /* a TLV, skipped */
  };
  guint8 ipv6[36] = { 0x20, 0x01, 0x0d, 0xb8 };
  g_autoptr (GByteArray) header = v2 (0x21, 0x11, ipv4, sizeof ipv4);
  g_autoptr (GByteArray) header6 = NULL;
  g_autoptr (GByteArray) local = NULL;
  g_autofree gchar *source = NULL;
  gsize len = 0;

  g_byte_array_append (header, (const guint8 *) "GET", 3);
  g_assert_cmpint (parse (header->data, header->len, &len, &source, NULL), ==,
                   ICECAM_PROXY_HEADER_DONE);
  g_assert_cmpuint (len, ==, 16 + sizeof ipv4);
  g_assert_cmpstr (source, ==, "203.0.113.7:51234");
  for (gsize i = 0; i < 16 + sizeof ipv4; i++) {
    g_clear_pointer (&source, g_free);
    g_assert_cmpint (parse (header->data, i, &len, &source, NULL), ==,
                     ICECAM_PROXY_HEADER_NEED_MORE);
  }
  g_clear_pointer (&source, g_free);
  ipv6[15] = 7;
  ipv6[32] = 0x12;
  ipv6[33] = 0x34;
  header6 = v2 (0x21, 0x21, ipv6, sizeof ipv6);
  g_assert_cmpint (parse (header6->data, header6->len, &len, &source, NULL), ==,
                   ICECAM_PROXY_HEADER_DONE);
  g_assert_cmpstr (source, ==, "2001:db8::7:4660");
  g_clear_pointer (&source, g_free);
  /* LOCAL: a health check by the balancer itself; the peer's address stands. */
  local = v2 (0x20, 0x00, NULL, 0);
  g_assert_cmpint (parse (local->data, local->len, &len, &source, NULL), ==,
                   ICECAM_PROXY_HEADER_DONE);
  g_assert_cmpuint (len, ==, 16);
  g_assert_null (source);
}

static void
test_v2_malformed (void)
{
  static const guint8 short_body[8] = { 0 };
  static const guint8 ipv4[12] = { 203, 0, 113, 7 };
  struct {
    guint8 version_command;
    guint8 family;
    const guint8 *body;
    guint16 len;
  } bad[] = {
    { 0x11, 0x11, ipv4, sizeof ipv4 },            /* version 1 */
    { 0x22, 0x11, ipv4, sizeof ipv4 },            /* command 2 */
    { 0x21, 0x12, ipv4, sizeof ipv4 },            /* UDP */
    { 0x21, 0x11, short_body, sizeof short_body },/* too short for IPv4 */
    { 0x21, 0x21, ipv4, sizeof ipv4 },            /* too short for IPv6 */
    { 0x21, 0x41, ipv4, sizeof ipv4 },            /* family 4 */
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GByteArray) header = v2 (bad[i].version_command, bad[i].family, bad[i].body,
                                        bad[i].len);
    g_autoptr (GError) error = NULL;
    g_autofree gchar *source = NULL;
    gsize len = 0;

    g_assert_cmpint (parse (header->data, header->len, &len, &source, &error), ==,
                     ICECAM_PROXY_HEADER_INVALID);
    g_assert_error (error, ICECAM_PROXY_HEADER_ERROR, ICECAM_PROXY_HEADER_ERROR_MALFORMED);
  }
  {
    /* Longer than the limit: refused from the length field, before its bytes arrive. */
    g_autoptr (GByteArray) header = v2 (0x21, 0x11, NULL, 0);
    g_autoptr (GError) error = NULL;
    g_autofree gchar *source = NULL;
    gsize len = 0;

    header->data[14] = 0xff;
    g_assert_cmpint (parse (header->data, header->len, &len, &source, &error), ==,
                     ICECAM_PROXY_HEADER_INVALID);
  }
}

static GPtrArray *
trusted (const gchar *first, ...)
{
  GPtrArray *masks = g_ptr_array_new_with_free_func (g_object_unref);
  va_list args;

  va_start (args, first);
  for (const gchar *cidr = first; cidr != NULL; cidr = va_arg (args, const gchar *))
    g_ptr_array_add (masks, g_inet_address_mask_new_from_string (cidr, NULL));
  va_end (args);
  return masks;
}

/* The client: the rightmost hop that is not trusted. */
static gchar *
pick (const gchar *forwarded, const gchar *x_forwarded_for, GPtrArray *masks)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) hops = icecam_forwarded_parse (forwarded, x_forwarded_for, &error);
  g_autoptr (GInetSocketAddress) client = NULL;

  g_assert_no_error (error);
  client = icecam_forwarded_pick_client (hops, masks);
  return client != NULL ? address_string (client) : NULL;
}

static void
test_forwarded (void)
{
  g_autoptr (GPtrArray) masks = trusted ("127.0.0.2", "10.0.0.0/8", "2001:db8:ffff::/48", NULL);
  struct {
    const gchar *forwarded;
    const gchar *x_forwarded_for;
    const gchar *client;
  } cases[] = {
    { NULL, "203.0.113.7", "203.0.113.7:0" },
    { NULL, "198.51.100.1, 203.0.113.7", "203.0.113.7:0" },     /* forged first hop */
    { NULL, "198.51.100.1, 203.0.113.7, 10.1.2.3", "203.0.113.7:0" },
    { NULL, "10.0.0.1, 10.0.0.2", "10.0.0.1:0" },               /* all trusted: leftmost */
    { NULL, "203.0.113.7:8443", "203.0.113.7:8443" },
    { NULL, "[2001:db8::7]:99, 2001:db8:ffff::1", "2001:db8::7:99" },
    { NULL, "unknown", NULL },
    { NULL, "", NULL },                                         /* empty: the peer counts */
    { NULL, "203.0.113.7, unknown", NULL },
    { "for=203.0.113.7", "198.51.100.9", "203.0.113.7:0" },    /* Forwarded wins */
    { "for=198.51.100.1;proto=https, For=\"[2001:db8::7]:4711\"", NULL, "2001:db8::7:4711" },
    { "for=203.0.113.7;by=10.0.0.1, for=10.0.0.3", NULL, "203.0.113.7:0" },
    { "for=\"203.0.113.7\";host=\"a,b;c\"", NULL, "203.0.113.7:0" },
    { "for=_hidden", NULL, NULL },
    { "proto=https", NULL, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *client = pick (cases[i].forwarded, cases[i].x_forwarded_for, masks);

    g_assert_cmpstr (client, ==, cases[i].client);
  }
}

static void
test_forwarded_malformed (void)
{
  static const gchar *const bad_xff[] = {
    "203.0.113", "203.0.113.7.1", "example.org", "203.0.113.7:99999", "[2001:db8::7",
    "2001:db8::7]", "203.0.113.7, , 10.0.0.1", "1", "0x7f.1", "[203.0.113.7]",
  };
  static const gchar *const bad_forwarded[] = {
    "for", "for=", "=203.0.113.7", "for=\"203.0.113.7", "for=203.0.113.7 x", "for=2001:db8::7:",
    "for=nonsense",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad_xff); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) hops = icecam_forwarded_parse (NULL, bad_xff[i], &error);

    if (hops != NULL)
      g_error ("'%s' parsed", bad_xff[i]);
    g_assert_error (error, ICECAM_PROXY_HEADER_ERROR, ICECAM_PROXY_HEADER_ERROR_MALFORMED);
    g_assert_true (g_str_has_prefix (error->message, "X-Forwarded-For: "));
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad_forwarded); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) hops = icecam_forwarded_parse (bad_forwarded[i], NULL, &error);

    if (hops != NULL)
      g_error ("'%s' parsed", bad_forwarded[i]);
    g_assert_error (error, ICECAM_PROXY_HEADER_ERROR, ICECAM_PROXY_HEADER_ERROR_MALFORMED);
  }
}

static void
test_trusted_mapped (void)
{
  g_autoptr (GPtrArray) masks = trusted ("127.0.0.2/32", NULL);
  g_autoptr (GInetAddress) mapped = g_inet_address_new_from_string ("::ffff:127.0.0.2");
  g_autoptr (GInetAddress) other = g_inet_address_new_from_string ("::ffff:127.0.0.3");

  g_assert_true (icecam_proxy_is_trusted (masks, mapped));
  g_assert_false (icecam_proxy_is_trusted (masks, other));
  g_assert_false (icecam_proxy_is_trusted (NULL, mapped));
}

/* Random bytes after each signature: an answer, never a crash or a read past the end. */
static void
test_random (void)
{
  static const guint8 v2_signature[12] = {
    0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A,
  };

  for (guint i = 0; i < 5000; i++) {
    gsize len = (gsize) g_test_rand_int_range (0, 120);
    g_autofree guint8 *data = g_malloc (len + 1);
    g_autoptr (GError) error = NULL;
    g_autofree gchar *source = NULL;
    gsize header_len = 0;

    for (gsize j = 0; j < len; j++)
      data[j] = (guint8) g_test_rand_int_range (0, 256);
    if (i % 3 == 0)
      memcpy (data, "PROXY ", MIN (len, 6));
    else if (i % 3 == 1)
      memcpy (data, v2_signature, MIN (len, 12));
    if (parse (data, len, &header_len, &source, &error) == ICECAM_PROXY_HEADER_DONE)
      g_assert_cmpuint (header_len, <=, len);
  }
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/proxy-header/v1", test_v1);
  g_test_add_func ("/proxy-header/v1-malformed", test_v1_malformed);
  g_test_add_func ("/proxy-header/none", test_none);
  g_test_add_func ("/proxy-header/v2", test_v2);
  g_test_add_func ("/proxy-header/v2-malformed", test_v2_malformed);
  g_test_add_func ("/proxy-header/forwarded", test_forwarded);
  g_test_add_func ("/proxy-header/forwarded-malformed", test_forwarded_malformed);
  g_test_add_func ("/proxy-header/trusted-mapped", test_trusted_mapped);
  g_test_add_func ("/proxy-header/random", test_random);
  return g_test_run ();
}
