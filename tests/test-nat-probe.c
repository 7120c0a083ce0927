/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the NAT probe: the verdict tables as pure code, then whole probes over loopback
 * against the rendezvous's STUN responder, a fake RFC 5780 server that plays a NAT, a
 * silent server and a server without RFC 5780. */

#include "icecam-nat-probe.h"
#include "icecam-rendezvous.h"
#include "icecam-stun-message.h"
#include "icecam-stun-responder.h"
#include "icecam-test-util.h"

#include <string.h>

/* Short per-test budget for servers that answer: filtered tests end after it. */
#define FAST_TIMEOUT_MS 300

#define EI ICECAM_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT
#define AD ICECAM_NAT_BEHAVIOUR_ADDRESS_DEPENDENT
#define APD ICECAM_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT
#define UNK ICECAM_NAT_BEHAVIOUR_UNKNOWN

#define T_UNKNOWN ICECAM_NAT_TYPE_UNKNOWN
#define T_OPEN ICECAM_NAT_TYPE_OPEN
#define T_FULL ICECAM_NAT_TYPE_FULL_CONE
#define T_RC ICECAM_NAT_TYPE_RESTRICTED_CONE
#define T_PRC ICECAM_NAT_TYPE_PORT_RESTRICTED_CONE
#define T_SYM ICECAM_NAT_TYPE_SYMMETRIC
#define T_BLOCKED ICECAM_NAT_TYPE_UDP_BLOCKED

/* ---- the tables, as pure code --------------------------------------------------------- */

static const IcecamNatBehaviour behaviours[] = { UNK, EI, AD, APD };

static void
test_classify_table (void)
{
  /* [nat present: unknown, no, yes][mapping: UNK EI AD APD][filtering: UNK EI AD APD] */
  static const IcecamNatType expected[3][4][4] = {
    { /* NAT unknown: only a symmetric mapping decides */
      { T_UNKNOWN, T_UNKNOWN, T_UNKNOWN, T_UNKNOWN },
      { T_UNKNOWN, T_UNKNOWN, T_UNKNOWN, T_UNKNOWN },
      { T_SYM, T_SYM, T_SYM, T_SYM },
      { T_SYM, T_SYM, T_SYM, T_SYM } },
    { /* no NAT: the filtering names it */
      { T_UNKNOWN, T_OPEN, T_RC, T_PRC },
      { T_UNKNOWN, T_OPEN, T_RC, T_PRC },
      { T_SYM, T_SYM, T_SYM, T_SYM },
      { T_SYM, T_SYM, T_SYM, T_SYM } },
    { /* NAT */
      { T_UNKNOWN, T_UNKNOWN, T_UNKNOWN, T_UNKNOWN },
      { T_UNKNOWN, T_FULL, T_RC, T_PRC },
      { T_SYM, T_SYM, T_SYM, T_SYM },
      { T_SYM, T_SYM, T_SYM, T_SYM } },
  };
  static const IcecamNatAnswer answers[] = { ICECAM_NAT_ANSWER_UNKNOWN, ICECAM_NAT_ANSWER_NO,
                                             ICECAM_NAT_ANSWER_YES };

  for (guint n = 0; n < G_N_ELEMENTS (answers); n++) {
    for (guint m = 0; m < G_N_ELEMENTS (behaviours); m++) {
      for (guint f = 0; f < G_N_ELEMENTS (behaviours); f++) {
        IcecamNatType reached = icecam_nat_classify (TRUE, answers[n], behaviours[m],
                                                     behaviours[f]);
        IcecamNatType blocked = icecam_nat_classify (FALSE, answers[n], behaviours[m],
                                                     behaviours[f]);

        g_test_message ("nat=%s mapping=%s filtering=%s -> %s",
                        icecam_nat_answer_to_string (answers[n]),
                        icecam_nat_behaviour_to_string (behaviours[m]),
                        icecam_nat_behaviour_to_string (behaviours[f]),
                        icecam_nat_type_to_string (reached));
        g_assert_cmpstr (icecam_nat_type_to_string (reached), ==,
                         icecam_nat_type_to_string (expected[n][m][f]));
        g_assert_cmpint (blocked, ==, T_BLOCKED);
      }
    }
  }
}

