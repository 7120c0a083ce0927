/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The icecam-rendezvous command: options, one IcecamRendezvous, the main loop, clean exit. */

#include <errno.h>
#include <locale.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/resource.h>
#include <glib-unix.h>

#include "config-file.h"
#include "icecam-admission.h"
#ifdef ICECAM_HAVE_CLUSTER
#include "icecam-cluster.h"
#endif
#include "icecam-ice-config.h"
#include "icecam-log.h"
#include "icecam-ops-log.h"
#include "icecam-relay-pool.h"
#include "icecam-rendezvous.h"
#include "icecam-token.h"
#include "token-command.h"

/* Loopback unless told otherwise: exposing the service is a decision for whoever runs it. */
#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_PORT 8080
#define DEFAULT_STUN_PORT 3478

#define EXIT_USAGE 2
/* Long enough for a restart to allocate with credentials renewed at half their lifetime. */
#define MIN_TURN_TTL 10

typedef struct {
  gchar *listen;
  gchar *stun_listen;
  gchar *stun_alternate;
  gchar **turn_servers;
  gchar **turn_regions;  /* for each of turn_servers, its ",region=" tag or "" */
  gchar *turn_secret;
  gchar *turn_secret_file;
  gint turn_ttl;
  gboolean allow_anonymous_relay;
  gchar *tls_certificate;
  gchar *tls_key;
  gchar *camera_secrets_file;
  gchar *token_key_file;
  gint max_connections_per_address;
  gint message_rate;
  gint message_burst;
  gint max_sessions_per_camera;
  gint max_sessions_per_viewer;
  gint keepalive_interval_s;
  gint silence_limit_s;
  gchar *ws_stream_name;
  IcecamRendezvousWsStream ws_stream;
  gint resume_grace_s;
  gint handshake_timeout_s;
  gint hello_timeout_s;
  gint max_connections;       /* -1: from the descriptor limit */
  gint ipv6_prefix_length;
  GHashTable *camera_secrets;
  gchar *token_key;
  gboolean verbose;
  gboolean version;
  gchar *config_file;
  gint log_limit;
  gchar **trusted_proxies;
  gchar *cluster_url;
  gchar *node_id;
  gchar *advertise;
  GOptionEntry *entries;      /* the options, for the config file's keys on reload */
  gchar **command_line;       /* as given: what it sets, a reload of the file does not */

  gchar *host;
  guint16 port;
  GInetSocketAddress *stun_address;
  GInetAddress *stun_alternate_address;
  gboolean stun_off;

  GMainLoop *loop;
  IcecamRendezvous *rendezvous;
  IcecamRelayPool *relay_pool;
#ifdef ICECAM_HAVE_CLUSTER
  IcecamCluster *cluster;
#endif
} App;

static void
app_clear (App *app)
{
#ifdef ICECAM_HAVE_CLUSTER
  g_clear_object (&app->cluster);
#endif
  g_clear_object (&app->relay_pool);
  g_clear_object (&app->rendezvous);
  g_free (app->cluster_url);
  g_free (app->node_id);
  g_free (app->advertise);
  g_clear_pointer (&app->loop, g_main_loop_unref);
  g_clear_object (&app->stun_address);
  g_clear_object (&app->stun_alternate_address);
  g_free (app->host);
  g_free (app->listen);
  g_free (app->stun_listen);
  g_free (app->stun_alternate);
  g_strfreev (app->turn_servers);
  g_strfreev (app->turn_regions);
  g_free (app->turn_secret);
  g_free (app->turn_secret_file);
  g_free (app->tls_certificate);
  g_free (app->tls_key);
  g_free (app->camera_secrets_file);
  g_free (app->token_key_file);
  g_free (app->ws_stream_name);
  g_clear_pointer (&app->camera_secrets, g_hash_table_unref);
  g_free (app->token_key);
  g_free (app->config_file);
  g_strfreev (app->trusted_proxies);
  g_free (app->entries);
  g_strfreev (app->command_line);
}

/* "HOST:PORT" or "[IPV6]:PORT" with HOST an IP address; the port may be left out. */
static gboolean
parse_host_port (const gchar *option, const gchar *value, guint16 default_port, gchar **host,
                 guint16 *port, GError **error)
{
  g_autoptr (GSocketConnectable) parsed = NULL;
  g_autoptr (GError) local_error = NULL;
  const gchar *hostname;

  parsed = g_network_address_parse (value, default_port, &local_error);
  if (parsed == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "%s: '%s' is not HOST:PORT (%s)", option, value, local_error->message);
    return FALSE;
  }
  hostname = g_network_address_get_hostname (G_NETWORK_ADDRESS (parsed));
  if (!g_hostname_is_ip_address (hostname)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "%s: '%s' is not an IP address", option, hostname);
    return FALSE;
  }
  *host = g_strdup (hostname);
  *port = g_network_address_get_port (G_NETWORK_ADDRESS (parsed));
  return TRUE;
}

/* The URLs must be ones clients understand (parsed only: they are handed to clients as
 * written, and a host name is looked up by each client); the secret comes from a file (not
 * visible in the process list) or the command line. */
