/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* RFC 5780 NAT behaviour discovery over GSocket UDP, with the icecam-stun-message codec. */

#include "icecam-nat-probe.h"

#include <string.h>

#include "icecam-nat-lifetime.h"
#include "icecam-nat-ports.h"
#include "icecam-stun-client.h"

/**
 * SECTION:icecam-nat-probe
 * @title: IcecamNatProbe
 * @short_description: what NAT this host is behind, asked of a STUN server
 *
 * Runs the RFC 5780 tests against one STUN server and returns an #IcecamNatVerdict:
 *
 * 1. a Binding request to the server's primary address: no answer means UDP is blocked (or
 *    the server is down); the mapped address tells whether there is a NAT at all, and the
 *    answer's OTHER-ADDRESS whether the server does RFC 5780;
 * 2. with RFC 5780, in parallel: mapping (the same socket asks the alternate IP, then the
 *    alternate IP and port, and the mapped addresses are compared; where they all differ, a
 *    fourth request to the primary IP at the alternate port gives a third new mapping, and the
 *    steps between the mapped ports tell a sequential allocator from a random one,
 *    icecam_nat_ports_classify()); filtering (two fresh
 *    sockets each ask the primary address to answer from the other IP and port, and from the
 *    other port only: a socket that already talked to the alternate address would let its
 *    answers in and make a restricted NAT look open); hairpinning (a fresh socket sends to the
 *    first socket's mapped address);
 * 3. when asked, the mapping lifetime (RFC 5780 section 4.6): fresh sockets each create a
 *    mapping, stay idle for a chosen time, then a second socket asks the server to answer to
 *    that mapping (RESPONSE-PORT); all waits run in parallel, so the test takes as long as
 *    the longest wait it needs.
 *
 * Every request is retransmitted after 100, 200, 400, 800 ms... until the test's time budget
 * (3 s unless set) runs out (#IcecamStunClient); a test without an answer by then has its
 * answer ("filtered", "no hairpinning") or is unknown, never hangs. A server without RFC 5780
 * still gives the mapped address; the rest is unknown, and the verdict's notes say why.
 *
 * Threading: the probe runs in the #GMainContext that is thread-default when
 * icecam_nat_probe_run_async() is called, which must be iterated; the callback runs there, in
 * an iteration of its own. A probe runs once. It emits no signals.
 */

typedef enum {
  STATE_NEW,
  STATE_RESOLVING,
  STATE_BINDING,
  STATE_BEHAVIOUR,
  STATE_LIFETIME,
  STATE_DONE,
} IcecamNatProbeState;

typedef enum {
  CHANGE_RESULT_PENDING,
  CHANGE_RESULT_PASSED,
  CHANGE_RESULT_FILTERED,
  CHANGE_RESULT_UNSUPPORTED,
} ChangeResult;

struct _IcecamNatProbe {
  GObject parent_instance;

  GSocketConnectable *server_connectable;
  GInetAddress *wanted_local_ip;
  guint timeout_ms;
  gboolean measure_lifetime;
  guint max_lifetime_s;

  IcecamNatProbeState state;
  gchar *log_id;
  GMainContext *context;
  GTask *task;
  GSource *cancel_source;
  GSocketAddressEnumerator *enumerator;
  gint64 started_us;
  IcecamNatVerdict *verdict;

  GInetSocketAddress *primary;
  GInetAddress *local_ip;
  IcecamStunClient *client;
  IcecamStunClientSocket *test_socket;
  guint n_running;

  IcecamStunAddress mapped[4]; /* tests I, II, III, IV on the test socket */
  guint n_mapped;
  IcecamStunAddress other;
  ChangeResult change_ip_port;
  ChangeResult change_port;

  IcecamNatLifetime *lifetime;
};

G_DEFINE_FINAL_TYPE (IcecamNatProbe, icecam_nat_probe, G_TYPE_OBJECT)
G_DEFINE_QUARK (icecam-nat-probe-error-quark, icecam_nat_probe_error)

static void finish (IcecamNatProbe *self, GError *error);
static void start_behaviour (IcecamNatProbe *self);
static void start_lifetime (IcecamNatProbe *self);