static void
test_path_table (void)
{
  /* Rows: local; columns: peer; in enum order unknown, open, full, rc, prc, sym, blocked. */
#define U ICECAM_NAT_PATH_UNKNOWN
#define D ICECAM_NAT_PATH_DIRECT
#define R ICECAM_NAT_PATH_RELAY
#define TCP ICECAM_NAT_PATH_RELAY_TCP
  static const IcecamNatPath expected[ICECAM_NAT_N_TYPES][ICECAM_NAT_N_TYPES] = {
    /* unknown */ { U, U, U, U, U, U, TCP },
    /* open    */ { U, D, D, D, D, D, TCP },
    /* full    */ { U, D, D, D, D, D, TCP },
    /* rc      */ { U, D, D, D, D, D, TCP },
    /* prc     */ { U, D, D, D, D, R, TCP },
    /* sym     */ { U, D, D, D, R, R, TCP },
    /* blocked */ { TCP, TCP, TCP, TCP, TCP, TCP, TCP },
  };
#undef U
#undef D
#undef R
#undef TCP

  for (IcecamNatType local = 0; local < ICECAM_NAT_N_TYPES; local++) {
    for (IcecamNatType peer = 0; peer < ICECAM_NAT_N_TYPES; peer++) {
      g_assert_cmpstr (icecam_nat_path_to_string (icecam_nat_path (local, peer)), ==,
                       icecam_nat_path_to_string (expected[local][peer]));
      g_assert_cmpint (icecam_nat_path (local, peer), ==, icecam_nat_path (peer, local));
    }
  }
}

/* The oracle of the NAT lab notes, row by row. */
static void
test_path_oracle (void)
{
  g_assert_cmpint (icecam_nat_path (T_PRC, T_PRC), ==, ICECAM_NAT_PATH_DIRECT);
  g_assert_cmpint (icecam_nat_path (T_FULL, T_SYM), ==, ICECAM_NAT_PATH_DIRECT);
  g_assert_cmpint (icecam_nat_path (T_RC, T_SYM), ==, ICECAM_NAT_PATH_DIRECT);
  g_assert_cmpint (icecam_nat_path (T_PRC, T_SYM), ==, ICECAM_NAT_PATH_RELAY);
  g_assert_cmpint (icecam_nat_path (T_SYM, T_SYM), ==, ICECAM_NAT_PATH_RELAY);
  for (IcecamNatType peer = 0; peer < ICECAM_NAT_N_TYPES; peer++)
    g_assert_cmpint (icecam_nat_path (T_BLOCKED, peer), ==, ICECAM_NAT_PATH_RELAY_TCP);
}

static void
test_advice (void)
{
  g_autofree gchar *open = icecam_nat_advice (T_OPEN);
  g_autofree gchar *prc = icecam_nat_advice (T_PRC);
  g_autofree gchar *sym = icecam_nat_advice (T_SYM);
  g_autofree gchar *blocked = icecam_nat_advice (T_BLOCKED);
  g_autofree gchar *unknown = icecam_nat_advice (T_UNKNOWN);

  g_assert_cmpstr (open, ==, "icecam connects directly to open, full-cone, restricted-cone, "
                   "port-restricted-cone and symmetric peers; it needs a TURN relay, which the "
                   "peer reaches over TCP, for udp-blocked peers.");
  g_assert_nonnull (strstr (prc, "needs a TURN relay for symmetric peers"));
  g_assert_nonnull (strstr (sym,
                            "connects directly to open, full-cone and restricted-cone peers"));
  g_assert_nonnull (strstr (sym,
                            "needs a TURN relay for port-restricted-cone and symmetric peers"));
  g_assert_nonnull (strstr (blocked, "TURN relay over TCP"));
  g_assert_nonnull (strstr (unknown, "keep a TURN relay configured"));
}

static void
test_names (void)
{
  static const gchar *const types[] = { "unknown", "open", "full-cone", "restricted-cone",
                                        "port-restricted-cone", "symmetric", "udp-blocked" };
  static const gchar *const names[] = { "unknown", "endpoint-independent", "address-dependent",
                                        "address-and-port-dependent" };

  for (IcecamNatType type = 0; type < ICECAM_NAT_N_TYPES; type++)
    g_assert_cmpstr (icecam_nat_type_to_string (type), ==, types[type]);
  for (guint i = 0; i < G_N_ELEMENTS (behaviours); i++)
    g_assert_cmpstr (icecam_nat_behaviour_to_string (behaviours[i]), ==, names[i]);
  g_assert_cmpstr (icecam_nat_answer_to_string (ICECAM_NAT_ANSWER_YES), ==, "yes");
  g_assert_cmpstr (icecam_nat_answer_to_string (ICECAM_NAT_ANSWER_NO), ==, "no");
  g_assert_cmpstr (icecam_nat_answer_to_string (ICECAM_NAT_ANSWER_UNKNOWN), ==, "unknown");
}