static gboolean
app_check_turn_options (App *app, GError **error)
{
  if (app->turn_servers == NULL)
    return TRUE;
  /* A ",region=NAME" tag is the registry's business; the URL alone goes to clients. */
  app->turn_regions = g_new0 (gchar *, g_strv_length (app->turn_servers) + 1);
  for (guint i = 0; app->turn_servers[i] != NULL; i++) {
    gchar *url;
    gchar *region;

    if (!icecam_relay_entry_split (app->turn_servers[i], &url, &region, error)) {
      g_prefix_error (error, "--turn-server: ");
      return FALSE;
    }
    g_free (app->turn_servers[i]);
    app->turn_servers[i] = url;
    app->turn_regions[i] = region != NULL ? region : g_strdup ("");
  }
  for (guint i = 0; app->turn_servers[i] != NULL; i++) {
    g_autoptr (IcecamIceServerAddress) relay =
      icecam_ice_server_address_parse (app->turn_servers[i], "user", "password", error);

    if (relay == NULL) {
      g_prefix_error (error, "--turn-server: ");
      return FALSE;
    }
    if (relay->kind != ICECAM_ICE_SERVER_KIND_TURN) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--turn-server: '%s' is not a turn: or turns: URL", app->turn_servers[i]);
      return FALSE;
    }
  }
  if (g_strv_length (app->turn_servers) > ICECAM_ICE_CONFIG_MAX_TURN_SERVERS) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--turn-server: at most %d TURN servers", ICECAM_ICE_CONFIG_MAX_TURN_SERVERS);
    return FALSE;
  }
  if (app->turn_secret_file != NULL) {
    g_autofree gchar *contents = NULL;

    if (!g_file_get_contents (app->turn_secret_file, &contents, NULL, error))
      return FALSE;
    g_free (app->turn_secret);
    app->turn_secret = g_strdup (g_strstrip (contents));
  }
  if (app->turn_secret == NULL || *app->turn_secret == '\0') {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 "--turn-server needs --turn-secret or --turn-secret-file (coturn's "
                 "static-auth-secret)");
    return FALSE;
  }
  if (app->turn_ttl < MIN_TURN_TTL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--turn-ttl must be at least " G_STRINGIFY (MIN_TURN_TTL) " seconds");
    return FALSE;
  }
  return TRUE;
}

/* "camera-id secret" per line; blank lines and lines starting with '#' are skipped. */
static GHashTable *
load_camera_secrets (const gchar *path, GError **error)
{
  g_autofree gchar *contents = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GHashTable) secrets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  if (!g_file_get_contents (path, &contents, NULL, error))
    return NULL;
  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++) {
    g_auto (GStrv) fields = NULL;
    gchar *line = g_strstrip (lines[i]);

    if (*line == '\0' || *line == '#')
      continue;
    fields = g_strsplit_set (line, " \t", 2);
    if (g_strv_length (fields) != 2 || !icecam_protocol_id_is_valid (fields[0]) ||
        *g_strstrip (fields[1]) == '\0') {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--camera-secrets: line %u of %s is not 'camera-id secret'", i + 1, path);
      return NULL;
    }
    g_hash_table_insert (secrets, g_strdup (fields[0]), g_strdup (fields[1]));
  }
  return g_steal_pointer (&secrets);
}

static gboolean
app_check_access_options (App *app, GError **error)
{
  if ((app->tls_certificate == NULL) != (app->tls_key == NULL)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                 "--tls-certificate and --tls-key go together");
    return FALSE;
  }
  if (app->camera_secrets_file != NULL &&
      !(app->camera_secrets = load_camera_secrets (app->camera_secrets_file, error)))
    return FALSE;
  if (app->token_key_file != NULL &&
      !(app->token_key = icecam_token_command_read_key (app->token_key_file, error)))
    return FALSE;
  return TRUE;
}

/* RFC 5780 needs a second address of the same family and a specific STUN address. */
static gboolean
app_check_stun_alternate (App *app, GError **error)
{
  g_autoptr (GInetAddress) host = NULL;

  if (app->stun_alternate == NULL)
    return TRUE;
  app->stun_alternate_address = g_inet_address_new_from_string (app->stun_alternate);
  if (app->stun_alternate_address == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--stun-alternate: '%s' is not an IP address", app->stun_alternate);
    return FALSE;
  }
  if (app->stun_off) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--stun-alternate needs the STUN responder, not --stun-listen none");
    return FALSE;
  }
  if (app->stun_address != NULL)
    host = g_object_ref (g_inet_socket_address_get_address (app->stun_address));
  else
    host = g_inet_address_new_from_string (app->host);
  if (g_inet_address_get_is_any (host) ||
      g_inet_address_get_family (host) != g_inet_address_get_family (app->stun_alternate_address) ||
      g_inet_address_equal (host, app->stun_alternate_address)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--stun-alternate needs a STUN address that is a specific IP (not a wildcard) "
                 "of the same family as '%s' and different from it", app->stun_alternate);
    return FALSE;
  }
  return TRUE;
}

/* A range error names the option and the value it got. */
static gboolean
check_at_least (const gchar *option, gint value, gint min, const gchar *note, GError **error)
{
  if (value >= min)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "%s must be >= %d%s, not %d",
               option, min, note, value);
  return FALSE;
}

