/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Reads and writes STUN Binding messages for the rendezvous's responder and for NAT probes. */

#include "icecam-stun-message.h"

#include <string.h>

/*
 * The codec is written here rather than taken from libnice's stun/ library: icecam needs
 * exactly one message (Binding) in two forms (RFC 8489 with the magic cookie, RFC 3489
 * without, which libnice 0.1.21 itself sends), and every decision about hostile input should be
 * visible in one place. libnice's stun_agent_validate() rejects cookie-less requests in RFC 5389
 * mode (so two agents would be needed), either requires FINGERPRINT or never checks it, turns
 * MESSAGE-INTEGRITY without credentials into UNAUTHORIZED, and knows neither RESPONSE-ORIGIN
 * nor OTHER-ADDRESS. The responder's tests drive this codec with libnice's client side, so two
 * independent implementations check each other.
 */

/* ---- wire format: RFC 8489 sections 5, 6 and 14, RFC 3489 section 11, RFC 5780 section 7 -- */

#define HEADER_LENGTH 20
#define ATTRIBUTE_HEADER_LENGTH 4
#define FINGERPRINT_XOR 0x5354554Eu
#define METHOD_BINDING 0x001

#define SOFTWARE "icecam"

typedef enum {
  CLASS_REQUEST = 0,
  CLASS_INDICATION = 1,
  CLASS_SUCCESS = 2,
  CLASS_ERROR = 3,
} StunClass;

typedef enum {
  ATTR_MAPPED_ADDRESS = 0x0001,
  ATTR_CHANGE_REQUEST = 0x0003,
  ATTR_SOURCE_ADDRESS = 0x0004,
  ATTR_CHANGED_ADDRESS = 0x0005,
  ATTR_USERNAME = 0x0006,
  ATTR_MESSAGE_INTEGRITY = 0x0008,
  ATTR_ERROR_CODE = 0x0009,
  ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
  ATTR_REFLECTED_FROM = 0x000B,
  ATTR_REALM = 0x0014,
  ATTR_NONCE = 0x0015,
  ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
  ATTR_PASSWORD_ALGORITHM = 0x001D,
  ATTR_USERHASH = 0x001E,
  ATTR_XOR_MAPPED_ADDRESS = 0x0020,
  ATTR_PRIORITY = 0x0024,
  ATTR_USE_CANDIDATE = 0x0025,
  ATTR_RESPONSE_PORT = 0x0027,
  ATTR_SOFTWARE = 0x8022,
  ATTR_FINGERPRINT = 0x8028,
  ATTR_RESPONSE_ORIGIN = 0x802B,
  ATTR_OTHER_ADDRESS = 0x802C,
} StunAttributeType;

G_DEFINE_QUARK (icecam-stun-message-error-quark, icecam_stun_message_error)

static guint16
read_u16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static guint32
read_u32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static void
write_u16 (guint8 *p, guint16 value)
{
  p[0] = value >> 8;
  p[1] = value & 0xff;
}

static void
write_u32 (guint8 *p, guint32 value)
{
  write_u16 (p, value >> 16);
  write_u16 (p + 2, value & 0xffff);
}

static gsize
pad4 (gsize length)
{
  return (length + 3) & ~(gsize) 3;
}

/* The CRC-32 of ISO/IEC 13239 (zlib's), bit by bit: messages are small and this avoids a
 * table or another dependency. */
