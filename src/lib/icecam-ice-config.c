/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ICE configuration: STUN/TURN URLs (RFC 7064/7065 and GStreamer's forms) and policy. */

#include "icecam-ice-config.h"

#include <string.h>

G_DEFINE_QUARK (icecam-ice-config-error-quark, icecam_ice_config_error)

void
icecam_ice_server_address_free (IcecamIceServerAddress *addr)
{
  if (addr == NULL)
    return;
  g_free (addr->host);
  g_free (addr->username);
  g_free (addr->password);
  g_free (addr->tls_name);
  g_free (addr);
}

IcecamIceServerAddress *
icecam_ice_server_address_copy (const IcecamIceServerAddress *addr)
{
  IcecamIceServerAddress *copy = g_new0 (IcecamIceServerAddress, 1);

  copy->kind = addr->kind;
  copy->host = g_strdup (addr->host);
  copy->port = addr->port;
  copy->username = g_strdup (addr->username);
  copy->password = g_strdup (addr->password);
  copy->transport = addr->transport;
  copy->tls_name = g_strdup (addr->tls_name);
  return copy;
}

IcecamIceConfig *
icecam_ice_config_new (void)
{
  IcecamIceConfig *config = g_new0 (IcecamIceConfig, 1);

  config->turn = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_address_free);
  config->policy = ICECAM_ICE_POLICY_ALL;
  return config;
}

IcecamIceConfig *
icecam_ice_config_copy (const IcecamIceConfig *config)
{
  IcecamIceConfig *copy = icecam_ice_config_new ();

  if (config->stun)
    copy->stun = icecam_ice_server_address_copy (config->stun);
  for (guint i = 0; i < config->turn->len; i++)
    g_ptr_array_add (copy->turn,
                     icecam_ice_server_address_copy (g_ptr_array_index (config->turn, i)));
  copy->policy = config->policy;
  copy->ice_tcp = config->ice_tcp;
  copy->port_step = config->port_step;
  copy->punch = config->punch;
  copy->punch_tcp = config->punch_tcp;
  copy->relay_grace_ms = config->relay_grace_ms;
  copy->local_addresses = g_strdupv (config->local_addresses);
  copy->turn_ca_file = g_strdup (config->turn_ca_file);
  return copy;
}

void
icecam_ice_config_free (IcecamIceConfig *config)
{
  if (config == NULL)
    return;
  icecam_ice_server_address_free (config->stun);
  g_ptr_array_unref (config->turn);
  g_strfreev (config->local_addresses);
  g_free (config->turn_ca_file);
  g_free (config);
}

/* A DNS name as a resolver will take it (RFC 1123 labels; '_' too, as some networks use it;
 * IDN through its ASCII form). A last label of digits only is a mistyped IPv4 address
 * ("198.51.100.300", "127.1"), not a name. */
static gboolean
host_name_is_valid (const gchar *host)
{
  g_autofree gchar *ascii = g_hostname_to_ascii (host);
  gsize length;
  const gchar *label;
  gboolean all_digits = TRUE;

  if (ascii == NULL)
    return FALSE;
  length = strlen (ascii);
  if (length > 0 && ascii[length - 1] == '.')
    ascii[--length] = '\0'; /* an absolute name */
  if (length == 0 || length > 253)
    return FALSE;
  label = ascii;
  for (const gchar *p = ascii;; p++) {
    if (*p == '.' || *p == '\0') {
      gsize label_length = (gsize) (p - label);

      if (label_length == 0 || label_length > 63 || label[0] == '-' || p[-1] == '-')
        return FALSE;
      if (*p == '\0')
        break;
      label = p + 1;
      all_digits = TRUE;
    } else if (g_ascii_isalnum (*p) || *p == '-' || *p == '_') {
      all_digits = all_digits && g_ascii_isdigit (*p);
    } else {
      return FALSE;
    }
  }
  return !all_digits;
}

/* Splits "host[:port]" or "[v6]:port" in place. A bracketed host must be an IPv6 address;
 * any other host an IPv4 address or a host name. */
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
    if (!g_hostname_is_ip_address (*host) || strchr (*host, ':') == NULL)
      return FALSE;
  } else {
    gchar *colon = strrchr (hostport, ':');

    *host = hostport;
    if (colon != NULL) {
      *colon = '\0';
      port_str = colon + 1;
    }
    if (g_hostname_is_ip_address (*host) ? strchr (*host, ':') != NULL
                                         : !host_name_is_valid (*host))
      return FALSE;
  }
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