static void
test_lifetime_words (void)
{
  g_autoptr (IcecamNatVerdict) verdict = icecam_nat_verdict_new ();
  static const struct {
    gboolean measured;
    guint min_s, max_s;
    const gchar *words;
  } cases[] = {
    { FALSE, 0, 0, "unknown" },
    { TRUE, 20, 30, "between 20 and 30 s" },
    { TRUE, 120, 0, "more than 120 s" },
    { TRUE, 0, 2, "less than 2 s" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *words = NULL;

    verdict->lifetime_measured = cases[i].measured;
    verdict->lifetime_min_s = cases[i].min_s;
    verdict->lifetime_max_s = cases[i].max_s;
    words = icecam_nat_verdict_describe_lifetime (verdict);
    g_assert_cmpstr (words, ==, cases[i].words);
  }
}

static void
test_json (void)
{
  g_autoptr (IcecamNatVerdict) verdict = icecam_nat_verdict_new ();
  g_autoptr (IcecamNatVerdict) copy = NULL;
  g_autoptr (JsonNode) node = NULL;
  JsonObject *object;
  JsonObject *lifetime;

  verdict->server_reached = TRUE;
  verdict->rfc5780 = TRUE;
  verdict->nat_present = ICECAM_NAT_ANSWER_YES;
  verdict->mapping = EI;
  verdict->filtering = APD;
  verdict->hairpinning = ICECAM_NAT_ANSWER_NO;
  verdict->lifetime_measured = TRUE;
  verdict->lifetime_min_s = 20;
  verdict->lifetime_max_s = 30;
  verdict->server = G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string ("203.0.113.2",
                                                                                  3478));
  verdict->mapped_address =
    G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string ("198.51.100.2", 40000));
  icecam_nat_verdict_add_note (verdict, "note %d", 1);
  copy = icecam_nat_verdict_copy (verdict);

  node = icecam_nat_verdict_to_json (copy);
  object = json_node_get_object (node);
  g_assert_cmpstr (json_object_get_string_member (object, "server"), ==, "203.0.113.2:3478");
  g_assert_cmpstr (json_object_get_string_member (object, "mapped_address"), ==,
                   "198.51.100.2:40000");
  g_assert_true (json_object_get_null_member (object, "other_address"));
  g_assert_true (json_object_get_boolean_member (object, "server_reached"));
  g_assert_true (json_object_get_boolean_member (object, "nat"));
  g_assert_false (json_object_get_boolean_member (object, "hairpinning"));
  g_assert_cmpstr (json_object_get_string_member (object, "mapping"), ==, "endpoint-independent");
  g_assert_cmpstr (json_object_get_string_member (object, "filtering"), ==,
                   "address-and-port-dependent");
  g_assert_cmpstr (json_object_get_string_member (object, "nat_type"), ==,
                   "port-restricted-cone");
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (object, "paths"),
                                                  "symmetric"), ==, "relay");
  lifetime = json_object_get_object_member (object, "lifetime");
  g_assert_cmpint (json_object_get_int_member (lifetime, "min_s"), ==, 20);
  g_assert_cmpint (json_object_get_int_member (lifetime, "max_s"), ==, 30);
  g_assert_cmpstr (json_array_get_string_element (json_object_get_array_member (object, "notes"),
                                                  0), ==, "note 1");
}

