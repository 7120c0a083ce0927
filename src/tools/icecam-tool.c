/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What icecam-camera and icecam-view share: ICE options, logging, plugin check. */

#include "icecam-tool.h"

#include <gmodule.h>
#include <locale.h>
#include <string.h>

#include "icecam-certificate.h"
#include "icecam-ice-config.h"
#include "icecam-log.h"
#include "icecam-nat-probe.h"
#include "icecam-protocol.h"
#include "icecam-punch-session.h"
#include "icecam-signalling-client.h"

/* --verbose takes effect while the options are parsed, before the GStreamer option group
 * after this one calls gst_init() (which loads the icecam plugin). */
static gboolean
ice_options_parsed (GOptionContext *context, GOptionGroup *group, gpointer data,
                    GError **error)
{
  const IcecamToolIceOptions *options = data;

  icecam_log_set_verbose (options->verbose);
  /* The first thread of the process: the logs' setup above must come before any. The
   * GStreamer group after this one calls gst_init() next. */
  if (options->preload_plugin)
    icecam_tool_preload_plugin ();
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
    { "punch-tcp", 0, 0, G_OPTION_ARG_NONE, &options->punch_tcp,
      "Once relayed, open a direct TCP path through both NATs (TCP simultaneous open) and "
      "move the media there (--nat-probe sets it when UDP is blocked)", NULL },
    { "ca-file", 0, 0, G_OPTION_ARG_FILENAME, &options->ca_file,
      "Trust these CAs (PEM) for a wss:// rendezvous (default: the system's)", "PATH" },
    { "insecure-tls", 0, 0, G_OPTION_ARG_NONE, &options->insecure_tls,
      "Accept any wss:// certificate (tests only: anyone can impersonate the rendezvous)", NULL },
    { "turn-ca", 0, 0, G_OPTION_ARG_FILENAME, &options->turn_ca_file,
      "Trust these CAs (PEM) for turns: relays, reached over real TLS (default: the system's)",
      "PATH" },
    { "region", 0, 0, G_OPTION_ARG_STRING, &options->region,
      "A region hint for the rendezvous: sessions get a relay of this region first",
      "NAME" },
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
  if (options->port_step != 0)
    g_object_set (element, "port-step", options->port_step, NULL);
  if (options->relay_grace_ms != 0)
    g_object_set (element, "relay-grace", options->relay_grace_ms, NULL);
  if (options->punch != 0)
    g_object_set (element, "punch", options->punch, NULL);
  if (options->punch_tcp)
    g_object_set (element, "punch-tcp", TRUE, NULL);
  g_object_set (element, "ice-tcp", options->ice_tcp, "ca-file", options->ca_file,
                "insecure-tls", options->insecure_tls, "region", options->region,
                "turn-ca-file", options->turn_ca_file, NULL);
  return TRUE;
}

void
icecam_tool_ice_options_clear (IcecamToolIceOptions *options)
{
  g_clear_pointer (&options->stun_server, g_free);
  g_clear_pointer (&options->turn_servers, g_strfreev);
  g_clear_pointer (&options->policy, g_free);
  g_clear_pointer (&options->ca_file, g_free);
  g_clear_pointer (&options->region, g_free);
  g_clear_pointer (&options->turn_ca_file, g_free);
}

/* Whether this process's executable lies in the build tree it was built in (not an installed
 * copy, which must use the installed plugin even on the machine that built it). */
static gboolean
running_from_build_tree (void)
{
  g_autofree gchar *exe = g_file_read_link ("/proc/self/exe", NULL);

  return exe != NULL && g_str_has_prefix (exe, ICECAM_BUILD_ROOT "/");
}

/* Run from a build tree, the plugin sits next to the tools. Set before gst_init() so the
 * registry caches it instead of loading it anew at every start. */
void
icecam_tool_use_build_tree_plugin (void)
{
  if (g_getenv ("GST_PLUGIN_PATH_1_0") == NULL && g_getenv ("GST_PLUGIN_PATH") == NULL &&
      running_from_build_tree () && g_file_test (ICECAM_PLUGIN_BUILD_DIR, G_FILE_TEST_IS_DIR))
    g_setenv ("GST_PLUGIN_PATH_1_0", ICECAM_PLUGIN_BUILD_DIR, TRUE);
}