static gboolean
app_check_limits (App *app, GError **error)
{
  if (!check_at_least ("--max-connections-per-address", app->max_connections_per_address, 0,
                       " (0: no limit)", error) ||
      !check_at_least ("--message-rate", app->message_rate, 0, " (0: no limit)", error) ||
      !check_at_least ("--message-burst", app->message_burst, 1, "", error) ||
      !check_at_least ("--max-sessions-per-camera", app->max_sessions_per_camera, 1, "", error) ||
      !check_at_least ("--max-sessions-per-viewer", app->max_sessions_per_viewer, 1, "", error) ||
      !check_at_least ("--keepalive-interval", app->keepalive_interval_s, 1, "", error) ||
      !check_at_least ("--handshake-timeout", app->handshake_timeout_s, 0, " (0: none)", error) ||
      !check_at_least ("--hello-timeout", app->hello_timeout_s, 0, " (0: none)", error) ||
      (app->max_connections != -1 &&  /* -1: not given, from the descriptor limit */
       !check_at_least ("--max-connections", app->max_connections, 0, " (0: none)", error)) ||
      !check_at_least ("--resume-grace", app->resume_grace_s, 0,
                       " (0: sessions end with their connection)", error))
    return FALSE;
  if (app->silence_limit_s <= app->keepalive_interval_s) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--silence-limit must be longer than --keepalive-interval (%d s), not %d",
                 app->keepalive_interval_s, app->silence_limit_s);
    return FALSE;
  }
  if (app->ipv6_prefix_length < 1 || app->ipv6_prefix_length > 128) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--ipv6-prefix-length must be 1 to 128, not %d", app->ipv6_prefix_length);
    return FALSE;
  }
  return TRUE;
}

static gboolean
app_check_trusted_proxies (App *app, GError **error)
{
  for (guint i = 0; app->trusted_proxies != NULL && app->trusted_proxies[i] != NULL; i++) {
    g_autoptr (GInetAddressMask) mask =
      g_inet_address_mask_new_from_string (app->trusted_proxies[i], NULL);

    if (mask == NULL) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--trusted-proxy: '%s' is not an IP address or ADDRESS/LENGTH network",
                   app->trusted_proxies[i]);
      return FALSE;
    }
  }
  return TRUE;
}

static gboolean
app_check_options (App *app, GError **error)
{
  g_autofree gchar *stun_host = NULL;
  guint16 stun_port = 0;

  if (!app_check_limits (app, error) || !app_check_trusted_proxies (app, error))
    return FALSE;
  if (!parse_host_port ("--listen", app->listen != NULL ? app->listen : DEFAULT_LISTEN,
                        DEFAULT_PORT, &app->host, &app->port, error) ||
      !app_check_turn_options (app, error) || !app_check_access_options (app, error))
    return FALSE;
  if (app->stun_listen == NULL)
    return app_check_stun_alternate (app, error);
  if (g_strcmp0 (app->stun_listen, "none") == 0) {
    app->stun_off = TRUE;
    return app_check_stun_alternate (app, error);
  }
  if (!parse_host_port ("--stun-listen", app->stun_listen, DEFAULT_STUN_PORT, &stun_host,
                        &stun_port, error))
    return FALSE;
  app->stun_address = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string (stun_host,
                                                                                      stun_port));
  return app_check_stun_alternate (app, error);
}

