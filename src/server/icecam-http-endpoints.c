/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The rendezvous's plain HTTP answers: /healthz, /metrics, and 404 for any other path. */

#include "icecam-http-endpoints.h"

#include <string.h>
#include <json-glib/json-glib.h>

/**
 * SECTION:icecam-http-endpoints
 * @title: HTTP endpoints
 * @short_description: the rendezvous's health and metrics pages
 *
 * `/healthz` answers 200 with a small JSON object of counters, `/metrics` the same counters in
 * the Prometheus text exposition format; both take GET and HEAD only. Any path no other
 * handler of the server claims gets 404. The counters come from a callback at every request.
 *
 * Threading: the handlers run in the #GMainContext the #SoupServer serves in.
 */

typedef gchar *(*FormatStatsFunc) (const IcecamHttpEndpointsStats *stats);

/* One page of counters: where they come from and how they are written. */
typedef struct {
  IcecamHttpEndpointsStatsFunc get_stats;
  gpointer user_data;
  const gchar *content_type;
  FormatStatsFunc format;
} StatsPage;

/* Every plain HTTP answer closes its connection: probes connect once per request anyway, and
 * libsoup 3.2 leaks the socket (and its fd) of a keep-alive connection the client closes. */
static void
respond (SoupServerMessage *msg, guint status, const gchar *content_type, gchar *body)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (headers, "Connection", "close");
  soup_server_message_set_status (msg, status, NULL);
  if (body != NULL)
    soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE, body, strlen (body));
}

static gboolean
check_get (SoupServerMessage *msg)
{
  const gchar *method = soup_server_message_get_method (msg);

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    return TRUE;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                "GET, HEAD");
  respond (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL, NULL);
  return FALSE;
}

static void
on_server_not_found (SoupServer *server, SoupServerMessage *msg, const char *path,
                     GHashTable *query, gpointer user_data)
{
  respond (msg, SOUP_STATUS_NOT_FOUND, NULL, NULL);
}

/* ---- /healthz ------------------------------------------------------------------------- */

static void
add_count (JsonBuilder *builder, const gchar *name, guint64 value)
{
  json_builder_set_member_name (builder, name);
  json_builder_add_int_value (builder, (gint64) value);
}

static gchar *
stats_to_json (const IcecamHttpEndpointsStats *stats)
{
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, g_strcmp0 (stats->cluster, "degraded") == 0
                                           ? "degraded" : "ok");
  if (stats->cluster != NULL) {
    json_builder_set_member_name (builder, "cluster");
    json_builder_add_string_value (builder, stats->cluster);
  }
  add_count (builder, "peers", stats->registry.peers);
  add_count (builder, "cameras", stats->registry.cameras);
  add_count (builder, "viewers", stats->registry.viewers);
  add_count (builder, "sessions", stats->registry.sessions);
  add_count (builder, "detached", stats->registry.detached);
  add_count (builder, "resumed", stats->registry.resumed);
  add_count (builder, "messages_relayed", stats->registry.messages_relayed);
  add_count (builder, "errors_sent", stats->registry.errors_sent);
  add_count (builder, "connections_refused", stats->admission.connections_refused);
  add_count (builder, "rate_limited", stats->admission.rate_limited);
  add_count (builder, "silent_closed", stats->admission.silent_closed);
  add_count (builder, "connections", stats->admission.connections);
  add_count (builder, "deadline_closed", stats->admission.deadline_closed);
  add_count (builder, "capacity_refused", stats->admission.capacity_refused);
  json_builder_set_member_name (builder, "relay_credentials");
  json_builder_begin_object (builder);
  add_count (builder, "camera", stats->registry.relay_credentials_camera);
  add_count (builder, "viewer", stats->registry.relay_credentials_viewer);
  json_builder_end_object (builder);
  if (stats->stun_running) {
    json_builder_set_member_name (builder, "stun");
    json_builder_begin_object (builder);
    add_count (builder, "packets_received", stats->stun.packets_received);
    add_count (builder, "requests_answered", stats->stun.requests_answered);
    add_count (builder, "errors_answered", stats->stun.errors_answered);
    add_count (builder, "tcp_requests_answered", stats->stun.tcp_requests_answered);
    json_builder_end_object (builder);
  }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

