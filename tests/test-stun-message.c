/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the STUN message codec, with the RFC 5769 vectors and hand-written byte strings. */

#include "icecam-stun-message.h"

#include <stdlib.h>
#include <string.h>

/* RFC 5769 test vectors (Copyright (c) 2010 IETF Trust and the persons identified as the
 * document authors; Simplified BSD License). Their MESSAGE-INTEGRITY is correct for the
 * password "VOkJxbRl1RmTxUk/WvJxBt", which this codec never checks. */

/* Section 2.1 "Sample Request": SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
 * MESSAGE-INTEGRITY, FINGERPRINT. */
static const guint8 rfc5769_request[] = {
  0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, /* Binding request, length, cookie */
  0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, /* transaction ID */
  0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, /* SOFTWARE */
  0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
  0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, /* PRIORITY */
  0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, /* ICE-CONTROLLED */
  0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, /* USERNAME */
  0x59, 0x20, 0x20, 0x20,
  0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, /* MESSAGE-INTEGRITY */
  0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2,
  0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf, /* FINGERPRINT */
};

/* Section 2.2 "Sample IPv4 Response": 192.0.2.1:32853. */
static const guint8 rfc5769_ipv4_response[] = {
  0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, /* Binding success, length, cookie */
  0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, /* transaction ID */
  0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, /* SOFTWARE */
  0x74, 0x6f, 0x72, 0x20,
  0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, /* XOR-MAPPED-ADDRESS */
  0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, /* MESSAGE-INTEGRITY */
  0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
  0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96, /* FINGERPRINT */
};

/* Section 2.3 "Sample IPv6 Response": [2001:db8:1234:5678:11:2233:4455:6677]:32853. */
static const guint8 rfc5769_ipv6_response[] = {
  0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, /* Binding success, length, cookie */
  0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, /* transaction ID */
  0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, /* SOFTWARE */
  0x74, 0x6f, 0x72, 0x20,
  0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, /* XOR-MAPPED-ADDRESS */
  0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
  0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, /* MESSAGE-INTEGRITY */
  0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
  0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c, /* FINGERPRINT */
};

/* The expected answers below were computed independently (zlib's CRC-32); their
 * XOR-MAPPED-ADDRESS attributes are byte for byte those of the RFC 5769 responses. */

/* The success answer to rfc5769_request from 192.0.2.1:32853, no RFC 5780. */
static const guint8 expected_ipv4_success[] = {
  0x01, 0x01, 0x00, 0x20, 0x21, 0x12, 0xa4, 0x42,
  0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
  0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, /* XOR-MAPPED-ADDRESS */
  0x80, 0x22, 0x00, 0x06, 0x69, 0x63, 0x65, 0x63, 0x61, 0x6d, 0x00, 0x00, /* SOFTWARE */
  0x80, 0x28, 0x00, 0x04, 0xc6, 0xe6, 0x7a, 0xc5,                         /* FINGERPRINT */
};

/* The same from [2001:db8:1234:5678:11:2233:4455:6677]:32853, answered by an RFC 5780 server
 * from [2001:db8::1]:3478 whose other address is [2001:db8::2]:3479: the largest answer. */
static const guint8 expected_ipv6_rfc5780_success[] = {
  0x01, 0x01, 0x00, 0x5c, 0x21, 0x12, 0xa4, 0x42,
  0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
  0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, /* XOR-MAPPED-ADDRESS */
  0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
  0x80, 0x2b, 0x00, 0x14, 0x00, 0x02, 0x0d, 0x96, 0x20, 0x01, 0x0d, 0xb8, /* RESPONSE-ORIGIN */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
  0x80, 0x2c, 0x00, 0x14, 0x00, 0x02, 0x0d, 0x97, 0x20, 0x01, 0x0d, 0xb8, /* OTHER-ADDRESS */
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
  0x80, 0x22, 0x00, 0x06, 0x69, 0x63, 0x65, 0x63, 0x61, 0x6d, 0x00, 0x00, /* SOFTWARE */
  0x80, 0x28, 0x00, 0x04, 0x88, 0xdc, 0x4b, 0x7f,                         /* FINGERPRINT */
};

/* 420 to an RFC 8489 request with the transaction ID above and attribute 0x7F01. */
static const guint8 expected_420[] = {
  0x01, 0x11, 0x00, 0x38, 0x21, 0x12, 0xa4, 0x42,
  0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
  0x00, 0x09, 0x00, 0x15, 0x00, 0x00, 0x04, 0x14, 'U', 'n', 'k', 'n', /* ERROR-CODE */
  'o', 'w', 'n', ' ', 'A', 't', 't', 'r', 'i', 'b', 'u', 't', 'e', 0x00, 0x00, 0x00,
  0x00, 0x0a, 0x00, 0x02, 0x7f, 0x01, 0x00, 0x00,                         /* UNKNOWN-ATTRIBUTES */
  0x80, 0x22, 0x00, 0x06, 0x69, 0x63, 0x65, 0x63, 0x61, 0x6d, 0x00, 0x00, /* SOFTWARE */
  0x80, 0x28, 0x00, 0x04, 0xcd, 0xc8, 0x9a, 0x9d,                         /* FINGERPRINT */
};

/* 420 to the same request in RFC 3489 form, transaction ID 01..10: no padding exists there,
 * so the reason is padded with spaces and the odd list made even by repeating its entry. */
static const guint8 expected_rfc3489_420[] = {
  0x01, 0x11, 0x00, 0x24, 0x01, 0x02, 0x03, 0x04,
  0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
  0x00, 0x09, 0x00, 0x18, 0x00, 0x00, 0x04, 0x14, 'U', 'n', 'k', 'n', /* ERROR-CODE */
  'o', 'w', 'n', ' ', 'A', 't', 't', 'r', 'i', 'b', 'u', 't', 'e', ' ', ' ', ' ',
  0x00, 0x0a, 0x00, 0x04, 0x7f, 0x01, 0x7f, 0x01,                         /* UNKNOWN-ATTRIBUTES */
};

