/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What icecam-camera and icecam-view share: ICE options, logging, plugin check. */

#include "icecam-tool.h"

#include "icecam-log.h"
#include "icecam-nat-probe.h"

/* --verbose takes effect while the options are parsed, before the GStreamer option group
 * after this one calls gst_init() (which loads the icecam plugin). */
static gboolean
ice_options_parsed (GOptionContext *context, GOptionGroup *group, gpointer data,
                    GError **error)
{
  const IcecamToolIceOptions *options = data;

  icecam_log_set_verbose (options->verbose);
  return TRUE;
}

/**
 * icecam_tool_ice_option_group:
 * @options: where the parsed options go; must outlive the parse
 *
 * Returns: (transfer full): the options camera and viewer share; parsing them also sets up the
 *   logs (icecam_log_set_verbose())
 */
GOptionGroup *
icecam_tool_ice_option_group (IcecamToolIceOptions *options)
{
  GOptionEntry entries[] = {
    { "stun-server", 0, 0, G_OPTION_ARG_STRING, &options->stun_server,
      "STUN server (default: the one the rendezvous advertises)", "stun:HOST:PORT" },
    { "turn-server", 0, 0, G_OPTION_ARG_STRING_ARRAY, &options->turn_servers,
      "TURN relay (repeatable; default: those the rendezvous advertises)",
      "turn://USER:PASS@HOST:PORT[?transport=udp|tcp]" },
    { "ice-transport-policy", 0, 0, G_OPTION_ARG_STRING, &options->policy,
      "all (default) or relay (TURN only)", "POLICY" },
    { "ice-tcp", 0, 0, G_OPTION_ARG_NONE, &options->ice_tcp,
      "Also use ICE-TCP candidates (RFC 6544)", NULL },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &options->ca_file,
      "Trust these CAs (PEM) for a wss:// rendezvous (default: the system's)", "PATH" },
    { "insecure-tls", 0, 0, G_OPTION_ARG_NONE, &options->insecure_tls,
      "Accept any wss:// certificate (tests only: anyone can impersonate the rendezvous)", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &options->verbose,
      "Log what icecam does (on stderr; GST_DEBUG for GStreamer's logs)", NULL },
    { NULL }
  };
  GOptionGroup *group = g_option_group_new ("ice", "ICE, TLS and logging options:",
                                            "Show ICE, TLS and logging options", options, NULL);

  g_option_group_add_entries (group, entries);
  g_option_group_set_parse_hooks (group, NULL, ice_options_parsed);
  return group;
}

gboolean
icecam_tool_apply_ice_options (const IcecamToolIceOptions *options, GstElement *element,
                               GError **error)
{
  if (options->policy != NULL) {
    if (g_strcmp0 (options->policy, "all") != 0 && g_strcmp0 (options->policy, "relay") != 0) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--ice-transport-policy must be 'all' or 'relay', not '%s'", options->policy);
      return FALSE;
    }
    gst_util_set_object_arg (G_OBJECT (element), "ice-transport-policy", options->policy);
  }
  if (options->stun_server != NULL)
    g_object_set (element, "stun-server", options->stun_server, NULL);
  if (options->turn_servers != NULL)
    g_object_set (element, "turn-servers", options->turn_servers, NULL);
  g_object_set (element, "ice-tcp", options->ice_tcp, "ca-file", options->ca_file,
                "insecure-tls", options->insecure_tls, NULL);
  return TRUE;
}

void
icecam_tool_ice_options_clear (IcecamToolIceOptions *options)
{
  g_clear_pointer (&options->stun_server, g_free);
  g_clear_pointer (&options->turn_servers, g_strfreev);
  g_clear_pointer (&options->policy, g_free);
  g_clear_pointer (&options->ca_file, g_free);
}

/* Run from a build tree, the plugin sits next to the tools. Set before gst_init() so the
 * registry caches it instead of loading it anew at every start. */
void
icecam_tool_use_build_tree_plugin (void)
{
  if (g_getenv ("GST_PLUGIN_PATH_1_0") == NULL && g_getenv ("GST_PLUGIN_PATH") == NULL &&
      g_file_test (ICECAM_PLUGIN_BUILD_DIR, G_FILE_TEST_IS_DIR))
    g_setenv ("GST_PLUGIN_PATH_1_0", ICECAM_PLUGIN_BUILD_DIR, TRUE);
}

/* A missing element is the commonest installation problem: say which, not "no element". */
gboolean
icecam_tool_check_plugin (GError **error)
{
  const gchar *needed[] = { "icecamsink", "icecamsrc", "x264enc", "rtph264pay", "rtph264depay",
                            "videotestsrc", NULL };

  for (guint i = 0; needed[i] != NULL; i++) {
    g_autoptr (GstElementFactory) factory = gst_element_factory_find (needed[i]);

    if (factory == NULL) {
      g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
                   "GStreamer element '%s' is missing; run scripts/setup.sh, and for a build "
                   "tree set GST_PLUGIN_PATH to its plugins/ directory", needed[i]);
      return FALSE;
    }
  }
  return TRUE;
}

static void
nat_probe_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  GAsyncResult **out = user_data;

  *out = g_object_ref (result);
}

/* Runs the probe to its end in the default main context, before the tool's own loop runs. */
static IcecamNatVerdict *
run_nat_probe (const gchar *url, GError **error)
{
  g_autoptr (GSocketConnectable) server = icecam_nat_probe_parse_server (url, error);
  g_autoptr (IcecamNatProbe) probe = NULL;
  g_autoptr (GAsyncResult) result = NULL;

  if (server == NULL)
    return NULL;
  probe = icecam_nat_probe_new (server);
  icecam_nat_probe_run_async (probe, NULL, nat_probe_done_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  return icecam_nat_probe_run_finish (probe, result, error);
}

/**
 * icecam_tool_probe_nat:
 * @tool: the command's name, for the warning when the probe cannot run
 * @rendezvous: the rendezvous URL (its STUN service answers on the same port number)
 * @stun_server: (nullable): the --stun-server option, probed instead when given
 * @nat_type: (out) (transfer full): the classic NAT type, "unknown" if the probe failed
 *
 * Tells what NAT this host is behind (icecam-natprobe's verdict, a few seconds at most), so a
 * session that fails can be explained.
 *
 * Returns: (transfer full): "nat=TYPE mapping=BEHAVIOUR filtering=BEHAVIOUR"
 */
gchar *
icecam_tool_probe_nat (const gchar *tool, const gchar *rendezvous, const gchar *stun_server,
                       gchar **nat_type)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamNatVerdict) verdict = run_nat_probe (stun_server != NULL ? stun_server :
                                                        rendezvous, &error);
  IcecamNatType type;

  if (verdict == NULL) {
    g_printerr ("%s: NAT probe failed: %s\n", tool, error->message);
    *nat_type = g_strdup ("unknown");
    return g_strdup ("nat=unknown mapping=unknown filtering=unknown");
  }
  type = icecam_nat_verdict_get_nat_type (verdict);
  *nat_type = g_strdup (icecam_nat_type_to_string (type));
  return g_strdup_printf ("nat=%s mapping=%s filtering=%s", *nat_type,
                          icecam_nat_behaviour_to_string (verdict->mapping),
                          icecam_nat_behaviour_to_string (verdict->filtering));
}
