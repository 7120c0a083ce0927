/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The JSON wire form of the icecam signalling messages: a table-driven parser and builder. */

#include "icecam-protocol-fields.h"

#include <string.h>
#include <json-glib/json-glib.h>

/* Our messages nest at most four levels (welcome -> ice_servers -> server -> urls); anything much
 * deeper is refused before json-glib's recursive parser sees it. */
#define MAX_NESTING_DEPTH 16

/* Values quoted back in error texts are cut to this many characters so an error message about
 * a peer's input always fits in ICECAM_PROTOCOL_MAX_TEXT_LENGTH. */
#define MAX_QUOTED_CHARS 64

#define MAX_URLS_PER_ICE_SERVER 8


/* The fields of each message, in the order they are checked: the version comes first so that
 * a peer speaking another version gets "version" rather than a complaint about its fields. */
static const FieldSpec message_fields[ICECAM_N_MESSAGE_TYPES][ICECAM_MESSAGE_MAX_FIELDS] = {
  [ICECAM_MESSAGE_HELLO] = {
    OTHER_FIELD ("version", FIELD_VERSION, TRUE),
    OTHER_FIELD ("role", FIELD_ROLE, TRUE),
    STRING_FIELD ("id", FIELD_ID, FALSE, id),
    STRING_FIELD ("proof", FIELD_TEXT, FALSE, proof),
    STRING_FIELD ("token", FIELD_TOKEN, FALSE, token),
    STRING_FIELD ("resume", FIELD_SECRET, FALSE, resume),
    OTHER_FIELD ("features", FIELD_FEATURES, FALSE),
    STRING_FIELD ("region", FIELD_ID, FALSE, region),
  },
  [ICECAM_MESSAGE_WELCOME] = {
    OTHER_FIELD ("version", FIELD_VERSION, TRUE),
    STRING_FIELD ("id", FIELD_ID, TRUE, id),
    STRING_FIELD ("address", FIELD_TEXT, TRUE, address),
    OTHER_FIELD ("ice_servers", FIELD_ICE_SERVERS, TRUE),
    STRING_FIELD ("resume", FIELD_SECRET, FALSE, resume),
    BOOLEAN_FIELD ("resumed", FALSE, resumed),
    OTHER_FIELD ("features", FIELD_FEATURES, FALSE),
  },
  [ICECAM_MESSAGE_PRESENCE] = {
    OTHER_FIELD ("cameras", FIELD_CAMERAS, TRUE),
  },
  [ICECAM_MESSAGE_WATCH] = {
    STRING_FIELD ("camera", FIELD_ID, TRUE, camera),
  },
  [ICECAM_MESSAGE_SESSION] = {
    STRING_FIELD ("session", FIELD_ID, TRUE, session),
    STRING_FIELD ("camera", FIELD_ID, TRUE, camera),
    OTHER_FIELD ("role", FIELD_ROLE, TRUE),
    STRING_FIELD ("peer", FIELD_ID, FALSE, peer),
    OTHER_FIELD ("ice_servers", FIELD_ICE_SERVERS, FALSE),
  },
  [ICECAM_MESSAGE_OFFER] = {
    STRING_FIELD ("session", FIELD_ID, TRUE, session),
    STRING_FIELD ("sdp", FIELD_SDP, TRUE, sdp),
  },
  [ICECAM_MESSAGE_ANSWER] = {
    STRING_FIELD ("session", FIELD_ID, TRUE, session),
    STRING_FIELD ("sdp", FIELD_SDP, TRUE, sdp),
  },
  [ICECAM_MESSAGE_CANDIDATE] = {
    STRING_FIELD ("session", FIELD_ID, TRUE, session),
    STRING_FIELD ("candidate", FIELD_CANDIDATE, TRUE, candidate),
  },
  [ICECAM_MESSAGE_END_OF_CANDIDATES] = {
    STRING_FIELD ("session", FIELD_ID, TRUE, session),
  },
  [ICECAM_MESSAGE_BYE] = {
    STRING_FIELD ("session", FIELD_ID, TRUE, session),
    OTHER_FIELD ("code", FIELD_BYE_CODE, FALSE),
    STRING_FIELD ("reason", FIELD_TEXT, FALSE, reason),
  },
  [ICECAM_MESSAGE_ERROR] = {
    OTHER_FIELD ("code", FIELD_CODE, TRUE),
    STRING_FIELD ("message", FIELD_TEXT, TRUE, text),
    STRING_FIELD ("session", FIELD_ID, FALSE, session),
  },
  [ICECAM_MESSAGE_CHALLENGE] = {
    STRING_FIELD ("nonce", FIELD_TEXT, TRUE, nonce),
  },
  [ICECAM_MESSAGE_PING] = { { NULL } },
  [ICECAM_MESSAGE_PONG] = { { NULL } },
  [ICECAM_MESSAGE_RESTART] = {
    STRING_FIELD ("session", FIELD_ID, TRUE, session),
  },
  [ICECAM_MESSAGE_ICE_SERVERS] = {
    STRING_FIELD ("session", FIELD_ID, TRUE, session),
    OTHER_FIELD ("ice_servers", FIELD_ICE_SERVERS, TRUE),
  },
  [ICECAM_MESSAGE_PUNCH] = {
    STRING_FIELD ("session", FIELD_ID, TRUE, session),
    STRING_FIELD ("mapping", FIELD_ID, TRUE, mapping),
    STRING_FIELD ("address", FIELD_TEXT, TRUE, address),
    STRING_FIELD ("token", FIELD_SECRET, TRUE, token),
    OTHER_FIELD ("step", FIELD_PORT_STEP, FALSE),
  },
  [ICECAM_MESSAGE_DTLS] = {
    STRING_FIELD ("session", FIELD_ID, TRUE, session),
    STRING_FIELD ("data", FIELD_DATA, TRUE, data),
  },
};
G_STATIC_ASSERT (G_N_ELEMENTS (message_fields) == ICECAM_N_MESSAGE_TYPES);

