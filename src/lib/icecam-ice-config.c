/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ICE configuration: STUN/TURN URLs (RFC 7064/7065 and GStreamer's forms) and policy. */

#include "icecam-ice-config.h"

#include <gio/gio.h>
#include <string.h>

#define MAX_TURN_SERVERS 8 /* libnice's limit per component */

G_DEFINE_QUARK (icecam-ice-config-error-quark, icecam_ice_config_error)

static void
server_address_free (IcecamIceServerAddress *addr)
{
  if (addr == NULL)
    return;
  g_free (addr->host);
  g_free (addr->username);
  g_free (addr->password);
  g_free (addr);
}

static IcecamIceServerAddress *
server_address_copy (const IcecamIceServerAddress *addr)
{
  IcecamIceServerAddress *copy = g_new0 (IcecamIceServerAddress, 1);

  copy->host = g_strdup (addr->host);
  copy->port = addr->port;
  copy->username = g_strdup (addr->username);
  copy->password = g_strdup (addr->password);
  copy->transport = addr->transport;
  return copy;
}

IcecamIceConfig *
icecam_ice_config_new (void)
{
  IcecamIceConfig *config = g_new0 (IcecamIceConfig, 1);

  config->turn = g_ptr_array_new_with_free_func ((GDestroyNotify) server_address_free);
  config->policy = ICECAM_ICE_POLICY_ALL;
  return config;
}

IcecamIceConfig *
icecam_ice_config_copy (const IcecamIceConfig *config)
{
  IcecamIceConfig *copy = icecam_ice_config_new ();

  if (config->stun)
    copy->stun = server_address_copy (config->stun);
  for (guint i = 0; i < config->turn->len; i++)
    g_ptr_array_add (copy->turn, server_address_copy (g_ptr_array_index (config->turn, i)));
  copy->policy = config->policy;
  copy->ice_tcp = config->ice_tcp;
  copy->local_addresses = g_strdupv (config->local_addresses);
  return copy;
}

void
icecam_ice_config_free (IcecamIceConfig *config)
{
  if (config == NULL)
    return;
  server_address_free (config->stun);
  g_ptr_array_unref (config->turn);
  g_strfreev (config->local_addresses);
  g_free (config);
}

static gchar *
resolve_host (const gchar *host, GError **error)
{
  g_autoptr (GInetAddress) literal = g_inet_address_new_from_string (host);
  g_autoptr (GResolver) resolver = NULL;
  GList *addresses;
  gchar *result = NULL;

  if (literal != NULL)
    return g_inet_address_to_string (literal);

  resolver = g_resolver_get_default ();
  addresses = g_resolver_lookup_by_name (resolver, host, NULL, NULL);
  for (GList *l = addresses; l != NULL && result == NULL; l = l->next) {
    if (g_inet_address_get_family (l->data) == G_SOCKET_FAMILY_IPV4)
      result = g_inet_address_to_string (l->data);
  }
  if (result == NULL && addresses != NULL)
    result = g_inet_address_to_string (addresses->data);
  g_resolver_free_addresses (addresses);
  if (result == NULL)
    g_set_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_RESOLVE,
                 "cannot resolve ICE server host '%s'", host);
  return result;
}

/* Splits "host[:port]" or "[v6]:port" in place. */
static gboolean
split_host_port (gchar *hostport, gchar **host, guint16 *port)
{
  gchar *port_str = NULL;
  guint64 n;
  gchar *end = NULL;

  if (hostport[0] == '[') {
    gchar *close = strchr (hostport, ']');

    if (close == NULL)
      return FALSE;
    *close = '\0';
    *host = hostport + 1;
    if (close[1] == ':')
      port_str = close + 2;
    else if (close[1] != '\0')
      return FALSE;
  } else {
    gchar *colon = strrchr (hostport, ':');

    *host = hostport;
    if (colon != NULL) {
      *colon = '\0';
      port_str = colon + 1;
    }
  }
  if (**host == '\0')
    return FALSE;
  if (port_str != NULL) {
    n = g_ascii_strtoull (port_str, &end, 10);
    if (end == port_str || *end != '\0' || n == 0 || n > 65535)
      return FALSE;
    *port = (guint16) n;
  }
  return TRUE;
}

static gboolean
parse_query (const gchar *query, IcecamTurnTransport *transport)
{
  if (query == NULL)
    return TRUE;
  if (g_str_equal (query, "transport=udp"))
    *transport = ICECAM_TURN_TRANSPORT_UDP;
  else if (g_str_equal (query, "transport=tcp"))
    *transport = ICECAM_TURN_TRANSPORT_TCP;
  else
    return FALSE;
  return TRUE;
}

