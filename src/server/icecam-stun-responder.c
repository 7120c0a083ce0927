/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A STUN Binding responder on one UDP socket, or four for RFC 5780, with its own small codec. */

#include "icecam-stun-responder.h"

#include <string.h>

/*
 * The codec is written here rather than taken from libnice's stun/ library: a public responder
 * needs exactly one message (Binding) in two forms (RFC 8489 with the magic cookie, RFC 3489
 * without, which libnice 0.1.21 itself sends), and every decision about hostile input should be
 * visible in one place. libnice's stun_agent_validate() rejects cookie-less requests in RFC 5389
 * mode (so two agents would be needed), either requires FINGERPRINT or never checks it, turns
 * MESSAGE-INTEGRITY without credentials into UNAUTHORIZED, and knows neither RESPONSE-ORIGIN
 * nor OTHER-ADDRESS. The tests drive this codec with libnice's client side, so two independent
 * implementations check each other.
 */

/* ---- wire format: RFC 8489 sections 5, 6 and 14, RFC 3489 section 11, RFC 5780 section 7 -- */

#define STUN_HEADER_LENGTH 20
#define STUN_ATTRIBUTE_HEADER_LENGTH 4
#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_FINGERPRINT_XOR 0x5354554Eu
#define STUN_METHOD_BINDING 0x001

#define STUN_FAMILY_IPV4 0x01
#define STUN_FAMILY_IPV6 0x02

#define STUN_CHANGE_IP 0x04
#define STUN_CHANGE_PORT 0x02

typedef enum {
  STUN_CLASS_REQUEST = 0,
  STUN_CLASS_INDICATION = 1,
  STUN_CLASS_SUCCESS = 2,
  STUN_CLASS_ERROR = 3,
} StunClass;

typedef enum {
  STUN_ATTR_MAPPED_ADDRESS = 0x0001,
  STUN_ATTR_CHANGE_REQUEST = 0x0003,
  STUN_ATTR_SOURCE_ADDRESS = 0x0004,
  STUN_ATTR_CHANGED_ADDRESS = 0x0005,
  STUN_ATTR_USERNAME = 0x0006,
  STUN_ATTR_MESSAGE_INTEGRITY = 0x0008,
  STUN_ATTR_ERROR_CODE = 0x0009,
  STUN_ATTR_UNKNOWN_ATTRIBUTES = 0x000A,
  STUN_ATTR_REFLECTED_FROM = 0x000B,
  STUN_ATTR_REALM = 0x0014,
  STUN_ATTR_NONCE = 0x0015,
  STUN_ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001C,
  STUN_ATTR_PASSWORD_ALGORITHM = 0x001D,
  STUN_ATTR_USERHASH = 0x001E,
  STUN_ATTR_XOR_MAPPED_ADDRESS = 0x0020,
  STUN_ATTR_PRIORITY = 0x0024,
  STUN_ATTR_USE_CANDIDATE = 0x0025,
  STUN_ATTR_SOFTWARE = 0x8022,
  STUN_ATTR_FINGERPRINT = 0x8028,
  STUN_ATTR_RESPONSE_ORIGIN = 0x802B,
  STUN_ATTR_OTHER_ADDRESS = 0x802C,
} StunAttributeType;

#define SOFTWARE "icecam"

/* One more than the largest datagram accepted, so a truncated read is recognisable. */
#define RECEIVE_BUFFER_SIZE 1536
/* Our largest answer (IPv6, RFC 5780) is 112 bytes, a 420 with 16 unknowns 104. */
#define RESPONSE_BUFFER_SIZE 256
#define MAX_UNKNOWN_ATTRIBUTES 16
/* Bounds the time one busy socket holds the main context. */
#define MAX_PACKETS_PER_DISPATCH 32
/* Ephemeral ports chosen for one RFC 5780 socket can be taken on the other address. */
#define MAX_BIND_ATTEMPTS 8

/* Index bits of the four RFC 5780 sockets: endpoints[0] is the primary ip:port. */
#define ENDPOINT_CHANGE_PORT 1u
#define ENDPOINT_CHANGE_IP 2u
#define N_ENDPOINTS 4

typedef struct {
  guint8 family;
  guint16 port;
  guint8 address[16];
  gsize address_length;
} StunAddress;

typedef enum {
  STUN_VERDICT_IGNORE,
  STUN_VERDICT_SUCCESS,
  STUN_VERDICT_BAD_REQUEST,
  STUN_VERDICT_UNKNOWN_ATTRIBUTES,
} StunVerdict;

typedef struct {
  const guint8 *header;
  gboolean has_cookie;
  gboolean has_change_request;
  guint32 change_flags;
  gboolean malformed;
  guint16 unknown[MAX_UNKNOWN_ATTRIBUTES];
  guint n_unknown;
  const gchar *reason;
} StunRequest;

typedef struct {
  guint8 data[RESPONSE_BUFFER_SIZE];
  gsize length;
  gboolean overflow;
} StunWriter;

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
stun_message_type (guint16 method, StunClass klass)
{
  return (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) |
         ((klass & 1) << 4) | ((klass & 2) << 7);
}

