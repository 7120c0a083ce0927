/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The icecam signalling messages as values: constructors, copies, wire names and id rules. */

#include "icecam-protocol-private.h"

#include <string.h>

G_DEFINE_QUARK (icecam-protocol-error-quark, icecam_protocol_error)

G_DEFINE_BOXED_TYPE (IcecamMessage, icecam_message, icecam_message_copy, icecam_message_free)

static const gchar * const message_type_names[] = {
  [ICECAM_MESSAGE_HELLO] = "hello",
  [ICECAM_MESSAGE_WELCOME] = "welcome",
  [ICECAM_MESSAGE_PRESENCE] = "presence",
  [ICECAM_MESSAGE_WATCH] = "watch",
  [ICECAM_MESSAGE_SESSION] = "session",
  [ICECAM_MESSAGE_OFFER] = "offer",
  [ICECAM_MESSAGE_ANSWER] = "answer",
  [ICECAM_MESSAGE_CANDIDATE] = "candidate",
  [ICECAM_MESSAGE_END_OF_CANDIDATES] = "end-of-candidates",
  [ICECAM_MESSAGE_BYE] = "bye",
  [ICECAM_MESSAGE_ERROR] = "error",
  [ICECAM_MESSAGE_CHALLENGE] = "challenge",
  [ICECAM_MESSAGE_PING] = "ping",
  [ICECAM_MESSAGE_PONG] = "pong",
  [ICECAM_MESSAGE_RESTART] = "restart",
  [ICECAM_MESSAGE_ICE_SERVERS] = "ice-servers",
  [ICECAM_MESSAGE_PUNCH] = "punch",
  [ICECAM_MESSAGE_DTLS] = "dtls",
};

static const gchar * const role_names[] = {
  [ICECAM_ROLE_NONE] = "none",
  [ICECAM_ROLE_CAMERA] = "camera",
  [ICECAM_ROLE_VIEWER] = "viewer",
};

static const gchar * const error_code_names[] = {
  [ICECAM_ERROR_CODE_MALFORMED] = "malformed",
  [ICECAM_ERROR_CODE_TOO_LARGE] = "too-large",
  [ICECAM_ERROR_CODE_UNKNOWN_TYPE] = "unknown-type",
  [ICECAM_ERROR_CODE_MISSING_FIELD] = "missing-field",
  [ICECAM_ERROR_CODE_INVALID_FIELD] = "invalid-field",
  [ICECAM_ERROR_CODE_VERSION] = "version",
  [ICECAM_ERROR_CODE_NOT_READY] = "not-ready",
  [ICECAM_ERROR_CODE_UNKNOWN_CAMERA] = "unknown-camera",
  [ICECAM_ERROR_CODE_UNKNOWN_SESSION] = "unknown-session",
  [ICECAM_ERROR_CODE_ID_IN_USE] = "id-in-use",
  [ICECAM_ERROR_CODE_NOT_ALLOWED] = "not-allowed",
  [ICECAM_ERROR_CODE_INTERNAL] = "internal",
  [ICECAM_ERROR_CODE_UNAUTHORIZED] = "unauthorized",
  [ICECAM_ERROR_CODE_LIMIT_EXCEEDED] = "limit-exceeded",
};

static const gchar * const bye_code_names[] = {
  [ICECAM_BYE_CODE_NONE] = "none",
  [ICECAM_BYE_CODE_PEER_LEFT] = "peer-left",
  [ICECAM_BYE_CODE_CLOSED] = "closed",
  [ICECAM_BYE_CODE_FULL] = "full",
  [ICECAM_BYE_CODE_FAILED] = "failed",
  [ICECAM_BYE_CODE_REFUSED] = "refused",
};

/* Indexed by bit number: feature_names[i] is the wire name of 1 << i. */
static const gchar * const feature_names[] = {
  "ping",
  "restart",
  "ice-servers",
  "punch",
  "dtls",
};

G_STATIC_ASSERT (G_N_ELEMENTS (message_type_names) == ICECAM_N_MESSAGE_TYPES);
G_STATIC_ASSERT (1 << G_N_ELEMENTS (feature_names) == (ICECAM_FEATURE_DTLS << 1));
G_STATIC_ASSERT (G_N_ELEMENTS (error_code_names) == ICECAM_N_ERROR_CODES);

