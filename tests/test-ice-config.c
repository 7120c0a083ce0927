/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ICE server URLs and configurations: pure code, strings in, no resolver. */

#include <string.h>

#include "icecam-ice-config.h"

typedef struct {
  const gchar *url;
  IcecamIceServerKind kind;
  const gchar *host;
  guint16 port;
  IcecamTurnTransport transport;
} Accepted;

/* Every form a user or a rendezvous may write. TURN URLs get "u"/"p" from the caller. */
static const Accepted accepted[] = {
  { "stun:198.51.100.1", ICECAM_ICE_SERVER_KIND_STUN, "198.51.100.1", 3478 },
  { "stun:198.51.100.1:19302", ICECAM_ICE_SERVER_KIND_STUN, "198.51.100.1", 19302 },
  { "stun://203.0.113.9:19302", ICECAM_ICE_SERVER_KIND_STUN, "203.0.113.9", 19302 },
  { "stun:[2001:db8::1]", ICECAM_ICE_SERVER_KIND_STUN, "2001:db8::1", 3478 },
  { "stun:[2001:db8::1]:3479", ICECAM_ICE_SERVER_KIND_STUN, "2001:db8::1", 3479 },
  { "stun:stun.example.net", ICECAM_ICE_SERVER_KIND_STUN, "stun.example.net", 3478 },
  { "stun:stun.example.net.:3479", ICECAM_ICE_SERVER_KIND_STUN, "stun.example.net.", 3479 },
  { "stun:localhost", ICECAM_ICE_SERVER_KIND_STUN, "localhost", 3478 },
  { "stun:no-such-host.invalid", ICECAM_ICE_SERVER_KIND_STUN, "no-such-host.invalid", 3478 },
  { "stun:b\xc3\xbc" "cher.example", ICECAM_ICE_SERVER_KIND_STUN, "b\xc3\xbc" "cher.example",
    3478 },
  { "turn:198.51.100.2", ICECAM_ICE_SERVER_KIND_TURN, "198.51.100.2", 3478,
    ICECAM_TURN_TRANSPORT_UDP },
  { "turn:198.51.100.2:3479?transport=udp", ICECAM_ICE_SERVER_KIND_TURN, "198.51.100.2", 3479,
    ICECAM_TURN_TRANSPORT_UDP },
  { "turn:198.51.100.2?transport=tcp", ICECAM_ICE_SERVER_KIND_TURN, "198.51.100.2", 3478,
    ICECAM_TURN_TRANSPORT_TCP },
  { "turn:[2001:db8::2]:3478?transport=tcp", ICECAM_ICE_SERVER_KIND_TURN, "2001:db8::2", 3478,
    ICECAM_TURN_TRANSPORT_TCP },
  { "turn:turn.example.net", ICECAM_ICE_SERVER_KIND_TURN, "turn.example.net", 3478,
    ICECAM_TURN_TRANSPORT_UDP },
  { "turn://turn.example.net:3480", ICECAM_ICE_SERVER_KIND_TURN, "turn.example.net", 3480,
    ICECAM_TURN_TRANSPORT_UDP },
  { "turn:relay_1.example.net", ICECAM_ICE_SERVER_KIND_TURN, "relay_1.example.net", 3478,
    ICECAM_TURN_TRANSPORT_UDP },
  { "turns:198.51.100.3", ICECAM_ICE_SERVER_KIND_TURN, "198.51.100.3", 5349,
    ICECAM_TURN_TRANSPORT_TLS },
  { "turns:198.51.100.3:443", ICECAM_ICE_SERVER_KIND_TURN, "198.51.100.3", 443,
    ICECAM_TURN_TRANSPORT_TLS },
  { "turns:[2001:db8::3]", ICECAM_ICE_SERVER_KIND_TURN, "2001:db8::3", 5349,
    ICECAM_TURN_TRANSPORT_TLS },
  { "turns://relay.example.org", ICECAM_ICE_SERVER_KIND_TURN, "relay.example.org", 5349,
    ICECAM_TURN_TRANSPORT_TLS },
};

