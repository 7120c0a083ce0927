/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tests for the STUN responder, driven over loopback by libnice's STUN client code and agent. */

#include "icecam-stun-responder.h"

#include <nice/agent.h>
#include <stun/stunagent.h>
#include <stun/stunmessage.h>

#include <string.h>

#define WAIT_TIMEOUT_MS 5000
#define STUN_BUFFER_SIZE 1024
#define ATTR_RESPONSE_ORIGIN ((StunAttribute) 0x802B)
#define ATTR_OTHER_ADDRESS ((StunAttribute) 0x802C)
#define ATTR_UNASSIGNED_MANDATORY ((StunAttribute) 0x7F01)

typedef struct {
  GBytes *data;
  GSocketAddress *from;
} Reply;

typedef struct {
  IcecamStunResponder *responder;
  GSocket *client;
  GSource *client_source;
  GQueue replies;
} Fixture;

/* A STUN client transaction: libnice's agent remembers the request so it can validate the
 * answer (transaction ID, FINGERPRINT). */
typedef struct {
  StunAgent agent;
  StunMessage request;
  guint8 buffer[STUN_BUFFER_SIZE];
  gsize length;
} Client;

/* ---- helpers --------------------------------------------------------------------------- */

static void
reply_free (Reply *reply)
{
  g_bytes_unref (reply->data);
  g_object_unref (reply->from);
  g_free (reply);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reply, reply_free)

static gboolean
wake_up_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the default context until @cond holds or WAIT_TIMEOUT_MS passed; never sleeps
 * blindly, the timeout only wakes the loop up to look at the clock. */
#define WAIT_UNTIL(cond)                                                                  \
  G_STMT_START {                                                                          \
    gint64 _deadline = g_get_monotonic_time () + WAIT_TIMEOUT_MS * G_TIME_SPAN_MILLISECOND; \
    guint _wake_id = g_timeout_add (20, wake_up_cb, NULL);                                \
    while (!(cond) && g_get_monotonic_time () < _deadline)                                \
      g_main_context_iteration (NULL, TRUE);                                              \
    g_source_remove (_wake_id);                                                           \
  } G_STMT_END

static GInetSocketAddress *
address_new (const gchar *ip, guint16 port)
{
  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new_from_string (ip, port));
}

static gchar *
address_to_string (gpointer address)
{
  return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
}

static gchar *
native_address_to_string (const struct sockaddr_storage *storage, socklen_t length)
{
  g_autoptr(GSocketAddress) address = g_socket_address_new_from_native ((gpointer) storage,
                                                                         length);

  g_assert_nonnull (address);
  return address_to_string (address);
}

static gboolean
on_client_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Fixture *f = user_data;

  for (;;) {
    guint8 buffer[2048];
    GSocketAddress *from = NULL;
    Reply *reply;
    gssize received = g_socket_receive_from (socket, &from, (gchar *) buffer, sizeof buffer,
                                             NULL, NULL);

    if (received < 0)
      break;
    reply = g_new0 (Reply, 1);
    reply->data = g_bytes_new (buffer, received);
    reply->from = from;
    g_queue_push_tail (&f->replies, reply);
  }
  return G_SOURCE_CONTINUE;
}

static void
fixture_open_client (Fixture *f, const gchar *ip)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetSocketAddress) address = address_new (ip, 0);

  f->client = g_socket_new (g_inet_address_get_family (
                              g_inet_socket_address_get_address (address)),
                            G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  g_assert_no_error (error);
  g_socket_set_blocking (f->client, FALSE);
  g_socket_bind (f->client, G_SOCKET_ADDRESS (address), FALSE, &error);
  g_assert_no_error (error);
  f->client_source = g_socket_create_source (f->client, G_IO_IN, NULL);
  g_source_set_callback (f->client_source, G_SOURCE_FUNC (on_client_readable), f, NULL);
  g_source_attach (f->client_source, NULL);
}

static gchar *
fixture_client_address (Fixture *f)
{
  g_autoptr(GSocketAddress) local = g_socket_get_local_address (f->client, NULL);

  return address_to_string (local);
}