static guint32
stun_crc32 (const guint8 *data, gsize length)
{
  guint32 crc = 0xFFFFFFFFu;

  for (gsize i = 0; i < length; i++) {
    crc ^= data[i];
    for (guint bit = 0; bit < 8; bit++)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static guint16
message_type (guint16 method, StunClass klass)
{
  return (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
         ((klass & 1) << 4) | ((klass & 2) << 7);
}

static guint16
type_method (guint16 type)
{
  return (type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2);
}

static StunClass
type_class (guint16 type)
{
  return ((type & 0x0010) >> 4) | ((type & 0x0100) >> 7);
}

static gsize
family_size (IcecamStunFamily family)
{
  return family == ICECAM_STUN_FAMILY_IPV6 ? 16 : 4;
}

static gboolean
address_is_valid (const IcecamStunAddress *address)
{
  return address->family == ICECAM_STUN_FAMILY_IPV4 || address->family == ICECAM_STUN_FAMILY_IPV6;
}

/* ---- addresses ---------------------------------------------------------------------------- */

/**
 * icecam_stun_address_from_socket_address:
 * @socket_address: an IPv4 or IPv6 socket address
 * @address: (out caller-allocates): where to store it
 *
 * Converts a socket address to its STUN form. IPv4-mapped IPv6 addresses (the sources that
 * dual-stack sockets report for IPv4 peers) become IPv4: that is what the peer sent from.
 *
 * Returns: %TRUE, or %FALSE if the address is of neither family
 */
gboolean
icecam_stun_address_from_socket_address (GInetSocketAddress *socket_address,
                                         IcecamStunAddress *address)
{
  static const guint8 v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  GInetAddress *ip;
  const guint8 *bytes;
  gsize size;

  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (socket_address), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);

  ip = g_inet_socket_address_get_address (socket_address);
  bytes = g_inet_address_to_bytes (ip);
  size = g_inet_address_get_native_size (ip);
  memset (address, 0, sizeof *address);
  address->port = g_inet_socket_address_get_port (socket_address);
  if (size == 4 || (size == 16 && memcmp (bytes, v4_mapped_prefix, 12) == 0)) {
    address->family = ICECAM_STUN_FAMILY_IPV4;
    memcpy (address->address, bytes + size - 4, 4);
    return TRUE;
  }
  if (size == 16) {
    address->family = ICECAM_STUN_FAMILY_IPV6;
    memcpy (address->address, bytes, 16);
    return TRUE;
  }
  return FALSE;
}

/**
 * icecam_stun_address_to_socket_address:
 * @address: a STUN address, as a parsed response holds
 *
 * Returns: (transfer full): the same address as a #GInetSocketAddress
 */
GInetSocketAddress *
icecam_stun_address_to_socket_address (const IcecamStunAddress *address)
{
  g_autoptr(GInetAddress) ip = NULL;

  g_return_val_if_fail (address != NULL && address_is_valid (address), NULL);

  ip = g_inet_address_new_from_bytes (address->address,
                                      address->family == ICECAM_STUN_FAMILY_IPV6 ?
                                      G_SOCKET_FAMILY_IPV6 : G_SOCKET_FAMILY_IPV4);
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (ip, address->port));
}

/* ---- reading: no I/O, every length checked against the datagram -------------------------- */

/* Called for each attribute of interest; returns FALSE with @error set to reject the message. */
typedef gboolean (*AttributeFunc) (const guint8 *header, guint16 type, const guint8 *value,
                                   guint16 value_length, gpointer user_data, GError **error);

static gboolean
refuse (GError **error, IcecamStunMessageError code, const gchar *reason)
{
  g_set_error_literal (error, ICECAM_STUN_MESSAGE_ERROR, code, reason);
  return FALSE;
}

/* Checks the framing common to every STUN message and returns the message type. */
static gboolean
read_header (const guint8 *data, gsize length, guint16 *type, GError **error)
{
  guint16 message_length;

  if (length < HEADER_LENGTH)
    return refuse (error, ICECAM_STUN_MESSAGE_ERROR_MALFORMED, "shorter than a STUN header");
  *type = read_u16 (data);
  message_length = read_u16 (data + 2);
  if ((*type & 0xC000) != 0)
    return refuse (error, ICECAM_STUN_MESSAGE_ERROR_MALFORMED, "not STUN");
  if (message_length % 4 != 0 || (gsize) message_length + HEADER_LENGTH != length)
    return refuse (error, ICECAM_STUN_MESSAGE_ERROR_MALFORMED,
                   "length field does not match the datagram");
  return TRUE;
}

/* Comprehension-required attributes (below 0x8000) a Binding message may carry that are
 * accepted and ignored: icecam does not authenticate, and attributes meant for the other
 * direction mean nothing to the reader. */
static gboolean
attribute_is_understood (guint16 type)
{
  static const guint16 understood[] = {
    ATTR_MAPPED_ADDRESS, ATTR_SOURCE_ADDRESS, ATTR_CHANGED_ADDRESS,
    ATTR_USERNAME, ATTR_MESSAGE_INTEGRITY, ATTR_ERROR_CODE,
    ATTR_UNKNOWN_ATTRIBUTES, ATTR_REFLECTED_FROM, ATTR_REALM, ATTR_NONCE,
    ATTR_MESSAGE_INTEGRITY_SHA256, ATTR_PASSWORD_ALGORITHM, ATTR_USERHASH,
    ATTR_XOR_MAPPED_ADDRESS, ATTR_PRIORITY, ATTR_USE_CANDIDATE,
  };

  if (type >= 0x8000)
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (understood); i++) {
    if (understood[i] == type)
      return TRUE;
  }
  return FALSE;
}

