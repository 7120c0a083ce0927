/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* mDNS names of a browser's host candidates: the query and answer formats (bytes in), and two
 * IcecamIceSessions on loopback where the controlled side's host candidate is given as a
 * `<uuid>.local` name: resolved by a responder the test runs on loopback multicast (a host
 * pair), or not resolved (no error; the pair is peer-reflexive). Nothing leaves 127.0.0.1:
 * the lookups ask on the interface of the pinned loopback address. */

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "icecam-ice-session.h"
#include "icecam-mdns.h"
#include "icecam-test-util.h"

#define NAME "1f0e2d3c-4b5a-6978-8796-a5b4c3d2e1f0.local"

/* ---- formats ---------------------------------------------------------------------------- */

static void
test_names (void)
{
  g_assert_true (icecam_mdns_is_local_name (NAME));
  g_assert_true (icecam_mdns_is_local_name ("camera-2.LOCAL"));
  g_assert_false (icecam_mdns_is_local_name ("127.0.0.1"));
  g_assert_false (icecam_mdns_is_local_name ("a.b.local"));
  g_assert_false (icecam_mdns_is_local_name (".local"));
  g_assert_false (icecam_mdns_is_local_name ("x_y.local"));
  g_assert_false (icecam_mdns_is_local_name ("example.com"));
}

static void
test_candidates (void)
{
  const gchar *hidden = "candidate:1 1 udp 2122260223 " NAME " 54321 typ host generation 0";
  g_autofree gchar *name = icecam_mdns_candidate_name (hidden);
  g_autofree gchar *plain = icecam_mdns_candidate_name (
      "candidate:1 1 udp 2122260223 198.51.100.4 54321 typ host");
  g_autofree gchar *resolved = icecam_mdns_candidate_with_address (hidden, "198.51.100.4");

  g_assert_cmpstr (name, ==, NAME);
  g_assert_null (plain);
  g_assert_cmpstr (resolved, ==,
                   "candidate:1 1 udp 2122260223 198.51.100.4 54321 typ host generation 0");
}

static void
test_query (void)
{
  g_autoptr (GBytes) query = icecam_mdns_build_query ("ab.local", 0, TRUE);
  g_autoptr (GBytes) repeat = icecam_mdns_build_query ("ab.local", 0, FALSE);
  g_autoptr (GBytes) bad = icecam_mdns_build_query ("a..local", 0, FALSE);
  guint8 expected[] = { 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                        2, 'a', 'b', 5, 'l', 'o', 'c', 'a', 'l', 0,
                        0, 1, 0x80, 1 }; /* A, IN with the QU bit */
  gsize size;
  const guint8 *data = g_bytes_get_data (query, &size);

  g_assert_cmpmem (data, size, expected, sizeof expected);
  expected[24] = 0; /* no QU bit: answered to the group */
  data = g_bytes_get_data (repeat, &size);
  g_assert_cmpmem (data, size, expected, sizeof expected);
  g_assert_null (bad);
}

/* An answer as a responder writes it: the question echoed, then the A record whose owner
 * name is a compression pointer to the question's name (offset 12). */
static gsize
make_answer (guint8 *out, const gchar *name, const guint8 address[4], gboolean pointer)
{
  const guint8 header[12] = { 0, 0, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0 };
  g_auto (GStrv) labels = g_strsplit (name, ".", 8);
  gsize n = 0;

  memcpy (out, header, 12);
  n = 12;
  for (guint i = 0; labels[i] != NULL; i++) {
    out[n++] = (guint8) strlen (labels[i]);
    memcpy (out + n, labels[i], strlen (labels[i]));
    n += strlen (labels[i]);
  }
  out[n++] = 0;
  out[n++] = 0, out[n++] = 1, out[n++] = 0, out[n++] = 1; /* A IN */
  if (pointer) {
    out[n++] = 0xc0, out[n++] = 12;
  } else {
    out[n++] = 0;
  }
  out[n++] = 0, out[n++] = 1, out[n++] = 0x80, out[n++] = 1; /* A, IN with cache-flush */
  out[n++] = 0, out[n++] = 0, out[n++] = 0, out[n++] = 120;  /* TTL */
  out[n++] = 0, out[n++] = 4;
  memcpy (out + n, address, 4);
  return n + 4;
}

