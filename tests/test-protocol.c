/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for the signalling protocol: round trips of every message and every way to fail. */

#include "icecam-protocol.h"
#include "icecam-protocol-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

static const gchar *test_sdp =
  "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
  "m=video 9 UDP/AVP 96\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:96 H264/90000\r\n"
  "a=ice-ufrag:abcd\r\na=ice-pwd:0123456789abcdefghijkl\r\na=ice-options:trickle\r\n"
  "a=rtcp-mux\r\na=sendonly\r\n";

static const gchar *test_candidate =
  "candidate:1 1 UDP 2013266431 203.0.113.10 50000 typ host";

/* ---- helpers -------------------------------------------------------------------------- */

static void
assert_ice_servers_equal (GPtrArray *a, GPtrArray *b)
{
  guint len_a = a != NULL ? a->len : 0;
  guint len_b = b != NULL ? b->len : 0;

  g_assert_cmpuint (len_a, ==, len_b);
  for (guint i = 0; i < len_a; i++) {
    const IcecamIceServer *sa = g_ptr_array_index (a, i);
    const IcecamIceServer *sb = g_ptr_array_index (b, i);

    g_assert_true (g_strv_equal ((const gchar * const *) sa->urls,
                                 (const gchar * const *) sb->urls));
    g_assert_cmpstr (sa->username, ==, sb->username);
    g_assert_cmpstr (sa->credential, ==, sb->credential);
  }
}

static void
assert_strv_equal (gchar **a, gchar **b)
{
  guint len_a = a != NULL ? g_strv_length (a) : 0;
  guint len_b = b != NULL ? g_strv_length (b) : 0;

  g_assert_cmpuint (len_a, ==, len_b);
  for (guint i = 0; i < len_a; i++)
    g_assert_cmpstr (a[i], ==, b[i]);
}

static void
assert_messages_equal (const IcecamMessage *a, const IcecamMessage *b)
{
  g_assert_cmpint (a->type, ==, b->type);
  g_assert_cmpuint (a->version, ==, b->version);
  g_assert_cmpint (a->role, ==, b->role);
  g_assert_cmpstr (a->id, ==, b->id);
  g_assert_cmpstr (a->camera, ==, b->camera);
  g_assert_cmpstr (a->peer, ==, b->peer);
  g_assert_cmpstr (a->session, ==, b->session);
  g_assert_cmpstr (a->sdp, ==, b->sdp);
  g_assert_cmpstr (a->candidate, ==, b->candidate);
  g_assert_cmpstr (a->reason, ==, b->reason);
  g_assert_cmpint (a->error_code, ==, b->error_code);
  g_assert_cmpint (a->bye_code, ==, b->bye_code);
  g_assert_cmpstr (a->text, ==, b->text);
  g_assert_cmpstr (a->address, ==, b->address);
  assert_ice_servers_equal (a->ice_servers, b->ice_servers);
  assert_strv_equal (a->cameras, b->cameras);
  g_assert_cmpstr (a->nonce, ==, b->nonce);
  g_assert_cmpstr (a->proof, ==, b->proof);
  g_assert_cmpstr (a->token, ==, b->token);
  g_assert_cmpstr (a->mapping, ==, b->mapping);
  g_assert_cmpint (a->port_step, ==, b->port_step);
  g_assert_cmpstr (a->resume, ==, b->resume);
  g_assert_cmpint (a->resumed, ==, b->resumed);
  g_assert_cmpint (a->features, ==, b->features);
}

/* icecam_message_to_json() writes the text itself; json-glib, which wrote it before, reads it
 * and writes it back byte for byte (same member order, spacing, escapes, numbers). */
static void
assert_json_glib_writes_the_same (const gchar *json)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *again = NULL;

  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  json_generator_set_root (generator, json_parser_get_root (parser));
  again = json_generator_to_data (generator, NULL);
  g_assert_cmpstr (json, ==, again);
}

/* Build → JSON → parse → compare every field, and the JSON of the result is the same text. */
static void
assert_roundtrip (IcecamMessage *msg)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamMessage) parsed = NULL;
  g_autoptr (IcecamMessage) copy = NULL;
  g_autofree gchar *json = icecam_message_to_json (msg);
  g_autofree gchar *json2 = NULL;

  g_assert_nonnull (json);
  g_test_message ("%s", json);
  assert_json_glib_writes_the_same (json);
  parsed = icecam_message_parse (json, strlen (json), &error);
  g_assert_no_error (error);
  g_assert_nonnull (parsed);
  assert_messages_equal (msg, parsed);

  json2 = icecam_message_to_json (parsed);
  g_assert_cmpstr (json, ==, json2);

  copy = g_boxed_copy (ICECAM_TYPE_MESSAGE, parsed);
  assert_messages_equal (msg, copy);
  icecam_message_free (msg);
}

/* Parsing @text fails with @code and an error message containing @needle. */
static void
assert_parse_fails_len (const gchar *text, gsize length, IcecamProtocolError code,
                        const gchar *needle)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamMessage) msg = icecam_message_parse (text, length, &error);

  g_assert_null (msg);
  g_assert_error (error, ICECAM_PROTOCOL_ERROR, (gint) code);
  g_test_message ("error: %s", error->message);
  /* Error texts go back to peers in `error` messages, which have a length limit. */
  g_assert_cmpuint (strlen (error->message), <=, ICECAM_PROTOCOL_MAX_TEXT_LENGTH);
  if (strstr (error->message, needle) == NULL)
    g_error ("error message '%s' does not contain '%s'", error->message, needle);
}

static void
assert_parse_fails (const gchar *text, IcecamProtocolError code, const gchar *needle)
{
  assert_parse_fails_len (text, strlen (text), code, needle);
}

static IcecamMessage *
parse_ok (const gchar *text)
{
  g_autoptr (GError) error = NULL;
  IcecamMessage *msg = icecam_message_parse (text, strlen (text), &error);

  g_assert_no_error (error);
  g_assert_nonnull (msg);
  return msg;
}

/* ---- round trips ---------------------------------------------------------------------- */

static void
test_roundtrip_hello (void)
{
  assert_roundtrip (icecam_message_new_hello (ICECAM_ROLE_CAMERA, "front-door.cam_1"));
  assert_roundtrip (icecam_message_new_hello (ICECAM_ROLE_VIEWER, "alice"));
  assert_roundtrip (icecam_message_new_hello (ICECAM_ROLE_VIEWER, NULL));
}

static void
test_roundtrip_welcome (void)
{
  const gchar *stun_urls[] = { "stun:127.0.0.1:8080", NULL };
  const gchar *turn_urls[] = { "turn:turn.example.org:3478?transport=udp",
                               "turns:turn.example.org:5349?transport=tcp", NULL };
  g_autoptr (GPtrArray) servers =
    g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  IcecamMessage *msg;

  g_ptr_array_add (servers, icecam_ice_server_new (stun_urls, NULL, NULL));
  g_ptr_array_add (servers, icecam_ice_server_new (turn_urls, "1700000000:cam", "c2VjcmV0"));
  msg = icecam_message_new_welcome ("cam1", "203.0.113.7:40123", servers);
  g_assert_cmpuint (msg->version, ==, ICECAM_PROTOCOL_VERSION);
  assert_roundtrip (msg);

  assert_roundtrip (icecam_message_new_welcome ("viewer-1", "[2001:db8::1]:5000", NULL));
}

static void
test_roundtrip_presence (void)
{
  const gchar *cameras[] = { "cam1", "cam2", "garage", NULL };

  assert_roundtrip (icecam_message_new_presence (cameras));
  assert_roundtrip (icecam_message_new_presence (NULL));
}

static void
test_roundtrip_watch (void)
{
  assert_roundtrip (icecam_message_new_watch ("cam1"));
}

static void
test_roundtrip_session (void)
{
  assert_roundtrip (icecam_message_new_session ("0123456789abcdef", "cam1", "viewer-1",
                                                ICECAM_ROLE_CAMERA));
  IcecamMessage *with_turn = icecam_message_new_session ("0123456789abcdef", "cam1", NULL,
                                                         ICECAM_ROLE_VIEWER);
  const gchar *urls[] = { "turn:198.51.100.3:3478?transport=udp", NULL };
  g_autofree gchar *json = NULL;

  assert_roundtrip (icecam_message_new_session ("0123456789abcdef", "cam1", NULL,
                                                ICECAM_ROLE_VIEWER));
  /* Fresh TURN credentials ride along when the rendezvous has relays; absent otherwise. */
  json = icecam_message_to_json (with_turn);
  g_assert_null (strstr (json, "ice_servers"));
  with_turn->ice_servers = g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);
  g_ptr_array_add (with_turn->ice_servers, icecam_ice_server_new (urls, "1700000000:v", "pw"));
  assert_roundtrip (with_turn);
}

