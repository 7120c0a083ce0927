/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* icecam-natprobe: which NAT this network is behind, and what icecam can reach from it. */

#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>

#include "icecam-log.h"
#include "icecam-nat-probe.h"

#define EXIT_USAGE 2

typedef struct {
  gchar *server;
  gchar *rendezvous;
  gchar *local_address;
  gdouble timeout_s;
  gboolean json;
  gboolean lifetime;
  gboolean verbose;
  gboolean version;

  GMainLoop *loop;
  IcecamNatVerdict *verdict;
  GError *error;
} NatProbeApp;

static void
app_clear (NatProbeApp *app)
{
  g_free (app->server);
  g_free (app->rendezvous);
  g_free (app->local_address);
  g_clear_pointer (&app->loop, g_main_loop_unref);
  g_clear_pointer (&app->verdict, icecam_nat_verdict_free);
  g_clear_error (&app->error);
}

static gboolean
parse_options (NatProbeApp *app, int *argc, char ***argv, GError **error)
{
  GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_STRING, &app->server,
      "The STUN server to ask (RFC 5780 for the full verdict)", "stun:HOST[:PORT]" },
    { "rendezvous", 'r', 0, G_OPTION_ARG_STRING, &app->rendezvous,
      "Ask the STUN service of this icecam rendezvous (UDP, same port number)",
      "ws://HOST:PORT" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &app->json,
      "Print the verdict as one JSON object (see docs/natprobe.md)", NULL },
    { "lifetime", 0, 0, G_OPTION_ARG_NONE, &app->lifetime,
      "Also measure how long an idle mapping lives (takes up to two more minutes)", NULL },
    { "local-address", 'L', 0, G_OPTION_ARG_STRING, &app->local_address,
      "Send from this local IP address (default: the one routed towards the server)", "IP" },
    { "timeout", 't', 0, G_OPTION_ARG_DOUBLE, &app->timeout_s,
      "How long each test waits for an answer, retransmissions included (default 3)",
      "SECONDS" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &app->verbose,
      "Log every test (on stderr)", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &app->version, "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);

  g_option_context_set_summary (context,
    "Tells which NAT this network is behind (RFC 5780 behaviour discovery against a STUN\n"
    "server) and which peers icecam can then reach directly or only through a TURN relay.\n"
    "Exit status: 0 with a verdict (\"udp-blocked\" included), 1 when the probe cannot run,\n"
    "2 for bad options.");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, argc, argv, error))
    return FALSE;
  if (app->version)
    return TRUE;
  if (*argc > 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'",
                 (*argv)[1]);
    return FALSE;
  }
  if (app->server == NULL && app->rendezvous == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 "--server or --rendezvous is required");
    return FALSE;
  }
  if (app->timeout_s < 0.1 || app->timeout_s > 60) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--timeout must be between 0.1 and 60 seconds");
    return FALSE;
  }
  return TRUE;
}

/* The probe as the options describe it, or NULL with @error set (a usage error). */
static IcecamNatProbe *
build_probe (NatProbeApp *app, GError **error)
{
  g_autoptr (GSocketConnectable) server = NULL;
  g_autoptr (GInetAddress) local = NULL;
  IcecamNatProbe *probe;

  /* An explicit STUN server wins over the rendezvous's. */
  server = icecam_nat_probe_parse_server (app->server != NULL ? app->server : app->rendezvous,
                                          error);
  if (server == NULL) {
    g_prefix_error (error, "%s: ", app->server != NULL ? "--server" : "--rendezvous");
    return NULL;
  }
  if (app->local_address != NULL) {
    local = g_inet_address_new_from_string (app->local_address);
    if (local == NULL) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--local-address: '%s' is not an IP address", app->local_address);
      return NULL;
    }
  }
  probe = icecam_nat_probe_new (server);
  icecam_nat_probe_set_local_address (probe, local);
  icecam_nat_probe_set_timeout (probe, (guint) (app->timeout_s * 1000));
  icecam_nat_probe_set_lifetime (probe, app->lifetime, ICECAM_NAT_PROBE_DEFAULT_MAX_LIFETIME_S);
  return probe;
}