static guint16
stun_type_method (guint16 type)
{
  return (type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2);
}

static StunClass
stun_type_class (guint16 type)
{
  return ((type & 0x0010) >> 4) | ((type & 0x0100) >> 7);
}

/* Maps IPv4-mapped IPv6 sources (from dual-stack sockets) back to IPv4: the client sent IPv4. */
static gboolean
stun_address_from_socket_address (GInetSocketAddress *socket_address, StunAddress *out)
{
  static const guint8 v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
  GInetAddress *ip = g_inet_socket_address_get_address (socket_address);
  const guint8 *bytes = g_inet_address_to_bytes (ip);
  gsize size = g_inet_address_get_native_size (ip);

  out->port = g_inet_socket_address_get_port (socket_address);
  if (size == 4 || (size == 16 && memcmp (bytes, v4_mapped_prefix, 12) == 0)) {
    out->family = STUN_FAMILY_IPV4;
    out->address_length = 4;
    memcpy (out->address, bytes + size - 4, 4);
    return TRUE;
  }
  if (size == 16) {
    out->family = STUN_FAMILY_IPV6;
    out->address_length = 16;
    memcpy (out->address, bytes, 16);
    return TRUE;
  }
  return FALSE;
}

/* ---- parsing: no I/O, every length checked against the datagram ------------------------ */

static StunVerdict
refuse (StunRequest *request, StunVerdict verdict, const gchar *reason)
{
  request->reason = reason;
  return verdict;
}

static StunVerdict
parse_header (const guint8 *data, gsize length, StunRequest *request)
{
  guint16 type;
  guint16 message_length;

  if (length < STUN_HEADER_LENGTH)
    return refuse (request, STUN_VERDICT_IGNORE, "shorter than a STUN header");
  type = read_u16 (data);
  message_length = read_u16 (data + 2);
  if ((type & 0xC000) != 0)
    return refuse (request, STUN_VERDICT_IGNORE, "not STUN");
  if (message_length % 4 != 0 || (gsize) message_length + STUN_HEADER_LENGTH != length)
    return refuse (request, STUN_VERDICT_IGNORE, "length field does not match the datagram");
  if (stun_type_class (type) != STUN_CLASS_REQUEST)
    return refuse (request, STUN_VERDICT_IGNORE, "not a request");
  if (stun_type_method (type) != STUN_METHOD_BINDING)
    return refuse (request, STUN_VERDICT_IGNORE, "not a Binding request");

  request->header = data;
  request->has_cookie = read_u32 (data + 4) == STUN_MAGIC_COOKIE;
  return STUN_VERDICT_SUCCESS;
}

/* Comprehension-required attributes (below 0x8000) a Binding request may carry that we accept
 * and ignore: we do not authenticate, and response-only attributes mean nothing here. */
static gboolean
attribute_is_understood (guint16 type)
{
  static const guint16 understood[] = {
    STUN_ATTR_MAPPED_ADDRESS, STUN_ATTR_SOURCE_ADDRESS, STUN_ATTR_CHANGED_ADDRESS,
    STUN_ATTR_USERNAME, STUN_ATTR_MESSAGE_INTEGRITY, STUN_ATTR_ERROR_CODE,
    STUN_ATTR_UNKNOWN_ATTRIBUTES, STUN_ATTR_REFLECTED_FROM, STUN_ATTR_REALM, STUN_ATTR_NONCE,
    STUN_ATTR_MESSAGE_INTEGRITY_SHA256, STUN_ATTR_PASSWORD_ALGORITHM, STUN_ATTR_USERHASH,
    STUN_ATTR_XOR_MAPPED_ADDRESS, STUN_ATTR_PRIORITY, STUN_ATTR_USE_CANDIDATE,
  };

  if (type >= 0x8000)
    return TRUE;
  for (gsize i = 0; i < G_N_ELEMENTS (understood); i++) {
    if (understood[i] == type)
      return TRUE;
  }
  return FALSE;
}

static void
note_attribute (guint16 type, const guint8 *value, guint16 value_length,
                gboolean change_request_supported, StunRequest *request)
{
  if (type == STUN_ATTR_CHANGE_REQUEST && change_request_supported) {
    /* Only the first occurrence counts (RFC 8489 section 14). */
    if (request->has_change_request || request->malformed)
      return;
    if (value_length != 4) {
      request->malformed = TRUE;
      request->reason = "CHANGE-REQUEST is not 4 bytes long";
      return;
    }
    request->has_change_request = TRUE;
    request->change_flags = read_u32 (value);
    return;
  }

  if (!attribute_is_understood (type) && request->n_unknown < MAX_UNKNOWN_ATTRIBUTES)
    request->unknown[request->n_unknown++] = type;
}