/* The options, also the keys of a --config file. */
static GOptionEntry *
app_option_entries (App *app)
{
  const GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &app->listen,
      "Where to serve WebSocket signalling (TCP; port " G_STRINGIFY (DEFAULT_PORT) " if left "
      "out: --listen HOST is HOST:" G_STRINGIFY (DEFAULT_PORT) "), default " DEFAULT_LISTEN,
      "HOST[:PORT]" },
    { "stun-listen", 0, 0, G_OPTION_ARG_STRING, &app->stun_listen,
      "Where the STUN responder listens (UDP; port 3478 if left out), or 'none'; "
      "default: the --listen host and port",
      "HOST:PORT|none" },
    { "stun-alternate", 0, 0, G_OPTION_ARG_STRING, &app->stun_alternate,
      "A second IP address of this host: the STUN responder then also serves RFC 5780 NAT "
      "discovery (icecam-natprobe); needs a specific, not wildcard, STUN address", "IP" },
    { "turn-server", 0, 0, G_OPTION_ARG_STRING_ARRAY, &app->turn_servers,
      "A coturn relay to hand out, with credentials minted per client and per session "
      "(repeatable); ',region=NAME' tags it for clients giving that --region",
      "turn:HOST:PORT?transport=udp|tcp[,region=NAME]" },
    { "turn-secret", 0, 0, G_OPTION_ARG_STRING, &app->turn_secret,
      "The relays' shared secret (coturn use-auth-secret/static-auth-secret)", "SECRET" },
    { "turn-secret-file", 0, 0, G_OPTION_ARG_FILENAME, &app->turn_secret_file,
      "Read the shared secret from this file instead (keeps it out of the process list)",
      "PATH" },
    { "turn-ttl", 0, 0, G_OPTION_ARG_INT, &app->turn_ttl,
      "How long the TURN credentials minted for a session stay valid (renewed every half of "
      "it while the session lasts), default "
      G_STRINGIFY (ICECAM_REGISTRY_DEFAULT_TURN_TTL_S), "SECONDS" },
    { "allow-anonymous-relay", 0, 0, G_OPTION_ARG_NONE, &app->allow_anonymous_relay,
      "Hand out relays even without --camera-secrets or --token-key-file, so that anyone who "
      "reaches this server can use them", NULL },
    { "tls-certificate", 0, 0, G_OPTION_ARG_FILENAME, &app->tls_certificate,
      "Serve wss:// with this PEM certificate (chain)", "PATH" },
    { "tls-key", 0, 0, G_OPTION_ARG_FILENAME, &app->tls_key,
      "The certificate's PEM private key", "PATH" },
    { "camera-secrets", 0, 0, G_OPTION_ARG_FILENAME, &app->camera_secrets_file,
      "Only these cameras may register, each proving its secret: 'camera-id secret' per line",
      "PATH" },
    { "token-key-file", 0, 0, G_OPTION_ARG_FILENAME, &app->token_key_file,
      "Viewers need a token signed with this key (see 'icecam-rendezvous token --help')",
      "PATH" },
    { "max-connections-per-address", 0, 0, G_OPTION_ARG_INT, &app->max_connections_per_address,
      "Signalling connections one IP address may hold open, 0 for no limit, default "
      G_STRINGIFY (ICECAM_ADMISSION_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS), "N" },
    { "message-rate", 0, 0, G_OPTION_ARG_INT, &app->message_rate,
      "Messages a second one connection may send, sustained (each further 4 KiB of a message "
      "counts as one more), 0 for no limit, default "
      G_STRINGIFY (ICECAM_ADMISSION_DEFAULT_MESSAGE_RATE), "N" },
    { "message-burst", 0, 0, G_OPTION_ARG_INT, &app->message_burst,
      "Messages one connection may send at once above that rate, default "
      G_STRINGIFY (ICECAM_ADMISSION_DEFAULT_MESSAGE_BURST), "N" },
    { "max-sessions-per-camera", 0, 0, G_OPTION_ARG_INT, &app->max_sessions_per_camera,
      "Sessions one camera may have open at once, default "
      G_STRINGIFY (ICECAM_REGISTRY_DEFAULT_MAX_SESSIONS_PER_CAMERA), "N" },
    { "max-sessions-per-viewer", 0, 0, G_OPTION_ARG_INT, &app->max_sessions_per_viewer,
      "Sessions one viewer may have open at once, default "
      G_STRINGIFY (ICECAM_REGISTRY_DEFAULT_MAX_SESSIONS_PER_VIEWER), "N" },
    { "keepalive-interval", 0, 0, G_OPTION_ARG_INT, &app->keepalive_interval_s,
      "Ping every connection this often, default "
      G_STRINGIFY (ICECAM_ADMISSION_DEFAULT_KEEPALIVE_INTERVAL_S), "SECONDS" },
    { "silence-limit", 0, 0, G_OPTION_ARG_INT, &app->silence_limit_s,
      "Close a connection that sent nothing and answered no ping for this long, default "
      G_STRINGIFY (ICECAM_ADMISSION_DEFAULT_SILENCE_LIMIT_S), "SECONDS" },
    { "ws-stream", 0, 0, G_OPTION_ARG_STRING, &app->ws_stream_name,
      "The stream under ws:// connections: epoll (default), or libsoup's own to bisect a "
      "libsoup upgrade; overrides ICECAM_WS_STREAM", "epoll|libsoup" },
    { "resume-grace", 0, 0, G_OPTION_ARG_INT, &app->resume_grace_s,
      "Keep the sessions of a client whose connection went this long, for it to take back on "
      "a new one (0: they end at once), default "
      G_STRINGIFY (ICECAM_REGISTRY_DEFAULT_RESUME_GRACE_S), "SECONDS" },
    { "handshake-timeout", 0, 0, G_OPTION_ARG_INT, &app->handshake_timeout_s,
      "Close a connection that has not finished its HTTP request and WebSocket upgrade this "
      "long after it was accepted (0: never), default "
      G_STRINGIFY (ICECAM_ADMISSION_DEFAULT_HANDSHAKE_TIMEOUT_S), "SECONDS" },
    { "hello-timeout", 0, 0, G_OPTION_ARG_INT, &app->hello_timeout_s,
      "Close a WebSocket that has not said a welcomed hello this long after its upgrade "
      "(0: never), default " G_STRINGIFY (ICECAM_ADMISSION_DEFAULT_HELLO_TIMEOUT_S), "SECONDS" },
    { "max-connections", 0, 0, G_OPTION_ARG_INT, &app->max_connections,
      "TCP connections held at most; more are closed as soon as accepted (0: no limit), "
      "default the descriptor limit less " G_STRINGIFY (ICECAM_ADMISSION_DESCRIPTOR_RESERVE),
      "N" },
    { "ipv6-prefix-length", 0, 0, G_OPTION_ARG_INT, &app->ipv6_prefix_length,
      "IPv6 clients count for --max-connections-per-address by this prefix, default "
      G_STRINGIFY (ICECAM_ADMISSION_DEFAULT_IPV6_PREFIX_LENGTH), "BITS" },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &app->verbose,
      "Log what the server does (on stderr)", NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &app->version, "Print the version and exit", NULL },
    { "log-limit", 0, 0, G_OPTION_ARG_INT, &app->log_limit,
      "Lines of one kind the operator's log (cameras online/offline, refusals, limits hit; "
      "at INFO, on stderr) prints per " G_STRINGIFY (ICECAM_OPS_LOG_WINDOW_S) " s, then one "
      "line saying how many were suppressed; 0: every line; -1: none, default "
      G_STRINGIFY (ICECAM_OPS_LOG_DEFAULT_LIMIT), "N" },
    { "trusted-proxy", 0, 0, G_OPTION_ARG_STRING_ARRAY, &app->trusted_proxies,
      "A reverse proxy or load balancer in front of this server (repeatable): the client's "
      "address is taken from its PROXY protocol header (v1/v2) and its Forwarded or "
      "X-Forwarded-For header (the rightmost hop not trusted); from anyone else they are "
      "ignored", "ADDRESS[/LENGTH]" },
    { "cluster", 0, 0, G_OPTION_ARG_STRING, &app->cluster_url,
      "Join the cluster of rendezvous nodes that share this Redis server: cameras of every "
      "node are listed and watchable on each; redis-sentinel://HOST:PORT[,HOST:PORT...]/MASTERNAME[/DB] "
      "finds the Redis master through Redis Sentinel (docs/cluster.md)", "redis://HOST:PORT[/DB]" },
    { "node-id", 0, 0, G_OPTION_ARG_STRING, &app->node_id,
      "This node's name in the cluster, unique; default HOSTNAME-PID", "NAME" },
    { "advertise", 0, 0, G_OPTION_ARG_STRING, &app->advertise,
      "The URL clients reach this node at, published to the cluster for operators", "URL" },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &app->config_file,
      "Read options from this file first: 'key = value' lines, keys named as the long "
      "options; the command line overrides it; SIGHUP reads its camera-secrets, "
      "token-key-file and turn-secret-file again", "PATH" },
    { NULL }
  };

  return g_memdup2 (entries, sizeof entries);
}