static void
set_state (IcecamNatProbe *self, IcecamNatProbeState state)
{
  static const gchar *const names[] = { "new", "resolving", "binding", "behaviour", "lifetime",
                                        "done" };

  if (self->state == state)
    return;
  g_return_if_fail (state > self->state);
  g_debug ("%s: %s -> %s", self->log_id, names[self->state], names[state]);
  self->state = state;
}

/* ---- addresses ------------------------------------------------------------------------ */

static gboolean
stun_address_equal (const IcecamStunAddress *a, const IcecamStunAddress *b)
{
  gsize size = a->family == ICECAM_STUN_FAMILY_IPV6 ? 16 : 4;

  return a->family == b->family && a->port == b->port && memcmp (a->address, b->address, size) == 0;
}

static gboolean
stun_address_same_ip (const IcecamStunAddress *a, const IcecamStunAddress *b)
{
  gsize size = a->family == ICECAM_STUN_FAMILY_IPV6 ? 16 : 4;

  return a->family == b->family && memcmp (a->address, b->address, size) == 0;
}

static gchar *
address_to_string (GInetSocketAddress *address)
{
  return g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (address));
}

static gchar *
stun_address_to_string (const IcecamStunAddress *address)
{
  g_autoptr (GInetSocketAddress) socket_address = icecam_stun_address_to_socket_address (address);

  return address_to_string (socket_address);
}

/* ---- sockets and transactions: IcecamStunClient ---------------------------------------- */

/* Opens a socket or ends the probe with the error; NULL then. */
static IcecamStunClientSocket *
open_socket_or_finish (IcecamNatProbe *self, const gchar *role)
{
  g_autoptr (GError) error = NULL;
  IcecamStunClientSocket *sock = icecam_stun_client_open_socket (self->client, role, &error);

  if (sock == NULL) {
    g_autofree gchar *ip = g_inet_address_to_string (self->local_ip);

    finish (self, g_error_new (ICECAM_NAT_PROBE_ERROR, ICECAM_NAT_PROBE_ERROR_SOCKET,
                               "Cannot open a UDP socket on %s: %s", ip, error->message));
  }
  return sock;
}

/* Sends a Binding request; @done gets the probe. */
static IcecamStunTransaction *
send_request (IcecamNatProbe *self, const gchar *what, IcecamStunClientSocket *from,
              GInetSocketAddress *to, IcecamStunTransactionFunc done, gpointer data,
              guint32 change_flags)
{
  IcecamStunTransaction *t = icecam_stun_transaction_new (self->client, what, from, to, done,
                                                          self);

  t->data = data;
  icecam_stun_transaction_start (t, change_flags, 0);
  return t;
}

/* The mapped address of a success answer, or NULL. */
static const IcecamStunAddress *
answer_mapped_address (IcecamStunTransaction *t)
{
  if (!t->answered || t->response.is_error || !t->response.has_mapped_address)
    return NULL;
  return &t->response.mapped_address;
}

/* ---- the tests ------------------------------------------------------------------------ */

/* Called as the last thing a behaviour test does: the next phase may end the probe. */
static void
test_finished (IcecamNatProbe *self)
{
  g_return_if_fail (self->n_running > 0);

  if (--self->n_running > 0)
    return;
  if (self->measure_lifetime && self->verdict->rfc5780)
    start_lifetime (self);
  else
    finish (self, NULL);
}

static GInetSocketAddress *
other_address (IcecamNatProbe *self, gboolean keep_primary_port)
{
  IcecamStunAddress address = self->other;

  if (keep_primary_port)
    address.port = g_inet_socket_address_get_port (self->primary);
  return icecam_stun_address_to_socket_address (&address);
}

/* The port allocation from the mappings of the test socket so far (in the order made). */
static void
classify_ports (IcecamNatProbe *self)
{
  guint16 ports[G_N_ELEMENTS (self->mapped)];

  for (guint i = 0; i < self->n_mapped; i++)
    ports[i] = self->mapped[i].port;
  self->verdict->port_allocation = icecam_nat_ports_classify (ports, self->n_mapped,
                                                              &self->verdict->port_delta,
                                                              &self->verdict->port_spread);
  g_debug ("%s: %u mapped ports, allocation %s, step %d, spread %u", self->log_id,
           self->n_mapped, icecam_nat_port_allocation_to_string (self->verdict->port_allocation),
           self->verdict->port_delta, self->verdict->port_spread);
}