/* Where GStreamer will load the icecam plugin from: the first directory of GST_PLUGIN_PATH
 * that holds it, else the installed one. NULL if neither has it. */
static gchar *
find_plugin_file (void)
{
  const gchar *paths[] = { g_getenv ("GST_PLUGIN_PATH_1_0"), g_getenv ("GST_PLUGIN_PATH") };

  for (guint i = 0; i < G_N_ELEMENTS (paths); i++) {
    g_auto (GStrv) dirs = paths[i] ? g_strsplit (paths[i], G_SEARCHPATH_SEPARATOR_S, -1) : NULL;

    for (guint j = 0; dirs && dirs[j]; j++) {
      g_autofree gchar *file = g_build_filename (dirs[j], "libgsticecam.so", NULL);

      if (dirs[j][0] != '\0' && g_file_test (file, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&file);
    }
  }
  if (g_file_test (ICECAM_PLUGIN_INSTALL_DIR "/libgsticecam.so", G_FILE_TEST_IS_REGULAR))
    return g_strdup (ICECAM_PLUGIN_INSTALL_DIR "/libgsticecam.so");
  return NULL;
}

static gpointer
preload_plugin_thread (gpointer data)
{
  g_autofree gchar *file = data;

  /* The flags GStreamer opens plugins with: its own g_module_open() of this file then finds
   * it loaded. Never closed, as GStreamer never unloads a plugin. */
  if (g_module_open (file, G_MODULE_BIND_LOCAL) == NULL)
    g_debug ("preloading %s: %s", file, g_module_error ());
  return NULL;
}

/**
 * icecam_tool_preload_plugin:
 *
 * Starts loading the icecam plugin's shared object, and with it the ~40 libraries it links
 * (libnice with GnuTLS and gupnp-igd, OpenSSL, libsrtp2 with NSS, ...), in a thread of its
 * own: ~13 ms that then overlap gst_init()'s reading of the registry (~10 ms) instead of
 * following it when the first icecam element is made. Nothing of the plugin runs (no
 * plugin_init, no type registered) until GStreamer loads it itself. Runs when the ICE
 * options are parsed if #IcecamToolIceOptions.preload_plugin is set: after
 * icecam_tool_use_build_tree_plugin() and the logs' setup (which must precede any thread),
 * before gst_init().
 */
void
icecam_tool_preload_plugin (void)
{
  gchar *file = find_plugin_file ();

  if (file != NULL)
    g_thread_unref (g_thread_new ("icecam-preload", preload_plugin_thread, file));
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
 * @ice: where the findings go: @ice->port_step, for a NAT that maps each destination to a
 *   new port counting by a steady step (sequential symmetric), that step, else 0 (the
 *   element's port-step); @ice->relay_grace_ms, behind a NAT that filters by address only (a
 *   restricted cone), %ICECAM_TOOL_RELAY_GRACE_MS, else 0 (the element's relay-grace);
 *   @ice->punch: random behind a symmetric NAT with random ports, sequential behind one that
 *   counts, cone behind one with an endpoint-independent mapping, else none (the element's
 *   punch); @ice->punch_tcp set when UDP is blocked (the element's punch-tcp; never cleared)
 *
 * Tells what NAT this host is behind (icecam-natprobe's verdict, a few seconds at most), so a
 * session that fails can be explained, and a sequential symmetric NAT's ports predicted.
 *
 * Returns: (transfer full): "nat=TYPE mapping=BEHAVIOUR filtering=BEHAVIOUR"
 */
gchar *
icecam_tool_probe_nat (const gchar *tool, const gchar *rendezvous, const gchar *stun_server,
                       gchar **nat_type, IcecamToolIceOptions *ice)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamNatVerdict) verdict = run_nat_probe (stun_server != NULL ? stun_server :
                                                        rendezvous, &error);
  IcecamNatType type;

  ice->port_step = 0;
  ice->relay_grace_ms = 0;
  ice->punch = ICECAM_PUNCH_MAPPING_NONE;
  if (verdict == NULL) {
    g_printerr ("%s: NAT probe failed: %s\n", tool, error->message);
    *nat_type = g_strdup ("unknown");
    return g_strdup ("nat=unknown mapping=unknown filtering=unknown ports=unknown");
  }
  type = icecam_nat_verdict_get_nat_type (verdict);
  *nat_type = g_strdup (icecam_nat_type_to_string (type));
  /* Only TCP leaves this host: a direct TCP path beats TURN over TCP. */
  if (type == ICECAM_NAT_TYPE_UDP_BLOCKED)
    ice->punch_tcp = TRUE;
  if (verdict->port_allocation == ICECAM_NAT_PORTS_SEQUENTIAL) {
    ice->port_step = verdict->port_delta; /* distinct ports per destination: not a cone */
    ice->punch = ICECAM_PUNCH_MAPPING_SEQUENTIAL;
  }
  /* Only behind a restricted cone does a direct pair wait for the peer's second check
   * (docs/design.md, "Relay grace"); a port-restricted one lets no symmetric peer in at
   * all, and waiting there would only delay the relay. */
  if (verdict->mapping == ICECAM_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT &&
      verdict->filtering == ICECAM_NAT_BEHAVIOUR_ADDRESS_DEPENDENT)
    ice->relay_grace_ms = ICECAM_TOOL_RELAY_GRACE_MS;
  if (verdict->port_allocation == ICECAM_NAT_PORTS_RANDOM &&
      verdict->mapping != ICECAM_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT)
    ice->punch = ICECAM_PUNCH_MAPPING_RANDOM;
  else if (verdict->mapping == ICECAM_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT &&
           type != ICECAM_NAT_TYPE_OPEN)
    ice->punch = ICECAM_PUNCH_MAPPING_CONE;
  if (verdict->port_allocation == ICECAM_NAT_PORTS_SEQUENTIAL)
    return g_strdup_printf ("nat=%s mapping=%s filtering=%s ports=sequential port-step=%d",
                            *nat_type, icecam_nat_behaviour_to_string (verdict->mapping),
                            icecam_nat_behaviour_to_string (verdict->filtering),
                            verdict->port_delta);
  return g_strdup_printf ("nat=%s mapping=%s filtering=%s ports=%s", *nat_type,
                          icecam_nat_behaviour_to_string (verdict->mapping),
                          icecam_nat_behaviour_to_string (verdict->filtering),
                          icecam_nat_port_allocation_to_string (verdict->port_allocation));
}

/* Logs the commands report themselves (each event once, from the element's bus message)
 * stay quiet without --verbose: libicecam's g_message() lines repeat what the tool prints. */
static GLogWriterOutput
quiet_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields,
                  gpointer user_data)
{
  const gboolean *verbose = user_data;

  if ((level & G_LOG_LEVEL_MESSAGE) != 0 && !*verbose) {
    for (gsize i = 0; i < n_fields; i++) {
      if (g_str_equal (fields[i].key, "GLIB_DOMAIN") && fields[i].length < 0 &&
          g_str_equal ((const gchar *) fields[i].value, "icecam"))
        return G_LOG_WRITER_HANDLED;
    }
  }
  return g_log_writer_default (level, fields, n_fields, user_data);
}

/**
 * icecam_tool_init:
 * @verbose: the --verbose option, read at each message: it must outlive the command
 *
 * What every command does first: the user's locale (quotes and dashes print as such, not as
 * '?'), logs on stderr, and libicecam's informational messages left to --verbose.
 */
void
icecam_tool_init (const gboolean *verbose)
{
  setlocale (LC_ALL, "");
  g_log_writer_default_set_use_stderr (TRUE);
  g_log_set_writer_func (quiet_log_writer, (gpointer) verbose, NULL);
}

GOptionEntry
icecam_tool_version_entry (gboolean *version)
{
  GOptionEntry entry = { "version", 0, 0, G_OPTION_ARG_NONE, version,
                         "Print the version and exit", NULL };

  return entry;
}

void
icecam_tool_print_version (const gchar *tool)
{
  guint major, minor, micro, nano;

  gst_version (&major, &minor, &micro, &nano);
  g_print ("%s %s (GStreamer %u.%u.%u, GLib %u.%u.%u)\n", tool, ICECAM_VERSION, major, minor,
           micro, glib_major_version, glib_minor_version, glib_micro_version);
}

/* The commands take options only: a stray word is most likely a mistyped option's value. */
gboolean
icecam_tool_check_arguments (int argc, char **argv, GError **error)
{
  if (argc <= 1)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
               "unexpected argument '%s' (every setting is an option, see --help)", argv[1]);
  return FALSE;
}

gboolean
icecam_tool_check_range (const gchar *option, gint value, gint min, gint max, GError **error)
{
  if (value >= min && value <= max)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "%s must be %d to %d, not %d", option, min, max, value);
  return FALSE;
}