/* FINGERPRINT must be the last attribute and hold the CRC of everything before it. */
static gboolean
check_fingerprint (const guint8 *data, gsize length, gsize offset, guint16 value_length,
                   GError **error)
{
  guint32 expected;

  if (value_length != 4 || offset + ATTRIBUTE_HEADER_LENGTH + 4 != length)
    return refuse (error, ICECAM_STUN_MESSAGE_ERROR_FINGERPRINT,
                   "FINGERPRINT malformed or not the last attribute");
  expected = stun_crc32 (data, offset) ^ FINGERPRINT_XOR;
  if (read_u32 (data + offset + ATTRIBUTE_HEADER_LENGTH) != expected)
    return refuse (error, ICECAM_STUN_MESSAGE_ERROR_FINGERPRINT, "FINGERPRINT does not match");
  return TRUE;
}

/* Calls @func for each attribute up to MESSAGE-INTEGRITY included: after it only FINGERPRINT
 * counts (RFC 8489 section 14.5), and FINGERPRINT ends the message. */
static gboolean
walk_attributes (const guint8 *data, gsize length, AttributeFunc func, gpointer user_data,
                 gboolean *has_fingerprint, GError **error)
{
  gsize offset = HEADER_LENGTH;
  gboolean after_integrity = FALSE;

  *has_fingerprint = FALSE;
  while (offset < length) {
    guint16 type;
    guint16 value_length;

    if (length - offset < ATTRIBUTE_HEADER_LENGTH)
      return refuse (error, ICECAM_STUN_MESSAGE_ERROR_MALFORMED, "truncated attribute header");
    type = read_u16 (data + offset);
    value_length = read_u16 (data + offset + 2);
    if (pad4 (value_length) > length - offset - ATTRIBUTE_HEADER_LENGTH)
      return refuse (error, ICECAM_STUN_MESSAGE_ERROR_MALFORMED,
                     "attribute longer than the message");

    if (type == ATTR_FINGERPRINT) {
      *has_fingerprint = TRUE;
      return check_fingerprint (data, length, offset, value_length, error);
    }

    if (!after_integrity &&
        !func (data, type, data + offset + ATTRIBUTE_HEADER_LENGTH, value_length, user_data,
               error))
      return FALSE;
    if (type == ATTR_MESSAGE_INTEGRITY || type == ATTR_MESSAGE_INTEGRITY_SHA256)
      after_integrity = TRUE;

    offset += ATTRIBUTE_HEADER_LENGTH + pad4 (value_length);
  }
  return TRUE;
}

/* Checks the class and method of a message whose framing is sound. */
static gboolean
check_binding (guint16 type, gboolean want_request, GError **error)
{
  StunClass klass = type_class (type);

  if (want_request && klass != CLASS_REQUEST)
    return refuse (error, ICECAM_STUN_MESSAGE_ERROR_UNEXPECTED, "not a request");
  if (!want_request && klass != CLASS_SUCCESS && klass != CLASS_ERROR)
    return refuse (error, ICECAM_STUN_MESSAGE_ERROR_UNEXPECTED, "not a response");
  if (type_method (type) != METHOD_BINDING)
    return refuse (error, ICECAM_STUN_MESSAGE_ERROR_UNEXPECTED,
                   want_request ? "not a Binding request" : "not a Binding response");
  return TRUE;
}

typedef struct {
  IcecamStunRequest *request;
  gboolean change_request_supported;
  gboolean bad_change_request;
  gboolean bad_response_port;
} RequestReader;

static gboolean
read_request_attribute (const guint8 *header, guint16 type, const guint8 *value,
                        guint16 value_length, gpointer user_data, GError **error)
{
  RequestReader *reader = user_data;
  IcecamStunRequest *request = reader->request;

  if (type == ATTR_CHANGE_REQUEST && reader->change_request_supported) {
    /* Only the first occurrence counts (RFC 8489 section 14). */
    if (request->has_change_request || reader->bad_change_request)
      return TRUE;
    if (value_length != 4) {
      reader->bad_change_request = TRUE;
      return TRUE;
    }
    request->has_change_request = TRUE;
    request->change_flags = read_u32 (value);
    return TRUE;
  }

  /* RESPONSE-PORT (RFC 5780 section 7.5): a port, then two bytes of padding. */
  if (type == ATTR_RESPONSE_PORT && reader->change_request_supported) {
    if (request->has_response_port || reader->bad_response_port)
      return TRUE;
    if (value_length != 4 || read_u16 (value) == 0) {
      reader->bad_response_port = TRUE;
      return TRUE;
    }
    request->has_response_port = TRUE;
    request->response_port = read_u16 (value);
    return TRUE;
  }

  if (!attribute_is_understood (type) &&
      request->n_unknown_attributes < ICECAM_STUN_MAX_UNKNOWN_ATTRIBUTES)
    request->unknown_attributes[request->n_unknown_attributes++] = type;
  return TRUE;
}