/* Test IV (not in RFC 5780): a fourth destination, the primary IP at the other port, gives a
 * symmetric NAT's third new mapping, so its port steps can be told sequential or random. */
static void
mapping_test_4_done (IcecamStunTransaction *t, gpointer user_data)
{
  IcecamNatProbe *self = user_data;
  const IcecamStunAddress *mapped = answer_mapped_address (t);

  if (mapped == NULL)
    icecam_nat_verdict_add_note (self->verdict, "ports: no answer from the server's primary "
                                 "address at its other port");
  else
    self->mapped[self->n_mapped++] = *mapped;
  classify_ports (self);
  test_finished (self);
}

static void
mapping_test_3_done (IcecamStunTransaction *t, gpointer user_data)
{
  IcecamNatProbe *self = user_data;
  const IcecamStunAddress *mapped = answer_mapped_address (t);
  IcecamStunAddress to_address;
  g_autoptr (GInetSocketAddress) to = NULL;

  if (mapped == NULL) {
    icecam_nat_verdict_add_note (self->verdict, "mapping: no answer from the server's other "
                                 "address and port");
    classify_ports (self);
    test_finished (self);
    return;
  }
  self->mapped[self->n_mapped++] = *mapped;
  self->verdict->mapping = stun_address_equal (&self->mapped[1], &self->mapped[2]) ?
                           ICECAM_NAT_BEHAVIOUR_ADDRESS_DEPENDENT :
                           ICECAM_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT;
  icecam_stun_address_from_socket_address (self->primary, &to_address);
  to_address.port = self->other.port;
  to = icecam_stun_address_to_socket_address (&to_address);
  send_request (self, "mapping test IV (primary address, other port)", self->test_socket, to,
                mapping_test_4_done, NULL, 0);
}

static void
mapping_test_2_done (IcecamStunTransaction *t, gpointer user_data)
{
  IcecamNatProbe *self = user_data;
  const IcecamStunAddress *mapped = answer_mapped_address (t);
  g_autoptr (GInetSocketAddress) to = NULL;

  if (mapped == NULL) {
    icecam_nat_verdict_add_note (self->verdict, "mapping: no answer from the server's other "
                                 "address");
    test_finished (self);
    return;
  }
  self->mapped[self->n_mapped++] = *mapped;
  if (stun_address_equal (&self->mapped[0], &self->mapped[1])) {
    self->verdict->mapping = ICECAM_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT;
    classify_ports (self);
    test_finished (self);
    return;
  }
  to = other_address (self, FALSE);
  send_request (self, "mapping test III (other address and port)", self->test_socket, to,
                mapping_test_3_done, NULL, 0);
}

/* Whether the answer came from where the CHANGE-REQUEST asked: the server may ignore it. */
static ChangeResult
change_result (IcecamNatProbe *self, IcecamStunTransaction *t, gboolean change_ip)
{
  IcecamStunAddress primary;
  IcecamStunAddress from;

  if (!t->answered)
    return CHANGE_RESULT_FILTERED;
  if (t->response.is_error) {
    icecam_nat_verdict_add_note (self->verdict, "filtering: the server refused CHANGE-REQUEST "
                                 "(error %u)", t->response.error_code);
    return CHANGE_RESULT_UNSUPPORTED;
  }
  icecam_stun_address_from_socket_address (self->primary, &primary);
  icecam_stun_address_from_socket_address (t->answer_from, &from);
  if (from.port == primary.port || stun_address_same_ip (&from, &primary) == change_ip) {
    g_autofree gchar *text = stun_address_to_string (&from);

    icecam_nat_verdict_add_note (self->verdict, "filtering: the server answered a "
                                 "CHANGE-REQUEST from %s, not from a changed address", text);
    return CHANGE_RESULT_UNSUPPORTED;
  }
  return CHANGE_RESULT_PASSED;
}