/* FINGERPRINT must be the last attribute and hold the CRC of everything before it. */
static StunVerdict
check_fingerprint (const guint8 *data, gsize length, gsize offset, guint16 value_length,
                   StunRequest *request)
{
  guint32 expected;

  if (value_length != 4 || offset + STUN_ATTRIBUTE_HEADER_LENGTH + 4 != length)
    return refuse (request, STUN_VERDICT_IGNORE, "FINGERPRINT malformed or not the last attribute");
  expected = stun_crc32 (data, offset) ^ STUN_FINGERPRINT_XOR;
  if (read_u32 (data + offset + STUN_ATTRIBUTE_HEADER_LENGTH) != expected)
    return refuse (request, STUN_VERDICT_IGNORE, "FINGERPRINT does not match");
  return STUN_VERDICT_SUCCESS;
}

static StunVerdict
walk_attributes (const guint8 *data, gsize length, gboolean change_request_supported,
                 StunRequest *request)
{
  gsize offset = STUN_HEADER_LENGTH;
  gboolean after_integrity = FALSE;

  while (offset < length) {
    guint16 type;
    guint16 value_length;

    if (length - offset < STUN_ATTRIBUTE_HEADER_LENGTH)
      return refuse (request, STUN_VERDICT_IGNORE, "truncated attribute header");
    type = read_u16 (data + offset);
    value_length = read_u16 (data + offset + 2);
    if (pad4 (value_length) > length - offset - STUN_ATTRIBUTE_HEADER_LENGTH)
      return refuse (request, STUN_VERDICT_IGNORE, "attribute longer than the message");

    if (type == STUN_ATTR_FINGERPRINT)
      return check_fingerprint (data, length, offset, value_length, request);

    /* Only FINGERPRINT counts after MESSAGE-INTEGRITY (RFC 8489 section 14.5). */
    if (!after_integrity)
      note_attribute (type, data + offset + STUN_ATTRIBUTE_HEADER_LENGTH, value_length,
                      change_request_supported, request);
    if (type == STUN_ATTR_MESSAGE_INTEGRITY || type == STUN_ATTR_MESSAGE_INTEGRITY_SHA256)
      after_integrity = TRUE;

    offset += STUN_ATTRIBUTE_HEADER_LENGTH + pad4 (value_length);
  }
  return STUN_VERDICT_SUCCESS;
}

/* Decides what a datagram deserves. Ignored: anything that is not a well-formed Binding
 * request with a correct FINGERPRINT (if it has one). 400: a malformed CHANGE-REQUEST.
 * 420: unknown comprehension-required attributes, CHANGE-REQUEST included unless
 * @change_request_supported, which is how RFC 5780 clients learn we do not do it. */
static StunVerdict
parse_request (const guint8 *data, gsize length, gboolean change_request_supported,
               StunRequest *request)
{
  StunVerdict verdict;

  verdict = parse_header (data, length, request);
  if (verdict != STUN_VERDICT_SUCCESS)
    return verdict;
  verdict = walk_attributes (data, length, change_request_supported, request);
  if (verdict != STUN_VERDICT_SUCCESS)
    return verdict;
  if (request->malformed)
    return STUN_VERDICT_BAD_REQUEST;
  if (request->n_unknown > 0)
    return refuse (request, STUN_VERDICT_UNKNOWN_ATTRIBUTES, "unknown mandatory attributes");
  return STUN_VERDICT_SUCCESS;
}

/* ---- building answers: no I/O, bounded by the writer's buffer ---------------------------- */

static void
writer_begin (StunWriter *writer, StunClass klass, const StunRequest *request)
{
  writer->length = STUN_HEADER_LENGTH;
  writer->overflow = FALSE;
  write_u16 (writer->data, stun_message_type (STUN_METHOD_BINDING, klass));
  write_u16 (writer->data + 2, 0);
  /* The magic cookie and 96-bit transaction ID, or RFC 3489's 128-bit transaction ID. */
  memcpy (writer->data + 4, request->header + 4, 16);
}

/* Returns where the value goes, zeroed including its padding, or NULL if it does not fit. */
static guint8 *
writer_append (StunWriter *writer, guint16 type, gsize value_length)
{
  guint8 *attribute;

  if (writer->overflow ||
      STUN_ATTRIBUTE_HEADER_LENGTH + pad4 (value_length) > sizeof writer->data - writer->length) {
    writer->overflow = TRUE;
    return NULL;
  }
  attribute = writer->data + writer->length;
  write_u16 (attribute, type);
  write_u16 (attribute + 2, value_length);
  memset (attribute + STUN_ATTRIBUTE_HEADER_LENGTH, 0, pad4 (value_length));
  writer->length += STUN_ATTRIBUTE_HEADER_LENGTH + pad4 (value_length);
  write_u16 (writer->data + 2, writer->length - STUN_HEADER_LENGTH);
  return attribute + STUN_ATTRIBUTE_HEADER_LENGTH;
}

/* XOR-MAPPED-ADDRESS xors the port with the cookie's top half and the address with the cookie
 * followed by the transaction ID, which are the header's bytes 4 to 19. */
static void
writer_append_address (StunWriter *writer, guint16 type, const StunAddress *address,
                       gboolean xored)
{
  guint8 *value = writer_append (writer, type, 4 + address->address_length);
  guint16 port = address->port;

  if (value == NULL)
    return;
  value[1] = address->family;
  memcpy (value + 4, address->address, address->address_length);
  if (xored) {
    port ^= STUN_MAGIC_COOKIE >> 16;
    for (gsize i = 0; i < address->address_length; i++)
      value[4 + i] ^= writer->data[4 + i];
  }
  write_u16 (value + 2, port);
}