/* The checks the elements would make when they start, made before: the option is named. */
gboolean
icecam_tool_check_server (const gchar *url, GError **error)
{
  g_autoptr (IcecamSignallingClient) client = NULL;
  g_autoptr (GError) local_error = NULL;

  client = icecam_signalling_client_new (url, ICECAM_ROLE_VIEWER, NULL, &local_error);
  if (client != NULL)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "--server: '%s' is not a ws://HOST:PORT or wss://HOST:PORT URL", url);
  return FALSE;
}

gboolean
icecam_tool_check_id (const gchar *option, const gchar *id, GError **error)
{
  if (icecam_protocol_id_is_valid (id))
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "%s: '%s' is not an id (1 to %u characters of A-Z a-z 0-9 . _ -)", option, id,
               ICECAM_PROTOCOL_MAX_ID_LENGTH);
  return FALSE;
}

gboolean
icecam_tool_check_ice_options (const IcecamToolIceOptions *options, GError **error)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();
  g_autoptr (GError) local_error = NULL;

  if (options->policy != NULL && g_strcmp0 (options->policy, "all") != 0 &&
      g_strcmp0 (options->policy, "relay") != 0) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--ice-transport-policy must be 'all' or 'relay', not '%s'", options->policy);
    return FALSE;
  }
  if (options->stun_server != NULL &&
      !icecam_ice_config_add_url (config, options->stun_server, NULL, NULL, &local_error)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--stun-server: %s",
                 local_error->message);
    return FALSE;
  }
  for (guint i = 0; options->turn_servers != NULL && options->turn_servers[i] != NULL; i++) {
    if (!icecam_ice_config_add_url (config, options->turn_servers[i], NULL, NULL,
                                    &local_error)) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--turn-server: %s",
                   local_error->message);
      return FALSE;
    }
  }
  if (options->region != NULL && !icecam_protocol_id_is_valid (options->region)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--region must be 1..%d characters of A-Z a-z 0-9 . _ -, not '%s'",
                 ICECAM_PROTOCOL_MAX_ID_LENGTH, options->region);
    return FALSE;
  }
  return icecam_tool_check_readable ("--ca-file", options->ca_file, error) &&
         icecam_tool_check_readable ("--turn-ca", options->turn_ca_file, error);
}