/* A Binding request with the transaction ID above asking to change IP and port. */
static const guint8 expected_change_request[] = {
  0x00, 0x01, 0x00, 0x1c, 0x21, 0x12, 0xa4, 0x42,
  0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
  0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x06,                         /* CHANGE-REQUEST */
  0x80, 0x22, 0x00, 0x06, 0x69, 0x63, 0x65, 0x63, 0x61, 0x6d, 0x00, 0x00, /* SOFTWARE */
  0x80, 0x28, 0x00, 0x04, 0x50, 0xa8, 0x67, 0x8e,                         /* FINGERPRINT */
};

static const guint8 rfc3489_transaction[16] = {
  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
};

#define TRANSACTION_ID (rfc5769_request + 8)
#define ATTR_CHANGE_REQUEST 0x0003
#define ATTR_MESSAGE_INTEGRITY 0x0008
#define ATTR_UNASSIGNED_MANDATORY 0x7F01

/* ---- helpers ------------------------------------------------------------------------------ */

/* The header of a message with the RFC 5769 transaction ID; RFC 3489's if !@cookie. */
static GByteArray *
message_new (guint16 type, gboolean cookie)
{
  GByteArray *message = g_byte_array_new ();
  guint8 header[4] = { type >> 8, type & 0xff, 0, 0 };

  g_byte_array_append (message, header, sizeof header);
  if (cookie)
    g_byte_array_append (message, rfc5769_request + 4, 16);
  else
    g_byte_array_append (message, rfc3489_transaction, 16);
  return message;
}

/* Appends an attribute with its padding and updates the length field. */
static void
message_add (GByteArray *message, guint16 type, const void *value, gsize length)
{
  static const guint8 zeros[3] = { 0 };
  guint8 header[4] = { type >> 8, type & 0xff, length >> 8, length & 0xff };
  gsize body;

  g_byte_array_append (message, header, sizeof header);
  if (length > 0)
    g_byte_array_append (message, value, length);
  g_byte_array_append (message, zeros, (4 - length % 4) % 4);
  body = message->len - 20;
  message->data[2] = body >> 8;
  message->data[3] = body & 0xff;
}

static void
message_add_u32 (GByteArray *message, guint16 type, guint32 value)
{
  guint8 bytes[4] = { value >> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff };

  message_add (message, type, bytes, sizeof bytes);
}

/* The parsers get copies of exactly @length bytes so valgrind sees any read past the end. */
static gboolean
parse_request (const guint8 *data, gsize length, gboolean rfc5780, IcecamStunRequest *request,
               GError **error)
{
  g_autofree guint8 *copy = g_memdup2 (data, length);
  gboolean ok = icecam_stun_message_parse_request (copy, length, rfc5780, request, error);

  g_assert_true (ok == (error == NULL || *error == NULL));
  return ok;
}

static gboolean
parse_response (const guint8 *data, gsize length, IcecamStunResponse *response, GError **error)
{
  g_autofree guint8 *copy = g_memdup2 (data, length);
  gboolean ok = icecam_stun_message_parse_response (copy, length, response, error);

  g_assert_true (ok == (error == NULL || *error == NULL));
  return ok;
}

static void
assert_request_refused (const guint8 *data, gsize length, gint code)
{
  IcecamStunRequest request;
  g_autoptr(GError) error = NULL;

  g_assert_false (parse_request (data, length, TRUE, &request, &error));
  g_assert_error (error, ICECAM_STUN_MESSAGE_ERROR, code);
}

static void
assert_response_refused (const guint8 *data, gsize length, gint code)
{
  IcecamStunResponse response;
  g_autoptr(GError) error = NULL;

  g_assert_false (parse_response (data, length, &response, &error));
  g_assert_error (error, ICECAM_STUN_MESSAGE_ERROR, code);
}

/* Parses a request built by a test; it must deserve an answer. */
static void
parse_built_request (GByteArray *message, gboolean rfc5780, IcecamStunRequest *request)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (parse_request (message->data, message->len, rfc5780, request, &error));
  g_assert_no_error (error);
}

/* "192.0.2.1:3478" or "[2001:db8::1]:3478" */
static IcecamStunAddress
address_parse (const gchar *text)
{
  const gchar *colon = strrchr (text, ':');
  g_autofree gchar *ip = NULL;
  g_autoptr(GSocketAddress) socket_address = NULL;
  IcecamStunAddress address;

  g_assert_nonnull (colon);
  ip = text[0] == '[' ? g_strndup (text + 1, colon - text - 2) : g_strndup (text, colon - text);
  socket_address = g_inet_socket_address_new_from_string (ip, atoi (colon + 1));
  g_assert_nonnull (socket_address);
  g_assert_true (icecam_stun_address_from_socket_address (G_INET_SOCKET_ADDRESS (socket_address),
                                                          &address));
  return address;
}

static gchar *
address_to_string (const IcecamStunAddress *address)
{
  g_autoptr(GInetSocketAddress) socket_address = icecam_stun_address_to_socket_address (address);

  return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (socket_address));
}

static void
assert_address (const IcecamStunAddress *address, const gchar *expected)
{
  g_autofree gchar *text = address_to_string (address);

  g_assert_cmpstr (text, ==, expected);
}

/* ---- parsing requests --------------------------------------------------------------------- */

