/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecamsrc's URIs: icecam://HOST[:PORT]/CAMERA[?PROPERTY=VALUE&...] to and from the element's
 * server and camera-id. */

#include "gsticecamuri.h"

#include <string.h>

#include "icecam-protocol.h"

/* The rendezvous listens on 8080 unless told otherwise; behind a TLS proxy it is at 443. */
#define DEFAULT_PORT 8080
#define DEFAULT_TLS_PORT 443

/* The properties a URI may set: not server and camera-id (the URI's own parts), not the
 * read-only stats, not turn-servers (a list: use turn-server, or the property). */
static const gchar * const param_names[] = {
  "token", "camera-fingerprint", "resume", "stun-server", "turn-server",
  "ice-transport-policy", "ice-tcp", "port-step", "ca-file", "insecure-tls", "region",
  "turn-ca-file", NULL
};

/**
 * gst_icecam_uri_param_names:
 *
 * Returns: (transfer none): the query parameters gst_icecam_uri_parse() accepts
 */
const gchar * const *
gst_icecam_uri_param_names (void)
{
  return param_names;
}

void
gst_icecam_uri_free (GstIcecamUri *uri)
{
  if (uri == NULL)
    return;
  g_free (uri->server);
  g_free (uri->camera_id);
  g_clear_pointer (&uri->params, g_hash_table_unref);
  g_free (uri);
}

static gboolean
bad_uri (GError **error, const gchar *uri, const gchar *why)
{
  g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
               "bad icecam URI '%s': %s (icecam://HOST:PORT/CAMERA, or icecams:// for a "
               "rendezvous over TLS)", uri, why);
  return FALSE;
}

static gboolean
parse_query (GstUri *parsed, const gchar *uri, GHashTable *params, GError **error)
{
  g_autoptr (GList) keys = gst_uri_get_query_keys (parsed);

  for (GList *l = keys; l != NULL; l = l->next) {
    const gchar *key = l->data;
    const gchar *value = gst_uri_get_query_value (parsed, key);

    if (!g_strv_contains (param_names, key)) {
      g_autofree gchar *known = g_strjoinv (", ", (gchar **) param_names);
      g_autofree gchar *why = g_strdup_printf ("unknown parameter '%s' (known: %s)", key, known);

      return bad_uri (error, uri, why);
    }
    if (value == NULL) {
      g_autofree gchar *why = g_strdup_printf ("parameter '%s' has no value", key);

      return bad_uri (error, uri, why);
    }
    g_hash_table_insert (params, g_strdup (key), g_strdup (value));
  }
  return TRUE;
}

/**
 * gst_icecam_uri_parse:
 * @uri: icecam://HOST[:PORT]/CAMERA or icecams://..., with optional ?PROPERTY=VALUE&...
 *
 * The port defaults to 8080 (icecam://) or 443 (icecams://). Property values are checked
 * by the element that sets them, not here.
 *
 * Returns: (transfer full) (nullable): the parts, or %NULL with a GST_URI_ERROR_BAD_URI
 *   saying what is wrong
 */
GstIcecamUri *
gst_icecam_uri_parse (const gchar *uri, GError **error)
{
  g_autoptr (GstUri) parsed = NULL;
  g_autoptr (GstIcecamUri) out = g_new0 (GstIcecamUri, 1);
  g_autofree gchar *path = NULL;
  const gchar *scheme, *host;
  const gchar *camera;
  guint port;
  gboolean tls;

  if (uri == NULL) {
    bad_uri (error, "(null)", "no URI");
    return NULL;
  }
  parsed = gst_uri_from_string (uri);
  if (parsed == NULL) {
    bad_uri (error, uri, "not a URI");
    return NULL;
  }
  scheme = gst_uri_get_scheme (parsed);
  if (scheme == NULL || (g_ascii_strcasecmp (scheme, "icecam") != 0 &&
                         g_ascii_strcasecmp (scheme, "icecams") != 0)) {
    bad_uri (error, uri, "the scheme must be icecam or icecams");
    return NULL;
  }
  tls = g_ascii_strcasecmp (scheme, "icecams") == 0;
  host = gst_uri_get_host (parsed);
  if (host == NULL || *host == '\0') {
    bad_uri (error, uri, "no rendezvous host");
    return NULL;
  }
  if (gst_uri_get_userinfo (parsed) != NULL) {
    bad_uri (error, uri, "user information is not used; give a token as ?token=");
    return NULL;
  }
  /* GST_URI_NO_PORT is 0: a port of 0 is taken as none. */
  port = gst_uri_get_port (parsed);
  if (port == GST_URI_NO_PORT)
    port = tls ? DEFAULT_TLS_PORT : DEFAULT_PORT;
  else if (port > 65535) {
    bad_uri (error, uri, "the port must be at most 65535");
    return NULL;
  }
  path = gst_uri_get_path (parsed);
  camera = path != NULL && path[0] == '/' ? path + 1 : NULL;
  if (camera == NULL || *camera == '\0') {
    bad_uri (error, uri, "no camera id after the host");
    return NULL;
  }
  if (!icecam_protocol_id_is_valid (camera)) {
    bad_uri (error, uri, "the camera id must be 1..64 characters of A-Z a-z 0-9 . _ -");
    return NULL;
  }
  if (gst_uri_get_fragment (parsed) != NULL) {
    bad_uri (error, uri, "a fragment (#...) means nothing here");
    return NULL;
  }
  out->params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (!parse_query (parsed, uri, out->params, error))
    return NULL;
  out->camera_id = g_strdup (camera);
  out->server = g_strdup_printf (strchr (host, ':') != NULL ? "%s://[%s]:%u" : "%s://%s:%u",
                                 tls ? "wss" : "ws", host, port);
  return g_steal_pointer (&out);
}

/**
 * gst_icecam_uri_build:
 * @server: (nullable): ws://HOST:PORT or wss://HOST:PORT
 * @camera_id: (nullable): the camera's id
 *
 * The URI of a camera, without parameters (the token stays out of it).
 *
 * Returns: (transfer full) (nullable): the URI, or %NULL when @server or @camera_id is
 *   unset or invalid, or @server is not a ws:// or wss:// URL with a host
 */
gchar *
gst_icecam_uri_build (const gchar *server, const gchar *camera_id)
{
  g_autoptr (GstUri) parsed = NULL;
  g_autoptr (GstUri) out = NULL;
  g_autofree gchar *path = NULL;
  const gchar *scheme;
  guint port;

  if (server == NULL || !icecam_protocol_id_is_valid (camera_id))
    return NULL;
  parsed = gst_uri_from_string (server);
  if (parsed == NULL || gst_uri_get_host (parsed) == NULL)
    return NULL;
  scheme = gst_uri_get_scheme (parsed);
  if (scheme == NULL || (g_ascii_strcasecmp (scheme, "ws") != 0 &&
                         g_ascii_strcasecmp (scheme, "wss") != 0))
    return NULL;
  /* ws://HOST means port 80, which an icecam:// URI without a port does not. */
  port = gst_uri_get_port (parsed);
  if (port == GST_URI_NO_PORT && g_ascii_strcasecmp (scheme, "ws") == 0)
    port = 80;
  path = g_strconcat ("/", camera_id, NULL);
  out = gst_uri_new (g_ascii_strcasecmp (scheme, "wss") == 0 ? "icecams" : "icecam", NULL,
                     gst_uri_get_host (parsed), port, path, NULL, NULL);
  return gst_uri_to_string (out);
}