static gboolean
app_parse_options (App *app, int *argc, char ***argv, GError **error)
{
  g_auto (GStrv) merged = NULL;
  g_autofree gchar **view = NULL;
  gchar **view_argv;
  int view_argc;
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);

  g_option_context_set_summary (context,
    "The icecam rendezvous: cameras and viewers meet here to set up their ICE sessions.\n"
    "'icecam-rendezvous token --help' mints viewer tokens.\n"
    "Prints one line once listening: icecam-rendezvous: listening on ws://HOST:PORT/ws (...)");
  app->entries = app_option_entries (app);
  app->command_line = g_strdupv (*argv);
  g_option_context_add_main_entries (context, app->entries, NULL);
  /* The config file's options go first: the command line's then replace them. */
  merged = icecam_config_file_merge_args (app->entries, *argc, *argv, error);
  if (merged == NULL)
    return FALSE;
  view_argc = (int) g_strv_length (merged);
  view = g_memdup2 (merged, sizeof (gchar *) * (view_argc + 1));
  view_argv = view;
  if (!g_option_context_parse (context, &view_argc, &view_argv, error))
    return FALSE;
  if (app->version)
    return TRUE;
  if (view_argc > 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "unexpected argument '%s'",
                 view_argv[1]);
    return FALSE;
  }
  if (app->log_limit < -1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--log-limit must be -1 (no lines), 0 (no limit) or more");
    return FALSE;
  }
  return app_check_options (app, error);
}

/* A relay is bandwidth on the operator's bill, and reaches whatever the relay host reaches:
 * only sessions someone authorised get one, unless the operator says otherwise. */
static gboolean
app_check_relay_access (App *app, GError **error)
{
  if (app->turn_servers == NULL || app->camera_secrets != NULL || app->token_key != NULL ||
      app->allow_anonymous_relay)
    return TRUE;
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
               "--turn-server without --camera-secrets or --token-key-file: anyone who reaches "
               "this server could use the relays; --allow-anonymous-relay runs it that way "
               "anyway");
  return FALSE;
}

/* --ws-stream, else ICECAM_WS_STREAM (empty counts as unset), else epoll. */
static gboolean
app_choose_ws_stream (App *app, GError **error)
{
  const gchar *source = "--ws-stream";
  const gchar *name = app->ws_stream_name;

  if (name == NULL) {
    source = "ICECAM_WS_STREAM";
    name = g_getenv (source);
  }
  if (name == NULL || *name == '\0' || g_strcmp0 (name, "epoll") == 0) {
    app->ws_stream = ICECAM_RENDEZVOUS_WS_STREAM_EPOLL;
  } else if (g_strcmp0 (name, "libsoup") == 0) {
    app->ws_stream = ICECAM_RENDEZVOUS_WS_STREAM_LIBSOUP;
  } else {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "%s must be 'epoll' or 'libsoup', not '%s'", source, name);
    return FALSE;
  }
  return TRUE;
}

/* ---- SIGHUP: the secrets again ------------------------------------------------------- */

/* The path a reload reads for @key: the command line's stays; else the config file's as it is
 * now; a key taken out of the file keeps the path it had (turning access control off takes a
 * restart, not a signal). */
static void
reload_path (App *app, GPtrArray *file_args, const gchar *key, gchar **path)
{
  const gchar *from_file;

  if (file_args == NULL || icecam_config_file_command_line_has (
        (int) g_strv_length (app->command_line), app->command_line, app->entries, key))
    return;
  from_file = icecam_config_file_lookup (file_args, key);
  if (from_file != NULL && g_strcmp0 (from_file, *path) != 0) {
    g_free (*path);
    *path = g_strdup (from_file);
  } else if (from_file == NULL && *path != NULL) {
    g_info ("reload: %s no longer names %s, still reading %s", app->config_file, key, *path);
  }
}

typedef struct {
  gchar *camera_secrets_file;
  gchar *token_key_file;
  gchar *turn_secret_file;
  GHashTable *camera_secrets;
  gchar *token_key;
  gchar *turn_secret;
} Secrets;

static void
secrets_clear (Secrets *secrets)
{
  g_free (secrets->camera_secrets_file);
  g_free (secrets->token_key_file);
  g_free (secrets->turn_secret_file);
  g_clear_pointer (&secrets->camera_secrets, g_hash_table_unref);
  g_free (secrets->token_key);
  g_free (secrets->turn_secret);
}