/* ---- /metrics ------------------------------------------------------------------------- */

static void
append_metric (GString *text, const gchar *name, const gchar *type, const gchar *help,
               guint64 value)
{
  g_string_append_printf (text, "# HELP icecam_rendezvous_%s %s\n", name, help);
  g_string_append_printf (text, "# TYPE icecam_rendezvous_%s %s\n", name, type);
  g_string_append_printf (text, "icecam_rendezvous_%s %" G_GUINT64_FORMAT "\n", name, value);
}

/* Each relay's health and the open sessions it was assigned, labelled with its URL. */
static void
append_relays (GString *text, GArray *relays)
{
  if (relays == NULL || relays->len == 0)
    return;
  g_string_append (text, "# HELP icecam_rendezvous_relay_up 1 if the relay answers its "
                   "checks and is offered to sessions, 0 while withdrawn.\n"
                   "# TYPE icecam_rendezvous_relay_up gauge\n");
  for (guint i = 0; i < relays->len; i++) {
    const IcecamRegistryRelay *relay = &g_array_index (relays, IcecamRegistryRelay, i);
    g_autofree gchar *url = g_strescape (relay->url, NULL);

    g_string_append_printf (text, "icecam_rendezvous_relay_up{url=\"%s\"} %d\n", url,
                            relay->up ? 1 : 0);
  }
  g_string_append (text, "# HELP icecam_rendezvous_relay_sessions Open sessions assigned "
                   "the relay (listed first to their ends).\n"
                   "# TYPE icecam_rendezvous_relay_sessions gauge\n");
  for (guint i = 0; i < relays->len; i++) {
    const IcecamRegistryRelay *relay = &g_array_index (relays, IcecamRegistryRelay, i);
    g_autofree gchar *url = g_strescape (relay->url, NULL);

    g_string_append_printf (text, "icecam_rendezvous_relay_sessions{url=\"%s\"} %u\n", url,
                            relay->sessions);
  }
  g_string_append (text, "# HELP icecam_rendezvous_relay_cluster_sessions Open sessions "
                   "assigned the relay by this node and, as their heartbeats say, the other "
                   "cluster nodes; what the relay policy balances. The region label is the "
                   "relay's region tag.\n"
                   "# TYPE icecam_rendezvous_relay_cluster_sessions gauge\n");
  for (guint i = 0; i < relays->len; i++) {
    const IcecamRegistryRelay *relay = &g_array_index (relays, IcecamRegistryRelay, i);
    g_autofree gchar *url = g_strescape (relay->url, NULL);

    g_string_append_printf (text,
                            "icecam_rendezvous_relay_cluster_sessions{url=\"%s\",region=\"%s\"} %u\n",
                            url, relay->region != NULL ? relay->region : "",
                            relay->cluster_sessions);
  }
}

/* TURN credentials handed out, one series per role. */
static void
append_relay_credentials (GString *text, const IcecamRegistryStats *stats)
{
  const gchar *name = "icecam_rendezvous_relay_credentials_total";

  g_string_append_printf (text, "# HELP %s TURN credentials handed to session ends.\n", name);
  g_string_append_printf (text, "# TYPE %s counter\n", name);
  g_string_append_printf (text, "%s{role=\"camera\"} %" G_GUINT64_FORMAT "\n", name,
                          stats->relay_credentials_camera);
  g_string_append_printf (text, "%s{role=\"viewer\"} %" G_GUINT64_FORMAT "\n", name,
                          stats->relay_credentials_viewer);
}