/* ---- ICE servers ---------------------------------------------------------------------- */

/**
 * icecam_ice_server_new:
 * @urls: (array zero-terminated=1): at least one "stun:", "stuns:", "turn:" or "turns:" URL
 * @username: (nullable): TURN username
 * @credential: (nullable): TURN password
 *
 * Returns: (transfer full): a new #IcecamIceServer holding copies of the arguments
 */
IcecamIceServer *
icecam_ice_server_new (const gchar * const *urls, const gchar *username, const gchar *credential)
{
  IcecamIceServer *server = g_new0 (IcecamIceServer, 1);

  server->urls = g_strdupv ((gchar **) urls);
  if (server->urls == NULL)
    server->urls = g_new0 (gchar *, 1);
  server->username = g_strdup (username);
  server->credential = g_strdup (credential);
  return server;
}

/**
 * icecam_ice_server_copy:
 * @server: an #IcecamIceServer
 *
 * Returns: (transfer full): a deep copy of @server
 */
IcecamIceServer *
icecam_ice_server_copy (const IcecamIceServer *server)
{
  g_return_val_if_fail (server != NULL, NULL);

  return icecam_ice_server_new ((const gchar * const *) server->urls, server->username,
                                server->credential);
}

/**
 * icecam_ice_server_free:
 * @server: (nullable) (transfer full): an #IcecamIceServer
 *
 * Frees @server and its strings.
 */
void
icecam_ice_server_free (IcecamIceServer *server)
{
  if (server == NULL)
    return;
  g_strfreev (server->urls);
  g_free (server->username);
  g_free (server->credential);
  g_free (server);
}

static GPtrArray *
ice_server_array_copy (GPtrArray *servers)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);

  for (guint i = 0; servers != NULL && i < servers->len; i++)
    g_ptr_array_add (copy, icecam_ice_server_copy (g_ptr_array_index (servers, i)));
  return copy;
}

/* ---- Messages ------------------------------------------------------------------------- */

/**
 * icecam_message_new:
 * @type: the message type
 *
 * Returns: (transfer full): a message of @type with every other field empty
 */
IcecamMessage *
icecam_message_new (IcecamMessageType type)
{
  IcecamMessage *msg;

  g_return_val_if_fail ((guint) type < ICECAM_N_MESSAGE_TYPES, NULL);

  msg = g_new0 (IcecamMessage, 1);
  msg->type = type;
  if (type == ICECAM_MESSAGE_HELLO || type == ICECAM_MESSAGE_WELCOME)
    msg->version = ICECAM_PROTOCOL_VERSION;
  return msg;
}

/**
 * icecam_message_copy:
 * @msg: a message
 *
 * Returns: (transfer full): a deep copy of @msg
 */
IcecamMessage *
icecam_message_copy (const IcecamMessage *msg)
{
  IcecamMessage *copy;

  g_return_val_if_fail (msg != NULL, NULL);

  copy = g_new0 (IcecamMessage, 1);
  copy->type = msg->type;
  copy->version = msg->version;
  copy->role = msg->role;
  copy->id = g_strdup (msg->id);
  copy->camera = g_strdup (msg->camera);
  copy->peer = g_strdup (msg->peer);
  copy->session = g_strdup (msg->session);
  copy->sdp = g_strdup (msg->sdp);
  copy->candidate = g_strdup (msg->candidate);
  copy->reason = g_strdup (msg->reason);
  copy->error_code = msg->error_code;
  copy->bye_code = msg->bye_code;
  copy->text = g_strdup (msg->text);
  copy->address = g_strdup (msg->address);
  if (msg->ice_servers != NULL)
    copy->ice_servers = ice_server_array_copy (msg->ice_servers);
  copy->cameras = g_strdupv (msg->cameras);
  copy->nonce = g_strdup (msg->nonce);
  copy->proof = g_strdup (msg->proof);
  copy->token = g_strdup (msg->token);
  copy->port_step = msg->port_step;
  copy->mapping = g_strdup (msg->mapping);
  copy->data = g_strdup (msg->data);
  copy->resume = g_strdup (msg->resume);
  copy->region = g_strdup (msg->region);
  copy->resumed = msg->resumed;
  copy->features = msg->features;
  return copy;
}