/* The fields of a message type, at most ICECAM_MESSAGE_MAX_FIELDS, ended by a NULL name when
 * fewer. A function, not a shared table: the library is linked into programs and into the
 * plugin they load, and a global defined in both is one variable twice (ASan's ODR check). */
const FieldSpec *
icecam_message_fields (IcecamMessageType type)
{
  return message_fields[type];
}

/* ---- Parsing -------------------------------------------------------------------------- */

/* @value cut to @max_chars characters (not bytes, so UTF-8 stays valid). */
static gchar *
truncate_utf8 (const gchar *value, glong max_chars)
{
  /* Peers' bytes (and json-glib's messages quoting them) may not be UTF-8: an error text we
   * send back must be. */
  g_autofree gchar *valid = g_utf8_make_valid (value, -1);
  g_autofree gchar *head = NULL;

  if (g_utf8_strlen (valid, -1) <= max_chars)
    return g_steal_pointer (&valid);
  head = g_utf8_substring (valid, 0, max_chars);
  return g_strconcat (head, "...", NULL);
}

/* A peer's value, cut short, for quoting in an error text. */
static gchar *
quote_value (const gchar *value)
{
  return truncate_utf8 (value, MAX_QUOTED_CHARS);
}

/* JSON's insignificant whitespace (RFC 8259, section 2). */
static gboolean
is_json_space (gchar c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Whether @text (@length bytes, not NUL-terminated) has only the characters of a number. */
static gboolean
is_json_number_text (const gchar *text, gsize length)
{
  for (gsize i = 0; i < length; i++)
    if (!g_ascii_isdigit (text[i]) && strchr ("-+.eE", text[i]) == NULL)
      return FALSE;
  return TRUE;
}

/* The \uXXXX escape at @text (which starts at the 'u'), as a code unit, or -1 if it is not
 * four hex digits within @length. */
static gint
unicode_escape_value (const gchar *text, gsize length)
{
  gint value = 0;

  if (length < 5 || text[0] != 'u')
    return -1;
  for (guint i = 1; i < 5; i++) {
    gint digit = g_ascii_xdigit_value (text[i]);

    if (digit < 0)
      return -1;
    value = value * 16 + digit;
  }
  return value;
}

/* A message that is not one object: refused here, because json-glib would either accept
 * several top-level values (and leak all but the last) or parse a value we refuse anyway. */
static void
set_not_an_object_error (const gchar *text, gsize length, gsize start, GError **error)
{
  gsize end = length;
  const gchar *kind = NULL;

  while (end > start && is_json_space (text[end - 1]))
    end--;
  /* Only named when the whole text looks like that one value: "2{...}" is just not JSON. */
  if (text[start] == '[' && text[end - 1] == ']')
    kind = "an array";
  else if (text[start] == '"' && end - start >= 2 && text[end - 1] == '"')
    kind = "a string";
  else if ((text[start] == '-' || g_ascii_isdigit (text[start])) &&
           is_json_number_text (text + start, end - start))
    kind = "a number";
  else if ((end - start == 4 && memcmp (text + start, "true", 4) == 0) ||
           (end - start == 5 && memcmp (text + start, "false", 5) == 0))
    kind = "a boolean";
  else if (end - start == 4 && memcmp (text + start, "null", 4) == 0)
    kind = "null";
  if (kind != NULL)
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message is %s, not a JSON object", kind);
  else
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message is not valid JSON: unexpected character at offset %" G_GSIZE_FORMAT,
                 start);
}

/* Checks the escape at @text[@i] (a backslash inside a string) and returns how many bytes
 * it spans, or 0 with @error set. Strict as RFC 8259 is: json-glib accepts "\u12" and
 * decodes a broken surrogate pair into bytes that are not UTF-8 (leaking memory). */
