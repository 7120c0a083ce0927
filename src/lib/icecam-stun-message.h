/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* STUN Binding messages (RFC 8489, RFC 3489 peers, RFC 5780 attributes) as bytes: no I/O. */

#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * ICECAM_STUN_MAGIC_COOKIE:
 *
 * The 32 bits after the length field of every RFC 8489 message; RFC 3489 messages have the
 * first bits of their 128-bit transaction ID there instead.
 */
#define ICECAM_STUN_MAGIC_COOKIE 0x2112A442u

/**
 * ICECAM_STUN_TRANSACTION_ID_LENGTH:
 *
 * The bytes of a transaction ID after the magic cookie (RFC 8489 section 5).
 */
#define ICECAM_STUN_TRANSACTION_ID_LENGTH 12

/**
 * ICECAM_STUN_MAX_UNKNOWN_ATTRIBUTES:
 *
 * How many unknown attribute types a parsed request remembers for its 420 answer.
 */
#define ICECAM_STUN_MAX_UNKNOWN_ATTRIBUTES 16

/**
 * ICECAM_STUN_MESSAGE_BUFFER_SIZE:
 *
 * A buffer of this size holds any message the write functions produce: the largest, an IPv6
 * RFC 5780 success response, is 112 bytes.
 */
#define ICECAM_STUN_MESSAGE_BUFFER_SIZE 256

/**
 * ICECAM_STUN_CHANGE_IP:
 *
 * CHANGE-REQUEST flag (RFC 5780 section 7.2): answer from the alternate IP address.
 */
#define ICECAM_STUN_CHANGE_IP 0x04u

/**
 * ICECAM_STUN_CHANGE_PORT:
 *
 * CHANGE-REQUEST flag (RFC 5780 section 7.2): answer from the alternate port.
 */
#define ICECAM_STUN_CHANGE_PORT 0x02u

#define ICECAM_STUN_MESSAGE_ERROR (icecam_stun_message_error_quark ())
GQuark icecam_stun_message_error_quark (void);

/**
 * IcecamStunMessageError:
 * @ICECAM_STUN_MESSAGE_ERROR_MALFORMED: not STUN, lengths that do not add up, an attribute
 *   overrunning the message, or a response attribute icecam reads that cannot be decoded
 * @ICECAM_STUN_MESSAGE_ERROR_FINGERPRINT: FINGERPRINT is wrong, malformed or not last
 * @ICECAM_STUN_MESSAGE_ERROR_UNEXPECTED: well-formed STUN, but not the class or method asked
 *   for (a response where a Binding request was expected, an Allocate request...)
 * @ICECAM_STUN_MESSAGE_ERROR_UNKNOWN_ATTRIBUTE: a response carries a comprehension-required
 *   attribute icecam does not know, so the transaction failed (RFC 8489 section 6.3.3)
 * @ICECAM_STUN_MESSAGE_ERROR_NO_SPACE: the output buffer is too small
 *
 * Why bytes could not be read as, or written to, a STUN message.
 */
typedef enum {
  ICECAM_STUN_MESSAGE_ERROR_MALFORMED,
  ICECAM_STUN_MESSAGE_ERROR_FINGERPRINT,
  ICECAM_STUN_MESSAGE_ERROR_UNEXPECTED,
  ICECAM_STUN_MESSAGE_ERROR_UNKNOWN_ATTRIBUTE,
  ICECAM_STUN_MESSAGE_ERROR_NO_SPACE,
} IcecamStunMessageError;

/**
 * IcecamStunFamily:
 * @ICECAM_STUN_FAMILY_IPV4: a 4-byte address
 * @ICECAM_STUN_FAMILY_IPV6: a 16-byte address
 *
 * Address families, with their wire values.
 */
typedef enum {
  ICECAM_STUN_FAMILY_IPV4 = 0x01,
  ICECAM_STUN_FAMILY_IPV6 = 0x02,
} IcecamStunFamily;

/**
 * IcecamStunAddress:
 * @family: which of the two families; its size decides how much of @address is used
 * @port: the UDP port, host order
 * @address: the IP address, network order; 4 bytes for IPv4, 16 for IPv6
 *
 * A transport address as STUN address attributes carry it.
 */
typedef struct {
  IcecamStunFamily family;
  guint16 port;
  guint8 address[16];
} IcecamStunAddress;