gboolean
icecam_ice_config_add_url (IcecamIceConfig *config, const gchar *url, const gchar *username,
                           const gchar *credential, GError **error)
{
  g_autofree gchar *copy = NULL;
  gchar *rest, *query, *at, *host = NULL;
  g_autofree gchar *user = g_strdup (username);
  g_autofree gchar *pass = g_strdup (credential);
  gboolean stun = FALSE, tls = FALSE;
  IcecamTurnTransport transport = ICECAM_TURN_TRANSPORT_UDP;
  guint16 port;
  IcecamIceServerAddress *addr;
  gchar *resolved;

  g_return_val_if_fail (url != NULL, FALSE);

  copy = g_strdup (url);
  if (g_str_has_prefix (copy, "stun:")) {
    stun = TRUE;
    rest = copy + 5;
  } else if (g_str_has_prefix (copy, "turn:")) {
    rest = copy + 5;
  } else if (g_str_has_prefix (copy, "turns:")) {
    tls = TRUE;
    rest = copy + 6;
  } else {
    g_set_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_BAD_URL,
                 "'%s' is not a stun:, turn: or turns: URL", url);
    return FALSE;
  }
  port = tls ? 5349 : 3478;
  if (g_str_has_prefix (rest, "//")) {
    rest += 2;
    at = strrchr (rest, '@');
    if (at != NULL) {
      gchar *colon;

      *at = '\0';
      colon = strchr (rest, ':');
      if (colon == NULL) {
        g_set_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_BAD_URL,
                     "'%s': credentials must be USER:PASSWORD", url);
        return FALSE;
      }
      *colon = '\0';
      g_free (user);
      g_free (pass);
      user = g_uri_unescape_string (rest, NULL);
      pass = g_uri_unescape_string (colon + 1, NULL);
      rest = at + 1;
    }
  }
  query = strchr (rest, '?');
  if (query != NULL)
    *query++ = '\0';
  if (!split_host_port (rest, &host, &port) || (stun && query != NULL) ||
      !parse_query (query, &transport)) {
    g_set_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_BAD_URL,
                 "cannot parse ICE server URL '%s'", url);
    return FALSE;
  }
  if (!stun && (user == NULL || pass == NULL)) {
    g_set_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_BAD_URL,
                 "TURN server '%s' has no username and credential", url);
    return FALSE;
  }
  if (!stun && config->turn->len >= MAX_TURN_SERVERS) {
    g_set_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_TOO_MANY,
                 "at most %d TURN servers", MAX_TURN_SERVERS);
    return FALSE;
  }
  resolved = resolve_host (host, error);
  if (resolved == NULL)
    return FALSE;

  addr = g_new0 (IcecamIceServerAddress, 1);
  addr->host = resolved;
  addr->port = port;
  addr->transport = tls ? ICECAM_TURN_TRANSPORT_TLS : transport;
  if (stun) {
    server_address_free (config->stun);
    config->stun = addr;
  } else {
    addr->username = g_steal_pointer (&user);
    addr->password = g_steal_pointer (&pass);
    g_ptr_array_add (config->turn, addr);
  }
  return TRUE;
}

gboolean
icecam_ice_config_add_servers (IcecamIceConfig *config, GPtrArray *servers, GError **error)
{
  gboolean had_stun = config->stun != NULL;
  gboolean had_turn = config->turn->len > 0;

  if (servers == NULL)
    return TRUE;
  for (guint i = 0; i < servers->len; i++) {
    const IcecamIceServer *server = g_ptr_array_index (servers, i);

    for (guint j = 0; server->urls != NULL && server->urls[j] != NULL; j++) {
      const gchar *url = server->urls[j];
      gboolean is_stun = g_str_has_prefix (url, "stun:");

      if ((is_stun && had_stun) || (!is_stun && had_turn))
        continue;
      if (is_stun && config->stun != NULL)
        continue; /* the first advertised STUN server wins */
      if (!icecam_ice_config_add_url (config, url, server->username, server->credential, error))
        return FALSE;
    }
  }
  return TRUE;
}

/**
 * icecam_ice_config_for_session:
 * @user: what the user configured; wins over anything advertised
 * @session_servers: (nullable) (element-type IcecamIceServer): from the `session` message
 *   (freshly minted TURN credentials)
 * @welcome_servers: (nullable) (element-type IcecamIceServer): from `welcome`
 * @server_is_loopback: whether the rendezvous was reached over loopback
 *
 * An advertised server that cannot be used is logged and skipped: the session can still
 * work without it. With a loopback rendezvous, and no addresses chosen by the user, only
 * 127.0.0.1 is gathered: everything is on this machine, and libnice skips loopback.
 *
 * Returns: (transfer full): the configuration for one session
 */
IcecamIceConfig *
icecam_ice_config_for_session (const IcecamIceConfig *user, GPtrArray *session_servers,
                               GPtrArray *welcome_servers, gboolean server_is_loopback)
{
  IcecamIceConfig *config = icecam_ice_config_copy (user);
  GPtrArray *advertised[] = { session_servers, welcome_servers };

  for (guint i = 0; i < G_N_ELEMENTS (advertised); i++) {
    g_autoptr (GError) error = NULL;

    if (!icecam_ice_config_add_servers (config, advertised[i], &error))
      g_warning ("ignoring an ICE server from the rendezvous: %s", error->message);
  }
  if (config->local_addresses == NULL && server_is_loopback) {
    const gchar *loopback[] = { "127.0.0.1", NULL };

    config->local_addresses = g_strdupv ((gchar **) loopback);
  }
  return config;
}

const gchar *
icecam_ice_policy_to_string (IcecamIcePolicy policy)
{
  return policy == ICECAM_ICE_POLICY_RELAY ? "relay" : "all";
}

gboolean
icecam_ice_policy_from_string (const gchar *s, IcecamIcePolicy *policy)
{
  if (g_strcmp0 (s, "all") == 0)
    *policy = ICECAM_ICE_POLICY_ALL;
  else if (g_strcmp0 (s, "relay") == 0)
    *policy = ICECAM_ICE_POLICY_RELAY;
  else
    return FALSE;
  return TRUE;
}