/* Renewed relay credentials for one session; a message without them is malformed. */
static void
test_roundtrip_ice_servers (void)
{
  const gchar *urls[] = { "turn:198.51.100.3:3478?transport=udp", NULL };
  g_autoptr (GPtrArray) servers =
    g_ptr_array_new_with_free_func ((GDestroyNotify) icecam_ice_server_free);

  g_ptr_array_add (servers, icecam_ice_server_new (urls, "1700000000:0123456789abcdef:camera",
                                                   "pw"));
  assert_roundtrip (icecam_message_new_ice_servers ("0123456789abcdef", servers));
  assert_parse_fails ("{\"type\":\"ice-servers\",\"session\":\"s1\"}",
                      ICECAM_PROTOCOL_ERROR_MISSING_FIELD, "ice_servers");
  assert_parse_fails ("{\"type\":\"ice-servers\",\"ice_servers\":[]}",
                      ICECAM_PROTOCOL_ERROR_MISSING_FIELD, "session");
}

static void
test_roundtrip_challenge (void)
{
  IcecamMessage *hello = icecam_message_new_hello (ICECAM_ROLE_CAMERA, "cam1");
  IcecamMessage *viewer = icecam_message_new_hello (ICECAM_ROLE_VIEWER, NULL);

  assert_roundtrip (icecam_message_new_challenge ("00112233445566778899aabbccddeeff"));
  hello->proof = g_strdup ("m5yQ0Fw1dyLFVNvOPxA9rYyf3aQzN9MbcqHp9x5MeeQ");
  assert_roundtrip (hello);
  viewer->token = g_strdup ("v1.eyJjYW1lcmFzIjpbImNhbTEiXSwiZXhwIjoxNzAwMDAwMDAwfQ.c2ln");
  assert_roundtrip (viewer);
}

/* What lets a client take its own place again, and the messages added to version 1. */
static void
test_roundtrip_resume (void)
{
  IcecamMessage *hello = icecam_message_new_hello (ICECAM_ROLE_CAMERA, "cam1");
  IcecamMessage *welcome = icecam_message_new_welcome ("viewer-7", "203.0.113.7:1", NULL);
  g_autoptr (IcecamMessage) fresh = icecam_message_new_welcome ("cam1", "203.0.113.7:1", NULL);
  g_autofree gchar *json = NULL;

  hello->resume = g_strdup ("00112233445566778899aabbccddeeff");
  hello->features = ICECAM_FEATURE_PING | ICECAM_FEATURE_RESTART;
  assert_roundtrip (hello);
  welcome->resume = g_strdup ("ffeeddccbbaa99887766554433221100");
  welcome->resumed = TRUE;
  welcome->features = ICECAM_FEATURE_PING;
  assert_roundtrip (welcome);

  /* Only `resumed: true` is written; no features, no field. */
  fresh->resume = g_strdup ("0f0f");
  json = icecam_message_to_json (fresh);
  g_assert_null (strstr (json, "resumed"));
  g_assert_null (strstr (json, "features"));
  g_assert_nonnull (strstr (json, "\"resume\":\"0f0f\""));
}

static void
test_roundtrip_ping_pong_restart (void)
{
  g_autofree gchar *ping = NULL;
  IcecamMessage *msg = icecam_message_new_ping ();

  ping = icecam_message_to_json (msg);
  g_assert_cmpstr (ping, ==, "{\"type\":\"ping\"}");
  assert_roundtrip (msg);
  assert_roundtrip (icecam_message_new_pong ());
  assert_roundtrip (icecam_message_new_restart ("9f2c4e7a01b3d5c6"));
}

static void
test_punch (void)
{
  g_autoptr (IcecamMessage) parsed = NULL;
  g_autoptr (GError) error = NULL;
  const gchar *text = "{\"type\":\"punch\",\"session\":\"9f2c4e7a01b3d5c6\","
                      "\"mapping\":\"cone\",\"address\":\"203.0.113.7:40000\","
                      "\"token\":\"00112233445566778899aabbccddeeff\",\"later\":1}";

  assert_roundtrip (icecam_message_new_punch ("9f2c4e7a01b3d5c6", "random", "198.51.100.9:1",
                                              "00112233445566778899aabbccddeeff"));
  parsed = icecam_message_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_cmpint (parsed->type, ==, ICECAM_MESSAGE_PUNCH);
  g_assert_cmpstr (parsed->mapping, ==, "cone");
  g_assert_cmpstr (parsed->address, ==, "203.0.113.7:40000");
  g_assert_cmpstr (parsed->token, ==, "00112233445566778899aabbccddeeff");
  assert_parse_fails ("{\"type\":\"punch\",\"session\":\"9f2c4e7a01b3d5c6\","
                      "\"mapping\":\"cone\",\"address\":\"203.0.113.7:40000\"}",
                      ICECAM_PROTOCOL_ERROR_MISSING_FIELD, "field 'token' is missing in 'punch'");
  assert_parse_fails ("{\"type\":\"punch\",\"session\":\"9f2c4e7a01b3d5c6\","
                      "\"mapping\":\"cone\",\"address\":\"x\",\"token\":\"a b\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD, "'token' in 'punch'");
  g_assert_cmpstr (icecam_feature_to_string (ICECAM_FEATURE_PUNCH), ==, "punch");
  g_assert_cmpint (parsed->port_step, ==, 0); /* absent */
}

/* `dtls`: one datagram in base64, checked as base64 and bounded. */
static void
test_dtls (void)
{
  const guint8 datagram[] = { 22, 0xfe, 0xfd, 0, 0, 0xff };
  g_autoptr (IcecamMessage) msg = icecam_message_new_dtls ("9f2c4e7a01b3d5c6", datagram,
                                                           sizeof datagram);
  g_autofree gchar *text = icecam_message_to_json (msg);
  g_autofree gchar *big = NULL;
  g_autofree guint8 *bytes = g_malloc0 (2051);
  g_autoptr (IcecamMessage) biggest = NULL;

  g_assert_cmpstr (text, ==, "{\"type\":\"dtls\",\"session\":\"9f2c4e7a01b3d5c6\","
                             "\"data\":\"Fv79AAD/\"}");
  assert_roundtrip (icecam_message_copy (msg));
  g_assert_cmpstr (icecam_feature_to_string (ICECAM_FEATURE_DTLS), ==, "dtls");
  /* 2048 bytes fit (2732 characters); 2051 do not. */
  biggest = icecam_message_new_dtls ("9f2c4e7a01b3d5c6", bytes, 2048);
  assert_roundtrip (g_steal_pointer (&biggest));
  g_clear_pointer (&msg, icecam_message_free);
  msg = icecam_message_new_dtls ("9f2c4e7a01b3d5c6", bytes, 2051);
  big = icecam_message_to_json (msg);
  assert_parse_fails (big, ICECAM_PROTOCOL_ERROR_TOO_LARGE, "'data' in 'dtls' is 2736 bytes");
  for (guint i = 0; i < 5; i++) {
    const gchar *bad[] = { "", "FgP", "Fg=P", "Fg===", "Fg P" };
    g_autofree gchar *t = g_strdup_printf ("{\"type\":\"dtls\",\"session\":\"s\","
                                           "\"data\":\"%s\"}", bad[i]);

    assert_parse_fails (t, ICECAM_PROTOCOL_ERROR_INVALID_FIELD, "'data' in 'dtls'");
  }
  assert_parse_fails ("{\"type\":\"dtls\",\"session\":\"s\"}",
                      ICECAM_PROTOCOL_ERROR_MISSING_FIELD, "field 'data' is missing in 'dtls'");
}

/* The sequential punch's "step": an integer, -32..-1 or 1..32, sent only when set. */
static void
test_punch_step (void)
{
  g_autoptr (IcecamMessage) msg = icecam_message_new_punch ("9f2c4e7a01b3d5c6", "sequential",
                                                            "198.51.100.9:20000",
                                                            "00112233445566778899aabbccddeeff");
  g_autoptr (IcecamMessage) parsed = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *json = NULL;
  const gchar *head = "{\"type\":\"punch\",\"session\":\"9f2c4e7a01b3d5c6\","
                      "\"mapping\":\"sequential\",\"address\":\"203.0.113.7:20000\","
                      "\"token\":\"00112233445566778899aabbccddeeff\",";
  const gchar *bad[] = { "\"step\":0}", "\"step\":33}", "\"step\":-33}", "\"step\":\"1\"}",
                         "\"step\":1.5}", "\"step\":4294967297}" };

  msg->port_step = -3;
  json = icecam_message_to_json (msg);
  g_assert_nonnull (strstr (json, "\"step\":-3"));
  parsed = icecam_message_parse (json, strlen (json), &error);
  g_assert_no_error (error);
  g_assert_cmpint (parsed->port_step, ==, -3);
  g_assert_cmpstr (parsed->mapping, ==, "sequential");
  g_clear_pointer (&parsed, icecam_message_free);
  msg->port_step = 32;
  assert_roundtrip (icecam_message_copy (msg));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autofree gchar *text = g_strconcat (head, bad[i], NULL);

    assert_parse_fails (text, ICECAM_PROTOCOL_ERROR_MALFORMED, "'step' in 'punch'");
  }
}