static void
test_parse_server (void)
{
  static const struct {
    const gchar *url;
    const gchar *host_port; /* NULL: refused */
  } cases[] = {
    { "stun:203.0.113.2", "203.0.113.2:3478" },
    { "stun:203.0.113.2:5000", "203.0.113.2:5000" },
    { "stun://203.0.113.2:5000", "203.0.113.2:5000" },
    { "stun:[2001:db8::1]:5000", "[2001:db8::1]:5000" },
    { "ws://203.0.113.2:8080", "203.0.113.2:8080" },
    { "ws://203.0.113.2:8080/ws", "203.0.113.2:8080" },
    { "wss://rendezvous.example", "rendezvous.example:443" },
    { "ws://rendezvous.example", "rendezvous.example:80" },
    { "stun:", NULL },
    { "stun:203.0.113.2:", NULL },
    { "stun:user@203.0.113.2", NULL },
    { "turn:203.0.113.2", NULL },
    { "http://203.0.113.2", NULL },
    { "203.0.113.2", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (GSocketConnectable) server = icecam_nat_probe_parse_server (cases[i].url, &error);

    if (cases[i].host_port == NULL) {
      g_assert_null (server);
      g_assert_error (error, ICECAM_NAT_PROBE_ERROR, ICECAM_NAT_PROBE_ERROR_BAD_URL);
    } else {
      g_autofree gchar *text = NULL;

      g_assert_no_error (error);
      text = g_strdup_printf ("%s%s%s:%u",
                              strchr (g_network_address_get_hostname (G_NETWORK_ADDRESS (server)),
                                      ':') ? "[" : "",
                              g_network_address_get_hostname (G_NETWORK_ADDRESS (server)),
                              strchr (g_network_address_get_hostname (G_NETWORK_ADDRESS (server)),
                                      ':') ? "]" : "",
                              g_network_address_get_port (G_NETWORK_ADDRESS (server)));
      g_assert_cmpstr (text, ==, cases[i].host_port);
    }
  }
}

/* RESPONSE-PORT, which the lifetime test sends: understood only by an RFC 5780 responder. */
static void
test_codec_response_port (void)
{
  static const guint8 id[ICECAM_STUN_TRANSACTION_ID_LENGTH] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                                11, 12 };
  guint8 buffer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  IcecamStunRequest request;
  g_autoptr (GError) error = NULL;
  gsize length;

  length = icecam_stun_message_write_response_port_request (id, 40000, buffer, sizeof buffer,
                                                            &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, >, 0);

  g_assert_true (icecam_stun_message_parse_request (buffer, length, TRUE, &request, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (request.error_code, ==, 0);
  g_assert_true (request.has_response_port);
  g_assert_cmpuint (request.response_port, ==, 40000);
  g_assert_false (request.has_change_request);
  g_assert_cmpmem (request.transaction_id, sizeof id, id, sizeof id);

  g_assert_true (icecam_stun_message_parse_request (buffer, length, FALSE, &request, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (request.error_code, ==, 420);
  g_assert_false (request.has_response_port);
  g_assert_cmpuint (request.n_unknown_attributes, ==, 1);
  g_assert_cmphex (request.unknown_attributes[0], ==, 0x0027);
}

/* A RESPONSE-PORT naming port 0 deserves a 400, like a malformed CHANGE-REQUEST. */
static void
test_codec_response_port_zero (void)
{
  static const guint8 id[ICECAM_STUN_TRANSACTION_ID_LENGTH] = { 0 };
  guint8 buffer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  IcecamStunRequest request;
  g_autoptr (GError) error = NULL;
  gsize length;
  gsize offset = 20;

  length = icecam_stun_message_write_response_port_request (id, 1, buffer, sizeof buffer,
                                                            &error);
  g_assert_no_error (error);
  /* The attribute comes first: type 0x0027, length 4, the port, padding. Zero the port and
   * drop FINGERPRINT (the last 8 bytes) so the message stays valid. */
  g_assert_cmphex ((buffer[offset] << 8) | buffer[offset + 1], ==, 0x0027);
  buffer[offset + 4] = buffer[offset + 5] = 0;
  length -= 8;
  buffer[2] = (length - 20) >> 8;
  buffer[3] = (length - 20) & 0xff;
  g_assert_true (icecam_stun_message_parse_request (buffer, length, TRUE, &request, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (request.error_code, ==, 400);
}

/* ---- whole probes over loopback ------------------------------------------------------- */

typedef struct {
  IcecamNatProbe *probe;
  IcecamNatVerdict *verdict;
  GError *error;
  gboolean done;
  gint64 elapsed_us;
} Run;

static void
run_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Run *run = user_data;

  run->verdict = icecam_nat_probe_run_finish (ICECAM_NAT_PROBE (source), result, &run->error);
  run->done = TRUE;
}

/* Runs a probe of @server (a #GSocketConnectable) to the end (10 s at most) and keeps its
 * verdict in @run. */
static void
run_probe (Run *run, gpointer server, guint timeout_ms, guint max_lifetime_s,
           GCancellable *cancellable)
{
  gint64 start = g_get_monotonic_time ();

  memset (run, 0, sizeof *run);
  run->probe = icecam_nat_probe_new (G_SOCKET_CONNECTABLE (server));
  icecam_nat_probe_set_timeout (run->probe, timeout_ms);
  icecam_nat_probe_set_lifetime (run->probe, max_lifetime_s > 0, max_lifetime_s);
  icecam_nat_probe_run_async (run->probe, cancellable, run_done_cb, run);
  g_assert_true (WAIT_UNTIL_FOR (run->done, 10));
  run->elapsed_us = g_get_monotonic_time () - start;
  for (guint i = 0; run->verdict != NULL && i < run->verdict->notes->len; i++)
    g_test_message ("note: %s", (const gchar *) g_ptr_array_index (run->verdict->notes, i));
}

static void
run_clear (Run *run)
{
  g_assert_finalize_object (run->probe);
  g_clear_pointer (&run->verdict, icecam_nat_verdict_free);
  g_clear_error (&run->error);
}

static GInetSocketAddress *
address_new (const gchar *ip, guint16 port)
{
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string (ip, port));
}

static IcecamStunResponder *
responder_new_rfc5780 (void)
{
  IcecamStunResponder *responder = icecam_stun_responder_new ();
  g_autoptr (GInetSocketAddress) primary = address_new ("127.0.0.1", 0);
  g_autoptr (GInetSocketAddress) alternate = address_new ("127.0.0.2", 0);
  g_autoptr (GError) error = NULL;

  icecam_stun_responder_listen_rfc5780 (responder, primary, alternate, &error);
  g_assert_no_error (error);
  return responder;
}

/* The rendezvous's responder in RFC 5780 mode on 127.0.0.1 and 127.0.0.2: no NAT, nothing
 * filtered, hairpinning trivially works. */
static void
test_run_open (void)
{
  IcecamStunResponder *responder = responder_new_rfc5780 ();
  g_autoptr (GInetSocketAddress) server = icecam_stun_responder_get_local_address (responder,
                                                                                   FALSE, FALSE);
  g_autoptr (GInetSocketAddress) other = icecam_stun_responder_get_local_address (responder,
                                                                                  TRUE, TRUE);
  Run run;

  run_probe (&run, server, ICECAM_NAT_PROBE_DEFAULT_TIMEOUT_MS, 0, NULL);
  g_assert_no_error (run.error);
  g_test_message ("open probe took %.0f ms", run.elapsed_us / 1000.0);
  g_assert_true (run.verdict->server_reached);
  g_assert_true (run.verdict->rfc5780);
  g_assert_true (g_inet_address_equal (g_inet_socket_address_get_address (other),
                 g_inet_socket_address_get_address (run.verdict->other_address)));
  g_assert_cmpuint (g_inet_socket_address_get_port (other), ==,
                    g_inet_socket_address_get_port (run.verdict->other_address));
  g_assert_cmpint (run.verdict->nat_present, ==, ICECAM_NAT_ANSWER_NO);
  g_assert_cmpint (run.verdict->mapping, ==, EI);
  g_assert_cmpint (run.verdict->filtering, ==, EI);
  g_assert_cmpint (run.verdict->hairpinning, ==, ICECAM_NAT_ANSWER_YES);
  g_assert_false (run.verdict->lifetime_measured);
  g_assert_cmpint (icecam_nat_verdict_get_nat_type (run.verdict), ==, T_OPEN);
  g_assert_cmpuint (run.verdict->notes->len, ==, 0);
  run_clear (&run);
  g_assert_finalize_object (responder);
}

/* The rendezvous with --stun-alternate, probed through its ws:// URL as icecam-natprobe
 * --rendezvous does. */
static void
test_run_rendezvous (void)
{
  IcecamRendezvous *rendezvous = icecam_rendezvous_new ();
  g_autoptr (GInetAddress) alternate = g_inet_address_new_from_string ("127.0.0.2");
  g_autoptr (GSocketConnectable) server = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *uri = NULL;
  g_autofree gchar *other = NULL;
  Run run;

  icecam_rendezvous_set_stun_alternate (rendezvous, alternate);
  icecam_rendezvous_listen (rendezvous, "127.0.0.1", 0, &error);
  g_assert_no_error (error);
  uri = icecam_rendezvous_get_uri (rendezvous);
  other = icecam_rendezvous_get_stun_alternate (rendezvous);
  g_assert_true (g_str_has_prefix (other, "127.0.0.2:"));
  server = icecam_nat_probe_parse_server (uri, &error);
  g_assert_no_error (error);

  run_probe (&run, server, ICECAM_NAT_PROBE_DEFAULT_TIMEOUT_MS, 0, NULL);
  g_assert_no_error (run.error);
  g_assert_true (run.verdict->rfc5780);
  g_assert_cmpuint (g_inet_socket_address_get_port (run.verdict->server), ==,
                    icecam_rendezvous_get_port (rendezvous));
  g_assert_cmpint (icecam_nat_verdict_get_nat_type (run.verdict), ==, T_OPEN);
  run_clear (&run);
  g_assert_finalize_object (rendezvous);
}

/* A bound socket that never answers: the probe ends after its budget with "UDP blocked". */
static void
test_run_silent (void)
{
  g_autoptr (GSocket) silent = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                             G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GInetSocketAddress) any_port = address_new ("127.0.0.1", 0);
  g_autoptr (GSocketAddress) server = NULL;
  g_autoptr (GError) error = NULL;
  Run run;

  g_socket_bind (silent, G_SOCKET_ADDRESS (any_port), FALSE, &error);
  g_assert_no_error (error);
  server = g_socket_get_local_address (silent, &error);
  g_assert_no_error (error);

  run_probe (&run, server, ICECAM_NAT_PROBE_DEFAULT_TIMEOUT_MS, 0, NULL);
  g_test_message ("silent server: verdict after %.0f ms (budget %u ms)",
                  run.elapsed_us / 1000.0, ICECAM_NAT_PROBE_DEFAULT_TIMEOUT_MS);
  g_assert_no_error (run.error);
  g_assert_false (run.verdict->server_reached);
  g_assert_cmpint (icecam_nat_verdict_get_nat_type (run.verdict), ==, T_BLOCKED);
  g_assert_cmpint (run.verdict->mapping, ==, UNK);
  g_assert_cmpint (run.verdict->filtering, ==, UNK);
  g_assert_null (run.verdict->mapped_address);
  g_assert_nonnull (run.verdict->local_address);
  g_assert_cmpuint (run.verdict->notes->len, ==, 1);
  run_clear (&run);
}

/* A plain responder: the mapped address and hairpinning are known, the rest is not. */
static void
test_run_no_rfc5780 (void)
{
  IcecamStunResponder *responder = icecam_stun_responder_new ();
  g_autoptr (GInetSocketAddress) any_port = address_new ("127.0.0.1", 0);
  g_autoptr (GInetSocketAddress) server = NULL;
  g_autoptr (GError) error = NULL;
  Run run;

  icecam_stun_responder_listen (responder, any_port, &error);
  g_assert_no_error (error);
  server = icecam_stun_responder_get_local_address (responder, FALSE, FALSE);

  run_probe (&run, server, FAST_TIMEOUT_MS, 2, NULL);
  g_assert_no_error (run.error);
  g_assert_true (run.verdict->server_reached);
  g_assert_false (run.verdict->rfc5780);
  g_assert_null (run.verdict->other_address);
  g_assert_nonnull (run.verdict->mapped_address);
  g_assert_cmpint (run.verdict->nat_present, ==, ICECAM_NAT_ANSWER_NO);
  g_assert_cmpint (run.verdict->mapping, ==, UNK);
  g_assert_cmpint (run.verdict->filtering, ==, UNK);
  g_assert_cmpint (run.verdict->hairpinning, ==, ICECAM_NAT_ANSWER_YES);
  g_assert_false (run.verdict->lifetime_measured);
  g_assert_cmpint (icecam_nat_verdict_get_nat_type (run.verdict), ==, T_UNKNOWN);
  /* One note for RFC 5780, one for the lifetime it makes impossible. */
  g_assert_cmpuint (run.verdict->notes->len, ==, 2);
  run_clear (&run);
  g_assert_finalize_object (responder);
}

/* RESPONSE-PORT through the rendezvous's responder: a mapping without a NAT never expires. */
static void
test_run_lifetime (void)
{
  IcecamStunResponder *responder = responder_new_rfc5780 ();
  g_autoptr (GInetSocketAddress) server = icecam_stun_responder_get_local_address (responder,
                                                                                   FALSE, FALSE);
  Run run;

  run_probe (&run, server, FAST_TIMEOUT_MS, 2, NULL);
  g_assert_no_error (run.error);
  g_test_message ("lifetime probe took %.0f ms", run.elapsed_us / 1000.0);
  g_assert_true (run.verdict->lifetime_measured);
  g_assert_cmpuint (run.verdict->lifetime_min_s, ==, 2);
  g_assert_cmpuint (run.verdict->lifetime_max_s, ==, 0);
  run_clear (&run);
  g_assert_finalize_object (responder);
}

static void
test_run_cancel (void)
{
  IcecamStunResponder *responder = responder_new_rfc5780 ();
  g_autoptr (GInetSocketAddress) server = icecam_stun_responder_get_local_address (responder,
                                                                                   FALSE, FALSE);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Run run;

  g_cancellable_cancel (cancellable);
  run_probe (&run, server, FAST_TIMEOUT_MS, 0, cancellable);
  g_assert_error (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_null (run.verdict);
  run_clear (&run);
  g_assert_finalize_object (responder);
}

/* ---- a fake RFC 5780 server that behaves as if a NAT stood before the probe ----------- */

/* endpoints[i]: bit 0 alternate port, bit 1 alternate IP, as the RFC 5780 responder does. */
typedef struct {
  GSocket *sockets[4];
  GSource *sources[4];
  IcecamStunAddress wire[4];
  IcecamNatBehaviour mapping;
  IcecamNatBehaviour filtering;
} FakeNatServer;

typedef struct {
  FakeNatServer *server;
  guint index;
} FakeEndpoint;

/* The mapped port a NAT of the fake's mapping behaviour gives for a destination. */
static guint16
fake_mapped_port (FakeNatServer *fake, guint16 source_port, guint index)
{
  guint offset = 0;

  if (fake->mapping == AD)
    offset = (index & 2) ? 1000 : 0;
  else if (fake->mapping == APD)
    offset = 1000 * index;
  return (guint16) (source_port % 50000 + 10000 + offset);
}

/* Whether the fake NAT's filter lets an answer from the changed endpoint through: the probe's
 * filtering sockets have only ever sent to the primary endpoint. */
static gboolean
fake_filter_passes (FakeNatServer *fake, guint32 change_flags)
{
  if (change_flags == 0 || fake->filtering == EI)
    return TRUE;
  if (fake->filtering == AD)
    return (change_flags & ICECAM_STUN_CHANGE_IP) == 0;
  return FALSE;
}

static gboolean
on_fake_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  FakeEndpoint *endpoint = user_data;
  FakeNatServer *fake = endpoint->server;
  guint8 buffer[1536];
  guint8 answer[ICECAM_STUN_MESSAGE_BUFFER_SIZE];
  g_autoptr (GSocketAddress) from = NULL;
  g_autoptr (GInetSocketAddress) to = NULL;
  IcecamStunRequest request;
  IcecamStunAddress mapped;
  guint reply_index = endpoint->index;
  guint16 source_port;
  gssize received;
  gsize length;

  received = g_socket_receive_from (socket, &from, (gchar *) buffer, sizeof buffer, NULL, NULL);
  if (received <= 0 ||
      !icecam_stun_message_parse_request (buffer, received, TRUE, &request, NULL) ||
      request.error_code != 0)
    return G_SOURCE_CONTINUE;
  if (request.has_change_request) {
    reply_index ^= (request.change_flags & ICECAM_STUN_CHANGE_IP) ? 2 : 0;
    reply_index ^= (request.change_flags & ICECAM_STUN_CHANGE_PORT) ? 1 : 0;
    if (!fake_filter_passes (fake, request.change_flags))
      return G_SOURCE_CONTINUE;
  }
  /* The "public" side of the fake NAT is 127.0.0.9, where nothing listens. */
  memset (&mapped, 0, sizeof mapped);
  mapped.family = ICECAM_STUN_FAMILY_IPV4;
  mapped.address[0] = 127;
  mapped.address[3] = 9;
  source_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from));
  mapped.port = fake_mapped_port (fake, source_port, endpoint->index);
  length = icecam_stun_message_write_success (&request, &mapped, &fake->wire[reply_index],
                                              &fake->wire[endpoint->index ^ 3], answer,
                                              sizeof answer, NULL);
  g_assert_cmpuint (length, >, 0);
  to = G_INET_SOCKET_ADDRESS (g_object_ref (from));
  g_socket_send_to (fake->sockets[reply_index], G_SOCKET_ADDRESS (to), (const gchar *) answer,
                    length, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

static GSocket *
fake_bind (const gchar *ip, guint16 port, IcecamStunAddress *wire)
{
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM,
                                             G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr (GInetSocketAddress) address = address_new (ip, port);
  g_autoptr (GSocketAddress) local = NULL;

  if (!g_socket_bind (socket, G_SOCKET_ADDRESS (address), FALSE, NULL))
    return NULL;
  local = g_socket_get_local_address (socket, NULL);
  icecam_stun_address_from_socket_address (G_INET_SOCKET_ADDRESS (local), wire);
  return g_steal_pointer (&socket);
}

static void
fake_start (FakeNatServer *fake, FakeEndpoint endpoints[4], IcecamNatBehaviour mapping,
            IcecamNatBehaviour filtering)
{
  memset (fake, 0, sizeof *fake);
  fake->mapping = mapping;
  fake->filtering = filtering;
  /* Ports the system picks on one address may be taken on the other: try again. */
  for (guint attempt = 0; attempt < 20 && fake->sockets[2] == NULL; attempt++) {
    for (guint i = 0; i < 4; i++)
      g_clear_object (&fake->sockets[i]);
    fake->sockets[0] = fake_bind ("127.0.0.1", 0, &fake->wire[0]);
    fake->sockets[1] = fake_bind ("127.0.0.1", 0, &fake->wire[1]);
    fake->sockets[3] = fake_bind ("127.0.0.2", fake->wire[1].port, &fake->wire[3]);
    if (fake->sockets[3] != NULL)
      fake->sockets[2] = fake_bind ("127.0.0.2", fake->wire[0].port, &fake->wire[2]);
  }
  g_assert_nonnull (fake->sockets[2]);
  for (guint i = 0; i < 4; i++) {
    endpoints[i].server = fake;
    endpoints[i].index = i;
    g_socket_set_blocking (fake->sockets[i], FALSE);
    fake->sources[i] = g_socket_create_source (fake->sockets[i], G_IO_IN, NULL);
    g_source_set_callback (fake->sources[i], G_SOURCE_FUNC (on_fake_readable), &endpoints[i],
                           NULL);
    g_source_attach (fake->sources[i], NULL);
  }
}

static void
fake_stop (FakeNatServer *fake)
{
  for (guint i = 0; i < 4; i++) {
    g_source_destroy (fake->sources[i]);
    g_source_unref (fake->sources[i]);
    g_object_unref (fake->sockets[i]);
  }
}

/* Every mapping × filtering combination, through the probe's whole logic. */
static void
test_run_fake_nat (void)
{
  static const IcecamNatBehaviour kinds[] = { EI, AD, APD };
  static const IcecamNatType cones[] = { T_FULL, T_RC, T_PRC };

  for (guint m = 0; m < G_N_ELEMENTS (kinds); m++) {
    for (guint f = 0; f < G_N_ELEMENTS (kinds); f++) {
      FakeNatServer fake;
      FakeEndpoint endpoints[4];
      g_autoptr (GInetSocketAddress) server = NULL;
      Run run;

      fake_start (&fake, endpoints, kinds[m], kinds[f]);
      server = icecam_stun_address_to_socket_address (&fake.wire[0]);
      run_probe (&run, server, FAST_TIMEOUT_MS, 0, NULL);
      g_assert_no_error (run.error);
      g_test_message ("fake NAT mapping=%s filtering=%s: probe says mapping=%s filtering=%s "
                      "type=%s in %.0f ms", icecam_nat_behaviour_to_string (kinds[m]),
                      icecam_nat_behaviour_to_string (kinds[f]),
                      icecam_nat_behaviour_to_string (run.verdict->mapping),
                      icecam_nat_behaviour_to_string (run.verdict->filtering),
                      icecam_nat_type_to_string (icecam_nat_verdict_get_nat_type (run.verdict)),
                      run.elapsed_us / 1000.0);
      g_assert_cmpint (run.verdict->nat_present, ==, ICECAM_NAT_ANSWER_YES);
      g_assert_cmpint (run.verdict->mapping, ==, kinds[m]);
      g_assert_cmpint (run.verdict->filtering, ==, kinds[f]);
      g_assert_cmpint (run.verdict->hairpinning, ==, ICECAM_NAT_ANSWER_NO);
      /* The fake's ports: one (EI), two (AD: too few to tell), four 1000 apart out of order
       * (APD: random). */
      g_assert_cmpstr (icecam_nat_port_allocation_to_string (run.verdict->port_allocation), ==,
                       kinds[m] == EI ? "same" : kinds[m] == AD ? "unknown" : "random");
      g_assert_cmpuint (run.verdict->port_spread, ==,
                        kinds[m] == EI ? 0 : kinds[m] == AD ? 1000 : 3000);
      g_assert_cmpint (icecam_nat_verdict_get_nat_type (run.verdict), ==,
                       kinds[m] == EI ? cones[f] : T_SYM);
      run_clear (&run);
      fake_stop (&fake);
    }
  }
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/nat-probe/classify/table", test_classify_table);
  g_test_add_func ("/nat-probe/path/table", test_path_table);
  g_test_add_func ("/nat-probe/path/oracle", test_path_oracle);
  g_test_add_func ("/nat-probe/advice/sentences", test_advice);
  g_test_add_func ("/nat-probe/names/tokens", test_names);
  g_test_add_func ("/nat-probe/verdict/lifetime-words", test_lifetime_words);
  g_test_add_func ("/nat-probe/verdict/json", test_json);
  g_test_add_func ("/nat-probe/parse-server/urls", test_parse_server);
  g_test_add_func ("/nat-probe/codec/response-port", test_codec_response_port);
  g_test_add_func ("/nat-probe/codec/response-port-zero", test_codec_response_port_zero);
  g_test_add_func ("/nat-probe/run/open", test_run_open);
  g_test_add_func ("/nat-probe/run/rendezvous", test_run_rendezvous);
  g_test_add_func ("/nat-probe/run/silent-server", test_run_silent);
  g_test_add_func ("/nat-probe/run/no-rfc5780", test_run_no_rfc5780);
  g_test_add_func ("/nat-probe/run/lifetime", test_run_lifetime);
  g_test_add_func ("/nat-probe/run/cancelled", test_run_cancel);
  g_test_add_func ("/nat-probe/run/fake-nat", test_run_fake_nat);
  return g_test_run ();
}