static void
writer_append_software (StunWriter *writer)
{
  guint8 *value = writer_append (writer, STUN_ATTR_SOFTWARE, strlen (SOFTWARE));

  if (value != NULL)
    memcpy (value, SOFTWARE, strlen (SOFTWARE));
}

/* RFC 3489 has no attribute padding, so there the reason phrase is padded with spaces. */
static void
writer_append_error_code (StunWriter *writer, guint code, const gchar *reason, gboolean rfc3489)
{
  gsize value_length = 4 + strlen (reason);
  guint8 *value;

  if (rfc3489)
    value_length = pad4 (value_length);
  value = writer_append (writer, STUN_ATTR_ERROR_CODE, value_length);
  if (value == NULL)
    return;
  value[2] = code / 100;
  value[3] = code % 100;
  memset (value + 4, ' ', value_length - 4);
  memcpy (value + 4, reason, strlen (reason));
}

/* RFC 3489 asks for an odd list to be made even by repeating an entry. */
static void
writer_append_unknown_attributes (StunWriter *writer, const StunRequest *request)
{
  guint count = request->n_unknown;
  guint8 *value;

  if (!request->has_cookie && count % 2 == 1)
    count++;
  value = writer_append (writer, STUN_ATTR_UNKNOWN_ATTRIBUTES, 2 * count);
  if (value == NULL)
    return;
  for (guint i = 0; i < count; i++)
    write_u16 (value + 2 * i, request->unknown[i < request->n_unknown ? i : 0]);
}

static void
writer_finish (StunWriter *writer, gboolean with_fingerprint)
{
  guint8 *value;

  if (!with_fingerprint)
    return;
  /* Appending first makes the header's length include FINGERPRINT, as the CRC requires. */
  value = writer_append (writer, STUN_ATTR_FINGERPRINT, 4);
  if (value != NULL)
    write_u32 (value, stun_crc32 (writer->data, writer->length - 8) ^ STUN_FINGERPRINT_XOR);
}

/* @origin and @other are NULL unless RFC 5780 is on. RFC 3489 clients get its names for the
 * same two addresses: SOURCE-ADDRESS and CHANGED-ADDRESS. */
static void
build_success (StunWriter *writer, const StunRequest *request, const StunAddress *mapped,
               const StunAddress *origin, const StunAddress *other)
{
  writer_begin (writer, STUN_CLASS_SUCCESS, request);
  if (request->has_cookie) {
    writer_append_address (writer, STUN_ATTR_XOR_MAPPED_ADDRESS, mapped, TRUE);
    if (origin != NULL && other != NULL) {
      writer_append_address (writer, STUN_ATTR_RESPONSE_ORIGIN, origin, FALSE);
      writer_append_address (writer, STUN_ATTR_OTHER_ADDRESS, other, FALSE);
    }
    writer_append_software (writer);
  } else {
    writer_append_address (writer, STUN_ATTR_MAPPED_ADDRESS, mapped, FALSE);
    if (origin != NULL && other != NULL) {
      writer_append_address (writer, STUN_ATTR_SOURCE_ADDRESS, origin, FALSE);
      writer_append_address (writer, STUN_ATTR_CHANGED_ADDRESS, other, FALSE);
    }
  }
  writer_finish (writer, request->has_cookie);
}

static void
build_error (StunWriter *writer, const StunRequest *request, StunVerdict verdict)
{
  gboolean unknown = verdict == STUN_VERDICT_UNKNOWN_ATTRIBUTES;

  writer_begin (writer, STUN_CLASS_ERROR, request);
  writer_append_error_code (writer, unknown ? 420 : 400,
                            unknown ? "Unknown Attribute" : "Bad Request", !request->has_cookie);
  if (unknown)
    writer_append_unknown_attributes (writer, request);
  if (request->has_cookie)
    writer_append_software (writer);
  writer_finish (writer, request->has_cookie);
}

/* ---- the object ---------------------------------------------------------------------------- */

typedef enum {
  STATE_NEW,
  STATE_LISTENING,
  STATE_CLOSED,
} IcecamStunResponderState;

typedef enum {
  OUTCOME_ANSWERED,
  OUTCOME_ERROR_ANSWERED,
  OUTCOME_IGNORED,
  OUTCOME_SEND_FAILED,
} Outcome;

typedef struct {
  IcecamStunResponder *responder;
  guint index;
  GSocket *socket;
  GSource *source;
  GInetSocketAddress *local_address;
  StunAddress wire_address;
} Endpoint;

