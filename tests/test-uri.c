/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests of icecamsrc's URIs (plugins/gsticecamuri.c): pure code, strings in. */

#include <gst/gst.h>
#include <string.h>

#include "gsticecamuri.h"

static void
test_uri_parse_plain (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstIcecamUri) uri = gst_icecam_uri_parse ("icecam://127.0.0.1:9000/frontdoor",
                                                       &error);

  g_assert_no_error (error);
  g_assert_cmpstr (uri->server, ==, "ws://127.0.0.1:9000");
  g_assert_cmpstr (uri->camera_id, ==, "frontdoor");
  g_assert_cmpuint (g_hash_table_size (uri->params), ==, 0);
}

static void
test_uri_parse_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstIcecamUri) plain = gst_icecam_uri_parse ("icecam://cams.example/a.b_c-1", &error);
  g_autoptr (GstIcecamUri) tls = NULL;
  g_autoptr (GstIcecamUri) v6 = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (plain->server, ==, "ws://cams.example:8080");
  g_assert_cmpstr (plain->camera_id, ==, "a.b_c-1");
  tls = gst_icecam_uri_parse ("icecams://cams.example/door", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (tls->server, ==, "wss://cams.example:443");
  v6 = gst_icecam_uri_parse ("icecam://[2001:db8::1]:8443/door", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (v6->server, ==, "ws://[2001:db8::1]:8443");
}

static void
test_uri_parse_params (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GstIcecamUri) uri = gst_icecam_uri_parse (
      "icecams://203.0.113.5:8443/door?token=v1.abc%2Bdef&resume=true"
      "&turn-server=turn%3A%2F%2Fu%3Ap%40203.0.113.9%3A3478&ice-transport-policy=relay",
      &error);

  g_assert_no_error (error);
  g_assert_cmpstr (uri->server, ==, "wss://203.0.113.5:8443");
  g_assert_cmpstr (g_hash_table_lookup (uri->params, "token"), ==, "v1.abc+def");
  g_assert_cmpstr (g_hash_table_lookup (uri->params, "resume"), ==, "true");
  g_assert_cmpstr (g_hash_table_lookup (uri->params, "turn-server"), ==,
                   "turn://u:p@203.0.113.9:3478");
  g_assert_cmpstr (g_hash_table_lookup (uri->params, "ice-transport-policy"), ==, "relay");
}

static void
test_uri_parse_bad (void)
{
  const struct {
    const gchar *uri;
    const gchar *why;
  } cases[] = {
    { "http://127.0.0.1:8080/door", "the scheme must be icecam or icecams" },
    { "icecam://127.0.0.1:8080", "no camera id" },
    { "icecam://127.0.0.1:8080/", "no camera id" },
    { "icecam:///door", "no rendezvous host" },
    { "icecam://127.0.0.1:8080/front/door", "the camera id must be" },
    { "icecam://127.0.0.1:8080/front%20door", "the camera id must be" },
    { "icecam://127.0.0.1:8080/door?server=ws://x", "unknown parameter 'server'" },
    { "icecam://127.0.0.1:8080/door?colour=red", "unknown parameter 'colour'" },
    { "icecam://127.0.0.1:8080/door?token", "parameter 'token' has no value" },
    { "icecam://me:secret@127.0.0.1:8080/door", "give a token as ?token=" },
    { "icecam://127.0.0.1:70000/door", "the port must be" },
    { "not a uri", "" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GstIcecamUri) uri = gst_icecam_uri_parse (cases[i].uri, &error);

    if (uri != NULL)
      g_error ("%s: accepted", cases[i].uri);
    g_assert_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI);
    if (strstr (error->message, cases[i].why) == NULL)
      g_error ("%s: '%s' does not say '%s'", cases[i].uri, error->message, cases[i].why);
  }
}

static void
test_uri_build (void)
{
  g_autofree gchar *plain = gst_icecam_uri_build ("ws://127.0.0.1:9000", "door");
  g_autofree gchar *tls = gst_icecam_uri_build ("wss://cams.example", "door");
  g_autofree gchar *port80 = gst_icecam_uri_build ("ws://cams.example/ws", "door");
  g_autofree gchar *none = gst_icecam_uri_build ("ws://127.0.0.1:9000", NULL);
  g_autofree gchar *http = gst_icecam_uri_build ("http://127.0.0.1:9000", "door");

  g_assert_cmpstr (plain, ==, "icecam://127.0.0.1:9000/door");
  g_assert_cmpstr (tls, ==, "icecams://cams.example/door");
  g_assert_cmpstr (port80, ==, "icecam://cams.example:80/door");
  g_assert_null (none);
  g_assert_null (http);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/uri/parse/plain", test_uri_parse_plain);
  g_test_add_func ("/uri/parse/defaults", test_uri_parse_defaults);
  g_test_add_func ("/uri/parse/params", test_uri_parse_params);
  g_test_add_func ("/uri/parse/bad", test_uri_parse_bad);
  g_test_add_func ("/uri/build", test_uri_build);
  return g_test_run ();
}
