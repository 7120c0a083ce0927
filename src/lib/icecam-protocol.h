/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The icecam signalling messages as typed values, and their JSON form (docs/protocol.md). */

#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * ICECAM_PROTOCOL_VERSION:
 *
 * The protocol version this build speaks; sent in `hello` and `welcome`.
 */
#define ICECAM_PROTOCOL_VERSION 1

/* Limits applied by the parser; a message over them is refused with an error. */
#define ICECAM_PROTOCOL_MAX_MESSAGE_SIZE (64 * 1024)
#define ICECAM_PROTOCOL_MAX_ID_LENGTH 64
#define ICECAM_PROTOCOL_MAX_SDP_LENGTH (32 * 1024)
#define ICECAM_PROTOCOL_MAX_CANDIDATE_LENGTH 512
#define ICECAM_PROTOCOL_MAX_TEXT_LENGTH 512
#define ICECAM_PROTOCOL_MAX_TOKEN_LENGTH 4096
#define ICECAM_PROTOCOL_MAX_LIST_LENGTH 4096
#define ICECAM_PROTOCOL_MAX_ICE_SERVERS 8
#define ICECAM_PROTOCOL_MAX_FEATURES 16
#define ICECAM_PROTOCOL_MAX_FEATURE_LENGTH 32
/* dtls's "data": one DTLS datagram of at most 2048 bytes, in base64. */
#define ICECAM_PROTOCOL_MAX_DATA_LENGTH 2732
/* punch's "step": a counting NAT's port step, at most this far either way. */
#define ICECAM_PROTOCOL_MAX_PORT_STEP 32

/**
 * ICECAM_PROTOCOL_CLOSE_REPLACED:
 *
 * The WebSocket close code (RFC 6455 section 7.4.2, private range) of a connection whose client
 * took its place on a new connection with its `resume` secret or its proof.
 */
#define ICECAM_PROTOCOL_CLOSE_REPLACED 4001
#define ICECAM_PROTOCOL_CLOSE_REPLACED_REASON "replaced by a new connection of the same client"

/* The `bye` reason the server sends when the other end's signalling connection closed. */
#define ICECAM_BYE_REASON_PEER_LEFT "peer-left"

/**
 * IcecamByeCode:
 * @ICECAM_BYE_CODE_NONE: no code, or one this version does not know (decide on nothing)
 * @ICECAM_BYE_CODE_PEER_LEFT: "peer-left": the server says the other end's signalling
 *   connection closed; its media path may still work
 * @ICECAM_BYE_CODE_CLOSED: "closed": the other end ended the session on purpose
 * @ICECAM_BYE_CODE_FULL: "full": the camera serves as many viewers as it will
 * @ICECAM_BYE_CODE_FAILED: "failed": no ICE pair, DTLS failed, a restart gave up
 * @ICECAM_BYE_CODE_REFUSED: "refused": the other end refused this one's description
 *   (unusable SDP, a fingerprint other than the pinned one)
 *
 * What a `bye` means, for code to decide on; `reason` stays free text for people.
 */
typedef enum {
  ICECAM_BYE_CODE_NONE,
  ICECAM_BYE_CODE_PEER_LEFT,
  ICECAM_BYE_CODE_CLOSED,
  ICECAM_BYE_CODE_FULL,
  ICECAM_BYE_CODE_FAILED,
  ICECAM_BYE_CODE_REFUSED,
} IcecamByeCode;

#define ICECAM_PROTOCOL_ERROR (icecam_protocol_error_quark ())
GQuark icecam_protocol_error_quark (void);

/**
 * IcecamProtocolError:
 * @ICECAM_PROTOCOL_ERROR_MALFORMED: not JSON, not an object, or a field of the wrong kind
 * @ICECAM_PROTOCOL_ERROR_TOO_LARGE: the message, or one of its fields, is over a limit
 * @ICECAM_PROTOCOL_ERROR_UNKNOWN_TYPE: the "type" names no message this version knows
 * @ICECAM_PROTOCOL_ERROR_MISSING_FIELD: a field the type requires is absent
 * @ICECAM_PROTOCOL_ERROR_INVALID_FIELD: a field is present but its value is not allowed
 * @ICECAM_PROTOCOL_ERROR_VERSION: the peer speaks a protocol version this build does not
 *
 * Why a text could not be parsed. Each code has a wire name (see
 * icecam_protocol_error_code_to_string()) used in `error` messages.
 */