static void
probe_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  NatProbeApp *app = user_data;

  app->verdict = icecam_nat_probe_run_finish (ICECAM_NAT_PROBE (source), result, &app->error);
  g_main_loop_quit (app->loop);
}

static void
print_address (const gchar *label, GInetSocketAddress *address)
{
  g_autofree gchar *text = address != NULL ?
                           g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address)) :
                           g_strdup ("unknown");

  g_print ("%-15s %s\n", label, text);
}

static void
print_text (const IcecamNatVerdict *verdict, gboolean with_lifetime)
{
  IcecamNatType type = icecam_nat_verdict_get_nat_type (verdict);
  g_autofree gchar *advice = icecam_nat_advice (type);

  print_address ("server:", verdict->server);
  if (verdict->rfc5780)
    print_address ("other address:", verdict->other_address);
  print_address ("local address:", verdict->local_address);
  print_address ("mapped address:", verdict->mapped_address);
  g_print ("%-15s %s\n", "udp:", verdict->server_reached ? "ok" : "no answer");
  g_print ("%-15s %s\n", "NAT present:", icecam_nat_answer_to_string (verdict->nat_present));
  g_print ("%-15s %s\n", "mapping:", icecam_nat_behaviour_to_string (verdict->mapping));
  g_print ("%-15s %s\n", "filtering:", icecam_nat_behaviour_to_string (verdict->filtering));
  g_print ("%-15s %s\n", "hairpinning:", icecam_nat_answer_to_string (verdict->hairpinning));
  if (verdict->port_allocation == ICECAM_NAT_PORTS_SEQUENTIAL)
    g_print ("%-15s sequential (step %+d, spread %u)\n", "ports:", verdict->port_delta,
             verdict->port_spread);
  else
    g_print ("%-15s %s (spread %u)\n", "ports:",
             icecam_nat_port_allocation_to_string (verdict->port_allocation),
             verdict->port_spread);
  if (with_lifetime) {
    g_autofree gchar *lifetime = icecam_nat_verdict_describe_lifetime (verdict);

    g_print ("%-15s %s\n", "lifetime:", lifetime);
  }
  g_print ("%-15s %s\n", "NAT type:", icecam_nat_type_to_string (type));
  g_print ("%-15s %s\n", "advice:", advice);
  for (guint i = 0; i < verdict->notes->len; i++)
    g_print ("%-15s %s\n", "note:", (const gchar *) g_ptr_array_index (verdict->notes, i));
}

static void
print_json (const IcecamNatVerdict *verdict)
{
  g_autoptr (JsonNode) node = icecam_nat_verdict_to_json (verdict);
  g_autofree gchar *text = json_to_string (node, TRUE);

  g_print ("%s\n", text);
}

int
main (int argc, char **argv)
{
  NatProbeApp app = { .timeout_s = ICECAM_NAT_PROBE_DEFAULT_TIMEOUT_MS / 1000.0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamNatProbe) probe = NULL;
  int status = EXIT_SUCCESS;

  /* stdout carries the verdict; every log goes to stderr. */
  setlocale (LC_ALL, "");
  g_log_writer_default_set_use_stderr (TRUE);
  if (parse_options (&app, &argc, &argv, &error) && app.version) {
    g_print ("icecam-natprobe %s\n", ICECAM_VERSION);
    app_clear (&app);
    return EXIT_SUCCESS;
  }
  if (error != NULL || !(probe = build_probe (&app, &error))) {
    g_printerr ("icecam-natprobe: %s (see --help)\n", error->message);
    app_clear (&app);
    return EXIT_USAGE;
  }
  icecam_log_set_verbose (app.verbose);

  app.loop = g_main_loop_new (NULL, FALSE);
  icecam_nat_probe_run_async (probe, NULL, probe_done_cb, &app);
  g_main_loop_run (app.loop);

  if (app.verdict == NULL) {
    g_printerr ("icecam-natprobe: %s\n", app.error->message);
    status = EXIT_FAILURE;
  } else if (app.json) {
    print_json (app.verdict);
  } else {
    print_text (app.verdict, app.lifetime);
  }
  app_clear (&app);
  return status;
}