/**
 * IcecamStunResponder:
 *
 * Answers STUN Binding requests on UDP so that one public rendezvous host is enough for
 * server-reflexive candidates: RFC 8489 requests get XOR-MAPPED-ADDRESS, SOFTWARE and
 * FINGERPRINT; RFC 3489 requests (no magic cookie, as libnice 0.1.21 sends) get
 * MAPPED-ADDRESS. With icecam_stun_responder_listen_rfc5780() it also serves RFC 5780 NAT
 * behaviour discovery: CHANGE-REQUEST, RESPONSE-ORIGIN and OTHER-ADDRESS.
 *
 * Everything else is dropped and counted: datagrams that are not STUN, malformed or oversized
 * (1536 bytes and more), with a wrong FINGERPRINT, responses, indications and methods other
 * than Binding. Binding requests are refused with 420 Unknown Attribute (listing them) when
 * they carry comprehension-required attributes we do not know, and with 400 Bad Request when
 * their CHANGE-REQUEST is malformed. Nothing from the network is trusted and memory use is
 * fixed: one 1536-byte receive buffer per responder.
 *
 * Threading: sockets are read, and answered, in the #GMainContext that was thread-default
 * when icecam_stun_responder_new() was called; that context must be iterated. Call listen and
 * drop the last reference in that context's thread; icecam_stun_responder_get_stats() may be
 * called from any thread. The responder emits no signals.
 */
struct _IcecamStunResponder {
  GObject parent_instance;

  GMainContext *context;
  IcecamStunResponderState state;
  gchar *log_id;

  Endpoint endpoints[N_ENDPOINTS];
  guint n_endpoints;

  GMutex stats_lock;
  IcecamStunResponderStats stats;

  guint8 buffer[RECEIVE_BUFFER_SIZE];
};

G_DEFINE_FINAL_TYPE (IcecamStunResponder, icecam_stun_responder, G_TYPE_OBJECT)

/* States only move forward: new, then listening, then closed. */
static void
set_state (IcecamStunResponder *self, IcecamStunResponderState state)
{
  static const gchar *const names[] = { "new", "listening", "closed" };

  if (self->state == state)
    return;
  g_return_if_fail (state > self->state);
  g_debug ("%s: %s -> %s", self->log_id, names[self->state], names[state]);
  self->state = state;
}

static void
count_outcome (IcecamStunResponder *self, Outcome outcome)
{
  g_mutex_lock (&self->stats_lock);
  self->stats.packets_received++;
  switch (outcome) {
  case OUTCOME_ANSWERED:
    self->stats.requests_answered++;
    break;
  case OUTCOME_ERROR_ANSWERED:
    self->stats.errors_answered++;
    break;
  case OUTCOME_IGNORED:
    self->stats.packets_ignored++;
    break;
  case OUTCOME_SEND_FAILED:
    self->stats.send_failures++;
    break;
  default:
    break;
  }
  g_mutex_unlock (&self->stats_lock);
}

static void
log_packet (IcecamStunResponder *self, Endpoint *endpoint, GSocketAddress *from,
            const gchar *what, const gchar *reason)
{
  g_autofree gchar *peer = NULL;

  if (g_log_writer_default_would_drop (G_LOG_LEVEL_DEBUG, G_LOG_DOMAIN))
    return;
  peer = from != NULL ? g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (from))
                      : g_strdup ("?");
  g_debug ("%s: socket %u: %s from %s: %s", self->log_id, endpoint->index, what, peer, reason);
}

static Endpoint *
reply_endpoint (IcecamStunResponder *self, Endpoint *received_on, const StunRequest *request)
{
  guint index = received_on->index;

  if (self->n_endpoints != N_ENDPOINTS || !request->has_change_request)
    return received_on;
  if (request->change_flags & STUN_CHANGE_IP)
    index ^= ENDPOINT_CHANGE_IP;
  if (request->change_flags & STUN_CHANGE_PORT)
    index ^= ENDPOINT_CHANGE_PORT;
  return &self->endpoints[index];
}

static void
send_answer (IcecamStunResponder *self, Endpoint *endpoint, GSocketAddress *to,
             const StunWriter *writer, Outcome outcome)
{
  g_autoptr(GError) error = NULL;

  if (writer->overflow) {
    g_warning ("%s: answer does not fit in %zu bytes", self->log_id, sizeof writer->data);
    count_outcome (self, OUTCOME_SEND_FAILED);
    return;
  }
  if (g_socket_send_to (endpoint->socket, to, (const gchar *) writer->data, writer->length,
                        NULL, &error) < 0) {
    log_packet (self, endpoint, to, "answer not sent", error->message);
    count_outcome (self, OUTCOME_SEND_FAILED);
    return;
  }
  count_outcome (self, outcome);
}

static void
answer_request (IcecamStunResponder *self, Endpoint *received_on, GSocketAddress *from,
                const StunAddress *mapped, const StunRequest *request, StunVerdict verdict)
{
  StunWriter writer;
  Endpoint *reply_from;

  if (verdict != STUN_VERDICT_SUCCESS) {
    log_packet (self, received_on, from, "request refused", request->reason);
    build_error (&writer, request, verdict);
    send_answer (self, received_on, from, &writer, OUTCOME_ERROR_ANSWERED);
    return;
  }

  reply_from = reply_endpoint (self, received_on, request);
  /* OTHER-ADDRESS is where "change IP and port" would answer from: relative to the socket the
   * request reached, whatever this request asked for (RFC 5780 section 7.4). */
  if (self->n_endpoints == N_ENDPOINTS)
    build_success (&writer, request, mapped, &reply_from->wire_address,
                   &self->endpoints[received_on->index ^ (ENDPOINT_CHANGE_IP |
                                                         ENDPOINT_CHANGE_PORT)].wire_address);
  else
    build_success (&writer, request, mapped, NULL, NULL);
  send_answer (self, reply_from, from, &writer, OUTCOME_ANSWERED);
}