/**
 * icecam_message_free:
 * @msg: (nullable) (transfer full): a message
 *
 * Frees @msg and everything it holds.
 */
void
icecam_message_free (IcecamMessage *msg)
{
  if (msg == NULL)
    return;
  g_free (msg->id);
  g_free (msg->camera);
  g_free (msg->peer);
  g_free (msg->session);
  g_free (msg->sdp);
  g_free (msg->candidate);
  g_free (msg->reason);
  g_free (msg->text);
  g_free (msg->address);
  g_free (msg->nonce);
  g_free (msg->proof);
  g_free (msg->token);
  g_free (msg->mapping);
  g_free (msg->data);
  g_free (msg->resume);
  g_free (msg->region);
  g_clear_pointer (&msg->ice_servers, g_ptr_array_unref);
  g_strfreev (msg->cameras);
  g_free (msg);
}

/**
 * icecam_message_new_hello:
 * @role: %ICECAM_ROLE_CAMERA or %ICECAM_ROLE_VIEWER
 * @id: (nullable): the camera's id (required for cameras), or a viewer's preferred name
 *
 * Returns: (transfer full): a `hello` for the current protocol version
 */
IcecamMessage *
icecam_message_new_hello (IcecamRole role, const gchar *id)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_HELLO);

  msg->role = role;
  msg->id = g_strdup (id);
  return msg;
}

/**
 * icecam_message_new_welcome:
 * @id: the id the server assigned to, or accepted for, the client
 * @address: the client's address as the server sees it, "ip:port"
 * @ice_servers: (nullable) (element-type IcecamIceServer): servers to advertise; copied
 *
 * Returns: (transfer full): a `welcome` for the current protocol version
 */
IcecamMessage *
icecam_message_new_welcome (const gchar *id, const gchar *address, GPtrArray *ice_servers)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_WELCOME);

  msg->id = g_strdup (id);
  msg->address = g_strdup (address);
  msg->ice_servers = ice_server_array_copy (ice_servers);
  return msg;
}

/**
 * icecam_message_new_presence:
 * @cameras: (nullable) (array zero-terminated=1): ids of the cameras online
 *
 * Returns: (transfer full): a `presence` message
 */
IcecamMessage *
icecam_message_new_presence (const gchar * const *cameras)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_PRESENCE);

  msg->cameras = cameras != NULL ? g_strdupv ((gchar **) cameras) : g_new0 (gchar *, 1);
  return msg;
}

/**
 * icecam_message_new_watch:
 * @camera: the id of the camera to watch
 *
 * Returns: (transfer full): a `watch` message
 */
IcecamMessage *
icecam_message_new_watch (const gchar *camera)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_WATCH);

  msg->camera = g_strdup (camera);
  return msg;
}

/**
 * icecam_message_new_session:
 * @session: the session id
 * @camera: the camera's id
 * @peer: (nullable): the id of the other end
 * @role: the role of the client receiving the message
 *
 * Returns: (transfer full): a `session` message
 */
IcecamMessage *
icecam_message_new_session (const gchar *session, const gchar *camera, const gchar *peer,
                            IcecamRole role)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_SESSION);

  msg->session = g_strdup (session);
  msg->camera = g_strdup (camera);
  msg->peer = g_strdup (peer);
  msg->role = role;
  return msg;
}

/**
 * icecam_message_new_challenge:
 * @nonce: fresh random text, unique to this connection
 *
 * Returns: (transfer full): a `challenge` message
 */
IcecamMessage *
icecam_message_new_challenge (const gchar *nonce)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_CHALLENGE);

  msg->nonce = g_strdup (nonce);
  return msg;
}

/**
 * icecam_message_new_ping:
 *
 * Send only to a peer whose `hello` or `welcome` listed %ICECAM_FEATURE_PING.
 *
 * Returns: (transfer full): a `ping` message, to be answered with `pong` at once
 */