static void
test_parse_accepted (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (accepted); i++) {
    const Accepted *a = &accepted[i];
    g_autoptr (GError) error = NULL;
    g_autoptr (IcecamIceServerAddress) addr =
      icecam_ice_server_address_parse (a->url, "u", "p", &error);

    g_test_message ("%s", a->url);
    g_assert_no_error (error);
    g_assert_nonnull (addr);
    g_assert_cmpint (addr->kind, ==, a->kind);
    g_assert_cmpstr (addr->host, ==, a->host);
    g_assert_cmpuint (addr->port, ==, a->port);
    g_assert_cmpint (addr->transport, ==, a->transport);
    if (a->kind == ICECAM_ICE_SERVER_KIND_STUN) {
      g_assert_null (addr->username); /* STUN takes no credentials */
      g_assert_null (addr->password);
    } else {
      g_assert_cmpstr (addr->username, ==, "u");
      g_assert_cmpstr (addr->password, ==, "p");
    }
  }
}

/* Credentials in the URL win over those given beside it (a rendezvous's minted ones). */
static void
test_parse_credentials (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamIceServerAddress) in_url = icecam_ice_server_address_parse (
    "turn://al%40ice:s3cr%3At@198.51.100.2:3479", "1700000000:cam", "minted", &error);
  g_autoptr (IcecamIceServerAddress) beside = icecam_ice_server_address_parse (
    "turn:198.51.100.2", "1700000000:cam", "minted", &error);
  g_autoptr (IcecamIceServerAddress) empty_user = icecam_ice_server_address_parse (
    "turns://:pw@relay.example.org", NULL, NULL, &error);
  g_autoptr (IcecamIceServerAddress) stun = icecam_ice_server_address_parse (
    "stun://u:p@198.51.100.1", "x", "y", &error);
  g_autoptr (IcecamIceServerAddress) copy = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (in_url->username, ==, "al@ice");
  g_assert_cmpstr (in_url->password, ==, "s3cr:t");
  g_assert_cmpuint (in_url->port, ==, 3479);
  g_assert_cmpstr (beside->username, ==, "1700000000:cam");
  g_assert_cmpstr (beside->password, ==, "minted");
  g_assert_cmpstr (empty_user->username, ==, "");
  g_assert_cmpstr (empty_user->password, ==, "pw");
  g_assert_cmpstr (empty_user->host, ==, "relay.example.org");
  g_assert_null (stun->username);
  g_assert_null (stun->password);

  copy = icecam_ice_server_address_copy (in_url);
  g_assert_cmpint (copy->kind, ==, ICECAM_ICE_SERVER_KIND_TURN);
  g_assert_cmpstr (copy->host, ==, "198.51.100.2");
  g_assert_cmpuint (copy->port, ==, 3479);
  g_assert_cmpstr (copy->username, ==, "al@ice");
  g_assert_cmpstr (copy->password, ==, "s3cr:t");
  g_assert_cmpint (copy->transport, ==, ICECAM_TURN_TRANSPORT_UDP);
}

typedef struct {
  const gchar *url;
  const gchar *message; /* a part of the error message, besides the URL */
} Refused;