static gsize
check_escape (const gchar *text, gsize length, gsize i, GError **error)
{
  gint unit, low;

  if (length - i < 2) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message is not valid JSON: it ends inside an escape");
    return 0;
  }
  if (strchr ("\"\\/bfnrt", text[i + 1]) != NULL)
    return 2;
  unit = unicode_escape_value (text + i + 1, length - i - 1);
  if (unit < 0) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message is not valid JSON: bad escape at offset %" G_GSIZE_FORMAT, i);
    return 0;
  }
  if (unit == 0) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message contains an escaped NUL character (\\u0000) at offset %"
                 G_GSIZE_FORMAT, i);
    return 0;
  }
  if (unit < 0xD800 || unit > 0xDFFF)
    return 6;
  /* A high surrogate must be followed at once by an escaped low one. */
  low = unit <= 0xDBFF && length - i >= 12 && text[i + 6] == '\\'
        ? unicode_escape_value (text + i + 7, length - i - 7) : -1;
  if (low < 0xDC00 || low > 0xDFFF) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message is not valid JSON: unpaired UTF-16 surrogate at offset %"
                 G_GSIZE_FORMAT, i);
    return 0;
  }
  return 12;
}

/* The code unit json-glib 1.6 reads for the escape whose "u" is at @text: up to four hex
 * digits, the missing ones taken as zeros ("\ud8" is 0xD800), or -1 when the first is no hex
 * digit (json_scanner_get_unichar()). */
static gint
json_glib_escape_unit (const gchar *text, gsize length)
{
  gint value = 0;

  if (length < 2 || g_ascii_xdigit_value (text[1]) < 0)
    return -1;
  for (guint i = 0; i < 4 && i + 1 < length; i++) {
    gint digit = g_ascii_xdigit_value (text[i + 1]);

    if (digit < 0)
      break;
    value += digit << ((3 - i) * 4);
  }
  return value;
}

/* json-glib 1.6's scanner, at an escaped surrogate not followed at once by its escaped pair,
 * drops the string it was reading without freeing it: up to a whole message leaked per
 * message. check_escape() refuses that inside strings, but in text that is not JSON json-glib
 * may scan a string where RFC 8259 sees none (it leaks on `{/"a/"b\ud83d\u0041`, whose escapes
 * are outside any string), and it reads short escapes as surrogates ("\ud8u\u00e9" leaks too;
 * fuzz/regressions/protocol). So every "\u" of the text is read as json-glib reads it, in a
 * string or not, after any number of backslashes: one that is a surrogate must be a whole
 * high surrogate directly before a whole low one. A valid message is refused only where
 * check_escape() refuses it too, or where a string holds an escaped backslash followed by
 * such text (a literal "\\ud83d"), which no field of the protocol carries. */
static gboolean
check_surrogate_escapes (const gchar *text, gsize length, GError **error)
{
  for (gsize i = 0; i + 1 < length; i++) {
    gint unit, high, low;

    if (text[i] != '\\' || text[i + 1] != 'u')
      continue;
    unit = json_glib_escape_unit (text + i + 1, length - i - 1);
    if (unit < 0xD800 || unit > 0xDFFF)
      continue;
    high = unicode_escape_value (text + i + 1, length - i - 1);
    low = high >= 0xD800 && high <= 0xDBFF && length - i >= 12 && text[i + 6] == '\\'
          ? unicode_escape_value (text + i + 7, length - i - 7) : -1;
    if (low < 0xDC00 || low > 0xDFFF) {
      g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                   "message is not valid JSON: unpaired UTF-16 surrogate at offset %"
                   G_GSIZE_FORMAT, i);
      return FALSE;
    }
    i += 11;
  }
  return TRUE;
}

/* What JSON has outside strings: structure, whitespace, numbers, true, false and null. */
#define OUTSIDE_STRINGS "{}[]:, \t\n\r-+.0123456789eEtruefalsn"

/* What json-glib does not check, done on the raw bytes: exactly one top-level object, no NUL
 * (raw or escaped as \u0000, which json-glib would silently cut a string at), escapes as
 * RFC 8259 has them, bounded nesting, valid UTF-8. */