IcecamMessage *
icecam_message_new_ping (void)
{
  return icecam_message_new (ICECAM_MESSAGE_PING);
}

/**
 * icecam_message_new_pong:
 *
 * Returns: (transfer full): a `pong` message, the answer to a `ping`
 */
IcecamMessage *
icecam_message_new_pong (void)
{
  return icecam_message_new (ICECAM_MESSAGE_PONG);
}

/**
 * icecam_message_new_restart:
 * @session: the session whose ICE the viewer asks the camera to restart
 *
 * Send only to a server whose `welcome` listed %ICECAM_FEATURE_RESTART.
 *
 * Returns: (transfer full): a `restart` message
 */
IcecamMessage *
icecam_message_new_restart (const gchar *session)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_RESTART);

  msg->session = g_strdup (session);
  return msg;
}

/**
 * icecam_message_new_punch:
 * @session: the session whose peers punch
 * @mapping: "random" or "cone" (the sender's NAT)
 * @address: the sender's public "ip:port" (random) or its punching socket's mapping (cone)
 * @token: the probes' token, 32 hex digits
 *
 * Send only to a server whose `welcome` listed %ICECAM_FEATURE_PUNCH.
 *
 * Returns: (transfer full): a `punch` message
 */
IcecamMessage *
icecam_message_new_punch (const gchar *session, const gchar *mapping, const gchar *address,
                          const gchar *token)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_PUNCH);

  msg->session = g_strdup (session);
  msg->mapping = g_strdup (mapping);
  msg->address = g_strdup (address);
  msg->token = g_strdup (token);
  return msg;
}

/**
 * icecam_message_new_dtls:
 * @session: the session whose DTLS association the datagram belongs to
 * @datagram: (array length=length): one DTLS datagram, at most 2048 bytes
 * @length: its length in bytes
 *
 * Send only to a server whose `welcome` listed %ICECAM_FEATURE_DTLS, and only to a peer whose
 * description offered DTLS through signalling.
 *
 * Returns: (transfer full): a `dtls` message
 */
IcecamMessage *
icecam_message_new_dtls (const gchar *session, const guint8 *datagram, gsize length)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_DTLS);

  msg->session = g_strdup (session);
  msg->data = g_base64_encode (datagram, length);
  return msg;
}

/**
 * icecam_message_new_ice_servers:
 * @session: the session the servers are for
 * @ice_servers: (element-type IcecamIceServer): relays with fresh credentials (copied)
 *
 * Send only to a client whose `hello` listed %ICECAM_FEATURE_ICE_SERVERS.
 *
 * Returns: (transfer full): an `ice-servers` message
 */
IcecamMessage *
icecam_message_new_ice_servers (const gchar *session, GPtrArray *ice_servers)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_ICE_SERVERS);

  msg->session = g_strdup (session);
  msg->ice_servers = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  for (guint i = 0; i < ice_servers->len; i++)
    g_ptr_array_add (msg->ice_servers, icecam_ice_server_copy (ice_servers->pdata[i]));
  return msg;
}

static IcecamMessage *
message_new_sdp (IcecamMessageType type, const gchar *session, const gchar *sdp)
{
  IcecamMessage *msg = icecam_message_new (type);

  msg->session = g_strdup (session);
  msg->sdp = g_strdup (sdp);
  return msg;
}

/**
 * icecam_message_new_offer:
 * @session: the session id
 * @sdp: the camera's SDP offer
 *
 * Returns: (transfer full): an `offer` message
 */
IcecamMessage *
icecam_message_new_offer (const gchar *session, const gchar *sdp)
{
  return message_new_sdp (ICECAM_MESSAGE_OFFER, session, sdp);
}

/**
 * icecam_message_new_answer:
 * @session: the session id
 * @sdp: the viewer's SDP answer
 *
 * Returns: (transfer full): an `answer` message
 */
IcecamMessage *
icecam_message_new_answer (const gchar *session, const gchar *sdp)
{
  return message_new_sdp (ICECAM_MESSAGE_ANSWER, session, sdp);
}

/**
 * icecam_message_new_candidate:
 * @session: the session id
 * @candidate: one "candidate:..." attribute value, without "a="
 *
 * Returns: (transfer full): a `candidate` message
 */