static void
test_request_rfc5769 (void)
{
  for (guint rfc5780 = 0; rfc5780 < 2; rfc5780++) {
    IcecamStunRequest request;
    g_autoptr(GError) error = NULL;

    g_assert_true (parse_request (rfc5769_request, sizeof rfc5769_request, rfc5780, &request,
                                  &error));
    g_assert_no_error (error);
    g_assert_cmphex (request.cookie, ==, ICECAM_STUN_MAGIC_COOKIE);
    g_assert_cmpmem (request.transaction_id, sizeof request.transaction_id, TRANSACTION_ID, 12);
    /* USERNAME, PRIORITY and MESSAGE-INTEGRITY are known; ICE-CONTROLLED is optional. */
    g_assert_cmpuint (request.error_code, ==, 0);
    g_assert_null (request.error_reason);
    g_assert_cmpuint (request.n_unknown_attributes, ==, 0);
    g_assert_false (request.has_change_request);
  }
}

static void
test_request_rfc3489 (void)
{
  g_autoptr(GByteArray) message = message_new (0x0001, FALSE);
  IcecamStunRequest request;

  parse_built_request (message, FALSE, &request);
  g_assert_cmphex (request.cookie, ==, 0x01020304);
  g_assert_cmpmem (request.transaction_id, 12, rfc3489_transaction + 4, 12);
  g_assert_cmpuint (request.error_code, ==, 0);
}

/* Every proper prefix is refused, and so is the message with bytes after it. */
static void
test_request_truncated (void)
{
  guint8 longer[sizeof rfc5769_request + 4] = { 0 };

  for (gsize length = 0; length < sizeof rfc5769_request; length++)
    assert_request_refused (rfc5769_request, length, ICECAM_STUN_MESSAGE_ERROR_MALFORMED);
  memcpy (longer, rfc5769_request, sizeof rfc5769_request);
  assert_request_refused (longer, sizeof longer, ICECAM_STUN_MESSAGE_ERROR_MALFORMED);
}

static void
test_request_bad_length (void)
{
  static const guint16 lengths[] = { 0x0000, 0x0054, 0x005c, 0x0057, 0x0059, 0xfffc };

  for (gsize i = 0; i < G_N_ELEMENTS (lengths); i++) {
    guint8 copy[sizeof rfc5769_request];

    memcpy (copy, rfc5769_request, sizeof copy);
    copy[2] = lengths[i] >> 8;
    copy[3] = lengths[i] & 0xff;
    assert_request_refused (copy, sizeof copy, ICECAM_STUN_MESSAGE_ERROR_MALFORMED);
  }
}

static void
test_request_not_stun (void)
{
  static const gchar http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  guint8 copy[sizeof rfc5769_request];

  assert_request_refused ((const guint8 *) http, strlen (http),
                          ICECAM_STUN_MESSAGE_ERROR_MALFORMED);
  for (guint8 top = 0x40; top != 0; top += 0x40) {
    memcpy (copy, rfc5769_request, sizeof copy);
    copy[0] |= top;
    assert_request_refused (copy, sizeof copy, ICECAM_STUN_MESSAGE_ERROR_MALFORMED);
  }
}

/* Responses, indications and other methods are well-formed STUN but deserve no answer. */
static void
test_request_not_binding (void)
{
  static const guint16 types[] = { 0x0101, 0x0111, 0x0011, 0x0003, 0x0002 };

  for (gsize i = 0; i < G_N_ELEMENTS (types); i++) {
    g_autoptr(GByteArray) message = message_new (types[i], TRUE);

    assert_request_refused (message->data, message->len, ICECAM_STUN_MESSAGE_ERROR_UNEXPECTED);
  }
}

/* One flipped bit anywhere before FINGERPRINT is caught, by the CRC or by the framing. */
static void
test_request_bad_fingerprint (void)
{
  const gsize fingerprint = sizeof rfc5769_request - 8;
  guint8 copy[sizeof rfc5769_request];

  for (gsize offset = 4; offset < sizeof rfc5769_request; offset++) {
    IcecamStunRequest request;
    g_autoptr(GError) error = NULL;

    /* Renaming FINGERPRINT leaves a message without one, after MESSAGE-INTEGRITY. */
    if (offset >= fingerprint && offset < fingerprint + 4)
      continue;
    memcpy (copy, rfc5769_request, sizeof copy);
    copy[offset] ^= 0x01;
    g_assert_false (parse_request (copy, sizeof copy, FALSE, &request, &error));
    g_assert_nonnull (error);
    g_assert_true (error->domain == ICECAM_STUN_MESSAGE_ERROR);
    /* Values and the transaction ID: only the CRC can tell. */
    if (offset < 20 || offset >= fingerprint + 4 || (offset >= 24 && offset < 40))
      g_assert_error (error, ICECAM_STUN_MESSAGE_ERROR, ICECAM_STUN_MESSAGE_ERROR_FINGERPRINT);
  }
}

static void
test_request_fingerprint_placement (void)
{
  static const guint8 eight[8] = { 0 };
  g_autoptr(GByteArray) not_last = message_new (0x0001, TRUE);
  g_autoptr(GByteArray) too_short = message_new (0x0001, TRUE);
  g_autoptr(GByteArray) too_long = message_new (0x0001, TRUE);

  message_add (not_last, 0x8028, eight, 4);
  message_add (not_last, 0x8022, "icec", 4);
  message_add (too_short, 0x8028, eight, 2);
  message_add (too_long, 0x8028, eight, 8);
  assert_request_refused (not_last->data, not_last->len, ICECAM_STUN_MESSAGE_ERROR_FINGERPRINT);
  assert_request_refused (too_short->data, too_short->len,
                          ICECAM_STUN_MESSAGE_ERROR_FINGERPRINT);
  assert_request_refused (too_long->data, too_long->len, ICECAM_STUN_MESSAGE_ERROR_FINGERPRINT);
}

