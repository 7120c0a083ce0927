/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The web viewer's HTTP answers (src/server/icecam-web-app.c), from an in-process rendezvous:
 * which paths serve what, with which Content-Type and security headers, and what is refused. */

#include <string.h>
#include <libsoup/soup.h>

#include "icecam-test-rendezvous.h"

typedef struct {
  IcecamRendezvous *rendezvous;
} Fixture;

typedef struct {
  guint status;
  gchar *content_type;
  gchar *csp;
  gchar *nosniff;
  gchar *body;
  gsize length;
} Answer;

static void
answer_clear (Answer *a)
{
  g_free (a->content_type);
  g_free (a->csp);
  g_free (a->nosniff);
  g_free (a->body);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Answer, answer_clear)

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;

  f->rendezvous = icecam_test_rendezvous_new (0, FALSE, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  icecam_test_rendezvous_finalize (f->rendezvous);
}

static void
store_result_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static void
request (Fixture *f, const gchar *method, const gchar *path, Answer *a)
{
  g_autofree gchar *uri = g_strdup_printf ("http://127.0.0.1:%u%s",
                                           icecam_rendezvous_get_port (f->rendezvous), path);
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (SoupMessage) msg = soup_message_new (method, uri);
  g_autoptr (GAsyncResult) result = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = NULL;
  SoupMessageHeaders *headers;
  const gchar *value;

  soup_session_set_proxy_resolver (session, NULL);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL, store_result_cb,
                                    &result);
  g_assert_true (WAIT_UNTIL (result != NULL));
  body = soup_session_send_and_read_finish (session, result, &error);
  g_assert_no_error (error);
  headers = soup_message_get_response_headers (msg);
  a->status = soup_message_get_status (msg);
  value = soup_message_headers_get_one (headers, "Content-Type");
  a->content_type = g_strdup (value);
  a->csp = g_strdup (soup_message_headers_get_one (headers, "Content-Security-Policy"));
  a->nosniff = g_strdup (soup_message_headers_get_one (headers, "X-Content-Type-Options"));
  a->body = g_strndup (g_bytes_get_data (body, &a->length), g_bytes_get_size (body));
}

/* The page at / and at /view/ID, with the strict policy. */
static void
test_page (Fixture *f, gconstpointer data)
{
  const gchar *paths[] = { "/", "/view/front-door", "/view/a.b_C-9" };

  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++) {
    g_auto (Answer) a = { 0 };

    request (f, SOUP_METHOD_GET, paths[i], &a);
    g_assert_cmpuint (a.status, ==, SOUP_STATUS_OK);
    g_assert_cmpstr (a.content_type, ==, "text/html; charset=utf-8");
    g_assert_nonnull (strstr (a.body, "<video id=\"video\""));
    g_assert_nonnull (strstr (a.body, "src=\"static/app.js\""));
    g_assert_nonnull (a.csp);
    g_assert_nonnull (strstr (a.csp, "default-src 'none'"));
    g_assert_nonnull (strstr (a.csp, "script-src 'self'"));
    g_assert_null (strstr (a.csp, "unsafe"));
    g_assert_cmpstr (a.nosniff, ==, "nosniff");
  }
}

/* The script and style sheet next to the page, at either depth. */
static void
test_assets (Fixture *f, gconstpointer data)
{
  const struct {
    const gchar *path, *type, *contains;
  } cases[] = {
    { "/static/app.js", "text/javascript; charset=utf-8", "'use strict'" },
    { "/view/static/app.js", "text/javascript; charset=utf-8", "RTCPeerConnection" },
    { "/static/app.css", "text/css; charset=utf-8", "#player" },
    { "/view/static/app.css", "text/css; charset=utf-8", "@media" },
    { "/static/publish.js", "text/javascript; charset=utf-8", "getUserMedia" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_auto (Answer) a = { 0 };

    request (f, SOUP_METHOD_GET, cases[i].path, &a);
    g_assert_cmpuint (a.status, ==, SOUP_STATUS_OK);
    g_assert_cmpstr (a.content_type, ==, cases[i].type);
    g_assert_nonnull (strstr (a.body, cases[i].contains));
    g_assert_nonnull (a.csp);
  }
}

/* Nothing else: other paths 404 (no camera id check passes a '/', '..' or an empty id),
 * other methods 405; HEAD answers the headers alone; /healthz and /ws are still theirs. */
static void
test_refused (Fixture *f, gconstpointer data)
{
  const gchar *missing[] = {
    "/view/", "/view/a/b", "/view/static/other.js", "/static/", "/static/index.html",
    "/view/a%2fb", "/index.htm", "/favicon.ico", "/view/bad%20id",
    "/view/0123456789012345678901234567890123456789012345678901234567890123456789",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (missing); i++) {
    g_auto (Answer) a = { 0 };

    g_test_message ("GET %s", missing[i]);
    request (f, SOUP_METHOD_GET, missing[i], &a);
    g_assert_cmpuint (a.status, ==, SOUP_STATUS_NOT_FOUND);
  }
  {
    g_auto (Answer) a = { 0 };
    request (f, SOUP_METHOD_POST, "/", &a);
    g_assert_cmpuint (a.status, ==, SOUP_STATUS_METHOD_NOT_ALLOWED);
  }
  {
    g_auto (Answer) a = { 0 };
    request (f, SOUP_METHOD_HEAD, "/view/cam", &a);
    g_assert_cmpuint (a.status, ==, SOUP_STATUS_OK);
    g_assert_cmpuint (a.length, ==, 0);
    g_assert_cmpstr (a.content_type, ==, "text/html; charset=utf-8");
  }
  {
    g_auto (Answer) a = { 0 };
    request (f, SOUP_METHOD_GET, "/healthz", &a);
    g_assert_cmpuint (a.status, ==, SOUP_STATUS_OK);
    g_assert_cmpstr (a.content_type, ==, "application/json");
  }
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/web-app/page", Fixture, NULL, fixture_set_up, test_page, fixture_tear_down);
  g_test_add ("/web-app/assets", Fixture, NULL, fixture_set_up, test_assets, fixture_tear_down);
  g_test_add ("/web-app/refused", Fixture, NULL, fixture_set_up, test_refused,
              fixture_tear_down);
  return g_test_run ();
}