static void
test_roundtrip_offer (void)
{
  assert_roundtrip (icecam_message_new_offer ("s1", test_sdp));
}

static void
test_roundtrip_answer (void)
{
  assert_roundtrip (icecam_message_new_answer ("s1", test_sdp));
}

static void
test_roundtrip_candidate (void)
{
  assert_roundtrip (icecam_message_new_candidate ("s1", test_candidate));
}

static void
test_roundtrip_end_of_candidates (void)
{
  assert_roundtrip (icecam_message_new_end_of_candidates ("s1"));
}

static void
test_roundtrip_bye (void)
{
  assert_roundtrip (icecam_message_new_bye ("s1", ICECAM_BYE_CODE_PEER_LEFT, "peer-left"));
  assert_roundtrip (icecam_message_new_bye ("s1", ICECAM_BYE_CODE_NONE, NULL));
  for (guint code = ICECAM_BYE_CODE_NONE; code <= ICECAM_BYE_CODE_REFUSED; code++)
    assert_roundtrip (icecam_message_new_bye ("s1", code, "why, for people"));
}

/* The code decides, the reason is for people: a reason that looks like a code means nothing,
 * and a code from a later version ends the session like no code at all. */
static void
test_parse_bye_code (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamMessage) text_only = NULL;
  g_autoptr (IcecamMessage) coded = NULL;
  g_autoptr (IcecamMessage) future = NULL;
  g_autoptr (IcecamMessage) bad = NULL;
  g_autofree gchar *json = NULL;
  const gchar *input;

  input = "{\"type\":\"bye\",\"session\":\"s1\",\"reason\":\"peer-left\"}";
  text_only = icecam_message_parse (input, strlen (input), &error);
  g_assert_no_error (error);
  g_assert_cmpint (text_only->bye_code, ==, ICECAM_BYE_CODE_NONE);

  input = "{\"type\":\"bye\",\"session\":\"s1\",\"code\":\"peer-left\",\"reason\":\"x\"}";
  coded = icecam_message_parse (input, strlen (input), &error);
  g_assert_no_error (error);
  g_assert_cmpint (coded->bye_code, ==, ICECAM_BYE_CODE_PEER_LEFT);
  g_assert_cmpstr (coded->reason, ==, "x");

  input = "{\"type\":\"bye\",\"session\":\"s1\",\"code\":\"moved-to-mars\"}";
  future = icecam_message_parse (input, strlen (input), &error);
  g_assert_no_error (error);
  g_assert_cmpint (future->bye_code, ==, ICECAM_BYE_CODE_NONE);

  input = "{\"type\":\"bye\",\"session\":\"s1\",\"code\":7}";
  bad = icecam_message_parse (input, strlen (input), &error);
  g_assert_null (bad);
  g_assert_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_MALFORMED);

  /* NONE is never written, so "none" never reaches the wire. */
  g_clear_pointer (&coded, icecam_message_free);
  coded = icecam_message_new_bye ("s1", ICECAM_BYE_CODE_NONE, "bye");
  json = icecam_message_to_json (coded);
  g_assert_null (strstr (json, "code"));
  g_assert_cmpstr (icecam_bye_code_to_string (ICECAM_BYE_CODE_FULL), ==, "full");
}

static void
test_roundtrip_error (void)
{
  for (guint code = ICECAM_ERROR_CODE_MALFORMED; code <= ICECAM_ERROR_CODE_INTERNAL; code++) {
    assert_roundtrip (icecam_message_new_error (code, NULL, "something went wrong"));
    assert_roundtrip (icecam_message_new_error (code, "s1", "unknown session 's1'"));
  }
}

static void
test_roundtrip_unicode (void)
{
  /* Escapes and non-ASCII survive; the free-text fields take any Unicode. */
  assert_roundtrip (icecam_message_new_bye ("s1", ICECAM_BYE_CODE_CLOSED, "caméra \"éteinte\"\n\t\\ ✓"));
}

/* ---- parsing: what is accepted -------------------------------------------------------- */

static void
test_parse_fields (void)
{
  g_autoptr (IcecamMessage) msg = NULL;
  g_autoptr (IcecamMessage) welcome = NULL;

  msg = parse_ok ("{\"type\":\"session\",\"session\":\"abc\",\"camera\":\"cam1\","
                  "\"peer\":\"viewer-3\",\"role\":\"camera\"}");
  g_assert_cmpint (msg->type, ==, ICECAM_MESSAGE_SESSION);
  g_assert_cmpstr (msg->session, ==, "abc");
  g_assert_cmpstr (msg->camera, ==, "cam1");
  g_assert_cmpstr (msg->peer, ==, "viewer-3");
  g_assert_cmpint (msg->role, ==, ICECAM_ROLE_CAMERA);
  g_assert_null (msg->sdp);

  welcome = parse_ok ("{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"address\":\"198.51.100.4:5\","
                      "\"ice_servers\":[{\"urls\":[\"stun:198.51.100.4:3478\"]}]}");
  g_assert_cmpuint (welcome->ice_servers->len, ==, 1);
  g_assert_cmpstr (((IcecamIceServer *) welcome->ice_servers->pdata[0])->urls[0], ==,
                   "stun:198.51.100.4:3478");
  g_assert_null (((IcecamIceServer *) welcome->ice_servers->pdata[0])->username);
}

static void
test_parse_unknown_fields (void)
{
  g_autoptr (IcecamMessage) msg = NULL;

  /* Later versions may add fields, to messages and to presence entries. */
  msg = parse_ok ("{\"type\":\"presence\",\"extra\":{\"a\":[1,2]},"
                  "\"cameras\":[{\"id\":\"cam1\",\"name\":\"Front door\"}]}");
  g_assert_cmpuint (g_strv_length (msg->cameras), ==, 1);
  g_assert_cmpstr (msg->cameras[0], ==, "cam1");
}