/* All of them or none: a reload that fails halfway must not leave half the new secrets. */
static gboolean
secrets_load (Secrets *secrets, GError **error)
{
  g_autofree gchar *turn = NULL;

  if (secrets->camera_secrets_file != NULL &&
      !(secrets->camera_secrets = load_camera_secrets (secrets->camera_secrets_file, error)))
    return FALSE;
  if (secrets->token_key_file != NULL &&
      !(secrets->token_key = icecam_token_command_read_key (secrets->token_key_file, error)))
    return FALSE;
  if (secrets->turn_secret_file != NULL) {
    if (!g_file_get_contents (secrets->turn_secret_file, &turn, NULL, error))
      return FALSE;
    g_strstrip (turn);
    if (*turn == '\0') {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s is empty",
                   secrets->turn_secret_file);
      return FALSE;
    }
    secrets->turn_secret = g_steal_pointer (&turn);
  }
  return TRUE;
}

/* Reads the secrets files again (and, with --config, which files they are) and hands the new
 * secrets to the registry: connections and sessions stay; new hellos are checked with them. On
 * any failure the old secrets stay, and one line says why. */
static void
app_reload (App *app)
{
  IcecamRegistry *registry = icecam_rendezvous_get_registry (app->rendezvous);
  IcecamOpsLog *log = icecam_registry_get_ops_log (registry);
  g_autoptr (GPtrArray) file_args = NULL;
  g_autoptr (GError) error = NULL;
  Secrets secrets = {
    .camera_secrets_file = g_strdup (app->camera_secrets_file),
    .token_key_file = g_strdup (app->token_key_file),
    .turn_secret_file = g_strdup (app->turn_secret_file),
  };

  if (app->config_file != NULL &&
      !(file_args = icecam_config_file_read (app->config_file, app->entries, &error))) {
    icecam_ops_log_event (log, ICECAM_OPS_LOG_RELOAD,
                          "reload failed, the old secrets stay: %s", error->message);
    secrets_clear (&secrets);
    return;
  }
  reload_path (app, file_args, "camera-secrets", &secrets.camera_secrets_file);
  reload_path (app, file_args, "token-key-file", &secrets.token_key_file);
  reload_path (app, file_args, "turn-secret-file", &secrets.turn_secret_file);
  if (!secrets_load (&secrets, &error)) {
    icecam_ops_log_event (log, ICECAM_OPS_LOG_RELOAD,
                          "reload failed, the old secrets stay: %s", error->message);
    secrets_clear (&secrets);
    return;
  }
  if (secrets.camera_secrets != NULL)
    icecam_registry_set_camera_secrets (registry, secrets.camera_secrets);
  if (secrets.token_key != NULL)
    icecam_registry_set_token_key (registry, secrets.token_key);
  if (secrets.turn_secret != NULL && app->turn_servers != NULL)
    icecam_registry_set_turn (registry, (const gchar * const *) app->turn_servers,
                              secrets.turn_secret, (guint) app->turn_ttl);
  icecam_ops_log_event (log, ICECAM_OPS_LOG_RELOAD, "reloaded: %u camera secrets%s%s",
                        secrets.camera_secrets != NULL
                          ? g_hash_table_size (secrets.camera_secrets) : 0,
                        secrets.token_key != NULL ? ", the token key" : "",
                        secrets.turn_secret != NULL ? ", the TURN secret" : "");
  /* The paths read now are the ones the next reload starts from. */
  g_free (app->camera_secrets_file);
  app->camera_secrets_file = g_steal_pointer (&secrets.camera_secrets_file);
  g_free (app->token_key_file);
  app->token_key_file = g_steal_pointer (&secrets.token_key_file);
  g_free (app->turn_secret_file);
  app->turn_secret_file = g_steal_pointer (&secrets.turn_secret_file);
  secrets_clear (&secrets);
}

static gboolean
on_sighup (gpointer user_data)
{
  app_reload (user_data);
  return G_SOURCE_CONTINUE;
}

/* The operator's lines are INFO messages of their own domain, shown unless --log-limit -1. */
static void
app_enable_ops_log (App *app)
{
  const gchar *current = g_getenv ("G_MESSAGES_DEBUG");
  g_autofree gchar *domains = NULL;

  if (app->log_limit < 0)
    return;
  if (current != NULL && *current != '\0')
    domains = g_strjoin (" ", current, ICECAM_OPS_LOG_DOMAIN, NULL);
  else
    domains = g_strdup (ICECAM_OPS_LOG_DOMAIN);
  g_setenv ("G_MESSAGES_DEBUG", domains, TRUE);
}

static gboolean
on_unix_signal (gpointer user_data)
{
  App *app = user_data;

  g_info ("signal received, stopping");
  g_main_loop_quit (app->loop);
  return G_SOURCE_CONTINUE;
}

static void
print_listening (App *app)
{
  g_autofree gchar *uri = icecam_rendezvous_get_uri (app->rendezvous);
  g_autofree gchar *stun = icecam_rendezvous_get_stun_host_port (app->rendezvous);
  g_autofree gchar *alternate = icecam_rendezvous_get_stun_alternate (app->rendezvous);

  if (stun != NULL && alternate != NULL)
    printf ("icecam-rendezvous: listening on %s (stun udp %s, rfc5780 other address %s)\n", uri,
            stun, alternate);
  else if (stun != NULL)
    printf ("icecam-rendezvous: listening on %s (stun udp %s)\n", uri, stun);
  else
    printf ("icecam-rendezvous: listening on %s (stun off)\n", uri);
  /* Scripts and tests read this line to learn the ports: do not leave it in a buffer. */
  fflush (stdout);
}

/* Raises the descriptor soft limit to the hard limit where the system lets us: the global
 * connection cap follows the limit. One line for the operator (the ops log) says which limit
 * the node runs with: a node for 100,000 devices needs more than 100,000 (data/systemd). */
#define OPS_INFO(...) g_log (ICECAM_OPS_LOG_DOMAIN, G_LOG_LEVEL_INFO, __VA_ARGS__)