/* "USER:PASSWORD", percent-escaped, in place. */
static gboolean
parse_userinfo (gchar *userinfo, gchar **user, gchar **pass)
{
  gchar *colon = strchr (userinfo, ':');

  if (colon == NULL)
    return FALSE;
  *colon = '\0';
  *user = g_uri_unescape_string (userinfo, NULL);
  *pass = g_uri_unescape_string (colon + 1, NULL);
  return *user != NULL && *pass != NULL;
}

/**
 * icecam_ice_server_address_parse:
 * @url: "stun:HOST[:PORT]", "turn:HOST[:PORT][?transport=udp|tcp]", "turns:HOST[:PORT]"
 *   (RFC 7064/7065), or the GStreamer forms "stun://HOST:PORT", "turn(s)://USER:PASS@HOST:PORT"
 *   (USER and PASS percent-escaped). HOST is an IPv4 address, an IPv6 address in brackets or
 *   a host name; PORT defaults to 3478 (5349 for turns:).
 * @username: (nullable): TURN username, unless the URL carries one
 * @credential: (nullable): TURN password, unless the URL carries one
 * @error: an %ICECAM_ICE_CONFIG_ERROR
 *
 * Parses one ICE server URL. Pure: no I/O, a host name stays a name.
 *
 * Returns: (transfer full) (nullable): the server, or %NULL with @error set
 */
IcecamIceServerAddress *
icecam_ice_server_address_parse (const gchar *url, const gchar *username,
                                 const gchar *credential, GError **error)
{
  g_autofree gchar *copy = NULL;
  g_autofree gchar *user = NULL;
  g_autofree gchar *pass = NULL;
  gchar *rest, *query, *at, *host = NULL;
  gboolean stun = FALSE, tls = FALSE;
  IcecamTurnTransport transport = ICECAM_TURN_TRANSPORT_UDP;
  guint16 port;
  IcecamIceServerAddress *addr;

  g_return_val_if_fail (url != NULL, NULL);

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
    return NULL;
  }
  port = tls ? 5349 : 3478;
  if (g_str_has_prefix (rest, "//")) {
    rest += 2;
    at = strrchr (rest, '@');
    if (at != NULL) {
      *at = '\0';
      if (!parse_userinfo (rest, &user, &pass)) {
        g_set_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_BAD_URL,
                     "'%s': credentials must be USER:PASSWORD, percent-escaped", url);
        return NULL;
      }
      rest = at + 1;
    }
  }
  if (user == NULL) {
    user = g_strdup (username);
    pass = g_strdup (credential);
  }
  query = strchr (rest, '?');
  if (query != NULL)
    *query++ = '\0';
  if (!split_host_port (rest, &host, &port) || (stun && query != NULL) ||
      !parse_query (query, &transport)) {
    g_set_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_BAD_URL,
                 "cannot parse ICE server URL '%s'", url);
    return NULL;
  }
  if (!stun && (user == NULL || pass == NULL)) {
    g_set_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_BAD_URL,
                 "TURN server '%s' has no username and credential", url);
    return NULL;
  }

  addr = g_new0 (IcecamIceServerAddress, 1);
  addr->kind = stun ? ICECAM_ICE_SERVER_KIND_STUN : ICECAM_ICE_SERVER_KIND_TURN;
  addr->host = g_strdup (host);
  addr->port = port;
  if (!stun) {
    addr->transport = tls ? ICECAM_TURN_TRANSPORT_TLS : transport;
    addr->username = g_steal_pointer (&user);
    addr->password = g_steal_pointer (&pass);
  }
  return addr;
}

gboolean
icecam_ice_config_add_url (IcecamIceConfig *config, const gchar *url, const gchar *username,
                           const gchar *credential, GError **error)
{
  IcecamIceServerAddress *addr = icecam_ice_server_address_parse (url, username, credential,
                                                                  error);

  if (addr == NULL)
    return FALSE;
  if (addr->kind == ICECAM_ICE_SERVER_KIND_STUN) {
    icecam_ice_server_address_free (config->stun);
    config->stun = addr;
    return TRUE;
  }
  if (config->turn->len >= ICECAM_ICE_CONFIG_MAX_TURN_SERVERS) {
    g_set_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_TOO_MANY,
                 "at most %d TURN servers", ICECAM_ICE_CONFIG_MAX_TURN_SERVERS);
    icecam_ice_server_address_free (addr);
    return FALSE;
  }
  g_ptr_array_add (config->turn, addr);
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
 * An advertised server whose URL cannot be used is logged and skipped: the session can still
 * work without it. Pure, like icecam_ice_config_add_url(): called for every `session`
 * message, it must not wait for a resolver (#IcecamIceSession resolves names, and skips one
 * that does not resolve, when it gathers). With a loopback rendezvous, and no addresses chosen by the user, only
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