static void
filtering_test_done (IcecamStunTransaction *t, gpointer user_data)
{
  IcecamNatProbe *self = user_data;
  gboolean change_ip = GPOINTER_TO_INT (t->data);

  if (change_ip)
    self->change_ip_port = change_result (self, t, TRUE);
  else
    self->change_port = change_result (self, t, FALSE);
  if (self->change_ip_port == CHANGE_RESULT_PENDING || self->change_port == CHANGE_RESULT_PENDING) {
    test_finished (self);
    return;
  }

  if (self->change_ip_port == CHANGE_RESULT_PASSED)
    self->verdict->filtering = ICECAM_NAT_BEHAVIOUR_ENDPOINT_INDEPENDENT;
  else if (self->change_ip_port == CHANGE_RESULT_UNSUPPORTED ||
           self->change_port == CHANGE_RESULT_UNSUPPORTED)
    self->verdict->filtering = ICECAM_NAT_BEHAVIOUR_UNKNOWN;
  else if (self->change_port == CHANGE_RESULT_PASSED)
    self->verdict->filtering = ICECAM_NAT_BEHAVIOUR_ADDRESS_DEPENDENT;
  else
    self->verdict->filtering = ICECAM_NAT_BEHAVIOUR_ADDRESS_AND_PORT_DEPENDENT;
  test_finished (self);
}

static void
hairpin_test_done (IcecamStunTransaction *t, gpointer user_data)
{
  IcecamNatProbe *self = user_data;

  self->verdict->hairpinning = t->answered ? ICECAM_NAT_ANSWER_YES : ICECAM_NAT_ANSWER_NO;
  test_finished (self);
}

/* Each filtering test runs from its own fresh socket that never talked to anything else. */
static gboolean
start_filtering_test (IcecamNatProbe *self, const gchar *role, const gchar *what,
                      guint32 change_flags)
{
  IcecamStunClientSocket *sock = open_socket_or_finish (self, role);

  if (sock == NULL)
    return FALSE;
  self->n_running++;
  send_request (self, what, sock, self->primary, filtering_test_done,
                GINT_TO_POINTER ((change_flags & ICECAM_STUN_CHANGE_IP) != 0), change_flags);
  return TRUE;
}

static void
start_behaviour (IcecamNatProbe *self)
{
  g_autoptr (GInetSocketAddress) mapped = icecam_stun_address_to_socket_address (&self->mapped[0]);
  IcecamStunClientSocket *hairpin_socket;
  IcecamStunTransaction *t;

  set_state (self, STATE_BEHAVIOUR);
  /* Holds the phase open until every test has started. */
  self->n_running = 1;

  if (self->verdict->rfc5780) {
    g_autoptr (GInetSocketAddress) to = other_address (self, TRUE);

    self->n_running++;
    send_request (self, "mapping test II (other address)", self->test_socket, to,
                  mapping_test_2_done, NULL, 0);
    if (!start_filtering_test (self, "filtering-ip-port", "filtering test II (change IP and port)",
                               ICECAM_STUN_CHANGE_IP | ICECAM_STUN_CHANGE_PORT) ||
        !start_filtering_test (self, "filtering-port", "filtering test III (change port)",
                               ICECAM_STUN_CHANGE_PORT))
      return;
  }

  hairpin_socket = open_socket_or_finish (self, "hairpin");
  if (hairpin_socket == NULL)
    return;
  t = icecam_stun_transaction_new (self->client, "hairpinning test", hairpin_socket, mapped,
                                   hairpin_test_done, self);
  icecam_stun_transaction_expect_on (t, self->test_socket, TRUE);
  self->n_running++;
  icecam_stun_transaction_start (t, 0, 0);

  test_finished (self);
}

/* ---- mapping lifetime (icecam-nat-lifetime.c) ---------------------------------------- */

static void
lifetime_done (IcecamNatLifetime *lifetime, const GError *error, gpointer user_data)
{
  IcecamNatProbe *self = user_data;

  if (error != NULL)
    finish (self, g_error_new (ICECAM_NAT_PROBE_ERROR, ICECAM_NAT_PROBE_ERROR_SOCKET,
                               "Cannot open a UDP socket for the lifetime test: %s",
                               error->message));
  else
    finish (self, NULL);
}