/**
 * IcecamStunRequest:
 * @cookie: %ICECAM_STUN_MAGIC_COOKIE for an RFC 8489 request; otherwise the request is
 *   RFC 3489 and these are the first 4 bytes of its transaction ID
 * @transaction_id: the rest of the transaction ID, echoed in the answer
 * @has_change_request: a CHANGE-REQUEST was honoured (only with change_request_supported)
 * @change_flags: its %ICECAM_STUN_CHANGE_IP and %ICECAM_STUN_CHANGE_PORT bits
 * @error_code: 0 if the request deserves a success answer; 400 (a malformed CHANGE-REQUEST
 *   or RESPONSE-PORT) or 420 (unknown comprehension-required attributes) if it deserves that
 *   error answer
 * @error_reason: (nullable): why, in words for logs, when @error_code is not 0; static
 * @unknown_attributes: the types answered in UNKNOWN-ATTRIBUTES with a 420, in message order
 * @n_unknown_attributes: how many of @unknown_attributes are used
 * @has_response_port: a RESPONSE-PORT was understood (only with change_request_supported)
 * @response_port: its port: the answer goes to the request's source IP at this port
 *
 * What a STUN responder reads from a Binding request.
 */
typedef struct {
  guint32 cookie;
  guint8 transaction_id[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  gboolean has_change_request;
  guint32 change_flags;
  guint error_code;
  const gchar *error_reason;
  guint16 unknown_attributes[ICECAM_STUN_MAX_UNKNOWN_ATTRIBUTES];
  guint n_unknown_attributes;
  gboolean has_response_port;
  guint16 response_port;
} IcecamStunRequest;

/**
 * IcecamStunResponse:
 * @cookie: %ICECAM_STUN_MAGIC_COOKIE unless the response is RFC 3489's (see #IcecamStunRequest)
 * @transaction_id: the transaction ID, to match with the request's
 * @is_error: an error response (then @error_code is set) rather than a success response
 * @error_code: the ERROR-CODE, 300 to 699, of an error response; 0 in a success response
 * @has_fingerprint: whether a FINGERPRINT was present (it was checked if so)
 * @has_mapped_address: whether @mapped_address is set
 * @mapped_address: the client's address as the server saw it: XOR-MAPPED-ADDRESS, or
 *   MAPPED-ADDRESS if there is none
 * @has_response_origin: whether @response_origin is set
 * @response_origin: where the response was sent from: RESPONSE-ORIGIN, or RFC 3489's
 *   SOURCE-ADDRESS if there is none
 * @has_other_address: whether @other_address is set
 * @other_address: the server's address differing in IP and port (RFC 5780): OTHER-ADDRESS,
 *   or RFC 3489's CHANGED-ADDRESS if there is none
 *
 * What a NAT-probing client reads from a Binding response.
 */
typedef struct {
  guint32 cookie;
  guint8 transaction_id[ICECAM_STUN_TRANSACTION_ID_LENGTH];
  gboolean is_error;
  guint error_code;
  gboolean has_fingerprint;
  gboolean has_mapped_address;
  IcecamStunAddress mapped_address;
  gboolean has_response_origin;
  IcecamStunAddress response_origin;
  gboolean has_other_address;
  IcecamStunAddress other_address;
} IcecamStunResponse;

gboolean icecam_stun_address_from_socket_address (GInetSocketAddress *socket_address,
                                                  IcecamStunAddress *address);
GInetSocketAddress *icecam_stun_address_to_socket_address (const IcecamStunAddress *address);

gboolean icecam_stun_message_parse_request (const guint8 *data, gsize length,
                                            gboolean change_request_supported,
                                            IcecamStunRequest *request, GError **error);
gsize icecam_stun_message_write_success (const IcecamStunRequest *request,
                                         const IcecamStunAddress *mapped,
                                         const IcecamStunAddress *origin,
                                         const IcecamStunAddress *other, guint8 *buffer,
                                         gsize size, GError **error);
gsize icecam_stun_message_write_error (const IcecamStunRequest *request, guint8 *buffer,
                                       gsize size, GError **error);

gsize icecam_stun_message_write_binding_request (
  const guint8 transaction_id[ICECAM_STUN_TRANSACTION_ID_LENGTH], gboolean change_request,
  guint32 change_flags, guint8 *buffer, gsize size, GError **error);
gsize icecam_stun_message_write_response_port_request (
  const guint8 transaction_id[ICECAM_STUN_TRANSACTION_ID_LENGTH], guint16 response_port,
  guint8 *buffer, gsize size, GError **error);
gboolean icecam_stun_message_parse_response (const guint8 *data, gsize length,
                                             IcecamStunResponse *response, GError **error);

G_END_DECLS