static const Refused refused[] = {
  { "http://198.51.100.1", "is not a stun:, turn: or turns: URL" },
  { "stuns:198.51.100.1", "is not a stun:, turn: or turns: URL" },
  { "", "is not a stun:, turn: or turns: URL" },
  { "stun:", "cannot parse" },
  { "stun://", "cannot parse" },
  { "stun::3478", "cannot parse" },
  { "stun:198.51.100.1:", "cannot parse" },
  { "stun:198.51.100.1:0", "cannot parse" },
  { "stun:198.51.100.1:99999", "cannot parse" },
  { "stun:198.51.100.1:34x", "cannot parse" },
  { "stun:198.51.100.1?transport=udp", "cannot parse" }, /* transport is TURN's */
  { "stun:2001:db8::1", "cannot parse" },                /* IPv6 needs brackets */
  { "stun:[2001:db8::1", "cannot parse" },
  { "stun:[2001:db8::1]3478", "cannot parse" },
  { "stun:[198.51.100.1]", "cannot parse" }, /* brackets are for IPv6 */
  { "stun:[stun.example.net]", "cannot parse" },
  { "stun:[]", "cannot parse" },
  { "stun:198.51.100.300", "cannot parse" }, /* neither an address nor a name */
  { "stun:127.1", "cannot parse" },
  { "stun:bad host.example", "cannot parse" },
  { "stun:-bad.example", "cannot parse" },
  { "stun:bad-.example", "cannot parse" },
  { "stun:a..example", "cannot parse" },
  { "stun:.", "cannot parse" },
  { "stun:ex%41mple.net", "cannot parse" },
  { "stun:a/b", "cannot parse" },
  { "stun:0123456789012345678901234567890123456789012345678901234567890123.example",
    "cannot parse" }, /* a 64-character label */
  { "turn://u:p@198.51.100.1?transport=sctp", "cannot parse" },
  { "turn://u:p@198.51.100.1?transport=tcp&x=y", "cannot parse" },
  { "turn://u:p@", "cannot parse" },
  { "turn:198.51.100.1", "has no username and credential" },
  { "turns:relay.example.org", "has no username and credential" },
  { "turn://nopassword@198.51.100.1", "credentials must be USER:PASSWORD" },
  { "turn://u%zz:p@198.51.100.1", "credentials must be USER:PASSWORD" },
  { "turn://u:p%@198.51.100.1", "credentials must be USER:PASSWORD" },
};

static void
test_parse_refused (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();
    IcecamIceServerAddress *addr;

    g_test_message ("%s", refused[i].url);
    addr = icecam_ice_server_address_parse (refused[i].url, NULL, NULL, &error);
    g_assert_null (addr);
    g_assert_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_BAD_URL);
    g_assert_nonnull (strstr (error->message, refused[i].url));
    g_assert_nonnull (strstr (error->message, refused[i].message));
    g_clear_error (&error);

    /* Through the configuration: the same error, nothing added. */
    g_assert_false (icecam_ice_config_add_url (config, refused[i].url, NULL, NULL, &error));
    g_assert_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_BAD_URL);
    g_assert_null (config->stun);
    g_assert_cmpuint (config->turn->len, ==, 0);
  }
}

static void
test_add_url (void)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();
  g_autoptr (IcecamIceConfig) copy = NULL;
  g_autoptr (GError) error = NULL;
  const IcecamIceServerAddress *turn;

  /* A later STUN URL replaces the earlier; relays keep their order. */
  g_assert_true (icecam_ice_config_add_url (config, "stun:198.51.100.1", NULL, NULL, &error));
  g_assert_true (icecam_ice_config_add_url (config, "stun:stun.example.net:19302", NULL, NULL,
                                            &error));
  g_assert_true (icecam_ice_config_add_url (config, "turn:relay.example.net", "u", "p", &error));
  g_assert_true (icecam_ice_config_add_url (config, "turns:198.51.100.3", "u", "p", &error));
  g_assert_no_error (error);
  g_assert_cmpint (config->stun->kind, ==, ICECAM_ICE_SERVER_KIND_STUN);
  g_assert_cmpstr (config->stun->host, ==, "stun.example.net");
  g_assert_cmpuint (config->stun->port, ==, 19302);
  g_assert_cmpuint (config->turn->len, ==, 2);
  turn = g_ptr_array_index (config->turn, 0);
  g_assert_cmpstr (turn->host, ==, "relay.example.net");
  turn = g_ptr_array_index (config->turn, 1);
  g_assert_cmpstr (turn->host, ==, "198.51.100.3");
  g_assert_cmpint (turn->transport, ==, ICECAM_TURN_TRANSPORT_TLS);

  copy = icecam_ice_config_copy (config);
  g_assert_cmpstr (copy->stun->host, ==, "stun.example.net");
  g_assert_cmpuint (copy->turn->len, ==, 2);
  turn = g_ptr_array_index (copy->turn, 0);
  g_assert_cmpint (turn->kind, ==, ICECAM_ICE_SERVER_KIND_TURN);
  g_assert_cmpstr (turn->username, ==, "u");
}