static gboolean
check_raw_text (const gchar *text, gsize length, GError **error)
{
  gboolean in_string = FALSE;
  guint depth = 0;
  gsize i = 0;

  if (memchr (text, '\0', length) != NULL) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message contains a NUL byte at offset %" G_GSIZE_FORMAT,
                 (gsize) ((const gchar *) memchr (text, '\0', length) - text));
    return FALSE;
  }
  while (i < length && is_json_space (text[i]))
    i++;
  if (i == length) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message is empty, not a JSON object");
    return FALSE;
  }
  if (text[i] != '{') {
    set_not_an_object_error (text, length, i, error);
    return FALSE;
  }

  for (; i < length; i++) {
    gchar c = text[i];

    if (in_string) {
      if (c == '\\') {
        gsize span = check_escape (text, length, i, error);

        if (span == 0)
          return FALSE;
        i += span - 1;
      } else if (c == '"') {
        in_string = FALSE;
      }
    } else if (c == '"') {
      in_string = TRUE;
    } else if (strchr (OUTSIDE_STRINGS, c) == NULL) {
      /* json-glib's scanner reads more than JSON there (comments after '/' or '#', strings in
       * single quotes), so that where a string starts and ends it would see differently from
       * the walk here: past this walk, into its own error paths that leak, with two values in
       * one text (fuzz/regressions/protocol/slash-outside-string.json, CI run 32). */
      g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                   "message is not valid JSON: a character that JSON has only in strings at "
                   "offset %" G_GSIZE_FORMAT, i);
      return FALSE;
    } else if (c == '{' || c == '[') {
      if (++depth > MAX_NESTING_DEPTH) {
        g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                     "message nests deeper than %d levels", MAX_NESTING_DEPTH);
        return FALSE;
      }
    } else if ((c == '}' || c == ']') && depth > 0) {
      if (--depth == 0)
        break;
    }
  }
  /* After the object closes, only whitespace. */
  for (i++; i < length; i++) {
    if (!is_json_space (text[i])) {
      g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                   "message is not valid JSON: text after the object at offset %"
                   G_GSIZE_FORMAT, i);
      return FALSE;
    }
  }

  if (!g_utf8_validate_len (text, length, NULL)) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message is not valid UTF-8");
    return FALSE;
  }
  return check_surrogate_escapes (text, length, error);
}

static gboolean
node_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

static const gchar *
json_kind_name (JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "an array";
  if (JSON_NODE_HOLDS_NULL (node))
    return "null";
  switch (json_node_get_value_type (node)) {
  case G_TYPE_STRING:
    return "a string";
  case G_TYPE_BOOLEAN:
    return "a boolean";
  default:
    return "a number";
  }
}

static gboolean
wrong_kind (const gchar *where, const gchar *field, const gchar *expected, JsonNode *node,
            GError **error)
{
  g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
               "field '%s' in '%s' must be %s, not %s", field, where, expected,
               json_kind_name (node));
  return FALSE;
}

static gboolean
check_length (const gchar *where, const gchar *field, const gchar *value, gsize limit,
              GError **error)
{
  gsize len = strlen (value);

  if (len <= limit)
    return TRUE;
  g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
               "field '%s' in '%s' is %" G_GSIZE_FORMAT " bytes, the limit is %" G_GSIZE_FORMAT,
               field, where, len, limit);
  return FALSE;
}

static gboolean
check_id (const gchar *where, const gchar *field, const gchar *value, GError **error)
{
  g_autofree gchar *quoted = NULL;

  if (!check_length (where, field, value, ICECAM_PROTOCOL_MAX_ID_LENGTH, error))
    return FALSE;
  if (icecam_protocol_id_is_valid (value))
    return TRUE;
  quoted = quote_value (value);
  g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
               "field '%s' in '%s' is not a valid id: '%s' (1 to %d characters of "
               "A-Z a-z 0-9 . _ -)", field, where, quoted, ICECAM_PROTOCOL_MAX_ID_LENGTH);
  return FALSE;
}

/* Like an id, but never quoted back: it is a secret. */
static gboolean
check_secret (const gchar *where, const gchar *field, const gchar *value, GError **error)
{
  if (!check_length (where, field, value, ICECAM_PROTOCOL_MAX_ID_LENGTH, error))
    return FALSE;
  if (icecam_protocol_id_is_valid (value))
    return TRUE;
  g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
               "field '%s' in '%s' must be 1 to %d characters of A-Z a-z 0-9 . _ -",
               field, where, ICECAM_PROTOCOL_MAX_ID_LENGTH);
  return FALSE;
}

/* Base64: whole 4-character groups of the RFC 4648 alphabet, at most two '=' at the end. */
static gboolean
check_data (const gchar *where, const gchar *field, const gchar *value, GError **error)
{
  gsize length, letters;

  if (!check_length (where, field, value, ICECAM_PROTOCOL_MAX_DATA_LENGTH, error))
    return FALSE;
  length = strlen (value);
  letters = strspn (value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
  if (length > 0 && length % 4 == 0 && length - letters <= 2 &&
      strspn (value + letters, "=") == length - letters)
    return TRUE;
  g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
               "field '%s' in '%s' must be base64 of 1 to 2048 bytes", field, where);
  return FALSE;
}