static void
test_answer (void)
{
  const guint8 address[4] = { 203, 0, 113, 7 };
  guint8 message[512], got[4] = { 0 };
  gsize n = make_answer (message, NAME, address, TRUE);
  guint8 loop[] = { 0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1,
                    0, 4, 1, 2, 3, 4 };

  g_assert_true (icecam_mdns_parse_answer (message, n, NAME, got));
  g_assert_cmpmem (got, 4, address, 4);
  g_assert_true (icecam_mdns_parse_answer (message, n, "1F0E2D3C-4B5A-6978-8796-A5B4C3D2E1F0.local",
                                           got));
  /* Another name, a query, every truncation: nothing. */
  g_assert_false (icecam_mdns_parse_answer (message, n, "other.local", got));
  message[2] = 0;
  g_assert_false (icecam_mdns_parse_answer (message, n, NAME, got));
  message[2] = 0x84;
  for (gsize cut = 0; cut < n; cut++)
    g_assert_false (icecam_mdns_parse_answer (message, cut, NAME, got));
  /* The record's owner name is the root (no pointer): not the name asked for. */
  n = make_answer (message, NAME, address, FALSE);
  g_assert_false (icecam_mdns_parse_answer (message, n, NAME, got));
  /* A pointer to itself is not followed for ever. */
  g_assert_false (icecam_mdns_parse_answer (loop, sizeof loop, NAME, got));
}

/* ---- a responder on loopback multicast ------------------------------------------------- */

typedef struct {
  GSocket *socket;
  GSource *source;
  guint queries;  /* queries for NAME it received */
} Responder;

static gboolean
on_query (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Responder *r = user_data;
  guint8 buffer[1500], answer[512];
  const guint8 address[4] = { 127, 0, 0, 1 };
  g_autoptr (GSocketAddress) from = NULL;
  g_autoptr (GInetAddress) group = g_inet_address_new_from_string (ICECAM_MDNS_GROUP);
  g_autoptr (GSocketAddress) to = NULL;
  gssize n = g_socket_receive_from (socket, &from, (gchar *) buffer, sizeof buffer, NULL, NULL);
  gsize length;

  /* Only queries (QR clear) for our name; a query starts with the question at offset 12. */
  if (n < 13 || (buffer[2] & 0x80) || buffer[12] != 36 || memcmp (buffer + 13, NAME, 36) != 0)
    return G_SOURCE_CONTINUE;
  r->queries++;
  length = make_answer (answer, NAME, address, TRUE);
  /* RFC 6762 6.7: a query from another port than 5353 is answered to it directly. */
  if (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (from)) != ICECAM_MDNS_PORT)
    to = g_object_ref (from);
  else
    to = g_inet_socket_address_new (group, ICECAM_MDNS_PORT);
  g_socket_send_to (socket, to, (const gchar *) answer, length, NULL, NULL);
  return G_SOURCE_CONTINUE;
}

/* Binds 0.0.0.0:5353 (shared) and joins the group on loopback; FALSE if this host cannot. */
static gboolean
responder_start (Responder *r)
{
  g_autoptr (GSocketAddress) port = g_inet_socket_address_new_from_string ("0.0.0.0",
                                                                          ICECAM_MDNS_PORT);
  struct ip_mreq membership = { 0 };
  struct in_addr loopback = { htonl (INADDR_LOOPBACK) };

  r->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
                            NULL);
  if (r->socket == NULL || !g_socket_bind (r->socket, port, TRUE, NULL))
    return FALSE;
  inet_pton (AF_INET, ICECAM_MDNS_GROUP, &membership.imr_multiaddr);
  membership.imr_interface = loopback;
  if (setsockopt (g_socket_get_fd (r->socket), IPPROTO_IP, IP_ADD_MEMBERSHIP, &membership,
                  sizeof membership) < 0 ||
      setsockopt (g_socket_get_fd (r->socket), IPPROTO_IP, IP_MULTICAST_IF, &loopback,
                  sizeof loopback) < 0)
    return FALSE;
  g_socket_set_multicast_loopback (r->socket, TRUE);
  r->source = g_socket_create_source (r->socket, G_IO_IN, NULL);
  g_source_set_callback (r->source, (GSourceFunc) (void (*) (void)) on_query, r, NULL);
  g_source_attach (r->source, NULL);
  return TRUE;
}