IcecamMessage *
icecam_message_new_candidate (const gchar *session, const gchar *candidate)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_CANDIDATE);

  msg->session = g_strdup (session);
  msg->candidate = g_strdup (candidate);
  return msg;
}

/**
 * icecam_message_new_end_of_candidates:
 * @session: the session id
 *
 * Returns: (transfer full): an `end-of-candidates` message
 */
IcecamMessage *
icecam_message_new_end_of_candidates (const gchar *session)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_END_OF_CANDIDATES);

  msg->session = g_strdup (session);
  return msg;
}

/**
 * icecam_message_new_bye:
 * @session: the session id
 * @code: what the end means, for the other end's code (%ICECAM_BYE_CODE_NONE: not sent)
 * @reason: (nullable): why the session ends, for people
 *
 * Returns: (transfer full): a `bye` message
 */
IcecamMessage *
icecam_message_new_bye (const gchar *session, IcecamByeCode code, const gchar *reason)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_BYE);

  msg->session = g_strdup (session);
  msg->bye_code = code;
  msg->reason = g_strdup (reason);
  return msg;
}

/**
 * icecam_message_new_error:
 * @code: what went wrong
 * @session: (nullable): the session the error is about
 * @text: a human-readable explanation, at most %ICECAM_PROTOCOL_MAX_TEXT_LENGTH bytes
 *
 * Returns: (transfer full): an `error` message
 */
IcecamMessage *
icecam_message_new_error (IcecamErrorCode code, const gchar *session, const gchar *text)
{
  IcecamMessage *msg = icecam_message_new (ICECAM_MESSAGE_ERROR);

  msg->error_code = code;
  msg->session = g_strdup (session);
  msg->text = g_strdup (text);
  return msg;
}

/* ---- Wire names ----------------------------------------------------------------------- */

/**
 * icecam_message_type_to_string:
 * @type: a message type
 *
 * Returns: the wire name of @type, e.g. "end-of-candidates"
 */
const gchar *
icecam_message_type_to_string (IcecamMessageType type)
{
  g_return_val_if_fail ((guint) type < ICECAM_N_MESSAGE_TYPES, NULL);
  return message_type_names[type];
}

/**
 * icecam_role_to_string:
 * @role: a role
 *
 * Returns: the wire name of @role: "camera", "viewer" (or "none")
 */
const gchar *
icecam_role_to_string (IcecamRole role)
{
  g_return_val_if_fail ((guint) role < G_N_ELEMENTS (role_names), NULL);
  return role_names[role];
}

/**
 * icecam_error_code_to_string:
 * @code: an error code
 *
 * Returns: the wire name of @code, e.g. "unknown-session"
 */
const gchar *
icecam_error_code_to_string (IcecamErrorCode code)
{
  g_return_val_if_fail ((guint) code < G_N_ELEMENTS (error_code_names), NULL);
  return error_code_names[code];
}

static gboolean
name_lookup (const gchar * const *names, guint n_names, guint first, const gchar *name,
             guint *value)
{
  for (guint i = first; i < n_names; i++) {
    if (g_strcmp0 (names[i], name) == 0) {
      *value = i;
      return TRUE;
    }
  }
  return FALSE;
}

/* The lookups below are the parser's way back from wire names; "none" is not a wire role. */

gboolean
icecam_message_type_from_string (const gchar *name, IcecamMessageType *type)
{
  guint value;

  if (!name_lookup (message_type_names, ICECAM_N_MESSAGE_TYPES, 0, name, &value))
    return FALSE;
  *type = value;
  return TRUE;
}

gboolean
icecam_role_from_string (const gchar *name, IcecamRole *role)
{
  guint value;

  if (!name_lookup (role_names, G_N_ELEMENTS (role_names), ICECAM_ROLE_CAMERA, name, &value))
    return FALSE;
  *role = value;
  return TRUE;
}

/**
 * icecam_bye_code_to_string:
 *
 * Returns: the wire name of @code ("none" for %ICECAM_BYE_CODE_NONE, which is never sent)
 */