static void
start_lifetime (IcecamNatProbe *self)
{
  set_state (self, STATE_LIFETIME);
  self->lifetime = icecam_nat_lifetime_new (self->client, self->primary, self->max_lifetime_s,
                                            self->verdict, lifetime_done, self);
  icecam_nat_lifetime_start (self->lifetime);
}

/* ---- test I: is the server there, is there a NAT, does it do RFC 5780 ------------------ */

static void
binding_test_done (IcecamStunTransaction *t, gpointer user_data)
{
  IcecamNatProbe *self = user_data;
  IcecamNatVerdict *verdict = self->verdict;
  IcecamStunAddress local;
  IcecamStunAddress primary;

  if (!t->answered) {
    g_autofree gchar *server = address_to_string (self->primary);

    icecam_nat_verdict_add_note (verdict, "no answer from %s within %u ms: UDP is blocked on "
                                 "the way or the server is down", server, self->timeout_ms);
    finish (self, NULL);
    return;
  }
  verdict->server_reached = TRUE;
  if (answer_mapped_address (t) == NULL) {
    icecam_nat_verdict_add_note (verdict, t->response.is_error ?
                                 "the server answered with an error" :
                                 "the server's answer has no mapped address");
    finish (self, NULL);
    return;
  }

  self->mapped[0] = t->response.mapped_address;
  self->n_mapped = 1;
  verdict->mapped_address = icecam_stun_address_to_socket_address (&self->mapped[0]);
  icecam_stun_address_from_socket_address (
    icecam_stun_client_socket_get_local_address (self->test_socket), &local);
  verdict->nat_present = stun_address_equal (&local, &self->mapped[0]) ? ICECAM_NAT_ANSWER_NO :
                                                                        ICECAM_NAT_ANSWER_YES;

  icecam_stun_address_from_socket_address (self->primary, &primary);
  if (!t->response.has_other_address) {
    icecam_nat_verdict_add_note (verdict, "the server does not do RFC 5780 (no OTHER-ADDRESS): "
                                 "mapping and filtering unknown");
  } else if (t->response.other_address.family != primary.family ||
             stun_address_same_ip (&t->response.other_address, &primary) ||
             t->response.other_address.port == primary.port) {
    icecam_nat_verdict_add_note (verdict, "the server's OTHER-ADDRESS does not differ from its "
                                 "address in both IP and port: mapping and filtering unknown");
  } else {
    verdict->rfc5780 = TRUE;
    self->other = t->response.other_address;
    verdict->other_address = icecam_stun_address_to_socket_address (&self->other);
  }
  if (self->measure_lifetime && !verdict->rfc5780)
    icecam_nat_verdict_add_note (verdict, "lifetime: needs an RFC 5780 server (RESPONSE-PORT)");
  start_behaviour (self);
}

/* The local address packets to the server leave from: connecting a UDP socket sends
 * nothing, it only asks the routing table. */
static GInetAddress *
route_source_address (GInetSocketAddress *server, GError **error)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) local = NULL;

  socket = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (server)),
                         G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (socket == NULL || !g_socket_connect (socket, G_SOCKET_ADDRESS (server), NULL, error))
    return NULL;
  local = g_socket_get_local_address (socket, error);
  if (local == NULL)
    return NULL;
  return g_object_ref (g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local)));
}

static void
start_binding (IcecamNatProbe *self)
{
  g_autoptr (GError) error = NULL;

  set_state (self, STATE_BINDING);
  if (self->wanted_local_ip != NULL)
    self->local_ip = g_object_ref (self->wanted_local_ip);
  else
    self->local_ip = route_source_address (self->primary, &error);
  if (self->local_ip == NULL) {
    g_autofree gchar *server = address_to_string (self->primary);

    finish (self, g_error_new (ICECAM_NAT_PROBE_ERROR, ICECAM_NAT_PROBE_ERROR_SOCKET,
                               "No local address towards %s: %s", server, error->message));
    return;
  }
  self->client = icecam_stun_client_new (self->local_ip, self->timeout_ms, self->log_id);
  self->test_socket = open_socket_or_finish (self, "test");
  if (self->test_socket == NULL)
    return;
  self->verdict->local_address =
    g_object_ref (icecam_stun_client_socket_get_local_address (self->test_socket));
  send_request (self, "test I (primary address)", self->test_socket, self->primary,
                binding_test_done, NULL, 0);
}