static gboolean
check_candidate (const gchar *where, const gchar *field, const gchar *value, GError **error)
{
  if (!check_length (where, field, value, ICECAM_PROTOCOL_MAX_CANDIDATE_LENGTH, error))
    return FALSE;
  if (!g_str_has_prefix (value, "candidate:")) {
    g_autofree gchar *quoted = quote_value (value);

    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                 "field '%s' in '%s' must start with 'candidate:', got '%s'",
                 field, where, quoted);
    return FALSE;
  }
  /* A line break would let the value smuggle extra lines into an SDP it is pasted into. */
  for (const gchar *p = value; *p != '\0'; p++) {
    if (g_ascii_iscntrl (*p)) {
      g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                   "field '%s' in '%s' contains a control character", field, where);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
check_string (const gchar *where, const FieldSpec *spec, const gchar *value, GError **error)
{
  switch (spec->kind) {
  case FIELD_ID:
    return check_id (where, spec->name, value, error);
  case FIELD_CANDIDATE:
    return check_candidate (where, spec->name, value, error);
  case FIELD_SECRET:
    return check_secret (where, spec->name, value, error);
  case FIELD_SDP:
    if (!check_length (where, spec->name, value, ICECAM_PROTOCOL_MAX_SDP_LENGTH, error))
      return FALSE;
    if (*value == '\0') {
      g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                   "field '%s' in '%s' is empty", spec->name, where);
      return FALSE;
    }
    return TRUE;
  case FIELD_TOKEN:
    return check_length (where, spec->name, value, ICECAM_PROTOCOL_MAX_TOKEN_LENGTH, error);
  case FIELD_DATA:
    return check_data (where, spec->name, value, error);
  default:
    return check_length (where, spec->name, value, ICECAM_PROTOCOL_MAX_TEXT_LENGTH, error);
  }
}

static gboolean
parse_version (const gchar *where, JsonNode *node, IcecamMessage *msg, GError **error)
{
  gint64 version;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return wrong_kind (where, "version", "an integer", node, error);
  version = json_node_get_int (node);
  if (version != ICECAM_PROTOCOL_VERSION) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_VERSION,
                 "protocol version %" G_GINT64_FORMAT " is not supported, this build speaks "
                 "version %d", version, ICECAM_PROTOCOL_VERSION);
    return FALSE;
  }
  msg->version = (guint) version;
  return TRUE;
}

static gboolean
unknown_value (const gchar *where, const gchar *field, const gchar *value, GError **error)
{
  g_autofree gchar *quoted = quote_value (value);

  g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
               "field '%s' in '%s' has an unknown value '%s'", field, where, quoted);
  return FALSE;
}

static gboolean
parse_url (const gchar *where, JsonNode *node, GError **error)
{
  static const gchar * const schemes[] = { "stun:", "stuns:", "turn:", "turns:" };
  const gchar *url;

  if (!node_is_string (node))
    return wrong_kind (where, "urls", "an array of strings", node, error);
  url = json_node_get_string (node);
  if (!check_length (where, "urls", url, ICECAM_PROTOCOL_MAX_TEXT_LENGTH, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (schemes); i++) {
    if (g_str_has_prefix (url, schemes[i]) && url[strlen (schemes[i])] != '\0')
      return TRUE;
  }
  {
    g_autofree gchar *quoted = quote_value (url);

    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                 "field 'urls' in '%s' has '%s', not a stun:, stuns:, turn: or turns: URL",
                 where, quoted);
  }
  return FALSE;
}

static gboolean
parse_optional_text (JsonObject *object, const gchar *where, const gchar *field, gchar **out,
                     GError **error)
{
  JsonNode *node = json_object_get_member (object, field);
  const gchar *value;

  if (node == NULL)
    return TRUE;
  if (!node_is_string (node))
    return wrong_kind (where, field, "a string", node, error);
  value = json_node_get_string (node);
  if (!check_length (where, field, value, ICECAM_PROTOCOL_MAX_TEXT_LENGTH, error))
    return FALSE;
  *out = g_strdup (value);
  return TRUE;
}

static IcecamIceServer *
parse_ice_server (JsonNode *node, GError **error)
{
  const gchar *where = "ice_servers";
  g_autoptr (GPtrArray) urls = NULL;
  g_autofree gchar *username = NULL;
  g_autofree gchar *credential = NULL;
  JsonObject *object;
  JsonNode *urls_node;
  JsonArray *array;

  if (!JSON_NODE_HOLDS_OBJECT (node)) {
    wrong_kind ("welcome", where, "an array of objects", node, error);
    return NULL;
  }
  object = json_node_get_object (node);
  urls_node = json_object_get_member (object, "urls");
  if (urls_node == NULL) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MISSING_FIELD,
                 "field 'urls' is missing in '%s'", where);
    return NULL;
  }
  if (!JSON_NODE_HOLDS_ARRAY (urls_node)) {
    wrong_kind (where, "urls", "an array of strings", urls_node, error);
    return NULL;
  }
  array = json_node_get_array (urls_node);
  if (json_array_get_length (array) == 0 || json_array_get_length (array) > MAX_URLS_PER_ICE_SERVER) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR,
                 json_array_get_length (array) == 0 ? ICECAM_PROTOCOL_ERROR_INVALID_FIELD
                                                    : ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                 "field 'urls' in '%s' has %u entries, it must have 1 to %d",
                 where, json_array_get_length (array), MAX_URLS_PER_ICE_SERVER);
    return NULL;
  }
  urls = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (array); i++) {
    JsonNode *url = json_array_get_element (array, i);

    if (!parse_url (where, url, error))
      return NULL;
    g_ptr_array_add (urls, (gpointer) json_node_get_string (url));
  }
  g_ptr_array_add (urls, NULL);
  if (!parse_optional_text (object, where, "username", &username, error) ||
      !parse_optional_text (object, where, "credential", &credential, error))
    return NULL;
  return icecam_ice_server_new ((const gchar * const *) urls->pdata, username, credential);
}