/* Attribute lengths, padding included, must stay inside the message. */
static void
test_request_attribute_overrun (void)
{
  static const guint16 lengths[] = { 0x0005, 0x0008, 0x0064, 0xffff };

  for (gsize i = 0; i < G_N_ELEMENTS (lengths); i++) {
    g_autoptr(GByteArray) message = message_new (0x0001, TRUE);

    message_add (message, 0x8022, "icec", 4);
    message->data[22] = lengths[i] >> 8;
    message->data[23] = lengths[i] & 0xff;
    assert_request_refused (message->data, message->len, ICECAM_STUN_MESSAGE_ERROR_MALFORMED);
  }
}

static void
test_request_unknown_attributes (void)
{
  g_autoptr(GByteArray) one = message_new (0x0001, TRUE);
  g_autoptr(GByteArray) many = message_new (0x0001, TRUE);
  g_autoptr(GByteArray) after_integrity = message_new (0x0001, TRUE);
  static const guint8 integrity[20] = { 0 };
  IcecamStunRequest request;

  /* Comprehension-optional attributes (0x8000 and up) are skipped silently. */
  message_add_u32 (one, 0xC001, 1);
  message_add_u32 (one, ATTR_UNASSIGNED_MANDATORY, 42);
  parse_built_request (one, FALSE, &request);
  g_assert_cmpuint (request.error_code, ==, 420);
  g_assert_nonnull (request.error_reason);
  g_assert_cmpuint (request.n_unknown_attributes, ==, 1);
  g_assert_cmphex (request.unknown_attributes[0], ==, ATTR_UNASSIGNED_MANDATORY);

  /* The list keeps message order and stops at its capacity. */
  for (guint16 i = 0; i < ICECAM_STUN_MAX_UNKNOWN_ATTRIBUTES + 4; i++)
    message_add_u32 (many, 0x7F00 + i, i);
  parse_built_request (many, FALSE, &request);
  g_assert_cmpuint (request.error_code, ==, 420);
  g_assert_cmpuint (request.n_unknown_attributes, ==, ICECAM_STUN_MAX_UNKNOWN_ATTRIBUTES);
  for (guint i = 0; i < ICECAM_STUN_MAX_UNKNOWN_ATTRIBUTES; i++)
    g_assert_cmphex (request.unknown_attributes[i], ==, 0x7F00 + i);

  /* Only FINGERPRINT counts after MESSAGE-INTEGRITY. */
  message_add (after_integrity, ATTR_MESSAGE_INTEGRITY, integrity, sizeof integrity);
  message_add_u32 (after_integrity, ATTR_UNASSIGNED_MANDATORY, 42);
  parse_built_request (after_integrity, FALSE, &request);
  g_assert_cmpuint (request.error_code, ==, 0);
}

static void
test_request_change_request (void)
{
  g_autoptr(GByteArray) twice = message_new (0x0001, TRUE);
  g_autoptr(GByteArray) mixed = message_new (0x0001, TRUE);
  g_autoptr(GByteArray) after_integrity = message_new (0x0001, TRUE);
  static const guint8 integrity[20] = { 0 };
  IcecamStunRequest request;

  message_add_u32 (twice, ATTR_CHANGE_REQUEST, ICECAM_STUN_CHANGE_IP | ICECAM_STUN_CHANGE_PORT);
  message_add_u32 (twice, ATTR_CHANGE_REQUEST, 0);

  /* An RFC 5780 server honours the first one. */
  parse_built_request (twice, TRUE, &request);
  g_assert_cmpuint (request.error_code, ==, 0);
  g_assert_true (request.has_change_request);
  g_assert_cmphex (request.change_flags, ==, ICECAM_STUN_CHANGE_IP | ICECAM_STUN_CHANGE_PORT);

  /* Other servers do not know it, each time, in order with other unknown attributes. */
  message_add_u32 (mixed, ATTR_UNASSIGNED_MANDATORY, 42);
  message_add_u32 (mixed, ATTR_CHANGE_REQUEST, 0);
  parse_built_request (mixed, FALSE, &request);
  g_assert_cmpuint (request.error_code, ==, 420);
  g_assert_false (request.has_change_request);
  g_assert_cmpuint (request.n_unknown_attributes, ==, 2);
  g_assert_cmphex (request.unknown_attributes[0], ==, ATTR_UNASSIGNED_MANDATORY);
  g_assert_cmphex (request.unknown_attributes[1], ==, ATTR_CHANGE_REQUEST);
  parse_built_request (twice, FALSE, &request);
  g_assert_cmpuint (request.n_unknown_attributes, ==, 2);

  message_add (after_integrity, ATTR_MESSAGE_INTEGRITY, integrity, sizeof integrity);
  message_add_u32 (after_integrity, ATTR_CHANGE_REQUEST, ICECAM_STUN_CHANGE_IP);
  parse_built_request (after_integrity, TRUE, &request);
  g_assert_false (request.has_change_request);
  parse_built_request (after_integrity, FALSE, &request);
  g_assert_cmpuint (request.error_code, ==, 0);
}

/* A CHANGE-REQUEST of the wrong size earns a 400, even with unknown attributes around. */
static void
test_request_bad_change_request (void)
{
  static const guint8 two[2] = { 0, ICECAM_STUN_CHANGE_IP };
  g_autoptr(GByteArray) message = message_new (0x0001, TRUE);
  IcecamStunRequest request;

  message_add (message, ATTR_CHANGE_REQUEST, two, sizeof two);
  message_add_u32 (message, ATTR_CHANGE_REQUEST, ICECAM_STUN_CHANGE_IP);
  message_add_u32 (message, ATTR_UNASSIGNED_MANDATORY, 42);
  parse_built_request (message, TRUE, &request);
  g_assert_cmpuint (request.error_code, ==, 400);
  g_assert_nonnull (request.error_reason);
  g_assert_false (request.has_change_request);

  /* Without RFC 5780 its size does not matter: it is unknown. */
  parse_built_request (message, FALSE, &request);
  g_assert_cmpuint (request.error_code, ==, 420);
}