const gchar *
icecam_bye_code_to_string (IcecamByeCode code)
{
  g_return_val_if_fail ((guint) code < G_N_ELEMENTS (bye_code_names), NULL);
  return bye_code_names[code];
}

/* A code this version does not know is %ICECAM_BYE_CODE_NONE: later versions may add codes,
 * and an older peer must still end the session. */
IcecamByeCode
icecam_bye_code_from_string (const gchar *name)
{
  guint value;

  if (!name_lookup (bye_code_names, G_N_ELEMENTS (bye_code_names), ICECAM_BYE_CODE_PEER_LEFT,
                    name, &value))
    return ICECAM_BYE_CODE_NONE;
  return value;
}

/**
 * icecam_feature_to_string:
 * @feature: one #IcecamFeatures flag
 *
 * Returns: (nullable): its wire name, e.g. "ping"; %NULL for anything but a single known flag
 */
const gchar *
icecam_feature_to_string (IcecamFeatures feature)
{
  for (guint i = 0; i < G_N_ELEMENTS (feature_names); i++) {
    if (feature == (IcecamFeatures) (1 << i))
      return feature_names[i];
  }
  return NULL;
}

/* A name this version does not know is no feature: later versions may add some. */
IcecamFeatures
icecam_feature_from_string (const gchar *name)
{
  guint value;

  if (!name_lookup (feature_names, G_N_ELEMENTS (feature_names), 0, name, &value))
    return ICECAM_FEATURE_NONE;
  return 1 << value;
}

gboolean
icecam_error_code_from_string (const gchar *name, IcecamErrorCode *code)
{
  guint value;

  if (!name_lookup (error_code_names, G_N_ELEMENTS (error_code_names), 0, name, &value))
    return FALSE;
  *code = value;
  return TRUE;
}

/**
 * icecam_error_code_from_protocol_error:
 * @error: an error from icecam_message_parse()
 *
 * Returns: the wire error code to answer a bad message with; %ICECAM_ERROR_CODE_INTERNAL for
 *   errors of other domains
 */
IcecamErrorCode
icecam_error_code_from_protocol_error (const GError *error)
{
  g_return_val_if_fail (error != NULL, ICECAM_ERROR_CODE_INTERNAL);

  if (error->domain != ICECAM_PROTOCOL_ERROR)
    return ICECAM_ERROR_CODE_INTERNAL;

  switch ((IcecamProtocolError) error->code) {
  case ICECAM_PROTOCOL_ERROR_MALFORMED:
    return ICECAM_ERROR_CODE_MALFORMED;
  case ICECAM_PROTOCOL_ERROR_TOO_LARGE:
    return ICECAM_ERROR_CODE_TOO_LARGE;
  case ICECAM_PROTOCOL_ERROR_UNKNOWN_TYPE:
    return ICECAM_ERROR_CODE_UNKNOWN_TYPE;
  case ICECAM_PROTOCOL_ERROR_MISSING_FIELD:
    return ICECAM_ERROR_CODE_MISSING_FIELD;
  case ICECAM_PROTOCOL_ERROR_INVALID_FIELD:
    return ICECAM_ERROR_CODE_INVALID_FIELD;
  case ICECAM_PROTOCOL_ERROR_VERSION:
    return ICECAM_ERROR_CODE_VERSION;
  default:
    return ICECAM_ERROR_CODE_INTERNAL;
  }
}

/**
 * icecam_protocol_id_is_valid:
 * @id: (nullable): a camera, client or session id
 *
 * Returns: whether @id is 1..%ICECAM_PROTOCOL_MAX_ID_LENGTH characters of [A-Za-z0-9._-]
 */
gboolean
icecam_protocol_id_is_valid (const gchar *id)
{
  gsize len;

  if (id == NULL)
    return FALSE;
  len = strlen (id);
  if (len == 0 || len > ICECAM_PROTOCOL_MAX_ID_LENGTH)
    return FALSE;
  for (gsize i = 0; i < len; i++) {
    if (!g_ascii_isalnum (id[i]) && id[i] != '.' && id[i] != '_' && id[i] != '-')
      return FALSE;
  }
  return TRUE;
}