static void
responder_stop (Responder *r)
{
  if (r->source != NULL) {
    g_source_destroy (r->source);
    g_source_unref (r->source);
  }
  g_clear_object (&r->socket);
}

/* ---- two ICE sessions -------------------------------------------------------------------- */

typedef struct {
  IcecamIceSession *a, *b; /* a controls, as the camera; b's candidates reach a as NAME */
  IcecamPairInfo *pair_a;
  guint errors;            /* candidates a refused */
  gboolean gathered_a;
  guint failed_a;          /* times a said FAILED */
  guint closed;
  Responder responder;
} Fixture;

static void
on_candidate_to_b (IcecamIceSession *ice, const gchar *candidate, Fixture *f)
{
  icecam_ice_session_add_remote_candidate (f->b, candidate, NULL);
}

/* What a browser does: its host address hidden behind a name. */
static void
on_candidate_to_a (IcecamIceSession *ice, const gchar *candidate, Fixture *f)
{
  g_auto (GStrv) fields = g_strsplit (candidate, " ", 64);
  g_autofree gchar *hidden = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (fields[4], ==, "127.0.0.1");
  g_free (fields[4]);
  fields[4] = g_strdup (NAME);
  hidden = g_strjoinv (" ", fields);
  if (!icecam_ice_session_add_remote_candidate (f->a, hidden, &error))
    f->errors++;
}

static void
on_pair_a (IcecamIceSession *ice, IcecamPairInfo *info, Fixture *f)
{
  icecam_pair_info_free (f->pair_a);
  f->pair_a = icecam_pair_info_copy (info);
}

static void
ignore_receive (const guint8 *data, gsize length, gpointer user_data)
{
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (IcecamIceConfig) config = icecam_ice_config_new ();
  const gchar *loopback[] = { "127.0.0.1", NULL };
  g_autoptr (GError) error = NULL;

  config->local_addresses = g_strdupv ((gchar **) loopback);
  f->a = icecam_ice_session_new (config, TRUE, &error);
  g_assert_no_error (error);
  f->b = icecam_ice_session_new (config, FALSE, &error);
  g_assert_no_error (error);
  g_signal_connect (f->a, "local-candidate", G_CALLBACK (on_candidate_to_b), f);
  g_signal_connect (f->b, "local-candidate", G_CALLBACK (on_candidate_to_a), f);
  g_signal_connect (f->a, "pair-selected", G_CALLBACK (on_pair_a), f);
  icecam_ice_session_set_receive_func (f->a, ignore_receive, NULL, NULL);
  icecam_ice_session_set_receive_func (f->b, ignore_receive, NULL, NULL);
}

static void
close_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  ((Fixture *) user_data)->closed++;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  icecam_ice_session_close_async (f->a, close_cb, f);
  icecam_ice_session_close_async (f->b, close_cb, f);
  g_assert_true (WAIT_UNTIL (f->closed == 2));
  /* The lookup's reference goes once it has ended (cancelled by close). */
  g_assert_true (WAIT_UNTIL (G_OBJECT (f->a)->ref_count == 1));
  g_assert_finalize_object (f->a);
  g_assert_finalize_object (f->b);
  icecam_pair_info_free (f->pair_a);
  responder_stop (&f->responder);
}