/* The array @node holds, or NULL with @error set if it holds none or more than @max entries. */
static JsonArray *
bounded_array (const gchar *where, const gchar *field, JsonNode *node, guint max, GError **error)
{
  guint n;

  if (!JSON_NODE_HOLDS_ARRAY (node)) {
    wrong_kind (where, field, "an array", node, error);
    return NULL;
  }
  n = json_array_get_length (json_node_get_array (node));
  if (n > max) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                 "field '%s' in '%s' has %u entries, the limit is %u", field, where, n, max);
    return NULL;
  }
  return json_node_get_array (node);
}

static gboolean
parse_ice_servers (const gchar *where, JsonNode *node, IcecamMessage *msg, GError **error)
{
  g_autoptr (GPtrArray) servers = NULL;
  JsonArray *array = bounded_array (where, "ice_servers", node, ICECAM_PROTOCOL_MAX_ICE_SERVERS,
                                    error);
  guint n;

  if (array == NULL)
    return FALSE;
  n = json_array_get_length (array);
  servers = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  for (guint i = 0; i < n; i++) {
    IcecamIceServer *server = parse_ice_server (json_array_get_element (array, i), error);

    if (server == NULL)
      return FALSE;
    g_ptr_array_add (servers, server);
  }
  msg->ice_servers = g_steal_pointer (&servers);
  return TRUE;
}

static gboolean
parse_cameras (const gchar *where, JsonNode *node, IcecamMessage *msg, GError **error)
{
  g_autoptr (GStrvBuilder) builder = NULL;
  JsonArray *array = bounded_array (where, "cameras", node, ICECAM_PROTOCOL_MAX_LIST_LENGTH,
                                    error);
  guint n;

  if (array == NULL)
    return FALSE;
  n = json_array_get_length (array);
  builder = g_strv_builder_new ();
  for (guint i = 0; i < n; i++) {
    JsonNode *element = json_array_get_element (array, i);
    JsonNode *id;

    if (!JSON_NODE_HOLDS_OBJECT (element))
      return wrong_kind (where, "cameras", "an array of objects", element, error);
    id = json_object_get_member (json_node_get_object (element), "id");
    if (id == NULL) {
      g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MISSING_FIELD,
                   "field 'id' is missing in an entry of 'cameras' in '%s'", where);
      return FALSE;
    }
    if (!node_is_string (id))
      return wrong_kind ("cameras", "id", "a string", id, error);
    if (!check_id ("cameras", "id", json_node_get_string (id), error))
      return FALSE;
    g_strv_builder_add (builder, json_node_get_string (id));
  }
  msg->cameras = g_strv_builder_end (builder);
  return TRUE;
}

/* Names this build does not know are skipped: a later peer may list more. */
static gboolean
parse_features (const gchar *where, JsonNode *node, IcecamMessage *msg, GError **error)
{
  JsonArray *array = bounded_array (where, "features", node, ICECAM_PROTOCOL_MAX_FEATURES, error);

  if (array == NULL)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (array); i++) {
    JsonNode *element = json_array_get_element (array, i);

    if (!node_is_string (element))
      return wrong_kind (where, "features", "an array of strings", element, error);
    if (!check_length (where, "features", json_node_get_string (element),
                       ICECAM_PROTOCOL_MAX_FEATURE_LENGTH, error))
      return FALSE;
    msg->features |= icecam_feature_from_string (json_node_get_string (element));
  }
  return TRUE;
}

/* punch's "step": an integer, ±1 to ±32 (a counting NAT's step). */
static gboolean
parse_port_step (const gchar *where, const FieldSpec *spec, JsonNode *node, IcecamMessage *msg,
                 GError **error)
{
  gint64 step;

  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return wrong_kind (where, spec->name, "an integer", node, error);
  step = json_node_get_int (node);
  if (step == 0 || step < -ICECAM_PROTOCOL_MAX_PORT_STEP || step > ICECAM_PROTOCOL_MAX_PORT_STEP) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "field '%s' in '%s' must be -%d to -1 or 1 to %d, not %" G_GINT64_FORMAT,
                 spec->name, where, ICECAM_PROTOCOL_MAX_PORT_STEP,
                 ICECAM_PROTOCOL_MAX_PORT_STEP, step);
    return FALSE;
  }
  msg->port_step = (gint) step;
  return TRUE;
}