static void
raise_descriptor_limit (void)
{
  struct rlimit limit;
  rlim_t before;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0) {
    g_warning ("cannot read the descriptor limit: %s", g_strerror (errno));
    return;
  }
  before = limit.rlim_cur;
  if (limit.rlim_cur == limit.rlim_max) {
    OPS_INFO ("descriptor limit %" G_GUINT64_FORMAT " (the hard limit)", (guint64) before);
    return;
  }
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0) {
    OPS_INFO ("descriptor limit %" G_GUINT64_FORMAT ", not raised to the hard limit %"
              G_GUINT64_FORMAT ": %s", (guint64) before, (guint64) limit.rlim_max,
              g_strerror (errno));
    return;
  }
  OPS_INFO ("descriptor limit raised from %" G_GUINT64_FORMAT " to the hard limit %"
            G_GUINT64_FORMAT, (guint64) before, (guint64) limit.rlim_max);
}

#ifdef ICECAM_HAVE_CLUSTER
static void
on_cluster_degraded (GObject *object, GParamSpec *pspec, gpointer user_data)
{
  App *app = user_data;

  icecam_rendezvous_set_cluster_degraded (app->rendezvous,
                                          icecam_cluster_get_degraded (app->cluster));
}
#endif

/* --cluster: joins it, degraded until Redis answers. */
static gboolean
app_join_cluster (App *app, GError **error)
{
#ifdef ICECAM_HAVE_CLUSTER
  g_autofree gchar *node_id = NULL;

  if (app->cluster_url == NULL)
    return TRUE;
  node_id = app->node_id != NULL ? g_strdup (app->node_id)
                                 : g_strdup_printf ("%s-%d", g_get_host_name (), (int) getpid ());
  app->cluster = icecam_cluster_new (icecam_rendezvous_get_registry (app->rendezvous),
                                     app->cluster_url, node_id, app->advertise, error);
  if (app->cluster == NULL)
    return FALSE;
  icecam_rendezvous_set_cluster_degraded (app->rendezvous, TRUE);
  g_signal_connect (app->cluster, "notify::degraded", G_CALLBACK (on_cluster_degraded), app);
  g_info ("cluster node '%s' through %s", node_id, app->cluster_url);
  return TRUE;
#else
  (void) app;
  (void) error;
  return TRUE;
#endif
}

/* The cluster options, checked before anything starts. */
static gboolean
app_check_cluster (App *app, GError **error)
{
#ifdef ICECAM_HAVE_CLUSTER
  g_autofree gchar *host = NULL;
  guint port;
  guint db;

  if (app->cluster_url == NULL) {
    if (app->node_id != NULL || app->advertise != NULL) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "--node-id and --advertise need --cluster");
      return FALSE;
    }
    return TRUE;
  }
  if (!icecam_cluster_parse_url (app->cluster_url, &host, &port, &db, error)) {
    g_prefix_error (error, "--cluster: ");
    return FALSE;
  }
  if (app->node_id != NULL && !icecam_cluster_check_node_id (app->node_id, error)) {
    g_prefix_error (error, "--node-id: ");
    return FALSE;
  }
  return TRUE;
#else
  if (app->cluster_url != NULL || app->node_id != NULL || app->advertise != NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                 "--cluster: this build has no cluster support (built without hiredis)");
    return FALSE;
  }
  return TRUE;
#endif
}