static void
handle_datagram (IcecamStunResponder *self, Endpoint *endpoint, GSocketAddress *from,
                 gsize length)
{
  StunRequest request = { 0 };
  StunAddress mapped = { 0 };
  StunVerdict verdict;

  if (length >= sizeof self->buffer)
    verdict = refuse (&request, STUN_VERDICT_IGNORE, "datagram too large");
  else if (!G_IS_INET_SOCKET_ADDRESS (from) ||
           !stun_address_from_socket_address (G_INET_SOCKET_ADDRESS (from), &mapped))
    verdict = refuse (&request, STUN_VERDICT_IGNORE, "source is not an IP address");
  else
    verdict = parse_request (self->buffer, length, self->n_endpoints == N_ENDPOINTS, &request);

  if (verdict == STUN_VERDICT_IGNORE) {
    log_packet (self, endpoint, from, "datagram ignored", request.reason);
    count_outcome (self, OUTCOME_IGNORED);
    return;
  }
  answer_request (self, endpoint, from, &mapped, &request, verdict);
}

/* Returns FALSE when there is nothing more to read for now. */
static gboolean
receive_one (Endpoint *endpoint)
{
  IcecamStunResponder *self = endpoint->responder;
  g_autoptr(GSocketAddress) from = NULL;
  g_autoptr(GError) error = NULL;
  gssize received;

  received = g_socket_receive_from (endpoint->socket, &from, (gchar *) self->buffer,
                                    sizeof self->buffer, NULL, &error);
  if (received < 0) {
    if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      g_debug ("%s: socket %u: receive failed: %s", self->log_id, endpoint->index,
               error->message);
    return FALSE;
  }
  handle_datagram (self, endpoint, from, (gsize) received);
  return TRUE;
}

static gboolean
on_socket_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Endpoint *endpoint = user_data;

  for (guint i = 0; i < MAX_PACKETS_PER_DISPATCH; i++) {
    if (!receive_one (endpoint))
      break;
  }
  return G_SOURCE_CONTINUE;
}

static void
endpoint_close (Endpoint *endpoint)
{
  if (endpoint->source != NULL) {
    g_source_destroy (endpoint->source);
    g_clear_pointer (&endpoint->source, g_source_unref);
  }
  if (endpoint->socket != NULL) {
    g_socket_close (endpoint->socket, NULL);
    g_clear_object (&endpoint->socket);
  }
  g_clear_object (&endpoint->local_address);
  memset (endpoint, 0, sizeof *endpoint);
}

static void
close_endpoints (IcecamStunResponder *self)
{
  for (guint i = 0; i < N_ENDPOINTS; i++)
    endpoint_close (&self->endpoints[i]);
  self->n_endpoints = 0;
}

static gboolean
endpoint_open (IcecamStunResponder *self, guint index, GInetAddress *ip, guint16 port,
               GError **error)
{
  Endpoint *endpoint = &self->endpoints[index];
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) bind_address = g_inet_socket_address_new (ip, port);
  g_autoptr(GSocketAddress) local = NULL;

  socket = g_socket_new (g_inet_address_get_family (ip), G_SOCKET_TYPE_DATAGRAM,
                         G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL)
    return FALSE;
  g_socket_set_blocking (socket, FALSE);
  /* No address reuse: on UDP that would let a second server share the port silently. */
  if (!g_socket_bind (socket, bind_address, FALSE, error))
    return FALSE;
  local = g_socket_get_local_address (socket, error);
  if (local == NULL)
    return FALSE;
  if (!stun_address_from_socket_address (G_INET_SOCKET_ADDRESS (local),
                                         &endpoint->wire_address)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "Not an IP socket");
    return FALSE;
  }

  endpoint->responder = self;
  endpoint->index = index;
  endpoint->socket = g_steal_pointer (&socket);
  endpoint->local_address = G_INET_SOCKET_ADDRESS (g_steal_pointer (&local));
  return TRUE;
}

static guint16
endpoint_port (const Endpoint *endpoint)
{
  return g_inet_socket_address_get_port (endpoint->local_address);
}

static gchar *
describe_address (GInetSocketAddress *address)
{
  return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
}