typedef enum {
  ICECAM_PROTOCOL_ERROR_MALFORMED,
  ICECAM_PROTOCOL_ERROR_TOO_LARGE,
  ICECAM_PROTOCOL_ERROR_UNKNOWN_TYPE,
  ICECAM_PROTOCOL_ERROR_MISSING_FIELD,
  ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
  ICECAM_PROTOCOL_ERROR_VERSION,
} IcecamProtocolError;

/**
 * IcecamMessageType:
 *
 * One value per message of docs/protocol.md. Wire names are in parentheses.
 */
typedef enum {
  ICECAM_MESSAGE_HELLO,             /* "hello": client → server, first message */
  ICECAM_MESSAGE_WELCOME,           /* "welcome": server → client, answer to hello */
  ICECAM_MESSAGE_PRESENCE,          /* "presence": server → viewer, cameras online */
  ICECAM_MESSAGE_WATCH,             /* "watch": viewer → server, start a session with a camera */
  ICECAM_MESSAGE_SESSION,           /* "session": server → camera and viewer, a session exists */
  ICECAM_MESSAGE_OFFER,             /* "offer": camera → viewer (relayed), SDP */
  ICECAM_MESSAGE_ANSWER,            /* "answer": viewer → camera (relayed), SDP */
  ICECAM_MESSAGE_CANDIDATE,         /* "candidate": either way (relayed), one trickled candidate */
  ICECAM_MESSAGE_END_OF_CANDIDATES, /* "end-of-candidates": either way (relayed) */
  ICECAM_MESSAGE_BYE,               /* "bye": either way (relayed, or from the server), session over */
  ICECAM_MESSAGE_ERROR,             /* "error": server → client (or client → server) */
  ICECAM_MESSAGE_CHALLENGE,         /* "challenge": server → client, first, a nonce to prove with */
  ICECAM_MESSAGE_PING,              /* "ping": either way, to a peer that listed "ping" in features */
  ICECAM_MESSAGE_PONG,              /* "pong": either way, the answer to ping */
  ICECAM_MESSAGE_RESTART,           /* "restart": viewer → camera (relayed), restart ICE please */
  ICECAM_MESSAGE_ICE_SERVERS,       /* "ice-servers": server → camera and viewer, fresh relay
                                     * credentials for a session */
  ICECAM_MESSAGE_PUNCH,             /* "punch": either way (relayed), birthday punching: the
                                     * sender's mapping and the probes' token */
  ICECAM_MESSAGE_DTLS,              /* "dtls": either way (relayed), one DTLS handshake datagram
                                     * sent before the session has an ICE pair */
} IcecamMessageType;

/**
 * IcecamFeatures:
 * @ICECAM_FEATURE_NONE: only the messages of the first release of version 1
 * @ICECAM_FEATURE_PING: "ping": understands `ping` and `pong` and answers a `ping` at once
 * @ICECAM_FEATURE_RESTART: "restart": the server relays `restart`; a camera acts on it
 * @ICECAM_FEATURE_ICE_SERVERS: "ice-servers": the server renews a session's relay credentials
 *   with `ice-servers` before they expire; a client uses them for the session's next transport
 * @ICECAM_FEATURE_PUNCH: "punch": the server relays `punch` to a client that listed it; a
 *   client takes part in birthday punching
 * @ICECAM_FEATURE_DTLS: "dtls": the server relays `dtls` to a client that listed it; a client
 *   takes DTLS handshake datagrams from it (when its description offered them)
 *
 * The `features` of `hello` and `welcome`: message types added to version 1 that the sender
 * understands. Nobody sends such a message to a peer that did not list it, so peers written
 * before it was added never see it. Names this build does not know are ignored.
 */
typedef enum {
  ICECAM_FEATURE_NONE = 0,
  ICECAM_FEATURE_PING = 1 << 0,
  ICECAM_FEATURE_RESTART = 1 << 1,
  ICECAM_FEATURE_ICE_SERVERS = 1 << 2,
  ICECAM_FEATURE_PUNCH = 1 << 3,
  ICECAM_FEATURE_DTLS = 1 << 4,
} IcecamFeatures;

/**
 * IcecamRole:
 *
 * What a client is ("camera" or "viewer" on the wire).
 */
typedef enum {
  ICECAM_ROLE_NONE,
  ICECAM_ROLE_CAMERA,
  ICECAM_ROLE_VIEWER,
} IcecamRole;

/**
 * IcecamErrorCode:
 *
 * The `code` of an `error` message. Wire names: "malformed", "too-large", "unknown-type",
 * "missing-field", "invalid-field", "version", "not-ready", "unknown-camera",
 * "unknown-session", "id-in-use", "not-allowed", "internal", "unauthorized", "limit-exceeded".
 */
