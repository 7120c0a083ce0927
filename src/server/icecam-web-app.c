/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The web viewer the rendezvous serves at / and /view/CAMERA, from the binary's resources. */

#include "icecam-web-app.h"

#include <string.h>

#include "icecam-web-resources.h"

/**
 * SECTION:icecam-web-app
 * @title: Web viewer
 * @short_description: the browser viewer's page, script and style sheet
 *
 * The files of src/server/web/ are compiled into the binary (GResource). `/` and
 * `/view/CAMERA` answer the page; its script and style sheet are `static/app.js` and
 * `static/app.css` relative to it, so both `/static/...` and `/view/static/...` serve them
 * (camera ids cannot hold a '/', so no camera is shadowed; behind a proxy that adds a path
 * prefix the page still finds them). Every answer carries a strict Content-Security-Policy:
 * the page loads nothing but its own files and talks only to its own origin (the WebSocket
 * at `ws`). GET and HEAD only; any other path gets 404.
 *
 * Threading: the handler runs in the #GMainContext the #SoupServer serves in.
 */

#define RESOURCE_PREFIX "/org/icecam/web/"

/* Nothing but the page's own script, style sheet and WebSocket; no framing, no forms, no
 * <base>. The video plays a MediaStream (srcObject), which needs no media-src. */
#define CONTENT_SECURITY_POLICY \
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; " \
  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

typedef struct {
  const gchar *name;          /* under static/ and in the resource */
  const gchar *content_type;
} Asset;

static const Asset assets[] = {
  { "app.js", "text/javascript; charset=utf-8" },
  { "app.css", "text/css; charset=utf-8" },
  { "publish.js", "text/javascript; charset=utf-8" },
};

/* A camera id as docs/protocol.md defines it. */
static gboolean
is_camera_id (const gchar *text, gsize length)
{
  if (length == 0 || length > 64)
    return FALSE;
  for (gsize i = 0; i < length; i++) {
    gchar c = text[i];
    if (!g_ascii_isalnum (c) && c != '.' && c != '_' && c != '-')
      return FALSE;
  }
  return TRUE;
}

/* The page at "/" and "/view/ID". */
static gboolean
is_page_path (const gchar *path)
{
  const gchar *id;
  gsize length;

  if (strcmp (path, "/") == 0 || strcmp (path, "/index.html") == 0)
    return TRUE;
  if (!g_str_has_prefix (path, "/view/"))
    return FALSE;
  id = path + strlen ("/view/");
  length = strlen (id);
  return is_camera_id (id, length);
}

/* The asset at "/static/NAME" or "/view/static/NAME", or NULL. */
static const Asset *
find_asset (const gchar *path)
{
  const gchar *name;

  if (g_str_has_prefix (path, "/view/"))
    path += strlen ("/view");
  if (!g_str_has_prefix (path, "/static/"))
    return NULL;
  name = path + strlen ("/static/");
  for (gsize i = 0; i < G_N_ELEMENTS (assets); i++)
    if (strcmp (name, assets[i].name) == 0)
      return &assets[i];
  return NULL;
}

static void
respond_status (SoupServerMessage *msg, guint status)
{
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
  soup_server_message_set_status (msg, status, NULL);
}

static void
respond_resource (SoupServerMessage *msg, const gchar *name, const gchar *content_type)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  g_autofree gchar *resource = g_strconcat (RESOURCE_PREFIX, name, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = g_resources_lookup_data (resource, G_RESOURCE_LOOKUP_FLAGS_NONE,
                                                     &error);

  if (body == NULL) {
    /* Only a build that lost its resources gets here. */
    g_warning ("web app: %s: %s", resource, error->message);
    respond_status (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR);
    return;
  }
  /* One answer per connection, like the other plain HTTP answers (icecam-http-endpoints.c). */
  soup_message_headers_replace (headers, "Connection", "close");
  soup_message_headers_replace (headers, "Content-Security-Policy", CONTENT_SECURITY_POLICY);
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (headers, "X-Frame-Options", "DENY");
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_COPY,
                                    g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

static void
on_server_web_app (SoupServer *server, SoupServerMessage *msg, const char *path,
                   GHashTable *query, gpointer user_data)
{
  const gchar *method = soup_server_message_get_method (msg);
  const Asset *asset;

  if (is_page_path (path))
    asset = NULL;
  else if ((asset = find_asset (path)) == NULL) {
    respond_status (msg, SOUP_STATUS_NOT_FOUND);
    return;
  }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                  "GET, HEAD");
    respond_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED);
    return;
  }
  if (asset == NULL)
    respond_resource (msg, "index.html", "text/html; charset=utf-8");
  else
    respond_resource (msg, asset->name, asset->content_type);
}

/**
 * icecam_web_app_add:
 * @server: the server to answer on
 *
 * Adds the web viewer's handler for `/` (and so for every path no more specific handler
 * claims: those that are not the viewer's get 404).
 */
void
icecam_web_app_add (SoupServer *server)
{
  g_return_if_fail (SOUP_IS_SERVER (server));

  /* Compiled with --manual-register: a constructor in a static library's object may be
   * dropped by the linker, so the resources are registered here, once. */
  static gsize registered = 0;
  if (g_once_init_enter (&registered)) {
    icecam_web_register_resource ();
    g_once_init_leave (&registered, 1);
  }
  soup_server_add_handler (server, "/", on_server_web_app, NULL, NULL);
}