static void
start (IcecamStunResponder *self, guint n_endpoints)
{
  g_autofree gchar *primary = describe_address (self->endpoints[0].local_address);

  self->n_endpoints = n_endpoints;
  g_free (self->log_id);
  self->log_id = g_strdup_printf ("stun-responder %s", primary);

  for (guint i = 0; i < n_endpoints; i++) {
    Endpoint *endpoint = &self->endpoints[i];

    endpoint->source = g_socket_create_source (endpoint->socket, G_IO_IN, NULL);
    g_source_set_callback (endpoint->source, G_SOURCE_FUNC (on_socket_readable), endpoint, NULL);
    g_source_set_static_name (endpoint->source, "icecam-stun-responder");
    g_source_attach (endpoint->source, self->context);
  }

  set_state (self, STATE_LISTENING);
  if (n_endpoints == N_ENDPOINTS) {
    g_autofree gchar *other = describe_address (self->endpoints[N_ENDPOINTS - 1].local_address);

    g_info ("%s: listening, RFC 5780 alternate %s", self->log_id, other);
  } else {
    g_info ("%s: listening", self->log_id);
  }
}

/**
 * icecam_stun_responder_new:
 *
 * Creates a responder that will run in the thread-default #GMainContext of the caller.
 *
 * Returns: (transfer full): a responder that does not listen yet
 */
IcecamStunResponder *
icecam_stun_responder_new (void)
{
  return g_object_new (ICECAM_TYPE_STUN_RESPONDER, NULL);
}

/**
 * icecam_stun_responder_listen:
 * @self: a responder that does not listen yet
 * @address: the local address to bind; port 0 picks a free port (see
 *   icecam_stun_responder_get_port()). An IPv6 wildcard also serves IPv4 where the system
 *   allows dual-stack sockets.
 * @error: return location for a #GIOErrorEnum error, such as %G_IO_ERROR_ADDRESS_IN_USE
 *
 * Binds one UDP socket and starts answering Binding requests in the responder's context.
 * On failure the responder is left as it was and may be asked to listen again.
 *
 * Returns: %TRUE if listening, %FALSE with @error set otherwise
 */
gboolean
icecam_stun_responder_listen (IcecamStunResponder *self, GInetSocketAddress *address,
                              GError **error)
{
  g_autofree gchar *wanted = NULL;

  g_return_val_if_fail (ICECAM_IS_STUN_RESPONDER (self), FALSE);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (address), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  g_return_val_if_fail (self->state == STATE_NEW, FALSE);

  if (!endpoint_open (self, 0, g_inet_socket_address_get_address (address),
                      g_inet_socket_address_get_port (address), error)) {
    close_endpoints (self);
    wanted = describe_address (address);
    g_prefix_error (error, "Cannot listen for STUN on %s: ", wanted);
    return FALSE;
  }
  start (self, 1);
  return TRUE;
}

/* Returns why the pair cannot serve RFC 5780, or NULL if it can. */
static const gchar *
rfc5780_addresses_problem (GInetSocketAddress *primary, GInetSocketAddress *alternate)
{
  GInetAddress *primary_ip = g_inet_socket_address_get_address (primary);
  GInetAddress *alternate_ip = g_inet_socket_address_get_address (alternate);
  guint16 primary_port = g_inet_socket_address_get_port (primary);

  if (g_inet_address_get_family (primary_ip) != g_inet_address_get_family (alternate_ip))
    return "two addresses of the same family";
  if (g_inet_address_get_is_any (primary_ip) || g_inet_address_get_is_any (alternate_ip))
    return "specific addresses, not a wildcard";
  if (g_inet_address_equal (primary_ip, alternate_ip))
    return "two different IP addresses";
  if (primary_port != 0 && primary_port == g_inet_socket_address_get_port (alternate))
    return "two different ports";
  return NULL;
}

/* The order lets port 0 work: the primary port is learnt first and taken on the alternate IP,
 * so the alternate port picked next cannot equal it. */
static gboolean
open_rfc5780_endpoints (IcecamStunResponder *self, GInetSocketAddress *primary,
                        GInetSocketAddress *alternate, GError **error)
{
  GInetAddress *primary_ip = g_inet_socket_address_get_address (primary);
  GInetAddress *alternate_ip = g_inet_socket_address_get_address (alternate);
  guint16 port = g_inet_socket_address_get_port (primary);
  guint16 alternate_port = g_inet_socket_address_get_port (alternate);

  if (!endpoint_open (self, 0, primary_ip, port, error))
    return FALSE;
  port = endpoint_port (&self->endpoints[0]);
  if (!endpoint_open (self, ENDPOINT_CHANGE_IP, alternate_ip, port, error))
    return FALSE;
  if (!endpoint_open (self, ENDPOINT_CHANGE_IP | ENDPOINT_CHANGE_PORT, alternate_ip,
                      alternate_port, error))
    return FALSE;
  alternate_port = endpoint_port (&self->endpoints[ENDPOINT_CHANGE_IP | ENDPOINT_CHANGE_PORT]);
  return endpoint_open (self, ENDPOINT_CHANGE_PORT, primary_ip, alternate_port, error);
}

/**
 * icecam_stun_responder_listen_rfc5780:
 * @self: a responder that does not listen yet
 * @primary: the primary address and port; port 0 picks a free one
 * @alternate: the alternate address, of the same family, and the alternate port; port 0
 *   picks a free one
 * @error: return location for a #GIOErrorEnum error: %G_IO_ERROR_INVALID_ARGUMENT for
 *   unusable addresses, or the bind error
 *
 * Binds four UDP sockets, primary IP × {primary port, alternate port} and alternate IP ×
 * {primary port, alternate port}, and answers on all of them. A CHANGE-REQUEST is honoured
 * by answering from the socket that differs in IP and/or port from the one that received the
 * request; answers carry RESPONSE-ORIGIN (the socket answering) and OTHER-ADDRESS (the socket
 * differing in both from the receiving one). Both addresses must be specific (not wildcards)
 * and different. On failure the responder is left as it was.
 *
 * Returns: %TRUE if listening, %FALSE with @error set otherwise
 */