/* libnice takes 8 relays per component. */
static void
test_add_url_too_many (void)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < ICECAM_ICE_CONFIG_MAX_TURN_SERVERS; i++) {
    g_autofree gchar *url = g_strdup_printf ("turn:198.51.100.%u", i + 10);

    g_assert_true (icecam_ice_config_add_url (config, url, "u", "p", &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (ICECAM_ICE_CONFIG_MAX_TURN_SERVERS, ==, 8);
  g_assert_false (icecam_ice_config_add_url (config, "turn:relay.example.net", "u", "p", &error));
  g_assert_error (error, ICECAM_ICE_CONFIG_ERROR, ICECAM_ICE_CONFIG_ERROR_TOO_MANY);
  g_assert_nonnull (strstr (error->message, "at most 8"));
  g_assert_cmpuint (config->turn->len, ==, 8);
  g_clear_error (&error);

  /* STUN is not a relay. */
  g_assert_true (icecam_ice_config_add_url (config, "stun:198.51.100.1", NULL, NULL, &error));
  g_assert_no_error (error);
}

static GPtrArray *
servers_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
}

static void
test_welcome_servers (void)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();
  g_autoptr (GPtrArray) servers = servers_new ();
  const gchar *stun_urls[] = { "stun:198.51.100.1:3478", NULL };
  const gchar *turn_urls[] = { "turn:198.51.100.2:3478?transport=udp",
                               "turn:198.51.100.2:3478?transport=tcp", NULL };
  g_autoptr (GError) error = NULL;

  /* The user's STUN server wins over the advertised one; advertised relays are added. */
  g_assert_true (icecam_ice_config_add_url (config, "stun:203.0.113.5", NULL, NULL, &error));
  g_ptr_array_add (servers, icecam_ice_server_new (stun_urls, NULL, NULL));
  g_ptr_array_add (servers, icecam_ice_server_new (turn_urls, "123:cam", "pw"));
  g_assert_true (icecam_ice_config_add_servers (config, servers, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (config->stun->host, ==, "203.0.113.5");
  g_assert_cmpuint (config->turn->len, ==, 2);
}

/* What a camera builds for each viewer: the user's servers first, then the session's and the
 * welcome's, names as the rendezvous wrote them. */
static void
test_for_session (void)
{
  g_autoptr (IcecamIceConfig) user = icecam_ice_config_new ();
  g_autoptr (IcecamIceConfig) config = NULL;
  g_autoptr (IcecamIceConfig) loopback = NULL;
  g_autoptr (GPtrArray) session = servers_new ();
  g_autoptr (GPtrArray) welcome = servers_new ();
  const gchar *session_urls[] = { "turn:turn.example.net:3478", "turns:turn.example.net", NULL };
  const gchar *welcome_urls[] = { "stun:stun.example.net", "turn:198.51.100.9", NULL };
  const IcecamIceServerAddress *turn;

  g_ptr_array_add (session, icecam_ice_server_new (session_urls, "1700003600:cam", "minted"));
  g_ptr_array_add (welcome, icecam_ice_server_new (welcome_urls, "old", "old"));
  config = icecam_ice_config_for_session (user, session, welcome, FALSE);
  g_assert_cmpstr (config->stun->host, ==, "stun.example.net");
  /* The session's relays; the welcome's relay is not added beside them. */
  g_assert_cmpuint (config->turn->len, ==, 2);
  turn = g_ptr_array_index (config->turn, 0);
  g_assert_cmpstr (turn->host, ==, "turn.example.net");
  g_assert_cmpstr (turn->username, ==, "1700003600:cam");
  turn = g_ptr_array_index (config->turn, 1);
  g_assert_cmpint (turn->transport, ==, ICECAM_TURN_TRANSPORT_TLS);
  g_assert_null (config->local_addresses);

  /* The user's servers win; a loopback rendezvous pins 127.0.0.1. */
  g_assert_true (icecam_ice_config_add_url (user, "stun:198.51.100.1", NULL, NULL, NULL));
  g_assert_true (icecam_ice_config_add_url (user, "turn:relay.example.org", "me", "mine", NULL));
  loopback = icecam_ice_config_for_session (user, session, welcome, TRUE);
  g_assert_cmpstr (loopback->stun->host, ==, "198.51.100.1");
  g_assert_cmpuint (loopback->turn->len, ==, 1);
  turn = g_ptr_array_index (loopback->turn, 0);
  g_assert_cmpstr (turn->host, ==, "relay.example.org");
  g_assert_cmpstr (turn->username, ==, "me");
  g_assert_cmpstr (loopback->local_addresses[0], ==, "127.0.0.1");
  g_assert_null (loopback->local_addresses[1]);
}

/* An advertised URL icecam cannot use is logged and skipped. */
static void
test_for_session_bad_url (void)
{
  g_autoptr (IcecamIceConfig) user = icecam_ice_config_new ();
  g_autoptr (IcecamIceConfig) config = NULL;
  g_autoptr (GPtrArray) welcome = servers_new ();
  const gchar *urls[] = { "stun:198.51.100.1", "turn:[198.51.100.2]", NULL };

  g_ptr_array_add (welcome, icecam_ice_server_new (urls, "u", "p"));
  g_test_expect_message ("icecam", G_LOG_LEVEL_WARNING,
                         "*ignoring an ICE server*turn:[198.51.100.2]*");
  config = icecam_ice_config_for_session (user, NULL, welcome, FALSE);
  g_test_assert_expected_messages ();
  g_assert_cmpstr (config->stun->host, ==, "198.51.100.1");
  g_assert_cmpuint (config->turn->len, ==, 0);
}

static void
test_policy_strings (void)
{
  IcecamIcePolicy policy = ICECAM_ICE_POLICY_ALL;

  g_assert_true (icecam_ice_policy_from_string ("relay", &policy));
  g_assert_cmpint (policy, ==, ICECAM_ICE_POLICY_RELAY);
  g_assert_cmpstr (icecam_ice_policy_to_string (policy), ==, "relay");
  g_assert_true (icecam_ice_policy_from_string ("all", &policy));
  g_assert_cmpint (policy, ==, ICECAM_ICE_POLICY_ALL);
  g_assert_cmpstr (icecam_ice_policy_to_string (policy), ==, "all");
  g_assert_false (icecam_ice_policy_from_string ("srflx", &policy));
  g_assert_false (icecam_ice_policy_from_string (NULL, &policy));
  g_assert_cmpint (policy, ==, ICECAM_ICE_POLICY_ALL);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/ice-config/parse/accepted", test_parse_accepted);
  g_test_add_func ("/ice-config/parse/credentials", test_parse_credentials);
  g_test_add_func ("/ice-config/parse/refused", test_parse_refused);
  g_test_add_func ("/ice-config/add-url/order", test_add_url);
  g_test_add_func ("/ice-config/add-url/too-many", test_add_url_too_many);
  g_test_add_func ("/ice-config/add-servers/welcome", test_welcome_servers);
  g_test_add_func ("/ice-config/for-session/names", test_for_session);
  g_test_add_func ("/ice-config/for-session/bad-url", test_for_session_bad_url);
  g_test_add_func ("/ice-config/policy/strings", test_policy_strings);
  return g_test_run ();
}