/* The counters in the Prometheus text exposition format. */
static gchar *
stats_to_metrics (const IcecamHttpEndpointsStats *stats)
{
  GString *text = g_string_new (NULL);

  if (stats->cluster != NULL)
    append_metric (text, "cluster_degraded", "gauge",
                   "1 while Redis is unreachable and this node serves its own clients only.",
                   g_str_equal (stats->cluster, "degraded"));
  append_metric (text, "peers", "gauge", "WebSocket connections open.", stats->registry.peers);
  append_metric (text, "cameras", "gauge", "Cameras online.", stats->registry.cameras);
  append_metric (text, "viewers", "gauge", "Viewers connected.", stats->registry.viewers);
  append_metric (text, "sessions", "gauge", "Sessions open.", stats->registry.sessions);
  append_metric (text, "detached", "gauge",
                 "Clients whose connection went, their sessions kept for them to take back.",
                 stats->registry.detached);
  append_metric (text, "resumed_total", "counter",
                 "Connections that took an earlier one's place and sessions.",
                 stats->registry.resumed);
  append_metric (text, "messages_relayed_total", "counter",
                 "Messages relayed between the ends of sessions.",
                 stats->registry.messages_relayed);
  append_metric (text, "errors_sent_total", "counter", "Error messages sent to clients.",
                 stats->registry.errors_sent);
  append_metric (text, "connections_refused_total", "counter",
                 "Connections closed at once: too many from their address.",
                 stats->admission.connections_refused);
  append_metric (text, "rate_limited_total", "counter",
                 "Connections closed for sending messages too fast.",
                 stats->admission.rate_limited);
  append_metric (text, "silent_closed_total", "counter",
                 "Connections closed for answering no ping for too long.",
                 stats->admission.silent_closed);
  append_metric (text, "connections", "gauge",
                 "TCP connections open: HTTP requests, upgrades and WebSockets.",
                 stats->admission.connections);
  append_metric (text, "deadline_closed_total", "counter",
                 "Connections closed for not finishing their HTTP request and upgrade, or "
                 "their hello, in time.", stats->admission.deadline_closed);
  append_metric (text, "capacity_refused_total", "counter",
                 "Connections closed at once: the service held its maximum of connections.",
                 stats->admission.capacity_refused);
  append_relay_credentials (text, &stats->registry);
  append_relays (text, stats->relays);
  if (stats->stun_running)
    append_metric (text, "stun_requests_answered_total", "counter",
                   "STUN Binding requests answered.", stats->stun.requests_answered);
  if (stats->stun_running)
    append_metric (text, "stun_tcp_requests_answered_total", "counter",
                   "STUN Binding requests answered over TCP.", stats->stun.tcp_requests_answered);
  return g_string_free (text, FALSE);
}

/* ---- the pages ------------------------------------------------------------------------ */

static void
on_server_stats_page (SoupServer *server, SoupServerMessage *msg, const char *path,
                      GHashTable *query, gpointer user_data)
{
  const StatsPage *page = user_data;
  IcecamHttpEndpointsStats stats = { 0 };

  if (!check_get (msg))
    return;
  page->get_stats (&stats, page->user_data);
  respond (msg, SOUP_STATUS_OK, page->content_type, page->format (&stats));
  g_clear_pointer (&stats.relays, g_array_unref);
}

static void
add_stats_page (SoupServer *server, const gchar *path, const gchar *content_type,
                FormatStatsFunc format, IcecamHttpEndpointsStatsFunc get_stats,
                gpointer user_data)
{
  StatsPage *page = g_new0 (StatsPage, 1);

  page->get_stats = get_stats;
  page->user_data = user_data;
  page->content_type = content_type;
  page->format = format;
  soup_server_add_handler (server, path, on_server_stats_page, page, g_free);
}

/* ---- public API ----------------------------------------------------------------------- */

/**
 * icecam_http_endpoints_add:
 * @server: the server to answer on
 * @get_stats: called at every /healthz and /metrics request, in the server's context
 * @user_data: for @get_stats; must stay valid as long as @server has these handlers
 *
 * Adds the /healthz and /metrics handlers and the server's default handler (404).
 */
void
icecam_http_endpoints_add (SoupServer *server, IcecamHttpEndpointsStatsFunc get_stats,
                           gpointer user_data)
{
  g_return_if_fail (SOUP_IS_SERVER (server));
  g_return_if_fail (get_stats != NULL);

  add_stats_page (server, "/healthz", "application/json", stats_to_json, get_stats, user_data);
  add_stats_page (server, "/metrics", "text/plain; version=0.0.4", stats_to_metrics, get_stats,
                  user_data);
  soup_server_add_handler (server, NULL, on_server_not_found, NULL, NULL);
}