gboolean
icecam_stun_responder_listen_rfc5780 (IcecamStunResponder *self, GInetSocketAddress *primary,
                                      GInetSocketAddress *alternate, GError **error)
{
  const gchar *problem;
  gboolean ephemeral;

  g_return_val_if_fail (ICECAM_IS_STUN_RESPONDER (self), FALSE);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (primary), FALSE);
  g_return_val_if_fail (G_IS_INET_SOCKET_ADDRESS (alternate), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);
  g_return_val_if_fail (self->state == STATE_NEW, FALSE);

  problem = rfc5780_addresses_problem (primary, alternate);
  if (problem != NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "RFC 5780 needs %s", problem);
    return FALSE;
  }

  ephemeral = g_inet_socket_address_get_port (primary) == 0 ||
              g_inet_socket_address_get_port (alternate) == 0;
  for (guint attempt = 1;; attempt++) {
    g_autoptr(GError) local_error = NULL;

    if (open_rfc5780_endpoints (self, primary, alternate, &local_error))
      break;
    close_endpoints (self);
    if (!ephemeral || attempt == MAX_BIND_ATTEMPTS ||
        !g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE)) {
      g_autofree gchar *wanted = describe_address (primary);

      g_propagate_prefixed_error (error, g_steal_pointer (&local_error),
                                  "Cannot listen for STUN (RFC 5780) on %s: ", wanted);
      return FALSE;
    }
  }
  start (self, N_ENDPOINTS);
  return TRUE;
}

/**
 * icecam_stun_responder_get_port:
 * @self: a responder
 *
 * Returns: the primary UDP port, or 0 if not listening
 */
guint16
icecam_stun_responder_get_port (IcecamStunResponder *self)
{
  g_return_val_if_fail (ICECAM_IS_STUN_RESPONDER (self), 0);

  if (self->n_endpoints == 0)
    return 0;
  return endpoint_port (&self->endpoints[0]);
}

/**
 * icecam_stun_responder_get_local_address:
 * @self: a responder
 * @change_ip: %TRUE for a socket on the alternate IP
 * @change_port: %TRUE for a socket on the alternate port
 *
 * The address a client sees answers come from when it asks for @change_ip and @change_port
 * in a request sent to the primary address. Both %FALSE gives the primary address, the
 * only one without RFC 5780; both %TRUE gives the OTHER-ADDRESS sent to such a client.
 *
 * Returns: (transfer full) (nullable): the bound address, or %NULL if not listening or if the
 *   socket does not exist
 */
GInetSocketAddress *
icecam_stun_responder_get_local_address (IcecamStunResponder *self, gboolean change_ip,
                                         gboolean change_port)
{
  guint index = (change_ip ? ENDPOINT_CHANGE_IP : 0) | (change_port ? ENDPOINT_CHANGE_PORT : 0);

  g_return_val_if_fail (ICECAM_IS_STUN_RESPONDER (self), NULL);

  if (index >= self->n_endpoints)
    return NULL;
  return g_object_ref (self->endpoints[index].local_address);
}

/**
 * icecam_stun_responder_get_stats:
 * @self: a responder
 * @stats: (out caller-allocates): where to copy the counters
 *
 * Copies the counters. Safe to call from any thread.
 */
void
icecam_stun_responder_get_stats (IcecamStunResponder *self, IcecamStunResponderStats *stats)
{
  g_return_if_fail (ICECAM_IS_STUN_RESPONDER (self));
  g_return_if_fail (stats != NULL);

  g_mutex_lock (&self->stats_lock);
  *stats = self->stats;
  g_mutex_unlock (&self->stats_lock);
}

static void
icecam_stun_responder_dispose (GObject *object)
{
  IcecamStunResponder *self = ICECAM_STUN_RESPONDER (object);

  close_endpoints (self);
  set_state (self, STATE_CLOSED);

  G_OBJECT_CLASS (icecam_stun_responder_parent_class)->dispose (object);
}

static void
icecam_stun_responder_finalize (GObject *object)
{
  IcecamStunResponder *self = ICECAM_STUN_RESPONDER (object);

  g_main_context_unref (self->context);
  g_mutex_clear (&self->stats_lock);
  g_free (self->log_id);

  G_OBJECT_CLASS (icecam_stun_responder_parent_class)->finalize (object);
}

static void
icecam_stun_responder_class_init (IcecamStunResponderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_stun_responder_dispose;
  object_class->finalize = icecam_stun_responder_finalize;
}

static void
icecam_stun_responder_init (IcecamStunResponder *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->log_id = g_strdup ("stun-responder (not listening)");
  g_mutex_init (&self->stats_lock);
}