/* ---- resolving the server ------------------------------------------------------------- */

static gboolean
family_fits (IcecamNatProbe *self, GSocketAddress *address)
{
  return G_IS_INET_SOCKET_ADDRESS (address) &&
         (self->wanted_local_ip == NULL ||
          g_socket_address_get_family (address) ==
          g_inet_address_get_family (self->wanted_local_ip));
}

static void
resolve_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (IcecamNatProbe) self = user_data;
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *primary = NULL;

  address = g_socket_address_enumerator_next_finish (G_SOCKET_ADDRESS_ENUMERATOR (source),
                                                     result, &error);
  if (self->state == STATE_DONE)
    return;
  if (address == NULL) {
    g_autofree gchar *name = g_socket_connectable_to_string (self->server_connectable);

    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      finish (self, g_steal_pointer (&error));
    else
      finish (self, g_error_new (ICECAM_NAT_PROBE_ERROR, ICECAM_NAT_PROBE_ERROR_RESOLVE,
                                 "Cannot resolve %s: %s", name,
                                 error != NULL ? error->message :
                                 "no address of the local address's family"));
    return;
  }
  if (!family_fits (self, address)) {
    g_socket_address_enumerator_next_async (self->enumerator, g_task_get_cancellable (self->task),
                                            resolve_cb, g_object_ref (self));
    return;
  }
  self->primary = G_INET_SOCKET_ADDRESS (g_steal_pointer (&address));
  self->verdict->server = g_object_ref (self->primary);
  primary = address_to_string (self->primary);
  g_free (self->log_id);
  self->log_id = g_strdup_printf ("nat-probe %s", primary);
  start_binding (self);
}

/* ---- running and finishing ------------------------------------------------------------ */

static void
release_resources (IcecamNatProbe *self)
{
  g_clear_pointer (&self->lifetime, icecam_nat_lifetime_free);
  if (self->client != NULL)
    icecam_stun_client_close (self->client);
  g_clear_object (&self->client);
  self->test_socket = NULL;
  if (self->cancel_source != NULL) {
    g_source_destroy (self->cancel_source);
    g_clear_pointer (&self->cancel_source, g_source_unref);
  }
  g_clear_object (&self->enumerator);
}

typedef struct {
  GTask *task;
  IcecamNatVerdict *verdict;
  GError *error;
} Outcome;

static gboolean
deliver_outcome (gpointer user_data)
{
  Outcome *outcome = user_data;

  if (outcome->error != NULL)
    g_task_return_error (outcome->task, outcome->error);
  else
    g_task_return_pointer (outcome->task, outcome->verdict,
                           (GDestroyNotify) icecam_nat_verdict_free);
  g_object_unref (outcome->task);
  g_free (outcome);
  return G_SOURCE_REMOVE;
}

/* Ends the run with @error (taken) or, if %NULL, the verdict; nothing of the run stays
 * attached to the context afterwards. The result is delivered from an idle source: the
 * caller's callback may drop the probe, which must not happen under the probe's own feet. */
static void
finish (IcecamNatProbe *self, GError *error)
{
  Outcome *outcome;
  GSource *idle;

  if (self->state == STATE_DONE) {
    g_clear_error (&error);
    return;
  }
  set_state (self, STATE_DONE);
  release_resources (self);
  outcome = g_new0 (Outcome, 1);
  outcome->task = g_steal_pointer (&self->task);
  outcome->verdict = g_steal_pointer (&self->verdict);
  outcome->error = error;
  outcome->verdict->elapsed_ms = (guint64) (g_get_monotonic_time () - self->started_us) / 1000;
  if (error != NULL) {
    g_debug ("%s: failed: %s", self->log_id, error->message);
    g_clear_pointer (&outcome->verdict, icecam_nat_verdict_free);
  } else {
    g_debug ("%s: %s after %" G_GUINT64_FORMAT " ms", self->log_id,
             icecam_nat_type_to_string (icecam_nat_verdict_get_nat_type (outcome->verdict)),
             outcome->verdict->elapsed_ms);
  }
  idle = g_idle_source_new ();
  g_source_set_callback (idle, deliver_outcome, outcome, NULL);
  g_source_set_static_name (idle, "icecam-nat-probe-result");
  g_source_attach (idle, self->context);
  g_source_unref (idle);
}