typedef enum {
  ICECAM_ERROR_CODE_MALFORMED,
  ICECAM_ERROR_CODE_TOO_LARGE,
  ICECAM_ERROR_CODE_UNKNOWN_TYPE,
  ICECAM_ERROR_CODE_MISSING_FIELD,
  ICECAM_ERROR_CODE_INVALID_FIELD,
  ICECAM_ERROR_CODE_VERSION,
  ICECAM_ERROR_CODE_NOT_READY,      /* a message other than hello before hello */
  ICECAM_ERROR_CODE_UNKNOWN_CAMERA, /* watch for a camera that is not online */
  ICECAM_ERROR_CODE_UNKNOWN_SESSION,/* a session id this client is not part of */
  ICECAM_ERROR_CODE_ID_IN_USE,      /* hello from a camera whose id is already online */
  ICECAM_ERROR_CODE_NOT_ALLOWED,    /* the role may not send this message */
  ICECAM_ERROR_CODE_INTERNAL,
  ICECAM_ERROR_CODE_UNAUTHORIZED,   /* missing, forged or expired camera proof or viewer token */
  ICECAM_ERROR_CODE_LIMIT_EXCEEDED, /* over a server limit: sessions, message rate, connections */
} IcecamErrorCode;

/**
 * IcecamIceServer:
 * @urls: (array zero-terminated=1): e.g. "stun:198.51.100.1:3478", "turn:host:3478?transport=udp"
 * @username: (nullable): TURN username
 * @credential: (nullable): TURN password
 *
 * One entry of `welcome.ice_servers`, shaped like the WebRTC RTCIceServer.
 */
typedef struct {
  gchar **urls;
  gchar *username;
  gchar *credential;
} IcecamIceServer;

IcecamIceServer *icecam_ice_server_new (const gchar * const *urls, const gchar *username,
                                        const gchar *credential);
IcecamIceServer *icecam_ice_server_copy (const IcecamIceServer *server);
void icecam_ice_server_free (IcecamIceServer *server);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamIceServer, icecam_ice_server_free)

/**
 * IcecamMessage:
 * @type: which message this is; decides which other fields are meaningful
 * @version: hello, welcome: protocol version
 * @role: hello: what the client is; session: the role of the receiver
 * @id: hello: the camera's id (required for cameras, optional name for viewers);
 *   welcome: the id the server assigned to (or accepted for) this client
 * @camera: watch, session: camera id
 * @peer: session: the id of the other end (sent to the camera: the viewer's id)
 * @session: session, offer, answer, candidate, end-of-candidates, bye; error: optional
 * @sdp: offer, answer
 * @candidate: candidate: one "candidate:..." attribute value (RFC 8839), no "a=" prefix
 * @reason: bye: optional free text
 * @error_code: error: what went wrong
 * @text: error: human-readable explanation
 * @address: welcome: "ip:port" the server sees the client at
 * @ice_servers: (element-type IcecamIceServer): welcome: servers to use
 * @cameras: (array zero-terminated=1): presence: ids of the cameras online for this viewer
 * @nonce: challenge: random text the camera's proof covers
 * @proof: hello (camera): icecam_camera_proof() of its secret over the challenge's nonce
 * @token: hello (viewer): a grant minted by the rendezvous (icecam_token_mint())
 * @resume: welcome: a secret with which a later connection of this client takes the place of
 *   this one; hello: the secret of the client's latest welcome, to get its id and sessions back
 * @region: hello: the client's region hint, matched to the relays' region tags
 * @resumed: welcome: the client took the place of an earlier connection and its sessions kept
 *   their ids (the server sends `true` only)
 * @features: hello, welcome: the later additions to version 1 the sender understands
 * @mapping: punch: the sender's NAT, "random" (symmetric, random ports) or "cone"
 *   (endpoint-independent mapping); also uses @session, @token (the probes' token, 32 hex
 *   digits) and @address (random: the sender's public "ip:port", its port meaningless;
 *   cone: the server-reflexive "ip:port" of the socket it punches from); "sequential"
 *   (a counting symmetric NAT: @address is the punching socket's mapping, @port_step the step)
 * @port_step: punch (sequential): the step by which the sender's NAT counts its ports, ±1 to
 *   ±32 (0: absent)
 * @data: dtls: one DTLS datagram in base64 (RFC 4648 section 4), at most
 *   %ICECAM_PROTOCOL_MAX_DATA_LENGTH characters
 *
 * A signalling message. One flat struct: parse fills, and build reads, only the fields
 * of @type; the others stay NULL/0.
 */