gboolean
icecam_tool_check_fingerprint (const gchar *fingerprint, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autofree gchar *normalized = NULL;

  if (fingerprint == NULL)
    return TRUE;
  normalized = icecam_fingerprint_normalize (fingerprint, &local_error);
  if (normalized != NULL)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
               "--camera-fingerprint: %s (as icecam-camera prints it: \"sha-256 AB:CD:...\")",
               local_error->message);
  return FALSE;
}

/* A file the element reads when it starts: a missing one is named now. */
gboolean
icecam_tool_check_readable (const gchar *option, const gchar *path, GError **error)
{
  g_autofree gchar *contents = NULL;
  g_autoptr (GError) local_error = NULL;

  if (path == NULL || g_file_get_contents (path, &contents, NULL, &local_error))
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s: %s", option,
               local_error->message);
  return FALSE;
}

/* An ERROR or WARNING message, one line. GStreamer's debug string starts with where it was
 * raised, "file.c(line): function (): /GstPipeline:...:\n", then the reason: the place is for
 * --verbose. */
gchar *
icecam_tool_describe_error (GstMessage *msg, gboolean verbose)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;
  const gchar *reason;

  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING)
    gst_message_parse_warning (msg, &error, &debug);
  else
    gst_message_parse_error (msg, &error, &debug);
  if (debug != NULL)
    g_strdelimit (debug, "\n", ' ');
  reason = debug;
  if (reason != NULL && !verbose) {
    const gchar *place_end = strstr (reason, ": /Gst");

    /* The place ends with the element's path and a colon: "...:/GstIcecamSink:sink: ". */
    if (place_end != NULL) {
      const gchar *path_end = strstr (place_end + 2, ": ");

      reason = path_end != NULL ? path_end + 2 : NULL;
    }
  }
  if (reason == NULL || *reason == '\0')
    return g_strdup (error->message);
  return g_strdup_printf ("%s (%s)", error->message, reason);
}