static gboolean
on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  g_autoptr (IcecamNatProbe) self = g_object_ref (user_data);

  finish (self, g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "NAT probe cancelled"));
  return G_SOURCE_REMOVE;
}

/**
 * icecam_nat_probe_parse_server:
 * @url: "stun:HOST[:PORT]" (port 3478 if left out), or the rendezvous "ws://HOST:PORT" (or
 *   wss), whose STUN responder answers on UDP at the same port number
 * @error: return location for %ICECAM_NAT_PROBE_ERROR_BAD_URL
 *
 * Returns: (transfer full): the STUN server to probe with, not resolved yet, or %NULL
 */
GSocketConnectable *
icecam_nat_probe_parse_server (const gchar *url, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  GSocketConnectable *server = NULL;

  g_return_val_if_fail (url != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (g_str_has_prefix (url, "stun:")) {
    const gchar *rest = url + strlen ("stun:");

    if (g_str_has_prefix (rest, "//"))
      rest += 2;
    if (*rest != '\0' && strpbrk (rest, "/?@") == NULL)
      server = g_network_address_parse (rest, ICECAM_NAT_PROBE_DEFAULT_PORT, &local_error);
  } else if (g_str_has_prefix (url, "ws://") || g_str_has_prefix (url, "wss://")) {
    g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, &local_error);

    if (uri != NULL && g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0') {
      gint port = g_uri_get_port (uri);

      if (port < 0)
        port = g_str_equal (g_uri_get_scheme (uri), "wss") ? 443 : 80;
      server = g_network_address_new (g_uri_get_host (uri), (guint16) port);
    }
  }
  if (server == NULL) {
    g_set_error (error, ICECAM_NAT_PROBE_ERROR, ICECAM_NAT_PROBE_ERROR_BAD_URL,
                 "'%s' is not stun:HOST[:PORT] or ws://HOST:PORT%s%s", url,
                 local_error != NULL ? ": " : "",
                 local_error != NULL ? local_error->message : "");
    return NULL;
  }
  return server;
}

/**
 * icecam_nat_probe_new:
 * @server: the STUN server, e.g. from icecam_nat_probe_parse_server(); resolved when the
 *   probe runs
 *
 * Returns: (transfer full): a probe with the default timeout that does not measure the
 *   mapping lifetime
 */
IcecamNatProbe *
icecam_nat_probe_new (GSocketConnectable *server)
{
  IcecamNatProbe *self;

  g_return_val_if_fail (G_IS_SOCKET_CONNECTABLE (server), NULL);

  self = g_object_new (ICECAM_TYPE_NAT_PROBE, NULL);
  self->server_connectable = g_object_ref (server);
  return self;
}

/**
 * icecam_nat_probe_set_local_address:
 * @self: a probe that has not run
 * @address: (nullable): the local IP address to send from; %NULL (the default) for the one the
 *   routing table picks towards the server
 */
void
icecam_nat_probe_set_local_address (IcecamNatProbe *self, GInetAddress *address)
{
  g_return_if_fail (ICECAM_IS_NAT_PROBE (self));
  g_return_if_fail (self->state == STATE_NEW);

  g_set_object (&self->wanted_local_ip, address);
}

/**
 * icecam_nat_probe_set_timeout:
 * @self: a probe that has not run
 * @timeout_ms: how long each test waits for its answer, retransmissions included; at least
 *   100 (default %ICECAM_NAT_PROBE_DEFAULT_TIMEOUT_MS)
 *
 * Also decides how long a filtered answer or a blocked server takes to be concluded.
 */
