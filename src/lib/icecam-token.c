/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Access grants: viewer tokens, camera proofs over a nonce, random nonces, secret compares. */

#include "icecam-token.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/random.h>

#define TOKEN_PREFIX "v1."
#define MAX_TOKEN_CAMERAS 256

G_DEFINE_QUARK (icecam-token-error-quark, icecam_token_error)

/* base64url without padding (RFC 4648 section 5): safe in JSON, URLs and shells. */
static gchar *
base64url_encode (const guint8 *data, gsize len)
{
  gchar *s = g_base64_encode (data, len);

  g_strdelimit (s, "+", '-');
  g_strdelimit (s, "/", '_');
  for (gchar *end = s + strlen (s); end > s && end[-1] == '='; end--)
    end[-1] = '\0';
  return s;
}

static guint8 *
base64url_decode (const gchar *text, gsize *len)
{
  gsize n = strlen (text);
  g_autofree gchar *s = g_malloc (n + 4);

  for (gsize i = 0; i < n; i++) {
    gchar c = text[i];

    if (!g_ascii_isalnum (c) && c != '-' && c != '_')
      return NULL;
    s[i] = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  while (n % 4 != 0)
    s[n++] = '=';
  s[n] = '\0';
  return g_base64_decode (s, len);
}

static gchar *
hmac_sha256_base64url (const gchar *key, const gchar *message)
{
  g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guchar *) key, strlen (key));
  guint8 digest[32];
  gsize len = sizeof digest;

  g_hmac_update (hmac, (const guchar *) message, -1);
  g_hmac_get_digest (hmac, digest, &len);
  return base64url_encode (digest, len);
}

/**
 * icecam_secret_equal:
 * @expected: the secret held
 * @given: (nullable): what a peer presented
 *
 * Compares in time independent of where the strings differ (only of their lengths): no timing
 * oracle for forgers.
 *
 * Returns: whether @given is @expected
 */
gboolean
icecam_secret_equal (const gchar *expected, const gchar *given)
{
  const gchar *a = expected, *b = given;
  gsize la, lb;

  if (expected == NULL || given == NULL)
    return FALSE;
  la = strlen (a);
  lb = strlen (b);
  guint8 diff = la != lb;

  for (gsize i = 0; i < la && i < lb; i++)
    diff |= (guint8) (a[i] ^ b[i]);
  return diff == 0;
}

/**
 * icecam_token_mint:
 * @key: the rendezvous's token key
 * @cameras: (array zero-terminated=1): the camera ids granted, or just "*" for all
 * @expiry_unix: when the grant ends, seconds since the epoch
 *
 * Returns: (transfer full): "v1.<payload>.<HMAC-SHA256 signature>", both base64url
 */
gchar *
icecam_token_mint (const gchar *key, const gchar * const *cameras, gint64 expiry_unix)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *json = NULL;
  g_autofree gchar *payload = NULL;
  g_autofree gchar *signed_part = NULL;
  g_autofree gchar *signature = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "cameras");
  json_builder_begin_array (builder);
  for (guint i = 0; cameras != NULL && cameras[i] != NULL; i++)
    json_builder_add_string_value (builder, cameras[i]);
  json_builder_end_array (builder);
  json_builder_set_member_name (builder, "exp");
  json_builder_add_int_value (builder, expiry_unix);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, NULL);

  payload = base64url_encode ((const guint8 *) json, strlen (json));
  signed_part = g_strconcat (TOKEN_PREFIX, payload, NULL);
  signature = hmac_sha256_base64url (key, signed_part);
  return g_strconcat (signed_part, ".", signature, NULL);
}