static int
app_run (App *app)
{
  g_autoptr (GError) error = NULL;
  guint sigint_id;
  guint sigterm_id;
  guint sighup_id;

  raise_descriptor_limit ();
  app->rendezvous = icecam_rendezvous_new ();
  icecam_ops_log_set_limit (icecam_registry_get_ops_log (
                              icecam_rendezvous_get_registry (app->rendezvous)),
                            (guint) MAX (app->log_limit, 0));
  if (app->max_connections >= 0)
    icecam_rendezvous_set_max_connections (app->rendezvous, (guint) app->max_connections);
  g_info ("at most %u connections (0: no limit)",
          icecam_rendezvous_get_max_connections (app->rendezvous));
  icecam_rendezvous_set_deadlines (app->rendezvous, (guint) app->handshake_timeout_s,
                                   (guint) app->hello_timeout_s);
  icecam_rendezvous_set_ipv6_prefix_length (app->rendezvous, (guint) app->ipv6_prefix_length);
  icecam_rendezvous_set_stun_enabled (app->rendezvous, !app->stun_off);
  icecam_rendezvous_set_stun_address (app->rendezvous, app->stun_address);
  icecam_rendezvous_set_stun_alternate (app->rendezvous, app->stun_alternate_address);
  icecam_rendezvous_set_max_connections_per_address (app->rendezvous,
                                                     (guint) app->max_connections_per_address);
  icecam_rendezvous_set_message_rate (app->rendezvous, (guint) app->message_rate,
                                      (guint) app->message_burst);
  icecam_rendezvous_set_keepalive (app->rendezvous, (guint) app->keepalive_interval_s,
                                   (guint) app->silence_limit_s);
  icecam_rendezvous_set_ws_stream (app->rendezvous, app->ws_stream);
  for (guint i = 0; app->trusted_proxies != NULL && app->trusted_proxies[i] != NULL; i++)
    icecam_rendezvous_add_trusted_proxy (app->rendezvous, app->trusted_proxies[i], NULL);
  icecam_registry_set_max_sessions_per_camera (icecam_rendezvous_get_registry (app->rendezvous),
                                               (guint) app->max_sessions_per_camera);
  icecam_registry_set_max_sessions_per_viewer (icecam_rendezvous_get_registry (app->rendezvous),
                                               (guint) app->max_sessions_per_viewer);
  icecam_registry_set_resume_grace (icecam_rendezvous_get_registry (app->rendezvous),
                                    (guint) app->resume_grace_s);
  icecam_registry_set_turn (icecam_rendezvous_get_registry (app->rendezvous),
                            (const gchar * const *) app->turn_servers, app->turn_secret,
                            (guint) app->turn_ttl);
  icecam_registry_set_relay_regions (icecam_rendezvous_get_registry (app->rendezvous),
                                     (const gchar * const *) app->turn_servers,
                                     (const gchar * const *) app->turn_regions);
  if (app->turn_servers != NULL)
    app->relay_pool = icecam_relay_pool_new (icecam_rendezvous_get_registry (app->rendezvous),
                                             (const gchar * const *) app->turn_servers);
  icecam_registry_set_camera_secrets (icecam_rendezvous_get_registry (app->rendezvous),
                                      app->camera_secrets);
  icecam_registry_set_token_key (icecam_rendezvous_get_registry (app->rendezvous),
                                 app->token_key);
  if (app->tls_certificate != NULL &&
      !icecam_rendezvous_set_tls_files (app->rendezvous, app->tls_certificate, app->tls_key,
                                        &error)) {
    g_printerr ("icecam-rendezvous: cannot use the TLS certificate: %s\n", error->message);
    return EXIT_FAILURE;
  }
  if (!icecam_rendezvous_listen (app->rendezvous, app->host, app->port, &error)) {
    g_printerr ("icecam-rendezvous: cannot listen on %s: %s\n",
                app->listen != NULL ? app->listen : DEFAULT_LISTEN, error->message);
    return EXIT_FAILURE;
  }
  if (!app_join_cluster (app, &error)) {
    g_printerr ("icecam-rendezvous: --cluster: %s\n", error->message);
    return EXIT_FAILURE;
  }
  /* Before the line that tells scripts the server is up: a SIGHUP after it must not kill it. */
  sighup_id = g_unix_signal_add (SIGHUP, on_sighup, app);
  app->loop = g_main_loop_new (NULL, FALSE);
  sigint_id = g_unix_signal_add (SIGINT, on_unix_signal, app);
  sigterm_id = g_unix_signal_add (SIGTERM, on_unix_signal, app);
  print_listening (app);
  g_main_loop_run (app->loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_source_remove (sighup_id);
  return EXIT_SUCCESS;
}

int
main (int argc, char **argv)
{
  App app = {
    .turn_ttl = ICECAM_REGISTRY_DEFAULT_TURN_TTL_S,
    .max_connections_per_address = ICECAM_ADMISSION_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    .message_rate = ICECAM_ADMISSION_DEFAULT_MESSAGE_RATE,
    .message_burst = ICECAM_ADMISSION_DEFAULT_MESSAGE_BURST,
    .max_sessions_per_camera = ICECAM_REGISTRY_DEFAULT_MAX_SESSIONS_PER_CAMERA,
    .max_sessions_per_viewer = ICECAM_REGISTRY_DEFAULT_MAX_SESSIONS_PER_VIEWER,
    .keepalive_interval_s = ICECAM_ADMISSION_DEFAULT_KEEPALIVE_INTERVAL_S,
    .silence_limit_s = ICECAM_ADMISSION_DEFAULT_SILENCE_LIMIT_S,
    .resume_grace_s = ICECAM_REGISTRY_DEFAULT_RESUME_GRACE_S,
    .handshake_timeout_s = ICECAM_ADMISSION_DEFAULT_HANDSHAKE_TIMEOUT_S,
    .hello_timeout_s = ICECAM_ADMISSION_DEFAULT_HELLO_TIMEOUT_S,
    .max_connections = -1,
    .ipv6_prefix_length = ICECAM_ADMISSION_DEFAULT_IPV6_PREFIX_LENGTH,
    .log_limit = ICECAM_OPS_LOG_DEFAULT_LIMIT,
  };
  g_autoptr (GError) error = NULL;
  int status;

  /* stdout carries the one "listening" line; every log goes to stderr. */
  setlocale (LC_ALL, "");
  g_log_writer_default_set_use_stderr (TRUE);
  if (argc > 1 && g_strcmp0 (argv[1], "token") == 0)
    return icecam_token_command (argc - 1, argv + 1);

  if (!app_parse_options (&app, &argc, &argv, &error)) {
    /* A config file's error names its line: the options' help is no help there. */
    if (error->domain == G_KEY_FILE_ERROR)
      g_printerr ("icecam-rendezvous: %s\n", error->message);
    else
      g_printerr ("icecam-rendezvous: %s (see --help)\n", error->message);
    app_clear (&app);
    return EXIT_USAGE;
  }
  if (app.version) {
    printf ("icecam-rendezvous %s\n", ICECAM_VERSION);
    app_clear (&app);
    return EXIT_SUCCESS;
  }
  /* One line: for a wrong ICECAM_WS_STREAM, the options are not what needs reading; for the
   * relays, the line names the option. */
  if (!app_check_relay_access (&app, &error) || !app_choose_ws_stream (&app, &error) ||
      !app_check_cluster (&app, &error)) {
    g_printerr ("icecam-rendezvous: %s\n", error->message);
    app_clear (&app);
    return EXIT_USAGE;
  }
  app_enable_ops_log (&app);
  icecam_log_set_verbose (app.verbose);

  status = app_run (&app);
  app_clear (&app);
  return status;
}