typedef struct {
  IcecamMessageType type;
  guint version;
  IcecamRole role;
  gchar *id;
  gchar *camera;
  gchar *peer;
  gchar *session;
  gchar *sdp;
  gchar *candidate;
  gchar *reason;
  IcecamErrorCode error_code;
  IcecamByeCode bye_code;
  gchar *text;
  gchar *address;
  GPtrArray *ice_servers;
  gchar **cameras;
  gchar *nonce;
  gchar *proof;
  gchar *token;
  gchar *resume;
  gboolean resumed;
  gchar *region;
  IcecamFeatures features;
  gchar *mapping;
  gint port_step;
  gchar *data;
} IcecamMessage;

#define ICECAM_TYPE_MESSAGE (icecam_message_get_type ())
GType icecam_message_get_type (void);

IcecamMessage *icecam_message_new (IcecamMessageType type);
IcecamMessage *icecam_message_copy (const IcecamMessage *msg);
void icecam_message_free (IcecamMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcecamMessage, icecam_message_free)

/* Constructors for each message; strings are copied. */
IcecamMessage *icecam_message_new_hello (IcecamRole role, const gchar *id);
IcecamMessage *icecam_message_new_welcome (const gchar *id, const gchar *address,
                                           GPtrArray *ice_servers);
IcecamMessage *icecam_message_new_presence (const gchar * const *cameras);
IcecamMessage *icecam_message_new_watch (const gchar *camera);
IcecamMessage *icecam_message_new_session (const gchar *session, const gchar *camera,
                                           const gchar *peer, IcecamRole role);
IcecamMessage *icecam_message_new_offer (const gchar *session, const gchar *sdp);
IcecamMessage *icecam_message_new_answer (const gchar *session, const gchar *sdp);
IcecamMessage *icecam_message_new_candidate (const gchar *session, const gchar *candidate);
IcecamMessage *icecam_message_new_end_of_candidates (const gchar *session);
IcecamMessage *icecam_message_new_bye (const gchar *session, IcecamByeCode code,
                                       const gchar *reason);
IcecamMessage *icecam_message_new_error (IcecamErrorCode code, const gchar *session,
                                         const gchar *text);
IcecamMessage *icecam_message_new_challenge (const gchar *nonce);
IcecamMessage *icecam_message_new_ping (void);
IcecamMessage *icecam_message_new_pong (void);
IcecamMessage *icecam_message_new_restart (const gchar *session);
IcecamMessage *icecam_message_new_punch (const gchar *session, const gchar *mapping,
                                         const gchar *address, const gchar *token);
IcecamMessage *icecam_message_new_ice_servers (const gchar *session, GPtrArray *ice_servers);
IcecamMessage *icecam_message_new_dtls (const gchar *session, const guint8 *datagram,
                                        gsize length);

/**
 * icecam_message_parse:
 * @text: (array length=length): the text of one WebSocket frame; need not be NUL-terminated
 * @length: its length in bytes
 * @error: on failure, an %ICECAM_PROTOCOL_ERROR whose message names what was wrong
 *
 * Parses and validates one message: types of fields, required fields of its type, lengths
 * against the ICECAM_PROTOCOL_MAX_* limits, ids made of [A-Za-z0-9._-]. Pure: no I/O.
 * Unknown fields are ignored (forward compatibility); an unknown type is an error.
 *
 * Returns: (transfer full) (nullable): the message, or %NULL with @error set
 */
IcecamMessage *icecam_message_parse (const gchar *text, gsize length, GError **error);

/**
 * icecam_message_to_json:
 * @msg: a message with the fields of its type set
 *
 * Returns: (transfer full): the message as one compact JSON object
 */
gchar *icecam_message_to_json (const IcecamMessage *msg);

const gchar *icecam_message_type_to_string (IcecamMessageType type);
const gchar *icecam_role_to_string (IcecamRole role);
const gchar *icecam_error_code_to_string (IcecamErrorCode code);
const gchar *icecam_bye_code_to_string (IcecamByeCode code);
const gchar *icecam_feature_to_string (IcecamFeatures feature);

/**
 * icecam_error_code_from_protocol_error:
 * @error: an error from icecam_message_parse()
 *
 * Returns: the wire error code to answer a bad message with
 */
IcecamErrorCode icecam_error_code_from_protocol_error (const GError *error);

/**
 * icecam_protocol_id_is_valid:
 * @id: (nullable): a camera, client or session id
 *
 * Returns: whether @id is 1..ICECAM_PROTOCOL_MAX_ID_LENGTH characters of [A-Za-z0-9._-]
 */
gboolean icecam_protocol_id_is_valid (const gchar *id);

G_END_DECLS