/**
 * icecam_stun_message_parse_request:
 * @data: (array length=length): a datagram
 * @length: its size in bytes
 * @change_request_supported: whether CHANGE-REQUEST and RESPONSE-PORT are understood (an
 *   RFC 5780 server). If not they are unknown comprehension-required attributes, answered with
 *   420: that is how RFC 5780 clients learn a server does not do them.
 * @request: (out caller-allocates): what the request asks for
 * @error: return location for an #IcecamStunMessageError
 *
 * Decides what a datagram deserves. Anything that is not a well-formed Binding request with a
 * correct FINGERPRINT (if it has one) is refused with @error and deserves no answer. Otherwise
 * @request->error_code says whether the answer is a success (0) or a 400 (a malformed
 * CHANGE-REQUEST or RESPONSE-PORT) or 420 (unknown comprehension-required attributes) error.
 * MESSAGE-INTEGRITY is not checked: the answer would reveal nothing that the source address
 * does not already know.
 *
 * Returns: %TRUE if the datagram deserves an answer, %FALSE with @error set otherwise
 */
gboolean
icecam_stun_message_parse_request (const guint8 *data, gsize length,
                                   gboolean change_request_supported,
                                   IcecamStunRequest *request, GError **error)
{
  RequestReader reader = { request, change_request_supported, FALSE };
  gboolean has_fingerprint;
  guint16 type;

  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (request != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (request, 0, sizeof *request);
  if (!read_header (data, length, &type, error) || !check_binding (type, TRUE, error))
    return FALSE;
  request->cookie = read_u32 (data + 4);
  memcpy (request->transaction_id, data + 8, ICECAM_STUN_TRANSACTION_ID_LENGTH);
  if (!walk_attributes (data, length, read_request_attribute, &reader, &has_fingerprint, error))
    return FALSE;

  if (reader.bad_change_request) {
    request->error_code = 400;
    request->error_reason = "CHANGE-REQUEST is not 4 bytes long";
  } else if (reader.bad_response_port) {
    request->error_code = 400;
    request->error_reason = "RESPONSE-PORT is not 4 bytes long or names port 0";
  } else if (request->n_unknown_attributes > 0) {
    request->error_code = 420;
    request->error_reason = "unknown mandatory attributes";
  }
  return TRUE;
}

typedef enum {
  SLOT_MAPPED,
  SLOT_ORIGIN,
  SLOT_OTHER,
  N_SLOTS,
} AddressSlot;

/* Each slot has a current attribute (rank 2) and, for old servers, its RFC 3489 name
 * (rank 1). */
typedef struct {
  guint16 type;
  const gchar *name;
  AddressSlot slot;
  guint rank;
  gboolean xored;
} AddressAttribute;

static const AddressAttribute address_attributes[] = {
  { ATTR_XOR_MAPPED_ADDRESS, "XOR-MAPPED-ADDRESS", SLOT_MAPPED, 2, TRUE },
  { ATTR_MAPPED_ADDRESS, "MAPPED-ADDRESS", SLOT_MAPPED, 1, FALSE },
  { ATTR_RESPONSE_ORIGIN, "RESPONSE-ORIGIN", SLOT_ORIGIN, 2, FALSE },
  { ATTR_SOURCE_ADDRESS, "SOURCE-ADDRESS", SLOT_ORIGIN, 1, FALSE },
  { ATTR_OTHER_ADDRESS, "OTHER-ADDRESS", SLOT_OTHER, 2, FALSE },
  { ATTR_CHANGED_ADDRESS, "CHANGED-ADDRESS", SLOT_OTHER, 1, FALSE },
};

typedef struct {
  IcecamStunResponse *response;
  guint rank[N_SLOTS];
  gboolean has_error_code;
  gboolean has_unknown;
  guint16 first_unknown;
} ResponseReader;

/* XOR-MAPPED-ADDRESS xors the port with the cookie's top half and the address with the cookie
 * followed by the transaction ID, which are the header's bytes 4 to 19. */
static gboolean
decode_address (const guint8 *header, const guint8 *value, guint16 value_length,
                gboolean xored, IcecamStunAddress *address)
{
  if (value_length < 4 ||
      (value[1] != ICECAM_STUN_FAMILY_IPV4 && value[1] != ICECAM_STUN_FAMILY_IPV6) ||
      value_length != 4 + family_size (value[1]))
    return FALSE;
  address->family = value[1];
  address->port = read_u16 (value + 2);
  memcpy (address->address, value + 4, family_size (address->family));
  if (xored) {
    address->port ^= ICECAM_STUN_MAGIC_COOKIE >> 16;
    for (gsize i = 0; i < family_size (address->family); i++)
      address->address[i] ^= header[4 + i];
  }
  return TRUE;
}

/* Keeps the first occurrence of the best-ranked attribute for each slot. */
static gboolean
read_address (ResponseReader *reader, const guint8 *header, const AddressAttribute *attribute,
              const guint8 *value, guint16 value_length, GError **error)
{
  IcecamStunResponse *response = reader->response;
  IcecamStunAddress address = { 0 };

  if (!decode_address (header, value, value_length, attribute->xored, &address)) {
    g_set_error (error, ICECAM_STUN_MESSAGE_ERROR, ICECAM_STUN_MESSAGE_ERROR_MALFORMED,
                 "%s is malformed", attribute->name);
    return FALSE;
  }
  if (attribute->rank <= reader->rank[attribute->slot])
    return TRUE;
  reader->rank[attribute->slot] = attribute->rank;
  switch (attribute->slot) {
  case SLOT_MAPPED:
    response->has_mapped_address = TRUE;
    response->mapped_address = address;
    break;
  case SLOT_ORIGIN:
    response->has_response_origin = TRUE;
    response->response_origin = address;
    break;
  case SLOT_OTHER:
  default:
    response->has_other_address = TRUE;
    response->other_address = address;
    break;
  }
  return TRUE;
}

/* ERROR-CODE: 21 reserved bits, the hundreds in 3 bits, the rest (0-99) in a byte, then a
 * reason phrase that only a human would read. */
static gboolean
read_error_code (ResponseReader *reader, const guint8 *value, guint16 value_length,
                 GError **error)
{
  guint hundreds;

  if (reader->has_error_code)
    return TRUE;
  hundreds = value_length >= 4 ? value[2] & 0x07 : 0;
  if (hundreds < 3 || hundreds > 6 || value[3] > 99)
    return refuse (error, ICECAM_STUN_MESSAGE_ERROR_MALFORMED, "ERROR-CODE is malformed");
  reader->has_error_code = TRUE;
  reader->response->error_code = hundreds * 100 + value[3];
  return TRUE;
}

static gboolean
read_response_attribute (const guint8 *header, guint16 type, const guint8 *value,
                         guint16 value_length, gpointer user_data, GError **error)
{
  ResponseReader *reader = user_data;

  for (gsize i = 0; i < G_N_ELEMENTS (address_attributes); i++) {
    if (address_attributes[i].type == type)
      return read_address (reader, header, &address_attributes[i], value, value_length, error);
  }
  /* A success response's ERROR-CODE means nothing. */
  if (type == ATTR_ERROR_CODE && reader->response->is_error)
    return read_error_code (reader, value, value_length, error);
  if (!reader->has_unknown && !attribute_is_understood (type)) {
    reader->has_unknown = TRUE;
    reader->first_unknown = type;
  }
  return TRUE;
}

/**
 * icecam_stun_message_parse_response:
 * @data: (array length=length): a datagram
 * @length: its size in bytes
 * @response: (out caller-allocates): what the response says
 * @error: return location for an #IcecamStunMessageError
 *
 * Reads a Binding success or error response, checking its FINGERPRINT if it has one (see
 * @response->has_fingerprint to require one). Matching the transaction ID with the request's
 * is left to the caller, as is deciding which addresses it needs.
 *
 * Returns: %TRUE if the datagram is a usable Binding response, %FALSE with @error set if it
 *   is not: not STUN, broken, not a Binding response, an error response without ERROR-CODE,
 *   an undecodable attribute that icecam reads, or an unknown comprehension-required one
 */
gboolean
icecam_stun_message_parse_response (const guint8 *data, gsize length,
                                    IcecamStunResponse *response, GError **error)
{
  ResponseReader reader = { response };
  guint16 type;

  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (response != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (response, 0, sizeof *response);
  if (!read_header (data, length, &type, error) || !check_binding (type, FALSE, error))
    return FALSE;
  response->cookie = read_u32 (data + 4);
  memcpy (response->transaction_id, data + 8, ICECAM_STUN_TRANSACTION_ID_LENGTH);
  response->is_error = type_class (type) == CLASS_ERROR;
  if (!walk_attributes (data, length, read_response_attribute, &reader,
                        &response->has_fingerprint, error))
    return FALSE;

  if (reader.has_unknown) {
    g_set_error (error, ICECAM_STUN_MESSAGE_ERROR, ICECAM_STUN_MESSAGE_ERROR_UNKNOWN_ATTRIBUTE,
                 "unknown comprehension-required attribute 0x%04X", reader.first_unknown);
    return FALSE;
  }
  if (response->is_error && !reader.has_error_code)
    return refuse (error, ICECAM_STUN_MESSAGE_ERROR_MALFORMED,
                   "error response without ERROR-CODE");
  return TRUE;
}

/* ---- writing: no I/O, bounded by the caller's buffer ------------------------------------- */

typedef struct {
  guint8 *data;
  gsize size;
  gsize length;
  gboolean overflow;
} Writer;

static void
writer_begin (Writer *writer, guint8 *buffer, gsize size, StunClass klass, guint32 cookie,
              const guint8 *transaction_id)
{
  writer->data = buffer;
  writer->size = size;
  writer->length = HEADER_LENGTH;
  writer->overflow = size < HEADER_LENGTH;
  if (writer->overflow)
    return;
  write_u16 (writer->data, message_type (METHOD_BINDING, klass));
  write_u16 (writer->data + 2, 0);
  write_u32 (writer->data + 4, cookie);
  memcpy (writer->data + 8, transaction_id, ICECAM_STUN_TRANSACTION_ID_LENGTH);
}

/* Returns where the value goes, zeroed including its padding, or NULL if it does not fit. */
static guint8 *
writer_append (Writer *writer, guint16 type, gsize value_length)
{
  guint8 *attribute;

  if (writer->overflow ||
      ATTRIBUTE_HEADER_LENGTH + pad4 (value_length) > writer->size - writer->length) {
    writer->overflow = TRUE;
    return NULL;
  }
  attribute = writer->data + writer->length;
  write_u16 (attribute, type);
  write_u16 (attribute + 2, value_length);
  memset (attribute + ATTRIBUTE_HEADER_LENGTH, 0, pad4 (value_length));
  writer->length += ATTRIBUTE_HEADER_LENGTH + pad4 (value_length);
  write_u16 (writer->data + 2, writer->length - HEADER_LENGTH);
  return attribute + ATTRIBUTE_HEADER_LENGTH;
}

static void
writer_append_address (Writer *writer, guint16 type, const IcecamStunAddress *address,
                       gboolean xored)
{
  gsize size = family_size (address->family);
  guint8 *value = writer_append (writer, type, 4 + size);
  guint16 port = address->port;

  if (value == NULL)
    return;
  value[1] = address->family;
  memcpy (value + 4, address->address, size);
  if (xored) {
    port ^= ICECAM_STUN_MAGIC_COOKIE >> 16;
    for (gsize i = 0; i < size; i++)
      value[4 + i] ^= writer->data[4 + i];
  }
  write_u16 (value + 2, port);
}

static void
writer_append_u32 (Writer *writer, guint16 type, guint32 number)
{
  guint8 *value = writer_append (writer, type, 4);

  if (value != NULL)
    write_u32 (value, number);
}

static void
writer_append_software (Writer *writer)
{
  guint8 *value = writer_append (writer, ATTR_SOFTWARE, strlen (SOFTWARE));

  if (value != NULL)
    memcpy (value, SOFTWARE, strlen (SOFTWARE));
}

/* RFC 3489 has no attribute padding, so there the reason phrase is padded with spaces. */
static void
writer_append_error_code (Writer *writer, guint code, const gchar *reason, gboolean rfc3489)
{
  gsize value_length = 4 + strlen (reason);
  guint8 *value;

  if (rfc3489)
    value_length = pad4 (value_length);
  value = writer_append (writer, ATTR_ERROR_CODE, value_length);
  if (value == NULL)
    return;
  value[2] = code / 100;
  value[3] = code % 100;
  memset (value + 4, ' ', value_length - 4);
  memcpy (value + 4, reason, strlen (reason));
}

/* RFC 3489 asks for an odd list to be made even by repeating an entry. */
static void
writer_append_unknown_attributes (Writer *writer, const IcecamStunRequest *request,
                                  gboolean rfc3489)
{
  guint n_unknown = MIN (request->n_unknown_attributes, ICECAM_STUN_MAX_UNKNOWN_ATTRIBUTES);
  guint count = n_unknown;
  guint8 *value;

  if (rfc3489 && count % 2 == 1)
    count++;
  value = writer_append (writer, ATTR_UNKNOWN_ATTRIBUTES, 2 * count);
  if (value == NULL)
    return;
  for (guint i = 0; i < count; i++)
    write_u16 (value + 2 * i, request->unknown_attributes[i < n_unknown ? i : 0]);
}

/* Returns the message's length, or 0 with @error set if it did not fit. */
static gsize
writer_finish (Writer *writer, gboolean with_fingerprint, GError **error)
{
  guint8 *value;

  if (with_fingerprint) {
    /* Appending first makes the header's length include FINGERPRINT, as the CRC requires. */
    value = writer_append (writer, ATTR_FINGERPRINT, 4);
    if (value != NULL)
      write_u32 (value, stun_crc32 (writer->data, writer->length - 8) ^ FINGERPRINT_XOR);
  }
  if (writer->overflow) {
    g_set_error (error, ICECAM_STUN_MESSAGE_ERROR, ICECAM_STUN_MESSAGE_ERROR_NO_SPACE,
                 "STUN message does not fit in %" G_GSIZE_FORMAT " bytes", writer->size);
    return 0;
  }
  return writer->length;
}

/**
 * icecam_stun_message_write_success:
 * @request: a request that icecam_stun_message_parse_request() accepted with error_code 0
 * @mapped: where the request came from
 * @origin: (nullable): where the answer is sent from (RFC 5780), or %NULL
 * @other: (nullable): the server address differing in IP and port from the one that received
 *   the request (RFC 5780), or %NULL
 * @buffer: (out caller-allocates) (array length=size): where to write the answer;
 *   %ICECAM_STUN_MESSAGE_BUFFER_SIZE bytes are always enough
 * @size: the size of @buffer
 * @error: return location for %ICECAM_STUN_MESSAGE_ERROR_NO_SPACE
 *
 * Writes the Binding success response to @request. RFC 8489 requests get
 * XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN and OTHER-ADDRESS (if both @origin and @other are
 * given), SOFTWARE and FINGERPRINT. RFC 3489 requests get MAPPED-ADDRESS and that RFC's names
 * for the other two, SOURCE-ADDRESS and CHANGED-ADDRESS.
 *
 * Returns: the answer's length in bytes, or 0 with @error set if it does not fit
 */
gsize
icecam_stun_message_write_success (const IcecamStunRequest *request,
                                   const IcecamStunAddress *mapped,
                                   const IcecamStunAddress *origin,
                                   const IcecamStunAddress *other, guint8 *buffer, gsize size,
                                   GError **error)
{
  gboolean rfc3489;
  gboolean rfc5780 = origin != NULL && other != NULL;
  Writer writer;

  g_return_val_if_fail (request != NULL, 0);
  g_return_val_if_fail (mapped != NULL && address_is_valid (mapped), 0);
  g_return_val_if_fail (origin == NULL || address_is_valid (origin), 0);
  g_return_val_if_fail (other == NULL || address_is_valid (other), 0);
  g_return_val_if_fail (buffer != NULL || size == 0, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  rfc3489 = request->cookie != ICECAM_STUN_MAGIC_COOKIE;
  writer_begin (&writer, buffer, size, CLASS_SUCCESS, request->cookie, request->transaction_id);
  if (!rfc3489) {
    writer_append_address (&writer, ATTR_XOR_MAPPED_ADDRESS, mapped, TRUE);
    if (rfc5780) {
      writer_append_address (&writer, ATTR_RESPONSE_ORIGIN, origin, FALSE);
      writer_append_address (&writer, ATTR_OTHER_ADDRESS, other, FALSE);
    }
    writer_append_software (&writer);
  } else {
    writer_append_address (&writer, ATTR_MAPPED_ADDRESS, mapped, FALSE);
    if (rfc5780) {
      writer_append_address (&writer, ATTR_SOURCE_ADDRESS, origin, FALSE);
      writer_append_address (&writer, ATTR_CHANGED_ADDRESS, other, FALSE);
    }
  }
  return writer_finish (&writer, !rfc3489, error);
}

/**
 * icecam_stun_message_write_error:
 * @request: a request that icecam_stun_message_parse_request() accepted with error_code 400
 *   or 420
 * @buffer: (out caller-allocates) (array length=size): where to write the answer;
 *   %ICECAM_STUN_MESSAGE_BUFFER_SIZE bytes are always enough
 * @size: the size of @buffer
 * @error: return location for %ICECAM_STUN_MESSAGE_ERROR_NO_SPACE
 *
 * Writes the Binding error response that @request->error_code calls for: ERROR-CODE, with
 * UNKNOWN-ATTRIBUTES for a 420, then SOFTWARE and FINGERPRINT for RFC 8489 requests.
 *
 * Returns: the answer's length in bytes, or 0 with @error set if it does not fit
 */
gsize
icecam_stun_message_write_error (const IcecamStunRequest *request, guint8 *buffer, gsize size,
                                 GError **error)
{
  gboolean rfc3489;
  gboolean unknown;
  Writer writer;

  g_return_val_if_fail (request != NULL, 0);
  g_return_val_if_fail (request->error_code == 400 || request->error_code == 420, 0);
  g_return_val_if_fail (buffer != NULL || size == 0, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  rfc3489 = request->cookie != ICECAM_STUN_MAGIC_COOKIE;
  unknown = request->error_code == 420;
  writer_begin (&writer, buffer, size, CLASS_ERROR, request->cookie, request->transaction_id);
  writer_append_error_code (&writer, request->error_code,
                            unknown ? "Unknown Attribute" : "Bad Request", rfc3489);
  if (unknown)
    writer_append_unknown_attributes (&writer, request, rfc3489);
  if (!rfc3489)
    writer_append_software (&writer);
  return writer_finish (&writer, !rfc3489, error);
}

static gsize
write_binding_request (const guint8 *transaction_id, gboolean change_request,
                       guint32 change_flags, guint16 response_port, guint8 *buffer, gsize size,
                       GError **error)
{
  Writer writer;

  writer_begin (&writer, buffer, size, CLASS_REQUEST, ICECAM_STUN_MAGIC_COOKIE, transaction_id);
  if (change_request)
    writer_append_u32 (&writer, ATTR_CHANGE_REQUEST, change_flags);
  if (response_port != 0)
    writer_append_u32 (&writer, ATTR_RESPONSE_PORT, (guint32) response_port << 16);
  writer_append_software (&writer);
  return writer_finish (&writer, TRUE, error);
}

/**
 * icecam_stun_message_write_binding_request:
 * @transaction_id: (array fixed-size=12): the transaction ID, random (RFC 8489 section 6)
 * @change_request: whether to add a CHANGE-REQUEST (RFC 5780 section 7.2)
 * @change_flags: its %ICECAM_STUN_CHANGE_IP and %ICECAM_STUN_CHANGE_PORT bits; a
 *   CHANGE-REQUEST without them still tells whether the server supports RFC 5780
 * @buffer: (out caller-allocates) (array length=size): where to write the request;
 *   %ICECAM_STUN_MESSAGE_BUFFER_SIZE bytes are always enough
 * @size: the size of @buffer
 * @error: return location for %ICECAM_STUN_MESSAGE_ERROR_NO_SPACE
 *
 * Writes an RFC 8489 Binding request with SOFTWARE and FINGERPRINT.
 *
 * Returns: the request's length in bytes, or 0 with @error set if it does not fit
 */
gsize
icecam_stun_message_write_binding_request (
  const guint8 transaction_id[ICECAM_STUN_TRANSACTION_ID_LENGTH], gboolean change_request,
  guint32 change_flags, guint8 *buffer, gsize size, GError **error)
{
  g_return_val_if_fail (transaction_id != NULL, 0);
  g_return_val_if_fail (buffer != NULL || size == 0, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  return write_binding_request (transaction_id, change_request, change_flags, 0, buffer, size,
                                error);
}

/**
 * icecam_stun_message_write_response_port_request:
 * @transaction_id: (array fixed-size=12): the transaction ID, random (RFC 8489 section 6)
 * @response_port: the RESPONSE-PORT (RFC 5780 section 7.5), not 0: the port of the request's
 *   source IP address the answer is to be sent to
 * @buffer: (out caller-allocates) (array length=size): where to write the request;
 *   %ICECAM_STUN_MESSAGE_BUFFER_SIZE bytes are always enough
 * @size: the size of @buffer
 * @error: return location for %ICECAM_STUN_MESSAGE_ERROR_NO_SPACE
 *
 * Writes an RFC 8489 Binding request with RESPONSE-PORT, SOFTWARE and FINGERPRINT, as RFC 5780
 * binding lifetime discovery sends from a second socket to test the first one's mapping.
 *
 * Returns: the request's length in bytes, or 0 with @error set if it does not fit
 */
gsize
icecam_stun_message_write_response_port_request (
  const guint8 transaction_id[ICECAM_STUN_TRANSACTION_ID_LENGTH], guint16 response_port,
  guint8 *buffer, gsize size, GError **error)
{
  g_return_val_if_fail (transaction_id != NULL, 0);
  g_return_val_if_fail (response_port != 0, 0);
  g_return_val_if_fail (buffer != NULL || size == 0, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  return write_binding_request (transaction_id, FALSE, 0, response_port, buffer, size, error);
}