static void
fixture_listen (Fixture *f, const gchar *ip)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetSocketAddress) address = address_new (ip, 0);

  g_assert_true (icecam_stun_responder_listen (f->responder, address, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (icecam_stun_responder_get_port (f->responder), !=, 0);
}

static void
fixture_send_to (Fixture *f, GInetSocketAddress *to, const guint8 *data, gsize length)
{
  g_autoptr(GError) error = NULL;
  gssize sent = g_socket_send_to (f->client, G_SOCKET_ADDRESS (to), (const gchar *) data,
                                  length, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpint (sent, ==, (gssize) length);
}

static void
fixture_send (Fixture *f, const guint8 *data, gsize length)
{
  g_autoptr(GInetSocketAddress) to =
    icecam_stun_responder_get_local_address (f->responder, FALSE, FALSE);

  fixture_send_to (f, to, data, length);
}

static Reply *
fixture_wait_reply (Fixture *f)
{
  WAIT_UNTIL (!g_queue_is_empty (&f->replies));
  g_assert_false (g_queue_is_empty (&f->replies));
  return g_queue_pop_head (&f->replies);
}

static IcecamStunResponderStats
fixture_stats (Fixture *f)
{
  IcecamStunResponderStats stats;

  icecam_stun_responder_get_stats (f->responder, &stats);
  g_assert_cmpuint (stats.packets_received, ==,
                    stats.requests_answered + stats.errors_answered + stats.packets_ignored +
                    stats.send_failures);
  return stats;
}

static guint64
fixture_packets_received (Fixture *f)
{
  return fixture_stats (f).packets_received;
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  f->responder = icecam_stun_responder_new ();
  g_queue_init (&f->replies);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  if (f->client_source != NULL) {
    g_source_destroy (f->client_source);
    g_source_unref (f->client_source);
  }
  if (f->client != NULL) {
    g_socket_close (f->client, NULL);
    g_object_unref (f->client);
  }
  g_queue_clear_full (&f->replies, (GDestroyNotify) reply_free);
  g_assert_finalize_object (f->responder);
}

/* Builds a Binding request with libnice. @change_flags < 0 means no CHANGE-REQUEST;
 * @extra_attribute 0 means none, else a 4-byte attribute of that type is added. */
static void
client_build (Client *c, StunCompatibility compatibility, gint change_flags,
              StunAttribute extra_attribute)
{
  StunAgentUsageFlags flags = compatibility == STUN_COMPATIBILITY_RFC5389 ?
                              STUN_AGENT_USAGE_USE_FINGERPRINT : 0;

  stun_agent_init (&c->agent, STUN_ALL_KNOWN_ATTRIBUTES, compatibility, flags);
  g_assert_true (stun_agent_init_request (&c->agent, &c->request, c->buffer, sizeof c->buffer,
                                          STUN_BINDING));
  if (change_flags >= 0)
    g_assert_cmpint (stun_message_append32 (&c->request, STUN_ATTRIBUTE_CHANGE_REQUEST,
                                            change_flags), ==, STUN_MESSAGE_RETURN_SUCCESS);
  if (extra_attribute != 0)
    g_assert_cmpint (stun_message_append32 (&c->request, extra_attribute, 42), ==,
                     STUN_MESSAGE_RETURN_SUCCESS);
  c->length = stun_agent_finish_message (&c->agent, &c->request, NULL, 0);
  g_assert_cmpuint (c->length, >, 0);
}

/* Validates @reply as the answer to @c's request with libnice, FINGERPRINT included when the
 * agent is RFC 5389. */
static void
client_validate (Client *c, Reply *reply, StunMessage *response)
{
  gsize length;
  const guint8 *data = g_bytes_get_data (reply->data, &length);

  g_assert_cmpint (stun_agent_validate (&c->agent, response, data, length, NULL, NULL), ==,
                   STUN_VALIDATION_SUCCESS);
  g_assert_cmpint (stun_message_get_method (response), ==, STUN_BINDING);
}

static gchar *
find_address (StunMessage *message, StunAttribute type, gboolean xored)
{
  struct sockaddr_storage storage;
  socklen_t length = sizeof storage;
  StunMessageReturn ret = xored ?
    stun_message_find_xor_addr (message, type, &storage, &length) :
    stun_message_find_addr (message, type, &storage, &length);

  if (ret != STUN_MESSAGE_RETURN_SUCCESS)
    return NULL;
  return native_address_to_string (&storage, length);
}

static void
assert_software (StunMessage *message)
{
  uint16_t length = 0;
  const gchar *software = stun_message_find (message, STUN_ATTRIBUTE_SOFTWARE, &length);

  g_assert_nonnull (software);
  g_assert_cmpmem (software, length, "icecam", strlen ("icecam"));
}

/* ---- binding ----------------------------------------------------------------------------- */

static void
check_rfc5389_binding (Fixture *f, const gchar *ip)
{
  Client c;
  StunMessage response;
  g_autoptr(Reply) reply = NULL;
  g_autoptr(GInetSocketAddress) server = NULL;
  g_autofree gchar *mapped = NULL;
  g_autofree gchar *client_address = NULL;
  g_autofree gchar *server_address = NULL;
  g_autofree gchar *from = NULL;
  IcecamStunResponderStats stats;

  fixture_listen (f, ip);
  fixture_open_client (f, ip);
  client_build (&c, STUN_COMPATIBILITY_RFC5389, -1, 0);
  fixture_send (f, c.buffer, c.length);
  reply = fixture_wait_reply (f);

  client_validate (&c, reply, &response);
  g_assert_cmpint (stun_message_get_class (&response), ==, STUN_RESPONSE);
  g_assert_true (stun_message_has_cookie (&response));
  g_assert_true (stun_message_has_attribute (&response, STUN_ATTRIBUTE_FINGERPRINT));
  mapped = find_address (&response, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, TRUE);
  client_address = fixture_client_address (f);
  g_assert_cmpstr (mapped, ==, client_address);
  g_assert_false (stun_message_has_attribute (&response, STUN_ATTRIBUTE_MAPPED_ADDRESS));
  g_assert_false (stun_message_has_attribute (&response, ATTR_OTHER_ADDRESS));
  assert_software (&response);

  server = icecam_stun_responder_get_local_address (f->responder, FALSE, FALSE);
  server_address = address_to_string (server);
  from = address_to_string (reply->from);
  g_assert_cmpstr (from, ==, server_address);

  stats = fixture_stats (f);
  g_assert_cmpuint (stats.packets_received, ==, 1);
  g_assert_cmpuint (stats.requests_answered, ==, 1);
}

static void
test_bind_rfc5389_ipv4 (Fixture *f, gconstpointer data)
{
  check_rfc5389_binding (f, "127.0.0.1");
}

static void
test_bind_rfc5389_ipv6 (Fixture *f, gconstpointer data)
{
  g_autoptr(GSocket) probe = g_socket_new (G_SOCKET_FAMILY_IPV6, G_SOCKET_TYPE_DATAGRAM,
                                           G_SOCKET_PROTOCOL_UDP, NULL);
  g_autoptr(GInetSocketAddress) loopback = address_new ("::1", 0);

  if (probe == NULL || !g_socket_bind (probe, G_SOCKET_ADDRESS (loopback), FALSE, NULL)) {
    g_test_skip ("no IPv6 loopback");
    return;
  }
  check_rfc5389_binding (f, "::1");
}

static void
test_bind_rfc3489 (Fixture *f, gconstpointer data)
{
  Client c;
  StunMessage response;
  g_autoptr(Reply) reply = NULL;
  g_autofree gchar *mapped = NULL;
  g_autofree gchar *client_address = NULL;

  fixture_listen (f, "127.0.0.1");
  fixture_open_client (f, "127.0.0.1");
  client_build (&c, STUN_COMPATIBILITY_RFC3489, -1, 0);
  g_assert_false (stun_message_has_cookie (&c.request));
  fixture_send (f, c.buffer, c.length);
  reply = fixture_wait_reply (f);

  client_validate (&c, reply, &response);
  g_assert_cmpint (stun_message_get_class (&response), ==, STUN_RESPONSE);
  g_assert_false (stun_message_has_cookie (&response));
  mapped = find_address (&response, STUN_ATTRIBUTE_MAPPED_ADDRESS, FALSE);
  client_address = fixture_client_address (f);
  g_assert_cmpstr (mapped, ==, client_address);
  /* An RFC 3489 client knows neither of these. */
  g_assert_false (stun_message_has_attribute (&response, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS));
  g_assert_false (stun_message_has_attribute (&response, STUN_ATTRIBUTE_FINGERPRINT));
  g_assert_cmpuint (fixture_stats (f).requests_answered, ==, 1);
}

/* An IPv6 wildcard socket serves IPv4 clients too; they must see an IPv4 mapped address,
 * not ::ffff:127.0.0.1. */
static void
test_bind_dual_stack (Fixture *f, gconstpointer data)
{
  Client c;
  StunMessage response;
  g_autoptr(Reply) reply = NULL;
  g_autoptr(GInetSocketAddress) any = address_new ("::", 0);
  g_autoptr(GInetSocketAddress) to = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree gchar *mapped = NULL;
  g_autofree gchar *client_address = NULL;

  if (!icecam_stun_responder_listen (f->responder, any, &error)) {
    g_test_skip (error->message);
    return;
  }
  fixture_open_client (f, "127.0.0.1");
  client_build (&c, STUN_COMPATIBILITY_RFC5389, -1, 0);
  to = address_new ("127.0.0.1", icecam_stun_responder_get_port (f->responder));
  fixture_send_to (f, to, c.buffer, c.length);
  reply = fixture_wait_reply (f);

  client_validate (&c, reply, &response);
  mapped = find_address (&response, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, TRUE);
  client_address = fixture_client_address (f);
  g_assert_cmpstr (mapped, ==, client_address);
}

/* ---- what is not answered -------------------------------------------------------------- */

static GBytes *
modified_request (const Client *c, gsize offset, guint8 value)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();

  g_byte_array_append (bytes, c->buffer, c->length);
  bytes->data[offset] = value;
  return g_byte_array_free_to_bytes (g_steal_pointer (&bytes));
}

static GBytes *
header_with_attributes (guint16 type, const guint8 *attributes, gsize attributes_length)
{
  g_autoptr(GByteArray) bytes = g_byte_array_new ();
  guint8 header[20] = { type >> 8, type & 0xff, attributes_length >> 8,
                        attributes_length & 0xff, 0x21, 0x12, 0xa4, 0x42,
                        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

  g_byte_array_append (bytes, header, sizeof header);
  if (attributes_length > 0)
    g_byte_array_append (bytes, attributes, attributes_length);
  return g_byte_array_free_to_bytes (g_steal_pointer (&bytes));
}

/* One datagram for each way of being ignored; test-stun-message covers the codec's cases. */
static GPtrArray *
bad_packets (const Client *good)
{
  GPtrArray *packets = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autofree guint8 *oversized = g_malloc0 (2000);

  g_ptr_array_add (packets, g_bytes_new_static ("GET / HTTP/1.1\r\n\r\n", 18));
  g_ptr_array_add (packets, g_bytes_new_static ("", 0));
  /* A Binding success response. */
  g_ptr_array_add (packets, header_with_attributes (0x0101, NULL, 0));
  g_ptr_array_add (packets, modified_request (good, good->length - 1,
                                              good->buffer[good->length - 1] ^ 0xff));
  /* Well-formed but larger than the receive buffer. */
  g_ptr_array_add (packets, header_with_attributes (0x0001, oversized, 2000));
  return packets;
}

static void
test_ignore_malformed (Fixture *f, gconstpointer data)
{
  Client bad, good;
  StunMessage response;
  g_autoptr(GPtrArray) packets = NULL;
  g_autoptr(Reply) reply = NULL;
  IcecamStunResponderStats stats;

  fixture_listen (f, "127.0.0.1");
  fixture_open_client (f, "127.0.0.1");
  client_build (&bad, STUN_COMPATIBILITY_RFC5389, -1, 0);
  packets = bad_packets (&bad);
  for (guint i = 0; i < packets->len; i++) {
    gsize length;
    const guint8 *bytes = g_bytes_get_data (packets->pdata[i], &length);

    fixture_send (f, bytes, length);
  }

  /* Datagrams are handled in order, so an answer to any of the bad ones would come first. */
  client_build (&good, STUN_COMPATIBILITY_RFC5389, -1, 0);
  fixture_send (f, good.buffer, good.length);
  reply = fixture_wait_reply (f);
  client_validate (&good, reply, &response);
  g_assert_cmpint (stun_message_get_class (&response), ==, STUN_RESPONSE);

  stats = fixture_stats (f);
  g_assert_cmpuint (stats.packets_ignored, ==, packets->len);
  g_assert_cmpuint (stats.requests_answered, ==, 1);
  g_assert_cmpuint (stats.errors_answered, ==, 0);
  g_assert_true (g_queue_is_empty (&f->replies));
}

/* Random datagrams and random corruptions of a request without FINGERPRINT, in batches small
 * enough for the socket buffer: every one is accounted for and the responder keeps serving. */
static void
test_ignore_random (Fixture *f, gconstpointer data)
{
  Client template, good;
  StunMessage response;
  guint64 sent = 0;
  gboolean answered = FALSE;

  fixture_listen (f, "127.0.0.1");
  fixture_open_client (f, "127.0.0.1");
  client_build (&template, STUN_COMPATIBILITY_RFC3489, -1, STUN_ATTRIBUTE_PRIORITY);

  for (guint batch = 0; batch < 20; batch++) {
    for (guint i = 0; i < 20; i++) {
      guint8 packet[STUN_BUFFER_SIZE];
      gsize length;

      if (i % 2 == 0) {
        length = g_test_rand_int_range (0, sizeof packet);
        for (gsize j = 0; j < length; j++)
          packet[j] = g_test_rand_int_range (0, 256);
      } else {
        length = template.length;
        memcpy (packet, template.buffer, length);
        packet[g_test_rand_int_range (0, length)] = g_test_rand_int_range (0, 256);
      }
      fixture_send (f, packet, length);
      sent++;
    }
    WAIT_UNTIL (fixture_packets_received (f) == sent);
    g_assert_cmpuint (fixture_packets_received (f), ==, sent);
  }

  client_build (&good, STUN_COMPATIBILITY_RFC5389, -1, 0);
  fixture_send (f, good.buffer, good.length);
  while (!answered) {
    g_autoptr(Reply) reply = fixture_wait_reply (f);
    gsize length;
    const guint8 *bytes = g_bytes_get_data (reply->data, &length);

    answered = stun_agent_validate (&good.agent, &response, bytes, length, NULL, NULL) ==
               STUN_VALIDATION_SUCCESS;
  }
  g_assert_cmpuint (fixture_stats (f).send_failures, ==, 0);
}

/* ---- error responses ------------------------------------------------------------------- */

static void
check_unknown_attribute (Fixture *f, StunCompatibility compatibility, gint change_flags,
                         StunAttribute extra, guint16 expected_unknown)
{
  Client c;
  StunMessage response;
  g_autoptr(Reply) reply = NULL;
  int code = 0;
  uint16_t length = 0;
  const guint8 *unknown;

  client_build (&c, compatibility, change_flags, extra);
  fixture_send (f, c.buffer, c.length);
  reply = fixture_wait_reply (f);
  client_validate (&c, reply, &response);
  g_assert_cmpint (stun_message_get_class (&response), ==, STUN_ERROR);
  g_assert_cmpint (stun_message_find_error (&response, &code), ==, STUN_MESSAGE_RETURN_SUCCESS);
  g_assert_cmpint (code, ==, STUN_ERROR_UNKNOWN_ATTRIBUTE);
  unknown = stun_message_find (&response, STUN_ATTRIBUTE_UNKNOWN_ATTRIBUTES, &length);
  g_assert_nonnull (unknown);
  /* RFC 3489 pads an odd list by repeating an entry. */
  g_assert_cmpuint (length, ==, compatibility == STUN_COMPATIBILITY_RFC3489 ? 4 : 2);
  for (guint i = 0; i < length / 2; i++)
    g_assert_cmphex ((unknown[2 * i] << 8) | unknown[2 * i + 1], ==, expected_unknown);
}

static void
test_error_unknown_attribute (Fixture *f, gconstpointer data)
{
  IcecamStunResponderStats stats;

  fixture_listen (f, "127.0.0.1");
  fixture_open_client (f, "127.0.0.1");
  check_unknown_attribute (f, STUN_COMPATIBILITY_RFC5389, -1, ATTR_UNASSIGNED_MANDATORY,
                           ATTR_UNASSIGNED_MANDATORY);
  check_unknown_attribute (f, STUN_COMPATIBILITY_RFC3489, -1, ATTR_UNASSIGNED_MANDATORY,
                           ATTR_UNASSIGNED_MANDATORY);
  /* Without RFC 5780 a CHANGE-REQUEST is refused: that is how clients learn it. */
  check_unknown_attribute (f, STUN_COMPATIBILITY_RFC5389, 0x06, 0,
                           STUN_ATTRIBUTE_CHANGE_REQUEST);

  stats = fixture_stats (f);
  g_assert_cmpuint (stats.errors_answered, ==, 3);
  g_assert_cmpuint (stats.requests_answered, ==, 0);
}

/* ---- a real libnice agent -------------------------------------------------------------- */

static void
on_agent_gathering_done (NiceAgent *agent, guint stream_id, gpointer user_data)
{
  gboolean *done = user_data;

  *done = TRUE;
}

static void
on_agent_recv (NiceAgent *agent, guint stream_id, guint component_id, guint length,
               gchar *data, gpointer user_data)
{
}

static void
agent_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *closed = user_data;

  *closed = TRUE;
}

/* libnice 0.1.21 discovers its server-reflexive candidate with an RFC 3489 request. The
 * first retransmission timer is set long: gathering done well before it means libnice took
 * our first answer, where a rejected answer would leave it waiting and retransmitting. */
static void
test_libnice_gather (Fixture *f, gconstpointer data)
{
  NiceAgent *agent;
  NiceAddress local;
  guint stream_id;
  gboolean done = FALSE;
  gboolean closed = FALSE;
  gint64 start;
  IcecamStunResponderStats stats;
  const guint initial_timeout_ms = 3000;

  fixture_listen (f, "127.0.0.1");
  agent = nice_agent_new (NULL, NICE_COMPATIBILITY_RFC5245);
  g_object_set (agent, "upnp", FALSE, "controlling-mode", TRUE, "ice-tcp", FALSE,
                "stun-server", "127.0.0.1",
                "stun-server-port", (guint) icecam_stun_responder_get_port (f->responder),
                "stun-initial-timeout", initial_timeout_ms, "stun-max-retransmissions", 1,
                NULL);
  nice_address_init (&local);
  g_assert_true (nice_address_set_from_string (&local, "127.0.0.1"));
  g_assert_true (nice_agent_add_local_address (agent, &local));
  stream_id = nice_agent_add_stream (agent, 1);
  g_assert_cmpuint (stream_id, >, 0);
  g_assert_true (nice_agent_attach_recv (agent, stream_id, 1, g_main_context_default (),
                                         on_agent_recv, NULL));
  g_signal_connect (agent, "candidate-gathering-done", G_CALLBACK (on_agent_gathering_done),
                    &done);

  start = g_get_monotonic_time ();
  g_assert_true (nice_agent_gather_candidates (agent, stream_id));
  WAIT_UNTIL (done);
  g_assert_true (done);
  g_assert_cmpint (g_get_monotonic_time () - start, <,
                   initial_timeout_ms * G_TIME_SPAN_MILLISECOND);

  stats = fixture_stats (f);
  g_assert_cmpuint (stats.packets_received, ==, 1);
  g_assert_cmpuint (stats.requests_answered, ==, 1);

  nice_agent_close_async (agent, agent_closed_cb, &closed);
  WAIT_UNTIL (closed);
  g_assert_true (closed);
  g_object_unref (agent);
}

/* ---- RFC 5780 -------------------------------------------------------------------------- */

static gboolean
fixture_listen_rfc5780 (Fixture *f)
{
  g_autoptr(GInetSocketAddress) primary = address_new ("127.0.0.1", 0);
  g_autoptr(GInetSocketAddress) alternate = address_new ("127.0.0.2", 0);
  g_autoptr(GError) error = NULL;

  if (!icecam_stun_responder_listen_rfc5780 (f->responder, primary, alternate, &error)) {
    g_test_skip (error->message);
    return FALSE;
  }
  g_assert_no_error (error);
  return TRUE;
}

static gchar *
responder_address_string (Fixture *f, guint index)
{
  g_autoptr(GInetSocketAddress) address =
    icecam_stun_responder_get_local_address (f->responder, (index & 2) != 0, (index & 1) != 0);

  g_assert_nonnull (address);
  return address_to_string (address);
}

/* Sends to socket @to (bit 1: alternate IP, bit 0: alternate port) asking for @flags. */
static void
check_change_request (Fixture *f, guint to, guint flags)
{
  Client c;
  StunMessage response;
  g_autoptr(Reply) reply = NULL;
  g_autoptr(GInetSocketAddress) destination =
    icecam_stun_responder_get_local_address (f->responder, (to & 2) != 0, (to & 1) != 0);
  guint expected = to ^ ((flags & 0x04) ? 2 : 0) ^ ((flags & 0x02) ? 1 : 0);
  g_autofree gchar *expected_origin = responder_address_string (f, expected);
  g_autofree gchar *expected_other = responder_address_string (f, to ^ 3);
  g_autofree gchar *from = NULL;
  g_autofree gchar *origin = NULL;
  g_autofree gchar *other = NULL;
  g_autofree gchar *mapped = NULL;
  g_autofree gchar *client_address = fixture_client_address (f);

  client_build (&c, STUN_COMPATIBILITY_RFC5389, flags, 0);
  fixture_send_to (f, destination, c.buffer, c.length);
  reply = fixture_wait_reply (f);
  client_validate (&c, reply, &response);
  g_assert_cmpint (stun_message_get_class (&response), ==, STUN_RESPONSE);

  from = address_to_string (reply->from);
  g_assert_cmpstr (from, ==, expected_origin);
  origin = find_address (&response, ATTR_RESPONSE_ORIGIN, FALSE);
  g_assert_cmpstr (origin, ==, expected_origin);
  other = find_address (&response, ATTR_OTHER_ADDRESS, FALSE);
  g_assert_cmpstr (other, ==, expected_other);
  mapped = find_address (&response, STUN_ATTRIBUTE_XOR_MAPPED_ADDRESS, TRUE);
  g_assert_cmpstr (mapped, ==, client_address);
}

static void
test_rfc5780_change_request (Fixture *f, gconstpointer data)
{
  static const guint all_flags[] = { 0x00, 0x02, 0x04, 0x06 };
  g_autoptr(GInetSocketAddress) primary = NULL;
  g_autoptr(GInetSocketAddress) other = NULL;

  if (!fixture_listen_rfc5780 (f))
    return;
  fixture_open_client (f, "127.0.0.1");

  primary = icecam_stun_responder_get_local_address (f->responder, FALSE, FALSE);
  other = icecam_stun_responder_get_local_address (f->responder, TRUE, TRUE);
  g_assert_cmpuint (g_inet_socket_address_get_port (primary), ==,
                    icecam_stun_responder_get_port (f->responder));
  g_assert_cmpuint (g_inet_socket_address_get_port (primary), !=,
                    g_inet_socket_address_get_port (other));

  for (guint to = 0; to < 4; to++) {
    for (guint i = 0; i < G_N_ELEMENTS (all_flags); i++)
      check_change_request (f, to, all_flags[i]);
  }
  g_assert_cmpuint (fixture_stats (f).requests_answered, ==, 16);
}

/* RFC 3489 clients get the same service under that RFC's attribute names. */
static void
test_rfc5780_rfc3489_client (Fixture *f, gconstpointer data)
{
  Client c;
  StunMessage response;
  g_autoptr(Reply) reply = NULL;
  g_autofree gchar *from = NULL;
  g_autofree gchar *source = NULL;
  g_autofree gchar *changed = NULL;
  g_autofree gchar *expected_from = NULL;
  g_autofree gchar *expected_changed = NULL;

  if (!fixture_listen_rfc5780 (f))
    return;
  fixture_open_client (f, "127.0.0.1");
  client_build (&c, STUN_COMPATIBILITY_RFC3489, 0x04, 0);
  fixture_send (f, c.buffer, c.length);
  reply = fixture_wait_reply (f);
  client_validate (&c, reply, &response);

  expected_from = responder_address_string (f, 2);
  expected_changed = responder_address_string (f, 3);
  from = address_to_string (reply->from);
  g_assert_cmpstr (from, ==, expected_from);
  source = find_address (&response, STUN_ATTRIBUTE_SOURCE_ADDRESS, FALSE);
  g_assert_cmpstr (source, ==, expected_from);
  changed = find_address (&response, STUN_ATTRIBUTE_CHANGED_ADDRESS, FALSE);
  g_assert_cmpstr (changed, ==, expected_changed);
}

static void
test_rfc5780_bad_change_request (Fixture *f, gconstpointer data)
{
  Client c;
  StunMessage response;
  g_autoptr(Reply) reply = NULL;
  static const guint8 two_bytes[2] = { 0, 6 };
  int code = 0;

  if (!fixture_listen_rfc5780 (f))
    return;
  fixture_open_client (f, "127.0.0.1");

  stun_agent_init (&c.agent, STUN_ALL_KNOWN_ATTRIBUTES, STUN_COMPATIBILITY_RFC5389,
                   STUN_AGENT_USAGE_USE_FINGERPRINT);
  g_assert_true (stun_agent_init_request (&c.agent, &c.request, c.buffer, sizeof c.buffer,
                                          STUN_BINDING));
  g_assert_cmpint (stun_message_append_bytes (&c.request, STUN_ATTRIBUTE_CHANGE_REQUEST,
                                              two_bytes, sizeof two_bytes), ==,
                   STUN_MESSAGE_RETURN_SUCCESS);
  c.length = stun_agent_finish_message (&c.agent, &c.request, NULL, 0);
  fixture_send (f, c.buffer, c.length);
  reply = fixture_wait_reply (f);
  client_validate (&c, reply, &response);
  g_assert_cmpint (stun_message_get_class (&response), ==, STUN_ERROR);
  g_assert_cmpint (stun_message_find_error (&response, &code), ==, STUN_MESSAGE_RETURN_SUCCESS);
  g_assert_cmpint (code, ==, STUN_ERROR_BAD_REQUEST);
  g_assert_cmpuint (fixture_stats (f).errors_answered, ==, 1);
}

static void
check_rfc5780_refused (Fixture *f, const gchar *primary_ip, guint16 primary_port,
                       const gchar *alternate_ip, guint16 alternate_port)
{
  g_autoptr(GInetSocketAddress) primary = address_new (primary_ip, primary_port);
  g_autoptr(GInetSocketAddress) alternate = address_new (alternate_ip, alternate_port);
  g_autoptr(GError) error = NULL;

  g_assert_false (icecam_stun_responder_listen_rfc5780 (f->responder, primary, alternate,
                                                        &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_cmpuint (icecam_stun_responder_get_port (f->responder), ==, 0);
}

static void
test_rfc5780_bad_addresses (Fixture *f, gconstpointer data)
{
  check_rfc5780_refused (f, "127.0.0.1", 0, "127.0.0.1", 0);
  check_rfc5780_refused (f, "127.0.0.1", 0, "::1", 0);
  check_rfc5780_refused (f, "0.0.0.0", 0, "127.0.0.2", 0);
  check_rfc5780_refused (f, "127.0.0.1", 40000, "127.0.0.2", 40000);
  /* A refused configuration leaves the responder free to listen. */
  fixture_listen (f, "127.0.0.1");
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static void
test_listen_address_in_use (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GInetSocketAddress) taken = NULL;

  fixture_open_client (f, "127.0.0.1");
  taken = G_INET_SOCKET_ADDRESS (g_socket_get_local_address (f->client, NULL));
  g_assert_false (icecam_stun_responder_listen (f->responder, taken, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_cmpuint (icecam_stun_responder_get_port (f->responder), ==, 0);
}

static void
test_dispose_closes (Fixture *f, gconstpointer data)
{
  g_autoptr(GInetSocketAddress) bound = NULL;
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GError) error = NULL;

  fixture_listen (f, "127.0.0.1");
  bound = icecam_stun_responder_get_local_address (f->responder, FALSE, FALSE);
  g_object_run_dispose (G_OBJECT (f->responder));
  g_assert_cmpuint (icecam_stun_responder_get_port (f->responder), ==, 0);

  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                         &error);
  g_assert_no_error (error);
  g_assert_true (g_socket_bind (socket, G_SOCKET_ADDRESS (bound), FALSE, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("/stun-responder/bind/rfc5389-ipv4", test_bind_rfc5389_ipv4);
  ADD ("/stun-responder/bind/rfc5389-ipv6", test_bind_rfc5389_ipv6);
  ADD ("/stun-responder/bind/rfc3489", test_bind_rfc3489);
  ADD ("/stun-responder/bind/dual-stack", test_bind_dual_stack);
  ADD ("/stun-responder/ignore/malformed", test_ignore_malformed);
  ADD ("/stun-responder/ignore/random", test_ignore_random);
  ADD ("/stun-responder/error/unknown-attribute", test_error_unknown_attribute);
  ADD ("/stun-responder/libnice/gather", test_libnice_gather);
  ADD ("/stun-responder/rfc5780/change-request", test_rfc5780_change_request);
  ADD ("/stun-responder/rfc5780/rfc3489-client", test_rfc5780_rfc3489_client);
  ADD ("/stun-responder/rfc5780/bad-change-request", test_rfc5780_bad_change_request);
  ADD ("/stun-responder/rfc5780/bad-addresses", test_rfc5780_bad_addresses);
  ADD ("/stun-responder/listen/address-in-use", test_listen_address_in_use);
  ADD ("/stun-responder/lifecycle/dispose-closes", test_dispose_closes);

#undef ADD

  return g_test_run ();
}