void
icecam_nat_probe_set_timeout (IcecamNatProbe *self, guint timeout_ms)
{
  g_return_if_fail (ICECAM_IS_NAT_PROBE (self));
  g_return_if_fail (self->state == STATE_NEW);

  self->timeout_ms = MAX (timeout_ms, 100);
}

/**
 * icecam_nat_probe_set_lifetime:
 * @self: a probe that has not run
 * @measure: whether to measure how long an idle mapping lives (default %FALSE)
 * @max_s: the longest idle time to try (default %ICECAM_NAT_PROBE_DEFAULT_MAX_LIFETIME_S); the
 *   probe takes about that long more
 */
void
icecam_nat_probe_set_lifetime (IcecamNatProbe *self, gboolean measure, guint max_s)
{
  g_return_if_fail (ICECAM_IS_NAT_PROBE (self));
  g_return_if_fail (self->state == STATE_NEW);

  self->measure_lifetime = measure;
  self->max_lifetime_s = max_s;
}

/**
 * icecam_nat_probe_run_async:
 * @self: a probe that has not run
 * @cancellable: (nullable): stops the probe; it then fails with %G_IO_ERROR_CANCELLED
 * @callback: called in the thread-default #GMainContext of the caller when done
 * @user_data: for @callback
 *
 * Runs every test. Without an answer from the server this takes the timeout, and about the
 * same when there is a NAT that filters; the lifetime test adds its longest wait.
 */
void
icecam_nat_probe_run_async (IcecamNatProbe *self, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (ICECAM_IS_NAT_PROBE (self));
  g_return_if_fail (self->state == STATE_NEW);

  self->context = g_main_context_ref_thread_default ();
  self->task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (self->task, icecam_nat_probe_run_async);
  self->started_us = g_get_monotonic_time ();
  self->verdict = icecam_nat_verdict_new ();
  set_state (self, STATE_RESOLVING);

  if (cancellable != NULL) {
    self->cancel_source = g_cancellable_source_new (cancellable);
    g_source_set_callback (self->cancel_source, G_SOURCE_FUNC (on_cancelled), self, NULL);
    g_source_attach (self->cancel_source, self->context);
  }
  self->enumerator = g_socket_connectable_enumerate (self->server_connectable);
  g_socket_address_enumerator_next_async (self->enumerator, cancellable, resolve_cb,
                                          g_object_ref (self));
}

/**
 * icecam_nat_probe_run_finish:
 * @self: the probe
 * @result: the result given to the callback
 * @error: return location for an %ICECAM_NAT_PROBE_ERROR or %G_IO_ERROR_CANCELLED
 *
 * Returns: (transfer full): the verdict, or %NULL with @error set if the probe could not run
 */
IcecamNatVerdict *
icecam_nat_probe_run_finish (IcecamNatProbe *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
icecam_nat_probe_dispose (GObject *object)
{
  IcecamNatProbe *self = ICECAM_NAT_PROBE (object);

  release_resources (self);

  G_OBJECT_CLASS (icecam_nat_probe_parent_class)->dispose (object);
}

static void
icecam_nat_probe_finalize (GObject *object)
{
  IcecamNatProbe *self = ICECAM_NAT_PROBE (object);

  g_clear_pointer (&self->verdict, icecam_nat_verdict_free);
  g_clear_object (&self->server_connectable);
  g_clear_object (&self->wanted_local_ip);
  g_clear_object (&self->primary);
  g_clear_object (&self->local_ip);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->log_id);

  G_OBJECT_CLASS (icecam_nat_probe_parent_class)->finalize (object);
}

static void
icecam_nat_probe_class_init (IcecamNatProbeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = icecam_nat_probe_dispose;
  object_class->finalize = icecam_nat_probe_finalize;
}

static void
icecam_nat_probe_init (IcecamNatProbe *self)
{
  self->timeout_ms = ICECAM_NAT_PROBE_DEFAULT_TIMEOUT_MS;
  self->max_lifetime_s = ICECAM_NAT_PROBE_DEFAULT_MAX_LIFETIME_S;
  self->log_id = g_strdup ("nat-probe");
}