static gboolean
parse_field (const gchar *where, const FieldSpec *spec, JsonNode *node, IcecamMessage *msg,
             GError **error)
{
  switch (spec->kind) {
  case FIELD_VERSION:
    return parse_version (where, node, msg, error);
  case FIELD_ROLE:
    if (!node_is_string (node))
      return wrong_kind (where, spec->name, "a string", node, error);
    if (!icecam_role_from_string (json_node_get_string (node), &msg->role))
      return unknown_value (where, spec->name, json_node_get_string (node), error);
    return TRUE;
  case FIELD_CODE:
    if (!node_is_string (node))
      return wrong_kind (where, spec->name, "a string", node, error);
    if (!icecam_error_code_from_string (json_node_get_string (node), &msg->error_code))
      return unknown_value (where, spec->name, json_node_get_string (node), error);
    return TRUE;
  case FIELD_BYE_CODE:
    if (!node_is_string (node))
      return wrong_kind (where, spec->name, "a string", node, error);
    if (!check_string (where, spec, json_node_get_string (node), error))
      return FALSE;
    msg->bye_code = icecam_bye_code_from_string (json_node_get_string (node));
    return TRUE;
  case FIELD_ICE_SERVERS:
    return parse_ice_servers (where, node, msg, error);
  case FIELD_CAMERAS:
    return parse_cameras (where, node, msg, error);
  case FIELD_FEATURES:
    return parse_features (where, node, msg, error);
  case FIELD_PORT_STEP:
    return parse_port_step (where, spec, node, msg, error);
  case FIELD_BOOLEAN:
    if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_BOOLEAN)
      return wrong_kind (where, spec->name, "a boolean", node, error);
    G_STRUCT_MEMBER (gboolean, msg, spec->offset) = json_node_get_boolean (node);
    return TRUE;
  default:
    if (!node_is_string (node))
      return wrong_kind (where, spec->name, "a string", node, error);
    if (!check_string (where, spec, json_node_get_string (node), error))
      return FALSE;
    G_STRUCT_MEMBER (gchar *, msg, spec->offset) = g_strdup (json_node_get_string (node));
    return TRUE;
  }
}

static gboolean
parse_fields (JsonObject *object, IcecamMessage *msg, GError **error)
{
  const gchar *where = icecam_message_type_to_string (msg->type);
  const FieldSpec *fields = message_fields[msg->type];

  for (guint i = 0; i < ICECAM_MESSAGE_MAX_FIELDS && fields[i].name != NULL; i++) {
    JsonNode *node = json_object_get_member (object, fields[i].name);

    if (node == NULL) {
      if (!fields[i].required)
        continue;
      g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MISSING_FIELD,
                   "field '%s' is missing in '%s'", fields[i].name, where);
      return FALSE;
    }
    if (!parse_field (where, &fields[i], node, msg, error))
      return FALSE;
  }

  /* The one rule the table cannot say: a camera is known by its id, a viewer need not be. */
  if (msg->type == ICECAM_MESSAGE_HELLO && msg->role == ICECAM_ROLE_CAMERA && msg->id == NULL) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MISSING_FIELD,
                 "field 'id' is missing in 'hello' (a camera must give its id)");
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_type (JsonObject *object, IcecamMessageType *type, GError **error)
{
  JsonNode *node = json_object_get_member (object, "type");
  g_autofree gchar *quoted = NULL;

  if (node == NULL) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MISSING_FIELD,
                 "field 'type' is missing");
    return FALSE;
  }
  if (!node_is_string (node)) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "field 'type' must be a string, not %s", json_kind_name (node));
    return FALSE;
  }
  if (icecam_message_type_from_string (json_node_get_string (node), type))
    return TRUE;
  quoted = quote_value (json_node_get_string (node));
  g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_UNKNOWN_TYPE,
               "unknown message type '%s'", quoted);
  return FALSE;
}

/* A JSON string at @text[*i] with no escape and no control character (the common case: ids,
 * candidates), its contents copied; NULL (nothing consumed) for any other. */
static gchar *
flat_string (const gchar *text, gsize length, gsize *i)
{
  gsize start = *i + 1;

  if (*i >= length || text[*i] != '"')
    return NULL;
  for (gsize j = start; j < length; j++) {
    guchar c = (guchar) text[j];

    if (c == '"') {
      *i = j + 1;
      return g_strndup (text + start, j - start);
    }
    if (c == '\\' || c < 0x20)
      return NULL;
  }
  return NULL;
}

static void
skip_space (const gchar *text, gsize length, gsize *i)
{
  while (*i < length && is_json_space (text[*i]))
    (*i)++;
}

/* Most messages (candidate, end-of-candidates, watch, bye, ping) are one flat object of plain
 * strings: read here in one pass into the object json-glib would have made, the same members
 * in the same order, without its scanner (which was a fifth of the rendezvous's time per
 * relayed message). Anything else (a number, an array, an escape, a repeated or empty name,
 * another character) returns NULL and goes to json-glib as before, so what is accepted and
 * every error text stay json-glib's. @text passed check_raw_text(). */