static gboolean
parse_payload (const gchar *json, gsize len, gchar ***cameras, gint64 *expiry, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonObject *object;
  JsonArray *array;
  GPtrArray *ids;

  if (!json_parser_load_from_data (parser, json, (gssize) len, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    goto malformed;
  object = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (object, "exp") || !json_object_has_member (object, "cameras") ||
      !JSON_NODE_HOLDS_ARRAY (json_object_get_member (object, "cameras")) ||
      json_node_get_value_type (json_object_get_member (object, "exp")) != G_TYPE_INT64)
    goto malformed;
  array = json_object_get_array_member (object, "cameras");
  if (json_array_get_length (array) > MAX_TOKEN_CAMERAS)
    goto malformed;
  ids = g_ptr_array_new ();
  for (guint i = 0; i < json_array_get_length (array); i++) {
    JsonNode *node = json_array_get_element (array, i);

    if (json_node_get_value_type (node) != G_TYPE_STRING) {
      g_ptr_array_free (ids, TRUE);
      goto malformed;
    }
    g_ptr_array_add (ids, g_strdup (json_node_get_string (node)));
  }
  g_ptr_array_add (ids, NULL);
  *cameras = (gchar **) g_ptr_array_free (ids, FALSE);
  *expiry = json_object_get_int_member (object, "exp");
  return TRUE;

malformed:
  g_set_error (error, ICECAM_TOKEN_ERROR, ICECAM_TOKEN_ERROR_MALFORMED,
               "the token's content is not a grant");
  return FALSE;
}

/**
 * icecam_token_verify:
 * @key: the rendezvous's token key
 * @token: what a viewer presented
 * @now_unix: the current time
 * @cameras: (out) (transfer full) (array zero-terminated=1): the cameras granted
 * @expiry_unix: (out): when the grant ends
 * @error: an %ICECAM_TOKEN_ERROR
 *
 * Checks the signature before looking at the content.
 *
 * Returns: %TRUE if the token is ours and still valid
 */
gboolean
icecam_token_verify (const gchar *key, const gchar *token, gint64 now_unix, gchar ***cameras,
                     gint64 *expiry_unix, GError **error)
{
  g_auto (GStrv) parts = NULL;
  g_autofree gchar *signed_part = NULL;
  g_autofree gchar *expected = NULL;
  g_autofree guint8 *json = NULL;
  gsize len = 0;

  parts = g_strsplit (token, ".", 4);
  if (g_strv_length (parts) != 3 || !g_str_equal (parts[0], "v1")) {
    g_set_error (error, ICECAM_TOKEN_ERROR, ICECAM_TOKEN_ERROR_MALFORMED,
                 "not an icecam token (expected v1.<payload>.<signature>)");
    return FALSE;
  }
  signed_part = g_strconcat (TOKEN_PREFIX, parts[1], NULL);
  expected = hmac_sha256_base64url (key, signed_part);
  if (!icecam_secret_equal (expected, parts[2])) {
    g_set_error (error, ICECAM_TOKEN_ERROR, ICECAM_TOKEN_ERROR_SIGNATURE,
                 "the token's signature is not this rendezvous's");
    return FALSE;
  }
  json = base64url_decode (parts[1], &len);
  if (json == NULL || !parse_payload ((const gchar *) json, len, cameras, expiry_unix, error)) {
    if (error != NULL && *error == NULL)
      g_set_error (error, ICECAM_TOKEN_ERROR, ICECAM_TOKEN_ERROR_MALFORMED,
                   "the token's content is not base64url");
    return FALSE;
  }
  if (*expiry_unix <= now_unix) {
    g_set_error (error, ICECAM_TOKEN_ERROR, ICECAM_TOKEN_ERROR_EXPIRED,
                 "the token expired %" G_GINT64_FORMAT " s ago", now_unix - *expiry_unix);
    g_clear_pointer (cameras, g_strfreev);
    return FALSE;
  }
  return TRUE;
}

/**
 * icecam_token_grants:
 * @cameras: (array zero-terminated=1): a token's cameras
 *
 * Returns: whether they include @camera
 */
gboolean
icecam_token_grants (const gchar * const *cameras, const gchar *camera)
{
  if (cameras == NULL)
    return FALSE;
  if (cameras[0] != NULL && cameras[1] == NULL && g_str_equal (cameras[0], ICECAM_TOKEN_ANY_CAMERA))
    return TRUE;
  return g_strv_contains (cameras, camera);
}

/**
 * icecam_camera_proof:
 * @secret: the camera's provisioned secret
 * @camera_id: its id
 * @nonce: the rendezvous's challenge for this connection
 *
 * Returns: (transfer full): base64url (HMAC-SHA256 (secret, "icecam-camera:" id ":" nonce)):
 *   proves the secret without revealing it, and is worthless on any other connection
 */
gchar *
icecam_camera_proof (const gchar *secret, const gchar *camera_id, const gchar *nonce)
{
  g_autofree gchar *message = g_strconcat ("icecam-camera:", camera_id, ":", nonce, NULL);

  return hmac_sha256_base64url (secret, message);
}

gboolean
icecam_camera_proof_check (const gchar *secret, const gchar *camera_id, const gchar *nonce,
                           const gchar *proof)
{
  g_autofree gchar *expected = icecam_camera_proof (secret, camera_id, nonce);

  return icecam_secret_equal (expected, proof);
}

/**
 * icecam_random_hex:
 * @n_bytes: how many random bytes, at most 64
 *
 * Returns: (transfer full): @n_bytes from the kernel's CSPRNG, as hex
 */
gchar *
icecam_random_hex (gsize n_bytes)
{
  guint8 bytes[64];
  GString *hex = g_string_new (NULL);
  gsize got = 0;

  g_return_val_if_fail (n_bytes <= sizeof bytes, NULL);
  while (got < n_bytes) {
    ssize_t r = getrandom (bytes + got, n_bytes - got, 0);

    if (r > 0)
      got += (gsize) r;
  }
  for (gsize i = 0; i < n_bytes; i++)
    g_string_append_printf (hex, "%02x", bytes[i]);
  return g_string_free (hex, FALSE);
}