static void
on_gathered_a (IcecamIceSession *ice, Fixture *f)
{
  f->gathered_a = TRUE;
}

/* a gathers first, then b, as a camera whose viewer's candidates come last. */
static void
connect_sessions (Fixture *f)
{
  g_autofree gchar *ufrag_a = NULL, *pwd_a = NULL, *ufrag_b = NULL, *pwd_b = NULL;
  g_autoptr (GError) error = NULL;

  icecam_ice_session_get_local_credentials (f->a, &ufrag_a, &pwd_a);
  icecam_ice_session_get_local_credentials (f->b, &ufrag_b, &pwd_b);
  g_assert_true (icecam_ice_session_set_remote_credentials (f->b, ufrag_a, pwd_a, &error));
  g_assert_true (icecam_ice_session_set_remote_credentials (f->a, ufrag_b, pwd_b, &error));
  g_signal_connect (f->a, "gathering-done", G_CALLBACK (on_gathered_a), f);
  g_assert_true (icecam_ice_session_gather (f->a, &error));
  g_assert_true (WAIT_UNTIL (f->gathered_a));
  g_assert_true (icecam_ice_session_gather (f->b, &error));
  g_assert_no_error (error);
  g_assert_true (WAIT_UNTIL (f->pair_a != NULL &&
                             icecam_ice_session_get_state (f->a) == ICECAM_ICE_STATE_CONNECTED &&
                             icecam_ice_session_get_state (f->b) == ICECAM_ICE_STATE_CONNECTED));
}

/* The name resolves: a knows b's host candidate before b's checks arrive; a host pair. */
static void
test_resolved (Fixture *f, gconstpointer data)
{
  if (!responder_start (&f->responder)) {
    g_test_skip ("no multicast on loopback here (or port 5353 taken without sharing)");
    return;
  }
  connect_sessions (f);
  g_assert_cmpuint (f->errors, ==, 0);
  g_assert_cmpuint (f->responder.queries, >=, 1);
  g_assert_cmpstr (f->pair_a->remote_type, ==, "host");
  g_assert_true (g_str_has_prefix (f->pair_a->remote_address, "127.0.0.1:"));
}

static void
on_state_a (IcecamIceSession *ice, guint state, Fixture *f)
{
  if (state == ICECAM_ICE_STATE_FAILED)
    f->failed_a++;
}

static void
on_gathered_b (IcecamIceSession *ice, Fixture *f)
{
  icecam_ice_session_set_remote_gathering_done (f->a);
}

/* Nobody answers: the candidate is dropped without an error and b's checks carry the
 * session, b's address learned as peer-reflexive. b's end-of-candidates does not make a
 * think b has no candidate at all (it has one, by name). */
static void
test_unresolved (Fixture *f, gconstpointer data)
{
  g_signal_connect (f->b, "gathering-done", G_CALLBACK (on_gathered_b), f);
  g_signal_connect (f->a, "state-changed", G_CALLBACK (on_state_a), f);
  connect_sessions (f);
  g_assert_cmpuint (f->errors, ==, 0);
  g_assert_cmpuint (f->failed_a, ==, 0);
  g_assert_cmpstr (f->pair_a->remote_type, ==, "prflx");
  g_assert_true (g_str_has_prefix (f->pair_a->remote_address, "127.0.0.1:"));
}

int
main (int argc, char **argv)
{
  g_log_writer_default_set_use_stderr (TRUE);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mdns/format/names", test_names);
  g_test_add_func ("/mdns/format/candidates", test_candidates);
  g_test_add_func ("/mdns/format/query", test_query);
  g_test_add_func ("/mdns/format/answer", test_answer);
  g_test_add ("/mdns/candidate/resolved", Fixture, NULL, fixture_setup, test_resolved,
              fixture_teardown);
  g_test_add ("/mdns/candidate/unresolved", Fixture, NULL, fixture_setup, test_unresolved,
              fixture_teardown);
  return g_test_run ();
}