static JsonObject *
parse_flat_object (const gchar *text, gsize length)
{
  g_autoptr (JsonObject) object = json_object_new ();
  gsize i = 0;

  skip_space (text, length, &i);
  if (i >= length || text[i++] != '{')
    return NULL;
  for (;;) {
    g_autofree gchar *name = NULL;
    g_autofree gchar *value = NULL;

    skip_space (text, length, &i);
    name = flat_string (text, length, &i);
    if (name == NULL || *name == '\0' || json_object_has_member (object, name))
      return NULL;
    skip_space (text, length, &i);
    if (i >= length || text[i++] != ':')
      return NULL;
    skip_space (text, length, &i);
    value = flat_string (text, length, &i);
    if (value == NULL)
      return NULL;
    json_object_set_string_member (object, name, value);
    skip_space (text, length, &i);
    if (i < length && text[i] == ',') {
      i++;
      continue;
    }
    if (i >= length || text[i++] != '}')
      return NULL;
    skip_space (text, length, &i);
    return i == length ? g_steal_pointer (&object) : NULL;
  }
}

static JsonObject *
parse_object (const gchar *text, gsize length, gboolean flat_first, GError **error)
{
  JsonObject *flat = flat_first ? parse_flat_object (text, length) : NULL;
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) json_error = NULL;
  JsonNode *root;

  if (flat != NULL)
    return flat;
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, text, length, &json_error)) {
    /* json-glib's text can quote the peer's input; keep it short like our own quotes. */
    g_autofree gchar *head = truncate_utf8 (json_error->message, 4 * MAX_QUOTED_CHARS);

    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message is not valid JSON: %s", head);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message is %s, not a JSON object",
                 root == NULL ? "empty" : json_kind_name (root));
    return NULL;
  }
  return json_object_ref (json_node_get_object (root));
}

/* json-glib decodes an escaped lone surrogate (e.g. "\ud800") into bytes that are not UTF-8;
 * such a string must not be accepted, logged or relayed. */
static gboolean
message_strings_valid (const IcecamMessage *msg, GError **error)
{
  const gchar *fields[] = { msg->id, msg->camera, msg->peer, msg->session, msg->sdp,
                            msg->candidate, msg->reason, msg->text, msg->address, msg->nonce,
                            msg->proof, msg->token, msg->resume };
  gboolean valid = TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    valid = valid && (fields[i] == NULL || g_utf8_validate (fields[i], -1, NULL));
  for (guint i = 0; valid && msg->cameras != NULL && msg->cameras[i] != NULL; i++)
    valid = g_utf8_validate (msg->cameras[i], -1, NULL);
  for (guint i = 0; valid && msg->ice_servers != NULL && i < msg->ice_servers->len; i++) {
    const IcecamIceServer *server = g_ptr_array_index (msg->ice_servers, i);

    valid = (server->username == NULL || g_utf8_validate (server->username, -1, NULL)) &&
            (server->credential == NULL || g_utf8_validate (server->credential, -1, NULL));
    for (guint j = 0; valid && server->urls != NULL && server->urls[j] != NULL; j++)
      valid = g_utf8_validate (server->urls[j], -1, NULL);
  }
  if (!valid)
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "a string in '%s' is not valid UTF-8 (a lone surrogate escape?)",
                 icecam_message_type_to_string (msg->type));
  return valid;
}

static IcecamMessage *
message_parse (const gchar *text, gsize length, gboolean flat_first, GError **error)
{
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (IcecamMessage) msg = NULL;
  IcecamMessageType type;

  g_return_val_if_fail (text != NULL || length == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (length > ICECAM_PROTOCOL_MAX_MESSAGE_SIZE) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                 "message is %" G_GSIZE_FORMAT " bytes, the limit is %d",
                 length, ICECAM_PROTOCOL_MAX_MESSAGE_SIZE);
    return NULL;
  }
  if (length == 0) {
    g_set_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED,
                 "message is empty, not a JSON object");
    return NULL;
  }
  if (!check_raw_text (text, length, error))
    return NULL;
  object = parse_object (text, length, flat_first, error);
  if (object == NULL || !parse_type (object, &type, error))
    return NULL;

  msg = g_new0 (IcecamMessage, 1);
  msg->type = type;
  if (!parse_fields (object, msg, error) || !message_strings_valid (msg, error))
    return NULL;
  return g_steal_pointer (&msg);
}

IcecamMessage *
icecam_message_parse (const gchar *text, gsize length, GError **error)
{
  return message_parse (text, length, TRUE, error);
}

/* For tests: every text through json-glib, as before the flat reader. */
IcecamMessage *
icecam_message_parse_with_json_glib (const gchar *text, gsize length, GError **error)
{
  return message_parse (text, length, FALSE, error);
}