/* Feature names a later peer may add are ignored; the kinds and sizes are not. */
static void
test_parse_features (void)
{
  g_autoptr (IcecamMessage) hello = NULL;
  g_autoptr (IcecamMessage) none = NULL;
  g_autoptr (IcecamMessage) welcome = NULL;
  g_autofree gchar *long_name = g_strnfill (ICECAM_PROTOCOL_MAX_FEATURE_LENGTH + 1, 'f');
  g_autoptr (GString) many = g_string_new ("{\"type\":\"hello\",\"version\":1,"
                                           "\"role\":\"viewer\",\"features\":[");
  g_autofree gchar *text = NULL;

  hello = parse_ok ("{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\","
                    "\"features\":[\"teleport\",\"restart\",\"ping\",\"ping\"]}");
  g_assert_cmpint (hello->features, ==, ICECAM_FEATURE_PING | ICECAM_FEATURE_RESTART);
  none = parse_ok ("{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\",\"features\":[]}");
  g_assert_cmpint (none->features, ==, ICECAM_FEATURE_NONE);
  welcome = parse_ok ("{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"address\":\"a\","
                      "\"ice_servers\":[],\"resume\":\"abc\",\"resumed\":false,"
                      "\"features\":[\"ping\"]}");
  g_assert_cmpstr (welcome->resume, ==, "abc");
  g_assert_false (welcome->resumed);
  g_assert_cmpint (welcome->features, ==, ICECAM_FEATURE_PING);

  assert_parse_fails ("{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\","
                      "\"features\":\"ping\"}", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'features' in 'hello' must be an array, not a string");
  assert_parse_fails ("{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\","
                      "\"features\":[\"ping\",1]}", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'features' in 'hello' must be an array of strings, not a number");
  text = g_strdup_printf ("{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"address\":\"a\","
                          "\"ice_servers\":[],\"features\":[\"%s\"]}", long_name);
  assert_parse_fails (text, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                      "field 'features' in 'welcome' is 33 bytes, the limit is 32");
  for (guint i = 0; i <= ICECAM_PROTOCOL_MAX_FEATURES; i++)
    g_string_append_printf (many, "%s\"ping\"", i > 0 ? "," : "");
  g_string_append (many, "]}");
  assert_parse_fails (many->str, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                      "field 'features' in 'hello' has 17 entries, the limit is 16");
}

/* A resume secret is checked like an id but never quoted back: errors go to logs. */
static void
test_parse_resume (void)
{
  g_autofree gchar *long_secret = g_strnfill (ICECAM_PROTOCOL_MAX_ID_LENGTH + 1, 'a');
  g_autofree gchar *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamMessage) msg = NULL;

  assert_parse_fails ("{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\",\"resume\":7}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'resume' in 'hello' must be a string, not a number");
  assert_parse_fails ("{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\",\"resume\":\"\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'resume' in 'hello' must be 1 to 64 characters");
  text = g_strdup_printf ("{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"c\","
                          "\"resume\":\"%s\"}", long_secret);
  assert_parse_fails (text, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                      "field 'resume' in 'hello' is 65 bytes, the limit is 64");
  g_free (text);
  text = g_strdup ("{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\","
                   "\"resume\":\"s3cr3t value\"}");
  msg = icecam_message_parse (text, strlen (text), &error);
  g_assert_null (msg);
  g_assert_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_INVALID_FIELD);
  g_assert_null (strstr (error->message, "s3cr3t"));
  assert_parse_fails ("{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"address\":\"a\","
                      "\"ice_servers\":[],\"resumed\":\"yes\"}", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'resumed' in 'welcome' must be a boolean, not a string");
  assert_parse_fails ("{\"type\":\"restart\"}", ICECAM_PROTOCOL_ERROR_MISSING_FIELD,
                      "field 'session' is missing in 'restart'");
  assert_parse_fails ("{\"type\":\"restart\",\"session\":\"a b\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'session' in 'restart' is not a valid id");
}

static void
test_parse_not_nul_terminated (void)
{
  const gchar *text = "{\"type\":\"watch\",\"camera\":\"cam1\"}GARBAGE";
  gsize length = strlen ("{\"type\":\"watch\",\"camera\":\"cam1\"}");
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamMessage) msg = icecam_message_parse (text, length, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (msg->camera, ==, "cam1");
}

static void
test_parse_viewer_without_id (void)
{
  g_autoptr (IcecamMessage) msg = parse_ok ("{\"type\":\"hello\",\"version\":1,\"role\":\"viewer\"}");

  g_assert_cmpint (msg->role, ==, ICECAM_ROLE_VIEWER);
  g_assert_null (msg->id);
}

/* ---- parsing: what is refused --------------------------------------------------------- */

static void
test_parse_malformed (void)
{
  g_autofree gchar *junk = g_strnfill (2000, 'x');
  g_autofree gchar *long_token = g_strdup_printf ("{\"type\":\"watch\",\"camera\":%s}", junk);

  assert_parse_fails (long_token, ICECAM_PROTOCOL_ERROR_MALFORMED, "not valid JSON");
  assert_parse_fails ("", ICECAM_PROTOCOL_ERROR_MALFORMED, "empty");
  assert_parse_fails ("hello", ICECAM_PROTOCOL_ERROR_MALFORMED, "not valid JSON");
  assert_parse_fails ("{\"type\":\"watch\",\"camera\":\"ca", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "not valid JSON");
  assert_parse_fails ("{\"type\":\"watch\",\"camera\":\"cam1\"", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "not valid JSON");
  assert_parse_fails ("[{\"type\":\"watch\"}]", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "an array, not a JSON object");
  assert_parse_fails ("\"watch\"", ICECAM_PROTOCOL_ERROR_MALFORMED, "not a JSON object");
  assert_parse_fails ("42", ICECAM_PROTOCOL_ERROR_MALFORMED, "not a JSON object");
  assert_parse_fails ("{\"type\":7}", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'type' must be a string, not a number");
  assert_parse_fails ("{\"type\":null}", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'type' must be a string, not null");
  assert_parse_fails ("{\"type\":\"watch\",\"camera\":12}", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'camera' in 'watch' must be a string, not a number");
  assert_parse_fails ("{\"type\":\"offer\",\"session\":\"s\",\"sdp\":[\"v=0\"]}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'sdp' in 'offer' must be a string, not an array");
  assert_parse_fails ("{\"type\":\"hello\",\"version\":\"1\",\"role\":\"camera\",\"id\":\"c\"}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'version' in 'hello' must be an integer, not a string");
  assert_parse_fails ("{\"type\":\"hello\",\"version\":1.0,\"role\":\"camera\",\"id\":\"c\"}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'version' in 'hello' must be an integer, not a number");
  assert_parse_fails ("{\"type\":\"presence\",\"cameras\":{\"id\":\"c\"}}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'cameras' in 'presence' must be an array, not an object");
  assert_parse_fails ("{\"type\":\"presence\",\"cameras\":[\"cam1\"]}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'cameras' in 'presence' must be an array of objects, not a string");
  assert_parse_fails ("{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"address\":\"a\","
                      "\"ice_servers\":[{\"urls\":\"stun:a\"}]}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'urls' in 'ice_servers' must be an array of strings");
  assert_parse_fails ("{\"type\":\"bye\",\"session\":\"s\",\"reason\":false}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "field 'reason' in 'bye' must be a string, not a boolean");
}

static void
test_parse_invalid_utf8_and_nul (void)
{
  const gchar raw_nul[] = "{\"type\":\"watch\",\"camera\":\"ca\0m\"}";

  assert_parse_fails ("{\"type\":\"bye\",\"session\":\"s\",\"reason\":\"\xff\xfe\"}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED, "not valid UTF-8");
  assert_parse_fails_len (raw_nul, sizeof raw_nul - 1, ICECAM_PROTOCOL_ERROR_MALFORMED,
                          "NUL byte at offset 28");
  assert_parse_fails ("{\"type\":\"bye\",\"session\":\"s\",\"reason\":\"a\\u0000b\"}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED, "escaped NUL");
  /* An escaped backslash followed by "u0000" is text, not a NUL. */
  g_autoptr (IcecamMessage) msg =
    parse_ok ("{\"type\":\"bye\",\"session\":\"s\",\"reason\":\"a\\\\u0000b\"}");
  g_assert_cmpstr (msg->reason, ==, "a\\u0000b");
}

/* json-glib takes several top-level values in one text and leaks all but the last, and it
 * decodes broken escapes into bytes that are not UTF-8: both are refused before it parses. */
static void
test_parse_one_object_strict_escapes (void)
{
  g_autoptr (IcecamMessage) pair = NULL;

  assert_parse_fails ("{\"type\":\"watch\",\"camera\":\"a\"}{\"type\":\"watch\",\"camera\":\"b\"}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED, "text after the object at offset 29");
  assert_parse_fails ("{}{}{}{}", ICECAM_PROTOCOL_ERROR_MALFORMED, "text after the object");
  assert_parse_fails ("2{\"type\":\"watch\",\"camera\":\"a\"}", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "not valid JSON");
  assert_parse_fails (" true ", ICECAM_PROTOCOL_ERROR_MALFORMED, "a boolean, not a JSON object");
  assert_parse_fails ("null", ICECAM_PROTOCOL_ERROR_MALFORMED, "null, not a JSON object");
  assert_parse_fails (" \r\n\t", ICECAM_PROTOCOL_ERROR_MALFORMED, "empty");
  assert_parse_fails ("{\"type\":\"bye\",\"session\":\"s\",\"reason\":\"\\ud83d\\u0041\"}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED, "unpaired UTF-16 surrogate at offset 38");
  assert_parse_fails ("{\"type\":\"bye\",\"session\":\"s\",\"reason\":\"\\ud800 left\"}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED, "unpaired UTF-16 surrogate");
  assert_parse_fails ("{\"type\":\"\\ude00 hello\"}", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "unpaired UTF-16 surrogate");
  /* Outside any string as RFC 8259 reads it, but json-glib scans a string there and leaks it
   * at the broken pair, also where it reads a short escape as a surrogate (LeakSanitizer
   * fails this test in the sanitized run if it gets that far): refused at the '/', which JSON
   * has only in strings (json-glib's scanner reads comments and single-quoted strings, and
   * where strings start and end it then sees differently from the raw checks: with a second
   * value after the object, CI run 32's fuzzing got past them into a leak). A paired one in a
   * string is taken. */
  assert_parse_fails ("{/\"b3d/\"b3d/\\u\\ud83d\\u0041", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "only in strings at offset 1");
  assert_parse_fails ("{/\"b3d/\"b3d/\\u\\ud8u\\u00e90041", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "only in strings at offset 1");
  assert_parse_fails ("{\"\":\"\",\"\":[{\"\":[\"\"],/\"/\"\":\"\",\"\":\"\"}]}{\"\":\"\"}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED, "only in strings at offset 20");
  assert_parse_fails ("{'type':'bye'}", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "only in strings at offset 1");
  assert_parse_fails ("{\"type\":\"bye\" # a comment\n}", ICECAM_PROTOCOL_ERROR_MALFORMED,
                      "only in strings at offset 14");
  pair = parse_ok ("{\"type\":\"bye\",\"session\":\"s\",\"reason\":\"\\ud83d\\ude00\"}");
  g_assert_cmpstr (pair->reason, ==, "\xf0\x9f\x98\x80");
  g_clear_pointer (&pair, icecam_message_free);
  assert_parse_fails ("{\"type\":\"bye\",\"session\":\"s\",\"reason\":\"\\u12\"}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED, "bad escape at offset 38");
  assert_parse_fails ("{\"type\":\"bye\",\"session\":\"s\",\"reason\":\"\\x41\"}",
                      ICECAM_PROTOCOL_ERROR_MALFORMED, "bad escape");
  assert_parse_fails ("{\"type\":\"bye\",\"session\":\"s\",\"reason\":\"\\",
                      ICECAM_PROTOCOL_ERROR_MALFORMED, "ends inside an escape");

  /* A whole pair, other escapes and whitespace around the object are fine. */
  pair = parse_ok (" {\"type\":\"bye\",\"session\":\"s\","
                   "\"reason\":\"\\ud83d\\ude00 \\u00e9\\n\\/\"}\r\n");
  g_assert_cmpstr (pair->reason, ==, "\xf0\x9f\x98\x80 \xc3\xa9\n/");
}

static void
test_parse_deep_nesting (void)
{
  g_autoptr (GString) text = g_string_new ("{\"type\":\"watch\",\"camera\":\"c\",\"x\":");

  for (guint i = 0; i < 20000; i++)
    g_string_append_c (text, '[');
  for (guint i = 0; i < 20000; i++)
    g_string_append_c (text, ']');
  g_string_append_c (text, '}');
  assert_parse_fails (text->str, ICECAM_PROTOCOL_ERROR_MALFORMED, "nests deeper than");
}

static void
test_parse_oversized (void)
{
  g_autoptr (GString) text = NULL;
  g_autofree gchar *big = g_malloc (70000);
  g_autofree gchar *sdp = NULL;
  g_autoptr (IcecamMessage) at_limit = NULL;
  g_autoptr (GError) error = NULL;

  /* Refused on its length alone, before any JSON parsing: this is not even JSON. */
  memset (big, 'x', 70000);
  assert_parse_fails_len (big, 70000, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                          "message is 70000 bytes, the limit is 65536");

  /* Exactly at the limit is fine (padding in an unknown field). */
  text = g_string_new ("{\"type\":\"watch\",\"camera\":\"cam1\",\"pad\":\"");
  while (text->len < ICECAM_PROTOCOL_MAX_MESSAGE_SIZE - 2)
    g_string_append_c (text, 'p');
  g_string_append (text, "\"}");
  g_assert_cmpuint (text->len, ==, ICECAM_PROTOCOL_MAX_MESSAGE_SIZE);
  at_limit = icecam_message_parse (text->str, text->len, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (at_limit->camera, ==, "cam1");

  /* One byte more is not. */
  g_string_insert_c (text, text->len - 2, 'p');
  assert_parse_fails (text->str, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                      "message is 65537 bytes, the limit is 65536");

  /* Fields have their own limits. */
  sdp = g_strnfill (ICECAM_PROTOCOL_MAX_SDP_LENGTH + 1, 'a');
  g_string_printf (text, "{\"type\":\"offer\",\"session\":\"s\",\"sdp\":\"%s\"}", sdp);
  assert_parse_fails (text->str, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                      "field 'sdp' in 'offer' is 32769 bytes, the limit is 32768");
}

static void
test_parse_field_limits (void)
{
  g_autofree gchar *long_id = g_strnfill (ICECAM_PROTOCOL_MAX_ID_LENGTH + 1, 'a');
  g_autofree gchar *max_id = g_strnfill (ICECAM_PROTOCOL_MAX_ID_LENGTH, 'a');
  g_autofree gchar *long_text = g_strnfill (ICECAM_PROTOCOL_MAX_TEXT_LENGTH + 1, 't');
  g_autofree gchar *long_cand = g_strnfill (ICECAM_PROTOCOL_MAX_CANDIDATE_LENGTH, 'c');
  g_autofree gchar *text = NULL;
  g_autoptr (IcecamMessage) msg = NULL;

  text = g_strdup_printf ("{\"type\":\"watch\",\"camera\":\"%s\"}", long_id);
  assert_parse_fails (text, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                      "field 'camera' in 'watch' is 65 bytes, the limit is 64");
  g_free (text);
  text = g_strdup_printf ("{\"type\":\"watch\",\"camera\":\"%s\"}", max_id);
  msg = parse_ok (text);
  g_assert_cmpstr (msg->camera, ==, max_id);
  g_free (text);
  text = g_strdup_printf ("{\"type\":\"error\",\"code\":\"internal\",\"message\":\"%s\"}",
                          long_text);
  assert_parse_fails (text, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                      "field 'message' in 'error' is 513 bytes, the limit is 512");
  g_free (text);
  text = g_strdup_printf ("{\"type\":\"candidate\",\"session\":\"s\","
                          "\"candidate\":\"candidate:%s\"}", long_cand);
  assert_parse_fails (text, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                      "field 'candidate' in 'candidate' is 522 bytes, the limit is 512");
}

static void
test_parse_huge_arrays (void)
{
  g_autoptr (GString) text = g_string_new ("{\"type\":\"presence\",\"cameras\":[");
  g_autoptr (GString) servers = NULL;

  for (guint i = 0; i <= ICECAM_PROTOCOL_MAX_LIST_LENGTH; i++)
    g_string_append_printf (text, "%s{\"id\":\"c\"}", i > 0 ? "," : "");
  g_string_append (text, "]}");
  g_assert_cmpuint (text->len, <=, ICECAM_PROTOCOL_MAX_MESSAGE_SIZE);
  assert_parse_fails (text->str, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                      "field 'cameras' in 'presence' has 4097 entries, the limit is 4096");

  servers = g_string_new ("{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"address\":\"a\","
                          "\"ice_servers\":[");
  for (guint i = 0; i <= ICECAM_PROTOCOL_MAX_ICE_SERVERS; i++)
    g_string_append_printf (servers, "%s{\"urls\":[\"stun:a\"]}", i > 0 ? "," : "");
  g_string_append (servers, "]}");
  assert_parse_fails (servers->str, ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                      "field 'ice_servers' in 'welcome' has 9 entries, the limit is 8");

  assert_parse_fails ("{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"address\":\"a\","
                      "\"ice_servers\":[{\"urls\":[\"stun:1\",\"stun:2\",\"stun:3\",\"stun:4\","
                      "\"stun:5\",\"stun:6\",\"stun:7\",\"stun:8\",\"stun:9\"]}]}",
                      ICECAM_PROTOCOL_ERROR_TOO_LARGE,
                      "field 'urls' in 'ice_servers' has 9 entries, it must have 1 to 8");
  assert_parse_fails ("{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"address\":\"a\","
                      "\"ice_servers\":[{\"urls\":[]}]}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'urls' in 'ice_servers' has 0 entries, it must have 1 to 8");
  assert_parse_fails ("{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"address\":\"a\","
                      "\"ice_servers\":[{\"urls\":[\"http://example.org\"]}]}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD, "'http://example.org', not a stun:");
}

static void
test_parse_unknown_type (void)
{
  g_autofree gchar *long_type = g_strnfill (1000, 'z');
  g_autofree gchar *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamMessage) msg = NULL;

  assert_parse_fails ("{\"type\":\"foo\"}", ICECAM_PROTOCOL_ERROR_UNKNOWN_TYPE,
                      "unknown message type 'foo'");
  assert_parse_fails ("{\"type\":\"HELLO\",\"version\":1,\"role\":\"viewer\"}",
                      ICECAM_PROTOCOL_ERROR_UNKNOWN_TYPE, "unknown message type 'HELLO'");
  assert_parse_fails ("{\"camera\":\"cam1\"}", ICECAM_PROTOCOL_ERROR_MISSING_FIELD,
                      "field 'type' is missing");

  /* A long value is quoted cut short, so the error text stays within the protocol's limit. */
  text = g_strdup_printf ("{\"type\":\"%s\"}", long_type);
  msg = icecam_message_parse (text, strlen (text), &error);
  g_assert_error (error, ICECAM_PROTOCOL_ERROR, ICECAM_PROTOCOL_ERROR_UNKNOWN_TYPE);
  g_assert_cmpuint (strlen (error->message), <=, ICECAM_PROTOCOL_MAX_TEXT_LENGTH);
}

static void
test_parse_missing_field (void)
{
  static const struct {
    const gchar *text;
    const gchar *needle;
  } cases[] = {
    { "{\"type\":\"hello\",\"role\":\"camera\",\"id\":\"c\"}", "field 'version' is missing in 'hello'" },
    { "{\"type\":\"hello\",\"version\":1,\"id\":\"c\"}", "field 'role' is missing in 'hello'" },
    { "{\"type\":\"hello\",\"version\":1,\"role\":\"camera\"}", "field 'id' is missing in 'hello'" },
    { "{\"type\":\"welcome\",\"version\":1,\"address\":\"a\",\"ice_servers\":[]}",
      "field 'id' is missing in 'welcome'" },
    { "{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"ice_servers\":[]}",
      "field 'address' is missing in 'welcome'" },
    { "{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"address\":\"a\"}",
      "field 'ice_servers' is missing in 'welcome'" },
    { "{\"type\":\"presence\"}", "field 'cameras' is missing in 'presence'" },
    { "{\"type\":\"presence\",\"cameras\":[{\"name\":\"x\"}]}", "field 'id' is missing" },
    { "{\"type\":\"watch\"}", "field 'camera' is missing in 'watch'" },
    { "{\"type\":\"session\",\"camera\":\"c\",\"role\":\"viewer\"}",
      "field 'session' is missing in 'session'" },
    { "{\"type\":\"session\",\"session\":\"s\",\"role\":\"viewer\"}",
      "field 'camera' is missing in 'session'" },
    { "{\"type\":\"session\",\"session\":\"s\",\"camera\":\"c\"}",
      "field 'role' is missing in 'session'" },
    { "{\"type\":\"offer\",\"session\":\"s\"}", "field 'sdp' is missing in 'offer'" },
    { "{\"type\":\"offer\",\"sdp\":\"v=0\"}", "field 'session' is missing in 'offer'" },
    { "{\"type\":\"answer\",\"session\":\"s\"}", "field 'sdp' is missing in 'answer'" },
    { "{\"type\":\"candidate\",\"session\":\"s\"}", "field 'candidate' is missing in 'candidate'" },
    { "{\"type\":\"candidate\",\"candidate\":\"candidate:1\"}",
      "field 'session' is missing in 'candidate'" },
    { "{\"type\":\"end-of-candidates\"}", "field 'session' is missing in 'end-of-candidates'" },
    { "{\"type\":\"bye\"}", "field 'session' is missing in 'bye'" },
    { "{\"type\":\"error\",\"message\":\"m\"}", "field 'code' is missing in 'error'" },
    { "{\"type\":\"error\",\"code\":\"internal\"}", "field 'message' is missing in 'error'" },
    { "{\"type\":\"welcome\",\"version\":1,\"id\":\"c\",\"address\":\"a\","
      "\"ice_servers\":[{\"username\":\"u\"}]}", "field 'urls' is missing in 'ice_servers'" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_parse_fails (cases[i].text, ICECAM_PROTOCOL_ERROR_MISSING_FIELD, cases[i].needle);
}

static void
test_parse_bad_id (void)
{
  assert_parse_fails ("{\"type\":\"watch\",\"camera\":\"\"}", ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'camera' in 'watch' is not a valid id: ''");
  assert_parse_fails ("{\"type\":\"watch\",\"camera\":\"my cam\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'camera' in 'watch' is not a valid id: 'my cam'");
  assert_parse_fails ("{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"../etc\\/x\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'id' in 'hello' is not a valid id");
  assert_parse_fails ("{\"type\":\"offer\",\"session\":\"s\\u00e9\",\"sdp\":\"v=0\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'session' in 'offer' is not a valid id");
  assert_parse_fails ("{\"type\":\"session\",\"session\":\"s\",\"camera\":\"c\",\"role\":\"viewer\","
                      "\"peer\":\"a:b\"}", ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'peer' in 'session' is not a valid id: 'a:b'");
  assert_parse_fails ("{\"type\":\"presence\",\"cameras\":[{\"id\":\"ok\"},{\"id\":\"not ok\"}]}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'id' in 'cameras' is not a valid id: 'not ok'");
}

static void
test_parse_bad_values (void)
{
  assert_parse_fails ("{\"type\":\"hello\",\"version\":1,\"role\":\"robot\",\"id\":\"c\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'role' in 'hello' has an unknown value 'robot'");
  assert_parse_fails ("{\"type\":\"hello\",\"version\":1,\"role\":\"none\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'role' in 'hello' has an unknown value 'none'");
  assert_parse_fails ("{\"type\":\"error\",\"code\":\"teapot\",\"message\":\"m\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'code' in 'error' has an unknown value 'teapot'");
  assert_parse_fails ("{\"type\":\"offer\",\"session\":\"s\",\"sdp\":\"\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD, "field 'sdp' in 'offer' is empty");
}

static void
test_parse_candidate (void)
{
  assert_parse_fails ("{\"type\":\"candidate\",\"session\":\"s\",\"candidate\":\"\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD,
                      "field 'candidate' in 'candidate' must start with 'candidate:', got ''");
  assert_parse_fails ("{\"type\":\"candidate\",\"session\":\"s\","
                      "\"candidate\":\"a=candidate:1 1 UDP 1 198.51.100.4 5 typ host\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD, "must start with 'candidate:'");
  assert_parse_fails ("{\"type\":\"candidate\",\"session\":\"s\","
                      "\"candidate\":\"candidate:1 1 UDP 1 198.51.100.4 5 typ host\\r\\na=x\"}",
                      ICECAM_PROTOCOL_ERROR_INVALID_FIELD, "contains a control character");
}

static void
test_parse_version (void)
{
  g_autoptr (IcecamMessage) msg = NULL;

  assert_parse_fails ("{\"type\":\"hello\",\"version\":2,\"role\":\"camera\",\"id\":\"c\"}",
                      ICECAM_PROTOCOL_ERROR_VERSION,
                      "protocol version 2 is not supported, this build speaks version 1");
  assert_parse_fails ("{\"type\":\"hello\",\"version\":0,\"role\":\"viewer\"}",
                      ICECAM_PROTOCOL_ERROR_VERSION, "protocol version 0 is not supported");
  /* The version is checked first: a later version may have different fields. */
  assert_parse_fails ("{\"type\":\"hello\",\"version\":3,\"kind\":\"cam\"}",
                      ICECAM_PROTOCOL_ERROR_VERSION, "protocol version 3");
  assert_parse_fails ("{\"type\":\"welcome\",\"version\":2,\"id\":\"c\",\"address\":\"a\","
                      "\"ice_servers\":[]}", ICECAM_PROTOCOL_ERROR_VERSION,
                      "protocol version 2");
  msg = parse_ok ("{\"type\":\"hello\",\"version\":1,\"role\":\"camera\",\"id\":\"c\"}");
  g_assert_cmpuint (msg->version, ==, ICECAM_PROTOCOL_VERSION);
}

/* ---- the rest of the API -------------------------------------------------------------- */

static void
test_error_code_mapping (void)
{
  static const struct {
    IcecamProtocolError protocol;
    IcecamErrorCode wire;
    const gchar *name;
  } map[] = {
    { ICECAM_PROTOCOL_ERROR_MALFORMED, ICECAM_ERROR_CODE_MALFORMED, "malformed" },
    { ICECAM_PROTOCOL_ERROR_TOO_LARGE, ICECAM_ERROR_CODE_TOO_LARGE, "too-large" },
    { ICECAM_PROTOCOL_ERROR_UNKNOWN_TYPE, ICECAM_ERROR_CODE_UNKNOWN_TYPE, "unknown-type" },
    { ICECAM_PROTOCOL_ERROR_MISSING_FIELD, ICECAM_ERROR_CODE_MISSING_FIELD, "missing-field" },
    { ICECAM_PROTOCOL_ERROR_INVALID_FIELD, ICECAM_ERROR_CODE_INVALID_FIELD, "invalid-field" },
    { ICECAM_PROTOCOL_ERROR_VERSION, ICECAM_ERROR_CODE_VERSION, "version" },
  };
  g_autoptr (GError) other = g_error_new_literal (G_FILE_ERROR, G_FILE_ERROR_FAILED, "x");

  for (guint i = 0; i < G_N_ELEMENTS (map); i++) {
    g_autoptr (GError) error = g_error_new_literal (ICECAM_PROTOCOL_ERROR, map[i].protocol, "x");

    g_assert_cmpint (icecam_error_code_from_protocol_error (error), ==, map[i].wire);
    g_assert_cmpstr (icecam_error_code_to_string (map[i].wire), ==, map[i].name);
  }
  g_assert_cmpint (icecam_error_code_from_protocol_error (other), ==, ICECAM_ERROR_CODE_INTERNAL);
  g_assert_cmpstr (icecam_error_code_to_string (ICECAM_ERROR_CODE_NOT_READY), ==, "not-ready");
  g_assert_cmpstr (icecam_error_code_to_string (ICECAM_ERROR_CODE_UNKNOWN_CAMERA), ==,
                   "unknown-camera");
  g_assert_cmpstr (icecam_error_code_to_string (ICECAM_ERROR_CODE_UNKNOWN_SESSION), ==,
                   "unknown-session");
  g_assert_cmpstr (icecam_error_code_to_string (ICECAM_ERROR_CODE_ID_IN_USE), ==, "id-in-use");
  g_assert_cmpstr (icecam_error_code_to_string (ICECAM_ERROR_CODE_NOT_ALLOWED), ==, "not-allowed");
  g_assert_cmpstr (icecam_error_code_to_string (ICECAM_ERROR_CODE_INTERNAL), ==, "internal");
  g_assert_cmpstr (icecam_error_code_to_string (ICECAM_ERROR_CODE_LIMIT_EXCEEDED), ==,
                   "limit-exceeded");
}

static void
test_wire_names (void)
{
  g_assert_cmpstr (icecam_message_type_to_string (ICECAM_MESSAGE_END_OF_CANDIDATES), ==,
                   "end-of-candidates");
  g_assert_cmpstr (icecam_message_type_to_string (ICECAM_MESSAGE_HELLO), ==, "hello");
  g_assert_cmpstr (icecam_role_to_string (ICECAM_ROLE_CAMERA), ==, "camera");
  g_assert_cmpstr (icecam_role_to_string (ICECAM_ROLE_VIEWER), ==, "viewer");
  g_assert_cmpstr (icecam_message_type_to_string (ICECAM_MESSAGE_PING), ==, "ping");
  g_assert_cmpstr (icecam_message_type_to_string (ICECAM_MESSAGE_PONG), ==, "pong");
  g_assert_cmpstr (icecam_message_type_to_string (ICECAM_MESSAGE_RESTART), ==, "restart");
  g_assert_cmpstr (icecam_feature_to_string (ICECAM_FEATURE_PING), ==, "ping");
  g_assert_cmpstr (icecam_feature_to_string (ICECAM_FEATURE_RESTART), ==, "restart");
  g_assert_cmpstr (icecam_message_type_to_string (ICECAM_MESSAGE_ICE_SERVERS), ==, "ice-servers");
  g_assert_cmpstr (icecam_feature_to_string (ICECAM_FEATURE_ICE_SERVERS), ==, "ice-servers");
  g_assert_null (icecam_feature_to_string (ICECAM_FEATURE_PING | ICECAM_FEATURE_RESTART));
  g_assert_null (icecam_feature_to_string (ICECAM_FEATURE_NONE));
}

static void
test_id_is_valid (void)
{
  g_autofree gchar *max_id = g_strnfill (ICECAM_PROTOCOL_MAX_ID_LENGTH, 'a');
  g_autofree gchar *long_id = g_strnfill (ICECAM_PROTOCOL_MAX_ID_LENGTH + 1, 'a');

  g_assert_true (icecam_protocol_id_is_valid ("Cam-1.front_door"));
  g_assert_true (icecam_protocol_id_is_valid (max_id));
  g_assert_false (icecam_protocol_id_is_valid (long_id));
  g_assert_false (icecam_protocol_id_is_valid (NULL));
  g_assert_false (icecam_protocol_id_is_valid (""));
  g_assert_false (icecam_protocol_id_is_valid ("a b"));
  g_assert_false (icecam_protocol_id_is_valid ("a/b"));
  g_assert_false (icecam_protocol_id_is_valid ("caméra"));
}

static void
test_boxed (void)
{
  g_autoptr (IcecamMessage) msg = icecam_message_new_candidate ("s1", test_candidate);
  IcecamMessage *copy;

  g_assert_true (G_TYPE_IS_BOXED (ICECAM_TYPE_MESSAGE));
  copy = g_boxed_copy (ICECAM_TYPE_MESSAGE, msg);
  g_assert_true (copy != msg);
  g_assert_true (copy->candidate != msg->candidate);
  assert_messages_equal (msg, copy);
  g_boxed_free (ICECAM_TYPE_MESSAGE, copy);
}

/* Found by fuzz/fuzz-protocol.c: json-glib turns an escaped lone surrogate into bytes that
 * are not UTF-8, and its error texts can cut a UTF-8 sequence. Neither may be accepted or be
 * echoed in an error text (which goes back on the wire). */
static void
test_parse_invalid_utf8 (void)
{
  const gchar *inputs[] = {
    "{\"type\":\"bye\",\"session\":\"9f2c4e7a01b3d5c6\",\"reason\":\"\\ud800 peer left\"}",
    "{\"type\":\"\\ude00 hello\"}",
    "{\"type\":\"yyyyyyyyyyyyyyyyyyyyyyyyyyyy\\u00e9yyyy\":1}",
    "{\"type\":\"bye\",\"session\":\"9f2c4e7a01b3d5c6\",\"reason\":\"\\ud83d\\u0041\"}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (IcecamMessage) msg = icecam_message_parse (inputs[i], strlen (inputs[i]), &error);

    g_assert_null (msg);
    g_assert_nonnull (error);
    g_test_message ("%s -> %s", inputs[i], error->message);
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
  }
}

/* Every ASCII character and some beyond in a string the server writes (an error text): the
 * escapes are json-glib's, and the text reads back as it was. U+001F is the one exception:
 * json-glib 1.6 writes it raw (not JSON); it is escaped here, and read back the same. */
static void
test_build_escapes (void)
{
  for (guint c = 0x01; c <= 0x7f; c++) {
    gchar text[] = { 'a', (gchar) c, 'b', '\0' };
    g_autoptr (IcecamMessage) msg =
      icecam_message_new_error (ICECAM_ERROR_CODE_MALFORMED, NULL, text);
    g_autofree gchar *json = icecam_message_to_json (msg);
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_autoptr (GError) error = NULL;

    if (c != 0x1f)
      assert_json_glib_writes_the_same (json);
    else
      g_assert_nonnull (strstr (json, "a\\u001fb"));
    g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (json_object_get_string_member (
                       json_node_get_object (json_parser_get_root (parser)), "message"),
                     ==, text);
  }
  {
    g_autoptr (IcecamMessage) msg = icecam_message_new_error (
      ICECAM_ERROR_CODE_MALFORMED, "s1", "\"é€😀\u2028\\/\x7f\"");
    g_autofree gchar *json = icecam_message_to_json (msg);

    g_assert_cmpstr (json, ==, "{\"type\":\"error\",\"code\":\"malformed\",\"message\":"
                     "\"\\\"é€😀\u2028\\\\/\\u007f\\\"\",\"session\":\"s1\"}");
    assert_json_glib_writes_the_same (json);
  }
}

/* The parse of @text, or its error, as one line. */
static gchar *
parse_outcome (const gchar *text, gsize length, gboolean json_glib_only)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (IcecamMessage) msg = json_glib_only
                                    ? icecam_message_parse_with_json_glib (text, length, &error)
                                    : icecam_message_parse (text, length, &error);

  if (msg == NULL)
    return g_strdup_printf ("error %d: %s", error->code, error->message);
  return icecam_message_to_json (msg);
}

static void
assert_same_as_json_glib (const gchar *text, gsize length)
{
  g_autofree gchar *flat = parse_outcome (text, length, FALSE);
  g_autofree gchar *reference = parse_outcome (text, length, TRUE);

  if (g_strcmp0 (flat, reference) != 0)
    g_error ("'%.*s': '%s', json-glib alone: '%s'", (gint) length, text, flat, reference);
}

/* Flat objects of plain strings are read without json-glib: whatever the text, the message
 * or the error is the same as json-glib's (a few hand-picked texts, then random ones made of
 * the pieces messages are made of, right and wrong). */
static void
test_parse_flat_same_as_json_glib (void)
{
  const gchar *texts[] = {
    "{\"type\":\"candidate\",\"session\":\"s1\",\"candidate\":\"candidate:1 1 UDP 1 "
    "203.0.113.1 9 typ host\"}",
    " {\"type\" : \"ping\"}\r\n",
    "{\"type\":\"watch\",\"camera\":\"cam-1\",\"camera\":\"cam-2\"}",
    "{\"type\":\"watch\",\"\":\"x\",\"camera\":\"cam-1\"}",
    "{\"type\":\"watch\",\"camera\":\"caméra\"}",
    "{\"type\":\"bye\",\"session\":\"s1\",\"reason\":\"gone \u00e9\"}",
    "{\"type\":\"bye\",\"session\":\"s1\",}",
    "{\"type\":\"bye\" \"session\":\"s1\"}",
    "{\"type\":\"bye\",\"session\":\"s1\"}}",
    "{\"type\":\"end-of-candidates\",\"session\":\"\"}",
    "{\"type\":\"nope\"}",
    "{\"type\":\"hello\",\"role\":\"camera\",\"id\":\"c\",\"version\":\"1\"}",
    "{}",
    "{\"type\":\"ping\",\"extra\":\"\x7f\"}",
  };
  const gchar *names[] = { "type", "session", "candidate", "camera", "reason", "code", "id",
                           "role", "version", "x", "" };
  const gchar *values[] = { "candidate", "watch", "bye", "ping", "end-of-candidates", "hello",
                            "s1", "cam-1", "camera", "viewer", "peer-left", "candidate:1 1 UDP "
                            "2013266431 127.0.0.1 9 typ host", "a b", "é€", "bad id!", "" };
  const gchar *spaces[] = { "", "", "", " ", "\t", "\r\n " };
  g_autoptr (GRand) rand = g_rand_new_with_seed (19);

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    assert_same_as_json_glib (texts[i], strlen (texts[i]));

  for (guint n = 0; n < 20000; n++) {
    g_autoptr (GString) text = g_string_new (NULL);
    guint members = g_rand_int_range (rand, 0, 5);

#define SPACE() g_string_append (text, spaces[g_rand_int_range (rand, 0, G_N_ELEMENTS (spaces))])
    SPACE ();
    g_string_append_c (text, '{');
    for (guint m = 0; m < members; m++) {
      guint odd = g_rand_int_range (rand, 0, 40);

      SPACE ();
      g_string_append_printf (text, "\"%s\"",
                              m == 0 && odd > 3 ? "type"
                                                : names[g_rand_int_range (rand, 0, G_N_ELEMENTS (names))]);
      SPACE ();
      g_string_append_c (text, odd == 1 ? ' ' : ':');
      SPACE ();
      if (odd == 2)
        g_string_append (text, "1");
      else if (odd == 3)
        g_string_append (text, "[\"a\"]");
      else if (odd == 4)
        g_string_append (text, "\"a\\nb\"");
      else if (odd == 5)
        g_string_append (text, "true");
      else
        g_string_append_printf (text, "\"%s\"",
                                values[g_rand_int_range (rand, 0, G_N_ELEMENTS (values))]);
      SPACE ();
      if (m + 1 < members || odd == 6)
        g_string_append_c (text, odd == 7 ? ';' : ',');
    }
    SPACE ();
    if (g_rand_int_range (rand, 0, 30) > 0)
      g_string_append_c (text, '}');
    SPACE ();
#undef SPACE
    assert_same_as_json_glib (text->str, text->len);
  }
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/protocol/roundtrip/hello", test_roundtrip_hello);
  g_test_add_func ("/protocol/roundtrip/welcome", test_roundtrip_welcome);
  g_test_add_func ("/protocol/roundtrip/presence", test_roundtrip_presence);
  g_test_add_func ("/protocol/roundtrip/watch", test_roundtrip_watch);
  g_test_add_func ("/protocol/roundtrip/session", test_roundtrip_session);
  g_test_add_func ("/protocol/roundtrip/challenge", test_roundtrip_challenge);
  g_test_add_func ("/protocol/roundtrip/resume", test_roundtrip_resume);
  g_test_add_func ("/protocol/roundtrip/ping-pong-restart", test_roundtrip_ping_pong_restart);
  g_test_add_func ("/protocol/punch", test_punch);
  g_test_add_func ("/protocol/punch-step", test_punch_step);
  g_test_add_func ("/protocol/dtls", test_dtls);
  g_test_add_func ("/protocol/roundtrip/ice-servers", test_roundtrip_ice_servers);
  g_test_add_func ("/protocol/parse/features", test_parse_features);
  g_test_add_func ("/protocol/parse/resume", test_parse_resume);
  g_test_add_func ("/protocol/parse/invalid-utf8", test_parse_invalid_utf8);
  g_test_add_func ("/protocol/roundtrip/offer", test_roundtrip_offer);
  g_test_add_func ("/protocol/roundtrip/answer", test_roundtrip_answer);
  g_test_add_func ("/protocol/roundtrip/candidate", test_roundtrip_candidate);
  g_test_add_func ("/protocol/roundtrip/end-of-candidates", test_roundtrip_end_of_candidates);
  g_test_add_func ("/protocol/roundtrip/bye", test_roundtrip_bye);
  g_test_add_func ("/protocol/parse/bye-code", test_parse_bye_code);
  g_test_add_func ("/protocol/roundtrip/error", test_roundtrip_error);
  g_test_add_func ("/protocol/roundtrip/unicode", test_roundtrip_unicode);
  g_test_add_func ("/protocol/parse/fields", test_parse_fields);
  g_test_add_func ("/protocol/parse/unknown-fields", test_parse_unknown_fields);
  g_test_add_func ("/protocol/parse/not-nul-terminated", test_parse_not_nul_terminated);
  g_test_add_func ("/protocol/parse/viewer-without-id", test_parse_viewer_without_id);
  g_test_add_func ("/protocol/parse/malformed", test_parse_malformed);
  g_test_add_func ("/protocol/parse/utf8-and-nul", test_parse_invalid_utf8_and_nul);
  g_test_add_func ("/protocol/parse/one-object-strict-escapes",
                   test_parse_one_object_strict_escapes);
  g_test_add_func ("/protocol/parse/deep-nesting", test_parse_deep_nesting);
  g_test_add_func ("/protocol/parse/oversized", test_parse_oversized);
  g_test_add_func ("/protocol/parse/field-limits", test_parse_field_limits);
  g_test_add_func ("/protocol/parse/huge-arrays", test_parse_huge_arrays);
  g_test_add_func ("/protocol/parse/unknown-type", test_parse_unknown_type);
  g_test_add_func ("/protocol/parse/missing-field", test_parse_missing_field);
  g_test_add_func ("/protocol/parse/bad-id", test_parse_bad_id);
  g_test_add_func ("/protocol/parse/bad-values", test_parse_bad_values);
  g_test_add_func ("/protocol/parse/candidate", test_parse_candidate);
  g_test_add_func ("/protocol/parse/version", test_parse_version);
  g_test_add_func ("/protocol/error-codes", test_error_code_mapping);
  g_test_add_func ("/protocol/wire-names", test_wire_names);
  g_test_add_func ("/protocol/id-is-valid", test_id_is_valid);
  g_test_add_func ("/protocol/boxed", test_boxed);
  g_test_add_func ("/protocol/build/escapes", test_build_escapes);
  g_test_add_func ("/protocol/parse/flat-same-as-json-glib", test_parse_flat_same_as_json_glib);

  return g_test_run ();
}