/* ---- writing answers ---------------------------------------------------------------------- */

static void
parse_rfc5769_request (IcecamStunRequest *request)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (parse_request (rfc5769_request, sizeof rfc5769_request, TRUE, request, &error));
  g_assert_no_error (error);
}

static void
test_success_ipv4 (void)
{
  IcecamStunRequest request;
  IcecamStunAddress mapped = address_parse ("192.0.2.1:32853");
  guint8 answer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  g_autoptr(GError) error = NULL;
  gsize length;

  parse_rfc5769_request (&request);
  length = icecam_stun_message_write_success (&request, &mapped, NULL, NULL, answer,
                                              sizeof answer, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (answer, length, expected_ipv4_success, sizeof expected_ipv4_success);
  g_assert_cmpmem (answer + 20, 12, rfc5769_ipv4_response + 36, 12);
}

static void
test_success_ipv6_rfc5780 (void)
{
  IcecamStunRequest request;
  IcecamStunAddress mapped = address_parse ("[2001:db8:1234:5678:11:2233:4455:6677]:32853");
  IcecamStunAddress origin = address_parse ("[2001:db8::1]:3478");
  IcecamStunAddress other = address_parse ("[2001:db8::2]:3479");
  guint8 answer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  g_autoptr(GError) error = NULL;
  gsize length;

  parse_rfc5769_request (&request);
  length = icecam_stun_message_write_success (&request, &mapped, &origin, &other, answer,
                                              sizeof answer, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (answer, length, expected_ipv6_rfc5780_success,
                   sizeof expected_ipv6_rfc5780_success);
  g_assert_cmpmem (answer + 20, 24, rfc5769_ipv6_response + 36, 24);
}

static void
test_error_unknown_attribute (void)
{
  g_autoptr(GByteArray) rfc8489 = message_new (0x0001, TRUE);
  g_autoptr(GByteArray) rfc3489 = message_new (0x0001, FALSE);
  IcecamStunRequest request;
  guint8 answer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  g_autoptr(GError) error = NULL;
  gsize length;

  message_add_u32 (rfc8489, ATTR_UNASSIGNED_MANDATORY, 42);
  parse_built_request (rfc8489, FALSE, &request);
  length = icecam_stun_message_write_error (&request, answer, sizeof answer, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (answer, length, expected_420, sizeof expected_420);

  message_add_u32 (rfc3489, ATTR_UNASSIGNED_MANDATORY, 42);
  parse_built_request (rfc3489, FALSE, &request);
  length = icecam_stun_message_write_error (&request, answer, sizeof answer, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (answer, length, expected_rfc3489_420, sizeof expected_rfc3489_420);
}

/* Every size below the answer's is refused without writing past it; the exact size works. */
static void
check_no_space (const IcecamStunRequest *request, gboolean error_answer)
{
  IcecamStunAddress mapped = address_parse ("[2001:db8::3]:40000");
  IcecamStunAddress origin = address_parse ("[2001:db8::1]:3478");
  IcecamStunAddress other = address_parse ("[2001:db8::2]:3479");
  guint8 full[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  gsize needed;

  needed = error_answer ? icecam_stun_message_write_error (request, full, sizeof full, NULL)
                        : icecam_stun_message_write_success (request, &mapped, &origin, &other,
                                                             full, sizeof full, NULL);
  g_assert_cmpuint (needed, >, 20);
  for (gsize size = 0; size <= needed; size++) {
    g_autofree guint8 *buffer = g_malloc (size);
    g_autoptr(GError) error = NULL;
    gsize length = error_answer ?
      icecam_stun_message_write_error (request, buffer, size, &error) :
      icecam_stun_message_write_success (request, &mapped, &origin, &other, buffer, size,
                                         &error);

    if (size < needed) {
      g_assert_cmpuint (length, ==, 0);
      g_assert_error (error, ICECAM_STUN_MESSAGE_ERROR, ICECAM_STUN_MESSAGE_ERROR_NO_SPACE);
    } else {
      g_assert_no_error (error);
      g_assert_cmpmem (buffer, length, full, needed);
    }
  }
}

static void
test_write_no_space (void)
{
  g_autoptr(GByteArray) message = message_new (0x0001, TRUE);
  guint8 transaction_id[ICECAM_STUN_TRANSACTION_ID_LENGTH] = { 1 };
  IcecamStunRequest request;

  for (guint i = 0; i < ICECAM_STUN_MAX_UNKNOWN_ATTRIBUTES; i++)
    message_add_u32 (message, 0x7F00 + i, i);
  parse_built_request (message, FALSE, &request);
  check_no_space (&request, TRUE);
  check_no_space (&request, FALSE);

  for (gsize size = 0; size < sizeof expected_change_request; size++) {
    g_autofree guint8 *buffer = g_malloc (size);
    g_autoptr(GError) error = NULL;

    g_assert_cmpuint (icecam_stun_message_write_binding_request (transaction_id, TRUE, 0, buffer,
                                                                 size, &error), ==, 0);
    g_assert_error (error, ICECAM_STUN_MESSAGE_ERROR, ICECAM_STUN_MESSAGE_ERROR_NO_SPACE);
  }
}

/* ---- the client side ---------------------------------------------------------------------- */

static void
test_binding_request (void)
{
  static const guint32 all_flags[] = { 0, ICECAM_STUN_CHANGE_PORT, ICECAM_STUN_CHANGE_IP,
                                       ICECAM_STUN_CHANGE_IP | ICECAM_STUN_CHANGE_PORT };
  guint8 buffer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  IcecamStunRequest request;
  g_autoptr(GError) error = NULL;
  gsize length;

  length = icecam_stun_message_write_binding_request (TRANSACTION_ID, TRUE,
                                                      ICECAM_STUN_CHANGE_IP |
                                                      ICECAM_STUN_CHANGE_PORT,
                                                      buffer, sizeof buffer, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (buffer, length, expected_change_request, sizeof expected_change_request);

  length = icecam_stun_message_write_binding_request (TRANSACTION_ID, FALSE, 0, buffer,
                                                      sizeof buffer, &error);
  g_assert_no_error (error);
  g_assert_true (parse_request (buffer, length, TRUE, &request, &error));
  g_assert_cmphex (request.cookie, ==, ICECAM_STUN_MAGIC_COOKIE);
  g_assert_cmpmem (request.transaction_id, 12, TRANSACTION_ID, 12);
  g_assert_false (request.has_change_request);

  for (gsize i = 0; i < G_N_ELEMENTS (all_flags); i++) {
    length = icecam_stun_message_write_binding_request (TRANSACTION_ID, TRUE, all_flags[i],
                                                        buffer, sizeof buffer, &error);
    g_assert_no_error (error);
    g_assert_true (parse_request (buffer, length, TRUE, &request, &error));
    g_assert_true (request.has_change_request);
    g_assert_cmphex (request.change_flags, ==, all_flags[i]);
    /* A server without RFC 5780 says so. */
    g_assert_true (parse_request (buffer, length, FALSE, &request, &error));
    g_assert_cmpuint (request.error_code, ==, 420);
    g_assert_cmpuint (request.n_unknown_attributes, ==, 1);
    g_assert_cmphex (request.unknown_attributes[0], ==, ATTR_CHANGE_REQUEST);
  }
}

static void
check_rfc5769_response (const guint8 *data, gsize length, const gchar *expected_mapped)
{
  IcecamStunResponse response;
  g_autoptr(GError) error = NULL;

  g_assert_true (parse_response (data, length, &response, &error));
  g_assert_no_error (error);
  g_assert_cmphex (response.cookie, ==, ICECAM_STUN_MAGIC_COOKIE);
  g_assert_cmpmem (response.transaction_id, 12, TRANSACTION_ID, 12);
  g_assert_false (response.is_error);
  g_assert_cmpuint (response.error_code, ==, 0);
  g_assert_true (response.has_fingerprint);
  g_assert_true (response.has_mapped_address);
  assert_address (&response.mapped_address, expected_mapped);
  g_assert_false (response.has_response_origin);
  g_assert_false (response.has_other_address);
}

static void
test_response_rfc5769 (void)
{
  guint8 copy[sizeof rfc5769_ipv4_response];

  check_rfc5769_response (rfc5769_ipv4_response, sizeof rfc5769_ipv4_response,
                          "192.0.2.1:32853");
  check_rfc5769_response (rfc5769_ipv6_response, sizeof rfc5769_ipv6_response,
                          "[2001:db8:1234:5678:11:2233:4455:6677]:32853");

  memcpy (copy, rfc5769_ipv4_response, sizeof copy);
  copy[sizeof copy - 1] ^= 0x80;
  assert_response_refused (copy, sizeof copy, ICECAM_STUN_MESSAGE_ERROR_FINGERPRINT);
  memcpy (copy, rfc5769_ipv4_response, sizeof copy);
  copy[42] ^= 0x01;
  assert_response_refused (copy, sizeof copy, ICECAM_STUN_MESSAGE_ERROR_FINGERPRINT);
  for (gsize length = 0; length < sizeof copy; length++)
    assert_response_refused (rfc5769_ipv4_response, length, ICECAM_STUN_MESSAGE_ERROR_MALFORMED);
}

/* What the responder writes, the client reads: both RFCs, both families, with and without
 * RFC 5780, for success and error answers. */
static void
test_response_round_trip (void)
{
  static const struct {
    const gchar *mapped, *origin, *other;
  } cases[] = {
    { "198.51.100.7:40000", NULL, NULL },
    { "198.51.100.7:40000", "192.0.2.1:3478", "192.0.2.2:3479" },
    { "[2001:db8::7]:40000", NULL, NULL },
    { "[2001:db8::7]:40000", "[2001:db8::1]:3478", "[2001:db8::2]:3479" },
  };

  for (guint cookie = 0; cookie < 2; cookie++) {
    g_autoptr(GByteArray) message = message_new (0x0001, cookie);
    IcecamStunRequest request;
    guint8 answer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];

    parse_built_request (message, TRUE, &request);
    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
      IcecamStunAddress mapped = address_parse (cases[i].mapped);
      IcecamStunAddress origin, other;
      IcecamStunResponse response;
      g_autoptr(GError) error = NULL;
      gsize length;

      if (cases[i].origin != NULL) {
        origin = address_parse (cases[i].origin);
        other = address_parse (cases[i].other);
      }
      length = icecam_stun_message_write_success (&request, &mapped,
                                                  cases[i].origin ? &origin : NULL,
                                                  cases[i].other ? &other : NULL, answer,
                                                  sizeof answer, &error);
      g_assert_no_error (error);
      g_assert_true (parse_response (answer, length, &response, &error));
      g_assert_no_error (error);
      g_assert_cmphex (response.cookie, ==, request.cookie);
      g_assert_cmpmem (response.transaction_id, 12, request.transaction_id, 12);
      g_assert_false (response.is_error);
      g_assert_true (response.has_fingerprint == (cookie != 0));
      g_assert_true (response.has_mapped_address);
      assert_address (&response.mapped_address, cases[i].mapped);
      g_assert_true (response.has_response_origin == (cases[i].origin != NULL));
      g_assert_true (response.has_other_address == (cases[i].other != NULL));
      if (cases[i].origin != NULL) {
        assert_address (&response.response_origin, cases[i].origin);
        assert_address (&response.other_address, cases[i].other);
      }
    }

    for (guint code = 400; code <= 420; code += 20) {
      IcecamStunResponse response;
      g_autoptr(GError) error = NULL;
      gsize length;

      request.error_code = code;
      request.n_unknown_attributes = code == 420 ? 1 : 0;
      request.unknown_attributes[0] = ATTR_UNASSIGNED_MANDATORY;
      length = icecam_stun_message_write_error (&request, answer, sizeof answer, &error);
      g_assert_no_error (error);
      g_assert_true (parse_response (answer, length, &response, &error));
      g_assert_no_error (error);
      g_assert_true (response.is_error);
      g_assert_cmpuint (response.error_code, ==, code);
      g_assert_false (response.has_mapped_address);
    }
  }
}

/* RFC 3489 servers name the addresses differently; the RFC 8489 names win when both appear,
 * whatever the order, and the first of two equal attributes counts. */
static void
test_response_legacy_attributes (void)
{
  static const guint8 v4_a[8] = { 0, 1, 0x0d, 0x96, 192, 0, 2, 1 };
  static const guint8 v4_b[8] = { 0, 1, 0x0d, 0x97, 192, 0, 2, 2 };
  /* 198.51.100.7:40000 xored with the cookie */
  static const guint8 xored[8] = { 0, 1, 0xbd, 0x52, 0xe7, 0x21, 0xc0, 0x45 };
  g_autoptr(GByteArray) legacy = message_new (0x0101, FALSE);
  g_autoptr(GByteArray) both = message_new (0x0101, TRUE);
  IcecamStunResponse response;
  g_autoptr(GError) error = NULL;

  message_add (legacy, 0x0001, v4_a, sizeof v4_a);
  message_add (legacy, 0x0004, v4_b, sizeof v4_b);
  message_add (legacy, 0x0005, v4_a, sizeof v4_a);
  g_assert_true (parse_response (legacy->data, legacy->len, &response, &error));
  g_assert_false (response.has_fingerprint);
  assert_address (&response.mapped_address, "192.0.2.1:3478");
  assert_address (&response.response_origin, "192.0.2.2:3479");
  assert_address (&response.other_address, "192.0.2.1:3478");

  message_add (both, 0x0001, v4_a, sizeof v4_a);
  message_add (both, 0x0020, xored, sizeof xored);
  message_add (both, 0x0020, v4_b, sizeof v4_b);
  message_add (both, 0x0005, v4_a, sizeof v4_a);
  message_add (both, 0x802C, v4_b, sizeof v4_b);
  message_add (both, 0x802B, v4_a, sizeof v4_a);
  message_add (both, 0x0004, v4_b, sizeof v4_b);
  g_assert_true (parse_response (both->data, both->len, &response, &error));
  g_assert_no_error (error);
  assert_address (&response.mapped_address, "198.51.100.7:40000");
  assert_address (&response.other_address, "192.0.2.2:3479");
  assert_address (&response.response_origin, "192.0.2.1:3478");
}

static void
check_bad_response (guint16 type, guint16 attribute, const guint8 *value, gsize length,
                    gint code)
{
  g_autoptr(GByteArray) message = message_new (type, TRUE);

  if (value != NULL)
    message_add (message, attribute, value, length);
  assert_response_refused (message->data, message->len, code);
}

static void
test_response_malformed (void)
{
  static const guint8 bad_family[8] = { 0, 3, 0x0d, 0x96, 192, 0, 2, 1 };
  static const guint8 long_v4[20] = { 0, 1, 0x0d, 0x96, 192, 0, 2, 1 };
  static const guint8 short_v6[8] = { 0, 2, 0x0d, 0x96, 0x20, 0x01, 0x0d, 0xb8 };
  static const guint8 bad_class[4] = { 0, 0, 7, 0 };
  static const guint8 bad_number[4] = { 0, 0, 4, 100 };
  static const guint8 four_twenty[4] = { 0, 0, 4, 20 };
  static const guint16 addresses[] = { 0x0001, 0x0020, 0x802B, 0x802C, 0x0004, 0x0005 };
  const gint malformed = ICECAM_STUN_MESSAGE_ERROR_MALFORMED;

  for (gsize i = 0; i < G_N_ELEMENTS (addresses); i++) {
    check_bad_response (0x0101, addresses[i], bad_family, sizeof bad_family, malformed);
    check_bad_response (0x0101, addresses[i], long_v4, sizeof long_v4, malformed);
    check_bad_response (0x0101, addresses[i], short_v6, sizeof short_v6, malformed);
    check_bad_response (0x0101, addresses[i], bad_family, 2, malformed);
  }
  check_bad_response (0x0111, 0x0009, bad_class, sizeof bad_class, malformed);
  check_bad_response (0x0111, 0x0009, bad_number, sizeof bad_number, malformed);
  check_bad_response (0x0111, 0x0009, four_twenty, 3, malformed);
  check_bad_response (0x0111, 0, NULL, 0, malformed);
  check_bad_response (0x0101, ATTR_UNASSIGNED_MANDATORY, four_twenty, 4,
                      ICECAM_STUN_MESSAGE_ERROR_UNKNOWN_ATTRIBUTE);
  check_bad_response (0x0111, ATTR_UNASSIGNED_MANDATORY, four_twenty, 4,
                      ICECAM_STUN_MESSAGE_ERROR_UNKNOWN_ATTRIBUTE);
  /* Requests, indications, other methods. */
  check_bad_response (0x0001, 0, NULL, 0, ICECAM_STUN_MESSAGE_ERROR_UNEXPECTED);
  check_bad_response (0x0011, 0, NULL, 0, ICECAM_STUN_MESSAGE_ERROR_UNEXPECTED);
  check_bad_response (0x0103, 0, NULL, 0, ICECAM_STUN_MESSAGE_ERROR_UNEXPECTED);
  /* A success response's ERROR-CODE is nobody's business. */
  {
    g_autoptr(GByteArray) message = message_new (0x0101, TRUE);
    IcecamStunResponse response;

    message_add (message, 0x0009, bad_class, sizeof bad_class);
    g_assert_true (parse_response (message->data, message->len, &response, NULL));
    g_assert_cmpuint (response.error_code, ==, 0);
  }
}

/* ---- addresses ---------------------------------------------------------------------------- */

static void
test_address_conversion (void)
{
  static const gchar *const round_trips[] = {
    "192.0.2.1:3478", "[2001:db8::1]:3478", "0.0.0.0:1", "[::1]:65535",
  };
  IcecamStunAddress address = address_parse ("[::ffff:192.0.2.1]:5000");

  /* What a dual-stack socket reports for an IPv4 peer. */
  g_assert_cmpint (address.family, ==, ICECAM_STUN_FAMILY_IPV4);
  assert_address (&address, "192.0.2.1:5000");

  for (gsize i = 0; i < G_N_ELEMENTS (round_trips); i++) {
    address = address_parse (round_trips[i]);
    assert_address (&address, round_trips[i]);
  }
}

/* ---- hostile input ------------------------------------------------------------------------ */

/* Random bytes and random corruptions of valid messages: the parsers must never read past the
 * end (valgrind checks) and must answer TRUE exactly when they set no error. */
static void
test_fuzz (void)
{
  static const struct {
    const guint8 *data;
    gsize length;
  } seeds[] = {
    { rfc5769_request, sizeof rfc5769_request },
    { rfc5769_ipv4_response, sizeof rfc5769_ipv4_response },
    { rfc5769_ipv6_response, sizeof rfc5769_ipv6_response },
    { expected_ipv6_rfc5780_success, sizeof expected_ipv6_rfc5780_success },
    { expected_rfc3489_420, sizeof expected_rfc3489_420 },
  };
  guint requests_accepted = 0;
  guint responses_accepted = 0;

  for (guint i = 0; i < 20000; i++) {
    guint8 packet[160];
    gsize length;
    IcecamStunRequest request;
    IcecamStunResponse response;
    g_autoptr(GError) request_error = NULL;
    g_autoptr(GError) response_error = NULL;

    if (i % 4 == 0) {
      length = g_test_rand_int_range (0, sizeof packet);
      for (gsize j = 0; j < length; j++)
        packet[j] = g_test_rand_int_range (0, 256);
    } else {
      gsize seed = g_test_rand_int_range (0, G_N_ELEMENTS (seeds));
      guint flips = g_test_rand_int_range (1, 4);

      length = seeds[seed].length;
      memcpy (packet, seeds[seed].data, length);
      for (guint j = 0; j < flips; j++)
        packet[g_test_rand_int_range (0, length)] = g_test_rand_int_range (0, 256);
      /* Keep the length field honest now and then, to get past the framing checks. */
      if (i % 3 == 0) {
        length = 20 + (g_test_rand_int_range (0, length - 20 + 1) & ~3);
        packet[2] = (length - 20) >> 8;
        packet[3] = (length - 20) & 0xff;
      }
    }
    requests_accepted += parse_request (packet, length, i % 2, &request, &request_error);
    responses_accepted += parse_response (packet, length, &response, &response_error);
  }
  /* Some corruptions must get through, or only the framing checks were exercised. */
  g_test_message ("accepted: %u requests, %u responses", requests_accepted, responses_accepted);
  g_assert_cmpuint (requests_accepted, >, 0);
  g_assert_cmpuint (responses_accepted, >, 0);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/stun-message/request/rfc5769", test_request_rfc5769);
  g_test_add_func ("/stun-message/request/rfc3489", test_request_rfc3489);
  g_test_add_func ("/stun-message/request/truncated", test_request_truncated);
  g_test_add_func ("/stun-message/request/bad-length", test_request_bad_length);
  g_test_add_func ("/stun-message/request/not-stun", test_request_not_stun);
  g_test_add_func ("/stun-message/request/not-binding", test_request_not_binding);
  g_test_add_func ("/stun-message/request/bad-fingerprint", test_request_bad_fingerprint);
  g_test_add_func ("/stun-message/request/fingerprint-placement",
                   test_request_fingerprint_placement);
  g_test_add_func ("/stun-message/request/attribute-overrun", test_request_attribute_overrun);
  g_test_add_func ("/stun-message/request/unknown-attributes", test_request_unknown_attributes);
  g_test_add_func ("/stun-message/request/change-request", test_request_change_request);
  g_test_add_func ("/stun-message/request/bad-change-request", test_request_bad_change_request);
  g_test_add_func ("/stun-message/write/success-ipv4", test_success_ipv4);
  g_test_add_func ("/stun-message/write/success-ipv6-rfc5780", test_success_ipv6_rfc5780);
  g_test_add_func ("/stun-message/write/unknown-attribute", test_error_unknown_attribute);
  g_test_add_func ("/stun-message/write/no-space", test_write_no_space);
  g_test_add_func ("/stun-message/client/binding-request", test_binding_request);
  g_test_add_func ("/stun-message/client/rfc5769-responses", test_response_rfc5769);
  g_test_add_func ("/stun-message/client/round-trip", test_response_round_trip);
  g_test_add_func ("/stun-message/client/legacy-attributes", test_response_legacy_attributes);
  g_test_add_func ("/stun-message/client/malformed", test_response_malformed);
  g_test_add_func ("/stun-message/address/conversion", test_address_conversion);
  g_test_add_func ("/stun-message/fuzz/random", test_fuzz);

  return g_test_run ();
}