/**
 * icecam_tool_pop_error:
 * @pipeline: a pipeline that did not start
 * @verbose: whether to keep the place in the code the error came from
 *
 * Returns: (transfer full): the error an element posted while the pipeline was starting,
 *   with its reason, or a generic message if there is none
 */
gchar *
icecam_tool_pop_error (GstElement *pipeline, gboolean verbose)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline);
  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);

  if (msg == NULL)
    return g_strdup ("the pipeline does not start (run with --verbose, and GST_DEBUG=3)");
  return icecam_tool_describe_error (msg, verbose);
}

typedef struct {
  GStrv cameras;
  GError *error;
  gboolean done;
  guint timeout_id;
} ListCameras;

static void
on_list_client_message (IcecamSignallingClient *client, IcecamMessage *msg, ListCameras *list)
{
  if (msg->type != ICECAM_MESSAGE_PRESENCE || list->done)
    return;
  list->cameras = msg->cameras != NULL ? g_strdupv (msg->cameras) : g_new0 (gchar *, 1);
  list->done = TRUE;
}

static void
on_list_client_state_changed (IcecamSignallingClient *client, guint state, ListCameras *list)
{
  const GError *error = icecam_signalling_client_get_error (client);

  if (state != ICECAM_SIGNALLING_STATE_CLOSED || list->done)
    return;
  list->error = error != NULL ? g_error_copy (error)
                              : g_error_new (ICECAM_SIGNALLING_ERROR,
                                             ICECAM_SIGNALLING_ERROR_CLOSED,
                                             "the rendezvous closed the connection");
  list->done = TRUE;
}

static gboolean
list_timed_out (gpointer data)
{
  ListCameras *list = data;

  list->timeout_id = 0;
  if (!list->done) {
    list->error = g_error_new (ICECAM_SIGNALLING_ERROR, ICECAM_SIGNALLING_ERROR_TIMEOUT,
                               "the rendezvous did not list its cameras within 10 s");
    list->done = TRUE;
  }
  return G_SOURCE_REMOVE;
}

/**
 * icecam_tool_list_cameras:
 * @server: the rendezvous URL
 * @token: (nullable): the viewer's token: the list names only the cameras it allows
 * @options: the TLS options
 * @error: why there is no list
 *
 * Connects as a viewer and takes the first presence list (the rendezvous sends it on hello).
 * Runs the default main context until then, 10 s at most.
 *
 * Returns: (transfer full) (nullable): the ids of the cameras online that this viewer may see
 */
GStrv
icecam_tool_list_cameras (const gchar *server, const gchar *token,
                          const IcecamToolIceOptions *options, GError **error)
{
  g_autoptr (IcecamSignallingClient) client = NULL;
  ListCameras list = { NULL };

  client = icecam_signalling_client_new (server, ICECAM_ROLE_VIEWER, NULL, error);
  if (client == NULL ||
      !icecam_signalling_client_set_tls (client, options->ca_file, options->insecure_tls, error))
    return NULL;
  icecam_signalling_client_set_credentials (client, NULL, token);
  g_signal_connect (client, "message", G_CALLBACK (on_list_client_message), &list);
  g_signal_connect (client, "state-changed", G_CALLBACK (on_list_client_state_changed), &list);
  list.timeout_id = g_timeout_add_seconds (10, list_timed_out, &list);
  icecam_signalling_client_start (client);
  while (!list.done)
    g_main_context_iteration (NULL, TRUE);
  if (list.timeout_id != 0)
    g_source_remove (list.timeout_id);
  g_signal_handlers_disconnect_by_data (client, &list);
  icecam_signalling_client_stop (client);
  if (list.error != NULL) {
    g_propagate_error (error, list.error);
    return NULL;
  }
  return list.cameras;
}
